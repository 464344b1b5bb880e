/* SPDX-License-Identifier: GPL-2.0 */
/* Internals of link.c / nft.c exposed for unit tests: pure netlink message
 * builders (no socket), and the shared NLMSG_ERROR handler. */
#ifndef WGNET_LINK_INTERNAL_H
#define WGNET_LINK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include "wgnet/ipnet.h"

/* Each builder writes one request (NLM_F_REQUEST | NLM_F_ACK) into buf and
 * returns its length in bytes, or -EINVAL / -EMSGSIZE. */

/* RTM_NEWLINK, kind veth, peer in peer_netns_fd (-1: same), mtu 0 = default. */
int link_build_veth(char *buf, size_t len, uint32_t seq, const char *name,
		    const char *peer, int peer_netns_fd, unsigned int mtu);
/* RTM_NEWADDR (replace) or RTM_DELADDR. */
int link_build_addr(char *buf, size_t len, uint32_t seq, int cmd, int ifindex,
		    const struct ip_addr *ip, int plen);
/* The same with IFA_FLAGS (e.g. IFA_F_NOPREFIXROUTE). */
int link_build_addr_flags(char *buf, size_t len, uint32_t seq, int cmd,
			  int ifindex, const struct ip_addr *ip, int plen,
			  uint32_t ifa_flags);
/* RTM_NEWROUTE (replace) or RTM_DELROUTE in the main table. */
int link_build_route(char *buf, size_t len, uint32_t seq, int cmd, int ifindex,
		     const struct ip_prefix *dst, const struct ip_addr *gw);
/* The same with rtm_flags (e.g. RTNH_F_ONLINK) on RTM_NEWROUTE. */
int link_build_route_flags(char *buf, size_t len, uint32_t seq, int cmd,
			   int ifindex, const struct ip_prefix *dst,
			   const struct ip_addr *gw, uint32_t rtm_flags);

/* mnl callback for NLMSG_ERROR: MNL_CB_STOP on an ack, else MNL_CB_ERROR
 * with errno set; the extended-ack message (if any) is logged at debug. */
int link_nl_error_cb(const struct nlmsghdr *nlh, void *data);
/* mnl callback for NLMSG_DONE: MNL_CB_STOP, or MNL_CB_ERROR with errno if
 * the dump reported an error. */
int link_nl_done_cb(const struct nlmsghdr *nlh, void *data);

#endif
