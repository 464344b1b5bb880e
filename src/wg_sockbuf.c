// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace backend: the UDP socket buffers of wireguard-go.
 *
 * wireguard-go 0.0.20220316 (Debian 12's) sets no socket buffer size, so its
 * UDP sockets get net.core.rmem_default (208 KiB, about 90 full-size
 * packets). Under load the receiving side's socket overflows
 * (UdpRcvbufErrors), and every overflow is a TCP retransmission of the
 * tunnelled flow; see docs/perf.md, "cross-guest anatomy". wireguard-go
 * itself sets 7 MiB with SO_RCVBUFFORCE/SO_SNDBUFFORCE since early 2023;
 * we give this one the same.
 *
 * The sockets are wireguard-go's, so we set the option on them from outside:
 * find the daemon that holds the interface's TUN (its /proc fdinfo names the
 * interface, "iff:"), take a copy of each of its inet datagram sockets with
 * pidfd_getfd(2), set the options on the copy (the same socket) and close
 * it. Per socket: nothing host-wide (net.core.rmem_max) is touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "wgnet/log.h"
#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

/* 1 if /proc/<pid>/fdinfo/<fd> is a TUN attached to ifname. */
static int fd_is_tun_of(const char *pid, const char *fd, const char *ifname)
{
	char path[600], want[32], buf[512];
	ssize_t n;
	int ffd;

	snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fd);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strcmp(buf, "/dev/net/tun"))
		return 0;
	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	ffd = open(path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0)
		return 0;
	n = read(ffd, buf, sizeof(buf) - 1);
	close(ffd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "\niff:\t%s\n", ifname);
	return strstr(buf, want) != NULL;
}

/* 1 if process pid (a /proc entry name) holds the TUN of ifname. */
static int pid_holds_tun(const char *pid, const char *ifname)
{
	char path[320];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		if (de->d_name[0] != '.')
			found = fd_is_tun_of(pid, de->d_name, ifname);
	closedir(d);
	return found;
}

/* The pid of the process in our network namespace whose command is comm and
 * that holds the TUN of ifname; 0 if none. */
static pid_t tun_owner(const char *comm, const char *ifname)
{
	char path[320], c[32];
	struct stat self, st;
	struct dirent *de;
	pid_t found = 0;
	ssize_t n;
	DIR *d;
	int fd;

	if (stat("/proc/self/ns/net", &self) < 0)
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, c, sizeof(c) - 1);
		close(fd);
		if (n <= 0)
			continue;
		c[n] = '\0';
		c[strcspn(c, "\n")] = '\0';
		if (strcmp(c, comm))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st) < 0 || st.st_ino != self.st_ino ||
		    st.st_dev != self.st_dev)
			continue;
		if (pid_holds_tun(de->d_name, ifname))
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* Set the buffers on one socket copy if it is an inet datagram socket:
 * 1 if set, 0 if not such a socket, -errno. */
static int tune_one(int sfd, int bytes)
{
	int dom = 0, type = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0)
		return 0;
	len = sizeof(int);
	if (getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return 0;
	if ((dom != AF_INET && dom != AF_INET6) || type != SOCK_DGRAM)
		return 0;
	if (setsockopt(sfd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) <
		    0 ||
	    setsockopt(sfd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) <
		    0)
		return -errno;
	return 1;
}

/* Tune every inet datagram socket of pid; the count, or -errno. */
static int tune_pid(pid_t pid, int bytes)
{
	char path[320], link[64];
	struct dirent *de;
	int pfd, sfd, n = 0, ret = 0, r;
	ssize_t l;
	DIR *d;

	pfd = pidfd_open(pid, 0);
	if (pfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		ret = -errno;
		goto out;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
			 de->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (strncmp(link, "socket:", 7))
			continue;
		sfd = pidfd_getfd(pfd, atoi(de->d_name), 0);
		if (sfd < 0) {
			ret = -errno;
			break;
		}
		r = tune_one(sfd, bytes);
		close(sfd);
		if (r < 0) {
			ret = r;
			break;
		}
		n += r;
	}
	closedir(d);
out:
	close(pfd);
	return ret ? ret : n;
}

int wgu_sockbuf_set(const char *comm, const char *ifname, int bytes)
{
	pid_t pid;

	if (wg_ifname_valid(ifname) || !comm || !*comm || bytes <= 0)
		return -EINVAL;
	pid = tun_owner(comm, ifname);
	if (!pid)
		return -ESRCH;
	return tune_pid(pid, bytes);
}
