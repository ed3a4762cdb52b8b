// Guard pages: A, B (as handed to pack_weights), C, the bias and the per-column output-stage
// arrays are placed flush against an inaccessible page (mmap + mprotect PROT_NONE), once with
// the page right after the last byte and once right before the first, for shapes that end on
// and around every tile edge (MR, NR, KR of each ISA), on every available ISA, single- and
// multi-threaded. Any read or write outside a buffer faults and kills the test; the results
// are also compared byte for byte with the oracle.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "guarded_memory.hpp"
#include "test_hooks.hpp"
#include "test_util.hpp"


namespace {

using qtest::SplitEverything;

using qtest::Flush;
using qtest::Guarded;
using qgemm::OutputStage;
using qgemm::OutputType;
using qgemm::Status;

// Sizes on and around one and two tiles (t) and one deep multiple (16t, for K), within [1, 70].
std::vector<int64_t> edges(uint32_t t, bool deep) {
  std::set<int64_t> s{1, 2};
  for (int64_t k : {int64_t{1}, int64_t{2}, deep ? int64_t{16} : int64_t{1}})
    for (int64_t d : {-1, 0, 1}) s.insert(k * t + d);
  std::vector<int64_t> v;
  for (int64_t x : s)
    if (x >= 1 && x <= 70) v.push_back(x);
  return v;
}

class GuardPage : public qtest::IsaTest {};

TEST_P(GuardPage, NoAccessOutsideAnyBuffer) {
  SplitEverything split;
  uint32_t mr = 0, nr = 0, kr = 0;
  ASSERT_TRUE(qgemm::detail::gemm_tile_for_testing(GetParam(), &mr, &nr, &kr));
  std::mt19937 rng(77);
  long calls = 0;
  int idx = 0;
  for (int64_t M : edges(mr, false))
    for (int64_t N : edges(nr, false))
      for (int64_t K : edges(kr, true)) {
        ++idx;
        const Flush flush = (idx & 1) ? Flush::after : Flush::before;
        qtest::GenOptions g;
        g.layout = (idx & 2) ? qgemm::WeightLayout::nk : qgemm::WeightLayout::kn;
        g.zb_per_column = (idx & 4) != 0;
        g.set_signs((idx + idx / 8) % 4);
        g.bias = true;
        g.lda_pad = (idx % 3 == 0) ? 5 : 0;  // lda = K: the last row of A ends on the page
        g.ldc_pad = (idx % 5 == 0) ? 3 : 0;
        auto p = qtest::make_problem(M, N, K, g, rng);
        // Exact extents: the generator's vectors carry one spare byte.
        p.a.resize(static_cast<size_t>((M - 1) * p.lda + K));
        const int64_t outer = g.layout == qgemm::WeightLayout::kn ? K : N;
        const int64_t inner = g.layout == qgemm::WeightLayout::kn ? N : K;
        p.b.resize(static_cast<size_t>((outer - 1) * p.ldb + inner));

        Guarded ga(p.a.size(), flush), gb(p.b.size(), flush), gzb(p.zb.size() * 4, flush);
        Guarded gbias(static_cast<size_t>(N) * 4, flush), gfbias(static_cast<size_t>(N) * 4, flush);
        Guarded gmult(static_cast<size_t>(N) * 4, flush), gshift(static_cast<size_t>(N) * 4, flush);
        Guarded gscale(static_cast<size_t>(N) * 4, flush);
        ASSERT_TRUE(ga.ok() && gb.ok() && gzb.ok() && gbias.ok() && gfbias.ok() && gmult.ok() && gshift.ok() &&
                    gscale.ok());
        const uint8_t* a = ga.fill(p.a);
        const int8_t* b = gb.fill(p.b);
        const int32_t* zb = gzb.fill(p.zb);
        const int32_t* bias = gbias.fill(p.bias_s32);
        const float* fbias = gfbias.fill(p.bias_f32);
        std::vector<int32_t> mult(N), shift(N);
        std::vector<float> scale(N);
        for (int64_t j = 0; j < N; ++j) {
          mult[j] = (1 << 30) + static_cast<int32_t>(j) * 4099;
          shift[j] = -10 - static_cast<int32_t>(j % 4);
          scale[j] = 0.001f * static_cast<float>(1 + j % 7);
        }
        const int32_t* pm = gmult.fill(mult);
        const int32_t* ps = gshift.fill(shift);
        const float* pscale = gscale.fill(scale);

        qgemm::PackedWeights* w = nullptr;
        const Status packed =
            p.b_unsigned
                ? qgemm::pack_weights(reinterpret_cast<const uint8_t*>(b), p.layout, K, N, p.ldb, zb, p.zb_per_column, &w)
                : qgemm::pack_weights(b, p.layout, K, N, p.ldb, zb, p.zb_per_column, &w);
        ASSERT_EQ(packed, Status::ok) << qgemm::last_error_message();
        const OutputStage stages[] = {
            qgemm::output_s32(bias),
            qgemm::output_fixed_point(OutputType::u8, pm, ps, true, 3, bias, qgemm::Rounding::single_rounding),
            qgemm::output_float_multiplier(OutputType::s8, 0.5f, pscale, true, 0.01f, -1, nullptr, fbias),
            qgemm::output_f32(0.5f, pscale, true, fbias),
        };
        for (const OutputStage& o : stages) {
          const std::vector<uint8_t> want = oracle::expected_output(p, o, 0xA5);
          Guarded gc(want.size(), flush);
          ASSERT_TRUE(gc.ok());
          std::memset(gc.as<uint8_t>(), 0xA5, want.size());
          qgemm::GemmOptions opt;
          opt.num_threads = 1 + (idx + calls) % 3;
          const Status ran =
              p.a_signed ? qgemm::gemm(M, reinterpret_cast<const int8_t*>(a), p.lda, p.za, w, o, gc.as<void>(), p.ldc, opt)
                         : qgemm::gemm(M, a, p.lda, p.za, w, o, gc.as<void>(), p.ldc, opt);
          ASSERT_EQ(ran, Status::ok) << qgemm::last_error_message();
          ASSERT_EQ(std::memcmp(gc.as<uint8_t>(), want.data(), want.size()), 0)
              << "M=" << M << " N=" << N << " K=" << K << " type " << static_cast<int>(o.type);
          qtest::record_verified(GetParam(), (p.a_signed ? 1 : 0) + (p.b_unsigned ? 2 : 0));
          ++calls;
        }
        qgemm::destroy_packed_weights(w);
      }
  RecordProperty("calls", static_cast<int>(calls));
  std::printf("[ GUARDED  ] %s: MR=%u NR=%u KR=%u, %ld calls with every buffer against a guard page\n",
              qgemm::isa_name(GetParam()), mr, nr, kr, calls);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GuardPage, testing::ValuesIn(qtest::all_isas()), qtest::isa_param_name);

}  // namespace
