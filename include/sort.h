/*
 * sort.h - qsort() that skips an array that is in order already.
 *
 * The plan of a first sync is all assigns, created in the order the plan
 * sorts them in, and a listing that returns users in id order gives an
 * identity set in order.  Checking takes count - 1 comparisons, where
 * sorting takes about count * log2(count).
 */
#ifndef ROSTERSYNC_SORT_H
#define ROSTERSYNC_SORT_H

#include <stddef.h>

/* Sorts count elements of size bytes at base with qsort() unless they are in order. */
void sort_unless_sorted(void *base, size_t count, size_t size,
			int (*compare)(const void *, const void *));

#endif
