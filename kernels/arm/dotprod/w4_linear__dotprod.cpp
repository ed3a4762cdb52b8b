// The int4 layer's W4A8 kernel for AArch64 with the dot-product extension (armv8.2-a+dotprod:
// Cortex-A55/A76, Neoverse N1, ...): u8 activations x u4 weights with UDOT, exact int32 group
// sums, the contract's float combination (kernels/int4_ukernel.hpp). Weight-only (W4A32)
// gains nothing from UDOT: it is inherited from the neon table.
//
// Tile 4x16: 4 rows x one panel. Per 16 k: 4 activation loads, 8 panel loads, 8 AND/USHR pairs,
// 64 UDOT (by element) = 1024 multiply-adds; 16 accumulators. The rows' float outputs wait in
// memory between groups (one load, FMLA, store per group of >= 32 k). Not tuned: no hardware.
#include "arm/w4_neon.hpp"

namespace qgemm {
namespace detail {
namespace {

void w4a8_linear_4x16__dotprod(const W4A8Args& r, size_t m, size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    size_t i = 0;
    for (; i + 4 <= m; i += 4) w4a8_udot_rows<4>(r, i, p);
    switch (m - i) {
      case 3: w4a8_udot_rows<3>(r, i, p); break;
      case 2: w4a8_udot_rows<2>(r, i, p); break;
      case 1: w4a8_udot_rows<1>(r, i, p); break;
      default: break;
    }
  }
}

}  // namespace

extern const Int4Kernels kInt4Kernels_dotprod = {w4a8_linear_4x16__dotprod, nullptr, "w4a8_linear_4x16__dotprod", nullptr};

}  // namespace detail
}  // namespace qgemm
