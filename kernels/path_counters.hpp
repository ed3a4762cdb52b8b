// Which loop or A path a GEMM microkernel took, for the tests: a test run that never executed
// an ISA path it should have is a failure, and these counts prove which ones ran. One fixed
// table, every counter named below, defined once in src/path_counters.cpp (baseline ISA). The
// kernels add to it once per tile or run of K blocks (never in an inner loop), with relaxed
// atomics, and only while a test has switched counting on; off (the default) a kernel pays one
// relaxed load of a flag that nothing writes. Internal: not installed, not part of the API.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

enum class Path : unsigned {
  avx2_fast_block,         // AVX2 K blocks on vpmaddubsw + vpmaddwd(1) (A block all <= 127)
  avx2_exact_block,        // AVX2 K blocks on the int16 loop (zero-/sign-extension + vpmaddwd)
  avx2_sign_block,         // AVX2 K blocks of packed tiles in the sign mode (vpxor + vpmaddubsw)
  avx512bw_maddubs_chunk,  // AVX-512BW K chunks on vpmaddubsw (A chunk all <= 127)
  avx512bw_exact_chunk,    // AVX-512BW K chunks on the int16 vpmaddwd sequence
  avx512vnni_a_in_place,   // AVX-512 VNNI tile calls reading A rows in place (small M)
  avx512vnni_a_packed,     // AVX-512 VNNI tile calls reading a packed A panel
  avx512vnni_tile_pair,    // AVX-512 VNNI calls of 7-12 rows: two row tiles sharing B chunks
  avx512vnni_row_tiles,    // AVX-512 VNNI calls of more than 12 rows: consecutive row tiles
  avxvnni_tile_pair,       // AVX-VNNI calls of 7-12 rows: two row tiles sharing B chunks
  avxvnni_row_tiles,       // AVX-VNNI calls of more than 12 rows: consecutive row tiles
  amx_tile,                // AMX tile calls (32x32 of C, or 16x32 at m <= 16)
  amx_short_k_step,        // AMX tile calls whose K ends in a short step (B rows copied, zero padded)
  count_                   // not a path: the number of counters
};
constexpr size_t kPathCount = static_cast<size_t>(Path::count_);

// Plain words accessed with the compiler's __atomic builtins, not std::atomic: its member
// functions instantiated in ISA objects would be symbols shared between them (odr_isa_objects).
struct PathCounters {
  alignas(64) bool on;  // written only by the test hooks below
  alignas(64) uint64_t n[kPathCount];
};
extern PathCounters g_path_counters;

namespace {  // internal linkage: this header is compiled with every ISA's flags

// Adds `count` to path p's counter while counting is on.
inline void count_path(Path p, uint64_t count) {
  if (count != 0 && __atomic_load_n(&g_path_counters.on, __ATOMIC_RELAXED))
    __atomic_fetch_add(&g_path_counters.n[static_cast<size_t>(p)], count, __ATOMIC_RELAXED);
}

}  // namespace

// Test hooks. start: every counter to zero, then counting on; stop: counting off (the counts
// stay readable); path_count: path p's count since the last start.
void start_path_counting() noexcept;
void stop_path_counting() noexcept;
uint64_t path_count(Path p) noexcept;

}  // namespace detail
}  // namespace qgemm
