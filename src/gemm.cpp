// qgemm::gemm: argument checks, then the portable blocking driver. Data flows one way:
// checks -> dispatch (the config the weights were packed for) -> per-call output-stage
// tables -> MC blocks of A (packed with row sums, or read in place for small M) -> NR column
// panels x MR row tiles -> microkernel with the fused output stage.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "dispatch.hpp"
#include "errors.hpp"
#include "packed_weights.hpp"
#include "ukernel.hpp"

namespace qgemm {
using namespace detail;

namespace {

constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Grow-only, 64-byte aligned scratch owned by the calling thread (no allocation per call once
// warm, and no sharing between threads).
class Scratch {
 public:
  ~Scratch() { std::free(ptr_); }
  void* get(size_t bytes) {
    if (bytes > size_) {
      std::free(ptr_);
      ptr_ = nullptr;
      size_ = 0;
      void* p = nullptr;
      if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
      ptr_ = p;
      size_ = bytes;
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

thread_local Scratch g_scratch;

bool finite_positive(float x) { return std::isfinite(x) && x > 0.0f; }

// Checks the output description against N; fills the resolved clamp range for u8/s8.
Status check_stage(const OutputStage& o, int64_t N, int32_t* lo, int32_t* hi) {
  const int64_t count = o.per_column ? N : (N > 0 ? 1 : 0);
  switch (o.type) {
    case OutputType::s32:
      if (o.bias_f32) return fail(Status::bad_output_params, "s32 output takes an int32 bias, not a float one");
      return Status::ok;
    case OutputType::f32: {
      if (o.bias_s32) return fail(Status::bad_output_params, "f32 output takes a float bias, not an int32 one");
      if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "f32 output: weight_scale is null");
      if (!finite_positive(o.act_scale))
        return fail(Status::bad_output_params, "act_scale=%g must be finite and > 0", o.act_scale);
      for (int64_t j = 0; j < count; ++j) {
        const float s = o.act_scale * o.weight_scale[j];
        if (!finite_positive(o.weight_scale[j]) || !std::isfinite(s))
          return fail(Status::bad_output_params, "weight_scale[%lld]=%g must be finite and > 0",
                      static_cast<long long>(j), o.weight_scale[j]);
      }
      if (std::isnan(o.clamp_lo_f32) || std::isnan(o.clamp_hi_f32) || o.clamp_lo_f32 > o.clamp_hi_f32)
        return fail(Status::bad_output_params, "f32 clamp [%g, %g] is empty or NaN", o.clamp_lo_f32, o.clamp_hi_f32);
      return Status::ok;
    }
    case OutputType::u8:
    case OutputType::s8:
      break;
    default:
      return fail(Status::bad_argument, "unknown output type %d", static_cast<int>(o.type));
  }
  const int32_t tmin = o.type == OutputType::u8 ? 0 : -128;
  const int32_t tmax = o.type == OutputType::u8 ? 255 : 127;
  if (o.zero_point < tmin || o.zero_point > tmax)
    return fail(Status::bad_zero_point, "output zero point %d outside [%d, %d]", o.zero_point, tmin, tmax);
  *lo = o.clamp_lo == kI32Min ? tmin : o.clamp_lo;
  *hi = o.clamp_hi == kI32Max ? tmax : o.clamp_hi;
  if (*lo < tmin || *hi > tmax || *lo > *hi)
    return fail(Status::bad_output_params, "clamp [%d, %d] must be a non-empty range within [%d, %d]",
                *lo, *hi, tmin, tmax);
  if (o.requant == Requant::fixed_point) {
    if (o.bias_f32) return fail(Status::bad_output_params, "fixed-point requantization takes an int32 bias, not a float one");
    if (o.rounding != Rounding::double_rounding && o.rounding != Rounding::single_rounding)
      return fail(Status::bad_argument, "unknown rounding %d", static_cast<int>(o.rounding));
    if ((!o.multiplier || !o.shift) && N > 0)
      return fail(Status::null_pointer, "fixed-point requantization: multiplier or shift is null");
    for (int64_t j = 0; j < count; ++j) {
      if (o.multiplier[j] < 0)
        return fail(Status::bad_output_params, "multiplier[%lld]=%d must be >= 0", static_cast<long long>(j), o.multiplier[j]);
      if (o.shift[j] < -31 || o.shift[j] > 30)
        return fail(Status::bad_output_params, "shift[%lld]=%d outside [-31, 30]", static_cast<long long>(j), o.shift[j]);
    }
    return Status::ok;
  }
  if (o.requant != Requant::float_multiplier)
    return fail(Status::bad_argument, "unknown requantization %d", static_cast<int>(o.requant));
  if (o.bias_s32 && o.bias_f32) return fail(Status::bad_output_params, "give an int32 or a float bias, not both");
  if (!o.weight_scale && N > 0) return fail(Status::null_pointer, "float multiplier: weight_scale is null");
  if (!finite_positive(o.act_scale) || !finite_positive(o.out_scale))
    return fail(Status::bad_output_params, "act_scale=%g and out_scale=%g must be finite and > 0", o.act_scale, o.out_scale);
  for (int64_t j = 0; j < count; ++j) {
    const float s = o.act_scale * o.weight_scale[j];
    if (!finite_positive(o.weight_scale[j]) || !finite_positive(s) || !std::isfinite(s / o.out_scale))
      return fail(Status::bad_output_params, "weight_scale[%lld]=%g gives no finite, positive multiplier",
                  static_cast<long long>(j), o.weight_scale[j]);
  }
  if (o.bias_f32)
    for (int64_t j = 0; j < N; ++j)
      if (!std::isfinite(o.bias_f32[j]))
        return fail(Status::bad_output_params, "bias_f32[%lld] is not finite", static_cast<long long>(j));
  return Status::ok;
}

size_t element_size(OutputType t) {
  return (t == OutputType::s32 || t == OutputType::f32) ? 4 : 1;
}

// Default cache blocks: an MC x kp block of A in about half of a 1 MiB L2.
size_t default_mc(size_t kp, size_t mr) {
  const size_t rows = (512 * 1024) / std::max<size_t>(kp, 1);
  return std::max(mr, std::min<size_t>(rows / mr * mr, 1024));
}

// Packs rows [0, mb) of A (lda) into MR-row panels [kp/KR][MR][KR], zero padded, with row sums.
void pack_a(size_t mb, size_t k, size_t kp, const uint8_t* a, size_t lda, size_t mr, size_t kr,
            uint8_t* dst, int32_t* row_sum) {
  for (size_t ir = 0; ir < mb; ir += mr) {
    uint8_t* panel = dst + ir * kp;
    std::memset(panel, 0, mr * kp);
    for (size_t i = 0; i < std::min(mr, mb - ir); ++i) {
      const uint8_t* row = a + (ir + i) * lda;
      uint32_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        panel[(kk / kr) * mr * kr + i * kr + kk % kr] = row[kk];
        sum += row[kk];
      }
      row_sum[ir + i] = static_cast<int32_t>(sum);
    }
  }
}

void row_sums(size_t mb, size_t k, const uint8_t* a, size_t lda, int32_t* row_sum) {
  for (size_t i = 0; i < mb; ++i) {
    const uint8_t* row = a + i * lda;
    uint32_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) sum += row[kk];
    row_sum[i] = static_cast<int32_t>(sum);
  }
}

}  // namespace

Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
            const OutputStage& out, void* c, int64_t ldc) noexcept {
  // ---- checks: nothing is written before all of them pass
  if (!b) return fail(Status::null_pointer, "gemm: packed weights are null");
  const int64_t K = b->K, N = b->N;
  if (M < 0) return fail(Status::negative_dimension, "gemm: M=%lld must be >= 0", static_cast<long long>(M));
  if (lda < K)
    return fail(Status::bad_leading_dimension, "gemm: lda=%lld < K=%lld", static_cast<long long>(lda), static_cast<long long>(K));
  if (ldc < N)
    return fail(Status::bad_leading_dimension, "gemm: ldc=%lld < N=%lld", static_cast<long long>(ldc), static_cast<long long>(N));
  if (!a && M != 0 && K != 0) return fail(Status::null_pointer, "gemm: A is null");
  if (!c && M != 0 && N != 0) return fail(Status::null_pointer, "gemm: C is null");
  if (za < 0 || za > 255) return fail(Status::bad_zero_point, "gemm: za=%d outside [0, 255]", za);
  int32_t lo = 0, hi = 0;
  if (Status s = check_stage(out, N, &lo, &hi); s != Status::ok) return s;
  const GemmConfig* cfg = nullptr;
  if (Status s = active_gemm_config(&cfg); s != Status::ok) return s;
  if (cfg != b->cfg)
    return fail(Status::packed_isa_mismatch, "gemm: weights were packed for %s but the active ISA is %s; pack them again",
                isa_name(b->cfg->isa), isa_name(cfg->isa));
  const int64_t amax = std::max(za, 255 - za);
  for (int64_t j = 0; j < N; ++j) {
    const int64_t bias = out.bias_s32 ? std::abs(static_cast<int64_t>(out.bias_s32[j])) : 0;
    if (amax * b->l1[j] + bias > kI32Max)
      return fail(Status::overflow_risk,
                  "gemm: column %lld can reach |acc| = %lld*%lld + %lld > INT32_MAX (K=%lld, za=%d)",
                  static_cast<long long>(j), static_cast<long long>(amax), static_cast<long long>(b->l1[j]),
                  static_cast<long long>(bias), static_cast<long long>(K), za);
  }
  if (M == 0 || N == 0) {
    set_last_kernel("none");
    return succeed();
  }

  // ---- per-call output-stage tables (per column, see StageParams)
  const size_t m = static_cast<size_t>(M), n = static_cast<size_t>(N), k = static_cast<size_t>(K);
  const size_t mr = cfg->mr, nr = cfg->nr, kr = cfg->kr, kp = b->kp;
  const bool in_place = cfg->max_m_unpacked != 0 && m <= cfg->max_m_unpacked && k % kr == 0;
  const size_t mc = std::min(round_up(m, mr), cfg->mc_for_k ? cfg->mc_for_k(kp) : default_mc(kp, mr));
  const size_t ncol = round_up(n, 16);
  const size_t a_bytes = in_place ? 0 : round_up(mc * kp, 64);
  const size_t rs_bytes = round_up(mc * sizeof(int32_t), 64);
  char* base = static_cast<char*>(g_scratch.get(5 * ncol * 4 + a_bytes + rs_bytes));
  if (!base) return fail(Status::out_of_memory, "gemm: cannot allocate scratch");
  auto* col_off = reinterpret_cast<int32_t*>(base);
  auto* mult = reinterpret_cast<int32_t*>(base + 1 * ncol * 4);
  auto* shift = reinterpret_cast<int32_t*>(base + 2 * ncol * 4);
  auto* scale = reinterpret_cast<float*>(base + 3 * ncol * 4);
  auto* fbias = reinterpret_cast<float*>(base + 4 * ncol * 4);
  auto* apack = reinterpret_cast<uint8_t*>(base + 5 * ncol * 4);
  auto* rsum = reinterpret_cast<int32_t*>(base + 5 * ncol * 4 + a_bytes);

  StageParams p{};
  p.col_off = col_off;
  p.zb = b->zb;
  p.zo = out.zero_point;
  p.qmin = lo - out.zero_point;
  p.qmax = hi - out.zero_point;
  p.out_u8 = out.type == OutputType::u8;
  p.fmin = out.clamp_lo_f32;
  p.fmax = out.clamp_hi_f32;
  const uint32_t kza = static_cast<uint32_t>(K) * static_cast<uint32_t>(za);
  for (size_t j = 0; j < n; ++j)  // modular: bias - za*colsum + K*za*zb
    col_off[j] = static_cast<int32_t>((out.bias_s32 ? static_cast<uint32_t>(out.bias_s32[j]) : 0u) -
                                      static_cast<uint32_t>(za) * static_cast<uint32_t>(b->colsum[j]) +
                                      kza * static_cast<uint32_t>(b->zb[j]));
  auto col = [&](size_t j) { return out.per_column ? j : 0; };
  switch (out.type) {
    case OutputType::s32:
      p.kind = StageKind::s32;
      break;
    case OutputType::f32:
      p.kind = StageKind::f32;
      for (size_t j = 0; j < n; ++j) {
        scale[j] = out.act_scale * out.weight_scale[col(j)];
        fbias[j] = out.bias_f32 ? out.bias_f32[j] : 0.0f;
      }
      p.scale = scale;
      p.fbias = fbias;
      break;
    default:
      if (out.requant == Requant::fixed_point) {
        p.kind = out.rounding == Rounding::single_rounding ? StageKind::fixed_single : StageKind::fixed_double;
        for (size_t j = 0; j < n; ++j) {
          mult[j] = out.multiplier[col(j)];
          shift[j] = out.shift[col(j)];
        }
        p.mult = mult;
        p.shift = shift;
      } else {
        p.kind = StageKind::float_mult;
        for (size_t j = 0; j < n; ++j) {
          const float sab = out.act_scale * out.weight_scale[col(j)];  // FBGEMM's act_times_w_scale
          scale[j] = sab / out.out_scale;
          fbias[j] = out.bias_f32 ? out.bias_f32[j] / sab : 0.0f;
        }
        p.scale = scale;
        p.fbias = fbias;
      }
  }

  // ---- blocking loops
  const size_t esize = element_size(out.type);
  const size_t c_stride = static_cast<size_t>(ldc) * esize;
  for (size_t i0 = 0; i0 < m; i0 += mc) {
    const size_t mb = std::min(mc, m - i0);
    const uint8_t* ablock = a + i0 * static_cast<size_t>(lda);
    size_t a_row_stride, a_kgroup_stride, a_tile_stride;
    if (in_place) {
      row_sums(mb, k, ablock, static_cast<size_t>(lda), rsum);
      a_row_stride = static_cast<size_t>(lda);
      a_kgroup_stride = kr;
      a_tile_stride = mr * static_cast<size_t>(lda);
    } else {
      pack_a(mb, k, kp, ablock, static_cast<size_t>(lda), mr, kr, apack, rsum);
      ablock = apack;
      a_row_stride = kr;
      a_kgroup_stride = mr * kr;
      a_tile_stride = mr * kp;
    }
    for (size_t jp = 0; jp < n; jp += nr) {
      const int8_t* panel = b->panels + (jp / nr) * kp * nr;
      const size_t nb = std::min(nr, n - jp);
      for (size_t ir = 0; ir < mb; ir += mr) {
        char* ctile = static_cast<char*>(c) + (i0 + ir) * c_stride + jp * esize;
        cfg->ukernel(std::min(mr, mb - ir), nb, kp, ablock + (ir / mr) * a_tile_stride, a_row_stride,
                     a_kgroup_stride, panel, rsum + ir, ctile, c_stride, &p, jp);
      }
    }
  }
  set_last_kernel(cfg->name);
  return succeed();
}

}  // namespace qgemm
