// SPDX-License-Identifier: Apache-2.0
/*
 * The i8042 controller model through a port bus: the probe commands Linux
 * and firmware send, and every reset path reaching the reset callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/bus.h"
#include "devices/i8042.h"

struct fixture {
    struct bus bus;
    struct i8042 kbc;
    unsigned resets;
};

static void rec_reset(void *opaque)
{
    struct fixture *f = opaque;
    f->resets++;
}

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(bus_init(&f->bus, "pio"), 0);
    assert_int_equal(i8042_init(&f->kbc, rec_reset, f), 0);
    assert_int_equal(bus_register(&f->bus, 0x60, 1, &i8042_data_ops, &f->kbc, "data"), 0);
    assert_int_equal(bus_register(&f->bus, 0x64, 1, &i8042_cmd_ops, &f->kbc, "cmd"), 0);
    assert_int_equal(bus_register(&f->bus, 0x92, 1, &i8042_port92_ops, &f->kbc, "p92"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    i8042_destroy(&f->kbc);
    bus_destroy(&f->bus);
    test_free(f);
    return 0;
}

static uint8_t in8(struct fixture *f, uint16_t port)
{
    uint8_t v = 0;
    assert_true(bus_read(&f->bus, port, &v, 1));
    return v;
}

static void out8(struct fixture *f, uint16_t port, uint8_t v)
{
    assert_true(bus_write(&f->bus, port, &v, 1));
}

/* Sends a command and returns the byte it put in the output buffer. */
static uint8_t command_reply(struct fixture *f, uint8_t cmd)
{
    out8(f, 0x64, cmd);
    uint8_t st = in8(f, 0x64);
    assert_true(st & I8042_STS_OBF);
    assert_false(st & I8042_STS_IBF);
    uint8_t v = in8(f, 0x60);
    assert_false(in8(f, 0x64) & I8042_STS_OBF);
    return v;
}

static void test_probe(void **state)
{
    struct fixture *f = *state;
    uint8_t st = in8(f, 0x64);
    assert_false(st & (I8042_STS_OBF | I8042_STS_IBF));
    assert_true(st & I8042_STS_SYS);

    assert_int_equal(command_reply(f, 0xaa), 0x55);
    assert_int_equal(command_reply(f, 0xab), 0x00);

    /* Command byte round trip, and SYS in status follows its bit 2. */
    uint8_t ctr = command_reply(f, 0x20);
    out8(f, 0x64, 0x60);
    out8(f, 0x60, 0x30);
    assert_int_equal(command_reply(f, 0x20), 0x30);
    assert_false(in8(f, 0x64) & I8042_STS_SYS);
    out8(f, 0x64, 0x60);
    out8(f, 0x60, ctr);
    assert_int_equal(command_reply(f, 0x20), ctr);

    /* Disable/enable keyboard and aux show up in the command byte. */
    out8(f, 0x64, 0xad);
    out8(f, 0x64, 0xa7);
    uint8_t c = command_reply(f, 0x20);
    assert_true(c & I8042_CTR_KBDDIS);
    assert_true(c & I8042_CTR_AUXDIS);
    out8(f, 0x64, 0xae);
    out8(f, 0x64, 0xa8);
    c = command_reply(f, 0x20);
    assert_false(c & I8042_CTR_KBDDIS);
    assert_false(c & I8042_CTR_AUXDIS);

    /* Aux loopback (0xD3) sets the aux bit with the output byte. */
    out8(f, 0x64, 0xd3);
    out8(f, 0x60, 0x5a);
    st = in8(f, 0x64);
    assert_true(st & I8042_STS_OBF);
    assert_true(st & I8042_STS_AUXOBF);
    assert_int_equal(in8(f, 0x60), 0x5a);
    assert_false(in8(f, 0x64) & I8042_STS_AUXOBF);

    /* Bytes for the absent keyboard are dropped, no reply appears. */
    out8(f, 0x60, 0xff);
    assert_false(in8(f, 0x64) & I8042_STS_OBF);
    assert_int_equal(f->resets, 0);
}

static void test_reset_command(void **state)
{
    struct fixture *f = *state;
    /* Odd pulse commands leave the reset line alone. */
    out8(f, 0x64, 0xff);
    assert_int_equal(f->resets, 0);
    out8(f, 0x64, 0xfe);
    assert_int_equal(f->resets, 1);
}

static void test_reset_outport(void **state)
{
    struct fixture *f = *state;
    uint8_t port = command_reply(f, 0xd0);
    assert_true(port & 0x01);
    out8(f, 0x64, 0xd1);
    out8(f, 0x60, port | 0x01);  /* reset bit kept high: nothing */
    assert_int_equal(f->resets, 0);
    out8(f, 0x64, 0xd1);
    out8(f, 0x60, port & 0xfe);
    assert_int_equal(f->resets, 1);
}

static void test_port92(void **state)
{
    struct fixture *f = *state;
    assert_true(in8(f, 0x92) & I8042_PORT92_A20);
    out8(f, 0x92, 0);
    assert_int_equal(in8(f, 0x92), 0);
    out8(f, 0x92, I8042_PORT92_A20);
    assert_int_equal(in8(f, 0x92), I8042_PORT92_A20);
    assert_int_equal(f->resets, 0);
    out8(f, 0x92, I8042_PORT92_A20 | I8042_PORT92_RESET);
    assert_int_equal(f->resets, 1);
    /* The reset bit is a pulse, it does not read back. */
    assert_int_equal(in8(f, 0x92), I8042_PORT92_A20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_outport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port92, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
