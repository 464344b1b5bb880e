/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics of wgnet-host (docs/operations.md, "Metrics"):
 * metrics.c serves /metrics (libmicrohttpd) and refreshes a cache of the
 * guests' GetStatus in a thread of its own; metrics_render.c writes the
 * text exposition format; metrics_hist.c keeps the latency histograms.
 */
#ifndef WGNET_HOST_METRICS_H
#define WGNET_HOST_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct host;
struct metrics;

/* Latency histograms (process-wide, always on: an observation is a few
 * additions under a mutex). family: "op" for host ops, "store" for store
 * reads; name: the op's name (at most 63 characters, others are
 * dropped). */
void metrics_observe(const char *family, const char *name, double seconds);

/* A growing text buffer. */
struct mbuf {
	char *p;
	size_t len, cap;
	int err; /* -ENOMEM once an append failed */
};
void mbuf_printf(struct mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A label value, escaped as the text format wants (\\, \", \n). */
void mbuf_label(struct mbuf *b, const char *v);
/* All histograms of family as metric name (with HELP text). */
void metrics_hist_render(struct mbuf *b, const char *family, const char *metric,
			 const char *help, const char *label);

/* What the collector last saw: {"guests": {name: {"up": bool, "host":
 * bool, "status": GetStatus|null, "age": seconds since the last answer}},
 * "networks": {id: name}, "time": unix seconds, "duration": seconds}. */
void metrics_render(struct mbuf *b, json_t *snap);

/* metrics_keys.c: key rotations (trigger "manual" or "max_age") and
 * failures, process-wide; and their rendering. */
void metrics_key_rotated(const char *guest, const char *network,
			 const char *trigger);
void metrics_key_rotation_failed(const char *network, const char *trigger);
void metrics_keys_render_counters(struct mbuf *b);
/* wgnet_key_age_seconds from snap's "keys" [{"guest", "network" (name),
 * "created"}] at snap's "now" (else "time"). */
void metrics_keys_render_age(struct mbuf *b, json_t *snap);

/* ADDR: "127.0.0.1:PORT", "[::1]:PORT" (any loopback address) or
 * "unix:/path". interval_s: cache refresh period. */
int metrics_start(struct host *h, const char *addr, int interval_s,
		  struct metrics **out);
void metrics_stop(struct metrics *m);

#endif
