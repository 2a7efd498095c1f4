/*
 * report.c - prints plans, members and status as tables or JSON on stdout.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "unicode.h"

/*
 * A run without an end time is still running or was killed: it has no
 * exit status, and showing 0 would read as a success.
 */
#define RUN_UNFINISHED "unfinished (still running, or killed before it ended)"
/* The same while no command holds the tenant lock: the run cannot be running. */
#define RUN_ABANDONED "unfinished (ended without a record: killed, or the machine stopped)"

/* Waiting members that the text status lists; more are counted in one line. */
#define REPORT_WAITING_SHOWN 20

static const char *or_dash(const char *text)
{
	return text && text[0] ? text : "-";
}

static void format_time(int64_t when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0 || !gmtime_r(&t, &tm)) {
		snprintf(buf, size, "-");
		return;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_duration(long long seconds, char *buf, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 120)
		snprintf(buf, size, "%lld s", seconds);
	else if (seconds < 7200)
		snprintf(buf, size, "%lld min", seconds / 60);
	else if (seconds < 172800)
		snprintf(buf, size, "%lld h", seconds / 3600);
	else
		snprintf(buf, size, "%lld days", seconds / 86400);
}

/* Prints JSON and frees it; RS_ERR_INTERNAL when building it failed. */
static enum rs_err print_json(FILE *out, cJSON *root)
{
	char *text = root ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	if (!text)
		return RS_ERR_INTERNAL;
	fprintf(out, "%s\n", text);
	free(text);
	return RS_OK;
}

static void add_string_or_null(cJSON *object, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(object, key, value);
	else
		cJSON_AddNullToObject(object, key);
}

/* Plans. */

/*
 * Prints text and pads it to width terminal columns, then one space.  An
 * IdP's names and addresses hold accented letters, CJK and emoji, which
 * take more bytes than columns, so printf's byte padding would shift the
 * columns after them.
 */
static void put_cell(FILE *out, const char *text, size_t width)
{
	size_t used = unicode_width(text);

	fputs(text, out);
	for (; used < width; used++)
		fputc(' ', out);
	fputc(' ', out);
}

void report_plan_table(FILE *out, const struct plan *plan, long seats, const char *config_path)
{
	fprintf(out, "Plan %s: %zu assign, %zu update, %zu unassign, %zu wait; "
		"%zu of %ld seats used after it\n",
		plan->id, plan->counts[PLAN_ASSIGN], plan->counts[PLAN_UPDATE],
		plan->counts[PLAN_UNASSIGN], plan->counts[PLAN_WAIT], plan->seats_used, seats);

	if (plan->count > 0)
		fprintf(out, "%-9s %-32s %-22s %s\n", "OP", "EMAIL", "EXTERNAL ID", "REASON");
	for (size_t i = 0; i < plan->count; i++) {
		const struct plan_entry *e = &plan->entries[i];

		fprintf(out, "%-9s ", plan_op_name(e->op));
		put_cell(out, or_dash(e->after.email), 32);
		put_cell(out, or_dash(e->after.external_id), 22);
		fprintf(out, "%s\n", e->reason);
	}

	for (size_t i = 0; i < plan->problem_count; i++) {
		fputs("skipped   ", out);
		put_cell(out, or_dash(plan->problems[i].email), 32);
		put_cell(out, plan->problems[i].external_id, 22);
		fprintf(out, "%s\n", plan->problems[i].message);
	}

	if (plan->threshold_tripped)
		fprintf(out, "The deletion threshold would stop this plan: %s.\n"
			"Approve it with: rostersync sync -c %s --approve %s\n",
			plan->threshold_reason, config_path, plan->id);
}

static cJSON *plan_entry_json(const struct plan_entry *e)
{
	cJSON *item = cJSON_CreateObject();

	cJSON_AddStringToObject(item, "op", plan_op_name(e->op));
	add_string_or_null(item, "email", e->after.email);
	add_string_or_null(item, "external_id", e->after.external_id);
	add_string_or_null(item, "user_name", e->after.user_name);
	add_string_or_null(item, "state_before",
			   e->before ? member_state_name(e->before->state) : NULL);
	cJSON_AddStringToObject(item, "state_after", member_state_name(e->after.state));
	if (e->before && e->before->email && e->after.email &&
	    strcmp(e->before->email, e->after.email) != 0)
		cJSON_AddStringToObject(item, "email_before", e->before->email);
	cJSON_AddStringToObject(item, "reason", e->reason);
	return item;
}

enum rs_err report_plan_json(FILE *out, const struct plan *plan, long seats)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *operations = cJSON_AddArrayToObject(root, "operations");
	cJSON *counts = cJSON_AddObjectToObject(root, "counts");
	cJSON *skipped = cJSON_AddArrayToObject(root, "skipped");

	cJSON_AddStringToObject(root, "plan_id", plan->id);
	for (size_t i = 0; i < plan->count; i++)
		cJSON_AddItemToArray(operations, plan_entry_json(&plan->entries[i]));
	for (int op = 0; op < PLAN_OP_COUNT; op++)
		cJSON_AddNumberToObject(counts, plan_op_name(op), (double)plan->counts[op]);

	for (size_t i = 0; i < plan->problem_count; i++) {
		cJSON *item = cJSON_CreateObject();

		add_string_or_null(item, "external_id", plan->problems[i].external_id);
		add_string_or_null(item, "email", plan->problems[i].email);
		cJSON_AddStringToObject(item, "reason", plan->problems[i].message);
		cJSON_AddItemToArray(skipped, item);
	}

	cJSON_AddNumberToObject(root, "seats", (double)seats);
	cJSON_AddNumberToObject(root, "seats_used", (double)plan->seats_used);
	cJSON_AddBoolToObject(root, "threshold_tripped", plan->threshold_tripped);
	add_string_or_null(root, "threshold_reason", plan->threshold_reason);
	return print_json(out, root);
}

/* Members. */

/*
 * Cuts text to at most max bytes without splitting a UTF-8 character, and
 * appends mark, which must fit in the bytes after max.
 */
static void cut_at_character(char *text, size_t max, const char *mark)
{
	size_t len = strlen(text);

	if (len <= max)
		return;
	len = max;
	while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
		len--;
	strcpy(text + len, mark);
}

void report_members_table(FILE *out, const struct member_list *members)
{
	fprintf(out, "%-10s %-32s %-24s %-8s %s\n", "STATE", "EMAIL", "NAME", "SOURCE",
		"EXTERNAL ID");
	for (size_t i = 0; i < members->count; i++) {
		const struct member *m = &members->items[i];
		char name[2 * IDENTITY_MAX_TEXT + 8];
		int len;

		if (m->display_name)
			len = snprintf(name, sizeof(name), "%s", m->display_name);
		else
			len = snprintf(name, sizeof(name), "%s%s%s", m->given_name ? m->given_name : "",
				       m->given_name && m->family_name ? " " : "",
				       m->family_name ? m->family_name : "");
		if (len >= (int)sizeof(name))
			cut_at_character(name, sizeof(name) - 4, "\xe2\x80\xa6");
		fprintf(out, "%-10s ", member_state_name(m->state));
		put_cell(out, or_dash(m->email), 32);
		put_cell(out, or_dash(name), 24);
		fprintf(out, "%-8s %s\n", or_dash(m->source), or_dash(m->external_id));
	}
}

/* Prints one labelled line of a member record; "-" for a missing value. */
static void put_field(FILE *out, const char *label, const char *value)
{
	fprintf(out, "%-13s %s\n", label, or_dash(value));
}

/* The three times of a member row in ISO 8601. */
struct member_times {
	char since[32];
	char created[32];
	char updated[32];
};

static void format_member_times(const struct member *m, struct member_times *times)
{
	format_time(m->state_since, times->since, sizeof(times->since));
	format_time(m->created_at, times->created, sizeof(times->created));
	format_time(m->updated_at, times->updated, sizeof(times->updated));
}

void report_member_detail(FILE *out, const struct member *m)
{
	struct member_times times;

	format_member_times(m, &times);
	put_field(out, "email:", m->email);
	fprintf(out, "%-13s %s since %s\n", "state:", member_state_name(m->state), times.since);
	put_field(out, "given name:", m->given_name);
	put_field(out, "family name:", m->family_name);
	put_field(out, "display name:", m->display_name);
	put_field(out, "login:", m->user_name);
	put_field(out, "source:", m->source);
	put_field(out, "external id:", m->external_id);
	put_field(out, "provenance:", m->provenance);
	put_field(out, "created:", times.created);
	put_field(out, "updated:", times.updated);
}

static cJSON *member_json(const struct member *m)
{
	cJSON *item = cJSON_CreateObject();
	struct member_times times;

	format_member_times(m, &times);
	add_string_or_null(item, "email", m->email);
	add_string_or_null(item, "external_id", m->external_id);
	add_string_or_null(item, "user_name", m->user_name);
	add_string_or_null(item, "given_name", m->given_name);
	add_string_or_null(item, "family_name", m->family_name);
	add_string_or_null(item, "display_name", m->display_name);
	cJSON_AddStringToObject(item, "state", member_state_name(m->state));
	add_string_or_null(item, "source", m->source);
	add_string_or_null(item, "provenance", m->provenance);
	cJSON_AddStringToObject(item, "state_since", times.since);
	cJSON_AddStringToObject(item, "created_at", times.created);
	cJSON_AddStringToObject(item, "updated_at", times.updated);
	return item;
}

enum rs_err report_members_json(FILE *out, const struct member_list *members)
{
	cJSON *root = cJSON_CreateArray();

	for (size_t i = 0; i < members->count; i++)
		cJSON_AddItemToArray(root, member_json(&members->items[i]));
	return print_json(out, root);
}

/* Status. */

static size_t count_state(const struct member_list *members, enum member_state state)
{
	size_t count = 0;

	for (size_t i = 0; i < members->count; i++)
		count += members->items[i].state == state;
	return count;
}

static void print_runs(FILE *out, const struct report_status *s)
{
	fprintf(out, "Last runs:\n");
	if (s->run_count == 0)
		fprintf(out, "  none yet\n");

	for (size_t i = 0; i < s->run_count; i++) {
		const struct roster_run *r = &s->runs[i];
		char started[32];

		format_time(r->started_at, started, sizeof(started));
		if (!r->finished_at) {
			fprintf(out, "  %s  %-13s %s\n", started, or_dash(r->command),
				s->lock_held ? RUN_UNFINISHED : RUN_ABANDONED);
			continue;
		}
		fprintf(out, "  %s  %-13s %-10s exit %-3d assign %ld, update %ld, unassign %ld, "
			"wait %ld, skipped %ld%s%s\n",
			started, or_dash(r->command), or_dash(r->outcome), r->exit_status,
			r->counts[PLAN_ASSIGN], r->counts[PLAN_UPDATE], r->counts[PLAN_UNASSIGN],
			r->counts[PLAN_WAIT], r->skipped, r->error ? "; error: " : "",
			r->error ? r->error : "");
	}
}

/* Orders waiting members as seats go to them: longest waiting first, then by email. */
static int compare_waiting(const void *a, const void *b)
{
	const struct member *x = *(const struct member *const *)a;
	const struct member *y = *(const struct member *const *)b;

	if (x->state_since != y->state_since)
		return x->state_since < y->state_since ? -1 : 1;
	return strcasecmp(or_dash(x->email), or_dash(y->email));
}

/* Counts the active members that source manages. */
static size_t count_active_from(const struct member_list *members, const char *source)
{
	size_t count = 0;

	for (size_t i = 0; i < members->count; i++) {
		const struct member *m = &members->items[i];

		if (m->state == MEMBER_ACTIVE && m->source && strcmp(m->source, source) == 0)
			count++;
	}
	return count;
}

/*
 * Prints the seats used of the limit in the config.  A limit lowered below
 * the seats in use takes effect with the next sync, and the line explains
 * that.
 */
static void print_seats(FILE *out, const struct report_status *s)
{
	size_t used = count_state(s->members, MEMBER_ACTIVE);
	size_t excess = s->seats >= 0 && used > (size_t)s->seats ? used - (size_t)s->seats : 0;
	size_t managed = s->team->source ? count_active_from(s->members, s->team->source) : 0;

	fprintf(out, "Seats:    %zu of %ld used", used, s->seats);
	if (excess > 0 && managed > 0)
		fprintf(out, " (team.seats is lower than the seats in use: the next sync moves"
			" up to %zu members to the waiting list, if the deletion threshold allows"
			" it; members whose IdP data a sync skips keep their seats)",
			excess < managed ? excess : managed);
	else if (excess > 0)
		fprintf(out, " (team.seats is lower than the seats in use)");
	if (excess > managed && s->team->source)
		fprintf(out, "\n          %zu of them are held by members that the IdP does not"
			" manage, such as manual members, and a sync with sync.unmanaged_members:"
			" keep leaves those alone. Set it to unassign, or release the roster, remove"
			" members by hand and sync with --take-over", used - managed);
	fputc('\n', out);
}

/*
 * Lists the waiting members in the order they get a free seat, at most
 * REPORT_WAITING_SHOWN of them; --json lists all.
 */
static void print_waiting(FILE *out, const struct report_status *s)
{
	size_t waiting = count_state(s->members, MEMBER_WAITING);
	const struct member **list = calloc(waiting + 1, sizeof(*list));
	size_t count = 0;

	for (size_t i = 0; list && i < s->members->count; i++) {
		if (s->members->items[i].state == MEMBER_WAITING)
			list[count++] = &s->members->items[i];
	}
	qsort(list, count, sizeof(*list), compare_waiting);

	for (size_t i = 0; i < count && i < REPORT_WAITING_SHOWN; i++) {
		char waited[32];

		format_duration(s->now - list[i]->state_since, waited, sizeof(waited));
		fputs("  ", out);
		put_cell(out, or_dash(list[i]->email), 32);
		fprintf(out, "waiting for %s\n", waited);
	}
	if (waiting > REPORT_WAITING_SHOWN)
		fprintf(out, "  ... and %zu more; \"rostersync members list\" or \"status --json\""
			" lists them all\n", waiting - REPORT_WAITING_SHOWN);
	free(list);
}

/* Manual changes that a sync found and reverted, newest first. */
static void print_drifts(FILE *out, const struct report_status *s)
{
	if (s->drift_count == 0)
		return;

	fprintf(out, "Reverted manual changes (last %zu):\n", s->drift_count);
	for (size_t i = 0; i < s->drift_count; i++) {
		const struct roster_drift *d = &s->drifts[i];
		char at[32];

		format_time(d->at, at, sizeof(at));
		fprintf(out, "  %s  ", at);
		put_cell(out, or_dash(d->email), 32);
		fprintf(out, "%-9s %s\n", or_dash(d->op), or_dash(d->reason));
	}
}

void report_status_table(FILE *out, const struct report_status *s)
{
	const struct roster_team *team = s->team;
	char since[32];

	format_time(team->managed_since, since, sizeof(since));
	fprintf(out, "Tenant:   %s\n", s->tenant);
	fprintf(out, "Team:     %s\n", or_dash(team->name ? team->name : s->team_name));
	if (team->source)
		fprintf(out, "Managed:  by %s app %s (%s) since %s\n", team->source,
			or_dash(team->app), or_dash(team->org), since);
	else if (!team->released_at && team->managed_before)
		fprintf(out, "Managed:  none recorded, but an IdP took the roster over and it was "
			"never released: the team row was changed outside rostersync (a sync "
			"exits 77 until it runs with --take-over)\n");
	else
		fprintf(out, "Managed:  by hand%s\n",
			team->released_at ? " (released from IdP management)" : "");
	print_seats(out, s);
	fprintf(out, "Waiting:  %zu\n", count_state(s->members, MEMBER_WAITING));
	print_waiting(out, s);

	if (s->blocked_plan_id)
		fprintf(out, "Blocked:  plan %s awaits approval (%s)\n", s->blocked_plan_id,
			or_dash(s->blocked_detail));
	if (s->agent_write_left)
		fprintf(out, "Warning:  a row in the agent_write table, written outside rostersync, "
			"lets manual changes past the triggers; the next sync deletes it\n");
	print_drifts(out, s);
	print_runs(out, s);
}

static cJSON *run_json(const struct roster_run *r)
{
	cJSON *item = cJSON_CreateObject();
	char started[32], finished[32];

	format_time(r->started_at, started, sizeof(started));
	format_time(r->finished_at, finished, sizeof(finished));
	add_string_or_null(item, "id", r->id);
	add_string_or_null(item, "command", r->command);
	if (r->finished_at) {
		add_string_or_null(item, "outcome", r->outcome);
		cJSON_AddNumberToObject(item, "exit_status", r->exit_status);
	} else {
		cJSON_AddStringToObject(item, "outcome", "unfinished");
		cJSON_AddNullToObject(item, "exit_status");
	}
	cJSON_AddStringToObject(item, "started_at", started);
	add_string_or_null(item, "finished_at", r->finished_at ? finished : NULL);
	for (int op = 0; op < PLAN_OP_COUNT; op++)
		cJSON_AddNumberToObject(item, plan_op_name(op), (double)r->counts[op]);
	cJSON_AddNumberToObject(item, "skipped", (double)r->skipped);
	add_string_or_null(item, "plan_id", r->plan_id);
	add_string_or_null(item, "error", r->error);
	return item;
}

static cJSON *drift_json(const struct roster_drift *d)
{
	cJSON *item = cJSON_CreateObject();
	char at[32];

	format_time(d->at, at, sizeof(at));
	cJSON_AddStringToObject(item, "at", at);
	add_string_or_null(item, "email", d->email);
	add_string_or_null(item, "external_id", d->external_id);
	add_string_or_null(item, "op", d->op);
	add_string_or_null(item, "reason", d->reason);
	add_string_or_null(item, "run_id", d->run_id);
	return item;
}

static cJSON *waiting_json(const struct report_status *s)
{
	cJSON *list = cJSON_CreateArray();

	for (size_t i = 0; i < s->members->count; i++) {
		const struct member *m = &s->members->items[i];
		cJSON *item;
		char since[32];

		if (m->state != MEMBER_WAITING)
			continue;
		item = cJSON_CreateObject();
		format_time(m->state_since, since, sizeof(since));
		add_string_or_null(item, "email", m->email);
		cJSON_AddStringToObject(item, "since", since);
		cJSON_AddNumberToObject(item, "waited_seconds",
					(double)(s->now > m->state_since ? s->now - m->state_since : 0));
		cJSON_AddItemToArray(list, item);
	}
	return list;
}

enum rs_err report_status_json(FILE *out, const struct report_status *s)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *runs, *drift;
	char since[32];

	format_time(s->team->managed_since, since, sizeof(since));
	cJSON_AddStringToObject(root, "tenant", s->tenant);
	add_string_or_null(root, "source", s->source);
	add_string_or_null(root, "managed_by", s->team->source);
	add_string_or_null(root, "managed_since", s->team->managed_since ? since : NULL);
	add_string_or_null(root, "app", s->team->app);
	cJSON_AddNumberToObject(root, "seats", (double)s->seats);
	cJSON_AddNumberToObject(root, "seats_used", (double)count_state(s->members, MEMBER_ACTIVE));
	cJSON_AddNumberToObject(root, "waiting", (double)count_state(s->members, MEMBER_WAITING));
	cJSON_AddNumberToObject(root, "unassigned",
				(double)count_state(s->members, MEMBER_UNASSIGNED));
	cJSON_AddItemToObject(root, "waiting_members", waiting_json(s));
	add_string_or_null(root, "blocked_plan_id", s->blocked_plan_id);

	if (s->run_count > 0)
		cJSON_AddItemToObject(root, "last_run", run_json(&s->runs[0]));
	else
		cJSON_AddNullToObject(root, "last_run");

	runs = cJSON_AddArrayToObject(root, "runs");
	for (size_t i = 0; i < s->run_count; i++)
		cJSON_AddItemToArray(runs, run_json(&s->runs[i]));

	drift = cJSON_AddArrayToObject(root, "drift");
	for (size_t i = 0; i < s->drift_count; i++)
		cJSON_AddItemToArray(drift, drift_json(&s->drifts[i]));
	return print_json(out, root);
}
