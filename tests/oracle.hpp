// The test oracle: a plain int64 triple loop and the output stages, written from the
// arithmetic contract (README "Arithmetic") and independent of the library's code. Everything
// the library computes is compared bit for bit with this.
#pragma once

#include <cstdint>
#include <vector>

#include "qgemm/qgemm.hpp"

namespace oracle {

// A problem as a user holds it: A (M x K, lda), B as [K][N] or [N][K] (ldb), zero points, bias.
// The bytes of A are uint8 values, or int8 ones when a_signed; those of B int8 values, or uint8
// ones when b_unsigned (the four sign combinations).
struct Problem {
  int64_t M = 0, N = 0, K = 0, lda = 0, ldb = 0, ldc = 0;
  qgemm::WeightLayout layout = qgemm::WeightLayout::kn;
  bool a_signed = false, b_unsigned = false;
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  int32_t za = 0;
  std::vector<int32_t> zb;  // 1 or N values
  bool zb_per_column = false;
  std::vector<int32_t> bias_s32;  // empty or N: storage; the output stage says whether it is used
  std::vector<float> bias_f32;    // empty or N: storage, likewise

  int32_t A(int64_t i, int64_t k) const {
    const uint8_t v = a[static_cast<size_t>(i * lda + k)];
    return a_signed ? static_cast<int32_t>(static_cast<int8_t>(v)) : static_cast<int32_t>(v);
  }
  int32_t B(int64_t k, int64_t j) const {
    const int8_t v = layout == qgemm::WeightLayout::kn ? b[k * ldb + j] : b[j * ldb + k];
    return b_unsigned ? static_cast<int32_t>(static_cast<uint8_t>(v)) : static_cast<int32_t>(v);
  }
  int32_t zb_of(int64_t j) const { return zb.empty() ? 0 : zb[zb_per_column ? j : 0]; }
};

// acc[i][j] = sum_k (A[i][k]-za)*(B[k][j]-zb[j]) (+ bias[j] when bias is not null) in int64.
std::vector<int64_t> accumulate(const Problem& p, const int32_t* bias);

// Output stages on one accumulator (column j). The int64 accumulator must fit int32.
int64_t fixed_point(int64_t acc, int32_t multiplier, int32_t shift, qgemm::Rounding r);
int32_t requant_fixed(int64_t acc, int32_t multiplier, int32_t shift, qgemm::Rounding r,
                      int32_t zo, int32_t lo, int32_t hi);
// FBGEMM ReQuantizeOutput: float(acc) (+ bias_f32/(sa*sb)) times (sa*sb)/so, lrintf, + zo, clamp.
int32_t requant_float(int64_t acc, float sa, float sb, float so, const float* bias_f32,
                      int32_t zo, int32_t lo, int32_t hi);
float dequant(int64_t acc, float sa, float sb, float bias, float lo, float hi);

// Expected C (as bytes, row stride ldc elements) for an output stage; C's untouched padding
// is left as `fill` so tests also catch writes outside the M x N window.
std::vector<uint8_t> expected_output(const Problem& p, const qgemm::OutputStage& o,
                                     uint8_t fill);

}  // namespace oracle
