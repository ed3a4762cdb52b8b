// The packed-weights object behind the opaque qgemm::PackedWeights.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qgemm/qgemm.hpp"
#include "ukernel.hpp"

namespace qgemm {

class PackedWeights {
 public:
  const detail::GemmConfig* cfg = nullptr;      // the kernel the panels are laid out for
  const detail::WeightFormat* format = nullptr;  // their format (cfg->b_format when packed)
  int64_t K = 0, N = 0;
  size_t kp = 0;           // K rounded up to cfg->kr
  size_t n_panels = 0;     // ceil(N / cfg->nr)
  size_t panel_bytes = 0;  // bytes of one panel: format->panel_bytes(nr, kp)
  void* panels = nullptr;  // n_panels panels in `format` (kernels/weight_format.hpp)
  int32_t* colsum = nullptr;  // N: sum_k B[k][j]
  int32_t* zb = nullptr;      // N: weight zero point of each column
  int64_t* l1 = nullptr;      // N: sum_k |B[k][j] - zb[j]|, for the exact overflow bound
  int64_t l1_max = 0;         // max_j l1[j]: gemm's overflow check passes without the N loop
  bool zb_all_zero = true;    // every zb[j] == 0: A's row sums are not needed (symmetric weights)
  void* storage = nullptr;    // one aligned block holding all of the above
  size_t bytes = 0;
};

}  // namespace qgemm
