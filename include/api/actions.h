/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed actions behind the HTTP API: what a request does to the VM, with
 * no HTTP in sight. Each returns 0 or -errno and, on failure, one line in
 * err saying why; the router maps the errno to a status (-EALREADY and
 * -ESHUTDOWN: wrong state, 409). New features (snapshot, restore)
 * add an action here and a route in src/api/http.c.
 */
#ifndef CASULO_API_ACTIONS_H
#define CASULO_API_ACTIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_vm.h"
#include "api/poweroff.h"
#include "util/compiler.h"

/* Default and largest grace period of a power-off before the hard stop. */
#define API_POWEROFF_DEFAULT_TIMEOUT_S 30
#define API_POWEROFF_MAX_TIMEOUT_S     3600

/* Largest balloon statistics polling period (PUT /balloon/stats). */
#define API_BALLOON_MAX_STATS_INTERVAL_S 86400

/* Everything a request can reach: the VM and the API's own timers. */
struct api_ctx {
    const struct api_vm_ops *ops;
    void *vm;
    struct api_poweroff poweroff;
    /* The polling period last set through the API (the device does not report it). */
    unsigned balloon_stats_interval_s;
};

int api_ctx_init(struct api_ctx *ctx, const struct api_vm_ops *ops, void *vm) MUST_CHECK;
void api_ctx_destroy(struct api_ctx *ctx);

const char *api_state_name(enum api_vm_state state);

/* 0, or -EBUSY with "the VM has not started yet" while it waits for PUT /vm/start. */
int api_require_started(struct api_ctx *ctx, char *err, size_t errlen);

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

/*
 * Configure-before-boot: PUT /vm/config and PUT /vm/start. -EALREADY (409)
 * once the VM has started, -EINVAL (400) for a bad body or configuration.
 */
int api_action_configure(struct api_ctx *ctx, const char *body, size_t len, char *err,
                         size_t errlen);
int api_action_start(struct api_ctx *ctx, char *err, size_t errlen);

/* The VM's state, uptime, version and configuration as a JSON object (NULL: no memory). */
json_t *api_action_describe(struct api_ctx *ctx);

/*
 * The balloon (src/api/balloon_actions.c). Without a balloon device each
 * returns -ENODEV with "this VM has no balloon device (start it with
 * --balloon)".
 *
 * describe: target, actual, guest RAM, negotiated features, the guest's
 * named statistics and the device's counters as a JSON object in *out;
 * -ENOMEM when it cannot be built.
 */
int api_action_balloon_describe(struct api_ctx *ctx, json_t **out, char *err, size_t errlen);

/*
 * Sets the balloon's target (bytes it should take from the guest, rounded
 * down to 4 KiB by the device): -EINVAL above the guest's RAM, -ESHUTDOWN
 * while the VM stops. The guest inflates or deflates in the background.
 */
int api_action_balloon_set_target(struct api_ctx *ctx, uint64_t bytes, char *err, size_t errlen);

/* Statistics polling every `seconds` (0: off); -EINVAL above the maximum. */
int api_action_balloon_set_stats_interval(struct api_ctx *ctx, unsigned seconds, char *err,
                                          size_t errlen);

/*
 * Live migration (src/api/migrate_actions.c). start: the VM must be running
 * and not migrating already (-EBUSY / -ESHUTDOWN: 409), the address and
 * limits valid (-EINVAL: 400); it returns once the migration thread runs.
 * cancel: -EALREADY (409) when none is active. describe: GET /migrate's
 * object (NULL: no memory).
 */
struct mig_params;
int api_action_migrate_start(struct api_ctx *ctx, const struct mig_params *p, char *err,
                             size_t errlen);
int api_action_migrate_cancel(struct api_ctx *ctx, char *err, size_t errlen);
json_t *api_action_migrate_describe(struct api_ctx *ctx);

/* Prometheus text exposition (format 0.0.4), malloc'd; NULL when out of memory. */
char *api_action_metrics(struct api_ctx *ctx);

#endif
