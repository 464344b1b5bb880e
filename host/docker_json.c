// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker Engine API's translation layer, pure: routes, Docker request
 * bodies → host op args, the filters query, prune matching, host errors →
 * Docker's status codes and messages. No sockets, no store: unit tests and
 * the fuzzer call these directly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_api.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof(*(a)))

const char *const docker_list_filters[] = { "name",  "id",	 "driver",
					    "label", "dangling", "scope",
					    "type",  NULL };
const char *const docker_prune_filters[] = { "label", "label!", "until", NULL };

static int jerr(char **errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int jerr(char **errmsg, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!errmsg)
		return -EINVAL;
	free(*errmsg);
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*errmsg = s;
	return -EINVAL;
}

/* --- routes --- */

int docker_version_num(const char *s)
{
	long major, minor;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	major = strtol(s, &end, 10);
	if (errno || *end != '.' || major > 99 ||
	    !isdigit((unsigned char)end[1]))
		return -1;
	minor = strtol(end + 1, &end, 10);
	if (errno || *end || minor > 999)
		return -1;
	return (int)(major * 1000 + minor);
}

static void no_route(struct docker_match *m, int status, const char *allow,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void no_route(struct docker_match *m, int status, const char *allow,
		     const char *fmt, ...)
{
	va_list ap;

	m->route = DR_NONE;
	m->status = status;
	m->allow = allow;
	va_start(ap, fmt);
	vsnprintf(m->message, sizeof(m->message), fmt, ap);
	va_end(ap);
}

/* One path segment [p, end) into buf; false if it does not fit. */
static bool seg_copy(char *buf, size_t len, const char *p, size_t n)
{
	if (n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* "/v1.41/rest": *rest past the version; 0, or the error is set in m. */
static int strip_version(const char *path, const char **rest,
			 struct docker_match *m)
{
	int v, max = docker_version_num(DOCKER_API_VERSION),
	       min = docker_version_num(DOCKER_API_MIN_VERSION);
	const char *slash;
	char ver[16];
	size_t n;

	*rest = path;
	if (path[1] != 'v' || !isdigit((unsigned char)path[2]))
		return 0;
	slash = strchr(path + 2, '/');
	n = slash ? (size_t)(slash - path - 2) : strlen(path + 2);
	v = seg_copy(ver, sizeof(ver), path + 2, n) ? docker_version_num(ver) :
						      -1;
	if (v < 0) {
		no_route(m, 404, NULL, "page not found");
		return -ENOENT;
	}
	if (v > max) {
		no_route(
			m, 400, NULL,
			"client version %s is too new. Maximum supported API version is %s",
			ver, DOCKER_API_VERSION);
		return -EINVAL;
	}
	if (v < min) {
		no_route(
			m, 400, NULL,
			"client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version",
			ver, DOCKER_API_MIN_VERSION);
		return -EINVAL;
	}
	*rest = slash ? slash : "";
	return 0;
}

/*
 * The routes, in the order tried. "{id}" is one non-empty path segment (the
 * network's name or id, into m->ref). A path that matches with no entry for
 * the method is a 405 with the allow of the last entry whose path matched:
 * as in Docker's router, "/networks/create" is POST only, and any other
 * method on it means the network so called.
 */
static const struct docker_route_def {
	const char *method, *path, *allow;
	enum docker_route route;
} docker_routes[] = {
	{ "GET", "/_ping", "GET, HEAD", DR_PING },
	{ "HEAD", "/_ping", "GET, HEAD", DR_PING },
	{ "GET", "/version", "GET", DR_VERSION },
	{ "GET", "/info", "GET", DR_INFO },
	{ "GET", "/networks", "GET", DR_NET_LIST },
	{ "POST", "/networks/create", "GET, DELETE", DR_NET_CREATE },
	{ "POST", "/networks/prune", "GET, DELETE", DR_NET_PRUNE },
	{ "GET", "/networks/{id}", "GET, DELETE", DR_NET_INSPECT },
	{ "HEAD", "/networks/{id}", "GET, DELETE", DR_NET_INSPECT },
	{ "DELETE", "/networks/{id}", "GET, DELETE", DR_NET_REMOVE },
	{ "POST", "/networks/{id}/connect", "POST", DR_NET_CONNECT },
	{ "POST", "/networks/{id}/disconnect", "POST", DR_NET_DISCONNECT },
};

/* 1 if path matches pat (its {id} into ref), 0 if not, -ENAMETOOLONG if the
 * {id} segment does not fit ref. */
static int route_path_match(const char *pat, const char *path, char *ref,
			    size_t reflen)
{
	const char *id = strstr(pat, "{id}");
	size_t pre, n;

	if (!id)
		return !strcmp(pat, path);
	pre = (size_t)(id - pat);
	if (strncmp(pat, path, pre))
		return 0;
	path += pre;
	n = strcspn(path, "/");
	if (!n || strcmp(id + 4, path + n))
		return 0;
	return seg_copy(ref, reflen, path, n) ? 1 : -ENAMETOOLONG;
}

void docker_route_match(const char *method, const char *path,
			struct docker_match *m)
{
	const struct docker_route_def *r, *seen = NULL;
	const char *rest;

	memset(m, 0, sizeof(*m));
	if (!method || !path || path[0] != '/') {
		no_route(m, 404, NULL, "page not found");
		return;
	}
	if (strip_version(path, &rest, m))
		return;
	/* A name too long for ref is no network, whatever follows it. */
	if (!strncmp(rest, "/networks/", 10) &&
	    strcspn(rest + 10, "/") >= sizeof(m->ref)) {
		no_route(m, 404, NULL, "network %.*s... not found", 64,
			 rest + 10);
		return;
	}
	for (r = docker_routes; r < docker_routes + ARRAY_SIZE(docker_routes);
	     r++) {
		char ref[sizeof(m->ref)] = "";

		if (route_path_match(r->path, rest, ref, sizeof(ref)) != 1)
			continue;
		seen = r;
		if (!strcmp(method, r->method)) {
			m->route = r->route;
			memcpy(m->ref, ref, sizeof(ref));
			return;
		}
		if (ref[0])
			memcpy(m->ref, ref, sizeof(ref));
	}
	if (seen)
		no_route(m, 405, seen->allow, "method not allowed");
	else
		no_route(m, 404, NULL, "page not found");
}

/* --- filters --- */

static bool in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static int filter_value_check(const char *key, const char *v, char **errmsg)
{
	if (!strcmp(key, "dangling") && strcmp(v, "true") &&
	    strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
		return jerr(errmsg, "invalid filter 'dangling=%s'", v);
	if (!strcmp(key, "type") && strcmp(v, "custom") && strcmp(v, "builtin"))
		return jerr(errmsg, "invalid filter 'type=%s'", v);
	return 0;
}

int docker_filters_parse(const char *text, const char *const *allowed,
			 json_t **out, char **errmsg)
{
	json_t *in = NULL, *res = NULL, *v, *x;
	json_error_t je;
	const char *key, *k;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!text || !*text)
		return 0;
	in = json_loads(text, 0, &je);
	if (!json_is_object(in)) {
		rc = jerr(errmsg, "invalid filter: %s",
			  in ? "must be a JSON object" : je.text);
		goto out;
	}
	res = json_object();
	json_object_foreach(in, key, v) {
		json_t *vals = json_array();

		if (!in_list(key, allowed)) {
			json_decref(vals);
			rc = jerr(errmsg, "invalid filter '%s'", key);
			goto out;
		}
		if (json_is_object(v)) {
			/* {"name":{"net1":true}}: the key is the value */
			json_object_foreach(v, k, x) {
				if (!json_is_boolean(x)) {
					json_decref(vals);
					rc = jerr(
						errmsg,
						"invalid filter '%s': values must be true",
						key);
					goto out;
				}
				json_array_append_new(vals, json_string(k));
			}
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, x) {
				if (!json_is_string(x)) {
					json_decref(vals);
					rc = jerr(
						errmsg,
						"invalid filter '%s': values must be strings",
						key);
					goto out;
				}
				json_array_append(vals, x);
			}
		} else {
			json_decref(vals);
			rc = jerr(errmsg, "invalid filter '%s'", key);
			goto out;
		}
		json_array_foreach(vals, i, x) {
			rc = filter_value_check(key, json_string_value(x),
						errmsg);
			if (rc) {
				json_decref(vals);
				goto out;
			}
		}
		/* A key without values does not restrict (Docker's rule). */
		if (json_array_size(vals))
			json_object_set_new(res, key, vals);
		else
			json_decref(vals);
	}
	if (json_object_size(res)) {
		*out = res;
		res = NULL;
	}
out:
	json_decref(in);
	json_decref(res);
	return rc;
}

/* Every value "k" or "k=v" of the array is among labels (AND). */
static bool labels_match(json_t *vals, json_t *labels)
{
	json_t *x, *l;
	size_t i;

	json_array_foreach(vals, i, x) {
		const char *s = json_string_value(x), *eq;
		char key[512];

		if (!s)
			return false;
		eq = strchr(s, '=');
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - s) : (int)strlen(s), s);
		l = json_object_get(labels, key);
		if (!l)
			return false;
		if (eq && (!json_is_string(l) ||
			   strcmp(json_string_value(l), eq + 1)))
			return false;
	}
	return true;
}

static bool parse_rfc3339(const char *s, int64_t *out)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%S",
					    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d",
					    NULL };

	for (int i = 0; fmts[i]; i++) {
		struct tm tm;
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, fmts[i], &tm);
		if (!end)
			continue;
		/* fractional seconds */
		if (*end == '.')
			for (end++; isdigit((unsigned char)*end); end++)
				;
		if (*end && strcmp(end, "Z"))
			continue;
		*out = (int64_t)timegm(&tm);
		return true;
	}
	return false;
}

/* Go's duration text: [0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h), repeated. */
static bool parse_duration(const char *s, int64_t *secs)
{
	double total = 0;

	if (!*s)
		return false;
	while (*s) {
		double v, unit;
		char *end;

		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
		v = strtod(s, &end);
		if (end == s)
			return false;
		s = end;
		if (!strncmp(s, "ns", 2))
			unit = 1e-9, s += 2;
		else if (!strncmp(s, "us", 2))
			unit = 1e-6, s += 2;
		else if (!strncmp(s, "\xc2\xb5s", 3))
			unit = 1e-6, s += 3;
		else if (!strncmp(s, "ms", 2))
			unit = 1e-3, s += 2;
		else if (*s == 's')
			unit = 1, s++;
		else if (*s == 'm')
			unit = 60, s++;
		else if (*s == 'h')
			unit = 3600, s++;
		else
			return false;
		total += v * unit;
		if (total > 1e12)
			return false;
	}
	*secs = (int64_t)total;
	return true;
}

int docker_parse_until(const char *s, int64_t now, int64_t *out)
{
	int64_t d;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	if (parse_duration(s, &d)) {
		*out = now - d;
		return 0;
	}
	if (isdigit((unsigned char)*s)) {
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (!errno && !*end && v < 1e12) {
			*out = (int64_t)v;
			return 0;
		}
	}
	if (parse_rfc3339(s, out))
		return 0;
	return -EINVAL;
}

bool docker_prune_match(json_t *filters, json_t *network, int64_t now)
{
	json_t *labels = json_object_get(network, "Labels"), *vals, *x;
	const char *created;
	int64_t until, t;
	size_t i;

	if (!json_is_object(labels))
		labels = NULL;
	vals = json_object_get(filters, "label");
	if (vals && !labels_match(vals, labels))
		return false;
	vals = json_object_get(filters, "label!");
	if (vals && labels_match(vals, labels))
		return false;
	vals = json_object_get(filters, "until");
	json_array_foreach(vals, i, x) {
		if (docker_parse_until(json_string_value(x), now, &until))
			return false;
		created =
			json_string_value(json_object_get(network, "Created"));
		if (!created || !parse_rfc3339(created, &t) || t >= until)
			return false;
	}
	return true;
}

/* --- request bodies --- */

static int body_object(const char *body, size_t len, json_t **out,
		       char **errmsg)
{
	json_error_t je;

	*out = NULL;
	if (!body || !len)
		return jerr(errmsg, "request body must be a JSON object");
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return jerr(errmsg, "invalid JSON: %s (at offset %d)", je.text,
			    je.position);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return jerr(errmsg, "request body must be a JSON object");
	}
	return 0;
}

/* A string field (absent or null = NULL); wrong type → -EINVAL. */
static int f_str(json_t *o, const char *key, const char **out, char **errmsg)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return jerr(errmsg, "invalid value for %s: must be a string",
			    key);
	*out = json_string_value(v);
	return 0;
}

/* A bool field; *set tells whether it was given (not null). */
static int f_bool(json_t *o, const char *key, bool *out, bool *set,
		  char **errmsg)
{
	json_t *v = json_object_get(o, key);

	*out = false;
	if (set)
		*set = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return jerr(errmsg, "invalid value for %s: must be a boolean",
			    key);
	*out = json_is_true(v);
	if (set)
		*set = true;
	return 0;
}

static int f_obj(json_t *o, const char *key, json_t **out, char **errmsg)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return jerr(errmsg, "invalid value for %s: must be an object",
			    key);
	*out = v;
	return 0;
}

/* A string → string map (Options, Labels), copied. */
static int f_strmap(json_t *o, const char *key, json_t **out, char **errmsg)
{
	json_t *m, *v;
	const char *k;
	int rc = f_obj(o, key, &m, errmsg);

	*out = NULL;
	if (rc || !m)
		return rc;
	json_object_foreach(m, k, v)
		if (!json_is_string(v))
			return jerr(
				errmsg,
				"invalid value for %s: '%s' must be a string",
				key, k);
	*out = json_deep_copy(m);
	return 0;
}

static bool nonempty(json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return !json_is_false(v);
}

static int ipam_args(json_t *ipam, json_t *args, char **errmsg)
{
	const char *driver;
	json_t *cfg, *e;
	bool have4 = false, have6 = false;
	size_t i;
	int rc;

	if (!ipam)
		return 0;
	if ((rc = f_str(ipam, "Driver", &driver, errmsg)))
		return rc;
	if (driver && *driver && strcmp(driver, "default"))
		return jerr(
			errmsg,
			"IPAM driver %s is not supported: wgnet has its own IPAM (use \"default\")",
			driver);
	if (nonempty(json_object_get(ipam, "Options")))
		return jerr(errmsg, "IPAM options are not supported");
	cfg = json_object_get(ipam, "Config");
	if (!cfg || json_is_null(cfg))
		return 0;
	if (!json_is_array(cfg))
		return jerr(errmsg,
			    "invalid value for IPAM.Config: must be an array");
	json_array_foreach(cfg, i, e) {
		const char *subnet, *range, *gw, *probe;
		bool v6;

		if (!json_is_object(e))
			return jerr(
				errmsg,
				"invalid value for IPAM.Config: entries must be objects");
		if ((rc = f_str(e, "Subnet", &subnet, errmsg)) ||
		    (rc = f_str(e, "IPRange", &range, errmsg)) ||
		    (rc = f_str(e, "Gateway", &gw, errmsg)))
			return rc;
		if (nonempty(json_object_get(e, "AuxiliaryAddresses")) ||
		    nonempty(json_object_get(e, "AuxAddress")))
			return jerr(errmsg,
				    "auxiliary addresses are not supported");
		if (subnet && !*subnet)
			subnet = NULL;
		if (range && !*range)
			range = NULL;
		if (gw && !*gw)
			gw = NULL;
		probe = subnet ? subnet : range ? range : gw;
		if (!probe)
			continue;
		v6 = strchr(probe, ':') != NULL;
		if (v6 ? have6 : have4)
			return jerr(
				errmsg,
				"only one %s subnet per network is supported",
				v6 ? "IPv6" : "IPv4");
		if (v6)
			have6 = true;
		else
			have4 = true;
		if (subnet)
			json_object_set_new(args, v6 ? "subnet6" : "subnet",
					    json_string(subnet));
		if (range)
			json_object_set_new(args, v6 ? "ip_range6" : "ip_range",
					    json_string(range));
		if (gw)
			json_object_set_new(args, v6 ? "gateway6" : "gateway",
					    json_string(gw));
	}
	return 0;
}

int docker_create_args(const char *body, size_t len, json_t **args,
		       char **errmsg)
{
	json_t *req = NULL, *a = NULL, *ipam, *labels = NULL, *opts = NULL,
	       *from;
	const char *name, *driver, *scope;
	bool ipv6, ipv6_set, ipv4, ipv4_set, internal, b;
	int rc;

	*args = NULL;
	rc = body_object(body, len, &req, errmsg);
	if (rc)
		return rc;
	if ((rc = f_str(req, "Name", &name, errmsg)) ||
	    (rc = f_str(req, "Driver", &driver, errmsg)) ||
	    (rc = f_str(req, "Scope", &scope, errmsg)) ||
	    (rc = f_bool(req, "EnableIPv6", &ipv6, &ipv6_set, errmsg)) ||
	    (rc = f_bool(req, "EnableIPv4", &ipv4, &ipv4_set, errmsg)) ||
	    (rc = f_bool(req, "Internal", &internal, NULL, errmsg)) ||
	    (rc = f_bool(req, "Attachable", &b, NULL, errmsg)) ||
	    (rc = f_bool(req, "CheckDuplicate", &b, NULL, errmsg)) ||
	    (rc = f_obj(req, "IPAM", &ipam, errmsg)) ||
	    (rc = f_strmap(req, "Labels", &labels, errmsg)) ||
	    (rc = f_strmap(req, "Options", &opts, errmsg)))
		goto out;
	if (!name || !*name) {
		rc = jerr(errmsg, "network name must not be empty");
		goto out;
	}
	if (scope && *scope && strcmp(scope, "local")) {
		rc = jerr(errmsg,
			  "scope %s is not supported: wgnet networks are local",
			  scope);
		goto out;
	}
	if (ipv4_set && !ipv4) {
		rc = jerr(errmsg, "IPv4 cannot be disabled on wgnet networks");
		goto out;
	}
	if ((rc = f_bool(req, "Ingress", &b, NULL, errmsg)))
		goto out;
	if (b) {
		rc = jerr(errmsg, "ingress networks are not supported");
		goto out;
	}
	if ((rc = f_bool(req, "ConfigOnly", &b, NULL, errmsg)))
		goto out;
	from = json_object_get(req, "ConfigFrom");
	if (b || (json_is_object(from) &&
		  nonempty(json_object_get(from, "Network")))) {
		rc = jerr(
			errmsg,
			"config-only networks (--config-only, --config-from) are not supported");
		goto out;
	}
	a = json_pack("{s:s}", "name", name);
	if (driver && *driver)
		json_object_set_new(a, "driver", json_string(driver));
	if (ipv6_set)
		json_object_set_new(a, "ipv6", json_boolean(ipv6));
	if (internal)
		json_object_set_new(a, "internal", json_true());
	if (labels)
		json_object_set(a, "labels", labels);
	if (opts)
		json_object_set(a, "options", opts);
	rc = ipam_args(ipam, a, errmsg);
	if (rc)
		goto out;
	*args = a;
	a = NULL;
out:
	json_decref(a);
	json_decref(labels);
	json_decref(opts);
	json_decref(req);
	return rc;
}

static int container_field(json_t *req, const char **c, char **errmsg)
{
	int rc = f_str(req, "Container", c, errmsg);

	if (rc)
		return rc;
	if (!*c || !**c)
		return jerr(errmsg, "container name or id is required");
	return 0;
}

int docker_connect_args(const char *ref, const char *body, size_t len,
			json_t **args, char **errmsg)
{
	json_t *req = NULL, *a = NULL, *ec, *ipam = NULL, *al, *x;
	const char *c, *ip = NULL, *ip6 = NULL;
	size_t i;
	int rc;

	*args = NULL;
	rc = body_object(body, len, &req, errmsg);
	if (rc)
		return rc;
	if ((rc = container_field(req, &c, errmsg)) ||
	    (rc = f_obj(req, "EndpointConfig", &ec, errmsg)))
		goto out;
	a = json_pack("{s:s,s:s}", "network", ref ? ref : "", "container", c);
	if (!ec)
		goto done;
	if ((rc = f_obj(ec, "IPAMConfig", &ipam, errmsg)))
		goto out;
	if (ipam && ((rc = f_str(ipam, "IPv4Address", &ip, errmsg)) ||
		     (rc = f_str(ipam, "IPv6Address", &ip6, errmsg))))
		goto out;
	if (ipam && nonempty(json_object_get(ipam, "LinkLocalIPs"))) {
		rc = jerr(errmsg, "link-local addresses are not supported");
		goto out;
	}
	if (nonempty(json_object_get(ec, "Links"))) {
		rc = jerr(errmsg, "links are not supported: use aliases");
		goto out;
	}
	if (nonempty(json_object_get(ec, "MacAddress"))) {
		rc = jerr(
			errmsg,
			"choosing the MAC address is not supported on wgnet networks");
		goto out;
	}
	if (nonempty(json_object_get(ec, "DriverOpts"))) {
		rc = jerr(errmsg, "driver options are not supported");
		goto out;
	}
	if (ip && *ip)
		json_object_set_new(a, "ip", json_string(ip));
	if (ip6 && *ip6)
		json_object_set_new(a, "ip6", json_string(ip6));
	al = json_object_get(ec, "Aliases");
	if (al && !json_is_null(al)) {
		if (!json_is_array(al)) {
			rc = jerr(
				errmsg,
				"invalid value for Aliases: must be an array of strings");
			goto out;
		}
		json_array_foreach(al, i, x) {
			if (!json_is_string(x)) {
				rc = jerr(
					errmsg,
					"invalid value for Aliases: must be an array of strings");
				goto out;
			}
		}
		if (json_array_size(al))
			json_object_set(a, "aliases", al);
	}
done:
	*args = a;
	a = NULL;
out:
	json_decref(a);
	json_decref(req);
	return rc;
}

int docker_disconnect_args(const char *ref, const char *body, size_t len,
			   json_t **args, char **errmsg)
{
	json_t *req = NULL;
	const char *c;
	bool force;
	int rc;

	*args = NULL;
	rc = body_object(body, len, &req, errmsg);
	if (rc)
		return rc;
	if ((rc = container_field(req, &c, errmsg)) ||
	    (rc = f_bool(req, "Force", &force, NULL, errmsg)))
		goto out;
	*args = json_pack("{s:s,s:s,s:b}", "network", ref ? ref : "",
			  "container", c, "force", force);
out:
	json_decref(req);
	return rc;
}

/* --- responses --- */

int docker_error_status(enum docker_route route, int rc, const char *hostmsg,
			char *msg, size_t len)
{
	const char *m = hostmsg && *hostmsg ? hostmsg :
					      strerror(rc < 0 ? -rc : rc);

	if (rc > 0)
		rc = -rc;
	snprintf(msg, len, "%s", m);
	switch (rc) {
	case -ENOENT:
		/* Docker says "No such container: c1". */
		if (!strncmp(m, "no such container", 17))
			snprintf(msg, len, "No such container%s", m + 17);
		return 404;
	case -EEXIST:
		if (route == DR_NET_CREATE && strstr(m, "overlaps")) {
			snprintf(
				msg, len,
				"Pool overlaps with other one on this address space (%s)",
				m);
			return 403;
		}
		/* A second endpoint or a taken address: Docker's Forbidden. */
		if (route == DR_NET_CONNECT)
			return 403;
		return 409;
	case -EBUSY:
		return 409;
	case -EADDRINUSE:
		return 403;
	case -EINVAL:
	case -ERANGE:
	case -ENAMETOOLONG:
		return 400;
	case -ENOSPC:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
		return 503;
	default:
		return 500;
	}
}

json_t *docker_error_body(const char *msg)
{
	return json_pack("{s:s}", "message", msg ? msg : "");
}

json_t *docker_create_response(json_t *net)
{
	const char *id = json_string_value(json_object_get(net, "Id"));

	return json_pack("{s:s,s:s}", "Id", id ? id : "", "Warning", "");
}

json_t *docker_network_out(json_t *net)
{
	/* The host's object is Docker's NetworkResource already; endpoints
	 * carry three extra fields (Aliases, Guest, PublicKey) that the CLI
	 * ignores and users find handy. */
	return json_is_object(net) ? json_deep_copy(net) : json_object();
}

int docker_sock_default(const char *host_sock, char *buf, size_t len)
{
	const char *slash = host_sock ? strrchr(host_sock, '/') : NULL;
	int n;

	if (!slash)
		n = snprintf(buf, len, "docker.sock");
	else
		n = snprintf(buf, len, "%.*s/docker.sock",
			     (int)(slash - host_sock), host_sock);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}
