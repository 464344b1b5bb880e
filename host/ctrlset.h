/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host's part of a guest's control-plane set (CreateHub / SetIsolation
 * "ctrl_prefixes", docs/bpf.md "Control-plane set"): pure logic, so it can
 * be tested on its own. host/isolation.c gathers the inputs.
 */
#ifndef WGNET_CTRLSET_H
#define WGNET_CTRLSET_H

#include <stdbool.h>
#include <stddef.h>

#include "wgnet/ipnet.h"

/* The most a guest takes from the host (its AG_MAX_HOST_CTRL). */
#define CTRL_HOST_MAX 512

/*
 * Normalise in[0..n), drop duplicates and every prefix inside another one
 * of the set, sort (family, address, length). *out is malloc'd (NULL when
 * the result is empty); returns the count or -ENOMEM. Bounding it is the
 * caller's choice (CTRL_HOST_MAX).
 */
int ctrl_set_build(const struct ip_prefix *in, size_t n,
		   struct ip_prefix **out);

/*
 * Whether one of this machine's addresses belongs in the set: not
 * unspecified, not loopback (127/8, ::1), not link-local (169.254/16,
 * fe80::/10: every guest drops those ranges on its own), and not inside
 * one of the wgnet networks' subnets (a gateway served from this
 * machine's namespace is the containers' own, handled by isolation and
 * the guest-services rules).
 */
bool ctrl_host_addr_wanted(const struct ip_addr *a,
			   const struct ip_prefix *subnets, size_t n_subnets);

/*
 * The widest underlay network a guest may report (GetUnderlayEndpoint
 * "prefix"): one guest's report enters every guest's set, so a /0 would
 * cut every container off everything.
 */
#define CTRL_UNDERLAY_MIN_PLEN4 8
#define CTRL_UNDERLAY_MIN_PLEN6 32

/*
 * A guest's entry in the set: the network of its underlay address a, plen
 * bits long (normalised); plen 0 (not reported: an older agent, a row from
 * before it was stored) is the address alone (/32, /128).
 */
void ctrl_underlay_prefix(const struct ip_addr *a, int plen,
			  struct ip_prefix *out);

/*
 * Check what a guest reports as its underlay network: a CIDR of the
 * address's family that holds the address and is at most as wide as
 * CTRL_UNDERLAY_MIN_PLEN*. Returns its length, or -EINVAL with why in
 * err.
 */
int ctrl_underlay_plen(const struct ip_addr *a, const char *cidr, char *err,
		       size_t len);

#endif
