/* SPDX-License-Identifier: GPL-2.0 */
/* The guest's control calls, split by concern: ops.c (dispatch, hub,
 * status, DNS, ports, reconcile), ops_net.c (networks and peers),
 * ops_ep.c (container endpoints). */
#ifndef WGNET_GUEST_OPS_H
#define WGNET_GUEST_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define WG_BASE_PORT 51820
#define WG_OVERHEAD 80

bool ag_valid_id(const char *s);
bool ag_valid_name(const char *s);
void ag_mac_fmt(const uint8_t *m, char *buf);
int ag_mac_parse(const char *s, uint8_t *m);
unsigned int ag_ep_mtu(struct agent *ag);
void ag_key_path(struct agent *ag, const char *net_id, char *buf, size_t n);
json_t *ag_net_result(struct ag_net *n);
void ag_net_remove(struct agent *ag, struct ag_net *n);
void ag_ep_remove(struct agent *ag, struct ag_ep *e);
bool ag_ctr_has_endpoints(struct agent *ag, const char *cid);

/* mtu.c: one MTU per network. */
unsigned int ag_mtu_max(struct agent *ag);
unsigned int ag_mtu_min(const struct ag_net *n);
int ag_mtu_parse(struct agent *ag, json_t *jn, const struct ag_net *n,
		 unsigned int *out, const char **why);
int ag_mtu_check(struct agent *ag, const struct ag_net *n, json_t *jm,
		 unsigned int *out, const char **why);
int ag_mtu_apply(struct agent *ag, struct ag_net *n, unsigned int mtu);
void ag_mtu_result(struct agent *ag, const struct ag_net *n, json_t *res);

/* rotate.c: key rotation, make-before-break. */
json_t *ag_op_rotate_prepare(struct agent *ag, json_t *args);
json_t *ag_op_rotate_peers(struct agent *ag, json_t *args);
json_t *ag_op_rotate_switch(struct agent *ag, json_t *args);
json_t *ag_op_rotate_commit(struct agent *ag, json_t *args);
json_t *ag_op_rotate_abort(struct agent *ag, json_t *args);

/* Op handlers: args is an object; the reply is a new reference. */
json_t *ag_op_add_network(struct agent *ag, json_t *args);
json_t *ag_op_remove_network(struct agent *ag, json_t *args);
json_t *ag_op_update_peers(struct agent *ag, json_t *args);
json_t *ag_op_sync_network(struct agent *ag, json_t *args);
json_t *ag_op_update_network(struct agent *ag, json_t *args);
json_t *ag_op_add_endpoint(struct agent *ag, json_t *args);
json_t *ag_op_remove_endpoint(struct agent *ag, json_t *args);

#endif
