/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM console: where the guest's serial output goes and where its input
 * comes from (--console stdio|file=PATH|socket=PATH[,log=FILE]|off; the
 * socket mode lives in console_socket.c). On a TTY, stdin is switched to
 * raw mode and restored on every exit path; Ctrl-A x quits, Ctrl-A Ctrl-A
 * sends a literal Ctrl-A, Ctrl-A h prints help (like QEMU).
 */
#ifndef CASULO_CORE_CONSOLE_H
#define CASULO_CORE_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "core/vm_config.h"
#include "util/compiler.h"

struct evloop;
struct console_socket;

/* Delivers guest input; returns how many bytes were taken (0 = full, retry later). */
typedef size_t (*console_input_fn)(void *opaque, const uint8_t *buf, size_t len);
typedef void (*console_quit_fn)(void *opaque);

struct console {
    enum console_mode mode;
    int in_fd;               /* -1: no input */
    int out_fd;              /* -1: output dropped */
    bool out_is_owned;       /* we opened out_fd (file=, or stdout reopened non-blocking) */
    bool raw;                /* termios changed, restore on close */
    struct termios saved;
    bool escape_pending;     /* saw Ctrl-A */
    bool input_paused;       /* receiver full; in_fd not polled */
    /* Private: the rest is only touched by console.c. */
    int ready_fd;            /* eventfd: console_input_ready() wakes the loop thread */
    bool in_pollable;        /* epoll accepts in_fd (not a regular file or /dev/null) */
    bool in_watched;         /* in_fd is currently registered on the loop */
    bool in_done;            /* EOF, read error or Ctrl-A x: no more input */
    pthread_mutex_t out_lock;
    bool out_stalled;        /* the last write timed out: later ones do not wait */
    bool out_warned;         /* the "output dropped" warning was printed */
    struct evloop *loop;
    struct console_socket *sock;  /* CONSOLE_SOCKET: clients instead of in_fd/out_fd */
    console_input_fn input;
    void *input_opaque;
    console_quit_fn quit;
    void *quit_opaque;
    uint8_t pending[256];    /* input read but not yet accepted */
    size_t pending_len, pending_off;
};

int console_open(struct console *con, const struct vm_config *cfg, char *err, size_t errlen) MUST_CHECK;
void console_close(struct console *con);

/* Guest output. Never blocks the caller for long; errors are dropped. */
void console_write(struct console *con, const void *buf, size_t len);

/* Starts reading input on `loop`; input goes to `input`, Ctrl-A x calls `quit`. */
int console_attach(struct console *con, struct evloop *loop, console_input_fn input,
                   void *input_opaque, console_quit_fn quit, void *quit_opaque) MUST_CHECK;

/* Stops delivering input (before the receiver goes away). Loop thread or before the loop runs. */
void console_detach(struct console *con);

/* The receiver has room again: resume reading input. Any thread. */
void console_input_ready(struct console *con);

/* Restores the terminal if raw; async-signal-safe (used from fatal signal handlers). */
void console_restore_tty(struct console *con);

#endif
