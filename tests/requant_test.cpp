// Requantization helpers on hand-checked values: TFLite QuantizeMultiplier, both TFLite
// roundings (including negative ties and the INT32_MIN*INT32_MIN saturation), and the float
// multiplier's round-half-to-even on exact .5 ties.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "oracle.hpp"
#include "test_util.hpp"

namespace {

using qgemm::Rounding;
constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

TEST(QuantizeMultiplier, HandCheckedValues) {
  int32_t m = -1, s = -1;
  ASSERT_EQ(qgemm::quantize_multiplier(0.5, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 1 << 30);  // 0.5 = 2^30 * 2^(0-31)
  EXPECT_EQ(s, 0);
  ASSERT_EQ(qgemm::quantize_multiplier(0.25, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, -1);
  ASSERT_EQ(qgemm::quantize_multiplier(1.0, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 1);
  ASSERT_EQ(qgemm::quantize_multiplier(0.75, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 3 << 29);
  EXPECT_EQ(s, 0);
  // q * 2^31 rounds up to 2^31: TFLite halves it and bumps the shift.
  ASSERT_EQ(qgemm::quantize_multiplier(1.0 - 1e-12, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 1);
  ASSERT_EQ(qgemm::quantize_multiplier(0.0, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 0);
  EXPECT_EQ(s, 0);
  // Below 2^-32: every bit shifted out, TFLite returns (0, 0).
  ASSERT_EQ(qgemm::quantize_multiplier(std::ldexp(1.0, -40), &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 0);
  EXPECT_EQ(s, 0);
  // 1/3: frexp gives 2/3 * 2^-1; round(2/3 * 2^31) = 1431655765.
  ASSERT_EQ(qgemm::quantize_multiplier(1.0 / 3.0, &m, &s), qgemm::Status::ok);
  EXPECT_EQ(m, 1431655765);
  EXPECT_EQ(s, -1);
  EXPECT_EQ(qgemm::quantize_multiplier(-0.5, &m, &s), qgemm::Status::bad_output_params);
  EXPECT_EQ(qgemm::quantize_multiplier(NAN, &m, &s), qgemm::Status::bad_output_params);
  EXPECT_EQ(qgemm::quantize_multiplier(0.5, nullptr, &s), qgemm::Status::null_pointer);
}

TEST(FixedPoint, SaturatingRoundingDoublingHighMul) {
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(kMin, kMin), kMax);
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(kMax, kMax), kMax - 1);
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(kMin, kMax), kMin + 1);
  // x * 2^30 / 2^31 = x / 2: ties go towards +infinity.
  const int32_t half = 1 << 30;
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(1, half), 1);    // 0.5 -> 1
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(-1, half), 0);   // -0.5 -> 0
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(3, half), 2);    // 1.5 -> 2
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(-3, half), -1);  // -1.5 -> -1
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(-5, half), -2);  // -2.5 -> -2
  EXPECT_EQ(qgemm::saturating_rounding_doubling_high_mul(100, half), 50);
}

TEST(FixedPoint, RoundingDivideByPOT) {
  // Ties away from zero.
  EXPECT_EQ(qgemm::rounding_divide_by_pot(5, 1), 3);     // 2.5 -> 3
  EXPECT_EQ(qgemm::rounding_divide_by_pot(-5, 1), -3);   // -2.5 -> -3
  EXPECT_EQ(qgemm::rounding_divide_by_pot(-6, 2), -2);   // -1.5 -> -2
  EXPECT_EQ(qgemm::rounding_divide_by_pot(6, 2), 2);     // 1.5 -> 2
  EXPECT_EQ(qgemm::rounding_divide_by_pot(-7, 2), -2);   // -1.75 -> -2
  EXPECT_EQ(qgemm::rounding_divide_by_pot(-5, 2), -1);   // -1.25 -> -1
  EXPECT_EQ(qgemm::rounding_divide_by_pot(7, 0), 7);
  EXPECT_EQ(qgemm::rounding_divide_by_pot(kMin, 31), -1);
  EXPECT_EQ(qgemm::rounding_divide_by_pot(kMax, 31), 1);
}

TEST(FixedPoint, MultiplyByQuantizedMultiplierBothRoundings) {
  const int32_t half = 1 << 30;  // 0.5 in Q31
  // x * 0.5 * 2^-1 = x / 4.
  // double: srdhm(x, 2^30) then RDBPOT(., 1); single: floor((x*2^30 + 2^31) / 2^32).
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(6, half, -1, Rounding::double_rounding), 2);   // 3 -> 1.5 -> 2
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(6, half, -1, Rounding::single_rounding), 2);   // 1.5 -> 2
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(-6, half, -1, Rounding::double_rounding), -2); // -3 -> -1.5 -> -2
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(-6, half, -1, Rounding::single_rounding), -1); // -1.5 -> -1 (up)
  // Double rounding differs from single: 5/4 = 1.25: srdhm(5, .5) = 2.5 -> 3, then 3/2 -> 2.
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(5, half, -1, Rounding::double_rounding), 2);
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(5, half, -1, Rounding::single_rounding), 1);
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(-5, half, -1, Rounding::double_rounding), -1);
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(-5, half, -1, Rounding::single_rounding), -1);
  // Left shift: 3 * 0.5 * 2^2 = 6.
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(3, half, 2, Rounding::double_rounding), 6);
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(3, half, 2, Rounding::single_rounding), 6);
  // The INT32_MIN * INT32_MIN saturation reaches the double-rounding result.
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(kMin, kMin, 0, Rounding::double_rounding), kMax);
  // Single rounding saturates to int32.
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(kMax, kMax, 30, Rounding::single_rounding), kMax);
  EXPECT_EQ(qgemm::multiply_by_quantized_multiplier(kMin, kMax, 30, Rounding::single_rounding), kMin);
}

// The library's helper equals the independent oracle on random inputs, both roundings.
TEST(FixedPoint, HelperMatchesOracleRandom) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> x(kMin, kMax), m(0, kMax), s(-31, 30), small(-100000, 100000);
  for (int i = 0; i < 200000; ++i) {
    const int32_t xi = (i & 1) ? x(rng) : small(rng), mi = m(rng), si = s(rng);
    for (Rounding r : {Rounding::double_rounding, Rounding::single_rounding})
      ASSERT_EQ(qgemm::multiply_by_quantized_multiplier(xi, mi, si, r), oracle::fixed_point(xi, mi, si, r))
          << "x=" << xi << " m=" << mi << " shift=" << si << " single=" << (r == Rounding::single_rounding);
  }
}

// Float multiplier: exact .5 ties round half to even, through the whole GEMM on every ISA.
class FloatMultiplierTies : public qtest::IsaTest {};

TEST_P(FloatMultiplierTies, HalfToEven) {
  // One row, K = 1, A = 1 + za... acc = (a - 0) * (b - 0) with b = 1: acc = a. mult = 0.5:
  // a = 1 -> 0.5 -> 0; 3 -> 1.5 -> 2; 5 -> 2.5 -> 2; 7 -> 3.5 -> 4; and negatives through b = -1.
  oracle::Problem p;
  p.M = 8;
  p.N = 2;
  p.K = 1;
  p.lda = 1;
  p.ldb = 2;
  p.ldc = 2;
  p.a = {1, 3, 5, 7, 9, 11, 0, 2};
  p.b = {1, -1};
  p.zb = {0};
  const float ws = 0.5f;
  qgemm::OutputStage o = qgemm::output_float_multiplier(qgemm::OutputType::s8, 1.0f, &ws, false, 1.0f, 0);
  const std::vector<uint8_t> want = oracle::expected_output(p, o, 0);
  const int8_t expect[16] = {0, 0, 2, -2, 2, -2, 4, -4, 4, -4, 6, -6, 0, 0, 1, -1};
  for (int i = 0; i < 16; ++i) ASSERT_EQ(static_cast<int8_t>(want[i]), expect[i]) << "oracle at " << i;
  qtest::run_and_compare(p, o, "ties");
}

INSTANTIATE_TEST_SUITE_P(Isas, FloatMultiplierTies, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
