/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WGNET_GUEST_SERVER_H
#define WGNET_GUEST_SERVER_H

#include <jansson.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct srv;

int srv_listen_unix(const char *path);
int srv_listen_vsock(unsigned int port);
/* The error reply to a frame proto_recv() refused, or NULL when there is
 * nobody to answer (timeout, reset). */
json_t *srv_frame_error(int err);
/* The reply to a decoded frame: checks type and envelope, dispatches.
 * *op is the request's op, NULL if the request was refused. */
json_t *srv_request(struct agent *ag, uint16_t type, json_t *req,
		    const char **op);

/*
 * The event-driven server over the listeners (-1: none), polled by the
 * caller's loop like the DNS server: srv_pollfds() fills its descriptors,
 * srv_handle() takes back that same slice of the polled array.
 */
struct srv *srv_new(struct agent *ag, int lfd, int vfd);
void srv_free(struct srv *s); /* closes the connections, not the listeners */
size_t srv_nfds(const struct srv *s);
int srv_pollfds(struct srv *s, struct pollfd *fds, size_t max);
void srv_handle(struct srv *s, const struct pollfd *fds, size_t n);
/* ms to the next deadline (0: one passed), -1 if none. */
int srv_timeout_ms(const struct srv *s);
/* Close connections past their deadline. */
void srv_tick(struct srv *s);

#endif
