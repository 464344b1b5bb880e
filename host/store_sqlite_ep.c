// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store, part 4: containers, endpoints with their address
 * allocation, and guests' WireGuard interfaces. See store_sqlite.c.
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

static int random_mac(char out[18])
{
	uint8_t b[6];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -errno ? -errno : -EIO;
	b[0] = (b[0] & 0xfe) | 0x02;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5]);
	return 0;
}

/* Containers. */

int sqlite_container_add(struct store *st, const struct st_container *c)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	if (!sq_str_ok(c->id, sizeof(c->id)) || !c->id[0] ||
	    !sq_str_ok(c->name, sizeof(c->name)) ||
	    !sq_str_ok(c->guest, sizeof(c->guest)) ||
	    !sq_str_ok(c->netns, sizeof(c->netns)) ||
	    !sq_str_ok(c->ports, sizeof(c->ports)))
		return -EINVAL;
	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_run(s, NULL,
		     "INSERT INTO containers (id, name, guest, netns, ports)"
		     " VALUES (?, ?, ?, ?, ?)",
		     "sSsss", c->id, c->name, c->guest, c->netns,
		     c->ports[0] ? c->ports : "[]");
	if (err == -EEXIST)
		log_info("container %s (%s) already exists", c->name, c->id);
	return sq_tx_end(s, err);
}

int sqlite_container_get(struct store *st, const char *ref,
			 struct st_container *out)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	err = sq_tx_begin(s, false);
	if (err)
		return err;
	err = sq_resolve(s, "SELECT " CT_COLS " FROM containers", ref,
			 sq_row_container, out);
	return sq_tx_end(s, err);
}

int sqlite_container_list(struct store *st, struct st_container **out,
			  size_t *n)
{
	return sq_list_query(st_to_sq(st), sq_row_container, sizeof(**out),
			     (void **)out, n,
			     "SELECT " CT_COLS
			     " FROM containers ORDER BY rowid",
			     NULL, NULL, NULL);
}

int sqlite_container_list_guest(struct store *st, const char *guest,
				struct st_container **out, size_t *n)
{
	return sq_list_query(st_to_sq(st), sq_row_container, sizeof(**out),
			     (void **)out, n,
			     "SELECT " CT_COLS " FROM containers"
			     " WHERE guest = ? ORDER BY rowid",
			     "s", guest, NULL);
}

int sqlite_container_set_ports(struct store *st, const char *id,
			       const char *ports)
{
	struct store_sqlite *s = st_to_sq(st);
	int err, changes = 0;

	if (!ports ||
	    strlen(ports) >= sizeof(((struct st_container *)0)->ports))
		return -EINVAL;
	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_run(s, &changes,
		     "UPDATE containers SET ports = ? WHERE id = ?", "ss",
		     ports, id);
	if (!err && !changes)
		err = -ENOENT;
	return sq_tx_end(s, err);
}

int sqlite_endpoint_set_aliases(struct store *st, const char *network_id,
				const char *container_id, const char *aliases)
{
	struct store_sqlite *s = st_to_sq(st);
	int err, changes = 0;

	if (!aliases ||
	    strlen(aliases) >= sizeof(((struct st_endpoint *)0)->aliases))
		return -EINVAL;
	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_run(s, &changes,
		     "UPDATE endpoints SET aliases = ? WHERE network_id = ?"
		     " AND container_id = ?",
		     "sss", aliases, network_id, container_id);
	if (!err && !changes)
		err = -ENOENT;
	return sq_tx_end(s, err);
}

int sqlite_container_delete(struct store *st, const char *ref)
{
	struct store_sqlite *s = st_to_sq(st);
	struct st_container c;
	int err;

	err = sq_tx_begin(s, true);
	if (err)
		return err;
	err = sq_resolve(s, "SELECT " CT_COLS " FROM containers", ref,
			 sq_row_container, &c);
	if (!err)
		err = sq_bump_container(s, c.id);
	if (!err)
		err = sq_run(s, NULL,
			     "DELETE FROM endpoints WHERE container_id = ?",
			     "s", c.id);
	if (!err)
		err = sq_run(s, NULL, "DELETE FROM containers WHERE id = ?",
			     "s", c.id);
	return sq_tx_end(s, err);
}

/* Endpoints. */

static int get_network_by_id(struct store_sqlite *s, const char *id,
			     struct st_network *out)
{
	sqlite3_stmt *stmt;
	int n;

	n = sq_prepare(s, &stmt,
		       "SELECT " NET_COLS " FROM networks WHERE id = ?", "s",
		       id);
	if (n)
		return n;
	n = sq_one(s, stmt, sq_row_network, out);
	return n < 0 ? n : n ? 0 : -ENOENT;
}

static int used_addrs(struct store_sqlite *s, const char *network_id, bool v6,
		      const struct ip_addr *avoid, size_t n_avoid,
		      struct ip_addr **out, size_t *n)
{
	sqlite3_stmt *stmt;
	struct ip_addr *tmp;
	int err;

	err = sq_prepare(s, &stmt,
			 v6 ? "SELECT ip6 FROM endpoints WHERE network_id = ?"
			      " AND ip6 IS NOT NULL" :
			      "SELECT ip4 FROM endpoints WHERE network_id = ?"
			      " AND ip4 IS NOT NULL",
			 "s", network_id);
	if (err)
		return err;
	err = sq_all(s, stmt, sq_row_ip0, sizeof(**out), (void **)out, n);
	if (err || !n_avoid)
		return err;
	/* Freed addresses not yet acknowledged by every guest count as
	 * used for a pick (docs/control-plane.md). */
	tmp = realloc(*out, (*n + n_avoid) * sizeof(**out));
	if (!tmp)
		return -ENOMEM;
	*out = tmp;
	for (size_t i = 0; i < n_avoid; i++)
		if (avoid[i].family == (v6 ? AF_INET6 : AF_INET))
			tmp[(*n)++] = avoid[i];
	return 0;
}

/* Pick or check one family's address of ep on network n. */
static int ep_addr(struct store_sqlite *s, const struct st_network *n, bool v6,
		   const struct st_endpoint *req, struct ip_addr *got)
{
	const struct ip_prefix *subnet = v6 ? &n->subnet6 : &n->subnet4;
	const struct ip_prefix *range = v6 ? &n->range6 : &n->range4;
	const struct ip_addr *gw = v6 ? &n->gw6 : &n->gw4;
	const struct ip_addr *want = v6 ? &req->ip6 : &req->ip4;
	struct ip_addr *used = NULL;
	const char *why = NULL;
	size_t n_used = 0;
	int err;

	memset(got, 0, sizeof(*got));
	if (!subnet->addr.family)
		return 0; /* the caller refused a static address here */
	/* A static address is the caller's choice; only picks avoid. */
	err = used_addrs(s, n->id, v6, req->avoid,
			 want->family ? 0 : req->n_avoid, &used, &n_used);
	if (err)
		return err;
	if (want->family) {
		err = ipam_check_static(subnet, gw, want, used, n_used, &why);
		if (err)
			log_info("network %s: %s", n->name, why);
		else
			*got = *want;
	} else {
		err = ipam_pick(subnet, range, gw, used, n_used, got);
		if (err == -ENOSPC)
			log_info("network %s: no free %s address", n->name,
				 v6 ? "IPv6" : "IPv4");
	}
	free(used);
	return err;
}

static int ep_create_tx(struct store_sqlite *s, struct st_endpoint *ep,
			const char *aliases)
{
	struct st_network n;
	struct st_endpoint e;
	sqlite3_stmt *stmt;
	int err;

	memset(&e, 0, sizeof(e));
	err = get_network_by_id(s, ep->network_id, &n);
	if (err)
		return err;
	err = sq_exists(s, "SELECT 1 FROM containers WHERE id = ?", "s",
			ep->container_id, NULL);
	if (err <= 0)
		return err ? err : -ENOENT;
	err = sq_exists(s,
			"SELECT 1 FROM endpoints WHERE network_id = ?"
			" AND container_id = ?",
			"ss", ep->network_id, ep->container_id);
	if (err) {
		if (err > 0) {
			log_info("container %s is already on network %s",
				 ep->container_id, n.name);
			err = -EEXIST;
		}
		return err;
	}
	/* A bad request is -EINVAL even when the pool is also full. */
	if ((ep->ip4.family && !n.subnet4.addr.family) ||
	    (ep->ip6.family && !n.subnet6.addr.family)) {
		log_info("network %s has no subnet of that address family",
			 n.name);
		return -EINVAL;
	}
	err = ep_addr(s, &n, false, ep, &e.ip4);
	if (!err)
		err = ep_addr(s, &n, true, ep, &e.ip6);
	if (err)
		return err;
	if (!e.ip4.family && !e.ip6.family)
		return -EINVAL;
	err = sq_new_id(e.id);
	if (err)
		return err;
	if (e.ip4.family)
		ipam_mac_from_ip(&e.ip4, e.mac);
	else if ((err = random_mac(e.mac)))
		return err;
	err = sq_prepare(s, &stmt,
			 "SELECT COALESCE(MAX(seq), 0) + 1 FROM endpoints"
			 " WHERE container_id = ?",
			 "s", ep->container_id);
	if (err)
		return err;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		e.seq = sqlite3_column_int64(stmt, 0);
	else
		err = sq_err(s, sqlite3_errcode(s->db), "seq");
	sq_finish(s, stmt);
	if (err)
		return err;
	snprintf(e.network_id, sizeof(e.network_id), "%s", ep->network_id);
	snprintf(e.container_id, sizeof(e.container_id), "%s",
		 ep->container_id);
	snprintf(e.aliases, sizeof(e.aliases), "%s", aliases);
	err = sq_run(s, NULL,
		     "INSERT INTO endpoints (" EP_COLS ")"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		     "sssaassI", e.id, e.network_id, e.container_id, &e.ip4,
		     &e.ip6, e.mac, e.aliases, e.seq);
	if (err == -EEXIST && (!ep->ip4.family || !ep->ip6.family)) {
		/* Someone took the address we picked: pick again. */
		err = -EAGAIN;
	}
	if (!err)
		err = sq_bump(s, e.network_id);
	if (!err)
		*ep = e;
	return err;
}

int sqlite_endpoint_create(struct store *st, struct st_endpoint *ep)
{
	struct store_sqlite *s = st_to_sq(st);
	const char *aliases;
	int err = -EAGAIN, i;

	if (!sq_str_ok(ep->network_id, sizeof(ep->network_id)) ||
	    !sq_str_ok(ep->container_id, sizeof(ep->container_id)) ||
	    !sq_str_ok(ep->aliases, sizeof(ep->aliases)))
		return -EINVAL;
	aliases = ep->aliases[0] ? ep->aliases : "[]";
	for (i = 0; i < ALLOC_RETRIES && err == -EAGAIN; i++) {
		err = sq_tx_begin(s, true);
		if (err)
			return err;
		err = sq_tx_end(s, ep_create_tx(s, ep, aliases));
	}
	if (err == -EAGAIN) {
		log_err("store %s: endpoint allocation keeps colliding",
			s->path);
		err = -EIO;
	}
	return err;
}

int sqlite_endpoint_delete(struct store *st, const char *network_id,
			   const char *container_id)
{
	return sq_delete_query(st_to_sq(st),
			       "UPDATE networks SET gen = gen + 1 WHERE id = ?1"
			       " AND EXISTS (SELECT 1 FROM endpoints"
			       " WHERE network_id = ?1 AND container_id = ?2)",
			       "DELETE FROM endpoints WHERE network_id = ?"
			       " AND container_id = ?",
			       "ss", network_id, container_id);
}

int sqlite_endpoint_get(struct store *st, const char *network_id,
			const char *container_id, struct st_endpoint *out)
{
	return sq_get_query(st_to_sq(st), sq_row_endpoint, out,
			    "SELECT " EP_COLS " FROM endpoints"
			    " WHERE network_id = ? AND container_id = ?",
			    "ss", network_id, container_id);
}

int sqlite_endpoint_list(struct store *st, const char *network_id,
			 const char *container_id, struct st_endpoint **out,
			 size_t *n)
{
	/* One query per case: "(?1 IS NULL OR network_id = ?1)" cannot use
	 * an index. */
	static const char *const sql[4] = {
		"SELECT " EP_COLS " FROM endpoints ORDER BY rowid",
		"SELECT " EP_COLS " FROM endpoints WHERE network_id = ?1"
		" ORDER BY rowid",
		"SELECT " EP_COLS " FROM endpoints WHERE container_id = ?2"
		" ORDER BY rowid",
		"SELECT " EP_COLS " FROM endpoints WHERE network_id = ?1"
		" AND container_id = ?2 ORDER BY rowid",
	};

	return sq_list_query(st_to_sq(st), sq_row_endpoint, sizeof(**out),
			     (void **)out, n,
			     sql[(network_id ? 1 : 0) + (container_id ? 2 : 0)],
			     "ss", network_id, container_id);
}

/* Guests' WireGuard interfaces. */

int sqlite_guest_net_put(struct store *st, const struct st_guest_net *gn)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	if (!sq_str_ok(gn->guest, sizeof(gn->guest)) || !gn->guest[0] ||
	    !sq_str_ok(gn->network_id, sizeof(gn->network_id)) ||
	    !sq_str_ok(gn->public_key, sizeof(gn->public_key)))
		return -EINVAL;
	err = sq_tx_begin(s, true);
	if (err)
		return err;
	/* A new or changed interface changes every peer set of the network;
	 * the foreign key turns an unknown network into -ENOENT. */
	{
		sqlite3_stmt *stmt;

		err = sq_prepare(s, &stmt,
				 "SELECT 1 FROM guest_nets WHERE guest = ?"
				 " AND network_id = ? AND public_key = ?"
				 " AND listen_port = ? AND mtu = ?"
				 " AND key_created = ?",
				 "sssiiI", gn->guest, gn->network_id,
				 gn->public_key, (int)gn->listen_port,
				 (int)gn->mtu, gn->key_created);
		if (!err)
			err = sq_one(s, stmt, NULL, NULL);
		if (err) /* unchanged (1) or an error */
			return sq_tx_end(s, err < 0 ? err : 0);
	}
	err = sq_run(s, NULL,
		     "INSERT INTO guest_nets (" GN_COLS
		     ") VALUES (?, ?, ?, ?, ?, ?)"
		     " ON CONFLICT (guest, network_id) DO UPDATE SET"
		     " public_key = excluded.public_key,"
		     " listen_port = excluded.listen_port,"
		     " mtu = excluded.mtu,"
		     " key_created = excluded.key_created",
		     "sssiiI", gn->guest, gn->network_id, gn->public_key,
		     (int)gn->listen_port, (int)gn->mtu, gn->key_created);
	if (!err)
		err = sq_bump(s, gn->network_id);
	return sq_tx_end(s, err);
}

int sqlite_guest_net_get(struct store *st, const char *guest,
			 const char *network_id, struct st_guest_net *out)
{
	return sq_get_query(st_to_sq(st), sq_row_guest_net, out,
			    "SELECT " GN_COLS " FROM guest_nets"
			    " WHERE guest = ? AND network_id = ?",
			    "ss", guest, network_id);
}

int sqlite_guest_net_delete(struct store *st, const char *guest,
			    const char *network_id)
{
	return sq_delete_query(st_to_sq(st),
			       "UPDATE networks SET gen = gen + 1 WHERE id = ?2"
			       " AND EXISTS (SELECT 1 FROM guest_nets"
			       " WHERE guest = ?1 AND network_id = ?2)",
			       "DELETE FROM guest_nets"
			       " WHERE guest = ?1 AND network_id = ?2",
			       "ss", guest, network_id);
}

int sqlite_guest_net_list(struct store *st, const char *network_id,
			  struct st_guest_net **out, size_t *n)
{
	return sq_list_query(st_to_sq(st), sq_row_guest_net, sizeof(**out),
			     (void **)out, n,
			     network_id ? "SELECT " GN_COLS " FROM guest_nets"
					  " WHERE network_id = ?1"
					  " ORDER BY guest" :
					  "SELECT " GN_COLS " FROM guest_nets"
					  " ORDER BY guest, network_id",
			     "s", network_id, NULL);
}

/* The view of one network (store.h): three indexed queries, one read
 * transaction. */

static int row_member(sqlite3_stmt *stmt, void *out)
{
	struct st_view_member *m = out;
	const char *t;

	snprintf(m->guest, sizeof(m->guest), "%s",
		 (const char *)sqlite3_column_text(stmt, 0));
	snprintf(m->public_key, sizeof(m->public_key), "%s",
		 (const char *)sqlite3_column_text(stmt, 1));
	m->listen_port = (uint16_t)sqlite3_column_int(stmt, 2);
	t = (const char *)sqlite3_column_text(stmt, 3);
	snprintf(m->host_id, sizeof(m->host_id), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(stmt, 4);
	if (t && *t && ip_parse(t, &m->underlay))
		return -EIO;
	m->state = sqlite3_column_int(stmt, 5);
	m->mtu = (uint16_t)sqlite3_column_int(stmt, 6);
	return 0;
}

static int row_view_ep(sqlite3_stmt *stmt, void *out)
{
	struct st_view_ep *e = out;
	const char *t;

	snprintf(e->container_id, sizeof(e->container_id), "%s",
		 (const char *)sqlite3_column_text(stmt, 0));
	t = (const char *)sqlite3_column_text(stmt, 1);
	snprintf(e->name, sizeof(e->name), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(stmt, 2);
	snprintf(e->guest, sizeof(e->guest), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(stmt, 3);
	if (t && *t && ip_parse(t, &e->ip4))
		return -EIO;
	t = (const char *)sqlite3_column_text(stmt, 4);
	if (t && *t && ip_parse(t, &e->ip6))
		return -EIO;
	t = (const char *)sqlite3_column_text(stmt, 5);
	snprintf(e->aliases, sizeof(e->aliases), "%s", t ? t : "[]");
	e->seq = sqlite3_column_int64(stmt, 6);
	return 0;
}

int sqlite_network_view(struct store *st, const char *network_id,
			struct st_net_view *out)
{
	struct store_sqlite *s = st_to_sq(st);
	sqlite3_stmt *stmt;
	int err, n;

	err = sq_tx_begin(s, false);
	if (err)
		return err;
	err = sq_prepare(s, &stmt, "SELECT gen FROM networks WHERE id = ?", "s",
			 network_id);
	if (err)
		goto out;
	n = sqlite3_step(stmt);
	if (n == SQLITE_ROW)
		out->gen = (uint64_t)sqlite3_column_int64(stmt, 0);
	else
		err = n == SQLITE_DONE ? -ENOENT : sq_err(s, n, "view");
	sq_finish(s, stmt);
	if (err)
		goto out;
	err = sq_prepare(s, &stmt,
			 "SELECT gn.guest, gn.public_key, gn.listen_port,"
			 " g.host_id, g.underlay, COALESCE(g.state, 0), gn.mtu"
			 " FROM guest_nets gn LEFT JOIN guests g"
			 " ON g.name = gn.guest WHERE gn.network_id = ?"
			 " ORDER BY gn.guest",
			 "s", network_id);
	if (!err)
		err = sq_all(s, stmt, row_member, sizeof(*out->members),
			     (void **)&out->members, &out->n_members);
	if (err)
		goto out;
	err = sq_prepare(s, &stmt,
			 "SELECT e.container_id, c.name, c.guest, e.ip4, e.ip6,"
			 " e.aliases, e.seq FROM endpoints e LEFT JOIN"
			 " containers c ON c.id = e.container_id"
			 " WHERE e.network_id = ? ORDER BY e.rowid",
			 "s", network_id);
	if (!err)
		err = sq_all(s, stmt, row_view_ep, sizeof(*out->eps),
			     (void **)&out->eps, &out->n_eps);
out:
	return sq_tx_end(s, err);
}
