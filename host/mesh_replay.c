// SPDX-License-Identifier: GPL-2.0
/*
 * The mesh, continued: the audit of a guest's GetStatus, the full replay of
 * one guest (in its worker, docs/control-plane.md) and dead guests. No lock
 * is held across guest I/O; h->mu only around store changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "mesh_int.h"
#include "mtu.h"

/* Containers of guest g. */
int mesh_guest_containers(struct store *st, const char *guest,
			  struct st_container **out, size_t *n)
{
	struct st_container *all = NULL;
	size_t nall = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st->ops->container_list_guest)
		return st->ops->container_list_guest(st, guest, out, n);
	rc = st->ops->container_list(st, &all, &nall);
	if (rc)
		return rc;
	for (size_t i = 0; i < nall; i++)
		if (!strcmp(all[i].guest, guest))
			all[k++] = all[i];
	*out = all;
	*n = k;
	return 0;
}

/* Remove the containers whose namespace vanished (present: false). */
static int remove_vanished(struct host *h, const struct st_guest *g,
			   json_t *status)
{
	json_t *eps = json_object_get(status, "endpoints"), *e;
	int removed = 0;
	size_t i;

	json_array_foreach(eps, i, e) {
		struct st_container c;
		const char *cid = json_str(e, "container_id");

		if (!cid || !json_is_false(json_object_get(e, "present")))
			continue;
		if (h->st->ops->container_get(h->st, cid, &c) ||
		    strcmp(c.guest, g->name))
			continue;
		log_warn(
			"container %s: its namespace on guest %s vanished, removing it",
			c.name, g->name);
		host_container_remove(h, &c, false, NULL);
		removed++;
	}
	return removed;
}

static bool status_has_endpoint(json_t *status, const char *nid,
				const char *cid)
{
	json_t *eps = json_object_get(status, "endpoints"), *e;
	size_t i;

	json_array_foreach(eps, i, e) {
		const char *a = json_str(e, "network_id"),
			   *b = json_str(e, "container_id");

		if (a && b && !strcmp(a, nid) && !strcmp(b, cid))
			return true;
	}
	return false;
}

static bool status_has_network(json_t *status, const char *nid, const char *key)
{
	json_t *nets = json_object_get(status, "networks"), *e;
	size_t i;

	json_array_foreach(nets, i, e) {
		const char *a = json_str(e, "id"),
			   *k = json_str(e, "public_key");

		if (a && !strcmp(a, nid))
			return k && !strcmp(k, key);
	}
	return false;
}

int mesh_audit(struct host *h, const struct st_guest *g, json_t *status)
{
	struct store *st = h->st;
	struct st_container *cs = NULL;
	size_t ncs = 0;
	int differs = 0;

	remove_vanished(h, g, status);
	if (mesh_guest_containers(st, g->name, &cs, &ncs))
		return 0;
	for (size_t i = 0; i < ncs && !differs; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;

		if (st->ops->endpoint_list(st, NULL, cs[i].id, &eps, &nep))
			continue;
		for (size_t k = 0; k < nep && !differs; k++) {
			struct st_guest_net gn;

			if (st->ops->guest_net_get(st, g->name,
						   eps[k].network_id, &gn) ||
			    !status_has_network(status, eps[k].network_id,
						gn.public_key) ||
			    !status_has_endpoint(status, eps[k].network_id,
						 cs[i].id))
				differs = 1;
		}
		free(eps);
	}
	free(cs);
	if (differs)
		log_info("guest %s differs from the desired state", g->name);
	return differs;
}

static bool str_in(json_t *arr, const char *s)
{
	json_t *x;
	size_t i;

	json_array_foreach(arr, i, x)
		if (!strcmp(json_string_value(x), s))
			return true;
	return false;
}

/* Replay steps that push one network: AddNetwork (+ store its key). */
static int replay_networks(struct host *h, struct guest_rt *r,
			   const struct st_guest *g, json_t *nets,
			   json_t *added, mesh_call_fn call)
{
	json_t *x;
	size_t i;

	json_array_foreach(nets, i, x) {
		struct st_network n;
		json_t *args = NULL, *res = NULL;
		char *em = NULL;
		int rc;

		if (h->st->ops->network_get(h->st, json_string_value(x), &n))
			continue;
		mesh_network_args(&n, &args);
		mtu_add_network_args(h->st, &n, args);
		rc = call(h, r, "AddNetwork", args, &res, &em);
		if (!rc)
			rc = mesh_store_key(h, g->name, n.id, res, true, &em);
		json_decref(res);
		if (rc) {
			log_warn("replay %s: %s", g->name, em);
			free(em);
			if (rc == -EHOSTUNREACH)
				return rc;
			continue;
		}
		json_array_append(added, x);
	}
	return 0;
}

static int replay_endpoints(struct host *h, struct guest_rt *r,
			    const struct st_guest *g,
			    const struct st_container *cs, size_t ncs,
			    json_t *added, mesh_call_fn call)
{
	struct store *st = h->st;

	for (size_t i = 0; i < ncs; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;
		bool vanished = false;

		if (st->ops->endpoint_list(st, NULL, cs[i].id, &eps, &nep))
			continue;
		for (size_t k = 0; k < nep && !vanished; k++) {
			struct st_network n;
			char *em = NULL;
			int rc;

			/* Its network failed: the reply would be ENOENT for
			 * the network, not for the namespace. */
			if (!str_in(added, eps[k].network_id) ||
			    st->ops->network_get(st, eps[k].network_id, &n))
				continue;
			rc = call(h, r, "AddEndpoint",
				  mesh_endpoint_args(&n, &cs[i], &eps[k]), NULL,
				  &em);
			if (rc == -EHOSTUNREACH) {
				free(em);
				free(eps);
				return rc;
			}
			if (rc)
				log_warn("replay %s: %s", g->name, em);
			/* The network was just added: ENOENT means the
			 * container's namespace is gone. */
			vanished = rc == -ENOENT;
			free(em);
		}
		free(eps);
		if (vanished) {
			log_warn(
				"container %s: namespace %s is gone, removing it",
				cs[i].name, cs[i].netns);
			host_container_remove(h, &cs[i], false, NULL);
		}
	}
	return 0;
}

/* The networks of the guest's containers; stale interface rows go. */
static int replay_plan(struct host *h, const struct st_guest *g, json_t *nets,
		       json_t *ctrs, struct st_container **cs, size_t *ncs)
{
	struct store *st = h->st;
	struct st_guest_net *gns = NULL;
	size_t ngn = 0, i;
	int rc;

	rc = mesh_guest_containers(st, g->name, cs, ncs);
	if (rc)
		return rc;
	for (i = 0; i < *ncs; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;

		json_array_append_new(ctrs, json_string((*cs)[i].id));
		if (st->ops->endpoint_list(st, NULL, (*cs)[i].id, &eps, &nep))
			continue;
		for (size_t k = 0; k < nep; k++)
			if (!str_in(nets, eps[k].network_id))
				json_array_append_new(
					nets, json_string(eps[k].network_id));
		free(eps);
	}
	/* Interfaces it should not have any more (stale rows). */
	if (!st->ops->guest_net_list(st, NULL, &gns, &ngn))
		for (i = 0; i < ngn; i++)
			if (!strcmp(gns[i].guest, g->name) &&
			    !str_in(nets, gns[i].network_id)) {
				pthread_mutex_lock(&h->mu);
				st->ops->guest_net_delete(st, g->name,
							  gns[i].network_id);
				pthread_mutex_unlock(&h->mu);
				cp_net_refresh(h, gns[i].network_id);
			}
	free(gns);
	return 0;
}

int mesh_replay_guest(struct host *h, struct guest_rt *r,
		      const struct st_guest *g, mesh_call_fn call)
{
	struct st_container *cs = NULL;
	json_t *nets = json_array(), *ctrs = json_array(),
	       *added = json_array(), *status = NULL, *x, *iso;
	uint64_t iso_gen;
	size_t ncs = 0, i;
	char *em = NULL;
	int rc;

	log_info("replaying the desired state of guest %s", g->name);
	/* The isolation set first (its control-plane part with the hub):
	 * a refusal leaves the guest degraded (Status), never unnoticed. */
	iso = cp_iso_want(h, &iso_gen);
	x = json_object_get(iso, "ctrl_prefixes");
	rc = call(h, r, "CreateHub",
		  x ? json_pack("{s:O}", "ctrl_prefixes", x) : json_object(),
		  NULL, &em);
	if (rc) {
		cp_iso_result(h, r, "CreateHub", 0, rc, em);
		json_decref(iso);
		goto out;
	}
	if (iso) {
		rc = call(h, r, "SetIsolation", iso, NULL, &em);
		cp_iso_result(h, r, "SetIsolation", iso_gen, rc, em);
		if (rc == -EHOSTUNREACH)
			goto out;
		free(em);
		em = NULL;
	}
	rc = replay_plan(h, g, nets, ctrs, &cs, &ncs);
	if (rc)
		goto out;
	rc = replay_networks(h, r, g, nets, added, call);
	if (rc)
		goto out;
	rc = replay_endpoints(h, r, g, cs, ncs, added, call);
	if (rc)
		goto out;
	/* Containers may have gone in replay_endpoints: list them again. */
	free(cs);
	cs = NULL;
	json_array_clear(ctrs);
	rc = mesh_guest_containers(h->st, g->name, &cs, &ncs);
	if (rc)
		goto out;
	for (i = 0; i < ncs; i++)
		json_array_append_new(ctrs, json_string(cs[i].id));
	rc = call(h, r, "Reconcile",
		  json_pack("{s:O,s:O}", "networks", nets, "containers", ctrs),
		  NULL, &em);
	if (rc == -EHOSTUNREACH)
		goto out;
	free(em);
	em = NULL;
	/* Peers and DNS: the worker's catch-up once it is up (a guest
	 * without generations gets everything again). Ports here. */
	pthread_mutex_lock(&h->rt_mu);
	if (!r->gens)
		for (i = 0; i < r->nacks; i++)
			r->acks[i].a.valid = false;
	pthread_mutex_unlock(&h->rt_mu);
	for (i = 0; i < ncs; i++) {
		json_t *ports = NULL;

		if (mesh_ports(h->st, &cs[i], &ports))
			continue;
		rc = call(h, r, "PublishPorts",
			  json_pack("{s:s,s:o}", "container_id", cs[i].id,
				    "ports", ports),
			  NULL, &em);
		if (rc == -EHOSTUNREACH)
			goto out;
		free(em);
		em = NULL;
	}
	rc = call(h, r, "GetStatus", NULL, &status, &em);
	if (!rc)
		remove_vanished(h, g, status);
	rc = rc == -EHOSTUNREACH ? rc : 0;
	if (!rc)
		log_info("guest %s: desired state replayed", g->name);
out:
	if (rc)
		log_warn("replay of guest %s stopped: %s", g->name,
			 em ? em : strerror(-rc));
	free(em);
	free(cs);
	json_decref(status);
	json_decref(nets);
	json_decref(ctrs);
	json_decref(added);
	return rc;
}

/* A dead guest: its containers and interfaces go from the store (the
 * generations move), the others drop it as a peer through their
 * catch-up. No guest I/O. */
int mesh_guest_dead(struct host *h, const struct st_guest *g)
{
	struct store *st = h->st;
	struct st_container *cs = NULL;
	struct st_guest_net *gns = NULL;
	struct st_endpoint *freed = NULL;
	size_t ncs = 0, ngn = 0, nfreed = 0, i;
	json_t *nets = json_array(), *x;
	struct st_guest dead = *g;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = mesh_guest_containers(st, g->name, &cs, &ncs);
	if (rc)
		goto unlock;
	log_warn("guest %s is dead: removing its %zu container(s)", g->name,
		 ncs);
	for (i = 0; i < ncs; i++) {
		struct st_endpoint *eps = NULL, *tmp;
		size_t nep = 0;

		if (!st->ops->endpoint_list(st, NULL, cs[i].id, &eps, &nep)) {
			tmp = realloc(freed, (nfreed + nep + 1) * sizeof(*tmp));
			if (tmp) {
				freed = tmp;
				memcpy(freed + nfreed, eps, nep * sizeof(*eps));
				nfreed += nep;
			}
			for (size_t k = 0; k < nep; k++)
				if (!str_in(nets, eps[k].network_id))
					json_array_append_new(
						nets,
						json_string(eps[k].network_id));
		}
		free(eps);
		st->ops->container_delete(st, cs[i].id);
	}
	if (!st->ops->guest_net_list(st, NULL, &gns, &ngn))
		for (i = 0; i < ngn; i++)
			if (!strcmp(gns[i].guest, g->name)) {
				if (!str_in(nets, gns[i].network_id))
					json_array_append_new(
						nets,
						json_string(gns[i].network_id));
				st->ops->guest_net_delete(st, g->name,
							  gns[i].network_id);
			}
	dead.state = ST_GUEST_DEAD;
	st->ops->guest_put(st, &dead);
unlock:
	pthread_mutex_unlock(&h->mu);
	json_array_foreach(nets, i, x)
		cp_net_refresh(h, json_string_value(x));
	for (i = 0; i < nfreed; i++)
		cp_net_quarantine(h, freed[i].network_id, &freed[i].ip4,
				  &freed[i].ip6,
				  cp_net_gen(h, freed[i].network_id));
	json_decref(nets);
	free(freed);
	free(cs);
	free(gns);
	return rc;
}
