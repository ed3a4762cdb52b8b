// The kernels' path counters (kernels/path_counters.hpp), defined once at the baseline ISA.
#include "path_counters.hpp"

namespace qgemm {
namespace detail {

PathCounters g_path_counters;

void start_path_counting() noexcept {
  for (auto& c : g_path_counters.n) c.store(0, std::memory_order_relaxed);
  g_path_counters.on.store(true, std::memory_order_seq_cst);
}

void stop_path_counting() noexcept { g_path_counters.on.store(false, std::memory_order_seq_cst); }

uint64_t path_count(Path p) noexcept {
  return g_path_counters.n[static_cast<size_t>(p)].load(std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace qgemm
