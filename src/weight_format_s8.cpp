// The int8 packed-B format, [kp/KR][NR][KR] per panel (kernels/ukernel.hpp draws it): its byte
// arithmetic and its packer, for both storage orders of B. Portable code: the layout is
// described by (NR, KR) alone.
#include <algorithm>
#include <cstring>

#include "weight_format.hpp"

namespace qgemm {
namespace detail {
namespace {

size_t s8_panel_bytes(size_t nr, size_t kp) { return nr * kp; }
size_t s8_depth_offset(size_t nr, size_t k0) { return nr * k0; }

// [N][K]: each column of B is a contiguous row; its KR-byte groups go to the panel's column slot
// (constant-size copies for the common KR: no library call per group). A flip is applied to the
// panel afterwards (flip_panels).
void pack_nk(const int8_t* b, size_t k, size_t n, size_t ldb, size_t nr, size_t kr, size_t kp, int8_t* panels) {
  const size_t full = k / kr * kr;
  for (size_t j = 0; j < n; ++j) {
    const int8_t* col = b + j * ldb;
    int8_t* dst = panels + (j / nr) * kp * nr + (j % nr) * kr;
    if (kr == 4) {
      for (size_t k0 = 0; k0 < full; k0 += 4) std::memcpy(dst + k0 * nr, col + k0, 4);
    } else if (kr == 8) {
      for (size_t k0 = 0; k0 < full; k0 += 8) std::memcpy(dst + k0 * nr, col + k0, 8);
    } else {
      for (size_t k0 = 0; k0 < full; k0 += kr) std::memcpy(dst + k0 * nr, col + k0, kr);
    }
    if (full < k) std::memcpy(dst + full * nr, col + full, k - full);
  }
}

// [K][N]: KR rows of B at a time into each panel's group, panel by panel (no division per
// element).
void pack_kn(const int8_t* b, size_t k, size_t n, size_t ldb, size_t nr, size_t kr, size_t kp, int8_t* panels) {
  for (size_t k0 = 0; k0 < k; k0 += kr) {
    const size_t rows = std::min(kr, k - k0);
    int8_t* group = panels + (k0 / kr) * nr * kr;
    for (size_t j0 = 0; j0 < n; j0 += nr) {
      int8_t* dst = group + (j0 / nr) * kp * nr;
      const size_t cols = std::min(nr, n - j0);
      for (size_t t = 0; t < rows; ++t) {
        const int8_t* src = b + (k0 + t) * ldb + j0;
        for (size_t jj = 0; jj < cols; ++jj) dst[jj * kr + t] = src[jj];
      }
    }
  }
}

// XORs the bytes that hold weights (not the zero padding) with flip, panel by panel.
void flip_panels(uint8_t flip, size_t k, size_t n, size_t nr, size_t kr, size_t kp, int8_t* panels) {
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    int8_t* panel = panels + (j0 / nr) * kp * nr;
    const size_t cols = std::min(nr, n - j0);
    for (size_t g = 0; g < kp / kr; ++g) {
      const size_t rows = std::min(kr, k - std::min(k, g * kr));
      int8_t* group = panel + g * nr * kr;
      for (size_t jj = 0; jj < cols; ++jj)
        for (size_t t = 0; t < rows; ++t) group[jj * kr + t] = static_cast<int8_t>(group[jj * kr + t] ^ flip);
    }
  }
}

void s8_pack(const int8_t* b, uint8_t flip, WeightLayout layout, size_t k, size_t n, size_t ldb, size_t nr, size_t kr,
             size_t kp, void* dst) {
  if (k == 0 || n == 0) return;
  int8_t* panels = static_cast<int8_t*>(dst);
  if (layout == WeightLayout::nk)
    pack_nk(b, k, n, ldb, nr, kr, kp, panels);
  else
    pack_kn(b, k, n, ldb, nr, kr, kp, panels);
  if (flip) flip_panels(flip, k, n, nr, kr, kp, panels);
}

}  // namespace

extern constexpr WeightFormat kWeightFormat_s8 = {"s8", s8_panel_bytes, s8_depth_offset, s8_pack};

}  // namespace detail
}  // namespace qgemm
