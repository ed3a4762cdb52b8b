// Selection of the int4 layer's kernels (src/int4/int4_dispatch.cpp): the table of the best
// ISA at or below the GEMM's active one. The kernels' contract is kernels/int4_ukernel.hpp.
// Internal.
#pragma once

#include "int4_ukernel.hpp"
#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

// The int4 table for the GEMM's active ISA (set_isa(), QGEMM_ISA), every entry filled; an
// error status (message recorded) while a bad QGEMM_ISA is in force.
Status int4_kernels(const Int4Kernels** out) noexcept;

// The scalar kernels (kernels/scalar/w4_linear__scalar.cpp): every CPU, and the reference the
// tests compare every ISA with.
extern const Int4Kernels kInt4Kernels_scalar;

}  // namespace detail
}  // namespace qgemm
