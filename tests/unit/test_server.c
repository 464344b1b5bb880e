// SPDX-License-Identifier: GPL-2.0
/* The guest control server's peer checks and deadlines (guest/server.c).
 * vsock has no loopback transport here (docs PLATFORM.md), so the CID check
 * is tested on sockaddr_vm values; the unix peer check runs for real in
 * tests/netns/t-sec-control.sh with a process of another uid. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "../../guest/agent.h"
#include "../../guest/server.h"
#include "wgnet/proto.h"
#include "ut.h"

static struct sockaddr_vm vm(unsigned int cid)
{
	return (struct sockaddr_vm){ .svm_family = AF_VSOCK,
				     .svm_cid = cid,
				     .svm_port = 1234 };
}

static void test_vsock_peer(void)
{
	struct srv_opts o;
	struct sockaddr_vm a;

	srv_opts_default(&o);
	a = vm(VMADDR_CID_HOST);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), 0);
	/* another guest, the guest itself (loopback), the hypervisor, "any" */
	a = vm(3);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EPERM);
	a = vm(VMADDR_CID_LOCAL);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EPERM);
	a = vm(VMADDR_CID_HYPERVISOR);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EPERM);
	a = vm(VMADDR_CID_ANY);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EPERM);
	/* a short or foreign address is not a peer */
	a = vm(VMADDR_CID_HOST);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, 4), -EINVAL);
	a.svm_family = AF_UNIX;
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EINVAL);
	/* a configured list replaces the default */
	CU_ASSERT_EQUAL(srv_parse_cids(&o, "3,42"), 0);
	a = vm(42);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), 0);
	a = vm(VMADDR_CID_HOST);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), -EPERM);
	/* bad lists change nothing */
	CU_ASSERT_EQUAL(srv_parse_cids(&o, ""), -EINVAL);
	CU_ASSERT_EQUAL(srv_parse_cids(&o, "2,"), -EINVAL);
	CU_ASSERT_EQUAL(srv_parse_cids(&o, "x"), -EINVAL);
	CU_ASSERT_EQUAL(srv_parse_cids(&o, "-1"), -EINVAL);
	CU_ASSERT_EQUAL(srv_parse_cids(&o, "4294967295"), -EINVAL);
	CU_ASSERT_EQUAL(
		srv_parse_cids(&o, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"),
		-EINVAL);
	a = vm(42);
	CU_ASSERT_EQUAL(srv_vsock_peer_ok(&o, &a, sizeof(a)), 0);
}

static void test_unix_peer(void)
{
	struct srv_opts o;

	srv_opts_default(&o);
	CU_ASSERT_EQUAL(srv_unix_peer_ok(&o, 0), 0);
	CU_ASSERT_EQUAL(srv_unix_peer_ok(&o, 1000), -EPERM);
	CU_ASSERT_EQUAL(srv_unix_peer_ok(&o, 65534), -EPERM);
	CU_ASSERT_EQUAL(srv_parse_uids(&o, "1000,1001"), 0);
	CU_ASSERT_EQUAL(srv_unix_peer_ok(&o, 1001), 0);
	CU_ASSERT_EQUAL(srv_unix_peer_ok(&o, 65534), -EPERM);
	CU_ASSERT_EQUAL(srv_parse_uids(&o, "abc"), -EINVAL);
}

static uint64_t ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One loop iteration of the agent's poll loop, for the server alone. */
static void spin(struct srv *s, int max_ms)
{
	struct pollfd fds[SRV_MAX_CONNS + 2];
	int n = srv_pollfds(s, fds, SRV_MAX_CONNS + 2), t = srv_timeout_ms(s);

	if (t < 0 || t > max_ms)
		t = max_ms;
	if (n > 0 && poll(fds, (nfds_t)n, t) > 0)
		srv_handle(s, fds, (size_t)n);
	srv_tick(s);
}

static int dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A client trickling a request one byte at a time (well within any
 * per-read timeout) is cut off at the whole-message deadline, and while it
 * trickles, a second client's bad frame is answered at once: the server
 * never waits on one connection.
 */
static void test_deadline_and_fairness(void)
{
	static struct agent ag;
	char path[64], buf[256];
	struct srv_opts o;
	struct srv *s;
	uint8_t hdr[PROTO_HDR_LEN];
	int lfd, slow, fast, sent = 0;
	uint64_t t0, answered = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "/tmp/wgnet-%s-srv.sock", ut_prefix);
	lfd = srv_listen_unix(path);
	CU_ASSERT_TRUE_FATAL(lfd >= 0);
	srv_opts_default(&o);
	o.deadline_ms = 400;
	memset(&ag, 0, sizeof(ag));
	s = srv_new(&ag, &o, lfd, -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	slow = dial(path);
	CU_ASSERT_TRUE_FATAL(slow >= 0);
	proto_hdr_encode(hdr, PROTO_T_REQUEST, 100);
	t0 = ms();
	while (ms() - t0 < 1500 && ag.ctl.deadline_missed == 0) {
		if (sent < (int)sizeof(hdr) &&
		    (ms() - t0) / 50 >= (uint64_t)sent) {
			CU_ASSERT_EQUAL(write(slow, hdr + sent, 1), 1);
			sent++;
		}
		if (sent == 3 && !answered) {
			/* a reply-typed frame from another client: refused now */
			fast = dial(path);
			proto_hdr_encode(hdr, PROTO_T_REPLY, 7000000);
			CU_ASSERT_EQUAL(write(fast, hdr, sizeof(hdr)),
					(ssize_t)sizeof(hdr));
			proto_hdr_encode(hdr, PROTO_T_REQUEST, 100);
			for (int i = 0; i < 20 && !answered; i++) {
				struct pollfd p = { .fd = fast,
						    .events = POLLIN };

				spin(s, 10);
				if (poll(&p, 1, 0) > 0)
					answered = ms() - t0;
			}
			r = read(fast, buf, sizeof(buf));
			CU_ASSERT_TRUE(r > PROTO_HDR_LEN);
			if (r > PROTO_HDR_LEN) {
				buf[r] = '\0';
				CU_ASSERT_PTR_NOT_NULL(strstr(
					buf + PROTO_HDR_LEN, "\"ok\":false"));
			}
			close(fast);
		}
		spin(s, 10);
	}
	CU_ASSERT_TRUE(answered > 0 && answered < 400);
	CU_ASSERT_EQUAL(ag.ctl.deadline_missed, 1);
	CU_ASSERT_EQUAL(ag.ctl.bad_frames, 1);
	/* closed about the deadline after the first byte, not per read */
	CU_ASSERT_TRUE(ms() - t0 >= 400 && ms() - t0 < 1000);
	CU_ASSERT_EQUAL(read(slow, buf, sizeof(buf)), 0);
	close(slow);
	srv_free(s);
	close(lfd);
	unlink(path);
}

/*
 * State files are not fsynced (guest/state.c): one a machine crash left
 * half written dates from before the boot and is dropped (the host
 * replays a rebooted guest); one unreadable within this boot is real
 * damage and still stops the agent.
 */
static void test_state_unreadable(void)
{
	static struct agent ag;
	struct utimbuf y2k = { .actime = 946684800, .modtime = 946684800 };
	char dir[64], path[96];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/wgnet-%s-state", ut_prefix);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	memset(&ag, 0, sizeof(ag));
	snprintf(ag.state_dir, sizeof(ag.state_dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	CU_ASSERT_EQUAL(ag_state_load(&ag), -ENOENT);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"version\": 1, \"netw", f);
	fclose(f);
	CU_ASSERT_EQUAL(ag_state_load(&ag), -EBADMSG);
	CU_ASSERT_EQUAL(utime(path, &y2k), 0);
	CU_ASSERT_EQUAL(ag_state_load(&ag), -ENOENT);
	/* Written again, it loads. */
	CU_ASSERT_EQUAL(ag_state_save(&ag), 0);
	CU_ASSERT_EQUAL(ag_state_load(&ag), 0);
	json_decref(ag.ctrl);
	json_decref(ag.isolate);
	unlink(path);
	rmdir(dir);
}

void suite_server(void)
{
	CU_pSuite s = CU_add_suite("guest control server", NULL, NULL);

	CU_add_test(s, "vsock peer check on sockaddr_vm values",
		    test_vsock_peer);
	CU_add_test(s, "unix peer check by uid", test_unix_peer);
	CU_add_test(s, "state file unreadable: before this boot or not",
		    test_state_unreadable);
	CU_add_test(s, "whole-message deadline, other clients served meanwhile",
		    test_deadline_and_fairness);
}
