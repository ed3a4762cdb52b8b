// AMX-INT8 microkernel: u8 x s8 -> exact int32 on tdpbusd (unsigned x signed bytes, dword sums,
// no saturation), 32 rows x 32 columns as 2 x 2 C tiles of 16 x 16 int32, every output stage
// fused through the AVX-512 store code (kernels/x86/output_stage_zmm.hpp).
//
// Tiles: tmm0-3 C, tmm4-5 A (16 rows x 64 bytes of K each), tmm6-7 B (16 K groups x 16 columns
// x 4 bytes each). Per 64 bytes of K: 2 A and 2 B tile loads feed 4 tdpbusd, so every A tile is
// used twice and every B tile twice (the 2 x 2 reuse). M <= 16 uses one row of C tiles.
//
// B needs no packer of its own: the generic packed-B layout (kernels/ukernel.hpp) with NR = 32
// and KR = 4 stores, per K group, 32 columns x 4 bytes = 128 bytes, i.e. the rows of the two B
// tiles side by side; a tile load with a stride of 128 bytes reads either half. A is packed by
// pack_a_tile into rows of K bytes (rounded up to 64, zero padded), the layout a tile load of
// A reads. K past the last whole 64-byte step: the A rows are zero there, and the few remaining
// B rows are copied into a zeroed 16 x 128-byte buffer, so no load reads past the B panel.
//
// Speed: written without an AMX CPU at hand and not tuned (docs/notes/issue-17.md); the
// emulation build (amx_intrin.hpp) proves its results, not its speed.
#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "size_ops.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"
#include "x86/amx/amx_intrin.hpp"
#include "x86/output_stage_zmm.hpp"

namespace qgemm {
namespace detail {

namespace {

constexpr size_t kMR = 32, kNR = 32, kKR = 4;
constexpr size_t kKStep = 64;              // bytes of K per tdpbusd (16 K groups)
constexpr size_t kBRow = kNR * kKR;        // bytes of one K group of the B panel (128)
constexpr size_t kStoreRows = 8;           // rows per call of the zmm output stage

size_t a_row_bytes(size_t kp) { return (kp + kKStep - 1) / kKStep * kKStep; }

size_t a_tile_bytes(size_t kp) { return kMR * a_row_bytes(kp); }

// Rows [0, m) of A, K bytes each, zero padded to a_row_bytes(kp) (not needed for the result:
// packed B is zero past K, and so is the short-step buffer). Rows m..31 are left as they
// are: a tile load reads them, but their products land only in C rows >= m, never stored.
void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) {
  const size_t row = a_row_bytes(kp);
  for (size_t i = 0; i < m; ++i, dst += row) {
    std::memcpy(dst, a + i * lda, k);
    std::memset(dst + k, 0, row - k);
  }
}

// Palette 1, all eight tiles 16 rows x 64 bytes (the layout of the 64-byte LDTILECFG operand:
// palette, start row, 14 reserved bytes, 16 x 2 bytes per row, 16 x 1 row count).
struct alignas(64) TileConfig {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

constexpr TileConfig make_config() {
  TileConfig c{};
  c.palette = 1;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = 64;
    c.rows[t] = 16;
  }
  return c;
}
alignas(64) constexpr TileConfig kTileConfig = make_config();

// Per task (GemmConfig::task_begin / task_end): the configuration is thread state, and
// loading it zeroes every tile, so it is loaded once per task, not per tile.
void task_begin() { _tile_loadconfig(&kTileConfig); }
void task_end() { _tile_release(); }

// One 64-byte K step (or the zero-padded last one) of RT rows of C tiles.
template <int RT>
inline void k_step(const uint8_t* a, size_t a_stride, const int8_t* b) {
  _tile_loadd(6, b, kBRow);
  _tile_loadd(7, b + 64, kBRow);
  _tile_loadd(4, a, a_stride);
  _tile_dpbusd(0, 4, 6);
  _tile_dpbusd(1, 4, 7);
  if constexpr (RT == 2) {
    _tile_loadd(5, a + 16 * a_stride, a_stride);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
}

template <int RT>
void tile(size_t m, size_t n, size_t kp, const uint8_t* a, const int8_t* b, const int32_t* row_sum, void* c,
          size_t c_stride, const StageParams& p, const TileArgs& t, size_t j0) {
  const size_t as = a_row_bytes(kp), full = kp / kKStep * kKStep;
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (RT == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (size_t k0 = 0; k0 < full; k0 += kKStep) k_step<RT>(a + k0, as, b + k0 / kKR * kBRow);
  if (full < kp) {
    count_path(Path::amx_short_k_step, 1);
    alignas(64) int8_t tail[16 * kBRow] = {};
    std::memcpy(tail, b + full / kKR * kBRow, (kp - full) / kKR * kBRow);
    k_step<RT>(a + full, as, tail);
  }
  alignas(64) int32_t acc[kMR][kNR];
  _tile_stored(0, &acc[0][0], kNR * sizeof(int32_t));
  _tile_stored(1, &acc[0][16], kNR * sizeof(int32_t));
  if constexpr (RT == 2) {
    _tile_stored(2, &acc[16][0], kNR * sizeof(int32_t));
    _tile_stored(3, &acc[16][16], kNR * sizeof(int32_t));
  }
  char* const cbase = static_cast<char*>(c);
  for (size_t r0 = 0; r0 < m; r0 += kStoreRows) {
    const TileArgs rows_t = tile_rows_from(t, r0);
    with_rows<kStoreRows>(m - r0, [&](auto rows) {
      constexpr int R = static_cast<int>(decltype(rows)::value);
      __m512i v[R][2];
      for (int i = 0; i < R; ++i) {
        v[i][0] = _mm512_load_si512(&acc[r0 + i][0]);
        v[i][1] = _mm512_load_si512(&acc[r0 + i][16]);
      }
      zmm::store_tile<R, 2>(v, n, row_sum + r0, cbase + r0 * c_stride, c_stride, p, rows_t, j0);
    });
  }
}

void u8s8_gemm_32x32c4__amx(size_t m, size_t n, size_t kp, const uint8_t* a, size_t, size_t, const void* b_panel,
                            const int32_t* row_sum, void* c, size_t c_row_stride, const StageParams* params,
                            const TileArgs* targs, size_t j0) {
  const int8_t* b = static_cast<const int8_t*>(b_panel);
  count_path(Path::amx_tile, 1);
  if (m > 16)
    tile<2>(m, n, kp, a, b, row_sum, c, c_row_stride, *params, *targs, j0);
  else
    tile<1>(m, n, kp, a, b, row_sum, c, c_row_stride, *params, *targs, j0);
}

}  // namespace

// A is always packed (pack_a_tile: rows of K bytes, what a tile load reads); K blocks of the
// driver are whole 64-byte steps (kc_unit), so only the last block of a row has a short step.
extern constexpr GemmConfig kGemmConfig_amx =
    GemmConfig::tile(Isa::amx, "u8s8_gemm_32x32c4__amx", kMR, kNR, kKR, u8s8_gemm_32x32c4__amx, &kWeightFormat_s8)
        .with_kc_unit(kKStep)
        .with_a_packer(a_tile_bytes, pack_a_tile)
        .with_row_sums_only_with_zb()
        .with_task_hooks(task_begin, task_end);

}  // namespace detail
}  // namespace qgemm
