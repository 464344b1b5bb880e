/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WGNET_GUEST_SERVER_H
#define WGNET_GUEST_SERVER_H

struct agent;

int srv_listen_unix(const char *path);
int srv_listen_vsock(unsigned int port);
void srv_accept(struct agent *ag, int lfd);
void srv_serve_stream(struct agent *ag, int fd);

#endif
