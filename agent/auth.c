/*
 * auth.c - the credential headers of IdP requests.
 *
 * An auth contains one credential: a static Okta API token, or what it takes
 * to get an OAuth access token.  Every string that carries a secret (the
 * token, header values) is wiped before it is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"

enum auth_kind {
	AUTH_API_TOKEN,
};

struct auth {
	enum auth_kind kind;
	struct secret *secret;  /* the API token */
};

static void wipe_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	free(text);
}

/* Returns the offset of the first byte that cannot go into a header value, or len. */
static size_t find_header_unsafe(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (value[i] <= ' ' || value[i] > '~')
			return i;
	}
	return len;
}

enum rs_err auth_new_api_token(const struct secret *token, struct auth **out)
{
	size_t len = secret_len(token);
	size_t unsafe = find_header_unsafe(secret_value(token), len);
	struct auth *auth;

	*out = NULL;
	if (len == 0) {
		log_msg(LOG_ERROR, "the Okta API token is empty: check okta.api_token_file");
		return RS_ERR_CONFIG;
	}
	if (unsafe < len) {
		log_msg(LOG_ERROR, "the Okta API token contains a space, control or non-ASCII "
			"character at byte %zu: check okta.api_token_file", unsafe);
		return RS_ERR_CONFIG;
	}

	auth = calloc(1, sizeof(*auth));
	if (auth == NULL)
		return RS_ERR_INTERNAL;
	auth->kind = AUTH_API_TOKEN;
	auth->secret = secret_new(secret_value(token), len);
	if (auth->secret == NULL) {
		free(auth);
		return RS_ERR_INTERNAL;
	}
	*out = auth;
	return RS_OK;
}

enum rs_err auth_new(const struct config *config, struct http_client *http, struct auth **out)
{
	struct secret *secret = NULL;
	enum rs_err err;

	(void)http;
	*out = NULL;
	if (config->source != CONFIG_SOURCE_OKTA || config->okta.oauth.client_id != NULL) {
		log_msg(LOG_ERROR, "%s: only okta.api_token_file and okta.api_token_env are "
			"supported by this build", config->path);
		return RS_ERR_CONFIG;
	}

	err = config_load_secret(config, &secret);
	if (err == RS_OK)
		err = auth_new_api_token(secret, out);
	secret_free(secret);
	return err;
}

void auth_free(struct auth *auth)
{
	if (auth == NULL)
		return;
	secret_free(auth->secret);
	free(auth);
}

/* Formats "Name: value" into a new string. */
static char *header_line(const char *name, const char *scheme, const char *value)
{
	char *line = NULL;

	if (asprintf(&line, "%s: %s%s", name, scheme, value) < 0)
		return NULL;
	return line;
}

enum rs_err auth_headers(struct auth *auth, const char *method, const char *url, char ***out)
{
	char **headers = calloc(3, sizeof(*headers));

	(void)method;
	(void)url;
	*out = NULL;
	if (headers == NULL)
		return RS_ERR_INTERNAL;

	headers[0] = header_line("Authorization", "SSWS ", secret_value(auth->secret));
	if (headers[0] == NULL) {
		auth_headers_free(headers);
		return RS_ERR_INTERNAL;
	}
	*out = headers;
	return RS_OK;
}

void auth_headers_free(char **headers)
{
	if (headers == NULL)
		return;
	for (size_t i = 0; headers[i] != NULL; i++)
		wipe_free(headers[i]);
	free(headers);
}

bool auth_invalidate(struct auth *auth)
{
	return auth->kind != AUTH_API_TOKEN;
}

bool auth_handle_unauthorized(struct auth *auth, const struct http_response *response)
{
	(void)response;
	return auth_invalidate(auth);
}

bool auth_uses_oauth(const struct auth *auth)
{
	return auth->kind != AUTH_API_TOKEN;
}
