// Kernel-level test over every registered GEMM descriptor (kernels/ukernel.hpp): B packed by
// pack_weights for the kernel, A by the descriptor's own packer (pack_a_tile, or the driver's
// generic panels) and also read in place where the kernel allows it; then the microkernel
// itself is called for every partial tile (1..MR rows x 1..NR columns) and for K at and around
// the K group and the kernel's K block. Every buffer it reads or writes (A, packed A, the B
// panel, the row sums, the per-column tables, C) ends flush against an inaccessible page, and
// C is compared with an int64 oracle, the cells outside the tile included (left untouched).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "dispatch.hpp"
#include "gemm_driver.hpp"
#include "guarded_memory.hpp"
#include "packed_weights.hpp"
#include "test_util.hpp"

namespace {

using qgemm::detail::GemmConfig;
using qgemm::detail::StageKind;
using qgemm::detail::StageParams;
using qtest::Flush;
using qtest::Guarded;

class Ukernel : public qtest::IsaTest {};

// A guarded copy of v (its last byte against the guard page).
template <typename T>
struct GuardedCopy {
  explicit GuardedCopy(const std::vector<T>& v) : g(std::max<size_t>(v.size(), 1) * sizeof(T), Flush::after) {
    if (g.ok() && !v.empty()) std::memcpy(g.as<T>(), v.data(), v.size() * sizeof(T));
  }
  T* get() const { return g.ok() ? g.as<T>() : nullptr; }
  Guarded g;
};

TEST_P(Ukernel, EveryPartialTileAndDepth) {
  const GemmConfig* cfg = qgemm::detail::gemm_config(GetParam());
  ASSERT_NE(cfg, nullptr);
  const size_t mr = cfg->mr, nr = cfg->nr, kr = cfg->kr;
  const size_t kb = cfg->kc_unit ? cfg->kc_unit : 64;
  std::set<size_t> ks = {1, kr - 1, kr, kr + 1, 2 * kr + 1, kb - 1, kb, kb + 1, kb + kr, 2 * kb + kr - 1, 2 * kb + kr};
  ks.erase(0);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), a7(0, 127);
  for (size_t K : ks) {
    const size_t kp = (K + kr - 1) / kr * kr;
    // One NR-column panel of B, packed for this kernel.
    std::vector<int8_t> b(K * nr);
    for (auto& v : b) v = static_cast<int8_t>(s8(rng));
    std::vector<int32_t> zb(nr);
    for (auto& z : zb) z = s8(rng);
    qgemm::PackedWeights* w = nullptr;
    ASSERT_EQ(qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, static_cast<int64_t>(K), static_cast<int64_t>(nr),
                                  static_cast<int64_t>(nr), zb.data(), true, &w),
              qgemm::Status::ok);
    ASSERT_EQ(w->kp, kp);
    // The first panel, in the kernel's own format (kernels/weight_format.hpp).
    const auto* wp = static_cast<const int8_t*>(w->panels) + w->format->depth_offset(nr, 0);
    const std::vector<int8_t> panel_v(wp, wp + w->panel_bytes);
    const std::vector<int32_t> colsum(w->colsum, w->colsum + nr);
    qgemm::destroy_packed_weights(w);
    GuardedCopy<int8_t> panel(panel_v);
    ASSERT_NE(panel.get(), nullptr);

    // Up to the rows one call takes (more than MR only with A in place): every m up to 2 MR
    // (one tile, two tiles), then around each further tile count and the limit.
    const size_t max_m = std::max<size_t>(mr, cfg->max_rows_per_call);
    std::set<size_t> ms;
    for (size_t m = 1; m <= std::min(max_m, 2 * mr); ++m) ms.insert(m);
    for (size_t t = 3; t * mr <= max_m + mr; t += t < 6 ? 1 : 5)
      for (size_t m : {t * mr - mr + 1, t * mr - 1, t * mr})
        if (m > 2 * mr && m <= max_m) ms.insert(m);
    ms.insert(max_m);
    for (size_t m : ms) {
      // A: rows mix 7-bit and full-range bytes by K block, so loop-choosing kernels run both.
      const size_t lda = K + (m % 2) * 3;
      std::vector<uint8_t> a((m - 1) * lda + K);
      for (size_t i = 0; i < m; ++i)
        for (size_t k = 0; k < K; ++k)
          a[i * lda + k] = static_cast<uint8_t>(((k / kb + i) % 2) ? u8(rng) : a7(rng));
      const int32_t za = u8(rng);
      std::vector<int32_t> row_sum(m);
      for (size_t i = 0; i < m; ++i) {
        int32_t s = 0;
        for (size_t k = 0; k < K; ++k) s += a[i * lda + k];
        row_sum[i] = s;
      }
      GuardedCopy<uint8_t> ga(a);
      GuardedCopy<int32_t> grs(row_sum);
      // The A operands the driver can hand this kernel: (pointer, row stride, K-group stride).
      struct AView {
        const uint8_t* p;
        size_t ars, aks;
        const char* what;
      };
      std::vector<AView> views;
      // Packed by the descriptor's packer straight into guarded memory.
      const size_t packed_bytes = cfg->pack_a_tile ? cfg->a_tile_bytes(kp) : mr * kp;
      Guarded packed(packed_bytes, Flush::after);
      ASSERT_TRUE(packed.ok());
      std::memset(packed.as<uint8_t>(), 0xCC, packed_bytes);
      if (m > mr) {
        // only in place
      } else if (cfg->pack_a_tile) {
        cfg->pack_a_tile(m, K, kp, ga.get(), lda, packed.as<uint8_t>());
        views.push_back({packed.as<uint8_t>(), 0, 0, "own packed A"});
      } else {
        qgemm::detail::pack_a_panels(m, K, kp, ga.get(), lda, mr, kr, packed.as<uint8_t>());
        views.push_back({packed.as<uint8_t>(), kr, mr * kr, "generic packed A"});
      }
      if (cfg->max_m_unpacked >= m && K % kr == 0) views.push_back({ga.get(), lda, kr, "A in place"});

      for (size_t n = 1; n <= nr; ++n) {
        // Per-column tables, n entries each, against the guard page. Under SIMDe a masked load
        // reads the whole vector (no fault suppression), so there they get the driver's padding
        // to 16 columns (src/gemm_plan.cpp); natively the kernels must not read past n.
#if defined(QGEMM_TEST_EMULATED)
        const size_t ncols = (n + 15) / 16 * 16;
#else
        const size_t ncols = n;
#endif
        std::vector<int32_t> col_off(ncols), zbn(ncols), col_off0(ncols), zeros(ncols);
        std::copy(zb.begin(), zb.begin() + static_cast<long>(n), zbn.begin());
        std::vector<float> scale(ncols), fbias(ncols);
        for (size_t j = 0; j < n; ++j) {
          col_off[j] = static_cast<int32_t>(-static_cast<int64_t>(za) * colsum[j] + static_cast<int64_t>(K) * za * zb[j]);
          col_off0[j] = static_cast<int32_t>(-static_cast<int64_t>(za) * colsum[j]);  // the same with zb = 0
          scale[j] = 0.001f * static_cast<float>(1 + j % 7);
          fbias[j] = 0.25f * static_cast<float>(static_cast<int>(j % 5) - 2);
        }
        GuardedCopy<int32_t> gco(col_off), gzb(zbn), gco0(col_off0), gzeros(zeros);
        GuardedCopy<float> gsc(scale), gfb(fbias);
        // zz: B without zero points (zb all 0, StageParams::zb_zero set: the kernel may skip
        // row_sum * zb), against the same panel with the random zb above.
        for (const AView& v : views)
          for (StageKind kind : {StageKind::s32, StageKind::f32})
          for (bool zz : {false, true}) {
            StageParams sp{};
            sp.kind = kind;
            sp.out_bytes = 4;
            sp.col_off = zz ? gco0.get() : gco.get();
            sp.zb = zz ? gzeros.get() : gzb.get();
            sp.zb_zero = zz;
            sp.scale = gsc.get();
            sp.fbias = gfb.get();
            sp.fmin = -std::numeric_limits<float>::infinity();
            sp.fmax = std::numeric_limits<float>::infinity();
            qgemm::detail::TileArgs ta;
            ta.b_stream = n % 2 == 1;  // a prefetch hint: the results must not change with it
            // C: m rows of ldc = n + 1 elements, the last row ending at the guard page.
            const size_t ldc = n + 1, cbytes = ((m - 1) * ldc + n) * 4;
            Guarded gc(cbytes, Flush::after);
            ASSERT_TRUE(gc.ok());
            std::memset(gc.as<char>(), 0x5A, cbytes);
            if (cfg->task_begin) cfg->task_begin();
            cfg->ukernel(m, n, kp, v.p, v.ars, v.aks, panel.get(), grs.get(), gc.as<void>(), ldc * 4, &sp, &ta, 0);
            if (cfg->task_end) cfg->task_end();
            for (size_t i = 0; i < m; ++i)
              for (size_t j = 0; j < ldc && i * ldc + j < cbytes / 4; ++j) {
                uint32_t got;
                std::memcpy(&got, gc.as<char>() + (i * ldc + j) * 4, 4);
                uint32_t want = 0x5A5A5A5A;
                if (j < n) {
                  int64_t acc = 0;
                  for (size_t k = 0; k < K; ++k)
                    acc += (int64_t{a[i * lda + k]} - za) * (int64_t{b[k * nr + j]} - (zz ? 0 : zb[j]));
                  const auto acc32 = static_cast<int32_t>(acc);
                  if (kind == StageKind::s32) {
                    want = static_cast<uint32_t>(acc32);
                  } else {
                    const float y = std::fmaf(static_cast<float>(acc32), scale[j], fbias[j]);
                    std::memcpy(&want, &y, 4);
                  }
                }
                ASSERT_EQ(got, want) << cfg->name << " " << v.what << (kind == StageKind::s32 ? " s32" : " f32")
                                     << (zz ? " zb=0" : "")
                                     << " K=" << K << " m=" << m << " n=" << n << " at (" << i << ", " << j << ")";
              }
          }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, Ukernel, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
