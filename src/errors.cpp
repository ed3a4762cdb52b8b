// Status names and the per-thread message of the last failure.
#include "errors.hpp"

#include <cstdarg>
#include <cstdio>

namespace qgemm {
namespace {
thread_local char g_message[256] = "";
}  // namespace

const char* status_name(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::null_pointer: return "null_pointer";
    case Status::negative_dimension: return "negative_dimension";
    case Status::bad_leading_dimension: return "bad_leading_dimension";
    case Status::bad_zero_point: return "bad_zero_point";
    case Status::overflow_risk: return "overflow_risk";
    case Status::unsupported_isa: return "unsupported_isa";
    case Status::bad_output_params: return "bad_output_params";
    case Status::packed_isa_mismatch: return "packed_isa_mismatch";
    case Status::out_of_memory: return "out_of_memory";
    case Status::bad_argument: return "bad_argument";
  }
  return "unknown_status";
}

const char* last_error_message() noexcept { return g_message; }

namespace detail {

Status fail(Status s, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_message, sizeof g_message, fmt, ap);
  va_end(ap);
  return s;
}

Status succeed() noexcept {
  g_message[0] = '\0';
  return Status::ok;
}

}  // namespace detail
}  // namespace qgemm
