/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests from the daemon to one VMM's API socket (docs/api.md), with a
 * time limit: a hung VMM costs the caller at most that, never the daemon's
 * loop (these are called from HTTP and sampler threads, and at start-up).
 */
#ifndef CASULO_MANAGER_VMM_CLIENT_H
#define CASULO_MANAGER_VMM_CLIENT_H

#include <stddef.h>

struct mgr_vmm_reply {
    long status;        /* HTTP status; 0 when no answer came */
    char *body;         /* NUL-terminated, malloc'ed (may be NULL) */
};

/*
 * method path [body] to the socket at sock. 0 with the reply (any HTTP
 * status), or -errno with one line in err when no answer came.
 */
int mgr_vmm_request(const char *sock, const char *method, const char *path, const char *body,
                    long timeout_ms, struct mgr_vmm_reply *reply, char *err, size_t errlen);
void mgr_vmm_reply_free(struct mgr_vmm_reply *reply);

/* The "error" line of a VMM's error reply, or the body itself; for messages. */
const char *mgr_vmm_reply_error(const struct mgr_vmm_reply *reply, char *buf, size_t len);

#endif
