// SPDX-License-Identifier: GPL-2.0
/*
 * The control plane's in-memory network states (docs/control-plane.md):
 * per network the snapshot at its current generation, the change log of
 * recent deltas and the freed addresses waiting for every guest's
 * acknowledgement; waking the workers of a network's guests; waiting for
 * convergence. All under h->ns_mu (and h->rt_mu for the guests' acks),
 * never across I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "wgnet/log.h"

#include "mtu.h"

struct cp_net *cp_net_find(struct host *h, const char *nid)
{
	for (struct cp_net *n = h->nets; n; n = n->next)
		if (!strcmp(n->id, nid))
			return n;
	return NULL;
}

static struct cp_net *net_get(struct host *h, const char *nid)
{
	struct cp_net *n = cp_net_find(h, nid);

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->id, sizeof(n->id), "%s", nid);
	n->next = h->nets;
	h->nets = n;
	return n;
}

static void net_free(struct cp_net *n)
{
	ns_snap_free(&n->snap);
	ns_log_clear(&n->log);
	free(n->quar);
	free(n);
}

static void net_forget(struct host *h, const char *nid)
{
	for (struct cp_net **p = &h->nets; *p; p = &(*p)->next) {
		if (!strcmp((*p)->id, nid)) {
			struct cp_net *n = *p;

			*p = n->next;
			net_free(n);
			return;
		}
	}
}

uint64_t cp_ack_get(struct guest_rt *r, const char *nid, bool *valid)
{
	for (size_t i = 0; i < r->nacks; i++)
		if (!strcmp(r->acks[i].network_id, nid)) {
			if (valid)
				*valid = r->acks[i].a.valid;
			return r->acks[i].a.gen;
		}
	if (valid)
		*valid = false;
	return 0;
}

/* Has guest name, a member of network n, acknowledged generation gen?
 * Dead guests and guests without a worker here (another host's) do not
 * hold anything up. With ns_mu held. */
static bool net_member_acked(struct host *h, const struct cp_net *n,
			     const char *name, uint64_t gen)
{
	struct guest_rt *r;
	bool valid = false, done;

	pthread_mutex_lock(&h->rt_mu);
	r = guest_rt_find_locked(h, name);
	if (!r || !r->th_started || r->state == ST_GUEST_DEAD)
		done = true;
	else
		done = cp_ack_get(r, n->id, &valid) >= gen && valid;
	pthread_mutex_unlock(&h->rt_mu);
	return done;
}

/* Drop the freed addresses every member has acknowledged. ns_mu held. */
static void quar_prune(struct host *h, struct cp_net *n)
{
	size_t k = 0;

	for (size_t i = 0; i < n->nquar; i++) {
		const char *g;
		json_t *v;
		bool all = true;

		json_object_foreach(n->snap.members, g, v)
			if (!net_member_acked(h, n, g, n->quar[i].gen)) {
				all = false;
				break;
			}
		if (!all)
			n->quar[k++] = n->quar[i];
	}
	n->nquar = k;
}

/* Install a newer snapshot: 1 = the generation moved, 0 = nothing new. */
static int net_install(struct host *h, const char *nid, struct ns_snap *snap)
{
	struct ns_delta d;
	struct cp_net *n;
	int rc = 1;

	pthread_mutex_lock(&h->ns_mu);
	n = net_get(h, nid);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	if (n->snap.peers) {
		/* A store without generations: ours, by content. */
		if (!snap->gen) {
			snap->gen = n->snap.gen;
			if (!json_equal(n->snap.peers, snap->peers) ||
			    !json_equal(n->snap.dns, snap->dns) ||
			    !json_equal(n->snap.members, snap->members) ||
			    n->snap.mtu != snap->mtu)
				snap->gen++;
		}
		/* An older read than the one installed: nothing new. */
		if (snap->gen <= n->snap.gen) {
			if (snap->gen == n->snap.gen &&
			    !json_equal(n->snap.members, snap->members)) {
				json_decref(n->snap.members);
				n->snap.members = json_incref(snap->members);
			}
			rc = 0;
			goto out;
		}
		if (ns_diff(&n->snap, snap, &d))
			ns_log_clear(&n->log); /* out of memory: resyncs */
		else
			ns_log_push(&n->log, &d);
	} else if (!snap->gen) {
		snap->gen = 1;
	}
	ns_snap_free(&n->snap);
	n->snap = *snap;
	memset(snap, 0, sizeof(*snap));
out:
	pthread_mutex_unlock(&h->ns_mu);
	return rc;
}

void cp_net_notify_now(struct host *h, const char *nid)
{
	json_t *members = NULL;
	struct cp_net *n;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n)
		members = json_incref(n->snap.members);
	pthread_mutex_unlock(&h->ns_mu);
	if (!members)
		return;
	/* One walk of the guests, each looked up among the members: O(N),
	 * not a walk of the list per member. */
	pthread_mutex_lock(&h->rt_mu);
	for (struct guest_rt *r = h->grt; r; r = r->next)
		if (json_object_get(members, r->name)) {
			r->dirty = true;
			pthread_cond_signal(&r->cv);
		}
	pthread_mutex_unlock(&h->rt_mu);
	json_decref(members);
}

/* Under nq_mu: nid queued (once: a network already waiting keeps its
 * due time, so a stream of changes cannot hold its fan-out back).
 * false: no memory. */
static bool nq_push(struct host *h, const char *nid)
{
	for (size_t i = 0; i < h->nq_n; i++)
		if (!strcmp(h->nq[i].nid, nid))
			return true;
	if (h->nq_n == h->nq_cap) {
		size_t cap = h->nq_cap ? h->nq_cap * 2 : 16;
		struct cp_nq_item *q = realloc(h->nq, cap * sizeof(*q));

		if (!q)
			return false;
		h->nq = q;
		h->nq_cap = cap;
	}
	snprintf(h->nq[h->nq_n].nid, ST_ID_LEN, "%s", nid);
	h->nq[h->nq_n++].due_ms = host_now_ms() + h->fanout_delay_ms;
	return true;
}

void cp_net_notify(struct host *h, const char *nid)
{
	bool queued = false;

	pthread_mutex_lock(&h->nq_mu);
	if (h->nq_started && !h->nq_stop)
		queued = nq_push(h, nid);
	if (queued)
		pthread_cond_signal(&h->nq_cv);
	pthread_mutex_unlock(&h->nq_mu);
	if (!queued)
		cp_net_notify_now(h, nid);
}

/* Under nq_mu: until the head is due (or the notifier stops: what is
 * queued then goes at once). false: nothing queued. */
static bool nq_wait_due(struct host *h)
{
	for (;;) {
		int64_t now = host_now_ms();
		struct timespec ts;

		if (!h->nq_n) {
			if (h->nq_stop)
				return false;
			pthread_cond_wait(&h->nq_cv, &h->nq_mu);
			continue;
		}
		if (h->nq_stop || h->nq[0].due_ms <= now)
			return true;
		/* Items are queued in due order (one delay for all). */
		ts.tv_sec = h->nq[0].due_ms / 1000;
		ts.tv_nsec = (h->nq[0].due_ms % 1000) * 1000000;
		pthread_cond_timedwait(&h->nq_cv, &h->nq_mu, &ts);
	}
}

static void *notifier_main(void *arg)
{
	struct host *h = arg;
	char nid[ST_ID_LEN];

	pthread_mutex_lock(&h->nq_mu);
	while (nq_wait_due(h)) {
		memcpy(nid, h->nq[0].nid, sizeof(nid));
		memmove(h->nq, h->nq + 1, --h->nq_n * sizeof(*h->nq));
		pthread_mutex_unlock(&h->nq_mu);
		cp_net_notify_now(h, nid);
		pthread_mutex_lock(&h->nq_mu);
	}
	pthread_mutex_unlock(&h->nq_mu);
	return NULL;
}

int cp_notifier_start(struct host *h)
{
	int rc;

	pthread_mutex_lock(&h->nq_mu);
	h->nq_stop = false;
	rc = pthread_create(&h->notifier, NULL, notifier_main, h);
	h->nq_started = !rc;
	pthread_mutex_unlock(&h->nq_mu);
	return -rc;
}

/* What is queued is still delivered, then the thread ends. */
void cp_notifier_stop(struct host *h)
{
	pthread_mutex_lock(&h->nq_mu);
	if (!h->nq_started) {
		pthread_mutex_unlock(&h->nq_mu);
		return;
	}
	h->nq_stop = true;
	pthread_cond_signal(&h->nq_cv);
	pthread_mutex_unlock(&h->nq_mu);
	pthread_join(h->notifier, NULL);
	pthread_mutex_lock(&h->nq_mu);
	h->nq_started = false;
	pthread_mutex_unlock(&h->nq_mu);
}

static void net_set_held(struct host *h, const char *nid, bool held)
{
	struct cp_net *n;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n)
		n->held = held;
	pthread_mutex_unlock(&h->ns_mu);
}

void cp_net_hold(struct host *h, const char *nid)
{
	net_set_held(h, nid, true);
}

void cp_net_release(struct host *h, const char *nid)
{
	net_set_held(h, nid, false);
	cp_net_notify_now(h, nid);
}

uint64_t cp_net_refresh(struct host *h, const char *nid)
{
	bool changed = false;
	uint64_t gen = cp_net_refresh_quiet(h, nid, &changed);

	if (changed)
		cp_net_notify(h, nid);
	return gen;
}

uint64_t cp_net_refresh_quiet(struct host *h, const char *nid, bool *changed)
{
	struct st_net_view v;
	struct ns_snap snap;
	uint64_t gen = 0;
	int rc;

	rc = store_network_view(h->st, nid, &v);
	if (!rc) {
		struct st_network n;
		unsigned int mtu = 0;

		/* The network's MTU option (docs/operations.md). */
		if (!h->st->ops->network_get(h->st, nid, &n) &&
		    !mtu_option(&n, &mtu, NULL))
			v.mtu_fixed = mtu;
	}
	if (rc == -ENOENT) {
		pthread_mutex_lock(&h->ns_mu);
		net_forget(h, nid);
		pthread_mutex_unlock(&h->ns_mu);
		return 0;
	}
	if (rc) {
		log_warn("network %.12s: cannot read it from the store: %s",
			 nid, strerror(-rc));
		return cp_net_gen(h, nid);
	}
	rc = ns_snap_build(&v, &snap);
	store_net_view_free(&v);
	if (!rc)
		rc = net_install(h, nid, &snap);
	ns_snap_free(&snap);
	gen = cp_net_gen(h, nid);
	*changed = rc > 0;
	return gen;
}

uint64_t cp_net_refresh_ep(struct host *h, const char *nid,
			   const struct st_view_ep *e, bool add, uint64_t gen,
			   bool *changed)
{
	struct ns_delta d;
	struct cp_net *n;
	int rc = -EAGAIN;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n)
		rc = ns_snap_patch_ep(&n->snap, e, add, gen, &d);
	if (!rc)
		ns_log_push(&n->log, &d);
	pthread_mutex_unlock(&h->ns_mu);
	if (rc)
		return cp_net_refresh_quiet(h, nid, changed);
	*changed = true;
	return gen;
}

uint64_t cp_net_gen(struct host *h, const char *nid)
{
	struct cp_net *n;
	uint64_t gen;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	gen = n ? n->snap.gen : 0;
	pthread_mutex_unlock(&h->ns_mu);
	return gen;
}

int cp_load(struct host *h)
{
	struct st_network *ns = NULL;
	size_t n = 0;
	int rc;

	rc = h->st->ops->network_list(h->st, &ns, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		cp_net_refresh(h, ns[i].id);
	free(ns);
	return 0;
}

void cp_net_quarantine(struct host *h, const char *nid,
		       const struct ip_addr *ip4, const struct ip_addr *ip6,
		       uint64_t gen)
{
	const struct ip_addr *ips[2] = { ip4, ip6 };
	struct cp_net *n;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	for (int i = 0; n && i < 2; i++) {
		struct cp_quar *q;

		if (!ips[i] || !ips[i]->family)
			continue;
		q = realloc(n->quar, (n->nquar + 1) * sizeof(*q));
		if (!q)
			break;
		n->quar = q;
		q[n->nquar].ip = *ips[i];
		q[n->nquar].gen = gen;
		n->nquar++;
	}
	pthread_mutex_unlock(&h->ns_mu);
}

int cp_net_avoid(struct host *h, const char *nid, struct ip_addr **out,
		 size_t *cnt)
{
	struct cp_net *n;
	int rc = 0;

	*out = NULL;
	*cnt = 0;
	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n) {
		quar_prune(h, n);
		if (n->nquar) {
			*out = calloc(n->nquar, sizeof(**out));
			if (!*out)
				rc = -ENOMEM;
			for (size_t i = 0; *out && i < n->nquar; i++)
				(*out)[i] = n->quar[i].ip;
			*cnt = *out ? n->nquar : 0;
		}
	}
	pthread_mutex_unlock(&h->ns_mu);
	return rc;
}

/* Members of the network (guest names) not yet at gen, as text. */
static int lagging(struct host *h, const char *nid, uint64_t gen, char *buf,
		   size_t len)
{
	struct cp_net *n;
	const char *g;
	json_t *v;
	int cnt = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n)
		json_object_foreach(n->snap.members, g, v) {
			size_t l = strlen(buf);

			if (net_member_acked(h, n, g, gen))
				continue;
			if (l + strlen(g) + 3 < len)
				snprintf(buf + l, len - l, "%s%s",
					 cnt ? ", " : "", g);
			cnt++;
		}
	pthread_mutex_unlock(&h->ns_mu);
	return cnt;
}

int cp_wait_converged(struct host *h, const char *nid, uint64_t gen,
		      int timeout_ms, char **em)
{
	int64_t end = host_now_ms() + timeout_ms;
	char who[512];

	for (;;) {
		int64_t left;

		if (!lagging(h, nid, gen, who, sizeof(who)))
			return 0;
		left = end - host_now_ms();
		if (left <= 0)
			return host_err(
				em, -ETIMEDOUT,
				"not every guest acknowledged generation %llu within %d s: %s",
				(unsigned long long)gen, timeout_ms / 1000,
				who);
		pthread_mutex_lock(&h->rt_mu);
		host_ack_wait(h, left > 100 ? 100 : left);
		pthread_mutex_unlock(&h->rt_mu);
	}
}

static const char *state_name(int s)
{
	return s == ST_GUEST_UP	  ? "up" :
	       s == ST_GUEST_DEAD ? "dead" :
	       s == ST_GUEST_DOWN ? "down" :
				    "unknown";
}

json_t *cp_net_guests_json(struct host *h, const char *nid)
{
	json_t *out = json_object(), *v;
	struct cp_net *n;
	const char *g;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (n)
		json_object_foreach(n->snap.members, g, v) {
			struct guest_rt *r;
			uint64_t acked = 0;
			bool valid = false;
			int state = ST_GUEST_UNKNOWN;

			pthread_mutex_lock(&h->rt_mu);
			r = guest_rt_find_locked(h, g);
			if (r) {
				acked = cp_ack_get(r, nid, &valid);
				state = r->state;
			}
			pthread_mutex_unlock(&h->rt_mu);
			json_object_set_new(
				out, g,
				json_pack("{s:I,s:s}", "Generation",
					  (json_int_t)(valid ? acked : 0),
					  "State",
					  r ? state_name(state) : "remote"));
		}
	pthread_mutex_unlock(&h->ns_mu);
	return out;
}

json_t *cp_guest_acks_json(struct host *h, struct guest_rt *r)
{
	json_t *out = json_object();

	pthread_mutex_lock(&h->rt_mu);
	for (size_t i = 0; i < r->nacks; i++)
		if (r->acks[i].a.valid)
			json_object_set_new(
				out, r->acks[i].network_id,
				json_integer((json_int_t)r->acks[i].a.gen));
	pthread_mutex_unlock(&h->rt_mu);
	return out;
}
