// The int4 layer's AVX-512 VNNI kernels (kernels/int4_ukernel.hpp): W4A8 with one vpdpbusd per
// half block (u8 activations x unpacked nibbles, [16 columns][4 k] dwords), tiles of 8 rows x
// 32 columns (fewer rows: up to 64 columns streamed at once, with prefetch); weight-only as on
// avx512bw (the shared tile loops: kernels/x86/w4_linear_zmm.hpp).
#include "x86/w4_linear_zmm.hpp"

namespace qgemm {
namespace detail {
namespace {

struct DotVnni {
  static inline __m512i step(__m512i acc, __m512i alo, __m512i ahi, __m512i wlo, __m512i whi) {
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, alo, wlo), ahi, whi);
  }
  // acc + the int16 pair products of w and a (vpdpwssd).
  static inline __m512i correct(__m512i acc, __m512i w, __m512i a) { return _mm512_dpwssd_epi32(acc, w, a); }
};

void w4a8_linear__avx512vnni(const W4A8Args& r, size_t m, size_t p0, size_t p1) { w4a8_zmm<DotVnni>(r, m, p0, p1); }

void w4f32_linear__avx512vnni(const W4F32Args& r, size_t m, size_t p0, size_t p1) { w4f32_zmm(r, m, p0, p1); }

}  // namespace

extern const Int4Kernels kInt4Kernels_avx512vnni = {w4a8_linear__avx512vnni, w4f32_linear__avx512vnni,
                                                    "w4a8_linear_8x32c4__avx512vnni", "w4a32_linear_8x32__avx512vnni"};

}  // namespace detail
}  // namespace qgemm
