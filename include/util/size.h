/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing and printing of human byte sizes ("512M", "4G", "4096"). */
#ifndef CASULO_UTIL_SIZE_H
#define CASULO_UTIL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a size: decimal digits with an optional binary suffix K, M, G, T
 * (also KiB/MiB/GiB/TiB, KB/MB/GB/TB meaning the same powers of 1024, any
 * case). A bare number is bytes. Returns 0, or -EINVAL for text that is not a
 * size, -ERANGE when it does not fit in 64 bits.
 */
int size_parse(const char *text, uint64_t *bytes);

/* Writes the shortest exact form ("512M", "4G", "1536K", "123"). */
void size_format(uint64_t bytes, char *buf, size_t buflen);

#endif
