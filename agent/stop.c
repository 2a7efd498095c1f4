/*
 * stop.c - records SIGTERM, SIGINT and SIGHUP so that a run can end cleanly.
 */
#include <signal.h>
#include <string.h>

#include "stop.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
	stop_requested = signal_number;
}

void stop_install(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	/* No SA_RESTART: a sleep or poll returns early, so the stop is seen at once. */
	action.sa_flags = 0;
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGHUP, &action, NULL);

	/*
	 * A file size limit (ulimit -f) would kill the process in the middle
	 * of a roster write, with no message.  Ignored, the write fails with
	 * EFBIG, SQLite rolls the transaction back and the run reports it.
	 */
	signal(SIGXFSZ, SIG_IGN);

	/*
	 * A reader of the output that went away ("2>&1 | head -1") would kill
	 * a sync before it records its run.  Ignored, writes fail with EPIPE,
	 * and the log and the output are lost but the run goes on.
	 */
	signal(SIGPIPE, SIG_IGN);
}

int stop_signal(void)
{
	return stop_requested;
}

const char *stop_signal_name(void)
{
	switch (stop_requested) {
	case SIGINT:
		return "SIGINT";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "SIGTERM";
	}
}

void stop_reraise(void)
{
	int signal_number = stop_requested;

	if (signal_number == 0)
		return;
	signal(signal_number, SIG_DFL);
	raise(signal_number);
}
