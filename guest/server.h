/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WGNET_GUEST_SERVER_H
#define WGNET_GUEST_SERVER_H

#include <jansson.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct agent;

#define SRV_MAX_ALLOW 16
#define SRV_MAX_CONNS 256
#define SRV_DEADLINE_MS 2000 /* a whole request, from its first byte */
#define SRV_IDLE_MS 30000 /* a new connection with no frame begun */
#define SRV_DRAIN_MS 500 /* after the reply: wait for the peer's close */

/* Who may talk to the control listeners. */
struct srv_opts {
	unsigned int vsock_allow[SRV_MAX_ALLOW]; /* CIDs; default host (2) */
	size_t n_vsock;
	uid_t uid_allow[SRV_MAX_ALLOW]; /* besides uid 0 */
	size_t n_uid;
	int deadline_ms;
};

void srv_opts_default(struct srv_opts *o);
/* "2,3" into o->vsock_allow; "1000,1001" into o->uid_allow.
 * -EINVAL on a bad list (empty item, not a number, too many). */
int srv_parse_cids(struct srv_opts *o, const char *list);
int srv_parse_uids(struct srv_opts *o, const char *list);

/* The peer checks, made right after accept(), before any byte is read.
 * 0 if the peer may talk to us, -EPERM if not (-EINVAL on a bad address). */
int srv_vsock_peer_ok(const struct srv_opts *o, const struct sockaddr_vm *svm,
		      socklen_t len);
int srv_unix_peer_ok(const struct srv_opts *o, uid_t uid);

int srv_listen_unix(const char *path);
int srv_listen_vsock(unsigned int port);

/*
 * The control server for the agent's poll loop: non-blocking, every
 * connection read as bytes arrive, so a slow client holds only its own
 * connection. srv_pollfds() fills what to watch, srv_handle() processes the
 * ready entries (entries it does not own are ignored), srv_tick() closes
 * connections past their deadline.
 */
struct srv;

struct srv *srv_new(struct agent *ag, const struct srv_opts *o, int unix_fd,
		    int vsock_fd);
void srv_free(struct srv *s);
size_t srv_nfds(const struct srv *s);
int srv_pollfds(struct srv *s, struct pollfd *fds, size_t max);
void srv_handle(struct srv *s, const struct pollfd *fds, size_t n);
int srv_timeout_ms(const struct srv *s);
void srv_tick(struct srv *s);

/* The error reply to a frame the reader refused, or NULL when there is
 * nobody to answer (timeout, reset). */
json_t *srv_frame_error(int err);
/* The reply to a decoded request: checks the envelope, dispatches.
 * *op is the request's op, NULL if the request was refused. */
json_t *srv_request(struct agent *ag, json_t *req, const char **op);

#endif
