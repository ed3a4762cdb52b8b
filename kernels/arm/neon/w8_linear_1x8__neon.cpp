// Weight-only int8 linear for baseline AArch64 Advanced SIMD (armv8-a: every AArch64 CPU, no
// fp16 arithmetic): the NEON counterpart of kernels/x86/avx2/w8_linear_1x8__avx2.cpp.
//
// int8 -> float32 in registers with two instructions per 4 weights, both exact: TBL puts weight
// byte k in the top byte of a 32-bit lane (TBL gives 0 for the out-of-range indices of the
// other three bytes), so the lane holds the integer w * 2^24, and SCVTF #24 (fixed point, 24
// fraction bits) turns it into the float w. The usual route, SXTL 8->16, SXTL 16->32, SCVTF,
// takes 2.5 instructions per 4 weights.
//
// One row of X (w8_linear_1x8): 8 weight rows, 8 FMA chains sharing each X load. Per K step of
// 16: 1 X load (LD1 x4), 8 weight loads, 32 TBL, 32 SCVTF, 32 FMLA = 105 instructions for 128
// multiply-adds (per 8 outputs x 4 K: 8 TBL + 8 SCVTF + 8 FMLA + 2 loads + 1/4 X load).
// Two rows of X (w8_linear_2x4): 4 weight rows, each converted vector feeds two FMLAs.
// Expected speed (not measured: the tests run under qemu): conversion-bound at M = 1 on 2-pipe
// cores (Cortex-A72, Neoverse N1), where SCVTF issues on one vector pipe only: ~1.5 cycles per
// 4 multiply-adds; docs/notes/issue-7-neon.md.
//
// Tails: K in steps of 4 after the 16-steps, then 1-3 left through zero-padded copies (the
// padding adds 0 * 0); N in blocks of 8, then 4, then single rows. Never reads X or W past K.
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "quant_ukernel.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the TBL byte indices assume little-endian lanes");

namespace qgemm {
namespace detail {
namespace {

// Lane l of index vector j takes weight byte 4j + l into bits 24-31; 0xFF (out of range) -> 0.
alignas(16) const uint8_t kTopByte[4][16] = {
    {0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0xFF, 1, 0xFF, 0xFF, 0xFF, 2, 0xFF, 0xFF, 0xFF, 3},
    {0xFF, 0xFF, 0xFF, 4, 0xFF, 0xFF, 0xFF, 5, 0xFF, 0xFF, 0xFF, 6, 0xFF, 0xFF, 0xFF, 7},
    {0xFF, 0xFF, 0xFF, 8, 0xFF, 0xFF, 0xFF, 9, 0xFF, 0xFF, 0xFF, 10, 0xFF, 0xFF, 0xFF, 11},
    {0xFF, 0xFF, 0xFF, 12, 0xFF, 0xFF, 0xFF, 13, 0xFF, 0xFF, 0xFF, 14, 0xFF, 0xFF, 0xFF, 15}};

// Weights 4j..4j+3 of w as 4 floats (exact: |w * 2^24| <= 2^31 and the scaling is by 2^-24).
inline float32x4_t widen4(int8x16_t w, uint8x16_t idx) {
  return vcvtq_n_f32_s32(vreinterpretq_s32_s8(vqtbl1q_s8(w, idx)), 24);
}

// 4 weights at p (any alignment) in bytes 0-3 of a vector.
inline int8x16_t load_w4(const int8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, 4);
  return vreinterpretq_s8_u32(vdupq_n_u32(u));
}

// MR rows of X times R weight rows: y_m[r] = fma(dot(x_m, w_r), scale[r], bias[r]).
// acc[m][r] lane l sums x_m[k] * w_r[k] over k = l (mod 4), in k order.
template <int MR, int R>
inline void block(size_t K, const float* const* x, const int8_t* w, size_t ldw, const float* scale,
                  const float* bias, float* const* y, const uint8x16_t* idx) {
  float32x4_t acc[MR][R];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[m][r] = vdupq_n_f32(0.0f);
  size_t k = 0;
  for (; k + 16 <= K; k += 16) {
    float32x4_t xv[MR][4];
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 16
      for (int j = 0; j < 4; ++j) xv[m][j] = vld1q_f32(x[m] + k + 4 * j);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const int8x16_t wv = vld1q_s8(w + r * ldw + k);
#pragma GCC unroll 16
      for (int j = 0; j < 4; ++j) {
        const float32x4_t wf = widen4(wv, idx[j]);
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) acc[m][r] = vfmaq_f32(acc[m][r], xv[m][j], wf);
      }
    }
  }
  for (; k + 4 <= K; k += 4) {
    float32x4_t xv[MR];
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) xv[m] = vld1q_f32(x[m] + k);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const float32x4_t wf = widen4(load_w4(w + r * ldw + k), idx[0]);
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) acc[m][r] = vfmaq_f32(acc[m][r], xv[m], wf);
    }
  }
  if (k < K) {
    const size_t t = K - k;  // 1..3
    alignas(16) float xt[MR][4] = {};
    for (int m = 0; m < MR; ++m)
      for (size_t i = 0; i < t; ++i) xt[m][i] = x[m][k + i];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      int8_t b[4] = {0, 0, 0, 0};
      for (size_t i = 0; i < t; ++i) b[i] = w[r * ldw + k + i];
      const float32x4_t wf = widen4(load_w4(b), idx[0]);
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) acc[m][r] = vfmaq_f32(acc[m][r], vld1q_f32(xt[m]), wf);
    }
  }
  if constexpr (R % 4 == 0) {
#pragma GCC unroll 16
    for (int g = 0; g < R / 4; ++g) {
      const float32x4_t s = vld1q_f32(scale + 4 * g);
      const float32x4_t b = bias ? vld1q_f32(bias + 4 * g) : vdupq_n_f32(0.0f);
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) {
        const float32x4_t* a = &acc[m][4 * g];
        const float32x4_t dot = vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3]));
        vst1q_f32(y[m] + 4 * g, vfmaq_f32(b, dot, s));
      }
    }
  } else {
    static_assert(R == 1, "R is 1 or a multiple of 4");
    for (int m = 0; m < MR; ++m) y[m][0] = std::fma(vaddvq_f32(acc[m][0]), scale[0], bias ? bias[0] : 0.0f);
  }
}

struct TopByteIdx {
  uint8x16_t v[4];
  TopByteIdx() {
    for (int j = 0; j < 4; ++j) v[j] = vld1q_u8(kTopByte[j]);
  }
};

void w8_linear_1x8__neon(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                         const float* scale, const float* bias, float* y) {
  const TopByteIdx idx;
  const float* xs[1] = {x};
  size_t n = 0;
  for (; n + 8 <= N; n += 8) {
    float* ys[1] = {y + n};
    block<1, 8>(K, xs, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, ys, idx.v);
  }
  for (; n + 4 <= N; n += 4) {
    float* ys[1] = {y + n};
    block<1, 4>(K, xs, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, ys, idx.v);
  }
  for (; n < N; ++n) {
    float* ys[1] = {y + n};
    block<1, 1>(K, xs, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, ys, idx.v);
  }
}

// Two rows of X: 4 weight rows x 2 X rows = 8 FMA chains; each widened weight vector feeds two
// FMLAs, so the conversion (TBL + SCVTF) costs half as much per multiply-add.
void w8_linear_2x4__neon(size_t K, size_t N, const float* x0, const float* x1, const int8_t* w,
                         size_t ldw, const float* scale, const float* bias, float* y0, float* y1) {
  const TopByteIdx idx;
  const float* xs[2] = {x0, x1};
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    float* ys[2] = {y0 + n, y1 + n};
    block<2, 4>(K, xs, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, ys, idx.v);
  }
  for (; n < N; ++n) {
    float* ys[2] = {y0 + n, y1 + n};
    block<2, 1>(K, xs, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, ys, idx.v);
  }
}

// bfloat16 is the top half of a float32: a 16-bit shift is the exact conversion.
void bf16_to_f32__neon(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t v = vld1q_u16(src + i);
    vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16)));
    vst1q_f32(dst + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(v, 16)));
  }
  for (; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(src[i]) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    dst[i] = f;
  }
}

// FCVTL (baseline armv8-a): exact for every float16 including subnormals (FPCR.FZ does not
// apply to half-precision inputs); a signalling NaN comes out quiet.
void f16_to_f32__neon(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t v = vreinterpretq_f16_u16(vld1q_u16(src + i));
    vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(v)));
    vst1q_f32(dst + i + 4, vcvt_high_f32_f16(v));
  }
  if (i < n) {  // tail through a zero-padded vector: the same instruction for every element
    alignas(16) uint16_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(16) float f[8];
    for (size_t j = i; j < n; ++j) t[j - i] = src[j];
    const float16x8_t v = vreinterpretq_f16_u16(vld1q_u16(t));
    vst1q_f32(f, vcvt_f32_f16(vget_low_f16(v)));
    vst1q_f32(f + 4, vcvt_high_f32_f16(v));
    for (size_t j = i; j < n; ++j) dst[j] = f[j - i];
  }
}

}  // namespace

// quantize / min_max: the baseline xsimd loops, which on AArch64 already are NEON code.
extern const QuantKernels kQuantKernels_neon = {
    w8_linear_1x8__neon, w8_linear_2x4__neon, bf16_to_f32__neon, f16_to_f32__neon, quantize_u8__xsimd,
    quantize_s8__xsimd, min_max__xsimd, "w8a32_linear_1x8__neon", "w8a16bf16_linear_1x8__neon",
    "w8a16f16_linear_1x8__neon", "w8a32_linear_2x4__neon", "w8a16bf16_linear_2x4__neon",
    "w8a16f16_linear_2x4__neon"};

}  // namespace detail
}  // namespace qgemm
