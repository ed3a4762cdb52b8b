// AVX-512 VNNI microkernel: u8 x s8 -> exact int32 on vpdpbusd (never the saturating
// vpdpbusds), 6 rows x 64 columns, K in groups of 4, every output stage fused in the store
// (kernels/x86/output_stage_zmm.hpp). Also the small-M path: for M <= 16 the driver passes A
// in place (no packing), so the weights stream through once.
#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_zmm.hpp"
#include "x86/tile_blocking.hpp"

namespace qgemm {
namespace detail {

namespace {

// Tile 6x64, for a core that issues two 512-bit vpdpbusd per cycle (tuned on AMD Zen 5; also
// Intel Ice Lake / Sapphire Rapids servers; measured in docs/kernel-notes.md#avx512vnni-avxvnni):
//   registers: 24 accumulators + 4 B vectors + 1-2 A broadcasts = 29-30 of 32 zmm.
//   per k-group of 4: 4 B loads (64 B each), 6 vpbroadcastd of 4 A bytes, 24 vpdpbusd, about
//   3 loop instructions: 12 cycles of vpdpbusd at 2/cycle against 10 loads (<= 2/cycle on
//   Zen 5 for 512-bit, 3-4 for narrow ones) and ~37 instructions (front end 8 wide), so the
//   loop is bound by vpdpbusd alone and 24 independent chains cover its latency (4-5 cycles
//   x 2/cycle = 10 needed).
//   Alternatives: 8x32 (16 acc) needs 10 loads and 8 broadcasts per 16 vpdpbusd; 14x32 (28
//   acc) 16 loads and 14 broadcasts per 28. 6x64 has the fewest loads (0.42) and broadcasts
//   (0.25) per vpdpbusd of the shapes that fit, and wide rows suit the small-M path (M = 1:
//   one broadcast feeds 4 vpdpbusd).
//   The fused output stage costs about 2-6 instructions per accumulator (s32) to ~30 (fixed
//   point) once per tile: little at large K, a fifth of the tile at K = 256 for u8 output.
constexpr size_t kMR = 6, kNR = 64, kKR = 4;
constexpr int kNV = static_cast<int>(kNR / 16);

// MC: an MC x kp block of A with its B panel in 3/4 of L2 (tile_blocking.hpp); tuned on Zen 5.
size_t mc_for_k(size_t kp, size_t l2_bytes) { return mc_rows_for_l2(kp, l2_bytes, kMR, kNR); }

inline __m512i broadcast4(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm512_set1_epi32(w);
}

// The 16 K groups between two A prefetches unrolled whole: unrolled 4 times in a loop they ran
// 5% slower at 128x11008x4096 (docs/notes/issue-29.md). Not under the SIMDe emulation, whose
// intrinsics are functions: 16 x 24 of them per loop body took the compiler 15 minutes.
// Nor is k_loop inlined there into its 54 call sites (a function per instantiation, 18): with
// it inlined the emulated build took 11 minutes on this file, 1.5 without.
#if defined(QGEMM_SIMDE_EMULATION)
#define QGEMM_UNROLL_16_GROUPS _Pragma("GCC unroll 4")
#define QGEMM_K_LOOP_INLINE __attribute__((noinline))
#else
#define QGEMM_UNROLL_16_GROUPS _Pragma("GCC unroll 16")
#define QGEMM_K_LOOP_INLINE inline __attribute__((always_inline))
#endif

// How far ahead the first row tile of a panel fetches its own B when B comes from L3 or memory
// (TileArgs::b_stream): 32 K groups, into L2 and for that tile only (into L1, or in every tile,
// it cost time: docs/kernel-notes.md#avx512vnni-avxvnni).
constexpr size_t kStreamAhead = 8192;

// The K loop over `groups` K groups of rows [0, M) of A into acc, which it reads first and writes
// last. Inside, the accumulators are named variables, not an array: GCC 12 keeps an array of
// __m512i in memory across the loop (a store and two register moves per vpdpbusd), named ones
// in registers.
// FromZero: the accumulators start at zero, or at acc_in's rows when given (acc is not read);
// ds: the tile is stored from the registers (acc is not written). MayPrefetch = false: pf and
// stream are null / false, and the loop has no test for them: GCC kept both tests in every K
// group (8 test-and-branch pairs per 4 groups, 201 instructions where 145 do), 2-3% of the
// 6-row tiles' time (docs/notes/issue-29.md). PfLines: lines of pf fetched per K group, 4 (a
// whole B panel over the tile's K), 2 or 1 (a half or a quarter of it; kSpreadTiles).
template <int M, bool FromZero = false, bool MayPrefetch = true, int PfLines = 4>
QGEMM_K_LOOP_INLINE void k_loop(__m512i (&acc)[M][kNV], size_t groups, const uint8_t* a, size_t a_row_stride,
                                size_t a_kgroup_stride, const int8_t* b, const char* pf, bool stream = false,
                                const DirectStore* ds = nullptr, const int32_t* acc_in = nullptr,
                                size_t acc_in_stride = 0) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  __m512i c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
#define QGEMM_IN(i)                                                                      \
  if constexpr (M > i) {                                                                 \
    c##i##0 = acc[i][0], c##i##1 = acc[i][1], c##i##2 = acc[i][2], c##i##3 = acc[i][3]; \
  }
  if constexpr (!FromZero) {
    QGEMM_IN(0) QGEMM_IN(1) QGEMM_IN(2) QGEMM_IN(3) QGEMM_IN(4) QGEMM_IN(5)
  } else if (acc_in) {  // the sums of the driver's earlier K blocks (TileArgs::acc_in), whole rows
#define QGEMM_IN_SUMS(i)                                                                          \
  if constexpr (M > i) {                                                                          \
    const int32_t* r = acc_in + static_cast<size_t>(i) * acc_in_stride;                           \
    c##i##0 = _mm512_loadu_si512(r), c##i##1 = _mm512_loadu_si512(r + 16);                       \
    c##i##2 = _mm512_loadu_si512(r + 32), c##i##3 = _mm512_loadu_si512(r + 48);                  \
  }
    QGEMM_IN_SUMS(0) QGEMM_IN_SUMS(1) QGEMM_IN_SUMS(2) QGEMM_IN_SUMS(3) QGEMM_IN_SUMS(4) QGEMM_IN_SUMS(5)
#undef QGEMM_IN_SUMS
  }
#undef QGEMM_IN
  // Row pointers exist only for rows < M (rows >= M may not exist when A is read in place).
  const uint8_t* ar[M];
  for (int i = 0; i < M; ++i) ar[i] = a + static_cast<size_t>(i) * a_row_stride;
  size_t off = 0;
  // One K group: the next panel's B prefetch (StageParams::b_next), this tile's own B ahead
  // (b_stream), 4 B loads, then per row one broadcast and 4 vpdpbusd.
#define QGEMM_ROW(i)                                    \
  if constexpr (M > i) {                                \
    const __m512i ai = broadcast4(ar[i] + off);         \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, ai, b0);     \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, ai, b1);     \
    c##i##2 = _mm512_dpbusd_epi32(c##i##2, ai, b2);     \
    c##i##3 = _mm512_dpbusd_epi32(c##i##3, ai, b3);     \
  }
  auto k_group = [&]() __attribute__((always_inline)) {
    if (MayPrefetch && pf) {
      _mm_prefetch(pf, _MM_HINT_T0);
      if constexpr (PfLines >= 2) _mm_prefetch(pf + 64, _MM_HINT_T0);
      if constexpr (PfLines == 4) {
        _mm_prefetch(pf + 128, _MM_HINT_T0);
        _mm_prefetch(pf + 192, _MM_HINT_T0);
      }
      pf += 64 * PfLines;
    }
    if (MayPrefetch && stream) {  // this tile's own B, kStreamAhead bytes ahead, into L2 (StageParams::b_stream)
      const char* q = reinterpret_cast<const char*>(b) + kStreamAhead;
      _mm_prefetch(q, _MM_HINT_T1);
      _mm_prefetch(q + 64, _MM_HINT_T1);
      _mm_prefetch(q + 128, _MM_HINT_T1);
      _mm_prefetch(q + 192, _MM_HINT_T1);
    }
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    const __m512i b2 = _mm512_loadu_si512(b + 128);
    const __m512i b3 = _mm512_loadu_si512(b + 192);
    QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5)
    off += a_kgroup_stride;
    b += kNR * kKR;
  };
#undef QGEMM_ROW
  // Four K groups per iteration for M >= 2: the loop's own instructions and the prefetch tests
  // then cost a quarter; M = 1 is bound by its B loads and gains nothing from it, nor does the
  // AVX-VNNI kernel (docs/kernel-notes.md#avx512vnni-avxvnni).
  if constexpr (M == 1) {
    for (size_t g = 0; g < groups; ++g) k_group();
  } else {
    // A in place with rows a multiple of 4 KiB apart: all rows of the tile fall into the same
    // L1 sets, where the B stream evicts them before the hardware prefetchers' lines are used;
    // one software prefetch per row and line, 4 lines ahead, keeps them coming
    // (docs/kernel-notes.md#avx512vnni-avxvnni). Elsewhere it cost time.
    size_t g = 0;
    if (a_kgroup_stride == kKR && a_row_stride % 4096 == 0) {
      for (; g + 16 <= groups; g += 16) {
        for (int i = 0; i < M; ++i) _mm_prefetch(reinterpret_cast<const char*>(ar[i] + off + 256), _MM_HINT_T0);
        QGEMM_UNROLL_16_GROUPS
        for (int u = 0; u < 16; ++u) k_group();
      }
    }
#pragma GCC unroll 4
    for (; g < groups; ++g) k_group();
  }
  if (ds) {
    // The per-column vectors are loaded again for every row, not held in registers: with 24
    // accumulators live, 8-18 more values left the compiler spilling 12 accumulators to the
    // stack and reading them back before the stores. Each row's C stores may alias the tables
    // (__m512i stores alias anything), so the compiler reloads them, folded into the adds.
    // The barrier keeps the compiler from hoisting those loads above the K loop, where they
    // would hold registers the loop needs.
    asm volatile("" ::: "memory");
    const DirectStore d = *ds;
    const bool zz = d.zb_zero;
    auto fin = [&](__m512i x, int v, int32_t rs) __attribute__((always_inline)) {
      return zmm::finish(x, _mm512_loadu_si512(d.col_off + 16 * v), zz ? x : _mm512_loadu_si512(d.zb + 16 * v), rs, zz);
    };
    if (!d.f32) {
#define QGEMM_ST(i)                                                                     \
  if constexpr (M > i) {                                                                \
    int32_t* r = reinterpret_cast<int32_t*>(d.c + static_cast<size_t>(i) * d.c_stride); \
    const int32_t rs = d.row_sum[i];                                                    \
    _mm512_storeu_si512(r, fin(c##i##0, 0, rs));                                        \
    _mm512_storeu_si512(r + 16, fin(c##i##1, 1, rs));                                   \
    _mm512_storeu_si512(r + 32, fin(c##i##2, 2, rs));                                   \
    _mm512_storeu_si512(r + 48, fin(c##i##3, 3, rs));                                   \
  }
      QGEMM_ST(0) QGEMM_ST(1) QGEMM_ST(2) QGEMM_ST(3) QGEMM_ST(4) QGEMM_ST(5)
#undef QGEMM_ST
    } else {
      const __m512 fmin = _mm512_set1_ps(d.fmin), fmax = _mm512_set1_ps(d.fmax);
      // The order of zmm::store_tile_dots: fmadd, then max(fmin, y), min(fmax, y).
      auto f32 = [&](__m512i x, int v, int32_t rs) __attribute__((always_inline)) {
        const __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(fin(x, v, rs)), _mm512_loadu_ps(d.scale + 16 * v),
                                         _mm512_loadu_ps(d.fbias + 16 * v));
        return _mm512_min_ps(fmax, _mm512_max_ps(fmin, y));
      };
#define QGEMM_ST(i)                                                                 \
  if constexpr (M > i) {                                                            \
    float* r = reinterpret_cast<float*>(d.c + static_cast<size_t>(i) * d.c_stride); \
    const int32_t rs = d.row_sum[i];                                                \
    _mm512_storeu_ps(r, f32(c##i##0, 0, rs));                                       \
    _mm512_storeu_ps(r + 16, f32(c##i##1, 1, rs));                                  \
    _mm512_storeu_ps(r + 32, f32(c##i##2, 2, rs));                                  \
    _mm512_storeu_ps(r + 48, f32(c##i##3, 3, rs));                                  \
  }
      QGEMM_ST(0) QGEMM_ST(1) QGEMM_ST(2) QGEMM_ST(3) QGEMM_ST(4) QGEMM_ST(5)
#undef QGEMM_ST
    }
    return;
  }
#define QGEMM_OUT(i)                                                                     \
  if constexpr (M > i) {                                                                 \
    acc[i][0] = c##i##0, acc[i][1] = c##i##1, acc[i][2] = c##i##2, acc[i][3] = c##i##3; \
  }
  QGEMM_OUT(0) QGEMM_OUT(1) QGEMM_OUT(2) QGEMM_OUT(3) QGEMM_OUT(4) QGEMM_OUT(5)
#undef QGEMM_OUT
}

template <int M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t a_row_stride, size_t a_kgroup_stride,
          const int8_t* b, const int32_t* row_sum, void* c, size_t c_stride, const StageParams& p,
          const TileArgs& t, size_t j0) {
  __m512i acc[M][kNV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kNV; ++v) acc[i][v] = _mm512_setzero_si512();
  // The last row tile of a panel fetches the next panel's B block as it goes (one k-group of it
  // per k-group): at small M the weights then keep streaming from memory while this tile
  // computes. Into L1: the L2 hint was slower (docs/kernel-notes.md#avx512vnni-avxvnni).
  if (direct_store_ok(n, kNR, p)) {
    const DirectStore ds = direct_store(static_cast<char*>(c), c_stride, row_sum, p, j0);
    if (t.b_next || t.b_stream)
      k_loop<M, true>(acc, kp / kKR, a, a_row_stride, a_kgroup_stride, b, static_cast<const char*>(t.b_next),
                      t.b_stream, &ds, t.acc_in, t.acc_in_stride);
    else
      k_loop<M, true, false>(acc, kp / kKR, a, a_row_stride, a_kgroup_stride, b, nullptr, false, &ds, t.acc_in,
                             t.acc_in_stride);
    return;
  }
  prefetch_c_tile(c, c_stride, M, n, p.out_bytes);
  k_loop<M>(acc, kp / kKR, a, a_row_stride, a_kgroup_stride, b, static_cast<const char*>(t.b_next), t.b_stream);
  zmm::store_tile<M, kNV>(acc, n, row_sum, c, c_stride, p, t, j0);
}

// Rows [0, M0) and [M0, M0 + M1) of one call (MR < m <= 2 MR, A in place) as two row tiles over
// chunks of kChunk K groups (16 KiB of B; tile_blocking.hpp): a second tile's own pass over the
// panel stopped the stream from memory at M = 8 (docs/kernel-notes.md#avx512vnni-avxvnni).
constexpr size_t kChunk = 64;

// The largest K (bytes of a K block) whose paired tiles store from the registers (DirectStore):
// at K = 768 it gained 2-5% (M = 8-12); at K = 4096-8192 it lost 10-30% (8x2048x8192: 450 ->
// 580 us), cause not found (docs/notes/issue-29.md).
constexpr size_t kPairDirectMaxK = 1024;

// Rows per call with A in place: 7-12 as a pair of tiles over B chunks (tile_pair), more as
// consecutive tiles (row_tiles); the driver splits an MC block into calls of at most this many.
constexpr uint32_t kRowsPerCall = 16 * kMR;

template <int M0, int M1>
void tile_pair(size_t n, size_t kp, const uint8_t* a, size_t a_row_stride, const int8_t* b, const int32_t* row_sum,
               void* c, size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  // Full s32/f32 tiles store from the registers at the end of the last chunk (DirectStore), the
  // driver's earlier K blocks (acc_in) loaded first; else through store_tile. Only up to
  // kPairDirectMaxK. The two ways are compiled apart: with the store's pointer a run-time choice
  // in one loop, M = 8 at K = 4096-11008 ran 5-8% slower also where it stored through
  // store_tile (docs/notes/issue-29.md).
  char* c1 = static_cast<char*>(c) + M0 * c_stride;
  auto run = [&](auto direct) __attribute__((always_inline)) {
    constexpr bool kDirect = decltype(direct)::value;
    __m512i acc0[M0][kNV], acc1[M1][kNV];
    const int32_t* in = kDirect ? t.acc_in : nullptr;
    const size_t is = t.acc_in_stride;
    for (int v = 0; v < kNV; ++v) {
      for (int i = 0; i < M0; ++i) acc0[i][v] = in ? _mm512_loadu_si512(in + i * is + 16 * v) : _mm512_setzero_si512();
      for (int i = 0; i < M1; ++i)
        acc1[i][v] = in ? _mm512_loadu_si512(in + (M0 + i) * is + 16 * v) : _mm512_setzero_si512();
    }
    const DirectStore ds[2] = {direct_store(static_cast<char*>(c), c_stride, row_sum, p, j0),
                               direct_store(c1, c_stride, row_sum + M0, p, j0)};
    prefetch_c_tile(c, c_stride, M0 + M1, n, p.out_bytes);
    pair_over_k_chunks(acc0, acc1, kp / kKR, kChunk, kNR * kKR, kKR, a, a + M0 * a_row_stride, b,
                       static_cast<const char*>(t.b_next),
                       [&](auto& acc, size_t groups, const uint8_t* at, const int8_t* bt, const char* pf, int tt,
                           bool last) __attribute__((always_inline)) {
                         k_loop(acc, groups, at, a_row_stride, kKR, bt, pf, false,
                                kDirect && last ? &ds[tt] : nullptr);
                       });
    if (kDirect) return;
    zmm::store_tile<M0, kNV>(acc0, n, row_sum, c, c_stride, p, t, j0);
    zmm::store_tile<M1, kNV>(acc1, n, row_sum + M0, c1, c_stride, p, tile_rows_from(t, M0), j0);
  };
  if (kp > 0 && kp <= kPairDirectMaxK && direct_store_ok(n, kNR, p))
    run(std::true_type{});
  else
    run(std::false_type{});
}

// More than two tiles of rows in one call (A in place; GemmConfig::max_rows_per_call):
// consecutive row tiles over the same B panel (run_row_tiles, tile_blocking.hpp), instead of a
// return to the driver and a call per tile (docs/notes/issue-29.md).
//
// The next panel's B is fetched over the last kSpreadTiles tiles of the call, a quarter each (one
// line per K group), not all in the last tile: there the weights from memory came at 4 lines
// per K group, faster than memory gives them, and the tile waited (a tenth of the kernel's
// samples at 128x4096x11008); spread over 4 tiles 128x4096x11008 ran 8% faster, over 2 or 8
// tiles slower than over 4. A call of 3 tiles spreads it over 2, a half each: over its 3 tiles,
// a quarter each, the fourth quarter unfetched, 16x4096x4096 ran 8% slower; in its last tile,
// 13-16x4096x11008 15-20% slower (docs/notes/issue-29.md).
constexpr size_t kSpreadTiles = 4;
void row_tiles(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride, size_t a_kgroup_stride,
               const int8_t* b, const int32_t* row_sum, char* c, size_t c_stride, const StageParams& p,
               const TileArgs& t, size_t j0) {
  run_row_tiles(
      m, kMR, direct_store_ok(n, kNR, p), t, kSpreadTiles, kp * kNR,
      [&](size_t ir, size_t rows, const char* pf, bool stream, size_t parts) __attribute__((always_inline)) {
        const DirectStore ds = direct_store(c + ir * c_stride, c_stride, row_sum + ir, p, j0);
        with_rows<kMR>(rows, [&](auto R) __attribute__((always_inline)) {
          constexpr int M = static_cast<int>(decltype(R)::value);
          __m512i unused[M][kNV];
          const int32_t* in = t.acc_in ? t.acc_in + ir * t.acc_in_stride : nullptr;
          const uint8_t* at = a + ir * a_row_stride;
          if (pf && parts == 2)
            k_loop<M, true, true, 2>(unused, kp / kKR, at, a_row_stride, a_kgroup_stride, b, pf, stream, &ds, in,
                                     t.acc_in_stride);
          else if (pf || stream)  // parts == kSpreadTiles, or no pf
            k_loop<M, true, true, 1>(unused, kp / kKR, at, a_row_stride, a_kgroup_stride, b, pf, stream, &ds, in,
                                     t.acc_in_stride);
          else
            k_loop<M, true, false>(unused, kp / kKR, at, a_row_stride, a_kgroup_stride, b, nullptr, false, &ds, in,
                                   t.acc_in_stride);
        });
      },
      [&](size_t ir, size_t rows, const TileArgs& tr) {
        with_rows<kMR>(rows, [&](auto R) {
          tile<decltype(R)::value>(n, kp, a + ir * a_row_stride, a_row_stride, a_kgroup_stride, b, row_sum + ir,
                                   c + ir * c_stride, c_stride, p, tr, j0);
        });
      });
}

void u8s8_gemm_6x64c4__avx512vnni(size_t m, size_t n, size_t kp, const uint8_t* a,
                                  size_t a_row_stride, size_t a_kgroup_stride, const void* b_panel,
                                  const int32_t* row_sum, void* c, size_t c_row_stride,
                                  const StageParams* params, const TileArgs* targs, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  const TileArgs& t = *targs;
  // A packed panel steps MR*KR bytes per k-group, A in place KR.
  count_path(a_kgroup_stride == kKR ? Path::avx512vnni_a_in_place : Path::avx512vnni_a_packed, 1);
  const StageParams& p = *params;
  if (m > 2 * kMR) {  // more row tiles in one call (GemmConfig::max_rows_per_call; A in place)
    count_path(Path::avx512vnni_row_tiles, 1);
    return row_tiles(m, n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, static_cast<char*>(c), c_row_stride, p,
                     t, j0);
  }
  if (m > kMR) {  // two row tiles in one call (GemmConfig::max_rows_per_call; A in place)
    count_path(Path::avx512vnni_tile_pair, 1);
    return with_pair_rows(m, [&](auto m0, auto m1) {
      tile_pair<decltype(m0)::value, decltype(m1)::value>(n, kp, a, a_row_stride, b, row_sum, c, c_row_stride, p, t, j0);
    });
  }
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, t, j0);
  });
}

}  // namespace

// A is read in place at every M when K % 4 == 0 (row sums computed by the driver): the packing
// pass is skipped, and the tile's six 4-byte broadcasts per K group read six row streams,
// which the hardware prefetchers follow; it measured faster than packed A at M >= 128 and no
// slower below (docs/kernel-notes.md#avx512vnni-avxvnni).
extern constexpr GemmConfig kGemmConfig_avx512vnni =
    GemmConfig::tile(Isa::avx512vnni, "u8s8_gemm_6x64c4__avx512vnni", kMR, kNR, kKR, u8s8_gemm_6x64c4__avx512vnni,
                     &kWeightFormat_s8)
        .with_a_in_place(UINT32_MAX)
        .with_rows_per_call(kRowsPerCall)
        .with_mc(mc_for_k)
        .with_kc_unit(kChunk * kKR)  // the paired tiles' K chunk, so that the tests cross its edges
        // 1-3 rows are bound by B's loads; there the next-panel prefetch cost 5-15% with the
        // weights in L3, and from 4 rows on it gains 20-40% (docs/notes/issue-29.md). The
        // AVX-VNNI kernel gains from it at every row count.
        .with_l3_prefetch_min_rows(4)
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
