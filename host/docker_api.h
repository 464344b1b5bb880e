/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The network part of the Docker Engine API, served over HTTP on a unix
 * socket (libmicrohttpd), so that the stock docker CLI with
 * DOCKER_HOST=unix:///run/wgnet/docker.sock manages wgnet networks.
 *
 * docker_api.c is the HTTP side; docker_json.c holds the pure translation
 * (routes, Docker request JSON → host op args, filters, host results and
 * errors → Docker responses), testable and fuzzable without sockets.
 * Everything goes through host_dispatch(); nothing here touches the store.
 */
#ifndef WGNET_DOCKER_API_H
#define WGNET_DOCKER_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct host;

#define DOCKER_DEFAULT_SOCK "/run/wgnet/docker.sock"
/* Both the 20.10 CLI (1.41) and 28.x (1.50, negotiates down) accept it. */
#define DOCKER_API_VERSION "1.41"
#define DOCKER_API_MIN_VERSION "1.24"
#define DOCKER_BODY_MAX (1024 * 1024) /* larger request bodies: 413 */
#define DOCKER_MSG_MAX 1024

struct docker_api;

/*
 * Create the unix socket at sock_path (0660, a stale socket file is
 * replaced, a live one is -EADDRINUSE) and serve it on its own threads.
 */
int docker_api_start(struct host *h, const char *sock_path,
		     struct docker_api **out);
/* Stop serving, wait for running requests, unlink the socket. NULL: no-op. */
void docker_api_stop(struct docker_api *d);

/* --- pure helpers (docker_json.c) --- */

enum docker_route {
	DR_NONE = 0, /* see status/message */
	DR_PING,
	DR_VERSION,
	DR_INFO,
	DR_NET_LIST,
	DR_NET_INSPECT,
	DR_NET_CREATE,
	DR_NET_REMOVE,
	DR_NET_CONNECT,
	DR_NET_DISCONNECT,
	DR_NET_PRUNE,
};

struct docker_match {
	enum docker_route route;
	int status; /* DR_NONE: 400 bad version, 404 no route, 405 method */
	char ref[256]; /* the {id} path segment, URL-decoded */
	char message[DOCKER_MSG_MAX];
	const char *allow; /* for 405: the methods allowed */
};

/*
 * Match method and path (query already removed; "/v1.41/..." or
 * unversioned). Never fails: unknown things come back as DR_NONE with a
 * status and Docker's message.
 */
void docker_route_match(const char *method, const char *path,
			struct docker_match *m);

/* "1.41" → 141 (minor up to 999); -1 if not a version. */
int docker_version_num(const char *s);

/*
 * Docker's filters query parameter (JSON: {"name":{"net1":true}} or
 * {"name":["net1"]}; NULL or "" = none) → {"key":["value",…]} with only
 * the keys in allowed (NULL-terminated). 0 or -EINVAL with *errmsg.
 */
int docker_filters_parse(const char *text, const char *const *allowed,
			 json_t **out, char **errmsg);
extern const char *const docker_list_filters[];
extern const char *const docker_prune_filters[];

/* Does one network object (host shape = Docker's) match prune filters
 * (label, label!, until)? now = unix seconds for relative "until". */
bool docker_prune_match(json_t *filters, json_t *network, int64_t now);

/* Docker's "until": RFC3339 date, unix seconds or a duration ("10m",
 * "1h30m") before now. 0 or -EINVAL. */
int docker_parse_until(const char *s, int64_t now, int64_t *out);

/* POST /networks/create body → NetworkCreate args. 0 or -EINVAL. */
int docker_create_args(const char *body, size_t len, json_t **args,
		       char **errmsg);
/* POST /networks/{ref}/connect body → NetworkConnect args. */
int docker_connect_args(const char *ref, const char *body, size_t len,
			json_t **args, char **errmsg);
/* POST /networks/{ref}/disconnect body → NetworkDisconnect args. */
int docker_disconnect_args(const char *ref, const char *body, size_t len,
			   json_t **args, char **errmsg);
/* POST /networks/prune: the body is ignored; filters from the query. */

/*
 * A host error (-errno and its message) for a route → HTTP status and the
 * message Docker would give (written to msg).
 */
int docker_error_status(enum docker_route route, int rc, const char *hostmsg,
			char *msg, size_t len);

/* {"message": msg} */
json_t *docker_error_body(const char *msg);
/* NetworkCreate result → {"Id":…, "Warning":""} */
json_t *docker_create_response(json_t *net);
/* NetworkInspect result → Docker's inspect object (verbose ignored). */
json_t *docker_network_out(json_t *net);

/*
 * The Docker socket when --docker-socket is not given: "docker.sock" in the
 * directory of the host API socket (/run/wgnet/host.sock →
 * /run/wgnet/docker.sock), so private hosts (labs, tests) never collide.
 * 0 or -ENAMETOOLONG.
 */
int docker_sock_default(const char *host_sock, char *buf, size_t len);

#endif
