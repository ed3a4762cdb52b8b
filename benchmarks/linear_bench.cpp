// Benchmarks of the layers (issue 7), single thread (run with OMP_NUM_THREADS=1 so that
// oneDNN uses one thread too; qgemm does not thread yet):
//   w8a32/<isa>/M x N x K       WeightOnlyLinear, float32 X (and w8a16f16 / w8a16bf16)
//   onednn_f32/M x N x K        oneDNN f32 matmul of the same shape, weights reordered once
//                               to the layout oneDNN prefers (its best case)
//   dyn/forward, dyn/gemm_f32, dyn/gemm_s32, dyn/quantize_x: DynamicLinear::forward, the bare
//                               GEMM on pre-quantized X with the f32 and the s32 output stage,
//                               and choosing parameters + quantizing X alone
//   onednn_u8s8s32/M x N x K    oneDNN's int8 matmul: what a vectorized GEMM costs here
// Counter "GB/s" for the M=1 rows: weight bytes read per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <unordered_map>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"

#if QGEMM_BENCH_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

std::vector<float> randn(size_t n, float sd, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (float& e : v) e = nd(rng);
  return v;
}

void BM_weight_only(benchmark::State& st, qgemm::Isa isa, qgemm::ActType type, int64_t M, int64_t N, int64_t K) {
  if (qgemm::set_quant_isa(isa) != qgemm::Status::ok) {
    st.SkipWithError("weight-only ISA not available");
    return;
  }
  std::vector<float> w = randn(N * K, 0.05f, 1), b = randn(N, 0.1f, 2), x = randn(M * K, 1.0f, 3), y(M * N);
  std::vector<uint16_t> xh(M * K);
  for (size_t i = 0; i < xh.size(); ++i)
    xh[i] = type == qgemm::ActType::bf16 ? qgemm::float_to_bf16(x[i]) : qgemm::float_to_f16(x[i]);
  const void* xp = type == qgemm::ActType::f32 ? static_cast<const void*>(x.data()) : xh.data();
  qgemm::WeightOnlyLinear layer;
  if (layer.init(w.data(), N, K, b.data()) != qgemm::Status::ok) {
    st.SkipWithError("init failed");
    return;
  }
  for (auto _ : st) {
    layer.forward(M, type, xp, K, y.data(), N);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetLabel(qgemm::weight_only_kernel_name());
  st.counters["GFLOPS"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(N * K), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
  qgemm::reset_quant_isa();
}

enum class DynPart { forward, gemm_f32, gemm_s32, quantize_x };

void BM_dynamic(benchmark::State& st, DynPart part, int64_t M, int64_t N, int64_t K) {
  std::vector<float> w = randn(N * K, 0.05f, 1), b = randn(N, 0.1f, 2), x = randn(M * K, 1.0f, 3), y(M * N);
  std::vector<int32_t> yi(M * N);
  std::vector<uint8_t> xq(M * K);
  qgemm::DynamicLinear layer;
  qgemm::DynamicLinearOptions opt;
  opt.per_channel = true;
  if (layer.init(w.data(), N, K, b.data(), opt) != qgemm::Status::ok) {
    st.SkipWithError("init failed");
    return;
  }
  qgemm::QParams p;
  layer.forward(M, x.data(), K, y.data(), N, &p);
  qgemm::quantize(x.data(), M * K, p, xq.data());
  const qgemm::OutputStage of = qgemm::output_f32(p.scale, layer.weight_scales().data(), true, b.data());
  for (auto _ : st) {
    switch (part) {
      case DynPart::forward: layer.forward(M, x.data(), K, y.data(), N); break;
      case DynPart::gemm_f32: qgemm::gemm(M, xq.data(), K, p.zero_point, layer.packed(), of, y.data(), N); break;
      case DynPart::gemm_s32:
        qgemm::gemm(M, xq.data(), K, p.zero_point, layer.packed(), qgemm::output_s32(), yi.data(), N);
        break;
      case DynPart::quantize_x: {
        float lo, hi;
        qgemm::min_max(x.data(), M * K, &lo, &hi);
        qgemm::choose_qparams_dynamic(lo, hi, true, &p);
        qgemm::quantize(x.data(), M * K, p, xq.data());
        break;
      }
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(yi.data());
    benchmark::DoNotOptimize(xq.data());
  }
  if (part == DynPart::quantize_x) {
    st.SetLabel(std::string("min_max+choose_qparams_dynamic+quantize, quant ISA ") + qgemm::isa_name(qgemm::quant_isa()));
    return;
  }
  st.SetLabel(qgemm::last_kernel_name());
  st.counters["GOPS"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}

#if QGEMM_BENCH_WITH_ONEDNN
// oneDNN matmul src[M][K] x wei[K][N] -> dst[M][N]; weights in the layout oneDNN picks,
// reordered once outside the timed loop.
void BM_onednn(benchmark::State& st, bool int8, int64_t M, int64_t N, int64_t K) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const dt src_t = int8 ? dt::u8 : dt::f32, wei_t = int8 ? dt::s8 : dt::f32, dst_t = int8 ? dt::s32 : dt::f32;
  memory::desc src_md({M, K}, src_t, tag::ab), wei_any({K, N}, wei_t, tag::any), dst_md({M, N}, dst_t, tag::ab);
  memory::desc wei_plain({K, N}, wei_t, tag::ab);
  matmul::primitive_desc pd;
  try {
    pd = matmul::primitive_desc(matmul::desc(src_md, wei_any, dst_md), eng);  // oneDNN 2.x API
  } catch (const dnnl::error& e) {
    st.SkipWithError(e.what());
    return;
  }
  memory src(src_md, eng), wplain(wei_plain, eng), wei(pd.weights_desc(), eng), dst(dst_md, eng);
  if (int8) {
    auto* a = static_cast<uint8_t*>(src.get_data_handle());
    auto* b = static_cast<int8_t*>(wplain.get_data_handle());
    for (int64_t i = 0; i < M * K; ++i) a[i] = static_cast<uint8_t>(i * 7 % 251);
    for (int64_t i = 0; i < K * N; ++i) b[i] = static_cast<int8_t>(i * 13 % 255 - 127);
  } else {
    std::vector<float> a = randn(M * K, 1.0f, 3), b = randn(K * N, 0.05f, 1);
    std::copy(a.begin(), a.end(), static_cast<float*>(src.get_data_handle()));
    std::copy(b.begin(), b.end(), static_cast<float*>(wplain.get_data_handle()));
  }
  reorder(wplain, wei).execute(s, wplain, wei);
  matmul prim(pd);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  for (auto _ : st) {
    prim.execute(s, args);
    s.wait();
  }
  const char* impl = nullptr;
  dnnl_primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &impl);
  st.SetLabel(impl ? impl : "");
  st.counters["GFLOPS"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(N * K) * (int8 ? 1 : 4),
                                           benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
#endif

std::string shape(int64_t M, int64_t N, int64_t K) {
  return std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
}

}  // namespace

int main(int argc, char** argv) {
  // Weight-only at M = 1 (and a small batch): BERT-base / GPT-2 sized layers.
  const int64_t wo_shapes[][3] = {{1, 768, 768}, {1, 3072, 768}, {1, 768, 3072}, {1, 4096, 4096}, {8, 3072, 768}};
  for (const auto& s : wo_shapes) {
    for (qgemm::Isa isa : {qgemm::Isa::avx2, qgemm::Isa::scalar})
      benchmark::RegisterBenchmark(("w8a32/" + std::string(qgemm::isa_name(isa)) + "/" + shape(s[0], s[1], s[2])).c_str(),
                                   BM_weight_only, isa, qgemm::ActType::f32, s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("w8a16f16/avx2/" + shape(s[0], s[1], s[2])).c_str(), BM_weight_only,
                                 qgemm::Isa::avx2, qgemm::ActType::f16, s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("w8a16bf16/avx2/" + shape(s[0], s[1], s[2])).c_str(), BM_weight_only,
                                 qgemm::Isa::avx2, qgemm::ActType::bf16, s[0], s[1], s[2]);
    // The zmm table (and, for bf16, the AVX512-BF16 kernels) only where this CPU runs them.
    if (qgemm::set_quant_isa(qgemm::Isa::avx512bw) == qgemm::Status::ok)
      for (qgemm::ActType t : {qgemm::ActType::f32, qgemm::ActType::f16, qgemm::ActType::bf16}) {
        const char* tn = t == qgemm::ActType::f32 ? "w8a32" : (t == qgemm::ActType::f16 ? "w8a16f16" : "w8a16bf16");
        benchmark::RegisterBenchmark((std::string(tn) + "/avx512bw/" + shape(s[0], s[1], s[2])).c_str(), BM_weight_only,
                                     qgemm::Isa::avx512bw, t, s[0], s[1], s[2]);
      }
    qgemm::reset_quant_isa();
#if QGEMM_BENCH_WITH_ONEDNN
    benchmark::RegisterBenchmark(("onednn_f32/" + shape(s[0], s[1], s[2])).c_str(), BM_onednn, false, s[0], s[1], s[2]);
#endif
  }
  // Dynamic linear overhead, M >= 8, K >= 768.
  const int64_t dyn_shapes[][3] = {{8, 768, 768}, {32, 768, 768}, {128, 768, 768}, {32, 768, 3072}};
  for (const auto& s : dyn_shapes) {
    const std::string sh = shape(s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("dyn/forward/" + sh).c_str(), BM_dynamic, DynPart::forward, s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("dyn/gemm_f32/" + sh).c_str(), BM_dynamic, DynPart::gemm_f32, s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("dyn/gemm_s32/" + sh).c_str(), BM_dynamic, DynPart::gemm_s32, s[0], s[1], s[2]);
    benchmark::RegisterBenchmark(("dyn/quantize_x/" + sh).c_str(), BM_dynamic, DynPart::quantize_x, s[0], s[1], s[2]);
#if QGEMM_BENCH_WITH_ONEDNN
    benchmark::RegisterBenchmark(("onednn_u8s8s32/" + sh).c_str(), BM_onednn, true, s[0], s[1], s[2]);
#endif
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
