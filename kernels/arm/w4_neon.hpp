// What the AArch64 int4 kernels (neon, dotprod, i8mm; kernels/int4_ukernel.hpp) share: the end
// of a group (the contract's int32 correction and its one fmaf per group and output, four
// columns per vector), the store of a panel's row, and the UDOT row kernel that the i8mm file
// also runs for an odd last row. Included by each ISA's w4 file; everything here has internal
// linkage, so no function is shared (as a COMDAT copy) between files compiled for different ISAs.
#pragma once

#include <arm_neon.h>

#include <cstring>

#include "int4_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

// y[0..15] (one row of a panel, in memory) gets group g's term for row i, panel p:
//   y[j] = fmaf(float(acc[j] - z[j] * a_sum - a_zp * w_sum[j]), a_scale * s[j], y[j])
// acc holds the exact group sum sum_k a[k] * u[k][j] (it fits int32, so the modular lane
// arithmetic below gives the contract's int32 value); SCVTF rounds to nearest like the scalar
// cast, FMUL is the scalar product and FMLA the scalar fmaf, lane for lane.
inline void w4a8_finish_group(const W4A8Args& r, size_t i, size_t p, size_t g, const uint32x4_t acc[4], float* y) {
  const size_t t = (p * r.ng + g) * kInt4Nr;
  const int32_t a_sum = r.a_sum[i * r.ng + g], a_zp = r.a_zp[i * r.ng + g];
  const float a_scale = r.a_scale[i * r.ng + g];
  for (int q = 0; q < 4; ++q) {
    const int32x4_t corr = vmlaq_n_s32(vmulq_n_s32(vld1q_s32(r.w_zp + t + 4 * q), a_sum), vld1q_s32(r.w_sum + t + 4 * q), a_zp);
    const int32x4_t exact = vsubq_s32(vreinterpretq_s32_u32(acc[q]), corr);
    const float32x4_t scale = vmulq_n_f32(vld1q_f32(r.w_scale + t + 4 * q), a_scale);
    vst1q_f32(y + 4 * q, vfmaq_f32(vld1q_f32(y + 4 * q), vcvtq_f32_s32(exact), scale));
  }
}

// Row y (a panel's 16 outputs starting at column j0) to out, only the columns below n.
inline void w4_store_row(const float* y, float* out, size_t j0, size_t n) {
  const size_t cols = n - j0 < kInt4Nr ? n - j0 : kInt4Nr;
  std::memcpy(out + j0, y, cols * sizeof(float));
}

#if defined(__ARM_FEATURE_DOTPROD)

// One 64-byte block times one 4-k slice of each row: the low nibbles (k 8b..8b+3) against lane
// 2h of av, the high nibbles (8b+4..8b+7) against lane 2h+1 (av holds 16 k of the row).
template <int MR, int H>
inline void w4a8_udot_block(const uint8_t* w, const uint8x16_t* av, uint32x4_t (*acc)[4]) {
  const uint8x16_t mask = vdupq_n_u8(0x0F);
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const uint8x16_t v = vld1q_u8(w + 16 * q);
    const uint8x16_t lo = vandq_u8(v, mask), hi = vshrq_n_u8(v, 4);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      acc[m][q] = vdotq_laneq_u32(acc[m][q], lo, av[m], 2 * H);
      acc[m][q] = vdotq_laneq_u32(acc[m][q], hi, av[m], 2 * H + 1);
    }
  }
}

// Rows [i0, i0 + MR) of panel p with UDOT: a 16-byte vector of the panel is 4 columns x 4 k
// after & 0x0F (or >> 4), the UDOT layout, and the row's 4 k are one lane of its 16-k load.
// u8 x u8 (nibbles 0..15): the unsigned dot is the product itself, no sign correction. Each
// lane adds at most 4 * 255 * 15 per UDOT, and the group sum fits int32 (the contract).
template <int MR>
void w4a8_udot_rows(const W4A8Args& r, size_t i0, size_t p) {
  const size_t kp = r.ng * r.kg;
  const uint8_t* w = r.w + p * int4_panel_bytes(kp);
  alignas(16) float y[MR][kInt4Nr];
  for (int m = 0; m < MR; ++m) std::memcpy(y[m], r.bias + p * kInt4Nr, sizeof y[m]);
  const uint8_t* a[MR];
  for (int m = 0; m < MR; ++m) a[m] = r.a + (i0 + m) * r.lda;
  for (size_t g = 0; g < r.ng; ++g) {
    uint32x4_t acc[MR][4];
    for (int m = 0; m < MR; ++m)
      for (int q = 0; q < 4; ++q) acc[m][q] = vdupq_n_u32(0);
    for (size_t k = g * r.kg; k < (g + 1) * r.kg; k += 16, w += 128) {  // kg is a multiple of 32
      uint8x16_t av[MR];
      for (int m = 0; m < MR; ++m) av[m] = vld1q_u8(a[m] + k);
      w4a8_udot_block<MR, 0>(w, av, acc);
      w4a8_udot_block<MR, 1>(w + 64, av, acc);
    }
    for (int m = 0; m < MR; ++m) w4a8_finish_group(r, i0 + m, p, g, acc[m], y[m]);
  }
  for (int m = 0; m < MR; ++m) w4_store_row(y[m], r.y + (i0 + m) * r.ldy, p * kInt4Nr, r.n);
}

#endif  // __ARM_FEATURE_DOTPROD

}  // namespace
}  // namespace detail
}  // namespace qgemm
