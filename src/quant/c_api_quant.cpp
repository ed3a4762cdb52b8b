// The C API of the quantization utilities and layers (include/qgemm/quantize.h): conversions
// to the C++ API and nothing else.
#include <new>
#include <vector>

#include "errors.hpp"
#include "qgemm/linear.hpp"
#include "qgemm/quantize.h"

using namespace qgemm;

struct qgemm_dynamic_linear {
  DynamicLinear layer;
};
struct qgemm_static_linear {
  StaticLinear layer;
};
struct qgemm_weight_only_linear {
  WeightOnlyLinear layer;
};
struct qgemm_int4_linear {
  Int4Linear layer;
};

static_assert(QGEMM_STATIC_LINEAR_U8_FBGEMM == static_cast<int>(StaticLinearMode::u8_fbgemm) &&
                  QGEMM_STATIC_LINEAR_S8_TFLITE == static_cast<int>(StaticLinearMode::s8_tflite),
              "C and C++ static-layer modes differ");
static_assert(QGEMM_ROUNDING_DOUBLE == static_cast<int>(Rounding::double_rounding) &&
                  QGEMM_ROUNDING_SINGLE == static_cast<int>(Rounding::single_rounding),
              "C and C++ roundings differ");

namespace {
qgemm_status c_status(Status s) { return static_cast<qgemm_status>(s); }

template <typename Handle, typename Init>
qgemm_status create(Handle** out, Init init) {
  if (!out) return c_status(detail::fail(Status::null_pointer, "create: null output handle"));
  auto* h = new (std::nothrow) Handle;
  if (!h) return c_status(detail::fail(Status::out_of_memory, "create: out of memory"));
  const Status s = init(h->layer);
  if (s != Status::ok) {
    delete h;
    return c_status(s);
  }
  *out = h;
  return 0;
}
GemmOptions gemm_options(const qgemm_gemm_options* o) {
  GemmOptions g;
  if (o) {
    g.num_threads = o->num_threads;
    g.parallel_for = o->parallel_for;  // same signature as ParallelForFn
    g.parallel_ctx = o->parallel_ctx;
  }
  return g;
}
Int4LinearOptions int4_options(const qgemm_int4_linear_options* o) {
  Int4LinearOptions r;
  if (o) {
    r.group_size = o->group_size;
    r.symmetric = o->symmetric != 0;
    r.weight_only = o->weight_only != 0;
    r.act_per_group = o->act_per_group != 0;
  }
  return r;
}
template <typename T>
const T* data_or_null(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}
}  // namespace

extern "C" {

qgemm_status qgemm_choose_qparams(float min, float max, int32_t qtype, int32_t qscheme, int32_t reduce_range,
                                  float* scale, int32_t* zero_point) {
  if (!scale || !zero_point) return c_status(detail::fail(Status::null_pointer, "qgemm_choose_qparams: null output"));
  QParams p;
  const Status s = choose_qparams(min, max, static_cast<QType>(qtype), static_cast<QScheme>(qscheme), reduce_range != 0, &p);
  if (s == Status::ok) *scale = p.scale, *zero_point = p.zero_point;
  return c_status(s);
}

qgemm_status qgemm_choose_qparams_dynamic(float min, float max, int32_t reduce_range, float* scale, int32_t* zero_point) {
  if (!scale || !zero_point) return c_status(detail::fail(Status::null_pointer, "qgemm_choose_qparams_dynamic: null output"));
  QParams p;
  const Status s = choose_qparams_dynamic(min, max, reduce_range != 0, &p);
  if (s == Status::ok) *scale = p.scale, *zero_point = p.zero_point;
  return c_status(s);
}

qgemm_status qgemm_min_max(const float* x, int64_t n, float* min, float* max) { return c_status(min_max(x, n, min, max)); }
qgemm_status qgemm_quantize_u8(const float* x, int64_t n, float scale, int32_t zp, uint8_t* q) {
  return c_status(quantize(x, n, QParams{scale, zp}, q));
}
qgemm_status qgemm_quantize_s8(const float* x, int64_t n, float scale, int32_t zp, int8_t* q) {
  return c_status(quantize(x, n, QParams{scale, zp}, q));
}
qgemm_status qgemm_dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zp, float* x) {
  return c_status(dequantize(q, n, QParams{scale, zp}, x));
}
qgemm_status qgemm_dequantize_s8(const int8_t* q, int64_t n, float scale, int32_t zp, float* x) {
  return c_status(dequantize(q, n, QParams{scale, zp}, x));
}
qgemm_status qgemm_choose_qparams_per_channel(const float* x, const int64_t* shape, int32_t ndim, int32_t axis,
                                              int32_t qtype, int32_t qscheme, int32_t reduce_range, float* scales,
                                              int32_t* zero_points) {
  return c_status(choose_qparams_per_channel(x, shape, ndim, axis, static_cast<QType>(qtype),
                                             static_cast<QScheme>(qscheme), reduce_range != 0, scales, zero_points));
}
qgemm_status qgemm_quantize_per_channel(const float* x, const int64_t* shape, int32_t ndim, int32_t axis,
                                        const float* scales, const int32_t* zero_points, int32_t qtype, void* q) {
  return c_status(quantize_per_channel(x, shape, ndim, axis, scales, zero_points, static_cast<QType>(qtype), q));
}
qgemm_status qgemm_max_abs_error(const float* a, const float* b, int64_t n, double* out) {
  return c_status(max_abs_error(a, b, n, out));
}
qgemm_status qgemm_mean_squared_error(const float* a, const float* b, int64_t n, double* out) {
  return c_status(mean_squared_error(a, b, n, out));
}

qgemm_status qgemm_dynamic_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                         const float* bias, int32_t per_channel, int32_t reduce_range,
                                         qgemm_dynamic_linear** out) {
  DynamicLinearOptions opt;
  opt.per_channel = per_channel != 0;
  opt.reduce_range = reduce_range != 0;
  return create(out, [&](DynamicLinear& l) { return l.init(weight, out_features, in_features, bias, opt); });
}
qgemm_status qgemm_dynamic_linear_forward(const qgemm_dynamic_linear* l, int64_t M, const float* x, int64_t ldx,
                                          float* y, int64_t ldy) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_dynamic_linear_forward: null layer"));
  return c_status(l->layer.forward(M, x, ldx, y, ldy));
}
void qgemm_dynamic_linear_destroy(qgemm_dynamic_linear* l) { delete l; }

qgemm_status qgemm_static_linear_create(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                                        const float* weight_scales, const int32_t* weight_zero_points,
                                        int32_t per_channel, const int32_t* bias_s32, const float* bias_f32,
                                        float x_scale, int32_t x_zero_point, float y_scale, int32_t y_zero_point,
                                        int32_t clamp_lo, int32_t clamp_hi, qgemm_static_linear** out) {
  return create(out, [&](StaticLinear& l) {
    return l.init(weight_q, out_features, in_features, weight_scales, weight_zero_points, per_channel != 0, bias_s32,
                  bias_f32, QParams{x_scale, x_zero_point}, QParams{y_scale, y_zero_point}, clamp_lo, clamp_hi);
  });
}
qgemm_status qgemm_static_linear_forward(const qgemm_static_linear* l, int64_t M, const uint8_t* x, int64_t ldx,
                                         uint8_t* y, int64_t ldy) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_forward: null layer"));
  return c_status(l->layer.forward(M, x, ldx, y, ldy));
}
void qgemm_static_linear_destroy(qgemm_static_linear* l) { delete l; }

qgemm_status qgemm_weight_only_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                             const float* bias, qgemm_weight_only_linear** out) {
  return create(out, [&](WeightOnlyLinear& l) { return l.init(weight, out_features, in_features, bias); });
}
qgemm_status qgemm_weight_only_linear_forward(const qgemm_weight_only_linear* l, int64_t M, int32_t act_type,
                                              const void* x, int64_t ldx, float* y, int64_t ldy) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_weight_only_linear_forward: null layer"));
  return c_status(l->layer.forward(M, static_cast<ActType>(act_type), x, ldx, y, ldy));
}
void qgemm_weight_only_linear_destroy(qgemm_weight_only_linear* l) { delete l; }

qgemm_status qgemm_dynamic_linear_create_quantized(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                                                   const float* scales, const int32_t* zero_points,
                                                   int32_t per_channel, const float* bias, int32_t reduce_range,
                                                   qgemm_dynamic_linear** out) {
  DynamicLinearOptions opt;
  opt.per_channel = per_channel != 0;
  opt.reduce_range = reduce_range != 0;
  return create(out, [&](DynamicLinear& l) {
    return l.init_quantized(weight_q, out_features, in_features, scales, zero_points, bias, opt);
  });
}
qgemm_status qgemm_weight_only_linear_create_quantized(const int8_t* weight_q, const float* scales,
                                                       int64_t out_features, int64_t in_features, const float* bias,
                                                       qgemm_weight_only_linear** out) {
  return create(out, [&](WeightOnlyLinear& l) {
    return l.init_quantized(weight_q, scales, out_features, in_features, bias);
  });
}

qgemm_status qgemm_dynamic_linear_forward_ex(const qgemm_dynamic_linear* l, int64_t M, const float* x, int64_t ldx,
                                             float* y, int64_t ldy, const qgemm_gemm_options* options,
                                             float* x_scale, int32_t* x_zero_point) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_dynamic_linear_forward_ex: null layer"));
  QParams p;
  const Status s = l->layer.forward(M, x, ldx, y, ldy, gemm_options(options), &p);
  if (s == Status::ok) {
    if (x_scale) *x_scale = p.scale;
    if (x_zero_point) *x_zero_point = p.zero_point;
  }
  return c_status(s);
}
qgemm_status qgemm_static_linear_forward_ex(const qgemm_static_linear* l, int64_t M, const uint8_t* x, int64_t ldx,
                                            uint8_t* y, int64_t ldy, const qgemm_gemm_options* options) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_forward_ex: null layer"));
  return c_status(l->layer.forward(M, x, ldx, y, ldy, gemm_options(options)));
}

qgemm_status qgemm_static_linear_create_s8(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                                           const float* weight_scales, int32_t per_channel, const int32_t* bias,
                                           float x_scale, int32_t x_zero_point, float y_scale, int32_t y_zero_point,
                                           int32_t clamp_lo, int32_t clamp_hi, int32_t rounding,
                                           qgemm_static_linear** out) {
  return create(out, [&](StaticLinear& l) {
    return l.init_s8(weight_q, out_features, in_features, weight_scales, per_channel != 0, bias,
                     QParams{x_scale, x_zero_point}, QParams{y_scale, y_zero_point}, clamp_lo, clamp_hi,
                     static_cast<Rounding>(rounding));
  });
}
qgemm_status qgemm_static_linear_forward_s8(const qgemm_static_linear* l, int64_t M, const int8_t* x, int64_t ldx,
                                            int8_t* y, int64_t ldy) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_forward_s8: null layer"));
  return c_status(l->layer.forward(M, x, ldx, y, ldy));
}
qgemm_status qgemm_static_linear_forward_s8_ex(const qgemm_static_linear* l, int64_t M, const int8_t* x,
                                               int64_t ldx, int8_t* y, int64_t ldy,
                                               const qgemm_gemm_options* options) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_forward_s8_ex: null layer"));
  return c_status(l->layer.forward(M, x, ldx, y, ldy, gemm_options(options)));
}
qgemm_status qgemm_static_linear_mode(const qgemm_static_linear* l, int32_t* mode, int32_t* rounding) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_mode: null layer"));
  if (mode) *mode = static_cast<int32_t>(l->layer.mode());
  if (rounding) *rounding = static_cast<int32_t>(l->layer.rounding());
  return c_status(detail::succeed());
}

qgemm_status qgemm_dynamic_linear_info(const qgemm_dynamic_linear* l, qgemm_linear_info* info) {
  if (!l || !info) return c_status(detail::fail(Status::null_pointer, "qgemm_dynamic_linear_info: null argument"));
  const DynamicLinear& d = l->layer;
  qgemm_linear_info r{};
  r.out_features = d.out_features();
  r.in_features = d.in_features();
  r.per_channel = d.options().per_channel;
  r.reduce_range = d.options().reduce_range;
  r.weight_q = data_or_null(d.weight_q());
  r.weight_scales = data_or_null(d.weight_scales());
  r.weight_zero_points = data_or_null(d.weight_zero_points());
  r.bias_f32 = data_or_null(d.bias());
  *info = r;
  return c_status(detail::succeed());
}
qgemm_status qgemm_static_linear_info(const qgemm_static_linear* l, qgemm_linear_info* info) {
  if (!l || !info) return c_status(detail::fail(Status::null_pointer, "qgemm_static_linear_info: null argument"));
  const StaticLinear& s = l->layer;
  qgemm_linear_info r{};
  r.out_features = s.out_features();
  r.in_features = s.in_features();
  r.per_channel = s.per_channel();
  r.weight_q = data_or_null(s.weight_q());
  r.weight_scales = data_or_null(s.weight_scales());
  r.weight_zero_points = data_or_null(s.weight_zero_points());
  r.bias_f32 = data_or_null(s.bias_f32());
  r.bias_s32 = data_or_null(s.bias_s32());
  r.x_scale = s.x_params().scale;
  r.x_zero_point = s.x_params().zero_point;
  r.y_scale = s.y_params().scale;
  r.y_zero_point = s.y_params().zero_point;
  r.clamp_lo = s.clamp_lo();
  r.clamp_hi = s.clamp_hi();
  *info = r;
  return c_status(detail::succeed());
}
qgemm_status qgemm_weight_only_linear_info(const qgemm_weight_only_linear* l, qgemm_linear_info* info) {
  if (!l || !info)
    return c_status(detail::fail(Status::null_pointer, "qgemm_weight_only_linear_info: null argument"));
  const WeightOnlyLinear& w = l->layer;
  qgemm_linear_info r{};
  r.out_features = w.out_features();
  r.in_features = w.in_features();
  r.per_channel = 1;
  r.weight_q = data_or_null(w.weight_q());
  r.weight_scales = data_or_null(w.weight_scales());
  r.bias_f32 = data_or_null(w.bias());
  *info = r;
  return c_status(detail::succeed());
}

qgemm_int4_linear_options qgemm_int4_linear_default_options(void) {
  const Int4LinearOptions d;
  return qgemm_int4_linear_options{d.group_size, d.symmetric, d.weight_only, d.act_per_group};
}
qgemm_status qgemm_int4_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                      const float* bias, const qgemm_int4_linear_options* options,
                                      qgemm_int4_linear** out) {
  const Int4LinearOptions opt = int4_options(options);
  return create(out, [&](Int4Linear& l) { return l.init(weight, out_features, in_features, bias, opt); });
}
qgemm_status qgemm_int4_linear_create_quantized(const int8_t* q, const float* scales, const int8_t* zero_points,
                                                int64_t out_features, int64_t in_features, const float* bias,
                                                const qgemm_int4_linear_options* options,
                                                qgemm_int4_linear** out) {
  const Int4LinearOptions opt = int4_options(options);
  return create(out, [&](Int4Linear& l) {
    return l.init_quantized(q, scales, zero_points, out_features, in_features, bias, opt);
  });
}
qgemm_status qgemm_int4_linear_forward(const qgemm_int4_linear* l, int64_t M, int32_t act_type, const void* x,
                                       int64_t ldx, float* y, int64_t ldy) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_int4_linear_forward: null layer"));
  return c_status(l->layer.forward(M, static_cast<ActType>(act_type), x, ldx, y, ldy));
}
qgemm_status qgemm_int4_linear_forward_ex(const qgemm_int4_linear* l, int64_t M, int32_t act_type, const void* x,
                                          int64_t ldx, float* y, int64_t ldy, const qgemm_gemm_options* options) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_int4_linear_forward_ex: null layer"));
  return c_status(l->layer.forward(M, static_cast<ActType>(act_type), x, ldx, y, ldy, gemm_options(options)));
}
qgemm_status qgemm_int4_linear_export(const qgemm_int4_linear* l, int8_t* q, float* scales, int8_t* zero_points) {
  if (!l) return c_status(detail::fail(Status::null_pointer, "qgemm_int4_linear_export: null layer"));
  return c_status(l->layer.export_quantized(q, scales, zero_points));
}
qgemm_status qgemm_int4_linear_info(const qgemm_int4_linear* l, qgemm_int4_layer_info* info) {
  if (!l || !info) return c_status(detail::fail(Status::null_pointer, "qgemm_int4_linear_info: null argument"));
  const Int4Linear& w = l->layer;
  const Int4LinearOptions& o = w.options();
  qgemm_int4_layer_info r{};
  r.out_features = w.out_features();
  r.in_features = w.in_features();
  r.group_size = w.group_size();
  r.groups = w.groups();
  r.options = qgemm_int4_linear_options{o.group_size, o.symmetric, o.weight_only, o.act_per_group};
  r.bias = data_or_null(w.bias());
  r.packed_bytes = w.packed_bytes();
  *info = r;
  return c_status(detail::succeed());
}
void qgemm_int4_linear_destroy(qgemm_int4_linear* l) { delete l; }
const char* qgemm_int4_kernel_name(void) { return int4_kernel_name(); }

}  // extern "C"
