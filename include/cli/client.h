/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API client verbs: `casulo pause|resume|power-off|stop|status|metrics|
 * balloon --api PATH [--json]`. Each is one HTTP request to a running casulo's API
 * socket; the output is one readable line (or the status table), or the
 * server's raw JSON with --json.
 */
#ifndef CASULO_CLI_CLIENT_H
#define CASULO_CLI_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Whether `name` is one of the client verbs (for main()'s dispatch). */
bool client_is_verb(const char *name);

/* argv[0] is the verb. Returns the exit status: 0, 1 (error), 2 (usage). */
int cmd_client(int argc, char **argv);

struct client_request {
    const char *verb;
    const char *api_path;     /* the VM's API socket */
    bool json;
    int timeout_s;            /* power-off grace period; -1: the server's default */
    const char *dir;          /* snapshot: the directory */
    /* balloon: show it (neither set), set its target, or set its statistics polling */
    bool set_target;
    uint64_t target_bytes;
    bool set_stats_interval;
    unsigned stats_interval_s;
};

/* Runs one verb, writing results to out and errors to err (tests pass memory streams). */
int client_run(const struct client_request *req, FILE *out, FILE *err);

#endif
