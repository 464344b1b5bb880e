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

/* Transmit queue (TUN ring) of the WireGuard interfaces, in packets. */
#define AG_WG_TXQLEN 2000

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

/* The network's WireGuard interface as n describes it (name, port, key,
 * MTU, gateway addresses, BPF): AddNetwork's, and a rebuild's. *created:
 * the interface is new (an error path deletes it then). */
static int net_device_build(struct agent *ag, struct ag_net *n, bool *created,
			    const char **why)
{
	struct wg_device dev = { 0 };
	char kpath[AG_PATH_LEN + 80];
	int err;

	ag_key_path(ag, n->id, kpath, sizeof(kpath));
	err = wg_key_load_or_create(kpath, dev.private_key);
	if (err) {
		*why = "cannot create the private key";
		goto out;
	}
	wg_key_public(n->pub, dev.private_key);
	err = ag->wg->create(n->ifname);
	if (err && err != -EEXIST) {
		*why = err == -EMFILE && !strcmp(ag->wg->name, "userspace") ?
			       "cannot start wireguard-go: no inotify instance left (fs.inotify.max_user_instances; each wireguard-go takes one)" :
			       "cannot create the WireGuard interface";
		goto out;
	}
	*created = !err;
	snprintf(dev.name, sizeof(dev.name), "%s", n->ifname);
	dev.flags = WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT;
	dev.listen_port = n->port;
	err = ag->wg->set(n->ifname, &dev);
	if (err) {
		*why = "cannot configure the WireGuard interface";
		goto out;
	}
	n->ifindex = link_index(ag->nl, n->ifname);
	if (n->ifindex <= 0) {
		err = n->ifindex ? n->ifindex : -ENODEV;
		*why = "the WireGuard interface did not appear";
		goto out;
	}
	/* wireguard-go's TUN drops what does not fit its ring (txqueuelen,
	 * 500 by default) while the daemon waits for a CPU: give it room
	 * for a burst (docs/perf.md, "cross-guest anatomy"). */
	err = link_set_txqlen(ag->nl, n->ifindex, AG_WG_TXQLEN);
	if (err)
		log_warn("%s: txqueuelen %d: %s", n->ifname, AG_WG_TXQLEN,
			 strerror(-err));
	err = link_set(ag->nl, n->ifindex, NULL, n->mtu, NULL, 1);
	if (err) {
		*why = "cannot bring the WireGuard interface up";
		goto out;
	}
	/* The gateway lives on the guest, as a bridge's address would: the
	 * container can ping it, and the guest's stack answers it. */
	addr_add(ag->nl, n->ifindex, &n->gw4, 32);
	if (n->gw6.family)
		addr_add(ag->nl, n->ifindex, &n->gw6, 128);
	err = ag_net_dp_sync(ag, n);
	if (err) {
		*why = "cannot program the BPF maps";
		goto out;
	}
out:
	explicit_bzero(&dev, sizeof(dev));
	return err;
}

/* What is left of an interface that no longer works: its BPF attachment
 * and entry, the link (a hung wireguard-go's) and its UAPI socket. */
static void net_device_drop(struct agent *ag, struct ag_net *n)
{
	if (n->ifindex > 0) {
		dp_iface_del(ag->dp, (uint32_t)n->ifindex);
		dp_detach(ag->dp, n->ifindex);
	}
	n->ifindex = 0;
	ag->wg->destroy(n->ifname);
}

json_t *ag_op_add_network(struct agent *ag, json_t *args)
{
	struct ag_net tmp = { 0 }, *n = NULL;
	const char *why = NULL;
	char keep_if[sizeof(tmp.ifname)] = "";
	uint16_t keep_port = 0;
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
		/* The rebuild keeps the interface's name and port (after a
		 * key rotation they are not the base ones, and the host has
		 * them); a rotation in flight is undone (its host aborts);
		 * a device whose wireguard-go hangs is deleted first. */
		snprintf(keep_if, sizeof(keep_if), "%s", n->ifname);
		keep_port = n->port;
		ag_rot_undo(ag, n);
		net_device_drop(ag, n);
		tmp.index = n->index;
		slot = (int)(n - ag->nets);
		/* The new device holds no peer: generation 0 makes the host
		 * send the full set again (SyncNetwork). */
		tmp.peers = n->peers;
		tmp.dns = n->dns;
		n->peers = n->dns = NULL;
		ag_net_clear(n);
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		if (!ag->nets[i].used)
			continue;
		used_idx[ag->nets[i].index] = true;
		if (prefix_overlap(&ag->nets[i].subnet4, &tmp.subnet4)) {
			json_decref(tmp.peers);
			json_decref(tmp.dns);
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
	if (keep_if[0]) {
		snprintf(n->ifname, sizeof(n->ifname), "%s", keep_if);
		n->port = keep_port;
	}
	n->mtu = mtu;

	err = net_device_build(ag, n, &created, &why);
	if (err)
		goto fail;
	err = ag_nft_sync(ag);
	if (err) {
		why = "cannot apply the nftables table";
		goto fail;
	}
	ag_state_save(ag);
	log_info("network %s (%.12s) on %s, port %u", n->name, n->id, n->ifname,
		 n->port);
	return proto_reply_ok(add_network_result(ag, n));
fail:
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
	ag_net_dests_clear(ag, n); /* remote destinations */
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

/* ---- UpdatePeers / SyncNetwork / UpdateNetwork ------------------------- */

static struct ag_net *net_arg(struct agent *ag, json_t *args, json_t **err)
{
	const char *net_id = json_str(args, "network_id");
	struct ag_net *n;

	*err = NULL;
	if (!ag_valid_id(net_id)) {
		*err = proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
		return NULL;
	}
	n = ag_net_find(ag, net_id);
	if (!n)
		*err = proto_reply_err(-ENOENT, "network %.12s is not on this guest", net_id);
	return n;
}

/* A generation: a JSON integer >= 1. */
static int gen_arg(json_t *args, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(args, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* The optional "mtu" of the network (docs/operations.md): checked before
 * anything changes, applied after. */
static int mtu_arg(struct agent *ag, struct ag_net *n, json_t *args,
		   unsigned int *mtu, json_t **rep)
{
	const char *why = NULL;
	int err;

	*mtu = 0;
	err = ag_mtu_check(ag, n, json_object_get(args, "mtu"), mtu, &why);
	if (err)
		*rep = proto_reply_err(err, "%s", why);
	return err;
}

/*
 * The backend's data-path tuning (wireguard-go: its UDP socket buffers, see
 * src/wg_sockbuf.c). Peers are pushed after the interface is up, so its
 * sockets are bound by now or within moments: wait for the first one (up to
 * a second), then tune again until both (IPv4 and IPv6) were seen, at the
 * next peer updates. Best effort: only speed depends on it.
 */
static void net_tune(struct agent *ag, struct ag_net *n)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int ret = 0, tries;

	if (!ag->wg->tune || n->wg_tuned >= 2)
		return;
	for (tries = 0; tries < 100; tries++) {
		ret = ag->wg->tune(n->ifname);
		if (ret)
			break;
		nanosleep(&t, NULL);
	}
	if (ret > 0 && ret != n->wg_tuned)
		log_info("%s: socket buffers of %d socket(s) raised", n->ifname,
			 ret);
	else if (ret <= 0)
		log_warn("%s: socket buffers not raised: %s", n->ifname,
			 ret ? strerror(-ret) : "no socket bound yet");
	/* An error will not go away by itself: do not try again. */
	n->wg_tuned = ret < 0 ? 2 : ret;
}

#define AG_HEAL_RETRY_S 10

/*
 * The network's WireGuard interface is gone but the network is not:
 * wireguard-go exited (killed, crashed: its TUN goes with it). The
 * interface is rebuilt as it was (name, port, key, MTU, addresses, BPF)
 * and given the peers the agent holds, so the data path comes back
 * without waiting for the host; peers keep their keys, so the remote
 * ends take the new session at the next handshake.
 */
int ag_net_heal(struct agent *ag, struct ag_net *n)
{
	json_t *peers = json_array(), *p;
	const char *why = NULL, *k;
	bool created = false;
	char pwhy[256];
	int err;

	log_warn(
		"%s: the WireGuard interface of network %s is gone (wireguard-go exited?): rebuilding it",
		n->ifname, n->name);
	net_device_drop(ag, n);
	n->wg_tuned = 0;
	err = net_device_build(ag, n, &created, &why);
	if (err)
		goto fail;
	json_object_foreach(n->peers, k, p)
		json_array_append(peers, p);
	err = ag_peers_full(ag, n, peers, pwhy, sizeof(pwhy));
	if (err < 0) {
		why = pwhy;
		goto fail;
	}
	if (err) /* applied, but for the addresses the map could not take */
		log_warn("%s: %s", n->ifname, pwhy);
	net_tune(ag, n);
	ag_nft_sync(ag);
	json_decref(peers);
	log_info("%s: rebuilt with %zu peers", n->ifname,
		 json_object_size(n->peers));
	return 0;
fail:
	log_err("%s: cannot rebuild the interface of network %s: %s: %s (again in %d s)",
		n->ifname, n->name, why ? why : "error", strerror(-err),
		AG_HEAL_RETRY_S);
	net_device_drop(ag, n);
	n->heal_after = time(NULL) + AG_HEAL_RETRY_S;
	json_decref(peers);
	return err;
}

/* The full peer set, no generation (compatibility). */
json_t *ag_op_update_peers(struct agent *ag, json_t *args)
{
	json_t *jpeers = json_object_get(args, "peers"), *rep;
	struct ag_net *n = net_arg(ag, args, &rep);
	unsigned int mtu;
	char why[200];
	int err;

	if (!n)
		return rep;
	if (mtu_arg(ag, n, args, &mtu, &rep))
		return rep;
	err = ag_peers_full(ag, n, jpeers, why, sizeof(why));
	if (err < 0)
		return proto_reply_err(err, "cannot update peers: %s", why);
	net_tune(ag, n);
	ag_mtu_apply(ag, n, mtu);
	ag_state_touch(ag);
	if (err > 0)
		return proto_reply_err(-ENOSPC, "%s", why);
	return proto_reply_ok(NULL);
}

static json_t *gen_reply(struct ag_net *n)
{
	return proto_reply_ok(json_pack("{s:I}", "gen", (json_int_t)n->gen));
}

/* Applied at the new gen, but some remote addresses did not fit in the
 * BPF destination map: an error (ENOSPC) that still carries the gen. */
static json_t *map_full_reply(struct ag_net *n, const char *why)
{
	json_t *rep = proto_reply_err(-ENOSPC, "%.12s: %s", n->id, why);

	json_object_set_new(rep, "gen", json_integer((json_int_t)n->gen));
	return rep;
}

/* The end of SyncNetwork and UpdateNetwork: err from applying (< 0: nothing
 * changed, > 0: applied, but the destination map is full), then the
 * interface's tuning and MTU and the network's new generation. */
static json_t *gen_applied(struct agent *ag, struct ag_net *n, int err,
			   const char *op, const char *why, unsigned int mtu,
			   uint64_t gen)
{
	if (err < 0)
		return proto_reply_err(err, "%s %.12s: %s", op, n->id, why);
	net_tune(ag, n);
	ag_mtu_apply(ag, n, mtu);
	n->gen = gen;
	ag_state_touch(ag);
	if (err > 0)
		return map_full_reply(n, why);
	return gen_reply(n);
}

/* SyncNetwork: the full peer and record sets at a generation. */
json_t *ag_op_sync_network(struct agent *ag, json_t *args)
{
	json_t *jpeers = json_object_get(args, "peers");
	json_t *dns = json_object_get(args, "dns"), *rep;
	struct ag_net *n = net_arg(ag, args, &rep);
	unsigned int mtu;
	char why[200];
	uint64_t gen;
	int err;

	if (!n)
		return rep;
	if (gen_arg(args, "gen", &gen) || !gen)
		return proto_reply_err(-EINVAL, "gen must be an integer >= 1");
	if (mtu_arg(ag, n, args, &mtu, &rep))
		return rep;
	if (!dns)
		dns = json_array();
	else
		json_incref(dns);
	err = ag_dns_check(dns, why, sizeof(why));
	if (!err)
		err = ag_peers_full(ag, n, jpeers, why, sizeof(why));
	if (err >= 0)
		ag_net_dns_set(ag, n, dns);
	json_decref(dns);
	return gen_applied(ag, n, err, "SyncNetwork", why, mtu, gen);
}

/* UpdateNetwork: a delta from the generation the guest holds. */
json_t *ag_op_update_network(struct agent *ag, json_t *args)
{
	const char *net_id = json_str(args, "network_id");
	json_t *set = json_object_get(args, "peers_set");
	json_t *remove = json_object_get(args, "peers_remove");
	json_t *dadd = json_object_get(args, "dns_add");
	json_t *drem = json_object_get(args, "dns_remove");
	json_t *empty = json_array(), *rep;
	struct ag_net *n;
	unsigned int mtu;
	uint64_t from, gen;
	char why[200];
	int err;

	if (!ag_valid_id(net_id))
		return json_decref(empty),
		       proto_reply_err(-EINVAL, "network_id must be 12-64 lowercase hex characters");
	if (gen_arg(args, "from_gen", &from) || gen_arg(args, "gen", &gen) ||
	    gen <= from) {
		json_decref(empty);
		return proto_reply_err(-EINVAL, "from_gen and gen must be integers, gen > from_gen");
	}
	n = ag_net_find(ag, net_id);
	if (!n || n->gen != from) {
		json_decref(empty);
		rep = proto_reply_err(-ESTALE, "network %.12s is at generation %llu here, not %llu",
				      net_id, n ? (unsigned long long)n->gen : 0ULL,
				      (unsigned long long)from);
		json_object_set_new(rep, "gen", json_integer(n ? (json_int_t)n->gen : 0));
		return rep;
	}
	if (mtu_arg(ag, n, args, &mtu, &rep)) {
		json_decref(empty);
		return rep;
	}
	set = set ? set : empty;
	remove = remove ? remove : empty;
	dadd = dadd ? dadd : empty;
	drem = drem ? drem : empty;
	err = ag_dns_check(dadd, why, sizeof(why));
	if (!err)
		err = ag_dns_check(drem, why, sizeof(why));
	if (!err)
		err = ag_peers_delta(ag, n, set, remove, why, sizeof(why));
	if (err >= 0)
		ag_net_dns_delta(ag, n, dadd, drem);
	json_decref(empty);
	return gen_applied(ag, n, err, "UpdateNetwork", why, mtu, gen);
}
