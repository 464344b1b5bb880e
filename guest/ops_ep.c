// SPDX-License-Identifier: GPL-2.0
/* Guest calls on container endpoints: AddEndpoint, RemoveEndpoint. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "ops.h"

/* ---- AddEndpoint / RemoveEndpoint --------------------------------------- */

struct ifnames {
	bool used[64];
};

static int collect_eth(int ifindex, const char *name, const char *kind,
		       void *data)
{
	struct ifnames *u = data;
	char *end;
	long k;

	(void)ifindex;
	(void)kind;
	if (strncmp(name, "eth", 3))
		return 0;
	k = strtol(name + 3, &end, 10);
	if (!*end && k >= 0 && k < 64)
		u->used[k] = true;
	return 0;
}

/* The route to take the container's default route, if any. */
static void ctr_default_route(struct agent *ag, const char *cid, struct rtnl *cnl,
			      struct ag_ep *skip)
{
	struct ag_ep *best = NULL;
	struct ip_prefix def4 = { .plen = 0 };
	struct ip_prefix def6 = { .addr = { .family = AF_INET6 }, .plen = 0 };

	ip_from_v4_be(0, &def4.addr);
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];
		struct ag_net *n;

		if (!e->used || e == skip || strcmp(e->cid, cid) || !e->present)
			continue;
		if (e->default_route)
			return; /* someone has it already */
		n = ag_net_find(ag, e->net_id);
		if (n && !n->internal && !best)
			best = e;
	}
	if (best) {
		struct ag_net *n = ag_net_find(ag, best->net_id);
		int idx = link_index(cnl, best->ifname);

		if (idx > 0 && !route_replace_onlink(cnl, idx, &def4, &n->gw4)) {
			best->default_route = true;
			if (n->gw6.family && best->ip6.family)
				route_replace_onlink(cnl, idx, &def6, &n->gw6);
		}
	}
}


static int ctr_get(struct agent *ag, json_t *jc, bool host_mode,
		   struct ag_ctr **out, const char **why)
{
	const char *id = json_str(jc, "id"), *name = json_str(jc, "name");
	const char *netns = json_str(jc, "netns");
	struct ag_ctr *c;

	if (!ag_valid_id(id))
		return *why = "container.id must be 12-64 lowercase hex characters", -EINVAL;
	if (name && !ag_valid_name(name))
		return *why = "container.name has characters outside [A-Za-z0-9_.-]", -EINVAL;
	if (host_mode && json_object_get(jc, "netns") &&
	    !json_is_null(json_object_get(jc, "netns")))
		return *why = "container.netns must be null with host_mode", -EINVAL;
	if (host_mode)
		netns = "";
	else if (!netns || !*netns || strlen(netns) >= AG_PATH_LEN ||
		 strstr(netns, ".."))
		return *why = "container.netns must be a namespace path or name", -EINVAL;
	c = ag_ctr_find(ag, id);
	if (c) {
		if (host_mode != ag_ctr_host_mode(c))
			return *why = host_mode ? "the container has a namespace: host_mode does not apply" :
						  "the container is in host mode: no netns may be given",
			       -EINVAL;
		*out = c;
		return 0;
	}
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		if (ag->ctrs[i].used)
			continue;
		c = &ag->ctrs[i];
		c->used = true;
		snprintf(c->id, sizeof(c->id), "%s", id);
		snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
		snprintf(c->netns, sizeof(c->netns), "%s", netns);
		*out = c;
		return 0;
	}
	return *why = "too many containers on this guest", -ENOSPC;
}

bool ag_ctr_has_endpoints(struct agent *ag, const char *cid)
{
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].cid, cid))
			return true;
	return false;
}

static json_t *ep_result(struct ag_ep *e)
{
	char mac[18], hmac[18];

	ag_mac_fmt(e->mac, mac);
	ag_mac_fmt(e->hmac, hmac);
	return json_pack("{s:s,s:s,s:s,s:s}", "ifname", e->ifname, "host_ifname",
			 e->host_ifname, "mac", mac, "host_mac", hmac);
}

/* The endpoint record that owns the guest-side interface @name, if any. */
static struct ag_ep *ep_owner(struct agent *ag, const char *name)
{
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].host_ifname, name))
			return &ag->eps[i];
	return NULL;
}

/*
 * The guest-side name: "vh" + 7 characters of the container id (for a
 * human) + 3 hex digits of the record's slot + 2 of the network index.
 * Two live records never share a slot, so two containers whose ids share
 * any prefix still get different names; a name some other record holds
 * (after a reload the slots may have moved) is skipped.
 */
static void ep_host_ifname(struct agent *ag, struct ag_ep *e, const char *cid,
			   int net_index, char out[16])
{
	unsigned int slot = (unsigned int)(e - ag->eps);

	for (unsigned int k = 0; k < 0x1000; k++) {
		snprintf(out, 16, "vh%.7s%03x%02x", cid, (slot + k) & 0xfff,
			 (unsigned int)net_index & 0xff);
		if (!ep_owner(ag, out))
			return;
	}
}

/*
 * A link already holding @name belongs to no record (ep_host_ifname chose
 * a free name): the leftover of this endpoint's earlier life or of a
 * set-up an agent crash cut short. Remove it; never a link a record owns.
 */
static int ep_clear_name(struct agent *ag, const char *name, const char **why)
{
	int idx = link_index(ag->nl, name);

	if (idx <= 0)
		return 0;
	if (ep_owner(ag, name)) {
		*why = "the guest-side interface name belongs to another endpoint";
		return -EEXIST;
	}
	log_info("%s: removing a leftover interface no endpoint owns", name);
	return link_del(ag->nl, idx);
}

/* The container's end, still down: MAC and addresses; lo up. */
static int ep_config_down(struct agent *ag, struct rtnl *cnl, int cidx,
			  struct ag_net *n, struct ag_ep *tmp, const char **why)
{
	int lo = link_index(cnl, "lo");
	int err;

	if (cnl == ag->nl) {
		/* Host mode: the runtime addresses and moves the container
		 * end; it only gets the endpoint's MAC. */
		err = link_set(cnl, cidx, NULL, 0, tmp->mac, -1);
		if (!err)
			err = link_get_mac(ag->nl, tmp->host_ifindex, tmp->hmac);
		if (err)
			*why = "cannot set the container interface's MAC";
		return err;
	}
	err = link_set(cnl, cidx, NULL, 0, tmp->mac, -1);
	if (!err && lo > 0)
		link_set(cnl, lo, NULL, 0, NULL, 1);
	/* The container's address shows the network's prefix as Docker's
	 * does, but without the on-link prefix route: the subnet is routed
	 * via the gateway (onlink), so the container resolves one neighbour,
	 * the gateway (answered by the BPF proxy-ARP/NDP, which rewrites the
	 * MACs on redirect), however many peers it talks to. Addresses now;
	 * the routes once the link is up (ag_ep_bring_up: an onlink route
	 * needs an up device). */
	if (!err)
		err = addr_add_noprefixroute(cnl, cidx, &tmp->ip4, n->subnet4.plen);
	if (!err && tmp->ip6.family)
		err = addr_add_noprefixroute(cnl, cidx, &tmp->ip6, n->subnet6.plen);
	if (err) {
		*why = "cannot configure the container's interface";
		return err;
	}
	err = link_get_mac(ag->nl, tmp->host_ifindex, tmp->hmac);
	if (err)
		*why = "cannot read the guest side's MAC";
	return err;
}

/*
 * Last step, once the program is attached and the state saved: both ends
 * up, then the guest's own /32 route and permanent neighbour entry to the
 * container (NAT replies, published ports). @cnl: the container's netlink
 * (NULL: opened here).
 */
int ag_ep_bring_up(struct agent *ag, struct ag_ep *e, struct rtnl *cnl)
{
	struct ag_ctr *c = ag_ctr_find(ag, e->cid);
	struct ag_net *n = ag_net_find(ag, e->net_id);
	struct rtnl *own = NULL;
	int nsfd = -1, cidx, err;

	if (c && ag_ctr_host_mode(c)) {
		/* Host mode: the container end is the runtime's to bring up. */
		err = link_set(ag->nl, e->host_ifindex, NULL, 0, NULL, 1);
		if (!err) {
			struct ip_prefix host4 = { .addr = e->ip4, .plen = 32 };

			route_replace(ag->nl, e->host_ifindex, &host4, NULL);
			neigh_replace(ag->nl, e->host_ifindex, &e->ip4, e->mac);
		}
		return err;
	}
	if (!cnl) {
		nsfd = c ? netns_open(c->netns) : -ENOENT;
		own = nsfd >= 0 ? rtnl_open(nsfd) : NULL;
		cnl = own;
	}
	cidx = cnl ? link_index(cnl, e->ifname) : -ENOENT;
	err = cidx > 0 ? link_set(cnl, cidx, NULL, 0, NULL, 1) : -ENODEV;
	if (!err)
		err = link_set(ag->nl, e->host_ifindex, NULL, 0, NULL, 1);
	if (!err && n && n->gw4.family)
		err = route_replace_onlink(cnl, cidx, &n->subnet4, &n->gw4);
	if (!err && n && e->ip6.family && n->gw6.family)
		err = route_replace_onlink(cnl, cidx, &n->subnet6, &n->gw6);
	if (!err) {
		struct ip_prefix host4 = { .addr = e->ip4, .plen = 32 };

		route_replace(ag->nl, e->host_ifindex, &host4, NULL);
		neigh_replace(ag->nl, e->host_ifindex, &e->ip4, e->mac);
		if (e->ip6.family) {
			struct ip_prefix host6 = { .addr = e->ip6, .plen = 128 };

			route_replace(ag->nl, e->host_ifindex, &host6, NULL);
			neigh_replace(ag->nl, e->host_ifindex, &e->ip6, e->mac);
		}
	}
	rtnl_close(own);
	if (nsfd >= 0)
		close(nsfd);
	return err;
}

/* AddEndpoint's arguments, checked (the addresses and MAC go into tmp). */
struct ep_req {
	const char *net_id, *ip, *ifname;
	json_t *container;
	bool host_mode, mac_given;
};

/* AddEndpoint's work so far: what the undo of a failure needs. */
struct ep_build {
	struct ag_net *n;
	struct ag_ctr *c;
	struct ag_ep *e, tmp;
	struct rtnl *cnl; /* the container's netlink (not in host mode) */
	int nsfd, slot;
	bool ctr_new, veth_made;
	const char *why;
};

/* Parse: NULL, or the error reply. */
static json_t *ep_parse(struct agent *ag, json_t *args, struct ep_req *r,
			struct ep_build *b)
{
	const char *ip6 = json_str(args, "ip6"), *mac = json_str(args, "mac");
	struct ag_ep *tmp = &b->tmp;
	struct ag_net *n;

	r->net_id = json_str(args, "network_id");
	r->ip = json_str(args, "ip");
	r->ifname = json_str(args, "ifname");
	r->container = json_object_get(args, "container");
	r->host_mode = json_is_true(json_object_get(args, "host_mode"));
	r->mac_given = mac != NULL;
	if (!ag_valid_id(r->net_id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	n = b->n = ag_net_find(ag, r->net_id);
	if (!n)
		return proto_reply_err(-ENOENT, "network %.12s is not on this guest (AddNetwork first)",
				       r->net_id);
	if (!r->ip || ip_parse(r->ip, &tmp->ip4) || tmp->ip4.family != AF_INET ||
	    !prefix_contains(&n->subnet4, &tmp->ip4) || ip_equal(&tmp->ip4, &n->gw4))
		return proto_reply_err(-EINVAL, "ip must be an IPv4 address of subnet %s other than the gateway",
				       n->name);
	if (ip6 && (!n->subnet6.addr.family || ip_parse(ip6, &tmp->ip6) ||
		    !prefix_contains(&n->subnet6, &tmp->ip6)))
		return proto_reply_err(-EINVAL, "ip6 must be an address of the network's IPv6 subnet");
	if (mac && ag_mac_parse(mac, tmp->mac))
		return proto_reply_err(-EINVAL, "mac must be a unicast MAC address");
	if (r->ifname && (strncmp(r->ifname, "eth", 3) || strlen(r->ifname) > 6 ||
			  strspn(r->ifname + 3, "0123456789") != strlen(r->ifname + 3) ||
			  !r->ifname[3]))
		return proto_reply_err(-EINVAL, "ifname must be eth<N>");
	if (r->host_mode && r->ifname)
		return proto_reply_err(-EINVAL, "ifname cannot be chosen in host_mode (the runtime names the interface)");
	return NULL;
}

/*
 * The record of this container on the network, if any: one that is present
 * and whole answers the call again (NULL: go on building). A stale one is
 * cleared to be rebuilt; a leftover link is its own.
 */
static json_t *ep_existing(struct agent *ag, const struct ep_req *r,
			   struct ep_build *b)
{
	struct ag_ep *e = b->e = ag_ep_find(ag, r->net_id, b->c->id);

	if (e && e->present) {
		if (!ip_equal(&e->ip4, &b->tmp.ip4))
			return proto_reply_err(-EEXIST, "container %s is already on network %s with %s",
					       b->c->name, b->n->name, r->ip);
		if (e->host_ifindex <= 0 || link_index(ag->nl, e->host_ifname) != e->host_ifindex) {
			e->present = false;
		} else {
			ag_ep_dp_sync(ag, e);
			return proto_reply_ok(ep_result(e));
		}
	}
	if (e) {
		int old = link_index(ag->nl, e->host_ifname);

		if (old > 0)
			link_del(ag->nl, old);
		ag_ep_dp_unsync(ag, e);
		memset(e, 0, sizeof(*e));
	}
	return NULL;
}

/* A free slot (unless a record is reused) and an address unique on the
 * network within the guest. */
static int ep_reserve(struct agent *ag, const struct ep_req *r,
		      struct ep_build *b)
{
	for (int i = 0; i < AG_MAX_EPS && !b->e; i++)
		if (!ag->eps[i].used)
			b->slot = i;
	if (!b->e && b->slot < 0) {
		b->why = "too many endpoints on this guest";
		return -ENOSPC;
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *o = &ag->eps[i];

		if (o->used && o != b->e && !strcmp(o->net_id, r->net_id) &&
		    ip_equal(&o->ip4, &b->tmp.ip4)) {
			b->why = "address already used on this network";
			return -EEXIST;
		}
	}
	return 0;
}

/* The container end's name (and namespace) and the MAC. */
static int ep_name(struct agent *ag, const struct ep_req *r, struct ep_build *b)
{
	struct ag_ep *tmp = &b->tmp;

	if (r->host_mode) {
		/* Docker's remote driver: the container end stays here, down,
		 * named vc<13 chars of the id> (one endpoint per such
		 * container), for the runtime to move and rename. */
		if (ag_ctr_has_endpoints(ag, b->c->id) && !b->e) {
			b->why = "a host-mode container has one endpoint";
			return -EEXIST;
		}
		snprintf(tmp->ifname, sizeof(tmp->ifname), "vc%.13s", b->c->id);
		if (link_index(ag->nl, tmp->ifname) > 0)
			link_del(ag->nl, link_index(ag->nl, tmp->ifname));
	} else if ((b->nsfd = netns_open(b->c->netns)) < 0) {
		b->why = "cannot open the container's network namespace";
		return b->nsfd;
	} else if (!(b->cnl = rtnl_open(b->nsfd))) {
		b->why = "cannot open netlink in the container's namespace";
		return -errno;
	} else if (!r->ifname) {
		struct ifnames u = { 0 };
		int k;

		link_foreach(b->cnl, collect_eth, &u);
		for (k = 0; k < 64 && u.used[k]; k++)
			;
		snprintf(tmp->ifname, sizeof(tmp->ifname), "eth%d", k);
	} else {
		snprintf(tmp->ifname, sizeof(tmp->ifname), "%s", r->ifname);
	}
	if (!r->mac_given) {
		/* Docker's scheme: 02:42 + the IPv4 address. */
		tmp->mac[0] = 0x02;
		tmp->mac[1] = 0x42;
		memcpy(tmp->mac + 2, ip_bytes(&tmp->ip4), 4);
	}
	return 0;
}

/* The veth pair, both ends down and configured. */
static int ep_veth(struct agent *ag, const struct ep_req *r, struct ep_build *b)
{
	struct rtnl *cnl = r->host_mode ? ag->nl : b->cnl;
	unsigned int mtu = b->n->mtu ? b->n->mtu : ag_ep_mtu(ag);
	struct ag_ep *tmp = &b->tmp;
	int err, cidx;

	if (!b->e)
		b->e = &ag->eps[b->slot];
	ep_host_ifname(ag, b->e, b->c->id, b->n->index, tmp->host_ifname);
	err = ep_clear_name(ag, tmp->host_ifname, &b->why);
	if (err)
		return err;
	/* Both ends are created down and stay down until the BPF program is
	 * attached and the state saved: a crash in between leaves a down,
	 * unowned pair that the next start removes (ag_remove_orphans). */
	err = link_veth_create(ag->nl, tmp->host_ifname, tmp->ifname,
			       r->host_mode ? -1 : b->nsfd, mtu);
	if (err) {
		b->why = err == -EEXIST ? "the interface name is taken in the container" :
					  "cannot create the veth pair";
		return err;
	}
	b->veth_made = true;
	tmp->host_ifindex = link_index(ag->nl, tmp->host_ifname);
	cidx = link_index(cnl, tmp->ifname);
	if (tmp->host_ifindex <= 0 || cidx <= 0) {
		b->why = "the veth pair did not appear";
		return -ENODEV;
	}
	return ep_config_down(ag, cnl, cidx, b->n, tmp, &b->why);
}

/* The record, the BPF maps, the state file, then both ends up. */
static int ep_commit(struct agent *ag, struct ep_build *b)
{
	struct ag_ep *e = b->e;
	int err;

	ag_fault_point("ep_after_veth");
	*e = b->tmp;
	e->used = true;
	e->present = true;
	snprintf(e->net_id, sizeof(e->net_id), "%s", b->n->id);
	snprintf(e->cid, sizeof(e->cid), "%s", b->c->id);
	err = ag_ep_dp_sync(ag, e);
	if (err) {
		b->why = "cannot program the BPF maps (entries removed, endpoint refused)";
		return err;
	}
	ag_fault_point("ep_after_attach");
	err = ag_state_save(ag);
	if (err) {
		b->why = "cannot save the agent's state";
		return err;
	}
	ag_fault_point("ep_after_save");
	err = ag_ep_bring_up(ag, e, b->cnl);
	if (err)
		b->why = "cannot bring the veth pair up";
	return err;
}

/* Sync what depends on the new endpoint: the default route, DNS. */
static void ep_sync(struct agent *ag, struct ep_build *b)
{
	if (b->cnl)
		ctr_default_route(ag, b->c->id, b->cnl, NULL);
	if (ag_dns_open(ag, b->c) == 0)
		ag_dns_records(ag, b->c); /* now with this network's records */
	ag_state_save(ag);
}

/* Everything a failed AddEndpoint wrote: map entries, the record, the veth
 * pair, a container record it made. */
static void ep_undo(struct agent *ag, struct ep_build *b)
{
	if (b->e && b->e->used) {
		ag_ep_dp_unsync(ag, b->e);
		memset(b->e, 0, sizeof(*b->e));
		ag_state_save(ag);
	}
	if (b->veth_made && b->tmp.host_ifindex > 0)
		link_del(ag->nl, b->tmp.host_ifindex);
	if (b->c && b->ctr_new && !ag_ctr_has_endpoints(ag, b->c->id))
		ag_ctr_clear(b->c);
}

json_t *ag_op_add_endpoint(struct agent *ag, json_t *args)
{
	struct ep_build b = { .nsfd = -1, .slot = -1 };
	struct ep_req r;
	json_t *rep;
	int err;

	rep = ep_parse(ag, args, &r, &b);
	if (rep)
		return rep;
	b.ctr_new = !ag_ctr_find(ag, json_str(r.container, "id") ?: "");
	err = ctr_get(ag, r.container, r.host_mode, &b.c, &b.why);
	if (err)
		return proto_reply_err(err, "%s", b.why);
	rep = ep_existing(ag, &r, &b);
	if (rep)
		return rep;
	err = ep_reserve(ag, &r, &b);
	if (!err)
		err = ep_name(ag, &r, &b);
	if (!err)
		err = ep_veth(ag, &r, &b);
	if (!err)
		err = ep_commit(ag, &b);
	if (err) {
		log_err("AddEndpoint %s on %s: %s: %s", b.c->name, b.n->name,
			b.why, strerror(-err));
		ep_undo(ag, &b);
		rep = proto_reply_err(err, "%s: %s", b.why, strerror(-err));
		goto out;
	}
	ep_sync(ag, &b);
	log_info("endpoint %s/%s %s of %s on %s", b.e->host_ifname, b.e->ifname,
		 r.ip, b.c->name, b.n->name);
	rep = proto_reply_ok(ep_result(b.e));
out:
	rtnl_close(b.cnl);
	if (b.nsfd >= 0)
		close(b.nsfd);
	return rep;
}

void ag_ep_remove(struct agent *ag, struct ag_ep *e)
{
	struct ag_net *n = ag_net_find(ag, e->net_id);
	struct ag_ctr *c = ag_ctr_find(ag, e->cid);
	bool had_default = e->default_route;
	char cid[AG_ID_LEN];
	int idx;

	if (n) {
		if (e->ip4.family)
			dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip4);
		if (e->ip6.family)
			dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip6);
	}
	idx = link_index(ag->nl, e->host_ifname);
	if (idx > 0) {
		dp_iface_del(ag->dp, (uint32_t)idx);
		link_del(ag->nl, idx); /* takes the container's end too */
	} else if (e->host_ifindex > 0) {
		dp_iface_del(ag->dp, (uint32_t)e->host_ifindex);
	}
	snprintf(cid, sizeof(cid), "%s", e->cid);
	memset(e, 0, sizeof(*e));
	if (!c)
		return;
	if (!ag_ctr_has_endpoints(ag, cid)) {
		ag_dns_close(ag, c);
		ag_ctr_clear(c);
		return;
	}
	ag_dns_records(ag, c); /* without this network's records */
	if (had_default && !ag_ctr_host_mode(c)) {
		int nsfd = netns_open(c->netns);
		struct rtnl *cnl = nsfd >= 0 ? rtnl_open(nsfd) : NULL;

		if (cnl)
			ctr_default_route(ag, cid, cnl, NULL);
		rtnl_close(cnl);
		if (nsfd >= 0)
			close(nsfd);
	}
}

json_t *ag_op_remove_endpoint(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	const char *cid = json_str(args, "container_id");
	struct ag_ep *e;

	if (!ag_valid_id(net_id) || !ag_valid_id(cid))
		return proto_reply_err(-EINVAL, "network_id and container_id must be 12-64 lowercase hex characters");
	e = ag_ep_find(ag, net_id, cid);
	if (e) {
		ag_ep_remove(ag, e);
		ag_nft_sync(ag);
		ag_state_save(ag);
	}
	return proto_reply_ok(NULL);
}

