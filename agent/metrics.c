/*
 * metrics.c - formats the last run as Prometheus text exposition format
 * and replaces the node_exporter textfile atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define LAST_SUCCESS_NAME "rostersync_last_success_timestamp_seconds"

/* The outcomes that rostersync_last_run_outcome has a sample for. */
static const char *const outcomes[] = { "success", "no change", "blocked", "failed" };

/* The labels every sample starts with, escaped once per file. */
struct labels {
	char text[512];
};

/* Appends value to out with the escapes of a label value: \\, \" and \n. */
static void escape_label(char *out, size_t size, const char *value)
{
	size_t len = 0;

	for (const char *p = value ? value : ""; *p && len + 3 < size; p++) {
		if (*p == '\\' || *p == '"') {
			out[len++] = '\\';
			out[len++] = *p;
		} else if (*p == '\n') {
			out[len++] = '\\';
			out[len++] = 'n';
		} else {
			out[len++] = *p;
		}
	}
	out[len] = '\0';
}

static void labels_init(struct labels *labels, const struct metrics_run *run)
{
	char tenant[200], source[64];

	escape_label(tenant, sizeof(tenant), run->tenant);
	escape_label(source, sizeof(source), run->source);
	snprintf(labels->text, sizeof(labels->text), "tenant=\"%s\",source=\"%s\"", tenant, source);
}

static void header(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One sample with the common labels and, when extra is not NULL, one more. */
static void sample(FILE *out, const struct labels *labels, const char *name,
		   const char *extra_name, const char *extra_value, long long value)
{
	char escaped[128];

	if (extra_name) {
		escape_label(escaped, sizeof(escaped), extra_value);
		fprintf(out, "%s{%s,%s=\"%s\"} %lld\n", name, labels->text, extra_name, escaped, value);
	} else {
		fprintf(out, "%s{%s} %lld\n", name, labels->text, value);
	}
}

static void gauge(FILE *out, const struct labels *labels, const char *name, const char *help,
		  long long value)
{
	header(out, name, help);
	sample(out, labels, name, NULL, NULL, value);
}

static void format_times(FILE *out, const struct labels *labels, const struct metrics_run *run)
{
	gauge(out, labels, "rostersync_last_run_timestamp_seconds",
	      "Unix time when the last sync run finished.", run->finished_at);
	gauge(out, labels, LAST_SUCCESS_NAME,
	      "Unix time when the last successful sync run finished; 0 when none is known.",
	      run->last_success_at);

	header(out, "rostersync_last_run_duration_seconds", "Duration of the last sync run.");
	fprintf(out, "rostersync_last_run_duration_seconds{%s} %.3f\n", labels->text,
		run->duration_seconds < 0 ? 0.0 : run->duration_seconds);
}

static void format_outcome(FILE *out, const struct labels *labels, const struct metrics_run *run)
{
	const char *name = "rostersync_last_run_outcome";

	gauge(out, labels, "rostersync_last_run_exit_status",
	      "Exit status of the last sync run (sysexits.h; 0 is success).", run->exit_status);

	header(out, name, "1 for the outcome of the last sync run, 0 for the others.");
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		sample(out, labels, name, "outcome", outcomes[i],
		       run->outcome && strcmp(run->outcome, outcomes[i]) == 0);
}

static void format_roster(FILE *out, const struct labels *labels, const struct metrics_run *run)
{
	const char *name = "rostersync_members";

	gauge(out, labels, "rostersync_seats", "Seat limit of the team (team.seats).", run->seats);
	if (run->members[MEMBER_ACTIVE] < 0)
		return;

	gauge(out, labels, "rostersync_seats_used", "Members holding a seat after the last run.",
	      run->members[MEMBER_ACTIVE]);
	header(out, name, "Roster members by state after the last run.");
	for (int state = MEMBER_ACTIVE; state <= MEMBER_UNASSIGNED; state++)
		sample(out, labels, name, "state", member_state_name(state), run->members[state]);
}

static void format_work(FILE *out, const struct labels *labels, const struct metrics_run *run)
{
	const char *name = "rostersync_last_run_operations";

	header(out, name, "Operations in the plan of the last run, by kind; they were applied "
	       "only when its outcome is success.");
	for (int op = 0; op < PLAN_OP_COUNT; op++)
		sample(out, labels, name, "op", plan_op_name(op), run->operations[op]);

	gauge(out, labels, "rostersync_last_run_skipped_users",
	      "IdP users the last run skipped (invalid email, email conflict, unknown status).",
	      run->skipped);
	if (run->users_read >= 0)
		gauge(out, labels, "rostersync_last_run_users_read",
		      "Users assigned to the app, as read from the IdP in the last run.",
		      run->users_read);
	gauge(out, labels, "rostersync_last_run_idp_requests",
	      "HTTP requests sent to the IdP in the last run, retries included.", run->idp_requests);
	gauge(out, labels, "rostersync_last_run_idp_retries",
	      "Requests to the IdP that the last run retried.", run->idp_retries);
	gauge(out, labels, "rostersync_last_run_idp_response_bytes",
	      "Response body bytes received from the IdP in the last run.", run->idp_bytes);
}

char *metrics_format(const struct metrics_run *run)
{
	struct labels labels;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;

	labels_init(&labels, run);
	format_times(out, &labels, run);
	format_outcome(out, &labels, run);
	format_roster(out, &labels, run);
	format_work(out, &labels, run);

	if (ferror(out)) {
		fclose(out);
		free(text);
		return NULL;
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int64_t metrics_read_last_success(const char *path)
{
	FILE *in = fopen(path, "re");
	char line[1024];
	int64_t value = 0;

	if (!in)
		return 0;

	while (fgets(line, sizeof(line), in)) {
		const char *close = strchr(line, '}');
		char *end;
		long long parsed;

		if (strncmp(line, LAST_SUCCESS_NAME "{", strlen(LAST_SUCCESS_NAME) + 1) != 0 || !close)
			continue;
		errno = 0;
		parsed = strtoll(close + 1, &end, 10);
		if (errno == 0 && end != close + 1 && parsed > 0)
			value = parsed;
		break;
	}
	fclose(in);
	return value;
}

static bool write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		text += n;
		len -= (size_t)n;
	}
	return true;
}

/* Flushes the rename to disk; a failure only weakens durability, so it is not reported. */
static void sync_directory(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Writes text to a new file at tmp: mode 0644, contents, fsync. */
static bool write_temp(const char *tmp, const char *text)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = fchmod(fd, 0644) == 0 && write_all(fd, text, strlen(text)) && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	return ok;
}

enum rs_err metrics_write(const char *path, const struct metrics_run *run)
{
	char *text = metrics_format(run);
	char tmp[4200];
	enum rs_err err = RS_OK;

	if (!text) {
		log_msg(LOG_ERROR, "metrics textfile %s not written: out of memory", path);
		return RS_ERR_INTERNAL;
	}

	/* Not ending in .prom, so node_exporter never reads a half-written file. */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (!write_temp(tmp, text) || rename(tmp, path) != 0) {
		log_msg(LOG_ERROR, "metrics textfile %s not written: %s; check that the directory "
			"exists and that the user running rostersync may write to it", path,
			strerror(errno));
		unlink(tmp);
		err = RS_ERR_IO;
	} else {
		sync_directory(path);
	}

	free(text);
	return err;
}
