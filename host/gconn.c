// SPDX-License-Identifier: GPL-2.0
/*
 * One exchange with a guest under a deadline for the whole call (connect,
 * send, receive), not per system call: a guest that accepts and never
 * answers costs one deadline, whatever it trickles. The connection may be
 * kept for the next call (docs/control-plane.md, "Connections").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
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

static int send_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
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

int gconn_exchange(int fd, const char *op, json_t *args, int64_t deadline,
		   json_t **reply)
{
	uint8_t hdr[PROTO_HDR_LEN], *body = NULL;
	struct proto_hdr h;
	json_t *req;
	char *text;
	size_t len;
	int rc;

	*reply = NULL;
	req = json_pack("{s:s}", "op", op);
	if (args)
		json_object_set(req, "args", args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	proto_hdr_encode(hdr, PROTO_T_REQUEST, (uint32_t)len);
	rc = send_all(fd, hdr, sizeof(hdr), deadline);
	if (!rc)
		rc = send_all(fd, (uint8_t *)text, len, deadline);
	free(text);
	if (rc)
		return rc;
	rc = recv_all(fd, hdr, sizeof(hdr), deadline);
	if (rc)
		return rc;
	rc = proto_hdr_decode(hdr, sizeof(hdr), PROTO_T_REPLY, &h);
	if (rc)
		return rc;
	if (h.type != PROTO_T_REPLY)
		return -EBADMSG;
	body = malloc(h.len ? h.len : 1);
	if (!body)
		return -ENOMEM;
	rc = recv_all(fd, body, h.len, deadline);
	if (!rc)
		rc = proto_payload_decode(body, h.len, reply);
	free(body);
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
