// SPDX-License-Identifier: GPL-2.0
/*
 * Key rotation without loss, make-before-break (docs/operations.md, "Key
 * rotation"). For one network, driven by wgnet-host in phases over every
 * guest on the network:
 *
 * Every request carries the host's "rotation" id (increasing): a request
 * of another rotation than the one in progress, or a RotatePrepare no newer
 * than the last, is refused with ESTALE (one that waited in the socket of a
 * frozen agent until its host had given up and started the next rotation).
 *
 *   RotatePrepare {"network_id","new_key":bool} → {"public_key","listen_port"}
 *     a second WireGuard interface for the network (the "next" one), with a
 *     new private key generated here (new_key) or the current one, on the
 *     other listen port, the network's MTU and gateway, the wgn_from_wg
 *     program and its wgn_ifaces entry: it delivers what it receives at once.
 *   RotatePeers {"network_id","peers":[PEER…]} → {}
 *     the next interface's peers: every other guest's next key and port.
 *     A peer's "keepalive" (seconds; PROTO_ROT_KEEPALIVE when absent) makes
 *     this end start the handshake now; the host gives it to one end of
 *     each pair, the one configured last.
 *   RotateSwitch {"network_id"} → {"switched":N,"pending":M,"old_bytes":B}
 *     each remote destination whose peer has completed a handshake on the
 *     next interface is redirected there (one wgn_dests update each);
 *     old_bytes (received + sent on the old interface) lets the host wait
 *     until nothing is in flight on the old path before the commit.
 *   RotateCommit {"network_id"} → AddNetwork's answer
 *     every destination on the next interface; the old interface, its key
 *     and its session are deleted; the next interface becomes the network's.
 *   RotateAbort {"network_id"} → {}
 *     destinations back to the current interface; the next one deleted.
 *
 * Private keys are generated here and never leave the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "ops.h"

#define ROT_PORT_OFFSET 1000 /* the two ports: 51820+i and 52820+i */
#define ROT_TXQLEN 2000 /* as AG_WG_TXQLEN */

static void next_key_path(struct agent *ag, const char *net_id, char *buf,
			  size_t n)
{
	snprintf(buf, n, "%s/keys/%s.next.key", ag->state_dir, net_id);
}

/* The request's "rotation" (0 when absent: a host that sends none). */
static uint64_t rot_arg_id(json_t *args)
{
	json_t *v = json_object_get(args, "rotation");

	return json_is_integer(v) && json_integer_value(v) > 0 ?
		       (uint64_t)json_integer_value(v) :
		       0;
}

/* A request of another rotation than the one in progress is stale: its
 * host gave up on it (a frozen agent read it late) and may have started
 * the next one. NULL: it may go on. */
static json_t *rot_check_id(const struct ag_net *n, json_t *args)
{
	uint64_t id = rot_arg_id(args);

	if (!id || id == n->rot_id)
		return NULL;
	return proto_reply_err(
		-ESTALE,
		"network %s: rotation %llu is not the one in progress (%llu)",
		n->name, (unsigned long long)id, (unsigned long long)n->rot_id);
}

static struct ag_net *rot_find(struct agent *ag, json_t *args, bool want_rot,
			       json_t **err)
{
	const char *id = json_str(args, "network_id");
	struct ag_net *n;

	*err = NULL;
	if (!ag_valid_id(id)) {
		*err = proto_reply_err(
			-EINVAL,
			"network_id must be 12-64 lowercase hex characters");
		return NULL;
	}
	n = ag_net_find(ag, id);
	if (!n)
		*err = proto_reply_err(
			-ENOENT, "network %.12s is not on this guest", id);
	else if (want_rot && !n->rot_ifindex)
		*err = proto_reply_err(-ENOENT,
				       "no rotation in progress on network %s",
				       n->name);
	return *err ? NULL : n;
}

/* The network of a request of the rotation in progress (or of none: an
 * abort), refused when it names another rotation. */
static struct ag_net *rot_net(struct agent *ag, json_t *args, bool want_rot,
			      json_t **err)
{
	struct ag_net *n = rot_find(ag, args, want_rot, err);

	if (n)
		*err = rot_check_id(n, args);
	return *err ? NULL : n;
}

/* The next interface's name and port: the other of the two. */
static int next_names(struct agent *ag, struct ag_net *n)
{
	size_t l = strlen(n->ifname);
	int len;

	if (l && n->ifname[l - 1] == 'r')
		len = snprintf(n->rot_ifname, sizeof(n->rot_ifname), "%.*s",
			       (int)(l - 1), n->ifname);
	else
		len = snprintf(n->rot_ifname, sizeof(n->rot_ifname), "%sr",
			       n->ifname);
	if (len <= 0 || (size_t)len >= sizeof(n->rot_ifname))
		return -ENAMETOOLONG;
	n->rot_port =
		n->port == WG_BASE_PORT + n->index ?
			(uint16_t)(WG_BASE_PORT + ROT_PORT_OFFSET + n->index) :
			(uint16_t)(WG_BASE_PORT + n->index);
	(void)ag;
	return 0;
}

static void next_undo(struct agent *ag, struct ag_net *n)
{
	char kpath[AG_PATH_LEN + 80];

	if (n->rot_ifindex > 0) {
		dp_iface_del(ag->dp, (uint32_t)n->rot_ifindex);
		dp_detach(ag->dp, n->rot_ifindex);
	}
	if (n->rot_ifname[0])
		ag->wg->destroy(n->rot_ifname);
	next_key_path(ag, n->id, kpath, sizeof(kpath));
	unlink(kpath);
	n->rot_ifindex = 0;
	n->rot_ifname[0] = '\0';
	n->rot_port = 0;
	n->rot_id = 0;
	n->rot_switched = 0;
	json_decref(n->rot_peers); /* what the undone interface held */
	n->rot_peers = NULL;
}

/* A rotation in flight is dropped (its next interface and key): the host
 * aborts it when its next step is refused. */
void ag_rot_undo(struct agent *ag, struct ag_net *n)
{
	if (n->rot_ifindex || n->rot_ifname[0])
		next_undo(ag, n);
}

static int next_create(struct agent *ag, struct ag_net *n, bool new_key)
{
	struct wgn_iface wi = { .kind = WGN_IF_WG, .net_id = (__u32)n->index };
	struct wg_device dev = { 0 };
	char kpath[AG_PATH_LEN + 80];
	int err;

	err = next_names(ag, n);
	if (err)
		return err;
	if (new_key) {
		next_key_path(ag, n->id, kpath, sizeof(kpath));
		unlink(kpath); /* a leftover of an aborted rotation */
	} else {
		ag_key_path(ag, n->id, kpath, sizeof(kpath));
	}
	err = wg_key_load_or_create(kpath, dev.private_key);
	if (err)
		goto out;
	wg_key_public(n->rot_pub, dev.private_key);
	if (ag->wg->exists(n->rot_ifname) > 0)
		ag->wg->destroy(n->rot_ifname);
	err = ag->wg->create(n->rot_ifname);
	if (err)
		goto out;
	snprintf(dev.name, sizeof(dev.name), "%s", n->rot_ifname);
	dev.flags = WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT |
		    WG_DEV_F_REPLACE_PEERS;
	dev.listen_port = n->rot_port;
	err = ag->wg->set(n->rot_ifname, &dev);
	if (err)
		goto out;
	n->rot_ifindex = link_index(ag->nl, n->rot_ifname);
	if (n->rot_ifindex <= 0) {
		err = n->rot_ifindex ? n->rot_ifindex : -ENODEV;
		n->rot_ifindex = 0;
		goto out;
	}
	err = link_set(ag->nl, n->rot_ifindex, NULL, n->mtu, NULL, 1);
	if (err)
		goto out;
	/* The same data-path tuning as the current interface (ops_net.c):
	 * a longer TUN ring now, the sockets once it has peers. */
	link_set_txqlen(ag->nl, n->rot_ifindex, ROT_TXQLEN);
	addr_add(ag->nl, n->rot_ifindex, &n->gw4, 32);
	if (n->gw6.family)
		addr_add(ag->nl, n->rot_ifindex, &n->gw6, 128);
	err = dp_iface_set(ag->dp, (uint32_t)n->rot_ifindex, &wi);
	if (!err)
		err = dp_attach(ag->dp, n->rot_ifindex, WGN_IF_WG);
out:
	explicit_bzero(&dev, sizeof(dev));
	return err;
}

json_t *ag_op_rotate_prepare(struct agent *ag, json_t *args)
{
	json_t *nk = json_object_get(args, "new_key"), *err_reply;
	uint64_t id = rot_arg_id(args);
	struct ag_net *n;
	char b64[WG_KEY_B64_LEN];
	int err;

	/* A new rotation: its id only has to be past every one seen. */
	n = rot_find(ag, args, false, &err_reply);
	if (!n)
		return err_reply;
	if (nk && !json_is_boolean(nk))
		return proto_reply_err(-EINVAL, "new_key must be a boolean");
	if (id && id <= n->rot_seen)
		return proto_reply_err(
			-ESTALE,
			"network %s: rotation %llu is older than rotation %llu: a stale request",
			n->name, (unsigned long long)id,
			(unsigned long long)n->rot_seen);
	if (id)
		n->rot_seen = id;
	ag_rot_undo(ag, n); /* a rotation that never finished */
	err = next_create(ag, n, json_is_true(nk));
	if (err) {
		log_err("%s: cannot prepare the next interface %s: %s",
			n->ifname, n->rot_ifname, strerror(-err));
		next_undo(ag, n);
		return proto_reply_err(
			err, "cannot create the next WireGuard interface: %s",
			strerror(-err));
	}
	n->rot_id = id;
	wg_key_to_base64(b64, n->rot_pub);
	log_info("%s: rotation: next interface %s, port %u%s", n->ifname,
		 n->rot_ifname, n->rot_port,
		 json_is_true(nk) ? ", new key" : "");
	return proto_reply_ok(json_pack("{s:s,s:s,s:i}", "ifname",
					n->rot_ifname, "public_key", b64,
					"listen_port", n->rot_port));
}

static void free_peers(struct wg_peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].allowed);
	free(p);
}

/* RotatePeers' list → wg peers (validated as UpdatePeers validates). */
static int parse_peers(struct ag_net *n, json_t *jpeers, struct wg_peer **out,
		       size_t *nout, const char **why)
{
	size_t np = json_array_size(jpeers), i, j;
	struct wg_peer *peers;
	json_t *p, *a;

	if (!json_is_array(jpeers) || np > 4096)
		return *why = "peers must be an array of at most 4096", -EINVAL;
	peers = calloc(np ? np : 1, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	json_array_foreach(jpeers, i, p) {
		const char *key = json_str(p, "public_key");
		const char *ep = json_str(p, "endpoint");
		json_t *ai = json_object_get(p, "allowed_ips");
		json_t *ka = json_object_get(p, "keepalive");
		struct ip_addr eip;
		uint16_t eport;
		socklen_t sl;

		if (!key || wg_key_from_base64(peers[i].public_key, key) ||
		    !memcmp(peers[i].public_key, n->rot_pub, WG_KEY_LEN) ||
		    !ep || endpoint_parse(ep, &eip, &eport) ||
		    !json_is_array(ai) || json_array_size(ai) > 4096) {
			free_peers(peers, np);
			return *why = "each peer needs a public_key (not ours), an endpoint ip:port and allowed_ips",
			       -EINVAL;
		}
		ip_to_sockaddr(&eip, eport, &peers[i].endpoint, &sl);
		if (ka && (!json_is_integer(ka) || json_integer_value(ka) < 0 ||
			   json_integer_value(ka) > 65535)) {
			free_peers(peers, np);
			return *why = "keepalive must be 0..65535", -EINVAL;
		}
		peers[i].keepalive = ka ? (uint16_t)json_integer_value(ka) :
					  PROTO_ROT_KEEPALIVE;
		peers[i].allowed = calloc(json_array_size(ai) + 1,
					  sizeof(*peers[i].allowed));
		if (!peers[i].allowed) {
			free_peers(peers, np);
			return -ENOMEM;
		}
		json_array_foreach(ai, j, a) {
			if (ag_allowed_parse(
				    n, a,
				    &peers[i].allowed[peers[i].n_allowed])) {
				free_peers(peers, np);
				return *why = AG_ALLOWED_ERR, -EINVAL;
			}
			peers[i].n_allowed++;
		}
	}
	*out = peers;
	*nout = np;
	return 0;
}

/* The peers as the next interface holds them, for the commit to hand on
 * as the network's held peers (guest/peers.c): with the keepalive each
 * really has, so that the host's next peer set (which has none) clears
 * the rotation's. NULL when out of memory: the next full set repairs. */
static json_t *held_peers(json_t *jpeers, const struct wg_peer *peers)
{
	json_t *held = json_deep_copy(jpeers), *p;
	size_t i;

	json_array_foreach(held, i, p) {
		if (peers[i].keepalive)
			json_object_set_new(p, "keepalive",
					    json_integer(peers[i].keepalive));
		else
			json_object_del(p, "keepalive");
	}
	return held;
}

/* wireguard-go's socket buffers on the next interface, as the current one
 * has them: its sockets are bound once it has peers (up to a second). */
static void rot_tune(struct agent *ag, struct ag_net *n)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int ret = 0;

	if (!ag->wg->tune)
		return;
	for (int tries = 0; tries < 100 && !ret; tries++) {
		ret = ag->wg->tune(n->rot_ifname);
		if (!ret)
			nanosleep(&t, NULL);
	}
	n->rot_tuned = ret;
	if (ret <= 0)
		log_warn("%s: socket buffers not raised: %s", n->rot_ifname,
			 ret ? strerror(-ret) : "no socket bound yet");
}

json_t *ag_op_rotate_peers(struct agent *ag, json_t *args)
{
	json_t *err_reply, *jpeers = json_object_get(args, "peers");
	struct ag_net *n = rot_net(ag, args, true, &err_reply);
	struct wg_device dev = { 0 };
	struct wg_peer *peers = NULL;
	const char *why = "cannot parse the peers";
	size_t np = 0;
	int err;

	if (!n)
		return err_reply;
	err = parse_peers(n, jpeers, &peers, &np, &why);
	if (err)
		return proto_reply_err(err, "%s", why);
	snprintf(dev.name, sizeof(dev.name), "%s", n->rot_ifname);
	dev.flags = WG_DEV_F_REPLACE_PEERS;
	dev.peers = peers;
	dev.n_peers = np;
	err = ag->wg->set(n->rot_ifname, &dev);
	if (err) {
		free_peers(peers, np);
		return proto_reply_err(
			err, "cannot set the next interface's peers: %s",
			strerror(-err));
	}
	json_decref(n->rot_peers);
	n->rot_peers = held_peers(jpeers, peers);
	free_peers(peers, np);
	rot_tune(ag, n);
	return proto_reply_ok(NULL);
}

/* Point the remote destinations of one peer at ifindex. */
static void peer_dests(struct agent *ag, struct ag_net *n,
		       const struct wg_peer *p, int ifindex)
{
	struct wgn_dest d = { .kind = WGN_DEST_REMOTE,
			      .ifindex = (__u32)ifindex };

	for (size_t i = 0; i < p->n_allowed; i++) {
		const struct ip_addr *a = &p->allowed[i].addr;

		if (!ag_addr_is_local(ag, n, a))
			dp_dest_set(ag->dp, (uint32_t)n->index, a, &d);
	}
}

/* Switch the destinations of every peer that has a session on the next
 * interface (all of them when force). *pending: peers without one. */
static int switch_dests(struct agent *ag, struct ag_net *n, bool force,
			size_t *switched, size_t *pending)
{
	struct wg_device *cur = NULL;
	int err;

	*switched = *pending = 0;
	err = ag->wg->get(n->rot_ifname, &cur);
	if (err)
		return err;
	for (size_t i = 0; i < cur->n_peers; i++) {
		const struct wg_peer *p = &cur->peers[i];

		if (!force && !p->last_handshake.tv_sec &&
		    !p->last_handshake.tv_nsec) {
			(*pending)++;
			continue;
		}
		peer_dests(ag, n, p, n->rot_ifindex);
		(*switched)++;
	}
	wg_device_free(cur);
	return 0;
}

/* Bytes received and sent on the current (old) interface, all peers. */
static uint64_t old_bytes(struct agent *ag, struct ag_net *n)
{
	struct wg_device *cur = NULL;
	uint64_t sum = 0;

	if (ag->wg->get(n->ifname, &cur))
		return 0;
	for (size_t i = 0; i < cur->n_peers; i++)
		sum += cur->peers[i].rx_bytes + cur->peers[i].tx_bytes;
	wg_device_free(cur);
	return sum;
}

json_t *ag_op_rotate_switch(struct agent *ag, json_t *args)
{
	json_t *err_reply;
	struct ag_net *n = rot_net(ag, args, true, &err_reply);
	size_t sw, pend;
	int err;

	if (!n)
		return err_reply;
	err = switch_dests(ag, n, false, &sw, &pend);
	if (err)
		return proto_reply_err(err,
				       "cannot read the next interface: %s",
				       strerror(-err));
	if (sw != n->rot_switched)
		log_info("%s: rotation: %zu peers switched to %s, %zu pending",
			 n->ifname, sw, n->rot_ifname, pend);
	n->rot_switched = sw;
	return proto_reply_ok(json_pack(
		"{s:I,s:I,s:I}", "switched", (json_int_t)sw, "pending",
		(json_int_t)pend, "old_bytes", (json_int_t)old_bytes(ag, n)));
}

json_t *ag_op_rotate_commit(struct agent *ag, json_t *args)
{
	json_t *err_reply, *res;
	struct ag_net *n = rot_net(ag, args, true, &err_reply);
	char kpath[AG_PATH_LEN + 80], npath[AG_PATH_LEN + 80];
	char old_if[16];
	int old_idx;
	size_t sw, pend;
	int err;

	if (!n)
		return err_reply;
	err = switch_dests(ag, n, true, &sw, &pend);
	if (err)
		return proto_reply_err(err,
				       "cannot read the next interface: %s",
				       strerror(-err));
	/* The next key becomes the key (rename is atomic). */
	next_key_path(ag, n->id, npath, sizeof(npath));
	ag_key_path(ag, n->id, kpath, sizeof(kpath));
	if (!access(npath, F_OK) && rename(npath, kpath)) {
		err = -errno;
		return proto_reply_err(err, "cannot install the new key: %s",
				       strerror(-err));
	}
	snprintf(old_if, sizeof(old_if), "%s", n->ifname);
	old_idx = n->ifindex;
	snprintf(n->ifname, sizeof(n->ifname), "%s", n->rot_ifname);
	n->ifindex = n->rot_ifindex;
	n->port = n->rot_port;
	memcpy(n->pub, n->rot_pub, WG_KEY_LEN);
	if (n->rot_peers) {
		/* Held peers are keyed by public key (guest/peers.c). */
		json_t *held = json_object(), *p;
		size_t i;

		json_array_foreach(n->rot_peers, i, p)
			json_object_set(held, json_str(p, "public_key"), p);
		json_decref(n->peers);
		n->peers = held;
		json_decref(n->rot_peers);
		n->rot_peers = NULL;
	}
	n->wg_tuned = n->rot_tuned < 0 ? 2 : n->rot_tuned;
	n->rot_ifindex = 0;
	n->rot_ifname[0] = '\0';
	n->rot_port = 0;
	n->rot_id = 0;
	n->rot_switched = 0;
	ag_net_dp_sync(ag, n); /* wgn_nets' wg_ifindex */
	if (old_idx > 0) {
		dp_iface_del(ag->dp, (uint32_t)old_idx);
		dp_detach(ag->dp, old_idx);
	}
	ag->wg->destroy(old_if);
	ag_nft_sync(ag);
	ag_state_save(ag);
	log_info("network %s: rotated to %s (port %u); %s deleted", n->name,
		 n->ifname, n->port, old_if);
	res = ag_net_result(n);
	if (res)
		ag_mtu_result(ag, n, res);
	return proto_reply_ok(res);
}

json_t *ag_op_rotate_abort(struct agent *ag, json_t *args)
{
	json_t *err_reply;
	struct ag_net *n = rot_net(ag, args, false, &err_reply);
	struct wg_device *cur = NULL;

	if (!n)
		return err_reply;
	if (n->rot_ifindex && !ag->wg->get(n->rot_ifname, &cur)) {
		for (size_t k = 0; k < cur->n_peers; k++)
			peer_dests(ag, n, &cur->peers[k], n->ifindex);
		wg_device_free(cur);
	}
	next_undo(ag, n);
	return proto_reply_ok(NULL);
}
