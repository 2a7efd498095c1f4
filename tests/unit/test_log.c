/*
 * test_log.c - line formats, level filtering, escaping and the journald
 * priority prefix of log.c.  Each test sends stderr to a temporary file
 * and reads back what was written.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "capture.h"
#include "log.h"

static size_t count_lines(const char *text)
{
	size_t lines = 0;

	for (; *text != '\0'; text++)
		lines += *text == '\n';
	return lines;
}

static int reset_log(void **state)
{
	(void)state;
	unsetenv("JOURNAL_STREAM");
	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
	log_set_tenant(NULL);
	log_set_run_id(NULL);
	return 0;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t regex;

	assert_int_equal(regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&regex, text, 0, NULL, 0) != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
	regfree(&regex);
}

static void test_text_line_format(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	log_set_tenant("acme");
	log_set_run_id("20261204T210000Z-3f9a1c");
	capture_start(&capture);
	log_msg(LOG_WARN, "seat limit reached (%d of %d)", 250, 250);
	out = capture_stop(&capture);

	assert_matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z warn acme "
		       "run=20261204T210000Z-3f9a1c: seat limit reached \\(250 of 250\\)\n$");
	free(out);
}

/* Logs text at error level and returns what was written. */
static char *logged_error(const char *text)
{
	struct capture capture;

	capture_start(&capture);
	log_msg(LOG_ERROR, "%s", text);
	return capture_stop(&capture);
}

static void test_jwt_redacted_unregistered(void **state)
{
	static const char whole[] = "rejected assertion eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiIwb2Ex"
				    "In0.c2lnbmF0dXJlLWJ5dGVz; check the key";
	static const char cut[] = "error_description: \"bad proof eyJ0eXAiOiJkcG9wK2p3dCIsImFsZy";
	static const char plain[] = "the word eyJ alone, eyJhbGci short, and the addresses "
				    "hockeyJerseysAndMoreGear.fan@example.com and "
				    "eyJohnathan.Whitfield.Smith@example.com";
	char *out;

	(void)state;
	out = logged_error(whole);
	assert_non_null(strstr(out, "rejected assertion [redacted]; check the key"));
	assert_null(strstr(out, "c2lnbmF0dXJl"));
	free(out);

	out = logged_error(cut);
	assert_non_null(strstr(out, "bad proof [redacted]"));
	free(out);

	out = logged_error(plain);
	assert_non_null(strstr(out, plain));
	free(out);
}

static void test_secret_redacted_from_messages(void **state)
{
	struct capture capture;
	char token[] = "SSWS-00abcdefghijkl";
	char *out;

	(void)state;
	log_add_secret(token, strlen(token));
	capture_start(&capture);
	log_msg(LOG_ERROR, "body: \"%s and %s\"", token, token);
	out = capture_stop(&capture);
	assert_null(strstr(out, token));
	assert_non_null(strstr(out, "body: \"[redacted] and [redacted]\""));
	assert_string_equal(log_first_error(), "body: \"[redacted] and [redacted]\"");
	free(out);

	log_forget_secret(token);
	capture_start(&capture);
	log_msg(LOG_WARN, "%s", token);
	out = capture_stop(&capture);
	assert_non_null(strstr(out, token));
	free(out);
}

/* Each echoed spelling of the secret, and the log line expected for it. */
static const struct {
	const char *echo;
	const char *expected;
} encoded_secret_cases[] = {
	{ "client_secret=Zx8Q~abc%2Bdef%2Fghi%3Djkl%26mno&grant", "client_secret=[redacted]&grant" },
	{ "client_secret=Zx8Q~abc%2bdef%2fghi%3djkl%26mno", "client_secret=[redacted]" },
	{ "\"secret\":\"Zx8Q~abc+def\\/ghi=jkl&mno\"", "\"secret\":\"[redacted]\"" },
	{ "%5Ax8Q~abc+def/ghi=jkl&mno", "[redacted]" },
	{ "Zx8Q~abc%2Bdef%2Fghi%3Djkl%26mnp", "Zx8Q~abc%2Bdef%2Fghi%3Djkl%26mnp" },
};

static void test_encoded_secret_redacted(void **state)
{
	struct capture capture;
	char secret[] = "Zx8Q~abc+def/ghi=jkl&mno";
	char *out;

	(void)state;
	log_add_secret(secret, strlen(secret));
	for (size_t i = 0; i < sizeof(encoded_secret_cases) / sizeof(encoded_secret_cases[0]); i++) {
		capture_start(&capture);
		log_msg(LOG_ERROR, "echo: %s", encoded_secret_cases[i].echo);
		out = capture_stop(&capture);
		assert_non_null(strstr(out, encoded_secret_cases[i].expected));
		free(out);
	}
	log_forget_secret(secret);
}

static void test_text_line_without_tenant(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	capture_start(&capture);
	log_msg(LOG_ERROR, "failed");
	out = capture_stop(&capture);

	assert_matches(out, "^[0-9-]{10}T[0-9:]{8}Z error: failed\n$");
	free(out);
}

static void test_json_line_has_fields(void **state)
{
	struct capture capture;
	cJSON *json;
	char *out;

	(void)state;
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	log_set_tenant("acme");
	log_set_run_id("run-1");
	capture_start(&capture);
	log_msg(LOG_WARN, "user %s skipped", "00u1");
	out = capture_stop(&capture);

	assert_int_equal(count_lines(out), 1);
	json = cJSON_Parse(out);
	assert_non_null(json);
	assert_matches(cJSON_GetStringValue(cJSON_GetObjectItem(json, "time")),
		       "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "level")), "warn");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "tenant")), "acme");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "run_id")), "run-1");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "message")),
			    "user 00u1 skipped");
	cJSON_Delete(json);
	free(out);
}

static void test_json_omits_unset_fields(void **state)
{
	struct capture capture;
	cJSON *json;
	char *out;

	(void)state;
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	capture_start(&capture);
	log_msg(LOG_INFO, "starting");
	out = capture_stop(&capture);

	json = cJSON_Parse(out);
	assert_non_null(json);
	assert_null(cJSON_GetObjectItem(json, "tenant"));
	assert_null(cJSON_GetObjectItem(json, "run_id"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "message")), "starting");
	cJSON_Delete(json);
	free(out);
}

static void test_json_escapes_special_characters(void **state)
{
	struct capture capture;
	cJSON *json;
	char *out;

	(void)state;
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	log_set_tenant("ac\"me");
	capture_start(&capture);
	log_msg(LOG_INFO, "quote \" backslash \\ newline \n tab \t bell \a bad \xff end");
	out = capture_stop(&capture);

	assert_int_equal(count_lines(out), 1);
	json = cJSON_Parse(out);
	assert_non_null(json);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "tenant")), "ac\"me");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(json, "message")),
			    "quote \" backslash \\ newline \n tab \t bell \a bad \xef\xbf\xbd end");
	cJSON_Delete(json);
	free(out);
}

static void test_level_filter_drops_lines(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	log_configure(LOG_WARN, LOG_FORMAT_TEXT);
	assert_true(log_enabled(LOG_ERROR));
	assert_true(log_enabled(LOG_WARN));
	assert_false(log_enabled(LOG_INFO));
	assert_false(log_enabled(LOG_DEBUG));

	capture_start(&capture);
	log_msg(LOG_DEBUG, "debug line");
	log_msg(LOG_INFO, "info line");
	log_msg(LOG_WARN, "warn line");
	log_msg(LOG_ERROR, "error line");
	out = capture_stop(&capture);

	assert_null(strstr(out, "debug line"));
	assert_null(strstr(out, "info line"));
	assert_non_null(strstr(out, "warn line"));
	assert_non_null(strstr(out, "error line"));
	assert_int_equal(count_lines(out), 2);
	free(out);
}

static void test_debug_level_shows_all(void **state)
{
	(void)state;
	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	assert_true(log_enabled(LOG_DEBUG));
	log_configure(LOG_ERROR, LOG_FORMAT_TEXT);
	assert_true(log_enabled(LOG_ERROR));
	assert_false(log_enabled(LOG_WARN));
}

static void test_text_escapes_control_characters(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	capture_start(&capture);
	log_msg(LOG_INFO, "name=%s", "Eve\nerror: forged\r\t\x1b[31mred\x7f");
	out = capture_stop(&capture);

	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "name=Eve\\nerror: forged\\r\\t\\x1b[31mred\\x7f\n"));
	free(out);
}

static void test_text_escapes_unicode_separators(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	capture_start(&capture);
	/* U+0085 (NEL, a C1 control), U+2028, an invalid byte, then valid "é". */
	log_msg(LOG_INFO, "a\xc2\x85" "b\xe2\x80\xa8" "c\xff" "d\xc3\xa9");
	out = capture_stop(&capture);

	assert_non_null(strstr(out, ": a\\u0085b\\u2028c\\xffd\xc3\xa9\n"));
	free(out);
}

static void test_long_message_is_truncated(void **state)
{
	struct capture capture;
	char *big = malloc(10001);
	char *out;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	capture_start(&capture);
	log_msg(LOG_INFO, "%s", big);
	out = capture_stop(&capture);

	assert_int_equal(count_lines(out), 1);
	assert_true(strlen(out) < 4096 + 100);
	assert_non_null(strstr(out, "xxx [message truncated from 10000 bytes]\n"));
	free(out);
	free(big);
}

static void test_truncation_keeps_utf8_valid(void **state)
{
	struct capture capture;
	char *big = malloc(3 * 3000 + 1);
	cJSON *json;
	char *out;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 3000; i++)
		memcpy(big + 3 * i, "\xe2\x82\xac", 3);    /* the euro sign */
	big[3 * 3000] = '\0';
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	capture_start(&capture);
	log_msg(LOG_INFO, "%s", big);
	out = capture_stop(&capture);

	json = cJSON_Parse(out);
	assert_non_null(json);
	/* No U+FFFD: the cut fell between two whole characters. */
	assert_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(json, "message")),
			   "\xef\xbf\xbd"));
	assert_non_null(strstr(out, "\xe2\x82\xac [message truncated from 9000 bytes]"));
	cJSON_Delete(json);
	free(out);
	free(big);
}

static void set_journal_stream_to_stderr(void)
{
	struct stat st;
	char value[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
}

static void test_journal_prefix_when_stream_matches(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	log_set_tenant("acme");
	capture_start(&capture);
	set_journal_stream_to_stderr();
	log_msg(LOG_ERROR, "e");
	log_msg(LOG_WARN, "w");
	log_msg(LOG_INFO, "i");
	log_msg(LOG_DEBUG, "d");
	out = capture_stop(&capture);

	assert_string_equal(out, "<3>error acme: e\n<4>warn acme: w\n<6>info acme: i\n<7>debug acme: d\n");
	free(out);
}

static void test_journal_prefix_on_json_lines(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	capture_start(&capture);
	set_journal_stream_to_stderr();
	log_msg(LOG_WARN, "w");
	out = capture_stop(&capture);

	assert_int_equal(strncmp(out, "<4>{\"time\":\"", 12), 0);
	free(out);
}

static void test_no_prefix_when_stream_differs(void **state)
{
	struct capture capture;
	char *out;

	(void)state;
	setenv("JOURNAL_STREAM", "1:2", 1);
	capture_start(&capture);
	log_msg(LOG_WARN, "w");
	out = capture_stop(&capture);
	assert_int_not_equal(out[0], '<');
	assert_matches(out, "^[0-9-]{10}T[0-9:]{8}Z warn: w\n$");
	free(out);

	setenv("JOURNAL_STREAM", "garbage", 1);
	capture_start(&capture);
	log_msg(LOG_WARN, "w");
	out = capture_stop(&capture);
	assert_int_not_equal(out[0], '<');
	free(out);
}

static void test_level_names_round_trip(void **state)
{
	enum log_level level = LOG_ERROR;

	(void)state;
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++) {
		assert_true(log_level_parse(log_level_name((enum log_level)i), &level));
		assert_int_equal(level, i);
	}
	assert_false(log_level_parse("verbose", &level));
	assert_false(log_level_parse("WARN", &level));
	assert_string_equal(log_level_name(LOG_WARN), "warn");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_text_line_format, reset_log),
		cmocka_unit_test_setup(test_text_line_without_tenant, reset_log),
		cmocka_unit_test_setup(test_json_line_has_fields, reset_log),
		cmocka_unit_test_setup(test_json_omits_unset_fields, reset_log),
		cmocka_unit_test_setup(test_json_escapes_special_characters, reset_log),
		cmocka_unit_test_setup(test_level_filter_drops_lines, reset_log),
		cmocka_unit_test_setup(test_debug_level_shows_all, reset_log),
		cmocka_unit_test_setup(test_text_escapes_control_characters, reset_log),
		cmocka_unit_test_setup(test_text_escapes_unicode_separators, reset_log),
		cmocka_unit_test_setup(test_long_message_is_truncated, reset_log),
		cmocka_unit_test_setup(test_truncation_keeps_utf8_valid, reset_log),
		cmocka_unit_test_setup(test_journal_prefix_when_stream_matches, reset_log),
		cmocka_unit_test_setup(test_journal_prefix_on_json_lines, reset_log),
		cmocka_unit_test_setup(test_no_prefix_when_stream_differs, reset_log),
		cmocka_unit_test_setup(test_level_names_round_trip, reset_log),
		cmocka_unit_test_setup(test_secret_redacted_from_messages, reset_log),
		cmocka_unit_test_setup(test_encoded_secret_redacted, reset_log),
		cmocka_unit_test_setup(test_jwt_redacted_unregistered, reset_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
