// SPDX-License-Identifier: GPL-2.0
/* The maximum key age's durations, network option and due selection
 * (host/keyage_due.c). */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/host.h"

#include "../../host/keyage.h"

void suite_keyage(void);

static int64_t parsed(const char *s)
{
	int64_t v = -1;

	return keyage_parse(s, &v) ? -1 : v;
}

static void test_parse(void)
{
	CU_ASSERT_EQUAL(parsed("0"), 0);
	CU_ASSERT_EQUAL(parsed("90s"), 90);
	CU_ASSERT_EQUAL(parsed("30m"), 1800);
	CU_ASSERT_EQUAL(parsed("24h"), 86400);
	CU_ASSERT_EQUAL(parsed("7d"), 7 * 86400);
	CU_ASSERT_EQUAL(parsed("1h30m"), 5400);
	CU_ASSERT_EQUAL(parsed("1d2h3m4s"), 86400 + 7200 + 180 + 4);
	CU_ASSERT_EQUAL(parsed("0s"), 0);
	CU_ASSERT_EQUAL(parsed("3650d"), KEYAGE_MAX_S);
	/* Bad: a clear -EINVAL, *secs 0. */
	static const char *const bad[] = {
		"",
		"90",
		"s",
		"-5s",
		"5x",
		"5 s",
		" 5s",
		"5s ",
		"1.5h",
		"h1",
		"3651d",
		"87601h",
		"99999999999999999999s",
		"5S",
		"5sec",
		"0x10s",
		"+5s",
		"1h-30m",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 7;

		CU_ASSERT_EQUAL(keyage_parse(bad[i], &v), -EINVAL);
		CU_ASSERT_EQUAL(v, 0);
	}
	CU_ASSERT_EQUAL(keyage_parse(NULL, &(int64_t){ 0 }), -EINVAL);
}

static void test_option(void)
{
	struct host h;
	struct st_network n;
	char *em = NULL;
	int64_t v;

	CU_ASSERT_EQUAL(keyage_option_text("{}", &v, NULL), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(keyage_option_text("", &v, NULL), 0);
	CU_ASSERT_EQUAL(keyage_option_text("{\"wgnet.key_max_age\":\"90s\"}",
					   &v, NULL),
			0);
	CU_ASSERT_EQUAL(v, 90);
	CU_ASSERT_EQUAL(keyage_option_text("{\"wgnet.key_max_age\":\"soon\"}",
					   &v, &em),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(em);
	CU_ASSERT_PTR_NOT_NULL(strstr(em, "wgnet.key_max_age"));
	CU_ASSERT_PTR_NOT_NULL(strstr(em, "\"soon\""));
	free(em);
	CU_ASSERT_EQUAL(keyage_option_text("{\"wgnet.key_max_age\":5}", &v,
					   NULL),
			-EINVAL);

	/* The network's option overrides the host's default, "0" too. */
	memset(&h, 0, sizeof(h));
	memset(&n, 0, sizeof(n));
	h.key_max_age_s = 3600;
	strcpy(n.options, "{}");
	CU_ASSERT_EQUAL(keyage_max_age(&h, &n), 3600);
	strcpy(n.options, "{\"wgnet.key_max_age\":\"10m\"}");
	CU_ASSERT_EQUAL(keyage_max_age(&h, &n), 600);
	strcpy(n.options, "{\"wgnet.key_max_age\":\"0\"}");
	CU_ASSERT_EQUAL(keyage_max_age(&h, &n), 0);
	h.key_max_age_s = 0;
	strcpy(n.options, "{}");
	CU_ASSERT_EQUAL(keyage_max_age(&h, &n), 0);
}

static void test_due(void)
{
	int64_t d;

	/* Unknown age: due at once. */
	CU_ASSERT_EQUAL(keyage_due_at("g", "n", 0, 100), 0);
	/* Within the last tenth of the maximum, never after it. */
	d = keyage_due_at("g", "n", 1000, 100);
	CU_ASSERT(d <= 1100 && d >= 1090);
	/* Small maxima: no room for jitter. */
	CU_ASSERT_EQUAL(keyage_due_at("g", "n", 1000, 6), 1006);
	/* The jitter is capped at an hour. */
	d = keyage_due_at("g", "n", 0 + 1, 30 * 86400);
	CU_ASSERT(d <= 1 + 30 * 86400 && d >= 1 + 30 * 86400 - 3600);
	/* Stable, and it spreads keys created together. */
	CU_ASSERT_EQUAL(keyage_due_at("g", "n", 1000, 86400),
			keyage_due_at("g", "n", 1000, 86400));
	{
		char name[16];
		int64_t first = 0;
		int distinct = 0;

		for (int i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "vm%d", i);
			d = keyage_due_at(name, "net", 1000, 86400);
			CU_ASSERT(d <= 1000 + 86400 &&
				  d >= 1000 + 86400 - 3600);
			if (!i)
				first = d;
			else if (d != first)
				distinct++;
		}
		CU_ASSERT(distinct >= 15);
	}
}

static void test_pick(void)
{
	struct keyage_cand c[4] = {
		{ .guest = "a", .created = 1000 },
		{ .guest = "b", .created = 990 },
		{ .guest = "c", .created = 995 },
		{ .guest = "d", .created = 1050 },
	};

	/* max 6 s: due at created + 6. Nothing due yet at 995. */
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 6, 995), -1);
	/* At 1001, b (996) and c (1001) are due: the older first. */
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 6, 1001), 1);
	/* b is backing off after a failure: c. */
	c[1].retry_at = 1010;
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 6, 1001), 2);
	/* Its backoff over, b again. */
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 6, 1010), 1);
	/* An unknown age is the most overdue. */
	c[3].created = 0;
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 6, 1010), 3);
	/* Off: nothing, whatever the ages. */
	CU_ASSERT_EQUAL(keyage_pick(c, 4, "n", 0, 5000), -1);
	CU_ASSERT_EQUAL(keyage_pick(c, 0, "n", 6, 5000), -1);
}

static void test_backoff(void)
{
	CU_ASSERT_EQUAL(keyage_backoff_s(1), KEYAGE_BACKOFF_MIN_S);
	CU_ASSERT_EQUAL(keyage_backoff_s(2), 2 * KEYAGE_BACKOFF_MIN_S);
	CU_ASSERT_EQUAL(keyage_backoff_s(3), 4 * KEYAGE_BACKOFF_MIN_S);
	CU_ASSERT_EQUAL(keyage_backoff_s(40), KEYAGE_BACKOFF_MAX_S);
	CU_ASSERT_EQUAL(keyage_backoff_s(4000000000U), KEYAGE_BACKOFF_MAX_S);
}

void suite_keyage(void)
{
	CU_pSuite s = CU_add_suite("keyage", NULL, NULL);

	CU_add_test(s, "duration parsing", test_parse);
	CU_add_test(s, "network option", test_option);
	CU_add_test(s, "due time and jitter", test_due);
	CU_add_test(s, "due selection", test_pick);
	CU_add_test(s, "backoff", test_backoff);
}
