/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The routines behind guest.h's macros. A guest includes this once, at the
 * end of its .text, after its own code (guest.h must come first).
 */
#ifndef CASULO_TEST_GUEST_LIB_H
#define CASULO_TEST_GUEST_LIB_H

/* Waits for room in the transmitter, then sends %al. */
putc:
    pushq %rax
    pushq %rdx
    movb %al, %ah
    movw $COM1 + UART_LSR, %dx
1:  inb %dx, %al
    testb $UART_LSR_THRE, %al
    jz 1b
    movb %ah, %al
    movw $COM1 + UART_THR, %dx
    outb %al, %dx
    popq %rdx
    popq %rax
    ret

/* Sends the NUL-terminated string at %rsi. */
puts:
    pushq %rax
    pushq %rsi
1:  movb (%rsi), %al
    testb %al, %al
    jz 2f
    call putc
    incq %rsi
    jmp 1b
2:  popq %rsi
    popq %rax
    ret

/* Sends the string at %rsi, at most %rcx bytes, stopping at NUL. */
putsn:
    pushq %rax
    pushq %rcx
    pushq %rsi
1:  testq %rcx, %rcx
    jz 2f
    movb (%rsi), %al
    testb %al, %al
    jz 2f
    call putc
    incq %rsi
    decq %rcx
    jmp 1b
2:  popq %rsi
    popq %rcx
    popq %rax
    ret

newline:
    pushq %rax
    movb $'\n', %al
    call putc
    popq %rax
    ret

/* Prints %rax as 0x... without leading zeros. */
put_hex:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    movq %rax, %rdx
    movb $'0', %al
    call putc
    movb $'x', %al
    call putc
    xorl %ebx, %ebx             /* set once a digit has been printed */
    movl $60, %ecx
1:  movq %rdx, %rax
    shrq %cl, %rax
    andl $15, %eax
    testl %ebx, %ebx
    jnz 2f
    testl %eax, %eax
    jnz 2f
    testl %ecx, %ecx
    jnz 3f
2:  movl $1, %ebx
    addb $'0', %al
    cmpb $'9', %al
    jbe 4f
    addb $'a' - '0' - 10, %al
4:  call putc
3:  subl $4, %ecx
    jns 1b
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    ret

/* Prints %rax in decimal. */
put_dec:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    subq $32, %rsp
    leaq 31(%rsp), %rsi
    movb $0, (%rsi)
    movl $10, %ecx
1:  xorl %edx, %edx
    divq %rcx
    addb $'0', %dl
    decq %rsi
    movb %dl, (%rsi)
    testq %rax, %rax
    jnz 1b
    call puts
    addq $32, %rsp
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    ret

/*
 * Returns in %rax the kernel command line's address from the zero page
 * (cmd_line_ptr plus ext_cmd_line_ptr), 0 when there is none.
 */
cmdline_ptr:
    movl ZERO_PAGE + BP_CMD_LINE_PTR, %eax
    pushq %rdx
    movl ZERO_PAGE + BP_EXT_CMD_LINE_PTR, %edx
    shlq $32, %rdx
    orq %rdx, %rax
    popq %rdx
    ret

/*
 * Sets ZF=0 (and %rax=1) when the command line contains the NUL-terminated
 * string at %rdi, ZF=1 (%rax=0) otherwise. Use jnz "found".
 */
cmdline_has:
    pushq %rbx
    pushq %rcx
    pushq %rsi
    pushq %rdi
    call cmdline_ptr
    testq %rax, %rax
    jz 5f
    movq %rax, %rsi
1:  movq %rsi, %rbx             /* candidate start */
    movq %rdi, %rcx
2:  movb (%rcx), %al
    testb %al, %al
    jz 4f                       /* needle exhausted: match */
    cmpb (%rbx), %al
    jne 3f
    incq %rbx
    incq %rcx
    jmp 2b
3:  cmpb $0, (%rsi)
    je 5f
    incq %rsi
    jmp 1b
4:  movl $1, %eax
    jmp 6f
5:  xorl %eax, %eax
6:  popq %rdi
    popq %rsi
    popq %rcx
    popq %rbx
    testq %rax, %rax
    ret

/* ACPI S5 power-off; casulo exits with status 0. Never returns. */
poweroff:
    movw $ACPI_PM1A_CNT, %dx
    movw $ACPI_SLP_S5, %ax
    outw %ax, %dx
    /* The VMM did not stop us: say so, then make sure we do not go on. */
    PRINTLN "GUEST FAIL: still running after power-off"
    jmp triple_fault

/* Reset through the ACPI reset register. Never returns. */
reset_acpi:
    movw $ACPI_RESET_PORT, %dx
    movb $1, %al
    outb %al, %dx
    PRINTLN "GUEST FAIL: still running after ACPI reset"
    jmp triple_fault

/* Reset through the i8042 "pulse reset line" command. Never returns. */
reset_i8042:
    movw $I8042_CMD, %dx
    movb $0xfe, %al
    outb %al, %dx
    PRINTLN "GUEST FAIL: still running after i8042 reset"
    jmp triple_fault

/*
 * Loads an IDT with a zero limit, then raises #UD: #UD, #GP and #DF all miss
 * the IDT, so the CPU shuts down (triple fault).
 */
triple_fault:
    cli
    pushq $0
    pushq $0
    lidt 6(%rsp)                /* limit 0, base 0 */
    ud2
1:  hlt
    jmp 1b

/* Prints "GUEST FAIL: <string at %rsi>" and stops the VM with an error. */
guest_fail:
    PRINT "GUEST FAIL: "
    call puts
    call newline
    jmp triple_fault

/*
 * Installs an IDT at IDT_BASE whose 32 exception vectors report the vector
 * and stop the VM; vectors 32..255 stay not-present until idt_set_gate.
 */
idt_init:
    pushq %rax
    pushq %rcx
    pushq %rdi
    pushq %rsi
    movl $IDT_BASE, %edi
    movl $256 * 2, %ecx
    xorl %eax, %eax
1:  movq %rax, (%rdi)
    addq $8, %rdi
    decl %ecx
    jnz 1b
    xorl %edi, %edi
    leaq exc_stubs(%rip), %rsi
2:  call idt_set_gate
    addq $16, %rsi
    incl %edi
    cmpl $32, %edi
    jb 2b
    subq $16, %rsp
    movw $256 * 16 - 1, 6(%rsp)
    movq $IDT_BASE, 8(%rsp)
    lidt 6(%rsp)
    addq $16, %rsp
    popq %rsi
    popq %rdi
    popq %rcx
    popq %rax
    ret

/* Points IDT vector %edi at the handler %rsi (a DPL0 interrupt gate). */
idt_set_gate:
    pushq %rax
    pushq %rbx
    movl %edi, %ebx
    andl $255, %ebx
    shll $4, %ebx
    addl $IDT_BASE, %ebx
    movq %rsi, %rax
    movw %ax, (%rbx)
    movw $0x10, 2(%rbx)
    movw $0x8e00, 4(%rbx)
    shrq $16, %rax
    movw %ax, 6(%rbx)
    shrq $16, %rax
    movl %eax, 8(%rbx)
    movl $0, 12(%rbx)
    popq %rbx
    popq %rax
    ret

    .balign 16
exc_stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
    pushq $\v
    jmp exc_common
.endr

exc_common:
    popq %rax
    PRINT "GUEST FAIL: exception vector="
    call put_dec
    call newline
    jmp triple_fault

/* Masks every 8259 input so that only the IOAPIC delivers interrupts. */
pic_mask_all:
    pushq %rax
    movb $0xff, %al
    outb %al, $0x21
    outb %al, $0xa1
    popq %rax
    ret

/* Software-enables the local APIC with the spurious vector; masks LINT0. */
lapic_enable:
    pushq %rbx
    movl $LAPIC_BASE, %ebx
    movl $0x100 | SPURIOUS_VECTOR, LAPIC_SVR(%rbx)
    movl $0x10000, LAPIC_LVT_LINT0(%rbx)
    popq %rbx
    ret

/* Returns this CPU's xAPIC id in %eax. */
lapic_id:
    pushq %rbx
    movl $LAPIC_BASE, %ebx
    movl LAPIC_ID(%rbx), %eax
    shrl $24, %eax
    popq %rbx
    ret

lapic_eoi:
    pushq %rbx
    movl $LAPIC_BASE, %ebx
    movl $0, LAPIC_EOI(%rbx)
    popq %rbx
    ret

/*
 * Routes IOAPIC pin %edi to vector %esi on the CPU with APIC id %edx:
 * fixed delivery, physical destination, edge triggered, active high.
 */
ioapic_route:
    pushq %rax
    pushq %rbx
    movl $IOAPIC_BASE, %ebx
    leal 0x11(%rdi, %rdi), %eax         /* high dword: 0x10 + 2 * pin + 1 */
    movl %eax, IOAPIC_REGSEL(%rbx)
    movl %edx, %eax
    shll $24, %eax
    movl %eax, IOAPIC_WIN(%rbx)
    leal 0x10(%rdi, %rdi), %eax
    movl %eax, IOAPIC_REGSEL(%rbx)
    movl %esi, %eax
    andl $0xff, %eax
    movl %eax, IOAPIC_WIN(%rbx)
    popq %rbx
    popq %rax
    ret

/* Spins about %rcx iterations (about 3 emulated instructions each at CPL0). */
delay:
    pushq %rcx
1:  pause
    decq %rcx
    jnz 1b
    popq %rcx
    ret

#endif
