// Scalar microkernel: the portable path every CPU can run, and the reference the SIMD kernels
// are held to (besides the independent oracle in tests/). Tile 4x8, K in groups of 4, the
// same packed-B layout as the VNNI and dotprod kernels.
#include <cstring>

#include "scalar/requant_scalar.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr size_t kMR = 4, kNR = 8, kKR = 4;

void u8s8_gemm_4x8c4__scalar(size_t m, size_t n, size_t kp, const uint8_t* a,
                             size_t a_row_stride, size_t a_kgroup_stride, const int8_t* b,
                             const int32_t* row_sum, void* c, size_t c_row_stride,
                             const StageParams* p, size_t j0) {
  // Modular int32 sums: the true result fits (checked by the driver), the partial sums may not.
  uint32_t acc[kMR][kNR] = {};
  for (size_t g = 0; g < kp / kKR; ++g) {
    const int8_t* bg = b + g * kNR * kKR;
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* ag = a + i * a_row_stride + g * a_kgroup_stride;
      for (size_t j = 0; j < kNR; ++j) {
        int32_t s = 0;
        for (size_t k = 0; k < kKR; ++k) s += static_cast<int32_t>(ag[k]) * bg[j * kKR + k];
        acc[i][j] += static_cast<uint32_t>(s);
      }
    }
  }
  for (size_t i = 0; i < m; ++i) {
    void* crow = static_cast<char*>(c) + i * c_row_stride;
    for (size_t j = 0; j < n; ++j) {
      const uint32_t dot = acc[i][j] + (p->acc_in ? static_cast<uint32_t>(p->acc_in[i * p->acc_in_stride + j]) : 0u);
      store_one(crow, j, finish_acc(dot, *p, row_sum[i], j0 + j), *p, j0 + j);
    }
  }
}

}  // namespace

extern const GemmConfig kGemmConfig_scalar = {
    Isa::scalar, "u8s8_gemm_4x8c4__scalar", kMR, kNR, kKR, u8s8_gemm_4x8c4__scalar,
    /*max_m_unpacked=*/0, nullptr, nullptr, nullptr, /*row_sum_only_with_zb=*/true, /*k_block=*/0};

}  // namespace detail
}  // namespace qgemm
