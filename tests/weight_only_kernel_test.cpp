// White-box tests of the weight-only kernel tables (kernels/quant_ukernel.hpp), run once per
// quantization ISA this build and CPU have (scalar, avx2, avx512bw, neon; skipped where absent):
// linear / linear2 called directly with ldw > K, bias null or not, every K tail (K % 16 in
// 0..15) and N tail of the 8-, 4- and 1-row blocks, never reading X or W past K (NaN and junk
// there) nor writing Y past N; 16-bit float widening bit-exact for all 65536 patterns. Plus the
// default selection: aarch64 must report the NEON kernels, QGEMM_ISA=scalar / set_quant_isa
// must give the scalar ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "quant/quant_kernels.hpp"

namespace {

using qgemm::Isa;
using qgemm::Status;

constexpr double kU = 1.0 / 16777216.0;  // 2^-24

class W8KernelTest : public testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (qgemm::set_quant_isa(GetParam()) != Status::ok)
      GTEST_SKIP() << "weight-only kernels for " << qgemm::isa_name(GetParam()) << " are not available here";
    ASSERT_EQ(qgemm::quant_isa(), GetParam());
  }
  void TearDown() override { qgemm::reset_quant_isa(); }
};

// Same bound as WeightOnlyTest (docs/notes/issue-7.md, docs/notes/issue-7-neon.md):
// |y - ref| <= s*(K + 8)*u*sum|x*w| + 2u*(|ref| + |b|).
void check_row(size_t K, size_t N, const float* x, const int8_t* w, size_t ldw, const float* s, const float* b,
               const float* y, const char* what, int* checked) {
  for (size_t n = 0; n < N; ++n) {
    double dot = 0, mag = 0;
    for (size_t k = 0; k < K; ++k) {
      const double p = static_cast<double>(x[k]) * w[n * ldw + k];
      dot += p;
      mag += std::fabs(p);
    }
    const double bn = b ? b[n] : 0.0;
    const double ref = dot * s[n] + bn;
    const double tol = s[n] * (K + 8) * kU * mag + 2 * kU * (std::fabs(ref) + std::fabs(bn));
    ASSERT_LE(std::fabs(y[n] - ref), tol) << what << " K " << K << " N " << N << " ldw " << ldw << " n " << n
                                          << " bias " << (b != nullptr) << " y " << y[n] << " ref " << ref;
    ++*checked;
  }
}

TEST_P(W8KernelTest, TailsStridesAndBiasAgainstDoubleReference) {
  const qgemm::detail::QuantKernels& kt = qgemm::detail::quant_kernels();
  std::mt19937 rng(11);
  std::normal_distribution<float> nx(0.0f, 2.0f), nb(0.0f, 0.5f);
  std::uniform_int_distribution<int> uw(-128, 127);
  std::uniform_real_distribution<float> us(0.001f, 0.02f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  int checked = 0, cases = 0;
  std::vector<size_t> ks;
  for (size_t k = 1; k <= 40; ++k) ks.push_back(k);
  for (size_t k : {47, 64, 100, 129, 255}) ks.push_back(k);
  for (size_t K : ks)
    for (size_t N : {1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 21})
      for (size_t pad : {0, 3, 16})
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
          if (pad == 16 && N != 13 && N != 8) continue;  // keep the run short
          const size_t ldw = K + pad;
          // Junk past K in every weight row; NaN past K in X (read -> NaN result -> fails).
          std::vector<int8_t> w(N * ldw, 127);
          for (size_t n = 0; n < N; ++n)
            for (size_t k = 0; k < K; ++k) w[n * ldw + k] = static_cast<int8_t>(uw(rng));
          std::vector<float> x0(K + 8, nan), x1(K + 8, nan), s(N), b(N);
          for (size_t k = 0; k < K; ++k) x0[k] = nx(rng), x1[k] = nx(rng);
          for (size_t n = 0; n < N; ++n) s[n] = us(rng), b[n] = nb(rng);
          const float* bp = with_bias ? b.data() : nullptr;
          std::vector<float> y0(N + 8, -3.0f), y1(N + 8, -3.0f);
          kt.linear(K, N, x0.data(), w.data(), ldw, s.data(), bp, y0.data());
          check_row(K, N, x0.data(), w.data(), ldw, s.data(), bp, y0.data(), "linear", &checked);
          for (size_t n = N; n < N + 8; ++n) ASSERT_EQ(y0[n], -3.0f) << "linear wrote past N=" << N;
          if (kt.linear2) {
            std::fill(y0.begin(), y0.end(), -3.0f);
            kt.linear2(K, N, x0.data(), x1.data(), w.data(), ldw, s.data(), bp, y0.data(), y1.data());
            check_row(K, N, x0.data(), w.data(), ldw, s.data(), bp, y0.data(), "linear2 row 0", &checked);
            check_row(K, N, x1.data(), w.data(), ldw, s.data(), bp, y1.data(), "linear2 row 1", &checked);
            for (size_t n = N; n < N + 8; ++n) {
              ASSERT_EQ(y0[n], -3.0f) << "linear2 wrote past N=" << N;
              ASSERT_EQ(y1[n], -3.0f) << "linear2 wrote past N=" << N;
            }
          }
          ++cases;
          if (HasFatalFailure()) return;
        }
  RecordProperty("outputs_checked", checked);
  std::printf("[ INFO     ] %s: %d kernel calls, %d outputs within bound\n", qgemm::isa_name(GetParam()), cases, checked);
}

// Extreme weights (-128 and 127 everywhere) and large X: the conversion must be exact for the
// whole int8 range; with X = 1 the float sum is exact, so y must equal s*K*w + b exactly.
TEST_P(W8KernelTest, ExtremeWeightsAreConvertedExactly) {
  const qgemm::detail::QuantKernels& kt = qgemm::detail::quant_kernels();
  for (int wv : {-128, -1, 0, 1, 127}) {
    const size_t K = 37, N = 13;
    std::vector<int8_t> w(N * K, static_cast<int8_t>(wv));
    std::vector<float> x(K, 1.0f), s(N, 0.5f), y(N), y1(N);
    kt.linear(K, N, x.data(), w.data(), K, s.data(), nullptr, y.data());
    for (size_t n = 0; n < N; ++n) ASSERT_EQ(y[n], 0.5f * K * wv) << "w " << wv << " n " << n;
    if (kt.linear2) {
      kt.linear2(K, N, x.data(), x.data(), w.data(), K, s.data(), nullptr, y.data(), y1.data());
      for (size_t n = 0; n < N; ++n) ASSERT_EQ(y1[n], 0.5f * K * wv) << "w " << wv << " n " << n;
    }
  }
  // Every int8 value once per row (rotated by the row index); X = 1, so every partial sum is an
  // integer below 2^24 and exact.
  const size_t K = 256, N = 9;
  std::vector<int8_t> w(N * K);
  for (size_t n = 0; n < N; ++n)
    for (size_t k = 0; k < K; ++k) w[n * K + k] = static_cast<int8_t>(static_cast<uint8_t>(k + n));
  std::vector<float> x(K, 1.0f), s(N, 1.0f), y(N);
  kt.linear(K, N, x.data(), w.data(), K, s.data(), nullptr, y.data());
  for (size_t n = 0; n < N; ++n) ASSERT_EQ(y[n], -128.0f) << n;  // sum of -128..127
}

uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Bit-exact with qgemm::bf16_to_float / f16_to_float for all 65536 patterns, at every tail
// length; a NaN may come out quiet (F16C and FCVTL quiet signalling NaNs), nothing else differs.
TEST_P(W8KernelTest, HalfWideningIsExactForEveryPattern) {
  const qgemm::detail::QuantKernels& kt = qgemm::detail::quant_kernels();
  std::vector<uint16_t> h(65536 + 15);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i);
  std::vector<float> f(h.size());
  for (int bf = 0; bf < 2; ++bf) {
    const qgemm::detail::HalfToFloatFn cvt = bf ? kt.bf16_to_f32 : kt.f16_to_f32;
    for (size_t off = 0; off < 16; off += 5) {
      const size_t n = 65536 - off;
      std::fill(f.begin(), f.end(), -7.0f);
      cvt(h.data() + off, n, f.data());
      ASSERT_EQ(f[n], -7.0f) << "wrote past n";
      for (size_t i = 0; i < n; ++i) {
        const uint16_t v = h[off + i];
        const float e = bf ? qgemm::bf16_to_float(v) : qgemm::f16_to_float(v);
        if (std::isnan(e)) {
          ASSERT_TRUE(std::isnan(f[i])) << std::hex << v;
          ASSERT_EQ(fbits(f[i]) | 0x00400000u, fbits(e) | 0x00400000u) << std::hex << v;
        } else {
          ASSERT_EQ(fbits(f[i]), fbits(e)) << (bf ? "bf16 " : "f16 ") << std::hex << v;
        }
      }
    }
    for (size_t n = 1; n < 20; ++n) {  // short calls: tails only
      std::fill(f.begin(), f.end(), -7.0f);
      cvt(h.data() + 0x3c00, n, f.data());
      for (size_t i = 0; i < n; ++i) {
        const uint16_t v = static_cast<uint16_t>(0x3c00 + i);
        ASSERT_EQ(fbits(f[i]), fbits(bf ? qgemm::bf16_to_float(v) : qgemm::f16_to_float(v))) << n << " " << i;
      }
      ASSERT_EQ(f[n], -7.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, W8KernelTest, testing::Values(Isa::scalar, Isa::avx2, Isa::avx512bw, Isa::neon),
                         [](const testing::TestParamInfo<Isa>& i) { return std::string(qgemm::isa_name(i.param)); });

// Which kernel WeightOnlyLinear runs by default, and that scalar can be forced.
TEST(WeightOnlySelection, DefaultIsTheBestKernelAndScalarCanBeForced) {
  const char* env = std::getenv("QGEMM_ISA");
  const bool env_scalar = env && std::strcmp(env, "scalar") == 0;
  qgemm::reset_quant_isa();
#if defined(__aarch64__)
  EXPECT_EQ(qgemm::quant_isa(), env_scalar ? Isa::scalar : Isa::neon);
  EXPECT_EQ(qgemm::set_quant_isa(Isa::neon), Status::ok);
  EXPECT_EQ(qgemm::set_quant_isa(Isa::avx2), Status::unsupported_isa);
  qgemm::reset_quant_isa();
#else
  EXPECT_EQ(qgemm::set_quant_isa(Isa::neon), Status::unsupported_isa);
  if (env_scalar) EXPECT_EQ(qgemm::quant_isa(), Isa::scalar);
#endif
  const std::string isa = qgemm::isa_name(qgemm::quant_isa());
  const int64_t K = 20, N = 11;
  std::vector<float> w(N * K), x(3 * K), y(3 * N);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(static_cast<int>(i % 17) - 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f + 0.001f * static_cast<float>(i);
  std::vector<uint16_t> xh(x.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = qgemm::float_to_bf16(x[i]);
  qgemm::WeightOnlyLinear layer;
  ASSERT_EQ(layer.init(w.data(), N, K, nullptr), Status::ok);
  const bool zmm = isa == "avx512bw";
  const std::string one = isa == "scalar" ? "1x1" : (zmm ? "1x16" : "1x8"),
                    two = isa == "scalar" ? "1x1" : (zmm ? "2x8" : "2x4");
  std::vector<float> y_best(3 * N);
  for (int forced = 0; forced < 2; ++forced) {
    const std::string want = forced ? "scalar" : isa;
    const std::string t1 = forced ? "1x1" : one, t2 = forced ? "1x1" : two;
    if (forced) ASSERT_EQ(qgemm::set_quant_isa(Isa::scalar), Status::ok);
    ASSERT_EQ(layer.forward(1, qgemm::ActType::f32, x.data(), K, y.data(), N), Status::ok);
    EXPECT_EQ(std::string(qgemm::weight_only_kernel_name()), "w8a32_linear_" + t1 + "__" + want);
    ASSERT_EQ(layer.forward(2, qgemm::ActType::bf16, xh.data(), K, y.data(), N), Status::ok);
    // bf16 X on the zmm table: the AVX512-BF16 kernel where the CPU has it.
    const std::string want_bf16 = !forced && qgemm::detail::w8_bf16_kernels() ? "avx512bf16" : want;
    EXPECT_EQ(std::string(qgemm::weight_only_kernel_name()), "w8a16bf16_linear_" + t2 + "__" + want_bf16);
    ASSERT_EQ(layer.forward(3, qgemm::ActType::f16, xh.data(), K, y.data(), N), Status::ok);  // bits read as f16
    EXPECT_EQ(std::string(qgemm::weight_only_kernel_name()), "w8a16f16_linear_" + t2 + "__" + want);
    ASSERT_EQ(layer.forward(3, qgemm::ActType::f32, x.data(), K, y.data(), N), Status::ok);
    if (!forced) {
      y_best = y;
    } else {  // same values up to float rounding (both within the bound of the exact result)
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], y_best[i], 1e-5 * (1 + std::fabs(y[i]))) << i;
    }
  }
  qgemm::reset_quant_isa();
}

}  // namespace
