/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Proxy-ARP on the guest side of a container veth. <linux/if_arp.h> pulls
 * in glibc headers under -target bpf, so the ARP header is defined here.
 */
#ifndef WGN_BPF_ARP_H
#define WGN_BPF_ARP_H

#include "lib/common.h"
#include "lib/maps.h"
#include "lib/addr.h"

#define WGN_ARPHRD_ETHER 1
#define WGN_ARPOP_REQUEST 1
#define WGN_ARPOP_REPLY 2

/* ARP for IPv4 over Ethernet (RFC 826), 28 bytes. */
struct wgn_arp {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 sip[4];
	__u8 tha[ETH_ALEN];
	__u8 tip[4];
} __attribute__((packed));
_Static_assert(sizeof(struct wgn_arp) == 28, "wgn_arp layout");

static __always_inline __be32 ip4_get(const __u8 *p)
{
	__be32 v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

static __always_inline void ip4_put(__u8 *p, __be32 v)
{
	__builtin_memcpy(p, &v, 4);
}

/*
 * ARP from a container. A request for another address of the network is
 * answered in place with the veth's guest-side MAC and sent back out of
 * the same veth; a sender address that is not the endpoint's (or 0.0.0.0,
 * used by address probes) is a spoof.
 */
static __always_inline int handle_arp(struct __sk_buff *skb, struct cursor *c,
				      struct ethhdr *eth,
				      const struct wgn_iface *ifc,
				      const struct wgn_net *net)
{
	struct wgn_arp *arp = cur_pull(c, sizeof(*arp));
	__be32 own = field_v4(ifc->addr4);
	__be32 sip, tip;

	if (!arp)
		return drop(WGN_DROP_MALFORMED);
	/* Only ARP for IPv4 over Ethernet is ever needed (fail closed). */
	if (arp->hrd != bpf_htons(WGN_ARPHRD_ETHER) ||
	    arp->pro != bpf_htons(ETH_P_IP) || arp->hln != ETH_ALEN ||
	    arp->pln != 4)
		return drop(WGN_DROP_MALFORMED);

	sip = ip4_get(arp->sip);
	tip = ip4_get(arp->tip);
	if (sip != 0 && (sip != own || field_is_zero(ifc->addr4)))
		return drop(WGN_DROP_SPOOF);

	/* Address probes (sender 0.0.0.0) are not answered. */
	if (arp->op != bpf_htons(WGN_ARPOP_REQUEST) || !net || sip == 0 ||
	    !v4_in_subnet(tip, net->subnet4, net->plen4) || tip == sip ||
	    tip == own)
		return TC_ACT_OK;

	/* Turn the request into the reply, in place. */
	mac_copy(eth->h_dest, eth->h_source);
	mac_copy(eth->h_source, ifc->hmac);
	arp->op = bpf_htons(WGN_ARPOP_REPLY);
	mac_copy(arp->tha, arp->sha);
	ip4_put(arp->tip, sip);
	mac_copy(arp->sha, ifc->hmac);
	ip4_put(arp->sip, tip);
	count(WGN_STAT_ARP_REPLY);
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* WGN_BPF_ARP_H */
