// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the --config JSON file: every key lands in the same field
 * its option sets, object forms equal their option strings, and each kind of
 * mistake (unknown key, wrong type, bad value, not JSON) is one message
 * naming the file and the key.
 */
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

#include "cli/config_file.h"
#include "cli/run_options.h"

static void opts_init(struct run_options *o)
{
    vm_config_init(&o->cfg);
    o->log_level = LOG_NOTICE;
    o->log_format = LOG_FORMAT_TEXT;
}

static int parse_json(const char *text, struct run_options *o, char *err, size_t errlen)
{
    opts_init(o);
    return config_file_parse("vm.json", text, strlen(text), o, err, errlen);
}

static void every_key(void **state)
{
    (void)state;
    struct run_options o;
    char err[512];
    const char *text =
        "{\n"
        "  \"kernel\": \"/k/vmlinux\", \"initrd\": \"/k/initrd\", \"cmdline\": \"console=ttyS0 a=1\",\n"
        "  \"cpus\": 3, \"memory\": \"1G\", \"console\": \"off\", \"on_reboot\": \"restart\",\n"
        "  \"disks\": [ \"path=/d/a.img,readonly=on\",\n"
        "             {\"path\": \"/d/b.img\", \"readonly\": false, \"id\": \"data\", \"serial\": \"SN1\",\n"
        "              \"io\": \"sync\", \"direct\": true, \"queues\": 2} ],\n"
        "  \"nets\": [ \"tap=tap0\", {\"tap\": \"tap1\", \"mac\": \"02:00:00:00:00:07\"} ],\n"
        "  \"rng\": true, \"log_level\": \"debug\", \"log_format\": \"json\",\n"
        "  \"api_socket\": \"/run/vm.sock\", \"start\": false\n"
        "}\n";
    assert_int_equal(parse_json(text, &o, err, sizeof(err)), 0);
    assert_string_equal(o.cfg.kernel_path, "/k/vmlinux");
    assert_string_equal(o.cfg.initrd_path, "/k/initrd");
    assert_string_equal(o.cfg.cmdline, "console=ttyS0 a=1");
    assert_int_equal(o.cfg.cpus, 3);
    assert_int_equal(o.cfg.memory, 1ULL << 30);
    assert_int_equal(o.cfg.console, CONSOLE_OFF);
    assert_int_equal(o.cfg.on_reboot, REBOOT_RESTART);
    assert_int_equal(o.cfg.nr_disks, 2);
    assert_string_equal(o.cfg.disks[0].path, "/d/a.img");
    assert_true(o.cfg.disks[0].readonly);
    assert_string_equal(o.cfg.disks[1].path, "/d/b.img");
    assert_false(o.cfg.disks[1].readonly);
    assert_string_equal(o.cfg.disks[1].id, "data");
    assert_string_equal(o.cfg.disks[1].serial, "SN1");
    assert_int_equal(o.cfg.disks[1].io, DISK_IO_SYNC);
    assert_true(o.cfg.disks[1].direct);
    assert_int_equal(o.cfg.disks[1].queues, 2);
    assert_int_equal(o.cfg.nr_nets, 2);
    assert_string_equal(o.cfg.nets[0].tap, "tap0");
    assert_true(o.cfg.nets[0].mac_random);
    assert_string_equal(o.cfg.nets[1].tap, "tap1");
    assert_false(o.cfg.nets[1].mac_random);
    assert_int_equal(o.cfg.nets[1].mac[5], 7);
    assert_true(o.cfg.rng);
    assert_int_equal(o.log_level, LOG_DEBUG);
    assert_int_equal(o.log_format, LOG_FORMAT_JSON);
    assert_string_equal(o.cfg.api_socket, "/run/vm.sock");
    assert_true(o.cfg.no_start);
    vm_config_free(&o.cfg);
}

/* An object disk is the same struct disk_config as its option string. */
static void disk_object_equals_string(void **state)
{
    (void)state;
    struct run_options a, b;
    char err[512];
    assert_int_equal(parse_json("{\"disks\": [{\"path\": \"/x/a,b.img\", \"readonly\": true, "
                                "\"io\": \"uring\", \"queues\": 4, \"id\": \"r,oot\"}]}",
                                &a, err, sizeof(err)), 0);
    assert_int_equal(parse_json("{\"disk\": [\"path=/x/a,,b.img,readonly=on,io=uring,queues=4,id=r,,oot\"]}",
                                &b, err, sizeof(err)), 0);
    assert_int_equal(a.cfg.nr_disks, 1);
    assert_int_equal(b.cfg.nr_disks, 1);
    assert_string_equal(a.cfg.disks[0].path, "/x/a,b.img");
    assert_string_equal(a.cfg.disks[0].id, "r,oot");
    assert_memory_equal(a.cfg.disks, b.cfg.disks, sizeof(struct disk_config));
    vm_config_free(&a.cfg);
    vm_config_free(&b.cfg);
}

static void other_forms(void **state)
{
    (void)state;
    struct run_options o;
    char err[512];
    /* Memory as bytes, the console as an object, the options' own spellings. */
    assert_int_equal(parse_json("{\"memory\": 268435456, \"console\": {\"file\": \"/tmp/c.log\"},"
                                " \"on-reboot\": \"exit\", \"log-level\": \"warn\","
                                " \"log-format\": \"text\", \"api-socket\": \"/s\", \"start\": true,"
                                " \"rng\": false}",
                                &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.memory, 256ULL << 20);
    assert_int_equal(o.cfg.console, CONSOLE_FILE);
    assert_string_equal(o.cfg.console_path, "/tmp/c.log");
    assert_int_equal(o.cfg.on_reboot, REBOOT_EXIT);
    assert_int_equal(o.log_level, LOG_WARN);
    assert_int_equal(o.log_format, LOG_FORMAT_TEXT);
    assert_string_equal(o.cfg.api_socket, "/s");
    assert_false(o.cfg.no_start);
    assert_false(o.cfg.rng);
    vm_config_free(&o.cfg);

    /* The socket form: an object (a comma in a path survives) or the option string. */
    assert_int_equal(parse_json("{\"console\": {\"socket\": \"/run/a,b.sock\", \"log\": \"/l\"}}", &o, err,
                                sizeof(err)), 0);
    assert_int_equal(o.cfg.console, CONSOLE_SOCKET);
    assert_string_equal(o.cfg.console_path, "/run/a,b.sock");
    assert_string_equal(o.cfg.console_log, "/l");
    vm_config_free(&o.cfg);
    assert_int_equal(parse_json("{\"console\": \"socket=/run/c.sock\"}", &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.console, CONSOLE_SOCKET);
    assert_string_equal(o.cfg.console_path, "/run/c.sock");
    assert_null(o.cfg.console_log);
    vm_config_free(&o.cfg);
    assert_int_equal(parse_json("{\"console\": \"file=/tmp/d.log\"}", &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.console, CONSOLE_FILE);
    assert_string_equal(o.cfg.console_path, "/tmp/d.log");
    vm_config_free(&o.cfg);

    /* An empty object changes nothing. */
    assert_int_equal(parse_json(" {} ", &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.cpus, 1);
    assert_int_equal(o.cfg.memory, VM_CONFIG_DEFAULT_MEMORY);
    assert_null(o.cfg.kernel_path);
    vm_config_free(&o.cfg);
}

/* Each bad file gives exactly this message. */
static void exact_messages(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "{\"x\": 1}", "config 'vm.json': unknown key 'x'" },
        { "{\"cpus\": \"2\"}", "config 'vm.json': 'cpus' must be a number" },
        { "{\"cpus\": 2.5}", "config 'vm.json': 'cpus' must be a whole number, not 2.5" },
        { "{\"kernel\": 7}", "config 'vm.json': 'kernel' must be a string" },
        { "{\"rng\": \"yes\"}", "config 'vm.json': 'rng' must be true or false" },
        { "{\"start\": 0}", "config 'vm.json': 'start' must be true or false" },
        { "{\"disks\": \"path=a\"}", "config 'vm.json': 'disks' must be an array" },
        { "{\"memory\": true}", "config 'vm.json': 'memory' must be a size (\"512M\") or a number of bytes" },
        { "{\"memory\": -5}", "config 'vm.json': 'memory' -5 is not a size" },
        { "{\"memory\": \"12Q\"}", "config 'vm.json': memory '12Q' is not a size (examples: 512M, 4G)" },
        { "{\"memory\": 0}", "config 'vm.json': memory must not be 0" },
        { "{\"cpus\": 0}", "config 'vm.json': cpus must be at least 1" },
        { "{\"cpus\": -1}", "config 'vm.json': cpus '-1' is not a number of vCPUs" },
        { "{\"console\": \"tty\"}", "config 'vm.json': console 'tty' is not one of stdio, file=PATH, socket=PATH[,log=FILE], off" },
        { "{\"console\": {\"path\": \"x\"}}", "config 'vm.json': unknown key 'path' in 'console'" },
        { "{\"console\": {}}", "config 'vm.json': 'console' object needs either \"file\" or \"socket\"" },
        { "{\"console\": {\"file\": \"/f\", \"log\": \"/l\"}}",
          "config 'vm.json': 'console.log' goes with \"socket\", not \"file\"" },
        { "{\"console\": {\"file\": \"\"}}", "config 'vm.json': 'console.file' must not be empty" },
        { "{\"on_reboot\": \"never\"}", "config 'vm.json': on-reboot 'never' is not one of exit, restart" },
        { "{\"log_level\": \"loud\"}",
          "config 'vm.json': log-level 'loud' is not one of error, warn, notice, info, debug" },
        { "{\"log_format\": \"xml\"}", "config 'vm.json': log-format 'xml' is not one of text, json" },
        { "{\"on_reboot\": \"exit\", \"on-reboot\": \"exit\"}",
          "config 'vm.json': 'on_reboot' and 'on-reboot' are the same setting; give one" },
        { "{\"disks\": [{\"path\": \"a\", \"ro\": true}]}", "config 'vm.json': unknown key 'ro' in disks[0]" },
        { "{\"disks\": [{\"readonly\": true}]}", "config 'vm.json': disks[0] needs \"path\"" },
        { "{\"disks\": [{\"path\": \"a\", \"readonly\": \"on\"}]}",
          "config 'vm.json': 'disks[0].readonly' must be true or false" },
        { "{\"disks\": [{\"path\": \"a\", \"queues\": \"2\"}]}",
          "config 'vm.json': 'disks[0].queues' must be a number" },
        { "{\"disks\": [\"path=a\", {\"path\": \"b\", \"io\": \"fast\"}]}",
          "config 'vm.json': disks[1]: io must be 'uring', 'sync' or 'auto', not 'fast'" },
        { "{\"disks\": [{\"path\": \"a\", \"queues\": 99}]}",
          "config 'vm.json': disks[0]: queues must be a number from 1 to 16, not '99'" },
        { "{\"disks\": [\"path=a,bogus=1\"]}", "config 'vm.json': disks[0]: unknown key 'bogus'" },
        { "{\"disks\": [3]}",
          "config 'vm.json': 'disks[0]' must be a string (\"path=FILE,readonly=on\") or an object" },
        { "{\"nets\": [{\"mac\": \"02:00:00:00:00:01\"}]}", "config 'vm.json': nets[0] needs \"tap\"" },
        { "{\"nets\": [{\"tap\": \"t0\", \"mac\": \"zz\"}]}",
          "config 'vm.json': nets[0]: mac 'zz' is not six hex pairs aa:bb:cc:dd:ee:ff" },
        { "{\"api_socket\": \"\"}", "config 'vm.json': api-socket path must be 1 to 107 bytes long" },
        { "[1, 2]", "config 'vm.json': must hold a JSON object ({ ... })" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run_options o;
        char err[512];
        if (parse_json(cases[i][0], &o, err, sizeof(err)) != -EINVAL)
            fail_msg("%s: accepted", cases[i][0]);
        if (strcmp(err, cases[i][1]) != 0)
            fail_msg("%s:\n  got      '%s'\n  expected '%s'", cases[i][0], err, cases[i][1]);
        vm_config_free(&o.cfg);
    }
}

static void not_json(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"cpus\": 2", "kernel=/k", "{\"cpus\": 1, \"cpus\": 2}", "", "{\"a\" 1}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run_options o;
        char err[512];
        assert_int_equal(parse_json(cases[i], &o, err, sizeof(err)), -EINVAL);
        if (strncmp(err, "config 'vm.json': not valid JSON: ", 34) != 0 || !strstr(err, "line "))
            fail_msg("%s: message '%s'", cases[i], err);
        vm_config_free(&o.cfg);
    }
}

static void too_many_devices(void **state)
{
    (void)state;
    char text[2048] = "{\"disks\": [";
    for (unsigned i = 0; i <= VM_CONFIG_MAX_DISKS; i++)
        strcat(text, i ? ",\"path=a\"" : "\"path=a\"");
    strcat(text, "]}");
    struct run_options o;
    char err[512];
    assert_int_equal(parse_json(text, &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "config 'vm.json': 'disks' holds 17 entries; at most 16");
    vm_config_free(&o.cfg);
}

static void write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void load_from_file(void **state)
{
    (void)state;
    struct run_options o;
    char err[512];
    char path[] = "/tmp/casulo-test-config-XXXXXX";
    write_temp(path, "{\"kernel\": \"/k\", \"cpus\": 2}");
    opts_init(&o);
    assert_int_equal(config_file_load(path, &o, err, sizeof(err)), 0);
    assert_string_equal(o.cfg.kernel_path, "/k");
    assert_int_equal(o.cfg.cpus, 2);
    vm_config_free(&o.cfg);
    unlink(path);

    /* Messages name the path as given. */
    opts_init(&o);
    assert_int_equal(config_file_load("/nonexistent/vm.json", &o, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "cannot open config '/nonexistent/vm.json': No such file or directory");
    assert_int_equal(config_file_load("/tmp", &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "config '/tmp' is not a regular file");

    char empty[] = "/tmp/casulo-test-config-XXXXXX";
    write_temp(empty, "");
    assert_true(config_file_load(empty, &o, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "is empty"));
    unlink(empty);

    char bad[] = "/tmp/casulo-test-config-XXXXXX";
    write_temp(bad, "{\"kernel\": \"/k\",\n \"cpus\": [] }");
    assert_int_equal(config_file_load(bad, &o, err, sizeof(err)), -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "config '%s': 'cpus' must be a number", bad);
    assert_string_equal(err, want);
    unlink(bad);
    vm_config_free(&o.cfg);
}

static int merge(const char *text, struct run_options *o, char *err, size_t errlen)
{
    return config_file_merge("request body", text, strlen(text), o, err, errlen);
}

/* PUT /vm/config: keys given replace their settings (lists too); the rest stay. */
static void merge_replaces_given_keys(void **state)
{
    (void)state;
    struct run_options o;
    char err[512];
    assert_int_equal(parse_json("{\"kernel\": \"/k/a\", \"cpus\": 2, \"memory\": \"64M\","
                                " \"disks\": [\"path=/d/a.img\", \"path=/d/b.img\"]}",
                                &o, err, sizeof(err)), 0);
    assert_int_equal(merge("{\"kernel\": \"/k/b\", \"disks\": [\"path=/d/c.img\"]}", &o, err,
                           sizeof(err)), 0);
    assert_string_equal(o.cfg.kernel_path, "/k/b");
    assert_int_equal(o.cfg.cpus, 2);
    assert_int_equal(o.cfg.memory, 64ULL << 20);
    assert_int_equal(o.cfg.nr_disks, 1);
    assert_string_equal(o.cfg.disks[0].path, "/d/c.img");
    /* An empty list removes the disks; the option spelling works as in a file. */
    assert_int_equal(merge("{\"disk\": [], \"on-reboot\": \"restart\"}", &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.nr_disks, 0);
    assert_int_equal(o.cfg.on_reboot, REBOOT_RESTART);
    /* Sixteen disks twice: a replaced list does not count the old entries. */
    char many[2048] = "{\"disks\": [";
    for (int i = 0; i < VM_CONFIG_MAX_DISKS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"path=/d/%d\"", i ? "," : "", i);
    strcat(many, "]}");
    assert_int_equal(merge(many, &o, err, sizeof(err)), 0);
    assert_int_equal(merge(many, &o, err, sizeof(err)), 0);
    assert_int_equal(o.cfg.nr_disks, VM_CONFIG_MAX_DISKS);
    vm_config_free(&o.cfg);
}

/* A bad body is one message and leaves every setting as it was. */
static void merge_error_changes_nothing(void **state)
{
    (void)state;
    struct run_options o;
    char err[512];
    assert_int_equal(parse_json("{\"kernel\": \"/k/a\", \"cpus\": 2, \"nets\": [\"tap=t0\"]}",
                                &o, err, sizeof(err)), 0);
    static const struct {
        const char *body, *msg;
    } bad[] = {
        { "{\"kernel\": \"/k/b\", \"cpus\": 0, \"nets\": []}",
          "config 'request body': cpus must be at least 1" },
        { "{\"nets\": [], \"memory\": \"lots\"}",
          "config 'request body': memory 'lots' is not a size (examples: 512M, 4G)" },
        { "{\"kernel\": \"/k/b\", \"bogus\": 1}", "config 'request body': unknown key 'bogus'" },
        { "{\"api_socket\": \"/run/x\"}",
          "config 'request body': 'api_socket' cannot be changed through the API" },
        { "[1]", "config 'request body': must hold a JSON object ({ ... })" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(merge(bad[i].body, &o, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, bad[i].msg);
        assert_string_equal(o.cfg.kernel_path, "/k/a");
        assert_int_equal(o.cfg.cpus, 2);
        assert_int_equal(o.cfg.nr_nets, 1);
        assert_string_equal(o.cfg.nets[0].tap, "t0");
    }
    assert_int_equal(merge("{\"kernel\": ", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not valid JSON"));
    /* An empty body (what the server passes for none) is not a configuration. */
    assert_int_equal(config_file_merge("request body", NULL, 0, &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not valid JSON"));
    vm_config_free(&o.cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key),
        cmocka_unit_test(disk_object_equals_string),
        cmocka_unit_test(other_forms),
        cmocka_unit_test(exact_messages),
        cmocka_unit_test(not_json),
        cmocka_unit_test(too_many_devices),
        cmocka_unit_test(load_from_file),
        cmocka_unit_test(merge_replaces_given_keys),
        cmocka_unit_test(merge_error_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
