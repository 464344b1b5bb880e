// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition format (version 0.0.4) of what the
 * collector saw (host/metrics.h). Every family is written once, with its
 * HELP and TYPE, and all of its samples together, as the format wants.
 */
#include <string.h>

#include "metrics.h"

/* The guest's GetStatus, or NULL. */
static json_t *status_of(json_t *g)
{
	json_t *s = json_object_get(g, "status");

	return json_is_object(s) ? s : NULL;
}

static void peer_labels(struct mbuf *b, const char *guest, const char *net,
			json_t *n, json_t *p)
{
	mbuf_printf(b, "{interface=\"");
	mbuf_label(b, json_string_value(json_object_get(n, "ifname")));
	mbuf_printf(b, "\",public_key=\"");
	mbuf_label(b, json_string_value(json_object_get(p, "public_key")));
	mbuf_printf(b, "\",guest=\"");
	mbuf_label(b, guest);
	mbuf_printf(b, "\",network=\"");
	mbuf_label(b, net);
	mbuf_printf(b, "\"}");
}

/* One sample per peer of every WireGuard interface of every guest: field
 * of the peer object. */
static void render_peers(struct mbuf *b, json_t *snap, const char *metric,
			 const char *type, const char *help, const char *field)
{
	json_t *guests = json_object_get(snap, "guests"), *g;
	json_t *names = json_object_get(snap, "networks");
	const char *gname;

	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric,
		    type);
	json_object_foreach(guests, gname, g) {
		json_t *nets = json_object_get(status_of(g), "networks"), *n;
		size_t i;

		json_array_foreach(nets, i, n) {
			const char *nid =
				json_string_value(json_object_get(n, "id"));
			const char *net = json_string_value(
				json_object_get(names, nid ? nid : ""));
			json_t *p;
			size_t j;

			if (!net)
				net = json_string_value(
					json_object_get(n, "name"));
			json_array_foreach(json_object_get(n, "peers"), j, p) {
				json_t *v = json_object_get(p, field);

				if (!json_is_integer(v))
					continue;
				mbuf_printf(b, "%s", metric);
				peer_labels(b, gname, net ? net : "", n, p);
				mbuf_printf(b, " %lld\n",
					    (long long)json_integer_value(v));
			}
		}
	}
}

/* wgnet_drops_total{guest,reason} / wgnet_forwarded_total{guest,kind}
 * from GetStatus' "drops" / "stats" objects. */
static void render_counters(struct mbuf *b, json_t *snap, const char *metric,
			    const char *help, const char *field,
			    const char *label)
{
	json_t *guests = json_object_get(snap, "guests"), *g, *v;
	const char *gname, *k;

	mbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", metric, help,
		    metric);
	json_object_foreach(guests, gname, g) {
		json_object_foreach(json_object_get(status_of(g), field), k,
				    v) {
			if (!json_is_integer(v))
				continue;
			mbuf_printf(b, "%s{guest=\"", metric);
			mbuf_label(b, gname);
			mbuf_printf(b, "\",%s=\"", label);
			mbuf_label(b, k);
			mbuf_printf(b, "\"} %lld\n",
				    (long long)json_integer_value(v));
		}
	}
}

/* Per guest: a number from the collector's guest object. */
static void render_guest_gauge(struct mbuf *b, json_t *snap, const char *metric,
			       const char *help, const char *field)
{
	json_t *guests = json_object_get(snap, "guests"), *g, *v;
	const char *gname;

	mbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
	json_object_foreach(guests, gname, g) {
		v = json_object_get(g, field);
		if (!json_is_number(v) && !json_is_boolean(v))
			continue;
		mbuf_printf(b, "%s{guest=\"", metric);
		mbuf_label(b, gname);
		mbuf_printf(b, "\"} %g\n",
			    json_is_boolean(v) ? (json_is_true(v) ? 1.0 : 0.0) :
						 json_number_value(v));
	}
}

static void render_states(struct mbuf *b, json_t *snap)
{
	static const char *const states[] = { "unknown", "up", "down", "dead" };
	json_t *guests = json_object_get(snap, "guests"), *g;
	long cnt[4] = { 0 };
	const char *gname;

	json_object_foreach(guests, gname, g) {
		json_int_t s = json_integer_value(json_object_get(g, "state"));

		if (s >= 0 && s < 4)
			cnt[s]++;
	}
	mbuf_printf(
		b, "# HELP wgnet_guests Guests served by this host, by state.\n"
		   "# TYPE wgnet_guests gauge\n");
	for (int i = 0; i < 4; i++)
		mbuf_printf(b, "wgnet_guests{state=\"%s\"} %ld\n", states[i],
			    cnt[i]);
}

void metrics_render(struct mbuf *b, json_t *snap)
{
	render_peers(b, snap, "wireguard_sent_bytes_total", "counter",
		     "Bytes sent to the peer.", "tx_bytes");
	render_peers(b, snap, "wireguard_received_bytes_total", "counter",
		     "Bytes received from the peer.", "rx_bytes");
	render_peers(
		b, snap, "wireguard_latest_handshake_seconds", "gauge",
		"Unix time of the latest handshake with the peer (0: never).",
		"latest_handshake");
	render_counters(b, snap, "wgnet_drops_total",
			"Packets dropped by the BPF programs, by reason.",
			"drops", "reason");
	render_counters(b, snap, "wgnet_forwarded_total",
			"Packets forwarded by the BPF programs, by kind.",
			"stats", "kind");
	render_states(b, snap);
	render_guest_gauge(b, snap, "wgnet_guest_up",
			   "1 if the guest answers (state up), else 0.", "up");
	render_guest_gauge(
		b, snap, "wgnet_guest_last_answer_age_seconds",
		"Seconds since the guest last answered a call (its last acknowledgement).",
		"age");
	render_guest_gauge(
		b, snap, "wgnet_guest_queue_depth",
		"Items queued or running in the guest's delivery worker.",
		"queue");
	render_guest_gauge(
		b, snap, "wgnet_guest_last_ack_age_seconds",
		"Seconds since the guest last acknowledged a generation (absent: never).",
		"ack_age");
	render_guest_gauge(
		b, snap, "wgnet_guest_degraded",
		"1 if the guest refused its isolation set (wgnet status: DEGRADED).",
		"degraded");
	render_guest_gauge(
		b, snap, "wgnet_guest_status_ok",
		"1 if the last GetStatus of the metrics collector succeeded.",
		"status_ok");
	metrics_keys_render_age(b, snap);
	metrics_keys_render_counters(b);
	metrics_hist_render(
		b, "op", "wgnet_host_op_duration_seconds",
		"Duration of wgnet-host ops (NetworkConnect is a connect).",
		"op");
	metrics_hist_render(
		b, "store", "wgnet_store_duration_seconds",
		"Duration of store reads made by the metrics collector.", "op");
	mbuf_printf(
		b,
		"# HELP wgnet_metrics_collect_duration_seconds Duration of the last refresh of the guests' status.\n"
		"# TYPE wgnet_metrics_collect_duration_seconds gauge\n"
		"wgnet_metrics_collect_duration_seconds %g\n"
		"# HELP wgnet_metrics_collect_timestamp_seconds Unix time of the last refresh (0: none yet).\n"
		"# TYPE wgnet_metrics_collect_timestamp_seconds gauge\n"
		"wgnet_metrics_collect_timestamp_seconds %lld\n",
		json_number_value(json_object_get(snap, "duration")),
		(long long)json_integer_value(json_object_get(snap, "time")));
}
