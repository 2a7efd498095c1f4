/*
 * capture.c - stderr capture for unit tests; see capture.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "capture.h"

void capture_start(struct capture *capture)
{
	fflush(stderr);
	capture->file = tmpfile();
	assert_non_null(capture->file);
	capture->saved_fd = dup(STDERR_FILENO);
	assert_true(capture->saved_fd >= 0);
	assert_true(dup2(fileno(capture->file), STDERR_FILENO) >= 0);
}

char *capture_stop(struct capture *capture)
{
	long size;
	char *text;

	fflush(stderr);
	assert_true(dup2(capture->saved_fd, STDERR_FILENO) >= 0);
	close(capture->saved_fd);
	size = ftell(capture->file);
	assert_true(size >= 0);

	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	rewind(capture->file);
	assert_int_equal(fread(text, 1, (size_t)size, capture->file), (size_t)size);
	fclose(capture->file);
	return text;
}

void expect_logged(const char *logged, const char *expected)
{
	if (!strstr(logged, expected))
		fail_msg("log has no \"%s\":\n%s", expected, logged);
}
