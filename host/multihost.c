// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet-host on a store shared with other hosts (etcd): which guests are
 * ours, and the watch hook that pushes peer sets and DNS to our guests when
 * another host changes a network they are on. See docs/etcd.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
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
	return host_err(
		errmsg, -EREMOTE,
		"guest %s is served by host %s: use that host's wgnet-host",
		guest, g.host_id);
}

void host_on_store_change(struct host *h, const char *network_id)
{
	struct st_network *ns = NULL;
	size_t n = 0;

	/* No lock across anything: the refresh reads the network in one
	 * transaction and wakes only our guests' workers, and only when the
	 * generation moved (our own writes were refreshed already). */
	if (network_id) {
		bool known = cp_net_gen(h, network_id) != 0;
		uint64_t gen = cp_net_refresh(h, network_id);

		/* A network created or removed on another host changes the
		 * isolation set of our guests. */
		if (known != (gen != 0))
			mesh_push_isolation(h, NULL, false, NULL);
	} else if (!h->st->ops->network_list(h->st, &ns, &n)) {
		log_info("store: full resync of %zu network(s)", n);
		for (size_t i = 0; i < n; i++)
			cp_net_refresh(h, ns[i].id);
		free(ns);
		mesh_push_isolation(h, NULL, false, NULL);
	}
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
