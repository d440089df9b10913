/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration between two `casulo serve` daemons (docs/manager.md,
 * "Moving VMs between hosts"): the source daemon asks the destination
 * daemon for an incoming VM, then drives its own VMM's PUT /migrate. This
 * header holds what both sides share: how a peer daemon's address is
 * written (the --connect syntax), the client for it, how a daemon sees
 * that its incoming VMM listens (/proc/net/tcp), and the record of one
 * outgoing migration.
 */
#ifndef CASULO_MANAGER_MIGRATION_H
#define CASULO_MANAGER_MIGRATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define MGR_PEER_ADDR_MAX 512

/* A peer daemon's address: unix:PATH, /PATH, tcp:HOST:PORT or http://HOST:PORT[/]. */
struct mgr_peer {
    char unix_path[MGR_PEER_ADDR_MAX];  /* "" for TCP */
    char base_url[MGR_PEER_ADDR_MAX];   /* "http://HOST:PORT" ("http://localhost" for unix) */
    char host[256];                     /* HOST without brackets; "127.0.0.1" for unix */
};

/* 0, or -EINVAL with one line in err. */
int mgr_peer_parse(const char *addr, struct mgr_peer *p, char *err, size_t errlen) MUST_CHECK;

/*
 * One request to a peer daemon's REST API with the bearer token (NULL:
 * none). 0 with *status and *reply (parsed JSON or NULL; the caller frees
 * it), or -errno with one line in err when no answer came.
 */
int mgr_peer_request(const struct mgr_peer *p, const char *token, const char *method,
                     const char *path, json_t *body, long timeout_ms, long *status,
                     json_t **reply, char *err, size_t errlen) MUST_CHECK;

/*
 * Does the text of /proc/net/tcp or /proc/net/tcp6 show a socket listening
 * on port? Malformed lines are skipped.
 */
bool mgr_proc_net_listening(const char *text, unsigned port);

/* The source daemon's record of the last migration of a VM (the VM object's "migration"). */
struct mgr_migration {
    char status[16];        /* starting, active, completed, failed, cancelled */
    char to[MGR_PEER_ADDR_MAX];
    char url[300];          /* the destination VMM's tcp:HOST:PORT, once known */
    char error[512];
    int64_t started_at;     /* Unix time */
    int64_t finished_at;    /* 0 while it runs */
    json_t *progress;       /* the VMM's last GET /migrate, or NULL */
};

json_t *mgr_migration_json(const struct mgr_migration *mig);
void mgr_migration_free(struct mgr_migration *mig);

#endif
