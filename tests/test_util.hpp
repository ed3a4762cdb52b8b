// Helpers shared by the tests: random problems, running a problem through qgemm, and the
// per-ISA fixture that forces one ISA and proves that its kernel is the one that ran.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "oracle.hpp"
#include "qgemm/qgemm.hpp"
#include "test_hooks.hpp"

namespace qtest {

inline std::vector<qgemm::Isa> all_isas() {
  std::vector<qgemm::Isa> v;
  for (int i = 0; i < qgemm::kIsaCount; ++i) v.push_back(static_cast<qgemm::Isa>(i));
  return v;
}

inline std::string isa_param_name(const testing::TestParamInfo<qgemm::Isa>& info) {
  return qgemm::isa_name(info.param);
}

// Counts verified gemm calls per ISA; printed at the end of the run (see main.cpp).
// signs: 1 for int8 A, + 2 for uint8 B (0: the u8 x s8 core).
void record_verified(qgemm::Isa isa, int signs = 0);

// Forces GetParam()'s ISA for the test (skipping when this CPU or build lacks it) and restores
// the default afterwards.
class IsaTest : public testing::TestWithParam<qgemm::Isa> {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(GetParam()))
      GTEST_SKIP() << "ISA " << qgemm::isa_name(GetParam())
                   << " is not available here (CPU lacks it or it is not built)";
    ASSERT_EQ(qgemm::set_isa(GetParam()), qgemm::Status::ok) << qgemm::last_error_message();
  }
  void TearDown() override { qgemm::reset_isa(); }
};

// Lowers the driver's task threshold so that test-sized problems split into as many tasks as
// the thread count allows; restores the default afterwards.
struct SplitEverything {
  SplitEverything() { qgemm::detail::set_min_task_macs_for_testing(1); }
  ~SplitEverything() { qgemm::detail::set_min_task_macs_for_testing(0); }
};

struct GenOptions {
  int64_t lda_pad = 0, ldb_pad = 0, ldc_pad = 0;
  qgemm::WeightLayout layout = qgemm::WeightLayout::kn;
  bool zb_per_column = false;
  bool extremes = false;  // A and B at both ends of their types' ranges, zero points too
  bool bias = false;
  bool a_signed = false;    // int8 A, za in [-128, 127] (else uint8, [0, 255])
  bool b_unsigned = false;  // uint8 B, zb in [0, 255] (else int8, [-128, 127])
  // The four sign combinations by number: bit 0 a_signed, bit 1 b_unsigned.
  void set_signs(int combo) {
    a_signed = (combo & 1) != 0;
    b_unsigned = (combo & 2) != 0;
  }
};

inline std::string signs_name(const oracle::Problem& p) {
  return std::string(p.a_signed ? "s8" : "u8") + "x" + (p.b_unsigned ? "u8" : "s8");
}

inline oracle::Problem make_problem(int64_t M, int64_t N, int64_t K, const GenOptions& g,
                                    std::mt19937& rng) {
  oracle::Problem p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.lda = K + g.lda_pad;
  p.layout = g.layout;
  p.ldb = (g.layout == qgemm::WeightLayout::kn ? N : K) + g.ldb_pad;
  p.ldc = N + g.ldc_pad;
  p.a_signed = g.a_signed;
  p.b_unsigned = g.b_unsigned;
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), bit(0, 1);
  // Bytes are stored as they are; the value range (and the zero points') follows the type.
  const int amin = g.a_signed ? -128 : 0, amax = g.a_signed ? 127 : 255;
  const int bmin = g.b_unsigned ? 0 : -128, bmax = g.b_unsigned ? 255 : 127;
  auto a_value = [&] { return g.extremes ? (bit(rng) ? amax : amin) : amin + u8(rng); };
  auto b_value = [&] { return g.extremes ? (bit(rng) ? bmax : bmin) : bmin + u8(rng); };
  p.a.resize(static_cast<size_t>(M > 0 ? (M - 1) * p.lda + K : 0) + 1);
  for (auto& v : p.a) v = static_cast<uint8_t>(a_value());
  const int64_t outer = g.layout == qgemm::WeightLayout::kn ? K : N;
  const int64_t inner = g.layout == qgemm::WeightLayout::kn ? N : K;
  p.b.resize(static_cast<size_t>(outer > 0 ? (outer - 1) * p.ldb + inner : 0) + 1);
  for (auto& v : p.b) v = static_cast<int8_t>(static_cast<uint8_t>(b_value()));
  p.za = a_value();
  p.zb_per_column = g.zb_per_column;
  p.zb.resize(g.zb_per_column ? static_cast<size_t>(N) : 1);
  for (auto& z : p.zb) z = b_value();
  (void)s8;
  if (g.bias) {
    std::uniform_int_distribution<int32_t> bd(-100000, 100000);
    std::uniform_real_distribution<float> bf(-5.0f, 5.0f);
    p.bias_s32.resize(static_cast<size_t>(N));
    p.bias_f32.resize(static_cast<size_t>(N));
    for (auto& v : p.bias_s32) v = bd(rng);
    for (auto& v : p.bias_f32) v = bf(rng);
  }
  return p;
}

// Packs p's weights through the pack_weights() of its B type.
inline qgemm::Status pack_problem(const oracle::Problem& p, qgemm::PackedWeights** w) {
  if (p.b_unsigned)
    return qgemm::pack_weights(reinterpret_cast<const uint8_t*>(p.b.data()), p.layout, p.K, p.N, p.ldb, p.zb.data(),
                               p.zb_per_column, w);
  return qgemm::pack_weights(p.b.data(), p.layout, p.K, p.N, p.ldb, p.zb.data(), p.zb_per_column, w);
}

// Runs gemm() of p's A type.
inline qgemm::Status gemm_problem(const oracle::Problem& p, const qgemm::PackedWeights* w, const qgemm::OutputStage& o,
                                  void* c, int64_t ldc, const qgemm::GemmOptions& opt = {}) {
  if (p.a_signed)
    return qgemm::gemm(p.M, reinterpret_cast<const int8_t*>(p.a.data()), p.lda, p.za, w, o, c, ldc, opt);
  return qgemm::gemm(p.M, p.a.data(), p.lda, p.za, w, o, c, ldc, opt);
}

// Packs p's weights, runs qgemm with `o` (bias pointers taken from o) into a buffer pre-filled
// with `fill`, and compares bytes with the oracle, including the padding between rows.
inline void run_and_compare(const oracle::Problem& p, const qgemm::OutputStage& o,
                            const std::string& what, const qgemm::GemmOptions& opt = {}) {
  SCOPED_TRACE(what + " " + signs_name(p) + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
               " K=" + std::to_string(p.K));
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(pack_problem(p, &w), qgemm::Status::ok) << qgemm::last_error_message();
  const uint8_t fill = 0xA5;
  const std::vector<uint8_t> want = oracle::expected_output(p, o, fill);
  std::vector<uint8_t> got(want.size() + 64, fill);
  const qgemm::Status s = gemm_problem(p, w, o, got.data(), p.ldc, opt);
  qgemm::destroy_packed_weights(w);
  ASSERT_EQ(s, qgemm::Status::ok) << qgemm::last_error_message();
  if (p.M > 0 && p.N > 0) {
    const std::string kernel = qgemm::last_kernel_name();
    const std::string suffix = std::string("__") + qgemm::isa_name(qgemm::active_isa());
    ASSERT_TRUE(kernel.size() > suffix.size() &&
                kernel.compare(kernel.size() - suffix.size(), suffix.size(), suffix) == 0)
        << "kernel " << kernel << " ran, expected one of ISA " << qgemm::isa_name(qgemm::active_isa());
  }
  for (size_t i = want.size(); i < got.size(); ++i) ASSERT_EQ(got[i], fill) << "write past C";
  got.resize(want.size());
  if (got != want) {
    const size_t es = qgemm::output_element_size(o.type);
    size_t bad = 0;
    while (got[bad] == want[bad]) ++bad;
    const size_t e = bad / es;
    int64_t gv = 0, wv = 0;
    std::memcpy(&gv, &got[e * es], es);
    std::memcpy(&wv, &want[e * es], es);
    FAIL() << "first mismatch at element " << e << " (row " << e / p.ldc << ", col " << e % p.ldc
           << "): got 0x" << std::hex << gv << " want 0x" << wv;
  }
  record_verified(qgemm::active_isa(), (p.a_signed ? 1 : 0) + (p.b_unsigned ? 2 : 0));
}

}  // namespace qtest
