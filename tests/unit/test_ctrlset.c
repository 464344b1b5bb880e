// SPDX-License-Identifier: GPL-2.0
/*
 * The host's part of the control-plane set (host/ctrlset.c): the set made
 * minimal and ordered (duplicates, prefixes inside others, host bits), and
 * which of the machine's addresses belong in it.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/ctrlset.h"

void suite_ctrlset(void);

static struct ip_prefix P(const char *s) {
	struct ip_prefix p;

	CU_ASSERT_FATAL(prefix_parse(s, false, &p) == 0);
	return p;
}

static struct ip_addr
A(const char *s) {
	struct ip_addr a;

	CU_ASSERT_FATAL(ip_parse(s, &a) == 0);
	return a;
}

/* The built set as one line of text. */
static void
built(const char *const *in, size_t n, char *out, size_t len)
{
	struct ip_prefix v[32], *set = NULL;
	char buf[IPNET_STRLEN];
	int k;

	for (size_t i = 0; i < n; i++)
		v[i] = P(in[i]);
	k = ctrl_set_build(v, n, &set);
	CU_ASSERT_FATAL(k >= 0);
	out[0] = '\0';
	for (int i = 0; i < k; i++) {
		strncat(out, i ? " " : "", len - strlen(out) - 1);
		strncat(out, prefix_fmt(&set[i], buf), len - strlen(out) - 1);
	}
	free(set);
}

static void test_build(void)
{
	static const char *const in[] = {
		"10.77.0.5/32", "192.0.2.2/32", "10.77.0.5/32",
		"10.78.0.0/16", "10.78.3.4/32", /* inside 10.78/16 */
		"fd00::2/128",	"fd77::1/128",	"fd77::/64",
		"10.77.0.3/32", "10.77.9.9/24", /* host bits: 10.77.9.0/24 */
	};
	char out[512];

	built(in, sizeof(in) / sizeof(*in), out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "10.77.0.3/32 10.77.0.5/32 10.77.9.0/24 "
				    "10.78.0.0/16 192.0.2.2/32 fd00::2/128 "
				    "fd77::/64");
	/* The order of the input does not matter: an unchanged set compares
	 * equal and is not resent. */
	{
		static const char *const rev[] = {
			"10.77.9.9/24", "10.77.0.3/32", "fd77::/64",
			"fd77::1/128",	"fd00::2/128",	"10.78.3.4/32",
			"10.78.0.0/16", "10.77.0.5/32", "192.0.2.2/32",
		};
		char out2[512];

		built(rev, sizeof(rev) / sizeof(*rev), out2, sizeof(out2));
		CU_ASSERT_STRING_EQUAL(out, out2);
	}
	/* A wide prefix swallows the narrower ones after it. */
	{
		static const char *const wide[] = { "10.0.0.0/8", "10.1.0.0/16",
						    "10.200.0.1/32",
						    "11.0.0.1/32" };

		built(wide, 4, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, "10.0.0.0/8 11.0.0.1/32");
	}
	/* IPv4 first; an IPv6 /0 covers no IPv4 prefix. */
	{
		static const char *const mix[] = { "::/0", "10.0.0.1/32" };

		built(mix, 2, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, "10.0.0.1/32 ::/0");
	}
	{
		struct ip_prefix *set = (void *)1;

		CU_ASSERT_EQUAL(ctrl_set_build(NULL, 0, &set), 0);
		CU_ASSERT_PTR_NULL(set);
	}
}

static void test_host_addr(void)
{
	struct ip_prefix subs[2] = { P("172.18.0.0/16"), P("fd18::/64") };
	struct ip_addr a;

	a = A("192.0.2.2");
	CU_ASSERT_TRUE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("fd00::2");
	CU_ASSERT_TRUE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("127.0.0.1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("127.5.0.1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("::1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("::");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	/* Link-local: every guest drops these ranges on its own. */
	a = A("169.254.3.4");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("fe80::fc:ff:fe00:1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	/* A gateway of a wgnet network served from this namespace. */
	a = A("172.18.0.1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("fd18::1");
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
	a = A("172.19.0.1");
	CU_ASSERT_TRUE(ctrl_host_addr_wanted(&a, subs, 2));
	memset(&a, 0, sizeof(a));
	CU_ASSERT_FALSE(ctrl_host_addr_wanted(&a, subs, 2));
}

/*
 * Many guests on one underlay network are one entry (the scale bug: one
 * /32 each passed CTRL_HOST_MAX at ~500 guests); a guest that reports no
 * network (older agent) is its address alone, swallowed when inside a
 * reported network.
 */
static void test_underlay_many(void)
{
	enum { N = 2000 };
	struct ip_prefix *v = calloc(N + 2, sizeof(*v)), *set = NULL;
	char buf[IPNET_STRLEN];
	struct ip_addr a;
	int k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "198.18.%d.%d", i / 250, 1 + i % 250);
		a = A(buf);
		ctrl_underlay_prefix(&a, i % 7 ? 15 : 0, &v[i]);
	}
	a = A("10.77.0.11");
	ctrl_underlay_prefix(&a, 0, &v[N]); /* older agent elsewhere */
	a = A("fd00:77::b");
	ctrl_underlay_prefix(&a, 64, &v[N + 1]);
	k = ctrl_set_build(v, N + 2, &set);
	CU_ASSERT_EQUAL_FATAL(k, 3);
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&set[0], buf), "10.77.0.11/32");
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&set[1], buf), "198.18.0.0/15");
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&set[2], buf), "fd00:77::/64");
	free(set);
	/* Without reported networks: one entry per guest, as before. */
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "198.18.%d.%d", i / 250, 1 + i % 250);
		a = A(buf);
		ctrl_underlay_prefix(&a, 0, &v[i]);
	}
	k = ctrl_set_build(v, N, &set);
	CU_ASSERT_EQUAL(k, N);
	CU_ASSERT(k > CTRL_HOST_MAX);
	free(set);
	free(v);
}

static void test_underlay_plen(void)
{
	struct ip_addr a = A("10.77.0.11"), a6 = A("fd00:77::b");
	char err[160];

	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.77.0.0/16", err, sizeof(err)),
			16);
	/* Host bits are the guest's own address: accepted. */
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.77.0.11/24", err, sizeof(err)),
			24);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.77.0.11/32", err, sizeof(err)),
			32);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a6, "fd00:77::/64", err, sizeof(err)),
			64);
	/* Not holding the address, another family, too wide, not a CIDR. */
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.78.0.0/16", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not hold"));
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "fd00:77::/64", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "0.0.0.0/0", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "wider than /8"));
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.0.0.0/7", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.0.0.0/8", err, sizeof(err)),
			8);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a6, "fd00::/16", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "10.77.0.11", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(ctrl_underlay_plen(&a, "", err, sizeof(err)), -EINVAL);
}

void suite_ctrlset(void)
{
	CU_pSuite s = CU_add_suite("ctrlset", NULL, NULL);

	CU_add_test(s, "minimal, ordered set", test_build);
	CU_add_test(s, "this machine's addresses", test_host_addr);
	CU_add_test(s, "guests on one underlay: one entry", test_underlay_many);
	CU_add_test(s, "a guest's reported underlay prefix",
		    test_underlay_plen);
}
