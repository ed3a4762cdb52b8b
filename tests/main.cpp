// Test main: runs GoogleTest, then prints how many gemm calls were verified per ISA (and per sign
// combination of A and B), and fails the run if an ISA this machine can run verified none, or
// none of one combination (a path that silently did not run).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "test_util.hpp"

namespace qtest {
namespace {
std::atomic<long> g_verified[qgemm::kIsaCount][4];  // [isa][a_signed + 2 * b_unsigned]
}
void record_verified(qgemm::Isa isa, int signs) { g_verified[static_cast<int>(isa)][signs & 3]++; }
}  // namespace qtest

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const bool filtered = testing::GTEST_FLAG(filter) != "*";
  bool missing = false;
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    long by[4], n = 0;
    for (int s = 0; s < 4; ++s) n += by[s] = qtest::g_verified[i][s].load();
    if (!qgemm::isa_available(isa)) {
      std::printf("[ VERIFIED ] %-10s skipped: not available on this CPU/build\n", qgemm::isa_name(isa));
      continue;
    }
    std::printf("[ VERIFIED ] %-10s %ld gemm calls bit-exact against the oracle (u8xs8 %ld, s8xs8 %ld, u8xu8 %ld, "
                "s8xu8 %ld)\n",
                qgemm::isa_name(isa), n, by[0], by[1], by[2], by[3]);
    for (int s = 0; s < 4; ++s)
      if (by[s] == 0 && !filtered) missing = true;
  }
  if (missing) std::printf("[  FAILED  ] an available ISA verified no gemm call\n");
  return rc != 0 ? rc : (missing ? 1 : 0);
}
