// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker plugin protocol, pure part: URL path → method, request body →
 * struct plugin_req with every field checked (ids, prefixes, addresses,
 * port bindings). No sockets, no host: unit-tested and fuzzed.
 * Field names are libnetwork's (drivers/remote/api, ipams/remote/api).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "wgnet/proto.h"

static const struct {
	const char *path;
	enum plugin_method m;
	bool ipam;
} routes[] = {
	{ "/Plugin.Activate", PM_ACTIVATE, false },
	{ "/NetworkDriver.GetCapabilities", PM_NET_CAPS, false },
	{ "/NetworkDriver.CreateNetwork", PM_CREATE_NET, false },
	{ "/NetworkDriver.DeleteNetwork", PM_DELETE_NET, false },
	{ "/NetworkDriver.AllocateNetwork", PM_ALLOC_NET, false },
	{ "/NetworkDriver.FreeNetwork", PM_FREE_NET, false },
	{ "/NetworkDriver.CreateEndpoint", PM_CREATE_EP, false },
	{ "/NetworkDriver.EndpointOperInfo", PM_EP_INFO, false },
	{ "/NetworkDriver.DeleteEndpoint", PM_DELETE_EP, false },
	{ "/NetworkDriver.Join", PM_JOIN, false },
	{ "/NetworkDriver.Leave", PM_LEAVE, false },
	{ "/NetworkDriver.ProgramExternalConnectivity", PM_PROGRAM_EXT, false },
	{ "/NetworkDriver.RevokeExternalConnectivity", PM_REVOKE_EXT, false },
	{ "/NetworkDriver.DiscoverNew", PM_DISCOVER_NEW, false },
	{ "/NetworkDriver.DiscoverDelete", PM_DISCOVER_DEL, false },
	{ "/IpamDriver.GetCapabilities", PM_IPAM_CAPS, true },
	{ "/IpamDriver.GetDefaultAddressSpaces", PM_IPAM_SPACES, true },
	{ "/IpamDriver.RequestPool", PM_REQ_POOL, true },
	{ "/IpamDriver.ReleasePool", PM_REL_POOL, true },
	{ "/IpamDriver.RequestAddress", PM_REQ_ADDR, true },
	{ "/IpamDriver.ReleaseAddress", PM_REL_ADDR, true },
};

enum plugin_method plugin_route(const char *path, bool *ipam)
{
	*ipam = false;
	if (!path)
		return PM_UNKNOWN;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(path, routes[i].path)) {
			*ipam = routes[i].ipam;
			return routes[i].m;
		}
	return PM_UNKNOWN;
}

json_t *plugin_error_body(bool ipam, const char *msg)
{
	return json_pack("{s:s}", ipam ? "Error" : "Err", msg ? msg : "error");
}

void plugin_req_clear(struct plugin_req *r)
{
	json_decref(r->ports);
	r->ports = NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Docker's ids: 64 lowercase hex characters. */
static int get_id(json_t *o, const char *key, char out[65], char *err,
		  size_t errlen)
{
	const char *s = json_str(o, key);
	size_t n = s ? strlen(s) : 0;

	if (n != 64 || strspn(s, "0123456789abcdef") != 64)
		return fail(err, errlen,
			    "%s must be 64 lowercase hex characters", key);
	memcpy(out, s, 65);
	return 0;
}

/* An optional string member: absent/null/"" → NULL; another type: error. */
static int opt_str(json_t *o, const char *key, const char **out, char *err,
		   size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, errlen, "%s must be a string", key);
	if (*json_string_value(v))
		*out = json_string_value(v);
	return 0;
}

/* "a.b.c.d/n" (an interface address: host bits allowed) → address + plen. */
static int parse_cidr_addr(const char *s, struct ip_addr *a, int *plen)
{
	struct ip_prefix p;
	const char *slash = strchr(s, '/');
	char buf[IPNET_STRLEN];

	if (!slash || (size_t)(slash - s) >= sizeof(buf) ||
	    prefix_parse(s, false, &p))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (ip_parse(buf, a))
		return -EINVAL;
	*plen = p.plen;
	return 0;
}

/* com.docker.network.generic: our -o options (only wgnet.name). */
static int parse_generic(json_t *g, struct plugin_req *r, char *err,
			 size_t errlen)
{
	const char *k;
	json_t *v;

	if (!g || json_is_null(g))
		return 0;
	if (!json_is_object(g))
		return fail(err, errlen, "%s must be an object",
			    PLUGIN_OPT_GENERIC);
	json_object_foreach(g, k, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;

		if (strcmp(k, PLUGIN_OPT_NAME))
			return fail(
				err, errlen,
				"unknown option -o %.64s (wgnet takes -o %s=NAME)",
				k, PLUGIN_OPT_NAME);
		if (!s || !*s || strlen(s) > 64 ||
		    strspn(s,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			    strlen(s) ||
		    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
			    s[0]))
			return fail(
				err, errlen,
				"-o %s must be a name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters",
				PLUGIN_OPT_NAME);
		snprintf(r->name, sizeof(r->name), "%s", s);
	}
	return 0;
}

/* A JSON true, or Docker's "true" text. */
static bool opt_true(json_t *v)
{
	return json_is_true(v) ||
	       (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

static int parse_create_net(json_t *b, struct plugin_req *r, char *err,
			    size_t errlen)
{
	json_t *opts = json_object_get(b, "Options"), *v4, *v6, *e;
	const char *pool = NULL, *gw = NULL;
	int rc, plen;

	if ((rc = get_id(b, "NetworkID", r->network_id, err, errlen)))
		return rc;
	if (opts && !json_is_object(opts) && !json_is_null(opts))
		return fail(err, errlen, "Options must be an object");
	if ((rc = parse_generic(json_object_get(opts, PLUGIN_OPT_GENERIC), r,
				err, errlen)))
		return rc;
	r->internal = opt_true(json_object_get(opts, PLUGIN_OPT_INTERNAL));
	v4 = json_object_get(b, "IPv4Data");
	v6 = json_object_get(b, "IPv6Data");
	if ((v4 && !json_is_array(v4) && !json_is_null(v4)) ||
	    (v6 && !json_is_array(v6) && !json_is_null(v6)))
		return fail(err, errlen,
			    "IPv4Data and IPv6Data must be arrays");
	r->has_v6 = json_array_size(v6) > 0 ||
		    opt_true(json_object_get(opts, PLUGIN_OPT_IPV6));
	if (json_array_size(v4) > 1)
		return fail(err, errlen,
			    "wgnet takes one IPv4 subnet per network (got %zu)",
			    json_array_size(v4));
	e = json_array_get(v4, 0);
	if (e && !json_is_object(e))
		return fail(err, errlen, "IPv4Data entries must be objects");
	if (e && ((rc = opt_str(e, "Pool", &pool, err, errlen)) ||
		  (rc = opt_str(e, "Gateway", &gw, err, errlen))))
		return rc;
	if (e && json_object_size(json_object_get(e, "AuxAddresses")))
		return fail(err, errlen,
			    "--aux-address is not supported by wgnet");
	if (pool) {
		if (prefix_parse(pool, true, &r->pool4) ||
		    r->pool4.addr.family != AF_INET)
			return fail(err, errlen, "bad IPv4 pool %.64s", pool);
		r->has_pool4 = true;
	}
	if (gw &&
	    (parse_cidr_addr(gw, &r->gw4, &plen) || r->gw4.family != AF_INET))
		return fail(err, errlen, "bad IPv4 gateway %.64s", gw);
	return 0;
}

/* libnetwork's types.PortBinding → wgnet's {"proto","host_ip"?,"host_port",
 * "container_port"}. */
static int parse_binding(json_t *pb, json_t *out, char *err, size_t errlen)
{
	json_t *proto = json_object_get(pb, "Proto"), *hp, *hpe, *cp;
	const char *host_ip = NULL, *name;
	struct ip_addr a;
	json_int_t p, port, hport, hend;
	int rc;

	if (!json_is_object(pb))
		return fail(err, errlen, "port bindings must be objects");
	hp = json_object_get(pb, "HostPort");
	hpe = json_object_get(pb, "HostPortEnd");
	cp = json_object_get(pb, "Port");
	if (!json_is_integer(proto) || !json_is_integer(cp) ||
	    (hp && !json_is_integer(hp)) || (hpe && !json_is_integer(hpe)))
		return fail(
			err, errlen,
			"a port binding needs integer Proto, Port, HostPort");
	p = json_integer_value(proto);
	port = json_integer_value(cp);
	hport = hp ? json_integer_value(hp) : 0;
	hend = hpe ? json_integer_value(hpe) : 0;
	name = p == 6 ? "tcp" : p == 17 ? "udp" : NULL;
	if (!name)
		return fail(err, errlen,
			    "published ports: only tcp and udp (protocol %lld)",
			    (long long)p);
	if (port < 1 || port > 65535)
		return fail(err, errlen, "bad container port %lld",
			    (long long)port);
	if (hport < 1 || hport > 65535)
		return fail(
			err, errlen,
			"-p %lld/%s: wgnet needs an explicit host port (-p HOSTPORT:%lld)",
			(long long)port, name, (long long)port);
	if (hend && hend != hport)
		return fail(
			err, errlen,
			"-p %lld-%lld: host port ranges are not supported by wgnet",
			(long long)hport, (long long)hend);
	if ((rc = opt_str(pb, "HostIP", &host_ip, err, errlen)))
		return rc;
	if (host_ip && (ip_parse(host_ip, &a) || a.family != AF_INET))
		return fail(err, errlen, "bad host address %.64s (IPv4 only)",
			    host_ip);
	if (json_array_append_new(out, json_pack("{s:s,s:I,s:I}", "proto", name,
						 "host_port", hport,
						 "container_port", port)))
		return fail(err, errlen, "out of memory");
	if (host_ip && strcmp(host_ip, "0.0.0.0"))
		json_object_set_new(json_array_get(out,
						   json_array_size(out) - 1),
				    "host_ip", json_string(host_ip));
	return 0;
}

static int parse_ports(json_t *opts, struct plugin_req *r, char *err,
		       size_t errlen)
{
	json_t *pm = json_object_get(opts, PLUGIN_OPT_PORTMAP), *pb;
	size_t i;
	int rc;

	r->ports = json_array();
	if (!r->ports)
		return fail(err, errlen, "out of memory");
	if (!pm || json_is_null(pm))
		return 0;
	if (!json_is_array(pm))
		return fail(err, errlen, "%s must be an array",
			    PLUGIN_OPT_PORTMAP);
	if (json_array_size(pm) > PLUGIN_MAX_PORTS)
		return fail(err, errlen, "at most %d published ports",
			    PLUGIN_MAX_PORTS);
	json_array_foreach(pm, i, pb) {
		rc = parse_binding(pb, r->ports, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_create_ep(json_t *b, struct plugin_req *r, char *err,
			   size_t errlen)
{
	json_t *iface = json_object_get(b, "Interface");
	const char *addr = NULL, *addr6 = NULL, *mac = NULL;
	int rc;

	if ((rc = get_id(b, "NetworkID", r->network_id, err, errlen)) ||
	    (rc = get_id(b, "EndpointID", r->endpoint_id, err, errlen)))
		return rc;
	if (!json_is_object(iface))
		return fail(
			err, errlen,
			"Interface with an Address is required (wgnet does not pick addresses in the driver)");
	if ((rc = opt_str(iface, "Address", &addr, err, errlen)) ||
	    (rc = opt_str(iface, "AddressIPv6", &addr6, err, errlen)) ||
	    (rc = opt_str(iface, "MacAddress", &mac, err, errlen)))
		return rc;
	if (!addr || parse_cidr_addr(addr, &r->addr4, &r->plen4) ||
	    r->addr4.family != AF_INET)
		return fail(err, errlen,
			    "Interface.Address must be an IPv4 CIDR address");
	if (addr6)
		return fail(err, errlen,
			    "IPv6 is not supported by the wgnet plugin");
	if (mac) {
		unsigned int x[6];
		char tail;

		if (strlen(mac) != 17 ||
		    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &x[0], &x[1],
			   &x[2], &x[3], &x[4], &x[5], &tail) != 6)
			return fail(err, errlen, "bad MacAddress %.32s", mac);
		snprintf(r->mac, sizeof(r->mac),
			 "%02x:%02x:%02x:%02x:%02x:%02x", x[0], x[1], x[2],
			 x[3], x[4], x[5]);
	}
	return 0;
}

static int parse_pool(json_t *b, struct plugin_req *r, char *err, size_t errlen)
{
	const char *pool = NULL, *sub = NULL;
	json_t *v6 = json_object_get(b, "V6"),
	       *o = json_object_get(b, "Options");
	int rc;

	if (v6 && !json_is_boolean(v6))
		return fail(err, errlen, "V6 must be a boolean");
	r->v6 = json_is_true(v6);
	if (r->v6)
		return fail(err, errlen,
			    "IPv6 is not supported by the wgnet plugin");
	if (o && !json_is_null(o) && json_object_size(o))
		return fail(err, errlen,
			    "--ipam-opt is not supported by wgnet");
	if ((rc = opt_str(b, "Pool", &pool, err, errlen)) ||
	    (rc = opt_str(b, "SubPool", &sub, err, errlen)))
		return rc;
	if (!pool)
		return fail(
			err, errlen,
			"wgnet IPAM needs --subnet (the same one on every host)");
	if (prefix_parse(pool, true, &r->pool4) ||
	    r->pool4.addr.family != AF_INET || r->pool4.plen > 30 ||
	    r->pool4.plen < 8)
		return fail(
			err, errlen,
			"bad subnet %.64s: want an IPv4 prefix of /8 to /30",
			pool);
	r->has_pool4 = true;
	if (sub && (prefix_parse(sub, true, &r->subpool4) ||
		    r->subpool4.addr.family != AF_INET ||
		    r->subpool4.plen < r->pool4.plen ||
		    !prefix_contains(&r->pool4, &r->subpool4.addr)))
		return fail(err, errlen,
			    "bad --ip-range %.64s for subnet %.64s", sub, pool);
	return 0;
}

/* Our pool ids are the subnet's text. */
static int parse_pool_id(json_t *b, struct plugin_req *r, char *err,
			 size_t errlen)
{
	const char *id = json_str(b, "PoolID");

	if (!id || strlen(id) >= sizeof(r->pool_id) ||
	    prefix_parse(id, true, &r->pool4) ||
	    r->pool4.addr.family != AF_INET)
		return fail(err, errlen, "unknown PoolID %.64s", id ? id : "");
	snprintf(r->pool_id, sizeof(r->pool_id), "%s", id);
	r->has_pool4 = true;
	return 0;
}

static int parse_addr_req(json_t *b, struct plugin_req *r, char *err,
			  size_t errlen)
{
	json_t *o = json_object_get(b, "Options");
	const char *addr = NULL, *type;
	int rc;

	if ((rc = parse_pool_id(b, r, err, errlen)) ||
	    (rc = opt_str(b, "Address", &addr, err, errlen)))
		return rc;
	if (o && !json_is_object(o) && !json_is_null(o))
		return fail(err, errlen, "Options must be an object");
	type = json_str(o, PLUGIN_OPT_ADDR_TYPE);
	r->gateway_req = type && !strcmp(type, PLUGIN_ADDR_GATEWAY);
	if (addr && (ip_parse(addr, &r->addr4) || r->addr4.family != AF_INET ||
		     !prefix_contains(&r->pool4, &r->addr4)))
		return fail(err, errlen, "address %.64s is not in pool %s",
			    addr, r->pool_id);
	return 0;
}

static int parse_body(json_t *b, struct plugin_req *r, char *err, size_t errlen)
{
	int rc;

	switch (r->m) {
	case PM_CREATE_NET:
		return parse_create_net(b, r, err, errlen);
	case PM_DELETE_NET:
	case PM_FREE_NET:
	case PM_ALLOC_NET:
		return get_id(b, "NetworkID", r->network_id, err, errlen);
	case PM_CREATE_EP:
		return parse_create_ep(b, r, err, errlen);
	case PM_EP_INFO:
	case PM_DELETE_EP:
	case PM_JOIN:
	case PM_LEAVE:
	case PM_REVOKE_EXT:
		if ((rc = get_id(b, "NetworkID", r->network_id, err, errlen)))
			return rc;
		return get_id(b, "EndpointID", r->endpoint_id, err, errlen);
	case PM_PROGRAM_EXT: {
		json_t *o = json_object_get(b, "Options");

		if ((rc = get_id(b, "NetworkID", r->network_id, err, errlen)) ||
		    (rc = get_id(b, "EndpointID", r->endpoint_id, err, errlen)))
			return rc;
		if (o && !json_is_object(o) && !json_is_null(o))
			return fail(err, errlen, "Options must be an object");
		return parse_ports(o, r, err, errlen);
	}
	case PM_REQ_POOL:
		return parse_pool(b, r, err, errlen);
	case PM_REL_POOL:
		return parse_pool_id(b, r, err, errlen);
	case PM_REQ_ADDR:
	case PM_REL_ADDR:
		return parse_addr_req(b, r, err, errlen);
	default:
		return 0; /* no body needed */
	}
}

int plugin_parse(const char *path, const char *body, size_t len,
		 struct plugin_req *r, char *err, size_t errlen)
{
	json_error_t je;
	json_t *b = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(err, errlen, "%s", "");
	r->m = plugin_route(path, &r->ipam);
	if (r->m == PM_UNKNOWN) {
		snprintf(err, errlen, "no such method %.64s", path ? path : "");
		return -ENOENT;
	}
	/* Docker sends "null" or nothing for calls without arguments. */
	if (body && len) {
		b = json_loadb(body, len,
			       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
		if (!b)
			return fail(err, errlen, "bad JSON: %s", je.text);
		if (json_is_null(b)) {
			json_decref(b);
			b = NULL;
		} else if (!json_is_object(b)) {
			json_decref(b);
			return fail(err, errlen,
				    "the request must be a JSON object");
		}
	}
	if (!b && !(b = json_object()))
		return fail(err, errlen, "out of memory");
	rc = parse_body(b, r, err, errlen);
	json_decref(b);
	if (rc)
		plugin_req_clear(r);
	return rc;
}
