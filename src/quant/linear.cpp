// Dynamic and static quantized linear layers on top of the public GEMM API (qgemm::gemm with
// the f32, float-multiplier and fixed-point output stages). Nothing here touches a kernel
// directly.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "qgemm/linear.hpp"

namespace qgemm {

using detail::fail;
using detail::succeed;

namespace {
thread_local std::vector<uint8_t> g_xq;  // quantized X of DynamicLinear::forward, grow-only
}

// ---------------------------------------------------------------------------------------
DynamicLinear::~DynamicLinear() { destroy_packed_weights(packed_); }

DynamicLinear::DynamicLinear(DynamicLinear&& o) noexcept { *this = std::move(o); }

DynamicLinear& DynamicLinear::operator=(DynamicLinear&& o) noexcept {
  if (this != &o) {
    destroy_packed_weights(packed_);
    in_ = o.in_;
    out_ = o.out_;
    opt_ = o.opt_;
    wq_ = std::move(o.wq_);
    ws_ = std::move(o.ws_);
    bias_ = std::move(o.bias_);
    wzp_ = std::move(o.wzp_);
    packed_ = o.packed_;
    o.packed_ = nullptr;
    o.in_ = o.out_ = 0;
  }
  return *this;
}

Status DynamicLinear::init(const float* weight, int64_t out, int64_t in, const float* bias,
                           const DynamicLinearOptions& opt) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "DynamicLinear: features must be >= 1");
  if (!weight) return fail(Status::null_pointer, "DynamicLinear: null weights");
  std::vector<int8_t> q;
  std::vector<float> s;
  std::vector<int32_t> zp;
  try {
    q.resize(static_cast<size_t>(out) * static_cast<size_t>(in));
    s.resize(opt.per_channel ? out : 1);
    zp.resize(s.size());
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "DynamicLinear: out of memory");
  }
  if (opt.per_channel) {
    const int64_t shape[2] = {out, in};
    if (Status st = choose_qparams_per_channel(weight, shape, 2, 0, QType::s8, QScheme::symmetric, false,
                                               s.data(), zp.data());
        st != Status::ok)
      return st;
    if (Status st = quantize_per_channel(weight, shape, 2, 0, s.data(), zp.data(), QType::s8, q.data());
        st != Status::ok)
      return st;
  } else {
    QParams p;
    if (Status st = choose_qparams_tensor(weight, out * in, QType::s8, QScheme::symmetric, false, &p);
        st != Status::ok)
      return st;
    s[0] = p.scale;
    if (Status st = quantize(weight, out * in, p, q.data()); st != Status::ok) return st;
  }
  return init_quantized(q.data(), out, in, s.data(), nullptr, bias, opt);
}

Status DynamicLinear::init_quantized(const int8_t* weight_q, int64_t out, int64_t in, const float* scales,
                                     const int32_t* zero_points, const float* bias,
                                     const DynamicLinearOptions& opt) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "DynamicLinear: features must be >= 1");
  if (!weight_q || !scales) return fail(Status::null_pointer, "DynamicLinear: null weights or scales");
  if (static_cast<uint64_t>(out) * static_cast<uint64_t>(in) > (uint64_t{1} << 40))
    return fail(Status::bad_argument, "DynamicLinear: too large");
  const size_t nc = opt.per_channel ? static_cast<size_t>(out) : 1;
  for (size_t j = 0; j < nc; ++j)
    if (!(scales[j] > 0.0f) || !std::isfinite(scales[j]))
      return fail(Status::bad_output_params, "DynamicLinear: weight scale %zu must be finite and > 0", j);
  std::vector<int8_t> q;
  std::vector<float> s, b;
  std::vector<int32_t> zp;
  try {
    q.assign(weight_q, weight_q + static_cast<size_t>(out) * static_cast<size_t>(in));
    s.assign(scales, scales + nc);
    if (zero_points)
      zp.assign(zero_points, zero_points + nc);
    else
      zp.assign(nc, 0);
    if (bias) b.assign(bias, bias + out);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "DynamicLinear: out of memory");
  }
  // All-zero zero points (symmetric weights, PyTorch's default) pack as "none", the same
  // packed object init() made before zero points were accepted.
  const bool any_zp = std::any_of(zp.begin(), zp.end(), [](int32_t z) { return z != 0; });
  PackedWeights* pw = nullptr;
  if (Status st = pack_weights(q.data(), WeightLayout::nk, in, out, in, any_zp ? zp.data() : nullptr,
                               any_zp && opt.per_channel, &pw);
      st != Status::ok)
    return st;
  destroy_packed_weights(packed_);
  packed_ = pw;
  in_ = in;
  out_ = out;
  opt_ = opt;
  wq_ = std::move(q);
  ws_ = std::move(s);
  wzp_ = std::move(zp);
  bias_ = std::move(b);
  return succeed();
}

Status DynamicLinear::forward(int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
                              QParams* x_params) const noexcept {
  return forward(M, x, ldx, y, ldy, GemmOptions{}, x_params);
}

Status DynamicLinear::forward(int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
                              const GemmOptions& gemm_options, QParams* x_params) const noexcept {
  if (!packed_) return fail(Status::bad_argument, "DynamicLinear::forward: not initialised");
  if (M < 0) return fail(Status::negative_dimension, "DynamicLinear::forward: M < 0");
  if (ldx < in_ || ldy < out_) return fail(Status::bad_leading_dimension, "DynamicLinear::forward: ldx < in or ldy < out");
  if (M == 0) return succeed();
  if (!x || !y) return fail(Status::null_pointer, "DynamicLinear::forward: null x or y");
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < M; ++i) {
    float a, b;
    if (Status st = min_max(x + i * ldx, in_, &a, &b); st != Status::ok) return st;
    lo = std::min(lo, a);
    hi = std::max(hi, b);
  }
  QParams p;
  if (Status st = choose_qparams_dynamic(lo, hi, opt_.reduce_range, &p); st != Status::ok) return st;
  if (static_cast<uint64_t>(M) > (uint64_t{1} << 40) / static_cast<uint64_t>(in_))
    return fail(Status::bad_argument, "DynamicLinear::forward: M * in_features too large");
  const size_t need = static_cast<size_t>(M) * static_cast<size_t>(in_);
  try {
    if (g_xq.size() < need) g_xq.resize(need);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "DynamicLinear::forward: out of memory");
  }
  for (int64_t i = 0; i < M; ++i)
    if (Status st = quantize(x + i * ldx, in_, p, g_xq.data() + i * in_); st != Status::ok) return st;
  const OutputStage os = output_f32(p.scale, ws_.data(), opt_.per_channel, bias_.empty() ? nullptr : bias_.data());
  if (Status st = gemm(M, g_xq.data(), in_, p.zero_point, packed_, os, y, ldy, gemm_options); st != Status::ok)
    return st;
  if (x_params) *x_params = p;
  return succeed();
}

// ---------------------------------------------------------------------------------------
StaticLinear::~StaticLinear() { destroy_packed_weights(packed_); }

StaticLinear::StaticLinear(StaticLinear&& o) noexcept { *this = std::move(o); }

StaticLinear& StaticLinear::operator=(StaticLinear&& o) noexcept {
  if (this != &o) {
    destroy_packed_weights(packed_);
    in_ = o.in_;
    out_ = o.out_;
    mode_ = o.mode_;
    rounding_ = o.rounding_;
    per_channel_ = o.per_channel_;
    x_ = o.x_;
    y_ = o.y_;
    lo_ = o.lo_;
    hi_ = o.hi_;
    ws_ = std::move(o.ws_);
    bias_f32_ = std::move(o.bias_f32_);
    bias_s32_ = std::move(o.bias_s32_);
    wq_ = std::move(o.wq_);
    wzp_ = std::move(o.wzp_);
    mult_ = std::move(o.mult_);
    shift_ = std::move(o.shift_);
    packed_ = o.packed_;
    o.packed_ = nullptr;
    o.in_ = o.out_ = 0;
  }
  return *this;
}

Status StaticLinear::init(const int8_t* weight_q, int64_t out, int64_t in, const float* weight_scales,
                          const int32_t* weight_zero_points, bool per_channel, const int32_t* bias_s32,
                          const float* bias_f32, QParams x, QParams y, int32_t clamp_lo,
                          int32_t clamp_hi) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "StaticLinear: features must be >= 1");
  if (!weight_q || !weight_scales) return fail(Status::null_pointer, "StaticLinear: null weights or scales");
  if (bias_s32 && bias_f32) return fail(Status::bad_output_params, "StaticLinear: give an int32 or a float bias, not both");
  if (x.zero_point < 0 || x.zero_point > 255 || y.zero_point < 0 || y.zero_point > 255)
    return fail(Status::bad_zero_point, "StaticLinear: activation zero points must be in [0, 255]");
  if (!(x.scale > 0.0f) || !std::isfinite(x.scale) || !(y.scale > 0.0f) || !std::isfinite(y.scale))
    return fail(Status::bad_output_params, "StaticLinear: activation scales must be finite and > 0");
  if (clamp_lo < 0 || clamp_hi > 255 || clamp_lo > clamp_hi)
    return fail(Status::bad_output_params, "StaticLinear: need 0 <= clamp_lo <= clamp_hi <= 255");
  const size_t nc = per_channel ? static_cast<size_t>(out) : 1;
  for (size_t j = 0; j < nc; ++j)
    if (!(weight_scales[j] > 0.0f) || !std::isfinite(weight_scales[j]))
      return fail(Status::bad_output_params, "StaticLinear: weight scale %zu must be finite and > 0", j);
  if (static_cast<uint64_t>(out) * static_cast<uint64_t>(in) > (uint64_t{1} << 40))
    return fail(Status::bad_argument, "StaticLinear: too large");
  std::vector<float> ws, bf;
  std::vector<int32_t> bs, zp;
  std::vector<int8_t> q;
  try {
    ws.assign(weight_scales, weight_scales + nc);
    q.assign(weight_q, weight_q + static_cast<size_t>(out) * static_cast<size_t>(in));
    if (weight_zero_points)
      zp.assign(weight_zero_points, weight_zero_points + nc);
    else
      zp.assign(nc, 0);
    if (bias_f32) bf.assign(bias_f32, bias_f32 + out);
    if (bias_s32) bs.assign(bias_s32, bias_s32 + out);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "StaticLinear: out of memory");
  }
  PackedWeights* pw = nullptr;
  if (Status st = pack_weights(weight_q, WeightLayout::nk, in, out, in, weight_zero_points,
                               per_channel && weight_zero_points, &pw);
      st != Status::ok)
    return st;
  destroy_packed_weights(packed_);
  packed_ = pw;
  in_ = in;
  out_ = out;
  mode_ = StaticLinearMode::u8_fbgemm;
  rounding_ = Rounding::double_rounding;
  per_channel_ = per_channel;
  x_ = x;
  y_ = y;
  lo_ = clamp_lo;
  hi_ = clamp_hi;
  ws_ = std::move(ws);
  bias_f32_ = std::move(bf);
  bias_s32_ = std::move(bs);
  wq_ = std::move(q);
  wzp_ = std::move(zp);
  mult_.clear();
  shift_.clear();
  return succeed();
}

Status StaticLinear::init_s8(const int8_t* weight_q, int64_t out, int64_t in, const float* weight_scales,
                             bool per_channel, const int32_t* bias, QParams x, QParams y, int32_t clamp_lo,
                             int32_t clamp_hi, Rounding rounding) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "StaticLinear::init_s8: features must be >= 1");
  if (!weight_q || !weight_scales) return fail(Status::null_pointer, "StaticLinear::init_s8: null weights or scales");
  if (x.zero_point < -128 || x.zero_point > 127 || y.zero_point < -128 || y.zero_point > 127)
    return fail(Status::bad_zero_point, "StaticLinear::init_s8: activation zero points must be in [-128, 127] (x %d, y %d)",
                static_cast<int>(x.zero_point), static_cast<int>(y.zero_point));
  if (!(x.scale > 0.0f) || !std::isfinite(x.scale) || !(y.scale > 0.0f) || !std::isfinite(y.scale))
    return fail(Status::bad_output_params, "StaticLinear::init_s8: activation scales must be finite and > 0");
  if (clamp_lo < -128 || clamp_hi > 127 || clamp_lo > clamp_hi)
    return fail(Status::bad_output_params, "StaticLinear::init_s8: need -128 <= clamp_lo <= clamp_hi <= 127 (got %d, %d)",
                static_cast<int>(clamp_lo), static_cast<int>(clamp_hi));
  if (rounding != Rounding::double_rounding && rounding != Rounding::single_rounding)
    return fail(Status::bad_argument, "StaticLinear::init_s8: unknown rounding %d", static_cast<int>(rounding));
  const size_t nc = per_channel ? static_cast<size_t>(out) : 1;
  for (size_t j = 0; j < nc; ++j)
    if (!(weight_scales[j] > 0.0f) || !std::isfinite(weight_scales[j]))
      return fail(Status::bad_output_params, "StaticLinear::init_s8: weight scale %zu must be finite and > 0", j);
  if (static_cast<uint64_t>(out) * static_cast<uint64_t>(in) > (uint64_t{1} << 40))
    return fail(Status::bad_argument, "StaticLinear::init_s8: too large");
  std::vector<float> ws;
  std::vector<int32_t> bs, zp, mult, shift;
  std::vector<int8_t> q;
  try {
    ws.assign(weight_scales, weight_scales + nc);
    q.assign(weight_q, weight_q + static_cast<size_t>(out) * static_cast<size_t>(in));
    zp.assign(nc, 0);
    mult.resize(nc);
    shift.resize(nc);
    if (bias) bs.assign(bias, bias + out);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "StaticLinear::init_s8: out of memory");
  }
  // TFLite's Prepare (PopulateConvolutionQuantizationParams): the product and quotient in double.
  for (size_t j = 0; j < nc; ++j) {
    const double real = static_cast<double>(x.scale) * static_cast<double>(ws[j]) / static_cast<double>(y.scale);
    if (quantize_multiplier(real, &mult[j], &shift[j]) != Status::ok)
      return fail(Status::bad_output_params,
                  "StaticLinear::init_s8: sx*sw[%zu]/sy = %g does not fit a fixed-point multiplier (shift > 30)", j,
                  real);
  }
  // The GEMM refuses the same worst case at every call; saying so here names the channel once.
  const int64_t max_dx = std::max<int64_t>(x.zero_point + 128, 127 - x.zero_point);
  for (int64_t j = 0; j < out; ++j) {
    int64_t s = 0;
    const int8_t* row = q.data() + static_cast<size_t>(j) * static_cast<size_t>(in);
    for (int64_t k = 0; k < in; ++k) s += row[k] < 0 ? -int64_t{row[k]} : int64_t{row[k]};
    const int64_t b = bias ? std::abs(static_cast<int64_t>(bias[j])) : 0;
    if (max_dx * s + b > std::numeric_limits<int32_t>::max())
      return fail(Status::overflow_risk,
                  "StaticLinear::init_s8: output channel %lld could overflow int32 (max|x-zx| %lld * sum|w| %lld + |bias| %lld)",
                  static_cast<long long>(j), static_cast<long long>(max_dx), static_cast<long long>(s),
                  static_cast<long long>(b));
  }
  PackedWeights* pw = nullptr;
  if (Status st = pack_weights(q.data(), WeightLayout::nk, in, out, in, nullptr, false, &pw); st != Status::ok)
    return st;
  destroy_packed_weights(packed_);
  packed_ = pw;
  in_ = in;
  out_ = out;
  mode_ = StaticLinearMode::s8_tflite;
  rounding_ = rounding;
  per_channel_ = per_channel;
  x_ = x;
  y_ = y;
  lo_ = clamp_lo;
  hi_ = clamp_hi;
  ws_ = std::move(ws);
  bias_f32_.clear();
  bias_s32_ = std::move(bs);
  wq_ = std::move(q);
  wzp_ = std::move(zp);
  mult_ = std::move(mult);
  shift_ = std::move(shift);
  return succeed();
}

OutputStage StaticLinear::output_stage() const noexcept {
  if (mode_ == StaticLinearMode::s8_tflite) {
    OutputStage o = output_fixed_point(OutputType::s8, mult_.data(), shift_.data(), per_channel_, y_.zero_point,
                                       bias_s32_.empty() ? nullptr : bias_s32_.data(), rounding_);
    o.clamp_lo = lo_;
    o.clamp_hi = hi_;
    return o;
  }
  OutputStage o = output_float_multiplier(OutputType::u8, x_.scale, ws_.data(), per_channel_, y_.scale,
                                          y_.zero_point, bias_s32_.empty() ? nullptr : bias_s32_.data(),
                                          bias_f32_.empty() ? nullptr : bias_f32_.data());
  o.clamp_lo = lo_;
  o.clamp_hi = hi_;
  return o;
}

Status StaticLinear::forward(int64_t M, const uint8_t* x, int64_t ldx, uint8_t* y, int64_t ldy) const noexcept {
  return forward(M, x, ldx, y, ldy, GemmOptions{});
}

Status StaticLinear::forward(int64_t M, const uint8_t* x, int64_t ldx, uint8_t* y, int64_t ldy,
                             const GemmOptions& gemm_options) const noexcept {
  if (!packed_) return fail(Status::bad_argument, "StaticLinear::forward: not initialised");
  if (mode_ != StaticLinearMode::u8_fbgemm)
    return fail(Status::bad_argument, "StaticLinear::forward: this layer was built by init_s8 (int8 x and y), "
                                      "not for uint8 x and y");
  return gemm(M, x, ldx, x_.zero_point, packed_, output_stage(), y, ldy, gemm_options);
}

Status StaticLinear::forward(int64_t M, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) const noexcept {
  return forward(M, x, ldx, y, ldy, GemmOptions{});
}

Status StaticLinear::forward(int64_t M, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy,
                             const GemmOptions& gemm_options) const noexcept {
  if (!packed_) return fail(Status::bad_argument, "StaticLinear::forward: not initialised");
  if (mode_ != StaticLinearMode::s8_tflite)
    return fail(Status::bad_argument, "StaticLinear::forward: this layer was built by init (uint8 x and y), "
                                      "not for int8 x and y");
  return gemm(M, x, ldx, x_.zero_point, packed_, output_stage(), y, ldy, gemm_options);
}

}  // namespace qgemm
