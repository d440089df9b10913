// SPDX-License-Identifier: Apache-2.0
/*
 * libmicrohttpd, loaded when the first API server starts (see lazylib.h).
 * Each wrapper has the library's prototype and forwards to the real symbol.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>

#include "util/lazylib.h"

#define MHD_SONAME "libmicrohttpd.so.12"

static struct {
    pthread_once_t once;
    bool ok;
    char why[256];
    struct MHD_Daemon *(*start_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                   MHD_AccessHandlerCallback, void *, va_list);
    void (*stop)(struct MHD_Daemon *);
    const union MHD_DaemonInfo *(*info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
    struct MHD_Response *(*from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
    enum MHD_Result (*add_header)(struct MHD_Response *, const char *, const char *);
    enum MHD_Result (*queue)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
    void (*destroy)(struct MHD_Response *);
    /* The dashboard's console: WebSocket upgrade. */
    const char *(*lookup)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
    struct MHD_Response *(*for_upgrade)(MHD_UpgradeHandler, void *);
    enum MHD_Result (*upgrade_action)(struct MHD_UpgradeResponseHandle *, enum MHD_UpgradeAction, ...);
} mhd = { .once = PTHREAD_ONCE_INIT };

static void load(void)
{
    void *h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(mhd.why, sizeof(mhd.why), "cannot load %s: %s", MHD_SONAME, dlerror());
        return;
    }
    struct { void **slot; const char *name; } syms[] = {
        { (void **)&mhd.start_va, "MHD_start_daemon_va" },
        { (void **)&mhd.stop, "MHD_stop_daemon" },
        { (void **)&mhd.info, "MHD_get_daemon_info" },
        { (void **)&mhd.from_buffer, "MHD_create_response_from_buffer" },
        { (void **)&mhd.add_header, "MHD_add_response_header" },
        { (void **)&mhd.queue, "MHD_queue_response" },
        { (void **)&mhd.destroy, "MHD_destroy_response" },
        { (void **)&mhd.lookup, "MHD_lookup_connection_value" },
        { (void **)&mhd.for_upgrade, "MHD_create_response_for_upgrade" },
        { (void **)&mhd.upgrade_action, "MHD_upgrade_action" },
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(mhd.why, sizeof(mhd.why), "%s lacks %s", MHD_SONAME, syms[i].name);
            return;
        }
    }
    mhd.ok = true;
}

bool lazy_mhd_load(char *err, size_t errlen)
{
    pthread_once(&mhd.once, load);
    if (!mhd.ok && err)
        snprintf(err, errlen, "%s", mhd.why);
    return mhd.ok;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    if (!lazy_mhd_load(NULL, 0))
        return NULL;
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d = mhd.start_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

/* Only called on a daemon that MHD_start_daemon returned, so the library is loaded. */
void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    mhd.stop(daemon);
}

/* The info types casulo asks for take no extra arguments. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
    return mhd.info(daemon, info_type);
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return mhd.from_buffer(size, buffer, mode);
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return mhd.add_header(response, header, content);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return mhd.queue(connection, status_code, response);
}

void MHD_destroy_response(struct MHD_Response *response)
{
    mhd.destroy(response);
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    return mhd.lookup(connection, kind, key);
}

struct MHD_Response *MHD_create_response_for_upgrade(MHD_UpgradeHandler upgrade_handler,
                                                     void *upgrade_handler_cls)
{
    return mhd.for_upgrade(upgrade_handler, upgrade_handler_cls);
}

/* The actions casulo uses (close, cork on/off) take no extra arguments. */
enum MHD_Result MHD_upgrade_action(struct MHD_UpgradeResponseHandle *urh,
                                   enum MHD_UpgradeAction action, ...)
{
    return mhd.upgrade_action(urh, action);
}
