// SPDX-License-Identifier: Apache-2.0
/*
 * `casulo serve`: parses the daemon's options and runs it in the
 * foreground (a service manager keeps it running; see docs/manager.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "manager/manager.h"
#include "util/log.h"

static void serve_usage(FILE *out)
{
    fputs("usage: casulo serve [options]\n"
          "\n"
          "Run the VM manager: keeps VM definitions in DIR/casulo.db, runs one `casulo run`\n"
          "per VM, and serves the REST API (docs/manager.md) used by `casulo vm ...`.\n"
          "The VMs keep running when the daemon stops; a new daemon adopts them.\n"
          "\n"
          "  --state-dir DIR        VM definitions and files (default " MGR_DEFAULT_STATE_DIR ")\n"
          "  --listen ADDR          unix:PATH (default " MGR_DEFAULT_LISTEN ",\n"
          "                         mode 0660, group casulo) or tcp:HOST:PORT (loopback only)\n"
          "  --allow-remote         allow a non-loopback tcp: address (needs --token-file)\n"
          "  --token-file FILE      clients must send 'Authorization: Bearer TOKEN' (the\n"
          "                         file's first line, at least 16 characters)\n"
          "  --overcommit RATIO     running VMs' memory may reach MemTotal x RATIO (default 1.0)\n"
          "  --vmm PATH             the casulo binary that runs the VMs (default: this one)\n"
          "  --log-level LEVEL      error, warn, notice (default), info or debug\n"
          "  -h, --help             this help\n",
          out);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state-dir", required_argument, NULL, 's' },
        { "listen", required_argument, NULL, 'l' },
        { "allow-remote", no_argument, NULL, 'R' },
        { "token-file", required_argument, NULL, 't' },
        { "overcommit", required_argument, NULL, 'o' },
        { "vmm", required_argument, NULL, 'v' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct mgr_options o = {
        .state_dir = MGR_DEFAULT_STATE_DIR,
        .listen = MGR_DEFAULT_LISTEN,
        .overcommit = 1.0,
    };
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o.state_dir = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'R': o.allow_remote = true; break;
        case 't': o.token_file = optarg; break;
        case 'v': o.vmm_path = optarg; break;
        case 'o': {
            char *end;
            errno = 0;
            o.overcommit = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(o.overcommit > 0) || o.overcommit > 100) {
                fprintf(stderr, "casulo: error: --overcommit '%s' is not a ratio from 0 to 100 "
                        "(examples: 1.0, 1.5)\n", optarg);
                return 2;
            }
            break;
        }
        case 'L': {
            enum log_level level;
            if (log_parse_level(optarg, &level) < 0) {
                fprintf(stderr, "casulo: error: --log-level '%s' is not one of error, warn, "
                        "notice, info, debug\n", optarg);
                return 2;
            }
            log_set_level(level);
            break;
        }
        case 'h':
            serve_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "casulo: error: %s needs a value (see casulo serve --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "casulo: error: unknown option '%s' (see casulo serve --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "casulo: error: unexpected argument '%s' (see casulo serve --help)\n",
                argv[optind]);
        return 2;
    }
    if (o.allow_remote && !o.token_file) {
        fprintf(stderr, "casulo: error: --allow-remote needs --token-file FILE\n");
        return 2;
    }
    struct mgr m;
    char err[MGR_ERR_MAX] = "";
    int ret = mgr_init(&m, &o, err, sizeof(err));
    if (ret) {
        fprintf(stderr, "casulo: error: %s\n", err[0] ? err : strerror(-ret));
        mgr_destroy(&m);
        return 1;
    }
    ret = mgr_run(&m);
    mgr_destroy(&m);
    return ret ? 1 : 0;
}
