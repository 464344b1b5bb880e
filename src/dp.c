// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane: bpf/wgnet.bpf.c through its skeleton. Maps are pinned by
 * name under pin_dir (libbpf reuses pins of the same name and layout), and
 * a tiny array map "wgn_version" pinned next to them holds WGN_MAP_VERSION
 * so that pins of another layout are refused instead of reused.
 */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wgnet/dp.h"
#include "wgnet/log.h"
#include "wgnet.skel.h"

#define DP_BPFFS_ROOT "/sys/fs/bpf"
#define DP_VERSION_PIN "wgn_version"
#define DP_TC_HANDLE 1
#define DP_TC_PRIO 1

struct dp {
	struct wgnet_bpf *skel;
	char *pin_dir;
	int ncpus;
};

/* clang-format off */
static const char *const drop_names[WGN_DROP__MAX] = {
	[WGN_DROP_NONE] = "none",
	[WGN_DROP_SPOOF] = "spoof",
	[WGN_DROP_CTRL] = "ctrl",
	[WGN_DROP_ISOLATION] = "isolation",
	[WGN_DROP_NO_DEST] = "no_dest",
	[WGN_DROP_WG_NO_DEST] = "wg_no_dest",
	[WGN_DROP_INTERNAL] = "internal",
	[WGN_DROP_MALFORMED] = "malformed",
	[WGN_DROP_WG_SPOOF] = "wg_spoof",
	[WGN_DROP_VLAN] = "vlan",
	[WGN_DROP_ETHERTYPE] = "ethertype",
	[WGN_DROP_GUEST] = "guest",
	[WGN_DROP_ND] = "nd",
	[WGN_DROP_MCAST] = "mcast",
	[WGN_DROP_IP_OPTIONS] = "ip_options",
};

static const char *const stat_names[WGN_STAT__MAX] = {
	[WGN_STAT_ARP_REPLY] = "arp_reply",
	[WGN_STAT_ND_REPLY] = "nd_reply",
	[WGN_STAT_FWD_LOCAL] = "fwd_local",
	[WGN_STAT_FWD_REMOTE] = "fwd_remote",
	[WGN_STAT_FROM_WG] = "from_wg",
	[WGN_STAT_PASS_STACK] = "pass_stack",
};
/* clang-format on */

const char *dp_drop_name(int reason)
{
	if (reason < 0 || reason >= WGN_DROP__MAX || !drop_names[reason])
		return "unknown";
	return drop_names[reason];
}

const char *dp_stat_name(int idx)
{
	if (idx < 0 || idx >= WGN_STAT__MAX || !stat_names[idx])
		return "unknown";
	return stat_names[idx];
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* mkdir -p pin_dir on a bpffs; mount one at /sys/fs/bpf if it is bare. */
static int prepare_pin_dir(const char *pin_dir)
{
	size_t rl = strlen(DP_BPFFS_ROOT);
	int err;

	if (!strncmp(pin_dir, DP_BPFFS_ROOT, rl) &&
	    (pin_dir[rl] == '/' || pin_dir[rl] == '\0') &&
	    is_bpffs(DP_BPFFS_ROOT) == 0) {
		if (mount("bpf", DP_BPFFS_ROOT, "bpf", 0, "mode=0700")) {
			err = -errno;
			log_err("mount bpffs at %s: %s", DP_BPFFS_ROOT,
				strerror(-err));
			return err;
		}
		log_info("mounted bpffs at %s", DP_BPFFS_ROOT);
	}
	err = mkdir_p(pin_dir);
	if (err) {
		log_err("mkdir %s: %s", pin_dir, strerror(-err));
		return err;
	}
	err = is_bpffs(pin_dir);
	if (err < 0)
		return err;
	if (!err) {
		log_err("%s is not on a bpffs", pin_dir);
		return -ENOTSUP;
	}
	return 0;
}

static int pin_path(const char *pin_dir, const char *name, char *buf,
		    size_t len)
{
	int n = snprintf(buf, len, "%s/%s", pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* 0 if the version pin is absent or says WGN_MAP_VERSION, -EPROTO if not. */
static int version_check(const char *pin_dir)
{
	__u32 key = 0, val = 0;
	char path[PATH_MAX];
	int fd, err;

	err = pin_path(pin_dir, DP_VERSION_PIN, path, sizeof(path));
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map_lookup_elem(fd, &key, &val) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (val != WGN_MAP_VERSION) {
		log_err("%s: map layout version %u, this build uses %u; "
			"remove the pins (teardown) first",
			pin_dir, val, WGN_MAP_VERSION);
		return -EPROTO;
	}
	return 0;
}

static int version_pin(const char *pin_dir)
{
	__u32 key = 0, val = WGN_MAP_VERSION;
	char path[PATH_MAX];
	int fd = -1, err;

	err = pin_path(pin_dir, DP_VERSION_PIN, path, sizeof(path));
	if (err)
		return err;
	if (access(path, F_OK) == 0)
		return 0;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, DP_VERSION_PIN, sizeof(key),
			    sizeof(val), 1, NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) ||
	    bpf_obj_pin(fd, path)) {
		err = -errno;
		goto out;
	}
out:
	if (err)
		log_err("pin %s: %s", path, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err == -EEXIST ? 0 : err;
}

/* Map sizes from the configuration, set before load; 0 keeps the default
 * of bpf_shared.h. A pinned map of another size is not reused: the load
 * fails with a clear error (remove the pins, or keep the old size). */
static int set_sizes(struct wgnet_bpf *skel, const struct dp_limits *lim)
{
	struct {
		struct bpf_map *map;
		uint32_t n;
	} m[] = {
		{ skel->maps.wgn_ifaces, lim->ifaces },
		{ skel->maps.wgn_dests, lim->dests },
		{ skel->maps.wgn_subnets, lim->subnets },
		{ skel->maps.wgn_ctrl, lim->ctrl },
		{ skel->maps.wgn_pubports, lim->ports },
	};
	int err;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!m[i].n)
			continue;
		err = bpf_map__set_max_entries(m[i].map, m[i].n);
		if (err)
			return err;
	}
	return 0;
}

int dp_open(const char *pin_dir, struct dp **out)
{
	return dp_open_limits(pin_dir, NULL, out);
}

int dp_open_limits(const char *pin_dir, const struct dp_limits *lim,
		   struct dp **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct dp *dp = NULL;
	int err, ncpus;

	*out = NULL;
	if (!pin_dir || !*pin_dir)
		return -EINVAL;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0)
		return ncpus;
	err = prepare_pin_dir(pin_dir);
	if (err)
		return err;
	err = version_check(pin_dir);
	if (err)
		return err;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->ncpus = ncpus;
	dp->pin_dir = strdup(pin_dir);
	if (!dp->pin_dir) {
		err = -ENOMEM;
		goto out;
	}
	opts.pin_root_path = dp->pin_dir;
	dp->skel = wgnet_bpf__open_opts(&opts);
	if (!dp->skel) {
		err = -errno;
		log_err("open BPF skeleton: %s", strerror(-err));
		goto out;
	}
	if (lim) {
		err = set_sizes(dp->skel, lim);
		if (err) {
			log_err("map sizes: %s", strerror(-err));
			goto out;
		}
	}
	err = wgnet_bpf__load(dp->skel);
	if (err) {
		log_err("load BPF programs (pins in %s): %s%s", pin_dir,
			strerror(-err),
			lim ? " (a pinned map of another size is not reused: remove the pins or keep the sizes)" :
			      "");
		goto out;
	}
	err = version_pin(pin_dir);
	if (err)
		goto out;
	*out = dp;
	dp = NULL;
out:
	dp_close(dp);
	return err;
}

void dp_close(struct dp *dp)
{
	if (!dp)
		return;
	wgnet_bpf__destroy(dp->skel);
	free(dp->pin_dir);
	free(dp);
}

int dp_unpin(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (pin_path(pin_dir, de->d_name, path, sizeof(path)) ||
		    (unlink(path) && errno != ENOENT)) {
			err = -errno;
			log_err("unpin %s: %s", path, strerror(-err));
		}
	}
	closedir(d);
	if (!err && rmdir(pin_dir) && errno != ENOENT) {
		err = -errno;
		log_err("rmdir %s: %s", pin_dir, strerror(-err));
	}
	return err;
}

static struct bpf_program *dp_prog(struct dp *dp, int kind)
{
	switch (kind) {
	case WGN_IF_ENDPOINT:
		return dp->skel->progs.wgn_from_ep;
	case WGN_IF_WG:
		return dp->skel->progs.wgn_from_wg;
	default:
		return NULL;
	}
}

int dp_prog_fd(struct dp *dp, int kind)
{
	struct bpf_program *prog = dp_prog(dp, kind);

	return prog ? bpf_program__fd(prog) : -EINVAL;
}

int dp_attach(struct dp *dp, int ifindex, int kind)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	int err;

	opts.prog_fd = dp_prog_fd(dp, kind);
	if (opts.prog_fd < 0 || ifindex <= 0)
		return -EINVAL;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		log_err("ifindex %d: create clsact: %s", ifindex,
			strerror(-err));
		return err;
	}
	/* Same handle and priority with REPLACE: an existing wgnet filter
	 * is swapped in one netlink request, without a forwarding gap. */
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		log_err("ifindex %d: attach tc ingress: %s", ifindex,
			strerror(-err));
	return err;
}

int dp_detach(struct dp *dp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIO);
	int err;

	(void)dp;
	if (ifindex <= 0)
		return -EINVAL;
	err = bpf_tc_detach(&hook, &opts);
	/* No filter (ENOENT) or no clsact qdisc at all (EINVAL): nothing to
	 * detach. */
	if (err == -ENOENT || err == -EINVAL)
		return 0;
	if (err)
		log_err("ifindex %d: detach tc ingress: %s", ifindex,
			strerror(-err));
	return err;
}

static int prog_is_wgnet(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, ret;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	return !strcmp(info.name, "wgn_from_ep") ||
	       !strcmp(info.name, "wgn_from_wg");
}

int dp_attached(struct dp *dp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIO);
	int err;

	(void)dp;
	if (ifindex <= 0)
		return -EINVAL;
	err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -EINVAL)
		return 0;
	if (err)
		return err;
	return prog_is_wgnet(opts.prog_id);
}

static int map_fd(const struct bpf_map *map)
{
	return bpf_map__fd(map);
}

static int ret_errno(int r)
{
	return r ? -errno : 0;
}

int dp_iface_set(struct dp *dp, uint32_t ifindex, const struct wgn_iface *v)
{
	return ret_errno(bpf_map_update_elem(map_fd(dp->skel->maps.wgn_ifaces),
					     &ifindex, v, BPF_ANY));
}

int dp_iface_del(struct dp *dp, uint32_t ifindex)
{
	return ret_errno(bpf_map_delete_elem(map_fd(dp->skel->maps.wgn_ifaces),
					     &ifindex));
}

int dp_net_set(struct dp *dp, uint32_t net_id, const struct wgn_net *v)
{
	return ret_errno(bpf_map_update_elem(map_fd(dp->skel->maps.wgn_nets),
					     &net_id, v, BPF_ANY));
}

int dp_net_del(struct dp *dp, uint32_t net_id)
{
	return ret_errno(
		bpf_map_delete_elem(map_fd(dp->skel->maps.wgn_nets), &net_id));
}

/* The 16-byte map form of an address (IPv4 forced to v4-mapped). */
static int addr16(const struct ip_addr *ip, __u8 *out)
{
	if (!ip)
		return -EINVAL;
	switch (ip->family) {
	case AF_INET:
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, ip->a + 12, 4);
		return 0;
	case AF_INET6:
		memcpy(out, ip->a, 16);
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

static int dest_key(uint32_t net_id, const struct ip_addr *ip,
		    struct wgn_dest_key *k)
{
	memset(k, 0, sizeof(*k));
	k->net_id = net_id;
	return addr16(ip, k->addr);
}

int dp_dest_set(struct dp *dp, uint32_t net_id, const struct ip_addr *ip,
		const struct wgn_dest *v)
{
	struct wgn_dest_key k;
	int err = dest_key(net_id, ip, &k);

	if (err)
		return err;
	return ret_errno(bpf_map_update_elem(map_fd(dp->skel->maps.wgn_dests),
					     &k, v, BPF_ANY));
}

int dp_dest_del(struct dp *dp, uint32_t net_id, const struct ip_addr *ip)
{
	struct wgn_dest_key k;
	int err = dest_key(net_id, ip, &k);

	if (err)
		return err;
	return ret_errno(
		bpf_map_delete_elem(map_fd(dp->skel->maps.wgn_dests), &k));
}

/* LPM key of a prefix: 96 + plen for IPv4, host bits cleared. */
static int lpm_key(const struct ip_prefix *p, struct wgn_lpm_key *k)
{
	int max, plen, i, err;

	if (!p)
		return -EINVAL;
	max = p->addr.family == AF_INET ? 32 : 128;
	if (p->plen < 0 || p->plen > max)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	err = addr16(&p->addr, k->addr);
	if (err)
		return err;
	plen = p->addr.family == AF_INET ? 96 + p->plen : p->plen;
	k->prefixlen = plen;
	for (i = 0; i < 16; i++) {
		int bits = plen - 8 * i;

		if (bits <= 0)
			k->addr[i] = 0;
		else if (bits < 8)
			k->addr[i] &= (__u8)(0xff << (8 - bits));
	}
	return 0;
}

static int lpm_set(struct bpf_map *map, const struct ip_prefix *p, uint32_t val)
{
	struct wgn_lpm_key k;
	int err = lpm_key(p, &k);

	if (err)
		return err;
	return ret_errno(bpf_map_update_elem(map_fd(map), &k, &val, BPF_ANY));
}

static int lpm_del(struct bpf_map *map, const struct ip_prefix *p)
{
	struct wgn_lpm_key k;
	int err = lpm_key(p, &k);

	if (err)
		return err;
	return ret_errno(bpf_map_delete_elem(map_fd(map), &k));
}

int dp_subnet_set(struct dp *dp, const struct ip_prefix *p, uint32_t net_id)
{
	return lpm_set(dp->skel->maps.wgn_subnets, p, net_id);
}

int dp_subnet_del(struct dp *dp, const struct ip_prefix *p)
{
	return lpm_del(dp->skel->maps.wgn_subnets, p);
}

int dp_ctrl_set(struct dp *dp, const struct ip_prefix *p)
{
	return lpm_set(dp->skel->maps.wgn_ctrl, p, 1);
}

int dp_ctrl_del(struct dp *dp, const struct ip_prefix *p)
{
	return lpm_del(dp->skel->maps.wgn_ctrl, p);
}

/*
 * Make wgn_ctrl hold exactly p[0..n): add first (traffic is never less
 * restricted than asked while this runs), then remove what is stale. An
 * LPM trie iterates like a hash map with bpf_map_get_next_key().
 */
int dp_ctrl_sync(struct dp *dp, const struct ip_prefix *p, size_t n)
{
	int fd = map_fd(dp->skel->maps.wgn_ctrl), ret = 0;
	struct wgn_lpm_key cur, next, *want = NULL, *stale = NULL;
	size_t n_stale = 0, cap = 0, i;
	void *prev = NULL;
	bool keep;

	want = calloc(n ? n : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (i = 0; i < n && !ret; i++) {
		ret = lpm_key(&p[i], &want[i]);
		if (!ret)
			ret = dp_ctrl_set(dp, &p[i]);
	}
	while (!ret && !bpf_map_get_next_key(fd, prev, &next)) {
		cur = next;
		prev = &cur;
		for (keep = false, i = 0; i < n && !keep; i++)
			keep = !memcmp(&cur, &want[i], sizeof(cur));
		if (keep)
			continue;
		if (n_stale == cap) {
			struct wgn_lpm_key *t;

			cap = cap ? cap * 2 : 16;
			t = realloc(stale, cap * sizeof(*t));
			if (!t) {
				ret = -ENOMEM;
				break;
			}
			stale = t;
		}
		stale[n_stale++] = cur;
	}
	for (i = 0; !ret && i < n_stale; i++)
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
			ret = -errno;
	free(stale);
	free(want);
	return ret;
}

static bool port_key_in(const struct wgn_port_key *k,
			const struct wgn_port_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(k, &keys[i], sizeof(*k)))
			return true;
	return false;
}

int dp_pubports_sync(struct dp *dp, const struct wgn_port_key *keys, size_t n)
{
	int fd = map_fd(dp->skel->maps.wgn_pubports);
	struct wgn_port_key cur, next, *stale = NULL;
	size_t n_stale = 0, cap = 0;
	__u32 one = 1;
	void *prev = NULL;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		cur = next;
		prev = &cur;
		if (port_key_in(&cur, keys, n))
			continue;
		if (n_stale == cap) {
			struct wgn_port_key *t;

			cap = cap ? cap * 2 : 16;
			t = realloc(stale, cap * sizeof(*t));
			if (!t) {
				free(stale);
				return -ENOMEM;
			}
			stale = t;
		}
		stale[n_stale++] = cur;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	for (size_t i = 0; i < n && !ret; i++)
		ret = ret_errno(bpf_map_update_elem(fd, &keys[i], &one, BPF_ANY));
	return ret;
}

/*
 * Walk a hash map: cb(key, value) for each entry. Returns 0 when done, the
 * callback's non-zero value when it stopped the walk, or -errno.
 */
static int map_walk(int fd, void *key, void *next, size_t ksz, void *val,
		    int (*cb)(const void *k, const void *v, void *ctx),
		    void *ctx)
{
	void *prev = NULL;
	int ret;

	for (;;) {
		if (bpf_map_get_next_key(fd, prev, next))
			return errno == ENOENT ? 0 : -errno;
		memcpy(key, next, ksz);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val)) {
			if (errno == ENOENT)
				continue; /* deleted meanwhile */
			return -errno;
		}
		ret = cb(key, val, ctx);
		if (ret)
			return ret;
	}
}

struct dest_walk {
	int (*cb)(const struct wgn_dest_key *k, const struct wgn_dest *v,
		  void *data);
	void *data;
};

static int dest_walk_cb(const void *k, const void *v, void *ctx)
{
	struct dest_walk *w = ctx;

	return w->cb(k, v, w->data);
}

int dp_dest_foreach(struct dp *dp,
		    int (*cb)(const struct wgn_dest_key *k,
			      const struct wgn_dest *v, void *data),
		    void *data)
{
	struct wgn_dest_key key, next;
	struct dest_walk w = { cb, data };
	struct wgn_dest val;

	return map_walk(map_fd(dp->skel->maps.wgn_dests), &key, &next,
			sizeof(key), &val, dest_walk_cb, &w);
}

struct iface_walk {
	int (*cb)(uint32_t ifindex, const struct wgn_iface *v, void *data);
	void *data;
};

static int iface_walk_cb(const void *k, const void *v, void *ctx)
{
	struct iface_walk *w = ctx;

	return w->cb(*(const uint32_t *)k, v, w->data);
}

int dp_iface_foreach(struct dp *dp,
		     int (*cb)(uint32_t ifindex, const struct wgn_iface *v,
			       void *data),
		     void *data)
{
	struct iface_walk w = { cb, data };
	struct wgn_iface val;
	uint32_t key, next;

	return map_walk(map_fd(dp->skel->maps.wgn_ifaces), &key, &next,
			sizeof(key), &val, iface_walk_cb, &w);
}

struct net_walk {
	int (*cb)(uint32_t net_id, const struct wgn_net *v, void *data);
	void *data;
};

static int net_walk_cb(const void *k, const void *v, void *ctx)
{
	struct net_walk *w = ctx;

	return w->cb(*(const uint32_t *)k, v, w->data);
}

int dp_net_foreach(struct dp *dp,
		   int (*cb)(uint32_t net_id, const struct wgn_net *v,
			     void *data),
		   void *data)
{
	struct net_walk w = { cb, data };
	struct wgn_net val;
	uint32_t key, next;

	return map_walk(map_fd(dp->skel->maps.wgn_nets), &key, &next,
			sizeof(key), &val, net_walk_cb, &w);
}

/* Sum a per-CPU __u64 array of n entries into out[n]. */
static int read_percpu(struct dp *dp, struct bpf_map *map, uint64_t *out,
		       uint32_t n)
{
	__u64 *vals;
	uint32_t i;
	int c, err = 0;

	vals = calloc(dp->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(map_fd(map), &i, vals)) {
			err = -errno;
			goto out;
		}
		out[i] = 0;
		for (c = 0; c < dp->ncpus; c++)
			out[i] += vals[c];
	}
out:
	free(vals);
	return err;
}

int dp_read_drops(struct dp *dp, uint64_t *drops)
{
	return read_percpu(dp, dp->skel->maps.wgn_drops, drops, WGN_DROP__MAX);
}

int dp_read_stats(struct dp *dp, uint64_t *stats)
{
	return read_percpu(dp, dp->skel->maps.wgn_stats, stats, WGN_STAT__MAX);
}
