// Weight packing: B ([K][N] or [N][K]) -> column panels in the active kernel's layout, plus the
// column sums, zero points and column L1 norms that the driver's zero-point correction and
// overflow check use. Portable code: the layout is described by (NR, KR) alone.
#include <cstdlib>
#include <cstring>
#include <new>

#include "dispatch.hpp"
#include "errors.hpp"
#include "packed_weights.hpp"

namespace qgemm {
using namespace detail;

namespace {

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

}  // namespace

Status pack_weights(const int8_t* b, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                    const int32_t* zb, bool zb_per_column, PackedWeights** out) noexcept {
  if (!out) return fail(Status::null_pointer, "pack_weights: out is null");
  *out = nullptr;
  if (K < 0 || N < 0)
    return fail(Status::negative_dimension, "pack_weights: K=%lld N=%lld must be >= 0",
                static_cast<long long>(K), static_cast<long long>(N));
  if (layout != WeightLayout::kn && layout != WeightLayout::nk)
    return fail(Status::bad_argument, "pack_weights: unknown layout %d", static_cast<int>(layout));
  const int64_t inner = layout == WeightLayout::kn ? N : K;
  if (ldb < inner || ldb < 0)
    return fail(Status::bad_leading_dimension, "pack_weights: ldb=%lld < %s=%lld",
                static_cast<long long>(ldb), layout == WeightLayout::kn ? "N" : "K",
                static_cast<long long>(inner));
  if (!b && K != 0 && N != 0) return fail(Status::null_pointer, "pack_weights: b is null");
  if (zb) {
    const int64_t count = zb_per_column ? N : 1;
    for (int64_t j = 0; j < count; ++j)
      if (zb[j] < -128 || zb[j] > 127)
        return fail(Status::bad_zero_point, "pack_weights: zb[%lld]=%d outside [-128, 127]",
                    static_cast<long long>(j), zb[j]);
  }
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;

  const size_t k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  const size_t nr = cfg->nr, kr = cfg->kr;
  const size_t kp = round_up(k, kr);
  const size_t n_panels = (n + nr - 1) / nr;
  size_t panel_elems = 0;
  if (__builtin_mul_overflow(n_panels * nr, kp, &panel_elems) || panel_elems > (size_t{1} << 46))
    return fail(Status::out_of_memory, "pack_weights: K=%lld x N=%lld is too large",
                static_cast<long long>(K), static_cast<long long>(N));
  const size_t panel_bytes = round_up(panel_elems, 64);
  const size_t col_bytes = round_up(n * sizeof(int32_t), 64);
  const size_t l1_bytes = round_up(n * sizeof(int64_t), 64);
  const size_t total = panel_bytes + 2 * col_bytes + l1_bytes + 64;

  auto* w = new (std::nothrow) PackedWeights;
  void* storage = nullptr;
  if (!w || posix_memalign(&storage, 64, total) != 0) {
    delete w;
    return fail(Status::out_of_memory, "pack_weights: cannot allocate %zu bytes", total);
  }
  char* base = static_cast<char*>(storage);
  w->cfg = cfg;
  w->K = K;
  w->N = N;
  w->kp = kp;
  w->n_panels = n_panels;
  w->storage = storage;
  w->bytes = total + sizeof(PackedWeights);
  w->panels = reinterpret_cast<int8_t*>(base);
  w->colsum = reinterpret_cast<int32_t*>(base + panel_bytes);
  w->zb = reinterpret_cast<int32_t*>(base + panel_bytes + col_bytes);
  w->l1 = reinterpret_cast<int64_t*>(base + panel_bytes + 2 * col_bytes);

  std::memset(w->panels, 0, panel_bytes);
  const ptrdiff_t sk = layout == WeightLayout::kn ? ldb : 1;  // stride between k
  const ptrdiff_t sn = layout == WeightLayout::kn ? 1 : ldb;  // stride between columns
  for (size_t j = 0; j < n; ++j) {
    const int32_t z = zb ? zb[zb_per_column ? j : 0] : 0;
    // K = 0 allows b == nullptr: no pointer arithmetic on it then (undefined behaviour).
    const int8_t* col = k != 0 ? b + static_cast<ptrdiff_t>(j) * sn : nullptr;
    int8_t* dst = w->panels + (j / nr) * kp * nr + (j % nr) * kr;
    int64_t sum = 0;
    int64_t l1 = 0;
    for (size_t kk = 0; kk < k; ++kk) {
      const int8_t v = col[static_cast<ptrdiff_t>(kk) * sk];
      dst[(kk / kr) * nr * kr + kk % kr] = v;
      sum += v;
      l1 += v > z ? v - z : z - v;
    }
    w->colsum[j] = static_cast<int32_t>(static_cast<uint32_t>(sum));  // used modulo 2^32
    w->zb[j] = z;
    w->l1[j] = l1;
  }
  *out = w;
  return succeed();
}

void destroy_packed_weights(PackedWeights* w) noexcept {
  if (!w) return;
  std::free(w->storage);
  delete w;
}

size_t packed_weights_size(const PackedWeights* w) noexcept { return w ? w->bytes : 0; }
int64_t packed_weights_k(const PackedWeights* w) noexcept { return w ? w->K : 0; }
int64_t packed_weights_n(const PackedWeights* w) noexcept { return w ? w->N : 0; }
Isa packed_weights_isa(const PackedWeights* w) noexcept {
  return w ? w->cfg->isa : Isa::scalar;
}

}  // namespace qgemm
