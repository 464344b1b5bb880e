/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maximum key age (docs/operations.md, "Maximum key age"): a network
 * option or wgnet-host's default, and a timer that rotates the keys older
 * than it, one guest at a time, through the manual rotation's code
 * (host/rotate.c).
 */
#ifndef WGNET_HOST_KEYAGE_H
#define WGNET_HOST_KEYAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct host;
struct keyage;

#define KEYAGE_OPT "wgnet.key_max_age"
#define KEYAGE_MAX_S (3650LL * 86400) /* ten years */
#define KEYAGE_BACKOFF_MIN_S 5
#define KEYAGE_BACKOFF_MAX_S 300

/*
 * A duration: one or more NUMBER UNIT pairs ("90s", "30m", "24h", "7d",
 * "1h30m"), units s, m, h, d; a lone "0" is off. 0 in *secs or -EINVAL
 * (anything else, or more than KEYAGE_MAX_S).
 */
int keyage_parse(const char *s, int64_t *secs);
/* The network options' KEYAGE_OPT (JSON object text): *secs 0 when unset;
 * -EINVAL with a message in *em (if em) when it is not a duration. */
int keyage_option_text(const char *options, int64_t *secs, char **em);
/* n's maximum key age: its option, else the host's default (0 = off). */
int64_t keyage_max_age(const struct host *h, const struct st_network *n);

/* One guest's key on a network, as the timer sees it. */
struct keyage_cand {
	const char *guest;
	int64_t created; /* unix s, 0 = unknown (due at once) */
	int64_t retry_at; /* unix s: a failed rotation's backoff, 0 = none */
};

/*
 * When the key must be rotated: created + max_age, less a jitter of up to
 * a tenth of max_age (at most an hour) that is fixed per guest and network,
 * so that keys created together do not all come due in the same second.
 */
int64_t keyage_due_at(const char *guest, const char *network_id,
		      int64_t created, int64_t max_age);
/* The candidate to rotate now on network_id: due, not backing off, the
 * longest overdue (the first of equals); -1 if none. */
int keyage_pick(const struct keyage_cand *c, size_t n, const char *network_id,
		int64_t max_age, int64_t now);
/* Seconds to wait after the fails-th failure in a row (fails >= 1). */
int64_t keyage_backoff_s(unsigned int fails);

/* The timer thread (off if nothing sets a maximum: it then only looks). */
int keyage_start(struct host *h, struct keyage **out);
void keyage_stop(struct keyage *k);

/* rotate.c: rotate guest's key on n (trigger: "manual" or "max_age", the
 * metrics' label). 0 or -errno with a message. */
int rotate_guest_on_network(struct host *h, const struct st_network *n,
			    const char *guest, const char *trigger, char **em);

#endif
