/*
 * main.c - process start and the one place that turns a result into an
 * exit status.
 */
#include <stdlib.h>

#include <curl/curl.h>

#include "cli.h"
#include "error.h"
#include "stop.h"

int main(int argc, char **argv)
{
	enum rs_err err;

	/*
	 * libcurl's OpenSSL backend reads SSLKEYLOGFILE at global init and
	 * would write TLS session secrets there; drop it before that.
	 */
	unsetenv("SSLKEYLOGFILE");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_exit_status(RS_ERR_INTERNAL);

	stop_install();
	err = cli_main(argc, argv);
	curl_global_cleanup();
	stop_reraise();
	return err_exit_status(err);
}
