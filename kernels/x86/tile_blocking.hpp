// Cache decisions shared by the x86 VNNI kernels (AVX-512 VNNI, AVX-VNNI): the MC rule, the
// prefetch of a tile's C lines, the K-chunk order of two row tiles in one call, the split of a
// call's rows into consecutive row tiles, and the direct store's arguments. Plain integer
// code and _mm_prefetch; internal linkage, since each ISA's object compiles its own copy with its
// own flags (test odr_isa_objects).
#pragma once

#include <cstddef>
#include <type_traits>

#include "size_ops.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace {

// MC for a kernel of mr x nr tiles: an MC x kp block of A plus the nr x kp B panel it is
// multiplied with in 3/4 of L2 (the A tile and the stream of B then come from L2 into L1d),
// at most 1024 rows.
inline size_t mc_rows_for_l2(size_t kp, size_t l2_bytes, size_t mr, size_t nr) {
  const size_t budget = (l2_bytes / 4 * 3) / (kp ? kp : 1);
  const size_t rows = budget > nr + mr ? budget - nr : mr;
  return size_max(mr, size_min(rows, 1024));
}

// Fetches the lines of C that a tile of `rows` rows will store, before its K loop: where C (with
// A and B) exceeds L2, the stores at the end of the tile otherwise wait for each line
// (docs/kernel-notes.md#avx512vnni-avxvnni). Only bytes of the tile's own rows are touched; a
// prefetch never faults.
inline void prefetch_c_tile(const void* c, size_t c_stride, int rows, size_t n, size_t out_bytes) {
  const size_t row_bytes = n * out_bytes;
  for (int i = 0; i < rows; ++i) {
    const char* r = static_cast<const char*>(c) + static_cast<size_t>(i) * c_stride;
    for (size_t o = 0; o < row_bytes; o += 64) _mm_prefetch(r + o, _MM_HINT_T0);
    _mm_prefetch(r + row_bytes - 1, _MM_HINT_T0);  // the last line when r is not line-aligned
  }
}

// A full tile's s32 or f32 store straight from the K loop's registers (DirectStore), with no
// load from the stack between one tile's stores and the next tile's K loop: through
// store_tile's array and the driver's call per tile, the tile's fixed cost was about 100 cycles
// on the AVX-512 VNNI kernel (a fifth of a 6-row tile at K = 128). The likely cause, a load
// whose address matches a pending store's in the low 12 bits waiting for the store's data (the
// last vpdpbusd), is why the stage's values are copied in here rather than read through
// StageParams after the stores (docs/notes/issue-29.md).
struct DirectStore {
  char* c;
  size_t c_stride;
  const int32_t* row_sum;
  const int32_t* col_off;  // + j0, as the tables below
  const int32_t* zb;
  const float* scale;
  const float* fbias;
  float fmin, fmax;
  bool f32;  // else s32
  bool zb_zero;
};

inline DirectStore direct_store(char* c, size_t c_stride, const int32_t* row_sum, const StageParams& p, size_t j0) {
  return DirectStore{c,          c_stride,      row_sum, p.col_off + j0, p.zb + j0, p.scale ? p.scale + j0 : nullptr,
                     p.fbias ? p.fbias + j0 : nullptr, p.fmin, p.fmax, p.kind == StageKind::f32, p.zb_zero};
}

// Whether a tile of n columns (of nr) with these arguments takes DirectStore: full tiles, s32 or
// f32 (also the raw sums of the driver's K blocks before the last), the earlier K blocks' sums
// (TileArgs::acc_in) loaded into the accumulators before the K loop. At every K: once the store
// stopped spilling accumulators it measured 1-4% faster than the array path with C prefetched
// at the tile's start also at K = 3072-11008 (docs/notes/issue-29.md).
inline bool direct_store_ok(size_t n, size_t nr, const StageParams& p) {
  return n == nr && (p.kind == StageKind::s32 || p.kind == StageKind::f32);
}

// The nt = ceil(m / mr) consecutive row tiles of a call of m rows (GemmConfig::max_rows_per_call
// > 2 MR, A in place), one after the other over the same B panel: tile r starts at row
// r * m / nt (sizes differ by at most one row; stepped without a division). With `direct`,
// direct_tile(ir, rows, pf, stream) runs rows [ir, ir + rows) and stores them through
// DirectStore; else array_tile(ir, rows, targs) through the kernel's array path. The first tile
// may stream B (TileArgs::b_stream); the next panel (b_next, panel_bytes) is fetched by the last
// `spread` direct tiles (a power of two; fewer where the call has fewer tiles), a part each in
// order, direct_tile's last argument the number of parts (by the last tile alone in the array
// path).
// Between two direct tiles only the store and the next tile's setup run (docs/notes/issue-29.md).
template <class DirectTile, class ArrayTile>
inline void run_row_tiles(size_t m, size_t mr, bool direct, const TileArgs& t, size_t spread, size_t panel_bytes,
                          DirectTile&& direct_tile, ArrayTile&& array_tile) {
  const size_t nt = (m + mr - 1) / mr, step = m / nt, rem = m % nt;
  while (spread > nt) spread /= 2;  // a power of two no larger than nt: the tiles cover the panel
  const size_t first_pf = nt - spread, part = panel_bytes / spread;
  const char* const b_next = static_cast<const char*>(t.b_next);
  size_t ir = 0, frac = 0;
  for (size_t r = 0; r < nt; ++r) {
    size_t rows = step;
    frac += rem;
    if (frac >= nt) {
      frac -= nt;
      ++rows;
    }
    if (direct) {
      direct_tile(ir, rows, b_next && r >= first_pf ? b_next + (r - first_pf) * part : nullptr, r == 0 && t.b_stream,
                  spread);
    } else {
      TileArgs tr = tile_rows_from(t, ir);
      tr.b_next = r + 1 == nt ? t.b_next : nullptr;
      tr.b_stream = r == 0 && t.b_stream;
      array_tile(ir, rows, tr);
    }
    ir += rows;
  }
}

// Two row tiles of one call taking turns over chunks of `chunk` K groups (MR < m <= 2 MR, A in
// place; GemmConfig::max_rows_per_call): each chunk of the B panel is read from L2 or memory by
// the first tile and from L1 by the second, so B streams once, in order, instead of once per
// tile; the second fetches the next panel's chunk (b_next) as the one-tile kernels do. k_loop(acc,
// groups, a, b, pf, tile, last) is the kernel's K loop over the accumulators of tile 0 or 1 (read
// first, written last, so they wait in L1 between chunks); in the last chunk (`last`) it may
// store the tile from its registers instead (DirectStore). group_bytes is B's bytes per K group.
template <class Acc0, class Acc1, class KLoop>
inline __attribute__((always_inline)) void pair_over_k_chunks(Acc0& acc0, Acc1& acc1, size_t groups, size_t chunk,
                                                               size_t group_bytes, size_t kr, const uint8_t* a0,
                                                               const uint8_t* a1, const int8_t* b, const char* b_next,
                                                               KLoop&& k_loop) {
  for (size_t g0 = 0; g0 < groups; g0 += chunk) {
    const size_t gl = size_min(chunk, groups - g0);
    const bool last = g0 + gl == groups;
    const int8_t* bc = b + g0 * group_bytes;
    k_loop(acc0, gl, a0 + g0 * kr, bc, static_cast<const char*>(nullptr), 0, last);
    k_loop(acc1, gl, a1 + g0 * kr, bc, b_next ? b_next + g0 * group_bytes : static_cast<const char*>(nullptr), 1,
           last);
  }
}

// Calls f(integral_constant<int, M0>, integral_constant<int, M1>) with the two tiles' rows for
// m in [7, 12] on a 6-row tile: M0 = ceil(m / 2), M1 = floor(m / 2).
template <class F>
inline void with_pair_rows(size_t m, F&& f) {
  using std::integral_constant;
  switch (m) {
    case 7: return f(integral_constant<int, 4>{}, integral_constant<int, 3>{});
    case 8: return f(integral_constant<int, 4>{}, integral_constant<int, 4>{});
    case 9: return f(integral_constant<int, 5>{}, integral_constant<int, 4>{});
    case 10: return f(integral_constant<int, 5>{}, integral_constant<int, 5>{});
    case 11: return f(integral_constant<int, 6>{}, integral_constant<int, 5>{});
    default: return f(integral_constant<int, 6>{}, integral_constant<int, 6>{});
  }
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
