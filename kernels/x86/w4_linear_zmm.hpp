// Shared by the zmm int4 kernels (kernels/x86/avx512vnni/w4_linear__avx512vnni.cpp,
// kernels/x86/avx512bw/w4_linear__avx512bw.cpp): the tile loops of the W4A8 kernel around an
// ISA's dot-product step (`Dot`), and the whole weight-only kernel (AVX512F/BW/VL/DQ only, so
// both folders' flags compile it). The arithmetic is kernels/int4_ukernel.hpp's, bit for bit:
// exact int32 group sums, then one fma per group in group order (W4A8); one fma chain per output
// in k order with w = float(u - z) * s (weight-only). Internal linkage keeps each folder's copy
// its own (test odr_isa_objects).
//
// Unpacking: a 64-byte block holds [16 columns][4 k] low nibbles (k 8b..8b+3) and the same for
// the high nibbles (8b+4..8b+7); `& 0x0F` and `>> 4 & 0x0F` give the two u8 [16][4] operands of
// a dword dot product with the row's 4 activation bytes broadcast. Weight-only extracts k = 8b+t
// as dword lanes (shift by 8t or 8t+4, mask) and builds float(u - z) exactly as
// (2^23 + u) - (2^23 + z): the mask and the exponent bits in one vpternlogd.
#pragma once

#include "x86/intrin.hpp"

#include <cstddef>
#include <cstdint>

#include "int4_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

inline __mmask16 w4_lanes(size_t p, size_t n) {
  const size_t j0 = p * kInt4Nr;
  if (j0 + 16 <= n) return 0xffff;
  return j0 >= n ? 0 : static_cast<__mmask16>((1u << (n - j0)) - 1);
}

inline int32_t w4_dword(const uint8_t* a) {
  int32_t v;
  __builtin_memcpy(&v, a, 4);
  return v;
}

// Distance of the software prefetch ahead of each panel's stream, in bytes: several blocks
// ahead so that the streams of NP panels at once arrive before they are needed at decode.
constexpr size_t kW4PrefetchBytes = 2048;

// W4A8, rows [i0, i0 + MR) x panels [p, p + NP), the whole depth. `Dot` adds one block's
// (8 k values) dword dot products of a row with a panel to an int32 accumulator:
//   Dot::step(acc, a_lo, a_hi, w_lo, w_hi)   (a_* broadcast dwords, w_* unpacked nibbles)
// and adds int16 pair products: Dot::correct(acc, w, a) = acc + w[2l] * a[2l] + w[2l+1] * a[2l+1].
// The group's partial sums stay in registers; y lives in a small stack tile between groups.
template <class Dot, int MR, int NP, bool kPrefetch, bool kPair>
inline void w4a8_tile(const W4A8Args& r, size_t i0, size_t p) {
  const size_t kg = r.kg, ng = r.ng, kp = ng * kg, pb = int4_panel_bytes(kp);
  const uint8_t* w = r.w + p * pb;
  alignas(64) float yb[MR][NP][16];
#pragma GCC unroll 16
  for (int q = 0; q < NP; ++q) {
    const __m512 b = _mm512_loadu_ps(r.bias + (p + q) * kInt4Nr);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm512_store_ps(yb[i][q], b);
  }
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const uint8_t* arow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) arow[i] = r.a + (i0 + i) * r.lda;
  for (size_t g = 0; g < ng; ++g) {
    __m512i acc[MR * NP];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int q = 0; q < NP; ++q) acc[i * NP + q] = _mm512_setzero_si512();
    const size_t k0 = g * kg;
    for (size_t k = k0; k < k0 + kg; k += kInt4Block) {
      const uint8_t* wb = w + k / kInt4Block * 64;
      __m512i lo[NP], hi[NP];
#pragma GCC unroll 16
      for (int q = 0; q < NP; ++q) {
        const uint8_t* wq = wb + q * pb;
        if (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(wq + kW4PrefetchBytes), _MM_HINT_T0);
        const __m512i v = _mm512_loadu_si512(wq);
        lo[q] = _mm512_and_si512(v, m4);
        hi[q] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      }
      // The row's activations broadcast where they are used: 2 registers, not 2 * MR.
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512i alo = _mm512_set1_epi32(w4_dword(arow[i] + k));
        const __m512i ahi = _mm512_set1_epi32(w4_dword(arow[i] + k + 4));
#pragma GCC unroll 16
        for (int q = 0; q < NP; ++q) acc[i * NP + q] = Dot::step(acc[i * NP + q], alo, ahi, lo[q], hi[q]);
      }
    }
    // acc - z * a_sum - a_zp * w_sum (exact), then one fma with the float32 scale product.
    // kPair (groups of kg <= 128): |a_sum| <= 255 * 128 and w_sum <= 15 * 128 fit int16, so
    // the correction is one int16 pair dot product, (z, w_sum) . (-a_sum, -a_zp), in place
    // of two vpmulld and an add per row and panel.
    int32_t an[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const size_t ag = (i0 + i) * ng + g;
      an[i] = static_cast<int32_t>((static_cast<uint32_t>(-r.a_zp[ag]) << 16) |
                                   (static_cast<uint32_t>(-r.a_sum[ag]) & 0xFFFFu));
    }
#pragma GCC unroll 16
    for (int q = 0; q < NP; ++q) {
      const size_t t = ((p + q) * ng + g) * kInt4Nr;
      const __m512i wz = _mm512_loadu_si512(r.w_zp + t);
      const __m512i ws = _mm512_loadu_si512(r.w_sum + t);
      const __m512i wpair = _mm512_or_si512(wz, _mm512_slli_epi32(ws, 16));
      const __m512 sc = _mm512_loadu_ps(r.w_scale + t);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const size_t ag = (i0 + i) * ng + g;
        __m512i c;
        if (kPair) {
          c = Dot::correct(acc[i * NP + q], wpair, _mm512_set1_epi32(an[i]));
        } else {
          const __m512i corr = _mm512_add_epi32(_mm512_mullo_epi32(wz, _mm512_set1_epi32(r.a_sum[ag])),
                                                _mm512_mullo_epi32(_mm512_set1_epi32(r.a_zp[ag]), ws));
          c = _mm512_sub_epi32(acc[i * NP + q], corr);
        }
        const __m512 f = _mm512_cvtepi32_ps(c);
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(r.a_scale[ag]), sc);
        _mm512_store_ps(yb[i][q], _mm512_fmadd_ps(f, s, _mm512_load_ps(yb[i][q])));
      }
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < NP; ++q) {
    const __mmask16 m = w4_lanes(p + q, r.n);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(r.y + (i0 + i) * r.ldy + (p + q) * kInt4Nr, m, _mm512_load_ps(yb[i][q]));
  }
}

template <class Dot, int MR, int NP, bool kPrefetch, bool kPair>
inline void w4a8_rows(const W4A8Args& r, size_t i0, size_t p0, size_t p1) {
  size_t p = p0;
  for (; p + NP <= p1; p += NP) w4a8_tile<Dot, MR, NP, kPrefetch, kPair>(r, i0, p);
  for (; p < p1; ++p) w4a8_tile<Dot, MR, 1, kPrefetch, kPair>(r, i0, p);
}

// Rows in tiles of 8 x 2 panels (32 columns): each unpacked block serves 8 rows; 16 int32
// accumulators + 4 unpacked vectors + 2 broadcast activations. Up to 8 rows pass over the
// weights once, from memory: those tiles prefetch the panels' streams ahead; further row tiles
// find the call's block of panels in L2. Fewer than 8 rows: tiles of 4 x 4 panels and below.
template <class Dot, bool kPf, bool kPair>
void w4a8_rows_all(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  size_t i = 0;
  for (; i + 8 <= m; i += 8) w4a8_rows<Dot, 8, 2, kPf, kPair>(r, i, p0, p1);
  if (m - i >= 4) {
    w4a8_rows<Dot, 4, 4, kPf, kPair>(r, i, p0, p1);
    i += 4;
  }
  switch (m - i) {
    case 3:
      w4a8_rows<Dot, 3, 4, kPf, kPair>(r, i, p0, p1);
      break;
    case 2:
      w4a8_rows<Dot, 2, 4, kPf, kPair>(r, i, p0, p1);
      break;
    case 1:
      w4a8_rows<Dot, 1, 4, kPf, kPair>(r, i, p0, p1);
      break;
    default:
      break;
  }
}

template <class Dot>
void w4a8_zmm(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  const bool pair = r.kg <= 128;
  if (m <= 8)
    pair ? w4a8_rows_all<Dot, true, true>(r, m, p0, p1) : w4a8_rows_all<Dot, true, false>(r, m, p0, p1);
  else
    pair ? w4a8_rows_all<Dot, false, true>(r, m, p0, p1) : w4a8_rows_all<Dot, false, false>(r, m, p0, p1);
}

// Weight-only, rows [i0, i0 + MR) x panels [p, p + NP): MR x NP fma chains in registers, each
// decoded weight vector serving MR rows.
template <int MR, int NP>
inline void w4f32_tile(const W4F32Args& r, size_t i0, size_t p) {
  const size_t kg = r.kg, ng = r.ng, kp = ng * kg, pb = int4_panel_bytes(kp);
  const uint8_t* w = r.w + p * pb;
  __m512 y[MR][NP];
#pragma GCC unroll 16
  for (int q = 0; q < NP; ++q) {
    const __m512 b = _mm512_loadu_ps(r.bias + (p + q) * kInt4Nr);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) y[i][q] = b;
  }
  const __m512i m4 = _mm512_set1_epi32(0x0F);
  const __m512i magic = _mm512_set1_epi32(0x4B000000);  // 2^23 as float bits
  const __m512 fmagic = _mm512_set1_ps(8388608.0f);
  const float* xrow[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) xrow[i] = r.x + (i0 + i) * r.ldx;
  for (size_t g = 0; g < ng; ++g) {
    __m512 zf[NP], sc[NP];
#pragma GCC unroll 16
    for (int q = 0; q < NP; ++q) {
      const size_t t = ((p + q) * ng + g) * kInt4Nr;
      zf[q] = _mm512_add_ps(fmagic, _mm512_cvtepi32_ps(_mm512_loadu_si512(r.w_zp + t)));  // 2^23 + z, exact
      sc[q] = _mm512_loadu_ps(r.w_scale + t);
    }
    for (size_t k = g * kg; k < (g + 1) * kg; k += kInt4Block) {
      __m512i v[NP];
#pragma GCC unroll 16
      for (int q = 0; q < NP; ++q) {
        const uint8_t* wq = w + q * pb + k / kInt4Block * 64;
        if (MR <= 2) _mm_prefetch(reinterpret_cast<const char*>(wq + kW4PrefetchBytes), _MM_HINT_T0);
        v[q] = _mm512_loadu_si512(wq);
      }
#pragma GCC unroll 16
      for (int t = 0; t < 8; ++t) {
        const int sh = t < 4 ? 8 * t : 8 * (t - 4) + 4;
#pragma GCC unroll 16
        for (int q = 0; q < NP; ++q) {
          const __m512i u = sh == 0 ? v[q] : _mm512_srli_epi32(v[q], sh);
          // (u & 0x0F) | 2^23 bits = 2^23 + u as float
          const __m512 f = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(u, m4, magic, 0xEA));
          const __m512 wf = _mm512_mul_ps(_mm512_sub_ps(f, zf[q]), sc[q]);
#pragma GCC unroll 16
          for (int i = 0; i < MR; ++i) y[i][q] = _mm512_fmadd_ps(_mm512_set1_ps(xrow[i][k + t]), wf, y[i][q]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < NP; ++q) {
    const __mmask16 m = w4_lanes(p + q, r.n);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(r.y + (i0 + i) * r.ldy + (p + q) * kInt4Nr, m, y[i][q]);
  }
}

template <int MR, int NP>
inline void w4f32_rows(const W4F32Args& r, size_t i0, size_t p0, size_t p1) {
  size_t p = p0;
  for (; p + NP <= p1; p += NP) w4f32_tile<MR, NP>(r, i0, p);
  for (; p < p1; ++p) w4f32_tile<MR, 1>(r, i0, p);
}

// Rows in tiles of 8 x 2 panels (16 chains, each decoded vector serving 8 fma); fewer rows take
// more panels so that at least 8 chains hide the fma latency.
inline void w4f32_zmm(const W4F32Args& r, size_t m, size_t p0, size_t p1) {
  size_t i = 0;
  for (; i + 8 <= m; i += 8) w4f32_rows<8, 2>(r, i, p0, p1);
  const size_t left = m - i;
  if (left >= 4) {
    w4f32_rows<4, 2>(r, i, p0, p1);
    i += 4;
  }
  switch (m - i) {
    case 3:
      w4f32_rows<3, 3>(r, i, p0, p1);
      break;
    case 2:
      w4f32_rows<2, 4>(r, i, p0, p1);
      break;
    case 1:
      w4f32_rows<1, 4>(r, i, p0, p1);
      break;
    default:
      break;
  }
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
