// The library's version at run time (qgemm_version(), qgemm::version()), from the generated
// qgemm/version.h, so that a program can tell the library it runs with from the headers it
// was compiled against.
#include "qgemm/version.h"

#include "qgemm/qgemm.h"
#include "qgemm/qgemm.hpp"

namespace qgemm {
const char* version() noexcept { return QGEMM_VERSION_STRING; }
}  // namespace qgemm

extern "C" const char* qgemm_version(void) { return QGEMM_VERSION_STRING; }
