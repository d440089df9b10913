/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Register offsets and bits of the PCI type-0 configuration header, the
 * capability IDs casulo uses, and the MSI-X structure layout, as the PCI Local
 * Bus 3.0 and PCI Express Base specifications define them. Names follow the
 * spec so that a reader can check them against it.
 */
#ifndef CASULO_PCI_PCI_REGS_H
#define CASULO_PCI_PCI_REGS_H

#define PCI_CFG_SPACE_SIZE      256
#define PCI_CFG_EXT_SPACE_SIZE  4096

#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define  PCI_COMMAND_IO         0x0001
#define  PCI_COMMAND_MEMORY     0x0002
#define  PCI_COMMAND_MASTER     0x0004
#define  PCI_COMMAND_PARITY     0x0040
#define  PCI_COMMAND_SERR       0x0100
#define  PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS              0x06
#define  PCI_STATUS_INTERRUPT   0x0008
#define  PCI_STATUS_CAP_LIST    0x0010
#define  PCI_STATUS_W1C_BITS    0xf900  /* parity/abort/SERR error bits */
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define  PCI_HEADER_TYPE_NORMAL 0x00
#define PCI_BASE_ADDRESS_0      0x10
#define  PCI_BASE_ADDRESS_SPACE_IO      0x01
#define  PCI_BASE_ADDRESS_MEM_TYPE_64   0x04
#define  PCI_BASE_ADDRESS_MEM_PREFETCH  0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_ROM_ADDRESS         0x30
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d
#define  PCI_INTERRUPT_PIN_A    1

#define PCI_NUM_BARS            6
#define PCI_CAP_START           0x40    /* first byte after the type-0 header */

#define PCI_CAP_ID_VNDR         0x09    /* vendor specific (virtio uses it) */
#define PCI_CAP_ID_MSIX         0x11

/* MSI-X capability: offsets from the capability's start. */
#define PCI_MSIX_FLAGS          2
#define  PCI_MSIX_FLAGS_QSIZE   0x07ff  /* table size - 1 */
#define  PCI_MSIX_FLAGS_MASKALL 0x4000
#define  PCI_MSIX_FLAGS_ENABLE  0x8000
#define PCI_MSIX_TABLE          4       /* offset (8-aligned) | BIR */
#define PCI_MSIX_PBA            8
#define  PCI_MSIX_BIR_MASK      0x7
#define PCI_MSIX_CAP_SIZE       12

/* One MSI-X table entry. */
#define PCI_MSIX_ENTRY_SIZE     16
#define PCI_MSIX_ENTRY_ADDR_LO  0
#define PCI_MSIX_ENTRY_ADDR_HI  4
#define PCI_MSIX_ENTRY_DATA     8
#define PCI_MSIX_ENTRY_CTRL     12
#define  PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1
#define PCI_MSIX_MAX_VECTORS    2048

/* Class codes (base class << 16 | subclass << 8 | prog-if). */
#define PCI_CLASS_BRIDGE_HOST   0x060000

/* Config mechanism #1 and ECAM address decoding. */
#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT    0xcfc
#define  PCI_CONFIG_ADDRESS_ENABLE 0x80000000u
#define PCI_ECAM_BUS_SIZE       (1u << 20)  /* 32 devices x 8 functions x 4 KiB */
#define PCI_SLOTS               32
#define PCI_DEVFN(slot, fn)     (((slot) << 3) | (fn))

#endif
