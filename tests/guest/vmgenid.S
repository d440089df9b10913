/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmgenid: the guest side of the VM generation ID notification. It routes
 * the ACPI SCI (ISA IRQ 9, IOAPIC pin 9) to a vector, enables GPE0 bit 0
 * (the bit whose \_GPE._E00 handler notifies \_SB.VGEN), prints
 * "READY gen=X" with the first 8 bytes of the generation ID and sleeps in
 * `sti; hlt`. Each SCI prints "GPE sts=S gen=X", clears the status bit and
 * ends the interrupt. Booted, nothing raises the GPE; a restore must (and
 * must show a new X), which tests/kvm/clones.sh checks.
 */
#include "guest.h"

#define GPE0_STS      0x620
#define GPE0_EN       0x622
#define SCI_IRQ       9
#define SCI_VECTOR    0x29
#define VMGENID_GPA   0xef000       /* arch/x86/acpi_vmgenid.h */

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    call pic_mask_all
    movl $SCI_VECTOR, %edi
    leaq sci_isr(%rip), %rsi
    call idt_set_gate
    call lapic_enable
    call lapic_id
    movl %eax, %edx
    movl $SCI_IRQ, %edi
    movl $SCI_VECTOR, %esi
    call ioapic_route
    movw $GPE0_EN, %dx
    movw $1, %ax
    outw %ax, %dx
    movq VMGENID_GPA, %rax
    PRINTHEX "READY gen="
    call newline
1:  sti
    hlt
    jmp 1b

sci_isr:
    pushq %rax
    pushq %rdx
    movw $GPE0_STS, %dx
    inw %dx, %ax
    movzwl %ax, %eax
    PRINTHEX "GPE sts="
    movq VMGENID_GPA, %rax
    PRINTHEX " gen="
    call newline
    movw $GPE0_STS, %dx
    movw $1, %ax                        /* write 1 to clear */
    outw %ax, %dx
    call lapic_eoi
    popq %rdx
    popq %rax
    iretq

#include "guest_lib.h"
