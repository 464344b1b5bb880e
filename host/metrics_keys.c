// SPDX-License-Identifier: GPL-2.0
/*
 * Key rotation metrics (docs/operations.md, "Maximum key age"): the
 * rotation counters, process-wide like the histograms (a few additions
 * under a mutex), and the key age gauge from the collector's snapshot.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#include "metrics.h"

#define MK_TRIGGER_LEN 16

struct mk_counter {
	char guest[ST_NAME_LEN]; /* "" for a failure (the whole network) */
	char network[ST_NAME_LEN];
	char trigger[MK_TRIGGER_LEN];
	unsigned long long n;
};

static pthread_mutex_t mk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mk_counter *mk_rot, *mk_fail;
static size_t mk_nrot, mk_nfail;

static void mk_add(struct mk_counter **arr, size_t *n, const char *guest,
		   const char *network, const char *trigger)
{
	struct mk_counter *c;

	if (strlen(guest) >= ST_NAME_LEN || strlen(network) >= ST_NAME_LEN ||
	    strlen(trigger) >= MK_TRIGGER_LEN)
		return;
	pthread_mutex_lock(&mk_mu);
	for (size_t i = 0; i < *n; i++) {
		c = &(*arr)[i];
		if (!strcmp(c->guest, guest) && !strcmp(c->network, network) &&
		    !strcmp(c->trigger, trigger)) {
			c->n++;
			goto out;
		}
	}
	c = realloc(*arr, (*n + 1) * sizeof(*c));
	if (!c)
		goto out;
	*arr = c;
	c = &c[(*n)++];
	memset(c, 0, sizeof(*c));
	strcpy(c->guest, guest);
	strcpy(c->network, network);
	strcpy(c->trigger, trigger);
	c->n = 1;
out:
	pthread_mutex_unlock(&mk_mu);
}

void metrics_key_rotated(const char *guest, const char *network,
			 const char *trigger)
{
	mk_add(&mk_rot, &mk_nrot, guest, network, trigger);
}

void metrics_key_rotation_failed(const char *network, const char *trigger)
{
	mk_add(&mk_fail, &mk_nfail, "", network, trigger);
}

static void render_counter(struct mbuf *b, const char *metric, const char *help,
			   const struct mk_counter *arr, size_t n, bool guest)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", metric, help,
		    metric);
	for (size_t i = 0; i < n; i++) {
		mbuf_printf(b, "%s{", metric);
		if (guest) {
			mbuf_printf(b, "guest=\"");
			mbuf_label(b, arr[i].guest);
			mbuf_printf(b, "\",");
		}
		mbuf_printf(b, "network=\"");
		mbuf_label(b, arr[i].network);
		mbuf_printf(b, "\",trigger=\"");
		mbuf_label(b, arr[i].trigger);
		mbuf_printf(b, "\"} %llu\n", arr[i].n);
	}
}

void metrics_keys_render_counters(struct mbuf *b)
{
	pthread_mutex_lock(&mk_mu);
	render_counter(
		b, "wgnet_key_rotations_total",
		"Keys rotated, by guest, network and trigger (manual or max_age).",
		mk_rot, mk_nrot, true);
	render_counter(
		b, "wgnet_key_rotation_failures_total",
		"Key rotations that failed (aborted: the old keys stay), by network and trigger.",
		mk_fail, mk_nfail, false);
	pthread_mutex_unlock(&mk_mu);
}

void metrics_keys_render_age(struct mbuf *b, json_t *snap)
{
	json_t *keys = json_object_get(snap, "keys"), *k;
	json_t *now = json_object_get(snap, "now");
	int64_t t =
		json_integer_value(now ? now : json_object_get(snap, "time"));
	size_t i;

	mbuf_printf(
		b,
		"# HELP wgnet_key_age_seconds Age of the guest's WireGuard key on the network (absent: unknown).\n"
		"# TYPE wgnet_key_age_seconds gauge\n");
	json_array_foreach(keys, i, k) {
		int64_t c = json_integer_value(json_object_get(k, "created"));
		const char *g = json_string_value(json_object_get(k, "guest"));
		const char *n =
			json_string_value(json_object_get(k, "network"));

		if (!c || !g || !n)
			continue;
		mbuf_printf(b, "wgnet_key_age_seconds{guest=\"");
		mbuf_label(b, g);
		mbuf_printf(b, "\",network=\"");
		mbuf_label(b, n);
		mbuf_printf(b, "\"} %lld\n", (long long)(t > c ? t - c : 0));
	}
}
