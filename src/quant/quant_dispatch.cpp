// Selection of the quantization-layer kernels (quantize, min/max, weight-only linear): the
// best table this CPU runs (avx512bw = AVX-512 F/BW/VL/DQ+FMA+F16C, with the AVX512-BF16
// bf16-X kernels where the CPU has them; avx2 = AVX2+FMA+F16C; neon on AArch64; else the
// baseline one), restricted by QGEMM_ISA (scalar, avx2, avx512bw, neon) or set_quant_isa().
// Separate from the GEMM table: these kernels exist for ISAs the GEMM may not have yet, and
// the other way round.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cpu.hpp"
#include "errors.hpp"
#include "qgemm/quantize.hpp"
#include "quant/quant_kernels.hpp"

namespace qgemm {
namespace detail {

extern const QuantKernels kQuantKernelsScalar = {
    w8_linear_1x1__scalar, nullptr, bf16_to_f32__scalar, f16_to_f32__scalar, quantize_u8__xsimd,
    quantize_s8__xsimd, min_max__xsimd, "w8a32_linear_1x1__scalar", "w8a16bf16_linear_1x1__scalar",
    "w8a16f16_linear_1x1__scalar", "w8a32_linear_1x1__scalar", "w8a16bf16_linear_1x1__scalar",
    "w8a16f16_linear_1x1__scalar"};

namespace {

// The GEMM ISA's CPU check (registry predicate over src/cpu.hpp's features) plus F16C, which
// these kernels use for float16 activations; for the bf16-X kernels also AVX512_BF16.
#if QGEMM_BUILT_W8_AVX2
bool avx2_runnable() {
  return (detect_cpu_isas() & (1u << static_cast<int>(Isa::avx2))) && cpu_features().f16c;
}
#endif

#if QGEMM_BUILT_W8_NEON
// Advanced SIMD (with FCVTL for float16) is baseline AArch64; asked of the detection anyway.
bool neon_runnable() { return (detect_cpu_isas() & (1u << static_cast<int>(Isa::neon))) != 0; }
#endif

#if QGEMM_BUILT_W8_AVX512
bool avx512_runnable(bool bf16 = false) {
  const CpuFeatures& f = cpu_features();
  return (detect_cpu_isas() & (1u << static_cast<int>(Isa::avx512bw))) && f.f16c && (!bf16 || f.avx512bf16);
}
#endif

std::atomic<bool> g_bf16_allowed{true};

const QuantKernels* table_for(Isa isa) {
  if (isa == Isa::scalar) return &kQuantKernelsScalar;
#if QGEMM_BUILT_W8_AVX2
  if (isa == Isa::avx2 && avx2_runnable()) return &kQuantKernelsAvx2;
#endif
#if QGEMM_BUILT_W8_AVX512
  if (isa == Isa::avx512bw && avx512_runnable()) return &kQuantKernelsAvx512;
#endif
#if QGEMM_BUILT_W8_NEON
  if (isa == Isa::neon && neon_runnable()) return &kQuantKernelsNeon;
#endif
  return nullptr;
}

// QGEMM_ISA naming an ISA with a table here (scalar, avx2, avx512bw, neon) selects it.
Isa best_isa() {
  static const Isa best = [] {
    Isa b = table_for(Isa::avx512bw) ? Isa::avx512bw
            : table_for(Isa::avx2)   ? Isa::avx2
            : table_for(Isa::neon)   ? Isa::neon
                                     : Isa::scalar;
    const Isa named[] = {Isa::scalar, Isa::avx2, Isa::avx512bw, Isa::neon};
    if (const char* env = std::getenv("QGEMM_ISA"))
      for (Isa e : named)
        if (std::strcmp(env, isa_name(e)) == 0 && table_for(e)) b = e;
    return b;
  }();
  return best;
}

std::atomic<int> g_forced{-1};

}  // namespace

const QuantKernels& quant_kernels() noexcept { return *table_for(quant_isa()); }

const W8Bf16Kernels* w8_bf16_kernels() noexcept {
#if QGEMM_BUILT_W8_AVX512BF16 && QGEMM_BUILT_W8_AVX512
  if (avx512_runnable(true) && quant_isa() == Isa::avx512bw && g_bf16_allowed.load()) return &kW8Bf16KernelsAvx512bf16;
#endif
  return nullptr;
}

void allow_w8_bf16_kernels(bool allow) noexcept { g_bf16_allowed.store(allow); }

}  // namespace detail

Status set_quant_isa(Isa isa) noexcept {
  if (!detail::table_for(isa))
    return detail::fail(Status::unsupported_isa, "quantization kernels for %s are not built or this CPU lacks them",
                        isa_name(isa));
  detail::g_forced.store(static_cast<int>(isa));
  return detail::succeed();
}

void reset_quant_isa() noexcept { detail::g_forced.store(-1); }

Isa quant_isa() noexcept {
  const int f = detail::g_forced.load();
  return f >= 0 ? static_cast<Isa>(f) : detail::best_isa();
}

}  // namespace qgemm
