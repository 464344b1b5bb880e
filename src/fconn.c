// SPDX-License-Identifier: GPL-2.0
/* Non-blocking framing of the control protocol (include/wgnet/fconn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgnet/fconn.h"

void fconn_init(struct fconn *c, int fd, uint16_t expect)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->expect = expect;
}

void fconn_close(struct fconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

bool fconn_mid_frame(const struct fconn *c)
{
	return c->hdr_have > 0;
}

static int read_some(struct fconn *c, uint8_t *p, size_t n, size_t *got)
{
	ssize_t r;

	*got = 0;
	do
		r = read(c->fd, p, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (r == 0)
		return -ECONNRESET;
	*got = (size_t)r;
	c->bytes_in += (size_t)r;
	return 0;
}

int fconn_read(struct fconn *c, uint16_t *type, json_t **payload)
{
	size_t got;
	int err;

	*payload = NULL;
	if (c->hdr_have < PROTO_HDR_LEN) {
		err = read_some(c, c->hdr + c->hdr_have,
				PROTO_HDR_LEN - c->hdr_have, &got);
		if (err)
			return err;
		c->hdr_have += got;
		if (c->hdr_have < PROTO_HDR_LEN)
			return 0;
		err = proto_hdr_decode(c->hdr, PROTO_HDR_LEN, c->expect, &c->h);
		if (err)
			return err;
		c->in = malloc(c->h.len ? c->h.len : 1);
		if (!c->in)
			return -ENOMEM;
		c->in_have = 0;
	}
	if (c->in_have < c->h.len) {
		err = read_some(c, c->in + c->in_have, c->h.len - c->in_have,
				&got);
		if (err)
			return err;
		c->in_have += got;
		if (c->in_have < c->h.len)
			return 0;
	}
	err = proto_payload_decode(c->in, c->h.len, payload);
	if (type)
		*type = c->h.type;
	free(c->in);
	c->in = NULL;
	c->hdr_have = 0;
	c->in_have = 0;
	return err ? err : 1;
}

int fconn_queue(struct fconn *c, uint16_t type, json_t *payload)
{
	size_t len, keep;
	char *body;
	uint8_t *buf;

	body = json_dumps(payload, JSON_COMPACT);
	if (!body)
		return -ENOMEM;
	len = strlen(body);
	if (len >
	    (type == PROTO_T_REPLY ? PROTO_MAX_REPLY : PROTO_MAX_PAYLOAD)) {
		free(body);
		return -EMSGSIZE;
	}
	keep = c->out_len - c->out_off;
	buf = malloc(keep + PROTO_HDR_LEN + len);
	if (!buf) {
		free(body);
		return -ENOMEM;
	}
	if (keep)
		memcpy(buf, c->out + c->out_off, keep);
	proto_hdr_encode(buf + keep, type, (uint32_t)len);
	memcpy(buf + keep + PROTO_HDR_LEN, body, len);
	free(body);
	free(c->out);
	c->out = buf;
	c->out_off = 0;
	c->out_len = keep + PROTO_HDR_LEN + len;
	return 0;
}

int fconn_flush(struct fconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == ENOTSOCK)
			w = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)w;
		c->bytes_out += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 1;
}
