// qgemm public C++ API: exact u8 x s8 -> int32 GEMM over packed weights, with fused
// output stages (int32, fixed-point or float-multiplier requantization to u8/s8, float).
// The arithmetic every ISA reproduces bit for bit is stated in README.md ("Arithmetic").
// No exception crosses this API: every call returns a Status, and on error nothing is
// written to the output. last_error_message() gives the reason in words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "qgemm/export.h"

namespace qgemm {

// ---------------------------------------------------------------------------------------
// Status codes. Each bad input has its own code; last_error_message() says which argument.
enum class Status : int32_t {
  ok = 0,
  null_pointer = 1,           // a required pointer is null
  negative_dimension = 2,     // M, N or K < 0 (0 is a valid, empty call)
  bad_leading_dimension = 3,  // lda < K, ldb too small, or ldc < N
  bad_zero_point = 4,         // za outside [0,255], zb outside [-128,127], output zp outside its type
  overflow_risk = 5,          // worst-case |accumulator| could exceed INT32_MAX
  unsupported_isa = 6,        // the ISA is not built into this library or this CPU lacks it
  bad_output_params = 7,      // multiplier/shift/scale/clamp/bias inconsistent or out of range
  packed_isa_mismatch = 8,    // weights were packed for another ISA than the one now selected
  out_of_memory = 9,
  bad_argument = 10,          // anything else (unknown enum value, unknown ISA name, ...)
};

// Version of the library this program runs with, "MAJOR.MINOR.PATCH" (the C qgemm_version());
// the version it was compiled against is QGEMM_VERSION_STRING in qgemm/version.h.
QGEMM_API const char* version() noexcept;

// Short fixed name of a status ("ok", "null_pointer", ...).
QGEMM_API const char* status_name(Status s) noexcept;
// Detailed message of the last failing call made on this thread ("" after a success).
QGEMM_API const char* last_error_message() noexcept;

// ---------------------------------------------------------------------------------------
// Instruction sets, one per entry of the ISA registry (include/qgemm/isa_list.def). Dispatch
// picks the available one of highest priority: on x86-64 amx > avx512vnni > avxvnni > avx512bw
// > avx2 > scalar; on aarch64 i8mm > dotprod > neon > scalar.
enum class Isa : int32_t {
#define QGEMM_ISA(name, value, ...) name = value,
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
};
constexpr int kIsaCount = 0
#define QGEMM_ISA(...) +1
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
    ;

// Lower-case name as accepted by QGEMM_ISA ("scalar", "avx2", ...).
QGEMM_API const char* isa_name(Isa isa) noexcept;
// Parses an ISA name; Status::bad_argument for an unknown name.
QGEMM_API Status isa_from_name(const char* name, Isa* out) noexcept;
// True when this library was built with kernels for `isa` and this CPU (and OS) can run them.
QGEMM_API bool isa_available(Isa isa) noexcept;
// Why `isa` is not available here: "" when it is, else a sentence (not built into this
// library; the CPU features it needs; for amx also which OS grant is missing: the XCR0 tile
// state, or Linux's per-process permission). set_isa() and QGEMM_ISA report the same reason.
QGEMM_API const char* isa_unavailable_reason(Isa isa) noexcept;
// The ISA new calls use now: the best available one, or the one forced by QGEMM_ISA or set_isa().
// After a QGEMM_ISA that names no available ISA, no ISA is active (every call returns
// Status::unsupported_isa, see isa_status()) and this returns the best available one, the
// ISA reset_isa() would select.
QGEMM_API Isa active_isa() noexcept;
// Status::ok when an ISA is active; Status::unsupported_isa, with the reason in
// last_error_message(), while a bad QGEMM_ISA is in force (until set_isa() or reset_isa()).
QGEMM_API Status isa_status() noexcept;
// Forces every later call (all threads) onto `isa`. Status::bad_argument for a value that is
// not an Isa enumerator, Status::unsupported_isa for an ISA this build or CPU lacks; the
// previous choice is then kept. Weights must be packed after the change.
QGEMM_API Status set_isa(Isa isa) noexcept;
// Back to the best available ISA, ignoring QGEMM_ISA.
QGEMM_API void reset_isa() noexcept;
// Name of the microkernel the last successful gemm() on this thread ran, e.g.
// "u8s8_gemm_4x8c4__scalar"; "" before any call, "none" for an empty problem.
QGEMM_API const char* last_kernel_name() noexcept;

// ---------------------------------------------------------------------------------------
// Packed weights: int8 B (K x N) repacked once for the active ISA's microkernel, with column
// sums and weight zero points. Immutable after packing; one object may be used by any number
// of threads at once.
enum class WeightLayout : int32_t {
  kn = 0,  // B[k][n] at b[k*ldb + n], ldb >= N
  nk = 1,  // B[k][n] at b[n*ldb + k], ldb >= K: PyTorch/ONNX [out_features][in_features]
};

class PackedWeights;

// Packs B. zb points to one zero point (zb_per_column = false) or N of them, each in
// [-128, 127]; zb == nullptr means 0. B may be null only when K*N == 0.
// On success *out owns a new object; free it with destroy_packed_weights().
QGEMM_API Status pack_weights(const int8_t* b, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                              const int32_t* zb, bool zb_per_column, PackedWeights** out) noexcept;
// The same with uint8 weights (gemmlowp-style), zero points in [0, 255]. The packed object is
// used like any other: gemm() takes it with uint8 or int8 activations.
QGEMM_API Status pack_weights(const uint8_t* b, WeightLayout layout, int64_t K, int64_t N, int64_t ldb,
                              const int32_t* zb, bool zb_per_column, PackedWeights** out) noexcept;
QGEMM_API void destroy_packed_weights(PackedWeights* w) noexcept;
// Bytes the packed object holds (panels, column sums, zero points).
QGEMM_API size_t packed_weights_size(const PackedWeights* w) noexcept;
QGEMM_API int64_t packed_weights_k(const PackedWeights* w) noexcept;
QGEMM_API int64_t packed_weights_n(const PackedWeights* w) noexcept;
// ISA the weights were packed for (gemm() needs the same active ISA).
QGEMM_API Isa packed_weights_isa(const PackedWeights* w) noexcept;

// ---------------------------------------------------------------------------------------
// Output stages. Plain data; fill with the helpers below or by hand.
enum class OutputType : int32_t { s32 = 0, u8 = 1, s8 = 2, f32 = 3 };

// Bytes of one element of C for an output type (ldc counts elements): 4 for s32 and f32, 1 for
// u8 and s8; 0 for a value that is not an OutputType.
constexpr size_t output_element_size(OutputType t) noexcept {
  return t == OutputType::s32 || t == OutputType::f32 ? 4 : (t == OutputType::u8 || t == OutputType::s8 ? 1 : 0);
}

enum class Requant : int32_t {
  // y = clamp(zo + MultiplyByQuantizedMultiplier(acc, multiplier[j], shift[j]), lo, hi)
  fixed_point = 0,
  // y = clamp(nearbyint((float(acc) [+ bias_f32[j]/(sa*sb[j])]) * mult[j]) + zo, lo, hi),
  // mult[j] = (sa*sb[j])/so in float32 (FBGEMM / PyTorch quantized::linear)
  float_multiplier = 1,
};

enum class Rounding : int32_t {
  double_rounding = 0,  // TFLite default: SaturatingRoundingDoublingHighMul + RoundingDivideByPOT
  single_rounding = 1,  // TFLite with TFLITE_SINGLE_ROUNDING: one 64-bit multiply, one rounding
};

struct OutputStage {
  OutputType type = OutputType::s32;
  // Optional bias, one per output column: int32 for s32 and fixed-point outputs (added to
  // the accumulator), float for f32 output; the float-multiplier stage takes either.
  const int32_t* bias_s32 = nullptr;
  const float* bias_f32 = nullptr;
  // True: the per-column parameters below hold N values; false: one value for all columns.
  bool per_column = false;

  // u8 / s8 outputs.
  Requant requant = Requant::fixed_point;
  Rounding rounding = Rounding::double_rounding;
  const int32_t* multiplier = nullptr;  // fixed point: Q31 multipliers in [0, 2^31)
  const int32_t* shift = nullptr;       // fixed point: TFLite shifts (>0 left) in [-31, 30]
  int32_t zero_point = 0;               // output zero point, within the output type
  int32_t clamp_lo = std::numeric_limits<int32_t>::min();  // INT32_MIN: the type's minimum
  int32_t clamp_hi = std::numeric_limits<int32_t>::max();  // INT32_MAX: the type's maximum

  // Float scales: f32 output and the float-multiplier stage.
  float act_scale = 1.0f;                // sa, activation scale (> 0, finite)
  const float* weight_scale = nullptr;   // sb, 1 or N values (> 0, finite)
  float out_scale = 1.0f;                // so, float-multiplier stage only (> 0, finite)

  // f32 output: y = min(max(fmaf(float(acc), sa*sb[j], bias_f32[j]), lo), hi).
  float clamp_lo_f32 = -std::numeric_limits<float>::infinity();
  float clamp_hi_f32 = std::numeric_limits<float>::infinity();
};

// int32 output: C[i][j] = acc[i][j] (+ bias[j]).
QGEMM_API OutputStage output_s32(const int32_t* bias = nullptr) noexcept;
// u8/s8 output with TFLite fixed-point requantization. `type` is OutputType::u8 or ::s8.
QGEMM_API OutputStage output_fixed_point(OutputType type, const int32_t* multiplier, const int32_t* shift,
                                         bool per_column, int32_t zero_point,
                                         const int32_t* bias = nullptr,
                                         Rounding rounding = Rounding::double_rounding) noexcept;
// u8/s8 output with FBGEMM's float multiplier (sa*sb[j])/so. Bias: int32 or float (or none).
QGEMM_API OutputStage output_float_multiplier(OutputType type, float act_scale, const float* weight_scale,
                                              bool per_column, float out_scale, int32_t zero_point,
                                              const int32_t* bias_s32 = nullptr,
                                              const float* bias_f32 = nullptr) noexcept;
// f32 output (dequantized): y = fmaf(float(acc), sa*sb[j], bias[j]).
QGEMM_API OutputStage output_f32(float act_scale, const float* weight_scale, bool per_column,
                                 const float* bias = nullptr) noexcept;

// ---------------------------------------------------------------------------------------
// C (M x N) = output_stage( (A - za) * (B - zb) + bias ).
// A: M x K uint8, row-major, lda >= K, za in [0, 255]. C: M x N of out.type, ldc >= N
// (in elements). A may be null when M*K == 0, C when M*N == 0.
// Refused with Status::overflow_risk when max|A-za| * sum_k |B[k][j]-zb[j]| + |bias[j]|
// (the exact worst case over every A, with max|A-za| = max(za, 255-za)) exceeds INT32_MAX
// for some column j.
// Runs with the default GemmOptions (OpenMP, its default thread count).
QGEMM_API Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
                      const OutputStage& out, void* c, int64_t ldc) noexcept;
// The same with int8 activations (LiteRT/TFLite, ONNX QDQ): A is M x K int8, za in [-128, 127],
// max|A-za| = max(za + 128, 127 - za). Exact and bit-identical across ISAs like the uint8 form
// (the driver runs it as (A ^ 0x80) with za + 128, README "Operand types").
QGEMM_API Status gemm(int64_t M, const int8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
                      const OutputStage& out, void* c, int64_t ldc) noexcept;

// ---------------------------------------------------------------------------------------
// Threads. A call is split into independent tasks, each computing whole output tiles over the
// full K, so the result is identical bit for bit for any thread count and any pool.
//
// A caller's thread pool: parallel_for(ctx, n_tasks, task, arg) must call task(arg, i) exactly
// once for every i in [0, n_tasks), on any threads and in any order, and return only when all
// calls have returned. Tasks never fail and never call back into the pool.
using TaskFn = void (*)(void* arg, size_t i);
using ParallelForFn = void (*)(void* ctx, size_t n_tasks, TaskFn task, void* arg);

struct GemmOptions {
  // Degree of parallelism: at most this many tasks (fewer for small problems).
  // 0: the default (OpenMP: omp_get_max_threads(); with a caller's pool or without OpenMP:
  // std::thread::hardware_concurrency() / 1). 1: runs on the calling thread. Valid: [0, 4096];
  // anything else is Status::bad_argument.
  int32_t num_threads = 0;
  // The caller's pool; nullptr: OpenMP (or the calling thread in a build without OpenMP).
  ParallelForFn parallel_for = nullptr;
  void* parallel_ctx = nullptr;  // passed to parallel_for as ctx
};
constexpr int32_t kMaxThreads = 4096;

// gemm() with explicit threading options (uint8 or int8 activations).
QGEMM_API Status gemm(int64_t M, const uint8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
                      const OutputStage& out, void* c, int64_t ldc, const GemmOptions& options) noexcept;
QGEMM_API Status gemm(int64_t M, const int8_t* a, int64_t lda, int32_t za, const PackedWeights* b,
                      const OutputStage& out, void* c, int64_t ldc, const GemmOptions& options) noexcept;
// True when this build runs its default parallelism with OpenMP.
QGEMM_API bool built_with_openmp() noexcept;

// ---------------------------------------------------------------------------------------
// Requantization helpers (exactly as TFLite / gemmlowp).
// TFLite's QuantizeMultiplier: real = multiplier * 2^(shift-31), multiplier in [2^30, 2^31)
// (or 0). Status::bad_output_params for a negative, NaN or infinite real.
QGEMM_API Status quantize_multiplier(double real, int32_t* multiplier, int32_t* shift) noexcept;
// MultiplyByQuantizedMultiplier(x, multiplier, shift) with the given rounding. The result is
// saturated to int32 (single rounding) and a left shift wraps as TFLite's vector code does.
QGEMM_API int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift,
                                                   Rounding rounding) noexcept;
// gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT (0 <= exponent <= 31).
QGEMM_API int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) noexcept;
QGEMM_API int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) noexcept;

}  // namespace qgemm
