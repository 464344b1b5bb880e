/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structs shared by the tc-BPF programs (bpf/) and user space (src/).
 *
 * Every address is stored as 16 bytes: IPv6 as is, IPv4 as the v4-mapped
 * IPv6 address ::ffff:a.b.c.d, so one key layout serves both families.
 * Multi-byte integers are host order unless their type says __be.
 *
 * Map layout version: WGN_MAP_VERSION. Bump it when a struct below changes;
 * the loader refuses to reuse pins of another version.
 */
#ifndef WGNET_BPF_SHARED_H
#define WGNET_BPF_SHARED_H

#include <linux/types.h>

#define WGN_MAP_VERSION 2

/* Capacities. */
#define WGN_MAX_IFACES 4096
#define WGN_MAX_NETS 256
#define WGN_MAX_DESTS 65536
#define WGN_MAX_PREFIXES 1024
#define WGN_MAX_PORTS 4096

/* struct wgn_iface.kind */
enum {
	WGN_IF_ENDPOINT = 1, /* guest-side end of a container veth */
	WGN_IF_WG = 2, /* a WireGuard interface (no L2 header) */
};

/* struct wgn_net.flags */
#define WGN_NET_F_INTERNAL (1U << 0) /* no way out of the network */
#define WGN_NET_F_IPV6 (1U << 1) /* the network has an IPv6 subnet */

/* struct wgn_dest.kind */
enum {
	WGN_DEST_LOCAL = 1, /* an endpoint in this guest: redirect_peer */
	WGN_DEST_REMOTE = 2, /* an endpoint behind a peer: redirect to wg */
};

/* Drop reasons: index into the wgn_drops per-CPU array. */
enum {
	WGN_DROP_NONE = 0,
	WGN_DROP_SPOOF = 1, /* source is not the endpoint's own address */
	WGN_DROP_CTRL = 2, /* destination in the control-plane set */
	WGN_DROP_ISOLATION = 3, /* destination on a network not joined */
	WGN_DROP_NO_DEST = 4, /* in-network destination that does not exist */
	WGN_DROP_WG_NO_DEST = 5, /* decrypted packet for no local endpoint */
	WGN_DROP_INTERNAL = 6, /* internal network: no way out */
	WGN_DROP_MALFORMED = 7, /* truncated or inconsistent header */
	WGN_DROP_WG_SPOOF = 8, /* decrypted packet with a foreign source */
	WGN_DROP_VLAN = 9, /* 802.1Q/802.1ad tag (in the skb or the data) */
	WGN_DROP_ETHERTYPE = 10, /* neither ARP nor IPv4 nor IPv6 */
	WGN_DROP_GUEST = 11, /* to the guest itself, not a served service */
	WGN_DROP_ND = 12, /* ND to other than the gateway / all-routers */
	WGN_DROP_MCAST = 13, /* multicast or broadcast destination */
	WGN_DROP_IP_OPTIONS = 14, /* IPv4 options, IPv6 routing header */
	WGN_DROP__MAX = 16, /* array size: stays 16 (pinned map layout) */
};

/* Forwarding counters: index into the wgn_stats per-CPU array. */
enum {
	WGN_STAT_ARP_REPLY = 0, /* proxy-ARP replies sent */
	WGN_STAT_ND_REPLY = 1, /* proxy-NDP advertisements sent */
	WGN_STAT_FWD_LOCAL = 2, /* fast path: redirect_peer to local endpoint */
	WGN_STAT_FWD_REMOTE = 3, /* redirected to the WireGuard interface */
	WGN_STAT_FROM_WG = 4, /* decrypted and delivered to an endpoint */
	WGN_STAT_PASS_STACK = 5, /* handed to the guest's stack (gw, NAT) */
	WGN_STAT__MAX = 8,
};

/* Key of wgn_ifaces: the ifindex a program runs on (guest namespace). */
struct wgn_iface {
	__u32 kind; /* WGN_IF_* */
	__u32 net_id; /* guest-local network index */
	__u8 addr4[16]; /* endpoint's IPv4 (v4-mapped), zero if none */
	__u8 addr6[16]; /* endpoint's IPv6, zero if none */
	__u8 mac[6]; /* container-side MAC of the veth */
	__u8 hmac[6]; /* guest-side MAC of the veth */
	__u32 peer_ifindex; /* container-side ifindex (in its namespace) */
};
_Static_assert(sizeof(struct wgn_iface) == 56, "wgn_iface layout");

/* Key of wgn_nets: the guest-local network index. */
struct wgn_net {
	__u8 subnet4[16]; /* v4-mapped */
	__u8 gw4[16];
	__u8 subnet6[16];
	__u8 gw6[16];
	__u32 plen4; /* IPv4 prefix length (0..32), 0 if none */
	__u32 plen6; /* IPv6 prefix length (0..128), 0 if none */
	__u32 wg_ifindex; /* the network's WireGuard interface */
	__u32 flags; /* WGN_NET_F_* */
};
_Static_assert(sizeof(struct wgn_net) == 80, "wgn_net layout");

struct wgn_dest_key {
	__u32 net_id;
	__u8 addr[16]; /* v4-mapped or IPv6 */
};
_Static_assert(sizeof(struct wgn_dest_key) == 20, "wgn_dest_key layout");

struct wgn_dest {
	__u32 kind; /* WGN_DEST_* */
	__u32 ifindex; /* local: guest-side veth; remote: wg interface */
	__u8 mac[6]; /* local: container-side MAC (L2 destination) */
	__u8 hmac[6]; /* local: guest-side MAC (L2 source) */
};
_Static_assert(sizeof(struct wgn_dest) == 20, "wgn_dest layout");

/* Key of the LPM tries wgn_subnets (value: net_id) and wgn_ctrl (value: 1). */
struct wgn_lpm_key {
	__u32 prefixlen; /* over addr; IPv4 prefixes are 96 + plen */
	__u8 addr[16];
};
_Static_assert(sizeof(struct wgn_lpm_key) == 20, "wgn_lpm_key layout");

/*
 * Key of wgn_pubports: a published port's container side. A container's
 * packet from such an address and port may leave towards a control-plane
 * address (the answer to a client on the underlay); nftables then lets
 * through only what conntrack knows as a DNATed connection's reply.
 */
struct wgn_port_key {
	__u8 addr[16]; /* container address, v4-mapped or IPv6 */
	__be16 port; /* container port */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
_Static_assert(sizeof(struct wgn_port_key) == 20, "wgn_port_key layout");

/* Pinned map names (also the file names under the pin root). */
#define WGN_MAP_IFACES "wgn_ifaces"
#define WGN_MAP_NETS "wgn_nets"
#define WGN_MAP_DESTS "wgn_dests"
#define WGN_MAP_SUBNETS "wgn_subnets"
#define WGN_MAP_CTRL "wgn_ctrl"
#define WGN_MAP_DROPS "wgn_drops"
#define WGN_MAP_STATS "wgn_stats"
#define WGN_MAP_PUBPORTS "wgn_pubports"

#endif /* WGNET_BPF_SHARED_H */
