// Dispatch: the table of GEMM microkernels by ISA, the priority chain that picks the best one,
// and the override (QGEMM_ISA, set_isa) that tests and benchmarks use to force a lower one.
#include "dispatch.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <string>

#include "cpu.hpp"
#include "errors.hpp"

namespace qgemm {
namespace detail {

// One GEMM descriptor per ISA built into this library: CMake writes the list of built ISAs
// (qgemm_built_isas.inc: QGEMM_BUILT_ISA(name) lines) and each kernel defines kGemmConfig_<name>.
#define QGEMM_BUILT_ISA(name) extern const GemmConfig kGemmConfig_##name;
#include "qgemm_built_isas.inc"
#undef QGEMM_BUILT_ISA

namespace {

#define QGEMM_ISA(name, value, ...) static_assert((value) >= 0 && (value) < kIsaCount, "ISA values are 0..kIsaCount-1");
#include "qgemm/isa_list.def"
#undef QGEMM_ISA

const GemmConfig* built_config(Isa isa) {
  switch (isa) {
#define QGEMM_BUILT_ISA(name) \
  case Isa::name:             \
    return &kGemmConfig_##name;
#include "qgemm_built_isas.inc"
#undef QGEMM_BUILT_ISA
    default: return nullptr;
  }
}

// The registered descriptors: a copy of each built kernel's that this CPU runs, completed by
// its resolve() hook, so run-time facts (an SVE vector length) are settled once, here.
// What the registry's predicate of each ISA asks of the CPU, as written there ("f." dropped).
const char* requirement_text(Isa isa) {
  switch (isa) {
#define QGEMM_ISA(name, value, arch, prio, flags, ...) \
  case Isa::name:                                       \
    return #__VA_ARGS__;
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
  }
  return "";
}

struct Table {
  GemmConfig store[kIsaCount] = {};
  const GemmConfig* gemm[kIsaCount] = {};
  Isa best = Isa::scalar;
  char reason[kIsaCount][320] = {};  // isa_unavailable_reason(); "" for the available ones
};

void write_reason(Isa isa, char* out, size_t size) {
  if (!built_config(isa)) {
    std::snprintf(out, size, "this library was built without %s kernels", isa_name(isa));
    return;
  }
  const CpuFeatures& f = cpu_features();
  if (isa == Isa::amx && f.amx_tile && f.amx_int8 && f.amx_refusal) {
    std::snprintf(out, size, "the CPU has AMX-TILE and AMX-INT8 but %s", f.amx_refusal);
    return;
  }
  // The predicate's terms ("f.name", joined by &&) that read false here.
  std::string missing;
  for (const char* p = requirement_text(isa); (p = std::strstr(p, "f.")) != nullptr;) {
    p += 2;
    size_t len = 0;
    while (p[len] == '_' || (p[len] >= 'a' && p[len] <= 'z') || (p[len] >= '0' && p[len] <= '9')) ++len;
    bool value = true;
    if (cpu_feature_by_name(p, len, &value) && !value) missing.append(missing.empty() ? "" : ", ").append(p, len);
    p += len;
  }
  std::snprintf(out, size, "this CPU or OS lacks %s, which %s needs",
                missing.empty() ? "a feature" : missing.c_str(), isa_name(isa));
}

const Table& table() {
  static const Table t = [] {
    Table t;
    const uint32_t cpu = detect_cpu_isas();
    for (int i = 0; i < kIsaCount; ++i) {
      const GemmConfig* built = (cpu & (1u << i)) ? built_config(static_cast<Isa>(i)) : nullptr;
      if (!built) {
        write_reason(static_cast<Isa>(i), t.reason[i], sizeof t.reason[i]);
        continue;
      }
      t.store[i] = *built;
      if (t.store[i].resolve) t.store[i].resolve(&t.store[i]);
      t.gemm[i] = &t.store[i];
    }
    for (int i = 0; i < kIsaCount; ++i) {
      const Isa isa = static_cast<Isa>(i);
      if (t.gemm[i] && isa_priority(isa) > isa_priority(t.best)) t.best = isa;
    }
    return t;
  }();
  return t;
}

// The selection: an ISA, or an error left by a bad QGEMM_ISA (kept until set_isa/reset_isa).
constexpr int kEnvError = -1;
std::atomic<int> g_active{-2};  // -2: not initialised yet
std::once_flag g_env_once;
char g_env_value[64] = "";

void init_from_env() {
  std::call_once(g_env_once, [] {
    int chosen = static_cast<int>(table().best);
    if (const char* env = std::getenv("QGEMM_ISA"); env && *env) {
      std::strncpy(g_env_value, env, sizeof g_env_value - 1);
      Isa isa;
      if (isa_from_name(env, &isa) != Status::ok || !table().gemm[static_cast<int>(isa)])
        chosen = kEnvError;
      else
        chosen = static_cast<int>(isa);
    }
    int expected = -2;
    g_active.compare_exchange_strong(expected, chosen);
  });
}

thread_local const char* g_last_kernel = "";

}  // namespace

int isa_priority(Isa isa) noexcept {
  switch (isa) {
#define QGEMM_ISA(name, value, arch, prio, ...) \
  case Isa::name:                                 \
    return prio;
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
  }
  return -1;
}

const Isa* isas_by_ascending_priority() noexcept {
  static const struct Order {
    Isa v[kIsaCount];
    Order() {
      // A stable insertion sort by hand: std::stable_sort's helpers instantiated on qgemm::Isa*
      // demangle to "qgemm::Isa* std::__rotate_adaptive<...>", which the version script's
      // qgemm::* exports from libqgemm.so (test consumer_shared_exports).
      for (int i = 0; i < kIsaCount; ++i) {
        const Isa x = static_cast<Isa>(i);
        int j = i;
        for (; j > 0 && isa_priority(v[j - 1]) > isa_priority(x); --j) v[j] = v[j - 1];
        v[j] = x;
      }
    }
  } order;
  return order.v;
}

Status active_gemm_config(const GemmConfig** out) noexcept {
  init_from_env();
  const int a = g_active.load(std::memory_order_acquire);
  if (a == kEnvError) {
    Isa isa;
    if (isa_from_name(g_env_value, &isa) != Status::ok)
      return fail(Status::unsupported_isa, "QGEMM_ISA=%s is not an ISA name", g_env_value);
    return fail(Status::unsupported_isa, "QGEMM_ISA=%s is not available: %s", g_env_value,
                table().reason[static_cast<int>(isa)]);
  }
  *out = table().gemm[a];
  return Status::ok;
}

const GemmConfig* gemm_config(Isa isa) noexcept {
  const int i = static_cast<int>(isa);
  return (i >= 0 && i < kIsaCount) ? table().gemm[i] : nullptr;
}

void set_last_kernel(const char* name) noexcept { g_last_kernel = name; }

}  // namespace detail

using namespace detail;

const char* isa_name(Isa isa) noexcept {
  switch (isa) {
#define QGEMM_ISA(name, ...) \
  case Isa::name:            \
    return #name;
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
  }
  return "unknown";
}

Status isa_from_name(const char* name, Isa* out) noexcept {
  if (!name || !out) return fail(Status::null_pointer, "isa_from_name: null argument");
  for (int i = 0; i < kIsaCount; ++i)
    if (std::strcmp(name, isa_name(static_cast<Isa>(i))) == 0) {
      *out = static_cast<Isa>(i);
      return succeed();
    }
  return fail(Status::bad_argument, "unknown ISA name '%s'", name);
}

bool isa_available(Isa isa) noexcept { return gemm_config(isa) != nullptr; }

const char* isa_unavailable_reason(Isa isa) noexcept {
  const int i = static_cast<int>(isa);
  if (i < 0 || i >= kIsaCount) return "not an Isa value";
  return table().reason[i];
}

Isa active_isa() noexcept {
  init_from_env();
  const int a = g_active.load(std::memory_order_acquire);
  return a < 0 ? table().best : static_cast<Isa>(a);
}

Status isa_status() noexcept {
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  return succeed();
}

Status set_isa(Isa isa) noexcept {
  const int i = static_cast<int>(isa);
  if (i < 0 || i >= kIsaCount) return fail(Status::bad_argument, "set_isa: %d is not an Isa value", i);
  if (!gemm_config(isa))
    return fail(Status::unsupported_isa, "ISA %s is not available: %s", isa_name(isa), table().reason[i]);
  init_from_env();
  g_active.store(static_cast<int>(isa), std::memory_order_release);
  return succeed();
}

void reset_isa() noexcept {
  init_from_env();
  g_active.store(static_cast<int>(table().best), std::memory_order_release);
}

const char* last_kernel_name() noexcept { return g_last_kernel; }

}  // namespace qgemm
