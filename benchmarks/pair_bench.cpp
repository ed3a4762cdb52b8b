// Paired comparison of qgemm and oneDNN, robust to a noisy shared machine: each round times a
// batch of qgemm calls and then a batch of the same oneDNN primitive, back to back, and the
// reported ratio is the median over rounds of (oneDNN time / qgemm time) of the same round. A
// slow phase of the machine (another tenant, the other vCPU busy) then hits both sides of a
// round instead of one whole Google Benchmark run. Single thread; set OMP_NUM_THREADS=1.
//
// Cases (names are stable, for scripts; exact/ and safe/ also at 512^3, 1024^3, 2048^3, and
// QGEMM_PAIR_SHAPES="MxNxK,..." adds safe/ cases of other shapes):
//   exact/<M>x<N>x<K>   s32 GEMM, A in [128, 255], B in {-128, 127}: qgemm's exact loop,
//                       oneDNN's saturating vpmaddubsw (run with ONEDNN_MAX_CPU_ISA=AVX2)
//   safe/<M>x<N>x<K>    the same with A in [0, 127] (qgemm may use vpmaddubsw)
//   w8a32/1x<N>x<K>     WeightOnlyLinear (int8 weights, float X) vs oneDNN's f32 matmul
//   xs/<M>x<N>x<K>      qgemm with itself: "exact" = the exact/ data, "safe" = the safe/ data, same
//                       weights; here ratio = safe time / exact time = exact GOPS / safe GOPS, the
//                       cost of full-range activations (issue 18)
//   signs/<ab>/<M>x<N>x<K>  qgemm with itself: ab = s8s8, u8u8 or s8u8 (A type, B type) against
//                       u8s8, the core, on the same bytes (full range); ratio = u8s8 time / ab
//                       time = ab GOPS / u8s8 GOPS (issue 27: >= 0.97)
//   dyn/<M>x<N>x<K>     qgemm with itself: "gemm" = the bare s32 GEMM on already quantized X,
//                       "layer" = DynamicLinear::forward (quantize X + GEMM + float output);
//                       here ratio = layer time / gemm time, and ratio - 1 the layer's overhead
// Usage: qgemm_pair_bench [rounds=31] [filter]   filter: substrings separated by commas, a case
//        runs when its name contains any of them
// Output: one line per case: median qgemm time, median oneDNN time, GOPS of each (from the
// median times), the median per-round ratio and its interquartile range; for M <= 8 also the
// weights' read rate of each side (GB/s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "qgemm/linear.hpp"
#include "qgemm/qgemm.hpp"

namespace {

using clk = std::chrono::steady_clock;

struct Side {
  std::function<void()> run;
};

// oneDNN matmul [M][K] x [K][N], weights reordered once into the layout it picks.
struct OneDnnMatmul {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream s{eng};
  dnnl::matmul prim;
  std::unordered_map<int, dnnl::memory> args;

  OneDnnMatmul(int64_t M, int64_t N, int64_t K, bool int8, const void* a, const void* b_kn) {
    using namespace dnnl;
    using dt = memory::data_type;
    using tag = memory::format_tag;
    const dt at = int8 ? dt::u8 : dt::f32, bt = int8 ? dt::s8 : dt::f32, ct = int8 ? dt::s32 : dt::f32;
    memory::desc a_md({M, K}, at, tag::ab), b_any({K, N}, bt, tag::any), b_md({K, N}, bt, tag::ab),
        c_md({M, N}, ct, tag::ab);
    matmul::primitive_desc pd(matmul::desc(a_md, b_any, c_md), eng);  // oneDNN 2.x API
    memory am(a_md, eng, const_cast<void*>(a)), bu(b_md, eng, const_cast<void*>(b_kn)), bm(pd.weights_desc(), eng),
        cm(c_md, eng);
    reorder(bu, bm).execute(s, bu, bm);
    s.wait();
    prim = matmul(pd);
    args = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
  }
  void run() {
    prim.execute(s, args);
    s.wait();
  }
};

// 64-byte aligned output, as oneDNN's destination (its own memory) is: a std::vector's block of
// this size sits 16 bytes past a page boundary, so every 64-byte store of a row splits two lines
// (Zen 5, 128x768x768: 1.5% slower than aligned).
struct AlignedC {
  explicit AlignedC(size_t n) : p(static_cast<int32_t*>(std::aligned_alloc(64, (n * sizeof(int32_t) + 63) / 64 * 64))) {}
  ~AlignedC() { std::free(p); }
  AlignedC(const AlignedC&) = delete;
  AlignedC& operator=(const AlignedC&) = delete;
  int32_t* data() const { return p; }
  int32_t* p;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

// weight_bytes > 0: also the weights' read rate of each side (bytes of B per second; M <= 8).
void report(const std::string& name, double ops, int rounds, Side q, Side o, const char* q_label = "qgemm",
            const char* o_label = "onednn", double weight_bytes = 0) {
  // Calls per batch: about 20 ms of work per side at 100 GOPS, at least 3.
  const int reps = std::max(3, static_cast<int>(2e9 / std::max(ops, 1.0)));
  q.run();
  o.run();  // warm caches and lazy initialisation
  std::vector<double> tq, to, ratio;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = clk::now();
    for (int i = 0; i < reps; ++i) q.run();
    const auto t1 = clk::now();
    for (int i = 0; i < reps; ++i) o.run();
    const auto t2 = clk::now();
    const double a = std::chrono::duration<double>(t1 - t0).count() / reps;
    const double b = std::chrono::duration<double>(t2 - t1).count() / reps;
    tq.push_back(a);
    to.push_back(b);
    ratio.push_back(b / a);
  }
  const double mq = median(tq), mo = median(to);
  std::printf("%-22s %s %10.2f us %7.1f GOPS | %s %10.2f us %7.1f GOPS | ratio %.2f (IQR %.2f-%.2f)",
              name.c_str(), q_label, mq * 1e6, ops / mq / 1e9, o_label, mo * 1e6, ops / mo / 1e9, median(ratio),
              quantile(ratio, 0.25), quantile(ratio, 0.75));
  if (weight_bytes > 0)
    std::printf(" | weights %.1f / %.1f GB/s", weight_bytes / mq / 1e9, weight_bytes / mo / 1e9);
  std::printf("\n");
  std::fflush(stdout);
}

// A for the exact/ (A in [128, 255]) or safe/ (A in [0, 127]) cases, B in {-128, 127}.
void fill_gemm_data(bool safe, std::vector<uint8_t>& a, std::vector<int8_t>& b) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> lo(0, 127), hi(128, 255), bit(0, 1);
  for (auto& v : a) v = static_cast<uint8_t>(safe ? lo(rng) : hi(rng));
  for (auto& v : b) v = static_cast<int8_t>(bit(rng) ? 127 : -128);
}

void gemm_case(const char* kind, int64_t M, int64_t N, int64_t K, int rounds) {
  std::vector<uint8_t> a(static_cast<size_t>(M * K));
  std::vector<int8_t> b(static_cast<size_t>(K * N));
  fill_gemm_data(std::strcmp(kind, "safe") == 0, a, b);
  AlignedC c(static_cast<size_t>(M * N));
  qgemm::PackedWeights* w = nullptr;
  if (qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w) != qgemm::Status::ok) {
    std::printf("%s: pack_weights failed: %s\n", kind, qgemm::last_error_message());
    return;
  }
  OneDnnMatmul o(M, N, K, true, a.data(), b.data());
  const std::string name = std::string(kind) + "/" + std::to_string(M) + "x" + std::to_string(N) + "x" +
                           std::to_string(K);
  report(name, 2.0 * M * N * K, rounds,
         {[&] { qgemm::gemm(M, a.data(), K, 0, w, qgemm::output_s32(), c.data(), N); }}, {[&] { o.run(); }}, "qgemm",
         "onednn", M <= 8 ? static_cast<double>(N) * static_cast<double>(K) : 0.0);
  qgemm::destroy_packed_weights(w);
}

void xs_case(int64_t M, int64_t N, int64_t K, int rounds) {
  std::vector<uint8_t> ax(static_cast<size_t>(M * K)), as(ax.size());
  std::vector<int8_t> b(static_cast<size_t>(K * N)), unused(b.size());
  fill_gemm_data(false, ax, b);
  fill_gemm_data(true, as, unused);
  AlignedC cx(static_cast<size_t>(M * N)), cs(static_cast<size_t>(M * N));
  qgemm::PackedWeights* w = nullptr;
  if (qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w) != qgemm::Status::ok) {
    std::printf("xs: pack_weights failed: %s\n", qgemm::last_error_message());
    return;
  }
  report("xs/" + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K), 2.0 * M * N * K, rounds,
         {[&] { qgemm::gemm(M, ax.data(), K, 0, w, qgemm::output_s32(), cx.data(), N); }},
         {[&] { qgemm::gemm(M, as.data(), K, 0, w, qgemm::output_s32(), cs.data(), N); }}, "exact", " safe ");
  qgemm::destroy_packed_weights(w);
}

// One sign combination against u8 x s8 on the same bytes: A full range, B full range.
void signs_case(const std::string& ab, int64_t M, int64_t N, int64_t K, int rounds) {
  std::mt19937 rng(27);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(static_cast<size_t>(M * K));
  std::vector<int8_t> b(static_cast<size_t>(K * N));
  for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : b) v = static_cast<int8_t>(byte(rng));
  const bool a_s8 = ab[0] == 's', b_u8 = ab[2] == 'u';
  AlignedC c0(static_cast<size_t>(M * N)), c1(static_cast<size_t>(M * N));
  qgemm::PackedWeights *w0 = nullptr, *w1 = nullptr;
  const int32_t zb_u8 = 128;
  if (qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w0) != qgemm::Status::ok ||
      (b_u8 ? qgemm::pack_weights(reinterpret_cast<const uint8_t*>(b.data()), qgemm::WeightLayout::kn, K, N, N, &zb_u8,
                                  false, &w1)
            : qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, K, N, N, nullptr, false, &w1)) != qgemm::Status::ok) {
    std::printf("signs: pack_weights failed: %s\n", qgemm::last_error_message());
    return;
  }
  const auto* as = reinterpret_cast<const int8_t*>(a.data());
  report("signs/" + ab + "/" + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K), 2.0 * M * N * K,
         rounds,
         {[&] {
           if (a_s8)
             qgemm::gemm(M, as, K, 0, w1, qgemm::output_s32(), c1.data(), N);
           else
             qgemm::gemm(M, a.data(), K, 128, w1, qgemm::output_s32(), c1.data(), N);
         }},
         {[&] { qgemm::gemm(M, a.data(), K, 128, w0, qgemm::output_s32(), c0.data(), N); }}, ab.c_str(), " u8s8");
  qgemm::destroy_packed_weights(w0);
  qgemm::destroy_packed_weights(w1);
}

void w8a32_case(int64_t N, int64_t K, int rounds) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(N * K)), w_kn(w.size()), x(static_cast<size_t>(K)), y(static_cast<size_t>(N));
  for (auto& v : w) v = 0.05f * d(rng);
  for (auto& v : x) v = d(rng);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) w_kn[static_cast<size_t>(k * N + n)] = w[static_cast<size_t>(n * K + k)];
  qgemm::WeightOnlyLinear layer;
  if (layer.init(w.data(), N, K, nullptr) != qgemm::Status::ok) {
    std::printf("w8a32: init failed: %s\n", qgemm::last_error_message());
    return;
  }
  OneDnnMatmul o(1, N, K, false, x.data(), w_kn.data());
  report("w8a32/1x" + std::to_string(N) + "x" + std::to_string(K), 2.0 * N * K, rounds,
         {[&] { layer.forward(1, qgemm::ActType::f32, x.data(), K, y.data(), N); }}, {[&] { o.run(); }});
}

void dyn_case(int64_t M, int64_t N, int64_t K, int rounds) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(N * K)), bias(static_cast<size_t>(N)), x(static_cast<size_t>(M * K)),
      y(static_cast<size_t>(M * N));
  for (auto& v : w) v = 0.05f * d(rng);
  for (auto& v : bias) v = 0.1f * d(rng);
  for (auto& v : x) v = d(rng);
  qgemm::DynamicLinear layer;
  qgemm::DynamicLinearOptions opt;
  opt.per_channel = true;
  if (layer.init(w.data(), N, K, bias.data(), opt) != qgemm::Status::ok) {
    std::printf("dyn: init failed: %s\n", qgemm::last_error_message());
    return;
  }
  qgemm::QParams p;
  layer.forward(M, x.data(), K, y.data(), N, &p);
  std::vector<uint8_t> xq(static_cast<size_t>(M * K));
  qgemm::quantize(x.data(), M * K, p, xq.data());
  std::vector<int32_t> yi(static_cast<size_t>(M * N));
  report("dyn/" + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K), 2.0 * M * N * K, rounds,
         {[&] { qgemm::gemm(M, xq.data(), K, p.zero_point, layer.packed(), qgemm::output_s32(), yi.data(), N); }},
         {[&] { layer.forward(M, x.data(), K, y.data(), N); }}, " gemm", "layer ");
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(3, std::atoi(argv[1])) : 31;
  const std::string filter = argc > 2 ? argv[2] : "";
  std::vector<std::string> parts;
  for (size_t p = 0; p <= filter.size();) {
    const size_t e = std::min(filter.find(',', p), filter.size());
    if (e > p) parts.push_back(filter.substr(p, e - p));
    p = e + 1;
  }
  auto want = [&](const std::string& s) {
    if (parts.empty()) return true;
    for (const auto& f : parts)
      if (s.find(f) != std::string::npos) return true;
    return false;
  };
  std::printf("qgemm ISA %s, %d rounds, ratio = right time / left time (oneDNN / qgemm: > 1 = qgemm faster)\n",
              qgemm::isa_name(qgemm::active_isa()), rounds);
  const int64_t nk[][2] = {{768, 768}, {3072, 768}, {768, 3072}, {4096, 4096}};
  for (const char* kind : {"exact", "safe"})
    for (const auto& s : nk)
      for (int64_t M : {1, 8, 32, 128, 512})
        if (want(std::string(kind) + "/" + std::to_string(M) + "x" + std::to_string(s[0]) + "x" + std::to_string(s[1])))
          gemm_case(kind, M, s[0], s[1], rounds);
  // The LLaMA-7B MLP weights (11008 x 4096 and back): decode and one prefill size.
  const int64_t big[][2] = {{11008, 4096}, {4096, 11008}};
  for (const char* kind : {"exact", "safe"})
    for (const auto& s : big)
      for (int64_t M : {1, 8, 128})
        if (want(std::string(kind) + "/" + std::to_string(M) + "x" + std::to_string(s[0]) + "x" + std::to_string(s[1])))
          gemm_case(kind, M, s[0], s[1], rounds);
  // Square GEMMs (issue 29): the large-M bar against oneDNN.
  for (const char* kind : {"exact", "safe"})
    for (int64_t S : {512, 1024, 2048})
      if (want(std::string(kind) + "/" + std::to_string(S) + "x" + std::to_string(S) + "x" + std::to_string(S)))
        gemm_case(kind, S, S, S, rounds);
  // QGEMM_PAIR_SHAPES="MxNxK,...": further safe/ cases, for trying blockings on other shapes.
  if (const char* e = std::getenv("QGEMM_PAIR_SHAPES")) {
    for (const char* p = e; *p;) {
      long long m = 0, n = 0, k = 0;
      int used = 0;
      if (std::sscanf(p, "%lldx%lldx%lld%n", &m, &n, &k, &used) != 3 || m <= 0 || n <= 0 || k <= 0) {
        std::printf("QGEMM_PAIR_SHAPES: cannot read \"%s\" (want MxNxK,...)\n", p);
        break;
      }
      gemm_case("safe", m, n, k, rounds);
      p += used;
      if (*p == ',') ++p;
    }
  }
  const int64_t xs[][3] = {{1, 768, 768},  {1, 3072, 768}, {1, 768, 3072}, {1, 4096, 4096}, {2, 768, 768},
                           {4, 768, 768},  {8, 768, 768},  {8, 3072, 768}, {8, 768, 3072}, {32, 768, 768},
                           {32, 3072, 768}, {128, 768, 768}, {128, 3072, 768}};
  for (const auto& s : xs) {
    const std::string name = "xs/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
    if (want(name)) xs_case(s[0], s[1], s[2], rounds);
  }
  const int64_t w8[][2] = {{768, 768}, {3072, 768}, {768, 3072}, {4096, 4096}};
  for (const auto& s : w8)
    if (want("w8a32/1x" + std::to_string(s[0]) + "x" + std::to_string(s[1]))) w8a32_case(s[0], s[1], rounds);
  const int64_t signs[][3] = {{1, 768, 768},   {8, 768, 768},   {32, 768, 768},  {128, 768, 768}, {1, 4096, 4096},
                              {8, 4096, 4096}, {128, 4096, 4096}, {1, 3072, 768}, {128, 768, 3072}};
  for (const char* ab : {"s8s8", "u8u8", "s8u8"})
    for (const auto& s : signs) {
      const std::string name = std::string("signs/") + ab + "/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" +
                               std::to_string(s[2]);
      if (want(name)) signs_case(ab, s[0], s[1], s[2], rounds);
    }
  const int64_t dyn[][3] = {{8, 768, 768}, {32, 768, 768}, {128, 768, 768}, {8, 3072, 768}, {32, 768, 3072}};
  for (const auto& s : dyn) {
    const std::string name = "dyn/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
    if (want(name)) dyn_case(s[0], s[1], s[2], rounds);
  }
}
