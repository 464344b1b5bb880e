/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WGNET_LOG_H
#define WGNET_LOG_H

enum { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int log_level;
extern const char *log_prog;

void log_msg(int lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Route libbpf's messages through log_msg(). */
void log_libbpf_init(void);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
