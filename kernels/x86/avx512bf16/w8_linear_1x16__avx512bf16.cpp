// Weight-only int8 linear for bfloat16 X on AVX512-BF16: X is read as bf16 (no widening pass)
// and each 32 int8 weights become 32 bf16 in registers (vpmovsxbd + vcvtdq2ps twice, then
// vcvtne2ps2bf16: exact, |w| <= 128 needs 8 significant bits and bf16 has 8), multiplied with
// vdpbf16ps: per f32 lane, two FMAs (odd element, then even) with exact products, denormal
// inputs read as zero, denormal results flushed to zero, round to nearest even, MXCSR ignored.
// 16 weight rows x 1 row of X, or 8 weight rows x 2 rows of X (each converted weight vector
// serves two vdpbf16ps). Tolerance against the float reference: docs/notes/issue-7-zmm.md.
#include "size_ops.hpp"
#include "x86/intrin.hpp"

#include <algorithm>
#include <cstring>

#include "quant_ukernel.hpp"
#include "x86/w8_linear_zmm.hpp"

namespace qgemm {
namespace detail {
namespace {

inline __m512bh as_bf16(__m512i v) {
  __m512bh r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

// bf16 word j = w[j], j < 32 (mask k: lanes outside it read nothing, give 0).
inline __m512bh w8_load32(const int8_t* w) { return _mm512_cvtne2ps_pbh(w8_load16(w + 16), w8_load16(w)); }
inline __m512bh w8_load32(const int8_t* w, __mmask32 k) {
  return _mm512_cvtne2ps_pbh(w8_load16(w + 16, static_cast<__mmask16>(k >> 16)), w8_load16(w, static_cast<__mmask16>(k)));
}
inline __m512bh x_load32(const uint16_t* x) { return as_bf16(_mm512_loadu_si512(x)); }
inline __m512bh x_load32(const uint16_t* x, __mmask32 k) { return as_bf16(_mm512_maskz_loadu_epi16(k, x)); }
inline __mmask32 lanes32(size_t n) { return static_cast<__mmask32>(n >= 32 ? 0xffffffffu : (1u << n) - 1); }

// Weight row j of a block of `cols` (kTail: rows past cols repeat row cols-1). Rows 8..15 from
// a second base pointer: offsets 0..7 x ldw need 4 registers besides ldw (3, 5, 7 x ldw and the
// scaled-index forms), where 16 offsets spilled to xmm registers and the stack (g++ 12).
template <bool kTail>
inline const int8_t* row(const int8_t* r, const int8_t* r8, size_t ldw, size_t j, size_t cols) {
  if (kTail) return r + size_min(j, cols - 1) * ldw;
  return (j < 8 ? r : r8) + (j & 7) * ldw;
}

template <bool kTail>
inline __m512 dot_1x16(size_t K, const uint16_t* x, const int8_t* r, size_t ldw, size_t cols) {
  __m512 a[16];
  for (int j = 0; j < 16; ++j) a[j] = _mm512_setzero_ps();
  const int8_t* r8 = kTail ? r : r + 8 * ldw;
  size_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512bh xv = x_load32(x + k);
#pragma GCC unroll 16
    for (size_t j = 0; j < 16; ++j) a[j] = _mm512_dpbf16_ps(a[j], xv, w8_load32(row<kTail>(r, r8, ldw, j, cols) + k));
  }
  if (k < K) {
    const __mmask32 m = lanes32(K - k);
    const __m512bh xv = x_load32(x + k, m);
#pragma GCC unroll 16
    for (size_t j = 0; j < 16; ++j) a[j] = _mm512_dpbf16_ps(a[j], xv, w8_load32(row<kTail>(r, r8, ldw, j, cols) + k, m));
  }
  return w8_reduce16(a);
}

template <bool kTail>
inline __m512 dot_2x8(size_t K, const uint16_t* x0, const uint16_t* x1, const int8_t* r, size_t ldw, size_t cols) {
  __m512 a[16];
  for (int j = 0; j < 16; ++j) a[j] = _mm512_setzero_ps();
  const int8_t* r8 = r;  // rows 0..7 only
  size_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512bh u = x_load32(x0 + k), v = x_load32(x1 + k);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; ++j) {
      const __m512bh wv = w8_load32(row<kTail>(r, r8, ldw, j, cols) + k);
      a[j] = _mm512_dpbf16_ps(a[j], u, wv);
      a[8 + j] = _mm512_dpbf16_ps(a[8 + j], v, wv);
    }
  }
  if (k < K) {
    const __mmask32 m = lanes32(K - k);
    const __m512bh u = x_load32(x0 + k, m), v = x_load32(x1 + k, m);
#pragma GCC unroll 8
    for (size_t j = 0; j < 8; ++j) {
      const __m512bh wv = w8_load32(row<kTail>(r, r8, ldw, j, cols) + k, m);
      a[j] = _mm512_dpbf16_ps(a[j], u, wv);
      a[8 + j] = _mm512_dpbf16_ps(a[8 + j], v, wv);
    }
  }
  return w8_reduce16(a);
}

void w8_linear_1x16__avx512bf16(size_t K, size_t N, const uint16_t* x, const int8_t* w, size_t ldw,
                                const float* scale, const float* bias, float* y) {
  size_t n = 0;
  for (; n + 16 <= N; n += 16)
    w8_store1(dot_1x16<false>(K, x, w + n * ldw, ldw, 16), 16, scale + n, bias ? bias + n : nullptr, y + n);
  if (n < N)
    w8_store1(dot_1x16<true>(K, x, w + n * ldw, ldw, N - n), N - n, scale + n, bias ? bias + n : nullptr, y + n);
}

void w8_linear_2x8__avx512bf16(size_t K, size_t N, const uint16_t* x0, const uint16_t* x1, const int8_t* w,
                               size_t ldw, const float* scale, const float* bias, float* y0, float* y1) {
  size_t n = 0;
  for (; n + 8 <= N; n += 8)
    w8_store2(dot_2x8<false>(K, x0, x1, w + n * ldw, ldw, 8), 8, scale + n, bias ? bias + n : nullptr, y0 + n, y1 + n);
  if (n < N)
    w8_store2(dot_2x8<true>(K, x0, x1, w + n * ldw, ldw, N - n), N - n, scale + n, bias ? bias + n : nullptr, y0 + n,
              y1 + n);
}

}  // namespace

extern const W8Bf16Kernels kW8Bf16Kernels_avx512bf16 = {w8_linear_1x16__avx512bf16, w8_linear_2x8__avx512bf16,
                                                        "w8a16bf16_linear_1x16__avx512bf16",
                                                        "w8a16bf16_linear_2x8__avx512bf16"};

}  // namespace detail
}  // namespace qgemm
