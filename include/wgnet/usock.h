/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_UNIX listeners, one way for every socket wgnet serves on (the host's
 * control socket, its Docker plugin socket, the guest agent's socket).
 */
#ifndef WGNET_USOCK_H
#define WGNET_USOCK_H

#include <sys/types.h>

/* mkdir -p of path's directory (0755). 0 or -errno. */
int usock_parent_dirs(const char *path);

/*
 * A listening AF_UNIX stream socket at path with the given mode, created in
 * its parent directories. A live server already there is left alone
 * (-EADDRINUSE); a stale socket file is replaced. The file has the mode from
 * bind on: there is no moment in which others may connect. sock_flags adds
 * to SOCK_STREAM | SOCK_CLOEXEC (e.g. SOCK_NONBLOCK). The fd, or -errno.
 */
int usock_listen(const char *path, mode_t mode, int sock_flags);

#endif
