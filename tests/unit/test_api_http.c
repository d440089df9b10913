// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the API router, its strict JSON bodies and the typed
 * actions, driven directly (no socket) against a fake VM: every endpoint,
 * each error with its status and message, wrong-state 409s, the power-off
 * watchdog and the Prometheus text.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "api/http.h"
#include "test_api_fake.h"

struct fixture {
    struct fake_vm vm;
    struct api_ctx ctx;
    struct api_response resp;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fake_vm_init(&fx->vm);
    if (api_ctx_init(&fx->ctx, &fake_vm_ops, &fx->vm) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    api_response_free(&fx->resp);
    api_ctx_destroy(&fx->ctx);
    fake_vm_destroy(&fx->vm);
    free(fx);
    return 0;
}

/* One request; returns the status. The response stays in fx->resp until the next call. */
static unsigned call_len(struct fixture *fx, const char *method, const char *path, const char *body,
                         size_t len)
{
    api_response_free(&fx->resp);
    struct api_request req = { .method = method, .path = path, .body = body, .body_len = len };
    api_http_handle(&fx->ctx, &req, &fx->resp);
    assert_non_null(fx->resp.body);
    assert_int_equal(strlen(fx->resp.body), fx->resp.body_len);
    return fx->resp.status;
}

static unsigned call(struct fixture *fx, const char *method, const char *path, const char *body)
{
    return call_len(fx, method, path, body, body ? strlen(body) : 0);
}

/* The reply as JSON (must be a JSON object); caller decrefs. */
static json_t *reply_json(struct fixture *fx)
{
    assert_string_equal(fx->resp.content_type, API_JSON_TYPE);
    json_error_t jerr;
    json_t *j = json_loads(fx->resp.body, 0, &jerr);
    if (!j)
        fail_msg("reply is not JSON: %s (%s)", fx->resp.body, jerr.text);
    assert_true(json_is_object(j));
    return j;
}

/* The reply is {"error": want} and nothing else. */
static void expect_error(struct fixture *fx, unsigned status, const char *want)
{
    assert_int_equal(fx->resp.status, status);
    json_t *j = reply_json(fx);
    assert_int_equal(json_object_size(j), 1);
    const char *msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (strcmp(msg, want) != 0)
        fail_msg("error: expected '%s', got '%s'", want, msg);
    json_decref(j);
}

/* Like expect_error, with only the start of the message fixed (jansson's text follows). */
static void expect_error_prefix(struct fixture *fx, unsigned status, const char *prefix)
{
    assert_int_equal(fx->resp.status, status);
    json_t *j = reply_json(fx);
    const char *msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (strncmp(msg, prefix, strlen(prefix)) != 0)
        fail_msg("error: expected '%s...', got '%s'", prefix, msg);
    assert_null(strchr(msg, '\n'));
    json_decref(j);
}

static const char *reply_state(struct fixture *fx, json_t **keep)
{
    *keep = reply_json(fx);
    return json_string_value(json_object_get(*keep, "state"));
}

static void get_vm_describes_state_and_config(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "GET", "/vm", NULL), 200);
    json_t *j = reply_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
    assert_non_null(json_string_value(json_object_get(j, "version")));
    assert_true(json_number_value(json_object_get(j, "uptime_s")) == 2.5);
    json_t *cfg = json_object_get(j, "config");
    assert_string_equal(json_string_value(json_object_get(cfg, "kernel")), "/images/vmlinux");
    assert_true(json_is_null(json_object_get(cfg, "initrd")));
    assert_string_equal(json_string_value(json_object_get(cfg, "cmdline")), VM_DEFAULT_CMDLINE);
    assert_int_equal(json_integer_value(json_object_get(cfg, "cpus")), 2);
    assert_int_equal(json_integer_value(json_object_get(cfg, "memory_bytes")), 256 << 20);
    assert_string_equal(json_string_value(json_object_get(cfg, "console")), "off");
    json_t *disk = json_array_get(json_object_get(cfg, "disks"), 0);
    assert_string_equal(json_string_value(json_object_get(disk, "path")), "/images/root.img");
    assert_true(json_is_true(json_object_get(disk, "readonly")));
    assert_string_equal(json_string_value(json_object_get(disk, "id")), "root");
    json_t *net = json_array_get(json_object_get(cfg, "nets"), 0);
    assert_string_equal(json_string_value(json_object_get(net, "tap")), "tap7");
    assert_string_equal(json_string_value(json_object_get(net, "mac")), "52:54:00:12:34:56");
    json_decref(j);

    fx->vm.state = API_VM_PAUSED;
    assert_int_equal(call(fx, "GET", "/vm", NULL), 200);
    json_t *keep;
    assert_string_equal(reply_state(fx, &keep), "Paused");
    json_decref(keep);
}

static void pause_and_resume(void **state)
{
    struct fixture *fx = *state;
    json_t *keep;
    assert_int_equal(call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\"}"), 200);
    assert_string_equal(reply_state(fx, &keep), "Paused");
    json_decref(keep);
    assert_int_equal(fx->vm.state, API_VM_PAUSED);
    assert_int_equal(fx->vm.pause_calls, 1);

    call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\"}");
    expect_error(fx, 409, "the VM is already paused");
    assert_int_equal(fx->vm.state, API_VM_PAUSED);

    assert_int_equal(call(fx, "PUT", "/vm/state", "{\"state\":\"Running\"}"), 200);
    assert_string_equal(reply_state(fx, &keep), "Running");
    json_decref(keep);
    assert_int_equal(fx->vm.resume_calls, 1);

    call(fx, "PUT", "/vm/state", "{\"state\":\"Running\"}");
    expect_error(fx, 409, "the VM is already running");
}

static void state_body_errors(void **state)
{
    struct fixture *fx = *state;
    call(fx, "PUT", "/vm/state", NULL);
    expect_error(fx, 400, "missing request body: expected a JSON object");
    call(fx, "PUT", "/vm/state", "{\"state\": ");
    expect_error_prefix(fx, 400, "invalid JSON: ");
    call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\"} x");
    expect_error_prefix(fx, 400, "invalid JSON: ");
    call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\", \"state\": \"Running\"}");
    expect_error_prefix(fx, 400, "invalid JSON: duplicate object key");
    call(fx, "PUT", "/vm/state", "[\"Paused\"]");
    expect_error(fx, 400, "the request body must be a JSON object");
    call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\", \"now\": true}");
    expect_error(fx, 400, "unknown field 'now'");
    call(fx, "PUT", "/vm/state", "{\"State\": \"Paused\"}");
    expect_error(fx, 400, "unknown field 'State'");
    call(fx, "PUT", "/vm/state", "{\"state\": 1}");
    expect_error(fx, 400, "field 'state' must be a string");
    call(fx, "PUT", "/vm/state", "{\"state\": null}");
    expect_error(fx, 400, "field 'state' must be a string");
    call(fx, "PUT", "/vm/state", "{}");
    expect_error(fx, 400, "missing field 'state'");
    call(fx, "PUT", "/vm/state", "{\"state\": \"paused\"}");
    expect_error(fx, 400, "field 'state' must be \"Running\" or \"Paused\"");
    /* A NUL inside the body is not valid JSON either. */
    call_len(fx, "PUT", "/vm/state", "{\"state\": \"Pa\0sed\"}", 19);
    expect_error_prefix(fx, 400, "invalid JSON: ");
    /* Bad bytes in jansson's "near '...'" still make a valid JSON reply. */
    call(fx, "PUT", "/vm/state", "\xff\xfe");
    expect_error_prefix(fx, 400, "invalid JSON: ");
    /* None of it reached the VM. */
    assert_int_equal(fx->vm.pause_calls + fx->vm.resume_calls, 0);
    assert_int_equal(fx->vm.state, API_VM_RUNNING);
}

static void stop_is_hard_and_once(void **state)
{
    struct fixture *fx = *state;
    json_t *keep;
    call(fx, "PUT", "/vm/stop", "{\"force\": true}");
    expect_error(fx, 400, "unknown field 'force'");
    call(fx, "PUT", "/vm/stop", "{");
    expect_error_prefix(fx, 400, "invalid JSON: ");
    assert_int_equal(fx->vm.stop_calls, 0);

    assert_int_equal(call(fx, "PUT", "/vm/stop", NULL), 202);
    assert_string_equal(reply_state(fx, &keep), "Stopping");
    json_decref(keep);
    assert_int_equal(fx->vm.stop_calls, 1);
    assert_string_equal(fx->vm.stop_detail, "stopped through the API");

    call(fx, "PUT", "/vm/stop", "{}");
    expect_error(fx, 409, "the VM is stopping");
    assert_int_equal(fx->vm.stop_calls, 1);
}

static void stopping_vm_refuses_changes(void **state)
{
    struct fixture *fx = *state;
    fx->vm.state = API_VM_STOPPING;
    call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\"}");
    expect_error(fx, 409, "the VM is stopping");
    call(fx, "PUT", "/vm/state", "{\"state\": \"Running\"}");
    expect_error(fx, 409, "the VM is stopping");
    call(fx, "PUT", "/vm/power-off", NULL);
    expect_error(fx, 409, "the VM is stopping");
    assert_int_equal(fx->vm.button_calls, 0);
    /* Reads still work while the VM winds down. */
    assert_int_equal(call(fx, "GET", "/healthz", NULL), 200);
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    assert_non_null(strstr(fx->resp.body, "casulo_vm_state{state=\"Stopping\"} 1\n"));
}

/* Waits (bounded, as a hang detector) for the watchdog to have fired n times. */
static void wait_fired(struct fixture *fx, unsigned n)
{
    for (int i = 0; i < 2000 && api_poweroff_fired(&fx->ctx.poweroff) < n; i++)
        nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
    assert_int_equal(api_poweroff_fired(&fx->ctx.poweroff), n);
}

static void power_off_presses_then_stops(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": 0}"), 202);
    json_t *j = reply_json(fx);
    assert_true(json_is_true(json_object_get(j, "guest_listening")));
    assert_int_equal(json_integer_value(json_object_get(j, "timeout_s")), 0);
    json_decref(j);
    assert_int_equal(fx->vm.button_calls, 1);
    /* The guest ignored the button: the watchdog stops the VM hard. */
    wait_fired(fx, 1);
    assert_int_equal(fx->vm.stop_calls, 1);
    assert_string_equal(fx->vm.stop_detail,
                        "stopped through the API: the guest did not power off within 0 s of the ACPI power button");
}

static void power_off_guest_obeys(void **state)
{
    struct fixture *fx = *state;
    fx->vm.button_result = 0;
    /* Default timeout: the reply comes at once, nothing is stopped. */
    assert_int_equal(call(fx, "PUT", "/vm/power-off", NULL), 202);
    json_t *j = reply_json(fx);
    assert_true(json_is_false(json_object_get(j, "guest_listening")));
    assert_int_equal(json_integer_value(json_object_get(j, "timeout_s")), API_POWEROFF_DEFAULT_TIMEOUT_S);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
    json_decref(j);
    assert_int_equal(fx->vm.stop_calls, 0);
    assert_int_equal(api_poweroff_fired(&fx->ctx.poweroff), 0);

    /*
     * A second press with a shorter timeout moves the deadline forward. The
     * guest is gone by then: 1 s leaves the test ample time to say so before
     * the watchdog looks (with 0 the watchdog could win that race).
     */
    fx->vm.button_result = 1;
    assert_int_equal(call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": 1}"), 202);
    pthread_mutex_lock(&fx->vm.lock);
    fx->vm.state = API_VM_STOPPING;   /* the guest powered off */
    pthread_mutex_unlock(&fx->vm.lock);
    wait_fired(fx, 1);
    assert_int_equal(fx->vm.stop_calls, 0);
    assert_int_equal(fx->vm.button_calls, 2);
}

static void power_off_errors(void **state)
{
    struct fixture *fx = *state;
    call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": \"5\"}");
    expect_error(fx, 400, "field 'timeout_s' must be a non-negative integer");
    call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": -1}");
    expect_error(fx, 400, "field 'timeout_s' must be a non-negative integer");
    call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": 1.5}");
    expect_error(fx, 400, "field 'timeout_s' must be a non-negative integer");
    call(fx, "PUT", "/vm/power-off", "{\"timeout_s\": 3601}");
    expect_error(fx, 400, "field 'timeout_s' must be at most 3600");
    call(fx, "PUT", "/vm/power-off", "{\"timeout\": 5}");
    expect_error(fx, 400, "unknown field 'timeout'");
    call(fx, "PUT", "/vm/power-off", "5");
    expect_error(fx, 400, "the request body must be a JSON object");
    assert_int_equal(fx->vm.button_calls, 0);

    fx->vm.state = API_VM_PAUSED;
    call(fx, "PUT", "/vm/power-off", NULL);
    expect_error(fx, 409, "the VM is paused: resume it first (or stop it)");
    assert_int_equal(fx->vm.button_calls, 0);

    fx->vm.state = API_VM_RUNNING;
    fx->vm.button_result = -ENODEV;
    call(fx, "PUT", "/vm/power-off", NULL);
    expect_error(fx, 500, "cannot press the power button: the VM has no ACPI power management device");
    assert_int_equal(api_poweroff_fired(&fx->ctx.poweroff), 0);
}

static void metrics_text(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    assert_string_equal(fx->resp.content_type, API_METRICS_TYPE);
    const char *t = fx->resp.body;
    static const char *const want[] = {
        "# TYPE casulo_vm_state gauge\n",
        "casulo_vm_state{state=\"Running\"} 1\n",
        "casulo_vm_state{state=\"Paused\"} 0\n",
        "casulo_uptime_seconds 2.500\n",
        "casulo_guest_memory_bytes 268435456\n",
        "casulo_guest_memory_touched_bytes 12288\n",
        "# TYPE casulo_vcpu_exits_total counter\n",
        "casulo_vcpu_exits_total{vcpu=\"0\",reason=\"io\"} 11\n",
        "casulo_vcpu_exits_total{vcpu=\"0\",reason=\"mmio\"} 3\n",
        "casulo_vcpu_exits_total{vcpu=\"1\",reason=\"io\"} 7\n",
        "casulo_vcpu_run_seconds_total{vcpu=\"0\"} 1.500000\n",
        "casulo_device_requests_total{device=\"ne\\\"t0\",kind=\"virtio-net\",op=\"rx\"} 5\n",
        "casulo_device_bytes_total{device=\"ne\\\"t0\",kind=\"virtio-net\",op=\"tx\"} 512\n",
        "casulo_device_errors_total{device=\"ne\\\"t0\",kind=\"virtio-net\",op=\"rx\"} 1\n",
        "casulo_device_dropped_total{device=\"ne\\\"t0\",kind=\"virtio-net\",op=\"rx\"} 2\n",
        "casulo_device_requests_total{device=\"blk0\",kind=\"virtio-blk\",op=\"read\"} 10\n",
        "casulo_device_bytes_total{device=\"blk0\",kind=\"virtio-blk\",op=\"write\"} 8192\n",
        "casulo_device_requests_total{device=\"blk0\",kind=\"virtio-blk\",op=\"write_zeroes\"} 14\n",
        "casulo_device_errors_total{device=\"blk0\",kind=\"virtio-blk\",op=\"write_zeroes\"} 4\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        if (!strstr(t, want[i]))
            fail_msg("metrics lack '%s':\n%s", want[i], t);
    /* vCPU 1's run time is not known: no sample rather than a made-up 0. */
    assert_null(strstr(t, "casulo_vcpu_run_seconds_total{vcpu=\"1\"}"));
    /* Every line is a comment or "name{labels} value". */
    for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
        assert_non_null(strchr(line, '\n'));
        if (*line != '#')
            assert_true(line[0] >= 'a' && line[0] <= 'z');
    }

    fx->vm.stats_result = -ENOMEM;
    call(fx, "GET", "/metrics", NULL);
    expect_error(fx, 500, "out of memory");
}

static void healthz(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "GET", "/healthz", NULL), 200);
    json_t *j = reply_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
}

static void unknown_paths_and_methods(void **state)
{
    struct fixture *fx = *state;
    call(fx, "GET", "/nope", NULL);
    expect_error(fx, 404, "no such endpoint: GET /nope");
    call(fx, "GET", "/vm/", NULL);
    expect_error(fx, 404, "no such endpoint: GET /vm/");
    call(fx, "GET", "/\x01\xff", NULL);
    expect_error(fx, 404, "no such endpoint: GET /??");
    /* A newline (e.g. %0A in the URL) cannot split the one-line error. */
    call(fx, "GET", "/vm\nX-Injected: 1", NULL);
    expect_error(fx, 404, "no such endpoint: GET /vm?X-Injected: 1");
    call(fx, "GET", "/caf\xc3\xa9", NULL);
    expect_error(fx, 404, "no such endpoint: GET /caf\xc3\xa9");

    call(fx, "PUT", "/vm", "{}");
    expect_error(fx, 405, "method PUT is not allowed on /vm (allowed: GET)");
    assert_string_equal(fx->resp.allow, "GET");
    call(fx, "GET", "/vm/state", NULL);
    expect_error(fx, 405, "method GET is not allowed on /vm/state (allowed: PUT)");
    assert_string_equal(fx->resp.allow, "PUT");
    call(fx, "POST", "/vm/stop", NULL);
    assert_int_equal(fx->resp.status, 405);
    assert_int_equal(fx->vm.stop_calls, 0);
    call(fx, "DELETE", "/metrics", NULL);
    assert_string_equal(fx->resp.allow, "GET");
    /* A 404 has no Allow header. */
    call(fx, "GET", "/x", NULL);
    assert_string_equal(fx->resp.allow, "");
}

static void snapshot_needs_pause_and_a_path(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/snapshot", "{\"path\": \"/tmp/snap\"}"), 409);
    expect_error(fx, 409, "the VM must be paused for a snapshot");
    assert_int_equal(call(fx, "PUT", "/vm/state", "{\"state\": \"Paused\"}"), 200);
    assert_int_equal(call(fx, "PUT", "/snapshot", "{\"dir\": \"/tmp/snap\"}"), 400);
    expect_error(fx, 400, "unknown field 'dir'");
    assert_int_equal(call(fx, "PUT", "/snapshot", "{}"), 400);
    assert_int_equal(call(fx, "PUT", "/snapshot", "{\"path\": 7}"), 400);
    assert_int_equal(call(fx, "PUT", "/snapshot", "{\"path\": \"/nonexistent/dir\"}"), 400);
    expect_error(fx, 400, "cannot create snapshot directory '/nonexistent/dir': No such file or directory");
    assert_int_equal(call(fx, "PUT", "/snapshot", "{\"path\": \"/tmp/snap\"}"), 200);
    assert_string_equal(fx->vm.last_snapshot, "/tmp/snap");
}

static void body_too_large(void **state)
{
    struct fixture *fx = *state;
    api_response_free(&fx->resp);
    struct api_request req = { .method = "PUT", .path = "/vm/state", .body_too_large = true };
    api_http_handle(&fx->ctx, &req, &fx->resp);
    expect_error(fx, 413, "request body too large (the limit is 65536 bytes)");
    assert_int_equal(fx->vm.pause_calls, 0);
}

/* Configure-before-boot is only for a VM that waits for it: a running one is a conflict. */
static void config_and_start_after_start(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"cpus\": 4}"), 409);
    expect_error(fx, 409, "the VM has already started");
    assert_int_equal(call(fx, "PUT", "/vm/start", NULL), 409);
    expect_error(fx, 409, "the VM has already started");
    assert_int_equal(call(fx, "PUT", "/vm/start", "{\"now\": true}"), 400);
    expect_error(fx, 400, "unknown field 'now'");
    assert_int_equal(call(fx, "GET", "/vm/start", NULL), 405);
    assert_int_equal(fx->vm.cfg.cpus, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(config_and_start_after_start, setup, teardown),
        cmocka_unit_test_setup_teardown(get_vm_describes_state_and_config, setup, teardown),
        cmocka_unit_test_setup_teardown(pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(state_body_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_is_hard_and_once, setup, teardown),
        cmocka_unit_test_setup_teardown(stopping_vm_refuses_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(power_off_presses_then_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(power_off_guest_obeys, setup, teardown),
        cmocka_unit_test_setup_teardown(power_off_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_text, setup, teardown),
        cmocka_unit_test_setup_teardown(healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_paths_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_needs_pause_and_a_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
