// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for PUT, GET and DELETE /migrate through the router with a
 * fake VM: the body's fields reach the migration, wrong states are 409,
 * bad bodies and limits 400, the progress report carries every field the
 * API promises (downtime and total only once completed, the error once
 * failed), and a VM that cannot migrate says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "api/actions.h"
#include "api/http.h"
#include "migration/migration.h"
#include "test_api_fake.h"

/* The fake VM plus a migration that does nothing but record and report. */
struct mig_fake {
    struct fake_vm vm;           /* first: the fake's own ops take the same pointer */
    struct mig_info info;
    unsigned start_calls, cancel_calls;
};

static int mig_start(void *opaque, const struct mig_params *p, char *err, size_t errlen)
{
    struct mig_fake *f = opaque;
    f->start_calls++;
    if (f->info.status == MIG_ACTIVE) {
        snprintf(err, errlen, "a migration is already in progress (DELETE /migrate cancels it)");
        return -EBUSY;
    }
    memset(&f->info, 0, sizeof(f->info));
    f->info.status = MIG_ACTIVE;
    f->info.params = *p;
    snprintf(f->info.phase, sizeof(f->info.phase), "connecting");
    f->info.converging = true;
    return 0;
}

static void mig_info(void *opaque, struct mig_info *out)
{
    *out = ((struct mig_fake *)opaque)->info;
}

static int mig_cancel(void *opaque, char *err, size_t errlen)
{
    struct mig_fake *f = opaque;
    f->cancel_calls++;
    if (f->info.status != MIG_ACTIVE) {
        snprintf(err, errlen, "no migration is in progress");
        return -EALREADY;
    }
    f->info.status = MIG_CANCELLED;
    snprintf(f->info.error, sizeof(f->info.error), "cancelled");
    return 0;
}

struct fixture {
    struct mig_fake f;
    struct api_vm_ops ops;
    struct api_ctx ctx;
    struct api_response resp;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fake_vm_init(&fx->f.vm);
    fx->ops = fake_vm_ops;
    fx->ops.migrate_start = mig_start;
    fx->ops.migrate_info = mig_info;
    fx->ops.migrate_cancel = mig_cancel;
    if (api_ctx_init(&fx->ctx, &fx->ops, &fx->f) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    api_response_free(&fx->resp);
    api_ctx_destroy(&fx->ctx);
    fake_vm_destroy(&fx->f.vm);
    free(fx);
    return 0;
}

static unsigned call(struct fixture *fx, const char *method, const char *path, const char *body)
{
    api_response_free(&fx->resp);
    struct api_request req = { .method = method, .path = path, .body = body,
                               .body_len = body ? strlen(body) : 0 };
    api_http_handle(&fx->ctx, &req, &fx->resp);
    assert_non_null(fx->resp.body);
    return fx->resp.status;
}

static json_t *reply(struct fixture *fx)
{
    json_error_t jerr;
    json_t *j = json_loads(fx->resp.body, 0, &jerr);
    assert_non_null(j);
    assert_true(json_is_object(j));
    return j;
}

static void expect_error(struct fixture *fx, unsigned status, const char *want)
{
    assert_int_equal(fx->resp.status, status);
    json_t *j = reply(fx);
    const char *msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (!strstr(msg, want))
        fail_msg("error: expected '%s' in '%s'", want, msg);
    json_decref(j);
}

static const char *str(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void start_passes_every_field(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "GET", "/migrate", NULL), 200);
    json_t *j = reply(fx);
    assert_string_equal(str(j, "status"), "none");
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);

    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:10.0.0.2:4444\", \"max_downtime_ms\": 50, "
                                     "\"bandwidth_mib_s\": 16, \"auto_converge\": true, "
                                     "\"timeout_s\": 30}"), 202);
    const struct mig_params *p = &fx->f.info.params;
    assert_string_equal(p->url, "tcp:10.0.0.2:4444");
    assert_int_equal(p->max_downtime_ms, 50);
    assert_int_equal(p->bandwidth_mib_s, 16);
    assert_true(p->auto_converge);
    assert_int_equal(p->timeout_s, 30);
    assert_false(p->no_compress);           /* compression is on unless turned off */
    j = reply(fx);
    assert_string_equal(str(j, "status"), "active");
    assert_string_equal(str(j, "url"), "tcp:10.0.0.2:4444");
    assert_true(json_is_true(json_object_get(j, "auto_converge")));
    assert_true(json_is_true(json_object_get(j, "compress")));
    json_decref(j);

    /* Progress as the migration reports it. */
    fx->f.info.iteration = 3;
    fx->f.info.bytes_sent = 123456;
    fx->f.info.bytes_remaining = 4096;
    fx->f.info.dirty_rate_mib_s = 20.04;
    fx->f.info.bandwidth_mib_s = 16;
    fx->f.info.expected_downtime_ms = 77;
    fx->f.info.converging = false;
    fx->f.info.throttle_percent = 30;
    fx->f.info.compressing = true;
    fx->f.info.page_bytes = 40960;
    fx->f.info.page_wire_bytes = 1024;
    assert_int_equal(call(fx, "GET", "/migrate", NULL), 200);
    j = reply(fx);
    assert_int_equal(json_integer_value(json_object_get(j, "iteration")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_sent")), 123456);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_remaining")), 4096);
    assert_true(json_real_value(json_object_get(j, "dirty_rate_mib_s")) == 20.0);
    assert_int_equal(json_integer_value(json_object_get(j, "expected_downtime_ms")), 77);
    assert_true(json_is_false(json_object_get(j, "converging")));
    assert_int_equal(json_integer_value(json_object_get(j, "throttle_percent")), 30);
    assert_string_equal(str(j, "compression"), "zstd");
    assert_int_equal(json_integer_value(json_object_get(j, "page_bytes")), 40960);
    assert_int_equal(json_integer_value(json_object_get(j, "page_wire_bytes")), 1024);
    assert_true(json_real_value(json_object_get(j, "compression_ratio")) == 40.0);
    assert_null(json_object_get(j, "downtime_ms"));
    assert_null(json_object_get(j, "error"));
    json_decref(j);

    /* Completed: the measured figures appear. */
    fx->f.info.status = MIG_COMPLETED;
    fx->f.info.downtime_ms = 12;
    fx->f.info.total_ms = 3400;
    assert_int_equal(call(fx, "GET", "/migrate", NULL), 200);
    j = reply(fx);
    assert_string_equal(str(j, "status"), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "downtime_ms")), 12);
    assert_int_equal(json_integer_value(json_object_get(j, "total_ms")), 3400);
    json_decref(j);
}

static void conflicts(void **state)
{
    struct fixture *fx = *state;
    const char *body = "{\"url\": \"tcp:h:1\"}";
    assert_int_equal(call(fx, "DELETE", "/migrate", NULL), 409);
    expect_error(fx, 409, "no migration is in progress");
    assert_int_equal(call(fx, "PUT", "/migrate", body), 202);
    assert_int_equal(call(fx, "PUT", "/migrate", body), 409);
    expect_error(fx, 409, "already in progress");
    assert_int_equal(call(fx, "DELETE", "/migrate", NULL), 202);
    json_t *j = reply(fx);
    assert_string_equal(str(j, "status"), "cancelled");
    assert_string_equal(str(j, "error"), "cancelled");
    json_decref(j);
    assert_int_equal(fx->f.cancel_calls, 2);

    fx->f.vm.state = API_VM_PAUSED;
    assert_int_equal(call(fx, "PUT", "/migrate", body), 409);
    expect_error(fx, 409, "paused");
    fx->f.vm.state = API_VM_STOPPING;
    assert_int_equal(call(fx, "PUT", "/migrate", body), 409);
    expect_error(fx, 409, "stopping");
    fx->f.vm.state = API_VM_NOT_STARTED;
    assert_int_equal(call(fx, "PUT", "/migrate", body), 409);
    expect_error(fx, 409, "not started");
    assert_int_equal(fx->f.start_calls, 2);
}

static void bad_bodies(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/migrate", NULL), 400);
    assert_int_equal(call(fx, "PUT", "/migrate", "{}"), 400);
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"speed\": 1}"), 400);
    expect_error(fx, 400, "unknown field 'speed'");
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"auto_converge\": 1}"), 400);
    expect_error(fx, 400, "auto_converge");
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"compress\": \"no\"}"), 400);
    expect_error(fx, 400, "compress");
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"max_downtime_ms\": -5}"), 400);
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"max_downtime_ms\": 99999999999}"), 400);
    expect_error(fx, 400, "max_downtime_ms must be at most");
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\", \"bandwidth_mib_s\": 4294967296}"), 400);
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"unix:/x\"}"), 400);
    expect_error(fx, 400, "tcp:HOST:PORT");
    assert_int_equal(fx->f.start_calls, 0);
    assert_int_equal(call(fx, "POST", "/migrate", NULL), 405);
}

static int busy(void *opaque)
{
    (void)opaque;
    return -EBUSY;
}

/* While a migration runs, the VM's pause and resume say so (vm_ops.c answers -EBUSY). */
static void pause_during_migration(void **state)
{
    struct fixture *fx = *state;
    fx->ops.pause = busy;
    fx->ops.resume = busy;
    api_response_free(&fx->resp);
    struct api_request req = { .method = "PUT", .path = "/vm/state",
                               .body = "{\"state\": \"Paused\"}" };
    req.body_len = strlen(req.body);
    api_http_handle(&fx->ctx, &req, &fx->resp);
    expect_error(fx, 409, "a migration is in progress");
}

static int disk_held(void *opaque)
{
    (void)opaque;
    return -ENOLCK;
}

/* After a migration whose outcome is unknown, the destination holds the disks: resume says so. */
static void resume_refused_while_destination_holds_disks(void **state)
{
    struct fixture *fx = *state;
    fx->ops.resume = disk_held;
    fx->f.vm.state = API_VM_PAUSED;
    api_response_free(&fx->resp);
    struct api_request req = { .method = "PUT", .path = "/vm/state",
                               .body = "{\"state\": \"Running\"}" };
    req.body_len = strlen(req.body);
    api_http_handle(&fx->ctx, &req, &fx->resp);
    expect_error(fx, 409, "a disk is locked by another VM");
}

static void vm_without_migration(void **state)
{
    struct fixture *fx = *state;
    fx->ops.migrate_start = NULL;
    fx->ops.migrate_info = NULL;
    fx->ops.migrate_cancel = NULL;
    assert_int_equal(call(fx, "PUT", "/migrate", "{\"url\": \"tcp:h:1\"}"), 409);
    expect_error(fx, 409, "this VM cannot migrate");
    assert_int_equal(call(fx, "DELETE", "/migrate", NULL), 409);
    assert_int_equal(call(fx, "GET", "/migrate", NULL), 200);
    json_t *j = reply(fx);
    assert_string_equal(str(j, "status"), "none");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_passes_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(vm_without_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_during_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(resume_refused_while_destination_holds_disks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
