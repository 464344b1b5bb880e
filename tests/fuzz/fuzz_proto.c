// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the control protocol's parsers on outside bytes.
 *  1. The input as one frame: proto_hdr_decode() on its first 12 bytes as a
 *     server reads it (requests only, at most PROTO_MAX_PAYLOAD whatever the
 *     type field says) and as a client reads it (replies only), then
 *     proto_payload_decode() + proto_request_parse() on what follows.
 *  2. The input as a stream: written into a socketpair (then shut down) and
 *     read back frame after frame with proto_recv_request(), the framing
 *     path of the host's API socket, and again with the incremental
 *     proto_rx_read() on a non-blocking socket, the guest agent's path.
 *  3. Request ids (docs/protocol.md): a request that parses has either no
 *     id or a valid one; the reply built for it echoes it and matches it,
 *     and matches no other id. The input's payload as a reply: the match
 *     decision of a client with and without ids (an id reply matches only
 *     its own id). The input as a byte stream a client resynchronises on
 *     (host/gconn.c's reader): proto_resync() offsets and the frames found.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgnet/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(json_t *req)
{
	const char *op = NULL, *why = NULL;
	json_t *args = NULL, *rep;
	uint64_t id = 0;
	int err, has;

	err = proto_request_parse(req, &op, &args, &why);
	if (err) {
		if (err != -EBADMSG || !why)
			__builtin_trap();
		return;
	}
	if (!op || !*op || (args && !json_is_object(args)))
		__builtin_trap();
	/* what a server does next with a bad request: an error reply */
	rep = proto_reply_err(-EINVAL, "bad op %.64s", op);
	has = proto_msg_id(req, &id);
	if (has < 0 || (has == 0) != !json_object_get(req, "id"))
		__builtin_trap();
	proto_reply_echo_id(rep, req);
	if (has) {
		uint64_t echoed = 0;

		if (proto_msg_id(rep, &echoed) != 1 || echoed != id ||
		    proto_reply_match(rep, id, true) != PROTO_M_OURS ||
		    proto_reply_match(rep, id ^ 1, true) != PROTO_M_STALE ||
		    proto_reply_match(rep, 0, false) != PROTO_M_STALE)
			__builtin_trap();
	} else if (proto_msg_id(rep, NULL) != 0) {
		__builtin_trap();
	}
	json_decref(rep);
}

/* The payload as a reply a client reads. */
static void check_reply(json_t *rep)
{
	enum proto_match m1, m2, m3;
	uint64_t id = 0;
	int has = proto_msg_id(rep, &id);

	m1 = proto_reply_match(rep, id, true);
	m2 = proto_reply_match(rep, id ^ 1, true);
	m3 = proto_reply_match(rep, 0, false);
	if (m1 > PROTO_M_NO_IDS || m2 > PROTO_M_NO_IDS || m3 > PROTO_M_NO_IDS)
		__builtin_trap();
	if (has == 1 && (m1 != PROTO_M_OURS || m2 != PROTO_M_STALE))
		__builtin_trap();
	/* without ids, exactly the replies without an id are taken */
	if ((m3 == PROTO_M_OURS) != (has == 0))
		__builtin_trap();
	if (has == 0 && m1 != m2)
		__builtin_trap();
}

/* The input as a stream a client resynchronises on: skip to a magic,
 * take a reply header, skip its payload. */
static void resync(const uint8_t *data, size_t size)
{
	size_t off = 0, frames = 0;

	while (off < size && frames < 64) {
		size_t skip = proto_resync(data + off, size - off);
		struct proto_hdr h;

		if (skip > size - off)
			__builtin_trap();
		if (skip < size - off && skip + 4 <= size - off &&
		    memcmp(data + off + skip, PROTO_MAGIC, 4))
			__builtin_trap();
		for (size_t i = 0; i + 4 <= skip; i++)
			if (!memcmp(data + off + i, PROTO_MAGIC, 4))
				__builtin_trap();
		off += skip;
		if (size - off < PROTO_HDR_LEN)
			break;
		if (proto_hdr_decode(data + off, size - off, PROTO_T_REPLY,
				     &h)) {
			off += 4;
			continue;
		}
		off += PROTO_HDR_LEN;
		if (h.len > size - off)
			break;
		{
			json_t *j = NULL;

			if (!proto_payload_decode(data + off, h.len, &j))
				check_reply(j);
			json_decref(j);
		}
		off += h.len;
		frames++;
	}
}

static void one_frame(const uint8_t *data, size_t size)
{
	struct proto_hdr h;
	json_t *j = NULL;
	size_t n;
	int err;

	/* a client's view: replies only, up to the reply limit */
	err = proto_hdr_decode(data, size, PROTO_T_REPLY, &h);
	if (!err && (h.type != PROTO_T_REPLY || h.len > PROTO_MAX_REPLY))
		__builtin_trap();
	/* a server's view: the request limit, whatever the type says */
	err = proto_hdr_decode(data, size, PROTO_T_REQUEST, &h);
	if (err) {
		if (err != -EBADMSG && err != -EPROTO &&
		    err != -EPROTONOSUPPORT && err != -EMSGSIZE)
			__builtin_trap();
		/* the bytes as a bare payload, as a JSON-lines client would */
		if (!proto_payload_decode(data, size, &j)) {
			check_request(j);
			check_reply(j);
		}
		json_decref(j);
		return;
	}
	if (h.len > PROTO_MAX_PAYLOAD || h.type != PROTO_T_REQUEST)
		__builtin_trap();
	n = size - PROTO_HDR_LEN;
	if (n > h.len)
		n = h.len;
	err = proto_payload_decode(data + PROTO_HDR_LEN, n, &j);
	if (!err) {
		if (!json_is_object(j))
			__builtin_trap();
		check_request(j);
	} else if (err != -EBADMSG || j) {
		__builtin_trap();
	}
	json_decref(j);
}

/* The input in a socketpair whose write side is shut down after it. */
static int feed(const uint8_t *data, size_t size, int flags, int sv[2])
{
	int buf = 1 << 20;
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	while (off < size) {
		ssize_t w = send(sv[0], data + off, size - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			break; /* the rest does not fit: a cut-off stream */
		off += (size_t)w;
	}
	/* EOF after the input: a short frame ends in -ECONNRESET, not a hang */
	shutdown(sv[0], SHUT_WR);
	return 0;
}

static void stream(const uint8_t *data, size_t size)
{
	int sv[2], frames = 0;
	json_t *j;

	if (feed(data, size, 0, sv))
		return;
	while (frames++ < 64) {
		int err = proto_recv_request(sv[1], &j);

		if (err) {
			if (j)
				__builtin_trap();
			break;
		}
		if (!j)
			__builtin_trap();
		check_request(j);
		json_decref(j);
	}
	close(sv[0]);
	close(sv[1]);
}

static void stream_rx(const uint8_t *data, size_t size)
{
	struct proto_rx rx;
	int sv[2], frames = 0;
	json_t *j;

	if (feed(data, size, SOCK_NONBLOCK, sv))
		return;
	proto_rx_init(&rx, PROTO_T_REQUEST);
	while (frames++ < 64) {
		int err = proto_rx_read(&rx, sv[1], &j);

		if (err) {
			/* all the input is there: never "more later" */
			if (j || err == -EAGAIN)
				__builtin_trap();
			break;
		}
		if (!j || proto_rx_started(&rx))
			__builtin_trap();
		check_request(j);
		json_decref(j);
	}
	proto_rx_reset(&rx);
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_frame(data, size);
	resync(data, size);
	stream(data, size);
	stream_rx(data, size);
	return 0;
}
