// SPDX-License-Identifier: GPL-2.0
/*
 * The tc programs run on crafted packets with bpf_prog_test_run_opts, over
 * maps filled through dp.c. Needs root (BPF, a bpffs pin dir).
 *
 * test_run for tc needs ctx.ifindex to name an existing device in the
 * current namespace (else -ENODEV); skb->ifindex is then that device's. The
 * suite uses lo (ifindex 1), which exists everywhere, and switches its
 * wgn_ifaces entry between an endpoint and a WireGuard interface. test_run
 * only runs the program: a redirect returns TC_ACT_REDIRECT and nothing is
 * sent anywhere.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "ut.h"

#define IFX 1 /* lo: test_run wants a real device */
#define NET1 1
#define NET2 2
#define WG_IFX 77
#define LOCAL_IFX 33

static struct dp *dp;
static char pin_dir[64];
static int orig_ns = -1; /* the runner's namespace, back at cleanup */

static const uint8_t ep_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t ep_hmac[6] = { 0x02, 0, 0, 0, 0x01, 0x02 };
static const uint8_t l_mac[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t l_hmac[6] = { 0x02, 0, 0, 0, 0x01, 0x03 };

/* ---- addresses ---- */

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct ip_addr ip = { .family = AF_INET };

	ip.a[10] = ip.a[11] = 0xff;
	ip.a[12] = a;
	ip.a[13] = b;
	ip.a[14] = c;
	ip.a[15] = d;
	return ip;
}

static struct ip_addr v6(const char *s)
{
	struct ip_addr ip = { .family = AF_INET6 };

	if (inet_pton(AF_INET6, s, ip.a) != 1)
		abort();
	return ip;
}

static struct ip_prefix pfx(struct ip_addr a, int plen)
{
	struct ip_prefix p = { .addr = a, .plen = plen };

	return p;
}

/* ---- packets ---- */

static size_t put_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src,
		      uint16_t proto)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = proto >> 8;
	p[13] = proto & 0xff;
	return 14;
}

/* IPv4 header + 8 bytes of UDP at p. */
static size_t put_ip4(uint8_t *p, struct ip_addr s, struct ip_addr d)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[3] = 28;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, s.a + 12, 4);
	memcpy(p + 16, d.a + 12, 4);
	p[21] = 53;
	p[23] = 53;
	p[25] = 8;
	return 28;
}

static size_t ip4_frame(uint8_t *p, struct ip_addr s, struct ip_addr d)
{
	size_t n = put_eth(p, ep_hmac, ep_mac, ETH_P_IP);

	return n + put_ip4(p + n, s, d);
}

/* IPv6 header + 8 bytes of UDP (or an ICMPv6 body of plen) at p. */
static size_t put_ip6(uint8_t *p, const struct ip_addr *s,
		      const struct ip_addr *d, uint8_t nh, uint16_t plen,
		      uint8_t hlim)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = plen >> 8;
	p[5] = plen & 0xff;
	p[6] = nh;
	p[7] = hlim;
	memcpy(p + 8, s->a, 16);
	memcpy(p + 24, d->a, 16);
	return 40;
}

static size_t ip6_frame(uint8_t *p, struct ip_addr s, struct ip_addr d)
{
	size_t n = put_eth(p, ep_hmac, ep_mac, ETH_P_IPV6);

	n += put_ip6(p + n, &s, &d, 17, 8, 64);
	memset(p + n, 0, 8);
	return n + 8;
}

static size_t arp_frame(uint8_t *p, uint16_t op, struct ip_addr sip,
			struct ip_addr tip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = put_eth(p, bcast, ep_mac, ETH_P_ARP);
	uint8_t *a = p + n;

	memset(a, 0, 28);
	a[1] = 1; /* Ethernet */
	a[2] = 0x08; /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	a[7] = op;
	memcpy(a + 8, ep_mac, 6);
	memcpy(a + 14, sip.a + 12, 4);
	memcpy(a + 24, tip.a + 12, 4);
	return n + 28;
}

/* Internet checksum over an IPv6 pseudo-header and an ICMPv6 message. */
static uint16_t icmp6_csum(const uint8_t *ip6, const uint8_t *msg, uint32_t len)
{
	uint32_t sum = 0, i;

	for (i = 8; i < 40; i += 2)
		sum += (ip6[i] << 8) | ip6[i + 1];
	sum += len >> 16;
	sum += len & 0xffff;
	sum += 58;
	for (i = 0; i + 1 < len; i += 2)
		sum += (msg[i] << 8) | msg[i + 1];
	if (len & 1)
		sum += msg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* NS from the endpoint for target, with a source link-layer option. */
static size_t ns_frame(uint8_t *p, struct ip_addr src, struct ip_addr tgt,
		       uint8_t hlim)
{
	struct ip_addr snm = v6("ff02::1:ff00:0");
	size_t n = put_eth(p, ep_hmac, ep_mac, ETH_P_IPV6);
	uint8_t *m;
	uint16_t c;

	memcpy(snm.a + 13, tgt.a + 13, 3);
	n += put_ip6(p + n, &src, &snm, 58, 32, hlim);
	m = p + n;
	memset(m, 0, 32);
	m[0] = 135;
	memcpy(m + 8, tgt.a, 16);
	m[24] = 1;
	m[25] = 1;
	memcpy(m + 26, ep_mac, 6);
	c = icmp6_csum(p + 14, m, 32);
	m[2] = c >> 8;
	m[3] = c & 0xff;
	return n + 32;
}

/* IPv4 frame with protocol proto and first upper-layer byte b0 (8 bytes). */
static size_t ip4_l4_frame(uint8_t *p, struct ip_addr s, struct ip_addr d,
			   uint8_t proto, uint8_t b0)
{
	size_t n = ip4_frame(p, s, d);

	p[14 + 9] = proto;
	memset(p + 14 + 20, 0, 8);
	p[14 + 20] = b0;
	return n;
}

/* IPv6 frame: ICMPv6 of type (8 bytes), after hbh Hop-by-Hop headers. */
static size_t icmp6_frame(uint8_t *p, struct ip_addr s, struct ip_addr d,
			  uint8_t type, int hbh)
{
	size_t n = put_eth(p, ep_hmac, ep_mac, ETH_P_IPV6);
	uint8_t *h;

	n += put_ip6(p + n, &s, &d, hbh ? 0 : 58, 8 + 8 * hbh, 1);
	for (int i = 0; i < hbh; i++, n += 8) {
		h = p + n;
		memset(h, 0, 8);
		h[0] = i + 1 < hbh ? 0 : 58;
		h[2] = 5; /* Router Alert */
		h[3] = 2;
	}
	memset(p + n, 0, 8);
	p[n] = type;
	return n + 8;
}

/* ---- running ---- */

struct run {
	uint8_t out[256];
	uint32_t out_len;
	int retval;
};

static int run(int kind, const void *pkt, size_t len, struct run *r)
{
	struct __sk_buff ctx = { .ifindex = IFX };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = (uint32_t)len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	memset(r->out, 0, sizeof(r->out));
	err = bpf_prog_test_run_opts(dp_prog_fd(dp, kind), &o);
	r->out_len = o.data_size_out;
	r->retval = (int)o.retval;
	return err;
}

static uint64_t drops_of(int reason)
{
	uint64_t d[WGN_DROP__MAX];

	CU_ASSERT_EQUAL_FATAL(dp_read_drops(dp, d), 0);
	return d[reason];
}

static uint64_t stat_of(int idx)
{
	uint64_t s[WGN_STAT__MAX];

	CU_ASSERT_EQUAL_FATAL(dp_read_stats(dp, s), 0);
	return s[idx];
}

/* Run the endpoint program; expect retval and a +1 on drop reason (if
 * any). */
static void expect_ep(const void *pkt, size_t len, int retval, int reason,
		      struct run *r)
{
	uint64_t before = reason ? drops_of(reason) : 0;

	CU_ASSERT_EQUAL_FATAL(run(WGN_IF_ENDPOINT, pkt, len, r), 0);
	CU_ASSERT_EQUAL(r->retval, retval);
	if (reason)
		CU_ASSERT_EQUAL(drops_of(reason), before + 1);
}

static int set_iface(int kind)
{
	struct wgn_iface ifc = { .kind = kind,
				 .net_id = NET1,
				 .peer_ifindex = 5 };
	struct ip_addr a4 = v4(172, 30, 0, 2), a6 = v6("fd30::2");

	if (kind == WGN_IF_ENDPOINT) {
		memcpy(ifc.addr4, a4.a, 16);
		memcpy(ifc.addr6, a6.a, 16);
		memcpy(ifc.mac, ep_mac, 6);
		memcpy(ifc.hmac, ep_hmac, 6);
	}
	return dp_iface_set(dp, IFX, &ifc);
}

static int set_net1(uint32_t flags)
{
	struct wgn_net n = { .plen4 = 16,
			     .plen6 = 64,
			     .wg_ifindex = WG_IFX,
			     .flags = WGN_NET_F_IPV6 | flags };
	struct ip_addr s4 = v4(172, 30, 0, 0), g4 = v4(172, 30, 0, 1);
	struct ip_addr s6 = v6("fd30::"), g6 = v6("fd30::1");

	memcpy(n.subnet4, s4.a, 16);
	memcpy(n.gw4, g4.a, 16);
	memcpy(n.subnet6, s6.a, 16);
	memcpy(n.gw6, g6.a, 16);
	return dp_net_set(dp, NET1, &n);
}

/*
 * The programs ask the routing tables whether a destination is the
 * guest's own (bpf_fib_lookup), so the suite runs in a namespace of its
 * own that looks like a guest: forwarding on, lo up with default routes
 * through it, and one more local address on lo (GUEST_LOCAL4/6).
 */
#define GUEST_LOCAL4 v4(10, 200, 0, 1)
#define GUEST_LOCAL6 v6("fd99::1")

static int guest_ns_enter(void)
{
	struct ip_prefix def4 = { .addr = v4(0, 0, 0, 0), .plen = 0 };
	struct ip_prefix def6 = { .addr = v6("::"), .plen = 0 };
	struct ip_addr a;
	struct rtnl *nl;
	int err;

	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_ns < 0 || unshare(CLONE_NEWNET))
		return -1;
	nl = rtnl_open(-1);
	if (!nl)
		return -1;
	err = link_set(nl, IFX, NULL, 0, NULL, 1);
	if (!err)
		err = sysctl_write("net/ipv4/ip_forward", "1");
	if (!err)
		err = sysctl_write("net/ipv6/conf/all/forwarding", "1");
	if (!err)
		err = route_replace(nl, IFX, &def4, NULL);
	if (!err)
		err = route_replace(nl, IFX, &def6, NULL);
	a = GUEST_LOCAL4;
	if (!err)
		err = addr_add(nl, IFX, &a, 32);
	a = GUEST_LOCAL6;
	if (!err)
		err = addr_add(nl, IFX, &a, 128);
	rtnl_close(nl);
	return err ? -1 : 0;
}

static int suite_init(void)
{
	struct wgn_dest local = { .kind = WGN_DEST_LOCAL,
				  .ifindex = LOCAL_IFX };
	struct wgn_dest remote = { .kind = WGN_DEST_REMOTE, .ifindex = WG_IFX };
	struct ip_addr a;
	struct ip_prefix p;

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/wgnet-%s-dp",
		 ut_prefix);
	if (guest_ns_enter())
		return -1;
	if (dp_open(pin_dir, &dp))
		return -1;
	memcpy(local.mac, l_mac, 6);
	memcpy(local.hmac, l_hmac, 6);
	if (set_iface(WGN_IF_ENDPOINT) || set_net1(0))
		return -1;
	a = v4(172, 30, 0, 3);
	if (dp_dest_set(dp, NET1, &a, &local))
		return -1;
	a = v6("fd30::3");
	if (dp_dest_set(dp, NET1, &a, &local))
		return -1;
	a = v4(172, 30, 0, 9);
	if (dp_dest_set(dp, NET1, &a, &remote))
		return -1;
	p = pfx(v4(10, 77, 0, 0), 24);
	if (dp_ctrl_set(dp, &p))
		return -1;
	p = pfx(v4(172, 30, 0, 0), 16);
	if (dp_subnet_set(dp, &p, NET1))
		return -1;
	p = pfx(v6("fd30::"), 64);
	if (dp_subnet_set(dp, &p, NET1))
		return -1;
	p = pfx(v4(172, 31, 0, 0), 16);
	if (dp_subnet_set(dp, &p, NET2))
		return -1;
	return 0;
}

static int suite_cleanup(void)
{
	int err = 0;

	dp_close(dp);
	dp = NULL;
	if (dp_unpin(pin_dir))
		err = -1;
	if (orig_ns >= 0 && setns(orig_ns, CLONE_NEWNET))
		err = -1;
	if (orig_ns >= 0)
		close(orig_ns);
	orig_ns = -1;
	return err;
}

/* ---- tests ---- */

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(dp_drop_name(WGN_DROP_SPOOF), "spoof");
	CU_ASSERT_STRING_EQUAL(dp_drop_name(WGN_DROP_WG_SPOOF), "wg_spoof");
	CU_ASSERT_STRING_EQUAL(dp_drop_name(WGN_DROP_NO_DEST), "no_dest");
	CU_ASSERT_STRING_EQUAL(dp_drop_name(99), "unknown");
	CU_ASSERT_STRING_EQUAL(dp_stat_name(WGN_STAT_PASS_STACK), "pass_stack");
	CU_ASSERT_STRING_EQUAL(dp_stat_name(WGN_STAT_FROM_WG), "from_wg");
	CU_ASSERT_STRING_EQUAL(dp_stat_name(-1), "unknown");
	CU_ASSERT_EQUAL(dp_prog_fd(dp, 42), -EINVAL);
	CU_ASSERT(dp_prog_fd(dp, WGN_IF_ENDPOINT) >= 0);
	CU_ASSERT(dp_prog_fd(dp, WGN_IF_WG) >= 0);
}

static void test_pins(void)
{
	static const char *const names[] = {
		WGN_MAP_IFACES, WGN_MAP_NETS,  WGN_MAP_DESTS, WGN_MAP_SUBNETS,
		WGN_MAP_CTRL,	WGN_MAP_DROPS, WGN_MAP_STATS, "wgn_version",
	};
	char path[128];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		CU_ASSERT_EQUAL(stat(path, &st), 0);
	}
}

static int count_iface(uint32_t ifindex, const struct wgn_iface *v, void *d)
{
	if (ifindex == IFX && v->net_id == NET1)
		++*(int *)d;
	return 0;
}

/* A second open reuses the pins; a wrong version pin is refused. */
static void test_reopen_version(void)
{
	uint32_t key = 0, val = WGN_MAP_VERSION + 1;
	struct dp *dp2 = NULL;
	char path[128];
	int n = 0, fd, lvl;

	CU_ASSERT_EQUAL_FATAL(dp_open(pin_dir, &dp2), 0);
	CU_ASSERT_EQUAL(dp_iface_foreach(dp2, count_iface, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	dp_close(dp2);

	snprintf(path, sizeof(path), "%s/wgn_version", pin_dir);
	fd = bpf_obj_get(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(bpf_map_update_elem(fd, &key, &val, BPF_ANY), 0);
	dp2 = NULL;
	lvl = log_level;
	log_level = -1; /* the refusal is logged as an error */
	CU_ASSERT_EQUAL(dp_open(pin_dir, &dp2), -EPROTO);
	log_level = lvl;
	CU_ASSERT_PTR_NULL(dp2);
	val = WGN_MAP_VERSION;
	CU_ASSERT_EQUAL(bpf_map_update_elem(fd, &key, &val, BPF_ANY), 0);
	close(fd);
}

static void test_arp_reply(void)
{
	uint64_t st = stat_of(WGN_STAT_ARP_REPLY);
	struct ip_addr own = v4(172, 30, 0, 2), tgt = v4(172, 30, 0, 3);
	uint8_t pkt[64];
	size_t n = arp_frame(pkt, 1, own, tgt);
	struct run r;
	uint8_t *a = r.out + 14;

	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(r.out_len, n);
	CU_ASSERT_EQUAL(memcmp(r.out, ep_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r.out + 6, ep_hmac, 6), 0);
	CU_ASSERT_EQUAL(a[6], 0);
	CU_ASSERT_EQUAL(a[7], 2); /* reply */
	CU_ASSERT_EQUAL(memcmp(a + 8, ep_hmac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a + 14, tgt.a + 12, 4), 0);
	CU_ASSERT_EQUAL(memcmp(a + 18, ep_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(a + 24, own.a + 12, 4), 0);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_ARP_REPLY), st + 1);

	/* The gateway and absent addresses are answered too. */
	n = arp_frame(pkt, 1, own, v4(172, 30, 0, 1));
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	n = arp_frame(pkt, 1, own, v4(172, 30, 200, 200));
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
}

static void test_arp_other(void)
{
	struct ip_addr own = v4(172, 30, 0, 2), zero = v4(0, 0, 0, 0);
	uint8_t pkt[64];
	size_t n;
	struct run r;

	/* Spoofed sender. */
	n = arp_frame(pkt, 1, v4(172, 30, 0, 3), v4(172, 30, 0, 1));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	/* Target off the network, own address (probe), a reply: untouched. */
	n = arp_frame(pkt, 1, own, v4(192, 0, 2, 1));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	CU_ASSERT_EQUAL(memcmp(r.out, pkt, n), 0);
	n = arp_frame(pkt, 1, zero, own);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = arp_frame(pkt, 1, zero, v4(172, 30, 0, 3));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	CU_ASSERT_EQUAL(memcmp(r.out, pkt, n), 0);
	n = arp_frame(pkt, 2, own, v4(172, 30, 0, 3));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	/* Truncated. */
	expect_ep(pkt, 14 + 20, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
}

static void test_ip4_spoof(void)
{
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 7), v4(172, 30, 0, 3));
	struct run r;

	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	n = ip4_frame(pkt, v4(0, 0, 0, 0), v4(172, 30, 0, 1));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
}

static void test_ip4_ctrl(void)
{
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(10, 77, 0, 200));
	struct run r;

	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_CTRL, &r);
	/* Just outside the /24. */
	n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(10, 77, 1, 1));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
}

static void test_ip4_isolation(void)
{
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 31, 0, 5));
	struct run r;

	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ISOLATION, &r);
	n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 30, 5, 5));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_NO_DEST, &r);
}

static void test_ip4_local(void)
{
	uint64_t st = stat_of(WGN_STAT_FWD_LOCAL);
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 30, 0, 3));
	struct run r;

	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(r.out_len, n);
	CU_ASSERT_EQUAL(memcmp(r.out, l_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r.out + 6, l_hmac, 6), 0);
	/* L3 untouched (no TTL decrement). */
	CU_ASSERT_EQUAL(memcmp(r.out + 12, pkt + 12, n - 12), 0);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_FWD_LOCAL), st + 1);
}

static void test_ip4_remote(void)
{
	uint64_t st = stat_of(WGN_STAT_FWD_REMOTE);
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 30, 0, 9));
	struct run r;

	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(memcmp(r.out, pkt, n), 0);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_FWD_REMOTE), st + 1);
}

static void test_ip4_stack_internal(void)
{
	uint64_t st = stat_of(WGN_STAT_PASS_STACK);
	uint8_t pkt[64];
	size_t n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(203, 0, 113, 5));
	size_t g = 0;
	uint8_t gpkt[64];
	struct run r;

	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_PASS_STACK), st + 1);
	g = ip4_l4_frame(gpkt, v4(172, 30, 0, 2), v4(172, 30, 0, 1), 1, 8);
	expect_ep(gpkt, g, TC_ACT_OK, 0, &r);

	CU_ASSERT_EQUAL_FATAL(set_net1(WGN_NET_F_INTERNAL), 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_INTERNAL, &r);
	expect_ep(gpkt, g, TC_ACT_OK, 0, &r);
	CU_ASSERT_EQUAL_FATAL(set_net1(0), 0);

	/* Unknown ifindex kind: not ours. */
	CU_ASSERT_EQUAL_FATAL(set_iface(WGN_IF_WG), 0);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	CU_ASSERT_EQUAL_FATAL(set_iface(WGN_IF_ENDPOINT), 0);
}

static void test_ip6(void)
{
	uint8_t pkt[96];
	size_t n;
	struct run r;

	n = ip6_frame(pkt, v6("fd30::2"), v6("fd30::3"));
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(memcmp(r.out, l_mac, 6), 0);
	n = ip6_frame(pkt, v6("fd30::4"), v6("fd30::3"));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	/* Link-local is allowed for ND only. */
	n = ip6_frame(pkt, v6("fe80::2"), v6("fd30::1"));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	n = ip6_frame(pkt, v6("fd30::2"), v6("fd30::77"));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_NO_DEST, &r);
	n = ip6_frame(pkt, v6("fd30::2"), v6("2001:db8::1"));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
}

static void test_nd(void)
{
	uint64_t st = stat_of(WGN_STAT_ND_REPLY);
	struct ip_addr tgt = v6("fd30::3"), src = v6("fd30::2");
	uint8_t pkt[128];
	size_t n = ns_frame(pkt, src, tgt, 255);
	const uint8_t *ip6 = NULL, *m = NULL;
	struct run r;

	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_ND_REPLY), st + 1);
	CU_ASSERT_EQUAL_FATAL(r.out_len, 14 + 40 + 32);
	ip6 = r.out + 14;
	m = ip6 + 40;
	CU_ASSERT_EQUAL(memcmp(r.out, ep_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r.out + 6, ep_hmac, 6), 0);
	CU_ASSERT(r.out[12] == 0x86 && r.out[13] == 0xdd);
	CU_ASSERT_EQUAL(ip6[0] >> 4, 6);
	CU_ASSERT(ip6[4] == 0 && ip6[5] == 32);
	CU_ASSERT_EQUAL(ip6[6], 58);
	CU_ASSERT_EQUAL(ip6[7], 255);
	CU_ASSERT_EQUAL(memcmp(ip6 + 8, tgt.a, 16), 0);
	CU_ASSERT_EQUAL(memcmp(ip6 + 24, src.a, 16), 0);
	CU_ASSERT_EQUAL(m[0], 136);
	CU_ASSERT_EQUAL(m[1], 0);
	CU_ASSERT_EQUAL(m[4], 0x60); /* solicited + override */
	CU_ASSERT_EQUAL(memcmp(m + 8, tgt.a, 16), 0);
	CU_ASSERT(m[24] == 2 && m[25] == 1);
	CU_ASSERT_EQUAL(memcmp(m + 26, ep_hmac, 6), 0);
	/* The checksum over the whole message, itself included, is 0. */
	CU_ASSERT_EQUAL(icmp6_csum(ip6, m, 32), 0);

	/* From a link-local source: answered to that source. */
	n = ns_frame(pkt, v6("fe80::2"), v6("fd30::1"), 255);
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(memcmp(r.out + 14 + 24, v6("fe80::2").a, 16), 0);
	CU_ASSERT_EQUAL(icmp6_csum(r.out + 14, r.out + 54, 32), 0);

	/* Not answered, and sent to another solicited-node group than the
	 * gateway's: own address (DAD-like), wrong hop limit, off-net, from
	 * :: (DAD). Spoofed global source is dropped. */
	n = ns_frame(pkt, src, src, 255);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = ns_frame(pkt, src, tgt, 64);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = ns_frame(pkt, src, v6("2001:db8::5"), 255);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = ns_frame(pkt, v6("::"), tgt, 255);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	/* Not answered but for the gateway: to the stack. */
	n = ns_frame(pkt, src, v6("fd30::1"), 64);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = ns_frame(pkt, v6("fd30::99"), tgt, 255);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	/* A Router Advertisement from a container. */
	n = ns_frame(pkt, v6("fe80::2"), tgt, 255);
	pkt[54] = 134;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
}

static void test_l2(void)
{
	static const uint16_t tags[] = { 0x8100, 0x88a8, 0x9100 };
	static const uint16_t odd[] = { 0x88cc,	    0x8863, 0x88b5,
					0x0800 + 1, 0x0000, 0x86dc };
	uint8_t pkt[96];
	size_t n;
	struct run r;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		/* A tag (VLAN 0) around a valid IPv4 packet to a container. */
		n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 30, 0, 3));
		memmove(pkt + 18, pkt + 12, n - 12);
		pkt[12] = tags[i] >> 8;
		pkt[13] = tags[i] & 0xff;
		pkt[14] = pkt[15] = 0;
		expect_ep(pkt, n + 4, TC_ACT_SHOT, WGN_DROP_VLAN, &r);
	}
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		n = ip4_frame(pkt, v4(172, 30, 0, 2), v4(172, 30, 0, 3));
		pkt[12] = odd[i] >> 8;
		pkt[13] = odd[i] & 0xff;
		expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ETHERTYPE, &r);
	}
	/* Truncated IPv4/IPv6 headers cannot be run here: test_run refuses
	 * them (-EINVAL); t-sec-l2.sh sends them from a container. */
	/* ARP of another hardware type. */
	n = arp_frame(pkt, 1, v4(172, 30, 0, 2), v4(172, 30, 0, 3));
	pkt[15] = 6;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
}

static void test_ip_headers(void)
{
	struct ip_addr s4 = v4(172, 30, 0, 2), d4 = v4(172, 30, 0, 3);
	struct ip_addr s6 = v6("fd30::2"), d6 = v6("fd30::3");
	uint8_t pkt[128];
	size_t n;
	struct run r;

	n = ip4_frame(pkt, s4, d4);
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	pkt[14] = 0x44; /* IHL 4 */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	pkt[14] = 0x65; /* version 6 in an IPv4 frame */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	n = ip4_frame(pkt, s4, d4);
	pkt[14 + 3] = 29; /* total length beyond the frame */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	pkt[14 + 3] = 19; /* shorter than the header */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	n = ip4_frame(pkt, s4, d4);
	pkt[14] = 0x46; /* 4 bytes of options (the UDP header's first) */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_IP_OPTIONS, &r);

	n = ip6_frame(pkt, s6, d6);
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	pkt[14 + 5] = 9; /* payload length beyond the frame */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	n = ip6_frame(pkt, s6, d6);
	pkt[14] = 0x40;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
	/* A Routing header, straight or after an option header. */
	n = ip6_frame(pkt, s6, d6);
	pkt[14 + 6] = 43;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_IP_OPTIONS, &r);
	n = icmp6_frame(pkt, s6, d6, 128, 1);
	pkt[14 + 40] = 43;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_IP_OPTIONS, &r);
	/* One and two option headers are walked; a third is refused. */
	n = icmp6_frame(pkt, s6, d6, 128, 2);
	expect_ep(pkt, n, TC_ACT_REDIRECT, 0, &r);
	n = icmp6_frame(pkt, s6, d6, 128, 3);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_IP_OPTIONS, &r);
	/* An option header running past the frame. */
	n = icmp6_frame(pkt, s6, d6, 128, 1);
	expect_ep(pkt, 14 + 41, TC_ACT_SHOT, WGN_DROP_MALFORMED, &r);
}

static void test_guest(void)
{
	struct ip_addr s4 = v4(172, 30, 0, 2), gw4 = v4(172, 30, 0, 1);
	struct ip_addr s6 = v6("fd30::2"), gw6 = v6("fd30::1");
	struct wgn_port_key pk = { .port = htons(8080), .proto = 6 };
	uint64_t st = stat_of(WGN_STAT_PASS_STACK);
	uint8_t pkt[128];
	size_t n;
	struct run r;

	/* The gateway: echo requests and DNS only, v4 and v6. */
	n = ip4_l4_frame(pkt, s4, gw4, 1, 8);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = ip4_l4_frame(pkt, s4, gw4, 1, 13); /* timestamp */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip4_l4_frame(pkt, s4, gw4, 6, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip4_frame(pkt, s4, gw4); /* UDP 53: the gateway's resolver */
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	pkt[14 + 20 + 3] = 54; /* any other UDP port */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip4_l4_frame(pkt, s4, gw4, 1, 8);
	pkt[14 + 6] = 0x20; /* a first fragment is no echo request */
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = icmp6_frame(pkt, s6, gw6, 128, 0);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = icmp6_frame(pkt, s6, gw6, 129, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip6_frame(pkt, s6, gw6);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_PASS_STACK), st + 3);

	/* Any other address of the guest (the routing table says local). */
	n = ip4_frame(pkt, s4, GUEST_LOCAL4);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip4_l4_frame(pkt, s4, GUEST_LOCAL4, 1, 8);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip4_frame(pkt, s4, v4(127, 0, 0, 1));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip6_frame(pkt, s6, GUEST_LOCAL6);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	n = ip6_frame(pkt, s6, v6("::1"));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	/* Through the guest: routed. */
	n = ip4_frame(pkt, s4, v4(203, 0, 113, 5));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = ip6_frame(pkt, s6, v6("2001:db8::1"));
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);

	/* Multicast and broadcast. */
	n = ip4_frame(pkt, s4, v4(224, 0, 0, 251));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MCAST, &r);
	n = ip4_frame(pkt, s4, v4(255, 255, 255, 255));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MCAST, &r);
	n = ip6_frame(pkt, s6, v6("ff02::fb"));
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MCAST, &r);

	/* An answer from a published port may go to the guest itself. */
	memcpy(pk.addr, s4.a, 16);
	CU_ASSERT_EQUAL_FATAL(dp_pubports_sync(dp, &pk, 1), 0);
	n = ip4_l4_frame(pkt, s4, GUEST_LOCAL4, 6, 0x1f);
	pkt[14 + 21] = 0x90; /* source port 8080 */
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = ip4_l4_frame(pkt, s4, gw4, 6, 0x1f);
	pkt[14 + 21] = 0x90;
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	pkt[14 + 21] = 0x91;
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
	CU_ASSERT_EQUAL(dp_pubports_sync(dp, NULL, 0), 0);
}

static void test_nd_dest(void)
{
	struct ip_addr own = v6("fd30::2"), ll = v6("fe80::2");
	uint8_t pkt[128];
	size_t n;
	struct run r;

	/* RS to all-routers, NA to the gateway and its solicited-node. */
	n = icmp6_frame(pkt, ll, v6("ff02::2"), 133, 0);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = icmp6_frame(pkt, own, v6("fd30::1"), 136, 0);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	n = icmp6_frame(pkt, ll, v6("ff02::1:ff00:1"), 136, 0);
	expect_ep(pkt, n, TC_ACT_OK, 0, &r);
	/* Elsewhere: another container, another network, outside, all
	 * nodes, a link-local address. */
	n = icmp6_frame(pkt, own, v6("fd30::3"), 136, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, own, v6("fd31::3"), 135, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, own, v6("2001:db8::1"), 136, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, ll, v6("ff02::1"), 136, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, ll, v6("fe80::1"), 135, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	/* ND behind two option headers is still ND. */
	n = icmp6_frame(pkt, own, v6("2001:db8::1"), 136, 2);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);

	/* MLD is link-scoped: to a group, dropped as multicast; to a unicast
	 * address, nd (own source) or spoof (link-local source). */
	n = icmp6_frame(pkt, ll, v6("ff02::16"), 143, 1);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MCAST, &r);
	n = icmp6_frame(pkt, ll, v6("fd30::3"), 131, 1);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	n = icmp6_frame(pkt, ll, v6("2001:db8::1"), 143, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_SPOOF, &r);
	n = icmp6_frame(pkt, own, v6("fd30::3"), 131, 1);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, own, v6("fd30::1"), 131, 1);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, own, v6("2001:db8::1"), 143, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_ND, &r);
	n = icmp6_frame(pkt, own, v6("ff02::16"), 143, 1);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_MCAST, &r);
	/* Other ICMPv6 takes the normal path too. */
	n = icmp6_frame(pkt, own, v6("fd99::1"), 128, 0);
	expect_ep(pkt, n, TC_ACT_SHOT, WGN_DROP_GUEST, &r);
}

static void test_wg(void)
{
	uint64_t st = stat_of(WGN_STAT_FROM_WG);
	uint8_t pkt[96];
	size_t n;
	struct run r;

	CU_ASSERT_EQUAL_FATAL(set_iface(WGN_IF_WG), 0);
	/* Starts at the IP header. */
	n = put_ip4(pkt, v4(172, 30, 0, 9), v4(172, 30, 0, 3));
	CU_ASSERT_EQUAL_FATAL(run(WGN_IF_WG, pkt, n, &r), 0);
	CU_ASSERT_EQUAL(r.retval, TC_ACT_REDIRECT);
	CU_ASSERT_EQUAL(r.out_len, n + 14);
	CU_ASSERT_EQUAL(memcmp(r.out, l_mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(r.out + 6, l_hmac, 6), 0);
	CU_ASSERT(r.out[12] == 0x08 && r.out[13] == 0x00);
	CU_ASSERT_EQUAL(memcmp(r.out + 14, pkt, n), 0);
	CU_ASSERT_EQUAL(stat_of(WGN_STAT_FROM_WG), st + 1);

	n = put_ip6(pkt, &(struct ip_addr){ 0 }, &(struct ip_addr){ 0 }, 17, 8,
		    64);
	memcpy(pkt + 8, v6("fd30::9").a, 16);
	memcpy(pkt + 24, v6("fd30::3").a, 16);
	memset(pkt + 40, 0, 8);
	n += 8;
	CU_ASSERT_EQUAL_FATAL(run(WGN_IF_WG, pkt, n, &r), 0);
	CU_ASSERT_EQUAL(r.retval, TC_ACT_REDIRECT);
	CU_ASSERT_EQUAL(r.out_len, n + 14);
	CU_ASSERT(r.out[12] == 0x86 && r.out[13] == 0xdd);
	CU_ASSERT_EQUAL(memcmp(r.out + 14, pkt, n), 0);

	/* No destination, a remote destination, a spoofed local source. */
	{
		static const struct {
			uint8_t s, d;
			int reason;
		} c[] = {
			{ 9, 50, WGN_DROP_WG_NO_DEST },
			{ 50, 9, WGN_DROP_WG_NO_DEST },
			{ 3, 3, WGN_DROP_WG_SPOOF },
		};
		size_t i;

		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			uint64_t before = drops_of(c[i].reason);

			n = put_ip4(pkt, v4(172, 30, 0, c[i].s),
				    v4(172, 30, 0, c[i].d));
			CU_ASSERT_EQUAL(run(WGN_IF_WG, pkt, n, &r), 0);
			CU_ASSERT_EQUAL(r.retval, TC_ACT_SHOT);
			CU_ASSERT_EQUAL(drops_of(c[i].reason), before + 1);
		}
	}
	/* The WireGuard program ignores endpoint interfaces. */
	CU_ASSERT_EQUAL_FATAL(set_iface(WGN_IF_ENDPOINT), 0);
	n = put_ip4(pkt, v4(172, 30, 0, 9), v4(172, 30, 0, 3));
	CU_ASSERT_EQUAL(run(WGN_IF_WG, pkt, n, &r), 0);
	CU_ASSERT_EQUAL(r.retval, TC_ACT_OK);
}

static int count_dest(const struct wgn_dest_key *k, const struct wgn_dest *v,
		      void *d)
{
	(void)v;
	if (k->net_id == NET1)
		++*(int *)d;
	return 0;
}

static int stop_first(const struct wgn_dest_key *k, const struct wgn_dest *v,
		      void *d)
{
	(void)k;
	(void)v;
	++*(int *)d;
	return 7;
}

static void test_maps(void)
{
	struct wgn_dest remote = { .kind = WGN_DEST_REMOTE, .ifindex = WG_IFX };
	struct ip_addr a = v4(172, 30, 0, 10);
	struct ip_prefix p = pfx(v4(10, 88, 0, 0), 16);
	struct ip_addr bad = { .family = 0 };
	uint8_t pkt[64];
	int n = 0, m = 0;
	size_t len;
	struct run r;

	CU_ASSERT_EQUAL(dp_dest_foreach(dp, count_dest, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(dp_dest_foreach(dp, stop_first, &m), 7);
	CU_ASSERT_EQUAL(m, 1);
	CU_ASSERT_EQUAL(dp_dest_set(dp, NET1, &bad, &remote), -EAFNOSUPPORT);

	/* Add, forward, delete, drop. */
	CU_ASSERT_EQUAL(dp_dest_set(dp, NET1, &a, &remote), 0);
	len = ip4_frame(pkt, v4(172, 30, 0, 2), a);
	expect_ep(pkt, len, TC_ACT_REDIRECT, 0, &r);
	CU_ASSERT_EQUAL(dp_dest_del(dp, NET1, &a), 0);
	expect_ep(pkt, len, TC_ACT_SHOT, WGN_DROP_NO_DEST, &r);
	CU_ASSERT_EQUAL(dp_dest_del(dp, NET1, &a), -ENOENT);

	/* A ctrl prefix given with host bits set is stored masked. */
	p.addr.a[15] = 7;
	CU_ASSERT_EQUAL(dp_ctrl_set(dp, &p), 0);
	len = ip4_frame(pkt, v4(172, 30, 0, 2), v4(10, 88, 3, 4));
	expect_ep(pkt, len, TC_ACT_SHOT, WGN_DROP_CTRL, &r);
	CU_ASSERT_EQUAL(dp_ctrl_del(dp, &p), 0);
	expect_ep(pkt, len, TC_ACT_OK, 0, &r);
	p.plen = 33;
	CU_ASSERT_EQUAL(dp_ctrl_set(dp, &p), -EINVAL);
}

/* Id of the program attached at wgnet's handle/priority on lo ingress. */
static uint32_t attached_id(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

static uint32_t prog_id(int kind)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(dp_prog_fd(dp, kind), &info, &len))
		return 0;
	return info.id;
}

/* Attach, replace, query, detach on lo of a private network namespace (a
 * forked child): nothing is sent, the namespace dies with the child. */
static void test_attach(void)
{
	int status = -1, rc = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		log_level = -1; /* "no qdisc" is expected here */
		if (unshare(CLONE_NEWNET))
			_exit(10);
		if (dp_attached(dp, 1) != 0)
			rc = 11;
		else if (dp_detach(dp, 1) != 0)
			rc = 12;
		else if (dp_attach(dp, 1, WGN_IF_ENDPOINT) != 0)
			rc = 13;
		else if (dp_attached(dp, 1) != 1)
			rc = 14;
		else if (attached_id() != prog_id(WGN_IF_ENDPOINT))
			rc = 21;
		else if (dp_attach(dp, 1, WGN_IF_WG) != 0)
			rc = 15;
		else if (dp_attached(dp, 1) != 1)
			rc = 16;
		else if (attached_id() != prog_id(WGN_IF_WG))
			rc = 22;
		else if (dp_attach(dp, 1, 9) != -EINVAL)
			rc = 17;
		else if (dp_detach(dp, 1) != 0)
			rc = 18;
		else if (dp_attached(dp, 1) != 0)
			rc = 19;
		else if (dp_detach(dp, 1) != 0)
			rc = 20;
		_exit(rc);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static void test_unpin(void)
{
	char dir[96];
	struct dp *d = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/wgnet-%s-dpb/g1", ut_prefix);
	CU_ASSERT_EQUAL_FATAL(dp_open(dir, &d), 0);
	dp_close(d);
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(dp_unpin(dir), 0);
	CU_ASSERT_NOT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT_EQUAL(dp_unpin(dir), 0);
	*strrchr(dir, '/') = '\0';
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

void suite_dp(void)
{
	CU_pSuite s = CU_add_suite("dp", suite_init, suite_cleanup);

	CU_add_test(s, "names and prog fds", test_names);
	CU_add_test(s, "pins", test_pins);
	CU_add_test(s, "reopen reuses pins, version guard",
		    test_reopen_version);
	CU_add_test(s, "proxy-ARP reply", test_arp_reply);
	CU_add_test(s, "ARP spoof, pass, malformed", test_arp_other);
	CU_add_test(s, "IPv4 source spoof", test_ip4_spoof);
	CU_add_test(s, "IPv4 control-plane drop", test_ip4_ctrl);
	CU_add_test(s, "IPv4 isolation and no dest", test_ip4_isolation);
	CU_add_test(s, "IPv4 local fast path", test_ip4_local);
	CU_add_test(s, "IPv4 remote to wg", test_ip4_remote);
	CU_add_test(s, "IPv4 stack and internal", test_ip4_stack_internal);
	CU_add_test(s, "IPv6 forwarding and spoof", test_ip6);
	CU_add_test(s, "proxy-NDP advertisement", test_nd);
	CU_add_test(s, "VLAN tags, ethertypes, short frames", test_l2);
	CU_add_test(s, "IPv4/IPv6 header checks", test_ip_headers);
	CU_add_test(s, "the guest: gateway echo only, local, multicast",
		    test_guest);
	CU_add_test(s, "ND destinations, MLD link-scoped", test_nd_dest);
	CU_add_test(s, "from wg: add L2, drops", test_wg);
	CU_add_test(s, "map helpers and foreach", test_maps);
	CU_add_test(s, "tc attach, replace, detach", test_attach);
	CU_add_test(s, "open and unpin a nested dir", test_unpin);
}
