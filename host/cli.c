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

#include "cli_int.h"

#define CLI_TIMEOUT_MS 120000

static const char *sock_path;

struct cmd {
	const char *group; /* NULL for top-level */
	const char *name;
	const char *usage;
	int (*fn)(int argc, char **argv);
};

int cli_usage_err(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: %s\n", usage);
	return 2;
}

int cli_err(const char *fmt, ...)
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
int cli_call(const char *op, json_t *args, json_t **res, bool quiet_enoent)
{
	char *em = NULL;
	int rc = proto_call(sock_path, CLI_TIMEOUT_MS, op, args, res, &em);

	if (rc && !em) {
		cli_err("cannot reach wgnet-host at %s: %s", sock_path,
			strerror(-rc));
	} else if (rc && !(quiet_enoent && rc == -ENOENT)) {
		cli_err("%s", em);
	}
	free(em);
	return rc;
}

void cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* Parse or print a usage error; returns 0 or the exit code (2, or -1 for a
 * --help that was printed). */
int cli_parse_usage(const struct cli_opt *opts, int argc, char **argv,
		    struct cli_args *a, const char *usage, int help_idx)
{
	char err[256];

	if (cli_parse(opts, argc, argv, a, err, sizeof(err)))
		return cli_usage_err(usage, "%s", err);
	if (help_idx >= 0 && cli_has(a, help_idx)) {
		printf("Usage: %s\n", usage);
		cli_args_free(a);
		return -1;
	}
	return 0;
}

static const struct cmd cmds[] = {
	{ "network", "create", "wgnet network create [OPTIONS] NETWORK",
	  cli_cmd_network_create },
	{ "network", "ls", "wgnet network ls [OPTIONS]", cli_cmd_network_ls },
	{ "network", "list", NULL, cli_cmd_network_ls },
	{ "network", "inspect", "wgnet network inspect NETWORK...",
	  cli_cmd_network_inspect },
	{ "network", "rm", "wgnet network rm NETWORK...", cli_cmd_network_rm },
	{ "network", "remove", NULL, cli_cmd_network_rm },
	{ "network", "prune", "wgnet network prune [-f]",
	  cli_cmd_network_prune },
	{ "network", "connect",
	  "wgnet network connect [OPTIONS] NETWORK CONTAINER",
	  cli_cmd_network_connect },
	{ "network", "disconnect",
	  "wgnet network disconnect [-f] NETWORK CONTAINER",
	  cli_cmd_network_disconnect },
	{ "network", "rotate-keys", "wgnet network rotate-keys NETWORK",
	  cli_cmd_network_rotate_keys },
	{ NULL, "status", "wgnet status [--json]", cli_cmd_status },
	{ "guest", "add", "wgnet guest add NAME --control ADDR",
	  cli_cmd_guest_add },
	{ "guest", "rm", "wgnet guest rm NAME...", cli_cmd_guest_rm },
	{ "guest", "ls", "wgnet guest ls", cli_cmd_guest_ls },
	{ "guest", "rotate-keys", "wgnet guest rotate-keys GUEST",
	  cli_cmd_guest_rotate_keys },
	{ "container", "add",
	  "wgnet container add NAME --guest G --netns PATH [-p SPEC]...",
	  cli_cmd_container_add },
	{ "container", "rm", "wgnet container rm NAME...",
	  cli_cmd_container_rm },
	{ "container", "ls", "wgnet container ls", cli_cmd_container_ls },
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
