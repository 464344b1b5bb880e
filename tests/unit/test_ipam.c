// SPDX-License-Identifier: GPL-2.0
/* IPAM: Docker's pools, gateway, ranges, first-free allocation. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/ipam.h"

void suite_ipam(void);

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

static const char *fmt_p(const struct ip_prefix *p)
{
	static char buf[IPNET_STRLEN];

	return prefix_fmt(p, buf);
}

static const char *fmt_a(const struct ip_addr *a)
{
	static char buf[IPNET_STRLEN];

	return ip_fmt(a, buf);
}

static void test_auto_subnet(void)
{
	struct ip_prefix used[40], out;
	size_t n = 0;
	int i;

	CU_ASSERT_EQUAL(ipam_auto_subnet4(NULL, 0, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "172.18.0.0/16");

	/* Skips an exact match and a smaller overlapping subnet. */
	used[n++] = pfx("172.18.0.0/16");
	used[n++] = pfx("172.19.5.0/24");
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "172.20.0.0/16");

	/* A bigger user subnet covering several pools. */
	used[n++] = pfx("172.20.0.0/14"); /* 172.20-23 */
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "172.24.0.0/16");

	/* IPv6 subnets never block an IPv4 pool. */
	used[n++] = pfx("fd00::/8");
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "172.24.0.0/16");

	/* Take 172.24 … 172.31: then 192.168.0.0/20. */
	for (i = 24; i <= 31; i++) {
		CU_ASSERT_EQUAL_FATAL(ipam_auto_subnet4(used, n, &out), 0);
		used[n++] = out;
	}
	CU_ASSERT_STRING_EQUAL(fmt_p(&used[n - 1]), "172.31.0.0/16");
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "192.168.0.0/20");

	/* 192.168.1.0/24 (a home LAN) blocks 192.168.0.0/20 only. */
	used[n++] = pfx("192.168.1.0/24");
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_p(&out), "192.168.16.0/20");

	/* 192.168.0.0/16 used: exhausted. */
	used[n++] = pfx("192.168.0.0/16");
	CU_ASSERT_EQUAL(ipam_auto_subnet4(used, n, &out), -ENOSPC);
}

static void test_auto_subnet_all(void)
{
	struct ip_prefix used[40], out;
	size_t n = 0;

	while (!ipam_auto_subnet4(used, n, &out)) {
		CU_ASSERT_FATAL(n < 30);
		used[n++] = out;
	}
	/* 14 /16 blocks and 16 /20 blocks. */
	CU_ASSERT_EQUAL(n, 30);
	CU_ASSERT_STRING_EQUAL(fmt_p(&used[29]), "192.168.240.0/20");
	CU_ASSERT_STRING_EQUAL(fmt_p(&used[15]), "192.168.16.0/20");
}

static void test_check_network(void)
{
	struct ip_prefix sub, range;
	struct ip_addr gw;
	const char *why = NULL;

	/* Default gateway: first host. */
	sub = pfx("172.20.0.0/16");
	memset(&range, 0, sizeof(range));
	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&gw), "172.20.0.1");

	/* Host bits. */
	sub = pfx("172.20.0.5/16");
	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_STRING_EQUAL(
		why,
		"subnet 172.20.0.5/16 has host bits set; use 172.20.0.0/16");

	/* Gateway outside, network, broadcast, wrong family. */
	sub = pfx("172.20.0.0/16");
	gw = addr("10.0.0.1");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_STRING_EQUAL(
		why, "gateway 10.0.0.1 is outside subnet 172.20.0.0/16");
	gw = addr("172.20.0.0");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	gw = addr("172.20.255.255");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "broadcast"));
	gw = addr("fd00::1");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	/* An explicit gateway anywhere else is kept. */
	gw = addr("172.20.200.254");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&gw), "172.20.200.254");

	/* Range inside / outside / host bits. */
	memset(&gw, 0, sizeof(gw));
	range = pfx("172.20.5.0/24");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), 0);
	range = pfx("10.1.0.0/24");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_STRING_EQUAL(
		why, "ip-range 10.1.0.0/24 is outside subnet 172.20.0.0/16");
	range = pfx("172.0.0.0/8"); /* contains the subnet, bigger than it */
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	range = pfx("172.20.5.7/24");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "host bits"));

	/* /31 and /32: too small. /30 is fine. */
	memset(&range, 0, sizeof(range));
	sub = pfx("10.0.0.0/31");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, &range, &gw, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "too small"));
	sub = pfx("10.0.0.1/32");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, NULL, &gw, &why), -EINVAL);
	sub = pfx("10.0.0.0/30");
	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL(ipam_check_network(&sub, NULL, &gw, &why), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&gw), "10.0.0.1");

	/* IPv6: gateway ::1 by default; the last address is allowed. */
	sub = pfx("fd00:1::/64");
	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL(ipam_check_network(&sub, NULL, &gw, &why), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&gw), "fd00:1::1");
	gw = addr("fd00:1::ffff:ffff:ffff:ffff");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, NULL, &gw, &why), 0);
	gw = addr("fd00:1::");
	CU_ASSERT_EQUAL(ipam_check_network(&sub, NULL, &gw, &why), -EINVAL);
}

static void test_pick(void)
{
	struct ip_prefix sub = pfx("172.20.0.0/16"), range;
	struct ip_addr gw = addr("172.20.0.1"), used[8], out;

	memset(&range, 0, sizeof(range));
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, NULL, 0, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "172.20.0.2");

	/* Unsorted used list; gap at .4. */
	used[0] = addr("172.20.0.3");
	used[1] = addr("172.20.0.2");
	used[2] = addr("172.20.0.5");
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 3, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "172.20.0.4");

	/* A gateway elsewhere leaves .1 for containers. */
	gw = addr("172.20.0.254");
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, NULL, 0, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "172.20.0.1");

	/* Range: allocation starts inside it, at its first address (which
	 * is no network address of the subnet). */
	gw = addr("172.20.0.1");
	range = pfx("172.20.5.0/24");
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 3, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "172.20.5.0");

	/* A range at the top of the subnet never hands out broadcast. */
	range = pfx("172.20.255.252/30");
	used[0] = addr("172.20.255.252");
	used[1] = addr("172.20.255.253");
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 2, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "172.20.255.254");
	used[2] = out;
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 3, &out), -ENOSPC);
}

static void test_pick_fill(void)
{
	struct ip_prefix sub = pfx("10.9.8.0/29");
	struct ip_addr gw, used[8], out;
	const char *why;
	int i;

	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL_FATAL(ipam_check_network(&sub, NULL, &gw, &why), 0);
	/* 8 - network - broadcast - gateway = 5. */
	for (i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL_FATAL(ipam_pick(&sub, NULL, &gw, used, i, &out),
				      0);
		used[i] = out;
	}
	CU_ASSERT_STRING_EQUAL(fmt_a(&used[0]), "10.9.8.2");
	CU_ASSERT_STRING_EQUAL(fmt_a(&used[4]), "10.9.8.6");
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, used, 5, &out), -ENOSPC);

	/* Free .4: it is the one handed out next. */
	used[2] = used[4];
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, used, 4, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "10.9.8.4");
}

static void test_pick_big(void)
{
	/* A full /20 minus one address: the walk stays linear. */
	struct ip_prefix sub = pfx("192.168.16.0/20");
	struct ip_addr gw = addr("192.168.16.1"), *used, out, a;
	size_t n = 0;
	int i;

	used = calloc(4096, sizeof(*used));
	CU_ASSERT_FATAL(used != NULL);
	/* Insert in reverse order, skipping 192.168.31.7. */
	for (i = 4094; i >= 2; i--) {
		CU_ASSERT_FATAL(ip_add(&sub.addr, i, &a) == 0);
		if (strcmp(fmt_a(&a), "192.168.31.7"))
			used[n++] = a;
	}
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, used, n, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "192.168.31.7");
	used[n++] = out;
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, used, n, &out), -ENOSPC);
	free(used);
}

static void test_pick_v6(void)
{
	struct ip_prefix sub = pfx("fd00:77::/64"), range;
	struct ip_addr gw, used[4], out;
	const char *why;

	memset(&gw, 0, sizeof(gw));
	CU_ASSERT_EQUAL_FATAL(ipam_check_network(&sub, NULL, &gw, &why), 0);
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, NULL, 0, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "fd00:77::2");
	used[0] = out;
	/* IPv4 entries in used[] do not matter for IPv6. */
	used[1] = addr("10.0.0.3");
	CU_ASSERT_EQUAL(ipam_pick(&sub, NULL, &gw, used, 2, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "fd00:77::3");

	/* A small v6 range at the very end: the last address is usable. */
	range = pfx("fd00:77::ffff:ffff:ffff:fffe/127");
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, NULL, 0, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "fd00:77::ffff:ffff:ffff:fffe");
	used[0] = out;
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 1, &out), 0);
	CU_ASSERT_STRING_EQUAL(fmt_a(&out), "fd00:77::ffff:ffff:ffff:ffff");
	used[1] = out;
	CU_ASSERT_EQUAL(ipam_pick(&sub, &range, &gw, used, 2, &out), -ENOSPC);
}

static void test_static(void)
{
	struct ip_prefix sub = pfx("172.20.0.0/16");
	struct ip_addr gw = addr("172.20.0.1"), used[2], ip;
	const char *why = NULL;

	used[0] = addr("172.20.0.2");
	used[1] = addr("172.20.9.9");
	ip = addr("172.20.0.3");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why), 0);
	/* Static may be anywhere in the subnet, not only the range. */
	ip = addr("172.20.200.3");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why), 0);
	ip = addr("172.20.9.9");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EEXIST);
	ip = addr("172.20.0.1");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(why,
			       "address 172.20.0.1 is the network's gateway");
	ip = addr("172.20.0.0");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EINVAL);
	ip = addr("172.20.255.255");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EINVAL);
	ip = addr("172.21.0.5");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(
		why, "address 172.21.0.5 is outside subnet 172.20.0.0/16");
	ip = addr("fd00::5");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, used, 2, &why),
			-EINVAL);

	/* IPv6: only ::0 is special, the last address is fine. */
	sub = pfx("fd00::/120");
	gw = addr("fd00::1");
	ip = addr("fd00::ff");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, NULL, 0, &why), 0);
	ip = addr("fd00::");
	CU_ASSERT_EQUAL(ipam_check_static(&sub, &gw, &ip, NULL, 0, &why),
			-EINVAL);
}

static void test_mac(void)
{
	struct ip_addr ip = addr("172.18.0.2");
	char mac[18];

	ipam_mac_from_ip(&ip, mac);
	CU_ASSERT_STRING_EQUAL(mac, "02:42:ac:12:00:02");
	ip = addr("192.168.240.255");
	ipam_mac_from_ip(&ip, mac);
	CU_ASSERT_STRING_EQUAL(mac, "02:42:c0:a8:f0:ff");
}

void suite_ipam(void)
{
	CU_pSuite s = CU_add_suite("ipam", NULL, NULL);

	CU_add_test(s, "auto subnet", test_auto_subnet);
	CU_add_test(s, "auto subnet: all 30 pools", test_auto_subnet_all);
	CU_add_test(s, "check network", test_check_network);
	CU_add_test(s, "pick", test_pick);
	CU_add_test(s, "pick: /29 fills after 5", test_pick_fill);
	CU_add_test(s, "pick: full /20", test_pick_big);
	CU_add_test(s, "pick: IPv6", test_pick_v6);
	CU_add_test(s, "static address", test_static);
	CU_add_test(s, "mac from ip", test_mac);
}
