// SPDX-License-Identifier: GPL-2.0
/* Each container's resolver at 127.0.0.11:53: sockets made inside the
 * container's namespace, served by the agent's one DNS server. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "wgnet/dns.h"
#include "wgnet/link.h"
#include "wgnet/log.h"
#include "wgnet/proto.h"

static int bind_dns(int nsfd, int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(DNS_PORT),
				   .sin_addr.s_addr = htonl(0x7f00000b) };
	int one = 1, fd, err;

	fd = netns_socket(nsfd, AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ag_dns_open(struct agent *ag, struct ag_ctr *c)
{
	int nsfd, udp = -1, tcp = -1, err;

	if (!ag->dns || c->dns_open || ag_ctr_host_mode(c))
		return 0; /* host mode: the runtime owns the container's DNS */
	nsfd = netns_open(c->netns);
	if (nsfd < 0)
		return nsfd;
	udp = bind_dns(nsfd, SOCK_DGRAM);
	tcp = bind_dns(nsfd, SOCK_STREAM);
	close(nsfd);
	if (udp < 0) {
		err = udp;
		log_warn("container %s: no resolver at 127.0.0.11: %s", c->name,
			 strerror(-err));
		if (tcp >= 0)
			close(tcp);
		return err;
	}
	err = dns_server_add_client(ag->dns, c->id, udp, tcp < 0 ? -1 : tcp);
	if (err) {
		close(udp);
		if (tcp >= 0)
			close(tcp);
		return err;
	}
	c->dns_open = true;
	return ag_dns_records(ag, c);
}

void ag_dns_close(struct agent *ag, struct ag_ctr *c)
{
	if (ag->dns && c->dns_open)
		dns_server_remove_client(ag->dns, c->id);
	c->dns_open = false;
}

static bool ctr_on_net(struct agent *ag, const char *cid, const char *net_id)
{
	for (int i = 0; i < AG_MAX_EPS; i++)
		if (ag->eps[i].used && !strcmp(ag->eps[i].cid, cid) &&
		    !strcmp(ag->eps[i].net_id, net_id))
			return true;
	return false;
}

static void recs_add(struct dns_record *recs, size_t *k, json_t *r)
{
	const char *name = json_str(r, "name"), *addr = json_str(r, "address");

	if (!name || !addr || strlen(name) >= sizeof(recs[*k].name) ||
	    ip_parse(addr, &recs[*k].addr))
		return;
	strcpy(recs[*k].name, name);
	(*k)++;
}

int ag_dns_records(struct agent *ag, struct ag_ctr *c)
{
	struct dns_record *recs;
	size_t n = json_array_size(c->dns), i, k = 0;
	json_t *seen, *r;
	const char *key;
	int err;

	if (!ag->dns || !c->dns_open)
		return 0;
	for (int j = 0; j < AG_MAX_NETS; j++)
		if (ag->nets[j].used && ctr_on_net(ag, c->id, ag->nets[j].id))
			n += json_object_size(ag->nets[j].dns);
	recs = calloc(n ? n : 1, sizeof(*recs));
	seen = json_object();
	if (!recs || !seen) {
		free(recs);
		json_decref(seen);
		return -ENOMEM;
	}
	json_array_foreach(c->dns, i, r)
	{
		char kbuf[300];

		snprintf(kbuf, sizeof(kbuf), "%s\t%s", json_str(r, "name") ?: "",
			 json_str(r, "address") ?: "");
		json_object_set_new(seen, kbuf, json_true());
		recs_add(recs, &k, r);
	}
	/* The union of the records of the networks it is on. */
	for (int j = 0; j < AG_MAX_NETS; j++) {
		struct ag_net *net = &ag->nets[j];

		if (!net->used || !ctr_on_net(ag, c->id, net->id))
			continue;
		json_object_foreach(net->dns, key, r)
		{
			if (json_object_get(seen, key))
				continue;
			json_object_set_new(seen, key, json_true());
			recs_add(recs, &k, r);
		}
	}
	err = dns_server_set_records(ag->dns, c->id, recs, k);
	free(recs);
	json_decref(seen);
	return err;
}

void ag_dns_net_changed(struct agent *ag, struct ag_net *n)
{
	for (int i = 0; i < AG_MAX_CTRS; i++) {
		struct ag_ctr *c = &ag->ctrs[i];

		if (c->used && c->dns_open && ctr_on_net(ag, c->id, n->id))
			ag_dns_records(ag, c);
	}
}
