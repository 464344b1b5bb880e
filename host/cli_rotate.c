// SPDX-License-Identifier: GPL-2.0
/* wgnet network rotate-keys NETWORK, wgnet guest rotate-keys GUEST
 * (docs/operations.md, "Key rotation"). */
#include <stdio.h>

#include "host.h"

#include "cli_int.h"

static int rotate(int argc, char **argv, const char *usage, const char *op,
		  const char *key)
{
	static const struct cli_opt opts[] = {
		{ "help", 0, false },
		{ NULL, 0, false },
	};
	struct cli_args a;
	json_t *res = NULL, *args = NULL, *r;
	size_t i;
	int rc = 1;

	PARSE_OR_RETURN(opts, argc, argv, &a, usage, 0);
	if (a.n_pos != 1) {
		cli_args_free(&a);
		return cli_usage_err(usage,
				     "\"%s\" requires exactly 1 argument", op);
	}
	args = json_pack("{s:s}", key, a.pos[0]);
	if (cli_call(op, args, &res, false))
		goto out;
	json_array_foreach(json_object_get(res, "rotated"), i, r)
		printf("%s\t%s\t%s -> %s\n", json_str(r, "guest"),
		       json_str(r, "network"), json_str(r, "old_public_key"),
		       json_str(r, "public_key"));
	rc = 0;
out:
	cli_args_free(&a);
	json_decref(args);
	json_decref(res);
	return rc;
}

int cli_cmd_network_rotate_keys(int argc, char **argv)
{
	return rotate(argc, argv, "wgnet network rotate-keys NETWORK",
		      "NetworkRotateKeys", "network");
}

int cli_cmd_guest_rotate_keys(int argc, char **argv)
{
	return rotate(argc, argv, "wgnet guest rotate-keys GUEST",
		      "GuestRotateKeys", "guest");
}
