/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio: drives casulo's virtio-pci devices with the polled driver in
 * virtio_drv.h and prints what it saw, as KEY=VALUE words, for
 * tests/kvm/virtio_*.sh to compare with what the host prepared.
 *
 * Command line (one guest binary for every case):
 *   dev=blk      (default) GET_ID, read sector rd=N, write a pattern to
 *                sector wr=M, flush, requests the device must refuse, a BAR
 *                move, reset; on queue q=Q (default 0); with eventidx,
 *                only the VIRTIO_F_EVENT_IDX interrupt checks
 *   dev=rng      two 64-byte reads
 *   dev=net      one frame out (ethertype 0x88b5), then frames in until one
 *                of that type arrives; with netbad, first frames the device
 *                must drop and a device-readable RX buffer
 *   dev=msix     MSI-X interrupts on the rng
 *   bad=CASE     a hostile driver on the first disk (loop, next, head,
 *                hole, oob, straddle, huge, avail, qsize3, qsize0, ringaddr,
 *                nofeat, features, nostatus, indirect, selfdma, notify,
 *                inflight, early; rng: the rng instead),
 *                then the rng must still work and the disk must work again
 *                after a reset
 *   bench=rd4k|wr64k|tx n=N   N synchronous requests, for bench/io.sh;
 *                each waits for its completion's MSI-X interrupt with
 *                sti; hlt (wait=irq, the default), or busy-polls the used
 *                ring at CPL0 (wait=poll), or runs the whole loop at CPL3
 *                with interrupts off, kicking by MMIO and busy-polling
 *                natively (wait=user)
 *   cfg=ecam     PCI config through ECAM instead of ports 0xCF8/0xCFC
 *   exit=qemu    stop through isa-debug-exit (port 0xf4) instead of ACPI S5
 *
 * A PVH entry (pvh.h; its ELF note is kept only by bench/virtio-pvh.ld,
 * the test build discards notes) lets QEMU boot the same code.
 *
 * Everything but the wait=user bench loop runs at CPL0, where a PVM host
 * emulates each instruction, so loops are short and every poll is bounded.
 */
#include "guest.h"
#include "virtio.h"

#define PCI_ECAM_BASE   0xe0000000
#define BAR_WINDOW      0xc0000000      /* 32-bit BAR window; 1 MiB per slot */

#define ID_NET          0x1041
#define ID_BLK          0x1042
#define ID_RNG          0x1044

#define CTX_A           0x3f0000
#define CTX_B           0x3f0100
#define QMEM_A          0x400000
#define QMEM_B          0x410000
#define REQ_HDR         0x500000
#define REQ_STAT        0x500100
#define ID_BUF          0x500200
#define DATA_BUF        0x501000        /* up to 64 KiB */
#define RNG_BUF         0x520000
#define TX_BUF          0x530000
#define RX_BUF          0x540000
#define RX_BUF_LEN      2048
#define NET_HDR_LEN     12
#define TX_FRAME_LEN    60
#define BENCH_FRAME_LEN 1500

#define WAIT_SHORT      2000000         /* polls of a used ring (~4 us each) */
#define WAIT_RX         3000000
#define WAIT_STATUS     100000          /* device_status reads (MMIO exits) */

    .section .text.entry, "ax"
    .code64
    .globl _start
_start:
    leaq stack_top(%rip), %rsp
    call idt_init
    CMDLINE_HAS "cfg=ecam"
    setnz vio_use_ecam(%rip)
    PRINTLN "virtio guest"

    CMDLINE_HAS "bench="
    jnz bench
    CMDLINE_HAS "bad="
    jnz bad
    CMDLINE_HAS "dev=rng"
    jnz rng_main
    CMDLINE_HAS "dev=net"
    jnz net_main
    CMDLINE_HAS "dev=msix"
    jnz msix_main

/* ---- virtio-blk ---------------------------------------------------- */
blk_main:
    movl $CTX_A, %ebx
    movl $QMEM_A, %esi
    xorl %ecx, %ecx
    call blk_open
    /* Every queue (up to 4) is set up; requests go to queue q= (default 0). */
    movq CTX_BAR(%rbx), %rax
    movzwl 0x12(%rax), %ecx
    movl %ecx, %eax
    PRINT "num_queues="
    call put_dec
    call newline
    cmpl $4, %ecx
    jbe 1f
    movl $4, %ecx
1:  leaq key_q(%rip), %rdi
    xorl %edx, %edx
    call cmdline_num
    cmpl %ecx, %eax
    jb 2f
    FAIL "q= names a queue that is not set up"
2:  movl %eax, blk_queue(%rip)
    testl %eax, %eax
    jz 3f
    movl $1 << 12, vio_feat0(%rip)      /* VIRTIO_BLK_F_MQ: queues past 0 */
3:  CMDLINE_HAS "eventidx"
    jz 4f
    orl $1 << 29, vio_feat0(%rip)       /* VIRTIO_F_EVENT_IDX */
4:  movl vio_feat0(%rip), %eax
    PRINTHEX "features0="
    call newline
    call vio_up
    PRINTHEX "status="
    call newline
    CMDLINE_HAS "eventidx"
    jnz event_idx
    movq CTX_BAR(%rbx), %rax
    movq 0x2000(%rax), %r15             /* capacity in sectors */
    movq %r15, %rax
    PRINT "capacity="
    call put_dec
    call newline

    /* GET_ID: 20 bytes, zero-padded when shorter. */
    movq $-1, %rax
    movq %rax, ID_BUF
    movq %rax, ID_BUF + 8
    movl %eax, ID_BUF + 16
    movl $8, %edi
    xorl %esi, %esi
    movl $ID_BUF, %edx
    movl $20, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX "id_status="
    PRINT " serial="
    movl $ID_BUF, %esi
    movl $20, %ecx
    call putsn
    call newline

    /* Read sector rd= (default 5). */
    leaq key_rd(%rip), %rdi
    movl $5, %edx
    call cmdline_num
    movq %rax, %rsi
    call fill_data_ff
    xorl %edi, %edi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX "rd_status="
    movl $DATA_BUF, %esi
    movl $64, %ecx
    call sum64
    PRINTHEX " rd_sum="
    PRINT " rd_head="
    movl $16, %ecx
    call put_bytes
    call newline

    /* Write sector wr= (default 9): qword k = 0x5a5a0000_00000000 + sector << 16 + k. */
    leaq key_wr(%rip), %rdi
    movl $9, %edx
    call cmdline_num
    movq %rax, %rsi
    call fill_pattern
    movl $1, %edi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    xorl %r9d, %r9d
    call blk_req
    PRINTHEX "wr_status="
    call newline

    movl $4, %edi
    xorl %esi, %esi
    xorl %edx, %edx
    xorl %ecx, %ecx
    call blk_req
    PRINTHEX "flush_status="
    call newline

    /* No MSI-X: each completion set ISR bit 0; reading the ISR clears it. */
    movq CTX_BAR(%rbx), %rcx
    movzbl 0x1000(%rcx), %eax
    PRINTHEX "isr1="
    movzbl 0x1000(%rcx), %eax
    PRINTHEX " isr2="
    call newline

    /* One sector past the end: the device must refuse it. */
    xorl %edi, %edi
    movq %r15, %rsi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX "oob_status="
    call newline

    /* Ranges that end past the disk or wrap, odd lengths, unknown types. */
    leaq -1(%r15), %rsi                 /* last sector, 2 sectors long */
    movl $1024, %ecx
    call blk_read_req
    PRINTHEX "cross_status="
    movq $-1, %rsi                      /* sector 2^64 - 1: wraps */
    movl $512, %ecx
    call blk_read_req
    PRINTHEX " wrap_status="
    xorl %esi, %esi
    movl $100, %ecx                     /* not a multiple of 512 */
    call blk_read_req
    PRINTHEX " odd_status="
    movl $0x77, %edi
    xorl %esi, %esi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX " unknown_status="
    /* DISCARD without VIRTIO_BLK_F_DISCARD negotiated: one 16-byte segment. */
    movq $0, DATA_BUF
    movq $8, DATA_BUF + 8
    movl $11, %edi
    xorl %esi, %esi
    movl $DATA_BUF, %edx
    movl $16, %ecx
    xorl %r9d, %r9d
    call blk_req
    PRINTHEX " discard_status="
    call newline
    /* GET_ID into 4 bytes: nothing may be written past them. */
    movq $-1, %rax
    movq %rax, ID_BUF
    movl $8, %edi
    xorl %esi, %esi
    movl $ID_BUF, %edx
    movl $4, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX "id4_status="
    PRINT " id4="
    movl $ID_BUF, %esi
    movl $8, %ecx
    call put_bytes
    call newline

    /*
     * The PCI configuration access capability (cfg_type 5): BAR 4 through
     * config space, device_status (1 byte at 0x14) and capacity (4 at 0x2000).
     */
    movl CTX_SLOT(%rbx), %edi
    movl $0x34, %esi
    call pci_cfg_read32
    andl $0xfc, %eax
1:  testl %eax, %eax
    jz 3f
    movl %eax, %esi
    call pci_cfg_read32
    cmpb $0x09, %al
    jne 2f
    shrl $24, %eax
    cmpl $5, %eax
    je 4f
    call pci_cfg_read32
2:  movzbl %ah, %eax
    andl $0xfc, %eax
    jmp 1b
3:  FAIL "no VIRTIO_PCI_CAP_PCI_CFG capability"
4:  movl %esi, %r12d
    leal 4(%r12), %esi
    movl $4, %edx                       /* bar 4 */
    call pci_cfg_write32
    leal 8(%r12), %esi
    movl $0x14, %edx
    call pci_cfg_write32
    leal 12(%r12), %esi
    movl $1, %edx
    call pci_cfg_write32
    leal 16(%r12), %esi
    call pci_cfg_read32
    andl $0xff, %eax
    PRINTHEX "pcicfg_status="
    leal 8(%r12), %esi
    movl $0x2000, %edx
    call pci_cfg_write32
    leal 12(%r12), %esi
    movl $4, %edx
    call pci_cfg_write32
    leal 16(%r12), %esi
    call pci_cfg_read32
    PRINT " pcicfg_capacity="
    call put_dec
    call newline

    /*
     * Move BAR 4 by 512 KiB while the device runs: a kick at the old
     * address must do nothing (no stale ioeventfd), one at the new address
     * must work.
     */
    movq CTX_BAR(%rbx), %r14
    movl CTX_SLOT(%rbx), %edi
    leaq 0x80000(%r14), %rdx
    movl $0x20, %esi
    call pci_cfg_write32
    movq %rdx, CTX_BAR(%rbx)
    call pci_cfg_read32
    andl $0xfffffff0, %eax
    subq %r14, %rax
    PRINTHEX "bar_moved_by="
    call newline
    leaq key_rd(%rip), %rdi
    movl $5, %edx
    call cmdline_num
    movl $0, REQ_HDR
    movl $0, REQ_HDR + 4
    movq %rax, REQ_HDR + 8
    movb $0xff, REQ_STAT
    call fill_data_ff
    movl blk_queue(%rip), %edi
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    incl %esi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
    incl %esi
    movl $REQ_STAT, %edx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_publish
    movw %di, 0x3000(%r14, %rdi, 4)     /* the old notify address */
    movl $20000, %ecx
    call vq_wait
    cmpq $-1, %rax
    setne %al
    movzbl %al, %eax
    PRINTHEX "stale_kick_completed="
    call newline
    call vq_kick
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    movzbl REQ_STAT, %eax
    PRINTHEX "moved_rd_status="
    movl $DATA_BUF, %esi
    movl $64, %ecx
    call sum64
    PRINTHEX " moved_rd_sum="
    call newline

    call vio_reset
    PRINTHEX "reset_status="
    call newline
    PRINTLN "VIRTIO BLK DONE"
    jmp finish

/*
 * EVENT_IDX (queue 0, INTx so the ISR shows each interrupt): with used_event
 * far ahead a completion must not interrupt; with used_event = the current
 * used index the next one must. The device publishes avail_event.
 */
event_idx:
    movl $QMEM_A + QMEM_AVAIL + 4 + 2 * 16, %r12d  /* used_event */
    movl $QMEM_A + QMEM_USED + 4 + 8 * 16, %r13d   /* avail_event */
    movq CTX_BAR(%rbx), %r14
    movw $100, (%r12)
    xorl %esi, %esi
    movl $512, %ecx
    call blk_read_req
    PRINTHEX "ev_rd1_status="
    movl $2000, %ecx                    /* a while, in case one comes late */
1:  movzbl 0x1000(%r14), %eax
    testl %eax, %eax
    jnz 2f
    decl %ecx
    jnz 1b
2:  PRINTHEX " ev_isr_far="
    movw $1, (%r12)                     /* the used index after request 1 */
    xorl %esi, %esi
    movl $512, %ecx
    call blk_read_req
    PRINTHEX " ev_rd2_status="
    movl $WAIT_SHORT, %ecx              /* the interrupt follows the used entry */
1:  movzbl 0x1000(%r14), %eax
    testl %eax, %eax
    jnz 2f
    decl %ecx
    jnz 1b
2:  PRINTHEX " ev_isr_due="
    movzwl (%r13), %eax
    PRINTHEX " ev_avail_event="
    call newline
    PRINTLN "VIRTIO BLK DONE"
    jmp finish

/*
 * blk_open: %rbx = context, %rsi = queue memory, %ecx = which disk. Finds
 * and maps it; fails the guest when absent.
 */
blk_open:
    movl $ID_BLK, %edi
    pushq %rsi
    movl %ecx, %esi
    call vio_find
    popq %rsi
    testl %eax, %eax
    jz no_blk
    movl %eax, %edi
    movl %eax, %edx
    shll $20, %edx
    addl $BAR_WINDOW, %edx
    call vio_map
    ret
no_blk:
    FAIL "no virtio-blk device"

/*
 * blk_req: %edi = type, %rsi = sector, %rdx = data, %ecx = data length
 * (0: none), %r9d = data flags (VQ_DESC_WRITE for device-writable).
 * -> %rax = status byte (0xff still there when the device did not write
 * it). Fails the guest when no completion arrives.
 */
blk_req:
    pushq %rdi
    pushq %rsi
    pushq %r8
    movl %edi, REQ_HDR
    movl $0, REQ_HDR + 4
    movq %rsi, REQ_HDR + 8
    movb $0xff, REQ_STAT
    pushq %rcx
    pushq %rdx
    movl blk_queue(%rip), %edi
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    popq %rdx
    popq %rcx
    testl %ecx, %ecx
    jz 1f
    incl %esi
    movl %r9d, %r8d
    orl $VQ_DESC_NEXT, %r8d
    call vq_desc
1:  incl %esi
    movl $REQ_STAT, %edx
    pushq %rcx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    popq %rcx
    cmpq $-1, %rax
    je no_completion
    movzbl REQ_STAT, %eax
    popq %r8
    popq %rsi
    popq %rdi
    ret
no_completion:
    call vio_status
    PRINTHEX "status="
    call newline
    FAIL "no completion in the used ring"

/* blk_read_req: an IN request of %ecx bytes at sector %rsi into DATA_BUF. */
blk_read_req:
    xorl %edi, %edi
    movl $DATA_BUF, %edx
    movl $VQ_DESC_WRITE, %r9d
    jmp blk_req

fill_data_ff:
    pushq %rax
    pushq %rcx
    pushq %rdi
    movq $-1, %rax
    movl $DATA_BUF, %edi
    movl $64, %ecx
1:  movq %rax, (%rdi)
    addq $8, %rdi
    decl %ecx
    jnz 1b
    popq %rdi
    popq %rcx
    popq %rax
    ret

/* fill_pattern: %rsi = sector; fills DATA_BUF's 512 bytes (see above). */
fill_pattern:
    pushq %rax
    pushq %rcx
    pushq %rdi
    movq %rsi, %rax
    shlq $16, %rax
    movabsq $0x5a5a000000000000, %rcx
    addq %rcx, %rax
    movl $DATA_BUF, %edi
    movl $64, %ecx
1:  movq %rax, (%rdi)
    incq %rax
    addq $8, %rdi
    decl %ecx
    jnz 1b
    popq %rdi
    popq %rcx
    popq %rax
    ret

/* ---- virtio-rng ---------------------------------------------------- */
rng_main:
    movl $CTX_B, %ebx
    call rng_open
    movl $1, %ecx
    call vio_up
    PRINTHEX "status="
    call newline
    call rng_read
    PRINT "rng1="
    movl $RNG_BUF, %esi
    movl $64, %ecx
    call put_bytes
    call newline
    call rng_read
    PRINT "rng2="
    movl $RNG_BUF, %esi
    movl $64, %ecx
    call put_bytes
    call newline
    PRINTLN "VIRTIO RNG DONE"
    jmp finish

rng_open:
    movl $ID_RNG, %edi
    xorl %esi, %esi
    call vio_find
    testl %eax, %eax
    jz no_rng
    movl %eax, %edi
    movl %eax, %edx
    shll $20, %edx
    addl $BAR_WINDOW, %edx
    movl $QMEM_B, %esi
    call vio_map
    ret
no_rng:
    FAIL "no virtio-rng device"

/* rng_read: zeroes RNG_BUF, asks for 64 bytes, prints rng_len=. */
rng_read:
    xorl %eax, %eax
    movl $RNG_BUF, %edi
    movl $8, %ecx
1:  movq %rax, (%rdi)
    addq $8, %rdi
    decl %ecx
    jnz 1b
    xorl %edi, %edi
    xorl %esi, %esi
    movl $RNG_BUF, %edx
    movl $64, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    PRINT "rng_len="
    call put_dec
    call newline
    ret

/* ---- MSI-X (on the rng) -------------------------------------------- */
/*
 * Queue 0 on MSI-X vector 0 (IDT 0x41), config on vector 1 (0x42). Each
 * wait polls the used ring with IF=1, then spins a few thousand emulated
 * instructions so that a pending interrupt is taken (a PVM host recognises
 * interrupts at emulation-batch boundaries). A masked vector must not
 * interrupt but set its PBA bit; unmasking must deliver it.
 */
#define MSIX_VEC_Q      0x41
#define MSIX_VEC_CFG    0x42

msix_main:
    movl $MSIX_VEC_Q, %edi
    leaq msix_isr_q(%rip), %rsi
    call idt_set_gate
    movl $MSIX_VEC_CFG, %edi
    leaq msix_isr_cfg(%rip), %rsi
    call idt_set_gate
    call pic_mask_all
    call lapic_enable
    movl $CTX_B, %ebx
    call rng_open
    call vio_begin

    /* The MSI-X capability: walk the list from 0x34. */
    movl CTX_SLOT(%rbx), %edi
    movl $0x34, %esi
    call pci_cfg_read32
    andl $0xfc, %eax
1:  testl %eax, %eax
    jz no_msix
    movl %eax, %esi
    call pci_cfg_read32
    cmpb $0x11, %al
    je 2f
    movzbl %ah, %eax
    andl $0xfc, %eax
    jmp 1b
no_msix:
    FAIL "no MSI-X capability"
2:  movl %esi, %r12d                    /* capability offset */
    shrl $16, %eax
    andl $0x7ff, %eax
    incl %eax
    PRINT "msix_vectors="
    call put_dec
    addl $4, %esi
    call pci_cfg_read32                 /* table offset / BIR */
    movl %eax, %r13d
    andl $7, %eax
    PRINTHEX " table_bir="
    andl $0xfffffff8, %r13d
    addq CTX_BAR(%rbx), %r13            /* table address */
    addl $4, %esi
    call pci_cfg_read32                 /* PBA offset / BIR */
    andl $0xfffffff8, %eax
    addq CTX_BAR(%rbx), %rax
    movq %rax, %r14                     /* PBA address */
    call newline

    call lapic_id
    shll $12, %eax
    orl $0xfee00000, %eax
    movl %eax, 0(%r13)                  /* entry 0 */
    movl $0, 4(%r13)
    movl $MSIX_VEC_Q, 8(%r13)
    movl $0, 12(%r13)
    movl %eax, 16(%r13)                 /* entry 1 */
    movl $0, 20(%r13)
    movl $MSIX_VEC_CFG, 24(%r13)
    movl $0, 28(%r13)
    movl %r12d, %esi
    call pci_cfg_read32
    orl $0x80000000, %eax               /* Message Control: MSI-X enable */
    movl %eax, %edx
    call pci_cfg_write32

    movq CTX_BAR(%rbx), %rcx
    movw $1, 0x10(%rcx)                 /* config_msix_vector */
    movzwl 0x10(%rcx), %eax
    PRINTHEX "cfg_vector="
    movw $0, 0x16(%rcx)
    movw $0, 0x1a(%rcx)                 /* queue_msix_vector */
    movzwl 0x1a(%rcx), %eax
    PRINTHEX " q_vector="
    movw $99, 0x10(%rcx)                /* beyond the table: reads back NO_VECTOR */
    movzwl 0x10(%rcx), %eax
    PRINTHEX " bad_vector="
    movw $1, 0x10(%rcx)
    call newline
    xorl %edi, %edi
    movl $16, %esi
    call vio_queue
    call vio_driver_ok
    PRINTHEX "status="
    call newline

    sti
    call rng_read
    movl $1, %eax
    leaq msix_count_q(%rip), %rdi
    call irq_wait
    PRINTHEX "irq_after_read="
    call newline

    movl $1, 12(%r13)                   /* mask entry 0 */
    call rng_read
    movl $WAIT_SHORT, %ecx              /* the PBA bit comes with the would-be interrupt */
1:  testl $1, (%r14)
    jnz 2f
    decl %ecx
    jnz 1b
2:  call irq_window
    movl msix_count_q(%rip), %eax
    PRINTHEX "irq_while_masked="
    movl (%r14), %eax
    andl $1, %eax
    PRINTHEX " pba_while_masked="
    call newline

    movl $0, 12(%r13)                   /* unmask: the pending one fires */
    movl $2, %eax
    leaq msix_count_q(%rip), %rdi
    call irq_wait
    PRINTHEX "irq_after_unmask="
    movl (%r14), %eax
    andl $1, %eax
    PRINTHEX " pba_after_unmask="
    call newline

    /* A broken queue (head 100 of 16): NEEDS_RESET and a config interrupt on vector 1. */
    xorl %edi, %edi
    movl $100, %esi
    call vq_post
    movl $WAIT_STATUS, %ecx
1:  call vio_status
    testb $0x40, %al
    jnz 2f
    decl %ecx
    jnz 1b
2:  PRINTHEX "broken_status="
    call newline
    movl $1, %eax
    leaq msix_count_cfg(%rip), %rdi
    call irq_wait
    cli
    movq CTX_BAR(%rbx), %rcx
    movzbl 0x1000(%rcx), %eax
    PRINTHEX "isr="
    movl msix_count_cfg(%rip), %eax
    PRINTHEX " irq_cfg="
    call newline
    PRINTLN "VIRTIO MSIX DONE"
    jmp finish

/*
 * irq_wait: spins (IF set by the caller) until the counter at %rdi reaches
 * %eax, bounded, then a little longer so that an extra interrupt would
 * show. -> %eax = the counter.
 */
irq_wait:
    pushq %rcx
    movl $WAIT_SHORT, %ecx
1:  cmpl %eax, (%rdi)
    jae 2f
    decl %ecx
    jnz 1b
2:  call irq_window
    movl (%rdi), %eax
    popq %rcx
    ret

/* Spins about 6000 emulated instructions (interrupts on if the caller set IF). */
irq_window:
    pushq %rcx
    movl $3000, %ecx
1:  decl %ecx
    jnz 1b
    popq %rcx
    ret

msix_isr_q:
    lock incl msix_count_q(%rip)
    jmp msix_eoi
msix_isr_cfg:
    lock incl msix_count_cfg(%rip)
msix_eoi:
    pushq %rax
    movl $LAPIC_BASE, %eax
    movl $0, LAPIC_EOI(%rax)
    popq %rax
    iretq

/* ---- virtio-net ---------------------------------------------------- */
net_main:
    movl $CTX_A, %ebx
    call net_open
    movl $2, %ecx                       /* RX and TX; no control queue */
    call vio_up
    PRINTHEX "status="
    call newline
    PRINT "mac="
    movq CTX_BAR(%rbx), %rsi
    addq $0x2000, %rsi
    movl $6, %ecx
    call put_bytes
    movzwl 6(%rsi), %eax
    PRINTHEX " net_status="
    call newline

    CMDLINE_HAS "netbad"
    jz 1f
    call net_bad
1:  call rx_post

    /* The frame: broadcast, from our MAC, ethertype 0x88b5, a text payload. */
    movl $TX_BUF, %edi
    xorl %eax, %eax
    movl $(NET_HDR_LEN + TX_FRAME_LEN) / 4 + 1, %ecx
1:  movl %eax, (%rdi, %rcx, 4)
    decl %ecx
    jns 1b
    movl $TX_BUF + NET_HDR_LEN, %edi
    movl $0xffffffff, (%rdi)
    movw $0xffff, 4(%rdi)
    movq CTX_BAR(%rbx), %rsi
    movl 0x2000(%rsi), %eax
    movl %eax, 6(%rdi)
    movw 0x2004(%rsi), %ax
    movw %ax, 10(%rdi)
    movw $0xb588, 12(%rdi)
    leaq tx_text(%rip), %rsi
    leaq 14(%rdi), %rdi
2:  movb (%rsi), %al
    movb %al, (%rdi)
    incq %rsi
    incq %rdi
    testb %al, %al
    jnz 2b

    movl $1, %edi
    xorl %esi, %esi
    movl $TX_BUF, %edx
    movl $NET_HDR_LEN + TX_FRAME_LEN, %ecx
    xorl %r8d, %r8d
    call vq_desc
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    PRINTLN "tx_done=1"

    movl $8, %r12d                      /* frames to look at */
3:  xorl %edi, %edi
    movl $WAIT_RX, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_rx
    PRINT "rx_len="
    call put_dec
    PRINT " rx_frame="
    xorl %ecx, %ecx
    cmpl $NET_HDR_LEN, %eax
    jb 4f
    leal -NET_HDR_LEN(%rax), %ecx
    cmpl $64, %ecx
    jbe 4f
    movl $64, %ecx
4:  movl $RX_BUF + NET_HDR_LEN, %esi
    call put_bytes
    call newline
    testq %rax, %rax                    /* a chain returned empty: not reposted */
    jz 6f
    cmpw $0xb588, RX_BUF + NET_HDR_LEN + 12
    je 5f
    call rx_post
6:
    decl %r12d
    jnz 3b
    FAIL "no frame of type 0x88b5 arrived"
5:  PRINTLN "VIRTIO NET DONE"
    jmp finish
no_rx:
    call vio_status
    PRINTHEX "status="
    call newline
    FAIL "no frame arrived"

net_open:
    movl $ID_NET, %edi
    xorl %esi, %esi
    call vio_find
    testl %eax, %eax
    jz no_net
    movl %eax, %edi
    movl %eax, %edx
    shll $20, %edx
    addl $BAR_WINDOW, %edx
    movl $QMEM_A, %esi
    call vio_map
    ret
no_net:
    FAIL "no virtio-net device"

/*
 * net_bad: frames the device must drop (each still comes back in the used
 * ring), then a device-readable RX buffer ahead of the good one, which the
 * device must return empty. Every bad frame has ethertype 0x88b5 and
 * payload "bad", so one leaking to the TAP would be what the test captures.
 */
#define TX_BAD          0x560000
net_bad:
    movl $TX_BAD, %edi
    xorl %eax, %eax
    movl $(NET_HDR_LEN + TX_FRAME_LEN) / 4 + 1, %ecx
1:  movl %eax, (%rdi, %rcx, 4)
    decl %ecx
    jns 1b
    movl $0xffffffff, TX_BAD + NET_HDR_LEN
    movw $0xffff, TX_BAD + NET_HDR_LEN + 4
    movl $0x00000252, TX_BAD + NET_HDR_LEN + 6
    movw $0xb588, TX_BAD + NET_HDR_LEN + 12
    movl $0x00646162, TX_BAD + NET_HDR_LEN + 14     /* "bad" */
    movb $2, TX_BAD                     /* DATA_VALID from a driver */
    movl $NET_HDR_LEN + TX_FRAME_LEN, %ecx
    call net_tx_raw
    movb $1, TX_BAD                     /* NEEDS_CSUM, CSUM not negotiated */
    movw $14, TX_BAD + 6
    movw $16, TX_BAD + 8
    call net_tx_raw
    movb $1, TX_BAD + 1                 /* GSO TCPV4, not negotiated */
    movw $54, TX_BAD + 2
    movw $1000, TX_BAD + 4
    call net_tx_raw
    movl $0, TX_BAD
    movl $0, TX_BAD + 4
    movl $0, TX_BAD + 8
    movl $6, %ecx                       /* shorter than the header */
    call net_tx_raw
    movl $NET_HDR_LEN + 70000, %ecx     /* longer than any frame */
    call net_tx_raw
    call vio_status
    PRINTHEX "after_bad_tx_status="
    call newline
    xorl %edi, %edi                     /* RX: a device-readable chain first */
    movl $2, %esi
    movl $RX_BUF + 0x1000, %edx
    movl $RX_BUF_LEN, %ecx
    xorl %r8d, %r8d
    call vq_desc
    call vq_post
    ret

/* net_tx_raw: sends TX_BAD, %ecx bytes, on queue 1 and waits for it. */
net_tx_raw:
    pushq %rcx
    movl $1, %edi
    xorl %esi, %esi
    movl $TX_BAD, %edx
    xorl %r8d, %r8d
    call vq_desc
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    popq %rcx
    ret

/* rx_post: one 2 KiB device-writable buffer on queue 0 (header + frame). */
rx_post:
    movl $0xffffffff, RX_BUF + NET_HDR_LEN + 12
    xorl %edi, %edi
    xorl %esi, %esi
    movl $RX_BUF, %edx
    movl $RX_BUF_LEN, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    call vq_post
    ret

/* ---- hostile driver ------------------------------------------------ */
bad:
    movl $CTX_A, %ebx
    movl $QMEM_A, %esi
    xorl %ecx, %ecx
    call blk_open
    CMDLINE_HAS "bad=qsize3"
    jnz bad_qsize3
    CMDLINE_HAS "bad=ringaddr"
    jnz bad_ringaddr
    CMDLINE_HAS "bad=early"
    jnz bad_early
    CMDLINE_HAS "bad=qsize0"
    jnz bad_qsize0
    CMDLINE_HAS "bad=nofeat"
    jnz bad_nofeat
    CMDLINE_HAS "bad=features"
    jnz bad_features
    CMDLINE_HAS "bad=rng"
    jnz bad_rng
    movl $1, %ecx
    call vio_up
    PRINTHEX "up_status="
    call newline

    /* The usual read of sector 0, then each case breaks one thing. */
    xorl %edi, %edi
    movl $0, REQ_HDR
    movl $0, REQ_HDR + 4
    movq $0, REQ_HDR + 8
    xorl %edi, %edi
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    incl %esi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
    incl %esi
    movl $REQ_STAT, %edx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %r14d, %r14d                   /* head to publish */

    CMDLINE_HAS "bad=loop"
    jz 1f
    movl $1, %esi                       /* 0 -> 1 -> 1 -> ...: all writable after 0 */
    movl $1, %edx
    call vq_desc_next
1:  CMDLINE_HAS "bad=next"
    jz 1f
    movl $1, %esi
    movl $200, %edx
    call vq_desc_next
1:  CMDLINE_HAS "bad=head"
    jz 1f
    movl $100, %r14d
1:  movl $0xd0000000, %edx              /* MMIO hole, no BAR there */
    CMDLINE_HAS "bad=hole"
    jnz 2f
    movabsq $0x10000000000, %rdx        /* 1 TiB: no RAM */
    CMDLINE_HAS "bad=oob"
    jnz 2f
    movl $0x1fffff00, %edx              /* crosses the end of 512 MiB */
    CMDLINE_HAS "bad=straddle"
    jnz 2f
    jmp 3f
2:  movl $1, %esi
    movl $512, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
3:  CMDLINE_HAS "bad=huge"
    jz 1f
    movl $1, %esi
    movl $DATA_BUF, %edx
    movl $0xfffffe00, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
1:  CMDLINE_HAS "bad=nostatus"
    jz 1f
    movl $1, %esi                       /* data readable, no status: nothing writable */
    movl $DATA_BUF, %edx
    movl $512, %ecx
    xorl %r8d, %r8d
    call vq_desc
1:  CMDLINE_HAS "bad=indirect"
    jz 1f
    xorl %esi, %esi                     /* head -> a table of the 3 good descriptors */
    movq CTX_QMEM(%rbx), %rdx
    movl $48, %ecx
    movl $4, %r8d                       /* VIRTQ_DESC_F_INDIRECT, not negotiated */
    call vq_desc
1:  CMDLINE_HAS "bad=selfdma"
    jz 1f
    movl $1, %esi                       /* read into the descriptor table itself */
    movq CTX_QMEM(%rbx), %rdx
    movl $512, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    movzbl REQ_STAT, %eax
    PRINTHEX "selfdma_rd_status="
    call newline
    call vio_status
    PRINTHEX "bad_status="
    call newline
    jmp bad_after
1:  CMDLINE_HAS "bad=notify"
    jnz bad_notify
    CMDLINE_HAS "bad=inflight"
    jnz bad_inflight
    CMDLINE_HAS "bad=avail"
    jz 1f
    movl CTX_QSZ(%rbx), %eax            /* publish idx = size + 1 */
    movw %ax, CTX_Q(%rbx)
1:  movl %r14d, %esi
    call vq_post
    call wait_needs_reset
    jmp bad_after

bad_qsize3:
    call vio_begin
    movq CTX_BAR(%rbx), %rcx
    movw $0, 0x16(%rcx)
    movw $3, 0x18(%rcx)
    movw $1, 0x1c(%rcx)
    movzwl 0x1c(%rcx), %eax
    PRINTHEX "queue_enable="
    call newline
    call wait_needs_reset
    jmp bad_after

bad_qsize0:
    call vio_begin
    movq CTX_BAR(%rbx), %rcx
    movw $0, 0x16(%rcx)
    movw $0, 0x18(%rcx)
    movw $1, 0x1c(%rcx)
    movzwl 0x1c(%rcx), %eax
    PRINTHEX "queue_enable="
    call newline
    call wait_needs_reset
    jmp bad_after

/* Features outside the offer (bit 63): FEATURES_OK must not stick. */
bad_features:
    call vio_reset
    movl $1, %esi
    call vio_set_status
    movl $3, %esi
    call vio_set_status
    movq CTX_BAR(%rbx), %rcx
    movl $1, 0x08(%rcx)
    movl $0x80000001, 0x0c(%rcx)
    movl $0xb, %esi
    call vio_set_status
    call vio_status
    PRINTHEX "feat_status="
    call newline
    jmp bad_after

/*
 * The rng instead of the disk: a device-readable buffer (nothing to fill),
 * then a 1 MiB one. The disk is the survivor here, and the rng itself
 * after its reset in bad_after.
 */
bad_rng:
    pushq %rbx
    movl $CTX_B, %ebx
    call rng_open
    movl $1, %ecx
    call vio_up
    xorl %edi, %edi
    xorl %esi, %esi
    movl $RNG_BUF, %edx
    movl $64, %ecx
    xorl %r8d, %r8d
    call vq_desc
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    PRINTHEX "rng_ro_len="
    call vio_status
    PRINTHEX " rng_ro_status="
    call newline
    testb $0x40, %al
    jz 1f
    movl $1, %ecx
    call vio_up
1:  xorl %edi, %edi
    xorl %esi, %esi
    movl $0x600000, %edx
    movl $0x100000, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    PRINTHEX "rng_big_len="
    call vio_status
    PRINTHEX " rng_big_status="
    call newline
    popq %rbx
    jmp bad_after

/* DRIVER_OK without FEATURES_OK. */
bad_nofeat:
    call vio_reset
    movl $1, %esi
    call vio_set_status
    movl $3, %esi
    call vio_set_status
    movl $7, %esi
    call vio_set_status
    call wait_needs_reset
    jmp bad_after

/*
 * Kicks of queues the device lacks and a write to read-only device config:
 * ignored, the disk keeps working (status stays 0xf).
 */
bad_notify:
    movq CTX_BAR(%rbx), %rcx
    movw $7, 0x3000 + 4 * 7(%rcx)
    movw $0, 0x3ffc(%rcx)
    movl $0xffff, 0x3002(%rcx)          /* misaligned, into queue 0's slot */
    movq $0, 0x2000(%rcx)
    movq 0x2000(%rcx), %rax
    PRINT "capacity_after="
    call put_dec
    call newline
    movl $1, %esi                       /* clears bits: ignored */
    call vio_set_status
    call vio_status
    PRINTHEX "status_after_clear="
    call newline
    xorl %esi, %esi
    call vq_post
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    movzbl REQ_STAT, %eax
    PRINTHEX "notify_rd_status="
    call newline
    call vio_status
    PRINTHEX "bad_status="
    call newline
    jmp bad_after

/* A 64 KiB read posted, then a reset at once, while it may be in flight. */
bad_inflight:
    movl $1, %esi
    movl $DATA_BUF, %edx
    movl $65536, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_post
    call vio_reset
    PRINTHEX "reset_status="
    call newline
    jmp bad_after

bad_ringaddr:
    call vio_begin
    xorl %edi, %edi
    movl $16, %esi
    call vio_queue
    movq CTX_BAR(%rbx), %rcx
    movw $0, 0x1c(%rcx)                 /* ignored: cannot disable */
    movl $0xd0000000, %eax              /* the queue is enabled: ignored too */
    movq %rax, 0x20(%rcx)
    movq 0x20(%rcx), %rax
    PRINTHEX "desc_after_enable="
    call newline
    /* A queue on an unenabled index with a bad address is another matter: */
    call vio_reset
    call vio_begin
    movq CTX_BAR(%rbx), %rcx
    movw $0, 0x16(%rcx)
    movw $16, 0x18(%rcx)
    movl $0xd0000000, %eax
    movq %rax, 0x20(%rcx)
    movq $QMEM_A + QMEM_AVAIL, %rax
    movq %rax, 0x28(%rcx)
    movq $QMEM_A + QMEM_USED, %rax
    movq %rax, 0x30(%rcx)
    movw $1, 0x1c(%rcx)
    call vio_driver_ok
    call wait_needs_reset
    jmp bad_after

bad_early:
    call vio_begin
    xorl %edi, %edi
    movl $16, %esi
    call vio_queue
    movl $0, REQ_HDR
    movl $0, REQ_HDR + 4
    movq $0, REQ_HDR + 8
    movb $0xff, REQ_STAT
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    incl %esi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    call vq_desc
    incl %esi
    movl $REQ_STAT, %edx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %esi, %esi
    call vq_post                        /* kicks before DRIVER_OK */
    call vq_kick
    call vio_status
    PRINTHEX "early_status="
    call newline
    call vio_driver_ok
    PRINTHEX "up_status="
    call newline
    call vq_kick
    movl $WAIT_SHORT, %ecx
    call vq_wait
    cmpq $-1, %rax
    je no_completion
    movzbl REQ_STAT, %eax
    PRINTHEX "early_rd_status="
    call newline
    call vio_status
    PRINTHEX "status="
    call newline
    jmp bad_after

/* Polls device_status until NEEDS_RESET (bounded); prints bad_status=. */
wait_needs_reset:
    movl $WAIT_STATUS, %ecx
1:  call vio_status
    testb $0x40, %al
    jnz 2f
    decl %ecx
    jnz 1b
2:  PRINTHEX "bad_status="
    movq CTX_BAR(%rbx), %rax
    movzbl 0x1000(%rax), %eax           /* bit 1: the configuration-change interrupt */
    PRINTHEX " isr="
    call newline
    ret

/* After the attack: the rng works, and the disk works again after a reset. */
bad_after:
    pushq %rbx
    movl $CTX_B, %ebx
    call rng_open
    movl $1, %ecx
    call vio_up
    PRINTHEX "rng_status="
    call newline
    call rng_read
    PRINT "rng1="
    movl $RNG_BUF, %esi
    movl $64, %ecx
    call put_bytes
    call newline
    popq %rbx
    movl $1, %ecx
    call vio_up
    PRINTHEX "again_status="
    call newline
    call fill_data_ff
    xorl %edi, %edi
    xorl %esi, %esi
    movl $DATA_BUF, %edx
    movl $512, %ecx
    movl $VQ_DESC_WRITE, %r9d
    call blk_req
    PRINTHEX "again_rd_status="
    movl $DATA_BUF, %esi
    movl $64, %ecx
    call sum64
    PRINTHEX " again_rd_sum="
    call newline
    PRINTLN "VIRTIO BAD DONE"
    jmp finish

/* ---- benchmark loops ----------------------------------------------- */
#define BENCH_VEC       0x41
#define BENCH_TICK      0x42
#define BENCH_WAKEUPS   20              /* timer ticks one request may take */
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TMICT     0x380
#define LAPIC_TDCR      0x3e0
#define BENCH_USER      2               /* bench_irq: the CPL3 loop */
#define BENCH_USER_DS   0x23
#define BENCH_USER_CS   0x2b
#define BENCH_TSS_SEL   0x30
#define WAIT_USER       0x40000000      /* CPL3 polls of a used ring (native: seconds) */

/*
 * The loops are lean on purpose: on a PVM host every CPL0 instruction of
 * the guest is emulated and charged to the vCPU thread of either VMM, so
 * the less the guest runs per request, the more of the measured CPU is the
 * VMM's own. One request is in flight at a time and every avail ring slot
 * holds head 0, so a request is: bump and publish the avail index, kick,
 * wait until the used index catches up.
 *
 * BENCH_ONE irq: one request on the queue set up by bench_ring (%r9 avail
 * ring, %r8 used ring, %r11 notify address, %r12w its queue number, %esi
 * the avail index). With irq=1 it sleeps with the race-free idiom: IF is
 * clear while it compares the used index, and only `sti; hlt` lets the
 * completion interrupt in, the STI shadow making one that arrives between
 * the two wake the HLT. BENCH_WAKEUPS bounds the sleeps (the watchdog tick
 * ends each), WAIT_SHORT the polls of irq=0. irq=2 is the CPL3 loop
 * (wait=user): the same steps, run natively and so accounted by the host
 * as the vCPU thread's guest time, not as KVM's emulation; WAIT_USER bounds
 * its polls, and running out leaves through bench_user_timeout.
 */
.macro BENCH_ONE irq
    incl %esi
    movw %si, 2(%r9)
    movw %r12w, (%r11)
.if \irq == 2
    movl $WAIT_USER, %ecx
9001:
    cmpw 2(%r8), %si
    je 9002f
    pause
    decq %rcx
    jnz 9001b
    jmp bench_user_timeout
.else
.if \irq
    movl $BENCH_WAKEUPS, %ecx
9001:
    cmpw 2(%r8), %si
    je 9002f
    sti
    hlt
    cli
.else
    movl $WAIT_SHORT, %ecx
9001:
    cmpw 2(%r8), %si
    je 9002f
    pause
.endif
    decl %ecx
    jnz 9001b
    jmp no_completion
.endif
9002:
.endm

/* BLK_LOOP irq: %r15 requests at sector %r14 on, advancing by %r10 + 1 sectors. */
.macro BLK_LOOP irq
9003:
    movq %r14, REQ_HDR + 8
    movb $0xff, REQ_STAT
    BENCH_ONE \irq
    cmpb $0, REQ_STAT
    je 9004f
    incl %r13d
9004:
    leaq 1(%r14, %r10), %r14
    andl $2047, %r14d                   /* stay in the first 1 MiB */
    decq %r15
    jnz 9003b
.endm

bench:
    leaq key_n(%rip), %rdi
    movl $1000, %edx
    call cmdline_num
    movq %rax, %r15                     /* requests */
    xorl %r13d, %r13d                   /* errors */
    movl $CTX_A, %ebx
    CMDLINE_HAS "bench=tx"
    jnz bench_tx
    movl $QMEM_A, %esi
    xorl %ecx, %ecx
    call blk_open
    movl $1, %ecx
    xorl %edx, %edx
    call bench_up
    PRINTHEX "status="
    call newline
    /* 4 KiB reads, or 64 KiB writes, cycling over the first 1 MiB. */
    movl $4096, %r12d
    movl $VQ_DESC_NEXT | VQ_DESC_WRITE, %r8d
    xorl %r9d, %r9d                     /* type IN */
    movl $7, %r10d                      /* sector mask: 8 x 512 B = 4 KiB steps */
    CMDLINE_HAS "bench=wr64k"
    jz 1f
    movl $65536, %r12d
    movl $VQ_DESC_NEXT, %r8d
    movl $1, %r9d
    movl $127, %r10d
1:  movl %r9d, REQ_HDR
    movl $0, REQ_HDR + 4
    xorl %edi, %edi
    movl $1, %esi
    movl $DATA_BUF, %edx
    movl %r12d, %ecx
    call vq_desc
    xorl %esi, %esi
    movl $REQ_HDR, %edx
    movl $16, %ecx
    movl $VQ_DESC_NEXT, %r8d
    call vq_desc
    movl $2, %esi
    movl $REQ_STAT, %edx
    movl $1, %ecx
    movl $VQ_DESC_WRITE, %r8d
    call vq_desc
    xorl %edi, %edi
    call bench_ring
    PRINTLN "BENCH START"
    xorl %r14d, %r14d                   /* sector */
    testq %r15, %r15
    jz 3f
    cmpb $BENCH_USER, bench_irq(%rip)
    jne 4f
    leaq bench_blk_user(%rip), %rdi
    leaq 3f(%rip), %rax
    jmp bench_user_enter
4:  cmpb $0, bench_irq(%rip)
    je 5f
    BLK_LOOP 1
    jmp 3f
5:  BLK_LOOP 0
3:  PRINTLN "BENCH END"
    /* Stay alive a while: bench/vmmrun.py samples our CPU time now. */
    movl $100000, %ecx
    call delay
    movq %r13, %rax
    PRINT "bench_errors="
    call put_dec
    call newline
    jmp finish

bench_tx:
    call net_open
    movl $2, %ecx
    movl $1, %edx
    call bench_up
    PRINTHEX "status="
    call newline
    /* A zeroed header and a broadcast frame of ethertype 0x88b5. */
    movl $TX_BUF, %edi
    xorl %eax, %eax
    movl $(NET_HDR_LEN + BENCH_FRAME_LEN) / 8 + 1, %ecx
1:  movq %rax, (%rdi, %rcx, 8)
    decl %ecx
    jns 1b
    movl $0xffffffff, TX_BUF + NET_HDR_LEN
    movw $0xffff, TX_BUF + NET_HDR_LEN + 4
    movw $0xb588, TX_BUF + NET_HDR_LEN + 12
    movl $1, %edi
    xorl %esi, %esi
    movl $TX_BUF, %edx
    movl $NET_HDR_LEN + BENCH_FRAME_LEN, %ecx
    xorl %r8d, %r8d
    call vq_desc
    call bench_ring
    PRINTLN "BENCH START"
    testq %r15, %r15
    jz 3f
    cmpb $BENCH_USER, bench_irq(%rip)
    jne 4f
    leaq bench_tx_user(%rip), %rdi
    leaq 3f(%rip), %rax
    jmp bench_user_enter
4:  cmpb $0, bench_irq(%rip)
    je 5f
2:  BENCH_ONE 1
    decq %r15
    jnz 2b
    jmp 3f
5:  BENCH_ONE 0
    decq %r15
    jnz 5b
3:  PRINTLN "BENCH END"
    /* Stay alive a while: bench/vmmrun.py samples our CPU time now. */
    movl $100000, %ecx
    call delay
    PRINTLN "bench_errors=0"
    jmp finish

/* The CPL3 loops: BENCH_ONE 2 until %r15 reaches 0, then back to CPL0. */
bench_blk_user:
    BLK_LOOP 2
    jmp bench_user_done
bench_tx_user:
    BENCH_ONE 2
    decq %r15
    jnz bench_tx_user
    jmp bench_user_done

/*
 * bench_user_enter: %rdi = CPL3 code, %rax = where CPL0 goes on once that
 * code reaches bench_user_done. A GDT with user segments and a TSS (whose
 * rsp0 is the stack the #UD comes back on), vector 6 pointed at
 * bench_user_ud, then iretq to CPL3 with IF clear. Every other register
 * reaches the CPL3 code unchanged. Does not return.
 */
bench_user_enter:
    movq %rax, bench_cont(%rip)
    pushq %rdi
    pushq %rsi
    leaq bench_tss(%rip), %rax
    leaq stack_top(%rip), %rdi
    movq %rdi, 4(%rax)                  /* rsp0 */
    movw $104, 102(%rax)                /* I/O bitmap base: none */
    leaq bench_gdt_tss(%rip), %rdi
    movw %ax, 2(%rdi)                   /* base 15:0 */
    shrq $16, %rax
    movb %al, 4(%rdi)                   /* base 23:16 */
    movb %ah, 7(%rdi)                   /* base 31:24 */
    shrq $16, %rax
    movl %eax, 8(%rdi)                  /* base 63:32 */
    leaq bench_gdt(%rip), %rax
    subq $16, %rsp
    movw $bench_gdt_end - bench_gdt - 1, 6(%rsp)
    movq %rax, 8(%rsp)
    lgdt 6(%rsp)
    addq $16, %rsp
    movw $BENCH_TSS_SEL, %ax
    ltr %ax
    movl $6, %edi
    leaq bench_user_ud(%rip), %rsi
    call idt_set_gate
    popq %rsi
    popq %rdi
    leaq bench_user_stack_top(%rip), %rax
    pushq $BENCH_USER_DS
    pushq %rax
    pushq $0x2                          /* RFLAGS: IF=0, IOPL=0 */
    pushq $BENCH_USER_CS
    pushq %rdi
    iretq

/* The two ways out of CPL3: a #UD at one of these, taken by bench_user_ud. */
bench_user_done:
    ud2
bench_user_timeout:
    ud2

/*
 * #UD at CPL0: from bench_user_done, go on at bench_cont; from
 * bench_user_timeout, report the missing completion; from anywhere else,
 * the usual exception report.
 */
bench_user_ud:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movq (%rsp), %rax
    leaq bench_user_done(%rip), %rdi
    cmpq %rdi, %rax
    jne 1f
    leaq stack_top(%rip), %rsp
    jmp *bench_cont(%rip)
1:  leaq bench_user_timeout(%rip), %rdi
    cmpq %rdi, %rax
    je no_completion
    pushq $6
    jmp exc_common

/*
 * bench_up: %ecx = queues, %edx = the queue the bench waits on. Like
 * vio_up, plus the interrupt set-up unless the command line says
 * wait=poll (busy-poll at CPL0) or wait=user (busy-poll at CPL3).
 * -> %eax = final status.
 */
bench_up:
    pushq %rdi
    pushq %rsi
    movb $BENCH_USER, bench_irq(%rip)
    CMDLINE_HAS "wait=user"
    jnz 5f
    CMDLINE_HAS "wait=poll"
    setz bench_irq(%rip)
    jz 1f
5:  call vio_up
    jmp 4f
1:  call bench_msix
    call vio_begin
    xorl %edi, %edi
2:  cmpl %edx, %edi
    jne 3f
    movq CTX_BAR(%rbx), %rax
    movw %di, 0x16(%rax)                /* queue_select */
    movw $0, 0x1a(%rax)                 /* queue_msix_vector = entry 0 */
    cmpw $0, 0x1a(%rax)
    je 3f
    FAIL "the device refused MSI-X vector 0 for the queue"
3:  movl $16, %esi
    call vio_queue
    incl %edi
    cmpl %ecx, %edi
    jb 2b
    call vio_driver_ok
4:  popq %rsi
    popq %rdi
    ret

/*
 * bench_msix: the bench's completion interrupt. MSI-X entry 0 of the
 * device at %rbx -> IDT BENCH_VEC on this CPU's LAPIC, then MSI-X enabled;
 * the table may be in another BAR than the virtio registers (QEMU puts it
 * in BAR 1, casulo in BAR 4). A slow periodic LAPIC timer (BENCH_TICK,
 * ~0.27 s at KVM's 1 GHz APIC bus) ends every sleep eventually, so a lost
 * interrupt fails the guest instead of hanging it. Both vectors' handler
 * only EOIs: the waiter looks at the used ring itself.
 */
bench_msix:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rdi
    pushq %rsi
    pushq %r12
    movl $BENCH_VEC, %edi
    leaq bench_isr(%rip), %rsi
    call idt_set_gate
    movl $BENCH_TICK, %edi
    call idt_set_gate
    call pic_mask_all
    call lapic_enable
    movl $LAPIC_BASE, %eax
    movl $3, LAPIC_TDCR(%rax)           /* divide by 16 */
    movl $0x20000 | BENCH_TICK, LAPIC_LVT_TIMER(%rax)  /* periodic */
    movl $0x1000000, LAPIC_TMICT(%rax)

    movl CTX_SLOT(%rbx), %edi
    movl $0x34, %esi
    call pci_cfg_read32
    andl $0xfc, %eax
1:  testl %eax, %eax
    jz no_msix
    movl %eax, %esi
    call pci_cfg_read32
    cmpb $0x11, %al
    je 2f
    movzbl %ah, %eax
    andl $0xfc, %eax
    jmp 1b
2:  movl %esi, %r12d                    /* capability offset */
    addl $4, %esi
    call pci_cfg_read32                 /* table offset / BIR */
    movl %eax, %ecx
    andl $0xfffffff8, %ecx
    andl $7, %eax
    cmpl $4, %eax
    jne 3f
    addq CTX_BAR(%rbx), %rcx            /* the BAR vio_map placed */
    jmp 4f
3:  leal 0x10(, %rax, 4), %esi          /* a 32-bit BAR the firmware placed */
    call pci_cfg_read32
    andl $0xfffffff0, %eax
    jnz 5f
    FAIL "the MSI-X table's BAR is not below 4 GiB"
5:  addq %rax, %rcx
4:  call lapic_id
    shll $12, %eax
    orl $LAPIC_BASE, %eax
    movl %eax, 0(%rcx)                  /* entry 0: address, data, unmasked */
    movl $0, 4(%rcx)
    movl $BENCH_VEC, 8(%rcx)
    movl $0, 12(%rcx)
    movl %r12d, %esi
    call pci_cfg_read32
    andl $0xbfffffff, %eax              /* Message Control: function mask off */
    orl $0x80000000, %eax               /* MSI-X enable */
    movl %eax, %edx
    call pci_cfg_write32
    popq %r12
    popq %rsi
    popq %rdi
    popq %rdx
    popq %rcx
    popq %rax
    ret

/*
 * bench_ring: %edi = queue of the device at %rbx. Loads BENCH_ONE's
 * registers for it, puts head 0 in every avail ring slot and clears IF.
 */
bench_ring:
    imull $QMEM_STRIDE, %edi, %r9d
    addq CTX_QMEM(%rbx), %r9
    leaq QMEM_USED(%r9), %r8
    addq $QMEM_AVAIL, %r9
    movq CTX_BAR(%rbx), %r11
    leaq 0x3000(%r11, %rdi, 4), %r11
    movl %edi, %r12d
    movzwl 2(%r9), %esi
    movl $15, %ecx
1:  movw $0, 4(%r9, %rcx, 2)
    decl %ecx
    jns 1b
    cli
    ret

bench_isr:
    pushq %rax
    movl $LAPIC_BASE, %eax
    movl $0, LAPIC_EOI(%rax)
    popq %rax
    iretq

/* ---- the end ------------------------------------------------------- */
finish:
    CMDLINE_HAS "exit=qemu"
    jz poweroff
    movb $0, %al
    outb %al, $0xf4                     /* isa-debug-exit */
    jmp triple_fault

key_rd: .asciz "rd="
key_wr: .asciz "wr="
key_n:  .asciz "n="
key_q:  .asciz "q="
tx_text: .asciz "casulo tiny guest tx"

#include "guest_lib.h"
#include "virtio_drv.h"

#include "pvh.h"

    .data
vio_use_ecam:
    .byte 0
    .balign 4
blk_queue:
    .long 0
vio_feat0:
    .long 0
    .balign 4
msix_count_q:
    .long 0
msix_count_cfg:
    .long 0
bench_irq:                              /* 1 irq, 0 CPL0 poll, BENCH_USER */
    .byte 0
    .balign 8
bench_cont:
    .quad 0
bench_gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x10: kernel code64 */
    .quad 0x00cf92000000ffff            /* 0x18: kernel data */
    .quad 0x00cff2000000ffff            /* 0x20: user data, DPL3 */
    .quad 0x00affa000000ffff            /* 0x28: user code64, DPL3 */
bench_gdt_tss:                          /* 0x30: 64-bit TSS, base set at run time */
    .quad 0x0000890000000067
    .quad 0
bench_gdt_end:
    .balign 16
bench_tss:
    .skip 104

    .bss
    .balign 16
stack:
    .skip 16384
stack_top:
    .balign 16
bench_user_stack:
    .skip 256
bench_user_stack_top:
