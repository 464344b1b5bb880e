// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet command line: the network subcommands (create, ls, inspect, rm,
 * prune, connect, disconnect), with docker network's words and flags.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

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
		return cli_err("only one IPv4 and one IPv6 %s may be given",
			       flag);
	json_object_set_new(args, key, json_string(val));
	return 0;
}

int cli_cmd_network_create(int argc, char **argv)
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
		"wgnet network create [--subnet CIDR] [--ip-range CIDR] [--gateway IP] [--internal] [--ipv6] [--label K=V]... [-d DRIVER] [-o K=V]... NETWORK\n"
		"Options (-o) wgnet reads:\n"
		"  com.docker.network.driver.mtu=N  the network's MTU\n"
		"  wgnet.key_max_age=DURATION       rotate each guest's key once it is\n"
		"                                   older (90s, 30m, 24h, 7d, 1h30m;\n"
		"                                   0 = never; default: wgnet-host\n"
		"                                   --key-max-age)";
	struct cli_args a;
	json_t *args = NULL, *labels = NULL, *o = NULL, *res = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NC_HELP);
	labels = json_object();
	o = json_object();
	if (a.n_pos != 1) {
		rc = cli_usage_err(
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
				cli_err("invalid label '%s': want KEY=VALUE",
					v);
				goto out;
			}
			break;
		case NC_OPT:
			if (kv_into(o, v)) {
				cli_err("invalid option '%s': want KEY=VALUE",
					v);
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
	if (cli_call("NetworkCreate", args, &res, false))
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
			return cli_err("%s", err);
		for (char *p = line; *p; p++)
			ncols += *p == '\t';
		t = cli_table_new(ncols);
		if (!t) {
			free(line);
			return cli_err("out of memory");
		}
		table_add_line(t, ncols, line);
		free(line);
	}
	json_array_foreach(rows, i, row) {
		if (cli_format(fmt, row, &line, err, sizeof(err))) {
			rc = cli_err("%s", err);
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
		return cli_err(
			"bad format of filter '%s' (expected name=value)", kv);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	arr = json_object_get(filters, key);
	if (!arr) {
		arr = json_array();
		json_object_set_new(filters, key, arr);
	}
	json_array_append_new(arr, json_string(eq + 1));
	return 0;
}

int cli_cmd_network_ls(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NL_HELP);
	filters = json_object();
	rows = json_array();
	trunc = !cli_has(&a, NL_NOTRUNC);
	if (a.n_pos) {
		rc = cli_usage_err(usage,
				   "\"wgnet network ls\" accepts no arguments");
		goto out;
	}
	for (int k = 0; k < a.n_vals; k++)
		if (a.vals[k].opt == NL_FILTER &&
		    add_filter(filters, a.vals[k].val))
			goto out;
	args = json_pack("{s:O}", "filters", filters);
	if (cli_call("NetworkList", args, &res, false))
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

int cli_cmd_network_inspect(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NI_HELP);
	fmt = cli_last(&a, NI_FORMAT);
	if (a.n_pos < 1) {
		rc = cli_usage_err(
			usage,
			"\"wgnet network inspect\" requires at least 1 argument");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", "network", a.pos[i]),
		       *res = NULL;
		int r = cli_call("NetworkInspect", args, &res, true);

		json_decref(args);
		if (r == -ENOENT)
			cli_err("No such network: %s", a.pos[i]);
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
				rc = cli_err("%s", err);
				break;
			}
			printf("%s\n", line);
			free(line);
			json_decref(row);
		}
	} else {
		cli_print_json(out);
	}
out:
	cli_args_free(&a);
	json_decref(out);
	return rc;
}

enum { NR_HELP };

int cli_cmd_network_rm(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NR_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage = "wgnet network rm NETWORK [NETWORK...]";
	struct cli_args a;
	int rc = 0;

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NR_HELP);
	if (a.n_pos < 1) {
		rc = cli_usage_err(
			usage,
			"\"wgnet network rm\" requires at least 1 argument");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", "network", a.pos[i]),
		       *res = NULL;

		if (cli_call("NetworkRemove", args, &res, false))
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

int cli_cmd_network_prune(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NP_HELP);
	filters = json_object();
	if (a.n_pos) {
		rc = cli_usage_err(
			usage, "\"wgnet network prune\" accepts no arguments");
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
	if (cli_call("NetworkPrune", args, &res, false))
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

enum { NCO_IP, NCO_IP6, NCO_ALIAS, NCO_WAIT, NCO_HELP };

int cli_cmd_network_connect(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		[NCO_IP] = { "ip", 0, true },
		[NCO_IP6] = { "ip6", 0, true },
		[NCO_ALIAS] = { "alias", 0, true },
		[NCO_WAIT] = { "wait", 0, false },
		[NCO_HELP] = { "help", 0, false },
		{ NULL, 0, false },
	};
	const char *usage =
		"wgnet network connect [--ip IP] [--ip6 IP] [--alias NAME]... [--wait] NETWORK CONTAINER";
	struct cli_args a;
	json_t *args = NULL, *res = NULL, *aliases = NULL;
	int rc = 1;

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, NCO_HELP);
	aliases = json_array();
	if (a.n_pos != 2) {
		rc = cli_usage_err(
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
	/* Until every guest on the network has acknowledged the change. */
	if (cli_has(&a, NCO_WAIT))
		json_object_set_new(args, "wait", json_true());
	if (!cli_call("NetworkConnect", args, &res, false))
		rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	json_decref(aliases);
	return rc;
}

enum { ND_FORCE, ND_HELP };

int cli_cmd_network_disconnect(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, ND_HELP);
	if (a.n_pos != 2) {
		rc = cli_usage_err(
			usage,
			"\"wgnet network disconnect\" requires exactly 2 arguments");
		goto out;
	}
	args = json_pack("{s:s,s:s,s:b}", "network", a.pos[0], "container",
			 a.pos[1], "force", cli_has(&a, ND_FORCE));
	if (!cli_call("NetworkDisconnect", args, &res, false))
		rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	return rc;
}
