// SPDX-License-Identifier: Apache-2.0
/*
 * `casulo run`: parse, validate, create the VM, run it until it stops, and
 * turn the stop reason into an exit status and one line on stderr. With
 * --on-reboot restart a guest reboot builds the VM again from the same
 * configuration. With --no-start ("start": false) only the API runs until a
 * client configures the VM and asks for it to start (PUT /vm/start).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/pending_vm.h"
#include "api/server.h"
#include "arch/x86/cpu.h"
#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "migration/migration.h"
#include "snapshot/config.h"
#include "util/log.h"

/*
 * The console of the running VM, for the fatal-signal handler only: a signal
 * handler cannot be handed context, so this one pointer is process state.
 */
static struct console *volatile fatal_console;

static void fatal_signal(int sig)
{
    struct console *con = fatal_console;
    if (con)
        console_restore_tty(con);
    static const char msg[] = "casulo: fatal signal, terminal restored\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_process_signals(void)
{
    static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT };
    struct sigaction sa = { .sa_handler = fatal_signal, .sa_flags = SA_RESETHAND };
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        sigaction(fatal[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /*
     * SIGINT/SIGTERM/SIGHUP are taken through a signalfd once the VM runs;
     * block them now so one that arrives while the VM is being built (the
     * terminal may already be in raw mode) waits for it instead of killing us.
     */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
}

/* A stock Linux kernel cannot boot on KVM-PVM: say so before minutes of emulation. */
static void warn_if_pvm(const struct boot_info *boot)
{
    if (boot->linux_kernel && x86_host_is_pvm())
        log_warn(NULL, "this host's /dev/kvm has no VT-x/AMD-V (KVM-PVM or nested without "
                       "virtualization): guest kernel mode runs in KVM's instruction emulator, "
                       "and a stock Linux kernel will not boot here (tiny test guests do; see "
                       "'make run' for the nested demo)");
}

/* Prints each line of a multi-line report as its own log line. */
static void log_lines(const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int n = nl ? (int)(nl - text) : (int)strlen(text);
        log_notice(NULL, "%.*s", n, text);
        text += n + (nl ? 1 : 0);
    }
}

/* Counters for --log-level info, once the VM has stopped. */
static void log_exit_stats(struct vm *vm)
{
    if (log_get_level() < LOG_INFO)
        return;
    log_info(NULL, "guest RAM touched: %llu KiB",
             (unsigned long long)(guest_mem_resident_bytes(&vm->mem) >> 10));
    uint64_t io = 0, mmio = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        io += vm->vcpus[i].exits_io;
        mmio += vm->vcpus[i].exits_mmio;
    }
    log_info(NULL, "userspace exits: %llu port I/O, %llu MMIO", (unsigned long long)io,
             (unsigned long long)mmio);
}

/* One line (and a crash dump) saying why the VM stopped; returns the exit status. */
static int report_exit(const struct vm *vm, bool restart)
{
    enum vm_exit_reason r = vm->exit_reason;
    switch (r) {
    case VM_EXIT_POWEROFF:
        log_info(NULL, "%s", vm->exit_detail);
        break;
    case VM_EXIT_REBOOT:
        log_notice(NULL, restart ? "guest requested reboot; restarting" : "guest requested reboot");
        break;
    case VM_EXIT_SIGNAL:
    case VM_EXIT_API_STOP:
    case VM_EXIT_CONSOLE_QUIT:
    case VM_EXIT_MIGRATED:
        log_notice(NULL, "%s", vm->exit_detail);
        break;
    default:
        /* The reason first, then the registers that explain it. */
        log_error(NULL, "%s: %s", vm_exit_reason_name(r), vm->exit_detail);
        log_lines(vm->crash_dump);
        break;
    }
    return vm_exit_status(r);
}

/* Runs a built VM until it stops; *restart says whether --on-reboot restart applies. */
static void run_built(struct vm *vm, const struct vm_config *cfg, bool *restart,
                      bool *main_sandboxed)
{
    fatal_console = &vm->console;
    vm->main_sandboxed = *main_sandboxed;
    vm_run(vm);
    *main_sandboxed = vm->main_sandboxed;
    fatal_console = NULL;
    *restart = vm->exit_reason == VM_EXIT_REBOOT && cfg->on_reboot == REBOOT_RESTART &&
               !atomic_load(&vm->stop_signal_seen);
}

/* Runs one VM; *restart says whether --on-reboot restart should build it again. */
static int run_once(const struct vm_config *cfg, const char *api_socket, bool *restart,
                    bool *main_sandboxed)
{
    struct vm vm;
    char err[512];
    *restart = false;
    /* An incoming VM: the stream's header is checked before anything is built. */
    struct mig_incoming *incoming = NULL;
    if (cfg->incoming && mig_incoming_accept(&incoming, cfg->incoming, cfg, err, sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        return 1;
    }
    if (vm_create(&vm, cfg, err, sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        mig_incoming_fail(incoming, err);
        mig_incoming_close(incoming);
        return 1;
    }
    if (incoming) {
        int ret = mig_incoming_receive(incoming, &vm, err, sizeof(err));
        mig_incoming_close(incoming);
        if (ret < 0) {
            log_error(NULL, "%s", err);
            vm_destroy(&vm);
            return 1;
        }
    }
    warn_if_pvm(&vm.boot);
    struct api_server api;
    if (api_socket && api_server_start_sandboxed(&api, api_socket, &api_vm_ops_kvm, &vm, cfg->seccomp, err,
                                                 sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        vm_destroy(&vm);
        return 1;
    }
    run_built(&vm, cfg, restart, main_sandboxed);
    /* Before vm_destroy: requests in progress finish against a VM that still exists. */
    if (api_socket)
        api_server_stop(&api);
    log_exit_stats(&vm);
    if (*restart)
        vm_destroy(&vm);
    else
        vm_destroy_in_background(&vm);
    return report_exit(&vm, *restart);
}

/*
 * PUT /vm/start, on the main thread: the same checks as `casulo run` makes
 * at startup, then the VM is built. A failure is the request's answer and
 * the VM stays NotStarted, so the client can fix the configuration.
 */
static int start_pending(struct run_options *opts, struct api_pending_vm *pending, struct vm *vm)
{
    char err[512];
    /* Whatever errno a check failed with, it is the configuration's fault: 400. */
    int ret = vm_config_validate(&opts->cfg, 0, err, sizeof(err)) < 0 ? -EINVAL : 0;
    if (!ret)
        ret = vm_create(vm, &opts->cfg, err, sizeof(err));
    if (ret < 0) {
        log_warn(NULL, "PUT /vm/start: %s", err);
        api_pending_vm_start_failed(pending, ret, err);
        return ret;
    }
    /* "log_level" and "log_format" may have come with PUT /vm/config. */
    log_set_format(opts->log_format);
    log_set_level(opts->log_level);
    warn_if_pvm(&vm->boot);
    api_pending_vm_started(pending, vm);
    return 0;
}

/*
 * Waits for PUT /vm/start (0: *vm is built), PUT /vm/stop or a stop signal
 * (1: *status is the exit status).
 */
static int wait_for_start(struct run_options *opts, struct api_pending_vm *pending, struct vm *vm,
                          int *status)
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    /* The signals are blocked (install_process_signals), so they queue for this fd. */
    int sfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
    if (sfd < 0) {
        log_error(NULL, "cannot watch for stop signals: %s", strerror(errno));
        *status = 1;
        return 1;
    }
    int ret = 1;
    for (;;) {
        struct pollfd fds[2] = { { .fd = pending->wake_fd, .events = POLLIN },
                                 { .fd = sfd, .events = POLLIN } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error(NULL, "waiting for PUT /vm/start: %s", strerror(errno));
            *status = 1;
            break;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t n = read(sfd, &si, sizeof(si));
            log_notice(NULL, "stopped by signal %s before the VM started",
                       n == sizeof(si) ? strsignal((int)si.ssi_signo) : "?");
            *status = vm_exit_status(VM_EXIT_SIGNAL);
            break;
        }
        if (!(fds[0].revents & POLLIN))
            continue;
        enum api_pending_request req = api_pending_vm_take(pending);
        if (req == API_PENDING_STOP) {
            log_notice(NULL, "stopped through the API before the VM started");
            *status = 0;
            break;
        }
        if (req == API_PENDING_START && start_pending(opts, pending, vm) == 0) {
            ret = 0;
            break;
        }
    }
    close(sfd);
    return ret;
}

/*
 * `casulo run --no-start` ("start": false): the API first, on a VM that
 * does not exist yet; the VM is built when PUT /vm/start asks, and the API
 * then keeps serving it, across --on-reboot restart too.
 */
static int run_pending(struct run_options *opts)
{
    const struct vm_config *cfg = &opts->cfg;
    struct api_pending_vm pending;
    char err[512];
    int ret = api_pending_vm_init(&pending, opts);
    if (ret < 0) {
        log_error(NULL, "cannot start the API: %s", strerror(-ret));
        return 1;
    }
    struct api_server api;
    if (api_server_start_sandboxed(&api, cfg->api_socket, &api_vm_ops_pending, &pending,
                                   cfg->seccomp, err, sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        api_pending_vm_destroy(&pending);
        return 1;
    }
    log_notice(NULL, "the VM is not started: configure it with PUT /vm/config and boot it with "
                     "PUT /vm/start on %s", cfg->api_socket);
    struct vm vm;
    int status = 0;
    if (wait_for_start(opts, &pending, &vm, &status) == 0) {
        bool restart = true, main_sandboxed = false, stopped_in_reboot = false;
        while (restart) {
            run_built(&vm, cfg, &restart, &main_sandboxed);
            log_exit_stats(&vm);
            if (restart && api_pending_vm_stop_requested(&pending)) {
                /* PUT /vm/stop while the guest was rebooting: it is not built again. */
                log_notice(NULL, "stopped through the API while the guest rebooted");
                stopped_in_reboot = true;
                restart = false;
            }
            if (!restart)
                break;
            status = report_exit(&vm, true);
            /* Requests in progress finish against the old VM before it goes. */
            api_pending_vm_detach(&pending);
            vm_destroy(&vm);
            if (vm_create(&vm, cfg, err, sizeof(err)) < 0) {
                log_error(NULL, "%s", err);
                api_pending_vm_shutdown(&pending);
                api_server_stop(&api);
                api_pending_vm_destroy(&pending);
                return 1;
            }
            api_pending_vm_attach(&pending, &vm);
            /* A PUT /vm/stop while there was no VM to stop applies to the new one. */
            if (api_pending_vm_stop_requested(&pending))
                vm_request_stop(&vm, VM_EXIT_API_STOP, "stopped through the API");
        }
        api_pending_vm_shutdown(&pending);
        api_server_stop(&api);
        api_pending_vm_detach(&pending);
        vm_destroy_in_background(&vm);
        status = stopped_in_reboot ? 0 : report_exit(&vm, false);
    } else {
        api_pending_vm_shutdown(&pending);
        api_server_stop(&api);
    }
    api_pending_vm_destroy(&pending);
    return status;
}

int cmd_run(int argc, char **argv)
{
    struct run_options opts;
    char err[512];
    enum run_parse_result r = run_options_parse(argc, argv, &opts, err, sizeof(err));
    /* Set first, so even a parse error is reported in the chosen format. */
    log_set_format(opts.log_format);
    int status = 0;
    switch (r) {
    case RUN_PARSE_HELP:
        run_options_usage(stdout);
        goto out;
    case RUN_PARSE_USAGE:
        log_error(NULL, "%s", err);
        status = 2;
        goto out;
    case RUN_PARSE_BAD_VALUE:
        log_error(NULL, "%s", err);
        status = 1;
        goto out;
    case RUN_PARSE_OK:
        break;
    }
    log_set_level(opts.log_level);
    /* A restored VM is the snapshot's, with the disks and nets given here replaced. */
    if (opts.cfg.restore_dir &&
        snapshot_config_merge(opts.cfg.restore_dir, &opts.cfg, opts.restore_given, err,
                              sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        status = 1;
        goto out;
    }
    /* A VM that waits for the API is checked when PUT /vm/start asks for it. */
    if (!opts.cfg.no_start && vm_config_validate(&opts.cfg, 0, err, sizeof(err)) < 0) {
        log_error(NULL, "%s", err);
        status = 1;
        goto out;
    }
    install_process_signals();
    if (vcpu_signals_init() < 0) {
        log_error(NULL, "cannot install the vCPU kick signal: %s", strerror(errno));
        status = 1;
        goto out;
    }
    if (opts.cfg.no_start) {
        status = run_pending(&opts);
        goto out;
    }
    bool restart = true, main_sandboxed = false, first = true;
    while (restart) {
        /* A VM that came by migration boots its kernel when it restarts, or stops. */
        if (!first && opts.cfg.incoming) {
            free(opts.cfg.incoming);
            opts.cfg.incoming = NULL;
            if (!opts.cfg.kernel_path) {
                log_notice(NULL, "the migrated guest rebooted and there is no --kernel to boot");
                break;
            }
        }
        first = false;
        status = run_once(&opts.cfg, opts.cfg.api_socket[0] ? opts.cfg.api_socket : NULL, &restart,
                          &main_sandboxed);
    }
out:
    vm_config_free(&opts.cfg);
    return status;
}
