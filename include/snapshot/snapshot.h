/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot and restore of a whole VM, as a directory:
 *   DIR/state   the container of snapshot/format.h: vCPUs, irqchip, PIT,
 *               clock, devices, and a "memory" record naming the memory file
 *   DIR/memory  a header page, then guest RAM as one flat, sparse image that
 *               restore maps MAP_PRIVATE (pages load lazily, clones share
 *               the page cache)
 * Both files are replaced atomically; the state file is committed last and
 * names the memory file by a random id, so a crash between the two leaves a
 * snapshot that is refused, never one that restores the wrong memory.
 *
 * Restore is split into the points of vm_create() where it replaces the
 * boot path (docs/snapshot-format.md, "Restoring"):
 *   snapshot_restore_open    before /dev/kvm is opened: reads and validates
 *                            every record and the memory file; nothing else
 *   snapshot_restore_memory  instead of guest_mem_init()
 *   snapshot_restore_state   after devices and vCPUs exist (CPUID set, no
 *                            boot registers): devices, irqchip/PIT/clock, vCPUs
 */
#ifndef CASULO_SNAPSHOT_SNAPSHOT_H
#define CASULO_SNAPSHOT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/format.h"
#include "util/compiler.h"

struct vm;
struct vm_config;
struct guest_mem;

#define SNAPSHOT_STATE_FILE "state"
#define SNAPSHOT_MEMORY_FILE "memory"

/*
 * Saves a paused VM (vm_pause) into `dir`, created if missing. The VM stays
 * paused; the caller resumes or stops it. On failure nothing under the final
 * names changed and err holds one line.
 */
int snapshot_save(struct vm *vm, const char *dir, char *err, size_t errlen) MUST_CHECK;

/*
 * The steps of a save, for migration (which sends RAM itself). quiesce: a
 * paused VM's vCPUs finish their pending I/O, virtio devices finish their
 * requests, flush their disks and hold their queues still; *quiesced says
 * how many devices to give back to unquiesce (also after a failure).
 * write_state: the state container (header, [memory record when mem is not
 * NULL], clock, irqchip, PIT, config, vCPUs, devices, end) into w.
 */
int snapshot_quiesce(struct vm *vm, unsigned *quiesced, char *err, size_t errlen) MUST_CHECK;
void snapshot_unquiesce(struct vm *vm, unsigned quiesced);
struct snap_memory_ref;
int snapshot_write_state(struct vm *vm, struct snap_writer *w, const struct snap_memory_ref *mem,
                         char *err, size_t errlen) MUST_CHECK;

struct snapshot_restore;

/*
 * A restore whose records came over a migration stream (img is taken over
 * and emptied): the same checks as snapshot_restore_open without a memory
 * file, and the VM keeps its generation ID. `what` names the source in
 * messages.
 */
int snapshot_restore_from_image(struct snapshot_restore **out, struct snap_image *img,
                                const char *what, const struct vm_config *cfg, char *err,
                                size_t errlen) MUST_CHECK;

/*
 * Reads DIR/state, verifies every record (checksums, versions, sizes, the
 * vCPU count, the devices this casulo has), checks DIR/memory belongs to it,
 * and compares the VM it describes with `cfg` (vCPUs, memory, devices). May
 * pass cfg NULL to only validate (snapshot_restore_summary() then tells
 * what the VM must look like).
 */
int snapshot_restore_open(struct snapshot_restore **out, const char *dir,
                          const struct vm_config *cfg, char *err, size_t errlen) MUST_CHECK;
const struct snap_summary *snapshot_restore_summary(const struct snapshot_restore *r);
/* Every record of the state file, already verified. */
const struct snap_image *snapshot_restore_image(const struct snapshot_restore *r);
/* Maps DIR/memory as guest RAM with the usual layout around the MMIO hole. */
int snapshot_restore_memory(struct snapshot_restore *r, struct guest_mem *gm, uint64_t hole_start,
                            uint64_t high_start, char *err, size_t errlen) MUST_CHECK;
/* Loads device, VM and vCPU state into a VM built by vm_create's restore path. */
int snapshot_restore_state(struct snapshot_restore *r, struct vm *vm, char *err,
                           size_t errlen) MUST_CHECK;
void snapshot_restore_close(struct snapshot_restore *r);

#endif
