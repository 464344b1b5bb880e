// SPDX-License-Identifier: GPL-2.0
/*
 * nftables through libnftnl: the wgnet table, rebuilt whole in one batch.
 * Layout (docs/nftables.md): prerouting + output (nat, dstnat: published
 * ports), postrouting (nat, srcnat: masquerade), forward and input (filter: drops).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "wgnet/link_internal.h"
#include "wgnet/log.h"
#include "wgnet/nft.h"

/* Room kept free in the batch buffer: libnftnl's builders do not check
 * sizes, so no single message may be larger than this. */
#define NFT_MSG_MARGIN 4096
#define NFT_RULE_EST 1024 /* generous upper bound of one rule message */
#define NFT_RXBUF 32768
#define DUMP_RETRIES 5

/* Chain names, hooks and priorities. */
#define CH_PRE "prerouting"
#define CH_OUT "output"
#define CH_POST "postrouting"
#define CH_FWD "forward"
#define CH_IN "input"
#define PRIO_DSTNAT (-100)
#define PRIO_SRCNAT 100
#define PRIO_FILTER 0

struct batch {
	struct mnl_nlmsg_batch *b;
	const char *table;
	uint32_t seq;
	int err;
};

/* ----------------------------------------------------------- expressions */

static uint8_t nfproto_of(int family)
{
	return family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

/*
 * A rule under construction: the expression helpers append to r and keep
 * the first error in err, so a rule reads as a plain list of matches.
 */
struct rb {
	struct nftnl_rule *r;
	int err;
};

static struct nftnl_expr *e_new(struct rb *b, const char *name)
{
	struct nftnl_expr *e;

	if (b->err)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		b->err = -ENOMEM;
	return e;
}

static void e_add(struct rb *b, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(b->r, e);
}

static void e_meta(struct rb *b, uint32_t key)
{
	struct nftnl_expr *e = e_new(b, "meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	e_add(b, e);
}

static void e_cmp(struct rb *b, const void *data, uint32_t len)
{
	struct nftnl_expr *e = e_new(b, "cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	e_add(b, e);
}

static void e_payload(struct rb *b, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = e_new(b, "payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	e_add(b, e);
}

static void e_bitwise(struct rb *b, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = e_new(b, "bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	e_add(b, e);
}

/* fib daddr type: RTN_LOCAL when the destination is one of ours. */
static void e_fib_daddr_type(struct rb *b)
{
	struct nftnl_expr *e = e_new(b, "fib");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT,
				   NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	e_add(b, e);
}

static void e_counter(struct rb *b)
{
	e_add(b, e_new(b, "counter"));
}

static void e_masq(struct rb *b)
{
	e_add(b, e_new(b, "masq"));
}

static void e_drop(struct rb *b)
{
	struct nftnl_expr *e = e_new(b, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	}
	e_add(b, e);
}

static void e_imm(struct rb *b, uint32_t reg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = e_new(b, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	}
	e_add(b, e);
}

/* dnat ip|ip6 to <addr in reg 1>:<port in reg 2> */
static void e_dnat(struct rb *b, int family)
{
	struct nftnl_expr *e = e_new(b, "nat");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY,
				   nfproto_of(family));
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	}
	e_add(b, e);
}

/* meta nfproto ipv4|ipv6: the dependency of every ip/ip6 match in inet. */
/* ct KEY & mask != 0 (KEY: NFT_CT_STATUS or NFT_CT_STATE). */
static void m_ct_any(struct rb *b, uint32_t key, uint32_t mask)
{
	static const uint8_t zero[4];
	struct nftnl_expr *e = e_new(b, "ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	e_add(b, e);
	e_bitwise(b, &mask, sizeof(mask));
	e = e_new(b, "cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, zero, sizeof(zero));
	}
	e_add(b, e);
}

static void e_accept(struct rb *b)
{
	struct nftnl_expr *e = e_new(b, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	}
	e_add(b, e);
}

static void m_nfproto(struct rb *b, int family)
{
	uint8_t p = nfproto_of(family);

	e_meta(b, NFT_META_NFPROTO);
	e_cmp(b, &p, 1);
}

/* iifname/oifname: exact (NUL-padded to IFNAMSIZ) or, with wildcard, a
 * compare on the prefix bytes only ("veth*"). */
static void m_ifname(struct rb *b, uint32_t key, const char *name,
		     bool wildcard)
{
	char buf[IFNAMSIZ] = { 0 };
	size_t n = strlen(name);

	if (!n || n >= IFNAMSIZ) {
		if (!b->err)
			b->err = -EINVAL;
		return;
	}
	memcpy(buf, name, n);
	e_meta(b, key);
	e_cmp(b, buf, wildcard ? n : IFNAMSIZ);
}

/* ip/ip6 saddr|daddr PREFIX (no match at all for a /0). */
static void m_prefix(struct rb *b, const struct ip_prefix *p, bool src)
{
	const uint8_t *a = ip_bytes(&p->addr);
	uint8_t mask[16] = { 0 }, net[16];
	uint32_t len = ip_len(p->addr.family), off, i;
	int bits;

	if (p->plen <= 0)
		return;
	if (p->addr.family == AF_INET)
		off = src ? 12 : 16;
	else
		off = src ? 8 : 24;
	for (i = 0; i < len; i++) {
		bits = p->plen - (int)i * 8;
		mask[i] = bits >= 8 ? 0xff : bits > 0 ? 0xff << (8 - bits) : 0;
		net[i] = a[i] & mask[i];
	}
	e_payload(b, NFT_PAYLOAD_NETWORK_HEADER, off, len);
	if ((uint32_t)p->plen < len * 8)
		e_bitwise(b, mask, len);
	e_cmp(b, net, len);
}

/* ---------------------------------------------------------------- batch */

static bool prefix_ok(const struct ip_prefix *p)
{
	if (p->addr.family == AF_INET)
		return p->plen >= 0 && p->plen <= 32;
	if (p->addr.family == AF_INET6)
		return p->plen >= 0 && p->plen <= 128;
	return false;
}

static char *cur(struct batch *bt)
{
	return mnl_nlmsg_batch_current(bt->b);
}

static void next(struct batch *bt)
{
	if (!mnl_nlmsg_batch_next(bt->b) && !bt->err)
		bt->err = -EMSGSIZE;
}

static void put_table(struct batch *bt, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if (bt->err)
		return;
	t = nftnl_table_alloc();
	if (!t) {
		bt->err = -ENOMEM;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, bt->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nftnl_table_nlmsg_build_hdr(cur(bt), type, NFPROTO_INET, flags,
					  bt->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	next(bt);
}

static void put_chain(struct batch *bt, const char *name, const char *type,
		      uint32_t hook, int32_t prio)
{
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;

	if (bt->err)
		return;
	c = nftnl_chain_alloc();
	if (!c) {
		bt->err = -ENOMEM;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, bt->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_chain_nlmsg_build_hdr(cur(bt), NFT_MSG_NEWCHAIN,
					  NFPROTO_INET, NLM_F_CREATE,
					  bt->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	next(bt);
}

/* Serialise one rule into the batch; fill() adds its expressions. */
static void put_rule(struct batch *bt, const char *chain,
		     void (*fill)(struct rb *b, const void *arg,
				  const struct nft_cfg *cfg),
		     const void *arg, const struct nft_cfg *cfg)
{
	struct rb b = { NULL, 0 };
	struct nlmsghdr *nlh;

	if (bt->err)
		return;
	b.r = nftnl_rule_alloc();
	if (!b.r) {
		bt->err = -ENOMEM;
		return;
	}
	nftnl_rule_set_str(b.r, NFTNL_RULE_TABLE, bt->table);
	nftnl_rule_set_str(b.r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(b.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	fill(&b, arg, cfg);
	if (b.err) {
		bt->err = b.err;
		goto out;
	}
	nlh = nftnl_rule_nlmsg_build_hdr(cur(bt), NFT_MSG_NEWRULE, NFPROTO_INET,
					 NLM_F_APPEND | NLM_F_CREATE,
					 bt->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, b.r);
	next(bt);
out:
	nftnl_rule_free(b.r);
}

/*
 * meta nfproto F meta l4proto P (ip daddr H | fib daddr type local)
 * th dport HP counter dnat F to D:DP
 */
static void fill_dnat(struct rb *b, const void *arg, const struct nft_cfg *cfg)
{
	const struct nft_port *p = arg;
	int fam = p->dst.family;
	uint8_t l4 = p->proto;
	uint16_t hport = htons(p->host_port), dport = htons(p->dst_port);
	uint32_t local = RTN_LOCAL;

	(void)cfg;
	m_nfproto(b, fam);
	e_meta(b, NFT_META_L4PROTO);
	e_cmp(b, &l4, 1);
	if (p->host_ip.family) {
		e_payload(b, NFT_PAYLOAD_NETWORK_HEADER,
			  fam == AF_INET ? 16 : 24, ip_len(fam));
		e_cmp(b, ip_bytes(&p->host_ip), ip_len(fam));
	} else {
		/* Any address of this guest, not any destination: without
		 * this, forwarded traffic to remote:port would be hijacked. */
		e_fib_daddr_type(b);
		e_cmp(b, &local, sizeof(local));
	}
	e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	e_cmp(b, &hport, 2);
	e_counter(b);
	e_imm(b, NFT_REG_1, ip_bytes(&p->dst), ip_len(fam));
	e_imm(b, NFT_REG_2, &dport, 2);
	e_dnat(b, fam);
}

/* meta nfproto F ip saddr SUBNET oifname UNDERLAY counter masquerade */
static void fill_masq(struct rb *b, const void *arg, const struct nft_cfg *cfg)
{
	const struct ip_prefix *s = arg;

	m_nfproto(b, s->addr.family);
	m_prefix(b, s, true);
	if (cfg->underlay_if && *cfg->underlay_if)
		m_ifname(b, NFT_META_OIFNAME, cfg->underlay_if, false);
	e_counter(b);
	e_masq(b);
}

/*
 * ct status dnat counter accept: a container's answers on a published port
 * go back to their client even when it sits in a control-plane prefix (the
 * underlay, the host). Only a connection that came in through a DNAT rule
 * has this status; a container cannot open one by itself.
 */
static void fill_dnat_accept(struct rb *b, const void *arg,
			     const struct nft_cfg *cfg)
{
	(void)arg;
	(void)cfg;
	m_ct_any(b, NFT_CT_STATUS, IPS_DST_NAT);
	e_counter(b);
	e_accept(b);
}

/*
 * The guest's own services, seen from a container (input chain, after the
 * control-plane drops): established/related, ICMP echo requests, nothing
 * else. The BPF program on the veth already allows only echo requests to
 * the gateway and published-port answers; this is the second line.
 *   iifname "PREFIX*" ct state established,related counter accept
 *   iifname "PREFIX*" meta nfproto F meta l4proto icmp[v6]
 *       icmp[v6] type echo-request counter accept      (F: ipv4, ipv6)
 *   iifname "PREFIX*" meta l4proto udp|tcp th dport 53 counter accept
 *   iifname "PREFIX*" counter drop
 */
static void fill_guest_ct_accept(struct rb *b, const void *arg,
				 const struct nft_cfg *cfg)
{
	(void)arg;
	m_ifname(b, NFT_META_IIFNAME, cfg->veth_prefix, true);
	m_ct_any(b, NFT_CT_STATE,
		 NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
			 NF_CT_STATE_BIT(IP_CT_RELATED));
	e_counter(b);
	e_accept(b);
}

static void fill_guest_echo_accept(struct rb *b, const void *arg,
				   const struct nft_cfg *cfg)
{
	const int *family = arg;
	uint8_t l4 = *family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	uint8_t type = *family == AF_INET ? 8 : 128; /* echo request */

	m_ifname(b, NFT_META_IIFNAME, cfg->veth_prefix, true);
	m_nfproto(b, *family);
	e_meta(b, NFT_META_L4PROTO);
	e_cmp(b, &l4, 1);
	e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
	e_cmp(b, &type, 1);
	e_counter(b);
	e_accept(b);
}

/* iifname "PREFIX*" meta l4proto udp|tcp th dport 53 counter accept: the
 * resolver at a network's gateway (guest/dnsnet.c); BPF lets only the own
 * gateway's port 53 through. */
static void fill_guest_dns_accept(struct rb *b, const void *arg,
				  const struct nft_cfg *cfg)
{
	const uint8_t *l4 = arg;
	uint16_t port = htons(53);

	m_ifname(b, NFT_META_IIFNAME, cfg->veth_prefix, true);
	e_meta(b, NFT_META_L4PROTO);
	e_cmp(b, l4, 1);
	e_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	e_cmp(b, &port, 2);
	e_counter(b);
	e_accept(b);
}

static void fill_guest_drop(struct rb *b, const void *arg,
			    const struct nft_cfg *cfg)
{
	(void)arg;
	m_ifname(b, NFT_META_IIFNAME, cfg->veth_prefix, true);
	e_counter(b);
	e_drop(b);
}

/* meta nfproto F iifname "PREFIX*" ip daddr CTRL counter drop */
static void fill_ctrl_drop(struct rb *b, const void *arg,
			   const struct nft_cfg *cfg)
{
	const struct ip_prefix *c = arg;

	m_nfproto(b, c->addr.family);
	if (cfg->veth_prefix && *cfg->veth_prefix)
		m_ifname(b, NFT_META_IIFNAME, cfg->veth_prefix, true);
	m_prefix(b, c, false);
	e_counter(b);
	e_drop(b);
}

/* meta nfproto F ip saddr SUBNET oifname UNDERLAY counter drop */
static void fill_internal_drop(struct rb *b, const void *arg,
			       const struct nft_cfg *cfg)
{
	const struct ip_prefix *s = arg;

	m_nfproto(b, s->addr.family);
	m_prefix(b, s, true);
	if (cfg->underlay_if && *cfg->underlay_if)
		m_ifname(b, NFT_META_OIFNAME, cfg->underlay_if, false);
	e_counter(b);
	e_drop(b);
}

static int cfg_check(const struct nft_cfg *cfg)
{
	const struct nft_port *p;
	size_t i;

	if (!cfg || !cfg->table || !*cfg->table ||
	    strlen(cfg->table) >= NFT_TABLE_MAXNAMELEN)
		return -EINVAL;
	if ((cfg->n_ctrl && !cfg->ctrl) || (cfg->n_nets && !cfg->nets) ||
	    (cfg->n_ports && !cfg->ports) ||
	    (cfg->n_isolated && !cfg->isolated))
		return -EINVAL;
	for (i = 0; i < cfg->n_isolated; i++)
		if (!prefix_ok(&cfg->isolated[i]))
			return -EINVAL;
	if ((cfg->underlay_if && strlen(cfg->underlay_if) >= IFNAMSIZ) ||
	    (cfg->veth_prefix && strlen(cfg->veth_prefix) >= IFNAMSIZ))
		return -EINVAL;
	for (i = 0; i < cfg->n_ctrl; i++)
		if (!prefix_ok(&cfg->ctrl[i]))
			return -EINVAL;
	for (i = 0; i < cfg->n_nets; i++) {
		if ((cfg->nets[i].subnet4.addr.family &&
		     (cfg->nets[i].subnet4.addr.family != AF_INET ||
		      !prefix_ok(&cfg->nets[i].subnet4))) ||
		    (cfg->nets[i].subnet6.addr.family &&
		     (cfg->nets[i].subnet6.addr.family != AF_INET6 ||
		      !prefix_ok(&cfg->nets[i].subnet6))))
			return -EINVAL;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		p = &cfg->ports[i];
		if ((p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP) ||
		    (p->dst.family != AF_INET && p->dst.family != AF_INET6) ||
		    (p->host_ip.family && p->host_ip.family != p->dst.family) ||
		    !p->host_port || !p->dst_port)
			return -EINVAL;
	}
	return 0;
}

static size_t cfg_rules(const struct nft_cfg *cfg)
{
	size_t n = 2 * cfg->n_ports + 2 * cfg->n_ctrl + cfg->n_isolated + 2 + 4,
	       i;

	for (i = 0; i < cfg->n_nets; i++)
		n += !!cfg->nets[i].subnet4.addr.family +
		     !!cfg->nets[i].subnet6.addr.family;
	return n;
}

int nft_build_batch(const struct nft_cfg *cfg, void *buf, size_t len,
		    uint32_t seq)
{
	const struct nft_net *n;
	struct batch bt = { NULL, NULL, seq, 0 };
	static const int fam4 = AF_INET, fam6 = AF_INET6;
	static const uint8_t udp = IPPROTO_UDP, tcp = IPPROTO_TCP;
	size_t i;
	int ret;

	ret = cfg_check(cfg);
	if (ret)
		return ret;
	if (!buf || len <= 2 * NFT_MSG_MARGIN)
		return -EMSGSIZE;
	/* libnftnl leaves attribute padding as it finds it. */
	memset(buf, 0, len);
	bt.table = cfg->table;
	bt.b = mnl_nlmsg_batch_start(buf, len - NFT_MSG_MARGIN);
	if (!bt.b)
		return -ENOMEM;

	nftnl_batch_begin(cur(&bt), bt.seq++);
	next(&bt);
	/* add + delete + add: the delete cannot fail, the result is the
	 * same whatever was there. */
	put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	put_table(&bt, NFT_MSG_DELTABLE, 0);
	put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	put_chain(&bt, CH_PRE, "nat", NF_INET_PRE_ROUTING, PRIO_DSTNAT);
	put_chain(&bt, CH_OUT, "nat", NF_INET_LOCAL_OUT, PRIO_DSTNAT);
	put_chain(&bt, CH_POST, "nat", NF_INET_POST_ROUTING, PRIO_SRCNAT);
	put_chain(&bt, CH_FWD, "filter", NF_INET_FORWARD, PRIO_FILTER);
	put_chain(&bt, CH_IN, "filter", NF_INET_LOCAL_IN, PRIO_FILTER);

	for (i = 0; i < cfg->n_ports; i++) {
		put_rule(&bt, CH_PRE, fill_dnat, &cfg->ports[i], cfg);
		put_rule(&bt, CH_OUT, fill_dnat, &cfg->ports[i], cfg);
	}
	for (i = 0; i < cfg->n_nets; i++) {
		n = &cfg->nets[i];
		if (n->internal)
			continue;
		if (n->subnet4.addr.family)
			put_rule(&bt, CH_POST, fill_masq, &n->subnet4, cfg);
		if (n->subnet6.addr.family)
			put_rule(&bt, CH_POST, fill_masq, &n->subnet6, cfg);
	}
	/* Containers reach the control plane neither through the guest
	 * (forward) nor at the guest's own addresses (input); answers on
	 * published ports are the one exception. */
	if (cfg->n_ports && cfg->n_ctrl) {
		put_rule(&bt, CH_FWD, fill_dnat_accept, NULL, cfg);
		put_rule(&bt, CH_IN, fill_dnat_accept, NULL, cfg);
	}
	for (i = 0; i < cfg->n_ctrl; i++) {
		put_rule(&bt, CH_FWD, fill_ctrl_drop, &cfg->ctrl[i], cfg);
		put_rule(&bt, CH_IN, fill_ctrl_drop, &cfg->ctrl[i], cfg);
	}
	/* Isolation's backstop: iifname "vh*" daddr SUBNET counter drop. */
	for (i = 0; i < cfg->n_isolated; i++)
		put_rule(&bt, CH_FWD, fill_ctrl_drop, &cfg->isolated[i], cfg);
	for (i = 0; i < cfg->n_nets; i++) {
		n = &cfg->nets[i];
		if (!n->internal)
			continue;
		if (n->subnet4.addr.family)
			put_rule(&bt, CH_FWD, fill_internal_drop, &n->subnet4,
				 cfg);
		if (n->subnet6.addr.family)
			put_rule(&bt, CH_FWD, fill_internal_drop, &n->subnet6,
				 cfg);
	}
	/* What is left for the guest itself from a container: answers
	 * and ICMP echo; the rest is dropped and counted. */
	if (cfg->veth_prefix && *cfg->veth_prefix) {
		put_rule(&bt, CH_IN, fill_guest_ct_accept, NULL, cfg);
		put_rule(&bt, CH_IN, fill_guest_echo_accept, &fam4, cfg);
		put_rule(&bt, CH_IN, fill_guest_echo_accept, &fam6, cfg);
		put_rule(&bt, CH_IN, fill_guest_dns_accept, &udp, cfg);
		put_rule(&bt, CH_IN, fill_guest_dns_accept, &tcp, cfg);
		put_rule(&bt, CH_IN, fill_guest_drop, NULL, cfg);
	}
	if (!bt.err) {
		nftnl_batch_end(cur(&bt), bt.seq++);
		next(&bt);
	}
	ret = bt.err ? bt.err : (int)mnl_nlmsg_batch_size(bt.b);
	mnl_nlmsg_batch_stop(bt.b);
	return ret;
}

/* --------------------------------------------------------------- socket */

static struct mnl_socket *nfnl_open(size_t sndbuf)
{
	struct mnl_socket *nl;
	int one = 1, sz = (int)sndbuf, fd, err;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	fd = mnl_socket_get_fd(nl);
	/* A batch goes out in one sendmsg: the socket must take it whole. */
	if (sndbuf > 128 * 1024 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return nl;
}

struct ack_state {
	uint32_t last_seq;
	bool acked;
	int err;
};

static int batch_err_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct ack_state *st = data;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return MNL_CB_OK;
	if (e->error == 0) {
		if (nlh->nlmsg_seq == st->last_seq)
			st->acked = true;
		return MNL_CB_OK;
	}
	/* Logs the extended ack and sets errno. */
	link_nl_error_cb(nlh, NULL);
	if (!st->err)
		st->err = -errno;
	return MNL_CB_OK;
}

/*
 * nfnetlink runs the whole batch inside sendmsg(), so by the time it
 * returns every error (and the ack we asked for on the last message) is
 * queued: drain without blocking.
 */
static int batch_send(const void *buf, size_t len, uint32_t last_seq)
{
	struct ack_state st = { last_seq, false, 0 };
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = batch_err_cb };
	struct mnl_socket *nl;
	char *rx = NULL;
	ssize_t n;
	int ret = 0;

	nl = nfnl_open(len);
	if (!nl)
		return -errno;
	rx = malloc(NFT_RXBUF);
	if (!rx) {
		ret = -ENOMEM;
		goto out;
	}
	if (mnl_socket_sendto(nl, buf, len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		n = recv(mnl_socket_get_fd(nl), rx, NFT_RXBUF, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ret = -errno;
			break;
		}
		mnl_cb_run2(rx, n, 0, mnl_socket_get_portid(nl), NULL, &st, ctl,
			    MNL_ARRAY_SIZE(ctl));
	}
	if (!ret)
		ret = st.err ? st.err : st.acked ? 0 : -EIO;
out:
	free(rx);
	mnl_socket_close(nl);
	return ret;
}

/* Ask for an ack on the last message before BATCH_END, so success is
 * positive rather than the mere absence of an error. */
static uint32_t batch_ack_last(void *buf, size_t len)
{
	struct nlmsghdr *nlh = buf, *last = NULL;
	int rem = (int)len;

	while (mnl_nlmsg_ok(nlh, rem)) {
		if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN &&
		    nlh->nlmsg_type != NFNL_MSG_BATCH_END)
			last = nlh;
		nlh = mnl_nlmsg_next(nlh, &rem);
	}
	if (!last)
		return 0;
	last->nlmsg_flags |= NLM_F_ACK;
	return last->nlmsg_seq;
}

int nft_apply(const struct nft_cfg *cfg)
{
	size_t len;
	void *buf = NULL;
	uint32_t last;
	int ret;

	ret = cfg_check(cfg);
	if (ret)
		return ret;
	len = (8 + cfg_rules(cfg)) * NFT_RULE_EST + 2 * NFT_MSG_MARGIN;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = nft_build_batch(cfg, buf, len, 1);
	if (ret < 0) {
		log_err("nft: building table %s: %s", cfg->table,
			strerror(-ret));
		goto out;
	}
	last = batch_ack_last(buf, ret);
	ret = batch_send(buf, ret, last);
	if (ret)
		log_err("nft: applying table inet %s: %s", cfg->table,
			strerror(-ret));
out:
	free(buf);
	return ret;
}

int nft_remove(const char *table)
{
	struct nft_cfg cfg = { .table = table };
	char buf[4 * NFT_MSG_MARGIN];
	struct batch bt = { NULL, table, 1, 0 };
	int ret, len;

	memset(buf, 0, sizeof(buf));
	ret = cfg_check(&cfg);
	if (ret)
		return ret;
	bt.b = mnl_nlmsg_batch_start(buf, sizeof(buf) - NFT_MSG_MARGIN);
	if (!bt.b)
		return -ENOMEM;
	nftnl_batch_begin(cur(&bt), bt.seq++);
	next(&bt);
	/* Creating it first makes the delete succeed if it was absent. */
	put_table(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	put_table(&bt, NFT_MSG_DELTABLE, NLM_F_ACK);
	nftnl_batch_end(cur(&bt), bt.seq++);
	next(&bt);
	len = bt.err ? bt.err : (int)mnl_nlmsg_batch_size(bt.b);
	mnl_nlmsg_batch_stop(bt.b);
	if (len < 0)
		return len;
	ret = batch_send(buf, len, bt.seq - 2);
	if (ret)
		log_err("nft: removing table inet %s: %s", table,
			strerror(-ret));
	return ret;
}

/* ---------------------------------------------------------------- dump */

struct rule_count {
	const char *table;
	int n;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_count *rc = data;
	struct nftnl_rule *r;
	const char *t;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return MNL_CB_OK;
	r = nftnl_rule_alloc();
	if (!r) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
		if (t && !strcmp(t, rc->table) &&
		    nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) == NFPROTO_INET)
			rc->n++;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static mnl_cb_t talk_ctl[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = link_nl_error_cb,
	[NLMSG_DONE] = link_nl_done_cb,
};

/* One request, read until its ack or NLMSG_DONE. */
static int nfnl_talk(struct mnl_socket *nl, char *rx, struct nlmsghdr *nlh,
		     mnl_cb_t cb, void *data)
{
	int ret = MNL_CB_OK;
	ssize_t n;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, rx, NFT_RXBUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run2(rx, n, nlh->nlmsg_seq,
				  mnl_socket_get_portid(nl), cb, data, talk_ctl,
				  MNL_ARRAY_SIZE(talk_ctl));
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

int nft_rule_count(const char *table)
{
	struct nft_cfg cfg = { .table = table };
	struct rule_count rc = { table, 0 };
	struct mnl_socket *nl = NULL;
	struct nftnl_table *t = NULL;
	struct nftnl_rule *r = NULL;
	struct nlmsghdr *nlh;
	char buf[1024] = { 0 };
	char *rx = NULL;
	uint32_t seq = 1;
	int ret, i;

	ret = cfg_check(&cfg);
	if (ret)
		return ret;
	nl = nfnl_open(0);
	if (!nl)
		return -errno;
	rx = malloc(NFT_RXBUF);
	t = nftnl_table_alloc();
	r = nftnl_rule_alloc();
	if (!rx || !t || !r) {
		ret = -ENOMEM;
		goto out;
	}
	/* GETTABLE first: a dump of a missing table is just empty. */
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
					  NLM_F_ACK, seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	ret = nfnl_talk(nl, rx, nlh, NULL, NULL);
	if (ret)
		goto out;

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	ret = -EINTR;
	for (i = 0; i < DUMP_RETRIES && ret == -EINTR; i++) {
		rc.n = 0;
		memset(buf, 0, sizeof(buf));
		nlh = nftnl_rule_nlmsg_build_hdr(
			buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		ret = nfnl_talk(nl, rx, nlh, rule_cb, &rc);
	}
	if (!ret)
		ret = rc.n;
out:
	nftnl_rule_free(r);
	nftnl_table_free(t);
	free(rx);
	mnl_socket_close(nl);
	return ret;
}
