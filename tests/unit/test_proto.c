// SPDX-License-Identifier: GPL-2.0
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgnet/proto.h"

static void test_hdr_roundtrip(void)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;

	proto_hdr_encode(buf, PROTO_T_REQUEST, 1234);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), 0);
	CU_ASSERT_EQUAL(h.version, PROTO_VERSION);
	CU_ASSERT_EQUAL(h.type, PROTO_T_REQUEST);
	CU_ASSERT_EQUAL(h.len, 1234);
	CU_ASSERT_EQUAL(memcmp(buf, "WGNT\0\1\0\1\0\0\x04\xd2", 12), 0);
}

static void test_hdr_reject(void)
{
	uint8_t buf[PROTO_HDR_LEN];
	struct proto_hdr h;
	uint32_t big = htonl(PROTO_MAX_PAYLOAD + 1);
	uint16_t v2 = htons(2), t9 = htons(9);

	proto_hdr_encode(buf, PROTO_T_REQUEST, 10);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, 11, PROTO_T_REQUEST, &h), -EBADMSG);
	buf[0] = 'X';
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), -EPROTO);
	proto_hdr_encode(buf, PROTO_T_REQUEST, 10);
	memcpy(buf + 4, &v2, 2);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h),
			-EPROTONOSUPPORT);
	proto_hdr_encode(buf, PROTO_T_REQUEST, 10);
	memcpy(buf + 6, &t9, 2);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), -EBADMSG);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REPLY, &h), -EBADMSG);
	proto_hdr_encode(buf, PROTO_T_REQUEST, 10);
	memcpy(buf + 8, &big, 4);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), -EMSGSIZE);
	/* A client reads replies, up to their own limit. */
	proto_hdr_encode(buf, PROTO_T_REPLY, PROTO_MAX_PAYLOAD + 1);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REPLY, &h), 0);
	proto_hdr_encode(buf, PROTO_T_REPLY, PROTO_MAX_REPLY + 1);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REPLY, &h), -EMSGSIZE);
	/* A server never gets the reply limit: a frame typed as a reply with
	 * 7 MB (the fuzz_proto trap of issue 14) is refused, and so is any
	 * reply-typed frame, however short. */
	proto_hdr_encode(buf, PROTO_T_REPLY, 7000000);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), -EBADMSG);
	proto_hdr_encode(buf, PROTO_T_REPLY, 10);
	CU_ASSERT_EQUAL(proto_hdr_decode(buf, sizeof(buf), PROTO_T_REQUEST, &h), -EBADMSG);
	CU_ASSERT_EQUAL(proto_max_len(PROTO_T_REQUEST), PROTO_MAX_PAYLOAD);
	CU_ASSERT_EQUAL(proto_max_len(9), PROTO_MAX_PAYLOAD);
}

/* The incremental reader: a frame arriving a byte at a time completes, a
 * reply-typed frame is refused on a server, the reader resets between
 * frames. */
static void test_rx_incremental(void)
{
	const char *body = "{\"op\":\"Hello\"}";
	uint8_t hdr[PROTO_HDR_LEN];
	struct proto_rx rx;
	json_t *out = NULL;
	int sv[2], err = -EAGAIN;
	size_t len = strlen(body);

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	proto_rx_init(&rx, PROTO_T_REQUEST);
	CU_ASSERT_EQUAL(proto_rx_read(&rx, sv[1], &out), -EAGAIN);
	CU_ASSERT_FALSE(proto_rx_started(&rx));
	proto_hdr_encode(hdr, PROTO_T_REQUEST, (uint32_t)len);
	for (size_t i = 0; i < PROTO_HDR_LEN + len; i++) {
		uint8_t b = i < PROTO_HDR_LEN ? hdr[i] : (uint8_t)body[i - PROTO_HDR_LEN];

		CU_ASSERT_EQUAL(err, -EAGAIN);
		CU_ASSERT_EQUAL(write(sv[0], &b, 1), 1);
		err = proto_rx_read(&rx, sv[1], &out);
		if (err == -EAGAIN)
			CU_ASSERT_TRUE(proto_rx_started(&rx));
	}
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_STRING_EQUAL(json_str(out, "op"), "Hello");
	CU_ASSERT_FALSE(proto_rx_started(&rx));
	json_decref(out);
	/* A reply-typed header with 7 MB on the server side: refused at once. */
	proto_hdr_encode(hdr, PROTO_T_REPLY, 7000000);
	CU_ASSERT_EQUAL(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	CU_ASSERT_EQUAL(proto_rx_read(&rx, sv[1], &out), -EBADMSG);
	CU_ASSERT_PTR_NULL(out);
	proto_rx_reset(&rx);
	close(sv[0]);
	CU_ASSERT_EQUAL(proto_rx_read(&rx, sv[1], &out), -ECONNRESET);
	proto_rx_reset(&rx);
	close(sv[1]);
}

static void test_payload(void)
{
	json_t *j = NULL, *args = NULL;
	const char *op = NULL, *why = NULL;
	const char *good = "{\"op\":\"AddNetwork\",\"args\":{\"a\":1}}";

	CU_ASSERT_EQUAL(proto_payload_decode((const uint8_t *)good, strlen(good), &j), 0);
	CU_ASSERT_EQUAL(proto_request_parse(j, &op, &args, &why), 0);
	CU_ASSERT_STRING_EQUAL(op, "AddNetwork");
	CU_ASSERT_PTR_NOT_NULL(args);
	json_decref(j);

	static const char *const bad_json[] = { "", "{", "[1,2]", "\"x\"",
		"{\"op\":\"a\",\"op\":\"b\"}", "{\"op\":1} trailing" };
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		j = NULL;
		CU_ASSERT_EQUAL(proto_payload_decode((const uint8_t *)bad_json[i],
						     strlen(bad_json[i]), &j), -EBADMSG);
		CU_ASSERT_PTR_NULL(j);
	}

	static const char *const bad_req[] = { "{}", "{\"op\":1}", "{\"op\":\"\"}",
		"{\"op\":\"X\",\"args\":[1]}", "{\"op\":\"X\",\"extra\":1}" };
	for (size_t i = 0; i < sizeof(bad_req) / sizeof(bad_req[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(proto_payload_decode((const uint8_t *)bad_req[i],
							   strlen(bad_req[i]), &j), 0);
		why = NULL;
		CU_ASSERT_EQUAL(proto_request_parse(j, &op, &args, &why), -EBADMSG);
		CU_ASSERT_PTR_NOT_NULL(why);
		json_decref(j);
	}
}

static void test_socket_roundtrip(void)
{
	int sv[2];
	json_t *in, *out = NULL;
	uint8_t hdr[PROTO_HDR_LEN];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	in = proto_reply_err(-ENOENT, "no such network: %s", "n1");
	CU_ASSERT_EQUAL(proto_send(sv[0], PROTO_T_REPLY, in), 0);
	CU_ASSERT_EQUAL(proto_recv_reply(sv[1], &out), 0);
	CU_ASSERT_TRUE(json_equal(in, out));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(out, "code")), ENOENT);
	json_decref(in);
	json_decref(out);

	/* An oversized header is refused before any payload is read. */
	proto_hdr_encode(hdr, PROTO_T_REQUEST, 0);
	hdr[8] = 0x7f;
	CU_ASSERT_EQUAL(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	out = NULL;
	CU_ASSERT_EQUAL(proto_recv_request(sv[1], &out), -EMSGSIZE);
	CU_ASSERT_PTR_NULL(out);

	/* A truncated frame: the peer closes mid-payload. */
	proto_hdr_encode(hdr, PROTO_T_REQUEST, 100);
	CU_ASSERT_EQUAL(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	CU_ASSERT_EQUAL(write(sv[0], "{\"op\"", 5), 5);
	close(sv[0]);
	CU_ASSERT_EQUAL(proto_recv_request(sv[1], &out), -ECONNRESET);
	close(sv[1]);
}

static void test_dial_errors(void)
{
	json_t *res = NULL;
	char *msg = NULL;

	CU_ASSERT_EQUAL(proto_dial("", 100), -EINVAL);
	CU_ASSERT_EQUAL(proto_dial("tcp:1.2.3.4", 100), -EINVAL);
	CU_ASSERT_EQUAL(proto_dial("unix:/nonexistent/wgnet-test.sock", 100), -ENOENT);
	CU_ASSERT_EQUAL(proto_call("unix:/nonexistent/x.sock", 100, "Hello", NULL,
				   &res, &msg), -ENOENT);
	CU_ASSERT_PTR_NULL(res);
	CU_ASSERT_PTR_NULL(msg);
}

void suite_proto(void)
{
	CU_pSuite s = CU_add_suite("proto", NULL, NULL);

	CU_add_test(s, "header roundtrip", test_hdr_roundtrip);
	CU_add_test(s, "header rejects", test_hdr_reject);
	CU_add_test(s, "payload and request validation", test_payload);
	CU_add_test(s, "socket roundtrip, oversize, truncation", test_socket_roundtrip);
	CU_add_test(s, "dial errors", test_dial_errors);
	CU_add_test(s, "incremental reader, reply type refused", test_rx_incremental);
}
