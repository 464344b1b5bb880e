// SPDX-License-Identifier: GPL-2.0
/*
 * WireGuard: backend selection, the device object, and the small netlink
 * helpers (genl and rtnetlink through libmnl) the two backends share.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "wgnet/log.h"
#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

/* Big enough for a wireguard dump message (the kernel uses NLMSG_GOODSIZE). */
#define WG_NL_RECV_SIZE 32768

void wg_device_free(struct wg_device *dev)
{
	size_t i;

	if (!dev)
		return;
	for (i = 0; i < dev->n_peers; i++)
		free(dev->peers[i].allowed);
	if (dev->peers) {
		explicit_bzero(dev->peers, dev->n_peers * sizeof(*dev->peers));
		free(dev->peers);
	}
	explicit_bzero(dev, sizeof(*dev));
	free(dev);
}

/* Grow an array of n elements so that one more fits: capacity is implied
 * by n (0, then 4, 8, 16, ...), so no field is needed to track it. */
static int array_grow(void **arr, size_t n, size_t elem)
{
	size_t cap;
	void *p;

	if (n && (n < 4 || (n & (n - 1))))
		return 0;
	cap = n < 4 ? 4 : n * 2;
	if (cap > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*arr, cap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

struct wg_peer *wg_device_peer_add(struct wg_device *dev)
{
	struct wg_peer *peer;
	void *arr = dev->peers;
	int ret;

	ret = array_grow(&arr, dev->n_peers, sizeof(*dev->peers));
	if (ret) {
		errno = -ret;
		return NULL;
	}
	dev->peers = arr;
	peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

bool wg_allowed_valid(const struct ip_prefix *a)
{
	return (a->addr.family == AF_INET || a->addr.family == AF_INET6) &&
	       a->plen >= 0 && a->plen <= ip_max_plen(a->addr.family);
}

int wg_peer_allowed_add(struct wg_peer *peer, int family, const void *addr,
			uint8_t cidr)
{
	struct ip_prefix *a;
	void *arr = peer->allowed;
	int ret;

	if ((family != AF_INET || cidr > 32) &&
	    (family != AF_INET6 || cidr > 128))
		return -EINVAL;
	ret = array_grow(&arr, peer->n_allowed, sizeof(*peer->allowed));
	if (ret)
		return ret;
	peer->allowed = arr;
	a = &peer->allowed[peer->n_allowed++];
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		ip_from_v4(addr, &a->addr);
	} else {
		a->addr.family = AF_INET6;
		memcpy(a->addr.a, addr, 16);
	}
	a->plen = cidr;
	return 0;
}

struct wg_peer *wg_device_peer_find(struct wg_device *dev,
				    const uint8_t key[WG_KEY_LEN])
{
	size_t i;

	/* Linear, from the end: a continued peer is almost always the last. */
	for (i = dev->n_peers; i > 0; i--)
		if (!memcmp(dev->peers[i - 1].public_key, key, WG_KEY_LEN))
			return &dev->peers[i - 1];
	return NULL;
}

const struct wg_backend *wg_backend_open(const char *which)
{
	if (!which) {
		errno = EINVAL;
		return NULL;
	}
	if (!strcmp(which, "kernel"))
		return &wg_kernel_backend;
	if (!strcmp(which, "userspace"))
		return &wg_userspace_backend;
	if (!strcmp(which, "auto")) {
		if (wgk_available()) {
			log_debug("wireguard: kernel module present");
			return &wg_kernel_backend;
		}
		log_debug("wireguard: no kernel module, using wireguard-go");
		return &wg_userspace_backend;
	}
	errno = EINVAL;
	return NULL;
}

int wg_ifname_valid(const char *ifname)
{
	size_t i, n;

	if (!ifname)
		return -EINVAL;
	n = strnlen(ifname, 16);
	if (n == 0 || n >= 16 || !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (ifname[i] == '/' || ifname[i] == ':' ||
		    isspace((unsigned char)ifname[i]) ||
		    !isprint((unsigned char)ifname[i]))
			return -EINVAL;
	return 0;
}

/* ---- netlink ---- */

struct mnl_socket *wg_nl_open(int proto)
{
	struct mnl_socket *nl;
	int one = 1, err;

	nl = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (!nl)
		return NULL;
	/* Both are best effort: older kernels lack them, and we cope. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	return nl;
}

int wg_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh,
	       int (*cb)(const struct nlmsghdr *nlh, void *data), void *data,
	       int *cb_err)
{
	uint32_t portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	char *buf = NULL;
	ssize_t n;
	int ret;

	buf = malloc(WG_NL_RECV_SIZE);
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		n = mnl_socket_recvfrom(nl, buf, WG_NL_RECV_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, n, seq, portid, cb, data);
	} while (ret == MNL_CB_OK);
	if (ret == MNL_CB_ERROR) {
		if (cb_err && *cb_err)
			ret = *cb_err;
		else
			ret = errno ? -errno : -EIO;
	} else {
		ret = 0;
	}
out:
	explicit_bzero(buf, WG_NL_RECV_SIZE);
	free(buf);
	return ret;
}

int wg_nl_attrs_complete(const void *start, size_t len)
{
	const struct nlattr *attr = start;
	int left = (int)len;

	if (len > INT32_MAX)
		return -EINVAL;
	while (left > 0) {
		if (!mnl_attr_ok(attr, left))
			return -EINVAL;
		if ((int)MNL_ALIGN(attr->nla_len) >= left)
			return 0; /* the last one, its padding may be cut */
		left -= MNL_ALIGN(attr->nla_len);
		attr = mnl_attr_next(attr);
	}
	return 0;
}

static uint32_t wg_nl_seq(void)
{
	static uint32_t seq;
	uint32_t v = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);

	/* Start from the clock so replies to an earlier run never match. */
	return v + (uint32_t)time(NULL);
}

static struct nlmsghdr *rtnl_link_msg(char *buf, uint16_t type, uint16_t flags,
				      const char *ifname)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = wg_nl_seq();
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nlh;
}

static int rtnl_request(struct nlmsghdr *nlh,
			int (*cb)(const struct nlmsghdr *nlh, void *data),
			void *data, int *cb_err)
{
	struct mnl_socket *nl;
	int ret;

	nl = wg_nl_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	ret = wg_nl_talk(nl, nlh, cb, data, cb_err);
	mnl_socket_close(nl);
	return ret;
}

int wg_link_create(const char *ifname, const char *kind)
{
	char buf[512] = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *li;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	nlh = rtnl_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
			    ifname);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	return rtnl_request(nlh, NULL, NULL, NULL);
}

int wg_link_delete(const char *ifname)
{
	char buf[512] = { 0 };

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	return rtnl_request(rtnl_link_msg(buf, RTM_DELLINK, 0, ifname), NULL,
			    NULL, NULL);
}

struct link_kind_ctx {
	char *kind;
	bool found;
	int err;
};

static int attr_cb_tb(const struct nlattr *attr, void *data, int max)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, max) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb_tb(attr, data, IFLA_MAX);
}

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	return attr_cb_tb(attr, data, IFLA_INFO_MAX);
}

static int link_kind_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
	const struct nlattr *li[IFLA_INFO_MAX + 1] = { NULL };
	struct link_kind_ctx *ctx = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	ctx->found = true;
	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, tb) < 0)
		goto bad;
	if (!tb[IFLA_LINKINFO])
		return MNL_CB_OK;
	if (mnl_attr_validate(tb[IFLA_LINKINFO], MNL_TYPE_NESTED) < 0 ||
	    mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, li) < 0)
		goto bad;
	if (li[IFLA_INFO_KIND]) {
		if (mnl_attr_validate(li[IFLA_INFO_KIND], MNL_TYPE_STRING) < 0)
			goto bad;
		snprintf(ctx->kind, 16, "%.*s",
			 (int)mnl_attr_get_payload_len(li[IFLA_INFO_KIND]),
			 mnl_attr_get_str(li[IFLA_INFO_KIND]));
	}
	return MNL_CB_OK;
bad:
	ctx->err = -EINVAL;
	return MNL_CB_ERROR;
}

int wg_link_kind(const char *ifname, char kind[16])
{
	struct link_kind_ctx ctx = { .kind = kind };
	char buf[512] = { 0 };
	int ret;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	kind[0] = '\0';
	ret = rtnl_request(rtnl_link_msg(buf, RTM_GETLINK, 0, ifname),
			   link_kind_cb, &ctx, &ctx.err);
	if (!ret && !ctx.found)
		ret = -ENODEV;
	return ret;
}
