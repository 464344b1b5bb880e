/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WireGuard through one small interface with two backends:
 *   kernel    generic netlink (WG_CMD_GET_DEVICE / WG_CMD_SET_DEVICE), libmnl
 *   userspace one wireguard-go process per interface, over its UAPI socket
 *             /var/run/wireguard/<ifname>.sock
 * wg_backend_open("auto") picks the kernel when the module is there.
 */
#ifndef WGNET_WG_H
#define WGNET_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "wgnet/ipnet.h"

#define WG_KEY_LEN 32
#define WG_KEY_B64_LEN 45 /* 44 chars + NUL */

/* How long a wireguard-go interface may take to start (the process
 * daemonises, creates its TUN and UAPI socket and answers on it) and to stop
 * (after its TUN is deleted). Two Go runtimes start up on the way: on an idle
 * machine that takes ~0.1 s, on a 2-core machine running twenty other things
 * several seconds (3 s was too short: the churn benchmark's failed cycles and
 * test_wg's "UAPI socket never answered"). These bound a process that hangs;
 * they are not an expected duration. */
#define WG_START_TIMEOUT_MS 15000
#define WG_STOP_TIMEOUT_MS 10000

enum {
	WG_PEER_F_REMOVE = 1U << 0, /* set: remove this peer (nothing else) */
};

struct wg_peer {
	uint8_t public_key[WG_KEY_LEN];
	uint32_t flags; /* WG_PEER_F_* */
	struct sockaddr_storage endpoint; /* ss_family 0 = none */
	struct timespec last_handshake; /* 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint16_t keepalive; /* seconds, 0 = off */
	struct ip_prefix *allowed; /* struct ip_addr: IPv4 v4-mapped */
	size_t n_allowed;
};

enum {
	WG_DEV_F_PRIVATE_KEY = 1U << 0, /* private_key is set */
	WG_DEV_F_LISTEN_PORT = 1U << 1, /* listen_port is set */
	WG_DEV_F_REPLACE_PEERS = 1U << 2, /* set: peers is the full set */
};

struct wg_device {
	char name[16];
	uint32_t flags;
	uint8_t private_key[WG_KEY_LEN]; /* never logged, zeroed on free */
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	struct wg_peer *peers;
	size_t n_peers;
};

void wg_device_free(struct wg_device *dev); /* NULL ok; bzeroes keys */

struct wg_backend {
	const char *name; /* "kernel" or "userspace" */
	/* Create the interface (down), or -EEXIST. */
	int (*create)(const char *ifname);
	int (*destroy)(const char *ifname);
	/* 1 if the interface exists and answers, 0 if not, or -errno. */
	int (*exists)(const char *ifname);
	/* Apply dev (private key, listen port, peers; REPLACE_PEERS). */
	int (*set)(const char *ifname, const struct wg_device *dev);
	/* Read the device with its peers; *out freed by wg_device_free(). */
	int (*get)(const char *ifname, struct wg_device **out);
	/* Optional (NULL: nothing to tune). Data-path tuning once the
	 * interface is up: the number of sockets tuned (0: none bound yet,
	 * call again later), or -errno. Only speed depends on it. */
	int (*tune)(const char *ifname);
};

/* "auto", "kernel" or "userspace"; NULL with errno on failure. */
const struct wg_backend *wg_backend_open(const char *which);
extern const struct wg_backend wg_kernel_backend;
extern const struct wg_backend wg_userspace_backend;
/* Override the wireguard-go program (default "wireguard-go" on PATH). */
void wg_userspace_set_program(const char *path);

/* Keys (libsodium). */
int wg_key_generate(uint8_t priv[WG_KEY_LEN]);
void wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);
void wg_key_to_base64(char out[WG_KEY_B64_LEN], const uint8_t key[WG_KEY_LEN]);
int wg_key_from_base64(uint8_t key[WG_KEY_LEN], const char *b64);
/* Load a base64 private key from path, or generate and store it (0600). */
int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN]);

/* An allowed IP a backend can send: IPv4 /0..32 or IPv6 /0..128. */
bool wg_allowed_valid(const struct ip_prefix *a);

#endif
