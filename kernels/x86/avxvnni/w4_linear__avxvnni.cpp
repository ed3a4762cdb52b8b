// The int4 layer's W4A8 kernel for AVX-VNNI (contract and packed layout: kernels/int4_ukernel.hpp).
// As AVX2's (kernels/x86/avx2/w4_linear__avx2.cpp: the nibbles unpacked by `and 0x0F` and
// `srli_epi16(4) & 0x0F` into [8 columns][4 k] byte operands, A broadcast 4 bytes at a time), but
// ymm vpdpbusd adds the four u8 x nibble products of each dword straight into the int32 sums:
// exact, and no int16 step nor vpmaddwd. The weight-only entry stays AVX2's (null here).
//
// Tiles: MR rows x NP panels (16 columns each); two panels at once for M <= 2 (two weight
// streams, more accumulators), five rows per panel above (dot_5x16: ten accumulator chains).
#include "x86/intrin.hpp"

#include <cstring>

#include "int4_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

// Bytes ahead of use that the W4A8 tiles prefetch their weights (at small M they come from memory;
// 16 blocks, only roughly checked; a prefetch past the end is harmless).
constexpr size_t kPrefetch = 1024;

inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// The [8 columns][4 k] operands of one block's 8 columns at w: low nibbles (k 8b..8b+3) and high.
inline void unpack(const uint8_t* w, __m256i mask, __m256i* lo, __m256i* hi) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  *lo = _mm256_and_si256(v, mask);
  *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
}

// acc + the products of KB blocks, four u8 x nibble products per dword and instruction.
template <int KB>
inline __m256i dot(__m256i acc, const __m256i* al, const __m256i* ah, const __m256i* lo, const __m256i* hi) {
#pragma GCC unroll 2
  for (int b = 0; b < KB; ++b) {
    acc = _mm256_dpbusd_avx_epi32(acc, al[b], lo[b]);
    acc = _mm256_dpbusd_avx_epi32(acc, ah[b], hi[b]);
  }
  return acc;
}

// The 5 x 16 tile's group sums over k in [k0, k1), kept out of line with named accumulators so
// that GCC holds all ten: with both halves' four operands and one broadcast they fill the 16
// registers (the mask is a memory operand). Ten chains of two vpdpbusd per block cover its
// latency, which eight (4 rows) do not.
__attribute__((noinline)) void dot_5x16(const uint8_t* a, size_t lda, const uint8_t* wp, size_t k0, size_t k1,
                                        __m256i (*acc)[2]) {
  alignas(32) static const uint8_t kMask[32] = {15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
                                                15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15};
  const __m256i* mask = reinterpret_cast<const __m256i*>(kMask);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00;
  const uint8_t* a3 = a + 3 * lda;
  for (size_t k = k0; k < k1; k += 8) {
    _mm_prefetch(reinterpret_cast<const char*>(wp + k * 8 + kPrefetch), _MM_HINT_T0);  // small M: from memory
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + k * 8));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + k * 8 + 32));
    const __m256i l0 = _mm256_and_si256(v0, _mm256_load_si256(mask));
    const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), _mm256_load_si256(mask));
    const __m256i l1 = _mm256_and_si256(v1, _mm256_load_si256(mask));
    const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), _mm256_load_si256(mask));
#define QGEMM_ROW(i, p)                                   \
  {                                                       \
    __m256i t = bcast4(p + k);                            \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, t, l0);    \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, t, l1);    \
    t = bcast4(p + k + 4);                                \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, t, h0);    \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, t, h1);    \
  }
    QGEMM_ROW(0, a) QGEMM_ROW(1, (a + lda)) QGEMM_ROW(2, (a + 2 * lda)) QGEMM_ROW(3, a3) QGEMM_ROW(4, (a3 + lda))
#undef QGEMM_ROW
  }
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11, acc[2][0] = c20, acc[2][1] = c21;
  acc[3][0] = c30, acc[3][1] = c31, acc[4][0] = c40, acc[4][1] = c41;
}

// Stores the 16 floats of one panel row, only the columns j < n.
inline void store_panel_row(float* y, const __m256 v0, const __m256 v1, size_t cols) {
  if (cols >= kInt4Nr) {
    _mm256_storeu_ps(y, v0);
    _mm256_storeu_ps(y + 8, v1);
    return;
  }
  alignas(32) float t[kInt4Nr];
  _mm256_store_ps(t, v0);
  _mm256_store_ps(t + 8, v1);
  std::memcpy(y, t, cols * sizeof(float));
}

// Rows [i0, i0 + MR) x panels [p, p + NP).
template <int MR, int NP, int KB>
void w4a8_tile(const W4A8Args& r, size_t i0, size_t p) {
  constexpr int NH = 2 * NP;  // 8-column halves
  const size_t kg = r.kg, ng = r.ng, kp = ng * kg, pb = int4_panel_bytes(kp);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const uint8_t* wp = r.w + p * pb;
  const uint8_t* a = r.a + i0 * r.lda;
  // The outputs wait in memory between groups: in registers they would crowd out the sums.
  alignas(32) float y[MR][NH * 8];
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h) {
    const __m256 b = _mm256_loadu_ps(r.bias + p * kInt4Nr + 8 * h);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) _mm256_store_ps(y[i] + 8 * h, b);
  }
  for (size_t g = 0; g < ng; ++g) {
    __m256i acc[MR][NH];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int h = 0; h < NH; ++h) acc[i][h] = _mm256_setzero_si256();
    const size_t k0 = g * kg;
    if constexpr (MR == 5 && NP == 1 && KB == 1) {
      dot_5x16(a, r.lda, wp, k0, k0 + kg, acc);
    } else
    for (size_t k = k0; k < k0 + kg; k += 8 * KB) {  // KB blocks of 8 k (kg is a multiple of 32)
      const uint8_t* wb = wp + k * 8;                 // block k / 8, 64 bytes each
      if constexpr (MR <= 2) {
        // Decode streams the weights from memory once: ask for them ahead of use.
#pragma GCC unroll 2
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 2
          for (int b = 0; b < KB; ++b) _mm_prefetch(reinterpret_cast<const char*>(wb + q * pb + 64 * b + kPrefetch), _MM_HINT_T0);
      }
      if constexpr (NH <= MR) {
        // Every half's operands unpacked first, then each row's broadcasts meet them.
        __m256i lo[NH][KB], hi[NH][KB];
#pragma GCC unroll 8
        for (int h = 0; h < NH; ++h)
#pragma GCC unroll 2
          for (int b = 0; b < KB; ++b) unpack(wb + (h / 2) * pb + (h % 2) * 32 + 64 * b, mask, &lo[h][b], &hi[h][b]);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          __m256i al[KB], ah[KB];
#pragma GCC unroll 2
          for (int b = 0; b < KB; ++b) {
            al[b] = bcast4(a + i * r.lda + k + 8 * b);
            ah[b] = bcast4(a + i * r.lda + k + 8 * b + 4);
          }
#pragma GCC unroll 8
          for (int h = 0; h < NH; ++h) acc[i][h] = dot<KB>(acc[i][h], al, ah, lo[h], hi[h]);
        }
      } else {
        // Every row's broadcasts first, then each half is unpacked and meets them.
        __m256i al[MR][KB], ah[MR][KB];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
          for (int b = 0; b < KB; ++b) {
            al[i][b] = bcast4(a + i * r.lda + k + 8 * b);
            ah[i][b] = bcast4(a + i * r.lda + k + 8 * b + 4);
          }
#pragma GCC unroll 8
        for (int h = 0; h < NH; ++h) {
          __m256i lo[KB], hi[KB];
#pragma GCC unroll 2
          for (int b = 0; b < KB; ++b) unpack(wb + (h / 2) * pb + (h % 2) * 32 + 64 * b, mask, &lo[b], &hi[b]);
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i) acc[i][h] = dot<KB>(acc[i][h], al[i], ah[i], lo, hi);
        }
      }
    }
    // acc - z * a_sum - a_zp * w_sum, then y = fma(float(acc), a_scale * s, y).
#pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) {
      const size_t t = ((p + h / 2) * ng + g) * kInt4Nr + (h % 2) * 8;
      const __m256 ws = _mm256_loadu_ps(r.w_scale + t);
      const __m256i wz = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.w_zp + t));
      const __m256i wsum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.w_sum + t));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const size_t ig = (i0 + i) * ng + g;
        const __m256i corr = _mm256_add_epi32(_mm256_mullo_epi32(wz, _mm256_set1_epi32(r.a_sum[ig])),
                                              _mm256_mullo_epi32(_mm256_set1_epi32(r.a_zp[ig]), wsum));
        const __m256 sc = _mm256_mul_ps(_mm256_set1_ps(r.a_scale[ig]), ws);
        _mm256_store_ps(y[i] + 8 * h, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][h], corr)), sc,
                                                      _mm256_load_ps(y[i] + 8 * h)));
      }
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < NP; ++q) {
    const size_t j0 = (p + q) * kInt4Nr;
    if (j0 >= r.n) break;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
      store_panel_row(r.y + (i0 + i) * r.ldy + j0, _mm256_load_ps(y[i] + 16 * q), _mm256_load_ps(y[i] + 16 * q + 8),
                      r.n - j0);
  }
}

template <int MR, int NP, int KB>
void w4a8_rows(const W4A8Args& r, size_t i0, size_t p0, size_t p1) {
  size_t p = p0;
  for (; p + NP <= p1; p += NP) w4a8_tile<MR, NP, KB>(r, i0, p);
  for (; p < p1; ++p) w4a8_tile<MR, 1, KB>(r, i0, p);
}

void w4a8_linear_5x16__avxvnni(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  if (m == 1) return w4a8_rows<1, 2, 2>(r, 0, p0, p1);
  if (m == 2) return w4a8_rows<2, 2, 1>(r, 0, p0, p1);
  // Panel outer, rows inner: the panel's block stays in cache while every row passes over it.
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 5 <= m; i += 5) w4a8_tile<5, 1, 1>(r, i, p);
    switch (m - i) {
      case 4: w4a8_tile<4, 1, 1>(r, i, p); break;
      case 3: w4a8_tile<3, 1, 1>(r, i, p); break;
      case 2: w4a8_tile<2, 1, 1>(r, i, p); break;
      case 1: w4a8_tile<1, 1, 1>(r, i, p); break;
      default: break;
    }
  }
}

}  // namespace

// The weight-only entry is AVX2's (the same FMA arithmetic).
extern const Int4Kernels kInt4Kernels_avxvnni = {w4a8_linear_5x16__avxvnni, nullptr, "w4a8_linear_5x16__avxvnni",
                                                 nullptr};

}  // namespace detail
}  // namespace qgemm
