/*
 * metrics.h - the Prometheus textfile written after each sync run.
 *
 * node_exporter's textfile collector reads every *.prom file in its
 * directory on each scrape.  metrics_write() replaces the file atomically
 * (a temporary file in the same directory, fsync, rename), so a scrape reads
 * the previous run or this one, never half a file.  Every sample carries
 * the labels tenant and source, and every metric is a gauge because each
 * value describes the last run or the roster after it.
 */
#ifndef ROSTERSYNC_METRICS_H
#define ROSTERSYNC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "member.h"
#include "plan.h"

/* The values of one run for the textfile.  A field documented with "or -1" may be unknown. */
struct metrics_run {
	const char *tenant;
	const char *source;          /* "okta" or "graph" */
	int64_t started_at;          /* Unix seconds */
	int64_t finished_at;
	double duration_seconds;
	int64_t last_success_at;     /* newest run that exited 0; 0 when none is known */
	const char *outcome;         /* "success", "no change", "blocked", "failed" */
	int exit_status;
	long seats;                  /* team.seats of the config */
	long members[3];             /* by enum member_state, or -1 when the roster was not read */
	long users_read;             /* identities read from the IdP, or -1 */
	long operations[PLAN_OP_COUNT]; /* in the plan; applied when outcome is success */
	long skipped;                /* users the plan skipped */
	long idp_requests;
	long idp_retries;
	long long idp_bytes;
};

/*
 * Formats run as the text of a textfile: HELP and TYPE lines, then the
 * samples, ending with a newline.  Returns a malloc'ed string, or NULL
 * when memory runs out.
 */
char *metrics_format(const struct metrics_run *run);

/*
 * Reads the last success time from an earlier textfile at path, so that a
 * run that could not read the roster still reports it.  Returns 0 when the
 * file is missing or contains no such sample.
 */
int64_t metrics_read_last_success(const char *path);

/*
 * Writes the textfile at path atomically with mode 0644, whatever the
 * umask, because node_exporter reads it as another user.  Logs the path
 * and the reason on failure and returns RS_ERR_IO; the previous file is
 * then left as it was.
 */
enum rs_err metrics_write(const char *path, const struct metrics_run *run);

#endif
