/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control plane's generation logic as pure functions over in-memory
 * state (docs/control-plane.md): a network's snapshot (peers and DNS records
 * at one generation), the delta between two snapshots, a bounded change log
 * of recent deltas, what one guest must be sent (nothing, one UpdateNetwork
 * covering acked..current, or one SyncNetwork) and how its answer moves its
 * acknowledged generation. No sockets, no store, no locks: the callers in
 * host/cplane*.c hold theirs.
 */
#ifndef WGNET_NETSTATE_H
#define WGNET_NETSTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define NS_LOG_MAX 64 /* deltas kept per network */

/* What guests on one network hold at generation gen. Peers carry the
 * name of their guest in "guest" (stripped before sending). */
struct ns_snap {
	uint64_t gen;
	json_t *peers; /* {public_key: {"public_key","endpoint","allowed_ips","guest"}} */
	json_t *dns; /* {"name address": {"name","address"}} */
	json_t *members; /* {guest: public_key}: every interface on the network */
	json_t *ctrs; /* {container_id: guest}: every endpoint's container */
	unsigned int mtu; /* the option, or the smallest guest MTU; 0 unknown */
};

/* From generation from to generation to. */
struct ns_delta {
	uint64_t from, to;
	json_t *peers_set; /* {public_key: peer} upserts of whole peers */
	json_t *peers_remove; /* {public_key: guest} */
	json_t *dns_add; /* {"name address": rec} */
	json_t *dns_remove; /* {"name address": rec} */
	unsigned int mtu; /* the network's MTU at generation to */
};

/* A ring of the most recent deltas, contiguous: e[i].to == e[i+1].from. */
struct ns_log {
	struct ns_delta e[NS_LOG_MAX];
	size_t start, n;
};

/* One guest's acknowledged generation of one network. valid = false: not
 * known (never synced, answered ESTALE, restarted): a SyncNetwork is due. */
struct ns_ack {
	uint64_t gen;
	bool valid;
};

enum ns_plan { NS_NONE = 0, NS_UPDATE, NS_SYNC };

int ns_snap_build(const struct st_net_view *v, struct ns_snap *out);
void ns_snap_free(struct ns_snap *s);
/* b - a (a may be NULL or empty: everything in b is new); out->from =
 * a's gen (0 without a), out->to = b->gen. */
int ns_diff(const struct ns_snap *a, const struct ns_snap *b,
	    struct ns_delta *out);
bool ns_delta_empty(const struct ns_delta *d);
void ns_delta_free(struct ns_delta *d);
/* One endpoint e added to (add) or removed from the network by the change
 * that made generation gen, patched into s in O(the endpoint): s is then
 * what ns_snap_build would make of the store, and *d what ns_diff would
 * give. -EAGAIN: not a change a patch can make (s not at gen - 1, a store
 * without generations, the guest's first or last address on the network,
 * its guest not live); the caller rebuilds from the store. */
int ns_snap_patch_ep(struct ns_snap *s, const struct st_view_ep *e, bool add,
		     uint64_t gen, struct ns_delta *d);

/* Append d (its contents move into the log); the oldest falls off when
 * full. A delta that does not continue the last one empties the log. */
void ns_log_push(struct ns_log *l, struct ns_delta *d);
void ns_log_clear(struct ns_log *l);
/* Does the log reach from generation from to generation to? */
bool ns_log_covers(const struct ns_log *l, uint64_t from, uint64_t to);
/* All deltas from..to folded into one: -ERANGE if the log does not reach. */
int ns_log_compose(const struct ns_log *l, uint64_t from, uint64_t to,
		   struct ns_delta *out);

/* What the guest needs for a network at generation cur. */
enum ns_plan ns_plan(const struct ns_log *l, uint64_t cur,
		     const struct ns_ack *a);
/* The guest answered the UpdateNetwork (sync false) or SyncNetwork (sync
 * true) that carried generation sent: rc 0, -ESTALE with the guest's
 * generation in reply_gen, or another error (nothing learnt). */
void ns_ack_reply(struct ns_ack *a, uint64_t sent, bool sync, int rc,
		  uint64_t reply_gen);
/* Hello's "nets" after an agent (re)start or a host restart: what it holds. */
void ns_ack_hello(struct ns_ack *a, json_t *nets, const char *network_id);

/* Request arguments for guest (its own interface is never its peer). */
json_t *ns_update_args(const struct ns_delta *d, const char *network_id,
		       const char *guest);
json_t *ns_sync_args(const struct ns_snap *s, const char *network_id,
		     const char *guest);
/* Guests without generations: UpdatePeers' full peer list. */
json_t *ns_peer_list(const struct ns_snap *s, const char *guest);
/* Guests without generations: add the network's records to recs if the
 * container has an endpoint on it. */
void ns_dns_for(const struct ns_snap *s, const char *container_id,
		json_t *recs);

#endif
