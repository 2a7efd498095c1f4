/*
 * stop.c - records SIGTERM and SIGINT so that a run can end cleanly.
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
}

int stop_signal(void)
{
	return stop_requested;
}

const char *stop_signal_name(void)
{
	return stop_requested == SIGINT ? "SIGINT" : "SIGTERM";
}

void stop_reraise(void)
{
	int signal_number = stop_requested;

	if (signal_number == 0)
		return;
	signal(signal_number, SIG_DFL);
	raise(signal_number);
}
