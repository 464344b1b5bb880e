// SPDX-License-Identifier: GPL-2.0
/* One CUnit registry; each tests/unit/test_<name>.c adds suite_<name>(). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"
#include "ut.h"
#include "wgnet/log.h"

#define UT_CLAIMS "/run/wgnet-claims"

char ut_prefix[8];
static bool claimed;

static bool matches(const char *pattern)
{
	glob_t g;
	int rc = glob(pattern, 0, NULL, &g);

	globfree(&g);
	return rc == 0;
}

/* Something on the machine already carries prefix p (lab/claim.sh's list). */
static bool prefix_used(const char *p)
{
	static const char *const where[][2] = {
		{ "/run/netns/", "-*" },
		{ "/etc/netns/", "-*" },
		{ "/var/run/wireguard/", "*" },
		{ "/var/run/wireguard/[tw]", "*" },
		{ "/sys/fs/bpf/wgnet/", "-*" },
		{ "/sys/fs/bpf/wgnet-", "-*" },
		{ "/tmp/wgnet-", "-*" },
	};
	char pat[128];

	for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++) {
		snprintf(pat, sizeof(pat), "%s%s%s", where[i][0], p,
			 where[i][1]);
		if (matches(pat))
			return true;
	}
	return false;
}

static int claim_prefix(void)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char dir[64];
	unsigned char r[3];
	FILE *f;

	if (mkdir(UT_CLAIMS, 0755) && errno != EEXIST)
		return -errno;
	for (int tries = 0; tries < 200; tries++) {
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return -EIO;
		snprintf(ut_prefix, sizeof(ut_prefix), "u%c%c%c",
			 chars[r[0] % 36], chars[r[1] % 36], chars[r[2] % 36]);
		snprintf(dir, sizeof(dir), UT_CLAIMS "/%s", ut_prefix);
		if (prefix_used(ut_prefix) || mkdir(dir, 0755))
			continue;
		snprintf(dir, sizeof(dir), UT_CLAIMS "/%s/pid", ut_prefix);
		f = fopen(dir, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
		claimed = true;
		return 0;
	}
	return -EAGAIN;
}

/* Whatever still carries the prefix (a test that failed half-way), then
 * the claim itself. */
static void release_prefix(void)
{
	char cmd[512];

	if (!claimed)
		return;
	claimed = false;
	snprintf(
		cmd, sizeof(cmd),
		"for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^%1$s-'); do "
		"ip netns del $n; done; rm -rf /sys/fs/bpf/wgnet-%1$s-* "
		"/var/run/wireguard/t%1$s* /tmp/wgnet-%1$s-* " UT_CLAIMS
		"/%1$s",
		ut_prefix);
	if (system(cmd))
		fprintf(stderr, "test_unit: cleanup of prefix %s failed\n",
			ut_prefix);
}

static void on_signal(int sig)
{
	exit(128 + sig); /* runs release_prefix */
}

int main(int argc, char **argv)
{
	unsigned int failures;

	log_level = LOG_LVL_ERR;
	if (claim_prefix()) {
		/* Not root: the tests that need names need root too. */
		snprintf(ut_prefix, sizeof(ut_prefix), "u%03d",
			 (int)(getpid() % 1000));
	} else {
		atexit(release_prefix);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
#define X(fn) fn();
	SUITES
#undef X
	CU_basic_set_mode(argc > 1 && !strcmp(argv[1], "-v") ? CU_BRM_VERBOSE :
							       CU_BRM_NORMAL);
	CU_basic_run_tests();
	failures =
		CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	printf("\n%u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
