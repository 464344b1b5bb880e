// SPDX-License-Identifier: GPL-2.0
/*
 * A network's peers and DNS records as the guest holds them, and how a
 * change reaches the WireGuard device, the BPF destination map and the
 * containers' resolvers. A full set (SyncNetwork, UpdatePeers) is applied
 * as a difference against the device; a delta (UpdateNetwork) touches only
 * the peers and addresses it names: no device dump, no map walk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "wgnet/dp.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "ops.h"

#define AG_MAX_PEERS 4096
#define AG_MAX_ALLOWED 4096

/* An allowed-ip text as a canonical address text (the map's view). */
static const char *addr_key(json_t *a, char buf[IPNET_STRLEN])
{
	struct ip_prefix pf;

	if (!json_is_string(a) ||
	    prefix_parse(json_string_value(a), false, &pf))
		return NULL;
	return ip_fmt(&pf.addr, buf);
}

static void free_peers(struct wg_peer *peers, size_t n)
{
	for (size_t i = 0; peers && i < n; i++)
		free(peers[i].allowed);
	free(peers);
}

/* One peer object, validated against the network; *key gets its
 * canonical base64 key. */
static int peer_parse(struct ag_net *n, json_t *p, struct wg_peer *w,
		      char key[WG_KEY_B64_LEN], char *why, size_t wlen)
{
	const char *pk = json_str(p, "public_key"),
		   *ep = json_str(p, "endpoint");
	json_t *ai = json_object_get(p, "allowed_ips"), *a;
	json_t *ka = json_object_get(p, "keepalive");
	struct ip_addr eip;
	uint16_t eport;
	socklen_t sl;
	size_t j;

	if (!json_is_object(p) || !pk || wg_key_from_base64(w->public_key, pk))
		return snprintf(why, wlen,
				"public_key must be a base64 WireGuard key"),
		       -EINVAL;
	if (!memcmp(w->public_key, n->pub, WG_KEY_LEN))
		return snprintf(why, wlen, "the peer is this guest itself"),
		       -EINVAL;
	wg_key_to_base64(key, w->public_key);
	if (ep) {
		if (endpoint_parse(ep, &eip, &eport))
			return snprintf(why, wlen, "endpoint must be ip:port"),
			       -EINVAL;
		ip_to_sockaddr(&eip, eport, &w->endpoint, &sl);
	}
	if (ka && (!json_is_integer(ka) || json_integer_value(ka) < 0 ||
		   json_integer_value(ka) > 65535))
		return snprintf(why, wlen, "keepalive must be 0..65535"),
		       -EINVAL;
	w->keepalive = (uint16_t)json_integer_value(ka);
	if (!json_is_array(ai) || json_array_size(ai) > AG_MAX_ALLOWED)
		return snprintf(why, wlen, "allowed_ips must be an array"),
		       -EINVAL;
	w->allowed = calloc(json_array_size(ai) + 1, sizeof(*w->allowed));
	if (!w->allowed)
		return snprintf(why, wlen, "out of memory"), -ENOMEM;
	json_array_foreach(ai, j, a) {
		if (ag_allowed_parse(n, a, &w->allowed[w->n_allowed]))
			return snprintf(why, wlen, "%s", AG_ALLOWED_ERR),
			       -EINVAL;
		w->n_allowed++;
	}
	return 0;
}

/* Parse an array of peers: all or nothing; no key twice, no address held
 * by two of them. */
static int peers_parse(struct ag_net *n, json_t *arr, struct wg_peer **out,
		       char (**keys)[WG_KEY_B64_LEN], char *why, size_t wlen)
{
	size_t np = json_array_size(arr), i;
	struct wg_peer *peers;
	json_t *seen = NULL, *addrs = NULL, *p;
	int err = 0;

	*out = NULL;
	*keys = NULL;
	if (!json_is_array(arr) || np > AG_MAX_PEERS)
		return snprintf(why, wlen,
				"peers must be an array of at most %d",
				AG_MAX_PEERS),
		       -EINVAL;
	peers = calloc(np + 1, sizeof(*peers));
	*keys = calloc(np + 1, sizeof(**keys));
	seen = json_object();
	addrs = json_object();
	if (!peers || !*keys || !seen || !addrs) {
		err = -ENOMEM;
		snprintf(why, wlen, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, p) {
		char sub[128];
		size_t j;
		json_t *a;

		err = peer_parse(n, p, &peers[i], (*keys)[i], sub, sizeof(sub));
		if (!err && json_object_get(seen, (*keys)[i])) {
			snprintf(sub, sizeof(sub), "public key listed twice");
			err = -EINVAL;
		}
		json_array_foreach(json_object_get(p, "allowed_ips"), j, a) {
			char buf[IPNET_STRLEN];

			if (err)
				break;
			if (json_object_get(addrs, addr_key(a, buf))) {
				snprintf(sub, sizeof(sub),
					 "address %s is held by two peers",
					 buf);
				err = -EINVAL;
			}
			json_object_set_new(addrs, buf, json_true());
		}
		if (err) {
			snprintf(why, wlen, "peer %zu: %s", i, sub);
			goto out;
		}
		json_object_set_new(seen, (*keys)[i], json_true());
	}
out:
	json_decref(seen);
	json_decref(addrs);
	if (err) {
		free_peers(peers, np);
		free(*keys);
		*keys = NULL;
		return err;
	}
	*out = peers;
	return 0;
}

bool ag_addr_in_net(const struct ag_net *n, const struct ip_addr *ip)
{
	return prefix_contains(&n->subnet4, ip) ||
	       (n->subnet6.addr.family && prefix_contains(&n->subnet6, ip));
}

int ag_allowed_parse(const struct ag_net *n, json_t *a, struct ip_prefix *out)
{
	if (!json_is_string(a) || prefix_parse(json_string_value(a), true, out) ||
	    out->plen != ip_max_plen(out->addr.family) ||
	    !ag_addr_in_net(n, &out->addr))
		return -EINVAL;
	return 0;
}

/* ---- the BPF destination map ------------------------------------------ */

bool ag_addr_is_local(struct agent *ag, struct ag_net *n,
		      const struct ip_addr *ip)
{
	for (int k = 0; k < AG_MAX_EPS; k++) {
		struct ag_ep *e = &ag->eps[k];

		if (e->used && e->present && !strcmp(e->net_id, n->id) &&
		    (ip_equal(&e->ip4, ip) || ip_equal(&e->ip6, ip)))
			return true;
	}
	return false;
}

/* Note an address the map took or could not take (n->dmiss). */
static void dmiss_note(struct agent *ag, struct ag_net *n, const char *addr,
		       int err)
{
	if (!err) {
		json_object_del(n->dmiss, addr);
		return;
	}
	ag_dp_error(ag, err, "%s: remote address %s", n->ifname, addr);
	if (!n->dmiss)
		n->dmiss = json_object();
	json_object_set_new(n->dmiss, addr, json_true());
}

/* The remote destinations of one peer object: set (or delete) each one,
 * skipping those in @except (an object keyed by address text, may be NULL).
 * The number of addresses the map could not take: a missing entry is a
 * black hole for that address (dropped as no_dest), never a leak; it is
 * counted (n->dmiss) and the call answers an error. */
static int peer_dests(struct agent *ag, struct ag_net *n, json_t *peer,
		      bool set, json_t *except)
{
	int failed = 0;

	struct wgn_dest d = { .kind = WGN_DEST_REMOTE,
			      .ifindex = (__u32)n->ifindex };
	size_t j;
	json_t *a;

	json_array_foreach(json_object_get(peer, "allowed_ips"), j, a) {
		char buf[IPNET_STRLEN];
		struct ip_prefix pf;

		if (!addr_key(a, buf) ||
		    (except && json_object_get(except, buf)))
			continue;
		prefix_parse(json_string_value(a), false, &pf);
		if (!set) {
			dp_dest_del(ag->dp, (uint32_t)n->index, &pf.addr);
			dmiss_note(ag, n, buf, 0);
		} else if (!ag_addr_is_local(ag, n, &pf.addr)) {
			int err = dp_dest_set(ag->dp, (uint32_t)n->index,
					      &pf.addr, &d);

			dmiss_note(ag, n, buf, err);
			failed += !!err;
		}
	}
	return failed;
}

static json_t *addr_set(json_t *peer)
{
	json_t *o = json_object(), *a;
	size_t j;

	json_array_foreach(json_object_get(peer, "allowed_ips"), j, a) {
		char buf[IPNET_STRLEN];

		if (addr_key(a, buf))
			json_object_set_new(o, buf, json_true());
	}
	return o;
}

struct dest_gc {
	uint32_t net_id;
	json_t *want; /* object: address text -> true */
	struct ip_addr *del;
	size_t n_del, cap;
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
	if (json_object_get(gc->want, ip_fmt(&ip, buf)))
		return 0;
	if (gc->n_del == gc->cap) {
		size_t cap = gc->cap ? gc->cap * 2 : 256;
		struct ip_addr *t = realloc(gc->del, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		gc->del = t;
		gc->cap = cap;
	}
	gc->del[gc->n_del++] = ip;
	return 0;
}

/* All remote destinations of the network to what the held peers say: one
 * map walk, for full sets and for adoption only. Stale entries go first, so
 * their room serves the new ones. The number the map could not take. */
int ag_net_dests_sync(struct agent *ag, struct ag_net *n)
{
	struct dest_gc gc = { .net_id = (uint32_t)n->index };
	const char *k;
	json_t *p;
	int failed = 0;

	gc.want = json_object();
	json_object_foreach(n->peers, k, p) {
		json_t *addrs = addr_set(p);

		json_object_update(gc.want, addrs);
		json_decref(addrs);
	}
	if (dp_dest_foreach(ag->dp, dest_collect, &gc) < 0)
		ag_dp_error(ag, -ENOMEM, "%s: stale remote addresses", n->ifname);
	for (size_t i = 0; i < gc.n_del; i++)
		dp_dest_del(ag->dp, gc.net_id, &gc.del[i]);
	free(gc.del);
	json_decref(n->dmiss);
	n->dmiss = NULL;
	json_object_foreach(n->peers, k, p)
		failed += peer_dests(ag, n, p, true, NULL);
	json_decref(gc.want);
	return failed;
}

void ag_net_dests_clear(struct agent *ag, struct ag_net *n)
{
	const char *k;
	json_t *p;

	json_object_foreach(n->peers, k, p)
		peer_dests(ag, n, p, false, NULL);
}

/* ---- the WireGuard device --------------------------------------------- */

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

static bool allowed_has(const struct wg_peer *p, const struct ip_prefix *a)
{
	for (size_t i = 0; i < p->n_allowed; i++)
		if (p->allowed[i].plen == a->plen &&
		    ip_equal(&p->allowed[i].addr, &a->addr))
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

static int key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct wg_peer *)a)->public_key,
		      ((const struct wg_peer *)b)->public_key, WG_KEY_LEN);
}

/*
 * Bring the device to the full desired set by difference (one dump): peers
 * already right are not touched (their sessions go on), changed ones are
 * updated in place, stale ones removed. Both sides sorted by key.
 */
static int device_full(struct agent *ag, struct ag_net *n, struct wg_peer *want,
		       size_t nw)
{
	struct wg_device *cur = NULL, dev = { 0 };
	struct wg_peer *ops, *sorted;
	size_t nops = 0, i = 0, k = 0;
	int err = 0;

	snprintf(dev.name, sizeof(dev.name), "%s", n->ifname);
	if (ag->wg->get(n->ifname, &cur)) {
		dev.flags = WG_DEV_F_REPLACE_PEERS;
		dev.peers = want;
		dev.n_peers = nw;
		return ag->wg->set(n->ifname, &dev);
	}
	sorted = malloc((nw + 1) * sizeof(*sorted));
	ops = calloc(nw + cur->n_peers + 1, sizeof(*ops));
	if (!ops || !sorted) {
		free(ops);
		free(sorted);
		wg_device_free(cur);
		return -ENOMEM;
	}
	if (nw) /* want may be NULL for an empty set */
		memcpy(sorted, want, nw * sizeof(*sorted));
	qsort(sorted, nw, sizeof(*sorted), key_cmp);
	if (cur->n_peers)
		qsort(cur->peers, cur->n_peers, sizeof(*cur->peers), key_cmp);
	while (i < nw || k < cur->n_peers) {
		int c = i == nw		  ? 1 :
			k == cur->n_peers ? -1 :
					    key_cmp(&sorted[i], &cur->peers[k]);

		if (c < 0) {
			ops[nops++] = sorted[i++];
		} else if (c > 0) {
			memcpy(ops[nops].public_key, cur->peers[k++].public_key,
			       WG_KEY_LEN);
			ops[nops++].flags = WG_PEER_F_REMOVE;
		} else {
			if (!peer_same(&sorted[i], &cur->peers[k]))
				ops[nops++] = sorted[i];
			i++;
			k++;
		}
	}
	if (nops) {
		dev.peers = ops;
		dev.n_peers = nops;
		err = ag->wg->set(n->ifname, &dev);
	}
	log_debug("%s: %zu peer changes", n->ifname, nops);
	free(ops); /* borrowed allowed-ip arrays stay with want[] */
	free(sorted);
	wg_device_free(cur);
	return err;
}

int ag_peers_full(struct agent *ag, struct ag_net *n, json_t *jpeers, char *why,
		  size_t wlen)
{
	char(*keys)[WG_KEY_B64_LEN] = NULL;
	struct wg_peer *peers = NULL;
	size_t np = json_array_size(jpeers), i;
	json_t *held, *p;
	int err, failed;

	err = peers_parse(n, jpeers, &peers, &keys, why, wlen);
	if (err)
		return err;
	err = device_full(ag, n, peers, np);
	if (err) {
		snprintf(why, wlen, "cannot set peers: %s", strerror(-err));
		goto out;
	}
	held = json_object();
	json_array_foreach(jpeers, i, p)
		json_object_set_new(held, keys[i], json_deep_copy(p));
	json_decref(n->peers);
	n->peers = held;
	failed = ag_net_dests_sync(ag, n);
	log_info("%s: %zu peers", n->ifname, np);
	if (failed) {
		err = failed; /* applied; that many addresses missing */
		snprintf(why, wlen,
			 "%d remote addresses do not fit in the BPF destination map (size %u%s); traffic to them is dropped",
			 failed, ag->lim.dests ? ag->lim.dests : WGN_MAX_DESTS,
			 ag->lim.dests ? ", --map-dests" : "");
	}
out:
	free_peers(peers, np);
	free(keys);
	return err;
}

int ag_peers_delta(struct agent *ag, struct ag_net *n, json_t *set,
		   json_t *remove, char *why, size_t wlen)
{
	char(*keys)[WG_KEY_B64_LEN] = NULL;
	struct wg_peer *peers = NULL, *ops = NULL;
	size_t ns = json_array_size(set), nr = json_array_size(remove), i;
	size_t nops = 0;
	struct wg_device dev = { 0 };
	char(*rkeys)[WG_KEY_B64_LEN] = NULL;
	json_t *p;
	int err, failed = 0;

	if (!json_is_array(remove) || nr > AG_MAX_PEERS)
		return snprintf(why, wlen,
				"peers_remove must be an array of keys"),
		       -EINVAL;
	if (!n->peers)
		n->peers = json_object();
	err = peers_parse(n, set, &peers, &keys, why, wlen);
	if (err)
		return err;
	ops = calloc(ns + nr + 1, sizeof(*ops));
	rkeys = calloc(nr + 1, sizeof(*rkeys));
	if (!ops || !rkeys) {
		err = -ENOMEM;
		snprintf(why, wlen, "out of memory");
		goto out;
	}
	json_array_foreach(remove, i, p) {
		struct wg_peer *w = &ops[nops];

		if (!json_is_string(p) ||
		    wg_key_from_base64(w->public_key, json_string_value(p))) {
			err = -EINVAL;
			snprintf(why, wlen,
				 "peers_remove[%zu] is not a base64 key", i);
			goto out;
		}
		wg_key_to_base64(rkeys[i], w->public_key);
		w->flags = WG_PEER_F_REMOVE;
		nops++;
	}
	for (i = 0; i < ns; i++) {
		json_t *old = json_object_get(n->peers, keys[i]);

		if (!old || !json_equal(old, json_array_get(set, i)))
			ops[nops++] = peers[i];
	}
	if (nops) {
		snprintf(dev.name, sizeof(dev.name), "%s", n->ifname);
		dev.peers = ops;
		dev.n_peers = nops;
		err = ag->wg->set(n->ifname, &dev);
		if (err) {
			snprintf(why, wlen, "cannot set peers: %s",
				 strerror(-err));
			goto out;
		}
	}
	/* Map entries: what leaves first, then what comes, so an address
	 * moving between peers in one delta ends up present. */
	for (i = 0; i < nr; i++) {
		json_t *old = json_object_get(n->peers, rkeys[i]);

		if (old)
			peer_dests(ag, n, old, false, NULL);
	}
	for (i = 0; i < ns; i++) {
		json_t *old = json_object_get(n->peers, keys[i]);
		json_t *keep;

		if (!old)
			continue;
		keep = addr_set(json_array_get(set, i));
		peer_dests(ag, n, old, false, keep);
		json_decref(keep);
	}
	for (i = 0; i < nr; i++)
		json_object_del(n->peers, rkeys[i]);
	for (i = 0; i < ns; i++) {
		p = json_array_get(set, i);
		failed += peer_dests(ag, n, p, true, NULL);
		json_object_set_new(n->peers, keys[i], json_deep_copy(p));
	}
	log_debug("%s: delta +%zu -%zu (%zu device changes)", n->ifname, ns, nr,
		  nops);
	if (failed) {
		err = failed; /* applied; that many addresses missing */
		snprintf(why, wlen,
			 "%d remote addresses do not fit in the BPF destination map (size %u%s); traffic to them is dropped",
			 failed, ag->lim.dests ? ag->lim.dests : WGN_MAX_DESTS,
			 ag->lim.dests ? ", --map-dests" : "");
	}
out:
	free(ops); /* allowed-ip arrays belong to peers[] */
	free(rkeys);
	free_peers(peers, ns);
	free(keys);
	return err;
}

/* ---- DNS records -------------------------------------------------------- */

int ag_dns_check(json_t *recs, char *why, size_t wlen)
{
	size_t i;
	json_t *r;

	if (!json_is_array(recs) || json_array_size(recs) > 65536)
		return snprintf(why, wlen, "records must be an array"), -EINVAL;
	json_array_foreach(recs, i, r) {
		const char *name = json_str(r, "name"),
			   *addr = json_str(r, "address");
		struct ip_addr ip;

		if (!name || !*name || strlen(name) > 253 || !addr ||
		    ip_parse(addr, &ip))
			return snprintf(
				       why, wlen,
				       "record %zu must have a name and an address",
				       i),
			       -EINVAL;
	}
	return 0;
}

static void rec_key(json_t *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s\t%s", json_str(r, "name"),
		 json_str(r, "address"));
}

static void dns_add(struct ag_net *n, json_t *recs)
{
	char key[300];
	size_t i;
	json_t *r;

	json_array_foreach(recs, i, r) {
		rec_key(r, key, sizeof(key));
		json_object_set_new(n->dns, key,
				    json_pack("{s:s,s:s}", "name",
					      json_str(r, "name"), "address",
					      json_str(r, "address")));
	}
}

void ag_net_dns_set(struct agent *ag, struct ag_net *n, json_t *recs)
{
	json_decref(n->dns);
	n->dns = json_object();
	dns_add(n, recs);
	ag_dns_net_changed(ag, n);
}

void ag_net_dns_delta(struct agent *ag, struct ag_net *n, json_t *add,
		      json_t *remove)
{
	char key[300];
	size_t i;
	json_t *r;

	if (!json_array_size(add) && !json_array_size(remove))
		return;
	if (!n->dns)
		n->dns = json_object();
	json_array_foreach(remove, i, r) {
		rec_key(r, key, sizeof(key));
		json_object_del(n->dns, key);
	}
	dns_add(n, add);
	ag_dns_net_changed(ag, n);
}
