// The ISA a given machine must pick. Emulated CPU models (qemu-aarch64 -cpu cortex-a53,
// neoverse-n1, max) set QGEMM_EXPECT_ISA to the best ISA that model has; the test fails when
// the dispatch picked another (a detection bug, or a run on the wrong model), so a run that
// silently fell back to a lower kernel cannot pass. Skipped when the variable is unset.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "qgemm/qgemm.hpp"

namespace {

TEST(ExpectedIsa, BestIsaIsTheExpectedOne) {
  const char* want = std::getenv("QGEMM_EXPECT_ISA");
  if (!want || !*want) GTEST_SKIP() << "QGEMM_EXPECT_ISA is not set";
  qgemm::reset_isa();
  EXPECT_STREQ(qgemm::isa_name(qgemm::active_isa()), want);

  // The default ISA's kernel is the one that runs.
  const uint8_t a[8] = {255, 255, 255, 255, 255, 255, 255, 255};
  const int8_t b[8] = {-128, -128, -128, -128, -128, -128, -128, -128};
  int32_t c = 0;
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(b, qgemm::WeightLayout::kn, 8, 1, 1, nullptr, false, &w),
            qgemm::Status::ok)
      << qgemm::last_error_message();
  ASSERT_EQ(qgemm::gemm(1, a, 8, 0, w, qgemm::output_s32(), &c, 1), qgemm::Status::ok);
  qgemm::destroy_packed_weights(w);
  EXPECT_EQ(c, 8 * 255 * -128);
  const std::string kernel = qgemm::last_kernel_name();
  EXPECT_EQ(kernel.substr(kernel.rfind("__") + 2), want) << kernel;
}

}  // namespace
