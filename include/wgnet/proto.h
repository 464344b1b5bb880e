/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The wgnet control protocol, used host -> guest (wgnet-guest) and
 * CLI -> host (wgnet-host). One frame:
 *
 *   0      4        6        8            12
 *   | "WGNT" | version | type  | length (be32) | JSON payload (length bytes)
 *
 * version and type are big-endian u16. A request payload is a JSON object
 * {"op": "AddNetwork", "args": {...}}; a reply is {"ok": true, "result": ...}
 * or {"ok": false, "error": "one clear line", "code": <errno>}. Requests over
 * PROTO_MAX_PAYLOAD (replies over PROTO_MAX_REPLY) are refused before any
 * byte of the payload is read.
 */
#ifndef WGNET_PROTO_H
#define WGNET_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC "WGNT"
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 12
#define PROTO_MAX_PAYLOAD (1U << 20) /* 1 MiB: any request */
/* Replies come from our own daemons and may be larger: the status of 100
 * guests in full mesh is a few MiB. Still a hard limit for the client. */
#define PROTO_MAX_REPLY (64U << 20)

enum { PROTO_T_REQUEST = 1, PROTO_T_REPLY = 2 };

struct proto_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;
};

/* Parse a 12-byte header. -EPROTO bad magic, -EPROTONOSUPPORT version,
 * -EMSGSIZE length over the limit, -EBADMSG unknown type. */
int proto_hdr_decode(const uint8_t *buf, size_t n, struct proto_hdr *h);
void proto_hdr_encode(uint8_t *buf, uint16_t type, uint32_t len);

/* Decode a payload into a JSON object (must be an object): -EBADMSG. */
int proto_payload_decode(const uint8_t *buf, size_t n, json_t **out);

/* Validate a request object: "op" a string, "args" absent or an object.
 * Returns 0 and borrowed pointers, or -EBADMSG with *why set. */
int proto_request_parse(json_t *req, const char **op, json_t **args,
			const char **why);

/* Blocking I/O on a connected stream socket (timeouts via SO_*TIMEO). */
int proto_send(int fd, uint16_t type, json_t *payload);
/* Receives one frame; on a bad header returns its error without reading
 * the payload. *type may be NULL. */
int proto_recv(int fd, uint16_t *type, json_t **payload);

/* Replies. */
json_t *proto_reply_ok(json_t *result /* stolen, may be NULL */);
json_t *proto_reply_err(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Client: connect to "unix:PATH", a plain PATH, "vsock:CID:PORT" or
 * "serial:PATH" (a character device speaking the same frames). Timeout in ms
 * for connect, send and receive. Returns fd or -errno. */
int proto_dial(const char *addr, int timeout_ms);
/* One call: dial, send {"op","args"}, receive the reply. On a transport
 * failure returns -errno; on {"ok":false} returns -code and sets *errmsg
 * (malloc'd). On success *result gets the (new reference) result. */
int proto_call(const char *addr, int timeout_ms, const char *op,
	       json_t *args /* borrowed, may be NULL */, json_t **result,
	       char **errmsg);

/* JSON helpers: borrowed string member or NULL. */
const char *json_str(json_t *obj, const char *key);

#endif
