// qgemm_bench: qgemm on every ISA this CPU can run against oneDNN's int8 matmul, in GOPS and
// percent of the measured multiply-accumulate peak, plus weight-packing throughput.
//
// Names are stable so that runs from different CPUs can be compared (scripts/bench --compare):
//   gemm/<impl>/<out>/<M>x<N>x<K>/threads:<T>
//     impl: qgemm-<isa> (forced with qgemm::set_isa), onednn (zero points and scales given at
//           primitive creation), onednn-rt (given at execution: DNNL_RUNTIME_S32_VAL /
//           DNNL_RUNTIME_F32_VAL, as dynamic quantization needs)
//     out:  s32; u8 (qgemm: TFLite fixed point; oneDNN: its float output scale + dst zero
//           point, the closest it has); f32 (dequantized, per-column scales)
//   pack/<impl>/<layout>/<N>x<K>/threads:1: packing B (qgemm) or reordering it (oneDNN), bytes/s.
// Counters: GOPS (2*M*N*K per second), pct_peak (percent of the probed peak of that ISA; oneDNN
// against the best ISA the CPU has), and for M <= 8 weight_GBps / pct_read_bw (bytes of B per
// second against the probed single-core read bandwidth).
//
// Own flags (before the Google Benchmark flags):
//   --set=quick|full|square|infer   which shapes (default quick)
//   --scalar-max-gop=<x>            run qgemm-scalar only where 2*M*N*K <= x * 1e9
//                                   (default 0.3 for quick, 5 for the others: scalar is slow)
//   --real-time                     rates from wall-clock time (Google Benchmark then appends
//                                   "/real_time" to the names; the report strips it). The
//                                   default is the thread's CPU time: with one thread it is the
//                                   time on the core, and robust on a shared machine.
// Only single-threaded runs exist for now (threads:1); oneDNN is held to one OpenMP thread.
#include <benchmark/benchmark.h>

#ifdef QGEMM_BENCH_WITH_ONEDNN  // CMake: QGEMM_WITH_ONEDNN=ON (the default)
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define QB_X86 1
#endif

#include "qgemm/qgemm.hpp"

namespace {

// ----------------------------------------------------------------------------------------
// Probes. Each runs independent chains (throughput, not latency) for a fixed number of
// iterations, several times, and keeps the best. An empty asm statement makes the input
// register opaque every iteration so the compiler cannot hoist the multiplies out of the loop.

// Thread CPU time: other processes on a shared machine do not inflate it.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class F>
double best_seconds(F&& f, int reps = 7) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = thread_seconds();
    f();
    best = std::min(best, thread_seconds() - t0);
  }
  return best;
}

volatile int64_t g_sink;

// Scalar: 4 independent int32 multiply-adds per iteration, 2 ops per MAC. Each multiplicand
// is made opaque separately, so nothing can be shared between the chains.
__attribute__((noinline, optimize("no-tree-vectorize"))) void loop_scalar(int64_t iters) {
  int32_t a0 = 3, a1 = 5, a2 = 7, a3 = 9, b = 11;
  int32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile("" : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(b));
    c0 += a0 * b;
    c1 += a1 * b;
    c2 += a2 * b;
    c3 += a3 * b;
  }
  g_sink = c0 + c1 + c2 + c3;
}
double probe_scalar_gops() {
  const int64_t iters = 50'000'000;
  const double s = best_seconds([&] { loop_scalar(iters); });
  return 4.0 * 2.0 * static_cast<double>(iters) / s / 1e9;
}

#ifdef QB_X86
// AVX2: vpmaddubsw (32 u8 x s8 products + 16 pair adds, counted as 2*32 ops, as the usual
// 64 ops/cycle/core AVX2 figure does) + vpmaddwd by ones + vpaddd; 6 chains on 3 opaque
// activation registers x 2 weight registers, so no vpmaddubsw is shared between chains, and
// few enough registers that no accumulator is spilled (only vpaddd is loop-carried).
__attribute__((noinline, target("avx2"))) void loop_avx2(int64_t iters) {
  __m256i a0 = _mm256_set1_epi8(3), a1 = _mm256_set1_epi8(5), a2 = _mm256_set1_epi8(7);
  __m256i b0 = _mm256_set1_epi8(-2), b1 = _mm256_set1_epi8(3), one = _mm256_set1_epi16(1);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile("" : "+x"(a0), "+x"(a1), "+x"(a2));
#define QB_STEP(c, a, b) c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), one))
    QB_STEP(c0, a0, b0); QB_STEP(c1, a1, b0); QB_STEP(c2, a2, b0);
    QB_STEP(c3, a0, b1); QB_STEP(c4, a1, b1); QB_STEP(c5, a2, b1);
#undef QB_STEP
  }
  const __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                     _mm256_add_epi32(c4, c5));
  g_sink = _mm256_extract_epi32(t, 0);
}
double probe_avx2_gops() {
  const int64_t iters = 10'000'000;
  const double s = best_seconds([&] { loop_avx2(iters); });
  return 6.0 * 64.0 * static_cast<double>(iters) / s / 1e9;
}

// AVX-512BW: the same sequence on zmm (64 products per vpmaddubsw, 128 ops).
__attribute__((noinline, target("avx512f,avx512bw"))) void loop_avx512bw(int64_t iters) {
  __m512i a0 = _mm512_set1_epi8(3), a1 = _mm512_set1_epi8(5), a2 = _mm512_set1_epi8(7), a3 = _mm512_set1_epi8(9);
  const __m512i b0 = _mm512_set1_epi8(-2), b1 = _mm512_set1_epi8(3), one = _mm512_set1_epi16(1);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3));
#define QB_STEP(c, a, b) c = _mm512_add_epi32(c, _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), one))
    QB_STEP(c0, a0, b0); QB_STEP(c1, a1, b0); QB_STEP(c2, a2, b0); QB_STEP(c3, a3, b0);
    QB_STEP(c4, a0, b1); QB_STEP(c5, a1, b1); QB_STEP(c6, a2, b1); QB_STEP(c7, a3, b1);
#undef QB_STEP
  }
  g_sink = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3))) +
           _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
}
double probe_avx512bw_gops() {
  const int64_t iters = 10'000'000;
  const double s = best_seconds([&] { loop_avx512bw(iters); });
  return 8.0 * 128.0 * static_cast<double>(iters) / s / 1e9;
}

// AVX-VNNI: vpdpbusd ymm (32 MACs = 64 ops); AVX-512 VNNI: vpdpbusd zmm (64 MACs = 128 ops). 12
// independent accumulators (two per cycle x a latency up to 6), written in an asm statement:
// with intrinsics on equal accumulators and inputs GCC 12 merged all 12 chains into one (a
// latency-bound loop counted as 12: 1391 GOPS "peak" on Zen 5, whose real peak is about 935).
#define QB_DP12_ASM(mn)                                                                              \
  asm volatile(                                                                                      \
      mn " %[b], %[a], %[c0]\n\t" mn " %[b], %[a], %[c1]\n\t" mn " %[b], %[a], %[c2]\n\t"            \
      mn " %[b], %[a], %[c3]\n\t" mn " %[b], %[a], %[c4]\n\t" mn " %[b], %[a], %[c5]\n\t"            \
      mn " %[b], %[a], %[c6]\n\t" mn " %[b], %[a], %[c7]\n\t" mn " %[b], %[a], %[c8]\n\t"            \
      mn " %[b], %[a], %[c9]\n\t" mn " %[b], %[a], %[c10]\n\t" mn " %[b], %[a], %[c11]\n\t"          \
      : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),    \
        [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11) \
      : [a] "v"(a), [b] "v"(b))
__attribute__((noinline, target("avx2,avxvnni"))) void loop_avxvnni(int64_t iters) {
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
          c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) QB_DP12_ASM("%{vex%} vpdpbusd");
  const __m256i t = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                       _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7))),
      _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11)));
  g_sink = _mm256_extract_epi32(t, 0);
}
double probe_avxvnni_gops() {
  const int64_t iters = 10'000'000;
  const double s = best_seconds([&] { loop_avxvnni(iters); });
  return 12.0 * 64.0 * static_cast<double>(iters) / s / 1e9;
}

__attribute__((noinline, target("avx512f,avx512vnni"))) void loop_avx512vnni(int64_t iters) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
          c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) QB_DP12_ASM("vpdpbusd");
  const __m512i t = _mm512_add_epi32(
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                       _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7))),
      _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  g_sink = _mm512_reduce_add_epi32(t);
}
#undef QB_DP12_ASM
double probe_avx512vnni_gops() {
  const int64_t iters = 10'000'000;
  const double s = best_seconds([&] { loop_avx512vnni(iters); });
  return 12.0 * 128.0 * static_cast<double>(iters) / s / 1e9;
}
#endif

// Whether this CPU runs `isa` natively (an emulation build of qgemm may report more).
bool cpu_runs(qgemm::Isa isa) {
  switch (isa) {
    case qgemm::Isa::scalar: return true;
#ifdef QB_X86
    case qgemm::Isa::avx2: return __builtin_cpu_supports("avx2");
    case qgemm::Isa::avx512bw: return __builtin_cpu_supports("avx512bw");
    case qgemm::Isa::avxvnni: return __builtin_cpu_supports("avxvnni");
    case qgemm::Isa::avx512vnni: return __builtin_cpu_supports("avx512vnni");
#endif
    default: return false;  // no probe written for this architecture yet
  }
}

// Peak of one ISA in GOPS, 0 when not measured here.
double probe_peak(qgemm::Isa isa) {
  if (!cpu_runs(isa)) return 0.0;
  switch (isa) {
    case qgemm::Isa::scalar: return probe_scalar_gops();
#ifdef QB_X86
    case qgemm::Isa::avx2: return probe_avx2_gops();
    case qgemm::Isa::avx512bw: return probe_avx512bw_gops();
    case qgemm::Isa::avxvnni: return probe_avxvnni_gops();
    case qgemm::Isa::avx512vnni: return probe_avx512vnni_gops();
#endif
    default: return 0.0;
  }
}

// Single-core streaming read bandwidth (GB/s) over a buffer far larger than the caches.
double probe_read_bw_gbps() {
  const size_t bytes = size_t{256} << 20;
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  const double s = best_seconds([&] {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; i += 4) {
      s0 += buf[i];
      s1 += buf[i + 1];
      s2 += buf[i + 2];
      s3 += buf[i + 3];
    }
    g_sink = static_cast<int64_t>(s0 + s1 + s2 + s3);
  }, 4);
  return static_cast<double>(bytes) / s / 1e9;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// ----------------------------------------------------------------------------------------
// Data shared by all benchmarks: one A and one B buffer of the largest size, cheap LCG fill.

struct Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  std::vector<int32_t> mult, shift;
  std::vector<float> wscale;
};
Data g_data;

void ensure_data(int64_t M, int64_t N, int64_t K) {
  uint32_t x = 12345;
  auto next = [&] { return x = x * 1664525u + 1013904223u, static_cast<uint8_t>(x >> 24); };
  if (static_cast<int64_t>(g_data.a.size()) < M * K) {
    g_data.a.resize(static_cast<size_t>(M * K));
    for (auto& v : g_data.a) v = next();
  }
  if (static_cast<int64_t>(g_data.b.size()) < K * N) {
    g_data.b.resize(static_cast<size_t>(K * N));
    for (auto& v : g_data.b) v = static_cast<int8_t>(next());
  }
  if (static_cast<int64_t>(g_data.mult.size()) < N) {
    g_data.mult.resize(static_cast<size_t>(N));
    g_data.shift.resize(static_cast<size_t>(N));
    g_data.wscale.resize(static_cast<size_t>(N));
    for (int64_t j = 0; j < N; ++j) {
      const double real = (1.0 + (j % 7) * 0.1) * 1e-4;
      qgemm::quantize_multiplier(real, &g_data.mult[j], &g_data.shift[j]);
      g_data.wscale[j] = static_cast<float>(0.01 + (j % 5) * 0.001);
    }
  }
}

constexpr int32_t kZa = 3;       // activation zero point
constexpr int32_t kZo = 128;     // u8 output zero point
constexpr float kSa = 0.05f;     // activation scale
double g_peak[qgemm::kIsaCount];
double g_best_peak = 0.0;
double g_read_bw = 0.0;

enum class Out { s32, u8, f32 };
const char* out_name(Out o) { return o == Out::s32 ? "s32" : o == Out::u8 ? "u8" : "f32"; }

void set_counters(benchmark::State& st, int64_t M, int64_t N, int64_t K, double peak) {
  const double gop = 2.0 * M * N * K / 1e9;
  st.counters["GOPS"] = benchmark::Counter(gop, benchmark::Counter::kIsIterationInvariantRate);
  if (peak > 0)
    st.counters["pct_peak"] = benchmark::Counter(gop * 100.0 / peak, benchmark::Counter::kIsIterationInvariantRate);
  if (M <= 8) {
    const double gb = static_cast<double>(N * K) / 1e9;
    st.counters["weight_GBps"] = benchmark::Counter(gb, benchmark::Counter::kIsIterationInvariantRate);
    if (g_read_bw > 0)
      st.counters["pct_read_bw"] =
          benchmark::Counter(gb * 100.0 / g_read_bw, benchmark::Counter::kIsIterationInvariantRate);
  }
}

// ----------------------------------------------------------------------------------------
// qgemm

void bm_qgemm(benchmark::State& st, qgemm::Isa isa, Out out, int64_t M, int64_t N, int64_t K) {
  if (qgemm::set_isa(isa) != qgemm::Status::ok) {
    st.SkipWithError(qgemm::last_error_message());
    return;
  }
  ensure_data(M, N, K);
  qgemm::PackedWeights* w = nullptr;  // [N][K] weights (PyTorch layout), common zb = 0
  if (qgemm::pack_weights(g_data.b.data(), qgemm::WeightLayout::nk, K, N, K, nullptr, false, &w) !=
      qgemm::Status::ok) {
    st.SkipWithError(qgemm::last_error_message());
    qgemm::reset_isa();
    return;
  }
  qgemm::OutputStage o;
  size_t es = 4;
  switch (out) {
    case Out::s32: o = qgemm::output_s32(); break;
    case Out::u8:
      o = qgemm::output_fixed_point(qgemm::OutputType::u8, g_data.mult.data(), g_data.shift.data(), true, kZo);
      es = 1;
      break;
    case Out::f32: o = qgemm::output_f32(kSa, g_data.wscale.data(), true); break;
  }
  std::vector<uint8_t> c(static_cast<size_t>(M * N) * es);
  qgemm::Status s = qgemm::gemm(M, g_data.a.data(), K, kZa, w, o, c.data(), N);  // warm-up + check
  if (s != qgemm::Status::ok) {
    st.SkipWithError(qgemm::last_error_message());
  } else {
    for (auto _ : st) {
      s = qgemm::gemm(M, g_data.a.data(), K, kZa, w, o, c.data(), N);
      benchmark::DoNotOptimize(c.data());
      benchmark::ClobberMemory();
    }
    st.SetLabel(qgemm::last_kernel_name());
    set_counters(st, M, N, K, g_peak[static_cast<int>(isa)]);
  }
  qgemm::destroy_packed_weights(w);
  qgemm::reset_isa();
}

void bm_qgemm_pack(benchmark::State& st, qgemm::Isa isa, qgemm::WeightLayout layout, int64_t N, int64_t K) {
  if (qgemm::set_isa(isa) != qgemm::Status::ok) {
    st.SkipWithError(qgemm::last_error_message());
    return;
  }
  ensure_data(1, N, K);
  const int64_t ldb = layout == qgemm::WeightLayout::nk ? K : N;
  for (auto _ : st) {
    qgemm::PackedWeights* w = nullptr;
    if (qgemm::pack_weights(g_data.b.data(), layout, K, N, ldb, nullptr, false, &w) != qgemm::Status::ok) {
      st.SkipWithError(qgemm::last_error_message());
      break;
    }
    benchmark::DoNotOptimize(w);
    qgemm::destroy_packed_weights(w);
  }
  st.counters["GBps"] = benchmark::Counter(static_cast<double>(N * K) / 1e9,
                                           benchmark::Counter::kIsIterationInvariantRate);
  qgemm::reset_isa();
}

#ifdef QGEMM_BENCH_WITH_ONEDNN
// ----------------------------------------------------------------------------------------
// oneDNN

dnnl::engine& dnnl_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

void bm_onednn(benchmark::State& st, bool runtime, Out out, int64_t M, int64_t N, int64_t K) {
  using namespace dnnl;
  using dt = memory::data_type;
  ensure_data(M, N, K);
  engine& eng = dnnl_engine();
  stream strm(eng);
  try {
    memory::desc a_md({M, K}, dt::u8, memory::format_tag::ab);
    memory::desc b_src_md({K, N}, dt::s8, memory::format_tag::ba);  // the same [N][K] weights
    memory::desc b_any_md({K, N}, dt::s8, memory::format_tag::any);
    const dt cdt = out == Out::s32 ? dt::s32 : out == Out::u8 ? dt::u8 : dt::f32;
    memory::desc c_md({M, N}, cdt, memory::format_tag::ab);

    // oneDNN's scale for each column: u8: real multiplier as in qgemm's fixed point; f32: sa*sb[j].
    std::vector<float> scales(static_cast<size_t>(N));
    for (int64_t j = 0; j < N; ++j)
      scales[j] = out == Out::u8 ? static_cast<float>((1.0 + (j % 7) * 0.1) * 1e-4) : kSa * g_data.wscale[j];
    primitive_attr attr;
    if (runtime) {
      attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
      if (out != Out::s32) attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
      if (out == Out::u8) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    } else {
      attr.set_zero_points(DNNL_ARG_SRC, 0, {kZa});
      if (out != Out::s32) attr.set_output_scales(1 << 1, scales);
      if (out == Out::u8) attr.set_zero_points(DNNL_ARG_DST, 0, {kZo});
    }
    matmul::primitive_desc pd(matmul::desc(a_md, b_any_md, c_md), attr, eng);
    matmul prim(pd);
    memory b_src(b_src_md, eng, g_data.b.data());
    memory b_mem(pd.weights_desc(), eng);
    reorder(b_src, b_mem).execute(strm, b_src, b_mem);  // outside the timed loop
    memory a_mem(a_md, eng, g_data.a.data());
    memory c_mem(c_md, eng);
    int32_t za = kZa, zo = kZo;
    memory::desc zp_md({1}, dt::s32, memory::format_tag::a);
    memory::desc sc_md({N}, dt::f32, memory::format_tag::a);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
    if (runtime) {
      args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory(zp_md, eng, &za));
      if (out != Out::s32) args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, memory(sc_md, eng, scales.data()));
      if (out == Out::u8) args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, memory(zp_md, eng, &zo));
    }
    prim.execute(strm, args);  // warm-up
    strm.wait();
    for (auto _ : st) {
      prim.execute(strm, args);
      strm.wait();
    }
    st.SetLabel(pd.impl_info_str());
    set_counters(st, M, N, K, g_best_peak);
  } catch (const dnnl::error& e) {
    st.SkipWithError((std::string("oneDNN: ") + e.what()).c_str());
  }
}

void bm_onednn_reorder(benchmark::State& st, int64_t N, int64_t K) {
  using namespace dnnl;
  using dt = memory::data_type;
  ensure_data(1, N, K);
  engine& eng = dnnl_engine();
  stream strm(eng);
  try {
    // The weights format oneDNN picks for a batch-1 u8 x s8 matmul of this size.
    memory::desc a_md({1, K}, dt::u8, memory::format_tag::ab);
    memory::desc c_md({1, N}, dt::s32, memory::format_tag::ab);
    matmul::primitive_desc pd(
        matmul::desc(a_md, memory::desc({K, N}, dt::s8, memory::format_tag::any), c_md), eng);
    memory b_src(memory::desc({K, N}, dt::s8, memory::format_tag::ba), eng, g_data.b.data());
    memory b_mem(pd.weights_desc(), eng);
    reorder r(b_src, b_mem);
    for (auto _ : st) {
      r.execute(strm, b_src, b_mem);
      strm.wait();
    }
    st.counters["GBps"] = benchmark::Counter(static_cast<double>(N * K) / 1e9,
                                             benchmark::Counter::kIsIterationInvariantRate);
  } catch (const dnnl::error& e) {
    st.SkipWithError((std::string("oneDNN: ") + e.what()).c_str());
  }
}

#endif  // QGEMM_BENCH_WITH_ONEDNN

// ----------------------------------------------------------------------------------------
// Registration

struct Shape {
  int64_t M, N, K;
};
const int64_t kNK[][2] = {{768, 768}, {3072, 768}, {768, 3072}, {4096, 4096}, {11008, 4096}, {4096, 11008}};

std::vector<Shape> shapes_for(const std::string& set) {
  std::vector<Shape> v;
  if (set == "quick") {
    for (int64_t M : {1, 8, 32, 128}) v.push_back({M, 768, 768});
    for (int64_t M : {1, 8, 32, 128}) v.push_back({M, 3072, 768});
    for (int64_t M : {1, 8, 128}) v.push_back({M, 4096, 4096});  // the reference shapes of docs/cpus.md
    for (int64_t s : {256, 512}) v.push_back({s, s, s});
    return v;
  }
  if (set == "full" || set == "square")
    for (int64_t s : {256, 512, 1024, 2048}) v.push_back({s, s, s});
  if (set == "full" || set == "infer")
    for (const auto& nk : kNK)
      for (int64_t M : {1, 8, 32, 128, 512}) v.push_back({M, nk[0], nk[1]});
  return v;
}

std::string shape_name(const Shape& s) {
  return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K);
}

}  // namespace

int main(int argc, char** argv) {
  std::string set = "quick";
  double scalar_max_gop = -1;
  bool real_time = false;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--set=", 0) == 0) {
      set = a.substr(6);
    } else if (a.rfind("--scalar-max-gop=", 0) == 0) {
      scalar_max_gop = std::atof(a.c_str() + 17);
    } else if (a == "--real-time") {
      real_time = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (set != "quick" && set != "full" && set != "square" && set != "infer") {
    std::fprintf(stderr, "qgemm_bench: unknown --set=%s (quick, full, square, infer)\n", set.c_str());
    return 2;
  }
  if (scalar_max_gop < 0) scalar_max_gop = set == "quick" ? 0.3 : 5.0;
  int rest_argc = static_cast<int>(rest.size());
  bool listing = false;  // only listing the names: no probes (Initialize consumes the flag)
  for (int i = 1; i < rest_argc; ++i) {
    const std::string a = rest[i];
    listing |= a == "--benchmark_list_tests" || a == "--benchmark_list_tests=true";
  }
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;

#ifdef QGEMM_BENCH_WITH_ONEDNN
  omp_set_num_threads(1);  // oneDNN runs on OpenMP; threads:1 for every implementation
#endif

  // Probes, recorded in the JSON context.
  if (!listing) std::fprintf(stderr, "qgemm_bench: probing peaks and read bandwidth...\n");
  std::string isas;
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    g_peak[i] = listing ? 0.0 : probe_peak(isa);
    if (g_peak[i] > 0) {
      benchmark::AddCustomContext(std::string("peak_gops_") + qgemm::isa_name(isa), std::to_string(g_peak[i]));
      g_best_peak = std::max(g_best_peak, g_peak[i]);
      std::fprintf(stderr, "  peak %-10s %8.1f GOPS\n", qgemm::isa_name(isa), g_peak[i]);
    }
    if (qgemm::isa_available(isa)) isas += std::string(isas.empty() ? "" : ",") + qgemm::isa_name(isa);
  }
  g_read_bw = listing ? 0.0 : probe_read_bw_gbps();
  if (!listing) std::fprintf(stderr, "  single-core read bandwidth %.1f GB/s\n", g_read_bw);
  benchmark::AddCustomContext("read_bw_gbps", std::to_string(g_read_bw));
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("qgemm_isas", isas);
  benchmark::AddCustomContext("qgemm_best_isa", qgemm::isa_name(qgemm::active_isa()));
  benchmark::AddCustomContext("shape_set", set);
  benchmark::AddCustomContext("time", real_time ? "real" : "cpu");
#ifdef QGEMM_BENCH_WITH_ONEDNN
  const dnnl_version_t* dv = dnnl_version();
  benchmark::AddCustomContext("onednn_version", std::to_string(dv->major) + "." + std::to_string(dv->minor) +
                                                    "." + std::to_string(dv->patch));
#else
  benchmark::AddCustomContext("onednn_version", "not built (QGEMM_WITH_ONEDNN=OFF)");
#endif
  benchmark::AddCustomContext("onednn_peak_ref", "pct_peak of onednn/onednn-rt is against the best probed ISA");

  auto finish = [&](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMicrosecond);
    if (real_time) b->UseRealTime();
  };
  const std::string threads = "/threads:1";
  for (const Shape& s : shapes_for(set)) {
    const double gop = 2.0 * s.M * s.N * s.K / 1e9;
    for (Out out : {Out::s32, Out::u8, Out::f32}) {
      const std::string tail = std::string("/") + out_name(out) + "/" + shape_name(s) + threads;
      for (int i = 0; i < qgemm::kIsaCount; ++i) {
        const auto isa = static_cast<qgemm::Isa>(i);
        if (!qgemm::isa_available(isa)) continue;
        if (isa == qgemm::Isa::scalar && gop > scalar_max_gop) continue;
        finish(benchmark::RegisterBenchmark(("gemm/qgemm-" + std::string(qgemm::isa_name(isa)) + tail).c_str(),
                                            bm_qgemm, isa, out, s.M, s.N, s.K));
      }
#ifdef QGEMM_BENCH_WITH_ONEDNN
      finish(benchmark::RegisterBenchmark(("gemm/onednn" + tail).c_str(), bm_onednn, false, out, s.M, s.N, s.K));
      finish(benchmark::RegisterBenchmark(("gemm/onednn-rt" + tail).c_str(), bm_onednn, true, out, s.M, s.N, s.K));
#endif
    }
  }
  // Packing: the (N, K) weight shapes of the set.
  std::vector<std::pair<int64_t, int64_t>> nks;
  for (const Shape& s : shapes_for(set))
    if (s.M <= 8 && std::find(nks.begin(), nks.end(), std::make_pair(s.N, s.K)) == nks.end())
      nks.push_back({s.N, s.K});
  for (const auto& nk : nks) {
    const std::string tail = "/" + std::to_string(nk.first) + "x" + std::to_string(nk.second);
    for (int i = 0; i < qgemm::kIsaCount; ++i) {
      const auto isa = static_cast<qgemm::Isa>(i);
      if (!qgemm::isa_available(isa)) continue;
      for (auto layout : {qgemm::WeightLayout::nk, qgemm::WeightLayout::kn})
        finish(benchmark::RegisterBenchmark(
            ("pack/qgemm-" + std::string(qgemm::isa_name(isa)) +
             (layout == qgemm::WeightLayout::nk ? "/nk" : "/kn") + tail + threads).c_str(),
            bm_qgemm_pack, isa, layout, nk.first, nk.second));
    }
#ifdef QGEMM_BENCH_WITH_ONEDNN
    finish(benchmark::RegisterBenchmark(("pack/onednn/nk" + tail + threads).c_str(), bm_onednn_reorder, nk.first, nk.second));
#endif
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
