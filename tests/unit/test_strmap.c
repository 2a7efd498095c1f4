/*
 * test_strmap.c - the string-keyed hash map of the Graph reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "strmap.h"

/* Graph-style ids that differ only in their last digits. */
static void format_id(char *out, size_t size, size_t number)
{
	snprintf(out, size, "10000000-0000-4000-8000-%012zu", number);
}

static void strmap_finds_what_was_put(void **state)
{
	struct strmap map = { 0 };
	char id[48];
	size_t value = 0;

	(void)state;
	for (size_t i = 0; i < 100000; i++) {
		format_id(id, sizeof(id), i);
		assert_non_null(strmap_put(&map, id, i));
	}
	assert_int_equal(map.count, 100000);
	assert_true(map.capacity >= 2 * map.count);

	for (size_t i = 0; i < 100000; i += 997) {
		format_id(id, sizeof(id), i);
		assert_true(strmap_get(&map, id, &value));
		assert_int_equal(value, i);
	}
	format_id(id, sizeof(id), 100000);
	assert_false(strmap_get(&map, id, &value));
	assert_false(strmap_get(&map, "", NULL));
	strmap_release(&map);
	assert_int_equal(map.count, 0);
}

static void strmap_put_keeps_first_value(void **state)
{
	struct strmap map = { 0 };
	char key[] = "00u1";
	const char *first;
	size_t value = 0;

	(void)state;
	first = strmap_put(&map, key, 7);
	assert_non_null(first);
	assert_true(first != key);

	key[3] = '2';
	assert_false(strmap_get(&map, key, NULL));
	key[3] = '1';
	assert_ptr_equal(strmap_put(&map, key, 8), first);
	assert_true(strmap_get(&map, "00u1", &value));
	assert_int_equal(value, 7);
	assert_int_equal(map.count, 1);
	strmap_release(&map);
}

static void strmap_borrowed_key_is_not_copied(void **state)
{
	struct strmap map = { 0 };
	const char *keys[] = { "a", "b", "c" };
	size_t value = 0;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		assert_true(strmap_put_borrowed(&map, keys[i], i));
	assert_true(strmap_put_borrowed(&map, "b", 9));
	assert_int_equal(map.count, 3);
	assert_true(strmap_get(&map, "b", &value));
	assert_int_equal(value, 1);
	assert_ptr_equal(strmap_put(&map, "c", 0), keys[2]);
	strmap_release(&map);
}

static void strmap_rejects_value_too_large(void **state)
{
	struct strmap map = { 0 };

	(void)state;
	assert_null(strmap_put(&map, "x", (size_t)STRMAP_VALUE_MAX + 1));
	assert_false(strmap_put_borrowed(&map, "y", (size_t)STRMAP_VALUE_MAX + 1));
	assert_int_equal(map.count, 0);
	assert_non_null(strmap_put(&map, "x", STRMAP_VALUE_MAX));
	strmap_release(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strmap_finds_what_was_put),
		cmocka_unit_test(strmap_put_keeps_first_value),
		cmocka_unit_test(strmap_borrowed_key_is_not_copied),
		cmocka_unit_test(strmap_rejects_value_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
