// CPU detection: cpuid + xgetbv on x86-64 (the OS must have enabled the AVX / AVX-512 register
// state, not only the CPU support the instructions), getauxval on aarch64.
#include "cpu.hpp"

#include "qgemm/qgemm.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace qgemm {
namespace detail {
namespace {

constexpr uint32_t bit(Isa isa) { return 1u << static_cast<int>(isa); }

#if defined(__x86_64__) || defined(_M_X64)
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

uint32_t detect_x86() {
  uint32_t mask = bit(Isa::scalar);
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return mask;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx) return mask;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_state) return mask;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return mask;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1,
             avx512vl = (b >> 31) & 1, avx512dq = (b >> 17) & 1, avx512vnni = (c >> 11) & 1;
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  const bool avxvnni = (a1 >> 4) & 1;
  if (avx2 && fma) mask |= bit(Isa::avx2);
  if (avx2 && fma && avxvnni) mask |= bit(Isa::avxvnni);
  if (zmm_state && avx512f && avx512bw && avx512vl && avx512dq) {
    mask |= bit(Isa::avx512bw);
    if (avx512vnni) mask |= bit(Isa::avx512vnni);
  }
  return mask;
}
#endif

#if defined(__aarch64__)
uint32_t detect_arm() {
  uint32_t mask = bit(Isa::scalar) | bit(Isa::neon);  // Advanced SIMD is baseline on AArch64
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  if (hwcap & (1ul << 20)) mask |= bit(Isa::dotprod);  // HWCAP_ASIMDDP
  if (hwcap2 & (1ul << 13)) mask |= bit(Isa::i8mm);    // HWCAP2_I8MM
#endif
  return mask;
}
#endif

}  // namespace

uint32_t detect_cpu_isas() noexcept {
#if defined(QGEMM_SIMDE_EMULATION)
  // Emulation build: the x86 kernels are portable SIMDe code, runnable on any CPU.
  return bit(Isa::scalar) | bit(Isa::avx2) | bit(Isa::avx512bw) | bit(Isa::avxvnni) |
         bit(Isa::avx512vnni);
#elif defined(__x86_64__) || defined(_M_X64)
  return detect_x86();
#elif defined(__aarch64__)
  return detect_arm();
#else
  return bit(Isa::scalar);
#endif
}

}  // namespace detail
}  // namespace qgemm
