// The int4 layer's kernel selection, from the same ISA registry as the GEMM's: every kernel
// folder that holds w4_* kernels defines kInt4Kernels_<isa>, and the build lists the built ones
// (qgemm_built_isas.inc: QGEMM_BUILT_INT4 lines). The int4 kernels follow the GEMM's active ISA
// (set_isa(), QGEMM_ISA): the best table at or below it in priority that this CPU runs, its
// null entries taken from the tables below it.
#include "dispatch.hpp"
#include "errors.hpp"
#include "int4/int4_kernels.hpp"

namespace qgemm {
namespace detail {

#define QGEMM_BUILT_INT4(name) extern const Int4Kernels kInt4Kernels_##name;
#include "qgemm_built_isas.inc"

namespace {

const Int4Kernels* built_table(Isa isa) {
  switch (isa) {
#define QGEMM_BUILT_INT4(name) \
  case Isa::name:              \
    return &kInt4Kernels_##name;
#include "qgemm_built_isas.inc"
    default:
      return nullptr;
  }
}

template <class T>
void inherit(T& entry, T below) {
  if (!entry) entry = below;
}

// merged[i]: ISA i's table completed from those below it (present where built and runnable).
struct Tables {
  Int4Kernels merged[kIsaCount] = {};
  bool present[kIsaCount] = {};
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    const Int4Kernels* below = nullptr;
    for (int round = 0; round < kIsaCount; ++round) {
      const Isa isa = isas_by_ascending_priority()[round];
      const int next = static_cast<int>(isa);
      const Int4Kernels* own = built_table(isa);
      if (!own || !(isa == Isa::scalar || isa_available(isa))) continue;
      Int4Kernels m = *own;
      if (below) {
        if (!m.w4a8) m.name_w4a8 = below->name_w4a8;
        if (!m.w4f32) m.name_w4f32 = below->name_w4f32;
        inherit(m.w4a8, below->w4a8);
        inherit(m.w4f32, below->w4f32);
      }
      t.merged[next] = m;
      t.present[next] = true;
      below = &t.merged[next];
    }
    return t;
  }();
  return t;
}

}  // namespace

Status int4_kernels(const Int4Kernels** out) noexcept {
  const GemmConfig* cfg = nullptr;
  if (Status st = active_gemm_config(&cfg); st != Status::ok) return st;
  const int limit = isa_priority(cfg->isa);
  const Int4Kernels* best = nullptr;
  int best_priority = -1;
  for (int i = 0; i < kIsaCount; ++i) {
    const int pr = isa_priority(static_cast<Isa>(i));
    if (tables().present[i] && pr <= limit && pr > best_priority) {
      best = &tables().merged[i];
      best_priority = pr;
    }
  }
  *out = best;
  return succeed();
}

}  // namespace detail
}  // namespace qgemm
