// SPDX-License-Identifier: GPL-2.0
/*
 * The host API's network ops: NetworkCreate, List, Inspect, Remove, Prune,
 * Connect and Disconnect (docs/protocol.md, "Host calls"). List and Inspect
 * run under h->mu (store reads only); the others take it around their store
 * transactions only, never across guest I/O (docs/control-plane.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "ipam.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"

#include "api_int.h"
#include "mesh_int.h"
#include "keyage.h"
#include "mtu.h"

/* An object of string values, as text that fits len. */
static int a_strmap(json_t *args, const char *key, char *text, size_t len,
		    char **em)
{
	json_t *m, *v;
	const char *k;
	char *s;
	int rc = api_arg_typed(args, key, JSON_OBJECT, &m, em);

	if (rc)
		return rc;
	if (!m) {
		snprintf(text, len, "{}");
		return 0;
	}
	json_object_foreach(m, k, v)
		if (!json_is_string(v))
			return host_err(em, -EINVAL,
					"%s: value of '%s' must be a string",
					key, k);
	s = json_dumps(m, JSON_COMPACT);
	if (!s || strlen(s) >= len) {
		free(s);
		return host_err(em, -EINVAL, "%s: too large", key);
	}
	strcpy(text, s);
	free(s);
	return 0;
}

static size_t count_endpoints(struct store *st, const char *nid)
{
	struct st_endpoint *eps = NULL;
	size_t n = 0;

	if (st->ops->endpoint_list(st, nid, NULL, &eps, &n))
		return 0;
	free(eps);
	return n;
}

/* --- networks --- */

/* Parse a prefix of the given family; host bits must be zero. */
static int parse_subnet(const char *what, const char *s, int family,
			struct ip_prefix *p, char **em)
{
	struct ip_prefix norm;
	char buf[IPNET_STRLEN];

	if (prefix_parse(s, false, p))
		return host_err(em, -EINVAL, "invalid %s %s: not a CIDR prefix",
				what, s);
	if (p->addr.family != family)
		return host_err(em, -EINVAL, "invalid %s %s: not an %s prefix",
				what, s, family == AF_INET ? "IPv4" : "IPv6");
	norm = *p;
	prefix_normalize(&norm);
	if (!ip_equal(&norm.addr, &p->addr))
		return host_err(em, -EINVAL, "invalid %s %s: it should be %s",
				what, s, prefix_fmt(&norm, buf));
	return 0;
}

struct fam_args {
	const char *subnet, *range, *gw;
	int family;
};

static int net_family(struct fam_args *fa, struct ip_prefix *subnet,
		      struct ip_prefix *range, struct ip_addr *gw, char **em)
{
	const char *why = NULL;
	int rc;

	if (!fa->subnet) {
		if (fa->range || fa->gw)
			return host_err(em, -EINVAL,
					"ip-range and gateway need a subnet");
		return 0;
	}
	rc = parse_subnet("subnet", fa->subnet, fa->family, subnet, em);
	if (rc)
		return rc;
	if (fa->range) {
		rc = parse_subnet("ip-range", fa->range, fa->family, range, em);
		if (rc)
			return rc;
		if (range->plen < subnet->plen ||
		    !prefix_contains(subnet, &range->addr))
			return host_err(em, -EINVAL,
					"ip-range %s is not inside subnet %s",
					fa->range, fa->subnet);
	}
	if (fa->gw) {
		if (ip_parse(fa->gw, gw) || gw->family != fa->family)
			return host_err(em, -EINVAL,
					"invalid gateway address %s", fa->gw);
		if (!prefix_contains(subnet, gw))
			return host_err(em, -EINVAL,
					"gateway %s is not inside subnet %s",
					fa->gw, fa->subnet);
	}
	rc = ipam_check_network(subnet, range, gw, &why);
	if (rc)
		return host_err(em, rc, "invalid network configuration: %s",
				why ? why : strerror(-rc));
	return 0;
}

static int check_overlap(struct host *h, const struct st_network_req *req,
			 char **em)
{
	struct st_network *ns = NULL;
	size_t n = 0;
	char a[IPNET_STRLEN], b[IPNET_STRLEN];
	int rc;

	rc = h->st->ops->network_list(h->st, &ns, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	for (size_t i = 0; i < n && !rc; i++) {
		if (!strcmp(ns[i].name, req->name)) {
			rc = host_err(em, -EEXIST,
				      "network with name %s already exists",
				      req->name);
		} else if (req->subnet4.addr.family &&
			   ns[i].subnet4.addr.family &&
			   prefix_overlap(&req->subnet4, &ns[i].subnet4)) {
			rc = host_err(em, -EEXIST,
				      "subnet %s overlaps with network %s (%s)",
				      prefix_fmt(&req->subnet4, a), ns[i].name,
				      prefix_fmt(&ns[i].subnet4, b));
		} else if (req->subnet6.addr.family &&
			   ns[i].subnet6.addr.family &&
			   prefix_overlap(&req->subnet6, &ns[i].subnet6)) {
			rc = host_err(em, -EEXIST,
				      "subnet %s overlaps with network %s (%s)",
				      prefix_fmt(&req->subnet6, a), ns[i].name,
				      prefix_fmt(&ns[i].subnet6, b));
		}
	}
	free(ns);
	return rc;
}

int api_op_network_create(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_network_req req;
	struct st_network out;
	struct fam_args f4 = { .family = AF_INET }, f6 = { .family = AF_INET6 };
	const char *name, *driver;
	bool ipv6 = false, internal = false;
	unsigned int mtu;
	char *iem = NULL;
	int64_t max_age;
	int rc;

	memset(&req, 0, sizeof(req));
	if ((rc = api_arg_str(args, "name", true, &name, em)) ||
	    (rc = api_check_name("network", name, em)) ||
	    (rc = api_arg_str(args, "driver", false, &driver, em)) ||
	    (rc = api_arg_str(args, "subnet", false, &f4.subnet, em)) ||
	    (rc = api_arg_str(args, "ip_range", false, &f4.range, em)) ||
	    (rc = api_arg_str(args, "gateway", false, &f4.gw, em)) ||
	    (rc = api_arg_str(args, "subnet6", false, &f6.subnet, em)) ||
	    (rc = api_arg_str(args, "ip_range6", false, &f6.range, em)) ||
	    (rc = api_arg_str(args, "gateway6", false, &f6.gw, em)) ||
	    (rc = api_arg_bool(args, "ipv6", &ipv6, em)) ||
	    (rc = api_arg_bool(args, "internal", &internal, em)))
		return rc;
	/* docker network create sends "bridge" when -d is not given. */
	if (driver && *driver && strcmp(driver, "wgnet") &&
	    strcmp(driver, "bridge") && strcmp(driver, "default"))
		return host_err(
			em, -EINVAL,
			"driver \"%s\" is not supported: only \"wgnet\"",
			driver);
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.driver, sizeof(req.driver), "wgnet");
	rc = net_family(&f4, &req.subnet4, &req.range4, &req.gw4, em);
	if (rc)
		return rc;
	rc = net_family(&f6, &req.subnet6, &req.range6, &req.gw6, em);
	if (rc)
		return rc;
	req.ipv6 = ipv6 || f6.subnet;
	if (req.ipv6 && !f6.subnet)
		return host_err(
			em, -EINVAL,
			"IPv6 needs an IPv6 subnet (there is no default IPv6 pool): add --subnet with an IPv6 prefix");
	req.internal = internal;
	if ((rc = a_strmap(args, "labels", req.labels, sizeof(req.labels),
			   em)) ||
	    (rc = a_strmap(args, "options", req.options, sizeof(req.options),
			   em)))
		return rc;
	rc = mtu_option_text(req.options, req.ipv6, &mtu, em);
	if (!rc)
		rc = keyage_option_text(req.options, &max_age, em);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->mu);
	rc = check_overlap(h, &req, em);
	if (rc) {
		pthread_mutex_unlock(&h->mu);
		return rc;
	}
	rc = h->st->ops->network_create(h->st, &req, &out);
	pthread_mutex_unlock(&h->mu);
	if (rc == -EEXIST)
		return host_err(
			em, rc,
			"network %s conflicts with an existing network (name or subnet)",
			name);
	if (rc == -ENOSPC)
		return host_err(
			em, rc,
			"could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
	if (rc == -EINVAL)
		return host_err(em, rc, "invalid network configuration");
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	log_info("network %s created (%.12s)", out.name, out.id);
	cp_net_refresh(h, out.id);
	/* Sent before any endpoint queued after it: ordered before its
	 * traffic. A guest's refusal fails the op (the network stays). */
	rc = mesh_push_isolation(h, NULL, true, &iem);
	if (rc) {
		host_err(em, rc, "network %s created, but %s", out.name, iem);
		free(iem);
		return rc;
	}
	*res = netjson_network(h->st, &out);
	return 0;
}

int api_op_network_list(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_network *ns = NULL;
	json_t *filters, *arr;
	size_t n = 0;
	int rc;

	if ((rc = api_arg_typed(args, "filters", JSON_OBJECT, &filters, em)) ||
	    (rc = netjson_filters_check(filters, em)))
		return rc;
	rc = h->st->ops->network_list(h->st, &ns, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		if (netjson_filters_match(filters, &ns[i],
					  count_endpoints(h->st, ns[i].id)))
			json_array_append_new(arr,
					      netjson_network(h->st, &ns[i]));
	free(ns);
	*res = arr;
	return 0;
}

/* The maximum key age in force (seconds, 0 = none) and, in each of
 * "Guests", its key: "PublicKey", "KeyCreated" (RFC 3339) and
 * "KeyAgeSeconds" (both null when unknown). */
static void inspect_keys(struct host *h, const struct st_network *n,
			 json_t *res)
{
	json_t *guests = json_object_get(res, "Guests");
	struct st_guest_net *gns = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t ngn = 0;

	json_object_set_new(res, "KeyMaxAgeSeconds",
			    json_integer((json_int_t)keyage_max_age(h, n)));
	if (!guests || h->st->ops->guest_net_list(h->st, n->id, &gns, &ngn))
		return;
	for (size_t i = 0; i < ngn; i++) {
		json_t *g = json_object_get(guests, gns[i].guest);
		char t[64];

		if (!g) {
			g = json_object();
			json_object_set_new(guests, gns[i].guest, g);
		}
		json_object_set_new(g, "PublicKey",
				    json_string(gns[i].public_key));
		if (!gns[i].key_created) {
			json_object_set_new(g, "KeyCreated", json_null());
			json_object_set_new(g, "KeyAgeSeconds", json_null());
			continue;
		}
		netjson_time(gns[i].key_created, t, sizeof(t));
		json_object_set_new(g, "KeyCreated", json_string(t));
		json_object_set_new(
			g, "KeyAgeSeconds",
			json_integer(
				(json_int_t)(now > gns[i].key_created ?
						     now - gns[i].key_created :
						     0)));
	}
	free(gns);
}

int api_op_network_inspect(struct host *h, json_t *args, json_t **res,
			   char **em)
{
	struct st_network n;
	const char *ref;
	int rc;

	if ((rc = api_arg_str(args, "network", true, &ref, em)) ||
	    (rc = api_get_network(h, ref, &n, em)))
		return rc;
	*res = netjson_network(h->st, &n);
	/* The control plane: the generation, and each guest's. */
	json_object_set_new(
		*res, "Generation",
		json_integer(
			(json_int_t)(n.gen ? n.gen : cp_net_gen(h, n.id))));
	json_object_set_new(*res, "Guests", cp_net_guests_json(h, n.id));
	inspect_keys(h, &n, *res);
	return 0;
}

/* Delete a network without endpoints, and any interface left for it. */
static int network_delete(struct host *h, const struct st_network *n, char **em)
{
	struct st_guest_net *gns = NULL;
	size_t ngn = 0;
	char *iem = NULL;
	int rc;

	pthread_mutex_lock(&h->mu);
	if (count_endpoints(h->st, n->id)) {
		pthread_mutex_unlock(&h->mu);
		return host_err(em, -EBUSY, "network %s has active endpoints",
				n->name);
	}
	if (h->st->ops->guest_net_list(h->st, n->id, &gns, &ngn))
		ngn = 0;
	for (size_t i = 0; i < ngn; i++)
		h->st->ops->guest_net_delete(h->st, gns[i].guest, n->id);
	rc = h->st->ops->network_delete(h->st, n->id);
	pthread_mutex_unlock(&h->mu);
	for (size_t i = 0; !rc && i < ngn; i++)
		cp_enqueue(h, gns[i].guest, CP_RMNET, NULL,
			   json_pack("{s:s}", "network_id", n->id), n->id, NULL,
			   NULL);
	free(gns);
	if (rc == -EBUSY)
		return host_err(em, rc, "network %s has active endpoints",
				n->name);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	cp_net_refresh(h, n->id); /* gone: forgotten */
	log_info("network %s removed", n->name);
	rc = mesh_push_isolation(h, NULL, true, &iem);
	if (rc) {
		host_err(em, rc, "network %s removed, but %s", n->name, iem);
		free(iem);
	}
	return rc;
}

int api_op_network_remove(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_network n;
	const char *ref;
	int rc;

	if ((rc = api_arg_str(args, "network", true, &ref, em)) ||
	    (rc = api_get_network(h, ref, &n, em)) ||
	    (rc = network_delete(h, &n, em)))
		return rc;
	*res = json_object();
	return 0;
}

int api_op_network_prune(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_network *ns = NULL;
	json_t *filters, *removed;
	size_t n = 0;
	int rc;

	if ((rc = api_arg_typed(args, "filters", JSON_OBJECT, &filters, em)) ||
	    (rc = netjson_filters_check(filters, em)))
		return rc;
	rc = h->st->ops->network_list(h->st, &ns, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	removed = json_array();
	for (size_t i = 0; i < n; i++) {
		if (count_endpoints(h->st, ns[i].id) ||
		    !netjson_filters_match(filters, &ns[i], 0))
			continue;
		if (!network_delete(h, &ns[i], NULL))
			json_array_append_new(removed, json_string(ns[i].name));
	}
	free(ns);
	*res = json_pack("{s:o}", "removed", removed);
	return 0;
}

int api_op_network_connect(struct host *h, json_t *args, json_t **res,
			   char **em)
{
	struct st_network n;
	struct st_container c;
	const char *nref, *cref, *ip, *ip6;
	json_t *aliases, *a;
	bool wait = false;
	size_t i;
	int rc;

	if ((rc = api_arg_bool(args, "wait", &wait, em)) ||
	    (rc = api_arg_str(args, "network", true, &nref, em)) ||
	    (rc = api_arg_str(args, "container", true, &cref, em)) ||
	    (rc = api_arg_str(args, "ip", false, &ip, em)) ||
	    (rc = api_arg_str(args, "ip6", false, &ip6, em)) ||
	    (rc = api_arg_typed(args, "aliases", JSON_ARRAY, &aliases, em)))
		return rc;
	json_array_foreach(aliases, i, a) {
		if (!json_is_string(a))
			return host_err(
				em, -EINVAL,
				"argument 'aliases' must be an array of strings");
		if ((rc = api_check_name("alias", json_string_value(a), em)))
			return rc;
	}
	if ((rc = api_get_network(h, nref, &n, em)) ||
	    (rc = api_get_container(h, cref, &c, em)))
		return rc;
	return mesh_attach(h, &n, &c, ip, ip6, aliases, wait, res, em);
}

int api_op_network_disconnect(struct host *h, json_t *args, json_t **res,
			      char **em)
{
	struct st_network n;
	struct st_container c;
	const char *nref, *cref;
	bool force;
	int rc;

	/* force is accepted: detaching never waits for an unreachable guest
	 * (its replay removes what is left). */
	if ((rc = api_arg_str(args, "network", true, &nref, em)) ||
	    (rc = api_arg_str(args, "container", true, &cref, em)) ||
	    (rc = api_arg_bool(args, "force", &force, em)) ||
	    (rc = api_get_network(h, nref, &n, em)) ||
	    (rc = api_get_container(h, cref, &c, em)) ||
	    (rc = mesh_detach(h, &n, &c, em)))
		return rc;
	*res = json_object();
	return 0;
}

/* EndpointAliases {network, container, aliases}: replace the names an
 * endpoint answers to besides its container's (the Docker plugin learns a
 * container's name and aliases from dockerd after the attach). */
int api_op_endpoint_aliases(struct host *h, json_t *args, json_t **res,
			    char **em)
{
	struct st_network n;
	struct st_container c;
	const char *nref, *cref;
	json_t *aliases, *a;
	char *text = NULL;
	size_t i;
	int rc;

	if ((rc = api_arg_str(args, "network", true, &nref, em)) ||
	    (rc = api_arg_str(args, "container", true, &cref, em)) ||
	    (rc = api_arg_typed(args, "aliases", JSON_ARRAY, &aliases, em)))
		return rc;
	if (!aliases)
		return host_err(em, -EINVAL, "missing argument 'aliases'");
	json_array_foreach(aliases, i, a) {
		if (!json_is_string(a))
			return host_err(
				em, -EINVAL,
				"argument 'aliases' must be an array of strings");
		if ((rc = api_check_name("alias", json_string_value(a), em)))
			return rc;
	}
	if ((rc = api_get_network(h, nref, &n, em)) ||
	    (rc = api_get_container(h, cref, &c, em)) ||
	    (rc = host_check_owner(h, c.guest, em)))
		return rc;
	text = json_dumps(aliases, JSON_COMPACT);
	if (!text)
		return host_err(em, -ENOMEM, "out of memory");
	rc = h->st->ops->endpoint_set_aliases(h->st, n.id, c.id, text);
	free(text);
	if (rc == -ENOENT)
		return host_err(em, rc, "container %s is not connected to network %s",
				c.name, n.name);
	if (rc == -EINVAL)
		return host_err(em, rc, "too many aliases");
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	cp_net_refresh(h, n.id); /* the workers push the names */
	*res = json_object();
	return 0;
}
