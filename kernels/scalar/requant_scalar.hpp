// Scalar output-stage arithmetic: the definition every SIMD output stage must reproduce bit
// for bit. Used by the scalar microkernel, by SIMD kernels for odd corners, and by the public
// requantization helpers. Integer overflow is never undefined: wraps and saturations are
// spelled out. Internal linkage (an anonymous namespace), like every header kernels share, so a
// kernel built with ISA flags that includes it never shares a copy with another ISA's.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "output_stage.hpp"

namespace qgemm {
namespace detail {
namespace {

// gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), ties towards +infinity (as
// NEON vqrdmulh),
// saturating the single overflow case INT32_MIN * INT32_MIN.
inline int32_t srdhm(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));  // C division truncates
}

// gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero; 0 <= e <= 31.
inline int32_t rdbpot(int32_t x, int32_t e) {
  const int64_t mask = (int64_t{1} << e) - 1;
  const int64_t remainder = static_cast<int64_t>(x) & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int32_t>((static_cast<int64_t>(x) >> e) + (remainder > threshold ? 1 : 0));
}

// TFLite MultiplyByQuantizedMultiplier, double rounding. The left shift wraps (two's
// complement), as TFLite's NEON/SSE code (vshlq_s32 / _mm_sllv_epi32) does.
inline int32_t mbqm_double(int32_t x, int32_t m, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t xs = static_cast<int32_t>(static_cast<uint32_t>(x) << left);
  return rdbpot(srdhm(xs, m), right);
}

// TFLite MultiplyByQuantizedMultiplier with TFLITE_SINGLE_ROUNDING: (x*m + 2^(s-1)) >> s with
// s = 31 - shift, ties towards +infinity; the result saturates to int32.
inline int32_t mbqm_single(int32_t x, int32_t m, int32_t shift) {
  const int32_t total = 31 - shift;  // 1..62
  const int64_t round = int64_t{1} << (total - 1);
  const int64_t r = (static_cast<int64_t>(x) * m + round) >> total;
  if (r > std::numeric_limits<int32_t>::max()) return std::numeric_limits<int32_t>::max();
  if (r < std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(r);
}

// Final accumulator of element (row i, absolute column j), modular int32 as the contract says.
inline int32_t finish_acc(uint32_t dot, const StageParams& p, int32_t row_sum, size_t j) {
  const uint32_t v = dot + static_cast<uint32_t>(p.col_off[j]) -
                     static_cast<uint32_t>(row_sum) * static_cast<uint32_t>(p.zb[j]);
  return static_cast<int32_t>(v);
}

// u8/s8 stages: the integer written to C (already within [lo, hi]).
inline int32_t requant_one(int32_t acc, const StageParams& p, size_t j) {
  if (p.kind == StageKind::float_mult) {
    const float x = (static_cast<float>(acc) + p.fbias[j]) * p.scale[j];
    float r = std::nearbyint(x);  // current rounding mode: round half to even
    const float lo = static_cast<float>(p.qmin), hi = static_cast<float>(p.qmax);
    r = r < lo ? lo : (r > hi ? hi : r);
    return static_cast<int32_t>(r) + p.zo;
  }
  int32_t r = p.kind == StageKind::fixed_single ? mbqm_single(acc, p.mult[j], p.shift[j])
                                                : mbqm_double(acc, p.mult[j], p.shift[j]);
  r = r < p.qmin ? p.qmin : (r > p.qmax ? p.qmax : r);
  return r + p.zo;
}

// f32 stage: one fused multiply-add, then the clamp written so that NaN propagates the way
// x86 maxps/minps with these operand orders do.
inline float dequant_one(int32_t acc, const StageParams& p, size_t j) {
  float y = std::fma(static_cast<float>(acc), p.scale[j], p.fbias[j]);
  y = p.fmin > y ? p.fmin : y;
  y = p.fmax < y ? p.fmax : y;
  return y;
}

// Stores one finished accumulator into row `crow` (type chosen by the stage), column jj. A new
// stage is one more case here (and its kind in kernels/output_stage.hpp).
inline void store_one(void* crow, size_t jj, int32_t acc, const StageParams& p, size_t j) {
  switch (p.kind) {
    case StageKind::s32:
      static_cast<int32_t*>(crow)[jj] = acc;
      break;
    case StageKind::f32:
      static_cast<float*>(crow)[jj] = dequant_one(acc, p, j);
      break;
    default: {
      const int32_t q = requant_one(acc, p, j);
      if (p.out_u8)
        static_cast<uint8_t*>(crow)[jj] = static_cast<uint8_t>(q);
      else
        static_cast<int8_t*>(crow)[jj] = static_cast<int8_t>(q);
    }
  }
}

// The reference store of a tile: rows [0, m), columns [0, n) of int32 dot products (earlier K
// blocks already added) at dots[i * dots_stride + t], the tile's first absolute column j0. The
// scalar kernel's store, and the one any ISA's SIMD store falls back to for a stage it has no
// code of its own for (gemmlowp's pattern: one generic evaluator, specialisations where they pay).
inline void store_tile_ref(const int32_t* dots, size_t dots_stride, size_t m, size_t n, const int32_t* row_sum,
                           void* c, size_t c_stride, const StageParams& p, size_t j0) {
  for (size_t i = 0; i < m; ++i) {
    void* crow = static_cast<char*>(c) + i * c_stride;
    for (size_t t = 0; t < n; ++t)
      store_one(crow, t, finish_acc(static_cast<uint32_t>(dots[i * dots_stride + t]), p, row_sum[i], j0 + t), p, j0 + t);
  }
}

}  // namespace
}  // namespace detail
}  // namespace qgemm
