// SPDX-License-Identifier: GPL-2.0
/*
 * The isolation set every guest of ours must hold (SetIsolation): the
 * subnets of every wgnet network and the host's part of the control-plane
 * set (docs/bpf.md "Control-plane set", docs/control-plane.md
 * "Isolation"): this machine's addresses, the underlay network of every
 * guest in the store (other hosts' guests too; one entry per network, so
 * a guest added on a known underlay changes nothing) and --ctrl-prefix.
 *
 * It is desired state with a version (h->iso_gen): cp_iso_refresh()
 * computes it from the store and the machine's addresses without any host
 * lock and, only when it changed, installs it and wakes the workers; each
 * worker sends it before its queued items and records the guest's answer
 * (cp_iso_result()): a refusal makes the guest degraded (Status) and fails
 * the op that waits for it.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>

#include "ctrlset.h"
#include "host.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"

struct pvec {
	struct ip_prefix *p;
	size_t n, cap;
};

static int pv_push(struct pvec *v, const struct ip_addr *a, int plen)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		struct ip_prefix *p = realloc(v->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n].addr = *a;
	v->p[v->n].plen = plen;
	v->n++;
	return 0;
}

/* This machine's addresses (the host's namespace), each as /32 or /128. */
static int host_addrs(struct pvec *v, const struct pvec *subs)
{
	struct ifaddrs *ifa0 = NULL, *ifa;
	struct ip_addr a;
	int rc = 0;

	if (getifaddrs(&ifa0))
		return -errno;
	for (ifa = ifa0; ifa && !rc; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr ||
		    (ifa->ifa_addr->sa_family != AF_INET &&
		     ifa->ifa_addr->sa_family != AF_INET6) ||
		    ip_from_sockaddr(ifa->ifa_addr, &a, NULL))
			continue;
		if (ctrl_host_addr_wanted(&a, subs->p, subs->n))
			rc = pv_push(v, &a, ip_max_plen(a.family));
	}
	freeifaddrs(ifa0);
	return rc;
}

/* Every guest's underlay network (every host's guests): one entry per
 * network once ctrl_set_build() drops the duplicates. */
static int guest_addrs(struct store *st, struct pvec *v)
{
	struct st_guest *gs = NULL;
	size_t n = 0;
	int rc;

	rc = st->ops->guest_list(st, &gs, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		struct ip_prefix p;

		if (!gs[i].underlay.family)
			continue;
		ctrl_underlay_prefix(&gs[i].underlay, gs[i].underlay_plen, &p);
		rc = pv_push(v, &p.addr, p.plen);
	}
	free(gs);
	return rc;
}

static json_t *pfx_json(const struct ip_prefix *p, size_t n)
{
	char buf[IPNET_STRLEN];
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(prefix_fmt(&p[i], buf)));
	return a;
}

/*
 * SetIsolation args: {"subnets": every network's, "ctrl_prefixes": the
 * host's part of the control-plane set}. A control-plane set larger than
 * a guest takes is not cut: the args go without it (each guest keeps the
 * part it had) and err says why (the guests are degraded). 0 or -errno
 * (the store could not be read: nothing changes).
 */
static int iso_compute(struct host *h, json_t **out, char *err, size_t len)
{
	struct st_network *ns = NULL;
	struct pvec subs = { 0 }, ctrl = { 0 };
	struct ip_prefix *set = NULL;
	size_t n = 0;
	int rc, k = 0;

	*out = NULL;
	err[0] = '\0';
	rc = h->st->ops->network_list(h->st, &ns, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		if (ns[i].subnet4.addr.family)
			rc = pv_push(&subs, &ns[i].subnet4.addr,
				     ns[i].subnet4.plen);
		if (!rc && ns[i].subnet6.addr.family)
			rc = pv_push(&subs, &ns[i].subnet6.addr,
				     ns[i].subnet6.plen);
	}
	free(ns);
	for (size_t i = 0; !rc && i < h->n_ctrl_cfg; i++)
		rc = pv_push(&ctrl, &h->ctrl_cfg[i].addr, h->ctrl_cfg[i].plen);
	if (!rc)
		rc = guest_addrs(h->st, &ctrl);
	if (!rc) {
		rc = host_addrs(&ctrl, &subs);
		if (rc)
			snprintf(err, len,
				 "cannot list this machine's addresses: %s",
				 strerror(-rc));
		rc = 0;
	}
	if (!rc)
		k = ctrl_set_build(ctrl.p, ctrl.n, &set);
	if (!rc && k < 0)
		rc = k;
	if (rc)
		goto out;
	*out = json_pack("{s:o}", "subnets", pfx_json(subs.p, subs.n));
	if (k > CTRL_HOST_MAX)
		snprintf(
			err, len,
			"the control-plane set has %d prefixes, more than a guest takes (%d): give the underlay networks as --ctrl-prefix CIDR (one prefix covers their guests; guests that do not report their underlay prefix count one entry each)",
			k, CTRL_HOST_MAX);
	else if (!err[0])
		json_object_set_new(*out, "ctrl_prefixes",
				    pfx_json(set, (size_t)k));
	if (!*out)
		rc = -ENOMEM;
out:
	free(set);
	free(subs.p);
	free(ctrl.p);
	return rc;
}

uint64_t cp_iso_refresh(struct host *h)
{
	char err[sizeof(h->iso_err)];
	json_t *args = NULL;
	bool changed = false;
	size_t nsub = 0, nctrl = 0;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&h->iso_mu);
	rc = iso_compute(h, &args, err, sizeof(err));
	if (rc)
		log_warn("isolation set: cannot compute it: %s", strerror(-rc));
	nsub = json_array_size(json_object_get(args, "subnets"));
	nctrl = json_array_size(json_object_get(args, "ctrl_prefixes"));
	pthread_mutex_lock(&h->rt_mu);
	if (!rc && (!h->iso_want || !json_equal(h->iso_want, args) ||
		    strcmp(err, h->iso_err))) {
		json_decref(h->iso_want);
		h->iso_want = args;
		args = NULL;
		memcpy(h->iso_err, err, sizeof(err));
		h->iso_gen++;
		changed = true;
		for (struct guest_rt *r = h->grt; r; r = r->next)
			if (r->th_started) {
				r->dirty = true;
				pthread_cond_signal(&r->cv);
			}
	}
	gen = h->iso_gen;
	pthread_mutex_unlock(&h->rt_mu);
	pthread_mutex_unlock(&h->iso_mu);
	json_decref(args);
	if (changed && err[0])
		log_warn("isolation set %llu: %s", (unsigned long long)gen,
			 err);
	else if (changed)
		log_info(
			"isolation set %llu: %zu subnet(s), %zu control-plane prefix(es)",
			(unsigned long long)gen, nsub, nctrl);
	return gen;
}

json_t *cp_iso_want(struct host *h, uint64_t *gen)
{
	json_t *args;

	pthread_mutex_lock(&h->rt_mu);
	*gen = h->iso_gen;
	pthread_mutex_unlock(&h->rt_mu);
	if (!*gen)
		cp_iso_refresh(h);
	pthread_mutex_lock(&h->rt_mu);
	*gen = h->iso_gen;
	args = h->iso_want ? json_deep_copy(h->iso_want) : NULL;
	pthread_mutex_unlock(&h->rt_mu);
	return args;
}

json_t *cp_iso_due(struct host *h, struct guest_rt *r, bool retry,
		   uint64_t *gen)
{
	json_t *args = NULL;

	pthread_mutex_lock(&h->rt_mu);
	*gen = h->iso_gen;
	if (h->iso_want && ((r->iso_acked < *gen && r->iso_tried < *gen) ||
			    (retry && r->iso_rc)))
		args = json_deep_copy(h->iso_want);
	pthread_mutex_unlock(&h->rt_mu);
	return args;
}

/* rt_mu held. */
static void iso_fail(struct guest_rt *r, int rc, const char *what,
		     const char *em)
{
	r->iso_rc = rc;
	snprintf(r->iso_err, sizeof(r->iso_err), "%s: %.480s", what,
		 em ? em : strerror(-rc));
}

void cp_iso_result(struct host *h, struct guest_rt *r, const char *op,
		   uint64_t gen, int rc, const char *em)
{
	/* Not an answer: the guest is unreachable (it gets the whole set
	 * in its replay) or the host is short of descriptors. */
	if (rc == -EHOSTUNREACH || rc == -EAGAIN)
		return;
	pthread_mutex_lock(&h->rt_mu);
	if (gen && r->iso_tried < gen)
		r->iso_tried = gen;
	if (rc) {
		iso_fail(r, rc, op, em);
		log_warn("guest %s is degraded: %s", r->name, r->iso_err);
	} else if (gen) {
		if (r->iso_acked < gen)
			r->iso_acked = gen;
		/* The guest took all it was given; the host's own error
		 * (a set too large to send) still holds for this version. */
		if (gen == h->iso_gen && h->iso_err[0])
			iso_fail(r, -E2BIG, "isolation set", h->iso_err);
		else
			r->iso_rc = 0;
	}
	pthread_cond_broadcast(&h->ack_cv);
	pthread_mutex_unlock(&h->rt_mu);
}

void cp_iso_forget(struct host *h, struct guest_rt *r)
{
	pthread_mutex_lock(&h->rt_mu);
	r->iso_acked = r->iso_tried = 0;
	r->iso_rc = 0;
	r->iso_err[0] = '\0';
	pthread_mutex_unlock(&h->rt_mu);
}

/* rt_mu held: the guests an op waits for. */
static bool iso_waits_for(const struct guest_rt *r, const char *only)
{
	return (!only || !strcmp(only, r->name)) && r->th_started &&
	       r->state == ST_GUEST_UP;
}

int cp_iso_wait(struct host *h, const char *only, uint64_t gen, int timeout_ms,
		char **em)
{
	int64_t end = host_now_ms() + timeout_ms;
	struct guest_rt *r, *bad = NULL;
	size_t behind, nbad = 0;
	int rc = 0;

	pthread_mutex_lock(&h->rt_mu);
	for (;;) {
		int64_t left = end - host_now_ms();

		behind = 0;
		for (r = h->grt; r; r = r->next)
			behind += iso_waits_for(r, only) && r->iso_tried < gen;
		if (!behind || left <= 0)
			break;
		host_ack_wait(h, left > 200 ? 200 : left);
	}
	for (r = h->grt; r; r = r->next)
		if (iso_waits_for(r, only) && r->iso_tried >= gen &&
		    r->iso_rc) {
			bad = bad ? bad : r;
			nbad++;
		}
	if (bad)
		rc = host_err(
			em, bad->iso_rc,
			"guest %s%s refused the isolation set (degraded, see wgnet status): %s",
			bad->name, nbad > 1 ? " and others" : "", bad->iso_err);
	pthread_mutex_unlock(&h->rt_mu);
	/* A guest that does not answer in time is marked down by its worker
	 * and replayed later: not this op's failure. */
	if (!rc && behind)
		log_warn(
			"isolation set %llu: %zu guest(s) did not answer within %d ms",
			(unsigned long long)gen, behind, timeout_ms);
	return rc;
}

int mesh_push_isolation(struct host *h, const char *only, bool wait, char **em)
{
	uint64_t gen = cp_iso_refresh(h);
	struct guest_rt *r = only ? guest_rt_get(h, only) : NULL;

	/* A guest that never had it gets it even if nothing changed. */
	if (r)
		cp_wake(h, r, false);
	if (!wait || !gen)
		return 0;
	return cp_iso_wait(h, only, gen, 3 * h->call_timeout_ms, em);
}

json_t *cp_iso_status(struct host *h, struct guest_rt *r)
{
	json_t *o;

	pthread_mutex_lock(&h->rt_mu);
	o = json_pack("{s:I,s:I}", "generation", (json_int_t)r->iso_acked,
		      "wanted", (json_int_t)h->iso_gen);
	if (o && r->iso_rc)
		json_object_set_new(o, "error", json_string(r->iso_err));
	pthread_mutex_unlock(&h->rt_mu);
	return o;
}
