// Dispatch: the ISA list, the override, and a check that every ISA this CPU can run and this
// build contains is really available (no silent fallback to a slower path).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#if defined(__x86_64__) && !defined(QGEMM_TEST_EMULATED)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "cpu.hpp"
#include "qgemm/qgemm.hpp"

namespace {

// ISAs built into the library, as configured by CMake (QGEMM_BUILT_ISAS).
bool built(const std::string& name) {
  const std::string list = std::string(" ") + QGEMM_TEST_BUILT_ISAS + " ";
  return list.find(" " + name + " ") != std::string::npos;
}

#if defined(__x86_64__) && !defined(QGEMM_TEST_EMULATED)
// AMX, read here independently of src/cpu.cpp: CPUID.(7,0):EDX bits 24-25, the tile state in
// XCR0 (bits 17-18), and Linux's per-process grant of the tile data.
bool amx_usable() {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  if (!((d >> 24) & 1) || !((d >> 25) & 1)) return false;
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x60000u) != 0x60000u) return false;
  return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}
#endif

bool cpu_has(qgemm::Isa isa) {
#if defined(QGEMM_TEST_EMULATED)
  return isa == qgemm::Isa::scalar || isa == qgemm::Isa::avx2 || isa == qgemm::Isa::avx512bw ||
         isa == qgemm::Isa::avxvnni || isa == qgemm::Isa::avx512vnni || isa == qgemm::Isa::amx;
#elif defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case qgemm::Isa::scalar: return true;
    case qgemm::Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case qgemm::Isa::avx512bw:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    case qgemm::Isa::avx512vnni: return cpu_has(qgemm::Isa::avx512bw) && __builtin_cpu_supports("avx512vnni");
    case qgemm::Isa::avxvnni: return qgemm::isa_available(qgemm::Isa::avxvnni);  // gcc 12 has no name for it
    case qgemm::Isa::amx: return cpu_has(qgemm::Isa::avx512bw) && amx_usable();
    default: return false;
  }
#else
  return qgemm::isa_available(isa) || isa == qgemm::Isa::scalar;
#endif
}

TEST(Dispatch, EveryBuiltIsaTheCpuHasIsAvailable) {
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    const bool expect = built(qgemm::isa_name(isa)) && cpu_has(isa);
    EXPECT_EQ(qgemm::isa_available(isa), expect) << qgemm::isa_name(isa);
    std::printf("[ ISA      ] %-10s built=%d cpu=%d available=%d\n", qgemm::isa_name(isa),
                built(qgemm::isa_name(isa)), cpu_has(isa), qgemm::isa_available(isa));
  }
  EXPECT_TRUE(qgemm::isa_available(qgemm::Isa::scalar));
}

TEST(Dispatch, DefaultIsTheBestAvailable) {
  qgemm::reset_isa();
  const qgemm::Isa order[] = {qgemm::Isa::amx, qgemm::Isa::avx512vnni, qgemm::Isa::avxvnni, qgemm::Isa::avx512bw,
                              qgemm::Isa::avx2,       qgemm::Isa::i8mm,    qgemm::Isa::dotprod,
                              qgemm::Isa::neon,       qgemm::Isa::scalar};
  for (qgemm::Isa isa : order)
    if (qgemm::isa_available(isa)) {
      EXPECT_EQ(qgemm::active_isa(), isa);
      break;
    }
}

TEST(Dispatch, ReasonIsEmptyExactlyWhenAvailable) {
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    const std::string why = qgemm::isa_unavailable_reason(isa);
    EXPECT_EQ(why.empty(), qgemm::isa_available(isa)) << qgemm::isa_name(isa) << ": " << why;
    if (qgemm::isa_available(isa)) continue;
    EXPECT_EQ(qgemm::set_isa(isa), qgemm::Status::unsupported_isa);
    EXPECT_NE(std::string(qgemm::last_error_message()).find(why), std::string::npos) << qgemm::last_error_message();
  }
  EXPECT_STREQ(qgemm::isa_unavailable_reason(static_cast<qgemm::Isa>(qgemm::kIsaCount)), "not an Isa value");
  qgemm::reset_isa();
}

TEST(Dispatch, NamesRoundTrip) {
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    qgemm::Isa isa;
    ASSERT_EQ(qgemm::isa_from_name(qgemm::isa_name(static_cast<qgemm::Isa>(i)), &isa), qgemm::Status::ok);
    EXPECT_EQ(static_cast<int>(isa), i);
  }
}

TEST(Dispatch, SetIsaThenResetAndKernelName) {
  std::vector<uint8_t> a(4, 1);
  std::vector<int8_t> b(4, 1);
  int32_t c = 0;
  for (int i = 0; i < qgemm::kIsaCount; ++i) {
    const auto isa = static_cast<qgemm::Isa>(i);
    if (!qgemm::isa_available(isa)) continue;
    ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
    EXPECT_EQ(qgemm::active_isa(), isa);
    qgemm::PackedWeights* w = nullptr;
    ASSERT_EQ(qgemm::pack_weights(b.data(), qgemm::WeightLayout::kn, 4, 1, 1, nullptr, false, &w), qgemm::Status::ok);
    EXPECT_EQ(qgemm::packed_weights_isa(w), isa);
    ASSERT_EQ(qgemm::gemm(1, a.data(), 4, 0, w, qgemm::output_s32(), &c, 1), qgemm::Status::ok);
    EXPECT_EQ(c, 4);
    const std::string kernel = qgemm::last_kernel_name();
    EXPECT_EQ(kernel.substr(kernel.rfind("__") + 2), qgemm::isa_name(isa));
    ASSERT_EQ(qgemm::gemm(0, a.data(), 4, 0, w, qgemm::output_s32(), &c, 1), qgemm::Status::ok);
    EXPECT_STREQ(qgemm::last_kernel_name(), "none");
    qgemm::destroy_packed_weights(w);
  }
  qgemm::reset_isa();
}

}  // namespace

// The L3 the prefetch rule reads (src/gemm_plan.cpp): on x86 always known, from sysfs, else
// glibc's figure when plausible, else 32 MiB; never 0, which counted every weight matrix larger
// than 4x L2 as beyond L3 on VM guests without sysfs cache entries.
TEST(CpuCaches, L3KnownOnX86) {
#if defined(__x86_64__) || defined(_M_X64)
  if (std::getenv("QGEMM_L3_BYTES")) GTEST_SKIP() << "QGEMM_L3_BYTES overrides it";
  const size_t l3 = qgemm::detail::cpu_features().l3_bytes;
  EXPECT_GE(l3, size_t{1} << 20);
#else
  GTEST_SKIP() << "x86 only";
#endif
}
