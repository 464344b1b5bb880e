// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker plugin's methods as wgnet host ops (docs/docker-plugin.md).
 *
 * - A Docker network is a wgnet network, identified by its subnet (the
 *   IPAM pool): the same `docker network create` on several hosts of one
 *   etcd store is one wgnet network; options that disagree are refused.
 * - Each Docker endpoint is a wgnet container in host mode ("dk-…") on
 *   this host's guest with one endpoint: its address is allocated by
 *   RequestAddress (so it is unique across hosts), bound to Docker's
 *   endpoint id by CreateEndpoint, removed by DeleteEndpoint (or by
 *   ReleaseAddress when no endpoint ever took it).
 * - The Docker ids → wgnet ids map lives in a small JSON file.
 *
 * Reads go to the store under h->mu; changes go through host_dispatch(),
 * which takes h->mu itself. p->mu serialises the plugin's own requests.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "host.h"
#include "wgnet/log.h"
#include "plugin.h"
#include "wgnet/proto.h"

#include "plugin_int.h"

/* --- helpers --- */

static json_t *err_reply(const struct plugin_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static json_t *err_reply(const struct plugin_req *r, const char *fmt, ...)
{
	char msg[PLUGIN_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("docker plugin: %s", msg);
	return plugin_error_body(r->ipam, msg);
}

/* A host op; on failure its message in em (caller frees). */
static int op(struct plugin *p, const char *name, json_t *args, json_t **res,
	      char **em)
{
	json_t *out = NULL;
	int rc;

	*em = NULL;
	rc = host_dispatch(p->h, name, args, &out, em);
	json_decref(args);
	if (res)
		*res = out;
	else
		json_decref(out);
	return rc;
}

/* The wgnet network whose IPv4 subnet is pool (0, -ENOENT), and the first
 * one that overlaps it otherwise (*overlap). */
static int net_by_pool(struct plugin *p, const struct ip_prefix *pool,
		       struct st_network *out, struct st_network *overlap)
{
	struct st_network *ns = NULL;
	size_t n = 0;
	int rc;

	if (overlap)
		memset(overlap, 0, sizeof(*overlap));
	pthread_mutex_lock(&p->h->mu);
	rc = p->h->st->ops->network_list(p->h->st, &ns, &n);
	pthread_mutex_unlock(&p->h->mu);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!ns[i].subnet4.addr.family)
			continue;
		if (ns[i].subnet4.plen == pool->plen &&
		    ip_equal(&ns[i].subnet4.addr, &pool->addr)) {
			*out = ns[i];
			rc = 0;
			break;
		}
		if (overlap && !overlap->id[0] &&
		    prefix_overlap(&ns[i].subnet4, pool))
			*overlap = ns[i];
	}
	free(ns);
	return rc;
}

static int net_by_id(struct plugin *p, const char *id, struct st_network *out)
{
	int rc;

	pthread_mutex_lock(&p->h->mu);
	rc = p->h->st->ops->network_get(p->h->st, id, out);
	pthread_mutex_unlock(&p->h->mu);
	return rc;
}

/* The endpoint with address a on network net (0 / -ENOENT). */
static int ep_by_addr(struct plugin *p, const char *net,
		      const struct ip_addr *a, struct st_endpoint *out)
{
	struct st_endpoint *eps = NULL;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&p->h->mu);
	rc = p->h->st->ops->endpoint_list(p->h->st, net, NULL, &eps, &n);
	pthread_mutex_unlock(&p->h->mu);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n && rc; i++)
		if (ip_equal(&eps[i].ip4, a)) {
			*out = eps[i];
			rc = 0;
		}
	free(eps);
	return rc;
}

static int ep_of_container(struct plugin *p, const char *net, const char *cid,
			   struct st_endpoint *out)
{
	int rc;

	pthread_mutex_lock(&p->h->mu);
	rc = p->h->st->ops->endpoint_get(p->h->st, net, cid, out);
	pthread_mutex_unlock(&p->h->mu);
	return rc;
}

static void gateway_of(const struct ip_prefix *pool, struct ip_addr *gw)
{
	ip_add(&pool->addr, 1, gw);
}

/* --- network driver --- */

static json_t *m_caps(void)
{
	/* Definitions are per daemon (no Swarm); the network spans hosts. */
	return json_pack("{s:s,s:s}", "Scope", "local", "ConnectivityScope",
			 "global");
}

/* Options of the existing wgnet network vs this create. */
static int net_mismatch(const struct st_network *n, const struct plugin_req *r,
			const struct ip_prefix *range, char *why, size_t len)
{
	char a[IPNET_STRLEN], b[IPNET_STRLEN];
	struct ip_addr gw = r->gw4;

	if (!gw.family)
		gateway_of(&r->pool4, &gw);
	if (n->internal != r->internal)
		return snprintf(why, len,
				"internal=%s, this create asks internal=%s",
				n->internal ? "true" : "false",
				r->internal ? "true" : "false"),
		       1;
	if (!ip_equal(&n->gw4, &gw))
		return snprintf(why, len, "gateway %s, this create asks %s",
				ip_fmt(&n->gw4, a), ip_fmt(&gw, b)),
		       1;
	if ((n->range4.addr.family != 0) != (range->addr.family != 0) ||
	    (range->addr.family && (n->range4.plen != range->plen ||
				    !ip_equal(&n->range4.addr, &range->addr))))
		return snprintf(why, len, "ip-range %s, this create asks %s",
				n->range4.addr.family ?
					prefix_fmt(&n->range4, a) :
					"none",
				range->addr.family ? prefix_fmt(range, b) :
						     "none"),
		       1;
	if (r->name[0] && strcmp(n->name, r->name))
		return snprintf(why, len, "name %s, this create asks -o %s=%s",
				n->name, PLUGIN_OPT_NAME, r->name),
		       1;
	return 0;
}

static json_t *m_create_net(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n;
	struct ip_prefix range = { 0 };
	char sub[IPNET_STRLEN], buf[IPNET_STRLEN], why[256], name[80];
	json_t *args, *res = NULL;
	char *em = NULL;
	int rc;

	if (r->has_v6)
		return err_reply(r,
				 "IPv6 is not supported by the wgnet plugin");
	if (!r->has_pool4)
		return err_reply(
			r,
			"wgnet needs an IPv4 subnet: use --ipam-driver wgnet --subnet CIDR");
	prefix_fmt(&r->pool4, sub);
	plugin_state_subpool(p, sub, &range);
	rc = net_by_pool(p, &r->pool4, &n, NULL);
	if (!rc) {
		/* Another host (or an earlier create here) made it. */
		if (net_mismatch(&n, r, &range, why, sizeof(why)))
			return err_reply(
				r,
				"wgnet network %s (%s) already exists with %s: use the same options on every host",
				n.name, sub, why);
	} else if (rc == -ENOENT) {
		if (r->name[0])
			snprintf(name, sizeof(name), "%s", r->name);
		else
			snprintf(name, sizeof(name), "docker-%s", sub);
		for (char *c = name; *c; c++)
			if (*c == '/')
				*c = '-';
		args = json_pack("{s:s,s:s,s:s,s:b,s:{s:s}}", "name", name,
				 "driver", "wgnet", "subnet", sub, "internal",
				 r->internal, "labels", "com.wgnet.docker",
				 "plugin");
		if (r->gw4.family)
			json_object_set_new(args, "gateway",
					    json_string(ip_fmt(&r->gw4, buf)));
		if (range.addr.family)
			json_object_set_new(
				args, "ip_range",
				json_string(prefix_fmt(&range, buf)));
		rc = op(p, "NetworkCreate", args, &res, &em);
		if (rc == -EEXIST && !net_by_pool(p, &r->pool4, &n, NULL)) {
			/* Lost a race with another host: compare. */
			rc = 0;
			if (net_mismatch(&n, r, &range, why, sizeof(why))) {
				free(em);
				return err_reply(
					r,
					"wgnet network %s (%s) already exists with %s: use the same options on every host",
					n.name, sub, why);
			}
		} else if (!rc) {
			rc = net_by_id(p, json_str(res, "Id"), &n);
		}
		json_decref(res);
		if (rc) {
			json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

			free(em);
			return e;
		}
		free(em);
	} else {
		return err_reply(r, "store: %s", strerror(-rc));
	}
	rc = plugin_state_net_put(p, r->network_id, n.id);
	if (rc)
		return err_reply(r, "cannot save the plugin state: %s",
				 strerror(-rc));
	log_info("docker plugin: network %.12s is wgnet network %s (%s)",
		 r->network_id, n.name, sub);
	return json_object();
}

static json_t *m_delete_net(struct plugin *p, const struct plugin_req *r)
{
	char wid[ST_ID_LEN], *em = NULL;
	int rc;

	if (plugin_state_net_get(p, r->network_id, wid))
		return json_object(); /* not ours, or already gone */
	/* Other hosts may still use the wgnet network: EBUSY keeps it. */
	rc = op(p, "NetworkRemove", json_pack("{s:s}", "network", wid), NULL,
		&em);
	if (rc && rc != -EBUSY && rc != -ENOENT) {
		json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

		free(em);
		return e;
	}
	free(em);
	plugin_state_net_del(p, r->network_id);
	return json_object();
}

/* The wgnet network of a Docker network id. */
static int dnet(struct plugin *p, const char *dnid, struct st_network *n)
{
	char wid[ST_ID_LEN];

	if (plugin_state_net_get(p, dnid, wid))
		return -ENOENT;
	return net_by_id(p, wid, n);
}

/* A host-mode container on our guest with one endpoint on net: ip (or
 * the first free address when ip is NULL). */
static int reserve(struct plugin *p, const struct st_network *n,
		   const struct ip_addr *ip, struct st_endpoint *ep, char **em)
{
	unsigned char rnd[6];
	char name[32], buf[IPNET_STRLEN];
	json_t *args, *res = NULL;
	int rc;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return host_err(em, -EIO, "no randomness");
	snprintf(name, sizeof(name), "dk-%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	rc = op(p, "ContainerAdd",
		json_pack("{s:s,s:s,s:b}", "name", name, "guest", p->guest,
			  "host_mode", 1),
		&res, em);
	if (rc)
		return rc;
	args = json_pack("{s:s,s:s}", "network", n->id, "container", name);
	if (ip && ip->family)
		json_object_set_new(args, "ip", json_string(ip_fmt(ip, buf)));
	json_decref(res);
	res = NULL;
	rc = op(p, "NetworkConnect", args, &res, em);
	if (!rc)
		rc = ep_of_container(p, n->id,
				     json_str(res, "ContainerID") ?: "", ep);
	json_decref(res);
	if (rc) {
		char *em2 = NULL;

		op(p, "ContainerRemove", json_pack("{s:s}", "container", name),
		   NULL, &em2);
		free(em2);
		if (!*em)
			host_err(em, rc, "store: %s", strerror(-rc));
	}
	return rc;
}

static json_t *m_create_ep(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n;
	struct st_endpoint ep;
	char cid[ST_ID_LEN], *em = NULL;
	int rc;

	if (dnet(p, r->network_id, &n))
		return err_reply(r, "network %.12s is not a wgnet network here",
				 r->network_id);
	if (!plugin_state_ep_get(p, r->endpoint_id, cid, NULL))
		return json_object(); /* a retry */
	if (!prefix_contains(&n.subnet4, &r->addr4))
		return err_reply(r, "address outside the wgnet subnet");
	rc = ep_by_addr(p, n.id, &r->addr4, &ep);
	if (rc == -ENOENT) {
		/* Docker's own IPAM picked it: allocate it in wgnet. */
		rc = reserve(p, &n, &r->addr4, &ep, &em);
		if (rc) {
			json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

			free(em);
			return e;
		}
	} else if (rc) {
		return err_reply(r, "store: %s", strerror(-rc));
	} else if (plugin_state_ep_by_container(p, ep.container_id) ||
		   !plugin_container_is_ours(p, ep.container_id)) {
		return err_reply(
			r, "address %s is already used on wgnet network %s",
			ip_fmt(&r->addr4, cid), n.name);
	}
	if (r->mac[0] && strcasecmp(r->mac, ep.mac))
		return err_reply(
			r,
			"wgnet gives this endpoint MAC %s: --mac-address is not supported",
			ep.mac);
	rc = plugin_state_ep_put(p, r->endpoint_id, ep.container_id,
				 r->network_id);
	if (rc)
		return err_reply(r, "cannot save the plugin state: %s",
				 strerror(-rc));
	if (r->mac[0])
		return json_pack("{s:{}}", "Interface");
	return json_pack("{s:{s:s}}", "Interface", "MacAddress", ep.mac);
}

static json_t *m_delete_ep(struct plugin *p, const struct plugin_req *r)
{
	char cid[ST_ID_LEN], *em = NULL;
	int rc;

	if (plugin_state_ep_get(p, r->endpoint_id, cid, NULL))
		return json_object();
	rc = op(p, "ContainerRemove", json_pack("{s:s}", "container", cid),
		NULL, &em);
	if (rc && rc != -ENOENT) {
		json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

		free(em);
		return e;
	}
	free(em);
	plugin_state_ep_del(p, r->endpoint_id);
	return json_object();
}

static json_t *m_join(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n;
	char cid[ST_ID_LEN], src[16], gw[IPNET_STRLEN];
	json_t *res;

	if (dnet(p, r->network_id, &n) ||
	    plugin_state_ep_get(p, r->endpoint_id, cid, NULL))
		return err_reply(r, "unknown endpoint %.12s", r->endpoint_id);
	/* The guest names the container end of a host-mode veth so. */
	snprintf(src, sizeof(src), "vc%.13s", cid);
	res = json_pack("{s:{s:s,s:s},s:[]}", "InterfaceName", "SrcName", src,
			"DstPrefix", "eth", "StaticRoutes");
	if (!n.internal)
		json_object_set_new(res, "Gateway",
				    json_string(ip_fmt(&n.gw4, gw)));
	plugin_names_start(p, r->network_id, r->endpoint_id, n.id, cid);
	return res;
}

static json_t *m_ports(struct plugin *p, const struct plugin_req *r,
		       json_t *ports)
{
	char cid[ST_ID_LEN], *em = NULL;
	int rc;

	if (plugin_state_ep_get(p, r->endpoint_id, cid, NULL))
		return err_reply(r, "unknown endpoint %.12s", r->endpoint_id);
	rc = op(p, "ContainerPorts",
		json_pack("{s:s,s:O}", "container", cid, "ports", ports), NULL,
		&em);
	if (rc) {
		json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

		free(em);
		return e;
	}
	return json_object();
}

/* --- IPAM --- */

static json_t *m_req_pool(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n, o;
	char sub[IPNET_STRLEN], a[IPNET_STRLEN];
	int rc;

	prefix_fmt(&r->pool4, sub);
	rc = net_by_pool(p, &r->pool4, &n, &o);
	if (rc == -ENOENT && o.id[0])
		return err_reply(r, "subnet %s overlaps wgnet network %s (%s)",
				 sub, o.name, prefix_fmt(&o.subnet4, a));
	if (rc && rc != -ENOENT)
		return err_reply(r, "store: %s", strerror(-rc));
	if (!rc && plugin_state_net_of_wgnet(p, n.id))
		return err_reply(
			r,
			"subnet %s is already used by a docker network on this host",
			sub);
	plugin_state_subpool_put(p, sub,
				 r->subpool4.addr.family ? &r->subpool4 : NULL);
	return json_pack("{s:s,s:s,s:{}}", "PoolID", sub, "Pool", sub, "Data");
}

static json_t *m_req_addr(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n;
	struct st_endpoint ep;
	struct ip_addr gw;
	char a[IPNET_STRLEN], out[IPNET_STRLEN + 4], *em = NULL;
	int rc;

	rc = net_by_pool(p, &r->pool4, &n, NULL);
	if (r->gateway_req) {
		/* Before CreateNetwork: the gateway asked for, or the
		 * existing network's, or the first address. */
		if (!rc)
			gw = n.gw4;
		else if (r->addr4.family)
			gw = r->addr4;
		else
			gateway_of(&r->pool4, &gw);
		if (!rc && r->addr4.family && !ip_equal(&r->addr4, &gw))
			return err_reply(
				r,
				"wgnet network %s has gateway %s: use the same --gateway on every host",
				n.name, ip_fmt(&n.gw4, a));
		snprintf(out, sizeof(out), "%s/%d", ip_fmt(&gw, a),
			 r->pool4.plen);
		return json_pack("{s:s,s:{}}", "Address", out, "Data");
	}
	if (rc)
		return err_reply(r, "no wgnet network has subnet %s",
				 r->pool_id);
	rc = reserve(p, &n, &r->addr4, &ep, &em);
	if (rc) {
		json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

		free(em);
		return e;
	}
	snprintf(out, sizeof(out), "%s/%d", ip_fmt(&ep.ip4, a), n.subnet4.plen);
	return json_pack("{s:s,s:{}}", "Address", out, "Data");
}

static json_t *m_rel_addr(struct plugin *p, const struct plugin_req *r)
{
	struct st_network n;
	struct st_endpoint ep;
	char *em = NULL;
	int rc;

	if (!r->addr4.family || net_by_pool(p, &r->pool4, &n, NULL) ||
	    ip_equal(&n.gw4, &r->addr4) || ep_by_addr(p, n.id, &r->addr4, &ep))
		return json_object();
	/* Bound to a Docker endpoint: DeleteEndpoint removes it (the address
	 * may already be someone else's). Only a reservation that never got
	 * an endpoint, on our guest, is ours to drop here. */
	if (plugin_state_ep_by_container(p, ep.container_id) ||
	    !plugin_container_is_ours(p, ep.container_id))
		return json_object();
	rc = op(p, "ContainerRemove",
		json_pack("{s:s}", "container", ep.container_id), NULL, &em);
	if (rc && rc != -ENOENT) {
		json_t *e = err_reply(r, "%s", em ? em : strerror(-rc));

		free(em);
		return e;
	}
	free(em);
	return json_object();
}

json_t *plugin_handle(struct plugin *p, const struct plugin_req *r)
{
	json_t *res;

	pthread_mutex_lock(&p->mu);
	switch (r->m) {
	case PM_ACTIVATE:
		res = json_pack("{s:[ss]}", "Implements", "NetworkDriver",
				"IpamDriver");
		break;
	case PM_NET_CAPS:
		res = m_caps();
		break;
	case PM_CREATE_NET:
		res = m_create_net(p, r);
		break;
	case PM_DELETE_NET:
		res = m_delete_net(p, r);
		break;
	case PM_ALLOC_NET:
	case PM_FREE_NET:
		res = err_reply(
			r,
			"wgnet does not take part in Swarm network allocation");
		break;
	case PM_CREATE_EP:
		res = m_create_ep(p, r);
		break;
	case PM_EP_INFO:
		res = json_pack("{s:{}}", "Value");
		break;
	case PM_DELETE_EP:
		res = m_delete_ep(p, r);
		break;
	case PM_JOIN:
		res = m_join(p, r);
		break;
	case PM_PROGRAM_EXT:
		res = m_ports(p, r, r->ports);
		break;
	case PM_REVOKE_EXT: {
		json_t *none = json_array();

		res = m_ports(p, r, none);
		json_decref(none);
		break;
	}
	case PM_IPAM_CAPS:
		res = json_pack("{s:b}", "RequiresMACAddress", 0);
		break;
	case PM_IPAM_SPACES:
		res = json_pack("{s:s,s:s}", "LocalDefaultAddressSpace",
				"wgnet", "GlobalDefaultAddressSpace", "wgnet");
		break;
	case PM_REQ_POOL:
		res = m_req_pool(p, r);
		break;
	case PM_REL_POOL:
		plugin_state_subpool_put(p, r->pool_id, NULL);
		res = json_object();
		break;
	case PM_REQ_ADDR:
		res = m_req_addr(p, r);
		break;
	case PM_REL_ADDR:
		res = m_rel_addr(p, r);
		break;
	default: /* Leave, DiscoverNew, DiscoverDelete */
		res = json_object();
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return res ? res : plugin_error_body(r->ipam, "out of memory");
}
