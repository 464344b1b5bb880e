/* SPDX-License-Identifier: GPL-2.0 */
/* Docker's IPAM rules as pure functions (the store runs them in a
 * transaction). */
#ifndef WGNET_IPAM_H
#define WGNET_IPAM_H

#include <stddef.h>
#include "wgnet/ipnet.h"

/* The first default-pool subnet (172.18.0.0/16 … 172.31.0.0/16, then
 * 192.168.0.0/20 blocks up to 192.168.240.0/20) overlapping none of used[].
 * -ENOSPC when the pools are exhausted. */
int ipam_auto_subnet4(const struct ip_prefix *used, size_t n_used,
		      struct ip_prefix *out);

/* Validate a network's IPAM config: subnet normalised (host bits must be
 * zero: -EINVAL with the reason in *why), range inside subnet, gateway inside
 * subnet and not the network/broadcast address. Fills a missing gateway with
 * the first host address. why is a static string. */
int ipam_check_network(struct ip_prefix *subnet, const struct ip_prefix *range,
		       struct ip_addr *gw, const char **why);

/* Pick the first free host address in range (or the subnet when range has
 * family 0), skipping the network and broadcast addresses, the gateway and
 * every address in used[]. -ENOSPC when none is free. */
int ipam_pick(const struct ip_prefix *subnet, const struct ip_prefix *range,
	      const struct ip_addr *gw, const struct ip_addr *used,
	      size_t n_used, struct ip_addr *out);

/* A static address: inside the subnet (-EINVAL), not the network,
 * broadcast or gateway address (-EINVAL), not in used[] (-EEXIST). */
int ipam_check_static(const struct ip_prefix *subnet, const struct ip_addr *gw,
		      const struct ip_addr *ip, const struct ip_addr *used,
		      size_t n_used, const char **why);

/* Docker's MAC for an IPv4 address: 02:42:a.b.c.d in hex. */
void ipam_mac_from_ip(const struct ip_addr *ip4, char out[18]);

#endif
