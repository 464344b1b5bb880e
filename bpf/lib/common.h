/* SPDX-License-Identifier: GPL-2.0 */
/* Includes, the bounded packet cursor and small helpers for BPF code. */
#ifndef WGN_BPF_COMMON_H
#define WGN_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "wgnet/bpf_shared.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * Headers the endpoint program may read or rewrite directly: Ethernet plus
 * an IPv6 header plus a Neighbor Solicitation with one option. If the
 * linear part of the skb is shorter, it is pulled once up to this length.
 */
#define WGN_PULL_LEN (ETH_HLEN + 40 + 32)

/*
 * A bounded cursor over the linear packet data: every header is taken
 * through cur_pull(), which checks it against data_end.
 */
struct cursor {
	void *pos;
	void *end;
};

static __always_inline void cur_init(struct cursor *c, struct __sk_buff *skb)
{
	c->pos = (void *)(long)skb->data;
	c->end = (void *)(long)skb->data_end;
}

/* Returns the header at the cursor and advances past it, or NULL. */
static __always_inline void *cur_pull(struct cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* Make sure up to WGN_PULL_LEN bytes (or the whole skb) are linear. */
static __always_inline void pull_headers(struct __sk_buff *skb, __u32 want)
{
	__u32 len = skb->len < want ? skb->len : want;

	if ((long)skb->data + len > (long)skb->data_end)
		bpf_skb_pull_data(skb, len);
}

static __always_inline void mac_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, ETH_ALEN);
}

#endif /* WGN_BPF_COMMON_H */
