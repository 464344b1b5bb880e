// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input to wgnet-host's ops (issue 7), through host_dispatch()
 * against a real SQLite store on a temp file, no guests: arguments an op
 * does not take, wrong types, path and shell characters, overlapping and
 * invalid CIDRs. Each must fail with one clear line and leave the store as
 * it was.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../host/host.h"
#include "../../host/store.h"

void suite_hostile(void);

static char db_path[64];
static struct store *st;
static struct host *h;

static int hs_init(void)
{
	int fd;

	snprintf(db_path, sizeof(db_path), "/tmp/wgnet-test-hostile-XXXXXX");
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

static int hs_cleanup(void)
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

static int run(const char *op, const char *args_json, char **em)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
	json_t *r = NULL;
	char *e = NULL;
	int rc;

	rc = host_dispatch(h, op, args, &r, &e);
	json_decref(args);
	json_decref(r);
	if (em)
		*em = e;
	else
		free(e);
	return rc;
}

/* The store's networks as one text, to compare before and after. */
static char *networks_text(void)
{
	json_t *r = NULL;
	char *e = NULL, *s;

	if (host_dispatch(h, "NetworkList", NULL, &r, &e)) {
		free(e);
		return strdup("error");
	}
	s = json_dumps(r, JSON_SORT_KEYS);
	json_decref(r);
	return s;
}

static const struct {
	const char *op, *args;
	int rc;
} bad[] = {
	/* arguments the op does not take */
	{ "NetworkCreate", "{\"name\":\"h1\",\"internl\":true}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"h1\",\"\":1}", -EINVAL },
	{ "NetworkList", "{\"filter\":{}}", -EINVAL },
	{ "NetworkInspect", "{\"network\":\"net1\",\"x\":1}", -EINVAL },
	{ "NetworkRemove", "{\"network\":\"net1\",\"force\":true}", -EINVAL },
	{ "NetworkConnect", "{\"network\":\"net1\",\"container\":\"c\",\"mac\":\"02:00:00:00:00:01\"}", -EINVAL },
	{ "NetworkDisconnect", "{\"network\":\"net1\",\"container\":\"c\",\"ip\":\"1.2.3.4\"}", -EINVAL },
	{ "NetworkPrune", "{\"all\":true}", -EINVAL },
	{ "GuestAdd", "{\"name\":\"g\",\"control\":\"unix:/x\",\"netns\":\"/x\"}", -EINVAL },
	{ "GuestRemove", "{\"name\":\"g\",\"force\":true}", -EINVAL },
	{ "GuestList", "{\"all\":true}", -EINVAL },
	{ "ContainerAdd", "{\"name\":\"c\",\"guest\":\"g\",\"netns\":\"/x\",\"image\":\"x\"}", -EINVAL },
	{ "ContainerRemove", "{\"container\":\"c\",\"volumes\":true}", -EINVAL },
	{ "ContainerList", "{\"all\":true}", -EINVAL },
	{ "Status", "{\"verbose\":true}", -EINVAL },
	/* wrong types, bad names */
	{ "NetworkCreate", "{\"name\":5}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"../x\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"a;b\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"$(x)\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"a b\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"h1\",\"internal\":\"yes\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"h1\",\"labels\":[1]}", -EINVAL },
	/* invalid and overlapping CIDRs, gateways outside */
	{ "NetworkCreate", "{\"name\":\"h1\",\"subnet\":\"10.60.0.0/33\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"h1\",\"subnet\":\"10.60.0.1/24\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"h1\",\"subnet\":\"10.50.0.0/16\"}", -EEXIST },
	{ "NetworkCreate", "{\"name\":\"h1\",\"subnet\":\"10.50.1.128/25\"}", -EEXIST },
	{ "NetworkCreate", "{\"name\":\"h1\",\"subnet\":\"10.60.0.0/24\",\"gateway\":\"10.61.0.1\"}", -EINVAL },
	{ "NetworkCreate", "{\"name\":\"net1\",\"subnet\":\"10.60.0.0/24\"}", -EEXIST },
	{ "NetworkConnect", "{\"network\":\"net1\",\"container\":\"../c\"}", -ENOENT },
	{ "NetworkRemove", "{\"network\":5}", -EINVAL },
	{ "Bogus", "{}", -EOPNOTSUPP },
};

static void test_bad_ops(void)
{
	char *before, *after;

	CU_ASSERT_EQUAL_FATAL(
		run("NetworkCreate", "{\"name\":\"net1\",\"subnet\":\"10.50.1.0/24\"}",
		    NULL),
		0);
	before = networks_text();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *em = NULL;
		int rc = run(bad[i].op, bad[i].args, &em);

		if (rc != bad[i].rc)
			fprintf(stderr, "\n%s %s: rc %d (%s), want %d\n", bad[i].op,
				bad[i].args, rc, em ? em : "", bad[i].rc);
		CU_ASSERT_EQUAL(rc, bad[i].rc);
		CU_ASSERT_PTR_NOT_NULL(em);
		if (em) {
			CU_ASSERT(*em && !strchr(em, '\n') && strlen(em) < 600);
		}
		free(em);
	}
	after = networks_text();
	CU_ASSERT_STRING_EQUAL(before, after);
	free(before);
	free(after);
	CU_ASSERT_EQUAL(run("NetworkRemove", "{\"network\":\"net1\"}", NULL), 0);
}

static void test_unknown_arg_message(void)
{
	char *em = NULL;

	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"h2\",\"internl\":true}", &em),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(em);
	CU_ASSERT_PTR_NOT_NULL(strstr(em, "internl"));
	CU_ASSERT_PTR_NOT_NULL(strstr(em, "NetworkCreate"));
	free(em);
	/* A key that is a prefix or a part of an allowed one is not allowed. */
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"h2\",\"sub\":\"x\"}", NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"h2\",\"net6\":\"x\"}", NULL),
			-EINVAL);
	CU_ASSERT_EQUAL(run("NetworkCreate", "{\"name\":\"h2\",\"gateway6 \":\"x\"}",
			    NULL),
			-EINVAL);
	/* Every documented argument is accepted. */
	CU_ASSERT_EQUAL(run("NetworkCreate",
			    "{\"name\":\"h2\",\"driver\":\"wgnet\",\"subnet\":\"10.70.0.0/24\","
			    "\"ip_range\":\"10.70.0.128/25\",\"gateway\":\"10.70.0.1\","
			    "\"ipv6\":true,\"subnet6\":\"fd70::/64\",\"ip_range6\":\"fd70::/80\","
			    "\"gateway6\":\"fd70::1\",\"internal\":true,\"labels\":{\"a\":\"b\"},"
			    "\"options\":{}}",
			    NULL),
			0);
	CU_ASSERT_EQUAL(run("NetworkRemove", "{\"network\":\"h2\"}", NULL), 0);
}

void suite_hostile(void)
{
	CU_pSuite s = CU_add_suite("hostile", hs_init, hs_cleanup);

	CU_add_test(s, "bad requests to every op", test_bad_ops);
	CU_add_test(s, "unknown arguments", test_unknown_arg_message);
}
