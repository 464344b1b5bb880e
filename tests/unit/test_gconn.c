// SPDX-License-Identifier: GPL-2.0
/*
 * A guest's kept connection (host/gconn.c) and request ids (src/proto.c):
 * a reply is matched by the id it echoes; stale replies (other ids, or no
 * id for a client that sent one), garbage and cut-off frames before it are
 * skipped; a stream with only stale replies ends at the deadline; an agent
 * older than ids is asked again without one; a kept connection the guest
 * closed is dialled again once; and over a real serial port (a pty with
 * the agent's serial reader on the other side) a reply left behind by a
 * caller that gave up is skipped.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "../../guest/agent.h"
#include "../../guest/serial.h"
#include "../../host/host.h"
#include "wgnet/proto.h"

void suite_gconn(void);

/* One reply frame with @json as its payload, written to fd. */
static void put_frame(int fd, uint16_t type, const char *json)
{
	uint8_t hdr[PROTO_HDR_LEN];
	size_t n = strlen(json);

	proto_hdr_encode(hdr, type, (uint32_t)n);
	CU_ASSERT_EQUAL(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	CU_ASSERT_EQUAL(write(fd, json, n), (ssize_t)n);
}

static json_t *parse(const char *s)
{
	return json_loads(s, 0, NULL);
}

static void test_match(void)
{
	static const struct {
		const char *rep;
		uint64_t id;
		bool with_id;
		enum proto_match m;
	} t[] = {
		{ "{\"ok\":true,\"id\":7}", 7, true, PROTO_M_OURS },
		{ "{\"ok\":true,\"id\":6}", 7, true, PROTO_M_STALE },
		{ "{\"ok\":true}", 7, true, PROTO_M_STALE },
		{ "{\"ok\":true,\"id\":\"7\"}", 7, true, PROTO_M_STALE },
		{ "{\"ok\":true,\"id\":-7}", 7, true, PROTO_M_STALE },
		{ "{\"ok\":false,\"code\":22,\"error\":\"x\"}", 7, true,
		  PROTO_M_STALE },
		{ "{\"ok\":false,\"code\":74,\"error\":\"malformed request: "
		  "unknown field in request\"}",
		  7, true, PROTO_M_NO_IDS },
		{ "{\"ok\":false,\"code\":90,\"error\":\"too long\"}", 7, true,
		  PROTO_M_OURS },
		{ "{\"ok\":true,\"code\":90}", 7, true, PROTO_M_STALE },
		{ "{\"ok\":true}", 0, false, PROTO_M_OURS },
		{ "{\"ok\":true,\"id\":1}", 0, false, PROTO_M_STALE },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		json_t *j = parse(t[i].rep);

		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		if (proto_reply_match(j, t[i].id, t[i].with_id) != t[i].m)
			CU_FAIL(t[i].rep);
		json_decref(j);
	}
}

static void test_resync(void)
{
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"WGNTxxxx", 8), 0);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"abWGNTxx", 8), 2);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"abcdefWG", 8), 6);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"abcdefgW", 8), 7);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"abcdefgh", 8), 8);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"WGxTWGNT", 8), 4);
	CU_ASSERT_EQUAL(proto_resync((const uint8_t *)"", 0), 0);
}

static void test_request_id(void)
{
	static const char *const ok[] = {
		"{\"op\":\"Hello\",\"id\":0}",
		"{\"op\":\"Hello\",\"id\":9223372036854775807}",
		"{\"op\":\"Hello\"}",
	};
	static const char *const bad[] = {
		"{\"op\":\"Hello\",\"id\":-1}",
		"{\"op\":\"Hello\",\"id\":\"1\"}",
		"{\"op\":\"Hello\",\"id\":1.5}",
		"{\"op\":\"Hello\",\"id\":null}",
		"{\"op\":\"Hello\",\"idx\":1}",
	};
	const char *op, *why;
	json_t *args, *req, *rep;
	uint64_t id = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		req = parse(ok[i]);
		why = NULL;
		CU_ASSERT_EQUAL(proto_request_parse(req, &op, &args, &why), 0);
		json_decref(req);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		req = parse(bad[i]);
		why = NULL;
		CU_ASSERT_EQUAL(proto_request_parse(req, &op, &args, &why),
				-EBADMSG);
		CU_ASSERT_PTR_NOT_NULL(why);
		json_decref(req);
	}
	/* The reply echoes a valid id, and only a valid one. */
	req = parse("{\"op\":\"Hello\",\"id\":42}");
	rep = proto_reply_ok(NULL);
	proto_reply_echo_id(rep, req);
	CU_ASSERT_EQUAL(proto_msg_id(rep, &id), 1);
	CU_ASSERT_EQUAL(id, 42);
	CU_ASSERT_EQUAL(proto_reply_match(rep, 42, true), PROTO_M_OURS);
	json_decref(rep);
	json_decref(req);
	req = parse("{\"op\":\"Hello\",\"id\":-3}");
	rep = proto_reply_ok(NULL);
	proto_reply_echo_id(rep, req);
	CU_ASSERT_EQUAL(proto_msg_id(rep, NULL), 0);
	json_decref(rep);
	json_decref(req);
}

/* The request the peer received: its id (-1 none, -2 no request). */
static long long peer_request_id(int fd)
{
	json_t *req = NULL;
	uint64_t id;
	long long r;

	if (proto_recv_request(fd, &req))
		return -2;
	r = proto_msg_id(req, &id) == 1 ? (long long)id : -1;
	json_decref(req);
	return r;
}

static int pair(int sv[2])
{
	struct timeval tv = { .tv_sec = 2 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	/* The peer side reads with a timeout: a bug fails, never hangs. */
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static void test_stale_skipped(void)
{
	struct gconn c;
	json_t *rep = NULL;
	int sv[2];

	CU_ASSERT_FATAL(pair(sv) == 0);
	gconn_init(&c);
	c.fd = sv[0];
	c.next_id = 41;
	/* What an earlier caller left behind, then the answer. */
	CU_ASSERT_EQUAL(write(sv[1], "xxWG", 4), 4);
	put_frame(sv[1], PROTO_T_REPLY, "{\"ok\":true,\"id\":5}");
	put_frame(sv[1], PROTO_T_REPLY,
		  "{\"ok\":true,\"result\":{\"who\":\"old client\"}}");
	put_frame(sv[1], PROTO_T_REQUEST, "{\"op\":\"NotAReply\"}");
	put_frame(sv[1], PROTO_T_REPLY, "{\"ok\":tr");
	put_frame(sv[1], PROTO_T_REPLY,
		  "{\"ok\":true,\"id\":42,\"result\":{\"who\":\"mine\"}}");
	CU_ASSERT_EQUAL(gconn_exchange(&c, "Hello", NULL, host_now_ms() + 2000,
				       &rep),
			0);
	CU_ASSERT_STRING_EQUAL(
		json_str(json_object_get(rep, "result"), "who") ?: "", "mine");
	CU_ASSERT_EQUAL(c.stale, 2);
	CU_ASSERT_EQUAL(peer_request_id(sv[1]), 42);
	json_decref(rep);
	close(sv[0]);
	close(sv[1]);
}

static void test_stale_only_times_out(void)
{
	struct gconn c;
	json_t *rep = NULL;
	int64_t t0 = host_now_ms();
	int sv[2];

	CU_ASSERT_FATAL(pair(sv) == 0);
	gconn_init(&c);
	c.fd = sv[0];
	c.next_id = 10;
	put_frame(sv[1], PROTO_T_REPLY, "{\"ok\":true,\"id\":1}");
	CU_ASSERT_EQUAL(gconn_exchange(&c, "Hello", NULL, t0 + 150, &rep),
			-ETIMEDOUT);
	CU_ASSERT_PTR_NULL(rep);
	CU_ASSERT(host_now_ms() - t0 >= 150);
	CU_ASSERT_EQUAL(c.stale, 1);
	close(sv[0]);
	close(sv[1]);
}

static void test_old_agent(void)
{
	struct gconn c;
	json_t *rep = NULL;
	int sv[2];

	CU_ASSERT_FATAL(pair(sv) == 0);
	gconn_init(&c);
	c.fd = sv[0];
	put_frame(sv[1], PROTO_T_REPLY,
		  "{\"ok\":false,\"code\":74,\"error\":\"malformed request: "
		  "unknown field in request\"}");
	put_frame(sv[1], PROTO_T_REPLY, "{\"ok\":true,\"result\":{\"v\":1}}");
	CU_ASSERT_EQUAL(gconn_exchange(&c, "Hello", NULL, host_now_ms() + 2000,
				       &rep),
			0);
	CU_ASSERT(c.no_ids);
	CU_ASSERT(json_is_true(json_object_get(rep, "ok")));
	CU_ASSERT(peer_request_id(sv[1]) > 0);
	CU_ASSERT_EQUAL(peer_request_id(sv[1]), -1);
	json_decref(rep);
	close(sv[0]);
	close(sv[1]);
}

/* A guest that answers one request per connection, then closes it (as one
 * that restarted between two calls would look to a kept connection). */
struct oneshot {
	int lfd;
	int conns;
};

static void *oneshot_main(void *arg)
{
	struct oneshot *o = arg;

	for (int i = 0; i < o->conns; i++) {
		int fd = accept(o->lfd, NULL, NULL);
		json_t *req = NULL, *rep;

		if (fd < 0)
			break;
		if (!proto_recv_request(fd, &req)) {
			rep = proto_reply_ok(json_pack("{s:i}", "conn", i));
			proto_reply_echo_id(rep, req);
			proto_send(fd, PROTO_T_REPLY, rep);
			json_decref(rep);
		}
		json_decref(req);
		close(fd);
	}
	return NULL;
}

static void test_redial_once(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct oneshot o = { .conns = 2 };
	char dir[] = "/tmp/wgnet-ut-gconn.XXXXXX", addr[128];
	struct gconn c;
	json_t *rep = NULL;
	pthread_t th;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/g.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", sa.sun_path);
	o.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(o.lfd >= 0);
	CU_ASSERT_FATAL(bind(o.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(o.lfd, 4) == 0);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, oneshot_main, &o) == 0);
	gconn_init(&c);
	CU_ASSERT_EQUAL(gconn_call(&c, addr, "Hello", NULL,
				   host_now_ms() + 2000, &rep),
			0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(
				json_object_get(rep, "result"), "conn")),
			0);
	json_decref(rep);
	CU_ASSERT(c.fd >= 0); /* kept */
	/* The guest closed it: the next call dials again, once, and is
	 * answered on the new connection. */
	CU_ASSERT_EQUAL(gconn_call(&c, addr, "Hello", NULL,
				   host_now_ms() + 2000, &rep),
			0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(
				json_object_get(rep, "result"), "conn")),
			1);
	CU_ASSERT_EQUAL(c.dials, 2);
	json_decref(rep);
	pthread_join(th, NULL);
	/* Nobody listens any more: an error, and no connection kept. */
	close(o.lfd);
	CU_ASSERT(gconn_call(&c, addr, "Hello", NULL, host_now_ms() + 500,
			     &rep) < 0);
	CU_ASSERT_EQUAL(c.fd, -1);
	CU_ASSERT_PTR_NULL(rep);
	gconn_close(&c);
	unlink(sa.sun_path);
	rmdir(dir);
}

/* --- over a serial port: the agent's reader on a pty ------------------- */

struct srig {
	int master, slave;
	struct serial *s;
	struct agent ag;
	volatile bool stop;
};

static void *pump_main(void *arg)
{
	struct srig *r = arg;

	while (!r->stop) {
		struct pollfd p = { .fd = serial_fd(r->s), .events = POLLIN };

		if (poll(&p, 1, 10) > 0)
			serial_handle(&r->ag, r->s);
	}
	return NULL;
}

static int srig_open(struct srig *r)
{
	char path[64];
	struct termios t;

	memset(r, 0, sizeof(*r));
	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (r->master < 0 || grantpt(r->master) || unlockpt(r->master) ||
	    ptsname_r(r->master, path, sizeof(path)))
		return -1;
	r->slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->slave < 0 || tcgetattr(r->slave, &t))
		return -1;
	cfmakeraw(&t);
	if (tcsetattr(r->slave, TCSANOW, &t))
		return -1;
	if (tcgetattr(r->master, &t))
		return -1;
	cfmakeraw(&t);
	if (tcsetattr(r->master, TCSANOW, &t))
		return -1;
	r->s = serial_open(path);
	return r->s ? 0 : -1;
}

static void test_serial_stale(void)
{
	struct srig r;
	struct gconn c;
	json_t *rep = NULL;
	pthread_t th;
	uint64_t id = 0;

	CU_ASSERT_FATAL(srig_open(&r) == 0);
	/* A caller that gave up: its request (id 7) is answered after it
	 * left, into the stream the next caller reads. */
	put_frame(r.master, PROTO_T_REQUEST,
		  "{\"op\":\"GoneCallerOp\",\"id\":7}");
	CU_ASSERT_FATAL(pthread_create(&th, NULL, pump_main, &r) == 0);
	gconn_init(&c);
	c.fd = r.master;
	c.next_id = 99;
	CU_ASSERT_EQUAL(gconn_exchange(&c, "NextCallerOp", NULL,
				       host_now_ms() + 3000, &rep),
			0);
	CU_ASSERT_EQUAL(proto_msg_id(rep, &id), 1);
	CU_ASSERT_EQUAL(id, 100);
	/* Its own answer (an unknown op), not the stale one. */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(json_str(rep, "error") ?: "", "NextCallerOp"));
	CU_ASSERT_EQUAL(c.stale, 1);
	json_decref(rep);
	r.stop = true;
	pthread_join(th, NULL);
	serial_free(r.s);
	close(r.slave);
	close(r.master);
}

void suite_gconn(void)
{
	CU_pSuite s = CU_add_suite("gconn", NULL, NULL);

	CU_add_test(s, "reply matching by id", test_match);
	CU_add_test(s, "resync offsets", test_resync);
	CU_add_test(s, "request id parse and echo", test_request_id);
	CU_add_test(s, "stale replies and garbage skipped", test_stale_skipped);
	CU_add_test(s, "only stale replies: deadline",
		    test_stale_only_times_out);
	CU_add_test(s, "agent older than ids", test_old_agent);
	CU_add_test(s, "kept connection closed: one redial", test_redial_once);
	CU_add_test(s, "serial port: stale reply skipped", test_serial_stale);
}
