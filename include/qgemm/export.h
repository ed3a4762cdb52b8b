/* QGEMM_API marks the public C and C++ API. The library is compiled with hidden visibility
 * (-fvisibility=hidden -fvisibility-inlines-hidden), so in libqgemm.so only what carries this
 * mark is exported; kernels, dispatch tables and detail:: code stay internal (docs/vendoring.md).
 * In the static library the mark changes nothing for its users. */
#ifndef QGEMM_EXPORT_H_
#define QGEMM_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define QGEMM_API __attribute__((visibility("default")))
#else
#define QGEMM_API
#endif

#endif /* QGEMM_EXPORT_H_ */
