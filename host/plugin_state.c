// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker plugin's map of Docker ids to wgnet ids, kept in a JSON file
 * (written to a temporary file, fsync'd and renamed: a crash leaves the old
 * or the new map, never half of one). Docker's network and endpoint ids
 * are per daemon, so each host has its own file; wgnet's ids are shared
 * through the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "plugin_int.h"

static int state_save(struct plugin *p)
{
	char tmp[ST_PATH_LEN + 8];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", p->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (json_dumpfd(p->state, fd, JSON_INDENT(1) | JSON_SORT_KEYS) ||
	    fsync(fd))
		rc = errno ? -errno : -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, p->path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		log_err("docker plugin: cannot write %s: %s", p->path,
			strerror(-rc));
	}
	return rc;
}

static bool valid_ids(json_t *map, bool eps)
{
	const char *k;
	json_t *v;

	if (!json_is_object(map))
		return false;
	json_object_foreach(map, k, v) {
		if (strlen(k) != 64 || strspn(k, "0123456789abcdef") != 64)
			return false;
		if (eps ? !json_str(v, "container") || !json_str(v, "network") :
			  !json_is_string(v))
			return false;
	}
	return true;
}

int plugin_state_load(struct plugin *p)
{
	json_error_t je;
	json_t *s;

	if (access(p->path, F_OK)) {
		p->state = json_pack("{s:{},s:{}}", "networks", "endpoints");
		return p->state ? 0 : -ENOMEM;
	}
	s = json_load_file(p->path, JSON_REJECT_DUPLICATES, &je);
	if (!s) {
		log_err("docker plugin: %s: %s (line %d)", p->path, je.text,
			je.line);
		return -EINVAL;
	}
	if (!valid_ids(json_object_get(s, "networks"), false) ||
	    !valid_ids(json_object_get(s, "endpoints"), true)) {
		log_err("docker plugin: %s: not a plugin state file", p->path);
		json_decref(s);
		return -EINVAL;
	}
	p->state = s;
	return 0;
}

static json_t *nets(struct plugin *p)
{
	return json_object_get(p->state, "networks");
}

static json_t *eps(struct plugin *p)
{
	return json_object_get(p->state, "endpoints");
}

int plugin_state_net_put(struct plugin *p, const char *dnid, const char *wid)
{
	if (json_object_set_new(nets(p), dnid, json_string(wid)))
		return -ENOMEM;
	return state_save(p);
}

int plugin_state_net_get(struct plugin *p, const char *dnid,
			 char wid[ST_ID_LEN])
{
	const char *s = json_string_value(json_object_get(nets(p), dnid));

	if (!s)
		return -ENOENT;
	snprintf(wid, ST_ID_LEN, "%s", s);
	return 0;
}

void plugin_state_net_del(struct plugin *p, const char *dnid)
{
	if (!json_object_del(nets(p), dnid))
		state_save(p);
}

bool plugin_state_net_of_wgnet(struct plugin *p, const char *wid)
{
	const char *k;
	json_t *v;

	json_object_foreach(nets(p), k, v)
		if (!strcmp(json_string_value(v), wid))
			return true;
	return false;
}

int plugin_state_ep_put(struct plugin *p, const char *eid, const char *cid,
			const char *dnid)
{
	if (json_object_set_new(eps(p), eid,
				json_pack("{s:s,s:s}", "container", cid,
					  "network", dnid)))
		return -ENOMEM;
	return state_save(p);
}

int plugin_state_ep_get(struct plugin *p, const char *eid, char cid[ST_ID_LEN],
			char dnid[ST_ID_LEN])
{
	json_t *e = json_object_get(eps(p), eid);

	if (!e)
		return -ENOENT;
	snprintf(cid, ST_ID_LEN, "%s", json_str(e, "container"));
	if (dnid)
		snprintf(dnid, ST_ID_LEN, "%s", json_str(e, "network"));
	return 0;
}

void plugin_state_ep_del(struct plugin *p, const char *eid)
{
	if (!json_object_del(eps(p), eid))
		state_save(p);
}

bool plugin_state_ep_by_container(struct plugin *p, const char *cid)
{
	const char *k;
	json_t *v;

	json_object_foreach(eps(p), k, v)
		if (!strcmp(json_str(v, "container"), cid))
			return true;
	return false;
}

void plugin_state_subpool_put(struct plugin *p, const char *pool,
			      const struct ip_prefix *range)
{
	char buf[IPNET_STRLEN];

	if (range)
		json_object_set_new(p->subpools, pool,
				    json_string(prefix_fmt(range, buf)));
	else
		json_object_del(p->subpools, pool);
}

void plugin_state_subpool(struct plugin *p, const char *pool,
			  struct ip_prefix *range)
{
	const char *s = json_string_value(json_object_get(p->subpools, pool));

	memset(range, 0, sizeof(*range));
	if (s && prefix_parse(s, true, range))
		memset(range, 0, sizeof(*range));
}

bool plugin_container_is_ours(struct plugin *p, const char *cid)
{
	struct st_container c;
	bool ours;

	pthread_mutex_lock(&p->h->mu);
	ours = !p->h->st->ops->container_get(p->h->st, cid, &c) &&
	       !strcmp(c.guest, p->guest) && !c.netns[0] &&
	       !strncmp(c.name, "dk-", 3);
	pthread_mutex_unlock(&p->h->mu);
	return ours;
}

int plugin_new(struct host *h, const char *guest, const char *state_path,
	       const char *docker_sock, struct plugin **out)
{
	struct plugin *p;
	int rc;

	*out = NULL;
	if (!guest || !*guest || strlen(guest) >= ST_NAME_LEN || !state_path ||
	    !*state_path || strlen(state_path) >= ST_PATH_LEN ||
	    (docker_sock && strlen(docker_sock) >= ST_PATH_LEN))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->h = h;
	snprintf(p->guest, sizeof(p->guest), "%s", guest);
	snprintf(p->path, sizeof(p->path), "%s", state_path);
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->tmu, NULL);
	pthread_cond_init(&p->tcv, NULL);
	if (docker_sock && strcmp(docker_sock, "none"))
		snprintf(p->docker_sock, sizeof(p->docker_sock), "%s",
			 docker_sock);
	p->subpools = json_object();
	rc = p->subpools ? plugin_state_load(p) : -ENOMEM;
	if (rc) {
		plugin_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void plugin_free(struct plugin *p)
{
	if (!p)
		return;
	plugin_names_stop(p);
	json_decref(p->state);
	json_decref(p->subpools);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->tmu);
	pthread_cond_destroy(&p->tcv);
	free(p);
}
