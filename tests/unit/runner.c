// SPDX-License-Identifier: GPL-2.0
/* One CUnit registry; each tests/unit/test_<name>.c adds suite_<name>(). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "wgnet/log.h"

int main(int argc, char **argv)
{
	unsigned int failures;

	log_level = LOG_LVL_ERR;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
#define X(fn) fn();
	SUITES
#undef X
	CU_basic_set_mode(argc > 1 && !strcmp(argv[1], "-v") ? CU_BRM_VERBOSE
							       : CU_BRM_NORMAL);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	printf("\n%u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
