// SPDX-License-Identifier: Apache-2.0
/*
 * The source's migration thread: connect, offer the header, pre-copy RAM in
 * passes under the bandwidth cap until what is left fits the downtime
 * budget (throttling the vCPUs if asked), then pause, quiesce the devices
 * and flush the disks, send the last pages and the state, and hand the VM
 * over with READY / COMMIT / RUNNING. Until COMMIT is sent any failure
 * resumes the VM exactly as it was; after it, only the destination may run
 * it (docs/migration.md, "Failure semantics").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <zstd.h>

#include "core/vm.h"
#include "migration/converge.h"
#include "migration/dirty.h"
#include "migration/migration.h"
#include "migration/sock.h"
#include "migration/stream.h"
#include "snapshot/snapshot.h"
#include "source.h"
#include "util/log.h"
#include "util/page_scan.h"

#define MIB (1024.0 * 1024.0)
/* A pass shorter than this waits, so the dirty rate is measured over a useful interval. */
#define MIN_PASS_NS 20000000ull
/* How long a completed source waits for GET /migrate to see "completed" before it exits. */
#define FINAL_REPORT_NS 2000000000ull
/* zstd's fastest positive level: one message of pages at a time, on the copy's own thread. */
#define ZSTD_LEVEL 1
/* A batch goes compressed only when that saves at least 1/ZSTD_MIN_SAVING of it. */
#define ZSTD_MIN_SAVING 8

struct send_ctx {
    struct mig_source *s;
    struct vm *vm;
    struct mig_sock sock;
    struct mig_writer w;
    struct mig_reader r;
    struct mig_dirty dirty;
    bool dirty_on;
    uint64_t nr_pages;
    uint64_t *bits;
    uint8_t *buf;
    ZSTD_CCtx *cctx;            /* set when the destination took MIG_FEATURE_ZSTD */
    bool iter_ack;              /* the destination took MIG_FEATURE_ITER_ACK */
    uint8_t *zbuf;
    size_t zcap;
    uint64_t page_bytes, page_wire_bytes;
    uint64_t saved;             /* bytes compression kept off the wire (bandwidth counts them) */
    uint8_t *touched;           /* first pass only: touched pages of guest RAM, or NULL */
    struct mig_bucket bucket;
    double bandwidth;           /* bytes/s, measured (and capped) */
    double dirty_rate;          /* bytes/s */
    uint64_t pages_sent, zero_pages;
    uint32_t iteration;
    unsigned throttle;
    char err[400];
};

static bool cancelled(const struct send_ctx *c)
{
    return __atomic_load_n(&c->s->cancel, __ATOMIC_ACQUIRE);
}

static void publish(struct send_ctx *c, const char *phase, uint64_t remaining_pages, bool converging)
{
    struct mig_info *i = &c->s->info;
    pthread_mutex_lock(&c->s->lock);
    if (phase)
        snprintf(i->phase, sizeof(i->phase), "%s", phase);
    i->iteration = c->iteration;
    i->bytes_sent = c->w.bytes;
    i->bytes_remaining = remaining_pages * MIG_PAGE_SIZE;
    i->pages_sent = c->pages_sent;
    i->zero_pages = c->zero_pages;
    i->compressing = c->cctx != NULL;
    i->page_bytes = c->page_bytes;
    i->page_wire_bytes = c->page_wire_bytes;
    i->dirty_rate_mib_s = c->dirty_rate / MIB;
    i->bandwidth_mib_s = c->bandwidth / MIB;
    uint64_t exp = mig_expected_downtime_ms(remaining_pages * MIG_PAGE_SIZE, c->bandwidth);
    i->expected_downtime_ms = exp == UINT64_MAX ? 0 : exp;
    i->converging = converging;
    i->throttle_percent = c->throttle;
    pthread_mutex_unlock(&c->s->lock);
}

/*
 * A destination that gives up sends ERROR and keeps reading until we close,
 * so its reason reaches us; it is checked for between messages. Returns 0
 * while nothing came, else fills c->err.
 */
static int check_peer(struct send_ctx *c, int wait_ms)
{
    struct pollfd pfd = { .fd = c->sock.fd, .events = POLLIN };
    if (poll(&pfd, 1, wait_ms) <= 0)
        return 0;
    struct mig_msg m;
    char why[300];
    int saved = c->sock.timeout_ms;
    c->sock.timeout_ms = 2000;
    int ret = mig_read_msg(&c->r, &m, why, sizeof(why));
    c->sock.timeout_ms = saved;
    if (ret) {
        snprintf(c->err, sizeof(c->err), "the destination closed the connection (%s)", why);
        return -ECONNRESET;
    }
    if (m.type == MIG_MSG_ERROR) {
        char text[MIG_ERROR_MAX + 1];
        mig_error_text(&m, text, sizeof(text));
        snprintf(c->err, sizeof(c->err), "the destination refused the migration: %.340s", text);
        return -ECONNREFUSED;
    }
    snprintf(c->err, sizeof(c->err), "the destination sent %s during the copy", mig_msg_name(m.type));
    return -EPROTO;
}

/* After a failed send: the destination's ERROR, if it sent one, says more than EPIPE. */
static int send_failed(struct send_ctx *c, int ret)
{
    if (ret == -EPIPE || ret == -ECONNRESET)
        check_peer(c, 1000);
    return ret;
}

/* Waits out the bandwidth cap in short sleeps, so a cancel is seen at once. */
static int pace(struct send_ctx *c, uint64_t bytes)
{
    uint64_t wait = mig_bucket_spend(&c->bucket, bytes, mig_now_ns());
    while (wait) {
        if (cancelled(c))
            return -ECANCELED;
        uint64_t step = wait < 20000000ull ? wait : 20000000ull;
        struct timespec ts = { 0, (long)step };
        nanosleep(&ts, NULL);
        wait -= step;
    }
    return 0;
}

static bool page_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < MIG_PAGE_SIZE / 8; i++)
        if (__atomic_load_n(&w[i], __ATOMIC_RELAXED))
            return false;
    return true;
}

/*
 * The first pass over a mostly empty guest would read every untouched page
 * (mapping the zero page into each): anonymous RAM that the pagemap shows
 * neither present nor swapped out has never been written, so it is zero
 * without a look. Not for a restored VM's file-backed RAM, whose untouched
 * pages live in its snapshot file. NULL (read every page) if the scan fails.
 */
static uint8_t *touched_map(const struct guest_mem *mem)
{
    if (mem->file_backed)
        return NULL;
    uint8_t *vec = malloc(mem->mapping_size / MIG_PAGE_SIZE);
    if (!vec)
        return NULL;
    struct page_scan ps;
    page_scan_open(&ps);
    if (page_scan_touched(&ps, mem->mapping, mem->mapping_size, vec) < 0) {
        free(vec);
        vec = NULL;
    }
    page_scan_close(&ps);
    return vec;
}

static bool page_is_zero(const struct send_ctx *c, const uint8_t *base, uint64_t p)
{
    if (c->touched && !c->touched[p])
        return true;
    return page_zero(base + p * MIG_PAGE_SIZE);
}

static bool bit(const uint64_t *bits, uint64_t p)
{
    return bits[p / 64] >> (p % 64) & 1;
}

/*
 * One batch of data pages from c->buf: a zstd frame when the destination
 * takes them and it saves enough, else the pages as they are.
 */
static int send_data(struct send_ctx *c, uint64_t gpa, uint64_t n)
{
    struct mig_pages_head ph = { .gpa = gpa, .count = (uint32_t)n };
    size_t len = n * MIG_PAGE_SIZE;
    int ret;
    c->pages_sent += n;
    c->page_bytes += len;
    if (c->cctx) {
        size_t z = ZSTD_compressCCtx(c->cctx, c->zbuf, c->zcap, c->buf, len, ZSTD_LEVEL);
        if (!ZSTD_isError(z) && z <= len - len / ZSTD_MIN_SAVING) {
            ret = mig_write_msg(&c->w, MIG_MSG_PAGES_ZSTD, &ph, sizeof(ph), c->zbuf, z);
            c->page_wire_bytes += z;
            c->saved += len - z;
            return ret;
        }
    }
    ret = mig_write_msg(&c->w, MIG_MSG_PAGES, &ph, sizeof(ph), c->buf, len);
    c->page_wire_bytes += len;
    return ret;
}

/*
 * Sends every page set in c->bits and clears them. Data is copied out of
 * guest RAM before its checksum is taken: the guest keeps writing, and a
 * page it changes meanwhile is dirty again and goes in the next pass.
 */
static int send_pages(struct send_ctx *c)
{
    const struct guest_mem *mem = &c->vm->mem;
    const uint8_t *base = mem->mapping;
    uint64_t p = 0, since_publish = 0;
    while (p < c->nr_pages) {
        if (!c->bits[p / 64]) {
            p = (p / 64 + 1) * 64;
            continue;
        }
        if (!bit(c->bits, p)) {
            p++;
            continue;
        }
        if (cancelled(c))
            return -ECANCELED;
        uint64_t gpa = mig_page_gpa(mem, p);
        bool zero = page_is_zero(c, base, p);
        uint64_t n = 1;
        /* A run: dirty, contiguous in guest-physical space, all zero or all data. */
        while (p + n < c->nr_pages && bit(c->bits, p + n) &&
               mig_page_gpa(mem, p + n) == gpa + n * MIG_PAGE_SIZE &&
               (zero || n < MIG_PAGES_PER_MSG) &&
               page_is_zero(c, base, p + n) == zero)
            n++;
        uint64_t before = c->w.bytes;
        int ret;
        if (zero) {
            struct mig_zero z = { .gpa = gpa, .count = n };
            ret = mig_write_msg(&c->w, MIG_MSG_ZERO, &z, sizeof(z), NULL, 0);
            c->zero_pages += n;
        } else {
            memcpy(c->buf, base + p * MIG_PAGE_SIZE, n * MIG_PAGE_SIZE);
            ret = send_data(c, gpa, n);
        }
        if (ret)
            return send_failed(c, ret);
        for (uint64_t i = 0; i < n; i++)
            c->bits[(p + i) / 64] &= ~(1ull << ((p + i) % 64));
        p += n;
        ret = pace(c, c->w.bytes - before);
        if (ret)
            return ret;
        if (++since_publish == 64) {
            since_publish = 0;
            ret = check_peer(c, 0);
            if (ret)
                return ret;
            pthread_mutex_lock(&c->s->lock);
            c->s->info.bytes_sent = c->w.bytes;
            c->s->info.pages_sent = c->pages_sent;
            c->s->info.zero_pages = c->zero_pages;
            c->s->info.page_bytes = c->page_bytes;
            c->s->info.page_wire_bytes = c->page_wire_bytes;
            pthread_mutex_unlock(&c->s->lock);
        }
    }
    return 0;
}

static int expect_msg_into(struct send_ctx *c, uint32_t type, const char *waiting_for,
                           struct mig_msg *out);

/* One pass: the pages in c->bits, then ITER; measures the link over it. */
static int send_pass(struct send_ctx *c, uint64_t pages)
{
    /* Bytes as the pages would have taken raw: what the downtime estimate divides. */
    uint64_t t0 = mig_now_ns(), b0 = c->w.bytes + c->saved;
    c->iteration++;
    int ret = send_pages(c);
    if (ret)
        return ret;
    struct mig_iter it = { .iteration = c->iteration, .pages = pages };
    ret = mig_write_msg(&c->w, MIG_MSG_ITER, &it, sizeof(it), NULL, 0);
    if (!ret && !c->iter_ack)
        ret = check_peer(c, 0);
    if (ret)
        return send_failed(c, ret);
    if (c->iter_ack) {
        /* The pass counts as done once the destination has applied it. */
        struct mig_msg m;
        ret = expect_msg_into(c, MIG_MSG_ITER, "waiting for the destination to apply a pass", &m);
        if (ret)
            return ret;
        struct mig_iter echo;
        memcpy(&echo, m.payload, sizeof(echo));
        if (echo.iteration != it.iteration) {
            snprintf(c->err, sizeof(c->err), "the destination acknowledged pass %u after pass %u",
                     echo.iteration, it.iteration);
            return -EPROTO;
        }
    }
    uint64_t bytes = c->w.bytes + c->saved - b0, ns = mig_now_ns() - t0;
    /*
     * A pass of a few pages measures latency, not bandwidth: it only counts
     * while there is no better figure (a low one errs on the safe side).
     */
    if (bytes >= (1u << 20) || c->bandwidth <= 0)
        c->bandwidth = mig_ewma(bytes >= (1u << 20) ? c->bandwidth : 0, mig_rate(bytes, ns));
    /* Compressed, more than the cap's worth of pages may pass. */
    if (c->bucket.rate > 0 && (c->bandwidth <= 0 || (c->bandwidth > c->bucket.rate && !c->cctx)))
        c->bandwidth = c->bucket.rate;
    return 0;
}

/* Reads one message and insists on `type`; an ERROR carries the peer's reason. */
static int expect_msg_into(struct send_ctx *c, uint32_t type, const char *waiting_for,
                           struct mig_msg *out)
{
    struct mig_msg m;
    char why[300];
    int ret = mig_read_msg(&c->r, &m, why, sizeof(why));
    if (ret) {
        snprintf(c->err, sizeof(c->err), "%s: %s", waiting_for,
                 ret == -ETIMEDOUT ? "the destination stopped answering" : why);
        return ret;
    }
    if (m.type == MIG_MSG_ERROR) {
        char text[MIG_ERROR_MAX + 1];
        mig_error_text(&m, text, sizeof(text));
        snprintf(c->err, sizeof(c->err), "the destination refused the migration: %.340s", text);
        return -ECONNREFUSED;
    }
    if (m.type != type) {
        snprintf(c->err, sizeof(c->err), "%s: the destination sent %s", waiting_for,
                 mig_msg_name(m.type));
        return -EPROTO;
    }
    if (out)
        *out = m;
    return 0;
}

static int expect_msg(struct send_ctx *c, uint32_t type, const char *waiting_for)
{
    return expect_msg_into(c, type, waiting_for, NULL);
}

/* What the destination's ACCEPT took of what we offered: zstd needs its buffers. */
static int take_features(struct send_ctx *c, const struct mig_msg *m, uint32_t offered)
{
    if (m->length == 0)
        return 0;           /* a destination from before features: none */
    struct mig_accept a;
    memcpy(&a, m->payload, sizeof(a));
    c->iter_ack = a.features & MIG_FEATURE_ITER_ACK;
    if ((a.features & ~offered) || a.reserved) {
        snprintf(c->err, sizeof(c->err), "the destination accepted features 0x%x that were not "
                 "offered (0x%x)", a.features, offered);
        return -EPROTO;
    }
    if (a.features & MIG_FEATURE_ZSTD) {
        c->zcap = MIG_PAGES_PER_MSG * MIG_PAGE_SIZE;
        c->zbuf = malloc(c->zcap);
        c->cctx = ZSTD_createCCtx();
        if (!c->zbuf || !c->cctx) {
            snprintf(c->err, sizeof(c->err), "out of memory for compression");
            return -ENOMEM;
        }
    }
    return 0;
}

static void io_error(struct send_ctx *c, int ret, const char *what)
{
    if (c->err[0])
        return;
    if (ret == -ECANCELED)
        snprintf(c->err, sizeof(c->err), "cancelled");
    else if (ret == -ETIMEDOUT)
        snprintf(c->err, sizeof(c->err), "%s: the destination made no progress for %d s (link down?)",
                 what, MIG_IO_TIMEOUT_MS / 1000);
    else
        snprintf(c->err, sizeof(c->err), "%s: %s", what, strerror(-ret));
}

static int handshake(struct send_ctx *c, const struct mig_addr *addr)
{
    int ret = mig_connect(&c->sock, addr, c->err, sizeof(c->err));
    if (ret)
        return ret;
    struct vm *vm = c->vm;
    struct mig_vm_shape shape = {
        .nr_vcpus = vm->nr_vcpus, .memory_size = vm->mem.ram_size,
        .nr_disks = vm->cfg->nr_disks, .nr_nets = vm->cfg->nr_nets,
        .rng = vm->cfg->rng, .balloon = vm->cfg->balloon,
    };
    struct mig_header h;
    uint32_t offered = MIG_FEATURE_ITER_ACK | (c->s->info.params.no_compress ? 0 : MIG_FEATURE_ZSTD);
    mig_header_build(&h, &shape, offered);
    ret = c->w.write(c->w.opaque, &h, sizeof(h));
    if (ret) {
        io_error(c, ret, "sending the stream header");
        return ret;
    }
    c->w.bytes += sizeof(h);
    struct mig_msg m;
    ret = expect_msg_into(c, MIG_MSG_ACCEPT, "waiting for the destination to accept", &m);
    return ret ? ret : take_features(c, &m, offered);
}

/*
 * Pre-copy passes until the rest fits the downtime budget and stops
 * shrinking (mig_should_switch); 0 means switch over now.
 */
static int precopy(struct send_ctx *c)
{
    const struct mig_params *p = &c->s->info.params;
    int ret = mig_dirty_start(&c->dirty, c->vm->vm_fd, &c->vm->mem, c->err, sizeof(c->err));
    if (ret)
        return ret;
    c->dirty_on = true;
    /* The first pass is all of RAM. */
    for (uint64_t w = 0; w < mig_bitmap_words(c->nr_pages); w++)
        c->bits[w] = ~0ull;
    if (c->nr_pages % 64)
        c->bits[c->nr_pages / 64] = (1ull << (c->nr_pages % 64)) - 1;
    publish(c, "precopy", c->nr_pages, true);
    uint64_t last_sync = mig_now_ns(), t_start = last_sync;
    /* After logging started: a page written after this look is dirty and goes again. */
    c->touched = touched_map(&c->vm->mem);
    ret = send_pass(c, c->nr_pages);
    free(c->touched);
    c->touched = NULL;
    uint64_t prev_remaining = 0;
    struct mig_settle settle = { 0 };
    while (!ret) {
        uint64_t pass_ns = mig_now_ns() - last_sync;
        if (pass_ns < MIN_PASS_NS) {
            struct timespec ts = { 0, (long)(MIN_PASS_NS - pass_ns) };
            nanosleep(&ts, NULL);
        }
        uint64_t count;
        ret = mig_dirty_sync(&c->dirty, c->bits, &count, c->err, sizeof(c->err));
        if (ret)
            return ret;
        uint64_t now = mig_now_ns();
        c->dirty_rate = mig_ewma(c->dirty_rate, mig_rate(count * MIG_PAGE_SIZE, now - last_sync));
        last_sync = now;
        uint64_t remaining = count * MIG_PAGE_SIZE, before = prev_remaining;
        /* The first pass (all of RAM) says nothing about the guest's working set. */
        bool stalled = c->iteration > 1 && mig_remaining_stalled(prev_remaining, remaining);
        prev_remaining = remaining;
        bool converging = mig_is_converging(c->dirty_rate, c->bandwidth) && !stalled;
        publish(c, NULL, count, converging);
        uint64_t previous = c->iteration > 1 ? before : 0;
        if (mig_should_switch(&settle, previous, remaining, c->bandwidth, p->max_downtime_ms,
                              now - t_start))
            return 0;
        bool timed_out = p->timeout_s &&
                         now - c->s->started_ns > (uint64_t)p->timeout_s * 1000000000ull;
        if (mig_fits_downtime(remaining, c->bandwidth, p->max_downtime_ms)) {
            /* Settling towards a smaller remainder; a deadline reached meanwhile ends it. */
            if (timed_out)
                return 0;
            ret = send_pass(c, count);
            continue;
        }
        if (!converging && p->auto_converge && c->throttle < MIG_THROTTLE_MAX) {
            c->throttle = mig_throttle_next(c->throttle);
            if (mig_throttle_set(c->s, c->throttle))
                log_warn("migrate", "cannot start the vCPU throttle thread");
            log_info("migrate", "guest dirties %.1f MiB/s, link %.1f MiB/s: vCPUs throttled by "
                     "%u%%", c->dirty_rate / MIB, c->bandwidth / MIB, c->throttle);
            publish(c, NULL, count, converging);
        }
        if (timed_out) {
            snprintf(c->err, sizeof(c->err), "did not converge within %u s: the guest dirties "
                     "%.1f MiB/s, the link carries %.1f MiB/s, %llu MiB left (budget %u ms)",
                     p->timeout_s, c->dirty_rate / MIB, c->bandwidth / MIB,
                     (unsigned long long)(remaining >> 20), p->max_downtime_ms);
            return -ETIME;
        }
        ret = send_pass(c, count);
    }
    return ret;
}

/* A growable memory sink for the state container. */
struct membuf {
    uint8_t *data;
    size_t len, cap;
};

static int membuf_sink(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    if (len > MIG_STATE_MAX || m->len + len > MIG_STATE_MAX)
        return -EFBIG;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + len)
            cap *= 2;
        uint8_t *d = realloc(m->data, cap);
        if (!d)
            return -ENOMEM;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

enum switch_result { SWITCH_DONE, SWITCH_RESUMED, SWITCH_UNKNOWN };

/*
 * Stop-and-copy. Returns SWITCH_RESUMED when it failed before COMMIT (the VM
 * runs again), SWITCH_UNKNOWN when COMMIT went out but RUNNING never came.
 */
static enum switch_result switchover(struct send_ctx *c, uint64_t *downtime_ns)
{
    struct vm *vm = c->vm;
    uint64_t t_pause = mig_now_ns();
    int ret = vm_pause(vm);
    uint64_t t_paused = mig_now_ns(), t_quiesced = 0, t_sent = 0, t_state = 0, t_ready = 0;
    if (ret) {
        snprintf(c->err, sizeof(c->err), "cannot pause the VM: %s",
                 ret == -ESHUTDOWN ? "it is stopping" : strerror(-ret));
        return SWITCH_RESUMED;
    }
    publish(c, "switchover", 0, true);
    unsigned quiesced = 0;
    struct membuf state = { 0 };
    ret = snapshot_quiesce(vm, &quiesced, c->err, sizeof(c->err));
    t_quiesced = mig_now_ns();
    uint64_t count = 0;
    if (!ret)
        ret = mig_dirty_sync(&c->dirty, c->bits, &count, c->err, sizeof(c->err));
    if (!ret) {
        publish(c, NULL, count, true);
        ret = send_pass(c, count);
        io_error(c, ret, "sending the last pages");
        t_sent = mig_now_ns();
    }
    if (!ret) {
        struct snap_writer sw;
        snap_writer_init(&sw, membuf_sink, &state);
        ret = snapshot_write_state(vm, &sw, NULL, c->err, sizeof(c->err));
    }
    /*
     * The disks are flushed: their locks go before the state does, and the
     * destination takes them before READY.
     */
    bool unlocked = false;
    if (!ret) {
        ret = mig_disks_set_locked(vm, false, c->err, sizeof(c->err));
        unlocked = !ret;
    }
    if (!ret) {
        ret = mig_write_msg(&c->w, MIG_MSG_STATE, state.data, state.len, NULL, 0);
        if (ret)
            send_failed(c, ret);
        io_error(c, ret, "sending the device state");
        t_state = mig_now_ns();
    }
    free(state.data);
    publish(c, NULL, 0, true);
    if (!ret)
        ret = expect_msg(c, MIG_MSG_READY, "waiting for the destination to load the state");
    t_ready = mig_now_ns();
    /* The last moment to change our mind: a cancel after this is too late. */
    if (!ret && cancelled(c)) {
        io_error(c, -ECANCELED, "");
        ret = -ECANCELED;
    }
    if (!ret) {
        ret = mig_write_msg(&c->w, MIG_MSG_COMMIT, NULL, 0, NULL, 0);
        io_error(c, ret, "sending COMMIT");
    }
    if (ret) {
        char why[200];
        if (unlocked && mig_disks_relock(vm, why, sizeof(why)))
            log_warn("migrate", "%s; the VM resumes without that lock", why);
        snapshot_unquiesce(vm, quiesced);
        int r2 = vm_resume(vm);
        if (r2 && r2 != -ESHUTDOWN)
            log_warn("migrate", "cannot resume the VM after the failed migration: %s", strerror(-r2));
        return SWITCH_RESUMED;
    }
    /* COMMIT is out: only the destination may run the VM from here on. */
    c->sock.cancel = NULL;
    ret = expect_msg(c, MIG_MSG_RUNNING, "waiting for the destination to run the VM");
    if (ret) {
        char why[sizeof(c->err)];
        snprintf(why, sizeof(why), "%s", c->err);
        snprintf(c->err, sizeof(c->err), "outcome unknown after COMMIT (%.150s): the destination may "
                 "be running the VM, so it stays paused here; if the destination is not running "
                 "it, resume this one (PUT /vm/state Running)", why);
        pthread_mutex_lock(&c->s->lock);
        c->s->disks_released = true;
        pthread_mutex_unlock(&c->s->lock);
        return SWITCH_UNKNOWN;
    }
    uint64_t t_running = mig_now_ns();
    *downtime_ns = t_running - t_pause;
    log_info("migrate", "switch-over: pause %.1f ms, quiesce and flush %.1f ms, last %llu pages "
             "%.1f ms, state %.1f ms, destination load %.1f ms, commit %.1f ms",
             (double)(t_paused - t_pause) / 1e6, (double)(t_quiesced - t_paused) / 1e6,
             (unsigned long long)count, (double)(t_sent - t_quiesced) / 1e6,
             (double)(t_state - t_sent) / 1e6, (double)(t_ready - t_state) / 1e6,
             (double)(t_running - t_ready) / 1e6);
    return SWITCH_DONE;
}

static void finish(struct send_ctx *c, enum mig_status status, uint64_t downtime_ns)
{
    struct mig_source *s = c->s;
    pthread_mutex_lock(&s->lock);
    s->info.status = status;
    snprintf(s->info.phase, sizeof(s->info.phase), "done");
    s->info.bytes_sent = c->w.bytes;
    s->info.pages_sent = c->pages_sent;
    s->info.zero_pages = c->zero_pages;
    s->info.page_bytes = c->page_bytes;
    s->info.page_wire_bytes = c->page_wire_bytes;
    s->info.compressing = c->cctx != NULL;
    s->info.throttle_percent = 0;
    s->info.elapsed_ms = (mig_now_ns() - s->started_ns) / 1000000;
    if (status == MIG_COMPLETED) {
        s->info.downtime_ms = downtime_ns / 1000000;
        s->info.total_ms = s->info.elapsed_ms;
        s->info.bytes_remaining = 0;
        s->info.error[0] = '\0';
    } else {
        snprintf(s->info.error, sizeof(s->info.error), "%s", c->err[0] ? c->err : "failed");
    }
    pthread_mutex_unlock(&s->lock);
}

void *mig_send_thread(void *arg)
{
    struct mig_source *s = arg;
    struct send_ctx c = { .s = s, .vm = s->vm, .sock = { .fd = -1, .timeout_ms = MIG_IO_TIMEOUT_MS,
                                                         .cancel = &s->cancel } };
    c.w = (struct mig_writer){ .write = mig_sock_write, .opaque = &c.sock };
    mig_reader_init(&c.r, mig_sock_read, &c.sock);
    const struct mig_params *p = &s->info.params;   /* fixed while active */
    c.nr_pages = c.vm->mem.mapping_size / MIG_PAGE_SIZE;
    c.bits = calloc(mig_bitmap_words(c.nr_pages), sizeof(uint64_t));
    c.buf = malloc(MIG_PAGES_PER_MSG * MIG_PAGE_SIZE);
    mig_bucket_init(&c.bucket, (double)p->bandwidth_mib_s * MIB, mig_now_ns());
    c.bandwidth = c.bucket.rate;
    enum mig_status status = MIG_FAILED;
    uint64_t downtime_ns = 0;
    struct mig_addr addr;
    int ret = c.bits && c.buf ? 0 : -ENOMEM;
    if (ret)
        snprintf(c.err, sizeof(c.err), "out of memory");
    if (!ret)
        ret = mig_parse_url(p->url, &addr, c.err, sizeof(c.err));
    if (!ret)
        ret = handshake(&c, &addr);
    if (!ret) {
        ret = precopy(&c);
        io_error(&c, ret, "sending RAM");
    }
    /* Before the pause: a throttled vCPU must not sleep through it, and the rate is spent. */
    mig_throttle_stop(s);
    c.throttle = 0;
    enum switch_result sr = SWITCH_RESUMED;
    if (!ret) {
        sr = switchover(&c, &downtime_ns);
        if (sr == SWITCH_DONE)
            status = MIG_COMPLETED;
    }
    if (status != MIG_COMPLETED && cancelled(&c) && sr != SWITCH_UNKNOWN) {
        status = MIG_CANCELLED;
        snprintf(c.err, sizeof(c.err), "cancelled");
    }
    if (c.dirty_on)
        mig_dirty_stop(&c.dirty);
    /* Tell a destination still listening why, so it exits with the reason. */
    if (status != MIG_COMPLETED && sr != SWITCH_UNKNOWN && c.sock.fd >= 0) {
        c.sock.cancel = NULL;
        c.sock.timeout_ms = 1000;
        int r2 = mig_write_error(&c.w, c.err);
        (void)r2;
    }
    mig_sock_close(&c.sock);
    mig_reader_free(&c.r);
    free(c.bits);
    free(c.buf);
    free(c.zbuf);
    ZSTD_freeCCtx(c.cctx);
    finish(&c, status, downtime_ns);
    if (status == MIG_COMPLETED) {
        log_notice("migrate", "migrated to %s: downtime %llu ms, total %llu ms, %llu MiB sent",
                   p->url, (unsigned long long)(downtime_ns / 1000000),
                   (unsigned long long)s->info.total_ms, (unsigned long long)(c.w.bytes >> 20));
        /* Let a watching client see the outcome before this process goes away. */
        uint64_t until = mig_now_ns() + FINAL_REPORT_NS;
        while (!__atomic_load_n(&s->final_seen, __ATOMIC_ACQUIRE) && mig_now_ns() < until &&
               !__atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE)) {
            struct timespec ts = { 0, 20000000 };
            nanosleep(&ts, NULL);
        }
        vm_request_stop(c.vm, VM_EXIT_MIGRATED, "migrated to %s", p->url);
    } else {
        log_warn("migrate", "migration to %s %s: %s", p->url, mig_status_name(status), c.err);
    }
    return NULL;
}
