/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The embedded DNS responder at 127.0.0.11:53 in each container.
 *
 * dns.c is pure (no sockets): it parses a query and builds the reply from the
 * container's records. dnssrv.c is the socket side for a poll loop: one UDP
 * and one TCP listening socket per container, upstream forwarding for names
 * that are not ours. See docs/dns.md.
 */
#ifndef WGNET_DNS_H
#define WGNET_DNS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgnet/ipnet.h"

#define DNS_PORT 53
#define DNS_TTL 600 /* as Docker's embedded DNS */
#define DNS_HDR_LEN 12
#define DNS_NAME_WIRE_MAX 255 /* wire form, including the root label */
#define DNS_LABEL_MAX 63
#define DNS_UDP_MAX 512 /* UDP reply limit without EDNS */
#define DNS_EDNS_MAX 4096 /* we never promise or use more than this */
#define DNS_TCP_MAX 65535
/* Fairness: each container has its own share of in-flight upstream queries
 * and TCP connections; the server-wide caps only bound descriptors and are
 * far above one container's share. */
#define DNS_MAX_FORWARDS_PER_CTR 32
#define DNS_MAX_TCP_PER_CTR 8
#define DNS_MAX_FORWARDS 4096 /* in-flight upstream queries per server */
#define DNS_MAX_TCP_CONNS 1024
#define DNS_FORWARD_TIMEOUT_MS 2000
#define DNS_TCP_TIMEOUT_MS 2000
/* Enough for any reverse name ("…ip6.arpa" is 72 characters). */
#define DNS_REV_STRLEN 80

enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_OPT = 41,
	DNS_T_ANY = 255,
};

enum { DNS_C_IN = 1 };

enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

/* Header flag bits (host order of the 16-bit flags word). */
enum {
	DNS_F_QR = 1U << 15,
	DNS_F_AA = 1U << 10,
	DNS_F_TC = 1U << 9,
	DNS_F_RD = 1U << 8,
	DNS_F_RA = 1U << 7,
	DNS_F_CD = 1U << 4,
};

/* What dns_answer() wants the caller to do with the reply. */
enum {
	DNS_REPLY = 0, /* send the reply written to out */
	/* The name is not ours: forward the query upstream; without an upstream,
	 * send the reply written to out (NXDOMAIN or SERVFAIL, see dns.md). */
	DNS_FORWARD = 1,
};

/* One name the container may resolve. */
struct dns_record {
	char name[256]; /* "web", "web." or "db.example"; any case */
	struct ip_addr addr; /* AF_INET (v4-mapped) or AF_INET6 */
};

/* A parsed query. */
struct dns_query {
	uint16_t id;
	uint16_t flags; /* header flags as received */
	bool has_question; /* qname/qtype/qclass are valid */
	uint8_t qname[DNS_NAME_WIRE_MAX]; /* wire form, case as received */
	size_t qname_len; /* including the root label */
	uint16_t qtype;
	uint16_t qclass;
	bool edns; /* the query carried an OPT record */
	/* Largest reply the client accepts: 512, or its EDNS size (at most
	 * DNS_EDNS_MAX). The TCP side sets DNS_TCP_MAX. */
	size_t max_reply;
	/* After a failed dns_parse_query(): the rcode to answer with
	 * (FORMERR, NOTIMP), or -1 to stay silent. */
	int err_rcode;
};

/**
 * dns_parse_query() - parse a DNS query message.
 * @pkt: the message (UDP payload, or TCP message without its length prefix)
 * @len: its length
 * @q: filled in; on -EBADMSG, q->err_rcode says how to answer
 *
 * Requires QR=0, opcode 0, QDCOUNT=1, a well-formed uncompressed question of
 * class IN. An EDNS OPT record in the additional section is recognised.
 *
 * Return: 0, or -EBADMSG (q->err_rcode: -1 for garbage shorter than a header
 * or a response; DNS_RCODE_FORMERR for a bad question; DNS_RCODE_NOTIMP for
 * another opcode or class).
 */
int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q);

/**
 * dns_answer() - build the reply to @q from the container's records.
 * @q: a query dns_parse_query() accepted
 * @recs: the container's records; @n: their number
 * @out: reply buffer; @outlen: its size
 * @action: set to DNS_REPLY or DNS_FORWARD
 *
 * A/AAAA/ANY for our names answer from @recs (NODATA when the name exists
 * but has no record of the type), PTR for the reverse name of one of our
 * addresses answers with the record's name. Other names: DNS_FORWARD, with
 * the reply for the no-upstream case in @out (NXDOMAIN for a single-label
 * name, SERVFAIL otherwise). The reply is limited to min(@outlen,
 * q->max_reply) bytes; answers that do not fit are left out and TC is set.
 *
 * Return: the reply's length, or -EINVAL / -ENOSPC.
 */
int dns_answer(const struct dns_query *q, const struct dns_record *recs,
	       size_t n, uint8_t *out, size_t outlen, int *action);

/**
 * dns_build_error() - an error reply (FORMERR, SERVFAIL, NOTIMP, …) to @q.
 *
 * Keeps the id, RD and, if q->has_question, the question.
 * Return: the reply's length, or -EINVAL (no header was parsed) / -ENOSPC.
 */
int dns_build_error(const struct dns_query *q, int rcode, uint8_t *out,
		    size_t outlen);

/* "3.0.18.172.in-addr.arpa" or the nibble "….ip6.arpa" name of @ip into
 * buf (DNS_REV_STRLEN), without the trailing dot. 0, -EINVAL or -ENOSPC. */
int dns_reverse_name(const struct ip_addr *ip, char *buf, size_t len);
/* The address of a full reverse name (any case, trailing dot allowed).
 * 0 or -EINVAL. */
int dns_reverse_parse(const char *name, struct ip_addr *ip);
/* Wire name to text ("web.example", "." for the root), escaping odd bytes
 * as \DDD. 0, -EINVAL or -ENOSPC (buf of 4 * DNS_NAME_WIRE_MAX is enough). */
int dns_name_str(const uint8_t *wire, size_t wlen, char *buf, size_t len);

/*
 * The socket side. Non-blocking and single-threaded: call dns_server_pollfds()
 * to get the descriptors to watch, poll() them (with dns_server_timeout_ms()
 * as the timeout or less), then dns_server_handle() and dns_server_tick().
 */
struct dns_server;

/* @upstream: where to forward other names (family 0: nowhere). The
 * forwarding sockets are plain socket()s in the caller's namespace.
 * NULL with errno on failure. */
struct dns_server *dns_server_new(const struct ip_addr *upstream,
				  uint16_t upstream_port);
/* Counters (GetStatus "dns"). */
struct dns_server_stats {
	uint64_t forwarded; /* queries sent upstream */
	uint64_t fwd_refused_ctr; /* SERVFAIL: the container's share was full */
	uint64_t fwd_refused_total; /* SERVFAIL: the server-wide cap */
	uint64_t tcp_refused_ctr; /* closed: the container's share was full */
	uint64_t tcp_refused_total;
	uint64_t fwd_inflight, tcp_conns, clients; /* now */
};
void dns_server_get_stats(const struct dns_server *s,
			  struct dns_server_stats *out);

/* Closes every descriptor the server owns. NULL is a no-op. */
void dns_server_free(struct dns_server *s);
/* Forward timeout (default DNS_FORWARD_TIMEOUT_MS); for tests. */
void dns_server_set_timeout_ms(struct dns_server *s, int ms);

/* Serve a container: @udp_fd a bound UDP socket, @tcp_fd a listening TCP
 * socket (either may be -1). On success the server owns both (they are made
 * non-blocking). -EEXIST, -EINVAL or -ENOMEM. */
int dns_server_add_client(struct dns_server *s, const char *key, int udp_fd,
			  int tcp_fd);
/* Closes the container's descriptors and drops its pending queries.
 * -ENOENT if unknown. */
int dns_server_remove_client(struct dns_server *s, const char *key);
/* Replace the container's records (copied). -ENOENT or -ENOMEM. */
int dns_server_set_records(struct dns_server *s, const char *key,
			   const struct dns_record *recs, size_t n);

/* How many pollfds dns_server_pollfds() needs right now. */
size_t dns_server_nfds(const struct dns_server *s);
/* Fill @fds with what to watch. The number filled, or -ENOSPC if @max is
 * less than dns_server_nfds(). */
int dns_server_pollfds(struct dns_server *s, struct pollfd *fds, size_t max);
/* Process the ready entries of @fds (entries the server does not own are
 * ignored, so the caller may pass its whole array). */
void dns_server_handle(struct dns_server *s, const struct pollfd *fds,
		       size_t n);
/* Milliseconds to the next deadline (0 if one passed), or -1 if none. */
int dns_server_timeout_ms(const struct dns_server *s);
/* Expire forwards (SERVFAIL to the client) and stale TCP connections. */
void dns_server_tick(struct dns_server *s);

#endif
