/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wgnet-host internals shared by host/main.c, api.c, mesh.c, guestc.c,
 * netjson.c, the CLI and the Docker Engine API module.
 *
 * Locking (docs/control-plane.md): h->mu serialises the short store
 * transactions of host ops that read-modify-write (validate, then commit)
 * and is never held across guest I/O. Guests are only talked to by their
 * own worker thread (host/cpworker.c), one queue each; host ops enqueue and
 * wait without any lock held. h->ns_mu guards the in-memory network states
 * (snapshots, change logs, freed addresses), h->rt_mu the runtime fields of
 * the guests (state, queue, acknowledged generations); both are held only
 * for in-memory work. Order: h->mu, then h->ns_mu, then h->rt_mu.
 */
#ifndef WGNET_HOST_H
#define WGNET_HOST_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <semaphore.h>

#include "netstate.h"
#include "store.h"
#include "wgnet/wg.h"

#define HOST_DEFAULT_SOCK "/run/wgnet/host.sock"
#define HOST_DEFAULT_STORE "sqlite:/var/lib/wgnet/state.db"
#define HOST_CALL_TIMEOUT_MS 2000 /* one guest call, the whole exchange */
#define HOST_PUSH_TIMEOUT_MS 2000 /* fan-out pushes to other guests */
#define HOST_PROBE_TIMEOUT_MS 2000 /* liveness Hello */
/* Calls that may start or stop a wireguard-go interface (AddNetwork,
 * RemoveNetwork, Reconcile, CreateHub, DeleteHub, AddEndpoint, rotation's
 * Prepare and Commit): the guest may take up to WG_START_TIMEOUT_MS for one
 * interface, so the host waits that plus one ordinary call deadline. A
 * shorter wait gives up on a loaded guest that is still succeeding, marks
 * it down and replays what it already did (the guest's deadline must fit
 * inside the host's). */
#define HOST_DEVICE_CALL_MS(call_ms) (WG_START_TIMEOUT_MS + (call_ms))
#define HOST_TICK_MS 1000
#define HOST_RECONCILE_MS 50 /* the reconciler's pass over its guests */
#define HOST_GUEST_LIST_MS 2000 /* ... and its read of their list */
/* How often the isolation set is recomputed (this machine's addresses). */
#define HOST_ISO_REFRESH_MS 5000
#define HOST_BACKOFF_MIN_MS 500
#define HOST_BACKOFF_MAX_MS 10000
#define HOST_AUDIT_MS 10000 /* GetStatus check of UP guests */
#define HOST_SEEN_REFRESH_S 30 /* an UP guest's last_seen in the store */
#define HOST_IO_PARALLEL 64 /* workers talking to guests at once */
/* More slots for work a client waits on (a connect's own guest), so that
 * it never queues behind a fan-out to every guest of a network. */
#define HOST_IO_PARALLEL_FG 16
/* --fanout-delay: a change reaches the other guests of its network this
 * long after the first change of a burst (docs/control-plane.md). */
#define HOST_FANOUT_DELAY_MS 20
#define HOST_WAIT_MS 30000 /* "wait": every guest acknowledges */
#define HOST_WORKER_STACK (256 * 1024)

struct cp_item;

/* One (guest, network) acknowledged generation. */
struct cp_ack {
	char network_id[ST_ID_LEN];
	struct ns_ack a;
};

/* A guest's control connection (host/gconn.c). */
struct gconn {
	int fd;
	bool no_ids; /* the agent is older than request ids */
	uint64_t next_id;
	uint64_t dials, stale; /* counters, for tests and debugging */
	char addr[ST_PATH_LEN];
};

/* Runtime view of one guest (not persisted except state/last_seen). */
struct guest_rt {
	char name[ST_NAME_LEN];
	pthread_mutex_t call_mu;
	int state; /* ST_GUEST_* */
	bool replay; /* replay the full desired state on the next success */
	bool busy; /* a reconciler worker is on it */
	int64_t last_ok_ms; /* monotonic: last answer (or host start) */
	int64_t last_seen; /* unix seconds of the last answer, 0 = never */
	/* The last_seen the store holds for it, UP, as its worker last
	 * wrote or read it; 0 = not known (rt_mu). */
	int64_t stored_seen;
	int64_t next_ms; /* monotonic: next liveness probe */
	int64_t next_audit_ms;
	int backoff_ms;
	/* The worker (host/cpworker.c); all under h->rt_mu except fd. */
	char control[ST_PATH_LEN];
	pthread_t th;
	bool th_started, th_stop;
	pthread_cond_t cv;
	struct cp_item *head, **tail;
	size_t depth; /* items queued or running */
	bool dirty; /* a network's generation moved */
	/* Ops queueing their items (cp_batch_begin): the catch-up waits
	 * until they have queued them all. */
	int batching;
	bool probe; /* the reconciler asks for a Hello */
	bool gens; /* its Hello has "nets": SyncNetwork/UpdateNetwork */
	char boot[64]; /* Hello's "boot" */
	struct cp_ack *acks;
	size_t nacks;
	int64_t last_ack_ms; /* monotonic, 0 = never */
	/* The isolation set (host/isolation.c): the version it took, the
	 * last one sent, and the guest's refusal (degraded) if any. */
	uint64_t iso_acked, iso_tried;
	int iso_rc;
	char iso_err[512];
	/* The guest's one connection: every call to it (its worker's and
	 * gc_call's) goes through conn under call_mu, one exchange at a
	 * time, so a channel that serves one client (a VM's virtio-serial
	 * port) never sees two. */
	struct gconn conn;
	struct host *host;
	struct guest_rt *next; /* h->grt, every guest */
	struct guest_rt *hnext; /* its bucket of h->grt_tab */
};

/* In-memory state of one network (h->ns_mu). */
struct cp_quar {
	struct ip_addr ip;
	uint64_t gen; /* removed at */
};

struct cp_net {
	char id[ST_ID_LEN];
	struct ns_snap snap;
	struct ns_log log;
	struct cp_quar *quar;
	size_t nquar;
	/* Deliveries held: a key rotation is committing (host/rotate.c), and
	 * the store still has the keys its guests are dropping. */
	bool held;
	struct cp_net *next;
};

/* A network whose members are to be woken at due_ms (host_now_ms). */
struct cp_nq_item {
	char nid[ST_ID_LEN];
	int64_t due_ms;
};

struct host {
	struct store *st;
	char id[ST_NAME_LEN];
	int guest_timeout_ms;
	/* Bumped when a guest is added or removed here: the reconciler
	 * reads the guest list again (atomic). */
	unsigned int guest_epoch;
	int call_timeout_ms;
	pthread_mutex_t mu;
	pthread_mutex_t rt_mu;
	pthread_mutex_t ns_mu;
	pthread_cond_t ack_cv; /* with rt_mu: an ack or a finished item */
	struct cp_net *nets;
	sem_t io_sem, io_sem_fg;
	struct guest_rt *grt;
	/* Index of grt by name (under rt_mu): a bucket array that doubles
	 * when it holds more entries than buckets. */
	struct guest_rt **grt_tab;
	size_t grt_nb, grt_n;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
	bool started;
	pthread_t reconciler;
	char store_uri[ST_PATH_LEN]; /* for "store unreachable: …" */
	/* --ctrl-prefix: more control-plane prefixes for every guest (e.g.
	 * other machines' underlays); owned by the caller. */
	const struct ip_prefix *ctrl_cfg;
	size_t n_ctrl_cfg;
	/* The isolation set every guest must hold (host/isolation.c):
	 * SetIsolation args, the host's own error about it, its version;
	 * under rt_mu. iso_mu serialises refreshes (no guest I/O). */
	pthread_mutex_t iso_mu;
	json_t *iso_want;
	char iso_err[512];
	uint64_t iso_gen;
	/* --key-max-age: the default maximum key age, seconds (0 = off;
	 * a network's wgnet.key_max_age overrides it, host/keyage.h). */
	int64_t key_max_age_s;
	/* The notifier (host/cplane.c): networks whose members are still to
	 * be woken, each at its due time (its first change + fanout_delay_ms:
	 * the changes of a burst go out as one delta, and an op answers its
	 * client before the fan-out takes the machine's CPUs); under nq_mu. */
	pthread_mutex_t nq_mu;
	pthread_cond_t nq_cv; /* CLOCK_MONOTONIC */
	struct cp_nq_item *nq;
	size_t nq_n, nq_cap;
	int fanout_delay_ms;
	pthread_t notifier;
	bool nq_started, nq_stop;
};

/* A call through a guest's worker connection (args stolen). */
typedef int (*mesh_call_fn)(struct host *h, struct guest_rt *r, const char *op,
			    json_t *args, json_t **res, char **errmsg);

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

/* guestc.c */
struct guest_rt *guest_rt_get(struct host *h, const char *name);
struct guest_rt *guest_rt_find_locked(struct host *h, const char *name);
int guest_rt_state(struct host *h, const char *name);
void guest_rt_set_state(struct host *h, const char *name, int state);
/*
 * One call to a guest under its call mutex. Transport failures return
 * -EHOSTUNREACH with a message and mark the guest for replay; guest errors
 * return the guest's -code and "guest G: <its message>". args (may be
 * NULL) is stolen.
 */
int gc_call(struct host *h, const struct st_guest *g, const char *op,
	    json_t *args, int timeout_ms, json_t **result, char **errmsg);
/* Close the guest's connection (a failed add, a removed guest). */
void gc_close(struct host *h, const char *name);
/* The guest answered (a reply, even an error): it is alive. */
void gc_mark_alive(struct host *h, struct guest_rt *r);
/* A call to the guest failed in transport (err): down, to be replayed, and
 * probed again at once. */
void gc_mark_down(struct host *h, struct guest_rt *r, const char *op, int err);
/* With h->rt_mu held: wait for an ack or a finished item (h->ack_cv), at
 * most ms milliseconds. */
void host_ack_wait(struct host *h, int64_t ms);

/* gconn.c: a guest's one kept connection; the caller serialises its use
 * (the guest's call_mu). gconn_call(): dial if none (or the address
 * changed), one exchange under @deadline (monotonic ms, the whole call),
 * the reply object in *reply; a transport failure closes the connection
 * and returns -errno, and a kept connection found closed by the guest is
 * dialled again once. gconn_exchange(): the exchange alone on c->fd. */
void gconn_init(struct gconn *c);
void gconn_close(struct gconn *c);
int gconn_call(struct gconn *c, const char *addr, const char *op, json_t *args,
	       int64_t deadline, json_t **reply);
int gconn_exchange(struct gconn *c, const char *op, json_t *args,
		   int64_t deadline, json_t **reply);
/* A reply → 0 and *result, or -code and *errmsg (then *result, if asked,
 * is the whole reply: ESTALE carries the guest's generation). */
int gconn_reply(json_t *rep, json_t **result, char **errmsg);

/* The reconciler's probe is over, or was not made (busy cleared). */
void host_probe_end(struct host *h, struct guest_rt *r);
/* The worker's probe answered (rc) or not: state, replay, dead guests. */
void host_probe_result(struct host *h, struct guest_rt *r,
		       const struct st_guest *g, int rc, json_t *hello,
		       const char *why, mesh_call_fn call);
/* The probe interval of an idle guest (from --guest-timeout). */
int host_probe_interval_ms(const struct host *h);
void *host_reconciler_main(void *arg);

/* mesh.c, mesh_attach.c, mesh_replay.c (docs/control-plane.md). */
int mesh_network_args(const struct st_network *n, json_t **out);
/* Desired peers of guest on network (other non-dead guests with keys). */
int mesh_peer_set(struct store *st, const char *network_id, const char *guest,
		  json_t **out);
/* DNS records a container may resolve. */
int mesh_dns_records(struct store *st, const struct st_container *c,
		     json_t **out);
/* Its published ports with container_ip filled ([] without endpoints). */
int mesh_ports(struct store *st, const struct st_container *c, json_t **out);
int mesh_attach(struct host *h, const struct st_network *n,
		const struct st_container *c, const char *ip, const char *ip6,
		json_t *aliases, bool wait, json_t **result, char **errmsg);
int mesh_detach(struct host *h, const struct st_network *n,
		const struct st_container *c, char **errmsg);
/* The isolation set changed (or only has not had it yet): every guest of
 * ours gets it through its worker, before its next queued items; wait: for
 * the UP ones (or only), then the first refusal as -errno with *errmsg. */
int mesh_push_isolation(struct host *h, const char *only, bool wait,
			char **errmsg);
/* Compare a guest's GetStatus with the desired state: 1 = differs. */
int mesh_audit(struct host *h, const struct st_guest *g, json_t *status);
int mesh_guest_dead(struct host *h, const struct st_guest *g);
/* A WireGuard public key as text (44 base64 characters, not all zero). */
bool mesh_key_valid(const char *k);
/* Store what AddNetwork said (h->mu taken inside) and refresh the
 * network, waking its members if notify (a connect wakes them itself once
 * its guest is done): 0 or -errno with a message. */
int mesh_store_key(struct host *h, const char *guest, const char *nid,
		   json_t *res, bool notify, char **errmsg);
/* Containers of a guest (malloc'd). */
int mesh_guest_containers(struct store *st, const char *guest,
			  struct st_container **out, size_t *n);
/* The worker's replay of one guest (calls through call). */
int mesh_replay_guest(struct host *h, struct guest_rt *r,
		      const struct st_guest *g, mesh_call_fn call);
/* Remove a container: store first, then its guest's worker (wait: for
 * it). */
int host_container_remove(struct host *h, const struct st_container *c,
			  bool wait, char **errmsg);

/* cplane.c: the in-memory state of every network (docs/control-plane.md). */
/* Load every network of the store (at start). */
int cp_load(struct host *h);
/* Re-read a network from the store in one transaction, log the delta
 * against the last snapshot and wake the workers of its guests. Returns its
 * generation (0 if it is gone: then it is forgotten). */
uint64_t cp_net_refresh(struct host *h, const char *network_id);
/* The same without waking anyone; *changed: a new generation is in (the
 * caller wakes the guests with cp_net_notify when it is ready). */
uint64_t cp_net_refresh_quiet(struct host *h, const char *network_id,
			      bool *changed);
/* The same for one endpoint added or removed by the change that made
 * generation gen: the snapshot patched in O(the endpoint) when it can be
 * (ns_snap_patch_ep), else rebuilt from the store. */
uint64_t cp_net_refresh_ep(struct host *h, const char *network_id,
			   const struct st_view_ep *e, bool add, uint64_t gen,
			   bool *changed);
uint64_t cp_net_gen(struct host *h, const char *network_id);
/* Addresses freed at generation gen: not picked again before every live
 * guest on the network has acknowledged gen. */
void cp_net_quarantine(struct host *h, const char *network_id,
		       const struct ip_addr *ip4, const struct ip_addr *ip6,
		       uint64_t gen);
/* The freed addresses still waiting (malloc'd). */
int cp_net_avoid(struct host *h, const char *network_id, struct ip_addr **out,
		 size_t *n);
/* Wait until every guest of ours on the network has acknowledged gen
 * (dead and down ones excepted only if skip_down). */
int cp_wait_converged(struct host *h, const char *network_id, uint64_t gen,
		      int timeout_ms, char **errmsg);
/* Inspect's "Guests": {guest: {"Generation", "State"}}. */
json_t *cp_net_guests_json(struct host *h, const char *network_id);
/* The guest's acknowledged generations {network_id: gen}. */
json_t *cp_guest_acks_json(struct host *h, struct guest_rt *r);
/* Wake the workers of every guest of ours on the network: queued for the
 * notifier thread once it runs (the caller does not wait for the walk),
 * at once before. */
void cp_net_notify(struct host *h, const char *network_id);
/* The same without the settle window (a client waits for the fan-out). */
void cp_net_notify_now(struct host *h, const char *network_id);
/* Hold every delivery of the network (a worker finds nothing due) until
 * cp_net_release, which wakes the guests. */
void cp_net_hold(struct host *h, const char *network_id);
void cp_net_release(struct host *h, const char *network_id);
/* The network's state, or NULL (with ns_mu held). */
struct cp_net *cp_net_find(struct host *h, const char *network_id);
int cp_notifier_start(struct host *h);
void cp_notifier_stop(struct host *h);
uint64_t cp_ack_get(struct guest_rt *r, const char *network_id, bool *valid);

/* cpworker.c: one worker thread and queue per guest. */
enum { CP_CALL, CP_ADDNET, CP_PORTS, CP_RMNET };
struct cp_ticket;
struct cp_ticket *cp_ticket_new(void);
/* Wait for every item of the ticket (and the catch-up after them); frees
 * the caller's reference. */
int cp_ticket_wait(struct host *h, struct cp_ticket *t, int timeout_ms,
		   char **errmsg);
/* An op's store commit and its items for one guest, queued one by one,
 * between these two (no guest I/O): the worker may start on the first
 * items meanwhile, but its catch-up waits for the last one to be queued.
 * A snapshot rebuilt from the store in between (another op's, or the key
 * an AddNetwork stores) already gives the guest its new container's
 * names, which must not reach it before that container's AddEndpoint. */
void cp_batch_begin(struct host *h, const char *guest);
void cp_batch_end(struct host *h, const char *guest);
/* Queue a call on the guest's worker (args stolen; t may be NULL). */
void cp_enqueue(struct host *h, const char *guest, int kind, const char *op,
		json_t *args, const char *network_id, const char *container_id,
		struct cp_ticket *t);
/* Start the guest's worker if it is not running. */
void cp_worker_ensure(struct host *h, const struct st_guest *g);
void cp_worker_stop(struct host *h, const char *guest);
void cp_workers_stop_all(struct host *h);
/* Wake the worker: something changed (probe: send a Hello too). */
void cp_wake(struct host *h, struct guest_rt *r, bool probe);
/* The same with rt_mu held. */
void cp_wake_locked(struct guest_rt *r, bool probe);

/* isolation.c: the isolation set as desired state (docs/control-plane.md
 * "Isolation"). Recompute it (store, this machine's addresses,
 * --ctrl-prefix); if it changed, install it and wake our workers. Returns
 * its version (0: never computed). No host lock is held. */
uint64_t cp_iso_refresh(struct host *h);
/* A copy of the current SetIsolation args (computed first if never), or
 * NULL; *gen its version. */
json_t *cp_iso_want(struct host *h, uint64_t *gen);
/* For r's worker: the args to send now (not sent yet, or retry and the
 * guest refused the last one), or NULL. */
json_t *cp_iso_due(struct host *h, struct guest_rt *r, bool retry,
		   uint64_t *gen);
/* The guest's answer to op (SetIsolation of version gen; CreateHub: gen 0):
 * a refusal makes it degraded until a later version is taken. */
void cp_iso_result(struct host *h, struct guest_rt *r, const char *op,
		   uint64_t gen, int rc, const char *em);
void cp_iso_forget(struct host *h, struct guest_rt *r);
int cp_iso_wait(struct host *h, const char *only, uint64_t gen, int timeout_ms,
		char **errmsg);
/* Status: {"generation": taken, "wanted": current, "error": refusal}. */
json_t *cp_iso_status(struct host *h, struct guest_rt *r);

/* multihost.c: a store shared by several hosts (etcd, docs/etcd.md). */
/* Does this host serve g? Always with a store of its own. */
bool host_owns_guest(const struct host *h, const struct st_guest *g);
/* -EREMOTE with a message when another host serves the guest. */
int host_check_owner(struct host *h, const char *guest, char **errmsg);
/* Something changed on network_id (NULL = anything) in a shared store:
 * refresh it; our guests' workers catch up (docs/control-plane.md). */
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
