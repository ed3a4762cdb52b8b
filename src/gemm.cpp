// qgemm::gemm, the API entry: checks -> plan -> run (src/gemm_driver.hpp names the stages).
#include "dispatch.hpp"
#include "errors.hpp"
#include "gemm_driver.hpp"

namespace qgemm {
using namespace detail;

bool built_with_openmp() noexcept {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

namespace {

// Both activation types: int8 A runs as the uint8 bytes A ^ 0x80 with za + 128 (a_flip = 0x80),
// which leaves every A - za unchanged.
Status run(int64_t M, const void* a, int64_t lda, int32_t za, uint8_t a_flip, const PackedWeights* b,
           const OutputStage& out, void* c, int64_t ldc, const GemmOptions& opt) noexcept {
  const GemmConfig* cfg = nullptr;
  int32_t lo = 0, hi = 0;
  if (Status s = check_gemm(M, a, lda, za, a_flip, b, out, c, ldc, opt, &cfg, &lo, &hi); s != Status::ok) return s;
  if (M == 0 || b->N == 0) {
    set_last_kernel("none");
    return succeed();
  }
  GemmPlan plan;
  const int32_t zu = a_flip ? za + 128 : za;
  if (Status s = plan_gemm(M, static_cast<const uint8_t*>(a), lda, zu, a_flip, *b, *cfg, out, lo, hi, c, ldc, opt, &plan);
      s != Status::ok)
    return s;
  run_gemm(plan, opt);
  set_last_kernel(cfg->name);
  return succeed();
}

}  // namespace

Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc) noexcept {
  return run(M, a, lda, za, 0, b, out, c, ldc, GemmOptions{});
}

Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc, const GemmOptions& opt) noexcept {
  return run(M, a, lda, za, 0, b, out, c, ldc, opt);
}

Status gemm(int64_t M, const int8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc) noexcept {
  return run(M, a, lda, za, 0x80, b, out, c, ldc, GemmOptions{});
}

Status gemm(int64_t M, const int8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc, const GemmOptions& opt) noexcept {
  return run(M, a, lda, za, 0x80, b, out, c, ldc, opt);
}

}  // namespace qgemm
