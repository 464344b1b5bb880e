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
#include <time.h>
#include <unistd.h>

#include "wgnet/etcd.h"
#include "wgnet/ipam.h"
#include "wgnet/log.h"
#include "wgnet/store.h"

#define MAX_MEMBERS 16
#define CONNECT_TIMEOUT_MS 1000
#define REQUEST_TIMEOUT_MS 5000
#define ALLOC_RETRIES 64 /* endpoint_create losing the address race */
#define TXN_RETRIES 16 /* other compare-and-swap loops */
#define MAX_RESPONSE (64u << 20)

struct etcd_store {
	struct store st; /* first: to_etcd() relies on it */
	char uri[1024];
	char *urls[MAX_MEMBERS]; /* "http://h:p" */
	size_t n_urls;
	char host_id[ST_NAME_LEN];
	int ttl;

	pthread_mutex_t mu; /* cur, lease, mine, down */
	size_t cur; /* the member that answered last */
	int64_t lease;
	json_t *mine; /* leased key → value, to register again */
	bool down; /* "unreachable" logged */

	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
	pthread_t ka_th;
	bool ka_started;

	pthread_t w_th;
	bool w_started;
	atomic_bool w_stop;
	store_change_fn w_fn;
	void *w_arg;
	int64_t w_rev; /* last revision seen by the watch */
};

static struct etcd_store *to_etcd(struct store *st)
{
	return (struct etcd_store *)st;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- HTTP --- */

struct buf {
	char *p;
	size_t n;
};

static size_t buf_write(char *ptr, size_t sz, size_t nm, void *ud)
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

/* One POST to one member. 1 = try the next member, 0 = *resp set,
 * -errno = an answer that is an error. */
static int post_one(struct etcd_store *e, size_t m, const char *path,
		    const char *body, json_t **resp, char *why, size_t wlen)
{
	char url[512];
	struct buf b = { 0 };
	struct curl_slist *hdr = NULL;
	CURL *c = curl_easy_init();
	CURLcode cc;
	long code = 0;
	json_t *j = NULL, *jc;
	int rc;

	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s%s", e->urls[m], path);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
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
	curl_easy_cleanup(c);
	return rc;
}

/* POST to the cluster: the member that answered last first, then the
 * others. -ENOTCONN when none answers. */
static int post(struct etcd_store *e, const char *path, json_t *body,
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
static int range(struct etcd_store *e, const char *key, bool prefix,
		 bool by_create, struct etcd_kv **kvs, size_t *n, int64_t *rev)
{
	json_t *req = etcd_range_req(key, prefix), *resp = NULL;
	int rc;

	*kvs = NULL;
	*n = 0;
	rc = post(e, "/v3/kv/range", req, &resp);
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

static int get1(struct etcd_store *e, const char *key, struct etcd_kv *kv)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int rc;

	memset(kv, 0, sizeof(*kv));
	rc = range(e, key, false, false, &kvs, &n, NULL);
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
static int txn(struct etcd_store *e, const struct etcd_txn *t, bool *ok,
	       json_t **out)
{
	json_t *body = etcd_txn_json(t), *resp = NULL;
	int rc;

	*ok = false;
	if (out)
		*out = NULL;
	if (!body)
		return -ENOMEM;
	rc = post(e, "/v3/kv/txn", body, &resp);
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

static void mine_del(struct etcd_store *e, const char *key, bool prefix)
{
	const char *k;
	json_t *v;
	void *tmp;

	pthread_mutex_lock(&e->mu);
	if (!prefix)
		json_object_del(e->mine, key);
	else
		json_object_foreach_safe(e->mine, tmp, k, v)
			if (!strncmp(k, key, strlen(key)))
				json_object_del(e->mine, k);
	pthread_mutex_unlock(&e->mu);
}

/* Remember what a successful txn put with our lease. */
static void mine_note(struct etcd_store *e, const struct etcd_txn *t)
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
				mine_del(e, k,
					 json_object_get(d, "range_end") !=
						 NULL);
		}
		free(k);
		free(v);
	}
}

/* --- the lease --- */

static int keepalive_once(struct etcd_store *e, int64_t lease, int64_t *ttl)
{
	json_t *req = json_pack("{s:I}", "ID", (json_int_t)lease), *resp = NULL;
	int rc;

	*ttl = 0;
	rc = post(e, "/v3/lease/keepalive", req, &resp);
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
		if (txn(e, &t, &ok, NULL) || !ok) {
			lost++;
			mine_del(e, k, false);
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
static int lease_acquire(struct etcd_store *e, bool reuse)
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
	if (reuse && !get1(e, key, &kv)) {
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
		rc = post(e, "/v3/lease/grant", req, &resp);
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
	rc = txn(e, &t, &ok, NULL);
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
static int my_lease(struct etcd_store *e, int64_t *lease)
{
	int rc = 0;

	pthread_mutex_lock(&e->mu);
	*lease = e->lease;
	pthread_mutex_unlock(&e->mu);
	if (*lease)
		return 0;
	rc = lease_acquire(e, true);
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
static int txn_leased(struct etcd_store *e, const struct etcd_txn *t,
		      int64_t lease, bool *ok, json_t **out)
{
	int rc = txn(e, t, ok, out);

	if (rc == -ENOENT) {
		log_warn("host %s: lease %" PRIx64 " expired", e->host_id,
			 (uint64_t)lease);
		lease_lost(e, lease);
		return -EAGAIN;
	}
	if (!rc && *ok)
		mine_note(e, t);
	return rc;
}

static bool stop_wait(struct etcd_store *e, int ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->stop_mu);
	if (!e->stop)
		pthread_cond_timedwait(&e->stop_cv, &e->stop_mu, &ts);
	stop = e->stop;
	pthread_mutex_unlock(&e->stop_mu);
	return stop;
}

static void *ka_main(void *arg)
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
			lease_acquire(e, true);
			continue;
		}
		if (keepalive_once(e, lease, &ttl))
			continue; /* unreachable: logged, retried */
		if (ttl <= 0) {
			log_warn("host %s: lease %" PRIx64
				 " expired: registering again",
				 e->host_id, (uint64_t)lease);
			lease_lost(e, lease);
			lease_acquire(e, false);
		}
	}
	return NULL;
}

/* --- ids --- */

static int new_id(char out[ST_ID_LEN])
{
	uint8_t b[32];
	bool numeric;
	int i;

	do {
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -EIO;
		for (i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", b[i]);
		numeric = true;
		for (i = 0; i < 12; i++)
			if (!strchr("0123456789e", out[i]))
				numeric = false;
	} while (numeric);
	return 0;
}

static int random_mac(char out[18])
{
	uint8_t b[6];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	b[0] = (b[0] & 0xfe) | 0x02;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5]);
	return 0;
}

/* Exact name, exact id, then a unique id prefix, over an array of objects
 * (name and id at the given addresses of the first one). */
static int resolve(const char *ref, const char *name0, const char *id0,
		   size_t stride, size_t n, size_t *idx)
{
	size_t i, hits = 0, len;

	if (!ref || !*ref)
		return -ENOENT;
	for (i = 0; i < n; i++)
		if (!strcmp(name0 + i * stride, ref))
			goto found;
	for (i = 0; i < n; i++)
		if (!strcmp(id0 + i * stride, ref))
			goto found;
	len = strlen(ref);
	for (size_t k = 0; k < n; k++)
		if (!strncmp(id0 + k * stride, ref, len)) {
			hits++;
			i = k;
		}
	if (hits == 1)
		goto found;
	return hits ? -EINVAL : -ENOENT;
found:
	*idx = i;
	return 0;
}

/* --- networks --- */

static int list_networks(struct etcd_store *e, struct st_network **out,
			 size_t *n, struct etcd_kv **kvs_out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	etcd_key(key, sizeof(key), "networks/", NULL, NULL);
	rc = range(e, key, true, true, &kvs, &nk, NULL);
	if (rc)
		return rc;
	*out = calloc(nk ? nk : 1, sizeof(**out));
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nk; i++) {
		rc = etcd_network_dec(kvs[i].val, &(*out)[i]);
		if (rc) {
			log_err("store: bad value at %s", kvs[i].key);
			free(*out);
			*out = NULL;
			goto out;
		}
	}
	*n = nk;
out:
	if (kvs_out && !rc) {
		*kvs_out = kvs;
		return 0;
	}
	etcd_kvs_free(kvs, nk);
	return rc;
}

static int check_family(const char *name, int fam,
			const struct ip_prefix *subnet,
			const struct ip_prefix *range_,
			const struct ip_addr *gw, struct ip_prefix *osub,
			struct ip_prefix *orange, struct ip_addr *ogw)
{
	const char *why = NULL;
	int err;

	if (!subnet->addr.family) {
		if (range_->addr.family || gw->family) {
			log_info(
				"network %s: ip-range and gateway need a subnet",
				name);
			return -EINVAL;
		}
		return 0;
	}
	if (subnet->addr.family != fam)
		return -EINVAL;
	*osub = *subnet;
	*orange = *range_;
	*ogw = *gw;
	err = ipam_check_network(osub, orange, ogw, &why);
	if (err)
		log_info("network %s: %s", name, why ? why : strerror(-err));
	return err;
}

/* Pick the subnet (or check the given one) against every other network. */
static int net_place(struct st_network *n, const struct st_network *all,
		     size_t nall)
{
	struct ip_prefix *used = calloc(2 * nall + 1, sizeof(*used));
	char b1[IPNET_STRLEN], b2[IPNET_STRLEN];
	const char *why = NULL;
	size_t nu = 0, i;
	int rc = 0;

	if (!used)
		return -ENOMEM;
	for (i = 0; i < nall; i++) {
		if (all[i].subnet4.addr.family)
			used[nu++] = all[i].subnet4;
		if (all[i].subnet6.addr.family)
			used[nu++] = all[i].subnet6;
	}
	if (!n->subnet4.addr.family) {
		rc = ipam_auto_subnet4(used, nu, &n->subnet4);
		if (rc) {
			log_info(
				"network %s: the default address pools are exhausted",
				n->name);
			goto out;
		}
		memset(&n->gw4, 0, sizeof(n->gw4));
		rc = ipam_check_network(&n->subnet4, NULL, &n->gw4, &why);
		if (rc)
			goto out;
	}
	for (i = 0; i < nu; i++) {
		const struct ip_prefix *mine = used[i].addr.family == AF_INET ?
						       &n->subnet4 :
						       &n->subnet6;

		if (mine->addr.family && prefix_overlap(mine, &used[i])) {
			log_info("network %s: subnet %s overlaps %s", n->name,
				 prefix_fmt(mine, b1), prefix_fmt(&used[i], b2));
			rc = -EADDRINUSE;
			goto out;
		}
	}
out:
	free(used);
	return rc;
}

static int etcd_network_create(struct store *st,
			       const struct st_network_req *req,
			       struct st_network *out)
{
	struct etcd_store *e = to_etcd(st);
	char lock_key[ETCD_KEY_LEN], name_key[ETCD_KEY_LEN],
		net_key[ETCD_KEY_LEN];
	struct st_network n, base;
	int rc, attempt;

	if (!req->name[0] || strlen(req->name) >= sizeof(req->name) ||
	    strchr(req->name, '/'))
		return -EINVAL;
	memset(&base, 0, sizeof(base));
	snprintf(base.name, sizeof(base.name), "%s", req->name);
	snprintf(base.driver, sizeof(base.driver), "%s",
		 req->driver[0] ? req->driver : "wgnet");
	snprintf(base.labels, sizeof(base.labels), "%s",
		 req->labels[0] ? req->labels : "{}");
	snprintf(base.options, sizeof(base.options), "%s",
		 req->options[0] ? req->options : "{}");
	base.internal = req->internal;
	rc = check_family(base.name, AF_INET, &req->subnet4, &req->range4,
			  &req->gw4, &base.subnet4, &base.range4, &base.gw4);
	if (!rc)
		rc = check_family(base.name, AF_INET6, &req->subnet6,
				  &req->range6, &req->gw6, &base.subnet6,
				  &base.range6, &base.gw6);
	if (rc)
		return rc;
	if (req->ipv6 && !base.subnet6.addr.family) {
		log_info("network %s: IPv6 needs an IPv6 subnet", base.name);
		return -EINVAL;
	}
	base.ipv6 = base.subnet6.addr.family != 0;
	etcd_key(lock_key, sizeof(lock_key), "subnets-lock/", NULL, NULL);
	lock_key[strlen(lock_key) - 1] = 0; /* "/wgnet/v1/subnets-lock" */
	rc = etcd_key(name_key, sizeof(name_key), "names", base.name, NULL);
	if (rc)
		return rc;

	for (attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct st_network *all = NULL;
		struct etcd_kv lock;
		struct etcd_txn t;
		size_t nall = 0, i;
		int64_t lock_rev = 0;
		bool ok = false;
		char *val;

		/* The lock's revision first: anything created after this
		 * read moves it, so the txn below fails and we read again. */
		rc = get1(e, lock_key, &lock);
		if (rc && rc != -ENOENT)
			return rc;
		if (!rc)
			lock_rev = lock.mod_rev;
		etcd_kv_clear(&lock);
		rc = list_networks(e, &all, &nall, NULL);
		if (rc)
			return rc;
		for (i = 0; i < nall; i++)
			if (!strcmp(all[i].name, base.name))
				break;
		if (i < nall) {
			free(all);
			log_info("network %s already exists", base.name);
			return -EEXIST;
		}
		n = base;
		rc = net_place(&n, all, nall);
		free(all);
		if (rc)
			return rc;
		rc = new_id(n.id);
		if (rc)
			return rc;
		n.created = time(NULL);
		etcd_key(net_key, sizeof(net_key), "networks", n.id, NULL);
		val = etcd_network_enc(&n);
		if (!val)
			return -ENOMEM;
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, lock_key, false, "MOD", "EQUAL", lock_rev);
		etcd_txn_cmp(&t, name_key, false, "CREATE", "EQUAL", 0);
		etcd_txn_put(&t, net_key, val, 0);
		etcd_txn_put(&t, name_key, n.id, 0);
		etcd_txn_put(&t, lock_key, n.id, 0);
		rc = txn(e, &t, &ok, NULL);
		etcd_txn_clear(&t);
		free(val);
		if (rc)
			return rc;
		if (ok) {
			*out = n;
			return 0;
		}
		log_debug("network %s: another network was created meanwhile, again",
			  n.name);
	}
	log_err("store %s: network creation keeps colliding", e->uri);
	return -EIO;
}

static int etcd_network_get(struct store *st, const char *ref,
			    struct st_network *out)
{
	struct st_network *all = NULL;
	size_t n = 0, i;
	int rc;

	rc = list_networks(to_etcd(st), &all, &n, NULL);
	if (rc)
		return rc;
	rc = resolve(ref, all[0].name, all[0].id, sizeof(*all), n, &i);
	if (!rc)
		*out = all[i];
	free(all);
	return rc;
}

static int etcd_network_list(struct store *st, struct st_network **out,
			     size_t *n)
{
	return list_networks(to_etcd(st), out, n, NULL);
}

/* The guest_nets of a network (keys guestnets/<guest>/<net>). */
static int guest_net_kvs(struct etcd_store *e, const char *network_id,
			 const char *guest, struct etcd_kv **out, size_t *n)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0, k = 0;
	int rc;

	if (guest) {
		rc = etcd_key(key, sizeof(key), "guestnets", guest, NULL);
		if (rc)
			return rc;
		strcat(key, "/");
	} else {
		etcd_key(key, sizeof(key), "guestnets/", NULL, NULL);
	}
	rc = range(e, key, true, false, &kvs, &nk, NULL);
	if (rc)
		return rc;
	for (size_t i = 0; i < nk; i++) {
		const char *slash = strrchr(kvs[i].key, '/');

		if (!network_id || (slash && !strcmp(slash + 1, network_id))) {
			struct etcd_kv tmp = kvs[k];

			kvs[k++] = kvs[i];
			kvs[i] = tmp;
		}
	}
	for (size_t i = k; i < nk; i++)
		etcd_kv_clear(&kvs[i]);
	*out = kvs;
	*n = k;
	return 0;
}

static int etcd_network_delete(struct store *st, const char *ref)
{
	struct etcd_store *e = to_etcd(st);
	int rc = -EIO;

	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct st_network *all = NULL;
		struct etcd_kv *kvs = NULL, *gkv = NULL;
		size_t n = 0, i, ngk = 0;
		char key[ETCD_KEY_LEN], eps[ETCD_KEY_LEN],
			name_key[ETCD_KEY_LEN];
		struct etcd_txn t;
		bool ok = false;

		rc = list_networks(e, &all, &n, &kvs);
		if (rc)
			return rc;
		rc = resolve(ref, n ? all[0].name : "", n ? all[0].id : "",
			     sizeof(*all), n, &i);
		if (!rc)
			rc = guest_net_kvs(e, all[i].id, NULL, &gkv, &ngk);
		if (rc)
			goto next;
		etcd_key(key, sizeof(key), "networks", all[i].id, NULL);
		etcd_key(eps, sizeof(eps), "endpoints", all[i].id, NULL);
		strcat(eps, "/");
		etcd_key(name_key, sizeof(name_key), "names", all[i].name,
			 NULL);
		etcd_txn_init(&t);
		/* No endpoint under it (an empty range compares as 0). */
		etcd_txn_cmp(&t, eps, true, "CREATE", "EQUAL", 0);
		etcd_txn_cmp(&t, key, false, "MOD", "EQUAL", kvs[i].mod_rev);
		etcd_txn_del(&t, key, false);
		etcd_txn_del(&t, name_key, false);
		for (size_t k = 0; k < ngk; k++)
			etcd_txn_del(&t, gkv[k].key, false);
		rc = txn(e, &t, &ok, NULL);
		if (!rc && ok)
			mine_note(e, &t);
		etcd_txn_clear(&t);
		if (!rc && !ok) {
			struct etcd_kv *ek = NULL;
			size_t ne = 0;

			rc = range(e, eps, true, false, &ek, &ne, NULL);
			etcd_kvs_free(ek, ne);
			if (!rc && ne) {
				log_info("network %s has active endpoints",
					 all[i].name);
				rc = -EBUSY;
			} else if (!rc) {
				rc = -EAGAIN;
			}
		}
next:
		etcd_kvs_free(gkv, ngk);
		etcd_kvs_free(kvs, n);
		free(all);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EIO;
}

/* --- guests --- */

static int etcd_guest_put(struct store *st, const struct st_guest *g)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN], *val;
	struct etcd_txn t;
	int64_t lease = 0;
	bool ok;
	int rc;

	rc = etcd_key(key, sizeof(key), "guests", g->name, NULL);
	if (rc)
		return rc;
	if (!strcmp(g->host_id, e->host_id)) {
		pthread_mutex_lock(&e->mu);
		lease = e->lease;
		pthread_mutex_unlock(&e->mu);
	}
	val = etcd_guest_enc(g, lease);
	if (!val)
		return -ENOMEM;
	/* Not on the lease: a guest outlives its host's absence (its host
	 * replays it when it comes back). */
	etcd_txn_init(&t);
	etcd_txn_put(&t, key, val, 0);
	rc = txn(e, &t, &ok, NULL);
	etcd_txn_clear(&t);
	free(val);
	return rc;
}

static int etcd_guest_get(struct store *st, const char *name,
			  struct st_guest *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	rc = etcd_key(key, sizeof(key), "guests", name, NULL);
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	rc = get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_guest_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

static int etcd_guest_list(struct store *st, struct st_guest **out, size_t *n)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*out = NULL;
	*n = 0;
	etcd_key(key, sizeof(key), "guests/", NULL, NULL);
	rc = range(to_etcd(st), key, true, false, &kvs, &nk, NULL);
	if (rc)
		return rc;
	*out = calloc(nk ? nk : 1, sizeof(**out));
	if (!*out)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < nk; i++)
		rc = etcd_guest_dec(kvs[i].val, &(*out)[i]);
	if (rc) {
		free(*out);
		*out = NULL;
	} else {
		*n = nk;
	}
	etcd_kvs_free(kvs, nk);
	return rc;
}

static int etcd_guest_delete(struct store *st, const char *name)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN], gn[ETCD_KEY_LEN];
	struct etcd_txn t;
	bool ok = false;
	int rc;

	rc = etcd_key(key, sizeof(key), "guests", name, NULL);
	if (!rc)
		rc = etcd_key(gn, sizeof(gn), "guestnets", name, NULL);
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	strcat(gn, "/");
	etcd_txn_init(&t);
	etcd_txn_cmp(&t, key, false, "CREATE", "GREATER", 0);
	etcd_txn_del(&t, key, false);
	etcd_txn_del(&t, gn, true);
	rc = txn(e, &t, &ok, NULL);
	if (!rc && ok)
		mine_note(e, &t);
	etcd_txn_clear(&t);
	return rc ? rc : ok ? 0 : -ENOENT;
}

/* --- containers --- */

static int list_containers(struct etcd_store *e, struct st_container **out,
			   size_t *n, struct etcd_kv **kvs_out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*out = NULL;
	*n = 0;
	etcd_key(key, sizeof(key), "containers/", NULL, NULL);
	rc = range(e, key, true, true, &kvs, &nk, NULL);
	if (rc)
		return rc;
	*out = calloc(nk ? nk : 1, sizeof(**out));
	if (!*out)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < nk; i++)
		rc = etcd_container_dec(kvs[i].val, &(*out)[i], NULL);
	if (rc) {
		free(*out);
		*out = NULL;
		etcd_kvs_free(kvs, nk);
		return rc;
	}
	*n = nk;
	if (kvs_out)
		*kvs_out = kvs;
	else
		etcd_kvs_free(kvs, nk);
	return 0;
}

static int etcd_container_add(struct store *st, const struct st_container *c)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN], name_key[ETCD_KEY_LEN], *val;
	int rc = -EIO;

	if (!c->id[0] || etcd_key(key, sizeof(key), "containers", c->id, NULL))
		return -EINVAL;
	if (c->name[0] &&
	    etcd_key(name_key, sizeof(name_key), "container-names", c->name,
		     NULL))
		return -EINVAL;
	val = etcd_container_enc(c, 0);
	if (!val)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct etcd_txn t;
		int64_t lease;
		bool ok = false;

		rc = my_lease(e, &lease);
		if (rc)
			break;
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, key, false, "CREATE", "EQUAL", 0);
		etcd_txn_put(&t, key, val, lease);
		if (c->name[0]) {
			etcd_txn_cmp(&t, name_key, false, "CREATE", "EQUAL",
				     0);
			etcd_txn_put(&t, name_key, c->id, lease);
		}
		rc = txn_leased(e, &t, lease, &ok, NULL);
		etcd_txn_clear(&t);
		if (rc == -EAGAIN)
			continue;
		if (!rc && !ok) {
			log_info("container %s (%s) already exists", c->name,
				 c->id);
			rc = -EEXIST;
		}
		break;
	}
	free(val);
	return rc;
}

static int etcd_container_get(struct store *st, const char *ref,
			      struct st_container *out)
{
	struct st_container *all = NULL;
	size_t n = 0, i;
	int rc;

	rc = list_containers(to_etcd(st), &all, &n, NULL);
	if (rc)
		return rc;
	rc = resolve(ref, all[0].name, all[0].id, sizeof(*all), n, &i);
	if (!rc)
		*out = all[i];
	free(all);
	return rc;
}

static int etcd_container_list(struct store *st, struct st_container **out,
			       size_t *n)
{
	return list_containers(to_etcd(st), out, n, NULL);
}

/* Endpoint kvs, filtered; sorted by creation. */
static int endpoint_kvs(struct etcd_store *e, const char *network_id,
			const char *container_id, struct etcd_kv **out,
			struct st_endpoint **eps, size_t *n)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	struct st_endpoint *ev = NULL;
	size_t nk = 0, k = 0;
	int rc;

	*n = 0;
	if (network_id) {
		rc = etcd_key(key, sizeof(key), "endpoints", network_id, NULL);
		if (rc)
			return rc == -EINVAL ? 0 : rc;
		strcat(key, "/");
	} else {
		etcd_key(key, sizeof(key), "endpoints/", NULL, NULL);
	}
	rc = range(e, key, true, true, &kvs, &nk, NULL);
	if (rc)
		return rc;
	ev = calloc(nk ? nk : 1, sizeof(*ev));
	if (!ev) {
		etcd_kvs_free(kvs, nk);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nk; i++) {
		struct st_endpoint ep;

		if (etcd_endpoint_dec(kvs[i].val, &ep)) {
			log_err("store: bad value at %s", kvs[i].key);
			continue;
		}
		if (container_id && strcmp(ep.container_id, container_id))
			continue;
		ev[k] = ep;
		if (k != i) {
			struct etcd_kv tmp = kvs[k];

			kvs[k] = kvs[i];
			kvs[i] = tmp;
		}
		k++;
	}
	for (size_t i = k; i < nk; i++)
		etcd_kv_clear(&kvs[i]);
	if (out)
		*out = kvs;
	else
		etcd_kvs_free(kvs, k);
	if (eps)
		*eps = ev;
	else
		free(ev);
	*n = k;
	return 0;
}

static void ipam_key(char *buf, size_t len, const char *net,
		     const struct ip_addr *ip)
{
	char txt[IPNET_STRLEN];

	etcd_key(buf, len, "ipam", net, ip_fmt(ip, txt));
}

static void txn_del_endpoint(struct etcd_txn *t, const struct st_endpoint *ep)
{
	char key[ETCD_KEY_LEN];

	etcd_key(key, sizeof(key), "endpoints", ep->network_id,
		 ep->container_id);
	etcd_txn_del(t, key, false);
	if (ep->ip4.family) {
		ipam_key(key, sizeof(key), ep->network_id, &ep->ip4);
		etcd_txn_del(t, key, false);
	}
	if (ep->ip6.family) {
		ipam_key(key, sizeof(key), ep->network_id, &ep->ip6);
		etcd_txn_del(t, key, false);
	}
}

static int etcd_container_delete(struct store *st, const char *ref)
{
	struct etcd_store *e = to_etcd(st);
	int rc = -EIO;

	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct st_container *all = NULL;
		struct etcd_kv *kvs = NULL;
		struct st_endpoint *eps = NULL;
		size_t n = 0, i, nep = 0;
		char key[ETCD_KEY_LEN];
		struct etcd_txn t;
		bool ok = false;

		rc = list_containers(e, &all, &n, &kvs);
		if (rc)
			return rc;
		rc = resolve(ref, n ? all[0].name : "", n ? all[0].id : "",
			     sizeof(*all), n, &i);
		if (!rc)
			rc = endpoint_kvs(e, NULL, all[i].id, NULL, &eps, &nep);
		if (rc)
			goto next;
		etcd_key(key, sizeof(key), "containers", all[i].id, NULL);
		etcd_txn_init(&t);
		/* endpoint_create touches the container: no endpoint can
		 * appear between our read and this txn. */
		etcd_txn_cmp(&t, key, false, "MOD", "EQUAL", kvs[i].mod_rev);
		etcd_txn_del(&t, key, false);
		if (all[i].name[0] &&
		    !etcd_key(key, sizeof(key), "container-names", all[i].name,
			      NULL))
			etcd_txn_del(&t, key, false);
		for (size_t k = 0; k < nep; k++)
			txn_del_endpoint(&t, &eps[k]);
		rc = txn(e, &t, &ok, NULL);
		if (!rc && ok)
			mine_note(e, &t);
		etcd_txn_clear(&t);
		if (!rc && !ok)
			rc = -EAGAIN;
next:
		free(eps);
		etcd_kvs_free(kvs, n);
		free(all);
		if (rc != -EAGAIN)
			return rc;
	}
	return -EIO;
}

/* --- endpoints --- */

/* Addresses in use on a network, from its ipam/ keys. */
static int used_addrs(struct etcd_store *e, const char *net,
		      struct ip_addr **u4, size_t *n4, struct ip_addr **u6,
		      size_t *n6)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*u4 = *u6 = NULL;
	*n4 = *n6 = 0;
	rc = etcd_key(key, sizeof(key), "ipam", net, NULL);
	if (rc)
		return rc;
	strcat(key, "/");
	rc = range(e, key, true, false, &kvs, &nk, NULL);
	if (rc)
		return rc;
	*u4 = calloc(nk + 1, sizeof(**u4));
	*u6 = calloc(nk + 1, sizeof(**u6));
	if (!*u4 || !*u6) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nk; i++) {
		struct ip_addr ip;

		if (ip_parse(kvs[i].key + strlen(key), &ip))
			continue;
		if (ip.family == AF_INET)
			(*u4)[(*n4)++] = ip;
		else
			(*u6)[(*n6)++] = ip;
	}
out:
	etcd_kvs_free(kvs, nk);
	return rc;
}

static int ep_addr(const struct st_network *n, bool v6,
		   const struct ip_addr *want, const struct ip_addr *used,
		   size_t n_used, struct ip_addr *got)
{
	const struct ip_prefix *subnet = v6 ? &n->subnet6 : &n->subnet4;
	const struct ip_prefix *rng = v6 ? &n->range6 : &n->range4;
	const struct ip_addr *gw = v6 ? &n->gw6 : &n->gw4;
	const char *why = NULL;
	int rc;

	memset(got, 0, sizeof(*got));
	if (!subnet->addr.family)
		return 0;
	if (want->family) {
		rc = ipam_check_static(subnet, gw, want, used, n_used, &why);
		if (rc)
			log_info("network %s: %s", n->name, why);
		else
			*got = *want;
		return rc;
	}
	rc = ipam_pick(subnet, rng, gw, used, n_used, got);
	if (rc == -ENOSPC)
		log_info("network %s: no free %s address", n->name,
			 v6 ? "IPv6" : "IPv4");
	return rc;
}

/* One attempt: 0 done, -EAGAIN lost a race (read again), -errno. */
static int ep_create_once(struct etcd_store *e, struct st_endpoint *ep,
			  const char *aliases)
{
	char nkey[ETCD_KEY_LEN], ckey[ETCD_KEY_LEN], ekey[ETCD_KEY_LEN],
		akey[ETCD_KEY_LEN];
	struct etcd_kv nkv = { 0 }, ckv = { 0 }, ekv = { 0 };
	struct ip_addr *u4 = NULL, *u6 = NULL;
	size_t n4 = 0, n6 = 0;
	struct st_network n;
	struct st_container c;
	struct st_endpoint x;
	struct etcd_txn t = { 0 };
	char *eval = NULL, *cval = NULL;
	int64_t seq = 0, lease;
	bool ok = false;
	int rc;

	memset(&x, 0, sizeof(x));
	if (etcd_key(nkey, sizeof(nkey), "networks", ep->network_id, NULL) ||
	    etcd_key(ckey, sizeof(ckey), "containers", ep->container_id,
		     NULL) ||
	    etcd_key(ekey, sizeof(ekey), "endpoints", ep->network_id,
		     ep->container_id))
		return -ENOENT;
	rc = my_lease(e, &lease);
	if (rc)
		return rc;
	if ((rc = get1(e, nkey, &nkv)) || (rc = get1(e, ckey, &ckv)))
		goto out;
	rc = get1(e, ekey, &ekv);
	if (rc != -ENOENT) {
		if (!rc) {
			log_info("container %s is already on network %s",
				 ep->container_id, ep->network_id);
			rc = -EEXIST;
		}
		goto out;
	}
	if ((rc = etcd_network_dec(nkv.val, &n)) ||
	    (rc = etcd_container_dec(ckv.val, &c, &seq)))
		goto out;
	if ((ep->ip4.family && !n.subnet4.addr.family) ||
	    (ep->ip6.family && !n.subnet6.addr.family)) {
		log_info("network %s has no subnet of that address family",
			 n.name);
		rc = -EINVAL;
		goto out;
	}
	rc = used_addrs(e, n.id, &u4, &n4, &u6, &n6);
	if (rc)
		goto out;
	rc = ep_addr(&n, false, &ep->ip4, u4, n4, &x.ip4);
	if (!rc)
		rc = ep_addr(&n, true, &ep->ip6, u6, n6, &x.ip6);
	if (rc)
		goto out;
	if (!x.ip4.family && !x.ip6.family) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = new_id(x.id)))
		goto out;
	if (x.ip4.family)
		ipam_mac_from_ip(&x.ip4, x.mac);
	else if ((rc = random_mac(x.mac)))
		goto out;
	snprintf(x.network_id, sizeof(x.network_id), "%s", n.id);
	snprintf(x.container_id, sizeof(x.container_id), "%s", c.id);
	snprintf(x.aliases, sizeof(x.aliases), "%s", aliases);
	x.seq = seq + 1;
	eval = etcd_endpoint_enc(&x);
	cval = etcd_container_enc(&c, x.seq);
	if (!eval || !cval) {
		rc = -ENOMEM;
		goto out;
	}
	etcd_txn_init(&t);
	etcd_txn_cmp(&t, nkey, false, "CREATE", "EQUAL", nkv.create_rev);
	etcd_txn_cmp(&t, ckey, false, "MOD", "EQUAL", ckv.mod_rev);
	etcd_txn_cmp(&t, ekey, false, "CREATE", "EQUAL", 0);
	if (x.ip4.family) {
		ipam_key(akey, sizeof(akey), n.id, &x.ip4);
		etcd_txn_cmp(&t, akey, false, "CREATE", "EQUAL", 0);
		etcd_txn_put(&t, akey, x.id, lease);
	}
	if (x.ip6.family) {
		ipam_key(akey, sizeof(akey), n.id, &x.ip6);
		etcd_txn_cmp(&t, akey, false, "CREATE", "EQUAL", 0);
		etcd_txn_put(&t, akey, x.id, lease);
	}
	etcd_txn_put(&t, ekey, eval, lease);
	/* Touch the container: a concurrent container_delete fails. */
	etcd_txn_put(&t, ckey, cval, lease);
	rc = txn_leased(e, &t, lease, &ok, NULL);
	if (!rc && !ok)
		rc = -EAGAIN;
	if (!rc)
		*ep = x;
out:
	etcd_txn_clear(&t);
	etcd_kv_clear(&nkv);
	etcd_kv_clear(&ckv);
	etcd_kv_clear(&ekv);
	free(u4);
	free(u6);
	free(eval);
	free(cval);
	return rc;
}

static int etcd_endpoint_create(struct store *st, struct st_endpoint *ep)
{
	struct etcd_store *e = to_etcd(st);
	char aliases[sizeof(ep->aliases)];
	int rc = -EAGAIN;

	snprintf(aliases, sizeof(aliases), "%s",
		 ep->aliases[0] ? ep->aliases : "[]");
	for (int i = 0; i < ALLOC_RETRIES && rc == -EAGAIN; i++) {
		rc = ep_create_once(e, ep, aliases);
		if (rc == -EAGAIN) {
			/* Lost the race for an address: a short random
			 * pause so the losers do not collide again. */
			uint16_t r = 0;

			if (getrandom(&r, sizeof(r), 0) != sizeof(r))
				r = 0;
			usleep(1000 + r % 20000);
		}
	}
	if (rc == -EAGAIN) {
		log_err("store %s: endpoint allocation keeps colliding",
			e->uri);
		rc = -EIO;
	}
	return rc;
}

static int etcd_endpoint_get(struct store *st, const char *network_id,
			     const char *container_id, struct st_endpoint *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	if (etcd_key(key, sizeof(key), "endpoints", network_id, container_id))
		return -ENOENT;
	rc = get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_endpoint_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

static int etcd_endpoint_delete(struct store *st, const char *network_id,
				const char *container_id)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN];
	int rc = -EIO;

	if (etcd_key(key, sizeof(key), "endpoints", network_id, container_id))
		return -ENOENT;
	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct st_endpoint ep;
		struct etcd_kv kv;
		struct etcd_txn t;
		bool ok = false;

		rc = get1(e, key, &kv);
		if (rc)
			return rc;
		rc = etcd_endpoint_dec(kv.val, &ep);
		if (rc) {
			etcd_kv_clear(&kv);
			return rc;
		}
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, key, false, "MOD", "EQUAL", kv.mod_rev);
		txn_del_endpoint(&t, &ep);
		rc = txn(e, &t, &ok, NULL);
		if (!rc && ok)
			mine_note(e, &t);
		etcd_txn_clear(&t);
		etcd_kv_clear(&kv);
		if (rc || ok)
			return rc;
	}
	return rc;
}

static int etcd_endpoint_list(struct store *st, const char *network_id,
			      const char *container_id,
			      struct st_endpoint **out, size_t *n)
{
	*out = NULL;
	return endpoint_kvs(to_etcd(st), network_id, container_id, NULL, out,
			    n);
}

/* --- guest_nets --- */

static int etcd_guest_net_put(struct store *st, const struct st_guest_net *gn)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN], nkey[ETCD_KEY_LEN], *val;
	int rc = -EIO;

	if (etcd_key(key, sizeof(key), "guestnets", gn->guest,
		     gn->network_id) ||
	    etcd_key(nkey, sizeof(nkey), "networks", gn->network_id, NULL))
		return -EINVAL;
	val = etcd_guest_net_enc(gn);
	if (!val)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct etcd_txn t;
		int64_t lease;
		bool ok = false;

		rc = my_lease(e, &lease);
		if (rc)
			break;
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, nkey, false, "CREATE", "GREATER", 0);
		etcd_txn_put(&t, key, val, lease);
		rc = txn_leased(e, &t, lease, &ok, NULL);
		etcd_txn_clear(&t);
		if (rc == -EAGAIN)
			continue;
		if (!rc && !ok)
			rc = -ENOENT;
		break;
	}
	free(val);
	return rc;
}

static int etcd_guest_net_get(struct store *st, const char *guest,
			      const char *network_id, struct st_guest_net *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	if (etcd_key(key, sizeof(key), "guestnets", guest, network_id))
		return -ENOENT;
	rc = get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_guest_net_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

static int etcd_guest_net_delete(struct store *st, const char *guest,
				 const char *network_id)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN];
	json_t *req, *resp = NULL;
	int rc;

	if (etcd_key(key, sizeof(key), "guestnets", guest, network_id))
		return -ENOENT;
	req = etcd_range_req(key, false);
	rc = post(e, "/v3/kv/deleterange", req, &resp);
	json_decref(req);
	if (rc)
		return rc;
	rc = etcd_int(resp, "deleted") > 0 ? 0 : -ENOENT;
	json_decref(resp);
	mine_del(e, key, false);
	return rc;
}

static int etcd_guest_net_list(struct store *st, const char *network_id,
			       struct st_guest_net **out, size_t *n)
{
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = guest_net_kvs(to_etcd(st), network_id, NULL, &kvs, &nk);
	if (rc)
		return rc;
	*out = calloc(nk ? nk : 1, sizeof(**out));
	if (!*out)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < nk; i++)
		rc = etcd_guest_net_dec(kvs[i].val, &(*out)[i]);
	if (rc) {
		free(*out);
		*out = NULL;
	} else {
		*n = nk;
	}
	etcd_kvs_free(kvs, nk);
	return rc;
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

	if (!buf_write(ptr, sz, nm, &w->b))
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
	rc = range(e, key, false, false, &kvs, &n, rev);
	etcd_kvs_free(kvs, n);
	return rc;
}

/* One watch stream until it ends; false if it could not even start. */
static bool watch_once(struct etcd_store *e, struct wctx *w, size_t m)
{
	char url[512], *text = NULL, *end = NULL;
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
	snprintf(url, sizeof(url), "%s/v3/watch", e->urls[m]);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
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

static int etcd_watch(struct store *st, store_change_fn fn, void *arg)
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
	for (size_t i = 0; i < e->n_urls; i++)
		free(e->urls[i]);
	json_decref(e->mine);
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

/* "etcd://h:p,h:p" → http://h:p each. */
static int parse_members(struct etcd_store *e, const char *uri)
{
	const char *p = uri + strlen("etcd://");
	char *copy = strdup(p), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	/* Drop a trailing path ("etcd://h:p/"). */
	tok = strchr(copy, '/');
	if (tok)
		*tok = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char url[300];

		if (!*tok || strlen(tok) > 255 || strpbrk(tok, " \t?#@") ||
		    e->n_urls == MAX_MEMBERS) {
			rc = -EINVAL;
			break;
		}
		snprintf(url, sizeof(url), "http://%s", tok);
		e->urls[e->n_urls] = strdup(url);
		if (!e->urls[e->n_urls]) {
			rc = -ENOMEM;
			break;
		}
		e->n_urls++;
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

	if (!uri || strncmp(uri, "etcd://", 7) || strlen(uri) >= 1024) {
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
		log_err("store %s: want etcd://HOST:PORT[,HOST:PORT...]", uri);
		goto fail;
	}
	/* Unreachable now is not fatal: the lease is taken when etcd
	 * answers, and calls fail with -ENOTCONN until then. */
	rc = lease_acquire(e, true);
	if (rc && (rc != -ENOTCONN || must_reach)) {
		log_err("store %s: cannot get a lease: %s", uri,
			strerror(-rc));
		goto fail;
	}
	rc = pthread_create(&e->ka_th, NULL, ka_main, e);
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
