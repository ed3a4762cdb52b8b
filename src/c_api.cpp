// The C API (include/qgemm/qgemm.h): conversions to the C++ API and nothing else.
#include "qgemm/qgemm.h"

#include "errors.hpp"
#include "qgemm/qgemm.hpp"

using namespace qgemm;

struct qgemm_packed_weights {};  // never defined in memory: the pointer is a PackedWeights*

namespace {
PackedWeights* cpp(qgemm_packed_weights* w) { return reinterpret_cast<PackedWeights*>(w); }
const PackedWeights* cpp(const qgemm_packed_weights* w) {
  return reinterpret_cast<const PackedWeights*>(w);
}
qgemm_status c_status(Status s) { return static_cast<qgemm_status>(s); }
}  // namespace

extern "C" {

void qgemm_output_stage_init(qgemm_output_stage* o) {
  if (!o) return;
  const OutputStage d;
  *o = qgemm_output_stage{static_cast<int32_t>(d.type), nullptr, nullptr, 0,
                          static_cast<int32_t>(d.requant), static_cast<int32_t>(d.rounding),
                          nullptr, nullptr, d.zero_point, d.clamp_lo, d.clamp_hi, d.act_scale,
                          nullptr, d.out_scale, d.clamp_lo_f32, d.clamp_hi_f32};
}

const char* qgemm_status_name(qgemm_status s) { return status_name(static_cast<Status>(s)); }
const char* qgemm_last_error_message(void) { return last_error_message(); }

int qgemm_isa_available(const char* name) {
  Isa isa;
  return isa_from_name(name, &isa) == Status::ok && isa_available(isa) ? 1 : 0;
}
const char* qgemm_isa_unavailable_reason(const char* name) {
  Isa isa;
  if (isa_from_name(name, &isa) != Status::ok) return "not an ISA name";
  return isa_unavailable_reason(isa);
}
const char* qgemm_active_isa(void) { return isa_name(active_isa()); }
qgemm_status qgemm_isa_status(void) { return c_status(isa_status()); }
qgemm_status qgemm_set_isa(const char* name) {
  Isa isa;
  if (Status s = isa_from_name(name, &isa); s != Status::ok) return c_status(s);
  return c_status(set_isa(isa));
}
void qgemm_reset_isa(void) { reset_isa(); }
const char* qgemm_last_kernel_name(void) { return last_kernel_name(); }

qgemm_status qgemm_pack_weights(const int8_t* b, int32_t layout, int64_t K, int64_t N,
                                int64_t ldb, const int32_t* zb, int32_t zb_per_column,
                                qgemm_packed_weights** out) {
  PackedWeights* w = nullptr;
  if (!out) return c_status(detail::fail(Status::null_pointer, "qgemm_pack_weights: out is null"));
  const Status s = pack_weights(b, static_cast<WeightLayout>(layout), K, N, ldb, zb,
                                zb_per_column != 0, &w);
  *out = reinterpret_cast<qgemm_packed_weights*>(w);
  return c_status(s);
}
qgemm_status qgemm_pack_weights_u8(const uint8_t* b, int32_t layout, int64_t K, int64_t N, int64_t ldb,
                                   const int32_t* zb, int32_t zb_per_column, qgemm_packed_weights** out) {
  PackedWeights* w = nullptr;
  if (!out) return c_status(detail::fail(Status::null_pointer, "qgemm_pack_weights_u8: out is null"));
  const Status s = pack_weights(b, static_cast<WeightLayout>(layout), K, N, ldb, zb, zb_per_column != 0, &w);
  *out = reinterpret_cast<qgemm_packed_weights*>(w);
  return c_status(s);
}
void qgemm_destroy_packed_weights(qgemm_packed_weights* w) { destroy_packed_weights(cpp(w)); }
size_t qgemm_packed_weights_size(const qgemm_packed_weights* w) { return packed_weights_size(cpp(w)); }

void qgemm_gemm_options_init(qgemm_gemm_options* o) {
  if (o) *o = qgemm_gemm_options{0, nullptr, nullptr};
}

qgemm_status qgemm_gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za,
                        const qgemm_packed_weights* b, const qgemm_output_stage* o, void* c,
                        int64_t ldc) {
  return qgemm_gemm_ex(M, a, lda, za, b, o, c, ldc, nullptr);
}

}  // extern "C"

namespace {

// Both activation types through one conversion of the C structs.
template <class A>
qgemm_status gemm_c(int64_t M, const A* a, int64_t lda, int32_t za, const qgemm_packed_weights* b,
                    const qgemm_output_stage* o, void* c, int64_t ldc, const qgemm_gemm_options* options) {
  if (!o) return c_status(detail::fail(Status::null_pointer, "qgemm_gemm: output stage is null"));
  GemmOptions opt;
  if (options) {
    opt.num_threads = options->num_threads;
    opt.parallel_for = options->parallel_for;  // same signature: void(void*, size_t, void(*)(void*, size_t), void*)
    opt.parallel_ctx = options->parallel_ctx;
  }
  OutputStage s;
  s.type = static_cast<OutputType>(o->type);
  s.bias_s32 = o->bias_s32;
  s.bias_f32 = o->bias_f32;
  s.per_column = o->per_column != 0;
  s.requant = static_cast<Requant>(o->requant);
  s.rounding = static_cast<Rounding>(o->rounding);
  s.multiplier = o->multiplier;
  s.shift = o->shift;
  s.zero_point = o->zero_point;
  s.clamp_lo = o->clamp_lo;
  s.clamp_hi = o->clamp_hi;
  s.act_scale = o->act_scale;
  s.weight_scale = o->weight_scale;
  s.out_scale = o->out_scale;
  s.clamp_lo_f32 = o->clamp_lo_f32;
  s.clamp_hi_f32 = o->clamp_hi_f32;
  return c_status(gemm(M, a, lda, za, cpp(b), s, c, ldc, opt));
}

}  // namespace

extern "C" {

qgemm_status qgemm_gemm_ex(int64_t M, const uint8_t* a, int64_t lda, int32_t za,
                           const qgemm_packed_weights* b, const qgemm_output_stage* o, void* c,
                           int64_t ldc, const qgemm_gemm_options* options) {
  return gemm_c(M, a, lda, za, b, o, c, ldc, options);
}

qgemm_status qgemm_gemm_s8(int64_t M, const int8_t* a, int64_t lda, int32_t za, const qgemm_packed_weights* b,
                           const qgemm_output_stage* o, void* c, int64_t ldc) {
  return gemm_c(M, a, lda, za, b, o, c, ldc, nullptr);
}

qgemm_status qgemm_gemm_s8_ex(int64_t M, const int8_t* a, int64_t lda, int32_t za,
                              const qgemm_packed_weights* b, const qgemm_output_stage* o, void* c,
                              int64_t ldc, const qgemm_gemm_options* options) {
  return gemm_c(M, a, lda, za, b, o, c, ldc, options);
}

qgemm_status qgemm_quantize_multiplier(double real, int32_t* multiplier, int32_t* shift) {
  return c_status(quantize_multiplier(real, multiplier, shift));
}

}  // extern "C"
