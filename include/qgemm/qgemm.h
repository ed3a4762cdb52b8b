/* qgemm C API: a thin layer over the C++ API (qgemm.hpp) for other languages.
 * Same semantics, same status codes; every function returns a qgemm_status (0 = ok) and
 * writes nothing to the output on error. See qgemm.hpp for the meaning of each field. */
#ifndef QGEMM_QGEMM_H_
#define QGEMM_QGEMM_H_

#include <stddef.h>
#include <stdint.h>

#include "qgemm/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t qgemm_status; /* values of qgemm::Status: 0 ok, 1 null_pointer, 2 negative_dimension,
                                 3 bad_leading_dimension, 4 bad_zero_point, 5 overflow_risk,
                                 6 unsupported_isa, 7 bad_output_params, 8 packed_isa_mismatch,
                                 9 out_of_memory, 10 bad_argument */
typedef struct qgemm_packed_weights qgemm_packed_weights;

enum { QGEMM_LAYOUT_KN = 0, QGEMM_LAYOUT_NK = 1 };
enum { QGEMM_OUT_S32 = 0, QGEMM_OUT_U8 = 1, QGEMM_OUT_S8 = 2, QGEMM_OUT_F32 = 3 };
enum { QGEMM_REQUANT_FIXED_POINT = 0, QGEMM_REQUANT_FLOAT_MULTIPLIER = 1 };
enum { QGEMM_ROUNDING_DOUBLE = 0, QGEMM_ROUNDING_SINGLE = 1 };

/* Output stage; qgemm_output_stage_init() fills the defaults (s32, full clamp ranges). */
typedef struct qgemm_output_stage {
  int32_t type;              /* QGEMM_OUT_* */
  const int32_t* bias_s32;   /* N values or NULL */
  const float* bias_f32;     /* N values or NULL */
  int32_t per_column;        /* nonzero: per-column parameters hold N values */
  int32_t requant;           /* QGEMM_REQUANT_* (u8/s8) */
  int32_t rounding;          /* QGEMM_ROUNDING_* (fixed point) */
  const int32_t* multiplier; /* fixed point */
  const int32_t* shift;      /* fixed point */
  int32_t zero_point;        /* u8/s8 output zero point */
  int32_t clamp_lo, clamp_hi;            /* INT32_MIN / INT32_MAX: the type's range */
  float act_scale;                       /* f32 and float multiplier */
  const float* weight_scale;             /* f32 and float multiplier */
  float out_scale;                       /* float multiplier */
  float clamp_lo_f32, clamp_hi_f32;      /* f32 output */
} qgemm_output_stage;

/* Version of the library this program runs with, "MAJOR.MINOR.PATCH"; the version it was
 * compiled against is QGEMM_VERSION_STRING in qgemm/version.h. */
QGEMM_API const char* qgemm_version(void);

QGEMM_API void qgemm_output_stage_init(qgemm_output_stage* o);

QGEMM_API const char* qgemm_status_name(qgemm_status s);
/* Message of the last failing call on this thread. */
QGEMM_API const char* qgemm_last_error_message(void);

/* ISAs: "scalar", "avx2", "avx512bw", "avxvnni", "avx512vnni", "amx", "neon", "dotprod", "i8mm". */
QGEMM_API int qgemm_isa_available(const char* name);  /* 1 if this CPU and build can run it */
QGEMM_API const char* qgemm_isa_unavailable_reason(const char* name); /* "" if available, else why */
QGEMM_API const char* qgemm_active_isa(void);           /* the best available one after a bad QGEMM_ISA */
QGEMM_API qgemm_status qgemm_isa_status(void);          /* unsupported_isa while a bad QGEMM_ISA is in force */
QGEMM_API qgemm_status qgemm_set_isa(const char* name); /* bad_argument if unknown, unsupported_isa if not available */
QGEMM_API void qgemm_reset_isa(void);
QGEMM_API const char* qgemm_last_kernel_name(void);

QGEMM_API qgemm_status qgemm_pack_weights(const int8_t* b, int32_t layout, int64_t K, int64_t N,
                                          int64_t ldb, const int32_t* zb, int32_t zb_per_column,
                                          qgemm_packed_weights** out);
/* uint8 weights, zero points in [0, 255] (NULL: 0); used with either activation type. */
QGEMM_API qgemm_status qgemm_pack_weights_u8(const uint8_t* b, int32_t layout, int64_t K, int64_t N,
                                             int64_t ldb, const int32_t* zb, int32_t zb_per_column,
                                             qgemm_packed_weights** out);
QGEMM_API void qgemm_destroy_packed_weights(qgemm_packed_weights* w);
QGEMM_API size_t qgemm_packed_weights_size(const qgemm_packed_weights* w);

QGEMM_API qgemm_status qgemm_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za,
                                  const qgemm_packed_weights* b, const qgemm_output_stage* out, void* c,
                                  int64_t ldc);

/* Threads (see qgemm::GemmOptions): parallel_for(ctx, n_tasks, task, arg) must call
 * task(arg, i) once for every i in [0, n_tasks) and return when all have returned.
 * num_threads: 0 = default, 1 = calling thread only, at most 4096. parallel_for NULL = OpenMP. */
typedef void (*qgemm_task_fn)(void* arg, size_t i);
typedef void (*qgemm_parallel_for_fn)(void* ctx, size_t n_tasks, qgemm_task_fn task, void* arg);
typedef struct qgemm_gemm_options {
  int32_t num_threads;
  qgemm_parallel_for_fn parallel_for;
  void* parallel_ctx;
} qgemm_gemm_options;

QGEMM_API void qgemm_gemm_options_init(qgemm_gemm_options* o); /* 0 threads (default), OpenMP */

/* qgemm_gemm with threading options; options NULL = defaults. */
QGEMM_API qgemm_status qgemm_gemm_ex(int64_t M, const uint8_t* a, int64_t lda, int32_t za,
                                     const qgemm_packed_weights* b, const qgemm_output_stage* out, void* c,
                                     int64_t ldc, const qgemm_gemm_options* options);

/* int8 activations, za in [-128, 127]: otherwise as qgemm_gemm / qgemm_gemm_ex. */
QGEMM_API qgemm_status qgemm_gemm_s8(int64_t M, const int8_t* a, int64_t lda, int32_t za,
                                     const qgemm_packed_weights* b, const qgemm_output_stage* out, void* c,
                                     int64_t ldc);
QGEMM_API qgemm_status qgemm_gemm_s8_ex(int64_t M, const int8_t* a, int64_t lda, int32_t za,
                                        const qgemm_packed_weights* b, const qgemm_output_stage* out, void* c,
                                        int64_t ldc, const qgemm_gemm_options* options);

QGEMM_API qgemm_status qgemm_quantize_multiplier(double real, int32_t* multiplier, int32_t* shift);

#ifdef __cplusplus
}
#endif

#endif /* QGEMM_QGEMM_H_ */
