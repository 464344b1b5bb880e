// SPDX-License-Identifier: GPL-2.0
/*
 * The socket side of the embedded DNS responder, for a single-threaded poll
 * loop. Each container has a UDP socket and a TCP listening socket (made in
 * its namespace by the caller). Local names are answered by dns_answer();
 * other UDP queries go to the upstream resolver through a fresh UDP socket
 * in the caller's namespace, with a random id, and the reply is relayed from
 * the container's UDP socket with the client's id restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wgnet/dns.h"
#include "wgnet/log.h"

#define DNS_TCP_QUERY_MAX 4096 /* longest query accepted over TCP */
#define DNS_UDP_BATCH 64 /* datagrams read per readiness event */
#define DNS_ACCEPT_BATCH 16

struct dns_client {
	struct dns_client *next;
	char *key;
	int udp_fd;
	int tcp_fd;
	struct dns_record *recs;
	size_t nrecs;
	unsigned int gen;
	size_t nfwd, nconn; /* this container's share */
};

/* One query in flight upstream. */
struct dns_fwd {
	struct dns_fwd *next;
	int fd;
	struct dns_client *client;
	uint16_t up_id;
	struct dns_query q;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint64_t deadline;
	unsigned int gen;
};

/* An accepted TCP connection: read a length-prefixed query, write the
 * reply, repeat until EOF or the idle deadline. */
struct dns_conn {
	struct dns_conn *next;
	int fd;
	struct dns_client *client;
	uint8_t in[2 + DNS_TCP_QUERY_MAX];
	size_t have, want;
	uint8_t *out;
	size_t out_len, out_off;
	uint64_t deadline;
	unsigned int gen;
};

struct dns_server {
	struct ip_addr upstream;
	struct sockaddr_storage up_sa;
	socklen_t up_salen;
	int timeout_ms;
	struct dns_client *clients;
	struct dns_fwd *fwds;
	size_t nfwd;
	struct dns_conn *conns;
	size_t nconn;
	unsigned int gen;
	struct dns_server_stats st;
	uint8_t pkt[DNS_TCP_MAX + 2];
	uint8_t reply[DNS_TCP_MAX + 2];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int to_sockaddr(const struct ip_addr *ip, uint16_t port,
		       struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->a + 12, 4);
		*len = sizeof(*sin);
		return 0;
	}
	if (ip->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip->a, 16);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t random_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = (uint16_t)(random() ^ now_ms());
	return id;
}

struct dns_server *dns_server_new(const struct ip_addr *upstream,
				  uint16_t upstream_port)
{
	struct dns_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->timeout_ms = DNS_FORWARD_TIMEOUT_MS;
	if (upstream && upstream->family) {
		if (to_sockaddr(upstream, upstream_port ?: DNS_PORT, &s->up_sa,
				&s->up_salen)) {
			free(s);
			errno = EINVAL;
			return NULL;
		}
		s->upstream = *upstream;
	}
	return s;
}

void dns_server_set_timeout_ms(struct dns_server *s, int ms)
{
	if (s && ms > 0)
		s->timeout_ms = ms;
}

static void fwd_free(struct dns_server *s, struct dns_fwd *f)
{
	struct dns_fwd **pp;

	for (pp = &s->fwds; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			s->nfwd--;
			f->client->nfwd--;
			break;
		}
	}
	close(f->fd);
	free(f);
}

static void conn_free(struct dns_server *s, struct dns_conn *c)
{
	struct dns_conn **pp;

	for (pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			s->nconn--;
			c->client->nconn--;
			break;
		}
	}
	close(c->fd);
	free(c->out);
	free(c);
}

static void client_free(struct dns_server *s, struct dns_client *c)
{
	struct dns_fwd *f, *fn;
	struct dns_conn *k, *kn;

	for (f = s->fwds; f; f = fn) {
		fn = f->next;
		if (f->client == c)
			fwd_free(s, f);
	}
	for (k = s->conns; k; k = kn) {
		kn = k->next;
		if (k->client == c)
			conn_free(s, k);
	}
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	if (c->tcp_fd >= 0)
		close(c->tcp_fd);
	free(c->recs);
	free(c->key);
	free(c);
}

void dns_server_get_stats(const struct dns_server *s,
			  struct dns_server_stats *out)
{
	const struct dns_client *c;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	*out = s->st;
	out->fwd_inflight = s->nfwd;
	out->tcp_conns = s->nconn;
	for (c = s->clients; c; c = c->next)
		out->clients++;
}

void dns_server_free(struct dns_server *s)
{
	struct dns_client *c;

	if (!s)
		return;
	while ((c = s->clients)) {
		s->clients = c->next;
		client_free(s, c);
	}
	free(s);
}

static struct dns_client *client_find(struct dns_server *s, const char *key)
{
	struct dns_client *c;

	for (c = s->clients; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

int dns_server_add_client(struct dns_server *s, const char *key, int udp_fd,
			  int tcp_fd)
{
	struct dns_client *c;
	int err;

	if (!s || !key || !*key || (udp_fd < 0 && tcp_fd < 0))
		return -EINVAL;
	if (client_find(s, key))
		return -EEXIST;
	if ((udp_fd >= 0 && (err = set_nonblock(udp_fd))) ||
	    (tcp_fd >= 0 && (err = set_nonblock(tcp_fd))))
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->key = strdup(key);
	if (!c->key) {
		free(c);
		return -ENOMEM;
	}
	c->udp_fd = udp_fd;
	c->tcp_fd = tcp_fd;
	c->gen = s->gen;
	c->next = s->clients;
	s->clients = c;
	return 0;
}

int dns_server_remove_client(struct dns_server *s, const char *key)
{
	struct dns_client **pp, *c;

	if (!s || !key)
		return -EINVAL;
	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		c = *pp;
		if (!strcmp(c->key, key)) {
			*pp = c->next;
			client_free(s, c);
			return 0;
		}
	}
	return -ENOENT;
}

int dns_server_set_records(struct dns_server *s, const char *key,
			   const struct dns_record *recs, size_t n)
{
	struct dns_record *copy = NULL;
	struct dns_client *c;

	if (!s || !key || (n && !recs))
		return -EINVAL;
	c = client_find(s, key);
	if (!c)
		return -ENOENT;
	if (n) {
		copy = calloc(n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, recs, n * sizeof(*copy));
		for (size_t i = 0; i < n; i++)
			copy[i].name[sizeof(copy[i].name) - 1] = '\0';
	}
	free(c->recs);
	c->recs = copy;
	c->nrecs = n;
	return 0;
}

size_t dns_server_nfds(const struct dns_server *s)
{
	const struct dns_client *c;
	size_t n;

	if (!s)
		return 0;
	n = s->nfwd + s->nconn;
	for (c = s->clients; c; c = c->next)
		n += (c->udp_fd >= 0) + (c->tcp_fd >= 0);
	return n;
}

int dns_server_pollfds(struct dns_server *s, struct pollfd *fds, size_t max)
{
	struct dns_client *c;
	struct dns_fwd *f;
	struct dns_conn *k;
	size_t n = 0;

	if (!s || (max && !fds))
		return -EINVAL;
	if (max < dns_server_nfds(s))
		return -ENOSPC;
	for (c = s->clients; c; c = c->next) {
		if (c->udp_fd >= 0)
			fds[n++] = (struct pollfd){ c->udp_fd, POLLIN, 0 };
		if (c->tcp_fd >= 0)
			fds[n++] = (struct pollfd){ c->tcp_fd, POLLIN, 0 };
	}
	for (f = s->fwds; f; f = f->next)
		fds[n++] = (struct pollfd){ f->fd, POLLIN, 0 };
	for (k = s->conns; k; k = k->next)
		fds[n++] =
			(struct pollfd){ k->fd, k->out ? POLLOUT : POLLIN, 0 };
	return (int)n;
}

static void udp_send(int fd, const uint8_t *buf, size_t len,
		     const struct sockaddr_storage *peer, socklen_t peerlen)
{
	if (sendto(fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)peer,
		   peerlen) < 0)
		log_debug("dns: reply: %s", strerror(errno));
}

/* Send the query (pkt, already parsed into q) upstream. pkt is modified. */
static int fwd_start(struct dns_server *s, struct dns_client *c,
		     const struct dns_query *q, uint8_t *pkt, size_t len,
		     const struct sockaddr_storage *peer, socklen_t peerlen)
{
	struct dns_fwd *f;
	int err;

	/* Per container first: one container's flood fills its own share,
	 * never the others'. The guest-wide cap only bounds descriptors. */
	if (c->nfwd >= DNS_MAX_FORWARDS_PER_CTR) {
		s->st.fwd_refused_ctr++;
		log_debug("dns: %s: %zu forwards in flight, refusing more",
			  c->key, c->nfwd);
		return -EBUSY;
	}
	if (s->nfwd >= DNS_MAX_FORWARDS) {
		s->st.fwd_refused_total++;
		log_debug("dns: %zu forwards in flight, refusing more",
			  s->nfwd);
		return -EBUSY;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = socket(s->upstream.family,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		err = -errno;
		goto out;
	}
	/* connected: only the upstream's address and port can answer */
	if (connect(f->fd, (struct sockaddr *)&s->up_sa, s->up_salen) < 0) {
		err = -errno;
		goto out;
	}
	f->up_id = random_id();
	wr16(pkt, f->up_id);
	if (send(f->fd, pkt, len, MSG_NOSIGNAL) < 0) {
		err = -errno;
		goto out;
	}
	f->client = c;
	f->q = *q;
	f->peer = *peer;
	f->peerlen = peerlen;
	f->deadline = now_ms() + s->timeout_ms;
	f->gen = s->gen;
	f->next = s->fwds;
	s->fwds = f;
	s->nfwd++;
	c->nfwd++;
	s->st.forwarded++;
	return 0;
out:
	log_debug("dns: forward: %s", strerror(-err));
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return err;
}

static void udp_query(struct dns_server *s, struct dns_client *c, size_t len,
		      const struct sockaddr_storage *peer, socklen_t peerlen)
{
	struct dns_query q;
	int action, r;

	if (dns_parse_query(s->pkt, len, &q)) {
		if (q.err_rcode < 0)
			return;
		r = dns_build_error(&q, q.err_rcode, s->reply, DNS_UDP_MAX);
		goto send;
	}
	r = dns_answer(&q, c->recs, c->nrecs, s->reply, DNS_EDNS_MAX, &action);
	if (r < 0)
		return;
	if (action == DNS_FORWARD && s->upstream.family) {
		if (!fwd_start(s, c, &q, s->pkt, len, peer, peerlen))
			return;
		r = dns_build_error(&q, DNS_RCODE_SERVFAIL, s->reply,
				    DNS_UDP_MAX);
	}
send:
	if (r > 0)
		udp_send(c->udp_fd, s->reply, r, peer, peerlen);
}

static void udp_ready(struct dns_server *s, struct dns_client *c)
{
	struct sockaddr_storage peer;
	socklen_t peerlen;
	ssize_t n;

	for (int i = 0; i < DNS_UDP_BATCH; i++) {
		peerlen = sizeof(peer);
		n = recvfrom(c->udp_fd, s->pkt, sizeof(s->pkt), 0,
			     (struct sockaddr *)&peer, &peerlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("dns: recv: %s", strerror(errno));
			return;
		}
		udp_query(s, c, n, &peer, peerlen);
	}
}

static void fwd_fail(struct dns_server *s, struct dns_fwd *f)
{
	int r = dns_build_error(&f->q, DNS_RCODE_SERVFAIL, s->reply,
				DNS_UDP_MAX);

	if (r > 0)
		udp_send(f->client->udp_fd, s->reply, r, &f->peer, f->peerlen);
	fwd_free(s, f);
}

/* The upstream echoes the question; the case of letters may differ. */
static bool question_match(const struct dns_query *q, const uint8_t *pkt,
			   size_t len)
{
	const uint8_t *p = pkt + DNS_HDR_LEN;
	uint8_t a, b;

	if (len < DNS_HDR_LEN + q->qname_len + 4 || rd16(pkt + 4) != 1)
		return false;
	for (size_t i = 0; i < q->qname_len; i++) {
		a = p[i];
		b = q->qname[i];
		if (a != b && !(a >= 'A' && (a | 0x20) == (b | 0x20) &&
				(a | 0x20) >= 'a' && (a | 0x20) <= 'z'))
			return false;
	}
	p += q->qname_len;
	return rd16(p) == q->qtype && rd16(p + 2) == q->qclass;
}

static void fwd_ready(struct dns_server *s, struct dns_fwd *f)
{
	ssize_t n;

	for (;;) {
		n = recv(f->fd, s->pkt, sizeof(s->pkt), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ICMP unreachable and the like: fail now */
			log_debug("dns: upstream: %s", strerror(errno));
			fwd_fail(s, f);
			return;
		}
		/* Same id, a response, the same question: else keep waiting. */
		if (n < DNS_HDR_LEN || rd16(s->pkt) != f->up_id ||
		    !(rd16(s->pkt + 2) & DNS_F_QR) ||
		    !question_match(&f->q, s->pkt, n))
			continue;
		wr16(s->pkt, f->q.id);
		udp_send(f->client->udp_fd, s->pkt, n, &f->peer, f->peerlen);
		fwd_free(s, f);
		return;
	}
}

/* Returns false if the connection was freed. */
static bool conn_reply(struct dns_server *s, struct dns_conn *k)
{
	size_t len = k->want - 2;
	uint8_t *out = NULL;
	struct dns_query q;
	int action, r;

	if (dns_parse_query(k->in + 2, len, &q)) {
		if (q.err_rcode < 0) {
			conn_free(s, k);
			return false;
		}
		r = dns_build_error(&q, q.err_rcode, s->reply + 2, DNS_TCP_MAX);
	} else {
		q.max_reply = DNS_TCP_MAX;
		r = dns_answer(&q, k->client->recs, k->client->nrecs,
			       s->reply + 2, DNS_TCP_MAX, &action);
		/* no forwarding over TCP (see dns.md) */
		if (r > 0 && action == DNS_FORWARD && s->upstream.family)
			r = dns_build_error(&q, DNS_RCODE_SERVFAIL,
					    s->reply + 2, DNS_TCP_MAX);
	}
	if (r > 0)
		out = malloc(r + 2);
	if (!out) {
		conn_free(s, k);
		return false;
	}
	wr16(s->reply, r);
	memcpy(out, s->reply, r + 2);
	k->out = out;
	k->out_len = r + 2;
	k->out_off = 0;
	return true;
}

/* Returns false if the connection was freed. */
static bool conn_write(struct dns_server *s, struct dns_conn *k)
{
	ssize_t n;

	while (k->out_off < k->out_len) {
		n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			conn_free(s, k);
			return false;
		}
		k->out_off += n;
	}
	free(k->out);
	k->out = NULL;
	k->have = 0;
	k->want = 2;
	k->deadline = now_ms() + DNS_TCP_TIMEOUT_MS;
	return true;
}

static void conn_ready(struct dns_server *s, struct dns_conn *k)
{
	ssize_t n;

	if (k->out) {
		conn_write(s, k);
		return;
	}
	while (k->have < k->want) {
		n = recv(k->fd, k->in + k->have, k->want - k->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_free(s, k);
			return;
		}
		k->have += n;
		if (k->have == 2 && k->want == 2) {
			k->want = 2 + rd16(k->in);
			if (k->want < 2 + DNS_HDR_LEN ||
			    k->want > sizeof(k->in)) {
				conn_free(s, k);
				return;
			}
		}
	}
	if (conn_reply(s, k))
		conn_write(s, k);
}

static void listen_ready(struct dns_server *s, struct dns_client *c)
{
	struct dns_conn *k;
	int fd;

	for (int i = 0; i < DNS_ACCEPT_BATCH; i++) {
		fd = accept4(c->tcp_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (c->nconn >= DNS_MAX_TCP_PER_CTR ||
		    s->nconn >= DNS_MAX_TCP_CONNS) {
			if (c->nconn >= DNS_MAX_TCP_PER_CTR)
				s->st.tcp_refused_ctr++;
			else
				s->st.tcp_refused_total++;
			log_debug("dns: %s: too many TCP connections", c->key);
			close(fd);
			continue;
		}
		k = calloc(1, sizeof(*k));
		if (!k) {
			close(fd);
			return;
		}
		k->fd = fd;
		k->client = c;
		k->want = 2;
		k->deadline = now_ms() + DNS_TCP_TIMEOUT_MS;
		k->gen = s->gen;
		k->next = s->conns;
		s->conns = k;
		s->nconn++;
		c->nconn++;
	}
}

/* Find the owner of fd and serve it. Objects made during this round (gen)
 * are skipped: their descriptor may reuse the number of one just closed. */
static void handle_one(struct dns_server *s, int fd)
{
	struct dns_client *c;
	struct dns_fwd *f;
	struct dns_conn *k;

	for (c = s->clients; c; c = c->next) {
		if (c->gen == s->gen)
			continue;
		if (fd == c->udp_fd) {
			udp_ready(s, c);
			return;
		}
		if (fd == c->tcp_fd) {
			listen_ready(s, c);
			return;
		}
	}
	for (f = s->fwds; f; f = f->next) {
		if (f->fd == fd && f->gen != s->gen) {
			fwd_ready(s, f);
			return;
		}
	}
	for (k = s->conns; k; k = k->next) {
		if (k->fd == fd && k->gen != s->gen) {
			conn_ready(s, k);
			return;
		}
	}
}

void dns_server_handle(struct dns_server *s, const struct pollfd *fds, size_t n)
{
	if (!s || !fds)
		return;
	s->gen++;
	for (size_t i = 0; i < n; i++)
		if (fds[i].fd >= 0 && fds[i].revents)
			handle_one(s, fds[i].fd);
}

int dns_server_timeout_ms(const struct dns_server *s)
{
	const struct dns_fwd *f;
	const struct dns_conn *k;
	uint64_t next = UINT64_MAX, now;

	if (!s)
		return -1;
	for (f = s->fwds; f; f = f->next)
		if (f->deadline < next)
			next = f->deadline;
	for (k = s->conns; k; k = k->next)
		if (k->deadline < next)
			next = k->deadline;
	if (next == UINT64_MAX)
		return -1;
	now = now_ms();
	if (next <= now)
		return 0;
	next -= now;
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

void dns_server_tick(struct dns_server *s)
{
	struct dns_fwd *f, *fn;
	struct dns_conn *k, *kn;
	uint64_t now = now_ms();

	if (!s)
		return;
	for (f = s->fwds; f; f = fn) {
		fn = f->next;
		if (f->deadline <= now) {
			log_debug("dns: upstream timeout");
			fwd_fail(s, f);
		}
	}
	for (k = s->conns; k; k = kn) {
		kn = k->next;
		if (k->deadline <= now)
			conn_free(s, k);
	}
}
