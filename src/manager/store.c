// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's SQLite store (see store.h). Schema changes are an append-only
 * list of migrations: the database's PRAGMA user_version says how many have
 * run, and each one runs in its own transaction together with the version
 * bump, so a crash during an upgrade leaves the previous schema intact.
 * synchronous=FULL: a 201 for a create means the row is on disk.
 */
#include "manager/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/compiler.h"
#include "util/lazylib.h"

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE vms ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  config TEXT NOT NULL,"
    "  desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped')),"
    "  restart TEXT NOT NULL CHECK (restart IN ('no', 'on-failure', 'always')),"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  vm TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,"
    "  pid INTEGER NOT NULL,"
    "  pid_start INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  exit_status INTEGER,"
    "  exit_reason TEXT);"
    "CREATE INDEX runs_open ON runs(vm) WHERE ended_at IS NULL;",
};
_Static_assert(ARRAY_SIZE(migrations) == MGR_STORE_SCHEMA_VERSION, "MGR_STORE_SCHEMA_VERSION");

static int sql_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
    default: return -EIO;
    }
}

static int exec(struct mgr_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_errno(rc);
}

int mgr_store_version(struct mgr_store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
    sqlite3_finalize(st);
    return v;
}

static int migrate(struct mgr_store *s, char *err, size_t errlen)
{
    int v = mgr_store_version(s);
    if (v < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(s->db));
        return v;
    }
    if (v > MGR_STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "the database has schema version %d, newer than this casulo's %d",
                 v, MGR_STORE_SCHEMA_VERSION);
        return -EPROTO;
    }
    for (; v < MGR_STORE_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        int ret = exec(s, "BEGIN IMMEDIATE");
        if (!ret)
            ret = exec(s, migrations[v]);
        if (!ret)
            ret = exec(s, bump);
        if (!ret)
            ret = exec(s, "COMMIT");
        if (ret) {
            snprintf(err, errlen, "schema migration %d failed: %s", v + 1, sqlite3_errmsg(s->db));
            exec(s, "ROLLBACK");
            return ret;
        }
    }
    return 0;
}

int mgr_store_open(struct mgr_store *s, const char *path, char *err, size_t errlen)
{
    s->db = NULL;
    if (!lazy_sqlite_load(err, errlen))
        return -ENOSYS;
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        mgr_store_close(s);
        return sql_errno(rc);
    }
    /* A daemon is the only writer; a CLI reading with sqlite3 meanwhile waits a little. */
    sqlite3_busy_timeout(s->db, 2000);
    static const char *const setup[] = {
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        /* The store is small: a small page cache keeps the daemon's RSS small. */
        "PRAGMA cache_size = -256",
    };
    for (size_t i = 0; i < ARRAY_SIZE(setup); i++) {
        int ret = exec(s, setup[i]);
        if (ret) {
            snprintf(err, errlen, "database %s: %s: %s", path, setup[i], sqlite3_errmsg(s->db));
            mgr_store_close(s);
            return ret;
        }
    }
    int ret = migrate(s, err, errlen);
    if (ret)
        mgr_store_close(s);
    return ret;
}

void mgr_store_close(struct mgr_store *s)
{
    if (s->db)
        sqlite3_close(s->db);
    s->db = NULL;
}

/*
 * Prepares sql and binds its '?' parameters from fmt: 's' text, 'i' int64,
 * 'n' NULL. One statement is one implicit transaction in SQLite.
 */
static int prepare(struct mgr_store *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return -EIO;
    va_list ap;
    va_start(ap, fmt);
    int idx = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f && rc == SQLITE_OK; f++, idx++) {
        if (*f == 's')
            rc = sqlite3_bind_text(*st, idx, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else if (*f == 'i')
            rc = sqlite3_bind_int64(*st, idx, va_arg(ap, int64_t));
        else
            rc = sqlite3_bind_null(*st, idx);
    }
    va_end(ap);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        return sql_errno(rc);
    }
    return 0;
}

/* Runs a statement that returns no rows; -ENOENT when it changed none. */
static int change(struct mgr_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_errno(rc);
    return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int mgr_store_vm_insert(struct mgr_store *s, const char *name, const char *config,
                        const char *restart, int64_t created)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "INSERT INTO vms (name, config, desired, restart, created) "
                              "VALUES (?, ?, 'stopped', ?, ?)",
                      "sssi", name, config, restart, created);
    return ret ? ret : change(s, st);
}

int mgr_store_vm_delete(struct mgr_store *s, const char *name)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "DELETE FROM vms WHERE name = ?", "s", name);
    return ret ? ret : change(s, st);
}

int mgr_store_vm_set_desired(struct mgr_store *s, const char *name, const char *desired)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "UPDATE vms SET desired = ? WHERE name = ?", "ss", desired, name);
    return ret ? ret : change(s, st);
}

int mgr_store_vm_set_config(struct mgr_store *s, const char *name, const char *config)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "UPDATE vms SET config = ? WHERE name = ?", "ss", config, name);
    return ret ? ret : change(s, st);
}

int mgr_store_vm_each(struct mgr_store *s, mgr_store_vm_fn fn, void *opaque)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "SELECT name, config, desired, restart, created FROM vms "
                              "ORDER BY name", "");
    if (ret)
        return ret;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct mgr_store_vm vm = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .config = (const char *)sqlite3_column_text(st, 1),
            .desired = (const char *)sqlite3_column_text(st, 2),
            .restart = (const char *)sqlite3_column_text(st, 3),
            .created = sqlite3_column_int64(st, 4),
        };
        ret = fn(opaque, &vm);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = sql_errno(rc);
    sqlite3_finalize(st);
    return ret;
}

static int count(struct mgr_store *s, const char *sql, const char *fmt, const char *arg)
{
    sqlite3_stmt *st;
    int ret = fmt[0] ? prepare(s, &st, sql, fmt, arg) : prepare(s, &st, sql, "");
    if (ret)
        return ret;
    ret = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
    sqlite3_finalize(st);
    return ret;
}

int mgr_store_vm_count(struct mgr_store *s)
{
    return count(s, "SELECT count(*) FROM vms", "", NULL);
}

int mgr_store_run_count(struct mgr_store *s, const char *vm)
{
    return count(s, "SELECT count(*) FROM runs WHERE vm = ?", "s", vm);
}

int mgr_store_run_begin(struct mgr_store *s, const char *vm, pid_t pid, uint64_t pid_start,
                        int64_t started_at, int64_t *id)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "INSERT INTO runs (vm, pid, pid_start, started_at) VALUES (?, ?, ?, ?)",
                      "siii", vm, (int64_t)pid, (int64_t)pid_start, started_at);
    if (ret)
        return ret;
    ret = change(s, st);
    if (!ret)
        *id = sqlite3_last_insert_rowid(s->db);
    return ret;
}

int mgr_store_run_end(struct mgr_store *s, int64_t id, int64_t ended_at, int exit_status,
                      const char *reason)
{
    sqlite3_stmt *st;
    int ret = exit_status >= 0
        ? prepare(s, &st, "UPDATE runs SET ended_at = ?, exit_status = ?, exit_reason = ? "
                          "WHERE id = ? AND ended_at IS NULL",
                  "iisi", ended_at, (int64_t)exit_status, reason, id)
        : prepare(s, &st, "UPDATE runs SET ended_at = ?, exit_status = ?, exit_reason = ? "
                          "WHERE id = ? AND ended_at IS NULL",
                  "insi", ended_at, reason, id);
    return ret ? ret : change(s, st);
}

int mgr_store_run_open(struct mgr_store *s, const char *vm, struct mgr_store_run *run)
{
    sqlite3_stmt *st;
    int ret = prepare(s, &st, "SELECT id, pid, pid_start, started_at FROM runs "
                              "WHERE vm = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1", "s", vm);
    if (ret)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *run = (struct mgr_store_run){
            .id = sqlite3_column_int64(st, 0),
            .pid = (pid_t)sqlite3_column_int64(st, 1),
            .pid_start = (uint64_t)sqlite3_column_int64(st, 2),
            .started_at = sqlite3_column_int64(st, 3),
        };
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? -ENOENT : sql_errno(rc);
    }
    sqlite3_finalize(st);
    return ret;
}
