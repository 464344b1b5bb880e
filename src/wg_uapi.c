// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace WireGuard backend: one wireguard-go process per interface,
 * configured over its UAPI unix socket /var/run/wireguard/<ifname>.sock with
 * the key=value text protocol ("set=1" / "get=1", reply ends "errno=N\n\n").
 *
 * wireguard-go daemonises by itself; we start it in a new session, reap the
 * first-level process and never keep the daemon as our child, so the data path
 * outlives the agent. It exits when its TUN link is deleted.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "wgnet/ipnet.h"
#include "wgnet/log.h"
#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

#define WGU_SOCK_DIR "/var/run/wireguard"
#define WGU_MAX_REPLY (64U << 20)
#define WGU_IO_TIMEOUT_MS 5000
#define WGU_START_TIMEOUT_MS WG_START_TIMEOUT_MS
#define WGU_STOP_TIMEOUT_MS WG_STOP_TIMEOUT_MS
/* wireguard-go's own choice since early 2023 (7 MiB, SO_*BUFFORCE); the
 * kernel doubles it for its bookkeeping. See wg_sockbuf.c. */
#define WGU_SOCKBUF_BYTES (7 << 20)

extern char **environ;

static char wgu_program[PATH_MAX] = "wireguard-go";

void wg_userspace_set_program(const char *path)
{
	snprintf(wgu_program, sizeof(wgu_program), "%s",
		 path && *path ? path : "wireguard-go");
}

int wgu_socket_path(const char *ifname, char *buf, size_t len)
{
	if (wg_ifname_valid(ifname))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s/%s.sock", WGU_SOCK_DIR, ifname) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- a growing string that never leaves key material behind ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sbuf_printf(struct sbuf *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sbuf_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	char *np;
	int n;

	if (s->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->err = -EINVAL;
		return;
	}
	need = s->len + (size_t)n + 1;
	if (need > s->cap) {
		size_t cap = s->cap ? s->cap : 256;

		while (cap < need)
			cap *= 2;
		/* Not realloc: the old block may hold a private key. */
		np = malloc(cap);
		if (!np) {
			s->err = -ENOMEM;
			return;
		}
		if (s->p) {
			memcpy(np, s->p, s->len);
			explicit_bzero(s->p, s->cap);
			free(s->p);
		}
		s->p = np;
		s->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

static void sbuf_free(struct sbuf *s)
{
	if (s->p) {
		explicit_bzero(s->p, s->cap);
		free(s->p);
	}
	memset(s, 0, sizeof(*s));
}

/* ---- value formatting and parsing ---- */

static void key_to_hex(char out[2 * WG_KEY_LEN + 1],
		       const uint8_t key[WG_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[2 * WG_KEY_LEN] = '\0';
}

static int key_from_hex(uint8_t key[WG_KEY_LEN], const char *s)
{
	int i, hi, lo;

	if (strlen(s) != 2 * WG_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < WG_KEY_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int format_endpoint(char *buf, size_t len,
			   const struct sockaddr_storage *ss)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id)
			snprintf(buf, len, "[%s%%%u]:%u", ip,
				 sin6->sin6_scope_id, ntohs(sin6->sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", ip,
				 ntohs(sin6->sin6_port));
		return 0;
	}
	return -EINVAL;
}

/* "a.b.c.d:port", "[v6]:port" or "[v6%scope]:port". */
static int parse_endpoint(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *port, *end;
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct sockaddr_in *sin = (void *)ss;
	uint64_t p, scope = 0;
	bool v6 = s[0] == '[';
	size_t n;
	char *pct;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - s - 1);
		port = end + 2;
		s++;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - s);
		port = end + 1;
	}
	if (n == 0 || n >= sizeof(host) || parse_uint(port, 65535, &p))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (!v6) {
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		return 0;
	}
	pct = strchr(host, '%');
	if (pct) {
		*pct++ = '\0';
		if (parse_uint(pct, UINT32_MAX, &scope)) {
			scope = if_nametoindex(pct);
			if (!scope)
				return -EINVAL;
		}
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return -EINVAL;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)p);
	sin6->sin6_scope_id = (uint32_t)scope;
	return 0;
}

static int parse_allowed(const char *s, struct wg_peer *peer)
{
	char host[INET6_ADDRSTRLEN];
	uint8_t addr[16] = { 0 };
	const char *slash;
	uint64_t cidr;
	int family;
	size_t n;

	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		family = AF_INET6;
	else
		return -EINVAL;
	if (parse_uint(slash + 1, family == AF_INET ? 32 : 128, &cidr))
		return -EINVAL;
	return wg_peer_allowed_add(peer, family, addr, (uint8_t)cidr);
}

/* ---- the set request ---- */

int wgu_build_set(const struct wg_device *dev, char **out)
{
	struct sbuf s = { 0 };
	char hex[2 * WG_KEY_LEN + 1], ep[INET6_ADDRSTRLEN + 32];
	char ip[INET6_ADDRSTRLEN];
	size_t i, j;
	int ret = 0;

	*out = NULL;
	sbuf_printf(&s, "set=1\n");
	if (dev->flags & WG_DEV_F_PRIVATE_KEY) {
		key_to_hex(hex, dev->private_key);
		sbuf_printf(&s, "private_key=%s\n", hex);
		explicit_bzero(hex, sizeof(hex));
	}
	if (dev->flags & WG_DEV_F_LISTEN_PORT)
		sbuf_printf(&s, "listen_port=%u\n", dev->listen_port);
	if (dev->flags & WG_DEV_F_REPLACE_PEERS)
		sbuf_printf(&s, "replace_peers=true\n");
	for (i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];

		key_to_hex(hex, p->public_key);
		sbuf_printf(&s, "public_key=%s\n", hex);
		if (p->flags & WG_PEER_F_REMOVE) {
			sbuf_printf(&s, "remove=true\n");
			continue;
		}
		if (p->endpoint.ss_family) {
			ret = format_endpoint(ep, sizeof(ep), &p->endpoint);
			if (ret)
				goto out;
			sbuf_printf(&s, "endpoint=%s\n", ep);
		}
		sbuf_printf(&s, "persistent_keepalive_interval=%u\n",
			    p->keepalive);
		sbuf_printf(&s, "replace_allowed_ips=true\n");
		for (j = 0; j < p->n_allowed; j++) {
			if (!wg_allowed_valid(&p->allowed[j])) {
				ret = -EINVAL;
				goto out;
			}
			sbuf_printf(&s, "allowed_ip=%s\n",
				    prefix_fmt(&p->allowed[j], ip));
		}
	}
	sbuf_printf(&s, "\n");
	ret = s.err;
out:
	if (ret) {
		sbuf_free(&s);
		return ret;
	}
	*out = s.p;
	return 0;
}

/* ---- the get reply ---- */

struct get_state {
	struct wg_device *dev;
	struct wg_peer *peer;
	bool have_errno;
	uint64_t err;
};

static int get_device_key(struct get_state *st, const char *key,
			  const char *val)
{
	struct wg_device *dev = st->dev;
	uint64_t v;

	if (!strcmp(key, "private_key")) {
		if (key_from_hex(dev->private_key, val))
			return -EINVAL;
		dev->flags |= WG_DEV_F_PRIVATE_KEY;
		wg_key_public(dev->public_key, dev->private_key);
	} else if (!strcmp(key, "listen_port")) {
		if (parse_uint(val, 65535, &v))
			return -EINVAL;
		dev->listen_port = (uint16_t)v;
		dev->flags |= WG_DEV_F_LISTEN_PORT;
	} else if (!strcmp(key, "fwmark")) {
		if (parse_uint(val, UINT32_MAX, &v))
			return -EINVAL;
	}
	return 0;
}

static int get_peer_key(struct get_state *st, const char *key, const char *val)
{
	struct wg_peer *peer = st->peer;
	uint8_t k[WG_KEY_LEN];
	uint64_t v;

	if (!strcmp(key, "preshared_key")) {
		if (key_from_hex(k, val))
			return -EINVAL;
		explicit_bzero(k, sizeof(k));
	} else if (!strcmp(key, "protocol_version")) {
		if (parse_uint(val, UINT32_MAX, &v))
			return -EINVAL;
	} else if (!strcmp(key, "endpoint")) {
		if (parse_endpoint(val, &peer->endpoint))
			return -EINVAL;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		if (parse_uint(val, INT64_MAX, &v))
			return -EINVAL;
		peer->last_handshake.tv_sec = (time_t)v;
	} else if (!strcmp(key, "last_handshake_time_nsec")) {
		if (parse_uint(val, 999999999, &v))
			return -EINVAL;
		peer->last_handshake.tv_nsec = (long)v;
	} else if (!strcmp(key, "tx_bytes")) {
		if (parse_uint(val, UINT64_MAX, &peer->tx_bytes))
			return -EINVAL;
	} else if (!strcmp(key, "rx_bytes")) {
		if (parse_uint(val, UINT64_MAX, &peer->rx_bytes))
			return -EINVAL;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (parse_uint(val, 65535, &v))
			return -EINVAL;
		peer->keepalive = (uint16_t)v;
	} else if (!strcmp(key, "allowed_ip")) {
		return parse_allowed(val, peer);
	}
	return 0;
}

static bool is_peer_key(const char *key)
{
	static const char *const keys[] = {
		"preshared_key",
		"protocol_version",
		"endpoint",
		"last_handshake_time_sec",
		"last_handshake_time_nsec",
		"tx_bytes",
		"rx_bytes",
		"persistent_keepalive_interval",
		"allowed_ip",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

static int get_line(struct get_state *st, char *line)
{
	uint8_t k[WG_KEY_LEN];
	char *eq, *val;

	eq = strchr(line, '=');
	if (!eq || eq == line)
		return -EINVAL;
	*eq = '\0';
	val = eq + 1;
	if (st->have_errno)
		return -EINVAL; /* nothing may follow errno= */
	if (!strcmp(line, "errno")) {
		if (parse_uint(val, UINT32_MAX, &st->err))
			return -EINVAL;
		st->have_errno = true;
		return 0;
	}
	if (!strcmp(line, "public_key")) {
		if (key_from_hex(k, val))
			return -EINVAL;
		st->peer = wg_device_peer_find(st->dev, k);
		if (!st->peer) {
			st->peer = wg_device_peer_add(st->dev);
			if (!st->peer)
				return -ENOMEM;
			memcpy(st->peer->public_key, k, WG_KEY_LEN);
		}
		return 0;
	}
	if (is_peer_key(line))
		return st->peer ? get_peer_key(st, line, val) : -EINVAL;
	if (st->peer &&
	    (!strcmp(line, "private_key") || !strcmp(line, "listen_port") ||
	     !strcmp(line, "fwmark")))
		return -EINVAL; /* device keys come before the peers */
	return get_device_key(st, line, val);
}

int wgu_parse_get(const char *text, size_t len, struct wg_device **out)
{
	struct get_state st = { 0 };
	char line[WGU_MAX_LINE + 1];
	const char *p = text, *end = text + len, *nl;
	size_t n;
	int ret = 0;

	*out = NULL;
	st.dev = calloc(1, sizeof(*st.dev));
	if (!st.dev)
		return -ENOMEM;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			ret = -EINVAL; /* cut off mid-line */
			goto out;
		}
		n = (size_t)(nl - p);
		if (n == 0)
			break; /* the blank line ends the reply */
		if (n > WGU_MAX_LINE || memchr(p, '\0', n)) {
			ret = -EINVAL;
			goto out;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		ret = get_line(&st, line);
		if (ret)
			goto out;
		p = nl + 1;
	}
	if (!st.have_errno)
		ret = -EINVAL;
	else if (st.err)
		ret = st.err < 4096 ? -(int)st.err : -EIO;
out:
	explicit_bzero(line, sizeof(line));
	if (ret) {
		wg_device_free(st.dev);
		return ret;
	}
	*out = st.dev;
	return 0;
}

int wgu_parse_errno(const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	char num[16];
	uint64_t v;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -EINVAL;
		n = (size_t)(nl - p);
		if (n > 6 && n < 6 + sizeof(num) && !memcmp(p, "errno=", 6)) {
			memcpy(num, p + 6, n - 6);
			num[n - 6] = '\0';
			if (parse_uint(num, UINT32_MAX, &v))
				return -EINVAL;
			return v == 0 ? 0 : v < 4096 ? -(int)v : -EIO;
		}
		p = nl + 1;
	}
	return -EINVAL;
}

/* ---- socket I/O ---- */

static int uapi_connect(const char *ifname, int *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = WGU_IO_TIMEOUT_MS / 1000 };
	int fd, ret;

	ret = wgu_socket_path(ifname, sun.sun_path, sizeof(sun.sun_path));
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

static void reply_free(char *reply, size_t cap)
{
	if (reply) {
		explicit_bzero(reply, cap);
		free(reply);
	}
}

/* Send req and read the reply up to its blank line; *reply is NUL-ended. */
static int uapi_transact(const char *ifname, const char *req, char **reply,
			 size_t *rlen, size_t *rcap)
{
	size_t len = 0, cap = 4096, off = 0, reqlen = strlen(req);
	char *buf = NULL, *nb;
	int fd = -1, ret;
	ssize_t n;

	*reply = NULL;
	ret = uapi_connect(ifname, &fd);
	if (ret)
		return ret;
	while (off < reqlen) {
		n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (cap - len < 1024) {
			if (cap >= WGU_MAX_REPLY) {
				ret = -EMSGSIZE;
				goto out;
			}
			nb = malloc(cap * 2);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			memcpy(nb, buf, len);
			reply_free(buf, cap);
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 2 && memmem(buf, len, "\n\n", 2))
			break;
	}
	buf[len] = '\0';
	*reply = buf;
	*rlen = len;
	*rcap = cap;
	buf = NULL;
out:
	reply_free(buf, cap);
	close(fd);
	return ret;
}

/* 1 if the socket answers a get with errno=0, else 0. */
static int uapi_answers(const char *ifname)
{
	struct wg_device *dev = NULL;
	size_t len, cap;
	char *reply;
	int ret;

	if (uapi_transact(ifname, "get=1\n\n", &reply, &len, &cap))
		return 0;
	ret = wgu_parse_get(reply, len, &dev);
	reply_free(reply, cap);
	wg_device_free(dev);
	return ret == 0;
}

/* ---- starting wireguard-go ---- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Our environment minus what would change how wireguard-go starts: it must
 * daemonise (no WG_PROCESS_FOREGROUND), create its own TUN and socket, and
 * not log to the pipe we read its start-up errors from. */
static char **child_env(void)
{
	static const char *const drop[] = { "WG_PROCESS_FOREGROUND=",
					    "WG_TUN_FD=", "WG_UAPI_FD=",
					    "WG_TUN_NAME_FILE=", "LOG_LEVEL=" };
	size_t n = 0, i, j, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(drop) / sizeof(drop[0]); j++)
			if (!strncmp(environ[i], drop[j], strlen(drop[j])))
				break;
		if (j == sizeof(drop) / sizeof(drop[0]))
			env[k++] = environ[i];
	}
	return env;
}

static void __attribute__((noreturn))
child_exec(const char *prog, const char *ifname, char **env, int out_fd)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	static const int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD };
	char *argv[] = { (char *)prog, (char *)ifname, NULL };
	sigset_t none;
	size_t i;
	int fd;

	/* Only async-signal-safe calls from here on. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* A new session: signals to the agent's process group or terminal
	 * must not reach the data path. */
	setsid();
	if (chdir("/") < 0)
		_exit(126);
	fd = open("/dev/null", O_RDWR);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(out_fd, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	execvpe(prog, argv, env);
	_exit(127);
}

/* Start wireguard-go for ifname; deadline: now_ms() value to give up at. */
static int wgu_spawn(const char *ifname, long deadline)
{
	char out[512];
	size_t olen = 0;
	struct pollfd pfd;
	int pipefd[2] = { -1, -1 }, status = 0, ret = 0;
	char **env;
	pid_t pid, w;
	ssize_t n;

	env = child_env();
	if (!env)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(wgu_program, ifname, env, pipefd[1]);
	close(pipefd[1]);
	pipefd[1] = -1;

	/* The first-level process prints errors, starts the daemon (which
	 * does not inherit the pipe) and exits: read to EOF, then reap it. */
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	while (now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		n = read(pipefd[0], out + olen, sizeof(out) - 1 - olen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		olen += (size_t)n;
		if (olen == sizeof(out) - 1)
			olen = 0; /* keep only the tail of a long story */
	}
	out[olen] = '\0';
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			log_err("wireguard: %s %s did not daemonise",
				wgu_program, ifname);
			ret = -ETIMEDOUT;
			goto out;
		}
		if (w == 0)
			sleep_ms(10);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ret = WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			      -ENOENT :
			      -EIO;
		while (olen && isspace((unsigned char)out[olen - 1]))
			out[--olen] = '\0';
		log_err("wireguard: %s %s failed (status %d): %s", wgu_program,
			ifname, status, olen ? out : "no output");
	}
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(env);
	return ret;
}

/* ---- the backend ---- */

static int wgu_exists(const char *ifname)
{
	if (wg_ifname_valid(ifname))
		return -EINVAL;
	return uapi_answers(ifname);
}

/* wireguard-go watches its UAPI socket with inotify. With no instance
 * left for this user (fs.inotify.max_user_instances, 128 by default:
 * one per wireguard-go) its daemon exits at once, its message is lost,
 * and the socket it left refuses connections: say so now instead of
 * waiting out the start timeout. */
static int inotify_left(void)
{
	int fd = inotify_init1(IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int wgu_create(const char *ifname)
{
	char kind[16];
	long deadline;
	int ret;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	if (wg_link_kind(ifname, kind) == 0)
		return -EEXIST;
	if (uapi_answers(ifname)) {
		/* The socket path is machine-wide: another namespace has a
		 * wireguard-go interface with this name. */
		log_err("wireguard: %s/%s.sock is in use (same name in another namespace?)",
			WGU_SOCK_DIR, ifname);
		return -EEXIST;
	}
	ret = inotify_left();
	if (ret == -EMFILE) {
		log_err("wireguard: cannot start wireguard-go for %s: no inotify instance left (fs.inotify.max_user_instances; each wireguard-go takes one)",
			ifname);
		return ret;
	}
	/* One deadline for both steps: daemonising and the first answer. */
	deadline = now_ms() + WGU_START_TIMEOUT_MS;
	ret = wgu_spawn(ifname, deadline);
	if (ret)
		return ret;
	while (!uapi_answers(ifname)) {
		if (now_ms() >= deadline) {
			log_err("wireguard: %s: UAPI socket never answered",
				ifname);
			wg_link_delete(ifname);
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	log_debug("wireguard: %s started (wireguard-go)", ifname);
	return 0;
}

static int wgu_destroy(const char *ifname)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	long deadline;
	int ret;

	ret = wgu_socket_path(ifname, path, sizeof(path));
	if (ret)
		return ret;
	ret = wg_link_delete(ifname);
	if (ret && ret != -ENODEV)
		return ret;
	if (ret == -ENODEV && uapi_answers(ifname))
		return -ENODEV; /* that socket belongs to another namespace */
	/* wireguard-go notices its TUN is gone and exits. */
	deadline = now_ms() + WGU_STOP_TIMEOUT_MS;
	while (uapi_answers(ifname)) {
		if (now_ms() >= deadline) {
			log_warn("wireguard: %s: wireguard-go still answers",
				 ifname);
			return -EBUSY;
		}
		sleep_ms(20);
	}
	/* It does not remove a socket it inherited from its parent. */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("wireguard: unlink %s: %s", path, strerror(errno));
	return ret;
}

static int wgu_set(const char *ifname, const struct wg_device *dev)
{
	size_t len, cap;
	char *req = NULL, *reply = NULL;
	int ret;

	if (wg_ifname_valid(ifname))
		return -EINVAL;
	ret = wgu_build_set(dev, &req);
	if (ret)
		goto out;
	ret = uapi_transact(ifname, req, &reply, &len, &cap);
	if (ret)
		goto out;
	ret = wgu_parse_errno(reply, len);
out:
	if (ret)
		log_err("wireguard: set %s: %s", ifname, strerror(-ret));
	if (req) {
		explicit_bzero(req, strlen(req));
		free(req);
	}
	if (reply)
		reply_free(reply, cap);
	return ret;
}

static int wgu_get(const char *ifname, struct wg_device **out)
{
	size_t len, cap;
	char *reply = NULL;
	int ret;

	*out = NULL;
	if (wg_ifname_valid(ifname))
		return -EINVAL;
	ret = uapi_transact(ifname, "get=1\n\n", &reply, &len, &cap);
	if (ret)
		return ret;
	ret = wgu_parse_get(reply, len, out);
	reply_free(reply, cap);
	if (ret)
		return ret;
	snprintf((*out)->name, sizeof((*out)->name), "%s", ifname);
	return 0;
}

/* The program's name as the kernel shows it in /proc/<pid>/comm. */
static void wgu_comm(char comm[16])
{
	const char *base = strrchr(wgu_program, '/');

	snprintf(comm, 16, "%.15s", base ? base + 1 : wgu_program);
}

static int wgu_tune(const char *ifname)
{
	char comm[16];
	int ret;

	wgu_comm(comm);
	ret = wgu_sockbuf_set(comm, ifname, WGU_SOCKBUF_BYTES);
	return ret == -ESRCH ? 0 : ret;
}

const struct wg_backend wg_userspace_backend = {
	.name = "userspace",
	.create = wgu_create,
	.destroy = wgu_destroy,
	.exists = wgu_exists,
	.set = wgu_set,
	.get = wgu_get,
	.tune = wgu_tune,
};
