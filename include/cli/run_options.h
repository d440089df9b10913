/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `casulo run` command-line options (and the --config file they may name)
 * -> struct vm_config. Kept apart from the command itself so the parser can
 * be unit-tested without KVM.
 */
#ifndef CASULO_CLI_RUN_OPTIONS_H
#define CASULO_CLI_RUN_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "core/vm_config.h"
#include "util/log.h"

enum run_parse_result {
    RUN_PARSE_OK = 0,
    RUN_PARSE_HELP,        /* --help: usage printed, exit 0 */
    RUN_PARSE_BAD_VALUE,   /* a value that is not acceptable: exit 1 */
    RUN_PARSE_USAGE,       /* unknown option, missing argument: exit 2 */
};

struct run_options {
    struct vm_config cfg;
    enum log_level log_level;
    enum log_format log_format;
    /* SNAPSHOT_GIVEN_*: what --restore must check against the snapshot instead of taking from it. */
    unsigned restore_given;
};

/* argv[0] is "run". On error writes one line to err. */
enum run_parse_result run_options_parse(int argc, char **argv, struct run_options *opts,
                                        char *err, size_t errlen);

/*
 * Sets one option by its long name without the dashes ("memory", "disk",
 * "on-reboot"), exactly as `--NAME VALUE` would, so a config file gets the
 * same checks and messages as the command line. `value` is NULL for an
 * option without one ("rng"). RUN_PARSE_USAGE for a name that is no option.
 */
enum run_parse_result run_options_set(struct run_options *opts, const char *name,
                                      const char *value, char *err, size_t errlen);

void run_options_usage(FILE *out);

#endif
