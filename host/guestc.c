// SPDX-License-Identifier: GPL-2.0
/*
 * Guest client: calls to wgnet-guest agents (serialised per guest, parallel
 * across guests), batches of pushes, and the reconciler (liveness probes
 * with exponential back-off, full replay when a guest comes back, periodic
 * audit of UP guests, dead guests).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

int64_t host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t grt_hash(const char *name)
{
	size_t x = 2166136261u; /* FNV-1a */

	for (; *name; name++)
		x = (x ^ (unsigned char)*name) * 16777619u;
	return x;
}

/* Under rt_mu: the guest named name, NULL when it has no entry. */
struct guest_rt *guest_rt_find_locked(struct host *h, const char *name)
{
	struct guest_rt *r;

	if (!h->grt_nb)
		return NULL;
	r = h->grt_tab[grt_hash(name) & (h->grt_nb - 1)];
	for (; r; r = r->hnext)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

/* Under rt_mu: r into the index, which doubles first when full. */
static int grt_index(struct host *h, struct guest_rt *r)
{
	size_t b;

	if (h->grt_n >= h->grt_nb) {
		size_t nb = h->grt_nb ? h->grt_nb * 2 : 64;
		struct guest_rt **t = calloc(nb, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (struct guest_rt *o = h->grt; o; o = o->next) {
			b = grt_hash(o->name) & (nb - 1);
			o->hnext = t[b];
			t[b] = o;
		}
		free(h->grt_tab);
		h->grt_tab = t;
		h->grt_nb = nb;
	}
	b = grt_hash(r->name) & (h->grt_nb - 1);
	r->hnext = h->grt_tab[b];
	h->grt_tab[b] = r;
	h->grt_n++;
	return 0;
}

struct guest_rt *guest_rt_get(struct host *h, const char *name)
{
	struct guest_rt *r;

	pthread_mutex_lock(&h->rt_mu);
	r = guest_rt_find_locked(h, name);
	if (r)
		goto out;
	/* Entries live until host_free(): threads may hold pointers. */
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (grt_index(h, r)) {
		free(r);
		r = NULL;
		goto out;
	}
	pthread_mutex_init(&r->call_mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	gconn_init(&r->conn);
	r->tail = &r->head;
	r->host = h;
	r->state = ST_GUEST_UNKNOWN;
	r->replay = true;
	r->last_ok_ms = host_now_ms();
	r->backoff_ms = HOST_BACKOFF_MIN_MS;
	r->next = h->grt;
	h->grt = r;
out:
	pthread_mutex_unlock(&h->rt_mu);
	return r;
}

int guest_rt_state(struct host *h, const char *name)
{
	struct guest_rt *r = guest_rt_get(h, name);
	int s;

	if (!r)
		return ST_GUEST_UNKNOWN;
	pthread_mutex_lock(&h->rt_mu);
	s = r->state;
	pthread_mutex_unlock(&h->rt_mu);
	return s;
}

void guest_rt_set_state(struct host *h, const char *name, int state)
{
	struct guest_rt *r = guest_rt_get(h, name);

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	r->state = state;
	if (state == ST_GUEST_UP) {
		r->replay = false;
		r->backoff_ms = HOST_BACKOFF_MIN_MS;
		r->last_ok_ms = host_now_ms();
		r->last_seen = time(NULL);
		r->next_ms = r->last_ok_ms + host_probe_interval_ms(h);
	} else {
		r->replay = true;
	}
	pthread_mutex_unlock(&h->rt_mu);
}

void gc_mark_alive(struct host *h, struct guest_rt *r)
{
	pthread_mutex_lock(&h->rt_mu);
	r->last_ok_ms = host_now_ms();
	r->last_seen = time(NULL);
	pthread_mutex_unlock(&h->rt_mu);
}

void gc_mark_down(struct host *h, struct guest_rt *r, const char *op, int err)
{
	bool was_up;

	pthread_mutex_lock(&h->rt_mu);
	was_up = r->state == ST_GUEST_UP;
	if (was_up) {
		r->state = ST_GUEST_DOWN;
		r->next_ms = 0; /* probe again at once */
	}
	r->replay = true;
	pthread_mutex_unlock(&h->rt_mu);
	if (was_up)
		log_warn("guest %s is down: %s: %s", r->name, op,
			 strerror(-err));
}

int gc_call(struct host *h, const struct st_guest *g, const char *op,
	    json_t *args, int timeout_ms, json_t **result, char **errmsg)
{
	struct guest_rt *r = guest_rt_get(h, g->name);
	struct timespec deadline;
	json_t *rep = NULL;
	char *em = NULL;
	int rc;

	if (result)
		*result = NULL;
	if (!r) {
		json_decref(args);
		return host_err(errmsg, -ENOMEM, "out of memory");
	}
	/* Outside the worker (guest add, Status, metrics, rotation): the
	 * guest's one connection, between two of its worker's exchanges
	 * (call_mu is held for one exchange only); waiting is bounded. */
	deadline_in_ms(&deadline, timeout_ms);
	if (pthread_mutex_timedlock(&r->call_mu, &deadline)) {
		json_decref(args);
		return host_err(errmsg, -EBUSY, "guest %s: busy with its queue",
				g->name);
	}
	rc = gconn_call(&r->conn, g->control, op, args,
			host_now_ms() + timeout_ms, &rep);
	pthread_mutex_unlock(&r->call_mu);
	json_decref(args);
	if (!rc) {
		rc = gconn_reply(rep, result, &em);
		json_decref(rep);
		if (rc && result) {
			json_decref(*result);
			*result = NULL;
		}
	}
	if (!rc) {
		gc_mark_alive(h, r);
		log_debug("guest %s: %s ok", g->name, op);
		return 0;
	}
	if (em) {
		/* The guest answered: it is alive, the call failed. */
		gc_mark_alive(h, r);
		log_debug("guest %s: %s: %s", g->name, op, em);
		host_err(errmsg, rc, "guest %s: %s", g->name, em);
		free(em);
		return rc;
	}
	gc_mark_down(h, r, op, rc);
	log_debug("guest %s: %s: %s", g->name, op, strerror(-rc));
	return host_err(errmsg, -EHOSTUNREACH,
			"guest %s is unreachable at %s: %s", g->name,
			g->control, strerror(-rc));
}

void gc_close(struct host *h, const char *name)
{
	struct guest_rt *r = guest_rt_get(h, name);

	if (!r)
		return;
	pthread_mutex_lock(&r->call_mu);
	gconn_close(&r->conn);
	pthread_mutex_unlock(&r->call_mu);
}

/* --- the reconciler --- */

struct probe {
	struct host *h;
	struct st_guest g;
	pthread_t th;
	bool started;
};

/* The guest's state and last answer into the store. last_seen of an UP
 * guest is refreshed there every HOST_SEEN_REFRESH_S; between two
 * refreshes of a guest that stayed UP (was_up) nothing is read: at 1000
 * guests the probes would otherwise read the store 333 times a second. */
static void persist_state(struct host *h, struct guest_rt *r, bool was_up,
			  int state, int64_t last_seen)
{
	struct st_guest g;
	int64_t stored;

	pthread_mutex_lock(&h->rt_mu);
	if (!was_up)
		r->stored_seen = 0;
	stored = r->stored_seen;
	pthread_mutex_unlock(&h->rt_mu);
	if (state == ST_GUEST_UP && stored &&
	    last_seen - stored < HOST_SEEN_REFRESH_S)
		return;
	if (h->st->ops->guest_get(h->st, r->name, &g))
		return;
	if (g.state != state ||
	    (state == ST_GUEST_UP &&
	     last_seen - g.last_seen >= HOST_SEEN_REFRESH_S)) {
		g.state = state;
		if (last_seen)
			g.last_seen = last_seen;
		if (h->st->ops->guest_put(h->st, &g))
			return;
	}
	pthread_mutex_lock(&h->rt_mu);
	r->stored_seen = g.state == ST_GUEST_UP ? g.last_seen : 0;
	pthread_mutex_unlock(&h->rt_mu);
}

static const char *state_name(int s)
{
	return s == ST_GUEST_UP ? "up" : s == ST_GUEST_DEAD ? "dead" : "down";
}

static void back_off(struct host *h, struct guest_rt *r)
{
	pthread_mutex_lock(&h->rt_mu);
	r->next_ms = host_now_ms() + r->backoff_ms;
	r->backoff_ms = r->backoff_ms * 2 > HOST_BACKOFF_MAX_MS ?
				HOST_BACKOFF_MAX_MS :
				r->backoff_ms * 2;
	pthread_mutex_unlock(&h->rt_mu);
}

/* The guest answered its probe: audit or replay it if due (in its
 * worker, through call). */
static void probe_ok(struct host *h, struct guest_rt *r,
		     const struct st_guest *g, mesh_call_fn call)
{
	int64_t now = host_now_ms();
	bool need, audit;
	json_t *status = NULL;
	int was, rc = 0;

	pthread_mutex_lock(&h->rt_mu);
	was = r->state;
	need = r->replay || was != ST_GUEST_UP;
	audit = !need && now >= r->next_audit_ms;
	if (audit || need)
		r->next_audit_ms = now + HOST_AUDIT_MS;
	pthread_mutex_unlock(&h->rt_mu);

	if (audit && call(h, r, "GetStatus", NULL, &status, NULL)) {
		json_decref(status);
		return;
	}
	if (audit && mesh_audit(h, g, status))
		need = true;
	json_decref(status);
	if (need && r->replay) {
		if (was != ST_GUEST_UP)
			log_info("guest %s answers (was %s)", g->name,
				 state_name(was));
		rc = mesh_replay_guest(h, r, g, call);
	} else if (need) {
		/* A host restart with the guest in sync (generations):
		 * nothing to replay, the catch-up compares generations. */
		log_info("guest %s answers, in sync", g->name);
	}
	if (rc) {
		/* It answers but cannot take its state: back off too. */
		guest_rt_set_state(h, g->name, ST_GUEST_DOWN);
		back_off(h, r);
		persist_state(h, r, was == ST_GUEST_UP, ST_GUEST_DOWN, 0);
	} else {
		guest_rt_set_state(h, g->name, ST_GUEST_UP);
		persist_state(h, r, was == ST_GUEST_UP, ST_GUEST_UP,
			      time(NULL));
	}
}

static void probe_failed(struct host *h, struct guest_rt *r,
			 const struct st_guest *g, const char *why)
{
	int64_t now = host_now_ms();
	struct st_guest cur;
	int was, next;

	pthread_mutex_lock(&h->rt_mu);
	was = r->state;
	r->replay = true;
	if (was != ST_GUEST_DEAD && now - r->last_ok_ms >= h->guest_timeout_ms)
		next = ST_GUEST_DEAD;
	else if (was == ST_GUEST_DEAD)
		next = ST_GUEST_DEAD;
	else
		next = ST_GUEST_DOWN;
	r->state = next;
	pthread_mutex_unlock(&h->rt_mu);
	back_off(h, r);

	if (was == ST_GUEST_UNKNOWN)
		log_warn("guest %s does not answer: %s", g->name, why);
	if (!h->st->ops->guest_get(h->st, g->name, &cur)) {
		if (cur.state == ST_GUEST_DEAD && next != ST_GUEST_DEAD)
			/* Dead before a restart of wgnet-host: still dead. */
			guest_rt_set_state(h, g->name, ST_GUEST_DEAD);
		else if (next == ST_GUEST_DEAD && was != ST_GUEST_DEAD)
			mesh_guest_dead(h, g);
		else
			persist_state(h, r, false, next, 0);
	}
}

void host_probe_result(struct host *h, struct guest_rt *r,
		       const struct st_guest *g, int rc, json_t *hello,
		       const char *why, mesh_call_fn call)
{
	(void)hello;
	/* An error reply still proves the agent is alive. */
	if (rc != -EHOSTUNREACH)
		probe_ok(h, r, g, call);
	else
		probe_failed(h, r, g, why);
	host_probe_end(h, r);
}

/* The probe the reconciler asked for is over, or was not made: the guest
 * may be probed again when it is next due. */
void host_probe_end(struct host *h, struct guest_rt *r)
{
	pthread_mutex_lock(&h->rt_mu);
	r->busy = false;
	pthread_mutex_unlock(&h->rt_mu);
}

/* How often an idle guest is probed: a tenth of the time after which a
 * silent guest is dead, at least HOST_TICK_MS, at most 5 s. With the
 * default --guest-timeout of 30 s a mesh of 1000 guests costs the host
 * 333 Hellos/s, not 1000. */
int host_probe_interval_ms(const struct host *h)
{
	int ms = h->guest_timeout_ms / 10;

	return ms < HOST_TICK_MS ? HOST_TICK_MS : ms > 5000 ? 5000 : ms;
}

/* The reconciler's view of this host's guests. The list is read from the
 * store every HOST_GUEST_LIST_MS, or at once when a guest was added or
 * removed here (guest_epoch); the guests whose probe is due are woken
 * every HOST_RECONCILE_MS. At 1000 guests that is 17 probes a pass rather
 * than 83 every 250 ms, and a read of 1000 rows under the store's lock
 * every 2 s rather than 4 times a second: both made the store's other
 * users (a connect's commit, the workers) wait. */
struct rc_view {
	struct guest_rt **rs;
	size_t n;
	int64_t list_ms; /* when to read the list again */
	unsigned int epoch; /* h->guest_epoch when it was read */
};

static void rc_view_load(struct host *h, struct rc_view *v)
{
	struct st_guest *gs = NULL;
	struct guest_rt **rs, *r;
	size_t n = 0, k = 0;

	v->epoch = __atomic_load_n(&h->guest_epoch, __ATOMIC_ACQUIRE);
	v->list_ms = host_now_ms() + HOST_GUEST_LIST_MS;
	if (h->st->ops->guest_list(h->st, &gs, &n))
		return; /* the last view stays */
	rs = calloc(n ? n : 1, sizeof(*rs));
	if (!rs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		/* Another host's guest (shared store): not ours to probe. */
		if (!host_owns_guest(h, &gs[i]))
			continue;
		cp_worker_ensure(h, &gs[i]);
		r = guest_rt_get(h, gs[i].name);
		if (r)
			rs[k++] = r;
	}
	free(v->rs);
	v->rs = rs; /* entries live until host_free() */
	v->n = k;
out:
	free(gs);
}

/* One pass: every guest in the view whose probe is due gets its worker
 * woken with a probe (the worker sends the Hello and replays). */
static void rc_view_probe(struct host *h, const struct rc_view *v)
{
	int64_t now = host_now_ms(), every = host_probe_interval_ms(h);

	/* One hold of rt_mu for the whole pass. */
	pthread_mutex_lock(&h->rt_mu);
	for (size_t i = 0; i < v->n; i++) {
		struct guest_rt *r = v->rs[i];

		if (r->busy || now < r->next_ms)
			continue;
		r->busy = true;
		/* Not to be probed again before this one ends. */
		r->next_ms = now + every;
		cp_wake_locked(r, true);
	}
	pthread_mutex_unlock(&h->rt_mu);
}

void *host_reconciler_main(void *arg)
{
	struct host *h = arg;
	struct rc_view v = { 0 };
	int64_t iso_next = 0;

	pthread_mutex_lock(&h->stop_mu);
	while (!h->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&h->stop_mu);
		/* This machine's addresses may change under us: the
		 * isolation set is recomputed now and then (resent only if
		 * it changed). */
		if (host_now_ms() >= iso_next) {
			cp_iso_refresh(h);
			iso_next = host_now_ms() + HOST_ISO_REFRESH_MS;
		}
		if (host_now_ms() >= v.list_ms ||
		    v.epoch !=
			    __atomic_load_n(&h->guest_epoch, __ATOMIC_ACQUIRE))
			rc_view_load(h, &v);
		rc_view_probe(h, &v);
		deadline_in_ms(&ts, HOST_RECONCILE_MS);
		pthread_mutex_lock(&h->stop_mu);
		if (!h->stop)
			pthread_cond_timedwait(&h->stop_cv, &h->stop_mu, &ts);
	}
	pthread_mutex_unlock(&h->stop_mu);
	free(v.rs);
	return NULL;
}
