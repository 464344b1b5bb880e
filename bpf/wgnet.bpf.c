// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet's tc programs (cls_bpf, direct action):
 *
 *  wgn_from_ep  tc ingress of the guest-side end of each container veth,
 *               i.e. packets leaving a container: L2 and header checks,
 *               proxy-ARP/NDP, anti-spoofing, control-plane drop, fast
 *               forwarding to local endpoints (redirect_peer) and to the
 *               WireGuard interface, the guest's own services, isolation,
 *               internal networks. Steps are numbered as in docs/bpf.md.
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
#include "lib/ip.h"
#include "lib/guest.h"

#define WGN_ETH_P_QINQ1 0x9100 /* pre-standard QinQ */

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

/*
 * Steps 6 to 13 (docs/bpf.md) for an IPv4 or IPv6 packet whose headers
 * are sound and whose source is the endpoint's.
 */
static __always_inline int forward_ep(struct __sk_buff *skb,
				      const struct wgn_iface *ifc,
				      const struct wgn_net *net,
				      const struct flow *f, const struct l4 *l4,
				      int v6)
{
	struct wgn_lpm_key lk = { .prefixlen = 128 };
	struct wgn_dest_key dk = { .net_id = ifc->net_id };
	struct wgn_dest *dest;
	struct ethhdr *eth;
	struct cursor c;
	__u32 *net_id, why;

	/* 6. The control plane; answers on a published port go back to
	 * their client (nftables checks they are DNAT replies). */
	__builtin_memcpy(lk.addr, &f->daddr, 16);
	if (bpf_map_lookup_elem(&wgn_ctrl, &lk)) {
		why = WGN_DROP_CTRL;
		goto published;
	}

	/* 7. Another endpoint of the network: the fast paths. */
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

	/* 8. The own gateway serves ICMP echo, DNS (the gateway resolver of
	 * guest/dnsnet.c, port 53) and published-port answers when the guest
	 * itself is the client, even on internal networks. */
	if (is_gateway(net, v6, &f->daddr)) {
		if (is_echo_request(skb, l4, v6) || is_dns_request(skb, l4))
			goto pass;
		why = WGN_DROP_GUEST;
		goto published;
	}

	/* 9. Isolation: a subnet of this guest's or another network. */
	net_id = bpf_map_lookup_elem(&wgn_subnets, &lk);
	if (net_id) {
		if (*net_id == ifc->net_id)
			return drop(WGN_DROP_NO_DEST);
		return drop(WGN_DROP_ISOLATION);
	}

	/* 10. Multicast, broadcast: the guest serves none. */
	if (dst_is_mcast(&f->daddr, v6))
		return drop(WGN_DROP_MCAST);

	/* 11. Any other address of the guest itself. */
	if (to_guest(skb, &f->saddr, &f->daddr, v6)) {
		why = WGN_DROP_GUEST;
		goto published;
	}

	/* 12. Internal networks have no way out. */
	if (net && (net->flags & WGN_NET_F_INTERNAL))
		return drop(WGN_DROP_INTERNAL);
	goto pass;
published:
	if (!from_published_port(skb, l4, &f->saddr))
		return drop(why);
pass:
	/* 13. Routed by the guest's stack (masquerade). */
	count(WGN_STAT_PASS_STACK);
	return TC_ACT_OK;
}

/* 1. A VLAN tag in the skb (the kernel moved it out of the data before tc)
 * or in the data. */
static __always_inline int vlan_tagged(const struct __sk_buff *skb,
				       __be16 proto)
{
	return skb->vlan_present || proto == bpf_htons(ETH_P_8021Q) ||
	       proto == bpf_htons(ETH_P_8021AD) ||
	       proto == bpf_htons(WGN_ETH_P_QINQ1);
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
	struct l4 l4 = {};
	__u32 net_id, why;
	int ret;

	ifc = bpf_map_lookup_elem(&wgn_ifaces, &ifindex);
	if (!ifc || ifc->kind != WGN_IF_ENDPOINT)
		return TC_ACT_OK;
	net_id = ifc->net_id;
	net = bpf_map_lookup_elem(&wgn_nets, &net_id);

	/* 1. Ethernet, VLAN tags. */
	pull_headers(skb, WGN_PULL_LEN);
	cur_init(&c, skb);
	eth = cur_pull(&c, sizeof(*eth));
	if (!eth)
		return drop(WGN_DROP_MALFORMED);
	if (vlan_tagged(skb, eth->h_proto))
		return drop(WGN_DROP_VLAN);

	/* 2. ARP, IPv4 and IPv6 only. */
	switch (eth->h_proto) {
	case bpf_htons(ETH_P_ARP):
		/* 3. Proxy-ARP, sender check. */
		return handle_arp(skb, &c, eth, ifc, net);
	case bpf_htons(ETH_P_IP):
		/* 4. Sound header, 5. anti-spoofing. */
		ip4 = cur_pull(&c, sizeof(*ip4));
		if (!ip4)
			return drop(WGN_DROP_MALFORMED);
		why = ip4_check(skb, ip4, &l4);
		if (why)
			return drop(why);
		if (field_is_zero(ifc->addr4) ||
		    ip4->saddr != field_v4(ifc->addr4))
			return drop(WGN_DROP_SPOOF);
		addr_from_v4(&f.saddr, ip4->saddr);
		addr_from_v4(&f.daddr, ip4->daddr);
		return forward_ep(skb, ifc, net, &f, &l4, 0);
	case bpf_htons(ETH_P_IPV6):
		/* 4. Sound header; 4a-d ND/MLD (their own rules); 5. */
		ip6 = cur_pull(&c, sizeof(*ip6));
		if (!ip6)
			return drop(WGN_DROP_MALFORMED);
		why = ip6_check(skb, ip6, &l4);
		if (why)
			return drop(why);
		addr_from_v6(&f.saddr, &ip6->saddr);
		addr_from_v6(&f.daddr, &ip6->daddr);
		ret = handle_nd(skb, ip6, &l4, ifc, net);
		if (ret != WGN_ND_CONTINUE)
			return ret;
		if (field_is_zero(ifc->addr6) ||
		    !addr_eq_field(&f.saddr, ifc->addr6))
			return drop(WGN_DROP_SPOOF);
		return forward_ep(skb, ifc, net, &f, &l4, 1);
	default:
		return drop(WGN_DROP_ETHERTYPE);
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
