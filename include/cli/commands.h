/* SPDX-License-Identifier: Apache-2.0 */
/* The `casulo` subcommands. Each returns the process exit status. */
#ifndef CASULO_CLI_COMMANDS_H
#define CASULO_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_vm(int argc, char **argv);

#define CASULO_VERSION "0.1.0"

#endif
