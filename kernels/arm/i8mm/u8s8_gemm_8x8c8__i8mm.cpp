// AArch64 int8 matrix-multiply microkernel (armv8.2-a+i8mm: Neoverse V1/N2/V2, Cortex-A710,
// ...): u8 x s8 GEMM with USMMLA, which multiplies unsigned by signed bytes directly, so no
// operand flip and no correction beyond the contract's zero-point terms.
//
// USMMLA vd.4s, vn.16b, vm.16b: vn = 2 rows x 8 k of A, vm = 2 columns x 8 k of B,
// vd += the 2x2 int32 block [r0c0 r0c1 r1c0 r1c1]. With KR = 8 the generic layouts already
// give these operands: in the packed B panel [kp/8][NR][8] each column's 8 k-bytes are
// contiguous, so 16 bytes at column 2q are columns 2q, 2q+1 x 8 k; the packed A panel
// [kp/8][MR][8] likewise gives rows 2p, 2p+1.
//
// Tile 8x8, K groups of 8. Per K group: 4 A loads + 4 B loads, 16 USMMLA = 512 MACs;
// 16 accumulators (2x2 blocks) + 8 operands = 24 registers. The 2x2 blocks are split into rows
// (64-bit halves) once per tile.
// Expected (not measured: the tests run under qemu): Neoverse V1 issues USMMLA on 2 of its
// vector pipes (32 MACs each) = 64 MACs/cycle, twice its UDOT rate on the same pipes;
// Neoverse N2 (2 pipes) ~ 64 MACs/cycle as well. 8 loads per 16 USMMLA stay under the
// load bandwidth (2-3 loads/cycle).
// Block sizes: driver defaults (MC ~ 512 KiB / K, a 1 MiB L2 guess; not tuned, no hardware).
#include <arm_neon.h>

#include "arm/neon_output.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr size_t kMR = 8, kNR = 8, kKR = 8;

alignas(16) const uint8_t kZeroRow[kKR] = {};

void u8s8_gemm_8x8c8__i8mm(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                           size_t a_kgroup_stride, const void* b_panel, const int32_t* row_sum,
                           void* c, size_t c_row_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  int32x4_t acc[kMR / 2][kNR / 2];
  for (size_t i = 0; i < kMR / 2; ++i)
    for (size_t q = 0; q < kNR / 2; ++q) acc[i][q] = vdupq_n_s32(0);
  const size_t groups = kp / kKR;

#define QGEMM_I8MM_STEP(va)                                                        \
  do {                                                                             \
    int8x16_t vb[kNR / 2];                                                         \
    for (size_t q = 0; q < kNR / 2; ++q) vb[q] = vld1q_s8(b + 16 * q);             \
    b += kNR * kKR;                                                                \
    for (size_t i = 0; i < kMR / 2; ++i)                                           \
      for (size_t q = 0; q < kNR / 2; ++q)                                         \
        acc[i][q] = vusmmlaq_s32(acc[i][q], va[i], vb[q]);                         \
  } while (0)

  if (m == kMR && a_row_stride == kKR && a_kgroup_stride == kMR * kKR) {
    // Full packed panel: a K group is 64 contiguous bytes, row pairs in order.
    for (size_t g = 0; g < groups; ++g) {
      uint8x16_t va[kMR / 2];
      for (size_t i = 0; i < kMR / 2; ++i) va[i] = vld1q_u8(a + 16 * i);
      a += kMR * kKR;
      QGEMM_I8MM_STEP(va);
    }
  } else {
    // Partial tile or A in place: rows >= m read a zero row that does not advance.
    const uint8_t* ar[kMR];
    size_t step[kMR];
    for (size_t r = 0; r < kMR; ++r) {
      ar[r] = r < m ? a + r * a_row_stride : kZeroRow;
      step[r] = r < m ? a_kgroup_stride : 0;
    }
    for (size_t g = 0; g < groups; ++g) {
      uint8x16_t va[kMR / 2];
      for (size_t i = 0; i < kMR / 2; ++i)
        va[i] = vcombine_u8(vld1_u8(ar[2 * i]), vld1_u8(ar[2 * i + 1]));
      for (size_t r = 0; r < kMR; ++r) ar[r] += step[r];
      QGEMM_I8MM_STEP(va);
    }
  }
#undef QGEMM_I8MM_STEP

  alignas(16) int32_t dot[kMR][kNR];
  for (size_t i = 0; i < kMR / 2; ++i)
    for (size_t q = 0; q < kNR / 2; ++q) {
      vst1_s32(&dot[2 * i][2 * q], vget_low_s32(acc[i][q]));
      vst1_s32(&dot[2 * i + 1][2 * q], vget_high_s32(acc[i][q]));
    }
  neon_store_tile(&dot[0][0], kNR, m, n, row_sum, 0, c, c_row_stride, p, t, j0);
}

}  // namespace

// A always packed: in-place row pairs cost 8 loads + 4 combines per K step instead of 4 loads
// (the kernel still accepts in-place A; the oracle suite passed with in-place A up to 64 rows).
extern constexpr GemmConfig kGemmConfig_i8mm =
    GemmConfig::tile(Isa::i8mm, "u8s8_gemm_8x8c8__i8mm", kMR, kNR, kKR, u8s8_gemm_8x8c8__i8mm, &kWeightFormat_s8)
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
