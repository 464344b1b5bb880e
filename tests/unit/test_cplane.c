// SPDX-License-Identifier: GPL-2.0
/*
 * The control plane's generation logic (host/netstate.c): snapshots,
 * deltas, the change log, coalescing, and how a guest's answers move its
 * acknowledged generation: out-of-order and lost acks, ESTALE, a guest
 * restart mid-stream, log overflow. A simulated guest applies what it
 * would be sent and must end up with exactly the full state.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/netstate.h"

void suite_cplane(void);

#define NID "n0000000000000000000000000000000000000000000000000000000000000"

/* A network of up to 16 guests g0..g15; guest i has a key when it is a
 * member and containers c<i>_<k> for k < ctrs[i]. */
struct world {
	uint64_t gen;
	bool member[16];
	int ctrs[16];
	bool dead[16];
	bool no_underlay[16]; /* its underlay address not known (yet) */
	int port[16];
};

static void key_of(int i, int port, char *buf)
{
	/* Not a valid WireGuard key; netstate does not care. */
	snprintf(buf, ST_KEY_LEN, "KEY%02d-%05d", i, port);
}

/* Container k of guest i as the store's view has it. */
static void ep_of(int i, int k, struct st_view_ep *x)
{
	char ip[32];

	memset(x, 0, sizeof(*x));
	snprintf(x->container_id, ST_ID_LEN, "%02d%02d0000000000000000", i, k);
	snprintf(x->name, ST_NAME_LEN, "c%d_%d", i, k);
	snprintf(x->guest, ST_NAME_LEN, "g%d", i);
	snprintf(ip, sizeof(ip), "10.1.%d.%d", i, k + 2);
	ip_parse(ip, &x->ip4);
	snprintf(ip, sizeof(ip), "fd00::%d:%d", i, k + 2);
	if (k % 2)
		ip_parse(ip, &x->ip6);
	snprintf(x->aliases, sizeof(x->aliases), "[\"alias%d\"]", i);
}

static void build(const struct world *w, struct ns_snap *s)
{
	struct st_view_member m[16];
	struct st_view_ep e[16 * 8];
	struct st_net_view v = { .gen = w->gen, .members = m, .eps = e };

	memset(m, 0, sizeof(m));
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 16; i++) {
		char ip[32];

		if (!w->member[i])
			continue;
		snprintf(m[v.n_members].guest, ST_NAME_LEN, "g%d", i);
		key_of(i, w->port[i], m[v.n_members].public_key);
		m[v.n_members].listen_port = (uint16_t)(51820 + w->port[i]);
		snprintf(ip, sizeof(ip), "10.77.0.%d", i + 1);
		if (!w->no_underlay[i])
			ip_parse(ip, &m[v.n_members].underlay);
		m[v.n_members].state = w->dead[i] ? ST_GUEST_DEAD : ST_GUEST_UP;
		v.n_members++;
		for (int k = 0; k < w->ctrs[i] && k < 8; k++)
			ep_of(i, k, &e[v.n_eps++]);
	}
	CU_ASSERT_EQUAL_FATAL(ns_snap_build(&v, s), 0);
}

/* A simulated guest: the peers and records it holds, its generation. */
struct sim {
	const char *name;
	uint64_t gen;
	json_t *peers; /* {key: peer} */
	json_t *dns; /* {"name address": rec} */
};

static void sim_init(struct sim *g, const char *name)
{
	g->name = name;
	g->gen = 0;
	g->peers = json_object();
	g->dns = json_object();
}

static void sim_free(struct sim *g)
{
	json_decref(g->peers);
	json_decref(g->dns);
}

static void rec_key(json_t *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s",
		 json_string_value(json_object_get(r, "name")),
		 json_string_value(json_object_get(r, "address")));
}

static void sim_sync(struct sim *g, json_t *args)
{
	json_t *p, *r;
	size_t i;
	char k[256];

	json_object_clear(g->peers);
	json_object_clear(g->dns);
	json_array_foreach(json_object_get(args, "peers"), i, p)
		json_object_set(
			g->peers,
			json_string_value(json_object_get(p, "public_key")), p);
	json_array_foreach(json_object_get(args, "dns"), i, r) {
		rec_key(r, k, sizeof(k));
		json_object_set(g->dns, k, r);
	}
	g->gen = (uint64_t)json_integer_value(json_object_get(args, "gen"));
}

static void sim_sync_snap(struct sim *g, const struct ns_snap *s)
{
	json_t *args = ns_sync_args(s, NID, g->name);

	sim_sync(g, args);
	json_decref(args);
}

/* UpdateNetwork as the contract says: ESTALE unless from_gen matches. */
static int sim_update(struct sim *g, json_t *args, uint64_t *cur)
{
	json_t *p, *r;
	size_t i;
	char k[256];

	*cur = g->gen;
	if ((uint64_t)json_integer_value(json_object_get(args, "from_gen")) !=
	    g->gen)
		return -ESTALE;
	json_array_foreach(json_object_get(args, "peers_set"), i, p)
		json_object_set(
			g->peers,
			json_string_value(json_object_get(p, "public_key")), p);
	json_array_foreach(json_object_get(args, "peers_remove"), i, p)
		json_object_del(g->peers, json_string_value(p));
	json_array_foreach(json_object_get(args, "dns_add"), i, r) {
		rec_key(r, k, sizeof(k));
		json_object_set(g->dns, k, r);
	}
	json_array_foreach(json_object_get(args, "dns_remove"), i, r) {
		rec_key(r, k, sizeof(k));
		json_object_del(g->dns, k);
	}
	g->gen = (uint64_t)json_integer_value(json_object_get(args, "gen"));
	*cur = g->gen;
	return 0;
}

/* The guest holds exactly the full state of snapshot s. */
static bool sim_matches(const struct sim *g, const struct ns_snap *s)
{
	json_t *want = ns_sync_args(s, NID, g->name);
	struct sim w;
	bool eq;

	sim_init(&w, g->name);
	sim_sync(&w, want);
	eq = json_equal(w.peers, g->peers) && json_equal(w.dns, g->dns) &&
	     g->gen == s->gen;
	sim_free(&w);
	json_decref(want);
	return eq;
}

/* The host's side for one guest: plan, send, take the answer. Returns
 * the number of requests it took (UpdateNetwork/SyncNetwork). */
static int deliver(const struct ns_log *log, const struct ns_snap *cur,
		   struct ns_ack *a, struct sim *g, bool lose_ack, int *syncs)
{
	int sent = 0;

	for (int round = 0; round < 4; round++) {
		enum ns_plan plan = ns_plan(log, cur->gen, a);
		struct ns_delta d;
		uint64_t gg = 0;
		json_t *args;
		int rc = 0;

		if (plan == NS_NONE)
			break;
		sent++;
		if (plan == NS_UPDATE) {
			CU_ASSERT_EQUAL_FATAL(
				ns_log_compose(log, a->gen, cur->gen, &d), 0);
			args = ns_update_args(&d, NID, g->name);
			ns_delta_free(&d);
			rc = sim_update(g, args, &gg);
		} else {
			(*syncs)++;
			args = ns_sync_args(cur, NID, g->name);
			sim_sync(g, args);
			gg = g->gen;
		}
		json_decref(args);
		if (lose_ack) { /* applied, but the answer never came */
			lose_ack = false;
			continue;
		}
		ns_ack_reply(a, cur->gen, plan == NS_SYNC, rc, gg);
	}
	return sent;
}

/* A history: gens 1..n, each one change. */
static void step(struct world *w, int i)
{
	w->gen++;
	switch (i % 5) {
	case 0:
		w->member[i % 16] = true;
		w->ctrs[i % 16]++;
		break;
	case 1:
		w->ctrs[(i * 7) % 16] =
			w->member[(i * 7) % 16] ? w->ctrs[(i * 7) % 16] + 1 : 0;
		break;
	case 2:
		if (w->ctrs[(i * 3) % 16] > 0)
			w->ctrs[(i * 3) % 16]--;
		break;
	case 3:
		w->port[(i * 5) % 16]++; /* a new key */
		break;
	default:
		w->dead[(i * 11) % 16] = !w->dead[(i * 11) % 16];
	}
}

struct hist {
	struct world w;
	struct ns_snap cur;
	struct ns_log log;
};

static void hist_init(struct hist *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->w.gen = 1;
	hs->w.member[0] = hs->w.member[1] = true;
	hs->w.ctrs[0] = hs->w.ctrs[1] = 1;
	build(&hs->w, &hs->cur);
}

static void hist_step(struct hist *hs, int i)
{
	struct ns_snap next;
	struct ns_delta d;

	step(&hs->w, i);
	build(&hs->w, &next);
	CU_ASSERT_EQUAL_FATAL(ns_diff(&hs->cur, &next, &d), 0);
	CU_ASSERT_EQUAL(d.from, hs->cur.gen);
	CU_ASSERT_EQUAL(d.to, next.gen);
	ns_log_push(&hs->log, &d);
	ns_snap_free(&hs->cur);
	hs->cur = next;
}

static void hist_free(struct hist *hs)
{
	ns_snap_free(&hs->cur);
	ns_log_clear(&hs->log);
}

static void test_coalesce(void)
{
	struct hist hs;
	struct sim g;
	struct ns_ack a = { 0 };
	struct ns_delta d;
	int syncs = 0;

	hist_init(&hs);
	sim_init(&g, "g0");
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false, &syncs), 1);
	CU_ASSERT_EQUAL(syncs, 1); /* never synced: a SyncNetwork */
	CU_ASSERT(sim_matches(&g, &hs.cur));
	/* 30 generations while the guest was busy: one UpdateNetwork. */
	for (int i = 0; i < 30; i++)
		hist_step(&hs, i);
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_UPDATE);
	CU_ASSERT_EQUAL(ns_log_compose(&hs.log, a.gen, hs.cur.gen, &d), 0);
	CU_ASSERT_EQUAL(d.from, 1);
	CU_ASSERT_EQUAL(d.to, 31);
	ns_delta_free(&d);
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false, &syncs), 1);
	CU_ASSERT_EQUAL(syncs, 1);
	CU_ASSERT_EQUAL(a.gen, 31);
	CU_ASSERT(sim_matches(&g, &hs.cur));
	/* In sync: nothing to send. */
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_NONE);
	sim_free(&g);
	hist_free(&hs);
}

static void test_every_ack_point(void)
{
	/* From every generation a guest may have acknowledged, the composed
	 * delta brings it to exactly the current state. */
	struct hist hs;
	struct ns_snap snaps[41];
	int n = 0;

	hist_init(&hs);
	for (int i = 0; i < 40; i++) {
		build(&hs.w, &snaps[n++]);
		hist_step(&hs, i);
	}
	for (int k = 0; k < n; k++) {
		for (int gi = 0; gi < 3; gi++) {
			char name[16];
			struct sim g;
			struct ns_ack a = { .gen = snaps[k].gen,
					    .valid = true };
			int syncs = 0;

			snprintf(name, sizeof(name), "g%d", gi & 7);
			sim_init(&g, name);
			sim_sync_snap(&g, &snaps[k]);
			CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false,
						&syncs),
					1);
			CU_ASSERT_EQUAL(syncs, 0);
			CU_ASSERT(sim_matches(&g, &hs.cur));
			sim_free(&g);
		}
	}
	for (int k = 0; k < n; k++)
		ns_snap_free(&snaps[k]);
	hist_free(&hs);
}

static void test_own_key_never_a_peer(void)
{
	struct hist hs;
	json_t *args, *p;
	size_t i;
	char key[ST_KEY_LEN];

	hist_init(&hs);
	for (int i = 0; i < 10; i++)
		hist_step(&hs, i);
	key_of(0, hs.w.port[0], key);
	args = ns_sync_args(&hs.cur, NID, "g0");
	json_array_foreach(json_object_get(args, "peers"), i, p) {
		CU_ASSERT_STRING_NOT_EQUAL(
			json_string_value(json_object_get(p, "public_key")),
			key);
		CU_ASSERT_PTR_NULL(json_object_get(p, "guest"));
	}
	json_decref(args);
	hist_free(&hs);
}

static void test_out_of_order_acks(void)
{
	struct ns_ack a = { 0 };

	ns_ack_reply(&a, 5, false, 0, 5);
	CU_ASSERT(a.valid);
	CU_ASSERT_EQUAL(a.gen, 5);
	/* The answer to an older UpdateNetwork arrives late: no step back. */
	ns_ack_reply(&a, 3, false, 0, 3);
	CU_ASSERT_EQUAL(a.gen, 5);
	ns_ack_reply(&a, 7, false, 0, 7);
	CU_ASSERT_EQUAL(a.gen, 7);
	/* A failed call teaches nothing. */
	ns_ack_reply(&a, 9, false, -ETIMEDOUT, 0);
	CU_ASSERT(a.valid);
	CU_ASSERT_EQUAL(a.gen, 7);
}

static void test_lost_ack(void)
{
	struct hist hs;
	struct sim g;
	struct ns_ack a = { 0 };
	int syncs = 0;

	hist_init(&hs);
	sim_init(&g, "g1");
	deliver(&hs.log, &hs.cur, &a, &g, false, &syncs);
	for (int i = 0; i < 5; i++)
		hist_step(&hs, i);
	/* Applied, answer lost: the host sends the same delta again, the
	 * guest says ESTALE with the generation it has: taken as the ack. */
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, true, &syncs), 2);
	CU_ASSERT_EQUAL(syncs, 1); /* only the first SyncNetwork */
	CU_ASSERT(a.valid);
	CU_ASSERT_EQUAL(a.gen, hs.cur.gen);
	CU_ASSERT(sim_matches(&g, &hs.cur));
	sim_free(&g);
	hist_free(&hs);
}

static void test_estale_resync(void)
{
	struct hist hs;
	struct sim g;
	struct ns_ack a = { 0 };
	int syncs = 0;

	hist_init(&hs);
	sim_init(&g, "g0");
	deliver(&hs.log, &hs.cur, &a, &g, false, &syncs);
	for (int i = 0; i < 3; i++)
		hist_step(&hs, i);
	/* The guest lost state behind the host's back (gen 0). */
	json_object_clear(g.peers);
	g.gen = 0;
	syncs = 0;
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false, &syncs), 2);
	CU_ASSERT_EQUAL(syncs, 1); /* UpdateNetwork → ESTALE → SyncNetwork */
	CU_ASSERT(sim_matches(&g, &hs.cur));
	CU_ASSERT_EQUAL(a.gen, hs.cur.gen);
	sim_free(&g);
	hist_free(&hs);
}

static void test_guest_restart(void)
{
	struct hist hs;
	struct sim g;
	struct ns_ack a = { 0 };
	struct ns_snap at4;
	json_t *nets;
	int syncs = 0;

	hist_init(&hs);
	sim_init(&g, "g0");
	for (int i = 0; i < 3; i++)
		hist_step(&hs, i);
	build(&hs.w, &at4); /* gen 4 */
	deliver(&hs.log, &hs.cur, &a, &g, false, &syncs);
	for (int i = 3; i < 8; i++)
		hist_step(&hs, i);
	/* Restart mid-stream: it persisted gen 4 (a lagging gen), its
	 * Hello says so; the host continues from there. */
	sim_sync_snap(&g, &at4);
	nets = json_pack("{s:I}", NID, (json_int_t)at4.gen);
	ns_ack_hello(&a, nets, NID);
	json_decref(nets);
	CU_ASSERT(a.valid);
	CU_ASSERT_EQUAL(a.gen, 4);
	syncs = 0;
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false, &syncs), 1);
	CU_ASSERT_EQUAL(syncs, 0);
	CU_ASSERT(sim_matches(&g, &hs.cur));
	/* A restart that lost the network: not in "nets": a SyncNetwork. */
	nets = json_object();
	ns_ack_hello(&a, nets, NID);
	json_decref(nets);
	CU_ASSERT(!a.valid);
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_SYNC);
	ns_snap_free(&at4);
	sim_free(&g);
	hist_free(&hs);
}

static void test_log_overflow(void)
{
	struct hist hs;
	struct sim g;
	struct ns_ack a = { 0 };
	int syncs = 0;

	hist_init(&hs);
	sim_init(&g, "g1");
	deliver(&hs.log, &hs.cur, &a, &g, false, &syncs);
	for (int i = 0; i < NS_LOG_MAX + 10; i++)
		hist_step(&hs, i);
	CU_ASSERT_EQUAL(hs.log.n, NS_LOG_MAX);
	/* Behind by more than the log holds: SyncNetwork. */
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_SYNC);
	syncs = 0;
	CU_ASSERT_EQUAL(deliver(&hs.log, &hs.cur, &a, &g, false, &syncs), 1);
	CU_ASSERT_EQUAL(syncs, 1);
	CU_ASSERT(sim_matches(&g, &hs.cur));
	/* A recent generation still goes as a delta. */
	a.gen = hs.cur.gen - NS_LOG_MAX;
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_UPDATE);
	a.gen = hs.cur.gen - NS_LOG_MAX - 1;
	CU_ASSERT_EQUAL(ns_plan(&hs.log, hs.cur.gen, &a), NS_SYNC);
	sim_free(&g);
	hist_free(&hs);
}

static void test_compose_order(void)
{
	/* Added then removed within the range: only the removal; removed
	 * then added back: only the set. */
	struct ns_log log = { 0 };
	struct ns_delta d1, d2, out;
	struct ns_snap s1, s2, s3;
	struct world w = { .gen = 1 };

	w.member[0] = true;
	w.ctrs[0] = 1;
	build(&w, &s1);
	w.gen = 2;
	w.member[3] = true;
	w.ctrs[3] = 1;
	build(&w, &s2);
	w.gen = 3;
	w.ctrs[3] = 0;
	build(&w, &s3);
	CU_ASSERT_EQUAL(ns_diff(&s1, &s2, &d1), 0);
	CU_ASSERT_EQUAL(json_object_size(d1.peers_set), 1);
	CU_ASSERT(json_object_size(d1.dns_add) > 0);
	CU_ASSERT_EQUAL(ns_diff(&s2, &s3, &d2), 0);
	CU_ASSERT_EQUAL(json_object_size(d2.peers_remove), 1);
	ns_log_push(&log, &d1);
	ns_log_push(&log, &d2);
	CU_ASSERT_EQUAL(ns_log_compose(&log, 1, 3, &out), 0);
	CU_ASSERT_EQUAL(json_object_size(out.peers_set), 0);
	CU_ASSERT_EQUAL(json_object_size(out.peers_remove), 1);
	CU_ASSERT_EQUAL(json_object_size(out.dns_add), 0);
	ns_delta_free(&out);
	CU_ASSERT_EQUAL(ns_log_compose(&log, 0, 3, &out), -ERANGE);
	CU_ASSERT_EQUAL(ns_log_compose(&log, 2, 3, &out), 0);
	ns_delta_free(&out);
	/* A delta that does not continue the log empties it. */
	CU_ASSERT_EQUAL(ns_diff(&s1, &s3, &d1), 0);
	d1.from = 7;
	d1.to = 8;
	ns_log_push(&log, &d1);
	CU_ASSERT_EQUAL(log.n, 1);
	CU_ASSERT(!ns_log_covers(&log, 1, 3));
	ns_log_clear(&log);
	ns_snap_free(&s1);
	ns_snap_free(&s2);
	ns_snap_free(&s3);
}

static void test_dead_and_keyless(void)
{
	struct world w = { .gen = 1 };
	struct ns_snap s;
	json_t *peers;

	w.member[0] = w.member[1] = w.member[2] = w.member[3] = true;
	w.ctrs[0] = w.ctrs[1] = w.ctrs[3] = 1;
	w.ctrs[2] = 0; /* no endpoint: nobody's peer */
	w.dead[1] = true; /* dead: nobody's peer */
	w.no_underlay[3] = true; /* nowhere to send to: nobody's peer */
	build(&w, &s);
	peers = ns_peer_list(&s, "g2");
	CU_ASSERT_EQUAL(json_array_size(peers), 1);
	json_decref(peers);
	CU_ASSERT_EQUAL(json_object_size(s.members), 4);
	/* Names resolve only where there is a peer: g0's, not the dead g1's
	 * nor g3's, whose underlay is not known. */
	CU_ASSERT_PTR_NOT_NULL(json_object_get(s.dns, "c0_0 10.1.0.2"));
	CU_ASSERT_PTR_NULL(json_object_get(s.dns, "c1_0 10.1.1.2"));
	CU_ASSERT_PTR_NULL(json_object_get(s.dns, "c3_0 10.1.3.2"));
	CU_ASSERT_EQUAL(json_object_size(s.dns), 3); /* name, short id, alias */
	ns_snap_free(&s);
}

static bool snap_eq(const struct ns_snap *a, const struct ns_snap *b)
{
	return a->gen == b->gen && a->mtu == b->mtu &&
	       json_equal(a->peers, b->peers) && json_equal(a->dns, b->dns) &&
	       json_equal(a->members, b->members) &&
	       json_equal(a->ctrs, b->ctrs);
}

static bool delta_eq(const struct ns_delta *a, const struct ns_delta *b)
{
	return a->from == b->from && a->to == b->to && a->mtu == b->mtu &&
	       json_equal(a->peers_set, b->peers_set) &&
	       json_equal(a->peers_remove, b->peers_remove) &&
	       json_equal(a->dns_add, b->dns_add) &&
	       json_equal(a->dns_remove, b->dns_remove);
}

/* One endpoint added or removed: patched, the snapshot and the delta are
 * exactly what a rebuild and a diff give; what a patch cannot do is
 * refused (-EAGAIN) with the snapshot untouched. */
static void patch_case(const struct world *w0, int i, bool add)
{
	struct world w = *w0;
	struct ns_snap s, want, before;
	struct ns_delta d, dwant;
	struct st_view_ep e;
	bool can;
	int rc;

	build(w0, &s);
	build(w0, &before);
	w.gen++;
	if (add) {
		ep_of(i, w.ctrs[i], &e);
		w.ctrs[i]++;
	} else {
		w.ctrs[i]--;
		ep_of(i, w.ctrs[i], &e);
	}
	build(&w, &want);
	/* A live member keeping at least one address. */
	can = w0->member[i] && !w0->dead[i] && !w0->no_underlay[i] &&
	      w0->ctrs[i] >= 1 && w.ctrs[i] >= 1;
	rc = ns_snap_patch_ep(&s, &e, add, w.gen, &d);
	CU_ASSERT_EQUAL(rc, can ? 0 : -EAGAIN);
	if (!rc) {
		CU_ASSERT(snap_eq(&s, &want));
		CU_ASSERT_EQUAL_FATAL(ns_diff(&before, &want, &dwant), 0);
		CU_ASSERT(delta_eq(&d, &dwant));
		CU_ASSERT_FALSE(ns_delta_empty(&d));
		ns_delta_free(&d);
		ns_delta_free(&dwant);
	} else {
		CU_ASSERT(snap_eq(&s, &before));
	}
	ns_snap_free(&s);
	ns_snap_free(&want);
	ns_snap_free(&before);
}

static void test_patch_endpoint(void)
{
	struct world w = { .gen = 7 };
	struct ns_snap s, before;
	struct ns_delta d;
	struct st_view_ep e;

	for (int i = 0; i < 5; i++) {
		w.member[i] = i != 4; /* g4: no interface yet */
		w.ctrs[i] = i; /* g0: none, g1: one (its last) */
	}
	w.dead[3] = true;
	for (int i = 0; i < 5; i++) {
		patch_case(&w, i, true);
		if (w.ctrs[i])
			patch_case(&w, i, false);
	}
	/* A generation between (another change first), a container that
	 * is already there, one on another guest: refused. */
	build(&w, &s);
	build(&w, &before);
	ep_of(2, 5, &e);
	CU_ASSERT_EQUAL(ns_snap_patch_ep(&s, &e, true, w.gen + 2, &d), -EAGAIN);
	ep_of(2, 0, &e);
	CU_ASSERT_EQUAL(ns_snap_patch_ep(&s, &e, true, w.gen + 1, &d), -EAGAIN);
	snprintf(e.guest, ST_NAME_LEN, "g1");
	CU_ASSERT_EQUAL(ns_snap_patch_ep(&s, &e, false, w.gen + 1, &d),
			-EAGAIN);
	CU_ASSERT(snap_eq(&s, &before));
	/* A store without generations. */
	s.gen = 0;
	ep_of(2, 5, &e);
	CU_ASSERT_EQUAL(ns_snap_patch_ep(&s, &e, true, 1, &d), -EAGAIN);
	ns_snap_free(&s);
	ns_snap_free(&before);
}

void suite_cplane(void)
{
	CU_pSuite s = CU_add_suite("cplane", NULL, NULL);

	CU_add_test(s, "coalesce", test_coalesce);
	CU_add_test(s, "every_ack_point", test_every_ack_point);
	CU_add_test(s, "own_key_never_a_peer", test_own_key_never_a_peer);
	CU_add_test(s, "out_of_order_acks", test_out_of_order_acks);
	CU_add_test(s, "lost_ack", test_lost_ack);
	CU_add_test(s, "estale_resync", test_estale_resync);
	CU_add_test(s, "guest_restart", test_guest_restart);
	CU_add_test(s, "log_overflow", test_log_overflow);
	CU_add_test(s, "compose_order", test_compose_order);
	CU_add_test(s, "dead_and_keyless", test_dead_and_keyless);
	CU_add_test(s, "patch_endpoint", test_patch_endpoint);
}
