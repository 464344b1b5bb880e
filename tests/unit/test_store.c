// SPDX-License-Identifier: GPL-2.0
/* The SQLite store on a real file in a private temporary directory. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../host/store.h"
#include "../../host/store_sqlite_int.h"

void suite_store(void);

static char tmpdir[64];
static char dbpath[128];
static struct store *st;

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int store_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wgnet-store-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* A parent that does not exist yet: the store creates it. */
	snprintf(dbpath, sizeof(dbpath), "%s/lib/wgnet/state.db", tmpdir);
	st = store_sqlite_open(dbpath);
	return st ? 0 : -1;
}

static int store_cleanup(void)
{
	if (st)
		st->ops->close(st);
	st = NULL;
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void reopen(void)
{
	st->ops->close(st);
	st = store_open(dbpath);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
}

static struct ip_prefix pfx(const char *s)
{
	struct ip_prefix p;

	CU_ASSERT_FATAL(prefix_parse(s, false, &p) == 0);
	return p;
}

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	CU_ASSERT_FATAL(ip_parse(s, &a) == 0);
	return a;
}

static const char *fa(const struct ip_addr *a)
{
	static __thread char buf[4][IPNET_STRLEN];
	static __thread int k;

	return ip_fmt(a, buf[k++ & 3]);
}

static const char *fp(const struct ip_prefix *p)
{
	static __thread char buf[4][IPNET_STRLEN];
	static __thread int k;

	return prefix_fmt(p, buf[k++ & 3]);
}

static void req_init(struct st_network_req *r, const char *name,
		     const char *subnet)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (subnet)
		r->subnet4 = pfx(subnet);
}

static int net_new(const char *name, const char *subnet, struct st_network *n)
{
	struct st_network_req r;

	req_init(&r, name, subnet);
	return st->ops->network_create(st, &r, n);
}

static int ct_new(const char *id, const char *name)
{
	struct st_container c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.guest, sizeof(c.guest), "g1");
	return st->ops->container_add(st, &c);
}

static int ep_new(const char *net_id, const char *ct_id, const char *ip4,
		  struct st_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	snprintf(ep->network_id, sizeof(ep->network_id), "%s", net_id);
	snprintf(ep->container_id, sizeof(ep->container_id), "%s", ct_id);
	if (ip4)
		ep->ip4 = addr(ip4);
	return st->ops->endpoint_create(st, ep);
}

static void test_open(void)
{
	struct stat sb;
	char dir[160], *mode = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt;
	struct store *s2;

	CU_ASSERT_EQUAL_FATAL(stat(dbpath, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	snprintf(dir, sizeof(dir), "%s/lib/wgnet", tmpdir);
	CU_ASSERT_EQUAL_FATAL(stat(dir, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0700);

	/* The file really is in WAL mode with our schema. */
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY,
					      NULL),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt,
					   NULL),
			SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		mode = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	CU_ASSERT_PTR_NOT_NULL(mode);
	if (mode)
		CU_ASSERT_STRING_EQUAL(mode, "wal");
	free(mode);
	CU_ASSERT_EQUAL(sqlite3_prepare_v2(db,
					   "SELECT version FROM schema_version",
					   -1, &stmt, NULL),
			SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_step(stmt), SQLITE_ROW);
	CU_ASSERT_EQUAL(sqlite3_column_int(stmt, 0), 5);
	sqlite3_finalize(stmt);
	sqlite3_close(db);

	/* URIs. */
	errno = 0;
	/* etcd (issue 9): nothing listens on port 1, so nothing answers. */
	CU_ASSERT_PTR_NULL(store_open("etcd://127.0.0.1:1"));
	CU_ASSERT_EQUAL(errno, ENOTCONN);
	/* etcd on unix sockets: no such socket, so nothing answers. */
	errno = 0;
	CU_ASSERT_PTR_NULL(store_open("etcd+unix:///nonexistent/wgnet-test-m1,"
				      "/nonexistent/wgnet-test-m2"));
	CU_ASSERT_EQUAL(errno, ENOTCONN);
	/* A relative path, an empty member or one too long for sun_path. */
	errno = 0;
	CU_ASSERT_PTR_NULL(store_open("etcd+unix://relative.sock"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(store_open("etcd+unix://"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	memset(dir, 'x', sizeof(dir));
	memcpy(dir, "etcd+unix:///", 13);
	dir[13 + 120] = 0;
	errno = 0;
	CU_ASSERT_PTR_NULL(store_open(dir));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_TRUE(store_uri_is_etcd("etcd+unix:///a"));
	CU_ASSERT_TRUE(store_uri_is_etcd("etcd://h:1"));
	CU_ASSERT_FALSE(store_uri_is_etcd("sqlite:/x"));
	errno = 0;
	CU_ASSERT_PTR_NULL(store_open(""));
	CU_ASSERT_EQUAL(errno, EINVAL);
	snprintf(dir, sizeof(dir), "sqlite:%s", dbpath);
	s2 = store_open(dir);
	CU_ASSERT_PTR_NOT_NULL(s2);
	if (s2)
		s2->ops->close(s2);
}

static void test_networks(void)
{
	struct st_network a, b, c, d, e, g;
	struct st_network_req r;
	char pre[13];

	CU_ASSERT_EQUAL_FATAL(net_new("net-a", NULL, &a), 0);
	CU_ASSERT_EQUAL_FATAL(net_new("net-b", NULL, &b), 0);
	CU_ASSERT_STRING_EQUAL(fp(&a.subnet4), "172.18.0.0/16");
	CU_ASSERT_STRING_EQUAL(fa(&a.gw4), "172.18.0.1");
	CU_ASSERT_STRING_EQUAL(fp(&b.subnet4), "172.19.0.0/16");
	CU_ASSERT_STRING_EQUAL(a.driver, "wgnet");
	CU_ASSERT_STRING_EQUAL(a.labels, "{}");
	CU_ASSERT_EQUAL(strlen(a.id), 64);
	CU_ASSERT_STRING_NOT_EQUAL(a.id, b.id);
	CU_ASSERT(a.created > 0);

	/* An explicit subnet that an auto pick then skips. */
	req_init(&r, "net-c", "172.20.0.0/16");
	r.range4 = pfx("172.20.10.0/24");
	r.gw4 = addr("172.20.0.254");
	r.internal = true;
	snprintf(r.labels, sizeof(r.labels), "{\"a\":\"b\"}");
	CU_ASSERT_EQUAL_FATAL(st->ops->network_create(st, &r, &c), 0);
	CU_ASSERT_STRING_EQUAL(fp(&c.range4), "172.20.10.0/24");
	CU_ASSERT_STRING_EQUAL(fa(&c.gw4), "172.20.0.254");
	CU_ASSERT(c.internal);
	CU_ASSERT_STRING_EQUAL(c.labels, "{\"a\":\"b\"}");
	CU_ASSERT_EQUAL_FATAL(net_new("net-d", NULL, &d), 0);
	CU_ASSERT_STRING_EQUAL(fp(&d.subnet4), "172.21.0.0/16");

	/* Dual stack. */
	req_init(&r, "net-e", "10.50.0.0/24");
	r.ipv6 = true;
	r.subnet6 = pfx("fd00:50::/64");
	CU_ASSERT_EQUAL_FATAL(st->ops->network_create(st, &r, &e), 0);
	CU_ASSERT(e.ipv6);
	CU_ASSERT_STRING_EQUAL(fa(&e.gw6), "fd00:50::1");

	/* Errors. */
	CU_ASSERT_EQUAL(net_new("net-a", "10.70.0.0/24", &g), -EEXIST);
	CU_ASSERT_EQUAL(net_new("net-x", "10.50.0.128/25", &g), -EADDRINUSE);
	CU_ASSERT_EQUAL(net_new("net-x", "172.0.0.0/8", &g), -EADDRINUSE);
	CU_ASSERT_EQUAL(net_new("net-x", "10.60.0.5/24", &g), -EINVAL);
	CU_ASSERT_EQUAL(net_new("net-x", "10.60.0.0/31", &g), -EINVAL);
	CU_ASSERT_EQUAL(net_new("", NULL, &g), -EINVAL);
	req_init(&r, "net-x", "10.60.0.0/24");
	r.gw4 = addr("10.61.0.1");
	CU_ASSERT_EQUAL(st->ops->network_create(st, &r, &g), -EINVAL);
	req_init(&r, "net-x", NULL);
	r.ipv6 = true; /* no IPv6 subnet */
	CU_ASSERT_EQUAL(st->ops->network_create(st, &r, &g), -EINVAL);
	req_init(&r, "net-x", "10.60.0.0/24");
	r.subnet6 = pfx("fd00:50:0:0:1::/80");
	CU_ASSERT_EQUAL(st->ops->network_create(st, &r, &g), -EADDRINUSE);
	CU_ASSERT_EQUAL(st->ops->network_get(st, "net-x", &g), -ENOENT);

	/* Lookups. */
	CU_ASSERT_EQUAL(st->ops->network_get(st, "net-c", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.id, c.id);
	CU_ASSERT_STRING_EQUAL(fp(&g.subnet4), "172.20.0.0/16");
	CU_ASSERT_STRING_EQUAL(fp(&g.range4), "172.20.10.0/24");
	CU_ASSERT_STRING_EQUAL(fa(&g.gw4), "172.20.0.254");
	CU_ASSERT_EQUAL(g.subnet6.addr.family, 0);
	CU_ASSERT_EQUAL(st->ops->network_get(st, b.id, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.name, "net-b");
	snprintf(pre, sizeof(pre), "%.12s", d.id);
	CU_ASSERT_EQUAL(st->ops->network_get(st, pre, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.name, "net-d");
	CU_ASSERT_EQUAL(st->ops->network_get(st, "net-e", &g), 0);
	CU_ASSERT_STRING_EQUAL(fp(&g.subnet6), "fd00:50::/64");
	CU_ASSERT_EQUAL(st->ops->network_get(st, "nope", &g), -ENOENT);
	CU_ASSERT_EQUAL(st->ops->network_get(st, "", &g), -ENOENT);
}

/* 17 ids cannot all start with different hex digits: an ambiguous
 * one-character prefix must exist. */
static void test_network_prefix(void)
{
	struct st_network n[17], g;
	char name[32], sub[32], pre[2] = "";
	int i, j, found = 0;

	for (i = 0; i < 17; i++) {
		snprintf(name, sizeof(name), "pfx-%d", i);
		snprintf(sub, sizeof(sub), "10.100.%d.0/24", i);
		CU_ASSERT_EQUAL_FATAL(net_new(name, sub, &n[i]), 0);
	}
	for (i = 0; i < 17 && !found; i++)
		for (j = i + 1; j < 17 && !found; j++)
			if (n[i].id[0] == n[j].id[0]) {
				pre[0] = n[i].id[0];
				found = 1;
			}
	CU_ASSERT_FATAL(found);
	CU_ASSERT_EQUAL(st->ops->network_get(st, pre, &g), -EINVAL);
	for (i = 0; i < 17; i++)
		CU_ASSERT_EQUAL(st->ops->network_delete(st, n[i].id), 0);
	CU_ASSERT_EQUAL(st->ops->network_get(st, "pfx-3", &g), -ENOENT);
	CU_ASSERT_EQUAL(st->ops->network_delete(st, n[3].id), -ENOENT);
}

static void test_containers(void)
{
	struct st_container c, *list = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL(ct_new("c0ffee0001", "web"), 0);
	CU_ASSERT_EQUAL(ct_new("c0ffee0002", "db"), 0);
	CU_ASSERT_EQUAL(ct_new("beef0003", ""), 0);
	CU_ASSERT_EQUAL(ct_new("beef0004", ""), 0); /* two unnamed: fine */
	CU_ASSERT_EQUAL(ct_new("c0ffee0001", "other"), -EEXIST);
	CU_ASSERT_EQUAL(ct_new("c0ffee0009", "web"), -EEXIST);
	CU_ASSERT_EQUAL(ct_new("", "noid"), -EINVAL);

	CU_ASSERT_EQUAL(st->ops->container_get(st, "web", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.id, "c0ffee0001");
	CU_ASSERT_STRING_EQUAL(c.guest, "g1");
	CU_ASSERT_STRING_EQUAL(c.ports, "[]");
	CU_ASSERT_EQUAL(st->ops->container_get(st, "c0ffee0002", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "db");
	CU_ASSERT_EQUAL(st->ops->container_get(st, "beef0003", &c), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "");
	CU_ASSERT_EQUAL(st->ops->container_get(st, "beef", &c), -EINVAL);
	CU_ASSERT_EQUAL(st->ops->container_get(st, "beef0004", &c), 0);
	CU_ASSERT_EQUAL(st->ops->container_get(st, "c0ffee0", &c), -EINVAL);
	CU_ASSERT_EQUAL(st->ops->container_get(st, "c0ffee0002x", &c), -ENOENT);

	CU_ASSERT_EQUAL(st->ops->container_list(st, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	if (n == 4) {
		CU_ASSERT_STRING_EQUAL(list[0].name, "web");
		CU_ASSERT_STRING_EQUAL(list[3].id, "beef0004");
	}
	free(list);
	/* One guest's containers, by its index. */
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "dd0005");
	snprintf(c.guest, sizeof(c.guest), "g2");
	CU_ASSERT_EQUAL(st->ops->container_add(st, &c), 0);
	CU_ASSERT_EQUAL(st->ops->container_list_guest(st, "g1", &list, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	free(list);
	CU_ASSERT_EQUAL(st->ops->container_list_guest(st, "g2", &list, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1)
		CU_ASSERT_STRING_EQUAL(list[0].id, "dd0005");
	free(list);
	CU_ASSERT_EQUAL(st->ops->container_list_guest(st, "g", &list, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(list);
	CU_ASSERT_EQUAL(st->ops->container_delete(st, "dd0005"), 0);
	CU_ASSERT_EQUAL(st->ops->container_delete(st, "beef0004"), 0);
	CU_ASSERT_EQUAL(st->ops->container_delete(st, "beef0004"), -ENOENT);
}

static void test_endpoints(void)
{
	struct st_network small, dual, g;
	struct st_network_req r;
	struct st_endpoint ep, *list = NULL;
	char id[16];
	size_t n = 0;
	int i;

	CU_ASSERT_EQUAL_FATAL(net_new("small", "10.9.8.0/29", &small), 0);
	req_init(&r, "dual", "10.9.9.0/24");
	r.range4 = pfx("10.9.9.128/25");
	r.ipv6 = true;
	r.subnet6 = pfx("fd00:99::/64");
	CU_ASSERT_EQUAL_FATAL(st->ops->network_create(st, &r, &dual), 0);

	/* The /29 gives five addresses, first-free, then -ENOSPC. */
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "ep%02d", i);
		CU_ASSERT_EQUAL_FATAL(ct_new(id, id), 0);
	}
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "ep%02d", i);
		CU_ASSERT_EQUAL_FATAL(ep_new(small.id, id, NULL, &ep), 0);
		CU_ASSERT_EQUAL(ep.ip4.family, AF_INET);
		CU_ASSERT_EQUAL(ep.ip6.family, 0);
		CU_ASSERT_EQUAL(ep.seq, 1);
		CU_ASSERT_EQUAL(strlen(ep.id), 64);
	}
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.8.6");
	CU_ASSERT_STRING_EQUAL(ep.mac, "02:42:0a:09:08:06");
	CU_ASSERT_STRING_EQUAL(ep.aliases, "[]");
	CU_ASSERT_EQUAL(ep_new(small.id, "ep05", NULL, &ep), -ENOSPC);
	CU_ASSERT_EQUAL(ep_new(small.id, "ep00", NULL, &ep), -EEXIST);
	CU_ASSERT_EQUAL(ep_new(small.id, "nope", NULL, &ep), -ENOENT);
	CU_ASSERT_EQUAL(ep_new("nope", "ep05", NULL, &ep), -ENOENT);

	/* Static addresses on the dual-stack network. */
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep00", "10.9.9.5", &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.9.5"); /* outside range */
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip6), "fd00:99::2");
	CU_ASSERT_EQUAL(ep.seq, 2); /* its second network */
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep01", "10.9.9.5", &ep), -EEXIST);
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep01", "10.9.9.1", &ep), -EINVAL);
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep01", "10.9.9.255", &ep), -EINVAL);
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep01", "10.9.10.5", &ep), -EINVAL);
	/* Dynamic: from the range. */
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep01", NULL, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.9.128");
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip6), "fd00:99::3");
	/* Static IPv6. */
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.network_id, sizeof(ep.network_id), "%s", dual.id);
	snprintf(ep.container_id, sizeof(ep.container_id), "ep02");
	ep.ip6 = addr("fd00:99::3");
	CU_ASSERT_EQUAL(st->ops->endpoint_create(st, &ep), -EEXIST);
	ep.ip6 = addr("fd00:99::ffff:ffff:ffff:ffff");
	snprintf(ep.aliases, sizeof(ep.aliases), "[\"db\"]");
	CU_ASSERT_EQUAL(st->ops->endpoint_create(st, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.9.129");
	CU_ASSERT_STRING_EQUAL(ep.aliases, "[\"db\"]");
	/* IPv6 on an IPv4-only network. */
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.network_id, sizeof(ep.network_id), "%s", small.id);
	snprintf(ep.container_id, sizeof(ep.container_id), "ep05");
	ep.ip6 = addr("fd00:99::9");
	CU_ASSERT_EQUAL(st->ops->endpoint_create(st, &ep), -EINVAL);

	/* get / list. */
	CU_ASSERT_EQUAL(st->ops->endpoint_get(st, dual.id, "ep02", &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip6), "fd00:99::ffff:ffff:ffff:ffff");
	CU_ASSERT_STRING_EQUAL(ep.mac, "02:42:0a:09:09:81");
	CU_ASSERT_EQUAL(st->ops->endpoint_get(st, dual.id, "ep04", &ep),
			-ENOENT);
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, small.id, NULL, &list, &n),
			0);
	CU_ASSERT_EQUAL(n, 5);
	free(list);
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, NULL, "ep00", &list, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	if (n == 2) {
		CU_ASSERT_EQUAL(list[0].seq, 1);
		CU_ASSERT_EQUAL(list[1].seq, 2);
	}
	free(list);
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, dual.id, "ep01", &list, &n),
			0);
	CU_ASSERT_EQUAL(n, 1);
	free(list);

	/* Busy network; freeing addresses. */
	CU_ASSERT_EQUAL(st->ops->network_delete(st, small.id), -EBUSY);
	CU_ASSERT_EQUAL(st->ops->container_delete(st, "ep02"), 0); /* .4 */
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, NULL, "ep02", &list, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(list);
	CU_ASSERT_EQUAL(ep_new(small.id, "ep05", NULL, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.8.4");
	CU_ASSERT_EQUAL(st->ops->endpoint_delete(st, small.id, "ep01"), 0);
	CU_ASSERT_EQUAL(st->ops->endpoint_delete(st, small.id, "ep01"),
			-ENOENT);
	CU_ASSERT_EQUAL(ep_new(small.id, "ep01", NULL, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.8.3");
	/* The freed dual-stack addresses come back too. */
	CU_ASSERT_EQUAL(ct_new("ep02", "ep02"), 0);
	CU_ASSERT_EQUAL(ep_new(dual.id, "ep02", NULL, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.9.9.129");
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip6), "fd00:99::4");
	CU_ASSERT_EQUAL(ep.seq, 1);
	CU_ASSERT_EQUAL(st->ops->network_get(st, "small", &g), 0);
}

static void test_guests(void)
{
	struct st_guest g, out, *list = NULL;
	size_t n = 0;

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "vm1");
	snprintf(g.control, sizeof(g.control), "unix:/run/vm1.sock");
	snprintf(g.backend, sizeof(g.backend), "go");
	g.underlay = addr("192.0.2.10");
	g.underlay_plen = 24;
	g.state = ST_GUEST_UP;
	g.last_seen = 1700000000;
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), 0);
	CU_ASSERT_EQUAL(st->ops->guest_get(st, "vm1", &out), 0);
	CU_ASSERT_STRING_EQUAL(out.control, "unix:/run/vm1.sock");
	CU_ASSERT_STRING_EQUAL(fa(&out.underlay), "192.0.2.10");
	CU_ASSERT_EQUAL(out.underlay_plen, 24);
	/* A length the address cannot have is refused, nothing written. */
	g.underlay_plen = 33;
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), -EINVAL);
	g.underlay_plen = -1;
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), -EINVAL);
	CU_ASSERT_EQUAL(st->ops->guest_get(st, "vm1", &out), 0);
	CU_ASSERT_EQUAL(out.underlay_plen, 24);
	g.underlay_plen = 0;
	CU_ASSERT_EQUAL(out.state, ST_GUEST_UP);
	CU_ASSERT_EQUAL(out.last_seen, 1700000000);

	/* Upsert. */
	g.state = ST_GUEST_DOWN;
	memset(&g.underlay, 0, sizeof(g.underlay));
	snprintf(g.host_id, sizeof(g.host_id), "h2");
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), 0);
	CU_ASSERT_EQUAL(st->ops->guest_get(st, "vm1", &out), 0);
	CU_ASSERT_EQUAL(out.state, ST_GUEST_DOWN);
	CU_ASSERT_EQUAL(out.underlay.family, 0);
	CU_ASSERT_STRING_EQUAL(out.host_id, "h2");
	snprintf(g.name, sizeof(g.name), "vm2");
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), 0);
	CU_ASSERT_EQUAL(st->ops->guest_list(st, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	free(list);
	CU_ASSERT_EQUAL(st->ops->guest_delete(st, "vm2"), 0);
	CU_ASSERT_EQUAL(st->ops->guest_delete(st, "vm2"), -ENOENT);
	CU_ASSERT_EQUAL(st->ops->guest_get(st, "vm2", &out), -ENOENT);
}

static void test_guest_nets(void)
{
	struct st_guest_net gn, out, *list = NULL;
	struct st_network a, tmp;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(st->ops->network_get(st, "net-a", &a), 0);
	CU_ASSERT_EQUAL_FATAL(net_new("gn-tmp", "10.77.0.0/24", &tmp), 0);
	memset(&gn, 0, sizeof(gn));
	snprintf(gn.guest, sizeof(gn.guest), "vm1");
	snprintf(gn.network_id, sizeof(gn.network_id), "%s", a.id);
	snprintf(gn.public_key, sizeof(gn.public_key),
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	gn.listen_port = 51821;
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), 0);
	CU_ASSERT_EQUAL(st->ops->guest_net_get(st, "vm1", a.id, &out), 0);
	CU_ASSERT_EQUAL(out.mtu, 0);
	CU_ASSERT_EQUAL(out.key_created, 0);
	gn.listen_port = 51822; /* upsert */
	gn.mtu = 1200;
	gn.key_created = 1800000000;
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), 0);
	CU_ASSERT_EQUAL(st->ops->guest_net_get(st, "vm1", a.id, &out), 0);
	CU_ASSERT_EQUAL(out.listen_port, 51822);
	CU_ASSERT_EQUAL(out.mtu, 1200);
	CU_ASSERT_EQUAL(out.key_created, 1800000000);
	CU_ASSERT_STRING_EQUAL(out.public_key, gn.public_key);
	snprintf(gn.guest, sizeof(gn.guest), "vm3");
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), 0);
	snprintf(gn.network_id, sizeof(gn.network_id), "%s", tmp.id);
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), 0);
	snprintf(gn.network_id, sizeof(gn.network_id), "nonexistent");
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), -ENOENT);

	CU_ASSERT_EQUAL(st->ops->guest_net_list(st, a.id, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	free(list);
	CU_ASSERT_EQUAL(st->ops->guest_net_list(st, NULL, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	free(list);
	CU_ASSERT_EQUAL(st->ops->guest_net_delete(st, "vm3", a.id), 0);
	CU_ASSERT_EQUAL(st->ops->guest_net_delete(st, "vm3", a.id), -ENOENT);
	CU_ASSERT_EQUAL(st->ops->guest_net_get(st, "vm3", a.id, &out), -ENOENT);
	/* Deleting a network takes its guest_nets rows along. */
	CU_ASSERT_EQUAL(st->ops->network_delete(st, "gn-tmp"), 0);
	CU_ASSERT_EQUAL(st->ops->guest_net_get(st, "vm3", tmp.id, &out),
			-ENOENT);
	CU_ASSERT_EQUAL(st->ops->guest_net_list(st, NULL, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	free(list);
}

/* A version-1 file (no guest_nets.mtu) is migrated in place, rows kept. */
static void test_migrate_v1(void)
{
	char path[160];
	struct store *s1;
	struct st_guest_net out;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/v1.db", tmpdir);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
	CU_ASSERT_EQUAL(
		sqlite3_exec(
			db,
			"CREATE TABLE schema_version (version INTEGER NOT NULL);"
			"INSERT INTO schema_version VALUES (1);"
			"CREATE TABLE networks (id TEXT PRIMARY KEY);"
			"INSERT INTO networks VALUES ('aaaaaaaaaaaa');"
			"CREATE TABLE guests (name TEXT PRIMARY KEY,"
			" control TEXT NOT NULL DEFAULT '',"
			" host_id TEXT NOT NULL DEFAULT '', underlay TEXT,"
			" backend TEXT NOT NULL DEFAULT '',"
			" state INTEGER NOT NULL DEFAULT 0,"
			" last_seen INTEGER NOT NULL DEFAULT 0);"
			"INSERT INTO guests VALUES ('vm1', 'unix:/run/vm1', '',"
			" '10.77.0.1', 'go', 1, 0);"
			"CREATE TABLE containers (id TEXT PRIMARY KEY,"
			" guest TEXT NOT NULL DEFAULT '');"
			"CREATE TABLE guest_nets (guest TEXT NOT NULL,"
			" network_id TEXT NOT NULL REFERENCES networks(id),"
			" public_key TEXT NOT NULL, listen_port INTEGER NOT NULL,"
			" PRIMARY KEY (guest, network_id));"
			"INSERT INTO guest_nets VALUES ('vm1', 'aaaaaaaaaaaa',"
			" 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 51820);",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	s1 = store_sqlite_open(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	CU_ASSERT_EQUAL(s1->ops->guest_net_get(s1, "vm1", "aaaaaaaaaaaa", &out),
			0);
	CU_ASSERT_EQUAL(out.listen_port, 51820);
	CU_ASSERT_EQUAL(out.mtu, 0);
	CU_ASSERT_EQUAL(out.key_created, 0); /* 4: unknown age */
	out.key_created = 1800000000;
	CU_ASSERT_EQUAL(s1->ops->guest_net_put(s1, &out), 0);
	CU_ASSERT_EQUAL(s1->ops->guest_net_get(s1, "vm1", "aaaaaaaaaaaa", &out),
			0);
	CU_ASSERT_EQUAL(out.key_created, 1800000000);
	CU_ASSERT_STRING_EQUAL(out.public_key,
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	s1->ops->close(s1);
	/* Opened again: already version 5 (2 added networks.gen, 4
	 * guest_nets.key_created, 5 guests.underlay_plen). */
	s1 = store_sqlite_open(path);
	CU_ASSERT_PTR_NOT_NULL(s1);
	if (s1)
		s1->ops->close(s1);
}

/* A version-4 file (no guests.underlay_plen) is migrated in place: every
 * guest kept, an old row counts as its address alone (/32, /128). */
static void test_migrate_v4(void)
{
	char path[160];
	struct st_guest *list = NULL, g;
	struct store *s1;
	sqlite3 *db = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/v4.db", tmpdir);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
	CU_ASSERT_EQUAL(
		sqlite3_exec(
			db,
			"CREATE TABLE schema_version (version INTEGER NOT NULL);"
			"INSERT INTO schema_version VALUES (4);"
			"CREATE TABLE guests (name TEXT PRIMARY KEY,"
			" control TEXT NOT NULL DEFAULT '',"
			" host_id TEXT NOT NULL DEFAULT '', underlay TEXT,"
			" backend TEXT NOT NULL DEFAULT '',"
			" state INTEGER NOT NULL DEFAULT 0,"
			" last_seen INTEGER NOT NULL DEFAULT 0);"
			"INSERT INTO guests VALUES ('g4', 'unix:/run/g4', '',"
			" '10.77.0.4', 'go', 1, 1700000004);"
			"INSERT INTO guests VALUES ('g6', 'unix:/run/g6', 'B',"
			" 'fd00:77::6', 'go', 2, 1700000006);"
			"INSERT INTO guests VALUES ('gx', 'unix:/run/gx', '',"
			" NULL, '', 0, 0);",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	s1 = store_sqlite_open(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	CU_ASSERT_EQUAL(s1->ops->guest_list(s1, &list, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0].name, "g4");
	CU_ASSERT_STRING_EQUAL(fa(&list[0].underlay), "10.77.0.4");
	CU_ASSERT_EQUAL(list[0].underlay_plen, 32);
	CU_ASSERT_EQUAL(list[0].last_seen, 1700000004);
	CU_ASSERT_STRING_EQUAL(fa(&list[1].underlay), "fd00:77::6");
	CU_ASSERT_EQUAL(list[1].underlay_plen, 128);
	CU_ASSERT_STRING_EQUAL(list[1].host_id, "B");
	CU_ASSERT_EQUAL(list[2].underlay.family, 0);
	CU_ASSERT_EQUAL(list[2].underlay_plen, 0);
	free(list);
	/* The new column is written and read back. */
	CU_ASSERT_EQUAL(s1->ops->guest_get(s1, "g4", &g), 0);
	g.underlay_plen = 16;
	CU_ASSERT_EQUAL(s1->ops->guest_put(s1, &g), 0);
	s1->ops->close(s1);
	s1 = store_sqlite_open(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	CU_ASSERT_EQUAL(s1->ops->guest_get(s1, "g4", &g), 0);
	CU_ASSERT_EQUAL(g.underlay_plen, 16);
	s1->ops->close(s1);
}

static void test_persistence(void)
{
	struct st_network *nets = NULL, g;
	struct st_endpoint *eps = NULL, ep;
	struct st_guest_net gn;
	struct st_guest gu;
	size_t n_nets = 0, n_eps = 0, n2 = 0;

	CU_ASSERT_EQUAL(st->ops->network_list(st, &nets, &n_nets), 0);
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, NULL, NULL, &eps, &n_eps),
			0);
	CU_ASSERT_EQUAL(n_nets, 7);
	CU_ASSERT_EQUAL(n_eps, 8);
	reopen();
	free(nets);
	nets = NULL;
	CU_ASSERT_EQUAL(st->ops->network_list(st, &nets, &n2), 0);
	CU_ASSERT_EQUAL(n2, n_nets);
	CU_ASSERT_EQUAL(st->ops->network_get(st, "net-c", &g), 0);
	CU_ASSERT_STRING_EQUAL(fp(&g.range4), "172.20.10.0/24");
	CU_ASSERT_STRING_EQUAL(fa(&g.gw4), "172.20.0.254");
	CU_ASSERT_EQUAL(st->ops->network_get(st, "dual", &g), 0);
	CU_ASSERT_STRING_EQUAL(fp(&g.subnet6), "fd00:99::/64");
	for (size_t i = 0; i < n_eps; i++) {
		CU_ASSERT_EQUAL(st->ops->endpoint_get(st, eps[i].network_id,
						      eps[i].container_id, &ep),
				0);
		CU_ASSERT(ip_equal(&ep.ip4, &eps[i].ip4));
		CU_ASSERT(ip_equal(&ep.ip6, &eps[i].ip6));
		CU_ASSERT_STRING_EQUAL(ep.id, eps[i].id);
		CU_ASSERT_STRING_EQUAL(ep.mac, eps[i].mac);
		CU_ASSERT_EQUAL(ep.seq, eps[i].seq);
	}
	CU_ASSERT_EQUAL(st->ops->guest_get(st, "vm1", &gu), 0);
	CU_ASSERT_EQUAL(st->ops->guest_net_get(st, "vm1", nets[0].id, &gn), 0);
	/* Allocation continues from the stored state. */
	CU_ASSERT_EQUAL(net_new("after", NULL, &g), 0);
	CU_ASSERT_STRING_EQUAL(fp(&g.subnet4), "172.22.0.0/16");
	free(nets);
	free(eps);
}

#define N_THREADS 20

struct thr_arg {
	const char *net_id;
	char ct[16];
	struct st_endpoint ep;
	int err;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;

	memset(&a->ep, 0, sizeof(a->ep));
	snprintf(a->ep.network_id, sizeof(a->ep.network_id), "%s", a->net_id);
	snprintf(a->ep.container_id, sizeof(a->ep.container_id), "%s", a->ct);
	a->err = st->ops->endpoint_create(st, &a->ep);
	return NULL;
}

static void test_threads(void)
{
	struct thr_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	struct st_endpoint *list = NULL, ep;
	struct st_network net;
	size_t n = 0;
	int i, j;

	CU_ASSERT_EQUAL_FATAL(net_new("threads", "10.20.0.0/24", &net), 0);
	for (i = 0; i < N_THREADS; i++) {
		args[i].net_id = net.id;
		snprintf(args[i].ct, sizeof(args[i].ct), "thr%02d", i);
		CU_ASSERT_EQUAL_FATAL(ct_new(args[i].ct, args[i].ct), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(
			pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
	for (i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < N_THREADS; i++) {
		CU_ASSERT_EQUAL(args[i].err, 0);
		CU_ASSERT(prefix_contains(&net.subnet4, &args[i].ep.ip4));
		for (j = 0; j < i; j++)
			CU_ASSERT(!ip_equal(&args[i].ep.ip4, &args[j].ep.ip4));
	}
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, net.id, NULL, &list, &n), 0);
	CU_ASSERT_EQUAL(n, N_THREADS);
	free(list);
	/* First-free: they took exactly .2 … .21, so .22 is next. */
	CU_ASSERT_EQUAL(ep_new(net.id, "thr00", NULL, &ep), -EEXIST);
	CU_ASSERT_EQUAL(ct_new("thr-x", "thr-x"), 0);
	CU_ASSERT_EQUAL(ep_new(net.id, "thr-x", NULL, &ep), 0);
	CU_ASSERT_STRING_EQUAL(fa(&ep.ip4), "10.20.0.22");
}

#define N_PROCS 2
#define N_PER_PROC 25

/* A child: its own connection, N_PER_PROC containers and endpoints. */
static int child_main(int go_fd, int k, const char *net_id)
{
	struct st_container c;
	struct st_endpoint ep;
	struct store *s;
	char buf;
	int i;

	if (read(go_fd, &buf, 1) < 0)
		return 2;
	s = store_open(dbpath);
	if (!s)
		return 3;
	for (i = 0; i < N_PER_PROC; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "proc%d-%02d", k, i);
		snprintf(c.name, sizeof(c.name), "proc%d-%02d", k, i);
		if (s->ops->container_add(s, &c))
			return 4;
		memset(&ep, 0, sizeof(ep));
		snprintf(ep.network_id, sizeof(ep.network_id), "%s", net_id);
		snprintf(ep.container_id, sizeof(ep.container_id), "%s", c.id);
		if (s->ops->endpoint_create(s, &ep))
			return 5;
	}
	s->ops->close(s);
	return 0;
}

static void test_processes(void)
{
	struct st_endpoint *list = NULL;
	struct st_network net;
	int pfd[2], i, j, status;
	pid_t pids[N_PROCS];
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(net_new("procs", "10.21.0.0/24", &net), 0);
	/* No connection of ours may cross fork(). */
	st->ops->close(st);
	st = NULL;
	CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
	for (i = 0; i < N_PROCS; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			break; /* the ones started still get EOF and end */
		if (!pids[i]) {
			close(pfd[1]);
			_exit(child_main(pfd[0], i, net.id));
		}
	}
	close(pfd[0]);
	/* Release both at once: EOF on the pipe. */
	close(pfd[1]);
	for (i = 0; i < N_PROCS; i++) {
		CU_ASSERT_FATAL(pids[i] > 0);
		CU_ASSERT_EQUAL(waitpid(pids[i], &status, 0), pids[i]);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	st = store_open(dbpath);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(st->ops->endpoint_list(st, net.id, NULL, &list, &n), 0);
	CU_ASSERT_EQUAL(n, N_PROCS * N_PER_PROC);
	for (i = 0; i < (int)n; i++) {
		CU_ASSERT(prefix_contains(&net.subnet4, &list[i].ip4));
		for (j = 0; j < i; j++)
			CU_ASSERT(!ip_equal(&list[i].ip4, &list[j].ip4));
	}
	free(list);
}

/* The WAL is checkpointed by the store's own thread, not in the commits
 * (host/store_sqlite_ckpt.c): past SQ_CKPT_PAGES frames it copies them
 * all once the commits pause, and the next commit writes the WAL from its
 * start again. */
static void test_wal_checkpointed(void)
{
	struct sq_ckpt_stats cs;
	char path[160];
	struct st_guest g;
	struct store *ws;

	/* A store of its own: the others' commits would interleave. */
	snprintf(path, sizeof(path), "%s/wal/state.db", tmpdir);
	ws = store_sqlite_open(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "walvm");
	snprintf(g.control, sizeof(g.control), "unix:/run/walvm.sock");
	snprintf(g.backend, sizeof(g.backend), "go");
	/* One frame or more per commit. */
	for (int i = 0; i < SQ_CKPT_PAGES + 200; i++) {
		g.last_seen = i;
		CU_ASSERT_EQUAL_FATAL(ws->ops->guest_put(ws, &g), 0);
	}
	for (int k = 0; k < 200; k++) {
		sq_ckpt_stats(st_to_sq(ws), &cs);
		if (cs.runs && cs.done == cs.log && cs.log == cs.pages)
			break;
		usleep(50000);
	}
	CU_ASSERT(cs.runs >= 1);
	CU_ASSERT(cs.log >= SQ_CKPT_PAGES);
	CU_ASSERT_EQUAL(cs.done, cs.log);
	CU_ASSERT_EQUAL(cs.log, cs.pages);
	g.last_seen = -1;
	CU_ASSERT_EQUAL(ws->ops->guest_put(ws, &g), 0);
	sq_ckpt_stats(st_to_sq(ws), &cs);
	CU_ASSERT(cs.pages > 0 && cs.pages < 10);
	ws->ops->close(ws);
}

void suite_store(void)
{
	CU_pSuite s = CU_add_suite("store", store_init, store_cleanup);

	CU_add_test(s, "open", test_open);
	CU_add_test(s, "networks", test_networks);
	CU_add_test(s, "network id prefixes", test_network_prefix);
	CU_add_test(s, "containers", test_containers);
	CU_add_test(s, "endpoints", test_endpoints);
	CU_add_test(s, "guests", test_guests);
	CU_add_test(s, "guest nets", test_guest_nets);
	CU_add_test(s, "schema 1 migrated", test_migrate_v1);
	CU_add_test(s, "schema 4 migrated (underlay_plen)", test_migrate_v4);
	CU_add_test(s, "persistence", test_persistence);
	CU_add_test(s, "20 threads allocate", test_threads);
	CU_add_test(s, "2 processes allocate", test_processes);
	CU_add_test(s, "WAL checkpointed by its thread", test_wal_checkpointed);
}
