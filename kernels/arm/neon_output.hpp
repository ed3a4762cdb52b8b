// The fused output stage of the AArch64 kernels (neon, dotprod, i8mm): turns a tile of raw int32
// dot products into the finished accumulators and stores them through the call's output
// stage, four columns per vector, bit for bit as kernels/scalar/requant_scalar.hpp does.
// Included by each ISA's kernel file; everything here has internal linkage, so no function is
// shared (as a COMDAT copy) between files compiled for different ISAs.
#pragma once

#include <arm_neon.h>

#include <cstring>

#include "scalar/requant_scalar.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr size_t kArmMaxNR = 16;

// Row rows [0, m) and columns [0, n) of `dot` (row stride nr, a multiple of 4, <= kArmMaxNR)
// hold sum_k A[i][k] * (B[k][j] + b_shift) in modular int32 arithmetic: b_shift = 128 when
// the kernel multiplied by the weights flipped to unsigned (b ^ 0x80), else 0. The finished
// accumulator is dot + col_off[j] - row_sum[i] * (zb[j] + b_shift), which is the contract's
// acc (the extra 128 * row_sum[i] cancels). The tile's earlier K blocks (TileArgs::acc_in) are
// added too. Writes only the m x n tile of C.
__attribute__((noinline)) void neon_store_tile(const int32_t* dot, size_t nr, size_t m, size_t n,
                                               const int32_t* row_sum, int32_t b_shift, void* c,
                                               size_t c_stride, const StageParams* p, const TileArgs* t,
                                               size_t j0) {
  const StageKind kind = p->kind;
  if (kind != StageKind::s32 && kind != StageKind::f32 && kind != StageKind::float_mult &&
      kind != StageKind::fixed_double && kind != StageKind::fixed_single) {
    // A stage without NEON code: the reference store (kernels/scalar/requant_scalar.hpp).
    int32_t dots[kArmMaxNR * kArmMaxNR];
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j)
        dots[i * nr + j] = static_cast<int32_t>(
            static_cast<uint32_t>(dot[i * nr + j]) - static_cast<uint32_t>(b_shift) * static_cast<uint32_t>(row_sum[i]) +
            (t->acc_in ? static_cast<uint32_t>(t->acc_in[i * t->acc_in_stride + j]) : 0u));
    return store_tile_ref(dots, nr, m, n, row_sum, c, c_stride, *p, j0);
  }
  // Per-column tables; a partial tile copies its n columns so no vector reads past column n.
  const int32_t* col_off = p->col_off + j0;
  const int32_t* zb = p->zb + j0;
  const int32_t* mult = p->mult ? p->mult + j0 : nullptr;
  const int32_t* shift = p->shift ? p->shift + j0 : nullptr;
  const float* scale = p->scale ? p->scale + j0 : nullptr;
  const float* fbias = p->fbias ? p->fbias + j0 : nullptr;
  int32_t t_off[kArmMaxNR] = {}, t_zb[kArmMaxNR] = {};
  int32_t t_mult[kArmMaxNR] = {}, t_shift[kArmMaxNR] = {};
  float t_scale[kArmMaxNR] = {}, t_fbias[kArmMaxNR] = {};
  if (n < nr) {
    std::memcpy(t_off, col_off, n * 4);
    std::memcpy(t_zb, zb, n * 4);
    col_off = t_off;
    zb = t_zb;
    if (mult) mult = static_cast<const int32_t*>(std::memcpy(t_mult, mult, n * 4));
    if (shift) shift = static_cast<const int32_t*>(std::memcpy(t_shift, shift, n * 4));
    if (scale) scale = static_cast<const float*>(std::memcpy(t_scale, scale, n * 4));
    if (fbias) fbias = static_cast<const float*>(std::memcpy(t_fbias, fbias, n * 4));
  }
  const size_t esize = p->out_bytes;
  const int32x4_t vqmin = vdupq_n_s32(p->qmin), vqmax = vdupq_n_s32(p->qmax);
  const int32x4_t vzo = vdupq_n_s32(p->zo);
  const float32x4_t vfqmin = vdupq_n_f32(static_cast<float>(p->qmin));
  const float32x4_t vfqmax = vdupq_n_f32(static_cast<float>(p->qmax));
  const float32x4_t vfmin = vdupq_n_f32(p->fmin), vfmax = vdupq_n_f32(p->fmax);

  for (size_t j = 0; j < n; j += 4) {
    const size_t cols = n - j < 4 ? n - j : 4;
    const int32x4_t coff = vld1q_s32(col_off + j);
    const int32x4_t zbv = vaddq_s32(vld1q_s32(zb + j), vdupq_n_s32(b_shift));
    int32x4_t v_mult = vdupq_n_s32(0), v_lsh = v_mult, v_rsh = v_mult;
    float32x4_t v_scale = vdupq_n_f32(0.0f), v_fbias = v_scale;
    if (kind == StageKind::fixed_double || kind == StageKind::fixed_single) {
      v_mult = vld1q_s32(mult + j);
      const int32x4_t s = vld1q_s32(shift + j);
      if (kind == StageKind::fixed_double) {
        v_lsh = vmaxq_s32(s, vdupq_n_s32(0));  // left shift, wraps
        v_rsh = vminq_s32(s, vdupq_n_s32(0));  // -exponent of RoundingDivideByPOT
      } else {
        v_rsh = vsubq_s32(s, vdupq_n_s32(31));  // -(31 - shift), in [-62, -1]
      }
    } else if (kind == StageKind::f32 || kind == StageKind::float_mult) {
      v_scale = vld1q_f32(scale + j);
      v_fbias = vld1q_f32(fbias + j);
    }
    for (size_t i = 0; i < m; ++i) {
      int32x4_t acc = vaddq_s32(vld1q_s32(dot + i * nr + j), coff);
      if (t->acc_in) acc = vaddq_s32(acc, vld1q_s32(t->acc_in + i * t->acc_in_stride + j));
      acc = vmlsq_s32(acc, vdupq_n_s32(row_sum[i]), zbv);  // modular
      char* dst = static_cast<char*>(c) + i * c_stride + j * esize;
      alignas(16) int32_t out[4];
      switch (kind) {
        case StageKind::s32:
          vst1q_s32(out, acc);
          break;
        case StageKind::f32: {
          // fmaf(float(acc), scale, fbias), then the scalar clamp (NaN passes through).
          float32x4_t y = vfmaq_f32(v_fbias, vcvtq_f32_s32(acc), v_scale);
          y = vbslq_f32(vcgtq_f32(vfmin, y), vfmin, y);
          y = vbslq_f32(vcltq_f32(vfmax, y), vfmax, y);
          vst1q_f32(reinterpret_cast<float*>(out), y);
          break;
        }
        default: {
          int32x4_t r;
          if (kind == StageKind::float_mult) {
            // (float(acc) + fbias) * scale, two roundings as FBGEMM; clamping to the integral
            // bounds before rounding to nearest even equals nearbyint then clamp.
            float32x4_t x = vmulq_f32(vaddq_f32(vcvtq_f32_s32(acc), v_fbias), v_scale);
            x = vminq_f32(vmaxq_f32(x, vfqmin), vfqmax);
            r = vcvtnq_s32_f32(x);
          } else if (kind == StageKind::fixed_double) {
            // SaturatingRoundingDoublingHighMul is exactly SQRDMULH. RoundingDivideByPOT
            // rounds ties away from zero, SRSHL ties up: negative inputs step down by one first.
            const int32x4_t x = vqrdmulhq_s32(vshlq_s32(acc, v_lsh), v_mult);
            const int32x4_t fix = vshrq_n_s32(vandq_s32(x, v_rsh), 31);
            r = vrshlq_s32(vqaddq_s32(x, fix), v_rsh);
          } else {
            // Single rounding: (acc*m + 2^(s-1)) >> s in 64 bits, saturated to int32.
            const int64x2_t lo = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(v_mult)),
                                            vmovl_s32(vget_low_s32(v_rsh)));
            const int64x2_t hi = vrshlq_s64(vmull_high_s32(acc, v_mult), vmovl_high_s32(v_rsh));
            r = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
          }
          r = vaddq_s32(vminq_s32(vmaxq_s32(r, vqmin), vqmax), vzo);  // within the type now
          const int16x4_t h = vmovn_s32(r);
          const int8x8_t b8 = vmovn_s16(vcombine_s16(h, h));
          vst1_s8(reinterpret_cast<int8_t*>(out), b8);
        }
      }
      if (cols == 4)
        std::memcpy(dst, out, 4 * esize);
      else
        std::memcpy(dst, out, cols * esize);
    }
  }
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
