// The output stage's home on the driver's side (src/output_stage.cpp): its checks, and its
// expansion into the per-column tables the kernels' stores read (kernels/output_stage.hpp).
// The builders are public (include/qgemm/qgemm.hpp). A new stage: its entry in the public
// OutputStage, here, in kernels/output_stage.hpp and the reference store, then its SIMD
// store per ISA where it pays (docs/adding-an-output-stage.md). Internal header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "output_stage.hpp"
#include "packed_weights.hpp"
#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

// Checks an output description against N (null pointers, scales, clamp ranges, zero points);
// on success [*lo, *hi] is the resolved u8/s8 clamp range.
Status check_output_stage(const OutputStage& o, int64_t N, int32_t* lo, int32_t* hi) noexcept;

// The per-column tables of one call, n entries each, in scratch the plan allocated.
struct StageTables {
  int32_t* col_off;
  int32_t* mult;
  int32_t* shift;
  float* scale;
  float* fbias;
};
constexpr size_t kStageTableCount = 5;

// Fills the tables and *p for a checked stage over the N columns of b, A's zero point za and
// the clamp range check_output_stage resolved.
void expand_output_stage(const OutputStage& out, int32_t lo, int32_t hi, int32_t za, const PackedWeights& b,
                         const StageTables& t, StageParams* p) noexcept;

// The stage of the K blocks before the last one: raw int32 sums, no offsets (zeros: N int32
// zeros, used as col_off and zb).
StageParams raw_sums_stage(const int32_t* zeros) noexcept;

}  // namespace detail
}  // namespace qgemm
