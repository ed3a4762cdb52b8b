// Weight-only linear kernels called directly, once per quantization table (scalar, avx2,
// avx512bw, avx512bw with the AVX512-BF16 bf16-X kernels): K and N tails, ldw > K, null and
// real bias, one and two rows of X as the layer pairs them (M = 1, 2, 3), f32 / bf16 / f16 X,
// against a double reference within the stated bound (docs/notes/issue-7-zmm.md). Weights, X
// and Y end at a PROT_NONE page, so a tail mask that reads or writes one element too far
// faults. Plus the widening kernels on every 16-bit pattern, the kernel names the layer
// reports, and vdpbf16ps's denormals-are-zero / flush-to-zero arithmetic.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "quant/quant_kernels.hpp"

namespace {

using qgemm::ActType;
using qgemm::Isa;
using qgemm::Status;
namespace d = qgemm::detail;

constexpr double kU = 1.0 / 16777216.0;         // float32 unit roundoff, 2^-24
constexpr double kMinNormal = 1.1754943508222875e-38;  // 2^-126

// n elements of T that end exactly where an inaccessible page begins.
template <typename T>
class Guarded {
 public:
  explicit Guarded(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE)), bytes = n * sizeof(T);
    len_ = ((bytes + page - 1) / page + 1) * page;
    base_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) std::abort();
    char* guard = static_cast<char*>(base_) + len_ - page;
    if (mprotect(guard, page, PROT_NONE) != 0) std::abort();
    p_ = reinterpret_cast<T*>(guard - bytes);
  }
  ~Guarded() { munmap(base_, len_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  T* get() { return p_; }
  T& operator[](size_t i) { return p_[i]; }

 private:
  void* base_;
  size_t len_;
  T* p_;
};

struct Cfg {
  Isa isa;
  bool bf16_kernels;  // the AVX512-BF16 kernels for bf16 X (avx512bw only)
};

std::string cfg_name(const testing::TestParamInfo<Cfg>& i) {
  return std::string(qgemm::isa_name(i.param.isa)) + (i.param.bf16_kernels ? "_bf16dp" : "");
}

class W8Kernels : public testing::TestWithParam<Cfg> {
 protected:
  void SetUp() override {
    const Cfg c = GetParam();
    bool ok = qgemm::set_quant_isa(c.isa) == Status::ok;
    if (ok) {
      d::allow_w8_bf16_kernels(c.bf16_kernels);
      ok = (d::w8_bf16_kernels() != nullptr) == c.bf16_kernels;
    }
    if (!ok) {
#if defined(QGEMM_TEST_EMULATED)
      FAIL() << "the emulation build must run every x86 weight-only table";
#else
      GTEST_SKIP() << "not available on this CPU / build";
#endif
    }
  }
  void TearDown() override {
    d::allow_w8_bf16_kernels(true);
    qgemm::reset_quant_isa();
  }
};

// y = X * W^T scaled, through the selected table exactly as WeightOnlyLinear::forward calls it
// (rows in pairs through linear2 when present, the last odd row through linear).
void run_kernels(ActType t, size_t M, size_t K, size_t N, const float* xf, const uint16_t* xh, size_t ldx,
                 const int8_t* w, size_t ldw, const float* scale, const float* bias, float* y, size_t ldy) {
  const d::QuantKernels& kt = d::quant_kernels();
  const d::W8Bf16Kernels* kb = t == ActType::bf16 ? d::w8_bf16_kernels() : nullptr;
  size_t i = 0;
  if (kb) {
    for (; i + 2 <= M; i += 2)
      kb->linear2(K, N, xh + i * ldx, xh + (i + 1) * ldx, w, ldw, scale, bias, y + i * ldy, y + (i + 1) * ldy);
    if (i < M) kb->linear(K, N, xh + i * ldx, w, ldw, scale, bias, y + i * ldy);
    return;
  }
  std::vector<float> wide;
  if (t != ActType::f32) {  // widened as the layer does, row stride ldx
    wide.resize(M * ldx);
    for (size_t r = 0; r < M; ++r) (t == ActType::bf16 ? kt.bf16_to_f32 : kt.f16_to_f32)(xh + r * ldx, K, wide.data() + r * ldx);
    xf = wide.data();
  }
  if (kt.linear2)
    for (; i + 2 <= M; i += 2)
      kt.linear2(K, N, xf + i * ldx, xf + (i + 1) * ldx, w, ldw, scale, bias, y + i * ldy, y + (i + 1) * ldy);
  for (; i < M; ++i) kt.linear(K, N, xf + i * ldx, w, ldw, scale, bias, y + i * ldy);
}

// |y - ref| <= s (K+8) u sum|x w| + 2u (|ref| + |b|): float32 sums in any order of at most K+8
// sequential roundings, then one fma. vdpbf16ps adds s (129 K + 32) 2^-126: X denormals read
// as zero (<= 128 * 2^-126 each) and results flushed to zero (< 2^-126 each, at most K + 32).
TEST_P(W8Kernels, TailsStridesBiasAndRowsWithinBound) {
  const bool dp = GetParam().bf16_kernels;
  std::mt19937 rng(11);
  std::normal_distribution<float> nx(0.0f, 2.0f);
  std::uniform_int_distribution<int> nw(-128, 127);
  std::uniform_real_distribution<float> ns(0.001f, 0.05f);
  int checked = 0;
  for (size_t K : {1, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 300})
    for (size_t N : {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40})
      for (size_t M : {1, 2, 3})
        for (int variant = 0; variant < 2; ++variant) {  // 0: ldw = K, bias; 1: ldw > K, no bias
          const size_t ldw = K + (variant ? 5 : 0), ldx = K + (variant ? 3 : 0), ldy = N + 2;
          Guarded<int8_t> w((N - 1) * ldw + K);
          Guarded<float> scale(N), bias(N), xf((M - 1) * ldx + K), y((M - 1) * ldy + N);
          Guarded<uint16_t> xh((M - 1) * ldx + K);
          for (size_t j = 0; j < (N - 1) * ldw + K; ++j) w[j] = static_cast<int8_t>(nw(rng));
          for (size_t j = 0; j < N; ++j) scale[j] = ns(rng), bias[j] = nx(rng);
          for (size_t j = 0; j < (M - 1) * ldx + K; ++j) xf[j] = nx(rng);
          const float* bp = variant ? nullptr : bias.get();
          for (ActType t : {ActType::f32, ActType::bf16, ActType::f16}) {
            std::vector<double> xv((M - 1) * ldx + K);  // the values the kernel must see
            for (size_t j = 0; j < xv.size(); ++j) {
              if (t == ActType::bf16) xh[j] = qgemm::float_to_bf16(xf[j]), xv[j] = qgemm::bf16_to_float(xh[j]);
              else if (t == ActType::f16) xh[j] = qgemm::float_to_f16(xf[j]), xv[j] = qgemm::f16_to_float(xh[j]);
              else xv[j] = xf[j];
            }
            for (size_t j = 0; j < (M - 1) * ldy + N; ++j) y[j] = -7.0f;
            run_kernels(t, M, K, N, xf.get(), xh.get(), ldx, w.get(), ldw, scale.get(), bp, y.get(), ldy);
            for (size_t i = 0; i < M; ++i)
              for (size_t j = 0; j < N; ++j) {
                double dot = 0, mag = 0;
                for (size_t k = 0; k < K; ++k) {
                  const double p = xv[i * ldx + k] * w[j * ldw + k];
                  dot += p;
                  mag += std::fabs(p);
                }
                const double b = bp ? bp[j] : 0.0, ref = dot * scale[j] + b;
                double tol = scale[j] * (K + 8) * kU * mag + 2 * kU * (std::fabs(ref) + std::fabs(b));
                if (dp && t == ActType::bf16) tol += scale[j] * (129.0 * K + 32) * kMinNormal;
                ASSERT_LE(std::fabs(y[i * ldy + j] - ref), tol)
                    << "K " << K << " N " << N << " M " << M << " variant " << variant << " type " << int(t) << " row "
                    << i << " col " << j;
                ++checked;
              }
            for (size_t i = 0; i + 1 < M; ++i)
              for (size_t j = N; j < ldy; ++j) ASSERT_EQ(y[i * ldy + j], -7.0f) << "wrote past N";
          }
        }
  EXPECT_EQ(checked, 14 * 3 * 2 * 3 * (1 + 3 + 7 + 8 + 9 + 15 + 16 + 17 + 24 + 31 + 33 + 40) * 2);
}

// The widening kernels give qgemm's exact conversion for every 16-bit pattern (NaN: a NaN), and
// read and write nothing past n.
TEST_P(W8Kernels, WideningIsExactOnEveryPattern) {
  const d::QuantKernels& kt = d::quant_kernels();
  for (size_t n : {size_t{65536}, size_t{1}, size_t{15}, size_t{17}, size_t{40}}) {
    Guarded<uint16_t> src(n);
    Guarded<float> dst(n);
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<uint16_t>(n == 65536 ? i : 0x3f80 + 977 * i);
    for (int bf = 0; bf < 2; ++bf) {
      (bf ? kt.bf16_to_f32 : kt.f16_to_f32)(src.get(), n, dst.get());
      for (size_t i = 0; i < n; ++i) {
        const float e = bf ? qgemm::bf16_to_float(src[i]) : qgemm::f16_to_float(src[i]);
        if (std::isnan(e)) {
          ASSERT_TRUE(std::isnan(dst[i])) << i;
        } else {
          uint32_t a, b;
          std::memcpy(&a, &dst[i], 4);
          std::memcpy(&b, &e, 4);
          ASSERT_EQ(a, b) << (bf ? "bf16 " : "f16 ") << std::hex << src[i];
        }
      }
    }
  }
}

// weight_only_kernel_name() names the kernel that ran: one-row tile for M = 1, two-row for M >= 2.
TEST_P(W8Kernels, LayerReportsTheKernelThatRan) {
  const Cfg c = GetParam();
  const char* tile1 = "1x1";
  const char* tile2 = "1x1";
  if (c.isa == Isa::avx2) tile1 = "1x8", tile2 = "2x4";
  if (c.isa == Isa::avx512bw) tile1 = "1x16", tile2 = "2x8";
  const int64_t K = 40, N = 19;
  std::vector<int8_t> w(N * K, 3);
  std::vector<float> s(N, 0.5f), x(3 * K, 1.0f), y(3 * N);
  std::vector<uint16_t> xh(3 * K, 0x3f80);  // 1.0 in bf16 and 1.875 in f16: both exact
  qgemm::WeightOnlyLinear layer;
  ASSERT_EQ(layer.init_quantized(w.data(), s.data(), N, K, nullptr), Status::ok);
  for (ActType t : {ActType::f32, ActType::bf16, ActType::f16})
    for (int64_t M : {1, 2, 3}) {
      const void* xp = t == ActType::f32 ? static_cast<const void*>(x.data()) : xh.data();
      ASSERT_EQ(layer.forward(M, t, xp, K, y.data(), N), Status::ok);
      std::string isa = qgemm::isa_name(c.isa);
      if (t == ActType::bf16 && c.bf16_kernels) isa = "avx512bf16";
      const std::string want = std::string(t == ActType::f32 ? "w8a32" : (t == ActType::bf16 ? "w8a16bf16" : "w8a16f16")) +
                               "_linear_" + (M >= 2 ? tile2 : tile1) + "__" + isa;
      EXPECT_EQ(want, qgemm::weight_only_kernel_name()) << "M " << M;
      const float v = t == ActType::f16 ? qgemm::f16_to_float(0x3f80) : 1.0f;
      for (int64_t i = 0; i < M * N; ++i) ASSERT_EQ(y[i], 0.5f * 3 * v * K) << i;  // exact in every order
    }
}

// vdpbf16ps reads denormal inputs as zero and flushes denormal results to zero; the float32
// kernels (MXCSR default: no DAZ/FTZ) keep both. Values chosen so every step is exact.
TEST_P(W8Kernels, Bf16DenormalArithmetic) {
  const bool dp = GetParam().bf16_kernels;
  const float one = 1.0f;
  qgemm::WeightOnlyLinear layer;
  float y = -1.0f;
  // X = 2^-133 (bf16 0x0001, a denormal), w = 100: 100 * 2^-133 = 25 * 2^-131, a float32 denormal.
  const int8_t w1 = 100;
  const uint16_t x1 = 0x0001;
  ASSERT_EQ(layer.init_quantized(&w1, &one, 1, 1, nullptr), Status::ok);
  ASSERT_EQ(layer.forward(1, ActType::bf16, &x1, 1, &y, 1), Status::ok);
  EXPECT_EQ(y, dp ? 0.0f : std::ldexp(25.0f, -131));
  // X = (1.5 * 2^-126, -2^-126), w = (1, 1): the sum 2^-127 is a denormal result.
  const int8_t w2[2] = {1, 1};
  const uint16_t x2[2] = {0x00c0, 0x8080};
  ASSERT_EQ(layer.init_quantized(w2, &one, 1, 2, nullptr), Status::ok);
  ASSERT_EQ(layer.forward(1, ActType::bf16, x2, 2, &y, 1), Status::ok);
  EXPECT_EQ(y, dp ? 0.0f : std::ldexp(1.0f, -127));
}

INSTANTIATE_TEST_SUITE_P(Tables, W8Kernels,
                         testing::Values(Cfg{Isa::scalar, false}, Cfg{Isa::avx2, false}, Cfg{Isa::avx512bw, false},
                                         Cfg{Isa::avx512bw, true}),
                         cfg_name);

// The native build on a CPU without AVX-512 must not pick the zmm table; QGEMM_ISA naming a
// table this CPU runs selects it (run by hand: QGEMM_ISA=avx2 qgemm_tests --gtest_filter=...).
TEST(W8KernelsSelection, BestTableMatchesTheCpu) {
  qgemm::reset_quant_isa();
  const Isa best = qgemm::quant_isa();
  if (const char* env = std::getenv("QGEMM_ISA")) {
    for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512bw})
      if (std::string(env) == qgemm::isa_name(i) && qgemm::set_quant_isa(i) == Status::ok) EXPECT_EQ(best, i);
    qgemm::reset_quant_isa();
    if (best != Isa::avx512bw) EXPECT_EQ(d::w8_bf16_kernels(), nullptr);
  }
#if defined(QGEMM_TEST_EMULATED)
  if (!std::getenv("QGEMM_ISA")) {
    EXPECT_EQ(best, Isa::avx512bw);
    EXPECT_NE(d::w8_bf16_kernels(), nullptr);
  }
#elif defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512f")) {
    EXPECT_NE(best, Isa::avx512bw);
    EXPECT_EQ(d::w8_bf16_kernels(), nullptr);
    EXPECT_EQ(qgemm::set_quant_isa(Isa::avx512bw), Status::unsupported_isa);
  }
#endif
  (void)best;
}

}  // namespace
