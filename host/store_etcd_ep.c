// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd store, part 4: containers, endpoints (with address allocation,
 * a compare-and-swap on the address key) and guest_nets. See store_etcd.c
 * and docs/etcd.md.
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
	rc = est_range(e, key, true, true, &kvs, &nk, NULL);
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

int etcd_container_add(struct store *st, const struct st_container *c)
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

		rc = est_my_lease(e, &lease);
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
		rc = est_txn_leased(e, &t, lease, &ok, NULL);
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

int etcd_container_get(struct store *st, const char *ref,
		       struct st_container *out)
{
	struct st_container *all = NULL;
	size_t n = 0, i;
	int rc;

	rc = list_containers(to_etcd(st), &all, &n, NULL);
	if (rc)
		return rc;
	rc = est_resolve(ref, all[0].name, all[0].id, sizeof(*all), n, &i);
	if (!rc)
		*out = all[i];
	free(all);
	return rc;
}

int etcd_container_list(struct store *st, struct st_container **out, size_t *n)
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
	rc = est_range(e, key, true, true, &kvs, &nk, NULL);
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

int etcd_container_delete(struct store *st, const char *ref)
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
		rc = est_resolve(ref, n ? all[0].name : "", n ? all[0].id : "",
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
		rc = est_txn(e, &t, &ok, NULL);
		if (!rc && ok)
			est_mine_note(e, &t);
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

/* The container's key rewritten with new ports, guarded by its mod
 * revision (an endpoint_create meanwhile moves it: read again). */
int etcd_container_set_ports(struct store *st, const char *id,
			     const char *ports)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN];
	int rc = -EIO;

	if (!ports || strlen(ports) >= sizeof(((struct st_container *)0)->ports) ||
	    etcd_key(key, sizeof(key), "containers", id, NULL))
		return -EINVAL;
	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct etcd_kv kv = { 0 };
		struct st_container c;
		struct etcd_txn t;
		int64_t seq = 0, lease;
		char *val = NULL;
		bool ok = false;

		rc = est_get1(e, key, &kv);
		if (!rc)
			rc = etcd_container_dec(kv.val, &c, &seq);
		if (!rc)
			rc = est_my_lease(e, &lease);
		if (rc) {
			etcd_kv_clear(&kv);
			return rc;
		}
		snprintf(c.ports, sizeof(c.ports), "%s", ports);
		val = etcd_container_enc(&c, seq);
		if (!val) {
			etcd_kv_clear(&kv);
			return -ENOMEM;
		}
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, key, false, "MOD", "EQUAL", kv.mod_rev);
		etcd_txn_put(&t, key, val, lease);
		rc = est_txn_leased(e, &t, lease, &ok, NULL);
		etcd_txn_clear(&t);
		etcd_kv_clear(&kv);
		free(val);
		if (!rc && !ok)
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			return rc;
	}
	return rc;
}

/* The endpoint's key rewritten with new aliases (watchers push the names). */
int etcd_endpoint_set_aliases(struct store *st, const char *network_id,
			      const char *container_id, const char *aliases)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN];
	int rc = -EIO;

	if (!aliases ||
	    strlen(aliases) >= sizeof(((struct st_endpoint *)0)->aliases) ||
	    etcd_key(key, sizeof(key), "endpoints", network_id, container_id))
		return -EINVAL;
	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		struct etcd_kv kv = { 0 };
		struct st_endpoint ep;
		struct etcd_txn t;
		int64_t lease;
		char *val = NULL;
		bool ok = false;

		rc = est_get1(e, key, &kv);
		if (!rc)
			rc = etcd_endpoint_dec(kv.val, &ep);
		if (!rc)
			rc = est_my_lease(e, &lease);
		if (rc) {
			etcd_kv_clear(&kv);
			return rc;
		}
		snprintf(ep.aliases, sizeof(ep.aliases), "%s", aliases);
		val = etcd_endpoint_enc(&ep);
		if (!val) {
			etcd_kv_clear(&kv);
			return -ENOMEM;
		}
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, key, false, "MOD", "EQUAL", kv.mod_rev);
		etcd_txn_put(&t, key, val, lease);
		rc = est_txn_leased(e, &t, lease, &ok, NULL);
		etcd_txn_clear(&t);
		etcd_kv_clear(&kv);
		free(val);
		if (!rc && !ok)
			rc = -EAGAIN;
		if (rc != -EAGAIN)
			return rc;
	}
	return rc;
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
	rc = est_range(e, key, true, false, &kvs, &nk, NULL);
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
	rc = est_my_lease(e, &lease);
	if (rc)
		return rc;
	if ((rc = est_get1(e, nkey, &nkv)) || (rc = est_get1(e, ckey, &ckv)))
		goto out;
	rc = est_get1(e, ekey, &ekv);
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
	if ((rc = est_new_id(x.id)))
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
	rc = est_txn_leased(e, &t, lease, &ok, NULL);
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

int etcd_endpoint_create(struct store *st, struct st_endpoint *ep)
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

int etcd_endpoint_get(struct store *st, const char *network_id,
		      const char *container_id, struct st_endpoint *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	if (etcd_key(key, sizeof(key), "endpoints", network_id, container_id))
		return -ENOENT;
	rc = est_get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_endpoint_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

int etcd_endpoint_delete(struct store *st, const char *network_id,
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

		rc = est_get1(e, key, &kv);
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
		rc = est_txn(e, &t, &ok, NULL);
		if (!rc && ok)
			est_mine_note(e, &t);
		etcd_txn_clear(&t);
		etcd_kv_clear(&kv);
		if (rc || ok)
			return rc;
	}
	return rc;
}

int etcd_endpoint_list(struct store *st, const char *network_id,
		       const char *container_id, struct st_endpoint **out,
		       size_t *n)
{
	*out = NULL;
	return endpoint_kvs(to_etcd(st), network_id, container_id, NULL, out,
			    n);
}

/* --- guest_nets --- */

int etcd_guest_net_put(struct store *st, const struct st_guest_net *gn)
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

		rc = est_my_lease(e, &lease);
		if (rc)
			break;
		etcd_txn_init(&t);
		etcd_txn_cmp(&t, nkey, false, "CREATE", "GREATER", 0);
		etcd_txn_put(&t, key, val, lease);
		rc = est_txn_leased(e, &t, lease, &ok, NULL);
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

int etcd_guest_net_get(struct store *st, const char *guest,
		       const char *network_id, struct st_guest_net *out)
{
	char key[ETCD_KEY_LEN];
	struct etcd_kv kv;
	int rc;

	if (etcd_key(key, sizeof(key), "guestnets", guest, network_id))
		return -ENOENT;
	rc = est_get1(to_etcd(st), key, &kv);
	if (rc)
		return rc;
	rc = etcd_guest_net_dec(kv.val, out);
	etcd_kv_clear(&kv);
	return rc;
}

int etcd_guest_net_delete(struct store *st, const char *guest,
			  const char *network_id)
{
	struct etcd_store *e = to_etcd(st);
	char key[ETCD_KEY_LEN];
	json_t *req, *resp = NULL;
	int rc;

	if (etcd_key(key, sizeof(key), "guestnets", guest, network_id))
		return -ENOENT;
	req = etcd_range_req(key, false);
	rc = est_post(e, "/v3/kv/deleterange", req, &resp);
	json_decref(req);
	if (rc)
		return rc;
	rc = etcd_int(resp, "deleted") > 0 ? 0 : -ENOENT;
	json_decref(resp);
	est_mine_del(e, key, false);
	return rc;
}

int etcd_guest_net_list(struct store *st, const char *network_id,
			struct st_guest_net **out, size_t *n)
{
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = est_guest_net_kvs(to_etcd(st), network_id, NULL, &kvs, &nk);
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
