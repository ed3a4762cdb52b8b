// Weight-only int8 linear (W8A32 / W8A16): weight quantization, the kernels' own dispatch
// (src/quant/quant_dispatch.cpp) and the forward loop (16-bit X widened to float32 once per call,
// except bf16 X where AVX512-BF16 kernels read it as is; output columns blocked so that a block of weight rows stays in L2 while every row of X
// passes over it).
#include <algorithm>
#include <cmath>
#include <new>
#include <vector>

#include "errors.hpp"
#include "qgemm/linear.hpp"
#include "quant/quant_kernels.hpp"

namespace qgemm {

using detail::fail;
using detail::succeed;

namespace {

// 192 KiB of weight rows per block: inside a 512 KiB-1 MiB L2 with room for X and Y (AMD EPYC).
constexpr size_t kBlockBytes = 192 * 1024;

thread_local const char* g_last_name = "";
thread_local std::vector<float> g_xf;  // widened X, grow-only per thread

}  // namespace

const char* weight_only_kernel_name() noexcept { return g_last_name; }

Status WeightOnlyLinear::init_quantized(const int8_t* weight_q, const float* scales, int64_t out,
                                        int64_t in, const float* bias) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "WeightOnlyLinear: features must be >= 1");
  if (!weight_q || !scales) return fail(Status::null_pointer, "WeightOnlyLinear: null weights or scales");
  if (static_cast<uint64_t>(out) * static_cast<uint64_t>(in) > (uint64_t{1} << 40))
    return fail(Status::bad_argument, "WeightOnlyLinear: too large");
  for (int64_t j = 0; j < out; ++j)
    if (!(scales[j] > 0.0f) || !std::isfinite(scales[j]))
      return fail(Status::bad_output_params, "WeightOnlyLinear: scale[%lld] must be finite and > 0",
                  static_cast<long long>(j));
  try {
    wq_.assign(weight_q, weight_q + out * in);
    ws_.assign(scales, scales + out);
    bias_.assign(out, 0.0f);
    if (bias) std::copy(bias, bias + out, bias_.begin());
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "WeightOnlyLinear: out of memory");
  }
  in_ = in;
  out_ = out;
  return succeed();
}

Status WeightOnlyLinear::init(const float* weight, int64_t out, int64_t in, const float* bias) noexcept {
  if (out < 1 || in < 1) return fail(Status::negative_dimension, "WeightOnlyLinear: features must be >= 1");
  if (!weight) return fail(Status::null_pointer, "WeightOnlyLinear: null weights");
  std::vector<float> s;
  std::vector<int32_t> zp;
  std::vector<int8_t> q;
  try {
    s.resize(out);
    zp.resize(out);
    q.resize(static_cast<size_t>(out * in));
  } catch (const std::bad_alloc&) {
    return fail(Status::out_of_memory, "WeightOnlyLinear: out of memory");
  }
  const int64_t shape[2] = {out, in};
  if (Status st = choose_qparams_per_channel(weight, shape, 2, 0, QType::s8, QScheme::symmetric, false,
                                             s.data(), zp.data());
      st != Status::ok)
    return st;
  if (Status st = quantize_per_channel(weight, shape, 2, 0, s.data(), zp.data(), QType::s8, q.data());
      st != Status::ok)
    return st;
  return init_quantized(q.data(), s.data(), out, in, bias);
}

Status WeightOnlyLinear::forward(int64_t M, ActType type, const void* x, int64_t ldx, float* y,
                                 int64_t ldy) const noexcept {
  if (out_ == 0) return fail(Status::bad_argument, "WeightOnlyLinear::forward: not initialised");
  if (M < 0) return fail(Status::negative_dimension, "WeightOnlyLinear::forward: M < 0");
  if (ldx < in_ || ldy < out_) return fail(Status::bad_leading_dimension, "WeightOnlyLinear::forward: ldx < in or ldy < out");
  if (type != ActType::f32 && type != ActType::bf16 && type != ActType::f16)
    return fail(Status::bad_argument, "WeightOnlyLinear::forward: unknown ActType");
  if (M == 0) return succeed();
  if (!x || !y) return fail(Status::null_pointer, "WeightOnlyLinear::forward: null x or y");
  const detail::QuantKernels* kt = &detail::quant_kernels();
  const detail::W8Bf16Kernels* kb = type == ActType::bf16 ? detail::w8_bf16_kernels() : nullptr;
  if (static_cast<uint64_t>(M) > (uint64_t{1} << 40) / static_cast<uint64_t>(in_))
    return fail(Status::bad_argument, "WeightOnlyLinear::forward: M * in_features too large");
  const size_t K = static_cast<size_t>(in_), N = static_cast<size_t>(out_);
  const float* xf = static_cast<const float*>(x);
  size_t ldxf = static_cast<size_t>(ldx);
  if (type != ActType::f32 && !kb) {
    try {
      if (g_xf.size() < static_cast<size_t>(M) * K) g_xf.resize(static_cast<size_t>(M) * K);
    } catch (const std::bad_alloc&) {
      return fail(Status::out_of_memory, "WeightOnlyLinear::forward: out of memory");
    }
    const auto* xh = static_cast<const uint16_t*>(x);
    const detail::HalfToFloatFn cvt = type == ActType::bf16 ? kt->bf16_to_f32 : kt->f16_to_f32;
    for (int64_t i = 0; i < M; ++i) cvt(xh + i * ldx, K, g_xf.data() + i * K);
    xf = g_xf.data();
    ldxf = K;
  }
  const size_t nb = std::max<size_t>(8, (kBlockBytes / K) & ~size_t{7});
  const int8_t* w = wq_.data();
  for (size_t n0 = 0; n0 < N; n0 += nb) {
    const size_t len = std::min(nb, N - n0);
    int64_t i = 0;
    if (kb) {  // bf16 X as is
      const auto* xh = static_cast<const uint16_t*>(x);
      for (; i + 2 <= M; i += 2)
        kb->linear2(K, len, xh + i * ldx, xh + (i + 1) * ldx, w + n0 * K, K, ws_.data() + n0, bias_.data() + n0,
                    y + i * ldy + n0, y + (i + 1) * ldy + n0);
      if (i < M) kb->linear(K, len, xh + i * ldx, w + n0 * K, K, ws_.data() + n0, bias_.data() + n0, y + i * ldy + n0);
      continue;
    }
    if (kt->linear2)
      for (; i + 2 <= M; i += 2)
        kt->linear2(K, len, xf + i * ldxf, xf + (i + 1) * ldxf, w + n0 * K, K, ws_.data() + n0, bias_.data() + n0,
                    y + i * ldy + n0, y + (i + 1) * ldy + n0);
    for (; i < M; ++i)
      kt->linear(K, len, xf + i * ldxf, w + n0 * K, K, ws_.data() + n0, bias_.data() + n0, y + i * ldy + n0);
  }
  if (kb)
    g_last_name = M >= 2 ? kb->name2 : kb->name;
  else if (M >= 2)
    g_last_name = type == ActType::f32 ? kt->name2_f32 : (type == ActType::bf16 ? kt->name2_bf16 : kt->name2_f16);
  else
    g_last_name = type == ActType::f32 ? kt->name_f32 : (type == ActType::bf16 ? kt->name_bf16 : kt->name_f16);
  return succeed();
}

}  // namespace qgemm
