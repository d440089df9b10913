// SPDX-License-Identifier: Apache-2.0
/*
 * The migration actions behind PUT, GET and DELETE /migrate: state checks
 * and messages, and the progress report as JSON. The work itself is in
 * src/migration/, reached through struct api_vm_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/actions.h"
#include "migration/migration.h"

static int not_supported(char *err, size_t errlen)
{
    snprintf(err, errlen, "this VM cannot migrate");
    return -ENOTSUP;
}

int api_action_migrate_start(struct api_ctx *ctx, const struct mig_params *p, char *err,
                             size_t errlen)
{
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    if (!ctx->ops->migrate_start)
        return not_supported(err, errlen);
    if (p->max_downtime_ms > MIG_MAX_DOWNTIME_LIMIT_MS || p->bandwidth_mib_s > MIG_BANDWIDTH_LIMIT_MIB_S ||
        p->timeout_s > MIG_TIMEOUT_LIMIT_S) {
        snprintf(err, errlen, "max_downtime_ms must be at most %u, bandwidth_mib_s at most %u and "
                 "timeout_s at most %u", MIG_MAX_DOWNTIME_LIMIT_MS, MIG_BANDWIDTH_LIMIT_MIB_S,
                 MIG_TIMEOUT_LIMIT_S);
        return -EINVAL;
    }
    if (strncmp(p->url, "tcp:", 4) != 0) {
        snprintf(err, errlen, "field 'url' must be tcp:HOST:PORT");
        return -EINVAL;
    }
    switch (ctx->ops->state(ctx->vm)) {
    case API_VM_STOPPING:
        snprintf(err, errlen, "the VM is stopping");
        return -ESHUTDOWN;
    case API_VM_PAUSED:
        snprintf(err, errlen, "the VM is paused: resume it before migrating");
        return -EBUSY;
    default:
        break;
    }
    return ctx->ops->migrate_start(ctx->vm, p, err, errlen);
}

int api_action_migrate_cancel(struct api_ctx *ctx, char *err, size_t errlen)
{
    if (!ctx->ops->migrate_cancel)
        return not_supported(err, errlen);
    return ctx->ops->migrate_cancel(ctx->vm, err, errlen);
}

/* Rates rounded to 0.1 MiB/s: more digits only look precise. */
static double round1(double v)
{
    return (double)(long long)(v * 10 + 0.5) / 10;
}

json_t *api_action_migrate_describe(struct api_ctx *ctx)
{
    struct mig_info info = { .status = MIG_NONE };
    if (ctx->ops->migrate_info)
        ctx->ops->migrate_info(ctx->vm, &info);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = json_object_set_new(o, "status", json_string(mig_status_name(info.status)));
    if (info.status == MIG_NONE)
        return bad ? (json_decref(o), NULL) : o;
    bad |= json_object_set_new(o, "url", json_string(info.params.url));
    bad |= json_object_set_new(o, "phase", json_string(info.phase));
    bad |= json_object_set_new(o, "iteration", json_integer(info.iteration));
    bad |= json_object_set_new(o, "bytes_sent", json_integer((json_int_t)info.bytes_sent));
    bad |= json_object_set_new(o, "bytes_remaining", json_integer((json_int_t)info.bytes_remaining));
    bad |= json_object_set_new(o, "pages_sent", json_integer((json_int_t)info.pages_sent));
    bad |= json_object_set_new(o, "zero_pages", json_integer((json_int_t)info.zero_pages));
    bad |= json_object_set_new(o, "compress", json_boolean(!info.params.no_compress));
    bad |= json_object_set_new(o, "compression", json_string(info.compressing ? "zstd" : "none"));
    bad |= json_object_set_new(o, "page_bytes", json_integer((json_int_t)info.page_bytes));
    bad |= json_object_set_new(o, "page_wire_bytes", json_integer((json_int_t)info.page_wire_bytes));
    /* Data pages only (zero runs and framing aside): raw bytes per byte on the wire. */
    double ratio = info.page_wire_bytes ? (double)info.page_bytes / (double)info.page_wire_bytes : 1;
    bad |= json_object_set_new(o, "compression_ratio", json_real(round1(ratio)));
    bad |= json_object_set_new(o, "dirty_rate_mib_s", json_real(round1(info.dirty_rate_mib_s)));
    bad |= json_object_set_new(o, "bandwidth_mib_s", json_real(round1(info.bandwidth_mib_s)));
    bad |= json_object_set_new(o, "expected_downtime_ms",
                               json_integer((json_int_t)info.expected_downtime_ms));
    bad |= json_object_set_new(o, "converging", json_boolean(info.converging));
    bad |= json_object_set_new(o, "throttle_percent", json_integer(info.throttle_percent));
    bad |= json_object_set_new(o, "max_downtime_ms", json_integer(info.params.max_downtime_ms));
    bad |= json_object_set_new(o, "bandwidth_limit_mib_s", json_integer(info.params.bandwidth_mib_s));
    bad |= json_object_set_new(o, "auto_converge", json_boolean(info.params.auto_converge));
    bad |= json_object_set_new(o, "timeout_s", json_integer(info.params.timeout_s));
    bad |= json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)info.elapsed_ms));
    if (info.status == MIG_COMPLETED) {
        bad |= json_object_set_new(o, "downtime_ms", json_integer((json_int_t)info.downtime_ms));
        bad |= json_object_set_new(o, "total_ms", json_integer((json_int_t)info.total_ms));
    }
    if (info.error[0])
        bad |= json_object_set_new(o, "error", json_string(info.error));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
