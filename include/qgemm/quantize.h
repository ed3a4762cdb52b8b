/* qgemm C API for the quantization utilities and the layers (C++: quantize.hpp, linear.hpp).
 * Same semantics and status codes as the C++ API (qgemm_status from qgemm.h); on error nothing
 * is written to the outputs. Layers are opaque handles: create, forward (any number of threads
 * at once), destroy. */
#ifndef QGEMM_QUANTIZE_H_
#define QGEMM_QUANTIZE_H_

#include <stddef.h>
#include <stdint.h>

#include "qgemm/export.h"
#include "qgemm/qgemm.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QGEMM_QTYPE_U8 = 0, QGEMM_QTYPE_S8 = 1 };
enum { QGEMM_QSCHEME_AFFINE = 0, QGEMM_QSCHEME_SYMMETRIC = 1 };
enum { QGEMM_ACT_F32 = 0, QGEMM_ACT_BF16 = 1, QGEMM_ACT_F16 = 2 };

QGEMM_API qgemm_status qgemm_choose_qparams(float min, float max, int32_t qtype, int32_t qscheme,
                                            int32_t reduce_range, float* scale, int32_t* zero_point);
QGEMM_API qgemm_status qgemm_choose_qparams_dynamic(float min, float max, int32_t reduce_range, float* scale,
                                                    int32_t* zero_point);
QGEMM_API qgemm_status qgemm_min_max(const float* x, int64_t n, float* min, float* max);
QGEMM_API qgemm_status qgemm_quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* q);
QGEMM_API qgemm_status qgemm_quantize_s8(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* q);
QGEMM_API qgemm_status qgemm_dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* x);
QGEMM_API qgemm_status qgemm_dequantize_s8(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* x);
QGEMM_API qgemm_status qgemm_choose_qparams_per_channel(const float* x, const int64_t* shape, int32_t ndim,
                                                        int32_t axis, int32_t qtype, int32_t qscheme,
                                                        int32_t reduce_range, float* scales,
                                                        int32_t* zero_points);
QGEMM_API qgemm_status qgemm_quantize_per_channel(const float* x, const int64_t* shape, int32_t ndim, int32_t axis,
                                                  const float* scales, const int32_t* zero_points,
                                                  int32_t qtype, void* q);
QGEMM_API qgemm_status qgemm_max_abs_error(const float* a, const float* b, int64_t n, double* out);
QGEMM_API qgemm_status qgemm_mean_squared_error(const float* a, const float* b, int64_t n, double* out);

typedef struct qgemm_dynamic_linear qgemm_dynamic_linear;
typedef struct qgemm_static_linear qgemm_static_linear;
typedef struct qgemm_weight_only_linear qgemm_weight_only_linear;

QGEMM_API qgemm_status qgemm_dynamic_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                                   const float* bias, int32_t per_channel, int32_t reduce_range,
                                                   qgemm_dynamic_linear** out);
QGEMM_API qgemm_status qgemm_dynamic_linear_forward(const qgemm_dynamic_linear* l, int64_t M, const float* x,
                                                    int64_t ldx, float* y, int64_t ldy);
QGEMM_API void qgemm_dynamic_linear_destroy(qgemm_dynamic_linear* l);

QGEMM_API qgemm_status qgemm_static_linear_create(const int8_t* weight_q, int64_t out_features, int64_t in_features,
                                                  const float* weight_scales, const int32_t* weight_zero_points,
                                                  int32_t per_channel, const int32_t* bias_s32, const float* bias_f32,
                                                  float x_scale, int32_t x_zero_point, float y_scale,
                                                  int32_t y_zero_point, int32_t clamp_lo, int32_t clamp_hi,
                                                  qgemm_static_linear** out);
QGEMM_API qgemm_status qgemm_static_linear_forward(const qgemm_static_linear* l, int64_t M, const uint8_t* x,
                                                   int64_t ldx, uint8_t* y, int64_t ldy);
QGEMM_API void qgemm_static_linear_destroy(qgemm_static_linear* l);

QGEMM_API qgemm_status qgemm_weight_only_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                                       const float* bias, qgemm_weight_only_linear** out);
/* x: float (QGEMM_ACT_F32) or uint16_t bit patterns (QGEMM_ACT_BF16, QGEMM_ACT_F16). */
QGEMM_API qgemm_status qgemm_weight_only_linear_forward(const qgemm_weight_only_linear* l, int64_t M, int32_t act_type,
                                                        const void* x, int64_t ldx, float* y, int64_t ldy);
QGEMM_API void qgemm_weight_only_linear_destroy(qgemm_weight_only_linear* l);

/* Layers from s8 weights [out][in] as they are (no requantization: a PyTorch quantized Linear's
 * int_repr()), with 1 or out_features scales and zero points (per_channel; zero_points NULL
 * means 0). The weight-only layer has per-channel scales and no zero points. */
QGEMM_API qgemm_status qgemm_dynamic_linear_create_quantized(const int8_t* weight_q, int64_t out_features,
                                                             int64_t in_features, const float* scales,
                                                             const int32_t* zero_points, int32_t per_channel,
                                                             const float* bias, int32_t reduce_range,
                                                             qgemm_dynamic_linear** out);
QGEMM_API qgemm_status qgemm_weight_only_linear_create_quantized(const int8_t* weight_q, const float* scales,
                                                                 int64_t out_features, int64_t in_features,
                                                                 const float* bias,
                                                                 qgemm_weight_only_linear** out);

/* Forward with threading options (NULL: defaults). Dynamic: x_scale and x_zero_point (either
 * may be NULL) receive the parameters X was quantized with. */
QGEMM_API qgemm_status qgemm_dynamic_linear_forward_ex(const qgemm_dynamic_linear* l, int64_t M, const float* x,
                                                       int64_t ldx, float* y, int64_t ldy,
                                                       const qgemm_gemm_options* options, float* x_scale,
                                                       int32_t* x_zero_point);
QGEMM_API qgemm_status qgemm_static_linear_forward_ex(const qgemm_static_linear* l, int64_t M, const uint8_t* x,
                                                      int64_t ldx, uint8_t* y, int64_t ldy,
                                                      const qgemm_gemm_options* options);

/* TFLite's int8 fully connected (C++ StaticLinear::init_s8): symmetric s8 weights [out][in],
 * 1 or out_features scales (per_channel), optional int32 bias, x/y zero points in [-128, 127],
 * clamp [clamp_lo, clamp_hi] within [-128, 127], rounding QGEMM_ROUNDING_DOUBLE (TFLite's
 * default) or QGEMM_ROUNDING_SINGLE. The layer runs only through the _s8 forwards; the uint8
 * forwards refuse it (and the _s8 ones a layer made by qgemm_static_linear_create) with
 * QGEMM_STATUS_BAD_ARGUMENT. options NULL: defaults. */
enum { QGEMM_STATIC_LINEAR_U8_FBGEMM = 0, QGEMM_STATIC_LINEAR_S8_TFLITE = 1 };
QGEMM_API qgemm_status qgemm_static_linear_create_s8(const int8_t* weight_q, int64_t out_features,
                                                     int64_t in_features, const float* weight_scales,
                                                     int32_t per_channel, const int32_t* bias, float x_scale,
                                                     int32_t x_zero_point, float y_scale, int32_t y_zero_point,
                                                     int32_t clamp_lo, int32_t clamp_hi, int32_t rounding,
                                                     qgemm_static_linear** out);
QGEMM_API qgemm_status qgemm_static_linear_forward_s8(const qgemm_static_linear* l, int64_t M, const int8_t* x,
                                                      int64_t ldx, int8_t* y, int64_t ldy);
QGEMM_API qgemm_status qgemm_static_linear_forward_s8_ex(const qgemm_static_linear* l, int64_t M, const int8_t* x,
                                                         int64_t ldx, int8_t* y, int64_t ldy,
                                                         const qgemm_gemm_options* options);
/* Which of the two a static layer is (QGEMM_STATIC_LINEAR_*) and its rounding (QGEMM_ROUNDING_*,
 * s8 only; QGEMM_ROUNDING_DOUBLE otherwise). Either output may be NULL. */
QGEMM_API qgemm_status qgemm_static_linear_mode(const qgemm_static_linear* l, int32_t* mode, int32_t* rounding);

/* What a layer holds, so that it can be saved and built again. The pointers point into the
 * layer and stay valid until it is destroyed; fields a layer does not have are 0 / NULL. */
typedef struct qgemm_linear_info {
  int64_t out_features, in_features;
  int32_t per_channel;               /* scales and zero points hold out_features values, else 1 */
  int32_t reduce_range;              /* dynamic */
  const int8_t* weight_q;            /* [out_features][in_features] */
  const float* weight_scales;
  const int32_t* weight_zero_points; /* dynamic, static */
  const float* bias_f32;             /* NULL: no float bias (weight-only: out_features values) */
  const int32_t* bias_s32;           /* static; NULL: no int32 bias */
  float x_scale, y_scale;            /* static */
  int32_t x_zero_point, y_zero_point, clamp_lo, clamp_hi; /* static */
} qgemm_linear_info;

QGEMM_API qgemm_status qgemm_dynamic_linear_info(const qgemm_dynamic_linear* l, qgemm_linear_info* info);
QGEMM_API qgemm_status qgemm_static_linear_info(const qgemm_static_linear* l, qgemm_linear_info* info);
QGEMM_API qgemm_status qgemm_weight_only_linear_info(const qgemm_weight_only_linear* l, qgemm_linear_info* info);

/* int4 weights for LLM layers (C++ Int4Linear in linear.hpp, docs/int4.md): W4A8 (X quantized to
 * uint8 per call, exact int32 sums per group, the same bits on every ISA and thread count) or
 * weight-only W4A32 / W4A16. */
typedef struct qgemm_int4_linear qgemm_int4_linear;

/* Int4LinearOptions; flags are nonzero for true. */
typedef struct qgemm_int4_linear_options {
  int32_t group_size;    /* 32, 64, 128 or 256 k values per group (dividing in_features); 0: per channel */
  int32_t symmetric;     /* q in [-8, 7], w = q * s; 0: q in [0, 15] with a zero point per group */
  int32_t weight_only;   /* W4A32 / W4A16 (X stays float); 0: W4A8 */
  int32_t act_per_group; /* W4A8: X's (scale, zero point) per row and group; 0: per row */
} qgemm_int4_linear_options;

/* The defaults, as an initializer and as a function: group_size 128, symmetric, W4A8, X per group. */
#define QGEMM_INT4_LINEAR_OPTIONS_DEFAULT {128, 1, 0, 1}
QGEMM_API qgemm_int4_linear_options qgemm_int4_linear_default_options(void);

/* From float weights [out][in], quantized round-to-nearest per row and group (Int4Linear::init).
 * bias: out_features floats or NULL; options NULL: the defaults. */
QGEMM_API qgemm_status qgemm_int4_linear_create(const float* weight, int64_t out_features, int64_t in_features,
                                                const float* bias, const qgemm_int4_linear_options* options,
                                                qgemm_int4_linear** out);
/* From quantized values q [out][in] (int8 holding [-8, 7], or [0, 15] when not symmetric), scales
 * [out][groups] (finite) and zero points [out][groups] in [0, 15] (NULL when symmetric; ignored
 * then), groups = in_features / group_size (1 per channel). options NULL: the defaults. */
QGEMM_API qgemm_status qgemm_int4_linear_create_quantized(const int8_t* q, const float* scales,
                                                          const int8_t* zero_points, int64_t out_features,
                                                          int64_t in_features, const float* bias,
                                                          const qgemm_int4_linear_options* options,
                                                          qgemm_int4_linear** out);
/* Y[M][out] from X[M][in]: x is float (QGEMM_ACT_F32) or uint16_t bit patterns (QGEMM_ACT_BF16,
 * QGEMM_ACT_F16); ldx, ldy in elements. */
QGEMM_API qgemm_status qgemm_int4_linear_forward(const qgemm_int4_linear* l, int64_t M, int32_t act_type,
                                                 const void* x, int64_t ldx, float* y, int64_t ldy);
/* The same with threading options (NULL: defaults); the result does not depend on them. */
QGEMM_API qgemm_status qgemm_int4_linear_forward_ex(const qgemm_int4_linear* l, int64_t M, int32_t act_type,
                                                    const void* x, int64_t ldx, float* y, int64_t ldy,
                                                    const qgemm_gemm_options* options);
/* The quantized weights back as create_quantized takes them: q [out][in], scales and zero points
 * [out][groups] (zero_points may be NULL; not written when symmetric). */
QGEMM_API qgemm_status qgemm_int4_linear_export(const qgemm_int4_linear* l, int8_t* q, float* scales,
                                                int8_t* zero_points);

typedef struct qgemm_int4_layer_info {
  int64_t out_features, in_features;
  int64_t group_size;                /* the effective G: in_features when per channel */
  int64_t groups;                    /* in_features / group_size */
  qgemm_int4_linear_options options; /* as given (group_size 0 when per channel) */
  const float* bias;                 /* out_features floats, NULL: none; valid until destroy */
  size_t packed_bytes;               /* packed weights, scales, zero points and sums */
} qgemm_int4_layer_info;

QGEMM_API qgemm_status qgemm_int4_linear_info(const qgemm_int4_linear* l, qgemm_int4_layer_info* info);
QGEMM_API void qgemm_int4_linear_destroy(qgemm_int4_linear* l);
/* The kernel the last int4 forward on this thread ran, e.g. "w4a8_linear_16c8__avx512vnni"; ""
 * before any. */
QGEMM_API const char* qgemm_int4_kernel_name(void);

#ifdef __cplusplus
}
#endif

#endif /* QGEMM_QUANTIZE_H_ */
