/*
 * http_headers.c - pure parsers for HTTP response headers and URLs, and
 * the retry and pacing waits computed from them.
 *
 * Nothing here does I/O or keeps state, so every function is safe on any
 * input and is driven directly by table tests and fuzz targets.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"

/* Integers in rate-limit headers longer than this are rejected. */
#define MAX_INTEGER_DIGITS 18

/* Delta seconds saturate here: a longer wait is capped by the caller anyway. */
#define MAX_DELTA_SECONDS 1e12

struct span {
	const char *start;
	const char *end;
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct span span_trim(const char *start, const char *end)
{
	struct span span = { start, end };

	while (span.start < span.end && is_ows(*span.start))
		span.start++;
	while (span.end > span.start && is_ows(span.end[-1]))
		span.end--;
	return span;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 tchar: the characters a token may contain. */
static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

const char *http_response_header(const struct http_response *response,
				 const char *name, size_t index)
{
	if (!response || !name)
		return NULL;

	for (size_t i = 0; i < response->header_count; i++) {
		if (strcasecmp(response->headers[i].name, name) != 0)
			continue;
		if (index == 0)
			return response->headers[i].value;
		index--;
	}
	return NULL;
}

const char *http_response_request_id(const struct http_response *response)
{
	const char *id = http_response_header(response, "X-Okta-Request-Id", 0);

	if (!id)
		id = http_response_header(response, "request-id", 0);
	return id;
}

/* Collects the values of every name header into a new array (NULL if none). */
static const char **header_values(const struct http_response *response, const char *name,
				  size_t *count)
{
	const char **values;

	*count = 0;
	if (!response || response->header_count == 0)
		return NULL;

	values = calloc(response->header_count, sizeof(*values));
	if (!values)
		return NULL;

	for (size_t i = 0; i < response->header_count; i++) {
		if (strcasecmp(response->headers[i].name, name) == 0)
			values[(*count)++] = response->headers[i].value;
	}
	return values;
}

/* ---- Link (RFC 8288) ---- */

struct link_scan {
	const char *p;
	const char *end;
};

static void link_skip_ows(struct link_scan *scan)
{
	while (scan->p < scan->end && is_ows(*scan->p))
		scan->p++;
}

static bool link_at(const struct link_scan *scan, char c)
{
	return scan->p < scan->end && *scan->p == c;
}

/* Reads a token or a quoted-string into a new string; NULL when malformed. */
static char *link_take_value(struct link_scan *scan)
{
	const char *start = scan->p;
	char *value;
	size_t len = 0;

	if (!link_at(scan, '"')) {
		while (scan->p < scan->end && is_tchar((unsigned char)*scan->p))
			scan->p++;
		if (scan->p == start)
			return NULL;
		return strndup(start, (size_t)(scan->p - start));
	}

	value = malloc((size_t)(scan->end - start));
	if (!value)
		return NULL;
	scan->p++;
	while (scan->p < scan->end && *scan->p != '"') {
		if (*scan->p == '\\' && scan->p + 1 < scan->end)
			scan->p++;
		value[len++] = *scan->p++;
	}
	if (!link_at(scan, '"')) {
		free(value);
		return NULL;
	}
	scan->p++;
	value[len] = '\0';
	return value;
}

/* True when the space-separated relation types in rel include "next". */
static bool rel_has_next(const char *rel)
{
	const char *p = rel;

	while (*p) {
		size_t len;

		while (*p && isspace((unsigned char)*p))
			p++;
		len = strcspn(p, " \t\r\n\f\v");
		if (len == 4 && strncasecmp(p, "next", 4) == 0)
			return true;
		p += len;
	}
	return false;
}

/*
 * Parses the parameters after one "<uri>" up to the next ',' or the end.
 * Only the first rel parameter counts (RFC 8288 section 3.3).
 */
static bool link_parse_params(struct link_scan *scan, bool *is_next)
{
	bool seen_rel = false;

	*is_next = false;
	for (;;) {
		const char *name;
		size_t name_len;
		char *value = NULL;

		link_skip_ows(scan);
		if (scan->p == scan->end || link_at(scan, ','))
			return true;
		if (!link_at(scan, ';'))
			return false;
		scan->p++;
		link_skip_ows(scan);
		if (scan->p == scan->end || link_at(scan, ',') || link_at(scan, ';'))
			continue;

		name = scan->p;
		while (scan->p < scan->end && is_tchar((unsigned char)*scan->p))
			scan->p++;
		name_len = (size_t)(scan->p - name);
		if (name_len == 0)
			return false;

		link_skip_ows(scan);
		if (link_at(scan, '=')) {
			scan->p++;
			link_skip_ows(scan);
			value = link_take_value(scan);
			if (!value)
				return false;
		}

		if (name_len == 3 && strncasecmp(name, "rel", 3) == 0 && !seen_rel) {
			seen_rel = true;
			*is_next = value && rel_has_next(value);
		}
		free(value);
	}
}

static bool link_uri_valid(const char *start, const char *end)
{
	if (start == end)
		return false;
	for (const char *p = start; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c == 0x7f || c == '<')
			return false;
	}
	return true;
}

/* Records uri as the next link; false when a different one was found before. */
static bool link_record_next(const char *start, const char *end, char **next)
{
	size_t len = (size_t)(end - start);

	if (*next)
		return strlen(*next) == len && memcmp(*next, start, len) == 0;

	*next = strndup(start, len);
	return *next != NULL;
}

/* Parses one header value, which may hold a comma-separated list of links. */
static bool link_parse_value(const char *value, char **next)
{
	struct link_scan scan = { value, value + strlen(value) };

	for (;;) {
		const char *uri;
		const char *uri_end;
		bool is_next;

		while (scan.p < scan.end && (is_ows(*scan.p) || *scan.p == ','))
			scan.p++;
		if (scan.p == scan.end)
			return true;
		if (!link_at(&scan, '<'))
			return false;

		uri = scan.p + 1;
		uri_end = memchr(uri, '>', (size_t)(scan.end - uri));
		if (!uri_end || !link_uri_valid(uri, uri_end))
			return false;
		scan.p = uri_end + 1;

		if (!link_parse_params(&scan, &is_next))
			return false;
		if (is_next && !link_record_next(uri, uri_end, next))
			return false;
	}
}

bool http_link_parse_next(const char *const *values, size_t count, char **next)
{
	*next = NULL;
	if (!values)
		return true;

	for (size_t i = 0; i < count; i++) {
		if (values[i] && !link_parse_value(values[i], next)) {
			free(*next);
			*next = NULL;
			return false;
		}
	}
	return true;
}

char *http_link_next(const char *const *values, size_t count)
{
	char *next;

	if (!http_link_parse_next(values, count, &next))
		return NULL;
	return next;
}

/* ---- HTTP dates (RFC 9110 section 5.6.7) ---- */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const char *const day_names[7] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};

static const char *const day_names_long[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

struct date_fields {
	int year;
	int month;  /* 0..11 */
	int day;
	int hour;
	int minute;
	int second;
};

static bool take_literal(const char **p, const char *literal)
{
	size_t len = strlen(literal);

	if (strncmp(*p, literal, len) != 0)
		return false;
	*p += len;
	return true;
}

static bool take_digits(const char **p, int count, int *out)
{
	int value = 0;

	for (int i = 0; i < count; i++) {
		if (!is_digit((*p)[i]))
			return false;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += count;
	*out = value;
	return true;
}

/* Matches one of names (case-insensitively) followed by a non-letter. */
static bool take_name(const char **p, const char *const *names, int count, int *index)
{
	for (int i = 0; i < count; i++) {
		size_t len = strlen(names[i]);

		if (strncasecmp(*p, names[i], len) == 0 && !isalpha((unsigned char)(*p)[len])) {
			*p += len;
			*index = i;
			return true;
		}
	}
	return false;
}

static bool take_time(const char **p, struct date_fields *date)
{
	return take_digits(p, 2, &date->hour) && take_literal(p, ":") &&
	       take_digits(p, 2, &date->minute) && take_literal(p, ":") &&
	       take_digits(p, 2, &date->second);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_imf_fixdate(const char *p, struct date_fields *date)
{
	int weekday;

	return take_name(&p, day_names, 7, &weekday) && take_literal(&p, ", ") &&
	       take_digits(&p, 2, &date->day) && take_literal(&p, " ") &&
	       take_name(&p, month_names, 12, &date->month) && take_literal(&p, " ") &&
	       take_digits(&p, 4, &date->year) && take_literal(&p, " ") &&
	       take_time(&p, date) && take_literal(&p, " GMT") && *p == '\0';
}

/* "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years below 70 are 20xx. */
static bool parse_rfc850_date(const char *p, struct date_fields *date)
{
	int weekday;

	if (!(take_name(&p, day_names_long, 7, &weekday) && take_literal(&p, ", ") &&
	      take_digits(&p, 2, &date->day) && take_literal(&p, "-") &&
	      take_name(&p, month_names, 12, &date->month) && take_literal(&p, "-") &&
	      take_digits(&p, 2, &date->year) && take_literal(&p, " ") &&
	      take_time(&p, date) && take_literal(&p, " GMT") && *p == '\0'))
		return false;

	date->year += date->year < 70 ? 2000 : 1900;
	return true;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime_date(const char *p, struct date_fields *date)
{
	int weekday;

	if (!(take_name(&p, day_names, 7, &weekday) && take_literal(&p, " ") &&
	      take_name(&p, month_names, 12, &date->month) && take_literal(&p, " ")))
		return false;

	if (*p == ' ') {
		p++;
		if (!take_digits(&p, 1, &date->day))
			return false;
	} else if (!take_digits(&p, 2, &date->day)) {
		return false;
	}

	return take_literal(&p, " ") && take_time(&p, date) && take_literal(&p, " ") &&
	       take_digits(&p, 4, &date->year) && *p == '\0';
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 1 && leap ? 29 : days[month];
}

static bool date_fields_valid(const struct date_fields *date)
{
	return date->day >= 1 && date->day <= days_in_month(date->year, date->month) &&
	       date->hour <= 23 && date->minute <= 59 && date->second <= 60;
}

bool http_parse_date(const char *value, time_t *out)
{
	struct date_fields date = { 0 };
	struct span span;
	struct tm tm = { 0 };
	char text[64];
	size_t len;

	if (!value)
		return false;
	span = span_trim(value, value + strlen(value));
	len = (size_t)(span.end - span.start);
	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, span.start, len);
	text[len] = '\0';

	if (!parse_imf_fixdate(text, &date) && !parse_rfc850_date(text, &date) &&
	    !parse_asctime_date(text, &date))
		return false;
	if (!date_fields_valid(&date))
		return false;

	tm.tm_year = date.year - 1900;
	tm.tm_mon = date.month;
	tm.tm_mday = date.day;
	tm.tm_hour = date.hour;
	tm.tm_min = date.minute;
	tm.tm_sec = date.second;
	*out = timegm(&tm);
	return true;
}

/* ---- Retry-After and rate-limit headers ---- */

/* Parses "120" or "1.5" exactly; no sign, exponent or leading dot. */
static bool parse_delta_seconds(struct span span, double *out)
{
	const char *p = span.start;
	double value = 0;

	if (p == span.end || !is_digit(*p))
		return false;
	while (p < span.end && is_digit(*p)) {
		if (value < MAX_DELTA_SECONDS)
			value = value * 10 + (*p - '0');
		p++;
	}

	if (p < span.end && *p == '.') {
		double scale = 0.1;

		p++;
		if (p == span.end || !is_digit(*p))
			return false;
		while (p < span.end && is_digit(*p)) {
			value += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}

	if (p != span.end)
		return false;
	*out = value < MAX_DELTA_SECONDS ? value : MAX_DELTA_SECONDS;
	return true;
}

bool http_parse_retry_after(const char *value, time_t now, double *seconds)
{
	struct span span;
	time_t date;

	if (!value)
		return false;
	span = span_trim(value, value + strlen(value));

	if (parse_delta_seconds(span, seconds))
		return true;
	if (!http_parse_date(value, &date))
		return false;

	*seconds = date > now ? difftime(date, now) : 0;
	return true;
}

/* Parses a plain non-negative decimal integer of at most 18 digits. */
static bool parse_integer(struct span span, long long *out)
{
	long long value = 0;
	size_t len = (size_t)(span.end - span.start);

	if (len == 0 || len > MAX_INTEGER_DIGITS)
		return false;
	for (const char *p = span.start; p < span.end; p++) {
		if (!is_digit(*p))
			return false;
		value = value * 10 + (*p - '0');
	}
	*out = value;
	return true;
}

/*
 * Finds the smallest valid integer in values, each possibly a comma-joined
 * list.  Invalid items are skipped; returns false when none is valid.
 */
static bool parse_integer_list_min(const char *const *values, size_t count, long long *min)
{
	bool found = false;

	for (size_t i = 0; values && i < count; i++) {
		const char *item = values[i];

		while (item) {
			const char *comma = strchr(item, ',');
			const char *end = comma ? comma : item + strlen(item);
			long long number;

			if (parse_integer(span_trim(item, end), &number) && (!found || number < *min)) {
				*min = number;
				found = true;
			}
			item = comma ? comma + 1 : NULL;
		}
	}
	return found;
}

bool http_parse_rate_limit_reset(const char *const *values, size_t count,
				 const char *date, time_t now, double *seconds)
{
	long long reset;
	time_t base;
	double wait;

	if (!parse_integer_list_min(values, count, &reset))
		return false;
	if (!date || !http_parse_date(date, &base))
		base = now;

	/* Date has whole seconds, so one more second makes sure the window reset. */
	wait = (double)reset - (double)base + 1;
	*seconds = wait >= 1 ? wait : 1;
	return true;
}

/* Computes the rate-limit reset wait of response; false without valid headers. */
static bool response_reset_wait(const struct http_response *response, time_t now,
				double *seconds)
{
	size_t count;
	const char **values = header_values(response, "X-Rate-Limit-Reset", &count);
	bool valid = http_parse_rate_limit_reset(values, count,
						 http_response_header(response, "Date", 0),
						 now, seconds);

	free(values);
	return valid;
}

static bool response_header_min(const struct http_response *response, const char *name,
				long long *min)
{
	size_t count;
	const char **values = header_values(response, name, &count);
	bool valid = parse_integer_list_min(values, count, min);

	free(values);
	return valid;
}

static bool response_retry_after(const struct http_response *response, time_t now,
				 double *seconds)
{
	const char *value;

	for (size_t i = 0; (value = http_response_header(response, "Retry-After", i)); i++) {
		if (http_parse_retry_after(value, now, seconds))
			return true;
	}
	return false;
}

static double clamp_wait(double wait, double max_wait)
{
	if (isnan(wait) || wait < HTTP_MIN_WAIT)
		return HTTP_MIN_WAIT;
	return wait < max_wait ? wait : max_wait;
}

double http_retry_wait(const struct http_response *response, long retry, double max_wait,
		       time_t now, double jitter)
{
	double wait;
	double ceiling;

	if (isnan(max_wait) || max_wait < HTTP_MIN_WAIT)
		max_wait = HTTP_MIN_WAIT;

	if (response && response_retry_after(response, now, &wait))
		return clamp_wait(wait, max_wait);
	if (response && response->status == 429 && response_reset_wait(response, now, &wait))
		return clamp_wait(wait, max_wait);

	if (isnan(jitter) || jitter < 0 || jitter >= 1)
		jitter = 0;
	if (retry < 1)
		retry = 1;
	ceiling = ldexp(1.0, (int)(retry > 63 ? 62 : retry - 1));
	if (ceiling > max_wait)
		ceiling = max_wait;
	return clamp_wait(jitter * ceiling, max_wait);
}

double http_pace_wait(const struct http_response *response, time_t now)
{
	long long remaining;
	long long limit;
	bool low;
	double wait;

	if (!response_header_min(response, "X-Rate-Limit-Remaining", &remaining))
		return 0;

	low = remaining <= 2;
	if (!low && response_header_min(response, "X-Rate-Limit-Limit", &limit) && limit > 0)
		low = remaining * 10 <= limit;
	if (!low)
		return 0;

	if (!response_reset_wait(response, now, &wait))
		return 0;
	return wait;
}

/* ---- URLs ---- */

static CURLU *url_parse(const char *url)
{
	CURLU *handle;

	if (!url)
		return NULL;
	handle = curl_url();
	if (!handle)
		return NULL;
	if (curl_url_set(handle, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(handle);
		return NULL;
	}
	return handle;
}

static char *url_part(CURLU *handle, CURLUPart part, unsigned int flags)
{
	char *value = NULL;

	if (curl_url_get(handle, part, &value, flags) != CURLUE_OK)
		return NULL;
	return value;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	char inner[64];
	size_t len = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;

	if (len < 3 || len - 2 >= sizeof(inner) || host[0] != '[' || host[len - 1] != ']')
		return false;
	memcpy(inner, host + 1, len - 2);
	inner[len - 2] = '\0';
	return inet_pton(AF_INET6, inner, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool http_url_allowed(const char *url)
{
	CURLU *handle = url_parse(url);
	char *scheme = NULL;
	char *host = NULL;
	bool allowed = false;

	if (!handle)
		return false;
	scheme = url_part(handle, CURLUPART_SCHEME, 0);
	host = url_part(handle, CURLUPART_HOST, 0);
	if (!scheme || !host || host[0] == '\0')
		goto out;

	if (strcasecmp(scheme, "https") == 0)
		allowed = true;
	else if (strcasecmp(scheme, "http") == 0)
		allowed = host_is_loopback(host);

out:
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(handle);
	return allowed;
}

struct origin {
	char *scheme;
	char *host;
	char *port;
};

static bool origin_parse(const char *url, struct origin *origin)
{
	CURLU *handle = url_parse(url);

	memset(origin, 0, sizeof(*origin));
	if (!handle)
		return false;
	origin->scheme = url_part(handle, CURLUPART_SCHEME, 0);
	origin->host = url_part(handle, CURLUPART_HOST, 0);
	origin->port = url_part(handle, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	curl_url_cleanup(handle);
	return origin->scheme && origin->host && origin->port;
}

static void origin_release(struct origin *origin)
{
	curl_free(origin->scheme);
	curl_free(origin->host);
	curl_free(origin->port);
}

bool http_same_origin(const char *a, const char *b)
{
	struct origin first = { 0 };
	struct origin second = { 0 };
	bool same = false;

	if (origin_parse(a, &first) && origin_parse(b, &second)) {
		same = strcasecmp(first.scheme, second.scheme) == 0 &&
		       strcasecmp(first.host, second.host) == 0 &&
		       strcmp(first.port, second.port) == 0;
	}
	origin_release(&first);
	origin_release(&second);
	return same;
}
