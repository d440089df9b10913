/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Everything that describes a VM before it exists. Configuration is pure
 * data: parsed and validated here before /dev/kvm is opened, so a bad option
 * never leaves a half-built VM behind.
 */
#ifndef CASULO_CORE_VM_CONFIG_H
#define CASULO_CORE_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/seccomp.h"

#include "backends/disk_config.h"
#include "backends/net_config.h"
#include "util/compiler.h"

#define VM_CONFIG_DEFAULT_MEMORY (512ULL * 1024 * 1024)
#define VM_CONFIG_MIN_MEMORY     (2ULL * 1024 * 1024)   /* room for the boot structures */
#define VM_CONFIG_MAX_CPUS_HARD  1024
#define VM_CONFIG_MAX_DISKS      16
#define VM_CONFIG_MAX_NETS       8
/* sizeof(sockaddr_un.sun_path): the longest path a UNIX socket can bind. */
#define VM_CONFIG_API_SOCKET_MAX 108

enum console_mode { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_OFF, CONSOLE_SOCKET };
enum reboot_action { REBOOT_EXIT, REBOOT_RESTART };

struct vm_config {
    char *kernel_path;
    char *initrd_path;         /* NULL: none */
    char *cmdline;             /* NULL: default */
    unsigned cpus;
    uint64_t memory;           /* bytes */
    enum console_mode console;
    char *console_path;        /* CONSOLE_FILE: the file; CONSOLE_SOCKET: the socket */
    char *console_log;         /* CONSOLE_SOCKET: output also appended here; NULL: none */
    enum reboot_action on_reboot;
    struct disk_config *disks;     /* --disk, in order */
    unsigned nr_disks;
    struct net_config *nets;       /* --net, in order */
    unsigned nr_nets;
    bool rng;                      /* --rng */
    bool balloon;                  /* --balloon */
    /*
     * Both below are plain arrays/flags with 0 as the default, so
     * vm_config_init and vm_config_free need nothing for them.
     */
    bool no_start;                 /* config "start": false: wait for the API to boot it */
    char api_socket[VM_CONFIG_API_SOCKET_MAX];   /* --api-socket; "" when none */
    char *restore_dir;             /* --restore DIR: continue a snapshot instead of booting */
    char *incoming;                /* --incoming tcp:ADDR:PORT: wait for a live migration */
    enum sandbox_mode seccomp;     /* --seccomp; SANDBOX_ON (0) unless told */
};

void vm_config_init(struct vm_config *cfg);
void vm_config_free(struct vm_config *cfg);

/*
 * Checks the parts that need no KVM: files exist and are readable, sizes are
 * sane, memory fits the host. On failure writes one line naming the problem
 * into err and returns -EINVAL (or the errno of the failing check).
 * `max_cpus` is the KVM limit (0 = not known yet, check later).
 */
int vm_config_validate(const struct vm_config *cfg, unsigned max_cpus, char *err, size_t errlen);

/* Host physical memory in bytes (MemTotal), 0 if unknown. */
uint64_t host_memory_total(void);

#define VM_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"

#endif
