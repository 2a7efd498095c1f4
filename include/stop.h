/*
 * stop.h - a request to stop, from SIGTERM (systemctl stop, a start
 * timeout), SIGINT (Ctrl-C) or SIGHUP (the terminal of a run by hand was
 * closed).
 *
 * The handler only records the signal.  The HTTP client checks it while it
 * waits and ends the request under way; a sync checks it before it applies
 * the plan.  The run then fails like any incomplete read: the roster is
 * unchanged, and the run record and the metrics record why.  A transaction
 * already under way is finished first, so the roster is never left in
 * between.  main() then ends the process by the same signal.
 */
#ifndef ROSTERSYNC_STOP_H
#define ROSTERSYNC_STOP_H

/* Installs the handlers for SIGTERM, SIGINT and SIGHUP, and ignores SIGXFSZ and SIGPIPE. */
void stop_install(void);

/* The signal that requested the stop, or 0. */
int stop_signal(void);

/* "SIGTERM", "SIGINT" or "SIGHUP": the name of the signal that requested the stop. */
const char *stop_signal_name(void);

/* Ends the process by the signal that requested the stop; returns when none did. */
void stop_reraise(void);

#endif
