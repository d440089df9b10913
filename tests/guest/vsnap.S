/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsnap: keeps one virtio-blk queue busy forever, for the snapshot test of
 * device state (tests/kvm/snapshot_virtio.sh). Request n writes a pattern
 * derived from n to sector n % 256 and reads it back through the same
 * queue; a wrong status, a missing completion, data that differs or
 * DEVICE_NEEDS_RESET ends the guest with "GUEST FAIL". Every STEP requests
 * it prints "vcount=N". A guest restored from a snapshot taken mid-run must
 * continue the sequence on the queue it set up before (no "VSNAP start"
 * again): the device resumes at the saved ring indices and the disk holds
 * what was written before the snapshot.
 */
#include "guest.h"
#include "virtio.h"

#define PCI_ECAM_BASE   0xe0000000
#define BAR_WINDOW      0xc0000000
#define ID_BLK          0x1042
#define CTX_A           0x3f0000
#define QMEM_A          0x400000
#define REQ_HDR         0x500000
#define REQ_STAT        0x500100
#define WR_BUF          0x501000
#define RD_BUF          0x502000
#define WAIT            2000000
#define STEP            64
#define SECTORS         256

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    leaq stack_top(%rip), %rsp
    call idt_init
    PRINTLN "VSNAP start"
    movl $CTX_A, %ebx
    movl $ID_BLK, %edi
    xorl %esi, %esi
    call vio_find
    testl %eax, %eax
    jnz 1f
    FAIL "no virtio-blk device"
1:  movl %eax, %edi
    movl %eax, %edx
    shll $20, %edx
    addl $BAR_WINDOW, %edx
    movl $QMEM_A, %esi
    call vio_map
    movl $1, %ecx
    call vio_up
    PRINTHEX "status="
    call newline
    cmpl $0xf, %eax
    je loop
    FAIL "the disk did not come up"

loop:
    incq reqs(%rip)
    /* WR_BUF qword k = n << 16 + k */
    movq reqs(%rip), %rax
    shlq $16, %rax
    xorl %ecx, %ecx
2:  movq %rax, WR_BUF(, %rcx, 8)
    incq %rax
    incl %ecx
    cmpl $64, %ecx
    jb 2b
    movq reqs(%rip), %rsi
    andl $SECTORS - 1, %esi
    movl $1, %edi                       /* VIRTIO_BLK_T_OUT */
    movl $WR_BUF, %edx
    xorl %r9d, %r9d
    call req
    testl %eax, %eax
    jz 3f
    FAIL "a write failed"
3:  movq $-1, %rax
    movq %rax, RD_BUF
    movq %rax, RD_BUF + 504
    movq reqs(%rip), %rsi
    andl $SECTORS - 1, %esi
    xorl %edi, %edi                     /* VIRTIO_BLK_T_IN */
    movl $RD_BUF, %edx
    movl $VQ_DESC_WRITE, %r9d
    call req
    testl %eax, %eax
    jz 4f
    FAIL "a read failed"
4:  xorl %ecx, %ecx
5:  movq WR_BUF(, %rcx, 8), %rax
    cmpq RD_BUF(, %rcx, 8), %rax
    je 6f
    FAIL "read back other data than was written"
6:  incl %ecx
    cmpl $64, %ecx
    jb 5b
    movq reqs(%rip), %rax
    testq $STEP - 1, %rax
    jnz loop
    call vio_status
    testl $0x40, %eax
    jz 7f
    FAIL "the disk needs a reset"
7:  PRINT "vcount="
    movq reqs(%rip), %rax
    call put_dec
    call newline
    jmp loop

/*
 * req: %edi = type, %rsi = sector, %rdx = 512-byte buffer, %r9d = its
 * flags. Three descriptors from 0, head 0, one kick, one completion.
 * -> %eax = status byte.
 */
req:
    movl %edi, REQ_HDR
    movl $0, REQ_HDR + 4
    movq %rsi, REQ_HDR + 8
    movb $0xff, REQ_STAT
    pushq %rdx
    xorl %edi, %edi
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    popq %rdx
    incl %esi
    movl $512, %ecx
    movl %r9d, %r8d
    orl $VQ_DESC_NEXT, %r8d
    call vq_desc
    incl %esi
    movl $REQ_STAT, %edx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_post
    movl $WAIT, %ecx
    call vq_wait
    cmpq $-1, %rax
    jne 1f
    FAIL "no completion in the used ring"
1:  movzbl REQ_STAT, %eax
    ret

#include "guest_lib.h"
#include "virtio_drv.h"

    .data
vio_use_ecam:
    .byte 0
    .balign 4
vio_feat0:
    .long 0

    .bss
    .balign 16
reqs:
    .quad 0
stack:
    .skip 16384
stack_top:
