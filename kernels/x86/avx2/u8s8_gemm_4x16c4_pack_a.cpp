// The A packer of the AVX2 4x16c4 GEMM kernel (GemmConfig::pack_a_tile, used above 4 rows):
// checks each K block of a 4-row tile for bytes >= 128 once per MC block and stores it in the
// form its loop reads (layout in u8s8_gemm_4x16c4_common.hpp): bytes for the vpmaddubsw loop,
// int16 for the exact loop.
#include <algorithm>
#include <cstring>

#include "x86/avx2/u8s8_gemm_4x16c4_common.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace avx2_gemm {
namespace {

// Byte (i, kk) of the tile's rows, zero outside rows [0, m) and K [0, k).
QGEMM_INLINE uint8_t a_at(const uint8_t* a, size_t lda, size_t m, size_t k, size_t i, size_t kk) {
  return i < m && kk < k ? a[i * lda + kk] : 0;
}

}  // namespace

size_t a_tile_bytes(size_t kp) { return packed_header(kp) + kp / kKR * kExactGroupBytes; }

// MC: rows of A whose u8 bytes fill half of L2, so the block packed for the exact loop (int16,
// twice that) still fits L2; chosen on Zen 3 (512 KiB L2), where other sizes gained nothing
// (docs/kernel-notes.md#avx2).
size_t mc_for_k(size_t kp, size_t l2_bytes) {
  const size_t rows = (l2_bytes / 2) / size_max(kp, 1);
  return size_max(kMR, size_min(rows, 1024));
}

void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) {
  const size_t groups = kp / kKR, blocks = packed_blocks(kp);
  uint8_t* flags = dst;
  uint8_t* out = dst + packed_header(kp);
  for (size_t blk = 0; blk < blocks; ++blk) {
    const size_t g0 = blk * kBlockGroups, g1 = size_min(groups, g0 + kBlockGroups);
    const size_t k0 = g0 * kKR, k1 = size_min(k, g1 * kKR);
    const bool full = m == kMR && k1 - k0 == kBlockGroups * kKR;
    bool exact;
    if (full) {
      __m256i any = _mm256_setzero_si256();
      for (size_t i = 0; i < kMR; ++i)
        for (size_t x = 0; x < kBlockGroups * kKR; x += 32)
          any = _mm256_or_si256(any, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i * lda + k0 + x)));
      exact = _mm256_movemask_epi8(any) != 0;
    } else {
      uint8_t any = 0;
      for (size_t i = 0; i < m; ++i)
        for (size_t kk = k0; kk < k1; ++kk) any |= a[i * lda + kk];
      exact = (any & 0x80) != 0;
    }
    flags[blk] = exact;
    if (full && !exact) {  // 4 groups of the 4 rows per step: a 4x4 transpose of dwords
      for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 64) {
        const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + k0 + x));
        const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + lda + k0 + x));
        const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * lda + k0 + x));
        const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 3 * lda + k0 + x));
        const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), _mm_unpackhi_epi64(t2, t3));
      }
    } else if (full) {  // widened, then a 4x4 transpose of qwords
      for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 128) {
        __m256i w[kMR];
        for (size_t i = 0; i < kMR; ++i)
          w[i] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + k0 + x)));
        const __m256i t0 = _mm256_unpacklo_epi64(w[0], w[1]), t1 = _mm256_unpacklo_epi64(w[2], w[3]);
        const __m256i t2 = _mm256_unpackhi_epi64(w[0], w[1]), t3 = _mm256_unpackhi_epi64(w[2], w[3]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(t0, t1, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), _mm256_permute2x128_si256(t2, t3, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64), _mm256_permute2x128_si256(t0, t1, 0x31));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 96), _mm256_permute2x128_si256(t2, t3, 0x31));
      }
    } else if (!exact) {  // partial rows or K: element by element, zero padded
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < kMR; ++i)
          for (size_t t = 0; t < kKR; ++t) *out++ = a_at(a, lda, m, k, i, g * kKR + t);
    } else {
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < kMR; ++i)
          for (size_t t = 0; t < kKR; ++t, out += 2) {
            const int16_t v = a_at(a, lda, m, k, i, g * kKR + t);
            std::memcpy(out, &v, 2);
          }
    }
  }
}

}  // namespace avx2_gemm
}  // namespace detail
}  // namespace qgemm
