/*
 * test_http.c - the header parsers, the retry and pacing waits, and
 * http_get() against a scripted HTTP server on 127.0.0.1 in a thread.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"
#include "capture.h"

#include "http.h"
#include "log.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- helpers ---- */

static void expect_seconds(const char *label, bool valid, double got, double expected)
{
	if (!valid)
		fail_msg("%s: not parsed, expected %.3f", label, expected);
	if (fabs(got - expected) > 1e-6)
		fail_msg("%s: got %.6f, expected %.6f", label, got, expected);
}

static char *repeat_char(char c, size_t count)
{
	char *text = malloc(count + 1);

	assert_non_null(text);
	memset(text, c, count);
	text[count] = '\0';
	return text;
}

/* Captures what the logger writes to fd 2 between start and stop. */
/* ---- Link ---- */

struct link_case {
	const char *label;
	const char *values[3];
	size_t count;
	bool valid;
	const char *next;
};

static void link_next_table(void **state)
{
	static const struct link_case cases[] = {
		{ "single next", { "<https://a.example/u?after=1>; rel=\"next\"" }, 1,
		  true, "https://a.example/u?after=1" },
		{ "self and next as two values",
		  { "<https://a.example/u?limit=2>; rel=\"self\"",
		    "<https://a.example/u?after=x&limit=2>; rel=\"next\"" }, 2,
		  true, "https://a.example/u?after=x&limit=2" },
		{ "comma-joined values",
		  { "<https://a.example/1>; rel=\"self\", <https://a.example/2>; rel=\"next\"" }, 1,
		  true, "https://a.example/2" },
		{ "unquoted rel", { "<https://a.example/2>; rel=next" }, 1, true, "https://a.example/2" },
		{ "rel list", { "<https://a.example/2>; rel=\"self next\"" }, 1,
		  true, "https://a.example/2" },
		{ "rel in upper case", { "<https://a.example/2>; rel=\"NEXT\"" }, 1,
		  true, "https://a.example/2" },
		{ "white space everywhere", { "  <https://a.example/2>  ;  rel = \"next\"  ,  " }, 1,
		  true, "https://a.example/2" },
		{ "quoted separators in another param",
		  { "<https://a.example/2>; title=\"a, b; c\"; rel=\"next\"" }, 1,
		  true, "https://a.example/2" },
		{ "escaped quote in a param",
		  { "<https://a.example/2>; title=\"say \\\"hi\\\"\"; rel=next" }, 1,
		  true, "https://a.example/2" },
		{ "next after other links",
		  { "<https://a.example/p>; rel=prev, <https://a.example/f>; rel=first, "
		    "<https://a.example/n>; rel=next" }, 1, true, "https://a.example/n" },
		{ "same next twice", { "<https://a.example/2>; rel=next", "<https://a.example/2>; rel=next" },
		  2, true, "https://a.example/2" },
		{ "only the first rel counts", { "<https://a.example/2>; rel=\"self\"; rel=\"next\"" }, 1,
		  true, NULL },
		{ "no next", { "<https://a.example/1>; rel=\"self\"" }, 1, true, NULL },
		{ "similar relation", { "<https://a.example/2>; rel=\"nextpage\"" }, 1, true, NULL },
		{ "empty value", { "" }, 1, true, NULL },
		{ "only separators", { " , ,, \t, " }, 1, true, NULL },
		{ "no values", { NULL }, 0, true, NULL },
		{ "NULL value skipped", { NULL, "<https://a.example/2>; rel=next" }, 2,
		  true, "https://a.example/2" },
		{ "missing angle brackets", { "https://a.example/2; rel=\"next\"" }, 1, false, NULL },
		{ "unclosed angle bracket", { "<https://a.example/2; rel=\"next\"" }, 1, false, NULL },
		{ "empty target", { "<>; rel=next" }, 1, false, NULL },
		{ "space in target", { "<https://a.example/ 2>; rel=next" }, 1, false, NULL },
		{ "unterminated quote", { "<https://a.example/2>; rel=\"next" }, 1, false, NULL },
		{ "missing semicolon", { "<https://a.example/2> rel=next" }, 1, false, NULL },
		{ "empty parameter value", { "<https://a.example/2>; rel=" }, 1, false, NULL },
		{ "missing parameter name", { "<https://a.example/2>; =next" }, 1, false, NULL },
		{ "two different next links",
		  { "<https://a.example/2>; rel=next", "<https://a.example/3>; rel=next" }, 2,
		  false, NULL },
		{ "malformed value among valid ones",
		  { "<https://a.example/2>; rel=next", "garbage" }, 2, false, NULL },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct link_case *c = &cases[i];
		char *next = (char *)"unset";
		bool valid = http_link_parse_next(c->values, c->count, &next);

		if (valid != c->valid)
			fail_msg("%s: valid is %d, expected %d", c->label, valid, c->valid);
		if (c->next == NULL && next != NULL)
			fail_msg("%s: got \"%s\", expected no link", c->label, next);
		if (c->next != NULL && (next == NULL || strcmp(next, c->next) != 0))
			fail_msg("%s: got \"%s\", expected \"%s\"", c->label, next ? next : "(null)",
				 c->next);
		free(next);

		next = http_link_next(c->values, c->count);
		if ((c->next == NULL) != (next == NULL))
			fail_msg("%s: http_link_next disagrees", c->label);
		free(next);
	}
}

static void link_next_long_values(void **state)
{
	char *target = repeat_char('x', 10000);
	char *commas = repeat_char(',', 10000);
	char *value = malloc(10100);
	const char *values[1];
	char *next;

	(void)state;
	memcpy(target, "https://", 8);
	snprintf(value, 10100, "<%s>; rel=\"next\"", target);
	values[0] = value;
	next = http_link_next(values, 1);
	assert_non_null(next);
	assert_string_equal(next, target);
	free(next);

	values[0] = commas;
	assert_true(http_link_parse_next(values, 1, &next));
	assert_null(next);

	memset(value, '<', 10099);
	value[10099] = '\0';
	values[0] = value;
	assert_false(http_link_parse_next(values, 1, &next));
	assert_null(next);

	free(value);
	free(commas);
	free(target);
}

/* ---- dates ---- */

struct date_case {
	const char *label;
	const char *value;
	bool valid;
	long long expected;
};

static void parse_date_table(void **state)
{
	static const struct date_case cases[] = {
		{ "IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", true, 784111777 },
		{ "RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", true, 784111777 },
		{ "asctime", "Sun Nov  6 08:49:37 1994", true, 784111777 },
		{ "asctime two-digit day", "Thu Aug 27 18:14:08 2020", true, 1598552048 },
		{ "surrounding white space", "  Sun, 06 Nov 1994 08:49:37 GMT \t", true, 784111777 },
		{ "the epoch", "Thu, 01 Jan 1970 00:00:00 GMT", true, 0 },
		{ "before 1970", "Wed, 31 Dec 1969 23:59:59 GMT", true, -1 },
		{ "year 1900", "Mon, 01 Jan 1900 00:00:00 GMT", true, -2208988800LL },
		{ "year 1", "Mon, 01 Jan 0001 00:00:00 GMT", true, -62135596800LL },
		{ "year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", true, 253402300799LL },
		{ "RFC 850 year 69 is 2069", "Tuesday, 01-Jan-69 00:00:00 GMT", true, 3124224000LL },
		{ "leap day", "Tue, 29 Feb 2000 00:00:00 GMT", true, 951782400 },
		{ "recorded Okta date", "Mon, 29 Sep 2025 06:24:57 GMT", true, 1759127097 },
		{ "no leap day in 2001", "Thu, 29 Feb 2001 00:00:00 GMT", false, 0 },
		{ "31 April", "Sun, 31 Apr 1994 08:49:37 GMT", false, 0 },
		{ "hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", false, 0 },
		{ "minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", false, 0 },
		{ "UTC instead of GMT", "Sun, 06 Nov 1994 08:49:37 UTC", false, 0 },
		{ "one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", false, 0 },
		{ "unknown month", "Sun, 06 Foo 1994 08:49:37 GMT", false, 0 },
		{ "unknown day name", "Xyz, 06 Nov 1994 08:49:37 GMT", false, 0 },
		{ "trailing text", "Sun, 06 Nov 1994 08:49:37 GMT x", false, 0 },
		{ "truncated", "Sun, 06 Nov 1994 08:49", false, 0 },
		{ "ISO 8601", "1994-11-06T08:49:37Z", false, 0 },
		{ "number", "784111777", false, 0 },
		{ "empty", "", false, 0 },
		{ "only spaces", "    ", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct date_case *c = &cases[i];
		time_t parsed = 12345;
		bool valid = http_parse_date(c->value, &parsed);

		if (valid != c->valid)
			fail_msg("%s: valid is %d, expected %d", c->label, valid, c->valid);
		if (valid && (long long)parsed != c->expected)
			fail_msg("%s: got %lld, expected %lld", c->label, (long long)parsed,
				 c->expected);
	}
}

static void parse_date_hostile(void **state)
{
	char *long_value = repeat_char('S', 10000);
	time_t parsed;

	(void)state;
	assert_false(http_parse_date(NULL, &parsed));
	assert_false(http_parse_date(long_value, &parsed));
	free(long_value);
}

/* ---- Retry-After ---- */

struct retry_after_case {
	const char *label;
	const char *value;
	bool valid;
	double expected;
};

static void retry_after_table(void **state)
{
	/* now is 784111777, Sun, 06 Nov 1994 08:49:37 GMT */
	static const struct retry_after_case cases[] = {
		{ "whole seconds", "120", true, 120 },
		{ "zero", "0", true, 0 },
		{ "decimals", "1.5", true, 1.5 },
		{ "white space", " 7 \t", true, 7 },
		{ "date in the future", "Sun, 06 Nov 1994 08:50:07 GMT", true, 30 },
		{ "date in the past", "Sun, 06 Nov 1994 08:00:00 GMT", true, 0 },
		{ "date before 1970", "Wed, 31 Dec 1969 23:59:59 GMT", true, 0 },
		{ "huge number saturates", "99999999999999999999999999", true, 1e12 },
		{ "empty", "", false, 0 },
		{ "only spaces", "   ", false, 0 },
		{ "negative", "-1", false, 0 },
		{ "plus sign", "+5", false, 0 },
		{ "NaN", "NaN", false, 0 },
		{ "infinity", "inf", false, 0 },
		{ "exponent", "1e3", false, 0 },
		{ "hexadecimal", "0x10", false, 0 },
		{ "leading dot", ".5", false, 0 },
		{ "trailing dot", "5.", false, 0 },
		{ "two numbers", "5 6", false, 0 },
		{ "comma-joined", "5, 6", false, 0 },
		{ "word", "soon", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct retry_after_case *c = &cases[i];
		double seconds = -1;
		bool valid = http_parse_retry_after(c->value, 784111777, &seconds);

		if (valid != c->valid)
			fail_msg("%s: valid is %d, expected %d", c->label, valid, c->valid);
		if (valid)
			expect_seconds(c->label, valid, seconds, c->expected);
	}
}

static void retry_after_long_values(void **state)
{
	char *digits = repeat_char('9', 10000);
	char *letters = repeat_char('a', 10000);
	double seconds;

	(void)state;
	assert_true(http_parse_retry_after(digits, 0, &seconds));
	assert_true(seconds == 1e12);
	assert_false(http_parse_retry_after(letters, 0, &seconds));
	assert_false(http_parse_retry_after(NULL, 0, &seconds));
	free(letters);
	free(digits);
}

/* ---- X-Rate-Limit-Reset ---- */

struct reset_case {
	const char *label;
	const char *values[4];
	size_t count;
	const char *date;
	bool valid;
	double expected;
};

static void rate_limit_reset_table(void **state)
{
	/* now is 1000000; the recorded 429 had Date 1759127097 and reset 1759127105 */
	static const struct reset_case cases[] = {
		{ "recorded 429", { "1759127105" }, 1, "Mon, 29 Sep 2025 06:24:57 GMT", true, 9 },
		{ "no Date uses now", { "1000010" }, 1, NULL, true, 11 },
		{ "invalid Date uses now", { "1000010" }, 1, "yesterday", true, 11 },
		{ "repeated takes the earliest", { "1000100", "1000050" }, 2, NULL, true, 51 },
		{ "comma-joined takes the earliest", { "1000100, 1000050" }, 1, NULL, true, 51 },
		{ "garbage mixed in", { "abc", "1000100", "-5, 1e9", " , 1000090x" }, 4, NULL,
		  true, 101 },
		{ "reset in the past", { "999000" }, 1, NULL, true, 1 },
		{ "reset now", { "1000000" }, 1, NULL, true, 1 },
		{ "reset zero", { "0" }, 1, NULL, true, 1 },
		{ "18 digits", { "100000000000000000" }, 1, NULL, true, 1e17 - 1000000 + 1 },
		{ "19 digits", { "1000000000000000000" }, 1, NULL, false, 0 },
		{ "negative", { "-1000" }, 1, NULL, false, 0 },
		{ "decimal", { "1000010.5" }, 1, NULL, false, 0 },
		{ "empty", { "" }, 1, NULL, false, 0 },
		{ "only separators", { " , ,," }, 1, NULL, false, 0 },
		{ "no values", { NULL }, 0, NULL, false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct reset_case *c = &cases[i];
		double seconds = -1;
		bool valid = http_parse_rate_limit_reset(c->values, c->count, c->date, 1000000,
							 &seconds);

		if (valid != c->valid)
			fail_msg("%s: valid is %d, expected %d", c->label, valid, c->valid);
		if (valid)
			expect_seconds(c->label, valid, seconds, c->expected);
	}
}

static void rate_limit_reset_long_values(void **state)
{
	char *digits = repeat_char('1', 10000);
	char *commas = repeat_char(',', 10000);
	const char *values[2] = { digits, commas };
	double seconds;

	(void)state;
	assert_false(http_parse_rate_limit_reset(values, 2, NULL, 0, &seconds));
	assert_false(http_parse_rate_limit_reset(NULL, 3, NULL, 0, &seconds));
	free(commas);
	free(digits);
}

/* ---- URLs ---- */

struct url_case {
	const char *url;
	bool allowed;
};

static void url_allowed_table(void **state)
{
	static const struct url_case cases[] = {
		{ "https://acme.okta.com", true },
		{ "https://acme.okta.com/api/v1/apps/0oa1/users?limit=500", true },
		{ "HTTPS://ACME.OKTA.COM/", true },
		{ "https://10.0.0.1:8443/", true },
		{ "http://127.0.0.1:8080/api", true },
		{ "http://127.1.2.3/", true },
		{ "http://localhost:9/", true },
		{ "http://LOCALHOST/", true },
		{ "http://[::1]:8080/", true },
		{ "http://acme.okta.com/", false },
		{ "http://128.0.0.1/", false },
		{ "http://10.0.0.1/", false },
		{ "http://127.0.0.1.evil.example/", false },
		{ "http://localhost.evil.example/", false },
		{ "http://[::2]/", false },
		{ "http://[::ffff:127.0.0.1]/", false },
		{ "ftp://127.0.0.1/", false },
		{ "file:///etc/passwd", false },
		{ "acme.okta.com", false },
		{ "/api/v1/users", false },
		{ "https://", false },
		{ "https://exa mple.com/", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		if (http_url_allowed(cases[i].url) != cases[i].allowed)
			fail_msg("%s: expected allowed=%d", cases[i].url, cases[i].allowed);
	}
	assert_false(http_url_allowed(NULL));
}

struct origin_case {
	const char *a;
	const char *b;
	bool same;
};

static void same_origin_table(void **state)
{
	static const struct origin_case cases[] = {
		{ "https://acme.okta.com/a", "https://ACME.okta.com/b?after=1", true },
		{ "https://acme.okta.com:443/", "https://acme.okta.com/", true },
		{ "http://127.0.0.1:80/", "http://127.0.0.1/x", true },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1/users", true },
		{ "HTTPS://acme.okta.com", "https://acme.okta.com", true },
		{ "https://acme.okta.com/", "http://acme.okta.com/", false },
		{ "https://acme.okta.com:8443/", "https://acme.okta.com/", false },
		{ "https://acme.okta.com/", "https://evil.example/", false },
		{ "https://acme.okta.com/", "https://acme.okta.com.evil.example/", false },
		{ "http://127.0.0.1:8080/", "http://127.0.0.1:8081/", false },
		{ "https://acme.okta.com/", "/api/v1/users?after=1", false },
		{ "https://acme.okta.com/", "garbage", false },
		{ "", "", false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		if (http_same_origin(cases[i].a, cases[i].b) != cases[i].same)
			fail_msg("%s vs %s: expected same=%d", cases[i].a, cases[i].b, cases[i].same);
	}
	assert_false(http_same_origin(NULL, "https://a.example/"));
	assert_false(http_same_origin("https://a.example/", NULL));
}

/* ---- retry and pacing waits ---- */

struct wait_case {
	const char *label;
	long status;          /* 0: transport error, no response */
	struct http_header headers[4];
	size_t header_count;
	long retry;
	double max_wait;
	double jitter;
	double expected;
};

#define HEADER(name, value) { (char *)(name), (char *)(value) }

static void retry_wait_table(void **state)
{
	/* now is 1000000 */
	static const struct wait_case cases[] = {
		{ "Retry-After seconds", 503, { HEADER("Retry-After", "3") }, 1, 1, 60, 0.5, 3 },
		{ "Retry-After capped by max_wait", 429, { HEADER("retry-after", "120") }, 1, 1, 60,
		  0.5, 60 },
		{ "Retry-After zero gets the minimum", 503, { HEADER("Retry-After", "0") }, 1, 1, 60,
		  0.5, HTTP_MIN_WAIT },
		{ "Retry-After date", 503, { HEADER("Retry-After", "Mon, 12 Jan 1970 13:47:00 GMT") },
		  1, 1, 60, 0.5, 20 },
		{ "Retry-After wins over reset", 429,
		  { HEADER("Retry-After", "2"), HEADER("X-Rate-Limit-Reset", "1000030") }, 2, 1, 60,
		  0.5, 2 },
		{ "429 reset against Date", 429,
		  { HEADER("Date", "Mon, 29 Sep 2025 06:24:57 GMT"),
		    HEADER("X-Rate-Limit-Reset", "1759127105") }, 2, 1, 60, 0.5, 9 },
		{ "429 reset against now", 429, { HEADER("X-Rate-Limit-Reset", "1000010") }, 1, 1, 60,
		  0.5, 11 },
		{ "429 reset capped by max_wait", 429, { HEADER("X-Rate-Limit-Reset", "1000500") }, 1,
		  1, 60, 0.5, 60 },
		{ "reset ignored for 503", 503, { HEADER("X-Rate-Limit-Reset", "1000030") }, 1, 1, 60,
		  0.5, 0.5 },
		{ "invalid Retry-After falls back", 503, { HEADER("Retry-After", "soon") }, 1, 3, 60,
		  0.5, 2 },
		{ "429 without headers backs off", 429, { { NULL, NULL } }, 0, 2, 60, 0.25, 0.5 },
		{ "transport error first retry", 0, { { NULL, NULL } }, 0, 1, 60, 0.5, 0.5 },
		{ "transport error third retry", 0, { { NULL, NULL } }, 0, 3, 60, 0.5, 2 },
		{ "backoff capped by max_wait", 0, { { NULL, NULL } }, 0, 10, 60, 0.5, 30 },
		{ "huge retry number", 0, { { NULL, NULL } }, 0, 100000, 60, 0.5, 30 },
		{ "zero jitter gets the minimum", 0, { { NULL, NULL } }, 0, 4, 60, 0, HTTP_MIN_WAIT },
		{ "NaN jitter gets the minimum", 0, { { NULL, NULL } }, 0, 4, 60, NAN, HTTP_MIN_WAIT },
		{ "jitter out of range", 0, { { NULL, NULL } }, 0, 4, 60, 7, HTTP_MIN_WAIT },
		{ "retry zero counts as the first", 0, { { NULL, NULL } }, 0, 0, 60, 0.5, 0.5 },
		{ "max_wait zero", 503, { HEADER("Retry-After", "3") }, 1, 1, 0, 0.5, HTTP_MIN_WAIT },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct wait_case *c = &cases[i];
		struct http_response response = { c->status, NULL, 0, (struct http_header *)c->headers,
						   c->header_count };
		double wait = http_retry_wait(c->status ? &response : NULL, c->retry, c->max_wait,
					      1000000, c->jitter);

		expect_seconds(c->label, true, wait, c->expected);
	}
}

static void pace_wait_table(void **state)
{
	/* now is 1000000; reset at 1000005 gives a 6 s pause */
	static const struct wait_case cases[] = {
		{ "1 of 100 left", 200,
		  { HEADER("X-Rate-Limit-Limit", "100"), HEADER("X-Rate-Limit-Remaining", "1"),
		    HEADER("X-Rate-Limit-Reset", "1000005") }, 3, 0, 0, 0, 6 },
		{ "10 of 100 left", 200,
		  { HEADER("X-Rate-Limit-Limit", "100"), HEADER("X-Rate-Limit-Remaining", "10"),
		    HEADER("X-Rate-Limit-Reset", "1000005") }, 3, 0, 0, 0, 6 },
		{ "11 of 100 left", 200,
		  { HEADER("X-Rate-Limit-Limit", "100"), HEADER("X-Rate-Limit-Remaining", "11"),
		    HEADER("X-Rate-Limit-Reset", "1000005") }, 3, 0, 0, 0, 0 },
		{ "74 of 100 left", 200,
		  { HEADER("X-Rate-Limit-Limit", "100"), HEADER("X-Rate-Limit-Remaining", "74"),
		    HEADER("X-Rate-Limit-Reset", "1000005") }, 3, 0, 0, 0, 0 },
		{ "2 left without a limit", 200,
		  { HEADER("X-Rate-Limit-Remaining", "2"), HEADER("X-Rate-Limit-Reset", "1000005") },
		  2, 0, 0, 0, 6 },
		{ "3 left without a limit", 200,
		  { HEADER("X-Rate-Limit-Remaining", "3"), HEADER("X-Rate-Limit-Reset", "1000005") },
		  2, 0, 0, 0, 0 },
		{ "concurrency limit zeros", 200,
		  { HEADER("X-Rate-Limit-Limit", "0"), HEADER("X-Rate-Limit-Remaining", "0"),
		    HEADER("X-Rate-Limit-Reset", "1000005") }, 3, 0, 0, 0, 6 },
		{ "reset measured against Date", 200,
		  { HEADER("Date", "Mon, 29 Sep 2025 06:24:57 GMT"), HEADER("X-Rate-Limit-Remaining", "0"),
		    HEADER("X-Rate-Limit-Reset", "1759127105") }, 3, 0, 0, 0, 9 },
		{ "low but no reset", 200, { HEADER("X-Rate-Limit-Remaining", "0") }, 1, 0, 0, 0, 0 },
		{ "invalid remaining", 200,
		  { HEADER("X-Rate-Limit-Remaining", "few"), HEADER("X-Rate-Limit-Reset", "1000005") },
		  2, 0, 0, 0, 0 },
		{ "no headers", 200, { { NULL, NULL } }, 0, 0, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		const struct wait_case *c = &cases[i];
		struct http_response response = { c->status, NULL, 0, (struct http_header *)c->headers,
						   c->header_count };

		expect_seconds(c->label, true, http_pace_wait(&response, 1000000), c->expected);
	}
	assert_true(http_pace_wait(NULL, 0) == 0);
}

static void response_header_lookup(void **state)
{
	struct http_header headers[] = {
		HEADER("Link", "<a>; rel=self"), HEADER("x-okta-request-id", "req-1"),
		HEADER("link", "<b>; rel=next"),
	};
	struct http_response response = { 200, NULL, 0, headers, COUNT(headers) };

	(void)state;
	assert_string_equal(http_response_header(&response, "LINK", 0), "<a>; rel=self");
	assert_string_equal(http_response_header(&response, "Link", 1), "<b>; rel=next");
	assert_null(http_response_header(&response, "Link", 2));
	assert_null(http_response_header(&response, "Date", 0));
	assert_null(http_response_header(NULL, "Link", 0));
	assert_string_equal(http_response_request_id(&response), "req-1");
}

/* ---- http_get against a scripted server ---- */

struct scripted {
	const char *raw;      /* the whole response, status line to body */
	bool close_after;     /* close the connection after sending */
	bool reset_after;     /* close with a TCP reset after sending */
};

struct test_server {
	int listen_fd;
	int port;
	pthread_t thread;
	const struct scripted *script;
	size_t script_count;
	size_t served;
	size_t connections;
	char requests[8][4096];
};

/* Reads one request head; false when the peer closed the connection. */
static bool read_request(int fd, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	while (strstr(out, "\r\n\r\n") == NULL) {
		ssize_t got;

		if (len + 1 >= size)
			return false;
		got = recv(fd, out + len, size - len - 1, 0);
		if (got <= 0)
			return false;
		len += (size_t)got;
		out[len] = '\0';
	}
	return true;
}

static void close_with_reset(int fd)
{
	struct linger linger = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
	close(fd);
}

static void serve_connection(struct test_server *server, int fd)
{
	char request[4096];

	while (read_request(fd, request, sizeof(request))) {
		const struct scripted *reply;

		if (server->served < COUNT(server->requests))
			snprintf(server->requests[server->served], sizeof(server->requests[0]), "%s",
				 request);
		if (server->served >= server->script_count)
			break;
		reply = &server->script[server->served++];
		if (send(fd, reply->raw, strlen(reply->raw), MSG_NOSIGNAL) < 0)
			break;
		if (reply->reset_after) {
			close_with_reset(fd);
			return;
		}
		if (reply->close_after)
			break;
	}
	close(fd);
}

static void *server_main(void *context)
{
	struct test_server *server = context;
	int fd;

	while ((fd = accept(server->listen_fd, NULL, NULL)) >= 0) {
		server->connections++;
		serve_connection(server, fd);
	}
	return NULL;
}

static void server_start(struct test_server *server, const struct scripted *script,
			 size_t count)
{
	struct sockaddr_in address = { 0 };
	socklen_t length = sizeof(address);

	memset(server, 0, sizeof(*server));
	server->script = script;
	server->script_count = count;
	server->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(server->listen_fd >= 0);

	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(server->listen_fd, 8), 0);
	assert_int_equal(getsockname(server->listen_fd, (struct sockaddr *)&address, &length), 0);
	server->port = ntohs(address.sin_port);
	assert_int_equal(pthread_create(&server->thread, NULL, server_main, server), 0);
}

static void server_stop(struct test_server *server)
{
	shutdown(server->listen_fd, SHUT_RDWR);
	close(server->listen_fd);
	pthread_join(server->thread, NULL);
}

struct recorded_waits {
	double waits[16];
	size_t count;
};

static void record_wait(void *context, double seconds)
{
	struct recorded_waits *recorded = context;

	if (recorded->count < COUNT(recorded->waits))
		recorded->waits[recorded->count] = seconds;
	recorded->count++;
}

struct get_fixture {
	struct test_server server;
	struct http_client *client;
	struct recorded_waits waits;
	char url[128];
};

static void get_fixture_start(struct get_fixture *fixture, const struct scripted *script,
			      size_t count, const struct http_options *options)
{
	struct http_options defaults = { 5, 3, 100, 60, NULL, NULL, 0 };

	memset(fixture, 0, sizeof(*fixture));
	server_start(&fixture->server, script, count);
	assert_int_equal(http_client_new(options ? options : &defaults, &fixture->client), RS_OK);
	http_client_set_sleep(fixture->client, record_wait, &fixture->waits);
	snprintf(fixture->url, sizeof(fixture->url), "http://127.0.0.1:%d/page?after=cursor1",
		 fixture->server.port);
}

static void get_fixture_stop(struct get_fixture *fixture)
{
	http_client_free(fixture->client);
	server_stop(&fixture->server);
}

static void get_returns_body_and_headers(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLink: <http://x/1>; rel=self\r\n"
		  "link:   <http://x/2>; rel=next  \r\nX-Okta-Request-Id: req-9\r\n\r\n[]", false, false },
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\n{\"a\"", false, false },
	};
	const char *headers[] = { "Authorization: SSWS test-token", "X-Test: 1", NULL };
	struct get_fixture fixture;
	struct http_response response;
	struct http_stats stats;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), NULL);

	assert_int_equal(http_get(fixture.client, fixture.url, headers, &response), RS_OK);
	assert_int_equal(response.status, 200);
	assert_int_equal(response.body_len, 2);
	assert_string_equal(response.body, "[]");
	assert_string_equal(http_response_header(&response, "Link", 0), "<http://x/1>; rel=self");
	assert_string_equal(http_response_header(&response, "Link", 1), "<http://x/2>; rel=next");
	assert_string_equal(http_response_request_id(&response), "req-9");
	http_response_release(&response);

	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_OK);
	assert_int_equal(response.status, 404);
	assert_string_equal(response.body, "{\"a\"");
	http_response_release(&response);

	stats = http_client_stats(fixture.client);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.server.connections, 1);
	assert_non_null(strstr(fixture.server.requests[0], "GET /page?after=cursor1 HTTP/1.1\r\n"));
	assert_non_null(strstr(fixture.server.requests[0], "\r\nAccept: application/json\r\n"));
	assert_non_null(strstr(fixture.server.requests[0], "\r\nUser-Agent: rostersync/"));
	assert_non_null(strstr(fixture.server.requests[0], "\r\nX-Test: 1\r\n"));
	assert_non_null(strstr(fixture.server.requests[0], "\r\nAccept-Encoding: "));
	assert_null(strstr(fixture.server.requests[1], "Authorization"));
	assert_int_equal(stats.requests, 2);
	assert_int_equal(stats.retries, 0);
	assert_int_equal(stats.bytes, 6);
	assert_int_equal(stats.connections, 1);
	assert_int_equal(fixture.waits.count, 0);
}

/* A started GET is collected later on the same connection; a 503 is retried then. */
static void get_start_then_finish(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n[\"one\"]", false, false },
		{ "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
		  false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n[\"two\"]", false, false },
	};
	struct get_fixture fixture;
	struct http_response response;
	struct http_stats stats;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), NULL);

	assert_int_equal(http_get_finish(fixture.client, &response), RS_ERR_INTERNAL);
	assert_int_equal(http_get_start(fixture.client, fixture.url, NULL), RS_OK);
	assert_int_equal(http_get_finish(fixture.client, &response), RS_OK);
	assert_int_equal(response.status, 200);
	assert_string_equal(response.body, "[\"one\"]");
	http_response_release(&response);

	assert_int_equal(http_get_start(fixture.client, fixture.url, NULL), RS_OK);
	assert_int_equal(http_get_finish(fixture.client, &response), RS_OK);
	assert_int_equal(response.status, 200);
	assert_string_equal(response.body, "[\"two\"]");
	http_response_release(&response);

	assert_int_equal(http_get_start(fixture.client, "ftp://example.com/", NULL), RS_ERR_CONFIG);
	assert_int_equal(http_get_finish(fixture.client, &response), RS_ERR_INTERNAL);

	stats = http_client_stats(fixture.client);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.server.connections, 1);
	assert_int_equal(stats.requests, 3);
	assert_int_equal(stats.retries, 1);
	assert_int_equal(stats.connections, 1);
	assert_int_equal(fixture.waits.count, 1);
}

/* Counts the renewals; each gives a new "X-Proof: <n>" line and keeps the others. */
struct renewer {
	int calls;
	char method[8];
};

static enum rs_err renew_proof(void *context, const char *method, const char *url,
			       const char *const *headers, struct http_renewal *out)
{
	struct renewer *renewer = context;
	size_t count = 0;
	char line[32];

	(void)url;
	renewer->calls++;
	snprintf(renewer->method, sizeof(renewer->method), "%s", method);
	while (headers[count])
		count++;
	out->headers = calloc(count + 2, sizeof(char *));
	assert_non_null(out->headers);
	snprintf(line, sizeof(line), "X-Proof: %d", renewer->calls);
	out->headers[0] = strdup(line);
	for (size_t i = 0, n = 1; i < count; i++) {
		if (strncmp(headers[i], "X-Proof:", 8) != 0)
			out->headers[n++] = strdup(headers[i]);
	}
	return RS_OK;
}

/* Every retry, of a GET and of a started GET, carries the renewer's new lines. */
static void get_retry_renews_credentials(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
		  false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
		{ "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
		  false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
	};
	const char *headers[] = { "X-Proof: 0", "X-Keep: yes", NULL };
	struct renewer renewer = { 0 };
	struct get_fixture fixture;
	struct http_response response;
	struct http_client *sibling = NULL;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), NULL);
	http_client_set_renew(fixture.client, renew_proof, &renewer);
	assert_int_equal(http_get(fixture.client, fixture.url, headers, &response), RS_OK);
	http_response_release(&response);
	assert_int_equal(http_client_sibling(fixture.client, &sibling), RS_OK);
	http_client_free(sibling);
	assert_int_equal(http_get_start(fixture.client, fixture.url, headers), RS_OK);
	assert_int_equal(http_get_finish(fixture.client, &response), RS_OK);
	http_response_release(&response);
	get_fixture_stop(&fixture);

	assert_int_equal(renewer.calls, 2);
	assert_string_equal(renewer.method, "GET");
	assert_non_null(strstr(fixture.server.requests[0], "X-Proof: 0"));
	assert_non_null(strstr(fixture.server.requests[1], "X-Proof: 1"));
	assert_null(strstr(fixture.server.requests[1], "X-Proof: 0"));
	assert_non_null(strstr(fixture.server.requests[1], "X-Keep: yes"));
	assert_non_null(strstr(fixture.server.requests[2], "X-Proof: 0"));
	assert_non_null(strstr(fixture.server.requests[3], "X-Proof: 2"));
	assert_non_null(strstr(fixture.server.requests[3], "X-Keep: yes"));
	assert_non_null(strstr(fixture.server.requests[3], "Accept:"));
	assert_null(strstr(strstr(fixture.server.requests[3], "Accept:") + 1, "Accept:"));
}

static void get_retries_503_then_succeeds(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nX-Okta-Request-Id: r1\r\n"
		  "Content-Length: 4\r\n\r\nbusy", false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
	};
	const char *headers[] = { "Authorization: SSWS secret-token-value", NULL };
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	struct http_stats stats;
	char expected[256];
	char *logged;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), NULL);
	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, headers, &response), RS_OK);
	logged = capture_stop(&capture);
	stats = http_client_stats(fixture.client);
	get_fixture_stop(&fixture);

	assert_int_equal(response.status, 200);
	http_response_release(&response);
	assert_int_equal(stats.requests, 2);
	assert_int_equal(stats.retries, 1);
	assert_int_equal(fixture.waits.count, 1);
	expect_seconds("Retry-After wait", true, fixture.waits.waits[0], 1);

	snprintf(expected, sizeof(expected),
		 "GET http://127.0.0.1:%d/page returned 503 (request id r1); retry 1 of 3 in 1.0 s",
		 fixture.server.port);
	if (!strstr(logged, expected))
		fail_msg("log has no \"%s\":\n%s", expected, logged);
	assert_null(strstr(logged, "cursor1"));
	assert_null(strstr(logged, "secret-token-value"));
	free(logged);
}

static void get_gives_up_on_persistent_429(void **state)
{
	static const struct scripted reply = {
		"HTTP/1.1 429 Too Many Requests\r\nX-Rate-Limit-Remaining: 0\r\n"
		"X-Rate-Limit-Reset: 1\r\nContent-Length: 2\r\n\r\n{}", false, false,
	};
	static const struct scripted script[] = { reply, reply, reply, reply };
	struct http_options options = { 5, 3, 100, 60, NULL, NULL, 0 };
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	struct http_stats stats;
	char *logged;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), &options);
	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_ERR_TEMPFAIL);
	logged = capture_stop(&capture);
	stats = http_client_stats(fixture.client);
	get_fixture_stop(&fixture);

	assert_null(response.body);
	assert_int_equal(stats.requests, 4);
	assert_int_equal(stats.retries, 3);
	assert_int_equal(fixture.waits.count, 3);
	for (size_t i = 0; i < 3; i++)
		expect_seconds("reset in the past waits 1 s", true, fixture.waits.waits[i], 1);
	assert_non_null(strstr(logged, "retry 3 of 3 in 1.0 s"));
	assert_non_null(strstr(logged, "returned 429: \"{}\"; giving up after 3 retries"));
	free(logged);
}

static void get_stops_at_retry_budget(void **state)
{
	static const struct scripted reply = {
		"HTTP/1.1 500 Internal Server Error\r\nRetry-After: 4\r\nContent-Length: 0\r\n\r\n",
		false, false,
	};
	static const struct scripted script[] = { reply, reply, reply, reply };
	struct http_options options = { 5, 10, 10, 60, NULL, NULL, 0 };
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	char *logged;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), &options);
	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response),
			 RS_ERR_UNAVAILABLE);
	logged = capture_stop(&capture);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.waits.count, 2);
	assert_int_equal(fixture.server.served, 3);
	assert_non_null(strstr(logged, "would exceed the retry budget of 10 s"));
	free(logged);
}

static void get_retries_truncated_body(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{\"id\":", true, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n[{\"id\":", false, true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
	};
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	struct http_stats stats;
	char *logged;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), NULL);
	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_OK);
	logged = capture_stop(&capture);
	stats = http_client_stats(fixture.client);
	get_fixture_stop(&fixture);

	assert_string_equal(response.body, "[]");
	http_response_release(&response);
	assert_int_equal(stats.retries, 2);
	assert_int_equal(fixture.server.connections, 3);
	assert_non_null(strstr(logged, "failed: "));
	assert_non_null(strstr(logged, "retry 2 of 3"));
	free(logged);
}

static void get_unreachable_server(void **state)
{
	struct http_options options = { 2, 2, 100, 60, NULL, NULL, 0 };
	struct test_server server;
	struct http_client *client;
	struct recorded_waits waits = { { 0 }, 0 };
	struct http_response response;
	struct capture capture;
	char url[64];
	char *logged;

	(void)state;
	/* A closed listening port refuses connections at once. */
	server_start(&server, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server.port);
	server_stop(&server);

	assert_int_equal(http_client_new(&options, &client), RS_OK);
	http_client_set_sleep(client, record_wait, &waits);
	capture_start(&capture);
	assert_int_equal(http_get(client, url, NULL, &response), RS_ERR_UNAVAILABLE);
	logged = capture_stop(&capture);
	http_client_free(client);

	assert_int_equal(waits.count, 2);
	assert_non_null(strstr(logged, "giving up after 2 retries"));
	free(logged);
}

static void get_caps_body_size(void **state)
{
	static const struct scripted script[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
		  "0123456789012345678901234567890123456789", false, false },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "28\r\n0123456789012345678901234567890123456789\r\n0\r\n\r\n", true, false },
	};
	struct http_options options = { 5, 3, 100, 60, NULL, NULL, 16 };
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	char *logged;

	(void)state;
	get_fixture_start(&fixture, script, COUNT(script), &options);
	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_ERR_PROTOCOL);
	assert_null(response.body);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.waits.count, 0);
	assert_non_null(strstr(logged, "response body larger than 16 bytes"));
	free(logged);
}

static void get_paces_when_rate_limit_low(void **state)
{
	char first[256];
	struct scripted script[] = {
		{ first, false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
	};
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	char *logged;

	(void)state;
	/* Reset 20 s after the response Date: the client pauses 21 s. */
	snprintf(first, sizeof(first),
		 "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		 "X-Rate-Limit-Limit: 100\r\nX-Rate-Limit-Remaining: 3\r\n"
		 "X-Rate-Limit-Reset: 20\r\nContent-Length: 2\r\n\r\n[]");
	get_fixture_start(&fixture, script, COUNT(script), NULL);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_OK);
	http_response_release(&response);
	assert_int_equal(fixture.waits.count, 0);

	capture_start(&capture);
	assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_OK);
	logged = capture_stop(&capture);
	http_response_release(&response);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.waits.count, 1);
	expect_seconds("pacing pause", true, fixture.waits.waits[0], 21);
	assert_non_null(strstr(logged, "rate limit nearly used (3 of 100 requests left); "
				       "pausing 21.0 s until it resets"));
	free(logged);
}

/*
 * A pause until the rate limit resets is not a retry: it is taken in full
 * with a retry budget of 1 s.  A pause that http.max_wait cuts ends before
 * the reset, so it counts against the budget, which cuts it further.
 */
static void pace_to_reset_ignores_budget(void **state)
{
	char first[256];
	char second[256];
	struct scripted script[] = {
		{ first, false, false },
		{ second, false, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false },
	};
	struct http_options options = { 5, 3, 1, 30, NULL, NULL, 0 };
	struct get_fixture fixture;
	struct http_response response;
	struct capture capture;
	char *logged;

	(void)state;
	snprintf(first, sizeof(first),
		 "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		 "X-Rate-Limit-Limit: 100\r\nX-Rate-Limit-Remaining: 3\r\n"
		 "X-Rate-Limit-Reset: 20\r\nContent-Length: 2\r\n\r\n[]");
	snprintf(second, sizeof(second),
		 "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		 "X-Rate-Limit-Limit: 100\r\nX-Rate-Limit-Remaining: 3\r\n"
		 "X-Rate-Limit-Reset: 50\r\nContent-Length: 2\r\n\r\n[]");
	get_fixture_start(&fixture, script, COUNT(script), &options);
	capture_start(&capture);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(http_get(fixture.client, fixture.url, NULL, &response), RS_OK);
		http_response_release(&response);
	}
	logged = capture_stop(&capture);
	get_fixture_stop(&fixture);

	assert_int_equal(fixture.waits.count, 2);
	expect_seconds("first pause", true, fixture.waits.waits[0], 21);
	expect_seconds("second pause", true, fixture.waits.waits[1], 1);
	assert_non_null(strstr(logged, "pausing 21.0 s until it resets"));
	assert_non_null(strstr(logged, "pausing 1.0 s (http.retry_budget); it resets in 51.0 s"));
	free(logged);
}

static void get_rejects_disallowed_url(void **state)
{
	struct http_options options = { 5, 3, 100, 60, NULL, NULL, 0 };
	struct http_client *client;
	struct http_response response;
	struct capture capture;
	char *logged;

	(void)state;
	assert_int_equal(http_client_new(&options, &client), RS_OK);
	capture_start(&capture);
	assert_int_equal(http_get(client, "http://acme.okta.com/api?x=1", NULL, &response),
			 RS_ERR_CONFIG);
	logged = capture_stop(&capture);
	assert_int_equal(http_client_stats(client).requests, 0);
	http_client_free(client);

	assert_non_null(strstr(logged, "rejected the request to http://acme.okta.com/api:"));
	free(logged);
}

/* Runs http_wait_for_retry() on client, checks its result and returns what it logged. */
static char *wait_for_retry_logged(struct http_client *client, long retry, double requested,
				   bool rate_limited, enum rs_err expected)
{
	struct capture capture;
	enum rs_err err;
	char *logged;

	capture_start(&capture);
	err = http_wait_for_retry(client, "POST http://x/$batch: step 1 returned 429", retry,
				  requested, rate_limited);
	logged = capture_stop(&capture);
	if (err != expected)
		fail_msg("retry %ld after %.1f s: got error %d, expected %d; log:\n%s", retry,
			 requested, (int)err, (int)expected, logged);
	return logged;
}

static void expect_in_log(char *logged, const char *expected)
{
	if (!strstr(logged, expected))
		fail_msg("log has no \"%s\":\n%s", expected, logged);
	free(logged);
}

/*
 * A retry that the caller makes itself follows the policy of http_get(),
 * within the retry budget that a client shares with its siblings.
 */
static void wait_for_retry_policy(void **state)
{
	struct http_options options = { 5, 3, 8, 4, NULL, NULL, 0 };
	struct recorded_waits waits = { { 0 }, 0 };
	struct http_client *client = NULL;
	struct http_client *sibling = NULL;

	(void)state;
	assert_int_equal(http_client_new(&options, &client), RS_OK);
	http_client_set_sleep(client, record_wait, &waits);
	assert_int_equal(http_client_sibling(client, &sibling), RS_OK);

	expect_in_log(wait_for_retry_logged(client, 1, 5, true, RS_ERR_TEMPFAIL),
		      "POST http://x/$batch: step 1 returned 429; giving up after 0 retries: the "
		      "server requested a wait of 5.0 s, longer than http.max_wait (4 s)");
	assert_int_equal(waits.count, 0);

	expect_in_log(wait_for_retry_logged(sibling, 1, 3, true, RS_OK),
		      "POST http://x/$batch: step 1 returned 429; retry 1 of 3 in 3.0 s");
	expect_in_log(wait_for_retry_logged(client, 2, 4, true, RS_OK), "retry 2 of 3 in 4.0 s");
	assert_int_equal(waits.count, 2);
	expect_seconds("the sibling's wait", true, waits.waits[0], 3);
	expect_seconds("the client's wait", true, waits.waits[1], 4);

	/* 7 s of the budget of 8 s are used, by the client and its sibling together. */
	expect_in_log(wait_for_retry_logged(client, 3, 1.5, false, RS_ERR_UNAVAILABLE),
		      "returned 429; giving up after 2 retries: waiting 1.5 s more would exceed "
		      "the retry budget of 8 s (http.retry_budget)");
	expect_in_log(wait_for_retry_logged(client, 4, 0.5, true, RS_ERR_TEMPFAIL),
		      "returned 429; giving up after 3 retries (http.max_retries)");
	assert_int_equal(waits.count, 2);
	assert_int_equal(http_client_stats(client).retries, 1);
	assert_int_equal(http_client_stats(sibling).retries, 1);
	http_client_free(sibling);
	http_client_free(client);
}

/* Without a requested wait, the wait is backoff with full jitter: at most 2^(retry - 1) s. */
static void wait_for_retry_backs_off(void **state)
{
	struct http_options options = { 5, 3, 100, 60, NULL, NULL, 0 };
	struct recorded_waits waits = { { 0 }, 0 };
	struct http_client *client = NULL;

	(void)state;
	assert_int_equal(http_client_new(&options, &client), RS_OK);
	http_client_set_sleep(client, record_wait, &waits);
	for (long retry = 1; retry <= 3; retry++)
		free(wait_for_retry_logged(client, retry, 0, false, RS_OK));
	http_client_free(client);

	assert_int_equal(waits.count, 3);
	for (size_t i = 0; i < 3; i++) {
		if (waits.waits[i] < HTTP_MIN_WAIT || waits.waits[i] > ldexp(1.0, (int)i))
			fail_msg("wait %zu is %.3f s, expected %.2f to %.0f s", i, waits.waits[i],
				 HTTP_MIN_WAIT, ldexp(1.0, (int)i));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(link_next_table),
		cmocka_unit_test(link_next_long_values),
		cmocka_unit_test(parse_date_table),
		cmocka_unit_test(parse_date_hostile),
		cmocka_unit_test(retry_after_table),
		cmocka_unit_test(retry_after_long_values),
		cmocka_unit_test(rate_limit_reset_table),
		cmocka_unit_test(rate_limit_reset_long_values),
		cmocka_unit_test(url_allowed_table),
		cmocka_unit_test(same_origin_table),
		cmocka_unit_test(retry_wait_table),
		cmocka_unit_test(pace_wait_table),
		cmocka_unit_test(response_header_lookup),
		cmocka_unit_test(get_returns_body_and_headers),
		cmocka_unit_test(get_start_then_finish),
		cmocka_unit_test(get_retries_503_then_succeeds),
		cmocka_unit_test(get_retry_renews_credentials),
		cmocka_unit_test(get_gives_up_on_persistent_429),
		cmocka_unit_test(get_stops_at_retry_budget),
		cmocka_unit_test(get_retries_truncated_body),
		cmocka_unit_test(get_unreachable_server),
		cmocka_unit_test(get_caps_body_size),
		cmocka_unit_test(get_paces_when_rate_limit_low),
		cmocka_unit_test(pace_to_reset_ignores_budget),
		cmocka_unit_test(get_rejects_disallowed_url),
		cmocka_unit_test(wait_for_retry_policy),
		cmocka_unit_test(wait_for_retry_backs_off),
	};

	/* The scripted server is on 127.0.0.1: keep every request off any proxy. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
