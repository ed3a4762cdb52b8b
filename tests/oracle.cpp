// The independent oracle (see oracle.hpp).
#include "oracle.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace oracle {
namespace {

using i128 = __int128;

// floor(x / 2^e) for any sign.
i128 floor_div_pow2(i128 x, int e) {
  const i128 d = static_cast<i128>(1) << e;
  i128 q = x / d;
  if (x % d != 0 && x < 0) --q;
  return q;
}

// x / 2^e rounded to nearest, ties away from zero.
i128 round_away_pow2(i128 x, int e) {
  if (e == 0) return x;
  const i128 ax = x < 0 ? -x : x;
  const i128 d = static_cast<i128>(1) << e;
  i128 q = ax / d;
  if (2 * (ax % d) >= d) ++q;
  return x < 0 ? -q : q;
}

int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace

std::vector<int64_t> accumulate(const Problem& p, const int32_t* bias) {
  std::vector<int64_t> acc(static_cast<size_t>(p.M * p.N), 0);
  // The same sum, with (B - zb) copied column by column and (A - za) row by row as int64 first,
  // so that the inner loop is a contiguous dot product (the fuzzer spends its time here).
  const size_t K = static_cast<size_t>(p.K);
  std::vector<int64_t> bt(static_cast<size_t>(p.N) * K), arow(K);
  for (int64_t j = 0; j < p.N; ++j)
    for (int64_t k = 0; k < p.K; ++k)
      bt[static_cast<size_t>(j) * K + static_cast<size_t>(k)] = static_cast<int64_t>(p.B(k, j)) - p.zb_of(j);
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t k = 0; k < p.K; ++k) arow[static_cast<size_t>(k)] = static_cast<int64_t>(p.A(i, k)) - p.za;
    for (int64_t j = 0; j < p.N; ++j) {
      const int64_t* b = bt.data() + static_cast<size_t>(j) * K;
      int64_t s = bias ? bias[j] : 0;
      for (size_t k = 0; k < K; ++k) s += arow[k] * b[k];
      acc[i * p.N + j] = s;
    }
  }
  return acc;
}

int64_t fixed_point(int64_t acc, int32_t m, int32_t shift, qgemm::Rounding r) {
  if (r == qgemm::Rounding::single_rounding) {
    // TFLITE_SINGLE_ROUNDING: floor((acc*m + 2^(30-shift)) / 2^(31-shift)), saturated.
    const int s = 31 - shift;
    const i128 v = floor_div_pow2(static_cast<i128>(acc) * m + (static_cast<i128>(1) << (s - 1)), s);
    return static_cast<int64_t>(clamp64(static_cast<int64_t>(v), INT32_MIN, INT32_MAX));
  }
  // Double rounding: x = acc * 2^left (wrapping to int32), then round-half-up(x*m / 2^31)
  // saturating INT32_MIN*INT32_MIN, then round-half-away(/ 2^right).
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc) << left);
  int64_t h;
  if (x == INT32_MIN && m == INT32_MIN)
    h = INT32_MAX;
  else
    h = static_cast<int64_t>(floor_div_pow2(static_cast<i128>(x) * m + (static_cast<i128>(1) << 30), 31));
  return static_cast<int64_t>(round_away_pow2(h, right));
}

int32_t requant_fixed(int64_t acc, int32_t m, int32_t shift, qgemm::Rounding r, int32_t zo,
                      int32_t lo, int32_t hi) {
  return static_cast<int32_t>(clamp64(fixed_point(acc, m, shift, r) + zo, lo, hi));
}

int32_t requant_float(int64_t acc, float sa, float sb, float so, const float* bias_f32,
                      int32_t zo, int32_t lo, int32_t hi) {
  const float act_times_w_scale = sa * sb;
  const float multiplier = act_times_w_scale / so;
  float raw_f = static_cast<float>(static_cast<int32_t>(acc));
  if (bias_f32) raw_f += *bias_f32 / act_times_w_scale;
  const float ab = raw_f * multiplier;
  const long rounded = std::lrintf(ab) + zo;
  return static_cast<int32_t>(clamp64(rounded, lo, hi));
}

float dequant(int64_t acc, float sa, float sb, float bias, float lo, float hi) {
  float y = std::fmaf(static_cast<float>(static_cast<int32_t>(acc)), sa * sb, bias);
  if (y < lo) y = lo;
  if (y > hi) y = hi;
  return y;
}

std::vector<uint8_t> expected_output(const Problem& p, const qgemm::OutputStage& o, uint8_t fill) {
  using qgemm::OutputType;
  const size_t es = (o.type == OutputType::s32 || o.type == OutputType::f32) ? 4 : 1;
  const int64_t rows = p.M;
  std::vector<uint8_t> c(static_cast<size_t>(rows > 0 ? ((rows - 1) * p.ldc + p.N) : 0) * es, fill);
  const std::vector<int64_t> acc = accumulate(p, o.bias_s32);
  const int32_t tmin = o.type == OutputType::u8 ? 0 : -128, tmax = o.type == OutputType::u8 ? 255 : 127;
  const int32_t lo = o.clamp_lo == INT32_MIN ? tmin : o.clamp_lo;
  const int32_t hi = o.clamp_hi == INT32_MAX ? tmax : o.clamp_hi;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      const int64_t v = acc[i * p.N + j];
      if (v < INT32_MIN || v > INT32_MAX) throw std::logic_error("oracle: accumulator exceeds int32");
      const int64_t col = o.per_column ? j : 0;
      uint8_t* dst = c.data() + static_cast<size_t>(i * p.ldc + j) * es;
      switch (o.type) {
        case OutputType::s32: {
          const int32_t x = static_cast<int32_t>(v);
          std::memcpy(dst, &x, 4);
          break;
        }
        case OutputType::f32: {
          const float y = dequant(v, o.act_scale, o.weight_scale[col], o.bias_f32 ? o.bias_f32[j] : 0.0f,
                                  o.clamp_lo_f32, o.clamp_hi_f32);
          std::memcpy(dst, &y, 4);
          break;
        }
        default: {
          const int32_t q = o.requant == qgemm::Requant::fixed_point
                                ? requant_fixed(v, o.multiplier[col], o.shift[col], o.rounding, o.zero_point, lo, hi)
                                : requant_float(v, o.act_scale, o.weight_scale[col], o.out_scale,
                                                o.bias_f32 ? &o.bias_f32[j] : nullptr, o.zero_point, lo, hi);
          *dst = static_cast<uint8_t>(q);
        }
      }
    }
  return c;
}

}  // namespace oracle
