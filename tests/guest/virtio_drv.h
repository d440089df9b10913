/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal virtio 1.x modern PCI driver for the tiny guests, polled (no
 * interrupts). Included once from a guest's .text after guest.h.
 *
 * It finds a function by vendor 0x1af4 / device 0x1040 + id through config
 * mechanism #1 (ports 0xCF8/0xCFC, which QEMU's pc machine has too) or ECAM,
 * places BAR 4 in the 32-bit window (casulo assigns it above 64 GiB, which
 * the boot page tables do not map; a firmware-assigned address below 4 GiB,
 * as under QEMU, is kept), and uses the layout both VMMs put in BAR 4 (common
 * config 0x0, ISR 0x1000, device config 0x2000, notify 0x3000 with
 * multiplier 4) rather than walking the capability list, to keep the number
 * of emulated CPL0 instructions small.
 *
 * A device context (%rbx) holds the BAR address, slot and queue memory; each
 * queue occupies 12 KiB of queue memory: descriptors at +0, available ring
 * at +0x1000, used ring at +0x2000. Requests are synchronous: the driver
 * writes descriptors from index 0, publishes head 0, kicks, and polls the
 * used ring with a bounded loop.
 */
#ifndef CASULO_TEST_GUEST_VIRTIO_DRV_H
#define CASULO_TEST_GUEST_VIRTIO_DRV_H

#include "virtio.h"

/*
 * pci_cfg_read32: %edi = slot, %esi = offset -> %eax. pci_cfg_write32:
 * %edx = value. Uses ECAM when vio_use_ecam is set, else 0xCF8/0xCFC.
 */
pci_cfg_addr:                           /* -> %eax = CF8 address */
    movl %edi, %eax
    shll $11, %eax
    orl %esi, %eax
    andl $0xfffffffc, %eax
    orl $0x80000000, %eax
    ret

pci_ecam_addr:                          /* -> %rax = ECAM address */
    movl %edi, %eax
    shll $15, %eax
    orl %esi, %eax
    orl $PCI_ECAM_BASE, %eax
    ret

pci_cfg_read32:
    pushq %rdx
    cmpb $0, vio_use_ecam(%rip)
    jne 1f
    call pci_cfg_addr
    movw $0xcf8, %dx
    outl %eax, %dx
    movw $0xcfc, %dx
    inl %dx, %eax
    popq %rdx
    ret
1:  call pci_ecam_addr
    movl (%rax), %eax
    popq %rdx
    ret

pci_cfg_write32:
    pushq %rax
    pushq %rdx
    cmpb $0, vio_use_ecam(%rip)
    jne 1f
    call pci_cfg_addr
    movw $0xcf8, %dx
    outl %eax, %dx
    movq (%rsp), %rax
    movw $0xcfc, %dx
    outl %eax, %dx
    popq %rdx
    popq %rax
    ret
1:  call pci_ecam_addr
    movl %edx, (%rax)
    popq %rdx
    popq %rax
    ret

/*
 * vio_find: %edi = PCI device id, %esi = which one (0 = first) -> %eax =
 * slot, 0 when absent.
 */
vio_find:
    pushq %rcx
    pushq %rdx
    pushq %rdi
    pushq %rsi
    movl %edi, %edx
    shll $16, %edx
    orl $0x1af4, %edx                   /* the id dword to look for */
    movl %esi, %ecx
    movl $1, %edi
1:  xorl %esi, %esi
    call pci_cfg_read32
    cmpl %edx, %eax
    jne 2f
    testl %ecx, %ecx
    jz 3f
    decl %ecx
2:  incl %edi
    cmpl $32, %edi
    jb 1b
    xorl %edi, %edi
3:  movl %edi, %eax
    popq %rsi
    popq %rdi
    popq %rdx
    popq %rcx
    ret

/*
 * vio_map: %rbx = context, %edi = slot, %rsi = queue memory, %rdx = 32-bit
 * BAR address to use if BAR 4 is not already below 4 GiB. Enables memory
 * decoding and bus mastering.
 */
vio_map:
    pushq %rax
    pushq %rdx
    pushq %rsi
    movl %edi, CTX_SLOT(%rbx)
    movq %rsi, CTX_QMEM(%rbx)
    movl $0x24, %esi
    call pci_cfg_read32
    testl %eax, %eax
    jnz 1f
    movl $0x20, %esi
    call pci_cfg_read32
    andl $0xfffffff0, %eax
    jz 1f
    movl %eax, %edx                     /* firmware put it below 4 GiB */
    jmp 2f
1:  movl $0x24, %esi                    /* high half first: decoding is off */
    pushq %rdx
    xorl %edx, %edx
    call pci_cfg_write32
    popq %rdx
    movl $0x20, %esi
    call pci_cfg_write32
2:  movq %rdx, CTX_BAR(%rbx)
    movl $0x04, %esi
    call pci_cfg_read32
    orl $0x6, %eax                      /* MEM + bus master */
    movl %eax, %edx
    call pci_cfg_write32
    popq %rsi
    popq %rdx
    popq %rax
    ret

/* vio_status -> %eax = device_status. */
vio_status:
    movq CTX_BAR(%rbx), %rax
    movzbl 0x14(%rax), %eax
    ret

/* vio_set_status: %esi = new status. */
vio_set_status:
    pushq %rax
    movq CTX_BAR(%rbx), %rax
    movb %sil, 0x14(%rax)
    popq %rax
    ret

/* vio_reset: writes 0 and polls (bounded) until it reads 0. %eax = status. */
vio_reset:
    pushq %rcx
    pushq %rsi
    xorl %esi, %esi
    call vio_set_status
    movl $200000, %ecx
1:  call vio_status
    testl %eax, %eax
    jz 2f
    pause
    decl %ecx
    jnz 1b
2:  popq %rsi
    popq %rcx
    ret

/*
 * vio_begin: reset, ACKNOWLEDGE, DRIVER, accept VERSION_1 plus the
 * device-specific bits in the guest's vio_feat0 (a .data dword), FEATURES_OK.
 * -> %eax = status read back (FEATURES_OK set when accepted).
 */
vio_begin:
    pushq %rcx
    pushq %rsi
    call vio_reset
    movl $1, %esi
    call vio_set_status
    movl $3, %esi
    call vio_set_status
    movq CTX_BAR(%rbx), %rcx
    movl $0, 0x08(%rcx)                 /* driver_feature_select = 0 */
    movl vio_feat0(%rip), %esi          /* device-specific bits the guest asked for */
    movl %esi, 0x0c(%rcx)
    movl $1, 0x08(%rcx)                 /* word 1 */
    movl $1, 0x0c(%rcx)                 /* VIRTIO_F_VERSION_1 (bit 32) */
    movl $0xb, %esi
    call vio_set_status
    call vio_status
    popq %rsi
    popq %rcx
    ret

/*
 * vio_queue: %edi = queue, %esi = requested size. Sets the size (lowered to
 * the device's maximum), addresses, resets the driver's indices and enables
 * the queue. -> %eax = size in use.
 */
vio_queue:
    pushq %rcx
    pushq %rdx
    pushq %rdi
    movq CTX_BAR(%rbx), %rcx
    movw %di, 0x16(%rcx)
    movzwl 0x18(%rcx), %eax
    cmpl %esi, %eax
    jbe 1f
    movl %esi, %eax
1:  movw %ax, 0x18(%rcx)
    movl %eax, CTX_QSZ(%rbx)
    movl $0, CTX_Q(%rbx, %rdi, 4)
    imull $QMEM_STRIDE, %edi, %edx
    addq CTX_QMEM(%rbx), %rdx
    movl $0, QMEM_AVAIL(%rdx)           /* avail flags + idx */
    movl $0, QMEM_USED(%rdx)            /* used flags + idx */
    movq %rdx, 0x20(%rcx)
    addq $QMEM_AVAIL, %rdx
    movq %rdx, 0x28(%rcx)
    addq $QMEM_USED - QMEM_AVAIL, %rdx
    movq %rdx, 0x30(%rcx)
    movw $1, 0x1c(%rcx)
    popq %rdi
    popq %rdx
    popq %rcx
    ret

/* vio_driver_ok: sets DRIVER_OK. -> %eax = status read back. */
vio_driver_ok:
    pushq %rsi
    movl $0xf, %esi
    call vio_set_status
    call vio_status
    popq %rsi
    ret

/*
 * vio_up: vio_begin, queues 0 .. %ecx-1 of size 16, DRIVER_OK.
 * -> %eax = final status.
 */
vio_up:
    pushq %rdi
    pushq %rsi
    call vio_begin
    xorl %edi, %edi
1:  movl $16, %esi
    call vio_queue
    incl %edi
    cmpl %ecx, %edi
    jb 1b
    call vio_driver_ok
    popq %rsi
    popq %rdi
    ret

/*
 * vq_desc: %edi = queue, %esi = descriptor index, %rdx = address, %ecx =
 * length, %r8d = flags (next = index + 1 when NEXT is set).
 */
vq_desc:
    pushq %rax
    imull $QMEM_STRIDE, %edi, %eax
    addq CTX_QMEM(%rbx), %rax
    pushq %rsi
    shll $4, %esi
    addq %rsi, %rax
    popq %rsi
    movq %rdx, (%rax)
    movl %ecx, 8(%rax)
    movw %r8w, 12(%rax)
    movw %si, 14(%rax)
    incw 14(%rax)
    popq %rax
    ret

/* vq_desc_next: %edi = queue, %esi = index, %edx = next (after vq_desc). */
vq_desc_next:
    pushq %rax
    imull $QMEM_STRIDE, %edi, %eax
    addq CTX_QMEM(%rbx), %rax
    pushq %rsi
    shll $4, %esi
    addq %rsi, %rax
    popq %rsi
    movw %dx, 14(%rax)
    popq %rax
    ret

/*
 * vq_post: %edi = queue, %esi = head. Puts the head in the available ring,
 * publishes the index and kicks. vq_publish does the same without the kick.
 */
vq_post:
    call vq_publish
    jmp vq_kick

vq_publish:
    pushq %rax
    pushq %rcx
    pushq %rdx
    imull $QMEM_STRIDE, %edi, %edx
    addq CTX_QMEM(%rbx), %rdx
    addq $QMEM_AVAIL, %rdx
    movzwl CTX_Q(%rbx, %rdi, 4), %eax   /* next avail idx */
    movl CTX_QSZ(%rbx), %ecx
    decl %ecx
    andl %eax, %ecx
    movw %si, 4(%rdx, %rcx, 2)
    incl %eax
    movw %ax, CTX_Q(%rbx, %rdi, 4)
    movw %ax, 2(%rdx)
    popq %rdx
    popq %rcx
    popq %rax
    ret

/* vq_kick: %edi = queue: a write to its notify address. */
vq_kick:
    pushq %rax
    movq CTX_BAR(%rbx), %rax
    movw %di, 0x3000(%rax, %rdi, 4)
    popq %rax
    ret

/*
 * vq_wait: %edi = queue, %ecx = poll bound. Waits for the next used entry.
 * -> %rax = its length, or -1 if the bound ran out first.
 */
vq_wait:
    pushq %rcx
    pushq %rdx
    pushq %rsi
    imull $QMEM_STRIDE, %edi, %edx
    addq CTX_QMEM(%rbx), %rdx
    addq $QMEM_USED, %rdx
    movzwl 2+CTX_Q(%rbx, %rdi, 4), %esi /* last used idx */
1:  cmpw 2(%rdx), %si
    jne 2f
    pause
    decl %ecx
    jnz 1b
    movq $-1, %rax
    jmp 3f
2:  movl CTX_QSZ(%rbx), %eax
    decl %eax
    andl %esi, %eax
    movl 4+4(%rdx, %rax, 8), %eax       /* used elem len */
    incl %esi
    movw %si, 2+CTX_Q(%rbx, %rdi, 4)
3:  popq %rsi
    popq %rdx
    popq %rcx
    ret

/* put_bytes: prints %ecx bytes at %rsi as hex pairs. */
put_bytes:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    testl %ecx, %ecx
    jz 3f
1:  movzbl (%rsi), %edx
    movl %edx, %eax
    shrl $4, %eax
    call put_nibble
    movl %edx, %eax
    call put_nibble
    incq %rsi
    decl %ecx
    jnz 1b
3:  popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    ret

put_nibble:
    andl $15, %eax
    addb $'0', %al
    cmpb $'9', %al
    jbe 1f
    addb $'a' - '0' - 10, %al
1:  jmp putc

/* sum64: %rsi = buffer, %ecx = qwords -> %rax = wrapping sum of the qwords. */
sum64:
    pushq %rcx
    pushq %rsi
    xorl %eax, %eax
1:  addq (%rsi), %rax
    addq $8, %rsi
    decl %ecx
    jnz 1b
    popq %rsi
    popq %rcx
    ret

/*
 * cmdline_num: %rdi = "key=" (NUL-terminated) -> %rax = the decimal number
 * after the first occurrence of key at a word start, %rdx = default when
 * the key is absent.
 */
cmdline_num:
    pushq %rbx
    pushq %rcx
    pushq %rsi
    pushq %rdi
    pushq %rdx
    call cmdline_ptr
    testq %rax, %rax
    jz 6f
    movq %rax, %rsi
    movb $' ', %dl                      /* previous character */
1:  cmpb $' ', %dl
    jne 3f
    movq %rsi, %rbx
    movq %rdi, %rcx
2:  movb (%rcx), %al
    testb %al, %al
    jz 4f
    cmpb (%rbx), %al
    jne 3f
    incq %rbx
    incq %rcx
    jmp 2b
3:  movb (%rsi), %dl
    testb %dl, %dl
    jz 6f
    incq %rsi
    jmp 1b
4:  xorl %eax, %eax                     /* %rbx: the digits */
5:  movzbl (%rbx), %ecx
    subl $'0', %ecx
    cmpl $9, %ecx
    ja 7f
    imulq $10, %rax
    addq %rcx, %rax
    incq %rbx
    jmp 5b
6:  movq (%rsp), %rax
7:  popq %rdx
    popq %rdi
    popq %rsi
    popq %rcx
    popq %rbx
    ret

#endif
