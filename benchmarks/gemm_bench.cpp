// Placeholder benchmark (the full suite with oneDNN comes with issue 3): qgemm GOPS per ISA
// on a few shapes, s32 output.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "qgemm/qgemm.hpp"

static void BM_gemm(benchmark::State& st, qgemm::Isa isa, int64_t M, int64_t N, int64_t K) {
  if (qgemm::set_isa(isa) != qgemm::Status::ok) {
    st.SkipWithError("ISA not available");
    return;
  }
  std::vector<uint8_t> a(M * K, 3);
  std::vector<int8_t> b(K * N, -2);
  std::vector<int32_t> c(M * N);
  qgemm::PackedWeights* w = nullptr;
  qgemm::pack_weights(b.data(), qgemm::WeightLayout::nk, K, N, K, nullptr, false, &w);
  for (auto _ : st) {
    qgemm::gemm(M, a.data(), K, 1, w, qgemm::output_s32(), c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GOPS"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
  qgemm::destroy_packed_weights(w);
  qgemm::reset_isa();
}

int main(int argc, char** argv) {
  const int64_t shapes[][3] = {{1, 768, 768}, {32, 768, 768}, {128, 768, 768}};
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (!qgemm::isa_available(isa)) continue;
    for (const auto& s : shapes)
      benchmark::RegisterBenchmark(("gemm/qgemm-" + std::string(qgemm::isa_name(isa)) + "/s32/" +
                                    std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]))
                                       .c_str(),
                                   BM_gemm, isa, s[0], s[1], s[2]);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
