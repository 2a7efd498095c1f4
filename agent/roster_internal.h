/*
 * roster_internal.h - the declarations that the roster_*.c files share and
 * nothing else uses: the handle, the prepared-statement cache, error
 * logging and the write transaction that other programs cannot imitate by
 * accident.
 */
#ifndef ROSTERSYNC_ROSTER_INTERNAL_H
#define ROSTERSYNC_ROSTER_INTERNAL_H

#include <sqlite3.h>

#include "roster.h"

/* Statements prepared once per connection; their SQL is in roster_schema.c. */
enum roster_stmt_id {
	STMT_TEAM_GET = 0,
	STMT_TAKE_OVER_EXISTS,
	STMT_TEAM_UPSERT,
	STMT_TEAM_RELEASE,
	STMT_MEMBERS_ALL,
	STMT_MEMBER_INSERT,
	STMT_MEMBER_UPDATE,
	STMT_MEMBER_PARK_EMAIL,
	STMT_MEMBER_BY_EMAIL,
	STMT_MEMBER_LONGEST_WAITING,
	STMT_MEMBER_SET_STATE,
	STMT_MEMBER_ADD_AGAIN,
	STMT_MEMBERS_SEAL,
	STMT_ACTIVE_COUNT,
	STMT_DELETED_IDS,
	STMT_EVENT_INSERT,
	STMT_MEMBER_EVENT_INSERT,
	STMT_MEMBER_INSERT_BATCH,
	STMT_MEMBER_EVENT_INSERT_BATCH,
	STMT_EVENTS_LAST_ID,
	STMT_AGENT_WRITE_EXISTS,
	STMT_MEMBERS_LAST_ID,
	STMT_MEMBERS_CHECK_NEW,
	STMT_APPROVAL_INSERT,
	STMT_APPROVAL_GET,
	STMT_RUN_START,
	STMT_RUN_FINISH,
	STMT_RUNS_RECENT,
	STMT_STATE_GET,
	STMT_STATE_SET,
	STMT_STATE_DELETE,
	STMT_TRIGGER_SQL,
	STMT_COUNT
};

struct roster {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[STMT_COUNT];
	bool bulk_journal;  /* in a rollback journal for one bulk write */
	int busy_ms;        /* how long to wait for another connection's lock */
};

/*
 * New members written by one statement, and their events by another, when
 * a plan inserts at least this many in a row (see roster_apply.c).
 */
#define ROSTER_INSERT_BATCH 32

/*
 * Page cache sizes, as PRAGMA cache_size values (negative: KiB).  Reads need
 * little.  A sync of 100,000 new members writes about 60 MB: 8 MiB lets it
 * spill pages during the transaction at about 5% more CPU time than a cache
 * that contains it all, which would add those 60 MB to the peak memory (make
 * bench).  New members arrive in email order, which is random in the index
 * on (source, external_id), so a write adds twice the size of their
 * entries in that index to keep it in the cache (roster_apply.c).  Without
 * this, a sync of 1,000,000 new Okta members against the fake IdP wrote for
 * 6.7 s instead of 6.0 s, with twice the system time (single runs).
 */
#define ROSTER_READ_CACHE "-2048"
#define ROSTER_WRITE_CACHE_KIB 8192
/* Bytes of an index entry besides its key texts: record header, rowid, cell pointer. */
#define ROSTER_INDEX_ENTRY_OVERHEAD 12

/*
 * A plan that inserts at least this many new members, and more than the
 * events table holds, is a bulk write (see roster_apply.c).
 */
#define ROSTER_BULK_MIN 10000

/* The events index, as the first schema creates it. */
#define ROSTER_EVENTS_INDEX_CREATE \
	"CREATE INDEX events_source_external_id ON events (source, external_id)"
#define ROSTER_EVENTS_INDEX_DROP "DROP INDEX events_source_external_id"

/* One row of the events table; before and after are JSON texts or NULL. */
struct roster_event {
	const char *run_id;
	int64_t at;
	const char *op;
	int64_t member_id;       /* 0 stores NULL */
	const char *email;
	const char *external_id;
	const char *source;
	const char *before;
	const char *after;
	const char *reason;
};

/*
 * The checksum column is a signed 64-bit INTEGER, so member_checksum()'s
 * unsigned value is stored as the int64_t with the same bits.  Written
 * without a cast of an out-of-range value, which C leaves to the compiler.
 */
static inline int64_t roster_checksum_to_int64(uint64_t checksum)
{
	if (checksum <= INT64_MAX)
		return (int64_t)checksum;
	return -(int64_t)(UINT64_MAX - checksum) - 1;
}

/* roster.c */

/*
 * Logs "roster PATH: OPERATION failed: <sqlite3_errmsg>" at LOG_ERROR and maps
 * the connection's last error: busy or locked gives RS_ERR_TEMPFAIL, out of
 * memory RS_ERR_INTERNAL, anything else RS_ERR_IO.
 */
enum rs_err roster_sqlite_error(struct roster *roster, const char *operation);

/* Returns the cached statement for id, reset and unbound, or NULL after a logged error. */
sqlite3_stmt *roster_stmt(struct roster *roster, enum roster_stmt_id id);

/* Runs SQL without results through sqlite3_exec and logs operation when it fails. */
enum rs_err roster_exec(struct roster *roster, const char *sql, const char *operation);

/* Steps the prepared statement id, which returns one integer, into *value. */
enum rs_err roster_stmt_int64(struct roster *roster, enum roster_stmt_id id,
			      const char *operation, int64_t *value);

/* Steps stmt once, expects SQLITE_DONE, and resets it. */
enum rs_err roster_step_done(struct roster *roster, sqlite3_stmt *stmt, const char *operation);

/*
 * Switches the connection from WAL mode to a rollback journal with
 * synchronous=FULL for one large write, and returns true, when no other
 * connection has the roster open; otherwise leaves it in WAL mode and
 * returns false.  Until roster_bulk_journal_leave() switches back after
 * the transaction, roster_write_begin() takes the exclusive lock at once.
 */
bool roster_bulk_journal_enter(struct roster *roster);
void roster_bulk_journal_leave(struct roster *roster);

/* Binds text, or NULL when text is NULL, without copying it. */
bool roster_bind_text(sqlite3_stmt *stmt, int index, const char *text);
/* Binds a Unix time, or NULL when it is 0. */
bool roster_bind_time(sqlite3_stmt *stmt, int index, int64_t value);

/*
 * Returns a malloc'ed copy of a text column, or NULL for SQL NULL.  Sets
 * *ok to false when out of memory.
 */
char *roster_column_dup(sqlite3_stmt *stmt, int column, bool *ok);

/*
 * Starts a write: BEGIN IMMEDIATE, then a row in agent_write so that the
 * members triggers let this connection through.  roster_write_commit()
 * deletes the row before COMMIT, so it is never visible to another
 * connection.  A busy roster is retried for the busy timeout, then gives
 * RS_ERR_TEMPFAIL.
 */
enum rs_err roster_write_begin(struct roster *roster, const char *operation);
enum rs_err roster_write_commit(struct roster *roster, const char *operation);
/* Rolls back the open transaction, if any.  A failed rollback is logged as its own error. */
void roster_rollback(struct roster *roster, const char *operation);

/* Stores a copy of the team's source in *source, NULL when not managed. */
enum rs_err roster_team_source(struct roster *roster, char **source);

/*
 * Reads the current row of a statement that selects MEMBER_COLUMNS (see
 * roster_schema.c) into *member, whose strings the caller then owns.
 * *checksum is the stored checksum; *has_checksum is false when it is NULL.
 */
enum rs_err roster_member_read(struct roster *roster, sqlite3_stmt *stmt, struct member *member,
			       bool *has_checksum, uint64_t *checksum);

/*
 * Reads the current row like roster_member_read(), but the strings of
 * *member point into the statement's row: they are valid until the next
 * step or reset of stmt, and the caller must not free them.
 */
enum rs_err roster_member_view(struct roster *roster, sqlite3_stmt *stmt, struct member *member,
			       bool *has_checksum, uint64_t *checksum);

/*
 * Inserts member as a new row and stores its id in *id.  created_at and
 * state_since default to now when zero.  The checksum column gets
 * member_checksum() when seal is true, else NULL.
 */
enum rs_err roster_member_insert(struct roster *roster, const struct member *member, int64_t now,
				 bool seal, int64_t *id);

/* Sets sync_state key to value, or deletes it when value is NULL. */
enum rs_err roster_state_write(struct roster *roster, const char *key, const char *value,
			       int64_t now);

/* Inserts one events row. */
enum rs_err roster_event_add(struct roster *roster, const struct roster_event *event);

/* Returns member as a JSON object text (malloc'ed), NULL when out of memory. */
char *roster_member_json(const struct member *member);

/*
 * Returns the team's management as a JSON object text (malloc'ed) for the
 * take-over and release events; times of 0 become null.
 */
char *roster_management_json(const char *source, const char *org, const char *app,
			     int64_t managed_since, int64_t released_at);

/* roster_schema.c */

extern const char *const roster_stmt_sql[STMT_COUNT];

/* Reads PRAGMA user_version into *version. */
enum rs_err roster_schema_version(struct roster *roster, int *version);

/*
 * Migrates the open roster from version (its user_version) to
 * ROSTER_SCHEMA_VERSION, one transaction per step.
 */
enum rs_err roster_migrate(struct roster *roster, int version);

/*
 * Creates the triggers that reject writes to members and team by other
 * programs while the team is managed; their message names source_title.
 * Existing triggers with the same text are kept.  Call inside a write.
 */
enum rs_err roster_triggers_create(struct roster *roster, const char *source_title);
enum rs_err roster_triggers_drop(struct roster *roster);

/* Registers the SQL function rostersync_checksum() on the connection. */
enum rs_err roster_functions_register(struct roster *roster);

#endif
