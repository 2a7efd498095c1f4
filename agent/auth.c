/*
 * auth.c - the credential headers of IdP requests.
 *
 * An auth contains one credential: a static Okta API token, or what it takes
 * to get an OAuth access token (a client secret, or a private key that signs
 * client assertions), plus the per-run DPoP key for Okta.  Access tokens
 * are cached until shortly before they expire.  Every string that carries a
 * secret (tokens, assertions, proofs, header values) is wiped before it is
 * freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "auth.h"
#include "jwt.h"
#include "log.h"
#include "oauth.h"

/* Seconds before expires_in at which a cached token is fetched again. */
#define EXPIRY_MARGIN 60

/* Lifetime of a client assertion, in seconds; Entra documents 5 to 10 minutes at most. */
#define ASSERTION_LIFETIME 300

/* Maximum certificate file size, in bytes. */
#define MAX_CERTIFICATE_FILE (64 * 1024)

/* Maximum DPoP nonce length, in bytes. */
#define MAX_NONCE 512

/* A certificate that expires within this many days is reported with a warning. */
#define CERTIFICATE_WARN_DAYS 30

#define OKTA_SCOPES "okta.apps.read okta.users.read okta.groups.read"
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

enum auth_kind {
	AUTH_API_TOKEN,
	AUTH_OKTA_OAUTH,
	AUTH_ENTRA_SECRET,
	AUTH_ENTRA_CERTIFICATE,
};

struct auth {
	enum auth_kind kind;
	struct http_client *http;      /* borrowed */
	struct secret *secret;         /* the API token or the client secret */
	char *secret_source;           /* where the client secret was read, or NULL */

	/* The token request. */
	enum oauth_server server;
	char *token_url;
	char *client_id;
	char *scope;

	/* The client assertion (Okta OAuth, Entra certificate). */
	struct jwt_key *client_key;
	enum jwt_alg client_alg;
	char *key_id;                  /* "kid" header, or NULL */
	const char *thumbprint_name;   /* "x5t#S256" or "x5t", or NULL */
	char *thumbprint;

	/* DPoP (Okta only); dpop_key is NULL when DPoP is off. */
	struct jwt_key *dpop_key;
	char *token_nonce;             /* DPoP-Nonce of the token endpoint */
	char *api_nonce;               /* DPoP-Nonce of the API */

	/* The cached access token. */
	char *access_token;            /* NULL until fetched; wiped when dropped */
	bool dpop_bound;               /* token_type DPoP */
	double expires_at;             /* clock seconds after which it is not used */
	bool fetched_again;            /* a 401 already dropped one token */
	unsigned generation;           /* counts changes of the token or the API nonce */

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

/* ---- creation ---- */

enum rs_err auth_new_api_token(const struct secret *token, const char *source,
			       struct auth **out)
{
	size_t len = secret_len(token);
	size_t unsafe = find_header_unsafe(secret_value(token), len);
	struct auth *auth;

	*out = NULL;
	if (len == 0) {
		log_msg(LOG_ERROR, "the Okta API token is empty: check %s", source);
		return RS_ERR_CONFIG;
	}
	if (len > 5 && strncasecmp(secret_value(token), "SSWS ", 5) == 0) {
		log_msg(LOG_ERROR, "the Okta API token starts with \"SSWS \", the scheme of the "
			"Authorization header: remove it from %s, which holds the token alone",
			source);
		return RS_ERR_CONFIG;
	}
	if (unsafe < len) {
		log_msg(LOG_ERROR, "the Okta API token contains a space, control or non-ASCII "
			"character at byte %zu of %zu: check %s, and remove any space or line break "
			"around or inside the token", unsafe, len, source);
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

/* Reads the private key that the config points at, through config_load_secret(). */
static enum rs_err load_client_key(const struct config *config, const char *key_name,
				   struct jwt_key **out)
{
	struct secret *pem = NULL;
	enum rs_err err = config_load_secret(config, &pem);

	if (err == RS_OK)
		err = jwt_key_from_pem(secret_value(pem), secret_len(pem), key_name, out);
	secret_free(pem);
	return err;
}

/*
 * Reads a certificate file of at most MAX_CERTIFICATE_FILE bytes, and keeps
 * the certificate of key from it; *count is the number of certificates.
 */
static enum rs_err load_certificate(const char *path, const struct jwt_key *key,
				    struct jwt_certificate **out, size_t *count)
{
	char name[4200];
	char *text = NULL;
	size_t len = 0;
	struct stat info;
	FILE *file;
	enum rs_err err = RS_ERR_CONFIG;

	snprintf(name, sizeof(name), "graph.certificate_file (%s)", path);
	file = fopen(path, "rb");
	if (file == NULL || fstat(fileno(file), &info) != 0) {
		log_msg(LOG_ERROR, "%s: cannot read the certificate: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(info.st_mode) || info.st_size <= 0 || info.st_size > MAX_CERTIFICATE_FILE) {
		log_msg(LOG_ERROR, "%s: expected a regular file of 1 to %d bytes", name,
			MAX_CERTIFICATE_FILE);
		goto out;
	}
	text = malloc((size_t)info.st_size);
	len = text ? fread(text, 1, (size_t)info.st_size, file) : 0;
	if (text == NULL || len != (size_t)info.st_size) {
		log_msg(LOG_ERROR, "%s: cannot read the certificate", name);
		goto out;
	}
	err = jwt_certificate_for_key(text, len, name, key, out, count);

out:
	if (file != NULL)
		fclose(file);
	free(text);
	return err;
}

static void warn_certificate_expiry(const struct jwt_certificate *certificate, const char *path)
{
	time_t not_after;
	time_t now = time(NULL);
	char date[32];
	struct tm tm;

	if (!jwt_certificate_not_after(certificate, &not_after))
		return;
	gmtime_r(&not_after, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (not_after < now)
		log_msg(LOG_WARN, "graph.certificate_file (%s) expired on %s: Entra rejects it, so "
			"upload a new certificate to the app registration", path, date);
	else if (not_after < now + CERTIFICATE_WARN_DAYS * 86400L)
		log_msg(LOG_WARN, "graph.certificate_file (%s) expires on %s: upload a new "
			"certificate to the app registration before then", path, date);
}

/* Loads the certificate and its key, and the thumbprint header of the assertion. */
static enum rs_err setup_certificate(const struct config *config, struct auth *auth)
{
	const struct config_graph *graph = &config->graph;
	struct jwt_certificate *certificate = NULL;
	bool sha256 = graph->assertion_algorithm == CONFIG_ASSERTION_PS256;
	size_t count = 0;
	enum rs_err err;

	err = load_client_key(config, "graph.private_key_file", &auth->client_key);
	if (err == RS_OK && !jwt_key_is_rsa(auth->client_key)) {
		log_msg(LOG_ERROR, "%s: graph.private_key_file is not an RSA key; Entra client "
			"assertions are signed with PS256 or RS256", config->path);
		err = RS_ERR_CONFIG;
	}
	if (err == RS_OK)
		err = load_certificate(graph->certificate_file, auth->client_key, &certificate,
				       &count);
	if (err == RS_OK && certificate == NULL) {
		log_msg(LOG_ERROR, "%s: graph.private_key_file is not the private key of "
			"graph.certificate_file (%s)%s", config->path, graph->certificate_file,
			count > 1 ? ", nor of any other certificate in that file" : "");
		err = RS_ERR_CONFIG;
	}
	if (err != RS_OK)
		goto out;

	warn_certificate_expiry(certificate, graph->certificate_file);
	auth->client_alg = sha256 ? JWT_PS256 : JWT_RS256;
	auth->thumbprint_name = sha256 ? "x5t#S256" : "x5t";
	auth->thumbprint = jwt_certificate_thumbprint(certificate, sha256);
	err = auth->thumbprint ? RS_OK : RS_ERR_INTERNAL;

out:
	jwt_certificate_free(certificate);
	return err;
}

/* Loads the Entra client secret and remembers where it was read, for token errors. */
static enum rs_err load_client_secret(const struct config *config, struct auth *auth)
{
	char source[4200];

	config_secret_source(config, source, sizeof(source));
	auth->secret_source = strdup(source);
	if (auth->secret_source == NULL)
		return RS_ERR_INTERNAL;
	return config_load_secret(config, &auth->secret);
}

/* Sets up the client-credentials grant of the Microsoft identity platform. */
static enum rs_err new_entra(const struct config *config, struct http_client *http,
			     struct auth **out)
{
	const struct config_graph *graph = &config->graph;
	bool certificate = graph->certificate_file != NULL;
	struct auth *auth = auth_alloc(certificate ? AUTH_ENTRA_CERTIFICATE : AUTH_ENTRA_SECRET,
				       http);
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

	if (certificate)
		err = setup_certificate(config, auth);
	else
		err = load_client_secret(config, auth);
	if (err != RS_OK) {
		auth_free(auth);
		return err;
	}
	*out = auth;
	return RS_OK;
}

/* Sets up an Okta service app: private_key_jwt, and DPoP unless turned off. */
static enum rs_err new_okta_oauth(const struct config *config, struct http_client *http,
				  struct auth **out)
{
	const struct config_okta_oauth *oauth = &config->okta.oauth;
	struct auth *auth = auth_alloc(AUTH_OKTA_OAUTH, http);
	enum rs_err err;

	if (auth == NULL)
		return RS_ERR_INTERNAL;
	auth->server = OAUTH_SERVER_OKTA;
	if (asprintf(&auth->token_url, "%s/oauth2/v1/token", config->okta.org_url) < 0)
		auth->token_url = NULL;
	auth->scope = strdup(OKTA_SCOPES);
	auth->client_id = strdup(oauth->client_id);
	auth->key_id = oauth->key_id ? strdup(oauth->key_id) : NULL;
	if (auth->token_url == NULL || auth->scope == NULL || auth->client_id == NULL ||
	    (oauth->key_id != NULL && auth->key_id == NULL)) {
		auth_free(auth);
		return RS_ERR_INTERNAL;
	}

	err = load_client_key(config, "okta.oauth.private_key_file", &auth->client_key);
	if (err == RS_OK && oauth->dpop)
		err = jwt_key_generate_p256(&auth->dpop_key);
	if (err != RS_OK) {
		auth_free(auth);
		return err;
	}
	auth->client_alg = jwt_key_is_rsa(auth->client_key) ? JWT_RS256 : JWT_ES256;
	log_msg(LOG_DEBUG, "Okta OAuth for client %s: %s client assertion, DPoP %s",
		auth->client_id, jwt_alg_name(auth->client_alg), oauth->dpop ? "on" : "off");
	*out = auth;
	return RS_OK;
}

static enum rs_err new_auth(const struct config *config, struct http_client *http,
			    struct auth **out)
{
	struct secret *secret = NULL;
	char source[4200];
	enum rs_err err;

	if (config->source == CONFIG_SOURCE_GRAPH)
		return new_entra(config, http, out);
	if (config->okta.oauth.client_id != NULL)
		return new_okta_oauth(config, http, out);

	config_secret_source(config, source, sizeof(source));
	err = config_load_secret(config, &secret);
	if (err == RS_OK)
		err = auth_new_api_token(secret, source, out);
	secret_free(secret);
	return err;
}

enum rs_err auth_new(const struct config *config, struct http_client *http, struct auth **out)
{
	enum rs_err err;

	*out = NULL;
	err = new_auth(config, http, out);
	if (err == RS_OK)
		auth_attach(*out, http);
	return err;
}

static void drop_token(struct auth *auth)
{
	log_forget_secret(auth->access_token);
	wipe_free(auth->access_token);
	auth->access_token = NULL;
	auth->dpop_bound = false;
	auth->expires_at = 0;
}

void auth_free(struct auth *auth)
{
	if (auth == NULL)
		return;
	drop_token(auth);
	secret_free(auth->secret);
	free(auth->secret_source);
	free(auth->token_url);
	free(auth->client_id);
	free(auth->scope);
	jwt_key_free(auth->client_key);
	free(auth->key_id);
	free(auth->thumbprint);
	jwt_key_free(auth->dpop_key);
	free(auth->token_nonce);
	free(auth->api_nonce);
	free(auth);
}

void auth_set_clock(struct auth *auth, double (*clock_fn)(void *context), void *context)
{
	auth->clock = clock_fn ? clock_fn : monotonic_clock;
	auth->clock_context = clock_fn ? context : NULL;
}

/* ---- token requests ---- */

static enum rs_err add_assertion(const struct auth *auth, struct oauth_form *form)
{
	struct jwt_assertion assertion = {
		.client_id = auth->client_id,
		.audience = auth->token_url,
		.key_id = auth->key_id,
		.thumbprint_name = auth->thumbprint_name,
		.thumbprint = auth->thumbprint,
		.not_before = auth->server == OAUTH_SERVER_ENTRA,
		.now = time(NULL),
		.lifetime = ASSERTION_LIFETIME,
	};
	char *signed_assertion = NULL;
	enum rs_err err = jwt_client_assertion(auth->client_key, auth->client_alg, &assertion,
					       &signed_assertion);

	if (err != RS_OK)
		return err;
	oauth_form_add(form, "client_assertion_type", JWT_BEARER);
	oauth_form_add(form, "client_assertion", signed_assertion);
	jwt_text_free(signed_assertion);
	return RS_OK;
}

/* Builds the form of one token request, with a new client assertion. */
static enum rs_err build_form(const struct auth *auth, struct oauth_form *form)
{
	enum rs_err err = RS_OK;

	oauth_form_init(form);
	if (auth->server == OAUTH_SERVER_ENTRA)
		oauth_form_add(form, "client_id", auth->client_id);
	if (auth->server == OAUTH_SERVER_OKTA)
		oauth_form_add(form, "grant_type", "client_credentials");
	oauth_form_add(form, "scope", auth->scope);
	if (auth->kind == AUTH_ENTRA_SECRET)
		oauth_form_add(form, "client_secret", secret_value(auth->secret));
	else
		err = add_assertion(auth, form);
	if (auth->server == OAUTH_SERVER_ENTRA)
		oauth_form_add(form, "grant_type", "client_credentials");
	if (err == RS_OK && form->failed)
		err = RS_ERR_INTERNAL;
	return err;
}

/* Builds a DPoP proof for method and url; *out stays NULL without DPoP. */
static enum rs_err build_proof(const struct auth *auth, const char *method, const char *url,
			       const char *nonce, const char *access_token, char **out)
{
	struct jwt_dpop dpop = {
		.method = method, .url = url, .nonce = nonce, .access_token = access_token,
		.now = time(NULL),
	};

	*out = NULL;
	if (auth->dpop_key == NULL)
		return RS_OK;
	return jwt_dpop_proof(auth->dpop_key, &dpop, out);
}

/*
 * Sends one token request; *response is empty unless RS_OK.  A retry after
 * a transient failure gets a new assertion and proof from renew_request().
 */
static enum rs_err request_token(struct auth *auth, struct http_response *response)
{
	struct oauth_form form;
	char *proof = NULL;
	enum rs_err err;

	memset(response, 0, sizeof(*response));
	err = build_form(auth, &form);
	if (err == RS_OK)
		err = build_proof(auth, "POST", auth->token_url, auth->token_nonce, NULL, &proof);
	if (err == RS_OK)
		err = oauth_post(auth->http, auth->token_url, &form, proof, response);
	jwt_text_free(proof);
	oauth_form_release(&form);
	return err;
}

/* Replaces *slot with a copy of the DPoP-Nonce of response, when it has a valid one. */
static bool take_nonce(const struct http_response *response, char **slot)
{
	const char *nonce = http_response_header(response, "DPoP-Nonce", 0);
	char *copy;

	if (nonce == NULL || nonce[0] == '\0' || strlen(nonce) > MAX_NONCE ||
	    find_header_unsafe(nonce, strlen(nonce)) < strlen(nonce))
		return false;
	copy = strdup(nonce);
	if (copy == NULL)
		return false;
	free(*slot);
	*slot = copy;
	return true;
}

/* True when the token endpoint returned 400 use_dpop_nonce. */
static bool asks_for_nonce(const struct http_response *response)
{
	struct oauth_error error;
	bool asks = false;

	if (response->status != 400)
		return false;
	if (oauth_parse_error(response, &error))
		asks = strcmp(error.error, "use_dpop_nonce") == 0;
	oauth_error_release(&error);
	return asks;
}

/* Seconds before expiry at which a token of lifetime seconds is replaced. */
static double expiry_margin(long lifetime)
{
	return lifetime > 2 * EXPIRY_MARGIN ? EXPIRY_MARGIN : (double)lifetime / 2;
}

/* Checks token_type: Bearer always, DPoP only after a proof was sent. */
static bool token_type_valid(const struct auth *auth, const char *type, bool *dpop)
{
	*dpop = strcasecmp(type, "DPoP") == 0;
	if (*dpop && auth->dpop_key != NULL)
		return true;
	if (strcasecmp(type, "Bearer") == 0)
		return true;
	log_msg(LOG_ERROR, "token request to %s returned token_type \"%.32s\", expected %s",
		auth->token_url, type, auth->dpop_key != NULL ? "DPoP or Bearer" : "Bearer");
	return false;
}

/* Takes the token of a 200 response into the cache. */
static enum rs_err accept_token(struct auth *auth, const struct http_response *response)
{
	struct oauth_token token;
	enum rs_err err = oauth_parse_token(response->body, response->body_len, &token);
	bool dpop;

	if (err != RS_OK)
		return err;
	if (!token_type_valid(auth, token.token_type, &dpop)) {
		oauth_token_release(&token);
		return RS_ERR_PROTOCOL;
	}

	drop_token(auth);
	auth->access_token = token.access_token;
	token.access_token = NULL;
	log_add_secret(auth->access_token, strlen(auth->access_token));
	auth->generation++;
	auth->dpop_bound = dpop;
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

/*
 * Fetches an access token.  Okta rejects the first DPoP token request of
 * an app with 400 use_dpop_nonce and a DPoP-Nonce header, so the request is
 * then sent once more with that nonce in the proof.
 */
static enum rs_err fetch_token(struct auth *auth)
{
	struct http_response response;
	enum rs_err err = request_token(auth, &response);

	if (err != RS_OK)
		return err;
	if (auth->dpop_key != NULL && asks_for_nonce(&response) &&
	    take_nonce(&response, &auth->token_nonce)) {
		log_msg(LOG_INFO, "token request to %s returned use_dpop_nonce; sending it once "
			"more with the nonce", auth->token_url);
		release_token_response(&response);
		err = request_token(auth, &response);
		if (err != RS_OK)
			return err;
	}

	if (auth->dpop_key != NULL)
		take_nonce(&response, &auth->token_nonce);
	if (response.status == 200)
		err = accept_token(auth, &response);
	else
		err = oauth_report_error(auth->server, &response, auth->token_url,
					 auth->secret_source);
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

/* Fills headers (room for three) for an access token, with a proof when DPoP-bound. */
static enum rs_err token_headers(const struct auth *auth, const char *method, const char *url,
				 char **headers)
{
	char *proof = NULL;
	enum rs_err err;

	if (!auth->dpop_bound) {
		headers[0] = header_line("Authorization", "Bearer ", auth->access_token);
		return headers[0] ? RS_OK : RS_ERR_INTERNAL;
	}

	err = build_proof(auth, method, url, auth->api_nonce, auth->access_token, &proof);
	if (err != RS_OK)
		return err;
	headers[0] = header_line("Authorization", "DPoP ", auth->access_token);
	headers[1] = header_line("DPoP", "", proof);
	jwt_text_free(proof);
	return headers[0] && headers[1] ? RS_OK : RS_ERR_INTERNAL;
}

enum rs_err auth_headers(struct auth *auth, const char *method, const char *url, char ***out)
{
	char **headers;
	enum rs_err err;

	*out = NULL;
	if (auth->kind != AUTH_API_TOKEN && !token_usable(auth)) {
		err = fetch_token(auth);
		if (err != RS_OK)
			return err;
	}

	headers = calloc(3, sizeof(*headers));
	if (headers == NULL)
		return RS_ERR_INTERNAL;
	if (auth->kind == AUTH_API_TOKEN) {
		headers[0] = header_line("Authorization", "SSWS ", secret_value(auth->secret));
		err = headers[0] ? RS_OK : RS_ERR_INTERNAL;
	} else {
		err = token_headers(auth, method, url, headers);
	}
	if (err != RS_OK) {
		auth_headers_free(headers);
		return err;
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

/* ---- retries ---- */

/* A NULL-terminated array of count + 1 entries, or NULL when memory runs out. */
static char **new_lines(size_t count)
{
	return calloc(count + 1, sizeof(char *));
}

/* The lines of a token request's next attempt: a new assertion and proof. */
static enum rs_err renew_token_request(struct auth *auth, struct http_renewal *out)
{
	struct oauth_form form;
	char *proof = NULL;
	enum rs_err err = build_form(auth, &form);

	if (err == RS_OK)
		err = build_proof(auth, "POST", auth->token_url, auth->token_nonce, NULL, &proof);
	if (err == RS_OK)
		out->headers = new_lines(2);
	if (err == RS_OK && out->headers) {
		out->headers[0] = strdup(OAUTH_FORM_CONTENT_TYPE);
		out->headers[1] = proof ? header_line("DPoP", "", proof) : NULL;
	}
	if (err == RS_OK && (!out->headers || !out->headers[0] || (proof && !out->headers[1])))
		err = RS_ERR_INTERNAL;
	if (err == RS_OK) {
		out->body = form.data;
		out->body_len = form.len;
		form.data = NULL;
	}
	jwt_text_free(proof);
	oauth_form_release(&form);
	return err;
}

/* True when line is a "Name: value" header that auth_headers() writes. */
static bool credential_line(const char *line)
{
	return strncasecmp(line, "Authorization:", 14) == 0 || strncasecmp(line, "DPoP:", 5) == 0;
}

/* The lines of an API request's next attempt: its own lines with new credentials. */
static enum rs_err renew_api_request(struct auth *auth, const char *method, const char *url,
				     const char *const *headers, struct http_renewal *out)
{
	char **credentials = NULL;
	size_t count = 0;
	enum rs_err err = auth_headers(auth, method, url, &credentials);

	if (err != RS_OK)
		return err;
	for (size_t i = 0; credentials[i]; i++)
		count++;
	for (size_t i = 0; headers[i]; i++)
		count++;
	out->headers = new_lines(count);

	count = 0;
	for (size_t i = 0; out->headers && credentials[i]; i++) {
		out->headers[count++] = credentials[i];
		credentials[i] = NULL;
	}
	for (size_t i = 0; out->headers && headers[i] && err == RS_OK; i++) {
		if (credential_line(headers[i]))
			continue;
		out->headers[count] = strdup(headers[i]);
		if (out->headers[count++] == NULL)
			err = RS_ERR_INTERNAL;
	}
	auth_headers_free(credentials);
	return out->headers ? err : RS_ERR_INTERNAL;
}

/*
 * http_renew_fn: a retried token request gets a new client assertion and
 * DPoP proof, and a retried API request a new proof (and a new token when
 * the cached one ran out meanwhile).  An API token or a client secret is
 * sent again as it was.
 */
static enum rs_err renew_request(void *context, const char *method, const char *url,
				 const char *const *headers, struct http_renewal *out)
{
	struct auth *auth = context;

	memset(out, 0, sizeof(*out));
	if (auth->token_url != NULL && strcmp(method, "POST") == 0 &&
	    strcmp(url, auth->token_url) == 0) {
		if (auth->kind == AUTH_ENTRA_SECRET && auth->dpop_key == NULL)
			return RS_OK;
		return renew_token_request(auth, out);
	}
	if (auth->kind == AUTH_API_TOKEN)
		return RS_OK;
	return renew_api_request(auth, method, url, headers, out);
}

void auth_attach(struct auth *auth, struct http_client *http)
{
	if (auth != NULL && http != NULL)
		http_client_set_renew(http, renew_request, auth);
}

/* ---- after a 401 ---- */

bool auth_invalidate(struct auth *auth)
{
	if (auth->kind == AUTH_API_TOKEN || auth->fetched_again)
		return false;
	drop_token(auth);
	auth->fetched_again = true;
	return true;
}

bool auth_challenge_asks_for_nonce(const struct http_response *response)
{
	const char *value;

	for (size_t i = 0; (value = http_response_header(response, "WWW-Authenticate", i)); i++) {
		if (strncasecmp(value, "DPoP", 4) == 0 && strstr(value, "use_dpop_nonce") != NULL)
			return true;
	}
	return false;
}

bool auth_handle_unauthorized(struct auth *auth, const struct http_response *response)
{
	char *previous = auth->api_nonce ? strdup(auth->api_nonce) : NULL;
	bool new_nonce;

	new_nonce = auth->dpop_bound && auth_challenge_asks_for_nonce(response) &&
		    take_nonce(response, &auth->api_nonce) &&
		    (previous == NULL || strcmp(previous, auth->api_nonce) != 0);
	free(previous);
	if (new_nonce) {
		auth->generation++;
		log_msg(LOG_INFO, "the API asked for a DPoP nonce; sending the request once more "
			"with it");
		return true;
	}
	return auth_invalidate(auth);
}

unsigned auth_generation(const struct auth *auth)
{
	return auth->generation;
}

bool auth_uses_oauth(const struct auth *auth)
{
	return auth->kind != AUTH_API_TOKEN;
}
