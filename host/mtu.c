// SPDX-License-Identifier: GPL-2.0
/*
 * One MTU per network (docs/operations.md, "MTU"): Docker's option
 * com.docker.network.driver.mtu when the operator set it, else the smallest
 * tunnel MTU over every guest with an interface on the network (each guest
 * reports its own in AddNetwork's "mtu_max": its underlay MTU minus
 * WireGuard's 80 bytes; stored in guest_nets.mtu). Sent to the guests with
 * AddNetwork and with every UpdatePeers, so it follows the peer set: a
 * guest joining or leaving the network changes both, and both are pushed
 * to every guest on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host.h"
#include "wgnet/log.h"

#include "mtu.h"

#define MTU_OPT "com.docker.network.driver.mtu"

int mtu_option(const struct st_network *n, unsigned int *mtu, char **em)
{
	return mtu_option_text(n->options, n->subnet6.addr.family != 0, mtu,
			       em);
}

int mtu_option_text(const char *options, bool ipv6, unsigned int *mtu,
		    char **em)
{
	json_t *o = json_loads(options[0] ? options : "{}", 0, NULL);
	const char *s = json_string_value(json_object_get(o, MTU_OPT));
	unsigned int min = ipv6 ? 1280 : 576;
	char *end = NULL;
	long v;
	int rc = 0;

	*mtu = 0;
	if (!o)
		return host_err(em, -EINVAL, "network options are not JSON");
	if (!s)
		goto out;
	v = strtol(s, &end, 10);
	if (!*s || *end || v < (long)min || v > 65535)
		rc = host_err(em, -EINVAL,
			      "invalid %s \"%s\": an integer in %u..65535",
			      MTU_OPT, s, min);
	else
		*mtu = (unsigned int)v;
out:
	json_decref(o);
	return rc;
}

unsigned int mtu_network(struct store *st, const struct st_network *n,
			 bool *fixed)
{
	struct st_guest_net *gns = NULL;
	unsigned int mtu = 0;
	size_t ngn = 0;

	*fixed = false;
	if (!mtu_option(n, &mtu, NULL) && mtu) {
		*fixed = true;
		return mtu;
	}
	if (st->ops->guest_net_list(st, n->id, &gns, &ngn))
		return 0;
	for (size_t i = 0; i < ngn; i++)
		if (gns[i].mtu && (!mtu || gns[i].mtu < mtu))
			mtu = gns[i].mtu;
	free(gns);
	return mtu;
}

void mtu_add_network_args(struct store *st, const struct st_network *n,
			  json_t *args)
{
	json_t *net = json_object_get(args, "network");
	unsigned int mtu;
	bool fixed;

	mtu = mtu_network(st, n, &fixed);
	if (!net || !mtu)
		return;
	json_object_set_new(net, "mtu", json_integer(mtu));
	json_object_set_new(net, "mtu_fixed", json_boolean(fixed));
}

void mtu_add_peers_args(struct store *st, const char *network_id, json_t *args)
{
	struct st_network n;
	unsigned int mtu;
	bool fixed;

	if (st->ops->network_get(st, network_id, &n))
		return;
	mtu = mtu_network(st, &n, &fixed);
	if (mtu)
		json_object_set_new(args, "mtu", json_integer(mtu));
}

uint16_t mtu_from_reply(json_t *res)
{
	json_int_t v = json_integer_value(json_object_get(res, "mtu_max"));

	return v > 0 && v <= 65535 ? (uint16_t)v : 0;
}
