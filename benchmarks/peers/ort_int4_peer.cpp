// ONNX Runtime peer for qgemm's int4 benchmark (qgemm docs/benchmarks.md, "int4 weights"): MatMulNBits
// (int4, block 32, accuracy_level 4: int8 compute) through the C API of the libonnxruntime.so that
// the npm package onnxruntime-node carries, one intra-op thread, sequential execution. Models come
// from make_models.py (the same float weights as qgemm_int4_bench); X from the same generator;
// error against the same float64 reference. Decode rows (M <= 8) rotate over sessions of the same
// model (each session prepacks its own copy of the weights) whose weight bytes exceed 3x L3.
// The C API is reached through OrtGetApiBase()->GetApi(): the OrtApi table is an array of function
// pointers in a fixed order (ORT only appends), so this file declares the few slots it calls by
// index instead of including onnxruntime_c_api.h.
// Usage: ort_int4_peer MODELDIR [--rounds=R] [--shapes=NxK,...] [--m=...] [--l3-mb=X]
//                               [--min-round-ms=T] [--clock=cpu|wall] [--tsv=FILE] [--read-bw=GBS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>

extern "C" {
struct OrtApiBaseRaw { void** (*GetApi)(uint32_t); const char* (*GetVersionString)(); };
const OrtApiBaseRaw* OrtGetApiBase();
}
using St = void*;  // OrtStatus*
static void** api;
// Slots of OrtApi used here.
enum { kGetErrorMessage = 2, kCreateEnv = 3, kCreateSession = 7, kRun = 9, kCreateSessionOptions = 10,
       kSetSessionExecutionMode = 13, kSetGraphOptLevel = 23, kSetIntraOpNumThreads = 24,
       kSetInterOpNumThreads = 25, kCreateTensorWithData = 49, kGetTensorMutableData = 51,
       kCreateCpuMemoryInfo = 69, kReleaseValue = 96 };
template <class F> static F fn(int i) { return reinterpret_cast<F>(api[i]); }
static void check(St s, const char* what) {
  if (!s) return;
  fprintf(stderr, "ort_int4_peer: %s: %s\n", what, fn<const char* (*)(St)>(kGetErrorMessage)(s));
  exit(1);
}

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
static uint32_t hash32(uint32_t x) { x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16; return x; }
static std::vector<float> gen(uint32_t seed, size_t n, double sd) {
  std::vector<float> v(n); const double c = sd * std::sqrt(3.0);
  for (size_t i = 0; i < n; ++i) { double s = 0; for (uint32_t j = 0; j < 4; ++j) s += hash32(seed * 0x9E3779B9u + 4u * (uint32_t)i + j) / 4294967296.0; v[i] = (float)((s - 2.0) * c); }
  return v;
}
static size_t l3_reported() {
  for (int idx = 0; idx < 8; ++idx) {
    std::string b = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/";
    std::ifstream lv(b + "level"), sz(b + "size"); int level = 0; std::string s;
    if (!(lv >> level) || !(sz >> s) || level != 3) continue;
    size_t v = strtoull(s.c_str(), nullptr, 10); if (s.back() == 'K') v <<= 10; if (s.back() == 'M') v <<= 20; if (v) return v;
  }
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE); return v > 0 ? (size_t)v : 0;
}
static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out; size_t p = 0;
  while (p <= s.size()) { size_t q = s.find(sep, p); if (q == std::string::npos) q = s.size(); if (q > p) out.push_back(s.substr(p, q - p)); p = q + 1; }
  return out;
}
static double median(std::vector<double> v) { std::sort(v.begin(), v.end()); size_t n = v.size(); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: ort_int4_peer MODELDIR [options]\n"); return 2; }
  std::string dir = argv[1];
  int rounds = 7; double min_round_ms = 20, l3_mb = 0, read_bw = 0; std::string tsv_path;
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  std::vector<int64_t> ms = {1, 4, 8, 32, 128};
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) -> const char* { size_t n = strlen(k); return a.compare(0, n, k) == 0 ? argv[i] + n : nullptr; };
    if (auto v = val("--rounds=")) rounds = atoi(v);
    else if (auto v = val("--min-round-ms=")) min_round_ms = atof(v);
    else if (auto v = val("--l3-mb=")) l3_mb = atof(v);
    else if (auto v = val("--read-bw=")) read_bw = atof(v);
    else if (auto v = val("--tsv=")) tsv_path = v;
    else if (auto v = val("--clock=")) g_wall_clock = !strcmp(v, "wall");
    else if (auto v = val("--shapes=")) { shapes.clear(); for (auto& s : split(v, ',')) { long long n, k; if (sscanf(s.c_str(), "%lldx%lld", &n, &k) != 2) return 2; shapes.push_back({n, k}); } }
    else if (auto v = val("--m=")) { ms.clear(); for (auto& s : split(v, ',')) ms.push_back(atoll(s.c_str())); }
    else { fprintf(stderr, "ort_int4_peer: bad argument %s\n", argv[i]); return 2; }
  }
  const OrtApiBaseRaw* base = OrtGetApiBase();
  api = base->GetApi(16);  // any version up to the library's own gives the same table
  if (!api) { fprintf(stderr, "ort_int4_peer: GetApi failed\n"); return 1; }
  void* env = nullptr;
  check(fn<St (*)(int, const char*, void**)>(kCreateEnv)(3 /* error */, "peer", &env), "CreateEnv");
  void* so = nullptr;
  check(fn<St (*)(void**)>(kCreateSessionOptions)(&so), "CreateSessionOptions");
  check(fn<St (*)(void*, int)>(kSetIntraOpNumThreads)(so, 1), "SetIntraOpNumThreads");
  check(fn<St (*)(void*, int)>(kSetInterOpNumThreads)(so, 1), "SetInterOpNumThreads");
  check(fn<St (*)(void*, int)>(kSetSessionExecutionMode)(so, 0 /* sequential */), "SetSessionExecutionMode");
  check(fn<St (*)(void*, int)>(kSetGraphOptLevel)(so, 99 /* all */), "SetSessionGraphOptimizationLevel");
  void* mem = nullptr;
  check(fn<St (*)(int, int, void**)>(kCreateCpuMemoryInfo)(0 /* device allocator */, 0, &mem), "CreateCpuMemoryInfo");
  auto create_session = [&](const std::string& path) {
    void* s = nullptr;
    check(fn<St (*)(void*, const char*, void*, void**)>(kCreateSession)(env, path.c_str(), so, &s), path.c_str());
    return s;
  };
  auto make_tensor = [&](float* p, int64_t r, int64_t c) {
    void* v = nullptr; int64_t shape[2] = {r, c};
    check(fn<St (*)(void*, void*, size_t, const int64_t*, size_t, int, void**)>(kCreateTensorWithData)(mem, p, (size_t)(r * c) * 4, shape, 2, 1 /* float */, &v), "CreateTensorWithDataAsOrtValue");
    return v;
  };
  auto run = fn<St (*)(void*, void*, const char* const*, void* const*, size_t, const char* const*, size_t, void**)>(kRun);
  const char* in_names[] = {"A"}; const char* out_names[] = {"Y"};

  size_t l3r = l3_reported();
  size_t l3 = l3_mb > 0 ? (size_t)(l3_mb * 1048576) : std::min<size_t>(l3r ? l3r : (32u << 20), size_t(128) << 20);
  size_t rotate = 3 * l3 + (1u << 20);
  printf("ort_int4_peer: ONNX Runtime %s (onnxruntime-node's libonnxruntime.so), one intra-op thread, %s time; L3 reported %.1f MiB, "
         "used %.1f MiB (decode rows rotate over > %.0f MiB)\n", base->GetVersionString(), g_wall_clock ? "wall" : "process CPU", l3r / 1048576.0, l3 / 1048576.0, rotate / 1048576.0);
  if (read_bw > 0) printf("single-core read bandwidth (given): %.2f GB/s\n", read_bw);
  printf("%-13s %6s %6s %4s %9s %8s %8s %6s %9s %9s\n", "method", "N", "K", "M", "ms", "GOPS", "wGB/s", "%bw", "max_rel", "rms_rel");
  FILE* tsv = tsv_path.empty() ? nullptr : fopen(tsv_path.c_str(), "w");
  if (tsv) { fprintf(tsv, "# read_bw_gbs\t%.3f\n", read_bw); fprintf(tsv, "impl\tmethod\tN\tK\tM\tms\tgops\twgbs\tpct_bw\tmax_rel\trms_rel\tkernel\n"); }

  const int64_t ref_rows = 8;
  for (auto [N, K] : shapes) {
    std::string path = dir + "/mmnb_" + std::to_string(N) + "x" + std::to_string(K) + ".onnx";
    int64_t Mmax = *std::max_element(ms.begin(), ms.end());
    std::vector<float> w = gen(1, (size_t)(N * K), 0.02);
    std::vector<float> x = gen(2, (size_t)(std::max(Mmax, ref_rows) * K), 1.0);
    std::vector<double> ref((size_t)(ref_rows * N));
    for (int64_t i = 0; i < ref_rows; ++i) for (int64_t j = 0; j < N; ++j) {
      double s = 0; for (int64_t k = 0; k < K; ++k) s += (double)x[i * K + k] * w[j * K + k]; ref[i * N + j] = s; }
    w.clear(); w.shrink_to_fit();
    const size_t bytes = (size_t)(N * K / 2 + N * (K / 32) * 4);  // int4 values + float scales (default zero points)
    std::vector<void*> sessions = {create_session(path)};
    size_t cursor = 0;
    std::vector<float> y((size_t)(Mmax * N));
    for (int64_t M : ms) {
      bool decode = M <= 8;
      if (decode) while (sessions.size() * bytes < rotate) sessions.push_back(create_session(path));
      size_t nsess = decode ? sessions.size() : 1;
      void* xv = make_tensor(x.data(), M, K);
      void* yv = make_tensor(y.data(), M, N);
      auto call = [&](void* s) { check(run(s, nullptr, in_names, &xv, 1, out_names, 1, &yv), "Run"); };
      call(sessions[0]);
      int64_t er = std::min(M, ref_rows);
      double emax = 0, rmax = 0, e2 = 0, r2 = 0;
      for (int64_t i = 0; i < er * N; ++i) { double r = ref[i], d = y[i] - r; emax = std::max(emax, fabs(d)); rmax = std::max(rmax, fabs(r)); e2 += d * d; r2 += r * r; }
      double t0 = now_ms();
      call(sessions[cursor++ % nsess]);
      double t1 = (now_ms() - t0);
      int reps = std::max(1, std::min(2000, (int)(min_round_ms / std::max(t1, 1e-3))));
      std::vector<double> times;
      for (int r = 0; r < rounds; ++r) {
        t0 = now_ms();
        for (int i = 0; i < reps; ++i) call(sessions[cursor++ % nsess]);
        times.push_back((now_ms() - t0) / reps);
      }
      double t = median(times), gops = 2.0 * M * N * K / (t * 1e6), wgbs = bytes / (t * 1e6);
      double pct = read_bw > 0 ? 100 * wgbs / read_bw : NAN;
      printf("%-13s %6lld %6lld %4lld %9.4f %8.2f %8.2f %6.1f %9.2e %9.2e%s\n", "ort_mmnb_b32", (long long)N, (long long)K, (long long)M,
             t, gops, wgbs, pct, emax / rmax, sqrt(e2 / r2), decode ? "" : "  (weights warm)");
      if (tsv) fprintf(tsv, "ort\tmmnb_b32_acc4\t%lld\t%lld\t%lld\t%.5f\t%.3f\t%.3f\t%.2f\t%.4e\t%.4e\tMatMulNBits\n", (long long)N, (long long)K,
                       (long long)M, t, gops, wgbs, pct, emax / rmax, sqrt(e2 / r2));
      fflush(stdout);
      fn<void (*)(void*)>(kReleaseValue)(xv); fn<void (*)(void*)>(kReleaseValue)(yv);
    }
    // Sessions are left to process exit (their release slot is not declared here); each
    // shape's are unused after its rows.
  }
  if (tsv) fclose(tsv);
  return 0;
}
