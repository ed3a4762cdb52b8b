// The oracle suite: every output stage, shape class, layout, zero-point mode and stride,
// compared bit for bit with the independent oracle, once per ISA (forced through set_isa()).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "test_util.hpp"

namespace {

using qgemm::Isa;
using qgemm::OutputStage;
using qgemm::OutputType;
using qgemm::Rounding;
using qgemm::WeightLayout;
using qtest::GenOptions;
using qtest::make_problem;
using qtest::run_and_compare;

// The full size list, or (QGEMM_TEST_REDUCED=1, for emulated runs: SIMDe, qemu) a subset that
// still crosses every tile edge of the kernels (MR <= 16, NR <= 64, KR <= 8).
std::vector<int64_t> sizes() {
  const char* r = std::getenv("QGEMM_TEST_REDUCED");
  if (r && *r == '1') return {1, 3, 4, 5, 8, 15, 16, 17, 31, 33, 64, 65};
  return {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129};
}

class GemmOracle : public qtest::IsaTest {};

// Requantization parameters that spread a problem's accumulators over the output range.
struct Requant {
  std::vector<int32_t> mult, shift;
  std::vector<float> wscale;
  float sa = 0.02f, so = 1.0f;
};

Requant make_requant(const oracle::Problem& p, bool per_column, std::mt19937& rng) {
  Requant r;
  const size_t n = per_column ? static_cast<size_t>(std::max<int64_t>(p.N, 1)) : 1;
  std::uniform_real_distribution<double> f(0.3, 3.0);
  // |acc| is typically ~ 128*74*sqrt(K); map that to ~100 output steps.
  const double typical = 128.0 * 74.0 * std::sqrt(static_cast<double>(std::max<int64_t>(p.K, 1)));
  for (size_t j = 0; j < n; ++j) {
    int32_t m, s;
    const double real = f(rng) * 100.0 / typical;
    EXPECT_EQ(qgemm::quantize_multiplier(real, &m, &s), qgemm::Status::ok);
    r.mult.push_back(m);
    r.shift.push_back(s);
    r.wscale.push_back(static_cast<float>(f(rng) * 0.01));
  }
  r.so = static_cast<float>(r.sa * 0.01 * typical / 100.0);
  return r;
}

// Runs p through every output stage (s32, u8/s8 fixed point with both roundings, u8/s8 float
// multiplier with int/float/no bias, f32), with full and narrow clamps.
void run_all_stages(const oracle::Problem& p, bool per_column, bool narrow, std::mt19937& rng) {
  const Requant r = make_requant(p, per_column, rng);
  const int32_t* bias = p.bias_s32.empty() ? nullptr : p.bias_s32.data();
  const float* fbias = p.bias_f32.empty() ? nullptr : p.bias_f32.data();
  run_and_compare(p, qgemm::output_s32(bias), "s32");
  for (OutputType t : {OutputType::u8, OutputType::s8}) {
    const int32_t zo = t == OutputType::u8 ? 128 : -3;
    for (Rounding rd : {Rounding::double_rounding, Rounding::single_rounding}) {
      OutputStage o = qgemm::output_fixed_point(t, r.mult.data(), r.shift.data(), per_column, zo, bias, rd);
      if (narrow) {  // ReLU-like lower bound and a cap
        o.clamp_lo = zo;
        o.clamp_hi = zo + 90;
      }
      run_and_compare(p, o, rd == Rounding::double_rounding ? "fixed/double" : "fixed/single");
    }
    OutputStage o = qgemm::output_float_multiplier(t, r.sa, r.wscale.data(), per_column, r.so, zo, bias, nullptr);
    if (narrow) {
      o.clamp_lo = zo - 20;
      o.clamp_hi = zo + 20;
    }
    run_and_compare(p, o, "float_mult/int bias");
    o.bias_s32 = nullptr;
    o.bias_f32 = fbias;
    run_and_compare(p, o, "float_mult/float bias");
  }
  OutputStage f = qgemm::output_f32(r.sa, r.wscale.data(), per_column, fbias);
  if (narrow) {
    f.clamp_lo_f32 = 0.0f;
    f.clamp_hi_f32 = 6.0f;
  }
  run_and_compare(p, f, "f32");
}

// All M x N x K from kSizes with the s32 stage, cycling layouts, zero-point modes and strides.
TEST_P(GemmOracle, AllSmallShapesS32) {
  std::mt19937 rng(1234);
  int idx = 0;
  const std::vector<int64_t> list = sizes();
  for (int64_t M : list)
    for (int64_t N : list)
      for (int64_t K : list) {
        GenOptions g;
        g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
        g.zb_per_column = (idx & 2) != 0;
        g.bias = (idx % 3) == 0;
        g.set_signs((idx / 2) % 4);  // the four sign combinations, against every layout and zb mode
        if (idx % 5 == 0) {  // prime paddings
          g.lda_pad = 7;
          g.ldb_pad = 11;
          g.ldc_pad = 13;
        }
        ++idx;
        const auto p = make_problem(M, N, K, g, rng);
        run_and_compare(p, qgemm::output_s32(p.bias_s32.empty() ? nullptr : p.bias_s32.data()), "s32");
        if (HasFatalFailure() || HasFailure()) return;
      }
}

// Every output stage on a spread of shapes that cross tile edges, both layouts, both zero
// point modes, with and without bias, full and narrow clamps.
TEST_P(GemmOracle, AllStagesSelectedShapes) {
  std::mt19937 rng(99);
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 17, 64},  {3, 8, 4},    {4, 33, 3},  {5, 16, 15},
                               {7, 65, 31}, {8, 32, 129}, {16, 63, 17}, {17, 5, 2}, {33, 31, 65},
                               {64, 129, 33}, {65, 64, 127}, {129, 7, 5}};
  int idx = 0;
  for (const auto& s : shapes)
    for (bool per_col : {false, true}) {
      GenOptions g;
      g.layout = (idx & 1) ? WeightLayout::nk : WeightLayout::kn;
      g.zb_per_column = per_col;
      g.bias = (idx % 3) != 2;
      g.lda_pad = (idx % 4) ? 3 : 0;
      g.ldc_pad = (idx % 4) ? 5 : 0;
      g.set_signs((idx / 2 + idx) % 4);
      const bool narrow = (idx % 2) == 0;
      ++idx;
      const auto p = make_problem(s[0], s[1], s[2], g, rng);
      run_all_stages(p, per_col, narrow, rng);
      if (HasFailure()) return;
    }
}

// A and B at both ends of their types' ranges (uint8 {0, 255}, int8 {-128, 127}), zero points
// too, in every sign combination.
TEST_P(GemmOracle, ExtremeValues) {
  std::mt19937 rng(7);
  for (int rep = 0; rep < 32; ++rep) {
    GenOptions g;
    g.extremes = true;
    g.set_signs((rep + rep / 8) % 4);
    g.layout = (rep & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (rep & 2) != 0;
    g.bias = (rep & 4) != 0;
    const int64_t M = 1 + rep % 9, N = 1 + (rep * 7) % 40, K = 1 + (rep * 37) % 300;
    auto p = make_problem(M, N, K, g, rng);
    run_all_stages(p, (rep & 8) != 0, (rep & 16) != 0, rng);
    if (HasFailure()) return;
  }
  // The largest K the overflow bound admits for the worst data: A = 255, za = 0, B = -128.
  GenOptions g;
  auto p = make_problem(2, 3, 8, g, rng);
  const int64_t K = 65793;  // 255*128*65793 = 2147483520 <= INT32_MAX
  p.K = K;
  p.lda = K;
  p.ldb = p.N;
  p.a.assign(static_cast<size_t>(2 * K), 255);
  p.b.assign(static_cast<size_t>(K * p.N), -128);
  p.za = 0;
  p.zb = {0};
  run_and_compare(p, qgemm::output_s32(), "max K");
}

// The largest K the overflow bound admits in each sign combination, with the worst data: every
// |A - za| and |B - zb| at its maximum (255 for a zero point at one end of its range), so that
// |acc| = 255 * 255 * K <= INT32_MAX at K = 33025; one more K value is refused, writing nothing.
TEST_P(GemmOracle, SignCombinationsAtTheOverflowBound) {
  std::mt19937 rng(11);
  for (int combo = 0; combo < 4; ++combo)
    for (int sign : {1, -1}) {  // acc = +255*255*K or -255*255*K
      GenOptions g;
      g.set_signs(combo);
      auto p = make_problem(2, 3, 8, g, rng);
      const int64_t K = 33025;  // 255 * 255 * 33025 = 2147450625 <= INT32_MAX
      p.K = K;
      p.lda = K;
      p.ldb = p.N;
      const int amin = g.a_signed ? -128 : 0, amax = g.a_signed ? 127 : 255;
      const int bmin = g.b_unsigned ? 0 : -128, bmax = g.b_unsigned ? 255 : 127;
      p.a.assign(static_cast<size_t>(2 * K), static_cast<uint8_t>(amax));  // A - za = 255 with za = amin
      p.za = amin;
      p.b.assign(static_cast<size_t>(K * p.N), static_cast<int8_t>(static_cast<uint8_t>(sign > 0 ? bmax : bmin)));
      p.zb = {sign > 0 ? bmin : bmax};  // B - zb = +255 or -255
      run_and_compare(p, qgemm::output_s32(), "max K");
      if (HasFailure()) return;
      // K + 1: refused before anything is written.
      p.K = K + 1;
      p.lda = K + 1;
      p.a.assign(static_cast<size_t>(2 * (K + 1)), static_cast<uint8_t>(amax));
      p.b.assign(static_cast<size_t>((K + 1) * p.N), static_cast<int8_t>(static_cast<uint8_t>(sign > 0 ? bmax : bmin)));
      qgemm::PackedWeights* w = nullptr;
      ASSERT_EQ(qtest::pack_problem(p, &w), qgemm::Status::ok);
      std::vector<int32_t> c(6, 0x5A5A5A5A);
      EXPECT_EQ(qtest::gemm_problem(p, w, qgemm::output_s32(), c.data(), p.N), qgemm::Status::overflow_risk)
          << qtest::signs_name(p);
      for (int32_t v : c) EXPECT_EQ(v, 0x5A5A5A5A);
      qgemm::destroy_packed_weights(w);
    }
}

// Random larger shapes.
TEST_P(GemmOracle, RandomLargerShapes) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int64_t> dm(1, 300), dn(1, 300), dk(1, 700);
  for (int rep = 0; rep < 8; ++rep) {
    GenOptions g;
    g.layout = (rep & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (rep & 2) != 0;
    g.bias = true;
    g.lda_pad = 31;
    g.ldb_pad = 17;
    g.ldc_pad = 19;
    g.set_signs(rep % 4);
    const auto p = make_problem(dm(rng), dn(rng), dk(rng), g, rng);
    run_all_stages(p, (rep & 2) != 0, (rep & 4) != 0, rng);
    if (HasFailure()) return;
  }
}

// Weight zero points that are all 0 (per tensor or per column) let the driver skip A's row
// sums; a single nonzero column among zeros must not. Shapes cover A read in place (small M on
// AVX2), the kernels' own A packing and the generic one, K tails, and more than one MC block
// (M = 400 at K = 1100).
TEST_P(GemmOracle, ZeroWeightZeroPointsSkipRowSumsOnlyWhenAllZero) {
  std::mt19937 rng(77);
  const int64_t shapes[][3] = {{1, 40, 64}, {3, 17, 33}, {9, 40, 301}, {400, 20, 1100}};
  int idx = 0;
  for (const auto& s : shapes)
    for (int mode = 0; mode < 3; ++mode) {  // 0: per tensor 0; 1: per column, all 0; 2: one column -77
      GenOptions g;
      g.layout = (idx++ & 1) ? WeightLayout::nk : WeightLayout::kn;
      g.zb_per_column = mode != 0;
      g.bias = true;
      auto p = make_problem(s[0], s[1], s[2], g, rng);
      std::fill(p.zb.begin(), p.zb.end(), 0);
      if (mode == 2) p.zb[p.zb.size() / 2] = -77;
      const std::string what = mode == 0 ? "zb = 0" : mode == 1 ? "zb[j] = 0" : "one zb[j] = -77";
      run_and_compare(p, qgemm::output_s32(p.bias_s32.data()), what + " s32");
      const std::vector<float> ws(static_cast<size_t>(p.N), 0.01f);
      run_and_compare(p, qgemm::output_f32(0.5f, ws.data(), true, p.bias_f32.data()), what + " f32");
      if (HasFailure()) return;
    }
}

// M, N or K = 0 is a valid call; with K = 0 the result is the bias alone.
TEST_P(GemmOracle, EmptyProblems) {
  std::mt19937 rng(5);
  for (auto s : std::vector<std::array<int64_t, 3>>{{0, 5, 7}, {5, 0, 7}, {5, 7, 0}, {0, 0, 0}, {3, 17, 0}})
    for (WeightLayout layout : {WeightLayout::kn, WeightLayout::nk}) {
      GenOptions g;
      g.bias = true;
      g.layout = layout;
      const auto p = make_problem(s[0], s[1], s[2], g, rng);
      run_all_stages(p, true, false, rng);
      if (HasFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(Isas, GemmOracle, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
