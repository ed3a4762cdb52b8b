// Test hooks of the driver (src/gemm.cpp): not part of the API, not installed. The tests,
// the fuzzer and the benchmarks include this one header instead of re-declaring them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

// What the driver's blocking is made of for one ISA's GEMM kernel at depth K, so that tests
// derive their shapes from the kernel's descriptor (every edge crossed, no list to maintain).
struct GemmBlocking {
  uint32_t mr, nr, kr;      // tile rows, columns, K group
  uint32_t kc_unit;         // the kernel's own K block, whose edges tests cross (GemmConfig::kc_unit; 0: KR)
  uint32_t max_m_unpacked;  // rows up to which A is read in place (0: always packed; may be UINT32_MAX)
  size_t mc;                // the most rows per MC block at this K (a multiple of mr)
  size_t kc;                // padded K values per K block at this K (kp when K is not blocked)
};
// False when the ISA is not available here.
bool gemm_blocking_for_testing(Isa isa, int64_t K, GemmBlocking* out) noexcept;
// Kept for older tests: the tile only.
bool gemm_tile_for_testing(Isa isa, uint32_t* mr, uint32_t* nr, uint32_t* kr) noexcept;

// Smallest multiply-add count worth a task of its own (1: split every problem into as many
// tasks as threads allow; 0: the default).
void set_min_task_macs_for_testing(size_t macs) noexcept;
// Rows per MC block before the driver rounds it up to a multiple of MR (0: the kernel's own).
void set_mc_for_testing(size_t rows) noexcept;
// Target K values per K block (KC) before the driver rounds it to the kernel's kc_unit (0: the
// kernel's own, or a quarter of L2 for one panel's B block).
void set_kc_for_testing(size_t depth) noexcept;

}  // namespace detail
}  // namespace qgemm
