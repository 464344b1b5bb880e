// SPDX-License-Identifier: GPL-2.0
/*
 * wgnet-guest: the agent in each guest. Serves the control protocol,
 * manages WireGuard interfaces, veths, BPF maps, nftables and the
 * containers' DNS. Leaves the data path in place when it exits: a restarted
 * agent adopts what it finds.
 *
 *   wgnet-guest [options]                 run the agent
 *   wgnet-guest call [-s SOCK] OP [JSON]  one control call, reply on stdout
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "serial.h"
#include "server.h"
#include "wgnet/dns.h"
#include "wgnet/dp.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

#define DEFAULT_SOCK "/run/wgnet/guest.sock"
#define VSOCK_PORT 51820

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wgnet-guest [options]\n"
		"  -n, --name NAME          guest name (default: hostname)\n"
		"  -s, --socket PATH        control socket (default " DEFAULT_SOCK ")\n"
		"      --vsock-port PORT    AF_VSOCK port, 0 = off (default 51820)\n"
		"      --vsock-allow CIDS   vsock peers allowed, comma-separated (default 2,\n"
		"                           the host); others are refused before a byte is read\n"
		"      --control-uid UIDS   unix-socket peers allowed besides uid 0 (SO_PEERCRED)\n"
		"      --serial PATH        also serve a virtio-serial port\n"
		"      --map-dests N        BPF map sizes (max entries): addresses (default 65536),\n"
		"      --map-subnets N      subnets (1024), control-plane prefixes (1024),\n"
		"      --map-ctrl N         interfaces (4096), published ports (4096);\n"
		"      --map-ifaces N       pinned maps of another size are not reused\n"
		"      --map-ports N\n"
		"      --state-dir DIR      state and keys (default /var/lib/wgnet-guest)\n"
		"      --pin-dir DIR        BPF pin directory (default /sys/fs/bpf/wgnet)\n"
		"      --wg-backend B       auto | kernel | userspace (default auto)\n"
		"      --wg-prefix P        WireGuard interface prefix (default wg)\n"
		"      --underlay IF        underlay interface (default: the default route's)\n"
		"      --nft-table NAME     nftables table (default wgnet)\n"
		"      --upstream-dns IP|none  resolver for other names (default: from\n"
		"                           /etc/resolv.conf; none: no forwarding)\n"
		"  -v, --verbose            debug logging\n"
		"       wgnet-guest call [-s SOCK] [-t MS] OP [JSON-ARGS]\n"
		"       wgnet-guest tune IFNAME   raise the socket buffers of the\n"
		"                           wireguard-go of IFNAME, as the agent does\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[AG_PATH_LEN];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* wgnet-guest tune IFNAME: what the agent does to its own wireguard-go
 * interfaces (src/wg_sockbuf.c), for one started by someone else (the
 * bench's bare tunnel gets the same buffers as wgnet's). */
static int cmd_tune(int argc, char **argv)
{
	int ret;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	ret = wg_userspace_backend.tune(argv[1]);
	if (ret < 0) {
		fprintf(stderr, "Error: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	if (ret == 0) {
		fprintf(stderr, "Error: %s: no wireguard-go socket found\n",
			argv[1]);
		return 1;
	}
	printf("%s: %d socket(s)\n", argv[1], ret);
	return 0;
}

static int cmd_call(int argc, char **argv)
{
	const char *sock = DEFAULT_SOCK;
	json_t *args = NULL, *res = NULL;
	json_error_t jerr;
	char *msg = NULL, *out;
	int timeout = 10000, opt, err;
	char addr[AG_PATH_LEN + 8];

	optind = 1;
	while ((opt = getopt(argc, argv, "+s:t:")) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 't')
			timeout = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (optind + 1 < argc) {
		args = json_loads(argv[optind + 1], 0, &jerr);
		if (!args) {
			fprintf(stderr, "Error: JSON arguments: %s\n", jerr.text);
			return 2;
		}
	}
	snprintf(addr, sizeof(addr), "%s%s", strchr(sock, ':') ? "" : "unix:", sock);
	err = proto_call(addr, timeout, argv[optind], args, &res, &msg);
	json_decref(args);
	if (err) {
		fprintf(stderr, "Error: %s\n", msg ? msg : strerror(-err));
		free(msg);
		return 1;
	}
	out = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", out ? out : "{}");
	free(out);
	json_decref(res);
	return 0;
}

static void upstream_from_resolv(struct ip_addr *out)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256], addr[128];

	memset(out, 0, sizeof(*out));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %127s", addr) != 1)
			continue;
		if (!strcmp(addr, "127.0.0.11") || ip_parse(addr, out))
			continue;
		break;
	}
	fclose(f);
}

static int underlay_init(struct agent *ag)
{
	int idx = -1, err;

	if (ag->underlay_if[0])
		idx = link_index(ag->nl, ag->underlay_if);
	else {
		idx = route_default_ifindex(ag->nl);
		if (idx <= 0)
			idx = link_index(ag->nl, "eth0");
		if (idx > 0)
			link_name(ag->nl, idx, ag->underlay_if);
	}
	if (idx <= 0) {
		log_err("no underlay interface (%s): give --underlay",
			ag->underlay_if[0] ? ag->underlay_if : "no default route, no eth0");
		return -ENODEV;
	}
	ag->underlay_ifindex = idx;
	err = addr_get_v4(ag->nl, idx, &ag->underlay);
	if (err) {
		log_err("underlay %s has no IPv4 address", ag->underlay_if);
		return err;
	}
	if (link_get_mtu(ag->nl, idx, &ag->underlay_mtu) || !ag->underlay_mtu)
		ag->underlay_mtu = 1500;
	return 0;
}

/* A random id for this run of the agent: the host tells a restart by it. */
static int boot_id(char out[33])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -errno;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* The poll set grows with what is watched: no fixed number of slots. */
static struct pollfd *poll_room(struct pollfd **fds, size_t *cap, size_t need)
{
	struct pollfd *p;
	size_t cap2 = *cap ? *cap : 64;

	if (need <= *cap)
		return *fds;
	while (cap2 < need)
		cap2 *= 2;
	p = realloc(*fds, cap2 * sizeof(*p));
	if (!p)
		return NULL;
	*fds = p;
	*cap = cap2;
	return p;
}

/* Two DNS sockets per container, forwards and TCP connections on top: the
 * default soft limit of 1024 descriptors ends near 400 containers. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("cannot raise the descriptor limit: %s", strerror(errno));
}

static int run(struct agent *ag, const char *sock, unsigned int vsock_port,
	       const struct srv_opts *so, const struct ip_addr *upstream,
	       struct serial *ser)
{
	struct pollfd *fds = NULL;
	size_t cap = 0;
	struct srv *srv = NULL;
	int lfd = -1, vfd = -1, sidx = -1, err;
	time_t last_check = 0;

	err = boot_id(ag->boot);
	if (err)
		return err;
	err = ag_state_load(ag);
	if (err && err != -ENOENT)
		return err;
	err = ag_hub_setup(ag);
	/* A full map is not a reason to stop serving: what did not fit is
	 * dropped by the nftables backstop, counted in dp_errors and shown
	 * by `wgnet status`. Anything else (no data plane) is. */
	if (err && ag->dp && (err == -ENOSPC || err == -E2BIG))
		log_warn("hub set-up: %s; serving anyway (see GetStatus dp_errors)",
			 strerror(-err));
	else if (err)
		return err;
	ag->dns = dns_server_new(upstream, 53);
	if (!ag->dns)
		log_warn("no DNS server: %s", strerror(errno));
	ag_adopt(ag);
	err = ag_remove_orphans(ag);
	if (err)
		log_warn("removed %d guest-side interfaces no endpoint owned", err);
	err = 0;
	ag_nft_sync(ag);
	ag_state_save(ag);

	lfd = srv_listen_unix(sock);
	if (lfd < 0) {
		log_err("cannot listen on %s: %s", sock, strerror(-lfd));
		return lfd;
	}
	if (vsock_port) {
		vfd = srv_listen_vsock(vsock_port);
		if (vfd < 0) {
			log_debug("no AF_VSOCK listener: %s", strerror(-vfd));
			vfd = -1;
		}
	}
	srv = srv_new(ag, so, lfd, vfd);
	if (!srv) {
		close(lfd);
		if (vfd >= 0)
			close(vfd);
		return -ENOMEM;
	}
	log_info("guest %s ready on %s%s (backend %s, underlay %s, boot %s)",
		 ag->name, sock, vfd >= 0 ? " and vsock" : "", ag->wg->name,
		 ag->underlay_if, ag->boot);
	while (!stop) {
		size_t n = 0, nsrv, need;
		int timeout = 1000, t, r;

		need = srv_nfds(srv) + 1 + (ag->dns ? dns_server_nfds(ag->dns) : 0);
		if (!poll_room(&fds, &cap, need)) {
			log_err("poll set of %zu: %s", need, strerror(ENOMEM));
			err = -ENOMEM;
			break;
		}
		r = srv_pollfds(srv, fds, cap);
		nsrv = r > 0 ? (size_t)r : 0;
		n = nsrv;
		t = srv_timeout_ms(srv);
		if (t >= 0 && t < timeout)
			timeout = t;
		if (ser) {
			sidx = (int)n;
			fds[n++] = (struct pollfd){ .fd = serial_fd(ser),
						    .events = POLLIN };
		}
		if (ag->dns) {
			r = dns_server_pollfds(ag->dns, fds + n, cap - n);
			if (r > 0)
				n += (size_t)r;
			t = dns_server_timeout_ms(ag->dns);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		t = ag_state_flush_ms(ag);
		if (t >= 0 && t < timeout)
			timeout = t;
		r = poll(fds, n, timeout);
		if (r < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (r > 0) {
			/* DNS first: queries never wait behind control work. */
			if (ag->dns)
				dns_server_handle(ag->dns, fds + nsrv, n - nsrv);
			srv_handle(srv, fds, nsrv);
			if (ser && fds[sidx].revents)
				serial_handle(ag, ser);
		}
		srv_tick(srv);
		if (ag->dns)
			dns_server_tick(ag->dns);
		/* Debounced persistence (quiet 20 ms, or at most 200 ms late). */
		ag_state_flush(ag, false);
		if (time(NULL) != last_check) {
			last_check = time(NULL);
			ag_check_links(ag);
		}
	}
	ag_state_flush(ag, true);
	log_info("guest %s stopping; the data path stays in place", ag->name);
	srv_free(srv);
	free(fds);
	close(lfd);
	unlink(sock);
	if (vfd >= 0)
		close(vfd);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "vsock-port", required_argument, NULL, 1 },
		{ "state-dir", required_argument, NULL, 2 },
		{ "pin-dir", required_argument, NULL, 3 },
		{ "wg-backend", required_argument, NULL, 4 },
		{ "wg-prefix", required_argument, NULL, 5 },
		{ "underlay", required_argument, NULL, 6 },
		{ "nft-table", required_argument, NULL, 7 },
		{ "upstream-dns", required_argument, NULL, 8 },
		{ "serial", required_argument, NULL, 9 },
		{ "vsock-allow", required_argument, NULL, 10 },
		{ "control-uid", required_argument, NULL, 11 },
		{ "map-dests", required_argument, NULL, 12 },
		{ "map-subnets", required_argument, NULL, 13 },
		{ "map-ifaces", required_argument, NULL, 14 },
		{ "map-ports", required_argument, NULL, 15 },
		{ "map-ctrl", required_argument, NULL, 16 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct agent ag; /* large: keep it off the stack */
	const char *sock = DEFAULT_SOCK, *backend = "auto", *serial_path = NULL;
	struct serial *ser = NULL;
	struct srv_opts so;
	unsigned int vsock_port = VSOCK_PORT;
	struct ip_addr upstream;
	bool upstream_set = false;
	char sockdir[AG_PATH_LEN];
	int opt, err;

	log_prog = "wgnet-guest";
	if (argc > 1 && !strcmp(argv[1], "call"))
		return cmd_call(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "tune"))
		return cmd_tune(argc - 1, argv + 1);
	snprintf(ag.state_dir, sizeof(ag.state_dir), "/var/lib/wgnet-guest");
	snprintf(ag.pin_dir, sizeof(ag.pin_dir), "/sys/fs/bpf/wgnet");
	snprintf(ag.wg_prefix, sizeof(ag.wg_prefix), "wg");
	snprintf(ag.nft_table, sizeof(ag.nft_table), "wgnet");
	gethostname(ag.name, sizeof(ag.name) - 1);
	srv_opts_default(&so);
	while ((opt = getopt_long(argc, argv, "n:s:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			snprintf(ag.name, sizeof(ag.name), "%s", optarg);
			break;
		case 's':
			sock = optarg;
			break;
		case 1:
			vsock_port = (unsigned int)atoi(optarg);
			break;
		case 2:
			snprintf(ag.state_dir, sizeof(ag.state_dir), "%s", optarg);
			break;
		case 3:
			snprintf(ag.pin_dir, sizeof(ag.pin_dir), "%s", optarg);
			break;
		case 4:
			backend = optarg;
			break;
		case 5:
			if (strlen(optarg) > 10) {
				fprintf(stderr, "Error: --wg-prefix is at most 10 characters\n");
				return 2;
			}
			snprintf(ag.wg_prefix, sizeof(ag.wg_prefix), "%s", optarg);
			break;
		case 6:
			snprintf(ag.underlay_if, sizeof(ag.underlay_if), "%s", optarg);
			break;
		case 7:
			snprintf(ag.nft_table, sizeof(ag.nft_table), "%s", optarg);
			break;
		case 8:
			/* "none": no upstream (names not ours: NXDOMAIN/SERVFAIL) */
			if (!strcmp(optarg, "none"))
				memset(&upstream, 0, sizeof(upstream));
			else if (ip_parse(optarg, &upstream)) {
				fprintf(stderr, "Error: --upstream-dns: not an IP address: %s\n", optarg);
				return 2;
			}
			upstream_set = true;
			break;
		case 9:
			serial_path = optarg;
			break;
		case 10:
			if (srv_parse_cids(&so, optarg)) {
				fprintf(stderr, "Error: --vsock-allow: not a list of CIDs: %s\n", optarg);
				return 2;
			}
			break;
		case 12:
		case 13:
		case 14:
		case 15:
		case 16: {
			uint32_t *dst[] = { &ag.lim.dests, &ag.lim.subnets,
					    &ag.lim.ifaces, &ag.lim.ports, &ag.lim.ctrl };
			static const char *const what[] = { "--map-dests", "--map-subnets",
							    "--map-ifaces", "--map-ports",
							    "--map-ctrl" };
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || v < 1 || v > (1UL << 24)) {
				fprintf(stderr, "Error: %s: a map size is 1 to 16777216: %s\n",
					what[opt - 12], optarg);
				return 2;
			}
			*dst[opt - 12] = (uint32_t)v;
			break;
		}
		case 11:
			if (srv_parse_uids(&so, optarg)) {
				fprintf(stderr, "Error: --control-uid: not a list of uids: %s\n", optarg);
				return 2;
			}
			break;
		case 'v':
			log_level = LOG_LVL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!upstream_set)
		upstream_from_resolv(&upstream);
	log_libbpf_init();
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ag.wg = wg_backend_open(backend);
	if (!ag.wg) {
		fprintf(stderr, "Error: WireGuard backend %s: %s\n", backend, strerror(errno));
		return 1;
	}
	snprintf(sockdir, sizeof(sockdir), "%s", sock);
	if (strrchr(sockdir, '/'))
		*strrchr(sockdir, '/') = '\0';
	if ((sockdir[0] && mkdir_p(sockdir, 0755)) ||
	    mkdir_p(ag.state_dir, 0700)) {
		fprintf(stderr, "Error: cannot create %s or %s\n", sockdir, ag.state_dir);
		return 1;
	}
	{
		char kdir[AG_PATH_LEN + 8];

		snprintf(kdir, sizeof(kdir), "%s/keys", ag.state_dir);
		mkdir_p(kdir, 0700);
		chmod(kdir, 0700);
	}
	ag.nl = rtnl_open(-1);
	if (!ag.nl) {
		fprintf(stderr, "Error: rtnetlink: %s\n", strerror(errno));
		return 1;
	}
	if (serial_path) {
		ser = serial_open(serial_path);
		if (!ser) {
			fprintf(stderr, "Error: --serial %s: %s\n", serial_path, strerror(errno));
			return 1;
		}
	}
	err = underlay_init(&ag);
	if (!err)
		err = run(&ag, sock, vsock_port, &so, &upstream, ser);
	serial_free(ser);
	dns_server_free(ag.dns);
	json_decref(ag.dns_nets);
	dp_close(ag.dp);
	rtnl_close(ag.nl);
	for (int i = 0; i < AG_MAX_NETS; i++)
		ag_net_clear(&ag.nets[i]);
	for (int i = 0; i < AG_MAX_CTRS; i++)
		ag_ctr_clear(&ag.ctrs[i]);
	json_decref(ag.ctrl);
	json_decref(ag.isolate);
	return err ? 1 : 0;
}
