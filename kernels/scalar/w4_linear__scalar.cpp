// The int4 layer's scalar kernels (kernels/int4_ukernel.hpp): the contract's formulas written
// out, value by value, for every CPU and as the reference the tests compare the ISAs with.
#include <cmath>

#include "int4_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

// The stored nibble of depth k, column jj of a panel.
inline int32_t nibble(const uint8_t* panel, size_t k, size_t jj) {
  const uint8_t b = panel[(k / kInt4Block) * kInt4Nr * 4 + jj * 4 + k % 4];
  return (k % kInt4Block) >= 4 ? b >> 4 : b & 0x0F;
}

void w4a8_linear__scalar(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  const size_t kp = r.ng * r.kg;
  for (size_t p = p0; p < p1; ++p) {
    const uint8_t* panel = r.w + p * int4_panel_bytes(kp);
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* a = r.a + i * r.lda;
      for (size_t jj = 0; jj < kInt4Nr; ++jj) {
        const size_t j = p * kInt4Nr + jj;
        if (j >= r.n) break;
        float y = r.bias[j];
        for (size_t g = 0; g < r.ng; ++g) {
          const size_t t = (p * r.ng + g) * kInt4Nr + jj;
          int32_t acc = 0;
          for (size_t k = g * r.kg; k < (g + 1) * r.kg; ++k) acc += static_cast<int32_t>(a[k]) * nibble(panel, k, jj);
          acc -= r.w_zp[t] * r.a_sum[i * r.ng + g] + r.a_zp[i * r.ng + g] * r.w_sum[t];
          y = std::fmaf(static_cast<float>(acc), r.a_scale[i * r.ng + g] * r.w_scale[t], y);
        }
        r.y[i * r.ldy + j] = y;
      }
    }
  }
}

void w4f32_linear__scalar(const W4F32Args& r, size_t m, size_t p0, size_t p1) {
  const size_t kp = r.ng * r.kg;
  for (size_t p = p0; p < p1; ++p) {
    const uint8_t* panel = r.w + p * int4_panel_bytes(kp);
    for (size_t i = 0; i < m; ++i) {
      const float* x = r.x + i * r.ldx;
      for (size_t jj = 0; jj < kInt4Nr; ++jj) {
        const size_t j = p * kInt4Nr + jj;
        if (j >= r.n) break;
        float y = r.bias[j];
        for (size_t k = 0; k < kp; ++k) {
          const size_t t = (p * r.ng + k / r.kg) * kInt4Nr + jj;
          const float w = static_cast<float>(nibble(panel, k, jj) - r.w_zp[t]) * r.w_scale[t];
          y = std::fmaf(x[k], w, y);
        }
        r.y[i * r.ldy + j] = y;
      }
    }
  }
}

}  // namespace

extern const Int4Kernels kInt4Kernels_scalar = {w4a8_linear__scalar, w4f32_linear__scalar, "w4a8_linear_1x1__scalar",
                                                "w4a32_linear_1x1__scalar"};

}  // namespace detail
}  // namespace qgemm
