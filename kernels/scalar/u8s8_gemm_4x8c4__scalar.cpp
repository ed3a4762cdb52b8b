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
                             size_t a_row_stride, size_t a_kgroup_stride, const void* b_panel,
                             const int32_t* row_sum, void* c, size_t c_row_stride,
                             const StageParams* p, const TileArgs* tile, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
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
  int32_t dots[kMR][kNR];
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      dots[i][j] = static_cast<int32_t>(
          acc[i][j] + (tile->acc_in ? static_cast<uint32_t>(tile->acc_in[i * tile->acc_in_stride + j]) : 0u));
  store_tile_ref(&dots[0][0], kNR, m, n, row_sum, c, c_row_stride, *p, j0);
}

}  // namespace

extern constexpr GemmConfig kGemmConfig_scalar =
    GemmConfig::tile(Isa::scalar, "u8s8_gemm_4x8c4__scalar", kMR, kNR, kKR, u8s8_gemm_4x8c4__scalar,
                     &kWeightFormat_s8)
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
