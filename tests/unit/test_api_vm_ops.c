// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for api_vm_ops_kvm, the API's view of a real struct vm, on a
 * VM assembled by hand without /dev/kvm: state from the pause and stop
 * flags, pause/resume/stop through the VM core, the ACPI power button found
 * among the devices, uptime, and the statistics (guest memory, exit
 * counters, vCPU CPU time read from /proc for threads named vcpuN), and
 * the balloon entries with and without a balloon device.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/api_vm.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "devices/acpi_pm.h"
#include "devices/platform_devices.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "test_virtio_pci_driver.h"

struct fixture {
    struct vm vm;
    struct vm_config cfg;
    struct acpi_pm pm;
    int sci_level;
};

static void record_sci(void *opaque, unsigned gsi, int level)
{
    struct fixture *fx = opaque;
    fx->sci_level = level;
}

static void no_callback(void *opaque)
{
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    struct vm *vm = &fx->vm;
    vm_config_init(&fx->cfg);
    fx->cfg.cpus = 2;
    vm->cfg = &fx->cfg;
    vm->kvm_fd = vm->vm_fd = -1;   /* no KVM: pause's KVM_GET_CLOCK must not hit fd 0 */
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_cond, NULL);
    pthread_mutex_init(&vm->stop_lock, NULL);
    if (evloop_init(&vm->loop) < 0 || guest_mem_init(&vm->mem, 4 * MiB, 3 * GiB, 4 * GiB) < 0)
        return -1;
    vm->vcpus = calloc(2, sizeof(*vm->vcpus));
    if (!vm->vcpus)
        return -1;
    vm->nr_vcpus = 2;
    static const struct acpi_pm_callbacks cb = { .poweroff = no_callback, .reboot = no_callback };
    struct irq_line sci = { .set_level = record_sci, .opaque = fx, .gsi = 9 };
    if (acpi_pm_init(&fx->pm, &cb, fx, sci) < 0)
        return -1;
    vm->devices[0] = (struct device_instance){ .ops = &acpi_pm_device, .state = &fx->pm };
    vm->nr_devices = 1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    acpi_pm_destroy(&fx->pm);
    free(fx->vm.vcpus);
    guest_mem_destroy(&fx->vm.mem);
    evloop_destroy(&fx->vm.loop);
    free(fx);
    return 0;
}

static void state_pause_resume_stop(void **state)
{
    struct fixture *fx = *state;
    const struct api_vm_ops *ops = &api_vm_ops_kvm;
    void *vm = &fx->vm;
    assert_int_equal(ops->state(vm), API_VM_RUNNING);
    /* No vCPU thread runs yet, so the pause completes at once. */
    assert_int_equal(ops->pause(vm), 0);
    assert_int_equal(ops->state(vm), API_VM_PAUSED);
    assert_int_equal(ops->pause(vm), -EALREADY);
    assert_int_equal(ops->resume(vm), 0);
    assert_int_equal(ops->state(vm), API_VM_RUNNING);
    assert_int_equal(ops->resume(vm), -EALREADY);

    ops->stop(vm, "stopped through the API");
    assert_int_equal(ops->state(vm), API_VM_STOPPING);
    assert_int_equal(fx->vm.exit_reason, VM_EXIT_API_STOP);
    assert_int_equal(vm_exit_status(fx->vm.exit_reason), 0);
    assert_string_equal(fx->vm.exit_detail, "stopped through the API");
    assert_int_equal(ops->pause(vm), -ESHUTDOWN);
    assert_int_equal(ops->resume(vm), -ESHUTDOWN);
    /* The first stop reason wins. */
    ops->stop(vm, "again");
    assert_string_equal(fx->vm.exit_detail, "stopped through the API");
    assert_ptr_equal(ops->config(vm), &fx->cfg);
}

static void power_button(void **state)
{
    struct fixture *fx = *state;
    const struct api_vm_ops *ops = &api_vm_ops_kvm;
    /* No ACPI driver in the guest yet: pressed, but nobody listens. */
    assert_int_equal(ops->power_button(&fx->vm), 0);
    assert_true(fx->pm.pm1_sts & ACPI_PM1_PWRBTN_STS);
    assert_int_equal(fx->sci_level, 0);

    pthread_mutex_lock(&fx->pm.lock);
    fx->pm.pm1_en |= ACPI_PM1_PWRBTN_STS;
    fx->pm.pm1_cnt |= ACPI_PM1_CNT_SCI_EN;
    pthread_mutex_unlock(&fx->pm.lock);
    assert_int_equal(ops->power_button(&fx->vm), 1);
    assert_int_equal(fx->sci_level, 1);

    fx->vm.nr_devices = 0;
    assert_int_equal(ops->power_button(&fx->vm), -ENODEV);
}

static void uptime(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(api_vm_ops_kvm.uptime_ns(&fx->vm), 0);   /* not started */
    clock_gettime(CLOCK_MONOTONIC, &fx->vm.started_at);
    fx->vm.started_at.tv_sec -= 5;
    assert_true(api_vm_ops_kvm.uptime_ns(&fx->vm) >= 5000000000ULL);
}

struct named_thread {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy_done, quit;
};

/* Burns a little CPU, then waits to be told to go, so /proc has its CPU time. */
static void *fake_vcpu(void *arg)
{
    struct named_thread *t = arg;
    volatile uint64_t x = 0;
    for (int i = 0; i < 20000000; i++)
        x += (uint64_t)i;
    pthread_mutex_lock(&t->lock);
    t->busy_done = true;
    pthread_cond_broadcast(&t->cond);
    while (!t->quit)
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void stats(void **state)
{
    struct fixture *fx = *state;
    struct vm *vm = &fx->vm;
    uint8_t *page = guest_mem_ptr(&vm->mem, 0x10000, 4096);
    assert_non_null(page);
    memset(page, 1, 4096);
    vm->vcpus[0].exits_io = 42;
    vm->vcpus[1].exits_mmio = 9;

    struct api_vm_stats st;
    assert_int_equal(api_vm_ops_kvm.stats(vm, &st), 0);
    assert_int_equal(st.memory_bytes, 4 * MiB);
    assert_true(st.memory_touched_bytes >= 4096);
    assert_true(st.memory_touched_bytes <= 4 * MiB);
    assert_int_equal(st.nr_vcpus, 2);
    assert_int_equal(st.vcpus[0].exits_io, 42);
    assert_int_equal(st.vcpus[1].exits_mmio, 9);
    /* No thread is named vcpuN in this process: no CPU time, not a zero. */
    assert_false(st.vcpus[0].run_ns_known);
    assert_false(st.vcpus[1].run_ns_known);
    api_vm_stats_free(&st);

    struct named_thread t = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fake_vcpu, &t), 0);
    pthread_setname_np(th, "vcpu1");
    pthread_mutex_lock(&t.lock);
    while (!t.busy_done)
        pthread_cond_wait(&t.cond, &t.lock);
    pthread_mutex_unlock(&t.lock);
    assert_int_equal(api_vm_ops_kvm.stats(vm, &st), 0);
    assert_false(st.vcpus[0].run_ns_known);
    assert_true(st.vcpus[1].run_ns_known);
    assert_true(st.vcpus[1].run_ns > 0);
    api_vm_stats_free(&st);
    pthread_mutex_lock(&t.lock);
    t.quit = true;
    pthread_cond_broadcast(&t.cond);
    pthread_mutex_unlock(&t.lock);
    pthread_join(th, NULL);
}

static ssize_t no_entropy(void *opaque, void *buf, size_t len)
{
    memset(buf, 0, len);
    return (ssize_t)len;
}

/* A disk behind a real transport is reported as blkN with its five ops, the rng as rngN with one. */
static void stats_of_a_disk(void **state)
{
    struct fixture *fx = *state;
    struct vd *vd = calloc(1, sizeof(*vd));
    assert_non_null(vd);
    vd_init(vd);
    vd_add_rng(vd, no_entropy, NULL);

    char path[] = "/tmp/casulo-vmops-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 64 * 1024), 0);
    close(fd);
    char spec[64], err[256];
    snprintf(spec, sizeof(spec), "path=%s,io=sync", path);
    struct disk_config cfg;
    assert_int_equal(disk_config_parse(spec, &cfg, err, sizeof(err)), 0);
    struct vblk *vb;
    assert_int_equal(vblk_create(&vb, &cfg, &vd->loop, err, sizeof(err)), 0);
    struct virtio_pci_env env = vd_env(vd, "blk0");
    assert_int_equal(virtio_pci_create(&env, &vblk_ops, vb, &vd->vdev[vd->nr_devs]), 0);
    vd->nr_devs++;
    fx->vm.virtio[0] = vd->vdev[0];
    fx->vm.virtio[1] = vd->vdev[1];
    fx->vm.nr_virtio = 2;

    struct api_vm_stats st;
    assert_int_equal(api_vm_ops_kvm.stats(&fx->vm, &st), 0);
    assert_int_equal(st.nr_devices, 2);
    const struct api_device_stats *r = &st.devices[0];
    assert_string_equal(r->name, "rng0");
    assert_string_equal(r->kind, "virtio-rng");
    assert_int_equal(r->nr_ops, 1);
    assert_string_equal(r->ops[0].op, "fill");
    assert_int_equal(r->ops[0].requests, 0);
    const struct api_device_stats *d = &st.devices[1];
    assert_string_equal(d->name, "blk0");
    assert_string_equal(d->kind, "virtio-blk");
    static const char *const ops[] = { "read", "write", "flush", "discard", "write_zeroes" };
    assert_int_equal(d->nr_ops, ARRAY_SIZE(ops));
    for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
        assert_string_equal(d->ops[i].op, ops[i]);
        assert_int_equal(d->ops[i].requests, 0);   /* no driver ran */
        assert_int_equal(d->ops[i].errors, 0);
    }
    api_vm_stats_free(&st);

    fx->vm.nr_virtio = 0;
    vd_fini(vd);
    free(vd);
    unlink(path);
}

static void balloon_ops_need_a_balloon(void **state)
{
    struct fixture *fx = *state;
    struct balloon_info info;
    assert_null(fx->vm.balloon);
    assert_int_equal(api_vm_ops_kvm.balloon_info(&fx->vm, &info), -ENODEV);
    assert_int_equal(api_vm_ops_kvm.balloon_set_target(&fx->vm, 4096), -ENODEV);
    assert_int_equal(api_vm_ops_kvm.balloon_set_stats_interval(&fx->vm, 1), -ENODEV);

    /* A device without a transport: its driver never started, the target is still kept. */
    struct balloon *b;
    assert_int_equal(balloon_create(&b), 0);
    fx->vm.balloon = b;
    assert_int_equal(api_vm_ops_kvm.balloon_set_target(&fx->vm, 1 * MiB), 0);
    assert_int_equal(api_vm_ops_kvm.balloon_info(&fx->vm, &info), 0);
    assert_int_equal(info.target_bytes, 1 * MiB);
    assert_int_equal(info.actual_bytes, 0);
    assert_false(info.active);
    /* More than the guest's 4 MiB of RAM: refused here too, whatever the caller checked. */
    assert_int_equal(api_vm_ops_kvm.balloon_set_target(&fx->vm, 4 * MiB + 4096), -EINVAL);
    assert_int_equal(api_vm_ops_kvm.balloon_set_target(&fx->vm, 4 * MiB), 0);
    assert_int_equal(api_vm_ops_kvm.balloon_info(&fx->vm, &info), 0);
    assert_int_equal(info.target_bytes, 4 * MiB);
    assert_int_equal(api_vm_ops_kvm.balloon_set_stats_interval(&fx->vm, 5), 0);
    assert_int_equal(api_vm_ops_kvm.balloon_set_stats_interval(&fx->vm, 0), 0);
    fx->vm.balloon = NULL;
    balloon_ops.destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(state_pause_resume_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(power_button, setup, teardown),
        cmocka_unit_test_setup_teardown(uptime, setup, teardown),
        cmocka_unit_test_setup_teardown(stats, setup, teardown),
        cmocka_unit_test_setup_teardown(stats_of_a_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(balloon_ops_need_a_balloon, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
