/*
 * roster_schema.c - the roster's SQL: schema migrations, the triggers that
 * guard a managed roster, the SQL function rostersync_checksum() and the
 * text of every cached statement.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "log.h"
#include "roster_internal.h"

/*
 * migrations[v] turns a schema of version v into version v + 1.  Adding a
 * version means appending one entry here and raising ROSTER_SCHEMA_VERSION.
 * A step must work inside a transaction (no VACUUM, no journal_mode).
 */
/* The table whose row marks a write as rostersync's (see the triggers below). */
#define AGENT_WRITE_COLUMNS "(id INTEGER PRIMARY KEY CHECK (id = 1))"

/* The columns and table constraints of members. */
#define MEMBERS_TABLE_COLUMNS \
	"(" \
	" id INTEGER PRIMARY KEY AUTOINCREMENT," \
	" source TEXT NOT NULL," \
	" external_id TEXT," \
	" email TEXT NOT NULL CHECK (email <> '')," \
	" email_key TEXT NOT NULL CHECK (email_key = lower(email))," \
	" user_name TEXT," \
	" given_name TEXT," \
	" family_name TEXT," \
	" display_name TEXT," \
	" provenance TEXT," \
	" state TEXT NOT NULL CHECK (state IN ('active', 'waiting', 'unassigned'))," \
	" created_at INTEGER NOT NULL," \
	" updated_at INTEGER NOT NULL," \
	" state_since INTEGER NOT NULL," \
	" checksum INTEGER," \
	" UNIQUE (source, external_id)" \
	")"

/*
 * Two members holding seats (or waiting for one) never share an address.
 * Unassigned rows are history and may repeat an address, so a departed
 * person's address can be assigned to someone new.
 */
#define MEMBERS_EMAIL_INDEXES \
	"CREATE UNIQUE INDEX members_email_key_seated ON members (email_key)" \
	" WHERE state <> 'unassigned';" \
	"CREATE INDEX members_email_key ON members (email_key);"

static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE team ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" name TEXT,"
	" seats INTEGER NOT NULL CHECK (seats >= 0),"
	" source TEXT,"
	" org TEXT,"
	" app TEXT,"
	" managed_since INTEGER,"
	" released_at INTEGER"
	");"
	"CREATE TABLE members " MEMBERS_TABLE_COLUMNS ";"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" run_id TEXT,"
	" at INTEGER NOT NULL,"
	" op TEXT NOT NULL,"
	" member_id INTEGER REFERENCES members (id),"
	" email TEXT,"
	" external_id TEXT,"
	" source TEXT,"
	" before TEXT,"
	" after TEXT,"
	" reason TEXT"
	");"
	MEMBERS_EMAIL_INDEXES
	ROSTER_EVENTS_INDEX_CREATE ";"
	"CREATE TABLE runs ("
	" id TEXT PRIMARY KEY,"
	" command TEXT,"
	" source TEXT,"
	" started_at INTEGER NOT NULL,"
	" finished_at INTEGER,"
	" outcome TEXT,"
	" exit_status INTEGER,"
	" assigned INTEGER NOT NULL DEFAULT 0,"
	" updated INTEGER NOT NULL DEFAULT 0,"
	" unassigned INTEGER NOT NULL DEFAULT 0,"
	" waiting INTEGER NOT NULL DEFAULT 0,"
	" skipped INTEGER NOT NULL DEFAULT 0,"
	" plan_id TEXT,"
	" error TEXT"
	");"
	"CREATE INDEX runs_started_at ON runs (started_at);"
	"CREATE TABLE sync_state ("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL"
	");"
	"CREATE TABLE approvals ("
	" plan_id TEXT PRIMARY KEY,"
	" run_id TEXT,"
	" at INTEGER NOT NULL"
	");"
	"CREATE TABLE agent_write " AGENT_WRITE_COLUMNS ";",
	/* 1 -> 2: see rebuild_members_table(), which runs before this. */
	"",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == ROSTER_SCHEMA_VERSION,
	       "one migration step per schema version");

#define MEMBER_COLUMNS \
	"id, source, external_id, email, user_name, given_name, family_name," \
	" display_name, provenance, state, created_at, updated_at, state_since, checksum"

#define CHECKSUM_OF_ROW \
	"rostersync_checksum(source, external_id, email, user_name, given_name," \
	" family_name, display_name, provenance, state)"

/* One row of STMT_MEMBER_INSERT_BATCH: 14 parameters, the email twice. */
#define NEW_MEMBER_ROW "(?, ?, ?, lower(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

/* One row of STMT_MEMBER_EVENT_INSERT_BATCH: 18 parameters, no "before". */
#define NEW_MEMBER_EVENT_ROW \
	"(?, ?, ?, ?, ?, ?, ?, NULL, json_object('id', ?, 'source', ?, 'external_id', ?," \
	" 'email', ?, 'user_name', ?, 'given_name', ?, 'family_name', ?," \
	" 'display_name', ?, 'provenance', ?, 'state', ?), ?)"

#define ROWS_4(row) row ", " row ", " row ", " row
#define ROWS_32(row) \
	ROWS_4(row) ", " ROWS_4(row) ", " ROWS_4(row) ", " ROWS_4(row) ", " \
	ROWS_4(row) ", " ROWS_4(row) ", " ROWS_4(row) ", " ROWS_4(row)

_Static_assert(ROSTER_INSERT_BATCH == 32, "ROWS_32 writes ROSTER_INSERT_BATCH rows");

const char *const roster_stmt_sql[STMT_COUNT] = {
	[STMT_TEAM_GET] =
		"SELECT name, seats, source, org, app, managed_since, released_at"
		" FROM team WHERE id = 1",
	[STMT_TAKE_OVER_EXISTS] =
		"SELECT EXISTS (SELECT 1 FROM events WHERE op = 'take_over')",
	/* Writes nothing when the row already has these values. */
	[STMT_TEAM_UPSERT] =
		"INSERT INTO team (id, name, seats, source, org, app, managed_since)"
		" VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
		" seats = excluded.seats, source = excluded.source, org = excluded.org,"
		" app = excluded.app, managed_since = excluded.managed_since"
		" WHERE name IS NOT excluded.name OR seats IS NOT excluded.seats"
		" OR source IS NOT excluded.source OR org IS NOT excluded.org"
		" OR app IS NOT excluded.app OR managed_since IS NOT excluded.managed_since",
	[STMT_TEAM_RELEASE] =
		"UPDATE team SET source = NULL, org = NULL, app = NULL,"
		" managed_since = NULL, released_at = ?1 WHERE id = 1",
	[STMT_MEMBERS_ALL] =
		"SELECT " MEMBER_COLUMNS " FROM members ORDER BY id",
	[STMT_MEMBER_INSERT] =
		"INSERT INTO members (source, external_id, email, email_key, user_name,"
		" given_name, family_name, display_name, provenance, state, created_at,"
		" updated_at, state_since, checksum)"
		" VALUES (?1, ?2, ?3, lower(?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	/* The SET expressions all read the old row, so the CASE compares with the old state. */
	[STMT_MEMBER_UPDATE] =
		"UPDATE members SET source = ?2, external_id = ?3, email = ?4,"
		" email_key = lower(?4), user_name = ?5, given_name = ?6, family_name = ?7, display_name = ?8,"
		" provenance = ?9,"
		" state_since = CASE WHEN state = ?10 THEN state_since ELSE ?13 END,"
		" state = ?10, updated_at = ?11, checksum = ?12"
		" WHERE id = ?1",
	/*
	 * A placeholder address that frees the row's email_key for the
	 * rest of the transaction.  .invalid is reserved (RFC 2606), so no
	 * real address can collide with it.
	 */
	[STMT_MEMBER_PARK_EMAIL] =
		"UPDATE members SET email = 'member-' || id || '@email-change.invalid',"
		" email_key = 'member-' || id || '@email-change.invalid' WHERE id = ?1",
	/* lower() folds ASCII only; an address with other letters is compared in C. */
	[STMT_MEMBER_BY_EMAIL] =
		"SELECT " MEMBER_COLUMNS " FROM members WHERE email_key = lower(?1)"
		" OR (?1 GLOB ('*[^' || char(1) || '-' || char(127) || ']*')"
		" AND rostersync_same_email(email, ?1))"
		" ORDER BY state = 'unassigned', updated_at DESC, id DESC LIMIT 1",
	/* The member a free seat goes to: waiting longest, then by email. */
	[STMT_MEMBER_LONGEST_WAITING] =
		"SELECT " MEMBER_COLUMNS " FROM members WHERE state = 'waiting'"
		" ORDER BY state_since, email_key, id LIMIT 1",
	[STMT_MEMBER_SET_STATE] =
		"UPDATE members SET state = ?2, state_since = ?3, updated_at = ?3,"
		" given_name = coalesce(?4, given_name),"
		" family_name = coalesce(?5, family_name), checksum = NULL"
		" WHERE id = ?1",
	/*
	 * A member added again by hand becomes a manual member, whatever its
	 * source was, with the address as typed and no IdP login.
	 */
	[STMT_MEMBER_ADD_AGAIN] =
		"UPDATE members SET source = 'manual', external_id = NULL, provenance = NULL,"
		" user_name = NULL, email = ?6, email_key = lower(?6),"
		" state = ?2, state_since = ?3, updated_at = ?3,"
		" given_name = coalesce(?4, given_name),"
		" family_name = coalesce(?5, family_name), checksum = NULL"
		" WHERE id = ?1",
	[STMT_MEMBERS_SEAL] =
		"UPDATE members SET checksum = " CHECKSUM_OF_ROW
		" WHERE checksum IS NOT " CHECKSUM_OF_ROW,
	[STMT_ACTIVE_COUNT] =
		"SELECT count(*) FROM members WHERE state = 'active'",
	/*
	 * DISTINCT first, so that members is searched once per id and not once
	 * per event: a roster gains events with every change, and with 4 events
	 * per member this took a third of the time.
	 */
	[STMT_DELETED_IDS] =
		"SELECT e.external_id FROM (SELECT DISTINCT external_id FROM events"
		" WHERE source = ?1 AND external_id IS NOT NULL) AS e"
		" WHERE NOT EXISTS (SELECT 1 FROM members AS m"
		" WHERE m.source = ?1 AND m.external_id = e.external_id)"
		" ORDER BY e.external_id",
	[STMT_EVENT_INSERT] =
		"INSERT INTO events (run_id, at, op, member_id, email, external_id,"
		" source, before, after, reason)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/*
	 * The event of one plan entry.  SQLite's json_object() writes the
	 * member objects that roster_member_json() writes for the other
	 * events: the same keys in the same order, the same escapes, and no
	 * "before" object (?9 NULL) for a member new to the roster.
	 */
	[STMT_MEMBER_EVENT_INSERT] =
		"INSERT INTO events (run_id, at, op, member_id, email, external_id,"
		" source, before, after, reason)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		" CASE WHEN ?9 IS NOT NULL THEN json_object('id', ?9, 'source', ?10,"
		" 'external_id', ?11, 'email', ?12, 'user_name', ?13, 'given_name', ?14,"
		" 'family_name', ?15, 'display_name', ?16, 'provenance', ?17, 'state', ?18) END,"
		" json_object('id', ?4, 'source', ?19, 'external_id', ?20, 'email', ?21,"
		" 'user_name', ?22, 'given_name', ?23, 'family_name', ?24,"
		" 'display_name', ?25, 'provenance', ?26, 'state', ?27),"
		" ?8)",
	/*
	 * ROSTER_INSERT_BATCH rows of STMT_MEMBER_INSERT and of
	 * STMT_MEMBER_EVENT_INSERT for new members, with anonymous parameters
	 * in row order.  One statement per 32 rows saves the statement set-up
	 * and the sqlite_sequence update of every row.
	 */
	[STMT_MEMBER_INSERT_BATCH] =
		"INSERT INTO members (source, external_id, email, email_key, user_name,"
		" given_name, family_name, display_name, provenance, state, created_at,"
		" updated_at, state_since, checksum) VALUES "
		ROWS_32(NEW_MEMBER_ROW),
	[STMT_MEMBER_EVENT_INSERT_BATCH] =
		"INSERT INTO events (run_id, at, op, member_id, email, external_id,"
		" source, before, after, reason) VALUES "
		ROWS_32(NEW_MEMBER_EVENT_ROW),
	[STMT_AGENT_WRITE_EXISTS] =
		"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'agent_write'",
	[STMT_EVENTS_LAST_ID] =
		"SELECT coalesce(max(id), 0) FROM events",
	[STMT_MEMBERS_LAST_ID] =
		"SELECT coalesce(max(id), 0) FROM members",
	/*
	 * The CHECK constraints of the members table, for the rows that a write
	 * without them inserted (id above ?1) or changed (updated_at ?2 or later).
	 */
	[STMT_MEMBERS_CHECK_NEW] =
		"SELECT id, email FROM members WHERE (id > ?1 OR updated_at >= ?2)"
		" AND NOT (email <> '' AND email_key = lower(email)"
		" AND state IN ('active', 'waiting', 'unassigned')) LIMIT 1",
	[STMT_APPROVAL_INSERT] =
		"INSERT INTO approvals (plan_id, run_id, at) VALUES (?1, ?2, ?3)",
	[STMT_APPROVAL_GET] =
		"SELECT 1 FROM approvals WHERE plan_id = ?1",
	[STMT_RUN_START] =
		"INSERT INTO runs (id, command, source, started_at) VALUES (?1, ?2, ?3, ?4)",
	/* Also records a run whose start was never written. */
	[STMT_RUN_FINISH] =
		"INSERT INTO runs (id, command, source, started_at, finished_at, outcome,"
		" exit_status, assigned, updated, unassigned, waiting, skipped, plan_id, error)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
		" ON CONFLICT (id) DO UPDATE SET"
		" source = coalesce(excluded.source, source),"
		" finished_at = excluded.finished_at, outcome = excluded.outcome,"
		" exit_status = excluded.exit_status, assigned = excluded.assigned,"
		" updated = excluded.updated, unassigned = excluded.unassigned,"
		" waiting = excluded.waiting, skipped = excluded.skipped,"
		" plan_id = excluded.plan_id, error = excluded.error",
	[STMT_RUNS_RECENT] =
		"SELECT id, command, source, started_at, finished_at, outcome, exit_status,"
		" assigned, updated, unassigned, waiting, skipped, plan_id, error"
		" FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?1",
	[STMT_STATE_GET] =
		"SELECT value FROM sync_state WHERE key = ?1",
	[STMT_STATE_SET] =
		"INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
		" updated_at = excluded.updated_at",
	[STMT_STATE_DELETE] =
		"DELETE FROM sync_state WHERE key = ?1",
	[STMT_TRIGGER_SQL] =
		"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
};

enum rs_err roster_schema_version(struct roster *roster, int *version)
{
	sqlite3_stmt *stmt = NULL;
	enum rs_err err = RS_OK;

	if (sqlite3_prepare_v2(roster->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW)
		err = roster_sqlite_error(roster, "reading the schema version");
	else
		*version = sqlite3_column_int(stmt, 0);

	sqlite3_finalize(stmt);
	return err;
}

/*
 * Schema version 1 first had a UNIQUE constraint on members.email_key,
 * which the unassigned rows of departed people broke as soon as their
 * address came back on a new account.  SQLite cannot drop a column
 * constraint, so the table is copied into one without it.  The copy keeps
 * every row and id, the AUTOINCREMENT counter and the triggers.
 */
#define MEMBERS_REBUILD \
	"CREATE TEMP TABLE members_sequence AS" \
	" SELECT seq FROM sqlite_sequence WHERE name = 'members';" \
	"CREATE TABLE members_rebuilt " MEMBERS_TABLE_COLUMNS ";" \
	"INSERT INTO members_rebuilt (" MEMBER_COLUMNS ", email_key)" \
	" SELECT " MEMBER_COLUMNS ", email_key FROM members;" \
	"DROP TABLE members;" \
	"ALTER TABLE members_rebuilt RENAME TO members;" \
	"UPDATE sqlite_sequence SET seq = max(seq," \
	" coalesce((SELECT max(seq) FROM temp.members_sequence), 0)) WHERE name = 'members';" \
	"DROP TABLE temp.members_sequence;" \
	MEMBERS_EMAIL_INDEXES

/* Sets *old when the members table still has the UNIQUE email_key of early version 1. */
static enum rs_err members_email_key_unique(struct roster *roster, bool *old)
{
	sqlite3_stmt *stmt = NULL;
	enum rs_err err = RS_OK;
	int rc;

	*old = false;
	rc = sqlite3_prepare_v2(roster->db, "SELECT sql FROM sqlite_master"
				" WHERE type = 'table' AND name = 'members'", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(stmt, 0);

		*old = sql && strstr(sql, "email_key TEXT NOT NULL UNIQUE") != NULL;
	} else if (rc != SQLITE_DONE) {
		err = roster_sqlite_error(roster, "reading the members table's schema");
	}
	sqlite3_finalize(stmt);
	return err;
}

/* Triggers on members that a rebuild can keep: rostersync's three and any of the owner's. */
#define TRIGGER_SLOTS 16

/* Copies the CREATE TRIGGER texts of the members table into sql (sqlite3_free each). */
static enum rs_err members_trigger_sql(struct roster *roster, char **sql, size_t *count)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	*count = 0;
	rc = sqlite3_prepare_v2(roster->db, "SELECT sql FROM sqlite_master"
				" WHERE type = 'trigger' AND tbl_name = 'members'", -1, &stmt, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (*count == TRIGGER_SLOTS) {
			rc = SQLITE_FULL;
			break;
		}
		sql[*count] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(stmt, 0));
		if (!sql[*count]) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*count)++;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return RS_OK;

	log_msg(LOG_ERROR, "roster %s: reading the triggers of the members table failed: %s",
		roster->path, rc == SQLITE_FULL ? "more than 16 triggers" : sqlite3_errstr(rc));
	return RS_ERR_IO;
}

/* Rebuilds members without the UNIQUE email_key when the table still has it. */
static enum rs_err rebuild_members_table(struct roster *roster)
{
	char *triggers_sql[TRIGGER_SLOTS];
	size_t trigger_count = 0;
	bool old = false;
	enum rs_err err = members_email_key_unique(roster, &old);

	if (err != RS_OK || !old)
		return err;

	err = members_trigger_sql(roster, triggers_sql, &trigger_count);
	if (err == RS_OK)
		err = roster_exec(roster, MEMBERS_REBUILD, "rebuilding the members table");
	for (size_t i = 0; i < trigger_count; i++) {
		if (err == RS_OK)
			err = roster_exec(roster, triggers_sql[i], "restoring a members trigger");
		sqlite3_free(triggers_sql[i]);
	}
	if (err == RS_OK)
		log_msg(LOG_INFO, "roster %s: members table rebuilt without the unique address of"
			" every row, so that unassigned members may share an address", roster->path);
	return err;
}

/* Applies migrations[from] and sets user_version to from + 1, in one transaction. */
static enum rs_err migrate_step(struct roster *roster, int from)
{
	char set_version[64];
	int current = -1;
	enum rs_err err;

	err = roster_exec(roster, "BEGIN IMMEDIATE", "starting a schema migration");
	if (err != RS_OK)
		return err;

	/* Another process may have migrated while this one waited for the lock. */
	err = roster_schema_version(roster, &current);
	if (err == RS_OK && current == from) {
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", from + 1);
		if (from == 1)
			err = rebuild_members_table(roster);
		if (err == RS_OK)
			err = roster_exec(roster, migrations[from], "migrating the schema");
		if (err == RS_OK)
			err = roster_exec(roster, set_version, "setting the schema version");
	}
	if (err == RS_OK)
		err = roster_exec(roster, "COMMIT", "committing a schema migration");

	if (err != RS_OK) {
		roster_rollback(roster, "schema migration");
		return err;
	}
	if (current == from)
		log_msg(LOG_INFO, "roster %s: schema migrated from version %d to %d",
			roster->path, from, from + 1);
	return RS_OK;
}

/*
 * Runs one step.  The members rebuild of step 1 drops a table that events
 * reference, which SQLite allows only with foreign keys off, and that
 * setting cannot change inside a transaction.  The copy keeps every id,
 * so each reference still finds its row.
 */
static enum rs_err migrate_step_outside_keys(struct roster *roster, int from)
{
	enum rs_err err;

	if (from != 1)
		return migrate_step(roster, from);

	err = roster_exec(roster, "PRAGMA foreign_keys = OFF", "setting foreign_keys");
	if (err == RS_OK)
		err = migrate_step(roster, from);
	if (roster_exec(roster, "PRAGMA foreign_keys = ON", "setting foreign_keys") != RS_OK)
		err = RS_ERR_IO;
	return err;
}

enum rs_err roster_migrate(struct roster *roster, int version)
{
	for (int from = version; from < ROSTER_SCHEMA_VERSION; from++) {
		enum rs_err err = migrate_step_outside_keys(roster, from);

		if (err != RS_OK)
			return err;
	}
	return RS_OK;
}

/*
 * The guards.  Each rejects a write while team.source is set.  Inserts and
 * updates pass while agent_write contains a row, which only rostersync's
 * own transactions insert, and delete again before they commit.  Deletes
 * never pass, because rostersync marks members unassigned instead.
 */
struct trigger_def {
	const char *name;
	const char *table;
	const char *event_and_condition;
};

#define MANAGED "(SELECT source FROM team WHERE id = 1) IS NOT NULL"
#define NO_AGENT_WRITE "NOT EXISTS (SELECT 1 FROM agent_write)"

static const struct trigger_def triggers[] = {
	{ "members_managed_insert", "members",
	  "BEFORE INSERT ON members WHEN " MANAGED " AND " NO_AGENT_WRITE },
	{ "members_managed_update", "members",
	  "BEFORE UPDATE ON members WHEN " MANAGED " AND " NO_AGENT_WRITE },
	{ "members_managed_delete", "members",
	  "BEFORE DELETE ON members WHEN " MANAGED },
	{ "team_managed_update", "team",
	  "BEFORE UPDATE ON team WHEN OLD.source IS NOT NULL AND " NO_AGENT_WRITE },
	{ "team_managed_delete", "team",
	  "BEFORE DELETE ON team WHEN OLD.source IS NOT NULL" },
};

#define TRIGGER_COUNT (sizeof(triggers) / sizeof(triggers[0]))

/* Returns the CREATE TRIGGER text for def (sqlite3_free it), NULL when out of memory. */
static char *trigger_sql(const struct trigger_def *def, const char *source_title)
{
	char *message = sqlite3_mprintf(
		"%s is managed by %s (rostersync): change the assignment in %s,"
		" or run \"rostersync release -c CONFIG\" to manage the roster by hand",
		def->table, source_title, source_title);
	char *sql;

	if (!message)
		return NULL;
	/* %q doubles single quotes, because RAISE takes only a string literal. */
	sql = sqlite3_mprintf("CREATE TRIGGER %s %s BEGIN SELECT RAISE(ABORT, '%q'); END",
			      def->name, def->event_and_condition, message);
	sqlite3_free(message);
	return sql;
}

/* Sets *same when trigger name exists with exactly the text sql. */
static enum rs_err trigger_matches(struct roster *roster, const char *name, const char *sql,
				   bool *same)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_TRIGGER_SQL);
	enum rs_err err = RS_OK;
	int rc;

	*same = false;
	if (!stmt)
		return RS_ERR_IO;
	if (!roster_bind_text(stmt, 1, name))
		return roster_sqlite_error(roster, "binding a trigger name");

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *stored = (const char *)sqlite3_column_text(stmt, 0);

		*same = stored && strcmp(stored, sql) == 0;
	} else if (rc != SQLITE_DONE) {
		err = roster_sqlite_error(roster, "reading a trigger");
	}
	sqlite3_reset(stmt);
	return err;
}

static enum rs_err trigger_create(struct roster *roster, const struct trigger_def *def,
				  const char *source_title)
{
	char *sql = trigger_sql(def, source_title);
	char *drop = sqlite3_mprintf("DROP TRIGGER IF EXISTS %s", def->name);
	enum rs_err err = RS_ERR_INTERNAL;
	bool same = false;

	if (!sql || !drop) {
		log_msg(LOG_ERROR, "roster %s: out of memory creating a trigger", roster->path);
		goto out;
	}

	err = trigger_matches(roster, def->name, sql, &same);
	if (err != RS_OK || same)
		goto out;

	err = roster_exec(roster, drop, "dropping an old trigger");
	if (err == RS_OK)
		err = roster_exec(roster, sql, "creating a trigger");
out:
	sqlite3_free(drop);
	sqlite3_free(sql);
	return err;
}

enum rs_err roster_triggers_create(struct roster *roster, const char *source_title)
{
	for (size_t i = 0; i < TRIGGER_COUNT; i++) {
		enum rs_err err = trigger_create(roster, &triggers[i], source_title);

		if (err != RS_OK)
			return err;
	}
	return RS_OK;
}

/* Sets *damaged to the number of triggers that are missing or differ from their text. */
static enum rs_err count_damaged_triggers(struct roster *roster, const char *source_title,
					  size_t *damaged)
{
	*damaged = 0;
	for (size_t i = 0; i < TRIGGER_COUNT; i++) {
		char *sql = trigger_sql(&triggers[i], source_title);
		enum rs_err err;
		bool same = false;

		if (!sql) {
			log_msg(LOG_ERROR, "roster %s: out of memory reading the triggers",
				roster->path);
			return RS_ERR_INTERNAL;
		}
		err = trigger_matches(roster, triggers[i].name, sql, &same);
		sqlite3_free(sql);
		if (err != RS_OK)
			return err;
		*damaged += !same;
	}
	return RS_OK;
}

/*
 * Deletes a row that another program left in agent_write: while it exists,
 * the triggers let every manual change through.  rostersync's own row never
 * outlives its transaction, and this run holds the lock.
 */
static enum rs_err clear_agent_write(struct roster *roster)
{
	enum rs_err err = roster_exec(roster, "DELETE FROM agent_write",
				      "clearing the agent_write table");

	if (err == RS_OK && sqlite3_changes(roster->db) > 0)
		log_msg(LOG_WARN, "roster %s: the agent_write table held a row written outside "
			"rostersync, which let manual changes past the triggers; deleted it",
			roster->path);
	return err;
}

bool roster_agent_write_left(struct roster *roster)
{
	sqlite3_stmt *stmt = NULL;
	bool left = false;

	if (sqlite3_prepare_v2(roster->db, "SELECT 1 FROM agent_write LIMIT 1", -1, &stmt,
			       NULL) == SQLITE_OK)
		left = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return left;
}

/*
 * Creates the agent_write table again when it was dropped: without it,
 * every write of rostersync fails.  One statement, so it needs no
 * transaction of its own.
 */
static enum rs_err restore_agent_write(struct roster *roster)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_AGENT_WRITE_EXISTS);
	enum rs_err err;
	int rc;

	if (!stmt)
		return RS_ERR_IO;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return clear_agent_write(roster);
	if (rc != SQLITE_DONE)
		return roster_sqlite_error(roster, "looking for the agent_write table");

	err = roster_exec(roster, "CREATE TABLE IF NOT EXISTS agent_write " AGENT_WRITE_COLUMNS,
			  "creating the agent_write table");
	if (err == RS_OK)
		log_msg(LOG_WARN, "roster %s: the agent_write table was dropped outside "
			"rostersync; created it again", roster->path);
	return err;
}

enum rs_err roster_triggers_repair(struct roster *roster, const char *source_title)
{
	size_t damaged;
	enum rs_err err = restore_agent_write(roster);

	if (err == RS_OK)
		err = count_damaged_triggers(roster, source_title, &damaged);
	if (err != RS_OK || damaged == 0)
		return err;

	err = roster_write_begin(roster, "restoring the triggers");
	if (err != RS_OK)
		return err;
	err = roster_triggers_create(roster, source_title);
	if (err == RS_OK)
		err = roster_write_commit(roster, "the triggers");
	if (err != RS_OK) {
		roster_rollback(roster, "restoring the triggers");
		return err;
	}

	log_msg(LOG_WARN, "roster %s: %zu of the %zu triggers that block manual changes %s"
		" dropped or altered outside rostersync; created %s again", roster->path,
		damaged, TRIGGER_COUNT, damaged == 1 ? "was" : "were",
		damaged == 1 ? "it" : "them");
	return RS_OK;
}

enum rs_err roster_triggers_drop(struct roster *roster)
{
	for (size_t i = 0; i < TRIGGER_COUNT; i++) {
		char *drop = sqlite3_mprintf("DROP TRIGGER IF EXISTS %s", triggers[i].name);
		enum rs_err err;

		if (!drop) {
			log_msg(LOG_ERROR, "roster %s: out of memory dropping a trigger",
				roster->path);
			return RS_ERR_INTERNAL;
		}
		err = roster_exec(roster, drop, "dropping a trigger");
		sqlite3_free(drop);
		if (err != RS_OK)
			return err;
	}
	return RS_OK;
}

/*
 * rostersync_checksum(source, external_id, email, user_name, given_name,
 * family_name, display_name, provenance, state): member_checksum() of a
 * row, as a signed 64-bit integer.  NULL when state is not a known state.
 */
static void checksum_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	struct member member = { 0 };
	char **fields[] = { &member.source, &member.external_id, &member.email,
			    &member.user_name, &member.given_name, &member.family_name,
			    &member.display_name, &member.provenance };
	const size_t field_count = sizeof(fields) / sizeof(fields[0]);

	if ((size_t)argc != field_count + 1) {
		sqlite3_result_error(context, "rostersync_checksum() takes 9 arguments", -1);
		return;
	}
	if (!member_state_parse((const char *)sqlite3_value_text(argv[field_count]),
				&member.state)) {
		sqlite3_result_null(context);
		return;
	}

	/*
	 * The member borrows SQLite's strings, which stay valid until this
	 * function returns.  member_checksum() only reads them.
	 */
	for (size_t i = 0; i < field_count; i++)
		*fields[i] = (char *)sqlite3_value_text(argv[i]);

	sqlite3_result_int64(context, roster_checksum_to_int64(member_checksum(&member)));
}

/*
 * rostersync_same_email(a, b): 1 when identity_email_compare() finds the
 * two addresses equal, which folds the letters of more scripts than
 * lower() does; NULL when either is NULL.
 */
static void same_email_function(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	const char *a = (const char *)sqlite3_value_text(argv[0]);
	const char *b = (const char *)sqlite3_value_text(argv[1]);

	(void)argc;
	if (!a || !b) {
		sqlite3_result_null(context);
		return;
	}
	sqlite3_result_int(context, identity_email_compare(a, b) == 0);
}

enum rs_err roster_functions_register(struct roster *roster)
{
	/* SQLITE_DIRECTONLY keeps them out of triggers and views that a file could bring. */
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
	int rc = sqlite3_create_function_v2(roster->db, "rostersync_checksum", 9, flags, NULL,
					    checksum_function, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(roster->db, "rostersync_same_email", 2, flags, NULL,
						same_email_function, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return roster_sqlite_error(roster, "registering the SQL functions of rostersync");
	return RS_OK;
}
