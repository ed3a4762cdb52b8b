// AVX2 microkernel, 4x16 tile, K in groups of 4 (the generic packed-B layout of ukernel.hpp),
// exact for every input. vpmaddubsw adds two u8*s8 products into a saturating int16, which is
// wrong for e.g. 255*127 + 255*127; so the kernel uses it only on K blocks whose A bytes are all
// <= 127, checked per block at run time, and an exact int16 loop elsewhere (the loops:
// u8s8_gemm_4x16c4_loops.hpp). A tile whose K blocks are mostly exact runs the sign mode instead
// (every product on vpmaddubsw with pairs that cannot saturate, see sign_pair). Which loop ran is
// counted per K block (kernels/path_counters.hpp). The driver always packs A with pack_a_tile
// (checked, widened or signed once per MC block; u8s8_gemm_4x16c4_pack_a.cpp, layout in
// u8s8_gemm_4x16c4_common.hpp); A in place or in generic panels (the microkernel contract, for
// direct calls) runs the per-block loops. This file: the tiles, the entry point, the config.
#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "x86/avx2/u8s8_gemm_4x16c4_common.hpp"
#include "x86/avx2/u8s8_gemm_4x16c4_loops.hpp"
#include "size_ops.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"

namespace qgemm {
namespace detail {
namespace avx2_gemm {
namespace {

// B prefetch distance of the loops over packed A: 4 KiB, as in the AVX-512BW kernel. One whole
// panel ahead (the distance before issue 29) put the line out of L1 before its use once a panel
// passed 48 KiB (K >= 3072): 1x768x3072 ran at 0.66x the GOPS of 1x3072x768, the same weights
// (docs/kernel-notes.md#avx2).
constexpr size_t kBPrefetch = 4096;

// Tile over A packed by pack_a_tile, rows [0, R) computed (R = m: rows >= m are padding).
template <size_t R>
void tile_packed(size_t m, size_t n, size_t kp, const uint8_t* a, const int8_t* b, const int32_t* row_sum, void* c,
                 size_t c_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  const size_t groups = kp / kKR, blocks = packed_blocks(kp);
  const uint8_t* ap = a + packed_header(kp);
  // Each loop prefetches B kBPrefetch bytes ahead (into the next panel near the end: panels
  // follow each other in memory), so with few row tiles per panel (small M, weights from L3 or
  // DRAM) B keeps streaming into L1. Past the last panel the prefetches touch no data: they
  // never fault.
  const size_t pfd = kBPrefetch;
  // C's rows of this tile, fetched now so that the stores at the end do not wait for them
  // (the first and the last byte of each row; nothing past the tile).
  {
    const size_t row_bytes = n * p->out_bytes;
    for (size_t i = 0; i < m; ++i) {
      const char* r = static_cast<const char*>(c) + i * c_stride;
      _mm_prefetch(r, _MM_HINT_T0);
      _mm_prefetch(r + row_bytes - 1, _MM_HINT_T0);
    }
  }
  if (a[0] != 0) {  // sign mode: one loop over every K group, then the offset terms
    if constexpr (R == 1) {
      if (a[0] == 2)
        sign_run<1, true>(ap, b, groups, acc, pfd);
      else
        sign_run<1>(ap, b, groups, acc, pfd);
    } else {
      sign_run<R>(ap, b, groups, acc, pfd);
    }
    const int32_t o = a[1];
    int32_t rc[kMR];
    std::memcpy(rc, a + 16, sizeof rc);
    __m256i cs[kNV];
    if (t->colsum) {
      alignas(32) int32_t sums[kNR] = {};
      std::memcpy(sums, t->colsum + j0, n * sizeof(int32_t));  // past n: columns nobody stores
      cs[0] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums));
      cs[1] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + 8));
    } else {
      panel_colsum(b, groups, cs);
    }
    for (size_t v = 0; v < kNV; ++v) {
      const __m256i oc = _mm256_mullo_epi32(cs[v], _mm256_set1_epi32(o));  // modular, as the sums
      for (size_t i = 0; i < R; ++i)
        acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_add_epi32(oc, _mm256_set1_epi32(rc[i])));
    }
    count_path(Path::avx2_sign_block, blocks);
    return ymm::store_tile<kMR, kNV>(acc, m, n, row_sum, c, c_stride, *p, *t, j0);
  }
  const uint8_t* flags = a + kTileInfo;
  const bool one_row = R == 1 && a[2] != 0;  // the one-row layout (u8s8_gemm_4x16c4_common.hpp)
  const size_t fast_gb = one_row ? kFast1GroupBytes : kFastGroupBytes;
  const size_t exact_gb = one_row ? kExact1GroupBytes : kExactGroupBytes;
  uint64_t fast = 0, exact = 0;
  for (size_t blk = 0, g0 = 0; blk < blocks;) {
    const uint8_t kind = flags[blk];
    size_t end = blk + 1;
    while (end < blocks && flags[end] == kind) ++end;
    const size_t g1 = size_min(groups, end * kBlockGroups), count = g1 - g0;
    const int8_t* bg = b + g0 * kNR * kKR;
    if (kind) {
      exact_run<R>(reinterpret_cast<const int16_t*>(ap), bg, count, acc, pfd, exact_gb / sizeof(int16_t));
      ap += count * exact_gb;
      exact += end - blk;
    } else {
      fast_block<R>(ap, kKR, fast_gb, bg, 0, count, acc, pfd);
      ap += count * fast_gb;
      fast += end - blk;
    }
    blk = end;
    g0 = g1;
  }
  count_path(Path::avx2_fast_block, fast);
  count_path(Path::avx2_exact_block, exact);
  ymm::store_tile<kMR, kNV>(acc, m, n, row_sum, c, c_stride, *p, *t, j0);
}

template <size_t M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  const size_t groups = kp / kKR;
  uint64_t fast = 0, exact = 0;
  for (size_t g0 = 0; g0 < groups; g0 += kBlockGroups) {
    const size_t g1 = groups - g0 < kBlockGroups ? groups : g0 + kBlockGroups;
    if (block_is_7bit<M>(a, ars, aks, g0, g1)) {
      fast_block<M>(a, ars, aks, b, g0, g1, acc);
      ++fast;
    } else {
      exact_block<M>(a, ars, aks, b, g0, g1, acc);
      ++exact;
    }
  }
  count_path(Path::avx2_fast_block, fast);
  count_path(Path::avx2_exact_block, exact);
  ymm::store_tile<kMR, kNV>(acc, M, n, row_sum, c, c_stride, *p, *t, j0);
}

void u8s8_gemm_4x16c4__avx2(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                            size_t a_kgroup_stride, const void* b_panel, const int32_t* row_sum, void* c,
                            size_t c_row_stride, const StageParams* p, const TileArgs* t, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  if (a_row_stride == 0)
    return with_rows<kMR>(m, [&](auto rows) {
      tile_packed<decltype(rows)::value>(m, n, kp, a, b, row_sum, c, c_row_stride, p, t, j0);
    });
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, t, j0);
  });
}

}  // namespace
}  // namespace avx2_gemm

// A is always packed by pack_a_tile, also at M <= 4: the sign mode prepares A once per MC block
// there instead of once per column panel, which read in place measured slower
// (docs/kernel-notes.md#avx2). A tile of m < 4 rows computes only its m rows. MC: mc_for_k
// (sized for the int16 packed A to stay in L2); no K blocks (kc_for_l2).
extern constexpr GemmConfig kGemmConfig_avx2 =
    GemmConfig::tile(Isa::avx2, "u8s8_gemm_4x16c4__avx2", avx2_gemm::kMR, avx2_gemm::kNR, avx2_gemm::kKR,
                     avx2_gemm::u8s8_gemm_4x16c4__avx2, &kWeightFormat_s8)
        .with_mc(avx2_gemm::mc_for_k)
        .with_kc(avx2_gemm::kc_for_l2)
        .with_kc_unit(avx2_gemm::kBlockGroups * avx2_gemm::kKR)  // the saturation check's block
        .with_a_packer(avx2_gemm::a_tile_bytes, avx2_gemm::pack_a_tile)
        .with_row_sums_only_with_zb();

}  // namespace detail
}  // namespace qgemm
