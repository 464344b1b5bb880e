/* SPDX-License-Identifier: GPL-2.0 */
/* One MTU per network (host/mtu.c, docs/operations.md). */
#ifndef WGNET_HOST_MTU_H
#define WGNET_HOST_MTU_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Docker's com.docker.network.driver.mtu of n: *mtu 0 when unset;
 * -EINVAL (message in *em, if em) when it is not an integer in range. */
int mtu_option(const struct st_network *n, unsigned int *mtu, char **em);
int mtu_option_text(const char *options, bool ipv6, unsigned int *mtu,
		    char **em);
/* The network's MTU now: the option (*fixed) or the smallest guest_nets.mtu
 * of the network; 0 when nothing is known yet. */
unsigned int mtu_network(struct store *st, const struct st_network *n,
			 bool *fixed);
/* Add "mtu"/"mtu_fixed" to AddNetwork's args["network"]. */
void mtu_add_network_args(struct store *st, const struct st_network *n,
			  json_t *args);
/* Add "mtu" to UpdatePeers' args. */
void mtu_add_peers_args(struct store *st, const char *network_id, json_t *args);
/* AddNetwork's "mtu_max" (0 if absent or bad). */
uint16_t mtu_from_reply(json_t *res);

#endif
