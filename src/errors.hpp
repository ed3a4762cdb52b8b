// Status plumbing: every failing public call records a message for last_error_message().
#pragma once

#include "qgemm/qgemm.hpp"

namespace qgemm {
namespace detail {

// Records a printf-style message for this thread and returns s.
Status fail(Status s, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
// Clears this thread's message (on success).
Status succeed() noexcept;

}  // namespace detail
}  // namespace qgemm
