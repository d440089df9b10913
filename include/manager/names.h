/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM names: they become directory names under the state directory, parts of
 * socket paths and URL path segments, so only a safe, short alphabet is
 * accepted: a letter or digit first, then letters, digits, '.', '_', '-'.
 */
#ifndef CASULO_MANAGER_NAMES_H
#define CASULO_MANAGER_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define MGR_NAME_MAX 48

/* true, or false with the reason in err ("VM name 'a/b' may only contain ..."). */
bool mgr_name_valid(const char *name, char *err, size_t errlen);

#endif
