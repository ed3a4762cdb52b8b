// Output-stage builders and the public requantization helpers (TFLite QuantizeMultiplier and
// MultiplyByQuantizedMultiplier), on top of the scalar definitions the kernels share.
#include <cmath>
#include <cstdint>

#include "errors.hpp"
#include "qgemm/qgemm.hpp"
#include "scalar/requant_scalar.hpp"

namespace qgemm {
using namespace detail;

OutputStage output_s32(const int32_t* bias) noexcept {
  OutputStage o;
  o.type = OutputType::s32;
  o.bias_s32 = bias;
  return o;
}

OutputStage output_fixed_point(OutputType type, const int32_t* multiplier, const int32_t* shift,
                               bool per_column, int32_t zero_point, const int32_t* bias,
                               Rounding rounding) noexcept {
  OutputStage o;
  o.type = type;
  o.requant = Requant::fixed_point;
  o.rounding = rounding;
  o.multiplier = multiplier;
  o.shift = shift;
  o.per_column = per_column;
  o.zero_point = zero_point;
  o.bias_s32 = bias;
  return o;
}

OutputStage output_float_multiplier(OutputType type, float act_scale, const float* weight_scale,
                                    bool per_column, float out_scale, int32_t zero_point,
                                    const int32_t* bias_s32, const float* bias_f32) noexcept {
  OutputStage o;
  o.type = type;
  o.requant = Requant::float_multiplier;
  o.act_scale = act_scale;
  o.weight_scale = weight_scale;
  o.per_column = per_column;
  o.out_scale = out_scale;
  o.zero_point = zero_point;
  o.bias_s32 = bias_s32;
  o.bias_f32 = bias_f32;
  return o;
}

OutputStage output_f32(float act_scale, const float* weight_scale, bool per_column,
                       const float* bias) noexcept {
  OutputStage o;
  o.type = OutputType::f32;
  o.act_scale = act_scale;
  o.weight_scale = weight_scale;
  o.per_column = per_column;
  o.bias_f32 = bias;
  return o;
}

Status quantize_multiplier(double real, int32_t* multiplier, int32_t* shift) noexcept {
  if (!multiplier || !shift) return fail(Status::null_pointer, "quantize_multiplier: null output");
  if (!std::isfinite(real) || real < 0.0)
    return fail(Status::bad_output_params, "quantize_multiplier: %g must be finite and >= 0", real);
  if (real == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return succeed();
  }
  int e = 0;
  const double q = std::frexp(real, &e);  // real = q * 2^e, q in [0.5, 1)
  int64_t q_fixed = static_cast<int64_t>(std::round(q * static_cast<double>(int64_t{1} << 31)));
  if (q_fixed == (int64_t{1} << 31)) {
    q_fixed /= 2;
    ++e;
  }
  if (e < -31) {  // every bit would be shifted out: TFLite uses 0 * 2^0
    e = 0;
    q_fixed = 0;
  }
  if (e > 30)
    return fail(Status::bad_output_params, "quantize_multiplier: %g needs a shift of %d > 30", real, e);
  *multiplier = static_cast<int32_t>(q_fixed);
  *shift = e;
  return succeed();
}

int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift,
                                         Rounding rounding) noexcept {
  if (shift < -31) shift = -31;
  if (shift > 30) shift = 30;
  return rounding == Rounding::single_rounding ? mbqm_single(x, multiplier, shift)
                                               : mbqm_double(x, multiplier, shift);
}

int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) noexcept { return srdhm(a, b); }

int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) noexcept {
  if (exponent < 0) exponent = 0;
  if (exponent > 31) exponent = 31;
  return rdbpot(x, exponent);
}

}  // namespace qgemm
