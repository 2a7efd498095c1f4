/*
 * roster_runs.c - the run records, key/value sync state, used approvals,
 * and the counts and drift events that status and metrics report.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "roster_internal.h"

enum rs_err roster_run_start(struct roster *roster, const char *run_id,
			     const char *command, const char *source, int64_t now)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_RUN_START);

	if (!stmt)
		return RS_ERR_IO;
	if (!(roster_bind_text(stmt, 1, run_id) &&
	      roster_bind_text(stmt, 2, command) &&
	      roster_bind_text(stmt, 3, source) &&
	      sqlite3_bind_int64(stmt, 4, now) == SQLITE_OK))
		return roster_sqlite_error(roster, "binding the run start");
	return roster_step_done(roster, stmt, "recording the run start");
}

enum rs_err roster_run_finish(struct roster *roster, const struct roster_run *run)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_RUN_FINISH);

	if (!stmt)
		return RS_ERR_IO;
	if (!(roster_bind_text(stmt, 1, run->id) &&
	      roster_bind_text(stmt, 2, run->command) &&
	      roster_bind_text(stmt, 3, run->source) &&
	      sqlite3_bind_int64(stmt, 4, run->started_at) == SQLITE_OK &&
	      roster_bind_time(stmt, 5, run->finished_at) &&
	      roster_bind_text(stmt, 6, run->outcome) &&
	      sqlite3_bind_int(stmt, 7, run->exit_status) == SQLITE_OK &&
	      sqlite3_bind_int64(stmt, 8, run->counts[PLAN_ASSIGN]) == SQLITE_OK &&
	      sqlite3_bind_int64(stmt, 9, run->counts[PLAN_UPDATE]) == SQLITE_OK &&
	      sqlite3_bind_int64(stmt, 10, run->counts[PLAN_UNASSIGN]) == SQLITE_OK &&
	      sqlite3_bind_int64(stmt, 11, run->counts[PLAN_WAIT]) == SQLITE_OK &&
	      sqlite3_bind_int64(stmt, 12, run->skipped) == SQLITE_OK &&
	      roster_bind_text(stmt, 13, run->plan_id) &&
	      roster_bind_text(stmt, 14, run->error)))
		return roster_sqlite_error(roster, "binding the run record");
	return roster_step_done(roster, stmt, "recording the run end");
}

enum rs_err roster_run_count_events(struct roster *roster, const char *run_id, int64_t after_id,
				    long counts[PLAN_OP_COUNT])
{
	static const char sql[] =
		"SELECT coalesce(sum(op = 'assign' OR (op = 'add' AND"
		" json_extract(after, '$.state') = 'active')), 0),"
		" coalesce(sum(op = 'update'), 0),"
		" coalesce(sum(op IN ('remove', 'unassign')), 0),"
		" coalesce(sum(op = 'add' AND json_extract(after, '$.state') = 'waiting'), 0)"
		" FROM events WHERE id > ? AND run_id = ?";
	static const enum plan_op columns[] = { PLAN_ASSIGN, PLAN_UPDATE, PLAN_UNASSIGN, PLAN_WAIT };
	sqlite3_stmt *stmt = NULL;
	int rc;

	memset(counts, 0, PLAN_OP_COUNT * sizeof(counts[0]));
	if (sqlite3_prepare_v2(roster->db, sql, -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 1, after_id) != SQLITE_OK ||
	    !roster_bind_text(stmt, 2, run_id)) {
		sqlite3_finalize(stmt);
		return roster_sqlite_error(roster, "counting the run's events");
	}
	rc = sqlite3_step(stmt);
	for (size_t i = 0; rc == SQLITE_ROW && i < 4; i++)
		counts[columns[i]] = (long)sqlite3_column_int64(stmt, (int)i);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? RS_OK : roster_sqlite_error(roster, "counting the run's events");
}

/* Reads the current row of STMT_RUNS_RECENT; false when out of memory. */
static bool read_run(sqlite3_stmt *stmt, struct roster_run *run)
{
	bool ok = true;

	memset(run, 0, sizeof(*run));
	run->id = roster_column_dup(stmt, 0, &ok);
	run->command = roster_column_dup(stmt, 1, &ok);
	run->source = roster_column_dup(stmt, 2, &ok);
	run->started_at = sqlite3_column_int64(stmt, 3);
	run->finished_at = sqlite3_column_int64(stmt, 4);
	run->outcome = roster_column_dup(stmt, 5, &ok);
	run->exit_status = sqlite3_column_int(stmt, 6);
	run->counts[PLAN_ASSIGN] = (long)sqlite3_column_int64(stmt, 7);
	run->counts[PLAN_UPDATE] = (long)sqlite3_column_int64(stmt, 8);
	run->counts[PLAN_UNASSIGN] = (long)sqlite3_column_int64(stmt, 9);
	run->counts[PLAN_WAIT] = (long)sqlite3_column_int64(stmt, 10);
	run->skipped = (long)sqlite3_column_int64(stmt, 11);
	run->plan_id = roster_column_dup(stmt, 12, &ok);
	run->error = roster_column_dup(stmt, 13, &ok);

	if (!ok)
		roster_run_release(run);
	return ok;
}

static void free_runs(struct roster_run *runs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		roster_run_release(&runs[i]);
	free(runs);
}

enum rs_err roster_runs_recent(struct roster *roster, size_t limit,
			       struct roster_run **out, size_t *count)
{
	sqlite3_stmt *stmt;
	struct roster_run *runs = NULL;
	size_t n = 0, capacity = 0;
	enum rs_err err = RS_OK;
	int rc = SQLITE_DONE;

	*out = NULL;
	*count = 0;
	if (limit == 0)
		return RS_OK;

	stmt = roster_stmt(roster, STMT_RUNS_RECENT);
	if (!stmt)
		return RS_ERR_IO;
	/* LIMIT takes a signed 64-bit value; -1 would mean no limit at all. */
	if (limit > INT64_MAX)
		limit = INT64_MAX;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)limit) != SQLITE_OK)
		return roster_sqlite_error(roster, "binding the run limit");

	for (;;) {
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_ROW)
			break;

		if (n == capacity) {
			size_t grown = capacity ? capacity * 2 : 8;
			struct roster_run *bigger = realloc(runs, grown * sizeof(*runs));

			if (!bigger) {
				err = RS_ERR_INTERNAL;
				break;
			}
			runs = bigger;
			capacity = grown;
		}
		if (!read_run(stmt, &runs[n])) {
			err = RS_ERR_INTERNAL;
			break;
		}
		n++;
	}
	if (err == RS_ERR_INTERNAL)
		log_msg(LOG_ERROR, "roster %s: out of memory reading runs", roster->path);
	if (err == RS_OK && rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading runs");
	sqlite3_reset(stmt);

	if (err != RS_OK) {
		free_runs(runs, n);
		return err;
	}
	*out = runs;
	*count = n;
	return RS_OK;
}

void roster_run_release(struct roster_run *run)
{
	if (!run)
		return;

	free(run->id);
	free(run->command);
	free(run->source);
	free(run->outcome);
	free(run->plan_id);
	free(run->error);
	memset(run, 0, sizeof(*run));
}

enum rs_err roster_state_get(struct roster *roster, const char *key, char **value)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_STATE_GET);
	enum rs_err err = RS_OK;
	bool ok = true;
	int rc;

	*value = NULL;
	if (!stmt)
		return RS_ERR_IO;
	if (!roster_bind_text(stmt, 1, key))
		return roster_sqlite_error(roster, "binding a sync state key");

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*value = roster_column_dup(stmt, 0, &ok);
	else if (rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading sync state");
	sqlite3_reset(stmt);

	if (err == RS_OK && !ok) {
		log_msg(LOG_ERROR, "roster %s: out of memory reading sync state", roster->path);
		err = RS_ERR_INTERNAL;
	}
	return err;
}

enum rs_err roster_state_write(struct roster *roster, const char *key, const char *value,
			       int64_t now)
{
	sqlite3_stmt *stmt = roster_stmt(roster, value ? STMT_STATE_SET : STMT_STATE_DELETE);

	if (!stmt)
		return RS_ERR_IO;
	if (!(roster_bind_text(stmt, 1, key) &&
	      (!value || (roster_bind_text(stmt, 2, value) &&
			  sqlite3_bind_int64(stmt, 3, now) == SQLITE_OK))))
		return roster_sqlite_error(roster, "binding sync state");
	return roster_step_done(roster, stmt, "writing sync state");
}

enum rs_err roster_state_set(struct roster *roster, const char *key, const char *value)
{
	return roster_state_write(roster, key, value, (int64_t)time(NULL));
}

enum rs_err roster_approval_used(struct roster *roster, const char *plan_id, bool *used)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_APPROVAL_GET);
	enum rs_err err = RS_OK;
	int rc;

	*used = false;
	if (!stmt)
		return RS_ERR_IO;
	if (!roster_bind_text(stmt, 1, plan_id))
		return roster_sqlite_error(roster, "binding a plan id");

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*used = true;
	else if (rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading approvals");
	sqlite3_reset(stmt);
	return err;
}

/*
 * The queries below run once per command, so they are prepared on the spot
 * instead of joining the statement cache.
 */
static enum rs_err prepare_once(struct roster *roster, const char *sql, sqlite3_stmt **stmt,
				const char *operation)
{
	if (sqlite3_prepare_v2(roster->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return roster_sqlite_error(roster, operation);
	}
	return RS_OK;
}

enum rs_err roster_last_success(struct roster *roster, const char *command, int64_t *at)
{
	static const char sql[] =
		"SELECT max(finished_at) FROM runs WHERE command = ?1 AND exit_status = 0";
	sqlite3_stmt *stmt;
	enum rs_err err = prepare_once(roster, sql, &stmt, "reading the last success");
	int rc;

	*at = 0;
	if (err != RS_OK)
		return err;
	if (!roster_bind_text(stmt, 1, command))
		err = roster_sqlite_error(roster, "binding a command name");

	rc = err == RS_OK ? sqlite3_step(stmt) : SQLITE_ERROR;
	if (rc == SQLITE_ROW)
		*at = sqlite3_column_int64(stmt, 0);
	else if (err == RS_OK)
		err = roster_sqlite_error(roster, "reading the last success");
	sqlite3_finalize(stmt);
	return err;
}

enum rs_err roster_member_counts(struct roster *roster, long counts[3])
{
	static const char sql[] = "SELECT state, count(*) FROM members GROUP BY state";
	sqlite3_stmt *stmt;
	enum rs_err err = prepare_once(roster, sql, &stmt, "counting members");
	int rc;

	counts[MEMBER_ACTIVE] = counts[MEMBER_WAITING] = counts[MEMBER_UNASSIGNED] = 0;
	if (err != RS_OK)
		return err;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(stmt, 0);
		enum member_state state;

		if (text && member_state_parse(text, &state))
			counts[state] = (long)sqlite3_column_int64(stmt, 1);
	}
	if (rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "counting members");
	sqlite3_finalize(stmt);
	return err;
}

void roster_drifts_free(struct roster_drift *drifts, size_t count)
{
	for (size_t i = 0; drifts && i < count; i++) {
		free(drifts[i].run_id);
		free(drifts[i].op);
		free(drifts[i].email);
		free(drifts[i].external_id);
		free(drifts[i].reason);
	}
	free(drifts);
}

enum rs_err roster_drifts_recent(struct roster *roster, size_t limit,
				 struct roster_drift **out, size_t *count)
{
	static const char sql[] =
		"SELECT at, run_id, op, email, external_id, reason FROM events "
		"WHERE substr(reason, 1, 22) = 'manual change reverted' ORDER BY id DESC LIMIT ?1";
	struct roster_drift *drifts;
	sqlite3_stmt *stmt;
	size_t n = 0;
	bool ok = true;
	enum rs_err err;
	int rc = SQLITE_DONE;

	*out = NULL;
	*count = 0;
	if (limit == 0)
		return RS_OK;
	drifts = calloc(limit, sizeof(*drifts));
	if (!drifts)
		return RS_ERR_INTERNAL;
	err = prepare_once(roster, sql, &stmt, "reading drift events");
	if (err != RS_OK) {
		free(drifts);
		return err;
	}

	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)limit);
	while (ok && n < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct roster_drift *d = &drifts[n++];

		d->at = sqlite3_column_int64(stmt, 0);
		d->run_id = roster_column_dup(stmt, 1, &ok);
		d->op = roster_column_dup(stmt, 2, &ok);
		d->email = roster_column_dup(stmt, 3, &ok);
		d->external_id = roster_column_dup(stmt, 4, &ok);
		d->reason = roster_column_dup(stmt, 5, &ok);
	}
	if (!ok)
		err = RS_ERR_INTERNAL;
	else if (n < limit && rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading drift events");
	sqlite3_finalize(stmt);

	if (err != RS_OK) {
		roster_drifts_free(drifts, n);
		return err;
	}
	*out = drifts;
	*count = n;
	return RS_OK;
}

enum rs_err roster_last_event_id(struct roster *roster, int64_t *id)
{
	static const char sql[] = "SELECT coalesce(max(id), 0) FROM events";
	sqlite3_stmt *stmt;
	enum rs_err err = prepare_once(roster, sql, &stmt, "reading the last event id");

	*id = 0;
	if (err != RS_OK)
		return err;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*id = sqlite3_column_int64(stmt, 0);
	else
		err = roster_sqlite_error(roster, "reading the last event id");
	sqlite3_finalize(stmt);
	return err;
}

enum rs_err roster_last_event_time(struct roster *roster, int64_t *at)
{
	static const char sql[] = "SELECT at FROM events ORDER BY id DESC LIMIT 1";
	sqlite3_stmt *stmt;
	enum rs_err err = prepare_once(roster, sql, &stmt, "reading the time of the last event");
	int rc;

	*at = 0;
	if (err != RS_OK)
		return err;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*at = sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE)
		err = roster_sqlite_error(roster, "reading the time of the last event");
	sqlite3_finalize(stmt);
	return err;
}
