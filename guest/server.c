// SPDX-License-Identifier: GPL-2.0
/* The guest's control server: AF_UNIX and (where the kernel has it) AF_VSOCK
 * listeners, one request per connection, answered in order. */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "server.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

int srv_listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int srv_listen_vsock(unsigned int port)
{
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK,
				   .svm_cid = VMADDR_CID_ANY,
				   .svm_port = port };
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 ||
	    listen(fd, 64) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * After a frame we refused, the peer may still be sending. Closing a unix
 * socket with unread data resets the peer before it reads our answer, so
 * take (a bounded amount of) what is in flight first.
 */
static void drain(int fd)
{
	struct timeval tv = { .tv_usec = 100000 };
	char buf[4096];
	size_t total = 0;
	ssize_t r;

	shutdown(fd, SHUT_WR);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (total < (1U << 20) && (r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
}

/* One request on a connected stream: the reply always goes out, errors
 * included; nothing changes unless the request was well-formed. */
json_t *srv_frame_error(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return proto_reply_err(err, "message over the %u-byte limit",
				       PROTO_MAX_PAYLOAD);
	case -EPROTONOSUPPORT:
		return proto_reply_err(err, "unsupported protocol version (this agent speaks %d)",
				       PROTO_VERSION);
	case -EPROTO:
		return proto_reply_err(err, "bad magic: not a wgnet frame");
	case -EBADMSG:
		return proto_reply_err(err, "malformed message: payload is not a JSON object");
	default:
		return NULL;
	}
}

json_t *srv_request(struct agent *ag, uint16_t type, json_t *req,
		    const char **op)
{
	json_t *args = NULL;
	const char *why = NULL;
	int err;

	*op = NULL;
	if (type != PROTO_T_REQUEST)
		return proto_reply_err(-EBADMSG, "expected a request frame");
	err = proto_request_parse(req, op, &args, &why);
	if (err) {
		*op = NULL;
		return proto_reply_err(err, "malformed request: %s", why);
	}
	log_debug("request %s", *op);
	return ag_dispatch(ag, *op, args);
}

void srv_serve_stream(struct agent *ag, int fd)
{
	json_t *req = NULL, *rep = NULL;
	const char *op = NULL;
	uint16_t type = 0;
	int err;

	err = proto_recv(fd, &type, &req);
	if (err) {
		rep = srv_frame_error(err);
		if (!rep) {
			/* Timeout or the peer went away: nothing to answer. */
			log_debug("control connection: %s", strerror(-err));
			return;
		}
	} else {
		rep = srv_request(ag, type, req, &op);
	}
	err = proto_send(fd, PROTO_T_REPLY, rep);
	if (err)
		log_debug("cannot send reply: %s", strerror(-err));
	if (!op)
		drain(fd);
	json_decref(req);
	json_decref(rep);
}

void srv_accept(struct agent *ag, int lfd)
{
	struct timeval tv = { .tv_sec = 2 };
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* A client that stalls mid-frame cannot hold the agent for long. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	srv_serve_stream(ag, fd);
	close(fd);
}
