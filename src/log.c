// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "wgnet/log.h"

int log_level = LOG_LVL_INFO;
const char *log_prog = "wgnet";

static const char *const lvl_names[] = { "error", "warn", "info", "debug" };

static void log_vmsg(int lvl, const char *fmt, va_list ap)
{
	struct timespec ts;
	char line[2048];
	int n;

	/* One write per line: threads never interleave inside a line. */
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%ld.%03ld %s[%s]: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000, log_prog, lvl_names[lvl]);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return;
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

void log_msg(int lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	int lvl = level == LIBBPF_WARN ? LOG_LVL_WARN :
		  level == LIBBPF_INFO ? LOG_LVL_DEBUG :
					 LOG_LVL_DEBUG + 1;
	char buf[1024];
	size_t n;

	if (lvl > log_level)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strnlen(buf, sizeof(buf));
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	log_msg(lvl, "libbpf: %s", buf);
	return 0;
}

void log_libbpf_init(void)
{
	libbpf_set_print(libbpf_print);
}
