// ggml peer for qgemm's int4 benchmark (qgemm benchmarks/int4_bench.cpp; docs/benchmarks.md,
// "int4 weights"). Built out of the qgemm tree against a ggml build. One thread: the CPU backend with
// n_threads = 1, one GGML_OP_MUL_MAT graph per weight copy; ggml quantizes X to q8_0 / q8_K inside
// the op (timed). Weights quantized with ggml_quantize_chunk from the same floats as qgemm's bench
// (same hash generator), error against the same float64 reference.
// Methods: q4_0_rp, q4_K_rp (weights in the CPU_REPACK buffer: the interleaved 8x8 layouts that
// llama.cpp uses on AVX2 machines), q4_0, q4_K, q8_0 (plain CPU buffer).
// Usage: ggml_int4_peer [--rounds=R] [--shapes=NxK,...] [--m=...] [--methods=...] [--l3-mb=X]
//                       [--min-round-ms=T] [--clock=cpu|wall] [--tsv=FILE] [--read-bw=GBS (else measured here)]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#include <unistd.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

// Times: process CPU time by default (--clock=cpu): on a shared machine the time a call spends
// descheduled is not the kernel's; every program here computes on the calling thread only, and
// any helper thread's time would count too. --clock=wall: steady wall time.
static bool g_wall_clock = false;
static double now_ms() {
  if (g_wall_clock) return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint32_t hash32(uint32_t x) {
  x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16; return x;
}
static std::vector<float> gen(uint32_t seed, size_t n, double sd) {
  std::vector<float> v(n);
  const double c = sd * std::sqrt(3.0);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (uint32_t j = 0; j < 4; ++j) s += hash32(seed * 0x9E3779B9u + 4u * (uint32_t)i + j) / 4294967296.0;
    v[i] = (float)((s - 2.0) * c);
  }
  return v;
}
static size_t l3_reported() {
  for (int idx = 0; idx < 8; ++idx) {
    std::string b = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/";
    std::ifstream lv(b + "level"), sz(b + "size"); int level = 0; std::string s;
    if (!(lv >> level) || !(sz >> s) || level != 3) continue;
    size_t v = strtoull(s.c_str(), nullptr, 10);
    if (s.back() == 'K') v <<= 10; if (s.back() == 'M') v <<= 20;
    if (v) return v;
  }
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? (size_t)v : 0;
}
// One core's read bandwidth, as qgemm_int4_bench measures it (a clone per vector width).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#endif
static uint64_t sum_words(const uint64_t* b, size_t n) {
  uint64_t a[16] = {0};
  for (size_t i = 0; i + 16 <= n; i += 16) for (int j = 0; j < 16; ++j) a[j] += b[i + j];
  uint64_t s = 0; for (int j = 0; j < 16; ++j) s += a[j]; return s;
}
static double read_bw(size_t bytes, int passes) {
  size_t n = bytes / 8;
  std::unique_ptr<uint64_t, void (*)(void*)> mem((uint64_t*)std::aligned_alloc(64, n * 8), std::free);
  if (!mem) return 0;
  uint64_t* buf = mem.get();
  for (size_t i = 0; i < n; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  double best = 0; volatile uint64_t sink = 0;
  for (int p = 0; p < passes; ++p) {
    double t0 = now_ms(); sink = sink + sum_words(buf, n);
    best = std::max(best, n * 8.0 / ((now_ms() - t0) / 1e3) / 1e9);
  }
  return best;
}
static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out; size_t p = 0;
  while (p <= s.size()) { size_t q = s.find(sep, p); if (q == std::string::npos) q = s.size(); if (q > p) out.push_back(s.substr(p, q - p)); p = q + 1; }
  return out;
}
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end()); size_t n = v.size(); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Spec { std::string name; ggml_type type; bool repack; };
struct Copy { ggml_context* ctx; ggml_backend_buffer_t buf; ggml_tensor* w; };
struct Inst { Spec spec; size_t bytes = 0; std::vector<Copy> copies; size_t cursor = 0;
              std::vector<uint8_t> q; };

int main(int argc, char** argv) {
  int rounds = 7; double min_round_ms = 20, l3_mb = 0, read_bw_given = 0; std::string tsv_path;
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  std::vector<int64_t> ms = {1, 4, 8, 32, 128};
  std::vector<Spec> specs = {{"q4_0_rp", GGML_TYPE_Q4_0, true}, {"q4_K_rp", GGML_TYPE_Q4_K, true},
                             {"q4_0", GGML_TYPE_Q4_0, false}, {"q4_K", GGML_TYPE_Q4_K, false},
                             {"q8_0", GGML_TYPE_Q8_0, false}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) -> const char* { size_t n = strlen(k); return a.compare(0, n, k) == 0 ? argv[i] + n : nullptr; };
    if (auto v = val("--rounds=")) rounds = atoi(v);
    else if (auto v = val("--min-round-ms=")) min_round_ms = atof(v);
    else if (auto v = val("--l3-mb=")) l3_mb = atof(v);
    else if (auto v = val("--tsv=")) tsv_path = v;
    else if (auto v = val("--clock=")) g_wall_clock = !strcmp(v, "wall");
    else if (auto v = val("--read-bw=")) read_bw_given = atof(v);
    else if (auto v = val("--shapes=")) { shapes.clear(); for (auto& s : split(v, ',')) { long long n, k; if (sscanf(s.c_str(), "%lldx%lld", &n, &k) != 2) return 2; shapes.push_back({n, k}); } }
    else if (auto v = val("--m=")) { ms.clear(); for (auto& s : split(v, ',')) ms.push_back(atoll(s.c_str())); }
    else if (auto v = val("--methods=")) { std::vector<Spec> keep; for (auto& w : split(v, ',')) for (auto& s : specs) if (s.name == w) keep.push_back(s); specs = keep; }
    else { fprintf(stderr, "ggml_int4_peer: bad argument %s\n", argv[i]); return 2; }
  }

  ggml_backend_t be = ggml_backend_cpu_init();
  ggml_backend_cpu_set_n_threads(be, 1);
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
  auto get_extra = (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
  ggml_backend_buffer_type_t repack = nullptr;
  if (get_extra) for (auto p = get_extra(dev); p && *p; ++p) if (!strcmp(ggml_backend_buft_name(*p), "CPU_REPACK")) repack = *p;
  if (!repack) { fprintf(stderr, "ggml_int4_peer: no CPU_REPACK buffer type; dropping the _rp methods\n");
    specs.erase(std::remove_if(specs.begin(), specs.end(), [](const Spec& s) { return s.repack; }), specs.end()); }

  size_t l3r = l3_reported();
  size_t l3 = l3_mb > 0 ? (size_t)(l3_mb * 1048576) : std::min<size_t>(l3r ? l3r : (32u << 20), size_t(128) << 20);
  size_t rotate = 3 * l3 + (1u << 20);
  size_t bwbytes = std::max<size_t>(4 * l3, size_t(512) << 20);
  double bw = read_bw_given > 0 ? read_bw_given : read_bw(bwbytes, 9);
  printf("ggml_int4_peer: one thread, %s time; L3 reported %.1f MiB, used %.1f MiB (decode rows rotate over > %.0f MiB per method)\n",
         g_wall_clock ? "wall" : "process CPU", l3r / 1048576.0, l3 / 1048576.0, rotate / 1048576.0);
  if (read_bw_given > 0) printf("single-core read bandwidth (given): %.2f GB/s\n", bw);
  else printf("single-core read bandwidth (sum over %.0f MiB, best of 9): %.2f GB/s\n", bwbytes / 1048576.0, bw);
  printf("%-11s %6s %6s %4s %9s %8s %8s %6s %9s %9s\n", "method", "N", "K", "M", "ms", "GOPS", "wGB/s", "%bw", "max_rel", "rms_rel");
  FILE* tsv = tsv_path.empty() ? nullptr : fopen(tsv_path.c_str(), "w");
  if (tsv) { fprintf(tsv, "# read_bw_gbs\t%.3f\n", bw); fprintf(tsv, "impl\tmethod\tN\tK\tM\tms\tgops\twgbs\tpct_bw\tmax_rel\trms_rel\tkernel\n"); }

  const int64_t ref_rows = 8;
  for (auto [N, K] : shapes) {
    int64_t Mmax = *std::max_element(ms.begin(), ms.end());
    std::vector<float> w = gen(1, (size_t)(N * K), 0.02);
    std::vector<float> x = gen(2, (size_t)(std::max(Mmax, ref_rows) * K), 1.0);
    std::vector<double> ref((size_t)(ref_rows * N));
    for (int64_t i = 0; i < ref_rows; ++i) for (int64_t j = 0; j < N; ++j) {
      double s = 0; for (int64_t k = 0; k < K; ++k) s += (double)x[i * K + k] * w[j * K + k]; ref[i * N + j] = s; }
    std::vector<Inst> insts;
    for (auto& s : specs) {
      Inst in; in.spec = s;
      size_t row = ggml_row_size(s.type, K);
      in.q.resize(row * N);
      ggml_quantize_chunk(s.type, w.data(), in.q.data(), 0, N, K, nullptr);
      in.bytes = row * N;
      insts.push_back(std::move(in));
    }
    auto add_copy = [&](Inst& in) {
      ggml_init_params p = {ggml_tensor_overhead() * 2, nullptr, true};
      Copy c; c.ctx = ggml_init(p);
      c.w = ggml_new_tensor_2d(c.ctx, in.spec.type, K, N);
      c.buf = ggml_backend_alloc_ctx_tensors_from_buft(c.ctx, in.spec.repack ? repack : ggml_backend_cpu_buffer_type());
      if (!c.buf) { fprintf(stderr, "ggml_int4_peer: allocation failed\n"); exit(1); }
      ggml_backend_tensor_set(c.w, in.q.data(), 0, in.q.size());  // repacks in CPU_REPACK
      in.copies.push_back(c);
    };
    for (auto& in : insts) add_copy(in);

    for (int64_t M : ms) {
      bool decode = M <= 8;
      if (decode) for (auto& in : insts) while (in.copies.size() * in.bytes < rotate) add_copy(in);
      // X and one graph per copy.
      size_t ng = 0; for (auto& in : insts) ng += decode ? in.copies.size() : 1;
      ggml_init_params p = {ggml_tensor_overhead() * (2 * ng + 4) + ggml_graph_overhead_custom(16, false) * (ng + 1), nullptr, true};
      ggml_context* gctx = ggml_init(p);
      ggml_tensor* xt = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, K, M);
      // M > 8: the first copy only (warm weights, as qgemm's bench).
      std::vector<std::vector<std::pair<ggml_cgraph*, ggml_tensor*>>> graphs(insts.size());
      for (size_t m = 0; m < insts.size(); ++m)
        for (size_t ci = 0; ci < (decode ? insts[m].copies.size() : 1); ++ci) {
          auto& c = insts[m].copies[ci];
          ggml_tensor* out = ggml_mul_mat(gctx, c.w, xt);
          ggml_cgraph* gf = ggml_new_graph_custom(gctx, 16, false);
          ggml_build_forward_expand(gf, out);
          graphs[m].push_back({gf, out});
        }
      ggml_backend_buffer_t gbuf = ggml_backend_alloc_ctx_tensors(gctx, be);
      if (!gbuf) { fprintf(stderr, "ggml_int4_peer: activation allocation failed\n"); return 1; }
      ggml_backend_tensor_set(xt, x.data(), 0, (size_t)(M * K) * sizeof(float));
      std::vector<double> maxr(insts.size()), rmsr(insts.size());
      std::vector<float> y((size_t)(M * N));
      int64_t er = std::min(M, ref_rows);
      for (size_t m = 0; m < insts.size(); ++m) {
        if (ggml_backend_graph_compute(be, graphs[m][0].first) != GGML_STATUS_SUCCESS) { fprintf(stderr, "compute failed\n"); return 1; }
        ggml_backend_tensor_get(graphs[m][0].second, y.data(), 0, y.size() * sizeof(float));
        double emax = 0, rmax = 0, e2 = 0, r2 = 0;
        for (int64_t i = 0; i < er; ++i) for (int64_t j = 0; j < N; ++j) {
          double r = ref[i * N + j], d = y[i * N + j] - r;
          emax = std::max(emax, fabs(d)); rmax = std::max(rmax, fabs(r)); e2 += d * d; r2 += r * r; }
        maxr[m] = emax / rmax; rmsr[m] = sqrt(e2 / r2);
      }
      std::vector<int> reps(insts.size());
      for (size_t m = 0; m < insts.size(); ++m) {
        auto& in = insts[m];
        double t0 = now_ms();
        ggml_backend_graph_compute(be, graphs[m][in.cursor % graphs[m].size()].first); in.cursor++;
        double t1 = (now_ms() - t0);
        reps[m] = std::max(1, std::min(2000, (int)(min_round_ms / std::max(t1, 1e-3))));
      }
      std::vector<std::vector<double>> times(insts.size());
      for (int r = 0; r < rounds; ++r)
        for (size_t o = 0; o < insts.size(); ++o) {
          size_t m = (o + r) % insts.size(); auto& in = insts[m];
          double t0 = now_ms();
          for (int i = 0; i < reps[m]; ++i) { ggml_backend_graph_compute(be, graphs[m][in.cursor % graphs[m].size()].first); in.cursor++; }
          times[m].push_back((now_ms() - t0) / reps[m]);
        }
      for (size_t m = 0; m < insts.size(); ++m) {
        double t = median(times[m]), gops = 2.0 * M * N * K / (t * 1e6), wgbs = insts[m].bytes / (t * 1e6);
        printf("%-11s %6lld %6lld %4lld %9.4f %8.2f %8.2f %6.1f %9.2e %9.2e%s\n", insts[m].spec.name.c_str(), (long long)N, (long long)K,
               (long long)M, t, gops, wgbs, 100 * wgbs / bw, maxr[m], rmsr[m], decode ? "" : "  (weights warm)");
        if (tsv) fprintf(tsv, "ggml\t%s\t%lld\t%lld\t%lld\t%.5f\t%.3f\t%.3f\t%.2f\t%.4e\t%.4e\t%s\n", insts[m].spec.name.c_str(),
                         (long long)N, (long long)K, (long long)M, t, gops, wgbs, 100 * wgbs / bw, maxr[m], rmsr[m],
                         insts[m].spec.repack ? "CPU_REPACK" : "CPU");
      }
      fflush(stdout);
      ggml_backend_buffer_free(gbuf); ggml_free(gctx);
    }
    for (auto& in : insts) for (auto& c : in.copies) { ggml_backend_buffer_free(c.buf); ggml_free(c.ctx); }
  }
  if (tsv) fclose(tsv);
  ggml_backend_free(be);
  return 0;
}
