// SPDX-License-Identifier: Apache-2.0
/*
 * MC146818 model. The clock registers are computed from the host's UTC time
 * at each read, so they never drift and the update-in-progress bit is never
 * set (a guest polling for UIP=0 proceeds at once). Time writes from the
 * guest are accepted and ignored: the VM's wall clock is the host's.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CMOS_BASE_MEM_LO 0x15 /* KiB below 1 MiB */
#define CMOS_EXT_MEM_LO  0x17 /* KiB from 1 MiB, capped at 0xffff */
#define CMOS_CHECKSUM_HI 0x2e /* sum of 0x10..0x2d */
#define CMOS_EXT_MEM2_LO 0x30 /* same as 0x17 (POST copy) */
#define CMOS_MEM16M_LO   0x34 /* 64 KiB units from 16 MiB to the hole */
#define CMOS_MEM4G_LO    0x5b /* 64 KiB units above 4 GiB, three bytes */

#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define REG_A_WRITABLE 0x7f

static time_t clock_now(const struct rtc *rtc)
{
    if (rtc->clock)
        return rtc->clock(rtc->clock_opaque);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static uint8_t encode(const struct rtc *rtc, unsigned v)
{
    v %= 100;
    if (rtc->cmos[RTC_REG_B] & RTC_B_DM_BIN)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t encode_hour(const struct rtc *rtc, int hour)
{
    if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
        return encode(rtc, (unsigned)hour);
    unsigned h12 = (unsigned)hour % 12;
    return (uint8_t)(encode(rtc, h12 ? h12 : 12) | (hour >= 12 ? 0x80 : 0));
}

static uint8_t time_register(struct rtc *rtc, unsigned reg)
{
    time_t now = clock_now(rtc);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return 0;
    switch (reg) {
    case RTC_SECONDS:
        return encode(rtc, (unsigned)tm.tm_sec);
    case RTC_MINUTES:
        return encode(rtc, (unsigned)tm.tm_min);
    case RTC_HOURS:
        return encode_hour(rtc, tm.tm_hour);
    case RTC_DAY_OF_WEEK:
        return encode(rtc, (unsigned)tm.tm_wday + 1);
    case RTC_DAY_OF_MONTH:
        return encode(rtc, (unsigned)tm.tm_mday);
    case RTC_MONTH:
        return encode(rtc, (unsigned)tm.tm_mon + 1);
    case RTC_YEAR:
        return encode(rtc, (unsigned)(tm.tm_year + 1900) % 100);
    case RTC_CENTURY:
        return encode(rtc, (unsigned)(tm.tm_year + 1900) / 100);
    default:
        return 0;
    }
}

static bool is_time_register(unsigned reg)
{
    switch (reg) {
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
    case RTC_CENTURY:
        return true;
    default:
        return false;
    }
}

static void reset_locked(struct rtc *rtc)
{
    rtc->index = 0;
    rtc->cmos[RTC_REG_A] = REG_A_DEFAULT;
    rtc->cmos[RTC_REG_B] = RTC_B_24H;
    rtc->cmos[RTC_REG_C] = 0;
    rtc->cmos[RTC_REG_D] = RTC_D_VRT;
    rtc->last_c_read = clock_now(rtc);
}

int rtc_init(struct rtc *rtc, rtc_clock_fn clock, void *clock_opaque)
{
    memset(rtc, 0, sizeof(*rtc));
    int err = pthread_mutex_init(&rtc->lock, NULL);
    if (err)
        return -err;
    rtc->clock = clock;
    rtc->clock_opaque = clock_opaque;
    reset_locked(rtc);
    return 0;
}

void rtc_destroy(struct rtc *rtc)
{
    pthread_mutex_destroy(&rtc->lock);
}

void rtc_reset(struct rtc *rtc)
{
    pthread_mutex_lock(&rtc->lock);
    reset_locked(rtc);
    pthread_mutex_unlock(&rtc->lock);
}

static void put16(struct rtc *rtc, unsigned reg, uint64_t v)
{
    if (v > 0xffff)
        v = 0xffff;
    rtc->cmos[reg] = (uint8_t)v;
    rtc->cmos[reg + 1] = (uint8_t)(v >> 8);
}

void rtc_set_memory(struct rtc *rtc, uint64_t low_bytes, uint64_t high_bytes)
{
    pthread_mutex_lock(&rtc->lock);
    put16(rtc, CMOS_BASE_MEM_LO, 640);
    uint64_t ext_kib = low_bytes > 0x100000 ? (low_bytes - 0x100000) / 1024 : 0;
    put16(rtc, CMOS_EXT_MEM_LO, ext_kib);
    put16(rtc, CMOS_EXT_MEM2_LO, ext_kib);
    put16(rtc, CMOS_MEM16M_LO, low_bytes > 0x1000000 ? (low_bytes - 0x1000000) / 0x10000 : 0);
    uint64_t high = high_bytes / 0x10000;
    if (high > 0xffffff)
        high = 0xffffff;
    rtc->cmos[CMOS_MEM4G_LO] = (uint8_t)high;
    rtc->cmos[CMOS_MEM4G_LO + 1] = (uint8_t)(high >> 8);
    rtc->cmos[CMOS_MEM4G_LO + 2] = (uint8_t)(high >> 16);

    unsigned sum = 0;
    for (unsigned i = 0x10; i < CMOS_CHECKSUM_HI; i++)
        sum += rtc->cmos[i];
    rtc->cmos[CMOS_CHECKSUM_HI] = (uint8_t)(sum >> 8);
    rtc->cmos[CMOS_CHECKSUM_HI + 1] = (uint8_t)sum;
    pthread_mutex_unlock(&rtc->lock);
}

/* Register C: flags that happened since the last read, cleared by reading.
 * Only "update ended" is tracked (a new second began); its interrupt is
 * never delivered, but IRQF mirrors an enabled flag as the chip would. */
static uint8_t read_reg_c(struct rtc *rtc)
{
    time_t now = clock_now(rtc);
    uint8_t c = rtc->cmos[RTC_REG_C];
    if (now != rtc->last_c_read)
        c |= RTC_C_UF;
    if (c & rtc->cmos[RTC_REG_B] & (RTC_B_PIE | RTC_B_AIE | RTC_B_UIE))
        c |= RTC_C_IRQF;
    rtc->last_c_read = now;
    rtc->cmos[RTC_REG_C] = 0;
    return c;
}

static uint8_t read_data(struct rtc *rtc)
{
    unsigned reg = rtc->index;
    if (is_time_register(reg))
        return time_register(rtc, reg);
    switch (reg) {
    case RTC_REG_A:
        return rtc->cmos[RTC_REG_A] & (uint8_t)~RTC_A_UIP;
    case RTC_REG_C:
        return read_reg_c(rtc);
    case RTC_REG_D:
        return RTC_D_VRT;
    default:
        return rtc->cmos[reg];
    }
}

static void write_data(struct rtc *rtc, uint8_t v)
{
    unsigned reg = rtc->index;
    if (is_time_register(reg))
        return;
    switch (reg) {
    case RTC_REG_A:
        rtc->cmos[RTC_REG_A] = v & REG_A_WRITABLE;
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read-only */
    default:
        rtc->cmos[reg] = v;
        break;
    }
}

uint8_t rtc_read(struct rtc *rtc, unsigned port)
{
    pthread_mutex_lock(&rtc->lock);
    uint8_t v = port == 0 ? rtc->index : read_data(rtc);
    pthread_mutex_unlock(&rtc->lock);
    return v;
}

void rtc_write(struct rtc *rtc, unsigned port, uint8_t value)
{
    pthread_mutex_lock(&rtc->lock);
    if (port == 0)
        rtc->index = value & (RTC_CMOS_SIZE - 1); /* bit 7 is NMI disable */
    else
        write_data(rtc, value);
    pthread_mutex_unlock(&rtc->lock);
}

static void bus_read_rtc(void *opaque, uint64_t offset, void *data, unsigned size)
{
    if (size != 1 || offset >= RTC_NR_PORTS) {
        memset(data, 0xff, size);
        return;
    }
    *(uint8_t *)data = rtc_read(opaque, (unsigned)offset);
}

static void bus_write_rtc(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    if (size != 1 || offset >= RTC_NR_PORTS)
        return;
    rtc_write(opaque, (unsigned)offset, *(const uint8_t *)data);
}

const struct bus_ops rtc_bus_ops = {
    .read = bus_read_rtc,
    .write = bus_write_rtc,
};

void rtc_save(struct rtc *rtc, struct rtc_snap *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&rtc->lock);
    s->index = rtc->index;
    memcpy(s->cmos, rtc->cmos, sizeof(s->cmos));
    pthread_mutex_unlock(&rtc->lock);
}

int rtc_load(struct rtc *rtc, const struct rtc_snap *s)
{
    if (s->index >= RTC_CMOS_SIZE)
        return -EINVAL;
    pthread_mutex_lock(&rtc->lock);
    rtc->index = s->index;
    memcpy(rtc->cmos, s->cmos, sizeof(rtc->cmos));
    rtc->last_c_read = clock_now(rtc);
    pthread_mutex_unlock(&rtc->lock);
    return 0;
}
