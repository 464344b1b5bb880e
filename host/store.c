// SPDX-License-Identifier: GPL-2.0
/* store_open(): pick the backend from the URI. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "etcd.h"
#include "wgnet/log.h"
#include "store.h"

bool store_uri_is_etcd(const char *uri)
{
	return uri && (!strncmp(uri, STORE_ETCD_TCP, strlen(STORE_ETCD_TCP)) ||
		       !strncmp(uri, STORE_ETCD_UNIX, strlen(STORE_ETCD_UNIX)));
}

struct store *store_open(const char *uri)
{
	const char *path = uri;

	if (!uri || !*uri) {
		errno = EINVAL;
		return NULL;
	}
	if (!strncmp(uri, "sqlite:", 7)) {
		path = uri + 7;
		/* "sqlite:///var/lib/x.db" as well as "sqlite:/var/lib/x.db" */
		if (!strncmp(path, "//", 2))
			path += 2;
	} else if (store_uri_is_etcd(uri)) {
		/* Here etcd must answer (ENOTCONN otherwise); wgnet-host uses
		 * store_etcd_open(), which waits for it instead. */
		return store_etcd_open_ex(uri, NULL, 0, true);
	} else if (strstr(uri, "://")) {
		log_err("store %s: unknown scheme", uri);
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	if (!*path) {
		errno = EINVAL;
		return NULL;
	}
	return store_sqlite_open(path);
}
