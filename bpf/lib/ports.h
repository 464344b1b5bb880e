/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Published ports: is this TCP/UDP packet sent from a container's published
 * address:port? Such a packet is the answer to a client that reached the
 * container through the guest's DNAT, and that client often sits in a
 * control-plane prefix (the underlay, the host). The program lets it go on
 * to the guest's stack, where nftables accepts it only if conntrack knows
 * it as the reply of a DNATed connection ("ct status dnat") and drops
 * anything else towards the control plane. A map, not the conntrack kfunc:
 * the kfunc cannot be resolved by libbpf 1.1 where conntrack is a module.
 */
#ifndef WGN_BPF_PORTS_H
#define WGN_BPF_PORTS_H

#include "common.h"
#include "maps.h"

#define WGN_IP_MF_OFFSET 0x3fff /* IPv4 More Fragments + offset */

static __always_inline int from_published_port(struct __sk_buff *skb, int v6,
					       const void *saddr)
{
	struct wgn_port_key k = {};
	__u8 b[2], proto;
	__be16 frag;
	__u32 off;

	if (v6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1))
			return 0;
		off = ETH_HLEN + 40;
	} else {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, b, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 6, &frag, 2) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
			return 0;
		if (frag & bpf_htons(WGN_IP_MF_OFFSET))
			return 0;
		off = ETH_HLEN + (b[0] & 0xf) * 4;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, &k.port, sizeof(k.port)))
		return 0;
	__builtin_memcpy(k.addr, saddr, 16);
	k.proto = proto;
	return bpf_map_lookup_elem(&wgn_pubports, &k) != NULL;
}

#endif /* WGN_BPF_PORTS_H */
