// AVX2 microkernel, 4x16 tile, K in groups of 4 (the generic packed-B layout of ukernel.hpp),
// exact for every input. vpmaddubsw adds two u8*s8 products into a saturating int16, which is
// wrong for e.g. 255*127 + 255*127; so the kernel uses it only on K blocks whose A bytes are all
// <= 127 (then |a0*b0 + a1*b1| <= 127*128*2 < 32768 for any weights), checked per block at run
// time, and a widening loop elsewhere: A zero-extended and B sign-extended to int16, vpmaddwd.
// Both loops need two multiply uops per 32 multiply-adds; the widening one needs twice the vpaddd.
// Which loop ran is counted per K block (kernels/path_counters.hpp).
// Two ways in: A read in place (M <= 4: the check and the widening run per tile), or A packed
// by this file's pack_a_tile (M > 4: checked and widened once per MC block; the layout is
// described above pack_a_tile). docs/notes/issue-5-packed-a.md has the measurements.
#include <algorithm>
#include <cstring>

#include "path_counters.hpp"
#include "ukernel.hpp"
#include "x86/intrin.hpp"
#include "x86/output_stage_ymm.hpp"

namespace qgemm {
namespace detail {
namespace {

// Tile 4x16 (AMD EPYC Zen 3, family 25 model 1): the fast loop's 8 accumulators + 2 B vectors
// + broadcast + ones + 2 temporaries fit the 16 ymm registers without spills, and the exact loop
// runs all 4 rows over 8 columns per pass (8 accumulators + 2 widened B + 2 A + 2 temporaries).
// Measured in L1 on that CPU: fast loop 188 GOPS, exact loop 158 GOPS (its extra vpaddd per
// vpmaddwd is the limit). Other tiles were not measured (see docs/notes/issue-5.md).
constexpr size_t kMR = 4, kNR = 16, kKR = 4, kNV = kNR / 8;
// K block (in groups of 4) over which one loop is chosen: 128 K values, so one activation byte
// >= 128 sends little work to the slower loop; 64 groups measured no faster on Zen 3.
constexpr size_t kBlockGroups = 32;

#define QGEMM_INLINE inline __attribute__((always_inline))

QGEMM_INLINE int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// True when every byte of rows [0, M) of A in K groups [g0, g1) is <= 127.
template <size_t M>
QGEMM_INLINE bool block_is_7bit(const uint8_t* a, size_t ars, size_t aks, size_t g0, size_t g1) {
  // Independent OR chains (one per row, two per contiguous run) keep the check's latency off
  // the critical path: a single chain measured 10% of the fast path's time.
  __m256i any = _mm256_setzero_si256();
  uint32_t rest = 0;
  if (aks == kKR) {  // A in place: each row's block is contiguous
    const size_t len = (g1 - g0) * kKR;
    __m256i r[M][2];
    for (size_t i = 0; i < M; ++i) r[i][0] = r[i][1] = _mm256_setzero_si256();
    size_t x = 0;
    for (; x + 64 <= len; x += 64)
      for (size_t i = 0; i < M; ++i) {
        const uint8_t* row = a + i * ars + g0 * kKR + x;
        r[i][0] = _mm256_or_si256(r[i][0], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
        r[i][1] = _mm256_or_si256(r[i][1], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32)));
      }
    for (; x < len; x += 4)
      for (size_t i = 0; i < M; ++i) rest |= static_cast<uint32_t>(load4(a + i * ars + g0 * kKR + x));
    for (size_t i = 0; i < M; ++i) any = _mm256_or_si256(any, _mm256_or_si256(r[i][0], r[i][1]));
  } else if (M == kMR && ars == kKR) {  // full packed panel: the block is contiguous
    const uint8_t* r = a + g0 * aks;
    const size_t len = (g1 - g0) * aks;
    __m256i r0 = _mm256_setzero_si256(), r1 = r0, r2 = r0, r3 = r0;
    size_t x = 0;
    for (; x + 128 <= len; x += 128) {
      r0 = _mm256_or_si256(r0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x)));
      r1 = _mm256_or_si256(r1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x + 32)));
      r2 = _mm256_or_si256(r2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x + 64)));
      r3 = _mm256_or_si256(r3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + x + 96)));
    }
    for (; x < len; x += 4) rest |= static_cast<uint32_t>(load4(r + x));
    any = _mm256_or_si256(_mm256_or_si256(r0, r1), _mm256_or_si256(r2, r3));
  } else {  // partial packed panel: only rows < M
    for (size_t g = g0; g < g1; ++g)
      for (size_t i = 0; i < M; ++i) rest |= static_cast<uint32_t>(load4(a + i * ars + g * aks));
  }
  return (_mm256_movemask_epi8(any) | (rest & 0x80808080u)) == 0;
}

#if !defined(QGEMM_SIMDE_EMULATION)
// The full-tile inner loops in assembly: GCC 12 leaves register copies and a spill inside the
// intrinsic loops; the whole kernel on L1 data measured 108 -> 120 GOPS (exact) and 174 -> 178
// (fast) with these on Zen 3. The intrinsic loops remain the reference and run for partial
// tiles and under emulation.
#define QGEMM_AVX2_ASM 1

// acc[4][2] += fast loop over K groups [g0, g1), A rows at a + i*ars + g*aks. Each group also
// prefetches the line pfd bytes past its B line (the next panel's, see tile_packed; 0: none).
QGEMM_INLINE void fast_block_asm(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                                 __m256i (&acc)[kMR][kNV], size_t pfd) {
  const uint8_t* ag = a + g0 * aks;
  const int8_t* bg = b + g0 * kNR * kKR;
  size_t count = g1 - g0;
  const size_t ars3 = 3 * ars;
  __asm__ volatile(
      "vmovdqu 0(%[acc]), %%ymm0\n\t"
      "vmovdqu 32(%[acc]), %%ymm1\n\t"
      "vmovdqu 64(%[acc]), %%ymm2\n\t"
      "vmovdqu 96(%[acc]), %%ymm3\n\t"
      "vmovdqu 128(%[acc]), %%ymm4\n\t"
      "vmovdqu 160(%[acc]), %%ymm5\n\t"
      "vmovdqu 192(%[acc]), %%ymm6\n\t"
      "vmovdqu 224(%[acc]), %%ymm7\n\t"
      "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpsrlw $15, %%ymm15, %%ymm15\n\t"  // int16 ones
      ".p2align 4\n\t"
      "1:\n\t"
      "prefetcht0 (%[b],%[pfd])\n\t"
      "vmovdqu (%[b]), %%ymm8\n\t"
      "vmovdqu 32(%[b]), %%ymm9\n\t"
      "vpbroadcastd (%[a]), %%ymm10\n\t"
      "vpbroadcastd (%[a],%[ars]), %%ymm11\n\t"
      "vpmaddubsw %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddubsw %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddubsw %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddubsw %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpmaddwd %%ymm15, %%ymm12, %%ymm12\n\t"
      "vpmaddwd %%ymm15, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm15, %%ymm13, %%ymm13\n\t"
      "vpmaddwd %%ymm15, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm0, %%ymm0\n\t"
      "vpaddd %%ymm10, %%ymm1, %%ymm1\n\t"
      "vpaddd %%ymm13, %%ymm2, %%ymm2\n\t"
      "vpaddd %%ymm11, %%ymm3, %%ymm3\n\t"
      "vpbroadcastd (%[a],%[ars],2), %%ymm10\n\t"
      "vpbroadcastd (%[a],%[ars3]), %%ymm11\n\t"
      "vpmaddubsw %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddubsw %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddubsw %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddubsw %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpmaddwd %%ymm15, %%ymm12, %%ymm12\n\t"
      "vpmaddwd %%ymm15, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm15, %%ymm13, %%ymm13\n\t"
      "vpmaddwd %%ymm15, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm4, %%ymm4\n\t"
      "vpaddd %%ymm10, %%ymm5, %%ymm5\n\t"
      "vpaddd %%ymm13, %%ymm6, %%ymm6\n\t"
      "vpaddd %%ymm11, %%ymm7, %%ymm7\n\t"
      "add %[aks], %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vmovdqu %%ymm0, 0(%[acc])\n\t"
      "vmovdqu %%ymm1, 32(%[acc])\n\t"
      "vmovdqu %%ymm2, 64(%[acc])\n\t"
      "vmovdqu %%ymm3, 96(%[acc])\n\t"
      "vmovdqu %%ymm4, 128(%[acc])\n\t"
      "vmovdqu %%ymm5, 160(%[acc])\n\t"
      "vmovdqu %%ymm6, 192(%[acc])\n\t"
      "vmovdqu %%ymm7, 224(%[acc])\n\t"
      : [a] "+r"(ag), [b] "+r"(bg), [n] "+r"(count)
      : [acc] "r"(&acc[0][0]), [ars] "r"(ars), [ars3] "r"(ars3), [aks] "r"(aks), [pfd] "r"(pfd)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// Bytes between rows of the widened A block.
constexpr size_t kAwRow = kBlockGroups * kKR * sizeof(int16_t);

// pc[4][2] = exact loop over `count` K groups for 8 columns: A widened in aw (rows kAwRow bytes
// apart), B (int8, group stride 64) at bg.
QGEMM_INLINE void exact_pass_asm(const int16_t* aw, const int8_t* bg, size_t count, __m256i* pc) {
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n\t"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n\t"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n\t"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n\t"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n\t"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      "vpmovsxbw (%[b]), %%ymm8\n\t"
      "vpmovsxbw 16(%[b]), %%ymm9\n\t"
      "vpbroadcastq (%[a]), %%ymm10\n\t"
      "vpbroadcastq %c[r1](%[a]), %%ymm11\n\t"
      "vpmaddwd %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddwd %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddwd %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm0, %%ymm0\n\t"
      "vpaddd %%ymm10, %%ymm1, %%ymm1\n\t"
      "vpaddd %%ymm13, %%ymm2, %%ymm2\n\t"
      "vpaddd %%ymm11, %%ymm3, %%ymm3\n\t"
      "vpbroadcastq %c[r2](%[a]), %%ymm10\n\t"
      "vpbroadcastq %c[r3](%[a]), %%ymm11\n\t"
      "vpmaddwd %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddwd %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddwd %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm4, %%ymm4\n\t"
      "vpaddd %%ymm10, %%ymm5, %%ymm5\n\t"
      "vpaddd %%ymm13, %%ymm6, %%ymm6\n\t"
      "vpaddd %%ymm11, %%ymm7, %%ymm7\n\t"
      "add $8, %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vmovdqu %%ymm0, 0(%[pc])\n\t"
      "vmovdqu %%ymm1, 32(%[pc])\n\t"
      "vmovdqu %%ymm2, 64(%[pc])\n\t"
      "vmovdqu %%ymm3, 96(%[pc])\n\t"
      "vmovdqu %%ymm4, 128(%[pc])\n\t"
      "vmovdqu %%ymm5, 160(%[pc])\n\t"
      "vmovdqu %%ymm6, 192(%[pc])\n\t"
      "vmovdqu %%ymm7, 224(%[pc])\n\t"
      : [a] "+r"(aw), [b] "+r"(bg), [n] "+r"(count)
      : [pc] "r"(pc), [r1] "i"(kAwRow), [r2] "i"(2 * kAwRow), [r3] "i"(3 * kAwRow)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13");
}

// pc[4][2] = exact loop over `count` K groups for 8 columns, A from a packed exact block
// ([group][4 rows][4 int16], 32 bytes per group). vbroadcastsd rather than vpbroadcastq: one
// L1 microbenchmark run on Zen 3 gave 157 against 127 GOPS, a later run (machine loaded
// differently) 157 against 160, so it is not a proven gain; kept as the load-only form.
QGEMM_INLINE void exact_run_asm(const int16_t* aw, const int8_t* bg, size_t count, __m256i* pc, size_t pfd) {
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n\t"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n\t"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n\t"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n\t"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n\t"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      "prefetcht0 (%[b],%[pfd])\n\t"
      "vpmovsxbw (%[b]), %%ymm8\n\t"
      "vpmovsxbw 16(%[b]), %%ymm9\n\t"
      "vbroadcastsd (%[a]), %%ymm10\n\t"
      "vbroadcastsd 8(%[a]), %%ymm11\n\t"
      "vpmaddwd %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddwd %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddwd %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm0, %%ymm0\n\t"
      "vpaddd %%ymm10, %%ymm1, %%ymm1\n\t"
      "vpaddd %%ymm13, %%ymm2, %%ymm2\n\t"
      "vpaddd %%ymm11, %%ymm3, %%ymm3\n\t"
      "vbroadcastsd 16(%[a]), %%ymm10\n\t"
      "vbroadcastsd 24(%[a]), %%ymm11\n\t"
      "vpmaddwd %%ymm8, %%ymm10, %%ymm12\n\t"
      "vpmaddwd %%ymm9, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm8, %%ymm11, %%ymm13\n\t"
      "vpmaddwd %%ymm9, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm12, %%ymm4, %%ymm4\n\t"
      "vpaddd %%ymm10, %%ymm5, %%ymm5\n\t"
      "vpaddd %%ymm13, %%ymm6, %%ymm6\n\t"
      "vpaddd %%ymm11, %%ymm7, %%ymm7\n\t"
      "add $32, %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vmovdqu %%ymm0, 0(%[pc])\n\t"
      "vmovdqu %%ymm1, 32(%[pc])\n\t"
      "vmovdqu %%ymm2, 64(%[pc])\n\t"
      "vmovdqu %%ymm3, 96(%[pc])\n\t"
      "vmovdqu %%ymm4, 128(%[pc])\n\t"
      "vmovdqu %%ymm5, 160(%[pc])\n\t"
      "vmovdqu %%ymm6, 192(%[pc])\n\t"
      "vmovdqu %%ymm7, 224(%[pc])\n\t"
      : [a] "+r"(aw), [b] "+r"(bg), [n] "+r"(count)
      : [pc] "r"(pc), [pfd] "r"(pfd)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13");
}
#endif

// vpmaddubsw + vpmaddwd(1): only for blocks that block_is_7bit() accepted.
template <size_t M>
QGEMM_INLINE void fast_block(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                             __m256i (&acc)[kMR][kNV], size_t pfd = 0) {
#if QGEMM_AVX2_ASM
  if (M == kMR) return fast_block_asm(a, ars, aks, b, g0, g1, acc, pfd);
#else
  (void)pfd;
#endif
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c[M][kNV];
  for (size_t i = 0; i < M; ++i)
    for (size_t v = 0; v < kNV; ++v) c[i][v] = acc[i][v];
  const uint8_t* ag = a + g0 * aks;
  const int8_t* bg = b + g0 * kNR * kKR;
  for (size_t g = g0; g < g1; ++g, ag += aks, bg += kNR * kKR) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 32));
    for (size_t i = 0; i < M; ++i) {
      const __m256i av = _mm256_set1_epi32(load4(ag + i * ars));
      c[i][0] = _mm256_add_epi32(c[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones));
      c[i][1] = _mm256_add_epi32(c[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones));
    }
  }
  for (size_t i = 0; i < M; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = c[i][v];
}

// pc[M][2] = the exact loop (intrinsics) over `count` K groups for the 8 columns of B at bg
// (group stride 64 bytes): A already int16, row i of group g at aw + i*row_stride +
// g*group_stride. B's four int8 of a column widen to four int16, and vpmaddwd leaves two int32
// partial sums per column, which fold_pass() adds up.
template <size_t M>
QGEMM_INLINE void exact_pass(const int16_t* aw, size_t row_stride, size_t group_stride, const int8_t* bg,
                             size_t count, __m256i (&pc)[M][2]) {
  for (size_t i = 0; i < M; ++i) pc[i][0] = pc[i][1] = _mm256_setzero_si256();
  for (size_t g = 0; g < count; ++g, bg += kNR * kKR) {
    const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg)));
    const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + 16)));
    for (size_t i = 0; i < M; ++i) {
      int64_t q;
      std::memcpy(&q, aw + i * row_stride + g * group_stride, 8);
      const __m256i av = _mm256_set1_epi64x(q);
      pc[i][0] = _mm256_add_epi32(pc[i][0], _mm256_madd_epi16(av, x0));
      pc[i][1] = _mm256_add_epi32(pc[i][1], _mm256_madd_epi16(av, x1));
    }
  }
}

// acc[i][h] += the pass's sums: vphaddd gives columns [0 1 4 5 | 2 3 6 7]; the qword permute
// puts them in order.
template <size_t M>
QGEMM_INLINE void fold_pass(const __m256i (&pc)[M][2], __m256i (&acc)[kMR][kNV], size_t h) {
  for (size_t i = 0; i < M; ++i)
    acc[i][h] = _mm256_add_epi32(acc[i][h], _mm256_permute4x64_epi64(_mm256_hadd_epi32(pc[i][0], pc[i][1]), 0xD8));
}

// Exact for any bytes. The block's A rows are first widened to int16 (4 values = one qword per
// row and K group, so the loop broadcasts them with a plain load); B's four int8 of column j in
// a group widen to four int16, and vpmaddwd leaves two int32 partial sums per column, folded by
// vphaddd at the end of the block. Eight columns per pass keep 2*M + 4 <= 16 registers live.
template <size_t M>
QGEMM_INLINE void exact_block(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                              __m256i (&acc)[kMR][kNV]) {
  alignas(32) int16_t aw[M][kBlockGroups * kKR];
  const size_t len = (g1 - g0) * kKR;
  for (size_t i = 0; i < M; ++i) {
    if (aks == kKR) {  // A in place: the row's block is contiguous
      const uint8_t* r = a + i * ars + g0 * kKR;
      size_t x = 0;
      for (; x + 16 <= len; x += 16)
        _mm256_store_si256(reinterpret_cast<__m256i*>(&aw[i][x]),
                           _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + x))));
      for (; x < len; x += 4)
        _mm_storel_epi64(reinterpret_cast<__m128i*>(&aw[i][x]), _mm_cvtepu8_epi16(_mm_cvtsi32_si128(load4(r + x))));
    } else {
      for (size_t g = g0; g < g1; ++g)
        _mm_storel_epi64(reinterpret_cast<__m128i*>(&aw[i][(g - g0) * kKR]),
                         _mm_cvtepu8_epi16(_mm_cvtsi32_si128(load4(a + i * ars + g * aks))));
    }
  }
  for (size_t h = 0; h < kNV; ++h) {
    __m256i pc[M][2];
    const int8_t* bg = b + g0 * kNR * kKR + 32 * h;
#if QGEMM_AVX2_ASM
    if (M == kMR) {
      exact_pass_asm(&aw[0][0], bg, g1 - g0, reinterpret_cast<__m256i*>(pc));
    } else
#endif
    {
      exact_pass<M>(&aw[0][0], kBlockGroups * kKR, kKR, bg, g1 - g0, pc);
    }
    fold_pass<M>(pc, acc, h);
  }
}

// ---- A packed by the driver (GemmConfig::pack_a_tile): the saturation check and the int16
// widening are done once per MC block instead of once per column panel. One tile:
//   [one flag byte per K block (1 = exact), padded to 64 bytes]
//   then the K blocks in order, a block of g groups being
//     fast  (every A byte <= 127): [g][4 rows][4 u8]     16 bytes per group
//     exact (any byte >= 128):     [g][4 rows][4 int16]  32 bytes per group
// so a run of consecutive blocks of one kind is one contiguous stretch for one loop.
size_t packed_blocks(size_t kp) { return (kp / kKR + kBlockGroups - 1) / kBlockGroups; }
size_t packed_header(size_t kp) { return (packed_blocks(kp) + 63) / 64 * 64; }
size_t a_tile_bytes(size_t kp) { return packed_header(kp) + kp / kKR * 32; }

// Byte (i, kk) of the tile's rows, zero outside rows [0, m) and K [0, k).
QGEMM_INLINE uint8_t a_at(const uint8_t* a, size_t lda, size_t m, size_t k, size_t i, size_t kk) {
  return i < m && kk < k ? a[i * lda + kk] : 0;
}

// MC: rows of A whose u8 bytes fill 256 KiB, so the block packed for the exact loop (int16,
// twice that) still fits the 512 KiB L2 of Zen 3; 64 to 512 KiB measured within the noise at
// K = 768 (M = 128, 512), 512 KiB slightly slower at M = 512.
size_t mc_for_k(size_t kp) {
  const size_t rows = (256 * 1024) / std::max<size_t>(kp, 1);
  return std::max<size_t>(kMR, std::min<size_t>(rows / kMR * kMR, 1024));
}

void pack_a_tile(size_t m, size_t k, size_t kp, const uint8_t* a, size_t lda, uint8_t* dst) {
  const size_t groups = kp / kKR, blocks = packed_blocks(kp);
  uint8_t* flags = dst;
  uint8_t* out = dst + packed_header(kp);
  for (size_t blk = 0; blk < blocks; ++blk) {
    const size_t g0 = blk * kBlockGroups, g1 = std::min(groups, g0 + kBlockGroups);
    const size_t k0 = g0 * kKR, k1 = std::min(k, g1 * kKR);
    const bool full = m == kMR && k1 - k0 == kBlockGroups * kKR;
    bool exact;
    if (full) {
      __m256i any = _mm256_setzero_si256();
      for (size_t i = 0; i < kMR; ++i)
        for (size_t x = 0; x < kBlockGroups * kKR; x += 32)
          any = _mm256_or_si256(any, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i * lda + k0 + x)));
      exact = _mm256_movemask_epi8(any) != 0;
    } else {
      uint8_t any = 0;
      for (size_t i = 0; i < m; ++i)
        for (size_t kk = k0; kk < k1; ++kk) any |= a[i * lda + kk];
      exact = (any & 0x80) != 0;
    }
    flags[blk] = exact;
    if (full && !exact) {  // 4 groups of the 4 rows per step: a 4x4 transpose of dwords
      for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 64) {
        const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + k0 + x));
        const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + lda + k0 + x));
        const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * lda + k0 + x));
        const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 3 * lda + k0 + x));
        const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), _mm_unpackhi_epi64(t2, t3));
      }
    } else if (full) {  // widened, then a 4x4 transpose of qwords
      for (size_t x = 0; x < kBlockGroups * kKR; x += 16, out += 128) {
        __m256i w[kMR];
        for (size_t i = 0; i < kMR; ++i)
          w[i] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i * lda + k0 + x)));
        const __m256i t0 = _mm256_unpacklo_epi64(w[0], w[1]), t1 = _mm256_unpacklo_epi64(w[2], w[3]);
        const __m256i t2 = _mm256_unpackhi_epi64(w[0], w[1]), t3 = _mm256_unpackhi_epi64(w[2], w[3]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(t0, t1, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32), _mm256_permute2x128_si256(t2, t3, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64), _mm256_permute2x128_si256(t0, t1, 0x31));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 96), _mm256_permute2x128_si256(t2, t3, 0x31));
      }
    } else if (!exact) {  // partial rows or K: element by element, zero padded
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < kMR; ++i)
          for (size_t t = 0; t < kKR; ++t) *out++ = a_at(a, lda, m, k, i, g * kKR + t);
    } else {
      for (size_t g = g0; g < g1; ++g)
        for (size_t i = 0; i < kMR; ++i)
          for (size_t t = 0; t < kKR; ++t, out += 2) {
            const int16_t v = a_at(a, lda, m, k, i, g * kKR + t);
            std::memcpy(out, &v, 2);
          }
    }
  }
}

// acc += exact loop over `count` groups of a packed exact stretch (A at aw, B at bg).
QGEMM_INLINE void exact_run(const int16_t* aw, const int8_t* bg, size_t count, __m256i (&acc)[kMR][kNV],
                            size_t pfd) {
  for (size_t h = 0; h < kNV; ++h) {
    __m256i pc[kMR][2];
#if QGEMM_AVX2_ASM
    exact_run_asm(aw, bg + 32 * h, count, reinterpret_cast<__m256i*>(pc), pfd);
#else
    (void)pfd;
    exact_pass<kMR>(aw, kKR, kMR * kKR, bg + 32 * h, count, pc);
#endif
    fold_pass<kMR>(pc, acc, h);
  }
}

// Tile over A packed by pack_a_tile (rows >= m are zero there, so all four rows are computed).
void tile_packed(size_t m, size_t n, size_t kp, const uint8_t* a, const int8_t* b, const int32_t* row_sum, void* c,
                 size_t c_stride, const StageParams* p, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  const size_t groups = kp / kKR, blocks = packed_blocks(kp);
  const uint8_t* flags = a;
  const uint8_t* ap = a + packed_header(kp);
  // Each loop prefetches the next column panel's B (it follows this one in memory), so with few
  // row tiles per panel (small M, weights from DRAM) the next panel streams in while this one
  // computes. Past the last panel the prefetches touch no data: they never fault.
  const size_t pfd = kp * kNR;
  // C's rows of this tile, fetched now so that the stores at the end do not wait for them
  // (the first and the last byte of each row; nothing past the tile).
  {
    const size_t row_bytes = n * (p->kind == StageKind::s32 || p->kind == StageKind::f32 ? 4 : 1);
    for (size_t i = 0; i < m; ++i) {
      const char* r = static_cast<const char*>(c) + i * c_stride;
      _mm_prefetch(r, _MM_HINT_T0);
      _mm_prefetch(r + row_bytes - 1, _MM_HINT_T0);
    }
  }
  uint64_t fast = 0, exact = 0;
  for (size_t blk = 0, g0 = 0; blk < blocks;) {
    const uint8_t kind = flags[blk];
    size_t end = blk + 1;
    while (end < blocks && flags[end] == kind) ++end;
    const size_t g1 = std::min(groups, end * kBlockGroups), count = g1 - g0;
    const int8_t* bg = b + g0 * kNR * kKR;
    if (kind) {
      exact_run(reinterpret_cast<const int16_t*>(ap), bg, count, acc, pfd);
      ap += count * 32;
      exact += end - blk;
    } else {
      fast_block<kMR>(ap, kKR, kMR * kKR, bg, 0, count, acc, pfd);
      ap += count * 16;
      fast += end - blk;
    }
    blk = end;
    g0 = g1;
  }
  count_path(Path::avx2_fast_block, fast);
  count_path(Path::avx2_exact_block, exact);
  ymm::store_tile<kMR, kNV>(acc, m, n, row_sum, c, c_stride, *p, j0);
}

template <size_t M>
void tile(size_t n, size_t kp, const uint8_t* a, size_t ars, size_t aks, const int8_t* b, const int32_t* row_sum,
          void* c, size_t c_stride, const StageParams* p, size_t j0) {
  __m256i acc[kMR][kNV];
  for (size_t i = 0; i < kMR; ++i)
    for (size_t v = 0; v < kNV; ++v) acc[i][v] = _mm256_setzero_si256();
  const size_t groups = kp / kKR;
  uint64_t fast = 0, exact = 0;
  for (size_t g0 = 0; g0 < groups; g0 += kBlockGroups) {
    const size_t g1 = groups - g0 < kBlockGroups ? groups : g0 + kBlockGroups;
    if (block_is_7bit<M>(a, ars, aks, g0, g1)) {
      fast_block<M>(a, ars, aks, b, g0, g1, acc);
      ++fast;
    } else {
      exact_block<M>(a, ars, aks, b, g0, g1, acc);
      ++exact;
    }
  }
  count_path(Path::avx2_fast_block, fast);
  count_path(Path::avx2_exact_block, exact);
  ymm::store_tile<kMR, kNV>(acc, M, n, row_sum, c, c_stride, *p, j0);
}

void u8s8_gemm_4x16c4__avx2(size_t m, size_t n, size_t kp, const uint8_t* a, size_t a_row_stride,
                            size_t a_kgroup_stride, const int8_t* b, const int32_t* row_sum, void* c,
                            size_t c_row_stride, const StageParams* p, size_t j0) {
  if (a_row_stride == 0) return tile_packed(m, n, kp, a, b, row_sum, c, c_row_stride, p, j0);
  with_rows<kMR>(m, [&](auto rows) {
    tile<decltype(rows)::value>(n, kp, a, a_row_stride, a_kgroup_stride, b,
                                 row_sum, c, c_row_stride, p, j0);
  });
}

}  // namespace

// A is read in place (K % 4 == 0) up to 4 rows, where a packing pass would be redone for one
// tile; above that the driver packs it with pack_a_tile. Cache blocks: driver default.
extern const GemmConfig kGemmConfigAvx2 = {
    Isa::avx2, "u8s8_gemm_4x16c4__avx2", kMR, kNR, kKR, u8s8_gemm_4x16c4__avx2,
    /*max_m_unpacked=*/kMR, mc_for_k, nullptr, a_tile_bytes, pack_a_tile,
    /*row_sum_only_with_zb=*/true, /*k_block=*/kBlockGroups * kKR};

}  // namespace detail
}  // namespace qgemm
