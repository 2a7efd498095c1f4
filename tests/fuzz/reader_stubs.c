/*
 * reader_stubs.c - stand-ins for the credential functions that the source
 * readers (okta_read(), graph_read()) call.  The fuzz targets drive only
 * the parsers, so these are linked but never called; each aborts if it is.
 */
#include <stdlib.h>

#include "auth.h"
#include "oauth.h"

enum rs_err auth_headers(struct auth *auth, const char *method, const char *url, char ***out)
{
	(void)auth;
	(void)method;
	(void)url;
	(void)out;
	abort();
}

void auth_headers_free(char **headers)
{
	(void)headers;
	abort();
}

bool auth_handle_unauthorized(struct auth *auth, const struct http_response *response)
{
	(void)auth;
	(void)response;
	abort();
}

bool auth_uses_oauth(const struct auth *auth)
{
	(void)auth;
	abort();
}

unsigned auth_generation(const struct auth *auth)
{
	(void)auth;
	abort();
}

const char *oauth_error_hint(enum oauth_server server, const struct oauth_error *error)
{
	(void)server;
	(void)error;
	abort();
}

bool auth_challenge_asks_for_nonce(const struct http_response *response)
{
	(void)response;
	abort();
}
