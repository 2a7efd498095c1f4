/*
 * logline.c - a bounded builder for one log line.
 */
#include <stdarg.h>
#include <stdio.h>

#include "logline.h"

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
	char excerpt[LOG_LINE_EXCERPT_LEN + 1];
	size_t n = len < LOG_LINE_EXCERPT_LEN ? len : LOG_LINE_EXCERPT_LEN;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '\n' || c == '\r' || c == '\t')
			excerpt[i] = ' ';
		else
			excerpt[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	excerpt[n] = '\0';
	log_line_add(line, ": \"%s\"%s", excerpt, len > n ? "..." : "");
}
