// SPDX-License-Identifier: GPL-2.0
/*
 * The host's part of a guest's control-plane set as pure logic: which of
 * this machine's addresses belong in it, and the set made minimal (no
 * duplicates, nothing inside another prefix) and ordered, so an unchanged
 * set compares equal and nothing is resent (include/wgnet/ctrlset.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctrlset.h"

static int pfx_cmp(const void *x, const void *y)
{
	const struct ip_prefix *a = x, *b = y;
	int r;

	if (a->addr.family != b->addr.family)
		return a->addr.family == AF_INET ? -1 : 1;
	r = ip_cmp(&a->addr, &b->addr);
	if (r)
		return r;
	return a->plen < b->plen ? -1 : a->plen > b->plen;
}

int ctrl_set_build(const struct ip_prefix *in, size_t n, struct ip_prefix **out)
{
	struct ip_prefix *p;
	size_t k = 0;

	*out = NULL;
	if (!n)
		return 0;
	p = malloc(n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p, in, n * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		prefix_normalize(&p[i]);
	qsort(p, n, sizeof(*p), pfx_cmp);
	/* Sorted by start address, shorter first: prefixes are nested or
	 * disjoint, so one inside an earlier kept prefix is inside the
	 * last kept one. */
	for (size_t i = 0; i < n; i++) {
		if (k && p[k - 1].plen <= p[i].plen &&
		    prefix_contains(&p[k - 1], &p[i].addr))
			continue;
		p[k++] = p[i];
	}
	*out = p;
	return (int)k;
}

bool ctrl_host_addr_wanted(const struct ip_addr *a,
			   const struct ip_prefix *subnets, size_t n_subnets)
{
	static const char *const skip[] = { "0.0.0.0/8",      "127.0.0.0/8",
					    "169.254.0.0/16", "::/128",
					    "::1/128",	      "fe80::/10" };
	struct ip_prefix s;

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	for (size_t i = 0; i < sizeof(skip) / sizeof(*skip); i++)
		if (!prefix_parse(skip[i], true, &s) && prefix_contains(&s, a))
			return false;
	for (size_t i = 0; i < n_subnets; i++)
		if (prefix_contains(&subnets[i], a))
			return false;
	return true;
}

void ctrl_underlay_prefix(const struct ip_addr *a, int plen,
			  struct ip_prefix *out)
{
	int max = ip_max_plen(a->family);

	out->addr = *a;
	out->plen = plen > 0 && plen <= max ? plen : max;
	prefix_normalize(out);
}

int ctrl_underlay_plen(const struct ip_addr *a, const char *cidr, char *err,
		       size_t len)
{
	int min = a->family == AF_INET6 ? CTRL_UNDERLAY_MIN_PLEN6 :
					  CTRL_UNDERLAY_MIN_PLEN4;
	struct ip_prefix p;

	if (prefix_parse(cidr, false, &p) || p.addr.family != a->family) {
		snprintf(err, len, "underlay prefix %.64s is not a CIDR of its address's family",
			 cidr);
		return -EINVAL;
	}
	prefix_normalize(&p);
	if (!prefix_contains(&p, a)) {
		snprintf(err, len, "underlay prefix %.64s does not hold its address",
			 cidr);
		return -EINVAL;
	}
	if (p.plen < min) {
		snprintf(err, len, "underlay prefix %.64s is wider than /%d",
			 cidr, min);
		return -EINVAL;
	}
	return p.plen;
}
