/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the unit tests (tests/unit/runner.c). */
#ifndef WGNET_TESTS_UT_H
#define WGNET_TESTS_UT_H

/*
 * A name prefix no other test, lab or bench run on the machine holds,
 * claimed by the runner before any suite starts, as lab/claim.sh does:
 * "u" and three characters [a-z0-9], claimed by an atomic mkdir of
 * /run/wgnet-claims/PREFIX and only when nothing on the machine carries it
 * yet (leftovers of a killed run keep their prefix out of use). Every
 * machine-global name a unit test makes carries it: namespaces "PREFIX-*",
 * pins /sys/fs/bpf/wgnet-PREFIX-*, wireguard-go interfaces "tPREFIX*"
 * (their UAPI sockets are machine-wide), /tmp/wgnet-PREFIX-*. At exit the
 * runner removes whatever still carries it and gives the prefix back.
 */
extern char ut_prefix[8];

#endif
