/*
 * fuzz_retry_after.c - http_parse_retry_after() and http_parse_date() on
 * arbitrary values.  A parsed wait must be a number in [0, 1e12].
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_strndup(data, size);
	double seconds;
	time_t date;

	if (!value)
		abort();
	if (http_parse_retry_after(value, 1700000000, &seconds) &&
	    (isnan(seconds) || seconds < 0 || seconds > 1e12))
		abort();
	(void)http_parse_date(value, &date);
	free(value);
	return 0;
}
