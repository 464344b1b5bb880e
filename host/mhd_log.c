// SPDX-License-Identifier: GPL-2.0
/* libmicrohttpd's messages into wgnet's log (host/mhd_log.h). */
#include <stdio.h>
#include <string.h>

#include "mhd_log.h"
#include "wgnet/log.h"

void host_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("%s (libmicrohttpd): %s", (const char *)cls, buf);
}
