// AVX2 microkernel, 4x16 tile, K in groups of 4 (the generic packed-B layout of ukernel.hpp),
// exact for every input. vpmaddubsw adds two u8*s8 products into a saturating int16, which is
// wrong for e.g. 255*127 + 255*127; so the kernel uses it only on K blocks whose A bytes are all
// <= 127 (then |a0*b0 + a1*b1| <= 127*128*2 < 32768 for any weights), checked per block at run
// time, and a widening loop elsewhere: A zero-extended and B sign-extended to int16, vpmaddwd.
// Both loops need two multiply uops per 32 multiply-adds; the widening one pays extra shuffles.
// Which loop ran is counted in x86/exact_path_counts.hpp.
#include <cstring>

#include "ukernel.hpp"
#include "x86/exact_path_counts.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"

namespace qgemm {
namespace detail {
namespace {

// Tile 4x16: 8 int32 accumulators for the fast loop, and the widening loop fits two rows
// (8 pair accumulators + 4 widened B vectors) in the 16 ymm registers per pass. Chosen over
// 6x16 and 4x8 by measurement on AMD EPYC (Zen 3, family 25 model 1), see docs/notes/issue-5.md.
constexpr size_t kMR = 4, kNR = 16, kKR = 4, kNV = kNR / 8;
// K block (in groups of 4) over which one loop is chosen: small enough that one activation
// byte >= 128 costs little, large enough that the check (one load per 32 A bytes) is noise.
constexpr size_t kBlockGroups = 32;

#define QGEMM_INLINE inline __attribute__((always_inline))

QGEMM_INLINE int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// True when every byte of rows [0, M) of A in K groups [g0, g1) is <= 127.
template <size_t M>
QGEMM_INLINE bool block_is_7bit(const uint8_t* a, size_t ars, size_t aks, size_t g0, size_t g1) {
  __m256i any = _mm256_setzero_si256();
  uint32_t rest = 0;
  if (aks == kKR) {  // A in place: each row's block is contiguous
    const size_t len = (g1 - g0) * kKR;
    for (size_t i = 0; i < M; ++i) {
      const uint8_t* r = a + i * ars + g0 * kKR;
      size_t x = 0;
      for (; x + 32 <= len; x += 32)
        any = _mm256_or_si256(any, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x)));
      for (; x < len; x += 4) rest |= static_cast<uint32_t>(load4(r + x));
    }
  } else if (M == kMR && ars == kKR) {  // full packed panel: the block is contiguous
    const uint8_t* r = a + g0 * aks;
    const size_t len = (g1 - g0) * aks;
    size_t x = 0;
    for (; x + 32 <= len; x += 32)
      any = _mm256_or_si256(any, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x)));
    for (; x < len; x += 4) rest |= static_cast<uint32_t>(load4(r + x));
  } else {  // partial packed panel: only rows < M
    for (size_t g = g0; g < g1; ++g)
      for (size_t i = 0; i < M; ++i) rest |= static_cast<uint32_t>(load4(a + i * ars + g * aks));
  }
  return (_mm256_movemask_epi8(any) | (rest & 0x80808080u)) == 0;
}

// vpmaddubsw + vpmaddwd(1): only for blocks that block_is_7bit() accepted.
template <size_t M>
QGEMM_INLINE void fast_block(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                             __m256i (&acc)[kMR][kNV]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t g = g0; g < g1; ++g) {
    const int8_t* bg = b + g * kNR * kKR;
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 32));
    for (size_t i = 0; i < M; ++i) {
      const __m256i av = _mm256_set1_epi32(load4(a + i * ars + g * aks));
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones));
    }
  }
}

// Exact for any bytes: R (1 or 2) rows starting at `a`, results added into out[0..R).
// B column j's four int8 of a group widen to four int16; the four u8 of A widen and repeat, so
// vpmaddwd leaves two int32 partial sums per column, folded by vphaddd at the end of the block.
template <size_t R>
QGEMM_INLINE void exact_rows(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                             __m256i (*out)[kNV]) {
  const __m256i widen = _mm256_setr_epi8(0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1,  //
                                         0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1);
  __m256i pacc[R][2 * kNV];
  for (size_t r = 0; r < R; ++r)
    for (size_t q = 0; q < 2 * kNV; ++q) pacc[r][q] = _mm256_setzero_si256();
  for (size_t g = g0; g < g1; ++g) {
    const int8_t* bg = b + g * kNR * kKR;
    __m256i x[2 * kNV];
    for (size_t q = 0; q < 2 * kNV; ++q)
      x[q] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + 16 * q)));
    for (size_t r = 0; r < R; ++r) {
      const __m256i av = _mm256_shuffle_epi8(_mm256_set1_epi32(load4(a + r * ars + g * aks)), widen);
      for (size_t q = 0; q < 2 * kNV; ++q) pacc[r][q] = _mm256_add_epi32(pacc[r][q], _mm256_madd_epi16(av, x[q]));
    }
  }
  for (size_t r = 0; r < R; ++r)
    for (size_t v = 0; v < kNV; ++v) {
      // hadd gives columns [0 1 4 5 | 2 3 6 7]; the qword permute puts them in order.
      const __m256i h = _mm256_hadd_epi32(pacc[r][2 * v], pacc[r][2 * v + 1]);
      out[r][v] = _mm256_add_epi32(out[r][v], _mm256_permute4x64_epi64(h, 0xD8));
    }
}

template <size_t M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams* p, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  const size_t groups = kp / kKR;
  uint64_t fast = 0, exact = 0;
  for (size_t g0 = 0; g0 < groups; g0 += kBlockGroups) {
    const size_t g1 = groups - g0 < kBlockGroups ? groups : g0 + kBlockGroups;
    if (block_is_7bit<M>(a, ars, aks, g0, g1)) {
      fast_block<M>(a, ars, aks, b, g0, g1, acc);
      ++fast;
    } else {
      for (size_t i = 0; i + 2 <= M; i += 2) exact_rows<2>(a + i * ars, ars, aks, b, g0, g1, acc + i);
      if (M % 2) exact_rows<1>(a + (M - 1) * ars, ars, aks, b, g0, g1, acc + (M - 1));
      ++exact;
    }
  }
  g_x86_path_counts.fast_blocks += fast;
  g_x86_path_counts.exact_blocks += exact;
  ymm::store_tile<kMR, kNV>(acc, M, n, row_sum, c, c_stride, *p, j0);
}

void u8s8_gemm_4x16c4__avx2(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                            size_t a_kgroup_stride, const int8_t* b, const int32_t* row_sum, void* c,
                            size_t c_row_stride, const StageParams* p, size_t j0) {
  switch (m) {
    case 1: return tile<1>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c, c_row_stride, p, j0);
    case 2: return tile<2>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c, c_row_stride, p, j0);
    case 3: return tile<3>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c, c_row_stride, p, j0);
    default: return tile<4>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c, c_row_stride, p, j0);
  }
}

}  // namespace

// max_m_unpacked = 16: for a few rows A is read in place (K % 4 == 0), saving the packing pass;
// every B panel is still streamed once per call because all row tiles of a panel run back to back.
extern const GemmConfig kGemmConfigAvx2 = {
    Isa::avx2, "u8s8_gemm_4x16c4__avx2", kMR, kNR, kKR, u8s8_gemm_4x16c4__avx2,
    /*max_m_unpacked=*/16, nullptr, nullptr};

}  // namespace detail
}  // namespace qgemm
