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
 * or {"ok": false, "error": "one clear line", "code": <errno>}.
 *
 * Limits belong to the reader's role, not to the frame: a server reads only
 * request frames of at most PROTO_MAX_PAYLOAD, a client only reply frames of
 * at most PROTO_MAX_REPLY. A frame of the other type, or longer, is refused
 * from its header, before any byte of the payload is read.
 */
#ifndef WGNET_PROTO_H
#define WGNET_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC "WGNT"
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 12
#define PROTO_MAX_PAYLOAD (1U << 20) /* 1 MiB: any request */
/* Replies come from our own daemons and may be larger: the status of 100
 * guests in full mesh is a few MiB. Still a hard limit for the client. */
#define PROTO_MAX_REPLY (64U << 20)
/* RotatePeers: the persistent keepalive (s) that makes an end start the
 * handshake on its next interface; a peer without "keepalive" gets it. */
#define PROTO_ROT_KEEPALIVE 1

enum { PROTO_T_REQUEST = 1, PROTO_T_REPLY = 2 };

struct proto_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len;
};

/* The longest payload a reader expecting frames of @type accepts. */
uint32_t proto_max_len(uint16_t type);
/* Parse a 12-byte header as a reader that expects frames of type @expect
 * (a server: PROTO_T_REQUEST; a client: PROTO_T_REPLY). -EPROTO bad magic,
 * -EPROTONOSUPPORT version, -EBADMSG short header or a type other than
 * @expect, -EMSGSIZE length over proto_max_len(@expect). */
int proto_hdr_decode(const uint8_t *buf, size_t n, uint16_t expect,
		     struct proto_hdr *h);
void proto_hdr_encode(uint8_t *buf, uint16_t type, uint32_t len);

/* Decode a payload into a JSON object (must be an object): -EBADMSG. */
int proto_payload_decode(const uint8_t *buf, size_t n, json_t **out);

/* Validate a request object: "op" a string, "args" absent or an object.
 * Returns 0 and borrowed pointers, or -EBADMSG with *why set. */
int proto_request_parse(json_t *req, const char **op, json_t **args,
			const char **why);

/*
 * Request ids (docs/protocol.md, "Request ids"): a request may carry
 * "id": an integer 0..2^63-1; the reply to it echoes it. Absent: the
 * reply has none (clients that send no id are served as before).
 * proto_msg_id(): 1 and *id (if id) when present, 0 when absent, -EBADMSG
 * when not such an integer. proto_reply_echo_id(): copy req's valid id
 * into rep.
 */
int proto_msg_id(json_t *msg, uint64_t *id);
void proto_reply_echo_id(json_t *rep, json_t *req);

/* A client that reads replies on a kept connection: is @rep the answer to
 * its request (@with_id: it sent "id": @id)? STALE: an answer to an earlier
 * request (a client that gave up on it); skip it and read on. NO_IDS: an
 * agent older than ids refused the field; send again without one. */
enum proto_match { PROTO_M_OURS, PROTO_M_STALE, PROTO_M_NO_IDS };
enum proto_match proto_reply_match(json_t *rep, uint64_t id, bool with_id);

/* Resynchronising on a byte stream without connection boundaries (a VM's
 * serial port): how many leading bytes of buf cannot start a frame (the
 * offset of the first "WGNT", or of a tail that may begin one). */
size_t proto_resync(const uint8_t *buf, size_t n);

/* Blocking I/O on a connected stream socket (timeouts via SO_*TIMEO). */
int proto_send(int fd, uint16_t type, json_t *payload);
/* Receive one frame on a blocking socket; on a bad header return its error
 * without reading the payload. A server reads requests (at most
 * PROTO_MAX_PAYLOAD), a client replies (at most PROTO_MAX_REPLY); there is
 * no call that lets the frame's own type choose. */
int proto_recv_request(int fd, json_t **req);
int proto_recv_reply(int fd, json_t **rep);

/*
 * Incremental reader for an event loop (non-blocking sockets): one frame of
 * type @expect at a time. proto_rx_read() reads what is there and returns
 * 0 with *out set when the frame is complete (the reader is then reset for
 * the next frame), -EAGAIN when more bytes are needed, -ECONNRESET on EOF,
 * or a header/payload error as proto_hdr_decode()/proto_payload_decode().
 * proto_rx_started() tells whether a frame has begun (for a deadline that
 * runs from the first byte of each message).
 */
struct proto_rx {
	uint16_t expect;
	uint8_t hdr[PROTO_HDR_LEN];
	size_t got; /* header + payload bytes of the current frame */
	struct proto_hdr h;
	uint8_t *body;
};

void proto_rx_init(struct proto_rx *rx, uint16_t expect);
int proto_rx_read(struct proto_rx *rx, int fd, json_t **out);
static inline int proto_rx_started(const struct proto_rx *rx)
{
	return rx->got > 0;
}
void proto_rx_reset(struct proto_rx *rx);

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
