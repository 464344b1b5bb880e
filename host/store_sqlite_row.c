// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store, part 2: ids, row readers and the lookups shared by the
 * operations (resolve, exists, list, get, delete). See store_sqlite.c.
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

/* 64 hex digits from the kernel's CSPRNG; like Docker, never an id whose
 * short form (12 characters) reads as a number. */
int sq_new_id(char out[ST_ID_LEN])
{
	uint8_t b[32];
	int i, numeric;

	do {
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -errno ? -errno : -EIO;
		for (i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", b[i]);
		numeric = 1;
		for (i = 0; i < 12; i++)
			if (!strchr("0123456789e", out[i]))
				numeric = 0;
	} while (numeric);
	return 0;
}

/* A random unicast, locally administered MAC (for IPv6-only endpoints). */
/* Row readers. */

static void col_str(sqlite3_stmt *stmt, int i, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);

	snprintf(buf, size, "%s", t ? (const char *)t : "");
}

static int col_ip(sqlite3_stmt *stmt, int i, struct ip_addr *ip)
{
	const char *t = (const char *)sqlite3_column_text(stmt, i);

	memset(ip, 0, sizeof(*ip));
	if (!t || !*t)
		return 0;
	if (ip_parse(t, ip)) {
		log_err("store: bad address '%s' in the database", t);
		return -EIO;
	}
	return 0;
}

static int col_prefix(sqlite3_stmt *stmt, int i, struct ip_prefix *p)
{
	const char *t = (const char *)sqlite3_column_text(stmt, i);

	memset(p, 0, sizeof(*p));
	if (!t || !*t)
		return 0;
	if (prefix_parse(t, true, p)) {
		log_err("store: bad prefix '%s' in the database", t);
		return -EIO;
	}
	return 0;
}

int sq_row_ip0(sqlite3_stmt *stmt, void *out)
{
	return col_ip(stmt, 0, out);
}

int sq_row_prefix0(sqlite3_stmt *stmt, void *out)
{
	return col_prefix(stmt, 0, out);
}

int sq_row_network(sqlite3_stmt *stmt, void *out)
{
	struct st_network *n = out;

	memset(n, 0, sizeof(*n));
	col_str(stmt, 0, n->id, sizeof(n->id));
	col_str(stmt, 1, n->name, sizeof(n->name));
	col_str(stmt, 2, n->driver, sizeof(n->driver));
	if (col_prefix(stmt, 3, &n->subnet4) ||
	    col_prefix(stmt, 4, &n->range4) || col_ip(stmt, 5, &n->gw4) ||
	    col_prefix(stmt, 6, &n->subnet6) ||
	    col_prefix(stmt, 7, &n->range6) || col_ip(stmt, 8, &n->gw6))
		return -EIO;
	n->internal = sqlite3_column_int(stmt, 9);
	n->ipv6 = sqlite3_column_int(stmt, 10);
	col_str(stmt, 11, n->labels, sizeof(n->labels));
	col_str(stmt, 12, n->options, sizeof(n->options));
	n->created = sqlite3_column_int64(stmt, 13);
	n->gen = (uint64_t)sqlite3_column_int64(stmt, 14);
	return 0;
}

int sq_row_container(sqlite3_stmt *stmt, void *out)
{
	struct st_container *c = out;

	memset(c, 0, sizeof(*c));
	col_str(stmt, 0, c->id, sizeof(c->id));
	col_str(stmt, 1, c->name, sizeof(c->name));
	col_str(stmt, 2, c->guest, sizeof(c->guest));
	col_str(stmt, 3, c->netns, sizeof(c->netns));
	col_str(stmt, 4, c->ports, sizeof(c->ports));
	return 0;
}

int sq_row_endpoint(sqlite3_stmt *stmt, void *out)
{
	struct st_endpoint *ep = out;

	memset(ep, 0, sizeof(*ep));
	col_str(stmt, 0, ep->id, sizeof(ep->id));
	col_str(stmt, 1, ep->network_id, sizeof(ep->network_id));
	col_str(stmt, 2, ep->container_id, sizeof(ep->container_id));
	if (col_ip(stmt, 3, &ep->ip4) || col_ip(stmt, 4, &ep->ip6))
		return -EIO;
	col_str(stmt, 5, ep->mac, sizeof(ep->mac));
	col_str(stmt, 6, ep->aliases, sizeof(ep->aliases));
	ep->seq = sqlite3_column_int64(stmt, 7);
	return 0;
}

int sq_row_guest(sqlite3_stmt *stmt, void *out)
{
	struct st_guest *g = out;

	memset(g, 0, sizeof(*g));
	col_str(stmt, 0, g->name, sizeof(g->name));
	col_str(stmt, 1, g->control, sizeof(g->control));
	col_str(stmt, 2, g->host_id, sizeof(g->host_id));
	if (col_ip(stmt, 3, &g->underlay))
		return -EIO;
	col_str(stmt, 4, g->backend, sizeof(g->backend));
	g->state = sqlite3_column_int(stmt, 5);
	g->last_seen = sqlite3_column_int64(stmt, 6);
	g->underlay_plen = sqlite3_column_int(stmt, 7);
	if (g->underlay_plen < 0 ||
	    (g->underlay.family &&
	     g->underlay_plen > ip_max_plen(g->underlay.family)))
		return -EIO;
	return 0;
}

int sq_row_guest_net(sqlite3_stmt *stmt, void *out)
{
	struct st_guest_net *gn = out;

	memset(gn, 0, sizeof(*gn));
	col_str(stmt, 0, gn->guest, sizeof(gn->guest));
	col_str(stmt, 1, gn->network_id, sizeof(gn->network_id));
	col_str(stmt, 2, gn->public_key, sizeof(gn->public_key));
	gn->listen_port = (uint16_t)sqlite3_column_int(stmt, 3);
	gn->mtu = (uint16_t)sqlite3_column_int(stmt, 4);
	gn->key_created = sqlite3_column_int64(stmt, 5);
	return 0;
}

/* Exact name, exact id, then unique id prefix. */
int sq_resolve(struct store_sqlite *s, const char *select, const char *ref,
	       row_fn fn, void *out)
{
	static const char *const where[] = {
		"name = ?1",
		"id = ?1",
		/* A range, so that the primary key's index serves it. */
		"id >= ?1 AND id < ?1 || 'g'",
	};
	sqlite3_stmt *stmt;
	char sql[512];
	size_t k;
	int n;

	if (!ref || !*ref)
		return -ENOENT;
	for (k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
		snprintf(sql, sizeof(sql), "%s WHERE %s LIMIT 2", select,
			 where[k]);
		n = sq_prepare(s, &stmt, sql, "s", ref);
		if (n)
			return n;
		n = sq_one(s, stmt, fn, out);
		if (n < 0)
			return n;
		if (n == 1)
			return 0;
		if (n > 1)
			return -EINVAL;
	}
	return -ENOENT;
}

/* Does the query match at least one row? 1, 0 or -errno. */
int sq_exists(struct store_sqlite *s, const char *sql, const char *fmt,
	      const char *a, const char *b)
{
	sqlite3_stmt *stmt;
	int n;

	n = sq_prepare(s, &stmt, sql, fmt, a, b);
	if (n)
		return n;
	n = sq_one(s, stmt, NULL, NULL);
	return n < 0 ? n : n > 0;
}

int sq_list_query(struct store_sqlite *s, row_fn fn, size_t elem, void **out,
		  size_t *n, const char *sql, const char *fmt, const char *a,
		  const char *b)
{
	sqlite3_stmt *stmt;
	int err;

	*out = NULL;
	*n = 0;
	err = sq_tx_begin(s, false);
	if (err)
		return err;
	err = sq_prepare(s, &stmt, sql, fmt, a, b);
	if (!err)
		err = sq_all(s, stmt, fn, elem, out, n);
	return sq_tx_end(s, err);
}

int sq_get_query(struct store_sqlite *s, row_fn fn, void *out, const char *sql,
		 const char *fmt, const char *a, const char *b)
{
	sqlite3_stmt *stmt;
	int err;

	err = sq_tx_begin(s, false);
	if (err)
		return err;
	err = sq_prepare(s, &stmt, sql, fmt, a, b);
	if (!err) {
		err = sq_one(s, stmt, fn, out);
		if (err >= 0)
			err = err ? 0 : -ENOENT;
	}
	return sq_tx_end(s, err);
}

/* Deletes a row (or rows) in one transaction; -ENOENT if none matched. */
int sq_delete_query(struct store_sqlite *s, const char *pre_sql,
		    const char *sql, const char *fmt, const char *a,
		    const char *b)
{
	int err, changes = 0;

	err = sq_tx_begin(s, true);
	if (err)
		return err;
	if (pre_sql)
		err = sq_run(s, NULL, pre_sql, fmt, a, b);
	if (!err)
		err = sq_run(s, &changes, sql, fmt, a, b);
	if (!err && !changes)
		err = -ENOENT;
	return sq_tx_end(s, err);
}
