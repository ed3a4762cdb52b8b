// AVX-512 VNNI microkernel: u8 x s8 -> exact int32 on vpdpbusd (never the saturating
// vpdpbusds), 6 rows x 64 columns, K in groups of 4, every output stage fused in the store
// (kernels/x86/output_stage_zmm.hpp). Also the small-M path: for M <= 16 the driver passes A
// in place (no packing), so the weights stream through once.
#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_zmm.hpp"
#include "x86/tile_blocking.hpp"

namespace qgemm {
namespace detail {

namespace {

// Tile 6x64, for a core that issues two 512-bit vpdpbusd per cycle (AMD Zen 5; also Intel Ice
// Lake / Sapphire Rapids servers); on Zen 5 the kernel alone runs at 93-96% of the probed peak
// with K = 768 and data in L2 (docs/notes/issue-16.md):
//   registers: 24 accumulators + 4 B vectors + 1-2 A broadcasts = 29-30 of 32 zmm.
//   per k-group of 4: 4 B loads (64 B each), 6 vpbroadcastd of 4 A bytes, 24 vpdpbusd, about
//   3 loop instructions: 12 cycles of vpdpbusd at 2/cycle against 10 loads (<= 2/cycle on
//   Zen 5 for 512-bit, 3-4 for narrow ones) and ~37 instructions (front end 8 wide), so the
//   loop is bound by vpdpbusd alone and 24 independent chains cover its latency (4-5 cycles
//   x 2/cycle = 10 needed).
//   Alternatives: 8x32 (16 acc) needs 10 loads and 8 broadcasts per 16 vpdpbusd; 14x32 (28
//   acc) 16 loads and 14 broadcasts per 28. 6x64 has the fewest loads (0.42) and broadcasts
//   (0.25) per vpdpbusd of the shapes that fit, and wide rows suit the small-M path (M = 1:
//   one broadcast feeds 4 vpdpbusd).
//   Expected: ~95% of peak in the loop for large K; the fused output stage costs about 2-6
//   instructions per accumulator (s32) to ~30 (fixed point) once per tile, e.g. ~1.5% of
//   the tile time at K = 4096 but ~20% at K = 256 for u8 output.
constexpr size_t kMR = 6, kNR = 64, kKR = 4;
constexpr int kNV = static_cast<int>(kNR / 16);

// MC: an MC x kp block of A with its B panel in 3/4 of L2 (tile_blocking.hpp). Sized for Zen 5's
// 1 MiB L2.
size_t mc_for_k(size_t kp, size_t l2_bytes) { return mc_rows_for_l2(kp, l2_bytes, kMR, kNR); }

inline __m512i broadcast4(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm512_set1_epi32(w);
}

// Accumulators are named variables, not an array: GCC 12 keeps an array of __m512i in memory
// across the k loop (a store and two register moves per vpdpbusd), named ones in registers.
template <int M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t a_row_stride, size_t a_kgroup_stride,
          const int8_t* b, const int32_t* row_sum, void* c, size_t c_stride, const StageParams& p,
          size_t j0) {
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  __m512i c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  // Row pointers exist only for rows < M (rows >= M may not exist when A is read in place).
  const uint8_t* ar[M];
  for (int i = 0; i < M; ++i) ar[i] = a + static_cast<size_t>(i) * a_row_stride;
  prefetch_c_tile(c, c_stride, M, n, p.kind);
  size_t off = 0;
  // The last row tile of a panel fetches the next panel's B block as it goes (one k-group of it
  // per k-group): at small M the weights then keep streaming from memory while this tile
  // computes (Ice Lake, 8x4096x11008: 0.89-0.98x oneDNN without, 0.98-1.12x with; into L1,
  // not L2: the L2 hint measured 0.89-0.92x).
  const char* pf = reinterpret_cast<const char*>(p.b_next);
  for (size_t g = 0; g < kp / kKR; ++g) {
    if (pf) {
      _mm_prefetch(pf, _MM_HINT_T0);
      _mm_prefetch(pf + 64, _MM_HINT_T0);
      _mm_prefetch(pf + 128, _MM_HINT_T0);
      _mm_prefetch(pf + 192, _MM_HINT_T0);
      pf += kNR * kKR;
    }
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    const __m512i b2 = _mm512_loadu_si512(b + 128);
    const __m512i b3 = _mm512_loadu_si512(b + 192);
#define QGEMM_ROW(i)                                    \
  if constexpr (M > i) {                                \
    const __m512i ai = broadcast4(ar[i] + off);         \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, ai, b0);     \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, ai, b1);     \
    c##i##2 = _mm512_dpbusd_epi32(c##i##2, ai, b2);     \
    c##i##3 = _mm512_dpbusd_epi32(c##i##3, ai, b3);     \
  }
    QGEMM_ROW(0) QGEMM_ROW(1) QGEMM_ROW(2) QGEMM_ROW(3) QGEMM_ROW(4) QGEMM_ROW(5)
#undef QGEMM_ROW
    off += a_kgroup_stride;
    b += kNR * kKR;
  }
  const __m512i all[6][kNV] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                               {c30, c31, c32, c33}, {c40, c41, c42, c43}, {c50, c51, c52, c53}};
  __m512i out[M][kNV];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kNV; ++v) out[i][v] = all[i][v];
  zmm::store_tile<M, kNV>(out, n, row_sum, c, c_stride, p, j0);
}

void u8s8_gemm_6x64c4__avx512vnni(size_t m, size_t n, size_t kp, const uint8_t* a,
                                  size_t a_row_stride, size_t a_kgroup_stride, const int8_t* b,
                                  const int32_t* row_sum, void* c, size_t c_row_stride,
                                  const StageParams* params, size_t j0) {
  // A packed panel steps MR*KR bytes per k-group, A in place KR.
  count_path(a_kgroup_stride == kKR ? Path::avx512vnni_a_in_place : Path::avx512vnni_a_packed, 1);
  const StageParams& p = *params;
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, j0);
  });
}

}  // namespace

// A is read in place at every M when K % 4 == 0 (row sums computed by the driver): the packing
// pass is skipped, and the tile's six 4-byte broadcasts per K group read six row streams,
// which the hardware prefetchers follow. Measured faster than packed A at M >= 128 on Ice Lake
// and no slower below (docs/notes/issue-16.md).
extern const GemmConfig kGemmConfig_avx512vnni = {
    Isa::avx512vnni, "u8s8_gemm_6x64c4__avx512vnni", kMR, kNR, kKR, u8s8_gemm_6x64c4__avx512vnni,
    /*max_m_unpacked=*/UINT32_MAX, mc_for_k, nullptr, nullptr, /*row_sum_only_with_zb=*/true, /*k_block=*/0};

}  // namespace detail
}  // namespace qgemm
