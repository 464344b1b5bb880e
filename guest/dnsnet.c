// SPDX-License-Identifier: GPL-2.0
/*
 * A resolver at each network's gateway address, port 53, in the guest's
 * namespace, for networks with host-mode containers (Docker's remote
 * driver, docs/docker-plugin.md). Docker keeps the container's resolver
 * (127.0.0.11, its own) and answers the names it knows: the containers of
 * this dockerd. Names of containers on other hosts reach us when the
 * container's DNS server is the gateway (docker run --dns GATEWAY): Docker
 * forwards what it does not know, from the container's namespace.
 *
 * The records of network N: N's own records (UpdateNetwork/SyncNetwork)
 * and the SetDNS records of N's containers on this guest, restricted to N's
 * subnets: N's names on every host, and nothing of another network.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dns.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

static void key_of(const char *net_id, char *key, size_t len)
{
	snprintf(key, len, "net:%s", net_id);
}

static int bind_gw(const struct ip_addr *gw, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd, err;

	if (ip_to_sockaddr(gw, DNS_PORT, &ss, &sl))
		return -EINVAL;
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Does network n have a present endpoint of a host-mode container? */
static bool wants_dns(struct agent *ag, const struct ag_net *n)
{
	if (!n->used || !n->gw4.family)
		return false;
	for (int i = 0; i < AG_MAX_EPS; i++) {
		struct ag_ep *e = &ag->eps[i];
		struct ag_ctr *c;

		if (!e->used || !e->present || strcmp(e->net_id, n->id))
			continue;
		c = ag_ctr_find(ag, e->cid);
		if (c && ag_ctr_host_mode(c))
			return true;
	}
	return false;
}

static bool in_net(const struct ag_net *n, const struct ip_addr *a)
{
	return (n->subnet4.addr.family && prefix_contains(&n->subnet4, a)) ||
	       (n->subnet6.addr.family && prefix_contains(&n->subnet6, a));
}

static int rec_push(struct dns_record **recs, size_t *k, size_t *cap, json_t *r,
		    const struct ag_net *n)
{
	const char *name = json_str(r, "name"), *addr = json_str(r, "address");
	struct dns_record rec = { 0 };

	if (!name || !addr || strlen(name) >= sizeof(rec.name) ||
	    ip_parse(addr, &rec.addr) || !in_net(n, &rec.addr))
		return 0;
	strcpy(rec.name, name);
	for (size_t x = 0; x < *k; x++)
		if (!strcmp((*recs)[x].name, rec.name) &&
		    ip_equal(&(*recs)[x].addr, &rec.addr))
			return 0;
	if (*k == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct dns_record *t = realloc(*recs, nc * sizeof(**recs));

		if (!t)
			return -ENOMEM;
		*recs = t;
		*cap = nc;
	}
	(*recs)[(*k)++] = rec;
	return 0;
}

/* The network's records (UpdateNetwork/SyncNetwork) and what SetDNS gave
 * its containers here, restricted to its subnets. */
static int set_records(struct agent *ag, const struct ag_net *n,
		       const char *key)
{
	struct dns_record *recs = NULL;
	size_t k = 0, cap = 0, i;
	const char *rk;
	json_t *r;
	int err = 0;

	json_object_foreach(n->dns, rk, r)
		if (!err)
			err = rec_push(&recs, &k, &cap, r, n);
	for (int j = 0; j < AG_MAX_EPS && !err; j++) {
		struct ag_ep *e = &ag->eps[j];
		struct ag_ctr *c;

		if (!e->used || strcmp(e->net_id, n->id) ||
		    !(c = ag_ctr_find(ag, e->cid)))
			continue;
		json_array_foreach(c->dns, i, r)
			if (!err)
				err = rec_push(&recs, &k, &cap, r, n);
	}
	if (!err)
		err = dns_server_set_records(ag->dns, key, recs, k);
	free(recs);
	return err;
}

static int open_net(struct agent *ag, const struct ag_net *n, const char *key)
{
	int udp, tcp, err;

	udp = bind_gw(&n->gw4, SOCK_DGRAM);
	if (udp < 0) {
		log_warn("network %s: no resolver at the gateway: %s", n->name,
			 strerror(-udp));
		return udp;
	}
	tcp = bind_gw(&n->gw4, SOCK_STREAM);
	err = dns_server_add_client(ag->dns, key, udp, tcp);
	if (err) {
		close(udp);
		if (tcp >= 0)
			close(tcp);
		return err;
	}
	return 0;
}

void ag_dns_net_sync(struct agent *ag)
{
	char key[AG_ID_LEN + 8];
	const char *id;
	json_t *v, *tmp;

	if (!ag->dns)
		return;
	if (!ag->dns_nets && !(ag->dns_nets = json_object()))
		return;
	json_object_foreach_safe(ag->dns_nets, tmp, id, v)
	{
		struct ag_net *n = ag_net_find(ag, id);

		if (n && wants_dns(ag, n))
			continue;
		key_of(id, key, sizeof(key));
		dns_server_remove_client(ag->dns, key);
		json_object_del(ag->dns_nets, id);
	}
	for (int i = 0; i < AG_MAX_NETS; i++) {
		struct ag_net *n = &ag->nets[i];

		if (!wants_dns(ag, n))
			continue;
		key_of(n->id, key, sizeof(key));
		if (!json_object_get(ag->dns_nets, n->id)) {
			if (open_net(ag, n, key))
				continue;
			json_object_set_new(ag->dns_nets, n->id, json_true());
			log_info("network %s: resolver at its gateway",
				 n->name);
		}
		set_records(ag, n, key);
	}
}
