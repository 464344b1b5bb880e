/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals shared by the host API's files: api.c (dispatch, host_new/free,
 * argument helpers and lookups), api_network.c (network ops) and
 * api_container.c (guest and container ops, Status). Every op has the
 * dispatch table's signature: 0 or -errno, an error message in *em.
 */
#ifndef WGNET_HOST_API_INT_H
#define WGNET_HOST_API_INT_H

#include <stdbool.h>

#include "host.h"

/* Argument helpers: 0, or -EINVAL with a message in *em. */
int api_arg_str(json_t *args, const char *key, bool req, const char **out,
		char **em);
int api_arg_bool(json_t *args, const char *key, bool *out, char **em);
int api_arg_typed(json_t *args, const char *key, json_type type, json_t **out,
		  char **em);
int api_check_name(const char *what, const char *name, char **em);

/* Lookups by name or id (prefix), with a clear message when not found. */
int api_get_network(struct host *h, const char *ref, struct st_network *n,
		    char **em);
int api_get_container(struct host *h, const char *ref, struct st_container *c,
		      char **em);

/* api_network.c */
int api_op_network_create(struct host *h, json_t *args, json_t **res,
			  char **em);
int api_op_network_list(struct host *h, json_t *args, json_t **res, char **em);
int api_op_network_inspect(struct host *h, json_t *args, json_t **res,
			   char **em);
int api_op_network_remove(struct host *h, json_t *args, json_t **res,
			  char **em);
int api_op_network_prune(struct host *h, json_t *args, json_t **res, char **em);
int api_op_network_connect(struct host *h, json_t *args, json_t **res,
			   char **em);
int api_op_network_disconnect(struct host *h, json_t *args, json_t **res,
			      char **em);

/* api_container.c */
int api_op_guest_add(struct host *h, json_t *args, json_t **res, char **em);
int api_op_guest_remove(struct host *h, json_t *args, json_t **res, char **em);
int api_op_guest_list(struct host *h, json_t *args, json_t **res, char **em);
int api_op_container_add(struct host *h, json_t *args, json_t **res, char **em);
int api_op_endpoint_aliases(struct host *h, json_t *args, json_t **res,
			    char **em);
int api_op_container_ports(struct host *h, json_t *args, json_t **res,
			   char **em);
int api_op_container_remove(struct host *h, json_t *args, json_t **res,
			    char **em);
int api_op_container_list(struct host *h, json_t *args, json_t **res,
			  char **em);
int api_op_status(struct host *h, json_t *args, json_t **res, char **em);

/* rotate.c */
int api_op_network_rotate_keys(struct host *h, json_t *args, json_t **res,
			       char **em);
int api_op_guest_rotate_keys(struct host *h, json_t *args, json_t **res,
			     char **em);

#endif
