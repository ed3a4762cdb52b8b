// The GEMM dispatch table: one entry per ISA, filled once from what was built and what the
// CPU can run; the active ISA (best, or forced by QGEMM_ISA / set_isa()).
#pragma once

#include "qgemm/qgemm.hpp"
#include "ukernel.hpp"

namespace qgemm {
namespace detail {

// The active ISA's GEMM config, or an error status (with its message recorded) when
// QGEMM_ISA named an ISA that is unknown or not available here.
Status active_gemm_config(const GemmConfig** out) noexcept;
// The config of a given ISA, nullptr if it is not available.
const GemmConfig* gemm_config(Isa isa) noexcept;
// The ISA's dispatch priority in the registry (higher wins); -1 for a value that is no Isa.
int isa_priority(Isa isa) noexcept;
// Every Isa value, lowest dispatch priority first (kIsaCount entries).
const Isa* isas_by_ascending_priority() noexcept;
// Records the kernel name for last_kernel_name().
void set_last_kernel(const char* name) noexcept;

}  // namespace detail
}  // namespace qgemm
