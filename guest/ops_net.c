// SPDX-License-Identifier: GPL-2.0
/* Guest calls on networks: AddNetwork, RemoveNetwork, UpdatePeers. */
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

/* ---- AddNetwork / RemoveNetwork ---------------------------------------- */

json_t *ag_net_result(struct ag_net *n)
{
	char b64[WG_KEY_B64_LEN];

	wg_key_to_base64(b64, n->pub);
	return json_pack("{s:s,s:i,s:s,s:i}", "ifname", n->ifname, "index",
			 n->index, "public_key", b64, "listen_port", n->port);
}

static json_t *add_network_result(struct agent *ag, struct ag_net *n)
{
	json_t *res = ag_net_result(n);

	if (res)
		ag_mtu_result(ag, n, res);
	return res;
}

static int parse_network(json_t *jn, struct ag_net *n, const char **why)
{
	const char *id = json_str(jn, "id"), *name = json_str(jn, "name");
	const char *sub = json_str(jn, "subnet"), *gw = json_str(jn, "gateway");
	const char *sub6 = json_str(jn, "subnet6"), *gw6 = json_str(jn, "gateway6");
	json_t *internal = json_object_get(jn, "internal");

	if (!json_is_object(jn))
		return *why = "network must be an object", -EINVAL;
	if (!ag_valid_id(id))
		return *why = "network.id must be 12-64 lowercase hex characters", -EINVAL;
	if (name && !ag_valid_name(name))
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

json_t *ag_op_add_network(struct agent *ag, json_t *args)
{
	struct ag_net tmp = { 0 }, *n = NULL;
	struct wg_device dev = { 0 };
	const char *why = NULL;
	char kpath[AG_PATH_LEN + 80];
	bool used_idx[AG_MAX_NETS] = { false };
	bool created = false;
	unsigned int mtu = 0;
	int err, slot = -1;

	err = parse_network(json_object_get(args, "network"), &tmp, &why);
	if (!err)
		err = ag_mtu_parse(ag, json_object_get(args, "network"), &tmp,
				   &mtu, &why);
	if (err)
		return proto_reply_err(err, "%s", why);
	n = ag_net_find(ag, tmp.id);
	if (n) {
		/* Idempotent: the network is there; heal its interface if the
		 * WireGuard device vanished (replay after a crash). */
		if (n->ifindex > 0 && ag->wg->exists(n->ifname) > 0) {
			ag_mtu_apply(ag, n, mtu);
			ag_state_save(ag);
			return proto_reply_ok(add_network_result(ag, n));
		}
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
	n->mtu = mtu;

	ag_key_path(ag, n->id, kpath, sizeof(kpath));
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
	err = link_set(ag->nl, n->ifindex, NULL, n->mtu, NULL, 1);
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
	return proto_reply_ok(add_network_result(ag, n));
fail:
	explicit_bzero(&dev, sizeof(dev));
	log_err("AddNetwork %s: %s: %s", tmp.name, why, strerror(-err));
	net_undo(ag, n, created);
	ag_net_clear(n);
	ag_isolation_sync(ag); /* its subnet is isolated again */
	return proto_reply_err(err, "%s: %s", why, strerror(-err));
}


void ag_net_remove(struct agent *ag, struct ag_net *n)
{
	char kpath[AG_PATH_LEN + 80];

	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].net_id, n->id))
			ag_ep_remove(ag, &ag->eps[i]);
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
	ag_key_path(ag, n->id, kpath, sizeof(kpath));
	unlink(kpath);
	log_info("network %s (%.12s) removed from %s", n->name, n->id, n->ifname);
	ag_net_clear(n);
	ag_isolation_sync(ag); /* its subnet is isolated again */
}

json_t *ag_op_remove_network(struct agent *ag, json_t *args)
{
	const char *id = json_str(args, "network_id");
	struct ag_net *n;

	if (!ag_valid_id(id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	n = ag_net_find(ag, id);
	if (n) {
		ag_net_remove(ag, n);
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

json_t *ag_op_update_peers(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	json_t *jpeers = json_object_get(args, "peers"), *p, *want = NULL;
	struct wg_peer *peers = NULL;
	struct dest_gc gc;
	struct ag_net *n;
	const char *why = NULL;
	unsigned int mtu = 0;
	size_t i, np;
	int err;

	if (!ag_valid_id(net_id))
		return proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	if (!json_is_array(jpeers))
		return proto_reply_err(-EINVAL, "peers must be an array");
	n = ag_net_find(ag, net_id);
	if (!n)
		return proto_reply_err(-ENOENT, "network %.12s is not on this guest", net_id);
	np = json_array_size(jpeers);
	if (np > 4096)
		return proto_reply_err(-EINVAL, "too many peers");
	err = ag_mtu_check(ag, n, json_object_get(args, "mtu"), &mtu, &why);
	if (err)
		return proto_reply_err(err, "%s", why);
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
	ag_mtu_apply(ag, n, mtu);
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

