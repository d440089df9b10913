/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An interrupt line as a device sees it: a level it can raise or lower. The
 * VM backs it with KVM_IRQ_LINE on the in-kernel irqchip; unit tests back it
 * with a recorder. Edge-triggered ISA pins see the rising edge of the level.
 */
#ifndef CASULO_CORE_IRQ_H
#define CASULO_CORE_IRQ_H

struct irq_line {
    void (*set_level)(void *opaque, unsigned gsi, int level);
    void *opaque;
    unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
    if (line && line->set_level)
        line->set_level(line->opaque, line->gsi, level);
}

#endif
