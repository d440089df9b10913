// SPDX-License-Identifier: Apache-2.0
/*
 * COM1: the 16550A model on ports 0x3f8-0x3ff and IRQ 4, wired to the VM
 * console. Guest output goes to console_write(); console input is offered to
 * the UART's receive queue, and when the queue is full the console waits for
 * the UART's rx_space callback. Ctrl-A x on the console stops the VM.
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "devices/device.h"
#include "devices/platform_devices.h"
#include "devices/uart16550.h"
#include "snapshot/format.h"
#include "util/log.h"

struct serial {
    struct vm *vm;
    struct uart16550 uart;
};

static void serial_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct serial *s = opaque;
    console_write(&s->vm->console, buf, len);
}

static void serial_rx_space(void *opaque)
{
    struct serial *s = opaque;
    console_input_ready(&s->vm->console);
}

static size_t serial_input(void *opaque, const uint8_t *buf, size_t len)
{
    struct serial *s = opaque;
    return uart16550_receive(&s->uart, buf, len);
}

static void serial_quit(void *opaque)
{
    struct serial *s = opaque;
    vm_request_stop(s->vm, VM_EXIT_CONSOLE_QUIT, "terminated by Ctrl-A x");
}

static int serial_init(struct vm *vm, void **state)
{
    static const struct uart16550_callbacks cb = {
        .tx = serial_tx,
        .rx_space = serial_rx_space,
    };
    struct serial *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->vm = vm;
    int err = uart16550_init(&s->uart, &cb, s, vm_irq_line(vm, X86_COM1_IRQ));
    if (err)
        goto fail_free;
    err = bus_register(&vm->pio, X86_COM1_PORT, UART16550_NR_PORTS, &uart16550_bus_ops, &s->uart,
                       "com1");
    if (err) {
        log_error("serial", "cannot register COM1 at 0x%x: %d", X86_COM1_PORT, err);
        goto fail_uart;
    }
    err = console_attach(&vm->console, &vm->loop, serial_input, s, serial_quit, s);
    if (err) {
        log_error("serial", "cannot attach the console: %d", err);
        goto fail_bus;
    }
    *state = s;
    return 0;

fail_bus:
    bus_unregister(&vm->pio, X86_COM1_PORT);
fail_uart:
    uart16550_destroy(&s->uart);
fail_free:
    free(s);
    return err;
}

static void serial_exit(struct vm *vm, void *state)
{
    struct serial *s = state;
    if (!s)
        return;
    console_detach(&vm->console);
    bus_unregister(&vm->pio, X86_COM1_PORT);
    uart16550_destroy(&s->uart);
    free(s);
}

static void serial_reset(void *state)
{
    struct serial *s = state;
    uart16550_reset(&s->uart);
}

static int serial_save(void *state, struct snap_writer *w)
{
    struct serial *s = state;
    struct uart16550_snap snap;
    uart16550_save(&s->uart, &snap);
    return snap_write_device(w, "serial", UART16550_SNAP_VERSION, &snap, sizeof(snap));
}

static int serial_load(void *state, const struct snap_record *rec)
{
    struct serial *s = state;
    struct uart16550_snap snap;
    int err = snap_record_copy(rec, UART16550_SNAP_VERSION, &snap, sizeof(snap));
    return err ? err : uart16550_load(&s->uart, &snap);
}

const struct device_ops serial_device = {
    .name = "serial",
    .init = serial_init,
    .exit = serial_exit,
    .reset = serial_reset,
    .save = serial_save,
    .load = serial_load,
};
