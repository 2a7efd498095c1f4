/*
 * fuzz.h - what every libFuzzer target in this directory shares.
 */
#ifndef ROSTERSYNC_FUZZ_H
#define ROSTERSYNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copies the input into a new NUL-terminated string; NULL without memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif
