// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's control server: AF_UNIX and (where the kernel has it) AF_VSOCK
 * listeners. Peers are checked right after accept(), before a byte is read:
 * a vsock peer must come from an allowed CID (the host), a unix peer must be
 * uid 0 or an allowed uid (SO_PEERCRED). Connections are non-blocking and
 * read as bytes arrive; each request must be complete within its deadline
 * (counted from its first byte), so a slow client holds only its own
 * connection, never the agent or its DNS service. A connection carries any
 * number of requests, answered in order: after a reply to a well-formed
 * frame it goes back to reading (the host keeps one open per guest); after
 * a refused frame the framing is lost and it is drained and closed. See
 * docs/protocol.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "server.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"
#include "wgnet/usock.h"

enum conn_state { C_RX, C_TX, C_DRAIN };

struct srv_conn {
	int fd;
	enum conn_state st;
	struct proto_rx rx;
	uint64_t deadline;
	uint8_t *out;
	size_t out_len, out_off;
	size_t drained;
	bool keep; /* the frame was well-formed: read the next one */
	bool served; /* answered a request: no idle limit, evictable */
	uint64_t last; /* last activity, for eviction */
	char peer[48];
};

struct srv {
	struct agent *ag;
	struct srv_opts o;
	int ufd, vfd;
	struct srv_conn conns[SRV_MAX_CONNS];
	size_t n;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void srv_opts_default(struct srv_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->vsock_allow[0] = VMADDR_CID_HOST;
	o->n_vsock = 1;
	o->deadline_ms = SRV_DEADLINE_MS;
}

/* A comma-separated list of unsigned numbers below @max. */
static int parse_list(const char *list, unsigned long max, unsigned long *out,
		      size_t *n)
{
	const char *p = list;

	*n = 0;
	if (!list || !*list)
		return -EINVAL;
	for (;;) {
		unsigned long v;
		char *end;

		if (*p < '0' || *p > '9' || *n >= SRV_MAX_ALLOW)
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v > max)
			return -EINVAL;
		out[(*n)++] = v;
		if (!*end)
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

int srv_parse_cids(struct srv_opts *o, const char *list)
{
	unsigned long v[SRV_MAX_ALLOW];
	size_t n;
	int err = parse_list(list, UINT_MAX - 1, v, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		/* VMADDR_CID_ANY would mean everyone: not an allow-list. */
		if (v[i] == VMADDR_CID_ANY)
			return -EINVAL;
		o->vsock_allow[i] = (unsigned int)v[i];
	}
	o->n_vsock = n;
	return 0;
}

int srv_parse_uids(struct srv_opts *o, const char *list)
{
	unsigned long v[SRV_MAX_ALLOW];
	size_t n;
	int err = parse_list(list, UINT_MAX - 1, v, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		o->uid_allow[i] = (uid_t)v[i];
	o->n_uid = n;
	return 0;
}

int srv_vsock_peer_ok(const struct srv_opts *o, const struct sockaddr_vm *svm,
		      socklen_t len)
{
	if (len < (socklen_t)sizeof(*svm) || svm->svm_family != AF_VSOCK)
		return -EINVAL;
	for (size_t i = 0; i < o->n_vsock; i++)
		if (svm->svm_cid == o->vsock_allow[i])
			return 0;
	return -EPERM;
}

int srv_unix_peer_ok(const struct srv_opts *o, uid_t uid)
{
	if (uid == 0)
		return 0;
	for (size_t i = 0; i < o->n_uid; i++)
		if (uid == o->uid_allow[i])
			return 0;
	return -EPERM;
}

/* 0600: only root (and the uids the peer check allows) talk to the agent. */
int srv_listen_unix(const char *path)
{
	return usock_listen(path, 0600, SOCK_NONBLOCK);
}

int srv_listen_vsock(unsigned int port)
{
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK,
				   .svm_cid = VMADDR_CID_ANY,
				   .svm_port = port };
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 ||
	    listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

json_t *srv_frame_error(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return proto_reply_err(err, "message over the %u-byte limit",
				       PROTO_MAX_PAYLOAD);
	case -EPROTONOSUPPORT:
		return proto_reply_err(
			err,
			"unsupported protocol version (this agent speaks %d)",
			PROTO_VERSION);
	case -EPROTO:
		return proto_reply_err(err, "bad magic: not a wgnet frame");
	case -EBADMSG:
		return proto_reply_err(
			err,
			"malformed message: not a request frame, or the payload is not a JSON object");
	default:
		return NULL;
	}
}

json_t *srv_request(struct agent *ag, json_t *req, const char **op)
{
	json_t *args = NULL, *rep;
	const char *why = NULL;
	int err;

	*op = NULL;
	err = proto_request_parse(req, op, &args, &why);
	if (err) {
		*op = NULL;
		rep = proto_reply_err(err, "malformed request: %s", why);
	} else {
		log_debug("request %s", *op);
		rep = ag_dispatch(ag, *op, args);
	}
	/* The request's id, so a client on a kept connection or a serial
	 * port can tell this reply from a stale one (docs/protocol.md). */
	proto_reply_echo_id(rep, req);
	return rep;
}

/* --- connections ---------------------------------------------------------- */

static void conn_close(struct srv *s, struct srv_conn *c)
{
	close(c->fd);
	proto_rx_reset(&c->rx);
	free(c->out);
	*c = s->conns[--s->n];
	memset(&s->conns[s->n], 0, sizeof(s->conns[s->n]));
}

/* Queue the reply; the connection then only writes. */
static void conn_reply(struct srv_conn *c, json_t *rep)
{
	char *body = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
	size_t len = body ? strlen(body) : 0;

	c->st = C_TX;
	c->deadline = now_ms() + SRV_DEADLINE_MS;
	c->out_off = 0;
	c->out_len = 0;
	if (!body || len > PROTO_MAX_REPLY)
		goto out;
	c->out = malloc(PROTO_HDR_LEN + len);
	if (!c->out)
		goto out;
	proto_hdr_encode(c->out, PROTO_T_REPLY, (uint32_t)len);
	memcpy(c->out + PROTO_HDR_LEN, body, len);
	c->out_len = PROTO_HDR_LEN + len;
out:
	free(body);
}

/* Reply sent: wait for the next request, with no limit while idle. */
static void conn_next(struct srv_conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->st = C_RX;
	c->served = true;
	c->deadline = UINT64_MAX;
	proto_rx_reset(&c->rx);
}

static void conn_start_drain(struct srv_conn *c)
{
	free(c->out);
	c->out = NULL;
	c->st = C_DRAIN;
	c->drained = 0;
	c->deadline = now_ms() + SRV_DRAIN_MS;
	/* The peer sees EOF after the reply; what it still sends is read and
	 * dropped (closing with unread data would reset the connection before
	 * it read the reply). */
	shutdown(c->fd, SHUT_WR);
}

/* 0: keep the connection, <0: close it. */
static int conn_read(struct srv *s, struct srv_conn *c)
{
	json_t *req = NULL, *rep;
	const char *op = NULL;
	bool fresh = !proto_rx_started(&c->rx);
	int err;

	err = proto_rx_read(&c->rx, c->fd, &req);
	if (fresh && proto_rx_started(&c->rx))
		c->deadline = now_ms() + (uint64_t)s->o.deadline_ms;
	if (err == -EAGAIN)
		return 0;
	if (err) {
		rep = srv_frame_error(err);
		if (!rep) {
			log_debug("control %s: %s", c->peer, strerror(-err));
			return err;
		}
		s->ag->ctl.bad_frames++;
		log_info("control %s: refused frame: %s", c->peer,
			 strerror(-err));
		c->keep = false;
	} else {
		rep = srv_request(s->ag, req, &op);
		c->keep = true;
	}
	conn_reply(c, rep);
	json_decref(req);
	json_decref(rep);
	return 0;
}

static int conn_write(struct srv_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		c->out_off += (size_t)w;
	}
	if (c->keep) {
		conn_next(c);
		return 0;
	}
	conn_start_drain(c);
	return 0;
}

static int conn_drain(struct srv_conn *c)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(c->fd, buf, sizeof(buf))) > 0) {
		c->drained += (size_t)r;
		if (c->drained > PROTO_MAX_PAYLOAD)
			return -EMSGSIZE;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -ECONNRESET; /* EOF: done */
}

static void conn_event(struct srv *s, struct srv_conn *c, short revents)
{
	int err = 0;

	c->last = now_ms();
	if (c->st == C_RX && (revents & (POLLIN | POLLHUP | POLLERR)))
		err = conn_read(s, c);
	if (!err && c->st == C_TX)
		err = conn_write(c);
	else if (!err && c->st == C_DRAIN &&
		 (revents & (POLLIN | POLLHUP | POLLERR)))
		err = conn_drain(c);
	if (err)
		conn_close(s, c);
}

/* --- accept and peer checks ----------------------------------------------- */

static int check_peer(struct srv *s, int lfd, int fd,
		      const struct sockaddr_vm *svm, socklen_t len, char *peer,
		      size_t plen)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (lfd == s->vfd) {
		snprintf(peer, plen, "vsock cid %u",
			 len >= (socklen_t)sizeof(*svm) ? svm->svm_cid : 0);
		if (srv_vsock_peer_ok(&s->o, svm, len)) {
			s->ag->ctl.refused_vsock++;
			return -EPERM;
		}
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		snprintf(peer, plen, "unix (no credentials)");
		s->ag->ctl.refused_uid++;
		return -EPERM;
	}
	snprintf(peer, plen, "unix pid %d uid %u", cred.pid, cred.uid);
	if (srv_unix_peer_ok(&s->o, cred.uid)) {
		s->ag->ctl.refused_uid++;
		return -EPERM;
	}
	return 0;
}

/* Full: close the persistent connection idle longest, if any. */
static void evict_idle(struct srv *s)
{
	struct srv_conn *best = NULL;

	for (size_t i = 0; i < s->n; i++) {
		struct srv_conn *c = &s->conns[i];

		if (c->served && c->st == C_RX && !proto_rx_started(&c->rx) &&
		    (!best || c->last < best->last))
			best = c;
	}
	if (best) {
		log_info("control: %d connections open, closing the idle %s",
			 SRV_MAX_CONNS, best->peer);
		conn_close(s, best);
	}
}

static void srv_accept(struct srv *s, int lfd)
{
	for (int i = 0; i < 16; i++) {
		struct sockaddr_vm svm = { 0 };
		socklen_t len = sizeof(svm);
		char peer[48];
		struct srv_conn *c;
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&svm, &len,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (check_peer(s, lfd, fd, &svm, len, peer, sizeof(peer))) {
			log_warn(
				"control: refused %s (not an allowed peer; %llu vsock, %llu unix refused so far)",
				peer,
				(unsigned long long)s->ag->ctl.refused_vsock,
				(unsigned long long)s->ag->ctl.refused_uid);
			close(fd);
			continue;
		}
		if (s->n >= SRV_MAX_CONNS)
			evict_idle(s);
		if (s->n >= SRV_MAX_CONNS) {
			s->ag->ctl.conns_full++;
			log_warn("control: %d connections open, refused %s",
				 SRV_MAX_CONNS, peer);
			close(fd);
			continue;
		}
		c = &s->conns[s->n++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->st = C_RX;
		proto_rx_init(&c->rx, PROTO_T_REQUEST);
		c->deadline = now_ms() + SRV_IDLE_MS;
		c->last = now_ms();
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
		s->ag->ctl.accepted++;
	}
}

/* --- the poll-loop interface ----------------------------------------------- */

struct srv *srv_new(struct agent *ag, const struct srv_opts *o, int unix_fd,
		    int vsock_fd)
{
	struct srv *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ag = ag;
	s->o = *o;
	if (s->o.deadline_ms <= 0)
		s->o.deadline_ms = SRV_DEADLINE_MS;
	s->ufd = unix_fd;
	s->vfd = vsock_fd;
	return s;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	while (s->n)
		conn_close(s, &s->conns[0]);
	free(s);
}

size_t srv_nfds(const struct srv *s)
{
	return s->n + (s->ufd >= 0) + (s->vfd >= 0);
}

int srv_pollfds(struct srv *s, struct pollfd *fds, size_t max)
{
	size_t k = 0;

	if (max < srv_nfds(s))
		return -ENOSPC;
	if (s->ufd >= 0)
		fds[k++] = (struct pollfd){ .fd = s->ufd, .events = POLLIN };
	if (s->vfd >= 0)
		fds[k++] = (struct pollfd){ .fd = s->vfd, .events = POLLIN };
	for (size_t i = 0; i < s->n; i++)
		fds[k++] = (struct pollfd){ .fd = s->conns[i].fd,
					    .events = s->conns[i].st == C_TX ?
							      POLLOUT :
							      POLLIN };
	return (int)k;
}

static struct srv_conn *conn_by_fd(struct srv *s, int fd)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->conns[i].fd == fd)
			return &s->conns[i];
	return NULL;
}

void srv_handle(struct srv *s, const struct pollfd *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct srv_conn *c;

		if (!fds[i].revents || fds[i].fd < 0)
			continue;
		if (fds[i].fd == s->ufd || fds[i].fd == s->vfd) {
			srv_accept(s, fds[i].fd);
			continue;
		}
		c = conn_by_fd(s, fds[i].fd);
		if (c)
			conn_event(s, c, fds[i].revents);
	}
}

int srv_timeout_ms(const struct srv *s)
{
	uint64_t now = now_ms(), first = UINT64_MAX;

	for (size_t i = 0; i < s->n; i++)
		if (s->conns[i].deadline < first)
			first = s->conns[i].deadline;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

void srv_tick(struct srv *s)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < s->n;) {
		struct srv_conn *c = &s->conns[i];

		if (c->deadline > now) {
			i++;
			continue;
		}
		if (c->st == C_RX && proto_rx_started(&c->rx)) {
			s->ag->ctl.deadline_missed++;
			log_warn(
				"control %s: request not complete within %d ms, closed (%llu so far)",
				c->peer, s->o.deadline_ms,
				(unsigned long long)s->ag->ctl.deadline_missed);
		} else if (c->st == C_TX) {
			s->ag->ctl.deadline_missed++;
			log_warn(
				"control %s: reply not taken within %d ms, closed",
				c->peer, SRV_DEADLINE_MS);
		}
		conn_close(s, c); /* the last one moved here: look at i again */
	}
}
