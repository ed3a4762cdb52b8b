// Int4Linear (include/qgemm/linear.hpp): weight quantization per group, packing through the
// "u4" weight format, and the forward loops: X widened / quantized per row and group into
// per-thread scratch, then the selected ISA's kernel over column panels split between threads
// (never K, so the bits do not depend on the thread count). The arithmetic is
// kernels/int4_ukernel.hpp's; the kernels' selection is int4_dispatch.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "errors.hpp"
#include "int4/int4_kernels.hpp"
#include "qgemm/linear.hpp"
#include "quant/quant_kernels.hpp"
#include "weight_format.hpp"

namespace qgemm {

using detail::fail;
using detail::int4_panel_bytes;
using detail::kInt4KgUnit;
using detail::kInt4Nr;
using detail::succeed;

namespace {

thread_local const char* g_last_name = "";
// Per-thread scratch of forward(), grow-only.
thread_local std::vector<float> g_xf;
thread_local std::vector<uint8_t> g_aq;
thread_local std::vector<int32_t> g_asum, g_azp;
thread_local std::vector<float> g_ascale;

// Worst case per group: 255 * 15 * G must stay below 2^31 (the per-group int32 sums, and the
// kernels' partial terms z * a_sum and a_zp * w_sum).
constexpr int64_t kMaxGroup = (int64_t{1} << 31) / (255 * 15 * 2);

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

template <class T>
bool grow(std::vector<T>& v, size_t n) {
  try {
    if (v.size() < n) v.resize(n);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

size_t thread_count(const GemmOptions& opt) {
  if (opt.num_threads > 0) return static_cast<size_t>(opt.num_threads);
#ifdef _OPENMP
  if (!opt.parallel_for) return static_cast<size_t>(std::max(1, omp_get_max_threads()));
#endif
  if (opt.parallel_for) return std::max(1u, std::thread::hardware_concurrency());
  return 1;
}

// Runs body(p0, p1) over [0, np) in `tasks` contiguous ranges.
struct PanelTasks {
  size_t np, tasks;
  void (*body)(void* ctx, size_t p0, size_t p1);
  void* ctx;
  void range(size_t t) const {
    const size_t p0 = np * t / tasks, p1 = np * (t + 1) / tasks;
    if (p0 < p1) body(ctx, p0, p1);
  }
};

void run_panel_task(void* arg, size_t t) { static_cast<const PanelTasks*>(arg)->range(t); }

void run_panels(PanelTasks& pt, const GemmOptions& opt) {
  if (pt.tasks <= 1) {
    pt.body(pt.ctx, 0, pt.np);
  } else if (opt.parallel_for) {
    opt.parallel_for(opt.parallel_ctx, pt.tasks, run_panel_task, &pt);
  } else {
#ifdef _OPENMP
    const long n = static_cast<long>(pt.tasks);
#pragma omp parallel for num_threads(static_cast<int>(pt.tasks)) schedule(static, 1)
    for (long t = 0; t < n; ++t) pt.range(static_cast<size_t>(t));
#else
    for (size_t t = 0; t < pt.tasks; ++t) pt.range(t);
#endif
  }
}

// Panels handed to one kernel call: a block of weights that stays in L2 while every row of X
// passes over it, a multiple of 4 panels (the zmm kernels stream 4 panels = 64 columns at once;
// 2 panels of depth 11008 would cut them in half). A few rows pass over the weights once
// whatever the block: the whole range in one call.
size_t panels_per_call(size_t panel_bytes, size_t m) {
  if (m <= 4) return std::numeric_limits<size_t>::max() / 2;
  return std::max<size_t>(4, (256 * 1024) / panel_bytes / 4 * 4);
}

struct W4A8Ctx {
  const detail::W4A8Args* args;
  detail::W4A8Fn fn;
  size_t m, step;
};

void w4a8_body(void* c, size_t p0, size_t p1) {
  const auto* ctx = static_cast<const W4A8Ctx*>(c);
  for (size_t p = p0; p < p1; p += ctx->step) ctx->fn(*ctx->args, ctx->m, p, std::min(p1, p + ctx->step));
}

struct W4F32Ctx {
  const detail::W4F32Args* args;
  detail::W4F32Fn fn;
  size_t m, step;
};

void w4f32_body(void* c, size_t p0, size_t p1) {
  const auto* ctx = static_cast<const W4F32Ctx*>(c);
  for (size_t p = p0; p < p1; p += ctx->step) ctx->fn(*ctx->args, ctx->m, p, std::min(p1, p + ctx->step));
}

// X's parameters for n values: choose_qparams_dynamic over their range (NaN ignored, as
// min_max() does; every element NaN or an infinite one is refused).
Status choose_params(const detail::QuantKernels& qk, const float* x, size_t n, QParams* p) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  qk.min_max(x, n, &lo, &hi);
  if (lo > hi) return fail(Status::bad_argument, "Int4Linear::forward: a row or group of X is all NaN");
  return choose_qparams_dynamic(lo, hi, false, p);
}

}  // namespace

const char* int4_kernel_name() noexcept { return g_last_name; }

size_t Int4Linear::packed_bytes() const noexcept {
  return w_.size() + ws_.size() * sizeof(float) + (wz_.size() + wsum_.size()) * sizeof(int32_t);
}

// Checks the options and the shape, and sets the group geometry.
static Status check_shape(int64_t out, int64_t in, const Int4LinearOptions& opt, int64_t* g) {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "Int4Linear: features must be >= 1");
  const int32_t gs = opt.group_size;
  if (gs != 0 && gs != 32 && gs != 64 && gs != 128 && gs != 256)
    return fail(Status::bad_argument, "Int4Linear: group_size must be 32, 64, 128, 256 or 0 (per channel), got %d", gs);
  if (gs != 0 && in % gs != 0)
    return fail(Status::bad_argument, "Int4Linear: group_size %d does not divide in_features %lld", gs,
                static_cast<long long>(in));
  if (gs == 0 && in > kMaxGroup)
    return fail(Status::overflow_risk, "Int4Linear: per channel, in_features %lld exceeds %lld (int32 sums per group)",
                static_cast<long long>(in), static_cast<long long>(kMaxGroup));
  if (static_cast<uint64_t>(out) * static_cast<uint64_t>(in) > (uint64_t{1} << 40))
    return fail(Status::bad_argument, "Int4Linear: too large");
  *g = gs == 0 ? in : gs;
  return succeed();
}

Status Int4Linear::init(const float* weight, int64_t out, int64_t in, const float* bias,
                        const Int4LinearOptions& opt) noexcept {
  int64_t g = 0;
  if (Status st = check_shape(out, in, opt, &g); st != Status::ok) return st;
  if (!weight) return fail(Status::null_pointer, "Int4Linear: null weights");
  const int64_t ng = in / g;
  std::vector<int8_t> q, zp;
  std::vector<float> s;
  try {
    q.resize(static_cast<size_t>(out * in));
    s.resize(static_cast<size_t>(out * ng));
    zp.resize(opt.symmetric ? 0 : static_cast<size_t>(out * ng));
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "Int4Linear: out of memory");
  }
  for (int64_t j = 0; j < out; ++j) {
    for (int64_t gi = 0; gi < ng; ++gi) {
      const float* w = weight + j * in + gi * g;
      int8_t* qq = q.data() + j * in + gi * g;
      float lo = 0.0f, hi = 0.0f, m = 0.0f;
      for (int64_t k = 0; k < g; ++k) {
        if (!std::isfinite(w[k]))
          return fail(Status::bad_argument, "Int4Linear: weight[%lld][%lld] is not finite", static_cast<long long>(j),
                      static_cast<long long>(gi * g + k));
        lo = std::min(lo, w[k]);
        hi = std::max(hi, w[k]);
        if (std::fabs(w[k]) > std::fabs(m)) m = w[k];
      }
      float sc;
      int32_t z = 0, qmin = -8, qmax = 7;
      if (opt.symmetric) {
        sc = m / -8.0f;
      } else {
        sc = (hi - lo) / 15.0f;
        qmin = 0;
        qmax = 15;
        z = sc == 0.0f ? 0 : static_cast<int32_t>(std::min(15.0f, std::max(0.0f, std::nearbyint(-lo / sc))));
        zp[static_cast<size_t>(j * ng + gi)] = static_cast<int8_t>(z);
      }
      if (!std::isfinite(sc))
        return fail(Status::bad_argument, "Int4Linear: the scale of row %lld, group %lld overflows",
                    static_cast<long long>(j), static_cast<long long>(gi));
      s[static_cast<size_t>(j * ng + gi)] = sc;
      for (int64_t k = 0; k < g; ++k) {
        const float r = sc == 0.0f ? 0.0f : std::nearbyint(w[k] / sc);
        qq[k] = static_cast<int8_t>(std::min<float>(qmax, std::max<float>(qmin, r + static_cast<float>(z))));
      }
    }
  }
  return init_quantized(q.data(), s.data(), opt.symmetric ? nullptr : zp.data(), out, in, bias, opt);
}

Status Int4Linear::init_quantized(const int8_t* q, const float* scales, const int8_t* zero_points, int64_t out,
                                  int64_t in, const float* bias, const Int4LinearOptions& opt) noexcept {
  int64_t g = 0;
  if (Status st = check_shape(out, in, opt, &g); st != Status::ok) return st;
  if (!q || !scales) return fail(Status::null_pointer, "Int4Linear: null weights or scales");
  if (!opt.symmetric && !zero_points)
    return fail(Status::null_pointer, "Int4Linear: asymmetric weights need zero points");
  const int64_t ng = in / g;
  const int32_t qmin = opt.symmetric ? -8 : 0, qmax = opt.symmetric ? 7 : 15;
  for (int64_t i = 0; i < out * in; ++i)
    if (q[i] < qmin || q[i] > qmax)
      return fail(Status::bad_argument, "Int4Linear: q[%lld][%lld] = %d is outside [%d, %d]",
                  static_cast<long long>(i / in), static_cast<long long>(i % in), q[i], qmin, qmax);
  for (int64_t i = 0; i < out * ng; ++i) {
    if (!std::isfinite(scales[i]))
      return fail(Status::bad_output_params, "Int4Linear: scale[%lld][%lld] is not finite",
                  static_cast<long long>(i / ng), static_cast<long long>(i % ng));
    if (!opt.symmetric && (zero_points[i] < 0 || zero_points[i] > 15))
      return fail(Status::bad_zero_point, "Int4Linear: zero point [%lld][%lld] = %d is outside [0, 15]",
                  static_cast<long long>(i / ng), static_cast<long long>(i % ng), zero_points[i]);
  }
  if (bias)
    for (int64_t j = 0; j < out; ++j)
      if (!std::isfinite(bias[j]))
        return fail(Status::bad_argument, "Int4Linear: bias[%lld] is not finite", static_cast<long long>(j));
  Int4Linear t;
  t.in_ = in;
  t.out_ = out;
  t.g_ = g;
  t.ng_ = ng;
  t.kg_ = round_up(g, static_cast<int64_t>(kInt4KgUnit));
  t.np_ = round_up(out, static_cast<int64_t>(kInt4Nr)) / static_cast<int64_t>(kInt4Nr);
  t.opt_ = opt;
  if (Status st = t.pack(q, scales, zero_points); st != Status::ok) return st;
  try {
    if (bias) t.bias_.assign(bias, bias + out);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "Int4Linear: out of memory");
  }
  std::copy(t.bias_.begin(), t.bias_.end(), t.bias_padded_.begin());
  *this = std::move(t);
  return succeed();
}

// Stored nibbles u = q + 8 (symmetric, z = 8) or q (z given), through the "u4" format's packer,
// group by group (a group's depth is padded to kg with u = 0).
Status Int4Linear::pack(const int8_t* q, const float* scales, const int8_t* zp) noexcept {
  const size_t in = static_cast<size_t>(in_), out = static_cast<size_t>(out_), g = static_cast<size_t>(g_);
  const size_t ng = static_cast<size_t>(ng_), kg = static_cast<size_t>(kg_), np = static_cast<size_t>(np_);
  const size_t kp = ng * kg, tables = np * ng * kInt4Nr;
  std::vector<int8_t> u;
  try {
    w_.assign(np * int4_panel_bytes(kp), 0);
    ws_.assign(tables, 0.0f);
    wz_.assign(tables, 0);
    wsum_.assign(tables, 0);
    bias_padded_.assign(np * kInt4Nr, 0.0f);
    u.assign(out * kp, 0);
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "Int4Linear: out of memory");
  }
  const int32_t shift = opt_.symmetric ? 8 : 0;
  for (size_t j = 0; j < out; ++j) {
    const size_t p = j / kInt4Nr, jj = j % kInt4Nr;
    for (size_t gi = 0; gi < ng; ++gi) {
      int32_t sum = 0;
      for (size_t k = 0; k < g; ++k) {
        const int32_t v = q[j * in + gi * g + k] + shift;
        u[j * kp + gi * kg + k] = static_cast<int8_t>(v);
        sum += v;
      }
      const size_t t = (p * ng + gi) * kInt4Nr + jj;
      ws_[t] = scales[j * ng + gi];
      wz_[t] = opt_.symmetric ? 8 : zp[j * ng + gi];
      wsum_[t] = sum;
    }
  }
  detail::kWeightFormat_u4.pack(u.data(), 0, WeightLayout::nk, kp, out, kp, kInt4Nr, 4, kp, w_.data());
  return succeed();
}

Status Int4Linear::export_quantized(int8_t* q, float* scales, int8_t* zero_points) const noexcept {
  if (out_ == 0) return fail(Status::bad_argument, "Int4Linear::export_quantized: not initialised");
  if (!q || !scales) return fail(Status::null_pointer, "Int4Linear::export_quantized: null q or scales");
  const size_t in = static_cast<size_t>(in_), g = static_cast<size_t>(g_), ng = static_cast<size_t>(ng_);
  const size_t kg = static_cast<size_t>(kg_), kp = ng * kg;
  const int32_t shift = opt_.symmetric ? 8 : 0;
  for (size_t j = 0; j < static_cast<size_t>(out_); ++j) {
    const size_t p = j / kInt4Nr, jj = j % kInt4Nr;
    const uint8_t* panel = w_.data() + p * int4_panel_bytes(kp);
    for (size_t gi = 0; gi < ng; ++gi) {
      const size_t t = (p * ng + gi) * kInt4Nr + jj;
      scales[j * ng + gi] = ws_[t];
      if (!opt_.symmetric && zero_points) zero_points[j * ng + gi] = static_cast<int8_t>(wz_[t]);
      for (size_t k = 0; k < g; ++k) {
        const size_t kk = gi * kg + k;
        const uint8_t byte = panel[(kk / 8) * kInt4Nr * 4 + jj * 4 + kk % 4];
        const int32_t v = (kk % 8) >= 4 ? byte >> 4 : byte & 0x0F;
        q[j * in + gi * g + k] = static_cast<int8_t>(v - shift);
      }
    }
  }
  return succeed();
}

Status Int4Linear::forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y, int64_t ldy) const noexcept {
  return forward(M, type, x, ldx, y, ldy, GemmOptions{});
}

Status Int4Linear::forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y, int64_t ldy,
                           const GemmOptions& options) const noexcept {
  if (out_ == 0) return fail(Status::bad_argument, "Int4Linear::forward: not initialised");
  if (M < 0) return fail(Status::negative_dimension, "Int4Linear::forward: M < 0");
  if (ldx < in_ || ldy < out_) return fail(Status::bad_leading_dimension, "Int4Linear::forward: ldx < in or ldy < out");
  if (type != ActType::f32 && type != ActType::bf16 && type != ActType::f16)
    return fail(Status::bad_argument, "Int4Linear::forward: unknown ActType");
  if (options.num_threads < 0 || options.num_threads > kMaxThreads)
    return fail(Status::bad_argument, "Int4Linear::forward: num_threads %d outside [0, %d]", options.num_threads,
                kMaxThreads);
  if (M == 0) return succeed();
  if (!x || !y) return fail(Status::null_pointer, "Int4Linear::forward: null x or y");
  if (static_cast<uint64_t>(M) > (uint64_t{1} << 40) / static_cast<uint64_t>(in_))
    return fail(Status::bad_argument, "Int4Linear::forward: M * in_features too large");
  const detail::Int4Kernels* kt = nullptr;
  if (Status st = detail::int4_kernels(&kt); st != Status::ok) return st;
  const detail::QuantKernels& qk = detail::quant_kernels();
  const size_t m = static_cast<size_t>(M), in = static_cast<size_t>(in_), g = static_cast<size_t>(g_);
  const size_t ng = static_cast<size_t>(ng_), kg = static_cast<size_t>(kg_), kp = ng * kg;

  // X as float rows of kp (padding 0), unless it can be read in place.
  const float* xf = static_cast<const float*>(x);
  size_t ldxf = static_cast<size_t>(ldx);
  if (type != ActType::f32 || kp != in) {
    if (!grow(g_xf, m * kp)) return fail(Status::out_of_memory, "Int4Linear::forward: out of memory");
    for (size_t i = 0; i < m; ++i) {
      float* row = g_xf.data() + i * kp;
      if (type == ActType::f32)
        std::memcpy(row, xf + i * ldxf, in * sizeof(float));
      else
        (type == ActType::bf16 ? qk.bf16_to_f32 : qk.f16_to_f32)(static_cast<const uint16_t*>(x) + i * ldx, in, row);
      std::fill(row + in, row + kp, 0.0f);
    }
    xf = g_xf.data();
    ldxf = kp;
  }
  const size_t np = static_cast<size_t>(np_);
  const size_t tasks = std::min(thread_count(options), std::max<size_t>(1, np / 4));
  const size_t step = panels_per_call(int4_panel_bytes(kp), m);

  if (opt_.weight_only) {
    const detail::W4F32Args args{kg,  ng,          xf,   ldxf, w_.data(), ws_.data(), wz_.data(), bias_padded_.data(),
                                 y,   static_cast<size_t>(ldy), static_cast<size_t>(out_)};
    W4F32Ctx ctx{&args, kt->w4f32, m, step};
    PanelTasks pt{np, tasks, w4f32_body, &ctx};
    run_panels(pt, options);
    g_last_name = kt->name_w4f32;
    return succeed();
  }

  // W4A8: (scale, zero point) per row and group (or per row), quantized X, group sums.
  if (!grow(g_aq, m * kp) || !grow(g_asum, m * ng) || !grow(g_azp, m * ng) || !grow(g_ascale, m * ng))
    return fail(Status::out_of_memory, "Int4Linear::forward: out of memory");
  for (size_t i = 0; i < m; ++i) {
    const float* row = xf + i * ldxf;
    uint8_t* aq = g_aq.data() + i * kp;
    QParams p;
    if (!opt_.act_per_group)
      if (Status st = choose_params(qk, row, in, &p); st != Status::ok) return st;
    for (size_t gi = 0; gi < ng; ++gi) {
      const float* xs = row + gi * g;
      if (opt_.act_per_group)
        if (Status st = choose_params(qk, xs, g, &p); st != Status::ok) return st;
      uint8_t* q = aq + gi * kg;
      // quantize()'s arithmetic (the same kernel and inverse), without its per-call checks.
      qk.quantize_u8(xs, g, 1.0f / p.scale, p.zero_point, q);
      std::fill(q + g, q + kg, uint8_t{0});
      int32_t sum = 0;
      for (size_t k = 0; k < g; ++k) sum += q[k];
      g_asum[i * ng + gi] = sum - static_cast<int32_t>(g) * p.zero_point;
      g_azp[i * ng + gi] = p.zero_point;
      g_ascale[i * ng + gi] = p.scale;
    }
  }
  const detail::W4A8Args args{kg,         ng,          g_aq.data(), kp,         g_asum.data(), g_azp.data(),
                              g_ascale.data(), w_.data(), ws_.data(), wz_.data(), wsum_.data(), bias_padded_.data(),
                              y,          static_cast<size_t>(ldy), static_cast<size_t>(out_)};
  W4A8Ctx ctx{&args, kt->w4a8, m, step};
  PanelTasks pt{np, tasks, w4a8_body, &ctx};
  run_panels(pt, options);
  g_last_name = kt->name_w4a8;
  return succeed();
}

}  // namespace qgemm
