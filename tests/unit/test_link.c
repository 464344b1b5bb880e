// SPDX-License-Identifier: GPL-2.0
/* link.c / netns.c: message builders on bytes, then real rtnetlink inside
 * two namespaces of our own (PREFIX-linka / b, tests/unit/ut.h). */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "wgnet/link.h"
#include "wgnet/link_internal.h"
#include "wgnet/log.h"
#include "ut.h"

void suite_link(void);

static char ns_a[32], ns_b[32];
static int fd_a = -1, fd_b = -1;

static void mkip(const char *s, struct ip_addr *ip)
{
	uint8_t b[16];

	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, b) == 1) {
		ip->family = AF_INET;
		ip->a[10] = ip->a[11] = 0xff;
		memcpy(&ip->a[12], b, 4);
	} else if (inet_pton(AF_INET6, s, b) == 1) {
		ip->family = AF_INET6;
		memcpy(ip->a, b, 16);
	}
}

/* ------------------------------------------------------------- builders */

struct attrs {
	const struct nlattr *tb[64];
};

static int put_cb(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;

	if (mnl_attr_get_type(attr) < 64)
		a->tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static void test_build_veth(void)
{
	char buf[1024];
	struct attrs top = { { 0 } }, li = { { 0 } }, data = { { 0 } },
		     peer = { { 0 } };
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct ifinfomsg *pifi;
	const struct nlattr *pa;
	int len;

	len = link_build_veth(buf, sizeof(buf), 77, "wgv0", "eth0", 9, 1420);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(len, (int)nlh->nlmsg_len);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, RTM_NEWLINK);
	CU_ASSERT_EQUAL(nlh->nlmsg_seq, 77);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags,
			NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	CU_ASSERT_EQUAL(mnl_attr_parse(nlh, sizeof(struct ifinfomsg), put_cb,
				       &top),
			MNL_CB_OK);
	CU_ASSERT_FATAL(top.tb[IFLA_IFNAME] && top.tb[IFLA_LINKINFO]);
	CU_ASSERT_STRING_EQUAL(mnl_attr_get_str(top.tb[IFLA_IFNAME]), "wgv0");
	CU_ASSERT_EQUAL(mnl_attr_get_u32(top.tb[IFLA_MTU]), 1420);
	mnl_attr_parse_nested(top.tb[IFLA_LINKINFO], put_cb, &li);
	CU_ASSERT_FATAL(li.tb[IFLA_INFO_KIND] && li.tb[IFLA_INFO_DATA]);
	CU_ASSERT_STRING_EQUAL(mnl_attr_get_str(li.tb[IFLA_INFO_KIND]), "veth");
	mnl_attr_parse_nested(li.tb[IFLA_INFO_DATA], put_cb, &data);
	pa = data.tb[VETH_INFO_PEER];
	CU_ASSERT_FATAL(pa != NULL);
	/* The peer nest starts with an ifinfomsg, then its attributes. */
	CU_ASSERT_FATAL(mnl_attr_get_payload_len(pa) >
			sizeof(struct ifinfomsg));
	pifi = mnl_attr_get_payload(pa);
	CU_ASSERT_EQUAL(pifi->ifi_family, AF_UNSPEC);
	CU_ASSERT_EQUAL(pifi->ifi_index, 0);
	mnl_attr_parse_payload((const char *)pifi + sizeof(*pifi),
			       mnl_attr_get_payload_len(pa) - sizeof(*pifi),
			       put_cb, &peer);
	CU_ASSERT_FATAL(peer.tb[IFLA_IFNAME] && peer.tb[IFLA_NET_NS_FD] &&
			peer.tb[IFLA_MTU]);
	CU_ASSERT_STRING_EQUAL(mnl_attr_get_str(peer.tb[IFLA_IFNAME]), "eth0");
	CU_ASSERT_EQUAL(mnl_attr_get_u32(peer.tb[IFLA_NET_NS_FD]), 9);
	CU_ASSERT_EQUAL(mnl_attr_get_u32(peer.tb[IFLA_MTU]), 1420);

	/* No netns, no mtu: neither attribute appears. */
	memset(&peer, 0, sizeof(peer));
	memset(&top, 0, sizeof(top));
	len = link_build_veth(buf, sizeof(buf), 1, "a", "b", -1, 0);
	CU_ASSERT_FATAL(len > 0);
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), put_cb, &top);
	CU_ASSERT_PTR_NULL(top.tb[IFLA_MTU]);
	CU_ASSERT_PTR_NULL(top.tb[IFLA_NET_NS_FD]);

	CU_ASSERT_EQUAL(link_build_veth(buf, 40, 1, "wgv0", "eth0", -1, 0),
			-EMSGSIZE);
	CU_ASSERT_EQUAL(link_build_veth(buf, 60, 1, "wgv0", "eth0", -1, 0),
			-EMSGSIZE);
	CU_ASSERT_EQUAL(link_build_veth(buf, sizeof(buf), 1, "abcdefghijklmnop",
					"eth0", -1, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(link_build_veth(buf, sizeof(buf), 1, "x", "", -1, 0),
			-EINVAL);
}

static void test_build_addr(void)
{
	char buf[256];
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct ifaddrmsg *ifa = (const void *)(buf + MNL_NLMSG_HDRLEN);
	struct attrs t = { { 0 } };
	struct ip_addr ip;
	const uint8_t v4[4] = { 172, 30, 9, 2 };

	mkip("172.30.9.2", &ip);
	CU_ASSERT_FATAL(link_build_addr(buf, sizeof(buf), 5, RTM_NEWADDR, 3,
					&ip, 24) > 0);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, RTM_NEWADDR);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK |
						  NLM_F_CREATE | NLM_F_REPLACE);
	CU_ASSERT_EQUAL(ifa->ifa_family, AF_INET);
	CU_ASSERT_EQUAL(ifa->ifa_prefixlen, 24);
	CU_ASSERT_EQUAL(ifa->ifa_index, 3);
	mnl_attr_parse(nlh, sizeof(*ifa), put_cb, &t);
	CU_ASSERT_FATAL(t.tb[IFA_LOCAL] && t.tb[IFA_ADDRESS]);
	CU_ASSERT_EQUAL(mnl_attr_get_payload_len(t.tb[IFA_LOCAL]), 4);
	CU_ASSERT(!memcmp(mnl_attr_get_payload(t.tb[IFA_LOCAL]), v4, 4));
	CU_ASSERT(!memcmp(mnl_attr_get_payload(t.tb[IFA_ADDRESS]), v4, 4));
	CU_ASSERT_PTR_NULL(t.tb[IFA_FLAGS]);

	memset(&t, 0, sizeof(t));
	mkip("2001:db8:9::2", &ip);
	CU_ASSERT_FATAL(link_build_addr(buf, sizeof(buf), 6, RTM_DELADDR, 3,
					&ip, 64) > 0);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, RTM_DELADDR);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CU_ASSERT_EQUAL(ifa->ifa_family, AF_INET6);
	mnl_attr_parse(nlh, sizeof(*ifa), put_cb, &t);
	CU_ASSERT_PTR_NULL(t.tb[IFA_LOCAL]);
	CU_ASSERT_FATAL(t.tb[IFA_ADDRESS] && t.tb[IFA_FLAGS]);
	CU_ASSERT(!memcmp(mnl_attr_get_payload(t.tb[IFA_ADDRESS]), ip.a, 16));
	CU_ASSERT_EQUAL(mnl_attr_get_u32(t.tb[IFA_FLAGS]), IFA_F_NODAD);

	CU_ASSERT_EQUAL(link_build_addr(buf, sizeof(buf), 6, RTM_NEWADDR, 3,
					&ip, 129),
			-EINVAL);
	ip.family = 0;
	CU_ASSERT_EQUAL(link_build_addr(buf, sizeof(buf), 6, RTM_NEWADDR, 3,
					&ip, 64),
			-EINVAL);
}

static void test_build_route(void)
{
	char buf[256];
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct rtmsg *rtm = (const void *)(buf + MNL_NLMSG_HDRLEN);
	struct attrs t = { { 0 } };
	struct ip_prefix dst = { { 0 }, 0 };
	struct ip_addr gw, gw6;

	mkip("0.0.0.0", &dst.addr);
	mkip("172.30.9.1", &gw);
	CU_ASSERT_FATAL(link_build_route(buf, sizeof(buf), 9, RTM_NEWROUTE, 4,
					 &dst, &gw) > 0);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK |
						  NLM_F_CREATE | NLM_F_REPLACE);
	CU_ASSERT_EQUAL(rtm->rtm_family, AF_INET);
	CU_ASSERT_EQUAL(rtm->rtm_dst_len, 0);
	CU_ASSERT_EQUAL(rtm->rtm_table, RT_TABLE_MAIN);
	CU_ASSERT_EQUAL(rtm->rtm_protocol, RTPROT_STATIC);
	CU_ASSERT_EQUAL(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	CU_ASSERT_EQUAL(rtm->rtm_type, RTN_UNICAST);
	mnl_attr_parse(nlh, sizeof(*rtm), put_cb, &t);
	CU_ASSERT_PTR_NULL(t.tb[RTA_DST]); /* default route */
	CU_ASSERT_FATAL(t.tb[RTA_GATEWAY] && t.tb[RTA_OIF]);
	CU_ASSERT(
		!memcmp(mnl_attr_get_payload(t.tb[RTA_GATEWAY]), &gw.a[12], 4));
	CU_ASSERT_EQUAL(mnl_attr_get_u32(t.tb[RTA_OIF]), 4);

	memset(&t, 0, sizeof(t));
	mkip("10.99.0.0", &dst.addr);
	dst.plen = 16;
	CU_ASSERT_FATAL(link_build_route(buf, sizeof(buf), 9, RTM_NEWROUTE, 4,
					 &dst, NULL) > 0);
	CU_ASSERT_EQUAL(rtm->rtm_scope, RT_SCOPE_LINK);
	CU_ASSERT_EQUAL(rtm->rtm_dst_len, 16);
	mnl_attr_parse(nlh, sizeof(*rtm), put_cb, &t);
	CU_ASSERT_FATAL(t.tb[RTA_DST] != NULL);
	CU_ASSERT(!memcmp(mnl_attr_get_payload(t.tb[RTA_DST]), &dst.addr.a[12],
			  4));
	CU_ASSERT_PTR_NULL(t.tb[RTA_GATEWAY]);

	mkip("fe80::1", &gw6);
	CU_ASSERT_EQUAL(link_build_route(buf, sizeof(buf), 9, RTM_NEWROUTE, 4,
					 &dst, &gw6),
			-EINVAL);
	CU_ASSERT_EQUAL(link_build_route(buf, sizeof(buf), 9, RTM_NEWROUTE, 0,
					 &dst, NULL),
			-EINVAL);
}

/* A canned NLMSG_ERROR with an extended-ack message becomes errno. */
static void test_error_cb(void)
{
	char buf[256] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EEXIST;
	e->msg.nlmsg_len = 100; /* capped: the request is not included */
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "already there");
	errno = 0;
	CU_ASSERT_EQUAL(link_nl_error_cb(nlh, NULL), MNL_CB_ERROR);
	CU_ASSERT_EQUAL(errno, EEXIST);
	e->error = 0;
	CU_ASSERT_EQUAL(link_nl_error_cb(nlh, NULL), MNL_CB_STOP);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 4; /* truncated */
	CU_ASSERT_EQUAL(link_nl_error_cb(nlh, NULL), MNL_CB_ERROR);
}

/* ----------------------------------------------------- real namespaces */

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int suite_init(void)
{
	snprintf(ns_a, sizeof(ns_a), "%s-linka", ut_prefix);
	snprintf(ns_b, sizeof(ns_b), "%s-linkb", ut_prefix);
	if (sh("ip netns add %s", ns_a) || sh("ip netns add %s", ns_b))
		return 0; /* the real tests will fail on fd < 0 */
	fd_a = netns_open(ns_a);
	fd_b = netns_open(ns_b);
	return 0;
}

static int suite_cleanup(void)
{
	if (fd_a >= 0)
		close(fd_a);
	if (fd_b >= 0)
		close(fd_b);
	sh("ip netns del %s 2>/dev/null", ns_a);
	sh("ip netns del %s 2>/dev/null", ns_b);
	return 0;
}

static ino_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static ino_t self_ino(void)
{
	struct stat st;

	return stat("/proc/thread-self/ns/net", &st) ? 0 : st.st_ino;
}

static int ino_in_ns(void *data)
{
	*(ino_t *)data = self_ino();
	return 42;
}

static int read_sysctl(void *data)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r");
	int v = -1;

	(void)data;
	if (!f)
		return -errno;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_sysctl(void *data)
{
	return sysctl_write("net/ipv4/ip_forward", data);
}

static void test_netns(void)
{
	ino_t before = self_ino(), inside = 0;
	int outside_fwd, fd;

	CU_ASSERT_FATAL(fd_a >= 0 && fd_b >= 0);
	CU_ASSERT_EQUAL(netns_open("/nonexistent/ns"), -ENOENT);
	CU_ASSERT_EQUAL(netns_open("wgt-link-no-such-ns"), -ENOENT);
	fd = netns_open("/proc/self/ns/net");
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(fd_ino(fd), before);
	if (fd >= 0)
		close(fd);

	CU_ASSERT_EQUAL(netns_run(fd_a, ino_in_ns, &inside), 42);
	CU_ASSERT_EQUAL(inside, fd_ino(fd_a));
	CU_ASSERT_NOT_EQUAL(inside, before);
	CU_ASSERT_EQUAL(self_ino(), before); /* switched back */

	outside_fwd = read_sysctl(NULL);
	CU_ASSERT_EQUAL(netns_run(fd_b, write_sysctl, "1"), 0);
	CU_ASSERT_EQUAL(netns_run(fd_b, read_sysctl, NULL), 1);
	CU_ASSERT_EQUAL(netns_run(fd_b, write_sysctl, "0"), 0);
	CU_ASSERT_EQUAL(netns_run(fd_b, read_sysctl, NULL), 0);
	CU_ASSERT_EQUAL(read_sysctl(NULL), outside_fwd);
	CU_ASSERT_EQUAL(sysctl_write("net/ipv4/no_such_knob", "1"), -ENOENT);
	CU_ASSERT_EQUAL(sysctl_write("../etc/passwd", "1"), -EINVAL);
	CU_ASSERT_EQUAL(self_ino(), before);
}

static int find_eth0(int ifindex, const char *name, const char *kind,
		     void *data)
{
	int *found = data;

	if (!strcmp(name, "eth0") && !strcmp(kind, "veth"))
		*found = ifindex;
	if (!strcmp(name, "lo") && !strcmp(kind, ""))
		found[1] = ifindex;
	return 0;
}

static int stop_at_first(int ifindex, const char *name, const char *kind,
			 void *data)
{
	(void)ifindex;
	(void)name;
	(void)kind;
	++*(int *)data;
	return 7;
}

/* Does `ip -n NS CMD` print a line with text (and also, if not NULL)? */
static int ip_line(const char *ns, const char *cmd, const char *text,
		   const char *also)
{
	char line[512], full[256];
	int found = 0;
	FILE *p;

	snprintf(full, sizeof(full), "ip -n %s %s 2>&1", ns, cmd);
	p = popen(full, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, text) && (!also || strstr(line, also)))
			found = 1;
	pclose(p);
	return found;
}

static int ip_shows(const char *ns, const char *cmd, const char *text)
{
	return ip_line(ns, cmd, text, NULL);
}

static void test_veth_real(void)
{
	struct rtnl *na = NULL, *nb = NULL;
	struct ip_addr ip4, ip6, gw;
	struct ip_prefix got, dflt = { { 0 }, 0 }, net;
	const uint8_t mac[6] = { 0x02, 0x42, 0xac, 0x1e, 0x09, 0x02 };
	uint8_t rmac[6];
	unsigned int mtu = 0;
	int ia, ib, found[2] = { 0, 0 }, n = 0, sock;
	struct ifreq ifr;
	char name[IFNAMSIZ];

	CU_ASSERT_FATAL(fd_a >= 0 && fd_b >= 0);
	na = rtnl_open(fd_a);
	nb = rtnl_open(fd_b);
	CU_ASSERT_FATAL(na && nb);

	CU_ASSERT_EQUAL(link_veth_create(na, "wgv0", "wgp0", fd_b, 0), 0);
	CU_ASSERT_EQUAL(link_veth_create(na, "wgv0", "wgp1", fd_b, 0), -EEXIST);
	CU_ASSERT_EQUAL(link_index(na, "wgp0"), -ENODEV); /* in B only */
	ia = link_index(na, "wgv0");
	ib = link_index(nb, "wgp0");
	CU_ASSERT(ia > 0);
	CU_ASSERT(ib > 0);
	CU_ASSERT_EQUAL(link_index(nb, "nosuchdev0"), -ENODEV);
	CU_ASSERT_EQUAL(link_name(nb, 99999, name), -ENODEV);

	CU_ASSERT_EQUAL(link_set(nb, ib, "eth0", 1420, mac, 1), 0);
	CU_ASSERT_EQUAL(link_set(na, ia, NULL, 0, NULL, 1), 0);
	CU_ASSERT_EQUAL(link_index(nb, "eth0"), ib);
	CU_ASSERT_EQUAL(link_name(nb, ib, name), 0);
	CU_ASSERT_STRING_EQUAL(name, "eth0");
	CU_ASSERT_EQUAL(link_get_mtu(nb, ib, &mtu), 0);
	CU_ASSERT_EQUAL(mtu, 1420);
	CU_ASSERT_EQUAL(link_get_mtu(na, ia, &mtu), 0);
	CU_ASSERT_EQUAL(mtu, 1500);
	CU_ASSERT_EQUAL(link_get_mac(nb, ib, rmac), 0);
	CU_ASSERT(!memcmp(rmac, mac, 6));
	CU_ASSERT(ip_shows(ns_b, "link show eth0", "state UP"));
	CU_ASSERT_EQUAL(link_get_peer_index(nb, ib), ia);
	CU_ASSERT_EQUAL(link_get_peer_index(na, ia), ib);
	CU_ASSERT_EQUAL(link_get_peer_index(nb, 1), -ENOENT); /* lo */

	CU_ASSERT_EQUAL(link_foreach(nb, find_eth0, found), 0);
	CU_ASSERT_EQUAL(found[0], ib);
	CU_ASSERT_EQUAL(found[1], 1);
	CU_ASSERT_EQUAL(link_foreach(nb, stop_at_first, &n), 7);
	CU_ASSERT_EQUAL(n, 1);

	mkip("172.30.9.2", &ip4);
	mkip("2001:db8:9::2", &ip6);
	mkip("172.30.9.1", &gw);
	CU_ASSERT_EQUAL(addr_get_v4(nb, ib, &got), -ENOENT);
	CU_ASSERT_EQUAL(addr_add(nb, ib, &ip4, 24), 0);
	CU_ASSERT_EQUAL(addr_add(nb, ib, &ip4, 24), 0); /* replace */
	CU_ASSERT_EQUAL(addr_add(nb, ib, &ip6, 64), 0);
	CU_ASSERT_EQUAL(addr_get_v4(nb, ib, &got), 0);
	CU_ASSERT_EQUAL(got.addr.family, AF_INET);
	CU_ASSERT(!memcmp(got.addr.a, ip4.a, 16));
	CU_ASSERT_EQUAL(got.plen, 24);
	/* NODAD: usable at once, never "tentative". */
	CU_ASSERT(ip_shows(ns_b, "-6 addr show dev eth0", "2001:db8:9::2/64"));
	CU_ASSERT(!ip_line(ns_b, "-6 -o addr show dev eth0", "2001:db8:9::2/64",
			   "tentative"));

	CU_ASSERT_EQUAL(route_default_ifindex(nb), -ENOENT);
	mkip("0.0.0.0", &dflt.addr);
	CU_ASSERT_EQUAL(route_replace(nb, ib, &dflt, &gw), 0);
	CU_ASSERT_EQUAL(route_replace(nb, ib, &dflt, &gw), 0);
	CU_ASSERT_EQUAL(route_default_ifindex(nb), ib);
	CU_ASSERT(ip_shows(ns_b, "route show default",
			   "default via 172.30.9.1 dev eth0 proto static"));
	mkip("10.99.0.0", &net.addr);
	net.plen = 16;
	CU_ASSERT_EQUAL(route_replace(nb, ib, &net, NULL), 0);
	CU_ASSERT(ip_shows(ns_b, "route show 10.99.0.0/16",
			   "dev eth0 proto static scope link"));
	CU_ASSERT_EQUAL(route_del(nb, ib, &net, NULL), 0);
	CU_ASSERT(!ip_shows(ns_b, "route show 10.99.0.0/16", "eth0"));
	CU_ASSERT_EQUAL(route_del(nb, ib, &net, NULL), -ESRCH);

	CU_ASSERT_EQUAL(neigh_replace(nb, ib, &gw, mac), 0);
	CU_ASSERT(ip_shows(ns_b, "neigh show 172.30.9.1 dev eth0",
			   "lladdr 02:42:ac:1e:09:02 PERMANENT"));

	/* A socket made in B sees B's eth0; one made in A does not. */
	sock = netns_socket(fd_b, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT(sock >= 0);
	if (sock >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "eth0");
		CU_ASSERT_EQUAL(ioctl(sock, SIOCGIFINDEX, &ifr), 0);
		CU_ASSERT_EQUAL(ifr.ifr_ifindex, ib);
		close(sock);
	}
	sock = netns_socket(fd_a, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT(sock >= 0);
	if (sock >= 0) {
		CU_ASSERT_EQUAL(ioctl(sock, SIOCGIFINDEX, &ifr), -1);
		CU_ASSERT_EQUAL(errno, ENODEV);
		close(sock);
	}

	CU_ASSERT_EQUAL(route_del(nb, ib, &dflt, &gw), 0);
	CU_ASSERT_EQUAL(route_default_ifindex(nb), -ENOENT);
	CU_ASSERT_EQUAL(addr_del(nb, ib, &ip4, 24), 0);
	CU_ASSERT_EQUAL(addr_get_v4(nb, ib, &got), -ENOENT);
	CU_ASSERT_EQUAL(addr_del(nb, ib, &ip4, 24), -EADDRNOTAVAIL);

	CU_ASSERT_EQUAL(link_del(na, ia), 0);
	CU_ASSERT_EQUAL(link_index(na, "wgv0"), -ENODEV);
	CU_ASSERT_EQUAL(link_index(nb, "eth0"), -ENODEV); /* peer went too */
	CU_ASSERT_EQUAL(link_del(na, ia), -ENODEV);

	rtnl_close(na);
	rtnl_close(nb);
}

/* rtnl_open(-1) works where we are, without touching our namespace. */
static void test_rtnl_here(void)
{
	ino_t before = self_ino();
	struct rtnl *nl = rtnl_open(-1);

	CU_ASSERT_FATAL(nl != NULL);
	CU_ASSERT_EQUAL(link_index(nl, "lo"), 1);
	rtnl_close(nl);
	rtnl_close(NULL);
	log_level = -1; /* the expected setns error is logged */
	CU_ASSERT_PTR_NULL(rtnl_open(12345)); /* not an fd */
	CU_ASSERT_EQUAL(errno, EBADF);
	log_level = LOG_LVL_ERR;
	CU_ASSERT_EQUAL(self_ino(), before);
}

void suite_link(void)
{
	CU_pSuite s = CU_add_suite("link", suite_init, suite_cleanup);

	CU_add_test(s, "build veth", test_build_veth);
	CU_add_test(s, "build addr", test_build_addr);
	CU_add_test(s, "build route", test_build_route);
	CU_add_test(s, "error cb", test_error_cb);
	CU_add_test(s, "netns helpers", test_netns);
	CU_add_test(s, "rtnl here", test_rtnl_here);
	CU_add_test(s, "veth in namespaces", test_veth_real);
}
