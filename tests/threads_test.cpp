// Threads and concurrency: every thread count 1..4 (OpenMP or the calling thread), a caller's
// std::thread pool (C++ and C API), a pool that re-enters gemm while it waits, and many threads
// sharing one PackedWeights with their own A and C: every result byte-identical to the oracle.
// These tests also run in the ThreadSanitizer build (scripts/test-robustness).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "qgemm/qgemm.h"
#include "test_hooks.hpp"
#include "test_util.hpp"


namespace {

using qtest::SplitEverything;

using qgemm::OutputStage;
using qgemm::OutputType;
using qgemm::Status;

// A caller's pool: `workers` std::threads per call; worker w runs tasks w, w + workers, ...
// (a fixed assignment rather than a shared counter: with tasks this small, the calling thread
// would otherwise run them all before the others start, and ThreadSanitizer could only see the
// races of an execution where tasks really ran on different threads). Records how many tasks
// gemm asked for.
struct StdThreadPool {
  int workers = 3;
  std::atomic<size_t> last_n_tasks{0};
  std::atomic<size_t> calls{0};
  static void parallel_for(void* ctx, size_t n_tasks, void (*task)(void*, size_t), void* arg) {
    auto* self = static_cast<StdThreadPool*>(ctx);
    self->last_n_tasks = n_tasks;
    self->calls++;
    const size_t stride = static_cast<size_t>(self->workers);
    auto work = [&](size_t first) {
      for (size_t i = first; i < n_tasks; i += stride) task(arg, i);
    };
    std::vector<std::thread> ts;
    for (size_t w = 1; w < stride; ++w) ts.emplace_back(work, w);
    work(0);
    for (auto& t : ts) t.join();
  }
};

struct Stages {
  std::vector<int32_t> mult, shift;
  std::vector<float> wscale;
  std::vector<OutputStage> list;
  Stages(const oracle::Problem& p, std::mt19937& rng) {
    const size_t n = static_cast<size_t>(std::max<int64_t>(p.N, 1));
    std::uniform_int_distribution<int32_t> m(1 << 28, (1 << 30) - 1), s(-12, -4);
    std::uniform_real_distribution<float> f(0.001f, 0.01f);
    for (size_t j = 0; j < n; ++j) {
      mult.push_back(m(rng));
      shift.push_back(s(rng));
      wscale.push_back(f(rng));
    }
    const int32_t* bias = p.bias_s32.empty() ? nullptr : p.bias_s32.data();
    const float* fbias = p.bias_f32.empty() ? nullptr : p.bias_f32.data();
    list.push_back(qgemm::output_s32(bias));
    list.push_back(qgemm::output_fixed_point(OutputType::u8, mult.data(), shift.data(), true, 7, bias));
    list.push_back(qgemm::output_float_multiplier(OutputType::s8, 0.5f, wscale.data(), true, 3.0f, -2,
                                                  nullptr, fbias));
    list.push_back(qgemm::output_f32(0.25f, wscale.data(), true, fbias));
  }
};

size_t out_bytes(const oracle::Problem& p, const OutputStage& o) {
  const size_t es = qgemm::output_element_size(o.type);
  return static_cast<size_t>(p.M > 0 ? (p.M - 1) * p.ldc + p.N : 0) * es;
}

class Threads : public qtest::IsaTest {};

// Every thread count 1..4 through the default path (OpenMP where built) and through a caller's
// pool gives exactly the oracle's bytes, for shapes around the tile edges and every stage kind.
TEST_P(Threads, EveryThreadCountAndPoolMatchesOracle) {
  SplitEverything split;
  std::mt19937 rng(8);
  const int64_t shapes[][3] = {{1, 1, 1},    {1, 100, 64}, {1, 33, 5},   {2, 9, 17},  {3, 64, 4},
                               {4, 8, 8},    {5, 17, 33},  {7, 130, 12}, {16, 16, 1}, {17, 31, 67},
                               {33, 65, 20}, {64, 7, 9},   {130, 40, 33}};
  StdThreadPool pool;
  long checked = 0;
  for (const auto& s : shapes) {
    qtest::GenOptions g;
    g.bias = true;
    g.zb_per_column = (checked & 1) != 0;
    g.set_signs(static_cast<int>(&s - shapes) % 4);  // every sign combination
    g.lda_pad = 3;
    g.ldc_pad = 5;
    const auto p = qtest::make_problem(s[0], s[1], s[2], g, rng);
    Stages st(p, rng);
    qgemm::PackedWeights* w = nullptr;
    ASSERT_EQ(qtest::pack_problem(p, &w), Status::ok);
    for (const OutputStage& o : st.list) {
      const std::vector<uint8_t> want = oracle::expected_output(p, o, 0xA5);
      ASSERT_EQ(want.size(), out_bytes(p, o));
      for (int variant = 0; variant < 9; ++variant) {
        qgemm::GemmOptions opt;
        if (variant < 4) {
          opt.num_threads = variant + 1;  // 1..4 on OpenMP
        } else {
          opt.num_threads = variant - 3;  // 1..5 on the caller's pool
          opt.parallel_for = &StdThreadPool::parallel_for;
          opt.parallel_ctx = &pool;
        }
        std::vector<uint8_t> got(want.size() + 64, 0xA5);
        ASSERT_EQ(qtest::gemm_problem(p, w, o, got.data(), p.ldc, opt), Status::ok) << qgemm::last_error_message();
        for (size_t i = want.size(); i < got.size(); ++i) ASSERT_EQ(got[i], 0xA5) << "write past C";
        got.resize(want.size());
        ASSERT_TRUE(got == want) << "M=" << p.M << " N=" << p.N << " K=" << p.K << " variant " << variant
                                 << " type " << static_cast<int>(o.type);
        qtest::record_verified(qgemm::active_isa(), (p.a_signed ? 1 : 0) + (p.b_unsigned ? 2 : 0));
        ++checked;
      }
    }
    qgemm::destroy_packed_weights(w);
  }
  EXPECT_GT(pool.calls.load(), 0u) << "the caller's pool was never used";
}

// The task grid: M = 1 (decode) splits over N panels, one task per thread; a wide problem asks
// the pool for as many tasks as threads; a single tile is never split.
TEST_P(Threads, SmallMSplitsOverNAndTaskCountFollowsThreads) {
  SplitEverything split;
  std::mt19937 rng(3);
  const auto p = qtest::make_problem(1, 512, 64, {}, rng);
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(p.b.data(), p.layout, p.K, p.N, p.ldb, p.zb.data(), false, &w), Status::ok);
  StdThreadPool pool;
  std::vector<int32_t> c(512);
  for (int t = 1; t <= 8; ++t) {
    pool.calls = 0;
    qgemm::GemmOptions opt;
    opt.num_threads = t;
    opt.parallel_for = &StdThreadPool::parallel_for;
    opt.parallel_ctx = &pool;
    ASSERT_EQ(qgemm::gemm(1, p.a.data(), p.lda, p.za, w, qgemm::output_s32(), c.data(), 512, opt), Status::ok);
    if (t == 1) {
      EXPECT_EQ(pool.calls.load(), 0u) << "one thread must run on the calling thread";
    } else {
      EXPECT_EQ(pool.calls.load(), 1u);
      EXPECT_EQ(pool.last_n_tasks.load(), static_cast<size_t>(t)) << "M=1 must split over N panels";
    }
  }
  qgemm::destroy_packed_weights(w);
  // A 1 x 1 problem is one tile: never split, whatever the thread count.
  const auto q = qtest::make_problem(1, 1, 1, {}, rng);
  ASSERT_EQ(qgemm::pack_weights(q.b.data(), q.layout, 1, 1, q.ldb, q.zb.data(), false, &w), Status::ok);
  pool.calls = 0;
  qgemm::GemmOptions opt;
  opt.num_threads = 4;
  opt.parallel_for = &StdThreadPool::parallel_for;
  opt.parallel_ctx = &pool;
  int32_t one = 0;
  ASSERT_EQ(qgemm::gemm(1, q.a.data(), q.lda, q.za, w, qgemm::output_s32(), &one, 1, opt), Status::ok);
  EXPECT_EQ(pool.calls.load(), 0u);
  qgemm::destroy_packed_weights(w);
}

// The C API's options reach the same driver: the caller's pool runs and the bytes match.
TEST_P(Threads, CApiPool) {
  SplitEverything split;
  std::mt19937 rng(5);
  const auto p = qtest::make_problem(9, 70, 30, {}, rng);
  qgemm_packed_weights* w = nullptr;
  ASSERT_EQ(qgemm_pack_weights(p.b.data(), QGEMM_LAYOUT_KN, p.K, p.N, p.ldb, p.zb.data(), 0, &w), 0);
  qgemm_output_stage o;
  qgemm_output_stage_init(&o);
  const std::vector<uint8_t> want = oracle::expected_output(p, qgemm::output_s32(), 0xA5);
  StdThreadPool pool;
  qgemm_gemm_options opt;
  qgemm_gemm_options_init(&opt);
  EXPECT_EQ(opt.num_threads, 0);
  EXPECT_EQ(opt.parallel_for, nullptr);
  opt.num_threads = 3;
  opt.parallel_for = &StdThreadPool::parallel_for;
  opt.parallel_ctx = &pool;
  std::vector<uint8_t> got(want.size(), 0xA5);
  ASSERT_EQ(qgemm_gemm_ex(p.M, p.a.data(), p.lda, p.za, w, &o, got.data(), p.ldc, &opt), 0)
      << qgemm_last_error_message();
  EXPECT_EQ(pool.calls.load(), 1u);
  EXPECT_TRUE(got == want);
  std::fill(got.begin(), got.end(), 0xA5);
  ASSERT_EQ(qgemm_gemm_ex(p.M, p.a.data(), p.lda, p.za, w, &o, got.data(), p.ldc, nullptr), 0);
  EXPECT_TRUE(got == want);
  opt.num_threads = -1;
  std::fill(got.begin(), got.end(), 0xA5);
  EXPECT_EQ(qgemm_gemm_ex(p.M, p.a.data(), p.lda, p.za, w, &o, got.data(), p.ldc, &opt),
            static_cast<int32_t>(Status::bad_argument));
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](uint8_t v) { return v == 0xA5; }));
  qgemm_destroy_packed_weights(w);
}

// A pool that runs other work while it waits: here, a whole nested gemm call on the waiting
// thread before the tasks. The thread's scratch arena is leased by the outer call, so the
// nested call must use its own memory and both results stay exact.
struct ReentrantPool {
  const oracle::Problem* inner;
  const qgemm::PackedWeights* w;
  std::vector<uint8_t> inner_out;
  Status inner_status = Status::bad_argument;
  static void parallel_for(void* ctx, size_t n_tasks, void (*task)(void*, size_t), void* arg) {
    auto* self = static_cast<ReentrantPool*>(ctx);
    const oracle::Problem& q = *self->inner;
    self->inner_out.assign(static_cast<size_t>(q.M * q.ldc) * 4, 0xA5);
    qgemm::GemmOptions one;
    one.num_threads = 1;
    self->inner_status =
        qgemm::gemm(q.M, q.a.data(), q.lda, q.za, self->w, qgemm::output_s32(), self->inner_out.data(), q.ldc, one);
    for (size_t i = n_tasks; i-- > 0;) task(arg, i);  // reverse order: any order is allowed
  }
};

TEST_P(Threads, PoolThatReentersGemmWhileWaiting) {
  SplitEverything split;
  std::mt19937 rng(11);
  const auto p = qtest::make_problem(40, 50, 70, {}, rng);
  const auto q = qtest::make_problem(23, 50, 70, {}, rng);
  qgemm::PackedWeights *wp = nullptr, *wq = nullptr;
  ASSERT_EQ(qgemm::pack_weights(p.b.data(), p.layout, p.K, p.N, p.ldb, p.zb.data(), false, &wp), Status::ok);
  ASSERT_EQ(qgemm::pack_weights(q.b.data(), q.layout, q.K, q.N, q.ldb, q.zb.data(), false, &wq), Status::ok);
  ReentrantPool pool{&q, wq, {}};
  qgemm::GemmOptions opt;
  opt.num_threads = 4;
  opt.parallel_for = &ReentrantPool::parallel_for;
  opt.parallel_ctx = &pool;
  const std::vector<uint8_t> want = oracle::expected_output(p, qgemm::output_s32(), 0xA5);
  std::vector<uint8_t> got(want.size(), 0xA5);
  ASSERT_EQ(qgemm::gemm(p.M, p.a.data(), p.lda, p.za, wp, qgemm::output_s32(), got.data(), p.ldc, opt), Status::ok);
  EXPECT_EQ(pool.inner_status, Status::ok);
  EXPECT_TRUE(got == want);
  const std::vector<uint8_t> want_q = oracle::expected_output(q, qgemm::output_s32(), 0xA5);
  pool.inner_out.resize(want_q.size());
  EXPECT_TRUE(pool.inner_out == want_q);
  qgemm::destroy_packed_weights(wp);
  qgemm::destroy_packed_weights(wq);
}

// Many threads, one shared PackedWeights, each with its own A and C, each call repeated; half of
// the callers also split their own calls (OpenMP or nested std::thread pools).
TEST_P(Threads, ManyCallersShareOnePackedWeights) {
  SplitEverything split;
  std::mt19937 rng(21);
  constexpr int kCallers = 8;
  const int64_t N = 77, K = 45;
  qtest::GenOptions g;
  g.bias = true;
  g.zb_per_column = true;
  auto base = qtest::make_problem(1, N, K, g, rng);
  qgemm::PackedWeights* w = nullptr;
  ASSERT_EQ(qgemm::pack_weights(base.b.data(), base.layout, K, N, base.ldb, base.zb.data(), true, &w), Status::ok);
  std::vector<oracle::Problem> probs;
  std::vector<std::vector<uint8_t>> want;
  std::vector<int32_t> mult(N), shift(N);
  for (int64_t j = 0; j < N; ++j) {
    mult[j] = (1 << 29) + static_cast<int32_t>(j) * 1000;
    shift[j] = -8;
  }
  const OutputStage o = qgemm::output_fixed_point(OutputType::u8, mult.data(), shift.data(), true, 10,
                                                  base.bias_s32.data());
  for (int t = 0; t < kCallers; ++t) {
    auto p = qtest::make_problem(1 + 5 * t, N, K, g, rng);  // own A, same B
    p.b = base.b;
    p.zb = base.zb;
    p.za = base.za;
    p.bias_s32 = base.bias_s32;
    want.push_back(oracle::expected_output(p, o, 0xA5));
    probs.push_back(std::move(p));
  }
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t)
    callers.emplace_back([&, t] {
      StdThreadPool pool;
      pool.workers = 2;
      const oracle::Problem& p = probs[t];
      for (int rep = 0; rep < 20; ++rep) {
        qgemm::GemmOptions opt;
        opt.num_threads = 1 + (t + rep) % 3;
        if (t % 2 == 1) {
          opt.parallel_for = &StdThreadPool::parallel_for;
          opt.parallel_ctx = &pool;
        }
        std::vector<uint8_t> c(want[t].size(), 0xA5);
        if (qgemm::gemm(p.M, p.a.data(), p.lda, p.za, w, o, c.data(), p.ldc, opt) != Status::ok)
          failures++;
        else if (c != want[t])
          mismatches++;
      }
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  qgemm::destroy_packed_weights(w);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Threads, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
