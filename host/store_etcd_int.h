/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal to the etcd store (host/store_etcd*.c): the store's state and the
 * helpers its parts share. Not a public header.
 */
#ifndef WGNET_HOST_STORE_ETCD_INT_H
#define WGNET_HOST_STORE_ETCD_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "store.h"

#define MAX_MEMBERS 16
#define CONNECT_TIMEOUT_MS 1000
#define REQUEST_TIMEOUT_MS 5000
#define ALLOC_RETRIES 64 /* endpoint_create losing the address race */
#define TXN_RETRIES 16 /* other compare-and-swap loops */
#define MAX_RESPONSE (64u << 20)

#define ETCD_IDLE_HANDLES 8

struct etcd_store {
	struct store st; /* first: to_etcd() relies on it */
	char uri[1024];
	char *urls[MAX_MEMBERS]; /* "http://h:p", or "unix:/path" for logs */
	char *socks[MAX_MEMBERS]; /* the member's unix socket, or NULL */
	size_t n_urls;
	char host_id[ST_NAME_LEN];
	int ttl;

	/* Idle libcurl handles: each keeps its connections, so requests
	 * reuse them instead of a TCP connect each (under mu). */
	CURL *idle[ETCD_IDLE_HANDLES];
	size_t n_idle;

	pthread_mutex_t mu; /* cur, lease, mine, down, idle */
	size_t cur; /* the member that answered last */
	int64_t lease;
	json_t *mine; /* leased key → value, to register again */
	bool down; /* "unreachable" logged */

	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
	pthread_t ka_th;
	bool ka_started;

	pthread_t w_th;
	bool w_started;
	atomic_bool w_stop;
	store_change_fn w_fn;
	void *w_arg;
	int64_t w_rev; /* last revision seen by the watch */
};

static inline struct etcd_store *to_etcd(struct store *st)
{
	return (struct etcd_store *)st;
}

/* A response body as it arrives (est_buf_write). */
struct buf {
	char *p;
	size_t n;
};

/* store_etcd.c: HTTP to the members with failover, reads, transactions and
 * the record of this host's leased keys. */
int est_post(struct etcd_store *e, const char *path, json_t *body,
	     json_t **resp);
int est_range(struct etcd_store *e, const char *key, bool prefix,
	      bool by_create, struct etcd_kv **kvs, size_t *n, int64_t *rev);
void est_handles_free(struct etcd_store *e);
int est_get1(struct etcd_store *e, const char *key, struct etcd_kv *kv);
int est_txn(struct etcd_store *e, const struct etcd_txn *t, bool *ok,
	    json_t **out);
void est_mine_note(struct etcd_store *e, const struct etcd_txn *t);
void est_mine_del(struct etcd_store *e, const char *key, bool prefix);
size_t est_buf_write(char *ptr, size_t sz, size_t nm, void *ud);
int est_curl_member(struct etcd_store *e, CURL *c, size_t m, const char *path);

/* store_etcd_lease.c: the lease, its keepalive thread and the watch. */
int est_my_lease(struct etcd_store *e, int64_t *lease);
int est_txn_leased(struct etcd_store *e, const struct etcd_txn *t,
		   int64_t lease, bool *ok, json_t **out);
int est_lease_acquire(struct etcd_store *e, bool reuse);
void *est_ka_main(void *arg);
int etcd_watch(struct store *st, store_change_fn fn, void *arg);

/* store_etcd_net.c: ids, name resolution, networks and guests. */
int est_resolve(const char *ref, const char *name0, const char *id0,
		size_t stride, size_t n, size_t *idx);
int est_new_id(char out[ST_ID_LEN]);
int est_guest_net_kvs(struct etcd_store *e, const char *network_id,
		      const char *guest, struct etcd_kv **out, size_t *n);
int etcd_network_create(struct store *st, const struct st_network_req *req,
			struct st_network *out);
int etcd_network_get(struct store *st, const char *ref, struct st_network *out);
int etcd_network_list(struct store *st, struct st_network **out, size_t *n);
int etcd_network_delete(struct store *st, const char *ref);
int etcd_guest_put(struct store *st, const struct st_guest *g);
int etcd_guest_get(struct store *st, const char *name, struct st_guest *out);
int etcd_guest_list(struct store *st, struct st_guest **out, size_t *n);
int etcd_guest_delete(struct store *st, const char *name);

/* store_etcd_ep.c: containers, endpoints and guest_nets. */
int etcd_container_add(struct store *st, const struct st_container *c);
int etcd_container_get(struct store *st, const char *ref,
		       struct st_container *out);
int etcd_container_list(struct store *st, struct st_container **out, size_t *n);
int etcd_container_delete(struct store *st, const char *ref);
int etcd_endpoint_set_aliases(struct store *st, const char *network_id,
			      const char *container_id, const char *aliases);
int etcd_container_set_ports(struct store *st, const char *id,
			     const char *ports);
int etcd_endpoint_create(struct store *st, struct st_endpoint *ep);
int etcd_endpoint_get(struct store *st, const char *network_id,
		      const char *container_id, struct st_endpoint *out);
int etcd_endpoint_delete(struct store *st, const char *network_id,
			 const char *container_id);
int etcd_endpoint_list(struct store *st, const char *network_id,
		       const char *container_id, struct st_endpoint **out,
		       size_t *n);
int etcd_guest_net_put(struct store *st, const struct st_guest_net *gn);
int etcd_guest_net_get(struct store *st, const char *guest,
		       const char *network_id, struct st_guest_net *out);
int etcd_guest_net_delete(struct store *st, const char *guest,
			  const char *network_id);
int etcd_guest_net_list(struct store *st, const char *network_id,
			struct st_guest_net **out, size_t *n);

#endif
