/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One dispatch abstraction for port I/O and MMIO. Devices register ranges
 * with an ops table; the vCPU loop only calls bus_read()/bus_write().
 * Registration refuses overlaps.
 *
 * Dispatch takes no lock: the range table is an immutable snapshot, and a
 * (rare) registration publishes a new one. So a handler may itself register
 * or unregister ranges (a PCI config write that moves a BAR) without
 * deadlocking, and many vCPUs dispatch at once. Old snapshots are kept until
 * bus_destroy(), since a vCPU may still be reading one. Devices do their own
 * locking.
 */
#ifndef CASULO_CORE_BUS_H
#define CASULO_CORE_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

struct bus_ops {
    /* `offset` is relative to the registered base; `size` is 1, 2, 4 or 8. */
    void (*read)(void *opaque, uint64_t offset, void *data, unsigned size);
    void (*write)(void *opaque, uint64_t offset, const void *data, unsigned size);
};

struct bus_range {
    uint64_t base;
    uint64_t len;
    const struct bus_ops *ops;
    void *opaque;
    const char *name;
};

#define BUS_UNCLAIMED_LOG_MAX 32

struct bus_table {
    unsigned nr;
    struct bus_table *older;        /* retired snapshots, freed by bus_destroy() */
    struct bus_range ranges[];      /* sorted by base, never overlapping */
};

struct bus {
    const char *name;               /* "pio" or "mmio", for log lines */
    pthread_mutex_t update_lock;    /* serialises writers only */
    struct bus_table *_Atomic table;
    /* Unclaimed addresses already logged, so each is reported once. */
    pthread_mutex_t unclaimed_lock;
    uint64_t unclaimed_logged[BUS_UNCLAIMED_LOG_MAX];
    unsigned nr_unclaimed_logged;
};

int bus_init(struct bus *bus, const char *name) MUST_CHECK;
void bus_destroy(struct bus *bus);

/* -EINVAL for an empty or wrapping range, -EEXIST when it overlaps another. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
                 void *opaque, const char *name) MUST_CHECK;
/* Removes the range that starts at `base`; -ENOENT when there is none. */
int bus_unregister(struct bus *bus, uint64_t base);

/* How many ranges are registered now (tests check that exit() unregisters all). */
unsigned bus_range_count(struct bus *bus);

/*
 * Dispatch one access. An access must fall wholly inside one range; one that
 * does not is unclaimed: reads return all ones, writes are dropped, and the
 * address is logged once (at debug level). Returns whether a device claimed it.
 */
bool bus_read(struct bus *bus, uint64_t addr, void *data, unsigned size);
bool bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned size);

#endif
