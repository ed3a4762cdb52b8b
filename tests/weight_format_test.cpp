// The packed-B format hook (kernels/weight_format.hpp): packed weights record the format their
// kernel reads, the driver's offsets come from the format, and a kernel is never paired with
// weights in another format, whatever the ISA says.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "gemm_driver.hpp"
#include "dispatch.hpp"
#include "packed_weights.hpp"
#include "qgemm/qgemm.hpp"
#include "test_util.hpp"

namespace {

using qgemm::detail::GemmConfig;
using qgemm::detail::WeightFormat;

class WeightFormatHook : public testing::TestWithParam<qgemm::Isa> {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(GetParam())) GTEST_SKIP() << qgemm::isa_unavailable_reason(GetParam());
    ASSERT_EQ(qgemm::set_isa(GetParam()), qgemm::Status::ok);
  }
  void TearDown() override { qgemm::reset_isa(); }
};

// Every kernel names a format, and its packed weights carry it with the format's byte counts.
TEST_P(WeightFormatHook, PackedWeightsRecordTheKernelsFormat) {
  const GemmConfig* cfg = qgemm::detail::gemm_config(GetParam());
  ASSERT_NE(cfg, nullptr);
  ASSERT_NE(cfg->b_format, nullptr) << cfg->name;
  EXPECT_EQ(cfg->b_format, &qgemm::detail::kWeightFormat_s8) << cfg->name;  // the one format today
  const int64_t K = 37, N = 2 * static_cast<int64_t>(cfg->nr) + 3;
  std::vector<int8_t> b(static_cast<size_t>(K * N), 3);
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w), qgemm::Status::ok);
  EXPECT_EQ(w->format, cfg->b_format);
  EXPECT_EQ(w->panel_bytes, cfg->b_format->panel_bytes(cfg->nr, w->kp));
  EXPECT_EQ(w->panel_bytes, cfg->nr * w->kp);  // int8: one byte per weight
  EXPECT_EQ(qgemm::detail::check_pairing(*cfg, *w), qgemm::Status::ok);
  qgemm::destroy_packed_weights(w);
}

// A kernel that reads another format refuses these weights, and gemm() with such a pairing
// writes nothing.
TEST_P(WeightFormatHook, KernelOfAnotherFormatIsRefused) {
  const GemmConfig* cfg = qgemm::detail::gemm_config(GetParam());
  ASSERT_NE(cfg, nullptr);
  static const WeightFormat other = {
      "test_other",
      [](size_t nr, size_t kp) { return nr * kp / 2; },
      [](size_t nr, size_t k0) { return nr * k0 / 2; },
      [](const int8_t*, uint8_t, qgemm::WeightLayout, size_t, size_t, size_t, size_t, size_t, size_t, void*) {}};
  const int64_t K = 8, N = 5;
  std::vector<int8_t> b(static_cast<size_t>(K * N), 1);
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w), qgemm::Status::ok);
  // The same kernel, reading the other format.
  GemmConfig reader = *cfg;
  reader.b_format = &other;
  EXPECT_EQ(qgemm::detail::check_pairing(reader, *w), qgemm::Status::packed_isa_mismatch);
  EXPECT_NE(std::strstr(qgemm::last_error_message(), "test_other"), nullptr) << qgemm::last_error_message();
  EXPECT_NE(std::strstr(qgemm::last_error_message(), "format"), nullptr) << qgemm::last_error_message();
  // Weights that claim the other format, through the public gemm(): refused, C untouched.
  w->format = &other;
  std::vector<uint8_t> a(static_cast<size_t>(K), 2);
  std::vector<int32_t> c(static_cast<size_t>(N), 0x5A5A5A5A);
  EXPECT_EQ(qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N), qgemm::Status::packed_isa_mismatch);
  for (int32_t v : c) EXPECT_EQ(v, 0x5A5A5A5A);
  w->format = cfg->b_format;
  EXPECT_EQ(qgemm::gemm(1, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N), qgemm::Status::ok);
  for (int32_t v : c) EXPECT_EQ(v, 2 * K);
  qgemm::destroy_packed_weights(w);
}

INSTANTIATE_TEST_SUITE_P(Isas, WeightFormatHook, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
