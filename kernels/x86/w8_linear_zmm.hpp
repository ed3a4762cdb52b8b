// Shared by the zmm weight-only linear kernels (kernels/x86/avx512bw/w8_linear_*__avx512bw.cpp,
// kernels/x86/avx512bf16/w8_linear_*__avx512bf16.cpp): the 16-accumulator horizontal sum, the
// masked output stage, and the int8 -> float widening. Only AVX512F/BW/VL/DQ instructions, so
// every zmm folder's flags compile it; internal linkage keeps each folder's copy its own.
#pragma once

#include "x86/intrin.hpp"

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {
namespace {

// 16 weights at w (mask k: lanes outside it read nothing, give 0) -> 16 floats, exact.
inline __m512 w8_load16(const int8_t* w) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))));
}
inline __m512 w8_load16(const int8_t* w, __mmask16 k) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, w)));
}

// Lane i of the result = the sum of the 16 lanes of a[i]. Each lane of a[i] passes through 4
// additions (256-bit halves, 128-bit quarters, pairs, pairs): a tree, not a chain.
inline __m512 w8_reduce16(const __m512 (&a)[16]) {
  __m512 s[8], t[4];
  for (int i = 0; i < 8; ++i)  // a[2i], a[2i+1] -> 8 partials each, in 256-bit halves
    s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xee));
  for (int i = 0; i < 4; ++i)  // 128-bit quarter l of t[i]: 4 partials of a[4i + l]
    t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0xdd));
  const __m512 u0 = _mm512_add_ps(_mm512_shuffle_ps(t[0], t[1], 0x88), _mm512_shuffle_ps(t[0], t[1], 0xdd));
  const __m512 u1 = _mm512_add_ps(_mm512_shuffle_ps(t[2], t[3], 0x88), _mm512_shuffle_ps(t[2], t[3], 0xdd));
  const __m512 v = _mm512_add_ps(_mm512_shuffle_ps(u0, u1, 0x88), _mm512_shuffle_ps(u0, u1, 0xdd));
  // v lane 4l + m holds the sum of a[4m + l]: a 4x4 transpose puts it in lane 4m + l.
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, v);
}

inline __mmask16 w8_lanes(size_t n) { return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1); }

// y[0..cols) = dot * scale + bias (one fma each, as the scalar kernel), cols <= 16.
inline void w8_store1(__m512 dot, size_t cols, const float* scale, const float* bias, float* y) {
  const __mmask16 m = w8_lanes(cols);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
  _mm512_mask_storeu_ps(y, m, _mm512_fmadd_ps(dot, _mm512_maskz_loadu_ps(m, scale), b));
}

// dot lanes 0..7 -> y0, lanes 8..15 -> y1, columns [0, cols), cols <= 8.
inline void w8_store2(__m512 dot, size_t cols, const float* scale, const float* bias, float* y0, float* y1) {
  const __mmask16 m = w8_lanes(cols);
  __m512 s = _mm512_maskz_loadu_ps(m, scale);
  __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
  s = _mm512_shuffle_f32x4(s, s, 0x44);  // the 8 columns in both halves
  b = _mm512_shuffle_f32x4(b, b, 0x44);
  const __m512 r = _mm512_fmadd_ps(dot, s, b);
  _mm512_mask_storeu_ps(y0, m, r);
  _mm512_mask_storeu_ps(y1, m, _mm512_shuffle_f32x4(r, r, 0xee));
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
