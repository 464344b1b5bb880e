/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals shared by the mesh's files: mesh.c (arguments, peer sets, DNS,
 * ports, isolation, attach/detach) and mesh_replay.c (audit of a guest's
 * GetStatus, full replay of one guest, dead guests) and mesh_attach.c. No
 * lock is held across guest I/O.
 */
#ifndef WGNET_HOST_MESH_INT_H
#define WGNET_HOST_MESH_INT_H

#include <stdbool.h>

#include "host.h"

/* AddEndpoint args for container c on network n. */
json_t *mesh_endpoint_args(const struct st_network *n,
			   const struct st_container *c,
			   const struct st_endpoint *ep);
#endif
