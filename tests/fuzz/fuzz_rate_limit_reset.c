/*
 * fuzz_rate_limit_reset.c - http_parse_rate_limit_reset() and the waits
 * built on it.  The first input line is the Date value and the other lines
 * are X-Rate-Limit-Reset values.  Every wait must stay in its bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

static void check_response_waits(const char **values, size_t count, const char *date)
{
	struct http_header *headers = calloc(count + 2, sizeof(*headers));
	struct http_response response = { 429, NULL, 0, headers, 0 };
	double wait;

	if (!headers)
		abort();
	headers[response.header_count++] = (struct http_header){ (char *)"Date", (char *)date };
	for (size_t i = 0; i < count; i++)
		headers[response.header_count++] =
			(struct http_header){ (char *)"X-Rate-Limit-Reset", (char *)values[i] };

	wait = http_retry_wait(&response, 3, 60, 1700000000, 0.5);
	if (isnan(wait) || wait < HTTP_MIN_WAIT || wait > 60)
		abort();
	wait = http_pace_wait(&response, 1700000000);
	if (isnan(wait) || wait < 0)
		abort();
	free(headers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	const char **values = calloc(size + 1, sizeof(*values));
	const char *date = "";
	size_t count = 0;
	char *line;
	char *rest;
	double seconds;

	if (!text || !values)
		abort();
	rest = text;
	line = strsep(&rest, "\n");
	date = line ? line : "";
	while ((line = strsep(&rest, "\n")) != NULL)
		values[count++] = line;

	if (http_parse_rate_limit_reset(values, count, date, 1700000000, &seconds) &&
	    (isnan(seconds) || seconds < 1))
		abort();
	check_response_waits(values, count, date);

	free(values);
	free(text);
	return 0;
}
