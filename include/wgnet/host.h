/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wgnet-host internals shared by host/main.c, api.c, mesh.c, guestc.c,
 * netjson.c, the CLI and the Docker Engine API module.
 *
 * Locking: h->mu serialises every use of the store and every state change
 * (host ops, replays, dead guests). Calls to one guest are serialised by that
 * guest's call_mu; calls to different guests run in parallel. Nobody takes
 * h->mu while holding a call_mu, so the two never deadlock. h->rt_mu guards
 * the runtime fields of the guest list and is never held across I/O.
 */
#ifndef WGNET_HOST_H
#define WGNET_HOST_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wgnet/store.h"

#define HOST_DEFAULT_SOCK "/run/wgnet/host.sock"
#define HOST_DEFAULT_STORE "sqlite:/var/lib/wgnet/state.db"
#define HOST_CALL_TIMEOUT_MS 3000 /* one guest call: connect+send+recv */
#define HOST_PUSH_TIMEOUT_MS 2000 /* fan-out pushes to other guests */
#define HOST_PROBE_TIMEOUT_MS 2000 /* liveness Hello */
#define HOST_TICK_MS 1000
#define HOST_BACKOFF_MIN_MS 500
#define HOST_BACKOFF_MAX_MS 10000
#define HOST_AUDIT_MS 10000 /* GetStatus check of UP guests */

/* Runtime view of one guest (not persisted except state/last_seen). */
struct host_grt {
	char name[ST_NAME_LEN];
	pthread_mutex_t call_mu;
	int state; /* ST_GUEST_* */
	bool replay; /* replay the full desired state on the next success */
	bool busy; /* a reconciler worker is on it */
	int64_t last_ok_ms; /* monotonic: last answer (or host start) */
	int64_t last_seen; /* unix seconds of the last answer, 0 = never */
	int64_t next_ms; /* monotonic: next liveness probe */
	int64_t next_audit_ms;
	int backoff_ms;
	struct host_grt *next;
};

struct host {
	struct store *st;
	char id[ST_NAME_LEN];
	int guest_timeout_ms;
	int call_timeout_ms;
	pthread_mutex_t mu;
	pthread_mutex_t rt_mu;
	struct host_grt *grt;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
	bool started;
	pthread_t reconciler;
	char store_uri[ST_PATH_LEN]; /* for "store unreachable: …" */
	/* --ctrl-prefix: more control-plane prefixes for every guest (e.g.
	 * other machines' underlays), text CIDRs; owned by the caller. */
	const char *const *ctrl_cfg;
	size_t n_ctrl_cfg;
};

/* api.c */
struct host *host_new(struct store *st, const char *id, int guest_timeout_s);
/* Stops the reconciler; does not close the store. NULL is a no-op. */
void host_free(struct host *h);
int host_start(struct host *h);
void host_stop(struct host *h);
/*
 * Run one host op. args may be NULL. Returns 0 with *result (new reference)
 * or -errno with *errmsg (malloc'd, one line).
 */
int host_dispatch(struct host *h, const char *op, json_t *args, json_t **result,
		  char **errmsg);
/* A whole request object → the reply object (never NULL). */
json_t *host_handle(struct host *h, json_t *req);
/* Serve one request on a connected socket, then return (caller closes). */
void host_serve_fd(struct host *h, int fd);
/* Sets *errmsg (if errmsg) and returns rc. */
int host_err(char **errmsg, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters. */
bool host_name_valid(const char *s);
int64_t host_now_ms(void); /* CLOCK_MONOTONIC */
/* Container removal with h->mu held: detach everywhere, drop ports, delete. */
int host_container_remove_locked(struct host *h, const struct st_container *c,
				 char **errmsg);

/* guestc.c */
struct host_grt *host_grt_get(struct host *h, const char *name);
int host_grt_state(struct host *h, const char *name);
void host_grt_set_state(struct host *h, const char *name, int state);
/*
 * One call to a guest under its call mutex. Transport failures return
 * -EHOSTUNREACH with a message and mark the guest for replay; guest errors
 * return the guest's -code and "guest G: <its message>". args (may be
 * NULL) is stolen.
 */
int gc_call(struct host *h, const struct st_guest *g, const char *op,
	    json_t *args, int timeout_ms, json_t **result, char **errmsg);

/* A set of calls, run one thread per guest, in order within a guest. */
struct gc_batch;
struct gc_batch *gc_batch_new(struct host *h);
/* args is stolen. Guests DOWN or DEAD are skipped when the batch runs. */
void gc_batch_add(struct gc_batch *b, const struct st_guest *g, const char *op,
		  json_t *args);
/* Returns the number of failed calls (logged). */
int gc_batch_run(struct gc_batch *b, int timeout_ms);
void gc_batch_free(struct gc_batch *b);
/* One reconciler pass (probes due guests); used by the thread and tests. */
void host_reconcile_once(struct host *h);
void *host_reconciler_main(void *arg);

/* mesh.c: all with h->mu held. */
int mesh_network_args(const struct st_network *n, json_t **out);
/* Desired peers of guest on network (other non-dead guests with keys). */
int mesh_peer_set(struct store *st, const char *network_id, const char *guest,
		  json_t **out);
/* DNS records a container may resolve. */
int mesh_dns_records(struct store *st, const struct st_container *c,
		     json_t **out);
/* Its published ports with container_ip filled ([] without endpoints). */
int mesh_ports(struct store *st, const struct st_container *c, json_t **out);
/* Queue UpdatePeers to every guest of the network (except skip) and SetDNS +
 * PublishPorts for every container on it. */
int mesh_queue_network(struct host *h, struct gc_batch *b,
		       const char *network_id, const char *skip_guest);
int mesh_attach(struct host *h, const struct st_network *n,
		const struct st_container *c, const char *ip, const char *ip6,
		json_t *aliases, json_t **result, char **errmsg);
int mesh_detach(struct host *h, const struct st_network *n,
		const struct st_container *c, char **errmsg);
int mesh_replay(struct host *h, const struct st_guest *g);
/* SetIsolation (every network's subnets) to every UP guest, or only to the
 * guest named only. */
int mesh_push_isolation(struct host *h, const char *only);
/* The host's part of a guest's control-plane set (CreateHub/SetIsolation
 * "ctrl_prefixes"): a JSON array of CIDRs, or NULL. */
json_t *mesh_ctrl_prefixes(struct host *h);
/* Compare a guest's GetStatus with the desired state: 1 = differs. */
int mesh_audit(struct host *h, const struct st_guest *g, json_t *status);
int mesh_guest_dead(struct host *h, const struct st_guest *g);

/* multihost.c: a store shared by several hosts (etcd, docs/etcd.md). */
/* Does this host serve g? Always with a store of its own. */
bool host_owns_guest(const struct host *h, const struct st_guest *g);
/* -EREMOTE with a message when another host serves the guest. */
int host_check_owner(struct host *h, const char *guest, char **errmsg);
/* Something changed on network_id (NULL = anything): push the peer sets
 * and DNS of that network to this host's guests. Takes h->mu. */
void host_on_store_change(struct host *h, const char *network_id);
/* Start/stop watching a shared store (no-op for SQLite). */
int host_watch_start(struct host *h);
void host_watch_stop(struct host *h);

/* netjson.c: Docker-shaped JSON and the CLI's text helpers. */
void netjson_time(int64_t t, char *buf, size_t len); /* RFC3339 UTC */
json_t *netjson_network(struct store *st, const struct st_network *n);
/* Validate {"key":[values]} (or Docker's {"key":{"value":true}}). */
int netjson_filters_check(json_t *filters, char **errmsg);
bool netjson_filters_match(json_t *filters, const struct st_network *n,
			   size_t n_endpoints);
json_t *netjson_endpoint(const struct st_network *n,
			 const struct st_container *c,
			 const struct st_endpoint *ep);

struct cli_opt {
	const char *lng; /* "subnet" */
	char shrt; /* 'd' or 0 */
	bool has_arg;
};

struct cli_val {
	int opt; /* index in the cli_opt table */
	const char *val; /* NULL for a boolean */
};

struct cli_args {
	char **pos;
	int n_pos;
	struct cli_val *vals;
	int n_vals;
};

/* pflag-like: options anywhere, --x=v, --x v, -x v, -xv, -ab, "--". */
int cli_parse(const struct cli_opt *opts, int argc, char **argv,
	      struct cli_args *out, char *err, size_t errlen);
void cli_args_free(struct cli_args *a);
const char *cli_last(const struct cli_args *a, int opt);
bool cli_has(const struct cli_args *a, int opt);
/* "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]" → {"proto","host_ip"?,...}. */
int cli_port_parse(const char *spec, json_t **out, char *err, size_t errlen);
/* Replace {{.Field}} from row (strings); "\t" → tab. -EINVAL unknown. */
int cli_format(const char *fmt, json_t *row, char **out, char *err,
	       size_t errlen);
/* "12 seconds ago", "3 minutes ago", "never". */
void cli_ago(int64_t then, int64_t now, char *buf, size_t len);

/* Docker's tabwriter (minwidth 10, padding 3). */
struct cli_table;
struct cli_table *cli_table_new(int ncols);
int cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

#endif
