// Quantization utilities (include/qgemm/quantize.hpp): PyTorch's parameter choices, quantize /
// dequantize per tensor and per channel, error measures. The loops over data use xsimd (the
// baseline ISA's width: this file is built for the baseline like the rest of src/); every
// SIMD loop computes exactly what its scalar tail computes, element by element.
#include "qgemm/quantize.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#include "errors.hpp"
#include "quant/quant_kernels.hpp"

namespace qgemm {

using detail::fail;
using detail::succeed;

namespace {

using fbatch = xsimd::batch<float>;
using ibatch = xsimd::batch<int32_t>;
constexpr size_t kW = fbatch::size;

bool finite(float v) { return std::isfinite(v); }

Status check_params(QParams p, QType type, const char* fn) {
  int32_t lo, hi;
  quant_range(type, false, &lo, &hi);
  if (!(p.scale > 0.0f) || !finite(p.scale))
    return fail(Status::bad_argument, "%s: scale must be finite and > 0 (got %g)", fn, p.scale);
  if (p.zero_point < lo || p.zero_point > hi)
    return fail(Status::bad_zero_point, "%s: zero point %d outside [%d, %d]", fn, p.zero_point, lo, hi);
  return Status::ok;
}

// One element, the definition: q = clamp(zp + nearbyint(x * inv), lo, hi); NaN -> zp.
inline int32_t quantize_one(float x, float inv, int32_t zp, int32_t lo, int32_t hi) {
  const float t = std::nearbyint(x * inv);
  if (t != t) return zp;
  const float flo = static_cast<float>(lo - zp), fhi = static_cast<float>(hi - zp);
  const float c = t < flo ? flo : (t > fhi ? fhi : t);
  return static_cast<int32_t>(c) + zp;
}

template <typename T>
void quantize_span_xsimd(const float* x, size_t n, float inv, int32_t zp, T* q) {
  constexpr int32_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  const fbatch vinv(inv), vlo(static_cast<float>(lo - zp)), vhi(static_cast<float>(hi - zp));
  const ibatch vzp(zp);
  alignas(64) int32_t tmp[kW];
  size_t i = 0;
  for (; i + kW <= n; i += kW) {
    fbatch t = xsimd::nearbyint(fbatch::load_unaligned(x + i) * vinv);
    t = xsimd::select(t == t, t, fbatch(0.0f));       // NaN -> zero point
    t = xsimd::min(xsimd::max(t, vlo), vhi);          // clamp before the int conversion
    (xsimd::batch_cast<int32_t>(t) + vzp).store_aligned(tmp);
    for (size_t l = 0; l < kW; ++l) q[i + l] = static_cast<T>(tmp[l]);
  }
  for (; i < n; ++i) q[i] = static_cast<T>(quantize_one(x[i], inv, zp, lo, hi));
}

template <typename T>
void dequantize_span(const T* q, size_t n, float scale, int32_t zp, float* x) {
  const fbatch vs(scale);
  alignas(64) float tmp[kW];
  size_t i = 0;
  for (; i + kW <= n; i += kW) {
    for (size_t l = 0; l < kW; ++l) tmp[l] = static_cast<float>(static_cast<int32_t>(q[i + l]) - zp);
    (fbatch::load_aligned(tmp) * vs).store_unaligned(x + i);
  }
  for (; i < n; ++i) x[i] = static_cast<float>(static_cast<int32_t>(q[i]) - zp) * scale;
}

// Running min/max of a span, NaN ignored; (+inf, -inf) when every element is NaN.
void min_max_span_xsimd(const float* x, size_t n, float* mn, float* mx) {
  fbatch vmin(std::numeric_limits<float>::infinity()), vmax(-std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + kW <= n; i += kW) {
    const fbatch v = fbatch::load_unaligned(x + i);
    const auto ok = v == v;
    vmin = xsimd::select(ok, xsimd::min(vmin, v), vmin);
    vmax = xsimd::select(ok, xsimd::max(vmax, v), vmax);
  }
  alignas(64) float a[kW], b[kW];
  vmin.store_aligned(a);
  vmax.store_aligned(b);
  float lo = *mn, hi = *mx;
  for (size_t l = 0; l < kW; ++l) {
    lo = std::min(lo, a[l]);
    hi = std::max(hi, b[l]);
  }
  for (; i < n; ++i)
    if (x[i] == x[i]) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
  *mn = lo;
  *mx = hi;
}

inline void quantize_span(const float* x, size_t n, float inv, int32_t zp, uint8_t* q) {
  detail::quant_kernels().quantize_u8(x, n, inv, zp, q);
}
inline void quantize_span(const float* x, size_t n, float inv, int32_t zp, int8_t* q) {
  detail::quant_kernels().quantize_s8(x, n, inv, zp, q);
}
inline void min_max_span(const float* x, size_t n, float* mn, float* mx) { detail::quant_kernels().min_max(x, n, mn, mx); }

// outer x channels x inner view of a row-major tensor split at `axis`.
Status channel_view(const int64_t* shape, int ndim, int axis, const char* fn, size_t* outer,
                    size_t* channels, size_t* inner) {
  if (!shape) return fail(Status::null_pointer, "%s: null shape", fn);
  if (ndim < 1 || ndim > 8) return fail(Status::bad_argument, "%s: ndim %d not in [1, 8]", fn, ndim);
  if (axis < 0 || axis >= ndim) return fail(Status::bad_argument, "%s: axis %d not in [0, %d)", fn, axis, ndim);
  size_t o = 1, in = 1;
  const uint64_t limit = uint64_t{1} << 48;
  uint64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 1) return fail(Status::negative_dimension, "%s: shape[%d] = %lld < 1", fn, d, static_cast<long long>(shape[d]));
    total *= static_cast<uint64_t>(shape[d]);
    if (total > limit) return fail(Status::bad_argument, "%s: tensor too large", fn);
    if (d < axis) o *= static_cast<size_t>(shape[d]);
    if (d > axis) in *= static_cast<size_t>(shape[d]);
  }
  *outer = o;
  *channels = static_cast<size_t>(shape[axis]);
  *inner = in;
  return Status::ok;
}

}  // namespace

namespace detail {
void quantize_u8__xsimd(const float* x, size_t n, float inv, int32_t zp, uint8_t* q) { quantize_span_xsimd(x, n, inv, zp, q); }
void quantize_s8__xsimd(const float* x, size_t n, float inv, int32_t zp, int8_t* q) { quantize_span_xsimd(x, n, inv, zp, q); }
void min_max__xsimd(const float* x, size_t n, float* mn, float* mx) { min_max_span_xsimd(x, n, mn, mx); }
}  // namespace detail

void quant_range(QType type, bool reduce_range, int32_t* qmin, int32_t* qmax) noexcept {
  int32_t lo = type == QType::u8 ? 0 : -128, hi = type == QType::u8 ? 255 : 127;
  if (reduce_range) {  // PyTorch: qmin // 2, qmax // 2 (floor division)
    lo = type == QType::u8 ? 0 : -64;
    hi = type == QType::u8 ? 127 : 63;
  }
  if (qmin) *qmin = lo;
  if (qmax) *qmax = hi;
}

Status choose_qparams(float min, float max, QType type, QScheme scheme, bool reduce_range,
                      QParams* out) noexcept {
  if (!out) return fail(Status::null_pointer, "choose_qparams: null output");
  if (type != QType::u8 && type != QType::s8) return fail(Status::bad_argument, "choose_qparams: unknown QType");
  if (scheme != QScheme::affine && scheme != QScheme::symmetric)
    return fail(Status::bad_argument, "choose_qparams: unknown QScheme");
  if (!finite(min) || !finite(max) || min > max)
    return fail(Status::bad_argument, "choose_qparams: need finite min <= max (got %g, %g)", min, max);
  if (type == QType::u8 && scheme == QScheme::symmetric && reduce_range)
    return fail(Status::bad_argument, "choose_qparams: symmetric u8 with reduce_range is refused (as PyTorch does)");
  int32_t qmin, qmax;
  quant_range(type, reduce_range, &qmin, &qmax);
  const float mn = std::min(min, 0.0f), mx = std::max(max, 0.0f);  // the range includes 0
  QParams p;
  if (scheme == QScheme::symmetric) {
    const float amax = std::max(-mn, mx);
    p.scale = std::max(amax / (static_cast<float>(qmax - qmin) / 2.0f), kQuantEps);
    p.zero_point = type == QType::u8 ? 128 : 0;
  } else {
    p.scale = std::max((mx - mn) / static_cast<float>(qmax - qmin), kQuantEps);
    // max - min overflows float beyond about 3.4e38: a scale quantize() would refuse.
    if (!finite(p.scale))
      return fail(Status::bad_argument, "choose_qparams: range [%g, %g] is too wide, its scale overflows float", min, max);
    const int32_t zp = qmin - static_cast<int32_t>(std::nearbyint(mn / p.scale));
    p.zero_point = std::min(std::max(zp, qmin), qmax);
  }
  *out = p;
  return succeed();
}

Status choose_qparams_dynamic(float min, float max, bool reduce_range, QParams* out) noexcept {
  if (!out) return fail(Status::null_pointer, "choose_qparams_dynamic: null output");
  if (!finite(min) || !finite(max) || min > max)
    return fail(Status::bad_argument, "choose_qparams_dynamic: need finite min <= max (got %g, %g)", min, max);
  int32_t qmin = 0, qmax = 255;
  if (reduce_range) {
    qmin /= 2;
    qmax /= 2;
  }
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  double scale = (static_cast<double>(max) - min) / (qmax - qmin);
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) scale = 0.1;
  constexpr float kSmallScale = 6.1e-5f;
  if (scale < kSmallScale) {
    const float org_scale = static_cast<float>(scale);
    scale = kSmallScale;
    if (min == 0.0f) {
      max = kSmallScale * (qmax - qmin);
    } else if (max == 0.0f) {
      min = -kSmallScale * (qmax - qmin);
    } else {
      const float amplifier = kSmallScale / org_scale;
      min *= amplifier;
      max *= amplifier;
    }
  }
  const double zp_from_min = qmin - min / scale;
  const double zp_from_max = qmax - max / scale;
  const double zp_from_min_error = std::abs(qmin) - std::abs(min / scale);
  const double zp_from_max_error = std::abs(qmax) - std::abs(max / scale);
  const double initial = zp_from_min_error < zp_from_max_error ? zp_from_min : zp_from_max;
  int32_t zp;
  if (initial < qmin)
    zp = qmin;
  else if (initial > qmax)
    zp = qmax;
  else
    zp = static_cast<int32_t>(std::nearbyint(initial));
  out->scale = static_cast<float>(scale);
  out->zero_point = zp;
  return succeed();
}

Status min_max(const float* x, int64_t n, float* mn, float* mx) noexcept {
  if (!x || !mn || !mx) return fail(Status::null_pointer, "min_max: null argument");
  if (n < 1) return fail(Status::negative_dimension, "min_max: n = %lld < 1", static_cast<long long>(n));
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  min_max_span(x, static_cast<size_t>(n), &lo, &hi);
  if (lo > hi) return fail(Status::bad_argument, "min_max: every element is NaN");
  *mn = lo;
  *mx = hi;
  return succeed();
}

Status choose_qparams_tensor(const float* x, int64_t n, QType type, QScheme scheme,
                             bool reduce_range, QParams* out) noexcept {
  float lo, hi;
  if (Status s = min_max(x, n, &lo, &hi); s != Status::ok) return s;
  return choose_qparams(lo, hi, type, scheme, reduce_range, out);
}

Status choose_qparams_per_channel(const float* x, const int64_t* shape, int ndim, int axis,
                                  QType type, QScheme scheme, bool reduce_range, float* scales,
                                  int32_t* zero_points) noexcept {
  size_t outer, ch, inner;
  if (Status s = channel_view(shape, ndim, axis, "choose_qparams_per_channel", &outer, &ch, &inner); s != Status::ok)
    return s;
  if (!x || !scales || !zero_points) return fail(Status::null_pointer, "choose_qparams_per_channel: null argument");
  // Two passes so that nothing is written on error.
  std::unique_ptr<float[]> lo(new (std::nothrow) float[ch]), hi(new (std::nothrow) float[ch]);
  if (!lo || !hi) return fail(Status::out_of_memory, "choose_qparams_per_channel: out of memory");
  for (size_t c = 0; c < ch; ++c) {
    lo[c] = std::numeric_limits<float>::infinity();
    hi[c] = -lo[c];
  }
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < ch; ++c) min_max_span(x + (o * ch + c) * inner, inner, &lo[c], &hi[c]);
  std::unique_ptr<QParams[]> p(new (std::nothrow) QParams[ch]);
  if (!p) return fail(Status::out_of_memory, "choose_qparams_per_channel: out of memory");
  for (size_t c = 0; c < ch; ++c) {
    if (lo[c] > hi[c]) return fail(Status::bad_argument, "choose_qparams_per_channel: channel %zu is all NaN", c);
    if (Status s = choose_qparams(lo[c], hi[c], type, scheme, reduce_range, &p[c]); s != Status::ok) return s;
  }
  for (size_t c = 0; c < ch; ++c) {
    scales[c] = p[c].scale;
    zero_points[c] = p[c].zero_point;
  }
  return succeed();
}

template <typename T>
static Status quantize_impl(const float* x, int64_t n, QParams p, T* q) {
  const QType type = std::is_same<T, uint8_t>::value ? QType::u8 : QType::s8;
  if (n < 0) return fail(Status::negative_dimension, "quantize: n < 0");
  if (n > 0 && (!x || !q)) return fail(Status::null_pointer, "quantize: null argument");
  if (Status s = check_params(p, type, "quantize"); s != Status::ok) return s;
  quantize_span(x, static_cast<size_t>(n), 1.0f / p.scale, p.zero_point, q);
  return succeed();
}

template <typename T>
static Status dequantize_impl(const T* q, int64_t n, QParams p, float* x) {
  const QType type = std::is_same<T, uint8_t>::value ? QType::u8 : QType::s8;
  if (n < 0) return fail(Status::negative_dimension, "dequantize: n < 0");
  if (n > 0 && (!x || !q)) return fail(Status::null_pointer, "dequantize: null argument");
  if (Status s = check_params(p, type, "dequantize"); s != Status::ok) return s;
  dequantize_span(q, static_cast<size_t>(n), p.scale, p.zero_point, x);
  return succeed();
}

Status quantize(const float* x, int64_t n, QParams p, uint8_t* q) noexcept { return quantize_impl(x, n, p, q); }
Status quantize(const float* x, int64_t n, QParams p, int8_t* q) noexcept { return quantize_impl(x, n, p, q); }
Status dequantize(const uint8_t* q, int64_t n, QParams p, float* x) noexcept { return dequantize_impl(q, n, p, x); }
Status dequantize(const int8_t* q, int64_t n, QParams p, float* x) noexcept { return dequantize_impl(q, n, p, x); }

Status quantize_per_channel(const float* x, const int64_t* shape, int ndim, int axis,
                            const float* scales, const int32_t* zero_points, QType type,
                            void* q) noexcept {
  size_t outer, ch, inner;
  if (Status s = channel_view(shape, ndim, axis, "quantize_per_channel", &outer, &ch, &inner); s != Status::ok) return s;
  if (!x || !scales || !zero_points || !q) return fail(Status::null_pointer, "quantize_per_channel: null argument");
  if (type != QType::u8 && type != QType::s8) return fail(Status::bad_argument, "quantize_per_channel: unknown QType");
  for (size_t c = 0; c < ch; ++c)
    if (Status s = check_params({scales[c], zero_points[c]}, type, "quantize_per_channel"); s != Status::ok) return s;
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < ch; ++c) {
      const size_t off = (o * ch + c) * inner;
      const float inv = 1.0f / scales[c];
      if (type == QType::u8)
        quantize_span(x + off, inner, inv, zero_points[c], static_cast<uint8_t*>(q) + off);
      else
        quantize_span(x + off, inner, inv, zero_points[c], static_cast<int8_t*>(q) + off);
    }
  return succeed();
}

Status dequantize_per_channel(const void* q, QType type, const int64_t* shape, int ndim, int axis,
                              const float* scales, const int32_t* zero_points, float* x) noexcept {
  size_t outer, ch, inner;
  if (Status s = channel_view(shape, ndim, axis, "dequantize_per_channel", &outer, &ch, &inner); s != Status::ok) return s;
  if (!x || !scales || !zero_points || !q) return fail(Status::null_pointer, "dequantize_per_channel: null argument");
  if (type != QType::u8 && type != QType::s8) return fail(Status::bad_argument, "dequantize_per_channel: unknown QType");
  for (size_t c = 0; c < ch; ++c)
    if (Status s = check_params({scales[c], zero_points[c]}, type, "dequantize_per_channel"); s != Status::ok) return s;
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < ch; ++c) {
      const size_t off = (o * ch + c) * inner;
      if (type == QType::u8)
        dequantize_span(static_cast<const uint8_t*>(q) + off, inner, scales[c], zero_points[c], x + off);
      else
        dequantize_span(static_cast<const int8_t*>(q) + off, inner, scales[c], zero_points[c], x + off);
    }
  return succeed();
}

Status max_abs_error(const float* a, const float* b, int64_t n, double* out) noexcept {
  if (!a || !b || !out) return fail(Status::null_pointer, "max_abs_error: null argument");
  if (n < 1) return fail(Status::negative_dimension, "max_abs_error: n < 1");
  // |a-b| in float is not exact; widen each element to double (exact difference of floats
  // is representable in double for finite inputs of similar magnitude, and monotone otherwise).
  using dbatch = xsimd::batch<double>;
  constexpr size_t w = dbatch::size;
  dbatch vm(0.0);
  alignas(64) double ta[w], tb[w];
  size_t i = 0;
  const size_t N = static_cast<size_t>(n);
  double m = 0.0;
  bool nan = false;
  for (; i + w <= N; i += w) {
    for (size_t l = 0; l < w; ++l) {
      ta[l] = a[i + l];
      tb[l] = b[i + l];
    }
    const dbatch d = xsimd::abs(dbatch::load_aligned(ta) - dbatch::load_aligned(tb));
    nan |= xsimd::any(d != d);
    vm = xsimd::max(vm, d);
  }
  alignas(64) double t[w];
  vm.store_aligned(t);
  for (size_t l = 0; l < w; ++l) m = std::max(m, t[l]);
  for (; i < N; ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    nan |= d != d;
    m = std::max(m, d);
  }
  *out = nan ? std::numeric_limits<double>::quiet_NaN() : m;
  return succeed();
}

Status mean_squared_error(const float* a, const float* b, int64_t n, double* out) noexcept {
  if (!a || !b || !out) return fail(Status::null_pointer, "mean_squared_error: null argument");
  if (n < 1) return fail(Status::negative_dimension, "mean_squared_error: n < 1");
  using dbatch = xsimd::batch<double>;
  constexpr size_t w = dbatch::size;
  dbatch acc(0.0);
  alignas(64) double ta[w], tb[w];
  size_t i = 0;
  const size_t N = static_cast<size_t>(n);
  for (; i + w <= N; i += w) {
    for (size_t l = 0; l < w; ++l) {
      ta[l] = a[i + l];
      tb[l] = b[i + l];
    }
    const dbatch d = dbatch::load_aligned(ta) - dbatch::load_aligned(tb);
    acc = acc + d * d;
  }
  double s = xsimd::hadd(acc);
  for (; i < N; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  *out = s / static_cast<double>(N);
  return succeed();
}

Status quantization_error(const float* x, int64_t n, QParams p, QType type, double* max_abs,
                          double* mse) noexcept {
  if (!x) return fail(Status::null_pointer, "quantization_error: null x");
  if (n < 1) return fail(Status::negative_dimension, "quantization_error: n < 1");
  if (type != QType::u8 && type != QType::s8) return fail(Status::bad_argument, "quantization_error: unknown QType");
  if (Status s = check_params(p, type, "quantization_error"); s != Status::ok) return s;
  constexpr size_t kChunk = 1024;
  float deq[kChunk];
  uint8_t qb[kChunk];
  double m = 0.0, ss = 0.0;
  const float inv = 1.0f / p.scale;
  for (size_t i = 0; i < static_cast<size_t>(n); i += kChunk) {
    const size_t len = std::min(kChunk, static_cast<size_t>(n) - i);
    if (type == QType::u8) {
      quantize_span(x + i, len, inv, p.zero_point, qb);
      dequantize_span(qb, len, p.scale, p.zero_point, deq);
    } else {
      int8_t* qs = reinterpret_cast<int8_t*>(qb);
      quantize_span(x + i, len, inv, p.zero_point, qs);
      dequantize_span(qs, len, p.scale, p.zero_point, deq);
    }
    double cm, cs;
    max_abs_error(x + i, deq, static_cast<int64_t>(len), &cm);
    mean_squared_error(x + i, deq, static_cast<int64_t>(len), &cs);
    m = (cm != cm || m != m) ? std::numeric_limits<double>::quiet_NaN() : std::max(m, cm);
    ss += cs * static_cast<double>(len);
  }
  if (max_abs) *max_abs = m;
  if (mse) *mse = ss / static_cast<double>(n);
  return succeed();
}

uint16_t float_to_bf16(float x) noexcept {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_float(uint16_t h) noexcept {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_f16(float x) noexcept {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (a >= 0x38800000u) {  // normal f16
    const uint32_t mant_odd = (a >> 13) & 1u;
    const uint32_t r = a + 0xfffu + mant_odd;  // round to nearest even at bit 13
    return static_cast<uint16_t>(sign | (((r >> 13) - (112u << 10)) & 0x7fffu));
  }
  // Subnormal f16 (or zero): value = a_float / 2^-24, rounded to nearest even.
  float f;
  const uint32_t au = a;
  std::memcpy(&f, &au, 4);
  const float scaled = std::nearbyint(f * 16777216.0f);  // exact multiply by 2^24
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(scaled));
}

float f16_to_float(uint16_t h) noexcept {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t u;
  if (e == 0) {
    float f = static_cast<float>(m) * (1.0f / 16777216.0f);  // m * 2^-24, exact
    std::memcpy(&u, &f, 4);
    u |= sign;
  } else if (e == 31) {
    u = sign | 0x7f800000u | (m << 13);
  } else {
    u = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace qgemm
