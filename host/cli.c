// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet: the command line, with docker network's words and flags. Talks to
 * wgnet-host over its unix socket (-H/--host, $WGNET_HOST_SOCK, or
 * /run/wgnet/host.sock). Errors: one "Error: ..." line on stderr, exit 1;
 * usage errors exit 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wgnet/host.h"
#include "wgnet/proto.h"

#define CLI_TIMEOUT_MS 120000

static const char *sock_path;

struct cmd {
	const char *group; /* NULL for top-level */
	const char *name;
	const char *usage;
	int (*fn)(int argc, char **argv);
};

static int usage_err(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_err(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: %s\n", usage);
	return 2;
}

static int err1(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int err1(const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* One host call. Returns 0, or prints the error and returns -errno. */
static int call(const char *op, json_t *args, json_t **res, bool quiet_enoent)
{
	char *em = NULL;
	int rc = proto_call(sock_path, CLI_TIMEOUT_MS, op, args, res, &em);

	if (rc && !em) {
		err1("cannot reach wgnet-host at %s: %s", sock_path,
		     strerror(-rc));
	} else if (rc && !(quiet_enoent && rc == -ENOENT)) {
		err1("%s", em);
	}
	free(em);
	return rc;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* Parse or print a usage error; returns 0 or the exit code (2, or -1 for a
 * --help that was printed). */
static int parse(const struct cli_opt *opts, int argc, char **argv,
		 struct cli_args *a, const char *usage, int help_idx)
{
	char err[256];

	if (cli_parse(opts, argc, argv, a, err, sizeof(err)))
		return usage_err(usage, "%s", err);
	if (help_idx >= 0 && cli_has(a, help_idx)) {
		printf("Usage: %s\n", usage);
		cli_args_free(a);
		return -1;
	}
	return 0;
}

#define PARSE_OR_RETURN(opts, usage, help)                         \
	do {                                                       \
		int _r = parse(opts, argc, argv, &a, usage, help); \
		if (_r)                                            \
			return _r < 0 ? 0 : _r;                    \
	} while (0)

/* --- network create --- */

enum {
	NC_SUBNET,
	NC_RANGE,
	NC_GW,
	NC_INTERNAL,
	NC_IPV6,
	NC_LABEL,
	NC_DRIVER,
	NC_OPT,
	NC_ATTACHABLE,
	NC_HELP
};

static int kv_into(json_t *obj, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[256];

	if (eq == kv)
		return -EINVAL;
	snprintf(key, sizeof(key), "%.*s",
		 eq ? (int)(eq - kv) : (int)strlen(kv), kv);
	json_object_set_new(obj, key, json_string(eq ? eq + 1 : ""));
	return 0;
}

static int put_family(json_t *args, const char *key4, const char *key6,
		      const char *flag, const char *val)
{
	const char *key = strchr(val, ':') ? key6 : key4;

	if (json_object_get(args, key))
		return err1("only one IPv4 and one IPv6 %s may be given", flag);
	json_object_set_new(args, key, json_string(val));
	return 0;
}

static int cmd_network_create(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NC_SUBNET] = { "subnet", 0, true },
		[NC_RANGE] = { "ip-range", 0, true },
		[NC_GW] = { "gateway", 0, true },
		[NC_INTERNAL] = { "internal", 0, false },
		[NC_IPV6] = { "ipv6", 0, false },
		[NC_LABEL] = { "label", 0, true },
		[NC_DRIVER] = { "driver", 'd', true },
		[NC_OPT] = { "opt", 'o', true },
		[NC_ATTACHABLE] = { "attachable", 0, false },
		[NC_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet network create [--subnet CIDR] [--ip-range CIDR] [--gateway IP] [--internal] [--ipv6] [--label K=V]... [-d DRIVER] [-o K=V]... NETWORK";
	struct cli_args a;
	json_t *args = NULL, *labels = NULL, *o = NULL, *res = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, NC_HELP);
	labels = json_object();
	o = json_object();
	if (a.n_pos != 1) {
		rc = usage_err(
			usage,
			"\"wgnet network create\" requires exactly 1 argument");
		goto out;
	}
	args = json_pack("{s:s}", "name", a.pos[0]);
	for (int i = 0; i < a.n_vals; i++) {
		const char *v = a.vals[i].val;

		switch (a.vals[i].opt) {
		case NC_SUBNET:
			if (put_family(args, "subnet", "subnet6", "subnet", v))
				goto out;
			break;
		case NC_RANGE:
			if (put_family(args, "ip_range", "ip_range6",
				       "ip-range", v))
				goto out;
			break;
		case NC_GW:
			if (put_family(args, "gateway", "gateway6", "gateway",
				       v))
				goto out;
			break;
		case NC_LABEL:
			if (kv_into(labels, v)) {
				err1("invalid label '%s': want KEY=VALUE", v);
				goto out;
			}
			break;
		case NC_OPT:
			if (kv_into(o, v)) {
				err1("invalid option '%s': want KEY=VALUE", v);
				goto out;
			}
			break;
		case NC_DRIVER:
			json_object_set_new(args, "driver", json_string(v));
			break;
		}
	}
	json_object_set_new(args, "internal",
			    json_boolean(cli_has(&a, NC_INTERNAL)));
	json_object_set_new(args, "ipv6", json_boolean(cli_has(&a, NC_IPV6)));
	json_object_set(args, "labels", labels);
	json_object_set(args, "options", o);
	if (call("NetworkCreate", args, &res, false))
		goto out;
	printf("%s\n", json_str(res, "Id") ? json_str(res, "Id") : "");
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(labels);
	json_decref(o);
	json_decref(res);
	return rc;
}

/* --- network ls --- */

enum { NL_QUIET, NL_NOTRUNC, NL_FILTER, NL_FORMAT, NL_HELP };

static int by_name(const void *x, const void *y)
{
	json_t *const *a = x, *const *b = y;

	return strcmp(json_str(*a, "Name"), json_str(*b, "Name"));
}

static json_t *net_row(json_t *n, bool trunc)
{
	char id[ST_ID_LEN];
	json_t *labels = json_object_get(n, "Labels"), *v;
	const char *k;
	char *lab = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&lab, &len);
	json_t *row;

	snprintf(id, sizeof(id), "%.*s", trunc ? 12 : 64,
		 json_str(n, "Id") ? json_str(n, "Id") : "");
	json_object_foreach(labels, k, v) {
		if (f)
			fprintf(f, "%s%s=%s", ftell(f) ? "," : "", k,
				json_string_value(v) ? json_string_value(v) :
						       "");
	}
	if (f)
		fclose(f);
	row = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", id, "Name",
		json_str(n, "Name") ? json_str(n, "Name") : "", "Driver",
		json_str(n, "Driver") ? json_str(n, "Driver") : "", "Scope",
		json_str(n, "Scope") ? json_str(n, "Scope") : "", "Internal",
		json_is_true(json_object_get(n, "Internal")) ? "true" : "false",
		"IPv6",
		json_is_true(json_object_get(n, "EnableIPv6")) ? "true" :
								 "false",
		"CreatedAt",
		json_str(n, "Created") ? json_str(n, "Created") : "", "Labels",
		lab ? lab : "");
	free(lab);
	return row;
}

static int table_add_line(struct cli_table *t, int ncols, char *line)
{
	const char *cells[32] = { 0 };
	int k = 0;

	for (char *p = line, *tab; k < ncols && k < 32; p = tab + 1) {
		tab = strchr(p, '\t');
		cells[k++] = p;
		if (!tab)
			break;
		*tab = '\0';
	}
	return cli_table_add(t, cells);
}

static int print_rows(const char *format, json_t *rows, json_t *header)
{
	bool table = !format || !strncmp(format, "table", 5);
	const char *fmt = format ? format : "table";
	struct cli_table *t = NULL;
	char err[256], *line = NULL;
	json_t *row;
	size_t i;
	int ncols = 1, rc = 0;

	if (table) {
		fmt += 5;
		while (*fmt == ' ')
			fmt++;
		if (!*fmt)
			fmt = "{{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}";
		if (cli_format(fmt, header, &line, err, sizeof(err)))
			return err1("%s", err);
		for (char *p = line; *p; p++)
			ncols += *p == '\t';
		t = cli_table_new(ncols);
		if (!t) {
			free(line);
			return err1("out of memory");
		}
		table_add_line(t, ncols, line);
		free(line);
	}
	json_array_foreach(rows, i, row) {
		if (cli_format(fmt, row, &line, err, sizeof(err))) {
			rc = err1("%s", err);
			break;
		}
		if (t)
			table_add_line(t, ncols, line);
		else
			printf("%s\n", line);
		free(line);
	}
	if (t && !rc)
		cli_table_print(t, stdout);
	cli_table_free(t);
	return rc;
}

static int add_filter(json_t *filters, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	json_t *arr;

	if (!eq || eq == kv || eq - kv >= (long)sizeof(key))
		return err1("bad format of filter '%s' (expected name=value)",
			    kv);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	arr = json_object_get(filters, key);
	if (!arr) {
		arr = json_array();
		json_object_set_new(filters, key, arr);
	}
	json_array_append_new(arr, json_string(eq + 1));
	return 0;
}

static int cmd_network_ls(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NL_QUIET] = { "quiet", 'q', false },
		[NL_NOTRUNC] = { "no-trunc", 0, false },
		[NL_FILTER] = { "filter", 'f', true },
		[NL_FORMAT] = { "format", 0, true },
		[NL_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet network ls [-q] [--no-trunc] [-f KEY=VALUE]... [--format TEMPLATE]";
	struct cli_args a;
	json_t *filters = NULL, *args = NULL, *res = NULL, *rows = NULL,
	       *header = NULL;
	json_t **v = NULL;
	size_t n = 0, i;
	bool trunc;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, NL_HELP);
	filters = json_object();
	rows = json_array();
	trunc = !cli_has(&a, NL_NOTRUNC);
	if (a.n_pos) {
		rc = usage_err(usage,
			       "\"wgnet network ls\" accepts no arguments");
		goto out;
	}
	for (int k = 0; k < a.n_vals; k++)
		if (a.vals[k].opt == NL_FILTER &&
		    add_filter(filters, a.vals[k].val))
			goto out;
	args = json_pack("{s:O}", "filters", filters);
	if (call("NetworkList", args, &res, false))
		goto out;
	n = json_array_size(res);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		goto out;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(res, i);
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++)
		json_array_append_new(rows, net_row(v[i], trunc));
	if (cli_has(&a, NL_QUIET)) {
		json_t *r;

		json_array_foreach(rows, i, r)
			printf("%s\n", json_str(r, "ID"));
		rc = 0;
		goto out;
	}
	header = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID",
			   "NETWORK ID", "Name", "NAME", "Driver", "DRIVER",
			   "Scope", "SCOPE", "Internal", "INTERNAL", "IPv6",
			   "IPV6", "CreatedAt", "CREATED AT", "Labels",
			   "LABELS");
	rc = print_rows(cli_last(&a, NL_FORMAT), rows, header);
out:
	free(v);
	cli_args_free(&a);
	json_decref(filters);
	json_decref(args);
	json_decref(res);
	json_decref(rows);
	json_decref(header);
	return rc;
}

/* --- network inspect / rm / prune / connect / disconnect --- */

enum { NI_FORMAT, NI_HELP };

/* Top-level scalar fields as strings, for --format. */
static json_t *scalar_row(json_t *obj)
{
	json_t *row = json_object(), *v;
	const char *k;

	json_object_foreach(obj, k, v) {
		char buf[64];

		if (json_is_string(v))
			json_object_set(row, k, v);
		else if (json_is_boolean(v))
			json_object_set_new(row, k,
					    json_string(json_is_true(v) ?
								"true" :
								"false"));
		else if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(v));
			json_object_set_new(row, k, json_string(buf));
		}
	}
	return row;
}

static int cmd_network_inspect(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NI_FORMAT] = { "format", 'f', true },
		[NI_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet network inspect [-f TEMPLATE] NETWORK [NETWORK...]";
	struct cli_args a;
	json_t *out = json_array();
	const char *fmt;
	int rc = 0;

	PARSE_OR_RETURN(opts, usage, NI_HELP);
	fmt = cli_last(&a, NI_FORMAT);
	if (a.n_pos < 1) {
		rc = usage_err(
			usage,
			"\"wgnet network inspect\" requires at least 1 argument");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", "network", a.pos[i]),
		       *res = NULL;
		int r = call("NetworkInspect", args, &res, true);

		json_decref(args);
		if (r == -ENOENT)
			err1("No such network: %s", a.pos[i]);
		if (r) {
			rc = 1;
			if (r == -EHOSTUNREACH || r == -ECONNREFUSED ||
			    r == -ENOENT)
				continue;
			continue;
		}
		json_array_append_new(out, res);
	}
	if (fmt) {
		json_t *n;
		size_t i;
		char err[256];

		json_array_foreach(out, i, n) {
			json_t *row = scalar_row(n);
			char *line = NULL;

			if (cli_format(fmt, row, &line, err, sizeof(err))) {
				json_decref(row);
				rc = err1("%s", err);
				break;
			}
			printf("%s\n", line);
			free(line);
			json_decref(row);
		}
	} else {
		print_json(out);
	}
out:
	cli_args_free(&a);
	json_decref(out);
	return rc;
}

enum { NR_HELP };

static int cmd_network_rm(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NR_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet network rm NETWORK [NETWORK...]";
	struct cli_args a;
	int rc = 0;

	PARSE_OR_RETURN(opts, usage, NR_HELP);
	if (a.n_pos < 1) {
		rc = usage_err(
			usage,
			"\"wgnet network rm\" requires at least 1 argument");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", "network", a.pos[i]),
		       *res = NULL;

		if (call("NetworkRemove", args, &res, false))
			rc = 1;
		else
			printf("%s\n", a.pos[i]);
		json_decref(args);
		json_decref(res);
	}
out:
	cli_args_free(&a);
	return rc;
}

enum { NP_FORCE, NP_FILTER, NP_HELP };

static int cmd_network_prune(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NP_FORCE] = { "force", 'f', false },
		[NP_FILTER] = { "filter", 0, true },
		[NP_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet network prune [-f] [--filter KEY=VALUE]...";
	struct cli_args a;
	json_t *args = NULL, *res = NULL, *filters = NULL, *x;
	size_t i;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, NP_HELP);
	filters = json_object();
	if (a.n_pos) {
		rc = usage_err(usage,
			       "\"wgnet network prune\" accepts no arguments");
		goto out;
	}
	for (int k = 0; k < a.n_vals; k++)
		if (a.vals[k].opt == NP_FILTER &&
		    add_filter(filters, a.vals[k].val))
			goto out;
	if (!cli_has(&a, NP_FORCE)) {
		char ans[16] = "";

		fprintf(stdout,
			"WARNING! This will remove all custom networks not used by at least one container.\n"
			"Are you sure you want to continue? [y/N] ");
		fflush(stdout);
		if (!fgets(ans, sizeof(ans), stdin) ||
		    (ans[0] != 'y' && ans[0] != 'Y')) {
			rc = 0;
			goto out;
		}
	}
	args = json_pack("{s:O}", "filters", filters);
	if (call("NetworkPrune", args, &res, false))
		goto out;
	x = json_object_get(res, "removed");
	if (json_array_size(x)) {
		json_t *n;

		printf("Deleted Networks:\n");
		json_array_foreach(x, i, n)
			printf("%s\n", json_string_value(n));
	}
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	json_decref(filters);
	return rc;
}

enum { NCO_IP, NCO_IP6, NCO_ALIAS, NCO_HELP };

static int cmd_network_connect(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NCO_IP] = { "ip", 0, true },
		[NCO_IP6] = { "ip6", 0, true },
		[NCO_ALIAS] = { "alias", 0, true },
		[NCO_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet network connect [--ip IP] [--ip6 IP] [--alias NAME]... NETWORK CONTAINER";
	struct cli_args a;
	json_t *args = NULL, *res = NULL, *aliases = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, NCO_HELP);
	aliases = json_array();
	if (a.n_pos != 2) {
		rc = usage_err(
			usage,
			"\"wgnet network connect\" requires exactly 2 arguments");
		goto out;
	}
	for (int i = 0; i < a.n_vals; i++)
		if (a.vals[i].opt == NCO_ALIAS)
			json_array_append_new(aliases,
					      json_string(a.vals[i].val));
	args = json_pack("{s:s,s:s,s:O}", "network", a.pos[0], "container",
			 a.pos[1], "aliases", aliases);
	if (cli_last(&a, NCO_IP))
		json_object_set_new(args, "ip",
				    json_string(cli_last(&a, NCO_IP)));
	if (cli_last(&a, NCO_IP6))
		json_object_set_new(args, "ip6",
				    json_string(cli_last(&a, NCO_IP6)));
	if (!call("NetworkConnect", args, &res, false))
		rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	json_decref(aliases);
	return rc;
}

enum { ND_FORCE, ND_HELP };

static int cmd_network_disconnect(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[ND_FORCE] = { "force", 'f', false },
		[ND_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet network disconnect [-f] NETWORK CONTAINER";
	struct cli_args a;
	json_t *args = NULL, *res = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, ND_HELP);
	if (a.n_pos != 2) {
		rc = usage_err(
			usage,
			"\"wgnet network disconnect\" requires exactly 2 arguments");
		goto out;
	}
	args = json_pack("{s:s,s:s,s:b}", "network", a.pos[0], "container",
			 a.pos[1], "force", cli_has(&a, ND_FORCE));
	if (!call("NetworkDisconnect", args, &res, false))
		rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	return rc;
}

/* --- status --- */

static void human_bytes(json_int_t b, char *buf, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (!i)
		snprintf(buf, len, "%lld B", (long long)b);
	else
		snprintf(buf, len, "%.2f %s", v, u[i]);
}

static void print_counters(const char *title, json_t *obj)
{
	const char *k;
	json_t *v;
	bool first = true;

	if (!json_is_object(obj) || !json_object_size(obj))
		return;
	printf("  %s:", title);
	json_object_foreach(obj, k, v) {
		printf("%s %s=%lld", first ? "" : ",", k,
		       (long long)json_integer_value(v));
		first = false;
	}
	printf("\n");
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_str(o, k);

	return s ? s : "";
}

static void print_guest(json_t *g, int64_t now)
{
	json_t *st = json_object_get(g, "status"), *x, *p;
	char ago[64];
	size_t i, k;

	cli_ago(json_integer_value(json_object_get(g, "last_seen")), now, ago,
		sizeof(ago));
	printf("guest: %s\n", jstr(g, "name"));
	printf("  state: %s\n", jstr(g, "state"));
	printf("  backend: %s\n", jstr(g, "backend"));
	printf("  underlay: %s\n", jstr(g, "underlay"));
	printf("  control: %s\n", jstr(g, "control"));
	printf("  last seen: %s\n", ago);
	if (!json_is_object(st)) {
		printf("  (no status: the guest is not up)\n\n");
		return;
	}
	json_array_foreach(json_object_get(st, "networks"), i, x) {
		printf("\n  interface: %s (network %s)\n", jstr(x, "ifname"),
		       jstr(x, "name"));
		printf("    public key: %s\n", jstr(x, "public_key"));
		printf("    listening port: %lld\n",
		       (long long)json_integer_value(
			       json_object_get(x, "listen_port")));
		json_array_foreach(json_object_get(x, "peers"), k, p) {
			json_t *ai;
			size_t j;
			char rx[32], tx[32];

			printf("\n    peer: %s\n", jstr(p, "public_key"));
			printf("      endpoint: %s\n", jstr(p, "endpoint"));
			printf("      allowed ips:");
			json_array_foreach(json_object_get(p, "allowed_ips"), j,
					   ai)
				printf("%s %s", j ? "," : "",
				       json_string_value(ai));
			printf("\n");
			cli_ago(json_integer_value(
					json_object_get(p, "latest_handshake")),
				now, ago, sizeof(ago));
			printf("      latest handshake: %s\n", ago);
			human_bytes(json_integer_value(
					    json_object_get(p, "rx_bytes")),
				    rx, sizeof(rx));
			human_bytes(json_integer_value(
					    json_object_get(p, "tx_bytes")),
				    tx, sizeof(tx));
			printf("      transfer: %s received, %s sent\n", rx,
			       tx);
		}
	}
	x = json_object_get(st, "endpoints");
	if (json_array_size(x)) {
		printf("\n  endpoints:\n");
		json_array_foreach(x, i, p) {
			bool gone =
				json_is_false(json_object_get(p, "present"));

			printf("    %s: %s %s%s%s (host side %s, mac %s)%s\n",
			       jstr(p, "container"), jstr(p, "ifname"),
			       jstr(p, "ip"), *jstr(p, "ip6") ? " " : "",
			       jstr(p, "ip6"), jstr(p, "host_ifname"),
			       jstr(p, "mac"), gone ? " [namespace gone]" : "");
		}
	}
	printf("\n");
	print_counters("drops", json_object_get(st, "drops"));
	print_counters("forwarding", json_object_get(st, "stats"));
	printf("\n");
}

enum { ST_JSON, ST_HELP };

static int cmd_status(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[ST_JSON] = { "json", 0, false },
		[ST_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet status [--json]";
	struct cli_args a;
	json_t *res = NULL, *g;
	size_t i;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, ST_HELP);
	if (a.n_pos) {
		rc = usage_err(usage, "\"wgnet status\" accepts no arguments");
		goto out;
	}
	if (call("Status", NULL, &res, false))
		goto out;
	if (cli_has(&a, ST_JSON)) {
		print_json(res);
	} else {
		json_t *gs = json_object_get(res, "guests");

		if (!json_array_size(gs))
			printf("no guests\n");
		json_array_foreach(gs, i, g)
			print_guest(g, time(NULL));
	}
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(res);
	return rc;
}

/* --- guests --- */

enum { GA_CONTROL, GA_HELP };

static int cmd_guest_add(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[GA_CONTROL] = { "control", 0, true },
		[GA_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet guest add NAME --control unix:/path|vsock:CID:PORT|serial:/dev/...";
	struct cli_args a;
	json_t *args = NULL, *res = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, GA_HELP);
	if (a.n_pos != 1 || !cli_last(&a, GA_CONTROL)) {
		rc = usage_err(
			usage,
			"\"wgnet guest add\" requires a NAME and --control");
		goto out;
	}
	args = json_pack("{s:s,s:s}", "name", a.pos[0], "control",
			 cli_last(&a, GA_CONTROL));
	if (call("GuestAdd", args, &res, false))
		goto out;
	printf("%s\n", a.pos[0]);
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	return rc;
}

static int simple_rm(int argc, char **argv, const char *usage, const char *op,
		     const char *key)
{
	static const struct cli_opt opts[] = {
		{ "help", 0, false },
		{ NULL, 0, false },
	};
	struct cli_args a;
	int rc = 0;

	PARSE_OR_RETURN(opts, usage, 0);
	if (a.n_pos < 1) {
		rc = usage_err(usage, "at least 1 argument is required");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", key, a.pos[i]), *res = NULL;

		if (call(op, args, &res, false))
			rc = 1;
		else
			printf("%s\n", a.pos[i]);
		json_decref(args);
		json_decref(res);
	}
out:
	cli_args_free(&a);
	return rc;
}

static int cmd_guest_rm(int argc, char **argv)
{
	return simple_rm(argc, argv, "wgnet guest rm NAME [NAME...]",
			 "GuestRemove", "name");
}

static int cmd_guest_ls(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet guest ls";
	struct cli_args a;
	struct cli_table *t = NULL;
	json_t *res = NULL, *g;
	size_t i;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, 0);
	if (call("GuestList", NULL, &res, false))
		goto out;
	t = cli_table_new(6);
	if (!t)
		goto out;
	cli_table_add(t, (const char *const[]){ "NAME", "STATE", "BACKEND",
						"UNDERLAY", "CONTROL",
						"LAST SEEN" });
	json_array_foreach(res, i, g) {
		char ago[64];

		cli_ago(json_integer_value(json_object_get(g, "last_seen")),
			time(NULL), ago, sizeof(ago));
		cli_table_add(t,
			      (const char *const[]){
				      jstr(g, "name"), jstr(g, "state"),
				      jstr(g, "backend"), jstr(g, "underlay"),
				      jstr(g, "control"), ago });
	}
	cli_table_print(t, stdout);
	rc = 0;
out:
	cli_table_free(t);
	cli_args_free(&a);
	json_decref(res);
	return rc;
}

/* --- containers --- */

enum { CA_GUEST, CA_NETNS, CA_PUBLISH, CA_HELP };

static int cmd_container_add(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[CA_GUEST] = { "guest", 0, true },
		[CA_NETNS] = { "netns", 0, true },
		[CA_PUBLISH] = { "publish", 'p', true },
		[CA_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet container add NAME --guest GUEST --netns PATH [-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]]...";
	struct cli_args a;
	json_t *args = NULL, *res = NULL, *ports = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, CA_HELP);
	ports = json_array();
	if (a.n_pos != 1 || !cli_last(&a, CA_GUEST) ||
	    !cli_last(&a, CA_NETNS)) {
		rc = usage_err(
			usage,
			"\"wgnet container add\" requires a NAME, --guest and --netns");
		goto out;
	}
	for (int i = 0; i < a.n_vals; i++) {
		char err[256];
		json_t *p;

		if (a.vals[i].opt != CA_PUBLISH)
			continue;
		if (cli_port_parse(a.vals[i].val, &p, err, sizeof(err))) {
			rc = err1("%s", err);
			goto out;
		}
		json_array_append_new(ports, p);
	}
	args = json_pack("{s:s,s:s,s:s,s:O}", "name", a.pos[0], "guest",
			 cli_last(&a, CA_GUEST), "netns",
			 cli_last(&a, CA_NETNS), "ports", ports);
	if (call("ContainerAdd", args, &res, false))
		goto out;
	printf("%s\n", jstr(res, "id"));
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	json_decref(ports);
	return rc;
}

static int cmd_container_rm(int argc, char **argv)
{
	return simple_rm(argc, argv, "wgnet container rm NAME [NAME...]",
			 "ContainerRemove", "container");
}

static int cmd_container_ls(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet container ls";
	struct cli_args a;
	struct cli_table *t = NULL;
	json_t *res = NULL, *c;
	size_t i;
	int rc = 1;

	PARSE_OR_RETURN(opts, usage, 0);
	if (call("ContainerList", NULL, &res, false))
		goto out;
	t = cli_table_new(5);
	if (!t)
		goto out;
	cli_table_add(t, (const char *const[]){ "CONTAINER ID", "NAME", "GUEST",
						"NETWORKS", "PORTS" });
	json_array_foreach(res, i, c) {
		char id[13], *nets = NULL, *ports = NULL;
		size_t nl = 0, pl = 0, k;
		FILE *fn = open_memstream(&nets, &nl),
		     *fp = open_memstream(&ports, &pl);
		const char *name;
		json_t *v;

		json_object_foreach(json_object_get(c, "networks"), name, v)
			if (fn)
				fprintf(fn, "%s%s=%s", ftell(fn) ? "," : "",
					name, jstr(v, "IPAddress"));
		json_array_foreach(json_object_get(c, "ports"), k, v)
			if (fp)
				fprintf(fp, "%s%s%s%lld->%lld/%s",
					ftell(fp) ? ", " : "",
					jstr(v, "host_ip"),
					*jstr(v, "host_ip") ? ":" : "",
					(long long)json_integer_value(
						json_object_get(v,
								"host_port")),
					(long long)json_integer_value(
						json_object_get(
							v, "container_port")),
					jstr(v, "proto"));
		if (fn)
			fclose(fn);
		if (fp)
			fclose(fp);
		snprintf(id, sizeof(id), "%.12s", jstr(c, "id"));
		cli_table_add(t, (const char *const[]){ id, jstr(c, "name"),
							jstr(c, "guest"),
							nets ? nets : "",
							ports ? ports : "" });
		free(nets);
		free(ports);
	}
	cli_table_print(t, stdout);
	rc = 0;
out:
	cli_table_free(t);
	cli_args_free(&a);
	json_decref(res);
	return rc;
}

static const struct cmd cmds[] = {
	{ "network", "create", "wgnet network create [OPTIONS] NETWORK",
	  cmd_network_create },
	{ "network", "ls", "wgnet network ls [OPTIONS]", cmd_network_ls },
	{ "network", "list", NULL, cmd_network_ls },
	{ "network", "inspect", "wgnet network inspect NETWORK...",
	  cmd_network_inspect },
	{ "network", "rm", "wgnet network rm NETWORK...", cmd_network_rm },
	{ "network", "remove", NULL, cmd_network_rm },
	{ "network", "prune", "wgnet network prune [-f]", cmd_network_prune },
	{ "network", "connect",
	  "wgnet network connect [OPTIONS] NETWORK CONTAINER",
	  cmd_network_connect },
	{ "network", "disconnect",
	  "wgnet network disconnect [-f] NETWORK CONTAINER",
	  cmd_network_disconnect },
	{ NULL, "status", "wgnet status [--json]", cmd_status },
	{ "guest", "add", "wgnet guest add NAME --control ADDR",
	  cmd_guest_add },
	{ "guest", "rm", "wgnet guest rm NAME...", cmd_guest_rm },
	{ "guest", "ls", "wgnet guest ls", cmd_guest_ls },
	{ "container", "add",
	  "wgnet container add NAME --guest G --netns PATH [-p SPEC]...",
	  cmd_container_add },
	{ "container", "rm", "wgnet container rm NAME...", cmd_container_rm },
	{ "container", "ls", "wgnet container ls", cmd_container_ls },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: wgnet [-H|--host SOCKET] COMMAND\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (cmds[i].usage)
			fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "\nThe socket defaults to $WGNET_HOST_SOCK or %s.\n",
		HOST_DEFAULT_SOCK);
}

int main(int argc, char **argv)
{
	const char *group = NULL, *name;
	int i = 1;

	sock_path = getenv("WGNET_HOST_SOCK");
	if (!sock_path || !*sock_path)
		sock_path = HOST_DEFAULT_SOCK;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-H") || !strcmp(argv[i], "--host")) {
			if (++i >= argc) {
				usage(stderr);
				return 2;
			}
			sock_path = argv[i];
		} else if (!strncmp(argv[i], "--host=", 7)) {
			sock_path = argv[i] + 7;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "Error: unknown flag: %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	/* "unix:///run/wgnet/host.sock" as docker writes it */
	if (!strncmp(sock_path, "unix://", 7))
		sock_path += 7;
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	name = argv[i++];
	if (strcmp(name, "status")) {
		group = name;
		if (i >= argc) {
			usage(stderr);
			return 2;
		}
		name = argv[i++];
	}
	for (size_t k = 0; k < sizeof(cmds) / sizeof(*cmds); k++) {
		if ((!group) != (!cmds[k].group) ||
		    (group && strcmp(group, cmds[k].group)) ||
		    strcmp(name, cmds[k].name))
			continue;
		return cmds[k].fn(argc - i, argv + i);
	}
	fprintf(stderr, "Error: unknown command: %s%s%s\n", group ? group : "",
		group ? " " : "", name);
	usage(stderr);
	return 2;
}
