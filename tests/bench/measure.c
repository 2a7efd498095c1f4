/*
 * measure.c - runs one command and writes what it cost: wall time, user
 * and system CPU time, and peak resident set size, as wait4(2) reports
 * them for that child alone.
 *
 *   measure OUT -- COMMAND [ARG...]
 *
 * OUT receives one line:
 *
 *   wall_s=2.871 user_s=1.810 sys_s=0.300 max_rss_kb=160404 status=0
 *
 * The command's stdin, stdout and stderr are this program's.  measure
 * exits with the command's exit status, or 128 + the signal that ended it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds_of(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double elapsed(const struct timespec *start, const struct timespec *end)
{
	return (double)(end->tv_sec - start->tv_sec) + (double)(end->tv_nsec - start->tv_nsec) / 1e9;
}

static int exit_status_of(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 255;
}

int main(int argc, char **argv)
{
	struct timespec start;
	struct timespec end;
	struct rusage usage;
	int wait_status;
	pid_t child;
	FILE *out;
	int status;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: measure OUT -- COMMAND [ARG...]\n");
		return 64;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "measure: fork failed: %s\n", strerror(errno));
		return 71;
	}
	if (child == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "measure: cannot run %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}

	while (wait4(child, &wait_status, 0, &usage) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "measure: wait4 failed: %s\n", strerror(errno));
			return 71;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	status = exit_status_of(wait_status);

	out = fopen(argv[1], "w");
	if (out == NULL) {
		fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
		return 73;
	}
	fprintf(out, "wall_s=%.3f user_s=%.3f sys_s=%.3f max_rss_kb=%ld status=%d\n",
		elapsed(&start, &end), seconds_of(&usage.ru_utime), seconds_of(&usage.ru_stime),
		usage.ru_maxrss, status);
	if (fclose(out) != 0) {
		fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
		return 73;
	}
	return status;
}
