/* SPDX-License-Identifier: GPL-2.0 */
/* wgnet-guest internals: the agent's state and its modules. */
#ifndef WGNET_GUEST_AGENT_H
#define WGNET_GUEST_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wgnet/dp.h"
#include "wgnet/ipnet.h"
#include "wgnet/proto.h"
#include "wgnet/wg.h"

#define AG_MAX_NETS 64
#define AG_MAX_EPS 1024
#define AG_MAX_CTRS 1024
#define AG_ID_LEN 65
#define AG_NAME_LEN 128
#define AG_PATH_LEN 256
#define AG_MAX_ISOLATE 8192 /* SetIsolation subnets (the map may be smaller) */

struct ag_net {
	bool used;
	char id[AG_ID_LEN];
	char name[AG_NAME_LEN];
	int index; /* guest-local: wg<index>, port 51820 + index, BPF net_id */
	char ifname[16];
	int ifindex;
	struct ip_prefix subnet4, subnet6;
	struct ip_addr gw4, gw6;
	bool internal;
	uint16_t port;
	unsigned int mtu; /* the network's MTU here (guest/mtu.c) */
	uint8_t pub[WG_KEY_LEN];
	/* What the guest holds for the network, owned: peers by public key
	 * (base64) -> peer object; DNS records by "name\taddress" -> record. */
	json_t *peers;
	json_t *dns;
	uint64_t gen; /* the generation last applied (0: none yet) */
	/* Remote addresses the BPF destination map could not take (a full
	 * map): address text -> true, owned, NULL when none. */
	json_t *dmiss;
	int wg_tuned; /* sockets the backend tuned last time (ops_net.c) */
	time_t heal_after; /* a failed rebuild: the next not before */
	/* A key rotation in progress (guest/rotate.c): the next interface. */
	char rot_ifname[16];
	int rot_ifindex;
	uint16_t rot_port;
	uint8_t rot_pub[WG_KEY_LEN];
	json_t *rot_peers; /* owned */
	int rot_tuned; /* its sockets tuned (as wg_tuned) */
	size_t rot_switched; /* peers switched so far (for the log) */
	/* The host's id of the rotation in progress (0: none or an old
	 * host), and the highest one prepared: requests of any other are
	 * refused (guest/rotate.c). */
	uint64_t rot_id, rot_seen;
};

struct ag_ep {
	bool used;
	bool present; /* false once its container namespace vanished */
	char net_id[AG_ID_LEN];
	char cid[AG_ID_LEN];
	char ifname[16]; /* inside the container: eth<K> */
	char host_ifname[16]; /* guest side: vh… */
	int host_ifindex;
	struct ip_addr ip4, ip6;
	uint8_t mac[6], hmac[6];
	bool default_route; /* carries the container's default route */
};

struct ag_ctr {
	bool used;
	char id[AG_ID_LEN];
	char name[AG_NAME_LEN];
	char netns[AG_PATH_LEN]; /* "" = host mode */
	json_t *dns; /* records array, owned */
	json_t *ports; /* published ports array, owned */
	bool dns_open; /* its 127.0.0.11 sockets are registered */
};

/* The control listeners' counters (guest/server.c), in GetStatus. */
struct ag_ctl_stats {
	uint64_t accepted;
	uint64_t refused_vsock; /* a vsock peer not on the CID allow-list */
	uint64_t refused_uid; /* a unix peer neither uid 0 nor allowed */
	uint64_t deadline_missed; /* a request not complete in time */
	uint64_t bad_frames; /* refused from the header or payload */
	uint64_t conns_full;
};

/* Map updates that failed (a full map, mostly). total and last are
 * history; the _missing counts (and each network's dmiss) are what is
 * missing now: while any is
 * non-zero, GetStatus reports it and `wgnet status` exits non-zero. */
struct ag_dp_errors {
	uint64_t total;
	char last[200];
	unsigned int iso_missing; /* isolated subnets not in wgn_subnets */
	unsigned int ctrl_missing; /* control-plane prefixes not in wgn_ctrl */
};

struct dp;
struct rtnl;
struct dns_server;

struct agent {
	char name[AG_NAME_LEN];
	char state_dir[AG_PATH_LEN];
	char pin_dir[AG_PATH_LEN];
	char wg_prefix[12];
	char nft_table[32];
	char underlay_if[16];
	int underlay_ifindex;
	struct ip_prefix underlay; /* address/plen of the underlay */
	unsigned int underlay_mtu;
	const struct wg_backend *wg;
	struct dp *dp;
	struct rtnl *nl;
	struct dns_server *dns;
	json_t *ctrl; /* extra control-plane prefixes (array of text) */
	json_t *isolate; /* all wgnet subnets (SetIsolation), array of text */
	json_t *dns_nets; /* networks whose gateway:53 we serve (dnsnet.c) */
	struct ag_ctl_stats ctl;
	struct dp_limits lim; /* map sizes (--map-*) */
	struct ag_dp_errors dperr;
	uint64_t orphans_removed; /* vh… links no record owned, at start */
	struct ag_net nets[AG_MAX_NETS];
	struct ag_ep eps[AG_MAX_EPS];
	struct ag_ctr ctrs[AG_MAX_CTRS];
	char boot[33]; /* random id chosen at start (Hello) */
	bool dirty; /* state changed since the last save */
	uint64_t dirty_ms, touched_ms; /* first and last change not saved */
	uint64_t nft_digest; /* inputs of the table last applied (0: none) */
	uint64_t saved_ms; /* monotonic time of the last save */
};

/* state.c */
/* Write state.json now (fsync + rename). */
int ag_state_save(struct agent *ag);
/* Mark the state changed; ag_state_flush() writes it once changes have been
 * quiet for 20 ms, or 200 ms after the oldest unsaved one, whichever comes
 * first (@force: now, e.g. at exit). What is on disk may lag what is
 * applied, never lead it. */
void ag_state_touch(struct agent *ag);
void ag_state_flush(struct agent *ag, bool force);
/* ms until a pending save is due, -1 if none. */
int ag_state_flush_ms(struct agent *ag);
int ag_state_load(struct agent *ag);
struct ag_net *ag_net_find(struct agent *ag, const char *id);
struct ag_ctr *ag_ctr_find(struct agent *ag, const char *id);
/* A container in host mode (Docker's remote driver): no namespace of ours;
 * its veth end stays in the guest for the runtime to move. */
static inline bool ag_ctr_host_mode(const struct ag_ctr *c)
{
	return !c->netns[0];
}
struct ag_ep *ag_ep_find(struct agent *ag, const char *net_id, const char *cid);
void ag_net_clear(struct ag_net *n);
void ag_ctr_clear(struct ag_ctr *c);

/* hub.c: data-plane set-up shared by start-up, CreateHub and adoption. */
int ag_hub_setup(struct agent *ag);
int ag_hub_teardown(struct agent *ag);
int ag_nft_sync(struct agent *ag);
int ag_ctrl_sync(struct agent *ag);
int ag_ctrl_list(struct agent *ag, struct ip_prefix **out);
/* Count and log a failed map update (the agent's "dp_errors"). */
void ag_dp_error(struct agent *ag, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* wgn_subnets entries (net_id AG_NET_ISOLATED) for the subnets of networks
 * this guest has not joined: traffic to them is dropped as isolation. */
#define AG_NET_ISOLATED 0xffffffffu
int ag_isolation_sync(struct agent *ag);
bool ag_subnet_joined(struct agent *ag, const struct ip_prefix *p);
int ag_net_dp_sync(struct agent *ag, struct ag_net *n);
int ag_net_load_key(struct agent *ag, struct ag_net *n);
/* Map entries and program of an endpoint; on failure nothing it wrote
 * stays. _unsync removes them (what is not there is no error). */
int ag_ep_dp_sync(struct agent *ag, struct ag_ep *e);
void ag_ep_dp_unsync(struct agent *ag, struct ag_ep *e);
/* ops_ep.c: both veth ends up, then the guest's route/neighbour to it. */
int ag_ep_bring_up(struct agent *ag, struct ag_ep *e, struct rtnl *cnl);
/* At start, after adoption: delete guest-side veths ("vh…") that no
 * endpoint record owns (a set-up cut short by a crash). The number removed. */
int ag_remove_orphans(struct agent *ag);
int ag_adopt(struct agent *ag);
/* Once a second: endpoints whose veth or namespace vanished, networks
 * whose WireGuard interface did (one link dump for both). */
void ag_check_links(struct agent *ag);
/* ops_net.c: rebuild a network's vanished WireGuard interface with the
 * peers held (0, or -errno: retried after a pause). */
int ag_net_heal(struct agent *ag, struct ag_net *n);
/* rotate.c: drop a rotation in flight (its next interface and key). */
void ag_rot_undo(struct agent *ag, struct ag_net *n);

/*
 * Test hook (docs/reliability.md): with WGNET_GUEST_FAULT=<step> in its
 * environment the agent _exit()s at that step, as a crash would, so tests
 * can check what a crash at each step leaves behind. Steps: ep_after_veth,
 * ep_after_attach, ep_after_save.
 */
static inline void ag_fault_point(const char *step)
{
	const char *f = getenv("WGNET_GUEST_FAULT");

	if (f && !strcmp(f, step)) {
		fprintf(stderr, "wgnet-guest: WGNET_GUEST_FAULT=%s: exiting here\n", step);
		_exit(99);
	}
}

/* ops.c */
/* Dispatch one request; returns a reply object (new reference). */
json_t *ag_dispatch(struct agent *ag, const char *op, json_t *args);

/* peers.c: what a network's peers and records are, applied by difference.
 * _full and _delta return -errno (nothing changed), 0, or N > 0: applied,
 * but N remote addresses did not fit in the BPF destination map (why set;
 * the caller answers an error after finishing the change). */
int ag_peers_full(struct agent *ag, struct ag_net *n, json_t *jpeers,
		  char *why, size_t wlen);
int ag_peers_delta(struct agent *ag, struct ag_net *n, json_t *set,
		   json_t *remove, char *why, size_t wlen);
int ag_dns_check(json_t *recs, char *why, size_t wlen);
void ag_net_dns_set(struct agent *ag, struct ag_net *n, json_t *recs);
void ag_net_dns_delta(struct agent *ag, struct ag_net *n, json_t *add,
		      json_t *remove);
/* Remote destinations of the held peers, for a network brought back. */
int ag_net_dests_sync(struct agent *ag, struct ag_net *n);
void ag_net_dests_clear(struct agent *ag, struct ag_net *n);
/* ip is inside n's IPv4 or IPv6 subnet. */
bool ag_addr_in_net(const struct ag_net *n, const struct ip_addr *ip);
/* A peer's allowed IP: a /32 or /128 of the network (JSON string a). */
#define AG_ALLOWED_ERR "allowed_ips must be /32 or /128 addresses of the network"
int ag_allowed_parse(const struct ag_net *n, json_t *a, struct ip_prefix *out);
/* ip is the address of an endpoint of n present on this guest. */
bool ag_addr_is_local(struct agent *ag, struct ag_net *n,
		      const struct ip_addr *ip);

/* dnsglue.c */
int ag_dns_open(struct agent *ag, struct ag_ctr *c);
void ag_dns_close(struct agent *ag, struct ag_ctr *c);
/* The container's records: its own (SetDNS) and those of every network it
 * has an endpoint on. */
int ag_dns_records(struct agent *ag, struct ag_ctr *c);
/* dnsnet.c: a resolver at each network's gateway:53 in the guest for the
 * networks with host-mode containers (Docker's remote driver: Docker's own
 * resolver in the container forwards names it does not know there). */
void ag_dns_net_sync(struct agent *ag);
/* Refresh the records of every container with an endpoint on @n. */
void ag_dns_net_changed(struct agent *ag, struct ag_net *n);

#endif
