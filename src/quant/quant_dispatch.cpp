// Selection of the quantization-layer kernels (quantize, min/max, weight-only linear), from the
// same ISA registry as the GEMM's (include/qgemm/isa_list.def): every kernel folder that holds
// w8_* kernels defines its table kQuantKernels_<isa>, and the build lists the built ones
// (qgemm_built_isas.inc: QGEMM_BUILT_QUANT lines; scalar's table is here). The selected table is
// the best this CPU runs, by registry priority, restricted by QGEMM_ISA (naming an ISA that has a
// table) or set_quant_isa(). A table's null entries come from the table below it in priority, so
// an ISA needs kernels only where it has better ones. Extensions (QGEMM_ISA_EXT lines, e.g.
// avx512bf16) add bf16-X kernels beside their base ISA's table where the CPU also has them.
// Separate from the GEMM table: these kernels exist for ISAs the GEMM may not have yet, and
// the other way round.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cpu.hpp"
#include "dispatch.hpp"
#include "errors.hpp"
#include "qgemm/quantize.hpp"
#include "quant/quant_kernels.hpp"

namespace qgemm {
namespace detail {

extern const QuantKernels kQuantKernels_scalar = {
    w8_linear_1x1__scalar, nullptr, bf16_to_f32__scalar, f16_to_f32__scalar, quantize_u8__xsimd,
    quantize_s8__xsimd, min_max__xsimd, "w8a32_linear_1x1__scalar", "w8a16bf16_linear_1x1__scalar",
    "w8a16f16_linear_1x1__scalar", "w8a32_linear_1x1__scalar", "w8a16bf16_linear_1x1__scalar",
    "w8a16f16_linear_1x1__scalar"};

#define QGEMM_BUILT_QUANT(name) extern const QuantKernels kQuantKernels_##name;
#define QGEMM_BUILT_QUANT_EXT(name, base) extern const W8Bf16Kernels kW8Bf16Kernels_##name;
#include "qgemm_built_isas.inc"

namespace {

// The built table of an ISA, or null.
const QuantKernels* built_table(Isa isa) {
  switch (isa) {
#define QGEMM_BUILT_QUANT(name) \
  case Isa::name:               \
    return &kQuantKernels_##name;
#include "qgemm_built_isas.inc"
    default:
      return nullptr;
  }
}

bool runnable(Isa isa) { return (detect_cpu_isas() & (1u << static_cast<int>(isa))) != 0; }

// Whether the CPU runs an extension (its registry predicate over `f`; the base ISA is asked apart).
bool ext_runnable(const char* ext) {
  [[maybe_unused]] const CpuFeatures& f = cpu_features();
#define QGEMM_ISA(...)
#define QGEMM_ISA_EXT(name, base, flags, ...) \
  if (std::strcmp(ext, #name) == 0) return (__VA_ARGS__);
#include "qgemm/isa_list.def"
#undef QGEMM_ISA_EXT
#undef QGEMM_ISA
  return false;
}

template <class T>
void inherit(T& entry, T below) {
  if (!entry) entry = below;
}

// The tables this CPU runs, each completed from the one below it in priority; null elsewhere.
struct Tables {
  QuantKernels merged[kIsaCount] = {};
  bool present[kIsaCount] = {};
  Isa best = Isa::scalar;
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    const QuantKernels* below = nullptr;
    for (int round = 0; round < kIsaCount; ++round) {
      const Isa isa = isas_by_ascending_priority()[round];
      const int next = static_cast<int>(isa);
      const QuantKernels* own = built_table(isa);
      if (!own || !runnable(isa)) continue;
      QuantKernels m = *own;
      if (below) {
        inherit(m.linear, below->linear);
        inherit(m.linear2, below->linear2);
        inherit(m.bf16_to_f32, below->bf16_to_f32);
        inherit(m.f16_to_f32, below->f16_to_f32);
        inherit(m.quantize_u8, below->quantize_u8);
        inherit(m.quantize_s8, below->quantize_s8);
        inherit(m.min_max, below->min_max);
      }
      t.merged[next] = m;
      t.present[next] = true;
      t.best = isa;
      below = &t.merged[next];
    }
    // QGEMM_ISA naming an ISA with a table here selects it.
    Isa named;
    if (const char* env = std::getenv("QGEMM_ISA"); env && isa_from_name(env, &named) == Status::ok &&
                                                    t.present[static_cast<int>(named)])
      t.best = named;
    return t;
  }();
  return t;
}

const QuantKernels* table_for(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount && tables().present[i] ? &tables().merged[i] : nullptr;
}

std::atomic<bool> g_bf16_allowed{true};
std::atomic<int> g_forced{-1};

}  // namespace

const QuantKernels& quant_kernels() noexcept { return *table_for(quant_isa()); }

const W8Bf16Kernels* w8_bf16_kernels() noexcept {
  if (!g_bf16_allowed.load()) return nullptr;
  const Isa isa = quant_isa();
#define QGEMM_BUILT_QUANT_EXT(name, base) \
  if (isa == Isa::base && ext_runnable(#name)) return &kW8Bf16Kernels_##name;
#include "qgemm_built_isas.inc"
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
  return f >= 0 ? static_cast<Isa>(f) : detail::tables().best;
}

}  // namespace qgemm
