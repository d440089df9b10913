// SPDX-License-Identifier: Apache-2.0
/*
 * The API's typed actions: pause, resume, hard stop, graceful power-off and
 * describe. They check the VM's state and call it through struct
 * api_vm_ops; nothing here knows about HTTP or JSON bodies, so a future
 * caller (the host daemon, a test) gets the same checks and messages.
 */
#include "api/actions.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/vm_config.h"

int api_ctx_init(struct api_ctx *ctx, const struct api_vm_ops *ops, void *vm)
{
    ctx->ops = ops;
    ctx->vm = vm;
    ctx->balloon_stats_interval_s = 0;
    return api_poweroff_init(&ctx->poweroff, ops, vm);
}

void api_ctx_destroy(struct api_ctx *ctx)
{
    api_poweroff_destroy(&ctx->poweroff);
}

const char *api_state_name(enum api_vm_state state)
{
    switch (state) {
    case API_VM_RUNNING:
        return "Running";
    case API_VM_PAUSED:
        return "Paused";
    case API_VM_STOPPING:
        return "Stopping";
    case API_VM_NOT_STARTED:
        return "NotStarted";
    }
    return "Unknown";
}

/* The message for a VM call that failed with -errno. */
static int state_error(int ret, const char *already, char *err, size_t errlen)
{
    if (ret == -EALREADY)
        snprintf(err, errlen, "%s", already);
    else if (ret == -ESHUTDOWN)
        snprintf(err, errlen, "the VM is stopping");
    else if (ret == -EBUSY)
        snprintf(err, errlen, "a migration is in progress (DELETE /migrate cancels it)");
    else if (ret == -ENOLCK)
        snprintf(err, errlen, "a disk is locked by another VM: the migration's destination runs "
                 "this VM; stop it there first");
    else
        snprintf(err, errlen, "%s", strerror(-ret));
    return ret;
}

int api_require_started(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (ctx->ops->state(ctx->vm) != API_VM_NOT_STARTED)
        return 0;
    snprintf(err, errlen, "the VM has not started yet");
    return -EBUSY;
}

int api_action_pause(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    int ret = ctx->ops->pause(ctx->vm);
    return ret ? state_error(ret, "the VM is already paused", err, errlen) : 0;
}

int api_action_resume(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    int ret = ctx->ops->resume(ctx->vm);
    return ret ? state_error(ret, "the VM is already running", err, errlen) : 0;
}

int api_action_stop(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (ctx->ops->state(ctx->vm) == API_VM_STOPPING)
        return state_error(-ESHUTDOWN, "", err, errlen);
    ctx->ops->stop(ctx->vm, "stopped through the API");
    return 0;
}

int api_action_power_off(struct api_ctx *ctx, unsigned timeout_s, bool *guest_listening,
                         char *err, size_t errlen)
{
    switch (ctx->ops->state(ctx->vm)) {
    case API_VM_STOPPING:
        return state_error(-ESHUTDOWN, "", err, errlen);
    case API_VM_PAUSED:
        /* A paused guest cannot see the button; its grace period would run out unseen. */
        snprintf(err, errlen, "the VM is paused: resume it first (or stop it)");
        return -EBUSY;
    case API_VM_NOT_STARTED:
        return api_require_started(ctx, err, errlen);
    case API_VM_RUNNING:
        break;
    }
    int ret = ctx->ops->power_button(ctx->vm);
    if (ret < 0) {
        snprintf(err, errlen, "cannot press the power button: %s",
                 ret == -ENODEV ? "the VM has no ACPI power management device" : strerror(-ret));
        return ret;
    }
    *guest_listening = ret > 0;
    api_poweroff_arm(&ctx->poweroff, timeout_s);
    return 0;
}

int api_action_configure(struct api_ctx *ctx, const char *body, size_t len, char *err,
                         size_t errlen)
{
    if (!ctx->ops->configure) {
        snprintf(err, errlen, "the VM has already started");
        return -EALREADY;
    }
    return ctx->ops->configure(ctx->vm, body, len, err, errlen);
}

int api_action_start(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (!ctx->ops->start) {
        snprintf(err, errlen, "the VM has already started");
        return -EALREADY;
    }
    return ctx->ops->start(ctx->vm, err, errlen);
}

static const char *console_name(enum console_mode mode)
{
    switch (mode) {
    case CONSOLE_STDIO:
        return "stdio";
    case CONSOLE_FILE:
        return "file";
    case CONSOLE_OFF:
        return "off";
    case CONSOLE_SOCKET:
        return "socket";
    }
    return "unknown";
}

static json_t *describe_disks(const struct vm_config *cfg)
{
    json_t *disks = json_array();
    for (unsigned i = 0; disks && i < cfg->nr_disks; i++) {
        const struct disk_config *d = &cfg->disks[i];
        json_t *o = json_pack("{s:s, s:b, s:b, s:s, s:I, s:s, s:s}", "path", d->path,
                              "readonly", d->readonly, "direct", d->direct, "io",
                              disk_io_name(d->io), "queues", (json_int_t)d->queues, "id", d->id,
                              "serial", disk_config_serial(d));
        if (!o || json_array_append_new(disks, o)) {
            json_decref(disks);
            return NULL;
        }
    }
    return disks;
}

static json_t *describe_nets(const struct vm_config *cfg)
{
    json_t *nets = json_array();
    for (unsigned i = 0; nets && i < cfg->nr_nets; i++) {
        char mac[NET_MAC_STR];
        net_mac_format(cfg->nets[i].mac, mac);
        json_t *o = json_pack("{s:s, s:s}", "tap", cfg->nets[i].tap, "mac", mac);
        if (!o || json_array_append_new(nets, o)) {
            json_decref(nets);
            return NULL;
        }
    }
    return nets;
}

static json_t *describe_config(const struct vm_config *cfg)
{
    json_t *disks = describe_disks(cfg);
    json_t *nets = describe_nets(cfg);
    if (!disks || !nets) {
        json_decref(disks);
        json_decref(nets);
        return NULL;
    }
    /* "o" steals the arrays, also when packing fails. */
    return json_pack("{s:s?, s:s?, s:s, s:I, s:I, s:s, s:s?, s:s, s:b, s:o, s:o}",
                     "kernel", cfg->kernel_path, "initrd", cfg->initrd_path, "cmdline",
                     cfg->cmdline ? cfg->cmdline : VM_DEFAULT_CMDLINE, "cpus",
                     (json_int_t)cfg->cpus, "memory_bytes", (json_int_t)cfg->memory, "console",
                     console_name(cfg->console), "console_path",
                     cfg->console == CONSOLE_FILE || cfg->console == CONSOLE_SOCKET ? cfg->console_path
                                                                           : NULL, "on_reboot",
                     cfg->on_reboot == REBOOT_RESTART ? "restart" : "exit", "rng", cfg->rng,
                     "disks", disks, "nets", nets);
}

json_t *api_action_describe(struct api_ctx *ctx)
{
    json_t *config = describe_config(ctx->ops->config(ctx->vm));
    if (!config)
        return NULL;
    double uptime = (double)ctx->ops->uptime_ns(ctx->vm) / 1e9;
    return json_pack("{s:s, s:s, s:f, s:o}", "state", api_state_name(ctx->ops->state(ctx->vm)),
                     "version", CASULO_VERSION, "uptime_s", uptime, "config", config);
}
