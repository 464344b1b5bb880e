// SPDX-License-Identifier: GPL-2.0
/* wgnet-guest's control calls (docs/protocol.md, "Guest calls"): dispatch,
 * hub, status, DNS, ports, reconcile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dns.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "ops.h"

/* Identifiers become file and interface names: hex only. */
bool ag_valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 12 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool ag_valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= AG_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

void ag_mac_fmt(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

int ag_mac_parse(const char *s, uint8_t *m)
{
	unsigned int b[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
			 &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	if (m[0] & 1) /* multicast */
		return -EINVAL;
	return 0;
}

unsigned int ag_ep_mtu(struct agent *ag)
{
	return ag->underlay_mtu > WG_OVERHEAD + 576 ?
		       ag->underlay_mtu - WG_OVERHEAD :
		       1420;
}

void ag_key_path(struct agent *ag, const char *net_id, char *buf, size_t n)
{
	snprintf(buf, n, "%s/keys/%s.key", ag->state_dir, net_id);
}

/* ---- SetDNS / PublishPorts / Reconcile -------------------------------- */

/* SetDNS: a container's own records (compatibility); it also resolves the
 * records of the networks it is on. */
static json_t *ag_op_set_dns(struct agent *ag, json_t *args)
{
	const char *cid = json_str(args, "container_id");
	json_t *recs = json_object_get(args, "records");
	struct ag_ctr *c;
	char why[128];

	if (!ag_valid_id(cid))
		return proto_reply_err(-EINVAL, "container_id must be 12-64 lowercase hex characters");
	if (ag_dns_check(recs, why, sizeof(why)))
		return proto_reply_err(-EINVAL, "%s", why);
	c = ag_ctr_find(ag, cid);
	if (!c)
		return proto_reply_err(-ENOENT, "container %.12s has no endpoint on this guest", cid);
	json_decref(c->dns);
	c->dns = json_deep_copy(recs);
	ag_dns_records(ag, c);
	ag_state_touch(ag);
	return proto_reply_ok(NULL);
}

/* A mapping's host address; family 0 for any (absent, "", 0.0.0.0, ::). */
static void port_hip(json_t *p, struct ip_addr *a)
{
	static const uint8_t zero[16];
	const char *hip = json_str(p, "host_ip");

	if (!hip || !*hip || ip_parse(hip, a) ||
	    (a->family == AF_INET && !ip_v4_be(a)) ||
	    (a->family == AF_INET6 && !memcmp(a->a, zero, 16)))
		memset(a, 0, sizeof(*a));
}

/* Same protocol and host port, on any address or on the same one. */
static bool ports_collide(json_t *p, json_t *q)
{
	struct ip_addr a, b;

	if (json_integer_value(json_object_get(p, "host_port")) !=
		    json_integer_value(json_object_get(q, "host_port")) ||
	    strcmp(json_str(p, "proto") ?: "", json_str(q, "proto") ?: ""))
		return false;
	port_hip(p, &a);
	port_hip(q, &b);
	return !a.family || !b.family || ip_equal(&a, &b);
}

static json_t *ag_op_publish_ports(struct agent *ag, json_t *args)
{
	const char *cid = json_str(args, "container_id");
	json_t *ports = json_object_get(args, "ports"), *p, *old;
	struct ag_ctr *c;
	size_t i;
	int err;

	if (!ag_valid_id(cid))
		return proto_reply_err(-EINVAL, "container_id must be 12-64 lowercase hex characters");
	if (!json_is_array(ports) || json_array_size(ports) > 1024)
		return proto_reply_err(-EINVAL, "ports must be an array");
	c = ag_ctr_find(ag, cid);
	if (!c)
		return proto_reply_err(-ENOENT, "container %.12s has no endpoint on this guest", cid);
	json_array_foreach(ports, i, p)
	{
		const char *proto = json_str(p, "proto"), *hip = json_str(p, "host_ip");
		const char *cip = json_str(p, "container_ip");
		json_int_t hp = json_integer_value(json_object_get(p, "host_port"));
		json_int_t cp = json_integer_value(json_object_get(p, "container_port"));
		struct ip_addr a;

		if (!proto || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
			return proto_reply_err(-EINVAL, "port %zu: proto must be tcp or udp", i);
		if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535)
			return proto_reply_err(-EINVAL, "port %zu: ports must be 1..65535", i);
		if ((hip && *hip && ip_parse(hip, &a)) || !cip || ip_parse(cip, &a))
			return proto_reply_err(-EINVAL, "port %zu: bad address", i);
		/* Conflicts with other containers' mappings. */
		for (int k = 0; k < AG_MAX_CTRS; k++) {
			struct ag_ctr *o = &ag->ctrs[k];
			json_t *q;
			size_t j;

			if (!o->used || o == c)
				continue;
			json_array_foreach(o->ports, j, q)
			{
				if (ports_collide(p, q))
					return proto_reply_err(-EADDRINUSE,
							       "port %lld/%s is already published by %s",
							       (long long)hp, proto, o->name);
			}
		}
	}
	/* The same mappings again (a connect republishes them): nothing to
	 * apply, nothing to save. */
	if (c->ports ? json_equal(c->ports, ports) : !json_array_size(ports))
		return proto_reply_ok(NULL);
	old = c->ports;
	c->ports = json_deep_copy(ports);
	err = ag_nft_sync(ag);
	if (err) {
		json_decref(c->ports);
		c->ports = old;
		ag_nft_sync(ag);
		return proto_reply_err(err, "cannot apply port mappings: %s", strerror(-err));
	}
	json_decref(old);
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

static bool in_list(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static json_t *ag_op_reconcile(struct agent *ag, json_t *args)
{
	json_t *nets = json_object_get(args, "networks");
	json_t *ctrs = json_object_get(args, "containers");
	json_t *rn = json_array(), *re = json_array();

	if (!json_is_array(nets) || !json_is_array(ctrs)) {
		json_decref(rn);
		json_decref(re);
		return proto_reply_err(-EINVAL, "networks and containers must be arrays");
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (e->used && (!in_list(ctrs, e->cid) || !in_list(nets, e->net_id))) {
			json_array_append_new(re, json_pack("{s:s,s:s}", "network_id",
							    e->net_id, "container_id", e->cid));
			ag_ep_remove(ag, e);
		}
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (n->used && !in_list(nets, n->id)) {
			json_array_append_new(rn, json_string(n->id));
			ag_net_remove(ag, n);
		}
	}
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		struct ag_ctr *c = &ag->ctrs[i];

		if (c->used && !ag_ctr_has_endpoints(ag, c->id)) {
			ag_dns_close(ag, c);
			ag_ctr_clear(c);
		}
	}
	ag_nft_sync(ag);
	ag_state_save(ag);
	return proto_reply_ok(json_pack("{s:{s:o,s:o}}", "removed", "networks", rn,
					"endpoints", re));
}

/* ---- Hub, status ------------------------------------------------------- */

static json_t *underlay_json(struct agent *ag)
{
	char a[IPNET_STRLEN], p[IPNET_STRLEN];
	struct ip_prefix net = ag->underlay;

	prefix_normalize(&net);
	return json_pack("{s:s,s:s,s:s,s:i}", "ifname", ag->underlay_if, "address",
			 ip_fmt(&ag->underlay.addr, a), "prefix", prefix_fmt(&net, p),
			 "mtu", (int)ag->underlay_mtu);
}

/* The host's part of the control-plane set (CreateHub, SetIsolation):
 * NULL if ctrl is valid, else the error reply. */
#define AG_MAX_HOST_CTRL (WGN_MAX_PREFIXES / 2)
static json_t *ctrl_args_check(json_t *ctrl)
{
	size_t i;
	json_t *v;

	if (!json_is_array(ctrl) || json_array_size(ctrl) > AG_MAX_HOST_CTRL)
		return proto_reply_err(-EINVAL, "ctrl_prefixes must be an array of at most %d CIDRs",
				       AG_MAX_HOST_CTRL);
	json_array_foreach(ctrl, i, v)
	{
		struct ip_prefix p;

		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			return proto_reply_err(-EINVAL, "ctrl_prefixes[%zu] is not a CIDR", i);
	}
	return NULL;
}

static json_t *ag_op_create_hub(struct agent *ag, json_t *args)
{
	json_t *ctrl = json_object_get(args, "ctrl_prefixes"), *bad;
	int err;

	if (ctrl) {
		bad = ctrl_args_check(ctrl);
		if (bad)
			return bad;
		json_decref(ag->ctrl);
		ag->ctrl = json_deep_copy(ctrl);
	}
	err = ag_hub_setup(ag);
	if (err)
		return proto_reply_err(err, "cannot set up the hub: %s", strerror(-err));
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

/* SetIsolation {"subnets":[CIDR…], "ctrl_prefixes":[CIDR…] (optional)}:
 * the subnets of all wgnet networks, the full set. Those of networks not
 * joined here are dropped as isolation. ctrl_prefixes, when given,
 * replaces the host's part of the control-plane set (as CreateHub's). */
static json_t *ag_op_set_isolation(struct agent *ag, json_t *args)
{
	json_t *subs = json_object_get(args, "subnets"), *v;
	json_t *ctrl = json_object_get(args, "ctrl_prefixes"), *bad;
	struct ip_prefix p;
	size_t i;
	int err, nerr, cerr = 0;

	if (ctrl && (bad = ctrl_args_check(ctrl)))
		return bad;
	if (!json_is_array(subs) || json_array_size(subs) > AG_MAX_ISOLATE)
		return proto_reply_err(-EINVAL, "subnets must be an array of at most %d CIDRs",
				       AG_MAX_ISOLATE);
	json_array_foreach(subs, i, v)
		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			return proto_reply_err(-EINVAL, "subnets[%zu] is not a CIDR", i);
	/* Entries that left the set (and are no joined network's). */
	json_array_foreach(ag->isolate, i, v)
	{
		size_t k;
		json_t *w;
		bool keep = false;

		if (!json_is_string(v) ||
		    prefix_parse(json_string_value(v), false, &p))
			continue;
		prefix_normalize(&p);
		json_array_foreach(subs, k, w)
		{
			struct ip_prefix q;

			prefix_parse(json_string_value(w), false, &q);
			prefix_normalize(&q);
			keep = keep || (q.plen == p.plen && ip_equal(&q.addr, &p.addr));
		}
		if (!keep && !ag_subnet_joined(ag, &p))
			dp_subnet_del(ag->dp, &p);
	}
	json_decref(ag->isolate);
	ag->isolate = json_deep_copy(subs);
	err = ag_isolation_sync(ag);
	/* The host's part of the control-plane set, if given; re-syncing the
	 * map picks up underlay addresses added since (the table below too). */
	if (ctrl) {
		json_decref(ag->ctrl);
		ag->ctrl = json_deep_copy(ctrl);
	}
	if (ag->dp)
		cerr = ag_ctrl_sync(ag);
	/* The nftables backstop drops the subnets the BPF map could not
	 * take: isolation holds, and the error still goes back. */
	nerr = ag_nft_sync(ag);
	ag_state_save(ag);
	if (err)
		return proto_reply_err(err, "%u of the isolated subnets do not fit in the BPF subnet map (size %u%s): %s; %s",
				       ag->dperr.iso_missing,
				       ag->lim.subnets ? ag->lim.subnets : WGN_MAX_PREFIXES,
				       ag->lim.subnets ? ", --map-subnets" : "",
				       strerror(-err),
				       nerr ? "the nftables backstop failed too" :
					      "they are dropped by nftables instead");
	if (cerr)
		return proto_reply_err(cerr, "cannot program the control-plane set: %s",
				       strerror(-cerr));
	if (nerr)
		return proto_reply_err(nerr, "cannot apply the nftables table: %s",
				       strerror(-nerr));
	return proto_reply_ok(NULL);
}

static json_t *ag_op_delete_hub(struct agent *ag, json_t *args)
{
	(void)args;
	for (int i = 0; i < AG_MAX_NETS; i++)
		if (ag->nets[i].used)
			ag_net_remove(ag, &ag->nets[i]);
	for (int i = 0; i < AG_MAX_CTRS; i++)
		if (ag->ctrs[i].used) {
			ag_dns_close(ag, &ag->ctrs[i]);
			ag_ctr_clear(&ag->ctrs[i]);
		}
	json_decref(ag->ctrl);
	ag->ctrl = NULL;
	json_decref(ag->isolate);
	ag->isolate = NULL;
	ag_hub_teardown(ag);
	ag_state_save(ag);
	return proto_reply_ok(NULL);
}

static json_t *counters_json(struct agent *ag, bool drops)
{
	uint64_t v[(int)WGN_DROP__MAX + (int)WGN_STAT__MAX] = { 0 };
	int max = drops ? WGN_DROP__MAX : WGN_STAT__MAX;
	json_t *o = json_object();

	if (!ag->dp || (drops ? dp_read_drops(ag->dp, v) : dp_read_stats(ag->dp, v)))
		return o;
	for (int i = drops ? 1 : 0; i < max; i++) {
		const char *name = drops ? dp_drop_name(i) : dp_stat_name(i);

		if (name && *name && strcmp(name, "unknown"))
			json_object_set_new(o, name, json_integer((json_int_t)v[i]));
	}
	return o;
}

static json_t *ag_op_get_status(struct agent *ag, json_t *args)
{
	json_t *nets = json_array(), *eps = json_array(), *res;

	(void)args;
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];
		struct wg_device *dev = NULL;
		json_t *jn = ag_net_result(n), *peers = json_array();

		if (!n->used) {
			json_decref(jn);
			json_decref(peers);
			continue;
		}
		json_object_set_new(jn, "id", json_string(n->id));
		json_object_set_new(jn, "name", json_string(n->name));
		if (!ag->wg->get(n->ifname, &dev)) {
			for (size_t p = 0; p < dev->n_peers; p++) {
				struct wg_peer *wp = &dev->peers[p];
				char key[WG_KEY_B64_LEN], buf[IPNET_STRLEN + 8];
				json_t *ai = json_array();
				struct ip_addr ip;
				uint16_t port = 0;

				wg_key_to_base64(key, wp->public_key);
				buf[0] = '\0';
				if (wp->endpoint.ss_family &&
				    !ip_from_sockaddr((struct sockaddr *)&wp->endpoint, &ip, &port))
					endpoint_fmt(&ip, port, buf, sizeof(buf));
				for (size_t k = 0; k < wp->n_allowed; k++) {
					char a[IPNET_STRLEN];

					prefix_fmt(&wp->allowed[k], a);
					json_array_append_new(ai, json_string(a));
				}
				json_array_append_new(
					peers, json_pack("{s:s,s:s,s:o,s:I,s:I,s:I}", "public_key", key,
							 "endpoint", buf, "allowed_ips", ai,
							 "latest_handshake", (json_int_t)wp->last_handshake.tv_sec,
							 "rx_bytes", (json_int_t)wp->rx_bytes,
							 "tx_bytes", (json_int_t)wp->tx_bytes));
			}
			wg_device_free(dev);
			json_object_set_new(jn, "up", json_true());
		} else {
			json_object_set_new(jn, "up", json_false());
		}
		json_object_set_new(jn, "peers", peers);
		json_array_append_new(nets, jn);
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];
		struct ag_ctr *c;
		char a[IPNET_STRLEN], a6[IPNET_STRLEN], mac[18];

		if (!e->used)
			continue;
		c = ag_ctr_find(ag, e->cid);
		ag_mac_fmt(e->mac, mac);
		json_array_append_new(
			eps, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "network_id",
				       e->net_id, "container_id", e->cid, "container",
				       c ? c->name : "", "ifname", e->ifname, "host_ifname",
				       e->host_ifname, "ip", ip_fmt(&e->ip4, a), "ip6",
				       ip_fmt(&e->ip6, a6), "mac", mac, "present", e->present));
	}
	res = json_pack("{s:s,s:s,s:o,s:o,s:o,s:s}", "guest", ag->name, "backend",
			ag->wg->name, "underlay", underlay_json(ag), "networks", nets,
			"endpoints", eps, "pin_dir", ag->pin_dir);
	json_object_set_new(res, "drops", counters_json(ag, true));
	json_object_set_new(res, "stats", counters_json(ag, false));
	if (ag->dns) {
		struct dns_server_stats ds;

		dns_server_get_stats(ag->dns, &ds);
		json_object_set_new(
			res, "dns",
			json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "clients",
				  (json_int_t)ds.clients, "forwarded",
				  (json_int_t)ds.forwarded, "fwd_inflight",
				  (json_int_t)ds.fwd_inflight, "fwd_refused_ctr",
				  (json_int_t)ds.fwd_refused_ctr, "fwd_refused_total",
				  (json_int_t)ds.fwd_refused_total, "tcp_conns",
				  (json_int_t)ds.tcp_conns, "tcp_refused_ctr",
				  (json_int_t)ds.tcp_refused_ctr, "tcp_refused_total",
				  (json_int_t)ds.tcp_refused_total));
	}
	{
		unsigned int dm = 0;

		for (int i = 0; i < AG_MAX_NETS; i++)
			if (ag->nets[i].used)
				dm += (unsigned int)json_object_size(ag->nets[i].dmiss);
		json_object_set_new(
			res, "dp_errors",
			json_pack("{s:I,s:s,s:i,s:i,s:i}", "total",
				  (json_int_t)ag->dperr.total, "last",
				  ag->dperr.last, "isolation_missing",
				  (int)ag->dperr.iso_missing, "ctrl_missing",
				  (int)ag->dperr.ctrl_missing, "dests_missing",
				  (int)dm));
	}
	json_object_set_new(res, "orphans_removed",
			    json_integer((json_int_t)ag->orphans_removed));
	json_object_set_new(res, "control",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "accepted",
				      (json_int_t)ag->ctl.accepted, "refused_vsock",
				      (json_int_t)ag->ctl.refused_vsock, "refused_uid",
				      (json_int_t)ag->ctl.refused_uid, "deadline_missed",
				      (json_int_t)ag->ctl.deadline_missed, "bad_frames",
				      (json_int_t)ag->ctl.bad_frames, "conns_full",
				      (json_int_t)ag->ctl.conns_full));
	return proto_reply_ok(res);
}

/* Hello: who we are, and the generation of every network held. */
static json_t *ag_op_hello(struct agent *ag, json_t *args)
{
	json_t *nets = json_object();

	(void)args;
	for (int i = 0; i < AG_MAX_NETS; i++)
		if (ag->nets[i].used)
			json_object_set_new(nets, ag->nets[i].id,
					    json_integer((json_int_t)ag->nets[i].gen));
	return proto_reply_ok(json_pack("{s:i,s:s,s:s,s:o,s:s}", "version",
					PROTO_VERSION, "guest", ag->name, "backend",
					ag->wg->name, "nets", nets, "boot", ag->boot));
}

static json_t *ag_op_underlay(struct agent *ag, json_t *args)
{
	(void)args;
	return proto_reply_ok(underlay_json(ag));
}

static const struct {
	const char *name;
	json_t *(*fn)(struct agent *ag, json_t *args);
	bool needs_dp;
} ops[] = {
	{ "Hello", ag_op_hello, false },
	{ "GetUnderlayEndpoint", ag_op_underlay, false },
	{ "CreateHub", ag_op_create_hub, false },
	{ "DeleteHub", ag_op_delete_hub, false },
	{ "AddNetwork", ag_op_add_network, true },
	{ "RemoveNetwork", ag_op_remove_network, true },
	{ "AddEndpoint", ag_op_add_endpoint, true },
	{ "RemoveEndpoint", ag_op_remove_endpoint, true },
	{ "UpdatePeers", ag_op_update_peers, true },
	{ "SyncNetwork", ag_op_sync_network, true },
	{ "UpdateNetwork", ag_op_update_network, true },
	{ "RotatePrepare", ag_op_rotate_prepare, true },
	{ "RotatePeers", ag_op_rotate_peers, true },
	{ "RotateSwitch", ag_op_rotate_switch, true },
	{ "RotateCommit", ag_op_rotate_commit, true },
	{ "RotateAbort", ag_op_rotate_abort, true },
	{ "SetDNS", ag_op_set_dns, false },
	{ "PublishPorts", ag_op_publish_ports, true },
	{ "Reconcile", ag_op_reconcile, true },
	{ "GetStatus", ag_op_get_status, false },
	{ "SetIsolation", ag_op_set_isolation, true },
};

json_t *ag_dispatch(struct agent *ag, const char *op, json_t *args)
{
	json_t *empty = NULL, *r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i].name))
			continue;
		if (ops[i].needs_dp && !ag->dp) {
			int err = ag_hub_setup(ag);

			if (err)
				return proto_reply_err(err, "the data plane is not available: %s",
						       strerror(-err));
		}
		if (!args)
			args = empty = json_object();
		r = ops[i].fn(ag, args);
		json_decref(empty);
		/* Gateway resolvers follow networks, endpoints and names. */
		if (strcmp(op, "GetStatus") && strcmp(op, "Hello"))
			ag_dns_net_sync(ag);
		return r;
	}
	return proto_reply_err(-EOPNOTSUPP, "unknown op \"%.64s\"", op);
}
