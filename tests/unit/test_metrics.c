/*
 * test_metrics.c - the Prometheus textfile: format, atomic write, and the
 * last success carried over from an earlier file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "unit.h"
#include "metrics.h"

static struct metrics_run sample_run(void)
{
	struct metrics_run run = {
		.tenant = "acme",
		.source = "okta",
		.started_at = 1764882000,
		.finished_at = 1764882003,
		.duration_seconds = 2.5,
		.last_success_at = 1764882003,
		.outcome = "success",
		.exit_status = 0,
		.seats = 25,
		.members = { 20, 4, 3 },
		.users_read = 30,
		.operations = { 5, 2, 1, 4 },
		.skipped = 1,
		.idp_requests = 7,
		.idp_retries = 2,
		.idp_bytes = 12345,
	};

	return run;
}

static void assert_has_line(const char *text, const char *line)
{
	char *framed = malloc(strlen(line) + 3);
	bool found;

	assert_non_null(framed);
	sprintf(framed, "\n%s\n", line);
	found = strstr(text, framed) != NULL || strncmp(text, framed + 1, strlen(line) + 1) == 0;
	if (!found)
		print_error("line not found: %s\n--- text:\n%s", line, text);
	free(framed);
	assert_true(found);
}

static size_t count_occurrences(const char *text, const char *needle)
{
	size_t count = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		count++;
	return count;
}

static void format_has_samples_with_labels(void **state)
{
	struct metrics_run run = sample_run();
	char *text = metrics_format(&run);

	(void)state;
	assert_non_null(text);
	assert_has_line(text, "rostersync_last_run_timestamp_seconds{tenant=\"acme\",source=\"okta\"} 1764882003");
	assert_has_line(text, "rostersync_last_success_timestamp_seconds{tenant=\"acme\",source=\"okta\"} 1764882003");
	assert_has_line(text, "rostersync_last_run_duration_seconds{tenant=\"acme\",source=\"okta\"} 2.500");
	assert_has_line(text, "rostersync_last_run_exit_status{tenant=\"acme\",source=\"okta\"} 0");
	assert_has_line(text, "rostersync_last_run_outcome{tenant=\"acme\",source=\"okta\",outcome=\"success\"} 1");
	assert_has_line(text, "rostersync_last_run_outcome{tenant=\"acme\",source=\"okta\",outcome=\"failed\"} 0");
	assert_has_line(text, "rostersync_seats{tenant=\"acme\",source=\"okta\"} 25");
	assert_has_line(text, "rostersync_seats_used{tenant=\"acme\",source=\"okta\"} 20");
	assert_has_line(text, "rostersync_members{tenant=\"acme\",source=\"okta\",state=\"waiting\"} 4");
	assert_has_line(text, "rostersync_members{tenant=\"acme\",source=\"okta\",state=\"unassigned\"} 3");
	assert_has_line(text, "rostersync_last_run_operations{tenant=\"acme\",source=\"okta\",op=\"assign\"} 5");
	assert_has_line(text, "rostersync_last_run_operations{tenant=\"acme\",source=\"okta\",op=\"wait\"} 4");
	assert_has_line(text, "rostersync_last_run_skipped_users{tenant=\"acme\",source=\"okta\"} 1");
	assert_has_line(text, "rostersync_last_run_users_read{tenant=\"acme\",source=\"okta\"} 30");
	assert_has_line(text, "rostersync_last_run_idp_requests{tenant=\"acme\",source=\"okta\"} 7");
	assert_has_line(text, "rostersync_last_run_idp_retries{tenant=\"acme\",source=\"okta\"} 2");
	assert_has_line(text, "rostersync_last_run_idp_response_bytes{tenant=\"acme\",source=\"okta\"} 12345");
	free(text);
}

/* Each metric has exactly one HELP and one TYPE line, before its first sample. */
static void format_help_and_type_once(void **state)
{
	struct metrics_run run = sample_run();
	char *text = metrics_format(&run);
	char *copy, *line, *save = NULL;

	(void)state;
	assert_non_null(text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	copy = strdup(text);
	assert_non_null(copy);

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], help[160], type[160];
		size_t len = strcspn(line, "{ ");

		if (line[0] == '#')
			continue;
		assert_true(len < sizeof(name));
		memcpy(name, line, len);
		name[len] = '\0';
		snprintf(help, sizeof(help), "# HELP %s ", name);
		snprintf(type, sizeof(type), "# TYPE %s gauge\n", name);
		assert_int_equal(count_occurrences(text, help), 1);
		assert_int_equal(count_occurrences(text, type), 1);
		assert_true(strstr(text, type) < strstr(text, line));
	}
	free(copy);
	free(text);
}

static void format_omits_unknown_roster(void **state)
{
	struct metrics_run run = sample_run();
	char *text;

	(void)state;
	run.members[0] = run.members[1] = run.members[2] = -1;
	run.users_read = -1;
	run.outcome = "failed";
	run.exit_status = 75;
	text = metrics_format(&run);
	assert_non_null(text);
	assert_null(strstr(text, "rostersync_members{"));
	assert_null(strstr(text, "rostersync_seats_used{"));
	assert_null(strstr(text, "rostersync_last_run_users_read{"));
	assert_has_line(text, "rostersync_seats{tenant=\"acme\",source=\"okta\"} 25");
	assert_has_line(text, "rostersync_last_run_exit_status{tenant=\"acme\",source=\"okta\"} 75");
	assert_has_line(text, "rostersync_last_run_outcome{tenant=\"acme\",source=\"okta\",outcome=\"failed\"} 1");
	assert_has_line(text, "rostersync_last_run_outcome{tenant=\"acme\",source=\"okta\",outcome=\"success\"} 0");
	free(text);
}

static void format_escapes_label_values(void **state)
{
	struct metrics_run run = sample_run();
	char *text;

	(void)state;
	run.tenant = "a\"b\\c\nd";
	text = metrics_format(&run);
	assert_non_null(text);
	assert_has_line(text, "rostersync_seats{tenant=\"a\\\"b\\\\c\\nd\",source=\"okta\"} 25");
	free(text);
}

/* A scratch directory, removed with its files by the teardown. */
static int make_dir(void **state)
{
	char *dir = strdup("/tmp/rostersync-metrics-XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int remove_dir(void **state)
{
	char *dir = *state;
	DIR *d = opendir(dir);
	struct dirent *entry;
	char path[512];

	while (d && (entry = readdir(d)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
	return 0;
}

static size_t files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	size_t count = 0;

	assert_non_null(d);
	while ((entry = readdir(d)) != NULL)
		count += entry->d_name[0] != '.';
	closedir(d);
	return count;
}

static void write_is_world_readable_under_umask(void **state)
{
	const char *dir = *state;
	struct metrics_run run = sample_run();
	char path[512];
	struct stat st;
	mode_t old = umask(077);

	snprintf(path, sizeof(path), "%s/rostersync-acme.prom", dir);
	assert_int_equal(metrics_write(path, &run), RS_OK);
	umask(old);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(files_in(dir), 1);
}

static void write_replaces_previous_file(void **state)
{
	const char *dir = *state;
	struct metrics_run run = sample_run();
	char path[512];

	snprintf(path, sizeof(path), "%s/rostersync-acme.prom", dir);
	assert_int_equal(metrics_write(path, &run), RS_OK);
	run.last_success_at = 1764890000;
	assert_int_equal(metrics_write(path, &run), RS_OK);

	assert_int_equal(metrics_read_last_success(path), 1764890000);
	assert_int_equal(files_in(dir), 1);
}

static void write_into_missing_directory_fails(void **state)
{
	const char *dir = *state;
	struct metrics_run run = sample_run();
	char path[512];

	snprintf(path, sizeof(path), "%s/missing/rostersync-acme.prom", dir);
	assert_int_equal(metrics_write(path, &run), RS_ERR_IO);
	assert_int_equal(files_in(dir), 0);
}

static void last_success_read_back(void **state)
{
	const char *dir = *state;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/old.prom", dir);
	assert_int_equal(metrics_read_last_success(path), 0);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("# HELP rostersync_last_success_timestamp_seconds x\n"
	      "rostersync_last_success_timestamp_seconds_other{tenant=\"a\"} 5\n"
	      "rostersync_last_success_timestamp_seconds{tenant=\"a\",source=\"okta\"} 1700000000\n",
	      f);
	fclose(f);
	assert_int_equal(metrics_read_last_success(path), 1700000000);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("rostersync_last_success_timestamp_seconds{tenant=\"a\"} garbage\n", f);
	fclose(f);
	assert_int_equal(metrics_read_last_success(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_has_samples_with_labels),
		cmocka_unit_test(format_help_and_type_once),
		cmocka_unit_test(format_omits_unknown_roster),
		cmocka_unit_test(format_escapes_label_values),
		cmocka_unit_test_setup_teardown(write_is_world_readable_under_umask, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(write_replaces_previous_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(write_into_missing_directory_fails, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(last_success_read_back, make_dir, remove_dir),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
