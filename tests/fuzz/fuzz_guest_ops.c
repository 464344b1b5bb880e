// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: wgnet-guest's control calls, ag_dispatch() in guest/ops.c, on
 * requests from the input. The input is one JSON request {"op","args"} or an
 * array of up to 32 of them, run in order on a fresh agent, so sequences such
 * as AddNetwork -> AddEndpoint -> UpdatePeers -> PublishPorts are reached.
 *
 * Safety by construction: this program links guest/ops.c and guest/state.c
 * with the pure helpers (proto, ipnet, wg_key, log) only. Everything that
 * would touch the machine -- the BPF data plane (dp_*), rtnetlink (link_*,
 * addr_*, route_*, neigh_*, rtnl_*), namespaces (netns_open), the hub
 * (sysctls, nftables), the DNS sockets and the WireGuard backend -- is an
 * in-memory fake defined below; the real code is not in the binary. The
 * private key file is redirected with -Wl,--wrap=wg_key_load_or_create, and
 * the state directory is under /dev/null, so the agent's state save and its
 * key unlink fail with ENOTDIR and can never write a file.
 *
 * Each reply must be a well-formed protocol reply, and the agent's tables
 * must stay consistent (unique network ids and indexes, endpoints on known
 * networks and containers).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/dns.h"
#include "wgnet/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int __wrap_wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN]);

#define FZ_STATE_DIR "/dev/null/wgnet-fuzz" /* ENOTDIR: nothing is written */
#define FZ_MAX_REQS 32

/* ---- the fake kernel: rtnetlink, namespaces ----------------------------- */

struct rtnl {
	int unused;
};
static struct rtnl fake_nl;

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

struct rtnl *rtnl_open(int netns_fd)
{
	(void)netns_fd;
	return &fake_nl;
}

void rtnl_close(struct rtnl *nl)
{
	(void)nl;
}

/* Every name exists, at an index derived from it: enough for the checks in
 * ops.c that compare a recorded index with the current one. */
int link_index(struct rtnl *nl, const char *name)
{
	(void)nl;
	if (!name || !*name || strlen(name) >= 16)
		return -ENODEV;
	return (int)(hash(name) % 100000) + 2;
}

int link_veth_create(struct rtnl *nl, const char *name, const char *peer_name,
		     int peer_netns_fd, unsigned int mtu)
{
	(void)nl;
	(void)peer_netns_fd;
	(void)mtu;
	if (!*name || !*peer_name || strlen(name) >= 16 ||
	    strlen(peer_name) >= 16)
		__builtin_trap(); /* ops.c must never ask for a bad name */
	return 0;
}

int link_set(struct rtnl *nl, int ifindex, const char *name, unsigned int mtu,
	     const uint8_t *mac, int up)
{
	(void)nl;
	(void)name;
	(void)mac;
	(void)up;
	if (ifindex <= 0 || mtu > 65535)
		__builtin_trap();
	return 0;
}

int link_del(struct rtnl *nl, int ifindex)
{
	(void)nl;
	return ifindex > 0 ? 0 : -ENODEV;
}

int link_get_mac(struct rtnl *nl, int ifindex, uint8_t mac[6])
{
	(void)nl;
	mac[0] = 0x02;
	mac[1] = 0x00;
	memcpy(mac + 2, &ifindex, 4);
	return 0;
}

int link_foreach(struct rtnl *nl,
		 int (*cb)(int ifindex, const char *name, const char *kind,
			   void *data),
		 void *data)
{
	static const char *const names[] = { "lo", "eth0", "eth12345678901" };

	(void)nl;
	for (int i = 0; i < 3; i++)
		if (cb(i + 1, names[i], i ? "veth" : "", data))
			break;
	return 0;
}

int addr_add(struct rtnl *nl, int ifindex, const struct ip_addr *ip, int plen)
{
	(void)nl;
	if (ifindex <= 0 || plen < 0 || plen > ip_max_plen(ip->family))
		__builtin_trap();
	return 0;
}

int route_replace(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
		  const struct ip_addr *gw)
{
	(void)nl;
	(void)gw;
	if (ifindex <= 0 || dst->plen > ip_max_plen(dst->addr.family))
		__builtin_trap();
	return 0;
}

int route_replace_onlink(struct rtnl *nl, int ifindex,
			 const struct ip_prefix *dst, const struct ip_addr *gw)
{
	(void)nl;
	if (ifindex <= 0 || dst->plen > ip_max_plen(dst->addr.family) ||
	    gw->family != dst->addr.family)
		__builtin_trap();
	return 0;
}

int addr_add_noprefixroute(struct rtnl *nl, int ifindex,
			   const struct ip_addr *ip, int plen)
{
	(void)nl;
	if (ifindex <= 0 || plen < 0 || plen > ip_max_plen(ip->family))
		__builtin_trap();
	return 0;
}

int link_set_txqlen(struct rtnl *nl, int ifindex, unsigned int qlen)
{
	(void)nl;
	(void)qlen;
	return ifindex > 0 ? 0 : -ENODEV;
}

int neigh_replace(struct rtnl *nl, int ifindex, const struct ip_addr *ip,
		  const uint8_t mac[6])
{
	(void)nl;
	(void)ip;
	(void)mac;
	return ifindex > 0 ? 0 : -ENODEV;
}

/* A namespace whose name says "missing" does not exist; any other is
 * /dev/null opened read-only (ops.c only passes the fd on and closes it). */
int netns_open(const char *path_or_name)
{
	int fd;

	if (strstr(path_or_name, "missing"))
		return -ENOENT;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- the fake data plane ------------------------------------------------- */

struct dp {
	int unused;
};
static struct dp fake_dp;

#define FZ_MAX_DESTS 256
static struct {
	struct wgn_dest_key k;
	struct wgn_dest v;
} dests[FZ_MAX_DESTS];
static size_t n_dests;

static void dest_key(struct wgn_dest_key *k, uint32_t net_id,
		     const struct ip_addr *ip)
{
	memset(k, 0, sizeof(*k));
	k->net_id = net_id;
	memcpy(k->addr, ip->a, 16);
}

int dp_dest_set(struct dp *dp, uint32_t net_id, const struct ip_addr *ip,
		const struct wgn_dest *v)
{
	struct wgn_dest_key k;
	size_t i;

	if (dp != &fake_dp || !ip->family)
		__builtin_trap();
	dest_key(&k, net_id, ip);
	for (i = 0; i < n_dests; i++)
		if (!memcmp(&dests[i].k, &k, sizeof(k)))
			break;
	if (i == n_dests) {
		if (n_dests == FZ_MAX_DESTS)
			return -E2BIG;
		n_dests++;
	}
	dests[i].k = k;
	dests[i].v = *v;
	return 0;
}

int dp_dest_del(struct dp *dp, uint32_t net_id, const struct ip_addr *ip)
{
	struct wgn_dest_key k;

	if (dp != &fake_dp)
		__builtin_trap();
	dest_key(&k, net_id, ip);
	for (size_t i = 0; i < n_dests; i++)
		if (!memcmp(&dests[i].k, &k, sizeof(k))) {
			dests[i] = dests[--n_dests];
			return 0;
		}
	return -ENOENT;
}

int dp_dest_foreach(struct dp *dp,
		    int (*cb)(const struct wgn_dest_key *k,
			      const struct wgn_dest *v, void *data),
		    void *data)
{
	if (dp != &fake_dp)
		__builtin_trap();
	for (size_t i = 0; i < n_dests; i++)
		if (cb(&dests[i].k, &dests[i].v, data))
			break;
	return 0;
}

int dp_attach(struct dp *dp, int ifindex, int kind)
{
	(void)ifindex;
	(void)kind;
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_iface_set(struct dp *dp, uint32_t ifindex, const struct wgn_iface *v)
{
	(void)ifindex;
	(void)v;
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_iface_del(struct dp *dp, uint32_t ifindex)
{
	(void)ifindex;
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_detach(struct dp *dp, int ifindex)
{
	(void)ifindex;
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_net_del(struct dp *dp, uint32_t net_id)
{
	if (net_id >= AG_MAX_NETS)
		__builtin_trap();
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_subnet_del(struct dp *dp, const struct ip_prefix *p)
{
	if (!p->addr.family)
		__builtin_trap();
	return dp == &fake_dp ? 0 : -EBADF;
}

int dp_read_drops(struct dp *dp, uint64_t *drops)
{
	(void)dp;
	drops[1] = 7;
	return 0;
}

int dp_read_stats(struct dp *dp, uint64_t *stats)
{
	(void)dp;
	stats[0] = 9;
	return 0;
}

const char *dp_drop_name(int reason)
{
	return reason == 1 ? "spoof" : "unknown";
}

const char *dp_stat_name(int idx)
{
	return idx == 0 ? "forwarded" : "";
}

/* ---- the fake hub and DNS glue (guest/hub.c, guest/dnsglue.c) ------------ */

int ag_hub_setup(struct agent *ag)
{
	ag->dp = &fake_dp;
	return 0;
}

int ag_hub_teardown(struct agent *ag)
{
	(void)ag;
	return 0;
}

int ag_nft_sync(struct agent *ag)
{
	(void)ag;
	return 0;
}

int ag_ctrl_sync(struct agent *ag) /* SetIsolation with ctrl_prefixes */
{
	(void)ag;
	return 0;
}

#ifdef AG_NET_ISOLATED /* SetIsolation (guest/hub.c) */
static bool prefix_same(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family && a->plen == b->plen &&
	       ip_equal(&a->addr, &b->addr);
}

bool ag_subnet_joined(struct agent *ag, const struct ip_prefix *p)
{
	for (int i = 0; i < AG_MAX_NETS; i++)
		if (ag->nets[i].used && (prefix_same(&ag->nets[i].subnet4, p) ||
					 prefix_same(&ag->nets[i].subnet6, p)))
			return true;
	return false;
}

int ag_isolation_sync(struct agent *ag)
{
	json_t *v;
	size_t i;

	/* what the real sync reads: SetIsolation stored only CIDRs */
	json_array_foreach(ag->isolate, i, v) {
		struct ip_prefix p;

		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			__builtin_trap();
	}
	return 0;
}
#endif

int ag_net_dp_sync(struct agent *ag, struct ag_net *n)
{
	if (!n->used || n->index < 0 || n->index >= AG_MAX_NETS ||
	    ag->dp != &fake_dp)
		__builtin_trap();
	return 0;
}

int ag_ep_dp_sync(struct agent *ag, struct ag_ep *e)
{
	if (!e->used || !ag_net_find(ag, e->net_id))
		__builtin_trap();
	return 0;
}

void ag_dp_error(struct agent *ag, int err, const char *fmt, ...)
{
	(void)fmt;
	if (err >= 0)
		__builtin_trap(); /* only failures are reported */
	ag->dperr.total++;
}

/* GetStatus reads the DNS server's counters; the harness has none. */
void dns_server_get_stats(const struct dns_server *s,
			  struct dns_server_stats *out)
{
	(void)s;
	memset(out, 0, sizeof(*out));
}

void ag_ep_dp_unsync(struct agent *ag, struct ag_ep *e)
{
	(void)ag;
	(void)e;
}

int ag_dns_open(struct agent *ag, struct ag_ctr *c)
{
	(void)ag;
	c->dns_open = true;
	return 0;
}

void ag_dns_net_changed(struct agent *ag, struct ag_net *n)
{
	(void)ag;
	if (!n->used)
		__builtin_trap();
}

void ag_dns_close(struct agent *ag, struct ag_ctr *c)
{
	(void)ag;
	c->dns_open = false;
}

void ag_dns_net_sync(struct agent *ag)
{
	(void)ag; /* sockets in the guest: not in this harness */
}

int ag_dns_records(struct agent *ag, struct ag_ctr *c)
{
	json_t *r;
	size_t i;

	(void)ag;
	/* what the real glue reads from each record */
	json_array_foreach(c->dns, i, r) {
		if (!json_str(r, "name") || !json_str(r, "address"))
			__builtin_trap(); /* SetDNS validated these */
	}
	return 0;
}

/* ---- the fake WireGuard backend ------------------------------------------ */

#define FZ_MAX_DEVS 8
static struct fz_dev {
	bool used;
	char name[16];
	struct wg_peer *peers;
	size_t n_peers;
} devs[FZ_MAX_DEVS];

static struct fz_dev *dev_find(const char *name)
{
	for (int i = 0; i < FZ_MAX_DEVS; i++)
		if (devs[i].used && !strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

static void peers_free(struct wg_peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].allowed);
	free(p);
}

static int peer_copy(struct wg_peer *dst, const struct wg_peer *src)
{
	*dst = *src;
	dst->flags = 0;
	dst->allowed = calloc(src->n_allowed + 1, sizeof(*src->allowed));
	if (!dst->allowed)
		return -ENOMEM;
	if (src->n_allowed)
		memcpy(dst->allowed, src->allowed,
		       src->n_allowed * sizeof(*src->allowed));
	return 0;
}

static int fake_create(const char *ifname)
{
	if (strlen(ifname) >= 16)
		__builtin_trap();
	if (dev_find(ifname))
		return -EEXIST;
	for (int i = 0; i < FZ_MAX_DEVS; i++)
		if (!devs[i].used) {
			devs[i].used = true;
			snprintf(devs[i].name, sizeof(devs[i].name), "%s",
				 ifname);
			return 0;
		}
	return -ENOSPC; /* a real failure path of AddNetwork */
}

static int fake_destroy(const char *ifname)
{
	struct fz_dev *d = dev_find(ifname);

	if (!d)
		return -ENODEV;
	peers_free(d->peers, d->n_peers);
	memset(d, 0, sizeof(*d));
	return 0;
}

static int fake_exists(const char *ifname)
{
	return dev_find(ifname) ? 1 : 0;
}

static int fake_set(const char *ifname, const struct wg_device *dev)
{
	struct fz_dev *d = dev_find(ifname);
	struct wg_peer *np;
	size_t i, k;
	int err;

	if (!d)
		return -ENODEV;
	if (dev->flags & WG_DEV_F_REPLACE_PEERS) {
		peers_free(d->peers, d->n_peers);
		d->peers = NULL;
		d->n_peers = 0;
	}
	for (i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];

		if (p->n_allowed && !p->allowed)
			__builtin_trap();
		for (k = 0; k < d->n_peers; k++)
			if (!memcmp(d->peers[k].public_key, p->public_key,
				    WG_KEY_LEN))
				break;
		if (p->flags & WG_PEER_F_REMOVE) {
			if (k < d->n_peers) {
				free(d->peers[k].allowed);
				d->peers[k] = d->peers[--d->n_peers];
			}
			continue;
		}
		if (k == d->n_peers) {
			np = realloc(d->peers, (d->n_peers + 1) * sizeof(*np));
			if (!np)
				return -ENOMEM;
			d->peers = np;
			d->n_peers++;
		} else {
			free(d->peers[k].allowed);
		}
		err = peer_copy(&d->peers[k], p);
		if (err) {
			d->peers[k] = d->peers[--d->n_peers];
			return err;
		}
	}
	return 0;
}

static int fake_get(const char *ifname, struct wg_device **out)
{
	struct fz_dev *d = dev_find(ifname);
	struct wg_device *dev;

	*out = NULL;
	if (!d)
		return -ENODEV;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->peers = calloc(d->n_peers + 1, sizeof(*dev->peers));
	if (!dev->peers) {
		free(dev);
		return -ENOMEM;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", d->name);
	for (size_t i = 0; i < d->n_peers; i++, dev->n_peers++)
		if (peer_copy(&dev->peers[i], &d->peers[i])) {
			wg_device_free(dev);
			return -ENOMEM;
		}
	*out = dev;
	return 0;
}

static const struct wg_backend fake_wg = {
	.name = "fuzz",
	.create = fake_create,
	.destroy = fake_destroy,
	.exists = fake_exists,
	.set = fake_set,
	.get = fake_get,
};

/* ops.c frees what get() returned with wg_device_free() (src/wg.c is not
 * linked here: it carries the netlink backends). */
void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	peers_free(dev->peers, dev->n_peers);
	explicit_bzero(dev, sizeof(*dev));
	free(dev);
}

/* The key file: a key derived from the path, no file. */
int __wrap_wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN])
{
	uint32_t h = hash(path);

	if (strncmp(path, FZ_STATE_DIR "/", sizeof(FZ_STATE_DIR)))
		__builtin_trap(); /* a key outside the state dir */
	for (int i = 0; i < WG_KEY_LEN; i++) {
		h = h * 1103515245u + 12345u;
		priv[i] = (uint8_t)(h >> 16);
	}
	return 0;
}

/* The state save runs (JSON and all) and fails with ENOTDIR under
 * /dev/null; AddEndpoint refuses an endpoint whose state cannot be saved,
 * so the wrapper answers success to let the sequences go on. */
int __real_ag_state_save(struct agent *a);
int __wrap_ag_state_save(struct agent *a);
int __wrap_ag_state_save(struct agent *a)
{
	int err = __real_ag_state_save(a);

	if (!err)
		__builtin_trap(); /* something was written */
	return 0;
}

/* ---- the agent ----------------------------------------------------------- */

static struct agent *ag;
static bool verbose; /* FUZZ_VERBOSE=1: print each op and its reply */

static void agent_reset(void)
{
	for (int i = 0; i < AG_MAX_NETS; i++)
		ag_net_clear(&ag->nets[i]);
	for (int i = 0; i < AG_MAX_CTRS; i++)
		ag_ctr_clear(&ag->ctrs[i]);
	json_decref(ag->ctrl);
#ifdef AG_NET_ISOLATED
	json_decref(ag->isolate);
#endif
	memset(ag, 0, sizeof(*ag));
	snprintf(ag->name, sizeof(ag->name), "fuzz-guest");
	snprintf(ag->state_dir, sizeof(ag->state_dir), FZ_STATE_DIR);
	snprintf(ag->pin_dir, sizeof(ag->pin_dir), FZ_STATE_DIR "/pins");
	snprintf(ag->wg_prefix, sizeof(ag->wg_prefix), "wgf");
	snprintf(ag->nft_table, sizeof(ag->nft_table), "wgnet_fuzz");
	snprintf(ag->underlay_if, sizeof(ag->underlay_if), "fz0");
	ag->underlay_ifindex = 2;
	prefix_parse("192.0.2.10/24", false, &ag->underlay);
	ag->underlay_mtu = 1500;
	ag->wg = &fake_wg;
	ag->nl = &fake_nl;
	ag->dp = NULL; /* the first op needing it "sets up the hub" */
	for (int i = 0; i < FZ_MAX_DEVS; i++)
		if (devs[i].used)
			fake_destroy(devs[i].name);
	n_dests = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* the agent's error lines would drown the fuzzer's */
	log_level = verbose ? LOG_LVL_DEBUG : -1;
	ag = calloc(1, sizeof(*ag));
	if (!ag)
		abort();
	return 0;
}

static void check_reply(json_t *r)
{
	json_t *ok = json_object_get(r, "ok");
	json_t *code = json_object_get(r, "code");
	const char *err = json_str(r, "error");
	char *text;

	if (!json_is_boolean(ok))
		__builtin_trap();
	if (json_is_false(ok) &&
	    (!err || !*err || !json_is_integer(code) ||
	     json_integer_value(code) <= 0 || json_integer_value(code) > 4095))
		__builtin_trap();
	if (json_is_true(ok) && !json_object_get(r, "result"))
		__builtin_trap();
	text = json_dumps(r, JSON_COMPACT); /* what the server sends */
	if (!text)
		__builtin_trap();
	free(text);
}

static void check_agent(void)
{
	bool idx[AG_MAX_NETS] = { false };

	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (!n->used)
			continue;
		if (n->index < 0 || n->index >= AG_MAX_NETS || idx[n->index] ||
		    ag_net_find(ag, n->id) != n)
			__builtin_trap();
		idx[n->index] = true;
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (e->used &&
		    (!ag_net_find(ag, e->net_id) || !ag_ctr_find(ag, e->cid) ||
		     ag_ep_find(ag, e->net_id, e->cid) != e))
			__builtin_trap();
	}
}

static void run_request(json_t *req)
{
	const char *op = NULL, *why = NULL;
	json_t *args = NULL, *reply;

	if (proto_request_parse(req, &op, &args, &why))
		return;
	reply = ag_dispatch(ag, op, args);
	if (!reply)
		__builtin_trap();
	check_reply(reply);
	if (verbose) {
		char *text = json_dumps(reply, JSON_COMPACT);

		fprintf(stderr, "%s -> %s\n", op, text);
		free(text);
	}
	json_decref(reply);
	check_agent();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in, *req;
	size_t i;

	in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!in)
		return 0;
	agent_reset();
	if (json_is_object(in)) {
		run_request(in);
	} else if (json_is_array(in)) {
		json_array_foreach(in, i, req) {
			if (i >= FZ_MAX_REQS)
				break;
			if (json_is_object(req))
				run_request(req);
		}
	}
	json_decref(in);
	agent_reset(); /* free what the agent holds: leaks are findings */
	return 0;
}
