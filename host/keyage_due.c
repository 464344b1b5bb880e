// SPDX-License-Identifier: GPL-2.0
/*
 * The maximum key age's pure parts (host/keyage.h): durations, the network
 * option, and which key is due. No I/O: unit-tested as they are.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#include "keyage.h"

static int64_t unit_s(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	default:
		return 0;
	}
}

int keyage_parse(const char *s, int64_t *secs)
{
	int64_t total = 0;

	*secs = 0;
	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "0"))
		return 0;
	while (*s) {
		int64_t v = 0, u;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (*s++ - '0');
			if (v > KEYAGE_MAX_S)
				return -EINVAL;
		}
		u = unit_s(*s++);
		if (!u || v > KEYAGE_MAX_S / u)
			return -EINVAL;
		total += v * u;
		if (total > KEYAGE_MAX_S)
			return -EINVAL;
	}
	*secs = total;
	return 0;
}

int keyage_option_text(const char *options, int64_t *secs, char **em)
{
	json_t *o = json_loads(options[0] ? options : "{}", 0, NULL);
	json_t *v = json_object_get(o, KEYAGE_OPT);
	int rc = 0;

	*secs = 0;
	if (!o)
		return host_err(em, -EINVAL, "network options are not JSON");
	if (v &&
	    (!json_is_string(v) || keyage_parse(json_string_value(v), secs)))
		rc = host_err(
			em, -EINVAL,
			"invalid %s \"%s\": a duration such as 90s, 30m, 24h, 7d or 1h30m (0 = off, at most 3650d)",
			KEYAGE_OPT,
			json_is_string(v) ? json_string_value(v) : "?");
	json_decref(o);
	return rc;
}

int64_t keyage_max_age(const struct host *h, const struct st_network *n)
{
	json_t *o = json_loads(n->options[0] ? n->options : "{}", 0, NULL);
	json_t *v = json_object_get(o, KEYAGE_OPT);
	int64_t s = 0;

	/* Validated at create; a bad value in the store counts as unset. */
	if (!json_is_string(v) || keyage_parse(json_string_value(v), &s))
		s = h->key_max_age_s;
	json_decref(o);
	return s;
}

/* FNV-1a of guest and network: the same jitter on every host and run. */
static uint64_t pair_hash(const char *guest, const char *network_id)
{
	uint64_t x = 1469598103934665603ULL;
	const char *parts[2] = { guest, network_id };

	for (int i = 0; i < 2; i++) {
		for (const char *p = parts[i]; *p; p++) {
			x ^= (unsigned char)*p;
			x *= 1099511628211ULL;
		}
		x ^= 0xff;
		x *= 1099511628211ULL;
	}
	return x;
}

int64_t keyage_due_at(const char *guest, const char *network_id,
		      int64_t created, int64_t max_age)
{
	int64_t span = max_age / 10;

	if (!created)
		return 0;
	if (span > 3600)
		span = 3600;
	return created + max_age -
	       (int64_t)(pair_hash(guest, network_id) % (uint64_t)(span + 1));
}

int keyage_pick(const struct keyage_cand *c, size_t n, const char *network_id,
		int64_t max_age, int64_t now)
{
	int best = -1;
	int64_t best_due = 0;

	if (max_age <= 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t due = keyage_due_at(c[i].guest, network_id,
					    c[i].created, max_age);

		if (due > now || c[i].retry_at > now)
			continue;
		if (best < 0 || due < best_due) {
			best = (int)i;
			best_due = due;
		}
	}
	return best;
}

int64_t keyage_backoff_s(unsigned int fails)
{
	int64_t s = KEYAGE_BACKOFF_MIN_S;

	while (fails-- > 1 && s < KEYAGE_BACKOFF_MAX_S)
		s *= 2;
	return s < KEYAGE_BACKOFF_MAX_S ? s : KEYAGE_BACKOFF_MAX_S;
}
