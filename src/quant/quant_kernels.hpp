// Selection of the quantization layer's kernels (src/quant/quant_dispatch.cpp): the table of
// the active ISA. The kernels' contract and tables are kernels/quant_ukernel.hpp. Internal.
#pragma once

#include "quant_ukernel.hpp"

namespace qgemm {
namespace detail {

// The bf16-X kernels of the selected table, or null (then bf16 X is widened for `linear`).
const W8Bf16Kernels* w8_bf16_kernels() noexcept;
// Tests: false hides the AVX512-BF16 kernels, so the avx512bw table's own bf16 path runs.
void allow_w8_bf16_kernels(bool allow) noexcept;

// The table of the selected ISA (set_quant_isa / QGEMM_ISA=scalar / best available).
const QuantKernels& quant_kernels() noexcept;

}  // namespace detail
}  // namespace qgemm
