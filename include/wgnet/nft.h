/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nftables (libnftnl): one table ("inet wgnet" by default) owned by wgnet in
 * a guest's namespace, rebuilt whole in one atomic batch per reconcile:
 *   add table; delete table; add table, chains, rules — so the result never
 *   depends on what was there before.
 * Chains: prerouting/output (nat, dstnat: published ports), postrouting
 * (nat, srcnat: masquerade per non-internal network), forward (filter: drop
 * from container veths to the control-plane prefixes, and out of internal
 * nets), input (filter: the same control-plane drops; from container veths
 * only established/related and ICMP echo, the rest dropped and counted).
 */
#ifndef WGNET_NFT_H
#define WGNET_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wgnet/ipnet.h"

struct nft_net {
	struct ip_prefix subnet4; /* family 0 = none */
	struct ip_prefix subnet6; /* family 0 = none */
	bool internal;
};

struct nft_port {
	int proto; /* IPPROTO_TCP or IPPROTO_UDP */
	struct ip_addr host_ip; /* family 0 = any address of the guest */
	uint16_t host_port;
	struct ip_addr dst; /* the container's address (same family) */
	uint16_t dst_port;
};

struct nft_cfg {
	const char *table; /* "wgnet" */
	const char *underlay_if; /* masquerade out of this interface */
	const char *veth_prefix; /* guest-side veth names start with this */
	const struct ip_prefix *ctrl; /* control-plane prefixes */
	size_t n_ctrl;
	const struct nft_net *nets;
	size_t n_nets;
	const struct nft_port *ports;
	size_t n_ports;
	/* Subnets of networks this guest has not joined: forwarding from a
	 * container to them is dropped here too, so isolation holds even when
	 * the BPF subnet map is full (the BPF program passes what it does not
	 * know to the stack). */
	const struct ip_prefix *isolated;
	size_t n_isolated;
};

/* Replace the table with cfg, atomically. */
int nft_apply(const struct nft_cfg *cfg);
/* Delete the table if it exists. */
int nft_remove(const char *table);
/* Count the rules in the table (for tests and churn checks), or -errno. */
int nft_rule_count(const char *table);

/* For unit tests: serialise the batch nft_apply() would send into buf
 * (size len); returns the number of bytes, or -errno. */
int nft_build_batch(const struct nft_cfg *cfg, void *buf, size_t len,
		    uint32_t seq);

#endif
