/*
 * error.h - the one error type of rostersync and its mapping to exit statuses.
 *
 * Every module returns an enum rs_err.  Only main() turns it into an exit
 * status, through err_exit_status(), so the statuses below stay the single
 * contract that cron jobs and systemd units script against (sysexits.h).
 */
#ifndef ROSTERSYNC_ERROR_H
#define ROSTERSYNC_ERROR_H

enum rs_err {
	RS_OK = 0,
	RS_ERR_USAGE,       /* bad command line: 64 */
	RS_ERR_THRESHOLD,   /* deletion threshold stopped the run: 65 */
	RS_ERR_UNAVAILABLE, /* IdP unreachable or failing after retries: 69 */
	RS_ERR_INTERNAL,    /* bug or out of memory: 70 */
	RS_ERR_IO,          /* local file or database failure: 74 */
	RS_ERR_TEMPFAIL,    /* rate limit not cleared, lock held: 75 */
	RS_ERR_PROTOCOL,    /* IdP answer not understood: 76 */
	RS_ERR_PERMISSION,  /* credentials rejected, or roster managed: 77 */
	RS_ERR_CONFIG,      /* invalid configuration: 78 */
};

/* Returns a short lower-case name such as "config" for logs and JSON. */
const char *err_name(enum rs_err err);

/* Returns the sysexits.h status for err (0 for RS_OK). */
int err_exit_status(enum rs_err err);

#endif
