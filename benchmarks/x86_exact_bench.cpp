// Issue 5 benchmark: qgemm's exact AVX2 kernel against oneDNN (run it with
// ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1), single thread, s32 output, on
//   exact: activations in [128, 255] and weights in {-128, 127}, so every K block of qgemm takes
//          the widening (exact) loop and oneDNN's vpmaddubsw saturates;
//   safe:  activations in [0, 127], where qgemm may use vpmaddubsw.
// Counters: GOPS (2*M*N*K per second) and pct_peak (of 237 GOPS, the AVX2 vpmaddubsw+vpmaddwd
// peak of one core of the development machine, AMD EPYC Zen 3, 2 vector multiplies per cycle).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "qgemm/qgemm.hpp"
#ifdef QGEMM_BENCH_WITH_ONEDNN
#include <dnnl.hpp>
#endif

namespace {

constexpr double kPeakGops = 237.0;

struct Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> b;  // [K][N]
};

Data make_data(int64_t M, int64_t N, int64_t K, bool safe) {
  std::mt19937 rng(42);
  Data d;
  d.a.resize(static_cast<size_t>(M * K));
  d.b.resize(static_cast<size_t>(K * N));
  std::uniform_int_distribution<int> lo(0, 127), hi(128, 255), bit(0, 1);
  for (auto& v : d.a) v = static_cast<uint8_t>(safe ? lo(rng) : hi(rng));
  for (auto& v : d.b) v = static_cast<int8_t>(bit(rng) ? 127 : -128);
  return d;
}

void set_counters(benchmark::State& st, int64_t M, int64_t N, int64_t K) {
  const double ops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  st.counters["GOPS"] = benchmark::Counter(ops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["pct_peak"] =
      benchmark::Counter(ops / 1e9 * 100.0 / kPeakGops, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_qgemm(benchmark::State& st, int64_t M, int64_t N, int64_t K, bool safe) {
  if (qgemm::set_isa(qgemm::Isa::avx2) != qgemm::Status::ok) {
    st.SkipWithError("AVX2 not available");
    return;
  }
  const Data d = make_data(M, N, K, safe);
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  qgemm::PackedWeights* w = nullptr;
  qgemm::pack_weights(d.b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w);
  for (auto _ : st) {
    if (qgemm::gemm(M, d.a.data(), K, 0, w, qgemm::output_s32(), c.data(), N) != qgemm::Status::ok) {
      st.SkipWithError(qgemm::last_error_message());
      break;
    }
    benchmark::ClobberMemory();
  }
  set_counters(st, M, N, K);
  st.SetLabel(qgemm::last_kernel_name());
  qgemm::destroy_packed_weights(w);
  qgemm::reset_isa();
}

#ifdef QGEMM_BENCH_WITH_ONEDNN
// oneDNN matmul u8 x s8 -> s32, weights reordered to the implementation's format once (outside
// the timing, like qgemm's packing).
void BM_onednn(benchmark::State& st, int64_t M, int64_t N, int64_t K, bool safe) {
  using dnnl::memory;
  const Data d = make_data(M, N, K, safe);
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  memory::desc a_md({M, K}, memory::data_type::u8, memory::format_tag::ab);
  memory::desc b_any({K, N}, memory::data_type::s8, memory::format_tag::any);
  memory::desc b_md({K, N}, memory::data_type::s8, memory::format_tag::ab);
  memory::desc c_md({M, N}, memory::data_type::s32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), eng);
  memory b_user(b_md, eng, const_cast<int8_t*>(d.b.data()));
  memory b_packed(pd.weights_desc(), eng);
  dnnl::reorder(b_user, b_packed).execute(s, b_user, b_packed);
  memory am(a_md, eng, const_cast<uint8_t*>(d.a.data())), cm(c_md, eng, c.data());
  dnnl::matmul prim(pd);
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, b_packed}, {DNNL_ARG_DST, cm}});
    s.wait();
    benchmark::ClobberMemory();
  }
  set_counters(st, M, N, K);
  st.SetLabel(pd.impl_info_str());
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const int64_t ms[] = {1, 8, 32, 128, 512};
  const int64_t nks[][2] = {{768, 768}, {3072, 768}, {4096, 4096}};
  for (const auto& nk : nks)
    for (int64_t M : ms)
      for (bool safe : {false, true}) {
        const std::string shape = std::to_string(M) + "x" + std::to_string(nk[0]) + "x" + std::to_string(nk[1]);
        const std::string data = safe ? "safe" : "exact";
        benchmark::RegisterBenchmark(("x86exact/qgemm-avx2/" + data + "/" + shape).c_str(), BM_qgemm, M, nk[0],
                                     nk[1], safe);
#ifdef QGEMM_BENCH_WITH_ONEDNN
        benchmark::RegisterBenchmark(("x86exact/onednn/" + data + "/" + shape).c_str(), BM_onednn, M, nk[0],
                                     nk[1], safe);
#endif
      }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
