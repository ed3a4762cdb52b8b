// The output stage as the kernels see it: the kinds and the per-call tables a microkernel's
// store reads (StageParams). The stage's public description (qgemm::OutputStage), its builders,
// its checks and its expansion into these tables live in one unit, src/output_stage.cpp; the
// definition every store must reproduce bit for bit is kernels/scalar/requant_scalar.hpp, which
// is also the store any ISA may fall back to (store_tile_ref). docs/adding-an-output-stage.md
// lists the files a new stage touches. Internal header: not installed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

enum class StageKind : uint8_t {
  s32 = 0,           // store acc
  fixed_double = 1,  // u8/s8, TFLite double rounding
  fixed_single = 2,  // u8/s8, TFLite single rounding
  float_mult = 3,    // u8/s8, FBGEMM float multiplier
  f32 = 4,           // float, fmaf(float(acc), scale[j], fbias[j]) then clamp
};

// Output-stage data of one call, the same for every tile (nothing per tile: that is TileArgs,
// kernels/ukernel.hpp). Every array is per column, indexed by the absolute column j (the
// expansion writes per-tensor values into every column), and always present for the stages
// that read it, so a kernel never branches on "per tensor or per column" or "bias or not".
struct StageParams {
  StageKind kind;
  bool out_u8;             // u8/s8 stages: true for uint8 output, false for int8
  uint8_t out_bytes;       // bytes of one element of C (qgemm::output_element_size)
  const int32_t* col_off;  // all stages
  const int32_t* zb;       // all stages (zeros when B has no zero point)
  bool zb_zero;            // every zb[j] is 0: a kernel may skip row_sum[i] * zb[j]
  const int32_t* mult;     // fixed_*: Q31 multiplier
  const int32_t* shift;    // fixed_*: TFLite shift, > 0 is a left shift, in [-31, 30]
  const float* scale;      // float_mult: (sa*sb[j])/so; f32: sa*sb[j]
  const float* fbias;      // float_mult: bias_f32[j]/(sa*sb[j]) or 0; f32: bias_f32[j] or 0
  // u8/s8: the result r (before the zero point) is clamped to [qmin, qmax] = [lo-zo, hi-zo]
  // and then zo is added, which equals clamp(r + zo, lo, hi) without any int32 overflow.
  int32_t zo;
  int32_t qmin, qmax;
  float fmin, fmax;  // f32 clamp: y = min(fmax, max(fmin, y)), NaN propagates
};

}  // namespace detail
}  // namespace qgemm
