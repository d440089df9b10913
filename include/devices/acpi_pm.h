/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI fixed-hardware registers the FADT points at: PM1a event (status +
 * enable), PM1a control (sleep requests), the 24-bit PM timer, the reset
 * register and GPE0. The model reports power-off and reset through
 * callbacks and raises SCI on a struct irq_line; acpi_pm.c wires those to
 * the VM. acpi_pm_press_power_button() is the "virtual power button".
 */
#ifndef CASULO_DEVICES_ACPI_PM_H
#define CASULO_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "util/compiler.h"

#define ACPI_PM1_TMR_STS    0x0001
#define ACPI_PM1_GBL_STS    0x0020
#define ACPI_PM1_PWRBTN_STS 0x0100
#define ACPI_PM1_SLPBTN_STS 0x0200
#define ACPI_PM1_RTC_STS    0x0400
#define ACPI_PM1_WAK_STS    0x8000

#define ACPI_PM1_CNT_SCI_EN  0x0001
#define ACPI_PM1_CNT_SLP_TYP 0x1c00
#define ACPI_PM1_CNT_SLP_SHIFT 10
#define ACPI_PM1_CNT_SLP_EN  0x2000

#define ACPI_PM_TIMER_HZ   3579545ULL
#define ACPI_PM_TIMER_MASK 0xffffffu

struct acpi_pm_callbacks {
    void (*poweroff)(void *opaque);  /* SLP_EN with the S5 sleep type */
    void (*reboot)(void *opaque);    /* the reset value written to the reset register */
};

struct acpi_pm {
    pthread_mutex_t lock;
    struct acpi_pm_callbacks cb;
    void *opaque;
    struct irq_line sci;
    int sci_level;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint16_t gpe0_sts, gpe0_en;
    int64_t timer_base_ns;   /* CLOCK_MONOTONIC at power-on: the timer starts at 0 */
};

int acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_callbacks *cb, void *opaque,
                 struct irq_line sci) MUST_CHECK;
void acpi_pm_destroy(struct acpi_pm *pm);
void acpi_pm_reset(struct acpi_pm *pm);

/* Registers every block at the ports in arch/x86/layout.h; unwinds on failure. */
int acpi_pm_register(struct acpi_pm *pm, struct bus *pio) MUST_CHECK;
void acpi_pm_unregister(struct bus *pio);

/*
 * Sets PWRBTN_STS and raises SCI if the guest enabled the power button.
 * Returns whether it was enabled (if not, the guest has no ACPI driver
 * listening and will not shut down). Any thread; `pm` is the acpi_pm
 * device's state pointer.
 */
bool acpi_pm_press_power_button(struct acpi_pm *pm);

/* The PM timer's current 24-bit value. */
uint32_t acpi_pm_timer(struct acpi_pm *pm);

/*
 * Snapshot: the registers and how far the PM timer had run, so that after a
 * restore the timer continues from where it was instead of jumping.
 */
#define ACPI_PM_SNAP_VERSION 1
struct acpi_pm_snap {
    uint16_t pm1_sts, pm1_en, pm1_cnt, gpe0_sts, gpe0_en;
    uint16_t reserved[3];
    uint64_t timer_elapsed_ns;
};

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_snap *s);
int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_snap *s) MUST_CHECK;

#endif
