// The int4 layer's kernels for baseline AArch64 Advanced SIMD (armv8-a: every AArch64 CPU, no
// dot product): W4A8 and weight-only W4A32, bit for bit the contract of kernels/int4_ukernel.hpp.
//
// W4A8 (tile 2x16: 2 rows x one panel): a 16-byte vector of the panel, after & 0x0F or >> 4,
// is 4 columns x 4 k; the row's 4 k, replicated to every 32-bit lane, meet it in UMULL/UMLAL
// (u8 x u8 -> u16, each product <= 255 * 15 = 3825). A u16 lane takes the products of 4 blocks
// (8 products <= 30600 < 2^16: exact), then UADDLP + ADDP fold each column's lanes into one u32
// lane of the group sum. Per 32 k and row: 64 UMULL/UMLAL, 8 UADDLP, 4 ADDP, 4 ADD; the nibble
// unpacking (16 AND/USHR pairs per 32 k) is shared by the two rows.
//
// W4A32 (tile 2x16): one FMA chain per output in k order, as the contract pins. LD4 of a 64-byte
// block deinterleaves it into the 16 columns' byte t (t = 0..3), so the nibbles of one k are one
// 16-lane vector, widened to int32, minus the zero point, converted (exact: |u - z| <= 15) and
// times the scale (the scalar product); then one FMLA by element per 4 outputs and row.
#include "arm/w4_neon.hpp"

namespace qgemm {
namespace detail {
namespace {

// ---- W4A8

template <int MR>
void w4a8_mull_rows(const W4A8Args& r, size_t i0, size_t p) {
  const size_t kp = r.ng * r.kg;
  const uint8_t* w = r.w + p * int4_panel_bytes(kp);
  const uint8x16_t mask = vdupq_n_u8(0x0F);
  alignas(16) float y[MR][kInt4Nr];
  for (int m = 0; m < MR; ++m) std::memcpy(y[m], r.bias + p * kInt4Nr, sizeof y[m]);
  const uint8_t* a[MR];
  for (int m = 0; m < MR; ++m) a[m] = r.a + (i0 + m) * r.lda;
  for (size_t g = 0; g < r.ng; ++g) {
    uint32x4_t acc[MR][4];
    for (int m = 0; m < MR; ++m)
      for (int q = 0; q < 4; ++q) acc[m][q] = vdupq_n_u32(0);
    for (size_t k = g * r.kg; k < (g + 1) * r.kg; k += 32) {  // kg is a multiple of 32
      // s[m][q][h]: columns 4q + 2h, 4q + 2h + 1, each as 4 lanes (k mod 4).
      uint16x8_t s[MR][4][2];
      for (int m = 0; m < MR; ++m)
        for (int q = 0; q < 4; ++q) s[m][q][0] = s[m][q][1] = vdupq_n_u16(0);
      for (int b = 0; b < 4; ++b, w += 64) {
        uint8x16_t alo[MR], ahi[MR];  // the row's k 8b..8b+3 (8b+4..8b+7) in every 32-bit lane
        for (int m = 0; m < MR; ++m) {
          const uint32x2_t a8 = vreinterpret_u32_u8(vld1_u8(a[m] + k + 8 * b));
          alo[m] = vreinterpretq_u8_u32(vdupq_lane_u32(a8, 0));
          ahi[m] = vreinterpretq_u8_u32(vdupq_lane_u32(a8, 1));
        }
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          const uint8x16_t v = vld1q_u8(w + 16 * q);
          const uint8x16_t lo = vandq_u8(v, mask), hi = vshrq_n_u8(v, 4);
#pragma GCC unroll 4
          for (int m = 0; m < MR; ++m) {
            s[m][q][0] = vmlal_u8(s[m][q][0], vget_low_u8(lo), vget_low_u8(alo[m]));
            s[m][q][1] = vmlal_high_u8(s[m][q][1], lo, alo[m]);
            s[m][q][0] = vmlal_u8(s[m][q][0], vget_low_u8(hi), vget_low_u8(ahi[m]));
            s[m][q][1] = vmlal_high_u8(s[m][q][1], hi, ahi[m]);
          }
        }
      }
      for (int m = 0; m < MR; ++m)
        for (int q = 0; q < 4; ++q)
          acc[m][q] = vaddq_u32(acc[m][q], vpaddq_u32(vpaddlq_u16(s[m][q][0]), vpaddlq_u16(s[m][q][1])));
    }
    for (int m = 0; m < MR; ++m) w4a8_finish_group(r, i0 + m, p, g, acc[m], y[m]);
  }
  for (int m = 0; m < MR; ++m) w4_store_row(y[m], r.y + (i0 + m) * r.ldy, p * kInt4Nr, r.n);
}

void w4a8_linear_2x16__neon(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 2 <= m; i += 2) w4a8_mull_rows<2>(r, i, p);
    if (i < m) w4a8_mull_rows<1>(r, i, p);
  }
}

// ---- W4A32

// The 16 columns' weights of one k: nibbles u (lane n = column n) -> float(u - z) * s.
inline void w4_weights(uint8x16_t u, const int32x4_t* z, const float32x4_t* s, float32x4_t* wf) {
  const uint16x8_t lo = vmovl_u8(vget_low_u8(u)), hi = vmovl_high_u8(u);
  const uint32x4_t w32[4] = {vmovl_u16(vget_low_u16(lo)), vmovl_high_u16(lo), vmovl_u16(vget_low_u16(hi)),
                             vmovl_high_u16(hi)};
  for (int q = 0; q < 4; ++q) wf[q] = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(w32[q]), z[q])), s[q]);
}

// y[m] += x[m][lane T of xv[m]] * w (the contract's fmaf(x, w, y), lane for lane).
template <int MR, int T>
inline void w4f32_step(uint8x16_t u, const int32x4_t* z, const float32x4_t* s, const float32x4_t* xv,
                       float32x4_t (*y)[4]) {
  float32x4_t wf[4];
  w4_weights(u, z, s, wf);
#pragma GCC unroll 4
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) y[m][q] = vfmaq_laneq_f32(y[m][q], wf[q], xv[m], T);
}

template <int MR>
void w4f32_rows(const W4F32Args& r, size_t i0, size_t p) {
  const size_t kp = r.ng * r.kg;
  const uint8_t* w = r.w + p * int4_panel_bytes(kp);
  const uint8x16_t mask = vdupq_n_u8(0x0F);
  float32x4_t y[MR][4];
  for (int m = 0; m < MR; ++m)
    for (int q = 0; q < 4; ++q) y[m][q] = vld1q_f32(r.bias + p * kInt4Nr + 4 * q);
  const float* x[MR];
  for (int m = 0; m < MR; ++m) x[m] = r.x + (i0 + m) * r.ldx;
  for (size_t g = 0; g < r.ng; ++g) {
    const size_t t = (p * r.ng + g) * kInt4Nr;
    int32x4_t z[4];
    float32x4_t s[4];
    for (int q = 0; q < 4; ++q) {
      z[q] = vld1q_s32(r.w_zp + t + 4 * q);
      s[q] = vld1q_f32(r.w_scale + t + 4 * q);
    }
    for (size_t k = g * r.kg; k < (g + 1) * r.kg; k += 8, w += 64) {
      const uint8x16x4_t v = vld4q_u8(w);  // v.val[t]: byte t of columns 0..15
      float32x4_t xlo[MR], xhi[MR];
      for (int m = 0; m < MR; ++m) {
        xlo[m] = vld1q_f32(x[m] + k);
        xhi[m] = vld1q_f32(x[m] + k + 4);
      }
      // k, k+1, k+2, k+3 (low nibbles), then k+4..k+7 (high): the contract's k order.
      w4f32_step<MR, 0>(vandq_u8(v.val[0], mask), z, s, xlo, y);
      w4f32_step<MR, 1>(vandq_u8(v.val[1], mask), z, s, xlo, y);
      w4f32_step<MR, 2>(vandq_u8(v.val[2], mask), z, s, xlo, y);
      w4f32_step<MR, 3>(vandq_u8(v.val[3], mask), z, s, xlo, y);
      w4f32_step<MR, 0>(vshrq_n_u8(v.val[0], 4), z, s, xhi, y);
      w4f32_step<MR, 1>(vshrq_n_u8(v.val[1], 4), z, s, xhi, y);
      w4f32_step<MR, 2>(vshrq_n_u8(v.val[2], 4), z, s, xhi, y);
      w4f32_step<MR, 3>(vshrq_n_u8(v.val[3], 4), z, s, xhi, y);
    }
  }
  for (int m = 0; m < MR; ++m) {
    alignas(16) float out[kInt4Nr];
    for (int q = 0; q < 4; ++q) vst1q_f32(out + 4 * q, y[m][q]);
    w4_store_row(out, r.y + (i0 + m) * r.ldy, p * kInt4Nr, r.n);
  }
}

void w4a32_linear_2x16__neon(const W4F32Args& r, size_t m, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 2 <= m; i += 2) w4f32_rows<2>(r, i, p);
    if (i < m) w4f32_rows<1>(r, i, p);
  }
}

}  // namespace

extern const Int4Kernels kInt4Kernels_neon = {w4a8_linear_2x16__neon, w4a32_linear_2x16__neon, "w4a8_linear_2x16__neon",
                                              "w4a32_linear_2x16__neon"};

}  // namespace detail
}  // namespace qgemm
