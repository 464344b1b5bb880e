// SPDX-License-Identifier: GPL-2.0
/*
 * The mesh: desired state computed from the store and pushed to guests.
 * Attach/detach, peer sets, DNS records, published ports; the full replay
 * of one guest, the audit of a guest's GetStatus and dead guests are in
 * mesh_replay.c.
 * Every function here runs with h->mu held.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wgnet/host.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "mesh_int.h"
#include "mtu.h"

static json_t *ip_json(const struct ip_addr *ip)
{
	char buf[IPNET_STRLEN];

	return json_string(ip_fmt(ip, buf));
}

int mesh_network_args(const struct st_network *n, json_t **out)
{
	char buf[IPNET_STRLEN];
	json_t *net = json_object();

	json_object_set_new(net, "id", json_string(n->id));
	json_object_set_new(net, "name", json_string(n->name));
	if (n->subnet4.addr.family) {
		json_object_set_new(net, "subnet",
				    json_string(prefix_fmt(&n->subnet4, buf)));
		if (n->gw4.family)
			json_object_set_new(net, "gateway", ip_json(&n->gw4));
	}
	if (n->subnet6.addr.family) {
		json_object_set_new(net, "subnet6",
				    json_string(prefix_fmt(&n->subnet6, buf)));
		if (n->gw6.family)
			json_object_set_new(net, "gateway6", ip_json(&n->gw6));
	}
	json_object_set_new(net, "internal", json_boolean(n->internal));
	*out = json_pack("{s:o}", "network", net);
	return *out ? 0 : -ENOMEM;
}

/* The guest name of each endpoint's container ("" if unknown). */
static char (*ep_guests(struct store *st, const struct st_endpoint *eps,
			size_t n))[ST_NAME_LEN]
{
	char(*g)[ST_NAME_LEN] = calloc(n ? n : 1, sizeof(*g));
	struct st_container c;

	if (!g)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!st->ops->container_get(st, eps[i].container_id, &c))
			memcpy(g[i], c.guest, sizeof(g[i]));
	return g;
}

static void underlay_endpoint(const struct st_guest *g, uint16_t port,
			      char *buf, size_t len)
{
	char ip[IPNET_STRLEN];

	ip_fmt(&g->underlay, ip);
	if (g->underlay.family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
}

int mesh_peer_set(struct store *st, const char *network_id, const char *guest,
		  json_t **out)
{
	struct st_guest_net *gns = NULL;
	struct st_endpoint *eps = NULL;
	char(*owners)[ST_NAME_LEN] = NULL;
	size_t ngn = 0, nep = 0;
	json_t *peers = NULL;
	int rc;

	*out = NULL;
	rc = st->ops->guest_net_list(st, network_id, &gns, &ngn);
	if (rc)
		goto out;
	rc = st->ops->endpoint_list(st, network_id, NULL, &eps, &nep);
	if (rc)
		goto out;
	owners = ep_guests(st, eps, nep);
	if (!owners) {
		rc = -ENOMEM;
		goto out;
	}
	peers = json_array();
	for (size_t i = 0; i < ngn; i++) {
		struct st_guest y;
		char ep[IPNET_STRLEN + 16], buf[IPNET_STRLEN + 8];
		json_t *allowed;

		if (!strcmp(gns[i].guest, guest) || !gns[i].public_key[0])
			continue;
		if (st->ops->guest_get(st, gns[i].guest, &y) ||
		    y.state == ST_GUEST_DEAD || !y.underlay.family)
			continue;
		allowed = json_array();
		for (size_t k = 0; k < nep; k++) {
			char ip[IPNET_STRLEN];

			if (strcmp(owners[k], gns[i].guest))
				continue;
			if (eps[k].ip4.family) {
				snprintf(buf, sizeof(buf), "%s/32",
					 ip_fmt(&eps[k].ip4, ip));
				json_array_append_new(allowed,
						      json_string(buf));
			}
			if (eps[k].ip6.family) {
				snprintf(buf, sizeof(buf), "%s/128",
					 ip_fmt(&eps[k].ip6, ip));
				json_array_append_new(allowed,
						      json_string(buf));
			}
		}
		if (!json_array_size(allowed)) {
			json_decref(allowed);
			continue;
		}
		underlay_endpoint(&y, gns[i].listen_port, ep, sizeof(ep));
		json_array_append_new(peers,
				      json_pack("{s:s,s:s,s:o}", "public_key",
						gns[i].public_key, "endpoint",
						ep, "allowed_ips", allowed));
	}
	*out = peers;
	peers = NULL;
out:
	json_decref(peers);
	free(owners);
	free(gns);
	free(eps);
	return rc;
}

static void add_records(json_t *recs, const char *name,
			const struct st_endpoint *ep)
{
	if (ep->ip4.family)
		json_array_append_new(recs,
				      json_pack("{s:s,s:o}", "name", name,
						"address", ip_json(&ep->ip4)));
	if (ep->ip6.family)
		json_array_append_new(recs,
				      json_pack("{s:s,s:o}", "name", name,
						"address", ip_json(&ep->ip6)));
}

int mesh_dns_records(struct store *st, const struct st_container *c,
		     json_t **out)
{
	struct st_endpoint *mine = NULL;
	size_t nmine = 0;
	json_t *recs = json_array();
	int rc;

	*out = NULL;
	rc = st->ops->endpoint_list(st, NULL, c->id, &mine, &nmine);
	if (rc)
		goto out;
	for (size_t i = 0; i < nmine; i++) {
		struct st_endpoint *eps = NULL;
		size_t nep = 0;

		rc = st->ops->endpoint_list(st, mine[i].network_id, NULL, &eps,
					    &nep);
		if (rc)
			goto out;
		for (size_t k = 0; k < nep; k++) {
			struct st_container oc;
			char shortid[13];
			json_t *al, *a;
			size_t j;

			if (st->ops->container_get(st, eps[k].container_id,
						   &oc))
				continue;
			/* Docker resolves the name, the short id and the
			 * network aliases of every container on the network. */
			add_records(recs, oc.name, &eps[k]);
			snprintf(shortid, sizeof(shortid), "%.12s", oc.id);
			add_records(recs, shortid, &eps[k]);
			al = json_loads(eps[k].aliases, 0, NULL);
			json_array_foreach(al, j, a) {
				if (json_is_string(a) &&
				    strcmp(json_string_value(a), oc.name))
					add_records(recs, json_string_value(a),
						    &eps[k]);
			}
			json_decref(al);
		}
		free(eps);
	}
	*out = recs;
	recs = NULL;
out:
	json_decref(recs);
	free(mine);
	return rc;
}

int mesh_ports(struct store *st, const struct st_container *c, json_t **out)
{
	struct st_endpoint *eps = NULL;
	const struct st_endpoint *first = NULL;
	size_t nep = 0, i;
	json_t *ports, *res, *p;
	int rc;

	*out = NULL;
	rc = st->ops->endpoint_list(st, NULL, c->id, &eps, &nep);
	if (rc)
		return rc;
	for (i = 0; i < nep; i++)
		if (eps[i].ip4.family && (!first || eps[i].seq < first->seq))
			first = &eps[i];
	res = json_array();
	ports = json_loads(c->ports, 0, NULL);
	json_array_foreach(ports, i, p) {
		json_t *q;

		if (!json_is_object(p))
			continue;
		q = json_deep_copy(p);
		if (!json_object_get(q, "container_ip")) {
			if (!first) {
				json_decref(q);
				continue;
			}
			json_object_set_new(q, "container_ip",
					    ip_json(&first->ip4));
		}
		json_array_append_new(res, q);
	}
	json_decref(ports);
	free(eps);
	*out = res;
	return 0;
}

void mesh_queue_container(struct host *h, struct gc_batch *b,
			  const struct st_container *c)
{
	struct store *st = h->st;
	struct st_guest g;
	json_t *recs = NULL, *ports = NULL;

	struct st_endpoint *eps = NULL;
	size_t nep = 0;

	/* A guest forgets a container with its last endpoint. */
	if (st->ops->endpoint_list(st, NULL, c->id, &eps, &nep) || !nep) {
		free(eps);
		return;
	}
	free(eps);
	if (st->ops->guest_get(st, c->guest, &g))
		return;
	if (!mesh_dns_records(st, c, &recs))
		gc_batch_add(b, &g, "SetDNS",
			     json_pack("{s:s,s:o}", "container_id", c->id,
				       "records", recs));
	if (!mesh_ports(st, c, &ports))
		gc_batch_add(b, &g, "PublishPorts",
			     json_pack("{s:s,s:o}", "container_id", c->id,
				       "ports", ports));
}

static int queue_peers(struct host *h, struct gc_batch *b, const char *nid,
		       const char *guest)
{
	struct st_guest g;
	json_t *peers = NULL, *args;
	int rc;

	rc = h->st->ops->guest_get(h->st, guest, &g);
	if (rc)
		return rc;
	rc = mesh_peer_set(h->st, nid, guest, &peers);
	if (rc)
		return rc;
	args = json_pack("{s:s,s:o}", "network_id", nid, "peers", peers);
	mtu_add_peers_args(h->st, nid, args);
	gc_batch_add(b, &g, "UpdatePeers", args);
	return 0;
}

int mesh_queue_network(struct host *h, struct gc_batch *b,
		       const char *network_id, const char *skip_guest)
{
	struct store *st = h->st;
	struct st_guest_net *gns = NULL;
	struct st_endpoint *eps = NULL;
	size_t ngn = 0, nep = 0;
	int rc;

	rc = st->ops->guest_net_list(st, network_id, &gns, &ngn);
	if (rc)
		goto out;
	for (size_t i = 0; i < ngn; i++)
		if (!skip_guest || strcmp(gns[i].guest, skip_guest))
			queue_peers(h, b, network_id, gns[i].guest);
	rc = st->ops->endpoint_list(st, network_id, NULL, &eps, &nep);
	if (rc)
		goto out;
	for (size_t i = 0; i < nep; i++) {
		struct st_container c;

		if (!st->ops->container_get(st, eps[i].container_id, &c))
			mesh_queue_container(h, b, &c);
	}
out:
	free(gns);
	free(eps);
	return rc;
}

/* Append p (normalised) as text unless it is there already. */
static void ctrl_append(json_t *arr, struct ip_prefix p)
{
	char buf[IPNET_STRLEN];
	size_t i;
	json_t *v;

	prefix_normalize(&p);
	prefix_fmt(&p, buf);
	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(v), buf))
			return;
	json_array_append_new(arr, json_string(buf));
}

/* This machine's own addresses (loopback and link-local aside: a guest
 * has those in its built-in set), each as a /32 or /128. */
static void ctrl_host_addrs(json_t *arr)
{
	struct ifaddrs *ifa0 = NULL, *ifa;
	struct ip_prefix p;

	if (getifaddrs(&ifa0)) {
		log_warn("cannot list this machine's addresses: %s",
			 strerror(errno));
		return;
	}
	for (ifa = ifa0; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) ||
		    (ifa->ifa_addr->sa_family != AF_INET &&
		     ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&p, 0, sizeof(p));
		if (ip_from_sockaddr(ifa->ifa_addr, &p.addr, NULL))
			continue;
		if (p.addr.family == AF_INET6 && p.addr.a[0] == 0xfe &&
		    (p.addr.a[1] & 0xc0) == 0x80)
			continue;
		if (p.addr.family == AF_INET && p.addr.a[12] == 169 &&
		    p.addr.a[13] == 254)
			continue;
		p.plen = ip_max_plen(p.addr.family);
		ctrl_append(arr, p);
	}
	freeifaddrs(ifa0);
}

/*
 * The host's part of a guest's control-plane set (CreateHub and
 * SetIsolation "ctrl_prefixes"; the guest adds its own underlay prefixes
 * and the link-local/metadata ranges, docs/bpf.md): the --ctrl-prefix
 * prefixes, this machine's addresses, and the underlay address of every
 * guest in the store (other hosts' guests too, in multi-host mode).
 */
json_t *mesh_ctrl_prefixes(struct host *h)
{
	struct st_guest *gs = NULL;
	json_t *arr = json_array();
	struct ip_prefix p;
	size_t n = 0;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < h->n_ctrl_cfg; i++)
		if (!prefix_parse(h->ctrl_cfg[i], false, &p))
			ctrl_append(arr, p);
	ctrl_host_addrs(arr);
	if (!h->st->ops->guest_list(h->st, &gs, &n)) {
		for (size_t i = 0; i < n; i++) {
			if (!gs[i].underlay.family)
				continue;
			p.addr = gs[i].underlay;
			p.plen = ip_max_plen(p.addr.family);
			ctrl_append(arr, p);
		}
		free(gs);
	}
	return arr;
}

/* SetIsolation args: the IPv4 and IPv6 subnets of every network, and the
 * control-plane prefixes (NULL if the store cannot list the networks:
 * then nothing is pushed). */
json_t *mesh_isolation_args(struct host *h)
{
	struct st_network *ns = NULL;
	char buf[IPNET_STRLEN];
	json_t *subs, *ctrl;
	size_t n = 0;

	if (h->st->ops->network_list(h->st, &ns, &n))
		return NULL;
	subs = json_array();
	for (size_t i = 0; i < n; i++) {
		if (ns[i].subnet4.addr.family)
			json_array_append_new(
				subs,
				json_string(prefix_fmt(&ns[i].subnet4, buf)));
		if (ns[i].subnet6.addr.family)
			json_array_append_new(
				subs,
				json_string(prefix_fmt(&ns[i].subnet6, buf)));
	}
	free(ns);
	ctrl = mesh_ctrl_prefixes(h);
	if (!ctrl)
		return json_pack("{s:o}", "subnets", subs);
	return json_pack("{s:o,s:o}", "subnets", subs, "ctrl_prefixes", ctrl);
}

int mesh_push_isolation(struct host *h, const char *only)
{
	struct st_guest *gs = NULL;
	struct gc_batch *b;
	size_t n = 0;
	json_t *args;
	int rc;

	rc = h->st->ops->guest_list(h->st, &gs, &n);
	if (rc)
		return rc;
	b = gc_batch_new(h);
	args = mesh_isolation_args(h);
	if (b && args) {
		for (size_t i = 0; i < n; i++)
			if (!only || !strcmp(only, gs[i].name))
				gc_batch_add(b, &gs[i], "SetIsolation",
					     json_deep_copy(args));
		rc = gc_batch_run(b, HOST_PUSH_TIMEOUT_MS);
	}
	json_decref(args);
	gc_batch_free(b);
	free(gs);
	return rc;
}

int mesh_push_network(struct host *h, const char *network_id,
		      const struct st_container *also)
{
	struct gc_batch *b = gc_batch_new(h);
	int rc;

	if (!b)
		return -ENOMEM;
	rc = mesh_queue_network(h, b, network_id, NULL);
	if (also)
		mesh_queue_container(h, b, also);
	gc_batch_run(b, HOST_PUSH_TIMEOUT_MS);
	gc_batch_free(b);
	return rc;
}

/* Endpoints on the network whose container lives on guest. */
static size_t guest_endpoints_on(struct store *st, const char *network_id,
				 const char *guest)
{
	struct st_endpoint *eps = NULL;
	char(*owners)[ST_NAME_LEN] = NULL;
	size_t nep = 0, cnt = 0;

	if (st->ops->endpoint_list(st, network_id, NULL, &eps, &nep))
		return 0;
	owners = ep_guests(st, eps, nep);
	for (size_t i = 0; owners && i < nep; i++)
		cnt += !strcmp(owners[i], guest);
	free(owners);
	free(eps);
	return cnt;
}

/* The guest's WireGuard interface for the network is no longer wanted. */
static void drop_guest_net(struct host *h, const struct st_guest *g,
			   const char *network_id)
{
	struct st_guest_net gn;

	if (h->st->ops->guest_net_get(h->st, g->name, network_id, &gn))
		return;
	if (host_grt_state(h, g->name) == ST_GUEST_UP) {
		char *em = NULL;
		int rc = gc_call(h, g, "RemoveNetwork",
				 json_pack("{s:s}", "network_id", network_id),
				 h->call_timeout_ms, NULL, &em);

		if (rc)
			log_warn(
				"RemoveNetwork on guest %s: %s (the reconciler will clean up)",
				g->name, em ? em : strerror(-rc));
		free(em);
	}
	h->st->ops->guest_net_delete(h->st, g->name, network_id);
}

json_t *mesh_endpoint_args(const struct st_network *n,
			   const struct st_container *c,
			   const struct st_endpoint *ep)
{
	json_t *a = json_pack("{s:s,s:{s:s,s:s,s:s}}", "network_id", n->id,
			      "container", "id", c->id, "name", c->name,
			      "netns", c->netns);

	if (ep->ip4.family)
		json_object_set_new(a, "ip", ip_json(&ep->ip4));
	if (ep->ip6.family)
		json_object_set_new(a, "ip6", ip_json(&ep->ip6));
	if (ep->mac[0])
		json_object_set_new(a, "mac", json_string(ep->mac));
	return a;
}

/* A WireGuard public key: 44 characters of base64 for 32 bytes, not all
 * zero (what a device without a private key reports). */
static bool wg_key_text_valid(const char *k)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	bool zero = true;

	if (!k || strlen(k) != 44 || k[43] != '=' || strspn(k, b64) != 43)
		return false;
	/* The last character carries 4 bits: must be one of AEIMQUYcgkosw048. */
	if ((strchr(b64, k[42]) - b64) & 3)
		return false;
	for (int i = 0; i < 43; i++)
		zero &= k[i] == 'A';
	return !zero;
}

/* AddNetwork on g and store what it said. *key_changed if it differs. */
int mesh_guest_add_network(struct host *h, const struct st_guest *g,
			   const struct st_network *n, bool *key_changed,
			   char **errmsg)
{
	struct st_guest_net gn, old;
	json_t *args = NULL, *res = NULL;
	const char *key;
	json_int_t port;
	bool had;
	int rc;

	*key_changed = false;
	mesh_network_args(n, &args);
	mtu_add_network_args(h->st, n, args);
	rc = gc_call(h, g, "AddNetwork", args, h->call_timeout_ms, &res,
		     errmsg);
	if (rc)
		return rc;
	key = json_str(res, "public_key");
	port = json_integer_value(json_object_get(res, "listen_port"));
	if (!wg_key_text_valid(key) || port <= 0 || port > 65535) {
		rc = host_err(
			errmsg, -EPROTO,
			"guest %s: AddNetwork gave no valid public key or port",
			g->name);
		goto out;
	}
	had = !h->st->ops->guest_net_get(h->st, g->name, n->id, &old);
	memset(&gn, 0, sizeof(gn));
	snprintf(gn.guest, sizeof(gn.guest), "%s", g->name);
	snprintf(gn.network_id, sizeof(gn.network_id), "%s", n->id);
	snprintf(gn.public_key, sizeof(gn.public_key), "%s", key);
	gn.listen_port = (uint16_t)port;
	gn.mtu = mtu_from_reply(res);
	if (had && !strcmp(old.public_key, gn.public_key) &&
	    old.listen_port == gn.listen_port && old.mtu == gn.mtu)
		goto out;
	/* Key, port or MTU: the other guests of the network must be told. */
	*key_changed = had;
	rc = h->st->ops->guest_net_put(h->st, &gn);
	if (rc)
		host_err(errmsg, rc, "store: cannot save the key of guest %s",
			 g->name);
out:
	json_decref(res);
	return rc;
}

static int attach_error(struct host *h, const struct st_network *n,
			const char *ip, int rc, char **errmsg)
{
	(void)h;
	switch (rc) {
	case -EEXIST:
		return host_err(errmsg, rc,
				"address %s is already in use on network %s",
				ip ? ip : "", n->name);
	case -ENOSPC:
		return host_err(errmsg, rc,
				"no available IP addresses on network %s",
				n->name);
	case -EINVAL:
		return host_err(
			errmsg, rc,
			"invalid address %s: it does not belong to any of network %s's subnets",
			ip ? ip : "", n->name);
	default:
		return host_err(errmsg, rc, "store: cannot create endpoint: %s",
				strerror(-rc));
	}
}

int mesh_attach(struct host *h, const struct st_network *n,
		const struct st_container *c, const char *ip, const char *ip6,
		json_t *aliases, json_t **result, char **errmsg)
{
	struct store *st = h->st;
	struct st_guest g;
	struct st_endpoint ep;
	struct st_guest_net gn;
	json_t *args = NULL;
	bool had_gn, changed;
	char *text = NULL;
	int rc;

	*result = NULL;
	if (st->ops->guest_get(st, c->guest, &g))
		return host_err(errmsg, -ENOENT,
				"guest %s of container %s is not registered",
				c->guest, c->name);
	rc = host_check_owner(h, g.name, errmsg);
	if (rc)
		return rc;
	if (host_grt_state(h, g.name) == ST_GUEST_DEAD)
		return host_err(errmsg, -EHOSTUNREACH, "guest %s is dead",
				g.name);
	if (!st->ops->endpoint_get(st, n->id, c->id, &ep))
		return host_err(
			errmsg, -EEXIST,
			"endpoint with name %s already exists in network %s",
			c->name, n->name);
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.network_id, sizeof(ep.network_id), "%s", n->id);
	snprintf(ep.container_id, sizeof(ep.container_id), "%s", c->id);
	if (ip && *ip) {
		if (ip_parse(ip, &ep.ip4) || ep.ip4.family != AF_INET)
			return host_err(errmsg, -EINVAL,
					"invalid IPv4 address: %s", ip);
		if (!n->subnet4.addr.family ||
		    !prefix_contains(&n->subnet4, &ep.ip4))
			return host_err(
				errmsg, -EINVAL,
				"invalid address %s: it does not belong to any of network %s's subnets",
				ip, n->name);
	}
	if (ip6 && *ip6) {
		if (ip_parse(ip6, &ep.ip6) || ep.ip6.family != AF_INET6)
			return host_err(errmsg, -EINVAL,
					"invalid IPv6 address: %s", ip6);
		if (!n->subnet6.addr.family ||
		    !prefix_contains(&n->subnet6, &ep.ip6))
			return host_err(
				errmsg, -EINVAL,
				"invalid address %s: it does not belong to any of network %s's subnets",
				ip6, n->name);
	}
	text = aliases ? json_dumps(aliases, JSON_COMPACT) : strdup("[]");
	if (!text || strlen(text) >= sizeof(ep.aliases)) {
		free(text);
		return host_err(errmsg, -EINVAL, "too many aliases");
	}
	strcpy(ep.aliases, text);
	free(text);

	/* 1. Addresses come from the store, in its transaction. */
	rc = st->ops->endpoint_create(st, &ep);
	if (rc) {
		const char *which = ip && *ip ? ip : ip6;

		return attach_error(h, n, which, rc, errmsg);
	}
	/* 2. The container's guest: network (if new to it), endpoint. */
	had_gn = !st->ops->guest_net_get(st, g.name, n->id, &gn);
	if (!had_gn) {
		rc = mesh_guest_add_network(h, &g, n, &changed, errmsg);
		if (rc)
			goto undo;
	}
	args = mesh_endpoint_args(n, c, &ep);
	rc = gc_call(h, &g, "AddEndpoint", args, h->call_timeout_ms, NULL,
		     errmsg);
	if (rc)
		goto undo;
	/* 3 + 4. Peers of every guest on the network, DNS, ports. */
	mesh_push_network(h, n->id, NULL);
	*result = netjson_endpoint(n, c, &ep);
	return 0;
undo:
	log_warn("attach %s to %s failed: %s", c->name, n->name,
		 errmsg && *errmsg ? *errmsg : strerror(-rc));
	st->ops->endpoint_delete(st, n->id, c->id);
	if (!guest_endpoints_on(st, n->id, g.name)) {
		if (had_gn || !st->ops->guest_net_get(st, g.name, n->id, &gn)) {
			drop_guest_net(h, &g, n->id);
		} else if (host_grt_state(h, g.name) == ST_GUEST_UP) {
			/* AddNetwork may have half-built it. */
			gc_call(h, &g, "RemoveNetwork",
				json_pack("{s:s}", "network_id", n->id),
				HOST_PUSH_TIMEOUT_MS, NULL, NULL);
		}
	}
	return rc;
}

static int detach(struct host *h, const struct st_network *n,
		  const struct st_container *c, bool push_self, char **errmsg)
{
	struct store *st = h->st;
	struct st_endpoint ep;
	struct st_guest g;
	bool have_g;
	int rc;

	if (st->ops->endpoint_get(st, n->id, c->id, &ep))
		return host_err(errmsg, -ENOENT,
				"container %s is not connected to network %s",
				c->name, n->name);
	rc = host_check_owner(h, c->guest, errmsg);
	if (rc)
		return rc;
	have_g = !st->ops->guest_get(st, c->guest, &g);
	if (have_g && host_grt_state(h, g.name) == ST_GUEST_UP) {
		char *em = NULL;

		rc = gc_call(h, &g, "RemoveEndpoint",
			     json_pack("{s:s,s:s}", "network_id", n->id,
				       "container_id", c->id),
			     h->call_timeout_ms, NULL, &em);
		/* The store is the desired state: the endpoint goes anyway,
		 * and the guest's Reconcile drops what is left over. */
		if (rc)
			log_warn("RemoveEndpoint %s on guest %s: %s", c->name,
				 g.name, em ? em : strerror(-rc));
		free(em);
	}
	rc = st->ops->endpoint_delete(st, n->id, c->id);
	if (rc && rc != -ENOENT)
		return host_err(errmsg, rc, "store: cannot delete endpoint: %s",
				strerror(-rc));
	if (have_g && !guest_endpoints_on(st, n->id, g.name))
		drop_guest_net(h, &g, n->id);
	mesh_push_network(h, n->id, push_self ? c : NULL);
	return 0;
}

int mesh_detach(struct host *h, const struct st_network *n,
		const struct st_container *c, char **errmsg)
{
	return detach(h, n, c, true, errmsg);
}

int host_container_remove_locked(struct host *h, const struct st_container *c,
				 char **errmsg)
{
	struct store *st = h->st;
	struct st_endpoint *eps = NULL;
	struct st_guest g;
	size_t nep = 0;
	int rc;

	rc = host_check_owner(h, c->guest, errmsg);
	if (rc)
		return rc;
	rc = st->ops->endpoint_list(st, NULL, c->id, &eps, &nep);
	if (rc)
		return host_err(errmsg, rc, "store: %s", strerror(-rc));
	/* Ports and names go first, while the guest still knows the
	 * container (it forgets it with its last endpoint). */
	if (nep && !st->ops->guest_get(st, c->guest, &g) &&
	    host_grt_state(h, g.name) == ST_GUEST_UP) {
		gc_call(h, &g, "PublishPorts",
			json_pack("{s:s,s:[]}", "container_id", c->id, "ports"),
			HOST_PUSH_TIMEOUT_MS, NULL, NULL);
		gc_call(h, &g, "SetDNS",
			json_pack("{s:s,s:[]}", "container_id", c->id,
				  "records"),
			HOST_PUSH_TIMEOUT_MS, NULL, NULL);
	}
	for (size_t i = 0; i < nep; i++) {
		struct st_network n;

		if (st->ops->network_get(st, eps[i].network_id, &n))
			continue;
		detach(h, &n, c, false, NULL);
	}
	free(eps);
	rc = st->ops->container_delete(st, c->id);
	if (rc && rc != -ENOENT)
		return host_err(errmsg, rc,
				"store: cannot delete container: %s",
				strerror(-rc));
	log_info("container %s removed", c->name);
	return 0;
}
