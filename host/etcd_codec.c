// SPDX-License-Identifier: GPL-2.0
/*
 * The pure half of the etcd store: base64, keys, the JSON of requests and
 * transactions for etcd's v3 JSON gateway, and the JSON value of every
 * stored object. See host/etcd.h and docs/etcd.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "etcd.h"
#include "wgnet/ipnet.h"

/* Base64 is libsodium's: the original alphabet, with padding, strict. */
char *etcd_b64_encode(const void *in, size_t len)
{
	size_t n =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	if (out)
		sodium_bin2base64(out, n, in, len,
				  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

char *etcd_b64_decode(const char *in, size_t *len)
{
	size_t n = in ? strlen(in) : 0, k = 0;
	char *out;

	if (!in || n % 4) {
		errno = EINVAL;
		return NULL;
	}
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	/* Every character must be consumed (no b64_end): "Zg==Zm9v" fails. */
	if (sodium_base642bin((unsigned char *)out, n / 4 * 3, in, n, NULL, &k,
			      NULL, sodium_base64_VARIANT_ORIGINAL)) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	out[k] = 0;
	if (len)
		*len = k;
	return out;
}

char *etcd_prefix_end(const char *prefix)
{
	char *end = strdup(prefix ? prefix : "");
	size_t n = end ? strlen(end) : 0;

	if (!end)
		return NULL;
	/* Drop trailing 0xff bytes; "" stays "" (never happens here). */
	while (n && (uint8_t)end[n - 1] == 0xff)
		end[--n] = 0;
	if (n)
		end[n - 1] = (char)((uint8_t)end[n - 1] + 1);
	return end;
}

static bool part_ok(const char *s)
{
	return s && *s && !strchr(s, '/');
}

int etcd_key(char *buf, size_t len, const char *kind, const char *a,
	     const char *b)
{
	size_t kl = kind ? strlen(kind) : 0;
	int n;

	if (!kl)
		return -EINVAL;
	if (kind[kl - 1] == '/' && !a) {
		n = snprintf(buf, len, "%s%s", ETCD_PREFIX, kind);
	} else {
		if (!part_ok(a) || (b && !part_ok(b)) || kind[kl - 1] == '/')
			return -EINVAL;
		n = snprintf(buf, len, "%s%s/%s%s%s", ETCD_PREFIX, kind, a,
			     b ? "/" : "", b ? b : "");
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static json_t *b64_json(const char *s)
{
	char *e = etcd_b64_encode(s, strlen(s));
	json_t *j = e ? json_string(e) : NULL;

	free(e);
	return j;
}

json_t *etcd_range_req(const char *key, bool prefix)
{
	json_t *r = json_object();

	json_object_set_new(r, "key", b64_json(key));
	if (prefix) {
		char *end = etcd_prefix_end(key);

		if (end)
			json_object_set_new(r, "range_end", b64_json(end));
		free(end);
	}
	return r;
}

void etcd_txn_init(struct etcd_txn *t)
{
	t->compare = json_array();
	t->success = json_array();
	t->failure = json_array();
}

void etcd_txn_clear(struct etcd_txn *t)
{
	json_decref(t->compare);
	json_decref(t->success);
	json_decref(t->failure);
	t->compare = t->success = t->failure = NULL;
}

static json_t *int64_json(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

int etcd_txn_cmp(struct etcd_txn *t, const char *key, bool prefix,
		 const char *target, const char *result, int64_t value)
{
	json_t *c = etcd_range_req(key, prefix);
	const char *field = !strcmp(target, "CREATE")  ? "create_revision" :
			    !strcmp(target, "MOD")     ? "mod_revision" :
			    !strcmp(target, "VERSION") ? "version" :
							 NULL;

	if (!field) {
		json_decref(c);
		return -EINVAL;
	}
	json_object_set_new(c, "target", json_string(target));
	json_object_set_new(c, "result", json_string(result));
	json_object_set_new(c, field, int64_json(value));
	return json_array_append_new(t->compare, c) ? -ENOMEM : 0;
}

int etcd_txn_put(struct etcd_txn *t, const char *key, const char *val,
		 int64_t lease)
{
	json_t *p = json_object();

	json_object_set_new(p, "key", b64_json(key));
	json_object_set_new(p, "value", b64_json(val));
	if (lease)
		json_object_set_new(p, "lease", int64_json(lease));
	return json_array_append_new(t->success,
				     json_pack("{s:o}", "request_put", p)) ?
		       -ENOMEM :
		       0;
}

int etcd_txn_del(struct etcd_txn *t, const char *key, bool prefix)
{
	return json_array_append_new(t->success,
				     json_pack("{s:o}", "request_delete_range",
					       etcd_range_req(key, prefix))) ?
		       -ENOMEM :
		       0;
}

int etcd_txn_get(struct etcd_txn *t, const char *key, bool prefix, bool on_fail)
{
	return json_array_append_new(on_fail ? t->failure : t->success,
				     json_pack("{s:o}", "request_range",
					       etcd_range_req(key, prefix))) ?
		       -ENOMEM :
		       0;
}

json_t *etcd_txn_json(const struct etcd_txn *t)
{
	return json_pack("{s:O,s:O,s:O}", "compare", t->compare, "success",
			 t->success, "failure", t->failure);
}

int64_t etcd_int(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->val);
	memset(kv, 0, sizeof(*kv));
}

int etcd_kv_decode(json_t *kv, struct etcd_kv *out)
{
	const char *k = json_string_value(json_object_get(kv, "key"));
	const char *v = json_string_value(json_object_get(kv, "value"));

	memset(out, 0, sizeof(*out));
	if (!k)
		return -EIO;
	out->key = etcd_b64_decode(k, NULL);
	/* A put of "" leaves "value" out. */
	out->val = etcd_b64_decode(v ? v : "", &out->val_len);
	if (!out->key || !out->val) {
		etcd_kv_clear(out);
		return -EIO;
	}
	out->create_rev = etcd_int(kv, "create_revision");
	out->mod_rev = etcd_int(kv, "mod_revision");
	out->version = etcd_int(kv, "version");
	out->lease = etcd_int(kv, "lease");
	return 0;
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; kvs && i < n; i++)
		etcd_kv_clear(&kvs[i]);
	free(kvs);
}

int etcd_kvs_decode(json_t *kvs, struct etcd_kv **out, size_t *n)
{
	size_t cnt = json_array_size(kvs), i;
	int rc;

	*out = NULL;
	*n = 0;
	if (!cnt)
		return 0;
	*out = calloc(cnt, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		rc = etcd_kv_decode(json_array_get(kvs, i), &(*out)[i]);
		if (rc) {
			etcd_kvs_free(*out, i);
			*out = NULL;
			return rc;
		}
	}
	*n = cnt;
	return 0;
}

/* The component after ETCD_PREFIX kind "/" (number idx, from 0). */
static bool key_part(const char *key, const char *kind, int idx, char *buf,
		     size_t len)
{
	size_t pl = strlen(ETCD_PREFIX), kl = strlen(kind);
	const char *p, *e;

	if (strncmp(key, ETCD_PREFIX, pl) || strncmp(key + pl, kind, kl) ||
	    key[pl + kl] != '/')
		return false;
	p = key + pl + kl + 1;
	while (idx-- > 0) {
		p = strchr(p, '/');
		if (!p)
			return false;
		p++;
	}
	e = strchr(p, '/');
	if (!e)
		e = p + strlen(p);
	if (e == p || (size_t)(e - p) >= len)
		return false;
	memcpy(buf, p, e - p);
	buf[e - p] = 0;
	return true;
}

const char *etcd_key_network(const char *key, const char *val,
			     const char *prev_val, char *buf, size_t len)
{
	struct st_guest a, b;

	if (key_part(key, "endpoints", 0, buf, len) ||
	    key_part(key, "networks", 0, buf, len) ||
	    key_part(key, "guestnets", 1, buf, len))
		return buf;
	if (!key_part(key, "guests", 0, buf, len))
		return NULL;
	/* A guest matters to the peer sets by its underlay address and by
	 * being dead, to the isolation set by its underlay network; its
	 * liveness probes and last_seen do not. */
	if (!val || !prev_val || etcd_guest_dec(val, &a) ||
	    etcd_guest_dec(prev_val, &b))
		return "*";
	if (!ip_equal(&a.underlay, &b.underlay) ||
	    a.underlay_plen != b.underlay_plen ||
	    (a.state == ST_GUEST_DEAD) != (b.state == ST_GUEST_DEAD))
		return "*";
	return NULL;
}

/* --- values --- */

static void set_ip(json_t *o, const char *k, const struct ip_addr *ip)
{
	char buf[IPNET_STRLEN];

	if (ip->family)
		json_object_set_new(o, k, json_string(ip_fmt(ip, buf)));
}

static void set_pfx(json_t *o, const char *k, const struct ip_prefix *p)
{
	char buf[IPNET_STRLEN];

	if (p->addr.family)
		json_object_set_new(o, k, json_string(prefix_fmt(p, buf)));
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return s;
}

/* Copy a string field; absent = "" unless required. */
static int get_str(json_t *o, const char *k, char *buf, size_t len, bool req)
{
	json_t *v = json_object_get(o, k);
	const char *s;

	if (!v) {
		buf[0] = 0;
		return req ? -EIO : 0;
	}
	s = json_string_value(v);
	if (!s || strlen(s) >= len)
		return -EIO;
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int get_ip(json_t *o, const char *k, struct ip_addr *ip)
{
	const char *s = json_string_value(json_object_get(o, k));

	memset(ip, 0, sizeof(*ip));
	if (!json_object_get(o, k))
		return 0;
	return s && !ip_parse(s, ip) ? 0 : -EIO;
}

static int get_pfx(json_t *o, const char *k, struct ip_prefix *p)
{
	const char *s = json_string_value(json_object_get(o, k));

	memset(p, 0, sizeof(*p));
	if (!json_object_get(o, k))
		return 0;
	return s && !prefix_parse(s, true, p) ? 0 : -EIO;
}

static int64_t get_int(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static json_t *parse_obj(const char *text)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;

	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *etcd_network_enc(const struct st_network *n)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:I}", "id", n->id,
			      "name", n->name, "driver", n->driver, "internal",
			      n->internal, "ipv6", n->ipv6, "labels", n->labels,
			      "options", n->options, "created",
			      (json_int_t)n->created);

	if (!o)
		return NULL;
	set_pfx(o, "subnet4", &n->subnet4);
	set_pfx(o, "range4", &n->range4);
	set_ip(o, "gw4", &n->gw4);
	set_pfx(o, "subnet6", &n->subnet6);
	set_pfx(o, "range6", &n->range6);
	set_ip(o, "gw6", &n->gw6);
	return dump(o);
}

int etcd_network_dec(const char *text, struct st_network *n)
{
	json_t *o = parse_obj(text);
	int rc = -EIO;

	memset(n, 0, sizeof(*n));
	if (!o)
		return -EIO;
	if (get_str(o, "id", n->id, sizeof(n->id), true) ||
	    get_str(o, "name", n->name, sizeof(n->name), true) ||
	    get_str(o, "driver", n->driver, sizeof(n->driver), false) ||
	    get_str(o, "labels", n->labels, sizeof(n->labels), false) ||
	    get_str(o, "options", n->options, sizeof(n->options), false) ||
	    get_pfx(o, "subnet4", &n->subnet4) ||
	    get_pfx(o, "range4", &n->range4) || get_ip(o, "gw4", &n->gw4) ||
	    get_pfx(o, "subnet6", &n->subnet6) ||
	    get_pfx(o, "range6", &n->range6) || get_ip(o, "gw6", &n->gw6))
		goto out;
	n->internal = json_is_true(json_object_get(o, "internal"));
	n->ipv6 = json_is_true(json_object_get(o, "ipv6"));
	n->created = get_int(o, "created");
	if (!n->labels[0])
		strcpy(n->labels, "{}");
	if (!n->options[0])
		strcpy(n->options, "{}");
	rc = 0;
out:
	json_decref(o);
	return rc;
}

char *etcd_guest_enc(const struct st_guest *g, int64_t lease)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "name", g->name,
			      "control", g->control, "host_id", g->host_id,
			      "backend", g->backend, "state", g->state,
			      "last_seen", (json_int_t)g->last_seen);

	if (!o)
		return NULL;
	set_ip(o, "underlay", &g->underlay);
	if (g->underlay_plen)
		json_object_set_new(o, "underlay_plen",
				    json_integer(g->underlay_plen));
	if (lease) {
		char buf[24];

		snprintf(buf, sizeof(buf), "%" PRId64, lease);
		json_object_set_new(o, "lease", json_string(buf));
	}
	return dump(o);
}

int etcd_guest_dec(const char *text, struct st_guest *g)
{
	json_t *o = parse_obj(text), *v;
	int rc = -EIO;

	memset(g, 0, sizeof(*g));
	if (!o)
		return -EIO;
	if (get_str(o, "name", g->name, sizeof(g->name), true) ||
	    get_str(o, "control", g->control, sizeof(g->control), false) ||
	    get_str(o, "host_id", g->host_id, sizeof(g->host_id), false) ||
	    get_str(o, "backend", g->backend, sizeof(g->backend), false) ||
	    get_ip(o, "underlay", &g->underlay))
		goto out;
	g->state = (int)get_int(o, "state");
	g->last_seen = get_int(o, "last_seen");
	/* Absent (an older host, an older agent): the address alone. */
	v = json_object_get(o, "underlay_plen");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
		  !g->underlay.family ||
		  json_integer_value(v) > ip_max_plen(g->underlay.family)))
		goto out;
	g->underlay_plen = (int)json_integer_value(v);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

char *etcd_container_enc(const struct st_container *c, int64_t seq)
{
	return dump(json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", c->id, "name",
			      c->name, "guest", c->guest, "netns", c->netns,
			      "ports", c->ports[0] ? c->ports : "[]", "seq",
			      (json_int_t)seq));
}

int etcd_container_dec(const char *text, struct st_container *c, int64_t *seq)
{
	json_t *o = parse_obj(text);
	int rc = -EIO;

	memset(c, 0, sizeof(*c));
	if (!o)
		return -EIO;
	if (get_str(o, "id", c->id, sizeof(c->id), true) ||
	    get_str(o, "name", c->name, sizeof(c->name), false) ||
	    get_str(o, "guest", c->guest, sizeof(c->guest), false) ||
	    get_str(o, "netns", c->netns, sizeof(c->netns), false) ||
	    get_str(o, "ports", c->ports, sizeof(c->ports), false))
		goto out;
	if (!c->ports[0])
		strcpy(c->ports, "[]");
	if (seq)
		*seq = get_int(o, "seq");
	rc = 0;
out:
	json_decref(o);
	return rc;
}

char *etcd_endpoint_enc(const struct st_endpoint *ep)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", ep->id,
			      "network_id", ep->network_id, "container_id",
			      ep->container_id, "mac", ep->mac, "aliases",
			      ep->aliases[0] ? ep->aliases : "[]", "seq",
			      (json_int_t)ep->seq);

	if (!o)
		return NULL;
	set_ip(o, "ip4", &ep->ip4);
	set_ip(o, "ip6", &ep->ip6);
	return dump(o);
}

int etcd_endpoint_dec(const char *text, struct st_endpoint *ep)
{
	json_t *o = parse_obj(text);
	int rc = -EIO;

	memset(ep, 0, sizeof(*ep));
	if (!o)
		return -EIO;
	if (get_str(o, "id", ep->id, sizeof(ep->id), true) ||
	    get_str(o, "network_id", ep->network_id, sizeof(ep->network_id),
		    true) ||
	    get_str(o, "container_id", ep->container_id,
		    sizeof(ep->container_id), true) ||
	    get_str(o, "mac", ep->mac, sizeof(ep->mac), false) ||
	    get_str(o, "aliases", ep->aliases, sizeof(ep->aliases), false) ||
	    get_ip(o, "ip4", &ep->ip4) || get_ip(o, "ip6", &ep->ip6))
		goto out;
	if (!ep->aliases[0])
		strcpy(ep->aliases, "[]");
	ep->seq = get_int(o, "seq");
	rc = 0;
out:
	json_decref(o);
	return rc;
}

char *etcd_guest_net_enc(const struct st_guest_net *gn)
{
	return dump(json_pack("{s:s,s:s,s:s,s:i,s:i,s:I}", "guest", gn->guest,
			      "network_id", gn->network_id, "public_key",
			      gn->public_key, "listen_port",
			      (int)gn->listen_port, "mtu", (int)gn->mtu,
			      "key_created", (json_int_t)gn->key_created));
}

int etcd_guest_net_dec(const char *text, struct st_guest_net *gn)
{
	json_t *o = parse_obj(text);
	int64_t port;
	int rc = -EIO;

	memset(gn, 0, sizeof(*gn));
	if (!o)
		return -EIO;
	if (get_str(o, "guest", gn->guest, sizeof(gn->guest), true) ||
	    get_str(o, "network_id", gn->network_id, sizeof(gn->network_id),
		    true) ||
	    get_str(o, "public_key", gn->public_key, sizeof(gn->public_key),
		    false))
		goto out;
	port = get_int(o, "listen_port");
	if (port < 0 || port > 65535)
		goto out;
	gn->listen_port = (uint16_t)port;
	/* Absent in what older versions wrote: unknown. */
	port = get_int(o, "mtu");
	if (port < 0 || port > 65535)
		goto out;
	gn->mtu = (uint16_t)port;
	/* Absent in what older versions wrote: unknown (0). */
	gn->key_created = get_int(o, "key_created");
	if (gn->key_created < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}
