// SPDX-License-Identifier: Apache-2.0
/*
 * Parser for `casulo run` options. Usage mistakes (unknown option, missing
 * argument, stray words) and bad values (a size that is not a size, 0 CPUs)
 * are told apart because they map to different exit statuses (2 and 1).
 * A --config file is read before every other option wherever it stands, so
 * the command line always overrides the file.
 */
#include "cli/run_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config_file.h"
#include "snapshot/config.h"
#include "util/size.h"

enum {
    OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_CONSOLE,
    OPT_ON_REBOOT, OPT_LOG_LEVEL, OPT_HELP, OPT_DISK, OPT_NET, OPT_RNG, OPT_CONFIG,
    OPT_LOG_FORMAT, OPT_API_SOCKET, OPT_BALLOON, OPT_RESTORE, OPT_SECCOMP, OPT_NO_START,
    OPT_INCOMING,
};

static const struct option long_options[] = {
    { "kernel", required_argument, NULL, OPT_KERNEL },
    { "initrd", required_argument, NULL, OPT_INITRD },
    { "cmdline", required_argument, NULL, OPT_CMDLINE },
    { "cpus", required_argument, NULL, OPT_CPUS },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "console", required_argument, NULL, OPT_CONSOLE },
    { "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "disk", required_argument, NULL, OPT_DISK },
    { "net", required_argument, NULL, OPT_NET },
    { "rng", no_argument, NULL, OPT_RNG },
    { "balloon", no_argument, NULL, OPT_BALLOON },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "api-socket", required_argument, NULL, OPT_API_SOCKET },
    { "restore", required_argument, NULL, OPT_RESTORE },
    { "seccomp", required_argument, NULL, OPT_SECCOMP },
    { "no-start", no_argument, NULL, OPT_NO_START },
    { "incoming", required_argument, NULL, OPT_INCOMING },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

void run_options_usage(FILE *out)
{
    fputs("usage: casulo run --kernel PATH [options]\n"
          "       casulo run --config FILE [options]\n"
          "\n"
          "Boot one VM in the foreground; its serial console is attached to this terminal\n"
          "(Ctrl-A x quits, Ctrl-A h for help).\n"
          "\n"
          "  --config FILE          JSON object with any of the options below (same names;\n"
          "                         see docs/config.md); options given here override it\n"
          "  --kernel PATH          Linux bzImage or ELF64 kernel (vmlinux) to boot\n"
          "  --initrd PATH          initial ramdisk\n"
          "  --cmdline STR          kernel command line (default: \"" VM_DEFAULT_CMDLINE "\")\n"
          "  --cpus N               number of vCPUs (default 1)\n"
          "  --memory SIZE          guest RAM, e.g. 512M, 4G (default 512M)\n"
          "  --console MODE         stdio (default), file=PATH, socket=PATH[,log=FILE] or off\n"
          "  --on-reboot ACTION     exit (default) or restart when the guest reboots\n"
          "  --disk SPEC            virtio-blk disk, repeatable: path=FILE[,readonly=on][,id=NAME]\n"
          "                         [,serial=STR][,io=auto|uring|sync][,direct=on][,queues=N]\n"
          "  --net SPEC             virtio-net NIC on a TAP, repeatable: tap=NAME[,mac=MAC]\n"
          "  --rng                  virtio-rng entropy device (host getrandom)\n"
          "  --balloon              virtio-balloon: resize guest memory through the API\n"
          "  --restore DIR          continue a snapshot instead of booting: its vCPUs,\n"
          "                         memory and devices; --disk/--net replace its own\n"
          "  --incoming tcp:ADDR:PORT  wait for a live migration on ADDR:PORT instead of\n"
          "                         booting; give the source's devices (docs/migration.md)\n"
          "  --api-socket PATH      serve the VM's HTTP API on this Unix socket (docs/api.md)\n"
          "  --no-start             serve only the API; configure the VM there and boot it\n"
          "                         with PUT /vm/start (needs --api-socket)\n"
          "  --seccomp MODE         on (default): per-thread system-call filters; log: only\n"
          "                         log calls they would refuse; off: none (debugging)\n"
          "  --log-level LEVEL      error, warn, notice (default), info or debug\n"
          "  --log-format FORMAT    text (default) or json (one JSON object per line)\n"
          "  -h, --help             this help\n"
          "\n"
          "Exit status: 0 guest powered off, rebooted or was stopped by a signal;\n"
          "1 bad input or host error; 2 usage error; 3 guest crashed (triple fault,\n"
          "KVM internal error).\n",
          out);
}

static int set_string(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

static enum run_parse_result parse_cpus(const char *value, unsigned *cpus, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || n > VM_CONFIG_MAX_CPUS_HARD * 16UL) {
        snprintf(err, errlen, "--cpus '%s' is not a number of vCPUs", value);
        return RUN_PARSE_BAD_VALUE;
    }
    if (n == 0) {
        snprintf(err, errlen, "--cpus must be at least 1");
        return RUN_PARSE_BAD_VALUE;
    }
    *cpus = (unsigned)n;
    return RUN_PARSE_OK;
}

/*
 * Copies one item of a "key=value,key=value" list from *pos into a new
 * string, undoing ",," (a literal comma), and leaves *pos after the comma.
 */
static char *console_item(const char **pos)
{
    const char *p = *pos;
    char *item = malloc(strlen(p) + 1);
    if (!item)
        return NULL;
    size_t n = 0;
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                p++;
                break;
            }
            p++;
        }
        item[n++] = *p++;
    }
    item[n] = '\0';
    *pos = p;
    return item;
}

/* socket=PATH[,log=FILE], each key at most once, in any order. */
static enum run_parse_result parse_console_socket(const char *value, struct vm_config *cfg,
                                                  char *err, size_t errlen)
{
    char *sock = NULL, *log = NULL;
    const char *pos = value;
    while (*pos) {
        char *item = console_item(&pos);
        if (!item) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        char **dst = strncmp(item, "socket=", 7) == 0 ? &sock
                     : strncmp(item, "log=", 4) == 0  ? &log
                                                      : NULL;
        const char *val = dst ? strchr(item, '=') + 1 : NULL;
        if (!dst || *dst || !*val) {
            snprintf(err, errlen, "--console '%s': %s '%s' (want socket=PATH[,log=FILE])", value,
                     !dst ? "unknown item" : *dst ? "repeated item" : "empty value in", item);
            free(item);
            goto fail;
        }
        *dst = strdup(val);
        free(item);
        if (!*dst) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (!sock) {
        snprintf(err, errlen, "--console '%s' needs socket=PATH", value);
        goto fail;
    }
    cfg->console = CONSOLE_SOCKET;
    free(cfg->console_path);
    free(cfg->console_log);
    cfg->console_path = sock;
    cfg->console_log = log;
    return RUN_PARSE_OK;

fail:
    free(sock);
    free(log);
    return RUN_PARSE_BAD_VALUE;
}

static enum run_parse_result parse_console(const char *value, struct vm_config *cfg, char *err,
                                           size_t errlen)
{
    if (strncmp(value, "socket=", 7) == 0 || strncmp(value, "log=", 4) == 0)
        return parse_console_socket(value, cfg, err, errlen);
    if (strcmp(value, "stdio") == 0) {
        cfg->console = CONSOLE_STDIO;
    } else if (strcmp(value, "off") == 0) {
        cfg->console = CONSOLE_OFF;
    } else if (strncmp(value, "file=", 5) == 0 && value[5]) {
        cfg->console = CONSOLE_FILE;
        if (set_string(&cfg->console_path, value + 5) < 0) {
            snprintf(err, errlen, "out of memory");
            return RUN_PARSE_BAD_VALUE;
        }
    } else {
        snprintf(err, errlen, "--console '%s' is not one of stdio, file=PATH, socket=PATH[,log=FILE], off",
                 value);
        return RUN_PARSE_BAD_VALUE;
    }
    return RUN_PARSE_OK;
}

/* Appends one --disk/--net to a growing array of `size`-byte elements. */
static void *append(void **array, unsigned *nr, unsigned max, size_t size)
{
    if (*nr >= max)
        return NULL;
    uint8_t *grown = realloc(*array, (*nr + 1) * size);
    if (!grown)
        return NULL;
    *array = grown;
    memset(grown + *nr * size, 0, size);
    return grown + (*nr)++ * size;
}

static enum run_parse_result parse_device(int opt, const char *arg, struct vm_config *cfg,
                                          char *err, size_t errlen)
{
    if (opt == OPT_DISK) {
        struct disk_config *d = append((void **)&cfg->disks, &cfg->nr_disks,
                                       VM_CONFIG_MAX_DISKS, sizeof(*d));
        if (!d) {
            snprintf(err, errlen, "too many --disk (at most %u)", VM_CONFIG_MAX_DISKS);
            return RUN_PARSE_BAD_VALUE;
        }
        if (disk_config_parse(arg, d, err, errlen) < 0)
            return RUN_PARSE_BAD_VALUE;
        return RUN_PARSE_OK;
    }
    struct net_config *n = append((void **)&cfg->nets, &cfg->nr_nets, VM_CONFIG_MAX_NETS, sizeof(*n));
    if (!n) {
        snprintf(err, errlen, "too many --net (at most %u)", VM_CONFIG_MAX_NETS);
        return RUN_PARSE_BAD_VALUE;
    }
    if (net_config_parse(arg, n, err, errlen) < 0)
        return RUN_PARSE_BAD_VALUE;
    return RUN_PARSE_OK;
}

static enum run_parse_result parse_one(int opt, const char *arg, struct run_options *opts,
                                       char *err, size_t errlen)
{
    struct vm_config *cfg = &opts->cfg;
    int ret = 0;
    switch (opt) {
    case OPT_KERNEL:
        ret = set_string(&cfg->kernel_path, arg);
        break;
    case OPT_INITRD:
        ret = set_string(&cfg->initrd_path, arg);
        break;
    case OPT_CMDLINE:
        ret = set_string(&cfg->cmdline, arg);
        break;
    case OPT_CPUS:
        opts->restore_given |= SNAPSHOT_GIVEN_CPUS;
        return parse_cpus(arg, &cfg->cpus, err, errlen);
    case OPT_MEMORY:
        opts->restore_given |= SNAPSHOT_GIVEN_MEMORY;
        ret = size_parse(arg, &cfg->memory);
        if (ret == -ERANGE || (!ret && cfg->memory == 0)) {
            snprintf(err, errlen, ret ? "--memory '%s' is too large" : "--memory must not be 0", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        if (ret) {
            snprintf(err, errlen, "--memory '%s' is not a size (examples: 512M, 4G)", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        return RUN_PARSE_OK;
    case OPT_CONSOLE:
        return parse_console(arg, cfg, err, errlen);
    case OPT_ON_REBOOT:
        if (strcmp(arg, "exit") == 0) {
            cfg->on_reboot = REBOOT_EXIT;
        } else if (strcmp(arg, "restart") == 0) {
            cfg->on_reboot = REBOOT_RESTART;
        } else {
            snprintf(err, errlen, "--on-reboot '%s' is not one of exit, restart", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        return RUN_PARSE_OK;
    case OPT_DISK:
    case OPT_NET:
        return parse_device(opt, arg, cfg, err, errlen);
    case OPT_RNG:
        opts->restore_given |= SNAPSHOT_GIVEN_RNG;
        cfg->rng = true;
        return RUN_PARSE_OK;
    case OPT_BALLOON:
        cfg->balloon = true;
        return RUN_PARSE_OK;
    case OPT_NO_START:
        cfg->no_start = true;
        return RUN_PARSE_OK;
    case OPT_RESTORE:
        ret = set_string(&cfg->restore_dir, arg);
        break;
    case OPT_INCOMING:
        if (strncmp(arg, "tcp:", 4) != 0 || !strchr(arg + 4, ':')) {
            snprintf(err, errlen, "--incoming '%s' must be tcp:ADDR:PORT", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        ret = set_string(&cfg->incoming, arg);
        break;
    case OPT_SECCOMP:
        if (sandbox_parse_mode(arg, &cfg->seccomp) < 0) {
            snprintf(err, errlen, "--seccomp '%s' is not one of on, log, off", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        return RUN_PARSE_OK;
    case OPT_LOG_LEVEL:
        if (log_parse_level(arg, &opts->log_level) < 0) {
            snprintf(err, errlen, "--log-level '%s' is not one of error, warn, notice, info, debug", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        return RUN_PARSE_OK;
    case OPT_LOG_FORMAT:
        if (log_parse_format(arg, &opts->log_format) < 0) {
            snprintf(err, errlen, "--log-format '%s' is not one of text, json", arg);
            return RUN_PARSE_BAD_VALUE;
        }
        return RUN_PARSE_OK;
    case OPT_API_SOCKET:
        if (!*arg || strlen(arg) >= sizeof(cfg->api_socket)) {
            snprintf(err, errlen, "--api-socket path must be 1 to %zu bytes long",
                     sizeof(cfg->api_socket) - 1);
            return RUN_PARSE_BAD_VALUE;
        }
        strcpy(cfg->api_socket, arg);
        return RUN_PARSE_OK;
    default:
        break;
    }
    if (ret) {
        snprintf(err, errlen, "out of memory");
        return RUN_PARSE_BAD_VALUE;
    }
    return RUN_PARSE_OK;
}

enum run_parse_result run_options_set(struct run_options *opts, const char *name,
                                      const char *value, char *err, size_t errlen)
{
    for (const struct option *o = long_options; o->name; o++) {
        if (strcmp(o->name, name) != 0 || o->val == OPT_HELP || o->val == OPT_CONFIG)
            continue;
        if ((o->has_arg == required_argument) != (value != NULL))
            break;
        return parse_one(o->val, value, opts, err, errlen);
    }
    snprintf(err, errlen, "unknown option '%s'", name);
    return RUN_PARSE_USAGE;
}

/*
 * First pass over argv: only --config, so the file is applied before every
 * other option. getopt itself does the scan, so a "--config" that is the
 * value of another option (--cmdline --config) is not mistaken for one.
 * --log-format is taken early too, so an error in the file is already
 * reported in the format asked for. Other mistakes are left for the second
 * pass to report.
 */
static enum run_parse_result find_config(int argc, char **argv, struct run_options *opts,
                                         const char **path, char *err, size_t errlen)
{
    *path = NULL;
    optind = 0;   /* GNU: full re-initialisation, so the parser can run more than once */
    opterr = 0;   /* we print our own one-line messages */
    for (;;) {
        int opt = getopt_long(argc, argv, ":h", long_options, NULL);
        if (opt == -1)
            break;
        if (opt == 'h' || opt == OPT_HELP)
            return RUN_PARSE_HELP;   /* help even when the file is bad */
        if (opt == OPT_LOG_FORMAT)
            (void)log_parse_format(optarg, &opts->log_format);
        if (opt != OPT_CONFIG)
            continue;
        if (*path) {
            snprintf(err, errlen, "--config given twice");
            return RUN_PARSE_USAGE;
        }
        *path = optarg;
    }
    return RUN_PARSE_OK;
}

/* What the command line needs once everything is applied. */
static enum run_parse_result check_complete(const struct run_options *opts, const char *config,
                                            char *err, size_t errlen)
{
    const struct vm_config *cfg = &opts->cfg;
    if (cfg->no_start && !cfg->api_socket[0]) {
        if (config)
            snprintf(err, errlen, "config '%s': \"start\": false needs an API socket to start the "
                     "VM (\"api_socket\" or --api-socket PATH)", config);
        else
            snprintf(err, errlen, "--no-start needs --api-socket PATH to start the VM");
        return RUN_PARSE_BAD_VALUE;
    }
    /* A VM that waits for the API may get its kernel from it. */
    if (cfg->incoming && (cfg->restore_dir || cfg->no_start)) {
        snprintf(err, errlen, "--incoming cannot be combined with %s",
                 cfg->restore_dir ? "--restore" : "--no-start");
        return RUN_PARSE_BAD_VALUE;
    }
    if (!cfg->kernel_path && !cfg->no_start && !cfg->restore_dir && !cfg->incoming) {
        if (config) {
            snprintf(err, errlen, "config '%s': no \"kernel\" (and no --kernel PATH)", config);
            return RUN_PARSE_BAD_VALUE;
        }
        snprintf(err, errlen, "missing --kernel PATH (see casulo run --help)");
        return RUN_PARSE_USAGE;
    }
    return RUN_PARSE_OK;
}

enum run_parse_result run_options_parse(int argc, char **argv, struct run_options *opts,
                                        char *err, size_t errlen)
{
    vm_config_init(&opts->cfg);
    opts->restore_given = 0;
    opts->log_level = LOG_NOTICE;
    opts->log_format = LOG_FORMAT_TEXT;
    err[0] = 0;

    const char *config;
    enum run_parse_result r = find_config(argc, argv, opts, &config, err, errlen);
    if (r != RUN_PARSE_OK)
        return r;
    if (config && config_file_load(config, opts, err, errlen) < 0)
        return RUN_PARSE_BAD_VALUE;

    /* The first --disk (--net) on the command line replaces the file's list. */
    bool disk_flag_seen = false, net_flag_seen = false;
    optind = 0;
    for (;;) {
        int longindex = -1;
        int opt = getopt_long(argc, argv, ":h", long_options, &longindex);
        if (opt == -1)
            break;
        if (opt == 'h' || opt == OPT_HELP)
            return RUN_PARSE_HELP;
        if (opt == '?') {
            snprintf(err, errlen, "unknown option '%s' (see casulo run --help)", argv[optind - 1]);
            return RUN_PARSE_USAGE;
        }
        if (opt == ':') {
            snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return RUN_PARSE_USAGE;
        }
        if (opt == OPT_CONFIG)
            continue;
        if (opt == OPT_DISK && !disk_flag_seen) {
            disk_flag_seen = true;
            free(opts->cfg.disks);
            opts->cfg.disks = NULL;
            opts->cfg.nr_disks = 0;
        }
        if (opt == OPT_NET && !net_flag_seen) {
            net_flag_seen = true;
            free(opts->cfg.nets);
            opts->cfg.nets = NULL;
            opts->cfg.nr_nets = 0;
        }
        r = parse_one(opt, optarg, opts, err, errlen);
        if (r != RUN_PARSE_OK)
            return r;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see casulo run --help)", argv[optind]);
        return RUN_PARSE_USAGE;
    }
    return check_complete(opts, config, err, errlen);
}
