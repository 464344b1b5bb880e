// SPDX-License-Identifier: GPL-2.0
/* The etcd store's pure parts: base64, keys, request/txn JSON, values. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/etcd.h"

void suite_etcd(void);

static void test_b64(void)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "/wgnet/v1/x", "L3dnbmV0L3YxL3g=" },
	};
	const unsigned char bin[] = { 0xff, 0x00, 0xfe, 0x80 };
	char *s, *d;
	size_t len;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = etcd_b64_encode(v[i].plain, strlen(v[i].plain));
		CU_ASSERT_STRING_EQUAL(s, v[i].enc);
		d = etcd_b64_decode(s, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_EQUAL(len, strlen(v[i].plain));
		CU_ASSERT_STRING_EQUAL(d, v[i].plain);
		free(s);
		free(d);
	}
	s = etcd_b64_encode(bin, sizeof(bin));
	CU_ASSERT_STRING_EQUAL(s, "/wD+gA==");
	d = etcd_b64_decode(s, &len);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT(!memcmp(d, bin, 4));
	free(s);
	free(d);
	/* Bad length, bad character, padding in the middle, "x=y". */
	CU_ASSERT_PTR_NULL(etcd_b64_decode("Zg=", NULL));
	CU_ASSERT_PTR_NULL(etcd_b64_decode("Zm9!", NULL));
	CU_ASSERT_PTR_NULL(etcd_b64_decode("Zg==Zm9v", NULL));
	CU_ASSERT_PTR_NULL(etcd_b64_decode("Zm=v", NULL));
	/* Bits past the last byte must be zero (one text per byte string). */
	CU_ASSERT_PTR_NULL(etcd_b64_decode("Zh==", NULL));
	CU_ASSERT_PTR_NULL(etcd_b64_decode(NULL, NULL));
}

static void test_keys(void)
{
	char k[ETCD_KEY_LEN], small[16];
	char *end;

	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "networks", "abc", NULL), 0);
	CU_ASSERT_STRING_EQUAL(k, "/wgnet/v1/networks/abc");
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "ipam", "n1", "172.18.0.2"),
			0);
	CU_ASSERT_STRING_EQUAL(k, "/wgnet/v1/ipam/n1/172.18.0.2");
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "ipam", "n1", "fd00::2"), 0);
	CU_ASSERT_STRING_EQUAL(k, "/wgnet/v1/ipam/n1/fd00::2");
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "endpoints/", NULL, NULL), 0);
	CU_ASSERT_STRING_EQUAL(k, "/wgnet/v1/endpoints/");
	/* A '/' or an empty part would let one name reach another's keys. */
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "guests", "a/b", NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "guests", "", NULL), -EINVAL);
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "guests", NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(etcd_key(k, sizeof(k), "guestnets", "g", "x/y"),
			-EINVAL);
	CU_ASSERT_EQUAL(etcd_key(small, sizeof(small), "networks", "abc", NULL),
			-ENAMETOOLONG);

	end = etcd_prefix_end("/wgnet/v1/");
	CU_ASSERT_STRING_EQUAL(end, "/wgnet/v10");
	free(end);
	end = etcd_prefix_end("a\xff");
	CU_ASSERT_STRING_EQUAL(end, "b");
	free(end);
}

static void test_range_req(void)
{
	json_t *r = etcd_range_req("/wgnet/v1/", true);

	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "key")),
			       "L3dnbmV0L3YxLw==");
	CU_ASSERT_STRING_EQUAL(
		json_string_value(json_object_get(r, "range_end")),
		"L3dnbmV0L3YxMA==");
	json_decref(r);
	r = etcd_range_req("/k", false);
	CU_ASSERT_PTR_NULL(json_object_get(r, "range_end"));
	json_decref(r);
}

static const char *b64key(json_t *o)
{
	static char buf[256];
	char *d = etcd_b64_decode(json_string_value(json_object_get(o, "key")),
				  NULL);

	snprintf(buf, sizeof(buf), "%s", d ? d : "");
	free(d);
	return buf;
}

static void test_txn(void)
{
	struct etcd_txn t;
	json_t *j, *c, *op;

	etcd_txn_init(&t);
	CU_ASSERT_EQUAL(etcd_txn_cmp(&t, "/wgnet/v1/ipam/n/10.0.0.2", false,
				     "CREATE", "EQUAL", 0),
			0);
	CU_ASSERT_EQUAL(etcd_txn_cmp(&t, "/wgnet/v1/endpoints/n/", true,
				     "MOD", "LESS", 42),
			0);
	CU_ASSERT_EQUAL(etcd_txn_cmp(&t, "/k", false, "LEASE", "EQUAL", 0),
			-EINVAL);
	CU_ASSERT_EQUAL(etcd_txn_put(&t, "/wgnet/v1/ipam/n/10.0.0.2", "epid",
				     1234567890123LL),
			0);
	CU_ASSERT_EQUAL(etcd_txn_put(&t, "/wgnet/v1/networks/n", "{}", 0), 0);
	CU_ASSERT_EQUAL(etcd_txn_del(&t, "/wgnet/v1/guestnets/g/", true), 0);
	CU_ASSERT_EQUAL(etcd_txn_get(&t, "/wgnet/v1/x", false, true), 0);
	j = etcd_txn_json(&t);
	etcd_txn_clear(&t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);

	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "compare")), 2);
	c = json_array_get(json_object_get(j, "compare"), 0);
	CU_ASSERT_STRING_EQUAL(b64key(c), "/wgnet/v1/ipam/n/10.0.0.2");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "target")),
			       "CREATE");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "result")),
			       "EQUAL");
	CU_ASSERT_STRING_EQUAL(
		json_string_value(json_object_get(c, "create_revision")), "0");
	CU_ASSERT_PTR_NULL(json_object_get(c, "range_end"));
	c = json_array_get(json_object_get(j, "compare"), 1);
	CU_ASSERT_EQUAL(etcd_int(c, "mod_revision"), 42);
	CU_ASSERT_PTR_NOT_NULL(json_object_get(c, "range_end"));

	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "success")), 3);
	op = json_object_get(json_array_get(json_object_get(j, "success"), 0),
			     "request_put");
	CU_ASSERT_STRING_EQUAL(b64key(op), "/wgnet/v1/ipam/n/10.0.0.2");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(op, "value")),
			       "ZXBpZA==");
	/* int64 as a string: JSON numbers lose precision past 2^53. */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(op, "lease")),
			       "1234567890123");
	op = json_object_get(json_array_get(json_object_get(j, "success"), 1),
			     "request_put");
	CU_ASSERT_PTR_NULL(json_object_get(op, "lease"));
	op = json_object_get(json_array_get(json_object_get(j, "success"), 2),
			     "request_delete_range");
	CU_ASSERT_STRING_EQUAL(b64key(op), "/wgnet/v1/guestnets/g/");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(op, "range_end"));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "failure")), 1);
	json_decref(j);
}

static void test_kvs(void)
{
	/* What the gateway answers: int64 as strings, zero values left out. */
	json_t *resp = json_loads(
		"{\"kvs\":[{\"key\":\"L2E=\",\"create_revision\":\"5\","
		"\"mod_revision\":\"9\",\"version\":\"2\",\"value\":\"eA==\","
		"\"lease\":\"7587\"},{\"key\":\"L2I=\"}]}",
		0, NULL);
	struct etcd_kv *kvs = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL(etcd_kvs_decode(json_object_get(resp, "kvs"), &kvs,
					&n),
			0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(kvs[0].key, "/a");
	CU_ASSERT_STRING_EQUAL(kvs[0].val, "x");
	CU_ASSERT_EQUAL(kvs[0].create_rev, 5);
	CU_ASSERT_EQUAL(kvs[0].mod_rev, 9);
	CU_ASSERT_EQUAL(kvs[0].lease, 7587);
	CU_ASSERT_STRING_EQUAL(kvs[1].val, "");
	CU_ASSERT_EQUAL(kvs[1].lease, 0);
	etcd_kvs_free(kvs, n);
	CU_ASSERT_EQUAL(etcd_kvs_decode(NULL, &kvs, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	json_decref(resp);
	resp = json_loads("[{\"key\":\"!!\"}]", 0, NULL);
	CU_ASSERT_EQUAL(etcd_kvs_decode(resp, &kvs, &n), -EIO);
	json_decref(resp);
}

static void test_values(void)
{
	struct st_network n, n2;
	struct st_endpoint ep, ep2;
	struct st_guest g, g2;
	struct st_container c, c2;
	struct st_guest_net gn, gn2;
	int64_t seq = 0;
	char *s;

	memset(&n, 0, sizeof(n));
	strcpy(n.id, "0123abcd");
	strcpy(n.name, "net1");
	strcpy(n.driver, "wgnet");
	prefix_parse("172.18.0.0/16", true, &n.subnet4);
	prefix_parse("172.18.5.0/24", true, &n.range4);
	ip_parse("172.18.0.1", &n.gw4);
	prefix_parse("fd00:1::/64", true, &n.subnet6);
	ip_parse("fd00:1::1", &n.gw6);
	n.ipv6 = true;
	strcpy(n.labels, "{\"a\":\"b\"}");
	strcpy(n.options, "{}");
	n.created = 1700000000;
	s = etcd_network_enc(&n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"subnet4\":\"172.18.0.0/16\""));
	CU_ASSERT_EQUAL(etcd_network_dec(s, &n2), 0);
	CU_ASSERT(!memcmp(&n, &n2, sizeof(n)));
	free(s);
	CU_ASSERT_EQUAL(etcd_network_dec("{\"name\":\"x\"}", &n2), -EIO);
	CU_ASSERT_EQUAL(etcd_network_dec("[1]", &n2), -EIO);
	CU_ASSERT_EQUAL(
		etcd_network_dec("{\"id\":\"a\",\"name\":\"x\",\"gw4\":\"bad\"}",
				 &n2),
		-EIO);

	memset(&ep, 0, sizeof(ep));
	strcpy(ep.id, "e1");
	strcpy(ep.network_id, "n1");
	strcpy(ep.container_id, "c1");
	ip_parse("172.18.0.2", &ep.ip4);
	strcpy(ep.mac, "02:42:ac:12:00:02");
	strcpy(ep.aliases, "[\"web\"]");
	ep.seq = 3;
	s = etcd_endpoint_enc(&ep);
	CU_ASSERT_PTR_NULL(strstr(s, "ip6"));
	CU_ASSERT_EQUAL(etcd_endpoint_dec(s, &ep2), 0);
	CU_ASSERT(!memcmp(&ep, &ep2, sizeof(ep)));
	free(s);

	memset(&g, 0, sizeof(g));
	strcpy(g.name, "g1");
	strcpy(g.control, "unix:/run/g1.sock");
	strcpy(g.host_id, "B");
	ip_parse("10.78.0.3", &g.underlay);
	strcpy(g.backend, "userspace");
	g.state = ST_GUEST_UP;
	g.last_seen = 1700000001;
	s = etcd_guest_enc(&g, 99);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"lease\":\"99\""));
	/* Not reported: not written (an older host reads the same). */
	CU_ASSERT_PTR_NULL(strstr(s, "underlay_plen"));
	CU_ASSERT_EQUAL(etcd_guest_dec(s, &g2), 0);
	CU_ASSERT(!memcmp(&g, &g2, sizeof(g)));
	free(s);
	g.underlay_plen = 16;
	s = etcd_guest_enc(&g, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"underlay_plen\":16"));
	CU_ASSERT_EQUAL(etcd_guest_dec(s, &g2), 0);
	CU_ASSERT(!memcmp(&g, &g2, sizeof(g)));
	CU_ASSERT_EQUAL(g2.underlay_plen, 16);
	free(s);
	/* A length the address cannot have, or not a number: refused. */
	CU_ASSERT_EQUAL(etcd_guest_dec("{\"name\":\"g1\",\"underlay\":"
				       "\"10.78.0.3\",\"underlay_plen\":33}",
				       &g2),
			-EIO);
	CU_ASSERT_EQUAL(etcd_guest_dec("{\"name\":\"g1\",\"underlay\":"
				       "\"10.78.0.3\",\"underlay_plen\":\"16\"}",
				       &g2),
			-EIO);
	CU_ASSERT_EQUAL(etcd_guest_dec("{\"name\":\"g1\",\"underlay_plen\":8}",
				       &g2),
			-EIO);

	memset(&c, 0, sizeof(c));
	strcpy(c.id, "c1");
	strcpy(c.name, "web");
	strcpy(c.guest, "g1");
	strcpy(c.netns, "/run/netns/x");
	strcpy(c.ports, "[]");
	s = etcd_container_enc(&c, 4);
	CU_ASSERT_EQUAL(etcd_container_dec(s, &c2, &seq), 0);
	CU_ASSERT(!memcmp(&c, &c2, sizeof(c)));
	CU_ASSERT_EQUAL(seq, 4);
	free(s);

	memset(&gn, 0, sizeof(gn));
	strcpy(gn.guest, "g1");
	strcpy(gn.network_id, "n1");
	strcpy(gn.public_key, "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=");
	gn.listen_port = 51820;
	gn.key_created = 1800000000;
	s = etcd_guest_net_enc(&gn);
	CU_ASSERT_EQUAL(etcd_guest_net_dec(s, &gn2), 0);
	CU_ASSERT(!memcmp(&gn, &gn2, sizeof(gn)));
	free(s);
	/* Written before the key age was kept: unknown. */
	CU_ASSERT_EQUAL(etcd_guest_net_dec("{\"guest\":\"g\",\"network_id\":"
					   "\"n\",\"listen_port\":7}",
					   &gn2),
			0);
	CU_ASSERT_EQUAL(gn2.key_created, 0);
	CU_ASSERT_EQUAL(etcd_guest_net_dec("{\"guest\":\"g\",\"network_id\":"
					   "\"n\",\"listen_port\":70000}",
					   &gn2),
			-EIO);
}

static void test_key_network(void)
{
	char buf[80], *a, *b;
	struct st_guest g;

	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/endpoints/n1/c1",
						NULL, NULL, buf, sizeof(buf)),
			       "n1");
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guestnets/g1/n2",
						"{}", NULL, buf, sizeof(buf)),
			       "n2");
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/networks/n3", "{}",
						NULL, buf, sizeof(buf)),
			       "n3");
	CU_ASSERT_PTR_NULL(etcd_key_network("/wgnet/v1/ipam/n1/10.0.0.2", "x",
					    NULL, buf, sizeof(buf)));
	CU_ASSERT_PTR_NULL(etcd_key_network("/wgnet/v1/hosts/A", "x", NULL,
					    buf, sizeof(buf)));
	CU_ASSERT_PTR_NULL(etcd_key_network("/wgnet/v1/networksX/n", "x",
					    NULL, buf, sizeof(buf)));
	/* A guest: new, deleted, moved or dead = every network; a liveness
	 * update = none. */
	memset(&g, 0, sizeof(g));
	strcpy(g.name, "g1");
	ip_parse("10.78.0.3", &g.underlay);
	g.state = ST_GUEST_UP;
	a = etcd_guest_enc(&g, 0);
	g.last_seen = 5;
	g.state = ST_GUEST_DOWN;
	b = etcd_guest_enc(&g, 0);
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guests/g1", a, NULL,
						buf, sizeof(buf)),
			       "*");
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guests/g1", NULL, a,
						buf, sizeof(buf)),
			       "*");
	CU_ASSERT_PTR_NULL(etcd_key_network("/wgnet/v1/guests/g1", b, a, buf,
					    sizeof(buf)));
	free(b);
	g.state = ST_GUEST_DEAD;
	b = etcd_guest_enc(&g, 0);
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guests/g1", b, a,
						buf, sizeof(buf)),
			       "*");
	free(b);
	g.state = ST_GUEST_UP;
	ip_parse("10.78.0.9", &g.underlay);
	b = etcd_guest_enc(&g, 0);
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guests/g1", b, a,
						buf, sizeof(buf)),
			       "*");
	free(a);
	a = b;
	/* Its underlay network changed: the isolation set may have. */
	g.underlay_plen = 16;
	b = etcd_guest_enc(&g, 0);
	CU_ASSERT_STRING_EQUAL(etcd_key_network("/wgnet/v1/guests/g1", b, a,
						buf, sizeof(buf)),
			       "*");
	free(a);
	free(b);
}

void suite_etcd(void)
{
	CU_pSuite s = CU_add_suite("etcd", NULL, NULL);

	CU_add_test(s, "base64", test_b64);
	CU_add_test(s, "keys and prefix ends", test_keys);
	CU_add_test(s, "range requests", test_range_req);
	CU_add_test(s, "transactions", test_txn);
	CU_add_test(s, "kvs of a response", test_kvs);
	CU_add_test(s, "values round-trip", test_values);
	CU_add_test(s, "watched key -> network", test_key_network);
}
