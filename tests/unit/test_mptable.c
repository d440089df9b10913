// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the MP table: finds the floating pointer the way Linux's
 * smp_scan_config() does, checks both checksums, walks every entry and
 * counts them, and covers the >255-CPU skip, -ENOSPC and install paths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "core/guest_mem.h"

#define BASE   X86_MPTABLE_GPA
#define REGION (X86_MPTABLE_END - X86_MPTABLE_GPA)

static uint8_t region[REGION + 64];

static uint8_t sum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += b[i];
    return s;
}

struct mp_counts {
    unsigned cpus, bsp, buses, ioapics, ioints, lints;
};

static void check_cpu(struct mp_counts *c, const struct mptable_cpu *cpu)
{
    assert_int_equal(cpu->apic_id, c->cpus);
    assert_true(cpu->flags & MPTABLE_CPU_ENABLED);
    if (cpu->flags & MPTABLE_CPU_BSP) {
        assert_int_equal(cpu->apic_id, 0);
        c->bsp++;
    }
    c->cpus++;
}

static void check_intsrc(struct mp_counts *c, const struct mptable_intsrc *e)
{
    if (e->type == MPTABLE_IOINT) {
        /* ISA IRQ n on IOAPIC pin n, in order, IRQ0 included. */
        assert_int_equal(e->int_type, MPTABLE_INT_INT);
        assert_int_equal(e->src_bus, MPTABLE_ISA_BUS_ID);
        assert_int_equal(e->src_irq, c->ioints);
        assert_int_equal(e->dst_pin, e->src_irq);
        assert_int_equal(e->dst_apic, MPTABLE_IOAPIC_ID);
        c->ioints++;
        return;
    }
    assert_int_equal(e->dst_apic, 0xff);
    assert_int_equal(e->dst_pin, c->lints);
    assert_int_equal(e->int_type, c->lints == 0 ? MPTABLE_INT_EXTINT : MPTABLE_INT_NMI);
    c->lints++;
}

/* Walks the configuration table at buf + off; returns what it holds. */
static struct mp_counts walk_config(const uint8_t *buf, size_t off, size_t buf_len)
{
    const struct mptable_header *h = (const void *)(buf + off);
    assert_true(off + sizeof(*h) <= buf_len);
    assert_memory_equal(h->signature, "PCMP", 4);
    assert_true(off + h->length <= buf_len);
    assert_int_equal(sum(h, h->length), 0);
    assert_int_equal(h->spec_rev, 4);
    assert_memory_equal(h->oem_id, "CASULO  ", 8);
    assert_int_equal(h->lapic_address, X86_LAPIC_GPA);
    assert_int_equal(h->ext_length, 0);

    struct mp_counts c = { 0 };
    const uint8_t *e = (const uint8_t *)(h + 1), *end = (const uint8_t *)h + h->length;
    unsigned entries = 0;
    while (e < end) {
        size_t size = e[0] == MPTABLE_CPU ? sizeof(struct mptable_cpu) : 8;
        assert_true((size_t)(end - e) >= size);
        if (e[0] == MPTABLE_CPU) {
            check_cpu(&c, (const void *)e);
        } else if (e[0] == MPTABLE_BUS) {
            const struct mptable_bus *bus = (const void *)e;
            assert_int_equal(bus->bus_id, MPTABLE_ISA_BUS_ID);
            assert_memory_equal(bus->bus_type, "ISA   ", 6);
            c.buses++;
        } else if (e[0] == MPTABLE_IOAPIC) {
            const struct mptable_ioapic *io = (const void *)e;
            assert_int_equal(io->ioapic_id, MPTABLE_IOAPIC_ID);
            assert_int_equal(io->address, X86_IOAPIC_GPA);
            assert_int_equal(io->flags, 1);
            c.ioapics++;
        } else if (e[0] == MPTABLE_IOINT || e[0] == MPTABLE_LINT) {
            check_intsrc(&c, (const void *)e);
        } else {
            fail_msg("unknown MP entry type %u", e[0]);
        }
        e += size;
        entries++;
    }
    assert_int_equal(entries, h->entry_count);
    return c;
}

/* Linux's scan: 16-byte steps, "_MP_", length 1, checksum over 16 bytes. */
static size_t find_fps(const uint8_t *buf, size_t len, unsigned *found)
{
    size_t at = 0;
    *found = 0;
    for (size_t off = 0; off + 16 <= len; off += 16) {
        if (!memcmp(buf + off, "_MP_", 4) && buf[off + 8] == 1 && sum(buf + off, 16) == 0) {
            at = off;
            (*found)++;
        }
    }
    return at;
}

static struct mp_counts build_and_walk(unsigned nr_cpus)
{
    struct x86_platform_info p = { .nr_cpus = nr_cpus };
    size_t len = 0;
    memset(region, 0, sizeof(region));
    assert_int_equal(mptable_build(region, REGION, BASE, &p, &len), 0);
    assert_true(len > 0 && len <= REGION);
    unsigned found;
    size_t off = find_fps(region, REGION, &found);
    assert_int_equal(found, 1);
    const struct mptable_fps *fps = (const void *)(region + off);
    assert_int_equal(fps->spec_rev, 4);
    assert_int_equal(fps->feature[0], 0);
    assert_true(fps->config_gpa >= BASE && fps->config_gpa < BASE + len);
    return walk_config(region, fps->config_gpa - BASE, len);
}

static void test_entry_counts(void **state)
{
    const unsigned cpus[] = { 1, 2, 4, 64, 254, 255 };
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct mp_counts c = build_and_walk(cpus[i]);
        assert_int_equal(c.cpus, cpus[i]);
        assert_int_equal(c.bsp, 1);
        assert_int_equal(c.buses, 1);
        assert_int_equal(c.ioapics, 1);
        assert_int_equal(c.ioints, MPTABLE_ISA_IRQS);
        assert_int_equal(c.lints, 2);
    }
}

static void test_too_many_cpus_skips(void **state)
{
    const unsigned cpus[] = { 256, 1024 };
    for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        struct x86_platform_info p = { .nr_cpus = cpus[i] };
        size_t len = 1;
        memset(region, 0, sizeof(region));
        assert_int_equal(mptable_build(region, REGION, BASE, &p, &len), 0);
        assert_int_equal(len, 0);
        unsigned found;
        find_fps(region, REGION, &found);
        assert_int_equal(found, 0);
    }
}

static void test_enospc_and_einval(void **state)
{
    struct x86_platform_info p = { .nr_cpus = 8 };
    size_t need;
    assert_int_equal(mptable_build(region, REGION, BASE, &p, &need), 0);
    for (size_t cap = 0; cap <= need; cap++) {
        memset(region, 0xcc, sizeof(region));
        size_t len;
        assert_int_equal(mptable_build(region, cap, BASE, &p, &len), cap < need ? -ENOSPC : 0);
        for (size_t i = cap; i < sizeof(region); i++)
            assert_int_equal(region[i], 0xcc);
    }
    size_t len;
    p.nr_cpus = 0;
    assert_int_equal(mptable_build(region, REGION, BASE, &p, &len), -EINVAL);
    p.nr_cpus = 1;
    assert_int_equal(mptable_build(region, REGION, BASE + 4, &p, &len), -EINVAL);
}

static void test_install(void **state)
{
    struct guest_mem gm;
    assert_int_equal(guest_mem_init(&gm, 16 * MiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    struct x86_platform_info p = { .nr_cpus = 4 };
    assert_int_equal(x86_mptable_install(&gm, &p), 0);
    const uint8_t *mem = guest_mem_ptr(&gm, BASE, REGION);
    unsigned found;
    size_t off = find_fps(mem, REGION, &found);
    assert_int_equal(found, 1);
    const struct mptable_fps *fps = (const void *)(mem + off);
    assert_int_equal(walk_config(mem, fps->config_gpa - BASE, REGION).cpus, 4);

    /* Rebuilding for 300 CPUs writes no table and leaves no stale one. */
    p.nr_cpus = 300;
    assert_int_equal(x86_mptable_install(&gm, &p), 0);
    find_fps(mem, REGION, &found);
    assert_int_equal(found, 0);
    guest_mem_destroy(&gm);

    assert_int_equal(guest_mem_init(&gm, 512 * KiB, X86_MMIO_HOLE_GPA, X86_HIGH_RAM_GPA), 0);
    p.nr_cpus = 1;
    assert_int_equal(x86_mptable_install(&gm, &p), -EFAULT);
    guest_mem_destroy(&gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_counts),
        cmocka_unit_test(test_too_many_cpus_skips),
        cmocka_unit_test(test_enospc_and_einval),
        cmocka_unit_test(test_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
