/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data plane: the tc-BPF programs (bpf/wgnet.bpf.c) through their libbpf
 * skeleton, with maps pinned under a pin directory so that bpftool can read
 * them and a restarted agent finds them again.
 */
#ifndef WGNET_DP_H
#define WGNET_DP_H

#include <stdint.h>
#include "wgnet/bpf_shared.h"
#include "wgnet/ipnet.h"

struct dp;

/* Open the skeleton, reuse or create the pinned maps under pin_dir (created
 * if missing, bpffs mounted at its root if needed), load. */
int dp_open(const char *pin_dir, struct dp **out);
/* Map sizes (max_entries) from the configuration; 0: the default. */
struct dp_limits {
	uint32_t ifaces; /* wgn_ifaces (default WGN_MAX_IFACES) */
	uint32_t dests; /* wgn_dests (WGN_MAX_DESTS) */
	uint32_t subnets; /* wgn_subnets (WGN_MAX_PREFIXES) */
	uint32_t ctrl; /* wgn_ctrl (WGN_MAX_PREFIXES) */
	uint32_t ports; /* wgn_pubports (WGN_MAX_PORTS) */
};
int dp_open_limits(const char *pin_dir, const struct dp_limits *lim,
		   struct dp **out);
void dp_close(struct dp *dp); /* NULL ok; leaves pins and attachments */
/* Remove every pin under pin_dir (teardown). */
int dp_unpin(const char *pin_dir);

/* Attach (atomically replacing) the program for kind (WGN_IF_ENDPOINT or
 * WGN_IF_WG) on tc ingress of ifindex in the current namespace. */
int dp_attach(struct dp *dp, int ifindex, int kind);
int dp_detach(struct dp *dp, int ifindex);
/* 1 if a wgnet program is attached on ifindex ingress, 0 if not. */
int dp_attached(struct dp *dp, int ifindex);

int dp_iface_set(struct dp *dp, uint32_t ifindex, const struct wgn_iface *v);
int dp_iface_del(struct dp *dp, uint32_t ifindex);
int dp_net_set(struct dp *dp, uint32_t net_id, const struct wgn_net *v);
int dp_net_del(struct dp *dp, uint32_t net_id);
int dp_dest_set(struct dp *dp, uint32_t net_id, const struct ip_addr *ip,
		const struct wgn_dest *v);
int dp_dest_del(struct dp *dp, uint32_t net_id, const struct ip_addr *ip);
int dp_subnet_set(struct dp *dp, const struct ip_prefix *p, uint32_t net_id);
int dp_subnet_del(struct dp *dp, const struct ip_prefix *p);
int dp_ctrl_set(struct dp *dp, const struct ip_prefix *p);
int dp_ctrl_del(struct dp *dp, const struct ip_prefix *p);
/* Make wgn_ctrl hold exactly p[0..n) (adds first, then removes stale). */
int dp_ctrl_sync(struct dp *dp, const struct ip_prefix *p, size_t n);
/* Make wgn_pubports hold exactly keys[0..n). */
int dp_pubports_sync(struct dp *dp, const struct wgn_port_key *keys, size_t n);

/* Iterate map keys (for reconcile and leak checks). cb returns non-zero to
 * stop. */
int dp_dest_foreach(struct dp *dp,
		    int (*cb)(const struct wgn_dest_key *k,
			      const struct wgn_dest *v, void *data),
		    void *data);
int dp_iface_foreach(struct dp *dp,
		     int (*cb)(uint32_t ifindex, const struct wgn_iface *v,
			       void *data),
		     void *data);
int dp_net_foreach(struct dp *dp,
		   int (*cb)(uint32_t net_id, const struct wgn_net *v,
			     void *data),
		   void *data);

/* Per-CPU counters summed: drops[WGN_DROP__MAX], stats[WGN_STAT__MAX]. */
int dp_read_drops(struct dp *dp, uint64_t *drops);
int dp_read_stats(struct dp *dp, uint64_t *stats);
const char *dp_drop_name(int reason);
const char *dp_stat_name(int idx);

/* Program fds, for bpf_prog_test_run_opts in unit tests. */
int dp_prog_fd(struct dp *dp, int kind);

#endif
