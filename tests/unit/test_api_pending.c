// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for configure-before-boot (api_vm_ops_pending) through the
 * router, with no /dev/kvm: a NotStarted VM describes its pending
 * configuration, PUT /vm/config merges strictly, the VM actions are 409,
 * PUT /vm/start is handed to a stand-in main thread whose answer (a failed
 * check or build) reaches the client and leaves the VM NotStarted, and
 * PUT /vm/stop wakes the main thread only once its reply has gone out.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/http.h"
#include "api/pending_vm.h"

struct fixture {
    struct run_options opts;
    struct api_pending_vm pending;
    struct api_ctx ctx;
    struct api_response resp;
    /* The stand-in main thread's answer to the next start. */
    pthread_t main;
    int answer_ret;
    const char *answer_err;
    enum api_pending_request seen;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    vm_config_init(&fx->opts.cfg);
    fx->opts.log_level = LOG_NOTICE;
    fx->opts.cfg.no_start = true;
    fx->opts.cfg.memory = 64 << 20;
    if (api_pending_vm_init(&fx->pending, &fx->opts) < 0 ||
        api_ctx_init(&fx->ctx, &api_vm_ops_pending, &fx->pending) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    api_response_free(&fx->resp);
    api_ctx_destroy(&fx->ctx);
    api_pending_vm_destroy(&fx->pending);
    vm_config_free(&fx->opts.cfg);
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

static json_t *reply_json(struct fixture *fx)
{
    json_error_t jerr;
    json_t *j = json_loads(fx->resp.body, 0, &jerr);
    if (!j)
        fail_msg("reply is not JSON: %s (%s)", fx->resp.body, jerr.text);
    return j;
}

static void expect_error(struct fixture *fx, unsigned status, const char *want)
{
    assert_int_equal(fx->resp.status, status);
    json_t *j = reply_json(fx);
    const char *msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (strcmp(msg, want) != 0)
        fail_msg("error: expected '%s', got '%s'", want, msg);
    json_decref(j);
}

static void expect_state(struct fixture *fx, const char *want)
{
    assert_int_equal(call(fx, "GET", "/vm", NULL), 200);
    json_t *j = reply_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "state")), want);
    json_decref(j);
}

/* Is the main thread's wake-up fd readable now? */
static bool main_woken(struct fixture *fx)
{
    struct pollfd pfd = { .fd = fx->pending.wake_fd, .events = POLLIN };
    return poll(&pfd, 1, 0) == 1;
}

/* The stand-in main thread: waits for one request and answers a start with a failure. */
static void *fake_main(void *arg)
{
    struct fixture *fx = arg;
    for (;;) {
        struct pollfd pfd = { .fd = fx->pending.wake_fd, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0)
            continue;
        enum api_pending_request req = api_pending_vm_take(&fx->pending);
        if (req == API_PENDING_NONE)
            continue;
        fx->seen = req;
        if (req == API_PENDING_START) {
            if (fx->answer_ret)
                api_pending_vm_start_failed(&fx->pending, fx->answer_ret, fx->answer_err);
            else
                api_pending_vm_shutdown(&fx->pending);
        }
        return NULL;
    }
}

static void start_fake_main(struct fixture *fx, int ret, const char *err)
{
    fx->answer_ret = ret;
    fx->answer_err = err;
    fx->seen = API_PENDING_NONE;
    assert_int_equal(pthread_create(&fx->main, NULL, fake_main, fx), 0);
}

static void not_started_describes_pending_config(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "GET", "/vm", NULL), 200);
    json_t *j = reply_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "NotStarted");
    assert_true(json_number_value(json_object_get(j, "uptime_s")) == 0);
    json_t *cfg = json_object_get(j, "config");
    assert_true(json_is_null(json_object_get(cfg, "kernel")));
    assert_int_equal(json_integer_value(json_object_get(cfg, "memory_bytes")), 64 << 20);
    json_decref(j);
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    assert_non_null(strstr(fx->resp.body, "casulo_vm_state{state=\"NotStarted\"} 1\n"));
    assert_non_null(strstr(fx->resp.body, "casulo_vm_state{state=\"Running\"} 0\n"));
    assert_non_null(strstr(fx->resp.body, "casulo_guest_memory_bytes 67108864\n"));
    assert_int_equal(call(fx, "GET", "/healthz", NULL), 200);
}

static void vm_actions_conflict_before_start(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *method, *path, *body;
    } reqs[] = {
        { "PUT", "/vm/state", "{\"state\": \"Paused\"}" },
        { "PUT", "/vm/state", "{\"state\": \"Running\"}" },
        { "PUT", "/vm/power-off", NULL },
        { "PUT", "/snapshot", "{\"path\": \"/nonexistent/snap\"}" },
        { "GET", "/balloon", NULL },
        { "PUT", "/balloon", "{\"target_mib\": 1}" },
        { "PUT", "/balloon/stats", "{\"interval_s\": 1}" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
        assert_int_equal(call(fx, reqs[i].method, reqs[i].path, reqs[i].body), 409);
        expect_error(fx, 409, "the VM has not started yet");
    }
    expect_state(fx, "NotStarted");
    assert_false(main_woken(fx));
}

static void config_merges_strictly(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"kernel\": \"/k/a\", \"cpus\": 2}"), 200);
    json_t *j = reply_json(fx);
    json_t *cfg = json_object_get(j, "config");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "NotStarted");
    assert_string_equal(json_string_value(json_object_get(cfg, "kernel")), "/k/a");
    assert_int_equal(json_integer_value(json_object_get(cfg, "cpus")), 2);
    json_decref(j);
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"memory\": \"128M\"}"), 200);
    assert_string_equal(fx->opts.cfg.kernel_path, "/k/a");
    assert_int_equal(fx->opts.cfg.cpus, 2);
    assert_int_equal(fx->opts.cfg.memory, 128 << 20);

    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"cpus\": 3, \"memroy\": 1}"), 400);
    expect_error(fx, 400, "config 'request body': unknown key 'memroy'");
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"cpus\": \"3\"}"), 400);
    expect_error(fx, 400, "config 'request body': 'cpus' must be a number");
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"api_socket\": \"/x\"}"), 400);
    expect_error(fx, 400, "config 'request body': 'api_socket' cannot be changed through the API");
    assert_int_equal(call(fx, "PUT", "/vm/config", NULL), 400);
    assert_int_equal(fx->opts.cfg.cpus, 2);
    assert_false(main_woken(fx));
}

/* A failed start is the request's answer; the VM stays NotStarted and can be fixed. */
static void failed_start_keeps_not_started(void **state)
{
    struct fixture *fx = *state;
    start_fake_main(fx, -ENOENT, "kernel '/k/a': No such file or directory");
    assert_int_equal(call(fx, "PUT", "/vm/start", NULL), 400);
    pthread_join(fx->main, NULL);
    assert_int_equal(fx->seen, API_PENDING_START);
    expect_error(fx, 400, "kernel '/k/a': No such file or directory");
    expect_state(fx, "NotStarted");

    start_fake_main(fx, -EIO, "cannot open /dev/kvm: Input/output error");
    assert_int_equal(call(fx, "PUT", "/vm/start", "{}"), 500);
    pthread_join(fx->main, NULL);
    expect_error(fx, 500, "cannot open /dev/kvm: Input/output error");

    /* Still configurable after a failure. */
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"kernel\": \"/k/b\"}"), 200);
    assert_string_equal(fx->opts.cfg.kernel_path, "/k/b");
}

/* casulo exiting while a start waits: the start is refused, not left hanging. */
static void shutdown_refuses_waiting_start(void **state)
{
    struct fixture *fx = *state;
    start_fake_main(fx, 0, NULL);
    assert_int_equal(call(fx, "PUT", "/vm/start", NULL), 409);
    pthread_join(fx->main, NULL);
    expect_error(fx, 409, "casulo is exiting");
    expect_state(fx, "Stopping");
    assert_int_equal(call(fx, "PUT", "/vm/config", "{\"cpus\": 1}"), 409);
    expect_error(fx, 409, "the VM is stopping");
}

/* PUT /vm/stop before the start: the main thread is told only once the reply is out. */
static void stop_before_start(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/vm/stop", NULL), 202);
    json_t *j = reply_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Stopping");
    json_decref(j);
    assert_false(main_woken(fx));
    assert_int_equal(api_pending_vm_take(&fx->pending), API_PENDING_NONE);
    api_vm_ops_pending.request_done(&fx->pending);
    assert_true(main_woken(fx));
    assert_int_equal(api_pending_vm_take(&fx->pending), API_PENDING_STOP);
    assert_true(api_pending_vm_stop_requested(&fx->pending));

    assert_int_equal(call(fx, "PUT", "/vm/stop", NULL), 409);
    expect_error(fx, 409, "the VM is stopping");
    assert_int_equal(call(fx, "PUT", "/vm/start", NULL), 409);
    expect_error(fx, 409, "the VM is stopping");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(not_started_describes_pending_config, setup, teardown),
        cmocka_unit_test_setup_teardown(vm_actions_conflict_before_start, setup, teardown),
        cmocka_unit_test_setup_teardown(config_merges_strictly, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_start_keeps_not_started, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_refuses_waiting_start, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_before_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
