// Weight packing: B ([K][N] or [N][K]) -> column panels in the active kernel's packed-B format
// (GemmConfig::b_format, whose packer writes them: src/weight_format_<name>.cpp), plus the column
// sums, zero points and column L1 norms that the driver's zero-point correction and overflow
// check use. Portable code. uint8 weights are packed as int8 ones: B ^ 0x80 = B - 128 with the
// zero point zb - 128, so B - zb is unchanged and the kernels see int8 weights only.
#include <algorithm>
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

// flip: 0 for int8 weights (zero points in [-128, 127]), 0x80 for uint8 ones ([0, 255]).
Status check_pack_args(const void* b, uint8_t flip, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                       const int32_t* zb, bool zb_per_column) {
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
  const int32_t zmin = flip ? 0 : -128, zmax = flip ? 255 : 127;
  if (zb) {
    const int64_t count = zb_per_column ? N : 1;
    for (int64_t j = 0; j < count; ++j)
      if (zb[j] < zmin || zb[j] > zmax)
        return fail(Status::bad_zero_point, "pack_weights: zb[%lld]=%d outside [%d, %d] (%s weights)",
                    static_cast<long long>(j), zb[j], zmin, zmax, flip ? "uint8" : "int8");
  }
  return Status::ok;
}

// The object and its one aligned block: panels, then colsum, zb and l1 (each 64-byte aligned).
Status allocate(const GemmConfig& cfg, int64_t K, int64_t N, PackedWeights** out) {
  const size_t k = static_cast<size_t>(K), n = static_cast<size_t>(N);
  const size_t nr = cfg.nr, kp = round_up(k, cfg.kr), n_panels = (n + nr - 1) / nr;
  size_t panel_elems = 0;
  if (__builtin_mul_overflow(n_panels * nr, kp, &panel_elems) || panel_elems > (size_t{1} << 46))
    return fail(Status::out_of_memory, "pack_weights: K=%lld x N=%lld is too large",
                static_cast<long long>(K), static_cast<long long>(N));
  const size_t one_panel = cfg.b_format->panel_bytes(nr, kp);
  const size_t panel_bytes = round_up(n_panels * one_panel, 64);
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
  w->cfg = &cfg;
  w->format = cfg.b_format;
  w->K = K;
  w->N = N;
  w->kp = kp;
  w->n_panels = n_panels;
  w->panel_bytes = one_panel;
  w->storage = storage;
  w->bytes = total + sizeof(PackedWeights);
  w->panels = base;
  w->colsum = reinterpret_cast<int32_t*>(base + panel_bytes);
  w->zb = reinterpret_cast<int32_t*>(base + panel_bytes + col_bytes);
  w->l1 = reinterpret_cast<int64_t*>(base + panel_bytes + 2 * col_bytes);
  std::memset(w->panels, 0, panel_bytes);
  *out = w;
  return Status::ok;
}

// Column sums (modulo 2^32) and L1 norms of B - zb, B's bytes XORed with flip, read in B's own
// storage order so the loops stay contiguous (and vectorizable) for both layouts; w->zb is
// filled first.
void column_stats(const int8_t* b, uint8_t flip, WeightLayout layout, size_t k, size_t n, size_t ldb,
                  PackedWeights* w) {
  const int8_t f = static_cast<int8_t>(flip);
  for (size_t j = 0; j < n; ++j) {  // K = 0 included: empty sums
    w->colsum[j] = 0;
    w->l1[j] = 0;
  }
  if (k == 0) return;
  if (layout == WeightLayout::nk) {
    for (size_t j = 0; j < n; ++j) {
      const int8_t* col = b + j * ldb;
      const int32_t z = w->zb[j];
      int64_t sum = 0, l1 = 0;
      for (size_t k0 = 0; k0 < k; k0 += size_t{1} << 22) {  // int32 partial sums cannot overflow
        int32_t s = 0, a = 0;
        for (size_t kk = k0; kk < std::min(k, k0 + (size_t{1} << 22)); ++kk) {
          const int8_t v = static_cast<int8_t>(col[kk] ^ f);
          s += v;
          a += std::abs(v - z);
        }
        sum += s;
        l1 += a;
      }
      w->colsum[j] = static_cast<int32_t>(static_cast<uint32_t>(sum));  // used modulo 2^32
      w->l1[j] = l1;
    }
    return;
  }
  // Row by row, through restrict pointers into the object's own (disjoint) arrays so the
  // compiler vectorizes them.
  uint32_t* __restrict cs = reinterpret_cast<uint32_t*>(w->colsum);  // modulo 2^32
  int64_t* __restrict l1 = w->l1;
  const int32_t* __restrict z = w->zb;
  for (size_t kk = 0; kk < k; ++kk) {
    const int8_t* __restrict row = b + kk * ldb;
    for (size_t j = 0; j < n; ++j) {
      const int8_t v = static_cast<int8_t>(row[j] ^ f);
      cs[j] += static_cast<uint32_t>(static_cast<int32_t>(v));
      l1[j] += std::abs(v - z[j]);
    }
  }
}

Status pack(const int8_t* b, uint8_t flip, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
            const int32_t* zb, bool zb_per_column, PackedWeights** out) {
  if (!out) return fail(Status::null_pointer, "pack_weights: out is null");
  *out = nullptr;
  if (Status s = check_pack_args(b, flip, layout, K, N, ldb, zb, zb_per_column); s != Status::ok) return s;
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  PackedWeights* w = nullptr;
  if (Status s = allocate(*cfg, K, N, &w); s != Status::ok) return s;
  const size_t k = static_cast<size_t>(K), n = static_cast<size_t>(N), ld = static_cast<size_t>(ldb);
  const int32_t zshift = flip ? 128 : 0;  // uint8 zero points move with the weights
  for (size_t j = 0; j < n; ++j) w->zb[j] = (zb ? zb[zb_per_column ? j : 0] : 0) - zshift;
  for (size_t j = 0; j < n; ++j) w->zb_all_zero = w->zb_all_zero && w->zb[j] == 0;
  column_stats(b, flip, layout, k, n, ld, w);
  for (size_t j = 0; j < n; ++j) w->l1_max = std::max(w->l1_max, w->l1[j]);
  w->format->pack(b, flip, layout, k, n, ld, cfg->nr, cfg->kr, w->kp, w->panels);
  *out = w;
  return succeed();
}

}  // namespace

Status pack_weights(const int8_t* b, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                    const int32_t* zb, bool zb_per_column, PackedWeights** out) noexcept {
  return pack(b, 0, layout, K, N, ldb, zb, zb_per_column, out);
}

Status pack_weights(const uint8_t* b, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                    const int32_t* zb, bool zb_per_column, PackedWeights** out) noexcept {
  return pack(reinterpret_cast<const int8_t*>(b), 0x80, layout, K, N, ldb, zb, zb_per_column, out);
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
