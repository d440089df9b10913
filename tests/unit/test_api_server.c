// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the API server over a real Unix socket, with libcurl as the
 * client and a fake VM behind it: every endpoint end to end (status,
 * headers, body), the socket's mode, stale and busy socket files, oversized
 * bodies, and the CLI client's output and exit status (the balloon verb too).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/http.h"
#include "api/server.h"
#include "cli/client.h"
#include "test_api_fake.h"

struct fixture {
    char dir[64];
    char path[100];
    struct fake_vm vm;
    struct api_server server;
    bool started;
    /* The last reply. */
    long status;
    char *body;
    size_t body_len;
    char content_type[128];
    char allow[128];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/casulo-api-test.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/api.sock", fx->dir);
    fake_vm_init(&fx->vm);
    *state = fx;
    return 0;
}

static void start(struct fixture *fx)
{
    char err[256] = "";
    int ret = api_server_start(&fx->server, fx->path, &fake_vm_ops, &fx->vm, err, sizeof(err));
    if (ret)
        fail_msg("api_server_start: %d: %s", ret, err);
    fx->started = true;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->started)
        api_server_stop(&fx->server);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx->body);
    fake_vm_destroy(&fx->vm);
    free(fx);
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct fixture *fx = opaque;
    size_t n = size * nmemb;
    char *grown = realloc(fx->body, fx->body_len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + fx->body_len, ptr, n);
    fx->body = grown;
    fx->body_len += n;
    fx->body[fx->body_len] = '\0';
    return n;
}

static void copy_header(char *dst, size_t dstlen, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len > nl && strncasecmp(line, name, nl) == 0) {
        size_t vlen = len - nl;
        while (vlen && (line[nl + vlen - 1] == '\r' || line[nl + vlen - 1] == '\n'))
            vlen--;
        snprintf(dst, dstlen, "%.*s", (int)vlen, line + nl);
    }
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *opaque)
{
    struct fixture *fx = opaque;
    size_t n = size * nmemb;
    copy_header(fx->content_type, sizeof(fx->content_type), line, n, "Content-Type: ");
    copy_header(fx->allow, sizeof(fx->allow), line, n, "Allow: ");
    return n;
}

/* One HTTP request over the socket; returns the status. body_len: bytes of body to send. */
static long request_len(struct fixture *fx, const char *method, const char *path, const char *body,
                        size_t body_len)
{
    free(fx->body);
    fx->body = NULL;
    fx->body_len = 0;
    fx->content_type[0] = fx->allow[0] = '\0';
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    char url[256];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, fx->path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, fx);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, fx);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);   /* hang detector */
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &fx->status);
    curl_easy_cleanup(curl);
    return fx->status;
}

static long request(struct fixture *fx, const char *method, const char *path, const char *body)
{
    return request_len(fx, method, path, body, body ? strlen(body) : 0);
}

static void expect_error(struct fixture *fx, long status, const char *want)
{
    assert_int_equal(fx->status, status);
    assert_string_equal(fx->content_type, API_JSON_TYPE);
    json_error_t jerr;
    json_t *j = json_loads(fx->body, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), want);
    json_decref(j);
}

static void every_endpoint_over_the_socket(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(request(fx, "GET", "/healthz", NULL), 200);
    assert_string_equal(fx->content_type, API_JSON_TYPE);
    assert_string_equal(fx->body, "{\"status\":\"ok\"}\n");

    assert_int_equal(request(fx, "GET", "/vm", NULL), 200);
    assert_non_null(strstr(fx->body, "\"state\":\"Running\""));
    assert_non_null(strstr(fx->body, "\"kernel\":\"/images/vmlinux\""));

    assert_int_equal(request(fx, "PUT", "/vm/state", "{\"state\":\"Paused\"}"), 200);
    assert_string_equal(fx->body, "{\"state\":\"Paused\"}\n");
    assert_int_equal(fx->vm.state, API_VM_PAUSED);
    request(fx, "PUT", "/vm/state", "{\"state\":\"Paused\"}");
    expect_error(fx, 409, "the VM is already paused");
    request(fx, "PUT", "/vm/state", "{\"state\":\"Paused\",\"x\":1}");
    expect_error(fx, 400, "unknown field 'x'");
    request(fx, "PUT", "/vm/power-off", NULL);
    expect_error(fx, 409, "the VM is paused: resume it first (or stop it)");
    assert_int_equal(request(fx, "PUT", "/vm/state", "{\"state\":\"Running\"}"), 200);

    assert_int_equal(request(fx, "GET", "/metrics", NULL), 200);
    assert_string_equal(fx->content_type, API_METRICS_TYPE);
    assert_non_null(strstr(fx->body, "casulo_vm_state{state=\"Running\"} 1\n"));

    assert_int_equal(request(fx, "PUT", "/vm/power-off", "{\"timeout_s\": 600}"), 202);
    assert_non_null(strstr(fx->body, "\"guest_listening\":true"));
    assert_int_equal(fx->vm.button_calls, 1);

    request(fx, "GET", "/vm/stop", NULL);
    expect_error(fx, 405, "method GET is not allowed on /vm/stop (allowed: PUT)");
    assert_string_equal(fx->allow, "PUT");
    request(fx, "GET", "/no-such-endpoint?x=1", NULL);
    expect_error(fx, 404, "no such endpoint: GET /no-such-endpoint");

    assert_int_equal(request(fx, "PUT", "/vm/stop", ""), 202);
    assert_string_equal(fx->body, "{\"state\":\"Stopping\"}\n");
    assert_int_equal(fx->vm.stop_calls, 1);
    request(fx, "PUT", "/vm/stop", NULL);
    expect_error(fx, 409, "the VM is stopping");

    api_server_stop(&fx->server);
    fx->started = false;
    assert_int_equal(access(fx->path, F_OK), -1);
}

static void oversized_body(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    size_t len = API_MAX_BODY + 100;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    request_len(fx, "PUT", "/vm/state", big, len);
    expect_error(fx, 413, "request body too large (the limit is 65536 bytes)");
    free(big);
    assert_int_equal(fx->vm.pause_calls, 0);
    /* The server still answers. */
    assert_int_equal(request(fx, "GET", "/healthz", NULL), 200);
}

static void stale_socket_is_replaced(void **state)
{
    struct fixture *fx = *state;
    /* A socket file nobody listens on, as a killed casulo leaves behind. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", fx->path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    start(fx);
    assert_int_equal(request(fx, "GET", "/healthz", NULL), 200);
}

static void busy_socket_is_refused(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    struct fake_vm other;
    fake_vm_init(&other);
    struct api_server second;
    char err[256] = "";
    assert_int_equal(api_server_start(&second, fx->path, &fake_vm_ops, &other, err, sizeof(err)),
                     -EADDRINUSE);
    char want[256];
    snprintf(want, sizeof(want), "API socket %s is in use by another process", fx->path);
    assert_string_equal(err, want);
    /* The first server is untouched. */
    assert_int_equal(request(fx, "GET", "/healthz", NULL), 200);
    fake_vm_destroy(&other);
}

static void bad_socket_paths(void **state)
{
    struct fixture *fx = *state;
    struct api_server s;
    char err[256] = "";
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(api_server_start(&s, fx->path, &fake_vm_ops, &fx->vm, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "the file exists and is not a socket"));
    assert_int_equal(access(fx->path, F_OK), 0);   /* not removed */
    unlink(fx->path);

    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(api_server_start(&s, longpath, &fake_vm_ops, &fx->vm, err, sizeof(err)),
                     -ENAMETOOLONG);
    assert_non_null(strstr(err, "must be 1 to 107 bytes long"));

    assert_true(api_server_start(&s, "/nonexistent-dir/api.sock", &fake_vm_ops, &fx->vm, err,
                                 sizeof(err)) < 0);
    assert_string_equal(err, "cannot bind the API socket /nonexistent-dir/api.sock: No such file or directory");
}

/* Runs a client verb; its stdout and stderr land in out/err (caller frees). */
static int client(struct fixture *fx, const char *verb, bool json, int timeout_s, char **out, char **err)
{
    size_t ol, el;
    FILE *o = open_memstream(out, &ol), *e = open_memstream(err, &el);
    assert_non_null(o);
    assert_non_null(e);
    struct client_request req = { .verb = verb, .api_path = fx->path, .json = json, .timeout_s = timeout_s };
    int ret = client_run(&req, o, e);
    fclose(o);
    fclose(e);
    return ret;
}

static void client_verbs(void **state)
{
    struct fixture *fx = *state;
    char *out, *err;
    assert_int_equal(client(fx, "status", false, -1, &out, &err), 1);
    char want[256];
    snprintf(want, sizeof(want), "casulo: error: cannot connect to API socket %s: No such file or directory\n",
             fx->path);
    assert_string_equal(err, want);
    assert_string_equal(out, "");
    free(out), free(err);

    start(fx);
    assert_int_equal(client(fx, "pause", false, -1, &out, &err), 0);
    assert_string_equal(out, "paused\n");
    assert_string_equal(err, "");
    free(out), free(err);
    assert_int_equal(fx->vm.state, API_VM_PAUSED);

    assert_int_equal(client(fx, "pause", false, -1, &out, &err), 1);
    assert_string_equal(out, "");
    assert_string_equal(err, "casulo: error: the VM is already paused\n");
    free(out), free(err);

    assert_int_equal(client(fx, "status", false, -1, &out, &err), 0);
    assert_non_null(strstr(out, "state      Paused\n"));
    assert_non_null(strstr(out, "uptime     2.5 s\n"));
    assert_non_null(strstr(out, "cpus       2\n"));
    assert_non_null(strstr(out, "memory     256 MiB\n"));
    assert_non_null(strstr(out, "disk       /images/root.img (read-only)\n"));
    assert_non_null(strstr(out, "net        tap7 52:54:00:12:34:56\n"));
    free(out), free(err);

    assert_int_equal(client(fx, "status", true, -1, &out, &err), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "Paused");
    json_decref(j);
    free(out), free(err);

    assert_int_equal(client(fx, "resume", false, -1, &out, &err), 0);
    assert_string_equal(out, "running\n");
    free(out), free(err);

    assert_int_equal(client(fx, "metrics", false, -1, &out, &err), 0);
    assert_non_null(strstr(out, "casulo_vcpu_exits_total{vcpu=\"1\",reason=\"io\"} 7\n"));
    free(out), free(err);

    fx->vm.button_result = 0;
    assert_int_equal(client(fx, "power-off", false, 120, &out, &err), 0);
    assert_string_equal(out, "power button pressed, but the guest has not enabled it; the VM is stopped in 120 s\n");
    free(out), free(err);
    fx->vm.button_result = 1;
    assert_int_equal(client(fx, "power-off", false, -1, &out, &err), 0);
    assert_string_equal(out, "power button pressed; the VM is stopped in 30 s if the guest has not powered off by then\n");
    free(out), free(err);

    assert_int_equal(client(fx, "stop", false, -1, &out, &err), 0);
    assert_string_equal(out, "stopping\n");
    free(out), free(err);
    assert_int_equal(fx->vm.stop_calls, 1);

    /* --json on an error: the raw reply on stdout, the line on stderr, still exit 1. */
    assert_int_equal(client(fx, "stop", true, -1, &out, &err), 1);
    assert_string_equal(out, "{\"error\":\"the VM is stopping\"}\n");
    assert_string_equal(err, "casulo: error: the VM is stopping\n");
    free(out), free(err);
}

/* Runs the balloon verb with a prepared request (target or interval set by the caller). */
static int client_req(struct fixture *fx, struct client_request *req, char **out, char **err)
{
    size_t ol, el;
    FILE *o = open_memstream(out, &ol), *e = open_memstream(err, &el);
    assert_non_null(o);
    assert_non_null(e);
    req->api_path = fx->path;
    int ret = client_run(req, o, e);
    fclose(o);
    fclose(e);
    return ret;
}

static void client_balloon(void **state)
{
    struct fixture *fx = *state;
    char *out, *err;
    start(fx);
    fx->vm.balloon.actual_bytes = 3 << 20;
    assert_int_equal(client(fx, "balloon", false, -1, &out, &err), 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "target     0 bytes\n"));
    assert_non_null(strstr(out, "actual     3 MiB\n"));
    assert_non_null(strstr(out, "guest RAM  256 MiB\n"));
    assert_non_null(strstr(out, "driver     active (statistics yes, deflate on OOM yes, free page reporting no)\n"));
    assert_non_null(strstr(out, "polling    off\n"));
    assert_non_null(strstr(out, "stats      as of 2023-11-14T22:13:20.123Z\n"));
    assert_non_null(strstr(out, "  free_memory          100 MiB\n"));
    assert_non_null(strstr(out, "  total_memory         240 MiB\n"));
    free(out), free(err);

    /* --target: a PUT with the size in bytes; the reply's new target is printed. */
    struct client_request req = { .verb = "balloon", .timeout_s = -1, .set_target = true,
                                  .target_bytes = 128 << 20 };
    assert_int_equal(client_req(fx, &req, &out, &err), 0);
    assert_string_equal(out, "balloon target 128 MiB (it holds 3 MiB now; the guest follows in the background)\n");
    free(out), free(err);
    assert_int_equal(fx->vm.balloon.target_bytes, 128 << 20);

    req.target_bytes = 1ULL << 30;
    assert_int_equal(client_req(fx, &req, &out, &err), 1);
    assert_string_equal(err, "casulo: error: target 1G is more than the guest's RAM (256M)\n");
    free(out), free(err);
    assert_int_equal(fx->vm.balloon.target_bytes, 128 << 20);

    req = (struct client_request){ .verb = "balloon", .timeout_s = -1, .set_stats_interval = true,
                                   .stats_interval_s = 10 };
    assert_int_equal(client_req(fx, &req, &out, &err), 0);
    assert_string_equal(out, "balloon statistics every 10 s\n");
    free(out), free(err);
    assert_int_equal(fx->vm.balloon_interval_s, 10);

    assert_int_equal(client(fx, "balloon", true, -1, &out, &err), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "target_bytes")), 128 << 20);
    assert_int_equal(json_integer_value(json_object_get(j, "stats_interval_s")), 10);
    json_decref(j);
    free(out), free(err);

    fx->vm.has_balloon = false;
    assert_int_equal(client(fx, "balloon", false, -1, &out, &err), 1);
    assert_string_equal(out, "");
    assert_string_equal(err, "casulo: error: this VM has no balloon device (start it with --balloon)\n");
    free(out), free(err);
}

static void client_usage_errors(void **state)
{
    (void)state;
    assert_true(client_is_verb("pause"));
    assert_true(client_is_verb("power-off"));
    assert_false(client_is_verb("run"));
    char *argv1[] = { (char *)"pause", NULL };
    assert_int_equal(cmd_client(1, argv1), 2);              /* no --api */
    char *argv2[] = { (char *)"pause", (char *)"--api", (char *)"/x", (char *)"--bogus", NULL };
    assert_int_equal(cmd_client(4, argv2), 2);
    char *argv3[] = { (char *)"stop", (char *)"--api", (char *)"/x", (char *)"--timeout", (char *)"5", NULL };
    assert_int_equal(cmd_client(5, argv3), 2);              /* --timeout only for power-off */
    char *argv4[] = { (char *)"power-off", (char *)"--api", (char *)"/x", (char *)"--timeout", (char *)"soon", NULL };
    assert_int_equal(cmd_client(5, argv4), 1);
    char *argv5[] = { (char *)"status", (char *)"--api", (char *)"/nonexistent/api.sock", NULL };
    assert_int_equal(cmd_client(3, argv5), 1);              /* nothing listens */
    assert_true(client_is_verb("balloon"));
    char *argv6[] = { (char *)"status", (char *)"--api", (char *)"/x", (char *)"--target", (char *)"1G", NULL };
    assert_int_equal(cmd_client(5, argv6), 2);              /* --target only for balloon */
    char *argv7[] = { (char *)"balloon", (char *)"--api", (char *)"/x", (char *)"--target", (char *)"lots", NULL };
    assert_int_equal(cmd_client(5, argv7), 2);
    char *argv8[] = { (char *)"balloon", (char *)"--api", (char *)"/x", (char *)"--target", (char *)"1G",
                      (char *)"--stats-interval", (char *)"5", NULL };
    assert_int_equal(cmd_client(7, argv8), 2);              /* one change at a time */
    char *argv9[] = { (char *)"balloon", (char *)"--api", (char *)"/x", (char *)"--stats-interval", (char *)"-1", NULL };
    assert_int_equal(cmd_client(5, argv9), 2);
    char *argv10[] = { (char *)"balloon", (char *)"--api", (char *)"/nonexistent/api.sock", (char *)"--target", (char *)"64M", NULL };
    assert_int_equal(cmd_client(5, argv10), 1);             /* valid, but nothing listens */
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_endpoint_over_the_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_body, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_socket_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_socket_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_socket_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(client_verbs, setup, teardown),
        cmocka_unit_test_setup_teardown(client_balloon, setup, teardown),
        cmocka_unit_test_setup_teardown(client_usage_errors, setup, teardown),
    };
    int ret = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return ret;
}
