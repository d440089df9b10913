// SPDX-License-Identifier: Apache-2.0
/*
 * The API's balloon actions: describe the virtio-balloon (target, actual,
 * the guest's memory statistics under readable names), set its target and
 * its statistics polling. The guest-RAM limit is checked here, because the
 * device cannot know the RAM size before its driver is up (docs/balloon.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/actions.h"
#include "core/vm_config.h"
#include "util/compiler.h"
#include "util/size.h"
#include "virtio/balloon.h"

/* JSON names of the statistics tags, the ones other VMMs' APIs use where they have one. */
static const char *const balloon_stat_names[BALLOON_NR_STATS] = {
    [BALLOON_S_SWAP_IN] = "swap_in",
    [BALLOON_S_SWAP_OUT] = "swap_out",
    [BALLOON_S_MAJFLT] = "major_faults",
    [BALLOON_S_MINFLT] = "minor_faults",
    [BALLOON_S_MEMFREE] = "free_memory",
    [BALLOON_S_MEMTOT] = "total_memory",
    [BALLOON_S_AVAIL] = "available_memory",
    [BALLOON_S_CACHES] = "disk_caches",
    [BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
    [BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
    [BALLOON_S_OOM_KILL] = "oom_kills",
    [BALLOON_S_ALLOC_STALL] = "alloc_stalls",
    [BALLOON_S_ASYNC_SCAN] = "async_scans",
    [BALLOON_S_DIRECT_SCAN] = "direct_scans",
    [BALLOON_S_ASYNC_RECLAIM] = "async_reclaims",
    [BALLOON_S_DIRECT_RECLAIM] = "direct_reclaims",
};

static int no_balloon(char *err, size_t errlen)
{
    snprintf(err, errlen, "this VM has no balloon device (start it with --balloon)");
    return -ENODEV;
}

/* Whether the VM has a balloon: a NULL op and -ENODEV both say no. */
static bool has_balloon(struct api_ctx *ctx)
{
    struct balloon_info info;
    return ctx->ops->balloon_info && ctx->ops->balloon_info(ctx->vm, &info) != -ENODEV;
}

/* "512M", or "123 bytes" when the size has no exact unit. */
static void size_text(uint64_t bytes, char *buf, size_t len)
{
    char s[32];
    size_format(bytes, s, sizeof(s));
    size_t n = strlen(s);
    snprintf(buf, len, "%s%s", s, n && s[n - 1] >= '0' && s[n - 1] <= '9' ? " bytes" : "");
}

/* RFC 3339 in UTC with milliseconds, from CLOCK_REALTIME nanoseconds. */
static json_t *timestamp(uint64_t ns)
{
    if (!ns)
        return json_null();
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    char buf[40];
    if (!gmtime_r(&secs, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
        return json_null();
    size_t n = strlen(buf);
    snprintf(buf + n, sizeof(buf) - n, ".%03uZ", (unsigned)(ns % 1000000000u / 1000000u));
    return json_string(buf);
}

static json_t *describe_stats(const struct balloon_info *info)
{
    json_t *stats = json_object();
    for (unsigned tag = 0; stats && tag < BALLOON_NR_STATS; tag++) {
        if (!(info->stats_valid & (1u << tag)))
            continue;
        if (json_object_set_new(stats, balloon_stat_names[tag],
                                json_integer((json_int_t)info->stats[tag]))) {
            json_decref(stats);
            return NULL;
        }
    }
    return stats;
}

/* JSON integers are signed: a counter past 2^63 (never in practice) is clamped, not negative. */
static json_int_t jint(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v;
}

int api_action_balloon_describe(struct api_ctx *ctx, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    struct balloon_info info;
    memset(&info, 0, sizeof(info));
    int ret = ctx->ops->balloon_info ? ctx->ops->balloon_info(ctx->vm, &info) : -ENODEV;
    if (ret == -ENODEV)
        return no_balloon(err, errlen);
    if (ret < 0) {
        snprintf(err, errlen, "cannot read the balloon: %s", strerror(-ret));
        return ret;
    }
    json_t *stats = describe_stats(&info);
    json_t *updated = timestamp(info.stats_updated_at);
    json_t *features = json_pack("{s:b, s:b, s:b}", "stats", info.stats_enabled, "deflate_on_oom",
                                 info.deflate_on_oom, "free_page_reporting",
                                 info.reporting_enabled);
    json_t *counters = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I}", "inflated_bytes",
        jint(info.inflated_pages << BALLOON_PAGE_SHIFT), "deflated_bytes",
        jint(info.deflated_pages << BALLOON_PAGE_SHIFT), "reported_bytes",
        jint(info.reported_bytes), "invalid_pfns", jint(info.invalid_pfns), "madvise_errors",
        jint(info.madvise_errors), "bad_stats_buffers", jint(info.bad_stats_buffers));
    if (!stats || !updated || !features || !counters) {
        json_decref(stats);
        json_decref(updated);
        json_decref(features);
        json_decref(counters);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* "o" steals the objects, also when packing fails. */
    *out = json_pack("{s:I, s:I, s:I, s:b, s:o, s:I, s:o, s:o, s:o}", "target_bytes",
                     jint(info.target_bytes), "actual_bytes", jint(info.actual_bytes),
                     "guest_ram_bytes", jint(ctx->ops->config(ctx->vm)->memory), "driver_active",
                     info.active, "features", features, "stats_interval_s",
                     (json_int_t)ctx->balloon_stats_interval_s, "stats", stats,
                     "stats_updated_at", updated, "counters", counters);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int api_action_balloon_set_target(struct api_ctx *ctx, uint64_t bytes, char *err, size_t errlen)
{
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    if (!ctx->ops->balloon_set_target || !has_balloon(ctx))
        return no_balloon(err, errlen);
    if (ctx->ops->state(ctx->vm) == API_VM_STOPPING) {
        snprintf(err, errlen, "the VM is stopping");
        return -ESHUTDOWN;
    }
    uint64_t ram = ctx->ops->config(ctx->vm)->memory;
    if (bytes > ram) {
        char want[48], have[48];
        size_text(bytes, want, sizeof(want));
        size_text(ram, have, sizeof(have));
        snprintf(err, errlen, "target %s is more than the guest's RAM (%s)", want, have);
        return -EINVAL;
    }
    int ret = ctx->ops->balloon_set_target(ctx->vm, bytes);
    if (ret == -ENODEV)
        return no_balloon(err, errlen);
    if (ret < 0)
        snprintf(err, errlen, "cannot set the balloon target: %s", strerror(-ret));
    return ret;
}

int api_action_balloon_set_stats_interval(struct api_ctx *ctx, unsigned seconds, char *err,
                                          size_t errlen)
{
    if (api_require_started(ctx, err, errlen))
        return -EBUSY;
    if (!ctx->ops->balloon_set_stats_interval || !has_balloon(ctx))
        return no_balloon(err, errlen);
    if (seconds > API_BALLOON_MAX_STATS_INTERVAL_S) {
        snprintf(err, errlen, "field 'interval_s' must be at most %d",
                 API_BALLOON_MAX_STATS_INTERVAL_S);
        return -EINVAL;
    }
    if (ctx->ops->state(ctx->vm) == API_VM_STOPPING) {
        snprintf(err, errlen, "the VM is stopping");
        return -ESHUTDOWN;
    }
    int ret = ctx->ops->balloon_set_stats_interval(ctx->vm, seconds);
    if (ret == -ENODEV)
        return no_balloon(err, errlen);
    if (ret < 0) {
        snprintf(err, errlen, "cannot set the statistics interval: %s", strerror(-ret));
        return ret;
    }
    ctx->balloon_stats_interval_s = seconds;
    return 0;
}
