// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store: one file in WAL mode, one connection per process shared
 * by its threads (SQLITE_OPEN_FULLMUTEX plus our own mutex so an operation's
 * statements never interleave with another thread's), and every operation
 * one transaction. Writers start with BEGIN IMMEDIATE: the write lock is
 * taken before anything is read, so two processes allocating addresses from
 * the same network are serialised by SQLite and the second one reads what
 * the first committed. The UNIQUE indexes on (network, address) are the last
 * line of defence. See docs/state.md.
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

#include "wgnet/ipam.h"
#include "wgnet/log.h"
#include "wgnet/store.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000
#define BUSY_RETRIES 3 /* after the busy timeout itself */
#define ALLOC_RETRIES 8 /* endpoint_create on an address collision */

struct store_sqlite {
	struct store st; /* first: st_to_sq() relies on it */
	sqlite3 *db;
	pthread_mutex_t lock;
	char path[PATH_MAX];
};

static const char schema_sql[] =
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"CREATE TABLE networks ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" driver TEXT NOT NULL,"
	" subnet4 TEXT, range4 TEXT, gw4 TEXT,"
	" subnet6 TEXT, range6 TEXT, gw6 TEXT,"
	" internal INTEGER NOT NULL DEFAULT 0,"
	" ipv6 INTEGER NOT NULL DEFAULT 0,"
	" labels TEXT NOT NULL DEFAULT '{}',"
	" options TEXT NOT NULL DEFAULT '{}',"
	" created INTEGER NOT NULL);"
	"CREATE TABLE guests ("
	" name TEXT PRIMARY KEY,"
	" control TEXT NOT NULL DEFAULT '',"
	" host_id TEXT NOT NULL DEFAULT '',"
	" underlay TEXT,"
	" backend TEXT NOT NULL DEFAULT '',"
	" state INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE containers ("
	" id TEXT PRIMARY KEY,"
	" name TEXT UNIQUE," /* NULL when the runtime gave none */
	" guest TEXT NOT NULL DEFAULT '',"
	" netns TEXT NOT NULL DEFAULT '',"
	" ports TEXT NOT NULL DEFAULT '[]');"
	"CREATE TABLE endpoints ("
	" id TEXT PRIMARY KEY,"
	" network_id TEXT NOT NULL REFERENCES networks(id),"
	" container_id TEXT NOT NULL"
	"  REFERENCES containers(id) ON DELETE CASCADE,"
	" ip4 TEXT, ip6 TEXT,"
	" mac TEXT NOT NULL,"
	" aliases TEXT NOT NULL DEFAULT '[]',"
	" seq INTEGER NOT NULL,"
	" UNIQUE (network_id, container_id));"
	"CREATE UNIQUE INDEX endpoints_ip4 ON endpoints (network_id, ip4)"
	" WHERE ip4 IS NOT NULL;"
	"CREATE UNIQUE INDEX endpoints_ip6 ON endpoints (network_id, ip6)"
	" WHERE ip6 IS NOT NULL;"
	"CREATE INDEX endpoints_container ON endpoints (container_id);"
	"CREATE TABLE guest_nets ("
	" guest TEXT NOT NULL,"
	" network_id TEXT NOT NULL"
	"  REFERENCES networks(id) ON DELETE CASCADE,"
	" public_key TEXT NOT NULL,"
	" listen_port INTEGER NOT NULL,"
	" PRIMARY KEY (guest, network_id));"
	"CREATE INDEX guest_nets_network ON guest_nets (network_id);";

#define NET_COLS                                                         \
	"id, name, driver, subnet4, range4, gw4, subnet6, range6, gw6, " \
	"internal, ipv6, labels, options, created"
#define CT_COLS "id, COALESCE(name, ''), guest, netns, ports"
#define EP_COLS "id, network_id, container_id, ip4, ip6, mac, aliases, seq"
#define GUEST_COLS "name, control, host_id, underlay, backend, state, last_seen"
#define GN_COLS "guest, network_id, public_key, listen_port"

typedef int (*row_fn)(sqlite3_stmt *stmt, void *out);

static struct store_sqlite *st_to_sq(struct store *st)
{
	return (struct store_sqlite *)st;
}

static bool str_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

/* SQLite result → -errno. -EAGAIN means "busy, try again". */
static int sq_err(struct store_sqlite *s, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EAGAIN;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return -EEXIST;
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return -ENOENT;
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		log_err("store %s: %s: %s", s->path, what,
			sqlite3_errmsg(s->db));
		return -EIO;
	}
}

/*
 * Prepare sql and bind its parameters from fmt: 's' string, 'S' string
 * stored as NULL when empty, 'i' int, 'I' int64_t, 'a' struct ip_addr *
 * (NULL when family 0), 'p' struct ip_prefix * (likewise).
 */
static int sq_vprepare(struct store_sqlite *s, sqlite3_stmt **out,
		       const char *sql, const char *fmt, va_list ap)
{
	char buf[IPNET_STRLEN];
	sqlite3_stmt *stmt = NULL;
	int rc, i;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "prepare");
	for (i = 1; fmt && *fmt; fmt++, i++) {
		switch (*fmt) {
		case 's':
		case 'S': {
			const char *v = va_arg(ap, const char *);

			if (!v || (*fmt == 'S' && !*v))
				rc = sqlite3_bind_null(stmt, i);
			else
				rc = sqlite3_bind_text(stmt, i, v, -1,
						       SQLITE_TRANSIENT);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int(stmt, i, va_arg(ap, int));
			break;
		case 'I':
			rc = sqlite3_bind_int64(stmt, i, va_arg(ap, int64_t));
			break;
		case 'a': {
			const struct ip_addr *v =
				va_arg(ap, const struct ip_addr *);

			if (!v || !v->family)
				rc = sqlite3_bind_null(stmt, i);
			else
				rc = sqlite3_bind_text(stmt, i, ip_fmt(v, buf),
						       -1, SQLITE_TRANSIENT);
			break;
		}
		case 'p': {
			const struct ip_prefix *v =
				va_arg(ap, const struct ip_prefix *);

			if (!v || !v->addr.family)
				rc = sqlite3_bind_null(stmt, i);
			else
				rc = sqlite3_bind_text(stmt, i,
						       prefix_fmt(v, buf), -1,
						       SQLITE_TRANSIENT);
			break;
		}
		default:
			rc = SQLITE_MISUSE;
		}
		if (rc != SQLITE_OK) {
			sqlite3_finalize(stmt);
			return sq_err(s, rc, "bind");
		}
	}
	*out = stmt;
	return 0;
}

static int sq_prepare(struct store_sqlite *s, sqlite3_stmt **out,
		      const char *sql, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = sq_vprepare(s, out, sql, fmt, ap);
	va_end(ap);
	return err;
}

/* Run a statement that returns no rows; *changes = rows touched. */
static int sq_run(struct store_sqlite *s, int *changes, const char *sql,
		  const char *fmt, ...)
{
	sqlite3_stmt *stmt = NULL;
	va_list ap;
	int err, rc;

	va_start(ap, fmt);
	err = sq_vprepare(s, &stmt, sql, fmt, ap);
	va_end(ap);
	if (err)
		return err;
	do
		rc = sqlite3_step(stmt);
	while (rc == SQLITE_ROW);
	err = rc == SQLITE_DONE ? 0 : sq_err(s, rc, "step");
	if (!err && changes)
		*changes = sqlite3_changes(s->db);
	sqlite3_finalize(stmt);
	return err;
}

/* Read the first row of stmt through fn; returns how many rows there were
 * (0, 1, or 2 meaning "more than one") or -errno. Finalizes stmt. */
static int sq_one(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn,
		  void *out)
{
	int n = 0, rc = SQLITE_DONE, err = 0;

	while (n < 2 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!n && fn)
			err = fn(stmt, out);
		if (err)
			break;
		n++;
	}
	if (!err && n < 2 && rc != SQLITE_DONE)
		err = sq_err(s, rc, "step");
	sqlite3_finalize(stmt);
	return err ? err : n;
}

/* Read every row of stmt through fn into a malloc'd array of elem-sized
 * items. Finalizes stmt. */
static int sq_all(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn,
		  size_t elem, void **out, size_t *n_out)
{
	size_t n = 0, cap = 0;
	char *arr = NULL, *tmp;
	int rc, err = 0;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			tmp = realloc(arr, cap * elem);
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			arr = tmp;
		}
		memset(arr + n * elem, 0, elem);
		err = fn(stmt, arr + n * elem);
		if (err)
			goto out;
		n++;
	}
	if (rc != SQLITE_DONE)
		err = sq_err(s, rc, "step");
out:
	sqlite3_finalize(stmt);
	if (err) {
		free(arr);
		return err;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/* Locks the store and opens a transaction; tx_end() closes both. */
static int tx_begin(struct store_sqlite *s, bool write)
{
	int err = -EAGAIN, i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i <= BUSY_RETRIES && err == -EAGAIN; i++) {
		if (i)
			usleep(10000 * i);
		err = sq_run(s, NULL, write ? "BEGIN IMMEDIATE" : "BEGIN",
			     NULL);
	}
	if (err) {
		if (err == -EAGAIN) {
			log_err("store %s: database stays locked", s->path);
			err = -EIO;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return err;
}

static int tx_end(struct store_sqlite *s, int err)
{
	int i, cerr = -EAGAIN;

	if (!err) {
		/* A busy COMMIT leaves the transaction open: retry it. */
		for (i = 0; i <= BUSY_RETRIES && cerr == -EAGAIN; i++) {
			if (i)
				usleep(10000 * i);
			cerr = sq_run(s, NULL, "COMMIT", NULL);
		}
		if (cerr == -EAGAIN) {
			log_err("store %s: commit stays busy", s->path);
			cerr = -EIO;
		}
		err = cerr;
	}
	if (err && !sqlite3_get_autocommit(s->db))
		sq_run(s, NULL, "ROLLBACK", NULL);
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* 64 hex digits from the kernel's CSPRNG; like Docker, never an id whose
 * short form (12 characters) reads as a number. */
static int new_id(char out[ST_ID_LEN])
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

static int row_ip0(sqlite3_stmt *stmt, void *out)
{
	return col_ip(stmt, 0, out);
}

static int row_prefix0(sqlite3_stmt *stmt, void *out)
{
	return col_prefix(stmt, 0, out);
}

static int row_network(sqlite3_stmt *stmt, void *out)
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
	return 0;
}

static int row_container(sqlite3_stmt *stmt, void *out)
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

static int row_endpoint(sqlite3_stmt *stmt, void *out)
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

static int row_guest(sqlite3_stmt *stmt, void *out)
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
	return 0;
}

static int row_guest_net(sqlite3_stmt *stmt, void *out)
{
	struct st_guest_net *gn = out;

	memset(gn, 0, sizeof(*gn));
	col_str(stmt, 0, gn->guest, sizeof(gn->guest));
	col_str(stmt, 1, gn->network_id, sizeof(gn->network_id));
	col_str(stmt, 2, gn->public_key, sizeof(gn->public_key));
	gn->listen_port = (uint16_t)sqlite3_column_int(stmt, 3);
	return 0;
}

/* Exact name, exact id, then unique id prefix. */
static int resolve(struct store_sqlite *s, const char *select, const char *ref,
		   row_fn fn, void *out)
{
	static const char *const where[] = {
		"name = ?1",
		"id = ?1",
		"substr(id, 1, length(?1)) = ?1",
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
static int sq_exists(struct store_sqlite *s, const char *sql, const char *fmt,
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

/* Networks. */

static void sqlite_close(struct store *st)
{
	struct store_sqlite *s = st_to_sq(st);

	if (!s)
		return;
	sqlite3_close_v2(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

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

static int sqlite_network_create(struct store *st,
				 const struct st_network_req *req,
				 struct st_network *out)
{
	struct store_sqlite *s = st_to_sq(st);
	char b1[IPNET_STRLEN], b2[IPNET_STRLEN];
	struct ip_prefix *used = NULL;
	const char *why = NULL;
	struct st_network n;
	size_t n_used = 0, i;
	int err;

	if (!str_ok(req->name, sizeof(req->name)) || !req->name[0] ||
	    !str_ok(req->driver, sizeof(req->driver)) ||
	    !str_ok(req->labels, sizeof(req->labels)) ||
	    !str_ok(req->options, sizeof(req->options)))
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

	err = tx_begin(s, true);
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
		err = sq_all(s, stmt, row_prefix0, sizeof(*used),
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
	err = new_id(n.id);
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
	err = tx_end(s, err);
	if (!err)
		*out = n;
	return err;
}

static int sqlite_network_get(struct store *st, const char *ref,
			      struct st_network *out)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	err = tx_begin(s, false);
	if (err)
		return err;
	err = resolve(s, "SELECT " NET_COLS " FROM networks", ref, row_network,
		      out);
	return tx_end(s, err);
}

static int list_query(struct store_sqlite *s, row_fn fn, size_t elem,
		      void **out, size_t *n, const char *sql, const char *fmt,
		      const char *a, const char *b)
{
	sqlite3_stmt *stmt;
	int err;

	*out = NULL;
	*n = 0;
	err = tx_begin(s, false);
	if (err)
		return err;
	err = sq_prepare(s, &stmt, sql, fmt, a, b);
	if (!err)
		err = sq_all(s, stmt, fn, elem, out, n);
	return tx_end(s, err);
}

static int sqlite_network_list(struct store *st, struct st_network **out,
			       size_t *n)
{
	return list_query(st_to_sq(st), row_network, sizeof(**out),
			  (void **)out, n,
			  "SELECT " NET_COLS " FROM networks ORDER BY rowid",
			  NULL, NULL, NULL);
}

static int sqlite_network_delete(struct store *st, const char *ref)
{
	struct store_sqlite *s = st_to_sq(st);
	struct st_network n;
	int err;

	err = tx_begin(s, true);
	if (err)
		return err;
	err = resolve(s, "SELECT " NET_COLS " FROM networks", ref, row_network,
		      &n);
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
	return tx_end(s, err);
}

/* Guests. */

static int sqlite_guest_put(struct store *st, const struct st_guest *g)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	if (!str_ok(g->name, sizeof(g->name)) || !g->name[0] ||
	    !str_ok(g->control, sizeof(g->control)) ||
	    !str_ok(g->host_id, sizeof(g->host_id)) ||
	    !str_ok(g->backend, sizeof(g->backend)))
		return -EINVAL;
	err = tx_begin(s, true);
	if (err)
		return err;
	err = sq_run(s, NULL,
		     "INSERT INTO guests (" GUEST_COLS ")"
		     " VALUES (?, ?, ?, ?, ?, ?, ?)"
		     " ON CONFLICT (name) DO UPDATE SET"
		     " control = excluded.control, host_id = excluded.host_id,"
		     " underlay = excluded.underlay,"
		     " backend = excluded.backend, state = excluded.state,"
		     " last_seen = excluded.last_seen",
		     "sssasiI", g->name, g->control, g->host_id, &g->underlay,
		     g->backend, g->state, g->last_seen);
	return tx_end(s, err);
}

static int get_query(struct store_sqlite *s, row_fn fn, void *out,
		     const char *sql, const char *fmt, const char *a,
		     const char *b)
{
	sqlite3_stmt *stmt;
	int err;

	err = tx_begin(s, false);
	if (err)
		return err;
	err = sq_prepare(s, &stmt, sql, fmt, a, b);
	if (!err) {
		err = sq_one(s, stmt, fn, out);
		if (err >= 0)
			err = err ? 0 : -ENOENT;
	}
	return tx_end(s, err);
}

static int sqlite_guest_get(struct store *st, const char *name,
			    struct st_guest *out)
{
	return get_query(st_to_sq(st), row_guest, out,
			 "SELECT " GUEST_COLS " FROM guests WHERE name = ?",
			 "s", name, NULL);
}

static int sqlite_guest_list(struct store *st, struct st_guest **out, size_t *n)
{
	return list_query(st_to_sq(st), row_guest, sizeof(**out), (void **)out,
			  n, "SELECT " GUEST_COLS " FROM guests ORDER BY name",
			  NULL, NULL, NULL);
}

/* Deletes a row (or rows) in one transaction; -ENOENT if none matched. */
static int delete_query(struct store_sqlite *s, const char *pre_sql,
			const char *sql, const char *fmt, const char *a,
			const char *b)
{
	int err, changes = 0;

	err = tx_begin(s, true);
	if (err)
		return err;
	if (pre_sql)
		err = sq_run(s, NULL, pre_sql, fmt, a, b);
	if (!err)
		err = sq_run(s, &changes, sql, fmt, a, b);
	if (!err && !changes)
		err = -ENOENT;
	return tx_end(s, err);
}

static int sqlite_guest_delete(struct store *st, const char *name)
{
	/* Its WireGuard interfaces go with it. */
	return delete_query(st_to_sq(st),
			    "DELETE FROM guest_nets WHERE guest = ?",
			    "DELETE FROM guests WHERE name = ?", "s", name,
			    NULL);
}

/* Containers. */

static int sqlite_container_add(struct store *st, const struct st_container *c)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	if (!str_ok(c->id, sizeof(c->id)) || !c->id[0] ||
	    !str_ok(c->name, sizeof(c->name)) ||
	    !str_ok(c->guest, sizeof(c->guest)) ||
	    !str_ok(c->netns, sizeof(c->netns)) ||
	    !str_ok(c->ports, sizeof(c->ports)))
		return -EINVAL;
	err = tx_begin(s, true);
	if (err)
		return err;
	err = sq_run(s, NULL,
		     "INSERT INTO containers (id, name, guest, netns, ports)"
		     " VALUES (?, ?, ?, ?, ?)",
		     "sSsss", c->id, c->name, c->guest, c->netns,
		     c->ports[0] ? c->ports : "[]");
	if (err == -EEXIST)
		log_info("container %s (%s) already exists", c->name, c->id);
	return tx_end(s, err);
}

static int sqlite_container_get(struct store *st, const char *ref,
				struct st_container *out)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	err = tx_begin(s, false);
	if (err)
		return err;
	err = resolve(s, "SELECT " CT_COLS " FROM containers", ref,
		      row_container, out);
	return tx_end(s, err);
}

static int sqlite_container_list(struct store *st, struct st_container **out,
				 size_t *n)
{
	return list_query(st_to_sq(st), row_container, sizeof(**out),
			  (void **)out, n,
			  "SELECT " CT_COLS " FROM containers ORDER BY rowid",
			  NULL, NULL, NULL);
}

static int sqlite_container_delete(struct store *st, const char *ref)
{
	struct store_sqlite *s = st_to_sq(st);
	struct st_container c;
	int err;

	err = tx_begin(s, true);
	if (err)
		return err;
	err = resolve(s, "SELECT " CT_COLS " FROM containers", ref,
		      row_container, &c);
	if (!err)
		err = sq_run(s, NULL,
			     "DELETE FROM endpoints WHERE container_id = ?",
			     "s", c.id);
	if (!err)
		err = sq_run(s, NULL, "DELETE FROM containers WHERE id = ?",
			     "s", c.id);
	return tx_end(s, err);
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
	n = sq_one(s, stmt, row_network, out);
	return n < 0 ? n : n ? 0 : -ENOENT;
}

static int used_addrs(struct store_sqlite *s, const char *network_id, bool v6,
		      struct ip_addr **out, size_t *n)
{
	sqlite3_stmt *stmt;
	int err;

	err = sq_prepare(s, &stmt,
			 v6 ? "SELECT ip6 FROM endpoints WHERE network_id = ?"
			      " AND ip6 IS NOT NULL" :
			      "SELECT ip4 FROM endpoints WHERE network_id = ?"
			      " AND ip4 IS NOT NULL",
			 "s", network_id);
	if (err)
		return err;
	return sq_all(s, stmt, row_ip0, sizeof(**out), (void **)out, n);
}

/* Pick or check one family's address of ep on network n. */
static int ep_addr(struct store_sqlite *s, const struct st_network *n, bool v6,
		   const struct ip_addr *want, struct ip_addr *got)
{
	const struct ip_prefix *subnet = v6 ? &n->subnet6 : &n->subnet4;
	const struct ip_prefix *range = v6 ? &n->range6 : &n->range4;
	const struct ip_addr *gw = v6 ? &n->gw6 : &n->gw4;
	struct ip_addr *used = NULL;
	const char *why = NULL;
	size_t n_used = 0;
	int err;

	memset(got, 0, sizeof(*got));
	if (!subnet->addr.family)
		return 0; /* the caller refused a static address here */
	err = used_addrs(s, n->id, v6, &used, &n_used);
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
	err = ep_addr(s, &n, false, &ep->ip4, &e.ip4);
	if (!err)
		err = ep_addr(s, &n, true, &ep->ip6, &e.ip6);
	if (err)
		return err;
	if (!e.ip4.family && !e.ip6.family)
		return -EINVAL;
	err = new_id(e.id);
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
	sqlite3_finalize(stmt);
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
		*ep = e;
	return err;
}

static int sqlite_endpoint_create(struct store *st, struct st_endpoint *ep)
{
	struct store_sqlite *s = st_to_sq(st);
	const char *aliases;
	int err = -EAGAIN, i;

	if (!str_ok(ep->network_id, sizeof(ep->network_id)) ||
	    !str_ok(ep->container_id, sizeof(ep->container_id)) ||
	    !str_ok(ep->aliases, sizeof(ep->aliases)))
		return -EINVAL;
	aliases = ep->aliases[0] ? ep->aliases : "[]";
	for (i = 0; i < ALLOC_RETRIES && err == -EAGAIN; i++) {
		err = tx_begin(s, true);
		if (err)
			return err;
		err = tx_end(s, ep_create_tx(s, ep, aliases));
	}
	if (err == -EAGAIN) {
		log_err("store %s: endpoint allocation keeps colliding",
			s->path);
		err = -EIO;
	}
	return err;
}

static int sqlite_endpoint_delete(struct store *st, const char *network_id,
				  const char *container_id)
{
	return delete_query(st_to_sq(st), NULL,
			    "DELETE FROM endpoints WHERE network_id = ?"
			    " AND container_id = ?",
			    "ss", network_id, container_id);
}

static int sqlite_endpoint_get(struct store *st, const char *network_id,
			       const char *container_id,
			       struct st_endpoint *out)
{
	return get_query(st_to_sq(st), row_endpoint, out,
			 "SELECT " EP_COLS " FROM endpoints"
			 " WHERE network_id = ? AND container_id = ?",
			 "ss", network_id, container_id);
}

static int sqlite_endpoint_list(struct store *st, const char *network_id,
				const char *container_id,
				struct st_endpoint **out, size_t *n)
{
	return list_query(st_to_sq(st), row_endpoint, sizeof(**out),
			  (void **)out, n,
			  "SELECT " EP_COLS " FROM endpoints"
			  " WHERE (?1 IS NULL OR network_id = ?1)"
			  " AND (?2 IS NULL OR container_id = ?2)"
			  " ORDER BY rowid",
			  "ss", network_id, container_id);
}

/* Guests' WireGuard interfaces. */

static int sqlite_guest_net_put(struct store *st, const struct st_guest_net *gn)
{
	struct store_sqlite *s = st_to_sq(st);
	int err;

	if (!str_ok(gn->guest, sizeof(gn->guest)) || !gn->guest[0] ||
	    !str_ok(gn->network_id, sizeof(gn->network_id)) ||
	    !str_ok(gn->public_key, sizeof(gn->public_key)))
		return -EINVAL;
	err = tx_begin(s, true);
	if (err)
		return err;
	/* The foreign key turns an unknown network into -ENOENT. */
	err = sq_run(s, NULL,
		     "INSERT INTO guest_nets (" GN_COLS ") VALUES (?, ?, ?, ?)"
		     " ON CONFLICT (guest, network_id) DO UPDATE SET"
		     " public_key = excluded.public_key,"
		     " listen_port = excluded.listen_port",
		     "sssi", gn->guest, gn->network_id, gn->public_key,
		     (int)gn->listen_port);
	return tx_end(s, err);
}

static int sqlite_guest_net_get(struct store *st, const char *guest,
				const char *network_id,
				struct st_guest_net *out)
{
	return get_query(st_to_sq(st), row_guest_net, out,
			 "SELECT " GN_COLS " FROM guest_nets"
			 " WHERE guest = ? AND network_id = ?",
			 "ss", guest, network_id);
}

static int sqlite_guest_net_delete(struct store *st, const char *guest,
				   const char *network_id)
{
	return delete_query(st_to_sq(st), NULL,
			    "DELETE FROM guest_nets"
			    " WHERE guest = ? AND network_id = ?",
			    "ss", guest, network_id);
}

static int sqlite_guest_net_list(struct store *st, const char *network_id,
				 struct st_guest_net **out, size_t *n)
{
	return list_query(st_to_sq(st), row_guest_net, sizeof(**out),
			  (void **)out, n,
			  "SELECT " GN_COLS " FROM guest_nets"
			  " WHERE (?1 IS NULL OR network_id = ?1)"
			  " ORDER BY guest, network_id",
			  "s", network_id, NULL);
}

static const struct store_ops sqlite_ops = {
	.close = sqlite_close,
	.network_create = sqlite_network_create,
	.network_get = sqlite_network_get,
	.network_list = sqlite_network_list,
	.network_delete = sqlite_network_delete,
	.guest_put = sqlite_guest_put,
	.guest_get = sqlite_guest_get,
	.guest_list = sqlite_guest_list,
	.guest_delete = sqlite_guest_delete,
	.container_add = sqlite_container_add,
	.container_get = sqlite_container_get,
	.container_list = sqlite_container_list,
	.container_delete = sqlite_container_delete,
	.endpoint_create = sqlite_endpoint_create,
	.endpoint_delete = sqlite_endpoint_delete,
	.endpoint_get = sqlite_endpoint_get,
	.endpoint_list = sqlite_endpoint_list,
	.guest_net_put = sqlite_guest_net_put,
	.guest_net_get = sqlite_guest_net_get,
	.guest_net_delete = sqlite_guest_net_delete,
	.guest_net_list = sqlite_guest_net_list,
};

/* Opening. */

/* mkdir -p of path's parent directories, new ones 0700. */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int pragma_cb(void *arg, int ncol, char **vals, char **names)
{
	(void)names;
	if (ncol > 0 && vals[0])
		snprintf(arg, 16, "%s", vals[0]);
	return 0;
}

static int sq_setup(struct store_sqlite *s)
{
	char mode[16] = "";
	sqlite3_stmt *stmt;
	int rc, err, i, version;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* Switching to WAL needs a moment alone with the file. */
	for (i = 0; i <= BUSY_RETRIES; i++) {
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", pragma_cb,
				  mode, NULL);
		if ((rc & 0xff) != SQLITE_BUSY)
			break;
		usleep(10000 * (i + 1));
	}
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "journal_mode");
	if (strcmp(mode, "wal"))
		log_warn("store %s: journal mode is %s, not wal", s->path,
			 mode);
	rc = sqlite3_exec(
		s->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
		NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "pragma");

	err = tx_begin(s, true);
	if (err)
		return err;
	err = sq_prepare(s, &stmt,
			 "SELECT count(*) FROM sqlite_master"
			 " WHERE type = 'table' AND name = 'schema_version'",
			 NULL);
	if (err)
		goto out;
	rc = sqlite3_step(stmt);
	i = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (i < 0) {
		err = sq_err(s, rc, "schema");
		goto out;
	}
	if (!i) {
		rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL);
		err = sq_err(s, rc, "create schema");
		if (!err)
			err = sq_run(s, NULL,
				     "INSERT INTO schema_version VALUES (?)",
				     "i", SCHEMA_VERSION);
		goto out;
	}
	err = sq_prepare(s, &stmt, "SELECT MAX(version) FROM schema_version",
			 NULL);
	if (err)
		goto out;
	rc = sqlite3_step(stmt);
	version = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (version != SCHEMA_VERSION) {
		/* Migrations from older versions go here. */
		log_err("store %s: schema version %d, this wgnet knows %d",
			s->path, version, SCHEMA_VERSION);
		err = -EPROTO;
	}
out:
	return tx_end(s, err);
}

struct store *store_sqlite_open(const char *path)
{
	struct store_sqlite *s = NULL;
	int err, fd, rc;

	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	err = make_parents(path);
	if (err) {
		log_err("store %s: cannot create its directory: %s", path,
			strerror(-err));
		goto fail;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		log_err("store %s: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	s = calloc(1, sizeof(*s));
	if (!s) {
		err = -ENOMEM;
		goto fail;
	}
	s->st.ops = &sqlite_ops;
	snprintf(s->path, sizeof(s->path), "%s", path);
	pthread_mutex_init(&s->lock, NULL);
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		log_err("store %s: %s", path,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		err = -EIO;
		goto fail;
	}
	err = sq_setup(s);
	if (err)
		goto fail;
	return &s->st;
fail:
	if (s)
		sqlite_close(&s->st);
	errno = -err;
	return NULL;
}
