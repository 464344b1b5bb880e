// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the kernel WireGuard genl reply parser wgk_parse_device(). The
 * input is the attribute stream of one WG_CMD_GET_DEVICE reply; the target
 * puts a valid nlmsghdr + genlmsghdr in front whose length covers exactly the
 * input, in a buffer of exactly that size (so ASan sees any over-read). The
 * same message is then merged a second time into the same device, as when a
 * peer continues in the next message of a dump.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>

#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDRS (NLMSG_HDRLEN + GENL_HDRLEN)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	struct wg_device *dev;
	int ret;

	if (size > 65535 - HDRS)
		return 0;
	nlh = malloc(HDRS + size);
	dev = calloc(1, sizeof(*dev));
	if (!nlh || !dev)
		goto out;
	memset(nlh, 0, HDRS);
	nlh->nlmsg_len = (uint32_t)(HDRS + size);
	nlh->nlmsg_type = 0x20; /* a resolved family id */
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 1;
	genl = (struct genlmsghdr *)((char *)nlh + NLMSG_HDRLEN);
	genl->cmd = WG_CMD_GET_DEVICE;
	genl->version = WG_GENL_VERSION;
	memcpy((char *)nlh + HDRS, data, size);

	ret = wgk_parse_device(nlh, dev);
	if (ret && ret != -EINVAL && ret != -ENOMEM)
		__builtin_trap();
	if (!ret) {
		size_t peers = dev->n_peers;

		if (memchr(dev->name, '\0', sizeof(dev->name)) == NULL)
			__builtin_trap();
		/* merging the same peers again adds none */
		ret = wgk_parse_device(nlh, dev);
		if (ret || dev->n_peers != peers)
			__builtin_trap();
	}
out:
	wg_device_free(dev);
	free(nlh);
	return 0;
}
