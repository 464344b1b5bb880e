// SPDX-License-Identifier: GPL-2.0
/* rtnetlink through libmnl: links, veth pairs, addresses, routes, neighbours.
 * One socket per struct rtnl, created inside the namespace it manages. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "wgnet/link.h"
#include "wgnet/link_internal.h"
#include "wgnet/log.h"

#define RTNL_RXBUF 32768 /* a dump skb is at most 32 KiB */
#define RTNL_TXBUF 4096
#define DUMP_RETRIES 5

struct rtnl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char rx[RTNL_RXBUF];
};

/* ---------------------------------------------------------------- helpers */

static bool ip_is_v4(const struct ip_addr *ip)
{
	return ip->family == AF_INET;
}

static int ip_valid(const struct ip_addr *ip, int plen)
{
	if (!ip || (ip->family != AF_INET && ip->family != AF_INET6))
		return -EINVAL;
	if (plen < 0 || plen > (ip_is_v4(ip) ? 32 : 128))
		return -EINVAL;
	return 0;
}

/* Header + extra header, with a size check the mnl put helpers lack. */
static struct nlmsghdr *msg_start(char *buf, size_t len, uint16_t type,
				  uint16_t flags, uint32_t seq, void **extra,
				  size_t extra_len)
{
	struct nlmsghdr *nlh;

	if (len < MNL_NLMSG_HDRLEN + MNL_ALIGN(extra_len))
		return NULL;
	/* Zero it all: the attribute puts leave alignment padding as is. */
	memset(buf, 0, len);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	*extra = mnl_nlmsg_put_extra_header(nlh, extra_len);
	return nlh;
}

static int ack_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NLMSGERR_ATTR_MAX) < 0)
		return MNL_CB_OK;
	if (type == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	if (type == NLMSGERR_ATTR_OFFS &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

int link_nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*err);

	(void)data;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	/* Without NLM_F_CAPPED the original request follows the header. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(err->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    MNL_NLMSG_HDRLEN + off <= nlh->nlmsg_len) {
		mnl_attr_parse(nlh, off, ack_attr_cb, tb);
		if (tb[NLMSGERR_ATTR_MSG])
			log_debug("netlink: %s (%s)",
				  mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]),
				  strerror(-err->error));
	}
	errno = err->error < 0 ? -err->error : EPROTO;
	return MNL_CB_ERROR;
}

int link_nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	const int *err = mnl_nlmsg_get_payload(nlh);

	(void)data;
	/* A dump that failed half way says so in NLMSG_DONE. */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*err) && *err < 0) {
		errno = -*err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = noop_cb,
	[NLMSG_ERROR] = link_nl_error_cb,
	[NLMSG_DONE] = link_nl_done_cb,
};

/*
 * Send one request and read until its ack (or NLMSG_DONE for a dump),
 * handing data messages to cb. Returns 0 or -errno.
 */
static int rtnl_talk(struct rtnl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		     void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	int ret = MNL_CB_OK;
	ssize_t n;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->rx, sizeof(nl->rx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run2(nl->rx, n, seq, nl->portid, cb, data, ctl_cbs,
				  MNL_ARRAY_SIZE(ctl_cbs));
		/* Left over from an earlier request cut short (a dump whose
		 * callback failed): not ours, skip it. */
		if (ret == MNL_CB_ERROR && errno == ESRCH &&
		    ((struct nlmsghdr *)nl->rx)->nlmsg_seq != seq) {
			log_debug("rtnl: skipping stale reply");
			ret = MNL_CB_OK;
		}
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

/* A request with an ack and no reply data. */
static int rtnl_do(struct rtnl *nl, char *buf, int len)
{
	if (len < 0)
		return len;
	return rtnl_talk(nl, (struct nlmsghdr *)buf, NULL, NULL);
}

/* A dump (fresh seq each attempt); retried while the kernel says EINTR
 * (NLM_F_DUMP_INTR: the table changed under it). reset() clears the
 * caller's partial results before a retry. */
static int rtnl_dump(struct rtnl *nl, uint16_t type, int family, mnl_cb_t cb,
		     void *data, void (*reset)(void *data))
{
	char buf[MNL_NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	int ret = -EINTR, i;

	for (i = 0; i < DUMP_RETRIES && ret == -EINTR; i++) {
		if (reset)
			reset(data);
		nlh = msg_start(buf, sizeof(buf), type, NLM_F_DUMP, ++nl->seq,
				(void **)&g, sizeof(*g));
		g->rtgen_family = family;
		ret = rtnl_talk(nl, nlh, cb, data);
	}
	return ret;
}

static uint32_t next_seq(struct rtnl *nl)
{
	return ++nl->seq;
}

/* ----------------------------------------------------------------- socket */

static struct rtnl *rtnl_open_here(void)
{
	struct rtnl *nl = calloc(1, sizeof(*nl));
	int one = 1;

	if (!nl)
		return NULL;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		goto err_free;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	/* Both are best effort: older kernels just give plain errors. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return nl;

err_close:
	one = errno;
	mnl_socket_close(nl->sock);
	errno = one;
err_free:
	one = errno;
	free(nl);
	errno = one;
	return NULL;
}

struct rtnl *rtnl_open(int netns_fd)
{
	struct rtnl *nl;
	int self, err;

	if (netns_fd < 0)
		return rtnl_open_here();
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return NULL;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		err = errno;
		log_err("rtnl_open: setns: %s", strerror(err));
		close(self);
		errno = err;
		return NULL;
	}
	nl = rtnl_open_here();
	err = errno;
	if (setns(self, CLONE_NEWNET) < 0) {
		err = errno;
		log_err("rtnl_open: setns back: %s", strerror(err));
		rtnl_close(nl);
		nl = NULL;
	}
	close(self);
	errno = err;
	return nl;
}

void rtnl_close(struct rtnl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

/* --------------------------------------------------------------- builders */

int link_build_veth(char *buf, size_t len, uint32_t seq, const char *name,
		    const char *peer, int peer_netns_fd, unsigned int mtu)
{
	struct nlattr *linkinfo, *data, *peer_nest;
	struct ifinfomsg *ifi, *pifi;
	struct nlmsghdr *nlh;

	if (!name || !peer || strlen(name) >= IFNAMSIZ || !*name ||
	    strlen(peer) >= IFNAMSIZ || !*peer)
		return -EINVAL;
	nlh = msg_start(buf, len, RTM_NEWLINK,
			NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq,
			(void **)&ifi, sizeof(*ifi));
	if (!nlh)
		return -EMSGSIZE;
	ifi->ifi_family = AF_UNSPEC;
	if (!mnl_attr_put_strz_check(nlh, len, IFLA_IFNAME, name))
		return -EMSGSIZE;
	if (mtu && !mnl_attr_put_u32_check(nlh, len, IFLA_MTU, mtu))
		return -EMSGSIZE;
	linkinfo = mnl_attr_nest_start_check(nlh, len, IFLA_LINKINFO);
	if (!linkinfo ||
	    !mnl_attr_put_strz_check(nlh, len, IFLA_INFO_KIND, "veth"))
		return -EMSGSIZE;
	data = mnl_attr_nest_start_check(nlh, len, IFLA_INFO_DATA);
	if (!data)
		return -EMSGSIZE;
	peer_nest = mnl_attr_nest_start_check(nlh, len, VETH_INFO_PEER);
	if (!peer_nest || nlh->nlmsg_len + MNL_ALIGN(sizeof(*pifi)) > len)
		return -EMSGSIZE;
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	if (!mnl_attr_put_strz_check(nlh, len, IFLA_IFNAME, peer))
		return -EMSGSIZE;
	if (peer_netns_fd >= 0 &&
	    !mnl_attr_put_u32_check(nlh, len, IFLA_NET_NS_FD, peer_netns_fd))
		return -EMSGSIZE;
	if (mtu && !mnl_attr_put_u32_check(nlh, len, IFLA_MTU, mtu))
		return -EMSGSIZE;
	mnl_attr_nest_end(nlh, peer_nest);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nlh->nlmsg_len;
}

int link_build_addr(char *buf, size_t len, uint32_t seq, int cmd, int ifindex,
		    const struct ip_addr *ip, int plen)
{
	return link_build_addr_flags(buf, len, seq, cmd, ifindex, ip, plen, 0);
}

int link_build_addr_flags(char *buf, size_t len, uint32_t seq, int cmd,
			  int ifindex, const struct ip_addr *ip, int plen,
			  uint32_t ifa_flags)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	uint16_t flags = NLM_F_ACK;

	if (ip_valid(ip, plen) || ifindex <= 0 ||
	    (cmd != RTM_NEWADDR && cmd != RTM_DELADDR))
		return -EINVAL;
	if (cmd == RTM_NEWADDR)
		flags |= NLM_F_CREATE | NLM_F_REPLACE;
	nlh = msg_start(buf, len, cmd, flags, seq, (void **)&ifa, sizeof(*ifa));
	if (!nlh)
		return -EMSGSIZE;
	ifa->ifa_family = ip->family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	if (ip_is_v4(ip)) {
		if (!mnl_attr_put_check(nlh, len, IFA_LOCAL, 4, ip_bytes(ip)))
			return -EMSGSIZE;
	} else {
		ifa_flags |= IFA_F_NODAD;
		ifa->ifa_flags = IFA_F_NODAD;
	}
	if (ifa_flags && !mnl_attr_put_u32_check(nlh, len, IFA_FLAGS, ifa_flags))
		return -EMSGSIZE;
	if (!mnl_attr_put_check(nlh, len, IFA_ADDRESS, ip_len(ip->family),
				ip_bytes(ip)))
		return -EMSGSIZE;
	return nlh->nlmsg_len;
}

int link_build_route(char *buf, size_t len, uint32_t seq, int cmd, int ifindex,
		     const struct ip_prefix *dst, const struct ip_addr *gw)
{
	return link_build_route_flags(buf, len, seq, cmd, ifindex, dst, gw, 0);
}

int link_build_route_flags(char *buf, size_t len, uint32_t seq, int cmd,
			   int ifindex, const struct ip_prefix *dst,
			   const struct ip_addr *gw, uint32_t rtm_flags)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	uint16_t flags = NLM_F_ACK;

	if (!dst || ip_valid(&dst->addr, dst->plen) ||
	    (cmd != RTM_NEWROUTE && cmd != RTM_DELROUTE) ||
	    (gw && gw->family != dst->addr.family) || (!gw && ifindex <= 0))
		return -EINVAL;
	if (cmd == RTM_NEWROUTE)
		flags |= NLM_F_CREATE | NLM_F_REPLACE;
	nlh = msg_start(buf, len, cmd, flags, seq, (void **)&rtm, sizeof(*rtm));
	if (!nlh)
		return -EMSGSIZE;
	rtm->rtm_family = dst->addr.family;
	rtm->rtm_dst_len = dst->plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	if (cmd == RTM_NEWROUTE) {
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_flags = rtm_flags;
	} else {
		/* Match any protocol/scope/type, as `ip route del` does. */
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	if (dst->plen &&
	    !mnl_attr_put_check(nlh, len, RTA_DST, ip_len(dst->addr.family),
				ip_bytes(&dst->addr)))
		return -EMSGSIZE;
	if (gw && !mnl_attr_put_check(nlh, len, RTA_GATEWAY, ip_len(gw->family),
				      ip_bytes(gw)))
		return -EMSGSIZE;
	if (ifindex > 0 && !mnl_attr_put_u32_check(nlh, len, RTA_OIF, ifindex))
		return -EMSGSIZE;
	return nlh->nlmsg_len;
}

/* ------------------------------------------------------------------ links */

int link_veth_create(struct rtnl *nl, const char *name, const char *peer_name,
		     int peer_netns_fd, unsigned int mtu)
{
	char buf[RTNL_TXBUF];
	int ret;

	ret = rtnl_do(nl, buf,
		      link_build_veth(buf, sizeof(buf), next_seq(nl), name,
				      peer_name, peer_netns_fd, mtu));
	if (ret)
		log_debug("veth %s/%s: %s", name, peer_name, strerror(-ret));
	return ret;
}

struct link_info {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
	unsigned int mtu;
	int link; /* IFLA_LINK, 0 if absent */
};

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_OK;
		break;
	case IFLA_MTU:
	case IFLA_LINK:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
			return MNL_CB_OK;
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
			return MNL_CB_OK;
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_INFO_MAX) < 0)
		return MNL_CB_OK;
	if (type == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static void link_parse(const struct nlmsghdr *nlh, struct link_info *li)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
	const struct nlattr *ti[IFLA_INFO_MAX + 1] = { NULL };
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	size_t n;

	memset(li, 0, sizeof(*li));
	li->ifindex = ifi->ifi_index;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb);
	if (tb[IFLA_IFNAME])
		strncpy(li->name, mnl_attr_get_str(tb[IFLA_IFNAME]),
			sizeof(li->name) - 1);
	if (tb[IFLA_MTU])
		li->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_LINK])
		li->link = mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_ADDRESS] &&
	    mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
		memcpy(li->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
		li->has_mac = true;
	}
	if (tb[IFLA_LINKINFO]) {
		mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, ti);
		if (ti[IFLA_INFO_KIND]) {
			/* IFLA_INFO_KIND may or may not carry a NUL. */
			n = mnl_attr_get_payload_len(ti[IFLA_INFO_KIND]);
			if (n >= sizeof(li->kind))
				n = sizeof(li->kind) - 1;
			memcpy(li->kind,
			       mnl_attr_get_payload(ti[IFLA_INFO_KIND]), n);
			li->kind[n] = '\0';
		}
	}
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	link_parse(nlh, data);
	return MNL_CB_OK;
}

/* RTM_GETLINK by index (ifindex > 0) or by name. ENODEV if absent. */
static int link_get(struct rtnl *nl, int ifindex, const char *name,
		    struct link_info *li)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	if (ifindex <= 0 && (!name || !*name || strlen(name) >= IFNAMSIZ))
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), RTM_GETLINK, NLM_F_ACK, next_seq(nl),
			(void **)&ifi, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex > 0 ? ifindex : 0;
	if (ifindex <= 0 &&
	    !mnl_attr_put_strz_check(nlh, sizeof(buf), IFLA_IFNAME, name))
		return -EMSGSIZE;
	/* Skip stats: we only want names, mtu, kind. */
	if (!mnl_attr_put_u32_check(nlh, sizeof(buf), IFLA_EXT_MASK,
				    RTEXT_FILTER_SKIP_STATS))
		return -EMSGSIZE;
	memset(li, 0, sizeof(*li));
	ret = rtnl_talk(nl, nlh, link_get_cb, li);
	if (ret)
		return ret;
	return li->ifindex > 0 ? 0 : -ENODEV;
}

int link_index(struct rtnl *nl, const char *name)
{
	struct link_info li;
	int ret = link_get(nl, 0, name, &li);

	return ret ? ret : li.ifindex;
}

int link_name(struct rtnl *nl, int ifindex, char *buf)
{
	struct link_info li;
	int ret;

	if (ifindex <= 0)
		return -ENODEV;
	ret = link_get(nl, ifindex, NULL, &li);
	if (ret)
		return ret;
	memcpy(buf, li.name, IFNAMSIZ);
	return 0;
}

int link_get_mac(struct rtnl *nl, int ifindex, uint8_t mac[6])
{
	struct link_info li;
	int ret;

	if (ifindex <= 0)
		return -ENODEV;
	ret = link_get(nl, ifindex, NULL, &li);
	if (ret)
		return ret;
	if (!li.has_mac)
		return -ENOENT;
	memcpy(mac, li.mac, 6);
	return 0;
}

int link_get_mtu(struct rtnl *nl, int ifindex, unsigned int *mtu)
{
	struct link_info li;
	int ret;

	if (ifindex <= 0)
		return -ENODEV;
	ret = link_get(nl, ifindex, NULL, &li);
	if (ret)
		return ret;
	*mtu = li.mtu;
	return 0;
}

int link_get_peer_index(struct rtnl *nl, int ifindex)
{
	struct link_info li;
	int ret;

	if (ifindex <= 0)
		return -ENODEV;
	ret = link_get(nl, ifindex, NULL, &li);
	if (ret)
		return ret;
	return li.link > 0 ? li.link : -ENOENT;
}

int link_set(struct rtnl *nl, int ifindex, const char *name, unsigned int mtu,
	     const uint8_t *mac, int up)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	if (ifindex <= 0 || (name && (!*name || strlen(name) >= IFNAMSIZ)))
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), RTM_NEWLINK, NLM_F_ACK, next_seq(nl),
			(void **)&ifi, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
	}
	if (name &&
	    !mnl_attr_put_strz_check(nlh, sizeof(buf), IFLA_IFNAME, name))
		return -EMSGSIZE;
	if (mtu && !mnl_attr_put_u32_check(nlh, sizeof(buf), IFLA_MTU, mtu))
		return -EMSGSIZE;
	if (mac && !mnl_attr_put_check(nlh, sizeof(buf), IFLA_ADDRESS, 6, mac))
		return -EMSGSIZE;
	ret = rtnl_talk(nl, nlh, NULL, NULL);
	if (ret)
		log_debug("link_set %d: %s", ifindex, strerror(-ret));
	return ret;
}

int link_set_txqlen(struct rtnl *nl, int ifindex, unsigned int qlen)
{
	char buf[128];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0 || !qlen)
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), RTM_NEWLINK, NLM_F_ACK, next_seq(nl),
			(void **)&ifi, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (!mnl_attr_put_u32_check(nlh, sizeof(buf), IFLA_TXQLEN, qlen))
		return -EMSGSIZE;
	return rtnl_talk(nl, nlh, NULL, NULL);
}

int link_del(struct rtnl *nl, int ifindex)
{
	char buf[128];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -ENODEV;
	nlh = msg_start(buf, sizeof(buf), RTM_DELLINK, NLM_F_ACK, next_seq(nl),
			(void **)&ifi, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return rtnl_talk(nl, nlh, NULL, NULL);
}

struct link_list {
	struct link_info *v;
	size_t n, cap;
	int err;
};

static void link_list_reset(void *data)
{
	((struct link_list *)data)->n = 0;
}

static int link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_list *l = data;
	struct link_info *nv;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	if (l->n == l->cap) {
		nv = reallocarray(l->v, l->cap ? l->cap * 2 : 16, sizeof(*nv));
		if (!nv) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		l->v = nv;
		l->cap = l->cap ? l->cap * 2 : 16;
	}
	link_parse(nlh, &l->v[l->n++]);
	return MNL_CB_OK;
}

int link_foreach(struct rtnl *nl,
		 int (*cb)(int ifindex, const char *name, const char *kind,
			   void *data),
		 void *data)
{
	struct link_list l = { NULL, 0, 0, 0 };
	size_t i;
	int ret;

	/* Collect first: cb may use nl itself. */
	ret = rtnl_dump(nl, RTM_GETLINK, AF_UNSPEC, link_dump_cb, &l,
			link_list_reset);
	if (ret)
		goto out;
	for (i = 0; i < l.n; i++) {
		ret = cb(l.v[i].ifindex, l.v[i].name, l.v[i].kind, data);
		if (ret)
			break;
	}
out:
	free(l.v);
	return ret;
}

/* -------------------------------------------------------------- addresses */

int addr_add(struct rtnl *nl, int ifindex, const struct ip_addr *ip, int plen)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_addr(buf, sizeof(buf), next_seq(nl),
				       RTM_NEWADDR, ifindex, ip, plen));
}

int addr_add_noprefixroute(struct rtnl *nl, int ifindex,
			   const struct ip_addr *ip, int plen)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_addr_flags(buf, sizeof(buf), next_seq(nl),
					     RTM_NEWADDR, ifindex, ip, plen,
					     IFA_F_NOPREFIXROUTE));
}

int addr_del(struct rtnl *nl, int ifindex, const struct ip_addr *ip, int plen)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_addr(buf, sizeof(buf), next_seq(nl),
				       RTM_DELADDR, ifindex, ip, plen));
}

struct addr_find {
	int ifindex;
	bool found;
	struct ip_prefix *out;
};

static void addr_find_reset(void *data)
{
	((struct addr_find *)data)->found = false;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == IFA_LOCAL || type == IFA_ADDRESS) &&
	    mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_find *f = data;
	const struct nlattr *a;

	if (f->found || nlh->nlmsg_type != RTM_NEWADDR ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != f->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != 4)
		return MNL_CB_OK;
	ip_from_v4(mnl_attr_get_payload(a), &f->out->addr);
	f->out->plen = ifa->ifa_prefixlen;
	f->found = true;
	return MNL_CB_OK;
}

int addr_get_v4(struct rtnl *nl, int ifindex, struct ip_prefix *out)
{
	struct addr_find f = { ifindex, false, out };
	int ret;

	ret = rtnl_dump(nl, RTM_GETADDR, AF_INET, addr_dump_cb, &f,
			addr_find_reset);
	if (ret)
		return ret;
	return f.found ? 0 : -ENOENT;
}

struct addr_all {
	int ifindex;
	struct ip_prefix *out;
	size_t max, n;
};

static void addr_all_reset(void *data)
{
	((struct addr_all *)data)->n = 0;
}

static int addr_all_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_all *f = data;
	const struct nlattr *a;
	struct ip_prefix *p;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)) ||
	    (int)ifa->ifa_index != f->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a)
		return MNL_CB_OK;
	if (f->n >= f->max) {
		f->n++; /* counted: the caller sees it did not fit */
		return MNL_CB_OK;
	}
	p = &f->out[f->n];
	memset(p, 0, sizeof(*p));
	if (ifa->ifa_family == AF_INET && mnl_attr_get_payload_len(a) == 4) {
		ip_from_v4(mnl_attr_get_payload(a), &p->addr);
	} else if (ifa->ifa_family == AF_INET6 &&
		   mnl_attr_get_payload_len(a) == 16) {
		p->addr.family = AF_INET6;
		memcpy(p->addr.a, mnl_attr_get_payload(a), 16);
	} else {
		return MNL_CB_OK;
	}
	p->plen = ifa->ifa_prefixlen;
	f->n++;
	return MNL_CB_OK;
}

int addr_list(struct rtnl *nl, int ifindex, struct ip_prefix *out, size_t max)
{
	struct addr_all f = { ifindex, out, max, 0 };
	int ret;

	ret = rtnl_dump(nl, RTM_GETADDR, AF_UNSPEC, addr_all_cb, &f,
			addr_all_reset);
	if (ret)
		return ret;
	return f.n > max ? -ENOSPC : (int)f.n;
}

/* ----------------------------------------------------------------- routes */

int route_replace(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
		  const struct ip_addr *gw)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_route(buf, sizeof(buf), next_seq(nl),
					RTM_NEWROUTE, ifindex, dst, gw));
}

int route_replace_onlink(struct rtnl *nl, int ifindex,
			 const struct ip_prefix *dst, const struct ip_addr *gw)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_route_flags(buf, sizeof(buf), next_seq(nl),
					      RTM_NEWROUTE, ifindex, dst, gw,
					      RTNH_F_ONLINK));
}

int route_del(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
	      const struct ip_addr *gw)
{
	char buf[256];

	return rtnl_do(nl, buf,
		       link_build_route(buf, sizeof(buf), next_seq(nl),
					RTM_DELROUTE, ifindex, dst, gw));
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == RTA_OIF || type == RTA_TABLE) &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static void int_reset(void *data)
{
	*(int *)data = -ENOENT;
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	int *oif = data;
	uint32_t table;

	if (*oif > 0 || nlh->nlmsg_type != RTM_NEWROUTE ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return MNL_CB_OK;
	if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) :
				rtm->rtm_table;
	if (table != RT_TABLE_MAIN || !tb[RTA_OIF])
		return MNL_CB_OK;
	*oif = mnl_attr_get_u32(tb[RTA_OIF]);
	return MNL_CB_OK;
}

int route_default_ifindex(struct rtnl *nl)
{
	int oif = -ENOENT;
	int ret;

	ret = rtnl_dump(nl, RTM_GETROUTE, AF_INET, route_dump_cb, &oif,
			int_reset);
	return ret ? ret : oif;
}

/* ------------------------------------------------------------- neighbours */

int neigh_replace(struct rtnl *nl, int ifindex, const struct ip_addr *ip,
		  const uint8_t mac[6])
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct ndmsg *nd;

	if (ifindex <= 0 || !mac || ip_valid(ip, 0))
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), RTM_NEWNEIGH,
			NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, next_seq(nl),
			(void **)&nd, sizeof(*nd));
	nd->ndm_family = ip->family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_PERMANENT;
	if (!mnl_attr_put_check(nlh, sizeof(buf), NDA_DST, ip_len(ip->family),
				ip_bytes(ip)) ||
	    !mnl_attr_put_check(nlh, sizeof(buf), NDA_LLADDR, 6, mac))
		return -EMSGSIZE;
	return rtnl_talk(nl, nlh, NULL, NULL);
}
