// AArch64 dot-product microkernel (armv8.2-a+dotprod: Cortex-A55/A76, Neoverse N1, ...):
// u8 x s8 GEMM with UDOT.
//
// Exactness: UDOT multiplies unsigned by unsigned, SDOT signed by signed. Of the two exact
// routes, (a ^ 0x80) SDOT b needs 128 * colsum(B) per column, which the kernel only gets by
// extra SDOTs against a ones vector; a UDOT (b ^ 0x80) = a * (b + 128) needs 128 * rowsum(A),
// which the driver already passes in row_sum. So B is flipped in registers (one EOR per
// 16 bytes of B) and the output stage (neon_output.hpp) folds -128 * row_sum into the
// zero-point term. UDOT lanes add modulo 2^32 and the true result fits int32, so it is exact.
//
// Tile 8x12, K groups of 4 (KR = 4: a 16-byte load of B is 4 columns x 4 k, the UDOT layout;
// a 16-byte load of the packed A panel is 4 rows x 4 k, used lane by lane).
// Per K group: 2 A loads + 3 B loads, 3 EOR, 24 UDOT (by element) = 384 MACs; 24 accumulator
// registers + 3 B + 2 A = 29 of the 32 vector registers.
// Expected (not measured: the tests run under qemu): Neoverse N1 issues UDOT on both vector
// pipes, 2 per cycle = 32 MACs/cycle peak; with the 3 EORs sharing those pipes, 27 ops per
// 384 MACs ~ 28 MACs/cycle. Neoverse V1 (4 vector pipes) ~ 57 MACs/cycle of a 64 peak.
// Block sizes: driver defaults (MC ~ 512 KiB / K, a 1 MiB L2 guess; not tuned, no hardware).
#include <arm_neon.h>

#include <cstring>

#include "arm/neon_output.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr size_t kMR = 8, kNR = 12, kKR = 4;

alignas(16) const uint8_t kZeroRow[kKR] = {};

inline uint8x16_t load_rows4(const uint8_t* const* ar) {
  uint32_t w[4];
  for (int r = 0; r < 4; ++r) std::memcpy(&w[r], ar[r], 4);
  return vreinterpretq_u8_u32(vld1q_u32(w));
}

void u8s8_gemm_8x12c4__dotprod(size_t m, size_t n, size_t kp, const uint8_t* a,
                               size_t a_row_stride, size_t a_kgroup_stride, const void* b_panel,
                               const int32_t* row_sum, void* c, size_t c_row_stride,
                               const StageParams* p, const TileArgs* t, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  const uint8x16_t flip = vdupq_n_u8(0x80);
  uint32x4_t acc[kMR][3];
  for (size_t r = 0; r < kMR; ++r)
    for (size_t q = 0; q < 3; ++q) acc[r][q] = vdupq_n_u32(0);
  const uint8_t* bp = reinterpret_cast<const uint8_t*>(b);
  const size_t groups = kp / kKR;

  // One K group: B's three column quads times the 8 rows held in va0 (rows 0-3), va1 (4-7).
#define QGEMM_DOTPROD_STEP(va0, va1)                                             \
  do {                                                                           \
    uint8x16_t vb[3];                                                            \
    for (int q = 0; q < 3; ++q) vb[q] = veorq_u8(vld1q_u8(bp + 16 * q), flip);   \
    bp += kNR * kKR;                                                             \
    for (int q = 0; q < 3; ++q) {                                                \
      acc[0][q] = vdotq_laneq_u32(acc[0][q], vb[q], va0, 0);                     \
      acc[1][q] = vdotq_laneq_u32(acc[1][q], vb[q], va0, 1);                     \
      acc[2][q] = vdotq_laneq_u32(acc[2][q], vb[q], va0, 2);                     \
      acc[3][q] = vdotq_laneq_u32(acc[3][q], vb[q], va0, 3);                     \
      acc[4][q] = vdotq_laneq_u32(acc[4][q], vb[q], va1, 0);                     \
      acc[5][q] = vdotq_laneq_u32(acc[5][q], vb[q], va1, 1);                     \
      acc[6][q] = vdotq_laneq_u32(acc[6][q], vb[q], va1, 2);                     \
      acc[7][q] = vdotq_laneq_u32(acc[7][q], vb[q], va1, 3);                     \
    }                                                                            \
  } while (0)

  if (m == kMR && a_row_stride == kKR && a_kgroup_stride == kMR * kKR) {
    // Full packed panel: the 8 rows of a K group are 32 contiguous bytes.
    for (size_t g = 0; g < groups; ++g) {
      const uint8x16_t va0 = vld1q_u8(a), va1 = vld1q_u8(a + 16);
      a += kMR * kKR;
      QGEMM_DOTPROD_STEP(va0, va1);
    }
  } else {
    // Partial tile or A in place: row by row; rows >= m read a zero row that does not advance.
    const uint8_t* ar[kMR];
    size_t step[kMR];
    for (size_t r = 0; r < kMR; ++r) {
      ar[r] = r < m ? a + r * a_row_stride : kZeroRow;
      step[r] = r < m ? a_kgroup_stride : 0;
    }
    for (size_t g = 0; g < groups; ++g) {
      const uint8x16_t va0 = load_rows4(ar), va1 = load_rows4(ar + 4);
      for (size_t r = 0; r < kMR; ++r) ar[r] += step[r];
      QGEMM_DOTPROD_STEP(va0, va1);
    }
  }
#undef QGEMM_DOTPROD_STEP

  alignas(16) int32_t dot[kMR][kNR];
  for (size_t r = 0; r < kMR; ++r)
    for (size_t q = 0; q < 3; ++q) vst1q_s32(&dot[r][4 * q], vreinterpretq_s32_u32(acc[r][q]));
  neon_store_tile(&dot[0][0], kNR, m, n, row_sum, 128, c, c_row_stride, p, t, j0);
}

}  // namespace

// A always packed: in-place rows cost 8 loads + lane inserts per K step instead of 2 loads
// (the kernel still accepts in-place A; the oracle suite passed with in-place A up to 64
// rows). Row sums always: B is flipped to unsigned and 128 * row_sum is subtracted.
extern constexpr GemmConfig kGemmConfig_dotprod =
    GemmConfig::tile(Isa::dotprod, "u8s8_gemm_8x12c4__dotprod", kMR, kNR, kKR, u8s8_gemm_8x12c4__dotprod,
                     &kWeightFormat_s8);

}  // namespace detail
}  // namespace qgemm
