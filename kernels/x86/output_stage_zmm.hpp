// The zmm (AVX-512F/BW) output stage shared by the avx512bw and avx512vnni microkernels: turns
// a tile of finished dot products (16 columns per zmm) into int32, u8/s8 or float and stores
// it, bit for bit as kernels/scalar/requant_scalar.hpp defines each stage. Included only by
// sources compiled with AVX-512 flags (or the SIMDe emulation build). Its definitions have
// internal linkage, so neither ISA's object shares a COMDAT copy with the other (test
// odr_isa_objects).
//
// Partial tiles: per-column data is read and C is written with masked loads and stores, so
// nothing outside columns [j0, j0+n) and rows [0, M) is touched.
#pragma once

#include <cstddef>
#include <cstdint>

#include "scalar/requant_scalar.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace zmm {
namespace {

inline __mmask16 column_mask(size_t cols) {
  return _cvtu32_mask16(cols >= 16 ? 0xFFFFu : ((1u << cols) - 1u));
}

// acc + col_off[j] - row_sum[i]*zb[j], modular int32 (finish_acc).
inline __m512i finish(__m512i dot, __m512i col_off, __m512i zb, int32_t row_sum, bool zb_zero) {
  const __m512i x = _mm512_add_epi32(dot, col_off);
  return zb_zero ? x : _mm512_sub_epi32(x, _mm512_mullo_epi32(_mm512_set1_epi32(row_sum), zb));
}

// Per-column-vector constants of the fixed-point stages, computed once for all rows of a tile.
struct FixedCols {
  __m512i mult, mult_odd;    // multiplier, and its odd lanes moved to the even dword slots
  __m512i left, right;       // double rounding: left shift, right shift (RoundingDivideByPOT)
  __m512i rmask, rthresh;    // double rounding: 2^right - 1, and its half
  __m512i tot_even, tot_odd; // single rounding: 31 - shift as 64-bit counts
  __m512i rnd_even, rnd_odd; // single rounding: 2^(31 - shift - 1)
  __mmask16 mult_is_min;     // multiplier == INT32_MIN (the one srdhm saturation case)
};

inline FixedCols fixed_cols(const StageParams& p, size_t j, __mmask16 k, bool single) {
  FixedCols f;
  f.mult = _mm512_maskz_loadu_epi32(k, p.mult + j);
  f.mult_odd = _mm512_srli_epi64(f.mult, 32);
  const __m512i shift = _mm512_maskz_loadu_epi32(k, p.shift + j);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i one32 = _mm512_set1_epi32(1);
  f.mult_is_min = _mm512_cmpeq_epi32_mask(f.mult, _mm512_set1_epi32(INT32_MIN));
  if (single) {
    const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);  // 1..62
    f.tot_even = _mm512_and_si512(total, _mm512_set1_epi64(0xFFFFFFFF));
    f.tot_odd = _mm512_srli_epi64(total, 32);
    const __m512i one64 = _mm512_set1_epi64(1);
    f.rnd_even = _mm512_sllv_epi64(one64, _mm512_sub_epi64(f.tot_even, one64));
    f.rnd_odd = _mm512_sllv_epi64(one64, _mm512_sub_epi64(f.tot_odd, one64));
    f.left = f.right = f.rmask = f.rthresh = zero;
  } else {
    f.left = _mm512_max_epi32(shift, zero);
    f.right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
    f.rmask = _mm512_sub_epi32(_mm512_sllv_epi32(one32, f.right), one32);  // right = 31: INT32_MAX
    f.rthresh = _mm512_srli_epi32(f.rmask, 1);
    f.tot_even = f.tot_odd = f.rnd_even = f.rnd_odd = zero;
  }
  return f;
}

// TFLite MultiplyByQuantizedMultiplier, double rounding (mbqm_double). srdhm's
// (ab + nudge) / 2^31 with C truncation equals floor((ab + 2^30) / 2^31) for either sign of ab,
// so one 64-bit add and shift per product suffice.
inline __m512i mbqm_double(__m512i x, const FixedCols& f) {
  const __m512i xs = _mm512_sllv_epi32(x, f.left);  // wraps, as the scalar code does
  const __m512i half = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(xs, f.mult), half);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(xs, 32), f.mult_odd), half);
  // bits 31..62 of each product: even ones to the low dword, odd ones to the high dword
  __m512i r = _mm512_mask_blend_epi32(_cvtu32_mask16(0xAAAA), _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  const __mmask16 sat = _mm512_mask_cmpeq_epi32_mask(f.mult_is_min, xs, _mm512_set1_epi32(INT32_MIN));
  r = _mm512_mask_mov_epi32(r, sat, _mm512_set1_epi32(INT32_MAX));
  // RoundingDivideByPOT: +1 where remainder > (mask >> 1) + (r < 0)
  const __m512i rem = _mm512_and_si512(r, f.rmask);
  const __m512i thresh = _mm512_add_epi32(f.rthresh, _mm512_srli_epi32(r, 31));
  const __m512i q = _mm512_srav_epi32(r, f.right);
  return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thresh), q, _mm512_set1_epi32(1));
}

// TFLite MultiplyByQuantizedMultiplier, single rounding (mbqm_single): 64-bit product, rounding
// add, arithmetic shift by 31 - shift, saturation to int32.
inline __m512i mbqm_single(__m512i x, const FixedCols& f) {
  const __m512i lo = _mm512_set1_epi64(INT32_MIN), hi = _mm512_set1_epi64(INT32_MAX);
  __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, f.mult), f.rnd_even);
  __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), f.mult_odd), f.rnd_odd);
  pe = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(pe, f.tot_even), lo), hi);
  po = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(po, f.tot_odd), lo), hi);
  return _mm512_mask_blend_epi32(_cvtu32_mask16(0xAAAA), pe, _mm512_slli_epi64(po, 32));
}

inline void* at(char* base, size_t offset) { return base + offset; }

// Stores the low byte of each lane of q (already within the output type's range).
inline void store_bytes(void* dst, __m512i q, __mmask16 k) {
  _mm_mask_storeu_epi8(dst, k, _mm512_cvtepi32_epi8(q));
}

// A stage without zmm code, one column vector: the reference store
// (kernels/scalar/requant_scalar.hpp), out of line so that it does not weigh on the stores' code.
template <int M>
__attribute__((noinline)) void store_vector_fallback(const __m512i* acc, size_t acc_stride, size_t cols,
                                                     const int32_t* row_sum, void* c, size_t c_stride,
                                                     const StageParams& p, size_t j) {
  int32_t dots[M][16];
  for (int i = 0; i < M; ++i) _mm512_storeu_si512(dots[i], acc[static_cast<size_t>(i) * acc_stride]);
  store_tile_ref(&dots[0][0], 16, static_cast<size_t>(M), cols, row_sum, c, c_stride, p, j);
}

// Finishes and stores a tile: rows [0, M), columns [0, n) of NV vectors of 16 columns each.
// acc[i][v] holds sum_k A[i][k]*B[k][16v..16v+15]; the tile's first column is absolute j0.
template <int M, int NV>
inline void store_tile_dots(const __m512i (&acc)[M][NV], size_t n, const int32_t* row_sum, void* c,
                            size_t c_stride, const StageParams& p, size_t j0);

// The tile's earlier K blocks (TileArgs::acc_in) are added to acc first.
template <int M, int NV>
inline void store_tile(const __m512i (&acc)[M][NV], size_t n, const int32_t* row_sum, void* c,
                       size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  if (!t.acc_in) return store_tile_dots<M, NV>(acc, n, row_sum, c, c_stride, p, j0);
  __m512i dot[M][NV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < NV; ++v)
      dot[i][v] = _mm512_add_epi32(acc[i][v], _mm512_loadu_si512(t.acc_in + i * t.acc_in_stride + 16 * v));
  store_tile_dots<M, NV>(dot, n, row_sum, c, c_stride, p, j0);
}

template <int M, int NV>
inline void store_tile_dots(const __m512i (&acc)[M][NV], size_t n, const int32_t* row_sum, void* c,
                            size_t c_stride, const StageParams& p, size_t j0) {
  char* const cbase = static_cast<char*>(c);
  for (int v = 0; v < NV; ++v) {
    if (static_cast<size_t>(16 * v) >= n) break;
    const size_t j = j0 + 16 * static_cast<size_t>(v);
    const __mmask16 k = column_mask(n - 16 * static_cast<size_t>(v));
    const __m512i col_off = _mm512_maskz_loadu_epi32(k, p.col_off + j);
    const __m512i zb = _mm512_maskz_loadu_epi32(k, p.zb + j);
    switch (p.kind) {
      case StageKind::s32:
        for (int i = 0; i < M; ++i)
          _mm512_mask_storeu_epi32(at(cbase, i * c_stride + 64 * v), k, finish(acc[i][v], col_off, zb, row_sum[i], p.zb_zero));
        break;
      case StageKind::f32: {
        const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + j);
        const __m512 fbias = _mm512_maskz_loadu_ps(k, p.fbias + j);
        const __m512 fmin = _mm512_set1_ps(p.fmin), fmax = _mm512_set1_ps(p.fmax);
        for (int i = 0; i < M; ++i) {
          const __m512i x = finish(acc[i][v], col_off, zb, row_sum[i], p.zb_zero);
          __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(x), scale, fbias);
          y = _mm512_max_ps(fmin, y);  // (fmin > y) ? fmin : y, NaN y stays NaN
          y = _mm512_min_ps(fmax, y);  // (fmax < y) ? fmax : y
          _mm512_mask_storeu_ps(at(cbase, i * c_stride + 64 * v), k, y);
        }
        break;
      }
      case StageKind::float_mult: {
        const __m512 scale = _mm512_maskz_loadu_ps(k, p.scale + j);
        const __m512 fbias = _mm512_maskz_loadu_ps(k, p.fbias + j);
        const __m512 qmin = _mm512_set1_ps(static_cast<float>(p.qmin));
        const __m512 qmax = _mm512_set1_ps(static_cast<float>(p.qmax));
        const __m512i zo = _mm512_set1_epi32(p.zo);
        for (int i = 0; i < M; ++i) {
          const __m512i x = finish(acc[i][v], col_off, zb, row_sum[i], p.zb_zero);
          __m512 y = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(x), fbias), scale);
          // Clamping to the integer bounds before rounding equals rounding first and clamping
          // after (the scalar order): the bounds are integers, so rounding keeps them.
          y = _mm512_min_ps(_mm512_max_ps(y, qmin), qmax);
          const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(y), zo);  // MXCSR: nearest even
          store_bytes(at(cbase, i * c_stride + 16 * v), q, k);
        }
        break;
      }
      case StageKind::fixed_double:
      case StageKind::fixed_single: {
        const bool single = p.kind == StageKind::fixed_single;
        const FixedCols f = fixed_cols(p, j, k, single);
        const __m512i qmin = _mm512_set1_epi32(p.qmin), qmax = _mm512_set1_epi32(p.qmax);
        const __m512i zo = _mm512_set1_epi32(p.zo);
        for (int i = 0; i < M; ++i) {
          const __m512i x = finish(acc[i][v], col_off, zb, row_sum[i], p.zb_zero);
          __m512i r = single ? mbqm_single(x, f) : mbqm_double(x, f);
          r = _mm512_min_epi32(_mm512_max_epi32(r, qmin), qmax);
          store_bytes(at(cbase, i * c_stride + 16 * v), _mm512_add_epi32(r, zo), k);
        }
        break;
      }
      default: {
        const size_t left = n - 16 * static_cast<size_t>(v);
        store_vector_fallback<M>(&acc[0][v], NV, left < 16 ? left : 16, row_sum,
                                 at(cbase, 16 * static_cast<size_t>(v) * p.out_bytes), c_stride, p, j);
      }
    }
  }
}

}  // namespace
}  // namespace zmm
}  // namespace detail
}  // namespace qgemm
