// What the CPU (and the OS) can execute: every CPUID / xgetbv / getauxval read of the library
// is in src/cpu.cpp, into this one struct, asked once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgemm {
namespace detail {

struct CpuFeatures {
  // x86-64: the register state the OS saves (XCR0) and the instruction set bits (CPUID).
  bool os_ymm = false;  // SSE + AVX state
  bool os_zmm = false;  // + opmask, ZMM_Hi256, Hi16_ZMM
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  // AMX: the instructions (CPUID), and os_amx: XCR0 enables the tile state and Linux granted
  // this process the tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)). When the
  // CPU has AMX but it is not usable, amx_refusal says why (else null).
  bool amx_tile = false, amx_int8 = false, os_amx = false;
  const char* amx_refusal = nullptr;
  // aarch64 (getauxval): Advanced SIMD is baseline.
  bool neon = false, dotprod = false, i8mm = false;
  // Per-core data caches (sysconf; 32 KiB and 1 MiB where the system does not say), for the
  // kernels' cache blocks (GemmConfig::mc_for_k). L2 is held to [256 KiB, 4 MiB], so a shared
  // cache reported as L2 does not size blocks for memory no core has to itself.
  size_t l1d_bytes = 32 * 1024, l2_bytes = 1024 * 1024;
  // The last-level cache (sysconf; 0 where the system does not say): whether weights of a given
  // size come from L3 or from memory (the next-panel prefetch, src/gemm_plan.cpp).
  size_t l3_bytes = 0;
};

// The features of this CPU, read once (cpuid traps to the hypervisor in a VM). In the x86
// emulation build (SIMDe kernels) every x86 feature reads as present.
const CpuFeatures& cpu_features() noexcept;

// The OS side of AMX (what CpuFeatures::amx_refusal says): null when XCR0 enables the tile
// state and request_tile_data() (the process's request for it) succeeds, else why not.
// Separate from the detection so that a test can give it any XCR0 and answer.
const char* amx_os_refusal(uint64_t xcr0, bool (*request_tile_data)()) noexcept;

// The feature named `name` (first len chars; a member name of CpuFeatures, e.g. "avx512vnni")
// into *value; false for a name that is not a feature. Lets dispatch say which of an ISA's
// registry predicate terms this CPU lacks.
bool cpu_feature_by_name(const char* name, size_t len, bool* value) noexcept;

// Bit (1u << int(Isa::x)) is set when this CPU and OS can run ISA x (the registry's predicate
// in include/qgemm/isa_list.def over cpu_features()). Always has scalar.
uint32_t detect_cpu_isas() noexcept;

}  // namespace detail
}  // namespace qgemm
