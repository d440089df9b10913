// SPDX-License-Identifier: Apache-2.0
/*
 * The legacy port map as a whole: COM1, the i8042, the RTC, the ACPI block
 * and the quiet ranges all register on one bus without overlapping, absent
 * hardware reads as all ones without being "unclaimed", and ports nobody
 * owns stay unclaimed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/bus.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/quiet.h"
#include "devices/rtc.h"
#include "devices/uart16550.h"

static void test_port_map(void **state)
{
    struct bus bus;
    struct uart16550 uart;
    struct i8042 kbc;
    struct rtc rtc;
    struct acpi_pm pm;
    assert_int_equal(bus_init(&bus, "pio"), 0);
    assert_int_equal(uart16550_init(&uart, NULL, NULL, (struct irq_line){ 0 }), 0);
    assert_int_equal(i8042_init(&kbc, NULL, NULL), 0);
    assert_int_equal(rtc_init(&rtc, NULL, NULL), 0);
    assert_int_equal(acpi_pm_init(&pm, NULL, NULL, (struct irq_line){ 0 }), 0);

    assert_int_equal(acpi_pm_register(&pm, &bus), 0);
    assert_int_equal(bus_register(&bus, X86_RTC_PORT, RTC_NR_PORTS, &rtc_bus_ops, &rtc, "rtc"), 0);
    assert_int_equal(bus_register(&bus, X86_I8042_DATA_PORT, 1, &i8042_data_ops, &kbc, "d"), 0);
    assert_int_equal(bus_register(&bus, X86_I8042_CMD_PORT, 1, &i8042_cmd_ops, &kbc, "c"), 0);
    assert_int_equal(bus_register(&bus, I8042_PORT92, 1, &i8042_port92_ops, &kbc, "92"), 0);
    assert_int_equal(quiet_register(&bus), 0);
    assert_int_equal(bus_register(&bus, X86_COM1_PORT, UART16550_NR_PORTS, &uart16550_bus_ops,
                                  &uart, "com1"), 0);

    /* Absent COM2..4: the 8250 driver sees 0xff and finds no UART. */
    static const uint16_t absent[] = { 0x2f8 + 5, 0x3e8 + 2, 0x2e8 + 6, 0x1f7, 0x3da, 0x511 };
    for (unsigned i = 0; i < ARRAY_SIZE(absent); i++) {
        uint8_t v = 0;
        assert_true(bus_read(&bus, absent[i], &v, 1));
        assert_int_equal(v, 0xff);
    }
    uint8_t post = 0x12;
    assert_true(bus_write(&bus, X86_POST_PORT, &post, 1));
    assert_true(bus_write(&bus, 0xed, &post, 1));

    /* COM1 is a real UART: its scratch register holds a value. */
    uint8_t v = 0x5a;
    assert_true(bus_write(&bus, X86_COM1_PORT + UART_SCR, &v, 1));
    v = 0;
    assert_true(bus_read(&bus, X86_COM1_PORT + UART_SCR, &v, 1));
    assert_int_equal(v, 0x5a);

    /* Nobody owns 0x3f0 or 0x61 here: unclaimed. */
    assert_false(bus_read(&bus, 0x3f0, &v, 1));
    assert_false(bus_read(&bus, 0x61, &v, 1));

    quiet_unregister(&bus);
    acpi_pm_unregister(&bus);
    assert_false(bus_read(&bus, 0x2f8, &v, 1));
    assert_false(bus_read(&bus, X86_ACPI_PM_TMR_PORT, &v, 1));

    acpi_pm_destroy(&pm);
    rtc_destroy(&rtc);
    i8042_destroy(&kbc);
    uart16550_destroy(&uart);
    bus_destroy(&bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
