// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the control protocol's parsers on outside bytes.
 *  1. The input as one frame: proto_hdr_decode() on its first 12 bytes, then
 *     proto_payload_decode() + proto_request_parse() on what follows.
 *  2. The input as a stream: written into a socketpair (then shut down) and
 *     read back frame after frame with proto_recv(), the framing path the
 *     guest and the host run on every connection.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgnet/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(json_t *req)
{
	const char *op = NULL, *why = NULL;
	json_t *args = NULL;
	int err;

	err = proto_request_parse(req, &op, &args, &why);
	if (err) {
		if (err != -EBADMSG || !why)
			__builtin_trap();
		return;
	}
	if (!op || !*op || (args && !json_is_object(args)))
		__builtin_trap();
	/* what a server does next with a bad request: an error reply */
	json_decref(proto_reply_err(-EINVAL, "bad op %.64s", op));
}

static void one_frame(const uint8_t *data, size_t size)
{
	struct proto_hdr h;
	json_t *j = NULL;
	size_t n;
	int err;

	err = proto_hdr_decode(data, size, &h);
	if (err) {
		if (err != -EBADMSG && err != -EPROTO &&
		    err != -EPROTONOSUPPORT && err != -EMSGSIZE)
			__builtin_trap();
		/* the bytes as a bare payload, as a JSON-lines client would */
		if (!proto_payload_decode(data, size, &j))
			check_request(j);
		json_decref(j);
		return;
	}
	if (h.len > PROTO_MAX_PAYLOAD)
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

static void stream(const uint8_t *data, size_t size)
{
	int sv[2], buf = 1 << 20, frames = 0;
	size_t off = 0;
	uint16_t type;
	json_t *j;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
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
	while (frames++ < 64) {
		int err = proto_recv(sv[1], &type, &j);

		if (err) {
			if (j)
				__builtin_trap();
			break;
		}
		if (!j || (type != PROTO_T_REQUEST && type != PROTO_T_REPLY))
			__builtin_trap();
		check_request(j);
		json_decref(j);
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_frame(data, size);
	stream(data, size);
	return 0;
}
