// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol on a character device (guest/serial.c), driven
 * through a pseudo-terminal in raw mode: frames found after garbage, frames
 * arriving in pieces, refused headers answered and skipped. Requests carry
 * unknown ops, so the agent answers them without any state; the reply's
 * error names the op, which tells which request was answered.
 * (t-vm.sh covers the real virtio-serial port.)
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../../guest/agent.h"
#include "../../guest/serial.h"
#include "wgnet/proto.h"

static struct agent ag;

struct rig {
	int master, slave;
	struct serial *s;
};

static int rig_open(struct rig *r)
{
	char path[64];
	struct termios t;

	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->master < 0 || grantpt(r->master) || unlockpt(r->master) ||
	    ptsname_r(r->master, path, sizeof(path)))
		return -1;
	/* Keep one slave open with the line discipline out of the way. */
	r->slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->slave < 0 || tcgetattr(r->slave, &t))
		return -1;
	cfmakeraw(&t);
	if (tcsetattr(r->slave, TCSANOW, &t))
		return -1;
	r->s = serial_open(path);
	return r->s ? 0 : -1;
}

static void rig_close(struct rig *r)
{
	serial_free(r->s);
	close(r->slave);
	close(r->master);
}

static void put(struct rig *r, const void *p, size_t n)
{
	CU_ASSERT_EQUAL(write(r->master, p, n), (ssize_t)n);
}

static size_t frame(uint8_t *buf, uint16_t version, const char *payload)
{
	uint16_t v = htons(version), t = htons(PROTO_T_REQUEST);
	uint32_t l = htonl((uint32_t)strlen(payload));

	memcpy(buf, PROTO_MAGIC, 4);
	memcpy(buf + 4, &v, 2);
	memcpy(buf + 6, &t, 2);
	memcpy(buf + 8, &l, 4);
	memcpy(buf + 12, payload, strlen(payload));
	return 12 + strlen(payload);
}

/* Let the agent side work for up to ms. */
static void pump(struct rig *r, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		struct pollfd p = { .fd = serial_fd(r->s), .events = POLLIN };

		if (poll(&p, 1, 10) > 0)
			serial_handle(&ag, r->s);
	}
}

static int read_n(int fd, uint8_t *p, size_t n, int ms)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&pfd, 1, ms) <= 0)
			return -ETIMEDOUT;
		got = read(fd, p, n);
		if (got <= 0)
			return -EIO;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Pump, then take one reply frame: its error text (malloc'd) or NULL. */
static char *reply(struct rig *r)
{
	struct proto_hdr h;
	uint8_t hdr[12], *body;
	json_t *j = NULL;
	char *err = NULL;

	pump(r, 300);
	if (read_n(r->master, hdr, 12, 2000) || proto_hdr_decode(hdr, 12, PROTO_T_REPLY, &h) ||
	    h.type != PROTO_T_REPLY)
		return NULL;
	body = malloc(h.len);
	if (body && !read_n(r->master, body, h.len, 2000) &&
	    !proto_payload_decode(body, h.len, &j) && json_str(j, "error"))
		err = strdup(json_str(j, "error"));
	json_decref(j);
	free(body);
	return err;
}

static int nothing_pending(struct rig *r)
{
	struct pollfd p = { .fd = r->master, .events = POLLIN };

	pump(r, 200);
	return poll(&p, 1, 100) == 0;
}

static void test_resync(void)
{
	struct rig r;
	uint8_t buf[256];
	size_t n;
	char *e;

	CU_ASSERT_FATAL(rig_open(&r) == 0);
	put(&r, "noise WG", 8);
	n = frame(buf, PROTO_VERSION, "{\"op\":\"SerialA\"}");
	put(&r, buf, n);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "SerialA") : NULL);
	free(e);
	CU_ASSERT(nothing_pending(&r));
	rig_close(&r);
}

static void test_pieces(void)
{
	struct rig r;
	uint8_t buf[256];
	size_t n;
	char *e;

	CU_ASSERT_FATAL(rig_open(&r) == 0);
	n = frame(buf, PROTO_VERSION, "{\"op\":\"SerialB\"}");
	put(&r, buf, 3);
	pump(&r, 50);
	put(&r, buf + 3, 10);
	pump(&r, 50);
	CU_ASSERT(nothing_pending(&r));
	put(&r, buf + 13, n - 13);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "SerialB") : NULL);
	free(e);
	/* Two frames in one write: two replies, in order. */
	n = frame(buf, PROTO_VERSION, "{\"op\":\"SerialC\"}");
	n += frame(buf + n, PROTO_VERSION, "{\"op\":\"SerialD\"}");
	put(&r, buf, n);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "SerialC") : NULL);
	free(e);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "SerialD") : NULL);
	free(e);
	rig_close(&r);
}

static void test_refused(void)
{
	struct rig r;
	uint8_t buf[256];
	size_t n;
	char *e;

	CU_ASSERT_FATAL(rig_open(&r) == 0);
	/* A version we do not speak: answered, then the next frame. */
	n = frame(buf, 9, "{\"op\":\"SerialE\"}");
	n += frame(buf + n, PROTO_VERSION, "{\"op\":\"SerialF\"}");
	put(&r, buf, n);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "unsupported protocol version") : NULL);
	free(e);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "SerialF") : NULL);
	free(e);
	/* A payload that is not JSON, and a request without an op. */
	n = frame(buf, PROTO_VERSION, "hello");
	put(&r, buf, n);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "not a JSON object") : NULL);
	free(e);
	n = frame(buf, PROTO_VERSION, "{\"args\":{}}");
	put(&r, buf, n);
	e = reply(&r);
	CU_ASSERT_PTR_NOT_NULL(e ? strstr(e, "no op") : NULL);
	free(e);
	CU_ASSERT(nothing_pending(&r));
	rig_close(&r);
}

void suite_serial(void)
{
	CU_pSuite s = CU_add_suite("serial", NULL, NULL);

	CU_add_test(s, "frames found after garbage", test_resync);
	CU_add_test(s, "frames in pieces and back to back", test_pieces);
	CU_add_test(s, "refused headers and payloads", test_refused);
}
