// AVX-512BW microkernel (no VNNI): u8 x s8 -> exact int32, 8 rows x 32 columns, K in groups of
// 4 on the generic packed-B layout, every output stage fused in the store
// (kernels/x86/output_stage_zmm.hpp).
//
// Exact for every input. vpmaddubsw adds two u8*s8 products into a saturating int16, which
// overflows when A bytes are large (255*127*2 = 64770). The kernel walks K in chunks and, per
// chunk of its tile, checks the A bytes it is about to use:
//   - all <= 127: |a0*b0 + a1*b1| <= 127*128*2 = 32512 for any s8 weights, so
//     vpmaddubsw + vpmaddwd(1) + vpaddd is exact ("maddubs" chunk);
//   - otherwise the exact sequence: A split into zero-extended int16 pairs (a0,a2) and (a1,a3),
//     B into sign-extended (b0,b2) and (b1,b3), two vpmaddwd (|a*b + a*b| <= 65280, no
//     saturation possible) and two vpaddd ("exact" chunk).
// Both paths leave the same int32 per column in the same lanes, so chunks mix freely. The
// choice is counted in avx512bw::g_path_counters (path_counters.hpp) for the tests.
#include <algorithm>
#include <cstring>

#include "ukernel.hpp"
#include "x86/avx512bw/path_counters.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_zmm.hpp"

namespace qgemm {
namespace detail {

namespace avx512bw {
PathCounters g_path_counters;
}  // namespace avx512bw

namespace {

// Tile 8x32, chosen for the register budget of the exact path (not measured: no AVX-512 here):
//   exact: 16 accumulators + 4 split B vectors + 2 A broadcasts + 2 products = 24 of 32 zmm;
//   maddubs: 16 accumulators + 2 B + 1 A + ones + 2 temporaries = 22.
// Per k-group of 4 (1024 multiply-adds):
//   maddubs path: 2 B loads, 8 vpbroadcastd, 16 vpmaddubsw + 16 vpmaddwd + 16 vpaddd;
//   exact path:   2 B loads + 6 shifts, 16 vpbroadcastd (A pre-split once per chunk),
//                 32 vpmaddwd + 32 vpaddd.
//   (as compiled by gcc 12: 69 and 91 instructions per k-group, no spills).
// Both issue 32 multiplies per k-group; the exact one adds 22 simple ALU ops, so on a core
// with two 512-bit multiply pipes and four vector ALUs (Zen 4/5) it is expected near the
// maddubs path (~16 vs ~17.5 cycles), on Skylake-X-like cores (two 512-bit pipes for all)
// ~1.45x slower (24 vs 35 cycles). A wider tile does not fit the exact path's registers.
constexpr size_t kMR = 8, kNR = 32, kKR = 4;
constexpr int kNV = static_cast<int>(kNR / 16);
// K-groups per safety decision: 256 k. The pre-split A of a chunk (2 x 2 KiB) stays in L1.
constexpr size_t kChunk = 64;

// MC: an MC x kp block of packed A plus one 32 x kp B panel in 3/4 of a 1 MiB L2 (Zen 5,
// Skylake-X); not tuned by measurement.
size_t mc_for_k(size_t kp) {
  const size_t budget = 768 * 1024 / (kp ? kp : 1);
  const size_t rows = budget > kNR + kMR ? budget - kNR : kMR;
  return std::max(kMR, std::min<size_t>(rows, 1024) / kMR * kMR);
}

inline __m512i broadcast4(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm512_set1_epi32(w);
}

// Splits rows [0, M) of k-groups [g0, g0 + gc) of A into zero-extended int16 pairs,
// lo[g*8 + i] = (a0, a2) and hi[g*8 + i] = (a1, a3), and says whether every byte is <= 127.
template <int M>
bool split_chunk(const uint8_t* a, size_t a_row_stride, size_t a_kgroup_stride, size_t g0,
                 size_t gc, int32_t* lo, int32_t* hi) {
  if (a_row_stride == kKR && a_kgroup_stride == kMR * kKR) {
    // Packed panel [g][8 rows][4 bytes]: two k-groups per 64-byte load; rows >= M are masked
    // off (never read).
    const uint8_t* src = a + g0 * a_kgroup_stride;
    const uint32_t rows = (1u << M) - 1u;
    const __m512i low_bytes = _mm512_set1_epi32(0x00FF00FF);
    __m512i any = _mm512_setzero_si512();
    for (size_t g = 0; g < gc; g += 2) {
      const uint32_t k = g + 1 < gc ? (rows | rows << 8) : rows;
      const __m512i v = _mm512_maskz_loadu_epi32(_cvtu32_mask16(k), src + g * kMR * kKR);
      any = _mm512_or_si512(any, v);
      _mm512_storeu_si512(lo + g * kMR, _mm512_and_si512(v, low_bytes));
      _mm512_storeu_si512(hi + g * kMR, _mm512_srli_epi16(v, 8));
    }
    return _mm512_movepi8_mask(any) == 0;
  }
  uint32_t any = 0;  // any other strides (e.g. A in place): four bytes at a time
  for (size_t g = 0; g < gc; ++g)
    for (int i = 0; i < M; ++i) {
      uint32_t w;
      std::memcpy(&w, a + static_cast<size_t>(i) * a_row_stride + (g0 + g) * a_kgroup_stride, sizeof w);
      any |= w;
      lo[g * kMR + i] = static_cast<int32_t>(w & 0x00FF00FFu);
      hi[g * kMR + i] = static_cast<int32_t>((w >> 8) & 0x00FF00FFu);
    }
  return (any & 0x80808080u) == 0;
}

// Accumulators are named variables, not an array: GCC 12 keeps an array of __m512i in memory
// across the k loop (a store and register moves per update), named ones in registers.
template <int M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t a_row_stride, size_t a_kgroup_stride,
          const int8_t* b, const int32_t* row_sum, void* c, size_t c_stride, const StageParams& p,
          size_t j0) {
  // +16 lanes: the packed-panel split stores a whole 64-byte vector for an odd last k-group.
  alignas(64) int32_t lo[kChunk * kMR + 16];
  alignas(64) int32_t hi[kChunk * kMR + 16];
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  __m512i c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
  // Row pointers exist only for rows < M (rows >= M may not exist when A is read in place).
  const uint8_t* ar[M];
  for (int i = 0; i < M; ++i) ar[i] = a + static_cast<size_t>(i) * a_row_stride;
  const __m512i ones = _mm512_set1_epi16(1);
  uint64_t n_maddubs = 0, n_exact = 0;
  const size_t groups = kp / kKR;
  for (size_t g0 = 0; g0 < groups; g0 += kChunk) {
    const size_t gc = std::min(kChunk, groups - g0);
    const int8_t* bp = b + g0 * kNR * kKR;
    if (split_chunk<M>(a, a_row_stride, a_kgroup_stride, g0, gc, lo, hi)) {
      // Every A byte of the chunk is <= 127: vpmaddubsw cannot saturate.
      ++n_maddubs;
      size_t off = g0 * a_kgroup_stride;
      for (size_t g = 0; g < gc; ++g) {
        const __m512i b0 = _mm512_loadu_si512(bp);
        const __m512i b1 = _mm512_loadu_si512(bp + 64);
#define QGEMM_ROW(i)                                                                             \
  if constexpr (M > i) {                                                                         \
    const __m512i ai = broadcast4(ar[i] + off);                                                  \
    c##i##0 = _mm512_add_epi32(c##i##0, _mm512_madd_epi16(_mm512_maddubs_epi16(ai, b0), ones)); \
    c##i##1 = _mm512_add_epi32(c##i##1, _mm512_madd_epi16(_mm512_maddubs_epi16(ai, b1), ones)); \
  }
        QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5) QGEMM_ROW(6) QGEMM_ROW(7)
#undef QGEMM_ROW
        off += a_kgroup_stride;
        bp += kNR * kKR;
      }
    } else {
      // Exact: (a0,a2).(b0,b2) + (a1,a3).(b1,b3) in int16 pairs, no saturation possible.
      ++n_exact;
      for (size_t g = 0; g < gc; ++g) {
        const __m512i w0 = _mm512_loadu_si512(bp);
        const __m512i w1 = _mm512_loadu_si512(bp + 64);
        const __m512i be0 = _mm512_srai_epi16(_mm512_slli_epi16(w0, 8), 8);  // (b0, b2)
        const __m512i bo0 = _mm512_srai_epi16(w0, 8);                        // (b1, b3)
        const __m512i be1 = _mm512_srai_epi16(_mm512_slli_epi16(w1, 8), 8);
        const __m512i bo1 = _mm512_srai_epi16(w1, 8);
        const int32_t* lg = lo + g * kMR;
        const int32_t* hg = hi + g * kMR;
#define QGEMM_ROW(i)                                                                              \
  if constexpr (M > i) {                                                                          \
    const __m512i al = _mm512_set1_epi32(lg[i]);                                                  \
    const __m512i ah = _mm512_set1_epi32(hg[i]);                                                  \
    c##i##0 = _mm512_add_epi32(_mm512_add_epi32(c##i##0, _mm512_madd_epi16(al, be0)), _mm512_madd_epi16(ah, bo0)); \
    c##i##1 = _mm512_add_epi32(_mm512_add_epi32(c##i##1, _mm512_madd_epi16(al, be1)), _mm512_madd_epi16(ah, bo1)); \
  }
        QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5) QGEMM_ROW(6) QGEMM_ROW(7)
#undef QGEMM_ROW
        bp += kNR * kKR;
      }
    }
  }
  if (n_maddubs) avx512bw::g_path_counters.maddubs_chunks.fetch_add(n_maddubs, std::memory_order_relaxed);
  if (n_exact) avx512bw::g_path_counters.exact_chunks.fetch_add(n_exact, std::memory_order_relaxed);
  const __m512i all[8][kNV] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                               {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  __m512i out[M][kNV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kNV; ++v) out[i][v] = all[i][v];
  zmm::store_tile<M, kNV>(out, n, row_sum, c, c_stride, p, j0);
}

void u8s8_gemm_8x32c4__avx512bw(size_t m, size_t n, size_t kp, const uint8_t* a,
                                size_t a_row_stride, size_t a_kgroup_stride, const int8_t* b,
                                const int32_t* row_sum, void* c, size_t c_row_stride,
                                const StageParams* params, size_t j0) {
  const StageParams& p = *params;
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, j0);
  });
}

}  // namespace

// A is always packed (max_m_unpacked = 0): the per-chunk check then reads contiguous 64-byte
// vectors; packing costs little next to streaming B even for small M.
extern const GemmConfig kGemmConfigAvx512bw = {
    Isa::avx512bw, "u8s8_gemm_8x32c4__avx512bw", kMR, kNR, kKR, u8s8_gemm_8x32c4__avx512bw,
    /*max_m_unpacked=*/0, mc_for_k, nullptr, nullptr, nullptr};

}  // namespace detail
}  // namespace qgemm
