// SPDX-License-Identifier: GPL-2.0
/* Framing and JSON envelope of the wgnet control protocol (docs/protocol.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "wgnet/proto.h"

uint32_t proto_max_len(uint16_t type)
{
	return type == PROTO_T_REPLY ? PROTO_MAX_REPLY : PROTO_MAX_PAYLOAD;
}

int proto_hdr_decode(const uint8_t *buf, size_t n, uint16_t expect,
		     struct proto_hdr *h)
{
	uint16_t v, t;
	uint32_t len;

	if (n < PROTO_HDR_LEN)
		return -EBADMSG;
	if (memcmp(buf, PROTO_MAGIC, 4))
		return -EPROTO;
	memcpy(&v, buf + 4, 2);
	memcpy(&t, buf + 6, 2);
	memcpy(&len, buf + 8, 4);
	h->version = ntohs(v);
	h->type = ntohs(t);
	h->len = ntohl(len);
	if (h->version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	/* The reader's role, never the header, picks the limit: a frame
	 * typed as a reply on a server's side is refused, and whatever its
	 * type says, a server never reads more than PROTO_MAX_PAYLOAD. */
	if (h->type != expect)
		return -EBADMSG;
	if (h->len > proto_max_len(expect))
		return -EMSGSIZE;
	return 0;
}

void proto_hdr_encode(uint8_t *buf, uint16_t type, uint32_t len)
{
	uint16_t v = htons(PROTO_VERSION), t = htons(type);
	uint32_t l = htonl(len);

	memcpy(buf, PROTO_MAGIC, 4);
	memcpy(buf + 4, &v, 2);
	memcpy(buf + 6, &t, 2);
	memcpy(buf + 8, &l, 4);
}

int proto_payload_decode(const uint8_t *buf, size_t n, json_t **out)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	/* JSON_REJECT_DUPLICATES: one meaning per message. */
	j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return -EBADMSG;
	if (!json_is_object(j)) {
		json_decref(j);
		return -EBADMSG;
	}
	*out = j;
	return 0;
}

int proto_msg_id(json_t *msg, uint64_t *id)
{
	json_t *j = json_object_get(msg, "id");

	if (!j)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -EBADMSG;
	if (id)
		*id = (uint64_t)json_integer_value(j);
	return 1;
}

void proto_reply_echo_id(json_t *rep, json_t *req)
{
	uint64_t id;

	if (rep && proto_msg_id(req, &id) == 1)
		json_object_set_new(rep, "id", json_integer((json_int_t)id));
}

/* An old agent refuses a request with "id" as malformed (any unknown field
 * was refused before ids existed), with no id in its reply. */
static bool refuses_ids(json_t *rep)
{
	const char *e = json_str(rep, "error");

	return json_is_false(json_object_get(rep, "ok")) &&
	       json_integer_value(json_object_get(rep, "code")) == EBADMSG &&
	       e && strstr(e, "unknown field");
}

enum proto_match proto_reply_match(json_t *rep, uint64_t id, bool with_id)
{
	uint64_t got;
	int has = proto_msg_id(rep, &got);

	if (!with_id)
		/* No id sent: a reply with one answers some other client. */
		return has ? PROTO_M_STALE : PROTO_M_OURS;
	if (has == 1)
		return got == id ? PROTO_M_OURS : PROTO_M_STALE;
	if (has < 0)
		return PROTO_M_STALE;
	if (refuses_ids(rep))
		return PROTO_M_NO_IDS;
	/* Without an id, only a frame-level refusal can be ours (the agent
	 * could not read the request, so not its id either); anything else
	 * answers an earlier client that sent no id. */
	switch (json_integer_value(json_object_get(rep, "code"))) {
	case EBADMSG:
	case EPROTO:
	case EPROTONOSUPPORT:
	case EMSGSIZE:
		return json_is_false(json_object_get(rep, "ok")) ?
			       PROTO_M_OURS :
			       PROTO_M_STALE;
	default:
		return PROTO_M_STALE;
	}
}

size_t proto_resync(const uint8_t *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t k = n - i < 4 ? n - i : 4;

		if (!memcmp(buf + i, PROTO_MAGIC, k))
			return i;
	}
	return n;
}

int proto_request_parse(json_t *req, const char **op, json_t **args,
			const char **why)
{
	json_t *jop = json_object_get(req, "op");
	json_t *jargs = json_object_get(req, "args");
	const char *key;
	json_t *v;

	json_object_foreach(req, key, v) {
		if (strcmp(key, "op") && strcmp(key, "args") &&
		    strcmp(key, "id")) {
			*why = "unknown field in request";
			return -EBADMSG;
		}
	}
	if (proto_msg_id(req, NULL) < 0) {
		*why = "id must be an integer from 0 to 2^63-1";
		return -EBADMSG;
	}
	if (!json_is_string(jop) || !json_string_length(jop)) {
		*why = "request has no op";
		return -EBADMSG;
	}
	if (jargs && !json_is_object(jargs) && !json_is_null(jargs)) {
		*why = "args must be an object";
		return -EBADMSG;
	}
	*op = json_string_value(jop);
	*args = json_is_object(jargs) ? jargs : NULL;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int proto_send(int fd, uint16_t type, json_t *payload)
{
	char *body;
	size_t len;
	uint8_t *buf;
	int err;

	body = json_dumps(payload, JSON_COMPACT);
	if (!body)
		return -ENOMEM;
	len = strlen(body);
	if (len > proto_max_len(type)) {
		free(body);
		return -EMSGSIZE;
	}
	buf = malloc(PROTO_HDR_LEN + len);
	if (!buf) {
		free(body);
		return -ENOMEM;
	}
	proto_hdr_encode(buf, type, (uint32_t)len);
	memcpy(buf + PROTO_HDR_LEN, body, len);
	err = write_all(fd, buf, PROTO_HDR_LEN + len);
	free(buf);
	free(body);
	return err;
}

static int recv_frame(int fd, uint16_t expect, json_t **payload)
{
	uint8_t hdr[PROTO_HDR_LEN];
	struct proto_hdr h;
	uint8_t *body = NULL;
	int err;

	*payload = NULL;
	err = read_all(fd, hdr, sizeof(hdr));
	if (err)
		return err;
	err = proto_hdr_decode(hdr, sizeof(hdr), expect, &h);
	if (err)
		return err;
	body = malloc(h.len ? h.len : 1);
	if (!body)
		return -ENOMEM;
	err = read_all(fd, body, h.len);
	if (!err)
		err = proto_payload_decode(body, h.len, payload);
	free(body);
	return err;
}

int proto_recv_request(int fd, json_t **req)
{
	return recv_frame(fd, PROTO_T_REQUEST, req);
}

int proto_recv_reply(int fd, json_t **rep)
{
	return recv_frame(fd, PROTO_T_REPLY, rep);
}

void proto_rx_init(struct proto_rx *rx, uint16_t expect)
{
	memset(rx, 0, sizeof(*rx));
	rx->expect = expect;
}

void proto_rx_reset(struct proto_rx *rx)
{
	free(rx->body);
	proto_rx_init(rx, rx->expect);
}

/* Read what is available into @p[*have..want). 0 when it is all there,
 * -EAGAIN when the socket has no more now, -ECONNRESET on EOF. */
static int rx_fill(int fd, uint8_t *p, size_t *have, size_t want)
{
	while (*have < want) {
		ssize_t r = read(fd, p + *have, want - *have);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		*have += (size_t)r;
	}
	return 0;
}

int proto_rx_read(struct proto_rx *rx, int fd, json_t **out)
{
	size_t have;
	int err;

	*out = NULL;
	if (rx->got < PROTO_HDR_LEN) {
		err = rx_fill(fd, rx->hdr, &rx->got, PROTO_HDR_LEN);
		if (err)
			return err;
		err = proto_hdr_decode(rx->hdr, PROTO_HDR_LEN, rx->expect,
				       &rx->h);
		if (err)
			return err;
		rx->body = malloc(rx->h.len ? rx->h.len : 1);
		if (!rx->body)
			return -ENOMEM;
	}
	have = rx->got - PROTO_HDR_LEN;
	err = rx_fill(fd, rx->body, &have, rx->h.len);
	rx->got = PROTO_HDR_LEN + have;
	if (err)
		return err;
	err = proto_payload_decode(rx->body, rx->h.len, out);
	proto_rx_reset(rx);
	return err;
}

json_t *proto_reply_ok(json_t *result)
{
	json_t *r = json_object();

	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "result", result ? result : json_object());
	return r;
}

json_t *proto_reply_err(int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *r = json_object();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_set_new(r, "ok", json_false());
	json_object_set_new(r, "error", json_string(msg));
	json_object_set_new(r, "code", json_integer(err < 0 ? -err : err));
	return r;
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int dial_unix(const char *path, int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int dial_vsock(const char *spec, int timeout_ms)
{
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK };
	unsigned int cid, port;
	int fd, err;

	if (sscanf(spec, "%u:%u", &cid, &port) != 2)
		return -EINVAL;
	svm.svm_cid = cid;
	svm.svm_port = port;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int proto_dial(const char *addr, int timeout_ms)
{
	if (!addr || !*addr)
		return -EINVAL;
	if (!strncmp(addr, "unix:", 5))
		return dial_unix(addr + 5, timeout_ms);
	if (!strncmp(addr, "vsock:", 6))
		return dial_vsock(addr + 6, timeout_ms);
	if (!strncmp(addr, "serial:", 7))
		/* A serial port is handled by the serial mux (transport-specific);
		 * the lab's VM transport exposes a unix socket instead. */
		return -EPROTONOSUPPORT;
	if (addr[0] == '/')
		return dial_unix(addr, timeout_ms);
	return -EINVAL;
}

int proto_call(const char *addr, int timeout_ms, const char *op, json_t *args,
	       json_t **result, char **errmsg)
{
	json_t *req = NULL, *rep = NULL, *jok;
	int fd, err;

	if (result)
		*result = NULL;
	if (errmsg)
		*errmsg = NULL;
	fd = proto_dial(addr, timeout_ms);
	if (fd < 0)
		return fd;
	req = json_pack("{s:s}", "op", op);
	if (args)
		json_object_set(req, "args", args);
	err = proto_send(fd, PROTO_T_REQUEST, req);
	if (err)
		goto out;
	err = proto_recv_reply(fd, &rep);
	if (err)
		goto out;
	jok = json_object_get(rep, "ok");
	if (json_is_true(jok)) {
		if (result) {
			*result = json_object_get(rep, "result");
			if (*result)
				json_incref(*result);
			else
				*result = json_object();
		}
		err = 0;
	} else {
		json_int_t code =
			json_integer_value(json_object_get(rep, "code"));
		const char *msg = json_str(rep, "error");

		err = code > 0 && code < 4096 ? -(int)code : -EIO;
		if (errmsg)
			*errmsg = strdup(msg ? msg : "unknown error");
	}
out:
	json_decref(req);
	json_decref(rep);
	close(fd);
	return err;
}

const char *json_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}
