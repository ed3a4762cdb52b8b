// The microkernel contract shared by the portable driver (src/) and every ISA's kernels
// (kernels/<arch>/<isa>/). Internal header: not installed.
//
// One microkernel call computes one output tile of m <= MR rows (or up to max_rows_per_call,
// with A in place) and n <= NR columns over the full depth K (no K split: the int32 sums stay in registers, so the fused output stage sees
// the final value), then applies the output stage and stores the tile.
//
// Packed B panel (NR columns, K padded to kp = round_up(K, KR) with zeros):
//
//      kgroup 0                 kgroup 1                      kgroup kp/KR-1
//   [ col0: k0..k(KR-1) ][ col0: kKR..k(2KR-1) ]   ...
//   [ col1: k0..k(KR-1) ]   ...
//     ...                                           i.e. byte (k, j) at
//   [ colNR-1: ...      ]                           b[(k/KR)*NR*KR + j*KR + k%KR]
//
// Columns past N are zero. A is addressed through two strides so one kernel reads both a
// packed panel and A in place:  byte (i, k) at a[i*a_row_stride + (k/KR)*a_kgroup_stride + k%KR].
//   packed A panel ([kp/KR][MR][KR], zero padded): a_row_stride = KR, a_kgroup_stride = MR*KR
//   A in place (only when K % KR == 0):          a_row_stride = lda, a_kgroup_stride = KR
//   the kernel's own layout (GemmConfig::pack_a_tile, below): a_row_stride = a_kgroup_stride = 0
// A kernel must not read rows >= m (in place, they may not exist).
//
// Accumulator (modular int32 arithmetic; the driver has proved the true value fits):
//   acc[i][j] = sum_k A[i][k]*B[k][j] + col_off[j] - row_sum[i]*zb[j]
// with col_off[j] = bias_s32[j] - za*colsum[j] + K*za*zb[j], computed by the driver per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

enum class StageKind : uint8_t {
  s32 = 0,           // store acc
  fixed_double = 1,  // u8/s8, TFLite double rounding
  fixed_single = 2,  // u8/s8, TFLite single rounding
  float_mult = 3,    // u8/s8, FBGEMM float multiplier
  f32 = 4,           // float, fmaf(float(acc), scale[j], fbias[j]) then clamp
};

// Output-stage data for one call. Every array is per column, indexed by the absolute column
// j (the driver expands per-tensor values), and always present for the stages that read it,
// so a kernel never branches on "per tensor or per column" or "bias or not".
struct StageParams {
  StageKind kind;
  bool out_u8;             // u8/s8 stages: true for uint8 output, false for int8
  const int32_t* col_off;  // all stages
  const int32_t* zb;       // all stages (zeros when B has no zero point)
  bool zb_zero;            // every zb[j] is 0: a kernel may skip row_sum[i] * zb[j]
  const int32_t* mult;     // fixed_*: Q31 multiplier
  const int32_t* shift;    // fixed_*: TFLite shift, > 0 is a left shift, in [-31, 30]
  const float* scale;      // float_mult: (sa*sb[j])/so; f32: sa*sb[j]
  const float* fbias;      // float_mult: bias_f32[j]/(sa*sb[j]) or 0; f32: bias_f32[j] or 0
  // u8/s8: the result r (before the zero point) is clamped to [qmin, qmax] = [lo-zo, hi-zo]
  // and then zo is added, which equals clamp(r + zo, lo, hi) without any int32 overflow.
  int32_t zo;
  int32_t qmin, qmax;
  float fmin, fmax;  // f32 clamp: y = min(fmax, max(fmin, y)), NaN propagates
  // K blocked in the driver: the int32 sums of the tile's earlier K blocks, added to its dot
  // products before anything else; row i, tile column t (= j - j0) at acc_in[i*acc_in_stride + t].
  // Whole NR-column rows: readable past n. Null: the tile's K is all in this call.
  const int32_t* acc_in;
  size_t acc_in_stride;
  // The B block the driver runs after this tile (same K range, next column panel) when this is
  // the last row tile of its panel and the weights are far larger than L2, else null: a kernel
  // may prefetch it while it computes, so that at small M the weights keep streaming from
  // memory during the panel's last tile.
  const int8_t* b_next;
  // True for the first row tile of a panel when the weights are far larger than L2 and later
  // tiles of the panel re-read its B block: B then comes from L3 or memory for this tile only,
  // and a kernel may prefetch its own B ahead (into L2) for the tiles after it.
  bool b_stream;
  // B's column sums sum_k B[k][j] over the whole K, indexed by the absolute column j (as col_off),
  // for a kernel that computes (A - offset) * B and adds offset * colsum back; null when the
  // call holds only one K block of several (a kernel then sums its own block's columns).
  const int32_t* colsum;
};

using GemmUkernelFn = void (*)(size_t m, size_t n, size_t kp, const uint8_t* a,
                               size_t a_row_stride, size_t a_kgroup_stride,
                               const int8_t* b_panel, const int32_t* row_sum, void* c,
                               size_t c_row_stride_bytes, const StageParams* params, size_t j0);

// A GEMM kernel's descriptor: everything the portable driver needs to know of one ISA's
// kernel. Each kernel file defines one, `kGemmConfig_<isa>`; the dispatch table
// (src/dispatch.cpp) registers the built ones, from the ISA registry (include/qgemm/isa_list.def).
// Fields after `ukernel` are optional (0 / null: the driver's default), so a simple kernel
// states only its tile.
//
// B is always in the packed-B layout above (src/pack_weights.cpp, NR x KR groups); A is packed
// generically ([kp/KR][MR][KR] panels), by the kernel's own pack_a_tile, or read in place.
struct GemmConfig {
  Isa isa;
  const char* name;        // e.g. "u8s8_gemm_4x8c4__scalar"
  uint32_t mr, nr, kr;     // tile rows, tile columns, K group (nr may be set by resolve())
  GemmUkernelFn ukernel;
  // Rows up to which the driver passes A in place instead of packing it (needs K % KR == 0);
  // 0 = always pack.
  uint32_t max_m_unpacked = 0;
  // MC, rows of A per cache block, for a depth of kp bytes on a core with l2_bytes of L2 (the
  // size detected at run time, so a kernel tuned on one CPU scales to another: its formula
  // says which L2 it was measured with). The driver rounds it down to whole MR-row tiles.
  // Null: A's block takes half of L2, at most 1024 rows.
  size_t (*mc_for_k)(size_t kp, size_t l2_bytes) = nullptr;
  // Optional kernel-specific A packing (null: the generic panels above). pack_a_tile packs rows
  // [0, m) of A (m <= MR; rows >= m and K values >= k read as zero) into one tile of
  // a_tile_bytes(kp) bytes at dst; the driver packs each MR-row tile of an MC block once and
  // reuses it for every column panel. The kernel then gets a_row_stride = a_kgroup_stride = 0.
  // Used where the packing can do per-block work that would otherwise be repeated per panel
  // (the AVX2 kernel's saturation check and int16 widening).
  size_t (*a_tile_bytes)(size_t kp) = nullptr;
  void (*pack_a_tile)(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) = nullptr;
  // True when the kernel reads row_sum only as row_sum[i] * zb[j] (the accumulator above): the
  // driver then skips A's row sums when every zb[j] is 0 and passes zeros. False (the default
  // of an entry that leaves it out) where the kernel needs them anyway, e.g. the NEON and
  // dotprod kernels, which flip B to unsigned and subtract 128 * row_sum[i].
  bool row_sum_only_with_zb = false;
  // K values per block over which the kernel chooses between its loops (the AVX2 and AVX-512BW
  // saturation check and int16 split); 0 = one loop for all K. Read by the tests, which cross
  // these block edges.
  uint32_t k_block = 0;
  // Per-task hooks for kernels that hold state outside the registers the compiler manages
  // (AMX tile configuration): each task calls task_begin() on its thread before its first
  // microkernel call and task_end() after its last, so caller threads and pools need nothing.
  void (*task_begin)() = nullptr;
  void (*task_end)() = nullptr;
  // Called once on the dispatch table's copy of this descriptor when the table is built, to set
  // what is known only at run time, e.g. a vector-length-dependent NR (SVE). Null: none.
  void (*resolve)(GemmConfig* cfg) = nullptr;
  // Rows one microkernel call accepts when A is read in place (0: MR). A kernel that takes more
  // than MR rows runs them as row tiles that share each chunk of B while it is in L1, so B
  // streams once; the driver then passes an MC block of up to this many rows in one call.
  uint32_t max_rows_per_call = 0;
  // KC target, K values per K block, on a core with l2_bytes of L2 (the driver rounds it to
  // whole K blocks and K groups; a value >= K turns K blocking off). Null: one panel's B block
  // (NR x KC bytes) in a quarter of L2.
  size_t (*kc_for_l2)(size_t l2_bytes) = nullptr;
};

// Code from here on is compiled into the kernels of every ISA: internal linkage, so no
// instantiation is shared between objects built with different ISA flags (odr_isa_objects).
namespace {

// Calls f(std::integral_constant<size_t, R>{}) with R = min(m, MR), m >= 1: kernels specialise
// their tile on the row count at compile time and reach it through one call.
template <size_t MR, typename F>
inline void with_rows(size_t m, F&& f) {
  if constexpr (MR > 1) {
    if (m < MR) return with_rows<MR - 1>(m, f);
  }
  f(std::integral_constant<size_t, MR>{});
}

}  // namespace

}  // namespace detail
}  // namespace qgemm
