// The int4 layer's AVX-512BW kernels (kernels/int4_ukernel.hpp): W4A8 with vpmaddubsw +
// vpmaddwd in place of vpdpbusd. Exact: a u8 x nibble pair sums to at most 2 * 255 * 15, and the
// low and high halves of a block added in int16 to at most 4 * 255 * 15 = 15300 < 32767, so
// nothing saturates. Tiles and weight-only: kernels/x86/w4_linear_zmm.hpp.
#include "x86/w4_linear_zmm.hpp"

namespace qgemm {
namespace detail {
namespace {

struct DotBw {
  static inline __m512i step(__m512i acc, __m512i alo, __m512i ahi, __m512i wlo, __m512i whi) {
    const __m512i t = _mm512_add_epi16(_mm512_maddubs_epi16(alo, wlo), _mm512_maddubs_epi16(ahi, whi));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(t, _mm512_set1_epi16(1)));
  }
  // acc + the int16 pair products of w and a.
  static inline __m512i correct(__m512i acc, __m512i w, __m512i a) { return _mm512_add_epi32(acc, _mm512_madd_epi16(w, a)); }
};

void w4a8_linear__avx512bw(const W4A8Args& r, size_t m, size_t p0, size_t p1) { w4a8_zmm<DotBw>(r, m, p0, p1); }

void w4f32_linear__avx512bw(const W4F32Args& r, size_t m, size_t p0, size_t p1) { w4f32_zmm(r, m, p0, p1); }

}  // namespace

extern const Int4Kernels kInt4Kernels_avx512bw = {w4a8_linear__avx512bw, w4f32_linear__avx512bw,
                                                  "w4a8_linear_8x32c4__avx512bw", "w4a32_linear_8x32__avx512bw"};

}  // namespace detail
}  // namespace qgemm
