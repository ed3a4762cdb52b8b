// Weight-only int8 linear for AVX-512 (F/BW/VL/DQ + FMA + F16C): 16 output columns (weight rows)
// at a time in 16 zmm accumulators, each 16 int8 weights widened in registers (vpmovsxbd +
// vcvtdq2ps) into an FMA that shares one zmm load of X; a two-row kernel (2 rows of X x 8 weight
// rows) where each widened weight vector serves two FMAs. K and N tails run the same code with
// masked loads and stores (rows past N repeat the last row: read, never stored). float16 X is
// widened with vcvtph2ps zmm, bfloat16 X with a 16-bit shift (both exact).
// Tiles not tuned (no AVX-512 CPU at hand): 16 accumulators + X + one widened vector use 18 of
// the 32 zmm registers, and 16 accumulators reduce into exactly one zmm of outputs.
#include "size_ops.hpp"
#include "x86/intrin.hpp"

#include <algorithm>

#include "quant_ukernel.hpp"
#include "x86/w8_linear_zmm.hpp"

namespace qgemm {
namespace detail {
namespace {

// Weight row j of a block of `cols` (kTail: rows past cols repeat row cols-1). Rows 8..15 from
// a second base pointer: offsets 0..7 x ldw need 4 registers besides ldw (3, 5, 7 x ldw and the
// scaled-index forms), where 16 offsets spilled to xmm registers and the stack (g++ 12).
template <bool kTail>
inline const int8_t* row(const int8_t* r, const int8_t* r8, size_t ldw, size_t j, size_t cols) {
  if (kTail) return r + size_min(j, cols - 1) * ldw;
  return (j < 8 ? r : r8) + (j & 7) * ldw;
}

template <bool kTail>
inline __m512 dot_1x16(size_t K, const float* x, const int8_t* r, size_t ldw, size_t cols) {
  __m512 a[16];
  for (int j = 0; j < 16; ++j) a[j] = _mm512_setzero_ps();
  const int8_t* r8 = kTail ? r : r + 8 * ldw;
  size_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 16
    for (size_t j = 0; j < 16; ++j) a[j] = _mm512_fmadd_ps(xv, w8_load16(row<kTail>(r, r8, ldw, j, cols) + k), a[j]);
  }
  if (k < K) {
    const __mmask16 m = w8_lanes(K - k);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
#pragma GCC unroll 16
    for (size_t j = 0; j < 16; ++j) a[j] = _mm512_fmadd_ps(xv, w8_load16(row<kTail>(r, r8, ldw, j, cols) + k, m), a[j]);
  }
  return w8_reduce16(a);
}

// a[j]: row 0 of X with weight row j; a[8 + j]: row 1 with weight row j.
template <bool kTail>
inline __m512 dot_2x8(size_t K, const float* x0, const float* x1, const int8_t* r, size_t ldw, size_t cols) {
  __m512 a[16];
  for (int j = 0; j < 16; ++j) a[j] = _mm512_setzero_ps();
  const int8_t* r8 = r;  // rows 0..7 only
  size_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 u = _mm512_loadu_ps(x0 + k), v = _mm512_loadu_ps(x1 + k);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; ++j) {
      const __m512 wv = w8_load16(row<kTail>(r, r8, ldw, j, cols) + k);
      a[j] = _mm512_fmadd_ps(u, wv, a[j]);
      a[8 + j] = _mm512_fmadd_ps(v, wv, a[8 + j]);
    }
  }
  if (k < K) {
    const __mmask16 m = w8_lanes(K - k);
    const __m512 u = _mm512_maskz_loadu_ps(m, x0 + k), v = _mm512_maskz_loadu_ps(m, x1 + k);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; ++j) {
      const __m512 wv = w8_load16(row<kTail>(r, r8, ldw, j, cols) + k, m);
      a[j] = _mm512_fmadd_ps(u, wv, a[j]);
      a[8 + j] = _mm512_fmadd_ps(v, wv, a[8 + j]);
    }
  }
  return w8_reduce16(a);
}

}  // namespace

void w8_linear_1x16__avx512bw(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                              const float* scale, const float* bias, float* y) {
  size_t n = 0;
  for (; n + 16 <= N; n += 16)
    w8_store1(dot_1x16<false>(K, x, w + n * ldw, ldw, 16), 16, scale + n, bias ? bias + n : nullptr, y + n);
  if (n < N)
    w8_store1(dot_1x16<true>(K, x, w + n * ldw, ldw, N - n), N - n, scale + n, bias ? bias + n : nullptr, y + n);
}

void w8_linear_2x8__avx512bw(size_t K, size_t N, const float* x0, const float* x1, const int8_t* w, size_t ldw,
                             const float* scale, const float* bias, float* y0, float* y1) {
  size_t n = 0;
  for (; n + 8 <= N; n += 8)
    w8_store2(dot_2x8<false>(K, x0, x1, w + n * ldw, ldw, 8), 8, scale + n, bias ? bias + n : nullptr, y0 + n, y1 + n);
  if (n < N)
    w8_store2(dot_2x8<true>(K, x0, x1, w + n * ldw, ldw, N - n), N - n, scale + n, bias ? bias + n : nullptr, y0 + n,
              y1 + n);
}

void bf16_to_f32__avx512bw(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
  if (i < n) {
    const __mmask16 m = w8_lanes(n - i);
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
}

void f16_to_f32__avx512bw(const uint16_t* src, size_t n, float* dst) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  if (i < n) {
    const __mmask16 m = w8_lanes(n - i);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

// Quantize and min/max: none of its own (null), so the table below this one supplies them
// (the AVX2 kernels where built; src/quant/quant_dispatch.cpp).
extern const QuantKernels kQuantKernels_avx512bw = {
    w8_linear_1x16__avx512bw, w8_linear_2x8__avx512bw, bf16_to_f32__avx512bw, f16_to_f32__avx512bw,
    nullptr, nullptr, nullptr, "w8a32_linear_1x16__avx512bw",
    "w8a16bf16_linear_1x16__avx512bw", "w8a16f16_linear_1x16__avx512bw", "w8a32_linear_2x8__avx512bw",
    "w8a16bf16_linear_2x8__avx512bw", "w8a16f16_linear_2x8__avx512bw"};

}  // namespace detail
}  // namespace qgemm
