// SPDX-License-Identifier: GPL-2.0
/*
 * The host API's guest and container ops, and Status (docs/protocol.md,
 * "Host calls"). GuestAdd/Remove/List and ContainerAdd/Remove/List run
 * under h->mu; Status talks to guests without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctrlset.h"
#include "host.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "api_int.h"

/* --- guests --- */

static json_t *guest_json(struct host *h, const struct st_guest *g)
{
	struct guest_rt *r = guest_rt_get(h, g->name);
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

/* GetUnderlayEndpoint's reply: the address and its network's length
 * ("prefix"; absent from an older agent: the address alone). */
static int underlay_parse(json_t *ul, struct st_guest *g, char **em)
{
	const char *s = json_str(ul, "address");
	char why[160];
	int plen;

	if (!s || ip_parse(s, &g->underlay))
		return host_err(em, -EPROTO,
				"guest %s: GetUnderlayEndpoint gave no address",
				g->name);
	s = json_str(ul, "prefix");
	g->underlay_plen = 0;
	if (!s)
		return 0;
	plen = ctrl_underlay_plen(&g->underlay, s, why, sizeof(why));
	if (plen < 0)
		return host_err(em, -EPROTO,
				"guest %s: GetUnderlayEndpoint: %s", g->name,
				why);
	g->underlay_plen = plen;
	return 0;
}

/* Hello, underlay, hub, a clean slate: the guest's side of GuestAdd,
 * without any lock. */
static int guest_prepare(struct host *h, struct st_guest *g, json_t **hello,
			 char **em)
{
	json_t *ul = NULL, *iso, *ctrl, *args;
	const char *s;
	uint64_t gen;
	int rc;

	rc = gc_call(h, g, "Hello", NULL, h->call_timeout_ms, hello, em);
	if (rc)
		return rc;
	s = json_str(*hello, "guest");
	if (s && strcmp(s, g->name))
		log_warn("guest %s calls itself %s", g->name, s);
	snprintf(g->backend, sizeof(g->backend), "%s",
		 json_str(*hello, "backend") ? json_str(*hello, "backend") :
					       "");
	rc = gc_call(h, g, "GetUnderlayEndpoint", NULL, h->call_timeout_ms, &ul,
		     em);
	if (rc)
		goto out;
	rc = underlay_parse(ul, g, em);
	if (rc)
		goto out;
	/* The host's part of the control-plane set (the guest adds its
	 * underlay prefixes and the link-local ranges itself). */
	iso = cp_iso_want(h, &gen);
	ctrl = json_object_get(iso, "ctrl_prefixes");
	args = ctrl ? json_pack("{s:O}", "ctrl_prefixes", ctrl) : json_object();
	json_decref(iso);
	rc = gc_call(h, g, "CreateHub", args,
		     HOST_DEVICE_CALL_MS(h->call_timeout_ms), NULL, em);
	if (rc)
		goto out;
	/* A fresh start: nothing from an earlier life stays. */
	rc = gc_call(h, g, "Reconcile",
		     json_pack("{s:[],s:[]}", "networks", "containers"),
		     HOST_DEVICE_CALL_MS(h->call_timeout_ms), NULL, em);
out:
	json_decref(ul);
	return rc;
}

int api_op_guest_add(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest g, old;
	struct guest_rt *r;
	json_t *hello = NULL, *nets;
	const char *name, *control, *boot;
	char ul[IPNET_STRLEN], *iem = NULL;
	bool added = false;
	int rc;

	if ((rc = api_arg_str(args, "name", true, &name, em)) ||
	    (rc = api_check_name("guest", name, em)) ||
	    (rc = api_arg_str(args, "control", true, &control, em)))
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
	rc = guest_prepare(h, &g, &hello, em);
	if (rc)
		goto out;
	g.state = ST_GUEST_UP;
	g.last_seen = time(NULL);
	pthread_mutex_lock(&h->mu);
	if (!h->st->ops->guest_get(h->st, name, &old))
		rc = host_err(em, -EEXIST, "guest %s already exists", name);
	else if ((rc = h->st->ops->guest_put(h->st, &g)))
		host_err(em, rc, "store: %s", strerror(-rc));
	pthread_mutex_unlock(&h->mu);
	if (rc)
		goto out;
	added = true;
	__atomic_add_fetch(&h->guest_epoch, 1, __ATOMIC_RELEASE);
	r = guest_rt_get(h, name);
	if (r) {
		/* What its Hello said: generations, boot id. */
		nets = json_object_get(hello, "nets");
		boot = json_str(hello, "boot");
		pthread_mutex_lock(&h->rt_mu);
		r->gens = json_is_object(nets);
		r->nacks = 0;
		snprintf(r->boot, sizeof(r->boot), "%s", boot ? boot : "");
		pthread_mutex_unlock(&h->rt_mu);
	}
	guest_rt_set_state(h, name, ST_GUEST_UP);
	cp_worker_ensure(h, &g);
	/* Its underlay network joins every guest's control-plane set (a
	 * known one changes nothing, no guest is sent anything); it gets
	 * the whole set. A refusal fails the add (the guest stays,
	 * degraded: wgnet status shows why). */
	rc = mesh_push_isolation(h, name, true, &iem);
	if (rc) {
		host_err(em, rc, "guest %s added, but %s", name, iem);
		free(iem);
		goto out;
	}
	log_info("guest %s added (%s, underlay %s)", name, g.backend,
		 ip_fmt(&g.underlay, ul));
	*res = guest_json(h, &g);
out:
	if (rc && rc != -EEXIST && !added) {
		guest_rt_set_state(h, name, ST_GUEST_UNKNOWN);
		/* Not added: no connection kept (a VM's port serves one). */
		gc_close(h, name);
	}
	json_decref(hello);
	return rc;
}

int api_op_guest_remove(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest g;
	struct st_container *cs = NULL;
	struct st_guest_net *gns = NULL;
	size_t n = 0, ngn = 0;
	const char *name;
	int rc;

	if ((rc = api_arg_str(args, "name", true, &name, em)))
		return rc;
	pthread_mutex_lock(&h->mu);
	if (h->st->ops->guest_get(h->st, name, &g))
		rc = host_err(em, -ENOENT, "no such guest: %s", name);
	else
		rc = host_check_owner(h, name, em);
	if (!rc && (rc = mesh_guest_containers(h->st, name, &cs, &n)))
		host_err(em, rc, "store: %s", strerror(-rc));
	free(cs);
	if (!rc && n)
		rc = host_err(
			em, -EBUSY,
			"guest %s has %zu container(s): remove them first",
			name, n);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return rc;
	if (guest_rt_state(h, name) == ST_GUEST_UP) {
		struct cp_ticket *t = cp_ticket_new();

		cp_worker_ensure(h, &g);
		cp_enqueue(h, name, CP_CALL, "DeleteHub", NULL, NULL, NULL, t);
		/* The worker's own deadline for DeleteHub, and a round. */
		cp_ticket_wait(h, t,
			       HOST_DEVICE_CALL_MS(h->call_timeout_ms) +
				       h->call_timeout_ms,
			       NULL);
	}
	cp_worker_stop(h, name);
	pthread_mutex_lock(&h->mu);
	if (h->st->ops->guest_net_list(h->st, NULL, &gns, &ngn))
		ngn = 0;
	/* Its WireGuard interfaces go with it. */
	rc = h->st->ops->guest_delete(h->st, name);
	pthread_mutex_unlock(&h->mu);
	for (size_t i = 0; i < ngn; i++)
		if (!strcmp(gns[i].guest, name))
			cp_net_refresh(h, gns[i].network_id);
	free(gns);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	guest_rt_set_state(h, name, ST_GUEST_UNKNOWN);
	__atomic_add_fetch(&h->guest_epoch, 1, __ATOMIC_RELEASE);
	/* Its underlay network leaves the others' control-plane set (if it
	 * was the last guest on it). */
	mesh_push_isolation(h, NULL, false, NULL);
	log_info("guest %s removed", name);
	*res = json_object();
	return 0;
}

int api_op_guest_list(struct host *h, json_t *args, json_t **res, char **em)
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
				const char *skip_id, json_t *ports, char **em)
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

		if (strcmp(cs[i].guest, guest) ||
		    (skip_id && !strcmp(cs[i].id, skip_id)))
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

int api_op_container_add(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_container c, *cs = NULL;
	struct st_guest g;
	const char *name, *guest, *netns = NULL;
	json_t *ports, *copy = NULL;
	bool host_mode = false;
	size_t n = 0;
	char *text = NULL;
	int rc;

	if ((rc = api_arg_str(args, "name", true, &name, em)) ||
	    (rc = api_check_name("container", name, em)) ||
	    (rc = api_arg_str(args, "guest", true, &guest, em)) ||
	    (rc = api_arg_bool(args, "host_mode", &host_mode, em)) ||
	    (rc = api_arg_str(args, "netns", !host_mode, &netns, em)) ||
	    (rc = api_arg_typed(args, "ports", JSON_ARRAY, &ports, em)))
		return rc;
	/* Host mode (Docker's remote driver): no namespace of ours, the veth
	 * end stays in the guest for the runtime to move; stored as "". */
	if (host_mode && netns)
		return host_err(em, -EINVAL,
				"netns cannot be given with host_mode");
	if (host_mode)
		netns = "";
	else if (netns[0] != '/' || strlen(netns) >= ST_PATH_LEN)
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
	    (rc = check_port_conflicts(h, guest, NULL, copy, em)))
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

/* ContainerPorts {container, ports}: replace a container's published ports
 * (Docker's ProgramExternalConnectivity comes after the attach). */
int api_op_container_ports(struct host *h, json_t *args, json_t **res,
			   char **em)
{
	struct st_container c;
	struct st_guest g;
	const char *ref;
	json_t *ports, *copy = NULL, *push = NULL;
	char *text = NULL;
	int rc;

	if ((rc = api_arg_str(args, "container", true, &ref, em)) ||
	    (rc = api_arg_typed(args, "ports", JSON_ARRAY, &ports, em)) ||
	    (rc = api_get_container(h, ref, &c, em)) ||
	    (rc = host_check_owner(h, c.guest, em)))
		return rc;
	copy = ports ? json_deep_copy(ports) : json_array();
	if ((rc = check_ports(copy, em)) ||
	    (rc = check_port_conflicts(h, c.guest, c.id, copy, em)))
		goto out;
	text = json_dumps(copy, JSON_COMPACT);
	if (!text || strlen(text) >= sizeof(c.ports)) {
		rc = host_err(em, -EINVAL, "too many published ports");
		goto out;
	}
	rc = h->st->ops->container_set_ports(h->st, c.id, text);
	if (rc) {
		host_err(em, rc, "store: %s", strerror(-rc));
		goto out;
	}
	snprintf(c.ports, sizeof(c.ports), "%s", text);
	if (!h->st->ops->guest_get(h->st, c.guest, &g) &&
	    guest_rt_state(h, g.name) == ST_GUEST_UP &&
	    !mesh_ports(h->st, &c, &push)) {
		rc = gc_call(h, &g, "PublishPorts",
			     json_pack("{s:s,s:o}", "container_id", c.id,
				       "ports", push),
			     h->call_timeout_ms, NULL, em);
		if (rc)
			goto out;
	}
	*res = json_object();
out:
	free(text);
	json_decref(copy);
	return rc;
}

int api_op_container_remove(struct host *h, json_t *args, json_t **res,
			    char **em)
{
	struct st_container c;
	const char *ref;
	int rc;

	if ((rc = api_arg_str(args, "container", true, &ref, em)) ||
	    (rc = api_get_container(h, ref, &c, em)) ||
	    (rc = host_container_remove(h, &c, true, em)))
		return rc;
	*res = json_object();
	return 0;
}

int api_op_container_list(struct host *h, json_t *args, json_t **res, char **em)
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

/* --- Status: guests are asked in parallel (at most STATUS_PARALLEL at
 * once), on connections of their own: never behind a worker's queue. --- */

#define STATUS_PARALLEL 32
/* The reply must fit the client's limit: past this budget the guests'
 * own status objects are left out (and counted), never silently. */
#define STATUS_BUDGET (PROTO_MAX_REPLY / 2)

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

static void status_run(struct status_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i += STATUS_PARALLEL) {
		size_t end = i + STATUS_PARALLEL < n ? i + STATUS_PARALLEL : n;

		for (size_t k = i; k < end; k++) {
			if (guest_rt_state(jobs[k].h, jobs[k].g.name) !=
			    ST_GUEST_UP)
				continue;
			jobs[k].started = !pthread_create(
				&jobs[k].th, NULL, status_main, &jobs[k]);
			if (!jobs[k].started)
				status_main(&jobs[k]);
		}
		for (size_t k = i; k < end; k++)
			if (jobs[k].started)
				pthread_join(jobs[k].th, NULL);
	}
}

/* The control plane's view of a guest: acknowledged generations, queue
 * depth, age of the last acknowledgement. */
static void status_cplane(struct host *h, json_t *gj, const char *name)
{
	struct guest_rt *r = guest_rt_get(h, name);
	json_t *iso;
	int64_t last;
	size_t depth;
	bool gens;

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	last = r->last_ack_ms;
	depth = r->depth;
	gens = r->gens;
	pthread_mutex_unlock(&h->rt_mu);
	json_object_set_new(gj, "generations", cp_guest_acks_json(h, r));
	json_object_set_new(gj, "queue", json_integer((json_int_t)depth));
	json_object_set_new(gj, "last_ack_ms",
			    last ? json_integer(host_now_ms() - last) :
				   json_null());
	json_object_set_new(gj, "protocol",
			    json_string(gens ? "generations" : "full-sets"));
	iso = cp_iso_status(h, r);
	/* The guest refused what it must hold: degraded until it takes it. */
	if (json_object_get(iso, "error"))
		json_object_set(gj, "degraded", json_object_get(iso, "error"));
	json_object_set_new(gj, "isolation", iso);
}

int api_op_status(struct host *h, json_t *args, json_t **res, char **em)
{
	struct st_guest *gs = NULL;
	struct status_job *jobs = NULL;
	json_t *arr, *list = NULL;
	size_t n = 0, budget = STATUS_BUDGET, omitted = 0;
	int rc;

	(void)args;
	rc = h->st->ops->guest_list(h->st, &gs, &n);
	if (!rc)
		rc = api_op_guest_list(h, NULL, &list, em);
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
	}
	status_run(jobs, n);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *gj = json_array_get(list, i);
		size_t sz = 0;

		if (!gj) {
			json_decref(jobs[i].status);
			continue;
		}
		if (jobs[i].status) {
			char *t = json_dumps(jobs[i].status, JSON_COMPACT);

			sz = t ? strlen(t) : 0;
			free(t);
		}
		if (jobs[i].status && sz > budget) {
			json_decref(jobs[i].status);
			jobs[i].status = NULL;
			json_object_set_new(gj, "status_omitted",
					    json_string("reply size limit"));
			omitted++;
		} else {
			budget -= sz;
		}
		json_object_set_new(gj, "status",
				    jobs[i].status ? jobs[i].status :
						     json_null());
		status_cplane(h, gj, gs[i].name);
		json_array_append(arr, gj);
	}
	json_decref(list);
	free(jobs);
	free(gs);
	*res = json_pack("{s:o}", "guests", arr);
	if (omitted)
		json_object_set_new(*res, "status_omitted",
				    json_integer((json_int_t)omitted));
	return 0;
}
