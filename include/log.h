/*
 * log.h - logging to stderr.
 *
 * Three formats: readable text, text with "<N>" syslog priority prefixes
 * when stderr is the journal (JOURNAL_STREAM names stderr's device and
 * inode), and one JSON object per line.  Every line carries the tenant and
 * the run id once they are set.  The level is tested before any formatting.
 * Callers never pass secrets; struct secret (secret.h) has no printable form.
 */
#ifndef ROSTERSYNC_LOG_H
#define ROSTERSYNC_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* Sets level and format; starts at LOG_INFO and text before this is called. */
void log_configure(enum log_level level, enum log_format format);

/* Copies tenant and run id into every later line; NULL clears them. */
void log_set_tenant(const char *tenant);
void log_set_run_id(const char *run_id);

bool log_enabled(enum log_level level);

/* Writes one line at level; a trailing newline in fmt is not needed. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Writes one summary line for each format string whose repeats were only
 * counted, then starts counting afresh.  log_set_run_id() calls it, and so
 * does exit().
 */
void log_flush_repeats(void);

/*
 * Registers the len bytes at value as a secret that no log line may show:
 * log_msg() and log_line_add_excerpt() (logline.h) write "[redacted]" in
 * place of every copy.  A server may echo a credential in an error body,
 * and rostersync quotes error bodies.  Only the pointer is kept, so the
 * caller calls log_forget_secret() before it wipes or frees value.  Values
 * shorter than LOG_SECRET_MIN bytes are not registered.
 */
#define LOG_SECRET_MIN 8
void log_add_secret(const char *value, size_t len);
void log_forget_secret(const char *value);

/*
 * Returns the length of the registered secret that text (of len bytes)
 * starts with, or 0 when it starts with none.  The secret may be percent-
 * encoded or JSON-escaped in text, as in an echoed request body.  Text shaped like a JWT
 * (base64url from "eyJ" on) counts as a secret too: client assertions,
 * DPoP proofs and JWT access tokens that a server echoes in an error body.
 * before is the character in front of text ('\0' at the start), so that a
 * JWT is found only where a word begins, not inside an address.
 */
size_t log_secret_at(const char *text, size_t len, char before);

/* The maximum length in bytes of the message log_first_error() keeps. */
#define LOG_FIRST_ERROR_MAX 400

/*
 * The first error message logged since log_set_run_id() (control bytes as
 * spaces, cut to LOG_FIRST_ERROR_MAX bytes), or NULL when none was.  The
 * run record keeps it, so `status` can show why a run failed.
 */
const char *log_first_error(void);

/* Parses "error", "warn", "info", "debug"; returns false for anything else. */
bool log_level_parse(const char *text, enum log_level *out);
const char *log_level_name(enum log_level level);

#endif
