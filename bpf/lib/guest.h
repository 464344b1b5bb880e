/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Is a destination one of the guest's own addresses? Asked of the guest's
 * routing tables with bpf_fib_lookup() as the stack would on input from
 * this veth (policy rules included), so every address the guest has or
 * gets later (underlay, gateways on wg<K>, loopback, any other interface)
 * is covered without a map to keep in step. "Not forwarded" is a local,
 * broadcast or anycast route — or no route at all, which the stack would
 * drop too. Forwarding disabled on the veth means only local delivery is
 * left. A lookup error fails closed. Only packets on their way to the
 * guest's stack pay for the lookup (never the fast paths).
 */
#ifndef WGN_BPF_GUEST_H
#define WGN_BPF_GUEST_H

#include "lib/common.h"
#include "lib/addr.h"

#define WGN_AF_INET 2
#define WGN_AF_INET6 10

static __noinline int to_guest(struct __sk_buff *skb,
			       const struct addr16 *saddr,
			       const struct addr16 *daddr, int v6)
{
	struct bpf_fib_lookup fib = {};
	long r;

	fib.ifindex = skb->ifindex;
	if (v6) {
		fib.family = WGN_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, daddr, 16);
	} else {
		fib.family = WGN_AF_INET;
		fib.ipv4_src = saddr->w[3];
		fib.ipv4_dst = daddr->w[3];
	}
	r = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	return r < 0 || r == BPF_FIB_LKUP_RET_NOT_FWDED ||
	       r == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/* Multicast, broadcast or reserved: 224.0.0.0/3 (v4), ff00::/8 (v6). */
static __always_inline int dst_is_mcast(const struct addr16 *d, int v6)
{
	if (v6)
		return v6_is_multicast(d);
	return (d->w[3] & bpf_htonl(0xe0000000)) == bpf_htonl(0xe0000000);
}

#endif /* WGN_BPF_GUEST_H */
