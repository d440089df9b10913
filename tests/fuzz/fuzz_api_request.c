// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the API's request handling (src/api/http.c, its
 * strict JSON bodies and the actions) against the fake VM of the unit
 * tests. Input: byte 0 picks the method (or, past the list, takes the
 * method from the input), byte 1 the fake VM's state, power-button
 * answer and whether it has a balloon, then the path up to the first newline, then the body. Every
 * response must be well-formed: a known status, a body of the stated
 * length, valid JSON ({"error": "..."} for 4xx/5xx) unless it is the
 * metrics text, and an Allow header exactly on 405.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../unit/test_api_fake.h"
#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "" };

static void check_response(const struct api_response *r)
{
    static const unsigned ok[] = { 200, 202, 400, 404, 405, 409, 413, 500 };
    bool known = false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        known |= r->status == ok[i];
    fuzz_check(known);
    fuzz_check(r->body && strlen(r->body) == r->body_len);
    fuzz_check((r->status == 405) == (r->allow[0] != '\0'));
    if (strcmp(r->content_type, API_METRICS_TYPE) == 0) {
        fuzz_check(r->status == 200);
        return;
    }
    fuzz_check(strcmp(r->content_type, API_JSON_TYPE) == 0);
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
    fuzz_check(json_is_object(j));
    if (r->status >= 400) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        fuzz_check(msg && *msg && !strchr(msg, '\n'));
        fuzz_check(json_object_size(j) == 1);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t pick = data[0], vm_bits = data[1];
    data += 2;
    size -= 2;

    char method[16] = "";
    if (pick < sizeof(methods) / sizeof(methods[0])) {
        snprintf(method, sizeof(method), "%s", methods[pick]);
    } else {
        size_t n = size < 8 ? size : 8;
        memcpy(method, data, n);   /* NUL-terminated by the array's zeroes */
        data += n;
        size -= n;
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t path_len = nl ? (size_t)(nl - data) : size;
    char *path = strndup((const char *)data, path_len);
    if (!path)
        return 0;
    const char *body = nl ? (const char *)nl + 1 : NULL;
    size_t body_len = nl ? size - path_len - 1 : 0;

    struct fake_vm vm;
    fake_vm_init(&vm);
    vm.state = (enum api_vm_state)(vm_bits % 3);
    vm.button_result = (vm_bits >> 2) % 3 - 1;   /* -1 (an errno), 0 or 1 */
    vm.stats_result = (vm_bits & 0x80) ? -ENOMEM : 0;
    vm.has_balloon = !(vm_bits & 0x40);
    struct api_ctx ctx;
    if (api_ctx_init(&ctx, &fake_vm_ops, &vm) == 0) {
        struct api_request req = {
            .method = method, .path = path, .body = body, .body_len = body_len,
            .body_too_large = body_len > API_MAX_BODY,
        };
        struct api_response resp;
        enum api_vm_state before = vm.state;
        uint64_t target_before = vm.balloon.target_bytes;
        api_http_handle(&ctx, &req, &resp);
        check_response(&resp);
        /* A refused request leaves the VM as it was (only a 202 arms the watchdog). */
        if (resp.status >= 400 && resp.status < 500)
            fuzz_check(vm.state == before && vm.stop_calls == 0 &&
                       vm.balloon.target_bytes == target_before);
        /* No body gets the balloon past the guest's RAM. */
        fuzz_check(vm.balloon.target_bytes <= vm.cfg.memory);
        api_response_free(&resp);
        api_ctx_destroy(&ctx);
    }
    fake_vm_destroy(&vm);
    free(path);
    return 0;
}
