/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps of wgnet.bpf.c. All are pinned by name under the loader's
 * pin_root_path so that a restarted agent reuses them and bpftool can dump
 * them. Layouts are in include/wgnet/bpf_shared.h (WGN_MAP_VERSION).
 */
#ifndef WGN_BPF_MAPS_H
#define WGN_BPF_MAPS_H

#include "lib/common.h"

/* ifindex (guest namespace) -> what the program runs on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGN_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct wgn_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_ifaces SEC(".maps");

/* net_id -> subnets, gateways, flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGN_MAX_NETS);
	__type(key, __u32);
	__type(value, struct wgn_net);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_nets SEC(".maps");

/* {net_id, address} -> local or remote endpoint. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGN_MAX_DESTS);
	__type(key, struct wgn_dest_key);
	__type(value, struct wgn_dest);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_dests SEC(".maps");

/* Every network subnet of this guest -> net_id (isolation). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WGN_MAX_PREFIXES);
	__type(key, struct wgn_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_subnets SEC(".maps");

/* Control-plane prefixes a container may never reach (value 1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WGN_MAX_PREFIXES);
	__type(key, struct wgn_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_ctrl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WGN_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WGN_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WGN_MAX_PORTS);
	__type(key, struct wgn_port_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wgn_pubports SEC(".maps");

/* Count a drop by reason and return TC_ACT_SHOT. */
static __always_inline int drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&wgn_drops, &reason);

	if (v)
		*v += 1;
	return TC_ACT_SHOT;
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&wgn_stats, &idx);

	if (v)
		*v += 1;
}

#endif /* WGN_BPF_MAPS_H */
