// SPDX-License-Identifier: GPL-2.0
/*
 * The Docker plugin protocol over HTTP on a unix socket (libmicrohttpd, as
 * the Engine API of docker_api.c): every call is a POST with a JSON body,
 * answered 200 with a JSON body (errors inside it, as libnetwork expects:
 * {"Err"} for the network driver, {"Error"} for IPAM); an unknown method is
 * 404, which Docker reads as "not implemented".
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_api.h"
#include "wgnet/log.h"
#include "wgnet/usock.h"
#include "plugin.h"

#define PLUGIN_MAX_CONNS 64
#define PLUGIN_IDLE_TIMEOUT_S 60

struct plugin_srv {
	struct plugin *p;
	struct MHD_Daemon *mhd;
	char path[108];
};

struct preq {
	char *buf;
	size_t len;
	bool too_big;
};

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned int status,
				 json_t *j)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!s)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(s), s,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PLUGIN_CTYPE);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve(struct plugin_srv *s, struct MHD_Connection *c,
			     const char *url, const char *method,
			     struct preq *q)
{
	char err[PLUGIN_ERR_MAX];
	struct plugin_req r;
	bool ipam = false;
	json_t *res;
	int rc;

	if (strcmp(method, "POST"))
		return send_body(c, 405, json_pack("{s:s}", "Err", "use POST"));
	rc = plugin_parse(url, q->buf, q->len, &r, err, sizeof(err));
	if (rc == -ENOENT)
		return send_body(c, 404, json_pack("{s:s}", "Err", err));
	plugin_route(url, &ipam);
	if (rc) {
		log_info("docker plugin: %s: %s", url, err);
		return send_body(c, 200, plugin_error_body(ipam, err));
	}
	log_debug("docker plugin: %s %.*s", url,
		  (int)(q->len > 2048 ? 2048 : q->len), q->buf ? q->buf : "");
	res = plugin_handle(s->p, &r);
	plugin_req_clear(&r);
	return send_body(c, 200, res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct preq *q = *con_cls;
	char *nb;

	(void)version;
	if (!q) {
		const char *cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		q->too_big = cl && strtoull(cl, NULL, 10) > PLUGIN_BODY_MAX;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (q->too_big || q->len + n > PLUGIN_BODY_MAX) {
			q->too_big = true;
			return MHD_YES;
		}
		nb = realloc(q->buf, q->len + n + 1);
		if (!nb)
			return MHD_NO;
		memcpy(nb + q->len, upload, n);
		q->len += n;
		nb[q->len] = '\0';
		q->buf = nb;
		return MHD_YES;
	}
	if (q->too_big)
		return send_body(
			c, 413, json_pack("{s:s}", "Err", "request too large"));
	return serve(cls, c, url, method, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct preq *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->buf);
		free(q);
	}
	*con_cls = NULL;
}

int plugin_srv_start(struct plugin *p, const char *sock_path,
		     struct plugin_srv **out)
{
	struct plugin_srv *s;
	int fd;

	*out = NULL;
	if (!sock_path || !*sock_path || strlen(sock_path) >= sizeof(s->path))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = p;
	strcpy(s->path, sock_path);
	fd = usock_listen(sock_path, 0660, 0);
	if (fd < 0) {
		free(s);
		return fd;
	}
	s->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ITC,
		0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)PLUGIN_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)PLUGIN_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (!s->mhd) {
		close(fd);
		unlink(sock_path);
		free(s);
		return -EIO;
	}
	log_info("docker plugin on %s", s->path);
	*out = s;
	return 0;
}

void plugin_srv_stop(struct plugin_srv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	unlink(s->path);
	free(s);
}
