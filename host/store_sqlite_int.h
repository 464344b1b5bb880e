/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal to the SQLite store (host/store_sqlite*.c): the store's state,
 * column lists and the helpers its parts share. Not a public header.
 */
#ifndef WGNET_HOST_STORE_SQLITE_INT_H
#define WGNET_HOST_STORE_SQLITE_INT_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"

#define SCHEMA_VERSION 5
#define BUSY_TIMEOUT_MS 5000
#define BUSY_RETRIES 3 /* after the busy timeout itself */
#define ALLOC_RETRIES 8 /* endpoint_create on an address collision */

#define SQ_CACHE_SLOTS 256
/* WAL frames after which the checkpointer runs (SQLite's own default). */
#define SQ_CKPT_PAGES 1000
/* ... and after which the commit does it itself. */
#define SQ_CKPT_PAGES_MAX 8000
/* A checkpoint that left frames behind is retried after this pause. */
#define SQ_CKPT_RETRY_MS 100

struct sq_ckpt;

struct sq_cache_ent {
	char *sql;
	sqlite3_stmt *stmt;
	bool in_use;
};

struct store_sqlite {
	struct store st; /* first: st_to_sq() relies on it */
	sqlite3 *db;
	struct sq_cache_ent cache[SQ_CACHE_SLOTS];
	pthread_mutex_t lock;
	struct sq_ckpt *ckpt; /* NULL: SQLite checkpoints in the commits */
	char path[PATH_MAX];
};

#define NET_COLS                                                         \
	"id, name, driver, subnet4, range4, gw4, subnet6, range6, gw6, " \
	"internal, ipv6, labels, options, created, gen"
#define CT_COLS "id, COALESCE(name, ''), guest, netns, ports"
#define EP_COLS "id, network_id, container_id, ip4, ip6, mac, aliases, seq"
#define GUEST_COLS \
	"name, control, host_id, underlay, backend, state, last_seen, underlay_plen"
#define GN_COLS "guest, network_id, public_key, listen_port, mtu, key_created"

typedef int (*row_fn)(sqlite3_stmt *stmt, void *out);

static inline struct store_sqlite *st_to_sq(struct store *st)
{
	return (struct store_sqlite *)st;
}
/* store_sqlite_ckpt.c: WAL checkpoints in a thread of their own. */
struct sq_ckpt_stats {
	int runs; /* checkpoints the thread made */
	int log, done; /* WAL frames, and frames copied, at the last one */
	int pages; /* WAL frames after the last commit */
};
int sq_ckpt_start(struct store_sqlite *s);
void sq_ckpt_stop(struct store_sqlite *s);
/* What the thread did so far (all zero without it). */
void sq_ckpt_stats(struct store_sqlite *s, struct sq_ckpt_stats *out);
/* store_sqlite.c: statements, errors and transactions. */
int sq_tx_begin(struct store_sqlite *s, bool write);
int sq_tx_end(struct store_sqlite *s, int err);
bool sq_str_ok(const char *s, size_t size);
int sq_all(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn, size_t elem,
	   void **out, size_t *n_out);
int sq_err(struct store_sqlite *s, int rc, const char *what);
void sq_finish(struct store_sqlite *s, sqlite3_stmt *stmt);
/* gen = gen + 1 of the network (or every network with a row matching). */
int sq_bump(struct store_sqlite *s, const char *network_id);
int sq_bump_guest(struct store_sqlite *s, const char *guest);
int sq_bump_container(struct store_sqlite *s, const char *container_id);
int sq_one(struct store_sqlite *s, sqlite3_stmt *stmt, row_fn fn, void *out);
int sq_prepare(struct store_sqlite *s, sqlite3_stmt **out, const char *sql,
	       const char *fmt, ...);
int sq_run(struct store_sqlite *s, int *changes, const char *sql,
	   const char *fmt, ...);

/* store_sqlite_row.c: ids, row readers and shared lookups. */
int sq_delete_query(struct store_sqlite *s, const char *pre_sql,
		    const char *sql, const char *fmt, const char *a,
		    const char *b);
int sq_get_query(struct store_sqlite *s, row_fn fn, void *out, const char *sql,
		 const char *fmt, const char *a, const char *b);
int sq_list_query(struct store_sqlite *s, row_fn fn, size_t elem, void **out,
		  size_t *n, const char *sql, const char *fmt, const char *a,
		  const char *b);
int sq_new_id(char out[ST_ID_LEN]);
int sq_resolve(struct store_sqlite *s, const char *select, const char *ref,
	       row_fn fn, void *out);
int sq_row_container(sqlite3_stmt *stmt, void *out);
int sq_row_endpoint(sqlite3_stmt *stmt, void *out);
int sq_row_guest_net(sqlite3_stmt *stmt, void *out);
int sq_row_guest(sqlite3_stmt *stmt, void *out);
int sq_row_ip0(sqlite3_stmt *stmt, void *out);
int sq_row_network(sqlite3_stmt *stmt, void *out);
int sq_row_prefix0(sqlite3_stmt *stmt, void *out);
int sq_exists(struct store_sqlite *s, const char *sql, const char *fmt,
	      const char *a, const char *b);

/* store_sqlite_net.c: networks and guests. */
int sqlite_guest_delete(struct store *st, const char *name);
int sqlite_guest_get(struct store *st, const char *name, struct st_guest *out);
int sqlite_guest_list(struct store *st, struct st_guest **out, size_t *n);
int sqlite_guest_put(struct store *st, const struct st_guest *g);
int sqlite_network_create(struct store *st, const struct st_network_req *req,
			  struct st_network *out);
int sqlite_network_delete(struct store *st, const char *ref);
int sqlite_network_get(struct store *st, const char *ref,
		       struct st_network *out);
int sqlite_network_list(struct store *st, struct st_network **out, size_t *n);

/* store_sqlite_ep.c: containers, endpoints and guest_nets. */
int sqlite_container_add(struct store *st, const struct st_container *c);
int sqlite_container_delete(struct store *st, const char *ref);
int sqlite_endpoint_set_aliases(struct store *st, const char *network_id,
				 const char *container_id, const char *aliases);
int sqlite_container_set_ports(struct store *st, const char *id,
			       const char *ports);
int sqlite_container_get(struct store *st, const char *ref,
			 struct st_container *out);
int sqlite_container_list_guest(struct store *st, const char *guest,
				struct st_container **out, size_t *n);
int sqlite_container_list(struct store *st, struct st_container **out,
			  size_t *n);
int sqlite_endpoint_create(struct store *st, struct st_endpoint *ep);
int sqlite_endpoint_delete(struct store *st, const char *network_id,
			   const char *container_id);
int sqlite_endpoint_get(struct store *st, const char *network_id,
			const char *container_id, struct st_endpoint *out);
int sqlite_endpoint_list(struct store *st, const char *network_id,
			 const char *container_id, struct st_endpoint **out,
			 size_t *n);
int sqlite_guest_net_delete(struct store *st, const char *guest,
			    const char *network_id);
int sqlite_guest_net_get(struct store *st, const char *guest,
			 const char *network_id, struct st_guest_net *out);
int sqlite_guest_net_list(struct store *st, const char *network_id,
			  struct st_guest_net **out, size_t *n);
int sqlite_guest_net_put(struct store *st, const struct st_guest_net *gn);
int sqlite_network_view(struct store *st, const char *network_id,
			struct st_net_view *out);

#endif
