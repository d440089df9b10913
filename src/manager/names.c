// SPDX-License-Identifier: Apache-2.0
/* VM name validation (see names.h). */
#include "manager/names.h"

#include <stdio.h>
#include <string.h>

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '.' || c == '_' || c == '-');
}

bool mgr_name_valid(const char *name, char *err, size_t errlen)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0) {
        snprintf(err, errlen, "a VM name must not be empty");
        return false;
    }
    if (len > MGR_NAME_MAX) {
        snprintf(err, errlen, "VM name '%.*s...' is longer than %d characters", 16, name,
                 MGR_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!name_char(name[i], i == 0)) {
            snprintf(err, errlen, "VM name '%s' must start with a letter or digit and contain only "
                     "letters, digits, '.', '_' and '-'", name);
            return false;
        }
    }
    return true;
}
