// The GEMM driver, one stage per file:
//   src/gemm.cpp         the API entry: checks -> plan -> run
//   src/gemm_checks.cpp  argument checks and the exact int32 overflow bound
//   src/dispatch.cpp     the active ISA's kernel descriptor
//   src/gemm_plan.cpp    blocking (KC, MC), the task grid, scratch; the output stage's per-call
//                        tables come from src/output_stage.cpp
//   src/gemm_run.cpp     the tasks: A's row sums and packing, the microkernel calls
//   kernels/             the microkernels, with the output stage fused into their stores
// Internal header: not installed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packed_weights.hpp"
#include "qgemm/qgemm.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {

// ---- checks (src/gemm_checks.cpp)

// Every check of a gemm() call, in the order the README's error table gives: nothing is
// written before all of them pass. On success *cfg is the active kernel's descriptor (the one
// the weights were packed for) and [*lo, *hi] the resolved u8/s8 clamp range.
// a_flip: 0 for uint8 A (za in [0, 255]), 0x80 for int8 A (za in [-128, 127]), which the
// driver runs as the uint8 bytes A ^ 0x80 with the zero point za + 128.
Status check_gemm(int64_t M, const void* a, int64_t lda, int32_t za, uint8_t a_flip, const PackedWeights* b,
                  const OutputStage& out, const void* c, int64_t ldc, const GemmOptions& opt,
                  const GemmConfig** cfg, int32_t* lo, int32_t* hi) noexcept;
// The active kernel against packed weights: the format it reads, then the kernel they were
// packed for (packed_isa_mismatch when either differs).
Status check_pairing(const GemmConfig& cfg, const PackedWeights& b) noexcept;

// ---- plan (src/gemm_plan.cpp)

// The calling thread's scratch arena for one call (see gemm_plan.cpp), or a private heap block
// when the arena is already leased by an outer call on this thread.
class ScratchLease {
 public:
  ScratchLease() = default;
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  void* acquire(size_t bytes);  // once; null when the allocation fails
  // Marks the slack and redzone after a region of `used` bytes at `offset` unaddressable in
  // AddressSanitizer builds (no-op otherwise).
  void guard(size_t offset, size_t used) const;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool leased_ = false;
};

// Everything the tasks need; read-only while they run. Names as in docs/architecture.md: MR x NR
// tiles, KC K values per K block, MC rows per cache block of A.
struct GemmPlan {
  const GemmConfig* cfg = nullptr;
  const PackedWeights* b = nullptr;
  StageParams stage{};  // the call's output stage (src/output_stage.cpp)
  StageParams raw{};    // K blocked: the stage of all but the last K block (int32, no offsets)
  const int32_t* zeros = nullptr;  // zero row sums for those blocks
  const uint8_t* a = nullptr;
  size_t lda = 0;
  uint8_t a_flip = 0;  // 0x80: int8 A, read as A ^ 0x80 (converted once per MC and K block)
  char* c = nullptr;
  size_t c_stride = 0, esize = 0;
  size_t m = 0, n = 0, k = 0, kp = 0;
  // ---- blocking
  size_t mc = 0;               // rows per MC block (a multiple of MR)
  size_t kc = 0, k_blocks = 1;  // KC (padded K values) and the number of K blocks; 1: K whole
  size_t nc_panels = 0, part_stride = 0;  // K blocked: panels per partial-sum block, its row stride
  bool in_place = false;       // A read in place, not packed
  bool need_row_sums = true;   // false when every zb[j] is 0 and the kernel uses row_sum only with zb
  bool prefetch_next = false;  // the last row tile of a panel gets the next one's B (TileArgs::b_next)
  // ---- task grid: grid_rows x grid_cols tasks over row_tiles MR-row tiles x col_panels NR-column panels
  size_t grid_rows = 1, grid_cols = 1;
  size_t row_tiles = 0, col_panels = 0;
  // ---- scratch: one slice per task: packed A, row sums at rsum_offset, partial sums at part_offset
  char* slices = nullptr;
  size_t rsum_offset = 0, part_offset = 0, slice_bytes = 0;
  size_t conv_offset = 0, conv_stride = 0;  // int8 A: its converted rows (mc x conv_stride bytes)
  ScratchLease lease;  // owns the tables and slices for the call
  size_t tasks() const { return grid_rows * grid_cols; }
};

// Blocking, task grid, scratch and output-stage tables of a checked call with M, N > 0; fails
// only with out_of_memory (scratch too large or not allocatable), before anything is written.
// za is the zero point of the uint8 bytes the kernels read (za + 128 for int8 A, a_flip set).
Status plan_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, uint8_t a_flip, const PackedWeights& b,
                 const GemmConfig& cfg, const OutputStage& out, int32_t lo, int32_t hi, void* c,
                 int64_t ldc, const GemmOptions& opt, GemmPlan* plan) noexcept;

// ---- run (src/gemm_run.cpp)

// The generic A packer (kernels without their own pack_a_tile): rows [0, mb) of A (lda) into
// MR-row panels [kp/KR][MR][KR], zero padded, each panel MR*kp bytes.
void pack_a_panels(size_t mb, size_t k, size_t kp, const uint8_t* a, size_t lda, size_t mr, size_t kr,
                   uint8_t* dst);
// Runs the plan's tasks: on the calling thread, the caller's parallel_for, or OpenMP.
void run_gemm(const GemmPlan& plan, const GemmOptions& opt) noexcept;

}  // namespace detail
}  // namespace qgemm
