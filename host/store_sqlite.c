// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store: one file in WAL mode, one connection per process shared
 * by its threads (SQLITE_OPEN_FULLMUTEX plus our own mutex so an operation's
 * statements never interleave with another thread's), and every operation
 * one transaction. Writers start with BEGIN IMMEDIATE: the write lock is
 * taken before anything is read, so two processes allocating addresses from
 * the same network are serialised by SQLite and the second one reads what
 * the first committed. The UNIQUE indexes on (network, address) are the last
 * line of defence. The WAL is checkpointed by a thread of its own
 * (store_sqlite_ckpt.c), not inside a commit. See docs/state.md.
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
	" created INTEGER NOT NULL,"
	" gen INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE guests ("
	" name TEXT PRIMARY KEY,"
	" control TEXT NOT NULL DEFAULT '',"
	" host_id TEXT NOT NULL DEFAULT '',"
	" underlay TEXT,"
	" backend TEXT NOT NULL DEFAULT '',"
	" state INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" underlay_plen INTEGER NOT NULL DEFAULT 0);"
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
	" mtu INTEGER NOT NULL DEFAULT 0,"
	" key_created INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (guest, network_id));"
	"CREATE INDEX guest_nets_network ON guest_nets (network_id);"
	"CREATE INDEX containers_guest ON containers (guest);";

/* Version 2 → 3: the network's generation (docs/control-plane.md) and the
 * index on a container's guest. */
static const char migrate_v3_sql[] =
	"ALTER TABLE networks ADD COLUMN gen INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX IF NOT EXISTS containers_guest ON containers (guest);"
	"UPDATE schema_version SET version = 3;";

/* Version 3 → 4: when each guest's key was created (the maximum key age,
 * docs/operations.md). Existing keys get 0, unknown: older than any
 * maximum, so they rotate first once one is set. */
static const char migrate_v4_sql[] =
	"ALTER TABLE guest_nets ADD COLUMN"
	" key_created INTEGER NOT NULL DEFAULT 0;"
	"UPDATE schema_version SET version = 4;";

/* 4 → 5: guests.underlay_plen (the guest's underlay network). Rows from
 * before it count as the address alone, as they did. */
static const char migrate_v5_sql[] =
	"ALTER TABLE guests ADD COLUMN"
	" underlay_plen INTEGER NOT NULL DEFAULT 0;"
	"UPDATE guests SET underlay_plen ="
	" CASE WHEN underlay LIKE '%:%' THEN 128"
	" WHEN underlay IS NOT NULL AND underlay != '' THEN 32 ELSE 0 END;"
	"UPDATE schema_version SET version = 5;";

bool sq_str_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

/* SQLite result → -errno. -EAGAIN means "busy, try again". */
int sq_err(struct store_sqlite *s, int rc, const char *what)
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
 * Prepared statements are kept (SQLITE_PREPARE_PERSISTENT) in a small
 * open-addressing table keyed by their SQL text and reset after use; a
 * statement still running (the same SQL nested) gets a fresh one that is
 * finalized after use.
 */
static size_t sq_hash(const char *sql)
{
	size_t h = 5381;

	while (*sql)
		h = h * 33 + (unsigned char)*sql++;
	return h;
}

static sqlite3_stmt *sq_cached(struct store_sqlite *s, const char *sql)
{
	size_t i = sq_hash(sql) % SQ_CACHE_SLOTS;

	for (size_t k = 0; k < SQ_CACHE_SLOTS; k++) {
		struct sq_cache_ent *e = &s->cache[(i + k) % SQ_CACHE_SLOTS];

		if (!e->sql)
			return NULL;
		if (!strcmp(e->sql, sql))
			return sqlite3_stmt_busy(e->stmt) || e->in_use ?
				       NULL :
				       (e->in_use = true, e->stmt);
	}
	return NULL;
}

static void sq_cache_put(struct store_sqlite *s, const char *sql,
			 sqlite3_stmt *stmt)
{
	size_t i = sq_hash(sql) % SQ_CACHE_SLOTS;

	for (size_t k = 0; k < SQ_CACHE_SLOTS; k++) {
		struct sq_cache_ent *e = &s->cache[(i + k) % SQ_CACHE_SLOTS];

		if (e->sql && !strcmp(e->sql, sql))
			return; /* a nested twin: finalized after use */
		if (!e->sql && k < SQ_CACHE_SLOTS / 2) {
			e->sql = strdup(sql);
			if (!e->sql)
				return;
			e->stmt = stmt;
			e->in_use = true;
			return;
		}
	}
}

/* Done with a statement: reset a cached one, finalize any other. */
void sq_finish(struct store_sqlite *s, sqlite3_stmt *stmt)
{
	const char *sql = sqlite3_sql(stmt);
	size_t i = sql ? sq_hash(sql) % SQ_CACHE_SLOTS : 0;

	for (size_t k = 0; sql && k < SQ_CACHE_SLOTS; k++) {
		struct sq_cache_ent *e = &s->cache[(i + k) % SQ_CACHE_SLOTS];

		if (!e->sql)
			break;
		if (e->stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			e->in_use = false;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

static void sq_cache_free(struct store_sqlite *s)
{
	for (size_t k = 0; k < SQ_CACHE_SLOTS; k++) {
		sqlite3_finalize(s->cache[k].stmt);
		free(s->cache[k].sql);
		s->cache[k].sql = NULL;
		s->cache[k].stmt = NULL;
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

	stmt = sq_cached(s, sql);
	if (!stmt) {
		rc = sqlite3_prepare_v3(s->db, sql, -1,
					SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK)
			return sq_err(s, rc, "prepare");
		sq_cache_put(s, sql, stmt);
	}
	for (i = 1; fmt && *fmt; fmt++, i++) {
		/* A query variant that does not use every argument. */
		if (i > sqlite3_bind_parameter_count(stmt)) {
			if (*fmt == 'i')
				(void)va_arg(ap, int);
			else if (*fmt == 'I')
				(void)va_arg(ap, int64_t);
			else
				(void)va_arg(ap, const void *);
			continue;
		}
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
			sq_finish(s, stmt);
			return sq_err(s, rc, "bind");
		}
	}
	*out = stmt;
	return 0;
}

int sq_prepare(struct store_sqlite *s, sqlite3_stmt **out, const char *sql,
	       const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = sq_vprepare(s, out, sql, fmt, ap);
	va_end(ap);
	return err;
}

/* Run a statement that returns no rows; *changes = rows touched. */
int sq_run(struct store_sqlite *s, int *changes, const char *sql,
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
	sq_finish(s, stmt);
	return err;
}

int sq_bump(struct store_sqlite *s, const char *network_id)
{
	return sq_run(s, NULL, "UPDATE networks SET gen = gen + 1 WHERE id = ?",
		      "s", network_id);
}

int sq_bump_guest(struct store_sqlite *s, const char *guest)
{
	return sq_run(s, NULL,
		      "UPDATE networks SET gen = gen + 1 WHERE id IN"
		      " (SELECT network_id FROM guest_nets WHERE guest = ?)",
		      "s", guest);
}

int sq_bump_container(struct store_sqlite *s, const char *container_id)
{
	return sq_run(s, NULL,
		      "UPDATE networks SET gen = gen + 1 WHERE id IN"
		      " (SELECT network_id FROM endpoints"
		      " WHERE container_id = ?)",
		      "s", container_id);
}

/* Read the first row of stmt through fn; returns how many rows there were
 * (0, 1, or 2 meaning "more than one") or -errno. Finalizes stmt. */
int sq_one(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn, void *out)
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
	sq_finish(s, stmt);
	return err ? err : n;
}

/* Read every row of stmt through fn into a malloc'd array of elem-sized
 * items. Finalizes stmt. */
int sq_all(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn, size_t elem,
	   void **out, size_t *n_out)
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
	sq_finish(s, stmt);
	if (err) {
		free(arr);
		return err;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/* Locks the store and opens a transaction; sq_tx_end() closes both. */
int sq_tx_begin(struct store_sqlite *s, bool write)
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

int sq_tx_end(struct store_sqlite *s, int err)
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

/* Open and close. */

static void sqlite_close(struct store *st)
{
	struct store_sqlite *s = st_to_sq(st);

	if (!s)
		return;
	sq_ckpt_stop(s);
	sq_cache_free(s);
	sqlite3_close_v2(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
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
	.container_list_guest = sqlite_container_list_guest,
	.container_delete = sqlite_container_delete,
	.container_set_ports = sqlite_container_set_ports,
	.endpoint_set_aliases = sqlite_endpoint_set_aliases,
	.endpoint_create = sqlite_endpoint_create,
	.endpoint_delete = sqlite_endpoint_delete,
	.endpoint_get = sqlite_endpoint_get,
	.endpoint_list = sqlite_endpoint_list,
	.guest_net_put = sqlite_guest_net_put,
	.guest_net_get = sqlite_guest_net_get,
	.guest_net_delete = sqlite_guest_net_delete,
	.guest_net_list = sqlite_guest_net_list,
	.network_view = sqlite_network_view,
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

	err = sq_tx_begin(s, true);
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
	sq_finish(s, stmt);
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
	sq_finish(s, stmt);
	if (version == 1) {
		/* 1 → 2: guest_nets.mtu (what the guest's underlay carries). */
		rc = sqlite3_exec(s->db,
				  "ALTER TABLE guest_nets ADD COLUMN"
				  " mtu INTEGER NOT NULL DEFAULT 0;"
				  "UPDATE schema_version SET version = 2;",
				  NULL, NULL, NULL);
		err = sq_err(s, rc, "migrate schema 1 to 2");
		if (err)
			goto out;
		version = 2;
	}
	if (version == 2) {
		rc = sqlite3_exec(s->db, migrate_v3_sql, NULL, NULL, NULL);
		err = sq_err(s, rc, "migrate schema 2 to 3");
		if (err)
			goto out;
		log_info("store %s: schema migrated to version 3", s->path);
		version = 3;
	}
	if (version == 3) {
		rc = sqlite3_exec(s->db, migrate_v4_sql, NULL, NULL, NULL);
		err = sq_err(s, rc, "migrate schema 3 to 4");
		if (err)
			goto out;
		log_info("store %s: schema migrated to version 4", s->path);
		version = 4;
	}
	if (version == 4) {
		rc = sqlite3_exec(s->db, migrate_v5_sql, NULL, NULL, NULL);
		err = sq_err(s, rc, "migrate schema 4 to 5");
		if (err)
			goto out;
		log_info("store %s: schema migrated to version 5", s->path);
		version = 5;
	}
	if (version != SCHEMA_VERSION) {
		/* Migrations from older versions go above. */
		log_err("store %s: schema version %d, this wgnet knows %d",
			s->path, version, SCHEMA_VERSION);
		err = -EPROTO;
	}
out:
	return sq_tx_end(s, err);
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
	err = sq_ckpt_start(s);
	if (err)
		log_warn(
			"store %s: no checkpoint thread (%s): SQLite checkpoints in the commits",
			path, strerror(-err));
	return &s->st;
fail:
	if (s)
		sqlite_close(&s->st);
	errno = -err;
	return NULL;
}
