/*
 * sort.c - qsort() that skips an array that is in order already.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "sort.h"

static bool is_sorted(const char *base, size_t count, size_t size,
		      int (*compare)(const void *, const void *))
{
	for (size_t i = 1; i < count; i++) {
		if (compare(base + (i - 1) * size, base + i * size) > 0)
			return false;
	}
	return true;
}

void sort_unless_sorted(void *base, size_t count, size_t size,
			int (*compare)(const void *, const void *))
{
	if (!is_sorted(base, count, size, compare))
		qsort(base, count, size, compare);
}
