// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet-simguest: ONE process serving N simulated guests, one unix socket
 * each, one epoll loop. Each speaks the real guest control protocol, applies
 * what it receives in memory and checks it (simstate.c); nothing touches a
 * network device. A control socket answers SimStats / SimReset / SimSet.
 *
 *   wgnet-simguest --count 1000 --dir DIR [--prefix sg] [--hang I,J]
 *                  [--slow I:MS] [--control PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "simstate.h"
#include "wgnet/fconn.h"
#include "wgnet/proto.h"
#include "wgnet/usock.h"

#define SIM_MAX_CONNS_PER_GUEST 8

struct sconn {
	struct fconn fc;
	int guest; /* -1: the control socket */
	json_t *delayed; /* a reply held back (slow guest) */
	uint64_t due;
	size_t idx; /* in sim.conns */
	uint32_t ev; /* the events epoll waits for */
};

/* epoll data of a listener: its index (count = the control socket) with
 * the top bit set; a connection's is its struct sconn pointer. */
#define SIM_LISTENER (1ULL << 63)

struct sim {
	struct sim_guest *g;
	int *lfd;
	bool *hang;
	unsigned int *slow_ms;
	unsigned int count;
	int cfd, epfd;
	bool any_slow; /* a guest was ever slow: check reply timers */
	struct sconn **conns;
	size_t nconns, cap;
	char dir[200], prefix[32], control[256];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sock_path(struct sim *s, unsigned int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%u.sock", s->dir, s->prefix, i);
}

static void conn_add(struct sim *s, int fd, int guest)
{
	struct sconn *c;

	if (s->nconns == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sconn **t = realloc(s->conns, cap * sizeof(*t));

		if (!t) {
			close(fd);
			return;
		}
		s->conns = t;
		s->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	fconn_init(&c->fc, fd, PROTO_T_REQUEST);
	c->guest = guest;
	c->ev = EPOLLIN;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd,
		      &(struct epoll_event){ .events = c->ev,
					     .data.ptr = c })) {
		fconn_close(&c->fc);
		free(c);
		return;
	}
	c->idx = s->nconns;
	s->conns[s->nconns++] = c;
}

static void conn_del(struct sim *s, size_t i)
{
	struct sconn *c = s->conns[i];

	json_decref(c->delayed);
	fconn_close(&c->fc); /* also leaves the epoll set */
	free(c);
	s->conns[i] = s->conns[--s->nconns];
	if (i < s->nconns)
		s->conns[i]->idx = i;
}

/* SimHolders {"network_id","address"|"container"}: how many guests hold
 * the network, and how many of them know the address (as a peer's or their
 * own); "container" names a container with an endpoint on the network. */
static json_t *holders(struct sim *s, json_t *args)
{
	const char *nid = json_str(args, "network_id");
	const char *addr = json_str(args, "address");
	unsigned int on = 0, have = 0;
	struct ip_addr ip;

	const char *cname = json_str(args, "container");

	/* Or the address of the named container's endpoint on the network. */
	for (unsigned int i = 0; !addr && cname && nid && i < s->count; i++) {
		const char *k;
		json_t *e;

		json_object_foreach(s->g[i].eps, k, e)
			if (!strcmp(json_str(e, "network_id") ?: "", nid) &&
			    !strcmp(json_str(e, "name") ?: "", cname))
				addr = json_str(e, "ip");
	}
	if (!nid || !addr || ip_parse(addr, &ip))
		return proto_reply_err(
			-ENOENT,
			"network_id and address (or a known container) are required");
	for (unsigned int i = 0; i < s->count; i++) {
		struct sim_net *n = sim_net_find(&s->g[i], nid);

		if (!n)
			continue;
		on++;
		if (htab_get(&n->owner, ip.a) || htab_get(&n->local, ip.a))
			have++;
	}
	return proto_reply_ok(json_pack("{s:i,s:i,s:s}", "guests_on_net", on,
					"holders", have, "address", addr));
}

static json_t *control_op(struct sim *s, const char *op, json_t *args)
{
	const char *name = json_str(args, "guest");
	struct sim_stats sum = { 0 };
	json_t *per = json_object(), *v;
	int gi = -1;

	if (!strcmp(op, "SimReset")) {
		for (unsigned int i = 0; i < s->count; i++)
			memset(&s->g[i].st, 0, sizeof(s->g[i].st));
		json_decref(per);
		return proto_reply_ok(NULL);
	}
	for (unsigned int i = 0; name && i < s->count; i++)
		if (!strcmp(s->g[i].name, name))
			gi = (int)i;
	if (!strcmp(op, "SimSet")) {
		json_decref(per);
		if (gi < 0)
			return proto_reply_err(-ENOENT, "no simulated guest %s",
					       name ?: "");
		v = json_object_get(args, "hang");
		if (json_is_boolean(v))
			s->hang[gi] = json_is_true(v);
		v = json_object_get(args, "slow_ms");
		if (json_is_integer(v))
			s->slow_ms[gi] = (unsigned int)json_integer_value(v);
		s->any_slow |= s->slow_ms[gi] > 0;
		return proto_reply_ok(NULL);
	}
	if (!strcmp(op, "SimHolders")) {
		json_decref(per);
		return holders(s, args);
	}
	if (strcmp(op, "SimStats")) {
		json_decref(per);
		return proto_reply_err(-EOPNOTSUPP, "unknown op %.64s", op);
	}
	for (unsigned int i = 0; i < s->count; i++) {
		sim_stats_add(&sum, &s->g[i].st);
		if (json_is_true(json_object_get(args, "per_guest")))
			json_object_set_new(per, s->g[i].name,
					    sim_stats_json(&s->g[i].st));
	}
	v = sim_stats_json(&sum);
	json_object_set_new(v, "guests", json_integer(s->count));
	if (json_object_size(per))
		json_object_set_new(v, "per_guest", per);
	else
		json_decref(per);
	if (gi >= 0) {
		json_object_set_new(v, "guest", sim_stats_json(&s->g[gi].st));
		for (size_t k = 0; k < s->g[gi].n_nets; k++)
			json_object_set_new(
				json_object_get(v, "guest"),
				s->g[gi].nets[k]->id,
				json_pack(
					"{s:I,s:I,s:I}", "gen",
					(json_int_t)s->g[gi].nets[k]->gen,
					"peers",
					(json_int_t)s->g[gi].nets[k]->live_peers,
					"records",
					(json_int_t)s->g[gi].nets[k]->live_recs));
	}
	return proto_reply_ok(v);
}

static json_t *answer_op(struct sim *s, struct sconn *c, uint16_t type,
			 json_t *req)
{
	const char *op = NULL, *why = NULL;
	json_t *args = NULL;

	if (type != PROTO_T_REQUEST)
		return proto_reply_err(-EBADMSG, "expected a request frame");
	if (proto_request_parse(req, &op, &args, &why))
		return proto_reply_err(-EBADMSG, "malformed request: %s", why);
	if (c->guest < 0)
		return control_op(s, op, args);
	return sim_handle(&s->g[c->guest], op, args);
}

/* The reply echoes the request's id, as the agent's does. */
static json_t *answer(struct sim *s, struct sconn *c, uint16_t type,
		      json_t *req)
{
	json_t *rep = answer_op(s, c, type, req);

	proto_reply_echo_id(rep, req);
	return rep;
}

/* false: close the connection. */
static bool conn_io(struct sim *s, struct sconn *c)
{
	for (int k = 0; k < 16 && !c->delayed && !fconn_pending(&c->fc); k++) {
		uint64_t in0 = c->fc.bytes_in;
		uint16_t type = 0;
		json_t *req = NULL, *rep;
		int r = fconn_read(&c->fc, &type, &req);
		struct sim_guest *g = c->guest >= 0 ? &s->g[c->guest] : NULL;

		if (g)
			g->st.bytes_in += c->fc.bytes_in - in0;
		if (r == 0)
			return true;
		if (r < 0)
			return false;
		if (g)
			g->st.requests++;
		if (g && s->hang[c->guest]) {
			json_decref(req);
			continue; /* never answered */
		}
		rep = answer(s, c, type, req);
		json_decref(req);
		if (g && s->slow_ms[c->guest]) {
			c->delayed = rep;
			c->due = now_ms() + s->slow_ms[c->guest];
			return true;
		}
		if (fconn_queue(&c->fc, PROTO_T_REPLY, rep)) {
			json_decref(rep);
			return false;
		}
		json_decref(rep);
		if (fconn_flush(&c->fc) < 0)
			return false;
	}
	return true;
}

static bool conn_timer(struct sim *s, struct sconn *c)
{
	if (!c->delayed || c->due > now_ms())
		return true;
	if (fconn_queue(&c->fc, PROTO_T_REPLY, c->delayed))
		return false;
	json_decref(c->delayed);
	c->delayed = NULL;
	if (fconn_flush(&c->fc) < 0)
		return false;
	return conn_io(s, c);
}

static void account_out(struct sim *s, struct sconn *c, uint64_t before)
{
	if (c->guest >= 0)
		s->g[c->guest].st.bytes_out += c->fc.bytes_out - before;
}

/* What c waits for: to send what is queued, nothing while a reply is held
 * back, else a request. */
static bool conn_watch(struct sim *s, struct sconn *c)
{
	uint32_t ev = fconn_pending(&c->fc) ? EPOLLOUT :
		      c->delayed	    ? 0 :
					      EPOLLIN;

	if (ev == c->ev)
		return true;
	c->ev = ev;
	return !epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fc.fd,
			  &(struct epoll_event){ .events = ev, .data.ptr = c });
}

static void conn_event(struct sim *s, struct sconn *c, uint32_t ev)
{
	uint64_t out0 = c->fc.bytes_out;
	bool ok = true;

	if (ev & EPOLLOUT)
		ok = fconn_flush(&c->fc) >= 0 && conn_io(s, c);
	else if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ok = conn_io(s, c);
	if (ok)
		ok = conn_timer(s, c);
	account_out(s, c, out0);
	if (ok)
		ok = conn_watch(s, c);
	if (!ok)
		conn_del(s, c->idx);
}

static void accept_all(struct sim *s, size_t li)
{
	int lfd = li < s->count ? s->lfd[li] : s->cfd, fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >=
	       0)
		conn_add(s, fd, li < s->count ? (int)li : -1);
}

/* The held-back replies that are due; the ms until the next one. */
static int timers(struct sim *s)
{
	uint64_t now = now_ms();
	int timeout = 1000;

	for (size_t i = s->nconns; s->any_slow && i > 0; i--) {
		struct sconn *c = s->conns[i - 1];

		if (!c->delayed)
			continue;
		if (c->due <= now) {
			conn_event(s, c, 0);
			continue;
		}
		if ((int)(c->due - now) < timeout)
			timeout = (int)(c->due - now);
	}
	return timeout;
}

static int listen_all(struct sim *s)
{
	for (size_t i = 0; i <= s->count; i++) {
		struct epoll_event e = { .events = EPOLLIN,
					 .data.u64 = SIM_LISTENER | i };

		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD,
			      i < s->count ? s->lfd[i] : s->cfd, &e))
			return -errno;
	}
	return 0;
}

/* One epoll set: the cost of a message does not grow with the guests. */
static int loop(struct sim *s)
{
	struct epoll_event evs[256];
	int rc = listen_all(s);

	while (!rc && !stop) {
		int n = epoll_wait(s->epfd, evs, 256, timers(s));

		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 & SIM_LISTENER)
				accept_all(s, evs[i].data.u64 & ~SIM_LISTENER);
			else
				conn_event(s, evs[i].data.ptr, evs[i].events);
		}
	}
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wgnet-simguest --count N --dir DIR [--prefix P] [--hang I,J,...]\n"
		"                      [--slow I:MS] [--control PATH]\n"
		"  serves N simulated guests on DIR/P<i>.sock (i = 0..N-1, names P<i>);\n"
		"  the control socket (default DIR/P-control.sock) answers SimStats\n"
		"  {\"guest\"?,\"per_guest\"?}, SimReset, SimSet {\"guest\",\"hang\",\"slow_ms\"}\n"
		"  and SimHolders {\"network_id\",\"address\"}.\n");
}

static int parse_list(struct sim *s, const char *hang, const char *slow)
{
	char *dup, *tok, *save = NULL;

	if (hang) {
		dup = strdup(hang);
		for (tok = strtok_r(dup, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			unsigned long i = strtoul(tok, NULL, 10);

			if (i >= s->count) {
				free(dup);
				return -EINVAL;
			}
			s->hang[i] = true;
		}
		free(dup);
	}
	if (slow) {
		unsigned int i, ms;

		if (sscanf(slow, "%u:%u", &i, &ms) != 2 || i >= s->count)
			return -EINVAL;
		s->slow_ms[i] = ms;
		s->any_slow |= ms > 0;
	}
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "dir", required_argument, NULL, 'd' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "hang", required_argument, NULL, 'H' },
		{ "slow", required_argument, NULL, 'S' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *hang = NULL, *slow = NULL;
	struct sim s = { .cfd = -1, .epfd = -1 };
	char path[300];
	int opt, err = 0;
	long count = 0;

	snprintf(s.prefix, sizeof(s.prefix), "sg");
	while ((opt = getopt_long(argc, argv, "n:d:p:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'd':
			snprintf(s.dir, sizeof(s.dir), "%s", optarg);
			break;
		case 'p':
			snprintf(s.prefix, sizeof(s.prefix), "%s", optarg);
			break;
		case 'H':
			hang = optarg;
			break;
		case 'S':
			slow = optarg;
			break;
		case 'c':
			snprintf(s.control, sizeof(s.control), "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (count < 1 || count > 100000 || !s.dir[0] || optind < argc) {
		fprintf(stderr,
			"Error: --count 1..100000 and --dir are required\n");
		usage(stderr);
		return 2;
	}
	s.count = (unsigned int)count;
	if (!s.control[0])
		snprintf(s.control, sizeof(s.control), "%s/%s-control.sock",
			 s.dir, s.prefix);
	s.g = calloc(s.count, sizeof(*s.g));
	s.lfd = calloc(s.count, sizeof(*s.lfd));
	s.hang = calloc(s.count, sizeof(*s.hang));
	s.slow_ms = calloc(s.count, sizeof(*s.slow_ms));
	if (!s.g || !s.lfd || !s.hang || !s.slow_ms) {
		fprintf(stderr, "Error: out of memory\n");
		return 1;
	}
	if (parse_list(&s, hang, slow)) {
		fprintf(stderr,
			"Error: --hang I,J or --slow I:MS with I < --count\n");
		return 2;
	}
	raise_nofile();
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s.epfd < 0) {
		fprintf(stderr, "Error: epoll: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	mkdir(s.dir, 0700);
	for (unsigned int i = 0; i < s.count; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s%u", s.prefix, i);
		sim_guest_init(&s.g[i], name, i);
		sock_path(&s, i, path, sizeof(path));
		s.lfd[i] = usock_listen(path, 0600, SOCK_NONBLOCK);
		if (s.lfd[i] < 0) {
			fprintf(stderr, "Error: cannot listen on %s: %s\n",
				path, strerror(-s.lfd[i]));
			return 1;
		}
	}
	s.cfd = usock_listen(s.control, 0600, SOCK_NONBLOCK);
	if (s.cfd < 0) {
		fprintf(stderr, "Error: cannot listen on %s: %s\n", s.control,
			strerror(-s.cfd));
		return 1;
	}
	fprintf(stderr,
		"wgnet-simguest: %u guests on %s/%s<i>.sock, control %s\n",
		s.count, s.dir, s.prefix, s.control);
	err = loop(&s);
	if (err)
		fprintf(stderr, "Error: %s\n", strerror(-err));
	for (unsigned int i = 0; i < s.count; i++) {
		sock_path(&s, i, path, sizeof(path));
		unlink(path);
		close(s.lfd[i]);
		sim_guest_free(&s.g[i]);
	}
	unlink(s.control);
	close(s.cfd);
	while (s.nconns)
		conn_del(&s, 0);
	free(s.conns);
	close(s.epfd);
	free(s.g);
	free(s.lfd);
	free(s.hang);
	free(s.slow_ms);
	return err ? 1 : 0;
}
