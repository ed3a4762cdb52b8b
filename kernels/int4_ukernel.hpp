// The kernel contract of the int4 linear layer (Int4Linear, include/qgemm/linear.hpp): the packed
// weights every ISA reads, the two kernel signatures (W4A8 and weight-only) and the per-ISA table.
// The selection and the forward loops are src/int4/. Internal header: not installed.
//
// Packed weights (format "u4", src/weight_format_u4.cpp): each weight is stored as an unsigned
// nibble u in [0, 15] with a zero point z per group and column (symmetric weights q in [-8, 7]:
// u = q + 8, z = 8), so that every ISA multiplies uint8 activations by small non-negative bytes.
// Columns are grouped into panels of kInt4Nr = 16; a panel holds the column's whole depth kp
// (ng groups of kg k values, kg a multiple of 32) as kp / 8 blocks of 64 bytes:
//
//     block b (k values 8b .. 8b+7), byte 4*n + t (column n in 0..15, t in 0..3):
//         low nibble  = u[8b + t][n]
//         high nibble = u[8b + 4 + t][n]
//
// so one 64-byte load, masked with 0x0F, is the [16 columns][4 k] dword layout of vpdpbusd /
// udot for k 8b..8b+3, and shifted right by 4 the same for 8b+4..8b+7. Depth padding and
// columns past N hold u = 0. Per panel, per group and column: scale s, zero point z (int32) and
// the sum of the group's stored nibbles (int32), each [np][ng][16].
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

constexpr size_t kInt4Nr = 16;     // columns per panel
constexpr size_t kInt4Block = 8;   // k values per 64-byte block
constexpr size_t kInt4KgUnit = 32; // kg (k values per group in the packed form) is a multiple of this

// Bytes of one panel of depth kp.
constexpr size_t int4_panel_bytes(size_t kp) { return kp / 2 * kInt4Nr; }

// W4A8: for rows i in [0, m) and the columns of panels [p0, p1) (j < n only are stored):
//   y[i][j] = bias[j]
//   for g = 0 .. ng-1:
//     acc = sum_{k in g} a[i][k] * u[k][j]  -  z[g][j] * a_sum[i][g]  -  a_zp[i][g] * w_sum[g][j]
//     y[i][j] = fmaf(float(acc), a_scale[i][g] * s[g][j], y[i][j])      (the product in float32)
// acc is the exact int32 sum_{k in g} (a[i][k] - a_zp[i][g]) * (u[k][j] - z[g][j]) (a_sum holds
// the group's activation sum minus its real length times a_zp), so every ISA gives the same bits.
struct W4A8Args {
  size_t kg;               // k values per group (multiple of kInt4KgUnit)
  size_t ng;               // groups; the depth is kp = ng * kg
  const uint8_t* a;        // quantized activations, row i at a + i * lda, kp bytes (padding 0)
  size_t lda;
  const int32_t* a_sum;    // [m][ng]
  const int32_t* a_zp;     // [m][ng]
  const float* a_scale;    // [m][ng]
  const uint8_t* w;        // panel p at w + p * int4_panel_bytes(kp)
  const float* w_scale;    // panel p, group g at w_scale + (p * ng + g) * kInt4Nr
  const int32_t* w_zp;     // likewise
  const int32_t* w_sum;    // likewise
  const float* bias;       // np * kInt4Nr floats (0 where the layer has none)
  float* y;                // y[i][j] at y + i * ldy + j
  size_t ldy;
  size_t n;                // output columns; j >= n is never stored
};
using W4A8Fn = void (*)(const W4A8Args& args, size_t m, size_t p0, size_t p1);

// Weight-only (W4A32; W4A16 after widening X): for rows i in [0, m), columns of panels [p0, p1):
//   y[i][j] = bias[j]
//   for k = 0 .. kp-1 in order:
//     y[i][j] = fmaf(x[i][k], float(u[k][j] - z[g][j]) * s[g][j], y[i][j])   (g = k / kg)
// one accumulation chain per output, in k order, so every ISA gives the same bits.
struct W4F32Args {
  size_t kg, ng;
  const float* x;          // row i at x + i * ldx, kp floats (padding 0)
  size_t ldx;
  const uint8_t* w;
  const float* w_scale;
  const int32_t* w_zp;
  const float* bias;
  float* y;
  size_t ldy;
  size_t n;
};
using W4F32Fn = void (*)(const W4F32Args& args, size_t m, size_t p0, size_t p1);

// One ISA's table, `kInt4Kernels_<isa>` in its kernel folder (the build registers every folder
// that holds w4_* kernels: QGEMM_BUILT_INT4). A null entry is taken from the table below it in
// priority.
struct Int4Kernels {
  W4A8Fn w4a8;
  W4F32Fn w4f32;
  const char* name_w4a8;   // int4_kernel_name()
  const char* name_w4f32;
};

}  // namespace detail
}  // namespace qgemm
