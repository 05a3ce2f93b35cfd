/*
 * otus_test.h: what every cmocka unit test includes. OTUS_TEST_MAIN runs the given
 * tests; a test binary given an argument runs only the tests whose names match that
 * glob pattern (cmocka_set_test_filter), e.g. build/tests/test_json escape_*.
 */
#ifndef OTUS_TEST_H
#define OTUS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define OTUS_TEST_MAIN(tests)                                                                      \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        if (argc > 1)                                                                              \
            cmocka_set_test_filter(argv[1]);                                                       \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

/* Asserts that a buffer holds exactly the NUL-terminated string s. */
#define assert_buf_eq(buf, s)                                                                      \
    do {                                                                                           \
        assert_int_equal((buf)->len, strlen(s));                                                   \
        assert_memory_equal((buf)->data, (s), strlen(s));                                          \
    } while (0)

#endif
