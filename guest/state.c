// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's desired state, persisted as JSON in <state_dir>/state.json
 * (written to a temporary file and renamed, so a crash leaves the old or the
 * new state, never half of one). A restarted agent reads it back and adopts
 * the interfaces, WireGuard devices and pinned maps that still exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/log.h"

struct ag_net *ag_net_find(struct agent *ag, const char *id)
{
	for (int i = 0; i < AG_MAX_NETS; i++)
		if (ag->nets[i].used && !strcmp(ag->nets[i].id, id))
			return &ag->nets[i];
	return NULL;
}

struct ag_ctr *ag_ctr_find(struct agent *ag, const char *id)
{
	for (int i = 0; i < AG_MAX_CTRS; i++)
		if (ag->ctrs[i].used && !strcmp(ag->ctrs[i].id, id))
			return &ag->ctrs[i];
	return NULL;
}

struct ag_ep *ag_ep_find(struct agent *ag, const char *net_id, const char *cid)
{
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].net_id, net_id) &&
		    !strcmp(ag->eps[i].cid, cid))
			return &ag->eps[i];
	return NULL;
}

void ag_net_clear(struct ag_net *n)
{
	json_decref(n->peers);
	json_decref(n->dns);
	json_decref(n->rot_peers);
	json_decref(n->dmiss);
	memset(n, 0, sizeof(*n));
}

void ag_ctr_clear(struct ag_ctr *c)
{
	json_decref(c->dns);
	json_decref(c->ports);
	memset(c, 0, sizeof(*c));
}

static json_t *jip(const struct ip_addr *ip)
{
	char buf[IPNET_STRLEN];

	return json_string(ip_fmt(ip, buf));
}

static json_t *jpfx(const struct ip_prefix *p)
{
	char buf[IPNET_STRLEN];

	return json_string(prefix_fmt(p, buf));
}

static json_t *jmac(const uint8_t *m)
{
	char buf[18];

	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	return json_string(buf);
}

static void rd_ip(json_t *o, const char *k, struct ip_addr *ip)
{
	const char *s = json_str(o, k);

	if (!s || ip_parse(s, ip))
		memset(ip, 0, sizeof(*ip));
}

static void rd_pfx(json_t *o, const char *k, struct ip_prefix *p)
{
	const char *s = json_str(o, k);

	if (!s || prefix_parse(s, false, p))
		memset(p, 0, sizeof(*p));
}

static void rd_mac(json_t *o, const char *k, uint8_t *m)
{
	const char *s = json_str(o, k);
	unsigned int b[6];

	memset(m, 0, 6);
	if (s && sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
			&b[4], &b[5]) == 6)
		for (int i = 0; i < 6; i++)
			m[i] = (uint8_t)b[i];
}

static void rd_str(json_t *o, const char *k, char *dst, size_t n)
{
	const char *s = json_str(o, k);

	snprintf(dst, n, "%s", s ? s : "");
}

#define AG_SAVE_MS 200 /* the longest a change waits to be saved */
#define AG_QUIET_MS 20 /* no change for this long: idle, save now */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ag_state_touch(struct agent *ag)
{
	uint64_t now = mono_ms();

	if (!ag->dirty)
		ag->dirty_ms = now;
	ag->dirty = true;
	ag->touched_ms = now;
}

/* Due when the changes have been quiet for AG_QUIET_MS (a client sending
 * requests back to back is not made to wait for a save per request), or
 * the oldest unsaved one is AG_SAVE_MS old. */
static uint64_t save_due(struct agent *ag)
{
	uint64_t quiet = ag->touched_ms + AG_QUIET_MS;
	uint64_t oldest = ag->dirty_ms + AG_SAVE_MS;

	return quiet < oldest ? quiet : oldest;
}

int ag_state_flush_ms(struct agent *ag)
{
	uint64_t now = mono_ms(), due;

	if (!ag->dirty)
		return -1;
	due = save_due(ag);
	return due <= now ? 0 : (int)(due - now);
}

void ag_state_flush(struct agent *ag, bool force)
{
	if (ag->dirty && (force || mono_ms() >= save_due(ag)))
		ag_state_save(ag);
}

static json_t *values(json_t *obj)
{
	json_t *a = json_array(), *v;
	const char *k;

	json_object_foreach(obj, k, v)
		json_array_append(a, v);
	return a;
}

int ag_state_save(struct agent *ag)
{
	json_t *root = json_object(), *nets = json_array(), *eps = json_array(),
	       *ctrs = json_array();
	char path[AG_PATH_LEN + 32], tmp[AG_PATH_LEN + 32];
	int fd = -1, err = 0;
	char *text = NULL;

	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];
		json_t *o;

		if (!n->used)
			continue;
		o = json_pack("{s:s,s:s,s:i,s:s,s:o,s:o,s:o,s:o,s:b,s:i,s:o,s:o,s:I}",
			      "id", n->id, "name", n->name, "index", n->index,
			      "ifname", n->ifname, "subnet", jpfx(&n->subnet4),
			      "gateway", jip(&n->gw4), "subnet6",
			      jpfx(&n->subnet6), "gateway6", jip(&n->gw6),
			      "internal", n->internal, "port", n->port, "peers",
			      values(n->peers), "dns", values(n->dns), "gen",
			      (json_int_t)n->gen);
		if (o)
			json_object_set_new(o, "mtu", json_integer(n->mtu));
		json_array_append_new(nets, o);
	}
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];

		if (!e->used)
			continue;
		json_array_append_new(
			eps, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:b,s:b}",
				       "network_id", e->net_id, "container_id",
				       e->cid, "ifname", e->ifname,
				       "host_ifname", e->host_ifname, "ip",
				       jip(&e->ip4), "ip6", jip(&e->ip6), "mac",
				       jmac(e->mac), "hmac", jmac(e->hmac),
				       "default_route", e->default_route,
				       "present", e->present));
	}
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		struct ag_ctr *c = &ag->ctrs[i];

		if (!c->used)
			continue;
		json_array_append_new(
			ctrs, json_pack("{s:s,s:s,s:s,s:O?,s:O?}", "id", c->id,
					"name", c->name, "netns", c->netns,
					"dns", c->dns, "ports", c->ports));
	}
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "networks", nets);
	json_object_set_new(root, "endpoints", eps);
	json_object_set_new(root, "containers", ctrs);
	json_object_set(root, "ctrl_prefixes", ag->ctrl ? ag->ctrl : json_null());
	json_object_set(root, "isolate_subnets",
			ag->isolate ? ag->isolate : json_null());

	snprintf(path, sizeof(path), "%s/state.json", ag->state_dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", ag->state_dir);
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* No fsync: the file must survive the agent, not the machine. A
	 * crash of the agent keeps what it wrote (the page cache), and after
	 * a crash of the machine its interfaces are gone too: the host sees
	 * the new boot id and replays; a file the crash left unreadable is
	 * from before this boot, and ag_state_load starts empty then. */
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		err = -EIO;
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0)
		err = -errno;
	ag->dirty = false;
	ag->saved_ms = mono_ms();
out:
	if (err)
		log_err("cannot save state in %s: %s", ag->state_dir,
			strerror(-err));
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(root);
	return err;
}

/* Peers by canonical key; records by "name\taddress". */
static void rd_peers(struct ag_net *n, json_t *arr)
{
	json_t *p;
	size_t i;

	n->peers = json_object();
	json_array_foreach(arr, i, p)
	{
		uint8_t key[WG_KEY_LEN];
		char b64[WG_KEY_B64_LEN];

		if (wg_key_from_base64(key, json_str(p, "public_key") ?: ""))
			continue;
		wg_key_to_base64(b64, key);
		json_object_set(n->peers, b64, p);
	}
}

static void rd_dns(struct ag_net *n, json_t *arr)
{
	char key[300];
	json_t *r;
	size_t i;

	n->dns = json_object();
	json_array_foreach(arr, i, r)
	{
		if (!json_str(r, "name") || !json_str(r, "address"))
			continue;
		snprintf(key, sizeof(key), "%s\t%s", json_str(r, "name"),
			 json_str(r, "address"));
		json_object_set(n->dns, key, r);
	}
}

/* The machine's boot time (/proc/stat btime), 0 if unknown. */
static time_t boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long bt = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	if (f)
		fclose(f);
	return (time_t)bt;
}

/* Last written before the machine booted (by a boot whose crash may have
 * left it half written: state files are not fsynced). */
static bool written_before_boot(const char *path)
{
	time_t bt = boot_time();
	struct stat st;

	return bt > 0 && !stat(path, &st) && st.st_mtime < bt;
}

int ag_state_load(struct agent *ag)
{
	char path[AG_PATH_LEN + 32];
	json_error_t jerr;
	json_t *root, *v;
	size_t i;
	int ni = 0, ei = 0, ci = 0;

	snprintf(path, sizeof(path), "%s/state.json", ag->state_dir);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (access(path, F_OK) < 0)
			return -ENOENT;
		if (written_before_boot(path)) {
			log_warn("state file %s, written before this boot, is unreadable (%s): starting empty",
				 path, jerr.text);
			return -ENOENT;
		}
		log_err("state file %s unreadable: %s", path, jerr.text);
		return -EBADMSG;
	}
	json_array_foreach(json_object_get(root, "networks"), i, v)
	{
		struct ag_net *n;

		if (ni >= AG_MAX_NETS)
			break;
		n = &ag->nets[ni++];
		n->used = true;
		rd_str(v, "id", n->id, sizeof(n->id));
		rd_str(v, "name", n->name, sizeof(n->name));
		rd_str(v, "ifname", n->ifname, sizeof(n->ifname));
		n->index = (int)json_integer_value(json_object_get(v, "index"));
		n->port = (uint16_t)json_integer_value(json_object_get(v, "port"));
		n->mtu = (unsigned int)json_integer_value(json_object_get(v, "mtu"));
		n->internal = json_is_true(json_object_get(v, "internal"));
		rd_pfx(v, "subnet", &n->subnet4);
		rd_pfx(v, "subnet6", &n->subnet6);
		rd_ip(v, "gateway", &n->gw4);
		rd_ip(v, "gateway6", &n->gw6);
		n->gen = (uint64_t)json_integer_value(json_object_get(v, "gen"));
		rd_peers(n, json_object_get(v, "peers"));
		rd_dns(n, json_object_get(v, "dns"));
	}
	json_array_foreach(json_object_get(root, "endpoints"), i, v)
	{
		struct ag_ep *e;

		if (ei >= AG_MAX_EPS)
			break;
		e = &ag->eps[ei++];
		e->used = true;
		rd_str(v, "network_id", e->net_id, sizeof(e->net_id));
		rd_str(v, "container_id", e->cid, sizeof(e->cid));
		rd_str(v, "ifname", e->ifname, sizeof(e->ifname));
		rd_str(v, "host_ifname", e->host_ifname, sizeof(e->host_ifname));
		rd_ip(v, "ip", &e->ip4);
		rd_ip(v, "ip6", &e->ip6);
		rd_mac(v, "mac", e->mac);
		rd_mac(v, "hmac", e->hmac);
		e->default_route = json_is_true(json_object_get(v, "default_route"));
		e->present = json_is_true(json_object_get(v, "present"));
	}
	json_array_foreach(json_object_get(root, "containers"), i, v)
	{
		struct ag_ctr *c;
		json_t *d, *p;

		if (ci >= AG_MAX_CTRS)
			break;
		c = &ag->ctrs[ci++];
		c->used = true;
		rd_str(v, "id", c->id, sizeof(c->id));
		rd_str(v, "name", c->name, sizeof(c->name));
		rd_str(v, "netns", c->netns, sizeof(c->netns));
		d = json_object_get(v, "dns");
		p = json_object_get(v, "ports");
		c->dns = json_is_array(d) ? json_incref(d) : NULL;
		c->ports = json_is_array(p) ? json_incref(p) : NULL;
	}
	v = json_object_get(root, "ctrl_prefixes");
	if (json_is_array(v)) {
		json_decref(ag->ctrl);
		ag->ctrl = json_incref(v);
	}
	v = json_object_get(root, "isolate_subnets");
	if (json_is_array(v)) {
		json_decref(ag->isolate);
		ag->isolate = json_incref(v);
	}
	json_decref(root);
	return 0;
}
