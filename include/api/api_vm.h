/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the API needs from a VM, as a small table of functions. The server,
 * the router and the actions only ever talk to a VM through it, so the whole
 * API can be unit-tested and fuzzed with a fake VM and no /dev/kvm;
 * api_vm_ops_kvm (src/api/vm_ops.c) is the table for a real struct vm.
 */
#ifndef CASULO_API_API_VM_H
#define CASULO_API_API_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm_config;
struct balloon_info;
struct mig_params;
struct mig_info;

/* NOT_STARTED: `casulo run --no-start` (or "start": false) waits for PUT /vm/start. */
enum api_vm_state { API_VM_RUNNING, API_VM_PAUSED, API_VM_STOPPING, API_VM_NOT_STARTED };

struct api_vcpu_stats {
    uint64_t exits_io, exits_mmio;
    uint64_t run_ns;            /* CPU time of the vCPU thread (guest and host side) */
    bool run_ns_known;
};

/* One counter set of a device, e.g. op "rx" of net0 or "read" of blk0. */
struct api_device_op_stats {
    const char *op;
    uint64_t requests, bytes, errors, dropped;
};

#define API_DEVICE_MAX_OPS 6

struct api_device_stats {
    char name[24];              /* "net0" */
    const char *kind;           /* "virtio-net" */
    unsigned nr_ops;
    struct api_device_op_stats ops[API_DEVICE_MAX_OPS];
};

/* A point-in-time copy; free with api_vm_stats_free(). */
struct api_vm_stats {
    uint64_t memory_bytes;          /* configured guest RAM */
    uint64_t memory_touched_bytes;  /* backed by host pages now */
    unsigned nr_vcpus;
    struct api_vcpu_stats *vcpus;
    unsigned nr_devices;
    struct api_device_stats *devices;
};

void api_vm_stats_free(struct api_vm_stats *stats);

struct api_vm_ops {
    int (*snapshot)(void *vm, const char *dir, char *err, size_t errlen);
    enum api_vm_state (*state)(void *vm);
    /*
     * 0, -EALREADY (already in that state), -ESHUTDOWN (stopping), -EBUSY
     * (a migration is in progress), -ENOLCK (resume: a disk is held by the
     * destination of a migration whose outcome was unknown) or -errno.
     */
    int (*pause)(void *vm);
    int (*resume)(void *vm);
    /* Hard stop; `detail` says why (casulo run prints it). Any thread, never blocks. */
    void (*stop)(void *vm, const char *detail);
    /*
     * Presses the ACPI power button: 1 when the guest has enabled it (an OS
     * is listening), 0 when not, -ENODEV when the VM has no ACPI PM device.
     */
    int (*power_button)(void *vm);
    /* Nanoseconds since the VM started running (0 before). */
    uint64_t (*uptime_ns)(void *vm);
    const struct vm_config *(*config)(void *vm);
    /* Fills *out (allocating its arrays); 0 or -ENOMEM. */
    int (*stats)(void *vm, struct api_vm_stats *out);
    /*
     * The virtio-balloon (include/virtio/balloon.h). Each returns -ENODEV when
     * the VM has none; a NULL entry means the same, so a table without them
     * (an older fake, a future VM kind) is still complete.
     */
    int (*balloon_info)(void *vm, struct balloon_info *out);
    /* Bytes the balloon should hold; the caller has checked it against guest RAM. */
    int (*balloon_set_target)(void *vm, uint64_t bytes);
    /* Statistics polling period; 0 turns it off. */
    int (*balloon_set_stats_interval)(void *vm, unsigned seconds);
    /*
     * Configure-before-boot (include/api/pending_vm.h). NULL in a table for
     * a VM that is already running: both then answer "already started".
     *
     * configure: merges a body in the config-file format (docs/config.md)
     * into the pending configuration; -EINVAL with the message of the
     * config file's own checks, -EALREADY once started, -EBUSY while starting.
     */
    int (*configure)(void *vm, const char *body, size_t len, char *err, size_t errlen);
    /* Builds the VM from the pending configuration and starts it; 0 once it is created. */
    int (*start)(void *vm, char *err, size_t errlen);
    /*
     * Live migration (include/migration/migration.h). NULL entries mean the
     * VM cannot migrate (409). start: 0, -EBUSY (one is active or the VM is
     * paused), -ESHUTDOWN, -EINVAL (bad address or limits) with err set.
     * cancel: -EALREADY when none is active.
     */
    int (*migrate_start)(void *vm, const struct mig_params *p, char *err, size_t errlen);
    void (*migrate_info)(void *vm, struct mig_info *out);
    int (*migrate_cancel)(void *vm, char *err, size_t errlen);
    /*
     * Optional: the server calls it once a response has gone out (or its
     * connection closed), so an exit a request asked for can wait for its
     * own answer to reach the client.
     */
    void (*request_done)(void *vm);
};

/* The table for a real VM: `vm` is a struct vm *. */
extern const struct api_vm_ops api_vm_ops_kvm;

#endif
