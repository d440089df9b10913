// SPDX-License-Identifier: Apache-2.0
/*
 * i8042 register model. There is no keyboard: only controller commands are
 * answered, synchronously (the input buffer is never busy), and no interrupt
 * is ever raised, so IRQ 1 and IRQ 12 stay idle. What matters to guests is
 * that the controller looks sane when probed and that every reset path
 * (0xFE and the other pulse commands, 0xD1 with bit 0 clear, port 0x92)
 * reaches the `reset` callback.
 */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#define CMD_READ_CTR      0x20
#define CMD_WRITE_CTR     0x60
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_AUX_TEST      0xa9
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_TEST      0xab
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_READ_INPORT   0xc0
#define CMD_READ_OUTPORT  0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX     0xd4

#define SELF_TEST_OK      0x55
#define OUTPORT_RESET     0x01 /* active low */
#define OUTPORT_A20       0x02

static void reset_locked(struct i8042 *kbc)
{
    kbc->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE;
    kbc->status = I8042_STS_SYS;
    kbc->out_full = kbc->out_aux = false;
    kbc->out = 0;
    kbc->pending_cmd = 0;
    kbc->outport = OUTPORT_RESET | OUTPORT_A20;
    kbc->port92 = I8042_PORT92_A20;
}

int i8042_init(struct i8042 *kbc, void (*reset)(void *opaque), void *opaque)
{
    memset(kbc, 0, sizeof(*kbc));
    int err = pthread_mutex_init(&kbc->lock, NULL);
    if (err)
        return -err;
    kbc->reset = reset;
    kbc->opaque = opaque;
    reset_locked(kbc);
    return 0;
}

void i8042_destroy(struct i8042 *kbc)
{
    pthread_mutex_destroy(&kbc->lock);
}

void i8042_reset(struct i8042 *kbc)
{
    pthread_mutex_lock(&kbc->lock);
    reset_locked(kbc);
    pthread_mutex_unlock(&kbc->lock);
}

static void put_output(struct i8042 *kbc, uint8_t v, bool aux)
{
    kbc->out = v;
    kbc->out_full = true;
    kbc->out_aux = aux;
}

/* Returns true when the guest asked for a reset; the caller calls the
 * callback after dropping the lock. */
static bool command(struct i8042 *kbc, uint8_t cmd)
{
    kbc->pending_cmd = 0;
    switch (cmd) {
    case CMD_READ_CTR:
        put_output(kbc, kbc->ctr, false);
        break;
    case CMD_WRITE_CTR:
    case CMD_WRITE_OUTPORT:
    case CMD_WRITE_KBD_OUT:
    case CMD_WRITE_AUX_OUT:
    case CMD_WRITE_AUX:
        kbc->pending_cmd = cmd;
        break;
    case CMD_AUX_DISABLE:
        kbc->ctr |= I8042_CTR_AUXDIS;
        break;
    case CMD_AUX_ENABLE:
        kbc->ctr &= (uint8_t)~I8042_CTR_AUXDIS;
        break;
    case CMD_AUX_TEST:
    case CMD_KBD_TEST:
        put_output(kbc, 0x00, false); /* interface test passed */
        break;
    case CMD_SELF_TEST:
        kbc->status |= I8042_STS_SYS;
        put_output(kbc, SELF_TEST_OK, false);
        break;
    case CMD_KBD_DISABLE:
        kbc->ctr |= I8042_CTR_KBDDIS;
        break;
    case CMD_KBD_ENABLE:
        kbc->ctr &= (uint8_t)~I8042_CTR_KBDDIS;
        break;
    case CMD_READ_INPORT:
        put_output(kbc, 0x00, false);
        break;
    case CMD_READ_OUTPORT:
        put_output(kbc, kbc->outport, false);
        break;
    default:
        /* 0xF0-0xFF pulse output port bits 0-3 low for those bits that are
         * clear in the command; bit 0 is the CPU reset line. */
        if ((cmd & 0xf0) == 0xf0 && !(cmd & OUTPORT_RESET))
            return true;
        break;
    }
    return false;
}

/* A byte written to the data port: the argument of a pending command. Bytes
 * for the (absent) keyboard or mouse are dropped. */
static bool data(struct i8042 *kbc, uint8_t v)
{
    uint8_t cmd = kbc->pending_cmd;
    kbc->pending_cmd = 0;
    switch (cmd) {
    case CMD_WRITE_CTR:
        kbc->ctr = v;
        kbc->status = (uint8_t)((kbc->status & ~I8042_STS_SYS) | (v & I8042_CTR_SYS));
        break;
    case CMD_WRITE_OUTPORT:
        kbc->outport = v;
        if (!(v & OUTPORT_RESET))
            return true;
        break;
    case CMD_WRITE_KBD_OUT:
        put_output(kbc, v, false);
        break;
    case CMD_WRITE_AUX_OUT:
        put_output(kbc, v, true);
        break;
    default:
        break;
    }
    return false;
}

static void do_reset(struct i8042 *kbc, bool reset)
{
    if (reset && kbc->reset)
        kbc->reset(kbc->opaque);
}

static void data_read(void *opaque, uint64_t offset, void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    memset(buf, 0xff, size);
    if (size != 1)
        return;
    pthread_mutex_lock(&kbc->lock);
    /* Reading an empty buffer returns the stale byte, as real hardware does. */
    *(uint8_t *)buf = kbc->out;
    kbc->out_full = kbc->out_aux = false;
    pthread_mutex_unlock(&kbc->lock);
}

static void data_write(void *opaque, uint64_t offset, const void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    if (size != 1)
        return;
    pthread_mutex_lock(&kbc->lock);
    kbc->status &= (uint8_t)~I8042_STS_CMD;
    bool reset = data(kbc, *(const uint8_t *)buf);
    pthread_mutex_unlock(&kbc->lock);
    do_reset(kbc, reset);
}

static void cmd_read(void *opaque, uint64_t offset, void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    memset(buf, 0xff, size);
    if (size != 1)
        return;
    pthread_mutex_lock(&kbc->lock);
    uint8_t s = kbc->status;
    if (kbc->out_full)
        s |= I8042_STS_OBF;
    if (kbc->out_full && kbc->out_aux)
        s |= I8042_STS_AUXOBF;
    *(uint8_t *)buf = s;
    pthread_mutex_unlock(&kbc->lock);
}

static void cmd_write(void *opaque, uint64_t offset, const void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    if (size != 1)
        return;
    pthread_mutex_lock(&kbc->lock);
    kbc->status |= I8042_STS_CMD;
    bool reset = command(kbc, *(const uint8_t *)buf);
    pthread_mutex_unlock(&kbc->lock);
    do_reset(kbc, reset);
}

static void port92_read(void *opaque, uint64_t offset, void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    memset(buf, 0xff, size);
    if (size != 1)
        return;
    pthread_mutex_lock(&kbc->lock);
    *(uint8_t *)buf = kbc->port92;
    pthread_mutex_unlock(&kbc->lock);
}

static void port92_write(void *opaque, uint64_t offset, const void *buf, unsigned size)
{
    struct i8042 *kbc = opaque;
    if (size != 1)
        return;
    uint8_t v = *(const uint8_t *)buf;
    pthread_mutex_lock(&kbc->lock);
    /* Only A20 is kept (it reads back); the fast-reset bit is a pulse. */
    kbc->port92 = v & I8042_PORT92_A20;
    pthread_mutex_unlock(&kbc->lock);
    do_reset(kbc, v & I8042_PORT92_RESET);
}

const struct bus_ops i8042_data_ops = { .read = data_read, .write = data_write };
const struct bus_ops i8042_cmd_ops = { .read = cmd_read, .write = cmd_write };
const struct bus_ops i8042_port92_ops = { .read = port92_read, .write = port92_write };

void i8042_save(struct i8042 *kbc, struct i8042_snap *s)
{
    pthread_mutex_lock(&kbc->lock);
    *s = (struct i8042_snap){
        .ctr = kbc->ctr, .status = kbc->status, .out = kbc->out, .out_full = kbc->out_full,
        .out_aux = kbc->out_aux, .pending_cmd = kbc->pending_cmd, .outport = kbc->outport,
        .port92 = kbc->port92,
    };
    pthread_mutex_unlock(&kbc->lock);
}

int i8042_load(struct i8042 *kbc, const struct i8042_snap *s)
{
    if (s->out_full > 1 || s->out_aux > 1)
        return -EINVAL;
    pthread_mutex_lock(&kbc->lock);
    kbc->ctr = s->ctr;
    kbc->status = s->status;
    kbc->out = s->out;
    kbc->out_full = s->out_full;
    kbc->out_aux = s->out_aux;
    kbc->pending_cmd = s->pending_cmd;
    kbc->outport = s->outport;
    kbc->port92 = s->port92;
    pthread_mutex_unlock(&kbc->lock);
    return 0;
}
