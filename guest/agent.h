/* SPDX-License-Identifier: GPL-2.0 */
/* wgnet-guest internals: the agent's state and its modules. */
#ifndef WGNET_GUEST_AGENT_H
#define WGNET_GUEST_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "wgnet/ipnet.h"
#include "wgnet/proto.h"
#include "wgnet/wg.h"

#define AG_MAX_NETS 64
#define AG_MAX_EPS 1024
#define AG_MAX_CTRS 1024
#define AG_ID_LEN 65
#define AG_NAME_LEN 128
#define AG_PATH_LEN 256

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
	json_t *peers; /* the last desired peer set (array), owned */
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
	char netns[AG_PATH_LEN];
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
	struct ag_ctl_stats ctl;
	struct ag_net nets[AG_MAX_NETS];
	struct ag_ep eps[AG_MAX_EPS];
	struct ag_ctr ctrs[AG_MAX_CTRS];
};

/* state.c */
int ag_state_save(struct agent *ag);
int ag_state_load(struct agent *ag);
struct ag_net *ag_net_find(struct agent *ag, const char *id);
struct ag_ctr *ag_ctr_find(struct agent *ag, const char *id);
struct ag_ep *ag_ep_find(struct agent *ag, const char *net_id, const char *cid);
void ag_net_clear(struct ag_net *n);
void ag_ctr_clear(struct ag_ctr *c);

/* hub.c: data-plane set-up shared by start-up, CreateHub and adoption. */
int ag_hub_setup(struct agent *ag);
int ag_hub_teardown(struct agent *ag);
int ag_nft_sync(struct agent *ag);
int ag_ctrl_sync(struct agent *ag);
int ag_ctrl_list(struct agent *ag, struct ip_prefix **out);
/* wgn_subnets entries (net_id AG_NET_ISOLATED) for the subnets of networks
 * this guest has not joined: traffic to them is dropped as isolation. */
#define AG_NET_ISOLATED 0xffffffffu
int ag_isolation_sync(struct agent *ag);
bool ag_subnet_joined(struct agent *ag, const struct ip_prefix *p);
int ag_net_dp_sync(struct agent *ag, struct ag_net *n);
int ag_net_load_key(struct agent *ag, struct ag_net *n);
int ag_ep_dp_sync(struct agent *ag, struct ag_ep *e);
int ag_adopt(struct agent *ag);
void ag_check_endpoints(struct agent *ag);

/* ops.c */
/* Dispatch one request; returns a reply object (new reference). */
json_t *ag_dispatch(struct agent *ag, const char *op, json_t *args);

/* dnsglue.c */
int ag_dns_open(struct agent *ag, struct ag_ctr *c);
void ag_dns_close(struct agent *ag, struct ag_ctr *c);
int ag_dns_records(struct agent *ag, struct ag_ctr *c);

#endif
