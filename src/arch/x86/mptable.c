// SPDX-License-Identifier: Apache-2.0
/*
 * Builds the MP table (Intel MP spec 1.4) and installs it into guest RAM.
 * ISA IRQs 0..15 go to IOAPIC pins 0..15 one to one, without the usual
 * IRQ0-on-pin-2 twist: KVM's default routing delivers the PIT on pin 0,
 * and the MADT (no IRQ0 override) says the same.
 */
#include "arch/x86/mptable.h"
#include "arch/x86/layout.h"
#include "core/guest_mem.h"

#include <errno.h>
#include <string.h>

#define MPTABLE_ALIGN        16
#define MPTABLE_LAPIC_VER    0x14   /* what KVM's local APIC reports */
#define MPTABLE_IOAPIC_VER   0x11   /* what KVM's IOAPIC reports */
#define MPTABLE_CPU_SIG      0x600  /* family 6 */
#define MPTABLE_CPU_FEATURES 0x201  /* FPU, APIC */
#define MPTABLE_ALL_LAPICS   0xff

static uint8_t mptable_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += b[i];
    return -sum;
}

static size_t mptable_entries_size(unsigned nr_cpus)
{
    return nr_cpus * sizeof(struct mptable_cpu) + sizeof(struct mptable_bus) +
           sizeof(struct mptable_ioapic) +
           (MPTABLE_ISA_IRQS + 2) * sizeof(struct mptable_intsrc);
}

/* Appends one entry at *at and advances it. */
static void mptable_put(uint8_t **at, const void *entry, size_t len)
{
    memcpy(*at, entry, len);
    *at += len;
}

static void mptable_put_cpus(uint8_t **at, unsigned nr_cpus)
{
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct mptable_cpu cpu = {
            .type = MPTABLE_CPU, .apic_id = i, .apic_version = MPTABLE_LAPIC_VER,
            .flags = MPTABLE_CPU_ENABLED | (i == 0 ? MPTABLE_CPU_BSP : 0),
            .signature = MPTABLE_CPU_SIG, .features = MPTABLE_CPU_FEATURES,
        };
        mptable_put(at, &cpu, sizeof(cpu));
    }
}

static void mptable_put_interrupts(uint8_t **at)
{
    for (unsigned irq = 0; irq < MPTABLE_ISA_IRQS; irq++) {
        struct mptable_intsrc io = {
            .type = MPTABLE_IOINT, .int_type = MPTABLE_INT_INT,
            .src_bus = MPTABLE_ISA_BUS_ID, .src_irq = irq,
            .dst_apic = MPTABLE_IOAPIC_ID, .dst_pin = irq,
        };
        mptable_put(at, &io, sizeof(io));
    }
    /* Virtual wire: the 8259 on LINT0, NMI on LINT1, for every CPU. */
    struct mptable_intsrc lint0 = {
        .type = MPTABLE_LINT, .int_type = MPTABLE_INT_EXTINT,
        .src_bus = MPTABLE_ISA_BUS_ID, .dst_apic = MPTABLE_ALL_LAPICS, .dst_pin = 0,
    };
    struct mptable_intsrc lint1 = lint0;
    lint1.int_type = MPTABLE_INT_NMI;
    lint1.dst_pin = 1;
    mptable_put(at, &lint0, sizeof(lint0));
    mptable_put(at, &lint1, sizeof(lint1));
}

static void mptable_put_header(uint8_t *at, size_t len, unsigned nr_cpus)
{
    struct mptable_header h = {
        .length = len, .spec_rev = MPTABLE_SPEC_REV,
        .entry_count = nr_cpus + 2 + MPTABLE_ISA_IRQS + 2,
        .lapic_address = X86_LAPIC_GPA,
    };
    memcpy(h.signature, "PCMP", sizeof(h.signature));
    memcpy(h.oem_id, "CASULO  ", sizeof(h.oem_id));
    memcpy(h.product_id, "CASULOVM    ", sizeof(h.product_id));
    memcpy(at, &h, sizeof(h));
    at[offsetof(struct mptable_header, checksum)] = mptable_checksum(at, len);
}

int mptable_build(void *buf, size_t cap, uint64_t base_gpa,
                  const struct x86_platform_info *p, size_t *len)
{
    if (!p->nr_cpus || base_gpa % MPTABLE_ALIGN)
        return -EINVAL;
    *len = 0;
    if (p->nr_cpus > MPTABLE_MAX_CPUS)
        return 0;
    size_t table_len = sizeof(struct mptable_header) + mptable_entries_size(p->nr_cpus);
    size_t total = sizeof(struct mptable_fps) + table_len;
    if (total > cap || base_gpa + total > 1ULL << 32)
        return -ENOSPC;

    uint8_t *table = (uint8_t *)buf + sizeof(struct mptable_fps);
    uint8_t *at = table + sizeof(struct mptable_header);
    mptable_put_cpus(&at, p->nr_cpus);
    struct mptable_bus isa = { .type = MPTABLE_BUS, .bus_id = MPTABLE_ISA_BUS_ID };
    memcpy(isa.bus_type, "ISA   ", sizeof(isa.bus_type));
    mptable_put(&at, &isa, sizeof(isa));
    struct mptable_ioapic ioapic = {
        .type = MPTABLE_IOAPIC, .ioapic_id = MPTABLE_IOAPIC_ID,
        .version = MPTABLE_IOAPIC_VER, .flags = 1, .address = X86_IOAPIC_GPA,
    };
    mptable_put(&at, &ioapic, sizeof(ioapic));
    mptable_put_interrupts(&at);
    mptable_put_header(table, table_len, p->nr_cpus);

    struct mptable_fps fps = {
        .config_gpa = base_gpa + sizeof(fps), .length = 1, .spec_rev = MPTABLE_SPEC_REV,
    };
    memcpy(fps.signature, "_MP_", sizeof(fps.signature));
    fps.checksum = mptable_checksum(&fps, sizeof(fps));
    memcpy(buf, &fps, sizeof(fps));
    *len = total;
    return 0;
}

int x86_mptable_install(struct guest_mem *gm, const struct x86_platform_info *p)
{
    const uint64_t size = X86_MPTABLE_END - X86_MPTABLE_GPA;
    uint8_t *dst = guest_mem_ptr(gm, X86_MPTABLE_GPA, size);
    if (!dst)
        return -EFAULT;
    /* A stale "_MP_" from an earlier build must not survive a skipped one. */
    memset(dst, 0, size);
    size_t len;
    int ret = mptable_build(dst, size, X86_MPTABLE_GPA, p, &len);
    if (ret)
        memset(dst, 0, size);
    return ret;
}
