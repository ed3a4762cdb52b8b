// The one include for x86 intrinsics in kernels/x86/. Normally <immintrin.h>. In the
// emulation build (cmake -DQGEMM_X86_EMULATION=ON) the same kernel sources compile against
// SIMDe's portable implementations instead (SIMDE_NO_NATIVE, so every intrinsic is emulated),
// which lets a machine without AVX-512 or AVX-VNNI run those kernels bit for bit in the tests.
// Intrinsics SIMDe 0.7 lacks are supplied below, written from Intel's definitions.
// They have internal linkage (anonymous namespaces): every x86 ISA's objects include them.
#pragma once

#if defined(QGEMM_SIMDE_EMULATION)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/avx512.h>
#include <simde/x86/fma.h>
#include <simde/x86/f16c.h>

#include <cmath>
#include <cstdint>
#include <cstring>

typedef simde__mmask8 __mmask8;
typedef simde__mmask16 __mmask16;
typedef simde__mmask32 __mmask32;
typedef simde__mmask64 __mmask64;

// AVX-VNNI (VEX) has the same arithmetic as the AVX512VL form.
#define _mm256_dpbusd_avx_epi32(src, a, b) simde_mm256_dpbusd_epi32(src, a, b)
#define _mm_dpbusd_avx_epi32(src, a, b) simde_mm_dpbusd_epi32(src, a, b)

namespace qgemm_emul {
namespace {
template <typename V, typename E>
inline void mask_store(E* p, uint64_t k, V v) {
  E tmp[sizeof(V) / sizeof(E)];
  std::memcpy(tmp, &v, sizeof(V));
  for (size_t i = 0; i < sizeof(V) / sizeof(E); ++i)
    if ((k >> i) & 1) p[i] = tmp[i];
}
}  // namespace
}  // namespace qgemm_emul

#ifndef _mm512_mask_storeu_epi32
#define _mm512_mask_storeu_epi32(p, k, v) qgemm_emul::mask_store(static_cast<int32_t*>(p), (k), (v))
#endif
#ifndef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, v) qgemm_emul::mask_store(static_cast<float*>(p), (k), (v))
#endif
#ifndef _mm512_mask_storeu_epi8
#define _mm512_mask_storeu_epi8(p, k, v) qgemm_emul::mask_store(static_cast<int8_t*>(p), (k), (v))
#endif
#ifndef _mm_mask_storeu_epi8
#define _mm_mask_storeu_epi8(p, k, v) qgemm_emul::mask_store(static_cast<int8_t*>(p), (k), (v))
#endif
#ifndef _mm256_mask_storeu_epi32
#define _mm256_mask_storeu_epi32(p, k, v) qgemm_emul::mask_store(static_cast<int32_t*>(p), (k), (v))
#endif
// zmm intrinsics SIMDe 0.7 lacks, and _mm512_fmadd_ps / _mm256_fmadd_ps, which SIMDe's portable
// path computes as an unfused a*b+c (two roundings): all written from Intel's definitions.
#include <cmath>
namespace qgemm_emul {
namespace {
template <typename T, size_t N, typename V>
inline void lanes(const V& v, T (&out)[N]) {
  static_assert(sizeof(V) == sizeof(T) * N, "lane count");
  std::memcpy(out, &v, sizeof(V));
}
template <typename V, typename T, size_t N>
inline V from_lanes(const T (&in)[N]) {
  static_assert(sizeof(V) == sizeof(T) * N, "lane count");
  V v;
  std::memcpy(&v, in, sizeof(V));
  return v;
}
inline __m512i srav_epi32(__m512i a, __m512i count) {
  int32_t x[16], c[16];
  lanes(a, x);
  lanes(count, c);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<uint32_t>(c[i]) > 31 ? (x[i] < 0 ? -1 : 0) : (x[i] >> c[i]);
  return from_lanes<__m512i>(x);
}
inline __m512i srav_epi64(__m512i a, __m512i count) {
  int64_t x[8], c[8];
  lanes(a, x);
  lanes(count, c);
  for (int i = 0; i < 8; ++i) x[i] = static_cast<uint64_t>(c[i]) > 63 ? (x[i] < 0 ? -1 : 0) : (x[i] >> c[i]);
  return from_lanes<__m512i>(x);
}
inline __m512 cvtepi32_ps(__m512i a) {
  int32_t x[16];
  float f[16];
  lanes(a, x);
  for (int i = 0; i < 16; ++i) f[i] = static_cast<float>(x[i]);
  return from_lanes<__m512>(f);
}
// Rounds in the current rounding mode (MXCSR); out of range and NaN give INT32_MIN.
inline __m512i cvtps_epi32(__m512 a) {
  float f[16];
  int32_t x[16];
  lanes(a, f);
  for (int i = 0; i < 16; ++i) {
    const float r = std::nearbyint(f[i]);
    x[i] = (r >= -2147483648.0f && r < 2147483648.0f) ? static_cast<int32_t>(r) : INT32_MIN;
  }
  return from_lanes<__m512i>(x);
}
// vpmovdb: truncation to the low byte of each lane.
inline __m128i cvtepi32_epi8(__m512i a) {
  uint32_t x[16];
  uint8_t y[16];
  lanes(a, x);
  for (int i = 0; i < 16; ++i) y[i] = static_cast<uint8_t>(x[i]);
  return from_lanes<__m128i>(y);
}
// Reads only the selected lanes (a masked load never touches the others).
inline __m512i maskz_loadu_epi32(uint32_t k, const void* p) {
  int32_t x[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&x[i], static_cast<const char*>(p) + 4 * i, 4);
  return from_lanes<__m512i>(x);
}
inline __m512 maskz_loadu_ps(uint32_t k, const void* p) {
  float x[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&x[i], static_cast<const char*>(p) + 4 * i, 4);
  return from_lanes<__m512>(x);
}
inline __m512 fmadd_ps(__m512 a, __m512 b, __m512 c) {
  float x[16], y[16], z[16];
  lanes(a, x);
  lanes(b, y);
  lanes(c, z);
  for (int i = 0; i < 16; ++i) x[i] = std::fma(x[i], y[i], z[i]);
  return from_lanes<__m512>(x);
}
inline __m256 fmadd256(__m256 a, __m256 b, __m256 c) {
  float x[8], y[8], z[8];
  lanes(a, x);
  lanes(b, y);
  lanes(c, z);
  for (int i = 0; i < 8; ++i) x[i] = std::fma(x[i], y[i], z[i]);
  return from_lanes<__m256>(x);
}
}  // namespace
}  // namespace qgemm_emul
#define _mm512_srav_epi32(a, c) qgemm_emul::srav_epi32((a), (c))
#define _mm512_srav_epi64(a, c) qgemm_emul::srav_epi64((a), (c))
#define _mm512_cvtepi32_ps(a) qgemm_emul::cvtepi32_ps(a)
#define _mm512_cvtps_epi32(a) qgemm_emul::cvtps_epi32(a)
#define _mm512_cvtepi32_epi8(a) qgemm_emul::cvtepi32_epi8(a)
#define _mm512_maskz_loadu_epi32(k, p) qgemm_emul::maskz_loadu_epi32((k), (p))
#define _mm512_maskz_loadu_ps(k, p) qgemm_emul::maskz_loadu_ps((k), (p))
// SIMDe 0.7 defines this alias with the masked form's four arguments.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16((a), (b))
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps(a, b, c) qgemm_emul::fmadd_ps((a), (b), (c))
#undef _mm256_fmadd_ps
#define _mm256_fmadd_ps(a, b, c) qgemm_emul::fmadd256((a), (b), (c))
// Weight-only linear (w8_linear_*__avx512bw / __avx512bf16): widening loads, masked narrow
// loads, vcvtph2ps zmm, and AVX512-BF16 (SIMDe 0.7's _mm512_dpbf16_ps adds two unfused
// products in another order and ignores DAZ/FTZ, so it is replaced).
namespace qgemm_emul {
namespace {
template <typename V, typename E, size_t N>
inline V maskz_load(uint64_t k, const void* p) {
  E x[N] = {};
  for (size_t i = 0; i < N; ++i)
    if ((k >> i) & 1) std::memcpy(&x[i], static_cast<const char*>(p) + sizeof(E) * i, sizeof(E));
  return from_lanes<V>(x);
}
inline __m512i cvtepi8_epi32(__m128i a) {
  int8_t b[16];
  int32_t x[16];
  lanes(a, b);
  for (int i = 0; i < 16; ++i) x[i] = b[i];
  return from_lanes<__m512i>(x);
}
inline __m512i cvtepu16_epi32(__m256i a) {
  uint16_t h[16];
  int32_t x[16];
  lanes(a, h);
  for (int i = 0; i < 16; ++i) x[i] = h[i];
  return from_lanes<__m512i>(x);
}
inline float half_to_float(uint16_t h) {  // IEEE binary16 -> binary32, exact
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  uint32_t u;
  if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);
  else if (e != 0) u = sign | ((e + 112) << 23) | (m << 13);
  else if (m == 0) u = sign;
  else {
    float f = std::ldexp(static_cast<float>(m), -24);
    std::memcpy(&u, &f, 4);
    u |= sign;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline __m512 cvtph_ps(__m256i a) {
  uint16_t h[16];
  float f[16];
  lanes(a, h);
  for (int i = 0; i < 16; ++i) f[i] = half_to_float(h[i]);
  return from_lanes<__m512>(f);
}
// Intel's convert_fp32_to_bfloat16 (VCVTNE2PS2BF16): denormals to signed zero, NaN made quiet,
// otherwise round to nearest even; MXCSR not consulted.
inline uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t e = (x >> 23) & 0xff, m = x & 0x7fffff;
  if (e == 0) return static_cast<uint16_t>((x >> 16) & 0x8000);
  if (e == 0xff) return static_cast<uint16_t>((x >> 16) | (m ? 0x40 : 0));
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}
// dst.word[j] = bf16(j < 16 ? b.fp32[j] : a.fp32[j - 16])
inline __m512bh cvtne2ps_pbh(__m512 a, __m512 b) {
  float fa[16], fb[16];
  uint16_t r[32];
  lanes(a, fa);
  lanes(b, fb);
  for (int j = 0; j < 16; ++j) r[j] = fp32_to_bf16(fb[j]), r[16 + j] = fp32_to_bf16(fa[j]);
  return from_lanes<__m512bh>(r);
}
inline float daz(float f) { return std::fpclassify(f) == FP_SUBNORMAL ? std::copysign(0.0f, f) : f; }
// VDPBF16PS, from Intel's pseudo-code: per lane j, srcdest += a[2j+1]*b[2j+1], then
// srcdest += a[2j]*b[2j], each an FP32 FMA with denormal inputs read as zero, denormal results
// flushed to zero and round to nearest even (MXCSR neither consulted nor updated; this
// emulation assumes the default rounding mode).
inline __m512 dpbf16_ps(__m512 src, __m512bh a, __m512bh b) {
  float s[16];
  uint16_t ha[32], hb[32];
  lanes(src, s);
  lanes(a, ha);
  lanes(b, hb);
  auto f = [](uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &u, 4);
    return daz(v);
  };
  for (int j = 0; j < 16; ++j) {
    float acc = daz(s[j]);
    acc = daz(std::fma(f(ha[2 * j + 1]), f(hb[2 * j + 1]), acc));
    acc = daz(std::fma(f(ha[2 * j]), f(hb[2 * j]), acc));
    s[j] = acc;
  }
  return from_lanes<__m512>(s);
}
}  // namespace
}  // namespace qgemm_emul
#define _mm512_cvtepi8_epi32(a) qgemm_emul::cvtepi8_epi32(a)
#define _mm512_cvtepu16_epi32(a) qgemm_emul::cvtepu16_epi32(a)
#define _mm512_cvtph_ps(a) qgemm_emul::cvtph_ps(a)
#define _mm_maskz_loadu_epi8(k, p) qgemm_emul::maskz_load<__m128i, int8_t, 16>((k), (p))
#define _mm256_maskz_loadu_epi16(k, p) qgemm_emul::maskz_load<__m256i, int16_t, 16>((k), (p))
#define _mm512_maskz_loadu_epi16(k, p) qgemm_emul::maskz_load<__m512i, int16_t, 32>((k), (p))
#define _mm512_shuffle_f32x4(a, b, imm) simde_mm512_shuffle_f32x4((a), (b), (imm))
#undef _mm512_cvtne2ps_pbh
#define _mm512_cvtne2ps_pbh(a, b) qgemm_emul::cvtne2ps_pbh((a), (b))
#undef _mm512_dpbf16_ps
#define _mm512_dpbf16_ps(src, a, b) qgemm_emul::dpbf16_ps((src), (a), (b))
#define _cvtu32_mask16(x) static_cast<__mmask16>(x)
#define _cvtu32_mask32(x) static_cast<__mmask32>(x)
#define _cvtu64_mask64(x) static_cast<__mmask64>(x)
#else
// GCC 12's avx512fintrin.h initialises _mm512_undefined_*() from itself, which -Wall reports as
// maybe-uninitialized (or uninitialized: vshuff32x4, vpermps) wherever an intrinsic using it is
// inlined (GCC PR 105593, fixed in 13).
// (clang has no -Wmaybe-uninitialized and would warn about the pragma itself.)
#if defined(__clang__)
#include <immintrin.h>
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
#endif
