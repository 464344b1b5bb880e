// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's hub: sysctls, the BPF data plane with its pinned maps, the
 * nftables table, and the map entries derived from the agent's state. Every
 * function here is idempotent, so start-up, CreateHub and the adoption of
 * what a previous agent left behind all run the same code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/nft.h"

static void addr16(uint8_t *dst, const struct ip_addr *ip)
{
	if (ip->family)
		memcpy(dst, ip->a, 16);
	else
		memset(dst, 0, 16);
}

void ag_dp_error(struct agent *ag, int err, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ag->dperr.total++;
	snprintf(ag->dperr.last, sizeof(ag->dperr.last), "%s: %s", what,
		 strerror(-err));
	log_err("data plane: %s", ag->dperr.last);
}

int ag_hub_setup(struct agent *ag)
{
	int err, first;

	sysctl_write("net/ipv4/ip_forward", "1");
	sysctl_write("net/ipv6/conf/all/forwarding", "1");
	/* Replies to NATed traffic come back through the stack to the veth:
	 * loose reverse-path filtering, so they are not dropped. */
	sysctl_write("net/ipv4/conf/all/rp_filter", "0");
	sysctl_write("net/ipv4/conf/default/rp_filter", "0");
	if (!ag->dp) {
		err = dp_open_limits(ag->pin_dir, &ag->lim, &ag->dp);
		if (err) {
			log_err("cannot load the BPF data plane (pins in %s): %s",
				ag->pin_dir, strerror(-err));
			return err;
		}
	}
	/* Every step runs even if one failed (what fits is programmed; the
	 * nftables backstop holds isolation and the control plane for the
	 * rest); the first error is the answer. */
	err = ag_ctrl_sync(ag);
	first = err;
	err = ag_isolation_sync(ag);
	first = first ? first : err;
	ag->nft_digest = 0; /* set-up (CreateHub) re-applies the table */
	err = ag_nft_sync(ag);
	return first ? first : err;
}

static bool prefix_same(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family && a->plen == b->plen &&
	       ip_equal(&a->addr, &b->addr);
}

bool ag_subnet_joined(struct agent *ag, const struct ip_prefix *p)
{
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (n->used && (prefix_same(&n->subnet4, p) ||
				prefix_same(&n->subnet6, p)))
			return true;
	}
	return false;
}

/*
 * The subnets of every wgnet network (SetIsolation), minus those joined
 * here (their own entry, with their net_id, wins): a container's packet to
 * a network this guest has no endpoint on is dropped as isolation instead
 * of falling through to the guest's stack and out of the underlay.
 */
int ag_isolation_sync(struct agent *ag)
{
	struct ip_prefix p;
	unsigned int missing = 0;
	size_t i;
	json_t *v;
	int err, first = 0;

	if (!ag->dp)
		return 0;
	/* All of them, not up to the first failure: what fits is dropped in
	 * BPF, the rest by the nftables backstop (ag_nft_sync). */
	json_array_foreach(ag->isolate, i, v) {
		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			continue;
		prefix_normalize(&p);
		if (ag_subnet_joined(ag, &p))
			continue;
		err = dp_subnet_set(ag->dp, &p, AG_NET_ISOLATED);
		if (err) {
			ag_dp_error(ag, err, "isolated subnet %s",
				    json_string_value(v));
			missing++;
			first = first ? first : err;
		}
	}
	ag->dperr.iso_missing = missing;
	return first;
}

/* The isolated subnets (not joined here) for the nftables backstop. */
static struct ip_prefix *isolated_list(struct agent *ag, size_t *n)
{
	struct ip_prefix *out;
	size_t i, k = 0;
	json_t *v;

	*n = 0;
	out = calloc(json_array_size(ag->isolate) + 1, sizeof(*out));
	if (!out)
		return NULL;
	json_array_foreach(ag->isolate, i, v)
	{
		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &out[k]))
			continue;
		prefix_normalize(&out[k]);
		if (!ag_subnet_joined(ag, &out[k]))
			k++;
	}
	*n = k;
	return out;
}

/* In every guest's control-plane set: link-local/metadata (169.254.0.0/16,
 * cloud metadata at 169.254.169.254) and IPv6 link-local. */
static const char *const ctrl_builtin[] = { "169.254.0.0/16", "fe80::/10" };

static int ctrl_add(struct ip_prefix *out, size_t *n, size_t max,
		    const struct ip_prefix *p)
{
	struct ip_prefix q = *p;

	prefix_normalize(&q);
	for (size_t i = 0; i < *n; i++)
		if (out[i].plen == q.plen && ip_equal(&out[i].addr, &q.addr))
			return 0;
	if (*n >= max)
		return -ENOSPC;
	out[(*n)++] = q;
	return 0;
}

/*
 * The control-plane set (docs/bpf.md, "Control-plane set"): the built-in
 * ranges; every prefix on the underlay interface, IPv4 and IPv6 (read at
 * each sync; its link-local one is in fe80::/10 already); and what the
 * host pushed (CreateHub / SetIsolation ctrl_prefixes: the host's own
 * addresses, every guest's underlay address, configured prefixes such as
 * other machines' underlays). *out is malloc'd; returns the count or
 * -errno (never a partial set).
 */
int ag_ctrl_list(struct agent *ag, struct ip_prefix **out)
{
	size_t max = WGN_MAX_PREFIXES, n = 0, i;
	struct ip_prefix *p, ul[32], q;
	int nul = 0, err = 0;
	json_t *v;

	p = calloc(max, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < sizeof(ctrl_builtin) / sizeof(ctrl_builtin[0]); i++)
		if (!prefix_parse(ctrl_builtin[i], false, &q))
			ctrl_add(p, &n, max, &q);
	if (ag->nl && ag->underlay_ifindex > 0)
		nul = addr_list(ag->nl, ag->underlay_ifindex, ul, 32);
	if (nul < 0) {
		log_warn("cannot list the underlay's addresses: %s",
			 strerror(-nul));
		nul = 0;
	}
	/* The one found at start, should the dump have failed. */
	if (ag->underlay.addr.family)
		err = ctrl_add(p, &n, max, &ag->underlay);
	for (int k = 0; k < nul && !err; k++) {
		q = ul[k];
		prefix_normalize(&q);
		if (q.addr.family == AF_INET6 && q.addr.a[0] == 0xfe &&
		    (q.addr.a[1] & 0xc0) == 0x80)
			continue;
		err = ctrl_add(p, &n, max, &ul[k]);
	}
	json_array_foreach(ag->ctrl, i, v) {
		if (err)
			break;
		if (json_is_string(v) &&
		    !prefix_parse(json_string_value(v), false, &q))
			err = ctrl_add(p, &n, max, &q);
	}
	if (err) {
		log_err("control-plane set: more than %zu prefixes", max);
		free(p);
		return err;
	}
	*out = p;
	return (int)n;
}

int ag_ctrl_sync(struct agent *ag)
{
	struct ip_prefix *p = NULL;
	int n = ag_ctrl_list(ag, &p), err, first = 0;
	unsigned int missing = 0;
	char buf[IPNET_STRLEN];

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		err = dp_ctrl_set(ag->dp, &p[i]);
		if (err) {
			ag_dp_error(ag, err, "control-plane prefix %s",
				    prefix_fmt(&p[i], buf));
			missing++;
			first = first ? first : err;
		}
	}
	ag->dperr.ctrl_missing = missing;
	/* Stale entries leave only once every wanted one is in: the set is
	 * never smaller than asked, even for a moment. */
	if (!first) {
		first = dp_ctrl_sync(ag->dp, p, (size_t)n);
		if (first)
			ag_dp_error(ag, first,
				    "control-plane set: removing stale entries");
	}
	free(p);
	return first;
}

static bool ip_is_unspec(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return (a->family == AF_INET && !ip_v4_be(a)) ||
	       (a->family == AF_INET6 && !memcmp(a->a, zero, 16));
}

/* The BPF side of published ports: their container address:port may answer
 * towards control-plane addresses (nftables checks the conntrack state). */
static int pubports_sync(struct agent *ag, const struct nft_port *ports,
			 size_t n)
{
	struct wgn_port_key *keys;
	int err;

	if (!ag->dp)
		return 0;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(keys[i].addr, ports[i].dst.a, 16);
		keys[i].port = htons(ports[i].dst_port);
		keys[i].proto = (__u8)ports[i].proto;
	}
	err = dp_pubports_sync(ag->dp, keys, n);
	if (err)
		log_err("cannot update the published-port map: %s",
			strerror(-err));
	free(keys);
	return err;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t pfx_hash(uint64_t h, const struct ip_prefix *p)
{
	h = fnv(h, &p->addr.family, sizeof(p->addr.family));
	h = fnv(h, p->addr.a, sizeof(p->addr.a));
	return fnv(h, &p->plen, sizeof(p->plen));
}

/* What the table is made from, field by field (never padding). */
static uint64_t nft_inputs_digest(struct agent *ag,
				  const struct ip_prefix *ctrl, size_t nc,
				  const struct nft_net *nets, size_t nn,
				  const struct nft_port *ports, size_t np,
				  const struct ip_prefix *iso, size_t ni)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &ni, sizeof(ni));
	for (size_t i = 0; i < ni; i++)
		h = pfx_hash(h, &iso[i]);
	h = fnv(h, ag->nft_table, strlen(ag->nft_table) + 1);
	h = fnv(h, ag->underlay_if, strlen(ag->underlay_if) + 1);
	h = fnv(h, &nc, sizeof(nc));
	for (size_t i = 0; i < nc; i++)
		h = pfx_hash(h, &ctrl[i]);
	h = fnv(h, &nn, sizeof(nn));
	for (size_t i = 0; i < nn; i++) {
		h = pfx_hash(h, &nets[i].subnet4);
		h = pfx_hash(h, &nets[i].subnet6);
		h = fnv(h, &nets[i].internal, sizeof(nets[i].internal));
	}
	h = fnv(h, &np, sizeof(np));
	for (size_t i = 0; i < np; i++) {
		h = fnv(h, &ports[i].proto, sizeof(ports[i].proto));
		h = fnv(h, &ports[i].host_ip.family, sizeof(int));
		h = fnv(h, ports[i].host_ip.a, 16);
		h = fnv(h, &ports[i].dst.family, sizeof(int));
		h = fnv(h, ports[i].dst.a, 16);
		h = fnv(h, &ports[i].host_port, sizeof(ports[i].host_port));
		h = fnv(h, &ports[i].dst_port, sizeof(ports[i].dst_port));
	}
	return h | 1; /* 0 means "apply" */
}

/*
 * The nftables table from the agent's state: networks, control prefixes,
 * published ports, isolated subnets. Applied only when one of those changed since the last
 * successful apply (ag->nft_digest; 0 forces it, as CreateHub does).
 */
int ag_nft_sync(struct agent *ag)
{
	struct ip_prefix *ctrl = NULL;
	size_t n_ctrl;
	uint64_t digest;
	struct nft_net nets[AG_MAX_NETS];
	struct nft_port *ports = NULL;
	struct ip_prefix *iso;
	size_t nn = 0, np = 0, cap = 0, niso = 0;
	struct nft_cfg cfg;
	int err;

	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (!n->used)
			continue;
		memset(&nets[nn], 0, sizeof(nets[nn]));
		nets[nn].subnet4 = n->subnet4;
		nets[nn].subnet6 = n->subnet6;
		nets[nn].internal = n->internal;
		nn++;
	}
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		struct ag_ctr *c = &ag->ctrs[i];
		size_t j;
		json_t *v;

		if (!c->used)
			continue;
		json_array_foreach(c->ports, j, v) {
			struct nft_port p = { 0 };
			const char *proto = json_str(v, "proto");
			const char *hip = json_str(v, "host_ip");
			const char *cip = json_str(v, "container_ip");

			p.proto = proto && !strcmp(proto, "udp") ? IPPROTO_UDP :
								   IPPROTO_TCP;
			if (hip && *hip && ip_parse(hip, &p.host_ip))
				continue;
			if (!cip || ip_parse(cip, &p.dst))
				continue;
			/* 0.0.0.0 / :: mean any address; a host address of
			 * the other family cannot be translated (skipped, so
			 * one bad mapping does not fail the whole table). */
			if (ip_is_unspec(&p.host_ip))
				memset(&p.host_ip, 0, sizeof(p.host_ip));
			if (p.host_ip.family &&
			    p.host_ip.family != p.dst.family)
				continue;
			p.host_port = (uint16_t)json_integer_value(
				json_object_get(v, "host_port"));
			p.dst_port = (uint16_t)json_integer_value(
				json_object_get(v, "container_port"));
			if (np == cap) {
				struct nft_port *t;

				cap = cap ? cap * 2 : 16;
				t = realloc(ports, cap * sizeof(*ports));
				if (!t) {
					free(ports);
					return -ENOMEM;
				}
				ports = t;
			}
			ports[np++] = p;
		}
	}
	err = ag_ctrl_list(ag, &ctrl);
	if (err < 0) {
		free(ports);
		return err;
	}
	n_ctrl = (size_t)err;
	iso = isolated_list(ag, &niso);
	if (!iso) {
		free(ports);
		free(ctrl);
		return -ENOMEM;
	}
	digest = nft_inputs_digest(ag, ctrl, n_ctrl, nets, nn, ports, np, iso,
				   niso);
	if (digest == ag->nft_digest) {
		free(ports); /* nothing it depends on changed */
		free(iso);
		free(ctrl);
		return 0;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.table = ag->nft_table;
	cfg.underlay_if = ag->underlay_if;
	cfg.veth_prefix = "vh";
	cfg.ctrl = ctrl;
	cfg.n_ctrl = n_ctrl;
	cfg.nets = nets;
	cfg.n_nets = nn;
	cfg.ports = ports;
	cfg.n_ports = np;
	cfg.isolated = iso;
	cfg.n_isolated = niso;
	err = nft_apply(&cfg);
	free(iso);
	if (err)
		log_err("cannot apply nftables table %s: %s", ag->nft_table,
			strerror(-err));
	else
		err = pubports_sync(ag, ports, np);
	ag->nft_digest = err ? 0 : digest;
	free(ports);
	free(ctrl);
	return err;
}

/* The public key of a network's interface, from its stored private key. */
int ag_net_load_key(struct agent *ag, struct ag_net *n)
{
	uint8_t priv[WG_KEY_LEN];
	char path[AG_PATH_LEN + 80];
	int err;

	snprintf(path, sizeof(path), "%s/keys/%s.key", ag->state_dir, n->id);
	err = wg_key_load_or_create(path, priv);
	if (!err)
		wg_key_public(n->pub, priv);
	explicit_bzero(priv, sizeof(priv));
	return err;
}

int ag_net_dp_sync(struct agent *ag, struct ag_net *n)
{
	struct wgn_iface wi = { .kind = WGN_IF_WG, .net_id = (__u32)n->index };
	struct wgn_net wn = { 0 };
	int err;

	addr16(wn.subnet4, &n->subnet4.addr);
	addr16(wn.gw4, &n->gw4);
	addr16(wn.subnet6, &n->subnet6.addr);
	addr16(wn.gw6, &n->gw6);
	wn.plen4 = n->subnet4.addr.family ? (__u32)n->subnet4.plen : 0;
	wn.plen6 = n->subnet6.addr.family ? (__u32)n->subnet6.plen : 0;
	wn.wg_ifindex = (__u32)n->ifindex;
	wn.flags = (n->internal ? WGN_NET_F_INTERNAL : 0) |
		   (n->subnet6.addr.family ? WGN_NET_F_IPV6 : 0);
	err = dp_net_set(ag->dp, (uint32_t)n->index, &wn);
	if (!err && n->subnet4.addr.family)
		err = dp_subnet_set(ag->dp, &n->subnet4, (uint32_t)n->index);
	if (!err && n->subnet6.addr.family)
		err = dp_subnet_set(ag->dp, &n->subnet6, (uint32_t)n->index);
	if (!err)
		err = dp_iface_set(ag->dp, (uint32_t)n->ifindex, &wi);
	if (!err)
		err = dp_attach(ag->dp, n->ifindex, WGN_IF_WG);
	if (err)
		log_err("%s: cannot program the data plane: %s", n->ifname,
			strerror(-err));
	return err;
}

int ag_ep_dp_sync(struct agent *ag, struct ag_ep *e)
{
	struct ag_net *n = ag_net_find(ag, e->net_id);
	struct wgn_iface wi = { .kind = WGN_IF_ENDPOINT };
	struct wgn_dest d = { .kind = WGN_DEST_LOCAL };
	int err;

	if (!n)
		return -ENOENT;
	wi.net_id = (__u32)n->index;
	addr16(wi.addr4, &e->ip4);
	addr16(wi.addr6, &e->ip6);
	memcpy(wi.mac, e->mac, 6);
	memcpy(wi.hmac, e->hmac, 6);
	d.ifindex = (__u32)e->host_ifindex;
	memcpy(d.mac, e->mac, 6);
	memcpy(d.hmac, e->hmac, 6);
	err = dp_iface_set(ag->dp, (uint32_t)e->host_ifindex, &wi);
	if (!err && e->ip4.family)
		err = dp_dest_set(ag->dp, (uint32_t)n->index, &e->ip4, &d);
	if (!err && e->ip6.family)
		err = dp_dest_set(ag->dp, (uint32_t)n->index, &e->ip6, &d);
	if (!err)
		err = dp_attach(ag->dp, e->host_ifindex, WGN_IF_ENDPOINT);
	if (err) {
		log_err("%s: cannot program the data plane: %s", e->host_ifname,
			strerror(-err));
		ag_ep_dp_unsync(ag, e);
	}
	return err;
}

void ag_ep_dp_unsync(struct agent *ag, struct ag_ep *e)
{
	struct ag_net *n = ag_net_find(ag, e->net_id);

	if (!ag->dp)
		return;
	if (n && e->ip4.family)
		dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip4);
	if (n && e->ip6.family)
		dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip6);
	if (e->host_ifindex > 0)
		dp_iface_del(ag->dp, (uint32_t)e->host_ifindex);
}

struct orphans {
	struct agent *ag;
	int idx[256];
	size_t n;
};

static int collect_orphan(int ifindex, const char *name, const char *kind,
			  void *data)
{
	struct orphans *o = data;
	struct agent *ag = o->ag;

	if (strncmp(name, "vh", 2) || strcmp(kind, "veth"))
		return 0;
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].host_ifname, name))
			return 0;
	if (o->n < sizeof(o->idx) / sizeof(o->idx[0]))
		o->idx[o->n++] = ifindex;
	log_warn("%s: no endpoint owns this interface (a set-up cut short): removing it",
		 name);
	return 0;
}

int ag_remove_orphans(struct agent *ag)
{
	struct orphans o = { .ag = ag };
	int removed = 0, batch;

	/* Batches of 256: deleting while dumping is not safe. */
	do {
		o.n = 0;
		batch = 0;
		link_foreach(ag->nl, collect_orphan, &o);
		for (size_t i = 0; i < o.n; i++) {
			if (ag->dp)
				dp_iface_del(ag->dp, (uint32_t)o.idx[i]);
			if (!link_del(ag->nl, o.idx[i]))
				batch++;
		}
		removed += batch;
		ag->orphans_removed += (uint64_t)batch;
	} while (o.n == sizeof(o.idx) / sizeof(o.idx[0]) && batch);
	return removed;
}

int ag_hub_teardown(struct agent *ag)
{
	int err;

	err = nft_remove(ag->nft_table);
	if (err)
		log_warn("cannot remove nftables table %s: %s", ag->nft_table,
			 strerror(-err));
	dp_close(ag->dp);
	ag->dp = NULL;
	return dp_unpin(ag->pin_dir);
}

/*
 * The device and the destination map back to the saved peers: a save lags
 * what was applied, and the saved generation says what the host resends.
 */
static void adopt_peers(struct agent *ag, struct ag_net *n)
{
	json_t *arr = json_array(), *p;
	const char *k;
	char why[200];
	int r;

	json_object_foreach(n->peers, k, p)
		json_array_append(arr, p);
	r = ag_peers_full(ag, n, arr, why, sizeof(why));
	if (r < 0) {
		log_warn(
			"%s: saved peers not applied (%s); a full resync follows",
			n->ifname, why);
		n->gen = 0;
	} else if (r > 0) {
		log_warn("%s: %s", n->ifname, why);
	}
	json_decref(arr);
}

/*
 * After a restart: every network and endpoint in the saved state whose
 * interface still exists is taken over as it is (maps re-put with the same
 * values, programs replaced atomically), so traffic never stops. What has
 * vanished meanwhile is marked, and the host cleans it up.
 */
int ag_adopt(struct agent *ag)
{
	int adopted = 0;

	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];
		int r;

		if (!n->used)
			continue;
		if (ag_net_load_key(ag, n))
			log_warn("network %s: no private key", n->name);
		r = ag->wg->exists(n->ifname);
		n->ifindex = link_index(ag->nl, n->ifname);
		if (r <= 0 || n->ifindex <= 0) {
			log_warn(
				"%s: WireGuard interface of network %s is gone; "
				"it will be recreated by the host's replay",
				n->ifname, n->name);
			n->ifindex = 0;
			continue;
		}
		ag_net_dp_sync(ag, n);
		adopt_peers(ag, n);
		adopted++;
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (!e->used)
			continue;
		e->host_ifindex = link_index(ag->nl, e->host_ifname);
		e->present = e->host_ifindex > 0;
		if (!e->present)
			continue;
		/* Filtered first, then up (a crash after the state was
		 * saved may have left it down); if the program cannot be
		 * attached, the interface goes down: fail closed. */
		if (ag_ep_dp_sync(ag, e)) {
			link_set(ag->nl, e->host_ifindex, NULL, 0, NULL, 0);
			continue;
		}
		ag_ep_bring_up(ag, e, NULL);
		adopted++;
	}
	for (int i = 0; i < AG_MAX_CTRS; i++)
		if (ag->ctrs[i].used)
			ag_dns_open(ag, &ag->ctrs[i]);
	ag_dns_net_sync(ag);
	ag_isolation_sync(ag);
	log_info("adopted %d interfaces from the previous agent", adopted);
	return 0;
}

/* A container namespace deleted behind our back takes its veth with it:
 * forget the map entries of its endpoints and report them as not present. */
struct ifset {
	int *idx;
	size_t n, cap;
};

static int ifset_add(int ifindex, const char *name, const char *kind,
		     void *data)
{
	struct ifset *s = data;

	(void)name;
	(void)kind;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		int *t = realloc(s->idx, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		s->idx = t;
		s->cap = cap;
	}
	s->idx[s->n++] = ifindex;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * The container's namespace path is gone (ip netns del, or the runtime
 * removed it). The namespace itself may live on: our resolver sockets in it
 * hold a reference, and so keep its veths. The path is what tells us.
 */
static bool ctr_ns_gone(struct ag_ctr *c)
{
	int fd;

	if (!c || ag_ctr_host_mode(c))
		return false; /* the veth is the whole container for us */
	fd = netns_open(c->netns);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return fd == -ENOENT;
}

/*
 * A container namespace deleted behind our back: its veths go (with the
 * namespace, or deleted here when our resolver sockets kept the namespace
 * alive), the map entries of its endpoints and its resolver sockets too,
 * and its endpoints are reported as not present (the host then removes the
 * container). A network's WireGuard interface gone (its wireguard-go
 * exited): rebuilt. One link dump per check, however many there are.
 */
void ag_check_links(struct agent *ag)
{
	struct ifset set = { 0 };
	bool changed = false;

	if (link_foreach(ag->nl, ifset_add, &set)) {
		free(set.idx);
		return;
	}
	qsort(set.idx, set.n, sizeof(int), cmp_int);
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];
		struct ag_ctr *c;
		struct ag_net *n;
		bool here;

		if (!e->used || !e->present)
			continue;
		c = ag_ctr_find(ag, e->cid);
		here = e->host_ifindex > 0 &&
		       bsearch(&e->host_ifindex, set.idx, set.n, sizeof(int),
			       cmp_int);
		if (here && !ctr_ns_gone(c))
			continue;
		log_warn("endpoint %s of container %.12s vanished",
			 e->host_ifname, e->cid);
		e->present = false;
		changed = true;
		n = ag_net_find(ag, e->net_id);
		dp_iface_del(ag->dp, (uint32_t)e->host_ifindex);
		if (n && e->ip4.family)
			dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip4);
		if (n && e->ip6.family)
			dp_dest_del(ag->dp, (uint32_t)n->index, &e->ip6);
		if (here)
			link_del(ag->nl,
				 e->host_ifindex); /* and the peer end */
		e->host_ifindex = 0;
		if (c)
			ag_dns_close(ag, c);
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		/* The current interface of a rotation in progress is left to
		 * the rotation (its commit or abort), a failed rebuild to its
		 * pause. */
		if (!n->used || n->rot_ifindex || time(NULL) < n->heal_after ||
		    (n->ifindex > 0 && bsearch(&n->ifindex, set.idx, set.n,
					       sizeof(int), cmp_int)))
			continue;
		ag_net_heal(ag, n);
	}
	free(set.idx);
	if (changed)
		ag_state_save(ag);
}
