// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI fixed-hardware register model. Registers are handled a byte at a
 * time, so any access width the guest's AML or OS uses (1, 2 or 4 bytes, at
 * any offset in the block) behaves like the hardware. SCI is a level: on
 * while any enabled status bit is set. Nothing sets TMR_STS or the GPE
 * status bits yet; they exist so the OS finds sane registers.
 */
#include "devices/acpi_pm.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"

/* Status bits that raise SCI when their enable bit is set. */
#define PM1_SCI_BITS (ACPI_PM1_TMR_STS | ACPI_PM1_GBL_STS | ACPI_PM1_PWRBTN_STS | \
                      ACPI_PM1_SLPBTN_STS | ACPI_PM1_RTC_STS)
/* PM1_CNT bits that are stored (SLP_EN, GBL_RLS are write-only triggers). */
#define PM1_CNT_STORED (ACPI_PM1_CNT_SLP_TYP | 0x0002 /* BM_RLD */)

enum acpi_pm_action { PM_NONE, PM_POWEROFF, PM_REBOOT };

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void update_sci(struct acpi_pm *pm)
{
    int level = (pm->pm1_sts & pm->pm1_en & PM1_SCI_BITS) || (pm->gpe0_sts & pm->gpe0_en);
    if (level != pm->sci_level) {
        pm->sci_level = level;
        irq_line_set(&pm->sci, level);
    }
}

static void reset_locked(struct acpi_pm *pm)
{
    pm->pm1_sts = pm->pm1_en = pm->pm1_cnt = 0;
    pm->gpe0_sts = pm->gpe0_en = 0;
    update_sci(pm);
}

int acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_callbacks *cb, void *opaque,
                 struct irq_line sci)
{
    memset(pm, 0, sizeof(*pm));
    int err = pthread_mutex_init(&pm->lock, NULL);
    if (err)
        return -err;
    if (cb)
        pm->cb = *cb;
    pm->opaque = opaque;
    pm->sci = sci;
    pm->timer_base_ns = monotonic_ns();
    reset_locked(pm);
    return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
    pthread_mutex_destroy(&pm->lock);
}

void acpi_pm_reset(struct acpi_pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    reset_locked(pm);
    pthread_mutex_unlock(&pm->lock);
}

static void run_action(struct acpi_pm *pm, enum acpi_pm_action a)
{
    if (a == PM_POWEROFF && pm->cb.poweroff)
        pm->cb.poweroff(pm->opaque);
    else if (a == PM_REBOOT && pm->cb.reboot)
        pm->cb.reboot(pm->opaque);
}

uint32_t acpi_pm_timer(struct acpi_pm *pm)
{
    int64_t ns = monotonic_ns() - pm->timer_base_ns;
    if (ns < 0)
        ns = 0;
    /* Split so the product cannot overflow even after years of uptime. */
    uint64_t s = (uint64_t)ns / 1000000000, rem = (uint64_t)ns % 1000000000;
    uint64_t ticks = s * ACPI_PM_TIMER_HZ + rem * ACPI_PM_TIMER_HZ / 1000000000;
    return (uint32_t)(ticks & ACPI_PM_TIMER_MASK);
}

bool acpi_pm_press_power_button(struct acpi_pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    pm->pm1_sts |= ACPI_PM1_PWRBTN_STS;
    bool enabled = pm->pm1_en & ACPI_PM1_PWRBTN_STS;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    return enabled;
}

/* A 16-bit status register (write 1 to clear) followed by its enable register. */
static uint8_t sts_en_read(uint16_t sts, uint16_t en, unsigned off)
{
    uint16_t reg = off < 2 ? sts : en;
    return (uint8_t)(reg >> (8 * (off & 1)));
}

static void sts_en_write(uint16_t *sts, uint16_t *en, unsigned off, uint8_t v)
{
    unsigned shift = 8 * (off & 1);
    if (off < 2)
        *sts &= (uint16_t)~((unsigned)v << shift);
    else
        *en = (uint16_t)((*en & ~(0xffu << shift)) | ((unsigned)v << shift));
}

static void evt_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint8_t *out = data;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size; i++)
        out[i] = offset + i < 4 ? sts_en_read(pm->pm1_sts, pm->pm1_en, (unsigned)offset + i) : 0xff;
    pthread_mutex_unlock(&pm->lock);
}

static void evt_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    const uint8_t *in = data;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size && offset + i < 4; i++)
        sts_en_write(&pm->pm1_sts, &pm->pm1_en, (unsigned)offset + i, in[i]);
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

static void cnt_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint8_t *out = data;
    pthread_mutex_lock(&pm->lock);
    /* SCI_EN always reads 1: there is no SMM/legacy mode to switch from, so
     * the OS finds ACPI already enabled and skips the SMI_CMD handshake. */
    uint16_t v = pm->pm1_cnt | ACPI_PM1_CNT_SCI_EN;
    for (unsigned i = 0; i < size; i++)
        out[i] = offset + i < 2 ? (uint8_t)(v >> (8 * (offset + i))) : 0xff;
    pthread_mutex_unlock(&pm->lock);
}

static void cnt_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    const uint8_t *in = data;
    enum acpi_pm_action action = PM_NONE;
    pthread_mutex_lock(&pm->lock);
    uint16_t v = pm->pm1_cnt;
    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        unsigned shift = 8 * ((unsigned)offset + i);
        v = (uint16_t)((v & ~(0xffu << shift)) | ((unsigned)in[i] << shift));
    }
    pm->pm1_cnt = v & PM1_CNT_STORED;
    if (v & ACPI_PM1_CNT_SLP_EN) {
        unsigned typ = (v & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_SHIFT;
        /* Only S5 exists; other sleep states are ignored (the guest resumes). */
        if (typ == X86_ACPI_S5_SLP_TYP)
            action = PM_POWEROFF;
    }
    pthread_mutex_unlock(&pm->lock);
    run_action(pm, action);
}

static void tmr_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    uint32_t v = acpi_pm_timer(opaque);
    uint8_t *out = data;
    for (unsigned i = 0; i < size; i++)
        out[i] = offset + i < 4 ? (uint8_t)(v >> (8 * (offset + i))) : 0xff;
}

static void reset_reg_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    memset(data, 0, size);
}

static void reset_reg_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    if (size == 1 && *(const uint8_t *)data == X86_ACPI_RESET_VALUE)
        run_action(opaque, PM_REBOOT);
}

static void gpe_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint8_t *out = data;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size; i++)
        out[i] = offset + i < 4 ? sts_en_read(pm->gpe0_sts, pm->gpe0_en, (unsigned)offset + i)
                                : 0xff;
    pthread_mutex_unlock(&pm->lock);
}

static void gpe_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct acpi_pm *pm = opaque;
    const uint8_t *in = data;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size && offset + i < 4; i++)
        sts_en_write(&pm->gpe0_sts, &pm->gpe0_en, (unsigned)offset + i, in[i]);
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

static const struct bus_ops evt_ops = { .read = evt_read, .write = evt_write };
static const struct bus_ops cnt_ops = { .read = cnt_read, .write = cnt_write };
static const struct bus_ops tmr_ops = { .read = tmr_read, .write = NULL };
static const struct bus_ops reset_ops = { .read = reset_reg_read, .write = reset_reg_write };
static const struct bus_ops gpe_ops = { .read = gpe_read, .write = gpe_write };

static const struct {
    uint16_t port, len;
    const struct bus_ops *ops;
    const char *name;
} acpi_pm_blocks[] = {
    { X86_ACPI_PM1A_EVT_PORT, 4, &evt_ops, "acpi-pm1a-evt" },
    { X86_ACPI_PM1A_CNT_PORT, 2, &cnt_ops, "acpi-pm1a-cnt" },
    { X86_ACPI_PM_TMR_PORT, 4, &tmr_ops, "acpi-pm-tmr" },
    { X86_ACPI_RESET_PORT, 1, &reset_ops, "acpi-reset" },
    { X86_ACPI_GPE0_PORT, X86_ACPI_GPE0_LEN, &gpe_ops, "acpi-gpe0" },
};

int acpi_pm_register(struct acpi_pm *pm, struct bus *pio)
{
    for (unsigned i = 0; i < ARRAY_SIZE(acpi_pm_blocks); i++) {
        int err = bus_register(pio, acpi_pm_blocks[i].port, acpi_pm_blocks[i].len,
                               acpi_pm_blocks[i].ops, pm, acpi_pm_blocks[i].name);
        if (err) {
            while (i--)
                bus_unregister(pio, acpi_pm_blocks[i].port);
            return err;
        }
    }
    return 0;
}

void acpi_pm_unregister(struct bus *pio)
{
    for (unsigned i = 0; i < ARRAY_SIZE(acpi_pm_blocks); i++)
        bus_unregister(pio, acpi_pm_blocks[i].port);
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_snap *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&pm->lock);
    s->pm1_sts = pm->pm1_sts;
    s->pm1_en = pm->pm1_en;
    s->pm1_cnt = pm->pm1_cnt;
    s->gpe0_sts = pm->gpe0_sts;
    s->gpe0_en = pm->gpe0_en;
    int64_t ns = monotonic_ns() - pm->timer_base_ns;
    s->timer_elapsed_ns = ns > 0 ? (uint64_t)ns : 0;
    pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_snap *s)
{
    /* Ten years of uptime is plenty and keeps the subtraction below in range. */
    if ((s->pm1_cnt & ~PM1_CNT_STORED) || s->timer_elapsed_ns > 10ULL * 366 * 86400 * 1000000000)
        return -EINVAL;
    pthread_mutex_lock(&pm->lock);
    pm->pm1_sts = s->pm1_sts;
    pm->pm1_en = s->pm1_en;
    pm->pm1_cnt = s->pm1_cnt;
    pm->gpe0_sts = s->gpe0_sts;
    pm->gpe0_en = s->gpe0_en;
    pm->timer_base_ns = monotonic_ns() - (int64_t)s->timer_elapsed_ns;
    pm->sci_level = 0;
    irq_line_set(&pm->sci, 0);
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    return 0;
}
