// SPDX-License-Identifier: Apache-2.0
/*
 * 16550A UART register model. Transmission is instant (THR and the shift
 * register are always empty after a write), so the model needs no timers;
 * received bytes wait in a queue larger than the real 16-byte FIFO. Linux's
 * 8250 driver probes the chip (scratch, loopback, FIFO and THRE tests), so
 * the corner cases it checks are modelled exactly; see the comments below.
 */
#include "devices/uart16550.h"

#include <errno.h>
#include <string.h>

static const uint8_t rx_trigger_levels[4] = { 1, 4, 8, 14 };

/* Modem status lines: in loopback they mirror MCR, otherwise the "cable" is
 * always connected (DCD, DSR, CTS) so getty and the driver never wait. */
static uint8_t msr_lines(const struct uart16550 *u)
{
    if (!(u->mcr & UART_MCR_LOOP))
        return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    uint8_t s = 0;
    if (u->mcr & UART_MCR_RTS)
        s |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_DTR)
        s |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_OUT1)
        s |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        s |= UART_MSR_DCD;
    return s;
}

/* Recomputes the modem lines and latches delta bits for the lines that moved. */
static void update_msr(struct uart16550 *u)
{
    uint8_t now = msr_lines(u);
    uint8_t changed = now ^ u->msr_status;
    if (changed & UART_MSR_CTS)
        u->msr_delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        u->msr_delta |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD)
        u->msr_delta |= UART_MSR_DDCD;
    /* TERI is the trailing edge only: RI went from 1 to 0. */
    if ((changed & UART_MSR_RI) && !(now & UART_MSR_RI))
        u->msr_delta |= UART_MSR_TERI;
    u->msr_status = now;
}

/* The highest-priority pending source, as IIR bits 0-3. */
static uint8_t pending_source(const struct uart16550 *u)
{
    if ((u->ier & UART_IER_ELSI) && u->overrun)
        return UART_IIR_RLSI;
    if ((u->ier & UART_IER_ERBFI) && u->rx_count) {
        /* Below the trigger level a real FIFO reports a character timeout
         * after four character times; with no clock we report it at once. */
        if (u->fifo_enabled && u->rx_count < rx_trigger_levels[u->fcr >> 6])
            return UART_IIR_TIMEOUT;
        return UART_IIR_RDI;
    }
    if ((u->ier & UART_IER_ETBEI) && u->thre_pending)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_EDSSI) && u->msr_delta)
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

static void update_irq(struct uart16550 *u)
{
    int level = pending_source(u) != UART_IIR_NO_INT;
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_line_set(&u->irq, level);
    }
}

static unsigned rx_free(const struct uart16550 *u)
{
    return UART16550_RX_QUEUE - u->rx_count;
}

/* Appends what fits; caller holds the lock. */
static size_t rx_push(struct uart16550 *u, const uint8_t *buf, size_t len)
{
    size_t n = MIN(len, (size_t)rx_free(u));
    for (size_t i = 0; i < n; i++)
        u->rx[(u->rx_head + u->rx_count + i) % UART16550_RX_QUEUE] = buf[i];
    u->rx_count += (unsigned)n;
    return n;
}

/* Tells the receiver side it may send again once half the queue is free, so
 * a guest reading byte by byte does not cause one wake-up per byte. */
static void maybe_rx_space(struct uart16550 *u)
{
    if (u->rx_blocked && rx_free(u) >= UART16550_RX_QUEUE / 2) {
        u->rx_blocked = false;
        if (u->cb.rx_space)
            u->cb.rx_space(u->opaque);
    }
}

static void clear_rx(struct uart16550 *u)
{
    u->rx_head = u->rx_count = 0;
    maybe_rx_space(u);
}

static void reset_locked(struct uart16550 *u)
{
    u->ier = u->lcr = u->mcr = u->scr = 0;
    /* 115200 baud from the 1.8432 MHz clock: what firmware leaves behind. */
    u->dll = 1;
    u->dlm = 0;
    u->fcr = 0;
    u->fifo_enabled = false;
    u->thre_pending = false;
    u->overrun = false;
    u->msr_status = msr_lines(u);
    u->msr_delta = 0;
    u->rx_head = u->rx_count = 0;
    maybe_rx_space(u);
    update_irq(u);
}

int uart16550_init(struct uart16550 *u, const struct uart16550_callbacks *cb, void *opaque,
                   struct irq_line irq)
{
    memset(u, 0, sizeof(*u));
    int err = pthread_mutex_init(&u->lock, NULL);
    if (err)
        return -err;
    if (cb)
        u->cb = *cb;
    u->opaque = opaque;
    u->irq = irq;
    reset_locked(u);
    return 0;
}

void uart16550_destroy(struct uart16550 *u)
{
    pthread_mutex_destroy(&u->lock);
}

void uart16550_reset(struct uart16550 *u)
{
    pthread_mutex_lock(&u->lock);
    u->rx_blocked = true; /* whoever was waiting may send again */
    reset_locked(u);
    pthread_mutex_unlock(&u->lock);
}

size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&u->lock);
    size_t n = rx_push(u, buf, len);
    if (n < len)
        u->rx_blocked = true;
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
    if (u->mcr & UART_MCR_LOOP) {
        /* The byte loops back to the receiver; a full receiver overruns. */
        if (rx_push(u, &byte, 1) == 0)
            u->overrun = true;
    } else if (u->cb.tx) {
        u->cb.tx(u->opaque, &byte, 1);
    }
    /* The holding register emptied again: a new THRE interrupt (Linux's
     * transmit path waits for it before sending the next batch). */
    u->thre_pending = true;
}

static uint8_t read_locked(struct uart16550 *u, unsigned offset)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    uint8_t v;

    switch (offset) {
    case UART_RBR:
        if (dlab)
            return u->dll;
        if (!u->rx_count)
            return 0;
        v = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART16550_RX_QUEUE;
        u->rx_count--;
        maybe_rx_space(u);
        return v;
    case UART_IER:
        return dlab ? u->dlm : u->ier;
    case UART_IIR:
        v = pending_source(u);
        /* Reading IIR acknowledges a THRE interrupt, only when it is the one shown. */
        if (v == UART_IIR_THRI)
            u->thre_pending = false;
        return v | (u->fifo_enabled ? UART_IIR_FIFO : 0);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        v = UART_LSR_THRE | UART_LSR_TEMT;
        if (u->rx_count)
            v |= UART_LSR_DR;
        if (u->overrun)
            v |= UART_LSR_OE;
        u->overrun = false;
        return v;
    case UART_MSR:
        v = u->msr_status | u->msr_delta;
        u->msr_delta = 0;
        return v;
    case UART_SCR:
        return u->scr;
    default:
        return 0xff;
    }
}

static void write_locked(struct uart16550 *u, unsigned offset, uint8_t value)
{
    bool dlab = u->lcr & UART_LCR_DLAB;

    switch (offset) {
    case UART_THR:
        if (dlab) {
            u->dll = value;
        } else {
            u->thre_pending = false;
            transmit(u, value);
        }
        break;
    case UART_IER:
        if (dlab) {
            u->dlm = value;
        } else {
            uint8_t old = u->ier;
            u->ier = value & 0x0f;
            /* Enabling ETBEI while THR is empty (always, here) raises THRE:
             * Linux's startup test and its start_tx both rely on it. */
            if (!(old & UART_IER_ETBEI) && (u->ier & UART_IER_ETBEI))
                u->thre_pending = true;
        }
        break;
    case UART_FCR: {
        bool enable = value & UART_FCR_ENABLE;
        if (enable != u->fifo_enabled) {
            /* Switching the FIFOs on or off clears them. */
            clear_rx(u);
            u->fifo_enabled = enable;
        }
        if (enable) {
            if (value & UART_FCR_CLR_RX)
                clear_rx(u);
            u->fcr = value & UART_FCR_TRIGGER;
        } else {
            u->fcr = 0;
        }
        break;
    }
    case UART_LCR:
        u->lcr = value;
        break;
    case UART_MCR:
        u->mcr = value & 0x1f;
        update_msr(u);
        break;
    case UART_LSR:
    case UART_MSR:
        break; /* read-only */
    case UART_SCR:
        u->scr = value;
        break;
    default:
        break;
    }
}

uint8_t uart16550_read(struct uart16550 *u, unsigned offset)
{
    pthread_mutex_lock(&u->lock);
    uint8_t v = read_locked(u, offset);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

void uart16550_write(struct uart16550 *u, unsigned offset, uint8_t value)
{
    pthread_mutex_lock(&u->lock);
    write_locked(u, offset, value);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

/* The UART is byte-wide: wider accesses read all ones and are ignored. */
static void bus_read_uart(void *opaque, uint64_t offset, void *data, unsigned size)
{
    if (size != 1 || offset >= UART16550_NR_PORTS) {
        memset(data, 0xff, size);
        return;
    }
    *(uint8_t *)data = uart16550_read(opaque, (unsigned)offset);
}

static void bus_write_uart(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    if (size != 1 || offset >= UART16550_NR_PORTS)
        return;
    uart16550_write(opaque, (unsigned)offset, *(const uint8_t *)data);
}

const struct bus_ops uart16550_bus_ops = {
    .read = bus_read_uart,
    .write = bus_write_uart,
};

void uart16550_save(struct uart16550 *u, struct uart16550_snap *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&u->lock);
    s->ier = u->ier;
    s->lcr = u->lcr;
    s->mcr = u->mcr;
    s->scr = u->scr;
    s->dll = u->dll;
    s->dlm = u->dlm;
    s->fcr = u->fcr;
    s->msr_delta = u->msr_delta;
    s->fifo_enabled = u->fifo_enabled;
    s->thre_pending = u->thre_pending;
    s->overrun = u->overrun;
    s->rx_count = (uint16_t)u->rx_count;
    for (unsigned i = 0; i < u->rx_count; i++)
        s->rx[i] = u->rx[(u->rx_head + i) % UART16550_RX_QUEUE];
    pthread_mutex_unlock(&u->lock);
}

int uart16550_load(struct uart16550 *u, const struct uart16550_snap *s)
{
    /* Only values the register writes themselves could have produced. */
    if ((s->ier & ~0x0fu) || (s->mcr & ~0x1fu) || (s->fcr & ~UART_FCR_TRIGGER) ||
        (s->msr_delta & ~0x0fu) || s->fifo_enabled > 1 || s->thre_pending > 1 || s->overrun > 1 ||
        (!s->fifo_enabled && s->fcr) || s->rx_count > UART16550_RX_QUEUE)
        return -EINVAL;
    pthread_mutex_lock(&u->lock);
    u->ier = s->ier;
    u->lcr = s->lcr;
    u->mcr = s->mcr;
    u->scr = s->scr;
    u->dll = s->dll;
    u->dlm = s->dlm;
    u->fcr = s->fcr;
    u->msr_delta = s->msr_delta;
    u->msr_status = msr_lines(u);
    u->fifo_enabled = s->fifo_enabled;
    u->thre_pending = s->thre_pending;
    u->overrun = s->overrun;
    u->rx_head = 0;
    u->rx_count = s->rx_count;
    memcpy(u->rx, s->rx, s->rx_count);
    /* A new console is not waiting for room. */
    u->rx_blocked = false;
    /* Re-drive the line from the loaded state: the in-kernel irqchip's view of it starts at 0. */
    u->irq_level = 0;
    irq_line_set(&u->irq, 0);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return 0;
}
