// SPDX-License-Identifier: Apache-2.0
/*
 * The 16550A model driven through a port bus the way a guest drives it:
 * Linux's 8250 autoconfig probe, transmit, receive with interrupts, the
 * THRE re-arm rule, loopback, and receive-queue overflow and back-pressure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/bus.h"
#include "devices/uart16550.h"

#define BASE 0x3f8

struct fixture {
    struct bus bus;
    struct uart16550 uart;
    uint8_t tx[4096];
    size_t tx_len;
    int level;              /* last level set on the irq line */
    unsigned level_changes;
    unsigned rx_space_calls;
};

static void rec_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct fixture *f = opaque;
    assert_true(f->tx_len + len <= sizeof(f->tx));
    memcpy(f->tx + f->tx_len, buf, len);
    f->tx_len += len;
}

static void rec_rx_space(void *opaque)
{
    struct fixture *f = opaque;
    f->rx_space_calls++;
}

static void rec_irq(void *opaque, unsigned gsi, int level)
{
    struct fixture *f = opaque;
    assert_int_equal(gsi, 4);
    f->level = level;
    f->level_changes++;
}

static int setup(void **state)
{
    static const struct uart16550_callbacks cb = { .tx = rec_tx, .rx_space = rec_rx_space };
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(bus_init(&f->bus, "pio"), 0);
    struct irq_line irq = { .set_level = rec_irq, .opaque = f, .gsi = 4 };
    assert_int_equal(uart16550_init(&f->uart, &cb, f, irq), 0);
    assert_int_equal(bus_register(&f->bus, BASE, UART16550_NR_PORTS, &uart16550_bus_ops, &f->uart,
                                  "com1"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uart16550_destroy(&f->uart);
    bus_destroy(&f->bus);
    test_free(f);
    return 0;
}

static uint8_t in8(struct fixture *f, unsigned reg)
{
    uint8_t v = 0;
    assert_true(bus_read(&f->bus, BASE + reg, &v, 1));
    return v;
}

static void out8(struct fixture *f, unsigned reg, uint8_t v)
{
    assert_true(bus_write(&f->bus, BASE + reg, &v, 1));
}

/* The checks drivers/tty/serial/8250 autoconfig() makes, in its order. */
static void test_linux_autoconfig(void **state)
{
    struct fixture *f = *state;

    /* Scratch test through IER: 0 reads 0, 0x0f reads 0x0f. */
    uint8_t saved_ier = in8(f, UART_IER);
    out8(f, UART_IER, 0);
    assert_int_equal(in8(f, UART_IER) & 0x0f, 0);
    out8(f, UART_IER, 0x0f);
    assert_int_equal(in8(f, UART_IER) & 0x0f, 0x0f);
    out8(f, UART_IER, saved_ier);
    /* Bits 4-7 are not there (so it is no XScale/UUE part). */
    out8(f, UART_IER, 0xf0);
    assert_int_equal(in8(f, UART_IER), 0);

    /* Scratch register holds a byte. */
    out8(f, UART_SCR, 0xa5);
    assert_int_equal(in8(f, UART_SCR), 0xa5);
    out8(f, UART_SCR, 0x5a);
    assert_int_equal(in8(f, UART_SCR), 0x5a);

    /* Loopback: MSR's top nibble follows MCR (RTS->CTS, OUT2->DCD). */
    out8(f, UART_MCR, UART_MCR_LOOP | 0x0a);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
    out8(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
    out8(f, UART_MCR, 0);
    /* Out of loopback the modem lines say "connected". */
    assert_int_equal(in8(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);

    /* FIFO detection: IIR bits 7:6 are 11 with FIFOs on, 00 with them off. */
    assert_int_equal(in8(f, UART_IIR) & 0xc0, 0);
    out8(f, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(in8(f, UART_IIR) & 0xc0, 0xc0);
    /* No 64-byte FIFO (16750 check: IIR bit 5 stays 0). */
    out8(f, UART_FCR, UART_FCR_ENABLE | 0x20);
    assert_int_equal(in8(f, UART_IIR) & 0x20, 0);
    /* With DLAB set, offset 2 is still IIR, never an EFR reading 0. */
    out8(f, UART_LCR, UART_LCR_DLAB);
    assert_int_not_equal(in8(f, UART_IIR), 0);
    out8(f, UART_LCR, 0xbf);
    assert_int_not_equal(in8(f, UART_IIR), 0);

    /* Divisor latch round trip, and DLAB hides/reveals IER. */
    out8(f, UART_LCR, UART_LCR_DLAB);
    out8(f, UART_DLL, 0x0c);
    out8(f, UART_DLM, 0x34);
    assert_int_equal(in8(f, UART_DLL), 0x0c);
    assert_int_equal(in8(f, UART_DLM), 0x34);
    out8(f, UART_LCR, 0x03);
    assert_int_equal(in8(f, UART_LCR), 0x03);
    assert_int_equal(in8(f, UART_IER), saved_ier);
    out8(f, UART_LCR, 0x83);
    assert_int_equal(in8(f, UART_DLL), 0x0c);
    out8(f, UART_LCR, 0x03);

    /* Idle line status: transmitter empty, nothing received. */
    assert_int_equal(in8(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    /* No transmitted bytes leaked out during the probe. */
    assert_int_equal(f->tx_len, 0);
}

static void test_tx(void **state)
{
    struct fixture *f = *state;
    const char *msg = "Linux version\r\n";
    for (const char *p = msg; *p; p++) {
        assert_true(in8(f, UART_LSR) & UART_LSR_THRE);
        out8(f, UART_THR, (uint8_t)*p);
    }
    assert_int_equal(f->tx_len, strlen(msg));
    assert_memory_equal(f->tx, msg, strlen(msg));
    /* DLAB writes to offset 0 go to the divisor, not the wire. */
    out8(f, UART_LCR, UART_LCR_DLAB);
    out8(f, UART_THR, 'X');
    assert_int_equal(f->tx_len, strlen(msg));
}

static void test_rx_interrupts(void **state)
{
    struct fixture *f = *state;

    /* Not enabled: data waits, no interrupt. */
    assert_int_equal(uart16550_receive(&f->uart, (const uint8_t *)"ab", 2), 2);
    assert_int_equal(f->level_changes, 0);
    assert_true(in8(f, UART_LSR) & UART_LSR_DR);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_NO_INT);

    /* Enabling ERBFI with data present raises the line at once. */
    out8(f, UART_IER, UART_IER_ERBFI);
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_RDI);
    assert_int_equal(in8(f, UART_RBR), 'a');
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_RBR), 'b');
    assert_int_equal(f->level, 0);
    assert_false(in8(f, UART_LSR) & UART_LSR_DR);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_NO_INT);

    /* With FIFOs at trigger level 8: below it, a character timeout. */
    out8(f, UART_FCR, UART_FCR_ENABLE | 0x80);
    assert_int_equal(uart16550_receive(&f->uart, (const uint8_t *)"xyz", 3), 3);
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_FIFO | UART_IIR_TIMEOUT);
    assert_int_equal(uart16550_receive(&f->uart, (const uint8_t *)"12345", 5), 5);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);

    /* FCR clear-RX empties the queue and drops the line. */
    out8(f, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX);
    assert_int_equal(f->level, 0);
    assert_false(in8(f, UART_LSR) & UART_LSR_DR);
}

static void test_thre_rearm(void **state)
{
    struct fixture *f = *state;

    /* Linux's startup THRE test: setting ETBEI on an empty THR interrupts. */
    out8(f, UART_IER, UART_IER_ETBEI);
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_THRI);
    /* Reading IIR while THRE was shown acknowledged it. */
    assert_int_equal(f->level, 0);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_NO_INT);
    /* Clearing and setting ETBEI re-arms it. */
    out8(f, UART_IER, 0);
    out8(f, UART_IER, UART_IER_ETBEI);
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_THRI);

    /* Each transmitted byte empties THR again: a new THRE interrupt. */
    out8(f, UART_THR, 'q');
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_THRI);
    assert_int_equal(f->level, 0);

    /* RDA outranks THRE; reading IIR then leaves THRE pending. */
    out8(f, UART_THR, 'r');
    out8(f, UART_IER, UART_IER_ETBEI | UART_IER_ERBFI);
    assert_int_equal(uart16550_receive(&f->uart, (const uint8_t *)"!", 1), 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_RDI);
    assert_int_equal(in8(f, UART_RBR), '!');
    assert_int_equal(f->level, 1);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_THRI);
    assert_int_equal(f->level, 0);
    assert_memory_equal(f->tx, "qr", 2);
}

static void test_loopback_and_overrun(void **state)
{
    struct fixture *f = *state;

    out8(f, UART_MCR, UART_MCR_LOOP);
    out8(f, UART_THR, 0x42);
    assert_int_equal(f->tx_len, 0); /* looped, not sent */
    assert_true(in8(f, UART_LSR) & UART_LSR_DR);
    assert_int_equal(in8(f, UART_RBR), 0x42);

    /* Fill the receive queue, then one more looped byte overruns. */
    uint8_t buf[UART16550_RX_QUEUE];
    memset(buf, 'z', sizeof(buf));
    assert_int_equal(uart16550_receive(&f->uart, buf, sizeof(buf)), sizeof(buf));
    out8(f, UART_IER, UART_IER_ELSI | UART_IER_ERBFI);
    out8(f, UART_THR, 0x43);
    /* Line status outranks received data. */
    assert_int_equal(in8(f, UART_IIR), UART_IIR_RLSI);
    assert_int_equal(in8(f, UART_LSR), UART_LSR_OE | UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
    /* Reading LSR cleared OE; received data is next. */
    assert_false(in8(f, UART_LSR) & UART_LSR_OE);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_RDI);

    /* Modem status interrupt from MCR changes in loopback. */
    out8(f, UART_IER, UART_IER_EDSSI);
    (void)in8(f, UART_MSR);
    out8(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_MSI);
    assert_int_equal(in8(f, UART_MSR), UART_MSR_CTS | UART_MSR_DCTS);
    assert_int_equal(in8(f, UART_IIR), UART_IIR_NO_INT);
}

static void test_rx_backpressure(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[UART16550_RX_QUEUE + 100];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;

    size_t n = uart16550_receive(&f->uart, buf, sizeof(buf));
    assert_int_equal(n, UART16550_RX_QUEUE);
    assert_int_equal(uart16550_receive(&f->uart, buf + n, 1), 0);
    /* Not an overrun: the sender keeps the bytes. */
    assert_false(in8(f, UART_LSR) & UART_LSR_OE);

    /* Draining tells the sender once, after enough room is free. */
    size_t i = 0;
    while (f->rx_space_calls == 0) {
        assert_true(i < UART16550_RX_QUEUE);
        assert_int_equal(in8(f, UART_RBR), buf[i]);
        i++;
    }
    assert_true(i >= 1);
    assert_int_equal(f->rx_space_calls, 1);
    size_t m = uart16550_receive(&f->uart, buf + n, sizeof(buf) - n);
    assert_int_equal(m, sizeof(buf) - n);
    /* Order is preserved across the refusal. */
    for (; i < sizeof(buf); i++)
        assert_int_equal(in8(f, UART_RBR), buf[i]);
    assert_false(in8(f, UART_LSR) & UART_LSR_DR);
    assert_int_equal(f->rx_space_calls, 1);
}

static void test_wide_access(void **state)
{
    struct fixture *f = *state;
    uint16_t v = 0;
    assert_true(bus_read(&f->bus, BASE, &v, 2));
    assert_int_equal(v, 0xffff);
    uint16_t w = 0x4141;
    assert_true(bus_write(&f->bus, BASE, &w, 2));
    assert_int_equal(f->tx_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_linux_autoconfig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thre_rearm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_and_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
