// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd store, part 3: ids, name resolution, networks and guests. See
 * store_etcd.c and docs/etcd.md.
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

#include "etcd.h"
#include "ipam.h"
#include "wgnet/log.h"
#include "store.h"

#include "store_etcd_int.h"

/* --- ids --- */

int est_new_id(char out[ST_ID_LEN])
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

/* Exact name, exact id, then a unique id prefix, over an array of objects
 * (name and id at the given addresses of the first one). */
int est_resolve(const char *ref, const char *name0, const char *id0,
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
	rc = est_range(e, key, true, true, &kvs, &nk, NULL);
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

int etcd_network_create(struct store *st, const struct st_network_req *req,
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
		rc = est_get1(e, lock_key, &lock);
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
		rc = est_new_id(n.id);
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
		rc = est_txn(e, &t, &ok, NULL);
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

int etcd_network_get(struct store *st, const char *ref, struct st_network *out)
{
	struct st_network *all = NULL;
	size_t n = 0, i;
	int rc;

	rc = list_networks(to_etcd(st), &all, &n, NULL);
	if (rc)
		return rc;
	rc = est_resolve(ref, all[0].name, all[0].id, sizeof(*all), n, &i);
	if (!rc)
		*out = all[i];
	free(all);
	return rc;
}

int etcd_network_list(struct store *st, struct st_network **out, size_t *n)
{
	return list_networks(to_etcd(st), out, n, NULL);
}

/* The guest_nets of a network (keys guestnets/<guest>/<net>). */
int est_guest_net_kvs(struct etcd_store *e, const char *network_id,
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
	rc = est_range(e, key, true, false, &kvs, &nk, NULL);
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

int etcd_network_delete(struct store *st, const char *ref)
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
		rc = est_resolve(ref, n ? all[0].name : "", n ? all[0].id : "",
				 sizeof(*all), n, &i);
		if (!rc)
			rc = est_guest_net_kvs(e, all[i].id, NULL, &gkv, &ngk);
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
		rc = est_txn(e, &t, &ok, NULL);
		if (!rc && ok)
			est_mine_note(e, &t);
		etcd_txn_clear(&t);
		if (!rc && !ok) {
			struct etcd_kv *ek = NULL;
			size_t ne = 0;

			rc = est_range(e, eps, true, false, &ek, &ne, NULL);
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

int etcd_guest_put(struct store *st, const struct st_guest *g)
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
	rc = est_txn(e, &t, &ok, NULL);
	etcd_txn_clear(&t);
	free(val);
	return rc;
}

int etcd_guest_get(struct store *st, const char *name, struct st_guest *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	rc = etcd_key(key, sizeof(key), "guests", name, NULL);
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc;
	rc = est_get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_guest_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

int etcd_guest_list(struct store *st, struct st_guest **out, size_t *n)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*out = NULL;
	*n = 0;
	etcd_key(key, sizeof(key), "guests/", NULL, NULL);
	rc = est_range(to_etcd(st), key, true, false, &kvs, &nk, NULL);
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

int etcd_guest_delete(struct store *st, const char *name)
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
	rc = est_txn(e, &t, &ok, NULL);
	if (!rc && ok)
		est_mine_note(e, &t);
	etcd_txn_clear(&t);
	return rc ? rc : ok ? 0 : -ENOENT;
}
