// The AVX-VNNI kernel's calls (kernels/x86/avxvnni): A read in place, one call per 16 columns
// and MC block, 7-12 rows as a pair of row tiles over B chunks, more rows as consecutive row
// tiles in one call (GemmConfig::max_rows_per_call), the full s32 and f32 tiles stored from the
// K loop's registers; the path counters (kernels/path_counters.hpp) prove which ran, and every
// result equals the oracle through every output stage.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "path_counters.hpp"
#include "test_hooks.hpp"
#include "test_util.hpp"

namespace {

using qgemm::Isa;
using qgemm::WeightLayout;
using qgemm::detail::Path;
using qgemm::detail::path_count;

class AvxvnniCalls : public testing::Test {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(Isa::avxvnni))
      GTEST_SKIP() << "avxvnni is not available here (CPU lacks it or it is not built)";
    ASSERT_EQ(qgemm::set_isa(Isa::avxvnni), qgemm::Status::ok) << qgemm::last_error_message();
    qgemm::detail::start_path_counting();
  }
  void TearDown() override {
    qgemm::detail::stop_path_counting();
    qgemm::reset_isa();
  }
};

TEST_F(AvxvnniCalls, PairsAndRowTiles) {
  std::mt19937 rng(29);
  // M across one tile, a pair (7-12), row tiles (13-96 rows in one call: one MC block at these
  // K), N with full and partial 16-column tiles, K across the pair's 256-group B chunk.
  const std::vector<std::array<int64_t, 3>> shapes = {
      {5, 48, 64},    {7, 33, 1028},  {12, 16, 256},   {13, 48, 68},   {17, 40, 1100},
      {24, 32, 4},    {31, 17, 520},  {48, 64, 2052},  {61, 50, 300},  {96, 16, 132}};
  for (const auto& shape : shapes) {
    const int64_t M = shape[0], N = shape[1], K = shape[2];
    qtest::GenOptions g;
    g.layout = (M & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (M & 2) != 0;
    g.bias = true;
    g.lda_pad = (M % 3) * 5;
    g.ldc_pad = 3;
    const auto p = qtest::make_problem(M, N, K, g, rng);
    const std::vector<float> wscale(static_cast<size_t>(N), 2e-5f);
    const std::vector<int32_t> mult(static_cast<size_t>(N), 1518500250), shift(static_cast<size_t>(N), -12);
    const qgemm::OutputStage stages[] = {
        qgemm::output_s32(p.bias_s32.data()),
        qgemm::output_fixed_point(qgemm::OutputType::u8, mult.data(), shift.data(), true, 128, p.bias_s32.data()),
        qgemm::output_f32(0.5f, wscale.data(), true, p.bias_f32.data())};
    const char* names[] = {"s32", "u8 fixed", "f32"};
    for (int s = 0; s < 3; ++s) {
      const uint64_t pair0 = path_count(Path::avxvnni_tile_pair), rows0 = path_count(Path::avxvnni_row_tiles);
      qgemm::GemmOptions one;  // one task, so that the calls counted below do not depend on the grid
      one.num_threads = 1;
      qtest::run_and_compare(p, stages[s], names[s], one);
      if (HasFailure()) return;
      EXPECT_STREQ(qgemm::last_kernel_name(), "u8s8_gemm_6x16c4__avxvnni");
      qgemm::detail::GemmBlocking bl{};
      ASSERT_TRUE(qgemm::detail::gemm_blocking_for_testing(Isa::avxvnni, K, &bl));
      const uint64_t kp = static_cast<uint64_t>((K + 3) / 4 * 4), kblocks = (kp + bl.kc - 1) / bl.kc;
      const uint64_t calls = static_cast<uint64_t>((N + 15) / 16) * kblocks;
      const bool pair = M > 6 && M <= 12, row_tiles = M > 12;
      EXPECT_EQ(path_count(Path::avxvnni_tile_pair) - pair0, pair ? calls : 0u) << "M=" << M << " N=" << N << " K=" << K;
      EXPECT_EQ(path_count(Path::avxvnni_row_tiles) - rows0, row_tiles ? calls : 0u)
          << "M=" << M << " N=" << N << " K=" << K;
      if (HasFailure()) return;
    }
  }
}

}  // namespace
