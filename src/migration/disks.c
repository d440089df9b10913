// SPDX-License-Identifier: Apache-2.0
/*
 * Disks over shared storage at the handover: every read-write image is
 * locked by exactly one VM, so the source drops its locks once the disks
 * are flushed and the state is sent, and the destination (which opened
 * them unlocked) takes them before it says READY. A failure rolls back
 * what it changed.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "core/vm.h"
#include "migration/migration.h"
#include "virtio/blk.h"
#include "virtio/virtio_pci.h"

int mig_disks_set_locked(struct vm *vm, bool locked, char *err, size_t errlen)
{
    unsigned done;
    int ret = 0;
    for (done = 0; done < vm->nr_virtio && !ret; done++) {
        if (virtio_pci_ops(vm->virtio[done]) != &vblk_ops)
            continue;
        ret = vblk_set_locked(virtio_pci_dev(vm->virtio[done]), locked, err, errlen);
        if (ret)
            break;
    }
    if (!ret)
        return 0;
    char ignored[200];
    for (unsigned i = 0; i < done; i++)
        if (virtio_pci_ops(vm->virtio[i]) == &vblk_ops &&
            vblk_set_locked(virtio_pci_dev(vm->virtio[i]), !locked, ignored, sizeof(ignored)))
            break;
    return ret;
}

int mig_disks_relock(struct vm *vm, char *err, size_t errlen)
{
    /* The destination releases its locks when it exits after a failure: give it a moment. */
    int ret = 0;
    for (int i = 0; i < 50; i++) {
        ret = mig_disks_set_locked(vm, true, err, errlen);
        if (ret != -EBUSY)
            return ret;
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
    }
    return ret;
}
