// How the avx512vnni microkernel read A: in place (the small-M path, no packing) or from a
// packed panel. Internal: tests/x86_zmm_test.cpp reads these to prove which path ran.
#pragma once

#include <atomic>
#include <cstdint>

namespace qgemm {
namespace detail {
namespace avx512vnni {

struct PathCounters {
  std::atomic<uint64_t> a_in_place{0};  // tile calls that read A rows in place (lda stride)
  std::atomic<uint64_t> a_packed{0};    // tile calls that read a packed A panel
};

extern PathCounters g_path_counters;

}  // namespace avx512vnni
}  // namespace detail
}  // namespace qgemm
