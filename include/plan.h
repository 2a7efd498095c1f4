/*
 * plan.h - the diff between the IdP and the roster, as ordered operations.
 *
 * plan_build() is a pure function: it reads a finished identity set, a
 * roster snapshot and the seat and safety settings, and returns the
 * operations with a reason for each.  It does no I/O, so `plan`,
 * `sync --dry-run` and a real `sync` compute the very same operations.
 *
 * Order: unassigns, then updates, then assigns, then waits; within each,
 * by lower-case email and then external id.  Seats go to waiting members
 * first (longest waiting first, kept manual members among them), then to
 * new assignments in that order.
 */
#ifndef ROSTERSYNC_PLAN_H
#define ROSTERSYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "identity.h"
#include "member.h"

enum plan_op { PLAN_ASSIGN = 0, PLAN_UPDATE, PLAN_UNASSIGN, PLAN_WAIT };
#define PLAN_OP_COUNT 4

struct plan_input {
	const struct identity_set *identities; /* finished (sorted, merged) */
	const struct member_list *members;     /* every row of the roster */
	const char *source;        /* "okta" or "graph" */
	const char *source_title;  /* "Okta" or "Microsoft Entra ID" */
	long seats;
	bool unassign_unmanaged;   /* sync.unmanaged_members: unassign */
	int64_t managed_since;     /* 0 when this run takes the roster over */
	char *const *deleted_ids;  /* sorted ids the roster once held, now gone */
	size_t deleted_count;
	/*
	 * Parallel to deleted_ids, or NULL: the state and its start that the
	 * events recorded for a row deleted outside rostersync
	 * (roster_deleted_states()).  Such a person gets the seat or the place
	 * in the waiting list back; MEMBER_UNASSIGNED restores nothing.
	 */
	const enum member_state *deleted_states;
	const int64_t *deleted_since;
	/*
	 * Sorted ids that the previous applied run also found assigned but
	 * missing from the directory.  A member whose user is missing now is
	 * unassigned only when its id is here, so that one read that misses a
	 * user (directory replication lag) costs no seat.
	 */
	char *const *missing_before;
	size_t missing_before_count;
	long max_unassign;         /* 0 disables */
	long max_unassign_percent; /* 0 disables */
	int64_t now;
	int64_t roster_version;    /* roster_last_event_id(): part of the plan id */
};

/*
 * One operation.  Its strings are not its own: they point into the plan
 * input's identities and members, its source, and the plan's string pool,
 * so the input must outlive the plan and nothing may free them one by one.
 */
struct plan_entry {
	enum plan_op op;
	const struct member *before; /* the row as it is, in the input's members;
				      * NULL for a member new to the roster */
	struct member after;  /* the row as it will be */
	char *reason;         /* in words, e.g. "user suspended in Okta" */
};

/* An identity the plan skipped (invalid email, email conflict, unknown status). */
struct plan_problem {
	char *external_id;
	char *email;          /* may be NULL */
	char *message;
};

struct plan {
	struct plan_entry *entries;
	size_t count;
	struct plan_problem *problems;
	size_t problem_count;
	size_t counts[PLAN_OP_COUNT]; /* entries by op */
	size_t seats_used;            /* active members after the plan */
	size_t active_before;         /* active members before the plan */
	char id[17];                  /* hex prefix of SHA-256 over the entries and roster_version */
	bool threshold_tripped;
	char *threshold_reason;       /* set when tripped */
	struct strpool strings;       /* reasons and provenances of the entries */
};

/*
 * Computes the plan for in.  On success *out owns its entries and problems;
 * the entries borrow strings from in (see struct plan_entry).  Returns
 * RS_ERR_INTERNAL when memory runs out; *out is then empty.
 */
enum rs_err plan_build(const struct plan_input *in, struct plan *out);

void plan_release(struct plan *plan);

/* "assign", "update", "unassign", "wait". */
const char *plan_op_name(enum plan_op op);

/*
 * True when entry takes a seat from an active member: an unassign, or a
 * move to the waiting list.  The deletion threshold counts these.
 */
bool plan_entry_loses_seat(const struct plan_entry *entry);

#endif
