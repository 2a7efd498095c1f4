/*
 * roster_apply.c - reading the roster for the plan (roster_snapshot) and
 * writing a plan back in one transaction (roster_apply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "roster_internal.h"

/* Reads every member in id order.  drifted can be true only while the team is managed. */
static enum rs_err read_members(struct roster *roster, bool managed, struct member_list *list)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBERS_ALL);
	enum rs_err err = RS_OK;
	int rc;

	if (!stmt)
		return RS_ERR_IO;

	for (;;) {
		struct member member;
		bool has_checksum;
		uint64_t checksum;

		rc = sqlite3_step(stmt);
		if (rc != SQLITE_ROW)
			break;

		err = roster_member_view(roster, stmt, &member, &has_checksum, &checksum);
		if (err != RS_OK)
			break;

		/* A NULL checksum while managed is a row written past the triggers. */
		member.drifted = managed && (!has_checksum || checksum != member_checksum(&member));
		if (!member_list_add(list, &member)) {
			log_msg(LOG_ERROR, "roster %s: out of memory reading members", roster->path);
			err = RS_ERR_INTERNAL;
			break;
		}
	}
	if (err == RS_OK && rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading members");

	sqlite3_reset(stmt);
	return err;
}

/* The state in an event's JSON column; NULL when the JSON was damaged by hand. */
#define EVENT_STATE(column) \
	"(CASE WHEN json_valid(" column ") THEN json_extract(" column ", '$.state') END)"
/* The state that the newest event of a member wrote; no row before its first event. */
#define RECORDED_STATE_SQL \
	"SELECT " EVENT_STATE("after") " FROM events" \
	" WHERE member_id = ?1 AND after IS NOT NULL ORDER BY id DESC LIMIT 1"
/* When that state began: the newest event that moved the member into it. */
#define RECORDED_SINCE_SQL \
	"SELECT at FROM events WHERE member_id = ?1 AND " EVENT_STATE("after") " = ?2" \
	" AND " EVENT_STATE("before") " IS NOT ?2 ORDER BY id DESC LIMIT 1"

/* Runs stmt bound to id (and state, when not NULL); *found is false without a row. */
static int step_for_member(sqlite3_stmt *stmt, int64_t id, const char *state, bool *found)
{
	int rc;

	sqlite3_reset(stmt);
	if (sqlite3_bind_int64(stmt, 1, id) != SQLITE_OK ||
	    (state && sqlite3_bind_text(stmt, 2, state, -1, SQLITE_TRANSIENT) != SQLITE_OK))
		return SQLITE_ERROR;
	rc = sqlite3_step(stmt);
	*found = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Restores one drifted member's state from its events, when they record one. */
static int restore_state(sqlite3_stmt *state_stmt, sqlite3_stmt *since_stmt,
			 struct member *member)
{
	enum member_state recorded;
	char name[16];
	bool found;
	int rc = step_for_member(state_stmt, member->id, NULL, &found);

	if (rc != SQLITE_OK || !found)
		return rc;
	snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(state_stmt, 0));
	if (!member_state_parse(name, &recorded) || recorded == member->state)
		return SQLITE_OK;

	rc = step_for_member(since_stmt, member->id, name, &found);
	if (rc != SQLITE_OK)
		return rc;
	member->row_state = member->state;
	member->state = recorded;
	if (found)
		member->state_since = sqlite3_column_int64(since_stmt, 0);
	member->state_restored = true;
	log_msg(LOG_INFO, "member %s (row %lld) is %s in the roster, but rostersync last made it"
		" %s: planning from %s", member->email ? member->email : "?",
		(long long)member->id, member_state_name(member->row_state), name, name);
	return SQLITE_OK;
}

/* The source and external id that the newest event of a member wrote. */
#define RECORDED_ID_SQL \
	"SELECT json_extract(after, '$.source'), json_extract(after, '$.external_id')" \
	" FROM events WHERE member_id = ?1 AND after IS NOT NULL AND json_valid(after)" \
	" ORDER BY id DESC LIMIT 1"
/* Whether another row has that source and external id. */
#define ID_TAKEN_SQL \
	"SELECT 1 FROM members WHERE source = ?1 AND external_id = ?2 AND id <> ?3"

/* Sets *taken when a row other than id has source and external_id. */
static int id_taken(sqlite3_stmt *stmt, const char *source, const char *external_id, int64_t id,
		    bool *taken)
{
	int rc;

	sqlite3_reset(stmt);
	if (sqlite3_bind_text(stmt, 1, source, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, external_id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, id) != SQLITE_OK)
		return SQLITE_ERROR;
	rc = sqlite3_step(stmt);
	*taken = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Restores the source and external id of a drifted IdP member from its
 * newest event when another program changed them.  The plan then finds the
 * member by its IdP user and puts the row back, instead of adding a second
 * row for the same person.  Skipped when another row has them.
 */
static int restore_id(sqlite3_stmt *id_stmt, sqlite3_stmt *taken_stmt,
		      struct member_list *members, struct member *member)
{
	char source[16], external_id[IDENTITY_MAX_ID + 1];
	bool found, in_use = false;
	int rc = step_for_member(id_stmt, member->id, NULL, &found);

	if (rc != SQLITE_OK || !found || sqlite3_column_type(id_stmt, 1) != SQLITE_TEXT ||
	    sqlite3_column_bytes(id_stmt, 1) > IDENTITY_MAX_ID ||
	    sqlite3_column_bytes(id_stmt, 0) >= (int)sizeof(source))
		return rc;
	snprintf(source, sizeof(source), "%s", (const char *)sqlite3_column_text(id_stmt, 0));
	snprintf(external_id, sizeof(external_id), "%s",
		 (const char *)sqlite3_column_text(id_stmt, 1));
	if (member->source && member->external_id && strcmp(member->source, source) == 0 &&
	    strcmp(member->external_id, external_id) == 0)
		return SQLITE_OK;

	rc = id_taken(taken_stmt, source, external_id, member->id, &in_use);
	if (rc != SQLITE_OK || in_use)
		return rc;
	log_msg(LOG_INFO, "member %s (row %lld) has the external id %s in the roster, but "
		"rostersync last wrote %s: planning from %s", member->email ? member->email : "?",
		(long long)member->id, member->external_id ? member->external_id : "(none)",
		external_id, external_id);
	member->source = strpool_dup(&members->strings, source);
	member->external_id = strpool_dup(&members->strings, external_id);
	return member->source && member->external_id ? SQLITE_OK : SQLITE_NOMEM;
}

enum rs_err roster_restore_drifted_states(struct roster *roster, struct member_list *members)
{
	sqlite3_stmt *state_stmt = NULL;
	sqlite3_stmt *since_stmt = NULL;
	sqlite3_stmt *id_stmt = NULL;
	sqlite3_stmt *taken_stmt = NULL;
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < members->count; i++) {
		struct member *member = &members->items[i];

		if (!member->drifted || member->id <= 0)
			continue;
		if (!state_stmt) {
			rc = sqlite3_prepare_v2(roster->db, RECORDED_STATE_SQL, -1, &state_stmt, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_prepare_v2(roster->db, RECORDED_SINCE_SQL, -1,
							&since_stmt, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_prepare_v2(roster->db, RECORDED_ID_SQL, -1, &id_stmt, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_prepare_v2(roster->db, ID_TAKEN_SQL, -1, &taken_stmt, NULL);
		}
		if (rc == SQLITE_OK)
			rc = restore_state(state_stmt, since_stmt, member);
		if (rc == SQLITE_OK)
			rc = restore_id(id_stmt, taken_stmt, members, member);
	}
	sqlite3_finalize(state_stmt);
	sqlite3_finalize(since_stmt);
	sqlite3_finalize(id_stmt);
	sqlite3_finalize(taken_stmt);
	if (rc != SQLITE_OK)
		return roster_sqlite_error(roster, "reading the recorded state of a changed member");
	return RS_OK;
}

/* The member and state of the newest event that names an external id. */
#define NEWEST_EVENT_SQL \
	"SELECT member_id, " EVENT_STATE("after") " FROM events" \
	" WHERE source = ?1 AND external_id = ?2 AND after IS NOT NULL ORDER BY id DESC LIMIT 1"
#define ROW_EXISTS_SQL "SELECT 1 FROM members WHERE id = ?1"

/*
 * Reads what the events recorded of deleted id: its state and since when,
 * when the member row of its newest event no longer exists.
 */
static int read_deleted_state(sqlite3_stmt *newest, sqlite3_stmt *exists, sqlite3_stmt *since,
			      const char *source, const char *id, enum member_state *state,
			      int64_t *state_since)
{
	char name[16];
	int64_t member_id;
	bool found;
	int rc;

	*state = MEMBER_UNASSIGNED;
	sqlite3_reset(newest);
	if (sqlite3_bind_text(newest, 1, source, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(newest, 2, id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return SQLITE_ERROR;
	rc = sqlite3_step(newest);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	member_id = sqlite3_column_int64(newest, 0);
	snprintf(name, sizeof(name), "%s", sqlite3_column_text(newest, 1) ?
		 (const char *)sqlite3_column_text(newest, 1) : "");

	rc = step_for_member(exists, member_id, NULL, &found);
	if (rc != SQLITE_OK || found || !member_state_parse(name, state)) {
		*state = MEMBER_UNASSIGNED;
		return rc;
	}
	rc = step_for_member(since, member_id, name, &found);
	*state_since = found ? sqlite3_column_int64(since, 0) : 0;
	return rc;
}

enum rs_err roster_deleted_states(struct roster *roster, const char *source, char *const *ids,
				  size_t count, enum member_state *states, int64_t *since)
{
	sqlite3_stmt *newest = NULL, *exists = NULL, *since_stmt = NULL;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < count; i++) {
		states[i] = MEMBER_UNASSIGNED;
		since[i] = 0;
	}
	if (count == 0)
		return RS_OK;
	rc = sqlite3_prepare_v2(roster->db, NEWEST_EVENT_SQL, -1, &newest, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(roster->db, ROW_EXISTS_SQL, -1, &exists, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(roster->db, RECORDED_SINCE_SQL, -1, &since_stmt, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < count; i++)
		rc = read_deleted_state(newest, exists, since_stmt, source, ids[i], &states[i],
					&since[i]);
	sqlite3_finalize(newest);
	sqlite3_finalize(exists);
	sqlite3_finalize(since_stmt);
	if (rc != SQLITE_OK)
		return roster_sqlite_error(roster, "reading the recorded state of a deleted member");
	return RS_OK;
}

static void free_ids(char **ids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

/* Appends a copy of id to *ids.  Returns false when out of memory. */
static bool append_id(char ***ids, size_t *count, size_t *capacity, const char *id)
{
	if (*count == *capacity) {
		size_t grown = *capacity ? *capacity * 2 : 8;
		char **bigger = realloc(*ids, grown * sizeof(*bigger));

		if (!bigger)
			return false;
		*ids = bigger;
		*capacity = grown;
	}

	(*ids)[*count] = strdup(id);
	if (!(*ids)[*count])
		return false;
	(*count)++;
	return true;
}

/*
 * Reads the external ids of source that events mention and no member row
 * holds.  SQLite orders TEXT with memcmp(), which gives strcmp() order.
 */
static enum rs_err read_deleted_ids(struct roster *roster, const char *source, char ***ids,
				    size_t *count)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_DELETED_IDS);
	enum rs_err err = RS_OK;
	size_t capacity = 0;
	int rc;

	if (!stmt)
		return RS_ERR_IO;
	if (!roster_bind_text(stmt, 1, source))
		return roster_sqlite_error(roster, "binding the source");

	for (;;) {
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_ROW)
			break;

		if (!append_id(ids, count, &capacity, (const char *)sqlite3_column_text(stmt, 0))) {
			log_msg(LOG_ERROR, "roster %s: out of memory reading deleted ids",
				roster->path);
			err = RS_ERR_INTERNAL;
			break;
		}
	}
	if (err == RS_OK && rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading deleted ids");

	sqlite3_reset(stmt);
	return err;
}

enum rs_err roster_snapshot(struct roster *roster, const char *source,
			    struct member_list *members,
			    char ***deleted_ids, size_t *deleted_count)
{
	char *managed_by = NULL;
	char **ids = NULL;
	size_t id_count = 0;
	enum rs_err err;

	member_list_init(members);
	if (deleted_ids)
		*deleted_ids = NULL;
	if (deleted_count)
		*deleted_count = 0;

	/* One read transaction, so members and deleted ids agree. */
	err = roster_exec(roster, "BEGIN", "starting a read transaction");
	if (err != RS_OK)
		return err;

	err = roster_team_source(roster, &managed_by);
	if (err == RS_OK)
		err = read_members(roster, managed_by != NULL, members);
	if (err == RS_OK && source && deleted_ids && deleted_count)
		err = read_deleted_ids(roster, source, &ids, &id_count);
	if (err == RS_OK)
		err = roster_exec(roster, "COMMIT", "ending a read transaction");

	free(managed_by);
	if (err != RS_OK) {
		roster_rollback(roster, "a read transaction");
		member_list_release(members);
		free_ids(ids, id_count);
		return err;
	}

	if (deleted_ids && deleted_count) {
		*deleted_ids = ids;
		*deleted_count = id_count;
	}

	return RS_OK;
}

static bool texts_differ(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Like texts_differ(), without regard to ASCII case. */
static bool texts_differ_in_any_case(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcasecmp(a, b) != 0;
}

/*
 * Returns true when apply names another manager than team.  As in the
 * check before the run, org URLs (host names, tenant ids) and Graph app
 * ids compare in any letter case, so a config that only changes their case
 * takes nothing over.
 */
static bool manager_changes(const struct roster_team *team, const struct roster_apply *apply)
{
	bool graph = strcmp(apply->source, "graph") == 0;

	if (!team->source || strcmp(team->source, apply->source) != 0)
		return true;
	if (texts_differ_in_any_case(team->org, apply->org))
		return true;
	return graph ? texts_differ_in_any_case(team->app, apply->app) :
		       texts_differ(team->app, apply->app);
}

/* Writes the take-over event: who managed the team before, who does now. */
static enum rs_err record_take_over(struct roster *roster, const struct roster_apply *apply,
				    const struct roster_team *before)
{
	struct roster_event event = {
		.run_id = apply->run_id,
		.at = apply->now,
		.op = "take_over",
		.source = apply->source,
	};
	char *before_json = roster_management_json(before->source, before->org, before->app,
						   before->managed_since, before->released_at);
	char *after_json = roster_management_json(apply->source, apply->org, apply->app,
						  apply->now, before->released_at);
	char *reason = NULL;
	enum rs_err err = RS_ERR_INTERNAL;
	int length = snprintf(NULL, 0, "roster taken over by %s", apply->source_title);

	if (length >= 0)
		reason = malloc((size_t)length + 1);
	if (!before_json || !after_json || !reason) {
		log_msg(LOG_ERROR, "roster %s: out of memory writing the take-over event",
			roster->path);
		goto out;
	}
	snprintf(reason, (size_t)length + 1, "roster taken over by %s", apply->source_title);

	event.before = before_json;
	event.after = after_json;
	event.reason = reason;
	err = roster_event_add(roster, &event);
out:
	free(reason);
	free(after_json);
	free(before_json);
	return err;
}

/*
 * Marks the team as managed by apply->source.  At take-over (the team was
 * not managed, or by another source, org or app) it also seals every row
 * with its current checksum.  Changes made while the roster was managed by
 * hand are legitimate, and only later ones are drift.
 */
static enum rs_err update_team(struct roster *roster, const struct roster_apply *apply)
{
	struct roster_team team;
	sqlite3_stmt *stmt;
	bool taking_over;
	enum rs_err err;

	err = roster_team_get(roster, &team);
	if (err != RS_OK)
		return err;
	taking_over = manager_changes(&team, apply);

	stmt = roster_stmt(roster, STMT_TEAM_UPSERT);
	if (!stmt) {
		err = RS_ERR_IO;
		goto out;
	}
	if (!(roster_bind_text(stmt, 1, apply->team_name) &&
	      sqlite3_bind_int64(stmt, 2, apply->seats) == SQLITE_OK &&
	      roster_bind_text(stmt, 3, apply->source) &&
	      roster_bind_text(stmt, 4, apply->org) &&
	      roster_bind_text(stmt, 5, apply->app) &&
	      sqlite3_bind_int64(stmt, 6, taking_over ? apply->now : team.managed_since) ==
		      SQLITE_OK)) {
		err = roster_sqlite_error(roster, "binding the team");
		goto out;
	}
	err = roster_step_done(roster, stmt, "updating the team");

	if (err == RS_OK && taking_over) {
		stmt = roster_stmt(roster, STMT_MEMBERS_SEAL);
		err = stmt ? roster_step_done(roster, stmt, "sealing member checksums") : RS_ERR_IO;
		if (err == RS_OK)
			err = record_take_over(roster, apply, &team);
		if (err == RS_OK)
			log_msg(LOG_INFO, "roster %s: taken over by %s", roster->path,
				apply->source_title);
	}
out:
	roster_team_release(&team);
	return err;
}

/*
 * Moves every member whose email the plan changes to a placeholder first,
 * so that the final values cannot collide with an address another entry
 * frees later in the same plan (two members swapping emails, for one).
 */
static enum rs_err park_changed_emails(struct roster *roster, const struct plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		const struct plan_entry *entry = &plan->entries[i];
		sqlite3_stmt *stmt;
		enum rs_err err;

		if (!entry->before || !texts_differ(entry->before->email, entry->after.email))
			continue;

		stmt = roster_stmt(roster, STMT_MEMBER_PARK_EMAIL);
		if (!stmt)
			return RS_ERR_IO;
		if (sqlite3_bind_int64(stmt, 1, entry->before->id) != SQLITE_OK)
			return roster_sqlite_error(roster, "binding a member id");
		err = roster_step_done(roster, stmt, "moving a changed email aside");
		if (err != RS_OK)
			return err;
	}
	return RS_OK;
}

/* Binds the owned text fields of member to parameters first .. first + 7. */
static bool bind_member_texts(sqlite3_stmt *stmt, int first, const struct member *member)
{
	return roster_bind_text(stmt, first, member->source) &&
	       roster_bind_text(stmt, first + 1, member->external_id) &&
	       roster_bind_text(stmt, first + 2, member->email) &&
	       roster_bind_text(stmt, first + 3, member->user_name) &&
	       roster_bind_text(stmt, first + 4, member->given_name) &&
	       roster_bind_text(stmt, first + 5, member->family_name) &&
	       roster_bind_text(stmt, first + 6, member->display_name) &&
	       roster_bind_text(stmt, first + 7, member->provenance);
}

enum rs_err roster_member_insert(struct roster *roster, const struct member *member, int64_t now,
				 bool seal, int64_t *id)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_INSERT);
	int64_t checksum = roster_checksum_to_int64(member_checksum(member));
	char operation[300];
	enum rs_err err;
	bool ok;

	if (!stmt)
		return RS_ERR_IO;

	ok = bind_member_texts(stmt, 1, member) &&
	     roster_bind_text(stmt, 9, member_state_name(member->state)) &&
	     sqlite3_bind_int64(stmt, 10, member->created_at ? member->created_at : now) ==
		     SQLITE_OK &&
	     sqlite3_bind_int64(stmt, 11, now) == SQLITE_OK &&
	     sqlite3_bind_int64(stmt, 12, member->state_since ? member->state_since : now) ==
		     SQLITE_OK &&
	     (seal ? sqlite3_bind_int64(stmt, 13, checksum) : sqlite3_bind_null(stmt, 13)) ==
		     SQLITE_OK;
	if (!ok)
		return roster_sqlite_error(roster, "binding a new member");

	/* The message is formatted only on failure: this runs once per new member. */
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		snprintf(operation, sizeof(operation), "inserting member %s",
			 member->email ? member->email : "?");
		err = roster_sqlite_error(roster, operation);
		sqlite3_reset(stmt);
		return err;
	}
	sqlite3_reset(stmt);

	*id = sqlite3_last_insert_rowid(roster->db);
	return RS_OK;
}

/*
 * Overwrites row id with after.  state_since moves to now only when the
 * row's state changes, or to the restored time of a drifted row.
 */
static enum rs_err update_member(struct roster *roster, int64_t id, const struct member *after,
				 int64_t now)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_UPDATE);
	char operation[300];
	enum rs_err err;
	bool ok;

	if (!stmt)
		return RS_ERR_IO;

	ok = sqlite3_bind_int64(stmt, 1, id) == SQLITE_OK &&
	     bind_member_texts(stmt, 2, after) &&
	     roster_bind_text(stmt, 10, member_state_name(after->state)) &&
	     sqlite3_bind_int64(stmt, 11, now) == SQLITE_OK &&
	     sqlite3_bind_int64(stmt, 12, roster_checksum_to_int64(member_checksum(after))) ==
		     SQLITE_OK &&
	     sqlite3_bind_int64(stmt, 13, after->state_restored ? after->state_since : now) ==
		     SQLITE_OK;
	if (!ok)
		return roster_sqlite_error(roster, "binding a member update");

	if (sqlite3_step(stmt) != SQLITE_DONE) {
		snprintf(operation, sizeof(operation), "updating member %lld (%s)", (long long)id,
			 after->email ? after->email : "?");
		err = roster_sqlite_error(roster, operation);
		sqlite3_reset(stmt);
		return err;
	}
	sqlite3_reset(stmt);

	if (sqlite3_changes(roster->db) != 1) {
		log_msg(LOG_ERROR, "roster %s: member %lld (%s) is missing; the roster changed"
			" after the plan was made, so run the sync again", roster->path,
			(long long)id, after->email ? after->email : "?");
		return RS_ERR_IO;
	}
	return RS_OK;
}

/* Binds a member's JSON fields, the texts and then state, from first. */
static bool bind_member_json(sqlite3_stmt *stmt, int first, const struct member *member,
			     enum member_state state)
{
	return bind_member_texts(stmt, first, member) &&
	       roster_bind_text(stmt, first + 8, member_state_name(state));
}

/*
 * Writes the event of one plan entry, which changed the row member_id.  The
 * statement builds the before and after JSON from the bound fields, so no
 * text is formatted here for the 100,000 events of a large first sync.
 */
static enum rs_err record_entry(struct roster *roster, const struct roster_apply *apply,
				const struct plan_entry *entry, int64_t member_id)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_EVENT_INSERT);
	const char *external_id = entry->after.external_id;
	const char *source = entry->after.source;
	bool ok;

	if (!stmt)
		return RS_ERR_IO;
	if (!external_id && entry->before)
		external_id = entry->before->external_id;
	if (!source && entry->before)
		source = entry->before->source;

	ok = roster_bind_text(stmt, 1, apply->run_id) &&
	     sqlite3_bind_int64(stmt, 2, apply->now) == SQLITE_OK &&
	     roster_bind_text(stmt, 3, plan_op_name(entry->op)) &&
	     roster_bind_time(stmt, 4, member_id) &&
	     roster_bind_text(stmt, 5, entry->after.email) &&
	     roster_bind_text(stmt, 6, external_id) &&
	     roster_bind_text(stmt, 7, source) &&
	     roster_bind_text(stmt, 8, entry->reason) &&
	     bind_member_json(stmt, 19, &entry->after, entry->after.state);
	/* The before object shows the row as it was, also its edited state. */
	if (ok && entry->before)
		ok = sqlite3_bind_int64(stmt, 9, entry->before->id) == SQLITE_OK &&
		     bind_member_json(stmt, 10, entry->before, entry->before->state_restored ?
				      entry->before->row_state : entry->before->state);
	if (!ok)
		return roster_sqlite_error(roster, "binding an event");
	return roster_step_done(roster, stmt, "writing an event");
}

static enum rs_err apply_entry(struct roster *roster, const struct roster_apply *apply,
			       size_t index)
{
	const struct plan_entry *entry = &apply->plan->entries[index];
	int64_t member_id = entry->before ? entry->before->id : 0;
	enum rs_err err;

	if (entry->before) {
		err = update_member(roster, member_id, &entry->after, apply->now);
	} else if (entry->op == PLAN_ASSIGN || entry->op == PLAN_WAIT) {
		err = roster_member_insert(roster, &entry->after, apply->now, true, &member_id);
	} else {
		log_msg(LOG_ERROR, "roster %s: plan entry %zu (%s %s) has no stored member"
			" to change", roster->path, index, plan_op_name(entry->op),
			entry->after.email ? entry->after.email : "?");
		err = RS_ERR_INTERNAL;
	}

	if (err == RS_OK)
		err = record_entry(roster, apply, entry, member_id);
	return err;
}

/* True when entry makes a row for a member new to the roster. */
static bool inserts_member(const struct plan_entry *entry)
{
	return !entry->before && (entry->op == PLAN_ASSIGN || entry->op == PLAN_WAIT);
}

/* True when the ROSTER_INSERT_BATCH entries from first on all insert new members. */
static bool batch_ahead(const struct plan *plan, size_t first)
{
	if (plan->count - first < ROSTER_INSERT_BATCH)
		return false;
	for (size_t i = first; i < first + ROSTER_INSERT_BATCH; i++) {
		if (!inserts_member(&plan->entries[i]))
			return false;
	}
	return true;
}

/* Binds member as row row of STMT_MEMBER_INSERT_BATCH, as roster_member_insert() does. */
static bool bind_new_member(sqlite3_stmt *stmt, int row, const struct member *member,
			    int64_t now)
{
	int p = row * 14 + 1;
	int64_t checksum = roster_checksum_to_int64(member_checksum(member));

	return roster_bind_text(stmt, p, member->source) &&
	       roster_bind_text(stmt, p + 1, member->external_id) &&
	       roster_bind_text(stmt, p + 2, member->email) &&
	       roster_bind_text(stmt, p + 3, member->email) &&
	       roster_bind_text(stmt, p + 4, member->user_name) &&
	       roster_bind_text(stmt, p + 5, member->given_name) &&
	       roster_bind_text(stmt, p + 6, member->family_name) &&
	       roster_bind_text(stmt, p + 7, member->display_name) &&
	       roster_bind_text(stmt, p + 8, member->provenance) &&
	       roster_bind_text(stmt, p + 9, member_state_name(member->state)) &&
	       sqlite3_bind_int64(stmt, p + 10, member->created_at ? member->created_at : now) ==
		       SQLITE_OK &&
	       sqlite3_bind_int64(stmt, p + 11, now) == SQLITE_OK &&
	       sqlite3_bind_int64(stmt, p + 12, member->state_since ? member->state_since : now) ==
		       SQLITE_OK &&
	       sqlite3_bind_int64(stmt, p + 13, checksum) == SQLITE_OK;
}

/* Binds the event of a new member as row row of STMT_MEMBER_EVENT_INSERT_BATCH. */
static bool bind_new_member_event(sqlite3_stmt *stmt, int row, const struct roster_apply *apply,
				  const struct plan_entry *entry, int64_t member_id)
{
	const struct member *after = &entry->after;
	int p = row * 18 + 1;

	return roster_bind_text(stmt, p, apply->run_id) &&
	       sqlite3_bind_int64(stmt, p + 1, apply->now) == SQLITE_OK &&
	       roster_bind_text(stmt, p + 2, plan_op_name(entry->op)) &&
	       sqlite3_bind_int64(stmt, p + 3, member_id) == SQLITE_OK &&
	       roster_bind_text(stmt, p + 4, after->email) &&
	       roster_bind_text(stmt, p + 5, after->external_id) &&
	       roster_bind_text(stmt, p + 6, after->source) &&
	       sqlite3_bind_int64(stmt, p + 7, member_id) == SQLITE_OK &&
	       roster_bind_text(stmt, p + 8, after->source) &&
	       roster_bind_text(stmt, p + 9, after->external_id) &&
	       roster_bind_text(stmt, p + 10, after->email) &&
	       roster_bind_text(stmt, p + 11, after->user_name) &&
	       roster_bind_text(stmt, p + 12, after->given_name) &&
	       roster_bind_text(stmt, p + 13, after->family_name) &&
	       roster_bind_text(stmt, p + 14, after->display_name) &&
	       roster_bind_text(stmt, p + 15, after->provenance) &&
	       roster_bind_text(stmt, p + 16, member_state_name(after->state)) &&
	       roster_bind_text(stmt, p + 17, entry->reason);
}

/* Writes the events of the batch of new members whose ids start at first_id. */
static enum rs_err record_new_members(struct roster *roster, const struct roster_apply *apply,
				      const struct plan_entry *entries, int64_t first_id)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_EVENT_INSERT_BATCH);
	bool ok = stmt != NULL;

	if (!stmt)
		return RS_ERR_IO;
	for (int row = 0; ok && row < ROSTER_INSERT_BATCH; row++)
		ok = bind_new_member_event(stmt, row, apply, &entries[row], first_id + row);
	if (!ok)
		return roster_sqlite_error(roster, "binding events");
	return roster_step_done(roster, stmt, "writing events");
}

/*
 * Inserts the ROSTER_INSERT_BATCH new members of the entries from first on
 * with one statement, then their events with another.  AUTOINCREMENT gives
 * the rows of one statement consecutive ids, the same ones that inserting
 * them one by one in this order would give.  When the insert fails, the
 * entries are applied one by one, so the failing member is named.
 */
static enum rs_err insert_batch(struct roster *roster, const struct roster_apply *apply,
				size_t first)
{
	const struct plan_entry *entries = &apply->plan->entries[first];
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBER_INSERT_BATCH);
	int64_t last_id;
	enum rs_err err = RS_OK;
	bool ok = stmt != NULL;

	if (!stmt)
		return RS_ERR_IO;
	for (int row = 0; ok && row < ROSTER_INSERT_BATCH; row++)
		ok = bind_new_member(stmt, row, &entries[row].after, apply->now);
	if (!ok)
		return roster_sqlite_error(roster, "binding new members");

	if (sqlite3_step(stmt) != SQLITE_DONE) {
		sqlite3_reset(stmt);
		for (size_t i = first; err == RS_OK && i < first + ROSTER_INSERT_BATCH; i++)
			err = apply_entry(roster, apply, i);
		return err;
	}
	sqlite3_reset(stmt);

	last_id = sqlite3_last_insert_rowid(roster->db);
	return record_new_members(roster, apply, entries, last_id - ROSTER_INSERT_BATCH + 1);
}

/*
 * Writes the audit event of an approval: which plan an operator approved
 * past the deletion threshold, and how many unassigns it carried.
 */
static enum rs_err record_approval_event(struct roster *roster, const struct roster_apply *apply)
{
	const struct plan *plan = apply->plan;
	char after[160];
	char reason[160];
	struct roster_event event = {
		.run_id = apply->run_id,
		.at = apply->now,
		.op = "approve",
		.source = apply->source,
		.after = after,
		.reason = reason,
	};

	/* A plan id is 16 hex digits, so neither text needs JSON escaping. */
	snprintf(after, sizeof(after),
		 "{\"plan_id\":\"%.32s\",\"operations\":%zu,\"unassigns\":%zu}",
		 apply->approved_plan_id, plan->count, plan->counts[PLAN_UNASSIGN]);
	snprintf(reason, sizeof(reason), "plan %.32s approved with sync --approve past the "
		 "deletion threshold", apply->approved_plan_id);
	return roster_event_add(roster, &event);
}

static enum rs_err record_approval(struct roster *roster, const struct roster_apply *apply)
{
	sqlite3_stmt *stmt;
	enum rs_err err;
	int rc;

	if (!apply->approved_plan_id)
		return RS_OK;

	stmt = roster_stmt(roster, STMT_APPROVAL_INSERT);
	if (!stmt)
		return RS_ERR_IO;
	if (!(roster_bind_text(stmt, 1, apply->approved_plan_id) &&
	      roster_bind_text(stmt, 2, apply->run_id) &&
	      sqlite3_bind_int64(stmt, 3, apply->now) == SQLITE_OK))
		return roster_sqlite_error(roster, "binding the approval");

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sqlite3_reset(stmt);
		log_msg(LOG_ERROR, "roster %s: plan %s was approved and applied before; run"
			" \"rostersync plan\" for the current plan id", roster->path,
			apply->approved_plan_id);
		return RS_ERR_USAGE;
	}

	err = rc == SQLITE_DONE ? RS_OK : roster_sqlite_error(roster, "recording the approval");
	sqlite3_reset(stmt);
	if (err == RS_OK)
		err = record_approval_event(roster, apply);
	return err;
}

static enum rs_err validate_apply(struct roster *roster, const struct roster_apply *apply)
{
	if (apply->plan && apply->source && apply->source_title && apply->seats >= 0)
		return RS_OK;

	log_msg(LOG_ERROR, "roster %s: applying a plan needs a plan, a source, its title"
		" and a seat count of 0 or more", roster->path);
	return RS_ERR_INTERNAL;
}

/* Counts the entries of plan that insert new members. */
static size_t count_inserts(const struct plan *plan)
{
	size_t count = 0;

	for (size_t i = 0; i < plan->count; i++)
		count += inserts_member(&plan->entries[i]);
	return count;
}

/*
 * Decides whether plan is a bulk write: at least ROSTER_BULK_MIN new
 * members, and more than the events table holds, as in a first sync.
 *
 * A bulk write writes its events without the index on (source,
 * external_id).  Events of new members come in email order, which is
 * random in that index, and once it outgrows the page cache every insert
 * rewrites a page; building the index again afterwards sorts the keys once.
 * It also runs with a rollback journal (roster_bulk_journal_enter()).
 */
static enum rs_err is_bulk_write(struct roster *roster, size_t inserts, bool *bulk)
{
	sqlite3_stmt *stmt;
	int64_t events;

	*bulk = false;
	if (inserts < ROSTER_BULK_MIN)
		return RS_OK;
	stmt = roster_stmt(roster, STMT_EVENTS_LAST_ID);
	if (!stmt)
		return RS_ERR_IO;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sqlite3_reset(stmt);
		return roster_sqlite_error(roster, "counting events");
	}
	events = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	*bulk = (int64_t)inserts > events;
	return RS_OK;
}

/*
 * Sizes the page cache for writing plan: ROSTER_WRITE_CACHE_KIB, plus twice
 * the size of the entries that its new members add to the index on
 * (source, external_id), so that this index stays in the cache.
 */
static enum rs_err set_write_cache(struct roster *roster, const struct plan *plan)
{
	size_t index_bytes = 0;
	char sql[64];

	for (size_t i = 0; i < plan->count; i++) {
		const struct member *after = &plan->entries[i].after;

		if (!inserts_member(&plan->entries[i]))
			continue;
		index_bytes += ROSTER_INDEX_ENTRY_OVERHEAD;
		index_bytes += after->source ? strlen(after->source) : 0;
		index_bytes += after->external_id ? strlen(after->external_id) : 0;
	}
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%zu",
		 (size_t)ROSTER_WRITE_CACHE_KIB + 2 * index_bytes / 1024);
	return roster_exec(roster, sql, "setting cache_size");
}

/*
 * Turns off the checks that SQLite makes row by row for the duration of a
 * bulk write, or back on.  Both settings take effect only outside a
 * transaction, and changing them makes SQLite prepare the cached
 * statements again.
 *
 * CHECK constraints: SQLite 3.40 builds a temporary table for the list of
 * "state IN (...)" for every row it inserts, a fifth of the write time of
 * a first sync.  check_new_members() checks the new rows once instead.
 *
 * Foreign keys: SQLite looks up the member of every event.  Every event of
 * a bulk write names a member that the same transaction inserted, or read
 * under the same write lock, and no member row is ever deleted.
 */
static enum rs_err set_row_checks(struct roster *roster, bool on)
{
	enum rs_err err;

	err = roster_exec(roster, on ? "PRAGMA ignore_check_constraints = OFF" :
			  "PRAGMA ignore_check_constraints = ON",
			  "setting ignore_check_constraints");
	if (err == RS_OK)
		err = roster_exec(roster, on ? "PRAGMA foreign_keys = ON" :
				  "PRAGMA foreign_keys = OFF", "setting foreign_keys");
	return err;
}

/* Sets *last to the highest member id, 0 in an empty roster. */
static enum rs_err last_member_id(struct roster *roster, int64_t *last)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBERS_LAST_ID);

	if (!stmt)
		return RS_ERR_IO;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sqlite3_reset(stmt);
		return roster_sqlite_error(roster, "reading the last member id");
	}
	*last = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return RS_OK;
}

/*
 * Checks the members with an id above after, and those updated at now or
 * later, against the CHECK constraints of the members table, which a bulk
 * write leaves to this one statement.
 */
static enum rs_err check_new_members(struct roster *roster, int64_t after, int64_t now)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_MEMBERS_CHECK_NEW);
	enum rs_err err = RS_OK;
	int rc;

	if (!stmt)
		return RS_ERR_IO;
	if (sqlite3_bind_int64(stmt, 1, after) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, now) != SQLITE_OK)
		return roster_sqlite_error(roster, "binding the ids and the time to check");

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		log_msg(LOG_ERROR, "roster %s: member %lld (%s) breaks a CHECK constraint of the"
			" members table; nothing was written", roster->path,
			(long long)sqlite3_column_int64(stmt, 0),
			(const char *)sqlite3_column_text(stmt, 1));
		err = RS_ERR_INTERNAL;
	} else if (rc != SQLITE_DONE) {
		err = roster_sqlite_error(roster, "checking the new members");
	}
	sqlite3_reset(stmt);
	return err;
}

static enum rs_err apply_in_transaction(struct roster *roster, const struct roster_apply *apply,
					bool bulk)
{
	enum rs_err err = RS_OK;
	int64_t last_id = 0;

	/*
	 * SQLite opens a statement journal for every write to a table with
	 * triggers: 100,000 inserts took 1.6 s with the triggers and 1.3 s
	 * without on the development VM.  The triggers are dropped for the
	 * length of this transaction and created again before it commits, so
	 * another connection can never find them missing.
	 */
	if (apply->plan->count > 0)
		err = roster_triggers_drop(roster);

	if (err == RS_OK && bulk)
		err = roster_exec(roster, ROSTER_EVENTS_INDEX_DROP, "dropping the events index");
	if (err == RS_OK && bulk)
		err = last_member_id(roster, &last_id);
	if (err == RS_OK)
		err = update_team(roster, apply);
	if (err == RS_OK)
		err = park_changed_emails(roster, apply->plan);
	for (size_t i = 0; err == RS_OK && i < apply->plan->count;) {
		if (batch_ahead(apply->plan, i)) {
			err = insert_batch(roster, apply, i);
			i += ROSTER_INSERT_BATCH;
		} else {
			err = apply_entry(roster, apply, i);
			i++;
		}
	}
	if (err == RS_OK)
		err = record_approval(roster, apply);
	for (size_t i = 0; err == RS_OK && i < apply->state_count; i++)
		err = roster_state_write(roster, apply->state[i].key, apply->state[i].value,
					 apply->now);
	if (err == RS_OK && bulk)
		err = check_new_members(roster, last_id, apply->now);
	if (err == RS_OK && bulk)
		err = roster_exec(roster, ROSTER_EVENTS_INDEX_CREATE, "building the events index");

	/* Also repairs triggers that another program dropped. */
	if (err == RS_OK)
		err = roster_triggers_create(roster, apply->source_title);
	return err;
}

enum rs_err roster_apply(struct roster *roster, const struct roster_apply *apply)
{
	enum rs_err err = validate_apply(roster, apply);
	struct timespec start;
	struct timespec end;
	size_t inserts;
	bool bulk = false;
	bool journal;

	if (err != RS_OK)
		return err;

	inserts = count_inserts(apply->plan);
	err = is_bulk_write(roster, inserts, &bulk);
	if (err != RS_OK)
		return err;

	log_msg(LOG_DEBUG, "roster %s: applying %zu operations in one transaction", roster->path,
		apply->plan->count);
	clock_gettime(CLOCK_MONOTONIC, &start);
	journal = bulk && roster_bulk_journal_enter(roster);
	err = set_write_cache(roster, apply->plan);
	if (err == RS_OK && bulk)
		err = set_row_checks(roster, false);
	if (err == RS_OK)
		err = roster_write_begin(roster, "applying the plan");
	if (err == RS_OK)
		err = apply_in_transaction(roster, apply, bulk);
	if (err == RS_OK)
		err = roster_write_commit(roster, "the plan");
	if (err != RS_OK)
		roster_rollback(roster, "the plan");
	/* The write is done either way; the settings end with this connection. */
	if (bulk && set_row_checks(roster, true) != RS_OK)
		log_msg(LOG_WARN, "roster %s: the row checks stay off until rostersync closes the "
			"roster", roster->path);
	if (journal)
		roster_bulk_journal_leave(roster);

	if (err != RS_OK) {
		log_msg(LOG_ERROR, "roster %s: the plan was not applied; nothing was written",
			roster->path);
		return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	log_msg(LOG_DEBUG, "roster %s: applied %zu operations in %.3f s", roster->path,
		apply->plan->count, (double)(end.tv_sec - start.tv_sec) +
		(double)(end.tv_nsec - start.tv_nsec) / 1e9);
	return RS_OK;
}
