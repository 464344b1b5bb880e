// SPDX-License-Identifier: GPL-2.0
/*
 * A guest's one connection (docs/control-plane.md, "Connections"): kept
 * across calls, used by one caller at a time (the guest's call_mu), every
 * exchange under a deadline for the whole call (dial, send, receive), not
 * per system call: a guest that accepts and never answers costs one
 * deadline, whatever it trickles.
 *
 * Each request carries an id the reply echoes (docs/protocol.md): a reply
 * with another id answers a request whose caller gave up (a VM's serial
 * port has no connection boundaries, so it can still be in the stream) and
 * is skipped; bytes that are not a reply frame are skipped up to the next
 * "WGNT". A missed deadline or a broken stream closes the connection; a
 * kept connection found broken is dialled again once at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left = deadline - host_now_ms();
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	do
		rc = poll(&p, 1, (int)left);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc ? 0 : -ETIMEDOUT;
}

/* Sockets (unix, vsock) and, for a character device such as a serial
 * port, read/write; the descriptor is non-blocking either way. */
static ssize_t io_send(int fd, const uint8_t *buf, size_t len)
{
	ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0 && errno == ENOTSOCK)
		w = write(fd, buf, len);
	return w;
}

static ssize_t io_recv(int fd, uint8_t *buf, size_t len)
{
	ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

	if (r < 0 && errno == ENOTSOCK)
		r = read(fd, buf, len);
	return r;
}

static int send_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t w = io_send(fd, buf, len);
		int rc;

		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t r = io_recv(fd, buf, len);
		int rc;

		if (r > 0) {
			buf += r;
			len -= (size_t)r;
			continue;
		}
		if (!r)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

/* One frame typed as a reply, skipping whatever precedes it. -ETIMEDOUT,
 * -ECONNRESET (EOF) or another transport error. */
static int recv_frame(int fd, int64_t deadline, json_t **out)
{
	uint8_t hdr[PROTO_HDR_LEN], *body;
	struct proto_hdr h;
	size_t got = 0, skip;
	int rc;

	*out = NULL;
	for (;;) {
		rc = recv_all(fd, hdr + got, sizeof(hdr) - got, deadline);
		if (rc)
			return rc;
		got = sizeof(hdr);
		skip = proto_resync(hdr, got);
		if (!skip && proto_hdr_decode(hdr, got, PROTO_T_REPLY, &h))
			skip = 4; /* a magic, but no reply header: past it */
		if (skip) {
			log_debug("guest connection: skipped %zu bytes", skip);
			memmove(hdr, hdr + skip, got - skip);
			got -= skip;
			continue;
		}
		body = malloc(h.len ? h.len : 1);
		if (!body)
			return -ENOMEM;
		rc = recv_all(fd, body, h.len, deadline);
		if (!rc && proto_payload_decode(body, h.len, out)) {
			/* A frame cut short and overwritten by the next
			 * one: look for the frame after it. */
			log_debug("guest connection: skipped a bad payload");
			rc = 1;
		}
		free(body);
		if (rc <= 0)
			return rc;
		got = 0;
	}
}

static int send_request(struct gconn *c, const char *op, json_t *args,
			uint64_t id, int64_t deadline, bool *too_big)
{
	uint8_t hdr[PROTO_HDR_LEN];
	json_t *req;
	char *text;
	size_t len;
	int rc;

	req = json_pack("{s:s}", "op", op);
	if (args)
		json_object_set(req, "args", args);
	if (!c->no_ids)
		json_object_set_new(req, "id", json_integer((json_int_t)id));
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	*too_big = len > PROTO_MAX_PAYLOAD;
	if (*too_big) {
		free(text);
		return 0;
	}
	proto_hdr_encode(hdr, PROTO_T_REQUEST, (uint32_t)len);
	rc = send_all(c->fd, hdr, sizeof(hdr), deadline);
	if (!rc)
		rc = send_all(c->fd, (uint8_t *)text, len, deadline);
	free(text);
	return rc;
}

int gconn_exchange(struct gconn *c, const char *op, json_t *args,
		   int64_t deadline, json_t **reply)
{
	bool retried = false, too_big;
	uint64_t id;
	int rc;

	*reply = NULL;
again:
	id = ++c->next_id & (uint64_t)INT64_MAX;
	rc = send_request(c, op, args, id, deadline, &too_big);
	if (rc)
		return rc;
	if (too_big) {
		/* Nothing sent: the connection stays usable. */
		*reply = proto_reply_err(-EMSGSIZE,
					 "request %s over the %u-byte limit",
					 op, PROTO_MAX_PAYLOAD);
		return *reply ? 0 : -ENOMEM;
	}
	for (;;) {
		rc = recv_frame(c->fd, deadline, reply);
		if (rc)
			return rc;
		switch (proto_reply_match(*reply, id, !c->no_ids)) {
		case PROTO_M_OURS:
			return 0;
		case PROTO_M_NO_IDS:
			json_decref(*reply);
			*reply = NULL;
			if (retried)
				return -EPROTO;
			/* An agent older than ids: ask again without one. */
			c->no_ids = true;
			retried = true;
			goto again;
		case PROTO_M_STALE:
			c->stale++;
			log_debug("guest connection: skipped a stale reply");
			json_decref(*reply);
			*reply = NULL;
			break;
		}
	}
}

void gconn_init(struct gconn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void gconn_close(struct gconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->no_ids = false;
	c->addr[0] = '\0';
}

static bool broken(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN;
}

int gconn_call(struct gconn *c, const char *addr, const char *op, json_t *args,
	       int64_t deadline, json_t **reply)
{
	bool reused;
	int rc;

	*reply = NULL;
	if (c->fd >= 0 && strcmp(c->addr, addr))
		gconn_close(c); /* the guest's control address changed */
	reused = c->fd >= 0;
again:
	if (c->fd < 0) {
		int64_t left = deadline - host_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		rc = proto_dial(addr, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc < 0)
			return rc;
		c->fd = rc;
		c->dials++;
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
	}
	rc = gconn_exchange(c, op, args, deadline, reply);
	if (!rc)
		return 0;
	/* A missed deadline leaves the stream mid-exchange: never reuse it
	 * (on a serial port, closing is what makes the agent drop a frame
	 * cut short; a late reply is told apart by its id). */
	gconn_close(c);
	if (reused && broken(rc)) {
		/* The guest closed the kept connection (it restarted, or
		 * evicted an idle one): one new connection at once. */
		reused = false;
		goto again;
	}
	return rc;
}

int gconn_reply(json_t *rep, json_t **result, char **errmsg)
{
	json_int_t code;
	const char *msg;

	if (json_is_true(json_object_get(rep, "ok"))) {
		if (result) {
			*result = json_object_get(rep, "result");
			*result = *result ? json_incref(*result) :
					    json_object();
		}
		return 0;
	}
	code = json_integer_value(json_object_get(rep, "code"));
	msg = json_str(rep, "error");
	if (errmsg)
		*errmsg = strdup(msg ? msg : "unknown error");
	if (result) /* ESTALE carries the guest's generation */
		*result = json_incref(rep);
	return code > 0 && code < 4096 ? -(int)code : -EIO;
}
