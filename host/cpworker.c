// SPDX-License-Identifier: GPL-2.0
/*
 * One worker thread and one queue per guest (docs/control-plane.md). The
 * worker owns its guest's one persistent connection (host/gconn.c); every
 * call is under a deadline for the whole exchange, and the few calls made
 * outside the worker (gc_call: guest add, Status, metrics, rotation) use
 * the same connection between two of the worker's exchanges (call_mu). A round: the liveness probe if
 * the reconciler asked for one (Hello, replay), the queued items in order
 * (AddNetwork, AddEndpoint, PublishPorts, SetIsolation, ...), then the
 * catch-up: for each network of the guest whose acknowledged generation is
 * behind, one UpdateNetwork from the change log or one SyncNetwork (guests
 * without generations: UpdatePeers and SetDNS). At most HOST_IO_PARALLEL
 * workers do I/O at once. No lock is held across I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

struct cp_ticket {
	int refs; /* under h->rt_mu */
	int pending;
	int rc;
	char *em;
	bool done;
};

struct cp_item {
	int kind;
	char op[32];
	json_t *args;
	char nid[ST_ID_LEN];
	char cid[ST_ID_LEN];
	struct cp_ticket *t;
	int rc;
	struct cp_item *next;
};

struct cp_ticket *cp_ticket_new(void)
{
	struct cp_ticket *t = calloc(1, sizeof(*t));

	if (t)
		t->refs = 1;
	return t;
}

/* With rt_mu held. */
static void ticket_put(struct cp_ticket *t)
{
	if (t && !--t->refs) {
		free(t->em);
		free(t);
	}
}

int cp_ticket_wait(struct host *h, struct cp_ticket *t, int timeout_ms,
		   char **em)
{
	int64_t end = host_now_ms() + timeout_ms;
	int rc;

	if (!t)
		return host_err(em, -ENOMEM, "out of memory");
	pthread_mutex_lock(&h->rt_mu);
	while (!t->done && t->pending) {
		int64_t left = end - host_now_ms();

		if (left <= 0)
			break;
		host_ack_wait(h, left > 200 ? 200 : left);
	}
	if (!t->done && t->pending) {
		rc = host_err(em, -ETIMEDOUT,
			      "the guest did not finish within %d s",
			      timeout_ms / 1000);
	} else {
		rc = t->rc;
		if (rc)
			host_err(em, rc, "%s", t->em ? t->em : strerror(-rc));
	}
	ticket_put(t);
	pthread_mutex_unlock(&h->rt_mu);
	return rc;
}

/* --- acks (rt_mu held) --- */

static struct ns_ack *ack_slot(struct guest_rt *r, const char *nid)
{
	struct cp_ack *a;

	for (size_t i = 0; i < r->nacks; i++)
		if (!strcmp(r->acks[i].network_id, nid))
			return &r->acks[i].a;
	a = realloc(r->acks, (r->nacks + 1) * sizeof(*a));
	if (!a)
		return NULL;
	r->acks = a;
	memset(&a[r->nacks], 0, sizeof(*a));
	snprintf(a[r->nacks].network_id, ST_ID_LEN, "%s", nid);
	return &a[r->nacks++].a;
}

static void ack_drop(struct guest_rt *r, const char *nid)
{
	for (size_t i = 0; i < r->nacks; i++)
		if (!strcmp(r->acks[i].network_id, nid)) {
			r->acks[i] = r->acks[--r->nacks];
			return;
		}
}

/* --- calls --- */

void host_ack_wait(struct host *h, int64_t ms)
{
	struct timespec ts;

	deadline_in_ms(&ts, ms);
	pthread_cond_timedwait(&h->ack_cv, &h->rt_mu, &ts);
}

static bool fd_shortage(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM ||
	       rc == -ENOBUFS;
}

/* One call on the worker's connection. Transport failures: -EHOSTUNREACH
 * (the guest is marked down); a shortage of descriptors is -EAGAIN and
 * says nothing about the guest. *res (if res) may be set on errors too. */
/* Ops that build devices (a WireGuard interface, a veth, BPF) may take a
 * loaded guest as long as a wireguard-go start (HOST_DEVICE_CALL_MS); the
 * rest one deadline. */
static int op_timeout(const struct host *h, const char *op)
{
	static const char *const heavy[] = { "AddNetwork",    "AddEndpoint",
					     "CreateHub",     "Reconcile",
					     "RemoveNetwork", "DeleteHub" };

	for (size_t i = 0; i < sizeof(heavy) / sizeof(*heavy); i++)
		if (!strcmp(op, heavy[i]))
			return HOST_DEVICE_CALL_MS(h->call_timeout_ms);
	return h->call_timeout_ms;
}

static int wk_call(struct host *h, struct guest_rt *r, const char *op,
		   json_t *args, json_t **res, char **em)
{
	char control[ST_PATH_LEN], *gem = NULL;
	json_t *rep = NULL;
	int rc;

	if (res)
		*res = NULL;
	pthread_mutex_lock(&h->rt_mu);
	memcpy(control, r->control, sizeof(control));
	pthread_mutex_unlock(&h->rt_mu);
	/* call_mu for this one exchange: calls made outside the worker
	 * (gc_call) take it too and go through the same connection. */
	pthread_mutex_lock(&r->call_mu);
	rc = gconn_call(&r->conn, control, op, args,
			host_now_ms() + op_timeout(h, op), &rep);
	pthread_mutex_unlock(&r->call_mu);
	if (rc)
		goto transport;
	gc_mark_alive(h, r);
	rc = gconn_reply(rep, res, &gem);
	json_decref(rep);
	if (rc) {
		log_debug("guest %s: %s: %s", r->name, op, gem);
		host_err(em, rc, "guest %s: %s", r->name, gem ? gem : "error");
	} else {
		log_debug("guest %s: %s ok", r->name, op);
	}
	free(gem);
	return rc;
transport:
	if (fd_shortage(rc))
		return host_err(em, -EAGAIN,
				"guest %s: %s: %s (not the guest's fault)",
				r->name, op, strerror(-rc));
	gc_mark_down(h, r, op, rc);
	return host_err(em, -EHOSTUNREACH, "guest %s is unreachable at %s: %s",
			r->name, control, strerror(-rc));
}

/* --- items --- */

static int item_ports(struct host *h, struct guest_rt *r,
		      const struct cp_item *it, char **em)
{
	struct st_container c;
	struct st_endpoint *eps = NULL;
	json_t *ports = NULL, *args;
	size_t nep = 0;
	int rc;

	if (h->st->ops->container_get(h->st, it->cid, &c) ||
	    h->st->ops->endpoint_list(h->st, NULL, c.id, &eps, &nep))
		return 0; /* gone meanwhile */
	free(eps);
	/* A guest forgets a container with its last endpoint. */
	if (!nep || mesh_ports(h->st, &c, &ports))
		return 0;
	args = json_pack("{s:s,s:o}", "container_id", c.id, "ports", ports);
	rc = wk_call(h, r, "PublishPorts", args, NULL, em);
	json_decref(args);
	return rc;
}

static int run_item(struct host *h, struct guest_rt *r, struct cp_item *it,
		    char **em)
{
	json_t *res = NULL;
	int rc;

	switch (it->kind) {
	case CP_PORTS:
		return item_ports(h, r, it, em);
	case CP_ADDNET:
		rc = wk_call(h, r, "AddNetwork", it->args, &res, em);
		if (!rc)
			rc = mesh_store_key(h, r->name, it->nid, res, false,
					    em);
		json_decref(res);
		return rc;
	case CP_RMNET:
		rc = wk_call(h, r, "RemoveNetwork", it->args, NULL, em);
		pthread_mutex_lock(&h->rt_mu);
		ack_drop(r, it->nid);
		pthread_mutex_unlock(&h->rt_mu);
		return rc;
	default:
		return wk_call(h, r, it->op, it->args, NULL, em);
	}
}

/* --- catch-up --- */

/* The networks the guest is on (a JSON array of ids). */
static json_t *guest_nets(struct host *h, const char *guest)
{
	json_t *ids = json_array();

	pthread_mutex_lock(&h->ns_mu);
	for (struct cp_net *n = h->nets; n; n = n->next)
		if (json_object_get(n->snap.members, guest))
			json_array_append_new(ids, json_string(n->id));
	pthread_mutex_unlock(&h->ns_mu);
	return ids;
}

static void set_ack(struct host *h, struct guest_rt *r, const char *nid,
		    uint64_t sent, bool sync, int rc, uint64_t reply_gen)
{
	struct ns_ack *a;

	pthread_mutex_lock(&h->rt_mu);
	a = ack_slot(r, nid);
	if (a)
		ns_ack_reply(a, sent, sync, rc, reply_gen);
	if (!rc)
		r->last_ack_ms = host_now_ms();
	pthread_cond_broadcast(&h->ack_cv);
	pthread_mutex_unlock(&h->rt_mu);
}

/* Guests with generations: one UpdateNetwork or SyncNetwork. 1 = sent,
 * 0 = nothing due, -errno. */
/* Under rt_mu: an AddNetwork or AddEndpoint of network nid is queued. */
static bool endpoint_queued(const struct guest_rt *r, const char *nid)
{
	for (const struct cp_item *it = r->head; it; it = it->next)
		if (!strcmp(it->nid, nid) &&
		    (it->kind == CP_ADDNET ||
		     (it->kind == CP_CALL && !strcmp(it->op, "AddEndpoint"))))
			return true;
	return false;
}

static int catch_up_gens(struct host *h, struct guest_rt *r, const char *nid)
{
	struct ns_ack a = { 0 };
	struct ns_delta d;
	enum ns_plan plan;
	struct cp_net *n;
	json_t *args = NULL, *res = NULL;
	uint64_t cur;
	char *em = NULL;
	int rc;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	if (!n || n->held) {
		pthread_mutex_unlock(&h->ns_mu);
		return 0;
	}
	cur = n->snap.gen;
	pthread_mutex_lock(&h->rt_mu);
	{
		struct ns_ack *s = ack_slot(r, nid);

		if (s)
			a = *s;
	}
	/* An endpoint queued for the guest on this network meanwhile (a
	 * connect queues it before it changes the snapshot): that round
	 * catches up after it, so the guest never hears of a container's
	 * names before its endpoint. */
	if (endpoint_queued(r, nid)) {
		pthread_mutex_unlock(&h->rt_mu);
		pthread_mutex_unlock(&h->ns_mu);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&h->rt_mu);
	plan = ns_plan(&n->log, cur, &a);
	if (plan == NS_UPDATE && !ns_log_compose(&n->log, a.gen, cur, &d)) {
		args = ns_update_args(&d, nid, r->name);
		ns_delta_free(&d);
	} else if (plan != NS_NONE) {
		plan = NS_SYNC;
		args = ns_sync_args(&n->snap, nid, r->name);
	}
	pthread_mutex_unlock(&h->ns_mu);
	if (plan == NS_NONE)
		return 0;
	rc = wk_call(h, r, plan == NS_SYNC ? "SyncNetwork" : "UpdateNetwork",
		     args, &res, &em);
	json_decref(args);
	set_ack(h, r, nid, cur, plan == NS_SYNC, rc,
		(uint64_t)json_integer_value(json_object_get(res, "gen")));
	if (rc && rc != -ESTALE)
		log_warn("%s", em ? em : strerror(-rc));
	json_decref(res);
	free(em);
	return rc && rc != -ESTALE ? rc : 1;
}

/* Guests without generations: the full peer set and every DNS set of its
 * containers on the network, when the network moved. */
static int catch_up_legacy(struct host *h, struct guest_rt *r, const char *nid)
{
	json_t *peers = NULL, *dns = json_array(), *ctrs = json_array(), *v,
	       *args;
	unsigned int mtu;
	struct cp_net *n;
	const char *cid;
	bool valid = false;
	uint64_t cur, acked;
	char *em = NULL;
	size_t i;
	int rc, failed;

	pthread_mutex_lock(&h->ns_mu);
	n = cp_net_find(h, nid);
	cur = n ? n->snap.gen : 0;
	pthread_mutex_lock(&h->rt_mu);
	acked = cp_ack_get(r, nid, &valid);
	pthread_mutex_unlock(&h->rt_mu);
	if (!n || n->held || (valid && acked == cur)) {
		pthread_mutex_unlock(&h->ns_mu);
		json_decref(dns);
		json_decref(ctrs);
		return 0;
	}
	peers = ns_peer_list(&n->snap, r->name);
	mtu = n->snap.mtu;
	json_object_foreach(n->snap.ctrs, cid, v) {
		json_t *recs;

		if (strcmp(json_string_value(v), r->name))
			continue;
		recs = json_array();
		for (struct cp_net *o = h->nets; o; o = o->next)
			ns_dns_for(&o->snap, cid, recs);
		json_array_append_new(ctrs, json_string(cid));
		json_array_append_new(dns, recs);
	}
	pthread_mutex_unlock(&h->ns_mu);
	args = json_pack("{s:s,s:o}", "network_id", nid, "peers", peers);
	if (mtu)
		json_object_set_new(args, "mtu", json_integer(mtu));
	rc = wk_call(h, r, "UpdatePeers", args, NULL, &em);
	json_decref(args);
	failed = rc;
	json_array_foreach(ctrs, i, v) {
		if (rc == -EHOSTUNREACH)
			break;
		/* ENOENT: its AddEndpoint is still queued; the catch-up
		 * after it sends the records again. */
		if (rc && rc != -ENOENT)
			log_warn("%s", em);
		free(em);
		em = NULL;
		args = json_pack("{s:O,s:O}", "container_id", v, "records",
				 json_array_get(dns, i));
		rc = wk_call(h, r, "SetDNS", args, NULL, &em);
		json_decref(args);
		failed = failed ? failed : rc;
	}
	if (rc && rc != -EHOSTUNREACH && rc != -ENOENT)
		log_warn("%s", em);
	rc = rc == -EHOSTUNREACH ? rc : failed;
	set_ack(h, r, nid, cur, true, rc ? -EIO : 0, 0);
	free(em);
	json_decref(dns);
	json_decref(ctrs);
	return rc ? rc : 1;
}

static void catch_up(struct host *h, struct guest_rt *r)
{
	/* An op that is queueing its items for this guest (cp_batch_begin)
	 * is let finish first (it only links them in), so that the checks
	 * below see its AddEndpoint queued. */
	pthread_mutex_lock(&h->rt_mu);
	while (r->batching && !r->th_stop)
		host_ack_wait(h, 5);
	pthread_mutex_unlock(&h->rt_mu);
	for (int pass = 0; pass < 4; pass++) {
		json_t *ids = guest_nets(h, r->name), *id;
		bool sent = false;
		size_t i;

		json_array_foreach(ids, i, id) {
			int rc = r->gens ?
					 catch_up_gens(h, r,
						       json_string_value(id)) :
					 catch_up_legacy(h, r,
							 json_string_value(id));

			if (rc == -EHOSTUNREACH || rc == -EAGAIN) {
				json_decref(ids);
				return;
			}
			sent |= rc > 0;
		}
		json_decref(ids);
		if (!sent)
			return;
	}
}

/* The isolation set, when the guest has not had its current version (or,
 * with retry, refused the last one): before the queued items, so an
 * endpoint queued after a network's creation finds its subnet isolated. */
static int iso_step(struct host *h, struct guest_rt *r, bool retry)
{
	uint64_t gen;
	json_t *args = cp_iso_due(h, r, retry, &gen);
	char *em = NULL;
	int rc;

	if (!args)
		return 0;
	rc = wk_call(h, r, "SetIsolation", args, NULL, &em);
	json_decref(args);
	cp_iso_result(h, r, "SetIsolation", gen, rc, em);
	free(em);
	return rc;
}

/* --- the probe (reconciler) --- */

static int wk_call_fn(struct host *h, struct guest_rt *r, const char *op,
		      json_t *args, json_t **res, char **em)
{
	int rc = wk_call(h, r, op, args, res, em);

	json_decref(args);
	return rc;
}

/* Does a guest with generations hold every network it should? */
static bool holds_all(struct host *h, const char *guest, json_t *nets)
{
	json_t *ids = guest_nets(h, guest), *id;
	bool all = true;
	size_t i;

	json_array_foreach(ids, i, id)
		all &= json_object_get(nets, json_string_value(id)) != NULL;
	json_decref(ids);
	return all;
}

static void probe(struct host *h, struct guest_rt *r)
{
	struct st_guest g;
	json_t *res = NULL, *nets;
	const char *boot;
	char *em = NULL;
	int rc;

	/* A store it cannot read (etcd away) or a connection another call
	 * holds: no verdict, the next pass probes again. */
	if (h->st->ops->guest_get(h->st, r->name, &g)) {
		host_probe_end(h, r);
		return;
	}
	rc = wk_call(h, r, "Hello", NULL, &res, &em);
	if (rc == -EAGAIN) {
		host_probe_end(h, r);
		goto out;
	}
	if (rc != -EHOSTUNREACH) {
		nets = json_object_get(res, "nets");
		boot = json_str(res, "boot");
		pthread_mutex_lock(&h->rt_mu);
		r->gens = json_is_object(nets);
		if (r->gens) {
			const char *k;
			json_t *v;
			bool restarted = boot && r->boot[0] &&
					 strcmp(boot, r->boot);

			json_object_foreach(nets, k, v) {
				struct ns_ack *a = ack_slot(r, k);

				if (a)
					ns_ack_hello(a, nets, k);
			}
			for (size_t i = 0; i < r->nacks; i++)
				ns_ack_hello(&r->acks[i].a, nets,
					     r->acks[i].network_id);
			if (restarted)
				r->replay = true;
			snprintf(r->boot, sizeof(r->boot), "%s",
				 boot ? boot : "");
		}
		pthread_mutex_unlock(&h->rt_mu);
		/* A host restart with the guest in sync: nothing to replay. */
		if (r->gens && holds_all(h, r->name, nets)) {
			pthread_mutex_lock(&h->rt_mu);
			if (!strcmp(r->boot, boot ? boot : "") &&
			    r->state == ST_GUEST_UNKNOWN)
				r->replay = false;
			pthread_mutex_unlock(&h->rt_mu);
		}
	}
	host_probe_result(h, r, &g, rc, res, em ? em : strerror(-rc),
			  wk_call_fn);
out:
	json_decref(res);
	free(em);
}

/* --- the worker --- */

static void finish_item(struct host *h, struct guest_rt *r, struct cp_item *it)
{
	pthread_mutex_lock(&h->rt_mu);
	if (it->t) {
		if (it->rc && !it->t->rc)
			it->t->rc = it->rc;
		if (!--it->t->pending)
			it->t->done = true;
		ticket_put(it->t);
	}
	r->depth--;
	pthread_cond_broadcast(&h->ack_cv);
	pthread_mutex_unlock(&h->rt_mu);
	json_decref(it->args);
	free(it);
}

static void round_items(struct host *h, struct guest_rt *r,
			struct cp_item *items, bool probe_due)
{
	bool alive = true, dead;
	int state;

	if (probe_due)
		probe(h, r);
	pthread_mutex_lock(&h->rt_mu);
	state = r->state;
	pthread_mutex_unlock(&h->rt_mu);
	dead = state == ST_GUEST_DEAD;
	if (state == ST_GUEST_UP || (state == ST_GUEST_UNKNOWN && items))
		alive = iso_step(h, r, probe_due) != -EHOSTUNREACH;
	for (struct cp_item *it = items; it; it = it->next) {
		char *em = NULL;

		if (dead || !alive) {
			it->rc = host_err(&em, -EHOSTUNREACH, "guest %s is %s",
					  r->name,
					  dead ? "dead" : "unreachable");
		} else if (it->t && it->t->rc) {
			continue; /* an earlier step of the same op failed */
		} else {
			it->rc = run_item(h, r, it, &em);
			if (it->rc == -EHOSTUNREACH)
				alive = false;
			if (it->rc)
				log_debug("%s", em ? em : strerror(-it->rc));
		}
		if (it->rc && it->t) {
			pthread_mutex_lock(&h->rt_mu);
			if (!it->t->rc) {
				it->t->rc = it->rc;
				it->t->em = em;
				em = NULL;
			}
			pthread_mutex_unlock(&h->rt_mu);
		}
		free(em);
	}
	pthread_mutex_lock(&h->rt_mu);
	state = r->state;
	pthread_mutex_unlock(&h->rt_mu);
	if (alive &&
	    (state == ST_GUEST_UP || (state == ST_GUEST_UNKNOWN && items)))
		catch_up(h, r);
	while (items) {
		struct cp_item *it = items;

		items = it->next;
		finish_item(h, r, it);
	}
}

/* The I/O slots for a round: those of work a client waits on when any
 * item has a ticket, else the fan-out's. */
static sem_t *round_slots(struct host *h, const struct cp_item *items)
{
	for (; items; items = items->next)
		if (items->t)
			return &h->io_sem_fg;
	return &h->io_sem;
}

static void *worker_main(void *arg)
{
	struct guest_rt *r = arg;
	struct host *h = r->host;

	pthread_mutex_lock(&h->rt_mu);
	for (;;) {
		struct cp_item *items;
		bool probe_due;
		sem_t *slots;

		while (!r->th_stop && !r->head && !r->dirty && !r->probe)
			pthread_cond_wait(&r->cv, &h->rt_mu);
		if (r->th_stop)
			break;
		items = r->head;
		r->head = NULL;
		r->tail = &r->head;
		probe_due = r->probe;
		r->probe = false;
		r->dirty = false;
		pthread_mutex_unlock(&h->rt_mu);
		slots = round_slots(h, items);
		sem_wait(slots);
		round_items(h, r, items, probe_due);
		sem_post(slots);
		pthread_mutex_lock(&h->rt_mu);
	}
	pthread_mutex_unlock(&h->rt_mu);
	pthread_mutex_lock(&r->call_mu);
	gconn_close(&r->conn);
	pthread_mutex_unlock(&r->call_mu);
	return NULL;
}

void cp_wake_locked(struct guest_rt *r, bool probe_too)
{
	r->dirty = true;
	if (probe_too)
		r->probe = true;
	pthread_cond_signal(&r->cv);
}

void cp_wake(struct host *h, struct guest_rt *r, bool probe_too)
{
	pthread_mutex_lock(&h->rt_mu);
	cp_wake_locked(r, probe_too);
	pthread_mutex_unlock(&h->rt_mu);
}

void cp_worker_ensure(struct host *h, const struct st_guest *g)
{
	struct guest_rt *r = guest_rt_get(h, g->name);
	pthread_attr_t attr;

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	snprintf(r->control, sizeof(r->control), "%s", g->control);
	if (!r->th_started && !h->stop) {
		r->th_stop = false;
		r->host = h;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, HOST_WORKER_STACK);
		r->th_started = !pthread_create(&r->th, &attr, worker_main, r);
		pthread_attr_destroy(&attr);
		if (!r->th_started)
			log_err("guest %s: cannot start its worker", g->name);
	}
	pthread_mutex_unlock(&h->rt_mu);
}

static void fail_queue(struct host *h, struct guest_rt *r)
{
	struct cp_item *items;

	pthread_mutex_lock(&h->rt_mu);
	items = r->head;
	r->head = NULL;
	r->tail = &r->head;
	pthread_mutex_unlock(&h->rt_mu);
	while (items) {
		struct cp_item *it = items;

		items = it->next;
		it->rc = -ESHUTDOWN;
		finish_item(h, r, it);
	}
}

void cp_worker_stop(struct host *h, const char *guest)
{
	struct guest_rt *r = guest_rt_get(h, guest);
	bool join;

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	join = r->th_started;
	r->th_stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&h->rt_mu);
	if (join)
		pthread_join(r->th, NULL);
	pthread_mutex_lock(&h->rt_mu);
	r->th_started = false;
	r->nacks = 0;
	r->boot[0] = '\0';
	pthread_mutex_unlock(&h->rt_mu);
	cp_iso_forget(h, r);
	fail_queue(h, r);
	gc_close(h, guest); /* also if it never had a worker */
}

void cp_workers_stop_all(struct host *h)
{
	for (;;) {
		struct guest_rt *r;
		char name[ST_NAME_LEN] = "";

		pthread_mutex_lock(&h->rt_mu);
		for (r = h->grt; r; r = r->next)
			if (r->th_started) {
				memcpy(name, r->name, sizeof(name));
				break;
			}
		pthread_mutex_unlock(&h->rt_mu);
		if (!name[0])
			return;
		cp_worker_stop(h, name);
	}
}

void cp_batch_begin(struct host *h, const char *guest)
{
	struct guest_rt *r = guest_rt_get(h, guest);

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	r->batching++;
	pthread_mutex_unlock(&h->rt_mu);
}

void cp_batch_end(struct host *h, const char *guest)
{
	struct guest_rt *r = guest_rt_get(h, guest);

	if (!r)
		return;
	pthread_mutex_lock(&h->rt_mu);
	if (r->batching > 0)
		r->batching--;
	pthread_cond_broadcast(&h->ack_cv);
	pthread_mutex_unlock(&h->rt_mu);
}

void cp_enqueue(struct host *h, const char *guest, int kind, const char *op,
		json_t *args, const char *nid, const char *cid,
		struct cp_ticket *t)
{
	struct guest_rt *r = guest_rt_get(h, guest);
	struct cp_item *it = calloc(1, sizeof(*it));

	if (!r || !it) {
		free(it);
		json_decref(args);
		if (t) {
			pthread_mutex_lock(&h->rt_mu);
			t->rc = t->rc ? t->rc : -ENOMEM;
			pthread_mutex_unlock(&h->rt_mu);
		}
		return;
	}
	it->kind = kind;
	snprintf(it->op, sizeof(it->op), "%s", op ? op : "");
	it->args = args;
	snprintf(it->nid, sizeof(it->nid), "%s", nid ? nid : "");
	snprintf(it->cid, sizeof(it->cid), "%s", cid ? cid : "");
	pthread_mutex_lock(&h->rt_mu);
	if (!r->th_started) {
		/* No worker (guest removed or host stopping). */
		if (t && !t->rc)
			t->rc = -EHOSTUNREACH;
		pthread_mutex_unlock(&h->rt_mu);
		json_decref(args);
		free(it);
		return;
	}
	if (t) {
		/* An earlier item of the same ticket may have finished
		 * already (the worker runs while the op enqueues its next
		 * step): the ticket is pending again until this one is. */
		it->t = t;
		t->refs++;
		t->pending++;
		t->done = false;
	}
	if (!r->tail)
		r->tail = &r->head;
	*r->tail = it;
	r->tail = &it->next;
	r->depth++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&h->rt_mu);
}
