/*
 * churn.c - which generated items --churn unassigns, renames and adds,
 * computed from their number on every access.
 */
#include "churn.h"

void churn_init(struct churn *c, long items, long percent)
{
	long changes = (long)((long long)items * percent / 100);

	c->items = items;
	c->unassigned = changes / 3;
	c->added = changes - 2 * c->unassigned;
	c->step = c->unassigned > 0 ? items / c->unassigned : 0;
	c->first = c->step / 2 + 1;
}

bool churn_is_unassigned(const struct churn *c, long number)
{
	long offset = number - c->first;

	return c->unassigned > 0 && offset >= 0 && offset % c->step == 0 &&
	       offset / c->step < c->unassigned;
}

bool churn_is_renamed(const struct churn *c, long number)
{
	return number > 1 && churn_is_unassigned(c, number - 1);
}

/* Counts the unassigned items with a number of at most number. */
static long unassigned_up_to(const struct churn *c, long number)
{
	long count;

	if (c->unassigned == 0 || number < c->first)
		return 0;
	count = (number - c->first) / c->step + 1;
	return count < c->unassigned ? count : c->unassigned;
}

size_t churn_kept_count(const struct churn *c)
{
	return (size_t)(c->items - c->unassigned + c->added);
}

/* A kept base item at position i is the smallest n with n - unassigned_up_to(n) = i + 1. */
long churn_kept_number(const struct churn *c, size_t i)
{
	long base_count = c->items - c->unassigned;
	long low = (long)i + 1;
	long high = c->items;

	if ((long)i >= base_count)
		return c->items + ((long)i - base_count) + 1;
	while (low < high) {
		long mid = low + (high - low) / 2;

		if (mid - unassigned_up_to(c, mid) >= (long)i + 1)
			high = mid;
		else
			low = mid + 1;
	}
	return low;
}
