// Tests of the zmm kernels beyond the per-ISA oracle suite:
//  - avx512bw: adversarial data for vpmaddubsw's int16 saturation (A = 255 with B pairs
//    (127,127), (-128,-128), (127,-128)), per-tensor and per-channel zero points, odd and even
//    K, tiles and K chunks that mix safe and unsafe data; the path counters prove which
//    arithmetic ran on which chunk, the oracle that every result is exact.
//  - avx512vnni: the small-M path (M <= 16, A read in place), with A placed right before an
//    inaccessible page so that a read past the last row would crash; the path counters prove
//    that A was not packed.
// Skipped where the CPU (or build) lacks the ISA; run under QGEMM_X86_EMULATION everywhere.
#if defined(__x86_64__)

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../kernels/path_counters.hpp"
#include "../kernels/ukernel.hpp"
#include "test_hooks.hpp"
#include "test_util.hpp"

// Weak: the test links (and skips) in a build without these kernels.
namespace qgemm {
namespace detail {
extern const GemmConfig kGemmConfig_avx512bw __attribute__((weak));
}  // namespace detail
}  // namespace qgemm

namespace {

using qgemm::Isa;
using qgemm::OutputStage;
using qgemm::Status;
using qgemm::WeightLayout;
using qtest::run_and_compare;
using qgemm::detail::Path;
using qgemm::detail::path_count;

// The fixtures switch the path counters on for the whole test (kernels/path_counters.hpp).
struct BwCount {
  uint64_t maddubs, exact;
};
BwCount bw_count() { return {path_count(Path::avx512bw_maddubs_chunk), path_count(Path::avx512bw_exact_chunk)}; }
struct VnniCount {
  uint64_t in_place, packed, pair, row_tiles;
};
VnniCount vnni_count() {
  return {path_count(Path::avx512vnni_a_in_place), path_count(Path::avx512vnni_a_packed),
          path_count(Path::avx512vnni_tile_pair), path_count(Path::avx512vnni_row_tiles)};
}

// Bytes that end exactly where an inaccessible page begins: reading one byte past them faults.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t n) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (n + page_ - 1) / page_ + 1;
    total_ = (data_pages + 1) * page_;
    void* m = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    base_ = static_cast<uint8_t*>(m);
    if (mprotect(base_ + data_pages * page_, page_, PROT_NONE) != 0) return;
    data_ = base_ + data_pages * page_ - n;
  }
  ~GuardedBytes() {
    if (base_) munmap(base_, total_);
  }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  uint8_t* data() const { return data_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t page_ = 0, total_ = 0;
};

// Runs p through qgemm with A copied right before a guard page and compares with the oracle
// (including C's padding). Returns false after recording a failure.
bool run_guarded(const oracle::Problem& p, const OutputStage& o, const std::string& what,
                 const qgemm::GemmOptions& opt = qgemm::GemmOptions{}) {
  SCOPED_TRACE(what + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) + " K=" +
               std::to_string(p.K) + " lda=" + std::to_string(p.lda));
  const size_t a_bytes = static_cast<size_t>(p.M > 0 ? (p.M - 1) * p.lda + p.K : 0);
  GuardedBytes a(a_bytes);
  EXPECT_NE(a.data(), nullptr) << "mmap/mprotect failed";
  if (!a.data()) return false;
  std::memcpy(a.data(), p.a.data(), a_bytes);
  qgemm::PackedWeights* w = nullptr;
  EXPECT_EQ(qgemm::pack_weights(p.b.data(), p.layout, p.K, p.N, p.ldb, p.zb.data(), p.zb_per_column, &w),
            Status::ok)
      << qgemm::last_error_message();
  if (!w) return false;
  const uint8_t fill = 0x5A;
  const std::vector<uint8_t> want = oracle::expected_output(p, o, fill);
  std::vector<uint8_t> got(want.size(), fill);
  const Status s = qgemm::gemm(p.M, a.data(), p.lda, p.za, w, o, got.data(), p.ldc, opt);
  qgemm::destroy_packed_weights(w);
  EXPECT_EQ(s, Status::ok) << qgemm::last_error_message();
  EXPECT_TRUE(got == want) << "result differs from the oracle";
  if (s != Status::ok || got != want) return false;
  qtest::record_verified(qgemm::active_isa());
  return true;
}

// ---------------------------------------------------------------------------------------
// avx512bw: exact for every input

class Avx512bwExact : public testing::Test {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(Isa::avx512bw))
      GTEST_SKIP() << "avx512bw is not available here (CPU lacks it or it is not built)";
    ASSERT_EQ(qgemm::set_isa(Isa::avx512bw), Status::ok) << qgemm::last_error_message();
    qgemm::detail::start_path_counting();
  }
  void TearDown() override {
    qgemm::detail::stop_path_counting();
    qgemm::reset_isa();
  }
};

// A = a_val everywhere; B[k][j] = pair[k % 2] (so every k-group holds the pair twice).
oracle::Problem pair_problem(int64_t M, int64_t N, int64_t K, uint8_t a_val, int8_t b0, int8_t b1,
                             WeightLayout layout, bool per_col, std::mt19937& rng) {
  qtest::GenOptions g;
  g.layout = layout;
  g.zb_per_column = per_col;
  g.bias = true;
  g.lda_pad = 3;
  g.ldc_pad = 5;
  oracle::Problem p = qtest::make_problem(M, N, K, g, rng);
  std::fill(p.a.begin(), p.a.end(), a_val);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      const size_t idx = static_cast<size_t>(layout == WeightLayout::kn ? k * p.ldb + j : j * p.ldb + k);
      p.b[idx] = (k % 2 == 0) ? b0 : b1;
    }
  return p;
}

void run_stages(const oracle::Problem& p, const std::string& what) {
  const int32_t* bias = p.bias_s32.data();
  run_and_compare(p, qgemm::output_s32(bias), what + " s32");
  const std::vector<float> wscale(static_cast<size_t>(p.N), 1e-4f);
  run_and_compare(p, qgemm::output_f32(0.5f, wscale.data(), true, p.bias_f32.data()), what + " f32");
  const std::vector<int32_t> mult(static_cast<size_t>(p.N), 1518500250), shift(static_cast<size_t>(p.N), -10);
  run_and_compare(p, qgemm::output_fixed_point(qgemm::OutputType::u8, mult.data(), shift.data(), true, 128, bias),
                  what + " u8 fixed");
}

const int8_t kPairs[3][2] = {{127, 127}, {-128, -128}, {127, -128}};

// A = 255: the pair sums 64770 and -65280 overflow int16 (and (127,-128) is exact only by
// luck of the signs); only the exact path may run, and the results must match the oracle.
TEST_F(Avx512bwExact, AllOnesAWithExtremePairsTakesExactPath) {
  std::mt19937 rng(11);
  int idx = 0;
  for (const auto& pr : kPairs)
    for (int64_t K : {2, 3, 63, 64, 257, 300})
      for (bool per_col : {false, true}) {
        const WeightLayout layout = (idx++ & 1) ? WeightLayout::nk : WeightLayout::kn;
        const auto p = pair_problem(9, 40, K, 255, pr[0], pr[1], layout, per_col, rng);
        const BwCount before = bw_count();
        run_stages(p, "A=255 B=(" + std::to_string(pr[0]) + "," + std::to_string(pr[1]) + ")" +
                          (per_col ? " zb per column" : " zb per tensor"));
        const BwCount after = bw_count();
        EXPECT_GT(after.exact - before.exact, 0u);
        EXPECT_EQ(after.maddubs - before.maddubs, 0u) << "vpmaddubsw ran on A bytes of 255";
        if (HasFailure()) return;
      }
}

// A = 127: no pair sum can saturate (|127*b0 + 127*b1| <= 32512), so vpmaddubsw is used, and
// the results must match the oracle.
TEST_F(Avx512bwExact, SevenBitAWithExtremePairsTakesMaddubsPath) {
  std::mt19937 rng(12);
  int idx = 0;
  for (const auto& pr : kPairs)
    for (int64_t K : {1, 4, 63, 64, 257, 300})
      for (bool per_col : {false, true}) {
        const WeightLayout layout = (idx++ & 1) ? WeightLayout::nk : WeightLayout::kn;
        const auto p = pair_problem(9, 40, K, 127, pr[0], pr[1], layout, per_col, rng);
        const BwCount before = bw_count();
        run_stages(p, "A=127 B=(" + std::to_string(pr[0]) + "," + std::to_string(pr[1]) + ")");
        const BwCount after = bw_count();
        EXPECT_GT(after.maddubs - before.maddubs, 0u);
        EXPECT_EQ(after.exact - before.exact, 0u) << "A <= 127 should take the vpmaddubsw path";
        if (HasFailure()) return;
      }
}

// One call whose tiles and K chunks mix safe and unsafe data: M = 16 (two 8-row tiles), K in
// three chunks of 256, N = 40 (two 32-column panels). Rows 8..15 hold 255 only in k-chunk 1,
// rows 0..7 are 127 everywhere. Per panel: tile 0 -> 3 maddubs chunks; tile 1 -> 2 maddubs
// chunks + 1 exact chunk. So exactly 10 maddubs and 2 exact chunks per call.
TEST_F(Avx512bwExact, ChunksMixingSafeAndUnsafeDataChooseEachPath) {
  std::mt19937 rng(13);
  int idx = 0;
  for (const auto& pr : kPairs)
    for (int64_t K : {767, 768})
      for (bool per_col : {false, true}) {
        const WeightLayout layout = (idx++ & 1) ? WeightLayout::nk : WeightLayout::kn;
        auto p = pair_problem(16, 40, K, 127, pr[0], pr[1], layout, per_col, rng);
        for (int64_t i = 8; i < 16; ++i)
          for (int64_t k = 256; k < 512; ++k) p.a[static_cast<size_t>(i * p.lda + k)] = 255;
        const BwCount before = bw_count();
        run_and_compare(p, qgemm::output_s32(p.bias_s32.data()), "mixed chunks s32");
        const BwCount after = bw_count();
        EXPECT_EQ(after.maddubs - before.maddubs, 10u);
        EXPECT_EQ(after.exact - before.exact, 2u);
        if (HasFailure()) return;
      }
}

// Random data: mostly 7-bit A with sparse 255 bytes, random B with many extreme pairs, extreme
// zero points; every stage.
TEST_F(Avx512bwExact, RandomMixedData) {
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> pick(0, 99), s8(-128, 127), a7(0, 127);
  uint64_t saw_maddubs = 0, saw_exact = 0;
  for (int rep = 0; rep < 12; ++rep) {
    qtest::GenOptions g;
    g.layout = (rep & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (rep & 2) != 0;
    g.bias = true;
    const int64_t M = 1 + rep * 3, N = 5 + rep * 11, K = 1 + rep * 97;
    auto p = qtest::make_problem(M, N, K, g, rng);
    const int sparse = rep % 3 == 0 ? 0 : 1;  // some problems are entirely 7-bit
    for (auto& v : p.a) v = static_cast<uint8_t>(pick(rng) < sparse ? 255 : a7(rng));
    for (auto& v : p.b) v = static_cast<int8_t>(pick(rng) < 50 ? (pick(rng) < 50 ? 127 : -128) : s8(rng));
    const BwCount before = bw_count();
    run_stages(p, "random mixed");
    const BwCount after = bw_count();
    saw_maddubs += after.maddubs - before.maddubs;
    saw_exact += after.exact - before.exact;
    if (HasFailure()) return;
  }
  EXPECT_GT(saw_maddubs, 0u);
  EXPECT_GT(saw_exact, 0u);
}

// The kernel's own A packing and the microkernel, called directly: A ends at a guard page (a
// read of a row >= m or of a byte >= K of the last row faults) and the packed tile ends at one
// too (a write past a_tile_bytes(kp) faults). K = 280 or 279 (two chunks: 64 + 6 k-groups, the
// second ending in a padded group when K = 279); chunk 0 is unsafe in the last row only, chunk
// 1 is safe, so exactly one chunk of each kind runs.
TEST_F(Avx512bwExact, UkernelOnItsOwnPackedA) {
  using qgemm::detail::StageKind;
  using qgemm::detail::StageParams;
  const auto& cfg = qgemm::detail::kGemmConfig_avx512bw;
  ASSERT_EQ(cfg.nr, 32u);
  ASSERT_EQ(cfg.kr, 4u);
  ASSERT_NE(cfg.pack_a_tile, nullptr);
  ASSERT_NE(cfg.a_tile_bytes, nullptr);
  std::mt19937 rng(15);
  std::uniform_int_distribution<int> s8(-128, 127), u8(0, 255), a7(0, 127);
  for (size_t K : {280u, 279u})
    for (size_t m : {1u, 5u, 8u})
      for (size_t n : {32u, 20u}) {
        const size_t kp = (K + 3) / 4 * 4, lda = K + 3;
        std::vector<uint8_t> a(m * lda);
        for (size_t i = 0; i < m; ++i)
          for (size_t k = 0; k < K; ++k)
            a[i * lda + k] = static_cast<uint8_t>(k < 256 && i == m - 1 ? u8(rng) | 0x80 : a7(rng));
        std::vector<int8_t> b(kp * 32);
        for (auto& v : b) v = static_cast<int8_t>(s8(rng));
        const std::vector<int32_t> zeros(32, 0);
        std::vector<int32_t> row_sum(m, 0);
        StageParams sp{};
        const qgemm::detail::TileArgs ta;
        sp.kind = StageKind::s32;
        sp.out_bytes = 4;
        sp.col_off = zeros.data();
        sp.zb = zeros.data();
        GuardedBytes ga((m - 1) * lda + K);
        GuardedBytes packed(cfg.a_tile_bytes(kp));
        ASSERT_NE(ga.data(), nullptr);
        ASSERT_NE(packed.data(), nullptr);
        std::memcpy(ga.data(), a.data(), (m - 1) * lda + K);
        std::vector<int32_t> c(m * 33, 0x5A5A5A5A);
        const BwCount before = bw_count();
        cfg.pack_a_tile(m, K, kp, ga.data(), lda, packed.data());
        cfg.ukernel(m, n, kp, packed.data(), 0, 0, b.data(), row_sum.data(), c.data(), 33 * sizeof(int32_t), &sp, &ta, 0);
        const BwCount after = bw_count();
        EXPECT_EQ(after.exact - before.exact, 1u);
        EXPECT_EQ(after.maddubs - before.maddubs, 1u);
        for (size_t i = 0; i < m; ++i)
          for (size_t j = 0; j < 33; ++j) {
            int64_t want = 0x5A5A5A5A;
            if (j < n) {
              want = 0;
              for (size_t k = 0; k < K; ++k) want += int64_t{a[i * lda + k]} * b[(k / 4) * 128 + j * 4 + k % 4];
            }
            ASSERT_EQ(c[i * 33 + j], want) << "K=" << K << " m=" << m << " n=" << n << " row " << i << " col " << j;
          }
      }
}

// ---------------------------------------------------------------------------------------
// avx512vnni: the small-M path

class Avx512vnniSmallM : public testing::Test {
 protected:
  void SetUp() override {
    if (!qgemm::isa_available(Isa::avx512vnni))
      GTEST_SKIP() << "avx512vnni is not available here (CPU lacks it or it is not built)";
    ASSERT_EQ(qgemm::set_isa(Isa::avx512vnni), Status::ok) << qgemm::last_error_message();
    qgemm::detail::start_path_counting();
  }
  void TearDown() override {
    qgemm::detail::stop_path_counting();
    qgemm::reset_isa();
  }
};

// M = 1..16 (and, since A is read in place at every M, beyond) with K % 4 == 0: A is read in
// place (never packed), one call per 64 columns (one tile, a pair of tiles at M = 7-12, row
// tiles above); A sits right before a guard page; every result equals the oracle.
TEST_F(Avx512vnniSmallM, InPlaceAForMUpTo16) {
  std::mt19937 rng(21);
  const int64_t Ns[] = {1, 17, 64, 65, 130, 300};
  const int64_t Ks[] = {4, 8, 60, 256, 1028, 4100};
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t M = 1; M <= 16; ++M) {
    shapes.push_back({M, Ns[M % 6], Ks[(M * 5) % 6]});
    shapes.push_back({M, M % 4 == 0 ? 300 : Ns[(M + 2) % 6], M % 3 == 0 ? 4100 : Ks[M % 6]});
  }
  for (const auto& shape : shapes) {
    const int64_t M = shape[0], N = shape[1], K = shape[2];
    qtest::GenOptions g;
    g.layout = (M & 1) ? WeightLayout::nk : WeightLayout::kn;
    g.zb_per_column = (M & 2) != 0;
    g.bias = true;
    g.lda_pad = (M % 3) * 5;  // 0, 5, 10: dense and strided rows
    g.ldc_pad = 3;
    const auto p = qtest::make_problem(M, N, K, g, rng);
    const std::vector<float> wscale(static_cast<size_t>(N), 2e-5f);
    const std::vector<int32_t> mult(static_cast<size_t>(N), 1518500250), shift(static_cast<size_t>(N), -12);
    const OutputStage stages[] = {
        qgemm::output_s32(p.bias_s32.data()),
        qgemm::output_fixed_point(qgemm::OutputType::u8, mult.data(), shift.data(), true, 128, p.bias_s32.data()),
        qgemm::output_f32(0.5f, wscale.data(), true, p.bias_f32.data())};
    const char* names[] = {"s32", "u8 fixed", "f32"};
    for (int s = 0; s < 3; ++s) {
      const VnniCount before = vnni_count();
      qgemm::GemmOptions one;  // one task, so that the calls counted below do not depend on the grid
      one.num_threads = 1;
      if (!run_guarded(p, stages[s], names[s], one)) return;
      const VnniCount after = vnni_count();
      EXPECT_STREQ(qgemm::last_kernel_name(), "u8s8_gemm_6x64c4__avx512vnni");
      // One call per tile and K block of the driver (test hook: the K block at this K).
      qgemm::detail::GemmBlocking bl{};
      ASSERT_TRUE(qgemm::detail::gemm_blocking_for_testing(Isa::avx512vnni, K, &bl));
      const uint64_t kp = static_cast<uint64_t>((K + 3) / 4 * 4), kblocks = (kp + bl.kc - 1) / bl.kc;
      // One call per panel and K block (max_rows_per_call: M <= 16 is one MC block): M = 7-12 as
      // two row tiles over B chunks, M = 13-16 as consecutive row tiles.
      const bool pair = M > 6 && M <= 12, row_tiles = M > 12;
      const uint64_t calls = static_cast<uint64_t>((N + 63) / 64) * kblocks;
      EXPECT_EQ(after.in_place - before.in_place, calls) << "M=" << M << " N=" << N << " K=" << K;
      EXPECT_EQ(after.pair - before.pair, pair ? calls : 0u) << "M=" << M << " N=" << N << " K=" << K;
      EXPECT_EQ(after.row_tiles - before.row_tiles, row_tiles ? calls : 0u) << "M=" << M << " N=" << N << " K=" << K;
      EXPECT_EQ(after.packed - before.packed, 0u) << "A was packed for M=" << M;
      if (HasFailure()) return;
    }
  }
}

// The packed path: K % 4 != 0 (A in place needs whole K groups), at small and larger M.
TEST_F(Avx512vnniSmallM, PackedAWhenKNotGrouped) {
  std::mt19937 rng(22);
  for (auto s : std::vector<std::array<int64_t, 3>>{{17, 70, 63}, {1, 65, 5}, {16, 33, 1027}, {40, 300, 4099}}) {
    qtest::GenOptions g;
    g.zb_per_column = true;
    g.bias = true;
    g.lda_pad = 7;
    const auto p = qtest::make_problem(s[0], s[1], s[2], g, rng);
    const VnniCount before = vnni_count();
    if (!run_guarded(p, qgemm::output_s32(p.bias_s32.data()), "s32")) return;
    const VnniCount after = vnni_count();
    EXPECT_EQ(after.in_place - before.in_place, 0u);
    EXPECT_GT(after.packed - before.packed, 0u);
  }
}

}  // namespace

#endif  // __x86_64__
