// Tests of the AMX kernel beyond the per-ISA suites (which cover it wherever amx is available:
// natively on a CPU with AMX, and in the x86 emulation build everywhere):
//  - every edge of its tiling: M around the 16-row C tile and the 32-row tile, N around the
//    16-column B tile and the 32-column panel, K around the 64-byte tdpbusd step (the short
//    last step copies the B rows into a zeroed buffer), K blocked by the driver into 64-byte
//    multiples; the path counters prove both K step kinds ran;
//  - the per-task tile configuration: in the emulation build a tile instruction without
//    LDTILECFG stops the process, as the hardware faults, so the driver's task hooks are proved
//    by every passing gemm and directly by the death tests here;
//  - dispatch on a CPU or OS without AMX: not available, with the reason, and forcing it is an
//    unsupported_isa status.
#if defined(__x86_64__)

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../kernels/path_counters.hpp"
#include "../kernels/ukernel.hpp"
#include "cpu.hpp"
#include "test_hooks.hpp"
#include "test_util.hpp"

namespace qgemm {
namespace detail {
extern const GemmConfig kGemmConfig_amx __attribute__((weak));
}  // namespace detail
}  // namespace qgemm

namespace {

using qgemm::Isa;
using qgemm::OutputType;
using qgemm::Status;
using qgemm::detail::Path;
using qgemm::detail::path_count;
using qtest::run_and_compare;

class AmxKernel : public testing::Test {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(Isa::amx))
      GTEST_SKIP() << "amx is not available here: " << qgemm::isa_unavailable_reason(Isa::amx);
    ASSERT_EQ(qgemm::set_isa(Isa::amx), Status::ok) << qgemm::last_error_message();
    qgemm::detail::start_path_counting();
  }
  void TearDown() override {
    qgemm::detail::stop_path_counting();
    qgemm::detail::set_kc_for_testing(0);
    qgemm::reset_isa();
  }
};

// Four output stages of one problem: s32 with bias, u8 fixed point per column, s8 float
// multiplier, f32 per column with float bias.
void run_stages(const oracle::Problem& p, const std::string& what) {
  const size_t n = static_cast<size_t>(p.N);
  std::vector<int32_t> mult(n, 1 << 30), shift(n, -9);
  std::vector<float> ws(n, 0.002f);
  const int32_t* bias = p.bias_s32.empty() ? nullptr : p.bias_s32.data();
  const float* fbias = p.bias_f32.empty() ? nullptr : p.bias_f32.data();
  for (size_t j = 0; j < n; ++j) {
    mult[j] = (1 << 30) + static_cast<int32_t>(j * 7919);
    ws[j] = 0.001f + 0.0001f * static_cast<float>(j % 13);
  }
  run_and_compare(p, qgemm::output_s32(bias), what + " s32");
  run_and_compare(p, qgemm::output_fixed_point(OutputType::u8, mult.data(), shift.data(), true, 7, bias),
                  what + " u8 fixed");
  run_and_compare(p, qgemm::output_float_multiplier(OutputType::s8, 0.02f, ws.data(), true, 0.5f, -3, bias),
                  what + " s8 float multiplier");
  run_and_compare(p, qgemm::output_f32(0.05f, ws.data(), true, fbias), what + " f32");
}

TEST_F(AmxKernel, EveryTileEdge) {
  std::mt19937 rng(17);
  qtest::GenOptions g;
  g.zb_per_column = true;
  g.bias = true;
  uint64_t cases = 0;
  for (int64_t M : {1, 2, 15, 16, 17, 31, 32, 33, 48, 64, 65})
    for (int64_t N : {1, 15, 16, 17, 31, 32, 33, 64, 65})
      for (int64_t K : {1, 4, 60, 63, 64, 65, 68, 127, 128, 129, 300}) {
        // Not every combination of the three: M and N edges at every K would be 1089 cases of
        // four stages in the emulation; a rotating subset still meets each edge at every K.
        if ((M * 31 + N * 7 + K) % 3 != 0 && !(M == 33 && N == 33)) continue;
        g.extremes = (++cases % 4) == 0;
        const oracle::Problem p = qtest::make_problem(M, N, K, g, rng);
        run_stages(p, "edges");
        if (HasFatalFailure()) return;
      }
  EXPECT_GT(path_count(Path::amx_tile), 0u);
  EXPECT_GT(path_count(Path::amx_short_k_step), 0u) << "no K ended in a short step";
}

TEST_F(AmxKernel, ShortKStepOnlyWhenKIsNotWhole64ByteSteps) {
  std::mt19937 rng(3);
  qtest::GenOptions g;
  g.extremes = true;
  run_and_compare(qtest::make_problem(33, 40, 256, g, rng), qgemm::output_s32(), "K = 4 steps");
  const uint64_t tiles = path_count(Path::amx_tile);
  EXPECT_EQ(tiles, 4u) << "2 row tiles x 2 panels";
  EXPECT_EQ(path_count(Path::amx_short_k_step), 0u);
  run_and_compare(qtest::make_problem(33, 40, 257, g, rng), qgemm::output_s32(), "K = 4 steps + 1");
  EXPECT_EQ(path_count(Path::amx_short_k_step), 4u);
}

// The driver's K blocks (int32 partial sums through StageParams::acc_in): KC forced to one
// and to three 64-byte steps, K not a multiple of either.
TEST_F(AmxKernel, DriverKBlocks) {
  std::mt19937 rng(5);
  qtest::GenOptions g;
  g.bias = true;
  g.zb_per_column = true;
  for (size_t kc : {64u, 192u}) {
    qgemm::detail::set_kc_for_testing(kc);
    qgemm::detail::GemmBlocking blk{};
    ASSERT_TRUE(qgemm::detail::gemm_blocking_for_testing(Isa::amx, 1000, &blk));
    EXPECT_EQ(blk.kc, kc) << "KC must be whole 64-byte steps";
    for (int64_t M : {1, 17, 40})
      for (int64_t K : {129, 1000}) run_stages(qtest::make_problem(M, 45, K, g, rng), "kc " + std::to_string(kc));
  }
}

TEST_F(AmxKernel, ThreadsAndPoolsEachConfigureTheirTiles) {
  qtest::SplitEverything split;
  std::mt19937 rng(9);
  qtest::GenOptions g;
  const oracle::Problem p = qtest::make_problem(70, 200, 300, g, rng);
  run_and_compare(p, qgemm::output_s32(), "OpenMP");
  // A pool of plain threads, none of which ran a tile instruction before.
  qgemm::GemmOptions opt;
  opt.parallel_ctx = nullptr;
  opt.parallel_for = [](void*, size_t n, void (*task)(void*, size_t), void* arg) {
    std::vector<std::thread> ts;
    for (size_t t = 0; t < n; ++t) ts.emplace_back(task, arg, t);
    for (auto& t : ts) t.join();
  };
  run_and_compare(p, qgemm::output_s32(), "std::thread per task", opt);
}

#if defined(QGEMM_TEST_EMULATED)
// The emulated tiles refuse what the hardware refuses: a kernel call before the task's
// configuration, or after its release, stops the process (the native instruction faults).
using AmxKernelDeathTest = AmxKernel;

TEST_F(AmxKernelDeathTest, TileUseWithoutConfigurationFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const qgemm::detail::GemmConfig& cfg = qgemm::detail::kGemmConfig_amx;
  std::vector<uint8_t> a(cfg.a_tile_bytes(64), 1);
  std::vector<int8_t> b(64 * 32, 1);
  std::vector<int32_t> zeros(64, 0), c(32 * 32, 0);
  qgemm::detail::StageParams sp{};
  sp.kind = qgemm::detail::StageKind::s32;
  sp.out_bytes = 4;
  sp.col_off = zeros.data();
  sp.zb = zeros.data();
  const qgemm::detail::TileArgs ta;
  auto call = [&] { cfg.ukernel(1, 32, 64, a.data(), 0, 0, b.data(), zeros.data(), c.data(), 32 * 4, &sp, &ta, 0); };
  EXPECT_DEATH(call(), "without a loaded tile configuration");
  EXPECT_DEATH(
      {
        cfg.task_begin();
        cfg.task_end();
        call();
      },
      "without a loaded tile configuration");
  cfg.task_begin();
  call();
  cfg.task_end();
  EXPECT_EQ(c[0], 64) << "1 x 1 summed over K = 64";
}
#endif

}  // namespace

// Not in a fixture: runs where amx is unavailable too.
TEST(AmxDispatch, UnavailableMeansAReasonAndUnsupportedIsa) {
  if (qgemm::isa_available(Isa::amx)) {
    EXPECT_STREQ(qgemm::isa_unavailable_reason(Isa::amx), "");
    GTEST_SKIP() << "amx is available here";
  }
  const std::string why = qgemm::isa_unavailable_reason(Isa::amx);
  EXPECT_FALSE(why.empty());
  EXPECT_TRUE(why.find("amx") != std::string::npos || why.find("AMX") != std::string::npos) << why;
  const Isa before = qgemm::active_isa();
  EXPECT_EQ(qgemm::set_isa(Isa::amx), Status::unsupported_isa);
  EXPECT_NE(std::string(qgemm::last_error_message()).find(why), std::string::npos) << qgemm::last_error_message();
  EXPECT_EQ(qgemm::active_isa(), before);
  std::printf("[ AMX      ] not available: %s\n", why.c_str());
}

// Each OS refusal has its own reason; the request is only made once XCR0 has the tile state.
TEST(AmxDispatch, OsRefusalsSayWhich) {
  static int requests = 0;
  auto grant = [] { return ++requests, true; };
  auto refuse = [] { return ++requests, false; };
  const uint64_t tiles = (1ull << 17) | (1ull << 18), avx512_state = 0xe7;
  const char* r = qgemm::detail::amx_os_refusal(avx512_state, grant);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(std::string(r).find("XCR0"), std::string::npos) << r;
  r = qgemm::detail::amx_os_refusal(avx512_state | (1ull << 17), grant);
  ASSERT_NE(r, nullptr) << "XTILEDATA (bit 18) missing";
  EXPECT_EQ(requests, 0) << "asked the OS although XCR0 lacks the tile state";
  r = qgemm::detail::amx_os_refusal(avx512_state | tiles, refuse);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(std::string(r).find("ARCH_REQ_XCOMP_PERM"), std::string::npos) << r;
  EXPECT_EQ(qgemm::detail::amx_os_refusal(avx512_state | tiles, grant), nullptr);
  EXPECT_EQ(requests, 2);
}

#endif  // __x86_64__
