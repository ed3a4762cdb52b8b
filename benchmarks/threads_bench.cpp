// Thread scaling of qgemm::gemm, 1 vs 2 threads (and more where asked), through OpenMP and
// through a caller's persistent std::thread pool, side by side with oneDNN's u8 x s8 -> s32
// matmul on the same thread counts (oneDNN's OpenMP runtime, set with omp_set_num_threads).
// Shapes: decode M in {1, 8} and prefill M = 128 with 11008 x 4096 weights (out x in, the
// LLaMA-7B MLP up-projection); plus M in {128, 256} on 2048 x 1024 weights, small enough for
// the scalar kernel. Counter GOPS = 2*M*N*K per second (wall time: UseRealTime).
//   QGEMM_BENCH_THREADS="1 2"  thread counts (default "1 2")
//   QGEMM_BENCH_QUICK=1         skip the M = 128 x 11008 x 4096 shape (slow on the scalar kernel)
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef QGEMM_BENCH_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include "qgemm/qgemm.hpp"

namespace {

// A caller's pool as an engine has one: persistent workers woken per call; the caller runs
// tasks too. Tasks are claimed from a shared counter.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  static void parallel_for(void* ctx, size_t n, void (*task)(void*, size_t), void* arg) {
    static_cast<Pool*>(ctx)->run(n, task, arg);
  }

 private:
  void run(size_t n, void (*task)(void*, size_t), void* arg) {
    {
      std::lock_guard<std::mutex> l(mu_);
      n_ = n;
      task_ = task;
      arg_ = arg;
      next_ = 0;
      pending_ = workers_.size();
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return pending_ == 0; });
  }
  void work() {
    for (size_t i; (i = next_.fetch_add(1)) < n_;) task_(arg_, i);
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> l(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  size_t pending_ = 0, n_ = 0;
  void (*task_)(void*, size_t) = nullptr;
  void* arg_ = nullptr;
  std::atomic<size_t> next_{0};
};

struct Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> b;  // [N][K]
  Data(int64_t M, int64_t N, int64_t K) : a(static_cast<size_t>(M * K)), b(static_cast<size_t>(N * K)) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> u(0, 255), s(-128, 127);
    for (auto& v : a) v = static_cast<uint8_t>(u(rng));
    for (auto& v : b) v = static_cast<int8_t>(s(rng));
  }
};

void set_counters(benchmark::State& st, int64_t M, int64_t N, int64_t K) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * M * N * K * static_cast<double>(st.iterations()) / 1e9,
                                           benchmark::Counter::kIsRate);
}

void BM_qgemm(benchmark::State& st, int64_t M, int64_t N, int64_t K, int threads, bool pool) {
  Data d(M, N, K);
  qgemm::PackedWeights* w = nullptr;
  if (qgemm::pack_weights(d.b.data(), qgemm::WeightLayout::nk, K, N, K, nullptr, false, &w) != qgemm::Status::ok) {
    st.SkipWithError(qgemm::last_error_message());
    return;
  }
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  Pool p(threads);
  qgemm::GemmOptions opt;
  opt.num_threads = threads;
  if (pool) {
    opt.parallel_for = &Pool::parallel_for;
    opt.parallel_ctx = &p;
  }
  for (auto _ : st) {
    if (qgemm::gemm(M, d.a.data(), K, 0, w, qgemm::output_s32(), c.data(), N, opt) != qgemm::Status::ok) {
      st.SkipWithError(qgemm::last_error_message());
      break;
    }
    benchmark::DoNotOptimize(c.data());
  }
  st.SetLabel(qgemm::last_kernel_name());
  set_counters(st, M, N, K);
  qgemm::destroy_packed_weights(w);
}

#ifdef QGEMM_BENCH_WITH_ONEDNN
void BM_onednn(benchmark::State& st, int64_t M, int64_t N, int64_t K, int threads) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  Data d(M, N, K);
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
#endif
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::desc a_md({M, K}, dt::u8, tag::ab), b_any({K, N}, dt::s8, tag::any), c_md({M, N}, dt::s32, tag::ab);
  const matmul::primitive_desc pd(matmul::desc(a_md, b_any, c_md), eng);
  memory a_mem(a_md, eng, d.a.data());
  memory b_user({{K, N}, dt::s8, tag::ba}, eng, d.b.data());  // [N][K] storage
  memory b_mem(pd.weights_desc(), eng);
  reorder(b_user, b_mem).execute(s, b_user, b_mem);  // oneDNN's packing, once
  std::vector<int32_t> c(static_cast<size_t>(M * N));
  memory c_mem(c_md, eng, c.data());
  matmul prim(pd);
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    s.wait();
  }
  st.SetLabel(pd.impl_info_str());
  set_counters(st, M, N, K);
#ifdef _OPENMP
  omp_set_num_threads(before);
#endif
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<int> thread_counts;
  {
    const char* e = std::getenv("QGEMM_BENCH_THREADS");
    std::istringstream in(e && *e ? e : "1 2");
    for (int t; in >> t;) thread_counts.push_back(t);
  }
  const char* q = std::getenv("QGEMM_BENCH_QUICK");
  const bool quick = q && *q == '1';
  struct Shape {
    int64_t M, N, K;
  };
  std::vector<Shape> shapes = {{1, 11008, 4096}, {8, 11008, 4096}, {128, 2048, 1024}, {256, 2048, 1024}};
  if (!quick) shapes.push_back({128, 11008, 4096});
  for (const Shape& s : shapes)
    for (int t : thread_counts) {
      const std::string shape = std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) +
                                "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(("qgemm_openmp/" + shape).c_str(), BM_qgemm, s.M, s.N, s.K, t, false)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("qgemm_pool/" + shape).c_str(), BM_qgemm, s.M, s.N, s.K, t, true)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
#ifdef QGEMM_BENCH_WITH_ONEDNN
      benchmark::RegisterBenchmark(("onednn/" + shape).c_str(), BM_onednn, s.M, s.N, s.K, t)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
#endif
    }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
