// SPDX-License-Identifier: GPL-2.0
/*
 * One MTU per network (docs/operations.md, "MTU"). The host decides the
 * network's MTU (Docker's com.docker.network.driver.mtu, or the smallest
 * tunnel MTU over the underlays of every guest on the network) and sends it
 * with AddNetwork and UpdatePeers; the guest applies it to the network's
 * WireGuard interface and to both ends of every container veth on it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/link.h"
#include "wgnet/log.h"

#include "ops.h"

#define MTU_MIN4 576 /* what every IPv4 host must accept */
#define MTU_MIN6 1280 /* IPv6's minimum link MTU */

unsigned int ag_mtu_max(struct agent *ag)
{
	return ag_ep_mtu(ag);
}

unsigned int ag_mtu_min(const struct ag_net *n)
{
	return n->subnet6.addr.family ? MTU_MIN6 : MTU_MIN4;
}

/*
 * The MTU to use for network n from AddNetwork's network object: "mtu" (the
 * network's current MTU, absent = this guest's own largest) and "mtu_fixed"
 * (true: the operator set it; refused if this underlay cannot carry it,
 * instead of silently lowered).
 */
int ag_mtu_parse(struct agent *ag, json_t *jn, const struct ag_net *n,
		 unsigned int *out, const char **why)
{
	json_t *jm = json_object_get(jn, "mtu");
	json_t *jf = json_object_get(jn, "mtu_fixed");
	unsigned int max = ag_mtu_max(ag);
	json_int_t v;

	*out = max;
	if (jf && !json_is_boolean(jf))
		return *why = "network.mtu_fixed must be a boolean", -EINVAL;
	if (!jm)
		return 0;
	v = json_is_integer(jm) ? json_integer_value(jm) : -1;
	if (v < ag_mtu_min(n) || v > 65535)
		return *why = n->subnet6.addr.family ?
				      "network.mtu must be an integer in 1280..65535 (IPv6 network)" :
				      "network.mtu must be an integer in 576..65535",
		       -EINVAL;
	if ((unsigned int)v > max && json_is_true(jf)) {
		static __thread char msg[160];

		snprintf(
			msg, sizeof(msg),
			"the network's MTU %lld is larger than this guest's underlay carries (%u = underlay MTU %u - %u)",
			(long long)v, max, ag->underlay_mtu, WG_OVERHEAD);
		return *why = msg, -EMSGSIZE;
	}
	*out = (unsigned int)v < max ? (unsigned int)v : max;
	return 0;
}

static int ep_set_mtu(struct agent *ag, struct ag_ep *e, unsigned int mtu)
{
	struct ag_ctr *c = ag_ctr_find(ag, e->cid);
	struct rtnl *cnl = NULL;
	int nsfd = -1, idx, err;

	/* The container side first: lowering it is what protects the path. */
	if (!c)
		return -ENOENT;
	nsfd = netns_open(c->netns);
	if (nsfd < 0)
		return nsfd;
	cnl = rtnl_open(nsfd);
	if (!cnl) {
		err = -errno;
		goto out;
	}
	idx = link_index(cnl, e->ifname);
	err = idx > 0 ? link_set(cnl, idx, NULL, mtu, NULL, -1) : idx;
	if (!err && e->host_ifindex > 0)
		err = link_set(ag->nl, e->host_ifindex, NULL, mtu, NULL, -1);
out:
	rtnl_close(cnl);
	close(nsfd);
	return err;
}

/* Apply mtu to n's WireGuard interface and to every endpoint on n. Errors
 * are logged and the first one returned; the rest are still tried. */
int ag_mtu_apply(struct agent *ag, struct ag_net *n, unsigned int mtu)
{
	int err = 0, e2;

	if (!mtu || mtu == n->mtu)
		return 0;
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (!e->used || !e->present || strcmp(e->net_id, n->id))
			continue;
		e2 = ep_set_mtu(ag, e, mtu);
		if (e2) {
			log_warn("%s: cannot set MTU %u on %s: %s", n->ifname,
				 mtu, e->host_ifname, strerror(-e2));
			err = err ? err : e2;
		}
	}
	if (n->ifindex > 0) {
		e2 = link_set(ag->nl, n->ifindex, NULL, mtu, NULL, -1);
		if (e2) {
			log_warn("%s: cannot set MTU %u: %s", n->ifname, mtu,
				 strerror(-e2));
			err = err ? err : e2;
		}
	}
	log_info("%s: network %s MTU %u (was %u)", n->ifname, n->name, mtu,
		 n->mtu);
	n->mtu = mtu;
	return err;
}

/* UpdatePeers' optional "mtu" (the network's MTU), checked before anything
 * is applied: *out is 0 when absent, else the value clamped to what this
 * underlay carries (the host only sends more for a fixed MTU, which it
 * checked when this guest joined). */
int ag_mtu_check(struct agent *ag, const struct ag_net *n, json_t *jm,
		 unsigned int *out, const char **why)
{
	unsigned int max = ag_mtu_max(ag);
	json_int_t v;

	*out = 0;
	if (!jm)
		return 0;
	v = json_is_integer(jm) ? json_integer_value(jm) : -1;
	if (v < ag_mtu_min(n) || v > 65535)
		return *why = "mtu must be an integer in 576..65535 (1280.. on IPv6 networks)",
		       -EINVAL;
	if ((unsigned int)v > max) {
		log_warn(
			"%s: network MTU %lld is larger than the underlay carries; using %u",
			n->ifname, (long long)v, max);
		v = max;
	}
	*out = (unsigned int)v;
	return 0;
}

/* AddNetwork's answer gains the MTU in use and the largest one possible. */
void ag_mtu_result(struct agent *ag, const struct ag_net *n, json_t *res)
{
	json_object_set_new(res, "mtu", json_integer(n->mtu));
	json_object_set_new(res, "mtu_max", json_integer(ag_mtu_max(ag)));
}
