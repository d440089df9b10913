/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `casulo vm` client's connection to the daemon: where it listens
 * (--connect unix:PATH | /PATH | http://HOST:PORT | tcp:HOST:PORT, or
 * CASULO_CONNECT),
 * the bearer token (--token or CASULO_TOKEN), and one request at a time.
 */
#ifndef CASULO_CLI_VM_CLIENT_H
#define CASULO_CLI_VM_CLIENT_H

#include <stdio.h>

#define VM_CLIENT_DEFAULT_CONNECT "unix:/run/casulo/casulo.sock"

struct vm_client {
    const char *connect;
    const char *token;
    long timeout_s;
};

struct vm_reply {
    long status;
    char *body;
};

/* 0 with the reply (any status), or -1 after printing why no answer came. */
int vm_client_request(const struct vm_client *c, const char *method, const char *path,
                      const char *body, struct vm_reply *reply, FILE *err);
void vm_reply_free(struct vm_reply *reply);
/* Prints "casulo: error: <the reply's error line>" to err. */
void vm_reply_print_error(const struct vm_reply *reply, FILE *err);

#endif
