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
        { "--console", "tty", "stdio, file=PATH, socket=PATH[,log=FILE], off" }, { "--console", "file=", "stdio" },
        { "--on-reboot", "sometimes", "exit, restart" }, { "--log-level", "loud", "error, warn" },
        { "--log-format", "xml", "text, json" }, { "--api-socket", "", "1 to 107 bytes" },
        { "--config", "/nonexistent/vm.json", "cannot open config '/nonexistent/vm.json'" },
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

static void new_flags(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    assert_int_equal(parse(ARGC("--kernel", "k", "--log-format", "json", "--api-socket", "/run/a.sock"),
                           ARGV("--kernel", "k", "--log-format", "json", "--api-socket", "/run/a.sock"),
                           &o, err),
                     RUN_PARSE_OK);
    assert_int_equal(o.log_format, LOG_FORMAT_JSON);
    assert_string_equal(o.cfg.api_socket, "/run/a.sock");
    assert_false(o.cfg.no_start);
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--kernel", "k"), ARGV("--kernel", "k"), &o, err), RUN_PARSE_OK);
    assert_int_equal(o.log_format, LOG_FORMAT_TEXT);
    assert_string_equal(o.cfg.api_socket, "");
    vm_config_free(&o.cfg);
}

/* --console socket=PATH[,log=FILE]: either order, ",," for a literal comma. */
static void console_socket_option(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        { "socket=/run/vm.sock", "/run/vm.sock", NULL },
        { "socket=/run/a,,b.sock,log=/var/log/c.log", "/run/a,b.sock", "/var/log/c.log" },
        { "log=/l,socket=/s", "/s", "/l" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run_options o;
        char err[256];
        char *argv[] = { "run", "--kernel", "k", "--console", (char *)cases[i][0], NULL };
        assert_int_equal(run_options_parse(5, argv, &o, err, sizeof(err)), RUN_PARSE_OK);
        assert_int_equal(o.cfg.console, CONSOLE_SOCKET);
        assert_string_equal(o.cfg.console_path, cases[i][1]);
        if (cases[i][2])
            assert_string_equal(o.cfg.console_log, cases[i][2]);
        else
            assert_null(o.cfg.console_log);
        vm_config_free(&o.cfg);
    }
}

/* --incoming: no kernel needed, only tcp:ADDR:PORT, not with --restore or --no-start. */
static void incoming(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    assert_int_equal(parse(ARGC("--incoming", "tcp:0.0.0.0:4444", "--memory", "64M"),
                           ARGV("--incoming", "tcp:0.0.0.0:4444", "--memory", "64M"), &o, err),
                     RUN_PARSE_OK);
    assert_string_equal(o.cfg.incoming, "tcp:0.0.0.0:4444");
    assert_null(o.cfg.kernel_path);
    assert_int_equal(vm_config_validate(&o.cfg, 0, err, sizeof(err)), 0);
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--incoming", "unix:/x"), ARGV("--incoming", "unix:/x"), &o, err),
                     RUN_PARSE_BAD_VALUE);
    assert_non_null(strstr(err, "tcp:ADDR:PORT"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--incoming", "tcp:h:1", "--restore", "/d"),
                           ARGV("--incoming", "tcp:h:1", "--restore", "/d"), &o, err),
                     RUN_PARSE_BAD_VALUE);
    assert_non_null(strstr(err, "--restore"));
    vm_config_free(&o.cfg);
}

/* Writes a config file into path (a mkstemp template). */
static void write_config(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void config_file_then_flags(void **state)
{
    (void)state;
    char path[] = "/tmp/casulo-test-vm-XXXXXX";
    write_config(path, "{\"kernel\": \"file.elf\", \"cpus\": 2, \"memory\": \"1G\", "
                       "\"cmdline\": \"from-file\", \"disks\": [\"path=a.img\", \"path=b.img\"], "
                       "\"nets\": [\"tap=t0\"], \"log_level\": \"info\"}");
    struct run_options o;
    char err[256];

    /* The file alone. */
    assert_int_equal(parse(ARGC("--config", path), ARGV("--config", path), &o, err), RUN_PARSE_OK);
    assert_string_equal(o.cfg.kernel_path, "file.elf");
    assert_int_equal(o.cfg.cpus, 2);
    assert_int_equal(o.cfg.memory, 1ULL << 30);
    assert_int_equal(o.cfg.nr_disks, 2);
    assert_int_equal(o.cfg.nr_nets, 1);
    assert_int_equal(o.log_level, LOG_INFO);
    vm_config_free(&o.cfg);

    /* Flags win wherever --config stands; what they do not name keeps the file's value. */
    assert_int_equal(parse(ARGC("--cpus", "4", "--config", path, "--kernel=flag.elf"),
                           ARGV("--cpus", "4", "--config", path, "--kernel=flag.elf"), &o, err),
                     RUN_PARSE_OK);
    assert_int_equal(o.cfg.cpus, 4);
    assert_string_equal(o.cfg.kernel_path, "flag.elf");
    assert_int_equal(o.cfg.memory, 1ULL << 30);
    assert_string_equal(o.cfg.cmdline, "from-file");
    vm_config_free(&o.cfg);

    /* --disk on the command line replaces the file's disks (not appends); --net likewise. */
    assert_int_equal(parse(ARGC("--disk", "path=c.img", "--config", path, "--disk", "path=d.img"),
                           ARGV("--disk", "path=c.img", "--config", path, "--disk", "path=d.img"), &o, err),
                     RUN_PARSE_OK);
    assert_int_equal(o.cfg.nr_disks, 2);
    assert_string_equal(o.cfg.disks[0].path, "c.img");
    assert_string_equal(o.cfg.disks[1].path, "d.img");
    assert_int_equal(o.cfg.nr_nets, 1);
    assert_string_equal(o.cfg.nets[0].tap, "t0");
    vm_config_free(&o.cfg);

    /* "--config" as the value of another option is that value, not a config file. */
    assert_int_equal(parse(ARGC("--kernel", "k", "--cmdline", "--config"),
                           ARGV("--kernel", "k", "--cmdline", "--config"), &o, err),
                     RUN_PARSE_OK);
    assert_string_equal(o.cfg.cmdline, "--config");
    assert_int_equal(o.cfg.cpus, 1);
    vm_config_free(&o.cfg);

    assert_int_equal(parse(ARGC("--config", path, "--config", path), ARGV("--config", path, "--config", path),
                           &o, err),
                     RUN_PARSE_USAGE);
    assert_non_null(strstr(err, "--config given twice"));
    vm_config_free(&o.cfg);

    /* A bad file is reported in the log format the command line asks for. */
    assert_int_equal(parse(ARGC("--config", "/nonexistent", "--log-format", "json"),
                           ARGV("--config", "/nonexistent", "--log-format", "json"), &o, err),
                     RUN_PARSE_BAD_VALUE);
    assert_int_equal(o.log_format, LOG_FORMAT_JSON);
    vm_config_free(&o.cfg);

    /* Help wins over a file that would not parse. */
    assert_int_equal(parse(ARGC("--config", "/nonexistent", "--help"),
                           ARGV("--config", "/nonexistent", "--help"), &o, err),
                     RUN_PARSE_HELP);
    vm_config_free(&o.cfg);
    unlink(path);
}

static void config_file_completeness(void **state)
{
    (void)state;
    struct run_options o;
    char err[256], want[256];
    char nokernel[] = "/tmp/casulo-test-vm-XXXXXX";
    write_config(nokernel, "{\"cpus\": 2}");
    assert_int_equal(parse(ARGC("--config", nokernel), ARGV("--config", nokernel), &o, err),
                     RUN_PARSE_BAD_VALUE);
    snprintf(want, sizeof(want), "config '%s': no \"kernel\" (and no --kernel PATH)", nokernel);
    assert_string_equal(err, want);
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--config", nokernel, "--kernel", "k"),
                           ARGV("--config", nokernel, "--kernel", "k"), &o, err),
                     RUN_PARSE_OK);
    vm_config_free(&o.cfg);
    unlink(nokernel);

    /* "start": false waits for the API, so it needs a socket, and the kernel may come later. */
    char nostart[] = "/tmp/casulo-test-vm-XXXXXX";
    write_config(nostart, "{\"start\": false}");
    assert_int_equal(parse(ARGC("--config", nostart), ARGV("--config", nostart), &o, err),
                     RUN_PARSE_BAD_VALUE);
    assert_non_null(strstr(err, "needs an API socket"));
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--config", nostart, "--api-socket", "/run/s"),
                           ARGV("--config", nostart, "--api-socket", "/run/s"), &o, err),
                     RUN_PARSE_OK);
    assert_true(o.cfg.no_start);
    assert_null(o.cfg.kernel_path);
    vm_config_free(&o.cfg);
    unlink(nostart);

    /* --no-start is the same as "start": false, with its own message. */
    assert_int_equal(parse(ARGC("--no-start", "--kernel", "k"), ARGV("--no-start", "--kernel", "k"),
                           &o, err),
                     RUN_PARSE_BAD_VALUE);
    assert_string_equal(err, "--no-start needs --api-socket PATH to start the VM");
    vm_config_free(&o.cfg);
    assert_int_equal(parse(ARGC("--no-start", "--api-socket", "/run/s"),
                           ARGV("--no-start", "--api-socket", "/run/s"), &o, err),
                     RUN_PARSE_OK);
    assert_true(o.cfg.no_start);
    assert_null(o.cfg.kernel_path);
    vm_config_free(&o.cfg);

    /* A bad file is a bad value (exit 1), its message unchanged. */
    char bad[] = "/tmp/casulo-test-vm-XXXXXX";
    write_config(bad, "{\"kernel\": \"k\", \"bogus\": 1}");
    assert_int_equal(parse(ARGC("--config", bad), ARGV("--config", bad), &o, err), RUN_PARSE_BAD_VALUE);
    snprintf(want, sizeof(want), "config '%s': unknown key 'bogus'", bad);
    assert_string_equal(err, want);
    vm_config_free(&o.cfg);
    unlink(bad);
}

static void set_by_name(void **state)
{
    (void)state;
    struct run_options o;
    char err[256];
    vm_config_init(&o.cfg);
    assert_int_equal(run_options_set(&o, "memory", "2G", err, sizeof(err)), RUN_PARSE_OK);
    assert_int_equal(o.cfg.memory, 2ULL << 30);
    assert_int_equal(run_options_set(&o, "rng", NULL, err, sizeof(err)), RUN_PARSE_OK);
    assert_true(o.cfg.rng);
    assert_int_equal(run_options_set(&o, "cpus", "0", err, sizeof(err)), RUN_PARSE_BAD_VALUE);
    assert_string_equal(err, "--cpus must be at least 1");
    assert_int_equal(run_options_set(&o, "nope", "1", err, sizeof(err)), RUN_PARSE_USAGE);
    assert_int_equal(run_options_set(&o, "config", "x", err, sizeof(err)), RUN_PARSE_USAGE);
    assert_int_equal(run_options_set(&o, "memory", NULL, err, sizeof(err)), RUN_PARSE_USAGE);
    assert_int_equal(run_options_set(&o, "rng", "1", err, sizeof(err)), RUN_PARSE_USAGE);
    vm_config_free(&o.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_everything),
        cmocka_unit_test(incoming),
        cmocka_unit_test(defaults),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(validate_checks_files_and_sizes),
        cmocka_unit_test(new_flags),
        cmocka_unit_test(console_socket_option),
        cmocka_unit_test(config_file_then_flags),
        cmocka_unit_test(config_file_completeness),
        cmocka_unit_test(set_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
