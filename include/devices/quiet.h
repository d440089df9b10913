/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port ranges a stock Linux guest probes for hardware casulo does not have.
 * They are claimed so the probes are answered like an empty ISA slot (reads
 * all ones, writes ignored) without filling the log with unclaimed accesses.
 */
#ifndef CASULO_DEVICES_QUIET_H
#define CASULO_DEVICES_QUIET_H

#include <stdint.h>

#include "core/bus.h"
#include "util/compiler.h"

struct quiet_range {
    uint16_t base, len;
    const char *name;
};

extern const struct quiet_range quiet_ranges[];
extern const unsigned quiet_nr_ranges;

/* Claims every range on `pio`; unwinds on failure. */
int quiet_register(struct bus *pio) MUST_CHECK;
void quiet_unregister(struct bus *pio);

#endif
