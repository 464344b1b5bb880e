/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals shared by the wgnet command line's files: cli.c (main, dispatch
 * and the helpers below), cli_network.c (network subcommands) and
 * cli_status.c (status, guest and container subcommands).
 */
#ifndef WGNET_HOST_CLI_INT_H
#define WGNET_HOST_CLI_INT_H

#include <stdbool.h>

#include "host.h"
#include "wgnet/proto.h"

int cli_usage_err(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_call(const char *op, json_t *args, json_t **res, bool quiet_enoent);
void cli_print_json(json_t *j);
int cli_parse_usage(const struct cli_opt *opts, int argc, char **argv,
		    struct cli_args *a, const char *usage, int help_idx);

/* Parse argc/argv into *args, or return from the calling command: 0 after
 * a --help that was printed, 2 after a usage error. */
#define PARSE_OR_RETURN(opts, argc, argv, args, usage, help)                   \
	do {                                                                   \
		int _r = cli_parse_usage(opts, argc, argv, args, usage, help); \
		if (_r)                                                        \
			return _r < 0 ? 0 : _r;                                \
	} while (0)

/* cli_rotate.c */
int cli_cmd_network_rotate_keys(int argc, char **argv);
int cli_cmd_guest_rotate_keys(int argc, char **argv);

/* cli_network.c */
int cli_cmd_network_create(int argc, char **argv);
int cli_cmd_network_ls(int argc, char **argv);
int cli_cmd_network_inspect(int argc, char **argv);
int cli_cmd_network_rm(int argc, char **argv);
int cli_cmd_network_prune(int argc, char **argv);
int cli_cmd_network_connect(int argc, char **argv);
int cli_cmd_network_disconnect(int argc, char **argv);

/* cli_status.c */
int cli_cmd_status(int argc, char **argv);
int cli_cmd_guest_add(int argc, char **argv);
int cli_cmd_guest_rm(int argc, char **argv);
int cli_cmd_guest_ls(int argc, char **argv);
int cli_cmd_container_add(int argc, char **argv);
int cli_cmd_container_rm(int argc, char **argv);
int cli_cmd_container_ls(int argc, char **argv);

#endif
