// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd v3 store: struct store_ops on etcd's JSON gateway (HTTP/1.1 with
 * libcurl, JSON with jansson), for several wgnet-host instances sharing one
 * mesh. Every call is one etcd transaction (or one range read); address
 * allocation is a compare-and-swap on the address key. Each host holds a
 * lease (kept alive from a thread): the keys of its containers, endpoints,
 * addresses and WireGuard interfaces hang on it, so they vanish when the host
 * is gone for longer than the TTL. A second thread watches /wgnet/v1/ and
 * tells wgnet-host which networks changed. See docs/etcd.md.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "ipam.h"
#include "wgnet/log.h"
#include "store.h"

#include "store_etcd_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- HTTP --- */

size_t est_buf_write(char *ptr, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
	size_t add = sz * nm;
	char *p;

	if (b->n + add > MAX_RESPONSE)
		return 0;
	p = realloc(b->p, b->n + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, ptr, add);
	b->p = p;
	b->n += add;
	b->p[b->n] = 0;
	return add;
}

static void note_down(struct etcd_store *e, const char *why)
{
	bool first;

	pthread_mutex_lock(&e->mu);
	first = !e->down;
	e->down = true;
	pthread_mutex_unlock(&e->mu);
	if (first)
		log_warn("store unreachable: %s (%s)", e->uri, why);
}

static void note_up(struct etcd_store *e, size_t member)
{
	bool was;

	pthread_mutex_lock(&e->mu);
	was = e->down;
	e->down = false;
	e->cur = member;
	pthread_mutex_unlock(&e->mu);
	if (was)
		log_info("store reachable again: %s", e->urls[member]);
}

/* Aim c at PATH of member m: http://h:p/PATH, or http://localhost/PATH
 * through the member's unix socket (etcd+unix://). */
int est_curl_member(struct etcd_store *e, CURL *c, size_t m, const char *path)
{
	char url[512];
	CURLcode cc;

	if (e->socks[m]) {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		cc = curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->socks[m]);
		if (cc != CURLE_OK)
			return -EINVAL;
	} else {
		snprintf(url, sizeof(url), "%s%s", e->urls[m], path);
	}
	return curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK ? 0 : -EINVAL;
}

/* A handle with its live connections, or a new one. */
static CURL *handle_get(struct etcd_store *e)
{
	CURL *c = NULL;

	pthread_mutex_lock(&e->mu);
	if (e->n_idle)
		c = e->idle[--e->n_idle];
	pthread_mutex_unlock(&e->mu);
	if (c) {
		curl_easy_reset(c); /* options go, connections stay */
		return c;
	}
	return curl_easy_init();
}

static void handle_put(struct etcd_store *e, CURL *c)
{
	pthread_mutex_lock(&e->mu);
	if (e->n_idle < ETCD_IDLE_HANDLES) {
		e->idle[e->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	if (c)
		curl_easy_cleanup(c);
}

void est_handles_free(struct etcd_store *e)
{
	while (e->n_idle)
		curl_easy_cleanup(e->idle[--e->n_idle]);
}

/* One POST to one member. 1 = try the next member, 0 = *resp set,
 * -errno = an answer that is an error. */
static int post_one(struct etcd_store *e, size_t m, const char *path,
		    const char *body, json_t **resp, char *why, size_t wlen)
{
	struct buf b = { 0 };
	struct curl_slist *hdr = NULL;
	CURL *c = handle_get(e);
	CURLcode cc;
	long code = 0;
	json_t *j = NULL, *jc;
	int rc;

	if (!c)
		return -ENOMEM;
	if (est_curl_member(e, c, m, path)) {
		rc = -ENOMEM;
		goto out;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, est_buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(why, wlen, "%s: %s", e->urls[m],
			 curl_easy_strerror(cc));
		rc = 1;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	j = b.p ? json_loads(b.p, 0, NULL) : NULL;
	if (code == 200 && json_is_object(j)) {
		*resp = j;
		j = NULL;
		rc = 0;
		goto out;
	}
	jc = json_object_get(j, "code");
	snprintf(why, wlen, "%s: HTTP %ld: %s", e->urls[m], code,
		 json_string_value(json_object_get(j, "error")) ?
			 json_string_value(json_object_get(j, "error")) :
			 "bad answer");
	switch (json_integer_value(jc)) {
	case 5: /* NotFound: a lease */
		rc = -ENOENT;
		break;
	case 3: /* InvalidArgument */
	case 11: /* OutOfRange: a compacted revision */
		rc = -EINVAL;
		break;
	case 4: /* DeadlineExceeded */
	case 14: /* Unavailable: no leader, stopping, … */
		rc = 1;
		break;
	default:
		rc = code >= 500 || !j ? 1 : -EIO;
	}
	if (rc < 0)
		log_warn("etcd %s", why);
out:
	json_decref(j);
	free(b.p);
	curl_slist_free_all(hdr);
	/* A failed transfer may have left a broken connection: drop it. */
	if (rc == 1)
		curl_easy_cleanup(c);
	else
		handle_put(e, c);
	return rc;
}

/* POST to the cluster: the member that answered last first, then the
 * others. -ENOTCONN when none answers. */
int est_post(struct etcd_store *e, const char *path, json_t *body,
	     json_t **resp)
{
	char *text = json_dumps(body, JSON_COMPACT);
	char why[512] = "no member";
	size_t start, i;
	int rc = -ENOTCONN;

	*resp = NULL;
	if (!text)
		return -ENOMEM;
	pthread_mutex_lock(&e->mu);
	start = e->cur;
	pthread_mutex_unlock(&e->mu);
	for (i = 0; i < e->n_urls; i++) {
		size_t m = (start + i) % e->n_urls;

		rc = post_one(e, m, path, text, resp, why, sizeof(why));
		if (rc <= 0) {
			note_up(e, m);
			break;
		}
		log_debug("etcd %s, trying the next member", why);
	}
	if (rc > 0) {
		note_down(e, why);
		rc = -ENOTCONN;
	}
	free(text);
	return rc;
}

/* --- small KV helpers --- */

static int kv_cmp_create(const void *a, const void *b)
{
	const struct etcd_kv *x = a, *y = b;

	return x->create_rev < y->create_rev ? -1 :
	       x->create_rev > y->create_rev ? 1 :
					       0;
}

/* Range read; *rev = the store revision of the read. Sorted by key, or by
 * creation (the insertion order SQLite's rowid gives) when by_create. */
int est_range(struct etcd_store *e, const char *key, bool prefix,
	      bool by_create, struct etcd_kv **kvs, size_t *n, int64_t *rev)
{
	json_t *req = etcd_range_req(key, prefix), *resp = NULL;
	int rc;

	*kvs = NULL;
	*n = 0;
	rc = est_post(e, "/v3/kv/range", req, &resp);
	json_decref(req);
	if (rc)
		return rc;
	rc = etcd_kvs_decode(json_object_get(resp, "kvs"), kvs, n);
	if (!rc && rev)
		*rev = etcd_int(json_object_get(resp, "header"), "revision");
	if (!rc && by_create && *n > 1)
		qsort(*kvs, *n, sizeof(**kvs), kv_cmp_create);
	json_decref(resp);
	return rc;
}

int est_get1(struct etcd_store *e, const char *key, struct etcd_kv *kv)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int rc;

	memset(kv, 0, sizeof(*kv));
	rc = est_range(e, key, false, false, &kvs, &n, NULL);
	if (rc)
		return rc;
	if (!n) {
		free(kvs);
		return -ENOENT;
	}
	*kv = kvs[0];
	memset(&kvs[0], 0, sizeof(kvs[0]));
	etcd_kvs_free(kvs, n);
	return 0;
}

/* Run t; *ok = its compares held. */
int est_txn(struct etcd_store *e, const struct etcd_txn *t, bool *ok,
	    json_t **out)
{
	json_t *body = etcd_txn_json(t), *resp = NULL;
	int rc;

	*ok = false;
	if (out)
		*out = NULL;
	if (!body)
		return -ENOMEM;
	rc = est_post(e, "/v3/kv/txn", body, &resp);
	json_decref(body);
	if (rc)
		return rc;
	*ok = json_is_true(json_object_get(resp, "succeeded"));
	if (out)
		*out = resp;
	else
		json_decref(resp);
	return 0;
}

static void mine_put(struct etcd_store *e, const char *key, const char *val)
{
	pthread_mutex_lock(&e->mu);
	json_object_set_new(e->mine, key, json_string(val));
	pthread_mutex_unlock(&e->mu);
}

void est_mine_del(struct etcd_store *e, const char *key, bool prefix)
{
	const char *k;
	json_t *v;
	void *tmp;

	pthread_mutex_lock(&e->mu);
	if (!prefix)
		json_object_del(e->mine, key);
	else
		json_object_foreach_safe(e->mine, tmp, k,
					 v) if (!strncmp(k, key, strlen(key)))
			json_object_del(e->mine, k);
	pthread_mutex_unlock(&e->mu);
}

/* Remember what a successful txn put with our lease. */
void est_mine_note(struct etcd_store *e, const struct etcd_txn *t)
{
	json_t *op;
	size_t i;

	json_array_foreach(t->success, i, op) {
		json_t *p = json_object_get(op, "request_put");
		json_t *d = json_object_get(op, "request_delete_range");
		char *k = NULL, *v = NULL;

		if (p && json_object_get(p, "lease")) {
			k = etcd_b64_decode(
				json_string_value(json_object_get(p, "key")),
				NULL);
			v = etcd_b64_decode(
				json_string_value(json_object_get(p, "value")),
				NULL);
			if (k && v)
				mine_put(e, k, v);
		} else if (d) {
			k = etcd_b64_decode(
				json_string_value(json_object_get(d, "key")),
				NULL);
			if (k)
				est_mine_del(e, k,
					     json_object_get(d, "range_end") !=
						     NULL);
		}
		free(k);
		free(v);
	}
}

/* --- open / close --- */

static void etcd_close(struct store *st)
{
	struct etcd_store *e = to_etcd(st);

	if (!e)
		return;
	etcd_watch(st, NULL, NULL);
	pthread_mutex_lock(&e->stop_mu);
	e->stop = true;
	pthread_cond_broadcast(&e->stop_cv);
	pthread_mutex_unlock(&e->stop_mu);
	if (e->ka_started)
		pthread_join(e->ka_th, NULL);
	/* The lease is not revoked: a restart within the TTL keeps it. */
	for (size_t i = 0; i < e->n_urls; i++) {
		free(e->urls[i]);
		free(e->socks[i]);
	}
	json_decref(e->mine);
	est_handles_free(e);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->stop_mu);
	pthread_cond_destroy(&e->stop_cv);
	free(e);
}

static const struct store_ops etcd_ops = {
	.close = etcd_close,
	.network_create = etcd_network_create,
	.network_get = etcd_network_get,
	.network_list = etcd_network_list,
	.network_delete = etcd_network_delete,
	.guest_put = etcd_guest_put,
	.guest_get = etcd_guest_get,
	.guest_list = etcd_guest_list,
	.guest_delete = etcd_guest_delete,
	.container_add = etcd_container_add,
	.container_get = etcd_container_get,
	.container_list = etcd_container_list,
	.container_delete = etcd_container_delete,
	.container_set_ports = etcd_container_set_ports,
	.endpoint_set_aliases = etcd_endpoint_set_aliases,
	.endpoint_create = etcd_endpoint_create,
	.endpoint_delete = etcd_endpoint_delete,
	.endpoint_get = etcd_endpoint_get,
	.endpoint_list = etcd_endpoint_list,
	.guest_net_put = etcd_guest_net_put,
	.guest_net_get = etcd_guest_net_get,
	.guest_net_delete = etcd_guest_net_delete,
	.guest_net_list = etcd_guest_net_list,
	.watch = etcd_watch,
};

/* One member of "etcd+unix://": an absolute path that fits sun_path. */
static int add_unix_member(struct etcd_store *e, const char *path)
{
	struct sockaddr_un sun;
	char name[sizeof(sun.sun_path) + 8];

	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path))
		return -EINVAL;
	snprintf(name, sizeof(name), "unix:%s", path);
	e->urls[e->n_urls] = strdup(name);
	e->socks[e->n_urls] = strdup(path);
	if (!e->urls[e->n_urls] || !e->socks[e->n_urls]) {
		free(e->urls[e->n_urls]);
		free(e->socks[e->n_urls]);
		e->urls[e->n_urls] = e->socks[e->n_urls] = NULL;
		return -ENOMEM;
	}
	e->n_urls++;
	return 0;
}

/* One member of "etcd://": HOST:PORT → http://HOST:PORT. */
static int add_tcp_member(struct etcd_store *e, const char *hp)
{
	char url[300];

	if (strlen(hp) > 255 || strpbrk(hp, " \t?#@/"))
		return -EINVAL;
	snprintf(url, sizeof(url), "http://%s", hp);
	e->urls[e->n_urls] = strdup(url);
	if (!e->urls[e->n_urls])
		return -ENOMEM;
	e->n_urls++;
	return 0;
}

/* "etcd://h:p,h:p[/]" → http://h:p each; "etcd+unix:///path,/path" → the
 * members' unix sockets (etcd --listen-client-urls unix://...). */
static int parse_members(struct etcd_store *e, const char *uri)
{
	bool unix_ = !strncmp(uri, STORE_ETCD_UNIX, strlen(STORE_ETCD_UNIX));
	const char *p = uri + strlen(unix_ ? STORE_ETCD_UNIX : STORE_ETCD_TCP);
	char *copy = strdup(p), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	/* Drop a trailing path ("etcd://h:p/"). */
	tok = unix_ ? NULL : strchr(copy, '/');
	if (tok)
		*tok = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (e->n_urls == MAX_MEMBERS) {
			rc = -EINVAL;
			break;
		}
		rc = unix_ ? add_unix_member(e, tok) : add_tcp_member(e, tok);
		if (rc)
			break;
	}
	free(copy);
	return rc ? rc : e->n_urls ? 0 : -EINVAL;
}

struct store *store_etcd_open(const char *uri, const char *host_id,
			      int lease_ttl_s)
{
	return store_etcd_open_ex(uri, host_id, lease_ttl_s, false);
}

struct store *store_etcd_open_ex(const char *uri, const char *host_id,
				 int lease_ttl_s, bool must_reach)
{
	struct etcd_store *e;
	char hn[HOST_NAME_MAX + 1] = "";
	int rc;

	if (!store_uri_is_etcd(uri) || strlen(uri) >= 1024) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&curl_once, curl_init_once);
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->st.ops = &etcd_ops;
	snprintf(e->uri, sizeof(e->uri), "%s", uri);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->stop_mu, NULL);
	pthread_cond_init(&e->stop_cv, NULL);
	e->mine = json_object();
	e->ttl = lease_ttl_s > 0 ? lease_ttl_s : 10;
	if (!host_id || !*host_id) {
		gethostname(hn, sizeof(hn) - 1);
		host_id = hn;
	}
	snprintf(e->host_id, sizeof(e->host_id), "%s", host_id);
	rc = parse_members(e, uri);
	if (!rc && (!*e->host_id || strchr(e->host_id, '/')))
		rc = -EINVAL;
	if (rc) {
		log_err("store %s: want etcd://HOST:PORT[,HOST:PORT...] or etcd+unix:///PATH[,/PATH...]",
			uri);
		goto fail;
	}
	/* Unreachable now is not fatal: the lease is taken when etcd
	 * answers, and calls fail with -ENOTCONN until then. */
	rc = est_lease_acquire(e, true);
	if (rc && (rc != -ENOTCONN || must_reach)) {
		log_err("store %s: cannot get a lease: %s", uri, strerror(-rc));
		goto fail;
	}
	rc = pthread_create(&e->ka_th, NULL, est_ka_main, e);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	e->ka_started = true;
	return &e->st;
fail:
	etcd_close(&e->st);
	errno = -rc;
	return NULL;
}
