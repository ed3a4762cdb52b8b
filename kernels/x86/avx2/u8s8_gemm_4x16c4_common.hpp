// What the files of the AVX2 4x16c4 GEMM kernel share: the tile, the K block over which one
// loop is chosen, and the layout of A packed by pack_a_tile. Included only by this folder's
// u8s8_gemm_4x16c4_*.cpp files (compiled with the AVX2 flags): everything inline here has
// internal linkage, and the packer's entry points are plain functions defined once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qgemm {
namespace detail {
namespace avx2_gemm {

// The packer (u8s8_gemm_4x16c4_pack_a.cpp), reached through GemmConfig.
size_t mc_for_k(size_t kp, size_t l2_bytes);
size_t kc_for_l2(size_t l2_bytes);
size_t a_tile_bytes(size_t kp);
void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst);

namespace {

// Tile 4x16: the fast loop's 8 accumulators + 2 B vectors + broadcast + ones + 2 temporaries
// fit the 16 ymm registers without spills, and the exact loop runs all 4 rows over 8 columns
// per pass (8 accumulators + 2 widened B + 2 A + 2 temporaries). Chosen by measurement, see
// docs/kernel-notes.md#avx2.
constexpr size_t kMR = 4, kNR = 16, kKR = 4, kNV = kNR / 8;
// K block (in groups of 4) over which one loop is chosen: 128 K values, so one activation byte
// >= 128 sends little work to the slower loop (longer blocks gained nothing, see the notes).
constexpr size_t kBlockGroups = 32;

#define QGEMM_INLINE inline __attribute__((always_inline))

QGEMM_INLINE int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- A packed by the driver (GemmConfig::pack_a_tile): the saturation check and the int16
// widening are done once per MC block instead of once per column panel. One tile:
//   [64 bytes of tile info: byte 0 the mode (0 = per block, 1 = sign, 2 = one-row sign), byte 1
//    the offset o of the sign mode, bytes 16..31 its four int32 row constants]
//   per-block mode: [one flag byte per K block (1 = exact), padded to 64 bytes]
//     then the K blocks in order, a block of g groups being
//       fast  (every A byte <= 127): [g][4 rows][4 u8]     16 bytes per group
//       exact (any byte >= 128):     [g][4 rows][4 int16]  32 bytes per group
//     so a run of consecutive blocks of one kind is one contiguous stretch for one loop;
//   sign mode (every K group, see sign_pair()): [kp/4][4 rows][4 s8 s] [4 rows][4 bytes x],
//     32 bytes per group;
//   sign mode of a one-row tile (m = 1, mode byte 2): [kp/4][4 s8 s][4 bytes x], 8 bytes per
//     group (at M = 1 the four-row layout read 32 bytes of A per 64 of B, and A no longer
//     stayed in L1 beside the B stream once K passed about 1500: docs/kernel-notes.md#avx2);
//   per-block mode of a one-row tile (m = 1, byte 2 of the tile info = 1, for the same reason):
//     fast blocks [g][4 u8], 4 bytes per group; exact blocks [g][4 int16], 8 bytes per group.
constexpr size_t kFastGroupBytes = kMR * kKR, kExactGroupBytes = kMR * kKR * sizeof(int16_t);
constexpr size_t kSignGroupBytes = 2 * kMR * kKR, kSign1GroupBytes = 2 * kKR, kTileInfo = 64;
constexpr size_t kFast1GroupBytes = kKR, kExact1GroupBytes = kKR * sizeof(int16_t);
inline size_t packed_blocks(size_t kp) { return (kp / kKR + kBlockGroups - 1) / kBlockGroups; }
inline size_t packed_header(size_t kp) { return kTileInfo + (packed_blocks(kp) + 63) / 64 * 64; }

// The sign mode: every product a*b of a tile as one vpmaddubsw product s*w whose pair sums
// cannot saturate. With an offset o (128 or 127) and y = a - o, each K value takes one of
//   s = y,  w = b ^ 0x80 = b + 128:  a*b = s*w - 128*s + o*b
//   s = -y, w = b ^ 0x7F = 127 - b:  a*b = s*w - 127*s + o*b
// (x = the byte b is XORed with, 0x80 or 0x7F). w >= 0, so a product's sign is s's; choosing
// s >= 0 for the first K value of each vpmaddubsw pair and s <= 0 for the second makes every
// pair sum one product or a difference, |sum| <= 128 * 255 < 32768. s must fit int8: y = -128
// (a = 0 with o = 128) or y = +128 (a = 255 with o = 127) only as s = -128; a pair with two of
// these cannot be signed apart, so the offset is the one whose such pairs the tile lacks. The
// -128*s / -127*s terms sum to a constant per row (stored in the tile info); o*colsum(B) comes
// from the driver (StageParams::colsum). Padding (rows >= m, K >= k): s = 0, x = 0x80, no term.
struct SignPair {
  int8_t s0, s1;
  uint8_t x0, x1;
  int32_t c;  // the row constant's share: -128*s or -127*s summed over the pair
};
inline bool sign_forced(uint8_t a, int o) { return a - o == -128 || a - o == 128; }
inline SignPair sign_pair(uint8_t a0, uint8_t a1, int o) {
  const int y0 = a0 - o, y1 = a1 - o;
  const bool f0 = sign_forced(a0, o), f1 = sign_forced(a1, o);  // never both (the tile's offset)
  const int s0 = f0 ? -128 : (y0 < 0 ? -y0 : y0);
  const int s1 = f1 ? -128 : (f0 ? (y1 < 0 ? -y1 : y1) : (y1 < 0 ? y1 : -y1));
  const bool p0 = s0 == y0, p1 = s1 == y1;  // s = y (else s = -y)
  SignPair r;
  r.s0 = static_cast<int8_t>(s0);
  r.s1 = static_cast<int8_t>(s1);
  r.x0 = p0 ? 0x80 : 0x7F;
  r.x1 = p1 ? 0x80 : 0x7F;
  r.c = (p0 ? -128 : -127) * s0 + (p1 ? -128 : -127) * s1;
  return r;
}

}  // namespace
}  // namespace avx2_gemm
}  // namespace detail
}  // namespace qgemm
