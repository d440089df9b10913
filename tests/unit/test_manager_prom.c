// SPDX-License-Identifier: Apache-2.0
/* Unit tests for manager/prom: the daemon's reader of a VMM's GET /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "manager/prom.h"

static void sums_the_families_it_keeps(void **state)
{
    (void)state;
    static const char text[] =
        "# HELP casulo_vcpu_run_seconds_total Seconds in KVM_RUN.\n"
        "# TYPE casulo_vcpu_run_seconds_total counter\n"
        "casulo_vcpu_run_seconds_total{vcpu=\"0\"} 1.5\n"
        "casulo_vcpu_run_seconds_total{vcpu=\"1\"} 2.25\n"
        "casulo_uptime_seconds 12.000\n"
        "casulo_guest_memory_bytes 16777216\n"
        "casulo_balloon_actual_bytes 4096\n"
        "casulo_device_bytes_total{device=\"vda\",kind=\"virtio-blk\",op=\"read\"} 1000\n"
        "casulo_device_bytes_total{device=\"vdb\",kind=\"virtio-blk\",op=\"read\"} 24\n"
        "casulo_device_bytes_total{device=\"vda\",kind=\"virtio-blk\",op=\"write\"} 512\n"
        "casulo_device_bytes_total{device=\"vda\",kind=\"virtio-blk\",op=\"flush\"} 7\n"
        "casulo_device_bytes_total{device=\"eth0\",kind=\"virtio-net\",op=\"rx\"} 300\n"
        "casulo_device_bytes_total{device=\"eth0\",kind=\"virtio-net\",op=\"tx\"} 200\n"
        "casulo_device_requests_total{device=\"vda\",kind=\"virtio-blk\",op=\"read\"} 99\n";
    struct mgr_vmm_metrics m;
    assert_int_equal(mgr_prom_parse(text, &m), 10);
    assert_true(m.vcpu_seconds > 3.74 && m.vcpu_seconds < 3.76);
    assert_true(m.uptime_s > 11.9 && m.uptime_s < 12.1);
    assert_int_equal(m.memory_bytes, 16777216);
    assert_int_equal(m.balloon_actual_bytes, 4096);
    assert_int_equal(m.disk_read_bytes, 1024);
    assert_int_equal(m.disk_write_bytes, 512);
    assert_int_equal(m.net_rx_bytes, 300);
    assert_int_equal(m.net_tx_bytes, 200);
}

static void escaped_labels_and_braces(void **state)
{
    (void)state;
    /* A device name with an escaped quote, a comma and a brace must not shift the labels. */
    static const char text[] =
        "casulo_device_bytes_total{device=\"a\\\"b,c}\",kind=\"virtio-net\",op=\"tx\"} 42\n";
    struct mgr_vmm_metrics m;
    assert_int_equal(mgr_prom_parse(text, &m), 1);
    assert_int_equal(m.net_tx_bytes, 42);
}

static void malformed_lines_are_skipped(void **state)
{
    (void)state;
    static const char text[] =
        "casulo_guest_memory_bytes\n"
        "casulo_guest_memory_bytes abc\n"
        "casulo_guest_memory_bytes 12 extra\n"
        "casulo_device_bytes_total{kind=\"virtio-blk\",op=\"read\" 5\n"
        "casulo_device_bytes_total{kind=\"virtio-blk\"} 5\n"
        "casulo_device_bytes_total{kind=\"virtio-blk,op=\"read\"} 5\n"
        "casulo_vcpu_run_seconds_total{vcpu=\"0\"} -3\n"
        "casulo_vcpu_run_seconds_total{vcpu=\"0\"} nan\n"
        "casulo_guest_memory_bytes 1e30\n"
        "{} 1\n"
        "\n"
        "casulo_uptime_seconds 3";   /* no final newline: still read */
    struct mgr_vmm_metrics m;
    mgr_prom_parse(text, &m);
    assert_int_equal(m.memory_bytes, 0);
    assert_int_equal(m.disk_read_bytes, 0);
    assert_true(m.vcpu_seconds == 0);
    assert_true(m.uptime_s > 2.9 && m.uptime_s < 3.1);
    assert_int_equal(mgr_prom_parse("", &m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sums_the_families_it_keeps),
        cmocka_unit_test(escaped_labels_and_braces),
        cmocka_unit_test(malformed_lines_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
