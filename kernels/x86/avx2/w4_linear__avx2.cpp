// The int4 layer's AVX2+FMA kernels (contract and packed layout: kernels/int4_ukernel.hpp).
//
// W4A8: one 32-byte load holds 8 columns x 8 k of a block; `and 0x0F` and `srli_epi16(4) & 0x0F`
// give the [8 columns][4 k] byte operands of k 8b..8b+3 and 8b+4..8b+7, and each row's A is
// broadcast 4 bytes at a time. vpmaddubsw of u8 activations by nibbles cannot saturate: four of
// its int16 pair sums (two blocks, 16 k) stay below 4 * 2 * 255 * 15 = 30600 < 32767, so they are
// added in int16 and widened once by vpmaddwd with ones; the per-group int32 sums are exact and
// the epilogue applies the contract's fmaf per group, giving the scalar kernel's bits.
//
// Weight-only: per k, the nibbles of 8 columns are shifted out of their dwords, converted and
// scaled (float(u - z) * s), and one FMA per row and column keeps the contract's k-ordered chain.
//
// Tiles: MR rows x NP panels (16 columns each). Decode rows (M <= 2) take two panels at once, so
// that two weight streams are in flight and more accumulators hide the latency; larger M takes
// four rows per panel, so each unpacked block serves four rows.
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

// acc + the products of KB blocks: 2 * KB vpmaddubsw pair sums added in int16 (at most
// 4 * 2 * 255 * 15 = 30600 for KB = 2: exact), widened once by vpmaddwd with ones.
template <int KB>
inline __m256i dot(__m256i acc, const __m256i* al, const __m256i* ah, const __m256i* lo, const __m256i* hi) {
  __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(al[0], lo[0]), _mm256_maddubs_epi16(ah[0], hi[0]));
  if constexpr (KB == 2)
    s = _mm256_add_epi16(s, _mm256_add_epi16(_mm256_maddubs_epi16(al[1], lo[1]), _mm256_maddubs_epi16(ah[1], hi[1])));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(s, _mm256_set1_epi16(1)));
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
    for (size_t k = k0; k < k0 + kg; k += 8 * KB) {  // KB blocks of 8 k (kg is a multiple of 32)
      const uint8_t* wb = wp + k * 8;                 // block k / 8, 64 bytes each
      // Small M streams the weights from memory (the first row tile of a panel): ask for them ahead.
#pragma GCC unroll 2
      for (int q = 0; q < NP; ++q)
#pragma GCC unroll 2
        for (int b = 0; b < KB; ++b) _mm_prefetch(reinterpret_cast<const char*>(wb + q * pb + 64 * b + kPrefetch), _MM_HINT_T0);
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

void w4a8_linear_4x16__avx2(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  if (m == 1) return w4a8_rows<1, 2, 2>(r, 0, p0, p1);
  if (m == 2) return w4a8_rows<2, 2, 1>(r, 0, p0, p1);
  // Panel outer, rows inner: the panel's block stays in cache while every row passes over it.
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 4 <= m; i += 4) w4a8_tile<4, 1, 1>(r, i, p);
    switch (m - i) {
      case 3: w4a8_tile<3, 1, 1>(r, i, p); break;
      case 2: w4a8_tile<2, 1, 1>(r, i, p); break;
      case 1: w4a8_tile<1, 1, 1>(r, i, p); break;
      default: break;
    }
  }
}

// Weight-only: rows [i0, i0 + MR) x panels [p, p + NP).
template <int MR, int NP>
void w4f32_tile(const W4F32Args& r, size_t i0, size_t p) {
  constexpr int NH = 2 * NP;
  const size_t kg = r.kg, ng = r.ng, kp = ng * kg, pb = int4_panel_bytes(kp);
  const __m256i mask = _mm256_set1_epi32(0x0F);
  const uint8_t* wp = r.w + p * pb;
  const float* x = r.x + i0 * r.ldx;
  __m256 y[MR][NH];
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h) {
    const __m256 b = _mm256_loadu_ps(r.bias + p * kInt4Nr + 8 * h);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) y[i][h] = b;
  }
  for (size_t g = 0; g < ng; ++g) {
    __m256i wz[NH];
    __m256 ws[NH];
#pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) {
      const size_t t = ((p + h / 2) * ng + g) * kInt4Nr + (h % 2) * 8;
      ws[h] = _mm256_loadu_ps(r.w_scale + t);
      wz[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.w_zp + t));
    }
    for (size_t k = g * kg; k < (g + 1) * kg; k += 8) {
      __m256i v[NH];
#pragma GCC unroll 8
      for (int h = 0; h < NH; ++h)
        v[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + (h / 2) * pb + k * 8 + (h % 2) * 32));
      // k + t: byte t of each column's dword, low nibble for t < 4, high nibble after.
#define QGEMM_W4F32_STEP(t)                                                                                  \
  for (int h = 0; h < NH; ++h) {                                                                             \
    const __m256i u = _mm256_and_si256(_mm256_srli_epi32(v[h], ((t) % 4) * 8 + ((t) / 4) * 4), mask);        \
    const __m256 w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(u, wz[h])), ws[h]);                   \
    for (int i = 0; i < MR; ++i) y[i][h] = _mm256_fmadd_ps(_mm256_set1_ps(x[i * r.ldx + k + (t)]), w, y[i][h]); \
  }
      QGEMM_W4F32_STEP(0)
      QGEMM_W4F32_STEP(1)
      QGEMM_W4F32_STEP(2)
      QGEMM_W4F32_STEP(3)
      QGEMM_W4F32_STEP(4)
      QGEMM_W4F32_STEP(5)
      QGEMM_W4F32_STEP(6)
      QGEMM_W4F32_STEP(7)
#undef QGEMM_W4F32_STEP
    }
  }
#pragma GCC unroll 8
  for (int q = 0; q < NP; ++q) {
    const size_t j0 = (p + q) * kInt4Nr;
    if (j0 >= r.n) break;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) store_panel_row(r.y + (i0 + i) * r.ldy + j0, y[i][2 * q], y[i][2 * q + 1], r.n - j0);
  }
}

template <int MR, int NP>
void w4f32_rows(const W4F32Args& r, size_t i0, size_t p0, size_t p1) {
  size_t p = p0;
  for (; p + NP <= p1; p += NP) w4f32_tile<MR, NP>(r, i0, p);
  for (; p < p1; ++p) w4f32_tile<MR, 1>(r, i0, p);
}

void w4a32_linear_2x32__avx2(const W4F32Args& r, size_t m, size_t p0, size_t p1) {
  size_t i = 0;
  for (; i + 2 <= m; i += 2) w4f32_rows<2, 2>(r, i, p0, p1);
  if (i < m) w4f32_rows<1, 2>(r, i, p0, p1);
}

}  // namespace

extern const Int4Kernels kInt4Kernels_avx2 = {w4a8_linear_4x16__avx2, w4a32_linear_2x32__avx2,
                                              "w4a8_linear_4x16__avx2", "w4a32_linear_2x32__avx2"};

}  // namespace detail
}  // namespace qgemm
