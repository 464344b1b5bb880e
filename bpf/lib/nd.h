/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Neighbor Discovery and MLD from a container: which sources are allowed,
 * and proxy-NDP (a Neighbor Solicitation for another address of the
 * network is answered with a Neighbor Advertisement carrying the veth's
 * guest-side MAC).
 */
#ifndef WGN_BPF_ND_H
#define WGN_BPF_ND_H

#include "lib/common.h"
#include "lib/maps.h"
#include "lib/addr.h"
#include "lib/ip.h"

#define WGN_ND_CONTINUE (-1) /* not ND/MLD: take the normal IPv6 path */

#define ICMP6_MLD_QUERY 130
#define ICMP6_MLD_REPORT 131
#define ICMP6_MLD_DONE 132
#define ICMP6_ND_RS 133
#define ICMP6_ND_RA 134
#define ICMP6_ND_NS 135
#define ICMP6_ND_NA 136
#define ICMP6_ND_REDIRECT 137
#define ICMP6_MLD2_REPORT 143

#define ND_OPT_TARGET_LLADDR 2
#define NA_FLAG_SOLICITED 0x40000000U
#define NA_FLAG_OVERRIDE 0x20000000U

/* A Neighbor Solicitation without its options (RFC 4861 4.3). */
struct wgn_ns {
	__u8 type;
	__u8 code;
	__sum16 cksum;
	__be32 reserved;
	struct addr16 target;
};
_Static_assert(sizeof(struct wgn_ns) == 24, "wgn_ns layout");

/* A Neighbor Advertisement with a target link-layer address option. */
struct wgn_na {
	__u8 type;
	__u8 code;
	__sum16 cksum;
	__be32 flags;
	struct addr16 target;
	__u8 opt_type;
	__u8 opt_len; /* in units of 8 bytes */
	__u8 opt_mac[ETH_ALEN];
};
_Static_assert(sizeof(struct wgn_na) == 32, "wgn_na layout");

/* The fixed IPv6 header, without bitfields. */
struct wgn_ip6 {
	__be32 vtcfl; /* version, traffic class, flow label */
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	struct addr16 saddr;
	struct addr16 daddr;
};
_Static_assert(sizeof(struct wgn_ip6) == 40, "wgn_ip6 layout");

#define WGN_NA_FRAME_LEN \
	(ETH_HLEN + sizeof(struct wgn_ip6) + sizeof(struct wgn_na))

static __always_inline __u32 csum_add16(__u32 sum, const void *p, int words)
{
	const __u16 *w = p;
	int i;

#pragma unroll
	for (i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

static __always_inline __sum16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

static __always_inline int is_nd_or_mld(__u8 type)
{
	return type == ICMP6_MLD_QUERY || type == ICMP6_MLD_REPORT ||
	       type == ICMP6_MLD_DONE || type == ICMP6_MLD2_REPORT ||
	       (type >= ICMP6_ND_RS && type <= ICMP6_ND_REDIRECT);
}

/*
 * Answer a Neighbor Solicitation at ETH_HLEN + 40 (no extension header)
 * for target. The frame is rebuilt whole: Ethernet, IPv6 and the
 * advertisement are written with bpf_skb_store_bytes() after the skb has
 * been cut or grown to exactly that size.
 */
static __noinline int nd_reply(struct __sk_buff *skb,
			       const struct wgn_iface *ifc,
			       const struct addr16 *saddr,
			       const struct addr16 *target)
{
	struct ethhdr eth = {};
	struct wgn_ip6 ip6 = {};
	struct wgn_na na = {};
	__u32 sum;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_source),
			       eth.h_dest, ETH_ALEN))
		return TC_ACT_OK;
	mac_copy(eth.h_source, ifc->hmac);
	eth.h_proto = bpf_htons(ETH_P_IPV6);

	ip6.vtcfl = bpf_htonl(0x60000000);
	ip6.payload_len = bpf_htons(sizeof(na));
	ip6.nexthdr = IPPROTO_ICMPV6;
	ip6.hop_limit = 255;
	ip6.saddr = *target;
	ip6.daddr = *saddr;

	na.type = ICMP6_ND_NA;
	na.flags = bpf_htonl(NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
	na.target = *target;
	na.opt_type = ND_OPT_TARGET_LLADDR;
	na.opt_len = 1;
	mac_copy(na.opt_mac, ifc->hmac);

	/* Pseudo-header (RFC 8200 8.1), then the message. */
	sum = bpf_htons(sizeof(na)) + bpf_htons(IPPROTO_ICMPV6);
	sum = csum_add16(sum, &ip6.saddr, 8);
	sum = csum_add16(sum, &ip6.daddr, 8);
	sum = csum_add16(sum, &na, sizeof(na) / 2);
	na.cksum = csum_fold(sum);

	if (skb->len != WGN_NA_FRAME_LEN &&
	    bpf_skb_change_tail(skb, WGN_NA_FRAME_LEN, 0))
		return TC_ACT_OK;
	if (bpf_skb_store_bytes(skb, 0, &eth, ETH_HLEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip6), &na, sizeof(na),
				0))
		return TC_ACT_SHOT; /* half-written: never let it out */
	count(WGN_STAT_ND_REPLY);
	return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int is_nd(__u8 type)
{
	return type == ICMP6_ND_RS || type == ICMP6_ND_NS ||
	       type == ICMP6_ND_NA;
}

/*
 * Where ND from a container may go: its own network's gateway, the
 * gateway's solicited-node multicast address (ff02::1:ffXX:XXXX with the
 * gateway's last 24 bits) and all-routers (ff02::2). The guest's stack is
 * the only other node on the veth, so nothing else is needed.
 */
static __always_inline int nd_dest_ok(const struct wgn_net *net,
				      const struct addr16 *d)
{
	const __u32 *gw;

	if (d->w[0] == bpf_htonl(0xff020000) && !d->w[1] && !d->w[2] &&
	    d->w[3] == bpf_htonl(2))
		return 1;
	if (!net || !net->plen6)
		return 0;
	gw = (const __u32 *)net->gw6;
	if (addr_eq_field(d, net->gw6))
		return 1;
	return d->w[0] == bpf_htonl(0xff020000) && !d->w[1] &&
	       d->w[2] == bpf_htonl(1) &&
	       d->w[3] ==
		       (bpf_htonl(0xff000000) | (gw[3] & bpf_htonl(0xffffff)));
}

/*
 * ICMPv6 ND/MLD from a container (l4: the upper layer after the extension
 * headers ip6_check() skipped). Returns WGN_ND_CONTINUE for anything else.
 * Steps (docs/bpf.md, step 4a-d):
 *  a. source: the endpoint's own address, link-local or :: — else spoof;
 *     Router Advertisements and Redirects are spoofs whatever the source;
 *  b. a plain NS for another address of the network is answered here;
 *  c. other ND (RS, NS, NA) may only go to nd_dest_ok() — else `nd`;
 *  d. MLD is link-scoped (RFC 3810): to a group it is `mcast`, what the
 *     destination policy says of any multicast destination (the guest
 *     serves none); to a unicast address — another container, another or
 *     an internal network, out through the masquerade — it is `nd` (from
 *     the own address) or `spoof` (from link-local or ::, which may not
 *     leave the link).
 */
static __always_inline int
handle_nd(struct __sk_buff *skb, const struct ipv6hdr *ip6, const struct l4 *l4,
	  const struct wgn_iface *ifc, const struct wgn_net *net)
{
	struct addr16 saddr, daddr, target;
	__u8 hlim = ip6->hop_limit;
	__u16 plen = bpf_ntohs(ip6->payload_len);
	struct wgn_ns ns;
	int own;

	if (l4->proto != IPPROTO_ICMPV6)
		return WGN_ND_CONTINUE;
	if (bpf_skb_load_bytes(skb, l4->off, &ns, 4))
		return drop(WGN_DROP_MALFORMED);
	if (!is_nd_or_mld(ns.type))
		return WGN_ND_CONTINUE;

	addr_from_v6(&saddr, &ip6->saddr);
	addr_from_v6(&daddr, &ip6->daddr);
	own = !field_is_zero(ifc->addr6) && addr_eq_field(&saddr, ifc->addr6);
	if (!own && !v6_is_unspec(&saddr) && !v6_is_linklocal(&saddr))
		return drop(WGN_DROP_SPOOF);
	if (ns.type == ICMP6_ND_RA || ns.type == ICMP6_ND_REDIRECT)
		return drop(WGN_DROP_SPOOF);

	if (!is_nd(ns.type)) {
		if (v6_is_multicast(&daddr))
			return drop(WGN_DROP_MCAST);
		return drop(own ? WGN_DROP_ND : WGN_DROP_SPOOF);
	}

	/* Proxy only a plain, valid NS (RFC 4861 7.1.1) from a real source
	 * for another address of the network. */
	if (ns.type == ICMP6_ND_NS && l4->off == ETH_HLEN + sizeof(*ip6) &&
	    hlim == 255 && plen >= sizeof(ns) && net && !v6_is_unspec(&saddr) &&
	    !bpf_skb_load_bytes(skb, l4->off, &ns, sizeof(ns)) &&
	    ns.code == 0) {
		target = ns.target;
		if (!v6_is_multicast(&target) &&
		    v6_in_subnet(&target, net->subnet6, net->plen6) &&
		    !addr_eq_field(&target, ifc->addr6))
			return nd_reply(skb, ifc, &saddr, &target);
	}
	if (!nd_dest_ok(net, &daddr))
		return drop(WGN_DROP_ND);
	count(WGN_STAT_PASS_STACK);
	return TC_ACT_OK;
}

#endif /* WGN_BPF_ND_H */
