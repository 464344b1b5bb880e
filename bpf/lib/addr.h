/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 16-byte addresses as in bpf_shared.h: IPv6 as is, IPv4 v4-mapped. Map
 * values are 4-byte aligned, so they are read as four __u32 words; packet
 * addresses are first copied to the stack.
 */
#ifndef WGN_BPF_ADDR_H
#define WGN_BPF_ADDR_H

#include "lib/common.h"

struct addr16 {
	__u32 w[4];
};

static __always_inline void addr_from_v4(struct addr16 *a, __be32 v4)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = bpf_htonl(0x0000ffff);
	a->w[3] = v4;
}

static __always_inline void addr_from_v6(struct addr16 *a, const void *p)
{
	__builtin_memcpy(a, p, 16);
}

/* The IPv4 part of a v4-mapped 16-byte map field. */
static __always_inline __be32 field_v4(const __u8 *f)
{
	return ((const __u32 *)f)[3];
}

static __always_inline int field_is_zero(const __u8 *f)
{
	const __u32 *w = (const __u32 *)f;

	return !(w[0] | w[1] | w[2] | w[3]);
}

static __always_inline int addr_eq_field(const struct addr16 *a, const __u8 *f)
{
	const __u32 *w = (const __u32 *)f;

	return !((a->w[0] ^ w[0]) | (a->w[1] ^ w[1]) | (a->w[2] ^ w[2]) |
		 (a->w[3] ^ w[3]));
}

/* Mask (network order) of the first bits of a 32-bit word; bits 0..32. */
static __always_inline __be32 word_mask(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffff;
	return bpf_htonl(0xffffffffU << (32 - bits));
}

/* v4 inside the IPv4 subnet (v4-mapped) of length plen; plen 0 = none. */
static __always_inline int v4_in_subnet(__be32 v4, const __u8 *subnet,
					__u32 plen)
{
	if (plen == 0 || plen > 32)
		return 0;
	return !((v4 ^ field_v4(subnet)) & word_mask(plen));
}

/* a inside the IPv6 subnet of length plen; plen 0 = none. */
static __always_inline int v6_in_subnet(const struct addr16 *a,
					const __u8 *subnet, __u32 plen)
{
	const __u32 *w = (const __u32 *)subnet;
	__u32 diff = 0;
	int i;

	if (plen == 0 || plen > 128)
		return 0;
#pragma unroll
	for (i = 0; i < 4; i++)
		diff |= (a->w[i] ^ w[i]) & word_mask((int)plen - 32 * i);
	return !diff;
}

/* fe80::/10 */
static __always_inline int v6_is_linklocal(const struct addr16 *a)
{
	return (a->w[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000);
}

static __always_inline int v6_is_unspec(const struct addr16 *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static __always_inline int v6_is_multicast(const struct addr16 *a)
{
	return (a->w[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000);
}

#endif /* WGN_BPF_ADDR_H */
