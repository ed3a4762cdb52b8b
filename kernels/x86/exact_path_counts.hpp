// Which inner loop the AVX2 kernel ran, counted per K block (see kernels/x86/avx2/): the fast
// vpmaddubsw loop, used only on blocks whose A bytes are all <= 127 (so no int16 pair sum can
// saturate, whatever the weights), or the exact widening loop. Internal: tests read it to prove
// that both paths ran. Counts are per thread (no shared cache line in the kernel's hot path);
// they cover the kernel calls made by the reading thread.
#pragma once

#include <cstdint>

namespace qgemm {
namespace detail {

struct X86PathCounts {
  uint64_t fast_blocks = 0;   // K blocks computed with vpmaddubsw (A block <= 127)
  uint64_t exact_blocks = 0;  // K blocks computed with zero-/sign-extension + vpmaddwd
};

// One counter object for the kernel and the tests (data, external linkage; constant-initialised,
// so no TLS init code is emitted). The accessors, code, have internal linkage.
inline thread_local X86PathCounts g_x86_path_counts;

namespace {
inline X86PathCounts x86_path_counts() { return g_x86_path_counts; }
inline void reset_x86_path_counts() { g_x86_path_counts = X86PathCounts{}; }
}  // namespace

}  // namespace detail
}  // namespace qgemm
