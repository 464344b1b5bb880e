/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Conntrack lookup (the bpf_skb_ct_lookup kfunc) for one question: is this
 * packet a container's reply on a connection that came in through a
 * published port (DNAT)? Such replies go back to the client, which is often
 * on the underlay or the host — addresses in the control-plane set — and
 * must not be dropped as control-plane traffic. A container cannot open a
 * DNAT'ed connection by itself, so this lets through only answers.
 */
#ifndef WGN_BPF_CT_H
#define WGN_BPF_CT_H

#include "common.h"

/* The kernel's struct bpf_ct_opts (16-byte layout, NF_BPF_CT_OPTS_SZ). */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

/* Only the field we read; CO-RE finds its offset in the kernel's BTF. */
struct nf_conn {
	unsigned long status;
} __attribute__((preserve_access_index));

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb,
					 struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

#define WGN_CT_NETNS_CURRENT (-1) /* BPF_F_CURRENT_NETNS */
#define WGN_CT_DIR_REPLY 1 /* IP_CT_DIR_REPLY */
#define WGN_CT_DST_NAT (1UL << 5) /* IPS_DST_NAT */
#define WGN_IP_MF_OFFSET 0x3fff /* IPv4 More Fragments + offset */

/*
 * True if the TCP/UDP packet (IP header at offset ETH_HLEN, addresses in
 * saddr/daddr as 16-byte values) is the reply direction of a connection
 * that was destination-NATed. Needs no linear data: the ports are read with
 * bpf_skb_load_bytes.
 */
static __always_inline int ct_is_dnat_reply(struct __sk_buff *skb, int v6,
					    const void *saddr,
					    const void *daddr)
{
	struct bpf_ct_opts opts = { .netns_id = WGN_CT_NETNS_CURRENT };
	struct bpf_sock_tuple t = {};
	struct nf_conn *ct;
	__u32 off, tsz;
	__u16 ports[2];
	__u8 b[2], proto;
	__be16 frag;
	int ret = 0;

	if (!bpf_skb_ct_lookup || !bpf_ct_release)
		return 0;
	if (v6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1))
			return 0;
		off = ETH_HLEN + 40;
		__builtin_memcpy(t.ipv6.saddr, saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, daddr, 16);
		tsz = sizeof(t.ipv6);
	} else {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, b, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 6, &frag, 2) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
			return 0;
		if (frag & bpf_htons(WGN_IP_MF_OFFSET))
			return 0;
		off = ETH_HLEN + (b[0] & 0xf) * 4;
		__builtin_memcpy(&t.ipv4.saddr, (const __u8 *)saddr + 12, 4);
		__builtin_memcpy(&t.ipv4.daddr, (const __u8 *)daddr + 12, 4);
		tsz = sizeof(t.ipv4);
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return 0;
	if (v6) {
		t.ipv6.sport = ports[0];
		t.ipv6.dport = ports[1];
	} else {
		t.ipv4.sport = ports[0];
		t.ipv4.dport = ports[1];
	}
	opts.l4proto = proto;
	ct = bpf_skb_ct_lookup(skb, &t, tsz, &opts, sizeof(opts));
	if (!ct)
		return 0;
	if (opts.dir == WGN_CT_DIR_REPLY && (ct->status & WGN_CT_DST_NAT))
		ret = 1;
	bpf_ct_release(ct);
	return ret;
}

#endif /* WGN_BPF_CT_H */
