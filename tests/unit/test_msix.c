// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for MSI-X: the capability as seen through ECAM, table and PBA
 * accesses through the device's BAR on the mmio bus, masking with pending
 * delivery, function mask and enable, the route-change callback, and the KVM
 * glue (msi_kvm) against a stand-in for the KVM ioctls.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "pci/msi_kvm.h"
#include "pci/msix.h"
#include "pci/pci_host.h"

#define NVEC 4
#define TABLE_OFF 0x2000
#define PBA_OFF 0x3000
#define ECAM X86_PCI_ECAM_GPA

struct msg_rec {
    unsigned vector;
    struct pci_msi_msg msg;
};

struct recorder {
    struct msg_rec delivered[64];
    unsigned nr_delivered;
    struct { unsigned vector; struct pci_msi_msg msg; bool masked; } routes[256];
    unsigned nr_routes;
};

static void rec_deliver(void *opaque, unsigned vector, struct pci_msi_msg msg)
{
    struct recorder *r = opaque;
    if (r->nr_delivered < 64)
        r->delivered[r->nr_delivered++] = (struct msg_rec){ vector, msg };
}

static void rec_route(void *opaque, unsigned vector, struct pci_msi_msg msg, bool masked)
{
    struct recorder *r = opaque;
    if (r->nr_routes < 256) {
        r->routes[r->nr_routes].vector = vector;
        r->routes[r->nr_routes].msg = msg;
        r->routes[r->nr_routes++].masked = masked;
    }
}

static const struct pci_msix_ops rec_ops = { rec_deliver, rec_route };

struct fixture {
    struct bus pio, mmio;
    struct pci_host host;
    struct pci_device dev;
    struct pci_msix msix;
    struct recorder rec;
    uint64_t bar;
    unsigned cap;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(bus_init(&f->pio, "pio"), 0);
    assert_int_equal(bus_init(&f->mmio, "mmio"), 0);
    struct pci_host_config cfg = { .pio = &f->pio, .mmio = &f->mmio, .ecam_base = ECAM,
                                   .mmio32 = { X86_PCI_MMIO32_GPA, X86_PCI_MMIO32_END } };
    assert_int_equal(pci_host_init(&f->host, &cfg), 0);
    const struct pci_device_id id = { .vendor = 0x1af4, .device = 0x1044, .class_code = 0xff0000 };
    pci_device_init(&f->dev, "msix-dev", &id);
    assert_int_equal(pci_device_add_bar(&f->dev, 1, 0x4000, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_msix_init(&f->msix, &f->dev, NVEC, 1, TABLE_OFF, PBA_OFF, &rec_ops, &f->rec), 0);
    assert_int_equal(pci_host_add_device(&f->host, &f->dev), 0);
    f->bar = pci_device_bar_address(&f->dev, 1);
    f->cap = f->msix.cap_off;
    uint16_t cmd = PCI_COMMAND_MEMORY;
    bus_write(&f->mmio, ECAM + (1u << 15) + PCI_COMMAND, &cmd, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pci_host_destroy(&f->host);
    pci_msix_destroy(&f->msix);
    bus_destroy(&f->mmio);
    bus_destroy(&f->pio);
    free(f);
    return 0;
}

static uint32_t cfg_read(struct fixture *f, unsigned off, unsigned size)
{
    uint32_t v = 0;
    bus_read(&f->mmio, ECAM + (1u << 15) + off, &v, size);
    return v;
}

static void cfg_write(struct fixture *f, unsigned off, unsigned size, uint32_t v)
{
    bus_write(&f->mmio, ECAM + (1u << 15) + off, &v, size);
}

static uint64_t bar_read(struct fixture *f, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    bus_read(&f->mmio, f->bar + off, &v, size);
    return v;
}

static void bar_write(struct fixture *f, uint64_t off, unsigned size, uint64_t v)
{
    bus_write(&f->mmio, f->bar + off, &v, size);
}

static void program_vector(struct fixture *f, unsigned v, uint64_t addr, uint32_t data)
{
    uint64_t e = TABLE_OFF + 16ULL * v;
    bar_write(f, e + PCI_MSIX_ENTRY_ADDR_LO, 8, addr);
    bar_write(f, e + PCI_MSIX_ENTRY_DATA, 4, data);
}

static void set_control(struct fixture *f, uint16_t bits)
{
    cfg_write(f, f->cap + PCI_MSIX_FLAGS, 2, bits);
}

static void unmask(struct fixture *f, unsigned v, bool masked)
{
    bar_write(f, TABLE_OFF + 16ULL * v + PCI_MSIX_ENTRY_CTRL, 4, masked);
}

static void capability_layout(void **state)
{
    struct fixture *f = *state;
    /* Found by walking the list, with table size, BIR and offsets. */
    unsigned p = cfg_read(f, PCI_CAPABILITY_LIST, 1);
    while (p && cfg_read(f, p, 1) != PCI_CAP_ID_MSIX)
        p = cfg_read(f, p + 1, 1);
    assert_int_equal(p, f->cap);
    assert_int_equal(cfg_read(f, p + PCI_MSIX_FLAGS, 2), NVEC - 1);
    assert_int_equal(cfg_read(f, p + PCI_MSIX_TABLE, 4), TABLE_OFF | 1);
    assert_int_equal(cfg_read(f, p + PCI_MSIX_PBA, 4), PBA_OFF | 1);
    /* Only enable and function mask are writable. */
    set_control(f, 0xffff);
    assert_int_equal(cfg_read(f, p + PCI_MSIX_FLAGS, 2), 0xc000 | (NVEC - 1));
    cfg_write(f, p + PCI_MSIX_TABLE, 4, 0);
    assert_int_equal(cfg_read(f, p + PCI_MSIX_TABLE, 4), TABLE_OFF | 1);
    assert_true(pci_msix_is_enabled(&f->msix));
    set_control(f, 0);
    assert_false(pci_msix_is_enabled(&f->msix));
}

static void table_access(void **state)
{
    struct fixture *f = *state;
    /* Power-on: every vector masked, zero message. */
    for (unsigned v = 0; v < NVEC; v++) {
        assert_int_equal(bar_read(f, TABLE_OFF + 16 * v + PCI_MSIX_ENTRY_CTRL, 4), 1);
        assert_int_equal(bar_read(f, TABLE_OFF + 16 * v, 8), 0);
    }
    program_vector(f, 2, 0xfee01000, 0x4041);
    assert_int_equal(bar_read(f, TABLE_OFF + 32, 4), 0xfee01000);
    assert_int_equal(bar_read(f, TABLE_OFF + 36, 4), 0);
    assert_int_equal(bar_read(f, TABLE_OFF + 32, 8), 0xfee01000);
    assert_int_equal(bar_read(f, TABLE_OFF + 40, 8), 0x100004041ULL);
    /* 32-bit halves of the address. */
    bar_write(f, TABLE_OFF + 36, 4, 0x12);
    assert_int_equal(bar_read(f, TABLE_OFF + 32, 8), 0x12fee01000ULL);
    /* Reserved control bits read as zero. */
    bar_write(f, TABLE_OFF + 32 + PCI_MSIX_ENTRY_CTRL, 4, 0xfffffffe);
    assert_int_equal(bar_read(f, TABLE_OFF + 32 + PCI_MSIX_ENTRY_CTRL, 4), 0);

    /* Malformed: wrong sizes, misaligned, past the table. None changes anything. */
    bar_write(f, TABLE_OFF + 32, 2, 0xffff);
    bar_write(f, TABLE_OFF + 33, 4, 0xffffffff);
    bar_write(f, TABLE_OFF + 36, 8, UINT64_MAX);
    bar_write(f, TABLE_OFF + 32, 1, 0xff);
    bar_write(f, TABLE_OFF + 16 * NVEC, 4, 0);
    assert_int_equal(bar_read(f, TABLE_OFF + 32, 8), 0x12fee01000ULL);
    assert_int_equal(bar_read(f, TABLE_OFF + 32, 2), 0xffff);
    assert_int_equal(bar_read(f, TABLE_OFF + 34, 4), 0xffffffff);
    assert_int_equal(bar_read(f, TABLE_OFF + 16 * NVEC, 4), 0xffffffff);
    /* The PBA is read-only. */
    bar_write(f, PBA_OFF, 8, UINT64_MAX);
    assert_int_equal(bar_read(f, PBA_OFF, 8), 0);
    assert_int_equal(bar_read(f, PBA_OFF + 8, 8), UINT64_MAX);  /* past the PBA: no region */
}

static void notify_pending_and_unmask(void **state)
{
    struct fixture *f = *state;
    /* Disabled: not delivered, not pending, the device should use INTx. */
    assert_int_equal(pci_msix_notify(&f->msix, 0), -ENODEV);
    assert_false(pci_msix_is_pending(&f->msix, 0));
    assert_int_equal(pci_msix_notify(&f->msix, NVEC), -EINVAL);

    set_control(f, PCI_MSIX_FLAGS_ENABLE);
    program_vector(f, 1, 0xfee00000, 0x31);
    /* Masked: pending bit set, shown in the PBA. */
    assert_int_equal(pci_msix_notify(&f->msix, 1), 0);
    assert_int_equal(f->rec.nr_delivered, 0);
    assert_true(pci_msix_is_pending(&f->msix, 1));
    assert_int_equal(bar_read(f, PBA_OFF, 8), 2);
    assert_int_equal(bar_read(f, PBA_OFF, 4), 2);
    assert_int_equal(bar_read(f, PBA_OFF + 4, 4), 0);
    /* Unmask: the pending message goes out once, the bit clears. */
    unmask(f, 1, false);
    assert_int_equal(f->rec.nr_delivered, 1);
    assert_int_equal(f->rec.delivered[0].vector, 1);
    assert_int_equal(f->rec.delivered[0].msg.addr, 0xfee00000);
    assert_int_equal(f->rec.delivered[0].msg.data, 0x31);
    assert_false(pci_msix_is_pending(&f->msix, 1));
    assert_int_equal(bar_read(f, PBA_OFF, 8), 0);
    /* Unmasked: delivered straight away. */
    assert_int_equal(pci_msix_notify(&f->msix, 1), 1);
    assert_int_equal(f->rec.nr_delivered, 2);
    /* Still-masked vectors stay pending. */
    assert_int_equal(pci_msix_notify(&f->msix, 3), 0);
    assert_int_equal(f->rec.nr_delivered, 2);
    assert_int_equal(bar_read(f, PBA_OFF, 8), 8);
}

static void function_mask_and_enable(void **state)
{
    struct fixture *f = *state;
    set_control(f, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    program_vector(f, 0, 0xfee00000, 0x40);
    program_vector(f, 2, 0xfee02000, 0x42);
    unmask(f, 0, false);
    unmask(f, 2, false);
    /* Function mask holds both back. */
    assert_int_equal(pci_msix_notify(&f->msix, 0), 0);
    assert_int_equal(pci_msix_notify(&f->msix, 2), 0);
    assert_int_equal(f->rec.nr_delivered, 0);
    /* Clearing it delivers both pending vectors. */
    set_control(f, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(f->rec.nr_delivered, 2);
    assert_int_equal(f->rec.delivered[0].vector, 0);
    assert_int_equal(f->rec.delivered[1].vector, 2);
    assert_int_equal(f->rec.delivered[1].msg.data, 0x42);
    /* INTx is held off while MSI-X is enabled. */
    assert_true(f->dev.msix_enabled);
    set_control(f, 0);
    assert_false(f->dev.msix_enabled);
    assert_int_equal(pci_msix_notify(&f->msix, 0), -ENODEV);
}

static void route_callback(void **state)
{
    struct fixture *f = *state;
    /* While disabled, reprogramming a vector changes its message: reported masked. */
    program_vector(f, 3, 0xfee03000, 0x53);
    assert_true(f->rec.nr_routes >= 1);
    unsigned last = f->rec.nr_routes - 1;
    assert_int_equal(f->rec.routes[last].vector, 3);
    assert_int_equal(f->rec.routes[last].msg.data, 0x53);
    assert_true(f->rec.routes[last].masked);

    /* Enabling unmasks nothing: every vector is still masked, so no reports. */
    unsigned before = f->rec.nr_routes;
    set_control(f, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(f->rec.nr_routes, before);
    /* Unmasking vector 3 reports it unmasked with its message. */
    unmask(f, 3, false);
    assert_int_equal(f->rec.nr_routes, before + 1);
    assert_int_equal(f->rec.routes[before].vector, 3);
    assert_false(f->rec.routes[before].masked);
    assert_int_equal(f->rec.routes[before].msg.addr, 0xfee03000);
    /* Writing the same value again reports nothing. */
    unmask(f, 3, false);
    assert_int_equal(f->rec.nr_routes, before + 1);
    /* Function mask reports the unmasked vector as masked, and back. */
    set_control(f, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(f->rec.nr_routes, before + 2);
    assert_true(f->rec.routes[before + 1].masked);
    set_control(f, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(f->rec.nr_routes, before + 3);
    assert_false(f->rec.routes[before + 2].masked);
    /* A new data value while unmasked is reported. */
    bar_write(f, TABLE_OFF + 48 + PCI_MSIX_ENTRY_DATA, 4, 0x99);
    assert_int_equal(f->rec.nr_routes, before + 4);
    assert_int_equal(f->rec.routes[before + 3].msg.data, 0x99);
}

static void reset_clears_state(void **state)
{
    struct fixture *f = *state;
    set_control(f, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    program_vector(f, 0, 0xfee00000, 1);
    assert_int_equal(pci_msix_notify(&f->msix, 0), 0);
    pci_msix_reset(&f->msix);
    assert_false(pci_msix_is_enabled(&f->msix));
    assert_false(pci_msix_is_pending(&f->msix, 0));
    assert_int_equal(cfg_read(f, f->cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
    assert_int_equal(bar_read(f, TABLE_OFF, 8), 0);
    assert_int_equal(bar_read(f, TABLE_OFF + 12, 4), 1);
}

static void init_rules(void **state)
{
    const struct pci_device_id id = { .vendor = 1 };
    struct pci_device dev;
    struct pci_msix m;
    struct recorder r;
    pci_device_init(&dev, "rules", &id);
    assert_int_equal(pci_device_add_bar(&dev, 0, 0x1000, PCI_BAR_MEM32), 0);
    assert_int_equal(pci_msix_init(&m, &dev, 0, 0, 0, 0x800, &rec_ops, &r), -EINVAL);
    assert_int_equal(pci_msix_init(&m, &dev, 2049, 0, 0, 0x800, &rec_ops, &r), -EINVAL);
    assert_int_equal(pci_msix_init(&m, &dev, 4, 0, 4, 0x800, &rec_ops, &r), -EINVAL);
    assert_int_equal(pci_msix_init(&m, &dev, 4, 2, 0, 0x800, &rec_ops, &r), -EINVAL);   /* no BAR 2 */
    assert_int_equal(pci_msix_init(&m, &dev, 4, 0, 0, 0x20, &rec_ops, &r), -EEXIST);    /* overlap */
    assert_int_equal(pci_msix_init(&m, &dev, 257, 0, 0, 0xff8, &rec_ops, &r), -EINVAL); /* past the BAR */
    assert_int_equal(dev.nr_caps, 0);
    assert_int_equal(dev.bars[0].nr_regions, 0);
    assert_int_equal(pci_msix_init(&m, &dev, 64, 0, 0, 0x800, &rec_ops, &r), 0);
    assert_int_equal(dev.nr_caps, 1);
    assert_int_equal(pci_msix_pba_size(64), 8);
    assert_int_equal(pci_msix_pba_size(65), 16);
    pci_msix_destroy(&m);
}

/* ---- msi_kvm against a stand-in for KVM ---- */

struct fake_kvm {
    unsigned routing_calls, irqfd_calls, signal_calls;
    struct kvm_irq_routing_entry last_table[128];
    unsigned last_nr;
    struct kvm_msi last_msi;
    int fail_routing;
};

static int fake_ioctl(void *opaque, int fd, unsigned long req, void *arg)
{
    struct fake_kvm *k = opaque;
    assert_int_equal(fd, 99);
    if (req == KVM_SET_GSI_ROUTING) {
        k->routing_calls++;
        if (k->fail_routing) {
            errno = EINVAL;
            return -1;
        }
        struct kvm_irq_routing *r = arg;
        k->last_nr = r->nr < 128 ? r->nr : 128;
        memcpy(k->last_table, r->entries, k->last_nr * sizeof(r->entries[0]));
        return 0;
    }
    if (req == KVM_IRQFD) {
        k->irqfd_calls++;
        return 0;
    }
    if (req == KVM_SIGNAL_MSI) {
        k->signal_calls++;
        k->last_msi = *(struct kvm_msi *)arg;
        return 1;
    }
    errno = ENOTTY;
    return -1;
}

static const struct kvm_irq_routing_entry *find_gsi(const struct fake_kvm *k, unsigned gsi, unsigned type)
{
    for (unsigned i = 0; i < k->last_nr; i++)
        if (k->last_table[i].gsi == gsi && k->last_table[i].type == type)
            return &k->last_table[i];
    return NULL;
}

static uint64_t eventfd_count(int fd)
{
    uint64_t v = 0;
    if (read(fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static void msi_kvm_routes_and_irqfds(void **state)
{
    struct fixture *f = *state;
    struct fake_kvm fk = { 0 };
    struct msi_kvm k;
    assert_int_equal(msi_kvm_init(&k, 99), 0);
    k.ioctl_fn = fake_ioctl;
    k.ioctl_opaque = &fk;
    struct msi_kvm_device d;
    assert_int_equal(msi_kvm_device_init(&d, &k, NVEC), 0);
    assert_int_equal(fk.irqfd_calls, NVEC);
    for (unsigned v = 0; v < NVEC; v++) {
        assert_int_equal(k.vectors[d.handles[v]].gsi, MSI_KVM_FIRST_GSI + v);
        assert_true(k.vectors[d.handles[v]].eventfd >= 0);
    }

    /* Wire the device's MSI-X to KVM and let the guest program vector 2. */
    f->msix.ops = &msi_kvm_msix_ops;
    f->msix.opaque = &d;
    set_control(f, PCI_MSIX_FLAGS_ENABLE);
    program_vector(f, 2, 0xfee00000, 0x4022);
    assert_int_equal(fk.routing_calls, 0);          /* masked: nothing to install yet */
    unmask(f, 2, false);
    assert_int_equal(fk.routing_calls, 1);
    /* The table keeps KVM's irqchip defaults and adds the MSI route. */
    assert_non_null(find_gsi(&fk, 4, KVM_IRQ_ROUTING_IRQCHIP));
    assert_non_null(find_gsi(&fk, 23, KVM_IRQ_ROUTING_IRQCHIP));
    const struct kvm_irq_routing_entry *e = find_gsi(&fk, MSI_KVM_FIRST_GSI + 2, KVM_IRQ_ROUTING_MSI);
    assert_non_null(e);
    assert_int_equal(e->u.msi.address_lo, 0xfee00000);
    assert_int_equal(e->u.msi.data, 0x4022);
    assert_null(find_gsi(&fk, MSI_KVM_FIRST_GSI + 1, KVM_IRQ_ROUTING_MSI));

    /* The data path is an eventfd write, no ioctl. */
    assert_int_equal(pci_msix_notify(&f->msix, 2), 1);
    assert_int_equal(pci_msix_notify(&f->msix, 2), 1);
    assert_int_equal(eventfd_count(k.vectors[d.handles[2]].eventfd), 2);
    assert_int_equal(fk.signal_calls, 0);

    /* Mask, reprogram, unmask: one more table rewrite, with the new message. */
    unmask(f, 2, true);
    program_vector(f, 2, 0xfee01000, 0x4023);
    assert_int_equal(fk.routing_calls, 1);
    unmask(f, 2, false);
    assert_int_equal(fk.routing_calls, 2);
    e = find_gsi(&fk, MSI_KVM_FIRST_GSI + 2, KVM_IRQ_ROUTING_MSI);
    assert_non_null(e);
    assert_int_equal(e->u.msi.address_lo, 0xfee01000);
    assert_int_equal(e->u.msi.data, 0x4023);
    /* Unmask of an unchanged message: no rewrite. */
    unmask(f, 2, true);
    unmask(f, 2, false);
    assert_int_equal(fk.routing_calls, 2);

    /* When KVM refuses routing, delivery falls back to KVM_SIGNAL_MSI. */
    fk.fail_routing = 1;
    program_vector(f, 1, 0xfee02000, 0x4031);
    unmask(f, 1, false);
    assert_int_equal(fk.routing_calls, 3);
    assert_int_equal(pci_msix_notify(&f->msix, 1), 1);
    assert_int_equal(fk.signal_calls, 1);
    assert_int_equal(fk.last_msi.address_lo, 0xfee02000);
    assert_int_equal(fk.last_msi.data, 0x4031);
    assert_int_equal(eventfd_count(k.vectors[d.handles[1]].eventfd), 0);

    /* Bad handles are refused. */
    assert_int_equal(msi_kvm_update(&k, 999, (struct pci_msi_msg){ 0, 0 }, false), -EINVAL);

    f->msix.ops = &rec_ops;
    f->msix.opaque = &f->rec;
    msi_kvm_device_destroy(&d);
    unsigned irqfd_before = fk.irqfd_calls;
    msi_kvm_destroy(&k);
    assert_int_equal(fk.irqfd_calls, irqfd_before + NVEC);   /* deassigned */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(capability_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(table_access, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_pending_and_unmask, setup, teardown),
        cmocka_unit_test_setup_teardown(function_mask_and_enable, setup, teardown),
        cmocka_unit_test_setup_teardown(route_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_clears_state, setup, teardown),
        cmocka_unit_test(init_rules),
        cmocka_unit_test_setup_teardown(msi_kvm_routes_and_irqfds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
