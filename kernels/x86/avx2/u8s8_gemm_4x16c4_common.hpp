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
//   [one flag byte per K block (1 = exact), padded to 64 bytes]
//   then the K blocks in order, a block of g groups being
//     fast  (every A byte <= 127): [g][4 rows][4 u8]     16 bytes per group
//     exact (any byte >= 128):     [g][4 rows][4 int16]  32 bytes per group
// so a run of consecutive blocks of one kind is one contiguous stretch for one loop.
constexpr size_t kFastGroupBytes = kMR * kKR, kExactGroupBytes = kMR * kKR * sizeof(int16_t);
inline size_t packed_blocks(size_t kp) { return (kp / kKR + kBlockGroups - 1) / kBlockGroups; }
inline size_t packed_header(size_t kp) { return (packed_blocks(kp) + 63) / 64 * 64; }

}  // namespace
}  // namespace avx2_gemm
}  // namespace detail
}  // namespace qgemm
