// SPDX-License-Identifier: GPL-2.0
/*
 * Docker's IPAM rules as pure functions: default pools, gateway, ip-range,
 * first-free allocation, static address checks.
 *
 * The reasons handed back in *why live in a thread-local buffer: valid until
 * the next ipam_* call on the same thread, never to be freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"

static __thread char why_buf[256];

__attribute__((format(printf, 2, 3))) static void set_why(const char **why,
							  const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
}

/* The i-th default pool: 172.18-31.0.0/16, then 192.168.x.0/20. */
static int default_pool(unsigned int i, struct ip_prefix *out)
{
	memset(out, 0, sizeof(*out));
	if (i < 14) {
		ip_from_v4_be(htonl(0xac120000u + (i << 16)), &out->addr);
		out->plen = 16;
		return 0;
	}
	i -= 14;
	if (i < 16) {
		ip_from_v4_be(htonl(0xc0a80000u + (i << 12)), &out->addr);
		out->plen = 20;
		return 0;
	}
	return -ENOSPC;
}

int ipam_auto_subnet4(const struct ip_prefix *used, size_t n_used,
		      struct ip_prefix *out)
{
	struct ip_prefix cand;
	unsigned int i;
	size_t j;

	for (i = 0; !default_pool(i, &cand); i++) {
		for (j = 0; j < n_used; j++)
			if (used[j].addr.family == AF_INET &&
			    prefix_overlap(&cand, &used[j]))
				break;
		if (j == n_used) {
			*out = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

static bool is_network_addr(const struct ip_prefix *subnet,
			    const struct ip_addr *ip)
{
	return ip_equal(&subnet->addr, ip);
}

/* IPv4 only: IPv6 has no broadcast address. */
static bool is_broadcast_addr(const struct ip_prefix *subnet,
			      const struct ip_addr *ip)
{
	struct ip_addr last;

	if (subnet->addr.family != AF_INET)
		return false;
	prefix_last(subnet, &last);
	return ip_equal(&last, ip);
}

static const char *fam_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

int ipam_check_network(struct ip_prefix *subnet, const struct ip_prefix *range,
		       struct ip_addr *gw, const char **why)
{
	char sb[IPNET_STRLEN], nb[IPNET_STRLEN], ab[IPNET_STRLEN];
	struct ip_prefix norm;
	int fam = subnet->addr.family;

	if (fam != AF_INET && fam != AF_INET6) {
		set_why(why, "no subnet given");
		return -EINVAL;
	}
	if (subnet->plen < 0 || subnet->plen > ip_max_plen(fam)) {
		set_why(why, "subnet prefix length %d is invalid",
			subnet->plen);
		return -EINVAL;
	}
	norm = *subnet;
	prefix_normalize(&norm);
	if (!ip_equal(&norm.addr, &subnet->addr)) {
		set_why(why, "subnet %s has host bits set; use %s",
			prefix_fmt(subnet, sb), prefix_fmt(&norm, nb));
		return -EINVAL;
	}
	/* Room for the gateway and at least one container. */
	if (subnet->plen > ip_max_plen(fam) - 2) {
		set_why(why, "subnet %s is too small", prefix_fmt(subnet, sb));
		return -EINVAL;
	}
	prefix_fmt(subnet, sb);

	if (range && range->addr.family) {
		if (range->addr.family != fam) {
			set_why(why, "ip-range %s is not an %s prefix",
				prefix_fmt(range, ab), fam_name(fam));
			return -EINVAL;
		}
		norm = *range;
		prefix_normalize(&norm);
		if (!ip_equal(&norm.addr, &range->addr)) {
			set_why(why, "ip-range %s has host bits set; use %s",
				prefix_fmt(range, ab), prefix_fmt(&norm, nb));
			return -EINVAL;
		}
		if (range->plen < subnet->plen ||
		    !prefix_contains(subnet, &range->addr)) {
			set_why(why, "ip-range %s is outside subnet %s",
				prefix_fmt(range, ab), sb);
			return -EINVAL;
		}
	}

	if (!gw->family) {
		/* First host address: the network address + 1. */
		return ip_add(&subnet->addr, 1, gw);
	}
	if (gw->family != fam) {
		set_why(why, "gateway %s is not an %s address", ip_fmt(gw, ab),
			fam_name(fam));
		return -EINVAL;
	}
	if (!prefix_contains(subnet, gw)) {
		set_why(why, "gateway %s is outside subnet %s", ip_fmt(gw, ab),
			sb);
		return -EINVAL;
	}
	if (is_network_addr(subnet, gw)) {
		set_why(why, "gateway %s is the network address of %s",
			ip_fmt(gw, ab), sb);
		return -EINVAL;
	}
	if (is_broadcast_addr(subnet, gw)) {
		set_why(why, "gateway %s is the broadcast address of %s",
			ip_fmt(gw, ab), sb);
		return -EINVAL;
	}
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	return ip_cmp(a, b);
}

int ipam_pick(const struct ip_prefix *subnet, const struct ip_prefix *range,
	      const struct ip_addr *gw, const struct ip_addr *used,
	      size_t n_used, struct ip_addr *out)
{
	int fam = subnet->addr.family;
	struct ip_addr lo, hi, cur, *sorted = NULL;
	size_t n = 0, j = 0, i;
	int err;

	if (fam != AF_INET && fam != AF_INET6)
		return -EINVAL;
	if (subnet->plen > ip_max_plen(fam) - 2)
		return -ENOSPC;
	/* The window: the range (or the subnet) without the network address
	 * and, for IPv4, without the broadcast address. */
	if (range && range->addr.family) {
		if (range->addr.family != fam)
			return -EINVAL;
		lo = range->addr;
		prefix_last(range, &hi);
	} else {
		lo = subnet->addr;
		prefix_last(subnet, &hi);
	}
	if (is_network_addr(subnet, &lo) && ip_add(&lo, 1, &lo))
		return -ENOSPC;
	if (is_broadcast_addr(subnet, &hi) && ip_add(&hi, -1, &hi))
		return -ENOSPC;
	if (ip_cmp(&lo, &hi) > 0)
		return -ENOSPC;

	/* Sort the used addresses of this family so one walk from lo finds
	 * the first gap: O(n log n) even for a full /16. */
	if (n_used) {
		sorted = malloc(n_used * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		for (i = 0; i < n_used; i++)
			if (used[i].family == fam)
				sorted[n++] = used[i];
		qsort(sorted, n, sizeof(*sorted), cmp_addr);
	}

	cur = lo;
	err = -ENOSPC;
	while (ip_cmp(&cur, &hi) <= 0) {
		while (j < n && ip_cmp(&sorted[j], &cur) < 0)
			j++;
		if (!(j < n && ip_equal(&sorted[j], &cur)) &&
		    !(gw && ip_equal(gw, &cur))) {
			*out = cur;
			err = 0;
			break;
		}
		if (ip_add(&cur, 1, &cur))
			break;
	}
	free(sorted);
	return err;
}

int ipam_check_static(const struct ip_prefix *subnet, const struct ip_addr *gw,
		      const struct ip_addr *ip, const struct ip_addr *used,
		      size_t n_used, const char **why)
{
	char ab[IPNET_STRLEN], sb[IPNET_STRLEN];
	size_t i;

	ip_fmt(ip, ab);
	prefix_fmt(subnet, sb);
	if (ip->family != subnet->addr.family) {
		set_why(why, "address %s is not an %s address", ab,
			fam_name(subnet->addr.family));
		return -EINVAL;
	}
	if (!prefix_contains(subnet, ip)) {
		set_why(why, "address %s is outside subnet %s", ab, sb);
		return -EINVAL;
	}
	if (is_network_addr(subnet, ip)) {
		set_why(why, "address %s is the network address of %s", ab, sb);
		return -EINVAL;
	}
	if (is_broadcast_addr(subnet, ip)) {
		set_why(why, "address %s is the broadcast address of %s", ab,
			sb);
		return -EINVAL;
	}
	if (gw && ip_equal(gw, ip)) {
		set_why(why, "address %s is the network's gateway", ab);
		return -EINVAL;
	}
	for (i = 0; i < n_used; i++) {
		if (ip_equal(&used[i], ip)) {
			set_why(why, "address %s is already in use", ab);
			return -EEXIST;
		}
	}
	return 0;
}

void ipam_mac_from_ip(const struct ip_addr *ip4, char out[18])
{
	const uint8_t *b = ip4->a + 12;

	snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3]);
}
