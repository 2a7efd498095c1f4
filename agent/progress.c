/*
 * progress.c - the updating read progress line on a terminal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* Shortest time between two redraws, in nanoseconds (100 ms). */
#define PROGRESS_INTERVAL_NS 100000000LL

/* "\r", then ANSI "erase from the cursor to the end of the line". */
#define ERASE_LINE "\r\033[K"

struct progress_state {
	bool active;
	bool shown;
	long requests;
	long users;
	long long last_draw_ns;
	char source[64];
};

static struct progress_state progress;

static long long monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void write_text(const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, text, len);

		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

static void draw(void)
{
	long long now = monotonic_ns();
	char line[160];
	int len;

	if (progress.shown && now - progress.last_draw_ns < PROGRESS_INTERVAL_NS)
		return;

	len = snprintf(line, sizeof(line), ERASE_LINE "reading %s: %ld %s, %ld %s",
		       progress.source, progress.requests,
		       progress.requests == 1 ? "request" : "requests", progress.users,
		       progress.users == 1 ? "user" : "users");
	if (len <= 0)
		return;
	write_text(line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	progress.shown = true;
	progress.last_draw_ns = now;
}

void progress_begin(const char *source)
{
	memset(&progress, 0, sizeof(progress));
	if (!isatty(STDERR_FILENO))
		return;
	snprintf(progress.source, sizeof(progress.source), "%s", source ? source : "the IdP");
	progress.active = true;
}

void progress_request(void)
{
	if (!progress.active)
		return;
	progress.requests++;
	draw();
}

void progress_user(void)
{
	if (!progress.active)
		return;
	progress.users++;
	draw();
}

void progress_clear(void)
{
	if (!progress.shown)
		return;
	write_text(ERASE_LINE, strlen(ERASE_LINE));
	progress.shown = false;
}

void progress_end(void)
{
	progress_clear();
	progress.active = false;
}
