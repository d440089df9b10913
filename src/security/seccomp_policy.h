/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The allow lists behind security/seccomp.h, as data: groups of rules that
 * the thread classes combine. Kept apart from the libseccomp calls so that a
 * reviewer can read what each thread may do without reading how it is built.
 */
#ifndef CASULO_SECURITY_SECCOMP_POLICY_H
#define CASULO_SECURITY_SECCOMP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "security/seccomp.h"

enum sandbox_arg_op {
    SANDBOX_ARG_ANY = 0,   /* no condition on the arguments */
    SANDBOX_ARG_MASKED,    /* (argument & mask) == value */
    SANDBOX_ARG_SELF_PID,  /* argument == this process's pid, taken when the filter is built */
};

struct sandbox_rule {
    int nr;                /* SCMP_SYS(name) */
    enum sandbox_arg_op op;
    unsigned arg;          /* which argument op looks at (0-5) */
    uint64_t mask;
    uint64_t value;
    int fail_errno;        /* nonzero: answer -fail_errno instead of allowing */
};

struct sandbox_group {
    const char *name;
    const struct sandbox_rule *rules;
    size_t nr_rules;
};

/* The groups a class allows, NULL-terminated; NULL for an unknown class. */
const struct sandbox_group *const *sandbox_policy(enum sandbox_class cls);

#endif
