// Consumer of qgemm through the C++ API: packs a [N][K] weight, runs a u8 GEMM, checks one
// row, and checks that the library it runs with has the version of the headers.
#include <qgemm/qgemm.h>
#include <qgemm/qgemm.hpp>
#include <qgemm/version.h>

#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  const int M = 2, N = 3, K = 4;
  std::vector<uint8_t> a = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int8_t> w = {1, 1, 1, 1, -1, -1, -1, -1, 2, 0, 0, 0};  // [N][K]
  qgemm::PackedWeights* pw = nullptr;
  if (qgemm::pack_weights(w.data(), qgemm::WeightLayout::nk, K, N, K, nullptr, false, &pw) != qgemm::Status::ok) return 1;
  std::vector<int32_t> c(M * N);
  if (qgemm::gemm(M, a.data(), K, 0, pw, qgemm::output_s32(), c.data(), N) != qgemm::Status::ok) return 1;
  qgemm::destroy_packed_weights(pw);
  std::printf("consumer: qgemm %s (headers %s), C[1] = {%d, %d, %d} via %s (C API active ISA %s)\n",
              qgemm::version(), QGEMM_VERSION_STRING, c[3], c[4], c[5], qgemm::last_kernel_name(),
              qgemm_active_isa());
  if (std::strcmp(qgemm::version(), QGEMM_VERSION_STRING) != 0) return 1;
  return (c[3] == 26 && c[4] == -26 && c[5] == 10) ? 0 : 1;
}
