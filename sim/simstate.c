// SPDX-License-Identifier: GPL-2.0
/* wgnet-simguest: one simulated guest's state and its checks (simstate.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simstate.h"
#include "wgnet/proto.h"

/* ---- table ---------------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void htab_init(struct sim_htab *h, size_t klen)
{
	memset(h, 0, sizeof(*h));
	h->klen = klen;
}

void htab_free(struct sim_htab *h)
{
	free(h->keys);
	free(h->vals);
	free(h->state);
	htab_init(h, h->klen);
}

static size_t slot_of(const struct sim_htab *h, const void *key, bool *found)
{
	size_t i = hash_bytes(key, h->klen, 0xcbf29ce484222325ULL) &
		   (h->cap - 1);
	size_t tomb = (size_t)-1;

	*found = false;
	for (;;) {
		if (h->state[i] == 0)
			return tomb != (size_t)-1 ? tomb : i;
		if (h->state[i] == 2) {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (!memcmp(h->keys + i * h->klen, key, h->klen)) {
			*found = true;
			return i;
		}
		i = (i + 1) & (h->cap - 1);
	}
}

uint32_t *htab_get(const struct sim_htab *h, const void *key)
{
	bool found;
	size_t i;

	if (!h->cap)
		return NULL;
	i = slot_of(h, key, &found);
	return found ? &h->vals[i] : NULL;
}

static int grow(struct sim_htab *h)
{
	struct sim_htab n;
	size_t cap = h->cap ? (h->n * 4 > h->cap ? h->cap * 2 : h->cap) : 16;

	htab_init(&n, h->klen);
	n.cap = cap;
	n.keys = malloc(cap * h->klen);
	n.vals = malloc(cap * sizeof(*n.vals));
	n.state = calloc(cap, 1);
	if (!n.keys || !n.vals || !n.state) {
		htab_free(&n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->cap; i++)
		if (h->state[i] == 1)
			htab_put(&n, h->keys + i * h->klen, h->vals[i]);
	htab_free(h);
	*h = n;
	return 0;
}

int htab_put(struct sim_htab *h, const void *key, uint32_t val)
{
	bool found;
	size_t i;

	if ((h->used + 1) * 4 > h->cap * 3) {
		int err = grow(h);

		if (err)
			return err;
	}
	i = slot_of(h, key, &found);
	if (!found) {
		if (h->state[i] == 0)
			h->used++;
		h->state[i] = 1;
		memcpy(h->keys + i * h->klen, key, h->klen);
		h->n++;
	}
	h->vals[i] = val;
	return 0;
}

bool htab_del(struct sim_htab *h, const void *key)
{
	bool found;
	size_t i;

	if (!h->cap)
		return false;
	i = slot_of(h, key, &found);
	if (!found)
		return false;
	h->state[i] = 2;
	h->n--;
	return true;
}

/* Count a violation and say on stderr what broke the invariant, so a bench
 * that reports a count also leaves the offending change in its log (the
 * first SIM_LOG_MAX of them; the counts go on). */
#define SIM_LOG_MAX 50
static unsigned int sim_logged;

static void violate(struct sim_guest *g, int v, const char *fmt, ...)
{
	va_list ap;

	g->st.violations[v]++;
	if (sim_logged >= SIM_LOG_MAX)
		return;
	sim_logged++;
	fprintf(stderr, "wgnet-simguest: %s: %s: ", g->name,
		sim_violation_name(v));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* An address as addr16 keeps it (struct ip_addr's a[], IPv4 v4-mapped),
 * printed by ip_fmt into buf (IPNET_STRLEN). */
static const char *addr_str(const uint8_t a[16], char *buf)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct ip_addr ip = { .family = AF_INET6 };

	memcpy(ip.a, a, sizeof(ip.a));
	if (!memcmp(a, v4mapped, sizeof(v4mapped)))
		ip.family = AF_INET;
	return ip_fmt(&ip, buf);
}

/* ---- networks ------------------------------------------------------------- */

static const char *const vnames[SIM_V__MAX] = {
	[SIM_V_DUP_ADDR] = "dup_addr",	     [SIM_V_SELF] = "self_peer",
	[SIM_V_DNS] = "dns_without_peer",    [SIM_V_GEN] = "gen",
	[SIM_V_UNKNOWN_NET] = "unknown_net",
};

const char *sim_violation_name(int v)
{
	return v >= 0 && v < SIM_V__MAX ? vnames[v] : "?";
}

static void net_clear_peers(struct sim_net *n)
{
	for (size_t i = 0; i < n->n_peers; i++)
		free(n->peers[i].addr);
	free(n->peers);
	free(n->recs);
	n->peers = NULL;
	n->recs = NULL;
	n->n_peers = n->cap_peers = n->n_recs = n->cap_recs = 0;
	n->live_peers = n->live_recs = 0;
	htab_free(&n->by_key);
	htab_free(&n->owner);
	htab_free(&n->rec_by_id);
	htab_free(&n->rec_addr);
}

static void net_free(struct sim_net *n)
{
	net_clear_peers(n);
	htab_free(&n->local);
	free(n);
}

struct sim_net *sim_net_find(struct sim_guest *g, const char *id)
{
	for (size_t i = 0; i < g->n_nets; i++)
		if (!strcmp(g->nets[i]->id, id))
			return g->nets[i];
	return NULL;
}

void sim_guest_init(struct sim_guest *g, const char *name, unsigned int idx)
{
	uint8_t b[WG_KEY_LEN];

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	wg_key_generate(b); /* only its first 16 bytes: a random boot id */
	for (int i = 0; i < 16; i++)
		snprintf(g->boot + 2 * i, 3, "%02x", b[i]);
	/* 198.18.0.0/15 (benchmarking): a fake underlay, never used. */
	snprintf(g->underlay, sizeof(g->underlay), "198.18.%u.%u",
		 (idx / 250) & 0xff, idx % 250 + 1);
	g->eps = json_object();
}

void sim_guest_free(struct sim_guest *g)
{
	for (size_t i = 0; i < g->n_nets; i++)
		net_free(g->nets[i]);
	free(g->nets);
	json_decref(g->eps);
	memset(g, 0, sizeof(*g));
}

static void addr16(const struct ip_addr *ip, uint8_t out[16])
{
	memcpy(out, ip->a, 16);
}

/* ---- peers ---------------------------------------------------------------- */

struct peer_in {
	uint8_t key[WG_KEY_LEN];
	uint32_t n_addr;
	uint8_t (*addr)[16];
};

static void peer_in_free(struct peer_in *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].addr);
	free(p);
}

static int parse_peers(json_t *arr, struct peer_in **out, size_t *np, char *why,
		       size_t wlen)
{
	struct peer_in *p;
	json_t *v;
	size_t i;

	*out = NULL;
	*np = 0;
	if (!json_is_array(arr))
		return snprintf(why, wlen, "peers must be an array"), -EINVAL;
	p = calloc(json_array_size(arr) + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		json_t *ai = json_object_get(v, "allowed_ips"), *a;
		size_t j;

		if (wg_key_from_base64(p[i].key,
				       json_str(v, "public_key") ?: "") ||
		    !json_is_array(ai)) {
			peer_in_free(p, i + 1);
			return snprintf(
				       why, wlen,
				       "peer %zu: bad public_key or allowed_ips",
				       i),
			       -EINVAL;
		}
		p[i].addr = calloc(json_array_size(ai) + 1, 16);
		if (!p[i].addr) {
			peer_in_free(p, i + 1);
			return -ENOMEM;
		}
		json_array_foreach(ai, j, a) {
			struct ip_prefix pf;

			if (!json_is_string(a) ||
			    prefix_parse(json_string_value(a), true, &pf) ||
			    pf.plen != ip_max_plen(pf.addr.family)) {
				peer_in_free(p, i + 1);
				return snprintf(
					       why, wlen,
					       "peer %zu: allowed_ips must be /32 or /128",
					       i),
				       -EINVAL;
			}
			addr16(&pf.addr, p[i].addr[p[i].n_addr++]);
		}
	}
	*out = p;
	*np = json_array_size(arr);
	return 0;
}

static void peer_remove(struct sim_net *n, const uint8_t key[WG_KEY_LEN])
{
	uint32_t *slot = htab_get(&n->by_key, key);
	struct sim_peer *p;

	if (!slot)
		return;
	p = &n->peers[*slot];
	for (uint32_t k = 0; k < p->n_addr; k++) {
		uint32_t *o = htab_get(&n->owner, p->addr[k]);

		if (o && *o == *slot)
			htab_del(&n->owner, p->addr[k]);
	}
	free(p->addr);
	memset(p, 0, sizeof(*p));
	htab_del(&n->by_key, key);
	n->live_peers--;
}

static int peer_slot(struct sim_net *n)
{
	for (size_t i = n->n_peers; i > 0 && n->n_peers > n->live_peers; i--)
		if (!n->peers[i - 1].used)
			return (int)(i - 1);
	if (n->n_peers == n->cap_peers) {
		size_t cap = n->cap_peers ? n->cap_peers * 2 : 16;
		struct sim_peer *t = realloc(n->peers, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		n->peers = t;
		n->cap_peers = cap;
	}
	memset(&n->peers[n->n_peers], 0, sizeof(*n->peers));
	return (int)n->n_peers++;
}

/* Upsert one peer (its address list is complete); counts what is wrong. */
static int peer_set(struct sim_guest *g, struct sim_net *n, struct peer_in *in)
{
	struct sim_peer *p;
	int slot;

	if (!memcmp(in->key, n->pub, WG_KEY_LEN))
		violate(g, SIM_V_SELF, "network %s at gen %llu", n->id,
			(unsigned long long)n->gen);
	peer_remove(n, in->key);
	slot = peer_slot(n);
	if (slot < 0)
		return slot;
	p = &n->peers[slot];
	p->used = true;
	memcpy(p->key, in->key, WG_KEY_LEN);
	p->addr = in->addr;
	p->n_addr = in->n_addr;
	in->addr = NULL;
	for (uint32_t k = 0; k < p->n_addr; k++) {
		uint32_t *o = htab_get(&n->owner, p->addr[k]);

		if (o) {
			char b[IPNET_STRLEN];

			violate(g, SIM_V_DUP_ADDR,
				"network %s at gen %llu: %s already held",
				n->id, (unsigned long long)n->gen,
				addr_str(p->addr[k], b));
		}
		htab_put(&n->owner, p->addr[k], (uint32_t)slot);
	}
	n->live_peers++;
	return htab_put(&n->by_key, in->key, (uint32_t)slot);
}

/* ---- records -------------------------------------------------------------- */

struct rec_in {
	uint8_t id[16];
	uint8_t addr[16];
	const char *name; /* in the request, for reports */
};

static int parse_recs(json_t *arr, struct rec_in **out, size_t *nr, char *why,
		      size_t wlen)
{
	struct rec_in *r;
	json_t *v;
	size_t i;

	*out = NULL;
	*nr = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return snprintf(why, wlen, "records must be an array"), -EINVAL;
	r = calloc(json_array_size(arr) + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		const char *name = json_str(v, "name"),
			   *a = json_str(v, "address");
		struct ip_addr ip;
		uint64_t h1, h2;

		if (!name || !*name || !a || ip_parse(a, &ip)) {
			free(r);
			return snprintf(
				       why, wlen,
				       "record %zu needs a name and an address",
				       i),
			       -EINVAL;
		}
		addr16(&ip, r[i].addr);
		r[i].name = name;
		h1 = hash_bytes(name, strlen(name) + 1, 0xcbf29ce484222325ULL);
		h1 = hash_bytes(r[i].addr, 16, h1);
		h2 = hash_bytes(name, strlen(name) + 1, 0x84222325cbf29ce4ULL);
		h2 = hash_bytes(r[i].addr, 16, h2 ^ 0x9e3779b97f4a7c15ULL);
		memcpy(r[i].id, &h1, 8);
		memcpy(r[i].id + 8, &h2, 8);
	}
	*out = r;
	*nr = json_array_size(arr);
	return 0;
}

static void rec_addr_inc(struct sim_net *n, const uint8_t addr[16], int d)
{
	uint32_t *c = htab_get(&n->rec_addr, addr);
	uint32_t v = (c ? *c : 0) + (uint32_t)d;

	if (!v)
		htab_del(&n->rec_addr, addr);
	else
		htab_put(&n->rec_addr, addr, v);
}

static void rec_del(struct sim_net *n, const struct rec_in *r)
{
	uint32_t *slot = htab_get(&n->rec_by_id, r->id);

	if (!slot)
		return; /* removing a record not held is not an error */
	rec_addr_inc(n, n->recs[*slot].addr, -1);
	n->recs[*slot].used = false;
	htab_del(&n->rec_by_id, r->id);
	n->live_recs--;
}

static int rec_add(struct sim_net *n, const struct rec_in *r)
{
	if (htab_get(&n->rec_by_id, r->id))
		return 0; /* already held */
	if (n->n_recs == n->cap_recs) {
		size_t cap = n->cap_recs ? n->cap_recs * 2 : 16;
		struct sim_rec *t = realloc(n->recs, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		n->recs = t;
		n->cap_recs = cap;
	}
	memcpy(n->recs[n->n_recs].addr, r->addr, 16);
	n->recs[n->n_recs].used = true;
	rec_addr_inc(n, r->addr, 1);
	n->live_recs++;
	return htab_put(&n->rec_by_id, r->id, (uint32_t)n->n_recs++);
}

/* A record must name an address some peer or local endpoint has. */
static bool addr_known(struct sim_net *n, const uint8_t addr[16])
{
	return htab_get(&n->owner, addr) || htab_get(&n->local, addr);
}

/* ---- ops ------------------------------------------------------------------ */

static json_t *net_reply(struct sim_net *n)
{
	char b64[WG_KEY_B64_LEN], ifn[16];

	wg_key_to_base64(b64, n->pub);
	snprintf(ifn, sizeof(ifn), "wg%d", n->index);
	return json_pack("{s:s,s:i,s:s,s:i}", "ifname", ifn, "index", n->index,
			 "public_key", b64, "listen_port", 51820 + n->index);
}

static json_t *op_add_network(struct sim_guest *g, json_t *args)
{
	json_t *jn = json_object_get(args, "network");
	const char *id = json_str(jn, "id"), *sub = json_str(jn, "subnet");
	const char *sub6 = json_str(jn, "subnet6");
	uint8_t priv[WG_KEY_LEN];
	struct sim_net *n, **t;

	if (!id || strlen(id) < 12 || strlen(id) > 64 || !sub)
		return proto_reply_err(-EINVAL,
				       "network needs an id and a subnet");
	n = sim_net_find(g, id);
	if (n)
		return proto_reply_ok(net_reply(n));
	n = calloc(1, sizeof(*n));
	t = realloc(g->nets, (g->n_nets + 1) * sizeof(*t));
	if (!n || !t) {
		free(n);
		return proto_reply_err(-ENOMEM, "out of memory");
	}
	g->nets = t;
	if (prefix_parse(sub, true, &n->subnet4) ||
	    (sub6 && prefix_parse(sub6, true, &n->subnet6))) {
		free(n);
		return proto_reply_err(-EINVAL, "bad subnet");
	}
	snprintf(n->id, sizeof(n->id), "%s", id);
	htab_init(&n->by_key, WG_KEY_LEN);
	htab_init(&n->owner, 16);
	htab_init(&n->rec_by_id, 16);
	htab_init(&n->rec_addr, 16);
	htab_init(&n->local, 16);
	wg_key_generate(priv);
	wg_key_public(n->pub, priv);
	n->index = (int)g->n_nets;
	for (size_t i = 0; i < g->n_nets; i++)
		if (g->nets[i]->index >= n->index)
			n->index = g->nets[i]->index + 1;
	g->nets[g->n_nets++] = n;
	return proto_reply_ok(net_reply(n));
}

static void net_drop(struct sim_guest *g, size_t i)
{
	net_free(g->nets[i]);
	g->nets[i] = g->nets[--g->n_nets];
}

static json_t *op_remove_network(struct sim_guest *g, json_t *args)
{
	const char *id = json_str(args, "network_id");

	for (size_t i = 0; id && i < g->n_nets; i++)
		if (!strcmp(g->nets[i]->id, id)) {
			net_drop(g, i);
			break;
		}
	return proto_reply_ok(NULL);
}

static json_t *op_add_endpoint(struct sim_guest *g, json_t *args)
{
	const char *nid = json_str(args, "network_id");
	const char *cid = json_str(json_object_get(args, "container"), "id");
	const char *ip = json_str(args, "ip"), *ip6 = json_str(args, "ip6");
	struct sim_net *n = nid ? sim_net_find(g, nid) : NULL;
	struct ip_addr a;
	uint8_t k[16];
	char key[160], host_if[16];

	if (!n) {
		violate(g, SIM_V_UNKNOWN_NET, "AddEndpoint to %s", nid ?: "?");
		return proto_reply_err(
			-ENOENT,
			"network is not on this guest (AddNetwork first)");
	}
	if (!cid || !ip || ip_parse(ip, &a) ||
	    !prefix_contains(&n->subnet4, &a))
		return proto_reply_err(
			-EINVAL,
			"AddEndpoint needs a container id and an ip of the subnet");
	addr16(&a, k);
	htab_put(&n->local, k, 1);
	if (ip6 && !ip_parse(ip6, &a)) {
		addr16(&a, k);
		htab_put(&n->local, k, 1);
	}
	snprintf(key, sizeof(key), "%s/%s", nid, cid);
	json_object_set_new(
		g->eps, key,
		json_pack("{s:s,s:s?,s:s,s:s,s:s?}", "ip", ip, "ip6", ip6,
			  "network_id", nid, "container_id", cid, "name",
			  json_str(json_object_get(args, "container"),
				   "name")));
	snprintf(host_if, sizeof(host_if), "vh%.8s%02x", cid, n->index & 0xff);
	return proto_reply_ok(json_pack(
		"{s:s,s:s,s:s,s:s}", "ifname", "eth0", "host_ifname", host_if,
		"mac", "02:42:00:00:00:02", "host_mac", "02:00:00:00:00:01"));
}

static void ep_forget(struct sim_guest *g, const char *key)
{
	json_t *e = json_object_get(g->eps, key);
	struct sim_net *n = e ? sim_net_find(g, json_str(e, "network_id")) :
				NULL;
	struct ip_addr a;
	uint8_t k[16];

	if (n && !ip_parse(json_str(e, "ip") ?: "", &a)) {
		addr16(&a, k);
		htab_del(&n->local, k);
	}
	if (n && !ip_parse(json_str(e, "ip6") ?: "", &a)) {
		addr16(&a, k);
		htab_del(&n->local, k);
	}
	json_object_del(g->eps, key);
}

static json_t *op_remove_endpoint(struct sim_guest *g, json_t *args)
{
	char key[160];

	snprintf(key, sizeof(key), "%s/%s", json_str(args, "network_id") ?: "",
		 json_str(args, "container_id") ?: "");
	ep_forget(g, key);
	return proto_reply_ok(NULL);
}

static json_t *gen_reply(struct sim_net *n)
{
	return proto_reply_ok(json_pack("{s:I}", "gen", (json_int_t)n->gen));
}

/* Full sets: SyncNetwork (with gen and records) and UpdatePeers. */
static json_t *op_full(struct sim_guest *g, json_t *args, bool with_gen)
{
	const char *nid = json_str(args, "network_id");
	struct sim_net *n = nid ? sim_net_find(g, nid) : NULL;
	json_t *jgen = json_object_get(args, "gen");
	struct peer_in *in = NULL;
	struct rec_in *recs = NULL;
	size_t np = 0, nr = 0;
	char why[160];
	int err;

	if (!n) {
		violate(g, SIM_V_UNKNOWN_NET, "%s to %s",
			with_gen ? "SyncNetwork" : "UpdatePeers", nid ?: "?");
		return proto_reply_err(-ENOENT, "network is not on this guest");
	}
	if (with_gen &&
	    (!json_is_integer(jgen) || json_integer_value(jgen) < 1))
		return proto_reply_err(-EINVAL, "gen must be an integer >= 1");
	err = parse_peers(json_object_get(args, "peers"), &in, &np, why,
			  sizeof(why));
	if (!err && with_gen)
		err = parse_recs(json_object_get(args, "dns"), &recs, &nr, why,
				 sizeof(why));
	if (err) {
		peer_in_free(in, np);
		return proto_reply_err(err, "%s", why);
	}
	if (with_gen && (uint64_t)json_integer_value(jgen) < n->gen)
		violate(g, SIM_V_GEN, "SyncNetwork %s: gen %lld below %llu",
			n->id, (long long)json_integer_value(jgen),
			(unsigned long long)n->gen);
	net_clear_peers(n);
	htab_init(&n->by_key, WG_KEY_LEN);
	htab_init(&n->owner, 16);
	htab_init(&n->rec_by_id, 16);
	htab_init(&n->rec_addr, 16);
	for (size_t i = 0; i < np; i++)
		peer_set(g, n, &in[i]);
	g->st.peers_sent += np;
	if (with_gen) {
		for (size_t i = 0; i < nr; i++)
			rec_add(n, &recs[i]);
		for (size_t i = 0; i < nr; i++)
			if (!addr_known(n, recs[i].addr))
				violate(g, SIM_V_DNS,
					"SyncNetwork %s gen %lld: record %s %s, "
					"no peer has it",
					n->id,
					(long long)json_integer_value(jgen),
					recs[i].name,
					addr_str(recs[i].addr, why));
		n->gen = (uint64_t)json_integer_value(jgen);
		g->st.sync++;
	} else {
		g->st.update_peers++;
	}
	peer_in_free(in, np);
	free(recs);
	return with_gen ? gen_reply(n) : proto_reply_ok(NULL);
}

/* No record may outlive the addresses of a peer an UpdateNetwork removes,
 * unless the same delta gives the address to another peer (upserts in). */
static void check_removed(struct sim_guest *g, struct sim_net *n,
			  const struct sim_peer *p, const struct peer_in *in,
			  size_t np, long long gen)
{
	char b[IPNET_STRLEN];

	for (uint32_t a = 0; a < p->n_addr; a++) {
		bool moved = false;

		if (!htab_get(&n->rec_addr, p->addr[a]) ||
		    htab_get(&n->local, p->addr[a]))
			continue;
		for (size_t s = 0; s < np && !moved; s++)
			for (uint32_t k = 0; k < in[s].n_addr && !moved; k++)
				moved = !memcmp(in[s].addr[k], p->addr[a], 16);
		if (!moved)
			violate(g, SIM_V_DNS,
				"UpdateNetwork %s gen %llu->%lld: peer of %s "
				"removed, its record kept",
				n->id, (unsigned long long)n->gen, gen,
				addr_str(p->addr[a], b));
	}
}

static json_t *op_update_network(struct sim_guest *g, json_t *args)
{
	const char *nid = json_str(args, "network_id");
	struct sim_net *n = nid ? sim_net_find(g, nid) : NULL;
	json_t *jfrom = json_object_get(args, "from_gen");
	json_t *jgen = json_object_get(args, "gen");
	json_t *rm = json_object_get(args, "peers_remove"), *v, *rep;
	struct peer_in *in = NULL;
	struct rec_in *add = NULL, *del = NULL;
	size_t np = 0, na = 0, nd = 0, i;
	char why[160];
	int err = 0;

	if (!json_is_integer(jfrom) || !json_is_integer(jgen))
		return proto_reply_err(-EINVAL,
				       "from_gen and gen must be integers");
	if (json_integer_value(jgen) <= json_integer_value(jfrom)) {
		violate(g, SIM_V_GEN, "UpdateNetwork %s: gen %lld <= from %lld",
			nid ?: "?", (long long)json_integer_value(jgen),
			(long long)json_integer_value(jfrom));
		return proto_reply_err(-EINVAL, "gen must be above from_gen");
	}
	if (!n || n->gen != (uint64_t)json_integer_value(jfrom)) {
		g->st.estale++;
		rep = proto_reply_err(-ESTALE,
				      "network at generation %llu here",
				      n ? (unsigned long long)n->gen : 0ULL);
		json_object_set_new(rep, "gen",
				    json_integer(n ? (json_int_t)n->gen : 0));
		return rep;
	}
	if (rm && !json_is_array(rm))
		return proto_reply_err(-EINVAL,
				       "peers_remove must be an array");
	if (json_object_get(args, "peers_set"))
		err = parse_peers(json_object_get(args, "peers_set"), &in, &np,
				  why, sizeof(why));
	if (!err)
		err = parse_recs(json_object_get(args, "dns_add"), &add, &na,
				 why, sizeof(why));
	if (!err)
		err = parse_recs(json_object_get(args, "dns_remove"), &del, &nd,
				 why, sizeof(why));
	json_array_foreach(rm, i, v) {
		uint8_t k[WG_KEY_LEN];

		if (!err && wg_key_from_base64(k, json_string_value(v) ?: "")) {
			err = -EINVAL;
			snprintf(why, sizeof(why),
				 "peers_remove[%zu] is not a key", i);
		}
	}
	if (err) {
		peer_in_free(in, np);
		free(add);
		free(del);
		return proto_reply_err(err, "%s", why);
	}
	for (i = 0; i < nd; i++)
		rec_del(n, &del[i]);
	json_array_foreach(rm, i, v) {
		uint8_t k[WG_KEY_LEN];
		uint32_t *slot;

		wg_key_from_base64(k, json_string_value(v));
		slot = htab_get(&n->by_key, k);
		if (slot)
			check_removed(g, n, &n->peers[*slot], in, np,
				      json_integer_value(jgen));
		peer_remove(n, k);
	}
	/* Upserts replace whole peers: take the old versions out first, so
	 * an address moving between two peers of this delta is no clash. */
	for (i = 0; i < np; i++)
		peer_remove(n, in[i].key);
	for (i = 0; i < np; i++)
		peer_set(g, n, &in[i]);
	for (i = 0; i < na; i++)
		rec_add(n, &add[i]);
	for (i = 0; i < na; i++)
		if (!addr_known(n, add[i].addr))
			violate(g, SIM_V_DNS,
				"UpdateNetwork %s gen %lld->%lld: record %s %s, "
				"no peer has it",
				n->id, (long long)json_integer_value(jfrom),
				(long long)json_integer_value(jgen),
				add[i].name, addr_str(add[i].addr, why));
	g->st.peers_sent += np;
	g->st.update++;
	n->gen = (uint64_t)json_integer_value(jgen);
	peer_in_free(in, np);
	free(add);
	free(del);
	return gen_reply(n);
}

static json_t *op_hello(struct sim_guest *g)
{
	json_t *nets = json_object();

	for (size_t i = 0; i < g->n_nets; i++)
		json_object_set_new(nets, g->nets[i]->id,
				    json_integer((json_int_t)g->nets[i]->gen));
	return proto_reply_ok(json_pack(
		"{s:i,s:s,s:s,s:o,s:s}", "version", PROTO_VERSION, "guest",
		g->name, "backend", "sim", "nets", nets, "boot", g->boot));
}

static json_t *underlay(struct sim_guest *g)
{
	return json_pack("{s:s,s:s,s:s,s:i}", "ifname", "sim0", "address",
			 g->underlay, "prefix", "198.18.0.0/15", "mtu", 1500);
}

static json_t *op_status(struct sim_guest *g)
{
	json_t *nets = json_array(), *eps = json_array(), *e;
	const char *k;

	for (size_t i = 0; i < g->n_nets; i++) {
		json_t *jn = net_reply(g->nets[i]);

		json_object_set_new(jn, "id", json_string(g->nets[i]->id));
		json_object_set_new(jn, "up", json_true());
		json_object_set_new(jn, "peers", json_array());
		json_object_set_new(
			jn, "n_peers",
			json_integer((json_int_t)g->nets[i]->live_peers));
		json_object_set_new(jn, "gen",
				    json_integer((json_int_t)g->nets[i]->gen));
		json_array_append_new(nets, jn);
	}
	json_object_foreach(g->eps, k, e) {
		json_t *o = json_deep_copy(e);

		json_object_set_new(o, "present", json_true());
		json_array_append_new(eps, o);
	}
	return proto_reply_ok(
		json_pack("{s:s,s:s,s:o,s:o,s:o,s:{},s:{}}", "guest", g->name,
			  "backend", "sim", "underlay", underlay(g), "networks",
			  nets, "endpoints", eps, "drops", "stats"));
}

static bool in_list(json_t *arr, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static json_t *op_reconcile(struct sim_guest *g, json_t *args)
{
	json_t *nets = json_object_get(args, "networks");
	json_t *ctrs = json_object_get(args, "containers");
	json_t *rn = json_array(), *re = json_array(), *e, *tmp;
	const char *k;
	void *it;

	if (!json_is_array(nets) || !json_is_array(ctrs)) {
		json_decref(rn);
		json_decref(re);
		return proto_reply_err(
			-EINVAL, "networks and containers must be arrays");
	}
	tmp = json_object();
	json_object_foreach_safe(g->eps, it, k, e)
	{
		if (!in_list(nets, json_str(e, "network_id")) ||
		    !in_list(ctrs, json_str(e, "container_id"))) {
			json_array_append_new(
				re, json_pack("{s:s,s:s}", "network_id",
					      json_str(e, "network_id"),
					      "container_id",
					      json_str(e, "container_id")));
			json_object_set_new(tmp, k, json_true());
		}
	}
	json_object_foreach(tmp, k, e)
		ep_forget(g, k);
	json_decref(tmp);
	for (size_t i = 0; i < g->n_nets;) {
		if (!in_list(nets, g->nets[i]->id)) {
			json_array_append_new(rn, json_string(g->nets[i]->id));
			net_drop(g, i);
			continue;
		}
		i++;
	}
	return proto_reply_ok(json_pack("{s:{s:o,s:o}}", "removed", "networks",
					rn, "endpoints", re));
}

static const char *const opnames[SIM_OP__MAX] = {
	[SIM_OP_HELLO] = "Hello",	  [SIM_OP_STATUS] = "GetStatus",
	[SIM_OP_RECONCILE] = "Reconcile", [SIM_OP_HUB] = "hub",
	[SIM_OP_OTHER] = "other",
};

static int op_class(const char *op)
{
	if (!strcmp(op, "Hello"))
		return SIM_OP_HELLO;
	if (!strcmp(op, "GetStatus"))
		return SIM_OP_STATUS;
	if (!strcmp(op, "Reconcile"))
		return SIM_OP_RECONCILE;
	if (!strcmp(op, "CreateHub") || !strcmp(op, "SetIsolation") ||
	    !strcmp(op, "PublishPorts") || !strcmp(op, "SetDNS"))
		return SIM_OP_HUB;
	return SIM_OP_OTHER;
}

json_t *sim_handle(struct sim_guest *g, const char *op, json_t *args)
{
	json_t *empty = NULL, *r;

	if (!args)
		args = empty = json_object();
	g->st.by_op[op_class(op)]++;
	if (!strcmp(op, "Hello"))
		r = op_hello(g);
	else if (!strcmp(op, "GetUnderlayEndpoint"))
		r = proto_reply_ok(underlay(g));
	else if (!strcmp(op, "CreateHub") || !strcmp(op, "SetIsolation") ||
		 !strcmp(op, "PublishPorts") || !strcmp(op, "SetDNS")) {
		g->hub = true;
		r = proto_reply_ok(NULL);
	} else if (!strcmp(op, "DeleteHub")) {
		while (g->n_nets)
			net_drop(g, 0);
		json_object_clear(g->eps);
		g->hub = false;
		r = proto_reply_ok(NULL);
	} else if (!strcmp(op, "AddNetwork"))
		r = op_add_network(g, args);
	else if (!strcmp(op, "RemoveNetwork"))
		r = op_remove_network(g, args);
	else if (!strcmp(op, "AddEndpoint"))
		r = op_add_endpoint(g, args);
	else if (!strcmp(op, "RemoveEndpoint"))
		r = op_remove_endpoint(g, args);
	else if (!strcmp(op, "SyncNetwork"))
		r = op_full(g, args, true);
	else if (!strcmp(op, "UpdatePeers"))
		r = op_full(g, args, false);
	else if (!strcmp(op, "UpdateNetwork"))
		r = op_update_network(g, args);
	else if (!strcmp(op, "GetStatus"))
		r = op_status(g);
	else if (!strcmp(op, "Reconcile"))
		r = op_reconcile(g, args);
	else
		r = proto_reply_err(-EOPNOTSUPP, "unknown op \"%.64s\"", op);
	if (!json_is_true(json_object_get(r, "ok")) &&
	    json_integer_value(json_object_get(r, "code")) != ESTALE)
		g->st.errors++;
	json_decref(empty);
	return r;
}

uint64_t sim_violations(const struct sim_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < SIM_V__MAX; i++)
		n += st->violations[i];
	return n;
}

void sim_stats_add(struct sim_stats *sum, const struct sim_stats *st)
{
	sum->requests += st->requests;
	sum->bytes_in += st->bytes_in;
	sum->bytes_out += st->bytes_out;
	sum->sync += st->sync;
	sum->update += st->update;
	sum->update_peers += st->update_peers;
	sum->estale += st->estale;
	sum->errors += st->errors;
	sum->peers_sent += st->peers_sent;
	for (int i = 0; i < SIM_V__MAX; i++)
		sum->violations[i] += st->violations[i];
	for (int i = 0; i < SIM_OP__MAX; i++)
		sum->by_op[i] += st->by_op[i];
}

json_t *sim_stats_json(const struct sim_stats *st)
{
	json_t *v = json_object(), *o = json_object();

	for (int i = 0; i < SIM_V__MAX; i++)
		json_object_set_new(
			v, vnames[i],
			json_integer((json_int_t)st->violations[i]));
	for (int i = 0; i < SIM_OP__MAX; i++)
		json_object_set_new(o, opnames[i],
				    json_integer((json_int_t)st->by_op[i]));
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}",
			 "requests", (json_int_t)st->requests, "bytes_in",
			 (json_int_t)st->bytes_in, "bytes_out",
			 (json_int_t)st->bytes_out, "sync",
			 (json_int_t)st->sync, "update", (json_int_t)st->update,
			 "update_peers", (json_int_t)st->update_peers, "estale",
			 (json_int_t)st->estale, "errors",
			 (json_int_t)st->errors, "peers_sent",
			 (json_int_t)st->peers_sent, "violations",
			 (json_int_t)sim_violations(st), "by_kind", v, "by_op", o);
}
