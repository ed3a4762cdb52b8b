// The tasks of a planned gemm() call: in each, MC blocks of A (row sums, then packed: the
// kernel's own tile layout, the generic panels, or read in place for small M) -> NR column
// panels x MR row tiles -> the microkernel, whose stores apply the fused output stage.
#include <algorithm>
#include <cstring>

#include "gemm_driver.hpp"

namespace qgemm {
namespace detail {
namespace {

// Copies KR-byte groups of one row of A into a panel with a group stride of MR*KR bytes
// (constant-size copies for the common KR, no per-byte index arithmetic).
template <size_t KR>
void copy_groups(const uint8_t* row, size_t full, uint8_t* dst, size_t group_stride) {
  for (size_t k0 = 0; k0 < full; k0 += KR, dst += group_stride) std::memcpy(dst, row + k0, KR);
}

// Row sums of the bytes the kernels read: A ^ flip (int8 A: A + 128 = the sum plus 128 * k).
void row_sums(size_t mb, size_t k, const uint8_t* a, size_t lda, uint8_t flip, int32_t* row_sum) {
  for (size_t i = 0; i < mb; ++i) {
    const uint8_t* row = a + i * lda;
    uint32_t sum = 0;
    if (flip)
      for (size_t kk = 0; kk < k; ++kk) sum += static_cast<uint8_t>(row[kk] ^ flip);
    else
      for (size_t kk = 0; kk < k; ++kk) sum += row[kk];
    row_sum[i] = static_cast<int32_t>(sum);
  }
}

// int8 A: rows [0, mb) x K values [0, klen) as the uint8 bytes A ^ 0x80, at stride `stride`.
void convert_rows(size_t mb, size_t klen, const uint8_t* a, size_t lda, uint8_t flip, uint8_t* dst, size_t stride) {
  for (size_t i = 0; i < mb; ++i) {
    const uint8_t* row = a + i * lda;
    uint8_t* out = dst + i * stride;
    for (size_t kk = 0; kk < klen; ++kk) out[kk] = static_cast<uint8_t>(row[kk] ^ flip);
  }
}

// K block [k0, k0 + kpb) of an MC block's rows of A as the kernel reads it: in place, packed in
// the kernel's own tile layout (once per MC and K block), or in the generic panels. int8 A is
// converted to its uint8 bytes first (into `conv`, once per MC and K block), and that copy is
// then read in place or packed.
struct ABlock {
  const uint8_t* a;
  size_t row_stride, kgroup_stride;
  size_t tile_stride;  // packed A: bytes from one MR-row tile to the next
};

ABlock prepare_a(const GemmPlan& P, const uint8_t* arows, size_t mb, size_t k0, size_t kpb, uint8_t* apack,
                 uint8_t* conv) {
  const GemmConfig& cfg = *P.cfg;
  const size_t mr = cfg.mr, kr = cfg.kr;
  const uint8_t* asrc = arows + k0;
  size_t lda = P.lda;
  const size_t klen = std::min(P.k, k0 + kpb) - k0;
  if (P.a_flip) {
    convert_rows(mb, klen, asrc, lda, P.a_flip, conv, P.conv_stride);
    asrc = conv;
    lda = P.conv_stride;
  }
  if (P.in_place) return ABlock{asrc, lda, kr, 0};
  if (cfg.pack_a_tile) {
    const size_t tile_bytes = cfg.a_tile_bytes(kpb);
    for (size_t ir = 0; ir < mb; ir += mr)
      cfg.pack_a_tile(std::min(mr, mb - ir), klen, kpb, asrc + ir * lda, lda, apack + (ir / mr) * tile_bytes);
    return ABlock{apack, 0, 0, tile_bytes};
  }
  pack_a_panels(mb, klen, kpb, asrc, lda, mr, kr, apack);
  return ABlock{apack, kr, mr * kr, mr * kpb};
}

// One K block (kb) of an MC block (rows [i0, i0 + mb) of C) over panels [pc0, pc1): the
// microkernel per panel and row tile. Blocks but the last store raw int32 sums into `part`
// (each adding the sums before it, TileArgs::acc_in); the last one adds them and applies the
// call's output stage.
void run_k_block(const GemmPlan& P, const ABlock& A, size_t i0, size_t mb, size_t pc0, size_t pc1, size_t kb,
                 const int32_t* rsum, int32_t* part) {
  const GemmConfig& cfg = *P.cfg;
  const size_t mr = cfg.mr, nr = cfg.nr;
  const size_t k0 = kb * P.kc, kpb = std::min(P.kc, P.kp - k0);
  const bool last = kb + 1 == P.k_blocks;
  const char* panels = static_cast<const char*>(P.b->panels) + P.b->format->depth_offset(nr, k0);
  const size_t panel_bytes = P.b->panel_bytes;
  // Calls over the MC block's rows. Packed A: whole MR-row tiles. A read in place: a kernel that
  // takes more rows per call (GemmConfig::max_rows_per_call) gets a block of up to that many
  // whole. A larger block goes to a kernel that runs consecutive tiles (max > 2 MR) in
  // ceil(tiles / (max / MR)) calls of whole tiles, as even as whole tiles allow, the last call
  // short of the rows that ceil(mb / MR) tiles of MR lack (fewer than MR): the kernel splits a
  // call's rows into tiles that differ by at most one row, so calls of mb / ncalls rows each
  // (85-86 rows at M = 512) ran a third of their tiles with 5 rows instead of 4 tiles in all
  // (docs/notes/issue-29.md). To a kernel that pairs two tiles (max = 2 MR) it goes as single
  // tiles (pairs were slower at M >= 32, docs/kernel-notes.md): ceil(mb / MR) tiles whose sizes
  // differ by at most one row (M = 32 on a 6-row tile: 5/6-row tiles, not 5 x 6 + 2, whose
  // 2-row tile is short of accumulators and loads). Call rt starts at unit rt * units / ncalls
  // (rows for single tiles, MR-row tiles for calls of tiles), stepped without a division.
  const size_t max_rows = cfg.max_rows_per_call;
  const bool tile_calls = P.in_place && mb > max_rows && max_rows > 2 * mr;
  const size_t unit = tile_calls ? mr : 1;  // rows per unit of the split
  const size_t units = tile_calls ? (mb + mr - 1) / mr : mb;
  const size_t ncalls = !P.in_place     ? (mb + mr - 1) / mr
                        : mb <= max_rows ? 1
                        : tile_calls     ? (units + max_rows / mr - 1) / (max_rows / mr)
                                         : (mb + mr - 1) / mr;
  const size_t step = P.in_place ? units / ncalls * unit : mr, step_rem = P.in_place ? units % ncalls : 0;
  for (size_t pj = pc0; pj < pc1; ++pj) {
    const size_t jp = pj * nr, nb = std::min(nr, P.n - jp);
    const char* panel = panels + pj * panel_bytes;
    size_t next = 0, frac = 0;  // call rt + 1's first row, and (rt + 1) * units % ncalls (in place)
    for (size_t rt = 0; rt < ncalls; ++rt) {
      const size_t ir = next;
      next += step;
      frac += step_rem;
      if (frac >= ncalls) {
        frac -= ncalls;
        next += unit;
      }
      next = std::min(next, mb);
      const size_t rows = next - ir;
      const uint8_t* atile = P.in_place ? A.a + ir * A.row_stride : A.a + (ir / mr) * A.tile_stride;
      TileArgs ta;
      // The panel's last row tile may prefetch the B block that runs next; its first, when
      // more follow, reads B from beyond L2 (TileArgs::b_next, b_stream).
      ta.b_next = P.prefetch_next && rt + 1 == ncalls && pj + 1 < pc1 ? panel + panel_bytes : nullptr;
      ta.b_stream = P.prefetch_next && rt == 0 && (ncalls > 1 || rows > mr);
      char* ctile = P.c + (i0 + ir) * P.c_stride + jp * P.esize;
      if (P.k_blocks == 1) {
        ta.colsum = P.b->colsum;  // the whole K in this call
        cfg.ukernel(rows, nb, kpb, atile, A.row_stride, A.kgroup_stride, panel, rsum + ir, ctile, P.c_stride, &P.stage,
                    &ta, jp);
        continue;
      }
      int32_t* ptile = part + ir * P.part_stride + (pj - pc0) * nr;
      ta.acc_in = kb ? ptile : nullptr;
      ta.acc_in_stride = P.part_stride;
      if (last)
        cfg.ukernel(rows, nb, kpb, atile, A.row_stride, A.kgroup_stride, panel, rsum + ir, ctile, P.c_stride, &P.stage,
                    &ta, jp);
      else
        cfg.ukernel(rows, nb, kpb, atile, A.row_stride, A.kgroup_stride, panel, P.zeros, ptile,
                    P.part_stride * sizeof(int32_t), &P.raw, &ta, 0);
    }
  }
}

// Task t of the grid: row tiles [row_tiles*ti/grid_rows, ...) x panels [col_panels*tj/grid_cols, ...).
void run_task(void* arg, size_t t) {
  const GemmPlan& P = *static_cast<const GemmPlan*>(arg);
  const GemmConfig& cfg = *P.cfg;
  const size_t mr = cfg.mr;
  const size_t ti = t / P.grid_cols, tj = t % P.grid_cols;
  const size_t r0 = P.row_tiles * ti / P.grid_rows * mr, r1 = std::min(P.m, P.row_tiles * (ti + 1) / P.grid_rows * mr);
  const size_t p0 = P.col_panels * tj / P.grid_cols, p1 = P.col_panels * (tj + 1) / P.grid_cols;
  char* slice = P.slices + t * P.slice_bytes;
  uint8_t* apack = reinterpret_cast<uint8_t*>(slice);
  int32_t* rsum = reinterpret_cast<int32_t*>(slice + P.rsum_offset);
  int32_t* part = reinterpret_cast<int32_t*>(slice + P.part_offset);
  uint8_t* conv = reinterpret_cast<uint8_t*>(slice + P.conv_offset);
  if (cfg.task_begin) cfg.task_begin();
  // K blocked: per chunk of nc_panels panels, every K block of A is packed and run over the
  // chunk's tiles, whose partial sums stay in `part` between K blocks.
  const size_t chunk = P.k_blocks > 1 ? P.nc_panels : p1 - p0;
  for (size_t i0 = r0; i0 < r1; i0 += P.mc) {
    const size_t mb = std::min(P.mc, r1 - i0);
    const uint8_t* arows = P.a + i0 * P.lda;
    if (P.need_row_sums)
      row_sums(mb, P.k, arows, P.lda, P.a_flip, rsum);
    else
      std::memset(rsum, 0, mb * sizeof(int32_t));
    for (size_t pc0 = p0; pc0 < p1; pc0 += chunk) {
      const size_t pc1 = std::min(p1, pc0 + chunk);
      for (size_t kb = 0; kb < P.k_blocks; ++kb) {
        const size_t k0 = kb * P.kc;
        const ABlock A = prepare_a(P, arows, mb, k0, std::min(P.kc, P.kp - k0), apack, conv);
        run_k_block(P, A, i0, mb, pc0, pc1, kb, rsum, part);
      }
    }
  }
  if (cfg.task_end) cfg.task_end();
}

}  // namespace

void pack_a_panels(size_t mb, size_t k, size_t kp, const uint8_t* a, size_t lda, size_t mr, size_t kr,
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

void run_gemm(const GemmPlan& plan, const GemmOptions& opt) noexcept {
  const size_t tasks = plan.tasks();
  void* arg = const_cast<GemmPlan*>(&plan);
  if (tasks == 1) {
    run_task(arg, 0);
  } else if (opt.parallel_for) {
    opt.parallel_for(opt.parallel_ctx, tasks, run_task, arg);
  } else {
#ifdef _OPENMP
    const long n_tasks = static_cast<long>(tasks);
#pragma omp parallel for num_threads(static_cast<int>(tasks)) schedule(static, 1)
    for (long t = 0; t < n_tasks; ++t) run_task(arg, static_cast<size_t>(t));
#else
    for (size_t t = 0; t < tasks; ++t) run_task(arg, t);
#endif
  }
}

}  // namespace detail
}  // namespace qgemm
