// The output stage, one home: the public builders, the checks of a description, its expansion
// into the per-column tables the kernels' stores read (StageParams, kernels/output_stage.hpp),
// and the public requantization helpers (TFLite QuantizeMultiplier and
// MultiplyByQuantizedMultiplier) on top of the scalar definitions the kernels share
// (kernels/scalar/requant_scalar.hpp, also the reference store every ISA may fall back to).
#include "output_stage.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "errors.hpp"
#include "qgemm/qgemm.hpp"
#include "scalar/requant_scalar.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

bool finite_positive(float x) { return std::isfinite(x) && x > 0.0f; }

// The f32 and float-multiplier stages scale by sa * sb[j] in float32: each scale must be
// finite and > 0, and so must their product, as a normal float (a product that underflows
// gives a multiplier of 0 or a denormal, which loses the result and, in the float-multiplier
// stage, makes bias / (sa*sb) infinite).
Status check_scale_product(const OutputStage& o, int64_t j) {
  const float s = o.act_scale * o.weight_scale[j];
  if (!finite_positive(o.weight_scale[j]) || !(s >= std::numeric_limits<float>::min()) || !std::isfinite(s))
    return fail(Status::bad_output_params,
                "weight_scale[%lld]=%g: it must be finite and > 0, and act_scale*weight_scale = %g a finite, normal float",
                static_cast<long long>(j), o.weight_scale[j], s);
  return Status::ok;
}

Status check_f32(const OutputStage& o, int64_t N, int64_t count) {
  if (o.bias_s32) return fail(Status::bad_output_params, "f32 output takes a float bias, not an int32 one");
  if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "f32 output: weight_scale is null");
  if (!finite_positive(o.act_scale))
    return fail(Status::bad_output_params, "act_scale=%g must be finite and > 0", o.act_scale);
  for (int64_t j = 0; j < count; ++j)
    if (Status s = check_scale_product(o, j); s != Status::ok) return s;
  if (o.bias_f32)
    for (int64_t j = 0; j < N; ++j)
      if (!std::isfinite(o.bias_f32[j]))
        return fail(Status::bad_output_params, "bias_f32[%lld]=%g is not finite", static_cast<long long>(j), o.bias_f32[j]);
  if (std::isnan(o.clamp_lo_f32) || std::isnan(o.clamp_hi_f32) || o.clamp_lo_f32 > o.clamp_hi_f32)
    return fail(Status::bad_output_params, "f32 clamp [%g, %g] is empty or NaN", o.clamp_lo_f32, o.clamp_hi_f32);
  return Status::ok;
}

Status check_fixed_point(const OutputStage& o, int64_t N, int64_t count) {
  if (o.bias_f32) return fail(Status::bad_output_params, "fixed-point requantization takes an int32 bias, not a float one");
  if (o.rounding != Rounding::double_rounding && o.rounding != Rounding::single_rounding)
    return fail(Status::bad_argument, "unknown rounding %d", static_cast<int>(o.rounding));
  if ((!o.multiplier || !o.shift) && N > 0)
    return fail(Status::null_pointer, "fixed-point requantization: multiplier or shift is null");
  for (int64_t j = 0; j < count; ++j) {
    if (o.multiplier[j] < 0)
      return fail(Status::bad_output_params, "multiplier[%lld]=%d must be >= 0", static_cast<long long>(j), o.multiplier[j]);
    if (o.shift[j] < -31 || o.shift[j] > 30)
      return fail(Status::bad_output_params, "shift[%lld]=%d outside [-31, 30]", static_cast<long long>(j), o.shift[j]);
  }
  return Status::ok;
}

Status check_float_multiplier(const OutputStage& o, int64_t N, int64_t count) {
  if (o.bias_s32 && o.bias_f32) return fail(Status::bad_output_params, "give an int32 or a float bias, not both");
  if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "float multiplier: weight_scale is null");
  if (!finite_positive(o.act_scale) || !finite_positive(o.out_scale))
    return fail(Status::bad_output_params, "act_scale=%g and out_scale=%g must be finite and > 0", o.act_scale, o.out_scale);
  for (int64_t j = 0; j < count; ++j) {
    if (Status s = check_scale_product(o, j); s != Status::ok) return s;
    const float m = o.act_scale * o.weight_scale[j] / o.out_scale;
    if (!(m >= std::numeric_limits<float>::min()) || !std::isfinite(m))
      return fail(Status::bad_output_params,
                  "multiplier act_scale*weight_scale[%lld]/out_scale = %g*%g/%g is not a finite, normal float > 0",
                  static_cast<long long>(j), o.act_scale, o.weight_scale[j], o.out_scale);
  }
  // The kernels add bias_f32[j] / (sa*sb[j]) to float(acc): it must be finite too, or the
  // product with the multiplier can be inf*0 = NaN, which no rounding defines.
  if (o.bias_f32)
    for (int64_t j = 0; j < N; ++j) {
      const float sab = o.act_scale * o.weight_scale[o.per_column ? j : 0];
      if (!std::isfinite(o.bias_f32[j]) || !std::isfinite(o.bias_f32[j] / sab))
        return fail(Status::bad_output_params, "bias_f32[%lld]=%g: it or bias/(act_scale*weight_scale) = %g is not finite",
                    static_cast<long long>(j), o.bias_f32[j], o.bias_f32[j] / sab);
    }
  return Status::ok;
}

// u8/s8 output: the zero point and clamp range within the type, then the requantization's own.
Status check_quantized(const OutputStage& o, int64_t N, int64_t count, int32_t* lo, int32_t* hi) {
  const int32_t tmin = o.type == OutputType::u8 ? 0 : -128;
  const int32_t tmax = o.type == OutputType::u8 ? 255 : 127;
  if (o.zero_point < tmin || o.zero_point > tmax)
    return fail(Status::bad_zero_point, "output zero point %d outside [%d, %d]", o.zero_point, tmin, tmax);
  *lo = o.clamp_lo == kI32Min ? tmin : o.clamp_lo;
  *hi = o.clamp_hi == kI32Max ? tmax : o.clamp_hi;
  if (*lo < tmin || *hi > tmax || *lo > *hi)
    return fail(Status::bad_output_params, "clamp [%d, %d] must be a non-empty range within [%d, %d]",
                *lo, *hi, tmin, tmax);
  if (o.requant == Requant::fixed_point) return check_fixed_point(o, N, count);
  if (o.requant != Requant::float_multiplier)
    return fail(Status::bad_argument, "unknown requantization %d", static_cast<int>(o.requant));
  return check_float_multiplier(o, N, count);
}

}  // namespace

Status check_output_stage(const OutputStage& o, int64_t N, int32_t* lo, int32_t* hi) noexcept {
  const int64_t count = o.per_column ? N : (N > 0 ? 1 : 0);
  switch (o.type) {
    case OutputType::s32:
      if (o.bias_f32) return fail(Status::bad_output_params, "s32 output takes an int32 bias, not a float one");
      return Status::ok;
    case OutputType::f32:
      return check_f32(o, N, count);
    case OutputType::u8:
    case OutputType::s8:
      return check_quantized(o, N, count, lo, hi);
  }
  return fail(Status::bad_argument, "unknown output type %d", static_cast<int>(o.type));
}

void expand_output_stage(const OutputStage& out, int32_t lo, int32_t hi, int32_t za, const PackedWeights& b,
                         const StageTables& t, StageParams* p) noexcept {
  const size_t n = static_cast<size_t>(b.N);
  *p = StageParams{};
  p->out_bytes = static_cast<uint8_t>(output_element_size(out.type));
  p->col_off = t.col_off;
  p->zb = b.zb;
  p->zb_zero = b.zb_all_zero;  // the kernels may skip row_sum[i] * zb[j]
  p->zo = out.zero_point;
  p->qmin = lo - out.zero_point;
  p->qmax = hi - out.zero_point;
  p->out_u8 = out.type == OutputType::u8;
  p->fmin = out.clamp_lo_f32;
  p->fmax = out.clamp_hi_f32;
  // Modular: bias - za*colsum + K*za*zb. Through restrict pointers (the tables are the plan's
  // own scratch) and without a test per column, so that the loop vectorizes: it runs on every
  // call, over N.
  const uint32_t kza = static_cast<uint32_t>(b.K) * static_cast<uint32_t>(za), uza = static_cast<uint32_t>(za);
  uint32_t* __restrict off = reinterpret_cast<uint32_t*>(t.col_off);
  const uint32_t* __restrict cs = reinterpret_cast<const uint32_t*>(b.colsum);
  const uint32_t* __restrict zb = reinterpret_cast<const uint32_t*>(b.zb);
  if (const uint32_t* __restrict bias = reinterpret_cast<const uint32_t*>(out.bias_s32)) {
    for (size_t j = 0; j < n; ++j) off[j] = bias[j] - uza * cs[j] + kza * zb[j];
  } else {
    for (size_t j = 0; j < n; ++j) off[j] = kza * zb[j] - uza * cs[j];
  }
  auto col = [&](size_t j) { return out.per_column ? j : 0; };
  if (out.type == OutputType::s32) {
    p->kind = StageKind::s32;
  } else if (out.type == OutputType::f32) {
    p->kind = StageKind::f32;
    for (size_t j = 0; j < n; ++j) {
      t.scale[j] = out.act_scale * out.weight_scale[col(j)];
      t.fbias[j] = out.bias_f32 ? out.bias_f32[j] : 0.0f;
    }
    p->scale = t.scale;
    p->fbias = t.fbias;
  } else if (out.requant == Requant::fixed_point) {
    p->kind = out.rounding == Rounding::single_rounding ? StageKind::fixed_single : StageKind::fixed_double;
    for (size_t j = 0; j < n; ++j) {
      t.mult[j] = out.multiplier[col(j)];
      t.shift[j] = out.shift[col(j)];
    }
    p->mult = t.mult;
    p->shift = t.shift;
  } else {
    p->kind = StageKind::float_mult;
    for (size_t j = 0; j < n; ++j) {
      const float sab = out.act_scale * out.weight_scale[col(j)];  // FBGEMM's act_times_w_scale
      t.scale[j] = sab / out.out_scale;
      t.fbias[j] = out.bias_f32 ? out.bias_f32[j] / sab : 0.0f;
    }
    p->scale = t.scale;
    p->fbias = t.fbias;
  }
}

StageParams raw_sums_stage(const int32_t* zeros) noexcept {
  StageParams p{};
  p.kind = StageKind::s32;
  p.out_bytes = 4;
  p.col_off = zeros;
  p.zb = zeros;
  p.zb_zero = true;
  return p;
}

}  // namespace detail

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
