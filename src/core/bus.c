// SPDX-License-Identifier: Apache-2.0
/*
 * PIO/MMIO bus: a sorted array of ranges searched by binary search, published
 * as an immutable snapshot (see bus.h). Ranges are few (tens) and change
 * rarely, so copying the array on each change is cheap and keeps dispatch
 * lock-free.
 */
#include "core/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static struct bus_table *table_alloc(unsigned nr)
{
    struct bus_table *t = calloc(1, sizeof(*t) + nr * sizeof(t->ranges[0]));
    if (t)
        t->nr = nr;
    return t;
}

int bus_init(struct bus *bus, const char *name)
{
    memset(bus, 0, sizeof(*bus));
    bus->name = name;
    struct bus_table *empty = table_alloc(0);
    if (!empty)
        return -ENOMEM;
    atomic_store(&bus->table, empty);
    int err = pthread_mutex_init(&bus->update_lock, NULL);
    if (!err)
        err = pthread_mutex_init(&bus->unclaimed_lock, NULL);
    if (err) {
        free(empty);
        return -err;
    }
    return 0;
}

void bus_destroy(struct bus *bus)
{
    struct bus_table *t = atomic_load(&bus->table);
    while (t) {
        struct bus_table *older = t->older;
        free(t);
        t = older;
    }
    if (bus->name) {
        pthread_mutex_destroy(&bus->unclaimed_lock);
        pthread_mutex_destroy(&bus->update_lock);
    }
    memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose base is > addr. */
static unsigned upper_bound(const struct bus_table *t, uint64_t addr)
{
    unsigned lo = 0, hi = t->nr;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (t->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Swaps in `next` (writer holds update_lock); the old table stays readable. */
static void publish(struct bus *bus, struct bus_table *next)
{
    next->older = atomic_load(&bus->table);
    atomic_store_explicit(&bus->table, next, memory_order_release);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
                 void *opaque, const char *name)
{
    if (len == 0 || base + len - 1 < base || !ops)
        return -EINVAL;

    pthread_mutex_lock(&bus->update_lock);
    const struct bus_table *cur = atomic_load(&bus->table);
    int ret = 0;
    unsigned pos = upper_bound(cur, base);
    /* Overlap with the range before (it may extend over base) or after. */
    if ((pos > 0 && cur->ranges[pos - 1].base + cur->ranges[pos - 1].len - 1 >= base) ||
        (pos < cur->nr && cur->ranges[pos].base <= base + len - 1)) {
        ret = -EEXIST;
        goto out;
    }
    struct bus_table *next = table_alloc(cur->nr + 1);
    if (!next) {
        ret = -ENOMEM;
        goto out;
    }
    memcpy(next->ranges, cur->ranges, pos * sizeof(cur->ranges[0]));
    next->ranges[pos] = (struct bus_range){ base, len, ops, opaque, name };
    memcpy(&next->ranges[pos + 1], &cur->ranges[pos], (cur->nr - pos) * sizeof(cur->ranges[0]));
    publish(bus, next);
out:
    pthread_mutex_unlock(&bus->update_lock);
    return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
    pthread_mutex_lock(&bus->update_lock);
    const struct bus_table *cur = atomic_load(&bus->table);
    int ret = -ENOENT;
    unsigned pos = upper_bound(cur, base);
    if (pos > 0 && cur->ranges[pos - 1].base == base) {
        pos--;
        struct bus_table *next = table_alloc(cur->nr - 1);
        if (!next) {
            ret = -ENOMEM;
            goto out;
        }
        memcpy(next->ranges, cur->ranges, pos * sizeof(cur->ranges[0]));
        memcpy(&next->ranges[pos], &cur->ranges[pos + 1], (cur->nr - pos - 1) * sizeof(cur->ranges[0]));
        publish(bus, next);
        ret = 0;
    }
out:
    pthread_mutex_unlock(&bus->update_lock);
    return ret;
}

unsigned bus_range_count(struct bus *bus)
{
    return atomic_load(&bus->table)->nr;
}

static void log_unclaimed(struct bus *bus, uint64_t addr, unsigned size, bool write)
{
    pthread_mutex_lock(&bus->unclaimed_lock);
    bool seen = false;
    for (unsigned i = 0; i < bus->nr_unclaimed_logged; i++)
        seen |= bus->unclaimed_logged[i] == addr;
    if (!seen && bus->nr_unclaimed_logged < BUS_UNCLAIMED_LOG_MAX)
        bus->unclaimed_logged[bus->nr_unclaimed_logged++] = addr;
    pthread_mutex_unlock(&bus->unclaimed_lock);
    if (!seen)
        log_debug(bus->name, "unclaimed %u-byte %s at 0x%llx", size, write ? "write" : "read",
                  (unsigned long long)addr);
}

/* The range holding all of [addr, addr+size), or NULL. */
static const struct bus_range *find(struct bus *bus, uint64_t addr, unsigned size)
{
    const struct bus_table *t = atomic_load_explicit(&bus->table, memory_order_acquire);
    unsigned pos = upper_bound(t, addr);
    if (pos == 0)
        return NULL;
    const struct bus_range *r = &t->ranges[pos - 1];
    uint64_t off = addr - r->base;
    if (off >= r->len || size > r->len - off)
        return NULL;
    return r;
}

bool bus_read(struct bus *bus, uint64_t addr, void *data, unsigned size)
{
    const struct bus_range *r = find(bus, addr, size);
    if (r && r->ops->read) {
        r->ops->read(r->opaque, addr - r->base, data, size);
        return true;
    }
    memset(data, 0xff, size);
    if (!r)
        log_unclaimed(bus, addr, size, false);
    return r != NULL;
}

bool bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned size)
{
    const struct bus_range *r = find(bus, addr, size);
    if (r && r->ops->write)
        r->ops->write(r->opaque, addr - r->base, data, size);
    if (!r)
        log_unclaimed(bus, addr, size, true);
    return r != NULL;
}
