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
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "log.h"
#include "oauth.h"

/* Seconds before expires_in at which a cached token is fetched again. */
#define EXPIRY_MARGIN 60

enum auth_kind {
	AUTH_API_TOKEN,
	AUTH_ENTRA_SECRET,
};

struct auth {
	enum auth_kind kind;
	struct http_client *http;      /* borrowed */
	struct secret *secret;         /* the API token or the client secret */

	/* The token request. */
	enum oauth_server server;
	char *token_url;
	char *client_id;
	char *scope;

	/* The cached access token. */
	char *access_token;            /* NULL until fetched; wiped when dropped */
	double expires_at;             /* clock seconds after which it is not used */
	bool fetched_again;            /* a 401 already dropped one token */

	double (*clock)(void *context);
	void *clock_context;
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

static double monotonic_clock(void *context)
{
	struct timespec now;

	(void)context;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static struct auth *auth_alloc(enum auth_kind kind, struct http_client *http)
{
	struct auth *auth = calloc(1, sizeof(*auth));

	if (auth == NULL)
		return NULL;
	auth->kind = kind;
	auth->http = http;
	auth->clock = monotonic_clock;
	return auth;
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

	auth = auth_alloc(AUTH_API_TOKEN, NULL);
	if (auth == NULL)
		return RS_ERR_INTERNAL;
	auth->secret = secret_new(secret_value(token), len);
	if (auth->secret == NULL) {
		free(auth);
		return RS_ERR_INTERNAL;
	}
	*out = auth;
	return RS_OK;
}

/* Sets up the client-credentials grant of the Microsoft identity platform. */
static enum rs_err new_entra(const struct config *config, struct http_client *http,
			     struct auth **out)
{
	const struct config_graph *graph = &config->graph;
	struct auth *auth = auth_alloc(AUTH_ENTRA_SECRET, http);
	enum rs_err err;

	if (auth == NULL)
		return RS_ERR_INTERNAL;
	auth->server = OAUTH_SERVER_ENTRA;
	if (asprintf(&auth->token_url, "%s/%s/oauth2/v2.0/token", graph->login_url,
		     graph->tenant_id) < 0)
		auth->token_url = NULL;
	if (asprintf(&auth->scope, "%s/.default", graph->graph_url) < 0)
		auth->scope = NULL;
	auth->client_id = strdup(graph->client_id);
	if (auth->token_url == NULL || auth->scope == NULL || auth->client_id == NULL) {
		auth_free(auth);
		return RS_ERR_INTERNAL;
	}

	if (graph->certificate_file != NULL) {
		log_msg(LOG_ERROR, "%s: graph.certificate_file is not supported by this build: "
			"use graph.client_secret_file", config->path);
		auth_free(auth);
		return RS_ERR_CONFIG;
	}
	err = config_load_secret(config, &auth->secret);
	if (err != RS_OK) {
		auth_free(auth);
		return err;
	}
	*out = auth;
	return RS_OK;
}

enum rs_err auth_new(const struct config *config, struct http_client *http, struct auth **out)
{
	struct secret *secret = NULL;
	enum rs_err err;

	*out = NULL;
	if (config->source == CONFIG_SOURCE_GRAPH)
		return new_entra(config, http, out);
	if (config->okta.oauth.client_id != NULL) {
		log_msg(LOG_ERROR, "%s: okta.oauth is not supported by this build: use "
			"okta.api_token_file or okta.api_token_env", config->path);
		return RS_ERR_CONFIG;
	}

	err = config_load_secret(config, &secret);
	if (err == RS_OK)
		err = auth_new_api_token(secret, out);
	secret_free(secret);
	return err;
}

static void drop_token(struct auth *auth)
{
	wipe_free(auth->access_token);
	auth->access_token = NULL;
	auth->expires_at = 0;
}

void auth_free(struct auth *auth)
{
	if (auth == NULL)
		return;
	drop_token(auth);
	secret_free(auth->secret);
	free(auth->token_url);
	free(auth->client_id);
	free(auth->scope);
	free(auth);
}

void auth_set_clock(struct auth *auth, double (*clock_fn)(void *context), void *context)
{
	auth->clock = clock_fn ? clock_fn : monotonic_clock;
	auth->clock_context = clock_fn ? context : NULL;
}

/* ---- token requests ---- */

static void build_form(const struct auth *auth, struct oauth_form *form)
{
	oauth_form_init(form);
	oauth_form_add(form, "client_id", auth->client_id);
	oauth_form_add(form, "scope", auth->scope);
	oauth_form_add(form, "client_secret", secret_value(auth->secret));
	oauth_form_add(form, "grant_type", "client_credentials");
}

/* Seconds before expiry at which a token of lifetime seconds is replaced. */
static double expiry_margin(long lifetime)
{
	return lifetime > 2 * EXPIRY_MARGIN ? EXPIRY_MARGIN : (double)lifetime / 2;
}

/* Takes the token of a 200 response into the cache. */
static enum rs_err accept_token(struct auth *auth, const struct http_response *response)
{
	struct oauth_token token;
	enum rs_err err = oauth_parse_token(response->body, response->body_len, &token);

	if (err != RS_OK)
		return err;
	if (strcasecmp(token.token_type, "Bearer") != 0) {
		log_msg(LOG_ERROR, "token request to %s returned token_type \"%.32s\", expected "
			"Bearer", auth->token_url, token.token_type);
		oauth_token_release(&token);
		return RS_ERR_PROTOCOL;
	}

	drop_token(auth);
	auth->access_token = token.access_token;
	token.access_token = NULL;
	auth->expires_at = auth->clock(auth->clock_context) + (double)token.expires_in -
			   expiry_margin(token.expires_in);
	log_msg(LOG_INFO, "fetched an access token from %s (%s, valid for %ld s)",
		auth->token_url, token.token_type, token.expires_in);
	oauth_token_release(&token);
	return RS_OK;
}

/* Wipes the body, which may contain an access token, and releases response. */
static void release_token_response(struct http_response *response)
{
	if (response->body != NULL)
		explicit_bzero(response->body, response->body_len);
	http_response_release(response);
}

static enum rs_err fetch_token(struct auth *auth)
{
	struct oauth_form form;
	struct http_response response;
	enum rs_err err;

	build_form(auth, &form);
	err = oauth_post(auth->http, auth->token_url, &form, NULL, &response);
	oauth_form_release(&form);
	if (err != RS_OK)
		return err;

	if (response.status == 200)
		err = accept_token(auth, &response);
	else
		err = oauth_report_error(auth->server, &response, auth->token_url);
	release_token_response(&response);
	return err;
}

static bool token_usable(const struct auth *auth)
{
	return auth->access_token != NULL && auth->clock(auth->clock_context) < auth->expires_at;
}

/* ---- headers ---- */

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
	char **headers;
	enum rs_err err;

	(void)method;
	(void)url;
	*out = NULL;
	if (auth->kind != AUTH_API_TOKEN && !token_usable(auth)) {
		err = fetch_token(auth);
		if (err != RS_OK)
			return err;
	}

	headers = calloc(3, sizeof(*headers));
	if (headers == NULL)
		return RS_ERR_INTERNAL;
	if (auth->kind == AUTH_API_TOKEN)
		headers[0] = header_line("Authorization", "SSWS ", secret_value(auth->secret));
	else
		headers[0] = header_line("Authorization", "Bearer ", auth->access_token);
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
	if (auth->kind == AUTH_API_TOKEN || auth->fetched_again)
		return false;
	drop_token(auth);
	auth->fetched_again = true;
	return true;
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
