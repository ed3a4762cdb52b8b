// Int4Linear (W4A8 and weight-only int4) against an oracle written from ../shared/DESIGN.md's
// formulas: the per-group sums in int64 from the unpacked values q and zero points (never the
// packed form), combined in float in group order with fmaf (W4A8), or one fmaf per k in k order
// (weight-only); bit-exact on every ISA this CPU runs, plus a double reference for the error,
// thread counts, export, quantization from float, and the bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/quantize.hpp"
#include "test_util.hpp"

namespace {

using qgemm::ActType;
using qgemm::Int4Linear;
using qgemm::Int4LinearOptions;
using qgemm::Status;

struct Int4Problem {
  int64_t M = 1, N = 1, K = 32, G = 32;
  Int4LinearOptions opt;
  std::vector<int8_t> q;   // [N][K]
  std::vector<float> s;    // [N][K/G]
  std::vector<int8_t> z;   // [N][K/G] (asymmetric)
  std::vector<float> bias; // N or empty
  std::vector<float> x;    // [M][K]
};

Int4Problem make(int64_t M, int64_t N, int64_t K, const Int4LinearOptions& opt, bool bias, bool extremes,
                 std::mt19937& rng) {
  Int4Problem p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.opt = opt;
  p.G = opt.group_size == 0 ? K : opt.group_size;
  const int64_t ng = K / p.G;
  const int qmin = opt.symmetric ? -8 : 0, qmax = opt.symmetric ? 7 : 15;
  std::uniform_int_distribution<int> qd(qmin, qmax), bit(0, 1), zd(0, 15);
  std::uniform_real_distribution<float> sd(0.001f, 0.05f), xd(-3.0f, 3.0f), bd(-1.0f, 1.0f);
  p.q.resize(static_cast<size_t>(N * K));
  for (auto& v : p.q) v = static_cast<int8_t>(extremes ? (bit(rng) ? qmax : qmin) : qd(rng));
  p.s.resize(static_cast<size_t>(N * ng));
  for (auto& v : p.s) v = bit(rng) ? sd(rng) : -sd(rng);
  if (!opt.symmetric) {
    p.z.resize(static_cast<size_t>(N * ng));
    for (auto& v : p.z) v = static_cast<int8_t>(extremes ? (bit(rng) ? 15 : 0) : zd(rng));
  }
  if (bias) {
    p.bias.resize(static_cast<size_t>(N));
    for (auto& v : p.bias) v = bd(rng);
  }
  p.x.resize(static_cast<size_t>(M * K));
  // Some rows all positive or all negative, some with one large value: za at both ends.
  for (int64_t i = 0; i < M; ++i) {
    const int kind = static_cast<int>(i % 4);
    for (int64_t k = 0; k < K; ++k) {
      float v = xd(rng);
      if (kind == 1) v = std::fabs(v);
      if (kind == 2) v = -std::fabs(v);
      p.x[static_cast<size_t>(i * K + k)] = v;
    }
    if (kind == 3) p.x[static_cast<size_t>(i * K + (i % K))] = 100.0f;
  }
  return p;
}

// The oracle: y (the pinned float formula, bit-exact) and ref (the same sums in double).
void oracle(const Int4Problem& p, std::vector<float>* y, std::vector<double>* ref) {
  const int64_t ng = p.K / p.G;
  y->assign(static_cast<size_t>(p.M * p.N), 0.0f);
  ref->assign(static_cast<size_t>(p.M * p.N), 0.0);
  std::vector<uint8_t> xq(static_cast<size_t>(p.K));
  std::vector<qgemm::QParams> qp(static_cast<size_t>(ng));
  for (int64_t i = 0; i < p.M; ++i) {
    const float* xr = p.x.data() + i * p.K;
    if (!p.opt.weight_only) {
      for (int64_t g = 0; g < ng; ++g) {
        const int64_t b = p.opt.act_per_group ? g * p.G : 0, len = p.opt.act_per_group ? p.G : p.K;
        float lo = 0, hi = 0;
        for (int64_t k = b; k < b + len; ++k) {
          lo = std::min(lo, xr[k]);
          hi = std::max(hi, xr[k]);
        }
        ASSERT_EQ(qgemm::choose_qparams_dynamic(lo, hi, false, &qp[static_cast<size_t>(g)]), Status::ok);
        ASSERT_EQ(qgemm::quantize(xr + g * p.G, p.G, qp[static_cast<size_t>(g)], xq.data() + g * p.G), Status::ok);
      }
    }
    for (int64_t j = 0; j < p.N; ++j) {
      float yv = p.bias.empty() ? 0.0f : p.bias[static_cast<size_t>(j)];
      double rv = yv;
      if (p.opt.weight_only) {
        for (int64_t k = 0; k < p.K; ++k) {
          const int64_t g = k / p.G;
          const int z = p.opt.symmetric ? 0 : p.z[static_cast<size_t>(j * ng + g)];
          const float s = p.s[static_cast<size_t>(j * ng + g)];
          const float w = static_cast<float>(p.q[static_cast<size_t>(j * p.K + k)] - z) * s;
          yv = std::fmaf(xr[k], w, yv);
          rv += static_cast<double>(xr[k]) * (p.q[static_cast<size_t>(j * p.K + k)] - z) * s;
        }
      } else {
        for (int64_t g = 0; g < ng; ++g) {
          const int z = p.opt.symmetric ? 0 : p.z[static_cast<size_t>(j * ng + g)];
          const qgemm::QParams a = qp[static_cast<size_t>(g)];
          int64_t acc = 0;
          for (int64_t k = g * p.G; k < (g + 1) * p.G; ++k)
            acc += (int64_t{xq[static_cast<size_t>(k)]} - a.zero_point) *
                   (int64_t{p.q[static_cast<size_t>(j * p.K + k)]} - z);
          ASSERT_LE(std::llabs(acc), int64_t{INT32_MAX});
          const float s = p.s[static_cast<size_t>(j * ng + g)];
          yv = std::fmaf(static_cast<float>(acc), a.scale * s, yv);
          rv += static_cast<double>(acc) * a.scale * s;
        }
      }
      (*y)[static_cast<size_t>(i * p.N + j)] = yv;
      (*ref)[static_cast<size_t>(i * p.N + j)] = rv;
    }
  }
}

Status build(const Int4Problem& p, Int4Linear* layer) {
  return layer->init_quantized(p.q.data(), p.s.data(), p.opt.symmetric ? nullptr : p.z.data(), p.N, p.K,
                               p.bias.empty() ? nullptr : p.bias.data(), p.opt);
}

// Bit-exact cases per ISA and mode, printed at the end of the suite.
std::map<std::string, int>& counts() {
  static std::map<std::string, int> c;
  return c;
}

class Int4Counts : public testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [k, v] : counts()) printf("INT4 VERIFIED %s %d\n", k.c_str(), v);
  }
};
const testing::Environment* const kCounts = testing::AddGlobalTestEnvironment(new Int4Counts);

bool bits_equal(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Runs p through Int4Linear and compares with the oracle bit for bit; returns the kernel name.
std::string check(const Int4Problem& p, const char* what) {
  Int4Linear layer;
  EXPECT_EQ(build(p, &layer), Status::ok) << qgemm::last_error_message();
  const int64_t ldy = p.N + 3;
  std::vector<float> y(static_cast<size_t>(p.M * ldy), -7.0f);
  EXPECT_EQ(layer.forward(p.M, ActType::f32, p.x.data(), p.K, y.data(), ldy), Status::ok) << qgemm::last_error_message();
  std::vector<float> want;
  std::vector<double> ref;
  oracle(p, &want, &ref);
  int bad = 0;
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = 0; j < p.N; ++j) {
      const float got = y[static_cast<size_t>(i * ldy + j)], exp = want[static_cast<size_t>(i * p.N + j)];
      if (!bits_equal(got, exp) && bad++ < 5)
        ADD_FAILURE() << what << " M=" << p.M << " N=" << p.N << " K=" << p.K << " G=" << p.opt.group_size
                      << " sym=" << p.opt.symmetric << " wo=" << p.opt.weight_only << " apg=" << p.opt.act_per_group
                      << " y[" << i << "][" << j << "] = " << got << ", oracle " << exp << " ("
                      << qgemm::int4_kernel_name() << ")";
    }
    for (int64_t j = p.N; j < ldy; ++j) EXPECT_EQ(y[static_cast<size_t>(i * ldy + j)], -7.0f) << "wrote past N";
  }
  if (bad == 0) ++counts()[std::string(qgemm::isa_name(qgemm::active_isa())) + (p.opt.weight_only ? " w4a32" : " w4a8")];
  return qgemm::int4_kernel_name();
}

std::vector<Int4LinearOptions> all_options() {
  std::vector<Int4LinearOptions> v;
  for (int32_t g : {32, 64, 128, 256, 0})
    for (bool sym : {true, false})
      for (int mode = 0; mode < 3; ++mode) {
        Int4LinearOptions o;
        o.group_size = g;
        o.symmetric = sym;
        o.weight_only = mode == 2;
        o.act_per_group = mode == 0;
        v.push_back(o);
      }
  return v;
}

class Int4Isa : public qtest::IsaTest {};

TEST_P(Int4Isa, BitExactWithOracle) {
  std::mt19937 rng(4000 + static_cast<int>(GetParam()));
  std::string name;
  for (const Int4LinearOptions& o : all_options()) {
    const int64_t G = o.group_size;
    const std::vector<int64_t> ks = G == 0 ? std::vector<int64_t>{1, 7, 32, 45, 100, 300} : std::vector<int64_t>{G, 2 * G, 3 * G, 8 * G};
    for (int64_t K : ks)
      for (int64_t N : {1, 15, 16, 17, 40, 70})
        for (int64_t M : {1, 2, 3, 4, 5, 7, 8, 12, 13}) {
          if (K * N * M > 600000) continue;
          const Int4Problem p = make(M, N, K, o, (M + N) % 2 == 0, false, rng);
          name = check(p, "random");
          if (HasFailure()) return;
        }
  }
  const std::string isa = qgemm::isa_name(GetParam());
  SCOPED_TRACE(name);
}

TEST_P(Int4Isa, ExtremesAndLargeShapes) {
  std::mt19937 rng(5000 + static_cast<int>(GetParam()));
  for (const Int4LinearOptions& o : all_options()) {
    const int64_t K = o.group_size == 0 ? 1000 : 4 * o.group_size;
    for (int64_t M : {1, 6, 33}) {
      check(make(M, 33, K, o, true, true, rng), "extremes");
      if (HasFailure()) return;
    }
  }
  Int4LinearOptions o;
  check(make(2, 300, 4096, o, true, false, rng), "large K");
  check(make(64, 130, 512, o, false, false, rng), "large M");
  o.weight_only = true;
  check(make(2, 300, 4096, o, true, false, rng), "large K weight-only");
  check(make(20, 130, 512, o, false, false, rng), "large M weight-only");
}

TEST_P(Int4Isa, KernelOfThisIsaRan) {
  std::mt19937 rng(1);
  Int4LinearOptions o;
  const Int4Problem p = make(2, 16, 128, o, false, false, rng);
  const std::string n = check(p, "name");
  EXPECT_FALSE(n.empty());
  // An ISA without its own int4 kernels runs the best one below it: the name says which.
  EXPECT_NE(n.find("w4a8_"), std::string::npos) << n;
  const std::string isa = qgemm::isa_name(GetParam());
  if (n.find("__" + isa) == std::string::npos) std::printf("INT4 %s runs %s\n", isa.c_str(), n.c_str());
}

TEST_P(Int4Isa, SixteenBitActivations) {
  std::mt19937 rng(7);
  for (bool wo : {false, true}) {
    Int4LinearOptions o;
    o.weight_only = wo;
    o.group_size = 64;
    Int4Problem p = make(3, 37, 192, o, true, false, rng);
    // X exactly representable in bf16 and f16: the float path's result is the answer.
    std::vector<uint16_t> xb(p.x.size()), xh(p.x.size());
    for (size_t i = 0; i < p.x.size(); ++i) {
      float v = std::nearbyint(p.x[i] * 64.0f) / 64.0f;
      p.x[i] = v;
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      xb[i] = static_cast<uint16_t>(bits >> 16);
    }
    for (size_t i = 0; i < p.x.size(); ++i) xh[i] = qgemm::float_to_f16(p.x[i]);
    Int4Linear layer;
    ASSERT_EQ(build(p, &layer), Status::ok);
    std::vector<float> yf(static_cast<size_t>(p.M * p.N)), yb(yf.size()), yh(yf.size());
    ASSERT_EQ(layer.forward(p.M, ActType::f32, p.x.data(), p.K, yf.data(), p.N), Status::ok);
    ASSERT_EQ(layer.forward(p.M, ActType::bf16, xb.data(), p.K, yb.data(), p.N), Status::ok);
    ASSERT_EQ(layer.forward(p.M, ActType::f16, xh.data(), p.K, yh.data(), p.N), Status::ok);
    EXPECT_EQ(0, std::memcmp(yf.data(), yb.data(), yf.size() * 4));
    EXPECT_EQ(0, std::memcmp(yf.data(), yh.data(), yf.size() * 4));
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, Int4Isa, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

// The pinned order makes the result independent of the thread count and the caller's pool.
void serial_pool(void*, size_t n, qgemm::TaskFn task, void* arg) {
  for (size_t i = n; i-- > 0;) task(arg, i);
}

TEST(Int4Linear, ThreadCountsGiveTheSameBits) {
  std::mt19937 rng(11);
  for (bool wo : {false, true}) {
    Int4LinearOptions o;
    o.weight_only = wo;
    const Int4Problem p = make(5, 333, 256, o, true, false, rng);
    Int4Linear layer;
    ASSERT_EQ(build(p, &layer), Status::ok);
    std::vector<float> y1(static_cast<size_t>(p.M * p.N)), y2(y1.size()), y3(y1.size());
    qgemm::GemmOptions one, many, pool;
    one.num_threads = 1;
    many.num_threads = 7;
    pool.num_threads = 5;
    pool.parallel_for = serial_pool;
    ASSERT_EQ(layer.forward(p.M, ActType::f32, p.x.data(), p.K, y1.data(), p.N, one), Status::ok);
    ASSERT_EQ(layer.forward(p.M, ActType::f32, p.x.data(), p.K, y2.data(), p.N, many), Status::ok);
    ASSERT_EQ(layer.forward(p.M, ActType::f32, p.x.data(), p.K, y3.data(), p.N, pool), Status::ok);
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4));
    EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * 4));
  }
}

TEST(Int4Linear, ErrorAgainstDoubleIsSmall) {
  std::mt19937 rng(12);
  for (bool wo : {false, true}) {
    Int4LinearOptions o;
    o.weight_only = wo;
    const Int4Problem p = make(4, 64, 1024, o, true, false, rng);
    std::vector<float> y;
    std::vector<double> ref;
    oracle(p, &y, &ref);
    double worst = 0, mag = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      worst = std::max(worst, std::fabs(y[i] - ref[i]));
      mag = std::max(mag, std::fabs(ref[i]));
    }
    EXPECT_LT(worst, 1e-4 * std::max(1.0, mag)) << "weight_only=" << wo;
  }
}

TEST(Int4Linear, InitFromFloatRoundsPerGroup) {
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  const int64_t N = 20, K = 256;
  std::vector<float> w(static_cast<size_t>(N * K));
  for (auto& v : w) v = d(rng);
  w[5] = -3.0f;  // the largest magnitude of row 0, group 0: maps to -8 exactly
  for (bool sym : {true, false})
    for (int32_t G : {32, 128, 0}) {
      Int4LinearOptions o;
      o.symmetric = sym;
      o.group_size = G;
      Int4Linear layer;
      ASSERT_EQ(layer.init(w.data(), N, K, nullptr, o), Status::ok) << qgemm::last_error_message();
      const int64_t g = G == 0 ? K : G, ng = K / g;
      ASSERT_EQ(layer.groups(), ng);
      std::vector<int8_t> q(static_cast<size_t>(N * K)), z(static_cast<size_t>(N * ng), 0);
      std::vector<float> s(static_cast<size_t>(N * ng));
      ASSERT_EQ(layer.export_quantized(q.data(), s.data(), z.data()), Status::ok);
      if (sym) EXPECT_EQ(q[5], -8);
      for (int64_t j = 0; j < N; ++j)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t gi = k / g;
          const float sc = s[static_cast<size_t>(j * ng + gi)];
          const int zz = sym ? 0 : z[static_cast<size_t>(j * ng + gi)];
          const int v = q[static_cast<size_t>(j * K + k)];
          ASSERT_GE(v, sym ? -8 : 0);
          ASSERT_LE(v, sym ? 7 : 15);
          // Round to nearest: within half a step; a step at the range's clamped end (q4_0's +8 -> 7)
          // and, asymmetric, half a step more for the rounded zero point.
          const bool end = v == (sym ? 7 : 15) || v == (sym ? -8 : 0);
          const float steps = sym ? (end ? 1.0f : 0.5f) : 1.0f;
          EXPECT_LE(std::fabs((v - zz) * sc - w[static_cast<size_t>(j * K + k)]), steps * std::fabs(sc) * 1.0001f + 1e-7f)
              << "j=" << j << " k=" << k << " sym=" << sym << " G=" << G;
        }
      // Export then init_quantized gives the same layer (the same packed bytes: the same y).
      Int4Linear again;
      ASSERT_EQ(again.init_quantized(q.data(), s.data(), sym ? nullptr : z.data(), N, K, nullptr, o), Status::ok);
      std::vector<float> x(static_cast<size_t>(2 * K));
      for (auto& v : x) v = d(rng);
      std::vector<float> y1(static_cast<size_t>(2 * N)), y2(y1.size());
      ASSERT_EQ(layer.forward(2, ActType::f32, x.data(), K, y1.data(), N), Status::ok);
      ASSERT_EQ(again.forward(2, ActType::f32, x.data(), K, y2.data(), N), Status::ok);
      EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4));
    }
}

TEST(Int4Linear, BadInputsAreRefusedAndWriteNothing) {
  std::mt19937 rng(14);
  Int4LinearOptions o;
  o.group_size = 32;
  Int4Problem p = make(2, 8, 64, o, false, false, rng);
  Int4Linear layer;
  // Options and shapes.
  for (int32_t g : {-1, 16, 48, 512, 33}) {
    Int4LinearOptions b = o;
    b.group_size = g;
    EXPECT_NE(layer.init_quantized(p.q.data(), p.s.data(), nullptr, 8, 64, nullptr, b), Status::ok) << g;
  }
  Int4LinearOptions g128 = o;
  g128.group_size = 128;
  EXPECT_EQ(layer.init_quantized(p.q.data(), p.s.data(), nullptr, 8, 64, nullptr, g128), Status::bad_argument);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("does not divide"), std::string::npos);
  EXPECT_EQ(layer.init_quantized(p.q.data(), p.s.data(), nullptr, 0, 64, nullptr, o), Status::negative_dimension);
  EXPECT_EQ(layer.init_quantized(nullptr, p.s.data(), nullptr, 8, 64, nullptr, o), Status::null_pointer);
  EXPECT_EQ(layer.init_quantized(p.q.data(), nullptr, nullptr, 8, 64, nullptr, o), Status::null_pointer);
  // q out of range.
  std::vector<int8_t> q = p.q;
  q[17] = 8;
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), nullptr, 8, 64, nullptr, o), Status::bad_argument);
  q[17] = -9;
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), nullptr, 8, 64, nullptr, o), Status::bad_argument);
  Int4LinearOptions asym = o;
  asym.symmetric = false;
  q[17] = -1;
  std::vector<int8_t> z(16, 3);
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), z.data(), 8, 64, nullptr, asym), Status::bad_argument);
  std::fill(q.begin(), q.end(), int8_t{2});
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), nullptr, 8, 64, nullptr, asym), Status::null_pointer);
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), z.data(), 8, 64, nullptr, asym), Status::ok);
  z[3] = 16;
  EXPECT_EQ(layer.init_quantized(q.data(), p.s.data(), z.data(), 8, 64, nullptr, asym), Status::bad_zero_point);
  // Non-finite scales, bias, weights.
  std::vector<float> s = p.s;
  s[1] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(layer.init_quantized(p.q.data(), s.data(), nullptr, 8, 64, nullptr, o), Status::bad_output_params);
  s[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(layer.init_quantized(p.q.data(), s.data(), nullptr, 8, 64, nullptr, o), Status::bad_output_params);
  std::vector<float> bias(8, 0.0f);
  bias[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(layer.init_quantized(p.q.data(), p.s.data(), nullptr, 8, 64, bias.data(), o), Status::bad_argument);
  std::vector<float> w(8 * 64, 0.5f);
  w[9] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(layer.init(w.data(), 8, 64, nullptr, o), Status::bad_argument);
  EXPECT_EQ(layer.init(nullptr, 8, 64, nullptr, o), Status::null_pointer);
  // Per channel: in_features beyond the int32 bound.
  Int4LinearOptions pc = o;
  pc.group_size = 0;
  EXPECT_EQ(layer.init(w.data(), 1, int64_t{1} << 20, nullptr, pc), Status::overflow_risk);

  // forward before init, then with bad arguments: y untouched.
  std::vector<float> y(16, 42.0f);
  Int4Linear fresh;
  EXPECT_EQ(fresh.forward(2, ActType::f32, p.x.data(), 64, y.data(), 8), Status::bad_argument);
  ASSERT_EQ(build(p, &layer), Status::ok);
  EXPECT_EQ(layer.forward(-1, ActType::f32, p.x.data(), 64, y.data(), 8), Status::negative_dimension);
  EXPECT_EQ(layer.forward(2, ActType::f32, p.x.data(), 63, y.data(), 8), Status::bad_leading_dimension);
  EXPECT_EQ(layer.forward(2, ActType::f32, p.x.data(), 64, y.data(), 7), Status::bad_leading_dimension);
  EXPECT_EQ(layer.forward(2, ActType::f32, nullptr, 64, y.data(), 8), Status::null_pointer);
  EXPECT_EQ(layer.forward(2, ActType::f32, p.x.data(), 64, nullptr, 8), Status::null_pointer);
  EXPECT_EQ(layer.forward(2, static_cast<ActType>(9), p.x.data(), 64, y.data(), 8), Status::bad_argument);
  qgemm::GemmOptions bad;
  bad.num_threads = -2;
  EXPECT_EQ(layer.forward(2, ActType::f32, p.x.data(), 64, y.data(), 8, bad), Status::bad_argument);
  std::vector<float> x = p.x;
  x[70] = std::numeric_limits<float>::infinity();  // row 1: W4A8 cannot choose its scale
  EXPECT_NE(layer.forward(2, ActType::f32, x.data(), 64, y.data(), 8), Status::ok);
  for (float v : y) EXPECT_EQ(v, 42.0f);
  EXPECT_EQ(layer.forward(0, ActType::f32, nullptr, 64, nullptr, 8), Status::ok);
}

TEST(Int4Linear, SymmetricFromFloatKeepsQ4_0Rule) {
  // A group whose largest magnitude is positive: s = m / -8 is negative and m maps to -8.
  std::vector<float> w(32, 0.1f);
  w[0] = 2.0f;
  Int4LinearOptions o;
  o.group_size = 32;
  Int4Linear layer;
  ASSERT_EQ(layer.init(w.data(), 1, 32, nullptr, o), Status::ok);
  std::vector<int8_t> q(32);
  float s = 0;
  ASSERT_EQ(layer.export_quantized(q.data(), &s, nullptr), Status::ok);
  EXPECT_EQ(s, -0.25f);
  EXPECT_EQ(q[0], -8);
  EXPECT_EQ(q[1], 0);  // 0.1 / -0.25 = -0.4 -> -0
}

}  // namespace
