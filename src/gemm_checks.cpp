// gemm()'s argument checks: shapes, pointers, zero points, thread counts, the output stage's
// parameters, the active ISA against the packed weights, the extents of A and C, and the exact
// int32 overflow bound. Each failure has its own status and message (README, "Errors").
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "dispatch.hpp"
#include "errors.hpp"
#include "gemm_driver.hpp"

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

// Checks the output description against N; fills the resolved clamp range for u8/s8.
Status check_stage(const OutputStage& o, int64_t N, int32_t* lo, int32_t* hi) {
  const int64_t count = o.per_column ? N : (N > 0 ? 1 : 0);
  switch (o.type) {
    case OutputType::s32:
      if (o.bias_f32) return fail(Status::bad_output_params, "s32 output takes an int32 bias, not a float one");
      return Status::ok;
    case OutputType::f32: {
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
    case OutputType::u8:
    case OutputType::s8:
      break;
    default:
      return fail(Status::bad_argument, "unknown output type %d", static_cast<int>(o.type));
  }
  const int32_t tmin = o.type == OutputType::u8 ? 0 : -128;
  const int32_t tmax = o.type == OutputType::u8 ? 255 : 127;
  if (o.zero_point < tmin || o.zero_point > tmax)
    return fail(Status::bad_zero_point, "output zero point %d outside [%d, %d]", o.zero_point, tmin, tmax);
  *lo = o.clamp_lo == kI32Min ? tmin : o.clamp_lo;
  *hi = o.clamp_hi == kI32Max ? tmax : o.clamp_hi;
  if (*lo < tmin || *hi > tmax || *lo > *hi)
    return fail(Status::bad_output_params, "clamp [%d, %d] must be a non-empty range within [%d, %d]",
                *lo, *hi, tmin, tmax);
  if (o.requant == Requant::fixed_point) {
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
  if (o.requant != Requant::float_multiplier)
    return fail(Status::bad_argument, "unknown requantization %d", static_cast<int>(o.requant));
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

}  // namespace

size_t element_size(OutputType t) {
  return (t == OutputType::s32 || t == OutputType::f32) ? 4 : 1;
}

Status check_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
                  const OutputStage& out, const void* c, int64_t ldc, const GemmOptions& opt,
                  const GemmConfig** cfg_out, int32_t* lo, int32_t* hi) noexcept {
  if (!b) return fail(Status::null_pointer, "gemm: packed weights are null");
  const int64_t K = b->K, N = b->N;
  if (M < 0) return fail(Status::negative_dimension, "gemm: M=%lld must be >= 0", static_cast<long long>(M));
  if (lda < K)
    return fail(Status::bad_leading_dimension, "gemm: lda=%lld < K=%lld", static_cast<long long>(lda), static_cast<long long>(K));
  if (ldc < N)
    return fail(Status::bad_leading_dimension, "gemm: ldc=%lld < N=%lld", static_cast<long long>(ldc), static_cast<long long>(N));
  if (!a && M != 0 && K != 0) return fail(Status::null_pointer, "gemm: A is null");
  if (!c && M != 0 && N != 0) return fail(Status::null_pointer, "gemm: C is null");
  if (za < 0 || za > 255) return fail(Status::bad_zero_point, "gemm: za=%d outside [0, 255]", za);
  if (opt.num_threads < 0 || opt.num_threads > kMaxThreads)
    return fail(Status::bad_argument, "gemm: num_threads=%d outside [0, %d]", opt.num_threads, kMaxThreads);
  if (Status s = check_stage(out, N, lo, hi); s != Status::ok) return s;
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  if (cfg != b->cfg)
    return fail(Status::packed_isa_mismatch, "gemm: weights were packed for %s but the active ISA is %s; pack them again",
                isa_name(b->cfg->isa), isa_name(cfg->isa));
  // The extents of A ((M-1)*lda + K bytes) and C (((M-1)*ldc + N) elements) must be addressable.
  const size_t esize = element_size(out.type);
  if (M > 0) {
    int64_t extent = 0;
    if (K > 0 && (__builtin_mul_overflow(M - 1, lda, &extent) || __builtin_add_overflow(extent, K, &extent)))
      return fail(Status::bad_leading_dimension, "gemm: A's extent (M-1)*lda+K overflows (M=%lld, lda=%lld)",
                  static_cast<long long>(M), static_cast<long long>(lda));
    if (N > 0 && (__builtin_mul_overflow(M - 1, ldc, &extent) || __builtin_add_overflow(extent, N, &extent) ||
                  __builtin_mul_overflow(extent, static_cast<int64_t>(esize), &extent)))
      return fail(Status::bad_leading_dimension, "gemm: C's extent ((M-1)*ldc+N)*%zu bytes overflows (M=%lld, ldc=%lld)",
                  esize, static_cast<long long>(M), static_cast<long long>(ldc));
  }
  const int64_t amax = std::max(za, 255 - za);
  for (int64_t j = 0; j < N; ++j) {
    const int64_t bias = out.bias_s32 ? std::abs(static_cast<int64_t>(out.bias_s32[j])) : 0;
    if (amax * b->l1[j] + bias > kI32Max)
      return fail(Status::overflow_risk,
                  "gemm: column %lld can reach |acc| = %lld*%lld + %lld > INT32_MAX (K=%lld, za=%d)",
                  static_cast<long long>(j), static_cast<long long>(amax), static_cast<long long>(b->l1[j]),
                  static_cast<long long>(bias), static_cast<long long>(K), za);
  }
  *cfg_out = cfg;
  return Status::ok;
}

}  // namespace detail
}  // namespace qgemm
