// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: what an HTTP client controls in the Docker Engine API — the
 * method and path, the filters query, the request bodies — into the pure
 * decoders of host/docker_json.c. The first byte picks the decoder, the
 * rest is the input. Every result that claims success must be well formed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/docker_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = { "GET",	 "HEAD", "POST",
				       "DELETE", "PUT",	 "" };

static json_t *network(void)
{
	return json_pack(
		"{s:s,s:s,s:s,s:{s:s,s:s},s:{}}", "Name", "n1", "Id",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Created", "2026-11-25T13:00:00Z", "Labels", "env", "test",
		"keep", "", "Containers");
}

static void check_args(json_t *a, const char *const *keys)
{
	/* The host reads these keys as strings: they must be. */
	for (; *keys; keys++) {
		json_t *v = json_object_get(a, *keys);

		if (v && !json_is_string(v))
			abort();
	}
	free(json_dumps(a, JSON_COMPACT));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const create_keys[] = {
		"name",	   "driver",	"subnet",   "ip_range", "gateway",
		"subnet6", "ip_range6", "gateway6", NULL
	};
	static const char *const conn_keys[] = { "network", "container", "ip",
						 "ip6", NULL };
	struct docker_match m;
	json_t *out = NULL, *net;
	char *em = NULL, *s, msg[DOCKER_MSG_MAX];
	int64_t t;
	int rc;

	if (!size)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 8) {
	case 0:
		docker_route_match(methods[(data[0] >> 3) % 6], s, &m);
		if (m.route == DR_NONE &&
		    (m.status < 400 || m.status > 499 || !m.message[0]))
			abort();
		if (strlen(m.ref) >= sizeof(m.ref))
			abort();
		break;
	case 1:
	case 2:
		rc = docker_filters_parse(s,
					  data[0] % 8 == 1 ?
						  docker_list_filters :
						  docker_prune_filters,
					  &out, &em);
		if (rc && (!em || out))
			abort();
		if (!rc && out && !json_is_object(out))
			abort();
		net = network();
		docker_prune_match(out, net, 1800000000);
		json_decref(net);
		break;
	case 3:
		rc = docker_create_args(s, size - 1, &out, &em);
		if (rc && (!em || out))
			abort();
		if (!rc)
			check_args(out, create_keys);
		break;
	case 4:
		rc = docker_connect_args("net1", s, size - 1, &out, &em);
		if (rc && (!em || out))
			abort();
		if (!rc)
			check_args(out, conn_keys);
		break;
	case 5:
		rc = docker_disconnect_args("net1", s, size - 1, &out, &em);
		if (rc && (!em || out))
			abort();
		if (!rc)
			check_args(out, conn_keys);
		break;
	case 6:
		docker_parse_until(s, 1800000000, &t);
		break;
	case 7:
		/* a host error message of any text → a Docker error */
		rc = docker_error_status((enum docker_route)(data[0] >> 3) % 11,
					 -(int)(data[0] >> 3), s, msg,
					 sizeof(msg));
		if (rc < 400 || rc > 599)
			abort();
		json_decref(docker_error_body(msg));
		break;
	}
	json_decref(out);
	free(em);
	free(s);
	return 0;
}
