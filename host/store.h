/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wgnet-host's state behind one small interface: SQLite by default (one
 * file, WAL, transactions), etcd v3 for multi-host (issue 9). Every call is
 * one transaction. Strings are copied into fixed buffers; lists come back
 * malloc'd (free with free()).
 *
 * Errors: -ENOENT not found, -EEXIST name/address conflict, -EBUSY network
 * has endpoints, -EINVAL bad input, -ENOSPC no free address or subnet,
 * -EIO store failure, -ENOTCONN store unreachable.
 */
#ifndef WGNET_STORE_H
#define WGNET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wgnet/ipnet.h"

#define ST_ID_LEN 65 /* 64 hex + NUL */
#define ST_NAME_LEN 128
#define ST_PATH_LEN 256
#define ST_KEY_LEN 45 /* base64 WireGuard key + NUL */

struct st_network {
	char id[ST_ID_LEN];
	char name[ST_NAME_LEN];
	char driver[32]; /* "wgnet" */
	struct ip_prefix subnet4, range4; /* range family 0 = whole subnet */
	struct ip_addr gw4;
	struct ip_prefix subnet6, range6; /* subnet6 family 0 = no IPv6 */
	struct ip_addr gw6;
	bool internal;
	bool ipv6;
	char labels[2048]; /* JSON object text, "{}" if none */
	char options[2048]; /* JSON object text */
	int64_t created; /* unix seconds */
	/* Bumped by one in the transaction of every change guests on the
	 * network must hear of (docs/control-plane.md); 0 = the store keeps
	 * none. */
	uint64_t gen;
};

struct st_guest {
	char name[ST_NAME_LEN];
	char control[ST_PATH_LEN]; /* "unix:/path", "serial:/dev/..", "vsock:cid:port" */
	char host_id[ST_NAME_LEN]; /* which wgnet-host serves it ("" = local) */
	struct ip_addr underlay; /* from GetUnderlayEndpoint */
	/* Its network's length (GetUnderlayEndpoint "prefix"); 0 = not
	 * reported (an older agent): the address alone (/32, /128). */
	int underlay_plen;
	char backend[16];
	int state; /* ST_GUEST_* */
	int64_t last_seen;
};

enum {
	ST_GUEST_UNKNOWN = 0,
	ST_GUEST_UP = 1,
	ST_GUEST_DOWN = 2,
	ST_GUEST_DEAD = 3
};

struct st_container {
	char id[ST_ID_LEN];
	char name[ST_NAME_LEN];
	char guest[ST_NAME_LEN];
	char netns[ST_PATH_LEN];
	char ports[2048]; /* JSON array of published ports, "[]" if none */
};

struct st_endpoint {
	char id[ST_ID_LEN]; /* EndpointID */
	char network_id[ST_ID_LEN];
	char container_id[ST_ID_LEN];
	struct ip_addr ip4; /* family 0 = none */
	struct ip_addr ip6;
	char mac[18];
	char aliases[1024]; /* JSON array text */
	int64_t seq; /* attach order within the container */
	/* endpoint_create input only: addresses a pick must not hand out
	 * (freed, removal not yet acknowledged by every guest). */
	const struct ip_addr *avoid;
	size_t n_avoid;
};

/* One WireGuard interface of a guest on a network: what AddNetwork said. */
struct st_guest_net {
	char guest[ST_NAME_LEN];
	char network_id[ST_ID_LEN];
	char public_key[ST_KEY_LEN];
	uint16_t listen_port;
	/* The largest tunnel MTU the guest's underlay carries (its underlay
	 * MTU minus WireGuard's overhead), as AddNetwork said; 0 = unknown. */
	uint16_t mtu;
	/* Unix seconds when public_key was created (AddNetwork) or rotated
	 * in; 0 = unknown (written before wgnet kept it). Stored as given:
	 * callers keep it when the key does not change. */
	int64_t key_created;
};

/* Request of network_create; the store fills what is left unset (auto
 * subnet from the default pools, gateway = first address) inside the
 * transaction, so two creates never get overlapping subnets. */
struct st_network_req {
	char name[ST_NAME_LEN];
	char driver[32];
	struct ip_prefix subnet4, range4; /* family 0 = auto / none */
	struct ip_addr gw4;
	struct ip_prefix subnet6, range6;
	struct ip_addr gw6;
	bool internal, ipv6;
	char labels[2048], options[2048];
};

/* What guests on one network must hold, read in one transaction
 * (network_view): its generation, every guest interface with its guest, and
 * every endpoint with its container. */
struct st_view_member {
	char guest[ST_NAME_LEN];
	char host_id[ST_NAME_LEN];
	char public_key[ST_KEY_LEN];
	uint16_t listen_port;
	uint16_t mtu; /* guest_nets.mtu */
	struct ip_addr underlay;
	int state; /* ST_GUEST_* */
};

struct st_view_ep {
	char container_id[ST_ID_LEN];
	char name[ST_NAME_LEN];
	char guest[ST_NAME_LEN];
	struct ip_addr ip4, ip6;
	char aliases[1024];
	int64_t seq;
};

struct st_net_view {
	uint64_t gen;
	unsigned int mtu_fixed; /* the network's MTU option (set by the caller) */
	struct st_view_member *members;
	size_t n_members;
	struct st_view_ep *eps;
	size_t n_eps;
};

struct store;

/* Something that may change the mesh of network_id changed in a shared
 * store (NULL = anything: resync every network). */
typedef void (*store_change_fn)(void *arg, const char *network_id);

struct store_ops {
	void (*close)(struct store *st);

	int (*network_create)(struct store *st,
			      const struct st_network_req *req,
			      struct st_network *out);
	/* By exact name, exact id, or unique id prefix (-ENOENT; ambiguous
	 * prefix -EINVAL). */
	int (*network_get)(struct store *st, const char *ref,
			   struct st_network *out);
	int (*network_list)(struct store *st, struct st_network **out,
			    size_t *n);
	/* -EBUSY while endpoints remain. */
	int (*network_delete)(struct store *st, const char *id);

	int (*guest_put)(struct store *st,
			 const struct st_guest *g); /* upsert */
	int (*guest_get)(struct store *st, const char *name,
			 struct st_guest *out);
	int (*guest_list)(struct store *st, struct st_guest **out, size_t *n);
	int (*guest_delete)(struct store *st, const char *name);

	/* -EEXIST if the name is taken. */
	int (*container_add)(struct store *st, const struct st_container *c);
	/* By name, id, or unique id prefix. */
	int (*container_get)(struct store *st, const char *ref,
			     struct st_container *out);
	int (*container_list)(struct store *st, struct st_container **out,
			      size_t *n);
	/* The containers of one guest; NULL = container_list, filtered
	 * (mesh_guest_containers). */
	int (*container_list_guest)(struct store *st, const char *guest,
				    struct st_container **out, size_t *n);
	/* Also deletes its endpoints (and so frees their addresses). */
	int (*container_delete)(struct store *st, const char *id);
	/* Replace a container's published ports (JSON array text); -ENOENT
	 * if it is gone. */
	int (*container_set_ports)(struct store *st, const char *id,
				   const char *ports);

	/* Allocate addresses and insert the endpoint in one transaction.
	 * ip4/ip6 in ep: family 0 = pick the first free; set = static (must be
	 * in the subnet, not network/broadcast/gateway, not taken: -EEXIST;
	 * outside: -EINVAL). -ENOSPC when the pool is full. -EEXIST if the
	 * container is already on the network. Fills ep->id, ip4/ip6, mac, seq. */
	int (*endpoint_create)(struct store *st, struct st_endpoint *ep);
	int (*endpoint_delete)(struct store *st, const char *network_id,
			       const char *container_id);
	/* Replace an endpoint's aliases (JSON array text); -ENOENT if gone. */
	int (*endpoint_set_aliases)(struct store *st, const char *network_id,
				    const char *container_id,
				    const char *aliases);
	int (*endpoint_get)(struct store *st, const char *network_id,
			    const char *container_id, struct st_endpoint *out);
	/* Filter by network (NULL = all) and/or container (NULL = all). */
	int (*endpoint_list)(struct store *st, const char *network_id,
			     const char *container_id, struct st_endpoint **out,
			     size_t *n);

	int (*guest_net_put)(struct store *st, const struct st_guest_net *gn);
	int (*guest_net_get)(struct store *st, const char *guest,
			     const char *network_id, struct st_guest_net *out);
	int (*guest_net_delete)(struct store *st, const char *guest,
				const char *network_id);
	int (*guest_net_list)(struct store *st, const char *network_id,
			      struct st_guest_net **out, size_t *n);

	/* The view of one network in one read transaction; NULL = built from
	 * the list ops by store_network_view(). -ENOENT unknown network. */
	int (*network_view)(struct store *st, const char *network_id,
			    struct st_net_view *out);

	/* Shared (multi-host) stores only, NULL otherwise: watch the store
	 * from a thread of its own and call fn for every change; fn NULL
	 * stops the watch (returns once fn is no longer running). */
	int (*watch)(struct store *st, store_change_fn fn, void *arg);
};

struct store {
	const struct store_ops *ops;
};

/* st->ops->network_view, or the same from the list ops. */
int store_network_view(struct store *st, const char *network_id,
		       struct st_net_view *out);
void store_net_view_free(struct st_net_view *v);

/* "sqlite:/path/state.db" or a plain path → SQLite; "etcd://h:p[,h:p]" or
 * "etcd+unix:///path[,/path]" → etcd. NULL with errno on failure. */
struct store *store_open(const char *uri);
#define STORE_ETCD_TCP "etcd://"
#define STORE_ETCD_UNIX "etcd+unix://"
/* uri names an etcd store (either form). */
bool store_uri_is_etcd(const char *uri);
struct store *store_sqlite_open(const char *path);
/* "etcd://h:p[,h:p…]" (the members' client URLs, HTTP) or
 * "etcd+unix:///path[,/path…]" (their unix sockets); host_id names this host's lease (NULL = hostname),
 * lease_ttl_s its TTL (0 = 10 s). See docs/etcd.md. */
struct store *store_etcd_open(const char *uri, const char *host_id,
			      int lease_ttl_s);

#endif
