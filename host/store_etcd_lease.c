// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd store, part 2: the host's lease (acquired, kept alive from a
 * thread, its keys registered again after a loss) and the watch thread on
 * /wgnet/v1/. See store_etcd.c and docs/etcd.md.
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
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "etcd.h"
#include "ipam.h"
#include "wgnet/log.h"
#include "store.h"

#include "store_etcd_int.h"

/* --- the lease --- */

static int keepalive_once(struct etcd_store *e, int64_t lease, int64_t *ttl)
{
	json_t *req = json_pack("{s:I}", "ID", (json_int_t)lease), *resp = NULL;
	int rc;

	*ttl = 0;
	rc = est_post(e, "/v3/lease/keepalive", req, &resp);
	json_decref(req);
	if (rc)
		return rc;
	/* A stream of one answer; an unknown lease comes back without TTL. */
	*ttl = etcd_int(json_object_get(resp, "result"), "TTL");
	json_decref(resp);
	return 0;
}

/* Register the keys we wrote again under the new lease (after ours
 * expired while we could not reach etcd). A key someone else took in the
 * meantime stays theirs. */
static void reregister(struct etcd_store *e, int64_t lease)
{
	json_t *copy, *v;
	const char *k;
	int lost = 0, kept = 0;

	pthread_mutex_lock(&e->mu);
	copy = json_deep_copy(e->mine);
	pthread_mutex_unlock(&e->mu);
	json_object_foreach(copy, k, v) {
		struct etcd_txn t;
		bool ok = false;

		etcd_txn_init(&t);
		etcd_txn_cmp(&t, k, false, "CREATE", "EQUAL", 0);
		etcd_txn_put(&t, k, json_string_value(v), lease);
		if (est_txn(e, &t, &ok, NULL) || !ok) {
			lost++;
			est_mine_del(e, k, false);
		} else {
			kept++;
		}
		etcd_txn_clear(&t);
	}
	json_decref(copy);
	if (kept || lost)
		log_warn("registered %d key(s) again under lease %" PRIx64
			 "; %d taken meanwhile",
			 kept, (uint64_t)lease, lost);
}

/* Get a lease: the one an earlier run of this host left (if it is still
 * alive: a restart within the TTL changes nothing), or a new one. */
int est_lease_acquire(struct etcd_store *e, bool reuse)
{
	char key[ETCD_KEY_LEN], val[512];
	struct etcd_kv kv;
	json_t *req, *resp = NULL, *o;
	int64_t lease = 0, ttl = 0;
	struct etcd_txn t;
	bool ok = false;
	int rc;

	rc = etcd_key(key, sizeof(key), "hosts", e->host_id, NULL);
	if (rc)
		return rc;
	if (reuse && !est_get1(e, key, &kv)) {
		o = json_loads(kv.val, 0, NULL);
		lease = etcd_int(o, "lease");
		json_decref(o);
		etcd_kv_clear(&kv);
		if (lease && !keepalive_once(e, lease, &ttl) && ttl > 0)
			log_info("host %s: keeping lease %" PRIx64
				 " of an earlier run (%" PRId64 " s left)",
				 e->host_id, (uint64_t)lease, ttl);
		else
			lease = 0;
	}
	if (!lease) {
		req = json_pack("{s:i}", "TTL", e->ttl);
		rc = est_post(e, "/v3/lease/grant", req, &resp);
		json_decref(req);
		if (rc)
			return rc;
		lease = etcd_int(resp, "ID");
		json_decref(resp);
		if (!lease)
			return -EIO;
		log_info("host %s: lease %" PRIx64 " (TTL %d s)", e->host_id,
			 (uint64_t)lease, e->ttl);
	}
	snprintf(val, sizeof(val),
		 "{\"id\":\"%s\",\"lease\":\"%" PRId64
		 "\",\"ttl\":%d,\"pid\":%d,\"started\":%lld}",
		 e->host_id, lease, e->ttl, (int)getpid(),
		 (long long)time(NULL));
	etcd_txn_init(&t);
	etcd_txn_put(&t, key, val, lease);
	rc = est_txn(e, &t, &ok, NULL);
	etcd_txn_clear(&t);
	if (rc)
		return rc;
	pthread_mutex_lock(&e->mu);
	e->lease = lease;
	pthread_mutex_unlock(&e->mu);
	reregister(e, lease);
	return 0;
}

/* Our lease, acquired on first need. */
int est_my_lease(struct etcd_store *e, int64_t *lease)
{
	int rc = 0;

	pthread_mutex_lock(&e->mu);
	*lease = e->lease;
	pthread_mutex_unlock(&e->mu);
	if (*lease)
		return 0;
	rc = est_lease_acquire(e, true);
	pthread_mutex_lock(&e->mu);
	*lease = e->lease;
	pthread_mutex_unlock(&e->mu);
	return rc ? rc : *lease ? 0 : -ENOTCONN;
}

/* A leased write failed with "lease not found": it expired. */
static void lease_lost(struct etcd_store *e, int64_t lease)
{
	pthread_mutex_lock(&e->mu);
	if (e->lease == lease)
		e->lease = 0;
	pthread_mutex_unlock(&e->mu);
}

/* Run a txn whose puts carry our lease; a lease that expired is replaced
 * once and the txn rebuilt by the caller (-EAGAIN). */
int est_txn_leased(struct etcd_store *e, const struct etcd_txn *t,
		   int64_t lease, bool *ok, json_t **out)
{
	int rc = est_txn(e, t, ok, out);

	if (rc == -ENOENT) {
		log_warn("host %s: lease %" PRIx64 " expired", e->host_id,
			 (uint64_t)lease);
		lease_lost(e, lease);
		return -EAGAIN;
	}
	if (!rc && *ok)
		est_mine_note(e, t);
	return rc;
}

static bool stop_wait(struct etcd_store *e, int ms)
{
	struct timespec ts;
	bool stop;

	deadline_in_ms(&ts, ms);
	pthread_mutex_lock(&e->stop_mu);
	if (!e->stop)
		pthread_cond_timedwait(&e->stop_cv, &e->stop_mu, &ts);
	stop = e->stop;
	pthread_mutex_unlock(&e->stop_mu);
	return stop;
}

void *est_ka_main(void *arg)
{
	struct etcd_store *e = arg;
	int every = e->ttl * 1000 / 3;

	if (every < 500)
		every = 500;
	while (!stop_wait(e, every)) {
		int64_t lease, ttl = 0;

		pthread_mutex_lock(&e->mu);
		lease = e->lease;
		pthread_mutex_unlock(&e->mu);
		if (!lease) {
			est_lease_acquire(e, true);
			continue;
		}
		if (keepalive_once(e, lease, &ttl))
			continue; /* unreachable: logged, retried */
		if (ttl <= 0) {
			log_warn("host %s: lease %" PRIx64
				 " expired: registering again",
				 e->host_id, (uint64_t)lease);
			lease_lost(e, lease);
			est_lease_acquire(e, false);
		}
	}
	return NULL;
}

/* --- the watch --- */

struct wctx {
	struct etcd_store *e;
	struct buf b;
	bool created;
	bool resync; /* tell "everything" once the watch is up */
	bool abort;
	json_t *dirty; /* network ids seen in this chunk */
	bool all;
};

static void w_event(struct wctx *w, json_t *ev)
{
	struct etcd_kv kv, prev = { 0 };
	bool del = json_is_string(json_object_get(ev, "type")) &&
		   !strcmp(json_string_value(json_object_get(ev, "type")),
			   "DELETE");
	json_t *pk = json_object_get(ev, "prev_kv");
	char buf[ST_ID_LEN + 8];
	const char *nid;

	if (etcd_kv_decode(json_object_get(ev, "kv"), &kv))
		return;
	if (pk && etcd_kv_decode(pk, &prev))
		memset(&prev, 0, sizeof(prev));
	if (kv.mod_rev > w->e->w_rev)
		w->e->w_rev = kv.mod_rev;
	nid = etcd_key_network(kv.key, del ? NULL : kv.val, prev.val, buf,
			       sizeof(buf));
	if (nid && !strcmp(nid, "*"))
		w->all = true;
	else if (nid)
		json_object_set_new(w->dirty, nid, json_true());
	log_debug("watch: %s %s", del ? "delete" : "put", kv.key);
	etcd_kv_clear(&kv);
	etcd_kv_clear(&prev);
}

static void w_message(struct wctx *w, json_t *msg)
{
	json_t *res = json_object_get(msg, "result"), *ev;
	size_t i;

	if (!res) {
		log_warn("watch: %s",
			 json_string_value(json_object_get(msg, "error")) ?
				 json_string_value(
					 json_object_get(msg, "error")) :
				 "unexpected message");
		w->abort = true;
		return;
	}
	if (json_is_true(json_object_get(res, "created")) && !w->created) {
		w->created = true;
		if (w->resync)
			w->all = true;
		w->resync = false;
		log_info("watching %s from revision %" PRId64, ETCD_PREFIX,
			 w->e->w_rev + 1);
	}
	if (etcd_int(res, "compact_revision")) {
		log_warn("watch: revision %" PRId64
			 " compacted: full resync",
			 w->e->w_rev + 1);
		w->e->w_rev = 0;
		w->all = true;
		w->abort = true;
	} else if (json_is_true(json_object_get(res, "canceled"))) {
		w->abort = true;
	}
	json_array_foreach(json_object_get(res, "events"), i, ev)
		w_event(w, ev);
}

static void w_deliver(struct wctx *w)
{
	struct etcd_store *e = w->e;
	const char *k;
	json_t *v;

	if (!e->w_fn || atomic_load(&e->w_stop))
		goto out;
	if (w->all) {
		e->w_fn(e->w_arg, NULL);
		goto out;
	}
	json_object_foreach(w->dirty, k, v)
		e->w_fn(e->w_arg, k);
out:
	w->all = false;
	json_object_clear(w->dirty);
}

static size_t w_write(char *ptr, size_t sz, size_t nm, void *ud)
{
	struct wctx *w = ud;
	size_t add = sz * nm;
	char *nl;

	if (!est_buf_write(ptr, sz, nm, &w->b))
		return 0;
	/* One JSON object per line. */
	while (w->b.p && (nl = memchr(w->b.p, '\n', w->b.n))) {
		size_t len = (size_t)(nl - w->b.p) + 1;
		json_t *msg = json_loadb(w->b.p, len, 0, NULL);

		if (msg)
			w_message(w, msg);
		json_decref(msg);
		memmove(w->b.p, w->b.p + len, w->b.n - len);
		w->b.n -= len;
		w->b.p[w->b.n] = 0;
	}
	w_deliver(w);
	return w->abort ? 0 : add;
}

static int w_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		      curl_off_t d)
{
	struct wctx *w = ud;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&w->e->w_stop) ? 1 : 0;
}

/* The current revision (to start watching from when we have none). */
static int current_rev(struct etcd_store *e, int64_t *rev)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int rc;

	etcd_key(key, sizeof(key), "hosts", e->host_id, NULL);
	rc = est_range(e, key, false, false, &kvs, &n, rev);
	etcd_kvs_free(kvs, n);
	return rc;
}

/* One watch stream until it ends; false if it could not even start. */
static bool watch_once(struct etcd_store *e, struct wctx *w, size_t m)
{
	char *text = NULL, *end = NULL;
	struct curl_slist *hdr = NULL;
	json_t *req = NULL, *cr;
	CURL *c = NULL;
	CURLcode cc;

	w->created = false;
	if (!e->w_rev && current_rev(e, &e->w_rev))
		return false;
	end = etcd_prefix_end(ETCD_PREFIX);
	cr = etcd_range_req(ETCD_PREFIX, true);
	json_object_set_new(cr, "start_revision",
			    json_integer(e->w_rev + 1));
	json_object_set_new(cr, "prev_kv", json_true());
	req = json_pack("{s:o}", "create_request", cr);
	text = json_dumps(req, JSON_COMPACT);
	c = curl_easy_init();
	if (!text || !c)
		goto out;
	if (est_curl_member(e, c, m, "/v3/watch"))
		goto out;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, w_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, w_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	w->created = false;
	w->abort = false;
	free(w->b.p);
	w->b.p = NULL;
	w->b.n = 0;
	cc = curl_easy_perform(c);
	/* Once per outage, not once per attempt. */
	if (!atomic_load(&e->w_stop) && w->created)
		log_warn("watch on %s ended: %s", e->urls[m],
			 cc == CURLE_OK ? "closed by the server" :
					  curl_easy_strerror(cc));
	else
		log_debug("watch on %s: %s", e->urls[m],
			  curl_easy_strerror(cc));
out:
	curl_slist_free_all(hdr);
	if (c)
		curl_easy_cleanup(c);
	free(text);
	free(end);
	json_decref(req);
	return w->created;
}

static void *watch_main(void *arg)
{
	struct etcd_store *e = arg;
	struct wctx w = { .e = e };
	size_t m;

	w.dirty = json_object();
	pthread_mutex_lock(&e->mu);
	m = e->cur;
	pthread_mutex_unlock(&e->mu);
	while (!atomic_load(&e->w_stop)) {
		watch_once(e, &w, m);
		if (atomic_load(&e->w_stop))
			break;
		/* Whatever happened while we were not watching: resync
		 * everything once the watch is back. */
		w.resync = true;
		m = (m + 1) % e->n_urls;
		for (int i = 0; i < 10 && !atomic_load(&e->w_stop); i++)
			usleep(100 * 1000);
	}
	free(w.b.p);
	json_decref(w.dirty);
	return NULL;
}

int etcd_watch(struct store *st, store_change_fn fn, void *arg)
{
	struct etcd_store *e = to_etcd(st);
	int rc;

	if (!fn) {
		if (e->w_started) {
			atomic_store(&e->w_stop, true);
			pthread_join(e->w_th, NULL);
			e->w_started = false;
		}
		return 0;
	}
	if (e->w_started)
		return -EBUSY;
	e->w_fn = fn;
	e->w_arg = arg;
	atomic_store(&e->w_stop, false);
	rc = pthread_create(&e->w_th, NULL, watch_main, e);
	if (rc)
		return -rc;
	e->w_started = true;
	return 0;
}
