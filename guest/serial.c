// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol over a virtio-serial port.
 *
 * Linux's virtio_console tells the guest whether the host side of a port is
 * connected: with no host, read() returns 0 and poll() reports
 * POLLIN|POLLHUP at once, for as long as nobody connects, so the port cannot
 * sit in the poll set then. Each change of the host's connection (and each
 * arrival of data) raises SIGIO on an O_ASYNC port; that signal is read
 * through a signalfd, which is what the agent polls while no host is there.
 *
 * A port is a byte stream without connection boundaries the guest can see,
 * so frames are found by their magic: anything before "WGNT" is skipped,
 * and a frame cut short by a host that went away is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "serial.h"
#include "server.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#define SERIAL_BUF_MIN (64U * 1024)
#define SERIAL_BUF_MAX (PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
#define SERIAL_WRITE_MS 2500

struct serial {
	int fd; /* the port */
	int sfd; /* signalfd for SIGIO */
	bool idle; /* no host connected: poll sfd, not fd */
	uint8_t *buf;
	size_t len, cap;
};

struct serial *serial_open(const char *path)
{
	struct serial *s = calloc(1, sizeof(*s));
	sigset_t set;
	int flags, err;

	if (!s)
		return NULL;
	s->fd = -1;
	s->sfd = -1;
	s->fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (s->fd < 0)
		goto fail;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		goto fail;
	s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sfd < 0)
		goto fail;
	flags = fcntl(s->fd, F_GETFL);
	if (flags < 0 || fcntl(s->fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(s->fd, F_SETFL, flags | O_ASYNC) < 0)
		goto fail;
	s->cap = SERIAL_BUF_MIN;
	s->buf = malloc(s->cap);
	if (!s->buf)
		goto fail;
	return s;
fail:
	err = errno;
	serial_free(s);
	errno = err;
	return NULL;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->sfd >= 0)
		close(s->sfd);
	free(s->buf);
	free(s);
}

int serial_fd(const struct serial *s)
{
	return s->idle ? s->sfd : s->fd;
}

static void consume(struct serial *s, size_t n)
{
	if (n > s->len)
		n = s->len;
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Write all of p on the non-blocking port. A write can find the host "not
 * connected" although the client that sent the request is still there:
 * virtio_console handles port-open events in a work item, so the new
 * client's data can overtake the event that reports it. So a port that is
 * not writable is retried until SERIAL_WRITE_MS; a client that really left
 * gets nothing (the next one connects within that time only if the first
 * one gave up, which wgnet-host's one-call-per-connection client does only
 * on its own timeout).
 */
static int write_all(int fd, const uint8_t *p, size_t n)
{
	long long deadline = now_ms() + SERIAL_WRITE_MS;

	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		/* With no host, POLLHUP comes at once: sleep instead. */
		if (poll(&pfd, 1, 20) > 0 && (pfd.revents & POLLHUP))
			poll(NULL, 0, 5);
	}
	return 0;
}

static int send_reply(struct serial *s, json_t *rep)
{
	uint8_t *frame = NULL;
	char *txt;
	size_t len;
	int err;

	txt = json_dumps(rep, JSON_COMPACT);
	if (!txt)
		return -ENOMEM;
	len = strlen(txt);
	if (len > PROTO_MAX_PAYLOAD) {
		err = -EMSGSIZE;
		goto out;
	}
	frame = malloc(PROTO_HDR_LEN + len);
	if (!frame) {
		err = -ENOMEM;
		goto out;
	}
	proto_hdr_encode(frame, PROTO_T_REPLY, (uint32_t)len);
	memcpy(frame + PROTO_HDR_LEN, txt, len);
	err = write_all(s->fd, frame, PROTO_HDR_LEN + len);
out:
	free(frame);
	free(txt);
	return err;
}

/* One complete frame: the reply always goes out, errors included. */
static void serve(struct agent *ag, struct serial *s, const uint8_t *payload,
		  size_t n)
{
	json_t *req = NULL, *rep = NULL;
	const char *op = NULL;
	int err;

	if (proto_payload_decode(payload, n, &req))
		rep = srv_frame_error(-EBADMSG);
	else
		rep = srv_request(ag, req, &op);
	err = rep ? send_reply(s, rep) : -ENOMEM;
	if (err)
		log_debug("serial: cannot send reply: %s", strerror(-err));
	json_decref(req);
	json_decref(rep);
}

/* A header we refuse: answer it, then look for the next frame. */
static void refuse(struct serial *s, int err)
{
	json_t *rep;

	rep = err == -EBADMSG ?
		      proto_reply_err(err, "malformed message: not a request frame") :
		      srv_frame_error(err);
	if (rep && send_reply(s, rep))
		log_debug("serial: cannot send error reply");
	json_decref(rep);
}

static void process(struct agent *ag, struct serial *s)
{
	struct proto_hdr h;
	uint8_t *m;
	int err;

	for (;;) {
		m = memmem(s->buf, s->len, PROTO_MAGIC, 4);
		if (!m) {
			/* Keep a tail that may be the start of a magic. */
			if (s->len > 3) {
				log_debug("serial: skipped %zu bytes",
					  s->len - 3);
				consume(s, s->len - 3);
			}
			return;
		}
		if (m != s->buf) {
			log_debug("serial: skipped %zu bytes",
				  (size_t)(m - s->buf));
			consume(s, (size_t)(m - s->buf));
		}
		if (s->len < PROTO_HDR_LEN)
			return;
		err = proto_hdr_decode(s->buf, PROTO_HDR_LEN, PROTO_T_REQUEST,
				       &h);
		if (err) {
			refuse(s, err);
			consume(s, 4);
			continue;
		}
		if (s->len < PROTO_HDR_LEN + (size_t)h.len)
			return;
		serve(ag, s, s->buf + PROTO_HDR_LEN, h.len);
		consume(s, PROTO_HDR_LEN + (size_t)h.len);
	}
}

static int grow(struct serial *s)
{
	size_t cap = s->cap * 2;
	uint8_t *b;

	if (s->cap >= SERIAL_BUF_MAX)
		return -ENOBUFS;
	if (cap > SERIAL_BUF_MAX)
		cap = SERIAL_BUF_MAX;
	b = realloc(s->buf, cap);
	if (!b)
		return -ENOMEM;
	s->buf = b;
	s->cap = cap;
	return 0;
}

static void drain_signals(struct serial *s)
{
	struct signalfd_siginfo si;

	while (read(s->sfd, &si, sizeof(si)) == sizeof(si))
		;
}

void serial_handle(struct agent *ag, struct serial *s)
{
	ssize_t r;

	if (s->idle) {
		/* The host's connection changed: look at the port again. */
		drain_signals(s);
		s->idle = false;
	}
	for (;;) {
		if (s->len == s->cap && grow(s)) {
			/* Cannot happen with a valid header; be safe. */
			log_warn("serial: input buffer full, dropping it");
			s->len = 0;
		}
		r = read(s->fd, s->buf + s->len, s->cap - s->len);
		if (r > 0) {
			s->len += (size_t)r;
			process(ag, s);
			continue;
		}
		if (r == 0) {
			/* No host connected (any more): a frame it left
			 * unfinished will never be completed. */
			if (s->len)
				log_debug(
					"serial: host left, dropping %zu bytes",
					s->len);
			s->len = 0;
			s->idle = true;
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			/* e.g. the port was unplugged: wait for a signal
			 * rather than spin on a port that keeps failing. */
			log_debug("serial: read: %s", strerror(errno));
			s->idle = true;
		}
		return;
	}
}
