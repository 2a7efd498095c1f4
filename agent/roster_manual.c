/*
 * roster_manual.c - managing the roster by hand: members add and remove,
 * and release, which hands a managed roster back to manual management.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "roster_internal.h"

/*
 * Returns RS_ERR_PERMISSION while a source manages the team.  It logs
 * nothing, because the caller prints where to make the change instead.
 */
static enum rs_err check_not_managed(struct roster *roster)
{
	char *source = NULL;
	enum rs_err err = roster_team_source(roster, &source);

	if (err == RS_OK && source)
		err = RS_ERR_PERMISSION;
	free(source);
	return err;
}

/*
 * Steps stmt, whose parameters are bound, and reads the member of its first
 * row into *member; *found is false when there is no row.  operation names
 * the lookup in an error.
 */
static enum rs_err read_first_member(struct roster *roster, sqlite3_stmt *stmt,
				     const char *operation, struct member *member, bool *found)
{
	enum rs_err err = RS_OK;
	bool has_checksum;
	uint64_t checksum;
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW) {
		err = roster_member_read(roster, stmt, member, &has_checksum, &checksum);
		*found = err == RS_OK;
	} else if (rc != SQLITE_DONE) {
		err = roster_sqlite_error(roster, operation);
	}
	sqlite3_reset(stmt);
	return err;
}

/* Finds the member with email, compared case-insensitively.  *found is false when none has it. */
static enum rs_err find_member(struct roster *roster, const char *email, struct member *member,
			       bool *found)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_BY_EMAIL);

	*found = false;
	memset(member, 0, sizeof(*member));
	if (!stmt)
		return RS_ERR_IO;
	if (!roster_bind_text(stmt, 1, email))
		return roster_sqlite_error(roster, "binding an email");
	return read_first_member(roster, stmt, "looking up a member by email", member, found);
}

static enum rs_err count_active(struct roster *roster, long *count)
{
	int64_t value = 0;
	enum rs_err err = roster_stmt_int64(roster, STMT_ACTIVE_COUNT, "counting active members",
					    &value);

	*count = (long)value;
	return err;
}

/*
 * Sets the state of row id with statement which (STMT_MEMBER_SET_STATE or
 * STMT_MEMBER_ADD_AGAIN).  Names that are not NULL replace the stored ones,
 * and STMT_MEMBER_ADD_AGAIN also stores email.
 */
static enum rs_err update_state(struct roster *roster, enum roster_stmt_id which, int64_t id,
				enum member_state state, const char *given_name,
				const char *family_name, const char *email, int64_t now)
{
	sqlite3_stmt *stmt = roster_stmt(roster, which);

	if (!stmt)
		return RS_ERR_IO;
	if (which == STMT_MEMBER_ADD_AGAIN && !roster_bind_text(stmt, 6, email))
		return roster_sqlite_error(roster, "binding a member's email");
	if (!(sqlite3_bind_int64(stmt, 1, id) == SQLITE_OK &&
	      roster_bind_text(stmt, 2, member_state_name(state)) &&
	      sqlite3_bind_int64(stmt, 3, now) == SQLITE_OK &&
	      roster_bind_text(stmt, 4, given_name) &&
	      roster_bind_text(stmt, 5, family_name)))
		return roster_sqlite_error(roster, "binding a member state");
	return roster_step_done(roster, stmt, "changing a member's state");
}

static enum rs_err set_state(struct roster *roster, int64_t id, enum member_state state,
			     int64_t now)
{
	return update_state(roster, STMT_MEMBER_SET_STATE, id, state, NULL, NULL, NULL, now);
}

/* Writes the event of a manual change.  before is NULL for a new member. */
static enum rs_err record_change(struct roster *roster, const char *run_id, const char *op,
				 const struct member *before, const struct member *after,
				 const char *reason, int64_t now)
{
	char *before_json = before ? roster_member_json(before) : NULL;
	char *after_json = roster_member_json(after);
	enum rs_err err = RS_ERR_INTERNAL;

	if (after_json && (before_json || !before)) {
		struct roster_event event = {
			.run_id = run_id,
			.at = now,
			.op = op,
			.member_id = after->id,
			.email = after->email,
			.external_id = after->external_id,
			.source = after->source,
			.before = before_json,
			.after = after_json,
			.reason = reason,
		};

		err = roster_event_add(roster, &event);
	} else {
		log_msg(LOG_ERROR, "roster %s: out of memory writing an event", roster->path);
	}

	free(after_json);
	free(before_json);
	return err;
}

/* Copies stored into *after with the names of request that are not NULL. */
static bool copy_with_names(struct member *after, const struct member *stored,
			    const struct member *request)
{
	const char *given = request->given_name ? request->given_name : stored->given_name;
	const char *family = request->family_name ? request->family_name : stored->family_name;
	char *given_copy = given ? strdup(given) : NULL;
	char *family_copy = family ? strdup(family) : NULL;

	if ((given && !given_copy) || (family && !family_copy) || !member_copy(after, stored)) {
		free(given_copy);
		free(family_copy);
		return false;
	}

	free(after->given_name);
	free(after->family_name);
	after->given_name = given_copy;
	after->family_name = family_copy;
	return true;
}

/*
 * Drops the link of *member to an IdP user: it becomes a manual member with
 * the address email and no IdP login.
 */
static bool make_manual(struct member *member, const char *email)
{
	char *source = strdup("manual");
	char *email_copy = strdup(email);

	if (!source || !email_copy) {
		free(source);
		free(email_copy);
		return false;
	}
	free(member->source);
	free(member->external_id);
	free(member->provenance);
	free(member->user_name);
	free(member->email);
	member->source = source;
	member->external_id = NULL;
	member->provenance = NULL;
	member->user_name = NULL;
	member->email = email_copy;
	return true;
}

/*
 * Reactivates an unassigned row as a manual member, so that a later take-over
 * treats it like every member added by hand (sync.unmanaged_members).
 */
static enum rs_err add_again(struct roster *roster, const char *run_id,
			     const struct member *stored, const struct member *request,
			     enum member_state state, int64_t now)
{
	struct member after = { 0 };
	enum rs_err err;

	err = update_state(roster, STMT_MEMBER_ADD_AGAIN, stored->id, state,
			   request->given_name, request->family_name, request->email, now);
	if (err != RS_OK)
		return err;

	if (!copy_with_names(&after, stored, request) || !make_manual(&after, request->email)) {
		member_release(&after);
		log_msg(LOG_ERROR, "roster %s: out of memory adding a member", roster->path);
		return RS_ERR_INTERNAL;
	}
	after.state = state;

	err = record_change(roster, run_id, "add", stored, &after, state == MEMBER_ACTIVE ?
			    "added again by hand as a manual member" :
			    "added again by hand as a manual member; no free seat, waiting", now);
	member_release(&after);
	return err;
}

static enum rs_err add_new(struct roster *roster, const char *run_id,
			   const struct member *request, enum member_state state, int64_t now)
{
	struct member row = {
		.source = "manual",
		.email = request->email,
		.user_name = request->user_name,
		.given_name = request->given_name,
		.family_name = request->family_name,
		.display_name = request->display_name,
		.state = state,
		.created_at = now,
		.state_since = now,
	};
	enum rs_err err;

	/* row borrows request's strings: it is only read, never released. */
	err = roster_member_insert(roster, &row, now, false, &row.id);
	if (err != RS_OK)
		return err;
	return record_change(roster, run_id, "add", NULL, &row,
			     state == MEMBER_ACTIVE ? "added by hand"
						    : "added by hand; no free seat, waiting",
			     now);
}

/* Finds the member waiting longest for a seat; *found is false when none waits. */
static enum rs_err find_longest_waiting(struct roster *roster, struct member *member, bool *found)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_LONGEST_WAITING);

	*found = false;
	memset(member, 0, sizeof(*member));
	if (!stmt)
		return RS_ERR_IO;
	return read_first_member(roster, stmt, "looking up the member waiting longest", member,
				 found);
}

/*
 * Gives a free seat, if there is one of seats, to the member waiting
 * longest.  *seated is true when a member got it.
 */
static enum rs_err fill_free_seat(struct roster *roster, const char *run_id, long seats,
				  int64_t now, bool *seated)
{
	struct member waiting;
	struct member after;
	long active = 0;
	bool found = false;
	enum rs_err err = count_active(roster, &active);

	*seated = false;
	if (err == RS_OK && active < seats)
		err = find_longest_waiting(roster, &waiting, &found);
	if (err != RS_OK || !found)
		return err;

	err = set_state(roster, waiting.id, MEMBER_ACTIVE, now);
	if (err == RS_OK && !member_copy(&after, &waiting)) {
		log_msg(LOG_ERROR, "roster %s: out of memory giving a seat", roster->path);
		err = RS_ERR_INTERNAL;
	}
	if (err == RS_OK) {
		after.state = MEMBER_ACTIVE;
		after.state_since = now;
		err = record_change(roster, run_id, "assign", &waiting, &after, "seat became free",
				    now);
		member_release(&after);
	}
	if (err == RS_OK)
		log_msg(LOG_INFO, "roster %s: member %s got the free seat", roster->path,
			waiting.email);
	*seated = err == RS_OK;
	member_release(&waiting);
	return err;
}

/* Gives free seats to waiting members, longest waiting first, while any is free. */
static enum rs_err fill_free_seats(struct roster *roster, const char *run_id, long seats,
				   int64_t now)
{
	bool seated = true;
	enum rs_err err = RS_OK;

	while (err == RS_OK && seated)
		err = fill_free_seat(roster, run_id, seats, now, &seated);
	return err;
}

static enum rs_err add_in_transaction(struct roster *roster, const char *run_id,
				      const struct member *request, long seats, int64_t now,
				      enum member_state *state)
{
	struct member stored;
	long active = 0;
	bool found;
	enum rs_err err;

	err = check_not_managed(roster);
	if (err == RS_OK)
		err = find_member(roster, request->email, &stored, &found);
	if (err != RS_OK)
		return err;

	if (found && stored.state != MEMBER_UNASSIGNED) {
		log_msg(LOG_ERROR, "roster %s: member %s already exists as %s (state %s);"
			" nothing was added", roster->path, request->email, stored.email,
			member_state_name(stored.state));
		member_release(&stored);
		return RS_ERR_USAGE;
	}

	/* Members already waiting get the seats that a raised limit freed first. */
	err = fill_free_seats(roster, run_id, seats, now);
	if (err == RS_OK)
		err = count_active(roster, &active);
	if (err == RS_OK) {
		*state = active < seats ? MEMBER_ACTIVE : MEMBER_WAITING;
		if (found)
			err = add_again(roster, run_id, &stored, request, *state, now);
		else
			err = add_new(roster, run_id, request, *state, now);
	}
	if (found)
		member_release(&stored);
	return err;
}

enum rs_err roster_member_add(struct roster *roster, const char *run_id,
			      const struct member *member, long seats, int64_t now,
			      enum member_state *state_out)
{
	enum member_state state = MEMBER_WAITING;
	enum rs_err err;

	if (!member->email || !member->email[0]) {
		log_msg(LOG_ERROR, "roster %s: adding a member failed: the email is missing",
			roster->path);
		return RS_ERR_USAGE;
	}

	err = roster_write_begin(roster, "adding a member");
	if (err != RS_OK)
		return err;

	err = add_in_transaction(roster, run_id, member, seats, now, &state);
	if (err == RS_OK)
		err = roster_write_commit(roster, "adding a member");
	if (err != RS_OK) {
		roster_rollback(roster, "adding a member");
		return err;
	}

	log_msg(LOG_INFO, "roster %s: member %s added as %s", roster->path, member->email,
		member_state_name(state));
	if (state_out)
		*state_out = state;
	return RS_OK;
}

/* Unassigns the member with email.  *changed is false when it was unassigned already. */
static enum rs_err remove_in_transaction(struct roster *roster, const char *run_id,
					 const char *email, long seats, int64_t now,
					 bool *changed)
{
	struct member stored;
	struct member after;
	bool found;
	enum rs_err err;

	*changed = false;
	err = check_not_managed(roster);
	if (err == RS_OK)
		err = find_member(roster, email, &stored, &found);
	if (err != RS_OK)
		return err;

	if (!found) {
		log_msg(LOG_ERROR, "roster %s: member %s not found; run \"rostersync members"
			" list -c CONFIG\" to see the members", roster->path, email);
		return RS_ERR_USAGE;
	}
	if (stored.state == MEMBER_UNASSIGNED) {
		member_release(&stored);
		return RS_OK;
	}

	err = set_state(roster, stored.id, MEMBER_UNASSIGNED, now);
	if (err == RS_OK && !member_copy(&after, &stored)) {
		log_msg(LOG_ERROR, "roster %s: out of memory removing a member", roster->path);
		err = RS_ERR_INTERNAL;
	}
	if (err == RS_OK) {
		after.state = MEMBER_UNASSIGNED;
		err = record_change(roster, run_id, "remove", &stored, &after, "removed by hand",
				    now);
		member_release(&after);
		*changed = err == RS_OK;
	}
	if (err == RS_OK && stored.state == MEMBER_ACTIVE)
		err = fill_free_seats(roster, run_id, seats, now);
	member_release(&stored);
	return err;
}

enum rs_err roster_member_remove(struct roster *roster, const char *run_id,
				 const char *email, long seats, int64_t now, bool *changed_out)
{
	bool changed = false;
	enum rs_err err;

	if (!email || !email[0]) {
		log_msg(LOG_ERROR, "roster %s: removing a member failed: the email is missing",
			roster->path);
		return RS_ERR_USAGE;
	}

	err = roster_write_begin(roster, "removing a member");
	if (err != RS_OK)
		return err;

	err = remove_in_transaction(roster, run_id, email, seats, now, &changed);
	if (err == RS_OK)
		err = roster_write_commit(roster, "removing a member");
	if (err != RS_OK) {
		roster_rollback(roster, "removing a member");
		return err;
	}

	if (changed)
		log_msg(LOG_INFO, "roster %s: member %s removed", roster->path, email);
	else
		log_msg(LOG_INFO, "roster %s: member %s was unassigned already; nothing changed",
			roster->path, email);
	*changed_out = changed;
	return RS_OK;
}

static enum rs_err record_release(struct roster *roster, const char *run_id,
				  const struct roster_team *team, int64_t now)
{
	char *before_json = roster_management_json(team->source, team->org, team->app,
						   team->managed_since, team->released_at);
	char *after_json = roster_management_json(NULL, NULL, NULL, 0, now);
	enum rs_err err = RS_ERR_INTERNAL;

	if (before_json && after_json) {
		struct roster_event event = {
			.run_id = run_id,
			.at = now,
			.op = "release",
			.source = team->source,
			.before = before_json,
			.after = after_json,
			.reason = "roster released to manual management",
		};

		err = roster_event_add(roster, &event);
	} else {
		log_msg(LOG_ERROR, "roster %s: out of memory writing the release event",
			roster->path);
	}

	free(after_json);
	free(before_json);
	return err;
}

/* Releases the team.  *released is false when no source managed it. */
static enum rs_err release_in_transaction(struct roster *roster, const char *run_id,
					  int64_t now, bool *released)
{
	struct roster_team team;
	sqlite3_stmt *stmt;
	enum rs_err err;

	*released = false;
	err = roster_team_get(roster, &team);
	if (err != RS_OK)
		return err;
	if (!team.source)
		goto out;

	stmt = roster_stmt(roster, STMT_TEAM_RELEASE);
	if (!stmt) {
		err = RS_ERR_IO;
		goto out;
	}
	if (sqlite3_bind_int64(stmt, 1, now) != SQLITE_OK) {
		err = roster_sqlite_error(roster, "binding the release time");
		goto out;
	}

	err = roster_step_done(roster, stmt, "releasing the team");
	if (err == RS_OK)
		err = roster_triggers_drop(roster);
	/* A plan that awaited approval can no longer be approved. */
	if (err == RS_OK)
		err = roster_state_write(roster, ROSTER_STATE_BLOCKED_PLAN, "", now);
	if (err == RS_OK)
		err = roster_state_write(roster, ROSTER_STATE_BLOCKED_DETAIL, "", now);
	if (err == RS_OK)
		err = record_release(roster, run_id, &team, now);
	*released = err == RS_OK;
out:
	roster_team_release(&team);
	return err;
}

enum rs_err roster_release(struct roster *roster, const char *run_id, int64_t now)
{
	bool released = false;
	enum rs_err err;

	err = roster_write_begin(roster, "releasing the roster");
	if (err != RS_OK)
		return err;

	err = release_in_transaction(roster, run_id, now, &released);
	if (err == RS_OK)
		err = roster_write_commit(roster, "releasing the roster");
	if (err != RS_OK) {
		roster_rollback(roster, "releasing the roster");
		return err;
	}

	if (released)
		log_msg(LOG_INFO, "roster %s: released to manual management", roster->path);
	else
		log_msg(LOG_INFO, "roster %s: no source manages the roster; nothing to release",
			roster->path);
	return RS_OK;
}
