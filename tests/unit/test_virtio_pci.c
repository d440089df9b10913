// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the virtio-pci transport, acting as the guest driver
 * through the PCI host's buses with virtio-rng as the device: identity and
 * capabilities, feature negotiation and its refusals, the data path with
 * MSI-X and with INTx + ISR, reset handed to the I/O thread, validation of
 * every guest-programmed queue value, ioeventfds that follow the BAR, the
 * PCI_CFG window, and the transport services devices use.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_virtio_pci_driver.h"

static int setup(void **state)
{
    struct vd *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    vd_init(t);
    vd_add_rng(t, NULL, NULL);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct vd *t = *state;
    vd_fini(t);
    free(t);
    return 0;
}

/* One 64-byte writable buffer at the head of the ring, made available. */
static void post_buffer(struct vd *t, unsigned dev, uint16_t desc, uint64_t gpa, uint32_t len)
{
    memset(vd_hva(t, gpa, len), 0, len);
    vd_desc(t, dev, desc, gpa, len, VIRTQ_DESC_F_WRITE, 0);
    vd_avail(t, dev, desc);
}

static void test_identity_and_caps(void **state)
{
    struct vd *t = *state;
    assert_int_equal(vd_cfg_read(t, 0, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
    assert_int_equal(vd_cfg_read(t, 0, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
    assert_int_equal(vd_cfg_read(t, 0, PCI_REVISION_ID, 1), 1);
    assert_int_equal(vd_cfg_read(t, 0, PCI_SUBSYSTEM_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
    assert_true(vd_cfg_read(t, 0, PCI_SUBSYSTEM_ID, 2) >= 0x40);
    assert_int_equal(vd_cfg_read(t, 0, PCI_CLASS_DEVICE, 2), 0xff00);

    /* BAR 4 is a 64-bit memory BAR with a power-of-two size holding everything. */
    unsigned bar = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR;
    assert_int_equal(vd_cfg_read(t, 0, bar, 4) & 0x7, PCI_BASE_ADDRESS_MEM_TYPE_64);
    uint32_t saved = vd_cfg_read(t, 0, bar, 4);
    vd_cfg_write(t, 0, bar, 4, 0xffffffff);
    uint32_t size = ~(vd_cfg_read(t, 0, bar, 4) & ~0xfu) + 1;
    vd_cfg_write(t, 0, bar, 4, saved);
    assert_true(size >= VIRTIO_PCI_MSIX_OFF + 0x2000);

    struct { uint8_t type; uint32_t off, min_len; } want[] = {
        { VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_CFG_LEN },
        { VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF, 2 },
        { VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
        unsigned cap = vd_find_cap(t, 0, want[i].type);
        assert_true(cap >= 0x40);
        assert_int_equal(vd_cfg_read(t, 0, cap + VIRTIO_PCI_CAP_BAR, 1), VIRTIO_PCI_BAR);
        assert_int_equal(vd_cfg_read(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4), want[i].off);
        uint32_t len = vd_cfg_read(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4);
        assert_true(len >= want[i].min_len);
        assert_true(want[i].off + len <= size);
    }
    unsigned notify = vd_find_cap(t, 0, VIRTIO_PCI_CAP_NOTIFY_CFG);
    assert_int_equal(vd_cfg_read(t, 0, notify + VIRTIO_PCI_CAP_LEN, 1), 20);
    assert_int_equal(vd_cfg_read(t, 0, notify + VIRTIO_PCI_NOTIFY_CAP_MULT, 4), VIRTIO_PCI_NOTIFY_MULT);
    assert_int_not_equal(vd_find_cap(t, 0, VIRTIO_PCI_CAP_PCI_CFG), 0);
    /* virtio-rng has no device config, so no DEVICE capability. */
    assert_int_equal(vd_find_cap(t, 0, VIRTIO_PCI_CAP_DEVICE_CFG), 0);

    /* MSI-X: one vector per queue plus the config vector. */
    vd_enable_mem(t, 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
    struct pci_device *pd = virtio_pci_device(t->vdev[0]);
    bool found = false;
    for (unsigned i = 0; i < pd->nr_caps; i++)
        if (pd->cfg[pd->caps[i].offset] == PCI_CAP_ID_MSIX) {
            found = true;
            assert_int_equal(vd_cfg_read(t, 0, pd->caps[i].offset + PCI_MSIX_FLAGS, 2) & 0x7ff, 1);
        }
    assert_true(found);
}

static void test_feature_negotiation(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    uint64_t offered = vd_device_features(t, 0);
    assert_true(offered >> VIRTIO_F_VERSION_1 & 1);
    assert_true(offered >> VIRTIO_F_EVENT_IDX & 1);
    assert_true(offered >> VIRTIO_F_INDIRECT_DESC & 1);
    assert_false(offered >> VIRTIO_F_ACCESS_PLATFORM & 1);
    /* Selectors past the two words read 0. */
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_DFSELECT, 4, 7);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_DF, 4), 0);

    /* Without VERSION_1: refused, FEATURES_OK does not stick. */
    assert_false(vd_negotiate(t, 0, 1ULL << VIRTIO_F_EVENT_IDX));
    /* A bit the device did not offer (rng has no device features): refused. */
    assert_false(vd_negotiate(t, 0, VD_BASIC_FEATURES | 1ULL << 0));
    assert_false(vd_negotiate(t, 0, VD_BASIC_FEATURES | 1ULL << VIRTIO_F_ACCESS_PLATFORM));
    assert_int_equal(virtio_features(t->vdev[0]), 0);

    uint64_t want = VD_BASIC_FEATURES | 1ULL << VIRTIO_F_EVENT_IDX;
    assert_true(vd_negotiate(t, 0, want));
    assert_int_equal(virtio_features(t->vdev[0]), want);
    /* After FEATURES_OK the driver's features are frozen. */
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_GF, 4, 0xffffffff);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)want);
    assert_int_equal(virtio_features(t->vdev[0]), want);
    /* Status bits cannot be taken back without a reset. */
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_FEATURES_OK);
    /* A reset forgets the negotiation. */
    vd_reset(t, 0);
    assert_int_equal(virtio_features(t->vdev[0]), 0);
}

static void test_data_path_msix(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES | 1ULL << VIRTIO_F_EVENT_IDX, 16, true);
    /* Memory decoding is on: every queue's notify address got an ioeventfd. */
    uint64_t notify = vd_bar(t, 0) + VIRTIO_PCI_NOTIFY_OFF;
    bool installed = false;
    for (unsigned i = 0; i < t->nr_ioev; i++)
        if (!t->ioev[i].deassign && t->ioev[i].addr == notify)
            installed = true;
    assert_true(installed);

    uint64_t buf = vd_gpa(0, VD_BUF);
    post_buffer(t, 0, 0, buf, 64);
    unsigned msgs = t->nr_msgs;
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
    uint32_t id, len;
    vd_used_elem(t, 0, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 64);
    assert_false(vd_all_zero(vd_hva(t, buf, 64), 64));
    /* The used-buffer interrupt went out on the queue's vector 0, not through INTx. */
    assert_int_equal(t->nr_msgs, msgs + 1);
    assert_int_equal(t->msgs[msgs].vector, 0);
    assert_int_equal(t->msgs[msgs].msg.data, 0x40);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), 0);

    /* A second buffer with a different descriptor: the ring moves on. */
    post_buffer(t, 0, 3, buf + 0x100, 32);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 2);
    vd_used_elem(t, 0, 1, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 32);
    /* Two requests got different bytes. */
    assert_memory_not_equal(vd_hva(t, buf, 32), vd_hva(t, buf + 0x100, 32), 32);
}

static void test_data_path_intx(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, false);
    unsigned gsi = pci_host_intx_gsi(vd_slot(t, 0), 1);
    assert_int_equal(t->intx_level[gsi], 0);

    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
    assert_int_equal(t->intx_level[gsi], 1);
    assert_int_equal(t->nr_msgs, 0);
    /* Reading the ISR returns the queue bit, clears it and lowers the line. */
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
    assert_int_equal(t->intx_level[gsi], 0);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), 0);

    /* VIRTQ_AVAIL_F_NO_INTERRUPT (no EVENT_IDX) suppresses the interrupt. */
    vd_w16(t, vd_gpa(0, VD_AVAIL), VIRTQ_AVAIL_F_NO_INTERRUPT);
    post_buffer(t, 0, 1, vd_gpa(0, VD_BUF) + 0x100, 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 2);
    assert_int_equal(t->intx_level[gsi], 0);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), 0);
}

static void test_reset_waits_for_io_thread(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    uint8_t before = vd_status(t, 0);
    assert_true(before & VIRTIO_STATUS_DRIVER_OK);

    vd_set_status(t, 0, 0);
    /* Not yet done by the I/O thread: the old status still reads back. */
    assert_int_equal(vd_status(t, 0), before);
    /* Writes while the reset is pending are ignored. */
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(vd_status(t, 0), before);
    vd_run(t);
    assert_int_equal(vd_status(t, 0), 0);

    /* Queue state is back to its defaults. */
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTIO_RNG_QUEUE_SIZE);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_DESC, 4), 0);
    assert_null(virtio_queue(t->vdev[0], 0));

    /* A kick after the reset reaches nobody. */
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 0);

    /* And the device comes back up cleanly. */
    memset(vd_hva(t, vd_gpa(0, VD_DESC), 0x8000), 0, 0x8000);
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
}

/* First probe: status already reads 0, so the reset must be complete at once. */
static void test_reset_before_driver_ok_is_immediate(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    vd_set_status(t, 0, 0);
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(vd_status(t, 0), VIRTIO_STATUS_ACKNOWLEDGE);
    /* Also after negotiation, as long as DRIVER_OK was never set. */
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vd_driver_features(t, 0, VD_BASIC_FEATURES);
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(virtio_features(t->vdev[0]), VD_BASIC_FEATURES);
    assert_int_equal(vd_setup_queue(t, 0, 8, VIRTIO_MSI_NO_VECTOR), 1);
    vd_set_status(t, 0, 0);
    assert_int_equal(vd_status(t, 0), 0);
    assert_int_equal(virtio_features(t->vdev[0]), 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
}

static void test_queue_size_validation(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    static const uint16_t bad[] = { 0, 3, 100, VIRTIO_RNG_QUEUE_SIZE * 2 };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
        unsigned gsi = pci_host_intx_gsi(vd_slot(t, 0), 1);
        assert_int_equal(vd_setup_queue(t, 0, bad[i], VIRTIO_MSI_NO_VECTOR), 0);
        assert_true(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        /* The config-change interrupt tells the driver (ISR bit 1 over INTx). */
        assert_int_equal(t->intx_level[gsi], 1);
        assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
    }
    /* A smaller power of two is fine, and reads back. */
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(vd_setup_queue(t, 0, 4, VIRTIO_MSI_NO_VECTOR), 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 4);
    /* A queue that does not exist reads size 0 and ignores writes. */
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_bad_queue_address_other_device_works(void **state)
{
    struct vd *t = *state;
    vd_add_rng(t, NULL, NULL);
    vd_enable_mem(t, 0);
    vd_enable_mem(t, 1);

    /* Device 0: its used ring lies past the end of guest RAM. */
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    assert_int_equal(vd_setup_queue_at(t, 0, 8, vd_gpa(0, VD_DESC), vd_gpa(0, VD_AVAIL),
                                       VD_RAM - 16, VIRTIO_MSI_NO_VECTOR), 1);
    vd_driver_ok(t, 0);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_null(virtio_queue(t->vdev[0], 0));
    /* Kicks on the broken device do nothing (and do not crash). */
    vd_kick(t, 0);
    vd_run(t);

    /* Device 1 is unaffected. */
    vd_bring_up(t, 1, VD_BASIC_FEATURES, 8, true);
    post_buffer(t, 1, 0, vd_gpa(1, VD_BUF), 48);
    vd_kick(t, 1);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 1), 1);
    assert_false(vd_status(t, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

    /* Misaligned descriptor table on device 0 after a reset: also refused. */
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(vd_setup_queue_at(t, 0, 8, vd_gpa(0, VD_DESC) + 8, vd_gpa(0, VD_AVAIL),
                                       vd_gpa(0, VD_USED), VIRTIO_MSI_NO_VECTOR), 1);
    vd_driver_ok(t, 0);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_broken_chain_needs_reset(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    /* A descriptor index past the queue size. */
    vd_avail(t, 0, 200);
    vd_kick(t, 0);
    vd_run(t);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(vd_used_idx(t, 0), 0);
    /* Config vector 1 told the driver. */
    assert_true(t->nr_msgs >= 1);
    assert_int_equal(t->msgs[t->nr_msgs - 1].vector, 1);
    /* Driver writes cannot clear the device's bit; a reset does. */
    vd_set_status(t, 0, vd_status(t, 0) & (uint8_t)~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    vd_reset(t, 0);
}

static void test_notify_before_driver_ok_waits(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    assert_int_equal(vd_setup_queue(t, 0, 8, VIRTIO_MSI_NO_VECTOR), 1);
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 0);
    vd_driver_ok(t, 0);
    /*
     * The early kick did nothing, but the buffer it announced is available:
     * the device looks at every queue once DRIVER_OK is set and serves it
     * (Linux's balloon posts its first statistics buffer this way).
     */
    assert_int_equal(vd_used_idx(t, 0), 1);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
}

static void test_kick_racing_driver_ok_is_kept(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    assert_int_equal(vd_setup_queue(t, 0, 8, VIRTIO_MSI_NO_VECTOR), 1);
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    /* DRIVER_OK then a kick, both before the I/O thread runs: one batch. */
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
}

static void test_queue_fields_frozen_after_driver_ok(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_DESC, 4, 0x1000);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_DESC, 4), (uint32_t)vd_gpa(0, VD_DESC));
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
    /* The 64-bit view of the same field. */
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_AVAIL, 8), vd_gpa(0, VD_AVAIL));
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
}

static void test_msix_vector_validation(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_MSIX, 2, 2);       /* only vectors 0 and 1 exist */
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_MSIX, 2, 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_MSIX, 2), 1);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x7fff);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
}

static void test_malformed_accesses_ignored(void **state)
{
    struct vd *t = *state;
    vd_enable_mem(t, 0);
    assert_true(vd_negotiate(t, 0, VD_BASIC_FEATURES));
    uint8_t st = vd_status(t, 0);
    /* Wrong widths: status is a byte, num_queues 16 bits, select 32 bits. */
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_STATUS, 4), 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_NUMQ, 4), 0);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_STATUS, 2, 0);
    assert_int_equal(vd_status(t, 0), st);
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_DFSELECT, 2, 1);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
    /* Misaligned halves and bytes past the structure. */
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_Q_DESC + 2, 4), 0);
    assert_int_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_CFG_LEN + 4, 4), 0);
    vd_common_wr(t, 0, 0x800, 4, 0xffffffff);
    /* ISR at the wrong width or offset neither reads nor clears. */
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 4), 0);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF + 1, 1), 0);
    /* Notify with a misaligned offset or for a queue that does not exist. */
    vd_write(t, 0, VIRTIO_PCI_NOTIFY_OFF + 1, 1, 0);
    vd_write(t, 0, VIRTIO_PCI_NOTIFY_OFF + 4 * 7, 2, 7);
    /* The device config region is absent for rng: bytes outside regions read all ones. */
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_DEVICE_OFF, 4), 0xffffffff);
    vd_run(t);
    assert_int_equal(vd_status(t, 0), st);
}

static void test_config_generation_and_interrupt(void **state)
{
    struct vd *t = *state;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    uint8_t gen = (uint8_t)vd_common_rd(t, 0, VIRTIO_PCI_COMMON_CFGGEN, 1);
    unsigned msgs = t->nr_msgs;
    virtio_config_interrupt(t->vdev[0]);
    assert_int_not_equal(vd_common_rd(t, 0, VIRTIO_PCI_COMMON_CFGGEN, 1), gen);
    assert_int_equal(t->nr_msgs, msgs + 1);
    assert_int_equal(t->msgs[msgs].vector, 1);
    /* With no config vector (NO_VECTOR under MSI-X) there is no interrupt at all. */
    vd_common_wr(t, 0, VIRTIO_PCI_COMMON_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
    virtio_config_interrupt(t->vdev[0]);
    assert_int_equal(t->nr_msgs, msgs + 1);
    assert_int_equal(vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1), 0);
}

static void test_ioeventfd_follows_bar(void **state)
{
    struct vd *t = *state;
    assert_int_equal(t->nr_ioev, 0);           /* memory decoding is off */
    vd_enable_mem(t, 0);
    uint64_t old = vd_bar(t, 0) + VIRTIO_PCI_NOTIFY_OFF;
    assert_int_equal(t->nr_ioev, 1);
    assert_int_equal(t->ioev[0].addr, old);
    assert_false(t->ioev[0].deassign);

    /* The guest moves the BAR: old ioeventfd out, new one in, same eventfd. */
    unsigned bar = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR;
    uint64_t new_base = vd_bar(t, 0) + 0x100000;
    vd_cfg_write(t, 0, bar, 4, (uint32_t)new_base | PCI_BASE_ADDRESS_MEM_TYPE_64 |
                                PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_int_equal(vd_bar(t, 0), new_base);
    assert_int_equal(t->nr_ioev, 3);
    assert_true(t->ioev[1].deassign);
    assert_int_equal(t->ioev[1].addr, old);
    assert_int_equal(t->ioev[1].len, t->ioev[0].len);
    assert_false(t->ioev[2].deassign);
    assert_int_equal(t->ioev[2].addr, new_base + VIRTIO_PCI_NOTIFY_OFF);
    assert_int_equal(t->ioev[2].fd, t->ioev[0].fd);

    /* Memory decoding off: removed. */
    vd_cfg_write(t, 0, PCI_COMMAND, 2, 0);
    assert_int_equal(t->nr_ioev, 4);
    assert_true(t->ioev[3].deassign);
    /* The data path works at the new address. */
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, false);
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
}

static void test_kicks_without_ioeventfd(void **state)
{
    struct vd *t = *state;
    t->ioev_fail = true;
    vd_bring_up(t, 0, VD_BASIC_FEATURES, 8, true);
    assert_int_equal(t->nr_ioev, 0);
    post_buffer(t, 0, 0, vd_gpa(0, VD_BUF), 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
}

static void test_pci_cfg_window(void **state)
{
    struct vd *t = *state;
    unsigned cap = vd_find_cap(t, 0, VIRTIO_PCI_CAP_PCI_CFG);
    assert_int_not_equal(cap, 0);
    /* Memory decoding stays off: the window works without the BAR mapped. */
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
    assert_int_equal(vd_cfg_read(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 2), 1);

    /* Write device_status through the window. */
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(vd_cfg_read(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 1), VIRTIO_STATUS_ACKNOWLEDGE);
    vd_enable_mem(t, 0);
    assert_int_equal(vd_status(t, 0), VIRTIO_STATUS_ACKNOWLEDGE);

    /* Bad length, misaligned offset or another BAR: no access (a reset would be one). */
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 3);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 4, 0);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS + 1);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 2, 0);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_BAR, 1, 0);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 1, 0);
    /* An offset past the BAR. */
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_OFFSET, 4, 0xfffffffc);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 4, 0);
    (void)vd_cfg_read(t, 0, cap + VIRTIO_PCI_CFG_CAP_DATA, 4);
    vd_run(t);
    assert_int_equal(vd_status(t, 0), VIRTIO_STATUS_ACKNOWLEDGE);
    /* The fields the driver may not write stay put. */
    vd_cfg_write(t, 0, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1, 1);
    assert_int_equal(vd_cfg_read(t, 0, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
}

static void test_indirect_event_idx(void **state)
{
    struct vd *t = *state;
    uint64_t f = VD_BASIC_FEATURES | 1ULL << VIRTIO_F_EVENT_IDX | 1ULL << VIRTIO_F_INDIRECT_DESC;
    vd_bring_up(t, 0, f, 8, true);
    uint64_t table = vd_gpa(0, VD_BUF) + 0x1000, b = vd_gpa(0, VD_BUF) + 0x2000;
    memset(vd_hva(t, b, 64), 0, 64);
    vd_desc_at(t, table, 0, b, 32, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    vd_desc_at(t, table, 1, b + 32, 32, VIRTQ_DESC_F_WRITE, 0);
    vd_desc(t, 0, 2, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    /* used_event = 0: the driver wants an interrupt for the first buffer. */
    vd_w16(t, vd_gpa(0, VD_AVAIL) + 4 + 2 * 8, 0);
    vd_avail(t, 0, 2);
    unsigned msgs = t->nr_msgs;
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 1);
    uint32_t id, len;
    vd_used_elem(t, 0, 0, &id, &len);
    assert_int_equal(id, 2);
    assert_int_equal(len, 64);
    assert_false(vd_all_zero(vd_hva(t, b + 32, 32), 32));
    assert_int_equal(t->nr_msgs, msgs + 1);

    /* used_event still 0: the next buffer brings no interrupt. */
    post_buffer(t, 0, 3, b + 0x100, 16);
    vd_kick(t, 0);
    vd_run(t);
    assert_int_equal(vd_used_idx(t, 0), 2);
    assert_int_equal(t->nr_msgs, msgs + 1);
}

/* The real arrangement: the loop on its own thread, the driver polling as a guest does. */
static void *io_thread(void *arg)
{
    struct vd *t = arg;
    return (void *)(intptr_t)evloop_run(&t->loop);
}

static bool wait_for(struct vd *t, unsigned dev, uint16_t used)
{
    for (unsigned i = 0; i < 1000000; i++) {
        if (vd_used_idx(t, dev) == used)
            return true;
        sched_yield();
    }
    return false;
}

static void test_threaded_io_loop(void **state)
{
    struct vd *t = *state;
    pthread_t th;
    t->loop.stop = false;
    assert_int_equal(pthread_create(&th, NULL, io_thread, t), 0);

    vd_enable_mem(t, 0);
    vd_set_status(t, 0, 0);
    unsigned spins = 0;
    while (vd_status(t, 0) != 0 && spins++ < 1000000)
        sched_yield();
    assert_int_equal(vd_status(t, 0), 0);
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    vd_driver_features(t, 0, VD_BASIC_FEATURES | 1ULL << VIRTIO_F_EVENT_IDX);
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    assert_true(vd_status(t, 0) & VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(vd_setup_queue(t, 0, 16, VIRTIO_MSI_NO_VECTOR), 1);
    vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                            VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    for (uint16_t n = 0; n < 100; n++) {
        post_buffer(t, 0, n % 16, vd_gpa(0, VD_BUF) + 64u * (n % 16), 64);
        vd_kick(t, 0);
        assert_true(wait_for(t, 0, (uint16_t)(n + 1)));
    }
    /* Reset while the thread runs, then stop it. */
    vd_set_status(t, 0, 0);
    spins = 0;
    while (vd_status(t, 0) != 0 && spins++ < 1000000)
        sched_yield();
    assert_int_equal(vd_status(t, 0), 0);
    evloop_stop(&t->loop);
    void *ret;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_int_equal((intptr_t)ret, 0);
    assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Bring-up, kicks and resets over and over against a running I/O thread. */
static void test_threaded_reset_cycles(void **state)
{
    struct vd *t = *state;
    pthread_t th;
    t->loop.stop = false;
    assert_int_equal(pthread_create(&th, NULL, io_thread, t), 0);
    vd_enable_mem(t, 0);
    for (unsigned cycle = 0; cycle < 50; cycle++) {
        vd_set_status(t, 0, 0);
        unsigned spins = 0;
        while (vd_status(t, 0) != 0 && spins++ < 1000000)
            sched_yield();
        assert_int_equal(vd_status(t, 0), 0);
        memset(vd_hva(t, vd_gpa(0, VD_DESC), 0x8000), 0, 0x8000);
        vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        vd_driver_features(t, 0, VD_BASIC_FEATURES | (cycle & 1 ? 1ULL << VIRTIO_F_EVENT_IDX : 0));
        vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        assert_int_equal(vd_setup_queue(t, 0, 8, VIRTIO_MSI_NO_VECTOR), 1);
        for (uint16_t n = 0; n < 4; n++)
            post_buffer(t, 0, n, vd_gpa(0, VD_BUF) + 64u * n, 64);
        vd_set_status(t, 0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
        vd_kick(t, 0);
        /* Every other cycle resets without waiting for the buffers. */
        if (cycle & 1)
            assert_true(wait_for(t, 0, 4));
        assert_false(vd_status(t, 0) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        (void)vd_read(t, 0, VIRTIO_PCI_ISR_OFF, 1);
    }
    evloop_stop(&t->loop);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* Bad device ops tables are refused before anything is built. */
static unsigned zero_queues(void *dev) { return 0; }
static uint16_t odd_size(void *dev, unsigned q) { return 100; }

static void test_create_refuses_bad_ops(void **state)
{
    struct vd *t = *state;
    struct virtio_pci_env env = vd_env(t, "bad");
    struct virtio_device *vdev = NULL;
    struct virtio_device_ops ops = virtio_rng_ops;
    ops.num_queues = zero_queues;
    assert_int_equal(virtio_pci_create(&env, &ops, NULL, &vdev), -EINVAL);
    ops = virtio_rng_ops;
    ops.queue_max_size = odd_size;
    assert_int_equal(virtio_pci_create(&env, &ops, NULL, &vdev), -EINVAL);
    env.io_loop = NULL;
    assert_int_equal(virtio_pci_create(&env, &virtio_rng_ops, NULL, &vdev), -EINVAL);
    assert_null(vdev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_and_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_path_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_path_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_waits_for_io_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_before_driver_ok_is_immediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_size_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queue_address_other_device_works, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_chain_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_before_driver_ok_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_racing_driver_ok_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_fields_frozen_after_driver_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix_vector_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_accesses_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_generation_and_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioeventfd_follows_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kicks_without_ioeventfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_event_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threaded_io_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threaded_reset_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_bad_ops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
