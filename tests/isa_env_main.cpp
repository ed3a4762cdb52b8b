// Run by ctest with QGEMM_ISA set: an available ISA must become the active one and run; an
// unknown or unavailable one must make every call fail with unsupported_isa (never a crash,
// never a silent fallback). QGEMM_ISA=scalar also forces the weight-only layer's scalar kernel
// (the quantization kernels' own dispatch). Exit code 0 = behaved as specified.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "qgemm/linear.hpp"
#include "qgemm/qgemm.hpp"

int main() {
  const char* env = std::getenv("QGEMM_ISA");
  if (!env) return std::puts("QGEMM_ISA is not set"), 2;
  qgemm::Isa isa;
  const bool known = qgemm::isa_from_name(env, &isa) == qgemm::Status::ok;
  const bool available = known && qgemm::isa_available(isa);
  const int8_t b[4] = {1, 2, 3, 4};
  const uint8_t a[4] = {1, 1, 1, 1};
  int32_t c = 0;
  qgemm::PackedWeights* w = nullptr;
  const qgemm::Status ps = qgemm::pack_weights(b, qgemm::WeightLayout::kn, 4, 1, 1, nullptr, false, &w);
  if (!available) {
    // No ISA is active: isa_status() says so until reset_isa(), which restores the best.
    // The message names the reason (qgemm::isa_unavailable_reason) for a known ISA.
    const std::string msg = qgemm::last_error_message();
    bool ok = ps == qgemm::Status::unsupported_isa && w == nullptr &&
              (!known || msg.find(qgemm::isa_unavailable_reason(isa)) != std::string::npos) &&
              qgemm::isa_status() == qgemm::Status::unsupported_isa;
    qgemm::reset_isa();
    ok = ok && qgemm::isa_status() == qgemm::Status::ok;
    std::printf("QGEMM_ISA=%s (not available): pack_weights -> %s: %s\n", env, qgemm::status_name(ps),
                msg.c_str());
    return ok ? 0 : 1;
  }
  if (ps != qgemm::Status::ok || qgemm::active_isa() != isa || qgemm::isa_status() != qgemm::Status::ok)
    return std::puts("pack failed or wrong ISA"), 1;
  const qgemm::Status gs = qgemm::gemm(1, a, 4, 0, w, qgemm::output_s32(), &c, 1);
  qgemm::destroy_packed_weights(w);
  const char* kernel = qgemm::last_kernel_name();
  const char* tail = std::strstr(kernel, "__");
  std::printf("QGEMM_ISA=%s: kernel %s, result %d\n", env, kernel, c);
  if (!(gs == qgemm::Status::ok && c == 10 && tail && std::strcmp(tail + 2, env) == 0)) return 1;
  if (isa == qgemm::Isa::scalar) {
    const float xf[4] = {1, 1, 1, 1}, scale = 1.0f;
    float y = 0;
    qgemm::WeightOnlyLinear wo;
    if (wo.init_quantized(b, &scale, 1, 4, nullptr) != qgemm::Status::ok ||
        wo.forward(1, qgemm::ActType::f32, xf, 4, &y, 1) != qgemm::Status::ok)
      return std::puts("weight-only layer failed"), 1;
    std::printf("QGEMM_ISA=scalar: weight-only kernel %s, result %g\n", qgemm::weight_only_kernel_name(), y);
    if (std::strcmp(qgemm::weight_only_kernel_name(), "w8a32_linear_1x1__scalar") != 0 || y != 10.0f) return 1;
  }
  return 0;
}
