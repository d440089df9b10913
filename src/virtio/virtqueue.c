// SPDX-License-Identifier: Apache-2.0
/*
 * Split virtqueue, device side. The rings are shared with a driver running
 * concurrently on other CPUs and possibly hostile, so: every ring field is
 * read once into a local and validated there; descriptors are copied out
 * whole before they are looked at; ring indices are loaded with acquire and
 * published with release ordering; and the first rule the driver breaks
 * turns the queue off for good (see docs/virtqueue.md).
 */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

#define DESC_SIZE 16u

/* Guest layout of one descriptor (little-endian; x86 hosts only). */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == DESC_SIZE, "descriptor layout");

/* Byte offsets inside the rings. */
#define AVAIL_FLAGS       0u
#define AVAIL_IDX         2u
#define AVAIL_RING(i)     (4u + 2u * (uint32_t)(i))
#define USED_FLAGS        0u
#define USED_IDX          2u
#define USED_RING(i)      (4u + 8u * (uint32_t)(i))

static uint64_t desc_table_bytes(uint32_t size) { return (uint64_t)DESC_SIZE * size; }
static uint64_t avail_ring_bytes(uint32_t size) { return 6u + 2ull * size; }
static uint64_t used_ring_bytes(uint32_t size)  { return 6u + 8ull * size; }

static uint16_t *ring16(uint8_t *ring, uint32_t off) { return (uint16_t *)(void *)(ring + off); }
static uint32_t *ring32(uint8_t *ring, uint32_t off) { return (uint32_t *)(void *)(ring + off); }

/* used_event sits after the avail ring entries, avail_event after the used ones. */
static uint16_t *used_event_field(const struct virtq *vq) { return ring16(vq->avail, AVAIL_RING(vq->size)); }
static uint16_t *avail_event_field(const struct virtq *vq) { return ring16(vq->used, USED_RING(vq->size)); }

PRINTF_LIKE(3, 4)
static int virtq_fail(struct virtq *vq, int err, const char *fmt, ...)
{
    if (vq->broken)
        return vq->broken_err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vq->broken_reason, sizeof(vq->broken_reason), fmt, ap);
    va_end(ap);
    vq->broken = true;
    vq->broken_err = err;
    log_warn("virtq", "%s: %s; queue stopped until the device is reset",
             vq->name[0] ? vq->name : "?", vq->broken_reason);
    return err;
}

void virtq_reset(struct virtq *vq)
{
    memset(vq, 0, sizeof(*vq));
}

/* A ring must be aligned in the guest's view (spec) and in ours (atomics). */
static uint8_t *map_ring(const struct guest_mem *mem, uint64_t gpa, uint64_t len, unsigned align)
{
    if (gpa % align)
        return NULL;
    uint8_t *p = guest_mem_ptr(mem, gpa, len);
    if (!p || (uintptr_t)p % align)
        return NULL;
    return p;
}

int virtq_enable(struct virtq *vq, const struct guest_mem *mem, const struct virtq_config *cfg)
{
    virtq_reset(vq);
    snprintf(vq->name, sizeof(vq->name), "%s", cfg->name ? cfg->name : "");

    uint32_t size = cfg->size;
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return virtq_fail(vq, -EINVAL, "queue size %u is not a power of two in 1..%u",
                          size, VIRTQ_MAX_SIZE);
    vq->desc = map_ring(mem, cfg->desc_gpa, desc_table_bytes(size), 16);
    if (!vq->desc)
        return virtq_fail(vq, -EINVAL, "descriptor table at 0x%llx (%llu bytes) is not "
                          "16-byte aligned guest RAM", (unsigned long long)cfg->desc_gpa,
                          (unsigned long long)desc_table_bytes(size));
    vq->avail = map_ring(mem, cfg->avail_gpa, avail_ring_bytes(size), 2);
    if (!vq->avail)
        return virtq_fail(vq, -EINVAL, "available ring at 0x%llx (%llu bytes) is not "
                          "2-byte aligned guest RAM", (unsigned long long)cfg->avail_gpa,
                          (unsigned long long)avail_ring_bytes(size));
    vq->used = map_ring(mem, cfg->used_gpa, used_ring_bytes(size), 4);
    if (!vq->used)
        return virtq_fail(vq, -EINVAL, "used ring at 0x%llx (%llu bytes) is not "
                          "4-byte aligned guest RAM", (unsigned long long)cfg->used_gpa,
                          (unsigned long long)used_ring_bytes(size));

    vq->mem = mem;
    vq->size = (uint16_t)size;
    vq->event_idx = cfg->event_idx;
    vq->indirect = cfg->indirect;
    vq->signalled_valid = true;     /* fresh queue: used index 0 needs no notification */
    vq->ready = true;
    return 0;
}

/*
 * Copies a descriptor out of guest memory. The signal fence keeps the
 * compiler from re-reading the guest's copy later instead of ours, so a
 * driver rewriting the table under us cannot change a value after it was
 * checked.
 */
static void desc_read(const uint8_t *table, uint32_t i, struct virtq_desc *d)
{
    memcpy(d, table + (uint64_t)i * DESC_SIZE, sizeof(*d));
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * Appends one descriptor's buffer. The caller has checked the order and the
 * count (at most VIRTQ_MAX_CHAIN, so bufs[] cannot overflow).
 */
static int chain_add(struct virtq *vq, struct virtq_chain *chain, const struct virtq_desc *d)
{
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;
    if (writable)
        chain->writable_bytes += d->len;
    else
        chain->readable_bytes += d->len;
    /* Both sums are of u32 lengths over at most 32768 descriptors: no overflow. */
    if (chain->readable_bytes + chain->writable_bytes > UINT32_MAX)
        return virtq_fail(vq, -EINVAL, "chain %u is longer than 4 GiB", chain->head);
    if (d->len == 0)
        return 0;
    uint8_t *hva = guest_mem_ptr(vq->mem, d->addr, d->len);
    if (!hva)
        return virtq_fail(vq, -EFAULT, "chain %u: buffer 0x%llx+%u is not guest RAM",
                          chain->head, (unsigned long long)d->addr, d->len);
    chain->bufs[chain->nr++] = (struct virtq_buf){
        .hva = hva, .len = d->len, .device_writable = writable };
    if (!writable)
        chain->nr_readable = chain->nr;
    return 0;
}

/*
 * Walks the chain at `head`: zero or more direct descriptors, the last of
 * which may point to an indirect table, itself a chain. Every step is
 * bounded: direct descriptors by the queue size (a loop cannot outlast it),
 * buffers by min(queue size, VIRTQ_MAX_CHAIN), which also ends a loop inside
 * an indirect table.
 */
static int chain_walk(struct virtq *vq, uint16_t head, struct virtq_chain *chain)
{
    chain->head = head;
    chain->nr = chain->nr_readable = 0;
    chain->readable_bytes = chain->writable_bytes = 0;
    /* A writable zero-length descriptor adds no buffer but still orders the chain. */
    bool seen_writable = false;

    const uint8_t *table = vq->desc;
    uint32_t table_len = vq->size;
    bool in_indirect = false;
    unsigned direct = 0, bufs = 0;
    const unsigned max_bufs = MIN((unsigned)vq->size, VIRTQ_MAX_CHAIN);
    uint32_t i = head;

    for (;;) {
        struct virtq_desc d;
        desc_read(table, i, &d);

        if (!in_indirect && ++direct > vq->size)
            return virtq_fail(vq, -EINVAL, "chain %u: more than %u descriptors (a loop?)",
                              head, vq->size);

        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!vq->indirect)
                return virtq_fail(vq, -EINVAL, "chain %u: indirect descriptor but "
                                  "VIRTIO_F_INDIRECT_DESC was not negotiated", head);
            if (in_indirect)
                return virtq_fail(vq, -EINVAL, "chain %u: indirect descriptor inside an "
                                  "indirect table", head);
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return virtq_fail(vq, -EINVAL, "chain %u: descriptor has both INDIRECT "
                                  "and NEXT", head);
            if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > vq->size)
                return virtq_fail(vq, -EINVAL, "chain %u: indirect table length %u is not a "
                                  "multiple of 16 in 16..%u", head, d.len,
                                  vq->size * DESC_SIZE);
            table = guest_mem_ptr(vq->mem, d.addr, d.len);
            if (!table)
                return virtq_fail(vq, -EFAULT, "chain %u: indirect table 0x%llx+%u is not "
                                  "guest RAM", head, (unsigned long long)d.addr, d.len);
            table_len = d.len / DESC_SIZE;
            in_indirect = true;
            i = 0;
            continue;
        }

        if (++bufs > max_bufs)
            return virtq_fail(vq, -EINVAL, "chain %u: more than %u buffers", head, max_bufs);
        bool writable = d.flags & VIRTQ_DESC_F_WRITE;
        if (!writable && seen_writable)
            return virtq_fail(vq, -EINVAL, "chain %u: readable descriptor after a writable "
                              "one", head);
        seen_writable |= writable;
        int err = chain_add(vq, chain, &d);
        if (err)
            return err;

        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (d.next >= table_len)
            return virtq_fail(vq, -EINVAL, "chain %u: next index %u is out of range (%u)",
                              head, d.next, table_len);
        i = d.next;
    }
}

static uint16_t load_avail_idx(const struct virtq *vq)
{
    /* Acquire: the ring entries and descriptors behind idx are read after it. */
    return __atomic_load_n(ring16(vq->avail, AVAIL_IDX), __ATOMIC_ACQUIRE);
}

static void mark_used_ring(const struct virtq *vq);

/* Tells an EVENT_IDX driver to kick when it fills the slot we will read next. */
static void publish_avail_event(struct virtq *vq)
{
    if (vq->event_idx && !vq->notify_disabled) {
        __atomic_store_n(avail_event_field(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
        mark_used_ring(vq);
    }
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
    if (vq->broken)
        return vq->broken_err;
    if (!vq->ready)
        return 0;

    uint16_t avail_idx = load_avail_idx(vq);
    if (avail_idx == vq->last_avail_idx && vq->event_idx && !vq->notify_disabled) {
        /*
         * Empty. Ask for a kick at the next slot, then look again: a buffer
         * added before the driver could see our avail_event gets no kick.
         */
        publish_avail_event(vq);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        avail_idx = load_avail_idx(vq);
    }
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
    if (pending == 0)
        return 0;
    if (pending > vq->size)
        return virtq_fail(vq, -EINVAL, "available index %u is %u ahead of %u, more than "
                          "the queue size %u", avail_idx, pending, vq->last_avail_idx, vq->size);

    uint16_t slot = vq->last_avail_idx & (uint16_t)(vq->size - 1);
    uint16_t head = __atomic_load_n(ring16(vq->avail, AVAIL_RING(slot)), __ATOMIC_RELAXED);
    if (head >= vq->size)
        return virtq_fail(vq, -EINVAL, "available ring slot %u holds head %u, out of range (%u)",
                          slot, head, vq->size);
    int err = chain_walk(vq, head, chain);
    if (err)
        return err;
    vq->last_avail_idx++;
    publish_avail_event(vq);
    return 1;
}

/*
 * Migration: pages the device wrote are invisible to KVM's dirty log, so a
 * push marks them in guest RAM's VMM-side bitmap (core/guest_mem.h): the
 * used ring, and every device-writable buffer of the chain. Done at push,
 * after the device wrote, so the mark cannot be harvested before the data
 * exists. The walk is tolerant: chain_walk already validated this chain at
 * pop, and a driver that rewrote it since only loses its own pages' marks.
 */
static void mark_used_ring(const struct virtq *vq)
{
    guest_mem_mark_dirty_hva(vq->mem, vq->used, used_ring_bytes(vq->size) + 2);
}

static void mark_chain_written(const struct virtq *vq, uint16_t head)
{
    if (!__atomic_load_n(&vq->mem->vmm_dirty_on, __ATOMIC_ACQUIRE))
        return;
    const uint8_t *table = vq->desc;
    uint32_t table_len = vq->size, i = head;
    bool in_indirect = false;
    for (unsigned steps = 0; steps < 2u * vq->size && i < table_len; steps++) {
        struct virtq_desc d;
        desc_read(table, i, &d);
        if ((d.flags & VIRTQ_DESC_F_INDIRECT) && !in_indirect) {
            if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > vq->size)
                return;
            table = guest_mem_ptr(vq->mem, d.addr, d.len);
            if (!table)
                return;
            table_len = d.len / DESC_SIZE;
            in_indirect = true;
            i = 0;
            continue;
        }
        if (d.flags & VIRTQ_DESC_F_WRITE)
            guest_mem_mark_dirty(vq->mem, d.addr, d.len);
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return;
        i = d.next;
    }
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written_len)
{
    if (vq->broken || !vq->ready)
        return;
    if (head >= vq->size || vq->used_idx == vq->last_avail_idx) {
        virtq_fail(vq, -EINVAL, "device returned chain %u that it did not take (bug)", head);
        return;
    }
    uint16_t slot = vq->used_idx & (uint16_t)(vq->size - 1);
    __atomic_store_n(ring32(vq->used, USED_RING(slot)), head, __ATOMIC_RELAXED);
    __atomic_store_n(ring32(vq->used, USED_RING(slot) + 4), written_len, __ATOMIC_RELAXED);
    vq->used_idx++;
    /* Release: the element is visible before the index that covers it. */
    __atomic_store_n(ring16(vq->used, USED_IDX), vq->used_idx, __ATOMIC_RELEASE);
    if (written_len)
        mark_chain_written(vq, head);
    mark_used_ring(vq);
}

/* True when new_idx has moved past event since old (all modulo 2^16). */
static bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_needs_notify(struct virtq *vq)
{
    if (vq->broken || !vq->ready)
        return false;
    uint16_t old = vq->signalled_used;
    bool valid = vq->signalled_valid;
    vq->signalled_used = vq->used_idx;
    vq->signalled_valid = true;
    if (valid && old == vq->used_idx)
        return false;   /* nothing pushed since the last decision */

    /*
     * Full fence: our used idx store must be visible before we read the
     * driver's suppression field, or both sides could decide to stay quiet.
     */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vq->event_idx) {
        uint16_t flags = __atomic_load_n(ring16(vq->avail, AVAIL_FLAGS), __ATOMIC_RELAXED);
        return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    if (!valid)
        return true;    /* after a restore we cannot tell: notify, the driver copes */
    uint16_t used_event = __atomic_load_n(used_event_field(vq), __ATOMIC_RELAXED);
    return vring_need_event(used_event, vq->used_idx, old);
}

void virtq_disable_notify(struct virtq *vq)
{
    if (vq->broken || !vq->ready || vq->notify_disabled)
        return;
    vq->notify_disabled = true;
    /* With EVENT_IDX, simply not advancing avail_event stops the kicks. */
    if (!vq->event_idx) {
        __atomic_store_n(ring16(vq->used, USED_FLAGS), VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
        mark_used_ring(vq);
    }
}

bool virtq_enable_notify(struct virtq *vq)
{
    if (vq->broken || !vq->ready)
        return false;
    vq->notify_disabled = false;
    if (vq->event_idx)
        publish_avail_event(vq);
    else {
        __atomic_store_n(ring16(vq->used, USED_FLAGS), 0, __ATOMIC_RELAXED);
        mark_used_ring(vq);
    }
    /* Our store before the driver's next idx read; see virtq_pop. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load_avail_idx(vq) != vq->last_avail_idx;
}

bool virtq_is_broken(const struct virtq *vq) { return vq->broken; }

const char *virtq_broken_reason(const struct virtq *vq)
{
    return vq->broken ? vq->broken_reason : "";
}

void virtq_get_state(const struct virtq *vq, struct virtq_state *st)
{
    st->last_avail_idx = vq->last_avail_idx;
    st->used_idx = vq->used_idx;
}

int virtq_set_state(struct virtq *vq, const struct virtq_state *st)
{
    if (!vq->ready || (uint16_t)(st->last_avail_idx - st->used_idx) > vq->size)
        return -EINVAL;
    vq->last_avail_idx = st->last_avail_idx;
    vq->used_idx = st->used_idx;
    vq->signalled_valid = false;
    return 0;
}

/*
 * Copies len bytes between a flat buffer and the bytes from `offset` of
 * bufs[first..last) seen as one array: out of the chain into `out`, or into
 * the chain from `in` (exactly one of them is set).
 */
static size_t chain_copy(const struct virtq_chain *chain, unsigned first, unsigned last,
                         uint64_t offset, uint8_t *out, const uint8_t *in, size_t len)
{
    size_t done = 0;
    for (unsigned b = first; b < last && done < len; b++) {
        const struct virtq_buf *buf = &chain->bufs[b];
        if (offset >= buf->len) {
            offset -= buf->len;
            continue;
        }
        size_t n = MIN((uint64_t)buf->len - offset, (uint64_t)(len - done));
        if (in)
            memcpy(buf->hva + offset, in + done, n);
        else
            memcpy(out + done, buf->hva + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset, void *dst, size_t len)
{
    return chain_copy(chain, 0, chain->nr_readable, offset, dst, NULL, len);
}

size_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset, const void *src,
                         size_t len)
{
    return chain_copy(chain, chain->nr_readable, chain->nr, offset, NULL, src, len);
}
