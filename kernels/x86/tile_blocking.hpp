// Cache decisions shared by the x86 VNNI kernels (AVX-512 VNNI, AVX-VNNI): the MC rule, the
// prefetch of a tile's C lines, and the K-chunk order of two row tiles in one call. Plain integer
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

// Two row tiles of one call taking turns over chunks of `chunk` K groups (MR < m <= 2 MR, A in
// place; GemmConfig::max_rows_per_call): each chunk of the B panel is read from L2 or memory by
// the first tile and from L1 by the second, so B streams once, in order, instead of once per
// tile; the second fetches the next panel's chunk (b_next) as the one-tile kernels do. k_loop(acc,
// groups, a, b, pf) is the kernel's K loop over one tile's accumulators (read first, written
// last, so they wait in L1 between chunks); group_bytes is B's bytes per K group.
template <class Acc0, class Acc1, class KLoop>
inline void pair_over_k_chunks(Acc0& acc0, Acc1& acc1, size_t groups, size_t chunk, size_t group_bytes,
                               size_t kr, const uint8_t* a0, const uint8_t* a1, const int8_t* b,
                               const char* b_next, KLoop&& k_loop) {
  for (size_t g0 = 0; g0 < groups; g0 += chunk) {
    const size_t gl = size_min(chunk, groups - g0);
    const int8_t* bc = b + g0 * group_bytes;
    k_loop(acc0, gl, a0 + g0 * kr, bc, static_cast<const char*>(nullptr));
    k_loop(acc1, gl, a1 + g0 * kr, bc, b_next ? b_next + g0 * group_bytes : static_cast<const char*>(nullptr));
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
