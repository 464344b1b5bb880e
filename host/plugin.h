/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wgnet as a Docker (libnetwork) remote network driver and remote IPAM
 * driver: the plugin protocol over HTTP on a unix socket
 * (/run/docker/plugins/wgnet.sock), served by wgnet-host.
 *
 * plugin.c is the HTTP side (libmicrohttpd), plugin_json.c the pure request
 * parser (fuzzed by tests/fuzz/fuzz_plugin.c), plugin_ops.c turns requests
 * into host ops (host_dispatch) and keeps the Docker ids → wgnet ids map
 * (plugin_state.c, a JSON file). docs/docker-plugin.md.
 */
#ifndef WGNET_PLUGIN_H
#define WGNET_PLUGIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "wgnet/ipnet.h"

struct host;
struct plugin;

#define PLUGIN_DEFAULT_SOCK "/run/docker/plugins/wgnet.sock"
#define PLUGIN_DEFAULT_STATE "/var/lib/wgnet/docker-plugin.json"
#define PLUGIN_DEFAULT_DOCKER "/var/run/docker.sock"
#define PLUGIN_CTYPE "application/vnd.docker.plugins.v1+json"
#define PLUGIN_BODY_MAX (1024 * 1024)
#define PLUGIN_ERR_MAX 512
#define PLUGIN_MAX_PORTS 64
/* Docker's option keys. */
#define PLUGIN_OPT_GENERIC "com.docker.network.generic"
#define PLUGIN_OPT_INTERNAL "com.docker.network.internal"
#define PLUGIN_OPT_IPV6 "com.docker.network.enable_ipv6"
#define PLUGIN_OPT_PORTMAP "com.docker.network.portmap"
#define PLUGIN_OPT_ADDR_TYPE "RequestAddressType"
#define PLUGIN_ADDR_GATEWAY "com.docker.network.gateway"
/* Our -o option: the wgnet network's name (the same on every host). */
#define PLUGIN_OPT_NAME "wgnet.name"

enum plugin_method {
	PM_UNKNOWN = 0,
	PM_ACTIVATE,
	PM_NET_CAPS,
	PM_CREATE_NET,
	PM_DELETE_NET,
	PM_ALLOC_NET,
	PM_FREE_NET,
	PM_CREATE_EP,
	PM_EP_INFO,
	PM_DELETE_EP,
	PM_JOIN,
	PM_LEAVE,
	PM_PROGRAM_EXT,
	PM_REVOKE_EXT,
	PM_DISCOVER_NEW,
	PM_DISCOVER_DEL,
	PM_IPAM_CAPS,
	PM_IPAM_SPACES,
	PM_REQ_POOL,
	PM_REL_POOL,
	PM_REQ_ADDR,
	PM_REL_ADDR,
};

/* One parsed request: only the fields its method uses are set. */
struct plugin_req {
	enum plugin_method m;
	bool ipam; /* errors as {"Error"} rather than {"Err"} */
	char network_id[65];
	char endpoint_id[65];
	/* CreateNetwork */
	bool has_pool4;
	struct ip_prefix pool4;
	struct ip_addr gw4; /* family 0 = none */
	bool has_v6;
	bool internal;
	char name[65]; /* -o wgnet.name, "" = none */
	/* CreateEndpoint (and RequestAddress's address) */
	struct ip_addr addr4; /* family 0 = none */
	int plen4;
	char mac[18]; /* "" = none */
	/* ProgramExternalConnectivity: wgnet's port objects, owned */
	json_t *ports;
	/* IPAM */
	char pool_id[64];
	bool v6;
	struct ip_prefix subpool4; /* plen -1... family 0 = none */
	bool gateway_req;
};

/* The method of a URL path (PM_UNKNOWN if none). */
enum plugin_method plugin_route(const char *path, bool *ipam);
/*
 * Parse a request body for path into r. Returns 0, or -EINVAL with a
 * one-line reason in err; PM_UNKNOWN paths return -ENOENT (answer 404).
 * r->ports must be freed with plugin_req_clear().
 */
int plugin_parse(const char *path, const char *body, size_t len,
		 struct plugin_req *r, char *err, size_t errlen);
void plugin_req_clear(struct plugin_req *r);
/* {"Err": msg} or {"Error": msg}. */
json_t *plugin_error_body(bool ipam, const char *msg);

/* plugin_ops.c: answer one parsed request (never NULL). */
json_t *plugin_handle(struct plugin *p, const struct plugin_req *r);
/* plugin_ops.c: state file load and the guest the containers live on. */
int plugin_new(struct host *h, const char *guest, const char *state_path,
	       const char *docker_sock, struct plugin **out);
void plugin_free(struct plugin *p);

/* plugin.c: serve on sock_path (0660; a stale socket is replaced). */
struct plugin_srv;
int plugin_srv_start(struct plugin *p, const char *sock_path,
		     struct plugin_srv **out);
void plugin_srv_stop(struct plugin_srv *s);

#endif
