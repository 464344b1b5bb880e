// SPDX-License-Identifier: GPL-2.0
/* wgnet-simguest's checks: what it counts as a violation, and its table. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../sim/simstate.h"
#include "wgnet/proto.h"

static json_t *call(struct sim_guest *g, const char *op, const char *args)
{
	json_error_t e;
	json_t *a = json_loads(args, 0, &e), *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	r = sim_handle(g, op, a);
	json_decref(a);
	return r;
}

static bool ok(json_t *r)
{
	bool v = json_is_true(json_object_get(r, "ok"));

	json_decref(r);
	return v;
}

static json_int_t rgen(json_t *r)
{
	json_int_t v = json_integer_value(
		json_object_get(json_object_get(r, "result") ?: r, "gen"));

	json_decref(r);
	return v;
}

#define NET "aaaaaaaaaaaaaaaaaaaaaaaa"
#define NETJ                          \
	"{\"network\":{\"id\":\"" NET \
	"\",\"subnet\":\"10.1.0.0/16\",\"gateway\":\"10.1.0.1\"}}"

static char ka[WG_KEY_B64_LEN], kb[WG_KEY_B64_LEN], kc[WG_KEY_B64_LEN];

static void keys(void)
{
	uint8_t k[WG_KEY_LEN], p[WG_KEY_LEN];

	wg_key_generate(k);
	wg_key_public(p, k);
	wg_key_to_base64(ka, p);
	wg_key_generate(k);
	wg_key_public(p, k);
	wg_key_to_base64(kb, p);
	wg_key_generate(k);
	wg_key_public(p, k);
	wg_key_to_base64(kc, p);
}

static char buf[4096];

static const char *fmt(const char *f, ...)
	__attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

static void setup(struct sim_guest *g, char own[WG_KEY_B64_LEN])
{
	json_t *r;

	keys();
	sim_guest_init(g, "sg0", 0);
	r = call(g, "AddNetwork", NETJ);
	CU_ASSERT_TRUE_FATAL(json_is_true(json_object_get(r, "ok")));
	snprintf(own, WG_KEY_B64_LEN, "%s",
		 json_str(json_object_get(r, "result"), "public_key"));
	json_decref(r);
	CU_ASSERT_EQUAL(
		rgen(call(
			g, "SyncNetwork",
			fmt("{\"network_id\":\"%s\",\"gen\":3,\"peers\":["
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.2/32\"]},"
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.3/32\"]}],"
			    "\"dns\":[{\"name\":\"a\",\"address\":\"10.1.0.2\"}]}",
			    NET, ka, kb))),
		3);
	CU_ASSERT_EQUAL(sim_violations(&g->st), 0);
}

static void test_network_and_hello(void)
{
	struct sim_guest g;
	char own[WG_KEY_B64_LEN];
	json_t *r;

	setup(&g, own);
	/* AddNetwork is idempotent: the same key again. */
	r = call(&g, "AddNetwork", NETJ);
	CU_ASSERT_STRING_EQUAL(
		json_str(json_object_get(r, "result"), "public_key"), own);
	json_decref(r);
	r = call(&g, "Hello", "{}");
	CU_ASSERT_EQUAL(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(r, "result"), "nets"),
			NET)),
		3);
	CU_ASSERT_EQUAL(strlen(json_str(json_object_get(r, "result"), "boot")),
			32);
	json_decref(r);
	CU_ASSERT_EQUAL(g.nets[0]->live_peers, 2);
	sim_guest_free(&g);
}

static void test_stale(void)
{
	struct sim_guest g;
	char own[WG_KEY_B64_LEN];
	json_t *r;

	setup(&g, own);
	r = call(
		&g, "UpdateNetwork",
		fmt("{\"network_id\":\"%s\",\"from_gen\":2,\"gen\":4,\"peers_remove\":[\"%s\"]}",
		    NET, ka));
	CU_ASSERT_FALSE(json_is_true(json_object_get(r, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "code")), ESTALE);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "gen")), 3);
	json_decref(r);
	CU_ASSERT_EQUAL(g.st.estale, 1);
	CU_ASSERT_EQUAL(g.nets[0]->live_peers, 2); /* nothing changed */
	/* Unknown network: ESTALE with gen 0. */
	r = call(
		&g, "UpdateNetwork",
		"{\"network_id\":\"bbbbbbbbbbbbbbbb\",\"from_gen\":0,\"gen\":1}");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "gen")), 0);
	json_decref(r);
	/* gen not above from_gen: a violation. */
	CU_ASSERT_FALSE(ok(call(
		&g, "UpdateNetwork",
		fmt("{\"network_id\":\"%s\",\"from_gen\":3,\"gen\":3}", NET))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_GEN], 1);
	/* A full set going backwards: a violation. */
	CU_ASSERT_TRUE(ok(call(
		&g, "SyncNetwork",
		fmt("{\"network_id\":\"%s\",\"gen\":2,\"peers\":[]}", NET))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_GEN], 2);
	sim_guest_free(&g);
}

static void test_dup_and_move(void)
{
	struct sim_guest g;
	char own[WG_KEY_B64_LEN];

	setup(&g, own);
	/* c takes a's address while a keeps it: held by two peers. */
	CU_ASSERT_EQUAL(
		rgen(call(
			&g, "UpdateNetwork",
			fmt("{\"network_id\":\"%s\",\"from_gen\":3,\"gen\":4,\"peers_set\":["
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.2/32\"]}]}",
			    NET, kc))),
		4);
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DUP_ADDR], 1);
	/* An address moving between two peers of one delta is fine, in
	 * either order. */
	CU_ASSERT_EQUAL(
		rgen(call(
			&g, "UpdateNetwork",
			fmt("{\"network_id\":\"%s\",\"from_gen\":4,\"gen\":5,\"peers_set\":["
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.3/32\"]},"
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.9/32\"]},"
			    "{\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.2/32\"]}]}",
			    NET, ka, kb, kc))),
		5);
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DUP_ADDR], 1);
	/* The guest itself among the peers. */
	CU_ASSERT_TRUE(ok(call(
		&g, "UpdateNetwork",
		fmt("{\"network_id\":\"%s\",\"from_gen\":5,\"gen\":6,\"peers_set\":["
		    "{\"public_key\":\"%s\",\"allowed_ips\":[]}]}",
		    NET, own))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_SELF], 1);
	sim_guest_free(&g);
}

static void test_dns(void)
{
	struct sim_guest g;
	char own[WG_KEY_B64_LEN];

	setup(&g, own);
	/* A record for an address nobody has. */
	CU_ASSERT_TRUE(ok(call(
		&g, "UpdateNetwork",
		fmt("{\"network_id\":\"%s\",\"from_gen\":3,\"gen\":4,"
		    "\"dns_add\":[{\"name\":\"x\",\"address\":\"10.1.0.77\"}]}",
		    NET))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DNS], 1);
	/* A local endpoint's record is fine; so is a record added twice. */
	CU_ASSERT_TRUE(ok(call(
		&g, "AddEndpoint",
		fmt("{\"network_id\":\"%s\",\"container\":{\"id\":\"cccccccccccc\"},"
		    "\"ip\":\"10.1.0.50\"}",
		    NET))));
	CU_ASSERT_TRUE(ok(call(
		&g, "UpdateNetwork",
		fmt("{\"network_id\":\"%s\",\"from_gen\":4,\"gen\":5,"
		    "\"dns_add\":[{\"name\":\"l\",\"address\":\"10.1.0.50\"},"
		    "{\"name\":\"b\",\"address\":\"10.1.0.3\"},"
		    "{\"name\":\"b\",\"address\":\"10.1.0.3\"}]}",
		    NET))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DNS], 1);
	/* Removing b's peer without its record leaves a dangling name. */
	CU_ASSERT_TRUE(
		ok(call(&g, "UpdateNetwork",
			fmt("{\"network_id\":\"%s\",\"from_gen\":5,\"gen\":6,"
			    "\"peers_remove\":[\"%s\"]}",
			    NET, kb))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DNS], 2);
	/* With its record, and a removal of one not held: clean. */
	CU_ASSERT_TRUE(
		ok(call(&g, "UpdateNetwork",
			fmt("{\"network_id\":\"%s\",\"from_gen\":6,\"gen\":7,"
			    "\"peers_remove\":[\"%s\"],\"dns_remove\":["
			    "{\"name\":\"a\",\"address\":\"10.1.0.2\"},"
			    "{\"name\":\"zz\",\"address\":\"10.1.0.2\"}]}",
			    NET, ka))));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_DNS], 2);
	CU_ASSERT_EQUAL(g.nets[0]->live_recs, 3); /* x, l, b */
	CU_ASSERT_EQUAL(g.nets[0]->live_peers, 0);
	/* Endpoint on a network never added. */
	CU_ASSERT_FALSE(ok(call(
		&g, "AddEndpoint",
		"{\"network_id\":\"dddddddddddd\",\"container\":{\"id\":\"cccccccccccc\"},"
		"\"ip\":\"10.1.0.5\"}")));
	CU_ASSERT_EQUAL(g.st.violations[SIM_V_UNKNOWN_NET], 1);
	sim_guest_free(&g);
}

static void test_htab(void)
{
	struct sim_htab h;
	uint32_t k, *v;
	bool good = true;

	htab_init(&h, sizeof(k));
	for (k = 0; k < 20000; k++)
		CU_ASSERT_EQUAL(htab_put(&h, &k, k * 3), 0);
	for (k = 0; k < 20000; k += 2)
		CU_ASSERT_TRUE(htab_del(&h, &k));
	for (k = 0; k < 20000; k++) {
		v = htab_get(&h, &k);
		good = good && ((k % 2) ? v && *v == k * 3 : !v);
	}
	CU_ASSERT_TRUE(good);
	CU_ASSERT_EQUAL(h.n, 10000);
	/* Churn on tombstones stays bounded and correct. */
	for (int round = 0; round < 50; round++)
		for (k = 100000; k < 100200; k++) {
			htab_put(&h, &k, 1);
			htab_del(&h, &k);
		}
	k = 100050;
	CU_ASSERT_PTR_NULL(htab_get(&h, &k));
	CU_ASSERT_EQUAL(h.n, 10000);
	htab_free(&h);
}

void suite_simguest(void)
{
	CU_pSuite s = CU_add_suite("simguest", NULL, NULL);

	CU_add_test(s, "network, key, Hello nets", test_network_and_hello);
	CU_add_test(s, "stale from_gen, gen going back", test_stale);
	CU_add_test(s, "address held twice, moves, self", test_dup_and_move);
	CU_add_test(s, "records against peers and endpoints", test_dns);
	CU_add_test(s, "table", test_htab);
}
