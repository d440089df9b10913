/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The register model of a 16550A UART, with no knowledge of the VM: bytes the
 * guest transmits go to a callback, bytes for the guest are queued by
 * uart16550_receive(), the interrupt output is a level on a struct irq_line.
 * serial.c wires it to COM1 and the console; unit tests drive it through a bus.
 */
#ifndef CASULO_DEVICES_UART16550_H
#define CASULO_DEVICES_UART16550_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "util/compiler.h"

#define UART16550_NR_PORTS 8
/* Larger than the 16-byte FIFO: the console can hand over a whole paste. */
#define UART16550_RX_QUEUE 1024

/* Register offsets. */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NO_INT  0x01
#define UART_IIR_MSI     0x00
#define UART_IIR_THRI    0x02
#define UART_IIR_RDI     0x04
#define UART_IIR_RLSI    0x06
#define UART_IIR_TIMEOUT 0x0c
#define UART_IIR_FIFO    0xc0

#define UART_FCR_ENABLE  0x01
#define UART_FCR_CLR_RX  0x02
#define UART_FCR_CLR_TX  0x04
#define UART_FCR_TRIGGER 0xc0

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

/*
 * Callbacks run with the UART's lock held (so output stays in order and irq
 * levels never go out of sequence); they must not call back into the UART.
 */
struct uart16550_callbacks {
    /* The guest transmitted bytes. Output is instant: THR is empty on return. */
    void (*tx)(void *opaque, const uint8_t *buf, size_t len);
    /* The guest drained the receive queue after uart16550_receive() refused bytes. */
    void (*rx_space)(void *opaque);
};

/* All state of one UART; save/restore will serialise the register part. */
struct uart16550 {
    pthread_mutex_t lock;
    struct uart16550_callbacks cb;
    void *opaque;
    struct irq_line irq;

    uint8_t ier, lcr, mcr, scr, dll, dlm;
    uint8_t fcr;         /* last FCR value with FIFOs enabled (trigger bits) */
    uint8_t msr_delta;   /* DCTS/DDSR/TERI/DDCD, cleared by reading MSR */
    uint8_t msr_status;  /* CTS/DSR/RI/DCD as last computed */
    bool fifo_enabled;
    bool thre_pending;   /* THRE interrupt latched */
    bool overrun;        /* LSR.OE latched, cleared by reading LSR */
    bool rx_blocked;     /* receive() refused bytes: tell rx_space when drained */
    int irq_level;

    uint8_t rx[UART16550_RX_QUEUE];
    unsigned rx_head, rx_count;
};

int uart16550_init(struct uart16550 *u, const struct uart16550_callbacks *cb, void *opaque,
                   struct irq_line irq) MUST_CHECK;
void uart16550_destroy(struct uart16550 *u);
/* Power-on state; the receive queue is emptied. */
void uart16550_reset(struct uart16550 *u);

/* Queues bytes for the guest; returns how many fit (the rest: retry after rx_space). */
size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len);

/* Byte access to register `offset` (0..7). */
uint8_t uart16550_read(struct uart16550 *u, unsigned offset);
void uart16550_write(struct uart16550 *u, unsigned offset, uint8_t value);

/* Bus glue: register UART16550_NR_PORTS ports with the UART as opaque. */
extern const struct bus_ops uart16550_bus_ops;

/*
 * Snapshot of the guest-visible state (fixed layout; bump the version on any
 * change). The receive queue is stored oldest byte first.
 */
#define UART16550_SNAP_VERSION 1
struct uart16550_snap {
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, msr_delta;
    uint8_t fifo_enabled, thre_pending, overrun, reserved;
    uint16_t rx_count;
    uint16_t reserved2;
    uint8_t rx[UART16550_RX_QUEUE];
};

void uart16550_save(struct uart16550 *u, struct uart16550_snap *s);
/* Validates every field first (-EINVAL changes nothing), then applies and drives the IRQ line. */
int uart16550_load(struct uart16550 *u, const struct uart16550_snap *s) MUST_CHECK;

#endif
