// Layers built from int8 weights as they are (issue 26: a PyTorch quantized Linear's int_repr(),
// scales and zero points, no requantization), the accessors that let a layer be saved and
// built again (C++ and C API), and the layers' threading options.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/quantize.h"

namespace {

using qgemm::QParams;
using qgemm::Status;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

std::vector<float> randn(size_t n, float sd, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (float& e : v) e = nd(rng);
  return v;
}

std::vector<int8_t> rand_s8(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (int8_t& e : v) e = static_cast<int8_t>(d(rng));
  return v;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(bits(a[i]), bits(b[i])) << "element " << i;
}

// init_quantized() with init()'s own weights and scales is the same layer.
TEST(LinearQuantized, DynamicFromItsOwnWeightsIsTheSameLayer) {
  for (bool per_channel : {false, true}) {
    std::mt19937 rng(per_channel ? 3 : 4);
    const int64_t M = 5, K = 77, N = 19;
    std::vector<float> x = randn(M * K, 1.0f, rng), w = randn(N * K, 0.2f, rng), b = randn(N, 0.3f, rng);
    qgemm::DynamicLinear a, c;
    ASSERT_EQ(a.init(w.data(), N, K, b.data(), {per_channel, true}), Status::ok);
    ASSERT_EQ(c.init_quantized(a.weight_q().data(), N, K, a.weight_scales().data(), nullptr, b.data(),
                               {per_channel, true}),
              Status::ok)
        << qgemm::last_error_message();
    EXPECT_EQ(c.weight_q(), a.weight_q());
    EXPECT_EQ(c.weight_scales(), a.weight_scales());
    EXPECT_EQ(c.weight_zero_points(), std::vector<int32_t>(per_channel ? N : 1, 0));
    EXPECT_EQ(a.weight_zero_points(), c.weight_zero_points());
    EXPECT_EQ(c.bias(), b);
    std::vector<float> ya(M * N), yc(M * N);
    ASSERT_EQ(a.forward(M, x.data(), K, ya.data(), N), Status::ok);
    ASSERT_EQ(c.forward(M, x.data(), K, yc.data(), N), Status::ok);
    expect_same_bits(ya, yc);
  }
}

// Weight zero points (PyTorch's affine qint8 weights): y = fmaf(acc, sx*sw[j], b[j]) with
// acc = sum_k (xq - zx) * (wq - zw[j]), written out here with the public quantize utilities.
TEST(LinearQuantized, DynamicWithWeightZeroPointsEqualsStepsByHand) {
  for (bool per_channel : {false, true}) {
    std::mt19937 rng(per_channel ? 11 : 12);
    const int64_t M = 4, K = 131, N = 23;
    std::vector<float> x = randn(M * K, 1.0f, rng), b = randn(N, 0.3f, rng);
    std::vector<int8_t> wq = rand_s8(N * K, rng);
    const size_t nc = per_channel ? N : 1;
    std::vector<float> ws(nc);
    std::vector<int32_t> zw(nc);
    std::uniform_real_distribution<float> us(0.001f, 0.02f);
    std::uniform_int_distribution<int> uz(-128, 127);
    for (size_t j = 0; j < nc; ++j) ws[j] = us(rng), zw[j] = uz(rng);
    qgemm::DynamicLinear layer;
    ASSERT_EQ(layer.init_quantized(wq.data(), N, K, ws.data(), zw.data(), b.data(), {per_channel, false}),
              Status::ok)
        << qgemm::last_error_message();
    EXPECT_EQ(layer.weight_zero_points(), zw);
    std::vector<float> y(M * N);
    QParams p;
    ASSERT_EQ(layer.forward(M, x.data(), K, y.data(), N, &p), Status::ok);
    std::vector<uint8_t> xq(M * K);
    ASSERT_EQ(qgemm::quantize(x.data(), M * K, p, xq.data()), Status::ok);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const size_t c = per_channel ? j : 0;
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += (int64_t{xq[i * K + k]} - p.zero_point) * (wq[j * K + k] - zw[c]);
        const float expect = std::fmaf(static_cast<float>(acc), p.scale * ws[c], b[j]);
        ASSERT_EQ(bits(y[i * N + j]), bits(expect)) << "i " << i << " j " << j;
      }
  }
}

TEST(LinearQuantized, ThreadCountsGiveTheSameBits) {
  std::mt19937 rng(21);
  const int64_t M = 40, K = 96, N = 70;
  std::vector<float> x = randn(M * K, 1.0f, rng), w = randn(N * K, 0.2f, rng);
  qgemm::DynamicLinear d;
  ASSERT_EQ(d.init(w.data(), N, K, nullptr, {true, true}), Status::ok);
  std::vector<float> y0(M * N), y1(M * N), y2(M * N);
  ASSERT_EQ(d.forward(M, x.data(), K, y0.data(), N), Status::ok);
  qgemm::GemmOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  ASSERT_EQ(d.forward(M, x.data(), K, y1.data(), N, one), Status::ok);
  ASSERT_EQ(d.forward(M, x.data(), K, y2.data(), N, two), Status::ok);
  expect_same_bits(y0, y1);
  expect_same_bits(y0, y2);
  qgemm::GemmOptions bad;
  bad.num_threads = -1;
  std::vector<float> yb(M * N, 5.0f);
  EXPECT_EQ(d.forward(M, x.data(), K, yb.data(), N, bad), Status::bad_argument);
  EXPECT_EQ(yb, std::vector<float>(M * N, 5.0f));

  std::vector<int8_t> wq = rand_s8(N * K, rng);
  std::vector<uint8_t> xq(M * K);
  for (auto& e : xq) e = static_cast<uint8_t>(rng());
  const float sw = 0.01f;
  qgemm::StaticLinear s;
  ASSERT_EQ(s.init(wq.data(), N, K, &sw, nullptr, false, nullptr, nullptr, {0.05f, 120}, {0.9f, 7}), Status::ok);
  std::vector<uint8_t> z0(M * N), z1(M * N), z2(M * N);
  ASSERT_EQ(s.forward(M, xq.data(), K, z0.data(), N), Status::ok);
  ASSERT_EQ(s.forward(M, xq.data(), K, z1.data(), N, one), Status::ok);
  ASSERT_EQ(s.forward(M, xq.data(), K, z2.data(), N, two), Status::ok);
  EXPECT_EQ(z0, z1);
  EXPECT_EQ(z0, z2);
}

TEST(LinearQuantized, StaticKeepsWhatItWasGiven) {
  std::mt19937 rng(31);
  const int64_t K = 9, N = 6;
  std::vector<int8_t> wq = rand_s8(N * K, rng);
  std::vector<float> ws = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  std::vector<int32_t> zw = {0, 1, -2, 3, -4, 5}, bs = {1, 2, 3, 4, 5, 6};
  qgemm::StaticLinear s;
  ASSERT_EQ(s.init(wq.data(), N, K, ws.data(), zw.data(), true, bs.data(), nullptr, {0.5f, 3}, {0.25f, 9}, 9, 200),
            Status::ok);
  EXPECT_TRUE(s.per_channel());
  EXPECT_EQ(s.weight_q(), wq);
  EXPECT_EQ(s.weight_scales(), ws);
  EXPECT_EQ(s.weight_zero_points(), zw);
  EXPECT_EQ(s.bias_s32(), bs);
  EXPECT_TRUE(s.bias_f32().empty());
  EXPECT_EQ(s.x_params().scale, 0.5f);
  EXPECT_EQ(s.x_params().zero_point, 3);
  EXPECT_EQ(s.y_params().scale, 0.25f);
  EXPECT_EQ(s.y_params().zero_point, 9);
  EXPECT_EQ(s.clamp_lo(), 9);
  EXPECT_EQ(s.clamp_hi(), 200);
  qgemm::StaticLinear t;
  const float one = 1.0f;
  ASSERT_EQ(t.init(wq.data(), N, K, &one, nullptr, false, nullptr, nullptr, {1.0f, 0}, {1.0f, 0}), Status::ok);
  EXPECT_EQ(t.weight_zero_points(), std::vector<int32_t>{0});
}

// A failed init_quantized leaves the layer as it was and says why.
TEST(LinearQuantized, BadInputKeepsTheLayer) {
  std::mt19937 rng(41);
  const int64_t M = 2, K = 8, N = 3;
  std::vector<float> x = randn(M * K, 1.0f, rng), w = randn(N * K, 0.2f, rng);
  qgemm::DynamicLinear d;
  ASSERT_EQ(d.init(w.data(), N, K, nullptr), Status::ok);
  std::vector<float> y0(M * N), y1(M * N);
  ASSERT_EQ(d.forward(M, x.data(), K, y0.data(), N), Status::ok);
  std::vector<int8_t> wq(N * K, 1);
  const float good[3] = {0.1f, 0.1f, 0.1f}, bad_scale[3] = {0.1f, 0.0f, 0.1f}, nan_scale = NAN;
  const int32_t bad_zp[3] = {0, 200, 0};
  EXPECT_EQ(d.init_quantized(nullptr, N, K, good, nullptr, nullptr), Status::null_pointer);
  EXPECT_EQ(d.init_quantized(wq.data(), N, K, nullptr, nullptr, nullptr), Status::null_pointer);
  EXPECT_EQ(d.init_quantized(wq.data(), 0, K, good, nullptr, nullptr), Status::negative_dimension);
  EXPECT_EQ(d.init_quantized(wq.data(), N, K, &nan_scale, nullptr, nullptr), Status::bad_output_params);
  EXPECT_EQ(d.init_quantized(wq.data(), N, K, bad_scale, nullptr, nullptr, {true, true}), Status::bad_output_params);
  EXPECT_NE(std::string(qgemm::last_error_message()).find("scale 1"), std::string::npos) << qgemm::last_error_message();
  EXPECT_EQ(d.init_quantized(wq.data(), N, K, good, bad_zp, nullptr, {true, true}), Status::bad_zero_point);
  ASSERT_EQ(d.forward(M, x.data(), K, y1.data(), N), Status::ok);
  expect_same_bits(y0, y1);
}

TEST(LinearQuantized, CApiCreateQuantizedInfoAndForwardEx) {
  std::mt19937 rng(51);
  const int64_t M = 3, K = 40, N = 12;
  std::vector<float> x = randn(M * K, 1.0f, rng), w = randn(N * K, 0.2f, rng), b = randn(N, 0.1f, rng);
  qgemm_dynamic_linear* a = nullptr;
  ASSERT_EQ(qgemm_dynamic_linear_create(w.data(), N, K, b.data(), 1, 0, &a), 0);
  qgemm_linear_info info;
  ASSERT_EQ(qgemm_dynamic_linear_info(a, &info), 0);
  EXPECT_EQ(info.out_features, N);
  EXPECT_EQ(info.in_features, K);
  EXPECT_EQ(info.per_channel, 1);
  EXPECT_EQ(info.reduce_range, 0);
  ASSERT_NE(info.weight_zero_points, nullptr);
  for (int64_t j = 0; j < N; ++j) EXPECT_EQ(info.weight_zero_points[j], 0);
  for (int64_t j = 0; j < N; ++j) EXPECT_EQ(info.bias_f32[j], b[j]);
  EXPECT_EQ(info.bias_s32, nullptr);
  qgemm_dynamic_linear* c = nullptr;
  ASSERT_EQ(qgemm_dynamic_linear_create_quantized(info.weight_q, N, K, info.weight_scales, info.weight_zero_points,
                                                  info.per_channel, info.bias_f32, info.reduce_range, &c),
            0);
  std::vector<float> ya(M * N), yc(M * N);
  qgemm_gemm_options opt;
  qgemm_gemm_options_init(&opt);
  opt.num_threads = 1;
  float sx = 0;
  int32_t zx = -1;
  ASSERT_EQ(qgemm_dynamic_linear_forward(a, M, x.data(), K, ya.data(), N), 0);
  ASSERT_EQ(qgemm_dynamic_linear_forward_ex(c, M, x.data(), K, yc.data(), N, &opt, &sx, &zx), 0);
  expect_same_bits(ya, yc);
  QParams p;
  float lo, hi;
  ASSERT_EQ(qgemm::min_max(x.data(), M * K, &lo, &hi), Status::ok);
  ASSERT_EQ(qgemm::choose_qparams_dynamic(lo, hi, false, &p), Status::ok);
  EXPECT_EQ(bits(sx), bits(p.scale));
  EXPECT_EQ(zx, p.zero_point);
  EXPECT_EQ(qgemm_dynamic_linear_forward_ex(nullptr, M, x.data(), K, yc.data(), N, nullptr, nullptr, nullptr), 1);
  EXPECT_EQ(qgemm_dynamic_linear_info(nullptr, &info), 1);
  EXPECT_EQ(qgemm_dynamic_linear_info(a, nullptr), 1);
  qgemm_dynamic_linear_destroy(a);
  qgemm_dynamic_linear_destroy(c);

  // Static: info gives back every argument of create.
  std::vector<int8_t> wq = rand_s8(N * K, rng);
  std::vector<float> ws(N, 0.02f);
  std::vector<int32_t> zw(N, -3);
  qgemm_static_linear* s = nullptr;
  ASSERT_EQ(qgemm_static_linear_create(wq.data(), N, K, ws.data(), zw.data(), 1, nullptr, b.data(), 0.04f, 128, 0.5f,
                                       10, 10, 255, &s),
            0);
  ASSERT_EQ(qgemm_static_linear_info(s, &info), 0);
  EXPECT_EQ(std::vector<int8_t>(info.weight_q, info.weight_q + N * K), wq);
  EXPECT_EQ(std::vector<int32_t>(info.weight_zero_points, info.weight_zero_points + N), zw);
  EXPECT_EQ(std::vector<float>(info.bias_f32, info.bias_f32 + N), b);
  EXPECT_EQ(info.bias_s32, nullptr);
  EXPECT_EQ(info.x_scale, 0.04f);
  EXPECT_EQ(info.x_zero_point, 128);
  EXPECT_EQ(info.y_scale, 0.5f);
  EXPECT_EQ(info.y_zero_point, 10);
  EXPECT_EQ(info.clamp_lo, 10);
  EXPECT_EQ(info.clamp_hi, 255);
  std::vector<uint8_t> xq(M * K), y0(M * N), y1(M * N);
  for (auto& e : xq) e = static_cast<uint8_t>(rng());
  ASSERT_EQ(qgemm_static_linear_forward(s, M, xq.data(), K, y0.data(), N), 0);
  ASSERT_EQ(qgemm_static_linear_forward_ex(s, M, xq.data(), K, y1.data(), N, &opt), 0);
  EXPECT_EQ(y0, y1);
  qgemm_static_linear_destroy(s);

  // Weight-only from int8 weights.
  qgemm_weight_only_linear* wl = nullptr;
  ASSERT_EQ(qgemm_weight_only_linear_create_quantized(wq.data(), ws.data(), N, K, nullptr, &wl), 0);
  ASSERT_EQ(qgemm_weight_only_linear_info(wl, &info), 0);
  EXPECT_EQ(std::vector<int8_t>(info.weight_q, info.weight_q + N * K), wq);
  EXPECT_EQ(std::vector<float>(info.weight_scales, info.weight_scales + N), ws);
  EXPECT_EQ(std::vector<float>(info.bias_f32, info.bias_f32 + N), std::vector<float>(N, 0.0f));
  EXPECT_EQ(info.weight_zero_points, nullptr);
  qgemm_weight_only_linear_destroy(wl);
  EXPECT_EQ(qgemm_weight_only_linear_create_quantized(wq.data(), nullptr, N, K, nullptr, &wl), 1);
}

}  // namespace
