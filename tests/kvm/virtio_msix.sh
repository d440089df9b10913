#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-pci MSI-X on the rng: the virtio guest finds the MSI-X capability,
# points vector 0 (queue) and vector 1 (config) at its LAPIC, and counts the
# interrupts it takes: one per completion, none while the vector is masked
# (its PBA bit set instead), the pending one on unmask, nothing in the ISR,
# a config interrupt when the queue breaks (NEEDS_RESET). A vector beyond
# the table reads back as NO_VECTOR.
. "$(dirname "$0")/lib.sh"
kvm_require virtio.elf

casulo_run --kernel "$GUESTS/virtio.elf" --memory 128M --rng --cmdline "dev=msix"
expect_rc 0
expect_out "VIRTIO MSIX DONE"
expect_value msix_vectors 2              # num_queues + 1
expect_value table_bir 0x4
expect_value cfg_vector 0x1
expect_value q_vector 0x0
expect_value bad_vector 0xffff
expect_value status 0xf
expect_value irq_after_read 0x1
expect_value irq_while_masked 0x1
expect_value pba_while_masked 0x1
expect_value irq_after_unmask 0x2
expect_value pba_after_unmask 0x0
expect_value broken_status 0x4f
expect_value isr 0x0
expect_value irq_cfg 0x1
echo "ok"
