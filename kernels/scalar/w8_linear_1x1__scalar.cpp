// Weight-only int8 linear, scalar: the path every CPU (and aarch64) has. One output column at a
// time, int8 weights converted to float as they are read, float32 sum with FMA.
#include <cmath>

#include "qgemm/quantize.hpp"
#include "quant_ukernel.hpp"

namespace qgemm {
namespace detail {

void w8_linear_1x1__scalar(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw,
                           const float* scale, const float* bias, float* y) {
  for (size_t n = 0; n < N; ++n) {
    const int8_t* wr = w + n * ldw;
    // Four partial sums: shorter dependency chains, and a smaller rounding error bound.
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    size_t k = 0;
    for (; k + 4 <= K; k += 4)
      for (size_t l = 0; l < 4; ++l) s[l] = std::fma(x[k + l], static_cast<float>(wr[k + l]), s[l]);
    for (; k < K; ++k) s[0] = std::fma(x[k], static_cast<float>(wr[k]), s[0]);
    const float dot = (s[0] + s[1]) + (s[2] + s[3]);
    y[n] = std::fma(dot, scale[n], bias ? bias[n] : 0.0f);
  }
}

void bf16_to_f32__scalar(const uint16_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

void f16_to_f32__scalar(const uint16_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_float(src[i]);
}

}  // namespace detail
}  // namespace qgemm
