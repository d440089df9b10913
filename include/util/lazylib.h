/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd and libcurl (and SQLite and nettle) are loaded on first use instead of at exec:
 * between them they pull in ~30 shared libraries (TLS, Kerberos, LDAP, ...),
 * which cost a VM that uses neither ~5 ms and ~7 MiB at every start. The
 * wrappers in src/util/lazy_mhd.c and lazy_curl.c define the libraries' own
 * function names, so the callers are ordinary libmicrohttpd/libcurl code.
 */
#ifndef CASULO_UTIL_LAZYLIB_H
#define CASULO_UTIL_LAZYLIB_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Loads the library now (idempotent, thread-safe). Must be called before a
 * seccomp filter forbids mapping code. false with the reason in err.
 */
bool lazy_mhd_load(char *err, size_t errlen);
bool lazy_curl_load(char *err, size_t errlen);
/* SQLite (the manager's store) and nettle (its WebSocket handshake): the same
 * reasoning, for libraries only `casulo serve` uses (lazy_sqlite.c, lazy_nettle.c). */
bool lazy_sqlite_load(char *err, size_t errlen);
bool lazy_nettle_load(char *err, size_t errlen);

#endif
