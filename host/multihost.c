// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet-host on a store shared with other hosts (etcd): which guests are
 * ours, and the watch hook that pushes peer sets and DNS to our guests when
 * another host changes a network they are on. See docs/etcd.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wgnet/host.h"
#include "wgnet/log.h"

static bool shared(const struct host *h)
{
	return h->st && h->st->ops->watch;
}

bool host_owns_guest(const struct host *h, const struct st_guest *g)
{
	return !shared(h) || !strcmp(g->host_id, h->id);
}

int host_check_owner(struct host *h, const char *guest, char **errmsg)
{
	struct st_guest g;

	if (!shared(h) || h->st->ops->guest_get(h->st, guest, &g) ||
	    host_owns_guest(h, &g))
		return 0;
	return host_err(errmsg, -EREMOTE,
			"guest %s is served by host %s: use that host's wgnet-host",
			guest, g.host_id);
}

/* Does one of our guests have a WireGuard interface on the network? */
static bool ours_on(struct host *h, const char *network_id)
{
	struct st_guest_net *gns = NULL;
	size_t n = 0;
	bool mine = false;

	if (h->st->ops->guest_net_list(h->st, network_id, &gns, &n))
		return false;
	for (size_t i = 0; i < n && !mine; i++) {
		struct st_guest g;

		mine = !h->st->ops->guest_get(h->st, gns[i].guest, &g) &&
		       host_owns_guest(h, &g);
	}
	free(gns);
	return mine;
}

static void push(struct host *h, const char *network_id)
{
	struct gc_batch *b;

	if (!ours_on(h, network_id))
		return;
	b = gc_batch_new(h);
	if (!b)
		return;
	log_debug("store change on network %.12s: pushing to our guests",
		  network_id);
	/* Only our UP guests are called: the batch skips the others. */
	mesh_queue_network(h, b, network_id, NULL);
	gc_batch_run(b, HOST_PUSH_TIMEOUT_MS);
	gc_batch_free(b);
}

static bool has_endpoints(struct host *h, const char *network_id)
{
	struct st_endpoint *eps = NULL;
	size_t n = 0;

	if (h->st->ops->endpoint_list(h->st, network_id, NULL, &eps, &n))
		return true; /* unknown: no extra push */
	free(eps);
	return n > 0;
}

void host_on_store_change(struct host *h, const char *network_id)
{
	struct st_network *ns = NULL;
	size_t n = 0;

	pthread_mutex_lock(&h->mu);
	if (network_id) {
		push(h, network_id);
		/* A network created or removed on another host changes the
		 * isolation set of our guests (it has no endpoints then). */
		if (!has_endpoints(h, network_id))
			mesh_push_isolation(h, NULL);
	} else if (!h->st->ops->network_list(h->st, &ns, &n)) {
		log_info("store: full resync of %zu network(s)", n);
		for (size_t i = 0; i < n; i++)
			push(h, ns[i].id);
		free(ns);
		mesh_push_isolation(h, NULL);
	}
	pthread_mutex_unlock(&h->mu);
}

static void on_change(void *arg, const char *network_id)
{
	host_on_store_change(arg, network_id);
}

int host_watch_start(struct host *h)
{
	if (!shared(h))
		return 0;
	return h->st->ops->watch(h->st, on_change, h);
}

void host_watch_stop(struct host *h)
{
	if (shared(h))
		h->st->ops->watch(h->st, NULL, NULL);
}
