// SPDX-License-Identifier: Apache-2.0
/*
 * SQLite, loaded when `casulo serve` opens its store (see lazylib.h): linked,
 * it would be mapped and relocated at every `casulo run` too, which never
 * touches it. Each wrapper has the library's prototype and forwards to the
 * real symbol; before a successful load it fails the way SQLite reports a
 * failure (an error code, NULL, or a fixed message).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>

#include "util/lazylib.h"

#define SQLITE_SONAME "libsqlite3.so.0"

/* X(return type, name, parameters, arguments, value when not loaded) */
#define SQLITE_FUNCTIONS(X)                                                                       \
    X(int, sqlite3_open_v2, (const char *f, sqlite3 **db, int fl, const char *vfs),                \
      (f, db, fl, vfs), (*db = NULL, SQLITE_CANTOPEN))                                             \
    X(int, sqlite3_close, (sqlite3 *db), (db), SQLITE_MISUSE)                                      \
    X(int, sqlite3_busy_timeout, (sqlite3 *db, int ms), (db, ms), SQLITE_MISUSE)                   \
    X(int, sqlite3_exec, (sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),  \
                          void *arg, char **errmsg), (db, sql, cb, arg, errmsg), SQLITE_MISUSE)    \
    X(int, sqlite3_prepare_v2, (sqlite3 *db, const char *sql, int n, sqlite3_stmt **st,            \
                                const char **tail), (db, sql, n, st, tail),                        \
      (*st = NULL, SQLITE_MISUSE))                                                                 \
    X(int, sqlite3_step, (sqlite3_stmt *st), (st), SQLITE_MISUSE)                                  \
    X(int, sqlite3_finalize, (sqlite3_stmt *st), (st), SQLITE_OK)                                  \
    X(int, sqlite3_bind_text, (sqlite3_stmt *st, int i, const char *v, int n, void (*d)(void *)),  \
      (st, i, v, n, d), SQLITE_MISUSE)                                                             \
    X(int, sqlite3_bind_int64, (sqlite3_stmt *st, int i, sqlite3_int64 v), (st, i, v),             \
      SQLITE_MISUSE)                                                                               \
    X(int, sqlite3_bind_null, (sqlite3_stmt *st, int i), (st, i), SQLITE_MISUSE)                   \
    X(int, sqlite3_column_int, (sqlite3_stmt *st, int i), (st, i), 0)                              \
    X(sqlite3_int64, sqlite3_column_int64, (sqlite3_stmt *st, int i), (st, i), 0)                  \
    X(const unsigned char *, sqlite3_column_text, (sqlite3_stmt *st, int i), (st, i), NULL)        \
    X(int, sqlite3_changes, (sqlite3 *db), (db), 0)                                                \
    X(sqlite3_int64, sqlite3_last_insert_rowid, (sqlite3 *db), (db), 0)                            \
    X(const char *, sqlite3_errmsg, (sqlite3 *db), (db), "SQLite is not loaded")                   \
    X(const char *, sqlite3_errstr, (int rc), (rc), "SQLite is not loaded")

static struct {
    pthread_once_t once;
    bool ok;
    char why[256];
#define SLOT(ret, name, params, args, fail) ret(*name) params;
    SQLITE_FUNCTIONS(SLOT)
#undef SLOT
} sq = { .once = PTHREAD_ONCE_INIT };

static void load(void)
{
    void *h = dlopen(SQLITE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(sq.why, sizeof(sq.why), "cannot load %s: %s", SQLITE_SONAME, dlerror());
        return;
    }
#define RESOLVE(ret, name, params, args, fail)                                                     \
    *(void **)&sq.name = dlsym(h, #name);                                                          \
    if (!sq.name) {                                                                                \
        snprintf(sq.why, sizeof(sq.why), "%s lacks %s", SQLITE_SONAME, #name);                     \
        return;                                                                                    \
    }
    SQLITE_FUNCTIONS(RESOLVE)
#undef RESOLVE
    sq.ok = true;
}

bool lazy_sqlite_load(char *err, size_t errlen)
{
    pthread_once(&sq.once, load);
    if (!sq.ok && err)
        snprintf(err, errlen, "%s", sq.why);
    return sq.ok;
}

#define WRAP(ret, name, params, args, fail)                                                        \
    ret name params                                                                                \
    {                                                                                              \
        if (!lazy_sqlite_load(NULL, 0))                                                            \
            return fail;                                                                           \
        return sq.name args;                                                                       \
    }
SQLITE_FUNCTIONS(WRAP)
#undef WRAP
