// Adversarial inputs for the AVX2 kernel (issue 5): data that makes vpmaddubsw's int16 pair sums
// saturate (A = 255 with weight pairs (127, 127), (-128, -128), (127, -128)), data that provably
// cannot (A <= 127), and problems mixing both within one call. The kernels' path counters
// (kernels/path_counters.hpp) prove which loop ran; every result is compared bit for bit
// with the oracle through every output stage.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include "test_hooks.hpp"
#include "test_util.hpp"
#include "path_counters.hpp"

namespace {

using qgemm::Isa;
using qgemm::OutputType;
using qgemm::Rounding;
using qgemm::detail::Path;
using qgemm::detail::path_count;

class X86Exact : public testing::Test {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(Isa::avx2))
      GTEST_SKIP() << "AVX2 is not available here (CPU lacks it or it is not built)";
    ASSERT_EQ(qgemm::set_isa(Isa::avx2), qgemm::Status::ok) << qgemm::last_error_message();
  }
  void TearDown() override { qgemm::reset_isa(); }
};

// The AVX2 kernel chooses its loop per block of 128 K values (see the kernel).
constexpr int64_t kBlockK = 128;

// A problem with B filled from a repeating pair pattern (b0, b1) along K, A from `a_at`.
template <typename AFn>
oracle::Problem make(int64_t M, int64_t N, int64_t K, int8_t b0, int8_t b1, AFn a_at, bool per_column,
                     std::mt19937& rng, qgemm::WeightLayout layout = qgemm::WeightLayout::nk) {
  qtest::GenOptions g;
  g.layout = layout;
  g.zb_per_column = per_column;
  g.bias = true;
  oracle::Problem p = qtest::make_problem(M, N, K, g, rng);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) p.a[static_cast<size_t>(i * p.lda + k)] = a_at(i, k);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      const size_t at = static_cast<size_t>(layout == qgemm::WeightLayout::kn ? k * p.ldb + j : j * p.ldb + k);
      p.b[at] = (k % 2) ? b1 : b0;
    }
  return p;
}

// Every output stage on p: s32, u8 fixed point (both roundings), s8 float multiplier, f32.
void run_stages(const oracle::Problem& p, bool per_column) {
  const size_t n = per_column ? static_cast<size_t>(p.N) : 1;
  std::vector<int32_t> mult(n), shift(n);
  std::vector<float> wscale(n);
  for (size_t j = 0; j < n; ++j) {
    ASSERT_EQ(qgemm::quantize_multiplier(1.0 / (4000.0 * (1 + j % 3) * std::max<int64_t>(p.K, 1)), &mult[j], &shift[j]),
              qgemm::Status::ok);
    wscale[j] = 0.001f * static_cast<float>(1 + j % 5);
  }
  const int32_t* bias = p.bias_s32.data();
  qtest::run_and_compare(p, qgemm::output_s32(bias), "s32");
  for (Rounding rd : {Rounding::double_rounding, Rounding::single_rounding})
    qtest::run_and_compare(
        p, qgemm::output_fixed_point(OutputType::u8, mult.data(), shift.data(), per_column, 128, bias, rd), "fixed");
  const float so = 0.001f * 0.02f * 300.0f * static_cast<float>(std::max<int64_t>(p.K, 1));
  qtest::run_and_compare(
      p, qgemm::output_float_multiplier(OutputType::s8, 0.02f, wscale.data(), per_column, so, -5, bias, nullptr),
      "float_mult");
  qtest::run_and_compare(p, qgemm::output_f32(0.02f, wscale.data(), per_column, p.bias_f32.data()), "f32");
}

// The AVX2 kernel's K blocks per loop in one run of f (on every thread it used): the vpmaddubsw
// loop, the int16 loop, and the sign mode.
struct X86PathCounts {
  uint64_t fast_blocks, exact_blocks, sign_blocks;
};
X86PathCounts counts_of(const std::function<void()>& f) {
  qgemm::detail::start_path_counting();
  f();
  qgemm::detail::stop_path_counting();
  return {path_count(Path::avx2_fast_block), path_count(Path::avx2_exact_block), path_count(Path::avx2_sign_block)};
}

// Which of the AVX2 kernel's loops a problem must run, from the kernel's rules (its comments).
// The driver packs A in 4-row tiles (for any M). A tile runs in the sign mode when at least half
// of its 128-deep K blocks are exact (a byte >= 128) and it lacks (0, 0) or (255, 255)
// vpmaddubsw pairs (K values 2t, 2t+1); otherwise per block the fast loop (every byte <= 127) or
// the int16 loop. Valid where K is one K block of the driver (every test here).
struct X86Expected {
  bool fast = false, exact = false, sign = false;
};
X86Expected expected_loops(const oracle::Problem& p) {
  X86Expected e;
  const int64_t M = p.M, K = p.K;
  auto at = [&](int64_t i, int64_t k) { return p.a[static_cast<size_t>(i * p.lda + k)]; };
  auto block_exact = [&](int64_t i0, int64_t i1, int64_t blk) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t k = blk * kBlockK; k < std::min(K, (blk + 1) * kBlockK); ++k)
        if (at(i, k) >= 128) return true;
    return false;
  };
  const int64_t kp = (K + 3) / 4 * 4, blocks = (kp + kBlockK - 1) / kBlockK;
  for (int64_t i0 = 0; i0 < M; i0 += 4) {
    const int64_t i1 = std::min(M, i0 + 4);
    int64_t n_exact = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) n_exact += block_exact(i0, i1, blk);
    bool zero_pair = false, ff_pair = false;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t k = 0; k + 1 < K; k += 2) {
        zero_pair |= at(i, k) == 0 && at(i, k + 1) == 0;
        ff_pair |= at(i, k) == 255 && at(i, k + 1) == 255;
      }
    if (n_exact > 0 && 2 * n_exact >= blocks && !(zero_pair && ff_pair)) {
      e.sign = true;
    } else {
      if (n_exact < blocks) e.fast = true;
      if (n_exact > 0) e.exact = true;
    }
  }
  return e;
}

// The loops that ran (c) are exactly the ones p calls for.
void expect_loops(const X86PathCounts& c, const oracle::Problem& p) {
  const X86Expected e = expected_loops(p);
  EXPECT_EQ(c.fast_blocks > 0, e.fast) << "fast loop, M=" << p.M << " K=" << p.K;
  EXPECT_EQ(c.exact_blocks > 0, e.exact) << "int16 loop, M=" << p.M << " K=" << p.K;
  EXPECT_EQ(c.sign_blocks > 0, e.sign) << "sign mode, M=" << p.M << " K=" << p.K;
}

// A = 255 everywhere with each saturating weight pair: only an exact loop may run (the sign mode
// here, which these tiles allow).
TEST_F(X86Exact, SaturatingPairsUseExactPath) {
  std::mt19937 rng(11);
  const int8_t pairs[][2] = {{127, 127}, {-128, -128}, {127, -128}, {-128, 127}};
  int idx = 0;
  for (const auto& pr : pairs)
    for (int64_t K : {1, 2, 3, 4, 5, 127, 128, 129, 256, 300, 515})
      for (int64_t M : {1, 4, 7, 17, 33}) {
        const bool per_col = (idx++ % 2) == 1;
        auto p = make(M, 37, K, pr[0], pr[1], [](int64_t, int64_t) { return uint8_t{255}; }, per_col, rng);
        p.za = (idx % 3 == 0) ? 0 : 255 - idx % 7;  // za = 0 keeps the raw products in the result
        const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
        if (HasFailure()) return;
        expect_loops(c, p);
        EXPECT_EQ(c.fast_blocks, 0u) << "M=" << M << " K=" << K << ": the saturating loop ran on A = 255";
      }
}

// A <= 127 everywhere, extreme weights: the vpmaddubsw loop is provably safe and must be used.
TEST_F(X86Exact, SevenBitActivationsUseFastPath) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> u7(0, 127);
  for (int64_t K : {1, 4, 6, 128, 129, 400})
    for (int64_t M : {1, 3, 4, 16, 17, 40}) {
      auto p = make(M, 29, K, 127, -128, [&](int64_t, int64_t) { return static_cast<uint8_t>(u7(rng) | 0x7F * (rng() & 1)); },
                    K % 2 == 0, rng);
      const X86PathCounts c = counts_of([&] { run_stages(p, K % 2 == 0); });
      if (HasFailure()) return;
      EXPECT_GT(c.fast_blocks, 0u);
      EXPECT_EQ(c.exact_blocks + c.sign_blocks, 0u) << "M=" << M << " K=" << K;
    }
}

// One call whose K blocks and row tiles alternate between safe and saturating data: both loops
// run within a tile and their partial sums are combined exactly, next to sign-mode tiles. Tiles
// of 1, 2 and 4 rows and whole ones, both weight layouts, per-tensor and per-column zero points.
TEST_F(X86Exact, MixedBlocksUseBothPaths) {
  std::mt19937 rng(13);
  int idx = 0;
  for (int64_t K : {3 * kBlockK + 1, 5 * kBlockK - 2, 4 * kBlockK + 4, 6 * kBlockK})
    for (int64_t M : {1, 2, 4, 5, 16, 19, 64})
      for (const auto& pr : {std::pair<int8_t, int8_t>{127, 127}, {-128, -128}, {127, -128}}) {
        const bool per_col = (idx % 2) == 1;
        const auto layout = (idx % 3) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
        ++idx;
        // Every third K block of row tile 0 saturates (fewer than half: that tile keeps the
        // per-block loops); in other row tiles, every third row is all 255.
        auto a_at = [&](int64_t i, int64_t k) -> uint8_t {
          if (i < 4) return ((k / kBlockK) % 3 == 1) ? 255 : static_cast<uint8_t>(120 + (k % 8));
          return (i % 3 == 0) ? 255 : static_cast<uint8_t>((i * 31 + k * 7) % 128);
        };
        auto p = make(M, 45, K, pr.first, pr.second, a_at, per_col, rng, layout);
        p.za = idx % 2 ? 0 : 128;
        const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
        if (HasFailure()) return;
        expect_loops(c, p);
        EXPECT_GT(c.fast_blocks, 0u) << "M=" << M << " K=" << K;
        EXPECT_GT(c.exact_blocks, 0u) << "M=" << M << " K=" << K;
      }
}

// Random bytes with a single 255 planted at every position of a block in turn: the block check
// must see each byte (rows, K groups, tails of the packer's scans).
TEST_F(X86Exact, SingleHighByteAnywhereIsSeen) {
  std::mt19937 rng(14);
  for (int64_t M : {1, 3, 4, 6, 20})
    for (int64_t K : {12, 36, 132}) {
      for (int64_t pos = 0; pos < M * K; pos += 1 + (pos % 5)) {
        auto p = make(M, 16, K, 127, 127, [](int64_t, int64_t) { return uint8_t{127}; }, false, rng);
        p.a[static_cast<size_t>((pos / K) * p.lda + pos % K)] = 255;
        p.za = 0;
        const X86PathCounts c = counts_of([&] { qtest::run_and_compare(p, qgemm::output_s32(), "s32"); });
        if (HasFailure()) return;
        SCOPED_TRACE("pos=" + std::to_string(pos));
        EXPECT_GT(c.exact_blocks + c.sign_blocks, 0u);
        expect_loops(c, p);
      }
    }
}

// The int16 loop for tiles of 1 to 4 rows (the intrinsic loop below 4 rows, the assembly one
// at 4), with a (0, 0) and a (255, 255) pair planted so that the tile cannot take the sign mode,
// on the bytes that stress it: A at 0, 1, 127, 128, 129, 254, 255 or random, B at -128, -127,
// -1, 0, 1, 126, 127 or random. K: below, at and above one block, several blocks with a
// partial last one, and the decode shapes' depths; a padded row stride; every output stage,
// both zero-point kinds.
TEST_F(X86Exact, Int16LoopIsExactForEveryRowCount) {
  std::mt19937 rng(15);
  const uint8_t a_vals[] = {0, 1, 127, 128, 129, 254, 255};
  const int8_t b_vals[] = {-128, -127, -1, 0, 1, 126, 127};
  int idx = 0;
  for (int64_t K : {int64_t{4}, int64_t{8}, int64_t{124}, kBlockK, kBlockK + 4, 2 * kBlockK, 3 * kBlockK + 8,
                    int64_t{768}, int64_t{3072}})
    for (int mode = 0; mode < 4; ++mode) {
      const bool per_col = (idx % 2) == 1;
      qtest::GenOptions g;
      g.layout = (idx % 3) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
      g.zb_per_column = per_col;
      g.bias = true;
      g.lda_pad = idx % 2 ? 13 : 0;
      ++idx;
      const int64_t M = 1 + idx % 4;
      oracle::Problem p = qtest::make_problem(M, 37, K, g, rng);
      for (int64_t x = 0; x < M * K; ++x) {
        const int64_t k = x % K;
        uint8_t& a = p.a[static_cast<size_t>((x / K) * p.lda + k)];
        if (mode == 0) a = 255;  // every high bit set
        if (mode == 1) a = a_vals[(k / 4 + k) % 7];
        if (mode == 2) a = (rng() % 3) ? a_vals[rng() % 7] : static_cast<uint8_t>(rng());
        // mode 3: uniform random bytes
      }
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < p.N; ++j) {
          const size_t at =
              static_cast<size_t>(g.layout == qgemm::WeightLayout::kn ? k * p.ldb + j : j * p.ldb + k);
          if (mode == 0) p.b[at] = -128;
          if (mode == 1) p.b[at] = b_vals[(k * 3 + j) % 7];
          if (mode == 2) p.b[at] = (rng() % 3) ? b_vals[rng() % 7] : static_cast<int8_t>(rng());
        }
      // A (0, 0) and a (255, 255) pair in the last row: no sign-mode offset, the per-block loops.
      for (int64_t k = 0; k < 4; ++k) p.a[static_cast<size_t>((M - 1) * p.lda + K - 4 + k)] = k < 2 ? 0 : 255;
      p.za = (idx % 3 == 0) ? 0 : static_cast<int32_t>(rng() % 256);
      const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
      if (HasFailure()) return;
      EXPECT_GT(c.exact_blocks, 0u) << "M=" << M << " K=" << K << " mode=" << mode;
      EXPECT_EQ(c.sign_blocks, 0u) << "M=" << M << " K=" << K << " mode=" << mode;
      expect_loops(c, p);
    }
}

// The sign mode (A - o as signed bytes against B ^ 0x80 / B ^ 0x7F) on data
// that picks each offset and places the values it can only sign one way (a = 0 for o = 128,
// a = 255 for o = 127) first and second in a vpmaddubsw pair; data with both (0, 0) and
// (255, 255) pairs, which must fall back to the per-block loops; every row count of a tile
// (M % 4), K tails (odd K, K % 4). Every output stage.
TEST_F(X86Exact, SignModeIsExact) {
  std::mt19937 rng(16);
  int idx = 0;
  for (int64_t K : {1, 2, 3, 4, 5, 6, 8, 127, 128, 130, 257, 768, 770, 3072})
    for (int64_t M : {1, 2, 3, 4, 5, 7, 8, 12, 33})
      for (int mode = 0; mode < 5; ++mode) {
        const bool per_col = (idx % 2) == 1;
        qtest::GenOptions g;
        g.layout = (idx % 3) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
        g.zb_per_column = per_col;
        g.bias = true;
        g.lda_pad = idx % 4 == 1 ? 7 : 0;
        ++idx;
        oracle::Problem p = qtest::make_problem(M, 29, K, g, rng);
        auto r8 = [&](int lo, int hi) { return static_cast<uint8_t>(lo + static_cast<int>(rng() % (hi - lo + 1))); };
        for (int64_t i = 0; i < M; ++i)
          for (int64_t k = 0; k < K; ++k) {
            uint8_t& a = p.a[static_cast<size_t>(i * p.lda + k)];
            const int64_t q = (k + i) % 4;  // position in two pairs (rows shifted, so both orders occur)
            if (mode == 0) a = k % 2 ? r8(1, 254) : r8(128, 254);  // no forced values: offset 128
            if (mode == 1) a = q < 2 ? 0 : (q == 2 ? 255 : r8(0, 254));  // (0, 0) and (255, x): 127
            if (mode == 2) a = q < 2 ? 255 : (q == 2 ? 0 : r8(1, 255));  // (255, 255) and (0, x): 128
            if (mode == 3) a = q < 2 ? 255 : (q == 2 ? r8(1, 255) : 0);  // (x, 0) second: 128
            if (mode == 4) a = (rng() & 1) ? 255 : 0;  // both kinds of pairs: per-block loops
          }
        for (auto& b : p.b) b = static_cast<int8_t>((rng() % 3) ? ((rng() & 1) ? 127 : -128) : static_cast<int>(rng() % 256) - 128);
        p.za = static_cast<int32_t>(rng() % 256);
        const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
        if (HasFailure()) return;
        expect_loops(c, p);
        const X86Expected e = expected_loops(p);
        // The data do what they are for (modes 1-3 need K >= 4 for a 255 in each row; with
        // mode 4 and small K a tile may miss one kind of pair by chance).
        if (mode == 0 || (K >= 4 && mode < 4)) EXPECT_TRUE(e.sign) << "M=" << M << " K=" << K << " mode=" << mode;
        if (K >= 127 && mode == 4) EXPECT_FALSE(e.sign) << "M=" << M << " K=" << K;
      }
}

// The sign mode with K in several driver K blocks: each call then holds one K block, and the
// kernel sums that block's B columns itself (TileArgs::colsum is null).
TEST_F(X86Exact, SignModeInKBlocks) {
  struct KcOverride {
    KcOverride() { qgemm::detail::set_kc_for_testing(static_cast<size_t>(kBlockK)); }
    ~KcOverride() { qgemm::detail::set_kc_for_testing(0); }
  } kc;
  std::mt19937 rng(17);
  for (int64_t K : {3 * kBlockK, 5 * kBlockK + 6})
    for (int64_t M : {5, 8, 13}) {
      qtest::GenOptions g;
      g.zb_per_column = M % 2 == 1;
      g.bias = true;
      oracle::Problem p = qtest::make_problem(M, 40, K, g, rng);
      for (auto& a : p.a) a = static_cast<uint8_t>(1 + rng() % 255);
      for (auto& b : p.b) b = static_cast<int8_t>((rng() & 1) ? 127 : -128);
      const X86PathCounts c = counts_of([&] { run_stages(p, g.zb_per_column); });
      if (HasFailure()) return;
      EXPECT_GT(c.sign_blocks, 0u) << "M=" << M << " K=" << K;
      EXPECT_EQ(c.fast_blocks + c.exact_blocks, 0u) << "M=" << M << " K=" << K;
    }
}

}  // namespace
