/*
 * test_roster.c - the SQLite roster: creation, migrations, apply, events,
 * manual commands, the triggers seen from the sqlite3 shell, drift, runs,
 * sync state and approvals.
 *
 * Each test gets its own directory under /tmp.  Set ROSTERSYNC_KEEP_FILES=1
 * to keep it after the test for inspection.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "capture.h"
#include "unit.h"
#include "roster.h"
#include "../../agent/roster_internal.h"

#define NOW 1700000000

struct fixture {
	char dir[64];
	char path[128];
	struct roster *roster;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/rostersync-roster-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/roster.db", f->dir);
	assert_int_equal(roster_open(f->path, &f->roster), RS_OK);
	*state = f;
	return 0;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	char path[512];

	if (!d)
		return;
	for (entry = readdir(d); entry; entry = readdir(d)) {
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	const char *keep = getenv("ROSTERSYNC_KEEP_FILES");

	roster_close(f->roster);
	if (keep && strcmp(keep, "1") == 0)
		fprintf(stderr, "kept %s\n", f->dir);
	else
		remove_dir(f->dir);
	free(f);
	return 0;
}

/* A member whose strings are borrowed literals; copy it before storing it. */
static struct member person(const char *external_id, const char *email, const char *given,
			    enum member_state state)
{
	struct member m = {
		.source = external_id ? "okta" : "manual",
		.external_id = (char *)external_id,
		.email = (char *)email,
		.user_name = (char *)email,
		.given_name = (char *)given,
		.family_name = "Tester",
		.provenance = external_id ? "direct" : NULL,
		.state = state,
	};

	return m;
}

/* Copies text into the plan's pool, which plan_release() frees, as plan_build() does. */
static char *plan_text(struct plan *plan, const char *text)
{
	char *copy = strpool_dup(&plan->strings, text);

	assert_true(copy != NULL || text == NULL);
	return copy;
}

/* Fills *dst with src and copies of its strings in the plan's pool. */
static void plan_member(struct plan *plan, struct member *dst, const struct member *src)
{
	*dst = *src;
	dst->source = plan_text(plan, src->source);
	dst->external_id = plan_text(plan, src->external_id);
	dst->email = plan_text(plan, src->email);
	dst->user_name = plan_text(plan, src->user_name);
	dst->given_name = plan_text(plan, src->given_name);
	dst->family_name = plan_text(plan, src->family_name);
	dst->display_name = plan_text(plan, src->display_name);
	dst->provenance = plan_text(plan, src->provenance);
}

static void plan_add(struct plan *plan, enum plan_op op, const struct member *before,
		     const struct member *after, const char *reason)
{
	struct plan_entry *entry;

	plan->entries = realloc(plan->entries, (plan->count + 1) * sizeof(*plan->entries));
	assert_non_null(plan->entries);
	entry = &plan->entries[plan->count++];
	memset(entry, 0, sizeof(*entry));

	entry->op = op;
	entry->before = before;
	plan_member(plan, &entry->after, after);
	entry->reason = plan_text(plan, reason);
	plan->counts[op]++;
}

static enum rs_err apply_plan(struct fixture *f, const struct plan *plan, int64_t now,
			      const char *approved_plan_id)
{
	struct roster_apply apply = {
		.run_id = "run-apply",
		.plan = plan,
		.source = "okta",
		.source_title = "Okta",
		.org = "https://acme.okta.com",
		.app = "0oa1app",
		.team_name = "Acme",
		.seats = 10,
		.approved_plan_id = approved_plan_id,
		.now = now,
	};

	return roster_apply(f->roster, &apply);
}

/* Takes the roster over with a@example.com (ext-1, active) and b@example.com (ext-2, waiting). */
static void take_over_with_two(struct fixture *f)
{
	struct plan plan = { 0 };
	struct member a = person("ext-1", "a@example.com", "Ada", MEMBER_ACTIVE);
	struct member b = person("ext-2", "b@example.com", "Bob", MEMBER_WAITING);

	plan_add(&plan, PLAN_ASSIGN, NULL, &a, "assigned to the app in Okta");
	plan_add(&plan, PLAN_WAIT, NULL, &b, "no free seat: 1 of 1 seats used");
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_OK);
	plan_release(&plan);
}

static void snapshot(struct fixture *f, struct member_list *members, char ***ids, size_t *count)
{
	assert_int_equal(roster_snapshot(f->roster, "okta", members, ids, count), RS_OK);
}

static void free_ids(char **ids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(ids[i]);
	free(ids);
}

static const struct member *find_email(const struct member_list *members, const char *email)
{
	for (size_t i = 0; i < members->count; i++) {
		if (strcmp(members->items[i].email, email) == 0)
			return &members->items[i];
	}
	return NULL;
}

/* Runs sql on a connection of its own and returns the first column of the first row. */
static long long query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long value;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

/* Like query_int, for a text column; the caller frees the result. */
static char *query_text(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	const unsigned char *text;
	char *copy;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	text = sqlite3_column_text(stmt, 0);
	copy = strdup(text ? (const char *)text : "");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return copy;
}

/*
 * Runs sql with the real sqlite3 shell, as an operator would, and returns
 * its exit status.  output receives what it printed on stdout and stderr.
 */
static int run_shell(struct fixture *f, const char *sql, char *output, size_t size)
{
	char in_path[160], out_path[160], command[600];
	FILE *file;
	size_t n;
	int status;

	snprintf(in_path, sizeof(in_path), "%s/shell.sql", f->dir);
	snprintf(out_path, sizeof(out_path), "%s/shell.out", f->dir);
	file = fopen(in_path, "w");
	assert_non_null(file);
	fputs(sql, file);
	fclose(file);

	snprintf(command, sizeof(command), "sqlite3 -bail '%s' < '%s' > '%s' 2>&1", f->path,
		 in_path, out_path);
	status = system(command);
	assert_true(WIFEXITED(status));

	file = fopen(out_path, "r");
	assert_non_null(file);
	n = fread(output, 1, size - 1, file);
	output[n] = '\0';
	fclose(file);
	return WEXITSTATUS(status);
}

static void create_sets_mode_0600_and_wal(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char *mode;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	mode = query_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
}

static void create_ignores_loose_umask(void **state)
{
	struct fixture *f = *state;
	struct roster *roster = NULL;
	char path[160];
	struct stat st;
	mode_t saved = umask(0);

	snprintf(path, sizeof(path), "%s/loose.db", f->dir);
	assert_int_equal(roster_open(path, &roster), RS_OK);
	umask(saved);
	roster_close(roster);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void migration_sets_user_version(void **state)
{
	struct fixture *f = *state;
	struct roster *roster = NULL;
	char path[160];
	FILE *file;

	snprintf(path, sizeof(path), "%s/empty.db", f->dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fclose(file);
	assert_int_equal(query_int(path, "PRAGMA user_version"), 0);

	assert_int_equal(roster_open(path, &roster), RS_OK);
	roster_close(roster);

	assert_int_equal(query_int(path, "PRAGMA user_version"), ROSTER_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				   " AND name IN ('team', 'members', 'events', 'runs',"
				   " 'sync_state', 'approvals', 'agent_write')"), 7);

	/* A second open finds the current version and changes nothing. */
	assert_int_equal(roster_open(path, &roster), RS_OK);
	roster_close(roster);
	assert_int_equal(query_int(path, "PRAGMA user_version"), ROSTER_SCHEMA_VERSION);
}

static void newer_schema_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct roster *roster = NULL;
	sqlite3 *db = NULL;
	char path[160];
	char *mode;

	snprintf(path, sizeof(path), "%s/newer.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE future (x); PRAGMA user_version = 99",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(roster_open(path, &roster), RS_ERR_IO);
	assert_null(roster);

	/* The file is left exactly as it was: no migration, no WAL switch. */
	assert_int_equal(query_int(path, "PRAGMA user_version"), 99);
	mode = query_text(path, "PRAGMA journal_mode");
	assert_string_equal(mode, "delete");
	free(mode);
}

static void non_database_file_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct roster *roster = NULL;
	char path[160];
	FILE *file;

	snprintf(path, sizeof(path), "%s/text.db", f->dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("this is not a database, just some text that fills a page\n", file);
	fclose(file);

	assert_int_equal(roster_open(path, &roster), RS_ERR_IO);
	assert_null(roster);
}

static void open_warns_on_group_readable_file(void **state)
{
	struct fixture *f = *state;
	struct roster *roster = NULL;
	char path[160], log_path[160], text[2048];
	int saved_stderr, log_fd;
	FILE *file;
	size_t n;

	snprintf(path, sizeof(path), "%s/shared.db", f->dir);
	snprintf(log_path, sizeof(log_path), "%s/stderr.txt", f->dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fclose(file);
	assert_int_equal(chmod(path, 0640), 0);

	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_stderr >= 0 && log_fd >= 0);
	dup2(log_fd, STDERR_FILENO);
	close(log_fd);

	assert_int_equal(roster_open(path, &roster), RS_OK);

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	roster_close(roster);

	file = fopen(log_path, "r");
	assert_non_null(file);
	n = fread(text, 1, sizeof(text) - 1, file);
	text[n] = '\0';
	fclose(file);
	assert_non_null(strstr(text, path));
	assert_non_null(strstr(text, "group or others"));
	assert_non_null(strstr(text, "chmod 600"));
}

static void apply_assigns_reads_back(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct roster_team team;
	char **ids = NULL;
	size_t count = 99;

	take_over_with_two(f);
	snapshot(f, &members, &ids, &count);

	assert_int_equal(members.count, 2);
	assert_int_equal(count, 0);
	assert_true(members.items[0].id < members.items[1].id);
	assert_string_equal(members.items[0].email, "a@example.com");
	assert_string_equal(members.items[0].external_id, "ext-1");
	assert_string_equal(members.items[0].source, "okta");
	assert_string_equal(members.items[0].given_name, "Ada");
	assert_string_equal(members.items[0].family_name, "Tester");
	assert_null(members.items[0].display_name);
	assert_string_equal(members.items[0].provenance, "direct");
	assert_int_equal(members.items[0].state, MEMBER_ACTIVE);
	assert_int_equal(members.items[0].created_at, NOW);
	assert_int_equal(members.items[0].state_since, NOW);
	assert_false(members.items[0].drifted);
	assert_string_equal(members.items[1].email, "b@example.com");
	assert_int_equal(members.items[1].state, MEMBER_WAITING);
	assert_false(members.items[1].drifted);
	member_list_release(&members);
	free_ids(ids, count);

	assert_int_equal(roster_team_get(f->roster, &team), RS_OK);
	assert_string_equal(team.name, "Acme");
	assert_int_equal(team.seats, 10);
	assert_string_equal(team.source, "okta");
	assert_string_equal(team.org, "https://acme.okta.com");
	assert_string_equal(team.app, "0oa1app");
	assert_int_equal(team.managed_since, NOW);
	assert_int_equal(team.released_at, 0);
	roster_team_release(&team);
}

static void team_get_empty_roster_zeroes(void **state)
{
	struct fixture *f = *state;
	struct roster_team team;

	memset(&team, 0x55, sizeof(team));
	assert_int_equal(roster_team_get(f->roster, &team), RS_OK);
	assert_null(team.name);
	assert_null(team.source);
	assert_int_equal(team.seats, 0);
	assert_int_equal(team.managed_since, 0);
	roster_team_release(&team);
}

static void apply_writes_event_per_entry(void **state)
{
	struct fixture *f = *state;
	char *after;
	cJSON *json;

	take_over_with_two(f);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"
				   " WHERE op IN ('assign', 'wait')"), 2);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"
				   " WHERE op = 'assign' AND email = 'a@example.com'"
				   " AND external_id = 'ext-1' AND source = 'okta'"
				   " AND run_id = 'run-apply' AND at = 1700000000"
				   " AND reason = 'assigned to the app in Okta'"
				   " AND before IS NULL"
				   " AND member_id = (SELECT id FROM members"
				   " WHERE email = 'a@example.com')"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'wait'"
				   " AND reason = 'no free seat: 1 of 1 seats used'"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'take_over'"
				   " AND reason = 'roster taken over by Okta'"), 1);

	after = query_text(f->path, "SELECT after FROM events WHERE op = 'wait'");
	json = cJSON_Parse(after);
	assert_non_null(json);
	assert_string_equal(cJSON_GetObjectItem(json, "email")->valuestring, "b@example.com");
	assert_string_equal(cJSON_GetObjectItem(json, "state")->valuestring, "waiting");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(json, "display_name")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(json, "id")));
	cJSON_Delete(json);
	free(after);
}

/*
 * The event JSON is written by SQLite's json_object(); it must be the text
 * cJSON writes for the same object, escapes included, as roster_member_json()
 * does for the manual commands.
 */
static void event_json_escapes_like_cjson(void **state)
{
	static const char expected[] =
		"{\"id\":1,\"source\":\"okta\",\"external_id\":\"ext-\\\"q\\\"\","
		"\"email\":\"zoe@example.com\",\"user_name\":\"zoe@example.com\","
		"\"given_name\":\"Zo\xc3\xab \\\\ tab\\t nl\\n bell\\u0007\","
		"\"family_name\":\"Tester\",\"display_name\":null,\"provenance\":\"direct\","
		"\"state\":\"active\"}";
	struct fixture *f = *state;
	struct member zoe = person("ext-\"q\"", "zoe@example.com", "Zo\xc3\xab \\ tab\t nl\n bell\a",
				   MEMBER_ACTIVE);
	struct plan plan = { 0 };
	char *after;
	char *reprinted;
	cJSON *json;

	plan_add(&plan, PLAN_ASSIGN, NULL, &zoe, "assigned to the app in Okta");
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_OK);
	plan_release(&plan);

	after = query_text(f->path, "SELECT after FROM events WHERE op = 'assign'");
	assert_string_equal(after, expected);
	json = cJSON_Parse(after);
	assert_non_null(json);
	reprinted = cJSON_PrintUnformatted(json);
	assert_string_equal(reprinted, after);
	cJSON_free(reprinted);
	cJSON_Delete(json);
	free(after);
}

static void apply_update_keeps_row_history(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct member before, after;
	struct plan plan = { 0 };
	char *before_json;

	take_over_with_two(f);
	snapshot(f, &members, NULL, NULL);
	assert_true(member_copy(&before, &members.items[0]));
	member_list_release(&members);

	/* A rename keeps the state and its start; an unassign moves both. */
	assert_true(member_copy(&after, &before));
	free(after.given_name);
	after.given_name = strdup("Adelaide");
	plan_add(&plan, PLAN_UPDATE, &before, &after, "changed in Okta: given name");
	assert_int_equal(apply_plan(f, &plan, NOW + 10, NULL), RS_OK);
	plan_release(&plan);

	snapshot(f, &members, NULL, NULL);
	assert_string_equal(members.items[0].given_name, "Adelaide");
	assert_int_equal(members.items[0].state_since, NOW);
	assert_int_equal(members.items[0].updated_at, NOW + 10);
	assert_false(members.items[0].drifted);
	member_list_release(&members);

	member_release(&before);
	before = after;
	assert_true(member_copy(&after, &before));
	after.state = MEMBER_UNASSIGNED;
	plan_add(&plan, PLAN_UNASSIGN, &before, &after, "removed from the app in Okta");
	assert_int_equal(apply_plan(f, &plan, NOW + 20, NULL), RS_OK);
	plan_release(&plan);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 2);
	assert_int_equal(members.items[0].state, MEMBER_UNASSIGNED);
	assert_int_equal(members.items[0].state_since, NOW + 20);
	member_list_release(&members);

	before_json = query_text(f->path, "SELECT before FROM events WHERE op = 'unassign'");
	assert_non_null(strstr(before_json, "\"state\":\"active\""));
	assert_non_null(strstr(before_json, "\"given_name\":\"Adelaide\""));
	free(before_json);

	member_release(&before);
	member_release(&after);
}

/* Adds count assigns of new members ext-<from>, user<from>@example.com, ... */
static void plan_add_new(struct plan *plan, int from, int count)
{
	for (int i = from; i < from + count; i++) {
		char id[32];
		char email[64];
		struct member m;

		snprintf(id, sizeof(id), "ext-%d", i);
		snprintf(email, sizeof(email), "user%d@example.com", i);
		m = person(id, email, "Given", MEMBER_ACTIVE);
		plan_add(plan, PLAN_ASSIGN, NULL, &m, "assigned to the app in Okta");
	}
}

/*
 * 70 new members, two full batches and six one by one: every event names
 * the row it wrote, and the ids follow the plan's order.
 */
static void batched_inserts_match_events(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct plan plan = { 0 };

	plan_add_new(&plan, 100, 70);
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_OK);
	plan_release(&plan);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 70);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'assign'"), 70);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events AS e JOIN members AS m"
				   " ON m.id = e.member_id WHERE e.op = 'assign'"
				   " AND e.email = m.email AND e.external_id = m.external_id"
				   " AND json_extract(e.after, '$.id') = m.id"
				   " AND json_extract(e.after, '$.email') = m.email"
				   " AND e.before IS NULL"), 70);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"
				   " WHERE id - (SELECT min(id) FROM members)"
				   " = CAST(substr(external_id, 5) AS INTEGER) - 100"), 70);

	/* The checksums were sealed: no row counts as drifted. */
	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 70);
	for (size_t i = 0; i < members.count; i++)
		assert_false(members.items[i].drifted);
	member_list_release(&members);
}

/* A batch that fails is applied again one by one, and nothing is kept. */
static void failing_batch_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	struct member dup = person("ext-dup", "USER105@example.com", "Eve", MEMBER_ACTIVE);

	plan_add_new(&plan, 100, 40);
	plan.entries[20].after.email = plan_text(&plan, dup.email);
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_ERR_IO);
	plan_release(&plan);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), 0);
}

static void failing_entry_rolls_back_everything(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	struct member a = person("ext-1", "a@example.com", "Ada", MEMBER_ACTIVE);
	struct member b = person("ext-2", "b@example.com", "Bob", MEMBER_ACTIVE);
	struct member dup = person("ext-3", "A@Example.COM", "Eve", MEMBER_ACTIVE);
	struct member_list members;
	struct roster_team team;
	bool used = true;

	plan_add(&plan, PLAN_ASSIGN, NULL, &a, "assigned to the app in Okta");
	plan_add(&plan, PLAN_ASSIGN, NULL, &b, "assigned to the app in Okta");
	plan_add(&plan, PLAN_ASSIGN, NULL, &dup, "assigned to the app in Okta");
	assert_int_equal(apply_plan(f, &plan, NOW, "plan-x"), RS_ERR_IO);
	plan_release(&plan);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 0);
	member_list_release(&members);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM agent_write"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sqlite_master"
				   " WHERE type = 'trigger'"), 0);

	assert_int_equal(roster_team_get(f->roster, &team), RS_OK);
	assert_null(team.source);
	roster_team_release(&team);
	assert_int_equal(roster_approval_used(f->roster, "plan-x", &used), RS_OK);
	assert_false(used);

	/* The connection is usable afterwards. */
	take_over_with_two(f);
}

static void entry_without_row_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	struct member a = person("ext-1", "a@example.com", "Ada", MEMBER_UNASSIGNED);

	plan_add(&plan, PLAN_UNASSIGN, NULL, &a, "removed from the app in Okta");
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_ERR_INTERNAL);
	plan_release(&plan);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), 0);
}

static void update_of_missing_row_fails(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	struct member ghost = person("ext-9", "ghost@example.com", "Gus", MEMBER_ACTIVE);

	take_over_with_two(f);
	ghost.id = 4242;
	plan_add(&plan, PLAN_UPDATE, &ghost, &ghost, "changed in Okta: email");
	assert_int_equal(apply_plan(f, &plan, NOW + 1, NULL), RS_ERR_IO);
	plan_release(&plan);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"
				   " WHERE op = 'update'"), 0);
}

static void email_swap_in_one_apply(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct member a, b, a_after, b_after;
	struct plan plan = { 0 };

	take_over_with_two(f);
	snapshot(f, &members, NULL, NULL);
	assert_true(member_copy(&a, &members.items[0]));
	assert_true(member_copy(&b, &members.items[1]));
	member_list_release(&members);

	assert_true(member_copy(&a_after, &a));
	assert_true(member_copy(&b_after, &b));
	free(a_after.email);
	free(b_after.email);
	/* The new case must survive too: the IdP's spelling is stored. */
	a_after.email = strdup("B@example.com");
	b_after.email = strdup("a@example.com");
	plan_add(&plan, PLAN_UPDATE, &a, &a_after, "changed in Okta: email");
	plan_add(&plan, PLAN_UPDATE, &b, &b_after, "changed in Okta: email");
	assert_int_equal(apply_plan(f, &plan, NOW + 5, NULL), RS_OK);
	plan_release(&plan);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 2);
	assert_int_equal(members.items[0].id, a.id);
	assert_string_equal(members.items[0].external_id, "ext-1");
	assert_string_equal(members.items[0].email, "B@example.com");
	assert_string_equal(members.items[1].external_id, "ext-2");
	assert_string_equal(members.items[1].email, "a@example.com");
	assert_false(members.items[0].drifted);
	assert_false(members.items[1].drifted);
	member_list_release(&members);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"
				   " WHERE email LIKE '%invalid'"), 0);

	member_release(&a);
	member_release(&b);
	member_release(&a_after);
	member_release(&b_after);
}

static void manual_add_remove_when_unmanaged(void **state)
{
	struct fixture *f = *state;
	struct member ada = person(NULL, "ada@example.com", "Ada", MEMBER_ACTIVE);
	struct member bob = person(NULL, "bob@example.com", "Bob", MEMBER_ACTIVE);
	struct member again = person(NULL, "ADA@example.com", "Adelaide", MEMBER_ACTIVE);
	struct member_list members;
	enum member_state state_out = MEMBER_UNASSIGNED;
	bool changed = false;
	int64_t ada_id;

	assert_int_equal(roster_member_add(f->roster, "run-m1", &ada, 1, NOW, &state_out), RS_OK);
	assert_int_equal(state_out, MEMBER_ACTIVE);
	assert_int_equal(roster_member_add(f->roster, "run-m2", &bob, 1, NOW, &state_out), RS_OK);
	assert_int_equal(state_out, MEMBER_WAITING);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 2);
	assert_string_equal(members.items[0].source, "manual");
	assert_null(members.items[0].external_id);
	assert_null(members.items[0].provenance);
	assert_false(members.items[0].drifted);
	ada_id = members.items[0].id;
	member_list_release(&members);

	/* Same address in another case: a duplicate. */
	assert_int_equal(roster_member_add(f->roster, "run-m3", &again, 5, NOW, NULL),
			 RS_ERR_USAGE);
	assert_int_equal(roster_member_remove(f->roster, "run-m4", "nobody@example.com", 100, NOW,
					      &changed),
			 RS_ERR_USAGE);

	/* Removing the seated member gives the seat to the waiting one. */
	assert_int_equal(roster_member_remove(f->roster, "run-m5", "Ada@Example.com", 1, NOW + 1,
					      &changed),
			 RS_OK);
	assert_true(changed);
	snapshot(f, &members, NULL, NULL);
	assert_int_equal(find_email(&members, "ada@example.com")->state, MEMBER_UNASSIGNED);
	assert_int_equal(find_email(&members, "ada@example.com")->state_since, NOW + 1);
	assert_int_equal(find_email(&members, "bob@example.com")->state, MEMBER_ACTIVE);
	assert_int_equal(find_email(&members, "bob@example.com")->state_since, NOW + 1);
	member_list_release(&members);

	/* Removing it again changes nothing and writes no event. */
	assert_int_equal(roster_member_remove(f->roster, "run-m6", "ada@example.com", 100, NOW + 2,
					      &changed),
			 RS_OK);
	assert_false(changed);

	/* Adding it again reactivates the same row with the new name and the address as typed. */
	assert_int_equal(roster_member_add(f->roster, "run-m7", &again, 5, NOW + 3, &state_out),
			 RS_OK);
	assert_int_equal(state_out, MEMBER_ACTIVE);
	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 2);
	assert_int_equal(members.items[0].id, ada_id);
	assert_int_equal(members.items[0].state, MEMBER_ACTIVE);
	assert_string_equal(members.items[0].given_name, "Adelaide");
	assert_string_equal(members.items[0].email, "ADA@example.com");
	member_list_release(&members);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), 5);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'add'"
				   " AND run_id = 'run-m2'"
				   " AND reason = 'added by hand; no free seat, waiting'"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'remove'"
				   " AND run_id = 'run-m5' AND reason = 'removed by hand'"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'assign'"
				   " AND run_id = 'run-m5' AND email = 'bob@example.com'"
				   " AND reason = 'seat became free'"), 1);
}

/* Seats freed by a raised limit go to waiting members before a new one. */
static void manual_add_serves_waiting_members_first(void **state)
{
	struct fixture *f = *state;
	struct member ada = person(NULL, "ada@example.com", "Ada", MEMBER_ACTIVE);
	struct member bob = person(NULL, "bob@example.com", "Bob", MEMBER_ACTIVE);
	struct member cy = person(NULL, "cy@example.com", "Cy", MEMBER_ACTIVE);
	struct member_list members;
	enum member_state state_out = MEMBER_UNASSIGNED;

	assert_int_equal(roster_member_add(f->roster, "run-a", &ada, 1, NOW, &state_out), RS_OK);
	assert_int_equal(roster_member_add(f->roster, "run-b", &bob, 1, NOW, &state_out), RS_OK);
	assert_int_equal(state_out, MEMBER_WAITING);

	/* The limit is raised to 2: bob gets the new seat, and cy waits. */
	assert_int_equal(roster_member_add(f->roster, "run-c", &cy, 2, NOW + 1, &state_out),
			 RS_OK);
	assert_int_equal(state_out, MEMBER_WAITING);
	snapshot(f, &members, NULL, NULL);
	assert_int_equal(find_email(&members, "bob@example.com")->state, MEMBER_ACTIVE);
	assert_int_equal(find_email(&members, "cy@example.com")->state, MEMBER_WAITING);
	member_list_release(&members);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'assign'"
				   " AND run_id = 'run-c' AND email = 'bob@example.com'"), 1);
}

static void manual_add_rejected_while_managed(void **state)
{
	struct fixture *f = *state;
	struct member carol = person(NULL, "carol@example.com", "Carol", MEMBER_ACTIVE);
	bool changed = false;
	long long events;

	take_over_with_two(f);
	events = query_int(f->path, "SELECT count(*) FROM events");

	assert_int_equal(roster_member_add(f->roster, "run-m1", &carol, 10, NOW, NULL),
			 RS_ERR_PERMISSION);
	assert_int_equal(roster_member_remove(f->roster, "run-m2", "a@example.com", 100, NOW,
					      &changed),
			 RS_ERR_PERMISSION);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 2);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"
				   " WHERE state = 'active'"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), events);
}

static void shell_blocked_while_managed(void **state)
{
	struct fixture *f = *state;
	char output[4096];
	const char *writes[] = {
		"INSERT INTO members (source, email, email_key, state, created_at, updated_at,"
		" state_since) VALUES ('manual', 'mallory@example.com', 'mallory@example.com',"
		" 'active', 1, 1, 1);",
		"UPDATE members SET given_name = 'Mallory' WHERE email = 'a@example.com';",
		"DELETE FROM members WHERE email = 'b@example.com';",
	};

	take_over_with_two(f);

	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		assert_int_not_equal(run_shell(f, writes[i], output, sizeof(output)), 0);
		assert_non_null(strstr(output, "members is managed by Okta (rostersync)"));
		assert_non_null(strstr(output, "change the assignment in Okta"));
		assert_non_null(strstr(output, "rostersync release -c CONFIG"));
	}

	/* The team row cannot be switched to manual behind rostersync's back. */
	assert_int_not_equal(run_shell(f, "UPDATE team SET source = NULL;", output,
				       sizeof(output)), 0);
	assert_non_null(strstr(output, "team is managed by Okta"));

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 2);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"
				   " WHERE given_name = 'Mallory'"), 0);
}

static void shell_writes_after_release(void **state)
{
	struct fixture *f = *state;
	struct roster_team team;
	char output[4096];
	bool changed = false;

	take_over_with_two(f);
	assert_int_equal(roster_release(f->roster, "run-release", NOW + 100), RS_OK);

	assert_int_equal(run_shell(f, "INSERT INTO members (source, email, email_key, state,"
				   " created_at, updated_at, state_since) VALUES ('manual',"
				   " 'mallory@example.com', 'mallory@example.com', 'active',"
				   " 1, 1, 1);",
				   output, sizeof(output)), 0);
	assert_int_equal(run_shell(f, "UPDATE members SET given_name = 'Adelaide'"
				   " WHERE email = 'a@example.com';", output, sizeof(output)), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 3);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sqlite_master"
				   " WHERE type = 'trigger'"), 0);

	assert_int_equal(roster_team_get(f->roster, &team), RS_OK);
	assert_null(team.source);
	assert_null(team.app);
	assert_int_equal(team.managed_since, 0);
	assert_int_equal(team.released_at, NOW + 100);
	assert_string_equal(team.name, "Acme");
	roster_team_release(&team);

	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'release'"
				   " AND run_id = 'run-release' AND source = 'okta'"
				   " AND reason = 'roster released to manual management'"), 1);

	/* Manual commands work again, and a second release is a no-op. */
	assert_int_equal(roster_member_remove(f->roster, "run-m", "b@example.com", 100, NOW + 101,
					      &changed),
			 RS_OK);
	assert_true(changed);
	assert_int_equal(roster_release(f->roster, "run-release-2", NOW + 102), RS_OK);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'release'"),
			 1);
}

static void changed_row_shows_drift(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct plan plan = { 0 };
	char output[4096];

	take_over_with_two(f);
	assert_int_equal(run_shell(f, "DROP TRIGGER members_managed_update;"
				   " DROP TRIGGER members_managed_insert;"
				   " UPDATE members SET given_name = 'Mallory'"
				   " WHERE email = 'a@example.com';"
				   " INSERT INTO members (source, email, email_key, state,"
				   " created_at, updated_at, state_since) VALUES ('manual',"
				   " 'mallory@example.com', 'mallory@example.com', 'active',"
				   " 1, 1, 1);",
				   output, sizeof(output)), 0);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 3);
	assert_true(find_email(&members, "a@example.com")->drifted);
	assert_false(find_email(&members, "b@example.com")->drifted);
	assert_true(find_email(&members, "mallory@example.com")->drifted);
	member_list_release(&members);

	/* The next apply creates the dropped triggers again. */
	assert_int_equal(apply_plan(f, &plan, NOW + 1, NULL), RS_OK);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sqlite_master"
				   " WHERE type = 'trigger'"), 5);
}

static void takeover_seals_manual_changes(void **state)
{
	struct fixture *f = *state;
	struct member ada = person(NULL, "ada@example.com", "Ada", MEMBER_ACTIVE);
	struct member_list members;
	struct plan plan = { 0 };
	char output[4096];

	assert_int_equal(roster_member_add(f->roster, "run-m", &ada, 5, NOW, NULL), RS_OK);
	assert_int_equal(run_shell(f, "UPDATE members SET family_name = 'Byron';", output,
				   sizeof(output)), 0);

	assert_int_equal(apply_plan(f, &plan, NOW + 1, NULL), RS_OK);
	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 1);
	assert_string_equal(members.items[0].family_name, "Byron");
	assert_false(members.items[0].drifted);
	member_list_release(&members);
}

static void deleted_ids_lists_removed_rows(void **state)
{
	struct fixture *f = *state;
	struct member_list members;
	struct plan plan = { 0 };
	struct member c = person("ext-0", "c@example.com", "Cy", MEMBER_ACTIVE);
	char output[4096];
	char **ids = NULL;
	size_t count = 0;

	take_over_with_two(f);
	plan_add(&plan, PLAN_ASSIGN, NULL, &c, "assigned to the app in Okta");
	assert_int_equal(apply_plan(f, &plan, NOW + 1, NULL), RS_OK);
	plan_release(&plan);

	assert_int_equal(run_shell(f, "DROP TRIGGER members_managed_delete;"
				   " DELETE FROM members WHERE external_id IN ('ext-2', 'ext-0');",
				   output, sizeof(output)), 0);

	snapshot(f, &members, &ids, &count);
	assert_int_equal(members.count, 1);
	assert_int_equal(count, 2);
	assert_string_equal(ids[0], "ext-0");
	assert_string_equal(ids[1], "ext-2");
	member_list_release(&members);
	free_ids(ids, count);

	/* Another source's view has no deleted ids. */
	assert_int_equal(roster_snapshot(f->roster, "graph", &members, &ids, &count), RS_OK);
	assert_int_equal(count, 0);
	assert_null(ids);
	member_list_release(&members);
}

static void empty_plan_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	long long events, changes;

	take_over_with_two(f);
	events = query_int(f->path, "SELECT count(*) FROM events");
	changes = query_int(f->path, "SELECT max(updated_at) FROM members");

	assert_int_equal(apply_plan(f, &plan, NOW + 50, NULL), RS_OK);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), events);
	assert_int_equal(query_int(f->path, "SELECT max(updated_at) FROM members"), changes);
	assert_int_equal(query_int(f->path, "SELECT managed_since FROM team"), NOW);
}

static void runs_round_trip(void **state)
{
	struct fixture *f = *state;
	struct roster_run *runs = NULL;
	size_t count = 0;
	struct roster_run done = {
		.id = "run-1",
		.command = "sync",
		.source = "okta",
		.started_at = NOW,
		.finished_at = NOW + 3,
		.outcome = "success",
		.exit_status = 0,
		.counts = { [PLAN_ASSIGN] = 4, [PLAN_UPDATE] = 3, [PLAN_UNASSIGN] = 2,
			    [PLAN_WAIT] = 1 },
		.skipped = 5,
		.plan_id = "0123456789abcdef",
	};
	struct roster_run failed = {
		.id = "run-2",
		.command = "sync",
		.started_at = NOW + 10,
		.finished_at = NOW + 11,
		.outcome = "failed",
		.exit_status = 69,
		.error = "unavailable",
	};

	assert_int_equal(roster_run_start(f->roster, "run-1", "sync", "okta", NOW), RS_OK);
	assert_int_equal(roster_run_finish(f->roster, &done), RS_OK);
	/* A run whose start was never recorded is still recorded at its end. */
	assert_int_equal(roster_run_finish(f->roster, &failed), RS_OK);
	assert_int_equal(roster_run_start(f->roster, "run-3", "members add", "manual", NOW + 20),
			 RS_OK);

	assert_int_equal(roster_runs_recent(f->roster, 2, &runs, &count), RS_OK);
	assert_int_equal(count, 2);
	assert_string_equal(runs[0].id, "run-3");
	assert_string_equal(runs[0].command, "members add");
	assert_int_equal(runs[0].finished_at, 0);
	assert_null(runs[0].outcome);
	assert_string_equal(runs[1].id, "run-2");
	assert_int_equal(runs[1].exit_status, 69);
	assert_string_equal(runs[1].error, "unavailable");
	for (size_t i = 0; i < count; i++)
		roster_run_release(&runs[i]);
	free(runs);

	assert_int_equal(roster_runs_recent(f->roster, 10, &runs, &count), RS_OK);
	assert_int_equal(count, 3);
	assert_string_equal(runs[2].id, "run-1");
	assert_string_equal(runs[2].source, "okta");
	assert_int_equal(runs[2].started_at, NOW);
	assert_int_equal(runs[2].finished_at, NOW + 3);
	assert_string_equal(runs[2].outcome, "success");
	assert_int_equal(runs[2].counts[PLAN_ASSIGN], 4);
	assert_int_equal(runs[2].counts[PLAN_UPDATE], 3);
	assert_int_equal(runs[2].counts[PLAN_UNASSIGN], 2);
	assert_int_equal(runs[2].counts[PLAN_WAIT], 1);
	assert_int_equal(runs[2].skipped, 5);
	assert_string_equal(runs[2].plan_id, "0123456789abcdef");
	assert_null(runs[2].error);
	for (size_t i = 0; i < count; i++)
		roster_run_release(&runs[i]);
	free(runs);

	/* A run id is recorded once. */
	assert_int_equal(roster_run_start(f->roster, "run-1", "sync", "okta", NOW), RS_ERR_IO);
}

static void sync_state_round_trip(void **state)
{
	struct fixture *f = *state;
	char *value = (char *)"unset";

	assert_int_equal(roster_state_get(f->roster, "delta_link", &value), RS_OK);
	assert_null(value);

	assert_int_equal(roster_state_set(f->roster, "delta_link", "https://x/1"), RS_OK);
	assert_int_equal(roster_state_get(f->roster, "delta_link", &value), RS_OK);
	assert_string_equal(value, "https://x/1");
	free(value);

	assert_int_equal(roster_state_set(f->roster, "delta_link", "https://x/2"), RS_OK);
	assert_int_equal(roster_state_get(f->roster, "delta_link", &value), RS_OK);
	assert_string_equal(value, "https://x/2");
	free(value);

	assert_int_equal(roster_state_set(f->roster, "delta_link", NULL), RS_OK);
	assert_int_equal(roster_state_get(f->roster, "delta_link", &value), RS_OK);
	assert_null(value);
}

static void apply_saves_state_atomically(void **state)
{
	struct fixture *f = *state;
	struct roster_state_entry cursor = { "okta_cursor", "page-7" };
	struct plan plan = { 0 };
	struct member dup = person("ext-3", "A@example.com", "Eve", MEMBER_ACTIVE);
	struct roster_apply apply = {
		.run_id = "run-state",
		.plan = &plan,
		.source = "okta",
		.source_title = "Okta",
		.org = "https://acme.okta.com",
		.app = "0oa1app",
		.team_name = "Acme",
		.seats = 10,
		.now = NOW + 1,
		.state = &cursor,
		.state_count = 1,
	};
	char *value = NULL;

	take_over_with_two(f);

	/* A failing plan leaves the cursor unsaved. */
	plan_add(&plan, PLAN_ASSIGN, NULL, &dup, "assigned to the app in Okta");
	assert_int_equal(roster_apply(f->roster, &apply), RS_ERR_IO);
	assert_int_equal(roster_state_get(f->roster, "okta_cursor", &value), RS_OK);
	assert_null(value);
	plan_release(&plan);

	apply.plan = &plan;
	assert_int_equal(roster_apply(f->roster, &apply), RS_OK);
	assert_int_equal(roster_state_get(f->roster, "okta_cursor", &value), RS_OK);
	assert_string_equal(value, "page-7");
	free(value);
}

static void approvals_recorded_once(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	bool used = true;

	assert_int_equal(roster_approval_used(f->roster, "abcdef0123456789", &used), RS_OK);
	assert_false(used);

	take_over_with_two(f);
	assert_int_equal(apply_plan(f, &plan, NOW + 1, "abcdef0123456789"), RS_OK);
	assert_int_equal(roster_approval_used(f->roster, "abcdef0123456789", &used), RS_OK);
	assert_true(used);
	assert_int_equal(query_int(f->path, "SELECT at FROM approvals"
				   " WHERE plan_id = 'abcdef0123456789'"), NOW + 1);

	/* The same approval applied twice is rejected. */
	assert_int_equal(apply_plan(f, &plan, NOW + 2, "abcdef0123456789"), RS_ERR_USAGE);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM approvals"), 1);
}

static void reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct member_list members;

	take_over_with_two(f);
	roster_close(f->roster);
	f->roster = NULL;
	assert_int_equal(roster_open(f->path, &f->roster), RS_OK);

	snapshot(f, &members, NULL, NULL);
	assert_int_equal(members.count, 2);
	assert_false(members.items[0].drifted);
	member_list_release(&members);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Applies ROSTERSYNC_BULK_COUNT (default 100000) inserts in one call.  The
 * time is printed; it is checked against ROSTERSYNC_BULK_MAX_SECONDS only
 * when that is set, because sanitizers and valgrind slow the run down.
 */
/* Fills plan with count assigns of new members; the one at bad gets an empty email. */
static void fill_insert_plan(struct plan *plan, size_t count, size_t bad)
{
	plan->entries = calloc(count, sizeof(*plan->entries));
	assert_non_null(plan->entries);
	for (size_t i = 0; i < count; i++) {
		struct plan_entry *entry = &plan->entries[i];
		char id[32], email[64];
		struct member m;

		snprintf(id, sizeof(id), "00u%08zu", i);
		snprintf(email, sizeof(email), "user%zu@example.com", i);
		m = person(id, i == bad ? "" : email, "Given", MEMBER_ACTIVE);
		entry->op = PLAN_ASSIGN;
		plan_member(plan, &entry->after, &m);
		entry->reason = plan_text(plan, "assigned to the app in Okta");
	}
	plan->count = count;
}

static void bulk_insert_in_one_apply(void **state)
{
	struct fixture *f = *state;
	const char *count_text = getenv("ROSTERSYNC_BULK_COUNT");
	const char *max_text = getenv("ROSTERSYNC_BULK_MAX_SECONDS");
	size_t count = count_text ? strtoul(count_text, NULL, 10) : 100000;
	struct plan plan = { 0 };
	struct timespec start;
	double elapsed;

	fill_insert_plan(&plan, count, count);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_OK);
	elapsed = seconds_since(&start);
	plan_release(&plan);

	printf("applied %zu inserts in %.3f s\n", count, elapsed);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), (long long)count);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE op = 'assign'"),
			 (long long)count);
	/* A plan this large writes its events without their index, then builds it again. */
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
				   " AND name = 'events_source_external_id'"), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"
				   " INDEXED BY events_source_external_id"
				   " WHERE source = 'okta' AND external_id IS NOT NULL"), (long long)count);
	if (max_text)
		assert_true(elapsed < strtod(max_text, NULL));
}

/*
 * A bulk write leaves the CHECK constraints to one statement after the
 * inserts: a row that breaks one still fails the whole plan, and the
 * row-by-row checks are back for the next write.
 */
static void bulk_write_checks_new_rows(void **state)
{
	struct fixture *f = *state;
	struct plan plan = { 0 };
	struct capture capture;
	char *logged;

	fill_insert_plan(&plan, ROSTER_BULK_MIN, ROSTER_BULK_MIN / 2);
	capture_start(&capture);
	assert_int_equal(apply_plan(f, &plan, NOW, NULL), RS_ERR_INTERNAL);
	logged = capture_stop(&capture);
	plan_release(&plan);
	expect_logged(logged, "breaks a CHECK constraint of the members table");
	free(logged);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events"), 0);

	fill_insert_plan(&plan, 1, 0);
	capture_start(&capture);
	assert_int_not_equal(apply_plan(f, &plan, NOW, NULL), RS_OK);
	free(capture_stop(&capture));
	plan_release(&plan);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM members"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_sets_mode_0600_and_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(create_ignores_loose_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(migration_sets_user_version, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(non_database_file_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(open_warns_on_group_readable_file, setup, teardown),
		cmocka_unit_test_setup_teardown(apply_assigns_reads_back, setup, teardown),
		cmocka_unit_test_setup_teardown(team_get_empty_roster_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(apply_writes_event_per_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(event_json_escapes_like_cjson, setup, teardown),
		cmocka_unit_test_setup_teardown(apply_update_keeps_row_history, setup, teardown),
		cmocka_unit_test_setup_teardown(batched_inserts_match_events, setup, teardown),
		cmocka_unit_test_setup_teardown(failing_batch_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(failing_entry_rolls_back_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(entry_without_row_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(update_of_missing_row_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(email_swap_in_one_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(manual_add_remove_when_unmanaged, setup, teardown),
		cmocka_unit_test_setup_teardown(manual_add_serves_waiting_members_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(manual_add_rejected_while_managed, setup, teardown),
		cmocka_unit_test_setup_teardown(shell_blocked_while_managed, setup, teardown),
		cmocka_unit_test_setup_teardown(shell_writes_after_release, setup, teardown),
		cmocka_unit_test_setup_teardown(changed_row_shows_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(takeover_seals_manual_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_ids_lists_removed_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_plan_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(runs_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(sync_state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(apply_saves_state_atomically, setup, teardown),
		cmocka_unit_test_setup_teardown(approvals_recorded_once, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_insert_in_one_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(bulk_write_checks_new_rows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
