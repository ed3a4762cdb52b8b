// The A packer of the AVX2 4x16c4 GEMM kernel (GemmConfig::pack_a_tile, used above 4 rows):
// checks each K block of a 4-row tile for bytes >= 128 once per MC block and stores it in the
// form its loop reads (layout in u8s8_gemm_4x16c4_common.hpp): bytes for the vpmaddubsw loop,
// int16 for the exact loop.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "x86/avx2/u8s8_gemm_4x16c4_common.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace avx2_gemm {
namespace {

// Byte (i, kk) of the tile's rows, `pad` outside rows [0, m) and K [0, k).
QGEMM_INLINE uint8_t a_at(const uint8_t* a, size_t lda, size_t m, size_t k, size_t i, size_t kk, uint8_t pad = 0) {
  return i < m && kk < k ? a[i * lda + kk] : pad;
}

// The sign mode's offset for rows [0, m) and K [0, k) (see sign_pair): 128 unless a vpmaddubsw
// pair (K values 2t, 2t+1, both < k) is (0, 0), else 127 unless one is (255, 255); 0 = neither.
// A pair is one 16-bit word of the row, so both tests are word compares.
int sign_offset(size_t m, size_t k, const uint8_t* a, size_t lda) {
  __m256i z = _mm256_setzero_si256(), f = z;
  const __m256i ones = _mm256_set1_epi8(-1);
  bool zero_pair = false, ff_pair = false;
  for (size_t i = 0; i < m; ++i) {
    const uint8_t* r = a + i * lda;
    size_t x = 0;
    for (; x + 32 <= k; x += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x));
      z = _mm256_or_si256(z, _mm256_cmpeq_epi16(v, _mm256_setzero_si256()));
      f = _mm256_or_si256(f, _mm256_cmpeq_epi16(v, ones));
    }
    for (; x + 2 <= k; x += 2) {
      zero_pair |= r[x] == 0 && r[x + 1] == 0;
      ff_pair |= r[x] == 255 && r[x + 1] == 255;
    }
  }
  zero_pair |= !_mm256_testz_si256(z, z);
  ff_pair |= !_mm256_testz_si256(f, f);
  return !zero_pair ? 128 : !ff_pair ? 127 : 0;
}

// The sign-mode tile (layout in u8s8_gemm_4x16c4_common.hpp): s and x for every K value, the
// row constants in the tile info. Rows past m and K past k as a = o (s = 0, x = 0x80, no term).
// m = 1: the one-row layout (s and x of row 0 only, 8 bytes per group).
void pack_sign(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, int o, uint8_t* dst) {
  const size_t groups = kp / kKR;
  const bool one_row = m == 1;
  const size_t gb = one_row ? kSign1GroupBytes : kSignGroupBytes, x_at = one_row ? kKR : kMR * kKR;
  uint8_t* out = dst + packed_header(kp);
  uint32_t c[kMR] = {0, 0, 0, 0};  // modular, like the sums they correct
  size_t g = 0;
  {  // 4 groups of the 4 rows per step, vectorized as pack_a_tile's fast blocks; rows >= m as o
    const __m128i vo = _mm_set1_epi8(static_cast<char>(o)), m128 = _mm_set1_epi8(-128);
    const __m128i odd = _mm_set1_epi16(static_cast<short>(0xFF00)), x7f = _mm_set1_epi8(0x7F);
    const __m128i one8 = _mm_set1_epi8(1), one16 = _mm_set1_epi16(1);
    __m128i sum_s[kMR], sum_neg[kMR];
    for (size_t i = 0; i < kMR; ++i) sum_s[i] = sum_neg[i] = _mm_setzero_si128();
    for (; (g + 4) * kKR <= k; g += 4) {
      __m128i sv[kMR], xv[kMR];
      for (size_t i = 0; i < kMR; ++i) {
        const __m128i v = i < m ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + g * kKR)) : vo;
        const __m128i y = _mm_sub_epi8(v, vo);  // a - o, +128 wrapping to -128
        const __m128i f = _mm_cmpeq_epi8(y, m128);  // forced: s = -128 (abs keeps it)
        const __m128i neg = _mm_andnot_si128(_mm_slli_epi16(f, 8), odd);  // second of a pair, partner not forced
        const __m128i ay = _mm_abs_epi8(y);
        const __m128i sgn = _mm_sub_epi8(_mm_xor_si128(ay, neg), neg);
        __m128i pos = _mm_cmpeq_epi8(sgn, y);  // s = y
        if (o == 127) pos = _mm_andnot_si128(f, pos);  // a = 255: y = +128, s = -128 = -y
        sv[i] = sgn;
        xv[i] = _mm_xor_si128(x7f, pos);
        sum_s[i] = _mm_add_epi32(sum_s[i], _mm_madd_epi16(_mm_maddubs_epi16(one8, sgn), one16));
        sum_neg[i] = _mm_add_epi32(sum_neg[i], _mm_madd_epi16(_mm_maddubs_epi16(one8, _mm_andnot_si128(pos, sgn)), one16));
      }
      if (one_row) {  // groups g..g+3 as [s][x] pairs of dwords
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + g * gb), _mm_unpacklo_epi32(sv[0], xv[0]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (g + 2) * gb), _mm_unpackhi_epi32(sv[0], xv[0]));
        continue;
      }
      for (int part = 0; part < 2; ++part) {
        const __m128i* r = part ? xv : sv;
        const __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]), t1 = _mm_unpacklo_epi32(r[2], r[3]);
        const __m128i t2 = _mm_unpackhi_epi32(r[0], r[1]), t3 = _mm_unpackhi_epi32(r[2], r[3]);
        uint8_t* q = out + g * kSignGroupBytes + part * kMR * kKR;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + kSignGroupBytes), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 2 * kSignGroupBytes), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 3 * kSignGroupBytes), _mm_unpackhi_epi64(t2, t3));
      }
    }
    for (size_t i = 0; i < kMR; ++i) {  // c = -128 * sum(s) + sum(s where s = -y)
      alignas(16) int32_t ls[4], ln[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(ls), sum_s[i]);
      _mm_store_si128(reinterpret_cast<__m128i*>(ln), sum_neg[i]);
      for (int t = 0; t < 4; ++t)
        c[i] += static_cast<uint32_t>(ln[t]) - 128u * static_cast<uint32_t>(ls[t]);
    }
  }
  for (; g < groups; ++g)  // partial tiles and K tails, element by element
    for (size_t i = 0; i < (one_row ? 1 : kMR); ++i)
      for (size_t t = 0; t < kKR; t += 2) {
        const size_t kk = g * kKR + t;
        const uint8_t a0 = a_at(a, lda, m, k, i, kk, o), a1 = a_at(a, lda, m, k, i, kk + 1, o);
        const SignPair sp = sign_pair(a0, a1, o);
        uint8_t* q = out + g * gb + i * kKR + t;
        q[0] = static_cast<uint8_t>(sp.s0);
        q[1] = static_cast<uint8_t>(sp.s1);
        q[x_at] = sp.x0;
        q[x_at + 1] = sp.x1;
        c[i] += static_cast<uint32_t>(sp.c);
      }
  dst[0] = one_row ? 2 : 1;
  dst[1] = static_cast<uint8_t>(o);
  std::memcpy(dst + 16, c, sizeof c);
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

// No K blocks: on a 512 KiB L2 (Zen 1, where the default KC splits K = 11008 in two) they made
// every M slower, and B streams from L3 and memory fast enough for this loop unblocked
// (docs/kernel-notes.md#avx2). MC stays sized by mc_for_k for the whole K.
size_t kc_for_l2(size_t) { return SIZE_MAX; }

void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) {
  const size_t groups = kp / kKR, blocks = packed_blocks(kp);
  uint8_t* flags = dst + kTileInfo;
  uint8_t* out = dst + packed_header(kp);
  size_t exact_blocks = 0;
  for (size_t blk = 0; blk < blocks; ++blk) {
    const size_t g0 = blk * kBlockGroups, g1 = size_min(groups, g0 + kBlockGroups);
    const size_t k0 = g0 * kKR, k1 = size_min(k, g1 * kKR);
    bool exact;
    if (k1 - k0 == kBlockGroups * kKR) {
      __m256i any = _mm256_setzero_si256();
      for (size_t i = 0; i < m; ++i)
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
    exact_blocks += exact;
  }
  // Sign mode when at least half of the blocks need an exact loop: it runs every block, the
  // 7-bit ones at its speed instead of the fast loop's (docs/kernel-notes.md#avx2).
  dst[0] = 0;
  if (exact_blocks != 0 && 2 * exact_blocks >= blocks) {
    const int o = sign_offset(m, k, a, lda);
    if (o != 0) return pack_sign(m, k, kp, a, lda, o, dst);
  }
  // A one-row tile keeps row 0 alone (4 or 8 bytes per group, not 16 or 32).
  const bool one_row = m == 1;
  const size_t rows = one_row ? 1 : kMR;
  dst[2] = one_row ? 1 : 0;
  for (size_t blk = 0; blk < blocks; ++blk) {
    const size_t g0 = blk * kBlockGroups, g1 = size_min(groups, g0 + kBlockGroups);
    const size_t k0 = g0 * kKR, k1 = size_min(k, g1 * kKR);
    const bool full = k1 - k0 == kBlockGroups * kKR;  // rows >= m: zeros
    const bool exact = flags[blk] != 0;
    const __m128i zero = _mm_setzero_si128();
    auto row16 = [&](size_t i, size_t x) {
      return i < m ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + k0 + x)) : zero;
    };
    if (full && one_row) {  // row 0's block as it is, or widened
      if (!exact) {
        std::memcpy(out, a + k0, kBlockGroups * kKR);
        out += kBlockGroups * kFast1GroupBytes;
      } else {
        for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 32)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_cvtepu8_epi16(row16(0, x)));
      }
    } else if (full && !exact) {  // 4 groups of the 4 rows per step: a 4x4 transpose of dwords
      for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 64) {
        const __m128i r0 = row16(0, x), r1 = row16(1, x), r2 = row16(2, x), r3 = row16(3, x);
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
        for (size_t i = 0; i < kMR; ++i) w[i] = _mm256_cvtepu8_epi16(row16(i, x));
        const __m256i t0 = _mm256_unpacklo_epi64(w[0], w[1]), t1 = _mm256_unpacklo_epi64(w[2], w[3]);
        const __m256i t2 = _mm256_unpackhi_epi64(w[0], w[1]), t3 = _mm256_unpackhi_epi64(w[2], w[3]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(t0, t1, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), _mm256_permute2x128_si256(t2, t3, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64), _mm256_permute2x128_si256(t0, t1, 0x31));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 96), _mm256_permute2x128_si256(t2, t3, 0x31));
      }
    } else if (!exact) {  // partial rows or K: element by element, zero padded
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < rows; ++i)
          for (size_t t = 0; t < kKR; ++t) *out++ = a_at(a, lda, m, k, i, g * kKR + t);
    } else {
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < rows; ++i)
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
