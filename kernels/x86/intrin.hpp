// The one include for x86 intrinsics in kernels/x86/. Normally <immintrin.h>. In the
// emulation build (cmake -DQGEMM_X86_EMULATION=ON) the same kernel sources compile against
// SIMDe's portable implementations instead (SIMDE_NO_NATIVE, so every intrinsic is emulated),
// which lets a machine without AVX-512 or AVX-VNNI run those kernels bit for bit in the tests.
// Intrinsics SIMDe 0.7 lacks are supplied below, written from Intel's definitions.
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
template <typename V, typename E>
inline void mask_store(E* p, uint64_t k, V v) {
  E tmp[sizeof(V) / sizeof(E)];
  std::memcpy(tmp, &v, sizeof(V));
  for (size_t i = 0; i < sizeof(V) / sizeof(E); ++i)
    if ((k >> i) & 1) p[i] = tmp[i];
}
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
// SIMDe's portable _mm256_fmadd_ps multiplies and then adds (two roundings); the f32 output
// stage needs the single rounding of a fused multiply-add, as the hardware instruction does.
namespace qgemm_emul {
inline simde__m256 fmadd256(simde__m256 a, simde__m256 b, simde__m256 c) {
  float x[8], y[8], z[8];
  std::memcpy(x, &a, 32);
  std::memcpy(y, &b, 32);
  std::memcpy(z, &c, 32);
  for (int i = 0; i < 8; ++i) x[i] = std::fma(x[i], y[i], z[i]);
  std::memcpy(&a, x, 32);
  return a;
}
}  // namespace qgemm_emul
#undef _mm256_fmadd_ps
#define _mm256_fmadd_ps(a, b, c) qgemm_emul::fmadd256(a, b, c)
#define _cvtu32_mask16(x) static_cast<__mmask16>(x)
#define _cvtu32_mask32(x) static_cast<__mmask32>(x)
#define _cvtu64_mask64(x) static_cast<__mmask64>(x)
#else
#include <immintrin.h>
#endif
