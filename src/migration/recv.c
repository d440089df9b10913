// SPDX-License-Identifier: Apache-2.0
/*
 * The destination (`casulo run --incoming tcp:ADDR:PORT`): one connection,
 * the header checked against this VM's configuration before the VM is
 * built, RAM filled from the stream into fresh anonymous memory, the state
 * loaded with the snapshot restore code, then the handshake: READY, wait
 * for COMMIT, RUNNING. The VM runs only after COMMIT; any failure before it
 * leaves nothing running and one line saying why.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/vm.h"
#include "migration/migration.h"
#include "migration/sock.h"
#include "migration/stream.h"
#include "snapshot/format.h"
#include "snapshot/snapshot.h"
#include "util/log.h"
#include "virtio/net.h"
#include "virtio/virtio_pci.h"

struct mig_incoming {
    struct mig_sock sock;
    struct mig_writer w;
    struct mig_reader r;
    uint32_t offered;           /* the source's header features */
    char url[MIG_URL_MAX];
};

static struct mig_vm_shape config_shape(const struct vm_config *cfg)
{
    return (struct mig_vm_shape){
        .nr_vcpus = cfg->cpus, .memory_size = cfg->memory, .nr_disks = cfg->nr_disks,
        .nr_nets = cfg->nr_nets, .rng = cfg->rng, .balloon = cfg->balloon,
    };
}

void mig_incoming_fail(struct mig_incoming *in, const char *why)
{
    if (!in || in->sock.fd < 0)
        return;
    in->sock.timeout_ms = 1000;
    if (mig_write_error(&in->w, why))
        return;
    /*
     * Closing with the source's data unread would send a reset, which can
     * discard our ERROR before the source reads it: say we are done and
     * read until the source closes (bounded).
     */
    shutdown(in->sock.fd, SHUT_WR);
    char sink[65536];
    for (int idle = 0; idle < 20;) {
        struct pollfd p = { .fd = in->sock.fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0) {
            idle++;
            continue;
        }
        ssize_t n = recv(in->sock.fd, sink, sizeof(sink), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
    }
}

void mig_incoming_close(struct mig_incoming *in)
{
    if (!in)
        return;
    mig_sock_close(&in->sock);
    mig_reader_free(&in->r);
    free(in);
}

int mig_incoming_accept(struct mig_incoming **out, const char *url, const struct vm_config *cfg,
                        char *err, size_t errlen)
{
    *out = NULL;
    struct mig_addr addr;
    int ret = mig_parse_url(url, &addr, err, errlen);
    if (ret)
        return ret;
    struct mig_incoming *in = calloc(1, sizeof(*in));
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    in->sock = (struct mig_sock){ .fd = -1, .timeout_ms = MIG_IO_TIMEOUT_MS };
    in->w = (struct mig_writer){ .write = mig_sock_write, .opaque = &in->sock };
    mig_reader_init(&in->r, mig_sock_read, &in->sock);
    snprintf(in->url, sizeof(in->url), "%s", url);
    int lfd = mig_listen(&addr, err, errlen);
    if (lfd < 0) {
        mig_incoming_close(in);
        return lfd;
    }
    log_notice("migrate", "waiting for an incoming migration on %s", url);
    ret = mig_accept(lfd, &in->sock, err, errlen);
    close(lfd);
    if (ret) {
        mig_incoming_close(in);
        return ret;
    }
    struct mig_header h;
    char why[300];
    ret = in->r.read(in->r.opaque, &h, sizeof(h));
    if (ret) {
        snprintf(err, errlen, "incoming migration refused: %s",
                 ret == -ENODATA ? "the source closed the connection before the header"
                                 : strerror(-ret));
        mig_incoming_close(in);
        return ret == -ENODATA ? -ECONNRESET : ret;
    }
    in->r.bytes += sizeof(h);
    struct mig_vm_shape shape = config_shape(cfg);
    ret = mig_header_check(&h, &shape, why, sizeof(why));
    if (ret) {
        snprintf(err, errlen, "incoming migration refused: %s", why);
        mig_incoming_fail(in, why);
        mig_incoming_close(in);
        return ret;
    }
    in->offered = h.features;
    *out = in;
    return 0;
}

/* Guests that can announce themselves do so from their new host (GUEST_ANNOUNCE). */
static void announce(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nr_virtio; i++) {
        if (virtio_pci_ops(vm->virtio[i]) != &net_device_ops)
            continue;
        int ret = net_dev_announce(virtio_pci_dev(vm->virtio[i]));
        if (ret && ret != -EOPNOTSUPP)
            log_warn("migrate", "%s: cannot ask the guest to announce itself: %s",
                     virtio_pci_name(vm->virtio[i]), strerror(-ret));
    }
}

static int load_state(struct mig_incoming *in, struct vm *vm, const struct mig_msg *state,
                      char *err, size_t errlen)
{
    struct snap_buf_source src = { .data = state->payload, .len = state->length };
    struct snap_image img;
    char why[300];
    int ret = snap_image_read(&img, snap_buf_source, &src, why, sizeof(why));
    if (ret) {
        snprintf(err, errlen, "migration stream is corrupt: device state: %s", why);
        return -EPROTO;
    }
    struct snapshot_restore *r;
    ret = snapshot_restore_from_image(&r, &img, "incoming migration", vm->cfg, err, errlen);
    if (ret)
        return ret;
    ret = snapshot_restore_state(r, vm, err, errlen);
    snapshot_restore_close(r);
    (void)in;
    return ret;
}

int mig_incoming_receive(struct mig_incoming *in, struct vm *vm, char *err, size_t errlen)
{
    struct mig_ram_stats st = { 0 };
    /* A source that offers nothing may predate struct mig_accept: it gets an empty ACCEPT. */
    struct mig_accept acc = { .features = in->offered & MIG_FEATURES_KNOWN };
    if (acc.features & MIG_FEATURE_ZSTD) {
        st.dctx = mig_zstd_dctx_new();
        if (!st.dctx)
            acc.features &= ~MIG_FEATURE_ZSTD;
    }
    if (acc.features & MIG_FEATURE_ITER_ACK)
        st.ack = &in->w;
    int ret = mig_write_msg(&in->w, MIG_MSG_ACCEPT, &acc, in->offered ? sizeof(acc) : 0, NULL, 0);
    if (ret) {
        mig_zstd_dctx_free(st.dctx);
        snprintf(err, errlen, "incoming migration failed: cannot answer the source: %s",
                 strerror(-ret));
        return ret;
    }
    struct mig_msg state;
    char why[400];
    st.written = calloc((vm->mem.mapping_size / MIG_PAGE_SIZE + 63) / 64, sizeof(uint64_t));
    ret = st.written ? 0 : -ENOMEM;
    if (ret)
        snprintf(why, sizeof(why), "out of memory for the received-pages bitmap");
    if (!ret)
        ret = mig_receive_ram(&in->r, &vm->mem, &state, &st, why, sizeof(why));
    free(st.written);
    mig_zstd_dctx_free(st.dctx);
    st.dctx = NULL;
    if (!ret)
        ret = load_state(in, vm, &state, why, sizeof(why));
    /* The source has flushed and released its disks by now (shared storage). */
    if (!ret)
        ret = mig_disks_set_locked(vm, true, why, sizeof(why));
    if (!ret) {
        ret = mig_write_msg(&in->w, MIG_MSG_READY, NULL, 0, NULL, 0);
        if (ret)
            snprintf(why, sizeof(why), "cannot tell the source the state is loaded: %s",
                     strerror(-ret));
    }
    if (ret) {
        snprintf(err, errlen, "incoming migration failed: %s", why);
        if (ret != -ECANCELED)
            mig_incoming_fail(in, why);
        return ret;
    }
    /* The source decides: without COMMIT this VM never runs. */
    struct mig_msg m;
    ret = mig_read_msg(&in->r, &m, why, sizeof(why));
    if (!ret && m.type != MIG_MSG_COMMIT) {
        if (m.type == MIG_MSG_ERROR) {
            char text[MIG_ERROR_MAX + 1];
            mig_error_text(&m, text, sizeof(text));
            snprintf(why, sizeof(why), "the source gave up: %.370s", text);
        } else {
            snprintf(why, sizeof(why), "expected COMMIT, got %s", mig_msg_name(m.type));
        }
        ret = -EPROTO;
    }
    if (ret) {
        snprintf(err, errlen, "incoming migration failed before COMMIT, the VM does not run: %s",
                 why);
        return ret;
    }
    announce(vm);
    ret = mig_write_msg(&in->w, MIG_MSG_RUNNING, NULL, 0, NULL, 0);
    if (ret)
        log_warn("migrate", "cannot confirm RUNNING to the source (%s); the source keeps its VM "
                 "paused, this one runs", strerror(-ret));
    log_notice("migrate", "incoming migration complete: %llu pages (%llu compressed), %llu zero "
               "pages, %llu passes; running", (unsigned long long)st.pages,
               (unsigned long long)st.compressed_pages, (unsigned long long)st.zero_pages,
               (unsigned long long)st.iterations);
    return 0;
}
