/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp sandbox: one system-call filter per thread class (main, vCPU,
 * I/O, API), each installed by the thread on itself, before it touches
 * guest-controlled data. A filter only ever narrows what a thread may do and
 * cannot be removed, and threads inherit their creator's filter, so the main
 * thread installs its own last, after it has created every other thread.
 * docs/security.md explains the classes, the order and what they do not cover.
 */
#ifndef CASULO_SECURITY_SECCOMP_H
#define CASULO_SECURITY_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

/* `--seccomp on|log|off`. */
enum sandbox_mode {
    SANDBOX_ON = 0,  /* a system call outside the allow list kills the whole process (SIGSYS) */
    SANDBOX_LOG,     /* it is allowed but logged by the kernel (audit / dmesg): to find missing calls */
    SANDBOX_OFF,     /* no filter at all */
};

enum sandbox_class {
    /* The main thread once its VM's threads run: event loop, console, stop, teardown, exit. */
    SANDBOX_MAIN = 0,
    /* The main thread with --on-reboot restart: also everything building the next VM needs. */
    SANDBOX_MAIN_RESTART,
    /* A vCPU thread: KVM_RUN and the device models its exits reach. */
    SANDBOX_VCPU,
    /* The I/O thread: virtio queues, disk images, TAP, entropy. */
    SANDBOX_IO,
    /* The API thread: HTTP on an already-bound Unix socket, pause/resume. */
    SANDBOX_API,
    SANDBOX_NR_CLASSES,
};

/* "on", "log", "off" -> mode; -EINVAL for anything else. */
int sandbox_parse_mode(const char *text, enum sandbox_mode *mode) MUST_CHECK;
const char *sandbox_mode_name(enum sandbox_mode mode);
const char *sandbox_class_name(enum sandbox_class cls);

/*
 * Installs the class's filter on the calling thread only (no TSYNC): threads
 * it creates afterwards inherit it. SANDBOX_OFF installs nothing and returns 0.
 * Sets no_new_privs on the thread. On failure returns -errno and writes one
 * line to err; the thread is then unfiltered and the caller should stop the VM.
 */
int sandbox_install(enum sandbox_class cls, enum sandbox_mode mode, char *err, size_t errlen)
    MUST_CHECK;

#endif
