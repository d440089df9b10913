// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the ACPI tables: walks RSDP -> XSDT/RSDT -> FADT -> DSDT/FACS
 * and the MADT the way a guest does, checking every checksum, length and
 * pointer, the fixed-hardware fields, MADT entries for 1..1024 CPUs, the
 * PCI host bridge (MCFG, \_SB.PCI0, \_SB.MRES) and that the tables without
 * PCI are unchanged by it, and the -ENOSPC / -EINVAL / install paths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/acpi_vmgenid.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "pci/pci_host.h"

#define BASE   X86_ACPI_GPA
#define REGION (X86_ACPI_END - X86_ACPI_GPA)

struct tables {
    const uint8_t *buf;
    size_t len;
    const struct acpi_rsdp *rsdp;
    const struct acpi_header *xsdt, *rsdt, *fadt, *madt, *dsdt, *mcfg;
    size_t ntables;
    const struct acpi_facs *facs;
};

static uint8_t region[REGION + 64];

static const void *at_gpa(const struct tables *t, uint64_t gpa, size_t need)
{
    assert_true(gpa >= BASE);
    assert_true(gpa - BASE <= t->len && need <= t->len - (gpa - BASE));
    return t->buf + (gpa - BASE);
}

static const struct acpi_header *table_at(const struct tables *t, uint64_t gpa, const char *sig)
{
    const struct acpi_header *h = at_gpa(t, gpa, sizeof(*h));
    at_gpa(t, gpa, h->length);
    assert_memory_equal(h->signature, sig, 4);
    assert_true(h->length >= sizeof(*h));
    assert_int_equal(acpi_checksum(h, h->length), 0);
    assert_memory_equal(h->oem_id, ACPI_OEM_ID, 6);
    assert_memory_equal(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
    assert_memory_equal(h->creator_id, ACPI_CREATOR_ID, 4);
    return h;
}

static void walk_fadt(struct tables *t)
{
    const struct acpi_fadt *f = (const void *)t->fadt;
    assert_int_equal(t->fadt->length, sizeof(*f));
    assert_int_equal(t->fadt->revision, 6);
    t->dsdt = table_at(t, f->x_dsdt, "DSDT");
    assert_int_equal(f->dsdt, f->x_dsdt);
    /* Only one FACS pointer may be set; the FACS must be 64-byte aligned. */
    assert_int_equal(f->firmware_ctrl, 0);
    assert_int_equal(f->x_firmware_ctrl % 64, 0);
    t->facs = at_gpa(t, f->x_firmware_ctrl, sizeof(*t->facs));
    assert_memory_equal(t->facs->signature, "FACS", 4);
    assert_int_equal(t->facs->length, 64);
}

static void walk(struct tables *t, const uint8_t *buf, size_t len)
{
    memset(t, 0, sizeof(*t));
    t->buf = buf;
    t->len = len;
    t->rsdp = at_gpa(t, BASE, sizeof(*t->rsdp));
    assert_memory_equal(t->rsdp->signature, "RSD PTR ", 8);
    assert_int_equal(acpi_checksum(t->rsdp, ACPI_RSDP_V1_LEN), 0);
    assert_int_equal(acpi_checksum(t->rsdp, sizeof(*t->rsdp)), 0);
    assert_int_equal(t->rsdp->revision, 2);
    assert_int_equal(t->rsdp->length, sizeof(*t->rsdp));

    t->xsdt = table_at(t, t->rsdp->xsdt_address, "XSDT");
    t->rsdt = table_at(t, t->rsdp->rsdt_address, "RSDT");
    size_t n = (t->xsdt->length - sizeof(struct acpi_header)) / 8;
    assert_int_equal(t->xsdt->length, sizeof(struct acpi_header) + 8 * n);
    assert_int_equal(t->rsdt->length, sizeof(struct acpi_header) + 4 * n);
    for (size_t i = 0; i < n; i++) {
        uint64_t gpa;
        uint32_t gpa32;
        memcpy(&gpa, (const uint8_t *)t->xsdt + sizeof(struct acpi_header) + 8 * i, 8);
        memcpy(&gpa32, (const uint8_t *)t->rsdt + sizeof(struct acpi_header) + 4 * i, 4);
        assert_int_equal(gpa, gpa32);
        const struct acpi_header *h = at_gpa(t, gpa, sizeof(*h));
        if (!memcmp(h->signature, "FACP", 4) && !t->fadt)
            t->fadt = table_at(t, gpa, "FACP");
        else if (!memcmp(h->signature, "APIC", 4) && !t->madt)
            t->madt = table_at(t, gpa, "APIC");
        else if (!memcmp(h->signature, "MCFG", 4) && !t->mcfg)
            t->mcfg = table_at(t, gpa, "MCFG");
        else
            fail_msg("unexpected or repeated table %.4s", h->signature);
    }
    t->ntables = n;
    assert_non_null(t->fadt);
    assert_non_null(t->madt);
    walk_fadt(t);
}

static void build_platform(struct tables *t, const struct x86_platform_info *p)
{
    size_t len = 0;
    memset(region, 0, sizeof(region));
    assert_int_equal(acpi_build_tables(region, REGION, BASE, p, &len), 0);
    assert_true(len > 0 && len <= REGION);
    walk(t, region, len);
}

static void build(struct tables *t, unsigned nr_cpus)
{
    struct x86_platform_info p = { .nr_cpus = nr_cpus };
    size_t len = 0;
    memset(region, 0, sizeof(region));
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), 0);
    assert_true(len > 0 && len <= REGION);
    walk(t, region, len);
}

static void assert_no_overlap(const struct tables *t)
{
    const void *ptrs[] = { t->rsdp, t->xsdt, t->rsdt, t->fadt, t->madt, t->dsdt, t->facs,
                           t->mcfg };
    size_t lens[] = { sizeof(*t->rsdp), t->xsdt->length, t->rsdt->length, t->fadt->length,
                      t->madt->length, t->dsdt->length, t->facs->length,
                      t->mcfg ? t->mcfg->length : 0 };
    size_t n = t->mcfg ? 8 : 7;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const uint8_t *a = ptrs[i], *b = ptrs[j];
            assert_true(a + lens[i] <= b || b + lens[j] <= a);
        }
}

static void test_fadt_fixed_hardware(void **state)
{
    struct tables t;
    build(&t, 1);
    assert_no_overlap(&t);
    const struct acpi_fadt *f = (const void *)t.fadt;
    assert_int_equal(f->sci_int, 9);
    assert_int_equal(f->smi_cmd, 0);
    assert_int_equal(f->pm1a_evt_blk, 0x600);
    assert_int_equal(f->pm1_evt_len, 4);
    assert_int_equal(f->pm1a_cnt_blk, 0x604);
    assert_int_equal(f->pm1_cnt_len, 2);
    assert_int_equal(f->pm_tmr_blk, 0x608);
    assert_int_equal(f->pm_tmr_len, 4);
    assert_int_equal(f->gpe0_blk, 0x620);
    assert_int_equal(f->gpe0_blk_len, 4);
    assert_int_equal(f->pm1b_evt_blk | f->pm1b_cnt_blk | f->pm2_cnt_blk | f->gpe1_blk, 0);
    assert_int_equal(f->x_pm1a_evt_blk.address, 0x600);
    assert_int_equal(f->x_pm1a_evt_blk.space_id, ACPI_GAS_SYSTEM_IO);
    assert_int_equal(f->x_pm1a_evt_blk.bit_width, 32);
    assert_int_equal(f->x_pm1a_cnt_blk.address, 0x604);
    assert_int_equal(f->x_pm1a_cnt_blk.bit_width, 16);
    assert_int_equal(f->x_pm_tmr_blk.address, 0x608);
    assert_int_equal(f->x_pm_tmr_blk.bit_width, 32);
    assert_int_equal(f->x_gpe0_blk.address, 0x620);
    assert_int_equal(f->x_gpe0_blk.bit_width, 32);

    uint32_t want = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
                    ACPI_FADT_RESET_REG_SUP;
    assert_int_equal(f->flags, want);
    assert_false(f->flags & (ACPI_FADT_HW_REDUCED | ACPI_FADT_TMR_VAL_EXT | ACPI_FADT_PWR_BUTTON));
    assert_int_equal(f->reset_reg.space_id, ACPI_GAS_SYSTEM_IO);
    assert_int_equal(f->reset_reg.bit_width, 8);
    assert_int_equal(f->reset_reg.address, 0x60c);
    assert_int_equal(f->reset_value, 1);
    assert_int_equal(f->iapc_boot_arch, ACPI_IAPC_NO_VGA);
    assert_false(f->iapc_boot_arch & (ACPI_IAPC_8042 | ACPI_IAPC_NO_CMOS_RTC | ACPI_IAPC_NO_MSI));
}

struct madt_counts {
    unsigned lapic, x2apic, ioapic, iso, nmi, x2nmi;
};

static void check_madt_cpu(unsigned *next_id, uint32_t id, uint32_t uid, uint32_t flags)
{
    assert_int_equal(id, *next_id);
    assert_int_equal(uid, id);
    assert_int_equal(flags, ACPI_MADT_ENABLED);
    (*next_id)++;
}

static void check_madt_other(struct madt_counts *c, const uint8_t *e)
{
    if (e[0] == ACPI_MADT_IOAPIC) {
        const struct acpi_madt_ioapic *io = (const void *)e;
        assert_int_equal(io->address, X86_IOAPIC_GPA);
        assert_int_equal(io->gsi_base, 0);
        c->ioapic++;
    } else if (e[0] == ACPI_MADT_INT_OVERRIDE) {
        const struct acpi_madt_int_override *o = (const void *)e;
        /* Only the SCI is overridden: IRQ0 stays on pin 0. */
        assert_int_equal(o->bus, 0);
        assert_int_equal(o->source, 9);
        assert_int_equal(o->gsi, 9);
        assert_int_equal(o->flags, 0xd);
        c->iso++;
    } else if (e[0] == ACPI_MADT_LAPIC_NMI) {
        const struct acpi_madt_lapic_nmi *n = (const void *)e;
        assert_int_equal(n->processor_uid, 0xff);
        assert_int_equal(n->lint, 1);
        c->nmi++;
    } else if (e[0] == ACPI_MADT_X2APIC_NMI) {
        const struct acpi_madt_x2apic_nmi *n = (const void *)e;
        assert_int_equal(n->processor_uid, 0xffffffffu);
        assert_int_equal(n->lint, 1);
        c->x2nmi++;
    } else {
        fail_msg("unexpected MADT entry type %u", e[0]);
    }
}

static size_t madt_entry_size(uint8_t type)
{
    switch (type) {
    case ACPI_MADT_LAPIC: return sizeof(struct acpi_madt_lapic);
    case ACPI_MADT_IOAPIC: return sizeof(struct acpi_madt_ioapic);
    case ACPI_MADT_INT_OVERRIDE: return sizeof(struct acpi_madt_int_override);
    case ACPI_MADT_LAPIC_NMI: return sizeof(struct acpi_madt_lapic_nmi);
    case ACPI_MADT_X2APIC: return sizeof(struct acpi_madt_x2apic);
    case ACPI_MADT_X2APIC_NMI: return sizeof(struct acpi_madt_x2apic_nmi);
    default: return 0;
    }
}

static struct madt_counts count_madt(const struct acpi_header *h)
{
    const struct acpi_madt *m = (const void *)h;
    assert_int_equal(m->lapic_address, X86_LAPIC_GPA);
    assert_int_equal(m->flags, ACPI_MADT_PCAT_COMPAT);
    struct madt_counts c = { 0 };
    unsigned next_id = 0;
    const uint8_t *e = (const uint8_t *)(m + 1), *end = (const uint8_t *)h + h->length;
    while (e < end) {
        assert_true(end - e >= 2 && e[1] <= end - e);
        assert_int_equal(e[1], madt_entry_size(e[0]));
        if (e[0] == ACPI_MADT_LAPIC) {
            const struct acpi_madt_lapic *l = (const void *)e;
            assert_true(l->apic_id < 255);
            check_madt_cpu(&next_id, l->apic_id, l->processor_uid, l->flags);
            c.lapic++;
        } else if (e[0] == ACPI_MADT_X2APIC) {
            const struct acpi_madt_x2apic *x = (const void *)e;
            assert_true(x->x2apic_id >= 255);
            check_madt_cpu(&next_id, x->x2apic_id, x->processor_uid, x->flags);
            c.x2apic++;
        } else {
            check_madt_other(&c, e);
        }
        e += e[1];
    }
    assert_ptr_equal(e, end);
    return c;
}

static void test_madt_counts(void **state)
{
    const unsigned cpus[] = { 1, 4, 254, 255, 256, 1024 };
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct tables t;
        build(&t, cpus[i]);
        assert_no_overlap(&t);
        struct madt_counts c = count_madt(t.madt);
        unsigned n = cpus[i];
        assert_int_equal(c.lapic, n < 255 ? n : 255);
        assert_int_equal(c.x2apic, n > 255 ? n - 255 : 0);
        assert_int_equal(c.ioapic, 1);
        assert_int_equal(c.iso, 1);
        assert_int_equal(c.nmi, 1);
        assert_int_equal(c.x2nmi, n > 255 ? 1 : 0);
    }
}

static size_t count_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
    size_t count = 0;
    for (const uint8_t *p = hay; (p = memmem(p, n - (p - (const uint8_t *)hay), needle, m)); p++)
        count++;
    return count;
}

static void test_dsdt_contents(void **state)
{
    const unsigned cpus[] = { 1, 4, 256, 1024 };
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct tables t;
        build(&t, cpus[i]);
        const struct acpi_header *d = t.dsdt;
        assert_int_equal(d->revision, 2);
        assert_int_equal(count_bytes(d, d->length, "ACPI0007", 9), cpus[i]);
        /* Name(\_S5, Package(4) {5, 5, 0, 0}) */
        const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
                               0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
        assert_int_equal(count_bytes(d, d->length, s5, sizeof(s5)), 1);
        const uint8_t com1_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
                                    0x22, 0x10, 0x00, 0x79 };
        const uint8_t rtc_io[] = { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,
                                   0x22, 0x00, 0x01, 0x79 };
        const uint8_t pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
        const uint8_t pnp0b00[] = { 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
        assert_int_equal(count_bytes(d, d->length, com1_io, sizeof(com1_io)), 1);
        assert_int_equal(count_bytes(d, d->length, rtc_io, sizeof(rtc_io)), 1);
        assert_int_equal(count_bytes(d, d->length, pnp0501, sizeof(pnp0501)), 1);
        assert_int_equal(count_bytes(d, d->length, pnp0b00, sizeof(pnp0b00)), 1);
        char last[8];
        snprintf(last, sizeof(last), "C%03X", cpus[i] - 1);
        assert_non_null(memmem(d, d->length, last, 4));
    }
}

/* Every capacity below the needed size fails cleanly, without writing past it. */
static void test_enospc_every_cap(void **state)
{
    struct x86_platform_info p = { .nr_cpus = 4 };
    size_t need = 0;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &need), 0);
    for (size_t cap = 0; cap <= need; cap++) {
        memset(region, 0xcc, sizeof(region));
        size_t len = 0;
        int ret = acpi_build_tables(region, cap, BASE, &p, &len);
        assert_int_equal(ret, cap < need ? -ENOSPC : 0);
        for (size_t i = cap; i < sizeof(region); i++)
            assert_int_equal(region[i], 0xcc);
    }
}

/* ---- PCI host bridge ---- */

static struct x86_platform_info pci_platform(unsigned nr_cpus, uint64_t ram_end)
{
    return (struct x86_platform_info){ .nr_cpus = nr_cpus, .pci = true, .ram_end = ram_end };
}

static void test_mcfg(void **state)
{
    struct tables t;
    build(&t, 4);
    assert_null(t.mcfg);
    assert_int_equal(t.ntables, 2);

    struct x86_platform_info p = pci_platform(4, 1 * GiB);
    build_platform(&t, &p);
    assert_non_null(t.mcfg);
    assert_int_equal(t.ntables, 3);
    assert_no_overlap(&t);
    assert_int_equal(t.mcfg->revision, 1);
    assert_int_equal(t.mcfg->length, 44 + 16);
    const struct acpi_mcfg *m = (const void *)t.mcfg;
    for (size_t i = 0; i < sizeof(m->reserved); i++)
        assert_int_equal(m->reserved[i], 0);
    const struct acpi_mcfg_alloc *a = (const void *)(m + 1);
    assert_int_equal(a->base, 0xe0000000u);
    assert_int_equal(a->base, X86_PCI_ECAM_GPA);
    assert_int_equal(a->segment, 0);
    assert_int_equal(a->start_bus, 0);
    assert_int_equal(a->end_bus, 0);
    assert_int_equal(a->reserved, 0);
    /* The buses it lists must fit in the ECAM range the host decodes (1 MiB per bus). */
    assert_true((uint64_t)(a->end_bus - a->start_bus + 1) * MiB <= PCI_ECAM_SIZE_BUS0);
}

/* Decodes the PkgLength at p (ACPI 6.x §20.2.4); returns how many bytes it takes. */
static size_t pkglen_decode(const uint8_t *p, size_t *len)
{
    size_t n = (size_t)(p[0] >> 6) + 1;
    if (n == 1) {
        *len = p[0] & 0x3f;
        return 1;
    }
    size_t v = p[0] & 0xf;
    for (size_t i = 1; i < n; i++)
        v |= (size_t)p[i] << (4 + 8 * (i - 1));
    *len = v;
    return n;
}

struct sb_scope {
    size_t op_at;               /* offset of the ScopeOp in the table */
    const uint8_t *body;        /* after the name \_SB_ */
    size_t body_len;
};

/*
 * Scope (\_SB) is the second top-level object, after Name (\_S5, ...); the
 * last is Scope (\_GPE), the VM generation ID's GPE handler.
 */
static struct sb_scope find_sb(const struct acpi_header *d)
{
    const uint8_t *p = (const uint8_t *)d;
    size_t off = sizeof(*d);
    assert_int_equal(p[off], 0x08);                     /* NameOp */
    assert_memory_equal(p + off + 1, "\\_S5_", 5);
    assert_int_equal(p[off + 6], 0x12);                 /* PackageOp */
    size_t len;
    pkglen_decode(p + off + 7, &len);
    off += 7 + len;
    struct sb_scope s = { .op_at = off };
    assert_int_equal(p[off], 0x10);                     /* ScopeOp */
    size_t n = pkglen_decode(p + off + 1, &len);
    assert_memory_equal(p + off + 1 + n, "\\_SB_", 5);
    size_t gpe = off + 1 + len, glen;
    assert_true(gpe < d->length);
    assert_int_equal(p[gpe], 0x10);                     /* ScopeOp */
    size_t gn = pkglen_decode(p + gpe + 1, &glen);
    assert_memory_equal(p + gpe + 1 + gn, "\\_GPE", 5);
    assert_int_equal(gpe + 1 + glen, d->length);        /* nothing after it */
    s.body = p + off + 1 + n + 5;
    s.body_len = len - n - 5;
    return s;
}

/* The bytes a PCI build adds to \_SB must be exactly Device (PCI0) then Device (MRES). */
static void check_added_devices(const uint8_t *p, size_t n)
{
    const char *want[] = { "PCI0", "MRES" };
    size_t i = 0;
    for (; n && i < 2; i++) {
        assert_true(n > 6);
        assert_int_equal(p[0], 0x5b);                   /* ExtOpPrefix */
        assert_int_equal(p[1], 0x82);                   /* DeviceOp */
        size_t len;
        size_t pl = pkglen_decode(p + 2, &len);
        assert_true(len <= n - 2 && len > pl + 4);
        assert_memory_equal(p + 2 + pl, want[i], 4);
        p += 2 + len;
        n -= 2 + len;
    }
    assert_int_equal(i, 2);
    assert_int_equal(n, 0);
}

/*
 * With PCI the DSDT only grows by PCI0 and MRES at the end of \_SB; without
 * it (whatever ram_end says) every table is what a CPU-only build gives.
 */
static void test_dsdt_pci_adds_only_devices(void **state)
{
    const unsigned cpus[] = { 1, 255, 1024 };
    static uint8_t plain[REGION], with_ram_end[REGION], pci[REGION];
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct x86_platform_info p = { .nr_cpus = cpus[i] };
        size_t len_plain, len;
        memset(plain, 0, sizeof(plain));
        memset(with_ram_end, 0, sizeof(with_ram_end));
        assert_int_equal(acpi_build_tables(plain, REGION, BASE, &p, &len_plain), 0);
        p.ram_end = 100 * GiB;
        assert_int_equal(acpi_build_tables(with_ram_end, REGION, BASE, &p, &len), 0);
        assert_int_equal(len, len_plain);
        assert_memory_equal(plain, with_ram_end, REGION);

        struct tables a, b;
        walk(&a, plain, len_plain);
        assert_null(a.mcfg);
        p.pci = true;
        memset(pci, 0, sizeof(pci));
        assert_int_equal(acpi_build_tables(pci, REGION, BASE, &p, &len), 0);
        walk(&b, pci, len);
        const uint8_t *da = (const void *)a.dsdt, *db = (const void *)b.dsdt;
        /* Same header but for length and checksum. */
        assert_memory_equal(da, db, 4);
        assert_int_equal(da[8], db[8]);
        assert_memory_equal(da + 10, db + 10, sizeof(struct acpi_header) - 10);
        struct sb_scope sa = find_sb(a.dsdt), sb = find_sb(b.dsdt);
        assert_int_equal(sa.op_at, sb.op_at);
        assert_memory_equal(da + sizeof(struct acpi_header), db + sizeof(struct acpi_header),
                            sa.op_at + 1 - sizeof(struct acpi_header));
        assert_true(sb.body_len > sa.body_len);
        assert_memory_equal(sa.body, sb.body, sa.body_len);
        check_added_devices(sb.body + sa.body_len, sb.body_len - sa.body_len);
        /* The FADT and MADT do not change either. */
        assert_memory_equal(a.madt, b.madt, a.madt->length);
        assert_int_equal(a.fadt->length, b.fadt->length);
    }
}

static size_t put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return n;
}

/* A Word/DWord/QWord address space descriptor as ACPI 6.x §6.4.3.5 lays it out. */
static size_t addr_desc(uint8_t *p, size_t w, uint8_t type, uint8_t type_flags, uint64_t min,
                        uint64_t max)
{
    const uint8_t tag[] = { [2] = 0x88, [4] = 0x87, [8] = 0x8a };
    size_t n = 0;
    p[n++] = tag[w];
    n += put_le(p + n, 3 + 5 * w, 2);
    p[n++] = type;
    p[n++] = 0x0c;              /* producer, positive decode, min and max fixed */
    p[n++] = type_flags;
    n += put_le(p + n, 0, w);
    n += put_le(p + n, min, w);
    n += put_le(p + n, max, w);
    n += put_le(p + n, 0, w);
    n += put_le(p + n, max - min + 1, w);
    return n;
}

static void check_pci_crs(const struct acpi_header *d, uint64_t ram_end)
{
    /* docs/pci.md: max(64 GiB, ram_end rounded up to 1 GiB), 64 GiB long. */
    uint64_t base64 = (ram_end + GiB - 1) / GiB * GiB;
    if (base64 < 64 * GiB)
        base64 = 64 * GiB;
    uint8_t want[256];
    size_t n = 0;
    want[n++] = 0x11;           /* BufferOp; its PkgLength and size follow */
    size_t body_at = n;
    n += addr_desc(want + n, 2, 2, 0, 0, 0);                     /* bus 0..0 */
    const uint8_t conf_io[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
    memcpy(want + n, conf_io, sizeof(conf_io));
    n += sizeof(conf_io);
    n += addr_desc(want + n, 2, 1, 3, 0, 0xcf7);
    n += addr_desc(want + n, 2, 1, 3, 0xd00, 0xffff);
    n += addr_desc(want + n, 4, 0, 1, 0xc0000000, 0xdfffffff);
    n += addr_desc(want + n, 8, 0, 1, base64, base64 + 64 * GiB - 1);
    want[n++] = 0x79;
    want[n++] = 0;
    /* Compare the descriptors: the buffer header's encoding is test_aml's business. */
    assert_int_equal(count_bytes(d, d->length, want + body_at, n - body_at), 1);
    const uint8_t mres[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0,
                             0x00, 0x00, 0x10, 0x00, 0x79, 0x00 };
    assert_int_equal(count_bytes(d, d->length, mres, sizeof(mres)), 1);
}

static void check_pci_prt(const struct acpi_header *d)
{
    /* Name (_PRT, Package (124) {...}): PkgLength of two bytes, then the count. */
    const uint8_t *prt = memmem(d, d->length, "_PRT", 4);
    assert_non_null(prt);
    assert_int_equal(prt[4], 0x12);
    assert_int_equal(prt[5] >> 6, 1);
    assert_int_equal(prt[7], 124);
    for (unsigned slot = 1; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            unsigned gsi = 16 + (slot - 1 + pin) % 8;
            /* The host bridge must agree with the table it is described by. */
            assert_int_equal(pci_host_intx_gsi(slot, pin + 1), gsi);
            uint8_t e[16];
            size_t n = 0;
            e[n++] = 0x12;
            n++;                                    /* PkgLength, set below */
            e[n++] = 4;
            e[n++] = 0x0c;
            n += put_le(e + n, (uint64_t)slot << 16 | 0xffff, 4);
            if (pin > 1)
                e[n++] = 0x0a;
            e[n++] = (uint8_t)pin;
            e[n++] = 0x00;                          /* source: Zero */
            e[n++] = 0x0a;
            e[n++] = (uint8_t)gsi;
            e[1] = (uint8_t)(n - 1);
            assert_int_equal(count_bytes(d, d->length, e, n), 1);
        }
    }
}

static void test_dsdt_pci_contents(void **state)
{
    const uint64_t ram_ends[] = { 512 * MiB, 3 * GiB, 4 * GiB + 1, 63 * GiB, 64 * GiB + 1,
                                  100 * GiB + 512 * MiB };
    for (size_t i = 0; i < sizeof(ram_ends) / sizeof(ram_ends[0]); i++) {
        struct x86_platform_info p = pci_platform(2, ram_ends[i]);
        struct tables t;
        build_platform(&t, &p);
        const struct acpi_header *d = t.dsdt;
        const uint8_t pnp0a08[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
        const uint8_t pnp0a03[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
        const uint8_t pnp0c02[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
        const uint8_t seg[] = { 0x08, '_', 'S', 'E', 'G', 0x00 };
        const uint8_t bbn[] = { 0x08, '_', 'B', 'B', 'N', 0x00 };
        const uint8_t uid0[] = { 0x08, '_', 'U', 'I', 'D', 0x00 };
        assert_int_equal(count_bytes(d, d->length, pnp0a08, sizeof(pnp0a08)), 1);
        assert_int_equal(count_bytes(d, d->length, pnp0a03, sizeof(pnp0a03)), 1);
        assert_int_equal(count_bytes(d, d->length, pnp0c02, sizeof(pnp0c02)), 1);
        assert_int_equal(count_bytes(d, d->length, seg, sizeof(seg)), 1);
        assert_int_equal(count_bytes(d, d->length, bbn, sizeof(bbn)), 1);
        /* C000 and PCI0 have _UID 0. */
        assert_int_equal(count_bytes(d, d->length, uid0, sizeof(uid0)), 2);
        /* A device has a _HID or an _ADR, never both. */
        assert_null(memmem(d, d->length, "_ADR", 4));
        check_pci_crs(d, ram_ends[i]);
        check_pci_prt(d);
    }
}

static void test_pci_fits_1024_cpus(void **state)
{
    struct x86_platform_info p = pci_platform(1024, 16 * GiB);
    struct tables t;
    build_platform(&t, &p);
    assert_no_overlap(&t);
    assert_non_null(t.mcfg);
    assert_int_equal(count_madt(t.madt).x2apic, 1024 - 255);
    assert_non_null(memmem(t.dsdt, t.dsdt->length, "PCI0", 4));
    size_t len;
    p.nr_cpus = 2048;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), -ENOSPC);

    /* Every capacity short of the need fails cleanly with PCI too. */
    p.nr_cpus = 2;
    size_t need = 0;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &need), 0);
    for (size_t cap = 0; cap <= need; cap++) {
        memset(region, 0xcc, sizeof(region));
        int ret = acpi_build_tables(region, cap, BASE, &p, &len);
        assert_int_equal(ret, cap < need ? -ENOSPC : 0);
        for (size_t i = cap; i < sizeof(region); i++)
            assert_int_equal(region[i], 0xcc);
    }
}

static void test_pci_bad_ram_end(void **state)
{
    const uint64_t bad[] = { 0, 3 * GiB + 1, 4 * GiB, UINT64_MAX, UINT64_MAX - 40 * GiB };
    const uint64_t good[] = { 1, 3 * GiB, 4 * GiB + 1, 1ULL << 46 };
    static uint8_t dsdt[REGION];
    size_t len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct x86_platform_info p = pci_platform(1, bad[i]);
        assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), -EINVAL);
        struct aml_buf b;
        aml_buf_init(&b, dsdt, sizeof(dsdt));
        assert_int_equal(acpi_build_dsdt(&b, &p), -EINVAL);
        /* Without PCI, ram_end means nothing. */
        p.pci = false;
        assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), 0);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct x86_platform_info p = pci_platform(1, good[i]);
        assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), 0);
    }
}

static void test_too_many_cpus(void **state)
{
    struct x86_platform_info p = { .nr_cpus = 1024 };
    size_t len;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), 0);
    p.nr_cpus = 2048;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), -ENOSPC);
    p.nr_cpus = 0;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), -EINVAL);
    p.nr_cpus = ACPI_MAX_CPUS + 1;
    assert_int_equal(acpi_build_tables(region, REGION, BASE, &p, &len), -EINVAL);
    p.nr_cpus = 1;
    assert_int_equal(acpi_build_tables(region, REGION, BASE + 8, &p, &len), -EINVAL);
}

/* What Linux does without boot_params.acpi_rsdp_addr: scan on 16-byte steps. */
static uint64_t scan_rsdp(const struct guest_mem *gm)
{
    for (uint64_t gpa = 0xe0000; gpa < 0x100000; gpa += 16) {
        const uint8_t *p = guest_mem_ptr(gm, gpa, 36);
        if (p && !memcmp(p, "RSD PTR ", 8) && acpi_checksum(p, 20) == 0)
            return gpa;
    }
    return 0;
}

static void test_install(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 16 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct x86_platform_info p = { .nr_cpus = 8 };
    uint64_t rsdp = 0;
    assert_int_equal(x86_acpi_install(&gm, &p, &rsdp), 0);
    assert_int_equal(rsdp, X86_ACPI_GPA);
    assert_int_equal(scan_rsdp(&gm), rsdp);
    struct tables t;
    walk(&t, guest_mem_ptr(&gm, BASE, REGION), REGION);
    assert_int_equal(count_madt(t.madt).lapic, 8);

    /* A failed install leaves no stale tables behind. */
    p.nr_cpus = 2048;
    assert_int_equal(x86_acpi_install(&gm, &p, &rsdp), -ENOSPC);
    assert_int_equal(scan_rsdp(&gm), 0);
    guest_mem_destroy(&gm);

    /* RAM that ends below the ACPI region. */
    assert_int_equal(guest_mem_init(&gm, 512 * KiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    p.nr_cpus = 1;
    assert_int_equal(x86_acpi_install(&gm, &p, &rsdp), -EFAULT);
    guest_mem_destroy(&gm);
}

/*
 * The VM generation ID: install leaves a non-zero ID in its page, which no
 * table reaches; renew draws a different one; the DSDT's ADDR names it.
 */
static void test_vmgenid(void **state)
{
    (void)state;
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 16 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    static const uint8_t zero[ACPI_VMGENID_LEN];
    struct x86_platform_info p = { .nr_cpus = 1024, .pci = true, .ram_end = 16 * MiB };
    uint64_t rsdp = 0;
    assert_int_equal(x86_acpi_install(&gm, &p, &rsdp), 0);
    const uint8_t *id = guest_mem_ptr(&gm, ACPI_VMGENID_GPA, ACPI_VMGENID_LEN);
    assert_non_null(id);
    assert_memory_not_equal(id, zero, sizeof(zero));
    uint8_t before[ACPI_VMGENID_LEN], now[ACPI_VMGENID_LEN];
    memcpy(before, id, sizeof(before));
    struct tables t;
    walk(&t, guest_mem_ptr(&gm, BASE, REGION), REGION);
    const struct acpi_header *all[] = { t.xsdt, t.fadt, t.madt, t.dsdt, t.mcfg };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const uint8_t *base = guest_mem_ptr(&gm, BASE, REGION);
        uint64_t gpa = BASE + (uint64_t)((const uint8_t *)all[i] - base);
        assert_true(gpa + all[i]->length <= ACPI_VMGENID_GPA);
    }
    /* Package (2) { low, high } of the buffer's address, inside Method (ADDR). */
    const uint8_t addr[] = { 0x12, 0x08, 0x02, 0x0c, ACPI_VMGENID_GPA & 0xff,
                             (ACPI_VMGENID_GPA >> 8) & 0xff, (ACPI_VMGENID_GPA >> 16) & 0xff,
                             (ACPI_VMGENID_GPA >> 24) & 0xff, 0x00 };
    assert_int_equal(count_bytes(t.dsdt, t.dsdt->length, addr, sizeof(addr)), 1);
    assert_int_equal(count_bytes(t.dsdt, t.dsdt->length, "VM_Gen_Counter", 15), 2);

    assert_int_equal(acpi_vmgenid_renew(&gm, now), 0);
    assert_memory_equal(id, now, sizeof(now));
    assert_memory_not_equal(now, before, sizeof(now));
    assert_memory_not_equal(now, zero, sizeof(zero));
    guest_mem_destroy(&gm);

    /* RAM too small to hold the page. */
    assert_int_equal(guest_mem_init(&gm, 512 * KiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    assert_int_equal(acpi_vmgenid_write(&gm, before), -EFAULT);
    guest_mem_destroy(&gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fadt_fixed_hardware),
        cmocka_unit_test(test_madt_counts),
        cmocka_unit_test(test_dsdt_contents),
        cmocka_unit_test(test_vmgenid),
        cmocka_unit_test(test_enospc_every_cap),
        cmocka_unit_test(test_mcfg),
        cmocka_unit_test(test_dsdt_pci_adds_only_devices),
        cmocka_unit_test(test_dsdt_pci_contents),
        cmocka_unit_test(test_pci_fits_1024_cpus),
        cmocka_unit_test(test_pci_bad_ram_end),
        cmocka_unit_test(test_too_many_cpus),
        cmocka_unit_test(test_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
