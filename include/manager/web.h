/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The browser side of `casulo serve`: the dashboard's files (built from web/
 * and xterm.js, embedded in the binary so the daemon needs nothing on disk)
 * and the WebSocket bridge to a VM's console socket. The daemon's request
 * handler calls these after its own routing and authentication.
 */
#ifndef CASULO_MANAGER_WEB_H
#define CASULO_MANAGER_WEB_H

#include <stdbool.h>

struct MHD_Connection;

/*
 * A GET of a dashboard file ("/", "/index.html", "/assets/..."): queues the
 * response, sets *ret to the MHD_Result to return, and returns true. Any
 * other url (or method): returns false and queues nothing.
 */
bool web_serve_static(struct MHD_Connection *c, const char *url, int *ret);

/*
 * The client asked for a WebSocket: checks the Upgrade and Sec-WebSocket-*
 * headers itself (400 if wrong) and bridges it to the Unix socket
 * console_path (the VM's console.sock) until either side closes. The daemon
 * must run libmicrohttpd with MHD_ALLOW_UPGRADE. Returns the MHD_Result to
 * hand back from the access handler.
 */
int web_console_upgrade(struct MHD_Connection *c, const char *console_path);

#endif
