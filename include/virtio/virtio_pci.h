/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio 1.x modern PCI transport (virtio 1.2, section 4.1). It turns a
 * device that only knows struct virtio_device_ops into a PCI function: one
 * 64-bit memory BAR holding the common, ISR, device and notify structures
 * and the MSI-X table, vendor capabilities that point at them, feature
 * negotiation, the queues, ioeventfd kicks and MSI-X/INTx interrupts. It
 * knows nothing about any particular device. See docs/virtio-pci.md and, for
 * the threads, docs/io.md.
 */
#ifndef CASULO_VIRTIO_VIRTIO_PCI_H
#define CASULO_VIRTIO_VIRTIO_PCI_H

#include <stddef.h>
#include <stdint.h>

#include "pci/msix.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

struct pci_host;
struct pci_device;
struct msi_kvm;
struct guest_mem;
struct evloop;

#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_BASE   0x1040   /* modern device id = 0x1040 + virtio id */
#define VIRTIO_PCI_SUBSYSTEM     0x0040   /* non-transitional: 0x40 or higher */
#define VIRTIO_PCI_REVISION      1

/* Where the transport puts its structures (BAR 4, like QEMU). */
#define VIRTIO_PCI_BAR           4
#define VIRTIO_PCI_COMMON_OFF    0x0000
#define VIRTIO_PCI_ISR_OFF       0x1000
#define VIRTIO_PCI_DEVICE_OFF    0x2000
#define VIRTIO_PCI_NOTIFY_OFF    0x3000
#define VIRTIO_PCI_MSIX_OFF      0x4000   /* table, then the PBA page-aligned after it */
#define VIRTIO_PCI_REGION_SIZE   0x1000
#define VIRTIO_PCI_NOTIFY_MULT   4
/* notify: 4 bytes per queue in one page; one MSI-X vector per queue + config. */
#define VIRTIO_PCI_MAX_QUEUES    1023
#define VIRTIO_MSI_NO_VECTOR     0xffff

/* Vendor capability cfg_type values (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* struct virtio_pci_cap field offsets (from the capability's start). */
#define VIRTIO_PCI_CAP_LEN       2
#define VIRTIO_PCI_CAP_CFG_TYPE  3
#define VIRTIO_PCI_CAP_BAR       4
#define VIRTIO_PCI_CAP_OFFSET    8
#define VIRTIO_PCI_CAP_LENGTH    12
#define VIRTIO_PCI_CAP_SIZE      16
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16    /* notify_off_multiplier */
#define VIRTIO_PCI_CFG_CAP_DATA  16      /* pci_cfg_data[4] */

/* struct virtio_pci_common_cfg offsets (4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT  0x00
#define VIRTIO_PCI_COMMON_DF        0x04
#define VIRTIO_PCI_COMMON_GFSELECT  0x08
#define VIRTIO_PCI_COMMON_GF        0x0c
#define VIRTIO_PCI_COMMON_MSIX      0x10
#define VIRTIO_PCI_COMMON_NUMQ      0x12
#define VIRTIO_PCI_COMMON_STATUS    0x14
#define VIRTIO_PCI_COMMON_CFGGEN    0x15
#define VIRTIO_PCI_COMMON_Q_SELECT  0x16
#define VIRTIO_PCI_COMMON_Q_SIZE    0x18
#define VIRTIO_PCI_COMMON_Q_MSIX    0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE  0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF    0x1e
#define VIRTIO_PCI_COMMON_Q_DESC    0x20
#define VIRTIO_PCI_COMMON_Q_AVAIL   0x28
#define VIRTIO_PCI_COMMON_Q_USED    0x30
#define VIRTIO_PCI_COMMON_CFG_LEN   0x38

/* ISR bits. */
#define VIRTIO_PCI_ISR_QUEUE     0x1
#define VIRTIO_PCI_ISR_CONFIG    0x2

/* What the transport needs from the VM (or from a test). */
struct virtio_pci_env {
    struct pci_host *host;
    /*
     * MSI-X delivery: through KVM (msi) when set, otherwise through
     * msix_ops/msix_opaque (tests and fuzzing record the messages).
     */
    struct msi_kvm *msi;
    const struct pci_msix_ops *msix_ops;
    void *msix_opaque;
    /*
     * KVM_IOEVENTFD for the notify addresses: vm_fd < 0 means none (kicks
     * then take the MMIO exit path). ioctl_fn NULL means ioctl(2); tests
     * pass a stand-in, as msi_kvm allows.
     */
    int vm_fd;
    int (*ioctl_fn)(void *opaque, int fd, unsigned long req, void *arg);
    void *ioctl_opaque;
    const struct guest_mem *mem;
    /* The VM's I/O thread loop: queue kicks and status changes run there. */
    struct evloop *io_loop;
    const char *name;           /* "rng0": logs, queue names */
};

/*
 * Builds the PCI function for a device and adds it to env->host (a slot and
 * BAR addresses are assigned). dev_state is what the ops get as `dev`; on
 * success the transport owns it and calls ops->destroy from
 * virtio_pci_destroy(); on failure nothing is kept and the caller still owns
 * it. Must be called before the I/O loop runs (it registers fds on it).
 * -EINVAL for bad ops (no queues, more than VIRTIO_PCI_MAX_QUEUES, a queue
 * size that is not a power of two in 1..1024, config over 4 KiB).
 */
int virtio_pci_create(const struct virtio_pci_env *env, const struct virtio_device_ops *ops,
                      void *dev_state, struct virtio_device **out) MUST_CHECK;

/*
 * Removes the function from its host, resets and destroys the device. Call
 * with the I/O loop no longer running (evloop fds are unregistered here).
 */
void virtio_pci_destroy(struct virtio_device *vdev);

/* The PCI function (tests, and the VM for ACPI/slot information). */
struct pci_device *virtio_pci_device(struct virtio_device *vdev);
/* The device behind the transport: its ops and the state they get as `dev` (API metrics). */
const struct virtio_device_ops *virtio_pci_ops(const struct virtio_device *vdev);
void *virtio_pci_dev(struct virtio_device *vdev);
const char *virtio_pci_name(const struct virtio_device *vdev);

/* --- snapshots (virtio_pci_snap.c, docs/snapshot-format.md) --- */

struct snap_writer;
struct snap_image;

#define VIRTIO_PCI_SNAP_VERSION 1
#define VIRTIO_PCI_QUIESCE_TIMEOUT_S 30

/*
 * Asks the I/O thread to carry out any status change on its way, then have
 * the device finish its in-flight requests and flush (ops->quiesce), and to
 * hold queue kicks; waits until it did. Any thread but the I/O thread, with
 * the vCPUs paused. -ETIMEDOUT when the I/O thread does not answer.
 */
int virtio_pci_quiesce(struct virtio_device *vdev) MUST_CHECK;
/* Undoes it (does not wait): held kicks are delivered. */
void virtio_pci_resume(struct virtio_device *vdev);
/* Record names: "pci.<slot>" and "virtio.<slot>". */
void virtio_pci_record_names(const struct virtio_device *vdev, char pci[32], char virtio[32]);
/* Writes both records of a quiesced device. */
int virtio_pci_save(struct virtio_device *vdev, struct snap_writer *w) MUST_CHECK;
/*
 * Checks both records against this (freshly built, never started) device
 * without changing it; err gets one line naming the slot.
 */
int virtio_pci_check(struct virtio_device *vdev, const struct snap_image *img, char *err,
                     size_t errlen) MUST_CHECK;
/*
 * Loads checked records into a freshly built device before the I/O thread
 * runs: PCI config, BAR mappings, MSI-X and its routes, the transport, the
 * queues at their saved indices, activate(), the device state; every live
 * queue then gets one look when the I/O thread starts.
 */
int virtio_pci_load(struct virtio_device *vdev, const struct snap_image *img, char *err,
                    size_t errlen) MUST_CHECK;

#endif
