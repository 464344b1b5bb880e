// SPDX-License-Identifier: GPL-2.0
/*
 * Attach and detach (docs/control-plane.md): the change is committed in one
 * short store transaction under h->mu (address, endpoint, generation bump),
 * then the attaching container's own guest is configured through its
 * worker's queue, waited for without any lock; the other guests converge
 * asynchronously (wait: until every one has acknowledged).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "mesh_int.h"
#include "mtu.h"

/* Endpoints on the network whose container lives on guest, other than
 * the container except (may be NULL). */
static size_t guest_endpoints_on(struct store *st, const char *network_id,
				 const char *guest, const char *except)
{
	struct st_net_view v;
	size_t cnt = 0;

	if (store_network_view(st, network_id, &v))
		return 0;
	for (size_t i = 0; i < v.n_eps; i++)
		cnt += !strcmp(v.eps[i].guest, guest) &&
		       (!except || strcmp(v.eps[i].container_id, except));
	store_net_view_free(&v);
	return cnt;
}

static int attach_error(const struct st_network *n, const char *ip, int rc,
			char **errmsg)
{
	switch (rc) {
	case -EEXIST:
		return host_err(errmsg, rc,
				"address %s is already in use on network %s",
				ip ? ip : "", n->name);
	case -ENOSPC:
		return host_err(errmsg, rc,
				"no available IP addresses on network %s",
				n->name);
	case -EINVAL:
		return host_err(
			errmsg, rc,
			"invalid address %s: it does not belong to any of network %s's subnets",
			ip ? ip : "", n->name);
	default:
		return host_err(errmsg, rc, "store: cannot create endpoint: %s",
				strerror(-rc));
	}
}

static int parse_addrs(const struct st_network *n, const char *ip,
		       const char *ip6, struct st_endpoint *ep, char **errmsg)
{
	if (ip && *ip) {
		if (ip_parse(ip, &ep->ip4) || ep->ip4.family != AF_INET)
			return host_err(errmsg, -EINVAL,
					"invalid IPv4 address: %s", ip);
		if (!n->subnet4.addr.family ||
		    !prefix_contains(&n->subnet4, &ep->ip4))
			return host_err(
				errmsg, -EINVAL,
				"invalid address %s: it does not belong to any of network %s's subnets",
				ip, n->name);
	}
	if (ip6 && *ip6) {
		if (ip_parse(ip6, &ep->ip6) || ep->ip6.family != AF_INET6)
			return host_err(errmsg, -EINVAL,
					"invalid IPv6 address: %s", ip6);
		if (!n->subnet6.addr.family ||
		    !prefix_contains(&n->subnet6, &ep->ip6))
			return host_err(
				errmsg, -EINVAL,
				"invalid address %s: it does not belong to any of network %s's subnets",
				ip6, n->name);
	}
	return 0;
}

/* The network's generation in the store (0: not kept, or unreadable). */
static uint64_t store_gen(struct store *st, const char *nid)
{
	struct st_network cur;

	return st->ops->network_get(st, nid, &cur) ? 0 : cur.gen;
}

/* The endpoint as the network's snapshot sees it. */
static void view_ep(struct st_view_ep *v, const struct st_container *c,
		    const struct st_endpoint *ep)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->container_id, sizeof(v->container_id), "%s", c->id);
	snprintf(v->name, sizeof(v->name), "%s", c->name);
	snprintf(v->guest, sizeof(v->guest), "%s", c->guest);
	v->ip4 = ep->ip4;
	v->ip6 = ep->ip6;
	snprintf(v->aliases, sizeof(v->aliases), "%s",
		 ep->aliases[0] ? ep->aliases : "[]");
	v->seq = ep->seq;
}

/* The commit: checks and the endpoint, under h->mu; *gen: the network's
 * generation it made. */
static int attach_commit(struct host *h, const struct st_network *n,
			 const struct st_container *c, struct st_endpoint *ep,
			 struct st_guest *g, bool *had_gn, uint64_t *gen,
			 const char *which, char **errmsg)
{
	struct store *st = h->st;
	struct st_endpoint old;
	struct st_guest_net gn;
	struct ip_addr *avoid = NULL;
	size_t navoid = 0;
	int rc;

	pthread_mutex_lock(&h->mu);
	if (st->ops->guest_get(st, c->guest, g)) {
		rc = host_err(errmsg, -ENOENT,
			      "guest %s of container %s is not registered",
			      c->guest, c->name);
		goto out;
	}
	rc = host_check_owner(h, g->name, errmsg);
	if (rc)
		goto out;
	if (guest_rt_state(h, g->name) == ST_GUEST_DEAD) {
		rc = host_err(errmsg, -EHOSTUNREACH, "guest %s is dead",
			      g->name);
		goto out;
	}
	if (!st->ops->endpoint_get(st, n->id, c->id, &old)) {
		rc = host_err(
			errmsg, -EEXIST,
			"endpoint with name %s already exists in network %s",
			c->name, n->name);
		goto out;
	}
	/* Freed addresses not yet acknowledged everywhere are not picked. */
	cp_net_avoid(h, n->id, &avoid, &navoid);
	ep->avoid = avoid;
	ep->n_avoid = navoid;
	rc = st->ops->endpoint_create(st, ep);
	ep->avoid = NULL;
	ep->n_avoid = 0;
	if (rc) {
		attach_error(n, which, rc, errmsg);
		goto out;
	}
	*had_gn = !st->ops->guest_net_get(st, g->name, n->id, &gn);
	*gen = store_gen(st, n->id);
out:
	pthread_mutex_unlock(&h->mu);
	free(avoid);
	return rc;
}

/* A failed attach: the endpoint goes, and the guest's interface if it was
 * its last endpoint there. */
static void attach_undo(struct host *h, const struct st_network *n,
			const struct st_container *c,
			const struct st_endpoint *ep, const char *guest)
{
	struct store *st = h->st;
	struct cp_ticket *t;
	bool last;
	uint64_t gen;

	pthread_mutex_lock(&h->mu);
	st->ops->endpoint_delete(st, n->id, c->id);
	last = !guest_endpoints_on(st, n->id, guest, NULL);
	if (last)
		st->ops->guest_net_delete(st, guest, n->id);
	pthread_mutex_unlock(&h->mu);
	gen = cp_net_refresh(h, n->id);
	cp_net_quarantine(h, n->id, &ep->ip4, &ep->ip6, gen);
	if (!last || guest_rt_state(h, guest) == ST_GUEST_DEAD)
		return;
	/* AddNetwork may have half-built it. */
	t = cp_ticket_new();
	cp_enqueue(h, guest, CP_RMNET, NULL,
		   json_pack("{s:s}", "network_id", n->id), n->id, NULL, t);
	/* The worker's own deadline for RemoveNetwork, and a round. */
	cp_ticket_wait(h, t,
		       HOST_DEVICE_CALL_MS(h->call_timeout_ms) +
			       h->call_timeout_ms,
		       NULL);
}

int mesh_attach(struct host *h, const struct st_network *n,
		const struct st_container *c, const char *ip, const char *ip6,
		json_t *aliases, bool wait, json_t **result, char **errmsg)
{
	struct st_endpoint ep;
	struct st_view_ep ve;
	struct st_guest g;
	struct cp_ticket *t;
	json_t *args = NULL;
	bool had_gn = false, changed = false;
	uint64_t gen = 0, gen0;
	char *text;
	int rc;

	*result = NULL;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.network_id, sizeof(ep.network_id), "%s", n->id);
	snprintf(ep.container_id, sizeof(ep.container_id), "%s", c->id);
	rc = parse_addrs(n, ip, ip6, &ep, errmsg);
	if (rc)
		return rc;
	text = aliases ? json_dumps(aliases, JSON_COMPACT) : strdup("[]");
	if (!text || strlen(text) >= sizeof(ep.aliases)) {
		free(text);
		return host_err(errmsg, -EINVAL, "too many aliases");
	}
	strcpy(ep.aliases, text);
	free(text);

	/* 1. Commit: addresses, endpoint, generation. From here until its
	 * items are queued, the guest's catch-up waits (cp_batch_begin): a
	 * snapshot rebuilt from the store meanwhile has the endpoint. */
	gen0 = cp_net_gen(h, n->id);
	cp_batch_begin(h, c->guest);
	rc = attach_commit(h, n, c, &ep, &g, &had_gn, &gen,
			   ip && *ip ? ip : ip6, errmsg);
	if (rc) {
		cp_batch_end(h, c->guest);
		return rc;
	}
	/* The others are woken once the container's own guest is done: the
	 * connect waits for that guest only, and its worker then does not
	 * queue for the I/O slots behind the fan-out to every other guest. */
	/* 2. The container's own guest, through its queue: its interface
	 * (if new to it), the endpoint, the network's catch-up, ports.
	 * Queued before the snapshot has the endpoint: a catch-up that
	 * reads it then finds these queued and leaves the guest to them
	 * (it hears of its container's names after the endpoint). */
	cp_worker_ensure(h, &g);
	t = cp_ticket_new();
	if (!had_gn) {
		mesh_network_args(n, &args);
		mtu_add_network_args(h->st, n, args);
		cp_enqueue(h, g.name, CP_ADDNET, NULL, args, n->id, NULL, t);
	}
	cp_enqueue(h, g.name, CP_CALL, "AddEndpoint",
		   mesh_endpoint_args(n, c, &ep), n->id, c->id, t);
	cp_enqueue(h, g.name, CP_PORTS, NULL, NULL, n->id, c->id, t);
	cp_batch_end(h, c->guest);
	view_ep(&ve, c, &ep);
	cp_net_refresh_ep(h, n->id, &ve, true, gen, &changed);
	rc = cp_ticket_wait(h, t, HOST_WAIT_MS, errmsg);
	/* The own guest's AddNetwork stores its key and installs the
	 * snapshot quietly (mesh_store_key); when it did so before the
	 * refresh above, that one found nothing new. The others are to be
	 * woken whoever installed the change. */
	changed |= cp_net_gen(h, n->id) != gen0;
	/* A client that waits for the others gains nothing from the
	 * settle window. */
	if (changed && wait)
		cp_net_notify_now(h, n->id);
	else if (changed)
		cp_net_notify(h, n->id);
	if (rc) {
		log_warn("attach %s to %s failed: %s", c->name, n->name,
			 errmsg && *errmsg ? *errmsg : strerror(-rc));
		attach_undo(h, n, c, &ep, g.name);
		return rc;
	}
	/* 3. The others converge on their own; "wait" waits for them. */
	if (wait) {
		rc = cp_wait_converged(h, n->id, cp_net_gen(h, n->id),
				       HOST_WAIT_MS, errmsg);
		if (rc) {
			char *m = errmsg ? *errmsg : NULL;

			return host_err(errmsg, rc,
					"%s connected to %s, but %s", c->name,
					n->name,
					m ? m : "the guests did not converge");
		}
	}
	*result = netjson_endpoint(n, c, &ep);
	return 0;
}

/* Detach in the store (h->mu held): endpoint, and the guest's interface
 * with its last endpoint. *last: it was the last. */
static int detach_commit(struct host *h, const struct st_network *n,
			 const struct st_container *c, struct st_endpoint *ep,
			 bool *last, uint64_t *gen, char **errmsg)
{
	struct store *st = h->st;
	int rc;

	if (st->ops->endpoint_get(st, n->id, c->id, ep))
		return host_err(errmsg, -ENOENT,
				"container %s is not connected to network %s",
				c->name, n->name);
	rc = host_check_owner(h, c->guest, errmsg);
	if (rc)
		return rc;
	rc = st->ops->endpoint_delete(st, n->id, c->id);
	if (rc && rc != -ENOENT)
		return host_err(errmsg, rc, "store: cannot delete endpoint: %s",
				strerror(-rc));
	*last = !guest_endpoints_on(st, n->id, c->guest, NULL);
	if (*last)
		st->ops->guest_net_delete(st, c->guest, n->id);
	*gen = store_gen(st, n->id);
	return 0;
}

/* The guest's side of a detach, queued on t. */
static void detach_queue(struct host *h, const char *nid,
			 const struct st_container *c, bool last, bool ports,
			 struct cp_ticket *t)
{
	/* The store is the desired state: the endpoint is gone anyway, and
	 * the guest's Reconcile drops what is left over. */
	cp_enqueue(h, c->guest, CP_CALL, "RemoveEndpoint",
		   json_pack("{s:s,s:s}", "network_id", nid, "container_id",
			     c->id),
		   nid, c->id, t);
	if (last)
		cp_enqueue(h, c->guest, CP_RMNET, NULL,
			   json_pack("{s:s}", "network_id", nid), nid, NULL, t);
	if (ports)
		cp_enqueue(h, c->guest, CP_PORTS, NULL, NULL, nid, c->id, t);
}

int mesh_detach(struct host *h, const struct st_network *n,
		const struct st_container *c, char **errmsg)
{
	struct st_endpoint ep;
	struct st_view_ep ve;
	struct cp_ticket *t;
	bool last = false, changed = false;
	uint64_t gen = 0;
	char *em = NULL;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = detach_commit(h, n, c, &ep, &last, &gen, errmsg);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return rc;
	/* As for a connect: the container's own guest first, the others
	 * once it is done (the address stays quarantined until they all
	 * have acknowledged its removal). */
	view_ep(&ve, c, &ep);
	gen = cp_net_refresh_ep(h, n->id, &ve, false, gen, &changed);
	cp_net_quarantine(h, n->id, &ep.ip4, &ep.ip6, gen);
	t = cp_ticket_new();
	detach_queue(h, n->id, c, last, true, t);
	rc = cp_ticket_wait(h, t, HOST_WAIT_MS, &em);
	if (changed)
		cp_net_notify(h, n->id);
	if (rc)
		log_warn("detach %s from %s: %s", c->name, n->name,
			 em ? em : strerror(-rc));
	free(em);
	return 0;
}

int host_container_remove(struct host *h, const struct st_container *c,
			  bool wait, char **errmsg)
{
	struct store *st = h->st;
	struct st_endpoint *eps = NULL;
	struct cp_ticket *t = wait ? cp_ticket_new() : NULL;
	bool *last = NULL;
	size_t nep = 0;
	char *em = NULL;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = host_check_owner(h, c->guest, errmsg);
	if (!rc && (rc = st->ops->endpoint_list(st, NULL, c->id, &eps, &nep)))
		host_err(errmsg, rc, "store: %s", strerror(-rc));
	if (!rc) {
		last = calloc(nep ? nep : 1, sizeof(*last));
		rc = last ? 0 : host_err(errmsg, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; !rc && i < nep; i++)
		last[i] = !guest_endpoints_on(st, eps[i].network_id, c->guest,
					      c->id);
	if (!rc) {
		rc = st->ops->container_delete(st, c->id);
		if (rc == -ENOENT)
			rc = 0;
		else if (rc)
			host_err(errmsg, rc,
				 "store: cannot delete container: %s",
				 strerror(-rc));
	}
	for (size_t i = 0; !rc && i < nep; i++)
		if (last[i])
			st->ops->guest_net_delete(st, c->guest,
						  eps[i].network_id);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		goto out;
	/* Ports and names go first, while the guest still knows the
	 * container (it forgets it with its last endpoint). */
	if (nep) {
		cp_enqueue(h, c->guest, CP_CALL, "PublishPorts",
			   json_pack("{s:s,s:[]}", "container_id", c->id,
				     "ports"),
			   NULL, c->id, t);
		cp_enqueue(h, c->guest, CP_CALL, "SetDNS",
			   json_pack("{s:s,s:[]}", "container_id", c->id,
				     "records"),
			   NULL, c->id, t);
	}
	for (size_t i = 0; i < nep; i++) {
		uint64_t gen = cp_net_refresh(h, eps[i].network_id);

		cp_net_quarantine(h, eps[i].network_id, &eps[i].ip4,
				  &eps[i].ip6, gen);
		detach_queue(h, eps[i].network_id, c, last[i], false, t);
	}
	log_info("container %s removed", c->name);
	if (t && cp_ticket_wait(h, t, HOST_WAIT_MS, &em))
		log_warn("container %s: its guest: %s", c->name, em);
	t = NULL;
out:
	if (t)
		cp_ticket_wait(h, t, 0, NULL);
	free(em);
	free(last);
	free(eps);
	return rc;
}
