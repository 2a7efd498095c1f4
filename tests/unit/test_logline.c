/*
 * test_logline.c - the bounded log line builder and its body excerpts.
 */
#include <string.h>

#include "unit.h"
#include "log.h"
#include "logline.h"

static void add_appends_formatted_text(void **state)
{
	struct log_line line = { "", 0 };

	(void)state;
	log_line_add(&line, "GET %s returned %d", "/api", 404);
	log_line_add(&line, " [request id %s]", "r1");
	assert_string_equal(line.text, "GET /api returned 404 [request id r1]");
	assert_int_equal(line.len, strlen(line.text));
}

static void add_stops_at_the_end(void **state)
{
	struct log_line line = { "", 0 };
	char chunk[1001];

	(void)state;
	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	for (int i = 0; i < 5; i++)
		log_line_add(&line, "%s", chunk);
	assert_int_equal(line.len, sizeof(line.text) - 1);
	assert_int_equal(strlen(line.text), sizeof(line.text) - 1);
	log_line_add(&line, "more");
	assert_int_equal(line.len, sizeof(line.text) - 1);
}

static void excerpt_replaces_control_bytes(void **state)
{
	struct log_line line = { "", 0 };
	const char body[] = "a\nb\r\tc\x1b[31md\xc3\xa9";

	(void)state;
	log_line_add_excerpt(&line, body, sizeof(body) - 1);
	assert_string_equal(line.text, ": \"a b  c?[31md??\"");
}

static void excerpt_cuts_long_bodies(void **state)
{
	struct log_line line = { "", 0 };
	char body[LOG_LINE_EXCERPT_LEN + 50];

	(void)state;
	memset(body, 'y', sizeof(body));
	log_line_add_excerpt(&line, body, sizeof(body));
	assert_int_equal(line.len, 3 + LOG_LINE_EXCERPT_LEN + 1 + 3);
	assert_string_equal(line.text + line.len - 4, "\"...");
}

/* A registered secret is redacted, also when it runs past the excerpt's end. */
static void excerpt_redacts_secrets(void **state)
{
	struct log_line line = { "", 0 };
	char secret[] = "tok-0123456789";
	char body[LOG_LINE_EXCERPT_LEN + 20];
	const char short_value[] = "abc";

	(void)state;
	log_add_secret(secret, strlen(secret));
	log_add_secret(short_value, strlen(short_value));
	log_line_add_excerpt(&line, "SSWS tok-0123456789, again tok-0123456789; abc", 46);
	assert_string_equal(line.text, ": \"SSWS [redacted], again [redacted]; abc\"");

	memset(body, 'z', sizeof(body));
	memcpy(body + LOG_LINE_EXCERPT_LEN - 4, secret, strlen(secret));
	line.len = 0;
	line.text[0] = '\0';
	log_line_add_excerpt(&line, body, sizeof(body));
	assert_null(strstr(line.text, "tok-"));
	assert_non_null(strstr(line.text, "zz[redacted]\"..."));

	log_forget_secret(secret);
	line.len = 0;
	line.text[0] = '\0';
	log_line_add_excerpt(&line, secret, strlen(secret));
	assert_string_equal(line.text, ": \"tok-0123456789\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_appends_formatted_text),
		cmocka_unit_test(add_stops_at_the_end),
		cmocka_unit_test(excerpt_replaces_control_bytes),
		cmocka_unit_test(excerpt_cuts_long_bodies),
		cmocka_unit_test(excerpt_redacts_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
