/*
 * progress.h - one updating line on a terminal while the IdP is read.
 *
 * Between progress_begin() and progress_end(), and only when stderr is a
 * terminal, stderr shows "reading Okta: 12 requests, 5500 users" on one
 * line that is rewritten in place (carriage return, erase to end of line),
 * at most ten times a second.  The logger erases the line before it
 * writes, so log lines never mix with it.  When stderr is not a terminal
 * every function here does nothing, so cron mail and the journal never
 * see it.  The counters are for people, not for metrics.
 */
#ifndef ROSTERSYNC_PROGRESS_H
#define ROSTERSYNC_PROGRESS_H

/* Starts counting; source names the IdP on the line ("Okta"). */
void progress_begin(const char *source);

/* Counts one HTTP request sent to the IdP (http.c). */
void progress_request(void);

/* Counts one user read from the IdP (identity_set_add()). */
void progress_user(void);

/* Erases the line if it is shown; the next count draws it again. */
void progress_clear(void);

/* Erases the line and stops counting. */
void progress_end(void);

#endif
