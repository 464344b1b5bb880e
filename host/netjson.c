// SPDX-License-Identifier: GPL-2.0
/*
 * Docker-shaped JSON (the network object, endpoint settings, list filters)
 * and the CLI's pure text helpers (flag parsing, port specs, --format
 * templates, Docker's table layout). Pure: no I/O besides the store reads
 * of netjson_network().
 */
#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "host.h"
#include "wgnet/ipnet.h"

void netjson_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

static json_t *obj_from_text(const char *text)
{
	json_t *j = text && *text ? json_loads(text, 0, NULL) : NULL;

	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	return j;
}

static json_t *arr_from_text(const char *text)
{
	json_t *j = text && *text ? json_loads(text, 0, NULL) : NULL;

	if (!json_is_array(j)) {
		json_decref(j);
		j = json_array();
	}
	return j;
}

static json_t *ipam_entry(const struct ip_prefix *subnet,
			  const struct ip_prefix *range,
			  const struct ip_addr *gw)
{
	char buf[IPNET_STRLEN];
	json_t *e = json_object();

	json_object_set_new(e, "Subnet", json_string(prefix_fmt(subnet, buf)));
	if (gw->family)
		json_object_set_new(e, "Gateway", json_string(ip_fmt(gw, buf)));
	/* Docker's IPAMConfig.IPRange is omitempty. */
	if (range->addr.family)
		json_object_set_new(e, "IPRange",
				    json_string(prefix_fmt(range, buf)));
	return e;
}

static json_t *addr_with_plen(const struct ip_addr *ip, int plen)
{
	char buf[IPNET_STRLEN], out[IPNET_STRLEN + 8];

	if (!ip->family)
		return json_string("");
	snprintf(out, sizeof(out), "%s/%d", ip_fmt(ip, buf), plen);
	return json_string(out);
}

json_t *netjson_network(struct store *st, const struct st_network *n)
{
	char created[64];
	json_t *j, *ipam, *cfg, *ctrs;
	struct st_endpoint *eps = NULL;
	size_t neps = 0;

	netjson_time(n->created, created, sizeof(created));
	cfg = json_array();
	if (n->subnet4.addr.family)
		json_array_append_new(cfg, ipam_entry(&n->subnet4, &n->range4,
						      &n->gw4));
	if (n->subnet6.addr.family)
		json_array_append_new(cfg, ipam_entry(&n->subnet6, &n->range6,
						      &n->gw6));
	ipam = json_pack("{s:s,s:{},s:o}", "Driver", "default", "Options",
			 "Config", cfg);
	ctrs = json_object();
	if (st && !st->ops->endpoint_list(st, n->id, NULL, &eps, &neps)) {
		for (size_t i = 0; i < neps; i++) {
			struct st_container c;
			struct st_guest_net gn;
			json_t *e;

			if (st->ops->container_get(st, eps[i].container_id, &c))
				continue;
			if (st->ops->guest_net_get(st, c.guest, n->id, &gn))
				gn.public_key[0] = '\0';
			e = json_object();
			json_object_set_new(e, "Name", json_string(c.name));
			json_object_set_new(e, "EndpointID",
					    json_string(eps[i].id));
			json_object_set_new(e, "MacAddress",
					    json_string(eps[i].mac));
			json_object_set_new(e, "IPv4Address",
					    addr_with_plen(&eps[i].ip4,
							   n->subnet4.plen));
			json_object_set_new(e, "IPv6Address",
					    addr_with_plen(&eps[i].ip6,
							   n->subnet6.plen));
			json_object_set_new(e, "Aliases",
					    arr_from_text(eps[i].aliases));
			json_object_set_new(e, "Guest", json_string(c.guest));
			json_object_set_new(e, "PublicKey",
					    json_string(gn.public_key));
			json_object_set_new(ctrs, c.id, e);
		}
		free(eps);
	}
	j = json_object();
	json_object_set_new(j, "Name", json_string(n->name));
	json_object_set_new(j, "Id", json_string(n->id));
	json_object_set_new(j, "Created", json_string(created));
	json_object_set_new(j, "Scope", json_string("local"));
	json_object_set_new(j, "Driver", json_string(n->driver));
	json_object_set_new(j, "EnableIPv6", json_boolean(n->ipv6));
	json_object_set_new(j, "IPAM", ipam);
	json_object_set_new(j, "Internal", json_boolean(n->internal));
	json_object_set_new(j, "Attachable", json_true());
	json_object_set_new(j, "Ingress", json_false());
	json_object_set_new(j, "ConfigFrom", json_pack("{s:s}", "Network", ""));
	json_object_set_new(j, "ConfigOnly", json_false());
	json_object_set_new(j, "Containers", ctrs);
	json_object_set_new(j, "Options", obj_from_text(n->options));
	json_object_set_new(j, "Labels", obj_from_text(n->labels));
	return j;
}

json_t *netjson_endpoint(const struct st_network *n,
			 const struct st_container *c,
			 const struct st_endpoint *ep)
{
	char buf[IPNET_STRLEN];
	json_t *j = json_object();
	bool v4 = ep->ip4.family != 0, v6 = ep->ip6.family != 0;

	json_object_set_new(j, "Aliases", arr_from_text(ep->aliases));
	json_object_set_new(j, "NetworkID", json_string(n->id));
	json_object_set_new(j, "EndpointID", json_string(ep->id));
	json_object_set_new(
		j, "Gateway",
		json_string(v4 && n->gw4.family ? ip_fmt(&n->gw4, buf) : ""));
	json_object_set_new(j, "IPAddress",
			    json_string(v4 ? ip_fmt(&ep->ip4, buf) : ""));
	json_object_set_new(j, "IPPrefixLen",
			    json_integer(v4 ? n->subnet4.plen : 0));
	json_object_set_new(
		j, "IPv6Gateway",
		json_string(v6 && n->gw6.family ? ip_fmt(&n->gw6, buf) : ""));
	json_object_set_new(j, "GlobalIPv6Address",
			    json_string(v6 ? ip_fmt(&ep->ip6, buf) : ""));
	json_object_set_new(j, "GlobalIPv6PrefixLen",
			    json_integer(v6 ? n->subnet6.plen : 0));
	json_object_set_new(j, "MacAddress", json_string(ep->mac));
	json_object_set_new(j, "ContainerID", json_string(c->id));
	json_object_set_new(j, "Container", json_string(c->name));
	json_object_set_new(j, "Guest", json_string(c->guest));
	return j;
}

/* --- list filters --- */

static const char *const filter_keys[] = { "name",  "id",	"driver",
					   "label", "dangling", "scope",
					   "type" };

/* The values of one filter key as a new array of strings, or NULL. */
static json_t *filter_values(json_t *v)
{
	json_t *out = json_array(), *x;
	const char *k;
	size_t i;

	if (json_is_string(v)) {
		json_array_append(out, v);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (!json_is_string(x))
				goto bad;
			json_array_append(out, x);
		}
	} else if (json_is_object(v)) {
		/* Docker's old map form: {"name":{"net1":true}} */
		json_object_foreach(v, k, x) {
			if (json_is_true(x))
				json_array_append_new(out, json_string(k));
		}
	} else {
		goto bad;
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

int netjson_filters_check(json_t *filters, char **errmsg)
{
	const char *key;
	json_t *v;

	if (!filters || json_is_null(filters))
		return 0;
	if (!json_is_object(filters))
		return host_err(errmsg, -EINVAL, "filters must be an object");
	json_object_foreach(filters, key, v) {
		json_t *vals = filter_values(v);
		bool known = false;
		size_t i;
		json_t *x;

		for (i = 0; i < sizeof(filter_keys) / sizeof(*filter_keys); i++)
			known |= !strcmp(key, filter_keys[i]);
		if (!known) {
			json_decref(vals);
			return host_err(errmsg, -EINVAL, "invalid filter '%s'",
					key);
		}
		if (!vals)
			return host_err(errmsg, -EINVAL,
					"filter '%s' must be a list of strings",
					key);
		json_array_foreach(vals, i, x) {
			const char *s = json_string_value(x);

			if (!strcmp(key, "dangling") && strcmp(s, "true") &&
			    strcmp(s, "false") && strcmp(s, "1") &&
			    strcmp(s, "0")) {
				json_decref(vals);
				return host_err(errmsg, -EINVAL,
						"invalid filter 'dangling=%s'",
						s);
			}
		}
		json_decref(vals);
	}
	return 0;
}

static bool name_match(const char *pat, const char *name)
{
	regex_t re;
	bool m;

	/* Docker matches names with an unanchored regular expression. */
	if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB))
		return strstr(name, pat) != NULL;
	m = regexec(&re, name, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

static bool label_match(const char *want, const struct st_network *n)
{
	json_t *labels = obj_from_text(n->labels), *v;
	const char *eq = strchr(want, '=');
	char key[256];
	bool m = false;

	snprintf(key, sizeof(key), "%.*s",
		 eq ? (int)(eq - want) : (int)strlen(want), want);
	v = json_object_get(labels, key);
	if (v)
		m = !eq || (json_is_string(v) &&
			    !strcmp(json_string_value(v), eq + 1));
	json_decref(labels);
	return m;
}

static bool value_match(const char *key, const char *val,
			const struct st_network *n, size_t n_endpoints)
{
	if (!strcmp(key, "name"))
		return name_match(val, n->name);
	if (!strcmp(key, "id"))
		return !strncmp(n->id, val, strlen(val));
	if (!strcmp(key, "driver"))
		return !strcmp(n->driver, val);
	if (!strcmp(key, "label"))
		return label_match(val, n);
	if (!strcmp(key, "dangling")) {
		bool want = !strcmp(val, "true") || !strcmp(val, "1");

		return want == (n_endpoints == 0);
	}
	if (!strcmp(key, "scope"))
		return !strcmp(val, "local");
	if (!strcmp(key, "type"))
		return !strcmp(val, "custom");
	return false;
}

bool netjson_filters_match(json_t *filters, const struct st_network *n,
			   size_t n_endpoints)
{
	const char *key;
	json_t *v;

	if (!json_is_object(filters))
		return true;
	json_object_foreach(filters, key, v) {
		json_t *vals = filter_values(v), *x;
		bool any = false;
		size_t i;

		if (!vals)
			return false;
		/* Values of one key are ORed, keys are ANDed. */
		json_array_foreach(vals, i, x) {
			if (value_match(key, json_string_value(x), n,
					n_endpoints)) {
				any = true;
				break;
			}
		}
		if (json_array_size(vals) == 0)
			any = true;
		json_decref(vals);
		if (!any)
			return false;
	}
	return true;
}

/* --- CLI helpers --- */

/*
 * The CLI's options go through getopt_long in RETURN_IN_ORDER mode ("-"): a
 * positional comes back as 1, so options stand anywhere, no argv is
 * permuted and the element being parsed is always argv[optind before the
 * call]. On top of getopt, pflag's rules: long names match exactly (no
 * abbreviations), a boolean takes "--x=true|false", "-d=v" is "-d v".
 */
#define CLI_LONG_BASE 256 /* getopt's val of the long-only entry i */

struct cli_getopt {
	struct option *lopts;
	char *sopts;
	char **argv; /* argv[0] a program name, then the caller's */
	int argc;
};

static void cli_getopt_free(struct cli_getopt *g)
{
	free(g->lopts);
	free(g->sopts);
	free(g->argv);
}

static int cli_getopt_init(struct cli_getopt *g, const struct cli_opt *opts,
			   int argc, char **argv)
{
	int n = 0, k = 0, s = 0;

	while (opts[n].lng || opts[n].shrt)
		n++;
	g->lopts = calloc((size_t)n + 1, sizeof(*g->lopts));
	g->sopts = calloc(3 + 2 * (size_t)n + 1, 1);
	g->argv = calloc((size_t)argc + 2, sizeof(*g->argv));
	g->argc = argc + 1;
	if (!g->lopts || !g->sopts || !g->argv)
		return -ENOMEM;
	g->sopts[s++] = '-'; /* positionals in order, as 1 */
	g->sopts[s++] = ':'; /* a missing argument is ':', not '?' */
	for (int i = 0; i < n; i++) {
		if (opts[i].lng)
			g->lopts[k++] = (struct option){
				.name = opts[i].lng,
				.has_arg = opts[i].has_arg ? required_argument :
							     optional_argument,
				.val = CLI_LONG_BASE + i,
			};
		if (opts[i].shrt) {
			g->sopts[s++] = opts[i].shrt;
			if (opts[i].has_arg)
				g->sopts[s++] = ':';
		}
	}
	g->argv[0] = "wgnet";
	memcpy(g->argv + 1, argv, (size_t)argc * sizeof(*argv));
	return 0;
}

static int find_short(const struct cli_opt *opts, int c)
{
	for (int i = 0; opts[i].lng || opts[i].shrt; i++)
		if (opts[i].shrt == c)
			return i;
	return -1;
}

static void add_val(struct cli_args *a, int opt, const char *val)
{
	a->vals[a->n_vals].opt = opt;
	a->vals[a->n_vals].val = val;
	a->n_vals++;
}

/* A long option getopt found in elem ("--name[=v]"). */
static int cli_long(const struct cli_opt *opts, int o, const char *elem,
		    struct cli_args *a, char *err, size_t errlen)
{
	const char *name = elem + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);

	if (strlen(opts[o].lng) != len || strncmp(opts[o].lng, name, len)) {
		snprintf(err, errlen, "unknown flag: --%.*s", (int)len, name);
		return -EINVAL;
	}
	if (opts[o].has_arg) {
		add_val(a, o, optarg);
		return 0;
	}
	if (optarg && strcmp(optarg, "true") && strcmp(optarg, "false")) {
		snprintf(err, errlen,
			 "invalid argument \"%s\" for \"--%s\" flag", optarg,
			 opts[o].lng);
		return -EINVAL;
	}
	if (!optarg || !strcmp(optarg, "true"))
		add_val(a, o, NULL);
	return 0;
}

/* A short option c found in elem; its argument, if any, in optarg (in elem
 * itself when attached, "-dv"). */
static int cli_short(const struct cli_opt *opts, int c, const char *elem,
		     bool attached, struct cli_args *a, char *err,
		     size_t errlen)
{
	int o = find_short(opts, c);
	const char *v = optarg;

	if (o < 0) {
		snprintf(err, errlen, "unknown shorthand flag: '%c' in %s", c,
			 elem);
		return -EINVAL;
	}
	/* "-d=v": the '=' right after the letter is not part of the value. */
	if (v && attached && *v == '=')
		v++;
	add_val(a, o, opts[o].has_arg ? v : NULL);
	return 0;
}

/* A missing argument for the option getopt reports in optopt. */
static int cli_missing(const struct cli_opt *opts, char *err, size_t errlen)
{
	if (optopt >= CLI_LONG_BASE)
		snprintf(err, errlen, "flag needs an argument: --%s",
			 opts[optopt - CLI_LONG_BASE].lng);
	else
		snprintf(err, errlen, "flag needs an argument: '%c' in -%c",
			 optopt, optopt);
	return -EINVAL;
}

/* One getopt_long step: 1 when parsing is over, 0 to go on, or -errno. */
static int cli_step(const struct cli_opt *opts, struct cli_getopt *g,
		    struct cli_args *a, char *err, size_t errlen)
{
	int at = optind ? optind : 1;
	const char *elem = at < g->argc ? g->argv[at] : "";
	int c = getopt_long(g->argc, g->argv, g->sopts, g->lopts, NULL);

	if (c == -1)
		return 1;
	if (c == 1) {
		a->pos[a->n_pos++] = optarg;
		return 0;
	}
	if (c == ':')
		return cli_missing(opts, err, errlen);
	if (c == '?' && !strncmp(elem, "--", 2)) {
		const char *name = elem + 2, *eq = strchr(name, '=');

		snprintf(err, errlen, "unknown flag: --%.*s",
			 (int)(eq ? eq - name : (long)strlen(name)), name);
		return -EINVAL;
	}
	if (c >= CLI_LONG_BASE)
		return cli_long(opts, c - CLI_LONG_BASE, elem, a, err, errlen);
	return cli_short(opts, c == '?' ? optopt : c, elem, optind == at + 1, a,
			 err, errlen);
}

int cli_parse(const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *out, char *err, size_t errlen)
{
	struct cli_getopt g = { 0 };
	size_t cap = 1;
	int rc;

	memset(out, 0, sizeof(*out));
	/* At most one value per character ("-qqq" is three). */
	for (int i = 0; i < argc; i++)
		cap += strlen(argv[i]);
	out->pos = calloc((size_t)argc + 1, sizeof(*out->pos));
	out->vals = calloc(cap, sizeof(*out->vals));
	rc = cli_getopt_init(&g, opts, argc, argv);
	if (rc || !out->pos || !out->vals) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	optind = 0; /* start afresh */
	opterr = 0;
	while (!(rc = cli_step(opts, &g, out, err, errlen)))
		;
	if (rc == 1) {
		rc = 0;
		/* After "--", everything is positional. */
		for (; optind < g.argc; optind++)
			out->pos[out->n_pos++] = g.argv[optind];
	}
out:
	cli_getopt_free(&g);
	if (rc)
		cli_args_free(out);
	return rc;
}

void cli_args_free(struct cli_args *a)
{
	if (!a)
		return;
	free(a->pos);
	free(a->vals);
	memset(a, 0, sizeof(*a));
}

const char *cli_last(const struct cli_args *a, int opt)
{
	const char *v = NULL;

	for (int i = 0; i < a->n_vals; i++)
		if (a->vals[i].opt == opt)
			v = a->vals[i].val;
	return v;
}

bool cli_has(const struct cli_args *a, int opt)
{
	for (int i = 0; i < a->n_vals; i++)
		if (a->vals[i].opt == opt)
			return true;
	return false;
}

static int port_num(const char *s, size_t len)
{
	long v = 0;

	if (!len || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

int cli_port_parse(const char *spec, json_t **out, char *err, size_t errlen)
{
	char buf[128], *proto = "tcp", *rest, *hp, *cp, *slash, *ip = NULL;
	struct ip_addr addr;
	int h, c;

	*out = NULL;
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	slash = strrchr(buf, '/');
	if (slash) {
		*slash = '\0';
		proto = slash + 1;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp")) {
			snprintf(
				err, errlen,
				"invalid port spec '%s': protocol must be tcp or udp",
				spec);
			return -EINVAL;
		}
	}
	rest = buf;
	if (*rest == '[') {
		char *rb = strchr(rest, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		*rb = '\0';
		ip = rest + 1;
		rest = rb + 2;
	}
	cp = strrchr(rest, ':');
	if (!cp)
		goto bad;
	*cp++ = '\0';
	hp = strrchr(rest, ':');
	if (hp) {
		if (ip)
			goto bad;
		*hp++ = '\0';
		ip = rest;
	} else {
		hp = rest;
	}
	h = port_num(hp, strlen(hp));
	c = port_num(cp, strlen(cp));
	if (h < 0 || c < 0)
		goto bad;
	if (ip && *ip && ip_parse(ip, &addr)) {
		snprintf(err, errlen,
			 "invalid port spec '%s': bad host IP '%s'", spec, ip);
		return -EINVAL;
	}
	*out = json_pack("{s:s,s:i,s:i}", "proto", proto, "host_port", h,
			 "container_port", c);
	if (ip && *ip)
		json_object_set_new(*out, "host_ip", json_string(ip));
	return 0;
bad:
	snprintf(
		err, errlen,
		"invalid port spec '%s': want [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]",
		spec);
	return -EINVAL;
}

int cli_format(const char *fmt, json_t *row, char **out, char *err,
	       size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *p = fmt;
	int rc = 0;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	while (*p) {
		if (p[0] == '\\' && p[1] == 't') {
			fputc('\t', f);
			p += 2;
		} else if (p[0] == '\\' && p[1] == 'n') {
			fputc('\n', f);
			p += 2;
		} else if (p[0] == '{' && p[1] == '{') {
			const char *end = strstr(p + 2, "}}"), *s, *e;
			char field[64];
			json_t *v;

			if (!end) {
				snprintf(err, errlen,
					 "template: unclosed action in '%s'",
					 fmt);
				rc = -EINVAL;
				break;
			}
			for (s = p + 2; *s == ' '; s++)
				;
			for (e = end; e > s && e[-1] == ' '; e--)
				;
			if (*s != '.' || e - s - 1 <= 0 ||
			    e - s - 1 >= (long)sizeof(field)) {
				snprintf(err, errlen,
					 "template: unsupported action '%.*s'",
					 (int)(end + 2 - p), p);
				rc = -EINVAL;
				break;
			}
			snprintf(field, sizeof(field), "%.*s", (int)(e - s - 1),
				 s + 1);
			v = json_object_get(row, field);
			if (!json_is_string(v)) {
				snprintf(err, errlen,
					 "template: can't evaluate field %s",
					 field);
				rc = -EINVAL;
				break;
			}
			fputs(json_string_value(v), f);
			p = end + 2;
		} else {
			fputc(*p++, f);
		}
	}
	fclose(f);
	if (rc)
		free(buf);
	else
		*out = buf;
	return rc;
}

void cli_ago(int64_t then, int64_t now, char *buf, size_t len)
{
	static const struct {
		int64_t secs;
		const char *unit;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" } };
	int64_t d = now - then;

	if (then <= 0) {
		snprintf(buf, len, "never");
		return;
	}
	if (d < 0)
		d = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		if (d >= units[i].secs) {
			int64_t k = d / units[i].secs;

			snprintf(buf, len, "%lld %s%s ago", (long long)k,
				 units[i].unit, k == 1 ? "" : "s");
			return;
		}
	}
	snprintf(buf, len, "%lld second%s ago", (long long)d,
		 d == 1 ? "" : "s");
}

struct cli_table {
	int ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols */
};

struct cli_table *cli_table_new(int ncols)
{
	struct cli_table *t = calloc(1, sizeof(*t));

	if (t)
		t->ncols = ncols;
	return t;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
			strdup(cells[i] ? cells[i] : "");
	t->nrows++;
	return 0;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	size_t *w = calloc((size_t)t->ncols, sizeof(*w));

	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;

			if (l + 3 > w[c])
				w[c] = l + 3;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (!s)
				s = "";
			if (c == t->ncols - 1)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s", (int)(w[c] < 10 ? 10 : w[c]),
					s);
		}
	}
	free(w);
}

void cli_table_free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
