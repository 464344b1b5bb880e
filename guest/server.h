/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WGNET_GUEST_SERVER_H
#define WGNET_GUEST_SERVER_H

#include <jansson.h>
#include <stdint.h>

struct agent;

int srv_listen_unix(const char *path);
int srv_listen_vsock(unsigned int port);
void srv_accept(struct agent *ag, int lfd);
void srv_serve_stream(struct agent *ag, int fd);
/* The error reply to a frame proto_recv() refused, or NULL when there is
 * nobody to answer (timeout, reset). */
json_t *srv_frame_error(int err);
/* The reply to a decoded frame: checks type and envelope, dispatches.
 * *op is the request's op, NULL if the request was refused. */
json_t *srv_request(struct agent *ag, uint16_t type, json_t *req,
		    const char **op);

#endif
