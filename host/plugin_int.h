/* SPDX-License-Identifier: GPL-2.0 */
/* The Docker plugin's shared state (plugin_ops.c, plugin_state.c). */
#ifndef WGNET_PLUGIN_INT_H
#define WGNET_PLUGIN_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "host.h"
#include "plugin.h"

struct plugin {
	struct host *h;
	char guest[ST_NAME_LEN]; /* this machine's wgnet-guest */
	char path[ST_PATH_LEN]; /* the state file */
	pthread_mutex_t mu; /* one plugin request at a time */
	/* {"networks": {docker id: wgnet id},
	 *  "endpoints": {docker id: {"container", "network"}}} */
	json_t *state;
	json_t *subpools; /* in memory: subnet text → --ip-range text */
	char docker_sock[ST_PATH_LEN]; /* dockerd's API, for names ("" = none) */
	pthread_mutex_t tmu; /* the name threads (plugin_names.c) */
	pthread_cond_t tcv;
	int nthreads;
	bool stopping;
};

/* plugin_names.c: learn the endpoint's container name and aliases from
 * dockerd in the background, then EndpointAliases. */
void plugin_names_start(struct plugin *p, const char *dnid, const char *eid,
			const char *wnid, const char *cid);
/* Wait for the name threads to end (they stop polling at once). */
void plugin_names_stop(struct plugin *p);

int plugin_state_load(struct plugin *p);
int plugin_state_net_put(struct plugin *p, const char *dnid, const char *wid);
int plugin_state_net_get(struct plugin *p, const char *dnid,
			 char wid[ST_ID_LEN]);
void plugin_state_net_del(struct plugin *p, const char *dnid);
bool plugin_state_net_of_wgnet(struct plugin *p, const char *wid);
int plugin_state_ep_put(struct plugin *p, const char *eid, const char *cid,
			const char *dnid);
int plugin_state_ep_get(struct plugin *p, const char *eid, char cid[ST_ID_LEN],
			char dnid[ST_ID_LEN]);
void plugin_state_ep_del(struct plugin *p, const char *eid);
bool plugin_state_ep_by_container(struct plugin *p, const char *cid);
/* --ip-range of a pool between RequestPool and CreateNetwork. */
void plugin_state_subpool_put(struct plugin *p, const char *pool,
			      const struct ip_prefix *range);
void plugin_state_subpool(struct plugin *p, const char *pool,
			  struct ip_prefix *range);
/* A host-mode "dk-" container of our guest (the plugin's reservation). */
bool plugin_container_is_ours(struct plugin *p, const char *cid);

#endif
