// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store, part 3: networks and guests. See store_sqlite.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipam.h"
#include "wgnet/log.h"
#include "store.h"

#include "store_sqlite_int.h"

/* Networks. */

/* Validate one family's request part into n; no database access. */
static int net_check_family(const char *name, int fam,
			    const struct ip_prefix *subnet,
			    const struct ip_prefix *range,
			    const struct ip_addr *gw, struct ip_prefix *osub,
			    struct ip_prefix *orange, struct ip_addr *ogw)
{
	const char *why = NULL;
	int err;

	if (!subnet->addr.family) {
		if (range->addr.family || gw->family) {
			log_info(
				"network %s: ip-range and gateway need a subnet",
				name);
			return -EINVAL;
		}
		return 0;
	}
	if (subnet->addr.family != fam) {
		log_info("network %s: the %s subnet has the wrong family", name,
			 fam == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	*osub = *subnet;
	*orange = *range;
	*ogw = *gw;
	err = ipam_check_network(osub, orange, ogw, &why);
	if (err)
		log_info("network %s: %s", name, why ? why : strerror(-err));
	return err;
}

int sqlite_network_create(struct store *st, const struct st_network_req *req,
			  struct st_network *out)
{
	struct store_sqlite *s = st_to_sq(st);
	char b1[IPNET_STRLEN], b2[IPNET_STRLEN];
	struct ip_prefix *used = NULL;
	const char *why = NULL;
	struct st_network n;
	size_t n_used = 0, i;
	int err;

	if (!sq_str_ok(req->name, sizeof(req->name)) || !req->name[0] ||
	    !sq_str_ok(req->driver, sizeof(req->driver)) ||
	    !sq_str_ok(req->labels, sizeof(req->labels)) ||
	    !sq_str_ok(req->options, sizeof(req->options)))
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", req->name);
	snprintf(n.driver, sizeof(n.driver), "%s",
		 req->driver[0] ? req->driver : "wgnet");
	snprintf(n.labels, sizeof(n.labels), "%s",
		 req->labels[0] ? req->labels : "{}");
	snprintf(n.options, sizeof(n.options), "%s",
		 req->options[0] ? req->options : "{}");
	n.internal = req->internal;
	err = net_check_family(n.name, AF_INET, &req->subnet4, &req->range4,
			       &req->gw4, &n.subnet4, &n.range4, &n.gw4);
	if (err)
		return err;
	err = net_check_family(n.name, AF_INET6, &req->subnet6, &req->range6,
			       &req->gw6, &n.subnet6, &n.range6, &n.gw6);
	if (err)
		return err;
	if (req->ipv6 && !n.subnet6.addr.family) {
		/* No default IPv6 pool, as in Docker 20.10. */
		log_info("network %s: IPv6 needs an IPv6 subnet", n.name);
		return -EINVAL;
	}
	n.ipv6 = n.subnet6.addr.family != 0;

	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_exists(s, "SELECT 1 FROM networks WHERE name = ?", "s", n.name,
			NULL);
	if (err) {
		if (err > 0) {
			log_info("network %s already exists", n.name);
			err = -EEXIST;
		}
		goto out;
	}
	{
		sqlite3_stmt *stmt;

		err = sq_prepare(s, &stmt,
				 "SELECT subnet4 FROM networks"
				 " WHERE subnet4 IS NOT NULL UNION ALL"
				 " SELECT subnet6 FROM networks"
				 " WHERE subnet6 IS NOT NULL",
				 NULL);
		if (err)
			goto out;
		err = sq_all(s, stmt, sq_row_prefix0, sizeof(*used),
			     (void **)&used, &n_used);
		if (err)
			goto out;
	}
	if (!n.subnet4.addr.family) {
		err = ipam_auto_subnet4(used, n_used, &n.subnet4);
		if (err) {
			log_info(
				"network %s: the default address pools are exhausted",
				n.name);
			goto out;
		}
		err = ipam_check_network(&n.subnet4, NULL, &n.gw4, &why);
		if (err)
			goto out;
	}
	for (i = 0; i < n_used; i++) {
		const struct ip_prefix *mine = used[i].addr.family == AF_INET ?
						       &n.subnet4 :
						       &n.subnet6;

		if (mine->addr.family && prefix_overlap(mine, &used[i])) {
			log_info("network %s: subnet %s overlaps %s", n.name,
				 prefix_fmt(mine, b1),
				 prefix_fmt(&used[i], b2));
			err = -EADDRINUSE;
			goto out;
		}
	}
	err = sq_new_id(n.id);
	if (err)
		goto out;
	n.created = time(NULL);
	err = sq_run(s, NULL,
		     "INSERT INTO networks (id, name, driver, subnet4, range4,"
		     " gw4, subnet6, range6, gw6, internal, ipv6, labels,"
		     " options, created)"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     "sssppappaiissI", n.id, n.name, n.driver, &n.subnet4,
		     &n.range4, &n.gw4, &n.subnet6, &n.range6, &n.gw6,
		     (int)n.internal, (int)n.ipv6, n.labels, n.options,
		     n.created);
out:
	free(used);
	err = sq_tx_end(s, err);
	if (!err)
		*out = n;
	return err;
}

int sqlite_network_get(struct store *st, const char *ref,
		       struct st_network *out)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	err = sq_tx_begin(s, false);
	if (err)
		return err;
	err = sq_resolve(s, "SELECT " NET_COLS " FROM networks", ref,
			 sq_row_network, out);
	return sq_tx_end(s, err);
}

int sqlite_network_list(struct store *st, struct st_network **out, size_t *n)
{
	return sq_list_query(st_to_sq(st), sq_row_network, sizeof(**out),
			     (void **)out, n,
			     "SELECT " NET_COLS " FROM networks ORDER BY rowid",
			     NULL, NULL, NULL);
}

int sqlite_network_delete(struct store *st, const char *ref)
{
	struct store_sqlite *s = st_to_sq(st);
	struct st_network n;
	int err;

	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_resolve(s, "SELECT " NET_COLS " FROM networks", ref,
			 sq_row_network, &n);
	if (err)
		goto out;
	err = sq_exists(s, "SELECT 1 FROM endpoints WHERE network_id = ?", "s",
			n.id, NULL);
	if (err) {
		if (err > 0) {
			log_info("network %s has active endpoints", n.name);
			err = -EBUSY;
		}
		goto out;
	}
	err = sq_run(s, NULL, "DELETE FROM guest_nets WHERE network_id = ?",
		     "s", n.id);
	if (!err)
		err = sq_run(s, NULL, "DELETE FROM networks WHERE id = ?", "s",
			     n.id);
out:
	return sq_tx_end(s, err);
}

/* Guests. */

/* Does the new row change what peers of the guest hold (its underlay
 * address, or dead or not)? */
static int guest_put_changes_peers(struct store_sqlite *s,
				   const struct st_guest *g)
{
	struct st_guest old;
	sqlite3_stmt *stmt;
	int n;

	n = sq_prepare(s, &stmt,
		       "SELECT " GUEST_COLS " FROM guests WHERE name = ?", "s",
		       g->name);
	if (n)
		return n;
	n = sq_one(s, stmt, sq_row_guest, &old);
	if (n <= 0)
		return n; /* new: it has no networks yet */
	return !ip_equal(&old.underlay, &g->underlay) ||
	       (old.state == ST_GUEST_DEAD) != (g->state == ST_GUEST_DEAD);
}

int sqlite_guest_put(struct store *st, const struct st_guest *g)
{
	struct store_sqlite *s = st_to_sq(st);
	int err, bump;

	if (!sq_str_ok(g->name, sizeof(g->name)) || !g->name[0] ||
	    !sq_str_ok(g->control, sizeof(g->control)) ||
	    !sq_str_ok(g->host_id, sizeof(g->host_id)) ||
	    !sq_str_ok(g->backend, sizeof(g->backend)) ||
	    g->underlay_plen < 0 ||
	    (g->underlay.family &&
	     g->underlay_plen > ip_max_plen(g->underlay.family)))
		return -EINVAL;
	err = sq_tx_begin(s, true);
	if (err)
		return err;
	bump = guest_put_changes_peers(s, g);
	if (bump < 0)
		return sq_tx_end(s, bump);
	err = sq_run(s, NULL,
		     "INSERT INTO guests (" GUEST_COLS ")"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
		     " ON CONFLICT (name) DO UPDATE SET"
		     " control = excluded.control, host_id = excluded.host_id,"
		     " underlay = excluded.underlay,"
		     " backend = excluded.backend, state = excluded.state,"
		     " last_seen = excluded.last_seen,"
		     " underlay_plen = excluded.underlay_plen",
		     "sssasiIi", g->name, g->control, g->host_id, &g->underlay,
		     g->backend, g->state, g->last_seen, g->underlay_plen);
	if (!err && bump)
		err = sq_bump_guest(s, g->name);
	return sq_tx_end(s, err);
}

int sqlite_guest_get(struct store *st, const char *name, struct st_guest *out)
{
	return sq_get_query(st_to_sq(st), sq_row_guest, out,
			    "SELECT " GUEST_COLS " FROM guests WHERE name = ?",
			    "s", name, NULL);
}

int sqlite_guest_list(struct store *st, struct st_guest **out, size_t *n)
{
	return sq_list_query(st_to_sq(st), sq_row_guest, sizeof(**out),
			     (void **)out, n,
			     "SELECT " GUEST_COLS " FROM guests ORDER BY name",
			     NULL, NULL, NULL);
}

int sqlite_guest_delete(struct store *st, const char *name)
{
	/* Its WireGuard interfaces go with it. */
	struct store_sqlite *s = st_to_sq(st);
	int err;

	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_bump_guest(s, name);
	if (!err)
		err = sq_run(s, NULL, "DELETE FROM guest_nets WHERE guest = ?",
			     "s", name);
	err = sq_tx_end(s, err);
	if (err)
		return err;
	return sq_delete_query(st_to_sq(st), NULL,
			       "DELETE FROM guests WHERE name = ?", "s", name,
			       NULL);
}
