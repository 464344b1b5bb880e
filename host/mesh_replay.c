// SPDX-License-Identifier: GPL-2.0
/*
 * The mesh, continued: the audit of a guest's GetStatus, the full replay of
 * one guest, and dead guests. Every function here runs with h->mu held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wgnet/host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "mesh_int.h"
#include "mtu.h"

/* Containers of guest g. */
static int guest_containers(struct store *st, const char *guest,
			    struct st_container **out, size_t *n)
{
	struct st_container *all = NULL;
	size_t nall = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
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
		host_container_remove_locked(h, &c, NULL);
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
	if (guest_containers(st, g->name, &cs, &ncs))
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
static int replay_networks(struct host *h, const struct st_guest *g,
			   json_t *nets, json_t *changed, json_t *added)
{
	json_t *x;
	size_t i;

	json_array_foreach(nets, i, x) {
		struct st_network n;
		char *em = NULL;
		bool ch = false;
		int rc;

		if (h->st->ops->network_get(h->st, json_string_value(x), &n))
			continue;
		rc = mesh_guest_add_network(h, g, &n, &ch, &em);
		if (rc) {
			log_warn("replay %s: %s", g->name, em);
			free(em);
			if (rc == -EHOSTUNREACH)
				return rc;
			continue;
		}
		if (ch)
			json_array_append_new(changed, json_string(n.id));
		json_array_append(added, x);
	}
	return 0;
}

static int replay_endpoints(struct host *h, const struct st_guest *g,
			    const struct st_container *cs, size_t ncs,
			    json_t *added)
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
			json_t *args;
			int rc;

			/* Its network failed: the reply would be ENOENT for
			 * the network, not for the namespace. */
			if (!str_in(added, eps[k].network_id) ||
			    st->ops->network_get(st, eps[k].network_id, &n))
				continue;
			args = mesh_endpoint_args(&n, &cs[i], &eps[k]);
			rc = gc_call(h, g, "AddEndpoint", args,
				     h->call_timeout_ms, NULL, &em);
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
			host_container_remove_locked(h, &cs[i], NULL);
		}
	}
	return 0;
}

int mesh_replay(struct host *h, const struct st_guest *g)
{
	struct store *st = h->st;
	struct st_container *cs = NULL;
	struct st_guest_net *gns = NULL;
	struct gc_batch *b = NULL;
	json_t *nets = json_array(), *ctrs = json_array(),
	       *changed = json_array(), *added = json_array(), *status = NULL,
	       *x;
	size_t ncs = 0, ngn = 0, i;
	char *em = NULL;
	int rc;

	log_info("replaying the desired state of guest %s", g->name);
	x = mesh_ctrl_prefixes(h);
	rc = gc_call(h, g, "CreateHub",
		     x ? json_pack("{s:o}", "ctrl_prefixes", x) : json_object(),
		     h->call_timeout_ms, NULL, &em);
	if (rc)
		goto out;
	x = mesh_isolation_args(h);
	if (x) {
		rc = gc_call(h, g, "SetIsolation", x, h->call_timeout_ms, NULL,
			     &em);
		if (rc == -EHOSTUNREACH)
			goto out;
		free(em);
		em = NULL;
	}
	rc = guest_containers(st, g->name, &cs, &ncs);
	if (rc)
		goto out;
	for (i = 0; i < ncs; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;

		json_array_append_new(ctrs, json_string(cs[i].id));
		if (st->ops->endpoint_list(st, NULL, cs[i].id, &eps, &nep))
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
			    !str_in(nets, gns[i].network_id))
				st->ops->guest_net_delete(st, g->name,
							  gns[i].network_id);
	rc = replay_networks(h, g, nets, changed, added);
	if (rc)
		goto out;
	rc = replay_endpoints(h, g, cs, ncs, added);
	if (rc)
		goto out;
	b = gc_batch_new(h);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(nets, i, x) {
		json_t *peers = NULL, *args;

		if (mesh_peer_set(st, json_string_value(x), g->name, &peers))
			continue;
		args = json_pack("{s:O,s:o}", "network_id", x, "peers", peers);
		mtu_add_peers_args(st, json_string_value(x), args);
		rc = gc_call(h, g, "UpdatePeers", args, h->call_timeout_ms,
			     NULL, &em);
		if (rc == -EHOSTUNREACH)
			goto out;
		free(em);
		em = NULL;
	}
	/* Containers may have gone in replay_endpoints: list them again. */
	free(cs);
	cs = NULL;
	json_array_clear(ctrs);
	rc = guest_containers(st, g->name, &cs, &ncs);
	if (rc)
		goto out;
	for (i = 0; i < ncs; i++) {
		json_array_append_new(ctrs, json_string(cs[i].id));
		mesh_queue_container(h, b, &cs[i]);
	}
	/* The guest is not UP yet for the batch's skip rule: call directly. */
	rc = gc_call(h, g, "Reconcile",
		     json_pack("{s:O,s:O}", "networks", nets, "containers",
			       ctrs),
		     h->call_timeout_ms, NULL, &em);
	if (rc == -EHOSTUNREACH)
		goto out;
	free(em);
	em = NULL;
	host_grt_set_state(h, g->name, ST_GUEST_UP);
	gc_batch_run(b, h->call_timeout_ms);
	gc_batch_free(b);
	b = NULL;
	json_array_foreach(changed, i, x)
		mesh_push_network(h, json_string_value(x), NULL);
	rc = gc_call(h, g, "GetStatus", NULL, h->call_timeout_ms, &status, &em);
	if (!rc)
		remove_vanished(h, g, status);
	rc = rc == -EHOSTUNREACH ? rc : 0;
out:
	if (rc)
		log_warn("replay of guest %s stopped: %s", g->name,
			 em ? em : strerror(-rc));
	gc_batch_free(b);
	free(em);
	free(cs);
	free(gns);
	json_decref(status);
	json_decref(nets);
	json_decref(ctrs);
	json_decref(changed);
	json_decref(added);
	return rc;
}

int mesh_guest_dead(struct host *h, const struct st_guest *g)
{
	struct store *st = h->st;
	struct st_container *cs = NULL;
	struct st_guest_net *gns = NULL;
	size_t ncs = 0, ngn = 0, i;
	json_t *nets = json_array(), *x;
	struct st_guest dead = *g;
	int rc;

	rc = guest_containers(st, g->name, &cs, &ncs);
	if (rc)
		goto out;
	log_warn("guest %s is dead: removing its %zu container(s)", g->name,
		 ncs);
	for (i = 0; i < ncs; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;

		if (!st->ops->endpoint_list(st, NULL, cs[i].id, &eps, &nep))
			for (size_t k = 0; k < nep; k++)
				if (!str_in(nets, eps[k].network_id))
					json_array_append_new(
						nets,
						json_string(eps[k].network_id));
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
	json_array_foreach(nets, i, x)
		mesh_push_network(h, json_string_value(x), NULL);
out:
	json_decref(nets);
	free(cs);
	free(gns);
	return rc;
}
