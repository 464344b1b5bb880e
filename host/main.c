// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet-host: the orchestrator. Listens on a unix socket for the host
 * protocol (one request per connection, a thread per connection, bounded),
 * runs the reconciler thread, keeps its state in the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctrlset.h"
#include "docker_api.h"
#include "plugin.h"
#include "host.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"
#include "wgnet/usock.h"
#include "keyage.h"
#include "metrics.h"

#define MAX_CLIENTS 64

static volatile sig_atomic_t stop_flag;
static int stop_pipe[2] = { -1, -1 };

static pthread_mutex_t clients_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clients_cv = PTHREAD_COND_INITIALIZER;
static int n_clients;

struct client {
	struct host *h;
	int fd;
};

static void on_signal(int sig)
{
	int saved = errno;
	ssize_t r;

	(void)sig;
	stop_flag = 1;
	r = write(stop_pipe[1], "x", 1);
	(void)r;
	errno = saved;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wgnet-host [--socket PATH] [--store URI] [--id NAME]\n"
		"                  [--guest-timeout SEC] [-v|--debug] [--log-file PATH]\n"
		"                  [--docker-socket PATH] [--metrics ADDR [--metrics-interval SEC]]\n"
		"                  [--key-max-age DURATION]\n"
		"                  [--plugin-socket PATH --plugin-guest NAME\n"
		"                   [--plugin-state FILE] [--plugin-docker PATH]]\n"
		"                  [--ctrl-prefix CIDR]...\n"
		"  --socket PATH        API socket (default %s, env WGNET_HOST_SOCK)\n"
		"  --store URI          state store (default %s)\n"
		"  --id NAME            this host's id (default: the hostname)\n"
		"  --guest-timeout SEC  silence before a guest is dead (default 30)\n"
		"  --call-timeout MS    deadline of one guest call, the whole exchange\n"
		"                       (default 2000; device-building ops get 3x)\n"
		"  --fanout-delay MS    a change reaches the network's other guests this\n"
		"                       long after the first change of a burst, as one\n"
		"                       delta (default %d; 0: at once)\n"
		"  --lease-ttl SEC      etcd store: this host's lease (default 10)\n"
		"  -v, --debug          debug logging\n"
		"  --log-file PATH      log there instead of stderr\n"
		"  --docker-socket PATH Docker Engine API socket (default: docker.sock\n"
		"                       next to --socket; \"none\" or \"\" disables)\n"
		"  --metrics ADDR       serve /metrics (Prometheus) on 127.0.0.1:PORT,\n"
		"                       [::1]:PORT or unix:/path (default: off)\n"
		"  --metrics-interval SEC  refresh of the guests' counters (default 10)\n"
		"  --key-max-age DURATION  rotate every guest's key once it is older\n"
		"                       (90s, 30m, 24h, 7d, 1h30m; 0 = never, the\n"
		"                       default); a network's --opt %s=DURATION\n"
		"                       overrides it\n"
		"  --plugin-socket PATH Docker network+IPAM plugin (off unless given;\n"
		"                       Docker looks for %s)\n"
		"  --plugin-guest NAME  the wgnet-guest of this machine (host mode)\n"
		"  --plugin-state FILE  Docker ids -> wgnet ids (default %s)\n"
		"  --plugin-docker PATH dockerd's API socket, to learn container names\n"
		"                       for wgnet's DNS (default %s; \"none\": no names)\n"
		"  --ctrl-prefix CIDR   containers may never reach CIDR (repeatable): added\n"
		"                       to every guest's control-plane set, with this\n"
		"                       machine's addresses and every guest's underlay\n"
		"                       network (e.g. other machines' underlay networks)\n",
		HOST_DEFAULT_SOCK, HOST_DEFAULT_STORE, HOST_FANOUT_DELAY_MS,
		KEYAGE_OPT, PLUGIN_DEFAULT_SOCK, PLUGIN_DEFAULT_STATE,
		PLUGIN_DEFAULT_DOCKER);
}

/* --ctrl-prefix CIDR: a prefix with its host bits zero, not /0 (that
 * would cut every container off), at most CTRL_HOST_MAX of them. */
static int ctrl_prefix_opt(const char *arg, struct ip_prefix *v, size_t *n)
{
	struct ip_prefix p;

	if (prefix_parse(arg, true, &p) || !p.plen) {
		fprintf(stderr,
			"wgnet-host: invalid --ctrl-prefix %s: want a CIDR with its host bits zero and a length > 0 (e.g. 10.78.0.0/16, fd78::/64)\n",
			arg);
		return -EINVAL;
	}
	if (*n >= CTRL_HOST_MAX) {
		fprintf(stderr, "wgnet-host: more than %d --ctrl-prefix\n",
			CTRL_HOST_MAX);
		return -E2BIG;
	}
	v[(*n)++] = p;
	return 0;
}

/* --NAME ARG: an integer in lo..hi, else a message and -EINVAL. */
static int int_opt(const char *name, const char *arg, long lo, long hi,
		   const char *unit, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr, "wgnet-host: invalid --%s %s (%ld..%ld%s)\n",
			name, arg, lo, hi, unit);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	host_serve_fd(c->h, c->fd);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&clients_mu);
	n_clients--;
	pthread_cond_broadcast(&clients_cv);
	pthread_mutex_unlock(&clients_mu);
	return NULL;
}

static void refuse(int fd)
{
	struct timeval tv = { .tv_sec = 1 };
	json_t *rep = proto_reply_err(EBUSY, "too many clients, try again");

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	proto_send(fd, PROTO_T_REPLY, rep);
	json_decref(rep);
	close(fd);
}

static void accept_one(struct host *h, int lfd)
{
	pthread_attr_t attr;
	struct client *c;
	pthread_t th;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			log_warn("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
		return;
	}
	pthread_mutex_lock(&clients_mu);
	if (n_clients >= MAX_CLIENTS) {
		pthread_mutex_unlock(&clients_mu);
		refuse(fd);
		return;
	}
	n_clients++;
	pthread_mutex_unlock(&clients_mu);
	c = malloc(sizeof(*c));
	if (!c)
		goto fail;
	c->h = h;
	c->fd = fd;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, client_main, c)) {
		pthread_attr_destroy(&attr);
		free(c);
		goto fail;
	}
	pthread_attr_destroy(&attr);
	return;
fail:
	close(fd);
	pthread_mutex_lock(&clients_mu);
	n_clients--;
	pthread_mutex_unlock(&clients_mu);
}

/* Let running requests finish (bounded by their socket timeouts). */
static void wait_clients(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	pthread_mutex_lock(&clients_mu);
	while (n_clients > 0)
		if (pthread_cond_timedwait(&clients_cv, &clients_mu, &ts))
			break;
	if (n_clients > 0)
		log_warn("%d request(s) still running at exit", n_clients);
	pthread_mutex_unlock(&clients_mu);
}

/* One worker connection per guest plus the clients': take every
 * descriptor the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_warn("cannot raise the file descriptor limit: %s",
				 strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "id", required_argument, NULL, 'i' },
		{ "guest-timeout", required_argument, NULL, 't' },
		{ "call-timeout", required_argument, NULL, 'C' },
		{ "lease-ttl", required_argument, NULL, 'L' },
		{ "fanout-delay", required_argument, NULL, 'F' },
		{ "debug", no_argument, NULL, 'v' },
		{ "log-file", required_argument, NULL, 'l' },
		{ "docker-socket", required_argument, NULL, 'D' },
		{ "plugin-socket", required_argument, NULL, 'P' },
		{ "plugin-guest", required_argument, NULL, 'G' },
		{ "plugin-state", required_argument, NULL, 'T' },
		{ "plugin-docker", required_argument, NULL, 'K' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "metrics-interval", required_argument, NULL, 'I' },
		{ "ctrl-prefix", required_argument, NULL, 'X' },
		{ "key-max-age", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = getenv("WGNET_HOST_SOCK"), *uri = HOST_DEFAULT_STORE;
	const char *id = NULL, *logfile = NULL, *dsock = NULL;
	char dbuf[PATH_MAX];
	struct docker_api *dapi = NULL;
	const char *psock = NULL, *pguest = NULL;
	const char *pstate = PLUGIN_DEFAULT_STATE;
	const char *pdocker = PLUGIN_DEFAULT_DOCKER;
	struct plugin *plug = NULL;
	struct plugin_srv *psrv = NULL;
	struct metrics *metrics = NULL;
	struct keyage *keyage = NULL;
	int64_t key_max_age = 0;
	const char *maddr = NULL;
	int minterval = 10;
	char hostname[HOST_NAME_MAX + 1] = "";
	struct sigaction sa = { 0 };
	struct store *st = NULL;
	struct host *h = NULL;
	static struct ip_prefix ctrl[CTRL_HOST_MAX];
	size_t n_ctrl = 0;
	int timeout = 30, opt, lfd = -1, rc = 1, lease_ttl = 10;
	int call_ms = HOST_CALL_TIMEOUT_MS, fanout_ms = HOST_FANOUT_DELAY_MS;
	char *end;

	log_prog = "wgnet-host";
	if (!sock || !*sock)
		sock = HOST_DEFAULT_SOCK;
	while ((opt = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'S':
			uri = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 't':
			errno = 0;
			timeout = (int)strtol(optarg, &end, 10);
			if (errno || *end || timeout < 1 || timeout > 86400) {
				fprintf(stderr,
					"wgnet-host: invalid --guest-timeout %s\n",
					optarg);
				return 2;
			}
			break;
		case 'C':
			if (int_opt("call-timeout", optarg, 100, 600000, " ms",
				    &call_ms))
				return 2;
			break;
		case 'F':
			if (int_opt("fanout-delay", optarg, 0, 10000, " ms",
				    &fanout_ms))
				return 2;
			break;
		case 'L':
			if (int_opt("lease-ttl", optarg, 2, 3600, "", &lease_ttl))
				return 2;
			break;
		case 'v':
			log_level = LOG_LVL_DEBUG;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'D':
			dsock = optarg;
			break;
		case 'P':
			psock = optarg;
			break;
		case 'G':
			pguest = optarg;
			break;
		case 'T':
			pstate = optarg;
			break;
		case 'K':
			pdocker = optarg;
			break;
		case 'M':
			maddr = optarg;
			break;
		case 'I':
			errno = 0;
			minterval = (int)strtol(optarg, &end, 10);
			if (errno || *end || minterval < 1 ||
			    minterval > 3600) {
				fprintf(stderr,
					"wgnet-host: invalid --metrics-interval %s (1..3600)\n",
					optarg);
				return 2;
			}
			break;
		case 'X':
			if (ctrl_prefix_opt(optarg, ctrl, &n_ctrl))
				return 1;
			break;
		case 'A':
			if (keyage_parse(optarg, &key_max_age)) {
				fprintf(stderr,
					"wgnet-host: invalid --key-max-age %s: a duration such as 90s, 30m, 24h, 7d or 1h30m (0 = off, at most 3650d)\n",
					optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (psock && (!pguest || !*pguest)) {
		fprintf(stderr,
			"wgnet-host: --plugin-socket needs --plugin-guest NAME (this machine's wgnet-guest)\n");
		return 2;
	}
	if (logfile && !freopen(logfile, "a", stderr)) {
		fprintf(stdout, "wgnet-host: cannot open %s: %s\n", logfile,
			strerror(errno));
		return 1;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (!id) {
		gethostname(hostname, sizeof(hostname) - 1);
		id = hostname;
	}
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK)) {
		log_err("pipe: %s", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* etcd: this host's lease carries its id and TTL (docs/etcd.md). */
	st = !store_uri_is_etcd(uri) ? store_open(uri) :
				       store_etcd_open(uri, id, lease_ttl);
	if (!st) {
		log_err("cannot open the store %s: %s", uri, strerror(errno));
		goto out;
	}
	h = host_new(st, id, timeout);
	if (!h) {
		log_err("out of memory");
		goto out;
	}
	snprintf(h->store_uri, sizeof(h->store_uri), "%s", uri);
	h->call_timeout_ms = call_ms;
	h->fanout_delay_ms = fanout_ms;
	h->ctrl_cfg = ctrl;
	h->n_ctrl_cfg = n_ctrl;
	h->key_max_age_s = key_max_age;
	lfd = usock_listen(sock, 0660, 0);
	if (lfd < 0) {
		log_err("cannot listen on %s: %s", sock, strerror(-lfd));
		goto out;
	}
	if (host_start(h)) {
		log_err("cannot start the reconciler");
		goto out;
	}
	if (host_watch_start(h)) {
		log_err("cannot watch the store %s", uri);
		goto out;
	}
	/* The default socket is optional: a failure is only a warning. */
	if (!dsock && !docker_sock_default(sock, dbuf, sizeof(dbuf))) {
		if ((opt = docker_api_start(h, dbuf, &dapi)))
			log_warn("no docker api on %s: %s", dbuf,
				 strerror(-opt));
	} else if (dsock && *dsock && strcmp(dsock, "none") &&
		   (opt = docker_api_start(h, dsock, &dapi))) {
		log_err("cannot serve the docker api on %s: %s", dsock,
			strerror(-opt));
		goto out;
	}
	if (psock && ((opt = plugin_new(h, pguest, pstate, pdocker, &plug)) ||
		      (opt = plugin_srv_start(plug, psock, &psrv)))) {
		log_err("cannot serve the docker plugin on %s (state %s): %s",
			psock, pstate, strerror(-opt));
		goto out;
	}
	if (maddr && (opt = metrics_start(h, maddr, minterval, &metrics))) {
		log_err("cannot serve metrics on %s: %s%s", maddr,
			opt == -EPERM ? "not a loopback address" :
					strerror(-opt),
			opt == -EINVAL ?
				" (use 127.0.0.1:PORT, [::1]:PORT or unix:/path)" :
				"");
		goto out;
	}
	if ((opt = keyage_start(h, &keyage))) {
		log_err("cannot start the key age timer: %s", strerror(-opt));
		goto out;
	}
	log_info(
		"listening on %s (store %s, host %s, guest timeout %d s, key max age %llds)",
		sock, uri, id, timeout, (long long)key_max_age);
	while (!stop_flag) {
		struct pollfd pfd[2] = { { .fd = lfd, .events = POLLIN },
					 { .fd = stop_pipe[0],
					   .events = POLLIN } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			accept_one(h, lfd);
	}
	log_info("shutting down");
	keyage_stop(keyage);
	keyage = NULL;
	metrics_stop(metrics);
	metrics = NULL;
	docker_api_stop(dapi);
	dapi = NULL;
	plugin_srv_stop(psrv);
	psrv = NULL;
	close(lfd);
	lfd = -1;
	unlink(sock);
	host_watch_stop(h);
	host_stop(h);
	wait_clients();
	rc = stop_flag ? 0 : 1;
out:
	keyage_stop(keyage);
	metrics_stop(metrics);
	docker_api_stop(dapi);
	plugin_srv_stop(psrv);
	if (lfd >= 0) {
		close(lfd);
		unlink(sock);
	}
	/* Client threads may still hold h if they did not finish. */
	pthread_mutex_lock(&clients_mu);
	if (h)
		host_watch_stop(h);
	if (!n_clients) {
		plugin_free(plug);
		host_free(h);
		if (st)
			st->ops->close(st);
	}
	pthread_mutex_unlock(&clients_mu);
	return rc;
}
