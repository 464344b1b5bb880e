// SPDX-License-Identifier: GPL-2.0
/*
 * Names for wgnet's DNS: libnetwork never tells a remote driver the name
 * of the container behind an endpoint, so after a Join the plugin asks
 * dockerd (its Engine API socket, --plugin-docker) for the endpoint's
 * container name and network aliases, and gives them to the wgnet endpoint
 * (EndpointAliases). Containers on other hosts then resolve them through
 * wgnet's resolver at the network's gateway. One short-lived thread per
 * Join; it polls until dockerd lists the endpoint (the Join is still in
 * progress when it starts), for at most PLUGIN_NAME_WAIT_MS.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#include "plugin_int.h"

#define PLUGIN_NAME_WAIT_MS 60000
#define PLUGIN_NAME_POLL_MS 200
#define PLUGIN_NAME_BODY_MAX (4 << 20)

struct name_job {
	struct plugin *p;
	char dnid[ST_ID_LEN], eid[ST_ID_LEN];
	char wnid[ST_ID_LEN], cid[ST_ID_LEN];
};

struct buf {
	char *d;
	size_t n;
};

static size_t on_data(char *ptr, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
	size_t add = sz * nm;
	char *t;

	if (b->n + add > PLUGIN_NAME_BODY_MAX)
		return 0;
	t = realloc(b->d, b->n + add + 1);
	if (!t)
		return 0;
	memcpy(t + b->n, ptr, add);
	b->n += add;
	t[b->n] = '\0';
	b->d = t;
	return add;
}

/* GET path on dockerd's socket → JSON (NULL on any failure). */
static json_t *docker_get(const char *sock, const char *path)
{
	CURL *c = curl_easy_init();
	struct buf b = { 0 };
	char url[256];
	long code = 0;
	json_t *j = NULL;

	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "http://docker%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK &&
	    !curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) && code == 200)
		j = json_loadb(b.d ? b.d : "", b.n, 0, NULL);
	curl_easy_cleanup(c);
	free(b.d);
	return j;
}

static void add_name(json_t *names, const char *s)
{
	json_t *v;
	size_t i;

	if (!s || !host_name_valid(s) || json_array_size(names) >= 16)
		return;
	json_array_foreach(names, i, v)
		if (!strcmp(json_string_value(v), s))
			return;
	json_array_append_new(names, json_string(s));
}

/*
 * The endpoint's container name and aliases. NULL while dockerd does not
 * list the endpoint yet. *partial: the name only (the container's inspect
 * did not answer: dockerd holds the container's lock while it starts it,
 * which includes our Join); the caller retries and keeps the name.
 */
static json_t *lookup(const char *sock, const struct name_job *j, bool *partial)
{
	char path[200];
	json_t *net, *ctr, *cs, *v, *names = NULL;
	const char *docker_cid = NULL, *name = NULL, *k;

	*partial = false;
	snprintf(path, sizeof(path), "/v1.41/networks/%s", j->dnid);
	net = docker_get(sock, path);
	cs = json_object_get(net, "Containers");
	json_object_foreach(cs, k, v) {
		const char *eid = json_str(v, "EndpointID");

		if (eid && !strcmp(eid, j->eid)) {
			docker_cid = k;
			name = json_str(v, "Name");
		}
	}
	if (!docker_cid || strlen(docker_cid) > 64) {
		json_decref(net);
		return NULL;
	}
	names = json_array();
	add_name(names, name);
	snprintf(path, sizeof(path), "/v1.41/containers/%s/json", docker_cid);
	ctr = docker_get(sock, path);
	*partial = !ctr;
	if (ctr) {
		name = json_str(ctr, "Name");
		add_name(names, name && *name == '/' ? name + 1 : name);
		json_object_foreach(
			json_object_get(json_object_get(ctr, "NetworkSettings"),
					"Networks"),
			k, v) {
			json_t *a;
			size_t i;

			if (strcmp(json_str(v, "EndpointID") ?: "", j->eid))
				continue;
			json_array_foreach(json_object_get(v, "Aliases"), i, a)
				add_name(names, json_string_value(a));
		}
	}
	json_decref(ctr);
	json_decref(net);
	return names;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *name_main(void *arg)
{
	struct name_job *j = arg;
	struct plugin *p = j->p;
	json_t *names = NULL;
	char *em = NULL;
	int rc;

	for (int64_t end = host_now_ms() + PLUGIN_NAME_WAIT_MS;
	     host_now_ms() < end;) {
		bool partial = false;
		json_t *got;

		pthread_mutex_lock(&p->tmu);
		if (p->stopping) {
			pthread_mutex_unlock(&p->tmu);
			break;
		}
		pthread_mutex_unlock(&p->tmu);
		got = lookup(p->docker_sock, j, &partial);
		if (got) {
			json_decref(names);
			names = got;
			if (!partial)
				break;
		}
		sleep_ms(PLUGIN_NAME_POLL_MS);
	}
	if (names && json_array_size(names)) {
		json_t *args = json_pack("{s:s,s:s,s:O}", "network", j->wnid,
					 "container", j->cid, "aliases", names);
		json_t *res = NULL;

		rc = host_dispatch(p->h, "EndpointAliases", args, &res, &em);
		json_decref(args);
		json_decref(res);
		if (rc)
			log_info("docker plugin: names of endpoint %.12s: %s",
				 j->eid, em ? em : strerror(-rc));
		else
			log_info("docker plugin: endpoint %.12s answers to %s",
				 j->eid,
				 json_string_value(json_array_get(names, 0)));
	} else {
		log_info(
			"docker plugin: dockerd at %s did not list endpoint %.12s: no wgnet DNS name",
			p->docker_sock, j->eid);
	}
	free(em);
	json_decref(names);
	free(j);
	pthread_mutex_lock(&p->tmu);
	p->nthreads--;
	pthread_cond_broadcast(&p->tcv);
	pthread_mutex_unlock(&p->tmu);
	return NULL;
}

void plugin_names_start(struct plugin *p, const char *dnid, const char *eid,
			const char *wnid, const char *cid)
{
	struct name_job *j;
	pthread_attr_t at;
	pthread_t t;

	if (!p->docker_sock[0])
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->p = p;
	snprintf(j->dnid, sizeof(j->dnid), "%s", dnid);
	snprintf(j->eid, sizeof(j->eid), "%s", eid);
	snprintf(j->wnid, sizeof(j->wnid), "%s", wnid);
	snprintf(j->cid, sizeof(j->cid), "%s", cid);
	pthread_mutex_lock(&p->tmu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->tmu);
		free(j);
		return;
	}
	p->nthreads++;
	pthread_mutex_unlock(&p->tmu);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, name_main, j)) {
		free(j);
		pthread_mutex_lock(&p->tmu);
		p->nthreads--;
		pthread_mutex_unlock(&p->tmu);
	}
	pthread_attr_destroy(&at);
}

void plugin_names_stop(struct plugin *p)
{
	pthread_mutex_lock(&p->tmu);
	p->stopping = true;
	while (p->nthreads > 0)
		pthread_cond_wait(&p->tcv, &p->tmu);
	pthread_mutex_unlock(&p->tmu);
}
