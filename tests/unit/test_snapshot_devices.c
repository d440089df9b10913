// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the platform devices' snapshot state: the UART, i8042, RTC
 * and ACPI PM models survive a save/load into a fresh instance (what the
 * guest reads back is the same, and the UART's interrupt line is re-driven),
 * and a load with values the hardware could never hold is refused without
 * changing anything. Also the record helpers the device ops use.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/uart16550.h"
#include "snapshot/format.h"

struct line {
    int level;
    unsigned changes;
};

static void line_set(void *opaque, unsigned gsi, int level)
{
    struct line *l = opaque;
    (void)gsi;
    l->level = level;
    l->changes++;
}

static void uart_round_trip(void **state)
{
    (void)state;
    struct line l1 = { 0 }, l2 = { 0 };
    struct uart16550 a, b;
    assert_int_equal(uart16550_init(&a, NULL, NULL, (struct irq_line){ line_set, &l1, 4 }), 0);
    assert_int_equal(uart16550_init(&b, NULL, NULL, (struct irq_line){ line_set, &l2, 4 }), 0);
    uart16550_write(&a, UART_LCR, 0x83);          /* DLAB: set the divisor */
    uart16550_write(&a, UART_DLL, 0x0c);
    uart16550_write(&a, UART_LCR, 0x03);
    uart16550_write(&a, UART_FCR, UART_FCR_ENABLE | 0x40);
    uart16550_write(&a, UART_SCR, 0x5a);
    uart16550_write(&a, UART_MCR, UART_MCR_DTR | UART_MCR_OUT2);
    uart16550_write(&a, UART_IER, UART_IER_ERBFI);
    /* Read one byte so the queue does not start at index 0. */
    assert_int_equal(uart16550_receive(&a, (const uint8_t *)"xhello", 6), 6);
    assert_int_equal(uart16550_read(&a, UART_RBR), 'x');
    assert_int_equal(l1.level, 1);

    struct uart16550_snap snap;
    uart16550_save(&a, &snap);
    assert_int_equal(snap.rx_count, 5);
    assert_int_equal(uart16550_load(&b, &snap), 0);
    assert_int_equal(l2.level, 1);    /* data waiting with ERBFI: the line is up again */

    assert_int_equal(uart16550_read(&b, UART_SCR), 0x5a);
    assert_int_equal(uart16550_read(&b, UART_LCR), 0x03);
    assert_int_equal(uart16550_read(&b, UART_MCR), UART_MCR_DTR | UART_MCR_OUT2);
    assert_int_equal(uart16550_read(&b, UART_IER), UART_IER_ERBFI);
    assert_int_equal(uart16550_read(&b, UART_IIR) & 0xc0, UART_IIR_FIFO);
    uart16550_write(&b, UART_LCR, 0x83);
    assert_int_equal(uart16550_read(&b, UART_DLL), 0x0c);
    uart16550_write(&b, UART_LCR, 0x03);
    const char *want = "hello";
    for (unsigned i = 0; i < 5; i++) {
        assert_true(uart16550_read(&b, UART_LSR) & UART_LSR_DR);
        assert_int_equal(uart16550_read(&b, UART_RBR), want[i]);
    }
    assert_false(uart16550_read(&b, UART_LSR) & UART_LSR_DR);
    assert_int_equal(l2.level, 0);
    uart16550_destroy(&a);
    uart16550_destroy(&b);
}

static void uart_refuses_impossible_state(void **state)
{
    (void)state;
    struct uart16550 u;
    struct line l = { 0 };
    assert_int_equal(uart16550_init(&u, NULL, NULL, (struct irq_line){ line_set, &l, 4 }), 0);
    uart16550_write(&u, UART_SCR, 0x11);
    struct uart16550_snap good;
    uart16550_save(&u, &good);

    struct uart16550_snap bad[7];
    for (unsigned i = 0; i < 7; i++) {
        bad[i] = good;
        bad[i].scr = 0x99;
    }
    bad[0].rx_count = UART16550_RX_QUEUE + 1;
    bad[1].ier = 0x10;
    bad[2].mcr = 0x20;
    bad[3].fifo_enabled = 2;
    bad[4].fcr = 0x40;            /* trigger bits with FIFOs off */
    bad[5].overrun = 7;
    bad[6].msr_delta = 0x10;
    for (unsigned i = 0; i < 7; i++) {
        assert_int_equal(uart16550_load(&u, &bad[i]), -EINVAL);
        assert_int_equal(uart16550_read(&u, UART_SCR), 0x11);
    }
    uart16550_destroy(&u);
}

static void i8042_round_trip(void **state)
{
    (void)state;
    struct i8042 a, b;
    assert_int_equal(i8042_init(&a, NULL, NULL), 0);
    assert_int_equal(i8042_init(&b, NULL, NULL), 0);
    struct i8042_snap s;
    i8042_save(&a, &s);
    s.ctr = 0x47;
    s.port92 = 0x02;
    assert_int_equal(i8042_load(&b, &s), 0);
    struct i8042_snap back;
    i8042_save(&b, &back);
    assert_memory_equal(&back, &s, sizeof(s));
    s.out_full = 2;
    assert_int_equal(i8042_load(&b, &s), -EINVAL);
    i8042_save(&b, &back);
    assert_int_equal(back.out_full, 0);
    i8042_destroy(&a);
    i8042_destroy(&b);
}

static void rtc_round_trip(void **state)
{
    (void)state;
    struct rtc a, b;
    assert_int_equal(rtc_init(&a, NULL, NULL), 0);
    assert_int_equal(rtc_init(&b, NULL, NULL), 0);
    rtc_write(&a, 0, 0x40);
    rtc_write(&a, 1, 0xab);
    rtc_write(&a, 0, 0x41);       /* the index is state too */
    struct rtc_snap s;
    rtc_save(&a, &s);
    assert_int_equal(rtc_load(&b, &s), 0);
    rtc_write(&b, 1, 0xcd);       /* goes to 0x41 */
    rtc_write(&b, 0, 0x40);
    assert_int_equal(rtc_read(&b, 1), 0xab);
    rtc_write(&b, 0, 0x41);
    assert_int_equal(rtc_read(&b, 1), 0xcd);
    s.index = RTC_CMOS_SIZE;
    assert_int_equal(rtc_load(&b, &s), -EINVAL);
    rtc_destroy(&a);
    rtc_destroy(&b);
}

static void acpi_pm_round_trip(void **state)
{
    (void)state;
    struct line l = { 0 };
    struct acpi_pm a, b;
    assert_int_equal(acpi_pm_init(&a, NULL, NULL, (struct irq_line){ 0 }), 0);
    assert_int_equal(acpi_pm_init(&b, NULL, NULL, (struct irq_line){ line_set, &l, 9 }), 0);
    struct acpi_pm_snap s;
    acpi_pm_save(&a, &s);
    s.pm1_en = ACPI_PM1_PWRBTN_STS;
    s.pm1_sts = ACPI_PM1_PWRBTN_STS;
    s.timer_elapsed_ns = 1000000000ULL;   /* one second of PM timer */
    assert_int_equal(acpi_pm_load(&b, &s), 0);
    assert_int_equal(l.level, 1);          /* an enabled event pending: SCI is up */
    /* The timer continues from the saved second instead of starting at 0. */
    assert_true(acpi_pm_timer(&b) >= 3579545u);
    struct acpi_pm_snap back;
    acpi_pm_save(&b, &back);
    assert_int_equal(back.pm1_en, ACPI_PM1_PWRBTN_STS);
    assert_true(back.timer_elapsed_ns >= s.timer_elapsed_ns);

    struct acpi_pm_snap bad = s;
    bad.pm1_cnt = ACPI_PM1_CNT_SLP_EN;
    assert_int_equal(acpi_pm_load(&b, &bad), -EINVAL);
    bad = s;
    bad.timer_elapsed_ns = UINT64_MAX;
    assert_int_equal(acpi_pm_load(&b, &bad), -EINVAL);
    acpi_pm_destroy(&a);
    acpi_pm_destroy(&b);
}

static void record_copy_checks_version_and_size(void **state)
{
    (void)state;
    uint32_t payload = 0x12345678, out = 0;
    struct snap_record r = { .name = "dev.x", .version = 2, .length = 4,
                             .payload = (const uint8_t *)&payload };
    assert_int_equal(snap_record_copy(&r, 1, &out, 4), -EPROTONOSUPPORT);
    assert_int_equal(snap_record_copy(&r, 2, &out, 8), -EBADMSG);
    assert_int_equal(out, 0);
    assert_int_equal(snap_record_copy(&r, 2, &out, 4), 0);
    assert_int_equal(out, 0x12345678);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uart_round_trip),
        cmocka_unit_test(uart_refuses_impossible_state),
        cmocka_unit_test(i8042_round_trip),
        cmocka_unit_test(rtc_round_trip),
        cmocka_unit_test(acpi_pm_round_trip),
        cmocka_unit_test(record_copy_checks_version_and_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
