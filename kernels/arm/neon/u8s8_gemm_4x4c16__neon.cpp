// Baseline AArch64 Advanced SIMD microkernel (armv8-a, every AArch64 CPU): exact u8 x s8 GEMM
// without dot-product instructions.
//
// Exactness: there is no mixed-sign widening multiply, and the obvious signed route
// (a ^ 0x80) * b with SMULL + SMLAL overflows int16 when two products are (-128)*(-128).
// Instead the weights are flipped to unsigned, b + 128 = b ^ 0x80 in [0, 255], so each product
// a * (b + 128) <= 255 * 255 fits uint16 (UMULL), and UADALP adds adjacent pairs straight into
// uint32 lanes before any second product is added. The extra 128 * rowsum(A) is taken out in
// the output stage (neon_output.hpp), where row_sum is already at hand.
//
// Tile 4x4, K groups of 16 (KR = 16: one 16-byte load is one row of A or one column of B).
// Per K group: 4 A loads + 4 B loads, 4 EOR, 32 UMULL/UMULL2, 32 UADALP = 256 MACs;
// 16 accumulators hold 4 partial sums each, reduced by ADDP once per tile.
// Expected (not measured: the tests run under qemu): on Neoverse N1 / Cortex-A72-class cores
// UMULL issues on one vector pipe and UADALP on the other, one per cycle each, so about
// 8 MACs/cycle (16 MACs per 2 cycles); Neoverse V1 ~16 MACs/cycle. Those cores run the
// dotprod kernel instead; this one serves Cortex-A53/A57/A72-class CPUs, where it is the
// exact path (an in-order A53 issues one 128-bit multiply per 2 cycles: ~4 MACs/cycle).
// Block sizes: driver defaults (MC ~ 512 KiB / K, a 1 MiB L2 guess; not tuned, no hardware).
#include <arm_neon.h>

#include "arm/neon_output.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr size_t kMR = 4, kNR = 4, kKR = 16;

alignas(16) const uint8_t kZeroRow[kKR] = {};

void u8s8_gemm_4x4c16__neon(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                            size_t a_kgroup_stride, const void* b_panel, const int32_t* row_sum,
                            void* c, size_t c_row_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  // Rows >= m are never read: they point at a zero row that does not advance.
  const uint8_t* ar[kMR];
  size_t step[kMR];
  for (size_t r = 0; r < kMR; ++r) {
    ar[r] = r < m ? a + r * a_row_stride : kZeroRow;
    step[r] = r < m ? a_kgroup_stride : 0;
  }
  const uint8x16_t flip = vdupq_n_u8(0x80);
  uint32x4_t acc[kMR][kNR];
  for (size_t r = 0; r < kMR; ++r)
    for (size_t q = 0; q < kNR; ++q) acc[r][q] = vdupq_n_u32(0);

  for (size_t g = 0; g < kp / kKR; ++g) {
    uint8x16_t va[kMR];
    for (size_t r = 0; r < kMR; ++r) {
      va[r] = vld1q_u8(ar[r]);
      ar[r] += step[r];
    }
    for (size_t q = 0; q < kNR; ++q) {
      const uint8x16_t vb = veorq_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(b) + q * kKR), flip);
      for (size_t r = 0; r < kMR; ++r) {
        acc[r][q] = vpadalq_u16(acc[r][q], vmull_u8(vget_low_u8(va[r]), vget_low_u8(vb)));
        acc[r][q] = vpadalq_u16(acc[r][q], vmull_high_u8(va[r], vb));
      }
    }
    b += kNR * kKR;
  }

  alignas(16) int32_t dot[kMR][kNR];
  for (size_t r = 0; r < kMR; ++r) {
    const uint32x4_t s01 = vpaddq_u32(acc[r][0], acc[r][1]);
    const uint32x4_t s23 = vpaddq_u32(acc[r][2], acc[r][3]);
    vst1q_s32(dot[r], vreinterpretq_s32_u32(vpaddq_u32(s01, s23)));
  }
  neon_store_tile(&dot[0][0], kNR, m, n, row_sum, 128, c, c_row_stride, p, t, j0);
}

}  // namespace

// A in place up to 16 rows (when K % 16 == 0): the K loop is the same instruction stream for
// packed and in-place A (one 16-byte load per row), so small M skips packing A. Row sums
// always: B is flipped to unsigned and 128 * row_sum is subtracted.
extern constexpr GemmConfig kGemmConfig_neon =
    GemmConfig::tile(Isa::neon, "u8s8_gemm_4x4c16__neon", kMR, kNR, kKR, u8s8_gemm_4x4c16__neon, &kWeightFormat_s8)
        .with_a_in_place(16);

}  // namespace detail
}  // namespace qgemm
