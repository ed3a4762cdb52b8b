// What the CPU (and the OS) can execute, as a bit mask over qgemm::Isa.
#pragma once

#include <cstdint>

namespace qgemm {
namespace detail {

// Bit (1u << int(Isa::x)) is set when this CPU and OS can run ISA x. Always has scalar.
uint32_t detect_cpu_isas() noexcept;

}  // namespace detail
}  // namespace qgemm
