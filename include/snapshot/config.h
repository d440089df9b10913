/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration a snapshot keeps (record "vm.config": its disks and
 * nets) and how `casulo run --restore DIR [--disk ...] [--net ...]` merges
 * the command line into it. A restored VM keeps the snapshot's vCPUs,
 * memory, rng, disks and nets; each --disk/--net given replaces one of the
 * snapshot's, so N clones of one snapshot get N disks (copies or reflinks:
 * the original, opened read-write, is locked by the first VM that has it)
 * and N MACs.
 */
#ifndef CASULO_SNAPSHOT_CONFIG_H
#define CASULO_SNAPSHOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm_config.h"
#include "snapshot/format.h"
#include "util/compiler.h"

#define SNAP_CONFIG_RECORD "vm.config"
#define SNAP_CONFIG_VERSION 1

/* Which settings the command line (or config file) gave explicitly. */
#define SNAPSHOT_GIVEN_CPUS   (1u << 0)
#define SNAPSHOT_GIVEN_MEMORY (1u << 1)
#define SNAPSHOT_GIVEN_RNG    (1u << 2)

/* Fixed record layout, independent of the in-memory config structs. */
#define SNAP_DISK_PATH_LEN 4096
#define SNAP_DISK_ID_LEN   24
#define SNAP_NET_TAP_LEN   16

struct snap_config_head {
    uint32_t nr_disks, nr_nets;
};

struct snap_disk_v1 {
    char path[SNAP_DISK_PATH_LEN];   /* NUL-terminated */
    char id[SNAP_DISK_ID_LEN];
    char serial[SNAP_DISK_ID_LEN];
    uint8_t readonly, direct;
    uint16_t queues;
    uint32_t io;                     /* enum disk_io */
};

struct snap_net_v1 {
    char tap[SNAP_NET_TAP_LEN];
    uint8_t mac[6];
    uint8_t reserved[2];
};

/* Appends the "vm.config" record for cfg's disks and nets. */
int snap_config_save(struct snap_writer *w, const struct vm_config *cfg) MUST_CHECK;

/*
 * Decodes and checks a "vm.config" record against the header's counts:
 * every string terminated, queue counts and I/O modes valid. On success
 * *disks and *nets are calloc'ed arrays of s->nr_disks / s->nr_nets.
 */
int snap_config_load(const struct snap_record *rec, const struct snap_summary *s,
                     struct disk_config **disks, struct net_config **nets, char *err,
                     size_t errlen) MUST_CHECK;

/*
 * The merge, on decoded data. `saved_disks`/`saved_nets` may be NULL (a
 * snapshot without "vm.config"): then every disk and net must be given.
 * cfg's disks and nets are the overrides on entry and the VM's on return:
 *   - vCPUs, memory and rng come from the snapshot; when given they must
 *     be the snapshot's;
 *   - a --disk with an id replaces the snapshot's disk with that id; one
 *     without replaces the disk at its position among the id-less ones;
 *     the device-visible settings (id, serial, queues, read-only) stay the
 *     snapshot's, the backing file and its I/O mode are the override's;
 *   - each --net replaces the snapshot's net at its position: its TAP and
 *     its MAC (a clone needs a MAC of its own).
 * On failure cfg is unchanged and err holds one line.
 */
int snap_config_merge(const struct snap_summary *s, const struct disk_config *saved_disks,
                      const struct net_config *saved_nets, struct vm_config *cfg,
                      unsigned given, char *err, size_t errlen) MUST_CHECK;

/*
 * For `run --restore DIR`, before the config is validated: reads DIR/state
 * (every check of snapshot_restore_open's first step) and merges as above.
 */
int snapshot_config_merge(const char *dir, struct vm_config *cfg, unsigned given, char *err,
                          size_t errlen) MUST_CHECK;

#endif
