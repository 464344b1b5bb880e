// SPDX-License-Identifier: GPL-2.0
/* Host: the pure parts (names, CLI flags, ports, templates, tables, the
 * network JSON, filters) and the desired-state computations and op
 * validation against a real SQLite store on a temp file (no guests). */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../host/host.h"
#include "wgnet/ipnet.h"
#include "wgnet/proto.h"
#include "../../host/store.h"

void suite_host(void);

static char db_path[64];
static struct store *st;
static struct host *h;

static int host_init(void)
{
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/wgnet-test-host-XXXXXX");
	fd = mkstemp(db_path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(db_path);
	st = store_sqlite_open(db_path);
	if (!st)
		return -1;
	h = host_new(st, "test", 30);
	return h ? 0 : -1;
}

static int host_cleanup(void)
{
	char p[96];

	host_free(h);
	if (st)
		st->ops->close(st);
	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
	return 0;
}

/* Run an op; returns its rc, *res set on success. */
static int run(const char *op, const char *args_json, json_t **res, char **em)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
	json_t *r = NULL;
	char *e = NULL;
	int rc;

	rc = host_dispatch(h, op, args, &r, &e);
	json_decref(args);
	if (res)
		*res = r;
	else
		json_decref(r);
	if (em)
		*em = e;
	else
		free(e);
	return rc;
}

static void test_names(void)
{
	CU_ASSERT_TRUE(host_name_valid("net1"));
	CU_ASSERT_TRUE(host_name_valid("a"));
	CU_ASSERT_TRUE(host_name_valid("my_net.v-2"));
	CU_ASSERT_TRUE(host_name_valid(
		"a234567890123456789012345678901234567890123456789012345678901234"));
	CU_ASSERT_FALSE(host_name_valid(
		"a2345678901234567890123456789012345678901234567890123456789012345"));
	CU_ASSERT_FALSE(host_name_valid(""));
	CU_ASSERT_FALSE(host_name_valid(NULL));
	CU_ASSERT_FALSE(host_name_valid("-net"));
	CU_ASSERT_FALSE(host_name_valid(".net"));
	CU_ASSERT_FALSE(host_name_valid("a/b"));
	CU_ASSERT_FALSE(host_name_valid("a b"));
	CU_ASSERT_FALSE(host_name_valid("a;rm"));
	CU_ASSERT_FALSE(host_name_valid("$(x)"));
}

enum { O_SUBNET, O_DRIVER, O_QUIET, O_FILTER, O_INTERNAL };
static const struct cli_opt test_opts[] = {
	[O_SUBNET] = { "subnet", 0, true },
	[O_DRIVER] = { "driver", 'd', true },
	[O_QUIET] = { "quiet", 'q', false },
	[O_FILTER] = { "filter", 'f', true },
	[O_INTERNAL] = { "internal", 0, false },
	{ NULL, 0, false },
};

static void test_cli_parse(void)
{
	char *argv[] = { "--subnet=10.0.0.0/8",
			 "net1",
			 "--subnet",
			 "fd00::/64",
			 "-d",
			 "wgnet",
			 "-qfname=x",
			 "--internal",
			 "--",
			 "-notaflag" };
	struct cli_args a;
	char err[128];

	CU_ASSERT_EQUAL_FATAL(
		cli_parse(test_opts, 10, argv, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(a.n_pos, 2);
	CU_ASSERT_STRING_EQUAL(a.pos[0], "net1");
	CU_ASSERT_STRING_EQUAL(a.pos[1], "-notaflag");
	CU_ASSERT_STRING_EQUAL(cli_last(&a, O_SUBNET), "fd00::/64");
	CU_ASSERT_STRING_EQUAL(a.vals[0].val, "10.0.0.0/8");
	CU_ASSERT_STRING_EQUAL(cli_last(&a, O_DRIVER), "wgnet");
	CU_ASSERT_TRUE(cli_has(&a, O_QUIET));
	CU_ASSERT_STRING_EQUAL(cli_last(&a, O_FILTER), "name=x");
	CU_ASSERT_TRUE(cli_has(&a, O_INTERNAL));
	cli_args_free(&a);

	{
		char *bad1[] = { "--nope" };
		char *bad2[] = { "--subnet" };
		char *bad3[] = { "-x" };
		char *bad4[] = { "-d" };
		char *ok5[] = { "-d=wgnet", "-f", "a=b" };

		CU_ASSERT_EQUAL(cli_parse(test_opts, 1, bad1, &a, err,
					  sizeof(err)),
				-EINVAL);
		CU_ASSERT_STRING_EQUAL(err, "unknown flag: --nope");
		CU_ASSERT_EQUAL(cli_parse(test_opts, 1, bad2, &a, err,
					  sizeof(err)),
				-EINVAL);
		CU_ASSERT_STRING_EQUAL(err, "flag needs an argument: --subnet");
		CU_ASSERT_EQUAL(cli_parse(test_opts, 1, bad3, &a, err,
					  sizeof(err)),
				-EINVAL);
		CU_ASSERT_EQUAL(cli_parse(test_opts, 1, bad4, &a, err,
					  sizeof(err)),
				-EINVAL);
		CU_ASSERT_EQUAL_FATAL(
			cli_parse(test_opts, 3, ok5, &a, err, sizeof(err)), 0);
		CU_ASSERT_STRING_EQUAL(cli_last(&a, O_DRIVER), "wgnet");
		CU_ASSERT_STRING_EQUAL(cli_last(&a, O_FILTER), "a=b");
		cli_args_free(&a);
	}
	{
		static const struct {
			const char *arg, *err;
		} bad[] = {
			{ "-x", "unknown shorthand flag: 'x' in -x" },
			{ "-qx", "unknown shorthand flag: 'x' in -qx" },
			{ "-d", "flag needs an argument: 'd' in -d" },
			{ "--sub=x", "unknown flag: --sub" },
			{ "--quiet=maybe",
			  "invalid argument \"maybe\" for \"--quiet\" flag" },
		};
		char *qqq[] = { "-qqqq", "-qq", "--quiet=false", "-d", "=x" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			char *argv1[] = { (char *)bad[i].arg };

			CU_ASSERT_EQUAL(cli_parse(test_opts, 1, argv1, &a, err,
						  sizeof(err)),
					-EINVAL);
			CU_ASSERT_STRING_EQUAL(err, bad[i].err);
		}
		/* One value per letter; "=x" apart is a value as it is. */
		CU_ASSERT_EQUAL_FATAL(
			cli_parse(test_opts, 5, qqq, &a, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(a.n_vals, 7);
		CU_ASSERT_STRING_EQUAL(cli_last(&a, O_DRIVER), "=x");
		CU_ASSERT_EQUAL(a.n_pos, 0);
		cli_args_free(&a);
	}
}

static void test_ports(void)
{
	json_t *p = NULL;
	char err[160];

	CU_ASSERT_EQUAL_FATAL(cli_port_parse("8080:80", &p, err, sizeof(err)),
			      0);
	CU_ASSERT_STRING_EQUAL(json_str(p, "proto"), "tcp");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "host_port")),
			8080);
	CU_ASSERT_EQUAL(
		json_integer_value(json_object_get(p, "container_port")), 80);
	CU_ASSERT_PTR_NULL(json_object_get(p, "host_ip"));
	json_decref(p);
	CU_ASSERT_EQUAL_FATAL(cli_port_parse("127.0.0.1:53:5353/udp", &p, err,
					     sizeof(err)),
			      0);
	CU_ASSERT_STRING_EQUAL(json_str(p, "proto"), "udp");
	CU_ASSERT_STRING_EQUAL(json_str(p, "host_ip"), "127.0.0.1");
	json_decref(p);
	CU_ASSERT_EQUAL_FATAL(
		cli_port_parse("[::1]:8443:443", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(json_str(p, "host_ip"), "::1");
	json_decref(p);
	CU_ASSERT_EQUAL(cli_port_parse("80", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cli_port_parse("0:80", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cli_port_parse("8080:70000", &p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(cli_port_parse("8080:80/sctp", &p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(cli_port_parse("1.2.3:8080:80", &p, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(cli_port_parse("a:b", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NULL(p);
}

static void test_format_table(void)
{
	json_t *row = json_pack("{s:s,s:s}", "Name", "net1", "ID", "abc");
	char err[128], *out = NULL, *buf = NULL;
	size_t len = 0;
	struct cli_table *t;
	FILE *f;

	CU_ASSERT_EQUAL(cli_format("{{.Name}}\\t{{ .ID }}!", row, &out, err,
				   sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "net1\tabc!");
	free(out);
	CU_ASSERT_EQUAL(cli_format("{{.Nope}}", row, &out, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Nope"));
	CU_ASSERT_EQUAL(cli_format("{{.Name", row, &out, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(cli_format("{{json .}}", row, &out, err, sizeof(err)),
			-EINVAL);
	json_decref(row);

	t = cli_table_new(3);
	cli_table_add(t, (const char *const[]){ "NETWORK ID", "NAME", "X" });
	cli_table_add(t, (const char *const[]){ "0123456789ab", "n", "y" });
	f = open_memstream(&buf, &len);
	cli_table_print(t, f);
	fclose(f);
	/* Docker's tabwriter: padding 3, minimum width 10. */
	CU_ASSERT_STRING_EQUAL(buf, "NETWORK ID     NAME      X\n"
				    "0123456789ab   n         y\n");
	free(buf);
	cli_table_free(t);
}

static void test_ago(void)
{
	char b[64];

	cli_ago(0, 1000, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "never");
	cli_ago(988, 1000, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "12 seconds ago");
	cli_ago(999, 1000, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "1 second ago");
	cli_ago(1000 - 180, 1000, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "3 minutes ago");
	cli_ago(1, 1 + 2 * 86400 + 5, b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(b, "2 days ago");
}

static void mknet(struct st_network *n, const char *name, const char *s4,
		  const char *r4, const char *s6)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%064x", (unsigned int)strlen(name));
	snprintf(n->name, sizeof(n->name), "%s", name);
	strcpy(n->driver, "wgnet");
	prefix_parse(s4, true, &n->subnet4);
	ip_add(&n->subnet4.addr, 1, &n->gw4);
	if (r4)
		prefix_parse(r4, true, &n->range4);
	if (s6) {
		prefix_parse(s6, true, &n->subnet6);
		ip_add(&n->subnet6.addr, 1, &n->gw6);
		n->ipv6 = true;
	}
	strcpy(n->labels, "{\"env\":\"prod\",\"team\":\"a\"}");
	strcpy(n->options, "{}");
	n->created = 1795600000; /* 2026-11-25T09:46:40Z */
}

static void test_netjson_shape(void)
{
	struct st_network n;
	json_t *j, *cfg, *e;
	char buf[64];

	mknet(&n, "net1", "172.18.0.0/16", NULL, NULL);
	j = netjson_network(NULL, &n);
	CU_ASSERT_STRING_EQUAL(json_str(j, "Name"), "net1");
	CU_ASSERT_STRING_EQUAL(json_str(j, "Id"), n.id);
	CU_ASSERT_STRING_EQUAL(json_str(j, "Created"), "2026-11-25T09:46:40Z");
	CU_ASSERT_STRING_EQUAL(json_str(j, "Scope"), "local");
	CU_ASSERT_STRING_EQUAL(json_str(j, "Driver"), "wgnet");
	CU_ASSERT_TRUE(json_is_false(json_object_get(j, "EnableIPv6")));
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "Attachable")));
	CU_ASSERT_TRUE(json_is_false(json_object_get(j, "Ingress")));
	CU_ASSERT_TRUE(json_is_false(json_object_get(j, "ConfigOnly")));
	CU_ASSERT_STRING_EQUAL(
		json_str(json_object_get(j, "ConfigFrom"), "Network"), "");
	CU_ASSERT_TRUE(json_is_object(json_object_get(j, "Containers")));
	CU_ASSERT_STRING_EQUAL(json_str(json_object_get(j, "Labels"), "env"),
			       "prod");
	cfg = json_object_get(json_object_get(j, "IPAM"), "Config");
	CU_ASSERT_EQUAL(json_array_size(cfg), 1);
	e = json_array_get(cfg, 0);
	CU_ASSERT_STRING_EQUAL(json_str(e, "Subnet"), "172.18.0.0/16");
	CU_ASSERT_STRING_EQUAL(json_str(e, "Gateway"), "172.18.0.1");
	/* omitempty, as Docker */
	CU_ASSERT_PTR_NULL(json_object_get(e, "IPRange"));
	json_decref(j);

	mknet(&n, "net22", "10.1.0.0/16", "10.1.2.0/24", "fd00:1::/64");
	j = netjson_network(NULL, &n);
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "EnableIPv6")));
	cfg = json_object_get(json_object_get(j, "IPAM"), "Config");
	CU_ASSERT_EQUAL(json_array_size(cfg), 2);
	CU_ASSERT_STRING_EQUAL(json_str(json_array_get(cfg, 0), "IPRange"),
			       "10.1.2.0/24");
	CU_ASSERT_STRING_EQUAL(json_str(json_array_get(cfg, 1), "Subnet"),
			       "fd00:1::/64");
	CU_ASSERT_STRING_EQUAL(json_str(json_array_get(cfg, 1), "Gateway"),
			       "fd00:1::1");
	json_decref(j);
	netjson_time(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1970-01-01T00:00:00Z");
}

static bool match_json(const char *js, const struct st_network *n, size_t eps)
{
	json_t *f = json_loads(js, 0, NULL);
	bool m = netjson_filters_match(f, n, eps);

	json_decref(f);
	return m;
}

static void test_filters(void)
{
	struct st_network n;
	json_t *f;
	char *em = NULL;

	mknet(&n, "frontend-net", "10.9.0.0/16", NULL, NULL);
#define MATCH(js, eps) match_json(js, &n, eps)
	CU_ASSERT_TRUE(MATCH("{}", 0));
	CU_ASSERT_TRUE(MATCH("{\"name\":[\"front\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"name\":[\"^front.*net$\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"name\":[\"zzz\",\"end-n\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"name\":[\"back\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"name\":{\"front\":true}}", 0));
	CU_ASSERT_TRUE(MATCH("{\"id\":[\"0000\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"id\":[\"1\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"driver\":[\"wgnet\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"driver\":[\"bridge\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"label\":[\"env\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"label\":[\"env=prod\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"label\":[\"env=dev\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"label\":[\"other\"]}", 0));
	CU_ASSERT_TRUE(MATCH("{\"dangling\":[\"true\"]}", 0));
	CU_ASSERT_FALSE(MATCH("{\"dangling\":[\"true\"]}", 2));
	CU_ASSERT_TRUE(MATCH("{\"dangling\":[\"false\"]}", 2));
	/* keys are ANDed */
	CU_ASSERT_FALSE(MATCH("{\"name\":[\"front\"],\"driver\":[\"x\"]}", 0));
#undef MATCH
	f = json_loads("{\"colour\":[\"red\"]}", 0, NULL);
	CU_ASSERT_EQUAL(netjson_filters_check(f, &em), -EINVAL);
	CU_ASSERT_STRING_EQUAL(em, "invalid filter 'colour'");
	free(em);
	em = NULL;
	json_decref(f);
	f = json_loads("{\"dangling\":[\"maybe\"]}", 0, NULL);
	CU_ASSERT_EQUAL(netjson_filters_check(f, &em), -EINVAL);
	free(em);
	em = NULL;
	json_decref(f);
	f = json_loads("{\"name\":[1]}", 0, NULL);
	CU_ASSERT_EQUAL(netjson_filters_check(f, &em), -EINVAL);
	free(em);
	json_decref(f);
}

/* Op validation without guests. */
static void test_ops_validation(void)
{
	json_t *r = NULL;
	char *em = NULL;

	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"a/b\"}", NULL, &em),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(em && strstr(em, "invalid network name"));
	free(em);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"x y\"}", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{}", NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":5}", NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"subnet\":\"10.0.0.0/33\"}",
			    NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"subnet\":\"10.0.0.1/24\"}",
			    NULL, &em),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(
		em, "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24");
	free(em);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"subnet\":\"fd00::/64\"}", NULL,
			    NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(
		run("NetworkCreate",
		    "{\"name\":\"v1\",\"subnet\":\"10.0.0.0/24\",\"gateway\":\"10.0.1.1\"}",
		    NULL, NULL),
		-EINVAL);
	CU_ASSERT_EQUAL(
		run("NetworkCreate",
		    "{\"name\":\"v1\",\"subnet\":\"10.0.0.0/24\",\"ip_range\":\"10.0.1.0/25\"}",
		    NULL, NULL),
		-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"driver\":\"overlay\"}", NULL,
			    NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"labels\":{\"a\":1}}", NULL,
			    NULL),
			-EINVAL);

	/* Happy path; the docker CLI's default driver "bridge" → wgnet. */
	CU_ASSERT_EQUAL_FATAL(
		run("NetworkCreate",
		    "{\"name\":\"v1\",\"driver\":\"bridge\",\"subnet\":\"10.0.0.0/24\",\"labels\":{\"k\":\"v\"}}",
		    &r, NULL),
		0);
	CU_ASSERT_STRING_EQUAL(json_str(r, "Driver"), "wgnet");
	json_decref(r);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v1\",\"subnet\":\"10.1.0.0/24\"}",
			    NULL, &em),
			-EEXIST);
	CU_ASSERT_STRING_EQUAL(em, "network with name v1 already exists");
	free(em);
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"v2\",\"subnet\":\"10.0.0.128/25\"}",
			    NULL, &em),
			-EEXIST);
	CU_ASSERT_PTR_NOT_NULL(em && strstr(em, "overlaps"));
	free(em);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"v2\"}", &r, NULL), 0);
	json_decref(r);

	CU_ASSERT_EQUAL(run("NetworkList",
			    "{\"filters\":{\"label\":[\"k=v\"]}}", &r, NULL),
			0);
	CU_ASSERT_EQUAL(json_array_size(r), 1);
	json_decref(r);
	CU_ASSERT_EQUAL(run("NetworkList", "{\"filters\":{\"bogus\":[\"x\"]}}",
			    NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkInspect", "{\"network\":\"nope\"}", NULL,
			    &em),
			-ENOENT);
	CU_ASSERT_STRING_EQUAL(em, "network nope not found");
	free(em);
	CU_ASSERT_EQUAL(run("NetworkRemove", "{\"network\":\"nope\"}", NULL,
			    NULL),
			-ENOENT);
	CU_ASSERT_EQUAL(run("NoSuchOp", NULL, NULL, &em), -EOPNOTSUPP);
	CU_ASSERT_PTR_NOT_NULL(em && strstr(em, "unknown op"));
	free(em);

	/* Guests and containers. */
	CU_ASSERT_EQUAL(
		run("GuestAdd",
		    "{\"name\":\"gx\",\"control\":\"unix:/nonexistent/wgnet-test.sock\"}",
		    NULL, &em),
		-EHOSTUNREACH);
	free(em);
	CU_ASSERT_EQUAL(run("GuestList", NULL, &r, NULL), 0);
	CU_ASSERT_EQUAL(json_array_size(r), 0); /* nothing stored */
	json_decref(r);
	CU_ASSERT_EQUAL(run("GuestAdd",
			    "{\"name\":\"gx\",\"control\":\"tcp:1.2.3.4\"}",
			    NULL, NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(
		run("ContainerAdd",
		    "{\"name\":\"c1\",\"guest\":\"nope\",\"netns\":\"/run/netns/x\"}",
		    NULL, &em),
		-ENOENT);
	free(em);
	CU_ASSERT_EQUAL(run("NetworkConnect",
			    "{\"network\":\"v1\",\"container\":\"nope\"}", NULL,
			    NULL),
			-ENOENT);
	CU_ASSERT_EQUAL(
		run("NetworkConnect",
		    "{\"network\":\"v1\",\"container\":\"c\",\"aliases\":[\"a b\"]}",
		    NULL, NULL),
		-EINVAL);

	CU_ASSERT_EQUAL(run("NetworkPrune", NULL, &r, NULL), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "removed")), 2);
	json_decref(r);
	CU_ASSERT_EQUAL(run("NetworkList", NULL, &r, NULL), 0);
	CU_ASSERT_EQUAL(json_array_size(r), 0);
	json_decref(r);
}

/* The desired state computed from a store: 3 guests, 4 containers. */
static void add_guest(const char *name, const char *underlay, int state)
{
	struct st_guest g;

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.control, sizeof(g.control), "unix:/nonexistent/%s", name);
	ip_parse(underlay, &g.underlay);
	g.state = state;
	CU_ASSERT_EQUAL(st->ops->guest_put(st, &g), 0);
}

static void add_ctr(const char *id, const char *name, const char *guest,
		    const char *ports)
{
	struct st_container c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.guest, sizeof(c.guest), "%s", guest);
	snprintf(c.netns, sizeof(c.netns), "/run/netns/%s", name);
	snprintf(c.ports, sizeof(c.ports), "%s", ports);
	CU_ASSERT_EQUAL(st->ops->container_add(st, &c), 0);
}

static void add_ep(const char *nid, const char *cid, const char *aliases,
		   struct st_endpoint *out)
{
	struct st_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	snprintf(ep.network_id, sizeof(ep.network_id), "%s", nid);
	snprintf(ep.container_id, sizeof(ep.container_id), "%s", cid);
	snprintf(ep.aliases, sizeof(ep.aliases), "%s", aliases);
	CU_ASSERT_EQUAL(st->ops->endpoint_create(st, &ep), 0);
	if (out)
		*out = ep;
}

static void add_gn(const char *guest, const char *nid, const char *key,
		   uint16_t port)
{
	struct st_guest_net gn;

	memset(&gn, 0, sizeof(gn));
	snprintf(gn.guest, sizeof(gn.guest), "%s", guest);
	snprintf(gn.network_id, sizeof(gn.network_id), "%s", nid);
	snprintf(gn.public_key, sizeof(gn.public_key), "%s", key);
	gn.listen_port = port;
	CU_ASSERT_EQUAL(st->ops->guest_net_put(st, &gn), 0);
}

static json_t *find_peer(json_t *peers, const char *key)
{
	json_t *p;
	size_t i;

	json_array_foreach(peers, i, p)
		if (!strcmp(json_str(p, "public_key"), key))
			return p;
	return NULL;
}

#define CID(c) \
	c "000000000000000000000000000000000000000000000000000000000000000"

static void test_desired_state(void)
{
	struct st_network_req req;
	struct st_network n;
	struct st_container c;
	struct st_endpoint e1, e2, e3;
	json_t *peers = NULL, *p, *recs = NULL, *ports = NULL;
	char *s;

	memset(&req, 0, sizeof(req));
	strcpy(req.name, "mesh1");
	strcpy(req.driver, "wgnet");
	prefix_parse("10.60.0.0/24", true, &req.subnet4);
	strcpy(req.labels, "{}");
	strcpy(req.options, "{}");
	CU_ASSERT_EQUAL_FATAL(st->ops->network_create(st, &req, &n), 0);
	add_guest("ga", "10.77.0.1", ST_GUEST_UP);
	add_guest("gb", "10.77.0.2", ST_GUEST_UP);
	add_guest("gc", "10.77.0.3", ST_GUEST_UP);
	add_ctr(CID("a"), "ca", "ga",
		"[{\"proto\":\"tcp\",\"host_port\":8080,\"container_port\":80}]");
	add_ctr(CID("b"), "cb1", "gb", "[]");
	add_ctr(CID("c"), "cb2", "gb", "[]");
	add_ctr(CID("d"), "cc", "gc", "[]");
	add_ep(n.id, CID("a"), "[\"web\"]", &e1);
	add_ep(n.id, CID("b"), "[]", &e2);
	add_ep(n.id, CID("c"), "[]", &e3);
	add_ep(n.id, CID("d"), "[]", NULL);
	add_gn("ga", n.id, "KEYA", 51820);
	add_gn("gb", n.id, "KEYB", 51821);
	/* gc has an endpoint but no key yet: not a peer. */

	CU_ASSERT_EQUAL_FATAL(mesh_peer_set(st, n.id, "ga", &peers), 0);
	CU_ASSERT_EQUAL(json_array_size(peers), 1);
	p = find_peer(peers, "KEYB");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(json_str(p, "endpoint"), "10.77.0.2:51821");
	s = json_dumps(json_object_get(p, "allowed_ips"), JSON_COMPACT);
	CU_ASSERT_STRING_EQUAL(s, "[\"10.60.0.3/32\",\"10.60.0.4/32\"]");
	free(s);
	json_decref(peers);

	CU_ASSERT_EQUAL(mesh_peer_set(st, n.id, "gb", &peers), 0);
	CU_ASSERT_EQUAL(json_array_size(peers), 1);
	CU_ASSERT_PTR_NOT_NULL(find_peer(peers, "KEYA"));
	json_decref(peers);

	/* A dead guest is nobody's peer. */
	add_guest("gb", "10.77.0.2", ST_GUEST_DEAD);
	CU_ASSERT_EQUAL(mesh_peer_set(st, n.id, "ga", &peers), 0);
	CU_ASSERT_EQUAL(json_array_size(peers), 0);
	json_decref(peers);
	add_guest("gb", "10.77.0.2", ST_GUEST_UP);

	/* DNS: names, short ids and aliases of everyone on the network. */
	CU_ASSERT_EQUAL_FATAL(st->ops->container_get(st, "ca", &c), 0);
	CU_ASSERT_EQUAL_FATAL(mesh_dns_records(st, &c, &recs), 0);
	s = json_dumps(recs, JSON_COMPACT);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(s, "{\"name\":\"web\",\"address\":\"10.60.0.2\"}"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(s, "{\"name\":\"cb2\",\"address\":\"10.60.0.4\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		s, "{\"name\":\"a00000000000\",\"address\":\"10.60.0.2\"}"));
	/* cc's guest has no interface (key) yet: its names come with it. */
	CU_ASSERT_PTR_NULL(strstr(s, "\"cc\""));
	CU_ASSERT_EQUAL(json_array_size(recs), 3 * 2 + 1);
	free(s);
	json_decref(recs);

	/* Ports: container_ip = the first endpoint's address. */
	CU_ASSERT_EQUAL_FATAL(mesh_ports(st, &c, &ports), 0);
	CU_ASSERT_EQUAL(json_array_size(ports), 1);
	CU_ASSERT_STRING_EQUAL(json_str(json_array_get(ports, 0),
					"container_ip"),
			       "10.60.0.2");
	json_decref(ports);

	/* The network JSON lists the endpoints with their guest's key. */
	{
		json_t *j = netjson_network(st, &n), *ca;

		ca = json_object_get(json_object_get(j, "Containers"),
				     CID("a"));
		CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
		CU_ASSERT_STRING_EQUAL(json_str(ca, "Name"), "ca");
		CU_ASSERT_STRING_EQUAL(json_str(ca, "IPv4Address"),
				       "10.60.0.2/24");
		CU_ASSERT_STRING_EQUAL(json_str(ca, "IPv6Address"), "");
		CU_ASSERT_STRING_EQUAL(json_str(ca, "Guest"), "ga");
		CU_ASSERT_STRING_EQUAL(json_str(ca, "PublicKey"), "KEYA");
		CU_ASSERT_STRING_EQUAL(json_str(ca, "MacAddress"), e1.mac);
		json_decref(j);
	}

	/* Busy network; the op says so. */
	{
		char *em = NULL;

		CU_ASSERT_EQUAL(run("NetworkRemove", "{\"network\":\"mesh1\"}",
				    NULL, &em),
				-EBUSY);
		CU_ASSERT_STRING_EQUAL(em,
				       "network mesh1 has active endpoints");
		free(em);
	}
}

/* The notifier: inline before it runs; after, queued and delivered by its
 * thread (the members' workers marked dirty), and stopped cleanly. */
static bool dirty_of(struct guest_rt *r)
{
	bool d;

	pthread_mutex_lock(&h->rt_mu);
	d = r->dirty;
	r->dirty = false;
	pthread_mutex_unlock(&h->rt_mu);
	return d;
}

static void test_notifier(void)
{
	struct st_network n;
	struct guest_rt *ga, *gz;
	bool changed = false, got = false;

	CU_ASSERT_EQUAL_FATAL(st->ops->network_get(st, "mesh1", &n), 0);
	cp_net_refresh_quiet(h, n.id, &changed);
	ga = guest_rt_get(h, "ga");
	gz = guest_rt_get(h, "gz"); /* not on the network */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ga);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
	dirty_of(ga);
	dirty_of(gz);
	cp_net_notify(h, n.id);
	CU_ASSERT_TRUE(dirty_of(ga));
	CU_ASSERT_FALSE(dirty_of(gz));
	CU_ASSERT_EQUAL_FATAL(cp_notifier_start(h), 0);
	cp_net_notify(h, n.id);
	cp_net_notify(h, n.id); /* queued once */
	cp_net_notify(h, "0123456789ab0123456789ab"); /* unknown: nothing */
	for (int i = 0; i < 200 && !got; i++) {
		got = dirty_of(ga);
		if (!got)
			usleep(10 * 1000);
	}
	CU_ASSERT_TRUE(got);
	CU_ASSERT_FALSE(dirty_of(gz));
	cp_notifier_stop(h);
	cp_notifier_stop(h); /* twice: harmless */
	cp_net_notify(h, n.id); /* stopped: inline again */
	CU_ASSERT_TRUE(dirty_of(ga));
}

void suite_host(void)
{
	CU_pSuite s = CU_add_suite("host", host_init, host_cleanup);

	CU_add_test(s, "names", test_names);
	CU_add_test(s, "cli_parse", test_cli_parse);
	CU_add_test(s, "ports", test_ports);
	CU_add_test(s, "format_table", test_format_table);
	CU_add_test(s, "ago", test_ago);
	CU_add_test(s, "netjson_shape", test_netjson_shape);
	CU_add_test(s, "filters", test_filters);
	CU_add_test(s, "ops_validation", test_ops_validation);
	CU_add_test(s, "desired_state", test_desired_state);
	CU_add_test(s, "notifier", test_notifier);
}
