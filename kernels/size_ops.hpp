// min / max of sizes for kernel code. Internal linkage: kernels of every ISA include this, and
// std::min / std::max instantiated there are weak symbols that the linker keeps once for all
// objects, compiled with one ISA's flags, wherever they are not inlined (-O0 builds; the test
// odr_isa_objects finds them).
#pragma once

#include <cstddef>

namespace qgemm {
namespace detail {
namespace {

constexpr size_t size_min(size_t a, size_t b) { return a < b ? a : b; }
constexpr size_t size_max(size_t a, size_t b) { return a < b ? b : a; }

}  // namespace
}  // namespace detail
}  // namespace qgemm
