// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: wireguard-go's UAPI "get=1" reply (text from another process's
 * socket) through wgu_parse_get() and wgu_parse_errno(). A reply that parses
 * gives a sane device that is then fed to the set builder.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wgnet/wg.h"
#include "wgnet/wg_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device *dev = NULL;
	char *set = NULL;
	int ret, eno;

	ret = wgu_parse_get((const char *)data, size, &dev);
	eno = wgu_parse_errno((const char *)data, size);
	if (ret) {
		if (dev || ret >= 0)
			__builtin_trap();
		return 0;
	}
	/* errno=0 was read; wgu_parse_errno() may only refuse a zero padded
	 * past its 15 digits */
	if (!dev || (eno != 0 && eno != -EINVAL))
		__builtin_trap();
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];

		if (p->last_handshake.tv_nsec < 0 ||
		    p->last_handshake.tv_nsec > 999999999)
			__builtin_trap();
		for (size_t k = 0; k < p->n_allowed; k++) {
			if (!wg_allowed_valid(&p->allowed[k]))
				__builtin_trap();
		}
	}
	if (!wgu_build_set(dev, &set)) {
		explicit_bzero(set, strlen(set));
		free(set);
	}
	wg_device_free(dev);
	return 0;
}
