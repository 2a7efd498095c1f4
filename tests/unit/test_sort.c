/*
 * test_sort.c - sort_unless_sorted(): qsort() skipped for an array in order.
 */
#include <stdlib.h>

#include "unit.h"
#include "sort.h"

static size_t comparisons;

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a;
	int y = *(const int *)b;

	comparisons++;
	return (x > y) - (x < y);
}

static void sorted_array_costs_one_pass(void **state)
{
	int values[1000];

	(void)state;
	for (int i = 0; i < 1000; i++)
		values[i] = i / 3;
	comparisons = 0;
	sort_unless_sorted(values, 1000, sizeof(values[0]), compare_int);
	assert_int_equal(comparisons, 999);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(values[i], i / 3);
}

static void unsorted_array_is_sorted(void **state)
{
	int values[1000];

	(void)state;
	for (int i = 0; i < 1000; i++)
		values[i] = (i * 7919) % 1000;
	values[999] = -1;
	sort_unless_sorted(values, 1000, sizeof(values[0]), compare_int);
	for (int i = 1; i < 1000; i++)
		assert_true(values[i - 1] <= values[i]);
	assert_int_equal(values[0], -1);
}

static void empty_and_single_arrays(void **state)
{
	int single = 5;

	(void)state;
	comparisons = 0;
	sort_unless_sorted(NULL, 0, sizeof(int), compare_int);
	sort_unless_sorted(&single, 1, sizeof(single), compare_int);
	assert_int_equal(comparisons, 0);
	assert_int_equal(single, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sorted_array_costs_one_pass),
		cmocka_unit_test(unsorted_array_is_sorted),
		cmocka_unit_test(empty_and_single_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
