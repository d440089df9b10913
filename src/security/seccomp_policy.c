// SPDX-License-Identifier: Apache-2.0
/*
 * What each casulo thread may ask of the kernel once it runs guest-facing
 * code. The lists were taken from the code (every syscall and ioctl a thread
 * reaches after start-up) and checked with the KVM tests under
 * `--seccomp log` and strace; anything not here kills the process. When a
 * thread gains work (a new device, back-end or API action), its group must
 * grow with it: run the tests with `--seccomp log` and read dmesg.
 *
 * Argument checks where a call is broad: ioctl by request number, mmap and
 * mprotect never executable, madvise only to drop pages, tgkill only within
 * this process, clone only as fork (no new threads) outside restart mode.
 */
#include "seccomp_policy.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "util/compiler.h"

#define ALLOW(name) { .nr = SCMP_SYS(name) }
#define ALLOW_IF(name, argno, m, v) \
    { .nr = SCMP_SYS(name), .op = SANDBOX_ARG_MASKED, .arg = (argno), .mask = (m), .value = (v) }
/* The kernel reads an ioctl request as 32 bits; so does the check. */
#define ALLOW_IOCTL(req) ALLOW_IF(ioctl, 1, 0xffffffffu, (uint32_t)(req))
#define ALLOW_NOT_EXEC(name) ALLOW_IF(name, 2, PROT_EXEC, 0)
#define FAIL(name, e) { .nr = SCMP_SYS(name), .fail_errno = (e) }
#define GROUP(n, r) static const struct sandbox_group n = { #n, r, ARRAY_SIZE(r) }

/*
 * Every thread: glibc's own needs (malloc, locks, thread exit, signal
 * return), logging to stderr (a guest can make any thread log a warning),
 * the console's output (serial writes from vCPUs), clocks, and the
 * fatal-signal path (restore the terminal, re-raise).
 */
static const struct sandbox_rule common_rules[] = {
    ALLOW(read),
    ALLOW(write),
    ALLOW(futex),
    ALLOW_NOT_EXEC(mmap),
    ALLOW_NOT_EXEC(mprotect),
    ALLOW(munmap),
    ALLOW(brk),
    ALLOW_IF(madvise, 2, ~0ull, MADV_DONTNEED),
    ALLOW(rt_sigprocmask),
    ALLOW(rt_sigreturn),
    ALLOW(rt_sigaction),
    ALLOW(restart_syscall),
    ALLOW(exit),
    ALLOW(exit_group),
    ALLOW(getpid),
    ALLOW(gettid),
    { .nr = SCMP_SYS(tgkill), .op = SANDBOX_ARG_SELF_PID, .arg = 0 },
    ALLOW(clock_gettime),
    ALLOW(clock_nanosleep),
    ALLOW(nanosleep),
    ALLOW(sched_yield),
    ALLOW(poll),
    ALLOW(ppoll),
    ALLOW_IOCTL(TCGETS),   /* every log line asks isatty(stderr) */
    ALLOW_IOCTL(TCSETS),
};
GROUP(common, common_rules);

/* Threads with an epoll event loop. */
static const struct sandbox_rule evloop_rules[] = {
    ALLOW(epoll_wait),
    ALLOW(epoll_pwait),
    ALLOW(epoll_ctl),
};
GROUP(evloop, evloop_rules);

/*
 * vCPU: KVM_RUN, the crash register dump, and what device models do on the
 * vCPU that made the access: INTx (KVM_IRQ_LINE), MSI-X table writes
 * (routing, irqfds, KVM_SIGNAL_MSI), BAR moves (ioeventfds); eventfd writes
 * to the I/O thread and console writes go through read/write.
 */
static const struct sandbox_rule vcpu_rules[] = {
    ALLOW_IOCTL(KVM_RUN),
    ALLOW_IOCTL(KVM_GET_REGS),
    ALLOW_IOCTL(KVM_GET_SREGS),
    ALLOW_IOCTL(KVM_IRQ_LINE),
    ALLOW_IOCTL(KVM_SET_GSI_ROUTING),
    ALLOW_IOCTL(KVM_IRQFD),
    ALLOW_IOCTL(KVM_SIGNAL_MSI),
    ALLOW_IOCTL(KVM_IOEVENTFD),
};
GROUP(vcpu, vcpu_rules);

/*
 * I/O thread: disk images (sync engine and io_uring), TAP frames and its
 * offloads (set at activate), entropy, interrupts (irqfd writes, or INTx and
 * KVM_SIGNAL_MSI without them).
 */
static const struct sandbox_rule io_rules[] = {
    ALLOW(readv),
    ALLOW(writev),
    ALLOW(pread64),
    ALLOW(pwrite64),
    ALLOW(preadv),
    ALLOW(pwritev),
    ALLOW(preadv2),
    ALLOW(pwritev2),
    ALLOW(fdatasync),
    ALLOW(fsync),
    ALLOW(fallocate),
    ALLOW(getrandom),
    ALLOW(io_uring_enter),
    ALLOW_IOCTL(TUNSETOFFLOAD),
    ALLOW_IOCTL(TUNSETVNETHDRSZ),
    ALLOW_IOCTL(KVM_IRQ_LINE),
    ALLOW_IOCTL(KVM_SIGNAL_MSI),
};
GROUP(io, io_rules);

/*
 * Main thread after start-up: console input and terminal modes, signalfd,
 * joining the other threads, tearing the VM down (irqfd and ioeventfd
 * deassign, closes, unmaps), the teardown child (fork, pipe, /dev/null) and
 * the exit report (mincore).
 * Console input reaches the serial port here, which raises its IRQ.
 */
static const struct sandbox_rule main_rules[] = {
    /* --console socket=: clients come and go; the socket file goes at exit */
    ALLOW(accept4),
    ALLOW(unlink),
    ALLOW(close),
    ALLOW(fcntl),
    ALLOW(fstat),
    ALLOW(newfstatat),
    ALLOW(lseek),
    ALLOW(mincore),
    ALLOW(pipe2),
    ALLOW(openat),
    ALLOW(dup2),
    ALLOW(dup3),
    ALLOW(wait4),
    ALLOW_IF(clone, 0, CLONE_THREAD, 0),
    ALLOW(set_robust_list),  /* the fork child resets its robust-futex list */
    ALLOW_IOCTL(TCSETSW),
    ALLOW_IOCTL(TCSETSF),
    ALLOW_IOCTL(KVM_IRQ_LINE),
    ALLOW_IOCTL(KVM_IRQFD),
    ALLOW_IOCTL(KVM_IOEVENTFD),
    ALLOW_IOCTL(TUNSETOFFLOAD),   /* virtio-net's reset at teardown clears the TAP's offloads */
};
GROUP(main_thread, main_rules);

/*
 * glibc tries clone3 first and falls back to clone on ENOSYS; clone3 passes
 * its flags in memory, where a filter cannot see them.
 */
static const struct sandbox_rule no_clone3_rules[] = {
    FAIL(clone3, ENOSYS),
};
GROUP(no_clone3, no_clone3_rules);

/*
 * Building a VM again (--on-reboot restart): opening the kernel, disks,
 * TAPs and /dev/kvm, creating the VM, its memory, devices and threads.
 */
static const struct sandbox_rule build_rules[] = {
    ALLOW(pread64),
    ALLOW(access),
    ALLOW(faccessat),
    ALLOW(faccessat2),
    ALLOW(flock),
    ALLOW(readlink),
    ALLOW_IF(madvise, 2, ~0ull, MADV_DONTFORK),
    ALLOW_IF(madvise, 2, ~0ull, MADV_DONTDUMP),
    ALLOW(eventfd2),
    ALLOW(epoll_create1),
    ALLOW(signalfd4),
    ALLOW(clone),
    ALLOW(set_robust_list),
    ALLOW(rseq),
    /* The next VM's threads install their own filters on top of this one. */
    ALLOW_IF(prctl, 0, ~0ull, PR_SET_NO_NEW_PRIVS),
    ALLOW_IF(seccomp, 0, ~0ull, SECCOMP_SET_MODE_FILTER),
    ALLOW_IF(seccomp, 0, ~0ull, SECCOMP_GET_ACTION_AVAIL),
    ALLOW(prlimit64),
    ALLOW(io_uring_setup),
    ALLOW(io_uring_register),
    ALLOW_IOCTL(KVM_GET_API_VERSION),
    ALLOW_IOCTL(KVM_CHECK_EXTENSION),
    ALLOW_IOCTL(KVM_GET_VCPU_MMAP_SIZE),
    ALLOW_IOCTL(KVM_CREATE_VM),
    ALLOW_IOCTL(KVM_SET_TSS_ADDR),
    ALLOW_IOCTL(KVM_SET_IDENTITY_MAP_ADDR),
    ALLOW_IOCTL(KVM_CREATE_IRQCHIP),
    ALLOW_IOCTL(KVM_CREATE_PIT2),
    ALLOW_IOCTL(KVM_SET_USER_MEMORY_REGION),
    ALLOW_IOCTL(KVM_CREATE_VCPU),
    ALLOW_IOCTL(KVM_GET_SUPPORTED_CPUID),
    ALLOW_IOCTL(KVM_SET_CPUID2),
    ALLOW_IOCTL(KVM_SET_MSRS),
    ALLOW_IOCTL(KVM_SET_FPU),
    ALLOW_IOCTL(KVM_GET_LAPIC),
    ALLOW_IOCTL(KVM_SET_LAPIC),
    ALLOW_IOCTL(KVM_GET_SREGS),
    ALLOW_IOCTL(KVM_SET_SREGS),
    ALLOW_IOCTL(KVM_SET_REGS),
    ALLOW_IOCTL(TUNSETIFF),
    ALLOW_IOCTL(BLKGETSIZE64),
};
GROUP(build, build_rules);

/*
 * API thread: HTTP over the Unix socket it was given (accept, receive, send,
 * poll), and pause/resume (kvmclock, kicking vCPUs with tgkill).
 */
static const struct sandbox_rule api_rules[] = {
    ALLOW(accept),
    ALLOW(accept4),
    ALLOW(recvfrom),
    ALLOW(recvmsg),
    ALLOW(sendto),
    ALLOW(sendmsg),
    ALLOW(shutdown),
    ALLOW(getsockopt),
    ALLOW(setsockopt),
    ALLOW(getsockname),
    ALLOW(getpeername),
    ALLOW(select),
    ALLOW(pselect6),
    ALLOW(close),
    ALLOW(fcntl),
    /* stop: the socket file is removed only if it is still the one we bound */
    ALLOW(newfstatat),
    ALLOW(unlink),
    /* libmicrohttpd's polling thread and the power-off watchdog are created here */
    ALLOW_IF(clone, 0, CLONE_THREAD, CLONE_THREAD),
    ALLOW(set_robust_list),
    ALLOW(rseq),
    ALLOW_IF(prctl, 0, ~0ull, PR_SET_NAME),
    /* metrics read /proc/self/task/N/stat; snapshots write their files */
    ALLOW(openat),
    ALLOW(lseek),             /* libmicrohttpd, on each response */
    ALLOW(mincore),           /* metrics: guest RAM touched */
    ALLOW(getdents64),        /* metrics: the vCPU threads in /proc/self/task */
    ALLOW(getrandom),         /* snapshot: the id tying memory to state */
    ALLOW(timerfd_settime),   /* PUT /balloon/stats arms the statistics timer */
    ALLOW(timerfd_gettime),
    ALLOW(unlinkat),          /* snapshot: a temporary file after a failure */
    /* PUT /snapshot: the VM is paused; its state and memory go to files */
    ALLOW(mkdir),
    ALLOW(mkdirat),
    ALLOW(rename),
    ALLOW(renameat),
    ALLOW(renameat2),
    ALLOW(fsync),
    ALLOW(fdatasync),
    ALLOW(ftruncate),
    ALLOW(pwrite64),
    ALLOW(pread64),           /* snapshot: touched pages from /proc/self/pagemap */
    ALLOW(fstat),
    ALLOW_IOCTL(KVM_RUN),     /* completes a parked vCPU's pending I/O before saving */
    ALLOW_IOCTL(KVM_CHECK_EXTENSION),
    ALLOW_IOCTL(KVM_GET_MSR_INDEX_LIST),
    ALLOW_IOCTL(KVM_GET_REGS),
    ALLOW_IOCTL(KVM_GET_SREGS),
    ALLOW_IOCTL(KVM_GET_FPU),
    ALLOW_IOCTL(KVM_GET_XSAVE),
    ALLOW_IOCTL(KVM_GET_XSAVE2),
    ALLOW_IOCTL(KVM_GET_XCRS),
    ALLOW_IOCTL(KVM_GET_MSRS),
    ALLOW_IOCTL(KVM_GET_LAPIC),
    ALLOW_IOCTL(KVM_GET_VCPU_EVENTS),
    ALLOW_IOCTL(KVM_GET_DEBUGREGS),
    ALLOW_IOCTL(KVM_GET_MP_STATE),
    ALLOW_IOCTL(KVM_GET_TSC_KHZ),
    ALLOW_IOCTL(KVM_GET_IRQCHIP),
    ALLOW_IOCTL(KVM_GET_PIT2),
    ALLOW_IOCTL(KVM_GET_CLOCK),
    ALLOW_IOCTL(KVM_SET_CLOCK),
    /*
     * PUT /migrate: its thread (created here, so under this filter) connects
     * to the destination and logs dirty pages (slots re-registered with
     * KVM_MEM_LOG_DIRTY_PAGES, bitmaps fetched). The destination does its
     * part before any filter is installed.
     */
    ALLOW_IF(socket, 0, ~0ull, AF_INET),
    ALLOW_IF(socket, 0, ~0ull, AF_INET6),
    /* glibc's resolver asks nscd over AF_UNIX first; refused, it resolves by itself. */
    { .nr = SCMP_SYS(socket), .op = SANDBOX_ARG_MASKED, .arg = 0, .mask = ~0ull,
      .value = AF_UNIX, .fail_errno = EACCES },
    ALLOW(connect),
    ALLOW_IOCTL(KVM_SET_USER_MEMORY_REGION),
    ALLOW_IOCTL(KVM_GET_DIRTY_LOG),
};
GROUP(api, api_rules);

/*
 * AddressSanitizer's runtime (the unit-asan tier) maps shadow memory and
 * checks the signal stack inside ordinary calls; a sanitized build allows
 * that too. Not compiled into a normal build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_GROUP &sanitizer,
static const struct sandbox_rule sanitizer_rules[] = {
    ALLOW(sigaltstack),
    ALLOW(sched_getaffinity),
    ALLOW_IF(madvise, 2, ~0ull, MADV_NOHUGEPAGE),
    ALLOW_IF(madvise, 2, ~0ull, MADV_DONTDUMP),
};
GROUP(sanitizer, sanitizer_rules);
#else
#define SANITIZER_GROUP
#endif

static const struct sandbox_group *const main_policy[] = {
    &common, &evloop, &main_thread, &no_clone3, SANITIZER_GROUP NULL,
};
static const struct sandbox_group *const vcpu_policy[] = { &common, &vcpu, SANITIZER_GROUP NULL };
static const struct sandbox_group *const io_policy[] = { &common, &evloop, &io, SANITIZER_GROUP NULL };
static const struct sandbox_group *const api_policy[] = { &common, &evloop, &api, &no_clone3,
                                                          SANITIZER_GROUP NULL };
/*
 * Threads inherit their creator's filter and stack their own on it, and the
 * strictest answer wins: so the threads of the next VM can only do what
 * this filter also allows, which must therefore hold every class.
 */
static const struct sandbox_group *const restart_policy[] = {
    &common, &evloop, &main_thread, &no_clone3, &build, &vcpu, &io, &api, SANITIZER_GROUP NULL,
};

const struct sandbox_group *const *sandbox_policy(enum sandbox_class cls)
{
    switch (cls) {
    case SANDBOX_MAIN:
        return main_policy;
    case SANDBOX_MAIN_RESTART:
        return restart_policy;
    case SANDBOX_VCPU:
        return vcpu_policy;
    case SANDBOX_IO:
        return io_policy;
    case SANDBOX_API:
        return api_policy;
    case SANDBOX_NR_CLASSES:
        break;
    }
    return NULL;
}
