// Example: a two-layer MLP (in -> hidden -> ReLU -> out) built from float weights and run three
// ways: float32 reference, dynamic int8 (qgemm::DynamicLinear) and weight-only int8
// (qgemm::WeightOnlyLinear). Prints each one's error against float and its time per forward.
// Exits non-zero if a layer fails or an error is far above what int8 rounding explains.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "qgemm/linear.hpp"

namespace {

// y[M][N] = x[M][K] * w[N][K]^T + b, float32, plain loops (the reference).
void linear_f32(int M, int N, int K, const float* x, const float* w, const float* b, float* y) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = b[j];
      for (int k = 0; k < K; ++k) s += x[i * K + k] * w[j * K + k];
      y[i * N + j] = s;
    }
}

void relu(std::vector<float>& v) {
  for (float& e : v) e = std::max(e, 0.0f);
}

double median_ms(const std::function<void()>& f, int reps) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

#define CHECK(call)                                                                          \
  do {                                                                                       \
    const qgemm::Status s_ = (call);                                                         \
    if (s_ != qgemm::Status::ok) {                                                           \
      std::fprintf(stderr, "%s failed: %s (%s)\n", #call, qgemm::status_name(s_), qgemm::last_error_message()); \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace

int main() {
  const int M = 16, IN = 256, HID = 512, OUT = 64;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(M * IN), w1(HID * IN), b1(HID), w2(OUT * HID), b2(OUT);
  for (float& v : x) v = nd(rng);
  for (float& v : w1) v = nd(rng) / std::sqrt(float(IN));
  for (float& v : w2) v = nd(rng) / std::sqrt(float(HID));
  for (float& v : b1) v = 0.1f * nd(rng);
  for (float& v : b2) v = 0.1f * nd(rng);

  std::vector<float> h(M * HID), y_ref(M * OUT), y_dyn(M * OUT), y_wo(M * OUT);

  // Float reference.
  auto run_float = [&] {
    linear_f32(M, HID, IN, x.data(), w1.data(), b1.data(), h.data());
    relu(h);
    linear_f32(M, OUT, HID, h.data(), w2.data(), b2.data(), y_ref.data());
  };

  // Dynamic int8: weights per-channel symmetric s8, X quantized to u8 on every call.
  qgemm::DynamicLinear d1, d2;
  qgemm::DynamicLinearOptions opt;
  opt.per_channel = true;
  CHECK(d1.init(w1.data(), HID, IN, b1.data(), opt));
  CHECK(d2.init(w2.data(), OUT, HID, b2.data(), opt));
  auto run_dynamic = [&] {
    CHECK(d1.forward(M, x.data(), IN, h.data(), HID));
    relu(h);
    CHECK(d2.forward(M, h.data(), HID, y_dyn.data(), OUT));
  };

  // Weight-only int8 (W8A32).
  qgemm::WeightOnlyLinear q1, q2;
  CHECK(q1.init(w1.data(), HID, IN, b1.data()));
  CHECK(q2.init(w2.data(), OUT, HID, b2.data()));
  auto run_weight_only = [&] {
    CHECK(q1.forward(M, qgemm::ActType::f32, x.data(), IN, h.data(), HID));
    relu(h);
    CHECK(q2.forward(M, qgemm::ActType::f32, h.data(), HID, y_wo.data(), OUT));
  };

  const double t_f = median_ms(run_float, 9), t_d = median_ms(run_dynamic, 9), t_w = median_ms(run_weight_only, 9);
  double ref_rms = 0;
  for (float v : y_ref) ref_rms += double(v) * v;
  ref_rms = std::sqrt(ref_rms / y_ref.size());
  double e_d = 0, e_w = 0, m_d = 0, m_w = 0;
  CHECK(qgemm::max_abs_error(y_ref.data(), y_dyn.data(), M * OUT, &e_d));
  CHECK(qgemm::max_abs_error(y_ref.data(), y_wo.data(), M * OUT, &e_w));
  CHECK(qgemm::mean_squared_error(y_ref.data(), y_dyn.data(), M * OUT, &m_d));
  CHECK(qgemm::mean_squared_error(y_ref.data(), y_wo.data(), M * OUT, &m_w));

  std::printf("MLP %d -> %d -> ReLU -> %d, batch M = %d (output rms %.4f)\n", IN, HID, OUT, M, ref_rms);
  std::printf("  %-22s %10s %12s %10s\n", "path", "max|err|", "rms err", "ms/fwd");
  std::printf("  %-22s %10.2e %12.2e %10.3f\n", "float32 (plain loops)", 0.0, 0.0, t_f);
  std::printf("  %-22s %10.2e %12.2e %10.3f   gemm kernel %s\n", "dynamic int8", e_d, std::sqrt(m_d), t_d,
              qgemm::last_kernel_name());
  std::printf("  %-22s %10.2e %12.2e %10.3f   kernel %s\n", "weight-only int8", e_w, std::sqrt(m_w), t_w,
              qgemm::weight_only_kernel_name());
  // Sanity, not a tolerance proof (tests/linear_test.cpp has the derived bounds): 8-bit
  // quantization keeps the relative rms error of this network around 1e-2.
  if (!(std::sqrt(m_d) < 0.1 * ref_rms) || !(std::sqrt(m_w) < 0.05 * ref_rms)) {
    std::fprintf(stderr, "error larger than 8-bit quantization explains\n");
    return 1;
  }
  return 0;
}
