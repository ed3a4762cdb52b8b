// CPU detection, the library's only CPUID / xgetbv / getauxval reads: cpuid + xgetbv on x86-64
// (the OS must have enabled the AVX / AVX-512 register state, not only the CPU support the
// instructions), getauxval on aarch64. Which ISA needs which feature is the registry's
// predicate (include/qgemm/isa_list.def).
#include "cpu.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "qgemm/qgemm.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(QGEMM_SIMDE_EMULATION)
#include <cpuid.h>
#include <sys/syscall.h>
#define QGEMM_CPU_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace qgemm {
namespace detail {
namespace {

#if defined(QGEMM_CPU_X86)
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

void read_amx_os(CpuFeatures& f, uint64_t xcr0) {
  f.amx_refusal = amx_os_refusal(xcr0, [] {
#if defined(__linux__) && defined(SYS_arch_prctl)
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  });
  f.os_amx = f.amx_refusal == nullptr;
}

void read_x86(CpuFeatures& f) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return;
  const uint64_t xcr0 = read_xcr0();
  f.os_ymm = (xcr0 & 0x6) == 0x6;
  f.os_zmm = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_subleaf = a;
  f.avx2 = (b >> 5) & 1;
  f.avx512f = (b >> 16) & 1;
  f.avx512dq = (b >> 17) & 1;
  f.avx512bw = (b >> 30) & 1;
  f.avx512vl = (b >> 31) & 1;
  f.avx512vnni = (c >> 11) & 1;
  f.amx_tile = (d >> 24) & 1;
  f.amx_int8 = (d >> 25) & 1;
  if (f.amx_tile && f.amx_int8) read_amx_os(f, xcr0);
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = (a >> 4) & 1;
    f.avx512bf16 = (a >> 5) & 1;
  }
}
#endif

void read_caches(CpuFeatures& f) {
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
  const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l1 > 0) f.l1d_bytes = static_cast<size_t>(l1);
  if (l2 > 0) f.l2_bytes = std::min<size_t>(std::max<size_t>(static_cast<size_t>(l2), 256 * 1024), 4 * 1024 * 1024);
#else
  (void)f;
#endif
}

// The level-3 cache of cpu0 from sysfs ("32768K"); 0 where there is none or it cannot be read.
// Not sysconf(_SC_LEVEL3_CACHE_SIZE): in a Zen 5 KVM guest glibc reported 384 MiB (the host's
// L3s together), sysfs and lscpu 32 MiB.
size_t read_l3_bytes() {
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), size(dir + "size");
    int lv = 0;
    std::string sz;
    if (!(level >> lv) || lv != 3 || !(size >> sz) || sz.empty()) continue;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(sz.c_str(), &end, 10);
    const size_t unit = end && (*end == 'K' || *end == 'k') ? 1024 : end && (*end == 'M' || *end == 'm') ? 1024 * 1024 : 1;
    return static_cast<size_t>(v) * unit;
  }
  return 0;
}

// The L3 one core can use where sysfs does not say (some KVM guests have no cache entries there,
// as this project's Zen 5 VMs): glibc's figure where it is plausible for one CCX or socket (at
// most 256 MiB; those guests report the host's L3s together, 384-508 MiB), else 32 MiB (a Zen
// 3-5 CCD; Intel client parts and a server's share are near it). On other CPUs 0, no L3 known:
// only the x86 VNNI kernels' prefetch rule reads it (src/gemm_plan.cpp, plan_prefetch). With 0
// on such a guest, 1x4096x4096's 16 MiB of weights counted as beyond L3 and were prefetched a
// panel ahead: 0.90-0.95x oneDNN, against 1.07-1.09x (Zen 5, docs/notes/issue-29.md).
size_t l3_bytes_or_default(size_t sysfs_bytes) {
  constexpr size_t kMiB = size_t{1} << 20;
  if (sysfs_bytes) return sysfs_bytes;
#if (defined(__x86_64__) || defined(_M_X64)) && defined(_SC_LEVEL3_CACHE_SIZE)
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0 && static_cast<size_t>(l3) <= 256 * kMiB) return static_cast<size_t>(l3);
  return 32 * kMiB;
#else
  return 0;
#endif
}

CpuFeatures read_features() {
  CpuFeatures f;
  read_caches(f);
  f.l3_bytes = l3_bytes_or_default(read_l3_bytes());
  // Benchmarks (read once per process, as QGEMM_MC and QGEMM_KC): the L3 the plan assumes.
  if (const char* e = std::getenv("QGEMM_L3_BYTES")) f.l3_bytes = static_cast<size_t>(std::strtoull(e, nullptr, 10));
#if defined(QGEMM_SIMDE_EMULATION)
  // The x86 kernels are portable SIMDe code, runnable on any CPU.
  f.os_ymm = f.os_zmm = f.avx2 = f.fma = f.f16c = true;
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = f.avx512bf16 = f.avxvnni = true;
  f.amx_tile = f.amx_int8 = f.os_amx = true;  // tiles emulated in plain C++ (kernels/x86/amx/)
#elif defined(QGEMM_CPU_X86)
  read_x86(f);
#elif defined(__aarch64__)
  f.neon = true;
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  f.dotprod = (hwcap & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
  f.i8mm = (hwcap2 & (1ul << 13)) != 0;    // HWCAP2_I8MM
#endif
#endif
  return f;
}

// Where an ISA's kernels can be built (the registry's arch column).
#if defined(__x86_64__) || defined(_M_X64)
constexpr bool kArch_any = true, kArch_x86 = true, kArch_arm = false;
#elif defined(__aarch64__)
constexpr bool kArch_any = true, kArch_x86 = false, kArch_arm = true;
#else
constexpr bool kArch_any = true, kArch_x86 = false, kArch_arm = false;
#endif

}  // namespace

// AMX needs two grants: the OS enables the tile state in XCR0 (bits 17, 18), and on Linux
// (5.16+) each process must ask for the tile data before its first tile instruction, or that
// instruction faults. Asking is idempotent and process-wide (every thread, also later ones).
const char* amx_os_refusal(uint64_t xcr0, bool (*request_tile_data)()) noexcept {
  constexpr uint64_t kTileState = (1ull << 17) | (1ull << 18);  // XTILECFG, XTILEDATA
  if ((xcr0 & kTileState) != kTileState) return "the OS does not enable the AMX tile state (XCR0 bits 17-18)";
  if (!request_tile_data())
    return "the OS refused the AMX tile data to this process (Linux arch_prctl ARCH_REQ_XCOMP_PERM failed)";
  return nullptr;
}

const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures f = read_features();
  return f;
}

bool cpu_feature_by_name(const char* name, size_t len, bool* value) noexcept {
  const CpuFeatures& f = cpu_features();
  const struct {
    const char* name;
    bool value;
  } all[] = {{"os_ymm", f.os_ymm},         {"os_zmm", f.os_zmm},       {"avx2", f.avx2},
             {"fma", f.fma},               {"f16c", f.f16c},           {"avx512f", f.avx512f},
             {"avx512bw", f.avx512bw},     {"avx512vl", f.avx512vl},   {"avx512dq", f.avx512dq},
             {"avx512vnni", f.avx512vnni}, {"avx512bf16", f.avx512bf16}, {"avxvnni", f.avxvnni},
             {"amx_tile", f.amx_tile},     {"amx_int8", f.amx_int8},   {"os_amx", f.os_amx},
             {"neon", f.neon},             {"dotprod", f.dotprod},     {"i8mm", f.i8mm}};
  for (const auto& e : all)
    if (std::strlen(e.name) == len && std::strncmp(e.name, name, len) == 0) {
      *value = e.value;
      return true;
    }
  return false;
}

uint32_t detect_cpu_isas() noexcept {
  static const uint32_t mask = [] {
    [[maybe_unused]] const CpuFeatures& f = cpu_features();
    uint32_t m = 0;
#define QGEMM_ISA(name, value, arch, priority, flags, ...) \
  if (kArch_##arch && (__VA_ARGS__)) m |= 1u << static_cast<int>(Isa::name);
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
    return m;
  }();
  return mask;
}

}  // namespace detail
}  // namespace qgemm
