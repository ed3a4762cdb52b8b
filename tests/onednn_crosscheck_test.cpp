// Cross-check against oneDNN (Debian libdnnl-dev 2.6): the same u8 x s8 problem through
// oneDNN's int8 matmul and through qgemm on every ISA this machine can run (forced with
// set_isa, weights packed again after each switch).
//
// Comparison rules
// - int32 destination: oneDNN, qgemm and the oracle must be identical, element for element.
// - f32 destination, y = acc * (sa*sb[j]) with the scale product taken in float32:
//   qgemm must equal the oracle bit for bit (one fmaf, the contract). oneDNN converts acc to
//   float and multiplies in its own way (a separate multiply, possibly a different operation
//   order in its post-processing), so its bits are not the contract; it is compared with the
//   double-precision value double(acc) * double(scale_f32[j]) with a relative tolerance of
//   2 * FLT_EPSILON: two float roundings at most (acc -> float, the product), each
//   <= FLT_EPSILON/2 relative. The qgemm result is checked against the same double value too.
// - Known inexact oneDNN results: on CPUs without VNNI (AVX2 and AVX-512BW only, like the
//   AVX2-only machine this was written on), oneDNN's int8 GEMM multiplies u8 x s8 pairs with
//   vpmaddubsw, whose int16 pair sum saturates when 2 * A * |B| > 32767 (for example
//   A = 255, B = 127 twice). The equality tests therefore use A <= 127 (then
//   |a0*b0 + a1*b1| <= 2*127*128 = 32512 cannot saturate on any CPU). A separate test feeds
//   full-range data, asserts qgemm == oracle, and only reports how often oneDNN differs from
//   the oracle (never a failure: on VNNI CPUs it should be 0, elsewhere it need not be).
// - oneDNN 2.6 refuses per-column weight zero points (set_zero_points(DNNL_ARG_WEIGHTS, 1 << 1,
//   ...) throws "could not set zero points primitive attribute"), so oneDNN runs get a common
//   zb, and per-column scales come in through set_output_scales(1 << 1, ...). qgemm's
//   per-column zb is still cross-checked: sum (A-za)(B-zb[j]) = sum (A-za)B - zb[j] sum (A-za),
//   both sums computed by oneDNN (the second as a matmul with a column of ones), combined in int64.
// - The accumulators here stay below 2^24 in magnitude, so oneDNN's float post-processing of
//   an s32 destination (scale 1) cannot round them; the test asserts that bound.
#include <gtest/gtest.h>

#ifdef QGEMM_TEST_WITH_ONEDNN

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "test_util.hpp"

namespace {

using qgemm::Isa;
using qgemm::WeightLayout;

// How oneDNN gets the quantization parameters: at primitive creation, or at execution
// (DNNL_RUNTIME_*_VAL, as dynamic quantization needs).
enum class Params { creation, runtime };

struct DnnlResult {
  std::vector<int32_t> s32;
  std::vector<float> f32;
};

// Runs p through oneDNN's matmul. dst is M x N dense. scales: empty (no scaling), one value
// (common) or N values (per column). p.zb must hold a single (common) value.
DnnlResult run_onednn(const oracle::Problem& p, bool f32_dst, const std::vector<float>& scales,
                      Params mode) {
  using namespace dnnl;
  using dt = memory::data_type;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dim M = p.M, N = p.N, K = p.K;
  memory::desc a_md({M, K}, p.a_signed ? dt::s8 : dt::u8, memory::dims{p.lda, 1});
  // [K][N]: element (k, n) at k*ldb + n; [N][K] (transposed): at n*ldb + k.
  memory::desc b_md({K, N}, dt::s8,
                    p.layout == WeightLayout::kn ? memory::dims{p.ldb, 1} : memory::dims{1, p.ldb});
  memory::desc c_md({M, N}, f32_dst ? dt::f32 : dt::s32, memory::dims{N, 1});

  primitive_attr attr;
  const int scale_mask = scales.size() > 1 ? (1 << 1) : 0;
  const int32_t zb = p.zb.empty() ? 0 : p.zb[0];
  if (mode == Params::creation) {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {p.za});
    attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {zb});
    if (!scales.empty()) attr.set_output_scales(scale_mask, scales);
  } else {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {DNNL_RUNTIME_S32_VAL});
    if (!scales.empty()) attr.set_output_scales(scale_mask, {DNNL_RUNTIME_F32_VAL});
  }
  matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), attr, eng);
  matmul prim(pd);

  DnnlResult r;
  void* c_ptr;
  if (f32_dst) {
    r.f32.assign(static_cast<size_t>(M * N), 0.0f);
    c_ptr = r.f32.data();
  } else {
    r.s32.assign(static_cast<size_t>(M * N), 0);
    c_ptr = r.s32.data();
  }
  memory a_mem(a_md, eng, const_cast<uint8_t*>(p.a.data()));
  memory b_mem(b_md, eng, const_cast<int8_t*>(p.b.data()));
  memory c_mem(c_md, eng, c_ptr);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
  int32_t za_val = p.za, zb_val = zb;
  std::vector<float> sc = scales;
  if (mode == Params::runtime) {
    memory::desc zp_md({1}, dt::s32, memory::dims{1});
    args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory(zp_md, eng, &za_val));
    args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_WEIGHTS, memory(zp_md, eng, &zb_val));
    if (!scales.empty()) {
      memory::desc sc_md({static_cast<memory::dim>(sc.size())}, dt::f32, memory::dims{1});
      args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, memory(sc_md, eng, sc.data()));
    }
  }
  prim.execute(strm, args);
  strm.wait();
  return r;
}

// qgemm on the active ISA; asserts the kernel of that ISA ran. out is M x N dense.
void run_qgemm(const oracle::Problem& p, const qgemm::OutputStage& o, void* out) {
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qtest::pack_problem(p, &w), qgemm::Status::ok) << qgemm::last_error_message();
  const qgemm::Status s = qtest::gemm_problem(p, w, o, out, p.N);
  qgemm::destroy_packed_weights(w);
  ASSERT_EQ(s, qgemm::Status::ok) << qgemm::last_error_message();
  const std::string kernel = qgemm::last_kernel_name();
  const std::string suffix = std::string("__") + qgemm::isa_name(qgemm::active_isa());
  ASSERT_TRUE(kernel.size() > suffix.size() &&
              kernel.compare(kernel.size() - suffix.size(), suffix.size(), suffix) == 0)
      << "kernel " << kernel << " ran under ISA " << qgemm::isa_name(qgemm::active_isa());
}

std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (Isa i : qtest::all_isas())
    if (qgemm::isa_available(i)) v.push_back(i);
  return v;
}

// A random problem with A in [0, a_max], a common weight zero point, dense C (ldc = N).
oracle::Problem make(int64_t M, int64_t N, int64_t K, bool transposed, bool pad, int a_max,
                     std::mt19937& rng) {
  qtest::GenOptions g;
  g.layout = transposed ? WeightLayout::nk : WeightLayout::kn;
  if (pad) {
    g.lda_pad = 7;
    g.ldb_pad = 5;
  }
  oracle::Problem p = qtest::make_problem(M, N, K, g, rng);
  std::uniform_int_distribution<int> ua(0, a_max);
  for (auto& v : p.a) v = static_cast<uint8_t>(ua(rng));
  p.za = ua(rng);
  p.ldc = N;
  return p;
}

struct Shape {
  int64_t M, N, K;
};

// Fixed odd shapes plus random ones.
std::vector<Shape> shapes(std::mt19937& rng) {
  std::vector<Shape> v = {{1, 1, 1},   {1, 7, 3},     {3, 5, 129}, {7, 13, 31},  {17, 33, 65},
                          {31, 1, 255}, {64, 64, 64}, {65, 129, 17}, {2, 300, 511}, {129, 31, 7}};
  std::uniform_int_distribution<int64_t> dm(1, 80), dn(1, 150), dk(1, 400);
  // Emulated runs (SIMDe kernels, QGEMM_TEST_REDUCED=1) are slow: fewer random shapes.
  const char* reduced = std::getenv("QGEMM_TEST_REDUCED");
  const int n_random = (reduced && *reduced == '1') ? 3 : 10;
  for (int i = 0; i < n_random; ++i) v.push_back({dm(rng), dn(rng), dk(rng)});
  return v;
}

std::string describe(const oracle::Problem& p, Params mode, const char* what) {
  std::ostringstream s;
  s << what << " M=" << p.M << " N=" << p.N << " K=" << p.K << " za=" << p.za << " zb=" << p.zb[0]
    << (p.layout == WeightLayout::kn ? " [K][N]" : " [N][K]") << " lda=" << p.lda << " ldb=" << p.ldb
    << (mode == Params::runtime ? " runtime params" : " creation-time params");
  return s.str();
}

// int32 destination: oneDNN (both parameter modes) == oracle == qgemm on every ISA.
TEST(OneDnnCrossCheck, Int32Identical) {
  std::mt19937 rng(31337);
  int idx = 0, compared = 0;
  for (const Shape& sh : shapes(rng))
    for (bool transposed : {false, true}) {
      const oracle::Problem p = make(sh.M, sh.N, sh.K, transposed, (idx++ % 3) == 0, 127, rng);
      const std::vector<int64_t> want = oracle::accumulate(p, nullptr);
      for (int64_t v : want) ASSERT_LT(std::llabs(v), int64_t{1} << 24) << "keep oneDNN's float post-processing exact";
      for (Params mode : {Params::creation, Params::runtime}) {
        SCOPED_TRACE(describe(p, mode, "s32"));
        const DnnlResult d = run_onednn(p, false, {}, mode);
        for (size_t e = 0; e < want.size(); ++e)
          ASSERT_EQ(d.s32[e], want[e]) << "oneDNN vs oracle at row " << e / p.N << " col " << e % p.N;
      }
      const DnnlResult d = run_onednn(p, false, {}, Params::creation);
      for (Isa isa : available_isas()) {
        SCOPED_TRACE(describe(p, Params::creation, qgemm::isa_name(isa)));
        ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
        std::vector<int32_t> got(static_cast<size_t>(p.M * p.N), 0x5a5a5a5a);
        run_qgemm(p, qgemm::output_s32(), got.data());
        qgemm::reset_isa();
        if (HasFatalFailure()) return;
        for (size_t e = 0; e < got.size(); ++e)
          ASSERT_EQ(got[e], d.s32[e]) << "qgemm vs oneDNN at row " << e / p.N << " col " << e % p.N;
        qtest::record_verified(isa);
        ++compared;
      }
    }
  EXPECT_GT(compared, 0);
}

// int8 source (LiteRT/TFLite, ONNX QDQ activations), oneDNN's s8 x s8 matmul against qgemm's
// int8-A gemm() on every ISA: A over the whole int8 range, za over [-128, 127]. B in [-64, 63]:
// oneDNN adds 128 to an s8 source and, on CPUs without VNNI, multiplies on the saturating
// vpmaddubsw, exact only while 255 * 64 * 2 < 32767; qgemm is exact everywhere (oracle suites).
TEST(OneDnnCrossCheck, Int8SourceIdentical) {
  std::mt19937 rng(4242);
  std::uniform_int_distribution<int> s8(-128, 127), b7(-64, 63);
  int idx = 0, compared = 0;
  for (const Shape& sh : shapes(rng))
    for (bool transposed : {false, true}) {
      oracle::Problem p = make(sh.M, sh.N, sh.K, transposed, (idx++ % 3) == 1, 255, rng);
      p.a_signed = true;
      for (auto& v : p.a) v = static_cast<uint8_t>(s8(rng));
      for (auto& v : p.b) v = static_cast<int8_t>(b7(rng));
      p.za = s8(rng);
      p.zb = {b7(rng)};
      const std::vector<int64_t> want = oracle::accumulate(p, nullptr);
      for (int64_t v : want) ASSERT_LT(std::llabs(v), int64_t{1} << 24) << "keep oneDNN's float post-processing exact";
      SCOPED_TRACE(describe(p, Params::creation, "s8 source"));
      const DnnlResult d = run_onednn(p, false, {}, Params::creation);
      for (size_t e = 0; e < want.size(); ++e)
        ASSERT_EQ(d.s32[e], want[e]) << "oneDNN vs oracle at row " << e / p.N << " col " << e % p.N;
      for (Isa isa : available_isas()) {
        SCOPED_TRACE(qgemm::isa_name(isa));
        ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
        std::vector<int32_t> got(static_cast<size_t>(p.M * p.N), 0x5a5a5a5a);
        run_qgemm(p, qgemm::output_s32(), got.data());
        qgemm::reset_isa();
        if (HasFatalFailure()) return;
        for (size_t e = 0; e < got.size(); ++e)
          ASSERT_EQ(got[e], d.s32[e]) << "qgemm vs oneDNN at row " << e / p.N << " col " << e % p.N;
        qtest::record_verified(isa, 1);
        ++compared;
      }
    }
  EXPECT_GT(compared, 0);
}

// Per-column weight zero points, which oneDNN 2.6 lacks: qgemm against oneDNN's zb = 0 product
// minus zb[j] times oneDNN's row sums of (A - za) (a matmul with a K x 1 column of ones).
TEST(OneDnnCrossCheck, Int32PerColumnZeroPointsComposed) {
  std::mt19937 rng(9001);
  std::uniform_int_distribution<int> s8(-128, 127);
  int idx = 0;
  for (const Shape& sh : shapes(rng)) {
    oracle::Problem p = make(sh.M, sh.N, sh.K, (idx & 1) != 0, (idx % 3) == 2, 127, rng);
    ++idx;
    oracle::Problem p0 = p;  // zb = 0
    p0.zb = {0};
    oracle::Problem ones = p;  // B = K x 1 of ones
    ones.N = 1;
    ones.layout = WeightLayout::kn;
    ones.ldb = 1;
    ones.b.assign(static_cast<size_t>(p.K), 1);
    ones.zb = {0};
    p.zb_per_column = true;
    p.zb.resize(static_cast<size_t>(p.N));
    for (auto& z : p.zb) z = s8(rng);
    const std::vector<int64_t> want = oracle::accumulate(p, nullptr);
    for (int64_t v : want) ASSERT_LT(std::llabs(v), int64_t{1} << 24);
    SCOPED_TRACE(describe(p0, Params::runtime, "s32 per-column zb (composed)"));
    const DnnlResult prod = run_onednn(p0, false, {}, Params::runtime);
    const DnnlResult rows = run_onednn(ones, false, {}, Params::runtime);
    std::vector<int64_t> dnnl(want.size());
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j)
        dnnl[i * p.N + j] = static_cast<int64_t>(prod.s32[i * p.N + j]) - int64_t{p.zb[j]} * rows.s32[i];
    ASSERT_EQ(dnnl, want) << "oneDNN composition vs oracle";
    for (Isa isa : available_isas()) {
      SCOPED_TRACE(qgemm::isa_name(isa));
      ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
      std::vector<int32_t> got(want.size(), 0x5a5a5a5a);
      run_qgemm(p, qgemm::output_s32(), got.data());
      qgemm::reset_isa();
      if (HasFatalFailure()) return;
      for (size_t e = 0; e < got.size(); ++e)
        ASSERT_EQ(got[e], dnnl[e]) << "qgemm vs oneDNN at row " << e / p.N << " col " << e % p.N;
      qtest::record_verified(isa);
    }
  }
}

// f32 destination with per-tensor and per-column scales (see the rule at the top).
TEST(OneDnnCrossCheck, Float32Scaled) {
  std::mt19937 rng(4242);
  std::uniform_real_distribution<float> fs(0.001f, 0.1f);
  int idx = 0;
  for (const Shape& sh : shapes(rng))
    for (bool per_column : {false, true}) {
      const bool transposed = (idx & 1) != 0;
      const oracle::Problem p = make(sh.M, sh.N, sh.K, transposed, (idx++ % 3) == 1, 127, rng);
      const float sa = fs(rng);
      std::vector<float> sb(per_column ? static_cast<size_t>(p.N) : 1);
      for (auto& s : sb) s = fs(rng);
      std::vector<float> scale(sb.size());  // what oneDNN gets: sa*sb[j] in float32
      for (size_t j = 0; j < sb.size(); ++j) scale[j] = sa * sb[j];
      const std::vector<int64_t> acc = oracle::accumulate(p, nullptr);
      auto exact = [&](size_t e) {
        return static_cast<double>(acc[e]) * static_cast<double>(scale[per_column ? e % p.N : 0]);
      };
      auto close = [](float got, double ref) {
        return std::fabs(static_cast<double>(got) - ref) <= 2.0 * FLT_EPSILON * std::fabs(ref);
      };
      for (Params mode : {Params::creation, Params::runtime}) {
        SCOPED_TRACE(describe(p, mode, per_column ? "f32 per-column scales" : "f32 per-tensor scale"));
        const DnnlResult d = run_onednn(p, true, scale, mode);
        for (size_t e = 0; e < acc.size(); ++e)
          ASSERT_TRUE(close(d.f32[e], exact(e)))
              << "oneDNN " << d.f32[e] << " vs exact " << exact(e) << " at " << e;
      }
      const qgemm::OutputStage o = qgemm::output_f32(sa, sb.data(), per_column);
      const std::vector<uint8_t> want_bytes = oracle::expected_output(p, o, 0);
      for (Isa isa : available_isas()) {
        SCOPED_TRACE(describe(p, Params::creation, qgemm::isa_name(isa)));
        ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
        std::vector<float> got(static_cast<size_t>(p.M * p.N), -1.0f);
        run_qgemm(p, o, got.data());
        qgemm::reset_isa();
        if (HasFatalFailure()) return;
        ASSERT_EQ(std::memcmp(got.data(), want_bytes.data(), want_bytes.size()), 0) << "qgemm vs oracle bits";
        for (size_t e = 0; e < got.size(); ++e)
          ASSERT_TRUE(close(got[e], exact(e))) << "qgemm " << got[e] << " vs exact " << exact(e);
        qtest::record_verified(isa);
      }
    }
}

// Full-range data (A up to 255, B down to -128): qgemm must stay exact; oneDNN's differences
// from the oracle (vpmaddubsw saturation without VNNI) are only reported.
TEST(OneDnnCrossCheck, FullRangeQgemmExactOneDnnReported) {
  std::mt19937 rng(777);
  size_t dnnl_bad = 0, total = 0;
  std::vector<Shape> sh = {{4, 16, 64}, {9, 33, 200}, {16, 64, 256}};
  for (const Shape& s : sh)
    for (bool extremes : {false, true}) {
      oracle::Problem p = make(s.M, s.N, s.K, extremes, false, 255, rng);
      if (extremes) {  // the saturating pattern: A = 255 next to B = 127 or -128
        for (auto& v : p.a) v = 255;
        for (auto& v : p.b) v = (rng() & 1) ? 127 : -128;
      }
      const std::vector<int64_t> want = oracle::accumulate(p, nullptr);
      const DnnlResult d = run_onednn(p, false, {}, Params::creation);
      for (size_t e = 0; e < want.size(); ++e) dnnl_bad += (d.s32[e] != want[e]);
      total += want.size();
      for (Isa isa : available_isas()) {
        SCOPED_TRACE(describe(p, Params::creation, qgemm::isa_name(isa)));
        ASSERT_EQ(qgemm::set_isa(isa), qgemm::Status::ok);
        std::vector<int32_t> got(want.size(), 0);
        run_qgemm(p, qgemm::output_s32(), got.data());
        qgemm::reset_isa();
        if (HasFatalFailure()) return;
        for (size_t e = 0; e < want.size(); ++e) ASSERT_EQ(got[e], want[e]) << "qgemm vs oracle at " << e;
        qtest::record_verified(isa);
      }
    }
  std::printf("[  NOTE    ] oneDNN full-range u8 x s8: %zu of %zu int32 results differ from the exact oracle%s\n",
              dnnl_bad, total,
              dnnl_bad ? " (expected on CPUs without VNNI: vpmaddubsw int16 saturation)" : "");
  RecordProperty("onednn_inexact_elements", static_cast<int>(dnnl_bad));
}

}  // namespace

#else
TEST(OneDnnCrossCheck, NotBuilt) { GTEST_SKIP() << "built without oneDNN (QGEMM_WITH_ONEDNN=OFF)"; }
#endif
