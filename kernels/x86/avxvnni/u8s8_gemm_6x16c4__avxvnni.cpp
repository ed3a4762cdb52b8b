// AVX-VNNI microkernel (VEX-encoded vpdpbusd on ymm, for CPUs with AVX-VNNI but no AVX-512, and
// for AVX-512 CPUs restricted to it), 6x16 tile, K in groups of 4 (the generic packed-B layout
// of ukernel.hpp). vpdpbusd adds four u8*s8 products into int32 without an int16 intermediate,
// so it is exact by construction.
#include <cstring>

#include "ukernel.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"
#include "x86/tile_blocking.hpp"

namespace qgemm {
namespace detail {
namespace {

// 6x16: 12 accumulators + 2 B vectors + 1 A broadcast = 15 of the 16 ymm registers; per K group
// 2 B loads and 6 broadcasts feed 12 vpdpbusd (6 cycles at two per cycle on Zen 5, whose probed
// ymm peak is two per cycle; 1.3 loads per cycle). 12 independent chains cover the latency.
constexpr size_t kMR = 6, kNR = 16, kKR = 4, kNV = kNR / 8;

// MC: an MC x kp block of A with its B panel in 3/4 of L2 (tile_blocking.hpp), as for AVX-512 VNNI.
size_t mc_for_k(size_t kp, size_t l2_bytes) { return mc_rows_for_l2(kp, l2_bytes, kMR, kNR); }

inline __attribute__((always_inline)) __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Named accumulators, not an array: GCC 12 kept an array of __m256i in memory across the K loop
// (a store and register moves per vpdpbusd: 0.62x oneDNN at 128x768x768 on Zen 5).
template <int M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams& p, size_t j0) {
  const __m256i z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  __m256i c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  const uint8_t* ar[M];
  for (int i = 0; i < M; ++i) ar[i] = a + static_cast<size_t>(i) * ars;
  prefetch_c_tile(c, c_stride, M, n, p.kind);  // tile_blocking.hpp
  // The panel's last row tile fetches the next panel's B block (StageParams::b_next), one K group
  // (64 bytes, one line) per K group.
  const char* pf = reinterpret_cast<const char*>(p.b_next);
  size_t off = 0;
  for (size_t g = 0; g < kp / kKR; ++g) {
    if (pf) {
      _mm_prefetch(pf, _MM_HINT_T0);
      pf += kNR * kKR;
    }
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
#define QGEMM_ROW(i)                                      \
  if constexpr (M > i) {                                  \
    const __m256i ai = broadcast4(ar[i] + off);           \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, ai, b0);   \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, ai, b1);   \
  }
    QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5)
#undef QGEMM_ROW
    off += aks;
    b += kNR * kKR;
  }
  const __m256i acc[kMR][kNV] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  ymm::store_tile<kMR, kNV>(acc, M, n, row_sum, c, c_stride, p, j0);
}

void u8s8_gemm_6x16c4__avxvnni(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                               size_t a_kgroup_stride, const int8_t* b, const int32_t* row_sum, void* c,
                               size_t c_row_stride, const StageParams* p, size_t j0) {
  with_rows<kMR>(m, [&](auto rows) {
    tile<static_cast<int>(decltype(rows)::value)>(n, kp, a, a_row_stride, a_kgroup_stride, b, row_sum, c,
                                                  c_row_stride, *p, j0);
  });
}

}  // namespace

// A is read in place at every M when K % 4 == 0 (row sums from the driver), as for AVX-512 VNNI.
extern const GemmConfig kGemmConfig_avxvnni = {
    Isa::avxvnni, "u8s8_gemm_6x16c4__avxvnni", kMR, kNR, kKR, u8s8_gemm_6x16c4__avxvnni,
    /*max_m_unpacked=*/UINT32_MAX, mc_for_k, nullptr, nullptr, /*row_sum_only_with_zb=*/true, /*k_block=*/0};

}  // namespace detail
}  // namespace qgemm
