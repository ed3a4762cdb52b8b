/* Consumer of qgemm through the C API, compiled as C: the version macros agree with
 * qgemm_version(), and a status name comes back. */
#include <qgemm/qgemm.h>
#include <qgemm/version.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", QGEMM_VERSION_MAJOR, QGEMM_VERSION_MINOR, QGEMM_VERSION_PATCH);
  printf("consumer_c: qgemm_version() = %s, headers %s (%d), status 5 = %s\n", qgemm_version(), expect,
         QGEMM_VERSION, qgemm_status_name(5));
  if (strcmp(qgemm_version(), expect) != 0 || strcmp(QGEMM_VERSION_STRING, expect) != 0) return 1;
  return strcmp(qgemm_status_name(5), "overflow_risk") == 0 ? 0 : 1;
}
