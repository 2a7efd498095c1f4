/*
 * churn.h - the changes --churn makes to a generated list of N items that
 * are numbered 1 .. N: some unassigned, as many renamed, some added.
 *
 * Churn of P percent changes C = N * P / 100 items: K = C / 3 are
 * unassigned, K are renamed and C - 2 K new items are added after the
 * last.  The unassigned items are spread evenly: with the step S = N / K
 * they are the numbers j S + S / 2 + 1 for j = 0 .. K - 1, and the item
 * after each of them is renamed.  Nothing is allocated, so a million items
 * cost nothing.
 */
#ifndef FAKEIDP_CHURN_H
#define FAKEIDP_CHURN_H

#include <stdbool.h>
#include <stddef.h>

struct churn {
	long items;             /* N, the base items */
	long unassigned;        /* K: unassigned, and as many renamed */
	long added;             /* new items after the base ones */
	long step;              /* S, the distance between two unassigned items */
	long first;             /* number of the first unassigned item */
};

/* Sets up c for a list of items base items with percent (0 to 100) of them changed. */
void churn_init(struct churn *c, long items, long percent);

/* True when base item number (1 .. N) was unassigned. */
bool churn_is_unassigned(const struct churn *c, long number);

/* True when base item number (1 .. N) was renamed: the one after an unassigned one. */
bool churn_is_renamed(const struct churn *c, long number);

/* Counts the items that remain: the base items that stay, then the added ones. */
size_t churn_kept_count(const struct churn *c);

/*
 * Returns the number of the kept item at position i (from 0): a base number in
 * 1 .. N, or N + m for added item m.
 */
long churn_kept_number(const struct churn *c, size_t i);

#endif
