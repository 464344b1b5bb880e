// SPDX-License-Identifier: GPL-2.0
/*
 * The host API: validation of every op's arguments and the dispatch table
 * (docs/protocol.md, "Host calls"). Ops that only read or write the store
 * run under h->mu; ops that talk to guests take it around their store
 * transactions only (docs/control-plane.md).
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

#include "host.h"
#include "ipam.h"
#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "api_int.h"
#include "metrics.h"

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
	pthread_condattr_t ca;

	if (!h)
		return NULL;
	h->st = st;
	snprintf(h->id, sizeof(h->id), "%s", id ? id : "");
	h->guest_timeout_ms =
		(guest_timeout_s > 0 ? guest_timeout_s : 30) * 1000;
	h->call_timeout_ms = HOST_CALL_TIMEOUT_MS;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->rt_mu, NULL);
	pthread_mutex_init(&h->ns_mu, NULL);
	pthread_mutex_init(&h->iso_mu, NULL);
	pthread_cond_init(&h->ack_cv, NULL);
	sem_init(&h->io_sem, 0, HOST_IO_PARALLEL);
	sem_init(&h->io_sem_fg, 0, HOST_IO_PARALLEL_FG);
	pthread_mutex_init(&h->stop_mu, NULL);
	pthread_cond_init(&h->stop_cv, NULL);
	pthread_mutex_init(&h->nq_mu, NULL);
	/* The notifier waits for due times on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->nq_cv, &ca);
	pthread_condattr_destroy(&ca);
	h->fanout_delay_ms = HOST_FANOUT_DELAY_MS;
	return h;
}

int host_start(struct host *h)
{
	struct st_guest *gs = NULL;
	size_t n = 0;
	int rc;

	/* Every network's snapshot, then a worker per guest of ours. */
	cp_load(h);
	if (!h->st->ops->guest_list(h->st, &gs, &n))
		for (size_t i = 0; i < n; i++)
			if (host_owns_guest(h, &gs[i]))
				cp_worker_ensure(h, &gs[i]);
	free(gs);
	rc = cp_notifier_start(h);
	if (rc)
		return rc;
	rc = pthread_create(&h->reconciler, NULL, host_reconciler_main, h);
	if (rc) {
		cp_notifier_stop(h);
		return -rc;
	}
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
	cp_notifier_stop(h);
	cp_workers_stop_all(h);
}

void host_free(struct host *h)
{
	if (!h)
		return;
	host_stop(h);
	while (h->grt) {
		struct guest_rt *r = h->grt;

		h->grt = r->next;
		gconn_close(&r->conn);
		pthread_mutex_destroy(&r->call_mu);
		pthread_cond_destroy(&r->cv);
		free(r->acks);
		free(r);
	}
	free(h->grt_tab);
	h->grt_tab = NULL;
	h->grt_nb = h->grt_n = 0;
	while (h->nets) {
		struct cp_net *n = h->nets;

		h->nets = n->next;
		ns_snap_free(&n->snap);
		ns_log_clear(&n->log);
		free(n->quar);
		free(n);
	}
	sem_destroy(&h->io_sem);
	sem_destroy(&h->io_sem_fg);
	pthread_cond_destroy(&h->ack_cv);
	pthread_mutex_destroy(&h->ns_mu);
	pthread_mutex_destroy(&h->iso_mu);
	json_decref(h->iso_want);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->rt_mu);
	pthread_mutex_destroy(&h->stop_mu);
	pthread_cond_destroy(&h->stop_cv);
	free(h->nq);
	pthread_mutex_destroy(&h->nq_mu);
	pthread_cond_destroy(&h->nq_cv);
	free(h);
}

/* --- argument helpers --- */

int api_arg_str(json_t *args, const char *key, bool req, const char **out,
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

int api_arg_bool(json_t *args, const char *key, bool *out, char **em)
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

int api_arg_typed(json_t *args, const char *key, json_type type, json_t **out,
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

int api_check_name(const char *what, const char *name, char **em)
{
	if (!host_name_valid(name))
		return host_err(
			em, -EINVAL,
			"invalid %s name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters",
			what, name);
	return 0;
}

/* --- lookups --- */

int api_get_network(struct host *h, const char *ref, struct st_network *n,
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

int api_get_container(struct host *h, const char *ref, struct st_container *c,
		      char **em)
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

/* --- dispatch --- */

typedef int (*op_fn)(struct host *h, json_t *args, json_t **res, char **em);

static const struct {
	const char *name;
	op_fn fn;
	bool locked; /* run under h->mu (store work only, no guest I/O) */
	const char *keys; /* the args it takes, space-separated */
} ops[] = {
	{ "NetworkCreate", api_op_network_create, false,
	  "name driver subnet ip_range gateway ipv6 subnet6 ip_range6 gateway6 "
	  "internal labels options" },
	{ "NetworkList", api_op_network_list, true, "filters" },
	{ "NetworkInspect", api_op_network_inspect, true, "network" },
	{ "NetworkRemove", api_op_network_remove, false, "network" },
	{ "NetworkConnect", api_op_network_connect, false,
	  "network container ip ip6 aliases wait" },
	{ "NetworkDisconnect", api_op_network_disconnect, false,
	  "network container force" },
	{ "NetworkPrune", api_op_network_prune, false, "filters" },
	{ "GuestAdd", api_op_guest_add, false, "name control" },
	{ "GuestRemove", api_op_guest_remove, false, "name" },
	{ "GuestList", api_op_guest_list, true, "" },
	{ "ContainerAdd", api_op_container_add, true,
	  "name guest netns ports host_mode" },
	{ "ContainerPorts", api_op_container_ports, true, "container ports" },
	{ "EndpointAliases", api_op_endpoint_aliases, true,
	  "network container aliases" },
	{ "ContainerRemove", api_op_container_remove, false, "container" },
	{ "ContainerList", api_op_container_list, true, "" },
	{ "Status", api_op_status, false, "" },
	{ "NetworkRotateKeys", api_op_network_rotate_keys, false, "network" },
	{ "GuestRotateKeys", api_op_guest_rotate_keys, false, "guest" },
};

/* An argument the op does not take is an error, not silently ignored: a
 * misspelt "internal" must not create an open network. */
static int check_keys(const char *op, const char *keys, json_t *args, char **em)
{
	const char *k;
	json_t *v;

	json_object_foreach(args, k, v) {
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
	int64_t t0;

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
		t0 = host_now_ms();
		if (ops[i].locked)
			pthread_mutex_lock(&h->mu);
		rc = ops[i].fn(h, args, result, errmsg);
		if (ops[i].locked)
			pthread_mutex_unlock(&h->mu);
		metrics_observe("op", ops[i].name,
				(double)(host_now_ms() - t0) / 1000.0);
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
	if (rc) {
		rep = proto_reply_err(-rc, "bad request: %s",
				      why ? why : "malformed");
		goto out;
	}
	rc = host_dispatch(h, op, args, &res, &em);
	if (rc) {
		log_debug("%s: %s", op, em ? em : strerror(-rc));
		rep = proto_reply_err(-rc, "%s", em ? em : strerror(-rc));
	} else {
		rep = proto_reply_ok(res);
	}
	free(em);
out:
	proto_reply_echo_id(rep, req);
	return rep;
}

void host_serve_fd(struct host *h, int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	json_t *req = NULL, *rep = NULL;
	int rc;

	/* A stuck client cannot pin this thread for long. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = proto_recv_request(fd, &req);
	if (rc == -EMSGSIZE)
		rep = proto_reply_err(EMSGSIZE,
				      "request too large (max %u bytes)",
				      PROTO_MAX_PAYLOAD);
	else if (rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EBADMSG)
		rep = proto_reply_err(
			-rc, "bad request: %s (a request frame expected)",
			strerror(-rc));
	else if (rc)
		goto out; /* closed or timed out: nobody to answer */
	else
		rep = host_handle(h, req);
	if (rep)
		proto_send(fd, PROTO_T_REPLY, rep);
out:
	json_decref(req);
	json_decref(rep);
}
