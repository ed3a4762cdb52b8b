// The plan of one gemm() call: MC row blocks (from the kernel's descriptor and this core's L2),
// the task grid over (MR row tiles) x (NR column panels), the scratch, and the output stage
// expanded into per-column tables (StageParams). Each output tile belongs to one task, over the
// full K, so any thread count and any pool give the same bits.
//
// Scratch: the calling thread allocates everything a call needs (output-stage tables and one
// A-pack slice per task) from its own thread-local arena before any task starts, so an
// allocation failure is reported before anything is written and workers never allocate.
// Each task packs its own rows of A into its own slice (a task that splits N re-packs the
// same rows as its neighbours: O(rows*K) bytes against O(rows*K*cols) multiply-adds, about
// 1/cols of the work, and no barrier between a packing and a compute phase).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu.hpp"
#include "dispatch.hpp"
#include "errors.hpp"
#include "gemm_driver.hpp"
#include "size_ops.hpp"
#include "test_hooks.hpp"

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
namespace detail {
namespace {

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

// Smallest number of multiply-adds worth a task of its own (below, threads cost more than they
// give); see set_min_task_macs_for_testing.
constexpr size_t kDefaultMinTaskMacs = size_t{1} << 18;
std::atomic<size_t> g_min_task_macs{kDefaultMinTaskMacs};
std::atomic<size_t> g_mc_override{0};  // test hook: rows per MC block before rounding, 0 = off
std::atomic<size_t> g_kc_override{0};  // test hook: K values per K block before rounding, 0 = off

// Picks the task grid tm x tn (tm*tn <= threads) that minimises the largest task: its packing
// (rows*kp), its multiply-adds (rows*cols*kp) and its reading of B (cols*kp, weighted as 16
// rows of multiply-adds: every row group reads all of its columns' B, which at small M streams
// from memory). Without the B term, M = 8 on a 6-row tile split into 6 + 2 rows over all of N,
// so both tasks read all the weights (Ice Lake, 8x11008x4096: 2 threads 1.17-1.19x one thread,
// with it 1.80-2.04x; docs/notes/issue-16.md). Ties go to splitting N.
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
      const double cost = rows * (cols + 4.0) + 16.0 * cols;
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

ScratchLease::~ScratchLease() {
#ifdef QGEMM_ASAN
  if (ptr_) ASAN_UNPOISON_MEMORY_REGION(ptr_, bytes_);
#endif
  if (leased_)
    g_scratch.busy = false;
  else
    std::free(ptr_);
}

// The calling thread's arena, or a private heap block when the arena is already leased by an
// outer call on this thread (a caller's pool may run another job that calls gemm on a thread
// that is waiting inside gemm's parallel_for).
void* ScratchLease::acquire(size_t bytes) {
  bytes_ = bytes;
  if (!g_scratch.busy) {
    ptr_ = g_scratch.get(bytes);
    if (ptr_) {
      g_scratch.busy = true;
      leased_ = true;
    }
  } else if (posix_memalign(&ptr_, 64, bytes) != 0) {
    ptr_ = nullptr;
  }
  return ptr_;
}

void ScratchLease::guard(size_t offset, size_t used) const {
#ifdef QGEMM_ASAN
  const size_t from = offset + round_up(used, 8), to = offset + region_stride(used);
  if (ptr_ && to > from) ASAN_POISON_MEMORY_REGION(static_cast<char*>(ptr_) + from, to - from);
#else
  (void)offset;
  (void)used;
#endif
}

// A blocking override from the environment, for benchmarks (0 when unset): read once by each
// caller into a static.
static size_t env_size(const char* name) {
  const char* e = std::getenv(name);
  return e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) : size_t{0};
}

// Rows of A per MC block for a depth of kp bytes: the kernel's choice for this core's L2, or an
// MC x kp block of A in half of L2, capped at 1024 rows. Always a multiple of MR: the packers
// write whole MR-row tiles, and the A-pack area holds mc rows.
size_t row_block(const GemmConfig& cfg, size_t kp) {
  const size_t mr = cfg.mr;
  const size_t l2 = cpu_features().l2_bytes;
  size_t mc = cfg.mc_for_k ? cfg.mc_for_k(kp, l2) : std::min<size_t>(l2 / 2 / std::max<size_t>(kp, 1), 1024);
  // QGEMM_MC=<rows> overrides it for benchmarks, the test hook for the tests.
  static const size_t env_mc = env_size("QGEMM_MC");
  if (env_mc) mc = env_mc;
  if (const size_t o = g_mc_override.load(std::memory_order_relaxed)) mc = o;
  return std::max(mr, mc / mr * mr);
}

// K values per K block for a padded depth kp: the B block of one panel (NR x KC bytes) in a
// quarter of L2, so it stays in L2 while the MC rows of A stream over it; at least 256. (Half of
// L1d, oneDNN's choice, measured slower on Ice Lake at K = 768-4096, M >= 8: docs/notes/issue-16.md.)
// A whole number of the kernel's K block (its loop choice is per block) and K group, and the
// blocks of one call equal but the last: kp is split into ceil(kp / target) blocks. Returns kp
// when K is not blocked.
size_t depth_block(const GemmConfig& cfg, size_t kp) {
  const size_t unit = cfg.k_block ? cfg.k_block : cfg.kr;
  // QGEMM_KC=<K values> overrides the target (benchmarks; a value >= K turns K blocking off).
  static const size_t env_kc = env_size("QGEMM_KC");
  const size_t l2 = cpu_features().l2_bytes;
  size_t target = env_kc ? env_kc : cfg.kc_for_l2 ? cfg.kc_for_l2(l2) : size_max(256, l2 / 4 / cfg.nr);
  if (const size_t o = g_kc_override.load(std::memory_order_relaxed)) target = o;
  target = size_max(unit, target / unit * unit);
  if (kp <= target) return kp;
  const size_t blocks = (kp + target - 1) / target;
  return round_up((kp + blocks - 1) / blocks, unit);
}

Status plan_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights& b,
                 const GemmConfig& cfg_ref, const OutputStage& out, int32_t lo, int32_t hi, void* c,
                 int64_t ldc, const GemmOptions& opt, GemmPlan* plan) noexcept {
  const GemmConfig* cfg = &cfg_ref;
  const int64_t K = b.K, N = b.N;
  const size_t esize = element_size(out.type);
  // ---- task grid and scratch (all allocated here, before anything is written)
  const size_t m = static_cast<size_t>(M), n = static_cast<size_t>(N), k = static_cast<size_t>(K);
  const size_t mr = cfg->mr, nr = cfg->nr, kr = cfg->kr, kp = b.kp;
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
  // K blocks (K is never split across tasks: each task runs all of a tile's K blocks, so the
  // bits do not depend on the grid), and MC rows sized for one K block of A.
  const size_t kc = kp > (size_t{1} << 46) ? kp : depth_block(*cfg, kp);
  const size_t nkb = kc ? (kp + kc - 1) / kc : 1;
  // task_rows and row_block() are multiples of MR, so every MC block is whole MR-row tiles
  // except the last one of a task.
  const size_t mc = std::min(task_rows, row_block(*cfg, kc));
  // With K blocks, a task's partial sums of an MC x (nc_panels * NR) block of C stay in int32
  // between K blocks; A is packed again for each such block of columns. The block's partial
  // sums take a quarter of L2, so they are still there when the next K block adds to them
  // (8 MiB before: 128x4096x11008 on Ice Lake 0.95x oneDNN, now 1.00-1.07x;
  // docs/notes/issue-16.md). QGEMM_PART_BYTES overrides the budget (benchmarks).
  const size_t task_panels = (np + tn - 1) / tn;
  static const size_t env_part = env_size("QGEMM_PART_BYTES");
  const size_t part_budget = env_part ? env_part : cpu_features().l2_bytes / 4;
  const size_t nc_panels = nkb > 1 ? std::min(task_panels, size_max(1, part_budget / (mc * nr * 4))) : 0;
  const size_t part_stride = nc_panels * nr;
  const size_t ncol = round_up(std::max(n, mr), 16);
  size_t a_bytes = 0, slice_bytes = 0, total = 0;
  // kp is bounded first, so a kernel's a_tile_bytes(kc) cannot overflow.
  const bool a_overflow =
      kp > (size_t{1} << 46) ||
      (!in_place && (cfg->pack_a_tile ? __builtin_mul_overflow(mc / mr, cfg->a_tile_bytes(kc), &a_bytes)
                                      : __builtin_mul_overflow(mc, kc, &a_bytes)));
  const size_t table_stride = region_stride(ncol * 4);
  const size_t part_bytes = mc * part_stride * sizeof(int32_t);
  if (a_overflow || a_bytes > (size_t{1} << 46) ||
      __builtin_add_overflow(region_stride(a_bytes), region_stride(mc * sizeof(int32_t)), &slice_bytes) ||
      __builtin_add_overflow(slice_bytes, region_stride(part_bytes), &slice_bytes) ||
      __builtin_mul_overflow(slice_bytes, tasks, &total) || __builtin_add_overflow(total, 6 * table_stride, &total))
    return fail(Status::out_of_memory, "gemm: scratch size overflows (K=%lld)", static_cast<long long>(K));
  const size_t rsum_offset = region_stride(a_bytes);
  const size_t part_offset = rsum_offset + region_stride(mc * sizeof(int32_t));
  ScratchLease& lease = plan->lease;
  char* base = static_cast<char*>(lease.acquire(total));
  if (!base) return fail(Status::out_of_memory, "gemm: cannot allocate %zu bytes of scratch", total);
  for (size_t r = 0; r < 6; ++r) lease.guard(r * table_stride, ncol * 4);
  for (size_t t = 0; t < tasks; ++t) {
    const size_t s0 = 6 * table_stride + t * slice_bytes;
    lease.guard(s0, a_bytes);
    lease.guard(s0 + rsum_offset, mc * sizeof(int32_t));
    lease.guard(s0 + part_offset, part_bytes);
  }
  // Zeros: the column tables and row sums of the raw stage that K blocks but the last store.
  auto* zeros = reinterpret_cast<int32_t*>(base + 5 * table_stride);
  std::memset(zeros, 0, ncol * 4);
  StageParams& raw = plan->raw;
  raw = StageParams{};
  raw.kind = StageKind::s32;
  raw.col_off = zeros;
  raw.zb = zeros;
  raw.zb_zero = true;
  plan->zeros = zeros;

  // ---- per-call output-stage tables (per column, see StageParams)
  auto* col_off = reinterpret_cast<int32_t*>(base);
  auto* mult = reinterpret_cast<int32_t*>(base + 1 * table_stride);
  auto* shift = reinterpret_cast<int32_t*>(base + 2 * table_stride);
  auto* scale = reinterpret_cast<float*>(base + 3 * table_stride);
  auto* fbias = reinterpret_cast<float*>(base + 4 * table_stride);

  StageParams& p = plan->params;
  p.col_off = col_off;
  p.colsum = nkb == 1 ? b.colsum : nullptr;  // the whole K in each call (see StageParams)
  p.zb = b.zb;
  p.zb_zero = b.zb_all_zero;  // the kernels may skip row_sum[i] * zb[j]
  p.zo = out.zero_point;
  p.qmin = lo - out.zero_point;
  p.qmax = hi - out.zero_point;
  p.out_u8 = out.type == OutputType::u8;
  p.fmin = out.clamp_lo_f32;
  p.fmax = out.clamp_hi_f32;
  const uint32_t kza = static_cast<uint32_t>(K) * static_cast<uint32_t>(za);
  for (size_t j = 0; j < n; ++j)  // modular: bias - za*colsum + K*za*zb
    col_off[j] = static_cast<int32_t>((out.bias_s32 ? static_cast<uint32_t>(out.bias_s32[j]) : 0u) -
                                      static_cast<uint32_t>(za) * static_cast<uint32_t>(b.colsum[j]) +
                                      kza * static_cast<uint32_t>(b.zb[j]));
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

  // ---- what the tasks read
  plan->cfg = cfg;
  plan->b = &b;
  plan->a = a;
  plan->lda = static_cast<size_t>(lda);
  plan->c = static_cast<char*>(c);
  plan->esize = esize;
  plan->c_stride = static_cast<size_t>(ldc) * esize;
  plan->m = m;
  plan->n = n;
  plan->k = k;
  plan->kp = kp;
  plan->mc = mc;
  plan->need_row_sums = !b.zb_all_zero || !cfg->row_sum_only_with_zb;
  plan->in_place = in_place;
  plan->tm = tm;
  plan->tn = tn;
  plan->mt = mt;
  plan->np = np;
  plan->slices = base + 6 * table_stride;
  plan->rsum_offset = rsum_offset;
  plan->part_offset = part_offset;
  plan->part_stride = part_stride;
  plan->kc = kc;
  plan->nkb = nkb;
  plan->nc_panels = nc_panels;
  // The next panel's B goes to the kernel (b_next, prefetched by the VNNI kernels) only when the
  // weights are far larger than L2, i.e. stream from L3 or memory: there it keeps them
  // streaming during a panel's last tile (Ice Lake: 8x4096x4096 0.95-1.03x oneDNN without,
  // 1.03-1.13x with); where they fit L2 or nearly (576 KiB, 2.3 MiB) it only costs load slots
  // (1x768x768 1.09-1.20x without, 0.58-0.60x with). Where one tile of at most MR rows covers a
  // task's rows, the panels stream in order and the hardware prefetchers keep up with L3, so
  // there only weights larger than L3 get it (Zen 5, 1x4096x4096 from L3: 0.88-0.94x oneDNN
  // with, 1.04-1.10x without; 1x11008x4096 from memory: 1.04-1.13x with, 1.00-1.03x without;
  // docs/notes/issue-16.md).
  const double wbytes = static_cast<double>(n) * static_cast<double>(kp);
  const size_t l3 = cpu_features().l3_bytes;
  const bool one_tile = task_rows <= mr;
  plan->prefetch_next = wbytes > 4.0 * static_cast<double>(cpu_features().l2_bytes) &&
                        (!one_tile || l3 == 0 || wbytes > static_cast<double>(l3));
  plan->slice_bytes = slice_bytes;
  return Status::ok;
}

// Test hooks (src/test_hooks.hpp).
void set_min_task_macs_for_testing(size_t macs) noexcept { g_min_task_macs.store(macs ? macs : kDefaultMinTaskMacs); }
void set_mc_for_testing(size_t rows) noexcept { g_mc_override.store(rows); }
void set_kc_for_testing(size_t depth) noexcept { g_kc_override.store(depth); }
bool gemm_blocking_for_testing(Isa isa, int64_t K, GemmBlocking* out) noexcept {
  const GemmConfig* cfg = gemm_config(isa);
  if (!cfg || !out || K < 0) return false;
  const size_t kp = round_up(static_cast<size_t>(K), cfg->kr);
  const size_t kc = depth_block(*cfg, kp);
  *out = GemmBlocking{cfg->mr, cfg->nr, cfg->kr, cfg->k_block, cfg->max_m_unpacked, row_block(*cfg, kc), kc};
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
}  // namespace qgemm
