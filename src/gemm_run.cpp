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

void row_sums(size_t mb, size_t k, const uint8_t* a, size_t lda, int32_t* row_sum) {
  for (size_t i = 0; i < mb; ++i) {
    const uint8_t* row = a + i * lda;
    uint32_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) sum += row[kk];
    row_sum[i] = static_cast<int32_t>(sum);
  }
}

// Task t of the grid: row tiles [mt*ti/tm, mt*(ti+1)/tm) x panels [np*tj/tn, np*(tj+1)/tn).
void run_task(void* arg, size_t t) {
  const GemmPlan& P = *static_cast<const GemmPlan*>(arg);
  const GemmConfig& cfg = *P.cfg;
  const size_t mr = cfg.mr, nr = cfg.nr, kr = cfg.kr, kp = P.kp;
  const size_t ti = t / P.tn, tj = t % P.tn;
  const size_t r0 = P.mt * ti / P.tm * mr, r1 = std::min(P.m, P.mt * (ti + 1) / P.tm * mr);
  const size_t p0 = P.np * tj / P.tn, p1 = P.np * (tj + 1) / P.tn;
  char* slice = P.slices + t * P.slice_bytes;
  uint8_t* apack = reinterpret_cast<uint8_t*>(slice);
  int32_t* rsum = reinterpret_cast<int32_t*>(slice + P.rsum_offset);
  int32_t* part = reinterpret_cast<int32_t*>(slice + P.part_offset);
  if (cfg.task_begin) cfg.task_begin();
  // K blocked (nkb > 1): per chunk of nc_panels panels, every K block of A is packed and run over
  // the chunk's tiles; the blocks but the last store raw int32 sums into `part` (each adding the
  // sums before it, StageParams::acc_in), the last one adds them and applies the output stage.
  const size_t chunk = P.nkb > 1 ? P.nc_panels : p1 - p0;
  for (size_t i0 = r0; i0 < r1; i0 += P.mc) {
    const size_t mb = std::min(P.mc, r1 - i0);
    const uint8_t* arows = P.a + i0 * P.lda;
    if (P.need_row_sums)
      row_sums(mb, P.k, arows, P.lda, rsum);
    else
      std::memset(rsum, 0, mb * sizeof(int32_t));
    for (size_t pc0 = p0; pc0 < p1; pc0 += chunk) {
      const size_t pc1 = std::min(p1, pc0 + chunk);
      for (size_t kb = 0; kb < P.nkb; ++kb) {
        const size_t k0 = kb * P.kc, kpb = std::min(P.kc, kp - k0), klen = std::min(P.k, k0 + kpb) - k0;
        const uint8_t* asrc = arows + k0;
        const uint8_t* ablock;
        size_t a_row_stride, a_kgroup_stride, a_tile_stride = 0;  // tile stride: packed A only
        if (P.in_place) {
          ablock = asrc;
          a_row_stride = P.lda;
          a_kgroup_stride = kr;
        } else if (cfg.pack_a_tile) {  // the kernel's own layout, packed once per MC and K block
          const size_t tile_bytes = cfg.a_tile_bytes(kpb);
          for (size_t ir = 0; ir < mb; ir += mr)
            cfg.pack_a_tile(std::min(mr, mb - ir), klen, kpb, asrc + ir * P.lda, P.lda, apack + (ir / mr) * tile_bytes);
          ablock = apack;
          a_row_stride = 0;
          a_kgroup_stride = 0;
          a_tile_stride = tile_bytes;
        } else {
          pack_a_panels(mb, klen, kpb, asrc, P.lda, mr, kr, apack);
          ablock = apack;
          a_row_stride = kr;
          a_kgroup_stride = mr * kr;
          a_tile_stride = mr * kpb;
        }
        const bool last = kb + 1 == P.nkb;
        // Row tiles of the MC block. Packed A: whole MR-row tiles. A read in place: a kernel that
        // takes more rows per call (GemmConfig::max_rows_per_call) gets a small block whole, so its
        // tiles share each chunk of B in L1; otherwise ceil(mb / MR) tiles whose sizes differ by at
        // most one row (M = 32 on a 6-row tile: 5/6-row tiles, not 5 x 6 + 2, whose 2-row tile is
        // short of accumulators and loads: Zen 5, 1.07-1.08x at 32x768x768 and 32x1024x4096).
        const size_t ntiles = P.in_place && mb <= cfg.max_rows_per_call ? 1 : (mb + mr - 1) / mr;
        auto tile_row = [&](size_t rt) { return P.in_place ? rt * mb / ntiles : std::min(rt * mr, mb); };
        for (size_t pj = pc0; pj < pc1; ++pj) {
          const size_t jp = pj * nr;
          const int8_t* panel = P.b->panels + pj * kp * nr + k0 * nr;
          const size_t nb = std::min(nr, P.n - jp);
          for (size_t rt = 0; rt < ntiles; ++rt) {  // row tiles (t is the task)
            const size_t ir = tile_row(rt), rows = tile_row(rt + 1) - ir;
            const uint8_t* atile = P.in_place ? ablock + ir * P.lda : ablock + (ir / mr) * a_tile_stride;
            char* ctile = P.c + (i0 + ir) * P.c_stride + jp * P.esize;
            // The panel's last row tile may prefetch the B block that runs next (StageParams::b_next).
            const int8_t* next = P.prefetch_next && rt + 1 == ntiles && pj + 1 < pc1 ? panel + kp * nr : nullptr;
            // The panel's first row tile, when more follow, reads B from beyond L2 (StageParams::b_stream).
            const bool stream = P.prefetch_next && rt == 0 && ntiles > 1;
            if (P.nkb == 1) {
              StageParams with_next;  // copied only for the tiles that get b_next or b_stream
              const StageParams* sp = &P.params;
              if (next || stream) {
                with_next = P.params;
                with_next.b_next = next;
                with_next.b_stream = stream;
                sp = &with_next;
              }
              cfg.ukernel(rows, nb, kpb, atile, a_row_stride, a_kgroup_stride, panel, rsum + ir, ctile, P.c_stride,
                          sp, jp);
              continue;
            }
            int32_t* ptile = part + ir * P.part_stride + (pj - pc0) * nr;
            StageParams sp = last ? P.params : P.raw;
            sp.b_next = next;
            sp.b_stream = stream;
            sp.acc_in = kb ? ptile : nullptr;
            sp.acc_in_stride = P.part_stride;
            if (last)
              cfg.ukernel(rows, nb, kpb, atile, a_row_stride, a_kgroup_stride, panel, rsum + ir, ctile, P.c_stride, &sp, jp);
            else
              cfg.ukernel(rows, nb, kpb, atile, a_row_stride, a_kgroup_stride, panel, P.zeros, ptile,
                          P.part_stride * sizeof(int32_t), &sp, 0);
          }
        }
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
