// The plan of one gemm() call, in four steps: the task grid over (MR row tiles) x (NR column
// panels), the blocking (KC and MC from the kernel's descriptor and this core's caches), the
// scratch, and the output stage expanded into per-column tables (src/output_stage.cpp). Each
// output tile belongs to one task, over the full K, so any thread count and any pool give the
// same bits. Environment overrides and test hooks are read once, at the start (PlanOverrides).
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
#include "output_stage.hpp"
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

// Picks the task grid (grid_rows x grid_cols <= threads tasks over row_tiles MR-row tiles x
// col_panels NR-column panels) that minimises the largest task: its packing (rows*kp), its
// multiply-adds (rows*cols*kp) and its reading of B (cols*kp, weighted as 16 rows of
// multiply-adds: every row group reads all of its columns' B, which at small M streams from
// memory). Without the B term, M = 8 on a 6-row tile split into 6 + 2 rows over all of N, so
// both tasks read all the weights (docs/kernel-notes.md, "Task grid"). Ties go to splitting N.
void choose_grid(size_t threads, size_t row_tiles, size_t col_panels, size_t mr, size_t nr, size_t* grid_rows,
                 size_t* grid_cols) {
  for (size_t t = std::min(threads, row_tiles * col_panels); t > 1; --t) {
    double best = 0.0;
    size_t bm = 0;
    for (size_t gm = 1; gm <= std::min(t, row_tiles); ++gm) {
      if (t % gm != 0) continue;
      const size_t gn = t / gm;
      if (gn > col_panels) continue;
      const double rows = static_cast<double>((row_tiles + gm - 1) / gm * mr);
      const double cols = static_cast<double>((col_panels + gn - 1) / gn * nr);
      const double cost = rows * (cols + 4.0) + 16.0 * cols;
      if (bm == 0 || cost < best || (cost == best && gm < bm)) {
        best = cost;
        bm = gm;
      }
    }
    if (bm != 0) {
      *grid_rows = bm;
      *grid_cols = t / bm;
      return;
    }
  }
  *grid_rows = *grid_cols = 1;
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

namespace {

// Blocking overrides, read once per call at the plan's edge: the environment (benchmarks; read
// once per process) and the test hooks (src/test_hooks.hpp). 0 = no override.
struct PlanOverrides {
  size_t mc = 0;          // QGEMM_MC=<rows> / set_mc_for_testing: MC before rounding to MR
  size_t kc = 0;          // QGEMM_KC=<K values> / set_kc_for_testing: the KC target
  size_t part_bytes = 0;  // QGEMM_PART_BYTES: the partial sums' budget (K blocked)
  size_t min_task_macs = kDefaultMinTaskMacs;
};

size_t env_size(const char* name) {
  const char* e = std::getenv(name);
  return e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) : size_t{0};
}

PlanOverrides read_overrides() {
  static const size_t env_mc = env_size("QGEMM_MC"), env_kc = env_size("QGEMM_KC");
  static const size_t env_part = env_size("QGEMM_PART_BYTES");
  PlanOverrides o;
  const size_t hook_mc = g_mc_override.load(std::memory_order_relaxed);
  const size_t hook_kc = g_kc_override.load(std::memory_order_relaxed);
  o.mc = hook_mc ? hook_mc : env_mc;
  o.kc = hook_kc ? hook_kc : env_kc;
  o.part_bytes = env_part;
  o.min_task_macs = g_min_task_macs.load(std::memory_order_relaxed);
  return o;
}

// MC, the most rows of A per cache block for a depth of kc bytes: the kernel's choice for this
// core's L2, or an MC x kc block of A in half of L2, capped at 1024 rows; rounded up to whole
// MR-row tiles (the packers write whole tiles, and the A-pack area holds mc rows), so a block
// may exceed the rule by less than a tile. Rounded down, M = 128 at K = 4096 (the AVX-512 VNNI
// rule's 128 rows) ran as 126 + 2 rows, the weights streamed twice, the second time for a
// 2-row tile (docs/notes/issue-29.md).
size_t choose_mc(const GemmConfig& cfg, size_t kc, size_t l2, size_t override_rows) {
  size_t mc = cfg.mc_for_k ? cfg.mc_for_k(kc, l2) : std::min<size_t>(l2 / 2 / std::max<size_t>(kc, 1), 1024);
  if (override_rows) mc = override_rows;
  return round_up(std::max<size_t>(mc, 1), cfg.mr);
}

// KC, K values per K block for a padded depth kp: the kernel's target for this core's L2, or the
// B block of one panel (NR x KC bytes) in a quarter of L2, so it stays in L2 while the MC rows
// of A stream over it; at least 256 (docs/kernel-notes.md, "K blocks"). A whole number of the
// kernel's kc_unit, and the blocks of one call equal but the last: kp is split into
// ceil(kp / target) blocks. Returns kp when K is not blocked.
size_t choose_kc(const GemmConfig& cfg, size_t kp, size_t l2, size_t override_target) {
  const size_t unit = cfg.kc_unit ? cfg.kc_unit : cfg.kr;
  size_t target = cfg.kc_for_l2 ? cfg.kc_for_l2(l2) : size_max(256, l2 / 4 / cfg.nr);
  if (override_target) target = override_target;
  target = size_max(unit, target / unit * unit);
  if (kp <= target) return kp;
  const size_t blocks = (kp + target - 1) / target;
  return round_up((kp + blocks - 1) / blocks, unit);
}

// The task grid: as many tasks as threads, but none smaller than min_task_macs multiply-adds.
void plan_grid(const GemmOptions& opt, const PlanOverrides& ov, GemmPlan* P) {
  const GemmConfig& cfg = *P->cfg;
  P->row_tiles = (P->m + cfg.mr - 1) / cfg.mr;
  P->col_panels = (P->n + cfg.nr - 1) / cfg.nr;
  size_t threads = opt.num_threads > 0 ? static_cast<size_t>(opt.num_threads) : default_threads(opt.parallel_for != nullptr);
  const double macs = static_cast<double>(P->m) * static_cast<double>(P->n) * static_cast<double>(std::max<size_t>(P->kp, 1));
  const double by_work = std::max(1.0, macs / static_cast<double>(ov.min_task_macs));
  if (static_cast<double>(threads) > by_work) threads = static_cast<size_t>(by_work);
  choose_grid(threads, P->row_tiles, P->col_panels, cfg.mr, cfg.nr, &P->grid_rows, &P->grid_cols);
}

// K blocks and MC (K is never split across tasks: each task runs all of a tile's K blocks, so
// the bits do not depend on the grid; MC is sized for one K block of A). With K blocks, a task's
// partial sums of an MC x (nc_panels * NR) block of C stay in int32 between K blocks, in a
// quarter of L2, so they are still there when the next K block adds to them.
void plan_blocking(const PlanOverrides& ov, GemmPlan* P) {
  const GemmConfig& cfg = *P->cfg;
  const size_t l2 = cpu_features().l2_bytes;
  P->in_place = cfg.max_m_unpacked != 0 && P->m <= cfg.max_m_unpacked && P->k % cfg.kr == 0;
  const size_t task_rows = (P->row_tiles + P->grid_rows - 1) / P->grid_rows * cfg.mr;
  P->kc = P->kp > (size_t{1} << 46) ? P->kp : choose_kc(cfg, P->kp, l2, ov.kc);
  P->k_blocks = P->kc ? (P->kp + P->kc - 1) / P->kc : 1;
  // A task's rows in as few MC blocks as choose_mc() allows, of equal whole MR-row tiles (the
  // last one of a task shorter): 2048 rows with MC = 324 as 6 x 294 + 284, not 6 x 324 + 104.
  const size_t mc_max = choose_mc(cfg, P->kc, l2, ov.mc);
  const size_t rows = std::max<size_t>(1, std::min(task_rows, P->m));
  const size_t blocks = (rows + mc_max - 1) / mc_max;
  P->mc = std::min(task_rows, round_up((rows + blocks - 1) / blocks, cfg.mr));
  const size_t task_panels = (P->col_panels + P->grid_cols - 1) / P->grid_cols;
  const size_t part_budget = ov.part_bytes ? ov.part_bytes : l2 / 4;
  P->nc_panels = P->k_blocks > 1 ? std::min(task_panels, size_max(1, part_budget / (P->mc * cfg.nr * 4))) : 0;
  P->part_stride = P->nc_panels * cfg.nr;
  P->need_row_sums = !P->b->zb_all_zero || !cfg.row_sum_only_with_zb;
}

// Scratch: the output-stage tables, a zero table, and one slice per task (packed A, row sums,
// partial sums, and for int8 A its converted rows), all from the calling thread's arena before
// any task starts.
Status plan_scratch(StageTables* tables, GemmPlan* P) {
  const GemmConfig& cfg = *P->cfg;
  const size_t mc = P->mc, kc = P->kc, tasks = P->tasks();
  const size_t ncol = round_up(std::max(P->n, static_cast<size_t>(cfg.mr)), 16);
  size_t a_bytes = 0, slice_bytes = 0, total = 0;
  // kp is bounded first, so a kernel's a_tile_bytes(kc) cannot overflow.
  const bool a_overflow =
      P->kp > (size_t{1} << 46) ||
      (!P->in_place && (cfg.pack_a_tile ? __builtin_mul_overflow(mc / cfg.mr, cfg.a_tile_bytes(kc), &a_bytes)
                                        : __builtin_mul_overflow(mc, kc, &a_bytes)));
  // The stage's tables (ncol entries each), then the zeros: the raw stage's column tables and
  // the row sums of K blocks but the last, so as many entries as columns or MC rows (a kernel
  // call covers up to max_rows_per_call rows of an MC block).
  const size_t table_stride = region_stride(ncol * 4);
  const size_t nzero = std::max(ncol, round_up(mc, 16));
  const size_t tables_bytes = kStageTableCount * table_stride + region_stride(nzero * 4);
  const size_t part_bytes = mc * P->part_stride * sizeof(int32_t);
  // One line more than the block's depth: rows 4 KiB apart alias in L1 (docs/kernel-notes.md,
  // "Sign combinations").
  P->conv_stride = P->a_flip ? round_up(kc, 64) + 64 : 0;
  const size_t conv_bytes = mc * P->conv_stride;  // kc <= kp is bounded above: no overflow
  if (a_overflow || a_bytes > (size_t{1} << 46) ||
      __builtin_add_overflow(region_stride(a_bytes), region_stride(mc * sizeof(int32_t)), &slice_bytes) ||
      __builtin_add_overflow(slice_bytes, region_stride(part_bytes), &slice_bytes) ||
      __builtin_add_overflow(slice_bytes, region_stride(conv_bytes), &slice_bytes) ||
      __builtin_mul_overflow(slice_bytes, tasks, &total) || __builtin_add_overflow(total, tables_bytes, &total))
    return fail(Status::out_of_memory, "gemm: scratch size overflows (K=%zu)", P->k);
  P->rsum_offset = region_stride(a_bytes);
  P->part_offset = P->rsum_offset + region_stride(mc * sizeof(int32_t));
  P->conv_offset = P->part_offset + region_stride(part_bytes);
  P->slice_bytes = slice_bytes;
  char* base = static_cast<char*>(P->lease.acquire(total));
  if (!base) return fail(Status::out_of_memory, "gemm: cannot allocate %zu bytes of scratch", total);
  for (size_t r = 0; r < kStageTableCount; ++r) P->lease.guard(r * table_stride, ncol * 4);
  P->lease.guard(kStageTableCount * table_stride, nzero * 4);
  for (size_t t = 0; t < tasks; ++t) {
    const size_t s0 = tables_bytes + t * slice_bytes;
    P->lease.guard(s0, a_bytes);
    P->lease.guard(s0 + P->rsum_offset, mc * sizeof(int32_t));
    P->lease.guard(s0 + P->part_offset, part_bytes);
    P->lease.guard(s0 + P->conv_offset, conv_bytes);
  }
  tables->col_off = reinterpret_cast<int32_t*>(base);
  tables->mult = reinterpret_cast<int32_t*>(base + 1 * table_stride);
  tables->shift = reinterpret_cast<int32_t*>(base + 2 * table_stride);
  tables->scale = reinterpret_cast<float*>(base + 3 * table_stride);
  tables->fbias = reinterpret_cast<float*>(base + 4 * table_stride);
  auto* zeros = reinterpret_cast<int32_t*>(base + kStageTableCount * table_stride);
  std::memset(zeros, 0, nzero * 4);
  P->zeros = zeros;
  P->slices = base + tables_bytes;
  return Status::ok;
}

// The next panel's B goes to the kernel (TileArgs::b_next, prefetched by the VNNI kernels) only
// when the weights are far larger than L2, i.e. stream from L3 or memory: there it keeps them
// streaming during a panel's last tiles; where they fit L2 or nearly it only costs load slots.
// More than 4x L2, or more than 3x where a task runs more than two row tiles: 4 MiB of weights
// (2048x2048) on a 1 MiB L2 gained 2-6% from it at M >= 32 and lost 5-30% at M = 4-8
// (docs/notes/issue-29.md). Where one tile covers a task's rows and the weights fit L3, only
// tiles of at least the kernel's l3_prefetch_min_rows get it (docs/kernel-notes.md, "Prefetch").
void plan_prefetch(GemmPlan* P) {
  const double wbytes = static_cast<double>(P->n) * static_cast<double>(P->kp);
  const size_t l2 = cpu_features().l2_bytes, l3 = cpu_features().l3_bytes;
  const size_t task_rows = (P->row_tiles + P->grid_rows - 1) / P->grid_rows * P->cfg->mr;
  const bool one_tile = task_rows <= P->cfg->mr;
  const bool beyond_l3 = l3 == 0 || wbytes > static_cast<double>(l3);
  const bool rows_enough = std::min<size_t>(P->m, P->cfg->mr) >= P->cfg->l3_prefetch_min_rows;
  const double l2_times = task_rows > 2 * P->cfg->mr ? 3.0 : 4.0;
  P->prefetch_next = wbytes > l2_times * static_cast<double>(l2) && (!one_tile || beyond_l3 || rows_enough);
}

}  // namespace

Status plan_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, uint8_t a_flip, const PackedWeights& b,
                 const GemmConfig& cfg, const OutputStage& out, int32_t lo, int32_t hi, void* c,
                 int64_t ldc, const GemmOptions& opt, GemmPlan* plan) noexcept {
  GemmPlan& P = *plan;
  P.cfg = &cfg;
  P.b = &b;
  P.a = a;
  P.lda = static_cast<size_t>(lda);
  P.a_flip = a_flip;
  P.c = static_cast<char*>(c);
  P.esize = output_element_size(out.type);
  P.c_stride = static_cast<size_t>(ldc) * P.esize;
  P.m = static_cast<size_t>(M);
  P.n = static_cast<size_t>(b.N);
  P.k = static_cast<size_t>(b.K);
  P.kp = b.kp;
  const PlanOverrides ov = read_overrides();
  plan_grid(opt, ov, &P);
  plan_blocking(ov, &P);
  StageTables tables{};
  if (Status s = plan_scratch(&tables, &P); s != Status::ok) return s;
  expand_output_stage(out, lo, hi, za, b, tables, &P.stage);
  P.raw = raw_sums_stage(P.zeros);
  plan_prefetch(&P);
  return Status::ok;
}

// Test hooks (src/test_hooks.hpp).
void set_min_task_macs_for_testing(size_t macs) noexcept { g_min_task_macs.store(macs ? macs : kDefaultMinTaskMacs); }
void set_mc_for_testing(size_t rows) noexcept { g_mc_override.store(rows); }
void set_kc_for_testing(size_t depth) noexcept { g_kc_override.store(depth); }
bool gemm_blocking_for_testing(Isa isa, int64_t K, GemmBlocking* out) noexcept {
  const GemmConfig* cfg = gemm_config(isa);
  if (!cfg || !out || K < 0) return false;
  const PlanOverrides ov = read_overrides();
  const size_t l2 = cpu_features().l2_bytes;
  const size_t kp = round_up(static_cast<size_t>(K), cfg->kr);
  const size_t kc = choose_kc(*cfg, kp, l2, ov.kc);
  *out = GemmBlocking{cfg->mr, cfg->nr, cfg->kr, cfg->kc_unit, cfg->max_m_unpacked, choose_mc(*cfg, kc, l2, ov.mc), kc};
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
