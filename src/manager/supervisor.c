// SPDX-License-Identifier: Apache-2.0
/*
 * Supervision of the VMM processes: one `casulo run` per VM, started in its
 * own session (setsid) so it outlives the daemon, watched through a pidfd on
 * the daemon's event loop (no thread per VM), restarted by its policy with
 * a growing back-off, and adopted again by a restarted daemon.
 *
 * Adoption trusts what can be checked: the VM's API socket says which
 * process listens on it (SO_PEERCRED), /proc/PID/stat's start time tells
 * that process apart from a later one with the same pid, and the API must
 * answer. A VMM started just before the daemon died, before its run was
 * recorded, is found the same way, so a VM is never started twice.
 */
#include "manager/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "manager/accounting.h"
#include "manager/vmm_client.h"
#include "util/log.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define RESTART_BACKOFF_MIN_MS 1000
#define RESTART_BACKOFF_MAX_MS 30000
#define RESTART_STABLE_S       30   /* a run this long resets the back-off */
#define ADOPT_TIMEOUT_MS       2000
#define INCOMING_ASK_MS        1000

static int pidfd_open_pid(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void on_exit_event(void *opaque, uint32_t events);

static void watch(struct mgr *m, struct mgr_vm *vm)
{
    int ret = evloop_add(&m->loop, vm->pidfd, EPOLLIN, on_exit_event, vm);
    if (ret)
        log_error("serve", "VM '%s': cannot watch pid %d: %s", vm->name, (int)vm->pid,
                  strerror(-ret));
}

static void unwatch(struct mgr *m, struct mgr_vm *vm)
{
    if (vm->pidfd >= 0) {
        evloop_remove(&m->loop, vm->pidfd);
        close(vm->pidfd);
    }
    vm->pidfd = -1;
    vm->pid = 0;
    vm->child = false;
}

void mgr_sup_forget(struct mgr *m, struct mgr_vm *vm)
{
    unwatch(m, vm);
}

static void set_desired(struct mgr *m, struct mgr_vm *vm, bool running)
{
    vm->desired_running = running;
    int ret = mgr_store_vm_set_desired(&m->store, vm->name, running ? "running" : "stopped");
    if (ret)
        log_error("serve", "VM '%s': cannot record its desired state: %s", vm->name, strerror(-ret));
}

static void log_banner(const char *path, const char *what)
{
    FILE *f = fopen(path, "ae");
    if (!f)
        return;
    time_t now = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    fprintf(f, "--- casulo serve: %s at %s\n", what, when);
    fclose(f);
}

/* incoming: tcp:ADDR:PORT for a VM that arrives by live migration, else NULL. */
static int spawn(struct mgr *m, struct mgr_vm *vm, const char *incoming, struct mgr_result *r)
{
    char dir[PATH_MAX], cfg[PATH_MAX], api[PATH_MAX], console[2 * PATH_MAX + 16], vlog[PATH_MAX];
    mgr_vm_path(m, vm->name, NULL, dir, sizeof(dir));
    mgr_vm_path(m, vm->name, "vm.json", cfg, sizeof(cfg));
    mgr_vm_path(m, vm->name, "api.sock", api, sizeof(api));
    mgr_vm_path(m, vm->name, "vmm.log", vlog, sizeof(vlog));
    char clog[PATH_MAX], csock[PATH_MAX];
    mgr_vm_path(m, vm->name, "console.log", clog, sizeof(clog));
    mgr_vm_path(m, vm->name, "console.sock", csock, sizeof(csock));
    /* Clients attach to the socket (vm console, the dashboard); the log keeps everything. */
    snprintf(console, sizeof(console), "socket=%s,log=%s", csock, clog);
    char err[MGR_ERR_MAX];
    int ret = mgr_write_vm_json(m, vm, err, sizeof(err));
    if (ret) {
        mgr_fail(r, 500, "%s", err);
        return ret;
    }
    /* An incoming VM gets its RAM and state from the stream, not from a snapshot. */
    const char *snap = incoming ? NULL
                                : json_string_value(json_object_get(vm->config, "from_snapshot"));
    char *argv[16];
    int argc = 0;
    argv[argc++] = m->vmm_path;
    argv[argc++] = (char *)"run";
    argv[argc++] = (char *)"--config";
    argv[argc++] = cfg;
    argv[argc++] = (char *)"--api-socket";
    argv[argc++] = api;
    argv[argc++] = (char *)"--console";
    argv[argc++] = console;
    if (snap) {
        argv[argc++] = (char *)"--restore";
        argv[argc++] = (char *)snap;
    }
    if (incoming) {
        argv[argc++] = (char *)"--incoming";
        argv[argc++] = (char *)incoming;
    }
    argv[argc] = NULL;
    log_banner(vlog, incoming ? "waiting for the VM to arrive by live migration"
                              : snap ? "restoring the VM" : "starting the VM");

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, vlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* Its own session: the daemon's signals and terminal are not the VM's. */
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    extern char **environ;
    ret = -posix_spawn(&pid, m->vmm_path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (ret) {
        mgr_fail(r, 500, "cannot start %s: %s", m->vmm_path, strerror(-ret));
        return ret;
    }
    vm->pid = pid;
    vm->child = true;
    vm->pidfd = pidfd_open_pid(pid);
    if (vm->pidfd < 0) {
        /* Cannot happen for our own unreaped child, short of running out of fds. */
        ret = -errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        vm->pid = 0;
        mgr_fail(r, 500, "cannot watch the VMM process: %s", strerror(-ret));
        return ret;
    }
    if (mgr_proc_start_time(pid, &vm->pid_start) < 0)
        vm->pid_start = 0;
    vm->started_at = time(NULL);
    ret = mgr_store_run_begin(&m->store, vm->name, pid, vm->pid_start, vm->started_at, &vm->run_id);
    if (ret)
        log_error("serve", "VM '%s': cannot record its run (pid %d): %s", vm->name, (int)pid,
                  strerror(-ret));
    vm->state = incoming ? MGR_VM_INCOMING : MGR_VM_STARTING;
    vm->stats = (struct mgr_stats){ 0 };
    watch(m, vm);
    log_info("serve", "VM '%s': started, pid %d%s%s", vm->name, (int)pid,
             incoming ? ", incoming on " : "", incoming ? incoming : "");
    return 0;
}

int mgr_sup_start(struct mgr *m, struct mgr_vm *vm, struct mgr_result *r)
{
    if (vm->drop) {
        mgr_fail(r, 409, "VM '%s' was an incoming migration that did not arrive; it is being "
                 "removed", vm->name);
        return -ENOENT;
    }
    if (mgr_vm_has_process(vm)) {
        mgr_fail(r, 409, "VM '%s' is already %s", vm->name, mgr_vm_state_name(vm->state));
        return -EBUSY;
    }
    char err[MGR_ERR_MAX];
    if (mgr_account_check(m->mem_total, m->opts.overcommit, mgr_committed_memory(m, vm),
                          vm->memory_bytes, vm->name, err, sizeof(err)) < 0) {
        mgr_fail(r, 409, "%s", err);
        return -ENOSPC;
    }
    int ret = spawn(m, vm, NULL, r);
    if (ret)
        return ret;
    if (!vm->desired_running)
        set_desired(m, vm, true);
    return 0;
}

int mgr_sup_start_incoming(struct mgr *m, struct mgr_vm *vm, const char *listen,
                           struct mgr_result *r)
{
    char err[MGR_ERR_MAX];
    if (mgr_account_check(m->mem_total, m->opts.overcommit, mgr_committed_memory(m, vm),
                          vm->memory_bytes, vm->name, err, sizeof(err)) < 0) {
        mgr_fail(r, 409, "%s", err);
        return -ENOSPC;
    }
    /* Not desired running yet: the VM is not ours until it runs here. */
    return spawn(m, vm, listen, r);
}

/* The reason a run ended, for people: how it ended and the VMM's last words. */
static bool describe_exit(struct mgr *m, struct mgr_vm *vm, int status, int sig, char *buf,
                          size_t len)
{
    char vlog[PATH_MAX], last[200];
    mgr_vm_path(m, vm->name, "vmm.log", vlog, sizeof(vlog));
    mgr_log_reason(vlog, last, sizeof(last));
    bool failed;
    if (sig) {
        snprintf(buf, len, "killed by signal %s%s%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
                 last[0] ? ": " : "", last);
        failed = true;
    } else if (status >= 0) {
        snprintf(buf, len, "exited with status %d%s%s", status, last[0] ? ": " : "", last);
        failed = status != 0;
    } else {
        /* Not our child (adopted): no status, only the log. */
        snprintf(buf, len, "exited while not a child of this daemon%s%s", last[0] ? ": " : "", last);
        failed = strstr(last, "error") != NULL;
    }
    return failed;
}

static bool describe_failed(int status, int sig)
{
    return sig || status != 0;
}

static void ended(struct mgr *m, struct mgr_vm *vm, int status, int sig)
{
    bool failed = describe_exit(m, vm, status, sig, vm->exit_reason, sizeof(vm->exit_reason));
    int ret = mgr_store_run_end(&m->store, vm->run_id, time(NULL), sig ? 128 + sig : status,
                                vm->exit_reason);
    if (ret && ret != -ENOENT)
        log_error("serve", "VM '%s': cannot record the end of its run: %s", vm->name, strerror(-ret));
    int64_t lasted = time(NULL) - vm->started_at;
    vm->last_status = sig ? -1 : status;
    unwatch(m, vm);
    log_notice("serve", "VM '%s': %s", vm->name, vm->exit_reason);
    if (vm->state == MGR_VM_INCOMING) {
        /* It never ran here: the VM still lives on its source. */
        log_error("serve", "VM '%s': the incoming migration ended before the VM ran here (%s); "
                  "its definition is removed", vm->name, vm->exit_reason);
        vm->state = MGR_VM_STOPPED;
        vm->drop = true;
        return;
    }
    if (vm->busy && strcmp(vm->busy, "migration") == 0) {
        /* The migration worker decides: moved away (exit 0) or lost here. */
        vm->state = describe_failed(status, sig) ? MGR_VM_CRASHED : MGR_VM_STOPPED;
        return;
    }
    if (!vm->desired_running) {
        vm->state = MGR_VM_STOPPED;   /* it was asked to stop */
        return;
    }
    vm->state = failed ? MGR_VM_CRASHED : MGR_VM_STOPPED;
    bool again = vm->restart == MGR_RESTART_ALWAYS ||
                 (vm->restart == MGR_RESTART_ON_FAILURE && failed);
    if (!again) {
        set_desired(m, vm, false);
        return;
    }
    if (lasted >= RESTART_STABLE_S)
        vm->restarts = 0;
    uint64_t delay = RESTART_BACKOFF_MIN_MS;
    for (unsigned i = 0; i < vm->restarts && delay < RESTART_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > RESTART_BACKOFF_MAX_MS)
        delay = RESTART_BACKOFF_MAX_MS;
    vm->restarts++;
    vm->restart_at_ms = mgr_now_ms() + delay;
    log_notice("serve", "VM '%s': restarting in %llu ms (policy %s)", vm->name,
               (unsigned long long)delay, mgr_restart_name(vm->restart));
}

static void reap(struct mgr *m, struct mgr_vm *vm)
{
    int status = -1, sig = 0;
    if (vm->child) {
        siginfo_t si = { 0 };
        if (waitid((idtype_t)P_PIDFD, (id_t)vm->pidfd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
            return;   /* not yet */
        if (si.si_code == CLD_EXITED)
            status = si.si_status;
        else
            sig = si.si_status;
    }
    ended(m, vm, status, sig);
}

static void on_exit_event(void *opaque, uint32_t events)
{
    struct mgr_vm *vm = opaque;
    reap(vm->owner, vm);
}

void mgr_sup_check_exit(struct mgr *m, struct mgr_vm *vm)
{
    if (vm->pidfd < 0)
        return;
    struct pollfd p = { .fd = vm->pidfd, .events = POLLIN };
    if (poll(&p, 1, 0) == 1)
        reap(m, vm);
}

/* Which process listens on a Unix socket: 0 if none does. */
static pid_t socket_listener(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path))
        return 0;
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    pid_t pid = 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
            pid = cred.pid;
    }
    close(fd);
    return pid;
}

/*
 * An incoming VMM opens its API socket only once the VM is here and runs
 * (after COMMIT); GET /vm then says so. The request is short and the
 * socket already listens, so the loop waits at most INCOMING_ASK_MS.
 */
static void incoming_check(struct mgr *m, struct mgr_vm *vm)
{
    char api[PATH_MAX], err[MGR_ERR_MAX];
    mgr_vm_path(m, vm->name, "api.sock", api, sizeof(api));
    if (socket_listener(api) != vm->pid)
        return;
    struct mgr_vmm_reply reply;
    if (mgr_vmm_request(api, "GET", "/vm", NULL, INCOMING_ASK_MS, &reply, err, sizeof(err)) < 0)
        return;
    json_t *o = reply.status == 200 && reply.body ? json_loads(reply.body, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(o, "state"));
    if (st && (strcmp(st, "Running") == 0 || strcmp(st, "Paused") == 0)) {
        vm->state = strcmp(st, "Running") == 0 ? MGR_VM_RUNNING : MGR_VM_PAUSED;
        set_desired(m, vm, true);
        char mark[PATH_MAX];
        mgr_vm_path(m, vm->name, MGR_INCOMING_MARK, mark, sizeof(mark));
        unlink(mark);
        log_notice("serve", "VM '%s': arrived by live migration, %s", vm->name,
                   mgr_vm_state_name(vm->state));
    }
    json_decref(o);
    mgr_vmm_reply_free(&reply);
}

void mgr_sup_tick(struct mgr *m)
{
    uint64_t now = mgr_now_ms();
    for (struct mgr_vm *vm = m->vms, *next; vm; vm = next) {
        next = vm->next;
        if (vm->drop && !vm->busy && !mgr_vm_has_process(vm)) {
            char err[MGR_ERR_MAX];
            if (mgr_vm_remove(m, vm, NULL, err, sizeof(err)) < 0)
                log_error("serve", "%s", err);
            continue;
        }
        if (vm->state == MGR_VM_INCOMING && vm->pid > 0)
            incoming_check(m, vm);
        if (vm->state == MGR_VM_STARTING && vm->pid > 0) {
            char api[PATH_MAX];
            mgr_vm_path(m, vm->name, "api.sock", api, sizeof(api));
            if (socket_listener(api) == vm->pid)
                vm->state = MGR_VM_RUNNING;
        }
        if (vm->restart_at_ms && now >= vm->restart_at_ms) {
            vm->restart_at_ms = 0;
            if (!vm->desired_running || mgr_vm_has_process(vm) || vm->busy)
                continue;
            struct mgr_result r = { 0 };
            if (mgr_sup_start(m, vm, &r) < 0) {
                snprintf(vm->exit_reason, sizeof(vm->exit_reason), "restart failed: %.200s", r.error);
                log_error("serve", "VM '%s': %s", vm->name, vm->exit_reason);
                vm->state = MGR_VM_CRASHED;
                set_desired(m, vm, false);
            }
            json_decref(r.body);
        }
    }
}

/* Takes over a live VMM process: watched, its run recorded, its state asked. */
static bool adopt(struct mgr *m, struct mgr_vm *vm, pid_t pid, const struct mgr_store_run *run)
{
    uint64_t start;
    if (mgr_proc_start_time(pid, &start) < 0)
        return false;
    int pidfd = pidfd_open_pid(pid);
    uint64_t again;
    /* The pidfd pins the pid: checking the start time after it closes the reuse window. */
    if (pidfd < 0 || mgr_proc_start_time(pid, &again) < 0 || again != start) {
        if (pidfd >= 0)
            close(pidfd);
        return false;
    }
    vm->pid = pid;
    vm->pidfd = pidfd;
    vm->pid_start = start;
    vm->child = false;
    if (run && run->pid == pid && run->pid_start == start) {
        vm->run_id = run->id;
        vm->started_at = run->started_at;
    } else {
        if (run && mgr_store_run_end(&m->store, run->id, time(NULL), -1,
                                     "replaced while the daemon was down") < 0)
            log_error("serve", "VM '%s': cannot close its old run", vm->name);
        vm->started_at = time(NULL);
        if (mgr_store_run_begin(&m->store, vm->name, pid, start, vm->started_at, &vm->run_id) < 0)
            log_error("serve", "VM '%s': cannot record its run", vm->name);
    }
    if (vm->state == MGR_VM_INCOMING) {
        /* Still waiting for its VM: the tick sees it arrive (incoming_check). */
        watch(m, vm);
        log_notice("serve", "VM '%s': adopted pid %d (incoming)", vm->name, (int)pid);
        return true;
    }
    vm->state = MGR_VM_STARTING;
    char api[PATH_MAX], err[MGR_ERR_MAX];
    mgr_vm_path(m, vm->name, "api.sock", api, sizeof(api));
    struct mgr_vmm_reply reply;
    if (mgr_vmm_request(api, "GET", "/vm", NULL, ADOPT_TIMEOUT_MS, &reply, err, sizeof(err)) == 0) {
        if (reply.status == 200 && reply.body && strstr(reply.body, "\"Paused\""))
            vm->state = MGR_VM_PAUSED;
        else if (reply.status == 200)
            vm->state = MGR_VM_RUNNING;
        mgr_vmm_reply_free(&reply);
    }
    if (!vm->desired_running)
        set_desired(m, vm, true);
    watch(m, vm);
    log_notice("serve", "VM '%s': adopted pid %d (%s)", vm->name, (int)pid,
               mgr_vm_state_name(vm->state));
    return true;
}

static void adopt_one(struct mgr *m, struct mgr_vm *vm)
{
    struct mgr_store_run run;
    bool has_run = mgr_store_run_open(&m->store, vm->name, &run) == 0;
    char api[PATH_MAX];
    mgr_vm_path(m, vm->name, "api.sock", api, sizeof(api));
    pid_t listener = socket_listener(api);
    if (listener > 0 && adopt(m, vm, listener, has_run ? &run : NULL))
        return;
    /* No API yet: a VMM still starting is adopted by its recorded pid and start time. */
    uint64_t start;
    if (has_run && mgr_proc_start_time(run.pid, &start) == 0 && start == run.pid_start &&
        adopt(m, vm, run.pid, &run))
        return;
    vm->run_id = has_run ? run.id : 0;
    vm->started_at = has_run ? run.started_at : time(NULL);
    if (has_run || vm->desired_running || vm->state == MGR_VM_INCOMING)
        ended(m, vm, -1, 0);
}

void mgr_sup_adopt_all(struct mgr *m)
{
    for (struct mgr_vm *vm = m->vms; vm; vm = vm->next) {
        vm->owner = m;
        adopt_one(m, vm);
    }
}
