// SPDX-License-Identifier: GPL-2.0
/* IPv4/IPv6 address and prefix math. IPv4 lives v4-mapped in a[16]. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgnet/ipnet.h"

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int ip_max_plen(int family)
{
	return family == AF_INET ? 32 : 128;
}

int ip_parse(const char *s, struct ip_addr *out)
{
	struct in_addr a4;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		out->family = AF_INET;
		memcpy(out->a, v4_mapped, 12);
		memcpy(out->a + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		/* A v4-mapped IPv6 literal would alias an IPv4 address. */
		if (!memcmp(out->a, v4_mapped, 12))
			return -EINVAL;
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int prefix_plen128(const struct ip_prefix *p)
{
	return p->addr.family == AF_INET ? 96 + p->plen : p->plen;
}

/* Is the bit at position i (0 = most significant) set? */
static int bit_get(const uint8_t *a, int i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static void mask_from(uint8_t *a, int start, int set)
{
	for (int i = start; i < 128; i++) {
		if (set)
			a[i / 8] |= 1 << (7 - i % 8);
		else
			a[i / 8] &= ~(1 << (7 - i % 8));
	}
}

void prefix_normalize(struct ip_prefix *p)
{
	mask_from(p->addr.a, prefix_plen128(p), 0);
}

int prefix_parse(const char *s, bool strict, struct ip_prefix *out)
{
	char buf[IPNET_STRLEN];
	const char *slash;
	char *end;
	long plen;
	struct ip_prefix p;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (ip_parse(buf, &p.addr))
		return -EINVAL;
	if (!slash[1] || slash[1] == '-' || slash[1] == '+')
		return -EINVAL;
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	if (errno || *end || plen < 0 || plen > ip_max_plen(p.addr.family))
		return -EINVAL;
	p.plen = (int)plen;
	if (strict) {
		struct ip_prefix n = p;

		prefix_normalize(&n);
		if (!ip_equal(&n.addr, &p.addr))
			return -EINVAL;
	}
	*out = p;
	return 0;
}

char *ip_fmt(const struct ip_addr *ip, char *buf)
{
	if (ip->family == AF_INET)
		inet_ntop(AF_INET, ip->a + 12, buf, IPNET_STRLEN);
	else if (ip->family == AF_INET6)
		inet_ntop(AF_INET6, ip->a, buf, IPNET_STRLEN);
	else
		buf[0] = '\0';
	return buf;
}

char *prefix_fmt(const struct ip_prefix *p, char *buf)
{
	size_t n;

	ip_fmt(&p->addr, buf);
	if (!buf[0])
		return buf;
	n = strlen(buf);
	snprintf(buf + n, IPNET_STRLEN - n, "/%d", p->plen);
	return buf;
}

bool ip_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && !memcmp(a->a, b->a, 16);
}

bool prefix_contains(const struct ip_prefix *p, const struct ip_addr *ip)
{
	int n = prefix_plen128(p);

	if (p->addr.family != ip->family)
		return false;
	for (int i = 0; i < n; i++)
		if (bit_get(p->addr.a, i) != bit_get(ip->a, i))
			return false;
	return true;
}

bool prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->plen <= b->plen ? prefix_contains(a, &b->addr) :
				    prefix_contains(b, &a->addr);
}

void prefix_last(const struct ip_prefix *p, struct ip_addr *out)
{
	*out = p->addr;
	mask_from(out->a, prefix_plen128(p), 1);
}

int ip_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	int r = memcmp(a->a, b->a, 16);

	return r > 0 ? 1 : r < 0 ? -1 : 0;
}

int ip_add(const struct ip_addr *ip, int64_t off, struct ip_addr *out)
{
	struct ip_addr r = *ip;
	int carry = 0, lo = ip->family == AF_INET ? 12 : 0;
	uint64_t mag = off < 0 ? (uint64_t)(-(off + 1)) + 1 : (uint64_t)off;
	int i;

	for (i = 15; i >= lo; i--) {
		int d = (int)(mag & 0xff);

		mag >>= 8;
		if (off >= 0) {
			int s = r.a[i] + d + carry;

			r.a[i] = s & 0xff;
			carry = s >> 8;
		} else {
			int s = r.a[i] - d - carry;

			carry = s < 0;
			r.a[i] = (s + 256) & 0xff;
		}
	}
	if (carry || mag)
		return -ERANGE;
	*out = r;
	return 0;
}

int64_t ip_diff(const struct ip_addr *a, const struct ip_addr *b)
{
	/* b - a over the low 8 bytes, saturated when the high bytes differ. */
	uint64_t ha = 0, hb = 0, la = 0, lb = 0;
	int i;

	for (i = 0; i < 8; i++) {
		ha = ha << 8 | a->a[i];
		hb = hb << 8 | b->a[i];
		la = la << 8 | a->a[i + 8];
		lb = lb << 8 | b->a[i + 8];
	}
	if (ha != hb)
		return hb > ha ? INT64_MAX : INT64_MIN;
	if (lb >= la)
		return lb - la > (uint64_t)INT64_MAX ? INT64_MAX :
						       (int64_t)(lb - la);
	return la - lb > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)(la - lb);
}

uint32_t ip_v4_be(const struct ip_addr *ip)
{
	uint32_t v;

	memcpy(&v, ip->a + 12, 4);
	return v;
}

void ip_from_v4_be(uint32_t be, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(out->a, v4_mapped, 12);
	memcpy(out->a + 12, &be, 4);
}

const uint8_t *ip_bytes(const struct ip_addr *ip)
{
	return ip->family == AF_INET ? ip->a + 12 : ip->a;
}

size_t ip_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

void ip_from_v4(const void *be4, struct ip_addr *out)
{
	uint32_t be;

	memcpy(&be, be4, 4);
	ip_from_v4_be(be, out);
}

char *endpoint_fmt(const struct ip_addr *ip, uint16_t port, char *buf,
		   size_t len)
{
	char a[IPNET_STRLEN];

	snprintf(buf, len, ip->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 ip_fmt(ip, a), port);
	return buf;
}

int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ip_to_sockaddr(const struct ip_addr *ip, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, ip->a + 12, 4);
		*len = sizeof(*s4);
		return 0;
	}
	if (ip->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip->a, 16);
		*len = sizeof(*s6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int ip_from_sockaddr(const struct sockaddr *sa, struct ip_addr *ip,
		     uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		ip_from_v4_be(s4->sin_addr.s_addr, ip);
		if (port)
			*port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memset(ip, 0, sizeof(*ip));
		memcpy(ip->a, &s6->sin6_addr, 16);
		if (!memcmp(ip->a, v4_mapped, 12))
			ip->family = AF_INET;
		else
			ip->family = AF_INET6;
		if (port)
			*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int endpoint_parse(const char *s, struct ip_addr *ip, uint16_t *port)
{
	char buf[IPNET_STRLEN];
	const char *colon, *host = s;
	size_t hl;
	char *end;
	long p;

	if (!s)
		return -EINVAL;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		host = s + 1;
		hl = rb - host;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = colon - s;
	}
	if (hl == 0 || hl >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, host, hl);
	buf[hl] = '\0';
	if (ip_parse(buf, ip))
		return -EINVAL;
	if (*s != '[' && ip->family == AF_INET6)
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || p < 1 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}
