/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `casulo migrate --api PATH tcp:HOST:PORT [--max-downtime MS] [--bandwidth
 * MIB] [--auto-converge] [--timeout S] [--watch]`, and `--status` /
 * `--cancel` for one already under way: the client of PUT, GET and DELETE
 * /migrate. Progress formatting is separate so it can be unit-tested.
 */
#ifndef CASULO_CLI_MIGRATE_H
#define CASULO_CLI_MIGRATE_H

#include <jansson.h>
#include <stddef.h>

/* argv[0] is "migrate". Exit status: 0 done (completed with --watch), 1 failed, 2 usage. */
int cmd_migrate(int argc, char **argv);

/* One line of progress for a GET /migrate object. */
void migrate_progress_line(const json_t *m, char *buf, size_t len);

#endif
