// AVX-512BW microkernel (no VNNI): u8 x s8 -> exact int32, 8 rows x 32 columns, K in groups of
// 4 on the generic packed-B layout, every output stage fused in the store
// (kernels/x86/output_stage_zmm.hpp).
//
// Exact for every input. vpmaddubsw adds two u8*s8 products into a saturating int16, which
// overflows when A bytes are large (255*127*2 = 64770). A reaches the kernel packed by this
// file's pack_a_tile (GemmConfig::pack_a_tile; the driver never passes A in place here), which
// checks each chunk of 256 K values of a tile once per MC block:
//   - all bytes <= 127: |a0*b0 + a1*b1| <= 127*128*2 = 32512 for any s8 weights, so
//     vpmaddubsw + vpmaddwd(1) + vpaddd is exact ("maddubs" chunk, stored as bytes);
//   - otherwise the exact sequence: A split into zero-extended int16 pairs (a0,a2) and (a1,a3)
//     (done by the packer), B into sign-extended (b0,b2) and (b1,b3), two vpmaddwd
//     (|a*b + a*b| <= 65280, no saturation possible) and two vpaddd ("exact" chunk).
// Both paths leave the same int32 per column in the same lanes, so chunks mix freely; the
// kernel runs one loop per run of same-kind chunks. The choice is counted per chunk for the
// tests (kernels/path_counters.hpp).

#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_zmm.hpp"

namespace qgemm {
namespace detail {

namespace {

// Tile 8x32, chosen for the register budget of the exact path:
//   exact: 16 accumulators + 4 split B vectors + 2 A broadcasts + 2 products = 24 of 32 zmm;
//   maddubs: 16 accumulators + 2 B + 1 A + ones + 2 temporaries = 22.
// Per k-group of 4 (1024 multiply-adds):
//   maddubs path: 2 B loads, 8 vpbroadcastd, 16 vpmaddubsw + 16 vpmaddwd + 16 vpaddd;
//   exact path:   2 B loads + 6 shifts, 16 vpbroadcastd (A pre-split when packed),
//                 32 vpmaddwd + 32 vpaddd.
//   (as compiled by gcc 12: no spills in either loop of tile_packed).
// Both issue 32 multiplies per k-group; the exact one adds 22 simple ALU ops. On a core with
// two 512-bit multiply pipes and more 512-bit ALUs (Zen 4/5) it should stay near the maddubs
// path (~16 vs ~17.5 cycles); on Intel cores, where every 512-bit vector uop goes to port 0 or
// 5, it needs 70 uops against 48 (35 vs 24 cycles, at best 0.69x; measured figures in
// docs/kernel-notes.md#avx512bw). A wider tile does not fit the exact path's registers.
constexpr size_t kMR = 8, kNR = 32, kKR = 4;
constexpr int kNV = static_cast<int>(kNR / 16);
// K-groups per safety decision: 256 k.
constexpr size_t kChunk = 64;

// MC: rows whose u8 bytes fill 3/8 of L2, so a block packed all-exact (twice the bytes, see
// pack_a_tile) plus a 32 x kp B panel stays inside L2 (sized for the 1 MiB L2 of Skylake-X
// and Zen 4; measured on Sapphire Rapids, 2 MiB).
size_t mc_for_k(size_t kp, size_t l2_bytes) {
  const size_t rows = (l2_bytes / 8 * 3) / size_max(kp, 1);
  return size_max(kMR, size_min(rows, 1024));
}

inline __m512i broadcast4(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm512_set1_epi32(w);
}

// A packed by pack_a_tile, one tile:
//   [one flag byte per chunk of 64 k-groups (1 = exact), padded to 64 bytes]
//   then the chunks in order, a chunk of g k-groups being
//     safe   (every A byte <= 127): [g][8 rows][4 u8]                       32 bytes per group
//     unsafe (any byte >= 128):     [g][8 rows: lo = (a0, a2) as 2 x u16]
//                                      [8 rows: hi = (a1, a3) as 2 x u16]   64 bytes per group
// Rows past m and K past k are zeros. A run of consecutive chunks of one kind is one stretch.
// A one-row tile (m = 1, read by tile_packed<1>) holds row 0 alone: safe [g][4 u8], 4 bytes per
// group; unsafe [g][lo][hi], 8 bytes per group. In the eight-row layout A was a quarter (safe)
// or half (unsafe) of B's bytes and left L1 beside the B stream at large K: 1x768x3072 ran at
// 0.88-0.92x the GOPS of 1x3072x768, the same weights (docs/kernel-notes.md#avx512bw).
size_t packed_chunks(size_t kp) { return (kp / kKR + kChunk - 1) / kChunk; }
size_t packed_header(size_t kp) { return (packed_chunks(kp) + 63) / 64 * 64; }
size_t a_tile_bytes(size_t kp) { return packed_header(kp) + kp / kKR * 64; }

void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) {
  const size_t groups = kp / kKR, chunks = packed_chunks(kp);
  uint8_t* out = dst + packed_header(kp);
  const __m512i low_bytes = _mm512_set1_epi32(0x00FF00FF);
  // Dword d of a transposed vector is (group g + d / 8, row d % 8); rows 0-3 come from the first
  // source vector (row r's 16 bytes in its 128-bit lane r), rows 4-7 from the second.
  alignas(64) int32_t idx[2][16];
  for (int h = 0; h < 2; ++h)
    for (int d = 0; d < 16; ++d) {
      const int g = 2 * h + d / 8, r = d % 8;
      idx[h][d] = r < 4 ? r * 4 + g : 16 + (r - 4) * 4 + g;
    }
  const __m512i idx0 = _mm512_load_si512(idx[0]), idx1 = _mm512_load_si512(idx[1]);
  for (size_t ch = 0; ch < chunks; ++ch) {
    const size_t g0 = ch * kChunk, g1 = size_min(groups, g0 + kChunk);
    const size_t k0 = g0 * kKR, k1 = size_min(k, g1 * kKR);
    // Vectors over whole 64-byte (check) and 16-byte (transpose) steps of the chunk's K, bytes
    // past k in the last chunk one by one; rows >= m read as zeros, never loaded.
    const size_t len = k1 - k0;
    __m512i any = _mm512_setzero_si512();
    uint8_t tail = 0;
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* row = a + i * lda + k0;
      size_t x = 0;
      for (; x + 64 <= len; x += 64) any = _mm512_or_si512(any, _mm512_loadu_si512(row + x));
      for (; x < len; ++x) tail |= row[x];
    }
    const bool exact = _mm512_movepi8_mask(any) != 0 || (tail & 0x80) != 0;
    dst[ch] = exact;
    if (m == 1) {  // the one-row layout: 4 groups per step, then the last groups zero padded
      const __m128i lo_bytes = _mm_set1_epi32(0x00FF00FF);
      size_t x = 0;
      for (; x + 16 <= len; x += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + k0 + x));
        if (!exact) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
          out += 16;
        } else {
          const __m128i lo = _mm_and_si128(v, lo_bytes), hi = _mm_srli_epi16(v, 8);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi32(lo, hi));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_unpackhi_epi32(lo, hi));
          out += 32;
        }
      }
      for (size_t g = g0 + x / kKR; g < g1; ++g) {
        uint32_t w = 0;
        for (size_t t = 0; t < kKR; ++t)
          if (g * kKR + t < k) w |= static_cast<uint32_t>(a[g * kKR + t]) << (8 * t);
        if (!exact) {
          std::memcpy(out, &w, 4);
          out += 4;
        } else {
          const uint32_t lo = w & 0x00FF00FFu, hi = (w >> 8) & 0x00FF00FFu;
          std::memcpy(out, &lo, 4);
          std::memcpy(out + 4, &hi, 4);
          out += 8;
        }
      }
      continue;
    }
    size_t x = 0;
    for (; x + 16 <= len; x += 16) {  // 4 k-groups of the 8 rows: an 8x4 transpose of dwords
      __m128i q[kMR];
      for (size_t i = 0; i < kMR; ++i)
        q[i] = i < m ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + k0 + x)) : _mm_setzero_si128();
      const __m512i v0 = _mm512_inserti32x4(
          _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(q[0]), q[1], 1), q[2], 2), q[3], 3);
      const __m512i v1 = _mm512_inserti32x4(
          _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(q[4]), q[5], 1), q[6], 2), q[7], 3);
      const __m512i t0 = _mm512_permutex2var_epi32(v0, idx0, v1);  // groups 0, 1 of the step
      const __m512i t1 = _mm512_permutex2var_epi32(v0, idx1, v1);  // groups 2, 3
      if (!exact) {
        _mm512_storeu_si512(out, t0);
        _mm512_storeu_si512(out + 64, t1);
        out += 128;
      } else {
        const __m512i ts[2] = {t0, t1};
        for (int u = 0; u < 2; ++u) {
          const __m512i lo = _mm512_and_si512(ts[u], low_bytes), hi = _mm512_srli_epi16(ts[u], 8);
          _mm512_storeu_si512(out, _mm512_shuffle_i32x4(lo, hi, 0x44));
          _mm512_storeu_si512(out + 64, _mm512_shuffle_i32x4(lo, hi, 0xEE));
          out += 128;
        }
      }
    }
    // The rest of the chunk's groups (only in the last chunk), zero padded past k.
    for (size_t g = g0 + x / kKR; g < g1; ++g) {
      uint32_t w[kMR];
      for (size_t i = 0; i < kMR; ++i) {
        w[i] = 0;
        for (size_t t = 0; t < kKR; ++t) {
          const size_t kk = g * kKR + t;
          if (i < m && kk < k) w[i] |= static_cast<uint32_t>(a[i * lda + kk]) << (8 * t);
        }
      }
      if (!exact) {
        std::memcpy(out, w, sizeof w);
        out += 32;
      } else {
        for (size_t i = 0; i < kMR; ++i) {
          const uint32_t lo = w[i] & 0x00FF00FFu, hi = (w[i] >> 8) & 0x00FF00FFu;
          std::memcpy(out + 4 * i, &lo, 4);
          std::memcpy(out + 32 + 4 * i, &hi, 4);
        }
        out += 64;
      }
    }
  }
}

// Rows [0, M) of a tile packed by pack_a_tile. Accumulators are named variables, not an array:
// GCC 12 keeps an array of __m512i in memory across the k loop, named ones in registers.
template <int M>
void tile_packed(size_t n, size_t kp, const uint8_t* a, const int8_t* b, const int32_t* row_sum, void* c,
                 size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  __m512i c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
  const __m512i ones = _mm512_set1_epi16(1);
  const size_t groups = kp / kKR, chunks = packed_chunks(kp);
  const uint8_t* flags = a;
  const uint8_t* ap = a + packed_header(kp);
  // B is prefetched 4 KiB ahead (32 k-groups; near the end of a panel that is the next panel,
  // which follows in memory), so with few row tiles per panel (small M, weights from DRAM) the
  // next bytes stream in while these compute. 4 KiB rather than none or a whole panel ahead
  // (which no longer fits L1 next to the current one): chosen by measurement, see
  // docs/kernel-notes.md#avx512bw. A prefetch past the last panel touches nothing and never
  // faults.
  constexpr size_t pfd = 4096;
  // A's bytes per group and the offset of the hi pairs (the one-row layout at M = 1).
  constexpr size_t safe_gb = M == 1 ? kKR : kMR * kKR, exact_gb = M == 1 ? 2 * kKR : 2 * kMR * 4;
  constexpr size_t hi_at = M == 1 ? 4 : 32;
  uint64_t n_maddubs = 0, n_exact = 0;
  for (size_t ch = 0, g0 = 0; ch < chunks;) {
    const uint8_t kind = flags[ch];
    size_t end = ch + 1;
    while (end < chunks && flags[end] == kind) ++end;
    const size_t g1 = size_min(groups, end * kChunk), count = g1 - g0;
    const int8_t* bp = b + g0 * kNR * kKR;
    if (!kind) {
      n_maddubs += end - ch;
      for (size_t g = 0; g < count; ++g, ap += safe_gb, bp += kNR * kKR) {
        _mm_prefetch(reinterpret_cast<const char*>(bp + pfd), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bp + pfd + 64), _MM_HINT_T0);
        const __m512i b0 = _mm512_loadu_si512(bp);
        const __m512i b1 = _mm512_loadu_si512(bp + 64);
#define QGEMM_ROW(i)                                                                             \
  if constexpr (M > i) {                                                                         \
    const __m512i ai = broadcast4(ap + 4 * i);                                                   \
    c##i##0 = _mm512_add_epi32(c##i##0, _mm512_madd_epi16(_mm512_maddubs_epi16(ai, b0), ones)); \
    c##i##1 = _mm512_add_epi32(c##i##1, _mm512_madd_epi16(_mm512_maddubs_epi16(ai, b1), ones)); \
  }
        QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5) QGEMM_ROW(6) QGEMM_ROW(7)
#undef QGEMM_ROW
      }
    } else {
      n_exact += end - ch;
      for (size_t g = 0; g < count; ++g, ap += exact_gb, bp += kNR * kKR) {
        _mm_prefetch(reinterpret_cast<const char*>(bp + pfd), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bp + pfd + 64), _MM_HINT_T0);
        const __m512i w0 = _mm512_loadu_si512(bp);
        const __m512i w1 = _mm512_loadu_si512(bp + 64);
        const __m512i be0 = _mm512_srai_epi16(_mm512_slli_epi16(w0, 8), 8);  // (b0, b2)
        const __m512i bo0 = _mm512_srai_epi16(w0, 8);                        // (b1, b3)
        const __m512i be1 = _mm512_srai_epi16(_mm512_slli_epi16(w1, 8), 8);
        const __m512i bo1 = _mm512_srai_epi16(w1, 8);
#define QGEMM_ROW(i)                                                                              \
  if constexpr (M > i) {                                                                          \
    const __m512i al = broadcast4(ap + 4 * i);                                                    \
    const __m512i ah = broadcast4(ap + hi_at + 4 * i);                                            \
    c##i##0 = _mm512_add_epi32(_mm512_add_epi32(c##i##0, _mm512_madd_epi16(al, be0)), _mm512_madd_epi16(ah, bo0)); \
    c##i##1 = _mm512_add_epi32(_mm512_add_epi32(c##i##1, _mm512_madd_epi16(al, be1)), _mm512_madd_epi16(ah, bo1)); \
  }
        QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5) QGEMM_ROW(6) QGEMM_ROW(7)
#undef QGEMM_ROW
      }
    }
    ch = end;
    g0 = g1;
  }
  count_path(Path::avx512bw_maddubs_chunk, n_maddubs);
  count_path(Path::avx512bw_exact_chunk, n_exact);
  const __m512i all[8][kNV] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                               {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  __m512i out[M][kNV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kNV; ++v) out[i][v] = all[i][v];
  zmm::store_tile<M, kNV>(out, n, row_sum, c, c_stride, p, t, j0);
}

void u8s8_gemm_8x32c4__avx512bw(size_t m, size_t n, size_t kp, const uint8_t* a,
                                size_t /*a_row_stride: always 0*/, size_t /*a_kgroup_stride*/,
                                const void* b_panel, const int32_t* row_sum, void* c, size_t c_row_stride,
                                const StageParams* params, const TileArgs* targs, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  with_rows<kMR>(m, [&](auto rows) {
    tile_packed<decltype(rows)::value>(n, kp, a, b, row_sum, c, c_row_stride, *params, *targs, j0);
  });
}

}  // namespace

// A is always packed, by pack_a_tile (max_m_unpacked = 0): the tile computes only rows [0, m),
// so one packed row costs K bytes of copying, little next to streaming B even at M = 1.
extern constexpr GemmConfig kGemmConfig_avx512bw =
    GemmConfig::tile(Isa::avx512bw, "u8s8_gemm_8x32c4__avx512bw", kMR, kNR, kKR, u8s8_gemm_8x32c4__avx512bw,
                     &kWeightFormat_s8)
        .with_mc(mc_for_k)
        .with_kc_unit(kChunk * kKR)  // the saturation check's chunk
        .with_a_packer(a_tile_bytes, pack_a_tile)
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
