// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's control server: AF_UNIX and (where the kernel has it) AF_VSOCK
 * listeners. Event-driven: every connection is non-blocking and carries any
 * number of request/reply exchanges, answered in order; a frame is handled
 * when it is complete, so a slow or stalled client holds nobody else up.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "server.h"
#include "wgnet/fconn.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

int srv_listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
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
			err, "malformed message: payload is not a JSON object");
	default:
		return NULL;
	}
}

json_t *srv_request(struct agent *ag, uint16_t type, json_t *req,
		    const char **op)
{
	json_t *args = NULL;
	const char *why = NULL;
	int err;

	*op = NULL;
	if (type != PROTO_T_REQUEST)
		return proto_reply_err(-EBADMSG, "expected a request frame");
	err = proto_request_parse(req, op, &args, &why);
	if (err) {
		*op = NULL;
		return proto_reply_err(err, "malformed request: %s", why);
	}
	log_debug("request %s", *op);
	return ag_dispatch(ag, *op, args);
}

/* ---- connections ------------------------------------------------------- */

#define SRV_MAX_CONNS 512
#define SRV_FRAME_MS 2000 /* a started frame, or a reply, must finish in this */
#define SRV_DRAIN_MS 100
#define SRV_DRAIN_MAX (1U << 20)
#define SRV_FRAMES_PER_EVENT 8

struct srv_conn {
	struct fconn fc;
	uint64_t deadline; /* 0: idle between frames */
	uint64_t last; /* last activity, for eviction */
	bool draining; /* a refused frame was answered: discard, then close */
	size_t drained;
};

struct srv {
	struct agent *ag;
	int lfd[2];
	struct srv_conn *conns[SRV_MAX_CONNS];
	size_t nconns;
	/* pollfd slot -> connection (NULL for a listener), from srv_pollfds() */
	struct srv_conn *slot[SRV_MAX_CONNS + 2];
	size_t nslots;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct srv *srv_new(struct agent *ag, int lfd, int vfd)
{
	struct srv *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ag = ag;
	s->lfd[0] = lfd;
	s->lfd[1] = vfd;
	return s;
}

static void conn_free(struct srv *s, size_t i)
{
	fconn_close(&s->conns[i]->fc);
	free(s->conns[i]);
	s->conns[i] = s->conns[--s->nconns];
	s->conns[s->nconns] = NULL;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	while (s->nconns)
		conn_free(s, 0);
	free(s);
}

size_t srv_nfds(const struct srv *s)
{
	return s->nconns + 2;
}

int srv_pollfds(struct srv *s, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	if (max < srv_nfds(s))
		return -ENOSPC;
	for (int i = 0; i < 2; i++)
		if (s->lfd[i] >= 0) {
			s->slot[n] = NULL;
			fds[n++] = (struct pollfd){ .fd = s->lfd[i],
						    .events = POLLIN };
		}
	for (size_t i = 0; i < s->nconns; i++) {
		struct srv_conn *c = s->conns[i];

		s->slot[n] = c;
		fds[n++] = (struct pollfd){ .fd = c->fc.fd,
					    .events = fconn_pending(&c->fc) ?
							      POLLOUT :
							      POLLIN };
	}
	s->nslots = n;
	return (int)n;
}

/* Evict the connection idle longest: a local client cannot hold every slot. */
static void evict_one(struct srv *s)
{
	size_t best = 0;

	for (size_t i = 1; i < s->nconns; i++)
		if (s->conns[i]->last < s->conns[best]->last)
			best = i;
	log_debug("control: %u connections, closing the one idle longest",
		  SRV_MAX_CONNS);
	conn_free(s, best);
}

static void srv_accept(struct srv *s, int lfd)
{
	for (int k = 0; k < 16; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct srv_conn *c;

		if (fd < 0)
			return;
		if (s->nconns == SRV_MAX_CONNS)
			evict_one(s);
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		fconn_init(&c->fc, fd);
		c->last = now_ms();
		s->conns[s->nconns++] = c;
	}
}

/* Queue a reply and write what the socket takes. false: close it. */
static bool conn_reply(struct srv_conn *c, json_t *rep)
{
	int err = fconn_queue(&c->fc, PROTO_T_REPLY, rep);

	if (err == -EMSGSIZE) {
		json_t *e = proto_reply_err(err, "reply over the %u-byte limit",
					    PROTO_MAX_REPLY);

		err = fconn_queue(&c->fc, PROTO_T_REPLY, e);
		json_decref(e);
	}
	if (err || fconn_flush(&c->fc) < 0)
		return false;
	if (fconn_pending(&c->fc))
		c->deadline = now_ms() + SRV_FRAME_MS;
	return true;
}

/*
 * After a frame we refused, the peer may still be sending. Closing a unix
 * socket with unread data resets the peer before it reads our answer, so
 * take (a bounded amount of) what is in flight first.
 */
static bool conn_drain(struct srv_conn *c)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(c->fc.fd, buf, sizeof(buf))) > 0) {
		c->drained += (size_t)r;
		if (c->drained > SRV_DRAIN_MAX)
			return false;
	}
	return r < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Handle what is readable: at most a few frames, for fairness. */
static bool conn_input(struct srv *s, struct srv_conn *c)
{
	for (int k = 0; k < SRV_FRAMES_PER_EVENT; k++) {
		json_t *req = NULL, *rep;
		const char *op = NULL;
		uint16_t type = 0;
		int r = fconn_read(&c->fc, &type, &req);
		bool ok;

		if (r == 0) {
			if (fconn_mid_frame(&c->fc) && !c->deadline)
				c->deadline = now_ms() + SRV_FRAME_MS;
			return true;
		}
		c->deadline = 0;
		if (r < 0) {
			rep = srv_frame_error(r);
			if (!rep) {
				log_debug("control connection: %s",
					  strerror(-r));
				return false;
			}
			/* The framing is lost: answer, then close. */
			ok = conn_reply(c, rep);
			json_decref(rep);
			shutdown(c->fc.fd, SHUT_WR);
			c->draining = true;
			c->deadline = now_ms() + SRV_DRAIN_MS;
			return ok && conn_drain(c);
		}
		rep = srv_request(s->ag, type, req, &op);
		ok = conn_reply(c, rep);
		json_decref(req);
		json_decref(rep);
		if (!ok)
			return false;
		if (fconn_pending(&c->fc))
			return true; /* the next request once this reply is out */
	}
	return true;
}

static bool conn_ready(struct srv *s, struct srv_conn *c, short revents)
{
	c->last = now_ms();
	if (c->draining) {
		if (fconn_pending(&c->fc) && fconn_flush(&c->fc) < 0)
			return false;
		return conn_drain(c);
	}
	if (fconn_pending(&c->fc)) {
		int r = fconn_flush(&c->fc);

		if (r < 0)
			return false;
		if (r == 0)
			return true;
		c->deadline = 0;
		/* Requests the client sent meanwhile are waiting. */
		return conn_input(s, c);
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		return conn_input(s, c);
	return true;
}

void srv_handle(struct srv *s, const struct pollfd *fds, size_t n)
{
	bool gone[SRV_MAX_CONNS + 2] = { false };

	if (n > s->nslots)
		n = s->nslots;
	for (size_t i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (!s->slot[i])
			srv_accept(s, fds[i].fd);
		else if (!conn_ready(s, s->slot[i], fds[i].revents))
			gone[i] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!gone[i])
			continue;
		for (size_t k = 0; k < s->nconns; k++)
			if (s->conns[k] == s->slot[i]) {
				conn_free(s, k);
				break;
			}
	}
	s->nslots = 0;
}

int srv_timeout_ms(const struct srv *s)
{
	uint64_t now = now_ms(), next = 0;

	for (size_t i = 0; i < s->nconns; i++) {
		uint64_t d = s->conns[i]->deadline;

		if (d && (!next || d < next))
			next = d;
	}
	if (!next)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

void srv_tick(struct srv *s)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < s->nconns;) {
		struct srv_conn *c = s->conns[i];

		if (c->deadline && c->deadline <= now) {
			if (!c->draining)
				log_debug(
					"control connection: frame or reply not done in %d ms",
					SRV_FRAME_MS);
			conn_free(s, i);
			continue;
		}
		i++;
	}
}
