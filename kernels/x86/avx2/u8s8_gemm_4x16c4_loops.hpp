// The inner loops of the AVX2 4x16c4 GEMM kernel, inlined into its tiles
// (u8s8_gemm_4x16c4__avx2.cpp; this header is included there only):
//   - the block check: are all A bytes of a K block <= 127 (A read in place)?
//   - the fast loop, vpmaddubsw + vpmaddwd(1): only on such blocks, where no int16 pair sum can
//     saturate (|a0*b0 + a1*b1| <= 127*128*2 < 32768 for any weights);
//   - the exact loop: A zero-extended and B sign-extended to int16, vpmaddwd, exact for any bytes;
//   - the sign loop of sign-mode tiles (see sign_pair in u8s8_gemm_4x16c4_common.hpp): the fast
//     loop's sequence on w = B ^ x against signed A bytes s, exact for any bytes.
// All need two multiply uops per 32 multiply-adds; per 32 products and row the fast loop takes 3
// vector operations, the sign loop 4 and the exact loop 4 + 2/rows (the vpmovsxbw of B). The
// loops are in inline assembly (the sign loop for 1-4 rows, the others for whole tiles); the
// intrinsic versions are the reference and run for partial tiles and under emulation.
#pragma once

#include <cstring>

#include "x86/avx2/u8s8_gemm_4x16c4_common.hpp"
#include "x86/intrin.hpp"

namespace qgemm {
namespace detail {
namespace avx2_gemm {
namespace {

// True when every byte of rows [0, M) of A in K groups [g0, g1) is <= 127.
template <size_t M>
QGEMM_INLINE bool block_is_7bit(const uint8_t* a, size_t ars, size_t aks, size_t g0, size_t g1) {
  // Independent OR chains (one per row, two per contiguous run) keep the check's latency off
  // the critical path (a single chain was measurably slow, docs/kernel-notes.md#avx2).
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
// intrinsic loops (figures in docs/kernel-notes.md#avx2).
#define QGEMM_AVX2_ASM 1

// acc[4][2] += fast loop over K groups [g0, g1), A rows at a + i*ars + g*aks. Each group also
// prefetches the line pfd bytes past its B line (see tile_packed; 0: none).
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

// Bytes between rows of the A block widened by exact_block.
constexpr size_t kAwRow = kBlockGroups * kKR * sizeof(int16_t);

// One K group of exact_pass_asm (B's 16 int8 of each half widened in ymm8/9), in two halves of
// two rows each: rows' int16 pairs at %c[OA] and %c[OB] of A, into accumulators C0..C3.
#define QGEMM_EXACT_HALF(OA, OB, C0, C1, C2, C3)          \
  "vbroadcastsd %c[" OA "](%[a]), %%ymm10\n\t"           \
  "vbroadcastsd %c[" OB "](%[a]), %%ymm11\n\t"           \
  "vpmaddwd %%ymm8, %%ymm10, %%ymm12\n\t"                \
  "vpmaddwd %%ymm9, %%ymm10, %%ymm10\n\t"                \
  "vpmaddwd %%ymm8, %%ymm11, %%ymm13\n\t"                \
  "vpmaddwd %%ymm9, %%ymm11, %%ymm11\n\t"                \
  "vpaddd %%ymm12, %%ymm" C0 ", %%ymm" C0 "\n\t"         \
  "vpaddd %%ymm10, %%ymm" C1 ", %%ymm" C1 "\n\t"         \
  "vpaddd %%ymm13, %%ymm" C2 ", %%ymm" C2 "\n\t"         \
  "vpaddd %%ymm11, %%ymm" C3 ", %%ymm" C3 "\n\t"
// B at byte BOFF (and BOFF + 16) of the group pointer, the four rows at %c[O0..O3].
#define QGEMM_EXACT_GROUP(BOFF, BOFF16, O0, O1, O2, O3)   \
  ".if %c[pf]\n\t"                                       \
  "prefetcht0 " BOFF "(%[b],%[pfd])\n\t"                 \
  ".endif\n\t"                                           \
  "vpmovsxbw " BOFF "(%[b]), %%ymm8\n\t"                 \
  "vpmovsxbw " BOFF16 "(%[b]), %%ymm9\n\t"               \
  QGEMM_EXACT_HALF(O0, O1, "0", "1", "2", "3")            \
  QGEMM_EXACT_HALF(O2, O3, "4", "5", "6", "7")

// pc[4][2] = exact loop over `count` K groups for 8 columns of B at bg (int8, group stride 64
// bytes): A already int16, row i of group g at byte offset i*RowBytes + g*GroupBytes from aw.
// Prefetch: each group also prefetches the line pfd bytes past its B line (see
// tile_packed). Two layouts: the block widened by exact_block (rows kAwRow bytes apart, groups 8)
// and a packed exact stretch ([group][4 rows][4 int16]: rows 8 bytes apart, groups 32).
// vbroadcastsd rather than vpbroadcastq: the same 64-bit broadcast, in its load-only form
// (docs/kernel-notes.md#avx2).
template <size_t RowBytes, size_t GroupBytes, bool Prefetch>
QGEMM_INLINE void exact_pass_asm(const int16_t* aw, const int8_t* bg, size_t count, __m256i* pc, size_t pfd) {
  // Two groups per iteration (an odd count runs one group first): the loop's pointer updates and
  // branch then cost half as much of the front end, which the 18 vector operations per group
  // nearly fill (docs/kernel-notes.md#avx2).
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n\t"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n\t"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n\t"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n\t"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n\t"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"
      "shr $1, %[n]\n\t"
      "jnc 2f\n\t"
      QGEMM_EXACT_GROUP("0", "16", "o00", "o01", "o02", "o03")
      "add %[gs], %[a]\n\t"
      "add $64, %[b]\n\t"
      "2:\n\t"
      "test %[n], %[n]\n\t"
      "jz 3f\n\t"
      ".p2align 4\n\t"
      "1:\n\t"
      QGEMM_EXACT_GROUP("0", "16", "o00", "o01", "o02", "o03")
      QGEMM_EXACT_GROUP("64", "80", "o10", "o11", "o12", "o13")
      "add %[gs2], %[a]\n\t"
      "add $128, %[b]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "3:\n\t"
      "vmovdqu %%ymm0, 0(%[pc])\n\t"
      "vmovdqu %%ymm1, 32(%[pc])\n\t"
      "vmovdqu %%ymm2, 64(%[pc])\n\t"
      "vmovdqu %%ymm3, 96(%[pc])\n\t"
      "vmovdqu %%ymm4, 128(%[pc])\n\t"
      "vmovdqu %%ymm5, 160(%[pc])\n\t"
      "vmovdqu %%ymm6, 192(%[pc])\n\t"
      "vmovdqu %%ymm7, 224(%[pc])\n\t"
      : [a] "+r"(aw), [b] "+r"(bg), [n] "+r"(count)
      : [pc] "r"(pc), [pfd] "r"(pfd), [pf] "i"(Prefetch ? 1 : 0), [gs] "i"(GroupBytes), [gs2] "i"(2 * GroupBytes),
        [o00] "i"(0), [o01] "i"(RowBytes), [o02] "i"(2 * RowBytes), [o03] "i"(3 * RowBytes),
        [o10] "i"(GroupBytes), [o11] "i"(GroupBytes + RowBytes), [o12] "i"(GroupBytes + 2 * RowBytes),
        [o13] "i"(GroupBytes + 3 * RowBytes)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13");
}
#undef QGEMM_EXACT_GROUP
#undef QGEMM_EXACT_HALF


// One row of a sign-mode K group: w = B ^ x (the row's x bytes at XOFF of A, B's two vectors in
// ymm8/9), vpmaddubsw(w, s) with the row's s at SOFF, vpmaddwd by ones (ymm15), into the
// row's accumulators ymm C0 and C1.
#define QGEMM_SIGN_ROW(XOFF, SOFF, C0, C1)                \
  "vpbroadcastd " XOFF "(%[a]), %%ymm11\n\t"             \
  "vpbroadcastd " SOFF "(%[a]), %%ymm10\n\t"             \
  "vpxor %%ymm8, %%ymm11, %%ymm12\n\t"                   \
  "vpxor %%ymm9, %%ymm11, %%ymm13\n\t"                   \
  "vpmaddubsw %%ymm10, %%ymm12, %%ymm12\n\t"             \
  "vpmaddubsw %%ymm10, %%ymm13, %%ymm13\n\t"             \
  "vpmaddwd %%ymm15, %%ymm12, %%ymm12\n\t"               \
  "vpmaddwd %%ymm15, %%ymm13, %%ymm13\n\t"               \
  "vpaddd %%ymm12, %%ymm" C0 ", %%ymm" C0 "\n\t"         \
  "vpaddd %%ymm13, %%ymm" C1 ", %%ymm" C1 "\n\t"
// One K group: B at BOFF / BOFF32 of the B pointer; rows 0-3's s at S0..S3 and x at X0..X3
// (byte offsets from the A pointer); rows past %c[rows] left out.
#define QGEMM_SIGN_GROUP(BOFF, BOFF32, S0, S1, S2, S3, X0, X1, X2, X3)                 \
  "prefetcht0 " BOFF "(%[b],%[pfd])\n\t"                                             \
  "vmovdqu " BOFF "(%[b]), %%ymm8\n\t"                                               \
  "vmovdqu " BOFF32 "(%[b]), %%ymm9\n\t"                                             \
  QGEMM_SIGN_ROW(X0, S0, "0", "1")                                                    \
  ".if %c[rows] > 1\n\t" QGEMM_SIGN_ROW(X1, S1, "2", "3") ".endif\n\t"              \
  ".if %c[rows] > 2\n\t" QGEMM_SIGN_ROW(X2, S2, "4", "5") ".endif\n\t"              \
  ".if %c[rows] > 3\n\t" QGEMM_SIGN_ROW(X3, S3, "6", "7") ".endif\n\t"

// acc[r][0..1] = the sign loop over `count` K groups of a sign-mode tile for its first Rows rows
// (A at a: per group [4 rows][4 s8 s] then [4 rows][4 bytes x], see sign_pair; or, with
// OneRow, the one-row layout [4 s8 s][4 bytes x]), B at b: w = b ^ x, then vpmaddubsw(w, s) +
// vpmaddwd(1), the fast loop's sequence plus one vpxor. Two groups per iteration (an odd count
// runs one first); each group prefetches pfd bytes past its B line. GROUP1 / GROUP2: the first
// and the second group of an iteration; GB / GB2: A's bytes per group and per two.
#define QGEMM_SIGN_RUN_ASM(GROUP1, GROUP2, GB, GB2)                                               \
  __asm__ volatile(                                                                                \
      "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"                                                           \
      "vpxor %%xmm1, %%xmm1, %%xmm1\n\t"                                                           \
      "vpxor %%xmm2, %%xmm2, %%xmm2\n\t"                                                           \
      "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"                                                           \
      "vpxor %%xmm4, %%xmm4, %%xmm4\n\t"                                                           \
      "vpxor %%xmm5, %%xmm5, %%xmm5\n\t"                                                           \
      "vpxor %%xmm6, %%xmm6, %%xmm6\n\t"                                                           \
      "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"                                                           \
      "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"                                                     \
      "vpsrlw $15, %%ymm15, %%ymm15\n\t" /* int16 ones */                                           \
      "shr $1, %[n]\n\t"                                                                           \
      "jnc 2f\n\t" GROUP1 "add $" GB ", %[a]\n\t"                                                  \
      "add $64, %[b]\n\t"                                                                          \
      "2:\n\t"                                                                                     \
      "test %[n], %[n]\n\t"                                                                        \
      "jz 3f\n\t"                                                                                  \
      ".p2align 4\n\t"                                                                             \
      "1:\n\t" GROUP1 GROUP2 "add $" GB2 ", %[a]\n\t"                                              \
      "add $128, %[b]\n\t"                                                                         \
      "dec %[n]\n\t"                                                                               \
      "jnz 1b\n\t"                                                                                 \
      "3:\n\t"                                                                                     \
      "vmovdqu %%ymm0, 0(%[acc])\n\t"                                                              \
      "vmovdqu %%ymm1, 32(%[acc])\n\t"                                                             \
      ".if %c[rows] > 1\n\t"                                                                       \
      "vmovdqu %%ymm2, 64(%[acc])\n\t"                                                             \
      "vmovdqu %%ymm3, 96(%[acc])\n\t"                                                             \
      ".endif\n\t"                                                                                 \
      ".if %c[rows] > 2\n\t"                                                                       \
      "vmovdqu %%ymm4, 128(%[acc])\n\t"                                                            \
      "vmovdqu %%ymm5, 160(%[acc])\n\t"                                                            \
      ".endif\n\t"                                                                                 \
      ".if %c[rows] > 3\n\t"                                                                       \
      "vmovdqu %%ymm6, 192(%[acc])\n\t"                                                            \
      "vmovdqu %%ymm7, 224(%[acc])\n\t"                                                            \
      ".endif\n\t"                                                                                 \
      : [a] "+r"(a), [b] "+r"(b), [n] "+r"(count)                                                  \
      : [acc] "r"(&acc[0][0]), [pfd] "r"(pfd), [rows] "i"(Rows)                                    \
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm15")
template <size_t Rows, bool OneRow = false>
QGEMM_INLINE void sign_run_asm(const uint8_t* a, const int8_t* b, size_t count, __m256i (&acc)[kMR][kNV], size_t pfd) {
  static_assert(Rows >= 1 && Rows <= kMR, "1 to 4 rows");
  static_assert(!OneRow || Rows == 1, "the one-row layout holds row 0 only");
  if constexpr (OneRow)
    QGEMM_SIGN_RUN_ASM(QGEMM_SIGN_GROUP("0", "32", "0", "0", "0", "0", "4", "0", "0", "0"),
                       QGEMM_SIGN_GROUP("64", "96", "8", "0", "0", "0", "12", "0", "0", "0"), "8", "16");
  else
    QGEMM_SIGN_RUN_ASM(QGEMM_SIGN_GROUP("0", "32", "0", "4", "8", "12", "16", "20", "24", "28"),
                       QGEMM_SIGN_GROUP("64", "96", "32", "36", "40", "44", "48", "52", "56", "60"), "32", "64");
}
#undef QGEMM_SIGN_RUN_ASM
#undef QGEMM_SIGN_GROUP
#undef QGEMM_SIGN_ROW
#endif

// vpmaddubsw + vpmaddwd(1): only for blocks that block_is_7bit() accepted. pfd as in
// fast_block_asm (0: no prefetch).
template <size_t M>
QGEMM_INLINE void fast_block(const uint8_t* a, size_t ars, size_t aks, const int8_t* b, size_t g0, size_t g1,
                             __m256i (&acc)[kMR][kNV], size_t pfd = 0) {
#if QGEMM_AVX2_ASM
  if (M == kMR) return fast_block_asm(a, ars, aks, b, g0, g1, acc, pfd);
#endif
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c[M][kNV];
  for (size_t i = 0; i < M; ++i)
    for (size_t v = 0; v < kNV; ++v) c[i][v] = acc[i][v];
  const uint8_t* ag = a + g0 * aks;
  const int8_t* bg = b + g0 * kNR * kKR;
  for (size_t g = g0; g < g1; ++g, ag += aks, bg += kNR * kKR) {
    if (pfd) _mm_prefetch(reinterpret_cast<const char*>(bg) + pfd, _MM_HINT_T0);
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
      exact_pass_asm<kAwRow, kKR * sizeof(int16_t), false>(&aw[0][0], bg, g1 - g0, reinterpret_cast<__m256i*>(pc), 0);
    } else
#endif
    {
      exact_pass<M>(&aw[0][0], kBlockGroups * kKR, kKR, bg, g1 - g0, pc);
    }
    fold_pass<M>(pc, acc, h);
  }
}

// acc[r][2] = the sign loop (see sign_pair, sign_run_asm) over `count` K groups, rows [0, R);
// OneRow: A in the one-row sign layout (R = 1).
template <size_t R, bool OneRow = false>
QGEMM_INLINE void sign_run(const uint8_t* a, const int8_t* b, size_t count, __m256i (&acc)[kMR][kNV], size_t pfd) {
#if QGEMM_AVX2_ASM
  sign_run_asm<R, OneRow>(a, b, count, acc, pfd);
#else
  (void)pfd;
  constexpr size_t group_bytes = OneRow ? kSign1GroupBytes : kSignGroupBytes, x_at = OneRow ? kKR : kMR * kKR;
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (size_t g = 0; g < count; ++g, a += group_bytes, b += kNR * kKR) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
    for (size_t i = 0; i < R; ++i) {
      const __m256i sv = _mm256_set1_epi32(load4(a + i * kKR)), xv = _mm256_set1_epi32(load4(a + x_at + i * kKR));
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_xor_si256(b0, xv), sv), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_xor_si256(b1, xv), sv), ones));
    }
  }
#endif
}

// cs[0..15] = sum over `groups` K groups of the panel's columns (the sign mode's o*colsum term
// when the driver holds only one K block of several: StageParams::colsum is null then).
QGEMM_INLINE void panel_colsum(const int8_t* b, size_t groups, __m256i (&cs)[kNV]) {
  const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
  cs[0] = cs[1] = _mm256_setzero_si256();
  for (size_t g = 0; g < groups; ++g, b += kNR * kKR)
    for (size_t v = 0; v < kNV; ++v) {
      const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * v));
      cs[v] = _mm256_add_epi32(cs[v], _mm256_madd_epi16(_mm256_maddubs_epi16(one8, bv), one16));
    }
}

// acc += exact loop over `count` groups of a packed exact stretch (A at aw, B at bg), rows
// [0, R): the assembly loop for whole tiles, the intrinsic one below (rows 8 bytes apart,
// groups `group_stride` int16 apart: 16, or 4 in the one-row layout).
template <size_t R>
QGEMM_INLINE void exact_run(const int16_t* aw, const int8_t* bg, size_t count, __m256i (&acc)[kMR][kNV],
                            size_t pfd, size_t group_stride = kMR * kKR) {
  for (size_t h = 0; h < kNV; ++h) {
    __m256i pc[R][2];
#if QGEMM_AVX2_ASM
    if (R == kMR) {
      exact_pass_asm<kKR * sizeof(int16_t), kExactGroupBytes, true>(aw, bg + 32 * h, count,
                                                                     reinterpret_cast<__m256i*>(pc), pfd);
    } else
#endif
    {
      (void)pfd;
      exact_pass<R>(aw, kKR, group_stride, bg + 32 * h, count, pc);
    }
    fold_pass<R>(pc, acc, h);
  }
}

}  // namespace
}  // namespace avx2_gemm
}  // namespace detail
}  // namespace qgemm
