// Which arithmetic the avx512bw microkernel used, counted per K chunk of a tile: vpmaddubsw
// (only on chunks whose A bytes are all <= 127, where its int16 pair sums cannot saturate) or
// the exact int16 vpmaddwd sequence. Internal: tests/x86_zmm_test.cpp reads these to prove
// that both paths ran.
#pragma once

#include <atomic>
#include <cstdint>

namespace qgemm {
namespace detail {
namespace avx512bw {

struct PathCounters {
  std::atomic<uint64_t> maddubs_chunks{0};  // chunks proved safe: vpmaddubsw + vpmaddwd(1)
  std::atomic<uint64_t> exact_chunks{0};    // chunks with an A byte >= 128: int16 vpmaddwd only
};

extern PathCounters g_path_counters;

}  // namespace avx512bw
}  // namespace detail
}  // namespace qgemm
