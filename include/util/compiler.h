/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small compiler helpers shared by every module. Kept tiny on purpose: only
 * what the C11 standard library does not already give us.
 */
#ifndef CASULO_UTIL_COMPILER_H
#define CASULO_UTIL_COMPILER_H

#include <stddef.h>

/* Functions that create or register things: ignoring their result is a bug. */
#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

#endif
