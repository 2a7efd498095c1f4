/*
 * logline.h - a bounded builder for one log line, such as the error line
 * that names an IdP's status, error code, body excerpt and request ids.
 * Text past the end is dropped, never written out of bounds.
 */
#ifndef ROSTERSYNC_LOGLINE_H
#define ROSTERSYNC_LOGLINE_H

#include <stddef.h>

/* Bytes of a response body that log_line_add_excerpt() quotes at most. */
#define LOG_LINE_EXCERPT_LEN 200

struct log_line {
	char text[2048];        /* always NUL-terminated */
	size_t len;
};

/* Appends printf-style text; what does not fit is cut off. */
void log_line_add(struct log_line *line, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Appends ': "<excerpt>"' with up to LOG_LINE_EXCERPT_LEN bytes of body,
 * followed by "..." when the body is longer.  Line breaks and tabs become
 * spaces and other bytes outside printable ASCII become '?', so a body can
 * neither break the log line nor inject control sequences.  A registered
 * secret (log_add_secret()) in the body becomes "[redacted]".
 */
void log_line_add_excerpt(struct log_line *line, const char *body, size_t len);

#endif
