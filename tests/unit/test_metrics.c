// SPDX-License-Identifier: GPL-2.0
/* The /metrics text of a canned collector snapshot (host/metrics_render.c). */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/metrics.h"

void suite_metrics(void);

static const char snap_text[] =
	"{\"guests\":{\"g1\":{\"up\":true,\"state\":1,\"age\":0.5,"
	"\"status_ok\":true,\"status\":{"
	"\"networks\":[{\"id\":\"n1id\",\"name\":\"x\",\"ifname\":\"wg0\","
	"\"peers\":[{\"public_key\":\"K+/=\",\"rx_bytes\":10,\"tx_bytes\":20,"
	"\"latest_handshake\":1700000000}]}],"
	"\"drops\":{\"spoof\":3},\"stats\":{\"fwd_remote\":7}}},"
	"\"g2\":{\"up\":false,\"state\":2,\"age\":12}},"
	"\"networks\":{\"n1id\":\"net\\\"1\"},\"time\":5,\"duration\":0.25,"
	"\"now\":1000,\"keys\":[{\"guest\":\"g1\",\"network\":\"x\","
	"\"created\":940},{\"guest\":\"g2\",\"network\":\"x\",\"created\":0}]}";

static void test_render(void)
{
	json_t *snap = json_loads(snap_text, 0, NULL);
	struct mbuf b = { 0 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
	metrics_observe("op", "UnitTestOp", 0.003);
	metrics_observe("op", "UnitTestOp", 20);
	metrics_key_rotated("g1", "x", "max_age");
	metrics_key_rotated("g1", "x", "max_age");
	metrics_key_rotation_failed("x", "manual");
	metrics_render(&b, snap);
	mbuf_printf(&b, "%s", ""); /* NUL-terminated from here */
	CU_ASSERT_EQUAL_FATAL(b.err, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wireguard_sent_bytes_total{interface=\"wg0\",public_key=\"K+/=\",guest=\"g1\",network=\"net\\\"1\"} 20\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p, "wireguard_received_bytes_total{interface=\"wg0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "} 1700000000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p, "wgnet_drops_total{guest=\"g1\",reason=\"spoof\"} 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_forwarded_total{guest=\"g1\",kind=\"fwd_remote\"} 7\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "wgnet_guests{state=\"up\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "wgnet_guests{state=\"down\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "wgnet_guest_up{guest=\"g2\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p, "wgnet_guest_last_answer_age_seconds{guest=\"g2\"} 12\n"));
	/* Cumulative buckets: 3 ms is in le=0.005 and above; 20 s only +Inf. */
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_host_op_duration_seconds_bucket{op=\"UnitTestOp\",le=\"0.0025\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_host_op_duration_seconds_bucket{op=\"UnitTestOp\",le=\"10\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_host_op_duration_seconds_bucket{op=\"UnitTestOp\",le=\"+Inf\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_host_op_duration_seconds_count{op=\"UnitTestOp\"} 2\n"));
	/* Key ages against "now"; an unknown one is left out. */
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p, "wgnet_key_age_seconds{guest=\"g1\",network=\"x\"} 60\n"));
	CU_ASSERT_PTR_NULL(strstr(b.p, "wgnet_key_age_seconds{guest=\"g2\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_key_rotations_total{guest=\"g1\",network=\"x\",trigger=\"max_age\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(
		b.p,
		"wgnet_key_rotation_failures_total{network=\"x\",trigger=\"manual\"} 1\n"));
	/* Each family's TYPE line appears exactly once. */
	CU_ASSERT_PTR_NULL(strstr(strstr(b.p, "# TYPE wgnet_drops_total") + 1,
				  "# TYPE wgnet_drops_total"));
	free(b.p);
	json_decref(snap);
}

static void test_label_escape(void)
{
	struct mbuf b = { 0 };

	mbuf_label(&b, "a\\b\"c\nd");
	mbuf_printf(&b, "%s", "");
	CU_ASSERT_STRING_EQUAL(b.p, "a\\\\b\\\"c\\nd");
	free(b.p);
}

void suite_metrics(void)
{
	CU_pSuite s = CU_add_suite("metrics", NULL, NULL);

	CU_add_test(s, "render a snapshot", test_render);
	CU_add_test(s, "label escaping", test_label_escape);
}
