// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the balloon endpoints (GET /balloon, PUT /balloon,
 * PUT /balloon/stats) through the router against the fake VM: the reply's
 * fields and named statistics, the target in bytes and MiB, every 400 of
 * the strict bodies, the guest-RAM limit, 409 for a VM without a balloon
 * (also when the ops table has no balloon entries) or one that is stopping,
 * and the balloon's metrics families.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/http.h"
#include "test_api_fake.h"

struct fixture {
    struct fake_vm vm;
    struct api_vm_ops ops;     /* a copy of fake_vm_ops, so a test can remove entries */
    struct api_ctx ctx;
    struct api_response resp;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fake_vm_init(&fx->vm);
    fx->ops = fake_vm_ops;
    if (api_ctx_init(&fx->ctx, &fx->ops, &fx->vm) < 0)
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

static unsigned call(struct fixture *fx, const char *method, const char *path, const char *body)
{
    api_response_free(&fx->resp);
    struct api_request req = { .method = method, .path = path, .body = body,
                               .body_len = body ? strlen(body) : 0 };
    api_http_handle(&fx->ctx, &req, &fx->resp);
    assert_non_null(fx->resp.body);
    assert_int_equal(strlen(fx->resp.body), fx->resp.body_len);
    return fx->resp.status;
}

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

static void expect_error(struct fixture *fx, unsigned status, const char *want)
{
    if (fx->resp.status != status)
        fail_msg("status %u, expected %u: %s", fx->resp.status, status, fx->resp.body);
    json_t *j = reply_json(fx);
    assert_int_equal(json_object_size(j), 1);
    const char *msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (strcmp(msg, want) != 0)
        fail_msg("error: expected '%s', got '%s'", want, msg);
    json_decref(j);
}

static json_int_t int_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("field '%s' is missing or not an integer", key);
    return json_integer_value(v);
}

static void get_balloon_describes_device_and_stats(void **state)
{
    struct fixture *fx = *state;
    fx->vm.balloon.target_bytes = 8192;
    fx->vm.balloon.actual_bytes = 4096;
    assert_int_equal(call(fx, "GET", "/balloon", NULL), 200);
    json_t *j = reply_json(fx);
    assert_int_equal(int_field(j, "target_bytes"), 8192);
    assert_int_equal(int_field(j, "actual_bytes"), 4096);
    assert_int_equal(int_field(j, "guest_ram_bytes"), 256 << 20);
    assert_true(json_is_true(json_object_get(j, "driver_active")));
    assert_int_equal(int_field(j, "stats_interval_s"), 0);
    json_t *features = json_object_get(j, "features");
    assert_true(json_is_true(json_object_get(features, "stats")));
    assert_true(json_is_true(json_object_get(features, "deflate_on_oom")));
    assert_true(json_is_false(json_object_get(features, "free_page_reporting")));
    /* Only the statistics the guest sent, under their names. */
    json_t *stats = json_object_get(j, "stats");
    assert_true(json_is_object(stats));
    assert_int_equal(json_object_size(stats), 2);
    assert_int_equal(int_field(stats, "free_memory"), 100 << 20);
    assert_int_equal(int_field(stats, "total_memory"), 240 << 20);
    assert_null(json_object_get(stats, "swap_in"));
    assert_string_equal(json_string_value(json_object_get(j, "stats_updated_at")),
                        "2023-11-14T22:13:20.123Z");
    json_t *counters = json_object_get(j, "counters");
    assert_int_equal(int_field(counters, "inflated_bytes"), 3 * 4096);
    assert_int_equal(int_field(counters, "deflated_bytes"), 0);
    json_decref(j);

    /* Every tag has a name; a driver that never sent statistics: {} and null. */
    fx->vm.balloon.stats_valid = (1u << BALLOON_NR_STATS) - 1;
    call(fx, "GET", "/balloon", NULL);
    j = reply_json(fx);
    stats = json_object_get(j, "stats");
    assert_int_equal(json_object_size(stats), BALLOON_NR_STATS);
    static const char *const names[] = { "swap_in", "swap_out", "major_faults", "minor_faults",
        "available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures",
        "oom_kills", "alloc_stalls", "async_scans", "direct_scans", "async_reclaims",
        "direct_reclaims" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!json_is_integer(json_object_get(stats, names[i])))
            fail_msg("no statistic '%s'", names[i]);
    json_decref(j);
    fx->vm.balloon.stats_valid = 0;
    fx->vm.balloon.stats_updated_at = 0;
    fx->vm.balloon.active = false;
    call(fx, "GET", "/balloon", NULL);
    j = reply_json(fx);
    assert_int_equal(json_object_size(json_object_get(j, "stats")), 0);
    assert_true(json_is_null(json_object_get(j, "stats_updated_at")));
    assert_true(json_is_false(json_object_get(j, "driver_active")));
    json_decref(j);

    /* Readable while the VM stops, unlike a change. */
    fx->vm.state = API_VM_STOPPING;
    assert_int_equal(call(fx, "GET", "/balloon", NULL), 200);
}

static void put_balloon_sets_target(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_bytes\": 134217728}"), 200);
    assert_int_equal(fx->vm.balloon.target_bytes, 128 << 20);
    json_t *j = reply_json(fx);
    assert_int_equal(int_field(j, "target_bytes"), 128 << 20);
    assert_non_null(json_object_get(j, "stats"));
    json_decref(j);

    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_mib\": 64}"), 200);
    assert_int_equal(fx->vm.balloon.target_bytes, 64 << 20);

    /* The device counts 4 KiB pages; the reply shows the target it took. */
    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_bytes\": 10000}"), 200);
    j = reply_json(fx);
    assert_int_equal(int_field(j, "target_bytes"), 8192);
    json_decref(j);

    /* All of RAM is a legal (if unkind) target; deflating is target 0. */
    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_mib\": 256}"), 200);
    assert_int_equal(fx->vm.balloon.target_bytes, 256 << 20);
    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_bytes\": 0}"), 200);
    assert_int_equal(fx->vm.balloon.target_bytes, 0);

    /* A paused guest sees the new target when it runs again. */
    fx->vm.state = API_VM_PAUSED;
    assert_int_equal(call(fx, "PUT", "/balloon", "{\"target_mib\": 1}"), 200);
    assert_int_equal(fx->vm.balloon.target_bytes, 1 << 20);
    assert_int_equal(fx->vm.balloon_set_calls, 6);
}

static void put_balloon_errors(void **state)
{
    struct fixture *fx = *state;
    call(fx, "PUT", "/balloon", "{\"target_bytes\": 269484032}");
    expect_error(fx, 400, "target 257M is more than the guest's RAM (256M)");
    call(fx, "PUT", "/balloon", "{\"target_bytes\": 268435457}");
    expect_error(fx, 400, "target 268435457 bytes is more than the guest's RAM (256M)");
    call(fx, "PUT", "/balloon", "{\"target_mib\": 257}");
    expect_error(fx, 400, "target 257M is more than the guest's RAM (256M)");
    /* MiB that would wrap when multiplied. */
    call(fx, "PUT", "/balloon", "{\"target_mib\": 9223372036854775807}");
    expect_error(fx, 400, "target 18446744073709551615 bytes is more than the guest's RAM (256M)");
    call(fx, "PUT", "/balloon", "{\"target_mib\": 17592186044416}");
    expect_error(fx, 400, "target 18446744073709551615 bytes is more than the guest's RAM (256M)");
    call(fx, "PUT", "/balloon", "{\"target_bytes\": 1, \"target_mib\": 1}");
    expect_error(fx, 400, "give exactly one of 'target_bytes' and 'target_mib'");
    call(fx, "PUT", "/balloon", "{}");
    expect_error(fx, 400, "give exactly one of 'target_bytes' and 'target_mib'");
    call(fx, "PUT", "/balloon", NULL);
    expect_error(fx, 400, "missing request body: expected a JSON object");
    call(fx, "PUT", "/balloon", "{\"target\": 1}");
    expect_error(fx, 400, "unknown field 'target'");
    call(fx, "PUT", "/balloon", "{\"target_bytes\": \"128M\"}");
    expect_error(fx, 400, "field 'target_bytes' must be a non-negative integer");
    call(fx, "PUT", "/balloon", "{\"target_bytes\": -4096}");
    expect_error(fx, 400, "field 'target_bytes' must be a non-negative integer");
    call(fx, "PUT", "/balloon", "{\"target_mib\": 1.5}");
    expect_error(fx, 400, "field 'target_mib' must be a non-negative integer");
    call(fx, "PUT", "/balloon", "[1]");
    expect_error(fx, 400, "the request body must be a JSON object");
    assert_int_equal(fx->vm.balloon_set_calls, 0);

    fx->vm.state = API_VM_STOPPING;
    call(fx, "PUT", "/balloon", "{\"target_mib\": 1}");
    expect_error(fx, 409, "the VM is stopping");
    assert_int_equal(fx->vm.balloon_set_calls, 0);
    assert_int_equal(fx->vm.balloon.target_bytes, 0);
}

static void stats_interval(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 5}"), 200);
    json_t *j = reply_json(fx);
    assert_int_equal(int_field(j, "interval_s"), 5);
    json_decref(j);
    assert_int_equal(fx->vm.balloon_interval_s, 5);
    call(fx, "GET", "/balloon", NULL);
    j = reply_json(fx);
    assert_int_equal(int_field(j, "stats_interval_s"), 5);
    json_decref(j);
    assert_int_equal(call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 0}"), 200);
    assert_int_equal(fx->vm.balloon_interval_s, 0);
    assert_int_equal(fx->vm.balloon_interval_calls, 2);

    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 86401}");
    expect_error(fx, 400, "field 'interval_s' must be at most 86400");
    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 4294967301}");
    expect_error(fx, 400, "field 'interval_s' must be at most 86400");
    call(fx, "PUT", "/balloon/stats", "{}");
    expect_error(fx, 400, "missing field 'interval_s'");
    call(fx, "PUT", "/balloon/stats", "{\"interval\": 5}");
    expect_error(fx, 400, "unknown field 'interval'");
    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": true}");
    expect_error(fx, 400, "field 'interval_s' must be a non-negative integer");
    assert_int_equal(fx->vm.balloon_interval_calls, 2);

    /* The device's timer refused: the interval shown stays the old one. */
    fx->vm.balloon_interval_result = -EIO;
    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 7}");
    expect_error(fx, 500, "cannot set the statistics interval: Input/output error");
    call(fx, "GET", "/balloon", NULL);
    j = reply_json(fx);
    assert_int_equal(int_field(j, "stats_interval_s"), 0);
    json_decref(j);

    fx->vm.balloon_interval_result = 0;
    fx->vm.state = API_VM_STOPPING;
    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 7}");
    expect_error(fx, 409, "the VM is stopping");
}

#define NO_BALLOON "this VM has no balloon device (start it with --balloon)"

static void expect_no_balloon(struct fixture *fx)
{
    call(fx, "GET", "/balloon", NULL);
    expect_error(fx, 409, NO_BALLOON);
    call(fx, "PUT", "/balloon", "{\"target_mib\": 16}");
    expect_error(fx, 409, NO_BALLOON);
    /* The missing device comes first, before the RAM limit. */
    call(fx, "PUT", "/balloon", "{\"target_mib\": 100000}");
    expect_error(fx, 409, NO_BALLOON);
    call(fx, "PUT", "/balloon/stats", "{\"interval_s\": 1}");
    expect_error(fx, 409, NO_BALLOON);
    /* A bad body is still a bad body. */
    call(fx, "PUT", "/balloon", "{\"x\": 1}");
    expect_error(fx, 400, "unknown field 'x'");
    assert_int_equal(fx->vm.balloon_set_calls, 0);
    assert_int_equal(fx->vm.balloon_interval_calls, 0);
}

static void no_balloon_device(void **state)
{
    struct fixture *fx = *state;
    fx->vm.has_balloon = false;
    expect_no_balloon(fx);
}

static void ops_without_balloon_entries(void **state)
{
    struct fixture *fx = *state;
    fx->ops.balloon_info = NULL;
    fx->ops.balloon_set_target = NULL;
    fx->ops.balloon_set_stats_interval = NULL;
    expect_no_balloon(fx);
    /* The rest of the API does not care. */
    assert_int_equal(call(fx, "GET", "/vm", NULL), 200);
}

static void balloon_metrics(void **state)
{
    struct fixture *fx = *state;
    fx->vm.balloon.target_bytes = 64 << 20;
    fx->vm.balloon.actual_bytes = 32 << 20;
    fx->vm.balloon.reported_bytes = 2 << 20;
    fx->vm.balloon.deflated_pages = 2;
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    static const char *const want[] = {
        "# TYPE casulo_balloon_target_bytes gauge\n",
        "casulo_balloon_target_bytes 67108864\n",
        "casulo_balloon_actual_bytes 33554432\n",
        "# TYPE casulo_balloon_inflated_bytes_total counter\n",
        "casulo_balloon_inflated_bytes_total 12288\n",
        "casulo_balloon_reported_bytes_total 2097152\n",
        "# TYPE casulo_balloon_deflated_bytes_total counter\n",
        "casulo_balloon_deflated_bytes_total 8192\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        if (!strstr(fx->resp.body, want[i]))
            fail_msg("metrics lack '%s':\n%s", want[i], fx->resp.body);
    /* No balloon, no balloon families. */
    fx->vm.has_balloon = false;
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    assert_null(strstr(fx->resp.body, "casulo_balloon"));
    fx->ops.balloon_info = NULL;
    assert_int_equal(call(fx, "GET", "/metrics", NULL), 200);
    assert_null(strstr(fx->resp.body, "casulo_balloon"));
}

static void balloon_methods(void **state)
{
    struct fixture *fx = *state;
    call(fx, "DELETE", "/balloon", NULL);
    expect_error(fx, 405, "method DELETE is not allowed on /balloon (allowed: GET, PUT)");
    assert_string_equal(fx->resp.allow, "GET, PUT");
    call(fx, "GET", "/balloon/stats", NULL);
    expect_error(fx, 405, "method GET is not allowed on /balloon/stats (allowed: PUT)");
    call(fx, "GET", "/vm/balloon", NULL);
    expect_error(fx, 404, "no such endpoint: GET /vm/balloon");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_balloon_describes_device_and_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(put_balloon_sets_target, setup, teardown),
        cmocka_unit_test_setup_teardown(put_balloon_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(stats_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(no_balloon_device, setup, teardown),
        cmocka_unit_test_setup_teardown(ops_without_balloon_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(balloon_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(balloon_methods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
