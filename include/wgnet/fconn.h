/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One wgnet control-protocol stream, non-blocking: frames are read as bytes
 * arrive and written as the socket takes them, so one poll loop can serve
 * many connections without one stalling another. Used by the guest agent's
 * server and by wgnet-simguest.
 */
#ifndef WGNET_FCONN_H
#define WGNET_FCONN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgnet/proto.h"

struct fconn {
	int fd;
	uint16_t expect; /* the frame type read (a server: requests) */
	uint8_t hdr[PROTO_HDR_LEN];
	size_t hdr_have;
	struct proto_hdr h;
	uint8_t *in; /* payload being read (h.len bytes) */
	size_t in_have;
	uint8_t *out; /* encoded frames waiting to be written */
	size_t out_len, out_off;
	uint64_t bytes_in, bytes_out;
};

void fconn_init(struct fconn *c, int fd, uint16_t expect);
/* Frees the buffers and closes the descriptor. */
void fconn_close(struct fconn *c);

/*
 * Read what is available, at most one frame. Returns 1 with *payload (new
 * reference) and *type when a frame is complete, 0 when more bytes are
 * needed, -ECONNRESET at end of stream, -errno on a read error, or the
 * header's error (-EPROTO, -EPROTONOSUPPORT, -EMSGSIZE, -EBADMSG) before any
 * payload byte is read (a type other than the expected one: -EBADMSG),
 * -EBADMSG for a payload that is not a JSON object.
 */
int fconn_read(struct fconn *c, uint16_t *type, json_t **payload);
/* Part of a frame has been read and not all of it. */
bool fconn_mid_frame(const struct fconn *c);

/* Encode a frame behind what is queued. -EMSGSIZE over the type's limit. */
int fconn_queue(struct fconn *c, uint16_t type, json_t *payload);
/* Write what the socket takes: 1 when nothing is left, 0 when some is,
 * -errno on error. */
int fconn_flush(struct fconn *c);
static inline bool fconn_pending(const struct fconn *c)
{
	return c->out_off < c->out_len;
}

#endif
