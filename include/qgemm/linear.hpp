// qgemm layers built on the GEMM: what PyTorch users know as
//   DynamicLinear    - torch.ao.nn.quantized.dynamic.Linear (float in, float out, s8 weights,
//                      X quantized to u8 on every call)
//   StaticLinear     - torch.ao.nn.quantized.Linear (u8 in, u8 out, FBGEMM's float-multiplier
//                      requantization, bit-exact with fbgemm), or, built by init_s8(), TFLite's
//                      int8 FULLY_CONNECTED (s8 in, s8 out, fixed-point requantization)
//   WeightOnlyLinear - W8A32 / W8A16: s8 weights with per-channel scales, float32, bfloat16 or
//                      float16 X, float32 Y = X * dequant(W)^T + bias
// Weights are given as PyTorch stores them: [out_features][in_features], row-major.
// Objects are immutable after init(); forward() may run on many threads at once. No
// exception crosses this API; every call returns a Status (see qgemm.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "qgemm/export.h"
#include "qgemm/qgemm.hpp"
#include "qgemm/quantize.hpp"

namespace qgemm {

// ---------------------------------------------------------------------------------------
struct DynamicLinearOptions {
  bool per_channel = false;  // weights: per-tensor or per-output-channel symmetric s8
  bool reduce_range = true;  // X: 7-bit u8 as PyTorch's fbgemm dynamic Linear does by default
};

class QGEMM_API DynamicLinear {
 public:
  DynamicLinear() = default;
  ~DynamicLinear();
  DynamicLinear(DynamicLinear&& o) noexcept;
  DynamicLinear& operator=(DynamicLinear&& o) noexcept;
  DynamicLinear(const DynamicLinear&) = delete;
  DynamicLinear& operator=(const DynamicLinear&) = delete;

  // Quantizes weight [out][in] with choose_qparams(..., QType::s8, QScheme::symmetric, false)
  // (per tensor or per row), packs it. bias: out floats or null.
  Status init(const float* weight, int64_t out_features, int64_t in_features, const float* bias,
              const DynamicLinearOptions& opt = {}) noexcept;
  // From s8 weights [out][in] as they are (no requantization: a PyTorch quantized Linear's
  // int_repr()), with scale(s) and optional zero point(s) (null: 0), one value or `out` values
  // (opt.per_channel). bias: out floats or null.
  Status init_quantized(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                        const float* scales, const int32_t* zero_points, const float* bias,
                        const DynamicLinearOptions& opt = {}) noexcept;
  // Y[M][out] = dequantized GEMM of quantize_u8(X) and the weights, float bias added:
  //   p = choose_qparams_dynamic(min(X), max(X), reduce_range); xq = quantize(X, p)
  //   Y = gemm(xq, za = p.zero_point, W, output_f32(p.scale, w_scales, per_channel, bias))
  // x: M x in (ldx >= in), y: M x out (ldy >= out). *x_params (optional) receives p.
  Status forward(int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
                 QParams* x_params = nullptr) const noexcept;
  // The same with threading options for the GEMM (GemmOptions::num_threads, a caller's pool).
  Status forward(int64_t M, const float* x, int64_t ldx, float* y, int64_t ldy,
                 const GemmOptions& gemm_options, QParams* x_params = nullptr) const noexcept;

  int64_t in_features() const noexcept { return in_; }
  int64_t out_features() const noexcept { return out_; }
  const std::vector<int8_t>& weight_q() const noexcept { return wq_; }       // [out][in]
  const std::vector<float>& weight_scales() const noexcept { return ws_; }   // 1 or out
  const std::vector<int32_t>& weight_zero_points() const noexcept { return wzp_; }  // as scales
  const std::vector<float>& bias() const noexcept { return bias_; }          // empty or out
  const PackedWeights* packed() const noexcept { return packed_; }
  const DynamicLinearOptions& options() const noexcept { return opt_; }

 private:
  int64_t in_ = 0, out_ = 0;
  DynamicLinearOptions opt_;
  std::vector<int8_t> wq_;
  std::vector<float> ws_, bias_;
  std::vector<int32_t> wzp_;
  PackedWeights* packed_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// The arithmetic a StaticLinear runs, fixed by the init that built it.
enum class StaticLinearMode : int32_t {
  u8_fbgemm = 0,  // init():    u8 -> u8, FBGEMM's float multiplier (torch.ao.nn.quantized.Linear)
  s8_tflite = 1,  // init_s8(): s8 -> s8, TFLite's int8 fully connected (fixed-point multiplier)
};

class QGEMM_API StaticLinear {
 public:
  StaticLinear() = default;
  ~StaticLinear();
  StaticLinear(StaticLinear&& o) noexcept;
  StaticLinear& operator=(StaticLinear&& o) noexcept;
  StaticLinear(const StaticLinear&) = delete;
  StaticLinear& operator=(const StaticLinear&) = delete;

  // Quantized weights [out][in] with scale(s) and optional zero point(s) (null: 0), one value
  // or `out` values (per_channel). Bias: int32 (added to the accumulator) or float (FBGEMM:
  // bias/(sx*sw[j]) added to float(acc)), at most one of them. x/y: activation parameters.
  // Output clamp [clamp_lo, clamp_hi] within [0, 255] (e.g. [y_zp, 255] fuses ReLU).
  Status init(const int8_t* weight_q, int64_t out_features, int64_t in_features,
              const float* weight_scales, const int32_t* weight_zero_points, bool per_channel,
              const int32_t* bias_s32, const float* bias_f32, QParams x, QParams y,
              int32_t clamp_lo = 0, int32_t clamp_hi = 255) noexcept;
  // y[i][j] = clamp(nearbyint((float(acc) + bias_f32[j]/(sx*sw[j])) * ((sx*sw[j])/sy)) + zy)
  // with every product and quotient in float32 (fbgemm's requantize_u8acc32_ref).
  Status forward(int64_t M, const uint8_t* x, int64_t ldx, uint8_t* y, int64_t ldy) const noexcept;
  // The same with threading options for the GEMM.
  Status forward(int64_t M, const uint8_t* x, int64_t ldx, uint8_t* y, int64_t ldy,
                 const GemmOptions& gemm_options) const noexcept;

  // TFLite's int8 FULLY_CONNECTED (LiteRT full-integer models): symmetric s8 weights [out][in]
  // (zero point 0, as TFLite's quantization spec requires), one scale or `out` scales
  // (per_channel), optional int32 bias (scale sx*sw[j], zero point 0), x/y zero points in
  // [-128, 127], output clamp [clamp_lo, clamp_hi] within [-128, 127] (TFLite's fused
  // activation: e.g. [y_zp, 127] for ReLU). Per channel j, as TFLite's Prepare does:
  //   QuantizeMultiplier(double(sx) * double(sw[j]) / double(sy)) -> (mult[j], shift[j])
  // (quantize_multiplier(); refused with bad_output_params where the shift would exceed 30).
  // Refused with overflow_risk where max|x-zx| * sum_k |w[j][k]| + |bias[j]| > INT32_MAX.
  Status init_s8(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                 const float* weight_scales, bool per_channel, const int32_t* bias, QParams x, QParams y,
                 int32_t clamp_lo = -128, int32_t clamp_hi = 127,
                 Rounding rounding = Rounding::double_rounding) noexcept;
  // y[i][j] = clamp(MultiplyByQuantizedMultiplier(acc, mult[j], shift[j]) + zy, lo, hi),
  // acc = sum_k (x[i][k] - zx) * w[j][k] + bias[j], exact in int32: TFLite's reference
  // FullyConnected(PerChannel) bit for bit, with the rounding chosen at init (TFLite's default
  // double rounding, or TFLITE_SINGLE_ROUNDING's single rounding).
  Status forward(int64_t M, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy) const noexcept;
  // The same with threading options for the GEMM.
  Status forward(int64_t M, const int8_t* x, int64_t ldx, int8_t* y, int64_t ldy,
                 const GemmOptions& gemm_options) const noexcept;
  // A forward whose element type does not match the mode is refused with bad_argument.

  int64_t in_features() const noexcept { return in_; }
  int64_t out_features() const noexcept { return out_; }
  const PackedWeights* packed() const noexcept { return packed_; }
  // The GEMM output stage forward() runs (it points into this object).
  OutputStage output_stage() const noexcept;
  StaticLinearMode mode() const noexcept { return mode_; }
  // s8_tflite: the rounding, and the (multiplier, shift) pairs, 1 or out (per_channel).
  Rounding rounding() const noexcept { return rounding_; }
  const std::vector<int32_t>& multipliers() const noexcept { return mult_; }  // empty for u8_fbgemm
  const std::vector<int32_t>& shifts() const noexcept { return shift_; }      // empty for u8_fbgemm
  // What init() was given, kept so that the layer can be saved and built again.
  bool per_channel() const noexcept { return per_channel_; }
  const std::vector<int8_t>& weight_q() const noexcept { return wq_; }              // [out][in]
  const std::vector<float>& weight_scales() const noexcept { return ws_; }          // 1 or out
  const std::vector<int32_t>& weight_zero_points() const noexcept { return wzp_; }  // as scales (s8: 0)
  const std::vector<int32_t>& bias_s32() const noexcept { return bias_s32_; }       // empty or out
  const std::vector<float>& bias_f32() const noexcept { return bias_f32_; }         // empty or out
  QParams x_params() const noexcept { return x_; }
  QParams y_params() const noexcept { return y_; }
  int32_t clamp_lo() const noexcept { return lo_; }
  int32_t clamp_hi() const noexcept { return hi_; }

 private:
  int64_t in_ = 0, out_ = 0;
  StaticLinearMode mode_ = StaticLinearMode::u8_fbgemm;
  Rounding rounding_ = Rounding::double_rounding;
  bool per_channel_ = false;
  QParams x_, y_;
  int32_t lo_ = 0, hi_ = 255;
  std::vector<float> ws_, bias_f32_;
  std::vector<int32_t> bias_s32_;
  std::vector<int8_t> wq_;
  std::vector<int32_t> wzp_;
  std::vector<int32_t> mult_, shift_;
  PackedWeights* packed_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Weight-only int8. Activation element types.
enum class ActType : int32_t { f32 = 0, bf16 = 1, f16 = 2 };

class QGEMM_API WeightOnlyLinear {
 public:
  // From float weights: per-channel symmetric s8 (choose_qparams per row, QScheme::symmetric).
  Status init(const float* weight, int64_t out_features, int64_t in_features,
              const float* bias) noexcept;
  // From s8 weights [out][in] and out per-channel scales (> 0, finite).
  Status init_quantized(const int8_t* weight_q, const float* scales, int64_t out_features,
                        int64_t in_features, const float* bias) noexcept;
  // Y[i][j] = scale[j] * sum_k float(X[i][k]) * float(Wq[j][k]) + bias[j], float32 Y.
  // x points to float (f32) or to uint16_t bit patterns (bf16, f16); ldx/ldy in elements.
  // The sum is taken in float32 with FMA in an order that depends on the kernel: results
  // match a float reference within the tolerance stated in docs/notes/issue-7.md.
  Status forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y,
                 int64_t ldy) const noexcept;

  int64_t in_features() const noexcept { return in_; }
  int64_t out_features() const noexcept { return out_; }
  const std::vector<int8_t>& weight_q() const noexcept { return wq_; }
  const std::vector<float>& weight_scales() const noexcept { return ws_; }
  const std::vector<float>& bias() const noexcept { return bias_; }

 private:
  int64_t in_ = 0, out_ = 0;
  std::vector<int8_t> wq_;
  std::vector<float> ws_, bias_;
};

// ---------------------------------------------------------------------------------------
// int4 weights for LLM layers (docs/int4.md): W4A8 (X quantized to uint8 on every call, exact
// int32 sums per group, combined in float in a pinned order: the same bits on every ISA and
// thread count) or weight-only W4A32 / W4A16 (X stays float).
struct Int4LinearOptions {
  // k values per group sharing a scale (and zero point): 32, 64, 128 or 256, dividing
  // in_features; 0: per channel (one group of in_features).
  int32_t group_size = 128;
  // true: q in [-8, 7], w = q * s; false: q in [0, 15] with a zero point z in [0, 15] per group,
  // w = (q - z) * s.
  bool symmetric = true;
  // true: W4A32 / W4A16, y = bias + sum_k x[k] * (float(q - z) * s), one fmaf per k in k order;
  // false: W4A8, X quantized to uint8 as DynamicLinear does (range including 0, 8 bits).
  bool weight_only = false;
  // W4A8: X's (scale, zero point) per row and group (true) or per row (false).
  bool act_per_group = true;
};

class QGEMM_API Int4Linear {
 public:
  // Round-to-nearest quantization per group and output row of float weights [out][in]:
  // symmetric: s = m / -8 with m the group's element of largest magnitude, q = clamp(round(w/s),
  // -8, 7) (ggml's q4_0 rule: m maps to -8 exactly); asymmetric: the range [min, max] including 0,
  // s = (max - min) / 15, z = clamp(round(-min / s), 0, 15), q = clamp(round(w/s) + z, 0, 15).
  // bias: out floats or null.
  Status init(const float* weight, int64_t out_features, int64_t in_features, const float* bias,
              const Int4LinearOptions& opt = {}) noexcept;
  // From quantized values, one per element [out][in] (int8 holding [-8, 7], or [0, 15] when not
  // symmetric), scales [out][in / G] (finite) and zero points [out][in / G] in [0, 15] (null
  // when symmetric), G = group_size (in_features for 0).
  Status init_quantized(const int8_t* q, const float* scales, const int8_t* zero_points,
                        int64_t out_features, int64_t in_features, const float* bias,
                        const Int4LinearOptions& opt) noexcept;
  // Y[M][out] from X[M][in] (float32, or bfloat16 / float16 bit patterns: ActType); ldx, ldy in
  // elements. W4A8: per row (and group) p = choose_qparams_dynamic(min, max, false), xq =
  // quantize(x, p) (kernels bit-identical on every ISA), then for each group g in order
  //   acc = sum_{k in g} (xq[k] - za[g]) * (q[k][j] - z[g][j])   (exact int32)
  //   y = fmaf(float(acc), sa[g] * s[g][j], y),   y starting at bias[j]
  Status forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y, int64_t ldy) const noexcept;
  // The same with threading options (num_threads, a caller's pool): columns are split between
  // threads, never K, so the result does not depend on them.
  Status forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y, int64_t ldy,
                 const GemmOptions& options) const noexcept;

  // The quantized weights back, as init_quantized() takes them (q [out][in], scales and zero
  // points [out][groups()]; zero_points may be null, and is ignored when symmetric).
  Status export_quantized(int8_t* q, float* scales, int8_t* zero_points) const noexcept;

  int64_t in_features() const noexcept { return in_; }
  int64_t out_features() const noexcept { return out_; }
  int64_t group_size() const noexcept { return g_; }  // the effective G (in_features when per channel)
  int64_t groups() const noexcept { return ng_; }
  const Int4LinearOptions& options() const noexcept { return opt_; }
  const std::vector<float>& bias() const noexcept { return bias_; }  // empty or out
  // Bytes of the packed weights with their scales, zero points and sums (what forward reads).
  size_t packed_bytes() const noexcept;

 private:
  Status pack(const int8_t* u, const float* scales, const int8_t* zp) noexcept;
  int64_t in_ = 0, out_ = 0, g_ = 0, ng_ = 0, kg_ = 0, np_ = 0;
  Int4LinearOptions opt_;
  std::vector<uint8_t> w_;                // panels (kernels/int4_ukernel.hpp)
  std::vector<float> ws_;                 // [np][ng][16]
  std::vector<int32_t> wz_, wsum_;        // [np][ng][16]
  std::vector<float> bias_, bias_padded_;  // out; np * 16
};

// Name of the kernel the last Int4Linear::forward on this thread ran, e.g.
// "w4a8_linear_16c8__avx512vnni"; "" before any call. The int4 kernels follow the GEMM's ISA
// (set_isa(), QGEMM_ISA): the best int4 kernel at or below it in priority.
QGEMM_API const char* int4_kernel_name() noexcept;

// Which kernels run: set_quant_isa() in quantize.hpp.
// Name of the kernel the last WeightOnlyLinear::forward on this thread ran, e.g.
// "w8_linear_f32_1x4__avx2"; "" before any call.
QGEMM_API const char* weight_only_kernel_name() noexcept;

}  // namespace qgemm
