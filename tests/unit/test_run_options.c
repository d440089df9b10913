// SPDX-License-Identifier: Apache-2.0
/* Unit tests for `casulo run` option parsing and config validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/run_options.h"
#include "core/vm_config.h"

#define ARGV(...) ((char *[]){ "run", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "run", __VA_ARGS__ }) / sizeof(char *)))

static enum run_parse_result parse(int argc, char **argv, struct run_options *o, char *err)
{
    return run_options_parse(argc, argv, o, err, 256);
}

static void parses_everything(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    char **argv = ARGV("--kernel", "k.elf", "--initrd", "i.cpio", "--cmdline", "console=ttyS0 x=1",
                       "--cpus", "4", "--memory", "4G", "--console", "file=/tmp/c.log",
                       "--on-reboot", "restart", "--log-level", "debug");
    assert_int_equal(parse(ARGC("--kernel", "k.elf", "--initrd", "i.cpio", "--cmdline", "c",
                                "--cpus", "4", "--memory", "4G", "--console", "file=/tmp/c.log",
                                "--on-reboot", "restart", "--log-level", "debug"),
                           argv, &o, err),
                     RUN_PARSE_OK);
    assert_string_equal(o.cfg.kernel_path, "k.elf");
    assert_string_equal(o.cfg.initrd_path, "i.cpio");
    assert_string_equal(o.cfg.cmdline, "console=ttyS0 x=1");
    assert_int_equal(o.cfg.cpus, 4);
    assert_int_equal(o.cfg.memory, 4ULL << 30);
    assert_int_equal(o.cfg.console, CONSOLE_FILE);
    assert_string_equal(o.cfg.console_path, "/tmp/c.log");
    assert_int_equal(o.cfg.on_reboot, REBOOT_RESTART);
    assert_int_equal(o.log_level, LOG_DEBUG);
    vm_config_free(&o.cfg);
}

static void defaults(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    assert_int_equal(parse(ARGC("--kernel=k"), ARGV("--kernel=k"), &o, err), RUN_PARSE_OK);
    assert_int_equal(o.cfg.cpus, 1);
    assert_int_equal(o.cfg.memory, 512ULL << 20);
    assert_int_equal(o.cfg.console, CONSOLE_STDIO);
    assert_int_equal(o.cfg.on_reboot, REBOOT_EXIT);
    assert_null(o.cfg.initrd_path);
    vm_config_free(&o.cfg);
}

static void usage_errors(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    assert_int_equal(parse(ARGC("--kernel", "k", "--bogus"), ARGV("--kernel", "k", "--bogus"), &o, err),
                     RUN_PARSE_USAGE);
    assert_non_null(strstr(err, "--bogus"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--kernel"), ARGV("--kernel"), &o, err), RUN_PARSE_USAGE);
    assert_non_null(strstr(err, "--kernel"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--cpus", "2"), ARGV("--cpus", "2"), &o, err), RUN_PARSE_USAGE);
    assert_non_null(strstr(err, "--kernel"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--kernel", "k", "extra"), ARGV("--kernel", "k", "extra"), &o, err),
                     RUN_PARSE_USAGE);
    assert_non_null(strstr(err, "extra"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--help"), ARGV("--help"), &o, err), RUN_PARSE_HELP);
    vm_config_free(&o.cfg);
}

static void bad_values(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        { "--memory", "abc", "not a size" }, { "--memory", "0", "must not be 0" },
        { "--memory", "99999999999T", "too large" }, { "--cpus", "0", "at least 1" },
        { "--cpus", "-1", "not a number" }, { "--cpus", "2x", "not a number" },
        { "--console", "tty", "stdio, file=PATH, off" }, { "--console", "file=", "stdio" },
        { "--on-reboot", "sometimes", "exit, restart" }, { "--log-level", "loud", "error, warn" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run_options o;
        char err[256];
        char *argv[] = { "run", "--kernel", "k", (char *)cases[i][0], (char *)cases[i][1], NULL };
        assert_int_equal(run_options_parse(5, argv, &o, err, sizeof(err)), RUN_PARSE_BAD_VALUE);
        if (!strstr(err, cases[i][2]))
            fail_msg("%s %s: message '%s' lacks '%s'", cases[i][0], cases[i][1], err, cases[i][2]);
        vm_config_free(&o.cfg);
    }
}

static void validate_checks_files_and_sizes(void **state)
{
    (void)state;
    char path[] = "/tmp/casulo-test-kernel-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);

    struct vm_config cfg;
    char err[256];
    vm_config_init(&cfg);
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--kernel"));

    cfg.kernel_path = strdup("/nonexistent/kernel");
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/kernel"));

    free(cfg.kernel_path);
    cfg.kernel_path = strdup("/tmp");
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));

    free(cfg.kernel_path);
    cfg.kernel_path = strdup(path);
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), 0);
    cfg.cpus = 9;
    assert_int_equal(vm_config_validate(&cfg, 8, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "allows (8)"));
    cfg.cpus = 1;
    cfg.memory = host_memory_total() + (1ULL << 30);
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "more than this host has"));
    cfg.memory = 1 << 20;
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too small"));
    cfg.memory = 64 << 20;
    cfg.initrd_path = strdup("/nonexistent/initrd");
    assert_int_equal(vm_config_validate(&cfg, 0, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "initrd"));
    vm_config_free(&cfg);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_everything),
        cmocka_unit_test(defaults),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(validate_checks_files_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
