/* SPDX-License-Identifier: GPL-2.0 */
/* rtnetlink (libmnl): links, addresses, routes, in any network namespace. */
#ifndef WGNET_LINK_H
#define WGNET_LINK_H

#include <stdint.h>
#include "wgnet/ipnet.h"

struct rtnl;

/* Open an rtnetlink socket in the namespace netns_fd (-1: the current one).
 * NULL with errno on failure. */
struct rtnl *rtnl_open(int netns_fd);
void rtnl_close(struct rtnl *nl);

/* Create a veth pair: name here, peer_name in peer_netns_fd (-1 = here),
 * both with mtu (0 = default). -EEXIST if name exists. */
int link_veth_create(struct rtnl *nl, const char *name, const char *peer_name,
		     int peer_netns_fd, unsigned int mtu);
/* ifindex of name, or -ENODEV. */
int link_index(struct rtnl *nl, const char *name);
/* Name of ifindex into buf[16], or -ENODEV. */
int link_name(struct rtnl *nl, int ifindex, char *buf);
int link_get_mac(struct rtnl *nl, int ifindex, uint8_t mac[6]);
int link_get_mtu(struct rtnl *nl, int ifindex, unsigned int *mtu);
/* Peer ifindex of a veth (IFLA_LINK), as seen from the peer's namespace. */
int link_get_peer_index(struct rtnl *nl, int ifindex);
/* Change name (NULL: keep), mtu (0: keep), mac (NULL: keep), up (1 up,
 * 0 down, -1 keep). */
int link_set(struct rtnl *nl, int ifindex, const char *name, unsigned int mtu,
	     const uint8_t *mac, int up);
/* Transmit queue length (for a TUN: the size of its packet ring). */
int link_set_txqlen(struct rtnl *nl, int ifindex, unsigned int qlen);
int link_del(struct rtnl *nl, int ifindex);
/* Call cb for each link: ifindex, name, kind ("veth", "wireguard", "" …). */
int link_foreach(struct rtnl *nl,
		 int (*cb)(int ifindex, const char *name, const char *kind,
			   void *data),
		 void *data);

/* Address add (replace) / delete. IPv6 gets IFA_F_NODAD. */
int addr_add(struct rtnl *nl, int ifindex, const struct ip_addr *ip, int plen);
int addr_del(struct rtnl *nl, int ifindex, const struct ip_addr *ip, int plen);
/* The address with its prefix length but no prefix route (noprefixroute). */
int addr_add_noprefixroute(struct rtnl *nl, int ifindex,
			   const struct ip_addr *ip, int plen);
/* First IPv4 address and prefix length on ifindex, or -ENOENT. */
int addr_get_v4(struct rtnl *nl, int ifindex, struct ip_prefix *out);
/* Every address (IPv4 and IPv6, with prefix length) on ifindex into
 * out[0..max): their number, -ENOSPC if there are more, or -errno. */
int addr_list(struct rtnl *nl, int ifindex, struct ip_prefix *out, size_t max);

/* Route replace / delete in the main table: dst via gw (NULL: on-link) dev
 * ifindex. A zero-length dst is the default route. */
int route_replace(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
		  const struct ip_addr *gw);
/* dst via gw onlink dev ifindex: gw need not be inside an on-link prefix. */
int route_replace_onlink(struct rtnl *nl, int ifindex,
			 const struct ip_prefix *dst, const struct ip_addr *gw);
int route_del(struct rtnl *nl, int ifindex, const struct ip_prefix *dst,
	      const struct ip_addr *gw);
/* The interface of the default IPv4 route, or -ENOENT. */
int route_default_ifindex(struct rtnl *nl);

/* Permanent neighbour entry (replace) / delete. */
int neigh_replace(struct rtnl *nl, int ifindex, const struct ip_addr *ip,
		  const uint8_t mac[6]);

/* Namespaces (netns.c). */
/* Open a netns by path (/run/netns/NAME, /proc/PID/ns/net) or name. */
int netns_open(const char *path_or_name);
/* Run fn(data) inside netns_fd on the calling thread, then switch back.
 * Returns fn's result or -errno. */
int netns_run(int netns_fd, int (*fn)(void *data), void *data);
/* A socket created inside netns_fd (stays bound to that namespace). */
int netns_socket(int netns_fd, int domain, int type, int protocol);
/* Write a sysctl under /proc/sys (path relative, e.g.
 * "net/ipv4/ip_forward") in the current namespace. */
int sysctl_write(const char *path, const char *value);

#endif
