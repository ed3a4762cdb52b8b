// qgemm quantization utilities: choosing (scale, zero point) from min/max the way PyTorch does
// it, quantize / dequantize per tensor and per channel, and quantization error measures.
// The exact formulas (and where they come from) are in docs/notes/issue-7.md; in short:
//   observer (torch.ao.quantization.MinMaxObserver._calculate_qparams), all in float32:
//     min' = min(min, 0), max' = max(max, 0)
//     affine:    scale = max((max' - min') / float(qmax - qmin), eps)
//                zp    = clamp(qmin - round_half_even(min' / scale), qmin, qmax)
//     symmetric: scale = max(max(-min', max') / (float(qmax - qmin) / 2), eps)
//                zp    = 0 (s8) or 128 (u8)
//     eps = 2^-23 (torch.finfo(torch.float32).eps)
//   quantize:   q = clamp(zp + round_half_even(x * (1.0f / scale)), type range)
//   dequantize: x = float(q - zp) * scale
// No exception crosses this API; bad input gets a Status (see qgemm.hpp).
#pragma once

#include <cstdint>

#include "qgemm/export.h"
#include "qgemm/qgemm.hpp"

namespace qgemm {

// Quantized element type: u8 is PyTorch's quint8, s8 is qint8.
enum class QType : int32_t { u8 = 0, s8 = 1 };
// affine: zero point from min; symmetric: zero point in the middle (0 for s8, 128 for u8).
enum class QScheme : int32_t { affine = 0, symmetric = 1 };

struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// torch.finfo(torch.float32).eps: the smallest scale the observer formulas return.
constexpr float kQuantEps = 1.1920928955078125e-07f;

// Integer range of `type`: [0,255] / [-128,127], or the 7-bit [0,127] / [-64,63] with
// reduce_range (PyTorch's reduce_range, used on CPUs whose u8*s8 pair sum can saturate).
QGEMM_API void quant_range(QType type, bool reduce_range, int32_t* qmin, int32_t* qmax) noexcept;

// PyTorch observer parameters (MinMaxObserver / PerChannelMinMaxObserver) from a min and max.
// Status::bad_argument when min > max or either is NaN or infinite.
QGEMM_API Status choose_qparams(float min, float max, QType type, QScheme scheme, bool reduce_range,
                                QParams* out) noexcept;

// PyTorch's dynamic-quantization choice for activations (ATen quant_utils /
// fbgemm ChooseQuantizationParams, what quantized::linear_dynamic uses): u8, range extended
// to include 0, scale computed in double then stored as float, 0.1 for a zero range, a
// minimum scale of 6.1e-5 with the range stretched, zero point from the better-conditioned
// end, rounded half to even. Status::bad_argument when min > max or not finite.
QGEMM_API Status choose_qparams_dynamic(float min, float max, bool reduce_range, QParams* out) noexcept;

// Minimum and maximum of n floats (n >= 1; NaN elements are ignored; all NaN -> bad_argument).
QGEMM_API Status min_max(const float* x, int64_t n, float* min, float* max) noexcept;

// Observer parameters for a whole tensor: choose_qparams(min_max(x)).
QGEMM_API Status choose_qparams_tensor(const float* x, int64_t n, QType type, QScheme scheme,
                                       bool reduce_range, QParams* out) noexcept;

// Per-channel parameters along `axis` of a dense row-major tensor of `ndim` dimensions
// (1 <= ndim <= 8, every dimension >= 1). scales and zero_points receive shape[axis] values.
QGEMM_API Status choose_qparams_per_channel(const float* x, const int64_t* shape, int ndim, int axis,
                                            QType type, QScheme scheme, bool reduce_range, float* scales,
                                            int32_t* zero_points) noexcept;

// q = clamp(zp + nearbyint(x * (1.0f / scale)), type range). NaN quantizes to zp. Needs a
// finite scale > 0 and a zero point inside the type's range.
QGEMM_API Status quantize(const float* x, int64_t n, QParams p, uint8_t* q) noexcept;
QGEMM_API Status quantize(const float* x, int64_t n, QParams p, int8_t* q) noexcept;
// x = float(q - zp) * scale.
QGEMM_API Status dequantize(const uint8_t* q, int64_t n, QParams p, float* x) noexcept;
QGEMM_API Status dequantize(const int8_t* q, int64_t n, QParams p, float* x) noexcept;

// Per channel along `axis` (shape as for choose_qparams_per_channel).
QGEMM_API Status quantize_per_channel(const float* x, const int64_t* shape, int ndim, int axis,
                                      const float* scales, const int32_t* zero_points, QType type,
                                      void* q) noexcept;
QGEMM_API Status dequantize_per_channel(const void* q, QType type, const int64_t* shape, int ndim,
                                        int axis, const float* scales, const int32_t* zero_points,
                                        float* x) noexcept;

// Error measures between two float arrays (accumulated in double): max |a-b| and
// mean((a-b)^2). n >= 1.
QGEMM_API Status max_abs_error(const float* a, const float* b, int64_t n, double* out) noexcept;
QGEMM_API Status mean_squared_error(const float* a, const float* b, int64_t n, double* out) noexcept;
// Round-trip error of quantizing x with p: both measures at once (either pointer may be null).
QGEMM_API Status quantization_error(const float* x, int64_t n, QParams p, QType type, double* max_abs,
                                    double* mse) noexcept;

// The quantization layer's kernels (quantize, min/max, weight-only linear) have their own
// small dispatch: the best the CPU runs (Isa::avx2 = AVX2+FMA+F16C on x86-64, Isa::neon on
// AArch64, else Isa::scalar, the baseline xsimd/C++ code), restricted by QGEMM_ISA=scalar or by
// set_quant_isa(). Isa::scalar is always accepted; Status::unsupported_isa for one this CPU or
// build lacks. quantize gives the same bits on every ISA; weight-only linear results differ in
// the last bits (see linear.hpp).
QGEMM_API Status set_quant_isa(Isa isa) noexcept;
QGEMM_API void reset_quant_isa() noexcept;
QGEMM_API Isa quant_isa() noexcept;

// 16-bit float conversions used by the weight-only layers (round to nearest even; NaN kept).
QGEMM_API uint16_t float_to_bf16(float x) noexcept;
QGEMM_API float bf16_to_float(uint16_t h) noexcept;
QGEMM_API uint16_t float_to_f16(float x) noexcept;
QGEMM_API float f16_to_float(uint16_t h) noexcept;

}  // namespace qgemm
