// SPDX-License-Identifier: GPL-2.0
/*
 * /metrics for Prometheus (docs/operations.md, "Metrics"). Off unless
 * wgnet-host runs with --metrics ADDR.
 *
 * A collector thread refreshes a cache every interval: it reads the guests
 * and networks from the store under h->mu (a short read, timed as store
 * latency), lets go of it, then asks each UP guest this host serves for its
 * GetStatus, at most METRICS_PARALLEL at once, each with a 2 s deadline.
 * The new snapshot replaces the old one under m->mu. A scrape renders the
 * cached snapshot plus the live liveness fields: it never waits for a guest
 * nor takes h->mu, so a slow guest or a long op never slows /metrics and
 * /metrics never slows the host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "wgnet/log.h"
#include "mhd_log.h"

#include "metrics.h"

#define METRICS_PARALLEL 16
#define METRICS_CALL_MS 2000
#define METRICS_MAX_CONNS 16
#define METRICS_IDLE_S 10

struct metrics {
	struct host *h;
	struct MHD_Daemon *mhd;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int interval_s;
	pthread_t th;
	bool th_started;
	pthread_mutex_t mu; /* snap, stop */
	pthread_cond_t cv;
	bool stop;
	json_t *snap;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the collector ---------------------------------------------------- */

struct job {
	struct host *h;
	struct st_guest *gs;
	json_t **res;
	size_t n;
	size_t next; /* under mu */
	pthread_mutex_t mu;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		if (gc_call(j->h, &j->gs[i], "GetStatus", NULL, METRICS_CALL_MS,
			    &j->res[i], NULL))
			j->res[i] = NULL;
	}
}

/* GetStatus of every guest in gs (res[i] NULL when it failed). */
static void call_all(struct host *h, struct st_guest *gs, size_t n,
		     json_t **res)
{
	pthread_t th[METRICS_PARALLEL];
	bool started[METRICS_PARALLEL] = { false };
	struct job j = { .h = h, .gs = gs, .res = res, .n = n };
	size_t k, nth = n < METRICS_PARALLEL ? n : METRICS_PARALLEL;

	pthread_mutex_init(&j.mu, NULL);
	for (k = 0; k < nth; k++)
		started[k] = !pthread_create(&th[k], NULL, job_main, &j);
	if (nth && !started[0])
		job_main(&j); /* no thread at all: do it here */
	for (k = 0; k < nth; k++)
		if (started[k])
			pthread_join(th[k], NULL);
	pthread_mutex_destroy(&j.mu);
}

/* Each key of a guest this host serves: {"guest", "network" (its name),
 * "created"}. */
static void key_ages(const struct st_guest_net *gns, size_t ngn,
		     const struct st_guest *gs, size_t ng, json_t *names,
		     json_t *keys)
{
	for (size_t i = 0; i < ngn; i++) {
		const char *net = json_string_value(
			json_object_get(names, gns[i].network_id));
		bool ours = false;

		for (size_t j = 0; j < ng && !ours; j++)
			ours = !strcmp(gs[j].name, gns[i].guest);
		if (!ours || !net)
			continue;
		json_array_append_new(
			keys, json_pack("{s:s,s:s,s:I}", "guest", gns[i].guest,
					"network", net, "created",
					(json_int_t)gns[i].key_created));
	}
}

/* The guests this host serves, the network names and the guests' keys,
 * from the store. */
static int read_store(struct host *h, struct st_guest **gs, size_t *ng,
		      json_t *names, json_t *keys)
{
	struct st_network *ns = NULL;
	struct st_guest_net *gns = NULL;
	size_t nn = 0, k = 0, ngn = 0;
	double t;
	int rc;

	pthread_mutex_lock(&h->mu);
	t = now_s();
	rc = h->st->ops->guest_list(h->st, gs, ng);
	metrics_observe("store", "guest_list", now_s() - t);
	if (!rc) {
		t = now_s();
		rc = h->st->ops->network_list(h->st, &ns, &nn);
		metrics_observe("store", "network_list", now_s() - t);
	}
	if (!rc) {
		t = now_s();
		rc = h->st->ops->guest_net_list(h->st, NULL, &gns, &ngn);
		metrics_observe("store", "guest_net_list", now_s() - t);
	}
	pthread_mutex_unlock(&h->mu);
	if (rc) {
		free(ns);
		free(*gs);
		*gs = NULL;
		*ng = 0;
		return rc;
	}
	for (size_t i = 0; i < nn; i++)
		json_object_set_new(names, ns[i].id, json_string(ns[i].name));
	free(ns);
	for (size_t i = 0; i < *ng; i++)
		if (host_owns_guest(h, &(*gs)[i]))
			(*gs)[k++] = (*gs)[i];
	*ng = k;
	key_ages(gns, ngn, *gs, *ng, names, keys);
	free(gns);
	return 0;
}

static json_t *collect(struct host *h)
{
	json_t *snap = json_object(), *guests = json_object(),
	       *names = json_object(), *keys = json_array();
	struct st_guest *gs = NULL, *up = NULL;
	json_t **res = NULL;
	size_t ng = 0, nup = 0;
	double t0 = now_s();

	json_object_set_new(snap, "guests", guests);
	json_object_set_new(snap, "networks", names);
	json_object_set_new(snap, "keys", keys);
	if (read_store(h, &gs, &ng, names, keys)) {
		log_warn("metrics: cannot read the store");
		goto out;
	}
	up = calloc(ng + 1, sizeof(*up));
	res = calloc(ng + 1, sizeof(*res));
	if (!up || !res)
		goto out;
	for (size_t i = 0; i < ng; i++) {
		/* Not asked (not up) counts as no status. */
		json_object_set_new(guests, gs[i].name,
				    json_pack("{s:b}", "status_ok", 0));
		if (guest_rt_state(h, gs[i].name) == ST_GUEST_UP)
			up[nup++] = gs[i];
	}
	call_all(h, up, nup, res);
	for (size_t i = 0; i < nup; i++) {
		json_t *g = json_object_get(guests, up[i].name);

		if (res[i])
			json_object_set_new(g, "status", res[i]);
		json_object_set_new(g, "status_ok", json_boolean(res[i]));
	}
out:
	json_object_set_new(snap, "time", json_integer(time(NULL)));
	json_object_set_new(snap, "duration", json_real(now_s() - t0));
	free(gs);
	free(up);
	free(res);
	return snap;
}

static void *collector_main(void *arg)
{
	struct metrics *m = arg;
	struct timespec ts;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		json_t *snap, *old;

		pthread_mutex_unlock(&m->mu);
		snap = collect(m->h);
		pthread_mutex_lock(&m->mu);
		old = m->snap;
		m->snap = snap;
		json_decref(old);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += m->interval_s;
		while (!m->stop &&
		       pthread_cond_timedwait(&m->cv, &m->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* The liveness fields, read now (h->rt_mu only), into a copy of snap's
 * guest objects (the statuses are shared, not copied). */
static json_t *snapshot_live(struct metrics *m)
{
	struct host *h = m->h;
	json_t *snap, *out, *guests, *g;
	const char *name;
	int64_t now = host_now_ms();

	pthread_mutex_lock(&m->mu);
	snap = json_incref(m->snap);
	pthread_mutex_unlock(&m->mu);
	out = json_copy(snap ? snap : json_object());
	json_decref(snap);
	guests = json_copy(json_object_get(out, "guests"));
	json_object_set_new(out, "guests", guests ? guests : json_object());
	guests = json_object_get(out, "guests");
	/* Key ages are rendered against now, not the collector's time. */
	json_object_set_new(out, "now", json_integer(time(NULL)));
	json_object_foreach(guests, name, g) {
		json_t *c = json_copy(g);
		struct guest_rt *r;

		pthread_mutex_lock(&h->rt_mu);
		r = guest_rt_find_locked(h, name);
		if (r && c) {
			json_object_set_new(c, "state", json_integer(r->state));
			json_object_set_new(
				c, "up", json_boolean(r->state == ST_GUEST_UP));
			json_object_set_new(
				c, "age",
				json_real((double)(now - r->last_ok_ms) /
					  1000.0));
			json_object_set_new(c, "queue",
					    json_integer((json_int_t)r->depth));
			json_object_set_new(c, "degraded",
					    json_boolean(r->iso_rc != 0));
			if (r->last_ack_ms)
				json_object_set_new(
					c, "ack_age",
					json_real(
						(double)(now - r->last_ack_ms) /
						1000.0));
		}
		pthread_mutex_unlock(&h->rt_mu);
		if (c)
			json_object_set_new(guests, name, c);
	}
	return out;
}

/* --- HTTP ------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *ctype, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct metrics *m = cls;
	struct mbuf b = { 0 };
	json_t *snap;

	(void)version;
	(void)data;
	(void)con_cls;
	if (*data_size) {
		*data_size = 0; /* a body: ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text,
			     "only GET and HEAD\n", 18, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, text,
			     "not found: try /metrics\n", 24,
			     MHD_RESPMEM_PERSISTENT);
	snap = snapshot_live(m);
	metrics_render(&b, snap);
	json_decref(snap);
	if (b.err) {
		free(b.p);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text,
			     "out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     b.p, b.len, MHD_RESPMEM_MUST_FREE);
}

/* --- the listening socket --------------------------------------------- */

/* "127.0.0.1:9000", "[::1]:9000" (loopback only) or "unix:/path". */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
		      socklen_t *sl)
{
	char host[64];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *su = (struct sockaddr_un *)ss;

		if (addr[5] != '/' || strlen(addr + 5) >= sizeof(su->sun_path))
			return -EINVAL;
		su->sun_family = AF_UNIX;
		strcpy(su->sun_path, addr + 5);
		*sl = sizeof(*su);
		return 0;
	}
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return -EPERM;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			return -EPERM;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
	}
	return 0;
}

static int listen_on(struct metrics *m, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int fd, rc, one = 1;

	rc = parse_addr(addr, &ss, &sl);
	if (rc)
		return rc;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		if (unlink(su->sun_path) && errno != ENOENT) {
			rc = -errno;
			goto fail;
		}
		memcpy(m->unix_path, su->sun_path, sizeof(m->unix_path));
		m->unix_path[sizeof(m->unix_path) - 1] = '\0';
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) ||
	    (ss.ss_family == AF_UNIX && chmod(m->unix_path, 0660)) ||
	    listen(fd, 64)) {
		rc = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	if (m->unix_path[0])
		unlink(m->unix_path);
	m->unix_path[0] = '\0';
	return rc;
}

int metrics_start(struct host *h, const char *addr, int interval_s,
		  struct metrics **out)
{
	struct metrics *m;
	int fd, rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->h = h;
	m->interval_s = interval_s > 0 ? interval_s : 10;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	fd = listen_on(m, addr);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	m->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_S,
		MHD_OPTION_EXTERNAL_LOGGER, host_mhd_log, (void *)"metrics", MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		rc = -EIO;
		goto fail;
	}
	if (pthread_create(&m->th, NULL, collector_main, m)) {
		rc = -EAGAIN;
		goto fail;
	}
	m->th_started = true;
	log_info("metrics on %s (refreshed every %d s)", addr, m->interval_s);
	*out = m;
	return 0;
fail:
	metrics_stop(m);
	return rc;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	if (m->th_started) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->th, NULL);
	}
	if (m->unix_path[0])
		unlink(m->unix_path);
	json_decref(m->snap);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
