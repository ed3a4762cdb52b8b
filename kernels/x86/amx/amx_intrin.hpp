// The AMX intrinsics the AMX kernel uses: <immintrin.h>'s, or, in the emulation build
// (QGEMM_SIMDE_EMULATION), a plain C++ model of them written from Intel's definitions (SDM
// vol. 2, LDTILECFG / TILELOADD / TILESTORED / TILEZERO / TDPBUSD / TILERELEASE), so the
// kernel's own code runs the test suites on a CPU without AMX.
//
// The model keeps one tile state per thread, as the hardware does, and stops the process where
// the hardware would fault: a tile instruction before LDTILECFG or after TILERELEASE (#UD), a
// configuration with rows > 16, bytes per row > 64 or a palette other than 0/1 (#GP), and a
// TDPBUSD whose tile shapes disagree (#UD). So a driver that forgets the per-task
// configuration, or a kernel whose tiles do not fit each other, fails the emulated tests too.
// What it cannot show: speed, the OS permission path (src/cpu.cpp), and the real instruction
// encoding (the native build compiles the same calls to tile instructions).
// Internal linkage throughout: only the amx kernel's objects include it.
#pragma once

#if !defined(QGEMM_SIMDE_EMULATION)
#include "x86/intrin.hpp"  // <immintrin.h>, included the way every x86 kernel includes it
#else
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace qgemm_amx_emul {
namespace {

struct TileState {
  bool configured = false;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  uint8_t data[8][16][64] = {};
};

inline TileState& state() {
  thread_local TileState s;
  return s;
}

[[noreturn]] inline void fault(const char* what) {
  std::fprintf(stderr, "qgemm AMX emulation: %s (the hardware would fault)\n", what);
  std::abort();
}

inline TileState& configured() {
  TileState& s = state();
  if (!s.configured) fault("tile instruction without a loaded tile configuration");
  return s;
}

inline void check_tile(int t) {
  if (t < 0 || t > 7) fault("tile register out of range");
}

inline void loadconfig(const void* cfg) {
  uint8_t c[64];
  std::memcpy(c, cfg, 64);
  TileState& s = state();
  s = TileState{};
  if (c[0] == 0) return;  // palette 0: the initial state, no tiles
  if (c[0] != 1) fault("LDTILECFG with a palette other than 0 or 1");
  for (int i = 2; i < 16; ++i)
    if (c[i]) fault("LDTILECFG with reserved bytes set");
  for (int t = 0; t < 8; ++t) {
    uint16_t cb;
    std::memcpy(&cb, c + 16 + 2 * t, 2);
    const uint8_t r = c[48 + t];
    if (r > 16 || cb > 64) fault("LDTILECFG with a tile over 16 rows or 64 bytes a row");
    if ((r == 0) != (cb == 0)) fault("LDTILECFG with a tile of zero rows or zero bytes only");
    s.rows[t] = r;
    s.colsb[t] = cb;
  }
  s.configured = true;
}

inline void release() { state() = TileState{}; }

inline void zero(int t) {
  check_tile(t);
  std::memset(configured().data[t], 0, sizeof(TileState::data[0]));
}

// Rows past the configured ones and bytes past colsb read as zero (the hardware zeroes them).
inline void loadd(int t, const void* base, size_t stride) {
  check_tile(t);
  TileState& s = configured();
  if (!s.rows[t]) fault("TILELOADD of an unconfigured tile");
  std::memset(s.data[t], 0, sizeof(TileState::data[0]));
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(s.data[t][r], static_cast<const char*>(base) + r * stride, s.colsb[t]);
}

inline void stored(int t, void* base, size_t stride) {
  check_tile(t);
  TileState& s = configured();
  if (!s.rows[t]) fault("TILESTORED of an unconfigured tile");
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(static_cast<char*>(base) + r * stride, s.data[t][r], s.colsb[t]);
}

// dst[m][n] += sum over k < colsb(a)/4 of sum_i u8(a[m][4k+i]) * s8(b[k][4n+i]), int32 with
// wraparound (the dword sums of Intel's definition).
inline void dpbusd(int dst, int a, int b) {
  check_tile(dst);
  check_tile(a);
  check_tile(b);
  TileState& s = configured();
  if (!s.rows[dst] || !s.rows[a] || !s.rows[b]) fault("TDPBUSD on an unconfigured tile");
  if (s.colsb[dst] != s.colsb[b] || s.colsb[a] != 4 * s.rows[b] || s.rows[dst] != s.rows[a] || s.colsb[dst] % 4)
    fault("TDPBUSD with tile shapes that do not match");
  if (dst == a || dst == b || a == b) fault("TDPBUSD with a tile register used twice");
  const int kgroups = s.colsb[a] / 4, cols = s.colsb[dst] / 4;
  for (int m = 0; m < s.rows[dst]; ++m) {
    uint8_t* out = s.data[dst][m];
    for (int n = 0; n < cols; ++n) {
      uint32_t acc;
      std::memcpy(&acc, out + 4 * n, 4);
      for (int k = 0; k < kgroups; ++k)
        for (int i = 0; i < 4; ++i)
          acc += static_cast<uint32_t>(static_cast<int32_t>(s.data[a][m][4 * k + i]) *
                                       static_cast<int32_t>(static_cast<int8_t>(s.data[b][k][4 * n + i])));
      std::memcpy(out + 4 * n, &acc, 4);
    }
  }
}

}  // namespace
}  // namespace qgemm_amx_emul

#define _tile_loadconfig(cfg) qgemm_amx_emul::loadconfig(cfg)
#define _tile_release() qgemm_amx_emul::release()
#define _tile_zero(t) qgemm_amx_emul::zero(t)
#define _tile_loadd(t, base, stride) qgemm_amx_emul::loadd((t), (base), static_cast<size_t>(stride))
#define _tile_stream_loadd(t, base, stride) qgemm_amx_emul::loadd((t), (base), static_cast<size_t>(stride))
#define _tile_stored(t, base, stride) qgemm_amx_emul::stored((t), (base), static_cast<size_t>(stride))
#define _tile_dpbusd(dst, a, b) qgemm_amx_emul::dpbusd((dst), (a), (b))
#endif
