// AVX-VNNI microkernel (VEX-encoded vpdpbusd on ymm, for CPUs with AVX-VNNI but no AVX-512, and
// for AVX-512 CPUs restricted to it), 6x16 tile, K in groups of 4 (the generic packed-B layout
// of ukernel.hpp). vpdpbusd adds four u8*s8 products into int32 without an int16 intermediate,
// so it is exact by construction.
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"
#include "x86/tile_blocking.hpp"

namespace qgemm {
namespace detail {
namespace {

// 6x16: 12 accumulators + 2 B vectors + 1 A broadcast = 15 of the 16 ymm registers; per K group
// 2 B loads and 6 broadcasts feed 12 vpdpbusd (6 cycles at two per cycle, tuned on Zen 5;
// 1.3 loads per cycle). 12 independent chains cover the latency.
constexpr size_t kMR = 6, kNR = 16, kKR = 4, kNV = kNR / 8;

// MC: an MC x kp block of A with its B panel in 3/4 of L2 (tile_blocking.hpp), as for AVX-512 VNNI.
size_t mc_for_k(size_t kp, size_t l2_bytes) { return mc_rows_for_l2(kp, l2_bytes, kMR, kNR); }

inline __attribute__((always_inline)) __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// How far ahead the first row tile of a panel fetches its own B when B comes from L3 or memory
// (TileArgs::b_stream): 128 K groups, 8 KiB, as in the AVX-512 VNNI kernel.
constexpr size_t kStreamAhead = 8192;

// The K loop over `groups` K groups of rows [0, M) into acc, which it reads first and writes last.
// Inside, named accumulators, not an array: GCC 12 kept an array of __m256i in memory across the
// loop, a store and register moves per vpdpbusd (docs/kernel-notes.md#avx512vnni-avxvnni).
// FromZero: the accumulators start at zero, or at acc_in's rows when given (acc is not read);
// ds: the tile is stored from the registers through DirectStore (tile_blocking.hpp; acc is not
// written). MayPrefetch = false: pf and stream are null / false, and the loop has no test for
// them (as in the AVX-512 VNNI kernel). Unroll2: two K groups per loop iteration (the row
// tiles, M > 12; docs/kernel-notes.md#avx512vnni-avxvnni).
template <int M, bool FromZero = false, bool MayPrefetch = true, bool Unroll2 = false>
inline __attribute__((always_inline)) void k_loop(__m256i (&acc)[M][kNV], size_t groups, const uint8_t* a,
                                                  size_t ars, size_t aks, const int8_t* b, const char* pf,
                                                  bool stream = false, const DirectStore* ds = nullptr, const int32_t* acc_in = nullptr,
                                                  size_t acc_in_stride = 0) {
  const __m256i z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  __m256i c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
#define QGEMM_IN(i)                                  \
  if constexpr (M > i) {                             \
    c##i##0 = acc[i][0], c##i##1 = acc[i][1];        \
  }
  if constexpr (!FromZero) {
    QGEMM_IN(0) QGEMM_IN(1) QGEMM_IN(2) QGEMM_IN(3) QGEMM_IN(4) QGEMM_IN(5)
  } else if (acc_in) {  // the sums of the driver's earlier K blocks (TileArgs::acc_in), whole rows
#define QGEMM_IN_SUMS(i)                                                                          \
  if constexpr (M > i) {                                                                          \
    const int32_t* r = acc_in + static_cast<size_t>(i) * acc_in_stride;                           \
    c##i##0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r));                            \
    c##i##1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + 8));                        \
  }
    QGEMM_IN_SUMS(0) QGEMM_IN_SUMS(1) QGEMM_IN_SUMS(2) QGEMM_IN_SUMS(3) QGEMM_IN_SUMS(4) QGEMM_IN_SUMS(5)
#undef QGEMM_IN_SUMS
  }
#undef QGEMM_IN
  const uint8_t* ar[M];
  for (int i = 0; i < M; ++i) ar[i] = a + static_cast<size_t>(i) * ars;
  size_t off = 0;
  auto k_group = [&]() __attribute__((always_inline)) {
    if (MayPrefetch && pf) {  // the next panel's B (StageParams::b_next): one K group, one line, per K group
      _mm_prefetch(pf, _MM_HINT_T0);
      pf += kNR * kKR;
    }
    if (MayPrefetch && stream) _mm_prefetch(reinterpret_cast<const char*>(b) + kStreamAhead, _MM_HINT_T1);
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#define QGEMM_ROW(i)                                      \
  if constexpr (M > i) {                                  \
    const __m256i ai = broadcast4(ar[i] + off);           \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, ai, b0);   \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, ai, b1);   \
  }
    QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5)
#undef QGEMM_ROW
    off += aks;
    b += kNR * kKR;
  };
  if constexpr (Unroll2) {
#pragma GCC unroll 2
    for (size_t g = 0; g < groups; ++g) k_group();
  } else {
    for (size_t g = 0; g < groups; ++g) k_group();
  }
  if (ds) {
    // As in the AVX-512 VNNI kernel: the column vectors are loaded again for every row (folded
    // into the adds), so that nothing but the accumulators needs a register and nothing is
    // spilled; the barrier keeps those loads below the K loop.
    asm volatile("" ::: "memory");
    const DirectStore d = *ds;
    const bool zz = d.zb_zero;
    auto fin = [&](__m256i x, int v, int32_t rs) __attribute__((always_inline)) {
      const __m256i o = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d.col_off + 8 * v));
      return ymm::finish8(x, o, zz ? x : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d.zb + 8 * v)), rs, zz);
    };
    if (!d.f32) {
#define QGEMM_ST(i)                                                                     \
  if constexpr (M > i) {                                                                \
    int32_t* r = reinterpret_cast<int32_t*>(d.c + static_cast<size_t>(i) * d.c_stride); \
    const int32_t rs = d.row_sum[i];                                                    \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r), fin(c##i##0, 0, rs));            \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r + 8), fin(c##i##1, 1, rs));        \
  }
      QGEMM_ST(0) QGEMM_ST(1) QGEMM_ST(2) QGEMM_ST(3) QGEMM_ST(4) QGEMM_ST(5)
#undef QGEMM_ST
    } else {
      const __m256 fmin = _mm256_set1_ps(d.fmin), fmax = _mm256_set1_ps(d.fmax);
      // The order of ymm::store_tile: fmadd, then max(fmin, y), min(fmax, y).
      auto f32 = [&](__m256i x, int v, int32_t rs) __attribute__((always_inline)) {
        const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fin(x, v, rs)), _mm256_loadu_ps(d.scale + 8 * v),
                                         _mm256_loadu_ps(d.fbias + 8 * v));
        return _mm256_min_ps(fmax, _mm256_max_ps(fmin, y));
      };
#define QGEMM_ST(i)                                                                 \
  if constexpr (M > i) {                                                            \
    float* r = reinterpret_cast<float*>(d.c + static_cast<size_t>(i) * d.c_stride); \
    const int32_t rs = d.row_sum[i];                                                \
    _mm256_storeu_ps(r, f32(c##i##0, 0, rs));                                       \
    _mm256_storeu_ps(r + 8, f32(c##i##1, 1, rs));                                   \
  }
      QGEMM_ST(0) QGEMM_ST(1) QGEMM_ST(2) QGEMM_ST(3) QGEMM_ST(4) QGEMM_ST(5)
#undef QGEMM_ST
    }
    return;
  }
#define QGEMM_OUT(i)                                 \
  if constexpr (M > i) {                             \
    acc[i][0] = c##i##0, acc[i][1] = c##i##1;        \
  }
  QGEMM_OUT(0) QGEMM_OUT(1) QGEMM_OUT(2) QGEMM_OUT(3) QGEMM_OUT(4) QGEMM_OUT(5)
#undef QGEMM_OUT
}

// Stores rows [0, M) of acc (the ymm store code takes a full MR-row array and a row count).
template <int M>
inline void store_rows(const __m256i (&acc)[M][kNV], size_t n, const int32_t* row_sum, void* c, size_t c_stride,
                       const StageParams& p, const TileArgs& t, size_t j0) {
  __m256i full[kMR][kNV];
  for (int i = 0; i < M; ++i)
    for (size_t v = 0; v < kNV; ++v) full[i][v] = acc[i][v];
  ymm::store_tile<kMR, kNV>(full, M, n, row_sum, c, c_stride, p, t, j0);
}

template <int M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  __m256i acc[M][kNV];
  for (int i = 0; i < M; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  if (direct_store_ok(n, kNR, p)) {
    const DirectStore ds = direct_store(static_cast<char*>(c), c_stride, row_sum, p, j0);
    if (t.b_next || t.b_stream)
      k_loop<M, true>(acc, kp / kKR, a, ars, aks, b, static_cast<const char*>(t.b_next), t.b_stream, &ds, t.acc_in,
                      t.acc_in_stride);
    else
      k_loop<M, true, false>(acc, kp / kKR, a, ars, aks, b, nullptr, false, &ds, t.acc_in, t.acc_in_stride);
    return;
  }
  prefetch_c_tile(c, c_stride, M, n, p.out_bytes);  // tile_blocking.hpp
  k_loop<M>(acc, kp / kKR, a, ars, aks, b, static_cast<const char*>(t.b_next), t.b_stream);
  store_rows<M>(acc, n, row_sum, c, c_stride, p, t, j0);
}

// 7-12 rows in one call as two row tiles over chunks of kChunk K groups (16 KiB of B), as the
// AVX-512 VNNI kernel does (tile_blocking.hpp); the longer chunk keeps the accumulator swaps a
// small part of a 4-row half's work (one swap per 256 K groups).
constexpr size_t kChunk = 256;

template <int M0, int M1>
void tile_pair(size_t n, size_t kp, const uint8_t* a, size_t ars, const int8_t* b, const int32_t* row_sum, void* c,
               size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  // Through store_rows: the direct store at the end of the last chunk, as the AVX-512 VNNI
  // kernel has it, left GCC keeping this kernel's accumulators in memory in that loop (16 ymm
  // registers; 12x768x768 1.7x slower), or cost 5% at K = 4096 as a run-time choice
  // (docs/notes/issue-29.md).
  __m256i acc0[M0][kNV], acc1[M1][kNV];
  for (size_t v = 0; v < kNV; ++v) {
    for (int i = 0; i < M0; ++i) acc0[i][v] = _mm256_setzero_si256();
    for (int i = 0; i < M1; ++i) acc1[i][v] = _mm256_setzero_si256();
  }
  prefetch_c_tile(c, c_stride, M0 + M1, n, p.out_bytes);
  pair_over_k_chunks(acc0, acc1, kp / kKR, kChunk, kNR * kKR, kKR, a, a + M0 * ars, b,
                     static_cast<const char*>(t.b_next),
                     [&](auto& acc, size_t groups, const uint8_t* at, const int8_t* bt, const char* pf, int, bool)
                         __attribute__((always_inline)) { k_loop(acc, groups, at, ars, kKR, bt, pf); });
  store_rows<M0>(acc0, n, row_sum, c, c_stride, p, t, j0);
  store_rows<M1>(acc1, n, row_sum + M0, static_cast<char*>(c) + M0 * c_stride, c_stride, p, tile_rows_from(t, M0), j0);
}

// Rows per call with A in place: 7-12 as a pair of tiles over B chunks (tile_pair), more as
// consecutive tiles (row_tiles); the driver splits an MC block into calls of at most this many.
constexpr uint32_t kRowsPerCall = 16 * kMR;

// More than two tiles of rows in one call (A in place; GemmConfig::max_rows_per_call):
// consecutive row tiles over the same B panel (run_row_tiles, tile_blocking.hpp), as in the
// AVX-512 VNNI kernel.
void row_tiles(size_t m, size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b,
               const int32_t* row_sum, char* c, size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  run_row_tiles(
      m, kMR, direct_store_ok(n, kNR, p), t, 1, 0,  // the next panel in the last tile alone
      [&](size_t ir, size_t rows, const char* pf, bool stream, size_t) __attribute__((always_inline)) {
        const DirectStore ds = direct_store(c + ir * c_stride, c_stride, row_sum + ir, p, j0);
        with_rows<kMR>(rows, [&](auto R) __attribute__((always_inline)) {
          constexpr int M = static_cast<int>(decltype(R)::value);
          __m256i unused[M][kNV];
          const int32_t* in = t.acc_in ? t.acc_in + ir * t.acc_in_stride : nullptr;
          if (pf || stream)
            k_loop<M, true, true, true>(unused, kp / kKR, a + ir * ars, ars, aks, b, pf, stream, &ds, in, t.acc_in_stride);
          else
            k_loop<M, true, false, true>(unused, kp / kKR, a + ir * ars, ars, aks, b, nullptr, false, &ds, in,
                                         t.acc_in_stride);
        });
      },
      [&](size_t ir, size_t rows, const TileArgs& tr) {
        with_rows<kMR>(rows, [&](auto R) {
          tile<static_cast<int>(decltype(R)::value)>(n, kp, a + ir * ars, ars, aks, b, row_sum + ir, c + ir * c_stride,
                                                     c_stride, p, tr, j0);
        });
      });
}

void u8s8_gemm_6x16c4__avxvnni(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                               size_t a_kgroup_stride, const void* b_panel, const int32_t* row_sum, void* c,
                               size_t c_row_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  if (m > 2 * kMR) {  // more row tiles in one call (GemmConfig::max_rows_per_call; A in place)
    count_path(Path::avxvnni_row_tiles, 1);
    return row_tiles(m, n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, static_cast<char*>(c), c_row_stride, *p,
                     *t, j0);
  }
  if (m > kMR) {  // two row tiles in one call (GemmConfig::max_rows_per_call; A in place)
    count_path(Path::avxvnni_tile_pair, 1);
    return with_pair_rows(m, [&](auto m0, auto m1) {
      tile_pair<decltype(m0)::value, decltype(m1)::value>(n, kp, a, a_row_stride, b, row_sum, c, c_row_stride, *p, *t, j0);
    });
  }
  with_rows<kMR>(m, [&](auto rows) {
    tile<static_cast<int>(decltype(rows)::value)>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c,
                                                  c_row_stride, *p, *t, j0);
  });
}

}  // namespace

// A is read in place at every M when K % 4 == 0 (row sums from the driver), as for AVX-512 VNNI.
extern constexpr GemmConfig kGemmConfig_avxvnni =
    GemmConfig::tile(Isa::avxvnni, "u8s8_gemm_6x16c4__avxvnni", kMR, kNR, kKR, u8s8_gemm_6x16c4__avxvnni,
                     &kWeightFormat_s8)
        .with_a_in_place(UINT32_MAX)
        .with_rows_per_call(kRowsPerCall)
        .with_mc(mc_for_k)
        .with_kc_unit(kChunk * kKR)  // the paired tiles' K chunk, so that the tests cross its edges
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
