// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet command line: status, and the guest and container subcommands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

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
	if (json_str(g, "degraded"))
		printf("  DEGRADED: %s\n", jstr(g, "degraded"));
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
	x = json_object_get(st, "dp_errors");
	if (json_integer_value(json_object_get(x, "total")))
		printf("  data-plane errors: %lld (isolation missing %lld, control-plane missing %lld, addresses missing %lld); last: %s\n",
		       (long long)json_integer_value(json_object_get(x, "total")),
		       (long long)json_integer_value(json_object_get(x, "isolation_missing")),
		       (long long)json_integer_value(json_object_get(x, "ctrl_missing")),
		       (long long)json_integer_value(json_object_get(x, "dests_missing")),
		       jstr(x, "last"));
	printf("\n");
}

/* Map entries a guest could not program right now (a full map). */
static long long guest_missing(json_t *g)
{
	json_t *x = json_object_get(json_object_get(g, "status"), "dp_errors");

	return json_integer_value(json_object_get(x, "isolation_missing")) +
	       json_integer_value(json_object_get(x, "ctrl_missing")) +
	       json_integer_value(json_object_get(x, "dests_missing"));
}

enum { ST_JSON, ST_HELP };

int cli_cmd_status(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, ST_HELP);
	if (a.n_pos) {
		rc = cli_usage_err(usage,
				   "\"wgnet status\" accepts no arguments");
		goto out;
	}
	if (cli_call("Status", NULL, &res, false))
		goto out;
	if (cli_has(&a, ST_JSON)) {
		cli_print_json(res);
	} else {
		json_t *gs = json_object_get(res, "guests");

		if (!json_array_size(gs))
			printf("no guests\n");
		json_array_foreach(gs, i, g)
			print_guest(g, time(NULL));
	}
	rc = 0;
	/* The data plane is not what was asked somewhere: say so, exit 1. */
	json_array_foreach(json_object_get(res, "guests"), i, g)
	{
		/* It refused its isolation set: traffic it should drop may
		 * not all be dropped in BPF. */
		if (json_str(g, "degraded")) {
			fprintf(stderr, "Error: guest %s is degraded: %s\n",
				jstr(g, "name"), jstr(g, "degraded"));
			rc = 1;
		}
		if (guest_missing(g) > 0) {
			fprintf(stderr,
				"Error: guest %s: %lld data-plane entries could not be programmed (a BPF map is full; see data-plane errors)\n",
				jstr(g, "name"), guest_missing(g));
			rc = 1;
		}
	}
out:
	cli_args_free(&a);
	json_decref(res);
	return rc;
}

/* --- guests --- */

enum { GA_CONTROL, GA_HELP };

int cli_cmd_guest_add(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, GA_HELP);
	if (a.n_pos != 1 || !cli_last(&a, GA_CONTROL)) {
		rc = cli_usage_err(
			usage,
			"\"wgnet guest add\" requires a NAME and --control");
		goto out;
	}
	args = json_pack("{s:s,s:s}", "name", a.pos[0], "control",
			 cli_last(&a, GA_CONTROL));
	if (cli_call("GuestAdd", args, &res, false))
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, 0);
	if (a.n_pos < 1) {
		rc = cli_usage_err(usage, "at least 1 argument is required");
		goto out;
	}
	for (int i = 0; i < a.n_pos; i++) {
		json_t *args = json_pack("{s:s}", key, a.pos[i]), *res = NULL;

		if (cli_call(op, args, &res, false))
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

int cli_cmd_guest_rm(int argc, char **argv)
{
	return simple_rm(argc, argv, "wgnet guest rm NAME [NAME...]",
			 "GuestRemove", "name");
}

int cli_cmd_guest_ls(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, 0);
	if (cli_call("GuestList", NULL, &res, false))
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

int cli_cmd_container_add(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, CA_HELP);
	ports = json_array();
	if (a.n_pos != 1 || !cli_last(&a, CA_GUEST) ||
	    !cli_last(&a, CA_NETNS)) {
		rc = cli_usage_err(
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
			rc = cli_err("%s", err);
			goto out;
		}
		json_array_append_new(ports, p);
	}
	args = json_pack("{s:s,s:s,s:s,s:O}", "name", a.pos[0], "guest",
			 cli_last(&a, CA_GUEST), "netns",
			 cli_last(&a, CA_NETNS), "ports", ports);
	if (cli_call("ContainerAdd", args, &res, false))
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

int cli_cmd_container_rm(int argc, char **argv)
{
	return simple_rm(argc, argv, "wgnet container rm NAME [NAME...]",
			 "ContainerRemove", "container");
}

int cli_cmd_container_ls(int argc, char **argv)
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

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, 0);
	if (cli_call("ContainerList", NULL, &res, false))
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
