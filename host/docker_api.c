// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker Engine API (network part) over HTTP on a unix socket:
 * libmicrohttpd on a listening socket made here, one thread per connection
 * (host ops may wait seconds for a guest), every request turned into
 * host_dispatch() calls by the pure helpers of docker_json.c.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "docker_api.h"
#include "host.h"
#include "wgnet/log.h"
#include "mhd_log.h"
#include "wgnet/usock.h"

#define DOCKER_MAX_CONNS 64
#define DOCKER_IDLE_TIMEOUT_S 60
#define WGNET_VERSION_STR "0.1.0"

struct docker_api {
	struct host *h;
	struct MHD_Daemon *mhd;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Per request: the body as it arrives. */
struct dreq {
	char *buf;
	size_t len;
	bool too_big;
};

/* --- responses --- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned int status,
				 const char *ctype, const char *body,
				 const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = body ? strlen(body) : 0;

	r = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Api-Version", DOCKER_API_VERSION);
	MHD_add_response_header(r, "Docker-Experimental", "false");
	MHD_add_response_header(r, "Ostype", "linux");
	MHD_add_response_header(r, "Server", "wgnet/" WGNET_VERSION_STR);
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Steals j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned int status,
				 json_t *j)
{
	enum MHD_Result ret;
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *line = NULL;

	json_decref(j);
	if (!s)
		return send_text(c, 500, "application/json",
				 "{\"message\":\"out of memory\"}\n", NULL);
	/* Docker ends its JSON with a newline. */
	if (asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	if (!line)
		return MHD_NO;
	ret = send_text(c, status, "application/json", line, NULL);
	free(line);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned int status,
				  const char *msg, const char *allow)
{
	char *s = NULL, *line = NULL;
	json_t *j = docker_error_body(msg);
	enum MHD_Result ret;

	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s || asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	ret = send_text(c, status, "application/json",
			line ? line : "{\"message\":\"error\"}\n", allow);
	free(line);
	return ret;
}

/* A host error → Docker's status and message. */
static enum MHD_Result send_host_error(struct MHD_Connection *c,
				       enum docker_route route, int rc,
				       const char *em)
{
	char msg[DOCKER_MSG_MAX];
	int status = docker_error_status(route, rc, em, msg, sizeof(msg));

	log_debug("docker api: %d %s", status, msg);
	return send_error(c, status, msg, NULL);
}

/* --- endpoints --- */

static int dispatch(struct docker_api *d, const char *op, json_t *args,
		    json_t **res, char **em)
{
	int rc;

	*res = NULL;
	rc = host_dispatch(d->h, op, args, res, em);
	json_decref(args);
	if (!rc && !*res)
		*res = json_null();
	return rc;
}

static const char *query(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result ep_version(struct MHD_Connection *c)
{
	struct utsname u;
	json_t *j;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	j = json_pack(
		"{s:{s:s},s:[{s:s,s:s,s:{s:s,s:s}}],s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		"Platform", "Name", "wgnet", "Components", "Name", "wgnet",
		"Version", WGNET_VERSION_STR, "Details", "ApiVersion",
		DOCKER_API_VERSION, "MinAPIVersion", DOCKER_API_MIN_VERSION,
		"Version", WGNET_VERSION_STR, "ApiVersion", DOCKER_API_VERSION,
		"MinAPIVersion", DOCKER_API_MIN_VERSION, "GitCommit", "",
		"GoVersion", "", "Os", "linux", "Arch",
		*u.machine ? (!strcmp(u.machine, "x86_64")  ? "amd64" :
			      !strcmp(u.machine, "aarch64") ? "arm64" :
							      u.machine) :
			     "unknown",
		"KernelVersion", u.release, "BuildTime", "");
	return send_json(c, 200, j);
}

static enum MHD_Result ep_info(struct docker_api *d, struct MHD_Connection *c)
{
	struct utsname u;
	char hostname[256] = "";
	json_t *j;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	gethostname(hostname, sizeof(hostname) - 1);
	j = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:s,s:[],s:b,s:{s:[s]},s:i,s:I}",
		"ID", d->h->id, "Name", *d->h->id ? d->h->id : hostname,
		"ServerVersion", WGNET_VERSION_STR, "OperatingSystem", "wgnet",
		"OSType", "linux", "KernelVersion", u.release, "Architecture",
		u.machine, "Containers", 0, "ContainersRunning", 0,
		"ContainersPaused", 0, "ContainersStopped", 0, "Images", 0,
		"Driver", "", "Warnings", "ExperimentalBuild", 0, "Plugins",
		"Network", "wgnet", "NCPU", (int)sysconf(_SC_NPROCESSORS_ONLN),
		"MemTotal",
		(json_int_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE));
	return send_json(c, 200, j);
}

static enum MHD_Result ep_list(struct docker_api *d, struct MHD_Connection *c)
{
	json_t *filters = NULL, *hf = NULL, *labels, *res = NULL, *out, *n;
	char *em = NULL;
	enum MHD_Result ret;
	size_t i;
	int rc;

	rc = docker_filters_parse(query(c, "filters"), docker_list_filters,
				  &filters, &em);
	if (rc) {
		ret = send_host_error(c, DR_NET_LIST, rc, em);
		goto out;
	}
	/* Docker ANDs label values; the host ORs them: labels are done here. */
	labels = json_object_get(filters, "label");
	if (filters) {
		hf = json_deep_copy(filters);
		json_object_del(hf, "label");
	}
	rc = dispatch(d, "NetworkList",
		      hf ? json_pack("{s:O}", "filters", hf) : NULL, &res, &em);
	if (rc) {
		ret = send_host_error(c, DR_NET_LIST, rc, em);
		goto out;
	}
	out = json_array();
	json_array_foreach(res, i, n) {
		json_t *pf = labels ? json_pack("{s:O}", "label", labels) :
				      NULL;

		if (!pf || docker_prune_match(pf, n, 0))
			json_array_append_new(out, docker_network_out(n));
		json_decref(pf);
	}
	ret = send_json(c, 200, out);
out:
	json_decref(filters);
	json_decref(hf);
	json_decref(res);
	free(em);
	return ret;
}

static enum MHD_Result ep_inspect(struct docker_api *d,
				  struct MHD_Connection *c, const char *ref)
{
	const char *scope = query(c, "scope");
	json_t *res = NULL;
	char *em = NULL;
	enum MHD_Result ret;
	int rc;

	/* Every wgnet network is local: another scope does not hold it. */
	if (scope && *scope && strcmp(scope, "local")) {
		rc = host_err(&em, -ENOENT, "network %s not found", ref);
		ret = send_host_error(c, DR_NET_INSPECT, rc, em);
		goto out;
	}
	rc = dispatch(d, "NetworkInspect", json_pack("{s:s}", "network", ref),
		      &res, &em);
	if (rc)
		ret = send_host_error(c, DR_NET_INSPECT, rc, em);
	else
		ret = send_json(c, 200, docker_network_out(res));
out:
	json_decref(res);
	free(em);
	return ret;
}

static enum MHD_Result ep_create(struct docker_api *d, struct MHD_Connection *c,
				 const struct dreq *r)
{
	json_t *args = NULL, *res = NULL;
	char *em = NULL;
	enum MHD_Result ret;
	int rc;

	rc = docker_create_args(r->buf, r->len, &args, &em);
	if (!rc)
		rc = dispatch(d, "NetworkCreate", args, &res, &em);
	if (rc)
		ret = send_host_error(c, DR_NET_CREATE, rc, em);
	else
		ret = send_json(c, 201, docker_create_response(res));
	json_decref(res);
	free(em);
	return ret;
}

static enum MHD_Result ep_remove(struct docker_api *d, struct MHD_Connection *c,
				 const char *ref)
{
	json_t *net = NULL, *res = NULL;
	const char *id, *name;
	char *em = NULL, *msg = NULL;
	enum MHD_Result ret;
	int rc;

	rc = dispatch(d, "NetworkInspect", json_pack("{s:s}", "network", ref),
		      &net, &em);
	if (rc) {
		ret = send_host_error(c, DR_NET_REMOVE, rc, em);
		goto out;
	}
	id = json_string_value(json_object_get(net, "Id"));
	name = json_string_value(json_object_get(net, "Name"));
	rc = dispatch(d, "NetworkRemove",
		      json_pack("{s:s}", "network", id ? id : ref), &res, &em);
	if (rc == -EBUSY) {
		/* Docker's words, which scripts grep for. */
		if (asprintf(
			    &msg,
			    "error while removing network: network %s id %s has active endpoints",
			    name ? name : ref, id ? id : "") < 0)
			msg = NULL;
		ret = send_host_error(c, DR_NET_REMOVE, rc, msg ? msg : em);
	} else if (rc) {
		ret = send_host_error(c, DR_NET_REMOVE, rc, em);
	} else {
		ret = send_text(c, 204, NULL, NULL, NULL);
	}
out:
	json_decref(net);
	json_decref(res);
	free(em);
	free(msg);
	return ret;
}

static enum MHD_Result ep_connect(struct docker_api *d,
				  struct MHD_Connection *c,
				  enum docker_route route, const char *ref,
				  const struct dreq *r)
{
	json_t *args = NULL, *res = NULL;
	char *em = NULL;
	enum MHD_Result ret;
	int rc;

	if (route == DR_NET_CONNECT)
		rc = docker_connect_args(ref, r->buf, r->len, &args, &em);
	else
		rc = docker_disconnect_args(ref, r->buf, r->len, &args, &em);
	if (!rc)
		rc = dispatch(d,
			      route == DR_NET_CONNECT ? "NetworkConnect" :
							"NetworkDisconnect",
			      args, &res, &em);
	if (rc)
		ret = send_host_error(c, route, rc, em);
	else
		ret = send_text(c, 200, NULL, NULL, NULL);
	json_decref(res);
	free(em);
	return ret;
}

static enum MHD_Result ep_prune(struct docker_api *d, struct MHD_Connection *c)
{
	json_t *filters = NULL, *res = NULL, *deleted, *n;
	char *em = NULL;
	enum MHD_Result ret;
	size_t i;
	int rc;

	rc = docker_filters_parse(query(c, "filters"), docker_prune_filters,
				  &filters, &em);
	if (!rc)
		rc = dispatch(d, "NetworkList", NULL, &res, &em);
	if (rc) {
		ret = send_host_error(c, DR_NET_PRUNE, rc, em);
		goto out;
	}
	deleted = json_array();
	json_array_foreach(res, i, n) {
		const char *id = json_string_value(json_object_get(n, "Id"));
		const char *name =
			json_string_value(json_object_get(n, "Name"));
		json_t *r2 = NULL;
		char *em2 = NULL;

		if (!id || !name ||
		    json_object_size(json_object_get(n, "Containers")) ||
		    !docker_prune_match(filters, n, (int64_t)time(NULL)))
			continue;
		/* Someone may attach meanwhile: the host refuses, we skip. */
		rc = dispatch(d, "NetworkRemove",
			      json_pack("{s:s}", "network", id), &r2, &em2);
		if (!rc)
			json_array_append_new(deleted, json_string(name));
		else
			log_debug("docker api: prune %s: %s", name,
				  em2 ? em2 : strerror(-rc));
		json_decref(r2);
		free(em2);
	}
	ret = send_json(c, 200,
			json_pack("{s:o,s:i}", "NetworksDeleted", deleted,
				  "SpaceReclaimed", 0));
out:
	json_decref(filters);
	json_decref(res);
	free(em);
	return ret;
}

static enum MHD_Result serve(struct docker_api *d, struct MHD_Connection *c,
			     const char *url, const char *method,
			     const struct dreq *r)
{
	struct docker_match m;

	docker_route_match(method, url, &m);
	log_debug("docker api: %s %s", method, url);
	switch (m.route) {
	case DR_NONE:
		return send_error(c, m.status, m.message, m.allow);
	case DR_PING:
		/* HEAD gets the headers; MHD drops the body itself. */
		return send_text(c, 200, "text/plain; charset=utf-8", "OK",
				 NULL);
	case DR_VERSION:
		return ep_version(c);
	case DR_INFO:
		return ep_info(d, c);
	case DR_NET_LIST:
		return ep_list(d, c);
	case DR_NET_INSPECT:
		return ep_inspect(d, c, m.ref);
	case DR_NET_CREATE:
		return ep_create(d, c, r);
	case DR_NET_REMOVE:
		return ep_remove(d, c, m.ref);
	case DR_NET_CONNECT:
	case DR_NET_DISCONNECT:
		return ep_connect(d, c, m.route, m.ref, r);
	case DR_NET_PRUNE:
		return ep_prune(d, c);
	}
	return send_error(c, 500, "internal error", NULL);
}

/* --- libmicrohttpd glue --- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct docker_api *d = cls;
	struct dreq *r = *con_cls;
	char *nb;

	(void)version;
	if (!r) {
		const char *cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		/* Refuse a declared large body before reading it. */
		if (cl && strtoull(cl, NULL, 10) > DOCKER_BODY_MAX)
			r->too_big = true;
		if (r->too_big)
			return send_error(c, 413, "request body too large",
					  NULL);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (r->too_big)
			return MHD_YES;
		if (r->len + n > DOCKER_BODY_MAX) {
			r->too_big = true;
			free(r->buf);
			r->buf = NULL;
			r->len = 0;
			return MHD_YES;
		}
		nb = realloc(r->buf, r->len + n + 1);
		if (!nb)
			return MHD_NO;
		memcpy(nb + r->len, upload, n);
		r->len += n;
		nb[r->len] = '\0';
		r->buf = nb;
		return MHD_YES;
	}
	if (r->too_big)
		return send_error(c, 413, "request body too large", NULL);
	return serve(d, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct dreq *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		free(r->buf);
		free(r);
	}
	*con_cls = NULL;
}

int docker_api_start(struct host *h, const char *sock_path,
		     struct docker_api **out)
{
	struct docker_api *d;
	int rc;

	*out = NULL;
	if (!h || !sock_path || !*sock_path)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->h = h;
	d->fd = -1;
	if (strlen(sock_path) >= sizeof(d->path)) {
		rc = -ENAMETOOLONG;
		goto err;
	}
	strcpy(d->path, sock_path);
	d->fd = usock_listen(sock_path, 0660, 0);
	if (d->fd < 0) {
		rc = d->fd;
		d->fd = -1;
		goto err;
	}
	d->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, d, MHD_OPTION_LISTEN_SOCKET, d->fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DOCKER_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)DOCKER_IDLE_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER,
		host_mhd_log, (void *)"docker api", MHD_OPTION_END);
	if (!d->mhd) {
		rc = -EIO;
		goto err_sock;
	}
	d->fd = -1; /* MHD owns and closes it now */
	log_info("docker api on %s (API %s)", d->path, DOCKER_API_VERSION);
	*out = d;
	return 0;
err_sock:
	close(d->fd);
	unlink(d->path);
err:
	free(d);
	return rc;
}

void docker_api_stop(struct docker_api *d)
{
	if (!d)
		return;
	/* Joins the connection threads: running host ops finish first. */
	MHD_stop_daemon(d->mhd);
	if (d->fd >= 0)
		close(d->fd);
	unlink(d->path);
	free(d);
}
