/*
 * run.h - the order of one run, from lock to run record.
 *
 *   lock -> open roster -> read the IdP completely -> plan -> safety
 *   checks -> apply in one transaction -> record the run
 *
 * The functions here return enum rs_err; main() maps it to the exit status.
 */
#ifndef ROSTERSYNC_RUN_H
#define ROSTERSYNC_RUN_H

#include <stdbool.h>
#include "config.h"
#include "error.h"
#include "roster.h"

enum run_output { RUN_OUTPUT_TABLE = 0, RUN_OUTPUT_JSON };

struct run_options {
	bool dry_run;             /* plan only; print the plan, write nothing */
	bool take_over;           /* take a released roster back */
	const char *approve_id;   /* apply this tripped plan once */
	enum run_output output;   /* how a dry run prints the plan */
};

/* `sync` and `plan`. */
enum rs_err run_sync(const struct config *config, const struct run_options *options);

/*
 * Takes the tenant lock: an exclusive flock(2) on "<roster.path>.lock",
 * waiting up to 10 seconds (then RS_ERR_TEMPFAIL).  Every command that
 * writes the roster holds it, so a manual change cannot slip in between a
 * sync's read and its apply.  The kernel drops the lock when the process
 * dies, so a killed run never blocks the next.  Close *fd to release it.
 */
enum rs_err run_lock(const struct config *config, int *fd);

/*
 * True when a command has the tenant lock now.  A run without an end time
 * while no command has the lock was killed, or the machine stopped.
 */
bool run_lock_held(const struct config *config);

/*
 * Returns the error column of a run that ended with err: its category, a
 * colon and the first error line logged, in buf; NULL for RS_OK.
 */
const char *run_error_text(enum rs_err err, char *buf, size_t size);

/*
 * Writes to buf why a sync of config would be refused on a roster whose
 * team is team, without --take-over: the roster was released, or another
 * source, org or app manages it.  Returns false when a sync may run.
 */
bool run_refusal(const struct roster_team *team, const struct config *config, char *buf,
		 size_t size);

/* Generates a run id: UTC time plus random hex, e.g. 20261204T210101Z-3f9a1c. */
void run_new_id(char *buf, size_t size);

#endif
