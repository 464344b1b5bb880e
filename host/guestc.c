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

#include "wgnet/host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

int64_t host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct host_grt *host_grt_get(struct host *h, const char *name)
{
	struct host_grt *r;

	pthread_mutex_lock(&h->rt_mu);
	for (r = h->grt; r; r = r->next)
		if (!strcmp(r->name, name))
			goto out;
	/* Entries live until host_free(): threads may hold pointers. */
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	snprintf(r->name, sizeof(r->name), "%s", name);
	pthread_mutex_init(&r->call_mu, NULL);
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

int host_grt_state(struct host *h, const char *name)
{
	struct host_grt *r = host_grt_get(h, name);
	int s;

	if (!r)
		return ST_GUEST_UNKNOWN;
	pthread_mutex_lock(&h->rt_mu);
	s = r->state;
	pthread_mutex_unlock(&h->rt_mu);
	return s;
}

void host_grt_set_state(struct host *h, const char *name, int state)
{
	struct host_grt *r = host_grt_get(h, name);

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	r->state = state;
	if (state == ST_GUEST_UP) {
		r->replay = false;
		r->backoff_ms = HOST_BACKOFF_MIN_MS;
		r->last_ok_ms = host_now_ms();
		r->last_seen = time(NULL);
		r->next_ms = r->last_ok_ms + HOST_TICK_MS;
	} else {
		r->replay = true;
	}
	pthread_mutex_unlock(&h->rt_mu);
}

int gc_call(struct host *h, const struct st_guest *g, const char *op,
	    json_t *args, int timeout_ms, json_t **result, char **errmsg)
{
	struct host_grt *r = host_grt_get(h, g->name);
	char *em = NULL;
	bool was_up;
	int rc;

	if (result)
		*result = NULL;
	if (!r) {
		json_decref(args);
		return host_err(errmsg, -ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&r->call_mu);
	rc = proto_call(g->control, timeout_ms, op, args, result, &em);
	pthread_mutex_unlock(&r->call_mu);
	json_decref(args);
	if (!rc) {
		pthread_mutex_lock(&h->rt_mu);
		r->last_ok_ms = host_now_ms();
		r->last_seen = time(NULL);
		pthread_mutex_unlock(&h->rt_mu);
		log_debug("guest %s: %s ok", g->name, op);
		return 0;
	}
	if (em) {
		/* The guest answered: it is alive, the call failed. */
		pthread_mutex_lock(&h->rt_mu);
		r->last_ok_ms = host_now_ms();
		r->last_seen = time(NULL);
		pthread_mutex_unlock(&h->rt_mu);
		log_debug("guest %s: %s: %s", g->name, op, em);
		host_err(errmsg, rc, "guest %s: %s", g->name, em);
		free(em);
		return rc;
	}
	pthread_mutex_lock(&h->rt_mu);
	was_up = r->state == ST_GUEST_UP;
	if (was_up) {
		r->state = ST_GUEST_DOWN;
		r->next_ms = 0; /* probe again at once */
	}
	r->replay = true;
	pthread_mutex_unlock(&h->rt_mu);
	if (was_up)
		log_warn("guest %s is down: %s: %s", g->name, op,
			 strerror(-rc));
	log_debug("guest %s: %s: %s", g->name, op, strerror(-rc));
	return host_err(errmsg, -EHOSTUNREACH,
			"guest %s is unreachable at %s: %s", g->name,
			g->control, strerror(-rc));
}

/* --- batches --- */

struct gc_item {
	char op[32];
	json_t *args;
	struct gc_item *next;
};

struct gc_group {
	struct st_guest g;
	struct gc_item *head, **tail;
	struct gc_batch *b;
	int timeout_ms;
	int failed;
	pthread_t th;
	bool started;
	struct gc_group *next;
};

struct gc_batch {
	struct host *h;
	struct gc_group *groups;
};

struct gc_batch *gc_batch_new(struct host *h)
{
	struct gc_batch *b = calloc(1, sizeof(*b));

	if (b)
		b->h = h;
	return b;
}

void gc_batch_add(struct gc_batch *b, const struct st_guest *g, const char *op,
		  json_t *args)
{
	struct gc_group *gr;
	struct gc_item *it;

	if (!b || !args) {
		json_decref(args);
		return;
	}
	for (gr = b->groups; gr; gr = gr->next)
		if (!strcmp(gr->g.name, g->name))
			break;
	if (!gr) {
		gr = calloc(1, sizeof(*gr));
		if (!gr) {
			json_decref(args);
			return;
		}
		gr->g = *g;
		gr->b = b;
		gr->tail = &gr->head;
		gr->next = b->groups;
		b->groups = gr;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		json_decref(args);
		return;
	}
	snprintf(it->op, sizeof(it->op), "%s", op);
	it->args = args;
	*gr->tail = it;
	gr->tail = &it->next;
}

static void *group_main(void *arg)
{
	struct gc_group *gr = arg;

	for (struct gc_item *it = gr->head; it; it = it->next) {
		char *em = NULL;
		int rc = gc_call(gr->b->h, &gr->g, it->op,
				 json_incref(it->args), gr->timeout_ms, NULL,
				 &em);

		if (rc) {
			gr->failed++;
			log_warn("%s", em ? em : strerror(-rc));
		}
		free(em);
		/* An unreachable guest gets the rest on its replay. */
		if (rc == -EHOSTUNREACH)
			break;
	}
	return NULL;
}

int gc_batch_run(struct gc_batch *b, int timeout_ms)
{
	struct gc_group *gr;
	int failed = 0;

	if (!b)
		return 0;
	for (gr = b->groups; gr; gr = gr->next) {
		gr->timeout_ms = timeout_ms;
		/* DOWN, DEAD and not yet probed guests are caught up by the
		 * reconciler's replay. */
		if (host_grt_state(b->h, gr->g.name) != ST_GUEST_UP) {
			log_debug("guest %s is not up: push deferred",
				  gr->g.name);
			continue;
		}
		if (!pthread_create(&gr->th, NULL, group_main, gr))
			gr->started = true;
		else
			group_main(gr);
	}
	for (gr = b->groups; gr; gr = gr->next) {
		if (gr->started) {
			pthread_join(gr->th, NULL);
			gr->started = false;
		}
		failed += gr->failed;
	}
	return failed;
}

void gc_batch_free(struct gc_batch *b)
{
	if (!b)
		return;
	while (b->groups) {
		struct gc_group *gr = b->groups;

		b->groups = gr->next;
		while (gr->head) {
			struct gc_item *it = gr->head;

			gr->head = it->next;
			json_decref(it->args);
			free(it);
		}
		free(gr);
	}
	free(b);
}

/* --- the reconciler --- */

struct probe {
	struct host *h;
	struct st_guest g;
	pthread_t th;
	bool started;
};

static void persist_state(struct host *h, const char *name, int state,
			  int64_t last_seen)
{
	struct st_guest g;

	if (h->st->ops->guest_get(h->st, name, &g))
		return;
	if (g.state == state &&
	    (state != ST_GUEST_UP || last_seen - g.last_seen < 30))
		return;
	g.state = state;
	if (last_seen)
		g.last_seen = last_seen;
	h->st->ops->guest_put(h->st, &g);
}

static const char *state_name(int s)
{
	return s == ST_GUEST_UP ? "up" : s == ST_GUEST_DEAD ? "dead" : "down";
}

static void probe_ok(struct host *h, struct host_grt *r,
		     const struct st_guest *g)
{
	int64_t now = host_now_ms();
	bool need, audit;
	json_t *status = NULL;
	struct st_guest cur;
	int was, rc = 0;

	pthread_mutex_lock(&h->rt_mu);
	was = r->state;
	need = r->replay || was != ST_GUEST_UP;
	audit = !need && now >= r->next_audit_ms;
	if (audit || need)
		r->next_audit_ms = now + HOST_AUDIT_MS;
	pthread_mutex_unlock(&h->rt_mu);

	if (audit && gc_call(h, g, "GetStatus", NULL, HOST_PROBE_TIMEOUT_MS,
			     &status, NULL))
		return;
	pthread_mutex_lock(&h->mu);
	if (h->st->ops->guest_get(h->st, g->name, &cur)) {
		/* Removed meanwhile. */
		pthread_mutex_unlock(&h->mu);
		json_decref(status);
		return;
	}
	if (audit && mesh_audit(h, g, status))
		need = true;
	if (need) {
		if (was != ST_GUEST_UP)
			log_info("guest %s answers (was %s)", g->name,
				 state_name(was));
		rc = mesh_replay(h, g);
	}
	if (rc) {
		/* It answers but cannot take its state: back off too. */
		host_grt_set_state(h, g->name, ST_GUEST_DOWN);
		pthread_mutex_lock(&h->rt_mu);
		r->next_ms = host_now_ms() + r->backoff_ms;
		r->backoff_ms = r->backoff_ms * 2 > HOST_BACKOFF_MAX_MS ?
					HOST_BACKOFF_MAX_MS :
					r->backoff_ms * 2;
		pthread_mutex_unlock(&h->rt_mu);
		persist_state(h, g->name, ST_GUEST_DOWN, 0);
	} else {
		host_grt_set_state(h, g->name, ST_GUEST_UP);
		persist_state(h, g->name, ST_GUEST_UP, time(NULL));
	}
	pthread_mutex_unlock(&h->mu);
	json_decref(status);
}

static void probe_failed(struct host *h, struct host_grt *r,
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
	r->next_ms = now + r->backoff_ms;
	r->backoff_ms = r->backoff_ms * 2 > HOST_BACKOFF_MAX_MS ?
				HOST_BACKOFF_MAX_MS :
				r->backoff_ms * 2;
	pthread_mutex_unlock(&h->rt_mu);

	if (was == ST_GUEST_UNKNOWN)
		log_warn("guest %s does not answer: %s", g->name, why);
	pthread_mutex_lock(&h->mu);
	if (!h->st->ops->guest_get(h->st, g->name, &cur)) {
		if (cur.state == ST_GUEST_DEAD && next != ST_GUEST_DEAD)
			/* Dead before a restart of wgnet-host: still dead. */
			host_grt_set_state(h, g->name, ST_GUEST_DEAD);
		else if (next == ST_GUEST_DEAD && was != ST_GUEST_DEAD)
			mesh_guest_dead(h, g);
		else
			persist_state(h, g->name, next, 0);
	}
	pthread_mutex_unlock(&h->mu);
}

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	struct host_grt *r = host_grt_get(p->h, p->g.name);
	json_t *res = NULL;
	char *em = NULL;
	int rc;

	if (!r)
		return NULL;
	rc = gc_call(p->h, &p->g, "Hello", NULL, HOST_PROBE_TIMEOUT_MS, &res,
		     &em);
	/* An error reply still proves the agent is alive. */
	if (!rc || rc != -EHOSTUNREACH)
		probe_ok(p->h, r, &p->g);
	else
		probe_failed(p->h, r, &p->g, em ? em : strerror(-rc));
	json_decref(res);
	free(em);
	pthread_mutex_lock(&p->h->rt_mu);
	r->busy = false;
	pthread_mutex_unlock(&p->h->rt_mu);
	return NULL;
}

#define PROBE_PARALLEL 32

void host_reconcile_once(struct host *h)
{
	struct st_guest *gs = NULL;
	struct probe *ps = NULL;
	size_t n = 0, due = 0;
	int64_t now = host_now_ms();

	pthread_mutex_lock(&h->mu);
	if (h->st->ops->guest_list(h->st, &gs, &n))
		n = 0;
	pthread_mutex_unlock(&h->mu);
	if (!n)
		goto out;
	ps = calloc(n, sizeof(*ps));
	if (!ps)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct host_grt *r;
		bool go = false;

		/* Another host's guest (shared store): not ours to probe. */
		if (!host_owns_guest(h, &gs[i]))
			continue;
		r = host_grt_get(h, gs[i].name);
		if (!r)
			continue;
		pthread_mutex_lock(&h->rt_mu);
		if (!r->busy && now >= r->next_ms) {
			r->busy = true;
			/* Not to be probed again before this one ends. */
			r->next_ms = now + HOST_TICK_MS;
			go = true;
		}
		pthread_mutex_unlock(&h->rt_mu);
		if (go) {
			ps[due].h = h;
			ps[due].g = gs[i];
			due++;
		}
	}
	for (size_t i = 0; i < due; i += PROBE_PARALLEL) {
		size_t end = i + PROBE_PARALLEL < due ? i + PROBE_PARALLEL :
							due;

		for (size_t k = i; k < end; k++)
			ps[k].started = !pthread_create(&ps[k].th, NULL,
							probe_main, &ps[k]);
		for (size_t k = i; k < end; k++) {
			if (ps[k].started)
				pthread_join(ps[k].th, NULL);
			else
				probe_main(&ps[k]);
		}
	}
out:
	free(ps);
	free(gs);
}

void *host_reconciler_main(void *arg)
{
	struct host *h = arg;

	pthread_mutex_lock(&h->stop_mu);
	while (!h->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&h->stop_mu);
		host_reconcile_once(h);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&h->stop_mu);
		if (!h->stop)
			pthread_cond_timedwait(&h->stop_cv, &h->stop_mu, &ts);
	}
	pthread_mutex_unlock(&h->stop_mu);
	return NULL;
}
