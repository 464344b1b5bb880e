/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IPv4 and IPv6 header checks of the endpoint program, and where the
 * upper-layer header starts. Decisions are taken on the addresses of the
 * fixed header; the upper layer is read only to tell ICMP echo requests,
 * ND/MLD and published-port answers apart. Anything the program would
 * read differently from the receiving stack is dropped (fail closed):
 *
 *  - IPv4: version 4, IHL >= 5, total length between the header length
 *    and what the frame carries, else `malformed`; options (IHL > 5,
 *    e.g. source routing, Router Alert) are dropped as `ip_options`.
 *  - IPv6: payload length no larger than the frame, else `malformed`; at
 *    most two Hop-by-Hop / Destination Options headers are skipped; a
 *    Routing header anywhere in that walk, or a third option header, is
 *    dropped as `ip_options` (a Routing header changes the destination
 *    the policy decided on). Fragment, ESP, AH and others end the walk:
 *    the packet is judged by its addresses and carries no upper layer
 *    for the program (so it is never an echo request or ND/MLD).
 */
#ifndef WGN_BPF_IP_H
#define WGN_BPF_IP_H

#include "lib/common.h"
#include "lib/maps.h"

#define WGN_IP_MF_OFFSET 0x3fff /* IPv4 More Fragments + offset */

/* The upper layer of a packet: its protocol and where it starts. */
struct l4 {
	__u32 off; /* from the start of the frame */
	__u8 proto; /* IPPROTO_*, or an extension header that ends the walk */
	__u8 frag; /* IPv4: a fragment (first or not) */
};

/* 0, or a drop reason. */
static __always_inline __u32 ip4_check(struct __sk_buff *skb,
				       const struct iphdr *ip4, struct l4 *l4)
{
	__u32 tot = bpf_ntohs(ip4->tot_len);
	__u32 hl = (__u32)ip4->ihl * 4;

	if (ip4->version != 4 || hl < sizeof(*ip4))
		return WGN_DROP_MALFORMED;
	/* tot_len 0 is how BIG TCP marks GSO packets over 64 KiB. */
	if (!(tot == 0 && skb->len > 0xffff + ETH_HLEN) &&
	    (tot < hl || tot > skb->len - ETH_HLEN))
		return WGN_DROP_MALFORMED;
	if (hl != sizeof(*ip4))
		return WGN_DROP_IP_OPTIONS;
	l4->off = ETH_HLEN + sizeof(*ip4);
	l4->proto = ip4->protocol;
	l4->frag = !!(ip4->frag_off & bpf_htons(WGN_IP_MF_OFFSET));
	return 0;
}

static __always_inline int ip6_opt_hdr(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS;
}

/* 0, or a drop reason. */
static __always_inline __u32 ip6_check(struct __sk_buff *skb,
				       const struct ipv6hdr *ip6, struct l4 *l4)
{
	__u32 off = ETH_HLEN + sizeof(*ip6);
	__u8 nh = ip6->nexthdr, h[2];
	int i;

	if (ip6->version != 6 || bpf_ntohs(ip6->payload_len) > skb->len - off)
		return WGN_DROP_MALFORMED;
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (nh == IPPROTO_ROUTING)
			return WGN_DROP_IP_OPTIONS;
		if (!ip6_opt_hdr(nh))
			break;
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return WGN_DROP_MALFORMED;
		nh = h[0];
		off += ((__u32)h[1] + 1) * 8;
	}
	if (nh == IPPROTO_ROUTING || ip6_opt_hdr(nh))
		return WGN_DROP_IP_OPTIONS;
	l4->off = off;
	l4->proto = nh;
	l4->frag = 0;
	return 0;
}

/* ICMP type of the packet's upper layer, or -1 if it is not ICMP(v6). */
static __always_inline int icmp_type(struct __sk_buff *skb, const struct l4 *l4,
				     int v6)
{
	__u8 t;

	if (l4->frag || l4->proto != (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return -1;
	if (bpf_skb_load_bytes(skb, l4->off, &t, 1))
		return -1;
	return t;
}

#define WGN_ICMP_ECHO 8
#define WGN_ICMP6_ECHO 128

/* TCP or UDP to port 53, not a fragment (the gateway's resolver). */
static __always_inline int is_dns_request(struct __sk_buff *skb,
					  const struct l4 *l4)
{
	__be16 dport;

	if (l4->frag || (l4->proto != IPPROTO_TCP && l4->proto != IPPROTO_UDP))
		return 0;
	if (bpf_skb_load_bytes(skb, l4->off + 2, &dport, sizeof(dport)))
		return 0;
	return dport == bpf_htons(53);
}

static __always_inline int is_echo_request(struct __sk_buff *skb,
					   const struct l4 *l4, int v6)
{
	return icmp_type(skb, l4, v6) == (v6 ? WGN_ICMP6_ECHO : WGN_ICMP_ECHO);
}

#endif /* WGN_BPF_IP_H */
