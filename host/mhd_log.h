/* SPDX-License-Identifier: GPL-2.0 */
/* libmicrohttpd's messages into wgnet's log (the Docker API, /metrics). */
#ifndef WGNET_HOST_MHD_LOG_H
#define WGNET_HOST_MHD_LOG_H

#include <stdarg.h>

/* An MHD_OPTION_EXTERNAL_LOGGER; cls is the server's name ("metrics"),
 * which prefixes each message: pass it as (void *)"name". */
void host_mhd_log(void *cls, const char *fmt, va_list ap);

#endif
