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

#include "lib/common.h"
#include "lib/maps.h"
#include "lib/ip.h"

static __always_inline int from_published_port(const struct __sk_buff *skb,
					       const struct l4 *l4,
					       const void *saddr)
{
	struct wgn_port_key k = {};

	if (l4->frag || (l4->proto != IPPROTO_TCP && l4->proto != IPPROTO_UDP))
		return 0;
	if (bpf_skb_load_bytes(skb, l4->off, &k.port, sizeof(k.port)))
		return 0;
	__builtin_memcpy(k.addr, saddr, 16);
	k.proto = l4->proto;
	return bpf_map_lookup_elem(&wgn_pubports, &k) != NULL;
}

#endif /* WGN_BPF_PORTS_H */
