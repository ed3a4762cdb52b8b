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
// loop, the int16 loop, and the one-row loop on A split into 7 bits + high bit.
struct X86PathCounts {
  uint64_t fast_blocks, exact_blocks, split_blocks;
};
X86PathCounts counts_of(const std::function<void()>& f) {
  qgemm::detail::start_path_counting();
  f();
  qgemm::detail::stop_path_counting();
  return {path_count(Path::avx2_fast_block), path_count(Path::avx2_exact_block), path_count(Path::avx2_split_block)};
}

// Which exact loop a block with a byte >= 128 takes: the split loop when the call's tile has 1 to
// 3 rows read in place (the kernel reads A in place when K % 4 == 0 and M <= 4, all M rows in
// one tile), the int16 loop else.
bool uses_split_loop(int64_t M, int64_t K) { return M < 4 && K % 4 == 0; }

// The exact blocks of c ran on the loop that M and K call for, and some did.
void expect_exact_loop(const X86PathCounts& c, int64_t M, int64_t K) {
  if (uses_split_loop(M, K)) {
    EXPECT_GT(c.split_blocks, 0u) << "M=" << M << " K=" << K;
    EXPECT_EQ(c.exact_blocks, 0u) << "M=" << M << " K=" << K;
  } else {
    EXPECT_GT(c.exact_blocks, 0u) << "M=" << M << " K=" << K;
    EXPECT_EQ(c.split_blocks, 0u) << "M=" << M << " K=" << K;
  }
}

// A = 255 everywhere with each saturating weight pair: only the exact loop may run.
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
        expect_exact_loop(c, M, K);
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
      EXPECT_EQ(c.exact_blocks, 0u) << "M=" << M << " K=" << K;
      EXPECT_EQ(c.split_blocks, 0u) << "M=" << M << " K=" << K;
    }
}

// One call whose K blocks and row tiles alternate between safe and saturating data: both loops
// run within a tile and their partial sums are combined exactly. Covers A packed (M > 16) and
// in place (M <= 16, K % 4 == 0), both weight layouts, per-tensor and per-column zero points.
TEST_F(X86Exact, MixedBlocksUseBothPaths) {
  std::mt19937 rng(13);
  int idx = 0;
  for (int64_t K : {2 * kBlockK, 3 * kBlockK + 1, 5 * kBlockK - 2, 4 * kBlockK + 4})
    for (int64_t M : {1, 2, 5, 16, 19, 64})
      for (const auto& pr : {std::pair<int8_t, int8_t>{127, 127}, {-128, -128}, {127, -128}}) {
        const bool per_col = (idx % 2) == 1;
        const auto layout = (idx % 3) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
        ++idx;
        // Odd K blocks of row tile 0 saturate; in other row tiles, every third row is all 255.
        auto a_at = [&](int64_t i, int64_t k) -> uint8_t {
          if (i < 4) return ((k / kBlockK) % 2) ? 255 : static_cast<uint8_t>(120 + (k % 8));
          return (i % 3 == 0) ? 255 : static_cast<uint8_t>((i * 31 + k * 7) % 128);
        };
        auto p = make(M, 45, K, pr.first, pr.second, a_at, per_col, rng, layout);
        p.za = idx % 2 ? 0 : 128;
        const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
        if (HasFailure()) return;
        EXPECT_GT(c.fast_blocks, 0u) << "M=" << M << " K=" << K;
        expect_exact_loop(c, M, K);
      }
}

// Random bytes with a single 255 planted at every position of a block in turn: the block check
// must see each byte (rows, K groups, tails of the in-place and packed scans).
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
        expect_exact_loop(c, M, K);
      }
    }
}

// The split loop (A = low 7 bits + 128 * high bit, one pass per row, 1 to 3 rows) on the bytes that stress each of its
// parts: A at 0, 1, 127, 128, 129, 254, 255 (low part 0 or 127 with and without the high bit) or
// random, B at -128, -127, -1, 0, 1, 126, 127 or random, in runs long enough that whole blocks
// have the high bit set everywhere against B = -128 (the int16 high sums' largest magnitude).
// K: below, at and above one block, several blocks with a partial last one, and the decode
// shapes' depths; a padded row stride; every output stage, both zero-point kinds.
TEST_F(X86Exact, SplitLoopIsExact) {
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
      const int64_t M = 1 + idx % 3;
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
      p.za = (idx % 3 == 0) ? 0 : static_cast<int32_t>(rng() % 256);
      const X86PathCounts c = counts_of([&] { run_stages(p, per_col); });
      if (HasFailure()) return;
      bool any_high = false;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k) any_high |= p.a[static_cast<size_t>(i * p.lda + k)] >= 128;
      if (any_high) EXPECT_GT(c.split_blocks, 0u) << "M=" << M << " K=" << K << " mode=" << mode;
      EXPECT_EQ(c.exact_blocks, 0u) << "M=" << M << " K=" << K << " mode=" << mode;
    }
}

}  // namespace
