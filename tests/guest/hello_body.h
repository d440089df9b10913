/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body shared by the hello (ELF) and bz_hello (bzImage) guests. Entered
 * by jmp hello_main with the entry state saved in registers: r15 = RSI,
 * r14 = RSP, r13 = RFLAGS, r12 = CS, r11 = DS, r10 = SS. Prints the hello
 * line, the entry state, the zero page's "HdrS" magic, protocol version, the
 * command line, the e820 map and the initrd location and first bytes, then
 * powers off. Position independent, as guest_lib.h.
 */
#ifndef CASULO_TEST_HELLO_BODY_H
#define CASULO_TEST_HELLO_BODY_H

hello_main:
    PRINTLN "hello from casulo guest"
    movq %r15, %rax
    PRINTHEX "entry: rsi="
    movq %r14, %rax
    PRINTHEX " rsp="
    movq %r12, %rax
    PRINTHEX " cs="
    movq %r11, %rax
    PRINTHEX " ds="
    movq %r10, %rax
    PRINTHEX " ss="
    movq %r13, %rax
    shrq $9, %rax
    andl $1, %eax
    PRINTHEX " if="
    call newline

    PRINT "hdr="
    cmpl $0x53726448, ZERO_PAGE + BP_HDR_MAGIC     /* "HdrS" */
    jne 1f
    PRINTLN "HdrS"
    jmp 2f
1:  PRINTLN "missing"
2:
    movzwl ZERO_PAGE + BP_HDR_VERSION, %eax
    PRINTHEX "hdr version="
    call newline
    PRINT "cmdline=["
    call cmdline_ptr
    testq %rax, %rax
    jz 3f
    movq %rax, %rsi
    call puts
3:  PRINTLN "]"

    movzbl ZERO_PAGE + BP_E820_ENTRIES, %ecx
    movq %rcx, %rax
    PRINT "e820 entries="
    call put_dec
    call newline
    cmpl $128, %ecx                 /* E820_MAX_ENTRIES_ZEROPAGE */
    jbe 4f
    movl $128, %ecx
4:  movl $ZERO_PAGE + BP_E820_TABLE, %ebx
5:  testl %ecx, %ecx
    jz 6f
    movq (%rbx), %rax
    PRINTHEX "e820: addr="
    movq 8(%rbx), %rax
    PRINTHEX " size="
    movl 16(%rbx), %eax
    PRINT " type="
    call put_dec
    call newline
    addl $E820_ENTRY_SIZE, %ebx
    decl %ecx
    jmp 5b
6:
    call print_initrd
    PRINTLN "bye"
    call poweroff

/* Prints where the zero page says the initrd is, and its first 16 bytes. */
print_initrd:
    pushq %rax
    pushq %rcx
    pushq %rsi
    movl ZERO_PAGE + BP_RAMDISK_IMAGE, %eax
    movl ZERO_PAGE + BP_EXT_RAMDISK_IMAGE, %ecx
    shlq $32, %rcx
    orq %rax, %rcx
    movq %rcx, %rsi
    movl ZERO_PAGE + BP_RAMDISK_SIZE, %eax
    movl ZERO_PAGE + BP_EXT_RAMDISK_SIZE, %ecx
    shlq $32, %rcx
    orq %rcx, %rax
    testq %rax, %rax
    jnz 1f
    PRINTLN "initrd: none"
    jmp 5f
1:  PRINT "initrd: size="
    call put_dec
    movq %rax, %rcx
    movq %rsi, %rax
    PRINTHEX " addr="
    PRINT " head=["
    movabsq $0x100000000, %rax          /* only the identity-mapped 4 GiB */
    cmpq %rax, %rsi
    jae 4f
    cmpq $16, %rcx
    jbe 2f
    movl $16, %ecx
2:  movb (%rsi), %al
    cmpb $0x20, %al
    jb 3f
    cmpb $0x7e, %al
    jbe 6f
3:  movb $'.', %al
6:  call putc
    incq %rsi
    decq %rcx
    jnz 2b
4:  PRINTLN "]"
5:  popq %rsi
    popq %rcx
    popq %rax
    ret

#endif
