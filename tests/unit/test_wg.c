// SPDX-License-Identifier: GPL-2.0
/*
 * WireGuard backends: keys, the genl message builder/parser on canned bytes,
 * the UAPI text builder/parser, and a real wireguard-go interface driven
 * through the userspace backend inside a network namespace of our own.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <libmnl/libmnl.h>

#include "wgnet/link.h"
#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"
#include "ut.h"

#define FAMILY 0x1d /* any genl family id will do for canned messages */
#define GENL_LEN MNL_ALIGN(sizeof(struct genlmsghdr))

static void fill_key(uint8_t key[WG_KEY_LEN], uint8_t seed)
{
	int i;

	for (i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)(seed * 31 + i);
}

static void set_ep4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void set_ep6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &sin6->sin6_addr);
}

static void add_allowed(struct wg_peer *p, const char *ip, uint8_t cidr)
{
	uint8_t a[16] = { 0 };
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	CU_ASSERT_FATAL(inet_pton(family, ip, a) == 1);
	CU_ASSERT_FATAL(wg_peer_allowed_add(p, family, a, cidr) == 0);
}

/* A device with two peers: v4 endpoint + 2 allowed IPs, v6 endpoint + 1. */
static struct wg_device *two_peer_dev(void)
{
	struct wg_device *dev = calloc(1, sizeof(*dev));
	struct wg_peer *p;

	CU_ASSERT_FATAL(dev != NULL);
	strcpy(dev->name, "wg0");
	dev->flags = WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT |
		     WG_DEV_F_REPLACE_PEERS;
	fill_key(dev->private_key, 1);
	dev->listen_port = 51820;
	p = wg_device_peer_add(dev);
	CU_ASSERT_FATAL(p != NULL);
	fill_key(p->public_key, 2);
	set_ep4(&p->endpoint, "192.168.64.12", 51821);
	p->keepalive = 25;
	add_allowed(p, "172.18.0.3", 32);
	add_allowed(p, "10.1.0.0", 16);
	p = wg_device_peer_add(dev);
	CU_ASSERT_FATAL(p != NULL);
	fill_key(p->public_key, 3);
	set_ep6(&p->endpoint, "fd00::12", 51820);
	add_allowed(p, "fd00:1::", 64);
	return dev;
}

/* ---- keys ---- */

static void test_key_vectors(void)
{
	/* RFC 7748 section 6.1, Alice. */
	static const char priv_b64[] =
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
	static const char pub_b64[] =
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], k2[WG_KEY_LEN];
	char b64[WG_KEY_B64_LEN];

	CU_ASSERT_EQUAL_FATAL(wg_key_from_base64(priv, priv_b64), 0);
	CU_ASSERT_EQUAL(priv[0], 0x77);
	CU_ASSERT_EQUAL(priv[31], 0x2a);
	wg_key_public(pub, priv);
	wg_key_to_base64(b64, pub);
	CU_ASSERT_STRING_EQUAL(b64, pub_b64);
	wg_key_to_base64(b64, priv);
	CU_ASSERT_STRING_EQUAL(b64, priv_b64);

	CU_ASSERT_EQUAL(wg_key_generate(priv), 0);
	CU_ASSERT_EQUAL(priv[0] & 7, 0);
	CU_ASSERT_EQUAL(priv[31] & 0xc0, 0x40);
	CU_ASSERT_EQUAL(wg_key_generate(k2), 0);
	CU_ASSERT(memcmp(priv, k2, WG_KEY_LEN) != 0);
	wg_key_to_base64(b64, priv);
	CU_ASSERT_EQUAL(strlen(b64), 44);
	CU_ASSERT_EQUAL(wg_key_from_base64(k2, b64), 0);
	CU_ASSERT(memcmp(priv, k2, WG_KEY_LEN) == 0);
}

static void test_key_base64_invalid(void)
{
	static const char *const bad[] = {
		"",
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", /* no = */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==", /* long */
		"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=", /* url-safe */
		"hSDwCYkwp1R0i33ctD73Wg2-Og0mOBr066SpjqqbTmo=",
		"hSDwCYkwp1R0i33ctD73Wg2 Og0mOBr066SpjqqbTmo=",
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", /* bad tail */
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb====",
	};
	uint8_t k[WG_KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(wg_key_from_base64(k, bad[i]), -EINVAL);
	CU_ASSERT_EQUAL(wg_key_from_base64(k, NULL), -EINVAL);
}

static void test_key_file(void)
{
	char dir[] = "/tmp/wgnet-wgkey-XXXXXX", path[256], buf[128];
	uint8_t k1[WG_KEY_LEN], k2[WG_KEY_LEN], k3[WG_KEY_LEN];
	struct stat st;
	mode_t old;
	int fd;
	ssize_t n;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/private.key", dir);
	old = umask(0); /* the file must still come out 0600 */
	CU_ASSERT_EQUAL(wg_key_load_or_create(path, k1), 0);
	umask(old);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_size, 45);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(n, 45);
	CU_ASSERT_EQUAL(buf[44], '\n');
	buf[44] = '\0';
	CU_ASSERT_EQUAL(wg_key_from_base64(k3, buf), 0);
	CU_ASSERT(memcmp(k1, k3, WG_KEY_LEN) == 0);
	CU_ASSERT_EQUAL(k1[0] & 7, 0);

	/* Loaded again, not regenerated. */
	CU_ASSERT_EQUAL(wg_key_load_or_create(path, k2), 0);
	CU_ASSERT(memcmp(k1, k2, WG_KEY_LEN) == 0);

	/* A corrupt file is an error and is left alone. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_EQUAL(write(fd, "not a key\n", 10), 10);
	close(fd);
	CU_ASSERT_EQUAL(wg_key_load_or_create(path, k2), -EINVAL);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 10);

	/* A missing directory is reported, not created. */
	snprintf(buf, sizeof(buf), "%s/nodir/private.key", dir);
	CU_ASSERT_EQUAL(wg_key_load_or_create(buf, k2), -ENOENT);

	unlink(path);
	CU_ASSERT_EQUAL(rmdir(dir), 0); /* no temporary file left behind */
}

/* ---- kernel: SET builder, checked byte by byte ---- */

static const struct nlattr *attr_at(const char *base, size_t off, size_t end,
				    uint16_t type, uint16_t plen)
{
	const struct nlattr *a = (const void *)(base + off);

	CU_ASSERT_FATAL(off + NLA_HDRLEN <= end);
	CU_ASSERT_EQUAL(a->nla_type & NLA_TYPE_MASK, type);
	if (plen != 0xffff)
		CU_ASSERT_EQUAL(a->nla_len, NLA_HDRLEN + plen);
	CU_ASSERT_FATAL(off + a->nla_len <= end);
	return a;
}

#define NEXT(off, a) ((off) + NLA_ALIGN((a)->nla_len))
#define PAYLOAD(a) ((const char *)(a) + NLA_HDRLEN)

static void test_kernel_build_set(void)
{
	struct wg_device *dev = two_peer_dev();
	char buf[8192];
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct genlmsghdr *g;
	const struct nlattr *a, *peers, *peer, *aips, *aip;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	size_t pidx = 0, aidx = 0, off, end, poff, pend, aoff, aend, ioff;
	uint16_t u16;
	uint32_t u32;
	int len;

	memset(buf, 0xa5, sizeof(buf));
	len = wgk_build_set(buf, sizeof(buf), FAMILY, 77, dev, &pidx, &aidx);
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(pidx, 2);
	CU_ASSERT_EQUAL(aidx, 0);
	CU_ASSERT_EQUAL(nlh->nlmsg_len, (uint32_t)len);
	CU_ASSERT_EQUAL(nlh->nlmsg_type, FAMILY);
	CU_ASSERT_EQUAL(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CU_ASSERT_EQUAL(nlh->nlmsg_seq, 77);
	g = (const void *)(buf + NLMSG_HDRLEN);
	CU_ASSERT_EQUAL(g->cmd, WG_CMD_SET_DEVICE);
	CU_ASSERT_EQUAL(g->version, WG_GENL_VERSION);

	off = NLMSG_HDRLEN + GENL_LEN;
	end = (size_t)len;
	a = attr_at(buf, off, end, WGDEVICE_A_IFNAME, 4);
	CU_ASSERT(memcmp(PAYLOAD(a), "wg0", 4) == 0);
	off = NEXT(off, a);
	a = attr_at(buf, off, end, WGDEVICE_A_PRIVATE_KEY, 32);
	CU_ASSERT(memcmp(PAYLOAD(a), dev->private_key, 32) == 0);
	off = NEXT(off, a);
	a = attr_at(buf, off, end, WGDEVICE_A_LISTEN_PORT, 2);
	memcpy(&u16, PAYLOAD(a), 2);
	CU_ASSERT_EQUAL(u16, 51820);
	off = NEXT(off, a);
	a = attr_at(buf, off, end, WGDEVICE_A_FLAGS, 4);
	memcpy(&u32, PAYLOAD(a), 4);
	CU_ASSERT_EQUAL(u32, WGDEVICE_F_REPLACE_PEERS);
	off = NEXT(off, a);
	peers = attr_at(buf, off, end, WGDEVICE_A_PEERS, 0xffff);
	CU_ASSERT(peers->nla_type & NLA_F_NESTED);
	CU_ASSERT_EQUAL(NEXT(off, peers), end);

	/* Peer 0: key, flags, sockaddr_in, keepalive, two allowed IPs. */
	poff = off + NLA_HDRLEN;
	peer = attr_at(buf, poff, end, 0, 0xffff);
	CU_ASSERT(peer->nla_type & NLA_F_NESTED);
	pend = poff + peer->nla_len;
	off = poff + NLA_HDRLEN;
	a = attr_at(buf, off, pend, WGPEER_A_PUBLIC_KEY, 32);
	CU_ASSERT(memcmp(PAYLOAD(a), dev->peers[0].public_key, 32) == 0);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_FLAGS, 4);
	memcpy(&u32, PAYLOAD(a), 4);
	CU_ASSERT_EQUAL(u32, WGPEER_F_REPLACE_ALLOWEDIPS);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_ENDPOINT, sizeof(*sin));
	sin = (const void *)PAYLOAD(a);
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 51821);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), 0xc0a8400c);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 2);
	memcpy(&u16, PAYLOAD(a), 2);
	CU_ASSERT_EQUAL(u16, 25);
	off = NEXT(off, a);
	aips = attr_at(buf, off, pend, WGPEER_A_ALLOWEDIPS, 0xffff);
	CU_ASSERT_EQUAL(NEXT(off, aips), pend);
	aoff = off + NLA_HDRLEN;
	aend = off + aips->nla_len;
	aip = attr_at(buf, aoff, aend, 0, 4 + 8 + 8 + 8 - NLA_HDRLEN + 0);
	ioff = aoff + NLA_HDRLEN;
	a = attr_at(buf, ioff, aend, WGALLOWEDIP_A_FAMILY, 2);
	memcpy(&u16, PAYLOAD(a), 2);
	CU_ASSERT_EQUAL(u16, AF_INET);
	ioff = NEXT(ioff, a);
	a = attr_at(buf, ioff, aend, WGALLOWEDIP_A_IPADDR, 4);
	CU_ASSERT(memcmp(PAYLOAD(a), "\xac\x12\x00\x03", 4) == 0);
	ioff = NEXT(ioff, a);
	a = attr_at(buf, ioff, aend, WGALLOWEDIP_A_CIDR_MASK, 1);
	CU_ASSERT_EQUAL(*(const uint8_t *)PAYLOAD(a), 32);
	aoff = NEXT(aoff, aip);
	aip = attr_at(buf, aoff, aend, 0, 0xffff);
	ioff = aoff + NLA_HDRLEN + 8;
	a = attr_at(buf, ioff, aend, WGALLOWEDIP_A_IPADDR, 4);
	CU_ASSERT(memcmp(PAYLOAD(a), "\x0a\x01\x00\x00", 4) == 0);
	CU_ASSERT_EQUAL(NEXT(aoff, aip), aend);

	/* Peer 1: sockaddr_in6, keepalive 0, one v6 allowed IP. */
	poff = NEXT(poff, peer);
	peer = attr_at(buf, poff, end, 0, 0xffff);
	CU_ASSERT_EQUAL(NEXT(poff, peer), end);
	pend = poff + peer->nla_len;
	off = poff + NLA_HDRLEN;
	a = attr_at(buf, off, pend, WGPEER_A_PUBLIC_KEY, 32);
	CU_ASSERT(memcmp(PAYLOAD(a), dev->peers[1].public_key, 32) == 0);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_FLAGS, 4);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_ENDPOINT, sizeof(*sin6));
	sin6 = (const void *)PAYLOAD(a);
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 51820);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[0], 0xfd);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[15], 0x12);
	off = NEXT(off, a);
	a = attr_at(buf, off, pend, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 2);
	memcpy(&u16, PAYLOAD(a), 2);
	CU_ASSERT_EQUAL(u16, 0);
	off = NEXT(off, a);
	aips = attr_at(buf, off, pend, WGPEER_A_ALLOWEDIPS, 0xffff);
	ioff = off + 2 * NLA_HDRLEN;
	a = attr_at(buf, ioff, pend, WGALLOWEDIP_A_FAMILY, 2);
	memcpy(&u16, PAYLOAD(a), 2);
	CU_ASSERT_EQUAL(u16, AF_INET6);
	ioff = NEXT(ioff, a);
	a = attr_at(buf, ioff, pend, WGALLOWEDIP_A_IPADDR, 16);
	CU_ASSERT(memcmp(PAYLOAD(a), "\xfd\x00\x00\x01", 4) == 0);
	ioff = NEXT(ioff, a);
	a = attr_at(buf, ioff, pend, WGALLOWEDIP_A_CIDR_MASK, 1);
	CU_ASSERT_EQUAL(*(const uint8_t *)PAYLOAD(a), 64);

	/* Without the flags: no key, no port, no WGDEVICE_A_FLAGS. */
	dev->flags = 0;
	dev->n_peers = 0;
	pidx = aidx = 0;
	len = wgk_build_set(buf, sizeof(buf), FAMILY, 78, dev, &pidx, &aidx);
	CU_ASSERT_EQUAL(len, NLMSG_HDRLEN + GENL_LEN + 8);
	dev->n_peers = 2;

	/* Bad names and tiny buffers are refused. */
	pidx = aidx = 0;
	CU_ASSERT_EQUAL(wgk_build_set(buf, 40, FAMILY, 1, dev, &pidx, &aidx),
			-EMSGSIZE);
	strcpy(dev->name, "a/b");
	CU_ASSERT_EQUAL(wgk_build_set(buf, sizeof(buf), FAMILY, 1, dev, &pidx,
				      &aidx),
			-EINVAL);
	wg_device_free(dev);
}

/* ---- kernel: splitting ---- */

struct split_stats {
	int msgs, with_privkey, with_devflags, replace_allowed;
};

static int peer_flags_cb(const struct nlattr *attr, void *data)
{
	struct split_stats *st = data;
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, attr) {
		if (mnl_attr_get_type(a) == WGPEER_A_FLAGS &&
		    mnl_attr_get_u32(a) & WGPEER_F_REPLACE_ALLOWEDIPS)
			st->replace_allowed++;
	}
	return MNL_CB_OK;
}

static int dev_attr_count_cb(const struct nlattr *attr, void *data)
{
	struct split_stats *st = data;
	const struct nlattr *p;

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_PRIVATE_KEY:
		st->with_privkey++;
		break;
	case WGDEVICE_A_FLAGS:
		st->with_devflags++;
		break;
	case WGDEVICE_A_PEERS:
		mnl_attr_for_each_nested(p, attr)
			peer_flags_cb(p, data);
		break;
	}
	return MNL_CB_OK;
}

static void test_kernel_split(void)
{
	struct wg_device *dev = calloc(1, sizeof(*dev)), *back;
	struct split_stats st = { 0 };
	size_t pidx = 0, aidx = 0, i, j;
	struct wg_peer *p;
	char *buf = malloc(8192);
	uint8_t a[16] = { 0 };
	int len;

	CU_ASSERT_FATAL(dev && buf);
	back = calloc(1, sizeof(*back));
	CU_ASSERT_FATAL(back != NULL);
	strcpy(dev->name, "wg7");
	dev->flags = WG_DEV_F_PRIVATE_KEY | WG_DEV_F_REPLACE_PEERS;
	fill_key(dev->private_key, 9);
	for (i = 0; i < 4; i++) {
		p = wg_device_peer_add(dev);
		CU_ASSERT_FATAL(p != NULL);
		fill_key(p->public_key, (uint8_t)(20 + i));
		p->keepalive = (uint16_t)i;
		set_ep4(&p->endpoint, "192.168.64.20", (uint16_t)(1000 + i));
	}
	/* Peer 0: 2000 v4 addresses; peer 1: 300 v6; peer 2: none. */
	for (i = 0; i < 2000; i++) {
		a[0] = 10;
		a[1] = (uint8_t)(i >> 8);
		a[2] = (uint8_t)i;
		a[3] = 1;
		CU_ASSERT_FATAL(wg_peer_allowed_add(&dev->peers[0], AF_INET, a,
						    32) == 0);
	}
	for (i = 0; i < 300; i++) {
		memset(a, 0, sizeof(a));
		a[0] = 0xfd;
		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
		CU_ASSERT_FATAL(wg_peer_allowed_add(&dev->peers[1], AF_INET6, a,
						    128) == 0);
	}
	add_allowed(&dev->peers[3], "172.18.0.9", 32);

	do {
		memset(buf, 0, 8192);
		len = wgk_build_set(buf, 8192, FAMILY, 100 + st.msgs, dev,
				    &pidx, &aidx);
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT(len <= 8192);
		CU_ASSERT_FATAL(st.msgs < 100);
		st.msgs++;
		mnl_attr_parse((struct nlmsghdr *)buf, GENL_LEN,
			       dev_attr_count_cb, &st);
		/* The SET layout is the GET layout: merge it back. */
		CU_ASSERT_EQUAL_FATAL(
			wgk_parse_device((struct nlmsghdr *)buf, back), 0);
	} while (pidx < dev->n_peers);

	CU_ASSERT(st.msgs >= 7); /* 2000 x 28 + 300 x 40 bytes in 8 KiB */
	CU_ASSERT_EQUAL(st.with_privkey, 1);
	CU_ASSERT_EQUAL(st.with_devflags, 1);
	CU_ASSERT_EQUAL(st.replace_allowed, 4);
	CU_ASSERT_STRING_EQUAL(back->name, "wg7");
	CU_ASSERT(memcmp(back->private_key, dev->private_key, 32) == 0);
	CU_ASSERT_EQUAL_FATAL(back->n_peers, 4);
	for (i = 0; i < 4; i++) {
		const struct wg_peer *x = &dev->peers[i], *y = &back->peers[i];

		CU_ASSERT(memcmp(x->public_key, y->public_key, 32) == 0);
		CU_ASSERT_EQUAL(y->keepalive, i);
		CU_ASSERT(memcmp(&x->endpoint, &y->endpoint,
				 sizeof(struct sockaddr_in)) == 0);
		CU_ASSERT_EQUAL_FATAL(x->n_allowed, y->n_allowed);
		for (j = 0; j < x->n_allowed; j++) {
			CU_ASSERT_EQUAL(x->allowed[j].addr.family,
					y->allowed[j].addr.family);
			CU_ASSERT_EQUAL(x->allowed[j].plen, y->allowed[j].plen);
			CU_ASSERT(memcmp(&x->allowed[j].addr, &y->allowed[j].addr,
					 sizeof(struct ip_addr)) == 0);
		}
	}
	free(buf);
	wg_device_free(dev);
	wg_device_free(back);
}

/* ---- kernel: GET reply parsing ---- */

static struct nlmsghdr *reply_hdr(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	return nlh;
}

static void put_aip(struct nlmsghdr *nlh, int family, const char *ip,
		    uint8_t cidr)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, 0);
	uint8_t a[16];

	inet_pton(family, ip, a);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, (uint16_t)family);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, family == AF_INET ? 4 : 16, a);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
	mnl_attr_nest_end(nlh, n);
}

/* Two messages as a kernel dump sends them: peer B spans both. */
static void build_reply(char *m1, char *m2)
{
	struct nlmsghdr *nlh;
	struct nlattr *peers, *peer, *aips;
	struct sockaddr_storage ss;
	struct __kernel_timespec ts = { .tv_sec = 1700000000,
					.tv_nsec = 123456789 };
	uint8_t k[32];

	nlh = reply_hdr(m1);
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg3");
	fill_key(k, 40);
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, k);
	fill_key(k, 41);
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 32, k);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51823);
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
	mnl_attr_put_u32(nlh, WGDEVICE_A_MAX + 3, 0xdead); /* unknown: skip */
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	fill_key(k, 42);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	memset(k, 0, 32);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, 32, k);
	set_ep6(&ss, "fd00::5", 51820);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(struct sockaddr_in6), &ss);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), &ts);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1234);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 5678);
	aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_aip(nlh, AF_INET, "172.18.0.5", 32);
	put_aip(nlh, AF_INET6, "fd00:18::5", 128);
	mnl_attr_nest_end(nlh, aips);
	mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
	mnl_attr_nest_end(nlh, peer);
	peer = mnl_attr_nest_start(nlh, 0);
	fill_key(k, 43);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	set_ep4(&ss, "192.168.64.13", 51823);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(struct sockaddr_in), &ss);
	aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_aip(nlh, AF_INET, "172.18.0.6", 32);
	mnl_attr_nest_end(nlh, aips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);

	nlh = reply_hdr(m2);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg3");
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, k);
	aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_aip(nlh, AF_INET, "172.18.1.0", 24);
	mnl_attr_nest_end(nlh, aips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
}

static void test_kernel_parse_get(void)
{
	char m1[4096] = { 0 }, m2[4096] = { 0 };
	struct wg_device *dev = calloc(1, sizeof(*dev));
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_in *sin;
	const struct wg_peer *p;
	uint8_t k[32];

	CU_ASSERT_FATAL(dev != NULL);
	build_reply(m1, m2);
	CU_ASSERT_EQUAL_FATAL(wgk_parse_device((void *)m1, dev), 0);
	CU_ASSERT_EQUAL_FATAL(wgk_parse_device((void *)m2, dev), 0);
	CU_ASSERT_STRING_EQUAL(dev->name, "wg3");
	CU_ASSERT_EQUAL(dev->flags,
			WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT);
	CU_ASSERT_EQUAL(dev->listen_port, 51823);
	fill_key(k, 40);
	CU_ASSERT(memcmp(dev->private_key, k, 32) == 0);
	fill_key(k, 41);
	CU_ASSERT(memcmp(dev->public_key, k, 32) == 0);
	CU_ASSERT_EQUAL_FATAL(dev->n_peers, 2);

	p = &dev->peers[0];
	fill_key(k, 42);
	CU_ASSERT(memcmp(p->public_key, k, 32) == 0);
	sin6 = (const void *)&p->endpoint;
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 51820);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[15], 5);
	CU_ASSERT_EQUAL(p->keepalive, 25);
	CU_ASSERT_EQUAL(p->last_handshake.tv_sec, 1700000000);
	CU_ASSERT_EQUAL(p->last_handshake.tv_nsec, 123456789);
	CU_ASSERT_EQUAL(p->rx_bytes, 1234);
	CU_ASSERT_EQUAL(p->tx_bytes, 5678);
	CU_ASSERT_EQUAL_FATAL(p->n_allowed, 2);
	CU_ASSERT_EQUAL(p->allowed[0].addr.family, AF_INET);
	CU_ASSERT(memcmp(p->allowed[0].addr.a + 12, "\xac\x12\x00\x05", 4) == 0);
	CU_ASSERT_EQUAL(p->allowed[0].plen, 32);
	CU_ASSERT_EQUAL(p->allowed[1].addr.family, AF_INET6);
	CU_ASSERT_EQUAL(p->allowed[1].addr.a[15], 5);
	CU_ASSERT_EQUAL(p->allowed[1].plen, 128);

	p = &dev->peers[1];
	fill_key(k, 43);
	CU_ASSERT(memcmp(p->public_key, k, 32) == 0);
	sin = (const void *)&p->endpoint;
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(sin->sin_port), 51823);
	CU_ASSERT_EQUAL(p->keepalive, 0);
	CU_ASSERT_EQUAL(p->last_handshake.tv_sec, 0);
	CU_ASSERT_EQUAL_FATAL(p->n_allowed, 2); /* merged across messages */
	CU_ASSERT(memcmp(p->allowed[1].addr.a + 12, "\xac\x12\x01\x00", 4) == 0);
	CU_ASSERT_EQUAL(p->allowed[1].plen, 24);
	wg_device_free(dev);
}

static int parse_copy(const char *msg, size_t len)
{
	struct wg_device *dev = calloc(1, sizeof(*dev));
	char *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, msg, len);
	ret = wgk_parse_device((struct nlmsghdr *)copy, dev);
	free(copy);
	wg_device_free(dev);
	return ret;
}

/* Offset of the first attribute of type t inside [start, end), walking
 * nests too; the first match in message order. */
static struct nlattr *find_attr(char *msg, size_t off, size_t end, int depth,
				uint16_t t, int want_depth)
{
	struct nlattr *a, *r;

	while (off + NLA_HDRLEN <= end) {
		a = (void *)(msg + off);
		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > end)
			return NULL;
		if (depth == want_depth && (a->nla_type & NLA_TYPE_MASK) == t)
			return a;
		if (a->nla_type & NLA_F_NESTED) {
			r = find_attr(msg, off + NLA_HDRLEN, off + a->nla_len,
				      depth + 1, t, want_depth);
			if (r)
				return r;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static void test_kernel_parse_bad(void)
{
	char m1[4096] = { 0 }, m2[4096] = { 0 }, bad[4096];
	struct nlmsghdr *nlh = (void *)m1;
	size_t len, cut, i;
	struct nlattr *a;
	unsigned int seed = 12345;
	int ok = 0;

	build_reply(m1, m2);
	len = nlh->nlmsg_len;
	CU_ASSERT_EQUAL(parse_copy(m1, len), 0);

	/* Private key of 31 bytes (the attribute says so). */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0,
		      WGDEVICE_A_PRIVATE_KEY, 0);
	CU_ASSERT_FATAL(a != NULL);
	a->nla_len -= 1;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* The peers nest claims more than the message holds. */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0, WGDEVICE_A_PEERS,
		      0);
	CU_ASSERT_FATAL(a != NULL);
	a->nla_len += 8;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* An allowed IP whose family says v6 but carries 4 bytes. */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0,
		      WGALLOWEDIP_A_FAMILY, 4);
	CU_ASSERT_FATAL(a != NULL);
	*(uint16_t *)((char *)a + NLA_HDRLEN) = AF_INET6;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* A cidr of 33 for IPv4. */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0,
		      WGALLOWEDIP_A_CIDR_MASK, 4);
	CU_ASSERT_FATAL(a != NULL);
	*((uint8_t *)a + NLA_HDRLEN) = 33;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* A peer without its public key (type renamed to an unknown one). */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0, WGPEER_A_PUBLIC_KEY,
		      2);
	CU_ASSERT_FATAL(a != NULL);
	a->nla_type = WGPEER_A_MAX + 1;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* An endpoint of an unknown family. */
	memcpy(bad, m1, len);
	a = find_attr(bad, NLMSG_HDRLEN + GENL_LEN, len, 0, WGPEER_A_ENDPOINT,
		      2);
	CU_ASSERT_FATAL(a != NULL);
	*(uint16_t *)((char *)a + NLA_HDRLEN) = AF_UNIX;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* Header shorter than nlmsghdr + genlmsghdr. */
	memcpy(bad, m1, len);
	((struct nlmsghdr *)bad)->nlmsg_len = NLMSG_HDRLEN + 2;
	CU_ASSERT_EQUAL(parse_copy(bad, len), -EINVAL);

	/* Every truncation: an error or a clean prefix, never a crash (run
	 * under ASan/valgrind, the copy is exactly cut bytes long). */
	for (cut = NLMSG_HDRLEN; cut < len; cut++) {
		memcpy(bad, m1, len);
		((struct nlmsghdr *)bad)->nlmsg_len = (uint32_t)cut;
		if (parse_copy(bad, cut) == 0)
			ok++;
	}
	CU_ASSERT(ok < 40); /* only cuts between top-level attributes pass */

	/* Random byte flips. */
	for (i = 0; i < 3000; i++) {
		memcpy(bad, m1, len);
		bad[NLMSG_HDRLEN + GENL_LEN + rand_r(&seed) % (len - 20)] ^=
			(char)(1 + rand_r(&seed) % 255);
		parse_copy(bad, len);
	}
}

/* ---- userspace: the UAPI text ---- */

static void test_uapi_build_set(void)
{
	struct wg_device *dev = two_peer_dev();
	char *text = NULL;
	static const char want[] =
		"set=1\n"
		"private_key=1f202122232425262728292a2b2c2d2e"
		"2f303132333435363738393a3b3c3d3e\n"
		"listen_port=51820\n"
		"replace_peers=true\n"
		"public_key=3e3f404142434445464748494a4b4c4d"
		"4e4f505152535455565758595a5b5c5d\n"
		"endpoint=192.168.64.12:51821\n"
		"persistent_keepalive_interval=25\n"
		"replace_allowed_ips=true\n"
		"allowed_ip=172.18.0.3/32\n"
		"allowed_ip=10.1.0.0/16\n"
		"public_key=5d5e5f606162636465666768696a6b6c"
		"6d6e6f707172737475767778797a7b7c\n"
		"endpoint=[fd00::12]:51820\n"
		"persistent_keepalive_interval=0\n"
		"replace_allowed_ips=true\n"
		"allowed_ip=fd00:1::/64\n"
		"\n";

	CU_ASSERT_EQUAL_FATAL(wgu_build_set(dev, &text), 0);
	CU_ASSERT_STRING_EQUAL(text, want);
	free(text);

	/* Only what is flagged; a peer without endpoint has no endpoint=. */
	dev->flags = 0;
	dev->n_peers = 1;
	memset(&dev->peers[0].endpoint, 0, sizeof(dev->peers[0].endpoint));
	dev->peers[0].n_allowed = 0;
	CU_ASSERT_EQUAL_FATAL(wgu_build_set(dev, &text), 0);
	CU_ASSERT_STRING_EQUAL(
		text, "set=1\npublic_key=3e3f404142434445464748494a4b4c4d"
		      "4e4f505152535455565758595a5b5c5d\n"
		      "persistent_keepalive_interval=25\n"
		      "replace_allowed_ips=true\n\n");
	free(text);
	dev->n_peers = 2;
	dev->peers[1].allowed[0].plen = 129;
	CU_ASSERT_EQUAL(wgu_build_set(dev, &text), -EINVAL);
	CU_ASSERT_PTR_NULL(text);
	wg_device_free(dev);
}

static const char canned_get[] =
	"private_key=77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\n"
	"listen_port=51820\n"
	"fwmark=0\n"
	"future_thing=whatever\n"
	"public_key=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f\n"
	"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	"protocol_version=1\n"
	"endpoint=[fd00:64::12]:51821\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=18446744073709551615\n"
	"rx_bytes=42\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=172.18.0.3/32\n"
	"allowed_ip=fd00:18::3/128\n"
	"allowed_ip=10.9.0.0/16\n"
	"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n"
	"endpoint=192.168.64.13:51820\n"
	"persistent_keepalive_interval=0\n"
	"errno=0\n"
	"\n";

static void test_uapi_parse_get(void)
{
	struct wg_device *dev = NULL;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_in *sin;
	char b64[WG_KEY_B64_LEN];
	const struct wg_peer *p;

	CU_ASSERT_EQUAL_FATAL(
		wgu_parse_get(canned_get, strlen(canned_get), &dev), 0);
	CU_ASSERT_EQUAL(dev->flags,
			WG_DEV_F_PRIVATE_KEY | WG_DEV_F_LISTEN_PORT);
	CU_ASSERT_EQUAL(dev->listen_port, 51820);
	CU_ASSERT_EQUAL(dev->private_key[0], 0x77);
	wg_key_to_base64(b64, dev->public_key); /* derived from private */
	CU_ASSERT_STRING_EQUAL(b64,
			       "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
	CU_ASSERT_EQUAL_FATAL(dev->n_peers, 2);
	p = &dev->peers[0];
	CU_ASSERT_EQUAL(p->public_key[0], 0xde);
	CU_ASSERT_EQUAL(p->public_key[31], 0x4f);
	sin6 = (const void *)&p->endpoint;
	CU_ASSERT_EQUAL(sin6->sin6_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(sin6->sin6_port), 51821);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[3], 0x64);
	CU_ASSERT_EQUAL(sin6->sin6_addr.s6_addr[15], 0x12);
	CU_ASSERT_EQUAL(p->last_handshake.tv_sec, 1700000000);
	CU_ASSERT_EQUAL(p->last_handshake.tv_nsec, 5);
	CU_ASSERT_EQUAL(p->tx_bytes, UINT64_MAX);
	CU_ASSERT_EQUAL(p->rx_bytes, 42);
	CU_ASSERT_EQUAL(p->keepalive, 25);
	CU_ASSERT_EQUAL_FATAL(p->n_allowed, 3);
	CU_ASSERT_EQUAL(p->allowed[0].addr.family, AF_INET);
	CU_ASSERT(memcmp(p->allowed[0].addr.a + 12, "\xac\x12\x00\x03", 4) == 0);
	CU_ASSERT_EQUAL(p->allowed[1].addr.family, AF_INET6);
	CU_ASSERT_EQUAL(p->allowed[1].plen, 128);
	CU_ASSERT_EQUAL(p->allowed[1].addr.a[15], 3);
	CU_ASSERT_EQUAL(p->allowed[2].plen, 16);
	p = &dev->peers[1];
	sin = (const void *)&p->endpoint;
	CU_ASSERT_EQUAL(sin->sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohl(sin->sin_addr.s_addr), 0xc0a8400d);
	CU_ASSERT_EQUAL(p->n_allowed, 0);
	wg_device_free(dev);

	/* The minimal reply of a fresh wireguard-go. */
	CU_ASSERT_EQUAL(
		wgu_parse_get("listen_port=34944\nerrno=0\n\n", 26, &dev), 0);
	CU_ASSERT_EQUAL(dev->flags, WG_DEV_F_LISTEN_PORT);
	CU_ASSERT_EQUAL(dev->n_peers, 0);
	wg_device_free(dev);
}

static void test_uapi_parse_bad(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"listen_port=1\n\n", /* no errno */
		"listen_port=1\nerrno=0", /* cut mid-line */
		"garbage\nerrno=0\n\n", /* no '=' */
		"=1\nerrno=0\n\n",
		"listen_port=-1\nerrno=0\n\n",
		"listen_port=65536\nerrno=0\n\n",
		"listen_port=\nerrno=0\n\n",
		"listen_port=1 \nerrno=0\n\n",
		"private_key=00\nerrno=0\n\n",
		"private_key=zz076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a\nerrno=0\n\n",
		"endpoint=1.2.3.4:5\nerrno=0\n\n", /* before any peer */
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nendpoint=1.2.3.4\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nendpoint=1.2.3.4:70000\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nendpoint=[fd00::1]51820\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nendpoint=fd00::1:51820\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nallowed_ip=10.0.0.0/33\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nallowed_ip=fd00::/129\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nallowed_ip=10.0.0.0\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\ntx_bytes=18446744073709551616\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n",
		"public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\nlisten_port=1\nerrno=0\n\n",
		"errno=0\nlisten_port=1\n\n", /* after errno */
		"errno=x\n\n",
	};
	struct wg_device *dev = (void *)1;
	char *big;
	size_t i, n;
	int ok = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(wgu_parse_get(bad[i], strlen(bad[i]), &dev),
				-EINVAL);
		CU_ASSERT_PTR_NULL(dev);
		if (dev)
			fprintf(stderr, "accepted: %s\n", bad[i]);
	}
	/* A NUL inside a line. */
	CU_ASSERT_EQUAL(wgu_parse_get("listen_port=1\0\nerrno=0\n\n", 24, &dev),
			-EINVAL);
	/* An overlong line, even for a key we would ignore. */
	big = malloc(WGU_MAX_LINE + 64);
	n = (size_t)snprintf(big, 32, "unknown=");
	memset(big + n, 'a', WGU_MAX_LINE);
	memcpy(big + n + WGU_MAX_LINE, "\nerrno=0\n\n", 10);
	CU_ASSERT_EQUAL(wgu_parse_get(big, n + WGU_MAX_LINE + 10, &dev),
			-EINVAL);
	free(big);
	/* errno=N is -N. */
	CU_ASSERT_EQUAL(wgu_parse_get("errno=2\n\n", 9, &dev), -2);
	CU_ASSERT_EQUAL(wgu_parse_errno("errno=0\n\n", 9), 0);
	CU_ASSERT_EQUAL(wgu_parse_errno("errno=22\n\n", 10), -22);
	CU_ASSERT_EQUAL(wgu_parse_errno("hello\n\n", 7), -EINVAL);
	/* Every prefix of a good reply: an error, or the whole reply. */
	n = strlen(canned_get);
	for (i = 0; i <= n; i++) {
		char *copy = malloc(i ? i : 1);

		memcpy(copy, canned_get, i);
		if (wgu_parse_get(copy, i, &dev) == 0) {
			ok++;
			wg_device_free(dev);
		}
		free(copy);
	}
	CU_ASSERT_EQUAL(ok, 2); /* with and without the final blank line */
}

static void test_backend_open(void)
{
	const struct wg_backend *b;

	CU_ASSERT_PTR_EQUAL(wg_backend_open("kernel"), &wg_kernel_backend);
	CU_ASSERT_PTR_EQUAL(wg_backend_open("userspace"),
			    &wg_userspace_backend);
	CU_ASSERT_STRING_EQUAL(wg_kernel_backend.name, "kernel");
	CU_ASSERT_STRING_EQUAL(wg_userspace_backend.name, "userspace");
	errno = 0;
	CU_ASSERT_PTR_NULL(wg_backend_open("bogus"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(wg_backend_open(NULL));
	b = wg_backend_open("auto");
	CU_ASSERT_PTR_EQUAL(b, wgk_available() ? &wg_kernel_backend :
						 &wg_userspace_backend);
	CU_ASSERT_EQUAL(wg_ifname_valid("wg0"), 0);
	CU_ASSERT_EQUAL(wg_ifname_valid("0123456789abcdef"), -EINVAL);
	CU_ASSERT_EQUAL(wg_ifname_valid("../x"), -EINVAL);
	CU_ASSERT_EQUAL(wg_ifname_valid(".."), -EINVAL);
	CU_ASSERT_EQUAL(wg_ifname_valid(""), -EINVAL);
}

/* ---- real: both backends in a namespace of our own ---- */

struct test_ns {
	char name[64], path[128];
	int orig;
	ino_t ino;
};

static int ns_enter(struct test_ns *ns)
{
	struct stat st;
	int fd;

	snprintf(ns->name, sizeof(ns->name), "%s-wg", ut_prefix);
	snprintf(ns->path, sizeof(ns->path), "/run/netns/%s", ns->name);
	ns->orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns->orig < 0)
		return -errno;
	mkdir("/run/netns", 0755);
	fd = open(ns->path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	close(fd);
	if (unshare(CLONE_NEWNET) < 0)
		goto fail_unlink;
	if (mount("/proc/thread-self/ns/net", ns->path, "none", MS_BIND, NULL) <
	    0)
		goto fail_back;
	stat("/proc/thread-self/ns/net", &st);
	ns->ino = st.st_ino;
	return 0;
fail_back:
	setns(ns->orig, CLONE_NEWNET);
fail_unlink:
	unlink(ns->path);
fail:
	close(ns->orig);
	return -errno;
}

static void ns_leave(struct test_ns *ns)
{
	CU_ASSERT_EQUAL(setns(ns->orig, CLONE_NEWNET), 0);
	close(ns->orig);
	umount2(ns->path, MNT_DETACH);
	unlink(ns->path);
}

/* The wireguard-go daemon serving ifname inside our namespace, or 0. */
static pid_t find_wg_go(const struct test_ns *ns, const char *ifname)
{
	char path[300], cmd[256], want[64];
	struct dirent *de;
	struct stat st;
	pid_t found = 0;
	size_t wlen;
	ssize_t n;
	DIR *d;
	int fd;

	wlen = (size_t)snprintf(want, sizeof(want), "%c%s", '\0', ifname) + 1;
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d)) && !found) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st) < 0 || st.st_ino != ns->ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue; /* a zombie has no command line: gone */
		cmd[n] = '\0';
		/* argv = { ..."wireguard-go", ifname } */
		if (strstr(cmd, "wireguard-go") && (size_t)n > wlen &&
		    !memcmp(cmd + n - wlen + 1, want + 1, wlen - 1) &&
		    cmd[n - wlen] == '\0')
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* The smallest SO_RCVBUF over the inet datagram sockets of pid (read on
 * copies taken with pidfd_getfd), and their count in *n. */
static int min_rcvbuf(pid_t pid, int *n)
{
	char path[300], link[64];
	int pfd, sfd, v, dom, type, min = -1;
	struct dirent *de;
	socklen_t len;
	ssize_t l;
	DIR *d;

	*n = 0;
	pfd = pidfd_open(pid, 0);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = pfd >= 0 ? opendir(path) : NULL;
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
			 de->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0 || strncmp(link, "socket:", 7))
			continue;
		sfd = pidfd_getfd(pfd, atoi(de->d_name), 0);
		if (sfd < 0)
			continue;
		len = sizeof(int);
		getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &dom, &len);
		len = sizeof(int);
		getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &len);
		len = sizeof(int);
		if ((dom == AF_INET || dom == AF_INET6) && type == SOCK_DGRAM &&
		    !getsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &v, &len)) {
			(*n)++;
			min = min < 0 || v < min ? v : min;
		}
		close(sfd);
	}
	if (d)
		closedir(d);
	if (pfd >= 0)
		close(pfd);
	return min;
}

/* The socket buffers of wireguard-go (wg_sockbuf.c): it binds its sockets
 * when the link comes up; then the backend raises them to 7 MiB (the
 * kernel reports twice that), on every one of them. */
static void userspace_tune(const struct wg_backend *u, const char *ifname,
			   pid_t pid)
{
	struct rtnl *nl = rtnl_open(-1);
	int idx = nl ? link_index(nl, ifname) : -1, tuned = 0, tries, n;

	CU_ASSERT_EQUAL(u->tune("wgnope0"), 0); /* no such wireguard-go */
	CU_ASSERT(idx > 0 && link_set(nl, idx, NULL, 0, NULL, 1) == 0);
	/* Up to WG_START_TIMEOUT_MS: wireguard-go binds when the link is up. */
	for (tries = 0;
	     tries < WG_START_TIMEOUT_MS / 20 && (tuned = u->tune(ifname)) == 0;
	     tries++)
		usleep(20000);
	CU_ASSERT(tuned >= 1);
	/* Idempotent, and every socket bound by now is covered. */
	tuned = u->tune(ifname);
	CU_ASSERT(min_rcvbuf(pid, &n) >= 2 * (7 << 20));
	CU_ASSERT(tuned >= 1 && n == tuned);
	if (nl)
		rtnl_close(nl);
}

static bool have_program(const char *prog)
{
	char path[512], *paths, *dir, *save = NULL;
	bool found = false;

	paths = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	for (dir = strtok_r(paths, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/%s", dir, prog);
		found = access(path, X_OK) == 0;
	}
	free(paths);
	return found;
}

static void kernel_in_ns(void)
{
	const struct wg_backend *k = &wg_kernel_backend;
	struct wg_device *dev = NULL;
	int ret;

	CU_ASSERT_EQUAL(k->exists("lo"), 0); /* exists, but not wireguard */
	CU_ASSERT_EQUAL(k->exists("wgnope0"), 0);
	ret = k->create("wgk0");
	if (!wgk_available()) {
		CU_ASSERT(ret < 0); /* no module: "Unknown device type" */
		CU_ASSERT_EQUAL(k->get("wgk0", &dev), -ENOENT);
		return;
	}
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(k->create("wgk0"), -EEXIST);
	CU_ASSERT_EQUAL(k->exists("wgk0"), 1);
	CU_ASSERT_EQUAL(k->get("wgk0", &dev), 0);
	wg_device_free(dev);
	CU_ASSERT_EQUAL(k->destroy("wgk0"), 0);
	CU_ASSERT_EQUAL(k->exists("wgk0"), 0);
}

static void userspace_in_ns(const struct test_ns *ns)
{
	const struct wg_backend *u = &wg_userspace_backend;
	struct wg_device *want = two_peer_dev(), *got = NULL, *repl;
	char ifname[16], sock[128];
	struct wg_peer *p;
	uint8_t pub[WG_KEY_LEN];
	struct stat st;
	pid_t pid;
	size_t i;
	int tries;

	/* The run's claimed prefix: the socket path is machine-wide, so two
	 * runs must never pick the same name (a pid is reused after a run
	 * that crashed and left its socket behind). */
	snprintf(ifname, sizeof(ifname), "t%swg", ut_prefix);
	snprintf(sock, sizeof(sock), "/var/run/wireguard/%s.sock", ifname);
	strcpy(want->name, ifname);
	CU_ASSERT_EQUAL(wg_key_generate(want->private_key), 0);
	want->listen_port = 51820 + (uint16_t)(getpid() % 100);
	want->n_peers = 1;

	CU_ASSERT_EQUAL(u->exists(ifname), 0);
	/* A missing program is an error, with nothing left behind. */
	wg_userspace_set_program("/nonexistent/wireguard-go");
	CU_ASSERT_EQUAL(u->create(ifname), -ENOENT);
	wg_userspace_set_program(NULL);
	CU_ASSERT_EQUAL(u->exists(ifname), 0);
	CU_ASSERT_NOT_EQUAL(stat(sock, &st), 0);
	CU_ASSERT_EQUAL(u->create(ifname), 0);
	CU_ASSERT_EQUAL(u->create(ifname), -EEXIST);
	CU_ASSERT_EQUAL(u->exists(ifname), 1);
	pid = find_wg_go(ns, ifname);
	CU_ASSERT(pid > 0);
	/* A daemon, not our child: it must outlive us. */
	CU_ASSERT(pid > 0 && getppid() != pid &&
		  waitpid(pid, NULL, WNOHANG) < 0);

	CU_ASSERT_EQUAL(u->set(ifname, want), 0);
	CU_ASSERT_EQUAL(u->get(ifname, &got), 0);
	if (got) {
		CU_ASSERT_STRING_EQUAL(got->name, ifname);
		CU_ASSERT(got->flags & WG_DEV_F_PRIVATE_KEY);
		CU_ASSERT(memcmp(got->private_key, want->private_key, 32) == 0);
		wg_key_public(pub, want->private_key);
		CU_ASSERT(memcmp(got->public_key, pub, 32) == 0);
		CU_ASSERT_EQUAL(got->listen_port, want->listen_port);
		CU_ASSERT_EQUAL(got->n_peers, 1);
	}
	if (got && got->n_peers == 1) {
		CU_ASSERT(memcmp(got->peers[0].public_key,
				 want->peers[0].public_key, 32) == 0);
		CU_ASSERT(memcmp(&got->peers[0].endpoint,
				 &want->peers[0].endpoint,
				 sizeof(struct sockaddr_in)) == 0);
		CU_ASSERT_EQUAL(got->peers[0].keepalive, 25);
		CU_ASSERT_EQUAL(got->peers[0].n_allowed, 2);
		for (i = 0; i < 2 && i < got->peers[0].n_allowed; i++)
			CU_ASSERT(memcmp(&got->peers[0].allowed[i],
					 &want->peers[0].allowed[i],
					 sizeof(struct ip_prefix)) == 0);
	}
	wg_device_free(got);
	got = NULL;
	if (pid > 0)
		userspace_tune(u, ifname, pid);

	/* Replace the peer set: now only the IPv6 peer. */
	/* (want->peers[1] is that peer: the set carries it alone.) */
	repl = calloc(1, sizeof(*repl));
	p = repl ? wg_device_peer_add(repl) : NULL;
	CU_ASSERT(p != NULL);
	if (p) {
		repl->flags = WG_DEV_F_REPLACE_PEERS;
		memcpy(p->public_key, want->peers[1].public_key, WG_KEY_LEN);
		p->endpoint = want->peers[1].endpoint;
		CU_ASSERT_EQUAL(
			wg_peer_allowed_add(p, AF_INET6,
					    want->peers[1].allowed[0].addr.a, 64),
			0);
		CU_ASSERT_EQUAL(u->set(ifname, repl), 0);
		CU_ASSERT_EQUAL(u->get(ifname, &got), 0);
	}
	if (got) {
		CU_ASSERT_EQUAL(got->n_peers, 1);
	}
	if (got && got->n_peers == 1) {
		CU_ASSERT(memcmp(got->peers[0].public_key, p->public_key,
				 WG_KEY_LEN) == 0);
		CU_ASSERT_EQUAL(got->peers[0].endpoint.ss_family, AF_INET6);
		CU_ASSERT_EQUAL(got->peers[0].n_allowed, 1);
		CU_ASSERT(got->peers[0].n_allowed == 1 &&
			  got->peers[0].allowed[0].addr.family == AF_INET6 &&
			  got->peers[0].allowed[0].plen == 64);
	}
	wg_device_free(got);
	wg_device_free(repl);

	CU_ASSERT_EQUAL(u->destroy(ifname), 0);
	CU_ASSERT_EQUAL(u->exists(ifname), 0);
	CU_ASSERT_NOT_EQUAL(stat(sock, &st), 0);
	for (tries = 0;
	     tries < WG_STOP_TIMEOUT_MS / 20 && find_wg_go(ns, ifname); tries++)
		usleep(20000);
	CU_ASSERT_EQUAL(find_wg_go(ns, ifname), 0);
	CU_ASSERT_EQUAL(u->destroy(ifname), -ENODEV);

	/* Leave nothing behind, even after a failure above. */
	pid = find_wg_go(ns, ifname);
	if (pid > 0)
		kill(pid, SIGKILL);
	wg_link_delete(ifname);
	unlink(sock);
	want->n_peers = 2;
	wg_device_free(want);
}

static void test_backends_in_netns(void)
{
	struct test_ns ns;
	int ret;

	if (geteuid() != 0) {
		CU_PASS("not root: namespace test skipped");
		return;
	}
	ret = ns_enter(&ns);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	kernel_in_ns();
	if (have_program("wireguard-go"))
		userspace_in_ns(&ns);
	else
		CU_PASS("wireguard-go not installed: userspace part skipped");
	ns_leave(&ns);
}

void suite_wg(void);
void suite_wg(void)
{
	CU_pSuite s = CU_add_suite("wg", NULL, NULL);

	CU_add_test(s, "key vectors", test_key_vectors);
	CU_add_test(s, "key base64 invalid", test_key_base64_invalid);
	CU_add_test(s, "key file", test_key_file);
	CU_add_test(s, "kernel build set", test_kernel_build_set);
	CU_add_test(s, "kernel split", test_kernel_split);
	CU_add_test(s, "kernel parse get", test_kernel_parse_get);
	CU_add_test(s, "kernel parse bad", test_kernel_parse_bad);
	CU_add_test(s, "uapi build set", test_uapi_build_set);
	CU_add_test(s, "uapi parse get", test_uapi_parse_get);
	CU_add_test(s, "uapi parse bad", test_uapi_parse_bad);
	CU_add_test(s, "backend open", test_backend_open);
	CU_add_test(s, "backends in netns", test_backends_in_netns);
}
