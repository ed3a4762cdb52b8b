// Issue 5's evidence, in its own executable because oneDNN fixes its ISA at first use: the
// adversarial problem (A = 255, weight pairs that make u8*s8 pair sums exceed int16) through
// oneDNN restricted to AVX2 (dnnl::set_max_cpu_isa before any other oneDNN call) and through
// qgemm's AVX2 kernel. oneDNN's AVX2 int8 GEMM adds pairs with vpmaddubsw, whose int16 result
// saturates; qgemm must equal the exact int64 result. Skips, saying so, where oneDNN is exact.
#include <dnnl.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qgemm/qgemm.hpp"

namespace {

struct Case {
  int8_t b0, b1;
  int64_t M, N, K;
};

std::vector<int32_t> exact(const std::vector<uint8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N,
                           int64_t K) {
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += int64_t{a[i * K + k]} * b[k * N + j];
      c[i * N + j] = static_cast<int32_t>(s);
    }
  return c;
}

std::vector<int32_t> onednn(const std::vector<uint8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N,
                            int64_t K, std::string* impl) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  memory::desc a_md({M, K}, memory::data_type::u8, memory::format_tag::ab);
  memory::desc b_md({K, N}, memory::data_type::s8, memory::format_tag::ab);
  memory::desc c_md({M, N}, memory::data_type::s32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
  *impl = pd.impl_info_str();
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  memory am(a_md, eng, const_cast<uint8_t*>(a.data())), bm(b_md, eng, const_cast<int8_t*>(b.data())),
      cm(c_md, eng, c.data());
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  s.wait();
  return c;
}

std::vector<int32_t> qgemm_avx2(const std::vector<uint8_t>& a, const std::vector<int8_t>& b, int64_t M, int64_t N,
                                int64_t K) {
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  qgemm::PackedWeights* w = nullptr;
  EXPECT_EQ(qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w), qgemm::Status::ok);
  EXPECT_EQ(qgemm::gemm(M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N), qgemm::Status::ok)
      << qgemm::last_error_message();
  EXPECT_STREQ(qgemm::last_kernel_name(), "u8s8_gemm_4x16c4__avx2");
  qgemm::destroy_packed_weights(w);
  return c;
}

TEST(OnednnAvx2Saturation, OnednnDiffersQgemmExact) {
  if (!qgemm::isa_available(qgemm::Isa::avx2)) GTEST_SKIP() << "qgemm's AVX2 kernel is not available here";
  ASSERT_EQ(qgemm::set_isa(qgemm::Isa::avx2), qgemm::Status::ok);
  const Case cases[] = {{127, 127, 4, 16, 64}, {-128, -128, 4, 16, 64}, {127, 127, 33, 70, 515},
                        {-128, -128, 1, 768, 768}};
  int differing = 0;
  for (const Case& t : cases) {
    SCOPED_TRACE("pair (" + std::to_string(t.b0) + ", " + std::to_string(t.b1) + ") M=" + std::to_string(t.M) +
                 " N=" + std::to_string(t.N) + " K=" + std::to_string(t.K));
    const std::vector<uint8_t> a(static_cast<size_t>(t.M * t.K), 255);
    std::vector<int8_t> b(static_cast<size_t>(t.K * t.N));
    for (int64_t k = 0; k < t.K; ++k)
      for (int64_t j = 0; j < t.N; ++j) b[k * t.N + j] = (k % 2) ? t.b1 : t.b0;
    const auto want = exact(a, b, t.M, t.N, t.K);
    EXPECT_EQ(qgemm_avx2(a, b, t.M, t.N, t.K), want) << "qgemm's AVX2 result is not exact";
    std::string impl;
    const auto got = onednn(a, b, t.M, t.N, t.K, &impl);
    if (got != want) {
      ++differing;
      std::printf("[ oneDNN   ] %s (max ISA avx2): C[0][0] = %d, exact %d (pair (%d, %d), M=%lld N=%lld K=%lld)\n",
                  impl.c_str(), got[0], want[0], t.b0, t.b1, static_cast<long long>(t.M),
                  static_cast<long long>(t.N), static_cast<long long>(t.K));
    }
  }
  qgemm::reset_isa();
  if (differing == 0) GTEST_SKIP() << "oneDNN restricted to AVX2 was exact on every adversarial case here";
  EXPECT_GT(differing, 0);
}

}  // namespace

int main(int argc, char** argv) {
  // Must precede every other oneDNN call: oneDNN reads its ISA limit once.
  const dnnl::status st = dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
  if (st != dnnl::status::success) std::printf("dnnl::set_max_cpu_isa(avx2) failed\n");
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
