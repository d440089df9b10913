// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the ACPI tables: walks RSDP -> XSDT/RSDT -> FADT -> DSDT/FACS
 * and the MADT the way a guest does, checking every checksum, length and
 * pointer, the fixed-hardware fields, MADT entries for 1..1024 CPUs, and the
 * -ENOSPC / -EINVAL / install paths.
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
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

#define BASE   X86_ACPI_GPA
#define REGION (X86_ACPI_END - X86_ACPI_GPA)

struct tables {
    const uint8_t *buf;
    size_t len;
    const struct acpi_rsdp *rsdp;
    const struct acpi_header *xsdt, *rsdt, *fadt, *madt, *dsdt;
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
        else
            fail_msg("unexpected or repeated table %.4s", h->signature);
    }
    assert_non_null(t->fadt);
    assert_non_null(t->madt);
    walk_fadt(t);
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
    const void *ptrs[] = { t->rsdp, t->xsdt, t->rsdt, t->fadt, t->madt, t->dsdt, t->facs };
    size_t lens[] = { sizeof(*t->rsdp), t->xsdt->length, t->rsdt->length, t->fadt->length,
                      t->madt->length, t->dsdt->length, t->facs->length };
    for (size_t i = 0; i < 7; i++)
        for (size_t j = i + 1; j < 7; j++) {
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fadt_fixed_hardware),
        cmocka_unit_test(test_madt_counts),
        cmocka_unit_test(test_dsdt_contents),
        cmocka_unit_test(test_enospc_every_cap),
        cmocka_unit_test(test_too_many_cpus),
        cmocka_unit_test(test_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
