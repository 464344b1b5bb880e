/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the WireGuard backends (src/wg*.c), exposed for the unit tests
 * and the fuzzers: pure message builders and parsers that need no kernel and
 * no wireguard-go, plus the small netlink helpers both backends share.
 */
#ifndef WGNET_WG_INTERNAL_H
#define WGNET_WG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "wgnet/wg.h"

struct mnl_socket;

/* ---- wg.c: device helpers ---- */

/* Append a zeroed peer to dev; NULL with errno on failure. */
struct wg_peer *wg_device_peer_add(struct wg_device *dev);
/* Append one allowed IP to peer; 0 or -errno (-EINVAL for a bad cidr). */
int wg_peer_allowed_add(struct wg_peer *peer, int family, const void *addr,
			uint8_t cidr);
/* The peer of dev with this public key, or NULL. */
struct wg_peer *wg_device_peer_find(struct wg_device *dev,
				    const uint8_t key[WG_KEY_LEN]);

/* ---- wg.c: netlink helpers (libmnl) ---- */

/* Open and bind a netlink socket of protocol proto with NETLINK_EXT_ACK and
 * NETLINK_CAP_ACK set; NULL with errno on failure. */
struct mnl_socket *wg_nl_open(int proto);
/*
 * Send nlh (its nlmsg_seq set by the caller) and read replies until the ACK
 * or NLMSG_DONE, calling cb (may be NULL) for each data message. Returns 0,
 * the first error cb left in *cb_err (if cb_err is not NULL and non-zero), or
 * -errno from an NLMSG_ERROR reply.
 */
int wg_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh,
	       int (*cb)(const struct nlmsghdr *nlh, void *data), void *data,
	       int *cb_err);
/* Check that the attributes in [start, start + len) tile it exactly, with no
 * truncated or overlong one; 0 or -EINVAL. */
int wg_nl_attrs_complete(const void *start, size_t len);

/* rtnetlink in the current network namespace. */
int wg_link_create(const char *ifname, const char *kind);
int wg_link_delete(const char *ifname);
/* 0 and the IFLA_INFO_KIND ("" if none) in kind[16], or -ENODEV. */
int wg_link_kind(const char *ifname, char kind[16]);
/* 0 if ifname is a valid interface name (1..15 chars, no '/', no spaces). */
int wg_ifname_valid(const char *ifname);

/* ---- wg_sockbuf.c: wireguard-go's socket buffers ---- */

/*
 * Set SO_RCVBUFFORCE and SO_SNDBUFFORCE to bytes on every inet datagram
 * socket of the process named comm, in our network namespace, that holds the
 * TUN of ifname (pidfd_getfd). The number of sockets set, -ESRCH if no such
 * process, -EINVAL for bad arguments, or -errno.
 */
int wgu_sockbuf_set(const char *comm, const char *ifname, int bytes);

/* ---- wg_kernel.c: generic netlink ---- */

/*
 * Build one WG_CMD_SET_DEVICE message for dev into buf (len bytes), carrying
 * peers from *peer_idx and, within that peer, allowed IPs from *allowed_idx;
 * both advance past what fits. The first message (both indices 0) carries the
 * private key, listen port and WGDEVICE_F_REPLACE_PEERS; the first chunk of
 * each peer carries its endpoint, keepalive and WGPEER_F_REPLACE_ALLOWEDIPS.
 * Call again while *peer_idx < dev->n_peers. Returns the message length, or
 * -EMSGSIZE if len cannot hold even one step, -EINVAL for a bad device.
 */
int wgk_build_set(char *buf, size_t len, uint16_t family, uint32_t seq,
		  const struct wg_device *dev, size_t *peer_idx,
		  size_t *allowed_idx);
/* Build a WG_CMD_GET_DEVICE dump request for ifname; the message length or
 * -errno. */
int wgk_build_get(char *buf, size_t len, uint16_t family, uint32_t seq,
		  const char *ifname);
/*
 * Merge one WG_CMD_GET_DEVICE reply message (genl header + attributes) into
 * dev: device attributes if present, peers merged by public key (a peer may
 * continue in the next message). 0, or -EINVAL for a malformed message, or
 * -ENOMEM.
 */
int wgk_parse_device(const struct nlmsghdr *nlh, struct wg_device *dev);
/* Resolve the "wireguard" genl family id on nl; 0 and *id, or -errno
 * (-ENOENT when the module is absent). */
int wgk_family_resolve(struct mnl_socket *nl, uint16_t *id);
/* 1 if the kernel has the wireguard genl family, 0 if not. */
int wgk_available(void);

/* ---- wg_uapi.c: wireguard-go UAPI text protocol ---- */

#define WGU_MAX_LINE 512 /* longest line accepted from a UAPI reply */

/* Build the "set=1" request for dev; *out is malloc'd, NUL-terminated, holds
 * the private key in hex: explicit_bzero() and free() it. 0 or -errno. */
int wgu_build_set(const struct wg_device *dev, char **out);
/*
 * Parse a "get=1" reply (key=value lines ending with errno=N and a blank
 * line). 0 and *out (free with wg_device_free()), -N when errno=N is
 * non-zero, -EINVAL for malformed text. Unknown keys are ignored.
 */
int wgu_parse_get(const char *text, size_t len, struct wg_device **out);
/* The errno=N of a reply: 0, -N, or -EINVAL if there is none. */
int wgu_parse_errno(const char *text, size_t len);
/* Socket path of ifname into buf; 0 or -ENAMETOOLONG/-EINVAL. */
int wgu_socket_path(const char *ifname, char *buf, size_t len);

#endif
