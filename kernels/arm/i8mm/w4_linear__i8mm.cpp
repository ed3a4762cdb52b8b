// The int4 layer's W4A8 kernel for AArch64 with the int8 matrix multiply extension (i8mm:
// Neoverse V1/N2, Cortex-A510/A710, Apple M2, ...): UMMLA multiplies a 2x8 u8 matrix (two rows'
// 8 k) by an 8x2 one (two columns' 8 k) into the 2x2 u32 block, so a row pair costs half the
// multiply instructions of UDOT. Weight-only is inherited from the neon table.
//
// The panel's 16-byte vector q of block b holds columns 4q..4q+3 x k 8b..8b+3 (low nibbles) and
// x 8b+4..8b+7 (high); ZIP1/ZIP2 of the two at 32 bits give the UMMLA operands "columns 4q, 4q+1
// (8 k each, in order)" and "4q+2, 4q+3". The rows' side is ZIP1/ZIP2 at 64 bits of two rows'
// 16-k loads: [row 0 k 8b..8b+7 | row 1 the same]. Accumulator 2q + c of a pair: [r0 c0, r0 c1,
// r1 c0, r1 c1] of its column pair; ZIP1/ZIP2 at 64 bits of accumulators 2q and 2q + 1 give the
// rows' 4 columns back in order. u8 x u8 with nibbles 0..15: exact, no sign correction.
//
// Tile 4x16 (two row pairs x one panel): per 16 k, 16 AND/USHR, 16 ZIP for the panel, 4 loads +
// 4 ZIP for the rows, 32 UMMLA = 2048 multiply-adds; 16 accumulators. A last odd row runs the
// UDOT kernel (kernels/arm/w4_neon.hpp). Not tuned: no hardware.
#include "arm/w4_neon.hpp"

namespace qgemm {
namespace detail {
namespace {

// One 64-byte block against the row pairs' 8-k operands ap[pr].
template <int P>
inline void w4a8_mmla_block(const uint8_t* w, const uint8x16_t* ap, uint32x4_t (*acc)[8]) {
  const uint8x16_t mask = vdupq_n_u8(0x0F);
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const uint8x16_t v = vld1q_u8(w + 16 * q);
    const uint32x4_t lo = vreinterpretq_u32_u8(vandq_u8(v, mask)), hi = vreinterpretq_u32_u8(vshrq_n_u8(v, 4));
    const uint8x16_t b0 = vreinterpretq_u8_u32(vzip1q_u32(lo, hi));  // columns 4q, 4q+1
    const uint8x16_t b1 = vreinterpretq_u8_u32(vzip2q_u32(lo, hi));  // columns 4q+2, 4q+3
#pragma GCC unroll 2
    for (int pr = 0; pr < P; ++pr) {
      acc[pr][2 * q] = vmmlaq_u32(acc[pr][2 * q], ap[pr], b0);
      acc[pr][2 * q + 1] = vmmlaq_u32(acc[pr][2 * q + 1], ap[pr], b1);
    }
  }
}

// Rows [i0, i0 + 2P) of panel p.
template <int P>
void w4a8_mmla_rows(const W4A8Args& r, size_t i0, size_t p) {
  const size_t kp = r.ng * r.kg;
  const uint8_t* w = r.w + p * int4_panel_bytes(kp);
  alignas(16) float y[2 * P][kInt4Nr];
  for (int m = 0; m < 2 * P; ++m) std::memcpy(y[m], r.bias + p * kInt4Nr, sizeof y[m]);
  const uint8_t* a[2 * P];
  for (int m = 0; m < 2 * P; ++m) a[m] = r.a + (i0 + m) * r.lda;
  for (size_t g = 0; g < r.ng; ++g) {
    uint32x4_t acc[P][8];
    for (int pr = 0; pr < P; ++pr)
      for (int c = 0; c < 8; ++c) acc[pr][c] = vdupq_n_u32(0);
    for (size_t k = g * r.kg; k < (g + 1) * r.kg; k += 16, w += 128) {  // kg is a multiple of 32
      uint8x16_t ap0[P], ap1[P];  // blocks k/8 and k/8 + 1 of each pair
      for (int pr = 0; pr < P; ++pr) {
        const uint64x2_t r0 = vreinterpretq_u64_u8(vld1q_u8(a[2 * pr] + k));
        const uint64x2_t r1 = vreinterpretq_u64_u8(vld1q_u8(a[2 * pr + 1] + k));
        ap0[pr] = vreinterpretq_u8_u64(vzip1q_u64(r0, r1));
        ap1[pr] = vreinterpretq_u8_u64(vzip2q_u64(r0, r1));
      }
      w4a8_mmla_block<P>(w, ap0, acc);
      w4a8_mmla_block<P>(w + 64, ap1, acc);
    }
    for (int pr = 0; pr < P; ++pr) {
      uint32x4_t row0[4], row1[4];
      for (int q = 0; q < 4; ++q) {
        const uint64x2_t c01 = vreinterpretq_u64_u32(acc[pr][2 * q]), c23 = vreinterpretq_u64_u32(acc[pr][2 * q + 1]);
        row0[q] = vreinterpretq_u32_u64(vzip1q_u64(c01, c23));
        row1[q] = vreinterpretq_u32_u64(vzip2q_u64(c01, c23));
      }
      w4a8_finish_group(r, i0 + 2 * pr, p, g, row0, y[2 * pr]);
      w4a8_finish_group(r, i0 + 2 * pr + 1, p, g, row1, y[2 * pr + 1]);
    }
  }
  for (int m = 0; m < 2 * P; ++m) w4_store_row(y[m], r.y + (i0 + m) * r.ldy, p * kInt4Nr, r.n);
}

void w4a8_linear_4x16__i8mm(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 4 <= m; i += 4) w4a8_mmla_rows<2>(r, i, p);
    if (i + 2 <= m) {
      w4a8_mmla_rows<1>(r, i, p);
      i += 2;
    }
    if (i < m) w4a8_udot_rows<1>(r, i, p);
  }
}

}  // namespace

extern const Int4Kernels kInt4Kernels_i8mm = {w4a8_linear_4x16__i8mm, nullptr, "w4a8_linear_4x16__i8mm", nullptr};

}  // namespace detail
}  // namespace qgemm
