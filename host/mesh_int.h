/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals shared by the mesh's files: mesh.c (arguments, peer sets, DNS,
 * ports, isolation, attach/detach) and mesh_replay.c (audit of a guest's
 * GetStatus, full replay of one guest, dead guests). All run with h->mu held.
 */
#ifndef WGNET_HOST_MESH_INT_H
#define WGNET_HOST_MESH_INT_H

#include <stdbool.h>

#include "wgnet/host.h"

/* Queue the container's SetDNS and PublishPorts on b (none once it has no
 * endpoint left). */
void mesh_queue_container(struct host *h, struct gc_batch *b,
			  const struct st_container *c);
/* SetIsolation args (subnets, ctrl_prefixes), or NULL if the store cannot
 * list the networks. */
json_t *mesh_isolation_args(struct host *h);

/* Push the network's peer sets (and also's DNS and ports) to its guests. */
int mesh_push_network(struct host *h, const char *network_id,
		      const struct st_container *also);
/* AddEndpoint args for container c on network n. */
json_t *mesh_endpoint_args(const struct st_network *n,
			   const struct st_container *c,
			   const struct st_endpoint *ep);
/* AddNetwork on g and store what it said. *key_changed if it differs. */
int mesh_guest_add_network(struct host *h, const struct st_guest *g,
			   const struct st_network *n, bool *key_changed,
			   char **errmsg);

#endif
