// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI fixed-hardware model through its ports: S5 power-off, the reset
 * register, the PM timer, PM1/GPE0 status and enable, and the power button
 * raising SCI.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/bus.h"
#include "devices/acpi_pm.h"

struct fixture {
    struct bus bus;
    struct acpi_pm pm;
    unsigned poweroffs, reboots;
    int sci;
    unsigned sci_changes;
};

static void rec_poweroff(void *opaque)
{
    ((struct fixture *)opaque)->poweroffs++;
}

static void rec_reboot(void *opaque)
{
    ((struct fixture *)opaque)->reboots++;
}

static void rec_sci(void *opaque, unsigned gsi, int level)
{
    struct fixture *f = opaque;
    assert_int_equal(gsi, X86_ACPI_SCI_IRQ);
    f->sci = level;
    f->sci_changes++;
}

static int setup(void **state)
{
    static const struct acpi_pm_callbacks cb = { .poweroff = rec_poweroff, .reboot = rec_reboot };
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(bus_init(&f->bus, "pio"), 0);
    struct irq_line sci = { .set_level = rec_sci, .opaque = f, .gsi = X86_ACPI_SCI_IRQ };
    assert_int_equal(acpi_pm_init(&f->pm, &cb, f, sci), 0);
    assert_int_equal(acpi_pm_register(&f->pm, &f->bus), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    acpi_pm_unregister(&f->bus);
    assert_int_equal(bus_range_count(&f->bus), 0);
    acpi_pm_destroy(&f->pm);
    bus_destroy(&f->bus);
    test_free(f);
    return 0;
}

static uint32_t in(struct fixture *f, uint16_t port, unsigned size)
{
    uint32_t v = 0;
    assert_true(bus_read(&f->bus, port, &v, size));
    return v;
}

static void out(struct fixture *f, uint16_t port, uint32_t v, unsigned size)
{
    assert_true(bus_write(&f->bus, port, &v, size));
}

static void test_poweroff(void **state)
{
    struct fixture *f = *state;
    assert_true(in(f, X86_ACPI_PM1A_CNT_PORT, 2) & ACPI_PM1_CNT_SCI_EN);
    /* Setting SLP_TYP alone, or sleeping in another state, does nothing. */
    out(f, X86_ACPI_PM1A_CNT_PORT, X86_ACPI_S5_SLP_TYP << ACPI_PM1_CNT_SLP_SHIFT, 2);
    out(f, X86_ACPI_PM1A_CNT_PORT, (3u << ACPI_PM1_CNT_SLP_SHIFT) | ACPI_PM1_CNT_SLP_EN, 2);
    assert_int_equal(f->poweroffs, 0);
    /* SLP_TYP=S5 with SLP_EN: power off. */
    out(f, X86_ACPI_PM1A_CNT_PORT,
        (X86_ACPI_S5_SLP_TYP << ACPI_PM1_CNT_SLP_SHIFT) | ACPI_PM1_CNT_SLP_EN, 2);
    assert_int_equal(f->poweroffs, 1);
    /* SLP_EN is write-only. */
    assert_false(in(f, X86_ACPI_PM1A_CNT_PORT, 2) & ACPI_PM1_CNT_SLP_EN);
    /* A byte write of the high half alone works too. */
    out(f, X86_ACPI_PM1A_CNT_PORT + 1,
        ((X86_ACPI_S5_SLP_TYP << ACPI_PM1_CNT_SLP_SHIFT) | ACPI_PM1_CNT_SLP_EN) >> 8, 1);
    assert_int_equal(f->poweroffs, 2);
    assert_int_equal(f->reboots, 0);
}

static void test_reset_register(void **state)
{
    struct fixture *f = *state;
    out(f, X86_ACPI_RESET_PORT, X86_ACPI_RESET_VALUE ^ 0xff, 1);
    assert_int_equal(f->reboots, 0);
    out(f, X86_ACPI_RESET_PORT, X86_ACPI_RESET_VALUE, 1);
    assert_int_equal(f->reboots, 1);
    assert_int_equal(f->poweroffs, 0);
}

static void test_timer_monotonic(void **state)
{
    struct fixture *f = *state;
    uint32_t prev = in(f, X86_ACPI_PM_TMR_PORT, 4);
    assert_int_equal(prev & ~ACPI_PM_TIMER_MASK, 0);
    uint32_t total = 0;
    /* Consecutive reads never go backwards (modulo the 24-bit wrap) and the
     * counter does advance. */
    for (int i = 0; i < 100000 && total == 0; i++) {
        uint32_t now = in(f, X86_ACPI_PM_TMR_PORT, 4);
        assert_int_equal(now & ~ACPI_PM_TIMER_MASK, 0);
        uint32_t delta = (now - prev) & ACPI_PM_TIMER_MASK;
        assert_true(delta < ACPI_PM_TIMER_MASK / 2);
        total += delta;
        prev = now;
    }
    assert_true(total > 0);
    /* Writes are ignored, not crashes. */
    out(f, X86_ACPI_PM_TMR_PORT, 0, 4);
}

static void test_power_button_sci(void **state)
{
    struct fixture *f = *state;
    /* Not enabled: status set, no SCI. */
    assert_false(acpi_pm_press_power_button(&f->pm));
    assert_int_equal(f->sci_changes, 0);
    assert_true(in(f, X86_ACPI_PM1A_EVT_PORT, 2) & ACPI_PM1_PWRBTN_STS);
    /* Enabling with the status pending raises SCI; W1C lowers it. */
    out(f, X86_ACPI_PM1A_EVT_PORT + 2, ACPI_PM1_PWRBTN_STS, 2);
    assert_int_equal(f->sci, 1);
    assert_int_equal(in(f, X86_ACPI_PM1A_EVT_PORT + 2, 2), ACPI_PM1_PWRBTN_STS);
    out(f, X86_ACPI_PM1A_EVT_PORT, 0, 2);  /* writing 0 clears nothing */
    assert_int_equal(f->sci, 1);
    out(f, X86_ACPI_PM1A_EVT_PORT, ACPI_PM1_PWRBTN_STS, 2);
    assert_int_equal(f->sci, 0);
    assert_false(in(f, X86_ACPI_PM1A_EVT_PORT, 2) & ACPI_PM1_PWRBTN_STS);

    /* Enabled: a press raises SCI straight away; a 32-bit access covers
     * status (low half) and enable (high half). */
    assert_true(acpi_pm_press_power_button(&f->pm));
    assert_int_equal(f->sci, 1);
    uint32_t both = in(f, X86_ACPI_PM1A_EVT_PORT, 4);
    assert_int_equal(both, ACPI_PM1_PWRBTN_STS | (uint32_t)ACPI_PM1_PWRBTN_STS << 16);
    out(f, X86_ACPI_PM1A_EVT_PORT, both, 4);
    assert_int_equal(f->sci, 0);
    assert_int_equal(in(f, X86_ACPI_PM1A_EVT_PORT + 2, 2), ACPI_PM1_PWRBTN_STS);
}

static void test_gpe0(void **state)
{
    struct fixture *f = *state;
    out(f, X86_ACPI_GPE0_PORT + 2, 0xbeef, 2);
    assert_int_equal(in(f, X86_ACPI_GPE0_PORT + 2, 2), 0xbeef);
    assert_int_equal(in(f, X86_ACPI_GPE0_PORT, 2), 0);
    out(f, X86_ACPI_GPE0_PORT, 0xffff, 2);
    assert_int_equal(in(f, X86_ACPI_GPE0_PORT + 2, 1), 0xef);
    assert_int_equal(f->sci_changes, 0);
    acpi_pm_reset(&f->pm);
    assert_int_equal(in(f, X86_ACPI_GPE0_PORT, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poweroff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_button_sci, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpe0, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
