/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --console socket=PATH[,log=FILE]: the guest console served on a Unix
 * socket so that a manager (casulo serve, `casulo vm console`) can attach and
 * detach at will. Up to CONSOLE_SOCKET_CLIENTS clients see the guest's output,
 * each new one first gets a replay of the last CONSOLE_SOCKET_RING bytes, and
 * what any of them sends goes to the guest. Only console.c calls this.
 */
#ifndef CASULO_CORE_CONSOLE_SOCKET_H
#define CASULO_CORE_CONSOLE_SOCKET_H

#include <stddef.h>

#include "core/console.h"
#include "util/compiler.h"

#define CONSOLE_SOCKET_CLIENTS 8
#define CONSOLE_SOCKET_RING    (64 * 1024)

struct evloop;
struct console_socket;

/* Binds PATH (0600; a stale socket file is replaced, one in use refused) and opens the log. */
int console_socket_open(struct console_socket **out, const char *path, const char *log_path,
                        char *err, size_t errlen) MUST_CHECK;
/* Drops the clients, removes the socket file if it is still ours. NULL is fine. */
void console_socket_close(struct console_socket *s);

/* Guest output, from any thread; never waits for a client. */
void console_socket_write(struct console_socket *s, const void *buf, size_t len);

/* Starts accepting clients on `loop`; their bytes go to `input`. */
int console_socket_attach(struct console_socket *s, struct evloop *loop, console_input_fn input,
                          void *opaque) MUST_CHECK;
void console_socket_detach(struct console_socket *s);
/* The receiver has room again. Any thread. */
void console_socket_input_ready(struct console_socket *s);

#endif
