// One test per status: each bad input gets its own status and message, and nothing is written
// to the output on error.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "qgemm/qgemm.h"
#include "qgemm/qgemm.hpp"

namespace {

using qgemm::OutputStage;
using qgemm::OutputType;
using qgemm::Status;
using qgemm::WeightLayout;

struct Fixture : testing::Test {
  static constexpr int64_t M = 3, N = 5, K = 7;
  std::vector<uint8_t> a = std::vector<uint8_t>(M * K, 1);
  std::vector<int8_t> b = std::vector<int8_t>(K * N, 1);
  std::vector<int32_t> c = std::vector<int32_t>(M * N, 0x5a5a5a5a);
  qgemm::PackedWeights* w = nullptr;
  void SetUp() override {
    ASSERT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N, nullptr, false, &w), Status::ok);
  }
  void TearDown() override { qgemm::destroy_packed_weights(w); }
  // Runs gemm and checks status, a non-empty message, and that C is untouched.
  void expect_status(Status want, int64_t m, const uint8_t* pa, int64_t lda, int32_t za,
                     const qgemm::PackedWeights* pw, const OutputStage& o, void* pc, int64_t ldc) {
    const Status s = qgemm::gemm(m, pa, lda, za, pw, o, pc, ldc);
    EXPECT_EQ(s, want) << qgemm::status_name(s) << ": " << qgemm::last_error_message();
    EXPECT_STRNE(qgemm::last_error_message(), "");
    for (int32_t v : c) ASSERT_EQ(v, 0x5a5a5a5a) << "output written on error";
  }
};

TEST_F(Fixture, NullPointers) {
  const OutputStage o = qgemm::output_s32();
  expect_status(Status::null_pointer, M, nullptr, K, 0, w, o, c.data(), N);
  expect_status(Status::null_pointer, M, a.data(), K, 0, w, o, nullptr, N);
  expect_status(Status::null_pointer, M, a.data(), K, 0, nullptr, o, c.data(), N);
  const OutputStage fixed = qgemm::output_fixed_point(OutputType::u8, nullptr, nullptr, false, 0);
  expect_status(Status::null_pointer, M, a.data(), K, 0, w, fixed, c.data(), N);
  const OutputStage f = qgemm::output_f32(1.0f, nullptr, false);
  expect_status(Status::null_pointer, M, a.data(), K, 0, w, f, c.data(), N);
  qgemm::PackedWeights* w2 = nullptr;
  EXPECT_EQ(qgemm::pack_weights(static_cast<const int8_t*>(nullptr), WeightLayout::kn, K, N, N, nullptr, false, &w2), Status::null_pointer);
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N, nullptr, false, nullptr), Status::null_pointer);
  // Null A is fine when there is nothing to read.
  EXPECT_EQ(qgemm::gemm(0, static_cast<const uint8_t*>(nullptr), K, 0, w, o, nullptr, N), Status::ok);
}

TEST_F(Fixture, NegativeDimensions) {
  expect_status(Status::negative_dimension, -1, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N);
  qgemm::PackedWeights* w2 = nullptr;
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, -1, N, N, nullptr, false, &w2), Status::negative_dimension);
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, -3, N, nullptr, false, &w2), Status::negative_dimension);
  EXPECT_EQ(w2, nullptr);
}

TEST_F(Fixture, LeadingDimensions) {
  expect_status(Status::bad_leading_dimension, M, a.data(), K - 1, 0, w, qgemm::output_s32(), c.data(), N);
  expect_status(Status::bad_leading_dimension, M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N - 1);
  qgemm::PackedWeights* w2 = nullptr;
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N - 1, nullptr, false, &w2), Status::bad_leading_dimension);
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::nk, K, N, K - 1, nullptr, false, &w2), Status::bad_leading_dimension);
}

TEST_F(Fixture, ZeroPoints) {
  expect_status(Status::bad_zero_point, M, a.data(), K, -1, w, qgemm::output_s32(), c.data(), N);
  expect_status(Status::bad_zero_point, M, a.data(), K, 256, w, qgemm::output_s32(), c.data(), N);
  const int32_t m = 1 << 30, s = 0;
  expect_status(Status::bad_zero_point, M, a.data(), K, 0, w,
                qgemm::output_fixed_point(OutputType::u8, &m, &s, false, 256), c.data(), N);
  expect_status(Status::bad_zero_point, M, a.data(), K, 0, w,
                qgemm::output_fixed_point(OutputType::s8, &m, &s, false, 128), c.data(), N);
  qgemm::PackedWeights* w2 = nullptr;
  const int32_t bad_zb[] = {0, 0, 128, 0, 0};
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N, bad_zb, true, &w2), Status::bad_zero_point);
  const int32_t low = -129;
  EXPECT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N, &low, false, &w2), Status::bad_zero_point);
  EXPECT_EQ(w2, nullptr);
}

// The other sign combinations' ranges: int8 A takes za in [-128, 127], uint8 B zb in [0, 255].
TEST_F(Fixture, ZeroPointsOfTheOtherTypes) {
  const std::vector<int8_t> as(static_cast<size_t>(M * K), -3);
  const OutputStage o = qgemm::output_s32();
  for (int32_t za : {-129, 128, 255}) {
    const Status s = qgemm::gemm(M, as.data(), K, za, w, o, c.data(), N);
    EXPECT_EQ(s, Status::bad_zero_point) << "int8 A, za=" << za;
    EXPECT_NE(std::string(qgemm::last_error_message()).find("[-128, 127]"), std::string::npos)
        << qgemm::last_error_message();
    for (int32_t v : c) ASSERT_EQ(v, 0x5a5a5a5a) << "output written on error";
  }
  for (int32_t za : {-128, -1, 127}) {  // the ends of the range run
    std::vector<int32_t> out(static_cast<size_t>(M * N), 0);
    EXPECT_EQ(qgemm::gemm(M, as.data(), K, za, w, o, out.data(), N), Status::ok) << "za=" << za;
    EXPECT_EQ(out[0], (-3 - za) * 1 * K);
  }
  const std::vector<uint8_t> bu(static_cast<size_t>(K * N), 200);
  qgemm::PackedWeights* w2 = nullptr;
  for (int32_t zb : {-1, 256, -128}) {
    EXPECT_EQ(qgemm::pack_weights(bu.data(), WeightLayout::kn, K, N, N, &zb, false, &w2), Status::bad_zero_point)
        << "uint8 B, zb=" << zb;
    EXPECT_NE(std::string(qgemm::last_error_message()).find("[0, 255]"), std::string::npos)
        << qgemm::last_error_message();
    EXPECT_EQ(w2, nullptr);
  }
  const int32_t zb255 = 255;
  ASSERT_EQ(qgemm::pack_weights(bu.data(), WeightLayout::kn, K, N, N, &zb255, false, &w2), Status::ok);
  std::vector<int32_t> out(static_cast<size_t>(M * N), 0);
  EXPECT_EQ(qgemm::gemm(M, a.data(), K, 0, w2, o, out.data(), N), Status::ok);
  EXPECT_EQ(out[0], (1 - 0) * (200 - 255) * K);
  EXPECT_EQ(qgemm::gemm(M, as.data(), K, 5, w2, o, out.data(), N), Status::ok);
  EXPECT_EQ(out[0], (-3 - 5) * (200 - 255) * K);
  qgemm::destroy_packed_weights(w2);
  // A null zb means 0 for uint8 weights too.
  ASSERT_EQ(qgemm::pack_weights(bu.data(), WeightLayout::kn, K, N, N, nullptr, false, &w2), Status::ok);
  EXPECT_EQ(qgemm::gemm(M, a.data(), K, 0, w2, o, out.data(), N), Status::ok);
  EXPECT_EQ(out[0], 200 * K);
  qgemm::destroy_packed_weights(w2);
}

TEST(Overflow, RefusedBeyondTheExactBound) {
  // A = anything in [0,255] with za = 0 and B = -128: |acc| <= 255*128*K + |bias|.
  const int64_t K = 65794;  // 255*128*65794 = 2147516160 > INT32_MAX
  std::vector<int8_t> b(K, -128);
  std::vector<uint8_t> a(K, 0);
  int32_t c = 0x5a5a5a5a;
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, 1, 1, nullptr, false, &w), Status::ok);
  EXPECT_EQ(qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(), &c, 1), Status::overflow_risk);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("INT32_MAX"), std::string::npos);
  EXPECT_EQ(c, 0x5a5a5a5a);
  // za = 128 halves max|A - za|: accepted.
  EXPECT_EQ(qgemm::gemm(1, a.data(), K, 128, w, qgemm::output_s32(), &c, 1), Status::ok);
  EXPECT_EQ(c, static_cast<int32_t>(128 * 128 * K));  // (0 - 128) * (-128 - 0) * K
  // The bias counts too.
  qgemm::destroy_packed_weights(w);
  const int64_t K2 = 65793;  // 255*128*65793 = 2147483520, 127 below INT32_MAX
  ASSERT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K2, 1, 1, nullptr, false, &w), Status::ok);
  const int32_t ok_bias = 127, bad_bias = -128;
  EXPECT_EQ(qgemm::gemm(1, a.data(), K2, 0, w, qgemm::output_s32(&ok_bias), &c, 1), Status::ok);
  c = 0x5a5a5a5a;
  EXPECT_EQ(qgemm::gemm(1, a.data(), K2, 0, w, qgemm::output_s32(&bad_bias), &c, 1), Status::overflow_risk);
  EXPECT_EQ(c, 0x5a5a5a5a);
  qgemm::destroy_packed_weights(w);
}

// The bound uses each column's own zero point, computed at packing in both layouts:
// B = -128 with zb = 127 gives |B - zb| = 255, so 255*255*K crosses INT32_MAX between
// K = 33025 (2147450625) and K = 33026, in column 1 only.
TEST(Overflow, PerColumnZeroPointsInTheBound) {
  const int32_t zb[] = {0, 127};
  for (WeightLayout layout : {WeightLayout::kn, WeightLayout::nk})
    for (int64_t K : {int64_t{33025}, int64_t{33026}}) {
      std::vector<int8_t> b(static_cast<size_t>(2 * K), -128);
      std::vector<uint8_t> a(static_cast<size_t>(K), 255);
      int32_t c[2] = {0x5a5a5a5a, 0x5a5a5a5a};
      qgemm::PackedWeights* w = nullptr;
      const int64_t ldb = layout == WeightLayout::kn ? 2 : K;
      ASSERT_EQ(qgemm::pack_weights(b.data(), layout, K, 2, ldb, zb, true, &w), Status::ok);
      const Status st = qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(), c, 2);
      if (K == 33025) {
        EXPECT_EQ(st, Status::ok) << "K=" << K;
        EXPECT_EQ(c[0], static_cast<int32_t>(-255 * 128 * K));
        EXPECT_EQ(c[1], static_cast<int32_t>(-255 * 255 * K));
      } else {
        EXPECT_EQ(st, Status::overflow_risk) << "K=" << K;
        EXPECT_EQ(c[0], 0x5a5a5a5a);
      }
      qgemm::destroy_packed_weights(w);
    }
}

// gemm first checks the bound with the largest column norm and the largest |bias| together;
// where that fails, each column is checked with its own: a large norm in one column and a
// large bias in another are accepted (and exact), the same bias on the large column is not.
TEST(Overflow, EachColumnWithItsOwnBias) {
  const int64_t K = 65793;  // 255*128*K = 2147483520, 127 below INT32_MAX (column 0)
  std::vector<int8_t> b(static_cast<size_t>(2 * K));
  for (int64_t k = 0; k < K; ++k) b[2 * k] = -128, b[2 * k + 1] = 1;  // column 1: 255*K
  std::vector<uint8_t> a(static_cast<size_t>(K), 255);
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, 2, 2, nullptr, false, &w), Status::ok);
  const int32_t apart[] = {0, 1 << 30}, together[] = {128, 0};
  int32_t c[2] = {0x5a5a5a5a, 0x5a5a5a5a};
  ASSERT_EQ(qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(apart), c, 2), Status::ok);
  EXPECT_EQ(c[0], static_cast<int32_t>(-255 * 128 * K));
  EXPECT_EQ(c[1], static_cast<int32_t>(255 * K + (1 << 30)));
  c[0] = c[1] = 0x5a5a5a5a;
  EXPECT_EQ(qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(together), c, 2), Status::overflow_risk);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("column 0"), std::string::npos);
  EXPECT_EQ(c[0], 0x5a5a5a5a);
  EXPECT_EQ(c[1], 0x5a5a5a5a);
  qgemm::destroy_packed_weights(w);
}

TEST_F(Fixture, OutputParams) {
  const int32_t m = 1 << 30, bad_m = -1, s = 0, bad_s = 31, bad_s2 = -32;
  auto u8 = [&](const int32_t* mm, const int32_t* ss) {
    return qgemm::output_fixed_point(OutputType::u8, mm, ss, false, 0);
  };
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, u8(&bad_m, &s), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, u8(&m, &bad_s), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, u8(&m, &bad_s2), c.data(), N);
  OutputStage o = u8(&m, &s);
  o.clamp_lo = 10;
  o.clamp_hi = 5;
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, o, c.data(), N);
  o.clamp_lo = 0;
  o.clamp_hi = 256;
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, o, c.data(), N);
  const float ws = 1.0f, bad_ws = -1.0f, nan_ws = NAN;
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(0.0f, &ws, false), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(1.0f, &bad_ws, false), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(1.0f, &nan_ws, false), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1.0f, &ws, false, 0.0f, 0), c.data(), N);
  const float fb[N] = {0, 0, INFINITY, 0, 0};
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1.0f, &ws, false, 1.0f, 0, nullptr, fb), c.data(), N);
  const int32_t ib[N] = {};
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1.0f, &ws, false, 1.0f, 0, ib, fb), c.data(), N);
  OutputStage s32 = qgemm::output_s32();
  s32.bias_f32 = fb;
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, s32, c.data(), N);
  OutputStage f = qgemm::output_f32(1.0f, &ws, false);
  f.clamp_lo_f32 = 1.0f;
  f.clamp_hi_f32 = 0.0f;
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, f, c.data(), N);
}

// Issue 13 (2): float parameters whose float32 products lose the result. sa*sb/so underflowing
// to 0 while bias/(sa*sb) overflows to inf made inf*0 = NaN, which the scalar kernel turned into
// 10 and the x86 kernels into 0, both with status ok. Now refused on every ISA, with the f32
// stage held to the same rule for sa*sb.
TEST_F(Fixture, FloatStageParametersThatLoseTheResult) {
  const float tiny_ws = 1e-10f, ws = 1.0f;
  const float fb1[N] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (!qgemm::isa_available(isa)) continue;
    ASSERT_EQ(qgemm::set_isa(isa), Status::ok);
    qgemm::PackedWeights* w1 = nullptr;
    const int8_t b1 = 3;
    const uint8_t a1 = 7;
    uint8_t c1 = 0xA5;
    ASSERT_EQ(qgemm::pack_weights(&b1, WeightLayout::kn, 1, 1, 1, nullptr, false, &w1), Status::ok);
    // The reproducer: B = {3}, A = {7}, sa = 1e-30, sb = 1e-10, so = 1e10, zo = 10, bias 1.0.
    const OutputStage o = qgemm::output_float_multiplier(OutputType::u8, 1e-30f, &tiny_ws, false, 1e10f, 10, nullptr, fb1);
    EXPECT_EQ(qgemm::gemm(1, &a1, 1, 0, w1, o, &c1, 1), Status::bad_output_params) << qgemm::isa_name(isa);
    EXPECT_EQ(c1, 0xA5) << "output written on error";
    qgemm::destroy_packed_weights(w1);
  }
  qgemm::reset_isa();
  qgemm::destroy_packed_weights(w);
  w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b.data(), WeightLayout::kn, K, N, N, nullptr, false, &w), Status::ok);
  // The multiplier underflows to 0 (no bias): refused, not a silent column of zero points.
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1e-20f, &ws, false, 1e30f, 0), c.data(), N);
  // ... or to a denormal.
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1e-20f, &ws, false, 1e19f, 0), c.data(), N);
  // sa*sb underflows: refused by both float stages alike.
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 1e-30f, &tiny_ws, false, 1e-30f, 0), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(1e-30f, &tiny_ws, false), c.data(), N);
  // bias / (sa*sb) overflows to inf while every parameter is finite.
  const float big[N] = {0, 0, 3e38f, 0, 0};
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w,
                qgemm::output_float_multiplier(OutputType::u8, 0.5f, &ws, false, 1.0f, 0, nullptr, big), c.data(), N);
  // A non-finite float bias is refused by the f32 stage too.
  const float nanb[N] = {0, NAN, 0, 0, 0}, infb[N] = {0, 0, 0, 0, -INFINITY};
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(1.0f, &ws, false, nanb), c.data(), N);
  expect_status(Status::bad_output_params, M, a.data(), K, 0, w, qgemm::output_f32(1.0f, &ws, false, infb), c.data(), N);
  // The smallest accepted: sa*sb and the multiplier normal floats.
  const float fmin = std::numeric_limits<float>::min();
  EXPECT_EQ(qgemm::gemm(M, a.data(), K, 0, w, qgemm::output_f32(1.0f, &fmin, false), c.data(), N), Status::ok);
}

// Issue 13 (3): values that are not an Isa enumerator are bad arguments (an ISA the CPU or
// build lacks is unsupported_isa), and the choice is kept.
TEST_F(Fixture, IsaValuesOutsideTheEnum) {
  const qgemm::Isa before = qgemm::active_isa();
  for (int v : {-1, qgemm::kIsaCount, 99}) {
    EXPECT_EQ(qgemm::set_isa(static_cast<qgemm::Isa>(v)), Status::bad_argument) << v;
    EXPECT_STRNE(qgemm::last_error_message(), "");
    EXPECT_FALSE(qgemm::isa_available(static_cast<qgemm::Isa>(v)));
    EXPECT_EQ(qgemm::active_isa(), before);
  }
  EXPECT_EQ(qgemm::isa_status(), Status::ok);
  EXPECT_EQ(qgemm_isa_status(), 0);
}

TEST_F(Fixture, UnknownEnumsAreBadArguments) {
  OutputStage o = qgemm::output_s32();
  o.type = static_cast<OutputType>(42);
  expect_status(Status::bad_argument, M, a.data(), K, 0, w, o, c.data(), N);
  qgemm::PackedWeights* w2 = nullptr;
  EXPECT_EQ(qgemm::pack_weights(b.data(), static_cast<WeightLayout>(7), K, N, N, nullptr, false, &w2), Status::bad_argument);
  qgemm::Isa isa;
  EXPECT_EQ(qgemm::isa_from_name("avx1024", &isa), Status::bad_argument);
}

TEST_F(Fixture, UnknownRoundingAndRequantAreBadArguments) {
  const int32_t m = 1 << 30, s = 0;
  OutputStage o = qgemm::output_fixed_point(OutputType::u8, &m, &s, false, 0);
  o.rounding = static_cast<qgemm::Rounding>(5);
  expect_status(Status::bad_argument, M, a.data(), K, 0, w, o, c.data(), N);
  o = qgemm::output_fixed_point(OutputType::s8, &m, &s, false, 0);
  o.requant = static_cast<qgemm::Requant>(-1);
  expect_status(Status::bad_argument, M, a.data(), K, 0, w, o, c.data(), N);
  const OutputStage fm = qgemm::output_float_multiplier(OutputType::u8, 1.0f, nullptr, false, 1.0f, 0);
  expect_status(Status::null_pointer, M, a.data(), K, 0, w, fm, c.data(), N);
}

// Thread counts outside [0, kMaxThreads] are refused before anything runs (0 is the default).
TEST_F(Fixture, BadThreadCounts) {
  for (int32_t t : {-1, -1000, qgemm::kMaxThreads + 1, std::numeric_limits<int32_t>::min()}) {
    qgemm::GemmOptions opt;
    opt.num_threads = t;
    const Status s = qgemm::gemm(M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N, opt);
    EXPECT_EQ(s, Status::bad_argument) << t;
    EXPECT_NE(std::string(qgemm::last_error_message()).find("num_threads"), std::string::npos);
    for (int32_t v : c) ASSERT_EQ(v, 0x5a5a5a5a) << "output written on error";
  }
  qgemm::GemmOptions opt;
  opt.num_threads = qgemm::kMaxThreads;  // the largest accepted value: fine, tasks are capped by work
  EXPECT_EQ(qgemm::gemm(M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N, opt), Status::ok);
  EXPECT_EQ(c[0], K);  // A = 1, B = 1, no zero points
}

// A and C extents that cannot be addressed ((M-1)*lda + K or ((M-1)*ldc + N)*size overflowing
// int64) are bad leading dimensions, found before anything is read or written.
TEST_F(Fixture, ExtentOverflow) {
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  expect_status(Status::bad_leading_dimension, 3, a.data(), big, 0, w, qgemm::output_s32(), c.data(), N);
  expect_status(Status::bad_leading_dimension, big, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N);
  expect_status(Status::bad_leading_dimension, 3, a.data(), K, 0, w, qgemm::output_s32(), c.data(), big);
  // ((M-1)*ldc + N) fits int64 but times 4 bytes does not.
  expect_status(Status::bad_leading_dimension, 2, a.data(), K, 0, w, qgemm::output_s32(), c.data(),
                std::numeric_limits<int64_t>::max() / 3);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("extent"), std::string::npos);
}

// A huge K: packing refuses what it cannot hold (out_of_memory, no allocation attempted); with
// N = 0 there is nothing to pack and the call is a valid empty one.
TEST(HugeK, RefusedOrEmpty) {
  const int64_t K = int64_t{1} << 50;
  const int8_t b[8] = {};
  qgemm::PackedWeights* w = nullptr;
  EXPECT_EQ(qgemm::pack_weights(b, WeightLayout::nk, K, 1, K, nullptr, false, &w), Status::out_of_memory);
  EXPECT_EQ(w, nullptr);
  EXPECT_EQ(qgemm::pack_weights(b, WeightLayout::kn, std::numeric_limits<int64_t>::max(), 8, 8, nullptr, false, &w),
            Status::out_of_memory);
  ASSERT_EQ(qgemm::pack_weights(b, WeightLayout::nk, K, 0, K, nullptr, false, &w), Status::ok);
  const uint8_t a[1] = {7};
  int32_t c = 0x5a5a5a5a;
  EXPECT_EQ(qgemm::gemm(2, a, K, 0, w, qgemm::output_s32(), &c, 0), Status::ok);
  EXPECT_EQ(c, 0x5a5a5a5a);
  EXPECT_EQ(qgemm::gemm(2, a, K - 1, 0, w, qgemm::output_s32(), &c, 0), Status::bad_leading_dimension);
  qgemm::destroy_packed_weights(w);
}

TEST_F(Fixture, UnsupportedIsaAndPackedMismatch) {
  const qgemm::Isa before = qgemm::active_isa();
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (qgemm::isa_available(isa)) continue;
    EXPECT_EQ(qgemm::set_isa(isa), Status::unsupported_isa) << qgemm::isa_name(isa);
    EXPECT_NE(std::string(qgemm::last_error_message()).find(qgemm::isa_name(isa)), std::string::npos);
    EXPECT_EQ(qgemm::active_isa(), before);
  }
  // Weights packed for one ISA are refused under another.
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (!qgemm::isa_available(isa) || isa == qgemm::packed_weights_isa(w)) continue;
    ASSERT_EQ(qgemm::set_isa(isa), Status::ok);
    expect_status(Status::packed_isa_mismatch, M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N);
  }
  qgemm::reset_isa();
}

TEST(CApi, MirrorsTheCppApi) {
  const int64_t M = 2, N = 3, K = 5;
  std::vector<uint8_t> a(M * K, 2);
  std::vector<int8_t> b(N * K, -3);
  std::vector<float> c(M * N, 0.0f);
  qgemm_packed_weights* w = nullptr;
  ASSERT_EQ(qgemm_pack_weights(b.data(), QGEMM_LAYOUT_NK, K, N, K, nullptr, 0, &w), 0);
  EXPECT_GT(qgemm_packed_weights_size(w), 0u);
  qgemm_output_stage o;
  qgemm_output_stage_init(&o);
  o.type = QGEMM_OUT_F32;
  const float ws = 0.5f, bias[3] = {1.0f, 2.0f, 3.0f};
  o.act_scale = 0.25f;
  o.weight_scale = &ws;
  o.bias_f32 = bias;
  ASSERT_EQ(qgemm_gemm(M, a.data(), K, 0, w, &o, c.data(), N), 0) << qgemm_last_error_message();
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) EXPECT_EQ(c[i * N + j], 2 * -3 * K * 0.125f + bias[j]);
  EXPECT_EQ(qgemm_gemm(-1, a.data(), K, 0, w, &o, c.data(), N), 2);
  EXPECT_STREQ(qgemm_status_name(2), "negative_dimension");
  EXPECT_EQ(qgemm_set_isa("no-such-isa"), 10);
  EXPECT_EQ(qgemm_isa_available("scalar"), 1);
  EXPECT_EQ(qgemm_gemm(M, a.data(), K, 0, w, nullptr, c.data(), N), 1);
  qgemm_destroy_packed_weights(w);
  int32_t m = 0, s = 0;
  EXPECT_EQ(qgemm_quantize_multiplier(0.5, &m, &s), 0);
  EXPECT_EQ(m, 1 << 30);
}

}  // namespace
