// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel WireGuard backend: rtnetlink to create and delete the link, generic
 * netlink (family "wireguard") to configure and read it, all through libmnl.
 * The message builders and the reply parser are pure functions, exposed in
 * wg_internal.h for the unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <libmnl/libmnl.h>

#include "wgnet/log.h"
#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

#define GENL_HDR_LEN MNL_ALIGN(sizeof(struct genlmsghdr))

static uint32_t wgk_seq(void)
{
	static uint32_t seq = 0x57470000;

	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

static struct nlmsghdr *genl_put(char *buf, uint16_t type, uint16_t flags,
				 uint32_t seq, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/* ---- family lookup ---- */

struct family_ctx {
	uint16_t id;
	bool found;
};

static int ctrl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { NULL };
	struct family_ctx *ctx = data;

	if (mnl_attr_parse(nlh, GENL_HDR_LEN, ctrl_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[CTRL_ATTR_FAMILY_ID] &&
	    mnl_attr_validate(tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) == 0) {
		ctx->id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
		ctx->found = true;
	}
	return MNL_CB_OK;
}

int wgk_family_resolve(struct mnl_socket *nl, uint16_t *id)
{
	char buf[256] = { 0 };
	struct family_ctx ctx = { 0 };
	struct nlmsghdr *nlh;
	int ret;

	nlh = genl_put(buf, GENL_ID_CTRL, 0, wgk_seq(), CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	ret = wg_nl_talk(nl, nlh, family_cb, &ctx, NULL);
	if (ret)
		return ret;
	if (!ctx.found)
		return -ENOENT;
	*id = ctx.id;
	return 0;
}

/* A genl socket with the family resolved once, at open. */
static int wgk_open(struct mnl_socket **out, uint16_t *family)
{
	struct mnl_socket *nl;
	int ret;

	nl = wg_nl_open(NETLINK_GENERIC);
	if (!nl)
		return -errno;
	ret = wgk_family_resolve(nl, family);
	if (ret) {
		mnl_socket_close(nl);
		return ret;
	}
	*out = nl;
	return 0;
}

int wgk_available(void)
{
	struct mnl_socket *nl = NULL;
	uint16_t family;

	if (wgk_open(&nl, &family))
		return 0;
	mnl_socket_close(nl);
	return 1;
}

/* ---- SET ---- */

static int put_allowedip(struct nlmsghdr *nlh, size_t len,
			 const struct ip_prefix *a)
{
	struct nlattr *nest;

	nest = mnl_attr_nest_start_check(nlh, len, 0);
	if (!nest)
		return -EMSGSIZE;
	if (!mnl_attr_put_check(nlh, len, WGALLOWEDIP_A_FAMILY,
				sizeof(uint16_t),
				&(uint16_t){ (uint16_t)a->addr.family }) ||
	    !mnl_attr_put_check(nlh, len, WGALLOWEDIP_A_IPADDR,
				ip_len(a->addr.family), ip_bytes(&a->addr)) ||
	    !mnl_attr_put_u8_check(nlh, len, WGALLOWEDIP_A_CIDR_MASK,
				   (uint8_t)a->plen)) {
		mnl_attr_nest_cancel(nlh, nest);
		return -EMSGSIZE;
	}
	mnl_attr_nest_end(nlh, nest);
	return 0;
}

static int put_endpoint(struct nlmsghdr *nlh, size_t len,
			const struct sockaddr_storage *ss)
{
	size_t slen;

	if (ss->ss_family == AF_INET)
		slen = sizeof(struct sockaddr_in);
	else if (ss->ss_family == AF_INET6)
		slen = sizeof(struct sockaddr_in6);
	else
		return 0;
	return mnl_attr_put_check(nlh, len, WGPEER_A_ENDPOINT, slen, ss) ?
		       0 :
		       -EMSGSIZE;
}

static int check_device(const struct wg_device *dev)
{
	size_t i, j;

	if (wg_ifname_valid(dev->name))
		return -EINVAL;
	for (i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];

		if (p->endpoint.ss_family != 0 &&
		    p->endpoint.ss_family != AF_INET &&
		    p->endpoint.ss_family != AF_INET6)
			return -EINVAL;
		for (j = 0; j < p->n_allowed; j++) {
			if (!wg_allowed_valid(&p->allowed[j]))
				return -EINVAL;
		}
	}
	return 0;
}

/*
 * Put one peer, continuing from *aidx. 1 if the whole peer went in, 0 if
 * only part of its allowed IPs did (*aidx advanced), -EMSGSIZE if nothing of
 * it fits (the message is left as it was).
 */
static int put_peer(struct nlmsghdr *nlh, size_t len, const struct wg_peer *p,
		    size_t *aidx)
{
	struct nlattr *pn, *an = NULL;
	bool first = *aidx == 0;
	size_t start = *aidx;

	pn = mnl_attr_nest_start_check(nlh, len, 0);
	if (!pn)
		return -EMSGSIZE;
	if (!mnl_attr_put_check(nlh, len, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN,
				p->public_key))
		goto cancel;
	if (p->flags & WG_PEER_F_REMOVE) {
		if (!mnl_attr_put_u32_check(nlh, len, WGPEER_A_FLAGS,
					    WGPEER_F_REMOVE_ME))
			goto cancel;
		mnl_attr_nest_end(nlh, pn);
		*aidx = p->n_allowed;
		return 1;
	}
	if (first) {
		if (!mnl_attr_put_u32_check(nlh, len, WGPEER_A_FLAGS,
					    WGPEER_F_REPLACE_ALLOWEDIPS) ||
		    put_endpoint(nlh, len, &p->endpoint) ||
		    !mnl_attr_put_u16_check(
			    nlh, len, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
			    p->keepalive))
			goto cancel;
	}
	if (*aidx < p->n_allowed) {
		an = mnl_attr_nest_start_check(nlh, len, WGPEER_A_ALLOWEDIPS);
		if (!an)
			goto cancel;
		while (*aidx < p->n_allowed &&
		       !put_allowedip(nlh, len, &p->allowed[*aidx]))
			(*aidx)++;
		if (*aidx == start)
			goto cancel; /* a peer chunk without any address */
		mnl_attr_nest_end(nlh, an);
	}
	mnl_attr_nest_end(nlh, pn);
	return *aidx == p->n_allowed ? 1 : 0;
cancel:
	*aidx = start;
	mnl_attr_nest_cancel(nlh, pn);
	return -EMSGSIZE;
}

int wgk_build_set(char *buf, size_t len, uint16_t family, uint32_t seq,
		  const struct wg_device *dev, size_t *peer_idx,
		  size_t *allowed_idx)
{
	bool first = *peer_idx == 0 && *allowed_idx == 0;
	struct nlattr *peers;
	struct nlmsghdr *nlh;
	bool progress = false;
	int ret;

	if (check_device(dev) || *peer_idx > dev->n_peers)
		return -EINVAL;
	if (len < MNL_NLMSG_HDRLEN + GENL_HDR_LEN + 64)
		return -EMSGSIZE;
	memset(buf, 0, len);
	nlh = genl_put(buf, family, 0, seq, WG_CMD_SET_DEVICE, WG_GENL_VERSION);
	if (!mnl_attr_put_strz_check(nlh, len, WGDEVICE_A_IFNAME, dev->name))
		return -EMSGSIZE;
	if (first) {
		if ((dev->flags & WG_DEV_F_PRIVATE_KEY) &&
		    !mnl_attr_put_check(nlh, len, WGDEVICE_A_PRIVATE_KEY,
					WG_KEY_LEN, dev->private_key))
			return -EMSGSIZE;
		if ((dev->flags & WG_DEV_F_LISTEN_PORT) &&
		    !mnl_attr_put_u16_check(nlh, len, WGDEVICE_A_LISTEN_PORT,
					    dev->listen_port))
			return -EMSGSIZE;
		if ((dev->flags & WG_DEV_F_REPLACE_PEERS) &&
		    !mnl_attr_put_u32_check(nlh, len, WGDEVICE_A_FLAGS,
					    WGDEVICE_F_REPLACE_PEERS))
			return -EMSGSIZE;
	}
	if (*peer_idx == dev->n_peers)
		goto done;
	peers = mnl_attr_nest_start_check(nlh, len, WGDEVICE_A_PEERS);
	if (!peers)
		return -EMSGSIZE;
	while (*peer_idx < dev->n_peers) {
		ret = put_peer(nlh, len, &dev->peers[*peer_idx], allowed_idx);
		if (ret < 0)
			break;
		progress = true;
		if (ret == 0)
			break; /* this peer continues in the next message */
		(*peer_idx)++;
		*allowed_idx = 0;
	}
	if (!progress)
		return -EMSGSIZE;
	mnl_attr_nest_end(nlh, peers);
done:
	return (int)nlh->nlmsg_len;
}

int wgk_build_get(char *buf, size_t len, uint16_t family, uint32_t seq,
		  const char *ifname)
{
	struct nlmsghdr *nlh;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	if (len < MNL_NLMSG_HDRLEN + GENL_HDR_LEN + 32)
		return -EMSGSIZE;
	memset(buf, 0, len);
	nlh = genl_put(buf, family, NLM_F_DUMP, seq, WG_CMD_GET_DEVICE,
		       WG_GENL_VERSION);
	if (!mnl_attr_put_strz_check(nlh, len, WGDEVICE_A_IFNAME, ifname))
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

/* ---- GET reply parsing ---- */

struct tb_ctx {
	const struct nlattr **tb;
	int max;
};

static int tb_cb(const struct nlattr *attr, void *data)
{
	struct tb_ctx *ctx = data;

	if (mnl_attr_type_valid(attr, ctx->max) < 0)
		return MNL_CB_OK; /* newer kernel: skip what we don't know */
	ctx->tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/* Fill tb[0..max] from a nest, refusing truncated attributes. */
static int parse_nest(const struct nlattr *nest, const struct nlattr **tb,
		      int max)
{
	struct tb_ctx ctx = { .tb = tb, .max = max };

	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0 ||
	    wg_nl_attrs_complete(mnl_attr_get_payload(nest),
				 mnl_attr_get_payload_len(nest)))
		return -EINVAL;
	memset(tb, 0, sizeof(*tb) * (max + 1));
	if (mnl_attr_parse_nested(nest, tb_cb, &ctx) < 0)
		return -EINVAL;
	return 0;
}

static bool valid(const struct nlattr *a, enum mnl_attr_data_type type)
{
	return !a || mnl_attr_validate(a, type) == 0;
}

static bool valid_len(const struct nlattr *a, size_t len)
{
	return !a || mnl_attr_validate2(a, MNL_TYPE_BINARY, len) == 0;
}

static int parse_allowedip(const struct nlattr *nest, struct wg_peer *peer)
{
	const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1];
	uint16_t family;
	size_t alen;

	if (parse_nest(nest, tb, WGALLOWEDIP_A_MAX))
		return -EINVAL;
	if (!tb[WGALLOWEDIP_A_FAMILY] || !tb[WGALLOWEDIP_A_IPADDR] ||
	    !tb[WGALLOWEDIP_A_CIDR_MASK] ||
	    !valid(tb[WGALLOWEDIP_A_FAMILY], MNL_TYPE_U16) ||
	    !valid(tb[WGALLOWEDIP_A_CIDR_MASK], MNL_TYPE_U8))
		return -EINVAL;
	family = mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	alen = family == AF_INET ? 4 : 16;
	if (!valid_len(tb[WGALLOWEDIP_A_IPADDR], alen))
		return -EINVAL;
	return wg_peer_allowed_add(
		peer, family, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]),
		mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]));
}

static int parse_endpoint(const struct nlattr *a, struct sockaddr_storage *ss)
{
	size_t len = mnl_attr_get_payload_len(a);
	sa_family_t family;

	if (len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&family, mnl_attr_get_payload(a), sizeof(family));
	if ((family == AF_INET && len == sizeof(struct sockaddr_in)) ||
	    (family == AF_INET6 && len == sizeof(struct sockaddr_in6))) {
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, mnl_attr_get_payload(a), len);
		return 0;
	}
	return -EINVAL;
}

static int parse_peer(const struct nlattr *nest, struct wg_device *dev)
{
	const struct nlattr *tb[WGPEER_A_MAX + 1];
	const struct nlattr *a;
	struct wg_peer *peer;
	int ret;

	if (parse_nest(nest, tb, WGPEER_A_MAX))
		return -EINVAL;
	if (!tb[WGPEER_A_PUBLIC_KEY] ||
	    !valid_len(tb[WGPEER_A_PUBLIC_KEY], WG_KEY_LEN) ||
	    !valid_len(tb[WGPEER_A_PRESHARED_KEY], WG_KEY_LEN) ||
	    !valid(tb[WGPEER_A_FLAGS], MNL_TYPE_U32) ||
	    !valid(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL], MNL_TYPE_U16) ||
	    !valid_len(tb[WGPEER_A_LAST_HANDSHAKE_TIME],
		       sizeof(struct __kernel_timespec)) ||
	    !valid(tb[WGPEER_A_RX_BYTES], MNL_TYPE_U64) ||
	    !valid(tb[WGPEER_A_TX_BYTES], MNL_TYPE_U64) ||
	    !valid(tb[WGPEER_A_PROTOCOL_VERSION], MNL_TYPE_U32))
		return -EINVAL;
	peer = wg_device_peer_find(
		dev, mnl_attr_get_payload(tb[WGPEER_A_PUBLIC_KEY]));
	if (!peer) {
		peer = wg_device_peer_add(dev);
		if (!peer)
			return -ENOMEM;
		memcpy(peer->public_key,
		       mnl_attr_get_payload(tb[WGPEER_A_PUBLIC_KEY]),
		       WG_KEY_LEN);
	}
	if (tb[WGPEER_A_ENDPOINT] &&
	    parse_endpoint(tb[WGPEER_A_ENDPOINT], &peer->endpoint))
		return -EINVAL;
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
		peer->keepalive = mnl_attr_get_u16(
			tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
	if (tb[WGPEER_A_LAST_HANDSHAKE_TIME]) {
		struct __kernel_timespec ts;

		memcpy(&ts,
		       mnl_attr_get_payload(tb[WGPEER_A_LAST_HANDSHAKE_TIME]),
		       sizeof(ts));
		if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000 || ts.tv_sec < 0)
			return -EINVAL;
		peer->last_handshake.tv_sec = (time_t)ts.tv_sec;
		peer->last_handshake.tv_nsec = (long)ts.tv_nsec;
	}
	if (tb[WGPEER_A_RX_BYTES])
		peer->rx_bytes = mnl_attr_get_u64(tb[WGPEER_A_RX_BYTES]);
	if (tb[WGPEER_A_TX_BYTES])
		peer->tx_bytes = mnl_attr_get_u64(tb[WGPEER_A_TX_BYTES]);
	if (!tb[WGPEER_A_ALLOWEDIPS])
		return 0;
	if (mnl_attr_validate(tb[WGPEER_A_ALLOWEDIPS], MNL_TYPE_NESTED) < 0 ||
	    wg_nl_attrs_complete(
		    mnl_attr_get_payload(tb[WGPEER_A_ALLOWEDIPS]),
		    mnl_attr_get_payload_len(tb[WGPEER_A_ALLOWEDIPS])))
		return -EINVAL;
	mnl_attr_for_each_nested(a, tb[WGPEER_A_ALLOWEDIPS]) {
		ret = parse_allowedip(a, peer);
		if (ret)
			return ret;
	}
	return 0;
}

int wgk_parse_device(const struct nlmsghdr *nlh, struct wg_device *dev)
{
	const struct nlattr *tb[WGDEVICE_A_MAX + 1] = { NULL };
	struct tb_ctx ctx = { .tb = tb, .max = WGDEVICE_A_MAX };
	const struct nlattr *a;
	const char *payload;
	size_t plen;
	int ret;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDR_LEN)
		return -EINVAL;
	payload = (const char *)mnl_nlmsg_get_payload(nlh) + GENL_HDR_LEN;
	plen = nlh->nlmsg_len - MNL_NLMSG_HDRLEN - GENL_HDR_LEN;
	if (wg_nl_attrs_complete(payload, plen))
		return -EINVAL;
	if (mnl_attr_parse(nlh, GENL_HDR_LEN, tb_cb, &ctx) < 0)
		return -EINVAL;
	if (!valid(tb[WGDEVICE_A_IFINDEX], MNL_TYPE_U32) ||
	    !valid(tb[WGDEVICE_A_IFNAME], MNL_TYPE_NUL_STRING) ||
	    !valid_len(tb[WGDEVICE_A_PRIVATE_KEY], WG_KEY_LEN) ||
	    !valid_len(tb[WGDEVICE_A_PUBLIC_KEY], WG_KEY_LEN) ||
	    !valid(tb[WGDEVICE_A_FLAGS], MNL_TYPE_U32) ||
	    !valid(tb[WGDEVICE_A_LISTEN_PORT], MNL_TYPE_U16) ||
	    !valid(tb[WGDEVICE_A_FWMARK], MNL_TYPE_U32) ||
	    !valid(tb[WGDEVICE_A_PEERS], MNL_TYPE_NESTED))
		return -EINVAL;
	if (tb[WGDEVICE_A_IFNAME]) {
		if (mnl_attr_get_payload_len(tb[WGDEVICE_A_IFNAME]) >
		    sizeof(dev->name))
			return -EINVAL;
		strcpy(dev->name, mnl_attr_get_str(tb[WGDEVICE_A_IFNAME]));
	}
	if (tb[WGDEVICE_A_PRIVATE_KEY]) {
		memcpy(dev->private_key,
		       mnl_attr_get_payload(tb[WGDEVICE_A_PRIVATE_KEY]),
		       WG_KEY_LEN);
		dev->flags |= WG_DEV_F_PRIVATE_KEY;
	}
	if (tb[WGDEVICE_A_PUBLIC_KEY])
		memcpy(dev->public_key,
		       mnl_attr_get_payload(tb[WGDEVICE_A_PUBLIC_KEY]),
		       WG_KEY_LEN);
	if (tb[WGDEVICE_A_LISTEN_PORT]) {
		dev->listen_port = mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
		dev->flags |= WG_DEV_F_LISTEN_PORT;
	}
	if (!tb[WGDEVICE_A_PEERS])
		return 0;
	if (wg_nl_attrs_complete(mnl_attr_get_payload(tb[WGDEVICE_A_PEERS]),
				 mnl_attr_get_payload_len(tb[WGDEVICE_A_PEERS])))
		return -EINVAL;
	mnl_attr_for_each_nested(a, tb[WGDEVICE_A_PEERS]) {
		ret = parse_peer(a, dev);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the backend ---- */

static int wgk_create(const char *ifname)
{
	int ret = wg_link_create(ifname, "wireguard");

	if (ret && ret != -EEXIST)
		log_err("wireguard: create %s: %s", ifname, strerror(-ret));
	return ret;
}

static int wgk_destroy(const char *ifname)
{
	return wg_link_delete(ifname);
}

static int wgk_exists(const char *ifname)
{
	char kind[16];
	int ret;

	ret = wg_link_kind(ifname, kind);
	if (ret == -ENODEV)
		return 0;
	if (ret)
		return ret;
	return !strcmp(kind, "wireguard");
}

static int wgk_set(const char *ifname, const struct wg_device *dev)
{
	struct mnl_socket *nl = NULL;
	size_t pidx = 0, aidx = 0, buflen = MNL_SOCKET_BUFFER_SIZE;
	struct wg_device d;
	uint16_t family;
	char *buf = NULL;
	int ret;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	d = *dev;
	snprintf(d.name, sizeof(d.name), "%s", ifname);
	buf = malloc(buflen);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = wgk_open(&nl, &family);
	if (ret)
		goto out;
	do {
		ret = wgk_build_set(buf, buflen, family, wgk_seq(), &d, &pidx,
				    &aidx);
		if (ret < 0)
			goto out;
		ret = wg_nl_talk(nl, (struct nlmsghdr *)buf, NULL, NULL, NULL);
		if (ret)
			goto out;
	} while (pidx < d.n_peers);
out:
	if (ret)
		log_err("wireguard: set %s: %s", ifname, strerror(-ret));
	if (buf) {
		explicit_bzero(buf, buflen);
		free(buf);
	}
	explicit_bzero(&d, sizeof(d));
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

struct get_ctx {
	struct wg_device *dev;
	int err;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *ctx = data;
	int ret;

	ret = wgk_parse_device(nlh, ctx->dev);
	if (ret) {
		ctx->err = ret;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int wgk_get(const char *ifname, struct wg_device **out)
{
	struct get_ctx ctx = { 0 };
	struct mnl_socket *nl = NULL;
	uint16_t family;
	char buf[256];
	int ret, tries;

	*out = NULL;
	ret = wgk_open(&nl, &family);
	if (ret)
		return ret;
	/* A dump interrupted by a concurrent change starts over. */
	for (tries = 0; tries < 5; tries++) {
		ctx.err = 0;
		ctx.dev = calloc(1, sizeof(*ctx.dev));
		if (!ctx.dev) {
			ret = -ENOMEM;
			break;
		}
		ret = wgk_build_get(buf, sizeof(buf), family, wgk_seq(),
				    ifname);
		if (ret < 0)
			break;
		ret = wg_nl_talk(nl, (struct nlmsghdr *)buf, get_cb, &ctx,
				 &ctx.err);
		if (ret != -EINTR)
			break;
		wg_device_free(ctx.dev);
		ctx.dev = NULL;
	}
	mnl_socket_close(nl);
	if (ret) {
		wg_device_free(ctx.dev);
		return ret;
	}
	if (!ctx.dev->name[0])
		snprintf(ctx.dev->name, sizeof(ctx.dev->name), "%s", ifname);
	*out = ctx.dev;
	return 0;
}

const struct wg_backend wg_kernel_backend = {
	.name = "kernel",
	.create = wgk_create,
	.destroy = wgk_destroy,
	.exists = wgk_exists,
	.set = wgk_set,
	.get = wgk_get,
};
