// Weight-only int8 linear for AVX2+FMA(+F16C): 8 output columns (weight rows) at a time, each
// int8 weight row converted to float in registers (vpmovsxbd + vcvtdq2ps) and multiplied into
// 8 independent FMA chains that share one load of X. Memory-bound at M = 1: it reads a
// quarter of the bytes a float32 GEMV reads. float16 X is widened with F16C, bfloat16 X with a
// 16-bit shift (both exact).
#include "x86/intrin.hpp"

#include <cmath>

#include "quant_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

// 8 weights at w -> 8 floats.
inline __m256 load_w8(const int8_t* w) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w))));
}

// Sum of the 8 lanes of each of a..d (in that order) in one __m128.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

void w8_linear_1x8__avx2(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                         const float* scale, const float* bias, float* y) {
  const size_t K8 = K & ~size_t{7};
  size_t n = 0;
  for (; n + 8 <= N; n += 8) {
    const int8_t* r = w + n * ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t k = 0; k < K8; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k);
      a0 = _mm256_fmadd_ps(xv, load_w8(r + 0 * ldw + k), a0);
      a1 = _mm256_fmadd_ps(xv, load_w8(r + 1 * ldw + k), a1);
      a2 = _mm256_fmadd_ps(xv, load_w8(r + 2 * ldw + k), a2);
      a3 = _mm256_fmadd_ps(xv, load_w8(r + 3 * ldw + k), a3);
      a4 = _mm256_fmadd_ps(xv, load_w8(r + 4 * ldw + k), a4);
      a5 = _mm256_fmadd_ps(xv, load_w8(r + 5 * ldw + k), a5);
      a6 = _mm256_fmadd_ps(xv, load_w8(r + 6 * ldw + k), a6);
      a7 = _mm256_fmadd_ps(xv, load_w8(r + 7 * ldw + k), a7);
    }
    __m128 lo = hsum4(a0, a1, a2, a3), hi = hsum4(a4, a5, a6, a7);
    if (K8 < K) {
      alignas(16) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t j = 0; j < 8; ++j)
        for (size_t k = K8; k < K; ++k) t[j] = std::fma(x[k], static_cast<float>(r[j * ldw + k]), t[j]);
      lo = _mm_add_ps(lo, _mm_load_ps(t));
      hi = _mm_add_ps(hi, _mm_load_ps(t + 4));
    }
    const __m256 dot = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    const __m256 b = bias ? _mm256_loadu_ps(bias + n) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + n, _mm256_fmadd_ps(dot, _mm256_loadu_ps(scale + n), b));
  }
  for (; n < N; ++n) {  // remaining columns one at a time
    const int8_t* r = w + n * ldw;
    __m256 a = _mm256_setzero_ps();
    for (size_t k = 0; k < K8; k += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load_w8(r + k), a);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    float dot = _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
    float t = 0.0f;
    for (size_t k = K8; k < K; ++k) t = std::fma(x[k], static_cast<float>(r[k]), t);
    dot += t;
    y[n] = std::fma(dot, scale[n], bias ? bias[n] : 0.0f);
  }
}

// Two rows of X: 4 weight rows x 2 X rows = 8 FMA chains; each widened weight vector feeds two
// FMAs, so the widening (one vpmovsxbd per 8 weights) costs half as much per multiply-add.
void w8_linear_2x4__avx2(size_t K, size_t N, const float* x0, const float* x1, const int8_t* w,
                         size_t ldw, const float* scale, const float* bias, float* y0, float* y1) {
  const size_t K8 = K & ~size_t{7};
  size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const int8_t* r = w + n * ldw;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    for (size_t k = 0; k < K8; k += 8) {
      const __m256 u = _mm256_loadu_ps(x0 + k), v = _mm256_loadu_ps(x1 + k);
      __m256 wv = load_w8(r + k);
      a00 = _mm256_fmadd_ps(u, wv, a00);
      a10 = _mm256_fmadd_ps(v, wv, a10);
      wv = load_w8(r + ldw + k);
      a01 = _mm256_fmadd_ps(u, wv, a01);
      a11 = _mm256_fmadd_ps(v, wv, a11);
      wv = load_w8(r + 2 * ldw + k);
      a02 = _mm256_fmadd_ps(u, wv, a02);
      a12 = _mm256_fmadd_ps(v, wv, a12);
      wv = load_w8(r + 3 * ldw + k);
      a03 = _mm256_fmadd_ps(u, wv, a03);
      a13 = _mm256_fmadd_ps(v, wv, a13);
    }
    __m128 d0 = hsum4(a00, a01, a02, a03), d1 = hsum4(a10, a11, a12, a13);
    if (K8 < K) {
      alignas(16) float t0[4] = {0, 0, 0, 0}, t1[4] = {0, 0, 0, 0};
      for (size_t j = 0; j < 4; ++j)
        for (size_t k = K8; k < K; ++k) {
          const float wf = static_cast<float>(r[j * ldw + k]);
          t0[j] = std::fma(x0[k], wf, t0[j]);
          t1[j] = std::fma(x1[k], wf, t1[j]);
        }
      d0 = _mm_add_ps(d0, _mm_load_ps(t0));
      d1 = _mm_add_ps(d1, _mm_load_ps(t1));
    }
    const __m128 b = bias ? _mm_loadu_ps(bias + n) : _mm_setzero_ps(), s = _mm_loadu_ps(scale + n);
    _mm_storeu_ps(y0 + n, _mm_fmadd_ps(d0, s, b));
    _mm_storeu_ps(y1 + n, _mm_fmadd_ps(d1, s, b));
  }
  if (n < N) {  // remaining columns: the one-row kernel, once per row
    w8_linear_1x8__avx2(K, N - n, x0, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, y0 + n);
    w8_linear_1x8__avx2(K, N - n, x1, w + n * ldw, ldw, scale + n, bias ? bias + n : nullptr, y1 + n);
  }
}

void bf16_to_f32__avx2(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
  }
  for (; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(src[i]) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    dst[i] = f;
  }
}

void f16_to_f32__avx2(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  if (i < n) {  // tail through a zero-padded vector: F16C for every element
    alignas(16) uint16_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) float f[8];
    for (size_t j = i; j < n; ++j) t[j - i] = src[j];
    _mm256_store_ps(f, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(t))));
    for (size_t j = i; j < n; ++j) dst[j] = f[j - i];
  }
}

}  // namespace

extern const QuantKernels kQuantKernels_avx2 = {
    w8_linear_1x8__avx2, w8_linear_2x4__avx2, bf16_to_f32__avx2, f16_to_f32__avx2, quantize_u8__avx2,
    quantize_s8__avx2, min_max__avx2, "w8a32_linear_1x8__avx2", "w8a16bf16_linear_1x8__avx2",
    "w8a16f16_linear_1x8__avx2", "w8a32_linear_2x4__avx2", "w8a16bf16_linear_2x4__avx2",
    "w8a16f16_linear_2x4__avx2"};

}  // namespace detail
}  // namespace qgemm
