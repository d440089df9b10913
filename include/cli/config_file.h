/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `casulo run --config FILE`: a JSON object holding the same settings as
 * the command-line options, under the same names (docs/config.md). Parsing
 * is strict: an unknown key, a value of the wrong JSON type or a bad value
 * is one error line naming the file and the key, never silently ignored.
 */
#ifndef CASULO_CLI_CONFIG_FILE_H
#define CASULO_CLI_CONFIG_FILE_H

#include <stddef.h>

#include "cli/run_options.h"
#include "util/compiler.h"

/* A config file larger than this is refused rather than read. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Reads `path` and applies it on top of *opts (normally just initialised
 * to the defaults). Returns 0, or -errno / -EINVAL with one line in err
 * ("config 'vm.json': unknown key 'x'"). On error *opts may be partly set;
 * the caller frees it with vm_config_free as usual.
 */
int config_file_load(const char *path, struct run_options *opts, char *err, size_t errlen) MUST_CHECK;

/*
 * The same for a JSON text already in memory (len bytes, no NUL needed);
 * `name` is what messages call it (a file name, "request body").
 */
int config_file_parse(const char *name, const char *text, size_t len, struct run_options *opts,
                      char *err, size_t errlen) MUST_CHECK;

/*
 * PUT /vm/config: as config_file_parse, but each key given replaces its
 * setting (a "disks" array replaces the disks instead of adding to them),
 * "api_socket" is refused, and on any error *opts is left as it was.
 */
int config_file_merge(const char *name, const char *text, size_t len, struct run_options *opts,
                      char *err, size_t errlen) MUST_CHECK;

#endif
