// Packed-B formats: how a kernel's weight panels are laid out and written. A kernel's
// descriptor (GemmConfig::b_format) names the format it reads; pack_weights() writes the
// weights through that format's packer and records the format in the packed object, and the
// driver asks the format for every byte offset into the panels, so a kernel can never be paired
// with weights laid out for another format (src/gemm_checks.cpp). Each format has one home,
// src/weight_format_<name>.cpp; docs/adding-a-weight-format.md lists the files a new one touches.
// Internal header: not installed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

struct WeightFormat {
  const char* name;
  // Bytes of one column panel of nr columns at padded depth kp.
  size_t (*panel_bytes)(size_t nr, size_t kp);
  // Bytes from a panel's start to K value k0 (a multiple of the kernel's K group).
  size_t (*depth_offset)(size_t nr, size_t k0);
  // Writes every panel of B (k x n, [K][N] or [N][K] with leading dimension ldb, each byte
  // XORed with flip: 0x80 turns uint8 weights into int8 ones) for tiles of nr columns in K
  // groups of kr, depth padded to kp, at dst: ceil(n / nr) * panel_bytes(nr, kp) bytes,
  // already zeroed (padding stays zero).
  void (*pack)(const int8_t* b, uint8_t flip, WeightLayout layout, size_t k, size_t n, size_t ldb, size_t nr,
               size_t kr, size_t kp, void* dst);
};

// int8 values, [kp/KR][NR][KR] per panel (kernels/ukernel.hpp draws it): every kernel today.
extern const WeightFormat kWeightFormat_s8;
// Nibbles, two k values per byte, for the int4 layer (kernels/int4_ukernel.hpp draws it): pack()
// takes one value in [0, 15] per int8 element, nr = 16, kr = 4, flip 0.
extern const WeightFormat kWeightFormat_u4;

}  // namespace detail
}  // namespace qgemm
