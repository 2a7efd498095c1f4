/*
 * oauth.c - token requests of the client-credentials grant and the
 * explanation of their errors.
 *
 * Entra error responses carry numeric AADSTS codes in error_codes, which
 * are more precise than the "error" value (AADSTS90002 has been sent both
 * as invalid_request and as invalid_tenant), so hints look at the codes
 * first.  Okta sends only "error" and "error_description".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "log.h"
#include "logline.h"
#include "oauth.h"

/* Maximum length of an error text, description or id copied from an error body, in bytes. */
#define MAX_ERROR_FIELD 400


/* Maximum token lifetime accepted: one year, in seconds. */
#define MAX_LIFETIME 31536000L

/* ---- form bodies ---- */

void oauth_form_init(struct oauth_form *form)
{
	memset(form, 0, sizeof(*form));
}

static void form_append(struct oauth_form *form, const char *text, size_t len)
{
	size_t needed = form->len + len + 1;

	if (form->failed)
		return;
	if (needed > form->capacity) {
		size_t capacity = form->capacity ? form->capacity : 256;
		char *grown;

		while (capacity < needed)
			capacity *= 2;
		grown = malloc(capacity);
		if (grown == NULL) {
			form->failed = true;
			return;
		}
		/* Copy by hand so that the old buffer can be wiped before it is freed. */
		if (form->data != NULL) {
			memcpy(grown, form->data, form->len);
			explicit_bzero(form->data, form->capacity);
			free(form->data);
		}
		form->data = grown;
		form->capacity = capacity;
	}
	memcpy(form->data + form->len, text, len);
	form->len += len;
	form->data[form->len] = '\0';
}

static void form_append_escaped(struct oauth_form *form, const char *text)
{
	size_t len = strlen(text);
	char *escaped = curl_easy_escape(NULL, text, len > (size_t)INT32_MAX ? 0 : (int)len);

	if (escaped == NULL || len > (size_t)INT32_MAX) {
		form->failed = true;
		curl_free(escaped);
		return;
	}
	form_append(form, escaped, strlen(escaped));
	explicit_bzero(escaped, strlen(escaped));
	curl_free(escaped);
}

void oauth_form_add(struct oauth_form *form, const char *name, const char *value)
{
	if (form->len > 0)
		form_append(form, "&", 1);
	form_append_escaped(form, name);
	form_append(form, "=", 1);
	form_append_escaped(form, value);
}

void oauth_form_release(struct oauth_form *form)
{
	if (form->data != NULL) {
		explicit_bzero(form->data, form->capacity);
		free(form->data);
	}
	memset(form, 0, sizeof(*form));
}

/* ---- token responses ---- */

static bool token_text_valid(const char *text)
{
	size_t len = strlen(text);

	if (len == 0 || len > OAUTH_MAX_TOKEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] <= ' ' || text[i] > '~')
			return false;
	}
	return true;
}

/* Reads expires_in, a JSON number or a numeric string, into *out. */
static bool read_lifetime(const cJSON *item, long *out)
{
	double value;
	char *end = NULL;

	if (item == NULL || cJSON_IsNull(item)) {
		*out = OAUTH_DEFAULT_LIFETIME;
		return true;
	}
	if (cJSON_IsNumber(item)) {
		value = item->valuedouble;
	} else if (cJSON_IsString(item)) {
		errno = 0;
		value = strtod(item->valuestring, &end);
		if (errno != 0 || end == item->valuestring || *end != '\0')
			return false;
	} else {
		return false;
	}
	if (!(value >= 1 && value <= MAX_LIFETIME))
		return false;
	*out = (long)value;
	return true;
}

/* Wipes the access token inside root before the tree is freed. */
static void wipe_json_token(cJSON *root)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "access_token");

	if (cJSON_IsString(item) && item->valuestring != NULL)
		explicit_bzero(item->valuestring, strlen(item->valuestring));
}

enum rs_err oauth_parse_token(const char *body, size_t len, struct oauth_token *out)
{
	cJSON *root = NULL;
	const cJSON *token;
	const cJSON *type;
	enum rs_err err = RS_ERR_PROTOCOL;

	memset(out, 0, sizeof(*out));
	if (body != NULL && len > 0)
		root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		log_msg(LOG_ERROR, "the token response is not a JSON object");
		goto out;
	}

	token = cJSON_GetObjectItemCaseSensitive(root, "access_token");
	type = cJSON_GetObjectItemCaseSensitive(root, "token_type");
	if (!cJSON_IsString(token) || !token_text_valid(token->valuestring)) {
		log_msg(LOG_ERROR, "the token response has no valid access_token: expected 1 to %d "
			"visible ASCII characters", OAUTH_MAX_TOKEN);
		goto out;
	}
	if (!cJSON_IsString(type) || !token_text_valid(type->valuestring) ||
	    strlen(type->valuestring) > 32) {
		log_msg(LOG_ERROR, "the token response has no valid token_type");
		goto out;
	}
	if (!read_lifetime(cJSON_GetObjectItemCaseSensitive(root, "expires_in"), &out->expires_in)) {
		log_msg(LOG_ERROR, "the token response has an invalid expires_in: expected 1 to "
			"%ld seconds", MAX_LIFETIME);
		goto out;
	}

	out->access_token = strdup(token->valuestring);
	out->token_type = strdup(type->valuestring);
	err = out->access_token && out->token_type ? RS_OK : RS_ERR_INTERNAL;

out:
	if (root != NULL)
		wipe_json_token(root);
	cJSON_Delete(root);
	if (err != RS_OK)
		oauth_token_release(out);
	return err;
}

void oauth_token_release(struct oauth_token *token)
{
	if (token->access_token != NULL) {
		explicit_bzero(token->access_token, strlen(token->access_token));
		free(token->access_token);
	}
	free(token->token_type);
	memset(token, 0, sizeof(*token));
}

/* ---- error responses ---- */

/*
 * Copies at most MAX_ERROR_FIELD bytes of text up to its first line break,
 * with other control bytes replaced by '?'.  NULL stays NULL.
 */
static char *copy_first_line(const char *text)
{
	size_t len;
	char *copy;

	if (text == NULL)
		return NULL;
	len = strcspn(text, "\r\n");
	if (len > MAX_ERROR_FIELD)
		len = MAX_ERROR_FIELD;
	copy = strndup(text, len);
	for (size_t i = 0; copy != NULL && i < len; i++) {
		if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f)
			copy[i] = '?';
	}
	return copy;
}

static const char *json_text(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void read_error_codes(const cJSON *root, struct oauth_error *out)
{
	const cJSON *codes = cJSON_GetObjectItemCaseSensitive(root, "error_codes");
	const cJSON *code;

	if (!cJSON_IsArray(codes))
		return;
	cJSON_ArrayForEach(code, codes) {
		if (out->code_count == OAUTH_MAX_CODES)
			break;
		if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1e9)
			out->codes[out->code_count++] = (long)code->valuedouble;
	}
}

bool oauth_parse_error(const struct http_response *response, struct oauth_error *out)
{
	cJSON *root = NULL;
	const char *error;

	memset(out, 0, sizeof(*out));
	out->status = response->status;
	out->request_id = copy_first_line(http_response_request_id(response));
	if (response->body != NULL && response->body_len > 0)
		root = cJSON_ParseWithLength(response->body, response->body_len);

	error = cJSON_IsObject(root) ? json_text(root, "error") : NULL;
	if (error == NULL) {
		cJSON_Delete(root);
		return false;
	}
	out->error = copy_first_line(error);
	out->description = copy_first_line(json_text(root, "error_description"));
	out->trace_id = copy_first_line(json_text(root, "trace_id"));
	out->correlation_id = copy_first_line(json_text(root, "correlation_id"));
	read_error_codes(root, out);
	cJSON_Delete(root);
	return true;
}

void oauth_error_release(struct oauth_error *error)
{
	free(error->error);
	free(error->description);
	free(error->trace_id);
	free(error->correlation_id);
	free(error->request_id);
	memset(error, 0, sizeof(*error));
}

/* What an Entra AADSTS code means and what to do about it. */
static const struct {
	long code;
	const char *hint;
} entra_hints[] = {
	{ 7000215, "the client secret is invalid: use the secret's Value, not its Secret ID "
		   "(the Value is shown only once, when the secret is created under Certificates "
		   "& secrets)" },
	{ 7000222, "the client secret has expired: create a new one under Certificates & "
		   "secrets in the app registration and put its Value where the config reads the "
		   "secret" },
	{ 700016, "the application was not found in the tenant: check graph.client_id (the "
		  "Application (client) ID of the app registration) and graph.tenant_id" },
	{ 90002, "the tenant was not found: check graph.tenant_id, and graph.cloud when the "
		 "tenant lives in a national cloud" },
	{ 65001, "admin consent is missing: grant admin consent for the application "
		 "permissions (API permissions > Grant admin consent)" },
	{ 700027, "the client assertion failed signature validation: upload the certificate "
		  "in graph.certificate_file to the app registration (Certificates & secrets) "
		  "and check that graph.private_key_file is its private key" },
	{ 700024, "the client assertion is outside its valid time range: check that this "
		  "machine's clock is correct (NTP)" },
	{ 70011, "the scope was rejected: check graph.graph_url and graph.cloud" },
	{ 700022, "the scope was rejected: check graph.graph_url and graph.cloud" },
	{ 700023, "the scope was rejected: check graph.graph_url and graph.cloud" },
	{ 500011, "the resource was not found in the tenant: check graph.graph_url and "
		  "graph.cloud" },
	{ 7000218, "the request carried no client secret or assertion: set "
		   "graph.client_secret_file or graph.certificate_file" },
	{ 7000112, "the application is disabled: enable it in the tenant (Enterprise "
		   "applications > Properties)" },
	{ 90055, "the tenant is throttling token requests: run again later" },
};

/* What an OAuth "error" value means, per server. */
static const struct {
	enum oauth_server server;
	const char *error;
	const char *hint;
} error_hints[] = {
	{ OAUTH_SERVER_ENTRA, "invalid_client", "Entra rejected the client credentials: check "
	  "graph.client_id and the secret or certificate" },
	{ OAUTH_SERVER_ENTRA, "unauthorized_client", "the application may not use this grant: "
	  "check graph.client_id and graph.tenant_id" },
	{ OAUTH_SERVER_ENTRA, "invalid_scope", "the scope was rejected: check graph.graph_url "
	  "and graph.cloud" },
	{ OAUTH_SERVER_ENTRA, "invalid_tenant", "the tenant was not found: check "
	  "graph.tenant_id, and graph.cloud when the tenant lives in a national cloud" },
	{ OAUTH_SERVER_ENTRA, "consent_required", "admin consent is missing: grant admin "
	  "consent for the application permissions (API permissions > Grant admin consent)" },
	{ OAUTH_SERVER_OKTA, "invalid_client", "Okta rejected the client assertion: check "
	  "okta.oauth.client_id, that the public key of okta.oauth.private_key_file is "
	  "registered on the service app (with okta.oauth.key_id as its kid when set), and "
	  "that the app uses public key / private key client authentication" },
	{ OAUTH_SERVER_OKTA, "invalid_dpop_proof", "the service app requires DPoP proofs "
	  "(Require Demonstrating Proof of Possession): set okta.oauth.dpop: true, or when it "
	  "is already true check that this machine's clock is correct" },
	{ OAUTH_SERVER_OKTA, "use_dpop_nonce", "Okta asked for a new DPoP nonce again after "
	  "the first retry: run again later" },
	{ OAUTH_SERVER_OKTA, "invalid_scope", "the service app lacks scopes: grant "
	  "okta.apps.read, okta.users.read and okta.groups.read in its Okta API Scopes tab" },
	{ OAUTH_SERVER_OKTA, "unauthorized_client", "the app may not use the client "
	  "credentials grant: use an API Services app with the Client Credentials grant "
	  "enabled" },
	{ OAUTH_SERVER_OKTA, "invalid_grant", "Okta rejected the grant: check that the "
	  "service app is active" },
};

/*
 * True when an error description speaks of the assertion's times, which a
 * clock that is off makes wrong: "not within its valid time range",
 * "expired", "issued in the future".
 */
static bool describes_time(const char *description)
{
	static const char *const phrases[] = {
		"time range", "expir", "in the future", "issued at", "clock",
	};

	for (size_t i = 0; description && i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		if (strcasestr(description, phrases[i]))
			return true;
	}
	return false;
}

const char *oauth_error_hint(enum oauth_server server, const struct oauth_error *error)
{
	if (server == OAUTH_SERVER_OKTA && error->error != NULL &&
	    strcmp(error->error, "invalid_client") == 0 && describes_time(error->description))
		return "Okta found the times in the client assertion wrong: check that this "
		       "machine's clock is correct (timedatectl, NTP)";

	if (server == OAUTH_SERVER_ENTRA) {
		for (size_t i = 0; i < error->code_count; i++) {
			for (size_t j = 0; j < sizeof(entra_hints) / sizeof(entra_hints[0]); j++) {
				if (entra_hints[j].code == error->codes[i])
					return entra_hints[j].hint;
			}
		}
	}
	for (size_t i = 0; error->error != NULL && i < sizeof(error_hints) / sizeof(error_hints[0]); i++) {
		if (error_hints[i].server == server && strcmp(error_hints[i].error, error->error) == 0)
			return error_hints[i].hint;
	}
	if (error->error != NULL && strcmp(error->error, "temporarily_unavailable") == 0)
		return "the token endpoint is temporarily unavailable: run again later";
	if (error->status == 404)
		return server == OAUTH_SERVER_ENTRA ?
		       "the token endpoint was not found: check graph.login_url and graph.tenant_id" :
		       "the token endpoint was not found: check okta.org_url";
	if (error->status >= 500)
		return "the token endpoint is failing: run again later";
	return "the token request was rejected: check the credential settings";
}

static bool has_code(const struct oauth_error *error, long code)
{
	for (size_t i = 0; i < error->code_count; i++) {
		if (error->codes[i] == code)
			return true;
	}
	return false;
}

enum rs_err oauth_error_result(const struct oauth_error *error)
{
	if (has_code(error, 90055) || error->status == 429 ||
	    (error->error != NULL && strcmp(error->error, "use_dpop_nonce") == 0))
		return RS_ERR_TEMPFAIL;
	if ((error->error != NULL && strcmp(error->error, "temporarily_unavailable") == 0) ||
	    error->status >= 500)
		return RS_ERR_UNAVAILABLE;
	/* 401 and 403 are rejections, also when the body is a gateway's own page. */
	if ((error->error != NULL && error->status >= 400 && error->status < 500) ||
	    error->status == 401 || error->status == 403)
		return RS_ERR_PERMISSION;
	if (error->status == 404)
		return RS_ERR_CONFIG;
	return RS_ERR_PROTOCOL;
}

static void line_add_ids(struct log_line *line, const struct oauth_error *error)
{
	const char *separator = " [";

	if (error->trace_id != NULL) {
		log_line_add(line, "%strace id %s", separator, error->trace_id);
		separator = ", ";
	}
	if (error->correlation_id != NULL) {
		log_line_add(line, "%scorrelation id %s", separator, error->correlation_id);
		separator = ", ";
	}
	if (error->request_id != NULL && error->trace_id == NULL) {
		log_line_add(line, "%srequest id %s", separator, error->request_id);
		separator = ", ";
	}
	if (separator[0] == ',')
		log_line_add(line, "]");
}

enum rs_err oauth_report_error(enum oauth_server server, const struct http_response *response,
			       const char *url, const char *secret_source)
{
	struct log_line line = { "", 0 };
	struct oauth_error error;
	bool parsed = oauth_parse_error(response, &error);
	enum rs_err err;

	log_line_add(&line, "token request to %.*s returned %ld", (int)strcspn(url, "?#"), url,
		 response->status);
	if (parsed) {
		log_line_add(&line, " %s", error.error);
		if (error.code_count > 0 &&
		    (error.description == NULL || strncmp(error.description, "AADSTS", 6) != 0))
			log_line_add(&line, " (AADSTS%ld)", error.codes[0]);
		if (error.description != NULL)
			log_line_add(&line, ": %s", error.description);
	} else if (response->body_len > 0) {
		log_line_add_excerpt(&line, response->body, response->body_len);
	} else {
		log_line_add(&line, " with an empty body");
	}
	log_line_add(&line, "; %s", oauth_error_hint(server, &error));
	err = oauth_error_result(&error);
	if (secret_source != NULL && err == RS_ERR_PERMISSION)
		log_line_add(&line, "; the client secret was read from %s", secret_source);
	line_add_ids(&line, &error);

	log_msg(LOG_ERROR, "%s", line.text);
	oauth_error_release(&error);
	return err;
}

/* ---- requests ---- */

enum rs_err oauth_post(struct http_client *http, const char *url, const struct oauth_form *form,
		       const char *dpop_proof, struct http_response *out)
{
	const char *headers[3] = { OAUTH_FORM_CONTENT_TYPE, NULL, NULL };
	char *dpop_line = NULL;
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	if (form->failed)
		return RS_ERR_INTERNAL;
	if (dpop_proof != NULL) {
		if (asprintf(&dpop_line, "DPoP: %s", dpop_proof) < 0)
			return RS_ERR_INTERNAL;
		headers[1] = dpop_line;
	}

	err = http_post(http, url, headers, form->data ? form->data : "", form->len, out);

	if (dpop_line != NULL) {
		explicit_bzero(dpop_line, strlen(dpop_line));
		free(dpop_line);
	}
	return err;
}
