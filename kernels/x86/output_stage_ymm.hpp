// The fused output stage for ymm kernels (AVX2, AVX-VNNI): eight finished int32 sums of one
// row -> the requested output type, bit for bit what kernels/scalar/requant_scalar.hpp computes.
// Included by kernels compiled with AVX2 flags only (or against SIMDe in the emulation build):
// AVX2 and AVX-VNNI. Its definitions have internal linkage, so neither ISA's object shares a
// COMDAT copy with the other (test odr_isa_objects).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "scalar/requant_scalar.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace ymm {
namespace {

// All-ones in lanes [0, nv).
inline __m256i lane_mask(size_t nv) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nv)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Eight per-column values at p[0..8); fewer than eight are read at the right edge, because the
// per-column tables need not be readable past N.
inline __m256i load_cols(const int32_t* p, size_t nv) {
  if (nv >= 8) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), lane_mask(nv));
}
inline __m256 load_cols(const float* p, size_t nv) {
  if (nv >= 8) return _mm256_loadu_ps(p);
  return _mm256_maskload_ps(p, lane_mask(nv));
}

// srdhm(a, b) = floor((a*b + 2^30) / 2^31), which equals gemmlowp's nudge-and-truncate form for
// every product; the single overflow case INT32_MIN*INT32_MIN saturates to INT32_MAX.
inline __m256i srdhm(__m256i a, __m256i b) {
  const __m256i half = _mm256_set1_epi64x(int64_t{1} << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), half);
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)), half);
  // Bits 31..62 of each 64-bit sum: low dword of (even >> 31), high dword of (odd << 1).
  __m256i r = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
  const __m256i min = _mm256_set1_epi32(INT32_MIN);
  const __m256i both_min = _mm256_and_si256(_mm256_cmpeq_epi32(a, min), _mm256_cmpeq_epi32(b, min));
  return _mm256_xor_si256(r, both_min);  // INT32_MIN ^ ~0 = INT32_MAX
}

// gemmlowp RoundingDivideByPOT with a per-lane exponent e in [0, 31].
inline __m256i rdbpot(__m256i x, __m256i e) {
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), e), _mm256_set1_epi32(1));
  const __m256i rem = _mm256_and_si256(x, mask);
  const __m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(x, 31));
  return _mm256_sub_epi32(_mm256_srav_epi32(x, e), _mm256_cmpgt_epi32(rem, thr));
}

inline __m256i mbqm_double(__m256i x, __m256i m, __m256i shift) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i left = _mm256_max_epi32(shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  return rdbpot(srdhm(_mm256_sllv_epi32(x, left), m), right);
}

// (x*m + 2^(t-1)) >> t for t in [1, 62] in the low 32 bits of each 64-bit lane, saturated to int32.
inline __m256i single_round_64(__m256i x, __m256i m, __m256i t) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i v = _mm256_add_epi64(_mm256_mul_epi32(x, m), _mm256_sllv_epi64(one, _mm256_sub_epi64(t, one)));
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  __m256i r = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), t), sign);  // arithmetic shift
  const __m256i hi = _mm256_set1_epi64x(INT32_MAX), lo = _mm256_set1_epi64x(INT32_MIN);
  r = _mm256_blendv_epi8(r, hi, _mm256_cmpgt_epi64(r, hi));
  return _mm256_blendv_epi8(r, lo, _mm256_cmpgt_epi64(lo, r));
}

inline __m256i mbqm_single(__m256i x, __m256i m, __m256i shift) {
  const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);
  const __m256i low = _mm256_set1_epi64x(0xFFFFFFFF);
  const __m256i even = single_round_64(x, m, _mm256_and_si256(t, low));
  const __m256i odd = single_round_64(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32), _mm256_srli_epi64(t, 32));
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Stores lanes [0, nv) of eight int8/uint8 results (already within the type's range).
inline void store_bytes(void* dst, __m256i q, bool out_u8, size_t nv) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b = out_u8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
  if (nv >= 8) {
    _mm_storel_epi64(static_cast<__m128i*>(dst), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(dst, tmp, nv);
  }
}

// The eight finished sums of one row: dot + col_off - row_sum*zb (col_off and zb loaded once per
// column vector by the caller; the product skipped when every zb is 0).
inline __m256i finish8(__m256i dot, __m256i col_off, __m256i zb, int32_t row_sum, bool zb_zero) {
  const __m256i x = _mm256_add_epi32(dot, col_off);
  return zb_zero ? x : _mm256_sub_epi32(x, _mm256_mullo_epi32(_mm256_set1_epi32(row_sum), zb));
}

// Writes eight finished sums of one row (columns j..j+nv of the problem, stored at dst) through
// the output stage.
template <StageKind kKind>
inline void store8(__m256i acc, const StageParams& p, size_t j, void* dst, size_t nv) {
  if (kKind == StageKind::s32) {
    if (nv >= 8)
      _mm256_storeu_si256(static_cast<__m256i*>(dst), acc);
    else
      _mm256_maskstore_epi32(static_cast<int*>(dst), lane_mask(nv), acc);
    return;
  }
  if (kKind == StageKind::f32) {
    __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), load_cols(p.scale + j, nv), load_cols(p.fbias + j, nv));
    y = _mm256_max_ps(_mm256_set1_ps(p.fmin), y);  // fmin > y ? fmin : y (NaN y stays)
    y = _mm256_min_ps(_mm256_set1_ps(p.fmax), y);  // fmax < y ? fmax : y
    if (nv >= 8)
      _mm256_storeu_ps(static_cast<float*>(dst), y);
    else
      _mm256_maskstore_ps(static_cast<float*>(dst), lane_mask(nv), y);
    return;
  }
  __m256i q;
  if (kKind == StageKind::float_mult) {
    __m256 x = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(acc), load_cols(p.fbias + j, nv)),
                             load_cols(p.scale + j, nv));
    // Clamping to the integer bounds before rounding equals rounding then clamping.
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(static_cast<float>(p.qmin))),
                      _mm256_set1_ps(static_cast<float>(p.qmax)));
    q = _mm256_cvtps_epi32(x);  // current rounding mode (nearest-even), as nearbyint
  } else {
    const __m256i m = load_cols(p.mult + j, nv), s = load_cols(p.shift + j, nv);
    q = kKind == StageKind::fixed_single ? mbqm_single(acc, m, s) : mbqm_double(acc, m, s);
    q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(p.qmin)), _mm256_set1_epi32(p.qmax));
  }
  store_bytes(dst, _mm256_add_epi32(q, _mm256_set1_epi32(p.zo)), p.out_u8, nv);
}

// Stores an m x n tile held as acc[i][v] (row i, columns 8v..8v+7), m <= kMR, n <= 8*kNV.
// The tile's earlier K blocks (TileArgs::acc_in) are added to acc first.
template <StageKind kKind, size_t kMR, size_t kNV>
inline void store_tile_kind(const __m256i (&acc)[kMR][kNV], size_t m, size_t n, const int32_t* row_sum,
                            char* c, size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  const size_t es = p.out_bytes;
  for (size_t v = 0; v < kNV && 8 * v < n; ++v) {
    const size_t j = j0 + 8 * v, nv = n - 8 * v < 8 ? n - 8 * v : 8;
    const __m256i col_off = load_cols(p.col_off + j, nv), zb = load_cols(p.zb + j, nv);
    for (size_t i = 0; i < m; ++i) {
      __m256i dot = acc[i][v];
      if (t.acc_in)
        dot = _mm256_add_epi32(dot, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_in + i * t.acc_in_stride + 8 * v)));
      store8<kKind>(finish8(dot, col_off, zb, row_sum[i], p.zb_zero), p, j, c + i * c_stride + 8 * v * es, nv);
    }
  }
}

// A stage without ymm code: the reference store (kernels/scalar/requant_scalar.hpp), out of line
// so that it does not weigh on the inlining of the stores above.
template <size_t kMR, size_t kNV>
__attribute__((noinline)) void store_tile_fallback(const __m256i (&acc)[kMR][kNV], size_t m, size_t n,
                                                   const int32_t* row_sum, void* c, size_t c_stride,
                                                   const StageParams& p, const TileArgs& t, size_t j0) {
  int32_t dots[kMR][8 * kNV];
  for (size_t i = 0; i < m; ++i)
    for (size_t v = 0; v < kNV; ++v) {
      __m256i d = acc[i][v];
      if (t.acc_in)
        d = _mm256_add_epi32(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_in + i * t.acc_in_stride + 8 * v)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(&dots[i][8 * v]), d);
    }
  store_tile_ref(&dots[0][0], 8 * kNV, m, n, row_sum, c, c_stride, p, j0);
}

template <size_t kMR, size_t kNV>
inline void store_tile(const __m256i (&acc)[kMR][kNV], size_t m, size_t n, const int32_t* row_sum, void* c,
                       size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  char* cc = static_cast<char*>(c);
  switch (p.kind) {
    case StageKind::s32: return store_tile_kind<StageKind::s32>(acc, m, n, row_sum, cc, c_stride, p, t, j0);
    case StageKind::fixed_double: return store_tile_kind<StageKind::fixed_double>(acc, m, n, row_sum, cc, c_stride, p, t, j0);
    case StageKind::fixed_single: return store_tile_kind<StageKind::fixed_single>(acc, m, n, row_sum, cc, c_stride, p, t, j0);
    case StageKind::float_mult: return store_tile_kind<StageKind::float_mult>(acc, m, n, row_sum, cc, c_stride, p, t, j0);
    case StageKind::f32: return store_tile_kind<StageKind::f32>(acc, m, n, row_sum, cc, c_stride, p, t, j0);
    default: return store_tile_fallback<kMR, kNV>(acc, m, n, row_sum, c, c_stride, p, t, j0);
  }
}

}  // namespace
}  // namespace ymm
}  // namespace detail
}  // namespace qgemm
