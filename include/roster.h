/*
 * roster.h - the local team roster, one SQLite file per tenant.
 *
 * The file is created with mode 0600 and opened in WAL mode; its schema
 * carries a version (PRAGMA user_version) and is migrated forward on open.
 * It holds the team, its members, one event per operation, the runs, and
 * key/value sync state.  While a source manages the team, triggers reject
 * writes to the members table from any other program, and each row carries
 * a checksum (member_checksum()) so that a change that slipped past shows
 * up as drift in the next snapshot.
 *
 * struct roster is opaque: it owns the SQLite connection and the prepared
 * statements.  Every function logs its own SQLite errors.
 */
#ifndef ROSTERSYNC_ROSTER_H
#define ROSTERSYNC_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "member.h"
#include "plan.h"

#define ROSTER_SCHEMA_VERSION 2

struct roster;

struct roster_team {
	char *name;
	long seats;
	char *source;           /* "okta"/"graph" while managed, else NULL */
	char *org;              /* org URL or tenant id of the managing source */
	char *app;              /* app id of the managing source */
	int64_t managed_since;  /* 0 when not managed */
	int64_t released_at;    /* last `release`, 0 if never */
	/*
	 * An IdP took the roster over before, although source is NULL and it was
	 * never released: the team row was changed outside rostersync.  Only
	 * looked up when source is NULL and released_at is 0.
	 */
	bool managed_before;
};

struct roster_run {
	char *id;
	char *command;          /* "sync", "members add", "release", ... */
	char *source;
	int64_t started_at;
	int64_t finished_at;    /* 0 while running */
	char *outcome;          /* "success", "no change", "blocked", "failed" */
	int exit_status;
	long counts[PLAN_OP_COUNT];
	long skipped;
	char *plan_id;
	char *error;
};

/* One sync_state key and its new value; a NULL value deletes the key. */
struct roster_state_entry {
	const char *key;
	const char *value;
};

/* What roster_apply() writes besides the plan's operations. */
struct roster_apply {
	const char *run_id;
	const struct plan *plan;
	const char *source;       /* takes over or keeps the team managed */
	const char *source_title; /* named in the trigger messages */
	const char *org;
	const char *app;
	const char *team_name;
	long seats;
	const char *approved_plan_id; /* recorded as used, or NULL */
	int64_t now;
	/* Saved in the same transaction, e.g. the cursor that led to the plan. */
	const struct roster_state_entry *state;
	size_t state_count;
};

/*
 * Opens (creating with mode 0600 when missing) and migrates the roster at
 * path.  A file with a newer schema than ROSTER_SCHEMA_VERSION is refused.
 * Returns RS_ERR_TEMPFAIL when another connection kept the roster locked
 * past the busy timeout, RS_ERR_IO on any other failure, with a logged
 * reason; *out is NULL then.
 */
enum rs_err roster_open(const char *path, struct roster **out);

/*
 * Finds the first of the roster at path and its -wal and -shm files that
 * exists and that this process may not write, and writes into out which
 * file it is, why, and the command that fixes it.  Returns false when all
 * are writable.  SQLite fails every write when one of them is not, and a
 * read-only command leaves -wal and -shm files with the roster's mode.
 */
bool roster_unwritable_file(const char *path, char *out, size_t size);

/*
 * Runs SQLite's quick check of the file.  Writes the first problem it finds
 * into problem, or an empty string when the file is sound.  Returns an
 * error only when the check itself could not run.
 */
enum rs_err roster_integrity(struct roster *roster, char *problem, size_t size);
void roster_close(struct roster *roster);

/* Fills *out with the team row; a roster with no team yet gives zeros. */
enum rs_err roster_team_get(struct roster *roster, struct roster_team *out);
void roster_team_release(struct roster_team *team);

/*
 * Reads every member into *members (in id order) with drifted set where the
 * stored checksum does not match the row while the team is managed, and
 * into *deleted_ids (sorted, owned by the caller, freed with free()) the
 * external ids of source that events mention but no member row holds.
 * *members is initialised here.  deleted_ids and deleted_count may be NULL
 * when the caller needs only the members.  On failure nothing is returned.
 */
enum rs_err roster_snapshot(struct roster *roster, const char *source,
			    struct member_list *members,
			    char ***deleted_ids, size_t *deleted_count);

/*
 * Restores the state of each drifted member of members (a snapshot) whose
 * row's state differs from the one rostersync last wrote.  The events give
 * that state and the time it began, so a seat taken or given up by editing
 * the row is not kept.  Sets state_restored and row_state on those members.
 * Also restores a changed source and external id, unless another row has
 * the recorded ones, so that the plan puts the row back in place.
 */
enum rs_err roster_restore_drifted_states(struct roster *roster, struct member_list *members);

/*
 * For each of the count deleted ids of roster_snapshot(), sets states[i]
 * and since[i] to the state that the newest event of the id recorded and
 * when it began, when the member row of that event was deleted outside
 * rostersync.  The state is MEMBER_UNASSIGNED otherwise, as for a row that
 * a sync linked to the new id of a user created again.
 */
enum rs_err roster_deleted_states(struct roster *roster, const char *source, char *const *ids,
				  size_t count, enum member_state *states, int64_t *since);

/*
 * Applies every entry of the plan, one event each, marks the team as
 * managed by source (taking it over when needed) and records the approval,
 * all in one transaction.  On any failure the transaction is rolled back
 * and nothing is written.
 */
enum rs_err roster_apply(struct roster *roster, const struct roster_apply *apply);

/*
 * Creates again, in a transaction of its own, the triggers that block
 * manual changes when one of them is missing or altered, and the
 * agent_write table when it was dropped.  Deletes a row that another
 * program left in agent_write.  Logs a warning for each.
 * A sync calls it before it reads the IdP, so that a run that writes
 * nothing (a failed read, a plan past the deletion threshold) repairs them
 * too.
 */
enum rs_err roster_triggers_repair(struct roster *roster, const char *source_title);

/*
 * True when the agent_write table contains a row outside a write of
 * rostersync, which turns the triggers off.  roster_triggers_repair()
 * deletes it.
 */
bool roster_agent_write_left(struct roster *roster);

/* Records the start and the end of a run (each its own short transaction). */
enum rs_err roster_run_start(struct roster *roster, const char *run_id,
			     const char *command, const char *source, int64_t now);
enum rs_err roster_run_finish(struct roster *roster, const struct roster_run *run);

/*
 * Sets counts to the changes that run_id's events after event after_id
 * record: an "assign", or an "add" that got a seat, counts as assigned; a
 * "remove" or "unassign" as unassigned; an "add" that waits as waiting.
 * For the runs of manual commands, which have no plan to count.
 */
enum rs_err roster_run_count_events(struct roster *roster, const char *run_id, int64_t after_id,
				    long counts[PLAN_OP_COUNT]);

/*
 * The last limit runs, newest first.  The caller releases each with
 * roster_run_release() and frees *out.
 */
enum rs_err roster_runs_recent(struct roster *roster, size_t limit,
			       struct roster_run **out, size_t *count);
void roster_run_release(struct roster_run *run);

/*
 * Stores in *at the finish time of the newest run of command that exited
 * 0, or 0 when there is none.
 */
enum rs_err roster_last_success(struct roster *roster, const char *command, int64_t *at);

/* Counts the members by state into counts, indexed by enum member_state. */
enum rs_err roster_member_counts(struct roster *roster, long counts[3]);

/* An event whose reason starts with "manual change reverted". */
struct roster_drift {
	int64_t at;
	char *run_id;
	char *op;
	char *email;            /* may be NULL */
	char *external_id;      /* may be NULL */
	char *reason;
};

/*
 * The last limit drift events, newest first.  The caller frees them with
 * roster_drifts_free().  *out is NULL and *count 0 on failure.
 */
enum rs_err roster_drifts_recent(struct roster *roster, size_t limit,
				 struct roster_drift **out, size_t *count);
void roster_drifts_free(struct roster_drift *drifts, size_t count);

/*
 * Key/value sync state: cursors, the blocked plan.  *value NULL if absent
 * (the caller frees it); setting NULL deletes the key.
 */
enum rs_err roster_state_get(struct roster *roster, const char *key, char **value);
enum rs_err roster_state_set(struct roster *roster, const char *key, const char *value);

/*
 * The sync state keys of a plan that the deletion threshold stopped: its
 * id and why.  An empty value means that no plan awaits approval.
 */
#define ROSTER_STATE_BLOCKED_PLAN "blocked_plan_id"
#define ROSTER_STATE_BLOCKED_DETAIL "blocked_plan_detail"

/*
 * The sync state key of the ids, one per line and sorted, that the last
 * applied run found assigned to the app but missing from the directory.
 */
#define ROSTER_STATE_USERS_MISSING "users_missing"

/*
 * The id of the newest event, 0 for none.  It grows with every applied
 * change, so it tells two identical plans apart when the roster changed
 * in between.
 */
enum rs_err roster_last_event_id(struct roster *roster, int64_t *id);

/* The time of the newest event (Unix seconds), 0 for none. */
enum rs_err roster_last_event_time(struct roster *roster, int64_t *at);

/* True when plan_id was approved and applied before. */
enum rs_err roster_approval_used(struct roster *roster, const char *plan_id, bool *used);

/*
 * Manual management, refused with RS_ERR_PERMISSION while a source manages
 * the team (the caller prints where to make the change).  member_add puts
 * the member in waiting when no seat is free.  Each writes an event.
 *
 * member_add stores source "manual" and no external id.  An email that an
 * active or waiting member has (compared case-insensitively) gives
 * RS_ERR_USAGE; an unassigned member with it is reactivated instead.
 * member_add first gives free seats to waiting members, longest waiting
 * first, and the new member is active only when a seat is still free.
 * member_remove marks the member unassigned; an unknown email gives
 * RS_ERR_USAGE, and an unassigned member is left as it is, with *changed
 * false.  When that
 * frees one of seats, the member waiting longest gets it, in the same
 * transaction.
 */
enum rs_err roster_member_add(struct roster *roster, const char *run_id,
			      const struct member *member, long seats, int64_t now,
			      enum member_state *state_out);
enum rs_err roster_member_remove(struct roster *roster, const char *run_id,
				 const char *email, long seats, int64_t now, bool *changed);

/*
 * Hands the team back to manual management, drops the triggers and writes
 * an event.  A team that no source manages is left as it is.
 */
enum rs_err roster_release(struct roster *roster, const char *run_id, int64_t now);

#endif
