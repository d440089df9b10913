// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for security/seccomp: each case installs a thread class's
 * filter in a forked child (a filter cannot be removed, so never in the test
 * process itself) and reports back through the child's exit status. A
 * forbidden call must end the child with SIGSYS; allowed calls, including
 * the I/O thread's real disk engines, must work; /proc shows the filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/block.h"
#include "core/evloop.h"
#include "security/seccomp.h"
#include "util/log.h"

/*
 * Checks inside the child: cmocka's asserts would unwind into a copy of the
 * test runner, so a failed check exits with its line number instead.
 */
#define CHILD_CHECK(cond)                 \
    do {                                  \
        if (!(cond))                      \
            _exit(2 + __LINE__ % 250);    \
    } while (0)

typedef void (*child_fn)(void *arg);

/* Runs fn in a child; returns its wait status. */
static int in_child(child_fn fn, void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A seccomp kill is a core-dumping signal: no core files from the tests. */
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        fn(arg);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exited_ok(int status)
{
    if (WIFSIGNALED(status))
        print_message("child killed by signal %d\n", WTERMSIG(status));
    else if (WEXITSTATUS(status))
        print_message("child check failed, exit code %d (line %% 250 + 2)\n", WEXITSTATUS(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void assert_killed_by_seccomp(int status)
{
    if (WIFEXITED(status))
        print_message("child exited with %d instead of dying\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void install_or_die(enum sandbox_class cls, enum sandbox_mode mode)
{
    char err[256] = "";
    int ret = sandbox_install(cls, mode, err, sizeof(err));
    if (ret) {
        fprintf(stderr, "sandbox_install(%s): %s\n", sandbox_class_name(cls), err);
        _exit(1);
    }
}

/* The "Seccomp:" and "Seccomp_filters:" values of an already open /proc status file. */
static void read_seccomp_status(int fd, int *mode, int *filters)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    CHILD_CHECK(n > 0);
    buf[n] = 0;
    const char *m = strstr(buf, "\nSeccomp:");
    const char *f = strstr(buf, "\nSeccomp_filters:");
    CHILD_CHECK(m && f);
    *mode = atoi(m + strlen("\nSeccomp:"));
    *filters = atoi(f + strlen("\nSeccomp_filters:"));
}

/* What every class must still be able to do: glibc's allocator, locks, clocks, pipes, signals. */
static void common_calls_work(const int fds[2])
{
    for (size_t size = 16; size <= (8u << 20); size *= 8) {
        char *p = malloc(size);
        CHILD_CHECK(p);
        memset(p, 0xa5, size);
        free(p);
    }
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    CHILD_CHECK(pthread_mutex_lock(&lock) == 0 && pthread_mutex_unlock(&lock) == 0);
    struct timespec ts;
    CHILD_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    CHILD_CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0);
    struct timespec short_nap = { 0, 1000 };
    CHILD_CHECK(nanosleep(&short_nap, NULL) == 0);
    CHILD_CHECK(write(fds[1], "x", 1) == 1);
    char c;
    CHILD_CHECK(read(fds[0], &c, 1) == 1 && c == 'x');
    CHILD_CHECK(getpid() > 0);
    /* A kick to ourselves, as vcpu_kick() does to a sibling. */
    struct sigaction ign = { .sa_handler = SIG_IGN };
    CHILD_CHECK(sigaction(SIGUSR1, &ign, NULL) == 0);
    CHILD_CHECK(raise(SIGUSR1) == 0);
    sigset_t set;
    sigemptyset(&set);
    CHILD_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    /* A guest can make any thread log a warning; logging asks isatty(stderr). */
    log_warn("test_seccomp", "a warning from a thread under the %s filter", "class");
    isatty(STDIN_FILENO);
    /* Anonymous read-write memory, as malloc and the kvm_run mapping need. */
    void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(m != MAP_FAILED);
    CHILD_CHECK(madvise(m, 1 << 16, MADV_DONTNEED) == 0);
    CHILD_CHECK(munmap(m, 1 << 16) == 0);
}

struct class_case {
    enum sandbox_class cls;
    enum sandbox_mode mode;
};

static void child_status_and_common(void *arg)
{
    const struct class_case *cc = arg;
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    int fds[2];
    CHILD_CHECK(pipe(fds) == 0);   /* before the filter: not every class may create fds */
    install_or_die(cc->cls, cc->mode);
    int mode = -1, filters = -1;
    read_seccomp_status(fd, &mode, &filters);
    if (cc->mode == SANDBOX_OFF) {
        CHILD_CHECK(mode == 0 && filters == 0);
    } else {
        CHILD_CHECK(mode == 2);
        CHILD_CHECK(filters == 1);
    }
    common_calls_work(fds);
}

static void every_class_installs_and_shows_in_proc(void **state)
{
    (void)state;
    for (int cls = 0; cls < SANDBOX_NR_CLASSES; cls++) {
        struct class_case cc = { (enum sandbox_class)cls, SANDBOX_ON };
        print_message("class %s\n", sandbox_class_name(cc.cls));
        assert_exited_ok(in_child(child_status_and_common, &cc));
    }
}

static void off_installs_nothing(void **state)
{
    (void)state;
    struct class_case cc = { SANDBOX_VCPU, SANDBOX_OFF };
    assert_exited_ok(in_child(child_status_and_common, &cc));
}

/* ---- forbidden calls ---- */

enum forbidden_call {
    CALL_EXECVE,
    CALL_SOCKET,
    CALL_OPENAT,
    CALL_PTRACE,
    CALL_MMAP_EXEC,
    CALL_MPROTECT_EXEC,
    CALL_IOCTL_TUNSETIFF,
    CALL_IOCTL_KVM_RUN,
    CALL_IOCTL_KVM_CREATE_VM,
    CALL_TGKILL_OTHER,
    CALL_THREAD,
    CALL_MADVISE_DONTFORK,
    CALL_X32_GETPID,
    CALL_SOCKET_PACKET,
};

static const char *const call_names[] = {
    "execve", "socket", "openat", "ptrace", "mmap(PROT_EXEC)", "mprotect(PROT_EXEC)",
    "ioctl(TUNSETIFF)", "ioctl(KVM_RUN)", "ioctl(KVM_CREATE_VM)", "tgkill(other process)",
    "pthread_create", "madvise(MADV_DONTFORK)", "x32 getpid", "socket(AF_PACKET)",
};

static void *idle_thread(void *arg)
{
    return arg;
}

/* Makes the call; returns only when the filter let it through. */
static void make_call(enum forbidden_call call)
{
    static char *const argv[] = { "/bin/true", NULL };
    char ifr[64];
    void *m;
    pthread_t th;
    switch (call) {
    case CALL_EXECVE:
        execve(argv[0], argv, NULL);
        break;
    case CALL_SOCKET:
        socket(AF_INET, SOCK_STREAM, 0);
        break;
    case CALL_SOCKET_PACKET:
        socket(AF_PACKET, SOCK_RAW, 0);
        break;
    case CALL_OPENAT:
        open("/etc/hostname", O_RDONLY);
        break;
    case CALL_PTRACE:
        syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
        break;
    case CALL_MMAP_EXEC:
        mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        break;
    case CALL_MPROTECT_EXEC:
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHILD_CHECK(m != MAP_FAILED);
        mprotect(m, 4096, PROT_READ | PROT_EXEC);
        break;
    case CALL_IOCTL_TUNSETIFF:
        memset(&ifr, 0, sizeof(ifr));
        ioctl(-1, TUNSETIFF, &ifr);
        break;
    case CALL_IOCTL_KVM_RUN:
        ioctl(-1, KVM_RUN, 0);
        break;
    case CALL_IOCTL_KVM_CREATE_VM:
        ioctl(-1, KVM_CREATE_VM, 0);
        break;
    case CALL_TGKILL_OTHER:
        syscall(SYS_tgkill, 1, 1, 0);
        break;
    case CALL_THREAD:
        if (pthread_create(&th, NULL, idle_thread, NULL) == 0)
            pthread_join(th, NULL);
        break;
    case CALL_MADVISE_DONTFORK:
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHILD_CHECK(m != MAP_FAILED);
        madvise(m, 4096, MADV_DONTFORK);
        break;
    case CALL_X32_GETPID:
        /* getpid is allowed, but not through the x32 ABI's numbers. */
        syscall(0x40000000 | SYS_getpid);
        break;
    }
}

struct call_case {
    enum sandbox_class cls;
    enum sandbox_mode mode;
    enum forbidden_call call;
};

static void child_call(void *arg)
{
    const struct call_case *cc = arg;
    install_or_die(cc->cls, cc->mode);
    make_call(cc->call);
}

static void forbidden_calls_kill_the_process(void **state)
{
    (void)state;
    static const struct { enum sandbox_class cls; enum forbidden_call call; } cases[] = {
        { SANDBOX_VCPU, CALL_EXECVE },
        { SANDBOX_VCPU, CALL_SOCKET },
        { SANDBOX_VCPU, CALL_OPENAT },
        { SANDBOX_VCPU, CALL_PTRACE },
        { SANDBOX_VCPU, CALL_MMAP_EXEC },
        { SANDBOX_VCPU, CALL_MPROTECT_EXEC },
        { SANDBOX_VCPU, CALL_IOCTL_TUNSETIFF },
        { SANDBOX_VCPU, CALL_IOCTL_KVM_CREATE_VM },
        { SANDBOX_VCPU, CALL_TGKILL_OTHER },
        { SANDBOX_VCPU, CALL_THREAD },
        { SANDBOX_VCPU, CALL_MADVISE_DONTFORK },
        { SANDBOX_VCPU, CALL_X32_GETPID },
        { SANDBOX_IO, CALL_EXECVE },
        { SANDBOX_IO, CALL_SOCKET },
        { SANDBOX_IO, CALL_OPENAT },
        { SANDBOX_IO, CALL_IOCTL_KVM_RUN },
        { SANDBOX_IO, CALL_IOCTL_TUNSETIFF },
        { SANDBOX_IO, CALL_MMAP_EXEC },
        { SANDBOX_MAIN, CALL_EXECVE },
        { SANDBOX_MAIN, CALL_SOCKET },
        { SANDBOX_MAIN, CALL_IOCTL_KVM_RUN },
        { SANDBOX_MAIN, CALL_IOCTL_KVM_CREATE_VM },
        { SANDBOX_MAIN, CALL_THREAD },
        { SANDBOX_MAIN, CALL_PTRACE },
        { SANDBOX_API, CALL_EXECVE },
        /* TCP sockets are the API's (PUT /migrate connects); others are not. */
        { SANDBOX_API, CALL_SOCKET_PACKET },
        /* KVM_RUN and openat are the API's (snapshots, metrics); these are not. */
        { SANDBOX_API, CALL_IOCTL_KVM_CREATE_VM },
        { SANDBOX_API, CALL_IOCTL_TUNSETIFF },
        { SANDBOX_API, CALL_PTRACE },
        { SANDBOX_API, CALL_MMAP_EXEC },
        { SANDBOX_MAIN_RESTART, CALL_EXECVE },
        { SANDBOX_MAIN_RESTART, CALL_SOCKET_PACKET },
        { SANDBOX_MAIN_RESTART, CALL_PTRACE },
        { SANDBOX_MAIN_RESTART, CALL_MMAP_EXEC },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct call_case cc = { cases[i].cls, SANDBOX_ON, cases[i].call };
        print_message("%s: %s\n", sandbox_class_name(cc.cls), call_names[cc.call]);
        assert_killed_by_seccomp(in_child(child_call, &cc));
    }
}

/* In log mode the same call goes through (the kernel logs it). */
static void log_mode_lets_calls_through(void **state)
{
    (void)state;
    static const enum forbidden_call calls[] = { CALL_SOCKET, CALL_IOCTL_KVM_CREATE_VM, CALL_OPENAT };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        struct call_case cc = { SANDBOX_VCPU, SANDBOX_LOG, calls[i] };
        assert_exited_ok(in_child(child_call, &cc));
    }
}

/* ---- allowed calls that the argument checks must not catch ---- */

static void child_vcpu_ioctls(void *arg)
{
    (void)arg;
    install_or_die(SANDBOX_VCPU, SANDBOX_ON);
    /* No real fds here: EBADF proves the filter let the request through. */
    static const unsigned long allowed[] = {
        KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_IRQ_LINE, KVM_SET_GSI_ROUTING,
        KVM_IRQFD, KVM_SIGNAL_MSI, KVM_IOEVENTFD, TCSETS,
    };
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        CHILD_CHECK(ioctl(-1, allowed[i], NULL) < 0 && errno == EBADF);
}

static void vcpu_ioctls_pass(void **state)
{
    (void)state;
    assert_exited_ok(in_child(child_vcpu_ioctls, NULL));
}

static void child_main_forks(void *arg)
{
    (void)arg;
    install_or_die(SANDBOX_MAIN, SANDBOX_ON);
    /* The asynchronous KVM teardown forks a child that opens /dev/null. */
    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        _exit(fd >= 0 && dup2(fd, 1) == 1 ? 0 : 1);
    }
    int status;
    CHILD_CHECK(waitpid(pid, &status, 0) == pid);
    CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void main_class_may_fork(void **state)
{
    (void)state;
    assert_exited_ok(in_child(child_main_forks, NULL));
}

/* A thread of a restarted VM: installs its own class on top of the inherited filter. */
static void *stacked_vcpu_thread(void *arg)
{
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char err[256];
    if (sandbox_install(SANDBOX_VCPU, SANDBOX_ON, err, sizeof(err)) < 0)
        return NULL;
    int mode = -1, filters = -1;
    read_seccomp_status(fd, &mode, &filters);
    if (mode != 2 || filters != 2)
        return NULL;
    if (!(ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF))
        return NULL;
    return arg;
}

static void child_restart_threads(void *arg)
{
    (void)arg;
    install_or_die(SANDBOX_MAIN_RESTART, SANDBOX_ON);
    /* What building the next VM needs: files, eventfds, epoll, threads. */
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    close(fd);
    struct evloop loop;
    CHILD_CHECK(evloop_init(&loop) == 0);
    evloop_destroy(&loop);
    pthread_t th;
    static int token;
    void *result = NULL;
    CHILD_CHECK(pthread_create(&th, NULL, stacked_vcpu_thread, &token) == 0);
    CHILD_CHECK(pthread_join(th, &result) == 0);
    CHILD_CHECK(result == &token);
}

static void restart_class_builds_threads_that_stack_filters(void **state)
{
    (void)state;
    assert_exited_ok(in_child(child_restart_threads, NULL));
}

/* ---- the I/O thread's real disk engines under its filter ---- */

static void on_done(struct block_req *req, int result)
{
    *(int *)req->opaque = result;
}

static void on_ready(void *opaque)
{
    block_backend_complete(*(struct block_backend **)opaque);
}

/* Submits and waits for one request; returns its result. */
static int io_request(struct block_backend *be, enum block_op op, uint64_t off, void *buf,
                      size_t len)
{
    struct iovec iov = { buf, len };
    int result = 1;
    struct block_req req = {
        .op = op, .offset = off, .len = len, .iov = buf ? &iov : NULL, .iovcnt = buf ? 1 : 0,
        .done = on_done, .opaque = &result,
    };
    CHILD_CHECK(block_backend_submit(be, &req) == 0);
    block_backend_drain(be);
    CHILD_CHECK(result != 1);
    return result;
}

static void child_disk_io(void *arg)
{
    enum disk_io engine = *(enum disk_io *)arg;
    char path[] = "/tmp/casulo-seccomp-disk.XXXXXX";
    int tmp = mkstemp(path);
    CHILD_CHECK(tmp >= 0);
    CHILD_CHECK(ftruncate(tmp, 1 << 20) == 0);
    close(tmp);
    char err[256];
    struct block_file file;
    CHILD_CHECK(block_file_open(&file, path, false, false, err, sizeof(err)) == 0);
    unlink(path);
    struct evloop loop;
    CHILD_CHECK(evloop_init(&loop) == 0);
    struct block_backend *be = NULL;
    if (block_backend_create(&be, &file, engine, 8, &loop, on_ready, &be, err, sizeof(err)) < 0)
        _exit(77);   /* io_uring unavailable here */

    install_or_die(SANDBOX_IO, SANDBOX_ON);
    static uint8_t out[8192], in[8192];
    memset(out, 0x5a, sizeof(out));
    CHILD_CHECK(io_request(be, BLOCK_OP_WRITE, 4096, out, sizeof(out)) == 0);
    CHILD_CHECK(io_request(be, BLOCK_OP_FLUSH, 0, NULL, 0) == 0);
    CHILD_CHECK(io_request(be, BLOCK_OP_READ, 4096, in, sizeof(in)) == 0);
    CHILD_CHECK(memcmp(in, out, sizeof(in)) == 0);
    CHILD_CHECK(io_request(be, BLOCK_OP_DISCARD, 4096, NULL, 4096) == 0);
    CHILD_CHECK(io_request(be, BLOCK_OP_WRITE_ZEROES, 8192, NULL, 4096) == 0);
    CHILD_CHECK(io_request(be, BLOCK_OP_READ, 8192, in, 4096) == 0);
    for (size_t i = 0; i < 4096; i++)
        CHILD_CHECK(in[i] == 0);
    /* virtio-rng and virtio-net's offloads. */
    uint8_t rnd[64];
    CHILD_CHECK(getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd));
    CHILD_CHECK(ioctl(-1, TUNSETOFFLOAD, 0UL) < 0 && errno == EBADF);
    CHILD_CHECK(ioctl(-1, TUNSETVNETHDRSZ, NULL) < 0 && errno == EBADF);
}

static void io_class_runs_the_disk_engines(void **state)
{
    (void)state;
    static const enum disk_io engines[] = { DISK_IO_SYNC, DISK_IO_URING };
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        enum disk_io engine = engines[i];
        int status = in_child(child_disk_io, &engine);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            print_message("io_uring unavailable here: that engine not run\n");
            continue;
        }
        assert_exited_ok(status);
    }
}

/* ---- small pure parts ---- */

static void parses_modes(void **state)
{
    (void)state;
    enum sandbox_mode m = SANDBOX_OFF;
    assert_int_equal(sandbox_parse_mode("on", &m), 0);
    assert_int_equal(m, SANDBOX_ON);
    assert_int_equal(sandbox_parse_mode("log", &m), 0);
    assert_int_equal(m, SANDBOX_LOG);
    assert_int_equal(sandbox_parse_mode("off", &m), 0);
    assert_int_equal(m, SANDBOX_OFF);
    m = SANDBOX_LOG;
    assert_int_equal(sandbox_parse_mode("ON", &m), -EINVAL);
    assert_int_equal(sandbox_parse_mode("", &m), -EINVAL);
    assert_int_equal(sandbox_parse_mode("kill", &m), -EINVAL);
    assert_int_equal(sandbox_parse_mode(NULL, &m), -EINVAL);
    assert_int_equal(m, SANDBOX_LOG);
    assert_string_equal(sandbox_mode_name(SANDBOX_LOG), "log");
    assert_string_equal(sandbox_class_name(SANDBOX_IO), "io");
    assert_string_equal(sandbox_class_name((enum sandbox_class)99), "unknown");
}

static void child_bad_class(void *arg)
{
    (void)arg;
    char err[256] = "";
    CHILD_CHECK(sandbox_install((enum sandbox_class)99, SANDBOX_ON, err, sizeof(err)) == -EINVAL);
    CHILD_CHECK(err[0] != 0);
    /* Nothing was installed: a call no class allows still works. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHILD_CHECK(fd >= 0);
    close(fd);
}

static void unknown_class_is_refused(void **state)
{
    (void)state;
    assert_exited_ok(in_child(child_bad_class, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_modes),
        cmocka_unit_test(unknown_class_is_refused),
        cmocka_unit_test(every_class_installs_and_shows_in_proc),
        cmocka_unit_test(off_installs_nothing),
        cmocka_unit_test(forbidden_calls_kill_the_process),
        cmocka_unit_test(log_mode_lets_calls_through),
        cmocka_unit_test(vcpu_ioctls_pass),
        cmocka_unit_test(main_class_may_fork),
        cmocka_unit_test(restart_class_builds_threads_that_stack_filters),
        cmocka_unit_test(io_class_runs_the_disk_engines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
