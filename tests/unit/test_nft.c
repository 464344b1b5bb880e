// SPDX-License-Identifier: GPL-2.0
/* nft.c: the batch on bytes, then the real table inside a namespace of our
 * own (wgt-nft-<pid>), entered with setns on this thread and left after. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "wgnet/link.h"
#include "wgnet/nft.h"
#include "ut.h"

void suite_nft(void);

static char ns_name[32], table[32];
static int ns_fd = -1;

static void mkprefix(const char *s, int plen, struct ip_prefix *p)
{
	uint8_t b[16];

	memset(p, 0, sizeof(*p));
	p->plen = plen;
	if (inet_pton(AF_INET, s, b) == 1) {
		p->addr.family = AF_INET;
		p->addr.a[10] = p->addr.a[11] = 0xff;
		memcpy(&p->addr.a[12], b, 4);
	} else if (inet_pton(AF_INET6, s, b) == 1) {
		p->addr.family = AF_INET6;
		memcpy(p->addr.a, b, 16);
	}
}

static void mkip(const char *s, struct ip_addr *ip)
{
	struct ip_prefix p;

	mkprefix(s, 0, &p);
	*ip = p.addr;
}

/* Two networks (one internal), two control prefixes, one port. */
static struct ip_prefix ctrl[2];
static struct nft_net nets[2];
static struct nft_port ports[2];

static void make_cfg(struct nft_cfg *cfg, const char *name)
{
	memset(nets, 0, sizeof(nets));
	memset(ports, 0, sizeof(ports));
	mkprefix("192.168.100.0", 24, &ctrl[0]);
	mkprefix("fd00:100::", 64, &ctrl[1]);
	mkprefix("10.88.1.0", 24, &nets[0].subnet4);
	mkprefix("fd00:88:1::", 64, &nets[0].subnet6);
	mkprefix("10.88.2.0", 24, &nets[1].subnet4);
	nets[1].internal = true;
	ports[0].proto = IPPROTO_TCP;
	ports[0].host_port = 8080;
	mkip("10.88.1.2", &ports[0].dst);
	ports[0].dst_port = 80;
	/* Only used by the real test: an IPv6 UDP port on one address. */
	ports[1].proto = IPPROTO_UDP;
	mkip("fd00::10", &ports[1].host_ip);
	ports[1].host_port = 5353;
	mkip("fd00:88:1::2", &ports[1].dst);
	ports[1].dst_port = 53;
	*cfg = (struct nft_cfg){
		.table = name,
		.underlay_if = "eth0",
		.veth_prefix = "wgv",
		.ctrl = ctrl,
		.n_ctrl = 2,
		.nets = nets,
		.n_nets = 2,
		.ports = ports,
		.n_ports = 1,
	};
}

/* Many ports: a batch of several hundred KiB. */
#define N_BIG 300
static struct nft_port big[N_BIG];

static void make_big(struct nft_cfg *cfg)
{
	int i;

	make_cfg(cfg, cfg->table);
	for (i = 0; i < N_BIG; i++) {
		big[i] = ports[0];
		big[i].host_port = 10000 + i;
	}
	cfg->ports = big;
	cfg->n_ports = N_BIG;
	cfg->n_nets = 1;
	cfg->n_ctrl = 0;
}

#define NFT(t) ((NFNL_SUBSYS_NFTABLES << 8) | (t))

static void test_batch(void)
{
	static const char *const chains[] = {
		"prerouting", "output", "postrouting", "postrouting",
		"forward",    "input",	"forward",     "input",
		"forward",    "input",	"forward",     "input",
		"input",      "input",	"input",       "input",
		"input"
	};
	const uint16_t head[] = { NFNL_MSG_BATCH_BEGIN,	 NFT(NFT_MSG_NEWTABLE),
				  NFT(NFT_MSG_DELTABLE), NFT(NFT_MSG_NEWTABLE),
				  NFT(NFT_MSG_NEWCHAIN), NFT(NFT_MSG_NEWCHAIN),
				  NFT(NFT_MSG_NEWCHAIN), NFT(NFT_MSG_NEWCHAIN),
				  NFT(NFT_MSG_NEWCHAIN) };
	static char buf[65536];
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct nfgenmsg *nfg;
	struct nft_cfg cfg;
	struct nftnl_rule *r;
	size_t i = 0, rules = 0;
	uint32_t seq = 100;
	int len, total;

	make_cfg(&cfg, "wgnet");
	len = nft_build_batch(&cfg, buf, sizeof(buf), 100);
	CU_ASSERT_FATAL(len > 0);
	total = len;
	while (mnl_nlmsg_ok(nlh, len)) {
		CU_ASSERT_EQUAL(nlh->nlmsg_seq, seq++);
		CU_ASSERT(nlh->nlmsg_flags & NLM_F_REQUEST);
		if (i < MNL_ARRAY_SIZE(head)) {
			CU_ASSERT_EQUAL(nlh->nlmsg_type, head[i]);
		} else if (nlh->nlmsg_type == NFT(NFT_MSG_NEWRULE)) {
			nfg = mnl_nlmsg_get_payload(nlh);
			CU_ASSERT_EQUAL(nfg->nfgen_family, NFPROTO_INET);
			r = nftnl_rule_alloc();
			CU_ASSERT_FATAL(r != NULL);
			CU_ASSERT_EQUAL(nftnl_rule_nlmsg_parse(nlh, r), 0);
			CU_ASSERT_STRING_EQUAL(
				nftnl_rule_get_str(r, NFTNL_RULE_TABLE),
				"wgnet");
			if (rules < MNL_ARRAY_SIZE(chains))
				CU_ASSERT_STRING_EQUAL(
					nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
					chains[rules]);
			nftnl_rule_free(r);
			rules++;
		} else {
			break;
		}
		i++;
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	CU_ASSERT_EQUAL(rules, 17);
	CU_ASSERT_FATAL(mnl_nlmsg_ok(nlh, len));
	CU_ASSERT_EQUAL(nlh->nlmsg_type, NFNL_MSG_BATCH_END);
	nlh = mnl_nlmsg_next(nlh, &len);
	CU_ASSERT_EQUAL(len, 0); /* nothing after BATCH_END */

	/* Too small a buffer (it fits in twice the size), bad input. */
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, total + 8192, 1), total);
	make_big(&cfg);
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, sizeof(buf), 1), -EMSGSIZE);
	make_cfg(&cfg, "wgnet");
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, 100, 1), -EMSGSIZE);
	cfg.table = "";
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, sizeof(buf), 1), -EINVAL);
	make_cfg(&cfg, "wgnet");
	ports[0].proto = IPPROTO_ICMP;
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, sizeof(buf), 1), -EINVAL);
	make_cfg(&cfg, "wgnet");
	nets[0].subnet4.plen = 33;
	CU_ASSERT_EQUAL(nft_build_batch(&cfg, buf, sizeof(buf), 1), -EINVAL);
}

/* ------------------------------------------------------------ real table */

static int suite_init(void)
{
	char cmd[96];

	snprintf(ns_name, sizeof(ns_name), "%s-nft", ut_prefix);
	snprintf(table, sizeof(table), "wgt_nft_%s", ut_prefix);
	snprintf(cmd, sizeof(cmd), "ip netns add %s", ns_name);
	if (system(cmd) == 0)
		ns_fd = netns_open(ns_name);
	return 0;
}

static int suite_cleanup(void)
{
	char cmd[96];

	if (ns_fd >= 0)
		close(ns_fd);
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_name);
	if (system(cmd))
		return 0;
	return 0;
}

/* `nft list table inet T` (run in the current namespace) into out. */
static void nft_list(char *out, size_t len)
{
	char cmd[96];
	size_t n = 0, r;
	FILE *p;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "nft list table inet %s 2>&1", table);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (n + 1 < len && (r = fread(out + n, 1, len - n - 1, p)) > 0)
		n += r;
	out[n] = '\0';
	pclose(p);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void real_steps(void)
{
	static char out[16384];
	unsigned int fails = CU_get_number_of_failures();
	struct nft_cfg cfg;

	CU_ASSERT_EQUAL(nft_rule_count(table), -ENOENT);
	CU_ASSERT_EQUAL(nft_remove(table), 0); /* absent: still fine */

	make_cfg(&cfg, table);
	CU_ASSERT_EQUAL(nft_apply(&cfg), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), 17);
	nft_list(out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(out, "type nat hook prerouting priority dstnat"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(out, "type nat hook output priority -100"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(out, "type nat hook postrouting priority srcnat"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"type filter hook forward priority filter; policy accept"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"fib daddr type local tcp dport 8080 counter packets 0 bytes 0 dnat ip to 10.88.1.2:80"));
	CU_ASSERT_EQUAL(count_str(out, "dnat ip to 10.88.1.2:80"), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"ip saddr 10.88.1.0/24 oifname \"eth0\" counter packets 0 bytes 0 masquerade"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"ip6 saddr fd00:88:1::/64 oifname \"eth0\" counter packets 0 bytes 0 masquerade"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"iifname \"wgv*\" ip daddr 192.168.100.0/24 counter packets 0 bytes 0 drop"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"iifname \"wgv*\" ip6 daddr fd00:100::/64 counter packets 0 bytes 0 drop"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"ip saddr 10.88.2.0/24 oifname \"eth0\" counter packets 0 bytes 0 drop"));
	CU_ASSERT_EQUAL(count_str(out, "masquerade"), 2);
	CU_ASSERT_EQUAL(count_str(out, " drop"), 6);
	/* The guest's own services from a container: answers, echo. */
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"iifname \"wgv*\" ct state established,related counter packets 0 bytes 0 accept"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"iifname \"wgv*\" icmp type echo-request counter packets 0 bytes 0 accept"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"iifname \"wgv*\" icmpv6 type echo-request counter packets 0 bytes 0 accept"));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(out, "iifname \"wgv*\" counter packets 0 bytes 0 drop"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out, "type filter hook input priority filter; policy accept"));
	CU_ASSERT_EQUAL(count_str(out, "ct status dnat"), 2);
	/* published ports + a control-plane drop: answers may leave */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(out, "ct status dnat counter packets 0 bytes 0 accept"));
	if (CU_get_number_of_failures() != fails)
		fprintf(stderr, "%s\n", out);

	/* Smaller: no internal net, no ctrl; the v6 UDP port on one address. */
	cfg.n_nets = 1;
	cfg.n_ctrl = 0;
	cfg.ports = &ports[1];
	CU_ASSERT_EQUAL(nft_apply(&cfg), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), 10);
	nft_list(out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		out,
		"ip6 daddr fd00::10 udp dport 5353 counter packets 0 bytes 0 dnat ip6 to [fd00:88:1::2]:53"));
	CU_ASSERT_EQUAL(count_str(out, " drop"), 1);
	CU_ASSERT_EQUAL(count_str(out, "ct status"), 0);
	CU_ASSERT_EQUAL(count_str(out, "10.88.1.2"), 0);

	/* Same again: replaced, not appended. */
	CU_ASSERT_EQUAL(nft_apply(&cfg), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), 10);
	/* Without a veth prefix there is no input filter (it would match
	 * every interface). */
	cfg.veth_prefix = NULL;
	CU_ASSERT_EQUAL(nft_apply(&cfg), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), 4);
	cfg.veth_prefix = "wgv";

	/* Big: one batch, several hundred KiB, still atomic. */
	make_big(&cfg);
	CU_ASSERT_EQUAL(nft_apply(&cfg), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), 2 * N_BIG + 2 + 6);

	CU_ASSERT_EQUAL(nft_remove(table), 0);
	CU_ASSERT_EQUAL(nft_rule_count(table), -ENOENT);
	CU_ASSERT_EQUAL(nft_remove(table), 0);
	nft_list(out, sizeof(out));
	CU_ASSERT_PTR_NULL(strstr(out, "chain"));
}

static void test_real(void)
{
	int self;

	CU_ASSERT_FATAL(ns_fd >= 0);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(self >= 0);
	if (setns(ns_fd, CLONE_NEWNET) == 0) {
		real_steps(); /* no fatal asserts in there: we must get back */
		CU_ASSERT_EQUAL(setns(self, CLONE_NEWNET), 0);
	} else {
		CU_FAIL("setns into the test namespace");
	}
	close(self);
}

/* ------------------------------------------------------ real traffic */

/*
 * X (203.0.113.2, "outside") -- eth0 | G (the guest, our table) | wgv1 --
 * eth0 C (10.88.1.2, a container). X has no route to 10.88.1.0/24, so
 * C reaches X only masqueraded; X reaches C only through the DNAT.
 */
static const char net_setup[] =
	"set -e; G=$WGT_G; C=$WGT_G-c; X=$WGT_G-x;"
	"ip netns add $C; ip netns add $X;"
	"ip link add wgv1 netns $G type veth peer name eth0 netns $C;"
	"ip link add eth0 netns $G type veth peer name eth0 netns $X;"
	"ip -n $G addr add 10.88.1.1/24 dev wgv1;"
	"ip -n $G addr add 203.0.113.1/24 dev eth0;"
	"ip -n $C addr add 10.88.1.2/24 dev eth0;"
	"ip -n $X addr add 203.0.113.2/24 dev eth0;"
	"ip -n $X addr add 198.51.100.2/24 dev eth0;"
	"for n in $G $C $X; do ip -n $n link set lo up; done;"
	"ip -n $G link set wgv1 up; ip -n $G link set eth0 up;"
	"ip -n $C link set eth0 up; ip -n $X link set eth0 up;"
	"ip -n $C route add default via 10.88.1.1;"
	"ip -n $G route add 198.51.100.0/24 via 203.0.113.2;"
	"ip netns exec $G sysctl -qw net.ipv4.ip_forward=1";

static int sh_env(const char *script)
{
	setenv("WGT_G", ns_name, 1);
	setenv("WGT_T", table, 1);
	return system(script);
}

static int ping_ok(const char *dst)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec $WGT_G-c ping -c1 -W5 %s >/dev/null 2>&1", dst);
	return sh_env(cmd) == 0;
}

static int dnat_ok(void)
{
	/* The server is ours: stopped by its pid whatever happened. The
	 * client connects once the server listens (polled, not a pause). */
	return sh_env("exec 2>/dev/null; echo ok-dnat | ip netns exec $WGT_G-c timeout 30 "
		      "nc -q 0 -l -p 80 >/dev/null & p=$!; "
		      "for i in $(seq 200); do ip netns exec $WGT_G-c ss -Hltn 'sport = :80' "
		      "| grep -q . && break; sleep 0.05; done; "
		      "ip netns exec $WGT_G-x nc -w 2 203.0.113.1 8080 "
		      "</dev/null | grep -q ok-dnat; r=$?; "
		      "kill $p 2>/dev/null; wait $p; exit $r") == 0;
}

static int apply_cb(void *data)
{
	return nft_apply(data);
}

static int remove_cb(void *data)
{
	return nft_remove(data);
}

static void test_traffic(void)
{
	struct ip_prefix c;
	struct nft_net net = { .internal = false };
	struct nft_port port = { .proto = IPPROTO_TCP,
				 .host_port = 8080,
				 .dst_port = 80 };
	struct nft_cfg cfg = { .table = table,
			       .underlay_if = "eth0",
			       .veth_prefix = "wgv",
			       .ctrl = &c,
			       .n_ctrl = 1,
			       .nets = &net,
			       .n_nets = 1,
			       .ports = &port,
			       .n_ports = 1 };

	CU_ASSERT_FATAL(ns_fd >= 0);
	mkprefix("198.51.100.0", 24, &c);
	mkprefix("10.88.1.0", 24, &net.subnet4);
	mkip("10.88.1.2", &port.dst);
	if (sh_env(net_setup)) {
		CU_FAIL("namespace setup");
		goto out;
	}
	/* Without the table: no way out, no way in. */
	CU_ASSERT(!ping_ok("203.0.113.2"));
	CU_ASSERT(!dnat_ok());

	CU_ASSERT_EQUAL(netns_run(ns_fd, apply_cb, &cfg), 0);
	CU_ASSERT(ping_ok("203.0.113.2")); /* masqueraded */
	CU_ASSERT(!ping_ok("198.51.100.2")); /* control plane: dropped */
	CU_ASSERT(sh_env("ip netns exec $WGT_G nft list chain inet $WGT_T "
			 "forward | grep -q 'ip daddr 198.51.100.0/24 "
			 "counter packets [1-9]'") == 0);
	CU_ASSERT(dnat_ok()); /* published port */

	/* Internal network: no way out any more. */
	net.internal = true;
	CU_ASSERT_EQUAL(netns_run(ns_fd, apply_cb, &cfg), 0);
	CU_ASSERT(!ping_ok("203.0.113.2"));
	CU_ASSERT_EQUAL(netns_run(ns_fd, remove_cb, table), 0);
out:
	sh_env("ip netns del $WGT_G-c 2>/dev/null; "
	       "ip netns del $WGT_G-x 2>/dev/null");
}

void suite_nft(void)
{
	CU_pSuite s = CU_add_suite("nft", suite_init, suite_cleanup);

	CU_add_test(s, "batch layout", test_batch);
	CU_add_test(s, "table in a namespace", test_real);
	CU_add_test(s, "traffic: masquerade, dnat, drops", test_traffic);
}
