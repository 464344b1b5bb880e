/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The etcd v3 store's pure parts (host/etcd_codec.c): base64 as the JSON
 * gateway wants it, the key layout, request and transaction JSON, and the
 * JSON value of each stored object. No I/O: unit-tested on their own
 * (tests/unit/test_etcd.c). The store itself is host/store_etcd.c.
 */
#ifndef WGNET_ETCD_H
#define WGNET_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ETCD_PREFIX "/wgnet/v1/"
#define ETCD_KEY_LEN 512

/* store_etcd_open(), failing with ENOTCONN if must_reach and no member
 * answers (store_open() does that). */
struct store *store_etcd_open_ex(const char *uri, const char *host_id,
				 int lease_ttl_s, bool must_reach);

/* Standard base64 (with padding) of len bytes; malloc'd, NULL on ENOMEM. */
char *etcd_b64_encode(const void *in, size_t len);
/* Decode into a malloc'd buffer with a NUL after the *len bytes; NULL
 * (errno EINVAL) on bad input. */
char *etcd_b64_decode(const char *in, size_t *len);
/* The end of the range of every key starting with prefix: the prefix with
 * its last byte incremented (etcd's "range_end"). malloc'd. */
char *etcd_prefix_end(const char *prefix);

/* ETCD_PREFIX kind "/" a ["/" b] into buf; -ENAMETOOLONG, -EINVAL for a
 * part that is empty or holds a '/'. b may be NULL. A kind ending in '/'
 * with a NULL a gives the prefix of that kind ("…/endpoints/"). */
int etcd_key(char *buf, size_t len, const char *kind, const char *a,
	     const char *b);

/* {"key","range_end"?} with keys in base64; prefix = every key under it. */
json_t *etcd_range_req(const char *key, bool prefix);

/* A transaction under construction: compares, then the operations run on
 * success and on failure. */
struct etcd_txn {
	json_t *compare, *success, *failure;
};

void etcd_txn_init(struct etcd_txn *t);
void etcd_txn_clear(struct etcd_txn *t);
/* target "CREATE", "MOD" or "VERSION"; result "EQUAL", "GREATER", "LESS",
 * "NOT_EQUAL"; prefix: the compare holds for every key under key (an empty
 * range compares as one key with all revisions 0). */
int etcd_txn_cmp(struct etcd_txn *t, const char *key, bool prefix,
		 const char *target, const char *result, int64_t value);
/* On success (or on failure when on_fail): put (lease 0 = none), delete
 * (a key or a prefix), range. */
int etcd_txn_put(struct etcd_txn *t, const char *key, const char *val,
		 int64_t lease);
int etcd_txn_del(struct etcd_txn *t, const char *key, bool prefix);
int etcd_txn_get(struct etcd_txn *t, const char *key, bool prefix,
		 bool on_fail);
/* The request body {"compare":[],"success":[],"failure":[]} (new ref). */
json_t *etcd_txn_json(const struct etcd_txn *t);

/* An int64 field as the gateway prints it ("123", or a number); 0 when
 * absent (proto3 leaves zero values out). */
int64_t etcd_int(json_t *obj, const char *field);

/* One key-value of a range or watch response, decoded. */
struct etcd_kv {
	char *key, *val;
	size_t val_len;
	int64_t create_rev, mod_rev, version, lease;
};

/* Decode a "kvs" array (NULL = none); *out malloc'd (free with
 * etcd_kvs_free). */
int etcd_kvs_decode(json_t *kvs, struct etcd_kv **out, size_t *n);
int etcd_kv_decode(json_t *kv, struct etcd_kv *out);
void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);

/* The network id a watched key bears on (NULL none); "*" for a guest
 * whose peers may have changed on every network (underlay or death). */
const char *etcd_key_network(const char *key, const char *val,
			     const char *prev_val, char *buf, size_t len);

/* Stored values: JSON text (malloc'd) and back (-EIO if malformed). */
char *etcd_network_enc(const struct st_network *n);
int etcd_network_dec(const char *text, struct st_network *n);
char *etcd_guest_enc(const struct st_guest *g, int64_t lease);
int etcd_guest_dec(const char *text, struct st_guest *g);
char *etcd_container_enc(const struct st_container *c, int64_t seq);
int etcd_container_dec(const char *text, struct st_container *c,
		       int64_t *seq);
char *etcd_endpoint_enc(const struct st_endpoint *ep);
int etcd_endpoint_dec(const char *text, struct st_endpoint *ep);
char *etcd_guest_net_enc(const struct st_guest_net *gn);
int etcd_guest_net_dec(const char *text, struct st_guest_net *gn);

#endif
