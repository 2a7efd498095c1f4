/*
 * roster.c - opening the roster file, and the helpers that the other
 * roster_*.c files share: statement cache, error logging, write
 * transactions, member rows and events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "roster_internal.h"
#include "stop.h"

#ifndef ROSTERSYNC_VERSION
#define ROSTERSYNC_VERSION "unknown"
#endif

/*
 * NOMUTEX skips SQLite's per-call locking: one struct roster is never used
 * by two threads at once.
 */
#define ROSTER_OPEN_FLAGS (SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX)

/* How long a write waits for another connection's write lock. */
#define ROSTER_BUSY_TIMEOUT_MS 5000
/* Pause between two tries of a lock that another connection has taken. */
#define ROSTER_RETRY_MS 20

/*
 * Waits for another connection's lock as sqlite3_busy_timeout() does, up to
 * roster->busy_ms, and gives up at once when a signal requests a stop.
 */
static int busy_wait(void *context, int count)
{
	const struct roster *roster = context;

	if (stop_signal() || count * ROSTER_RETRY_MS >= roster->busy_ms)
		return 0;
	usleep(ROSTER_RETRY_MS * 1000);
	return !stop_signal();
}

/* Sets how long a statement waits for another connection's lock (0: it fails at once). */
static void set_busy_wait(struct roster *roster, int ms)
{
	roster->busy_ms = ms;
	sqlite3_busy_handler(roster->db, ms > 0 ? busy_wait : NULL, roster);
}

/* Returns what to do about a SQLite error of primary code code, "" when nothing helps. */
static const char *sqlite_error_hint(int code)
{
	switch (code) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
		return "; check that the file system of the roster has free space (df -h) and"
		       " reports no errors (dmesg)";
	case SQLITE_CORRUPT:
		return "; the roster file is damaged: restore it from a backup, as described"
		       " under \"Backup and restore\" in docs/roster.md";
	case SQLITE_NOTADB:
		return "; check that roster.path names the roster, or restore the roster from a"
		       " backup, as described under \"Backup and restore\" in docs/roster.md";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "; another program (a sqlite3 shell, a backup) holds a transaction on the"
		       " roster: end it, or try again later";
	default:
		return "";
	}
}

/*
 * Names the file size limit of the process (ulimit -f, LimitFSIZE=) after
 * a failed write, because a write past it fails like a full disk.
 */
static const char *file_size_limit_hint(int code)
{
	static char hint[160];
	struct rlimit limit;

	if (code != SQLITE_FULL && code != SQLITE_IOERR)
		return "";
	if (getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
		return "";
	snprintf(hint, sizeof(hint), ", and that the file size limit of this process (%llu bytes:"
		 " ulimit -f, LimitFSIZE=) leaves room for the roster to grow",
		 (unsigned long long)limit.rlim_cur);
	return hint;
}

/* True when the directory of path is on a file system mounted read-only. */
static bool on_read_only_file_system(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct statvfs info;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return statvfs(dir, &info) == 0 && (info.f_flag & ST_RDONLY) != 0;
}

bool roster_unwritable_file(const char *path, char *out, size_t size)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char file[4096];
	struct stat info;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
		if (stat(file, &info) != 0 || access(file, W_OK) == 0)
			continue;
		if (info.st_uid == geteuid())
			snprintf(out, size, "%s has mode %03o, which does not let its owner, uid %u "
				 "that runs this command, write it: run \"chmod 600 %s\"", file,
				 (unsigned)(info.st_mode & 0777), (unsigned)info.st_uid, file);
		else
			snprintf(out, size, "%s belongs to uid %u (mode %03o), not to uid %u that "
				 "runs this command: run the command as uid %u, for example with "
				 "sudo -u, or give the roster and its files to this user", file,
				 (unsigned)info.st_uid, (unsigned)(info.st_mode & 0777),
				 (unsigned)geteuid(), (unsigned)info.st_uid);
		return true;
	}
	return false;
}

/* Logs a write that SQLite refused because a file of the roster is read-only. */
static void log_read_only(struct roster *roster, const char *operation)
{
	char problem[1024];

	if (roster_unwritable_file(roster->path, problem, sizeof(problem))) {
		log_msg(LOG_ERROR, "roster %s: %s failed: %s; %s", roster->path, operation,
			sqlite3_errmsg(roster->db), problem);
		return;
	}
	log_msg(LOG_ERROR, "roster %s: %s failed: %s; the roster, its -wal and -shm files "
		"and its directory must be writable by the user running rostersync (uid %u), "
		"even to read it, because of the WAL journal: run the command as the roster's "
		"owner, for example with sudo -u", roster->path, operation,
		sqlite3_errmsg(roster->db), (unsigned)geteuid());
}

/*
 * Logs a roster that cannot be opened.  A first run as root leaves the file
 * to root, and the service user cannot open it afterwards.
 */
static void log_cannot_open(struct roster *roster, const char *operation)
{
	struct stat file;

	if (on_read_only_file_system(roster->path))
		log_msg(LOG_ERROR, "roster %s: %s failed: %s; the file system of the roster is "
			"mounted read-only, and SQLite's WAL journal needs to write beside the "
			"roster even to read it: put roster.path on a writable file system, or "
			"read a copy", roster->path, operation, sqlite3_errmsg(roster->db));
	else if (stat(roster->path, &file) == 0 && file.st_uid != geteuid())
		log_msg(LOG_ERROR, "roster %s: %s failed: %s; the file belongs to uid %u, not to "
			"uid %u that runs this command, so give the roster and its files to that "
			"user, e.g. \"chown %u:%u %s*\"", roster->path, operation,
			sqlite3_errmsg(roster->db), (unsigned)file.st_uid, (unsigned)geteuid(),
			(unsigned)geteuid(), (unsigned)getegid(), roster->path);
	else
		log_msg(LOG_ERROR, "roster %s: %s failed: %s; check that the directory of "
			"roster.path exists and that the user running rostersync (uid %u) may "
			"read and write the roster there", roster->path, operation,
			sqlite3_errmsg(roster->db), (unsigned)geteuid());
}

/* Reports a wait for another connection's lock that a signal ended. */
static enum rs_err log_stopped_while_busy(const struct roster *roster, const char *operation)
{
	log_msg(LOG_ERROR, "roster %s: %s stopped by %s while another connection held the "
		"roster", roster->path, operation, stop_signal_name());
	return RS_ERR_TEMPFAIL;
}

enum rs_err roster_sqlite_error(struct roster *roster, const char *operation)
{
	int code = sqlite3_errcode(roster->db) & 0xff;

	if ((code == SQLITE_BUSY || code == SQLITE_LOCKED) && stop_signal())
		return log_stopped_while_busy(roster, operation);
	if (code == SQLITE_CANTOPEN || (code == SQLITE_READONLY &&
					on_read_only_file_system(roster->path)))
		log_cannot_open(roster, operation);
	else if (code == SQLITE_READONLY)
		log_read_only(roster, operation);
	else
		log_msg(LOG_ERROR, "roster %s: %s failed: %s%s%s", roster->path, operation,
			sqlite3_errmsg(roster->db), sqlite_error_hint(code),
			file_size_limit_hint(code));

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return RS_ERR_TEMPFAIL;
	if (code == SQLITE_NOMEM)
		return RS_ERR_INTERNAL;
	return RS_ERR_IO;
}

sqlite3_stmt *roster_stmt(struct roster *roster, enum roster_stmt_id id)
{
	sqlite3_stmt **slot = &roster->stmts[id];
	char operation[96];

	if (*slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
		return *slot;
	}

	if (sqlite3_prepare_v3(roster->db, roster_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
			       slot, NULL) != SQLITE_OK) {
		snprintf(operation, sizeof(operation), "preparing \"%.60s\"", roster_stmt_sql[id]);
		roster_sqlite_error(roster, operation);
		return NULL;
	}
	return *slot;
}

enum rs_err roster_exec(struct roster *roster, const char *sql, const char *operation)
{
	if (sqlite3_exec(roster->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return roster_sqlite_error(roster, operation);
	return RS_OK;
}

enum rs_err roster_step_done(struct roster *roster, sqlite3_stmt *stmt, const char *operation)
{
	enum rs_err err = RS_OK;

	if (sqlite3_step(stmt) != SQLITE_DONE)
		err = roster_sqlite_error(roster, operation);
	sqlite3_reset(stmt);
	return err;
}

bool roster_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
	return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC) == SQLITE_OK;
}

bool roster_bind_time(sqlite3_stmt *stmt, int index, int64_t value)
{
	if (value == 0)
		return sqlite3_bind_null(stmt, index) == SQLITE_OK;
	return sqlite3_bind_int64(stmt, index, value) == SQLITE_OK;
}

char *roster_column_dup(sqlite3_stmt *stmt, int column, bool *ok)
{
	const char *text = (const char *)sqlite3_column_text(stmt, column);
	char *copy;

	if (!text)
		return NULL;

	copy = strdup(text);
	if (!copy)
		*ok = false;
	return copy;
}

enum rs_err roster_write_begin(struct roster *roster, const char *operation)
{
	/*
	 * With a rollback journal, a reader that starts after BEGIN IMMEDIATE
	 * makes every later cache spill and the commit wait for it.  EXCLUSIVE
	 * waits for readers once, here, up to the busy timeout.
	 */
	const char *begin = roster->bulk_journal ? "BEGIN EXCLUSIVE" : "BEGIN IMMEDIATE";

	if (sqlite3_exec(roster->db, begin, NULL, NULL, NULL) != SQLITE_OK) {
		int code = sqlite3_errcode(roster->db) & 0xff;

		if (code != SQLITE_BUSY || stop_signal())
			return roster_sqlite_error(roster, "starting a write transaction");
		log_msg(LOG_ERROR, "roster %s: %s failed: another connection held the write"
			" lock for more than %d s; try again when it has finished",
			roster->path, operation, ROSTER_BUSY_TIMEOUT_MS / 1000);
		return RS_ERR_TEMPFAIL;
	}

	/* OR IGNORE: a row that another program left behind changes nothing. */
	if (roster_exec(roster, "INSERT OR IGNORE INTO agent_write (id) VALUES (1)",
			"marking the write as rostersync's") != RS_OK) {
		roster_rollback(roster, operation);
		return RS_ERR_IO;
	}
	return RS_OK;
}

enum rs_err roster_write_commit(struct roster *roster, const char *operation)
{
	char step[160];
	enum rs_err err;

	err = roster_exec(roster, "DELETE FROM agent_write", "removing the write marker");
	if (err != RS_OK)
		return err;

	snprintf(step, sizeof(step), "committing %s", operation);
	return roster_exec(roster, "COMMIT", step);
}

void roster_rollback(struct roster *roster, const char *operation)
{
	/* SQLite may have rolled back already (after an I/O error or a full disk). */
	if (sqlite3_get_autocommit(roster->db))
		return;

	if (sqlite3_exec(roster->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_msg(LOG_ERROR, "roster %s: rolling back %s failed: %s; closing the"
			" roster discards the transaction", roster->path, operation,
			sqlite3_errmsg(roster->db));
}

/* Creates path with mode 0600 if missing, or warns when an existing file is open to others. */
static enum rs_err prepare_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		/* The umask may have removed bits from 0600, e.g. owner write. */
		int rc = fchmod(fd, 0600);

		close(fd);
		if (rc != 0) {
			log_msg(LOG_ERROR, "roster %s: setting mode 0600 failed: %s", path,
				strerror(errno));
			return RS_ERR_IO;
		}
		log_msg(LOG_INFO, "roster %s: created", path);
		return RS_OK;
	}
	if (errno != EEXIST) {
		log_msg(LOG_ERROR, "roster %s: creating the file failed: %s", path,
			strerror(errno));
		return RS_ERR_IO;
	}

	if (stat(path, &st) != 0) {
		log_msg(LOG_ERROR, "roster %s: stat failed: %s", path, strerror(errno));
		return RS_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		log_msg(LOG_ERROR, "roster %s: not a regular file", path);
		return RS_ERR_IO;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_msg(LOG_WARN, "roster %s: file is accessible by group or others (mode %04o);"
			" run chmod 600 on it", path, (unsigned)(st.st_mode & 07777));
	return RS_OK;
}

/*
 * Runs "PRAGMA journal_mode = <mode>" and copies the mode that SQLite
 * reports into out, which is the old mode when it could not change.
 * Returns SQLite's result code: SQLITE_OK, or the error of the statement.
 */
static int set_journal_mode(struct roster *roster, const char *mode, char *out, size_t size)
{
	char sql[64];
	sqlite3_stmt *stmt = NULL;
	const char *now = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA journal_mode = %s", mode);
	rc = sqlite3_prepare_v2(roster->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		now = (const char *)sqlite3_column_text(stmt, 0);
		rc = SQLITE_OK;
	}
	snprintf(out, size, "%s", now ? now : "unknown");
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Sets WAL mode.  While another run writes with a rollback journal, SQLite
 * rejects the switch with SQLITE_BUSY at once, without the busy handler,
 * so this tries again every ROSTER_RETRY_MS up to the busy timeout.
 */
static enum rs_err set_wal_mode(struct roster *roster, char *mode, size_t size)
{
	struct timespec pause = { 0, ROSTER_RETRY_MS * 1000000L };
	int waited = 0;
	int rc;

	while ((rc = set_journal_mode(roster, "WAL", mode, size)) == SQLITE_BUSY &&
	       waited < ROSTER_BUSY_TIMEOUT_MS && !stop_signal()) {
		nanosleep(&pause, NULL);
		waited += ROSTER_RETRY_MS;
	}
	if (rc == SQLITE_OK)
		return RS_OK;
	if (rc != SQLITE_BUSY || stop_signal())
		return roster_sqlite_error(roster, "setting journal_mode=WAL");

	log_msg(LOG_ERROR, "roster %s: setting journal_mode=WAL failed: another connection kept"
		" the roster locked for %d s, as a first sync of a large tenant does while it"
		" writes; try again when it has finished", roster->path,
		ROSTER_BUSY_TIMEOUT_MS / 1000);
	return RS_ERR_TEMPFAIL;
}

/* Sets the connection's pragmas: WAL, synchronous=NORMAL, cache, foreign keys, temp_store. */
static enum rs_err set_pragmas(struct roster *roster)
{
	char mode[16];
	enum rs_err err = set_wal_mode(roster, mode, sizeof(mode));

	if (err == RS_OK && strcasecmp(mode, "wal") != 0)
		log_msg(LOG_WARN, "roster %s: journal_mode is %s, not wal; keep the roster"
			" on a local file system", roster->path, mode);

	if (err == RS_OK)
		err = roster_exec(roster, "PRAGMA synchronous = NORMAL", "setting synchronous");
	/*
	 * SQLite's default page cache of 2 MiB is enough to read the roster;
	 * roster_apply() raises it for the length of a large write.
	 */
	if (err == RS_OK)
		err = roster_exec(roster, "PRAGMA cache_size = " ROSTER_READ_CACHE, "setting cache_size");
	if (err == RS_OK)
		err = roster_exec(roster, "PRAGMA foreign_keys = ON", "enabling foreign keys");
	/*
	 * Keeps statement journals in memory.  A multi-row INSERT needs one,
	 * and in a temporary file it cost 150,000 extra writes for 100,000 new
	 * members.  Each journal holds only the pages one statement changes.
	 */
	if (err == RS_OK)
		err = roster_exec(roster, "PRAGMA temp_store = MEMORY", "setting temp_store");
	return err;
}

/*
 * A transaction in WAL mode writes every page twice, to the WAL and then to
 * the database, and its cost grew faster than the row count.  The sqlite3
 * shell (SQLite 3.40.1, ext4, 2 cores) copied 1,000,000 members and their
 * events in 7.1 s in WAL mode and in 3.7 s with a rollback journal, and
 * 100,000 in 0.57 s and 0.43 s.  A rollback journal stores only pages that
 * the database had before, so new pages cost one write.  Leaving WAL mode
 * needs every other connection closed, so the switch is tried without
 * waiting, and the write stays in WAL mode when it fails.
 */
bool roster_bulk_journal_enter(struct roster *roster)
{
	char mode[16] = "";
	bool switched;
	int rc;

	set_busy_wait(roster, 0);
	rc = set_journal_mode(roster, "DELETE", mode, sizeof(mode));
	switched = rc == SQLITE_OK && strcasecmp(mode, "delete") == 0;
	set_busy_wait(roster, ROSTER_BUSY_TIMEOUT_MS);

	/*
	 * SQLite's documentation of PRAGMA synchronous: with a rollback journal,
	 * NORMAL leaves a very small chance that a power loss corrupts the file.
	 */
	if (switched && roster_exec(roster, "PRAGMA synchronous = FULL",
				    "setting synchronous") != RS_OK) {
		roster_bulk_journal_leave(roster);
		return false;
	}
	roster->bulk_journal = switched;
	if (switched)
		log_msg(LOG_DEBUG, "roster %s: writing with a rollback journal", roster->path);
	else if (rc == SQLITE_BUSY)
		log_msg(LOG_DEBUG, "roster %s: another connection has the roster open; writing "
			"to the WAL", roster->path);
	else if (rc != SQLITE_OK)
		log_msg(LOG_DEBUG, "roster %s: switching to a rollback journal failed (%s); "
			"writing to the WAL", roster->path, sqlite3_errstr(rc));
	else
		log_msg(LOG_DEBUG, "roster %s: journal_mode stayed %s; writing to the WAL",
			roster->path, mode);
	return switched;
}

void roster_bulk_journal_leave(struct roster *roster)
{
	char mode[16];
	int rc;

	/*
	 * Without waiting: a reader that has the roster open now would delay
	 * the run by the busy timeout, and the next connection switches anyway.
	 */
	roster->bulk_journal = false;
	set_busy_wait(roster, 0);
	rc = set_journal_mode(roster, "WAL", mode, sizeof(mode));
	set_busy_wait(roster, ROSTER_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		log_msg(LOG_WARN, "roster %s: switching back to WAL mode after a large write failed:"
			" %s; the next connection to open the roster switches it", roster->path,
			sqlite3_errmsg(roster->db));
	else if (strcasecmp(mode, "wal") != 0)
		log_msg(LOG_WARN, "roster %s: journal_mode stays %s after a large write; the next"
			" connection to open the roster switches it to WAL", roster->path, mode);
	if (roster_exec(roster, "PRAGMA synchronous = NORMAL", "setting synchronous") != RS_OK)
		log_msg(LOG_WARN, "roster %s: synchronous stays FULL for this run", roster->path);
}

/*
 * Refuses a file without a rostersync schema that holds tables already:
 * roster.path then points at another program's database, which must not
 * be migrated or switched to WAL.
 */
static enum rs_err refuse_foreign_database(struct roster *roster)
{
	sqlite3_stmt *stmt = NULL;
	int tables = 0;

	if (sqlite3_prepare_v2(roster->db, "SELECT count(*) FROM sqlite_master", -1, &stmt,
			       NULL) != SQLITE_OK)
		return roster_sqlite_error(roster, "reading the schema");
	if (sqlite3_step(stmt) == SQLITE_ROW)
		tables = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);

	if (tables == 0)
		return RS_OK;
	log_msg(LOG_ERROR, "roster %s: the file is an SQLite database of another program "
		"(%d schema objects, no rostersync schema version); point roster.path at a new "
		"file", roster->path, tables);
	return RS_ERR_IO;
}

/* Opens the SQLite connection and refuses a schema newer than this program's. */
static enum rs_err open_connection(struct roster *roster)
{
	int version = 0;
	enum rs_err err;

	if (sqlite3_open_v2(roster->path, &roster->db, ROSTER_OPEN_FLAGS, NULL) != SQLITE_OK) {
		if (!roster->db) {
			log_msg(LOG_ERROR, "roster %s: opening failed: out of memory", roster->path);
			return RS_ERR_INTERNAL;
		}
		return roster_sqlite_error(roster, "opening");
	}
	sqlite3_extended_result_codes(roster->db, 1);
	set_busy_wait(roster, ROSTER_BUSY_TIMEOUT_MS);

	err = roster_schema_version(roster, &version);
	if (err != RS_OK)
		return err;
	if (version == 0) {
		err = refuse_foreign_database(roster);
		if (err != RS_OK)
			return err;
	}
	if (version < 0) {
		log_msg(LOG_ERROR, "roster %s: schema version %d (PRAGMA user_version) is not one "
			"that rostersync writes: another program changed it; restore the roster "
			"from a backup", roster->path, version);
		return RS_ERR_IO;
	}
	if (version > ROSTER_SCHEMA_VERSION) {
		log_msg(LOG_ERROR, "roster %s: schema version %d is newer than version %d, the"
			" newest that rostersync %s knows; upgrade rostersync",
			roster->path, version, ROSTER_SCHEMA_VERSION, ROSTERSYNC_VERSION);
		return RS_ERR_IO;
	}

	err = set_pragmas(roster);
	if (err == RS_OK)
		err = roster_functions_register(roster);
	if (err == RS_OK)
		err = roster_migrate(roster, version);
	return err;
}

enum rs_err roster_open(const char *path, struct roster **out)
{
	struct roster *roster;
	enum rs_err err;

	*out = NULL;
	err = prepare_file(path);
	if (err != RS_OK)
		return err;

	roster = calloc(1, sizeof(*roster));
	if (roster)
		roster->path = strdup(path);
	/* Failures return RS_ERR_IO or RS_ERR_TEMPFAIL, as roster.h promises; the log has the cause. */
	if (!roster || !roster->path) {
		log_msg(LOG_ERROR, "roster %s: out of memory", path);
		free(roster);
		return RS_ERR_IO;
	}

	err = open_connection(roster);
	if (err != RS_OK) {
		roster_close(roster);
		return err == RS_ERR_TEMPFAIL ? RS_ERR_TEMPFAIL : RS_ERR_IO;
	}

	*out = roster;
	return RS_OK;
}

void roster_close(struct roster *roster)
{
	struct timespec start;
	struct timespec end;

	if (!roster)
		return;

	for (size_t i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(roster->stmts[i]);

	/*
	 * The last connection to close copies the WAL into the roster and syncs
	 * both files, which is where a write in WAL mode reaches the disk.
	 */
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (roster->db && sqlite3_close(roster->db) != SQLITE_OK)
		log_msg(LOG_ERROR, "roster %s: closing failed: %s", roster->path,
			sqlite3_errmsg(roster->db));
	clock_gettime(CLOCK_MONOTONIC, &end);
	log_msg(LOG_DEBUG, "roster %s: closed in %.3f s", roster->path,
		(double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
	free(roster->path);
	free(roster);
}

enum rs_err roster_stmt_int64(struct roster *roster, enum roster_stmt_id id,
			      const char *operation, int64_t *value)
{
	sqlite3_stmt *stmt = roster_stmt(roster, id);
	enum rs_err err = RS_OK;

	if (!stmt)
		return RS_ERR_IO;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*value = sqlite3_column_int64(stmt, 0);
	else
		err = roster_sqlite_error(roster, operation);
	sqlite3_reset(stmt);
	return err;
}

/* Sets *found when the events hold a take-over. */
static enum rs_err read_managed_before(struct roster *roster, bool *found)
{
	int64_t exists = 0;
	enum rs_err err = roster_stmt_int64(roster, STMT_TAKE_OVER_EXISTS, "reading the events",
					    &exists);

	*found = exists != 0;
	return err;
}

enum rs_err roster_team_get(struct roster *roster, struct roster_team *out)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_TEAM_GET);
	struct roster_team team = { 0 };
	enum rs_err err = RS_OK;
	bool ok = true;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!stmt)
		return RS_ERR_IO;

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		team.name = roster_column_dup(stmt, 0, &ok);
		team.seats = (long)sqlite3_column_int64(stmt, 1);
		team.source = roster_column_dup(stmt, 2, &ok);
		team.org = roster_column_dup(stmt, 3, &ok);
		team.app = roster_column_dup(stmt, 4, &ok);
		team.managed_since = sqlite3_column_int64(stmt, 5);
		team.released_at = sqlite3_column_int64(stmt, 6);
	} else if (rc != SQLITE_DONE) {
		err = roster_sqlite_error(roster, "reading the team");
	}
	sqlite3_reset(stmt);

	if (err == RS_OK && !ok) {
		log_msg(LOG_ERROR, "roster %s: out of memory reading the team", roster->path);
		err = RS_ERR_INTERNAL;
	}
	if (err == RS_OK && !team.source && team.released_at == 0)
		err = read_managed_before(roster, &team.managed_before);
	if (err != RS_OK) {
		roster_team_release(&team);
		return err;
	}
	*out = team;
	return RS_OK;
}

void roster_team_release(struct roster_team *team)
{
	if (!team)
		return;

	free(team->name);
	free(team->source);
	free(team->org);
	free(team->app);
	memset(team, 0, sizeof(*team));
}

enum rs_err roster_team_source(struct roster *roster, char **source)
{
	struct roster_team team;
	enum rs_err err = roster_team_get(roster, &team);

	*source = NULL;
	if (err != RS_OK)
		return err;

	*source = team.source;
	team.source = NULL;
	roster_team_release(&team);
	return RS_OK;
}

enum rs_err roster_integrity(struct roster *roster, char *problem, size_t size)
{
	sqlite3_stmt *stmt = NULL;
	const char *result;
	int rc;

	problem[0] = '\0';
	if (sqlite3_prepare_v2(roster->db, "PRAGMA quick_check(1)", -1, &stmt, NULL) != SQLITE_OK)
		return roster_sqlite_error(roster, "checking the file");
	rc = sqlite3_step(stmt);
	result = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
	if (rc == SQLITE_ROW && (!result || strcmp(result, "ok") != 0))
		snprintf(problem, size, "%s", result ? result : "no result");
	/* The check may report several problems, one per line: keep them on one. */
	for (char *c = problem; *c; c++) {
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return RS_OK;
	if ((sqlite3_errcode(roster->db) & 0xff) == SQLITE_CORRUPT) {
		snprintf(problem, size, "%s", sqlite3_errmsg(roster->db));
		return RS_OK;
	}
	return roster_sqlite_error(roster, "checking the file");
}

/*
 * Logs a member whose state the CHECK constraint of the members table does
 * not allow: a damaged page reads so, or a program wrote it with the
 * constraint turned off.
 */
static void log_invalid_state(struct roster *roster, int64_t id, const char *state)
{
	char problem[512];

	/* quick_check also reports the rows that break a CHECK constraint. */
	if (roster_integrity(roster, problem, sizeof(problem)) == RS_OK && problem[0] &&
	    strncmp(problem, "CHECK constraint", 16) != 0) {
		log_msg(LOG_ERROR, "roster %s: the roster file is damaged (%s): restore it from a "
			"backup, as described under \"Backup and restore\" in docs/roster.md",
			roster->path, problem);
		return;
	}
	log_msg(LOG_ERROR, "roster %s: member %lld has the state \"%s\", which the members "
		"table does not allow (active, waiting or unassigned): another program wrote it "
		"with CHECK constraints off; set the state of that row to one of the three, or "
		"restore the roster from a backup", roster->path, (long long)id,
		state ? state : "NULL");
}

/* Returns a text column, or NULL for SQL NULL; valid until the statement moves on. */
static char *column_view(sqlite3_stmt *stmt, int column)
{
	return (char *)sqlite3_column_text(stmt, column);
}

enum rs_err roster_member_view(struct roster *roster, sqlite3_stmt *stmt, struct member *member,
			       bool *has_checksum, uint64_t *checksum)
{
	const char *state = (const char *)sqlite3_column_text(stmt, 9);

	memset(member, 0, sizeof(*member));
	member->id = sqlite3_column_int64(stmt, 0);
	member->source = column_view(stmt, 1);
	member->external_id = column_view(stmt, 2);
	member->email = column_view(stmt, 3);
	member->user_name = column_view(stmt, 4);
	member->given_name = column_view(stmt, 5);
	member->family_name = column_view(stmt, 6);
	member->display_name = column_view(stmt, 7);
	member->provenance = column_view(stmt, 8);
	member->created_at = sqlite3_column_int64(stmt, 10);
	member->updated_at = sqlite3_column_int64(stmt, 11);
	member->state_since = sqlite3_column_int64(stmt, 12);
	*has_checksum = sqlite3_column_type(stmt, 13) != SQLITE_NULL;
	*checksum = (uint64_t)sqlite3_column_int64(stmt, 13);

	/* The CHECK constraint allows only known states; this guards a changed schema. */
	if (!member_state_parse(state, &member->state)) {
		log_invalid_state(roster, member->id, state);
		return RS_ERR_IO;
	}
	return RS_OK;
}

enum rs_err roster_member_read(struct roster *roster, sqlite3_stmt *stmt, struct member *member,
			       bool *has_checksum, uint64_t *checksum)
{
	struct member view;
	enum rs_err err = roster_member_view(roster, stmt, &view, has_checksum, checksum);

	memset(member, 0, sizeof(*member));
	if (err != RS_OK)
		return err;
	if (!member_copy(member, &view)) {
		log_msg(LOG_ERROR, "roster %s: out of memory reading members", roster->path);
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

enum rs_err roster_event_add(struct roster *roster, const struct roster_event *event)
{
	sqlite3_stmt *stmt = roster_stmt(roster, STMT_EVENT_INSERT);
	bool ok;

	if (!stmt)
		return RS_ERR_IO;

	ok = roster_bind_text(stmt, 1, event->run_id) &&
	     sqlite3_bind_int64(stmt, 2, event->at) == SQLITE_OK &&
	     roster_bind_text(stmt, 3, event->op) &&
	     roster_bind_time(stmt, 4, event->member_id) &&
	     roster_bind_text(stmt, 5, event->email) &&
	     roster_bind_text(stmt, 6, event->external_id) &&
	     roster_bind_text(stmt, 7, event->source) &&
	     roster_bind_text(stmt, 8, event->before) &&
	     roster_bind_text(stmt, 9, event->after) &&
	     roster_bind_text(stmt, 10, event->reason);
	if (!ok)
		return roster_sqlite_error(roster, "binding an event");
	return roster_step_done(roster, stmt, "writing an event");
}

/* Adds text, or JSON null when text is NULL; false when out of memory. */
static bool json_add_text(cJSON *object, const char *name, const char *text)
{
	if (!text)
		return cJSON_AddNullToObject(object, name) != NULL;
	return cJSON_AddStringToObject(object, name, text) != NULL;
}

/* Adds a Unix time, or JSON null when it is 0. */
static bool json_add_time(cJSON *object, const char *name, int64_t value)
{
	if (value == 0)
		return cJSON_AddNullToObject(object, name) != NULL;
	return cJSON_AddNumberToObject(object, name, (double)value) != NULL;
}

char *roster_management_json(const char *source, const char *org, const char *app,
			     int64_t managed_since, int64_t released_at)
{
	cJSON *object = cJSON_CreateObject();
	char *text = NULL;
	bool ok;

	if (!object)
		return NULL;

	ok = json_add_text(object, "source", source) &&
	     json_add_text(object, "org", org) &&
	     json_add_text(object, "app", app) &&
	     json_add_time(object, "managed_since", managed_since) &&
	     json_add_time(object, "released_at", released_at);
	if (ok)
		text = cJSON_PrintUnformatted(object);

	cJSON_Delete(object);
	return text;
}

char *roster_member_json(const struct member *member)
{
	cJSON *object = cJSON_CreateObject();
	char *text = NULL;
	bool ok;

	if (!object)
		return NULL;

	/* Member ids stay far below 2^53, so a JSON number represents them exactly. */
	ok = (member->id == 0 || cJSON_AddNumberToObject(object, "id", (double)member->id)) &&
	     json_add_text(object, "source", member->source) &&
	     json_add_text(object, "external_id", member->external_id) &&
	     json_add_text(object, "email", member->email) &&
	     json_add_text(object, "user_name", member->user_name) &&
	     json_add_text(object, "given_name", member->given_name) &&
	     json_add_text(object, "family_name", member->family_name) &&
	     json_add_text(object, "display_name", member->display_name) &&
	     json_add_text(object, "provenance", member->provenance) &&
	     json_add_text(object, "state", member_state_name(member->state));
	if (ok)
		text = cJSON_PrintUnformatted(object);

	cJSON_Delete(object);
	return text;
}
