/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smp: brings up every secondary vCPU and reports who answered.
 *
 * The BSP prints its APIC id and the number of enabled CPUs the ACPI MADT
 * lists, copies a real-mode trampoline to TRAMP_BASE and sends INIT-SIPI-SIPI
 * to all CPUs but itself. Each AP reads its APIC id from CPUID leaf 1,
 * claims a slot with `lock xadd` and halts. The BSP waits (bounded) until
 * the MADT count is reached, then prints "cpus=N" and the APIC ids in
 * increasing order ("apic ids=0,1,2,3"), flags duplicates, and powers off.
 * With "ap=spin" on the command line the APs busy-loop instead of halting,
 * so the power-off has to stop vCPUs that are running, not sleeping.
 */
#include "guest.h"

#define TRAMP_BASE   0x10000                /* SIPI vector 0x10 */
#define TRAMP_VECTOR (TRAMP_BASE >> 12)
#define TRAMP_COUNT  0x800                  /* offsets in the trampoline page */
#define TRAMP_IDS    0x804
#define TRAMP_SPIN   0x7fc                  /* non-zero: APs spin */
#define MAX_APS      252
#define WAIT_LOOPS   800000                 /* a few emulated seconds */

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    call idt_init
    PRINTLN "smp guest"
    call lapic_id
    movl %eax, %r15d                    /* BSP APIC id */
    PRINT "bsp apic id="
    call put_dec
    call newline

    call madt_count_cpus
    movl %eax, %r14d                    /* 0: no MADT */
    PRINT "madt cpus="
    call put_dec
    call newline

    /* Copy the trampoline and clear its result area. */
    leaq tramp_start(%rip), %rsi
    movl $TRAMP_BASE, %edi
    movl $tramp_end - tramp_start, %ecx
1:  movb (%rsi), %al
    movb %al, (%rdi)
    incq %rsi
    incq %rdi
    decl %ecx
    jnz 1b
    movl $TRAMP_BASE + TRAMP_COUNT, %edi
    movl $(MAX_APS + 4) / 4 + 1, %ecx
2:  movl $0, (%rdi)
    addq $4, %rdi
    decl %ecx
    jnz 2b

    CMDLINE_HAS "ap=spin"
    movl %eax, TRAMP_BASE + TRAMP_SPIN

    call lapic_enable
    movl $LAPIC_BASE, %ebx
    movl $0, LAPIC_ICR_HI(%rbx)
    movl $0x000c4500, LAPIC_ICR_LO(%rbx)    /* INIT, assert, all but self */
    movl $10000, %ecx
    call delay
    movl $0x000c4600 | TRAMP_VECTOR, LAPIC_ICR_LO(%rbx)   /* SIPI */
    movl $2000, %ecx
    call delay
    movl $0x000c4600 | TRAMP_VECTOR, LAPIC_ICR_LO(%rbx)
    PRINTLN "sipi sent"

    /* Wait for the APs: until the MADT count is reached, or the bound. */
    movl $WAIT_LOOPS, %ecx
3:  movl TRAMP_BASE + TRAMP_COUNT, %eax
    incl %eax
    testl %r14d, %r14d
    jz 4f
    cmpl %r14d, %eax
    jae 5f
4:  pause
    decl %ecx
    jnz 3b
5:
    movl TRAMP_BASE + TRAMP_COUNT, %r13d
    cmpl $MAX_APS, %r13d
    jbe 6f
    movl $MAX_APS, %r13d
6:  leal 1(%r13), %eax
    PRINT "cpus="
    call put_dec
    call newline

    /* Print every id in 0..255 seen (BSP included), in order. */
    PRINT "apic ids="
    xorl %r12d, %r12d                   /* candidate id */
    xorl %r11d, %r11d                   /* printed so far */
    xorl %r10d, %r10d                   /* duplicates */
7:  xorl %r9d, %r9d                     /* occurrences of r12 */
    cmpl %r15d, %r12d
    jne 8f
    incl %r9d
8:  xorl %ecx, %ecx
9:  cmpl %r13d, %ecx
    jae 10f
    movzbl TRAMP_BASE + TRAMP_IDS(%rcx), %eax
    cmpl %r12d, %eax
    jne 11f
    incl %r9d
11: incl %ecx
    jmp 9b
10: testl %r9d, %r9d
    jz 12f
    cmpl $1, %r9d
    jbe 13f
    incl %r10d
13: testl %r11d, %r11d
    jz 14f
    movb $',', %al
    call putc
14: movl %r12d, %eax
    call put_dec
    incl %r11d
12: incl %r12d
    cmpl $256, %r12d
    jb 7b
    call newline
    testl %r10d, %r10d
    jz 15f
    FAIL "duplicate APIC ids"
15: call poweroff

/*
 * Returns in %eax the number of enabled processors (local APIC and x2APIC
 * entries) in the MADT found through the RSDP, 0 if there is none.
 */
madt_count_cpus:
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    movabsq $0x2052545020445352, %rdx   /* "RSD PTR " */
    movl $0xe0000, %esi
1:  cmpq %rdx, (%rsi)
    je 2f
    addl $16, %esi
    cmpl $0x100000, %esi
    jb 1b
    jmp 20f
2:  /* XSDT (8-byte entries) when revision >= 2 and present, else RSDT. */
    movl $4, %edi
    movl 16(%rsi), %ebx
    cmpb $2, 15(%rsi)
    jb 3f
    movq 24(%rsi), %rax
    testq %rax, %rax
    jz 3f
    movq %rax, %rbx
    movl $8, %edi
3:  testq %rbx, %rbx
    jz 20f
    movl 4(%rbx), %ecx                  /* table length */
    leaq (%rbx, %rcx), %rdx             /* end */
    leaq 36(%rbx), %rsi
4:  leaq (%rsi, %rdi), %rax
    cmpq %rdx, %rax
    ja 20f
    movl (%rsi), %eax                   /* entry, 32-bit or low half */
    cmpl $8, %edi
    jne 5f
    movq (%rsi), %rax
5:  testq %rax, %rax
    jz 6f
    cmpl $0x43495041, (%rax)            /* "APIC" */
    je 7f
6:  addq %rdi, %rsi
    jmp 4b
7:  movl 4(%rax), %ecx
    leaq (%rax, %rcx), %rdx             /* MADT end */
    leaq 44(%rax), %rsi
    xorl %eax, %eax
8:  leaq 2(%rsi), %rcx
    cmpq %rdx, %rcx
    ja 21f
    movzbl 1(%rsi), %ecx
    cmpl $2, %ecx
    jb 21f                              /* malformed: stop */
    cmpb $0, (%rsi)                     /* processor local APIC */
    jne 9f
    testb $1, 4(%rsi)
    jz 10f
    incl %eax
    jmp 10f
9:  cmpb $9, (%rsi)                     /* processor local x2APIC */
    jne 10f
    testb $1, 8(%rsi)
    jz 10f
    incl %eax
10: addq %rcx, %rsi
    jmp 8b
20: xorl %eax, %eax
21: popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    ret

/* Real-mode AP entry, copied to TRAMP_BASE; runs with CS = TRAMP_BASE >> 4. */
    .code16
tramp_start:
    cli
    movw %cs, %ax
    movw %ax, %ds
    movl $1, %eax
    cpuid
    shrl $24, %ebx
    movl $1, %eax
    lock xaddl %eax, TRAMP_COUNT
    cmpl $MAX_APS, %eax
    jae 1f
    movw %ax, %si
    movb %bl, TRAMP_IDS(%si)
1:  cmpl $0, TRAMP_SPIN
    jne 1b
    hlt
    jmp 1b
tramp_end:
    .code64

#include "guest_lib.h"
