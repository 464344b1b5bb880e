// SPDX-License-Identifier: GPL-2.0
/* wgnet-guest's control calls (docs/protocol.md, "Guest calls"). */
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

#define WG_BASE_PORT 51820
#define WG_OVERHEAD 80

/* Identifiers become file and interface names: hex only. */
static bool valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 12 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= AG_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static void mac_fmt(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static int mac_parse(const char *s, uint8_t *m)
{
	unsigned int b[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
			 &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	if (m[0] & 1) /* multicast */
		return -EINVAL;
	return 0;
}

static unsigned int ep_mtu(struct agent *ag)
{
	return ag->underlay_mtu > WG_OVERHEAD + 576 ?
		       ag->underlay_mtu - WG_OVERHEAD :
		       1420;
}

static void key_path(struct agent *ag, const char *net_id, char *buf, size_t n)
{
	snprintf(buf, n, "%s/keys/%s.key", ag->state_dir, net_id);
}

/* ---- AddNetwork / RemoveNetwork ---------------------------------------- */

static json_t *net_result(struct ag_net *n)
{
	char b64[WG_KEY_B64_LEN];

	wg_key_to_base64(b64, n->pub);
	return json_pack("{s:s,s:i,s:s,s:i}", "ifname", n->ifname, "index",
			 n->index, "public_key", b64, "listen_port", n->port);
}

static int parse_network(json_t *jn, struct ag_net *n, const char **why)
{
	const char *id = json_str(jn, "id"), *name = json_str(jn, "name");
	const char *sub = json_str(jn, "subnet"), *gw = json_str(jn, "gateway");
	const char *sub6 = json_str(jn, "subnet6"), *gw6 = json_str(jn, "gateway6");
	json_t *internal = json_object_get(jn, "internal");

	if (!json_is_object(jn))
		return *why = "network must be an object", -EINVAL;
	if (!valid_id(id))
		return *why = "network.id must be 12-64 lowercase hex characters", -EINVAL;
	if (name && !valid_name(name))
		return *why = "network.name has characters outside [A-Za-z0-9_.-]", -EINVAL;
	if (!sub || prefix_parse(sub, true, &n->subnet4) ||
	    n->subnet4.addr.family != AF_INET)
		return *why = "network.subnet must be an IPv4 CIDR without host bits", -EINVAL;
	if (!gw || ip_parse(gw, &n->gw4) || !prefix_contains(&n->subnet4, &n->gw4))
		return *why = "network.gateway must be an address inside the subnet", -EINVAL;
	if (sub6) {
		if (prefix_parse(sub6, true, &n->subnet6) ||
		    n->subnet6.addr.family != AF_INET6)
			return *why = "network.subnet6 must be an IPv6 CIDR without host bits", -EINVAL;
		if (!gw6 || ip_parse(gw6, &n->gw6) ||
		    !prefix_contains(&n->subnet6, &n->gw6))
			return *why = "network.gateway6 must be inside subnet6", -EINVAL;
	}
	if (internal && !json_is_boolean(internal))
		return *why = "network.internal must be a boolean", -EINVAL;
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
	n->internal = json_is_true(internal);
	return 0;
}

static void net_undo(struct agent *ag, struct ag_net *n, bool created)
{
	if (n->ifindex > 0) {
		dp_iface_del(ag->dp, (uint32_t)n->ifindex);
		dp_detach(ag->dp, n->ifindex);
	}
	dp_net_del(ag->dp, (uint32_t)n->index);
	if (n->subnet4.addr.family)
		dp_subnet_del(ag->dp, &n->subnet4);
	if (n->subnet6.addr.family)
		dp_subnet_del(ag->dp, &n->subnet6);
	if (created)
		ag->wg->destroy(n->ifname);
}

static json_t *op_add_network(struct agent *ag, json_t *args)
{
	struct ag_net tmp = { 0 }, *n = NULL;
	struct wg_device dev = { 0 };
	const char *why = NULL;
	char kpath[AG_PATH_LEN + 80];
	bool used_idx[AG_MAX_NETS] = { false };
	bool created = false;
	int err, slot = -1;

	err = parse_network(json_object_get(args, "network"), &tmp, &why);
	if (err)
		return proto_reply_err(err, "%s", why);
	n = ag_net_find(ag, tmp.id);
	if (n) {
		/* Idempotent: the network is there; heal its interface if the
		 * WireGuard device vanished (replay after a crash). */
		if (n->ifindex > 0 && ag->wg->exists(n->ifname) > 0)
			return proto_reply_ok(net_result(n));
		tmp.index = n->index;
		slot = (int)(n - ag->nets);
		tmp.peers = n->peers;
		n->peers = NULL;
		ag_net_clear(n);
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		if (!ag->nets[i].used)
			continue;
		used_idx[ag->nets[i].index] = true;
		if (prefix_overlap(&ag->nets[i].subnet4, &tmp.subnet4)) {
			json_decref(tmp.peers);
			return proto_reply_err(-EEXIST,
					       "subnet overlaps network %s on this guest",
					       ag->nets[i].name);
		}
	}
	if (slot < 0) {
		for (int i = 0; i < AG_MAX_NETS && slot < 0; i++)
			if (!ag->nets[i].used)
				slot = i;
		for (int i = 0; i < AG_MAX_NETS; i++)
			if (!used_idx[i]) {
				tmp.index = i;
				break;
			}
	}
	if (slot < 0)
		return proto_reply_err(-ENOSPC, "this guest is on %d networks already",
				       AG_MAX_NETS);
	n = &ag->nets[slot];
	*n = tmp;
	n->used = true;
	snprintf(n->ifname, sizeof(n->ifname), "%s%d", ag->wg_prefix, n->index);
	n->port = (uint16_t)(WG_BASE_PORT + n->index);

	key_path(ag, n->id, kpath, sizeof(kpath));
	err = wg_key_load_or_create(kpath, dev.private_key);
	if (err) {
		why = "cannot create the private key";
		goto fail;
	}
	wg_key_public(n->pub, dev.private_key);
	err = ag->wg->create(n->ifname);
	if (err && err != -EEXIST) {
		why = "cannot create the WireGuard interface";
		goto fail;
	}
	created = !err;
	snprintf(dev.name, sizeof(dev.name), "%s", n->ifname);
	dev.flags = WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT;
	dev.listen_port = n->port;
	err = ag->wg->set(n->ifname, &dev);
	if (err) {
		why = "cannot configure the WireGuard interface";
		goto fail;
	}
	n->ifindex = link_index(ag->nl, n->ifname);
	if (n->ifindex <= 0) {
		err = n->ifindex ? n->ifindex : -ENODEV;
		why = "the WireGuard interface did not appear";
		goto fail;
	}
	err = link_set(ag->nl, n->ifindex, NULL, ep_mtu(ag), NULL, 1);
	if (err) {
		why = "cannot bring the WireGuard interface up";
		goto fail;
	}
	/* The gateway lives on the guest, as a bridge's address would: the
	 * container can ping it, and the guest's stack answers it. */
	addr_add(ag->nl, n->ifindex, &n->gw4, 32);
	if (n->gw6.family)
		addr_add(ag->nl, n->ifindex, &n->gw6, 128);
	err = ag_net_dp_sync(ag, n);
	if (err) {
		why = "cannot program the BPF maps";
		goto fail;
	}
	err = ag_nft_sync(ag);
	if (err) {
		why = "cannot apply the nftables table";
		goto fail;
	}
	explicit_bzero(&dev, sizeof(dev));
	ag_state_save(ag);
	log_info("network %s (%.12s) on %s, port %u", n->name, n->id, n->ifname,
		 n->port);
	return proto_reply_ok(net_result(n));
fail:
	explicit_bzero(&dev, sizeof(dev));
	log_err("AddNetwork %s: %s: %s", tmp.name, why, strerror(-err));
	net_undo(ag, n, created);
	ag_net_clear(n);
	ag_isolation_sync(ag); /* its subnet is isolated again */
	return proto_reply_err(err, "%s: %s", why, strerror(-err));
}

static void ep_remove(struct agent *ag, struct ag_ep *e);

static void net_remove(struct agent *ag, struct ag_net *n)
{
	char kpath[AG_PATH_LEN + 80];

	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].net_id, n->id))
			ep_remove(ag, &ag->eps[i]);
	/* Remote destinations of this network. */
	if (n->peers) {
		size_t i, j;
		json_t *p, *a;

		json_array_foreach(n->peers, i, p)
		{
			json_array_foreach(json_object_get(p, "allowed_ips"), j, a)
			{
				struct ip_prefix pf;

				if (json_is_string(a) &&
				    !prefix_parse(json_string_value(a), false, &pf))
					dp_dest_del(ag->dp, (uint32_t)n->index,
						    &pf.addr);
			}
		}
	}
	n->ifindex = link_index(ag->nl, n->ifname);
	net_undo(ag, n, true);
	key_path(ag, n->id, kpath, sizeof(kpath));
	unlink(kpath);
	log_info("network %s (%.12s) removed from %s", n->name, n->id, n->ifname);
	ag_net_clear(n);
	ag_isolation_sync(ag); /* its subnet is isolated again */
}

static json_t *op_remove_network(struct agent *ag, json_t *args)
{
	const char *id = json_str(args, "network_id");
	struct ag_net *n;

	if (!valid_id(id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	n = ag_net_find(ag, id);
	if (n) {
		net_remove(ag, n);
		ag_nft_sync(ag);
		ag_state_save(ag);
	}
	return proto_reply_ok(NULL);
}

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
	struct ip_prefix def4 = { .addr = { .family = AF_INET }, .plen = 0 };
	struct ip_prefix def6 = { .addr = { .family = AF_INET6 }, .plen = 0 };

	def4.addr.a[10] = def4.addr.a[11] = 0xff;
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

		if (idx > 0 && !route_replace(cnl, idx, &def4, &n->gw4)) {
			best->default_route = true;
			if (n->gw6.family && best->ip6.family)
				route_replace(cnl, idx, &def6, &n->gw6);
		}
	}
}

static int ctr_get(struct agent *ag, json_t *jc, struct ag_ctr **out,
		   const char **why)
{
	const char *id = json_str(jc, "id"), *name = json_str(jc, "name");
	const char *netns = json_str(jc, "netns");
	struct ag_ctr *c;

	if (!valid_id(id))
		return *why = "container.id must be 12-64 lowercase hex characters", -EINVAL;
	if (name && !valid_name(name))
		return *why = "container.name has characters outside [A-Za-z0-9_.-]", -EINVAL;
	if (!netns || !*netns || strlen(netns) >= AG_PATH_LEN ||
	    strstr(netns, ".."))
		return *why = "container.netns must be a namespace path or name", -EINVAL;
	c = ag_ctr_find(ag, id);
	if (c) {
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

static bool ctr_has_endpoints(struct agent *ag, const char *cid)
{
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].cid, cid))
			return true;
	return false;
}

static json_t *ep_result(struct ag_ep *e)
{
	char mac[18], hmac[18];

	mac_fmt(e->mac, mac);
	mac_fmt(e->hmac, hmac);
	return json_pack("{s:s,s:s,s:s,s:s}", "ifname", e->ifname, "host_ifname",
			 e->host_ifname, "mac", mac, "host_mac", hmac);
}

static json_t *op_add_endpoint(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	const char *ip = json_str(args, "ip"), *ip6 = json_str(args, "ip6");
	const char *mac = json_str(args, "mac"), *ifname = json_str(args, "ifname");
	struct ag_net *n;
	struct ag_ctr *c = NULL;
	struct ag_ep *e = NULL, tmp = { 0 };
	struct rtnl *cnl = NULL;
	const char *why = NULL;
	int nsfd = -1, err, cidx, slot = -1;
	bool ctr_new, veth_made = false;
	unsigned int mtu = ep_mtu(ag);

	if (!valid_id(net_id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	n = ag_net_find(ag, net_id);
	if (!n)
		return proto_reply_err(-ENOENT, "network %.12s is not on this guest (AddNetwork first)",
				       net_id);
	if (!ip || ip_parse(ip, &tmp.ip4) || tmp.ip4.family != AF_INET ||
	    !prefix_contains(&n->subnet4, &tmp.ip4) || ip_equal(&tmp.ip4, &n->gw4))
		return proto_reply_err(-EINVAL, "ip must be an IPv4 address of subnet %s other than the gateway",
				       n->name);
	if (ip6 && (!n->subnet6.addr.family || ip_parse(ip6, &tmp.ip6) ||
		    !prefix_contains(&n->subnet6, &tmp.ip6)))
		return proto_reply_err(-EINVAL, "ip6 must be an address of the network's IPv6 subnet");
	if (mac && mac_parse(mac, tmp.mac))
		return proto_reply_err(-EINVAL, "mac must be a unicast MAC address");
	if (ifname && (strncmp(ifname, "eth", 3) || strlen(ifname) > 6 ||
		       strspn(ifname + 3, "0123456789") != strlen(ifname + 3) ||
		       !ifname[3]))
		return proto_reply_err(-EINVAL, "ifname must be eth<N>");
	ctr_new = !ag_ctr_find(ag, json_str(json_object_get(args, "container"), "id") ?: "");
	err = ctr_get(ag, json_object_get(args, "container"), &c, &why);
	if (err)
		return proto_reply_err(err, "%s", why);

	e = ag_ep_find(ag, net_id, c->id);
	if (e && e->present) {
		if (!ip_equal(&e->ip4, &tmp.ip4))
			return proto_reply_err(-EEXIST, "container %s is already on network %s with %s",
					       c->name, n->name, ip);
		if (e->host_ifindex <= 0 || link_index(ag->nl, e->host_ifname) != e->host_ifindex) {
			e->present = false;
		} else {
			ag_ep_dp_sync(ag, e);
			return proto_reply_ok(ep_result(e));
		}
	}
	if (e) /* a stale record: rebuild it */
		memset(e, 0, sizeof(*e));
	for (int i = 0; i < AG_MAX_EPS && !e; i++)
		if (!ag->eps[i].used)
			slot = i;
	if (!e && slot < 0) {
		err = -ENOSPC;
		why = "too many endpoints on this guest";
		goto fail;
	}
	/* Addresses must be unique on the network within the guest. */
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *o = &ag->eps[i];

		if (o->used && o != e && !strcmp(o->net_id, net_id) &&
		    ip_equal(&o->ip4, &tmp.ip4)) {
			err = -EEXIST;
			why = "address already used on this network";
			goto fail;
		}
	}
	nsfd = netns_open(c->netns);
	if (nsfd < 0) {
		err = nsfd;
		why = "cannot open the container's network namespace";
		goto fail;
	}
	cnl = rtnl_open(nsfd);
	if (!cnl) {
		err = -errno;
		why = "cannot open netlink in the container's namespace";
		goto fail;
	}
	if (!ifname) {
		struct ifnames u = { 0 };
		int k;

		link_foreach(cnl, collect_eth, &u);
		for (k = 0; k < 64 && u.used[k]; k++)
			;
		snprintf(tmp.ifname, sizeof(tmp.ifname), "eth%d", k);
	} else {
		snprintf(tmp.ifname, sizeof(tmp.ifname), "%s", ifname);
	}
	snprintf(tmp.host_ifname, sizeof(tmp.host_ifname), "vh%.8s%02x", c->id,
		 n->index);
	if (!mac) {
		/* Docker's scheme: 02:42 + the IPv4 address. */
		tmp.mac[0] = 0x02;
		tmp.mac[1] = 0x42;
		memcpy(tmp.mac + 2, tmp.ip4.a + 12, 4);
	}
	/* A leftover guest-side veth of a previous attempt. */
	if (link_index(ag->nl, tmp.host_ifname) > 0)
		link_del(ag->nl, link_index(ag->nl, tmp.host_ifname));
	err = link_veth_create(ag->nl, tmp.host_ifname, tmp.ifname, nsfd, mtu);
	if (err) {
		why = err == -EEXIST ? "the interface name is taken in the container" :
				       "cannot create the veth pair";
		goto fail;
	}
	veth_made = true;
	tmp.host_ifindex = link_index(ag->nl, tmp.host_ifname);
	cidx = link_index(cnl, tmp.ifname);
	if (tmp.host_ifindex <= 0 || cidx <= 0) {
		err = -ENODEV;
		why = "the veth pair did not appear";
		goto fail;
	}
	err = link_set(cnl, cidx, NULL, 0, tmp.mac, 1);
	if (!err) {
		int lo = link_index(cnl, "lo");

		if (lo > 0)
			link_set(cnl, lo, NULL, 0, NULL, 1);
		err = addr_add(cnl, cidx, &tmp.ip4, n->subnet4.plen);
	}
	if (!err && tmp.ip6.family)
		err = addr_add(cnl, cidx, &tmp.ip6, n->subnet6.plen);
	if (err) {
		why = "cannot configure the container's interface";
		goto fail;
	}
	err = link_set(ag->nl, tmp.host_ifindex, NULL, 0, NULL, 1);
	if (!err)
		err = link_get_mac(ag->nl, tmp.host_ifindex, tmp.hmac);
	if (err) {
		why = "cannot configure the guest side of the veth";
		goto fail;
	}
	/* The guest's stack reaches the container (NAT replies, published
	 * ports) through a /32 route and a permanent neighbour entry. */
	{
		struct ip_prefix host4 = { .addr = tmp.ip4, .plen = 32 };

		route_replace(ag->nl, tmp.host_ifindex, &host4, NULL);
		neigh_replace(ag->nl, tmp.host_ifindex, &tmp.ip4, tmp.mac);
		if (tmp.ip6.family) {
			struct ip_prefix host6 = { .addr = tmp.ip6, .plen = 128 };

			route_replace(ag->nl, tmp.host_ifindex, &host6, NULL);
			neigh_replace(ag->nl, tmp.host_ifindex, &tmp.ip6, tmp.mac);
		}
	}
	if (!e)
		e = &ag->eps[slot];
	*e = tmp;
	e->used = true;
	e->present = true;
	snprintf(e->net_id, sizeof(e->net_id), "%s", n->id);
	snprintf(e->cid, sizeof(e->cid), "%s", c->id);
	err = ag_ep_dp_sync(ag, e);
	if (err) {
		why = "cannot program the BPF maps";
		memset(e, 0, sizeof(*e));
		e = NULL;
		goto fail;
	}
	ctr_default_route(ag, c->id, cnl, NULL);
	ag_dns_open(ag, c);
	ag_state_save(ag);
	rtnl_close(cnl);
	close(nsfd);
	log_info("endpoint %s/%s %s of %s on %s", e->host_ifname, e->ifname, ip,
		 c->name, n->name);
	return proto_reply_ok(ep_result(e));
fail:
	log_err("AddEndpoint %s on %s: %s: %s", c ? c->name : "?", n->name,
		why, strerror(-err));
	if (veth_made && tmp.host_ifindex > 0)
		link_del(ag->nl, tmp.host_ifindex);
	if (cnl)
		rtnl_close(cnl);
	if (nsfd >= 0)
		close(nsfd);
	if (c && ctr_new && !ctr_has_endpoints(ag, c->id))
		ag_ctr_clear(c);
	return proto_reply_err(err, "%s: %s", why, strerror(-err));
}

static void ep_remove(struct agent *ag, struct ag_ep *e)
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
	if (!ctr_has_endpoints(ag, cid)) {
		ag_dns_close(ag, c);
		ag_ctr_clear(c);
		return;
	}
	if (had_default) {
		int nsfd = netns_open(c->netns);
		struct rtnl *cnl = nsfd >= 0 ? rtnl_open(nsfd) : NULL;

		if (cnl)
			ctr_default_route(ag, cid, cnl, NULL);
		rtnl_close(cnl);
		if (nsfd >= 0)
			close(nsfd);
	}
}

static json_t *op_remove_endpoint(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	const char *cid = json_str(args, "container_id");
	struct ag_ep *e;

	if (!valid_id(net_id) || !valid_id(cid))
		return proto_reply_err(-EINVAL, "network_id and container_id must be 12-64 lowercase hex characters");
	e = ag_ep_find(ag, net_id, cid);
	if (e) {
		ep_remove(ag, e);
		ag_nft_sync(ag);
		ag_state_save(ag);
	}
	return proto_reply_ok(NULL);
}

/* ---- UpdatePeers --------------------------------------------------------- */

struct dest_gc {
	uint32_t net_id;
	json_t *want; /* object: address text -> true */
	struct ip_addr del[1024];
	size_t n_del;
};

static int dest_collect(const struct wgn_dest_key *k, const struct wgn_dest *v,
			void *data)
{
	struct dest_gc *gc = data;
	struct ip_addr ip = { .family = AF_INET6 };
	char buf[IPNET_STRLEN];

	if (k->net_id != gc->net_id || v->kind != WGN_DEST_REMOTE)
		return 0;
	memcpy(ip.a, k->addr, 16);
	if (!memcmp(ip.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
		ip.family = AF_INET;
	if (!json_object_get(gc->want, ip_fmt(&ip, buf)) && gc->n_del < 1024)
		gc->del[gc->n_del++] = ip;
	return 0;
}

static void free_peers(struct wg_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(peers[i].allowed);
	free(peers);
}

static bool sockaddr_same(const struct sockaddr_storage *a,
			  const struct sockaddr_storage *b)
{
	struct ip_addr ia, ib;
	uint16_t pa = 0, pb = 0;

	if (a->ss_family != b->ss_family)
		return false;
	if (!a->ss_family)
		return true;
	if (ip_from_sockaddr((const struct sockaddr *)a, &ia, &pa) ||
	    ip_from_sockaddr((const struct sockaddr *)b, &ib, &pb))
		return false;
	return pa == pb && ip_equal(&ia, &ib);
}

static bool allowed_has(const struct wg_peer *p, const struct wg_allowedip *a)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < p->n_allowed; i++)
		if (p->allowed[i].family == a->family &&
		    p->allowed[i].cidr == a->cidr &&
		    !memcmp(p->allowed[i].addr, a->addr, alen))
			return true;
	return false;
}

static bool peer_same(const struct wg_peer *want, const struct wg_peer *have)
{
	if (want->n_allowed != have->n_allowed ||
	    want->keepalive != have->keepalive ||
	    !sockaddr_same(&want->endpoint, &have->endpoint))
		return false;
	for (size_t i = 0; i < want->n_allowed; i++)
		if (!allowed_has(have, &want->allowed[i]))
			return false;
	return true;
}

/*
 * Bring the device to the desired peer set by difference: peers that are
 * already right are not touched (their sessions, and the traffic in them,
 * go on), changed ones are updated in place, stale ones removed. Replacing
 * the whole set would drop every session and stall traffic for a
 * handshake; a replay after a restart must not do that.
 */
static int apply_peers(struct agent *ag, struct ag_net *n,
		       struct wg_peer *want, size_t nw)
{
	struct wg_device *cur = NULL, dev = { 0 };
	struct wg_peer *ops = NULL;
	size_t nops = 0;
	int err;

	snprintf(dev.name, sizeof(dev.name), "%s", n->ifname);
	if (ag->wg->get(n->ifname, &cur)) {
		dev.flags = WG_DEV_F_REPLACE_PEERS;
		dev.peers = want;
		dev.n_peers = nw;
		return ag->wg->set(n->ifname, &dev);
	}
	ops = calloc(nw + cur->n_peers + 1, sizeof(*ops));
	if (!ops) {
		wg_device_free(cur);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nw; i++) {
		const struct wg_peer *have = NULL;

		for (size_t k = 0; k < cur->n_peers && !have; k++)
			if (!memcmp(cur->peers[k].public_key, want[i].public_key,
				    WG_KEY_LEN))
				have = &cur->peers[k];
		if (!have || !peer_same(&want[i], have))
			ops[nops++] = want[i];
	}
	for (size_t k = 0; k < cur->n_peers; k++) {
		bool keep = false;

		for (size_t i = 0; i < nw && !keep; i++)
			keep = !memcmp(cur->peers[k].public_key,
				       want[i].public_key, WG_KEY_LEN);
		if (!keep) {
			memcpy(ops[nops].public_key, cur->peers[k].public_key,
			       WG_KEY_LEN);
			ops[nops++].flags = WG_PEER_F_REMOVE;
		}
	}
	err = 0;
	if (nops) {
		dev.peers = ops;
		dev.n_peers = nops;
		err = ag->wg->set(n->ifname, &dev);
	}
	log_debug("%s: %zu peer changes", n->ifname, nops);
	free(ops); /* borrowed allowed-ip arrays stay with want[] */
	wg_device_free(cur);
	return err;
}

static json_t *op_update_peers(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	json_t *jpeers = json_object_get(args, "peers"), *p, *want = NULL;
	struct wg_peer *peers = NULL;
	struct dest_gc gc;
	struct ag_net *n;
	size_t i, np;
	int err;

	if (!valid_id(net_id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	if (!json_is_array(jpeers))
		return proto_reply_err(-EINVAL, "peers must be an array");
	n = ag_net_find(ag, net_id);
	if (!n)
		return proto_reply_err(-ENOENT, "network %.12s is not on this guest", net_id);
	np = json_array_size(jpeers);
	if (np > 4096)
		return proto_reply_err(-EINVAL, "too many peers");
	peers = calloc(np ? np : 1, sizeof(*peers));
	want = json_object();
	if (!peers || !want) {
		err = -ENOMEM;
		goto out_err;
	}
	/* Validate everything before touching anything. */
	json_array_foreach(jpeers, i, p)
	{
		const char *key = json_str(p, "public_key"), *ep = json_str(p, "endpoint");
		json_t *ai = json_object_get(p, "allowed_ips"), *a;
		json_t *ka = json_object_get(p, "keepalive");
		struct ip_addr eip;
		uint16_t eport;
		socklen_t sl;
		size_t j;

		if (!json_is_object(p) || !key ||
		    wg_key_from_base64(peers[i].public_key, key)) {
			json_decref(want);
			free_peers(peers, np);
			return proto_reply_err(-EINVAL, "peer %zu: public_key must be a base64 WireGuard key", i);
		}
		if (!memcmp(peers[i].public_key, n->pub, WG_KEY_LEN)) {
			json_decref(want);
			free_peers(peers, np);
			return proto_reply_err(-EINVAL, "peer %zu is this guest itself", i);
		}
		if (ep) {
			if (endpoint_parse(ep, &eip, &eport)) {
				json_decref(want);
				free_peers(peers, np);
				return proto_reply_err(-EINVAL, "peer %zu: endpoint must be ip:port", i);
			}
			ip_to_sockaddr(&eip, eport, &peers[i].endpoint, &sl);
		}
		if (ka && (!json_is_integer(ka) || json_integer_value(ka) < 0 ||
			   json_integer_value(ka) > 65535)) {
			json_decref(want);
			free_peers(peers, np);
			return proto_reply_err(-EINVAL, "peer %zu: keepalive must be 0..65535", i);
		}
		peers[i].keepalive = (uint16_t)json_integer_value(ka);
		if (!json_is_array(ai) || json_array_size(ai) > 4096) {
			json_decref(want);
			free_peers(peers, np);
			return proto_reply_err(-EINVAL, "peer %zu: allowed_ips must be an array", i);
		}
		peers[i].allowed = calloc(json_array_size(ai) + 1, sizeof(*peers[i].allowed));
		if (!peers[i].allowed) {
			err = -ENOMEM;
			goto out_err;
		}
		json_array_foreach(ai, j, a)
		{
			struct ip_prefix pf;
			struct wg_allowedip *w = &peers[i].allowed[peers[i].n_allowed];
			char buf[IPNET_STRLEN];

			if (!json_is_string(a) ||
			    prefix_parse(json_string_value(a), true, &pf) ||
			    pf.plen != ip_max_plen(pf.addr.family) ||
			    !(prefix_contains(&n->subnet4, &pf.addr) ||
			      (n->subnet6.addr.family &&
			       prefix_contains(&n->subnet6, &pf.addr)))) {
				json_decref(want);
				free_peers(peers, np);
				return proto_reply_err(-EINVAL,
						       "peer %zu: allowed_ips must be /32 or /128 addresses of the network", i);
			}
			w->family = pf.addr.family;
			if (pf.addr.family == AF_INET)
				memcpy(w->addr, pf.addr.a + 12, 4);
			else
				memcpy(w->addr, pf.addr.a, 16);
			w->cidr = (uint8_t)pf.plen;
			peers[i].n_allowed++;
			json_object_set_new(want, ip_fmt(&pf.addr, buf), json_true());
		}
	}
	err = apply_peers(ag, n, peers, np);
	if (err) {
		log_err("%s: cannot set peers: %s", n->ifname, strerror(-err));
		goto out_err;
	}
	/* The BPF redirect set follows: new remote addresses in, old out. */
	json_array_foreach(jpeers, i, p)
	{
		json_t *a;
		size_t j;

		json_array_foreach(json_object_get(p, "allowed_ips"), j, a)
		{
			struct ip_prefix pf;
			struct wgn_dest d = { .kind = WGN_DEST_REMOTE,
					      .ifindex = (__u32)n->ifindex };
			bool local = false;

			prefix_parse(json_string_value(a), true, &pf);
			for (int k = 0; k < AG_MAX_EPS; k++) {
				struct ag_ep *e = &ag->eps[k];

				if (e->used && e->present && !strcmp(e->net_id, n->id) &&
				    (ip_equal(&e->ip4, &pf.addr) || ip_equal(&e->ip6, &pf.addr)))
					local = true;
			}
			if (!local)
				dp_dest_set(ag->dp, (uint32_t)n->index, &pf.addr, &d);
		}
	}
	gc.net_id = (uint32_t)n->index;
	gc.want = want;
	gc.n_del = 0;
	dp_dest_foreach(ag->dp, dest_collect, &gc);
	for (i = 0; i < gc.n_del; i++)
		dp_dest_del(ag->dp, gc.net_id, &gc.del[i]);
	json_decref(n->peers);
	n->peers = json_deep_copy(jpeers);
	ag_state_save(ag);
	free_peers(peers, np);
	json_decref(want);
	log_info("%s: %zu peers", n->ifname, np);
	return proto_reply_ok(NULL);
out_err:
	free_peers(peers, np);
	json_decref(want);
	return proto_reply_err(err, "cannot update peers: %s", strerror(-err));
}

/* ---- SetDNS / PublishPorts / Reconcile -------------------------------- */

static json_t *op_set_dns(struct agent *ag, json_t *args)
{
	const char *cid = json_str(args, "container_id");
	json_t *recs = json_object_get(args, "records"), *r;
	struct ag_ctr *c;
	size_t i;

	if (!valid_id(cid))
		return proto_reply_err(-EINVAL, "container_id must be 12-64 lowercase hex characters");
	if (!json_is_array(recs) || json_array_size(recs) > 65536)
		return proto_reply_err(-EINVAL, "records must be an array");
	json_array_foreach(recs, i, r)
	{
		const char *name = json_str(r, "name"), *addr = json_str(r, "address");
		struct ip_addr ip;

		if (!name || !*name || strlen(name) > 253 || !addr || ip_parse(addr, &ip))
			return proto_reply_err(-EINVAL, "record %zu must have a name and an address", i);
	}
	c = ag_ctr_find(ag, cid);
	if (!c)
		return proto_reply_err(-ENOENT, "container %.12s has no endpoint on this guest", cid);
	json_decref(c->dns);
	c->dns = json_deep_copy(recs);
	ag_dns_records(ag, c);
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

/* A mapping's host address; family 0 for any (absent, "", 0.0.0.0, ::). */
static void port_hip(json_t *p, struct ip_addr *a)
{
	static const uint8_t zero[16];
	const char *hip = json_str(p, "host_ip");

	if (!hip || !*hip || ip_parse(hip, a) ||
	    (a->family == AF_INET && !ip_v4_be(a)) ||
	    (a->family == AF_INET6 && !memcmp(a->a, zero, 16)))
		memset(a, 0, sizeof(*a));
}

/* Same protocol and host port, on any address or on the same one. */
static bool ports_collide(json_t *p, json_t *q)
{
	struct ip_addr a, b;

	if (json_integer_value(json_object_get(p, "host_port")) !=
		    json_integer_value(json_object_get(q, "host_port")) ||
	    strcmp(json_str(p, "proto") ?: "", json_str(q, "proto") ?: ""))
		return false;
	port_hip(p, &a);
	port_hip(q, &b);
	return !a.family || !b.family || ip_equal(&a, &b);
}

static json_t *op_publish_ports(struct agent *ag, json_t *args)
{
	const char *cid = json_str(args, "container_id");
	json_t *ports = json_object_get(args, "ports"), *p, *old;
	struct ag_ctr *c;
	size_t i;
	int err;

	if (!valid_id(cid))
		return proto_reply_err(-EINVAL, "container_id must be 12-64 lowercase hex characters");
	if (!json_is_array(ports) || json_array_size(ports) > 1024)
		return proto_reply_err(-EINVAL, "ports must be an array");
	c = ag_ctr_find(ag, cid);
	if (!c)
		return proto_reply_err(-ENOENT, "container %.12s has no endpoint on this guest", cid);
	json_array_foreach(ports, i, p)
	{
		const char *proto = json_str(p, "proto"), *hip = json_str(p, "host_ip");
		const char *cip = json_str(p, "container_ip");
		json_int_t hp = json_integer_value(json_object_get(p, "host_port"));
		json_int_t cp = json_integer_value(json_object_get(p, "container_port"));
		struct ip_addr a;

		if (!proto || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
			return proto_reply_err(-EINVAL, "port %zu: proto must be tcp or udp", i);
		if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535)
			return proto_reply_err(-EINVAL, "port %zu: ports must be 1..65535", i);
		if ((hip && *hip && ip_parse(hip, &a)) || !cip || ip_parse(cip, &a))
			return proto_reply_err(-EINVAL, "port %zu: bad address", i);
		/* Conflicts with other containers' mappings. */
		for (int k = 0; k < AG_MAX_CTRS; k++) {
			struct ag_ctr *o = &ag->ctrs[k];
			json_t *q;
			size_t j;

			if (!o->used || o == c)
				continue;
			json_array_foreach(o->ports, j, q)
			{
				if (ports_collide(p, q))
					return proto_reply_err(-EADDRINUSE,
							       "port %lld/%s is already published by %s",
							       (long long)hp, proto, o->name);
			}
		}
	}
	old = c->ports;
	c->ports = json_deep_copy(ports);
	err = ag_nft_sync(ag);
	if (err) {
		json_decref(c->ports);
		c->ports = old;
		ag_nft_sync(ag);
		return proto_reply_err(err, "cannot apply port mappings: %s", strerror(-err));
	}
	json_decref(old);
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

static bool in_list(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static json_t *op_reconcile(struct agent *ag, json_t *args)
{
	json_t *nets = json_object_get(args, "networks");
	json_t *ctrs = json_object_get(args, "containers");
	json_t *rn = json_array(), *re = json_array();

	if (!json_is_array(nets) || !json_is_array(ctrs)) {
		json_decref(rn);
		json_decref(re);
		return proto_reply_err(-EINVAL, "networks and containers must be arrays");
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (e->used && (!in_list(ctrs, e->cid) || !in_list(nets, e->net_id))) {
			json_array_append_new(re, json_pack("{s:s,s:s}", "network_id",
							    e->net_id, "container_id", e->cid));
			ep_remove(ag, e);
		}
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (n->used && !in_list(nets, n->id)) {
			json_array_append_new(rn, json_string(n->id));
			net_remove(ag, n);
		}
	}
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		struct ag_ctr *c = &ag->ctrs[i];

		if (c->used && !ctr_has_endpoints(ag, c->id)) {
			ag_dns_close(ag, c);
			ag_ctr_clear(c);
		}
	}
	ag_nft_sync(ag);
	ag_state_save(ag);
	return proto_reply_ok(json_pack("{s:{s:o,s:o}}", "removed", "networks", rn,
					"endpoints", re));
}

/* ---- Hub, status ------------------------------------------------------- */

static json_t *underlay_json(struct agent *ag)
{
	char a[IPNET_STRLEN], p[IPNET_STRLEN];
	struct ip_prefix net = ag->underlay;

	prefix_normalize(&net);
	return json_pack("{s:s,s:s,s:s,s:i}", "ifname", ag->underlay_if, "address",
			 ip_fmt(&ag->underlay.addr, a), "prefix", prefix_fmt(&net, p),
			 "mtu", (int)ag->underlay_mtu);
}

static json_t *op_create_hub(struct agent *ag, json_t *args)
{
	json_t *ctrl = json_object_get(args, "ctrl_prefixes"), *v;
	size_t i;
	int err;

	if (ctrl) {
		if (!json_is_array(ctrl) || json_array_size(ctrl) > 32)
			return proto_reply_err(-EINVAL, "ctrl_prefixes must be an array of at most 32 CIDRs");
		json_array_foreach(ctrl, i, v)
		{
			struct ip_prefix p;

			if (!json_is_string(v) ||
			    prefix_parse(json_string_value(v), false, &p))
				return proto_reply_err(-EINVAL, "ctrl_prefixes[%zu] is not a CIDR", i);
		}
		json_decref(ag->ctrl);
		ag->ctrl = json_deep_copy(ctrl);
	}
	err = ag_hub_setup(ag);
	if (err)
		return proto_reply_err(err, "cannot set up the hub: %s", strerror(-err));
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

/* SetIsolation {"subnets":[CIDR…]}: the subnets of all wgnet networks, the
 * full set. Those of networks not joined here are dropped as isolation. */
static json_t *op_set_isolation(struct agent *ag, json_t *args)
{
	json_t *subs = json_object_get(args, "subnets"), *v;
	struct ip_prefix p;
	size_t i;
	int err;

	if (!json_is_array(subs) || json_array_size(subs) > 1024)
		return proto_reply_err(-EINVAL, "subnets must be an array of at most 1024 CIDRs");
	json_array_foreach(subs, i, v)
		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			return proto_reply_err(-EINVAL, "subnets[%zu] is not a CIDR", i);
	/* Entries that left the set (and are no joined network's). */
	json_array_foreach(ag->isolate, i, v)
	{
		size_t k;
		json_t *w;
		bool keep = false;

		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			continue;
		prefix_normalize(&p);
		json_array_foreach(subs, k, w)
		{
			struct ip_prefix q;

			prefix_parse(json_string_value(w), false, &q);
			prefix_normalize(&q);
			keep = keep || (q.plen == p.plen && ip_equal(&q.addr, &p.addr));
		}
		if (!keep && !ag_subnet_joined(ag, &p))
			dp_subnet_del(ag->dp, &p);
	}
	json_decref(ag->isolate);
	ag->isolate = json_deep_copy(subs);
	err = ag_isolation_sync(ag);
	ag_state_save(ag);
	if (err)
		return proto_reply_err(err, "cannot program the isolated subnets: %s",
				       strerror(-err));
	return proto_reply_ok(NULL);
}

static json_t *op_delete_hub(struct agent *ag, json_t *args)
{
	(void)args;
	for (int i = 0; i < AG_MAX_NETS; i++)
		if (ag->nets[i].used)
			net_remove(ag, &ag->nets[i]);
	for (int i = 0; i < AG_MAX_CTRS; i++)
		if (ag->ctrs[i].used) {
			ag_dns_close(ag, &ag->ctrs[i]);
			ag_ctr_clear(&ag->ctrs[i]);
		}
	json_decref(ag->ctrl);
	ag->ctrl = NULL;
	json_decref(ag->isolate);
	ag->isolate = NULL;
	ag_hub_teardown(ag);
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

static json_t *counters_json(struct agent *ag, bool drops)
{
	uint64_t v[(int)WGN_DROP__MAX + (int)WGN_STAT__MAX] = { 0 };
	int max = drops ? WGN_DROP__MAX : WGN_STAT__MAX;
	json_t *o = json_object();

	if (!ag->dp || (drops ? dp_read_drops(ag->dp, v) : dp_read_stats(ag->dp, v)))
		return o;
	for (int i = drops ? 1 : 0; i < max; i++) {
		const char *name = drops ? dp_drop_name(i) : dp_stat_name(i);

		if (name && *name && strcmp(name, "unknown"))
			json_object_set_new(o, name, json_integer((json_int_t)v[i]));
	}
	return o;
}

static json_t *op_get_status(struct agent *ag, json_t *args)
{
	json_t *nets = json_array(), *eps = json_array(), *res;

	(void)args;
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];
		struct wg_device *dev = NULL;
		json_t *jn = net_result(n), *peers = json_array();

		if (!n->used) {
			json_decref(jn);
			json_decref(peers);
			continue;
		}
		json_object_set_new(jn, "id", json_string(n->id));
		json_object_set_new(jn, "name", json_string(n->name));
		if (!ag->wg->get(n->ifname, &dev)) {
			for (size_t p = 0; p < dev->n_peers; p++) {
				struct wg_peer *wp = &dev->peers[p];
				char key[WG_KEY_B64_LEN], buf[IPNET_STRLEN + 8];
				json_t *ai = json_array();
				struct ip_addr ip;
				uint16_t port = 0;

				wg_key_to_base64(key, wp->public_key);
				buf[0] = '\0';
				if (wp->endpoint.ss_family &&
				    !ip_from_sockaddr((struct sockaddr *)&wp->endpoint, &ip, &port)) {
					char a[IPNET_STRLEN];

					snprintf(buf, sizeof(buf), ip.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
						 ip_fmt(&ip, a), port);
				}
				for (size_t k = 0; k < wp->n_allowed; k++) {
					struct ip_addr x = { .family = wp->allowed[k].family };
					char a[IPNET_STRLEN + 8];
					size_t l;

					if (x.family == AF_INET) {
						x.a[10] = x.a[11] = 0xff;
						memcpy(x.a + 12, wp->allowed[k].addr, 4);
					} else {
						memcpy(x.a, wp->allowed[k].addr, 16);
					}
					ip_fmt(&x, a);
					l = strlen(a);
					snprintf(a + l, sizeof(a) - l, "/%u", wp->allowed[k].cidr);
					json_array_append_new(ai, json_string(a));
				}
				json_array_append_new(
					peers, json_pack("{s:s,s:s,s:o,s:I,s:I,s:I}", "public_key", key,
							 "endpoint", buf, "allowed_ips", ai,
							 "latest_handshake", (json_int_t)wp->last_handshake.tv_sec,
							 "rx_bytes", (json_int_t)wp->rx_bytes,
							 "tx_bytes", (json_int_t)wp->tx_bytes));
			}
			wg_device_free(dev);
			json_object_set_new(jn, "up", json_true());
		} else {
			json_object_set_new(jn, "up", json_false());
		}
		json_object_set_new(jn, "peers", peers);
		json_array_append_new(nets, jn);
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];
		struct ag_ctr *c;
		char a[IPNET_STRLEN], a6[IPNET_STRLEN], mac[18];

		if (!e->used)
			continue;
		c = ag_ctr_find(ag, e->cid);
		mac_fmt(e->mac, mac);
		json_array_append_new(
			eps, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "network_id",
				       e->net_id, "container_id", e->cid, "container",
				       c ? c->name : "", "ifname", e->ifname, "host_ifname",
				       e->host_ifname, "ip", ip_fmt(&e->ip4, a), "ip6",
				       ip_fmt(&e->ip6, a6), "mac", mac, "present", e->present));
	}
	res = json_pack("{s:s,s:s,s:o,s:o,s:o,s:s}", "guest", ag->name, "backend",
			ag->wg->name, "underlay", underlay_json(ag), "networks", nets,
			"endpoints", eps, "pin_dir", ag->pin_dir);
	json_object_set_new(res, "drops", counters_json(ag, true));
	json_object_set_new(res, "stats", counters_json(ag, false));
	return proto_reply_ok(res);
}

static json_t *op_hello(struct agent *ag, json_t *args)
{
	(void)args;
	return proto_reply_ok(json_pack("{s:i,s:s,s:s}", "version", PROTO_VERSION,
					"guest", ag->name, "backend", ag->wg->name));
}

static json_t *op_underlay(struct agent *ag, json_t *args)
{
	(void)args;
	return proto_reply_ok(underlay_json(ag));
}

static const struct {
	const char *name;
	json_t *(*fn)(struct agent *ag, json_t *args);
	bool needs_dp;
} ops[] = {
	{ "Hello", op_hello, false },
	{ "GetUnderlayEndpoint", op_underlay, false },
	{ "CreateHub", op_create_hub, false },
	{ "DeleteHub", op_delete_hub, false },
	{ "AddNetwork", op_add_network, true },
	{ "RemoveNetwork", op_remove_network, true },
	{ "AddEndpoint", op_add_endpoint, true },
	{ "RemoveEndpoint", op_remove_endpoint, true },
	{ "UpdatePeers", op_update_peers, true },
	{ "SetDNS", op_set_dns, false },
	{ "PublishPorts", op_publish_ports, true },
	{ "Reconcile", op_reconcile, true },
	{ "GetStatus", op_get_status, false },
	{ "SetIsolation", op_set_isolation, true },
};

json_t *ag_dispatch(struct agent *ag, const char *op, json_t *args)
{
	json_t *empty = NULL, *r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i].name))
			continue;
		if (ops[i].needs_dp && !ag->dp) {
			int err = ag_hub_setup(ag);

			if (err)
				return proto_reply_err(err, "the data plane is not available: %s",
						       strerror(-err));
		}
		if (!args)
			args = empty = json_object();
		r = ops[i].fn(ag, args);
		json_decref(empty);
		return r;
	}
	return proto_reply_err(-EOPNOTSUPP, "unknown op \"%.64s\"", op);
}
