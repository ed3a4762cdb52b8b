// Test main: runs GoogleTest, then prints how many gemm calls were verified per ISA, and fails
// the run if an ISA this machine can run verified none (a path that silently did not run).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "test_util.hpp"

namespace qtest {
namespace {
std::atomic<long> g_verified[qgemm::kIsaCount];
}
void record_verified(qgemm::Isa isa) { g_verified[static_cast<int>(isa)]++; }
}  // namespace qtest

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const bool filtered = testing::GTEST_FLAG(filter) != "*";
  bool missing = false;
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    const long n = qtest::g_verified[i].load();
    if (!qgemm::isa_available(isa)) {
      std::printf("[ VERIFIED ] %-10s skipped: not available on this CPU/build\n", qgemm::isa_name(isa));
      continue;
    }
    std::printf("[ VERIFIED ] %-10s %ld gemm calls bit-exact against the oracle\n", qgemm::isa_name(isa), n);
    if (n == 0 && !filtered) missing = true;
  }
  if (missing) std::printf("[  FAILED  ] an available ISA verified no gemm call\n");
  return rc != 0 ? rc : (missing ? 1 : 0);
}
