// SPDX-License-Identifier: GPL-2.0
/*
 * Key rotation without loss (docs/operations.md, "Key rotation"):
 * NetworkRotateKeys {"network"} rotates every guest's key on the network;
 * GuestRotateKeys {"guest"} rotates one guest's key on each of its
 * networks. Per network, make-before-break over every guest on it
 * (guest/rotate.c): each builds a second WireGuard interface (the rotated
 * guests with a key they generate, the others with their current key) on
 * its other port; each is given the others' next keys and ports; once a
 * peer has handshaken on the next interface, the guest redirects that
 * peer's destinations there; when every guest has switched every peer, each
 * deletes its old interface (and the old key with it) and the store takes
 * the new keys and ports, and the network is refreshed once. h->mu is held
 * only around store reads and writes, never across guest calls. One
 * rotation at a time per network (rot_busy): a second one, manual or by the
 * maximum key age (host/keyage.c), is refused with -EBUSY.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "api_int.h"
#include "keyage.h"
#include "mesh_int.h"
#include "metrics.h"

#define ROT_SWITCH_TIMEOUT_MS 15000
#define ROT_POLL_MS 50
/* The old path is drained when its byte counters stood still this long on
 * every guest (what was in flight on it has arrived); waited for at most
 * ROT_DRAIN_MAX_MS. */
#define ROT_DRAIN_MS 150
#define ROT_DRAIN_MAX_MS 3000

struct rot_guest {
	struct st_guest g;
	struct st_guest_net gn; /* current */
	char new_key[ST_KEY_LEN];
	uint16_t new_port;
	bool rotate; /* gets a new key */
	bool prepared, done, committed;
	json_int_t old_bytes;
	int64_t old_since; /* when old_bytes last changed */
};

static int rot_call(struct host *h, struct rot_guest *r, const char *op,
		    json_t *args, json_t **res, char **em)
{
	/* Prepare starts a wireguard-go and Commit stops one (up to
	 * WG_START_TIMEOUT_MS in the guest on a busy machine); the other
	 * steps are quick. */
	int ms = strcmp(op, "RotatePrepare") && strcmp(op, "RotateCommit") ?
			 h->call_timeout_ms :
			 HOST_DEVICE_CALL_MS(h->call_timeout_ms);

	return gc_call(h, &r->g, op, args, ms, res, em);
}

/* The guests of the network, all up and ours, or an error. */
static int rot_load(struct host *h, const struct st_network *n,
		    const char *only, struct rot_guest **out, size_t *nout,
		    char **em)
{
	struct st_guest_net *gns = NULL;
	struct rot_guest *rs = NULL;
	size_t ngn = 0;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = h->st->ops->guest_net_list(h->st, n->id, &gns, &ngn);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	rs = calloc(ngn + 1, sizeof(*rs));
	if (!rs) {
		free(gns);
		return host_err(em, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ngn; i++) {
		struct rot_guest *r = &rs[i];

		r->gn = gns[i];
		r->rotate = !only || !strcmp(only, gns[i].guest);
		pthread_mutex_lock(&h->mu);
		rc = h->st->ops->guest_get(h->st, gns[i].guest, &r->g);
		pthread_mutex_unlock(&h->mu);
		if (rc) {
			rc = host_err(em, -ENOENT, "guest %s is not registered",
				      gns[i].guest);
			break;
		}
		if (!host_owns_guest(h, &r->g)) {
			rc = host_err(
				em, -EREMOTE,
				"guest %s on network %s is served by host %s: rotation needs every guest of the network on this host",
				r->g.name, n->name, r->g.host_id);
			break;
		}
		if (guest_rt_state(h, r->g.name) != ST_GUEST_UP) {
			rc = host_err(
				em, -EHOSTUNREACH,
				"guest %s on network %s is not up: cannot rotate without it",
				r->g.name, n->name);
			break;
		}
	}
	free(gns);
	if (rc) {
		free(rs);
		return rc;
	}
	*out = rs;
	*nout = ngn;
	return 0;
}

static struct rot_guest *by_key(struct rot_guest *rs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key && !strcmp(rs[i].gn.public_key, key))
			return &rs[i];
	return NULL;
}

/* X's peer set with everyone's next key and port. One end of each pair
 * starts the handshake on the next interfaces (a 1 s persistent
 * keepalive): X, towards the guests that got their next peers before it
 * (earlier in rs, phase_peers' order), which are ready to answer. When
 * both ends start at once, each consumes the other's initiation, drops
 * the response to its own, and neither has a session until the retry
 * after WireGuard's REKEY_TIMEOUT (5 s): 2 of 12 rotations took 5 s
 * longer that way. */
static int next_peers(struct host *h, const struct st_network *n,
		      struct rot_guest *x, struct rot_guest *rs, size_t nr,
		      json_t **out)
{
	json_t *peers = NULL, *p;
	size_t i;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = mesh_peer_set(h->st, n->id, x->g.name, &peers);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return rc;
	json_array_foreach(peers, i, p) {
		struct rot_guest *y = by_key(rs, nr, json_str(p, "public_key"));
		const char *ep = json_str(p, "endpoint");
		const char *colon = ep ? strrchr(ep, ':') : NULL;
		char buf[96];

		if (!y || !colon || (size_t)(colon - ep) > 64) {
			json_decref(peers);
			return -ESTALE;
		}
		snprintf(buf, sizeof(buf), "%.*s:%u", (int)(colon - ep), ep,
			 y->new_port);
		json_object_set_new(p, "public_key", json_string(y->new_key));
		json_object_set_new(p, "endpoint", json_string(buf));
		json_object_set_new(p, "keepalive",
				    json_integer(y < x ? PROTO_ROT_KEEPALIVE : 0));
	}
	*out = peers;
	return 0;
}

/* Every call of one rotation names it: the agent refuses a request of
 * another rotation, such as one that sat in a frozen agent's socket until
 * after the host had given up on it and started the next (its RotatePrepare
 * would otherwise delete the next rotation's interface). Increasing: the
 * host's clock in microseconds, and past the last one. */
static uint64_t rot_new_id(void)
{
	static uint64_t last;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	uint64_t id;

	clock_gettime(CLOCK_REALTIME, &ts);
	id = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	pthread_mutex_lock(&mu);
	if (id <= last)
		id = last + 1;
	last = id;
	pthread_mutex_unlock(&mu);
	return id;
}

static json_t *net_arg(const struct st_network *n, uint64_t rid)
{
	return json_pack("{s:s,s:I}", "network_id", n->id, "rotation",
			 (json_int_t)rid);
}

static void rot_abort(struct host *h, const struct st_network *n, uint64_t rid,
		      struct rot_guest *rs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (rs[i].prepared)
			gc_call(h, &rs[i].g, "RotateAbort", net_arg(n, rid),
				HOST_DEVICE_CALL_MS(h->call_timeout_ms), NULL,
				NULL);
}

static int phase_prepare(struct host *h, const struct st_network *n,
			 uint64_t rid, struct rot_guest *rs, size_t nr,
			 char **em)
{
	for (size_t i = 0; i < nr; i++) {
		json_t *res = NULL;
		const char *key;
		json_int_t port;
		int rc;

		rc = rot_call(h, &rs[i], "RotatePrepare",
			      json_pack("{s:s,s:b,s:I}", "network_id", n->id,
					"new_key", rs[i].rotate, "rotation",
					(json_int_t)rid),
			      &res, em);
		if (rc)
			return rc;
		rs[i].prepared = true;
		key = json_str(res, "public_key");
		port = json_integer_value(json_object_get(res, "listen_port"));
		if (!key || strlen(key) != ST_KEY_LEN - 1 || port <= 0 ||
		    port > 65535 ||
		    (rs[i].rotate && !strcmp(key, rs[i].gn.public_key))) {
			json_decref(res);
			return host_err(
				em, -EPROTO,
				"guest %s: RotatePrepare gave no new key or port",
				rs[i].g.name);
		}
		strcpy(rs[i].new_key, key);
		rs[i].new_port = (uint16_t)port;
		json_decref(res);
	}
	return 0;
}

static int phase_peers(struct host *h, const struct st_network *n, uint64_t rid,
		       struct rot_guest *rs, size_t nr, char **em)
{
	for (size_t i = 0; i < nr; i++) {
		json_t *peers = NULL;
		int rc = next_peers(h, n, &rs[i], rs, nr, &peers);

		if (rc)
			return host_err(
				em, rc,
				"network %s changed during the rotation",
				n->name);
		rc = rot_call(h, &rs[i], "RotatePeers",
			      json_pack("{s:s,s:o,s:I}", "network_id", n->id,
					"peers", peers, "rotation",
					(json_int_t)rid),
			      NULL, em);
		if (rc)
			return rc;
	}
	return 0;
}

/* Until every guest has moved every peer to its next interface. */
static int phase_switch(struct host *h, const struct st_network *n,
			uint64_t rid, struct rot_guest *rs, size_t nr,
			char **em)
{
	int64_t end = host_now_ms() + ROT_SWITCH_TIMEOUT_MS;
	size_t left = nr;

	for (;;) {
		for (size_t i = 0; i < nr; i++) {
			json_t *res = NULL;
			int rc;

			if (rs[i].done)
				continue;
			rc = rot_call(h, &rs[i], "RotateSwitch",
				      net_arg(n, rid), &res, em);
			if (rc)
				return rc;
			if (!json_integer_value(
				    json_object_get(res, "pending"))) {
				rs[i].done = true;
				left--;
			}
			rs[i].old_bytes = json_integer_value(
				json_object_get(res, "old_bytes"));
			rs[i].old_since = host_now_ms();
			json_decref(res);
		}
		if (!left)
			return 0;
		if (host_now_ms() > end)
			break;
		usleep(ROT_POLL_MS * 1000);
	}
	for (size_t i = 0; i < nr; i++)
		if (!rs[i].done)
			return host_err(
				em, -ETIMEDOUT,
				"guest %s: no handshake on the new keys of network %s within %d s",
				rs[i].g.name, n->name,
				ROT_SWITCH_TIMEOUT_MS / 1000);
	return -ETIMEDOUT;
}

/* Every guest's old interface idle for ROT_DRAIN_MS (or the cap). */
static int phase_drain(struct host *h, const struct st_network *n, uint64_t rid,
		       struct rot_guest *rs, size_t nr, char **em)
{
	int64_t end = host_now_ms() + ROT_DRAIN_MAX_MS;

	for (;;) {
		bool idle = true;
		int64_t now;

		usleep(ROT_POLL_MS * 1000);
		now = host_now_ms();
		for (size_t i = 0; i < nr; i++) {
			json_t *res = NULL;
			json_int_t b;
			int rc = rot_call(h, &rs[i], "RotateSwitch",
					  net_arg(n, rid), &res, em);

			if (rc)
				return rc;
			b = json_integer_value(
				json_object_get(res, "old_bytes"));
			json_decref(res);
			if (b != rs[i].old_bytes) {
				rs[i].old_bytes = b;
				rs[i].old_since = now;
			}
			if (now - rs[i].old_since < ROT_DRAIN_MS)
				idle = false;
		}
		if (idle)
			return 0;
		if (now > end) {
			log_warn(
				"rotation of %s: the old path still carries traffic after %d ms; committing",
				n->name, ROT_DRAIN_MAX_MS);
			return 0;
		}
	}
}

/* A test's pause between the guests' commits and the store's (ms, from
 * WGNET_TEST_ROT_COMMIT_PAUSE_MS): t-ops-rotate-commit changes the
 * network in that window on purpose. */
static void commit_pause(void)
{
	const char *v = getenv("WGNET_TEST_ROT_COMMIT_PAUSE_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	if (ms > 0 && ms <= 60000)
		usleep((useconds_t)ms * 1000);
}

/* Past the switch nothing is undone: each guest drops its old interface,
 * the store takes the new key and port. From the first commit until the
 * store has the new keys, the network's deliveries are held: a change
 * made meanwhile (a connect) would otherwise reach a committed guest with
 * the store's old keys of its peers and undo the rotation there until the
 * next refresh. */
static int phase_commit(struct host *h, const struct st_network *n,
			uint64_t rid, struct rot_guest *rs, size_t nr,
			char **em)
{
	bool changed;
	int first = 0;

	cp_net_hold(h, n->id);
	for (size_t i = 0; i < nr; i++) {
		char *e = NULL;
		int rc = rot_call(h, &rs[i], "RotateCommit", net_arg(n, rid),
				  NULL, &e);

		if (rc) {
			log_err("rotation of %s: commit on %s: %s (the replay will repair it)",
				n->name, rs[i].g.name, e ? e : strerror(-rc));
			if (!first) {
				first = rc;
				host_err(em, rc, "%s", e ? e : strerror(-rc));
			}
			free(e);
			continue;
		}
		rs[i].committed = true;
	}
	commit_pause();
	/* The store takes every new key and port only now, all together (one
	 * refresh of the network after), so that no delivery mixes an old
	 * key of one guest with the new interface of another. */
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < nr; i++) {
		struct st_guest_net gn = rs[i].gn;
		int rc;

		if (!rs[i].committed)
			continue;
		snprintf(gn.public_key, sizeof(gn.public_key), "%s",
			 rs[i].new_key);
		gn.listen_port = rs[i].new_port;
		if (rs[i].rotate)
			gn.key_created = (int64_t)time(NULL);
		rc = h->st->ops->guest_net_put(h->st, &gn);
		if (rc && !first)
			first = host_err(em, rc, "store: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&h->mu);
	cp_net_refresh_quiet(h, n->id, &changed);
	cp_net_release(h, n->id);
	return first;
}

/* The networks being rotated (ids), under rot_mu. */
static pthread_mutex_t rot_mu = PTHREAD_MUTEX_INITIALIZER;
static char (*rot_nets)[ST_ID_LEN];
static size_t rot_nnets;

static int rot_claim(const struct st_network *n, char **em)
{
	char(*more)[ST_ID_LEN];
	int rc = 0;

	pthread_mutex_lock(&rot_mu);
	for (size_t i = 0; i < rot_nnets; i++)
		if (!strcmp(rot_nets[i], n->id)) {
			rc = host_err(
				em, -EBUSY,
				"a key rotation of network %s is already running",
				n->name);
			goto out;
		}
	more = realloc(rot_nets, (rot_nnets + 1) * sizeof(*more));
	if (!more) {
		rc = host_err(em, -ENOMEM, "out of memory");
		goto out;
	}
	rot_nets = more;
	snprintf(rot_nets[rot_nnets++], ST_ID_LEN, "%s", n->id);
out:
	pthread_mutex_unlock(&rot_mu);
	return rc;
}

static void rot_release(const struct st_network *n)
{
	pthread_mutex_lock(&rot_mu);
	for (size_t i = 0; i < rot_nnets; i++)
		if (!strcmp(rot_nets[i], n->id)) {
			memcpy(rot_nets[i], rot_nets[--rot_nnets], ST_ID_LEN);
			break;
		}
	if (!rot_nnets) {
		free(rot_nets);
		rot_nets = NULL;
	}
	pthread_mutex_unlock(&rot_mu);
}

static int rotate_network(struct host *h, const struct st_network *n,
			  const char *only, const char *trigger,
			  json_t *rotated, char **em)
{
	struct rot_guest *rs = NULL;
	uint64_t rid = rot_new_id();
	int64_t t[6];
	size_t nr = 0;
	int rc;

	rc = rot_claim(n, em);
	if (rc)
		return rc;
	rc = rot_load(h, n, only, &rs, &nr, em);
	if (rc || !nr)
		goto out;
	log_info("network %s: rotation %llu starts (%s, %s)", n->name,
		 (unsigned long long)rid, only ? only : "every guest", trigger);
	t[0] = host_now_ms();
	rc = phase_prepare(h, n, rid, rs, nr, em);
	t[1] = host_now_ms();
	if (!rc)
		rc = phase_peers(h, n, rid, rs, nr, em);
	t[2] = host_now_ms();
	if (!rc)
		rc = phase_switch(h, n, rid, rs, nr, em);
	t[3] = host_now_ms();
	if (!rc)
		rc = phase_drain(h, n, rid, rs, nr, em);
	t[4] = host_now_ms();
	if (rc) {
		rot_abort(h, n, rid, rs, nr);
		goto out;
	}
	rc = phase_commit(h, n, rid, rs, nr, em);
	t[5] = host_now_ms();
	for (size_t i = 0; i < nr; i++) {
		if (!rs[i].rotate)
			continue;
		if (rotated)
			json_array_append_new(
				rotated,
				json_pack("{s:s,s:s,s:s,s:s}", "guest",
					  rs[i].g.name, "network", n->name,
					  "old_public_key", rs[i].gn.public_key,
					  "public_key", rs[i].new_key));
		if (rs[i].committed)
			metrics_key_rotated(rs[i].g.name, n->name, trigger);
	}
	log_info("network %s: keys rotated (%s, %s): rotation %llu, prepare %lld ms, peers %lld, switch %lld, drain %lld, commit %lld",
		 n->name, only ? only : "every guest", trigger,
		 (unsigned long long)rid, (long long)(t[1] - t[0]),
		 (long long)(t[2] - t[1]), (long long)(t[3] - t[2]),
		 (long long)(t[4] - t[3]), (long long)(t[5] - t[4]));
out:
	if (rc && rc != -EBUSY)
		metrics_key_rotation_failed(n->name, trigger);
	free(rs);
	rot_release(n);
	return rc;
}

int rotate_guest_on_network(struct host *h, const struct st_network *n,
			    const char *guest, const char *trigger, char **em)
{
	return rotate_network(h, n, guest, trigger, NULL, em);
}

int api_op_network_rotate_keys(struct host *h, json_t *args, json_t **res,
			       char **em)
{
	struct st_network n;
	const char *ref;
	json_t *rotated;
	int rc;

	if ((rc = api_arg_str(args, "network", true, &ref, em)))
		return rc;
	pthread_mutex_lock(&h->mu);
	rc = api_get_network(h, ref, &n, em);
	pthread_mutex_unlock(&h->mu);
	if (rc)
		return rc;
	rotated = json_array();
	rc = rotate_network(h, &n, NULL, "manual", rotated, em);
	if (rc) {
		json_decref(rotated);
		return rc;
	}
	*res = json_pack("{s:o}", "rotated", rotated);
	return 0;
}

int api_op_guest_rotate_keys(struct host *h, json_t *args, json_t **res,
			     char **em)
{
	struct st_guest_net *gns = NULL;
	struct st_guest g;
	const char *name;
	json_t *rotated;
	size_t ngn = 0;
	int rc;

	if ((rc = api_arg_str(args, "guest", true, &name, em)))
		return rc;
	pthread_mutex_lock(&h->mu);
	rc = h->st->ops->guest_get(h->st, name, &g);
	if (!rc)
		rc = h->st->ops->guest_net_list(h->st, NULL, &gns, &ngn);
	pthread_mutex_unlock(&h->mu);
	if (rc == -ENOENT)
		return host_err(em, -ENOENT, "No such guest: %s", name);
	if (rc)
		return host_err(em, rc, "store: %s", strerror(-rc));
	rotated = json_array();
	for (size_t i = 0; i < ngn && !rc; i++) {
		struct st_network n;

		int miss;

		if (strcmp(gns[i].guest, name))
			continue;
		pthread_mutex_lock(&h->mu);
		miss = h->st->ops->network_get(h->st, gns[i].network_id, &n);
		pthread_mutex_unlock(&h->mu);
		if (miss)
			continue;
		rc = rotate_network(h, &n, name, "manual", rotated, em);
	}
	free(gns);
	if (rc) {
		json_decref(rotated);
		return rc;
	}
	*res = json_pack("{s:o}", "rotated", rotated);
	return 0;
}
