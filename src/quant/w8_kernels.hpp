// Weight-only int8 linear kernels (W8A32 / W8A16): the narrow signature every ISA implements
// and the per-ISA table that src/quant/weight_only.cpp picks from. Internal.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

// For n in [0, N): y[n] = fma(dot(x[0..K), float(w[n*ldw + 0..K))), scale[n], bias[n]),
// the dot product in float32 (order is the kernel's own). bias may be null (0).
using W8LinearFn = void (*)(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                            const float* scale, const float* bias, float* y);
// n 16-bit values (bf16 or f16 bit patterns) to float32, exactly.
using HalfToFloatFn = void (*)(const uint16_t* src, size_t n, float* dst);

struct W8Kernels {
  W8LinearFn linear;
  HalfToFloatFn bf16_to_f32;
  HalfToFloatFn f16_to_f32;
  const char* name_f32;   // kernel names per activation type, reported by weight_only_kernel_name()
  const char* name_bf16;
  const char* name_f16;
};

extern const W8Kernels kW8KernelsScalar;
#if QGEMM_BUILT_W8_AVX2
extern const W8Kernels kW8KernelsAvx2;
#endif

}  // namespace detail
}  // namespace qgemm
