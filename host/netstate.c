// SPDX-License-Identifier: GPL-2.0
/*
 * Generations, deltas and the change log: pure functions over in-memory
 * state (include/wgnet/netstate.h, docs/control-plane.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgnet/ipnet.h"
#include "netstate.h"

/* --- snapshots --- */

static void add_rec(json_t *dns, const char *name, const struct ip_addr *ip)
{
	char addr[IPNET_STRLEN], key[ST_NAME_LEN + IPNET_STRLEN + 2];

	if (!ip->family || !name || !*name)
		return;
	ip_fmt(ip, addr);
	snprintf(key, sizeof(key), "%s %s", name, addr);
	json_object_set_new(dns, key,
			    json_pack("{s:s,s:s}", "name", name, "address",
				      addr));
}

static void ep_records(json_t *dns, const struct st_view_ep *e)
{
	char shortid[13];
	json_t *al, *a;
	size_t j;

	/* Docker resolves the name, the short id and the network aliases of
	 * every container on the network. */
	add_rec(dns, e->name, &e->ip4);
	add_rec(dns, e->name, &e->ip6);
	snprintf(shortid, sizeof(shortid), "%.12s", e->container_id);
	add_rec(dns, shortid, &e->ip4);
	add_rec(dns, shortid, &e->ip6);
	al = json_loads(e->aliases, 0, NULL);
	json_array_foreach(al, j, a) {
		if (!json_is_string(a) ||
		    !strcmp(json_string_value(a), e->name))
			continue;
		add_rec(dns, json_string_value(a), &e->ip4);
		add_rec(dns, json_string_value(a), &e->ip6);
	}
	json_decref(al);
}

/* Each guest's addresses on the network as WireGuard allowed IPs
 * ({guest: ["10.0.0.2/32", …]}), one pass over the endpoints. */
static json_t *allowed_by_guest(const struct st_net_view *v)
{
	char ip[IPNET_STRLEN], buf[IPNET_STRLEN + 8];
	json_t *by = json_object();

	for (size_t k = 0; by && k < v->n_eps; k++) {
		const struct st_view_ep *e = &v->eps[k];
		json_t *a = json_object_get(by, e->guest);

		if (!a) {
			a = json_array();
			if (json_object_set_new(by, e->guest, a))
				goto fail;
		}
		if (e->ip4.family) {
			snprintf(buf, sizeof(buf), "%s/32",
				 ip_fmt(&e->ip4, ip));
			if (json_array_append_new(a, json_string(buf)))
				goto fail;
		}
		if (e->ip6.family) {
			snprintf(buf, sizeof(buf), "%s/128",
				 ip_fmt(&e->ip6, ip));
			if (json_array_append_new(a, json_string(buf)))
				goto fail;
		}
	}
	return by;
fail:
	json_decref(by);
	return NULL;
}

/* A guest the others can reach on the network: it has its interface (a
 * key), an underlay address to send to, and is not dead. Its addresses are
 * the others' peers and its containers' names resolve: both or neither,
 * so that no name resolves before its path exists. */
static bool member_live(const struct st_view_member *m)
{
	return m->public_key[0] && m->underlay.family &&
	       m->state != ST_GUEST_DEAD;
}

static json_t *member_peer(const struct st_view_member *m, json_t *allowed)
{
	char ep[IPNET_STRLEN + 16];

	if (!member_live(m) || !json_array_size(allowed))
		return NULL;
	endpoint_fmt(&m->underlay, m->listen_port, ep, sizeof(ep));
	return json_pack("{s:s,s:s,s:O,s:s}", "public_key", m->public_key,
			 "endpoint", ep, "allowed_ips", allowed, "guest",
			 m->guest);
}

int ns_snap_build(const struct st_net_view *v, struct ns_snap *out)
{
	json_t *allowed = NULL, *live = NULL;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	out->gen = v->gen;
	out->peers = json_object();
	out->dns = json_object();
	out->members = json_object();
	out->ctrs = json_object();
	allowed = allowed_by_guest(v);
	live = json_object();
	if (!out->peers || !out->dns || !out->members || !out->ctrs ||
	    !allowed || !live)
		goto out;
	out->mtu = v->mtu_fixed;
	for (size_t i = 0; i < v->n_members; i++) {
		const struct st_view_member *m = &v->members[i];
		json_t *p = member_peer(m, json_object_get(allowed, m->guest));

		if (!v->mtu_fixed && m->mtu && (!out->mtu || m->mtu < out->mtu))
			out->mtu = m->mtu;
		json_object_set_new(out->members, m->guest,
				    json_string(m->public_key));
		if (p)
			json_object_set_new(out->peers, m->public_key, p);
		/* The first entry of a guest decides, as a lookup would. */
		if (!json_object_get(live, m->guest))
			json_object_set_new(live, m->guest,
					    json_boolean(member_live(m)));
	}
	for (size_t k = 0; k < v->n_eps; k++) {
		json_object_set_new(out->ctrs, v->eps[k].container_id,
				    json_string(v->eps[k].guest));
		/* A name resolves only once its address is reachable: its
		 * guest is live (member_live), as for its peer. */
		if (json_is_true(json_object_get(live, v->eps[k].guest)))
			ep_records(out->dns, &v->eps[k]);
	}
	rc = 0;
out:
	json_decref(allowed);
	json_decref(live);
	if (rc)
		ns_snap_free(out);
	return rc;
}

void ns_snap_free(struct ns_snap *s)
{
	if (!s)
		return;
	json_decref(s->peers);
	json_decref(s->dns);
	json_decref(s->members);
	json_decref(s->ctrs);
	memset(s, 0, sizeof(*s));
}

/* --- deltas --- */

static int delta_init(struct ns_delta *d, uint64_t from, uint64_t to)
{
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->peers_set = json_object();
	d->peers_remove = json_object();
	d->dns_add = json_object();
	d->dns_remove = json_object();
	if (d->peers_set && d->peers_remove && d->dns_add && d->dns_remove)
		return 0;
	ns_delta_free(d);
	return -ENOMEM;
}

void ns_delta_free(struct ns_delta *d)
{
	if (!d)
		return;
	json_decref(d->peers_set);
	json_decref(d->peers_remove);
	json_decref(d->dns_add);
	json_decref(d->dns_remove);
	memset(d, 0, sizeof(*d));
}

bool ns_delta_empty(const struct ns_delta *d)
{
	return !json_object_size(d->peers_set) &&
	       !json_object_size(d->peers_remove) &&
	       !json_object_size(d->dns_add) &&
	       !json_object_size(d->dns_remove);
}

int ns_diff(const struct ns_snap *a, const struct ns_snap *b,
	    struct ns_delta *out)
{
	json_t *ap = a ? a->peers : NULL, *ad = a ? a->dns : NULL, *v;
	const char *k;
	int rc;

	rc = delta_init(out, a ? a->gen : 0, b->gen);
	if (rc)
		return rc;
	out->mtu = b->mtu;
	json_object_foreach(b->peers, k, v) {
		json_t *old = json_object_get(ap, k);

		if (!old || !json_equal(old, v))
			json_object_set(out->peers_set, k, v);
	}
	json_object_foreach(ap, k, v)
		if (!json_object_get(b->peers, k))
			json_object_set(out->peers_remove, k,
					json_object_get(v, "guest"));
	json_object_foreach(b->dns, k, v)
		if (!json_object_get(ad, k))
			json_object_set(out->dns_add, k, v);
	json_object_foreach(ad, k, v)
		if (!json_object_get(b->dns, k))
			json_object_set(out->dns_remove, k, v);
	return 0;
}

/* --- patches --- */

/* e's addresses in a peer's allowed IPs: added at the end (the build
 * lists a guest's endpoints in the order they were made) or removed.
 * 1: the list changed. */
static int allowed_patch(json_t *allowed, const struct st_view_ep *e, bool add)
{
	const struct ip_addr *ips[2] = { &e->ip4, &e->ip6 };
	char ip[IPNET_STRLEN], buf[IPNET_STRLEN + 8];
	int changed = 0;

	for (int i = 0; i < 2; i++) {
		size_t j;
		json_t *v;

		if (!ips[i]->family)
			continue;
		snprintf(buf, sizeof(buf), "%s/%d", ip_fmt(ips[i], ip),
			 ips[i]->family == AF_INET ? 32 : 128);
		if (add) {
			if (json_array_append_new(allowed, json_string(buf)))
				return -ENOMEM;
			changed = 1;
			continue;
		}
		json_array_foreach(allowed, j, v)
			if (!strcmp(json_string_value(v) ?: "", buf))
				break;
		if (j < json_array_size(allowed)) {
			json_array_remove(allowed, j);
			changed = 1;
		}
	}
	return changed;
}

/* The patch's checks: its live peer, or NULL. */
static json_t *patch_peer(const struct ns_snap *s, const struct st_view_ep *e,
			  bool add, uint64_t gen)
{
	const char *key =
		json_string_value(json_object_get(s->members, e->guest));
	json_t *peer = key ? json_object_get(s->peers, key) : NULL;
	json_t *owner = json_object_get(s->ctrs, e->container_id);

	if (!s->gen || !s->peers || gen != s->gen + 1 || !peer ||
	    strcmp(json_string_value(json_object_get(peer, "guest")) ?: "",
		   e->guest))
		return NULL;
	/* Added: not there yet; removed: there, on its guest. */
	if (add ? owner != NULL :
		  !owner || strcmp(json_string_value(owner) ?: "", e->guest))
		return NULL;
	return peer;
}

int ns_snap_patch_ep(struct ns_snap *s, const struct st_view_ep *e, bool add,
		     uint64_t gen, struct ns_delta *d)
{
	json_t *old = patch_peer(s, e, add, gen), *peer = NULL, *recs = NULL;
	const char *pk = json_string_value(json_object_get(old, "public_key"));
	char key[ST_KEY_LEN];
	json_t *allowed, *v;
	const char *k;
	int rc = -EAGAIN;

	memset(d, 0, sizeof(*d));
	if (!old || !pk || strlen(pk) >= sizeof(key))
		return -EAGAIN;
	strcpy(key, pk); /* old may go when s->peers takes peer */
	peer = json_deep_copy(old);
	recs = json_object();
	allowed = json_object_get(peer, "allowed_ips");
	if (!peer || !recs || !json_is_array(allowed)) {
		rc = peer && recs ? -EAGAIN : -ENOMEM;
		goto out;
	}
	rc = allowed_patch(allowed, e, add);
	/* Its last address: the peer itself goes (a rebuild). */
	if (rc < 0 || !json_array_size(allowed)) {
		rc = rc < 0 ? rc : -EAGAIN;
		goto out;
	}
	ep_records(recs, e);
	rc = delta_init(d, s->gen, gen);
	if (rc)
		goto out;
	d->mtu = s->mtu;
	if (!json_equal(old, peer))
		json_object_set(d->peers_set, key, peer);
	json_object_foreach(recs, k, v) {
		json_t *had = json_object_get(s->dns, k);

		if (add && !had)
			json_object_set(d->dns_add, k, v);
		else if (!add && had)
			json_object_set(d->dns_remove, k, had);
	}
	/* Applied: the same changes in s. */
	json_object_set(s->peers, key, peer);
	json_object_foreach(add ? d->dns_add : d->dns_remove, k, v) {
		if (add)
			json_object_set(s->dns, k, v);
		else
			json_object_del(s->dns, k);
	}
	if (add)
		json_object_set_new(s->ctrs, e->container_id,
				    json_string(e->guest));
	else
		json_object_del(s->ctrs, e->container_id);
	s->gen = gen;
	rc = 0;
out:
	if (rc)
		ns_delta_free(d);
	json_decref(peer);
	json_decref(recs);
	return rc;
}

/* --- the change log --- */

static const struct ns_delta *log_at(const struct ns_log *l, size_t i)
{
	return &l->e[(l->start + i) % NS_LOG_MAX];
}

void ns_log_clear(struct ns_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		ns_delta_free(&l->e[(l->start + i) % NS_LOG_MAX]);
	l->start = 0;
	l->n = 0;
}

void ns_log_push(struct ns_log *l, struct ns_delta *d)
{
	if (l->n && log_at(l, l->n - 1)->to != d->from)
		ns_log_clear(l);
	if (l->n == NS_LOG_MAX) {
		ns_delta_free(&l->e[l->start]);
		l->start = (l->start + 1) % NS_LOG_MAX;
		l->n--;
	}
	l->e[(l->start + l->n) % NS_LOG_MAX] = *d;
	l->n++;
	memset(d, 0, sizeof(*d));
}

/* Index of the entry starting at from, or -1. */
static long log_find(const struct ns_log *l, uint64_t from)
{
	for (size_t i = 0; i < l->n; i++)
		if (log_at(l, i)->from == from)
			return (long)i;
	return -1;
}

bool ns_log_covers(const struct ns_log *l, uint64_t from, uint64_t to)
{
	long i;

	if (from == to)
		return true;
	i = log_find(l, from);
	if (i < 0 || from > to)
		return false;
	for (; (size_t)i < l->n; i++)
		if (log_at(l, (size_t)i)->to == to)
			return true;
	return false;
}

static void fold(struct ns_delta *out, const struct ns_delta *e)
{
	const char *k;
	json_t *v;

	json_object_foreach(e->peers_set, k, v) {
		json_object_set(out->peers_set, k, v);
		json_object_del(out->peers_remove, k);
	}
	json_object_foreach(e->peers_remove, k, v) {
		json_object_del(out->peers_set, k);
		json_object_set(out->peers_remove, k, v);
	}
	json_object_foreach(e->dns_add, k, v) {
		json_object_set(out->dns_add, k, v);
		json_object_del(out->dns_remove, k);
	}
	json_object_foreach(e->dns_remove, k, v) {
		json_object_del(out->dns_add, k);
		json_object_set(out->dns_remove, k, v);
	}
}

int ns_log_compose(const struct ns_log *l, uint64_t from, uint64_t to,
		   struct ns_delta *out)
{
	long i;
	int rc;

	if (!ns_log_covers(l, from, to))
		return -ERANGE;
	rc = delta_init(out, from, to);
	if (rc || from == to)
		return rc;
	for (i = log_find(l, from); (size_t)i < l->n; i++) {
		const struct ns_delta *e = log_at(l, (size_t)i);

		fold(out, e);
		out->mtu = e->mtu;
		if (e->to == to)
			break;
	}
	return 0;
}

/* --- one guest --- */

enum ns_plan ns_plan(const struct ns_log *l, uint64_t cur,
		     const struct ns_ack *a)
{
	if (!a->valid || a->gen > cur)
		return NS_SYNC;
	if (a->gen == cur)
		return NS_NONE;
	return ns_log_covers(l, a->gen, cur) ? NS_UPDATE : NS_SYNC;
}

void ns_ack_reply(struct ns_ack *a, uint64_t sent, bool sync, int rc,
		  uint64_t reply_gen)
{
	if (rc == -ESTALE && reply_gen == sent)
		rc = 0; /* it holds that generation already: a lost ack */
	if (!rc) {
		/* A late answer for an older generation never lowers it;
		 * a SyncNetwork sets it. */
		if (sync || !a->valid || sent > a->gen)
			a->gen = sent;
		a->valid = true;
	} else if (rc == -ESTALE) {
		a->valid = false;
	}
}

void ns_ack_hello(struct ns_ack *a, json_t *nets, const char *network_id)
{
	json_t *g = json_object_get(nets, network_id);

	if (json_is_integer(g) && json_integer_value(g) > 0) {
		a->gen = (uint64_t)json_integer_value(g);
		a->valid = true;
	} else {
		a->gen = 0;
		a->valid = false;
	}
}

static json_t *peer_out(json_t *p)
{
	json_t *q = json_deep_copy(p);

	json_object_del(q, "guest");
	return q;
}

static bool is_guest(json_t *p, const char *guest)
{
	const char *g = json_is_string(p) ?
				json_string_value(p) :
				json_string_value(json_object_get(p, "guest"));

	return g && !strcmp(g, guest);
}

static json_t *values(json_t *obj)
{
	json_t *arr = json_array(), *v;
	const char *k;

	json_object_foreach(obj, k, v)
		json_array_append(arr, v);
	return arr;
}

json_t *ns_update_args(const struct ns_delta *d, const char *network_id,
		       const char *guest)
{
	json_t *set = json_array(), *rm = json_array(), *v, *args;
	const char *k;

	json_object_foreach(d->peers_set, k, v)
		if (!is_guest(v, guest))
			json_array_append_new(set, peer_out(v));
	json_object_foreach(d->peers_remove, k, v)
		if (!is_guest(v, guest))
			json_array_append_new(rm, json_string(k));
	args = json_pack("{s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "network_id",
			 network_id, "from_gen", (json_int_t)d->from, "gen",
			 (json_int_t)d->to, "peers_set", set, "peers_remove",
			 rm, "dns_add", values(d->dns_add), "dns_remove",
			 values(d->dns_remove));
	if (args && d->mtu)
		json_object_set_new(args, "mtu", json_integer(d->mtu));
	return args;
}

json_t *ns_peer_list(const struct ns_snap *s, const char *guest)
{
	json_t *peers = json_array(), *v;
	const char *k;

	json_object_foreach(s->peers, k, v)
		if (!is_guest(v, guest))
			json_array_append_new(peers, peer_out(v));
	return peers;
}

json_t *ns_sync_args(const struct ns_snap *s, const char *network_id,
		     const char *guest)
{
	json_t *args = json_pack("{s:s,s:I,s:o,s:o}", "network_id", network_id,
				 "gen", (json_int_t)s->gen, "peers",
				 ns_peer_list(s, guest), "dns", values(s->dns));

	if (args && s->mtu)
		json_object_set_new(args, "mtu", json_integer(s->mtu));
	return args;
}

void ns_dns_for(const struct ns_snap *s, const char *container_id, json_t *recs)
{
	json_t *v;
	const char *k;

	if (!json_object_get(s->ctrs, container_id))
		return;
	json_object_foreach(s->dns, k, v)
		json_array_append(recs, v);
}
