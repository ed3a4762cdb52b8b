// The kernel contract of the quantization layer (quantize, min/max, weight-only int8 linear,
// 16-bit float widening), shared by src/quant/ and every ISA's kernels: the narrow signatures
// every ISA implements and the per-ISA tables they fill. The selection is src/'s
// (src/quant/quant_kernels.hpp, src/quant/quant_dispatch.cpp). Internal header: not installed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

// For n in [0, N): y[n] = fma(dot(x[0..K), float(w[n*ldw + 0..K))), scale[n], bias[n]),
// the dot product in float32 (order is the kernel's own). bias may be null (0).
using W8LinearFn = void (*)(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                            const float* scale, const float* bias, float* y);
// The same for two rows of X at once (x0/y0 and x1/y1): each converted weight serves two FMAs.
using W8Linear2Fn = void (*)(size_t K, size_t N, const float* x0, const float* x1, const int8_t* w,
                             size_t ldw, const float* scale, const float* bias, float* y0, float* y1);
// n 16-bit values (bf16 or f16 bit patterns) to float32, exactly.
using HalfToFloatFn = void (*)(const uint16_t* src, size_t n, float* dst);
// q[i] = clamp(zp + nearbyint(x[i] * inv), type range), NaN -> zp: bit-identical on every ISA
// (the multiply is a plain float32 multiply, never fused; zp inside the type's range).
using QuantizeU8Fn = void (*)(const float* x, size_t n, float inv, int32_t zp, uint8_t* q);
using QuantizeS8Fn = void (*)(const float* x, size_t n, float inv, int32_t zp, int8_t* q);
// *mn = min(*mn, min of x), *mx likewise, NaN elements ignored.
using MinMaxFn = void (*)(const float* x, size_t n, float* mn, float* mx);

// One ISA's table, `kQuantKernels_<isa>` in its kernel folder (the build registers every folder
// that holds w8_* kernels). A null entry is taken from the table below it in priority.
struct QuantKernels {
  W8LinearFn linear;
  W8Linear2Fn linear2;  // null: rows one at a time
  HalfToFloatFn bf16_to_f32;
  HalfToFloatFn f16_to_f32;
  QuantizeU8Fn quantize_u8;
  QuantizeS8Fn quantize_s8;
  MinMaxFn min_max;
  const char* name_f32;  // weight-only kernel names per activation type (weight_only_kernel_name())
  const char* name_bf16;
  const char* name_f16;
  const char* name2_f32;  // the two-row kernel's names (M >= 2)
  const char* name2_bf16;
  const char* name2_f16;
};

// Baseline entries (xsimd at the baseline ISA, plain C++): every CPU.
void w8_linear_1x1__scalar(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                           const float* scale, const float* bias, float* y);
void bf16_to_f32__scalar(const uint16_t* src, size_t n, float* dst);
void f16_to_f32__scalar(const uint16_t* src, size_t n, float* dst);
void quantize_u8__xsimd(const float* x, size_t n, float inv, int32_t zp, uint8_t* q);
void quantize_s8__xsimd(const float* x, size_t n, float inv, int32_t zp, int8_t* q);
void min_max__xsimd(const float* x, size_t n, float* mn, float* mx);

// The AVX2 quantize and min/max kernels (kernels/x86/avx2/quantize_f32__avx2.cpp).
void quantize_u8__avx2(const float* x, size_t n, float inv, int32_t zp, uint8_t* q);
void quantize_s8__avx2(const float* x, size_t n, float inv, int32_t zp, int8_t* q);
void min_max__avx2(const float* x, size_t n, float* mn, float* mx);

// Weight-only linear with bfloat16 X read as is (bit patterns; no widening pass): the
// contract of W8LinearFn / W8Linear2Fn otherwise. Used for ActType::bf16 where the selected
// table has them (AVX512-BF16 beside the avx512bw table), instead of bf16_to_f32 + linear.
using W8LinearBf16Fn = void (*)(size_t K, size_t N, const uint16_t* x, const int8_t* w, size_t ldw,
                                const float* scale, const float* bias, float* y);
using W8LinearBf16x2Fn = void (*)(size_t K, size_t N, const uint16_t* x0, const uint16_t* x1, const int8_t* w,
                                  size_t ldw, const float* scale, const float* bias, float* y0, float* y1);
// An extension's table (QGEMM_ISA_EXT in the ISA registry), `kW8Bf16Kernels_<ext>`.
struct W8Bf16Kernels {
  W8LinearBf16Fn linear;
  W8LinearBf16x2Fn linear2;
  const char* name;  // weight_only_kernel_name() for M = 1, M >= 2
  const char* name2;
};

}  // namespace detail
}  // namespace qgemm
