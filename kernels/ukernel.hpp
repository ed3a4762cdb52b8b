// The microkernel contract shared by the portable driver (src/) and every ISA's kernels
// (kernels/<arch>/<isa>/). Internal header: not installed.
//
// One microkernel call computes one output tile of m <= MR rows (or up to max_rows_per_call,
// with A in place) and n <= NR columns over one K block of depth kp (the whole K unless the
// driver blocks K: then the earlier blocks' int32 sums come in through TileArgs::acc_in, and
// only the call of the last block applies the output stage), and stores the tile.
//
// Packed B panel in the int8 format (kernels/weight_format.hpp; NR columns, K padded to
// kp = round_up(K, KR) with zeros):
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

#include "output_stage.hpp"
#include "qgemm/qgemm.hpp"
#include "weight_format.hpp"

namespace qgemm {
namespace detail {

// What changes from one microkernel call to the next (the call's output stage does not:
// StageParams). Built by the driver for each tile; all fields are optional.
struct TileArgs {
  // K blocked in the driver: the int32 sums of the tile's earlier K blocks, added to its dot
  // products before anything else; row i, tile column t (= j - j0) at acc_in[i*acc_in_stride + t].
  // Whole NR-column rows: readable past n. Null: the tile's K starts in this call.
  const int32_t* acc_in = nullptr;
  size_t acc_in_stride = 0;
  // The B block the driver runs after this tile (same K range, next column panel) when this is
  // the last row tile of its panel and the weights are far larger than L2, else null: a kernel
  // may prefetch it while it computes, so that at small M the weights keep streaming from
  // memory during the panel's last tile.
  const void* b_next = nullptr;
  // True for the first row tile of a panel (the first of the call's tiles) when the weights are
  // far larger than L2 and later tiles of the panel re-read its B block: B then comes from L3
  // or memory for this tile only, and a kernel may prefetch its own B ahead (into L2) for the
  // tiles after it.
  bool b_stream = false;
  // B's column sums sum_k B[k][j] over the whole K, indexed by the absolute column j (as col_off),
  // for a kernel that computes (A - offset) * B and adds offset * colsum back; null when the
  // call holds only one K block of several (a kernel then sums its own block's columns).
  const int32_t* colsum = nullptr;
};

// b_panel is in the kernel's packed-B format (GemmConfig::b_format); j0 is the tile's first
// absolute column, the index into the stage's per-column tables.
using GemmUkernelFn = void (*)(size_t m, size_t n, size_t kp, const uint8_t* a,
                               size_t a_row_stride, size_t a_kgroup_stride,
                               const void* b_panel, const int32_t* row_sum, void* c,
                               size_t c_row_stride_bytes, const StageParams* params,
                               const TileArgs* tile, size_t j0);

// A GEMM kernel's descriptor: everything the portable driver needs to know of one ISA's
// kernel. Each kernel file defines one, `kGemmConfig_<isa>`, with the builder below, so every
// field is set by name; the dispatch table (src/dispatch.cpp) registers the built ones, from the
// ISA registry (include/qgemm/isa_list.def). Fields left out keep the default (0 / null: the
// driver's own choice), so a simple kernel states only its tile:
//
//   extern constexpr GemmConfig kGemmConfig_scalar =
//       GemmConfig::tile(Isa::scalar, "u8s8_gemm_4x8c4__scalar", 4, 8, 4, ukernel, &kWeightFormat_s8)
//           .with_row_sums_only_with_zb();
//
// Block sizes, one meaning per name (docs/architecture.md): MR x NR the tile, KR the K group,
// MC rows of A per cache block, KC K values per K block, kc_unit what KC is a whole number of.
struct GemmConfig {
  Isa isa = Isa::scalar;
  const char* name = nullptr;  // e.g. "u8s8_gemm_4x8c4__scalar"
  uint32_t mr = 0, nr = 0, kr = 0;  // tile rows, tile columns, K group (nr may be set by resolve())
  GemmUkernelFn ukernel = nullptr;
  // The packed-B format the kernel reads (kernels/weight_format.hpp); pack_weights() writes it.
  const WeightFormat* b_format = nullptr;
  // Rows up to which the driver passes A in place instead of packing it (needs K % KR == 0);
  // 0 = always pack.
  uint32_t max_m_unpacked = 0;
  // Rows one microkernel call accepts when A is read in place (0: MR). 2 MR: the kernel runs
  // 7-12 rows as two row tiles that share each chunk of B while it is in L1, so B streams once;
  // the driver passes an MC block of up to this many rows in one call, larger ones as single
  // tiles. More than 2 MR: the kernel also runs more rows as consecutive row tiles of at most
  // MR rows (less fixed cost per tile than a call each); the driver passes larger blocks in
  // calls of at most this many rows.
  uint32_t max_rows_per_call = 0;
  // MC for a depth of kp bytes on a core with l2_bytes of L2 (the size detected at run time, so
  // a kernel tuned on one CPU scales to another). The driver rounds it up to whole MR-row tiles
  // and splits a task's rows into as few blocks of it as it can, of equal whole tiles. Null: A's
  // block takes half of L2, at most 1024 rows.
  size_t (*mc_for_k)(size_t kp, size_t l2_bytes) = nullptr;
  // KC target on a core with l2_bytes of L2 (the driver rounds it to whole kc_units; a value
  // >= K turns K blocking off). Null: one panel's B block (NR x KC bytes) in a quarter of L2.
  size_t (*kc_for_l2)(size_t l2_bytes) = nullptr;
  // The kernel's own K block: KC is a whole number of it, and the tests cross its edges. Where
  // the kernel chooses between loops per block (the AVX2 and AVX-512BW saturation check), takes
  // turns between two row tiles (the VNNI pair chunk) or steps its tiles (AMX), this is that
  // block. 0: KR.
  uint32_t kc_unit = 0;
  // Where one tile covers each task's rows and the weights fit L3 (but not L2), the next panel's
  // B is prefetched (TileArgs::b_next) only for tiles of at least this many rows: below it the
  // kernel's loop is bound by its B loads and the hardware prefetchers keep up with L3, and the
  // prefetch only takes load slots. 0: at any row count (docs/kernel-notes.md, "Prefetch").
  uint32_t l3_prefetch_min_rows = 0;
  // Optional kernel-specific A packing (null: the generic panels above). pack_a_tile packs rows
  // [0, m) of A (m <= MR; rows >= m and K values >= k read as zero) into one tile of
  // a_tile_bytes(kp) bytes at dst; the driver packs each MR-row tile of an MC block once and
  // reuses it for every column panel. The kernel then gets a_row_stride = a_kgroup_stride = 0.
  // Used where the packing can do per-block work that would otherwise be repeated per panel
  // (the AVX2 kernel's saturation check and int16 widening).
  size_t (*a_tile_bytes)(size_t kp) = nullptr;
  void (*pack_a_tile)(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) = nullptr;
  // True when the kernel reads row_sum only as row_sum[i] * zb[j] (the accumulator above): the
  // driver then skips A's row sums when every zb[j] is 0 and passes zeros. False where the
  // kernel needs them anyway, e.g. the NEON and dotprod kernels, which flip B to unsigned and
  // subtract 128 * row_sum[i].
  bool row_sum_only_with_zb = false;
  // Per-task hooks for kernels that hold state outside the registers the compiler manages
  // (AMX tile configuration): each task calls task_begin() on its thread before its first
  // microkernel call and task_end() after its last, so caller threads and pools need nothing.
  void (*task_begin)() = nullptr;
  void (*task_end)() = nullptr;
  // Called once on the dispatch table's copy of this descriptor when the table is built, to set
  // what is known only at run time, e.g. a vector-length-dependent NR (SVE). Null: none.
  void (*resolve)(GemmConfig* cfg) = nullptr;

  // ---- the builder: each with_* returns a copy with one choice set
  static constexpr GemmConfig tile(Isa isa, const char* name, uint32_t mr, uint32_t nr, uint32_t kr,
                                   GemmUkernelFn ukernel, const WeightFormat* b_format) {
    GemmConfig c;
    c.isa = isa;
    c.name = name;
    c.mr = mr;
    c.nr = nr;
    c.kr = kr;
    c.ukernel = ukernel;
    c.b_format = b_format;
    return c;
  }
  constexpr GemmConfig with_a_in_place(uint32_t max_m) const { GemmConfig c = *this; c.max_m_unpacked = max_m; return c; }
  constexpr GemmConfig with_rows_per_call(uint32_t rows) const { GemmConfig c = *this; c.max_rows_per_call = rows; return c; }
  constexpr GemmConfig with_mc(size_t (*f)(size_t, size_t)) const { GemmConfig c = *this; c.mc_for_k = f; return c; }
  constexpr GemmConfig with_kc(size_t (*f)(size_t)) const { GemmConfig c = *this; c.kc_for_l2 = f; return c; }
  constexpr GemmConfig with_kc_unit(uint32_t unit) const { GemmConfig c = *this; c.kc_unit = unit; return c; }
  constexpr GemmConfig with_l3_prefetch_min_rows(uint32_t rows) const {
    GemmConfig c = *this;
    c.l3_prefetch_min_rows = rows;
    return c;
  }
  constexpr GemmConfig with_a_packer(size_t (*bytes)(size_t),
                                     void (*pack)(size_t, size_t, size_t, const uint8_t*, size_t, uint8_t*)) const {
    GemmConfig c = *this;
    c.a_tile_bytes = bytes;
    c.pack_a_tile = pack;
    return c;
  }
  constexpr GemmConfig with_row_sums_only_with_zb() const { GemmConfig c = *this; c.row_sum_only_with_zb = true; return c; }
  constexpr GemmConfig with_task_hooks(void (*begin)(), void (*end)()) const {
    GemmConfig c = *this;
    c.task_begin = begin;
    c.task_end = end;
    return c;
  }
  constexpr GemmConfig with_resolve(void (*f)(GemmConfig*)) const { GemmConfig c = *this; c.resolve = f; return c; }
};

// Code from here on is compiled into the kernels of every ISA: internal linkage, so no
// instantiation is shared between objects built with different ISA flags (odr_isa_objects).
namespace {

// The tile args of rows from `rows` on (a kernel that splits its rows into two tiles).
inline TileArgs tile_rows_from(const TileArgs& t, size_t rows) {
  TileArgs r = t;
  if (t.acc_in) r.acc_in = t.acc_in + rows * t.acc_in_stride;
  return r;
}

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
