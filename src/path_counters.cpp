// The kernels' path counters (kernels/path_counters.hpp), defined once at the baseline ISA.
#include "path_counters.hpp"

namespace qgemm {
namespace detail {

PathCounters g_path_counters;

void start_path_counting() noexcept {
  for (auto& c : g_path_counters.n) __atomic_store_n(&c, uint64_t{0}, __ATOMIC_RELAXED);
  __atomic_store_n(&g_path_counters.on, true, __ATOMIC_SEQ_CST);
}

void stop_path_counting() noexcept { __atomic_store_n(&g_path_counters.on, false, __ATOMIC_SEQ_CST); }

uint64_t path_count(Path p) noexcept {
  return __atomic_load_n(&g_path_counters.n[static_cast<size_t>(p)], __ATOMIC_RELAXED);
}

}  // namespace detail
}  // namespace qgemm
