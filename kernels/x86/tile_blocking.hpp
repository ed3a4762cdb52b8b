// Cache decisions shared by the x86 VNNI kernels (AVX-512 VNNI, AVX-VNNI): the MC rule and the
// prefetch of a tile's C lines. Plain integer code and _mm_prefetch; internal linkage, since
// each ISA's object compiles its own copy with its own flags (test odr_isa_objects).
#pragma once

#include <cstddef>

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
// A and B) exceeds L2, the stores at the end of the tile otherwise wait for each line (Ice Lake,
// 512x768x768: 0.71-0.73x oneDNN without, 0.88-0.95x with; docs/notes/issue-16.md). Only bytes
// of the tile's own rows are touched; a prefetch never faults.
inline void prefetch_c_tile(const void* c, size_t c_stride, int rows, size_t n, StageKind kind) {
  const size_t row_bytes = n * (kind == StageKind::s32 || kind == StageKind::f32 ? 4 : 1);
  for (int i = 0; i < rows; ++i) {
    const char* r = static_cast<const char*>(c) + static_cast<size_t>(i) * c_stride;
    for (size_t o = 0; o < row_bytes; o += 64) _mm_prefetch(r + o, _MM_HINT_T0);
    _mm_prefetch(r + row_bytes - 1, _MM_HINT_T0);  // the last line when r is not line-aligned
  }
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
