// AVX-VNNI microkernel (VEX-encoded vpdpbusd on ymm, for CPUs with AVX-VNNI but no AVX-512),
// 6x16 tile, K in groups of 4 (the generic packed-B layout of ukernel.hpp). vpdpbusd adds four
// u8*s8 products into int32 without an int16 intermediate, so it is exact by construction.
#include <cstring>

#include "ukernel.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"

namespace qgemm {
namespace detail {
namespace {

// 6x16: 12 accumulators + 2 B vectors + 1 A broadcast = 15 of the 16 ymm registers, 12
// vpdpbusd per 8 loads. Not tuned by measurement: no CPU with AVX-VNNI was available (the
// development machine, AMD EPYC Zen 3, lacks it; the kernel is verified under SIMDe emulation).
constexpr size_t kMR = 6, kNR = 16, kKR = 4, kNV = kNR / 8;

inline __attribute__((always_inline)) int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <size_t M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams* p, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  for (size_t g = 0; g < kp / kKR; ++g) {
    const int8_t* bg = b + g * kNR * kKR;
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 32));
    for (size_t i = 0; i < M; ++i) {
      const __m256i av = _mm256_set1_epi32(load4(a + i * ars + g * aks));
      acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], av, b0);
      acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], av, b1);
    }
  }
  ymm::store_tile<kMR, kNV>(acc, M, n, row_sum, c, c_stride, *p, j0);
}

void u8s8_gemm_6x16c4__avxvnni(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                               size_t a_kgroup_stride, const int8_t* b, const int32_t* row_sum, void* c,
                               size_t c_row_stride, const StageParams* p, size_t j0) {
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, j0);
  });
}

}  // namespace

// max_m_unpacked = 16: a few rows are read in place (K % 4 == 0) instead of being packed.
extern const GemmConfig kGemmConfig_avxvnni = {
    Isa::avxvnni, "u8s8_gemm_6x16c4__avxvnni", kMR, kNR, kKR, u8s8_gemm_6x16c4__avxvnni,
    /*max_m_unpacked=*/16, nullptr, nullptr, nullptr, /*row_sum_only_with_zb=*/true, /*k_block=*/0};

}  // namespace detail
}  // namespace qgemm
