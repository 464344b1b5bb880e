// SPDX-License-Identifier: GPL-2.0
/*
 * The mesh: desired state computed from the store and pushed to guests.
 * Attach/detach, peer sets, DNS records, published ports; the full replay
 * of one guest, the audit of a guest's GetStatus and dead guests are in
 * mesh_replay.c.
 * Every function here runs with h->mu held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
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

/* The snapshot of one network, from the store (one read transaction). */
static int net_snap(struct store *st, const char *nid, struct ns_snap *snap)
{
	struct st_net_view v;
	int rc;

	rc = store_network_view(st, nid, &v);
	if (rc)
		return rc;
	rc = ns_snap_build(&v, snap);
	store_net_view_free(&v);
	return rc;
}

int mesh_peer_set(struct store *st, const char *network_id, const char *guest,
		  json_t **out)
{
	struct ns_snap snap;
	int rc;

	*out = NULL;
	rc = net_snap(st, network_id, &snap);
	if (rc)
		return rc;
	*out = ns_peer_list(&snap, guest);
	ns_snap_free(&snap);
	return *out ? 0 : -ENOMEM;
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
	for (size_t i = 0; !rc && i < nmine; i++) {
		struct ns_snap snap;

		rc = net_snap(st, mine[i].network_id, &snap);
		if (!rc)
			ns_dns_for(&snap, c->id, recs);
		ns_snap_free(&snap);
	}
	free(mine);
	if (rc) {
		json_decref(recs);
		return rc;
	}
	*out = recs;
	return 0;
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

json_t *mesh_endpoint_args(const struct st_network *n,
			   const struct st_container *c,
			   const struct st_endpoint *ep)
{
	json_t *a = json_pack("{s:s,s:{s:s,s:s,s:s}}", "network_id", n->id,
			      "container", "id", c->id, "name", c->name,
			      "netns", c->netns);

	if (!c->netns[0]) { /* host mode: the runtime moves the veth */
		json_object_set_new(json_object_get(a, "container"), "netns",
				    json_null());
		json_object_set_new(a, "host_mode", json_true());
	}

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
bool mesh_key_valid(const char *k)
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

/* A key the store already has keeps its age (a replay's AddNetwork says
 * the same key again); a new one is born now. */
static int64_t key_created_of(struct store *st, const struct st_guest_net *gn)
{
	struct st_guest_net cur;

	if (!st->ops->guest_net_get(st, gn->guest, gn->network_id, &cur) &&
	    !strcmp(cur.public_key, gn->public_key))
		return cur.key_created;
	return (int64_t)time(NULL);
}

int mesh_store_key(struct host *h, const char *guest, const char *nid,
		   json_t *res, bool notify, char **errmsg)
{
	bool changed = false;

	struct st_guest_net gn;
	const char *key = json_str(res, "public_key");
	json_int_t port =
		json_integer_value(json_object_get(res, "listen_port"));
	int rc;

	if (!mesh_key_valid(key) || port <= 0 || port > 65535)
		return host_err(
			errmsg, -EPROTO,
			"guest %s: AddNetwork gave no valid public key or port",
			guest);
	memset(&gn, 0, sizeof(gn));
	snprintf(gn.guest, sizeof(gn.guest), "%s", guest);
	snprintf(gn.network_id, sizeof(gn.network_id), "%s", nid);
	snprintf(gn.public_key, sizeof(gn.public_key), "%s", key);
	gn.listen_port = (uint16_t)port;
	gn.mtu = mtu_from_reply(res);
	/* The store bumps the generation only when it is new or changed. */
	pthread_mutex_lock(&h->mu);
	gn.key_created = key_created_of(h->st, &gn);
	rc = h->st->ops->guest_net_put(h->st, &gn);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return host_err(errmsg, rc,
				"store: cannot save the key of guest %s: %s",
				guest, strerror(-rc));
	if (notify)
		cp_net_refresh(h, nid);
	else
		cp_net_refresh_quiet(h, nid, &changed);
	return 0;
}
