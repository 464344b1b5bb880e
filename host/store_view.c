// SPDX-License-Identifier: GPL-2.0
/*
 * store_network_view(): the view of one network that the control plane
 * computes peer sets and DNS records from (docs/control-plane.md). A store
 * that can read it in one transaction provides network_view; for the others
 * it is put together from a handful of list calls (O(rows), never one call
 * per endpoint).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

void store_net_view_free(struct st_net_view *v)
{
	if (!v)
		return;
	free(v->members);
	free(v->eps);
	memset(v, 0, sizeof(*v));
}

static const struct st_guest *find_guest(const struct st_guest *gs, size_t n,
					 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(gs[i].name, name))
			return &gs[i];
	return NULL;
}

static const struct st_container *find_ctr(const struct st_container *cs,
					   size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].id, id))
			return &cs[i];
	return NULL;
}

static int view_from_lists(struct store *st, const char *nid,
			   struct st_net_view *v)
{
	struct st_network net;
	struct st_guest_net *gns = NULL;
	struct st_guest *gs = NULL;
	struct st_endpoint *eps = NULL;
	struct st_container *cs = NULL;
	size_t ngn = 0, ng = 0, nep = 0, nc = 0;
	int rc;

	if ((rc = st->ops->network_get(st, nid, &net)) ||
	    (rc = st->ops->guest_net_list(st, nid, &gns, &ngn)) ||
	    (rc = st->ops->guest_list(st, &gs, &ng)) ||
	    (rc = st->ops->endpoint_list(st, nid, NULL, &eps, &nep)) ||
	    (rc = st->ops->container_list(st, &cs, &nc)))
		goto out;
	v->gen = net.gen;
	v->members = calloc(ngn ? ngn : 1, sizeof(*v->members));
	v->eps = calloc(nep ? nep : 1, sizeof(*v->eps));
	if (!v->members || !v->eps) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ngn; i++) {
		const struct st_guest *g = find_guest(gs, ng, gns[i].guest);
		struct st_view_member *m = &v->members[v->n_members++];

		memcpy(m->guest, gns[i].guest, sizeof(m->guest));
		memcpy(m->public_key, gns[i].public_key, sizeof(m->public_key));
		m->listen_port = gns[i].listen_port;
		m->mtu = gns[i].mtu;
		if (g) {
			memcpy(m->host_id, g->host_id, sizeof(m->host_id));
			m->underlay = g->underlay;
			m->state = g->state;
		}
	}
	for (size_t i = 0; i < nep; i++) {
		const struct st_container *c =
			find_ctr(cs, nc, eps[i].container_id);
		struct st_view_ep *e = &v->eps[v->n_eps++];

		memcpy(e->container_id, eps[i].container_id,
		       sizeof(e->container_id));
		if (c) {
			memcpy(e->name, c->name, sizeof(e->name));
			memcpy(e->guest, c->guest, sizeof(e->guest));
		}
		e->ip4 = eps[i].ip4;
		e->ip6 = eps[i].ip6;
		memcpy(e->aliases, eps[i].aliases, sizeof(e->aliases));
		e->seq = eps[i].seq;
	}
out:
	free(gns);
	free(gs);
	free(eps);
	free(cs);
	return rc;
}

int store_network_view(struct store *st, const char *network_id,
		       struct st_net_view *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = st->ops->network_view ?
		     st->ops->network_view(st, network_id, out) :
		     view_from_lists(st, network_id, out);
	if (rc)
		store_net_view_free(out);
	return rc;
}
