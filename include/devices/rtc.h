/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MC146818 RTC + CMOS memory model: an index port and a data port. The time
 * registers read the host clock (UTC) on every access; the rest is 128 bytes
 * of CMOS memory holding the memory-size fields firmware-style code reads.
 * No interrupts are generated. rtc.c registers it on ports 0x70/0x71.
 */
#ifndef CASULO_DEVICES_RTC_H
#define CASULO_DEVICES_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "core/bus.h"
#include "util/compiler.h"

#define RTC_NR_PORTS   2
#define RTC_CMOS_SIZE  128

#define RTC_SECONDS      0x00
#define RTC_MINUTES      0x02
#define RTC_HOURS        0x04
#define RTC_DAY_OF_WEEK  0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH        0x08
#define RTC_YEAR         0x09
#define RTC_REG_A        0x0a
#define RTC_REG_B        0x0b
#define RTC_REG_C        0x0c
#define RTC_REG_D        0x0d
#define RTC_CENTURY      0x32

#define RTC_A_UIP    0x80
#define RTC_B_SET    0x80
#define RTC_B_PIE    0x40
#define RTC_B_AIE    0x20
#define RTC_B_UIE    0x10
#define RTC_B_DM_BIN 0x04  /* 1: binary, 0: BCD */
#define RTC_B_24H    0x02
#define RTC_C_IRQF   0x80
#define RTC_C_UF     0x10
#define RTC_D_VRT    0x80

/* Seconds since the epoch (UTC); tests pass a fake clock. */
typedef time_t (*rtc_clock_fn)(void *opaque);

struct rtc {
    pthread_mutex_t lock;
    rtc_clock_fn clock;   /* NULL: the host's CLOCK_REALTIME */
    void *clock_opaque;
    uint8_t index;
    uint8_t cmos[RTC_CMOS_SIZE];
    time_t last_c_read;   /* for register C's update-ended flag */
};

int rtc_init(struct rtc *rtc, rtc_clock_fn clock, void *clock_opaque) MUST_CHECK;
void rtc_destroy(struct rtc *rtc);
/* Control registers back to power-on values; CMOS memory is kept. */
void rtc_reset(struct rtc *rtc);
/* Fills the memory-size fields: RAM below the 32-bit hole (from 0) and above 4 GiB. */
void rtc_set_memory(struct rtc *rtc, uint64_t low_bytes, uint64_t high_bytes);

/* Byte access: port 0 selects the register (bit 7, NMI disable, is ignored), port 1 is data. */
uint8_t rtc_read(struct rtc *rtc, unsigned port);
void rtc_write(struct rtc *rtc, unsigned port, uint8_t value);

extern const struct bus_ops rtc_bus_ops;

/*
 * Snapshot: the index and CMOS memory. The time registers are not stored:
 * they read the host clock, so a restored guest sees the real time.
 */
#define RTC_SNAP_VERSION 1
struct rtc_snap {
    uint8_t index;
    uint8_t reserved[7];
    uint8_t cmos[RTC_CMOS_SIZE];
};

void rtc_save(struct rtc *rtc, struct rtc_snap *s);
int rtc_load(struct rtc *rtc, const struct rtc_snap *s) MUST_CHECK;

#endif
