// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: what dockerd (or any local process that reaches the plugin
 * socket) controls in the Docker plugin protocol — the method path and the
 * JSON body — into plugin_parse() of host/plugin_json.c. The first byte
 * picks one of the known paths (or, past the list, the rest up to a NUL is
 * the path itself); the remainder is the body. Whatever the input, a
 * success must leave a well-formed request: ids of 64 hex characters,
 * IPv4 prefixes, ports within range.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"/Plugin.Activate",
	"/NetworkDriver.GetCapabilities",
	"/NetworkDriver.CreateNetwork",
	"/NetworkDriver.DeleteNetwork",
	"/NetworkDriver.CreateEndpoint",
	"/NetworkDriver.EndpointOperInfo",
	"/NetworkDriver.DeleteEndpoint",
	"/NetworkDriver.Join",
	"/NetworkDriver.Leave",
	"/NetworkDriver.ProgramExternalConnectivity",
	"/NetworkDriver.RevokeExternalConnectivity",
	"/NetworkDriver.DiscoverNew",
	"/NetworkDriver.DiscoverDelete",
	"/NetworkDriver.AllocateNetwork",
	"/NetworkDriver.FreeNetwork",
	"/IpamDriver.GetCapabilities",
	"/IpamDriver.GetDefaultAddressSpaces",
	"/IpamDriver.RequestPool",
	"/IpamDriver.ReleasePool",
	"/IpamDriver.RequestAddress",
	"/IpamDriver.ReleaseAddress",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static void check_id(const char *id, bool need)
{
	size_t n = strlen(id);

	if ((need || n) && (n != 64 || strspn(id, "0123456789abcdef") != 64))
		abort();
}

static void check(const struct plugin_req *r)
{
	json_t *p;
	size_t i;

	switch (r->m) {
	case PM_CREATE_NET:
	case PM_DELETE_NET:
		check_id(r->network_id, true);
		break;
	case PM_CREATE_EP:
	case PM_JOIN:
	case PM_LEAVE:
	case PM_DELETE_EP:
	case PM_PROGRAM_EXT:
		check_id(r->network_id, true);
		check_id(r->endpoint_id, true);
		break;
	default:
		break;
	}
	if (r->has_pool4 && (r->pool4.addr.family != AF_INET ||
			     r->pool4.plen < 0 || r->pool4.plen > 32))
		abort();
	if (r->m == PM_CREATE_EP &&
	    (r->addr4.family != AF_INET || r->plen4 < 0 || r->plen4 > 32))
		abort();
	if (r->mac[0] && strlen(r->mac) != 17)
		abort();
	json_array_foreach(r->ports, i, p) {
		json_int_t hp =
			json_integer_value(json_object_get(p, "host_port"));
		json_int_t cp = json_integer_value(
			json_object_get(p, "container_port"));

		if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535)
			abort();
	}
	free(json_dumps(r->ports, JSON_COMPACT));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], err[PLUGIN_ERR_MAX];
	struct plugin_req r;
	size_t off = 1;
	json_t *e;
	int rc;

	if (!size)
		return 0;
	if (data[0] < NPATHS) {
		strcpy(path, paths[data[0]]);
	} else {
		size_t n = 0;

		while (off < size && data[off] && n < sizeof(path) - 1)
			path[n++] = (char)data[off++];
		path[n] = '\0';
		if (off < size)
			off++;
	}
	rc = plugin_parse(path, (const char *)data + off, size - off, &r, err,
			  sizeof(err));
	if (rc && (rc != -EINVAL && rc != -ENOENT))
		abort();
	if (rc && !err[0])
		abort(); /* every refusal says why */
	if (!rc)
		check(&r);
	e = plugin_error_body(r.ipam, err);
	free(json_dumps(e, JSON_COMPACT));
	json_decref(e);
	plugin_req_clear(&r);
	return 0;
}
