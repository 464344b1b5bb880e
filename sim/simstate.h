/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wgnet-simguest: the state of one simulated guest, kept in memory and
 * checked on every change. No network device is touched: a simulated guest
 * answers the real control protocol so that wgnet-host can be driven with
 * thousands of guests on one machine. Compact on purpose (1000 guests x 1000
 * peers must fit): peers and addresses live in small open-addressing tables.
 */
#ifndef WGNET_SIMSTATE_H
#define WGNET_SIMSTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgnet/ipnet.h"
#include "wgnet/wg.h"

/* Fixed-size keys -> uint32 values; linear probing with tombstones. */
struct sim_htab {
	size_t klen, cap, n, used; /* used: live + tombstones */
	uint8_t *keys;
	uint32_t *vals;
	uint8_t *state; /* 0 empty, 1 live, 2 tombstone */
};

void htab_init(struct sim_htab *h, size_t klen);
void htab_free(struct sim_htab *h);
/* Pointer to the value, or NULL. */
uint32_t *htab_get(const struct sim_htab *h, const void *key);
int htab_put(struct sim_htab *h, const void *key, uint32_t val);
bool htab_del(struct sim_htab *h, const void *key);

struct sim_peer {
	uint8_t key[WG_KEY_LEN];
	uint32_t n_addr;
	uint8_t (*addr)[16]; /* v4 as ::ffff:a.b.c.d */
	bool used;
};

struct sim_rec {
	uint8_t addr[16];
	bool used;
};

struct sim_net {
	char id[65];
	uint64_t gen;
	uint8_t pub[WG_KEY_LEN];
	struct ip_prefix subnet4, subnet6;
	int index;
	struct sim_peer *peers; /* vector, free slots reused */
	size_t n_peers, cap_peers;
	struct sim_htab by_key; /* public key -> peer slot */
	struct sim_htab owner; /* address -> peer slot */
	struct sim_rec *recs;
	size_t n_recs, cap_recs;
	struct sim_htab rec_by_id; /* digest(name, address) -> rec slot */
	struct sim_htab rec_addr; /* address -> number of records */
	struct sim_htab local; /* address -> 1: endpoints on this guest */
	size_t live_peers, live_recs;
};

enum sim_violation {
	SIM_V_DUP_ADDR, /* an allowed ip held by two peers */
	SIM_V_SELF, /* the guest itself among its peers */
	SIM_V_DNS, /* a record whose address no peer or endpoint has */
	SIM_V_GEN, /* a generation going backwards, or not above from_gen */
	SIM_V_UNKNOWN_NET, /* an endpoint or set for a network not added */
	SIM_V__MAX
};

/* Requests counted per op, to tell what a phase (a restart) sent. */
enum sim_op {
	SIM_OP_HELLO,
	SIM_OP_STATUS,
	SIM_OP_RECONCILE,
	SIM_OP_HUB, /* CreateHub, SetIsolation, PublishPorts, SetDNS */
	SIM_OP_OTHER,
	SIM_OP__MAX
};

struct sim_stats {
	uint64_t requests, bytes_in, bytes_out;
	uint64_t by_op[SIM_OP__MAX];
	uint64_t sync, update, update_peers, estale, errors;
	uint64_t peers_sent; /* peers received in full sets and deltas */
	uint64_t violations[SIM_V__MAX];
};

struct sim_guest {
	char name[64];
	char boot[33];
	char underlay[IPNET_STRLEN];
	bool hub;
	struct sim_net **nets;
	size_t n_nets;
	json_t *eps; /* "net/cid" -> {ip, ip6} */
	struct sim_stats st;
};

const char *sim_violation_name(int v);
void sim_guest_init(struct sim_guest *g, const char *name, unsigned int idx);
void sim_guest_free(struct sim_guest *g);
/* Apply one request; returns the reply (new reference). */
json_t *sim_handle(struct sim_guest *g, const char *op, json_t *args);
uint64_t sim_violations(const struct sim_stats *st);
json_t *sim_stats_json(const struct sim_stats *st);
void sim_stats_add(struct sim_stats *sum, const struct sim_stats *st);
struct sim_net *sim_net_find(struct sim_guest *g, const char *id);

#endif
