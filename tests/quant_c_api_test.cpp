// The C API of the quantization utilities and layers gives the C++ API's results and statuses.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/quantize.h"

namespace {

TEST(QuantCApi, SameResultsAsCpp) {
  float s;
  int32_t z;
  ASSERT_EQ(qgemm_choose_qparams(-1.0f, 3.0f, QGEMM_QTYPE_U8, QGEMM_QSCHEME_AFFINE, 0, &s, &z), 0);
  qgemm::QParams p;
  ASSERT_EQ(qgemm::choose_qparams(-1.0f, 3.0f, qgemm::QType::u8, qgemm::QScheme::affine, false, &p), qgemm::Status::ok);
  EXPECT_EQ(s, p.scale);
  EXPECT_EQ(z, p.zero_point);
  EXPECT_EQ(qgemm_choose_qparams(3.0f, -1.0f, QGEMM_QTYPE_U8, QGEMM_QSCHEME_AFFINE, 0, &s, &z), 10);  // bad_argument
  ASSERT_EQ(qgemm_choose_qparams_dynamic(-1.0f, 3.0f, 1, &s, &z), 0);
  const float x[5] = {-1.0f, 0.0f, 0.5f, 2.0f, 3.0f};
  uint8_t q[5];
  float d[5];
  ASSERT_EQ(qgemm_quantize_u8(x, 5, s, z, q), 0);
  ASSERT_EQ(qgemm_dequantize_u8(q, 5, s, z, d), 0);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(d[i], x[i], s);
  double m;
  ASSERT_EQ(qgemm_max_abs_error(x, d, 5, &m), 0);
  EXPECT_LE(m, s);

  const int64_t K = 8, N = 3;
  std::vector<float> w(N * K), y(N), y2(N), xx(K, 0.25f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i) - 0.1f;
  qgemm_dynamic_linear* dl = nullptr;
  ASSERT_EQ(qgemm_dynamic_linear_create(w.data(), N, K, nullptr, 1, 1, &dl), 0);
  ASSERT_EQ(qgemm_dynamic_linear_forward(dl, 1, xx.data(), K, y.data(), N), 0);
  qgemm::DynamicLinear cl;
  ASSERT_EQ(cl.init(w.data(), N, K, nullptr, {true, true}), qgemm::Status::ok);
  ASSERT_EQ(cl.forward(1, xx.data(), K, y2.data(), N), qgemm::Status::ok);
  EXPECT_EQ(y, y2);
  qgemm_dynamic_linear_destroy(dl);
  EXPECT_EQ(qgemm_dynamic_linear_forward(nullptr, 1, xx.data(), K, y.data(), N), 1);

  qgemm_weight_only_linear* wl = nullptr;
  ASSERT_EQ(qgemm_weight_only_linear_create(w.data(), N, K, nullptr, &wl), 0);
  ASSERT_EQ(qgemm_weight_only_linear_forward(wl, 1, QGEMM_ACT_F32, xx.data(), K, y.data(), N), 0);
  qgemm_weight_only_linear_destroy(wl);
  EXPECT_EQ(qgemm_weight_only_linear_create(w.data(), 0, K, nullptr, &wl), 2);  // negative_dimension

  const int8_t wq[4] = {1, -2, 3, -4};
  const float ws = 0.5f;
  qgemm_static_linear* sl = nullptr;
  ASSERT_EQ(qgemm_static_linear_create(wq, 2, 2, &ws, nullptr, 0, nullptr, nullptr, 0.1f, 10, 0.2f, 100, 0, 255, &sl), 0);
  const uint8_t xs[2] = {20, 30};
  uint8_t ys[2];
  ASSERT_EQ(qgemm_static_linear_forward(sl, 1, xs, 2, ys, 2), 0);
  // acc0 = 10*1 + 20*(-2) = -30, acc1 = 10*3 + 20*(-4) = -50; mult = 0.1*0.5/0.2 = 0.25
  EXPECT_EQ(ys[0], 100 + std::lrint(-30 * 0.25f));
  EXPECT_EQ(ys[1], 100 + std::lrint(-50 * 0.25f));
  qgemm_static_linear_destroy(sl);
}

}  // namespace
