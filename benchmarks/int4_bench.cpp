// int4 weights against qgemm's int8 layers (issue 28), one thread, rounds alternating between
// the methods of a case, medians over rounds. docs/benchmarks.md, section "int4 weights", gives the
// commands, the peers (ggml, ONNX Runtime) and the figures.
//
// Methods, all built from the same float weights W[N][K] and run on the same X[M][K]:
//   w4a8_g32, w4a8_g128, w4a8_g256  Int4Linear W4A8, symmetric, group 32 / 128 / 256, X per row and group
//   w4a32_g32, w4a32_g128  Int4Linear weight-only, float X
//   int8_dyn             DynamicLinear, per channel, reduce_range false
//   int8_w8a32           WeightOnlyLinear (float X)
// Decode (M <= 8): each method owns enough copies of its layer that their packed bytes exceed
// 3x the L3 size, and successive calls rotate over them, so every call reads its weights from
// memory. M > 8: one copy (the weights are reused M times per call; cache behaviour is the
// kernel's business).
// Columns: median ms per call, GOPS = 2*M*N*K / time, weight GB/s = bytes the layer reads for its
// weights (packed values with scales, zero points and sums) / time, that as a percent of the
// single-core read bandwidth measured at start (a sum over a buffer far larger than L3, best of
// several passes), and the error against a float64 product of the float W and X (first rows):
//   max_rel = max |y - ref| / max |ref|,  rms_rel = sqrt(sum (y - ref)^2 / sum ref^2)
// Weights and X come from a counter-based hash (gen_value below) so that the peer harnesses
// (docs/benchmarks.md) regenerate the very same floats in C or numpy.
//
// Usage: qgemm_int4_bench [--rounds=R] [--shapes=NxK,...] [--m=1,4,...] [--methods=a,b,...]
//                         [--l3-mb=X] [--min-round-ms=T] [--clock=cpu|wall] [--tsv=FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "qgemm/linear.hpp"
#include "qgemm/qgemm.hpp"

namespace {

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

// The shared generator: value i of stream `seed` is an Irwin-Hall(4) sample (mean 0, variance
// 1/3) times c, each uniform a 32-bit hash of a counter; every step is exact in double, so C,
// C++, numpy and JavaScript produce the same floats.
uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
float gen_value(uint32_t seed, uint32_t i, double c) {
  double s = 0;
  for (uint32_t j = 0; j < 4; ++j) s += hash32(seed * 0x9E3779B9u + 4u * i + j) / 4294967296.0;
  return static_cast<float>((s - 2.0) * c);
}
// Weights: standard deviation 0.02 (c = 0.02 * sqrt(3)); X: standard deviation 1.
std::vector<float> gen(uint32_t seed, size_t n, double sd) {
  std::vector<float> v(n);
  const double c = sd * std::sqrt(3.0);
  for (size_t i = 0; i < n; ++i) v[i] = gen_value(seed, static_cast<uint32_t>(i), c);
  return v;
}

size_t l3_bytes_reported() {
  // sysfs (the cache one core shares) first, then sysconf.
  for (int idx = 0; idx < 8; ++idx) {
    std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/";
    std::ifstream lv(base + "level"), sz(base + "size");
    int level = 0;
    std::string size;
    if (!(lv >> level) || !(sz >> size)) continue;
    if (level != 3) continue;
    size_t v = std::strtoull(size.c_str(), nullptr, 10);
    char u = size.empty() ? 0 : size.back();
    if (u == 'K') v <<= 10;
    if (u == 'M') v <<= 20;
    if (v) return v;
  }
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? static_cast<size_t>(v) : 0;
}

// One core's read bandwidth: a sum of 64-bit words with 16 independent accumulators over a buffer
// far larger than L3, best of `passes`. The compiler vectorizes the loop; on x86-64 a clone per
// vector width is picked at run time, since 64-byte loads read about 10% faster than SSE2's
// 16-byte ones on Zen 5 and the figure must be the core's best, not the baseline build's.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#endif
uint64_t sum_words(const uint64_t* b, size_t n) {
  uint64_t a[16] = {0};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) a[j] += b[i + j];
  uint64_t s = 0;
  for (int j = 0; j < 16; ++j) s += a[j];
  return s;
}

double measure_read_gbs(size_t bytes, int passes) {
  size_t n = bytes / sizeof(uint64_t);
  // Cache-line aligned: a 64-byte load that straddles two lines costs bandwidth.
  std::unique_ptr<uint64_t, void (*)(void*)> mem(static_cast<uint64_t*>(std::aligned_alloc(64, n * sizeof(uint64_t))),
                                                 std::free);
  if (!mem) return 0;
  uint64_t* buf = mem.get();
  for (size_t i = 0; i < n; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  double best = 0;
  volatile uint64_t sink = 0;
  for (int p = 0; p < passes; ++p) {
    double t0 = now_ms();
    sink = sink + sum_words(buf, n);
    double s = (now_ms() - t0) / 1e3;
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s / 1e9);
  }
  (void)sink;
  return best;
}

[[noreturn]] void forward_failed(const char* layer, qgemm::Status st) {
  std::fprintf(stderr, "qgemm_int4_bench: %s forward failed (status %d)\n", layer, static_cast<int>(st));
  std::exit(1);
}

// One thread whatever OMP_NUM_THREADS says (WeightOnlyLinear has no threads).
qgemm::GemmOptions one_thread() {
  qgemm::GemmOptions o;
  o.num_threads = 1;
  return o;
}

size_t make_int4(const float* w, int64_t N, int64_t K, int32_t g, bool weight_only,
                 std::function<void(int64_t, const float*, float*)>* call) {
  auto layer = std::make_shared<qgemm::Int4Linear>();
  qgemm::Int4LinearOptions o;
  o.group_size = g;
  o.symmetric = true;
  o.weight_only = weight_only;
  o.act_per_group = true;
  if (layer->init(w, N, K, nullptr, o) != qgemm::Status::ok) return 0;
  *call = [layer, K, N](int64_t M, const float* x, float* y) {
    qgemm::Status st = layer->forward(M, qgemm::ActType::f32, x, K, y, N, one_thread());
    if (st != qgemm::Status::ok) forward_failed("Int4Linear", st);
  };
  return layer->packed_bytes();
}

size_t make_dyn(const float* w, int64_t N, int64_t K, std::function<void(int64_t, const float*, float*)>* call) {
  auto layer = std::make_shared<qgemm::DynamicLinear>();
  qgemm::DynamicLinearOptions o;
  o.per_channel = true;
  o.reduce_range = false;
  if (layer->init(w, N, K, nullptr, o) != qgemm::Status::ok) return 0;
  *call = [layer, K, N](int64_t M, const float* x, float* y) {
    qgemm::Status st = layer->forward(M, x, K, y, N, one_thread());
    if (st != qgemm::Status::ok) forward_failed("DynamicLinear", st);
  };
  return static_cast<size_t>(N * K + N * 4);  // s8 values and per-channel scales
}

size_t make_w8a32(const float* w, int64_t N, int64_t K, std::function<void(int64_t, const float*, float*)>* call) {
  auto layer = std::make_shared<qgemm::WeightOnlyLinear>();
  if (layer->init(w, N, K, nullptr) != qgemm::Status::ok) return 0;
  *call = [layer, K, N](int64_t M, const float* x, float* y) {
    qgemm::Status st = layer->forward(M, qgemm::ActType::f32, x, K, y, N);
    if (st != qgemm::Status::ok) forward_failed("WeightOnlyLinear", st);
  };
  return static_cast<size_t>(N * K + N * 4);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(sep, p);
    if (q == std::string::npos) q = s.size();
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

[[noreturn]] void usage(const char* arg) {
  std::fprintf(stderr,
               "qgemm_int4_bench: bad argument '%s'\nusage: qgemm_int4_bench [--rounds=R] [--shapes=NxK,...] "
               "[--m=1,4,...] [--methods=a,b,...] [--l3-mb=X] [--min-round-ms=T] [--clock=cpu|wall] [--tsv=FILE]\n"
               "(K a multiple of 128; methods: w4a8_g32 w4a8_g128 w4a8_g256 w4a32_g32 w4a32_g128 int8_dyn int8_w8a32)\n",
               arg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7;
  double min_round_ms = 20;
  double l3_mb_flag = 0;
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  std::vector<int64_t> ms = {1, 4, 8, 32, 128};
  std::vector<std::string> wanted;
  std::string tsv_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* key) -> const char* {
      size_t n = std::strlen(key);
      return a.compare(0, n, key) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = val("--rounds=")) {
      rounds = std::atoi(v);
      if (rounds < 1) usage(argv[i]);
    } else if (const char* v = val("--min-round-ms=")) {
      min_round_ms = std::atof(v);
    } else if (const char* v = val("--l3-mb=")) {
      l3_mb_flag = std::atof(v);
      if (!(l3_mb_flag > 0)) usage(argv[i]);
    } else if (const char* v = val("--shapes=")) {
      shapes.clear();
      for (auto& s : split(v, ',')) {
        long long n = 0, k = 0;
        if (std::sscanf(s.c_str(), "%lldx%lld", &n, &k) != 2 || n <= 0 || k <= 0 || k % 128) usage(argv[i]);
        shapes.push_back({n, k});
      }
    } else if (const char* v = val("--m=")) {
      ms.clear();
      for (auto& s : split(v, ',')) {
        long long m = std::atoll(s.c_str());
        if (m <= 0) usage(argv[i]);
        ms.push_back(m);
      }
    } else if (const char* v = val("--methods=")) {
      wanted = split(v, ',');
    } else if (const char* v = val("--clock=")) {
      if (std::strcmp(v, "wall") && std::strcmp(v, "cpu")) usage(argv[i]);
      g_wall_clock = !std::strcmp(v, "wall");
    } else if (const char* v = val("--tsv=")) {
      tsv_path = v;
    } else {
      usage(argv[i]);
    }
  }

  struct Spec {
    std::string name;
    int kind;  // 0 int4, 1 dyn, 2 w8a32
    int32_t g;
    bool wo;
  };
  std::vector<Spec> specs = {{"w4a8_g32", 0, 32, false},  {"w4a8_g128", 0, 128, false}, {"w4a8_g256", 0, 256, false}, {"w4a32_g32", 0, 32, true},
                             {"w4a32_g128", 0, 128, true}, {"int8_dyn", 1, 0, false},    {"int8_w8a32", 2, 0, false}};
  if (!wanted.empty()) {
    std::vector<Spec> keep;
    for (auto& w : wanted) {
      auto it = std::find_if(specs.begin(), specs.end(), [&](const Spec& s) { return s.name == w; });
      if (it == specs.end()) usage(w.c_str());
      keep.push_back(*it);
    }
    specs = keep;
  }

  const size_t l3_rep = l3_bytes_reported();
  // A VM may report the whole socket's L3 (hundreds of MiB) where one core's share is a CCX's
  // (tens of MiB); beyond 128 MiB the figure is taken as such and capped, and --l3-mb wins.
  size_t l3 = l3_mb_flag > 0 ? static_cast<size_t>(l3_mb_flag * 1048576.0)
                             : std::min<size_t>(l3_rep ? l3_rep : (32u << 20), size_t(128) << 20);
  const size_t rotate_bytes = 3 * l3 + (1u << 20);
  const double bw = measure_read_gbs(std::max<size_t>(4 * l3, size_t(512) << 20), 9);

  std::printf("qgemm_int4_bench: one thread, %s time; active ISA %s; L3 reported %.1f MiB, used %.1f MiB (decode rows rotate "
              "over > %.0f MiB of copies per method)\n",
              g_wall_clock ? "wall" : "process CPU", qgemm::isa_name(qgemm::active_isa()), l3_rep / 1048576.0, l3 / 1048576.0, rotate_bytes / 1048576.0);
  std::printf("single-core read bandwidth (sum over %.0f MiB, best of 9): %.2f GB/s\n",
              std::max<size_t>(4 * l3, size_t(512) << 20) / 1048576.0, bw);
  std::printf("%-11s %6s %6s %4s %9s %8s %8s %6s %9s %9s  %s\n", "method", "N", "K", "M", "ms", "GOPS", "wGB/s",
              "%bw", "max_rel", "rms_rel", "kernel");
  std::FILE* tsv = nullptr;
  if (!tsv_path.empty()) {
    tsv = std::fopen(tsv_path.c_str(), "w");
    if (!tsv) {
      std::fprintf(stderr, "qgemm_int4_bench: cannot write %s\n", tsv_path.c_str());
      return 1;
    }
    std::fprintf(tsv, "# read_bw_gbs\t%.3f\n", bw);
    std::fprintf(tsv, "impl\tmethod\tN\tK\tM\tms\tgops\twgbs\tpct_bw\tmax_rel\trms_rel\tkernel\n");
  }

  const int64_t ref_rows = 8;
  for (auto [N, K] : shapes) {
    const int64_t Mmax = *std::max_element(ms.begin(), ms.end());
    std::vector<float> w = gen(1, static_cast<size_t>(N * K), 0.02);
    std::vector<float> x = gen(2, static_cast<size_t>(std::max(Mmax, ref_rows) * K), 1.0);
    // float64 reference for the first rows.
    std::vector<double> ref(static_cast<size_t>(ref_rows * N));
    for (int64_t i = 0; i < ref_rows; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        const float* xr = &x[i * K];
        const float* wr = &w[j * K];
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(xr[k]) * wr[k];
        ref[i * N + j] = s;
      }

    // Layers: a first copy per method; more when a decode row needs them.
    struct Inst {
      Spec spec;
      size_t bytes = 0;
      std::vector<std::function<void(int64_t, const float*, float*)>> copies;
      size_t cursor = 0;
    };
    std::vector<Inst> insts;
    auto add_copy = [&](Inst& in) {
      std::function<void(int64_t, const float*, float*)> call;
      size_t b = 0;
      if (in.spec.kind == 0) b = make_int4(w.data(), N, K, in.spec.g, in.spec.wo, &call);
      else if (in.spec.kind == 1) b = make_dyn(w.data(), N, K, &call);
      else b = make_w8a32(w.data(), N, K, &call);
      if (!b) {
        std::fprintf(stderr, "qgemm_int4_bench: init of %s failed at %lldx%lld\n", in.spec.name.c_str(),
                     static_cast<long long>(N), static_cast<long long>(K));
        std::exit(1);
      }
      in.bytes = b;
      in.copies.push_back(std::move(call));
    };
    for (auto& s : specs) {
      Inst in;
      in.spec = s;
      add_copy(in);
      insts.push_back(std::move(in));
    }
    std::vector<float> y(static_cast<size_t>(Mmax * N));

    for (int64_t M : ms) {
      const bool decode = M <= 8;
      if (decode)
        for (auto& in : insts)
          while (in.copies.size() * in.bytes < rotate_bytes) add_copy(in);
      // Error (first rows) and the kernel's name, from one call of copy 0.
      std::vector<double> max_rel(insts.size()), rms_rel(insts.size());
      std::vector<std::string> kname(insts.size());
      const int64_t er = std::min(M, ref_rows);
      for (size_t m = 0; m < insts.size(); ++m) {
        insts[m].copies[0](M, x.data(), y.data());
        kname[m] = insts[m].spec.kind == 0   ? qgemm::int4_kernel_name()
                   : insts[m].spec.kind == 2 ? qgemm::weight_only_kernel_name()
                                             : qgemm::last_kernel_name();
        double emax = 0, rmax = 0, e2 = 0, r2 = 0;
        for (int64_t i = 0; i < er; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double r = ref[i * N + j], d = y[i * N + j] - r;
            emax = std::max(emax, std::fabs(d));
            rmax = std::max(rmax, std::fabs(r));
            e2 += d * d;
            r2 += r * r;
          }
        max_rel[m] = emax / rmax;
        rms_rel[m] = std::sqrt(e2 / r2);
      }
      // Calls per round: enough for min_round_ms (from one timed call), at least one.
      std::vector<int> reps(insts.size());
      for (size_t m = 0; m < insts.size(); ++m) {
        double t0 = now_ms();
        auto& in = insts[m];
        in.copies[in.cursor % (decode ? in.copies.size() : 1)](M, x.data(), y.data());
        ++in.cursor;
        double ms1 = (now_ms() - t0);
        reps[m] = std::max(1, std::min(2000, static_cast<int>(min_round_ms / std::max(ms1, 1e-3))));
      }
      std::vector<std::vector<double>> times(insts.size());
      for (int r = 0; r < rounds; ++r)
        for (size_t o = 0; o < insts.size(); ++o) {
          size_t m = (o + r) % insts.size();  // each round starts with the next method
          auto& in = insts[m];
          const size_t ncopies = decode ? in.copies.size() : 1;  // M > 8: warm weights
          double t0 = now_ms();
          for (int i = 0; i < reps[m]; ++i) {
            in.copies[in.cursor % ncopies](M, x.data(), y.data());
            ++in.cursor;
          }
          times[m].push_back((now_ms() - t0) / reps[m]);
        }
      for (size_t m = 0; m < insts.size(); ++m) {
        double t = median(times[m]);
        double gops = 2.0 * M * N * K / (t * 1e6);
        double wgbs = insts[m].bytes / (t * 1e6);
        std::printf("%-11s %6lld %6lld %4lld %9.4f %8.2f %8.2f %6.1f %9.2e %9.2e  %s%s\n", insts[m].spec.name.c_str(),
                    static_cast<long long>(N), static_cast<long long>(K), static_cast<long long>(M), t, gops, wgbs,
                    100.0 * wgbs / bw, max_rel[m], rms_rel[m], kname[m].c_str(),
                    decode ? "" : " (weights warm)");
        if (tsv)
          std::fprintf(tsv, "qgemm\t%s\t%lld\t%lld\t%lld\t%.5f\t%.3f\t%.3f\t%.2f\t%.4e\t%.4e\t%s\n",
                       insts[m].spec.name.c_str(), static_cast<long long>(N), static_cast<long long>(K),
                       static_cast<long long>(M), t, gops, wgbs, 100.0 * wgbs / bw, max_rel[m], rms_rel[m],
                       kname[m].c_str());
      }
      std::fflush(stdout);
    }
  }
  if (tsv) std::fclose(tsv);
  return 0;
}
