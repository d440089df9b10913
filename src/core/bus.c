// SPDX-License-Identifier: Apache-2.0
/*
 * PIO/MMIO bus: a sorted array searched by binary search. Ranges are few
 * (tens) and registration is rare, so an array beats a tree here.
 */
#include "core/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int bus_init(struct bus *bus, const char *name)
{
    memset(bus, 0, sizeof(*bus));
    bus->name = name;
    int err = pthread_rwlock_init(&bus->lock, NULL);
    if (err)
        return -err;
    err = pthread_mutex_init(&bus->unclaimed_lock, NULL);
    if (err) {
        pthread_rwlock_destroy(&bus->lock);
        return -err;
    }
    return 0;
}

void bus_destroy(struct bus *bus)
{
    free(bus->ranges);
    pthread_mutex_destroy(&bus->unclaimed_lock);
    pthread_rwlock_destroy(&bus->lock);
    memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose base is > addr. */
static unsigned upper_bound(const struct bus *bus, uint64_t addr)
{
    unsigned lo = 0, hi = bus->nr_ranges;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (bus->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
                 void *opaque, const char *name)
{
    if (len == 0 || base + len - 1 < base || !ops)
        return -EINVAL;

    pthread_rwlock_wrlock(&bus->lock);
    int ret = 0;
    unsigned pos = upper_bound(bus, base);
    /* Overlap with the range before (it may extend over base) or after. */
    if (pos > 0) {
        const struct bus_range *prev = &bus->ranges[pos - 1];
        if (prev->base + prev->len - 1 >= base) {
            ret = -EEXIST;
            goto out;
        }
    }
    if (pos < bus->nr_ranges && bus->ranges[pos].base <= base + len - 1) {
        ret = -EEXIST;
        goto out;
    }
    if (bus->nr_ranges == bus->cap_ranges) {
        unsigned cap = bus->cap_ranges ? bus->cap_ranges * 2 : 16;
        struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
        if (!r) {
            ret = -ENOMEM;
            goto out;
        }
        bus->ranges = r;
        bus->cap_ranges = cap;
    }
    memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
            (bus->nr_ranges - pos) * sizeof(bus->ranges[0]));
    bus->ranges[pos] = (struct bus_range){ base, len, ops, opaque, name };
    bus->nr_ranges++;
out:
    pthread_rwlock_unlock(&bus->lock);
    return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
    pthread_rwlock_wrlock(&bus->lock);
    int ret = -ENOENT;
    unsigned pos = upper_bound(bus, base);
    if (pos > 0 && bus->ranges[pos - 1].base == base) {
        pos--;
        memmove(&bus->ranges[pos], &bus->ranges[pos + 1],
                (bus->nr_ranges - pos - 1) * sizeof(bus->ranges[0]));
        bus->nr_ranges--;
        ret = 0;
    }
    pthread_rwlock_unlock(&bus->lock);
    return ret;
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

/* Finds the range holding [addr, addr+size); caller holds the read lock. */
static const struct bus_range *find(const struct bus *bus, uint64_t addr, unsigned size)
{
    unsigned pos = upper_bound(bus, addr);
    if (pos == 0)
        return NULL;
    const struct bus_range *r = &bus->ranges[pos - 1];
    uint64_t off = addr - r->base;
    if (off >= r->len || size > r->len - off)
        return NULL;
    return r;
}

bool bus_read(struct bus *bus, uint64_t addr, void *data, unsigned size)
{
    pthread_rwlock_rdlock(&bus->lock);
    const struct bus_range *r = find(bus, addr, size);
    if (r && r->ops->read) {
        r->ops->read(r->opaque, addr - r->base, data, size);
        pthread_rwlock_unlock(&bus->lock);
        return true;
    }
    bool claimed = r != NULL;
    pthread_rwlock_unlock(&bus->lock);
    memset(data, 0xff, size);
    if (!claimed)
        log_unclaimed(bus, addr, size, false);
    return claimed;
}

bool bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned size)
{
    pthread_rwlock_rdlock(&bus->lock);
    const struct bus_range *r = find(bus, addr, size);
    if (r && r->ops->write)
        r->ops->write(r->opaque, addr - r->base, data, size);
    pthread_rwlock_unlock(&bus->lock);
    if (!r)
        log_unclaimed(bus, addr, size, true);
    return r != NULL;
}
