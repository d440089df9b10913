/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal i8042 keyboard controller with no keyboard or mouse behind it,
 * plus System Control Port A (0x92). Guests use it to reset the machine
 * (command 0xFE, the output port's reset bit, port 0x92 bit 0) and probe it
 * at boot. The model calls `reset` instead of knowing about the VM; i8042.c
 * turns that into a VM stop.
 */
#ifndef CASULO_DEVICES_I8042_H
#define CASULO_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "util/compiler.h"

#define I8042_STS_OBF    0x01 /* output buffer full */
#define I8042_STS_IBF    0x02 /* input buffer full (never: we are instant) */
#define I8042_STS_SYS    0x04 /* system flag, from command byte bit 2 */
#define I8042_STS_CMD    0x08 /* last write went to the command port */
#define I8042_STS_AUXOBF 0x20 /* the output byte is from the aux port */

#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_SYS    0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE  0x40

#define I8042_PORT92_RESET 0x01
#define I8042_PORT92_A20   0x02

struct i8042 {
    pthread_mutex_t lock;
    void (*reset)(void *opaque);   /* the guest pulsed the CPU reset line */
    void *opaque;
    uint8_t ctr;          /* command byte ("controller configuration") */
    uint8_t status;       /* CMD and SYS bits; OBF/AUXOBF derive from below */
    uint8_t out;          /* output buffer */
    bool out_full, out_aux;
    uint8_t pending_cmd;  /* command waiting for its data byte, 0 if none */
    uint8_t outport;      /* output port (0xD0/0xD1); bit 0 low = reset */
    uint8_t port92;
};

int i8042_init(struct i8042 *kbc, void (*reset)(void *opaque), void *opaque) MUST_CHECK;
void i8042_destroy(struct i8042 *kbc);
void i8042_reset(struct i8042 *kbc);

/* Register the data port (0x60), command/status port (0x64) and port 0x92,
 * each one byte, with the controller as opaque. */
extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;
extern const struct bus_ops i8042_port92_ops;
#define I8042_PORT92 0x92

#define I8042_SNAP_VERSION 1
struct i8042_snap {
    uint8_t ctr, status, out, out_full, out_aux, pending_cmd, outport, port92;
};

void i8042_save(struct i8042 *kbc, struct i8042_snap *s);
/* Validates first (-EINVAL changes nothing). */
int i8042_load(struct i8042 *kbc, const struct i8042_snap *s) MUST_CHECK;

#endif
