// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for manager/migration: the destination daemon's address as
 * `vm migrate --to` gives it, the /proc/net/tcp reading that tells a
 * destination its incoming VMM listens, and the migration record's JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "manager/migration.h"

static void parses_unix_addresses(void **state)
{
    (void)state;
    struct mgr_peer p;
    char err[256];
    assert_int_equal(mgr_peer_parse("unix:/run/casulo/casulo.sock", &p, err, sizeof(err)), 0);
    assert_string_equal(p.unix_path, "/run/casulo/casulo.sock");
    assert_string_equal(p.base_url, "http://localhost");
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(mgr_peer_parse("/tmp/d.sock", &p, err, sizeof(err)), 0);
    assert_string_equal(p.unix_path, "/tmp/d.sock");
    /* A relative path means nothing to a daemon with another working directory. */
    assert_int_equal(mgr_peer_parse("unix:rel.sock", &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "absolute"));
}

static void parses_tcp_and_http_addresses(void **state)
{
    (void)state;
    struct mgr_peer p;
    char err[256];
    assert_int_equal(mgr_peer_parse("tcp:host-b.example:7070", &p, err, sizeof(err)), 0);
    assert_string_equal(p.unix_path, "");
    assert_string_equal(p.base_url, "http://host-b.example:7070");
    assert_string_equal(p.host, "host-b.example");
    assert_int_equal(mgr_peer_parse("http://10.0.0.2:8080/", &p, err, sizeof(err)), 0);
    assert_string_equal(p.base_url, "http://10.0.0.2:8080");
    assert_string_equal(p.host, "10.0.0.2");
    assert_int_equal(mgr_peer_parse("tcp:[fd00::2]:7070", &p, err, sizeof(err)), 0);
    assert_string_equal(p.base_url, "http://[fd00::2]:7070");
    assert_string_equal(p.host, "fd00::2");
}

static void refuses_bad_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "otherhost", "tcp:host", "tcp::7070", "tcp:host:", "tcp:host:0", "tcp:host:65536",
        "tcp:host:80x", "http://host", "http://host:80/api", "tcp:fd00::2:7070", "tcp:[fd00::2:7070",
        "http://user@host:80", "ftp://host:21",
    };
    struct mgr_peer p;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(mgr_peer_parse(bad[i], &p, err, sizeof(err)), -EINVAL);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(mgr_peer_parse(NULL, &p, err, sizeof(err)), -EINVAL);
}

static const char tcp_table[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
    "   1: 0100007F:AB12 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
    "   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n"
    "garbage line\n"
    "   3: 0100007F:ZZZZ 00000000:0000 0A\n";

static const char tcp6_table[] =
    "  sl  local_address                         remote_address                        st\n"
    "   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 0 0\n";

static void finds_listening_ports(void **state)
{
    (void)state;
    assert_true(mgr_proc_net_listening(tcp_table, 0x1F90));   /* 8080, LISTEN */
    assert_true(mgr_proc_net_listening(tcp_table, 22));
    /* A connected socket on that local port is not a listener. */
    assert_false(mgr_proc_net_listening(tcp_table, 0xAB12));
    assert_false(mgr_proc_net_listening(tcp_table, 9000));
    assert_true(mgr_proc_net_listening(tcp6_table, 9000));
    assert_false(mgr_proc_net_listening("", 22));
    assert_false(mgr_proc_net_listening("   0: 0100007F:0016 00000000:0000", 22));
}

static void migration_json_shows_what_is_known(void **state)
{
    (void)state;
    struct mgr_migration *mig = calloc(1, sizeof(*mig));
    assert_non_null(mig);
    strcpy(mig->status, "failed");
    strcpy(mig->to, "/run/b.sock");
    strcpy(mig->error, "the destination closed the connection");
    mig->started_at = 100;
    json_t *o = mgr_migration_json(mig);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(o, "error")), mig->error);
    assert_true(json_is_null(json_object_get(o, "url")));
    assert_true(json_is_null(json_object_get(o, "finished_at")));
    assert_true(json_is_null(json_object_get(o, "progress")));
    json_decref(o);
    mig->progress = json_pack("{s:s, s:i}", "status", "failed", "bytes_sent", 4096);
    mig->finished_at = 105;
    o = mgr_migration_json(mig);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "progress"),
                                                        "bytes_sent")), 4096);
    assert_int_equal(json_integer_value(json_object_get(o, "finished_at")), 105);
    json_decref(o);
    mgr_migration_free(mig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_unix_addresses),
        cmocka_unit_test(parses_tcp_and_http_addresses),
        cmocka_unit_test(refuses_bad_addresses),
        cmocka_unit_test(finds_listening_ports),
        cmocka_unit_test(migration_json_shows_what_is_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
