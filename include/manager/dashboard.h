/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's two doors to the browser side (the dashboard's files and the
 * console WebSocket), which src/manager/web_*.c provide (include/manager/web.h).
 * Kept behind these two calls so the HTTP router does not depend on how
 * they are built.
 */
#ifndef CASULO_MANAGER_DASHBOARD_H
#define CASULO_MANAGER_DASHBOARD_H

#include <stdbool.h>

struct MHD_Connection;

/* A dashboard file for GET url: queues it and returns true; false for any other url. */
bool mgr_dash_serve_static(struct MHD_Connection *c, const char *url, int *ret);
/* Bridges a WebSocket request to the console socket at path; the MHD_Result to return. */
int mgr_dash_console_upgrade(struct MHD_Connection *c, const char *path);

#endif
