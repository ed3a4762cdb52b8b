// StaticLinear in TFLite's int8 mode (init_s8 / forward with int8 x and y) against an
// independent reference written from TFLite's reference kernels: QuantizeMultiplier, gemmlowp's
// SaturatingRoundingDoublingHighMul and RoundingDivideByPOT (double rounding), the
// TFLITE_SINGLE_ROUNDING MultiplyByQuantizedMultiplier, and FullyConnected(PerChannel) with the
// sums in int64. Bit-exact on every ISA this CPU runs; plus the C API and the bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/quantize.h"
#include "test_util.hpp"

namespace {

using qgemm::QParams;
using qgemm::Rounding;
using qgemm::StaticLinear;
using qgemm::StaticLinearMode;
using qgemm::Status;

// ---- TFLite's arithmetic, written out (tensorflow/lite/kernels/internal/quantization_util.cc,
// common.h, reference/integer_ops/fully_connected.h). Where TFLite has undefined behaviour
// (int32 left-shift overflow) the wrapping of its vector code is used.
namespace tfl {

void QuantizeMultiplier(double d, int32_t* m, int* shift) {
  if (d == 0.0) {
    *m = 0;
    *shift = 0;
    return;
  }
  const double q = std::frexp(d, shift);
  int64_t q_fixed = static_cast<int64_t>(std::round(q * static_cast<double>(1LL << 31)));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q_fixed = 0;
  }
  *m = static_cast<int32_t>(q_fixed);
}

int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab_64 = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab_64 >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t ab_x2_high32 = static_cast<int32_t>((ab_64 + nudge) / (1LL << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : ab_x2_high32;
}

int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t m, int shift, Rounding r) {
  if (r == Rounding::single_rounding) {
    const int64_t total_shift = 31 - shift;
    const int64_t round = int64_t{1} << (total_shift - 1);
    int64_t result = static_cast<int64_t>(x) * m + round;
    result >>= total_shift;
    if (result > std::numeric_limits<int32_t>::max()) result = std::numeric_limits<int32_t>::max();
    if (result < std::numeric_limits<int32_t>::min()) result = std::numeric_limits<int32_t>::min();
    return static_cast<int32_t>(result);
  }
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left_shift);
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, m), right_shift);
}

// FullyConnected / FullyConnectedPerChannel (int8): input_offset = -zx, filter offset 0.
std::vector<int8_t> FullyConnected(int64_t M, int64_t K, int64_t N, const int8_t* x, int64_t ldx,
                                   const std::vector<int8_t>& w, const int32_t* bias, int32_t zx,
                                   const std::vector<int32_t>& m, const std::vector<int>& shift,
                                   bool per_channel, int32_t zy, int32_t lo, int32_t hi, Rounding r,
                                   int64_t ldy, int8_t fill) {
  std::vector<int8_t> y(static_cast<size_t>(M > 0 ? (M - 1) * ldy + N : 0), fill);
  for (int64_t b = 0; b < M; ++b)
    for (int64_t c = 0; c < N; ++c) {
      int64_t acc = 0;
      for (int64_t d = 0; d < K; ++d) acc += int64_t{w[c * K + d]} * (int64_t{x[b * ldx + d]} - zx);
      if (bias) acc += bias[c];
      EXPECT_TRUE(acc >= INT32_MIN && acc <= INT32_MAX) << "the test made an accumulator beyond int32";
      const size_t s = per_channel ? static_cast<size_t>(c) : 0;
      int64_t v = MultiplyByQuantizedMultiplier(static_cast<int32_t>(acc), m[s], shift[s], r);
      v += zy;
      v = std::max<int64_t>(v, lo);
      v = std::min<int64_t>(v, hi);
      y[b * ldy + c] = static_cast<int8_t>(v);
    }
  return y;
}

}  // namespace tfl

struct Case {
  int64_t M, K, N;
  bool per_channel, bias;
  Rounding rounding;
  int32_t zx, zy;
  enum Clamp { none, relu, relu6 } clamp;
  bool small = false;  // small weights and a multiplier > 1 (a left shift)
  bool ties = false;   // small values, sx*sw/sy = 1/2 or 1/8 exactly: the roundings' ties
  int64_t pad = 0;     // ldx = K + pad, ldy = N + pad
};

std::string describe(const Case& c) {
  return "M " + std::to_string(c.M) + " K " + std::to_string(c.K) + " N " + std::to_string(c.N) +
         (c.per_channel ? " per-channel" : " per-tensor") + (c.bias ? " bias" : "") +
         (c.rounding == Rounding::single_rounding ? " single" : " double") + " zx " + std::to_string(c.zx) +
         " zy " + std::to_string(c.zy) + " clamp " + std::to_string(static_cast<int>(c.clamp)) +
 (c.small ? " small" : "") + (c.ties ? " ties" : "") + " pad " + std::to_string(c.pad);
}

std::vector<Case> cases() {
  std::vector<Case> v;
  const int64_t Ms[] = {1, 7, 64};
  const int64_t KN[][2] = {{1, 1}, {37, 11}, {64, 33}, {255, 17}, {768, 40}};
  int n = 0;
  for (int64_t M : Ms)
    for (const auto& kn : KN)
      for (int pc = 0; pc < 2; ++pc) {
        Case c{};
        c.M = M;
        c.K = kn[0];
        c.N = kn[1];
        c.per_channel = pc != 0;
        c.bias = (n % 3) != 0;
        c.rounding = (n % 2) ? Rounding::single_rounding : Rounding::double_rounding;
        const int32_t zxs[] = {0, -128, 127, -5, 17};
        c.zx = zxs[n % 5];
        c.zy = (n % 4 == 0) ? -128 : (n % 4 == 1 ? 3 : (n % 4 == 2 ? -20 : 127));
        c.clamp = static_cast<Case::Clamp>(n % 3);
        c.pad = (n % 4 == 3) ? 5 : 0;
        v.push_back(c);
        ++n;
      }
  // Multipliers above 1 (positive shifts), both roundings, per tensor and per channel.
  for (int r = 0; r < 2; ++r)
    for (int pc = 0; pc < 2; ++pc) {
      Case c{7, 3, 9, pc != 0, true, r ? Rounding::single_rounding : Rounding::double_rounding, 0, -7, Case::none};
      c.small = true;
      c.pad = 2;
      v.push_back(c);
      c.small = false;
      c.ties = true;
      c.K = 5;
      c.zx = 1;
      v.push_back(c);
    }
  return v;
}

struct Layer {
  std::vector<int8_t> x, w;
  std::vector<float> ws;
  std::vector<int32_t> bias;
  QParams px, py;
  int32_t lo = -128, hi = 127;
};

Layer make_layer(const Case& c, std::mt19937& rng) {
  Layer L;
  const int64_t ldx = c.K + c.pad;
  L.x.resize(static_cast<size_t>(c.M * ldx));
  L.w.resize(static_cast<size_t>(c.N * c.K));
  const bool small = c.small || c.ties;
  const int wmax = small ? 2 : 127;
  const int bmax = small ? 5 : 40000;
  std::uniform_int_distribution<int> ux(-128, 127), uw(-wmax, wmax), ub(-bmax, bmax);
  for (auto& e : L.x) e = static_cast<int8_t>(small ? std::uniform_int_distribution<int>(-6, 6)(rng) : ux(rng));
  for (auto& e : L.w) e = static_cast<int8_t>(uw(rng));
  // Both ends of the types: the zero-point edges meet the extreme values.
  if (c.K > 2 && !small) {
    L.x[0] = -128;
    L.x[1] = 127;
    L.w[0] = -128;
    L.w[1] = 127;
  }
  std::uniform_real_distribution<float> us(0.002f, 0.02f);
  L.ws.resize(c.per_channel ? c.N : 1);
  for (auto& s : L.ws) s = c.small ? std::uniform_real_distribution<float>(0.5f, 1.5f)(rng) : us(rng);
  if (c.bias) {
    L.bias.resize(c.N);
    for (auto& b : L.bias) b = ub(rng);
  }
  if (c.ties) {
    for (size_t j = 0; j < L.ws.size(); ++j) L.ws[j] = j % 2 ? 0.5f : 0.125f;  // shifts 0 and -2
    L.px = {1.0f, c.zx};
    L.py = {1.0f, c.zy};
  } else if (c.small) {
    L.px = {1.0f, c.zx};
    L.py = {0.3f, c.zy};  // sx*sw/sy in [1.7, 5]: shifts 1..3
  } else {
    // About 50 output steps per standard deviation of acc (~ 74 * 73 * sqrt(K)).
    L.px = {0.02f, c.zx};
    L.py = {0.02f * 0.011f * 74.0f * 73.0f * std::sqrt(static_cast<float>(c.K)) / 50.0f, c.zy};
  }
  if (c.clamp == Case::relu) {
    L.lo = c.zy;
  } else if (c.clamp == Case::relu6) {
    L.lo = c.zy;
    L.hi = static_cast<int32_t>(std::min<int64_t>(127, c.zy + std::lround(6.0f / L.py.scale)));
  }
  return L;
}

class TfliteLinear : public qtest::IsaTest {};

TEST_P(TfliteLinear, BitExactWithTfliteReference) {
  const std::vector<Case> all = cases();
  int distinct = 0, clamped = 0, positive_shift = 0, rounding_matters = 0;
  for (size_t ci = 0; ci < all.size(); ++ci) {
    const Case& c = all[ci];
    SCOPED_TRACE(describe(c));
    std::mt19937 rng(static_cast<unsigned>(1000 + ci));
    const Layer L = make_layer(c, rng);
    StaticLinear layer;
    ASSERT_EQ(layer.init_s8(L.w.data(), c.N, c.K, L.ws.data(), c.per_channel, c.bias ? L.bias.data() : nullptr,
                            L.px, L.py, L.lo, L.hi, c.rounding),
              Status::ok)
        << qgemm::last_error_message();
    EXPECT_EQ(layer.mode(), StaticLinearMode::s8_tflite);
    EXPECT_EQ(layer.rounding(), c.rounding);

    // The multipliers are TFLite's Prepare: QuantizeMultiplier of the double product/quotient.
    std::vector<int32_t> m(L.ws.size());
    std::vector<int> sh(L.ws.size());
    for (size_t j = 0; j < L.ws.size(); ++j) {
      tfl::QuantizeMultiplier(static_cast<double>(L.px.scale) * static_cast<double>(L.ws[j]) /
                                  static_cast<double>(L.py.scale),
                              &m[j], &sh[j]);
      positive_shift += sh[j] > 0;
    }
    ASSERT_EQ(layer.multipliers(), m);
    ASSERT_EQ(layer.shifts(), std::vector<int32_t>(sh.begin(), sh.end()));

    const int64_t ldx = c.K + c.pad, ldy = c.N + c.pad;
    const int8_t fill = 0x5a;
    const std::vector<int8_t> expect =
        tfl::FullyConnected(c.M, c.K, c.N, L.x.data(), ldx, L.w, c.bias ? L.bias.data() : nullptr, c.zx, m, sh,
                            c.per_channel, c.zy, L.lo, L.hi, c.rounding, ldy, fill);
    const Rounding other =
        c.rounding == Rounding::single_rounding ? Rounding::double_rounding : Rounding::single_rounding;
    const std::vector<int8_t> expect_other =
        tfl::FullyConnected(c.M, c.K, c.N, L.x.data(), ldx, L.w, c.bias ? L.bias.data() : nullptr, c.zx, m, sh,
                            c.per_channel, c.zy, L.lo, L.hi, other, ldy, fill);
    for (size_t i = 0; i < expect.size(); ++i) rounding_matters += expect[i] != expect_other[i];
    std::vector<int8_t> y(expect.size(), fill);
    ASSERT_EQ(layer.forward(c.M, L.x.data(), ldx, y.data(), ldy), Status::ok) << qgemm::last_error_message();
    const std::string kernel = qgemm::last_kernel_name();
    EXPECT_EQ(kernel.substr(kernel.rfind("__") + 2), qgemm::isa_name(GetParam())) << kernel;
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_EQ(static_cast<int>(y[i]), static_cast<int>(expect[i])) << "element " << i << " (row " << i / ldy
                                                                      << ", column " << i % ldy << ")";
      if (static_cast<int64_t>(i % ldy) < c.N) {
        distinct += expect[i] != L.lo && expect[i] != L.hi;
        clamped += expect[i] == L.lo || expect[i] == L.hi;
      }
    }
    qtest::record_verified(GetParam(), 1);

    // Every thread count gives the same bits.
    qtest::SplitEverything split;
    qgemm::GemmOptions opt;
    opt.num_threads = 2;
    std::vector<int8_t> y2(expect.size(), fill);
    ASSERT_EQ(layer.forward(c.M, L.x.data(), ldx, y2.data(), ldy, opt), Status::ok) << qgemm::last_error_message();
    ASSERT_EQ(y2, expect);
  }
  EXPECT_GT(distinct, 1000) << "outputs mostly clamped: the test would not see a wrong multiplier";
  EXPECT_GT(clamped, 0) << "no output reached a clamp bound";
  EXPECT_GT(positive_shift, 0) << "no multiplier above 1 tested";
  EXPECT_GT(rounding_matters, 20) << "the cases would not tell double from single rounding";
}

INSTANTIATE_TEST_SUITE_P(Isas, TfliteLinear, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

// Per channel with every scale equal is the per-tensor layer; and the reference's own
// arithmetic agrees with the oracle's fixed_point (two independent writings of TFLite).
TEST(TfliteLinearBasics, PerChannelEqualScalesIsPerTensorAndReferencesAgree) {
  std::mt19937 rng(7);
  const int64_t M = 5, K = 77, N = 13;
  std::vector<int8_t> x(M * K), w(N * K);
  for (auto& e : x) e = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  for (auto& e : w) e = static_cast<int8_t>(std::uniform_int_distribution<int>(-127, 127)(rng));
  const std::vector<float> one(1, 0.01f), many(N, 0.01f);
  const QParams px{0.03f, -9}, py{0.5f, 4};
  StaticLinear a, b;
  ASSERT_EQ(a.init_s8(w.data(), N, K, one.data(), false, nullptr, px, py), Status::ok);
  ASSERT_EQ(b.init_s8(w.data(), N, K, many.data(), true, nullptr, px, py), Status::ok);
  std::vector<int8_t> ya(M * N), yb(M * N);
  ASSERT_EQ(a.forward(M, x.data(), K, ya.data(), N), Status::ok);
  ASSERT_EQ(b.forward(M, x.data(), K, yb.data(), N), Status::ok);
  EXPECT_EQ(ya, yb);

  std::uniform_int_distribution<int32_t> u32(INT32_MIN, INT32_MAX);
  for (int t = 0; t < 20000; ++t) {
    const int32_t acc = t % 2 ? u32(rng) : std::uniform_int_distribution<int32_t>(-100000, 100000)(rng);
    const int32_t m = std::uniform_int_distribution<int32_t>(1 << 30, INT32_MAX)(rng);
    const int s = std::uniform_int_distribution<int>(-31, t % 3 ? 0 : 30)(rng);
    for (Rounding r : {Rounding::double_rounding, Rounding::single_rounding})
      ASSERT_EQ(tfl::MultiplyByQuantizedMultiplier(acc, m, s, r), oracle::fixed_point(acc, m, s, r))
          << acc << " " << m << " " << s << " " << static_cast<int>(r);
  }
}

// A u8 layer re-built in int8 mode and back: each mode's forward matches a fresh layer, the
// other forward is refused, nothing is written.
TEST(TfliteLinearBasics, ModesAreSeparate) {
  const int8_t w[6] = {1, -2, 3, -4, 5, -6};
  const float sw = 0.05f;
  const int32_t bias[2] = {10, -10};
  StaticLinear u8, s8, l;
  ASSERT_EQ(u8.init(w, 2, 3, &sw, nullptr, false, bias, nullptr, {0.1f, 128}, {0.1f, 100}), Status::ok);
  ASSERT_EQ(s8.init_s8(w, 2, 3, &sw, false, bias, {0.1f, 0}, {0.01f, -3}), Status::ok);
  const uint8_t xu[3] = {130, 7, 255};
  const int8_t xs[3] = {2, -121, 127};
  uint8_t yu[2], yu_ref[2];
  int8_t ys[2], ys_ref[2];
  ASSERT_EQ(u8.forward(1, xu, 3, yu_ref, 2), Status::ok);
  ASSERT_EQ(s8.forward(1, xs, 3, ys_ref, 2), Status::ok);

  ASSERT_EQ(l.init_s8(w, 2, 3, &sw, false, bias, {0.1f, 0}, {0.01f, -3}), Status::ok);
  EXPECT_EQ(l.mode(), StaticLinearMode::s8_tflite);
  ASSERT_EQ(l.forward(1, xs, 3, ys, 2), Status::ok);
  EXPECT_EQ(std::memcmp(ys, ys_ref, 2), 0);
  yu[0] = yu[1] = 0xee;
  EXPECT_EQ(l.forward(1, xu, 3, yu, 2), Status::bad_argument);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("init_s8"), std::string::npos) << qgemm::last_error_message();
  EXPECT_EQ(yu[0], 0xee);
  EXPECT_EQ(yu[1], 0xee);
  EXPECT_EQ(l.weight_zero_points(), std::vector<int32_t>(1, 0));
  EXPECT_TRUE(l.bias_f32().empty());
  EXPECT_EQ(l.output_stage().type, qgemm::OutputType::s8);

  ASSERT_EQ(l.init(w, 2, 3, &sw, nullptr, false, bias, nullptr, {0.1f, 128}, {0.1f, 100}), Status::ok);
  EXPECT_EQ(l.mode(), StaticLinearMode::u8_fbgemm);
  EXPECT_TRUE(l.multipliers().empty());
  ASSERT_EQ(l.forward(1, xu, 3, yu, 2), Status::ok);
  EXPECT_EQ(std::memcmp(yu, yu_ref, 2), 0);
  ys[0] = ys[1] = 0x11;
  EXPECT_EQ(l.forward(1, xs, 3, ys, 2), Status::bad_argument);
  EXPECT_EQ(ys[0], 0x11);
  EXPECT_EQ(ys[1], 0x11);

  // Moved: the new object runs, the old one is empty.
  StaticLinear moved(std::move(s8));
  EXPECT_EQ(moved.mode(), StaticLinearMode::s8_tflite);
  ASSERT_EQ(moved.forward(1, xs, 3, ys, 2), Status::ok);
  EXPECT_EQ(std::memcmp(ys, ys_ref, 2), 0);
  EXPECT_EQ(s8.forward(1, xs, 3, ys, 2), Status::bad_argument);  // NOLINT(bugprone-use-after-move): moved-from is defined
}

TEST(TfliteLinearBasics, BadInputs) {
  const int8_t w[4] = {1, 2, 3, 4};
  const float sc = 0.1f, sc2[2] = {0.1f, 0.2f};
  const QParams ok{0.1f, 0};
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  StaticLinear s;
  int8_t x[2] = {1, 2}, y[2] = {0x33, 0x33};
  EXPECT_EQ(s.forward(1, x, 2, y, 2), Status::bad_argument);  // not initialised

  EXPECT_EQ(s.init_s8(nullptr, 2, 2, &sc, false, nullptr, ok, ok), Status::null_pointer);
  EXPECT_EQ(s.init_s8(w, 2, 2, nullptr, false, nullptr, ok, ok), Status::null_pointer);
  EXPECT_EQ(s.init_s8(w, 0, 2, &sc, false, nullptr, ok, ok), Status::negative_dimension);
  EXPECT_EQ(s.init_s8(w, 2, -1, &sc, false, nullptr, ok, ok), Status::negative_dimension);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, {0.1f, 128}, ok), Status::bad_zero_point);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, {0.1f, -129}, ok), Status::bad_zero_point);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, {0.1f, 200}), Status::bad_zero_point);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, {0.1f, -129}), Status::bad_zero_point);
  for (float bad : {0.0f, -0.1f, inf, nan}) {
    EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, {bad, 0}, ok), Status::bad_output_params) << bad;
    EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, {bad, 0}), Status::bad_output_params) << bad;
    const float ws[2] = {0.1f, bad};
    EXPECT_EQ(s.init_s8(w, 2, 2, ws, true, nullptr, ok, ok), Status::bad_output_params) << bad;
    EXPECT_EQ(s.init_s8(w, 2, 2, &bad, false, nullptr, ok, ok), Status::bad_output_params) << bad;
  }
  // sx*sw/sy = 1e20 needs a shift of 67.
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, {1e10f, 0}, {1e-9f, 0}), Status::bad_output_params);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("shift"), std::string::npos) << qgemm::last_error_message();
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, ok, -129, 127), Status::bad_output_params);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, ok, -128, 128), Status::bad_output_params);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, ok, 5, 4), Status::bad_output_params);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, ok, ok, -128, 127, static_cast<Rounding>(2)), Status::bad_argument);
  // The worst case over every x: 255 * 128 * 65794 > INT32_MAX; one channel fewer fits.
  {
    const int64_t K = 65794;
    std::vector<int8_t> big(2 * K, -128);
    EXPECT_EQ(s.init_s8(big.data(), 2, K, &sc, false, nullptr, {0.1f, -128}, ok), Status::overflow_risk);
    EXPECT_EQ(s.init_s8(big.data(), 2, K, &sc, false, nullptr, {0.1f, -1}, ok), Status::ok)  // 128*128*K fits
        << qgemm::last_error_message();
    const int32_t bias[2] = {0, INT32_MAX};
    EXPECT_EQ(s.init_s8(big.data(), 2, 2, &sc, false, bias, {0.1f, 0}, ok), Status::overflow_risk);
  }
  // A failed init leaves the layer as the last successful one made it.
  ASSERT_EQ(s.init_s8(w, 2, 2, sc2, true, nullptr, ok, {0.05f, 1}), Status::ok);
  EXPECT_EQ(s.init_s8(w, 2, 2, &sc, false, nullptr, {0.1f, 300}, ok), Status::bad_zero_point);
  EXPECT_EQ(s.in_features(), 2);
  EXPECT_TRUE(s.per_channel());
  EXPECT_EQ(s.y_params().zero_point, 1);
  ASSERT_EQ(s.forward(1, x, 2, y, 2), Status::ok);

  // forward: bad arguments are refused and nothing is written.
  y[0] = y[1] = 0x33;
  EXPECT_EQ(s.forward(1, static_cast<const int8_t*>(nullptr), 2, y, 2), Status::null_pointer);
  EXPECT_EQ(s.forward(1, x, 2, static_cast<int8_t*>(nullptr), 2), Status::null_pointer);
  EXPECT_EQ(s.forward(1, x, 1, y, 2), Status::bad_leading_dimension);
  EXPECT_EQ(s.forward(1, x, 2, y, 1), Status::bad_leading_dimension);
  EXPECT_EQ(s.forward(-1, x, 2, y, 2), Status::negative_dimension);
  EXPECT_EQ(y[0], 0x33);
  EXPECT_EQ(y[1], 0x33);
  EXPECT_EQ(s.forward(0, static_cast<const int8_t*>(nullptr), 2, static_cast<int8_t*>(nullptr), 2), Status::ok);
}

// The C statuses are qgemm::Status's values.
constexpr qgemm_status c_ok = static_cast<qgemm_status>(Status::ok);
constexpr qgemm_status c_null_pointer = static_cast<qgemm_status>(Status::null_pointer);
constexpr qgemm_status c_bad_zero_point = static_cast<qgemm_status>(Status::bad_zero_point);
constexpr qgemm_status c_bad_argument = static_cast<qgemm_status>(Status::bad_argument);

TEST(TfliteLinearBasics, CApi) {
  std::mt19937 rng(3);
  const int64_t M = 3, K = 19, N = 6;
  std::vector<int8_t> x(M * K), w(N * K);
  for (auto& e : x) e = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  for (auto& e : w) e = static_cast<int8_t>(std::uniform_int_distribution<int>(-127, 127)(rng));
  std::vector<float> ws(N);
  for (auto& s : ws) s = std::uniform_real_distribution<float>(0.005f, 0.02f)(rng);
  std::vector<int32_t> bias(N, 321);
  StaticLinear cpp;
  ASSERT_EQ(cpp.init_s8(w.data(), N, K, ws.data(), true, bias.data(), {0.04f, 11}, {0.3f, -2}, -2, 127,
                        Rounding::single_rounding),
            Status::ok);
  std::vector<int8_t> ref(M * N), y(M * N, 0);
  ASSERT_EQ(cpp.forward(M, x.data(), K, ref.data(), N), Status::ok);

  qgemm_static_linear* l = nullptr;
  ASSERT_EQ(qgemm_static_linear_create_s8(w.data(), N, K, ws.data(), 1, bias.data(), 0.04f, 11, 0.3f, -2, -2, 127,
                                          QGEMM_ROUNDING_SINGLE, &l),
            c_ok)
      << qgemm::last_error_message();
  ASSERT_EQ(qgemm_static_linear_forward_s8(l, M, x.data(), K, y.data(), N), c_ok);
  EXPECT_EQ(y, ref);
  std::fill(y.begin(), y.end(), 0);
  qgemm_gemm_options opt{};
  opt.num_threads = 1;
  ASSERT_EQ(qgemm_static_linear_forward_s8_ex(l, M, x.data(), K, y.data(), N, &opt), c_ok);
  EXPECT_EQ(y, ref);
  ASSERT_EQ(qgemm_static_linear_forward_s8_ex(l, M, x.data(), K, y.data(), N, nullptr), c_ok);
  EXPECT_EQ(y, ref);
  int32_t mode = -1, rounding = -1;
  ASSERT_EQ(qgemm_static_linear_mode(l, &mode, &rounding), c_ok);
  EXPECT_EQ(mode, QGEMM_STATIC_LINEAR_S8_TFLITE);
  EXPECT_EQ(rounding, QGEMM_ROUNDING_SINGLE);
  qgemm_linear_info info{};
  ASSERT_EQ(qgemm_static_linear_info(l, &info), c_ok);
  EXPECT_EQ(info.x_zero_point, 11);
  EXPECT_EQ(info.y_zero_point, -2);
  EXPECT_EQ(info.clamp_lo, -2);
  EXPECT_EQ(info.bias_s32[N - 1], 321);
  EXPECT_TRUE(info.bias_f32 == nullptr);
  std::vector<uint8_t> yu(M * N, 0x44);
  EXPECT_EQ(qgemm_static_linear_forward(l, M, reinterpret_cast<const uint8_t*>(x.data()), K, yu.data(), N),
            c_bad_argument);
  EXPECT_EQ(yu, std::vector<uint8_t>(M * N, 0x44));
  qgemm_static_linear_destroy(l);

  l = nullptr;
  EXPECT_EQ(qgemm_static_linear_create_s8(w.data(), N, K, ws.data(), 1, nullptr, 0.04f, 11, 0.3f, -2, -128, 127, 9, &l),
            c_bad_argument);
  EXPECT_TRUE(l == nullptr);
  EXPECT_EQ(qgemm_static_linear_create_s8(w.data(), N, K, ws.data(), 1, nullptr, 0.04f, 128, 0.3f, -2, -128, 127,
                                          QGEMM_ROUNDING_DOUBLE, &l),
            c_bad_zero_point);
  EXPECT_EQ(qgemm_static_linear_forward_s8(nullptr, M, x.data(), K, y.data(), N), c_null_pointer);
  EXPECT_EQ(qgemm_static_linear_mode(nullptr, &mode, &rounding), c_null_pointer);

  // A layer made by the uint8 create refuses the int8 forward and says it is the fbgemm kind.
  const float sw = 0.1f;
  ASSERT_EQ(qgemm_static_linear_create(w.data(), N, K, &sw, nullptr, 0, nullptr, nullptr, 0.1f, 0, 0.1f, 0, 0, 255,
                                       &l),
            c_ok);
  ASSERT_EQ(qgemm_static_linear_mode(l, &mode, nullptr), c_ok);
  EXPECT_EQ(mode, QGEMM_STATIC_LINEAR_U8_FBGEMM);
  EXPECT_EQ(qgemm_static_linear_forward_s8(l, M, x.data(), K, y.data(), N), c_bad_argument);
  qgemm_static_linear_destroy(l);
}

}  // namespace
