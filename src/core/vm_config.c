// SPDX-License-Identifier: Apache-2.0
/*
 * VM configuration defaults and the checks that need no /dev/kvm. Messages
 * here are shown to the user as they are, so each names the problem and the
 * value that caused it.
 */
#include "core/vm_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/size.h"

void vm_config_init(struct vm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cpus = 1;
    cfg->memory = VM_CONFIG_DEFAULT_MEMORY;
    cfg->console = CONSOLE_STDIO;
    cfg->on_reboot = REBOOT_EXIT;
}

void vm_config_free(struct vm_config *cfg)
{
    free(cfg->kernel_path);
    free(cfg->restore_dir);
    free(cfg->incoming);
    free(cfg->initrd_path);
    free(cfg->cmdline);
    free(cfg->console_path);
    free(cfg->console_log);
    free(cfg->disks);
    free(cfg->nets);
    memset(cfg, 0, sizeof(*cfg));
}

uint64_t host_memory_total(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return (uint64_t)kib * 1024;
}

static int check_readable_file(const char *what, const char *path, char *err, size_t errlen)
{
    uint64_t size;
    int fd = file_open_regular(what, path, &size, err, errlen);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int vm_config_validate(const struct vm_config *cfg, unsigned max_cpus, char *err, size_t errlen)
{
    char a[32], b[32];
    if (!cfg->kernel_path && !cfg->restore_dir && !cfg->incoming) {
        snprintf(err, errlen, "no kernel given (use --kernel PATH)");
        return -EINVAL;
    }
    if (cfg->cpus == 0) {
        snprintf(err, errlen, "--cpus must be at least 1");
        return -EINVAL;
    }
    if (max_cpus && cfg->cpus > max_cpus) {
        snprintf(err, errlen, "--cpus %u is more than this host's KVM allows (%u)", cfg->cpus, max_cpus);
        return -EINVAL;
    }
    if (cfg->cpus > VM_CONFIG_MAX_CPUS_HARD) {
        snprintf(err, errlen, "--cpus %u is more than casulo supports (%u)", cfg->cpus,
                 VM_CONFIG_MAX_CPUS_HARD);
        return -EINVAL;
    }
    if (cfg->memory == 0) {
        snprintf(err, errlen, "--memory must not be 0");
        return -EINVAL;
    }
    if (cfg->memory < VM_CONFIG_MIN_MEMORY) {
        size_format(cfg->memory, a, sizeof(a));
        size_format(VM_CONFIG_MIN_MEMORY, b, sizeof(b));
        snprintf(err, errlen, "--memory %s is too small (at least %s)", a, b);
        return -EINVAL;
    }
    if (cfg->memory % 4096) {
        snprintf(err, errlen, "--memory must be a multiple of 4K");
        return -EINVAL;
    }
    uint64_t host = host_memory_total();
    if (host && cfg->memory > host) {
        size_format(cfg->memory, a, sizeof(a));
        size_format(host, b, sizeof(b));
        snprintf(err, errlen, "--memory %s is more than this host has (%s)", a, b);
        return -EINVAL;
    }
    int ret = cfg->restore_dir || cfg->incoming ? 0 : check_readable_file("kernel", cfg->kernel_path, err, errlen);
    if (ret)
        return ret;
    if (cfg->initrd_path) {
        ret = check_readable_file("initrd", cfg->initrd_path, err, errlen);
        if (ret)
            return ret;
    }
    for (unsigned i = 0; i < cfg->nr_disks; i++) {
        /* A read-write disk must be writable; the lock is taken when the VM opens it. */
        if (access(cfg->disks[i].path, cfg->disks[i].readonly ? R_OK : R_OK | W_OK) < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot open disk '%s': %s", cfg->disks[i].path, strerror(e));
            return -e;
        }
    }
    if (cfg->console == CONSOLE_FILE && (!cfg->console_path || !*cfg->console_path)) {
        snprintf(err, errlen, "--console file= needs a path");
        return -EINVAL;
    }
    if (cfg->console == CONSOLE_SOCKET && (!cfg->console_path || !*cfg->console_path ||
                                           strlen(cfg->console_path) >= VM_CONFIG_API_SOCKET_MAX)) {
        snprintf(err, errlen, "--console socket= needs a path of 1 to %d bytes",
                 VM_CONFIG_API_SOCKET_MAX - 1);
        return -EINVAL;
    }
    return 0;
}
