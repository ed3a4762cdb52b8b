// Quantize float32 -> u8/s8 and min/max for AVX2: 32 elements per step, rounded with vroundps
// in the current rounding mode, like nearbyint (nearest even by default; the current mode, not
// the immediate "nearest", because SIMDe's emulation of the latter rounds ties away), NaN zeroed by an ordered compare, clamped in
// float, converted, packed with saturation (values are already in range) and put back in order.
// Bit-identical with the baseline loops in src/quant/quantize.cpp.
#include "x86/intrin.hpp"

#include <cmath>
#include <cstdint>

#include "quant_ukernel.hpp"

namespace qgemm {
namespace detail {
namespace {

inline __m256i quant8(const float* x, __m256 inv, __m256 lo, __m256 hi, __m256i zp) {
  __m256 t = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), inv), _MM_FROUND_CUR_DIRECTION);
  t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q));  // NaN -> 0 -> zero point
  t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), zp);
}

inline int32_t quant1(float x, float inv, int32_t zp, int32_t lo, int32_t hi) {
  const float t = std::nearbyint(x * inv);
  if (t != t) return zp;
  const float flo = static_cast<float>(lo - zp), fhi = static_cast<float>(hi - zp);
  return static_cast<int32_t>(t < flo ? flo : (t > fhi ? fhi : t)) + zp;
}

template <bool kU8, typename T>
void quantize_avx2(const float* x, size_t n, float inv, int32_t zp, T* q) {
  constexpr int32_t lo = kU8 ? 0 : -128, hi = kU8 ? 255 : 127;
  const __m256 vinv = _mm256_set1_ps(inv), vlo = _mm256_set1_ps(static_cast<float>(lo - zp)),
               vhi = _mm256_set1_ps(static_cast<float>(hi - zp));
  const __m256i vzp = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quant8(x + i, vinv, vlo, vhi, vzp), b = quant8(x + i + 8, vinv, vlo, vhi, vzp);
    const __m256i c = quant8(x + i + 16, vinv, vlo, vhi, vzp), d = quant8(x + i + 24, vinv, vlo, vhi, vzp);
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i bytes = kU8 ? _mm256_packus_epi16(ab, cd) : _mm256_packs_epi16(ab, cd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  for (; i < n; ++i) q[i] = static_cast<T>(quant1(x[i], inv, zp, lo, hi));
}

}  // namespace

void quantize_u8__avx2(const float* x, size_t n, float inv, int32_t zp, uint8_t* q) {
  quantize_avx2<true>(x, n, inv, zp, q);
}

void quantize_s8__avx2(const float* x, size_t n, float inv, int32_t zp, int8_t* q) {
  quantize_avx2<false>(x, n, inv, zp, q);
}

void min_max__avx2(const float* x, size_t n, float* mn, float* mx) {
  __m256 lo0 = _mm256_set1_ps(*mn), hi0 = _mm256_set1_ps(*mx), lo1 = lo0, hi1 = hi0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    const __m256 oa = _mm256_cmp_ps(a, a, _CMP_ORD_Q), ob = _mm256_cmp_ps(b, b, _CMP_ORD_Q);
    lo0 = _mm256_blendv_ps(lo0, _mm256_min_ps(lo0, a), oa);
    hi0 = _mm256_blendv_ps(hi0, _mm256_max_ps(hi0, a), oa);
    lo1 = _mm256_blendv_ps(lo1, _mm256_min_ps(lo1, b), ob);
    hi1 = _mm256_blendv_ps(hi1, _mm256_max_ps(hi1, b), ob);
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, _mm256_min_ps(lo0, lo1));
  _mm256_store_ps(h, _mm256_max_ps(hi0, hi1));
  float a = *mn, b = *mx;
  for (int j = 0; j < 8; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  for (; i < n; ++i)
    if (x[i] == x[i]) {
      a = x[i] < a ? x[i] : a;
      b = x[i] > b ? x[i] : b;
    }
  *mn = a;
  *mx = b;
}

}  // namespace detail
}  // namespace qgemm
