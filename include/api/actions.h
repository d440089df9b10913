/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed actions behind the HTTP API: what a request does to the VM, with
 * no HTTP in sight. Each returns 0 or -errno and, on failure, one line in
 * err saying why; the router maps the errno to a status (-EALREADY and
 * -ESHUTDOWN: wrong state, 409). New features (snapshot, restore, balloon)
 * add an action here and a route in src/api/http.c.
 */
#ifndef CASULO_API_ACTIONS_H
#define CASULO_API_ACTIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api_vm.h"
#include "api/poweroff.h"
#include "util/compiler.h"

/* Default and largest grace period of a power-off before the hard stop. */
#define API_POWEROFF_DEFAULT_TIMEOUT_S 30
#define API_POWEROFF_MAX_TIMEOUT_S     3600

/* Everything a request can reach: the VM and the API's own timers. */
struct api_ctx {
    const struct api_vm_ops *ops;
    void *vm;
    struct api_poweroff poweroff;
};

int api_ctx_init(struct api_ctx *ctx, const struct api_vm_ops *ops, void *vm) MUST_CHECK;
void api_ctx_destroy(struct api_ctx *ctx);

const char *api_state_name(enum api_vm_state state);

int api_action_pause(struct api_ctx *ctx, char *err, size_t errlen);
int api_action_resume(struct api_ctx *ctx, char *err, size_t errlen);
int api_action_stop(struct api_ctx *ctx, char *err, size_t errlen);

/*
 * Presses the power button and arms the hard stop after timeout_s seconds
 * (0: at once). *guest_listening says whether the guest enabled the button.
 * Returns without waiting for the guest.
 */
int api_action_power_off(struct api_ctx *ctx, unsigned timeout_s, bool *guest_listening,
                         char *err, size_t errlen);

/* The VM's state, uptime, version and configuration as a JSON object (NULL: no memory). */
json_t *api_action_describe(struct api_ctx *ctx);

/* Prometheus text exposition (format 0.0.4), malloc'd; NULL when out of memory. */
char *api_action_metrics(struct api_ctx *ctx);

#endif
