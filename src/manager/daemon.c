// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's skeleton: setting up the state directory, the store and the
 * event loop, the job queue through which other threads run code on the
 * loop thread, and the orderly stop on SIGTERM/SIGINT. Stopping the daemon
 * leaves the VMs running: a new daemon adopts them (supervisor.c).
 */
#include "manager/manager.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "manager/accounting.h"
#include "util/log.h"

#define MGR_TICK_MS 250

struct mgr_job {
    struct mgr_job *next;
    mgr_job_fn fn;
    void *arg;
    bool done;
};

uint64_t mgr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mgr_fail(struct mgr_result *r, int status, const char *fmt, ...)
{
    r->status = status;
    json_decref(r->body);
    r->body = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

void mgr_call(struct mgr *m, mgr_job_fn fn, void *arg)
{
    struct mgr_job job = { .fn = fn, .arg = arg };
    pthread_mutex_lock(&m->jobs_lock);
    if (m->loop_gone) {
        /* The daemon is stopping: the loop thread waits for us; run here, one at a time. */
        fn(m, arg);
        pthread_mutex_unlock(&m->jobs_lock);
        return;
    }
    struct mgr_job **tail = &m->jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &job;
    uint64_t one = 1;
    ssize_t w = write(m->jobs_fd, &one, sizeof(one));
    (void)w;   /* an eventfd write only fails on overflow, and then it is readable anyway */
    while (!job.done)
        pthread_cond_wait(&m->jobs_done, &m->jobs_lock);
    pthread_mutex_unlock(&m->jobs_lock);
}

static void on_jobs(void *opaque, uint32_t events)
{
    struct mgr *m = opaque;
    uint64_t v;
    ssize_t n = read(m->jobs_fd, &v, sizeof(v));
    (void)n;
    for (;;) {
        pthread_mutex_lock(&m->jobs_lock);
        struct mgr_job *job = m->jobs;
        if (job)
            m->jobs = job->next;
        pthread_mutex_unlock(&m->jobs_lock);
        if (!job)
            break;
        job->fn(m, job->arg);
        pthread_mutex_lock(&m->jobs_lock);
        job->done = true;
        pthread_cond_broadcast(&m->jobs_done);
        pthread_mutex_unlock(&m->jobs_lock);
    }
}

static void on_tick(void *opaque, uint32_t events)
{
    struct mgr *m = opaque;
    uint64_t v;
    ssize_t n = read(m->timer_fd, &v, sizeof(v));
    (void)n;
    mgr_sup_tick(m);
}

static void on_signal(void *opaque, uint32_t events)
{
    struct mgr *m = opaque;
    struct signalfd_siginfo si;
    if (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        log_notice("serve", "%s: stopping; the VMs keep running", strsignal((int)si.ssi_signo));
    evloop_stop(&m->loop);
}

static int read_token(struct mgr *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(e));
        return -e;
    }
    char buf[512];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 16) {
        snprintf(err, errlen, "the token in %s is shorter than 16 characters", path);
        return -EINVAL;
    }
    m->token = strdup(buf);
    return m->token ? 0 : -ENOMEM;
}

static int setup_paths(struct mgr *m, char *err, size_t errlen)
{
    int ret = mgr_mkdir_p(m->opts.state_dir, 0700);
    char *abs = ret ? NULL : realpath(m->opts.state_dir, NULL);
    if (!abs) {
        ret = ret ? ret : -errno;
        snprintf(err, errlen, "cannot create the state directory %s: %s", m->opts.state_dir,
                 strerror(-ret));
        return ret;
    }
    m->state_dir = abs;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/vms", abs);
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        ret = -errno;
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(-ret));
        return ret;
    }
    snprintf(path, sizeof(path), "%s/lock", abs);
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        ret = -errno;
        snprintf(err, errlen, ret == -EWOULDBLOCK
                 ? "another casulo serve is using the state directory %s" : "cannot lock %s: %s",
                 abs, strerror(-ret));
        return ret;
    }
    if (m->opts.vmm_path)
        m->vmm_path = realpath(m->opts.vmm_path, NULL);
    else
        m->vmm_path = realpath("/proc/self/exe", NULL);
    if (!m->vmm_path) {
        ret = -errno;
        snprintf(err, errlen, "cannot find the casulo binary to run VMs with: %s", strerror(-ret));
        return ret;
    }
    return 0;
}

static int setup_loop(struct mgr *m, char *err, size_t errlen)
{
    int ret = evloop_init(&m->loop);
    if (ret) {
        snprintf(err, errlen, "cannot create the event loop: %s", strerror(-ret));
        return ret;
    }
    m->jobs_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    /* Blocked before any thread starts, so every thread inherits it and the signalfd gets them. */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    m->signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m->jobs_fd < 0 || m->timer_fd < 0 || m->signal_fd < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot set up the event loop: %s", strerror(-ret));
        return ret;
    }
    struct itimerspec its = {
        .it_interval = { 0, MGR_TICK_MS * 1000000L },
        .it_value = { 0, MGR_TICK_MS * 1000000L },
    };
    timerfd_settime(m->timer_fd, 0, &its, NULL);
    ret = evloop_add(&m->loop, m->jobs_fd, EPOLLIN, on_jobs, m);
    if (!ret)
        ret = evloop_add(&m->loop, m->timer_fd, EPOLLIN, on_tick, m);
    if (!ret)
        ret = evloop_add(&m->loop, m->signal_fd, EPOLLIN, on_signal, m);
    if (ret)
        snprintf(err, errlen, "cannot set up the event loop: %s", strerror(-ret));
    return ret;
}

int mgr_init(struct mgr *m, const struct mgr_options *opts, char *err, size_t errlen)
{
    *m = (struct mgr){ .opts = *opts, .lock_fd = -1, .jobs_fd = -1, .timer_fd = -1,
                       .signal_fd = -1, .loop = { .epfd = -1, .wake_fd = -1 } };
    pthread_mutex_init(&m->jobs_lock, NULL);
    pthread_cond_init(&m->jobs_done, NULL);
    m->clk_tck = sysconf(_SC_CLK_TCK);
    int ret = setup_paths(m, err, errlen);
    if (ret)
        return ret;
    ret = mgr_host_memory_total(opts->meminfo ? opts->meminfo : "/proc/meminfo", &m->mem_total);
    if (ret) {
        snprintf(err, errlen, "cannot read the host's MemTotal: %s", strerror(-ret));
        return ret;
    }
    if (opts->token_file) {
        ret = read_token(m, opts->token_file, err, errlen);
        if (ret)
            return ret;
    }
    char db[PATH_MAX];
    snprintf(db, sizeof(db), "%s/casulo.db", m->state_dir);
    ret = mgr_store_open(&m->store, db, err, errlen);
    if (ret)
        return ret;
    ret = setup_loop(m, err, errlen);
    if (ret)
        return ret;
    /* Before any thread: libcurl's global set-up is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl (needed to talk to the VMs' API sockets)");
        return -ENOPKG;
    }
    ret = mgr_vm_load_all(m, err, errlen);
    if (ret)
        return ret;
    mgr_sup_adopt_all(m);
    ret = mgr_http_start(m, err, errlen);
    if (ret)
        return ret;
    ret = mgr_sampler_start(m);
    if (ret) {
        snprintf(err, errlen, "cannot start the stats sampler: %s", strerror(-ret));
        return ret;
    }
    return 0;
}

int mgr_run(struct mgr *m)
{
    log_notice("serve", "serving %s (state %s, %d VMs)", m->opts.listen, m->state_dir,
               mgr_store_vm_count(&m->store));
    return evloop_run(&m->loop);
}

void mgr_destroy(struct mgr *m)
{
    /*
     * The HTTP and sampler threads may be waiting in mgr_call, and stopping
     * them waits for them: from now on their jobs run on their own threads,
     * serialised by jobs_lock, and the ones already queued run here.
     */
    pthread_mutex_lock(&m->jobs_lock);
    m->loop_gone = true;
    for (struct mgr_job *job = m->jobs, *next; job; job = next) {
        next = job->next;
        job->fn(m, job->arg);
        job->done = true;
    }
    m->jobs = NULL;
    pthread_cond_broadcast(&m->jobs_done);
    pthread_mutex_unlock(&m->jobs_lock);
    /* Outgoing migrations are cancelled (the VMs stay here) and their workers end. */
    mgr_migrations_drain(m);
    mgr_http_stop(m);
    mgr_sampler_stop(m);
    struct mgr_vm *vm = m->vms;
    while (vm) {
        struct mgr_vm *next = vm->next;
        if (vm->pidfd >= 0)
            close(vm->pidfd);
        mgr_vm_free(vm);
        vm = next;
    }
    m->vms = NULL;
    json_decref(m->migrated);
    m->migrated = NULL;
    mgr_store_close(&m->store);
    if (m->loop.epfd >= 0)
        evloop_destroy(&m->loop);
    int fds[] = { m->jobs_fd, m->timer_fd, m->signal_fd, m->lock_fd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(m->state_dir);
    free(m->vmm_path);
    free(m->token);
    pthread_cond_destroy(&m->jobs_done);
    pthread_mutex_destroy(&m->jobs_lock);
}
