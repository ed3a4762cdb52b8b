// Every blocking edge of every ISA's kernel, with shapes derived from the kernel's own
// descriptor (test hook gemm_blocking_for_testing: tile MR x NR x KR, the K block over which
// it picks its loop, the rows read in place, the MC row block at that K), so a new kernel is
// covered without a new list:
//   - M at, below and past one and two MC row blocks (where the AVX-VNNI kernel once packed
//     its last 6-row tile past the A-pack area over the row sums, issue 13);
//   - N across NR panels and, with threads and a caller's pool, across task edges;
//   - K at and around the kernel's K block (loop choice) and the K group, with A mixing blocks
//     of 7-bit and full-range bytes so both loops and their switches run;
//   - K across the driver's K blocks (partial int32 sums between them), at the kernel's KC and
//     with the smallest KC forced.
// Compared bit for bit with the oracle, as the other suites.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include <vector>

#include "test_hooks.hpp"
#include "test_util.hpp"

namespace {

using qtest::SplitEverything;

using qgemm::OutputType;
using qgemm::WeightLayout;
using qgemm::detail::GemmBlocking;
using qtest::GenOptions;
using qtest::make_problem;
using qtest::run_and_compare;

class BlockingEdges : public qtest::IsaTest {
 protected:
  GemmBlocking blocking(int64_t K) {
    GemmBlocking b{};
    EXPECT_TRUE(qgemm::detail::gemm_blocking_for_testing(GetParam(), K, &b));
    return b;
  }
};

struct KcOverride {
  explicit KcOverride(size_t depth) { qgemm::detail::set_kc_for_testing(depth); }
  ~KcOverride() { qgemm::detail::set_kc_for_testing(0); }
};

struct McOverride {
  explicit McOverride(size_t rows) { qgemm::detail::set_mc_for_testing(rows); }
  ~McOverride() { qgemm::detail::set_mc_for_testing(0); }
};

// A pool that runs the tasks on the calling thread in reverse order (any order is allowed).
void reverse_pool(void*, size_t n, void (*task)(void*, size_t), void* arg) {
  for (size_t i = n; i-- > 0;) task(arg, i);
}

// s32, u8 fixed point, s8 float multiplier with a float bias, f32: every store path.
void run_stages(const oracle::Problem& p, const std::string& what, const qgemm::GemmOptions& opt = {}) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(p.N, 1));
  const std::vector<int32_t> mult(n, 1 << 30), shift(n, -9);
  const std::vector<float> ws(n, 0.004f);
  const int32_t* bias = p.bias_s32.empty() ? nullptr : p.bias_s32.data();
  const float* fbias = p.bias_f32.empty() ? nullptr : p.bias_f32.data();
  run_and_compare(p, qgemm::output_s32(bias), what + " s32", opt);
  run_and_compare(p, qgemm::output_fixed_point(OutputType::u8, mult.data(), shift.data(), true, 100, bias),
                  what + " u8 fixed", opt);
  run_and_compare(p, qgemm::output_float_multiplier(OutputType::s8, 0.05f, ws.data(), true, 2.0f, 3, nullptr, fbias),
                  what + " s8 float_mult", opt);
  run_and_compare(p, qgemm::output_f32(0.05f, ws.data(), true, fbias), what + " f32", opt);
}

// A's K blocks alternate between 7-bit bytes (the saturation-free loops) and full-range ones,
// starting with either, so every loop switch of a K-blocked kernel is taken.
void mix_blocks(oracle::Problem& p, int64_t block, bool start_full, std::mt19937& rng) {
  if (block <= 0) return;
  std::uniform_int_distribution<int> lo(0, 127), full(128, 255);
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t k = 0; k < p.K; ++k) {
      const bool f = ((k / block) % 2 == 0) == start_full;
      p.a[static_cast<size_t>(i * p.lda + k)] = static_cast<uint8_t>(f ? full(rng) : lo(rng));
    }
}

// The reproducer of issue 13: M = 1024 (and 1025) rows, N = K = 1, B = {0}, zb = 1, A = 1,
// za = 0: every C is -1. The AVX-VNNI kernel gave 0 in rows 0 and 1 (its 6-row tiles did not
// divide the 1024-row block, and the last one overwrote the row sums).
TEST_P(BlockingEdges, Issue13ReproducerRowBlockOf1024) {
  std::mt19937 rng(13);
  for (int64_t M : {1024, 1025, 1026, 2048, 2049}) {
    GenOptions g;
    auto p = make_problem(M, 1, 1, g, rng);
    std::fill(p.a.begin(), p.a.end(), 1);
    p.b = {0};
    p.za = 0;
    p.zb = {1};
    run_and_compare(p, qgemm::output_s32(), "issue 13 reproducer");
    if (HasFailure()) return;
  }
}

// M across one and two MC row blocks at depths where MC is capped (small K) and where it
// follows K, with a nonzero weight zero point (the row sums are read).
TEST_P(BlockingEdges, RowBlocks) {
  std::mt19937 rng(1);
  const GemmBlocking b0 = blocking(1);
  const int64_t kb = b0.kc_unit ? b0.kc_unit : 64;
  for (int64_t K : {int64_t{1}, int64_t{b0.kr} + 1, kb + 3, int64_t{1100}}) {
    const GemmBlocking b = blocking(K);
    const int64_t mc = static_cast<int64_t>(b.mc), mr = b.mr;
    ASSERT_EQ(mc % mr, 0) << "MC must be whole MR-row tiles";
    std::set<int64_t> ms = {mc - 1, mc, mc + 1, mc + mr - 1, 2 * mc + 1};
    const int64_t N = K >= 1000 ? 17 : b.nr + 1;
    int idx = 0;
    for (int64_t M : ms) {
      if (M < 1) continue;
      GenOptions g;
      g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
      g.zb_per_column = (idx & 2) != 0;
      g.set_signs((idx + idx / 4) % 4);  // the four sign combinations
      g.bias = true;
      g.lda_pad = (idx % 3 == 0) ? 5 : 0;
      ++idx;
      auto p = make_problem(M, N, K, g, rng);
      if (!p.zb_per_column && p.zb[0] == 0) p.zb[0] = 9;
      run_stages(p, "mc=" + std::to_string(mc));
      if (HasFailure()) return;
    }
  }
}

// Row blocks that are not a multiple of MR, as a kernel's mc_for_k could return: the driver
// rounds them up to whole tiles (before issue 13 the generic packer then wrote past the
// A-pack area; the ASan build's redzones between scratch regions report that write).
TEST_P(BlockingEdges, RowBlockNotAMultipleOfTheTile) {
  std::mt19937 rng(2);
  const GemmBlocking b = blocking(40);
  for (size_t rows : {size_t{1}, size_t{b.mr} + 1, 2 * size_t{b.mr} - 1, size_t{37}, size_t{101}}) {
    McOverride o(rows);
    for (int64_t M : {int64_t{b.mr} * 3 + 1, int64_t{103}, int64_t{250}}) {
      GenOptions g;
      g.bias = true;
      g.zb_per_column = true;
      auto p = make_problem(M, b.nr + 3, 40, g, rng);
      run_stages(p, "mc override " + std::to_string(rows));
      if (HasFailure()) return;
    }
  }
}

// K at and around the kernel's K block and K group, A in place (M <= max_m_unpacked, K a
// multiple of KR) and packed, blocks of both kinds.
TEST_P(BlockingEdges, DepthBlocks) {
  std::mt19937 rng(3);
  const GemmBlocking b = blocking(1);
  const int64_t kr = b.kr, kb = b.kc_unit ? b.kc_unit : 128;
  std::set<int64_t> ks = {kr - 1, kr, kr + 1, kb - kr, kb - 1, kb, kb + 1, kb + kr, 2 * kb - 1, 2 * kb + kr + 1, 3 * kb};
  std::set<int64_t> ms = {1, int64_t{b.mr}, int64_t{b.mr} + 1};
  // The in-place row limit, where there is one (a kernel may read A in place at every M).
  if (b.max_m_unpacked && b.max_m_unpacked < 1024) ms.insert({int64_t{b.max_m_unpacked}, int64_t{b.max_m_unpacked} + 1});
  int idx = 0;
  for (int64_t K : ks)
    for (int64_t M : ms) {
      if (K < 1) continue;
      GenOptions g;
      g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
      g.zb_per_column = (idx & 2) != 0;
      g.set_signs((idx + idx / 4) % 4);  // the four sign combinations
      g.bias = (idx % 3) != 0;
      g.extremes = (idx % 5) == 4;
      const bool mixed = (idx % 5) < 2;
      ++idx;
      auto p = make_problem(M, (idx & 1) ? b.nr - 1 : b.nr + 1, K, g, rng);
      if (mixed) mix_blocks(p, kb, (idx & 4) != 0, rng);
      run_stages(p, "K block " + std::to_string(kb));
      if (HasFailure()) return;
    }
}

// A read in place with rows a multiple of 4 KiB apart (lda = 4096, 8192), the case where the
// AVX-512 VNNI K loop prefetches A itself in blocks of 16 K groups: K across that block (and a
// whole row), M across one tile, a pair of tiles and several; every ISA runs it.
TEST_P(BlockingEdges, RowsFourKiBApart) {
  std::mt19937 rng(29);
  const GemmBlocking b = blocking(1);
  int idx = 0;
  for (int64_t lda : {4096, 8192})
    for (int64_t K : {4, 60, 64, 68, 124, 256, 260, 1000, 4096})
      for (int64_t M : {int64_t{1}, int64_t{b.mr}, int64_t{b.mr} + 2, 3 * int64_t{b.mr} - 1}) {
        if (K > lda) continue;
        GenOptions g;
        g.lda_pad = lda - K;
        g.zb_per_column = (idx & 1) != 0;
        g.set_signs(idx % 4);
        g.extremes = (idx % 3) == 2;
        ++idx;
        auto p = make_problem(M, (idx & 1) ? b.nr + 3 : 2 * b.nr, K, g, rng);
        run_stages(p, "lda " + std::to_string(lda));
        if (HasFailure()) return;
      }
}

// K blocked in the driver (int32 partial sums between K blocks, the output stage on the
// last): K at and around one, two and three K blocks at the kernel's own KC, and the smallest
// KC the kernel allows forced, so every tile runs many K blocks; M across MC rows, N across
// the partial block's panels; single thread, threads and a pool.
TEST_P(BlockingEdges, DepthBlocksInTheDriver) {
  std::mt19937 rng(5);
  const GemmBlocking b1 = blocking(1);
  const int64_t unit = b1.kc_unit ? b1.kc_unit : b1.kr;
  // The kernel's own K block, found by asking at a large K (K is then split evenly).
  const GemmBlocking big = blocking(100000);
  int idx = 0;
  auto run = [&](int64_t M, int64_t N, int64_t K, const std::string& what) {
    GenOptions g;
    g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (idx & 2) != 0;
      g.set_signs((idx + idx / 4) % 4);  // the four sign combinations
    g.bias = true;
    g.lda_pad = (idx % 3) ? 3 : 0;
    const bool mixed = (idx % 4) == 1;
    qgemm::GemmOptions opt;
    if (idx % 5 == 3) opt.num_threads = 2;
    if (idx % 5 == 4) {
      opt.num_threads = 3;
      opt.parallel_for = reverse_pool;
    }
    ++idx;
    auto p = make_problem(M, N, K, g, rng);
    if (mixed) mix_blocks(p, unit, (idx & 8) != 0, rng);
    run_stages(p, what + " K=" + std::to_string(K), opt);
  };
  {
    SplitEverything split;
    const int64_t kc = static_cast<int64_t>(big.kc);
    for (int64_t K : {kc - 1, kc + 1, 2 * kc, 2 * kc + int64_t{b1.kr} + 1, 3 * kc - 1})
      for (int64_t M : {int64_t{1}, int64_t{b1.mr} + 1}) {
        // Deeper than this, full-range random data exceeds the int32 overflow bound.
        if (K > 70000) continue;
        const GemmBlocking b = blocking(K);
        run(M, b.nr + 1, K, "own KC " + std::to_string(b.kc));
        if (HasFailure()) return;
      }
  }
  KcOverride small(static_cast<size_t>(unit));
  SplitEverything split;
  for (int64_t K : {unit - 1, unit + 1, 2 * unit, 3 * unit + int64_t{b1.kr} - 1, 7 * unit + 1}) {
    if (K < 1) continue;
    const GemmBlocking b = blocking(K);
    const int64_t mc = static_cast<int64_t>(b.mc), nr = b.nr;
    // MR + 2 rows: one call of two row tiles (the VNNI kernels' tile_pair), full panels.
    const std::vector<std::array<int64_t, 2>> shapes{
        {1, 3 * nr + 1}, {int64_t{b.mr}, nr - 1}, {int64_t{b.mr} + 2, 2 * nr}, {mc + 1, 2 * nr + 3}, {2 * mc + 3, nr + 1}};
    for (const auto& s : shapes) {
      if (s[0] > 256 && K > 3 * unit + int64_t{b1.kr}) continue;  // the oracle's time
      run(s[0], s[1], K, "KC forced to " + std::to_string(b.kc));
      if (HasFailure()) return;
    }
  }
}

// N across panels and task edges, M across row blocks, with threads (OpenMP or the calling
// thread) and a caller's pool, every problem split into as many tasks as allowed.
TEST_P(BlockingEdges, TaskEdges) {
  SplitEverything split;
  std::mt19937 rng(4);
  const GemmBlocking b = blocking(1);
  const int64_t nr = b.nr, mc = static_cast<int64_t>(b.mc);
  const int64_t shapes[][3] = {{1, 3 * nr + 1, 9},       {int64_t{b.mr} + 1, 2 * nr - 1, 31},
                               {mc + 1, nr + 1, 1},        {2 * mc + 3, 3 * nr, 2},
                               {37, 5 * nr - 1, 130},      {int64_t{b.mr} * 7, 4 * nr + 1, 260}};
  int idx = 0;
  for (const auto& s : shapes)
    for (int mode = 0; mode < 3; ++mode) {
      GenOptions g;
      g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
      g.zb_per_column = (idx & 2) != 0;
      g.set_signs((idx + idx / 4) % 4);  // the four sign combinations
      g.bias = true;
      ++idx;
      auto p = make_problem(s[0], s[1], s[2], g, rng);
      qgemm::GemmOptions opt;
      opt.num_threads = mode == 0 ? 2 : mode == 1 ? 3 : 5;
      if (mode != 0) opt.parallel_for = reverse_pool;
      run_stages(p, std::string(mode ? "pool" : "threads") + " t=" + std::to_string(opt.num_threads), opt);
      if (HasFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Isas, BlockingEdges, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
