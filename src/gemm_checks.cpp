// gemm()'s argument checks: shapes, pointers, zero points, thread counts, the output stage's
// parameters (src/output_stage.cpp), the active kernel against the packed weights' format and
// ISA, the extents of A and C, and the exact int32 overflow bound. Each failure has its own
// status and message (README, "Errors").
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "dispatch.hpp"
#include "errors.hpp"
#include "gemm_driver.hpp"
#include "output_stage.hpp"

namespace qgemm {
namespace detail {
namespace {

constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

}  // namespace

Status check_pairing(const GemmConfig& cfg, const PackedWeights& b) noexcept {
  if (b.format != cfg.b_format)
    return fail(Status::packed_isa_mismatch,
                "gemm: the weights are in the %s format but the kernel %s reads the %s format; pack them again",
                b.format ? b.format->name : "(none)", cfg.name, cfg.b_format ? cfg.b_format->name : "(none)");
  if (b.cfg != &cfg)
    return fail(Status::packed_isa_mismatch, "gemm: weights were packed for %s but the active ISA is %s; pack them again",
                isa_name(b.cfg->isa), isa_name(cfg.isa));
  return Status::ok;
}

Status check_gemm(int64_t M, const void* a, int64_t lda, int32_t za, uint8_t a_flip, const PackedWeights* b,
                  const OutputStage& out, const void* c, int64_t ldc, const GemmOptions& opt,
                  const GemmConfig** cfg_out, int32_t* lo, int32_t* hi) noexcept {
  if (!b) return fail(Status::null_pointer, "gemm: packed weights are null");
  const int64_t K = b->K, N = b->N;
  if (M < 0) return fail(Status::negative_dimension, "gemm: M=%lld must be >= 0", static_cast<long long>(M));
  if (lda < K)
    return fail(Status::bad_leading_dimension, "gemm: lda=%lld < K=%lld", static_cast<long long>(lda), static_cast<long long>(K));
  if (ldc < N)
    return fail(Status::bad_leading_dimension, "gemm: ldc=%lld < N=%lld", static_cast<long long>(ldc), static_cast<long long>(N));
  if (!a && M != 0 && K != 0) return fail(Status::null_pointer, "gemm: A is null");
  if (!c && M != 0 && N != 0) return fail(Status::null_pointer, "gemm: C is null");
  const int32_t zmin = a_flip ? -128 : 0, zmax = a_flip ? 127 : 255;
  if (za < zmin || za > zmax)
    return fail(Status::bad_zero_point, "gemm: za=%d outside [%d, %d] (%s A)", za, zmin, zmax, a_flip ? "int8" : "uint8");
  if (opt.num_threads < 0 || opt.num_threads > kMaxThreads)
    return fail(Status::bad_argument, "gemm: num_threads=%d outside [0, %d]", opt.num_threads, kMaxThreads);
  if (Status s = check_output_stage(out, N, lo, hi); s != Status::ok) return s;
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  if (Status s = check_pairing(*cfg, *b); s != Status::ok) return s;
  // The extents of A ((M-1)*lda + K bytes) and C (((M-1)*ldc + N) elements) must be addressable.
  const size_t esize = output_element_size(out.type);
  if (M > 0) {
    int64_t extent = 0;
    if (K > 0 && (__builtin_mul_overflow(M - 1, lda, &extent) || __builtin_add_overflow(extent, K, &extent)))
      return fail(Status::bad_leading_dimension, "gemm: A's extent (M-1)*lda+K overflows (M=%lld, lda=%lld)",
                  static_cast<long long>(M), static_cast<long long>(lda));
    if (N > 0 && (__builtin_mul_overflow(M - 1, ldc, &extent) || __builtin_add_overflow(extent, N, &extent) ||
                  __builtin_mul_overflow(extent, static_cast<int64_t>(esize), &extent)))
      return fail(Status::bad_leading_dimension, "gemm: C's extent ((M-1)*ldc+N)*%zu bytes overflows (M=%lld, ldc=%lld)",
                  esize, static_cast<long long>(M), static_cast<long long>(ldc));
  }
  const int32_t zu = a_flip ? za + 128 : za;  // the zero point of the uint8 bytes the kernels read
  const int64_t amax = std::max(zu, 255 - zu);  // max|A - za| over the type's range
  // The bound over all columns at once (l1_max from packing, the largest |bias| in a loop
  // without an exit, which vectorizes): at M <= 8 the per-column loop below, with its early
  // exit, took 2-3% of the call (docs/notes/issue-29.md). Only when that bound fails are the
  // columns checked one by one, so the result is the same.
  int64_t bias_max = 0;
  if (out.bias_s32) {
    const int32_t* __restrict bias = out.bias_s32;
    int32_t lo_b = 0, hi_b = 0;
    for (int64_t j = 0; j < N; ++j) {
      lo_b = bias[j] < lo_b ? bias[j] : lo_b;
      hi_b = bias[j] > hi_b ? bias[j] : hi_b;
    }
    bias_max = std::max(-static_cast<int64_t>(lo_b), static_cast<int64_t>(hi_b));
  }
  if (amax * b->l1_max + bias_max > kI32Max) {
    for (int64_t j = 0; j < N; ++j) {
      const int64_t bias = out.bias_s32 ? std::abs(static_cast<int64_t>(out.bias_s32[j])) : 0;
      if (amax * b->l1[j] + bias > kI32Max)
        return fail(Status::overflow_risk,
                    "gemm: column %lld can reach |acc| = %lld*%lld + %lld > INT32_MAX (K=%lld, za=%d)",
                    static_cast<long long>(j), static_cast<long long>(amax), static_cast<long long>(b->l1[j]),
                    static_cast<long long>(bias), static_cast<long long>(K), za);
    }
  }
  *cfg_out = cfg;
  return Status::ok;
}

}  // namespace detail
}  // namespace qgemm
