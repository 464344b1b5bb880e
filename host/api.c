// SPDX-License-Identifier: GPL-2.0
/*
 * The host API: validation of every op's arguments and the dispatch table
 * (docs/protocol.md, "Host calls"). Mutating ops run under h->mu; Status
 * talks to guests without it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "wgnet/host.h"
#include "wgnet/ipam.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

int host_err(char **errmsg, int rc, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!errmsg)
		return rc;
	free(*errmsg);
	*errmsg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* One line. */
	for (char *p = s; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	*errmsg = s;
	return rc;
}

bool host_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

struct host *host_new(struct store *st, const char *id, int guest_timeout_s)
{
	struct host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->st = st;
	snprintf(h->id, sizeof(h->id), "%s", id ? id : "");
	h->guest_timeout_ms =
		(guest_timeout_s > 0 ? guest_timeout_s : 30) * 1000;
	h->call_timeout_ms = HOST_CALL_TIMEOUT_MS;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->rt_mu, NULL);
	pthread_mutex_init(&h->stop_mu, NULL);
	pthread_cond_init(&h->stop_cv, NULL);
	return h;
}

int host_start(struct host *h)
{
	int rc = pthread_create(&h->reconciler, NULL, host_reconciler_main, h);

	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

void host_stop(struct host *h)
{
	pthread_mutex_lock(&h->stop_mu);
	h->stop = true;
	pthread_cond_broadcast(&h->stop_cv);
	pthread_mutex_unlock(&h->stop_mu);
	if (h->started) {
		pthread_join(h->reconciler, NULL);
		h->started = false;
	}
}

void host_free(struct host *h)
{
	if (!h)
		return;
	host_stop(h);
	while (h->grt) {
		struct host_grt *r = h->grt;

		h->grt = r->next;
		pthread_mutex_destroy(&r->call_mu);
		free(r);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->rt_mu);
	pthread_mutex_destroy(&h->stop_mu);
	pthread_cond_destroy(&h->stop_cv);
	free(h);
}

/* --- argument helpers --- */

static int a_str(json_t *args, const char *key, bool req, const char **out,
		 char **em)
{
	json_t *v = json_object_get(args, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (req)
			return host_err(em, -EINVAL, "missing argument '%s'",
					key);
		return 0;
	}
	if (!json_is_string(v))
		return host_err(em, -EINVAL, "argument '%s' must be a string",
				key);
	*out = json_string_value(v);
	if (req && !**out)
		return host_err(em, -EINVAL, "argument '%s' must not be empty",
				key);
	return 0;
}

static int a_bool(json_t *args, const char *key, bool *out, char **em)
{
	json_t *v = json_object_get(args, key);

	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return host_err(em, -EINVAL, "argument '%s' must be a boolean",
				key);
	*out = json_is_true(v);
	return 0;
}

static int a_typed(json_t *args, const char *key, json_type type, json_t **out,
		   char **em)
{
	json_t *v = json_object_get(args, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return host_err(em, -EINVAL, "argument '%s' must be an %s", key,
				type == JSON_ARRAY ? "array" : "object");
	*out = v;
	return 0;
}

/* An object of string values, as text that fits len. */
static int a_strmap(json_t *args, const char *key, char *text, size_t len,
		    char **em)
{
	json_t *m, *v;
	const char *k;
	char *s;
	int rc = a_typed(args, key, JSON_OBJECT, &m, em);

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

static int check_name(const char *what, const char *name, char **em)
{
	if (!host_name_valid(name))
		return host_err(
			em, -EINVAL,
			"invalid %s name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters",
			what, name);
	return 0;
}

/* --- lookups --- */

static int get_network(struct host *h, const char *ref, struct st_network *n,
		       char **em)
{
	int rc = h->st->ops->network_get(h->st, ref, n);

	if (rc == -ENOENT)
		return host_err(em, rc, "network %s not found", ref);
	if (rc == -EINVAL)
		return host_err(
			em, rc,
			"network %s is ambiguous (matches more than one network)",
			ref);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	return 0;
}

static int get_container(struct host *h, const char *ref,
			 struct st_container *c, char **em)
{
	int rc = h->st->ops->container_get(h->st, ref, c);

	if (rc == -ENOENT)
		return host_err(em, rc, "no such container: %s", ref);
	if (rc == -EINVAL)
		return host_err(em, rc, "container %s is ambiguous", ref);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
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

static int op_network_create(struct host *h, json_t *args, json_t **res,
			     char **em)
{
	struct st_network_req req;
	struct st_network out;
	struct fam_args f4 = { .family = AF_INET }, f6 = { .family = AF_INET6 };
	const char *name, *driver;
	bool ipv6 = false, internal = false;
	int rc;

	memset(&req, 0, sizeof(req));
	if ((rc = a_str(args, "name", true, &name, em)) ||
	    (rc = check_name("network", name, em)) ||
	    (rc = a_str(args, "driver", false, &driver, em)) ||
	    (rc = a_str(args, "subnet", false, &f4.subnet, em)) ||
	    (rc = a_str(args, "ip_range", false, &f4.range, em)) ||
	    (rc = a_str(args, "gateway", false, &f4.gw, em)) ||
	    (rc = a_str(args, "subnet6", false, &f6.subnet, em)) ||
	    (rc = a_str(args, "ip_range6", false, &f6.range, em)) ||
	    (rc = a_str(args, "gateway6", false, &f6.gw, em)) ||
	    (rc = a_bool(args, "ipv6", &ipv6, em)) ||
	    (rc = a_bool(args, "internal", &internal, em)))
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
	rc = check_overlap(h, &req, em);
	if (rc)
		return rc;
	rc = h->st->ops->network_create(h->st, &req, &out);
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
	mesh_push_isolation(h, NULL);
	*res = netjson_network(h->st, &out);
	return 0;
}

static int op_network_list(struct host *h, json_t *args, json_t **res,
			   char **em)
{
	struct st_network *ns = NULL;
	json_t *filters, *arr;
	size_t n = 0;
	int rc;

	if ((rc = a_typed(args, "filters", JSON_OBJECT, &filters, em)) ||
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

static int op_network_inspect(struct host *h, json_t *args, json_t **res,
			      char **em)
{
	struct st_network n;
	const char *ref;
	int rc;

	if ((rc = a_str(args, "network", true, &ref, em)) ||
	    (rc = get_network(h, ref, &n, em)))
		return rc;
	*res = netjson_network(h->st, &n);
	return 0;
}

/* Delete a network without endpoints, and any interface left for it. */
static int network_delete(struct host *h, const struct st_network *n, char **em)
{
	struct st_guest_net *gns = NULL;
	size_t ngn = 0;
	int rc;

	if (count_endpoints(h->st, n->id))
		return host_err(em, -EBUSY, "network %s has active endpoints",
				n->name);
	if (!h->st->ops->guest_net_list(h->st, n->id, &gns, &ngn)) {
		for (size_t i = 0; i < ngn; i++) {
			struct st_guest g;

			if (!h->st->ops->guest_get(h->st, gns[i].guest, &g) &&
			    host_grt_state(h, g.name) == ST_GUEST_UP)
				gc_call(h, &g, "RemoveNetwork",
					json_pack("{s:s}", "network_id", n->id),
					HOST_PUSH_TIMEOUT_MS, NULL, NULL);
			h->st->ops->guest_net_delete(h->st, gns[i].guest,
						     n->id);
		}
		free(gns);
	}
	rc = h->st->ops->network_delete(h->st, n->id);
	if (rc == -EBUSY)
		return host_err(em, rc, "network %s has active endpoints",
				n->name);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	log_info("network %s removed", n->name);
	mesh_push_isolation(h, NULL);
	return 0;
}

static int op_network_remove(struct host *h, json_t *args, json_t **res,
			     char **em)
{
	struct st_network n;
	const char *ref;
	int rc;

	if ((rc = a_str(args, "network", true, &ref, em)) ||
	    (rc = get_network(h, ref, &n, em)) ||
	    (rc = network_delete(h, &n, em)))
		return rc;
	*res = json_object();
	return 0;
}

static int op_network_prune(struct host *h, json_t *args, json_t **res,
			    char **em)
{
	struct st_network *ns = NULL;
	json_t *filters, *removed;
	size_t n = 0;
	int rc;

	if ((rc = a_typed(args, "filters", JSON_OBJECT, &filters, em)) ||
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

static int op_network_connect(struct host *h, json_t *args, json_t **res,
			      char **em)
{
	struct st_network n;
	struct st_container c;
	const char *nref, *cref, *ip, *ip6;
	json_t *aliases, *a;
	size_t i;
	int rc;

	if ((rc = a_str(args, "network", true, &nref, em)) ||
	    (rc = a_str(args, "container", true, &cref, em)) ||
	    (rc = a_str(args, "ip", false, &ip, em)) ||
	    (rc = a_str(args, "ip6", false, &ip6, em)) ||
	    (rc = a_typed(args, "aliases", JSON_ARRAY, &aliases, em)))
		return rc;
	json_array_foreach(aliases, i, a) {
		if (!json_is_string(a))
			return host_err(
				em, -EINVAL,
				"argument 'aliases' must be an array of strings");
		if ((rc = check_name("alias", json_string_value(a), em)))
			return rc;
	}
	if ((rc = get_network(h, nref, &n, em)) ||
	    (rc = get_container(h, cref, &c, em)))
		return rc;
	return mesh_attach(h, &n, &c, ip, ip6, aliases, res, em);
}

static int op_network_disconnect(struct host *h, json_t *args, json_t **res,
				 char **em)
{
	struct st_network n;
	struct st_container c;
	const char *nref, *cref;
	bool force;
	int rc;

	/* force is accepted: detaching never waits for an unreachable guest
	 * (its replay removes what is left). */
	if ((rc = a_str(args, "network", true, &nref, em)) ||
	    (rc = a_str(args, "container", true, &cref, em)) ||
	    (rc = a_bool(args, "force", &force, em)) ||
	    (rc = get_network(h, nref, &n, em)) ||
	    (rc = get_container(h, cref, &c, em)) ||
	    (rc = mesh_detach(h, &n, &c, em)))
		return rc;
	*res = json_object();
	return 0;
}

/* --- guests --- */

static json_t *guest_json(struct host *h, const struct st_guest *g)
{
	struct host_grt *r = host_grt_get(h, g->name);
	char buf[IPNET_STRLEN];
	int state = g->state;
	int64_t seen = g->last_seen;

	if (r) {
		pthread_mutex_lock(&h->rt_mu);
		/* Before the first probe the stored state is all we know. */
		if (r->state != ST_GUEST_UNKNOWN)
			state = r->state;
		if (r->last_seen > seen)
			seen = r->last_seen;
		pthread_mutex_unlock(&h->rt_mu);
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "name", g->name, "state",
			 state == ST_GUEST_UP	? "up" :
			 state == ST_GUEST_DEAD ? "dead" :
						  "down",
			 "backend", g->backend, "control", g->control,
			 "underlay",
			 g->underlay.family ? ip_fmt(&g->underlay, buf) : "",
			 "last_seen", (json_int_t)seen);
}

static bool control_valid(const char *s)
{
	return !strncmp(s, "unix:/", 6) || !strncmp(s, "vsock:", 6) ||
	       !strncmp(s, "serial:/", 8) || s[0] == '/';
}

static int op_guest_add(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest g, old;
	json_t *hello = NULL, *ul = NULL;
	const char *name, *control, *s;
	int rc;

	if ((rc = a_str(args, "name", true, &name, em)) ||
	    (rc = check_name("guest", name, em)) ||
	    (rc = a_str(args, "control", true, &control, em)))
		return rc;
	if (!control_valid(control) || strlen(control) >= ST_PATH_LEN)
		return host_err(
			em, -EINVAL,
			"invalid control address %s: want unix:/path, vsock:CID:PORT or serial:/dev/...",
			control);
	if (!h->st->ops->guest_get(h->st, name, &old))
		return host_err(em, -EEXIST, "guest %s already exists", name);
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.control, sizeof(g.control), "%s", control);
	snprintf(g.host_id, sizeof(g.host_id), "%s", h->id);
	rc = gc_call(h, &g, "Hello", NULL, h->call_timeout_ms, &hello, em);
	if (rc)
		goto out;
	s = json_str(hello, "guest");
	if (s && strcmp(s, name))
		log_warn("guest %s calls itself %s", name, s);
	snprintf(g.backend, sizeof(g.backend), "%s",
		 json_str(hello, "backend") ? json_str(hello, "backend") : "");
	rc = gc_call(h, &g, "GetUnderlayEndpoint", NULL, h->call_timeout_ms,
		     &ul, em);
	if (rc)
		goto out;
	s = json_str(ul, "address");
	if (!s || ip_parse(s, &g.underlay)) {
		rc = host_err(em, -EPROTO,
			      "guest %s: GetUnderlayEndpoint gave no address",
			      name);
		goto out;
	}
	/* ctrl_prefixes: none; the guest adds its underlay prefix itself. */
	rc = gc_call(h, &g, "CreateHub", json_object(), h->call_timeout_ms,
		     NULL, em);
	if (rc)
		goto out;
	/* A fresh start: nothing from an earlier life stays. */
	rc = gc_call(h, &g, "Reconcile",
		     json_pack("{s:[],s:[]}", "networks", "containers"),
		     h->call_timeout_ms, NULL, em);
	if (rc)
		goto out;
	g.state = ST_GUEST_UP;
	g.last_seen = time(NULL);
	rc = h->st->ops->guest_put(h->st, &g);
	if (rc) {
		host_err(em, rc, "store: %s", strerror(-rc));
		goto out;
	}
	host_grt_set_state(h, name, ST_GUEST_UP);
	mesh_push_isolation(h, name);
	log_info("guest %s added (%s, underlay %s)", name, g.backend, s);
	*res = guest_json(h, &g);
out:
	if (rc)
		host_grt_set_state(h, name, ST_GUEST_UNKNOWN);
	json_decref(hello);
	json_decref(ul);
	return rc;
}

static int op_guest_remove(struct host *h, json_t *args, json_t **res,
			   char **em)
{
	struct st_guest g;
	struct st_container *cs = NULL;
	struct st_guest_net *gns = NULL;
	size_t n = 0, ngn = 0, mine = 0;
	const char *name;
	int rc;

	if ((rc = a_str(args, "name", true, &name, em)))
		return rc;
	if (h->st->ops->guest_get(h->st, name, &g))
		return host_err(em, -ENOENT, "no such guest: %s", name);
	rc = host_check_owner(h, name, em);
	if (rc)
		return rc;
	rc = h->st->ops->container_list(h->st, &cs, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	for (size_t i = 0; i < n; i++)
		mine += !strcmp(cs[i].guest, name);
	free(cs);
	if (mine)
		return host_err(
			em, -EBUSY,
			"guest %s has %zu container(s): remove them first",
			name, mine);
	if (host_grt_state(h, name) == ST_GUEST_UP)
		gc_call(h, &g, "DeleteHub", NULL, h->call_timeout_ms, NULL,
			NULL);
	if (!h->st->ops->guest_net_list(h->st, NULL, &gns, &ngn)) {
		for (size_t i = 0; i < ngn; i++)
			if (!strcmp(gns[i].guest, name))
				h->st->ops->guest_net_delete(h->st, name,
							     gns[i].network_id);
		free(gns);
	}
	rc = h->st->ops->guest_delete(h->st, name);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	host_grt_set_state(h, name, ST_GUEST_UNKNOWN);
	log_info("guest %s removed", name);
	*res = json_object();
	return 0;
}

static int op_guest_list(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest *gs = NULL;
	size_t n = 0;
	int rc;

	(void)args;
	rc = h->st->ops->guest_list(h->st, &gs, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	*res = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*res, guest_json(h, &gs[i]));
	free(gs);
	return 0;
}

/* --- containers --- */

/* A port's host address: family 0 for "any" (absent, empty, 0.0.0.0, ::). */
static void port_host_ip(json_t *p, struct ip_addr *a)
{
	const char *hip = json_str(p, "host_ip");
	static const uint8_t zero[16];

	memset(a, 0, sizeof(*a));
	if (!hip || !*hip || ip_parse(hip, a))
		memset(a, 0, sizeof(*a));
	else if (!memcmp(a->a, zero, 16) ||
		 (a->family == AF_INET && !memcmp(a->a + 12, zero, 4)))
		memset(a, 0, sizeof(*a));
}

/* Two mappings collide: same protocol and host port, and one of them on
 * any address or both on the same one. */
static bool ports_collide(json_t *p, json_t *q)
{
	const char *pp = json_str(p, "proto"), *qp = json_str(q, "proto");
	struct ip_addr a, b;

	if (json_integer_value(json_object_get(p, "host_port")) !=
		    json_integer_value(json_object_get(q, "host_port")) ||
	    strcmp(pp ? pp : "tcp", qp ? qp : "tcp"))
		return false;
	port_host_ip(p, &a);
	port_host_ip(q, &b);
	return !a.family || !b.family ||
	       (a.family == b.family && !memcmp(a.a, b.a, 16));
}

static int check_ports(json_t *ports, char **em)
{
	json_t *p, *q;
	size_t i, k;

	json_array_foreach(ports, i, p) {
		json_t *hp = json_object_get(p, "host_port"),
		       *cp = json_object_get(p, "container_port");
		const char *proto = json_str(p, "proto"),
			   *hip = json_str(p, "host_ip"),
			   *cip = json_str(p, "container_ip");
		struct ip_addr a;

		if (!json_is_object(p) || !json_is_integer(hp) ||
		    !json_is_integer(cp) || json_integer_value(hp) < 1 ||
		    json_integer_value(hp) > 65535 ||
		    json_integer_value(cp) < 1 ||
		    json_integer_value(cp) > 65535)
			return host_err(
				em, -EINVAL,
				"ports[%zu]: host_port and container_port must be 1-65535",
				i);
		if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return host_err(em, -EINVAL,
					"ports[%zu]: proto must be tcp or udp",
					i);
		if (hip && *hip && ip_parse(hip, &a))
			return host_err(em, -EINVAL,
					"ports[%zu]: invalid host_ip %s", i,
					hip);
		/* The container side is its IPv4 address: the DNAT rule
		 * must be IPv4 too. */
		if (hip && *hip && a.family != AF_INET)
			return host_err(
				em, -EINVAL,
				"ports[%zu]: host_ip %s: only IPv4 host addresses can be published",
				i, hip);
		if (cip && (ip_parse(cip, &a) || a.family != AF_INET))
			return host_err(em, -EINVAL,
					"ports[%zu]: invalid container_ip %s",
					i, cip);
		if (!proto)
			json_object_set_new(p, "proto", json_string("tcp"));
		port_host_ip(p, &a);
		if (hip && !a.family) /* 0.0.0.0 is "any" */
			json_object_del(p, "host_ip");
		json_array_foreach(ports, k, q) {
			if (k >= i)
				break;
			if (ports_collide(p, q))
				return host_err(
					em, -EINVAL,
					"port %lld/%s is published twice",
					(long long)json_integer_value(hp),
					json_str(p, "proto"));
		}
	}
	return 0;
}

/* Host ports already taken by another container of the same guest. */
static int check_port_conflicts(struct host *h, const char *guest,
				json_t *ports, char **em)
{
	struct st_container *cs = NULL;
	size_t n = 0;
	int rc = 0;

	if (!json_array_size(ports) ||
	    h->st->ops->container_list(h->st, &cs, &n))
		return 0;
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *theirs, *p, *q;
		size_t a, b;

		if (strcmp(cs[i].guest, guest))
			continue;
		theirs = json_loads(cs[i].ports, 0, NULL);
		json_array_foreach(ports, a, p) {
			json_array_foreach(theirs, b, q) {
				if (rc || !ports_collide(p, q))
					continue;
				rc = host_err(
					em, -EEXIST,
					"port %lld/%s on guest %s is already allocated by container %s",
					(long long)json_integer_value(
						json_object_get(p,
								"host_port")),
					json_str(p, "proto"), guest,
					cs[i].name);
			}
		}
		json_decref(theirs);
	}
	free(cs);
	return rc;
}

static json_t *container_json(struct host *h, const struct st_container *c)
{
	struct st_endpoint *eps = NULL;
	size_t n = 0;
	json_t *nets = json_object(), *ports;

	if (!h->st->ops->endpoint_list(h->st, NULL, c->id, &eps, &n)) {
		for (size_t i = 0; i < n; i++) {
			struct st_network net;

			if (!h->st->ops->network_get(h->st, eps[i].network_id,
						     &net))
				json_object_set_new(nets, net.name,
						    netjson_endpoint(&net, c,
								     &eps[i]));
		}
		free(eps);
	}
	ports = json_loads(c->ports, 0, NULL);
	if (!json_is_array(ports)) {
		json_decref(ports);
		ports = json_array();
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "id", c->id, "name",
			 c->name, "guest", c->guest, "netns", c->netns, "ports",
			 ports, "networks", nets);
}

static int new_id(char out[ST_ID_LEN])
{
	uint8_t raw[32];

	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int op_container_add(struct host *h, json_t *args, json_t **res,
			    char **em)
{
	struct st_container c, *cs = NULL;
	struct st_guest g;
	const char *name, *guest, *netns;
	json_t *ports, *copy = NULL;
	size_t n = 0;
	char *text = NULL;
	int rc;

	if ((rc = a_str(args, "name", true, &name, em)) ||
	    (rc = check_name("container", name, em)) ||
	    (rc = a_str(args, "guest", true, &guest, em)) ||
	    (rc = a_str(args, "netns", true, &netns, em)) ||
	    (rc = a_typed(args, "ports", JSON_ARRAY, &ports, em)))
		return rc;
	if (netns[0] != '/' || strlen(netns) >= ST_PATH_LEN)
		return host_err(em, -EINVAL,
				"invalid netns %s: want an absolute path",
				netns);
	if (h->st->ops->guest_get(h->st, guest, &g))
		return host_err(em, -ENOENT, "no such guest: %s", guest);
	rc = host_check_owner(h, guest, em);
	if (rc)
		return rc;
	rc = h->st->ops->container_list(h->st, &cs, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	for (size_t i = 0; i < n && !rc; i++)
		if (!strcmp(cs[i].name, name))
			rc = host_err(em, -EEXIST,
				      "container name %s is already in use",
				      name);
	free(cs);
	if (rc)
		return rc;
	copy = ports ? json_deep_copy(ports) : json_array();
	if ((rc = check_ports(copy, em)) ||
	    (rc = check_port_conflicts(h, guest, copy, em)))
		goto out;
	memset(&c, 0, sizeof(c));
	text = json_dumps(copy, JSON_COMPACT);
	if (!text || strlen(text) >= sizeof(c.ports)) {
		rc = host_err(em, -EINVAL, "too many published ports");
		goto out;
	}
	rc = new_id(c.id);
	if (rc) {
		host_err(em, rc, "cannot generate an id");
		goto out;
	}
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.guest, sizeof(c.guest), "%s", guest);
	snprintf(c.netns, sizeof(c.netns), "%s", netns);
	strcpy(c.ports, text);
	rc = h->st->ops->container_add(h->st, &c);
	if (rc == -EEXIST) {
		host_err(em, rc, "container name %s is already in use", name);
		goto out;
	}
	if (rc) {
		host_err(em, rc, "store: %s", strerror(-rc));
		goto out;
	}
	log_info("container %s added on guest %s", name, guest);
	*res = container_json(h, &c);
out:
	free(text);
	json_decref(copy);
	return rc;
}

static int op_container_remove(struct host *h, json_t *args, json_t **res,
			       char **em)
{
	struct st_container c;
	const char *ref;
	int rc;

	if ((rc = a_str(args, "container", true, &ref, em)) ||
	    (rc = get_container(h, ref, &c, em)) ||
	    (rc = host_container_remove_locked(h, &c, em)))
		return rc;
	*res = json_object();
	return 0;
}

static int op_container_list(struct host *h, json_t *args, json_t **res,
			     char **em)
{
	struct st_container *cs = NULL;
	size_t n = 0;
	int rc;

	(void)args;
	rc = h->st->ops->container_list(h->st, &cs, &n);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	*res = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*res, container_json(h, &cs[i]));
	free(cs);
	return 0;
}

/* --- Status: guests are asked in parallel, without h->mu --- */

struct status_job {
	struct host *h;
	struct st_guest g;
	json_t *status;
	pthread_t th;
	bool started;
};

static void *status_main(void *arg)
{
	struct status_job *j = arg;

	if (gc_call(j->h, &j->g, "GetStatus", NULL, HOST_PUSH_TIMEOUT_MS,
		    &j->status, NULL))
		j->status = NULL;
	return NULL;
}

static int op_status(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest *gs = NULL;
	struct status_job *jobs = NULL;
	json_t *arr, *list = NULL;
	size_t n = 0;
	int rc;

	(void)args;
	pthread_mutex_lock(&h->mu);
	rc = h->st->ops->guest_list(h->st, &gs, &n);
	if (!rc)
		rc = op_guest_list(h, NULL, &list, em);
	pthread_mutex_unlock(&h->mu);
	if (rc) {
		free(gs);
		return host_err(em, rc, "store: %s", strerror(-rc));
	}
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!jobs) {
		free(gs);
		json_decref(list);
		return host_err(em, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].h = h;
		jobs[i].g = gs[i];
		if (host_grt_state(h, gs[i].name) != ST_GUEST_UP)
			continue;
		jobs[i].started = !pthread_create(&jobs[i].th, NULL,
						  status_main, &jobs[i]);
		if (!jobs[i].started)
			status_main(&jobs[i]);
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *gj = json_array_get(list, i);

		if (jobs[i].started)
			pthread_join(jobs[i].th, NULL);
		if (!gj)
			continue;
		json_object_set_new(gj, "status",
				    jobs[i].status ? jobs[i].status :
						     json_null());
		json_array_append(arr, gj);
	}
	json_decref(list);
	free(jobs);
	free(gs);
	*res = json_pack("{s:o}", "guests", arr);
	return 0;
}

/* --- dispatch --- */

typedef int (*op_fn)(struct host *h, json_t *args, json_t **res, char **em);

static const struct {
	const char *name;
	op_fn fn;
	bool locked; /* run under h->mu */
	const char *keys; /* the args it takes, space-separated */
} ops[] = {
	{ "NetworkCreate", op_network_create, true,
	  "name driver subnet ip_range gateway ipv6 subnet6 ip_range6 gateway6 "
	  "internal labels options" },
	{ "NetworkList", op_network_list, true, "filters" },
	{ "NetworkInspect", op_network_inspect, true, "network" },
	{ "NetworkRemove", op_network_remove, true, "network" },
	{ "NetworkConnect", op_network_connect, true,
	  "network container ip ip6 aliases" },
	{ "NetworkDisconnect", op_network_disconnect, true,
	  "network container force" },
	{ "NetworkPrune", op_network_prune, true, "filters" },
	{ "GuestAdd", op_guest_add, true, "name control" },
	{ "GuestRemove", op_guest_remove, true, "name" },
	{ "GuestList", op_guest_list, true, "" },
	{ "ContainerAdd", op_container_add, true, "name guest netns ports" },
	{ "ContainerRemove", op_container_remove, true, "container" },
	{ "ContainerList", op_container_list, true, "" },
	{ "Status", op_status, false, "" },
};

/* An argument the op does not take is an error, not silently ignored: a
 * misspelt "internal" must not create an open network. */
static int check_keys(const char *op, const char *keys, json_t *args,
		      char **em)
{
	const char *k;
	json_t *v;

	json_object_foreach(args, k, v)
	{
		size_t n = strlen(k);
		const char *p = n ? keys : NULL;

		while (p && (p = strstr(p, k)) &&
		       !((p == keys || p[-1] == ' ') && (!p[n] || p[n] == ' ')))
			p += n;
		if (!p)
			return host_err(em, -EINVAL,
					"unknown argument \"%.64s\" for %s", k,
					op);
	}
	return 0;
}

int host_dispatch(struct host *h, const char *op, json_t *args, json_t **result,
		  char **errmsg)
{
	json_t *empty = NULL;
	int rc = -EOPNOTSUPP;

	*result = NULL;
	if (errmsg)
		*errmsg = NULL;
	if (!args) {
		empty = json_object();
		args = empty;
	}
	if (!json_is_object(args)) {
		rc = host_err(errmsg, -EINVAL, "args must be an object");
		goto out;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
		if (strcmp(ops[i].name, op))
			continue;
		rc = check_keys(op, ops[i].keys, args, errmsg);
		if (rc)
			goto out;
		if (ops[i].locked)
			pthread_mutex_lock(&h->mu);
		rc = ops[i].fn(h, args, result, errmsg);
		if (ops[i].locked)
			pthread_mutex_unlock(&h->mu);
		if (!rc && !*result)
			*result = json_object();
		if (rc && errmsg && !*errmsg)
			host_err(errmsg, rc, "%s: %s", op, strerror(-rc));
		/* One clear line whatever the op was doing. */
		if (rc == -ENOTCONN)
			host_err(errmsg, rc, "store unreachable: %s",
				 h->store_uri[0] ? h->store_uri : "the store");
		goto out;
	}
	host_err(errmsg, rc, "unknown op \"%s\"", op);
out:
	if (rc) {
		json_decref(*result);
		*result = NULL;
	}
	json_decref(empty);
	return rc;
}

json_t *host_handle(struct host *h, json_t *req)
{
	const char *op = NULL, *why = NULL;
	json_t *args = NULL, *res = NULL, *rep;
	char *em = NULL;
	int rc;

	rc = proto_request_parse(req, &op, &args, &why);
	if (rc)
		return proto_reply_err(-rc, "bad request: %s",
				       why ? why : "malformed");
	rc = host_dispatch(h, op, args, &res, &em);
	if (rc) {
		log_debug("%s: %s", op, em ? em : strerror(-rc));
		rep = proto_reply_err(-rc, "%s", em ? em : strerror(-rc));
	} else {
		rep = proto_reply_ok(res);
	}
	free(em);
	return rep;
}

void host_serve_fd(struct host *h, int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	json_t *req = NULL, *rep = NULL;
	uint16_t type = 0;
	int rc;

	/* A stuck client cannot pin this thread for long. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = proto_recv(fd, &type, &req);
	if (rc == -EMSGSIZE)
		rep = proto_reply_err(EMSGSIZE,
				      "request too large (max %u bytes)",
				      PROTO_MAX_PAYLOAD);
	else if (rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EBADMSG)
		rep = proto_reply_err(-rc, "bad request: %s", strerror(-rc));
	else if (rc)
		goto out; /* closed or timed out: nobody to answer */
	else if (type != PROTO_T_REQUEST)
		rep = proto_reply_err(EBADMSG,
				      "bad request: not a request frame");
	else
		rep = host_handle(h, req);
	if (rep)
		proto_send(fd, PROTO_T_REPLY, rep);
out:
	json_decref(req);
	json_decref(rep);
}
