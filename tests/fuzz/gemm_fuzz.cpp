// libFuzzer harness for qgemm::gemm: each input draws an ISA (every available one, or the one
// named by QGEMM_FUZZ_ISA), a shape, strides, layout, zero points, an output stage with its
// parameters, a thread count and a pool, runs the library and compares every byte of C
// (padding between rows and a canary after the end included) with the test oracle
// (tests/oracle.cpp). One input in 32 takes its shape from the ISA kernel's blocking (tile, K
// block, MC row block at that K; test hook gemm_blocking_for_testing), so every blocking edge
// of every kernel is fuzzed too. About one input in six is made invalid on purpose (one bad argument):
// the call must return that argument's status and leave C untouched. The expected overflow
// status is computed here independently (exact worst case per column).
// Any mismatch aborts with the case printed. At exit it prints the counts.
//   QGEMM_FUZZ_ISA=<name>   fuzz only this ISA
//   QGEMM_FUZZ_LIST=1       print the available ISAs, one per line, and exit
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../oracle.hpp"
#include "qgemm/qgemm.hpp"
#include "test_hooks.hpp"


namespace {

using qgemm::OutputStage;
using qgemm::OutputType;
using qgemm::Status;

std::vector<qgemm::Isa> g_isas;
unsigned long long g_valid = 0, g_invalid = 0, g_overflow = 0, g_per_isa[qgemm::kIsaCount] = {};
unsigned long long g_per_signs[4] = {};  // u8xs8, s8xs8, u8xu8, s8xu8
double g_macs = 0;  // M*N*K summed over the valid calls (what the oracle's cost follows)

void report() {
  std::fprintf(stderr,
               "qgemm_fuzz: %llu cases: %llu valid calls bit-exact with the oracle, %llu overflow "
               "refusals, %llu invalid calls refused with nothing written; 0 mismatches\n",
               g_valid + g_invalid + g_overflow, g_valid, g_overflow, g_invalid);
  if (g_valid) std::fprintf(stderr, "qgemm_fuzz:   mean M*N*K per valid call: %.0f\n", g_macs / static_cast<double>(g_valid));
  for (int i = 0; i < qgemm::kIsaCount; ++i)
    if (g_per_isa[i]) std::fprintf(stderr, "qgemm_fuzz:   %s: %llu cases\n", qgemm::isa_name(static_cast<qgemm::Isa>(i)), g_per_isa[i]);
  std::fprintf(stderr, "qgemm_fuzz:   signs u8xs8 %llu, s8xs8 %llu, u8xu8 %llu, s8xu8 %llu cases\n", g_per_signs[0],
               g_per_signs[1], g_per_signs[2], g_per_signs[3]);
}

[[noreturn]] void die(const char* what, const oracle::Problem& p, int stage, int threads) {
  std::fprintf(stderr, "qgemm_fuzz MISMATCH: %s (isa %s, M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld za=%d stage=%d threads=%d): %s\n",
               what, qgemm::isa_name(qgemm::active_isa()), (long long)p.M, (long long)p.N, (long long)p.K,
               (long long)p.lda, (long long)p.ldb, (long long)p.ldc, p.za, stage, threads, qgemm::last_error_message());
  std::abort();
}

// Choices come from the fuzzer's bytes while they last, then from a generator seeded with a
// hash of the whole input (deterministic per input), so short inputs still reach every branch.
class Draw {
 public:
  Draw(const uint8_t* data, size_t size) : fd_(data, size) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    rng.seed(h);
  }
  template <typename T>
  T in(T lo, T hi) {
    if (fd_.remaining_bytes() > 0) return fd_.ConsumeIntegralInRange<T>(lo, hi);
    return std::uniform_int_distribution<T>(lo, hi)(rng);
  }
  bool flag() { return in<int>(0, 1) != 0; }
  std::mt19937_64 rng;

 private:
  FuzzedDataProvider fd_;
};

// Bulk values (matrix bytes, per-column parameters): a splitmix64 stream seeded from the input's
// generator. A std distribution per byte, and libstdc++'s generate_canonical (one logl per
// real), were a fifth of the fuzzing time once the oracle was fast (perf, issue 8).
class Bulk {
 public:
  explicit Bulk(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint8_t byte() {
    if (left_ == 0) {
      word_ = next();
      left_ = 8;
    }
    const uint8_t b = static_cast<uint8_t>(word_);
    word_ >>= 8;
    --left_;
    return b;
  }
  // Uniform in [lo, hi] (modulo bias below 2^-31: irrelevant here).
  int32_t in(int32_t lo, int32_t hi) {
    const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo) + 1;
    return static_cast<int32_t>(lo + static_cast<int64_t>(next() % range));
  }
  double real(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53); }

 private:
  uint64_t s_, word_ = 0;
  int left_ = 0;
};

// A pool that runs the tasks on the calling thread in reverse order (any order is allowed).
void reverse_pool(void*, size_t n, void (*task)(void*, size_t), void* arg) {
  for (size_t i = n; i-- > 0;) task(arg, i);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qgemm::detail::set_min_task_macs_for_testing(1);  // let small shapes split into tasks
  const char* only = std::getenv("QGEMM_FUZZ_ISA");
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (!qgemm::isa_available(isa)) continue;
    if (only && *only && std::strcmp(only, qgemm::isa_name(isa)) != 0) continue;
    g_isas.push_back(isa);
  }
  if (const char* l = std::getenv("QGEMM_FUZZ_LIST"); l && *l == '1') {
    for (auto isa : g_isas) std::printf("%s\n", qgemm::isa_name(isa));
    std::exit(0);
  }
  if (g_isas.empty()) {
    std::fprintf(stderr, "qgemm_fuzz: QGEMM_FUZZ_ISA=%s is not available here\n", only ? only : "");
    std::exit(2);
  }
  std::atexit(report);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Draw fd(data, size);
  const qgemm::Isa isa = g_isas[fd.in<size_t>(0, g_isas.size() - 1)];
  if (qgemm::set_isa(isa) != Status::ok) std::abort();

  // ---- shape, strides, values
  const int shape_mode = fd.in<int>(0, 31);  // 31: big, 0: at the kernel's blocking edges
  const bool big = shape_mode == 31;
  oracle::Problem p;
  p.M = fd.in<int64_t>(0, big ? 70 : 24);
  p.N = fd.in<int64_t>(0, big ? 200 : 72);
  p.K = fd.in<int64_t>(0, big ? 300 : 80);
  if (shape_mode == 0) {
    // Derived from the kernel's descriptor: K around its K block or K group, M around one or
    // two MC row blocks at that K (or the in-place row limit, or a few tiles), N around panels.
    qgemm::detail::GemmBlocking bl{};
    if (!qgemm::detail::gemm_blocking_for_testing(isa, 0, &bl)) std::abort();
    const int64_t kb = bl.kc_unit ? bl.kc_unit : 128;
    p.K = std::max<int64_t>(0, fd.in<int64_t>(1, 3) * (fd.flag() ? kb : int64_t{bl.kr}) + fd.in<int64_t>(-1, 1));
    if (!qgemm::detail::gemm_blocking_for_testing(isa, p.K, &bl)) std::abort();
    const int64_t mc = static_cast<int64_t>(bl.mc), mr = bl.mr, nr = bl.nr;
    switch (fd.in<int>(0, 3)) {
      case 0: p.M = mc + fd.in<int64_t>(-2, 2); break;
      case 1: p.M = 2 * mc + fd.in<int64_t>(-1, 1); break;
      case 2:  // the in-place row limit, where there is one
        p.M = (bl.max_m_unpacked < 1024 ? int64_t{bl.max_m_unpacked} : int64_t{bl.mr}) + fd.in<int64_t>(-1, 1);
        break;
      default: p.M = mr * fd.in<int64_t>(1, 3) + fd.in<int64_t>(-1, 1); break;
    }
    p.M = std::max<int64_t>(p.M, 0);
    // Many rows: one panel edge only, so the oracle's M*N*K stays near 10^7 at most.
    p.N = std::max<int64_t>(0, (p.M > 256 ? 1 : fd.in<int64_t>(1, 4)) * nr + fd.in<int64_t>(-1, 1));
  }
  p.layout = fd.flag() ? qgemm::WeightLayout::kn : qgemm::WeightLayout::nk;
  p.lda = p.K + fd.in<int64_t>(0, 9);
  p.ldb = (p.layout == qgemm::WeightLayout::kn ? p.N : p.K) + fd.in<int64_t>(0, 9);
  p.ldc = p.N + fd.in<int64_t>(0, 9);
  const int value_mode = fd.in<int>(0, 3);  // random, extremes, constant, small
  const int signs = fd.in<int>(0, 3);  // the sign combination: bit 0 int8 A, bit 1 uint8 B
  p.a_signed = (signs & 1) != 0;
  p.b_unsigned = (signs & 2) != 0;
  const int amin = p.a_signed ? -128 : 0, amax_v = p.a_signed ? 127 : 255;
  const int bmin = p.b_unsigned ? 0 : -128, bmax_v = p.b_unsigned ? 255 : 127;
  Bulk rng(fd.rng());
  const auto small = [&rng] { return rng.byte() % 7 - 3; };  // -3..3
  const uint8_t ca = rng.byte();
  const int8_t cb = static_cast<int8_t>(rng.byte());
  p.a.resize(static_cast<size_t>(p.M > 0 ? (p.M - 1) * p.lda + p.K : 0));
  for (auto& v : p.a)  // bytes; "small" is near the middle of the type's range
    v = static_cast<uint8_t>(value_mode == 0 ? rng.byte() : value_mode == 1 ? ((rng.byte() & 1) ? amax_v : amin)
                             : value_mode == 2 ? ca : (p.a_signed ? 0 : 128) + small());
  const int64_t outer = p.layout == qgemm::WeightLayout::kn ? p.K : p.N;
  const int64_t inner = p.layout == qgemm::WeightLayout::kn ? p.N : p.K;
  p.b.resize(static_cast<size_t>(outer > 0 ? (outer - 1) * p.ldb + inner : 0));
  for (auto& v : p.b)
    v = static_cast<int8_t>(static_cast<uint8_t>(
        value_mode == 0 ? rng.byte() : value_mode == 1 ? ((rng.byte() & 1) ? bmax_v : bmin)
                        : value_mode == 2 ? static_cast<uint8_t>(cb) : (p.b_unsigned ? 128 : 0) + small()));
  p.za = value_mode == 1 ? ((rng.byte() & 1) ? amax_v : amin) : fd.in<int32_t>(amin, amax_v);
  p.zb_per_column = fd.flag();
  const bool has_zb = fd.flag();
  p.zb.assign(p.zb_per_column ? static_cast<size_t>(std::max<int64_t>(p.N, 1)) : 1, 0);
  if (has_zb)
    for (auto& z : p.zb) z = value_mode == 1 ? ((rng.byte() & 1) ? bmax_v : bmin) : bmin + rng.byte();
  const size_t n = static_cast<size_t>(p.N), nn = std::max<size_t>(n, 1);

  // ---- output stage
  const int stage = fd.in<int>(0, 5);  // s32, fixed x2, float_mult x2, f32
  const bool per_column = fd.flag();
  const int bias_mode = fd.in<int>(0, 3);  // none, small, full int32 range
  p.bias_s32.resize(nn);
  p.bias_f32.resize(nn);
  for (size_t j = 0; j < nn; ++j) {
    p.bias_s32[j] = bias_mode == 3 ? static_cast<int32_t>(static_cast<uint32_t>(rng.next())) : rng.in(-200000, 200000);
    p.bias_f32[j] = static_cast<float>(rng.real(-50.0, 50.0));
  }
  const int32_t* bias = bias_mode == 0 ? nullptr : p.bias_s32.data();
  std::vector<int32_t> mult(nn), shift(nn);
  std::vector<float> wscale(nn);
  const bool raw_mult = fd.in<int>(0, 7) == 0;
  for (size_t j = 0; j < nn; ++j) {
    if (raw_mult) {
      mult[j] = rng.in(0, std::numeric_limits<int32_t>::max());
      shift[j] = rng.in(-31, 30);
    } else if (qgemm::quantize_multiplier(std::exp2(rng.real(-24.0, 2.0)), &mult[j], &shift[j]) != Status::ok) {
      std::abort();
    }
    wscale[j] = std::exp2(static_cast<float>(rng.real(-9.0, -1.0)));
  }
  const OutputType qt = fd.flag() ? OutputType::u8 : OutputType::s8;
  const int32_t tmin = qt == OutputType::u8 ? 0 : -128, tmax = qt == OutputType::u8 ? 255 : 127;
  const int32_t zo = fd.in<int32_t>(tmin, tmax);
  const float sa = std::exp2(fd.in<int>(-12, 3) * 0.5f);
  const float so = std::exp2(fd.in<int>(-16, 4) * 0.5f);
  OutputStage o;
  switch (stage) {
    case 0: o = qgemm::output_s32(bias); break;
    case 1:
    case 2:
      o = qgemm::output_fixed_point(qt, mult.data(), shift.data(), per_column, zo, bias,
                                    stage == 1 ? qgemm::Rounding::double_rounding : qgemm::Rounding::single_rounding);
      break;
    case 3:
    case 4:
      o = qgemm::output_float_multiplier(qt, sa, wscale.data(), per_column, so, zo,
                                         stage == 3 ? bias : nullptr, stage == 4 && bias_mode != 0 ? p.bias_f32.data() : nullptr);
      break;
    default: o = qgemm::output_f32(sa, wscale.data(), per_column, bias_mode != 0 ? p.bias_f32.data() : nullptr); break;
  }
  if (stage >= 1 && stage <= 4 && fd.flag()) {  // a narrower clamp (ReLU-like)
    const int32_t lo = fd.in<int32_t>(tmin, tmax);
    o.clamp_lo = lo;
    o.clamp_hi = fd.in<int32_t>(lo, tmax);
  }
  if (stage == 5 && fd.flag()) {
    o.clamp_lo_f32 = -static_cast<float>(fd.in<int>(0, 4000)) / 40.0f;
    o.clamp_hi_f32 = static_cast<float>(fd.in<int>(0, 4000)) / 40.0f;
  }
  qgemm::GemmOptions opt;
  opt.num_threads = fd.in<int32_t>(0, 5);
  if (fd.flag()) opt.parallel_for = reverse_pool;

  // ---- one bad argument, sometimes
  // (an exhausted provider returns the minimum: 0 = valid)
  const int bad = fd.in<int>(0, 5) == 5 ? fd.in<int>(1, 14) : 0;
  int64_t M = p.M, lda = p.lda, ldc = p.ldc;
  int32_t za = p.za;
  const uint8_t* a = p.a.data();  // int8 A: the same bytes, passed as int8_t below
  std::vector<uint8_t> one_byte(1);
  if (a == nullptr) a = one_byte.data();  // an empty vector's data() may be null: A is not needed then
  Status want_status = Status::ok;
  const bool has_work = p.M > 0 && p.N > 0;
  switch (bad) {
    case 1: M = -1 - fd.in<int64_t>(0, 1000); want_status = Status::negative_dimension; break;
    case 2: if (p.K > 0) { lda = p.K - 1; want_status = Status::bad_leading_dimension; } break;
    case 3: if (p.N > 0) { ldc = p.N - 1; want_status = Status::bad_leading_dimension; } break;
    case 4: za = fd.flag() ? amin - 1 : amax_v + 1; want_status = Status::bad_zero_point; break;
    case 5: if (p.M > 0 && p.K > 0) { a = nullptr; want_status = Status::null_pointer; } break;
    case 6: opt.num_threads = fd.flag() ? -1 : qgemm::kMaxThreads + 1; want_status = Status::bad_argument; break;
    case 7: o.type = static_cast<OutputType>(4 + fd.in<int>(0, 100)); want_status = Status::bad_argument; break;
    case 8:
      if (stage >= 1 && stage <= 4) { o.zero_point = qt == OutputType::u8 ? 256 : -129; want_status = Status::bad_zero_point; }
      break;
    case 9:
      if ((stage == 1 || stage == 2) && p.N > 0) { shift[0] = fd.flag() ? 31 : -32; want_status = Status::bad_output_params; }
      break;
    case 10:
      if (stage >= 3 && p.N > 0) { wscale[0] = fd.flag() ? -1.0f : NAN; want_status = Status::bad_output_params; }
      break;
    case 11:
      if (stage >= 1 && stage <= 4) { o.clamp_lo = tmax; o.clamp_hi = tmin; want_status = Status::bad_output_params; }
      break;
    case 12:  // (M-1)*lda + K overflows int64 once M >= 3 with lda = 2^62
      if (p.M >= 3 && p.K > 0) { lda = int64_t{1} << 62; want_status = Status::bad_leading_dimension; }
      break;
    case 13: if (stage == 0) { o.bias_f32 = p.bias_f32.data(); want_status = Status::bad_output_params; } break;
    case 14: if (stage == 1 || stage == 2) { o.rounding = static_cast<qgemm::Rounding>(7); want_status = Status::bad_argument; } break;
    default: break;
  }

  // ---- pack (its own invalid inputs are checked in bad_input_test; here it must succeed)
  qgemm::PackedWeights* w = nullptr;
  const Status packed =
      p.b_unsigned ? qgemm::pack_weights(reinterpret_cast<const uint8_t*>(p.b.data()), p.layout, p.K, p.N, p.ldb,
                                         has_zb ? p.zb.data() : nullptr, p.zb_per_column, &w)
                   : qgemm::pack_weights(p.b.data(), p.layout, p.K, p.N, p.ldb, has_zb ? p.zb.data() : nullptr,
                                         p.zb_per_column, &w);
  if (packed != Status::ok) die("pack_weights failed", p, stage, opt.num_threads);
  if (!has_zb) std::fill(p.zb.begin(), p.zb.end(), 0);

  // The exact overflow bound, computed here: max|A-za| * sum_k |B-zb| + |bias| per column.
  // (B indexed directly, not through p.B(): see tests/fuzz/CMakeLists.txt.)
  if (want_status == Status::ok) {
    const int64_t amax = std::max(p.za - amin, amax_v - p.za);
    const bool kn = p.layout == qgemm::WeightLayout::kn;
    for (int64_t j = 0; j < p.N; ++j) {
      const int64_t zbj = p.zb[p.zb_per_column ? static_cast<size_t>(j) : 0];
      int64_t l1 = 0;
      for (int64_t k = 0; k < p.K; ++k)
      {
        const int8_t byte = p.b[static_cast<size_t>(kn ? k * p.ldb + j : j * p.ldb + k)];
        const int64_t v = p.b_unsigned ? static_cast<int64_t>(static_cast<uint8_t>(byte)) : static_cast<int64_t>(byte);
        l1 += std::abs(v - zbj);
      }
      const int64_t b = o.bias_s32 ? std::abs(static_cast<int64_t>(o.bias_s32[j])) : 0;
      if (amax * l1 + b > std::numeric_limits<int32_t>::max()) want_status = Status::overflow_risk;
    }
  }

  const size_t es = qgemm::output_element_size(o.type);
  const size_t c_bytes = static_cast<size_t>(p.M > 0 ? (p.M - 1) * p.ldc + p.N : 0) * es;
  std::vector<uint8_t> got(c_bytes + 64, 0xA5);
  const Status s = p.a_signed ? qgemm::gemm(M, reinterpret_cast<const int8_t*>(a), lda, za, w, o, got.data(), ldc, opt)
                              : qgemm::gemm(M, a, lda, za, w, o, got.data(), ldc, opt);
  qgemm::destroy_packed_weights(w);
  g_per_isa[static_cast<int>(isa)]++;
  g_per_signs[signs]++;
  if (want_status != Status::ok) {
    if (s != want_status) die("wrong status for a bad input", p, stage, opt.num_threads);
    if (std::strlen(qgemm::last_error_message()) == 0) die("no error message", p, stage, opt.num_threads);
    for (uint8_t v : got)
      if (v != 0xA5) die("output written on error", p, stage, opt.num_threads);
    (want_status == Status::overflow_risk ? g_overflow : g_invalid)++;
    return 0;
  }
  if (s != Status::ok) die("valid call refused", p, stage, opt.num_threads);
  const std::vector<uint8_t> want = oracle::expected_output(p, o, 0xA5);
  if (want.size() != c_bytes) die("size", p, stage, opt.num_threads);
  for (size_t i = c_bytes; i < got.size(); ++i)
    if (got[i] != 0xA5) die("write past the end of C", p, stage, opt.num_threads);
  if (c_bytes != 0 && std::memcmp(got.data(), want.data(), c_bytes) != 0) die("result differs from the oracle", p, stage, opt.num_threads);
  if (has_work) {
    const char* kname = qgemm::last_kernel_name();
    const char* suffix = qgemm::isa_name(isa);
    const size_t kl = std::strlen(kname), sl = std::strlen(suffix);
    if (kl < sl + 2 || std::strcmp(kname + kl - sl, suffix) != 0) die("another ISA's kernel ran", p, stage, opt.num_threads);
  }
  g_valid++;
  g_macs += static_cast<double>(p.M) * static_cast<double>(p.N) * static_cast<double>(p.K);
  return 0;
}
