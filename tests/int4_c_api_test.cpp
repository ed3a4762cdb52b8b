// The C API of the int4 layer (qgemm_int4_linear_* in quantize.h) gives the C++ Int4Linear's
// results bit for bit and its statuses, and writes nothing on error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/quantize.h"
#include "qgemm/quantize.hpp"

namespace {

using qgemm::ActType;
using qgemm::Int4Linear;
using qgemm::Int4LinearOptions;
using qgemm::Status;

constexpr qgemm_status kOk = 0, kNull = 1, kNegDim = 2, kBadLd = 3, kBadZp = 4, kBadParams = 7, kBadArg = 10;

// Owns a C handle.
struct Handle {
  qgemm_int4_linear* h = nullptr;
  ~Handle() { qgemm_int4_linear_destroy(h); }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> random_floats(size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

qgemm_int4_linear_options c_options(const Int4LinearOptions& o) {
  return qgemm_int4_linear_options{o.group_size, o.symmetric, o.weight_only, o.act_per_group};
}

TEST(Int4CApi, DefaultOptions) {
  const qgemm_int4_linear_options d = qgemm_int4_linear_default_options();
  const qgemm_int4_linear_options m = QGEMM_INT4_LINEAR_OPTIONS_DEFAULT;
  const Int4LinearOptions cpp;
  for (const auto& o : {d, m}) {
    EXPECT_EQ(o.group_size, 128);
    EXPECT_EQ(o.symmetric, 1);
    EXPECT_EQ(o.weight_only, 0);
    EXPECT_EQ(o.act_per_group, 1);
    EXPECT_EQ(o.group_size, cpp.group_size);
    EXPECT_EQ(o.symmetric != 0, cpp.symmetric);
    EXPECT_EQ(o.weight_only != 0, cpp.weight_only);
    EXPECT_EQ(o.act_per_group != 0, cpp.act_per_group);
  }
}

// Every option combination, from float weights and from the exported quantized ones, with every
// activation type and two thread counts: the same bits as the C++ layer.
TEST(Int4CApi, SameBitsAsCpp) {
  std::mt19937 rng(28);
  const int64_t M = 5, N = 37, K = 256;
  std::vector<float> w = random_floats(N * K, -0.5f, 0.5f, rng), bias = random_floats(N, -1.0f, 1.0f, rng);
  const std::vector<float> x = random_floats(M * K, -3.0f, 3.0f, rng);
  std::vector<uint16_t> xb(x.size()), xh(x.size());
  for (size_t i = 0; i < x.size(); ++i) xb[i] = qgemm::float_to_bf16(x[i]);
  for (size_t i = 0; i < x.size(); ++i) {
    // float16 bit patterns of modest values: sign, exponent and 10 mantissa bits, truncated.
    uint32_t b;
    std::memcpy(&b, &x[i], 4);
    const uint32_t sign = (b >> 16) & 0x8000u, e = (b >> 23) & 0xFF, mant = (b >> 13) & 0x3FF;
    xh[i] = static_cast<uint16_t>(e < 113 ? sign : sign | ((e - 112) << 10) | mant);
  }
  int combos = 0;
  for (int32_t g : {0, 32, 64, 128, 256})
    for (bool sym : {true, false})
      for (bool wo : {false, true})
        for (bool apg : {true, false}) {
          if (wo && !apg) continue;  // act_per_group does not apply to weight-only
          const Int4LinearOptions opt{g, sym, wo, apg};
          const qgemm_int4_linear_options copt = c_options(opt);
          const float* b = (combos % 2) ? bias.data() : nullptr;
          Int4Linear cpp;
          ASSERT_EQ(cpp.init(w.data(), N, K, b, opt), Status::ok);
          Handle h;
          ASSERT_EQ(qgemm_int4_linear_create(w.data(), N, K, b, &copt, &h.h), kOk);
          ASSERT_NE(h.h, nullptr);

          // export equals the C++ export; create_quantized from it gives the same layer.
          const int64_t ng = cpp.groups();
          std::vector<int8_t> q(N * K), q2(N * K), z(N * ng, -1), z2(N * ng, -1);
          std::vector<float> s(N * ng), s2(N * ng);
          ASSERT_EQ(cpp.export_quantized(q.data(), s.data(), z.data()), Status::ok);
          ASSERT_EQ(qgemm_int4_linear_export(h.h, q2.data(), s2.data(), z2.data()), kOk);
          EXPECT_EQ(q, q2);
          EXPECT_TRUE(same_bits(s, s2));
          EXPECT_EQ(z, z2);  // symmetric: not written, both stay -1
          Handle hq;
          ASSERT_EQ(qgemm_int4_linear_create_quantized(q.data(), s.data(), sym ? nullptr : z.data(), N, K, b, &copt,
                                                       &hq.h),
                    kOk);

          qgemm_int4_layer_info info;
          ASSERT_EQ(qgemm_int4_linear_info(hq.h, &info), kOk);
          EXPECT_EQ(info.out_features, N);
          EXPECT_EQ(info.in_features, K);
          EXPECT_EQ(info.group_size, g == 0 ? K : g);
          EXPECT_EQ(info.groups, ng);
          EXPECT_EQ(info.options.group_size, g);
          EXPECT_EQ(info.options.symmetric, sym ? 1 : 0);
          EXPECT_EQ(info.options.weight_only, wo ? 1 : 0);
          EXPECT_EQ(info.options.act_per_group, apg ? 1 : 0);
          EXPECT_EQ(info.packed_bytes, cpp.packed_bytes());
          if (b) {
            ASSERT_NE(info.bias, nullptr);
            EXPECT_EQ(std::memcmp(info.bias, b, N * sizeof(float)), 0);
          } else {
            EXPECT_EQ(info.bias, nullptr);
          }

          for (int32_t t : {QGEMM_ACT_F32, QGEMM_ACT_BF16, QGEMM_ACT_F16}) {
            const void* xp = t == QGEMM_ACT_F32 ? static_cast<const void*>(x.data())
                                                : static_cast<const void*>(t == QGEMM_ACT_BF16 ? xb.data() : xh.data());
            std::vector<float> ycpp(M * N), yc(M * N, -7.0f), yq(M * N, -7.0f), y2(M * N, -7.0f);
            ASSERT_EQ(cpp.forward(M, static_cast<ActType>(t), xp, K, ycpp.data(), N), Status::ok);
            ASSERT_EQ(qgemm_int4_linear_forward(h.h, M, t, xp, K, yc.data(), N), kOk);
            const std::string kernel = qgemm_int4_kernel_name();
            EXPECT_EQ(kernel, qgemm::int4_kernel_name());
            EXPECT_NE(kernel.find(wo ? "w4a32_" : "w4a8_"), std::string::npos) << kernel;
            ASSERT_EQ(qgemm_int4_linear_forward(hq.h, M, t, xp, K, yq.data(), N), kOk);
            qgemm_gemm_options go;
            qgemm_gemm_options_init(&go);
            go.num_threads = 2;
            ASSERT_EQ(qgemm_int4_linear_forward_ex(h.h, M, t, xp, K, y2.data(), N, &go), kOk);
            EXPECT_TRUE(same_bits(ycpp, yc)) << "g " << g << " sym " << sym << " wo " << wo << " act " << t;
            EXPECT_TRUE(same_bits(ycpp, yq)) << "from quantized, g " << g;
            EXPECT_TRUE(same_bits(ycpp, y2)) << "two threads, g " << g;
          }
          ++combos;
        }
  EXPECT_EQ(combos, 30);
}

TEST(Int4CApi, NullOptionsAreTheDefaults) {
  std::mt19937 rng(7);
  const int64_t N = 20, K = 256;
  const std::vector<float> w = random_floats(N * K, -1.0f, 1.0f, rng), x = random_floats(2 * K, -1.0f, 1.0f, rng);
  Handle h;
  ASSERT_EQ(qgemm_int4_linear_create(w.data(), N, K, nullptr, nullptr, &h.h), kOk);
  qgemm_int4_layer_info info;
  ASSERT_EQ(qgemm_int4_linear_info(h.h, &info), kOk);
  EXPECT_EQ(info.options.group_size, 128);
  EXPECT_EQ(info.groups, 2);
  Int4Linear cpp;
  ASSERT_EQ(cpp.init(w.data(), N, K, nullptr), Status::ok);
  std::vector<float> y(2 * N), yc(2 * N);
  ASSERT_EQ(cpp.forward(2, ActType::f32, x.data(), K, y.data(), N), Status::ok);
  ASSERT_EQ(qgemm_int4_linear_forward_ex(h.h, 2, QGEMM_ACT_F32, x.data(), K, yc.data(), N, nullptr), kOk);
  EXPECT_TRUE(same_bits(y, yc));
  // Padded rows: ldx > in, ldy > out.
  std::vector<float> xp(2 * (K + 3)), yp(2 * (N + 5), -3.0f);
  for (int i = 0; i < 2; ++i) std::memcpy(&xp[i * (K + 3)], &x[i * K], K * sizeof(float));
  ASSERT_EQ(qgemm_int4_linear_forward(h.h, 2, QGEMM_ACT_F32, xp.data(), K + 3, yp.data(), N + 5), kOk);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(std::memcmp(&yp[i * (N + 5)], &y[i * N], N * sizeof(float)), 0);
    for (int j = N; j < N + 5; ++j) EXPECT_EQ(yp[i * (N + 5) + j], -3.0f);
  }
}

// Each refusal: the status of the C++ API, a message, and no output written (handles stay as
// they were, y, q and scales keep their sentinels).
TEST(Int4CApi, BadInputsGiveTheStatusAndWriteNothing) {
  const int64_t N = 4, K = 64;
  std::vector<float> w(N * 128, 0.25f), s(N * 2, 0.1f);  // room for the in_features = 96 case
  std::vector<int8_t> q(N * K, 3), z(N * 2, 8);
  qgemm_int4_linear* const sentinel = reinterpret_cast<qgemm_int4_linear*>(uintptr_t{0x1234});
  auto create = [&](const float* wp, int64_t n, int64_t k, const float* b, qgemm_int4_linear_options o) {
    qgemm_int4_linear* h = sentinel;
    const qgemm_status st = qgemm_int4_linear_create(wp, n, k, b, &o, &h);
    EXPECT_EQ(h, sentinel);
    return st;
  };
  auto create_q = [&](const int8_t* qp, const float* sp, const int8_t* zp, int64_t n, int64_t k,
                      qgemm_int4_linear_options o) {
    qgemm_int4_linear* h = sentinel;
    const qgemm_status st = qgemm_int4_linear_create_quantized(qp, sp, zp, n, k, nullptr, &o, &h);
    EXPECT_EQ(h, sentinel);
    return st;
  };
  const qgemm_int4_linear_options g32 = {32, 1, 0, 1}, asym32 = {32, 0, 0, 1};
  EXPECT_EQ(create(w.data(), N, K, nullptr, {48, 1, 0, 1}), kBadArg);
  EXPECT_NE(std::string(qgemm_last_error_message()).find("group_size"), std::string::npos);
  EXPECT_EQ(create(w.data(), N, 96, nullptr, {64, 1, 0, 1}), kBadArg);  // 64 does not divide 96
  EXPECT_EQ(create(w.data(), 0, K, nullptr, g32), kNegDim);
  EXPECT_EQ(create(nullptr, N, K, nullptr, g32), kNull);
  std::vector<float> wbad = w;
  wbad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(create(wbad.data(), N, K, nullptr, g32), kBadArg);
  std::vector<float> bbad(N, 0.0f);
  bbad[2] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(create(w.data(), N, K, bbad.data(), g32), kBadArg);
  EXPECT_EQ(qgemm_int4_linear_create(w.data(), N, K, nullptr, &g32, nullptr), kNull);

  std::vector<int8_t> qbad = q;
  qbad[7] = 8;  // symmetric: [-8, 7]
  EXPECT_EQ(create_q(qbad.data(), s.data(), nullptr, N, K, g32), kBadArg);
  EXPECT_NE(std::string(qgemm_last_error_message()).find("outside [-8, 7]"), std::string::npos);
  qbad[7] = -1;  // asymmetric: [0, 15]
  EXPECT_EQ(create_q(qbad.data(), s.data(), z.data(), N, K, asym32), kBadArg);
  std::vector<float> sbad = s;
  sbad[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(create_q(q.data(), sbad.data(), nullptr, N, K, g32), kBadParams);
  std::vector<int8_t> zbad = z;
  zbad[1] = 16;
  EXPECT_EQ(create_q(q.data(), s.data(), zbad.data(), N, K, asym32), kBadZp);
  EXPECT_EQ(create_q(q.data(), s.data(), nullptr, N, K, asym32), kNull);  // asymmetric needs zero points
  EXPECT_EQ(create_q(nullptr, s.data(), nullptr, N, K, g32), kNull);
  EXPECT_EQ(create_q(q.data(), nullptr, nullptr, N, K, g32), kNull);

  Handle h;
  ASSERT_EQ(qgemm_int4_linear_create(w.data(), N, K, nullptr, &g32, &h.h), kOk);
  const std::vector<float> x(2 * K, 1.0f);
  std::vector<float> y(2 * N, -5.0f);
  const std::vector<float> y0 = y;
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, 2, QGEMM_ACT_F32, x.data(), K - 1, y.data(), N), kBadLd);
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, 2, QGEMM_ACT_F32, x.data(), K, y.data(), N - 1), kBadLd);
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, -1, QGEMM_ACT_F32, x.data(), K, y.data(), N), kNegDim);
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, 2, 3, x.data(), K, y.data(), N), kBadArg);  // unknown act type
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, 2, QGEMM_ACT_F32, nullptr, K, y.data(), N), kNull);
  EXPECT_EQ(qgemm_int4_linear_forward(nullptr, 2, QGEMM_ACT_F32, x.data(), K, y.data(), N), kNull);
  qgemm_gemm_options go;
  qgemm_gemm_options_init(&go);
  go.num_threads = -1;
  EXPECT_EQ(qgemm_int4_linear_forward_ex(h.h, 2, QGEMM_ACT_F32, x.data(), K, y.data(), N, &go), kBadArg);
  EXPECT_EQ(qgemm_int4_linear_forward_ex(nullptr, 2, QGEMM_ACT_F32, x.data(), K, y.data(), N, nullptr), kNull);
  EXPECT_EQ(y, y0);
  EXPECT_EQ(qgemm_int4_linear_forward(h.h, 0, QGEMM_ACT_F32, nullptr, K, nullptr, N), kOk);  // empty call

  std::vector<int8_t> qo(N * K, 99);
  std::vector<float> so(N * 2, -9.0f);
  EXPECT_EQ(qgemm_int4_linear_export(h.h, nullptr, so.data(), nullptr), kNull);
  EXPECT_EQ(qgemm_int4_linear_export(h.h, qo.data(), nullptr, nullptr), kNull);
  EXPECT_EQ(qgemm_int4_linear_export(nullptr, qo.data(), so.data(), nullptr), kNull);
  EXPECT_EQ(qo, std::vector<int8_t>(N * K, 99));
  EXPECT_EQ(so, std::vector<float>(N * 2, -9.0f));
  qgemm_int4_layer_info info;
  EXPECT_EQ(qgemm_int4_linear_info(h.h, nullptr), kNull);
  EXPECT_EQ(qgemm_int4_linear_info(nullptr, &info), kNull);
  qgemm_int4_linear_destroy(nullptr);  // allowed, as free(NULL)
}

}  // namespace
