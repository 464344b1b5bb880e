// SPDX-License-Identifier: GPL-2.0
/* Network namespaces: open, run on the calling thread, sockets, sysctl. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wgnet/link.h"
#include "wgnet/log.h"

int netns_open(const char *path_or_name)
{
	char path[PATH_MAX];
	int fd;

	if (!path_or_name || !*path_or_name)
		return -EINVAL;
	if (path_or_name[0] == '/') {
		fd = open(path_or_name, O_RDONLY | O_CLOEXEC);
	} else {
		if (strchr(path_or_name, '/'))
			return -EINVAL;
		if (snprintf(path, sizeof(path), "/run/netns/%s",
			     path_or_name) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	return fd;
}

int netns_run(int netns_fd, int (*fn)(void *data), void *data)
{
	int self = -1, ret;

	if (netns_fd < 0 || !fn)
		return -EINVAL;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		log_err("setns: %s", strerror(-ret));
		goto out;
	}
	ret = fn(data);
	/* Always go back, whatever fn returned. */
	if (setns(self, CLONE_NEWNET) < 0) {
		int err = errno;

		log_err("setns back to the original namespace: %s",
			strerror(err));
		if (ret >= 0)
			ret = -err;
	}
out:
	close(self);
	return ret;
}

struct sock_args {
	int domain, type, protocol;
};

static int sock_in_ns(void *data)
{
	const struct sock_args *a = data;
	int fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);

	return fd < 0 ? -errno : fd;
}

int netns_socket(int netns_fd, int domain, int type, int protocol)
{
	struct sock_args a = { domain, type, protocol };

	if (netns_fd < 0)
		return sock_in_ns(&a);
	return netns_run(netns_fd, sock_in_ns, &a);
}

int sysctl_write(const char *path, const char *value)
{
	char full[PATH_MAX];
	size_t len = strlen(value), off = 0;
	int fd, ret = 0;
	ssize_t n;

	if (!path || path[0] == '/' || strstr(path, ".."))
		return -EINVAL;
	if (snprintf(full, sizeof(full), "/proc/sys/%s", path) >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_debug("open %s: %s", full, strerror(-ret));
		return ret;
	}
	while (off < len) {
		n = write(fd, value + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			log_err("write %s=%s: %s", full, value, strerror(-ret));
			goto out;
		}
		off += n;
	}
out:
	close(fd);
	return ret;
}
