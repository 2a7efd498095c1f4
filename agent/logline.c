/*
 * logline.c - a bounded builder for one log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "logline.h"

#define REDACTED "[redacted]"

void log_line_add(struct log_line *line, const char *format, ...)
{
	va_list args;
	int written;

	if (line->len >= sizeof(line->text) - 1)
		return;

	va_start(args, format);
	written = vsnprintf(line->text + line->len, sizeof(line->text) - line->len, format, args);
	va_end(args);

	if (written > 0)
		line->len += (size_t)written;
	if (line->len >= sizeof(line->text))
		line->len = sizeof(line->text) - 1;
}

void log_line_add_excerpt(struct log_line *line, const char *body, size_t len)
{
	/* A redacted secret is at least LOG_SECRET_MIN bytes, so twice the length is enough. */
	char excerpt[2 * LOG_LINE_EXCERPT_LEN + sizeof(REDACTED)];
	size_t n = len < LOG_LINE_EXCERPT_LEN ? len : LOG_LINE_EXCERPT_LEN;
	size_t out = 0;
	size_t i = 0;

	while (i < n && out + sizeof(REDACTED) < sizeof(excerpt)) {
		unsigned char c = (unsigned char)body[i];
		size_t secret = log_secret_at(body + i, len - i, i > 0 ? body[i - 1] : '\0');

		if (secret > 0) {
			memcpy(excerpt + out, REDACTED, sizeof(REDACTED) - 1);
			out += sizeof(REDACTED) - 1;
			i += secret;
			continue;
		}
		if (c == '\n' || c == '\r' || c == '\t')
			excerpt[out++] = ' ';
		else
			excerpt[out++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		i++;
	}
	excerpt[out] = '\0';
	log_line_add(line, ": \"%s\"%s", excerpt, len > i ? "..." : "");
}
