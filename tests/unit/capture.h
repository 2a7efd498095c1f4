/*
 * capture.h - captures what the code under a unit test logs on stderr.
 *
 * capture_start() sends stderr to a temporary file.  capture_stop() restores
 * it and returns what was written, so a test can check a log line.
 */
#ifndef ROSTERSYNC_CAPTURE_H
#define ROSTERSYNC_CAPTURE_H

#include <stdio.h>

struct capture {
	int saved_fd;
	FILE *file;
};

void capture_start(struct capture *capture);

/* Restores stderr and returns the captured text, which the caller frees. */
char *capture_stop(struct capture *capture);

/* Fails the test, printing logged, when logged does not contain expected. */
void expect_logged(const char *logged, const char *expected);

#endif
