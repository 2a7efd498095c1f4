/*
 * main.c - process start and the one place that turns a result into an
 * exit status.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "error.h"
#include "log.h"
#include "stop.h"

/* True when stdout is a pipe whose reader has closed it. */
static bool reader_gone(void)
{
	struct pollfd out = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&out, 1, 0) == 1 && (out.revents & POLLERR) != 0;
}

/*
 * Fails a command whose output did not reach stdout (a full disk, a closed
 * descriptor), so that a script does not take an empty file for a result.
 * A reader that went away (EPIPE, as with "| head") is not an error.
 */
static enum rs_err check_stdout(enum rs_err err)
{
	int flushed = fflush(stdout);
	int error = errno;

	if (flushed == 0 && !ferror(stdout))
		return err;
	if ((flushed != 0 && error == EPIPE) || reader_gone())
		return err;
	log_msg(LOG_ERROR, "writing the output to stdout failed: %s",
		flushed != 0 ? strerror(error) : "a write error occurred earlier");
	return err == RS_OK ? RS_ERR_IO : err;
}

int main(int argc, char **argv)
{
	enum rs_err err;

	/*
	 * libcurl's OpenSSL backend reads SSLKEYLOGFILE at global init and
	 * would write TLS session secrets there; drop it before that.
	 */
	if (getenv("SSLKEYLOGFILE")) {
		log_msg(LOG_WARN, "ignoring SSLKEYLOGFILE so that TLS session keys are not written "
			"to disk");
		unsetenv("SSLKEYLOGFILE");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_exit_status(RS_ERR_INTERNAL);

	stop_install();
	err = check_stdout(cli_main(argc, argv));
	curl_global_cleanup();
	stop_reraise();
	return err_exit_status(err);
}
