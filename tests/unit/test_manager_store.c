// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for manager/store: the daemon's SQLite store in a temporary
 * directory: schema creation and re-opening, unique names, runs, cascade
 * on delete, and a database from a newer casulo refused.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "manager/store.h"

struct fixture {
    char dir[64];
    char path[128];
    struct mgr_store s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/casulo-store.XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/casulo.db", f->dir);
    char err[256];
    if (mgr_store_open(&f->s, f->path, err, sizeof(err)) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mgr_store_close(&f->s);
    char p[160];
    static const char *const files[] = { "casulo.db", "casulo.db-wal", "casulo.db-shm" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

struct seen {
    int n;
    char names[8][32];
    char desired[8][16];
};

static int collect(void *opaque, const struct mgr_store_vm *vm)
{
    struct seen *s = opaque;
    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", vm->name);
        snprintf(s->desired[s->n], sizeof(s->desired[0]), "%s", vm->desired);
    }
    s->n++;
    return 0;
}

static void schema_is_current_and_wal(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mgr_store_version(&f->s), MGR_STORE_SCHEMA_VERSION);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->s.db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
}

static void names_are_unique(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mgr_store_vm_insert(&f->s, "b", "{}", "no", 1), 0);
    assert_int_equal(mgr_store_vm_insert(&f->s, "a", "{\"cpus\":2}", "always", 2), 0);
    assert_int_equal(mgr_store_vm_insert(&f->s, "a", "{}", "no", 3), -EEXIST);
    assert_int_equal(mgr_store_vm_count(&f->s), 2);
    struct seen s = { 0 };
    assert_int_equal(mgr_store_vm_each(&f->s, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "a");   /* name order */
    assert_string_equal(s.names[1], "b");
    assert_string_equal(s.desired[0], "stopped");
}

static void bad_values_are_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mgr_store_vm_insert(&f->s, "a", "{}", "sometimes", 1), -EEXIST);   /* CHECK */
    assert_int_equal(mgr_store_vm_insert(&f->s, "a", "{}", "no", 1), 0);
    assert_int_not_equal(mgr_store_vm_set_desired(&f->s, "a", "dancing"), 0);
    assert_int_equal(mgr_store_vm_set_desired(&f->s, "nope", "running"), -ENOENT);
    assert_int_equal(mgr_store_vm_set_config(&f->s, "nope", "{}"), -ENOENT);
    assert_int_equal(mgr_store_vm_delete(&f->s, "nope"), -ENOENT);
}

static void runs_open_and_end(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mgr_store_vm_insert(&f->s, "a", "{}", "no", 1), 0);
    struct mgr_store_run run;
    assert_int_equal(mgr_store_run_open(&f->s, "a", &run), -ENOENT);
    int64_t id1, id2;
    assert_int_equal(mgr_store_run_begin(&f->s, "a", 1234, 99887766, 1000, &id1), 0);
    assert_int_equal(mgr_store_run_open(&f->s, "a", &run), 0);
    assert_int_equal(run.id, id1);
    assert_int_equal(run.pid, 1234);
    assert_int_equal(run.pid_start, 99887766);
    assert_int_equal(run.started_at, 1000);
    assert_int_equal(mgr_store_run_end(&f->s, id1, 1010, 0, "exited with status 0"), 0);
    assert_int_equal(mgr_store_run_end(&f->s, id1, 1011, 1, "again"), -ENOENT);   /* ended once */
    assert_int_equal(mgr_store_run_open(&f->s, "a", &run), -ENOENT);
    assert_int_equal(mgr_store_run_begin(&f->s, "a", 4321, 5, 2000, &id2), 0);
    assert_int_equal(mgr_store_run_end(&f->s, id2, 2001, -1, "status unknown"), 0);
    assert_int_equal(mgr_store_run_count(&f->s, "a"), 2);
    /* A run needs its VM, and goes with it. */
    int64_t id3;
    assert_int_not_equal(mgr_store_run_begin(&f->s, "ghost", 1, 1, 1, &id3), 0);
    assert_int_equal(mgr_store_vm_delete(&f->s, "a"), 0);
    assert_int_equal(mgr_store_run_count(&f->s, "a"), 0);
}

static void survives_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mgr_store_vm_insert(&f->s, "keep", "{\"memory\":\"16M\"}", "on-failure", 5), 0);
    assert_int_equal(mgr_store_vm_set_desired(&f->s, "keep", "running"), 0);
    mgr_store_close(&f->s);
    char err[256];
    assert_int_equal(mgr_store_open(&f->s, f->path, err, sizeof(err)), 0);
    struct seen s = { 0 };
    assert_int_equal(mgr_store_vm_each(&f->s, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.names[0], "keep");
    assert_string_equal(s.desired[0], "running");
}

static void newer_schema_is_refused(void **state)
{
    struct fixture *f = *state;
    char *e = NULL;
    assert_int_equal(sqlite3_exec(f->s.db, "PRAGMA user_version = 99", NULL, NULL, &e), SQLITE_OK);
    mgr_store_close(&f->s);
    char err[256] = "";
    assert_int_equal(mgr_store_open(&f->s, f->path, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "schema version 99"));
    assert_null(f->s.db);
}

static void unopenable_path_fails(void **state)
{
    (void)state;
    struct mgr_store s;
    char err[256] = "";
    assert_int_not_equal(mgr_store_open(&s, "/nonexistent-dir/x/casulo.db", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "/nonexistent-dir/x/casulo.db"));
    assert_null(s.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(schema_is_current_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(names_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_values_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(runs_open_and_end, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
        cmocka_unit_test(unopenable_path_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
