/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo: serial receive. Prints "READY", reads one line from COM1 and prints
 * it back as "ECHO: <line>", then "irqs=N" and powers off.
 *
 * By default the line arrives by interrupt: COM1's IRQ 4 goes through the
 * IOAPIC to SERIAL_VECTOR on this CPU, and the guest sleeps in `sti; hlt`
 * between characters, so without a working IRQ path it never wakes up.
 * With "mode=poll" on the command line it polls LSR.DR instead, which tells
 * a broken receive path apart from a broken interrupt path.
 */
#include "guest.h"

#define RX_MAX 255

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    call pic_mask_all

    /* 8N1, FIFOs on and cleared, receive trigger at 1 byte, OUT2 set. */
    movw $COM1 + UART_LCR, %dx
    movb $0x03, %al
    outb %al, %dx
    movw $COM1 + UART_FCR, %dx
    movb $0x07, %al
    outb %al, %dx
    movw $COM1 + UART_MCR, %dx
    movb $0x0b, %al
    outb %al, %dx

    CMDLINE_HAS "mode=poll"
    jnz poll_mode

    movl $SERIAL_VECTOR, %edi
    leaq serial_isr(%rip), %rsi
    call idt_set_gate
    call lapic_enable
    call lapic_id
    movl %eax, %edx
    movl $4, %edi                       /* COM1 is ISA IRQ 4 = IOAPIC pin 4 */
    movl $SERIAL_VECTOR, %esi
    call ioapic_route
    movw $COM1 + UART_IER, %dx
    movb $0x01, %al                     /* received data available */
    outb %al, %dx

    PRINTLN "READY"
1:  cli
    call line_complete
    jnz got_line
    sti
    hlt
    jmp 1b

poll_mode:
    PRINTLN "READY"
2:  movw $COM1 + UART_LSR, %dx
    inb %dx, %al
    testb $UART_LSR_DR, %al
    jz 2b
    movw $COM1 + UART_RBR, %dx
    inb %dx, %al
    call rx_store
    call line_complete
    jz 2b

got_line:
    cli
    PRINT "ECHO: "
    leaq rx_buf(%rip), %rsi
    movq %rax, %rcx                     /* line length without terminator */
    call putsn
    call newline
    movl irq_count(%rip), %eax
    PRINT "irqs="
    call put_dec
    call newline
    call poweroff

/* Appends %al to rx_buf unless it is full. */
rx_store:
    pushq %rbx
    movl rx_len(%rip), %ebx
    cmpl $RX_MAX, %ebx
    jae 1f
    pushq %rcx
    leaq rx_buf(%rip), %rcx
    movb %al, (%rcx, %rbx)
    popq %rcx
    incl %ebx
    movl %ebx, rx_len(%rip)
1:  popq %rbx
    ret

/*
 * ZF=0 with %rax = length of the line when rx_buf holds a CR or LF, or is
 * full (a line longer than the buffer is echoed truncated); ZF=1 otherwise.
 */
line_complete:
    pushq %rbx
    pushq %rcx
    leaq rx_buf(%rip), %rbx
    movl rx_len(%rip), %ecx
    xorl %eax, %eax
1:  cmpl %ecx, %eax
    jae 3f
    cmpb $'\n', (%rbx, %rax)
    je 2f
    cmpb $'\r', (%rbx, %rax)
    je 2f
    incl %eax
    jmp 1b
3:  cmpl $RX_MAX, %ecx
    je 2f
    xorl %eax, %eax
    popq %rcx
    popq %rbx
    cmpl $0, %eax                       /* ZF=1: not yet */
    ret
2:  popq %rcx
    popq %rbx
    cmpl $-1, %eax                      /* ZF=0: complete, %rax = length */
    ret

serial_isr:
    pushq %rax
    pushq %rdx
    incl irq_count(%rip)
1:  movw $COM1 + UART_LSR, %dx
    inb %dx, %al
    testb $UART_LSR_DR, %al
    jz 2f
    movw $COM1 + UART_RBR, %dx
    inb %dx, %al
    call rx_store
    jmp 1b
2:  call lapic_eoi
    popq %rdx
    popq %rax
    iretq

#include "guest_lib.h"

    .bss
    .balign 8
irq_count: .long 0
rx_len:    .long 0
rx_buf:    .skip RX_MAX + 1
