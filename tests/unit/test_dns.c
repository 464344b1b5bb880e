// SPDX-License-Identifier: GPL-2.0
/* DNS: hand-made queries through the parser and answer builder, then the
 * socket side on 127.0.0.1 with ephemeral ports (a fake upstream included). */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wgnet/dns.h"

void suite_dns(void);

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct ip_addr ip = { .family = AF_INET };

	ip.a[10] = ip.a[11] = 0xff;
	ip.a[12] = a;
	ip.a[13] = b;
	ip.a[14] = c;
	ip.a[15] = d;
	return ip;
}

/* fd00:1::<last> */
static struct ip_addr v6(uint8_t last)
{
	struct ip_addr ip = { .family = AF_INET6 };

	ip.a[0] = 0xfd;
	ip.a[3] = 1;
	ip.a[15] = last;
	return ip;
}

static struct dns_record recs[5];

static void init_recs(void)
{
	memset(recs, 0, sizeof(recs));
	strcpy(recs[0].name, "web");
	recs[0].addr = v4(172, 18, 0, 3);
	strcpy(recs[1].name, "web-alias");
	recs[1].addr = v4(172, 18, 0, 3);
	strcpy(recs[2].name, "web");
	recs[2].addr = v6(3);
	strcpy(recs[3].name, "v6only");
	recs[3].addr = v6(9);
	strcpy(recs[4].name, "DB.example.");
	recs[4].addr = v4(172, 18, 0, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A query for a text name (no escapes); edns adds an OPT of that size. */
static size_t mkquery(uint8_t *buf, uint16_t id, const char *name,
		      uint16_t qtype, uint16_t edns)
{
	size_t o = 12, l;
	const char *dot;

	memset(buf, 0, 12);
	put16(buf, id);
	put16(buf + 2, DNS_F_RD);
	put16(buf + 4, 1);
	while (*name) {
		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		buf[o++] = l;
		memcpy(buf + o, name, l);
		o += l;
		name += l + (dot ? 1 : 0);
	}
	buf[o++] = 0;
	put16(buf + o, qtype);
	put16(buf + o + 2, DNS_C_IN);
	o += 4;
	if (edns) {
		put16(buf + 10, 1);
		memset(buf + o, 0, 11);
		put16(buf + o + 1, DNS_T_OPT);
		put16(buf + o + 3, edns);
		o += 11;
	}
	return o;
}

/* Parse + answer; returns the reply length and sets *action. */
static int ask(const uint8_t *pkt, size_t len, uint8_t *out, size_t outlen,
	       int *action)
{
	struct dns_query q;
	int r = dns_parse_query(pkt, len, &q);

	CU_ASSERT_EQUAL_FATAL(r, 0);
	return dns_answer(&q, recs, 5, out, outlen, action);
}

static int rcode(const uint8_t *r)
{
	return get16(r + 2) & 0xf;
}

/* Offset of the first answer: after header and the single question. */
static size_t ans_off(const uint8_t *r)
{
	size_t o = 12;

	while (r[o])
		o += 1 + r[o];
	return o + 1 + 4;
}

static void test_a(void)
{
	uint8_t q[512], r[512];
	size_t ql = mkquery(q, 0xbeef, "web", DNS_T_A, 0), o;
	int action = -1, n = ask(q, ql, r, sizeof(r), &action);

	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(n, (int)ql + 16);
	CU_ASSERT_EQUAL(get16(r), 0xbeef);
	CU_ASSERT_EQUAL(get16(r + 2),
			DNS_F_QR | DNS_F_AA | DNS_F_RD | DNS_F_RA);
	CU_ASSERT_EQUAL(get16(r + 4), 1);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(get16(r + 8), 0);
	CU_ASSERT_EQUAL(get16(r + 10), 0);
	CU_ASSERT_EQUAL(memcmp(r + 12, q + 12, ql - 12), 0);
	o = ans_off(r);
	CU_ASSERT_EQUAL(get16(r + o), 0xc00c);
	CU_ASSERT_EQUAL(get16(r + o + 2), DNS_T_A);
	CU_ASSERT_EQUAL(get16(r + o + 4), DNS_C_IN);
	CU_ASSERT_EQUAL(get16(r + o + 6), 0);
	CU_ASSERT_EQUAL(get16(r + o + 8), DNS_TTL);
	CU_ASSERT_EQUAL(get16(r + o + 10), 4);
	CU_ASSERT_EQUAL(memcmp(r + o + 12, (uint8_t[]){ 172, 18, 0, 3 }, 4), 0);
}

static void test_case_and_dot(void)
{
	uint8_t q[512], r[512];
	size_t ql;
	int action, n;

	/* "WEB." on the wire is the same labels; the question keeps its case */
	ql = mkquery(q, 7, "WeB", DNS_T_A, 0);
	n = ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(memcmp(r + 13, "WeB", 3), 0);
	CU_ASSERT_EQUAL(n, (int)ql + 16);
	/* record "DB.example." (trailing dot, upper case) */
	ql = mkquery(q, 8, "db.EXAMPLE", DNS_T_A, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(r[ans_off(r) + 15], 4);
}

static void test_alias_aaaa_any(void)
{
	uint8_t q[512], r[512];
	struct ip_addr six = v6(3);
	size_t ql;
	int action;

	ql = mkquery(q, 1, "web-alias", DNS_T_A, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(r[ans_off(r) + 15], 3);

	ql = mkquery(q, 2, "web", DNS_T_AAAA, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NOERROR);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(get16(r + ans_off(r) + 2), DNS_T_AAAA);
	CU_ASSERT_EQUAL(get16(r + ans_off(r) + 10), 16);
	CU_ASSERT_EQUAL(memcmp(r + ans_off(r) + 12, six.a, 16), 0);

	ql = mkquery(q, 3, "web", DNS_T_ANY, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(get16(r + 6), 2);
}

static void test_nodata(void)
{
	uint8_t q[512], r[512];
	size_t ql;
	int action, n;

	ql = mkquery(q, 3, "v6only", DNS_T_A, 0);
	n = ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(n, (int)ql);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NOERROR);
	CU_ASSERT(get16(r + 2) & DNS_F_AA);
	CU_ASSERT_EQUAL(get16(r + 6), 0);
	/* MX for our name: NODATA too, not forwarded */
	ql = mkquery(q, 4, "web", DNS_T_MX, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(get16(r + 6), 0);
}

static void test_ptr(void)
{
	uint8_t q[512], r[512];
	char name[DNS_REV_STRLEN];
	struct ip_addr six = v6(9);
	size_t ql, o;
	int action;

	ql = mkquery(q, 5, "3.0.18.172.in-addr.arpa", DNS_T_PTR, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NOERROR);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	o = ans_off(r);
	CU_ASSERT_EQUAL(get16(r + o + 2), DNS_T_PTR);
	CU_ASSERT_EQUAL(get16(r + o + 10), 5);
	CU_ASSERT_EQUAL(memcmp(r + o + 12, "\3web\0", 5), 0);

	CU_ASSERT_EQUAL(dns_reverse_name(&six, name, sizeof(name)), 0);
	ql = mkquery(q, 6, name, DNS_T_PTR, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(memcmp(r + ans_off(r) + 12, "\6v6only\0", 8), 0);

	/* A query on our reverse name: NODATA */
	ql = mkquery(q, 7, "4.0.18.172.in-addr.arpa", DNS_T_A, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_REPLY);
	CU_ASSERT_EQUAL(get16(r + 6), 0);
	/* someone else's address: not ours */
	ql = mkquery(q, 8, "8.8.8.8.in-addr.arpa", DNS_T_PTR, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_FORWARD);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_SERVFAIL);
}

static void test_reverse_helpers(void)
{
	char buf[DNS_REV_STRLEN];
	struct ip_addr ip, a = v4(172, 18, 0, 3), b = v6(0xab);

	CU_ASSERT_EQUAL(dns_reverse_name(&a, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "3.0.18.172.in-addr.arpa");
	CU_ASSERT_EQUAL(dns_reverse_parse("3.0.18.172.IN-ADDR.arpa.", &ip), 0);
	CU_ASSERT_EQUAL(memcmp(&ip, &a, sizeof(ip)), 0);
	CU_ASSERT_EQUAL(dns_reverse_name(&b, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				    "0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa");
	CU_ASSERT_EQUAL(dns_reverse_parse(buf, &ip), 0);
	CU_ASSERT_EQUAL(memcmp(&ip, &b, sizeof(ip)), 0);
	CU_ASSERT_EQUAL(dns_reverse_name(&a, buf, 10), -ENOSPC);
	CU_ASSERT_EQUAL(dns_reverse_parse("18.172.in-addr.arpa", &ip), -EINVAL);
	CU_ASSERT_EQUAL(dns_reverse_parse("256.0.18.172.in-addr.arpa", &ip),
			-EINVAL);
	CU_ASSERT_EQUAL(dns_reverse_parse("1.2.3.4.5.in-addr.arpa", &ip),
			-EINVAL);
	CU_ASSERT_EQUAL(dns_reverse_parse("g.0.ip6.arpa", &ip), -EINVAL);
	CU_ASSERT_EQUAL(dns_reverse_parse("web", &ip), -EINVAL);
}

static void test_not_ours(void)
{
	uint8_t q[512], r[512];
	size_t ql;
	int action, n;

	ql = mkquery(q, 9, "nosuch", DNS_T_A, 0);
	n = ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_FORWARD);
	CU_ASSERT_EQUAL(n, (int)ql);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NXDOMAIN);
	CU_ASSERT_EQUAL(get16(r), 9);
	CU_ASSERT_FALSE(get16(r + 2) & DNS_F_AA);

	ql = mkquery(q, 10, "example.com", DNS_T_A, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_FORWARD);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_SERVFAIL);
	/* "web.example.com" is not "web" */
	ql = mkquery(q, 11, "web.example.com", DNS_T_A, 0);
	ask(q, ql, r, sizeof(r), &action);
	CU_ASSERT_EQUAL(action, DNS_FORWARD);
}

static void expect_err(const uint8_t *pkt, size_t len, int err_rcode)
{
	struct dns_query q;
	uint8_t r[512];
	int n;

	CU_ASSERT_EQUAL(dns_parse_query(pkt, len, &q), -EBADMSG);
	CU_ASSERT_EQUAL(q.err_rcode, err_rcode);
	if (err_rcode < 0)
		return;
	n = dns_build_error(&q, err_rcode, r, sizeof(r));
	CU_ASSERT_FATAL(n >= 12);
	CU_ASSERT_EQUAL(get16(r), get16(pkt));
	CU_ASSERT_EQUAL(rcode(r), err_rcode);
	CU_ASSERT(get16(r + 2) & DNS_F_QR);
	CU_ASSERT_EQUAL(get16(r + 6), 0);
}

static void test_malformed(void)
{
	uint8_t q[600];
	size_t ql, i;

	ql = mkquery(q, 0x1234, "web", DNS_T_A, 0);
	expect_err(q, 11, -1); /* shorter than a header */
	expect_err(q, 0, -1);
	expect_err(q, 15, DNS_RCODE_FORMERR); /* question cut */
	expect_err(q, ql - 1, DNS_RCODE_FORMERR);

	put16(q + 4, 2); /* QDCOUNT=2 */
	expect_err(q, ql, DNS_RCODE_FORMERR);
	put16(q + 4, 0);
	expect_err(q, ql, DNS_RCODE_FORMERR);
	put16(q + 4, 1);

	put16(q + 2, DNS_F_QR); /* a response: silence */
	expect_err(q, ql, -1);
	put16(q + 2, 2 << 11); /* opcode STATUS */
	expect_err(q, ql, DNS_RCODE_NOTIMP);
	put16(q + 2, DNS_F_RD);
	put16(q + ql - 2, 3); /* class CHAOS */
	expect_err(q, ql, DNS_RCODE_NOTIMP);

	/* label of 64 */
	memset(q + 12, 'a', 65);
	q[12] = 64;
	q[77] = 0;
	put16(q + 78, DNS_T_A);
	put16(q + 80, DNS_C_IN);
	expect_err(q, 82, DNS_RCODE_FORMERR);
	q[12] = 63;
	q[76] = 0;
	put16(q + 77, DNS_T_A);
	put16(q + 79, DNS_C_IN);
	CU_ASSERT_EQUAL(dns_parse_query(q, 81, &(struct dns_query){ 0 }), 0);

	/* name of 256 bytes: five labels of 50 and the root; 255 is fine */
	for (i = 0; i < 5; i++) {
		q[12 + i * 51] = 50;
		memset(q + 13 + i * 51, 'b', 50);
	}
	q[12 + 255] = 0;
	put16(q + 12 + 256, DNS_T_A);
	put16(q + 12 + 258, DNS_C_IN);
	expect_err(q, 12 + 260, DNS_RCODE_FORMERR);
	q[12 + 204] = 49;
	q[12 + 254] = 0;
	put16(q + 12 + 255, DNS_T_A);
	put16(q + 12 + 257, DNS_C_IN);
	CU_ASSERT_EQUAL(dns_parse_query(q, 12 + 259, &(struct dns_query){ 0 }),
			0);

	/* compression pointer to itself, and a pointer pair loop */
	q[12] = 0xc0;
	q[13] = 12;
	put16(q + 14, DNS_T_A);
	put16(q + 16, DNS_C_IN);
	expect_err(q, 18, DNS_RCODE_FORMERR);
	q[12] = 1;
	q[13] = 'x';
	q[14] = 0xc0;
	q[15] = 12;
	put16(q + 16, DNS_T_A);
	put16(q + 18, DNS_C_IN);
	expect_err(q, 20, DNS_RCODE_FORMERR);

	/* qtype AXFR: not implemented; OPT as qtype: FORMERR */
	ql = mkquery(q, 1, "web", 252, 0);
	expect_err(q, ql, DNS_RCODE_NOTIMP);
	ql = mkquery(q, 1, "web", DNS_T_OPT, 0);
	expect_err(q, ql, DNS_RCODE_FORMERR);
	/* garbage in the additional section is tolerated */
	ql = mkquery(q, 1, "web", DNS_T_A, 0);
	put16(q + 10, 3);
	q[ql] = 0xc0;
	CU_ASSERT_EQUAL(dns_parse_query(q, ql + 1, &(struct dns_query){ 0 }),
			0);
}

static void test_error_reply(void)
{
	uint8_t q[512], r[512];
	struct dns_query pq;
	size_t ql = mkquery(q, 0x4242, "example.com", DNS_T_A, 0);
	int n;

	CU_ASSERT_EQUAL_FATAL(dns_parse_query(q, ql, &pq), 0);
	n = dns_build_error(&pq, DNS_RCODE_SERVFAIL, r, sizeof(r));
	CU_ASSERT_EQUAL(n, (int)ql);
	CU_ASSERT_EQUAL(get16(r), 0x4242);
	CU_ASSERT_EQUAL(get16(r + 2),
			DNS_F_QR | DNS_F_RD | DNS_F_RA | DNS_RCODE_SERVFAIL);
	CU_ASSERT_EQUAL(memcmp(r + 12, q + 12, ql - 12), 0);
	CU_ASSERT_EQUAL(dns_build_error(&pq, DNS_RCODE_SERVFAIL, r, 20),
			-ENOSPC);
	/* RD clear in the query: clear in the reply */
	put16(q + 2, 0);
	dns_parse_query(q, ql, &pq);
	dns_build_error(&pq, DNS_RCODE_SERVFAIL, r, sizeof(r));
	CU_ASSERT_EQUAL(get16(r + 2), DNS_F_QR | DNS_F_RA | 2);
}

static void test_truncation_edns(void)
{
	static struct dns_record many[40];
	uint8_t q[512], r[4096];
	struct dns_query pq;
	size_t ql;
	int action, n;

	for (int i = 0; i < 40; i++) {
		strcpy(many[i].name, "big");
		many[i].addr = v4(10, 0, 0, i + 1);
	}
	/* 40 answers of 16 bytes do not fit in 512 */
	ql = mkquery(q, 1, "big", DNS_T_A, 0);
	CU_ASSERT_EQUAL_FATAL(dns_parse_query(q, ql, &pq), 0);
	n = dns_answer(&pq, many, 40, r, sizeof(r), &action);
	CU_ASSERT(n > 0 && n <= 512);
	CU_ASSERT(get16(r + 2) & DNS_F_TC);
	CU_ASSERT_EQUAL(get16(r + 6), (512 - ql) / 16);
	CU_ASSERT_EQUAL(n, (int)(ql + 16 * get16(r + 6)));

	/* with EDNS 1232 all fit, and the reply carries an OPT */
	ql = mkquery(q, 2, "big", DNS_T_A, 1232);
	CU_ASSERT_EQUAL_FATAL(dns_parse_query(q, ql, &pq), 0);
	CU_ASSERT(pq.edns);
	CU_ASSERT_EQUAL(pq.max_reply, 1232);
	n = dns_answer(&pq, many, 40, r, sizeof(r), &action);
	CU_ASSERT_FALSE(get16(r + 2) & DNS_F_TC);
	CU_ASSERT_EQUAL(get16(r + 6), 40);
	CU_ASSERT_EQUAL(get16(r + 10), 1);
	CU_ASSERT_EQUAL(n, (int)(ql - 11 + 40 * 16 + 11));
	CU_ASSERT_EQUAL(get16(r + n - 11 + 1), DNS_T_OPT);

	/* a tiny EDNS size means 512 */
	ql = mkquery(q, 3, "web", DNS_T_A, 100);
	CU_ASSERT_EQUAL_FATAL(dns_parse_query(q, ql, &pq), 0);
	CU_ASSERT_EQUAL(pq.max_reply, 512);
	/* an out buffer too small for anything */
	CU_ASSERT_EQUAL(dns_answer(&pq, recs, 5, r, 20, &action), -ENOSPC);
}

static void test_name_str(void)
{
	char buf[64];

	CU_ASSERT_EQUAL(dns_name_str((const uint8_t *)"\3web\7Ex.mple\0", 14,
				     buf, sizeof(buf)),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "web.Ex\\046mple");
	CU_ASSERT_EQUAL(dns_name_str((const uint8_t *)"\0", 1, buf, 4), 0);
	CU_ASSERT_STRING_EQUAL(buf, ".");
	CU_ASSERT_EQUAL(dns_name_str((const uint8_t *)"\3web", 4, buf, 64),
			-EINVAL);
	CU_ASSERT_EQUAL(dns_name_str((const uint8_t *)"\3web\0", 5, buf, 3),
			-ENOSPC);
}

/* ---- sockets on 127.0.0.1 ---- */

static int udp_bound(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CU_ASSERT_FATAL(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int tcp_listener(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CU_ASSERT_FATAL(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CU_ASSERT_FATAL(listen(fd, 8) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void send_to(int fd, const uint8_t *buf, size_t len, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_EQUAL(sendto(fd, buf, len, 0, (struct sockaddr *)&sin,
			       sizeof(sin)),
			(ssize_t)len);
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the server until watch_fd is readable (1) or ms pass (0). */
static int pump(struct dns_server *s, int watch_fd, int ms)
{
	struct pollfd *fds = NULL;
	long end = ms_now() + ms;
	int n, t, st, ret;

	for (;;) {
		size_t max = dns_server_nfds(s);

		free(fds);
		fds = calloc(max + 1, sizeof(*fds));
		CU_ASSERT_FATAL(fds != NULL);
		n = dns_server_pollfds(s, fds, max);
		CU_ASSERT_FATAL(n >= 0);
		fds[n] = (struct pollfd){ watch_fd, POLLIN, 0 };
		t = end - ms_now();
		if (t < 0)
			t = 0;
		st = dns_server_timeout_ms(s);
		if (st >= 0 && st < t)
			t = st;
		CU_ASSERT_FATAL(poll(fds, n + 1, t) >= 0);
		dns_server_handle(s, fds, n);
		dns_server_tick(s);
		ret = (fds[n].revents & POLLIN) ? 1 : ms_now() >= end ? 0 : -1;
		if (ret >= 0) {
			free(fds);
			return ret;
		}
	}
}

static void test_srv_local(void)
{
	uint16_t sport, tport, cport;
	int sfd = udp_bound(&sport), tfd = tcp_listener(&tport);
	int cfd = udp_bound(&cport);
	struct dns_server *s = dns_server_new(NULL, 0);
	uint8_t q[512], r[4096];
	size_t ql;
	ssize_t n;

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", sfd, tfd), 0);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", sfd, tfd), -EEXIST);
	CU_ASSERT_EQUAL(dns_server_set_records(s, "c1", recs, 5), 0);
	CU_ASSERT_EQUAL(dns_server_set_records(s, "nope", recs, 5), -ENOENT);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 2);
	CU_ASSERT_EQUAL(dns_server_timeout_ms(s), -1);

	ql = mkquery(q, 0x5151, "web", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(n, (ssize_t)ql + 16);
	CU_ASSERT_EQUAL(get16(r), 0x5151);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(memcmp(r + n - 4, (uint8_t[]){ 172, 18, 0, 3 }, 4), 0);

	/* no upstream: unknown single label NXDOMAIN, dotted SERVFAIL, at once */
	ql = mkquery(q, 0x5252, "nosuch", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(n, (ssize_t)ql);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NXDOMAIN);
	ql = mkquery(q, 0x5353, "example.com", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_SERVFAIL);
	CU_ASSERT_EQUAL(get16(r), 0x5353);

	/* garbage: no reply; then a good query still works */
	send_to(cfd, q, 5, sport);
	CU_ASSERT_FALSE(pump(s, cfd, 100));

	/* records replaced: web gone */
	CU_ASSERT_EQUAL(dns_server_set_records(s, "c1", recs + 3, 2), 0);
	ql = mkquery(q, 0x5454, "web", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(get16(r), 0x5454);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_NXDOMAIN);

	CU_ASSERT_EQUAL(dns_server_remove_client(s, "c1"), 0);
	CU_ASSERT_EQUAL(dns_server_remove_client(s, "c1"), -ENOENT);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 0);
	/* the server closed sfd */
	CU_ASSERT_EQUAL(close(sfd), -1);
	dns_server_free(s);
	close(cfd);
}

static void test_srv_tcp(void)
{
	uint16_t tport;
	int tfd = tcp_listener(&tport), cfd;
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(tport) };
	struct dns_server *s = dns_server_new(NULL, 0);
	uint8_t q[1024], r[4096];
	size_t ql, ql2, got = 0;
	ssize_t n;

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", -1, tfd), 0);
	CU_ASSERT_EQUAL(dns_server_set_records(s, "c1", recs, 5), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) ==
			0);
	/* two pipelined queries on one connection, as glibc sends A + AAAA */
	ql = mkquery(q + 2, 0x7001, "web", DNS_T_A, 0);
	put16(q, ql);
	ql2 = mkquery(q + 4 + ql, 0x7002, "web", DNS_T_AAAA, 0);
	put16(q + 2 + ql, ql2);
	CU_ASSERT_EQUAL(send(cfd, q, ql + ql2 + 4, 0), (ssize_t)(ql + ql2 + 4));
	while (got < ql + 16 + ql2 + 28 + 4 && pump(s, cfd, 1000)) {
		n = recv(cfd, r + got, sizeof(r) - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += n;
	}
	CU_ASSERT_EQUAL_FATAL(got, ql + 16 + ql2 + 28 + 4);
	CU_ASSERT_EQUAL(get16(r), ql + 16);
	CU_ASSERT_EQUAL(get16(r + 2), 0x7001);
	CU_ASSERT_EQUAL(get16(r + 2 + 6), 1);
	CU_ASSERT_EQUAL(get16(r + 2 + ql + 16), ql2 + 28);
	CU_ASSERT_EQUAL(get16(r + 4 + ql + 16), 0x7002);
	CU_ASSERT_EQUAL(get16(r + 4 + ql + 16 + 6), 1);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 2);
	/* a bogus length closes the connection */
	put16(q, 3);
	send(cfd, q, 2, 0);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	CU_ASSERT_EQUAL(recv(cfd, r, sizeof(r), MSG_DONTWAIT), 0);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 1);
	close(cfd);
	dns_server_free(s);
}

static void test_srv_forward(void)
{
	uint16_t sport, cport, uport;
	int sfd = udp_bound(&sport), cfd = udp_bound(&cport);
	int ufd = udp_bound(&uport);
	struct ip_addr lo = v4(127, 0, 0, 1);
	struct dns_server *s = dns_server_new(&lo, uport);
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	uint8_t q[512], r[512], fake[512];
	uint16_t up_id;
	size_t ql;
	ssize_t n;

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", sfd, -1), 0);
	CU_ASSERT_EQUAL(dns_server_set_records(s, "c1", recs, 5), 0);

	ql = mkquery(q, 0x6161, "Example.com", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	/* the fake upstream gets the query with the same question */
	CU_ASSERT_FATAL(pump(s, ufd, 1000));
	n = recvfrom(ufd, fake, sizeof(fake), 0, (struct sockaddr *)&from,
		     &fromlen);
	CU_ASSERT_EQUAL_FATAL(n, (ssize_t)ql);
	CU_ASSERT_EQUAL(memcmp(fake + 2, q + 2, ql - 2), 0);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 2);
	CU_ASSERT(dns_server_timeout_ms(s) > 0);
	up_id = get16(fake);

	/* a reply with a wrong id is ignored; the right one is relayed */
	put16(fake, up_id ^ 1);
	put16(fake + 2, DNS_F_QR | DNS_F_RD | DNS_F_RA);
	sendto(ufd, fake, n, 0, (struct sockaddr *)&from, fromlen);
	CU_ASSERT_FALSE(pump(s, cfd, 100));
	put16(fake, up_id);
	put16(fake + 6, 1);
	memcpy(fake + n, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\x5d\xb8\xd8\x22", 16);
	fake[13] = 'e'; /* upstream lowercased the name: accepted */
	sendto(ufd, fake, n + 16, 0, (struct sockaddr *)&from, fromlen);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(n, (ssize_t)ql + 16);
	CU_ASSERT_EQUAL(get16(r), 0x6161);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(memcmp(r + n - 4, "\x5d\xb8\xd8\x22", 4), 0);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 1);
	CU_ASSERT_EQUAL(dns_server_timeout_ms(s), -1);

	/* local names are not forwarded even with an upstream */
	ql = mkquery(q, 0x6262, "web", DNS_T_A, 0);
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1000));
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(get16(r + 6), 1);
	CU_ASSERT_EQUAL(recv(ufd, fake, sizeof(fake), MSG_DONTWAIT), -1);

	dns_server_free(s);
	close(cfd);
	close(ufd);
}

static void test_srv_timeout(void)
{
	uint16_t sport, cport, uport;
	int sfd = udp_bound(&sport), cfd = udp_bound(&cport);
	int ufd = udp_bound(&uport);
	struct ip_addr lo = v4(127, 0, 0, 1);
	struct dns_server *s = dns_server_new(&lo, uport);
	uint8_t q[512], r[512];
	long t0;
	size_t ql;
	ssize_t n;
	int i, servfail = 0;

	CU_ASSERT_FATAL(s != NULL);
	dns_server_set_timeout_ms(s, 200);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", sfd, -1), 0);

	/* a silent upstream: SERVFAIL after the timeout */
	ql = mkquery(q, 0x7171, "silent.example", DNS_T_A, 0);
	t0 = ms_now();
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 2000));
	CU_ASSERT(ms_now() - t0 >= 190);
	n = recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(n, (ssize_t)ql);
	CU_ASSERT_EQUAL(get16(r), 0x7171);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_SERVFAIL);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 1);

	/* more than the container's share in flight: the rest fail at once */
	dns_server_set_timeout_ms(s, 5000);
	for (i = 0; i < DNS_MAX_FORWARDS_PER_CTR + 3; i++) {
		ql = mkquery(q, i, "silent.example", DNS_T_A, 0);
		send_to(cfd, q, ql, sport);
		/* in batches, so no socket buffer overflows */
		if (i % 32 == 31)
			pump(s, -1, 20);
	}
	while (pump(s, cfd, 300)) {
		if (recv(cfd, r, sizeof(r), 0) > 0 &&
		    rcode(r) == DNS_RCODE_SERVFAIL)
			servfail++;
	}
	CU_ASSERT_EQUAL(servfail, 3);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 1 + DNS_MAX_FORWARDS_PER_CTR);
	/* removing the client drops its forwards */
	CU_ASSERT_EQUAL(dns_server_remove_client(s, "c1"), 0);
	CU_ASSERT_EQUAL(dns_server_nfds(s), 0);
	dns_server_free(s);
	close(ufd);

	/* upstream port closed: ICMP refusal gives SERVFAIL before the timeout */
	sfd = udp_bound(&sport);
	ufd = udp_bound(&uport);
	close(ufd);
	s = dns_server_new(&lo, uport);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(dns_server_add_client(s, "c1", sfd, -1), 0);
	ql = mkquery(q, 0x7272, "refused.example", DNS_T_A, 0);
	t0 = ms_now();
	send_to(cfd, q, ql, sport);
	CU_ASSERT_FATAL(pump(s, cfd, 1500));
	CU_ASSERT(ms_now() - t0 < 1000);
	recv(cfd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(get16(r), 0x7272);
	CU_ASSERT_EQUAL(rcode(r), DNS_RCODE_SERVFAIL);
	dns_server_free(s);
	close(cfd);
}

static int suite_init(void)
{
	init_recs();
	return 0;
}

/* Read every datagram on @fd; count answers that carry @want's address per
 * source port. */
static int count_answers(struct dns_server *s, int fd, int expect,
			 const uint8_t want[4])
{
	uint8_t r[512];
	int got = 0;
	ssize_t n;

	while (got < expect && pump(s, fd, 2000)) {
		while ((n = recv(fd, r, sizeof(r), MSG_DONTWAIT)) > 0)
			if (rcode(r) == DNS_RCODE_NOERROR && get16(r + 6) == 1 &&
			    !memcmp(r + n - 4, want, 4))
				got++;
	}
	return got;
}

/*
 * 300 containers on one server (no fixed number of poll slots): one floods
 * with names that go upstream (a silent upstream, so they stay in flight)
 * and with TCP connections; it gets its own share and is refused beyond it
 * (counted), while every other container's local name is answered and
 * another container's forward and TCP query still get through.
 */
#define FAIR_N 300
static void test_srv_many_fair(void)
{
	static const uint8_t want[4] = { 10, 9, 8, 7 };
	struct dns_record rec = { .name = "web", .addr = v4(10, 9, 8, 7) };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint16_t ports[FAIR_N], uport, cport, t0port, t1port;
	int ufd = udp_bound(&uport), cfd = udp_bound(&cport);
	int t0 = tcp_listener(&t0port), t1 = tcp_listener(&t1port), k1;
	struct ip_addr lo = v4(127, 0, 0, 1);
	struct dns_server *s = dns_server_new(&lo, uport);
	struct dns_server_stats st;
	int held[DNS_MAX_TCP_PER_CTR + 4], rcvbuf = 1 << 20;
	uint8_t q[512], r[512];
	char key[16];
	size_t ql;
	ssize_t n;
	int i, servfail = 0;

	CU_ASSERT_FATAL(s != NULL);
	dns_server_set_timeout_ms(s, 10000);
	setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (i = 0; i < FAIR_N; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		CU_ASSERT_EQUAL_FATAL(dns_server_add_client(s, key, udp_bound(&ports[i]),
							    i == 0 ? t0 : i == 1 ? t1 : -1),
				      0);
		CU_ASSERT_EQUAL(dns_server_set_records(s, key, &rec, 1), 0);
	}
	CU_ASSERT_EQUAL(dns_server_nfds(s), FAIR_N + 2);

	/* c0 floods: 200 forwarded names, more TCP connections than its share */
	for (i = 0; i < 200; i++) {
		ql = mkquery(q, (uint16_t)i, "x.flood.example", DNS_T_A, 0);
		send_to(cfd, q, ql, ports[0]);
		if (i % 32 == 31)
			pump(s, -1, 20);
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(t0port);
	for (i = 0; i < DNS_MAX_TCP_PER_CTR + 4; i++) {
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CU_ASSERT(connect(held[i], (struct sockaddr *)&sin, sizeof(sin)) == 0);
		pump(s, -1, 10);
	}
	while (pump(s, cfd, 300))
		while ((n = recv(cfd, r, sizeof(r), MSG_DONTWAIT)) > 0)
			servfail += rcode(r) == DNS_RCODE_SERVFAIL;
	dns_server_get_stats(s, &st);
	CU_ASSERT_EQUAL(servfail, 200 - DNS_MAX_FORWARDS_PER_CTR);
	CU_ASSERT_EQUAL(st.fwd_inflight, DNS_MAX_FORWARDS_PER_CTR);
	CU_ASSERT_EQUAL(st.fwd_refused_ctr, 200 - DNS_MAX_FORWARDS_PER_CTR);
	CU_ASSERT_EQUAL(st.fwd_refused_total, 0);
	CU_ASSERT_EQUAL(st.tcp_conns, DNS_MAX_TCP_PER_CTR);
	CU_ASSERT_EQUAL(st.tcp_refused_ctr, 4);
	CU_ASSERT_EQUAL(st.clients, FAIR_N);

	/* meanwhile every container resolves its local name */
	for (i = 0; i < FAIR_N; i++) {
		ql = mkquery(q, (uint16_t)(0x1000 + i), "web", DNS_T_A, 0);
		send_to(cfd, q, ql, ports[i]);
	}
	CU_ASSERT_EQUAL(count_answers(s, cfd, FAIR_N, want), FAIR_N);

	/* c1's forward goes upstream (the flood did not take the room)... */
	for (i = 0; recv(ufd, r, sizeof(r), MSG_DONTWAIT) > 0; i++)
		;
	CU_ASSERT_EQUAL(i, DNS_MAX_FORWARDS_PER_CTR); /* the flood's share */
	ql = mkquery(q, 0x4242, "ok.example", DNS_T_A, 0);
	send_to(cfd, q, ql, ports[1]);
	CU_ASSERT_FATAL(pump(s, ufd, 1000));
	n = recv(ufd, r, sizeof(r), 0);
	CU_ASSERT_EQUAL(n, (ssize_t)ql);
	CU_ASSERT_EQUAL(memcmp(r + 12, q + 12, ql - 12), 0);
	/* ...and c1's TCP query is answered */
	sin.sin_port = htons(t1port);
	k1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(connect(k1, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	ql = mkquery(q + 2, 0x4343, "web", DNS_T_A, 0);
	put16(q, (uint16_t)ql);
	CU_ASSERT_EQUAL(send(k1, q, ql + 2, 0), (ssize_t)ql + 2);
	CU_ASSERT_FATAL(pump(s, k1, 2000));
	n = recv(k1, r, sizeof(r), 0);
	CU_ASSERT(n > 2 + 12 && get16(r + 2) == 0x4343 && rcode(r + 2) == 0);
	close(k1);
	dns_server_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.tcp_refused_ctr, 4);

	for (i = 0; i < DNS_MAX_TCP_PER_CTR + 4; i++)
		close(held[i]);
	dns_server_free(s);
	close(cfd);
	close(ufd);
}

void suite_dns(void)
{
	CU_pSuite s = CU_add_suite("dns", suite_init, NULL);

	CU_add_test(s, "A answer", test_a);
	CU_add_test(s, "case and trailing dot", test_case_and_dot);
	CU_add_test(s, "alias, AAAA, ANY", test_alias_aaaa_any);
	CU_add_test(s, "NODATA", test_nodata);
	CU_add_test(s, "PTR", test_ptr);
	CU_add_test(s, "reverse name helpers", test_reverse_helpers);
	CU_add_test(s, "names not ours", test_not_ours);
	CU_add_test(s, "malformed queries", test_malformed);
	CU_add_test(s, "error replies", test_error_reply);
	CU_add_test(s, "truncation and EDNS", test_truncation_edns);
	CU_add_test(s, "name to text", test_name_str);
	CU_add_test(s, "server: local UDP answers", test_srv_local);
	CU_add_test(s, "server: TCP", test_srv_tcp);
	CU_add_test(s, "server: forwarding", test_srv_forward);
	CU_add_test(s, "server: upstream timeout and limits", test_srv_timeout);
	CU_add_test(s, "server: 300 containers, one flooding, others served",
		    test_srv_many_fair);
}
