// qgemm::gemm: argument checks, then the portable blocking driver. Data flows one way:
// checks -> dispatch (the config the weights were packed for) -> per-call output-stage
// tables -> a grid of tasks over (MR row tiles) x (NR column panels), run by OpenMP or the
// caller's parallel-for -> in each task: MC blocks of A (packed with row sums, or read in
// place for small M) -> NR column panels x MR row tiles -> microkernel with the fused output
// stage. Each output tile is computed by one task over the full K, so any thread count and
// any pool give the same bits.
//
// Scratch: the calling thread allocates everything a call needs (output-stage tables and one
// A-pack slice per task) from its own thread-local arena before any task starts, so an
// allocation failure is reported before anything is written and workers never allocate.
// Each task packs its own rows of A into its own slice (a task that splits N re-packs the
// same rows as its neighbours: O(rows*K) bytes against O(rows*K*cols) multiply-adds, about
// 1/cols of the work, and no barrier between a packing and a compute phase).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <atomic>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch.hpp"
#include "errors.hpp"
#include "packed_weights.hpp"
#include "test_hooks.hpp"
#include "ukernel.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define QGEMM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QGEMM_ASAN 1
#endif
#endif
#ifdef QGEMM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace qgemm {
using namespace detail;

namespace {

constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Scratch regions (output-stage tables, each task's packed A and row sums) share one
// allocation. In AddressSanitizer builds each region is followed by a poisoned redzone, so an
// overrun into the next region (which stays inside the allocation, invisible to ASan
// otherwise) is reported where it happens.
#ifdef QGEMM_ASAN
constexpr size_t kRedzone = 64;
#else
constexpr size_t kRedzone = 0;
#endif
// Bytes from one region's start to the next one's: its size rounded to 64, plus the redzone.
size_t region_stride(size_t bytes) { return round_up(bytes, 64) + kRedzone; }

// Grow-only, 64-byte aligned scratch owned by the calling thread (no allocation per call once
// warm, and no sharing between threads).
class Scratch {
 public:
  bool busy = false;  // leased to a call on this thread (see ScratchLease)

 public:
  ~Scratch() { std::free(ptr_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(ptr_);
      ptr_ = nullptr;
      size_ = 0;
      void* p = nullptr;
      if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
      ptr_ = p;
      size_ = bytes;
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

thread_local Scratch g_scratch;

// The calling thread's arena for one call, or a private heap block when the arena is already
// leased by an outer call on this thread (a caller's pool may run another job that calls gemm
// on a thread that is waiting inside gemm's parallel_for).
class ScratchLease {
 public:
  explicit ScratchLease(size_t bytes) : bytes_(bytes) {
    if (!g_scratch.busy) {
      ptr_ = g_scratch.get(bytes);
      if (ptr_) {
        g_scratch.busy = true;
        leased_ = true;
      }
    } else if (posix_memalign(&ptr_, 64, bytes) != 0) {
      ptr_ = nullptr;
    }
  }
  ~ScratchLease() {
#ifdef QGEMM_ASAN
    if (ptr_) ASAN_UNPOISON_MEMORY_REGION(ptr_, bytes_);
#endif
    if (leased_)
      g_scratch.busy = false;
    else
      std::free(ptr_);
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  void* get() const { return ptr_; }
  // Marks [offset + used, offset + region_stride(used)) unaddressable in ASan builds: the
  // slack and redzone after a region of `used` bytes that starts at `offset`.
  void guard(size_t offset, size_t used) const {
#ifdef QGEMM_ASAN
    const size_t from = offset + round_up(used, 8), to = offset + region_stride(used);
    if (ptr_ && to > from) ASAN_POISON_MEMORY_REGION(static_cast<char*>(ptr_) + from, to - from);
#else
    (void)offset;
    (void)used;
#endif
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool leased_ = false;
};

// Smallest number of multiply-adds worth a task of its own (below, threads cost more than they
// give). Tests lower it to 1 to split tiny problems.
std::atomic<size_t> g_min_task_macs{size_t{1} << 18};  // see set_min_task_macs_for_testing

bool finite_positive(float x) { return std::isfinite(x) && x > 0.0f; }

// The f32 and float-multiplier stages scale by sa * sb[j] in float32: each scale must be
// finite and > 0, and so must their product, as a normal float (a product that underflows
// gives a multiplier of 0 or a denormal, which loses the result and, in the float-multiplier
// stage, makes bias / (sa*sb) infinite).
Status check_scale_product(const OutputStage& o, int64_t j) {
  const float s = o.act_scale * o.weight_scale[j];
  if (!finite_positive(o.weight_scale[j]) || !(s >= std::numeric_limits<float>::min()) || !std::isfinite(s))
    return fail(Status::bad_output_params,
                "weight_scale[%lld]=%g: it must be finite and > 0, and act_scale*weight_scale = %g a finite, normal float",
                static_cast<long long>(j), o.weight_scale[j], s);
  return Status::ok;
}

// Checks the output description against N; fills the resolved clamp range for u8/s8.
Status check_stage(const OutputStage& o, int64_t N, int32_t* lo, int32_t* hi) {
  const int64_t count = o.per_column ? N : (N > 0 ? 1 : 0);
  switch (o.type) {
    case OutputType::s32:
      if (o.bias_f32) return fail(Status::bad_output_params, "s32 output takes an int32 bias, not a float one");
      return Status::ok;
    case OutputType::f32: {
      if (o.bias_s32) return fail(Status::bad_output_params, "f32 output takes a float bias, not an int32 one");
      if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "f32 output: weight_scale is null");
      if (!finite_positive(o.act_scale))
        return fail(Status::bad_output_params, "act_scale=%g must be finite and > 0", o.act_scale);
      for (int64_t j = 0; j < count; ++j)
        if (Status s = check_scale_product(o, j); s != Status::ok) return s;
      if (o.bias_f32)
        for (int64_t j = 0; j < N; ++j)
          if (!std::isfinite(o.bias_f32[j]))
            return fail(Status::bad_output_params, "bias_f32[%lld]=%g is not finite", static_cast<long long>(j), o.bias_f32[j]);
      if (std::isnan(o.clamp_lo_f32) || std::isnan(o.clamp_hi_f32) || o.clamp_lo_f32 > o.clamp_hi_f32)
        return fail(Status::bad_output_params, "f32 clamp [%g, %g] is empty or NaN", o.clamp_lo_f32, o.clamp_hi_f32);
      return Status::ok;
    }
    case OutputType::u8:
    case OutputType::s8:
      break;
    default:
      return fail(Status::bad_argument, "unknown output type %d", static_cast<int>(o.type));
  }
  const int32_t tmin = o.type == OutputType::u8 ? 0 : -128;
  const int32_t tmax = o.type == OutputType::u8 ? 255 : 127;
  if (o.zero_point < tmin || o.zero_point > tmax)
    return fail(Status::bad_zero_point, "output zero point %d outside [%d, %d]", o.zero_point, tmin, tmax);
  *lo = o.clamp_lo == kI32Min ? tmin : o.clamp_lo;
  *hi = o.clamp_hi == kI32Max ? tmax : o.clamp_hi;
  if (*lo < tmin || *hi > tmax || *lo > *hi)
    return fail(Status::bad_output_params, "clamp [%d, %d] must be a non-empty range within [%d, %d]",
                *lo, *hi, tmin, tmax);
  if (o.requant == Requant::fixed_point) {
    if (o.bias_f32) return fail(Status::bad_output_params, "fixed-point requantization takes an int32 bias, not a float one");
    if (o.rounding != Rounding::double_rounding && o.rounding != Rounding::single_rounding)
      return fail(Status::bad_argument, "unknown rounding %d", static_cast<int>(o.rounding));
    if ((!o.multiplier || !o.shift) && N > 0)
      return fail(Status::null_pointer, "fixed-point requantization: multiplier or shift is null");
    for (int64_t j = 0; j < count; ++j) {
      if (o.multiplier[j] < 0)
        return fail(Status::bad_output_params, "multiplier[%lld]=%d must be >= 0", static_cast<long long>(j), o.multiplier[j]);
      if (o.shift[j] < -31 || o.shift[j] > 30)
        return fail(Status::bad_output_params, "shift[%lld]=%d outside [-31, 30]", static_cast<long long>(j), o.shift[j]);
    }
    return Status::ok;
  }
  if (o.requant != Requant::float_multiplier)
    return fail(Status::bad_argument, "unknown requantization %d", static_cast<int>(o.requant));
  if (o.bias_s32 && o.bias_f32) return fail(Status::bad_output_params, "give an int32 or a float bias, not both");
  if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "float multiplier: weight_scale is null");
  if (!finite_positive(o.act_scale) || !finite_positive(o.out_scale))
    return fail(Status::bad_output_params, "act_scale=%g and out_scale=%g must be finite and > 0", o.act_scale, o.out_scale);
  for (int64_t j = 0; j < count; ++j) {
    if (Status s = check_scale_product(o, j); s != Status::ok) return s;
    const float m = o.act_scale * o.weight_scale[j] / o.out_scale;
    if (!(m >= std::numeric_limits<float>::min()) || !std::isfinite(m))
      return fail(Status::bad_output_params,
                  "multiplier act_scale*weight_scale[%lld]/out_scale = %g*%g/%g is not a finite, normal float > 0",
                  static_cast<long long>(j), o.act_scale, o.weight_scale[j], o.out_scale);
  }
  // The kernels add bias_f32[j] / (sa*sb[j]) to float(acc): it must be finite too, or the
  // product with the multiplier can be inf*0 = NaN, which no rounding defines.
  if (o.bias_f32)
    for (int64_t j = 0; j < N; ++j) {
      const float sab = o.act_scale * o.weight_scale[o.per_column ? j : 0];
      if (!std::isfinite(o.bias_f32[j]) || !std::isfinite(o.bias_f32[j] / sab))
        return fail(Status::bad_output_params, "bias_f32[%lld]=%g: it or bias/(act_scale*weight_scale) = %g is not finite",
                    static_cast<long long>(j), o.bias_f32[j], o.bias_f32[j] / sab);
    }
  return Status::ok;
}

size_t element_size(OutputType t) {
  return (t == OutputType::s32 || t == OutputType::f32) ? 4 : 1;
}

std::atomic<size_t> g_mc_override{0};  // test hook: rows per MC block before rounding, 0 = off

// Rows of A per MC block for a depth of kp bytes: the kernel's choice, or an MC x kp block of
// A in about half of a 1 MiB L2, capped at 1024 rows. Always a multiple of MR: the packers
// write whole MR-row tiles, and the A-pack area holds mc rows.
size_t row_block(const GemmConfig& cfg, size_t kp) {
  const size_t mr = cfg.mr;
  size_t mc = cfg.mc_for_k ? cfg.mc_for_k(kp) : std::min<size_t>(512 * 1024 / std::max<size_t>(kp, 1), 1024);
  if (const size_t o = g_mc_override.load(std::memory_order_relaxed)) mc = o;
  return std::max(mr, mc / mr * mr);
}

// Copies KR-byte groups of one row of A into a panel with a group stride of MR*KR bytes
// (constant-size copies for the common KR, no per-byte index arithmetic).
template <size_t KR>
void copy_groups(const uint8_t* row, size_t full, uint8_t* dst, size_t group_stride) {
  for (size_t k0 = 0; k0 < full; k0 += KR, dst += group_stride) std::memcpy(dst, row + k0, KR);
}

// Packs rows [0, mb) of A (lda) into MR-row panels [kp/KR][MR][KR], zero padded.
void pack_a(size_t mb, size_t k, size_t kp, const uint8_t* a, size_t lda, size_t mr, size_t kr,
            uint8_t* dst) {
  const size_t full = k / kr * kr;
  for (size_t ir = 0; ir < mb; ir += mr) {
    uint8_t* panel = dst + ir * kp;
    std::memset(panel, 0, mr * kp);
    const size_t rows = std::min(mr, mb - ir);
    for (size_t i = 0; i < rows; ++i) {
      const uint8_t* row = a + (ir + i) * lda;
      uint8_t* out = panel + i * kr;
      if (kr == 4)
        copy_groups<4>(row, full, out, mr * kr);
      else if (kr == 8)
        copy_groups<8>(row, full, out, mr * kr);
      else
        for (size_t k0 = 0; k0 < full; k0 += kr) std::memcpy(out + k0 * mr, row + k0, kr);
      if (full < k) std::memcpy(out + full * mr, row + full, k - full);
    }
  }
}

void row_sums(size_t mb, size_t k, const uint8_t* a, size_t lda, int32_t* row_sum) {
  for (size_t i = 0; i < mb; ++i) {
    const uint8_t* row = a + i * lda;
    uint32_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) sum += row[kk];
    row_sum[i] = static_cast<int32_t>(sum);
  }
}

// Everything a task needs; read-only while the tasks run.
struct Plan {
  const GemmConfig* cfg;
  const PackedWeights* b;
  const StageParams* params;
  const uint8_t* a;
  size_t lda;
  char* c;
  size_t c_stride, esize;
  size_t m, n, k, kp, mc;
  bool in_place;
  bool need_row_sums;  // false when every zb[j] is 0 and the kernel uses row_sum only with zb
  size_t tm, tn;        // task grid: tm row groups x tn column groups
  size_t mt, np;        // MR row tiles, NR column panels
  char* slices;         // one A-pack slice per task: packed A, then the row sums at rsum_offset
  size_t rsum_offset, slice_bytes;
};

// Task t of the grid: row tiles [mt*ti/tm, mt*(ti+1)/tm) x panels [np*tj/tn, np*(tj+1)/tn).
void run_task(void* arg, size_t t) {
  const Plan& P = *static_cast<const Plan*>(arg);
  const GemmConfig& cfg = *P.cfg;
  const size_t mr = cfg.mr, nr = cfg.nr, kr = cfg.kr, kp = P.kp;
  const size_t ti = t / P.tn, tj = t % P.tn;
  const size_t r0 = P.mt * ti / P.tm * mr, r1 = std::min(P.m, P.mt * (ti + 1) / P.tm * mr);
  const size_t p0 = P.np * tj / P.tn, p1 = P.np * (tj + 1) / P.tn;
  char* slice = P.slices + t * P.slice_bytes;
  uint8_t* apack = reinterpret_cast<uint8_t*>(slice);
  int32_t* rsum = reinterpret_cast<int32_t*>(slice + P.rsum_offset);
  for (size_t i0 = r0; i0 < r1; i0 += P.mc) {
    const size_t mb = std::min(P.mc, r1 - i0);
    const uint8_t* ablock = P.a + i0 * P.lda;
    if (P.need_row_sums)
      row_sums(mb, P.k, ablock, P.lda, rsum);
    else
      std::memset(rsum, 0, mb * sizeof(int32_t));
    size_t a_row_stride, a_kgroup_stride, a_tile_stride;
    if (P.in_place) {
      a_row_stride = P.lda;
      a_kgroup_stride = kr;
      a_tile_stride = mr * P.lda;
    } else if (cfg.pack_a_tile) {  // the kernel's own layout, packed once per MC block
      const size_t tile_bytes = cfg.a_tile_bytes(kp);
      for (size_t ir = 0; ir < mb; ir += mr)
        cfg.pack_a_tile(std::min(mr, mb - ir), P.k, kp, ablock + ir * P.lda, P.lda, apack + (ir / mr) * tile_bytes);
      ablock = apack;
      a_row_stride = 0;
      a_kgroup_stride = 0;
      a_tile_stride = tile_bytes;
    } else {
      pack_a(mb, P.k, kp, ablock, P.lda, mr, kr, apack);
      ablock = apack;
      a_row_stride = kr;
      a_kgroup_stride = mr * kr;
      a_tile_stride = mr * kp;
    }
    for (size_t pj = p0; pj < p1; ++pj) {
      const size_t jp = pj * nr;
      const int8_t* panel = P.b->panels + pj * kp * nr;
      const size_t nb = std::min(nr, P.n - jp);
      for (size_t ir = 0; ir < mb; ir += mr) {
        char* ctile = P.c + (i0 + ir) * P.c_stride + jp * P.esize;
        cfg.ukernel(std::min(mr, mb - ir), nb, kp, ablock + (ir / mr) * a_tile_stride, a_row_stride,
                    a_kgroup_stride, panel, rsum + ir, ctile, P.c_stride, P.params, jp);
      }
    }
  }
}

// Picks the task grid tm x tn (tm*tn <= threads) that minimises the largest task: its packing
// (rows*kp) plus its multiply-adds (rows*cols*kp). Ties go to splitting N: each task then
// streams only its share of B, and small M (decode) splits over N panels.
void choose_grid(size_t threads, size_t mt, size_t np, size_t mr, size_t nr, size_t* tm, size_t* tn) {
  for (size_t t = std::min(threads, mt * np); t > 1; --t) {
    double best = 0.0;
    size_t bm = 0;
    for (size_t gm = 1; gm <= std::min(t, mt); ++gm) {
      if (t % gm != 0) continue;
      const size_t gn = t / gm;
      if (gn > np) continue;
      const double rows = static_cast<double>((mt + gm - 1) / gm * mr);
      const double cols = static_cast<double>((np + gn - 1) / gn * nr);
      const double cost = rows * (cols + 4.0);
      if (bm == 0 || cost < best || (cost == best && gm < bm)) {
        best = cost;
        bm = gm;
      }
    }
    if (bm != 0) {
      *tm = bm;
      *tn = t / bm;
      return;
    }
  }
  *tm = *tn = 1;
}

size_t default_threads(bool caller_pool) {
#ifdef _OPENMP
  if (!caller_pool) return static_cast<size_t>(std::max(1, omp_get_max_threads()));
#endif
  if (caller_pool) return std::max(1u, std::thread::hardware_concurrency());
  return 1;
}

}  // namespace

namespace detail {
constexpr size_t kDefaultMinTaskMacs = size_t{1} << 18;
void set_min_task_macs_for_testing(size_t macs) noexcept { g_min_task_macs.store(macs ? macs : kDefaultMinTaskMacs); }
void set_mc_for_testing(size_t rows) noexcept { g_mc_override.store(rows); }
bool gemm_blocking_for_testing(Isa isa, int64_t K, GemmBlocking* out) noexcept {
  const GemmConfig* cfg = gemm_config(isa);
  if (!cfg || !out || K < 0) return false;
  const size_t kp = round_up(static_cast<size_t>(K), cfg->kr);
  *out = GemmBlocking{cfg->mr, cfg->nr, cfg->kr, cfg->k_block, cfg->max_m_unpacked, row_block(*cfg, kp)};
  return true;
}
bool gemm_tile_for_testing(Isa isa, uint32_t* mr, uint32_t* nr, uint32_t* kr) noexcept {
  GemmBlocking b;
  if (!gemm_blocking_for_testing(isa, 0, &b)) return false;
  *mr = b.mr;
  *nr = b.nr;
  *kr = b.kr;
  return true;
}
}  // namespace detail

bool built_with_openmp() noexcept {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc) noexcept {
  return gemm(M, a, lda, za, b, out, c, ldc, GemmOptions{});
}

Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc, const GemmOptions& opt) noexcept {
  // ---- checks: nothing is written before all of them pass
  if (!b) return fail(Status::null_pointer, "gemm: packed weights are null");
  const int64_t K = b->K, N = b->N;
  if (M < 0) return fail(Status::negative_dimension, "gemm: M=%lld must be >= 0", static_cast<long long>(M));
  if (lda < K)
    return fail(Status::bad_leading_dimension, "gemm: lda=%lld < K=%lld", static_cast<long long>(lda), static_cast<long long>(K));
  if (ldc < N)
    return fail(Status::bad_leading_dimension, "gemm: ldc=%lld < N=%lld", static_cast<long long>(ldc), static_cast<long long>(N));
  if (!a && M != 0 && K != 0) return fail(Status::null_pointer, "gemm: A is null");
  if (!c && M != 0 && N != 0) return fail(Status::null_pointer, "gemm: C is null");
  if (za < 0 || za > 255) return fail(Status::bad_zero_point, "gemm: za=%d outside [0, 255]", za);
  if (opt.num_threads < 0 || opt.num_threads > kMaxThreads)
    return fail(Status::bad_argument, "gemm: num_threads=%d outside [0, %d]", opt.num_threads, kMaxThreads);
  int32_t lo = 0, hi = 0;
  if (Status s = check_stage(out, N, &lo, &hi); s != Status::ok) return s;
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  if (cfg != b->cfg)
    return fail(Status::packed_isa_mismatch, "gemm: weights were packed for %s but the active ISA is %s; pack them again",
                isa_name(b->cfg->isa), isa_name(cfg->isa));
  // The extents of A ((M-1)*lda + K bytes) and C (((M-1)*ldc + N) elements) must be addressable.
  const size_t esize = element_size(out.type);
  if (M > 0) {
    int64_t extent = 0;
    if (K > 0 && (__builtin_mul_overflow(M - 1, lda, &extent) || __builtin_add_overflow(extent, K, &extent)))
      return fail(Status::bad_leading_dimension, "gemm: A's extent (M-1)*lda+K overflows (M=%lld, lda=%lld)",
                  static_cast<long long>(M), static_cast<long long>(lda));
    if (N > 0 && (__builtin_mul_overflow(M - 1, ldc, &extent) || __builtin_add_overflow(extent, N, &extent) ||
                  __builtin_mul_overflow(extent, static_cast<int64_t>(esize), &extent)))
      return fail(Status::bad_leading_dimension, "gemm: C's extent ((M-1)*ldc+N)*%zu bytes overflows (M=%lld, ldc=%lld)",
                  esize, static_cast<long long>(M), static_cast<long long>(ldc));
  }
  const int64_t amax = std::max(za, 255 - za);
  for (int64_t j = 0; j < N; ++j) {
    const int64_t bias = out.bias_s32 ? std::abs(static_cast<int64_t>(out.bias_s32[j])) : 0;
    if (amax * b->l1[j] + bias > kI32Max)
      return fail(Status::overflow_risk,
                  "gemm: column %lld can reach |acc| = %lld*%lld + %lld > INT32_MAX (K=%lld, za=%d)",
                  static_cast<long long>(j), static_cast<long long>(amax), static_cast<long long>(b->l1[j]),
                  static_cast<long long>(bias), static_cast<long long>(K), za);
  }
  if (M == 0 || N == 0) {
    set_last_kernel("none");
    return succeed();
  }

  // ---- task grid and scratch (all allocated here, before anything is written)
  const size_t m = static_cast<size_t>(M), n = static_cast<size_t>(N), k = static_cast<size_t>(K);
  const size_t mr = cfg->mr, nr = cfg->nr, kr = cfg->kr, kp = b->kp;
  const bool in_place = cfg->max_m_unpacked != 0 && m <= cfg->max_m_unpacked && k % kr == 0;
  const size_t mt = (m + mr - 1) / mr, np = (n + nr - 1) / nr;
  size_t threads = opt.num_threads > 0 ? static_cast<size_t>(opt.num_threads)
                                       : default_threads(opt.parallel_for != nullptr);
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(std::max<size_t>(kp, 1));
  const double by_work = std::max(1.0, macs / static_cast<double>(g_min_task_macs.load()));
  if (static_cast<double>(threads) > by_work) threads = static_cast<size_t>(by_work);
  size_t tm = 1, tn = 1;
  choose_grid(threads, mt, np, mr, nr, &tm, &tn);
  const size_t tasks = tm * tn;
  const size_t task_rows = (mt + tm - 1) / tm * mr;
  // task_rows and row_block() are multiples of MR, so every MC block is whole MR-row tiles
  // except the last one of a task.
  const size_t mc = std::min(task_rows, row_block(*cfg, kp));
  const size_t ncol = round_up(n, 16);
  size_t a_bytes = 0, slice_bytes = 0, total = 0;
  // kp is bounded first, so a kernel's a_tile_bytes(kp) cannot overflow.
  const bool a_overflow =
      kp > (size_t{1} << 46) ||
      (!in_place && (cfg->pack_a_tile ? __builtin_mul_overflow(mc / mr, cfg->a_tile_bytes(kp), &a_bytes)
                                      : __builtin_mul_overflow(mc, kp, &a_bytes)));
  const size_t table_stride = region_stride(ncol * 4);
  if (a_overflow || a_bytes > (size_t{1} << 46) ||
      __builtin_add_overflow(region_stride(a_bytes), region_stride(mc * sizeof(int32_t)), &slice_bytes) ||
      __builtin_mul_overflow(slice_bytes, tasks, &total) || __builtin_add_overflow(total, 5 * table_stride, &total))
    return fail(Status::out_of_memory, "gemm: scratch size overflows (K=%lld)", static_cast<long long>(K));
  const size_t rsum_offset = region_stride(a_bytes);
  ScratchLease lease(total);
  char* base = static_cast<char*>(lease.get());
  if (!base) return fail(Status::out_of_memory, "gemm: cannot allocate %zu bytes of scratch", total);
  for (size_t r = 0; r < 5; ++r) lease.guard(r * table_stride, ncol * 4);
  for (size_t t = 0; t < tasks; ++t) {
    const size_t s0 = 5 * table_stride + t * slice_bytes;
    lease.guard(s0, a_bytes);
    lease.guard(s0 + rsum_offset, mc * sizeof(int32_t));
  }

  // ---- per-call output-stage tables (per column, see StageParams)
  auto* col_off = reinterpret_cast<int32_t*>(base);
  auto* mult = reinterpret_cast<int32_t*>(base + 1 * table_stride);
  auto* shift = reinterpret_cast<int32_t*>(base + 2 * table_stride);
  auto* scale = reinterpret_cast<float*>(base + 3 * table_stride);
  auto* fbias = reinterpret_cast<float*>(base + 4 * table_stride);

  StageParams p{};
  p.col_off = col_off;
  p.zb = b->zb;
  p.zo = out.zero_point;
  p.qmin = lo - out.zero_point;
  p.qmax = hi - out.zero_point;
  p.out_u8 = out.type == OutputType::u8;
  p.fmin = out.clamp_lo_f32;
  p.fmax = out.clamp_hi_f32;
  const uint32_t kza = static_cast<uint32_t>(K) * static_cast<uint32_t>(za);
  for (size_t j = 0; j < n; ++j)  // modular: bias - za*colsum + K*za*zb
    col_off[j] = static_cast<int32_t>((out.bias_s32 ? static_cast<uint32_t>(out.bias_s32[j]) : 0u) -
                                      static_cast<uint32_t>(za) * static_cast<uint32_t>(b->colsum[j]) +
                                      kza * static_cast<uint32_t>(b->zb[j]));
  auto col = [&](size_t j) { return out.per_column ? j : 0; };
  switch (out.type) {
    case OutputType::s32:
      p.kind = StageKind::s32;
      break;
    case OutputType::f32:
      p.kind = StageKind::f32;
      for (size_t j = 0; j < n; ++j) {
        scale[j] = out.act_scale * out.weight_scale[col(j)];
        fbias[j] = out.bias_f32 ? out.bias_f32[j] : 0.0f;
      }
      p.scale = scale;
      p.fbias = fbias;
      break;
    default:
      if (out.requant == Requant::fixed_point) {
        p.kind = out.rounding == Rounding::single_rounding ? StageKind::fixed_single : StageKind::fixed_double;
        for (size_t j = 0; j < n; ++j) {
          mult[j] = out.multiplier[col(j)];
          shift[j] = out.shift[col(j)];
        }
        p.mult = mult;
        p.shift = shift;
      } else {
        p.kind = StageKind::float_mult;
        for (size_t j = 0; j < n; ++j) {
          const float sab = out.act_scale * out.weight_scale[col(j)];  // FBGEMM's act_times_w_scale
          scale[j] = sab / out.out_scale;
          fbias[j] = out.bias_f32 ? out.bias_f32[j] / sab : 0.0f;
        }
        p.scale = scale;
        p.fbias = fbias;
      }
  }

  // ---- the tasks
  Plan plan{};
  plan.cfg = cfg;
  plan.b = b;
  plan.params = &p;
  plan.a = a;
  plan.lda = static_cast<size_t>(lda);
  plan.c = static_cast<char*>(c);
  plan.esize = esize;
  plan.c_stride = static_cast<size_t>(ldc) * esize;
  plan.m = m;
  plan.n = n;
  plan.k = k;
  plan.kp = kp;
  plan.mc = mc;
  plan.need_row_sums = !b->zb_all_zero || !cfg->row_sum_only_with_zb;
  plan.in_place = in_place;
  plan.tm = tm;
  plan.tn = tn;
  plan.mt = mt;
  plan.np = np;
  plan.slices = base + 5 * table_stride;
  plan.rsum_offset = rsum_offset;
  plan.slice_bytes = slice_bytes;
  if (tasks == 1) {
    run_task(&plan, 0);
  } else if (opt.parallel_for) {
    opt.parallel_for(opt.parallel_ctx, tasks, run_task, &plan);
  } else {
#ifdef _OPENMP
    const long n_tasks = static_cast<long>(tasks);
#pragma omp parallel for num_threads(static_cast<int>(tasks)) schedule(static, 1)
    for (long t = 0; t < n_tasks; ++t) run_task(&plan, static_cast<size_t>(t));
#else
    for (size_t t = 0; t < tasks; ++t) run_task(&plan, t);
#endif
  }
  set_last_kernel(cfg->name);
  return succeed();
}

}  // namespace qgemm
