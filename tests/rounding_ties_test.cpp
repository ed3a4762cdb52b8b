// Rounding ties in every requantizing output stage, once per ISA. Random scales almost never
// land exactly on .5, so a kernel that rounded ties the wrong way (away from zero instead of
// to even, up instead of away from zero) would pass the random oracle suite; here the
// multipliers are powers of two and the accumulators small, so about half of all outputs
// are ties, positive and negative.
#include <gtest/gtest.h>

#include <random>

#include "test_util.hpp"

namespace {

using qgemm::OutputType;
using qgemm::Rounding;

class RoundingTies : public qtest::IsaTest {};

TEST_P(RoundingTies, PowerOfTwoScales) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> small_a(0, 6), small_b(-3, 3);
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {9, 33, 17}, {17, 20, 40}};
  for (const auto& s : shapes) {
    qtest::GenOptions g;
    g.layout = (s[1] & 1) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
    g.bias = true;
    auto p = qtest::make_problem(s[0], s[1], s[2], g, rng);
    for (auto& v : p.a) v = static_cast<uint8_t>(small_a(rng));
    for (auto& v : p.b) v = static_cast<int8_t>(small_b(rng));
    p.za = 3;
    p.zb = {1};
    for (auto& v : p.bias_s32) v = small_b(rng);
    for (OutputType t : {OutputType::u8, OutputType::s8}) {
      const int32_t zo = t == OutputType::u8 ? 128 : 0;
      // float multiplier 1/2 and 1/4: x.5 ties, to even.
      const float one = 1.0f;
      for (float so : {2.0f, 4.0f}) {
        const auto o =
            qgemm::output_float_multiplier(t, 1.0f, &one, false, so, zo, p.bias_s32.data());
        qtest::run_and_compare(p, o, "float_mult ties");
        if (HasFailure()) return;
      }
      // Q31 multiplier 1/2 with right shifts 1 and 2: ties in both roundings.
      const int32_t m = 1 << 30;
      for (int32_t shift : {0, -1, -2}) {
        for (Rounding rd : {Rounding::double_rounding, Rounding::single_rounding}) {
          const auto o = qgemm::output_fixed_point(t, &m, &shift, false, zo, p.bias_s32.data(), rd);
          qtest::run_and_compare(
              p, o, rd == Rounding::double_rounding ? "fixed/double ties" : "fixed/single ties");
          if (HasFailure()) return;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, RoundingTies, testing::ValuesIn(qtest::all_isas()),
                         qtest::isa_param_name);

}  // namespace
