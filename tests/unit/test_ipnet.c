// SPDX-License-Identifier: GPL-2.0
#include <CUnit/CUnit.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "wgnet/ipnet.h"

static void test_parse_fmt(void)
{
	struct ip_addr a;
	struct ip_prefix p;
	char buf[IPNET_STRLEN];

	CU_ASSERT_EQUAL(ip_parse("172.18.0.2", &a), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET);
	CU_ASSERT_EQUAL(a.a[10], 0xff);
	CU_ASSERT_EQUAL(a.a[15], 2);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&a, buf), "172.18.0.2");
	CU_ASSERT_EQUAL(ip_parse("2001:db8::1", &a), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET6);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&a, buf), "2001:db8::1");
	CU_ASSERT_EQUAL(ip_parse("::ffff:1.2.3.4", &a), -EINVAL);
	CU_ASSERT_EQUAL(ip_parse("256.1.1.1", &a), -EINVAL);
	CU_ASSERT_EQUAL(ip_parse("", &a), -EINVAL);
	CU_ASSERT_EQUAL(ip_parse("1.2.3.4 ", &a), -EINVAL);

	CU_ASSERT_EQUAL(prefix_parse("172.18.0.0/16", true, &p), 0);
	CU_ASSERT_EQUAL(p.plen, 16);
	CU_ASSERT_EQUAL(prefix_plen128(&p), 112);
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&p, buf), "172.18.0.0/16");
	CU_ASSERT_EQUAL(prefix_parse("172.18.0.5/16", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("172.18.0.5/16", false, &p), 0);
	prefix_normalize(&p);
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&p, buf), "172.18.0.0/16");
	CU_ASSERT_EQUAL(prefix_parse("10.0.0.0/33", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("10.0.0.0/", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("10.0.0.0/-1", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("10.0.0.0/8x", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("10.0.0.0", true, &p), -EINVAL);
	CU_ASSERT_EQUAL(prefix_parse("2001:db8::/64", true, &p), 0);
	CU_ASSERT_EQUAL(prefix_parse("2001:db8::/129", true, &p), -EINVAL);
}

static void test_math(void)
{
	struct ip_prefix p, q;
	struct ip_addr a, b;
	char buf[IPNET_STRLEN];

	prefix_parse("172.18.0.0/16", true, &p);
	prefix_last(&p, &a);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&a, buf), "172.18.255.255");
	ip_parse("172.18.3.4", &a);
	CU_ASSERT_TRUE(prefix_contains(&p, &a));
	ip_parse("172.19.0.1", &a);
	CU_ASSERT_FALSE(prefix_contains(&p, &a));
	prefix_parse("172.18.4.0/24", true, &q);
	CU_ASSERT_TRUE(prefix_overlap(&p, &q));
	CU_ASSERT_TRUE(prefix_overlap(&q, &p));
	prefix_parse("172.19.0.0/16", true, &q);
	CU_ASSERT_FALSE(prefix_overlap(&p, &q));
	prefix_parse("2001:db8::/64", true, &q);
	CU_ASSERT_FALSE(prefix_overlap(&p, &q));

	ip_parse("10.0.0.255", &a);
	CU_ASSERT_EQUAL(ip_add(&a, 1, &b), 0);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&b, buf), "10.0.1.0");
	CU_ASSERT_EQUAL(ip_add(&b, -257, &b), 0);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&b, buf), "9.255.255.255");
	CU_ASSERT_EQUAL(ip_diff(&b, &a), 256);
	CU_ASSERT_EQUAL(ip_cmp(&a, &b), 1);
	ip_parse("255.255.255.255", &a);
	CU_ASSERT_EQUAL(ip_add(&a, 1, &b), -ERANGE);
	ip_parse("2001:db8::ffff", &a);
	CU_ASSERT_EQUAL(ip_add(&a, 2, &b), 0);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&b, buf), "2001:db8::1:1");
}

static void test_endpoint(void)
{
	struct ip_addr a;
	uint16_t port = 0;
	struct sockaddr_storage ss;
	socklen_t len;
	struct ip_addr back;
	uint16_t bport;

	CU_ASSERT_EQUAL(endpoint_parse("10.77.0.11:51820", &a, &port), 0);
	CU_ASSERT_EQUAL(port, 51820);
	CU_ASSERT_EQUAL(endpoint_parse("[2001:db8::1]:443", &a, &port), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET6);
	CU_ASSERT_EQUAL(endpoint_parse("2001:db8::1:443", &a, &port), -EINVAL);
	CU_ASSERT_EQUAL(endpoint_parse("10.0.0.1:0", &a, &port), -EINVAL);
	CU_ASSERT_EQUAL(endpoint_parse("10.0.0.1:65536", &a, &port), -EINVAL);
	CU_ASSERT_EQUAL(endpoint_parse("10.0.0.1", &a, &port), -EINVAL);
	endpoint_parse("10.77.0.11:51820", &a, &port);
	CU_ASSERT_EQUAL(ip_to_sockaddr(&a, port, &ss, &len), 0);
	CU_ASSERT_EQUAL(len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(ip_from_sockaddr((struct sockaddr *)&ss, &back, &bport), 0);
	CU_ASSERT_TRUE(ip_equal(&a, &back));
	CU_ASSERT_EQUAL(bport, 51820);
}

void suite_ipnet(void)
{
	CU_pSuite s = CU_add_suite("ipnet", NULL, NULL);

	CU_add_test(s, "parse and format", test_parse_fmt);
	CU_add_test(s, "prefix math", test_math);
	CU_add_test(s, "endpoints and sockaddr", test_endpoint);
}
