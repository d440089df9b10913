// SPDX-License-Identifier: Apache-2.0
/*
 * casulo: one binary, many subcommands. main() only dispatches; each command
 * lives in its own file and returns the process exit status.
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/migrate.h"

static void usage(FILE *out)
{
    fputs("usage: casulo COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  run        boot a VM in the foreground (casulo run --help)\n"
          "  status     a running VM's state and configuration (--api PATH)\n"
          "  pause      pause a running VM's vCPUs (--api PATH)\n"
          "  resume     resume a paused VM (--api PATH)\n"
          "  power-off  press the VM's ACPI power button, hard stop after a timeout\n"
          "  stop       stop a VM now (--api PATH)\n"
          "  snapshot   save a paused VM (--api PATH DIR)\n"
          "  metrics    a VM's Prometheus metrics (--api PATH)\n"
          "  balloon    show a VM's balloon, or resize it (--api PATH [--target SIZE])\n"
          "  migrate    live-migrate a VM to another casulo (--api PATH tcp:HOST:PORT [--watch])\n"
          "  serve      the VM manager daemon (casulo serve --help)\n"
          "  vm         manage VMs through the daemon: create, list, start, ... (casulo vm help)\n"
          "  version    print the version\n"
          "  help       this help\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "vm") == 0)
        return cmd_vm(argc - 1, argv + 1);
    if (client_is_verb(cmd))
        return cmd_client(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("casulo %s\n", CASULO_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "casulo: error: unknown command '%s' (see casulo help)\n", cmd);
    return 2;
}
