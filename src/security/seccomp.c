// SPDX-License-Identifier: Apache-2.0
/*
 * Builds a thread class's allow list (seccomp_policy.c) into a libseccomp
 * filter and loads it on the calling thread. The default action is to kill
 * the whole process: a thread that asks for something it never needs is
 * taken to be compromised, and letting its siblings run on would leave the
 * attacker the shared address space. `--seccomp log` makes the default
 * action a kernel log entry instead, to find calls missing from a list.
 */
#include "security/seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp_policy.h"
#include "util/compiler.h"

static const char *const mode_names[] = {
    [SANDBOX_ON] = "on",
    [SANDBOX_LOG] = "log",
    [SANDBOX_OFF] = "off",
};

static const char *const class_names[] = {
    [SANDBOX_MAIN] = "main",
    [SANDBOX_MAIN_RESTART] = "main-restart",
    [SANDBOX_VCPU] = "vcpu",
    [SANDBOX_IO] = "io",
    [SANDBOX_API] = "api",
};

int sandbox_parse_mode(const char *text, enum sandbox_mode *mode)
{
    for (size_t i = 0; text && i < ARRAY_SIZE(mode_names); i++) {
        if (strcmp(text, mode_names[i]) == 0) {
            *mode = (enum sandbox_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *sandbox_mode_name(enum sandbox_mode mode)
{
    return (unsigned)mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "unknown";
}

const char *sandbox_class_name(enum sandbox_class cls)
{
    return (unsigned)cls < ARRAY_SIZE(class_names) ? class_names[cls] : "unknown";
}

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
    uint32_t action = r->fail_errno ? SCMP_ACT_ERRNO((uint32_t)r->fail_errno) : SCMP_ACT_ALLOW;
    struct scmp_arg_cmp cmp;
    switch (r->op) {
    case SANDBOX_ARG_ANY:
        return seccomp_rule_add(ctx, action, r->nr, 0);
    case SANDBOX_ARG_MASKED:
        cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_MASKED_EQ, r->mask, r->value };
        return seccomp_rule_add_array(ctx, action, r->nr, 1, &cmp);
    case SANDBOX_ARG_SELF_PID:
        cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0 };
        return seccomp_rule_add_array(ctx, action, r->nr, 1, &cmp);
    }
    return -EINVAL;
}

/* Fills ctx with the class's groups; on failure names the rule in err. */
static int add_policy(scmp_filter_ctx ctx, enum sandbox_class cls, char *err, size_t errlen)
{
    const struct sandbox_group *const *groups = sandbox_policy(cls);
    for (size_t g = 0; groups[g]; g++) {
        for (size_t i = 0; i < groups[g]->nr_rules; i++) {
            const struct sandbox_rule *r = &groups[g]->rules[i];
            int ret = add_rule(ctx, r);
            /* Groups overlap (a restart filter holds them all): a rule already there is fine. */
            if (ret == -EEXIST)
                ret = 0;
            if (ret) {
                char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);
                snprintf(err, errlen, "seccomp: cannot add %s rule %zu (%s) of the %s filter: %s",
                         groups[g]->name, i, name ? name : "?", sandbox_class_name(cls),
                         strerror(-ret));
                free(name);
                return ret;
            }
        }
    }
    return 0;
}

int sandbox_install(enum sandbox_class cls, enum sandbox_mode mode, char *err, size_t errlen)
{
    if (mode == SANDBOX_OFF)
        return 0;
    if ((unsigned)mode >= ARRAY_SIZE(mode_names) || !sandbox_policy(cls)) {
        snprintf(err, errlen, "seccomp: unknown mode %d or thread class %d", (int)mode, (int)cls);
        return -EINVAL;
    }
    /* KILL_PROCESS and LOG need API level 3 (Linux 4.14). */
    if (seccomp_api_get() < 3) {
        snprintf(err, errlen, "seccomp: this kernel or libseccomp lacks SECCOMP_RET_KILL_PROCESS "
                              "and SECCOMP_RET_LOG (need Linux 4.14); use --seccomp off");
        return -ENOTSUP;
    }
    uint32_t deny = mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = seccomp_init(deny);
    if (!ctx) {
        snprintf(err, errlen, "seccomp: cannot create the %s filter", sandbox_class_name(cls));
        return -ENOMEM;
    }
    /* A 32-bit (int 0x80) or x32 call is never ours. */
    int ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (!ret)
        ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    if (!ret)
        ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);
    if (ret) {
        snprintf(err, errlen, "seccomp: cannot set filter attributes: %s", strerror(-ret));
        goto out;
    }
    ret = add_policy(ctx, cls, err, errlen);
    if (ret)
        goto out;
    ret = seccomp_load(ctx);
    if (ret)
        snprintf(err, errlen, "seccomp: cannot load the %s filter: %s", sandbox_class_name(cls),
                 strerror(-ret));
out:
    seccomp_release(ctx);
    return ret;
}
