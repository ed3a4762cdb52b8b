// The int4 packed-B format "u4" (kernels/int4_ukernel.hpp draws it): two k values per byte,
// 64-byte blocks of [16 columns][4 k] whose low nibbles hold k 8b..8b+3 and high nibbles
// 8b+4..8b+7. Portable code; the int4 layer (src/int4/) packs through it.
#include <algorithm>

#include "int4_ukernel.hpp"
#include "weight_format.hpp"

namespace qgemm {
namespace detail {
namespace {

size_t u4_panel_bytes(size_t nr, size_t kp) { return nr * kp / 2; }
size_t u4_depth_offset(size_t nr, size_t k0) { return nr * k0 / 2; }

// The byte of value (k, column jj of its panel) within the panel, and its nibble's shift.
inline size_t u4_byte(size_t nr, size_t k, size_t jj) { return (k / 8) * nr * 4 + jj * 4 + (k % 4); }
inline unsigned u4_shift(size_t k) { return (k % 8) >= 4 ? 4u : 0u; }

void u4_pack(const int8_t* b, uint8_t /*flip*/, WeightLayout layout, size_t k, size_t n, size_t ldb, size_t nr,
             size_t /*kr*/, size_t kp, void* dst) {
  uint8_t* panels = static_cast<uint8_t*>(dst);
  for (size_t j = 0; j < n; ++j) {
    uint8_t* panel = panels + (j / nr) * u4_panel_bytes(nr, kp);
    const size_t jj = j % nr;
    for (size_t kk = 0; kk < k; ++kk) {
      const int8_t v = layout == WeightLayout::nk ? b[j * ldb + kk] : b[kk * ldb + j];
      panel[u4_byte(nr, kk, jj)] |= static_cast<uint8_t>((static_cast<unsigned>(v) & 0x0Fu) << u4_shift(kk));
    }
  }
}

}  // namespace

extern constexpr WeightFormat kWeightFormat_u4 = {"u4", u4_panel_bytes, u4_depth_offset, u4_pack};

}  // namespace detail
}  // namespace qgemm
