// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet's tc programs (cls_bpf, direct action):
 *
 *  wgn_from_ep  tc ingress of the guest-side end of each container veth,
 *               i.e. packets leaving a container: proxy-ARP/NDP,
 *               anti-spoofing, control-plane drop, fast forwarding to local
 *               endpoints (redirect_peer) and to the WireGuard interface,
 *               isolation, internal networks.
 *  wgn_from_wg  tc ingress of each WireGuard interface (decrypted packets
 *               from peers, no L2 header): add Ethernet and redirect_peer
 *               into the local endpoint, or drop.
 *
 * The decision order is documented in docs/bpf.md.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/addr.h"
#include "lib/arp.h"
#include "lib/nd.h"
#include "lib/ports.h"

char LICENSE[] SEC("license") = "GPL";

/* Source and destination of an IP packet, as 16-byte addresses. */
struct flow {
	struct addr16 saddr;
	struct addr16 daddr;
};

static __always_inline int is_gateway(const struct wgn_net *net, int v6,
				      const struct addr16 *a)
{
	if (!net)
		return 0;
	if (v6)
		return net->plen6 && addr_eq_field(a, net->gw6);
	return net->plen4 && addr_eq_field(a, net->gw4);
}

/* Steps d to h for an IPv4 or IPv6 packet whose source is legitimate. */
static __always_inline int forward_ep(struct __sk_buff *skb,
				      const struct wgn_iface *ifc,
				      const struct wgn_net *net,
				      const struct flow *f, int v6)
{
	struct wgn_lpm_key lk = { .prefixlen = 128 };
	struct wgn_dest_key dk = { .net_id = ifc->net_id };
	struct wgn_dest *dest;
	struct ethhdr *eth;
	struct cursor c;
	__u32 *net_id;

	__builtin_memcpy(lk.addr, &f->daddr, 16);
	if (bpf_map_lookup_elem(&wgn_ctrl, &lk)) {
		/* Answers on a published port go back to their client. */
		if (from_published_port(skb, v6, &f->saddr))
			goto pass;
		return drop(WGN_DROP_CTRL);
	}

	__builtin_memcpy(dk.addr, &f->daddr, 16);
	dest = bpf_map_lookup_elem(&wgn_dests, &dk);
	if (dest && dest->kind == WGN_DEST_LOCAL) {
		cur_init(&c, skb);
		eth = cur_pull(&c, sizeof(*eth));
		if (!eth)
			return drop(WGN_DROP_MALFORMED);
		mac_copy(eth->h_dest, dest->mac);
		mac_copy(eth->h_source, dest->hmac);
		count(WGN_STAT_FWD_LOCAL);
		return bpf_redirect_peer(dest->ifindex, 0);
	}
	if (dest && dest->kind == WGN_DEST_REMOTE) {
		count(WGN_STAT_FWD_REMOTE);
		return bpf_redirect(dest->ifindex, 0);
	}

	/* The gateway is served by the guest's stack (DNS, routing, NAT). */
	if (is_gateway(net, v6, &f->daddr))
		goto pass;

	net_id = bpf_map_lookup_elem(&wgn_subnets, &lk);
	if (net_id) {
		if (*net_id == ifc->net_id)
			return drop(WGN_DROP_NO_DEST);
		return drop(WGN_DROP_ISOLATION);
	}
	if (net && (net->flags & WGN_NET_F_INTERNAL))
		return drop(WGN_DROP_INTERNAL);
pass:
	count(WGN_STAT_PASS_STACK);
	return TC_ACT_OK;
}

SEC("tc")
int wgn_from_ep(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	const struct wgn_iface *ifc;
	const struct wgn_net *net;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	struct iphdr *ip4;
	struct cursor c;
	struct flow f;
	__u32 net_id;
	int ret;

	ifc = bpf_map_lookup_elem(&wgn_ifaces, &ifindex);
	if (!ifc || ifc->kind != WGN_IF_ENDPOINT)
		return TC_ACT_OK;
	net_id = ifc->net_id;
	net = bpf_map_lookup_elem(&wgn_nets, &net_id);

	pull_headers(skb, WGN_PULL_LEN);
	cur_init(&c, skb);
	eth = cur_pull(&c, sizeof(*eth));
	if (!eth)
		return TC_ACT_OK;

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_ARP):
		return handle_arp(skb, &c, eth, ifc, net);
	case bpf_htons(ETH_P_IP):
		ip4 = cur_pull(&c, sizeof(*ip4));
		if (!ip4 || ip4->version != 4)
			return drop(WGN_DROP_MALFORMED);
		if (field_is_zero(ifc->addr4) ||
		    ip4->saddr != field_v4(ifc->addr4))
			return drop(WGN_DROP_SPOOF);
		addr_from_v4(&f.saddr, ip4->saddr);
		addr_from_v4(&f.daddr, ip4->daddr);
		return forward_ep(skb, ifc, net, &f, 0);
	case bpf_htons(ETH_P_IPV6):
		ip6 = cur_pull(&c, sizeof(*ip6));
		if (!ip6 || ip6->version != 6)
			return drop(WGN_DROP_MALFORMED);
		addr_from_v6(&f.saddr, &ip6->saddr);
		addr_from_v6(&f.daddr, &ip6->daddr);
		ret = handle_nd(skb, ip6, ifc, net);
		if (ret != WGN_ND_CONTINUE)
			return ret;
		if (field_is_zero(ifc->addr6) ||
		    !addr_eq_field(&f.saddr, ifc->addr6))
			return drop(WGN_DROP_SPOOF);
		return forward_ep(skb, ifc, net, &f, 1);
	default:
		/* No other protocol is forwarded by wgnet; the guest's stack
		 * has no bridge and drops what it does not handle. */
		return TC_ACT_OK;
	}
}

SEC("tc")
int wgn_from_wg(struct __sk_buff *skb)
{
	struct wgn_dest_key dk = {};
	__u32 ifindex = skb->ifindex;
	const struct wgn_iface *ifc;
	const struct wgn_dest *dest;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	struct iphdr *ip4;
	struct cursor c;
	struct flow f;
	__be16 proto;
	__u8 *ver;

	ifc = bpf_map_lookup_elem(&wgn_ifaces, &ifindex);
	if (!ifc || ifc->kind != WGN_IF_WG)
		return TC_ACT_OK;
	dk.net_id = ifc->net_id;

	pull_headers(skb, sizeof(*ip6));
	cur_init(&c, skb);
	ver = c.pos;
	if ((void *)(ver + 1) > c.end)
		return drop(WGN_DROP_MALFORMED);
	switch (*ver >> 4) {
	case 4:
		ip4 = cur_pull(&c, sizeof(*ip4));
		if (!ip4)
			return drop(WGN_DROP_MALFORMED);
		addr_from_v4(&f.saddr, ip4->saddr);
		addr_from_v4(&f.daddr, ip4->daddr);
		proto = bpf_htons(ETH_P_IP);
		break;
	case 6:
		ip6 = cur_pull(&c, sizeof(*ip6));
		if (!ip6)
			return drop(WGN_DROP_MALFORMED);
		addr_from_v6(&f.saddr, &ip6->saddr);
		addr_from_v6(&f.daddr, &ip6->daddr);
		proto = bpf_htons(ETH_P_IPV6);
		break;
	default:
		return drop(WGN_DROP_MALFORMED);
	}

	/* A peer may not speak for this guest's own containers. */
	__builtin_memcpy(dk.addr, &f.saddr, 16);
	dest = bpf_map_lookup_elem(&wgn_dests, &dk);
	if (dest && dest->kind == WGN_DEST_LOCAL)
		return drop(WGN_DROP_WG_SPOOF);

	__builtin_memcpy(dk.addr, &f.daddr, 16);
	dest = bpf_map_lookup_elem(&wgn_dests, &dk);
	if (!dest || dest->kind != WGN_DEST_LOCAL)
		return drop(WGN_DROP_WG_NO_DEST);

	if (bpf_skb_change_head(skb, ETH_HLEN, 0))
		return drop(WGN_DROP_MALFORMED);
	/* Packet pointers are stale after change_head. */
	cur_init(&c, skb);
	eth = cur_pull(&c, sizeof(*eth));
	if (!eth)
		return drop(WGN_DROP_MALFORMED);
	mac_copy(eth->h_dest, dest->mac);
	mac_copy(eth->h_source, dest->hmac);
	eth->h_proto = proto;
	count(WGN_STAT_FROM_WG);
	return bpf_redirect_peer(dest->ifindex, 0);
}
