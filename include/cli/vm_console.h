/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `casulo vm console NAME`: this terminal attached to a VM's console socket.
 * On a TTY the terminal is put in raw mode (restored on every exit path,
 * fatal signals included) and Ctrl-] detaches; otherwise stdin and stdout
 * are just piped to and from the socket.
 */
#ifndef CASULO_CLI_VM_CONSOLE_H
#define CASULO_CLI_VM_CONSOLE_H

#include <stdio.h>

#define VM_CONSOLE_DETACH 0x1d   /* Ctrl-] */

/*
 * Copies between the terminal and the console socket at path until the VM
 * closes it, stdin ends (not a TTY) or Ctrl-] is typed. Returns 0, or 1
 * with one line on err (cannot connect, I/O error).
 */
int vm_console_attach(const char *console_socket_path, FILE *err);

#endif
