/*
 * fuzz_link_next.c - http_link_parse_next() on arbitrary Link values.
 *
 * The input is split at '\n' into header values.  A returned link must be
 * non-empty and free of white space and control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	const char **values = calloc(size + 1, sizeof(*values));
	size_t count = 0;
	char *next = NULL;

	if (!text || !values)
		abort();
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		values[count++] = line;

	if (http_link_parse_next(values, count, &next) && next) {
		if (next[0] == '\0')
			abort();
		for (const char *p = next; *p; p++) {
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				abort();
		}
	}

	free(next);
	free(values);
	free(text);
	return 0;
}
