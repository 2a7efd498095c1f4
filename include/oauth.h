/*
 * oauth.h - the OAuth 2.0 token endpoint client of the client-credentials
 * grant (RFC 6749 section 4.4) for Okta and the Microsoft identity platform.
 *
 * This module builds the form body, sends it with http_post(), reads a
 * token response, and turns an error response into one log line that states
 * what the error means and what to change.  It keeps no state: caching and
 * retries belong to auth.c.  Form bodies and access tokens are secrets and
 * are wiped before they are freed; nothing here logs them.
 */
#ifndef ROSTERSYNC_OAUTH_H
#define ROSTERSYNC_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "http.h"

/* The authorization server, which decides how errors are explained. */
enum oauth_server { OAUTH_SERVER_OKTA = 0, OAUTH_SERVER_ENTRA };

/* An application/x-www-form-urlencoded body; its storage is owned by the form. */
/* The header line of a token request's body. */
#define OAUTH_FORM_CONTENT_TYPE "Content-Type: application/x-www-form-urlencoded"

struct oauth_form {
	char *data;       /* NUL-terminated; NULL while empty */
	size_t len;
	size_t capacity;
	bool failed;      /* memory ran out: the body is incomplete */
};

void oauth_form_init(struct oauth_form *form);

/*
 * Appends name=value, both percent-encoded, with "&" before every field
 * but the first.  Sets form->failed when memory runs out.
 */
void oauth_form_add(struct oauth_form *form, const char *name, const char *value);

/* Wipes and frees the body. */
void oauth_form_release(struct oauth_form *form);

/* Maximum access token length accepted, in bytes. */
#define OAUTH_MAX_TOKEN 16384

/* The fields of a successful token response. */
struct oauth_token {
	char *access_token;  /* a secret: wiped by oauth_token_release() */
	char *token_type;    /* "Bearer" or "DPoP", as the server wrote it */
	long expires_in;     /* seconds; OAUTH_DEFAULT_LIFETIME when absent */
};

/* Lifetime assumed when a token response has no expires_in, in seconds. */
#define OAUTH_DEFAULT_LIFETIME 300

/*
 * Parses a 200 token response.  access_token must be 1..OAUTH_MAX_TOKEN
 * visible ASCII characters and token_type a string; expires_in may be a
 * number or a numeric string (1..31536000).  Returns RS_ERR_PROTOCOL with a
 * logged reason that never quotes the token.  *out is zeroed on failure.
 * The caller wipes body afterwards, because it still contains the token.
 */
enum rs_err oauth_parse_token(const char *body, size_t len, struct oauth_token *out);
void oauth_token_release(struct oauth_token *token);

/* Error codes kept from one Entra response. */
#define OAUTH_MAX_CODES 8

/* The fields of a token error response; strings are owned copies or NULL. */
struct oauth_error {
	long status;            /* HTTP status */
	char *error;            /* "invalid_client" */
	char *description;      /* first line of error_description */
	long codes[OAUTH_MAX_CODES];  /* Entra error_codes, such as 7000215 */
	size_t code_count;
	char *trace_id;         /* Entra trace_id */
	char *correlation_id;   /* Entra correlation_id */
	char *request_id;       /* X-Okta-Request-Id or request-id header */
};

/*
 * Reads an error response.  Returns false when the body is not a JSON
 * object with a string "error"; the status and request id are filled in
 * either way.  Release with oauth_error_release().
 */
bool oauth_parse_error(const struct http_response *response, struct oauth_error *out);
void oauth_error_release(struct oauth_error *error);

/*
 * Returns what error means and what to do, for the server that sent it:
 * by the first known Entra error code, else by the "error" value.
 */
const char *oauth_error_hint(enum oauth_server server, const struct oauth_error *error);

/*
 * Maps a token error to the run's result: RS_ERR_PERMISSION for rejected
 * credentials and consent and for any 401 or 403, RS_ERR_TEMPFAIL for throttling
 * (AADSTS90055) and for a DPoP nonce asked for again, RS_ERR_UNAVAILABLE
 * for temporarily_unavailable and 5xx, RS_ERR_CONFIG for 404 (a wrong
 * login URL), RS_ERR_PROTOCOL for anything else.
 */
enum rs_err oauth_error_result(const struct oauth_error *error);

/*
 * Logs one line for a failed token request to url: status, error, code,
 * description, hint, and the trace, correlation or request id.  A body
 * that is not an OAuth error is quoted by its first 200 printable bytes.
 * secret_source, when not NULL, names where the client secret was read
 * (config_secret_source()), and the line names it when the credentials
 * were rejected.  Returns oauth_error_result().
 */
enum rs_err oauth_report_error(enum oauth_server server, const struct http_response *response,
			       const char *url, const char *secret_source);

/*
 * POSTs form to the token endpoint url, with the DPoP header when
 * dpop_proof is not NULL.  Results are those of http_post(); RS_OK means
 * *out contains the response whatever its status.
 */
enum rs_err oauth_post(struct http_client *http, const char *url, const struct oauth_form *form,
		       const char *dpop_proof, struct http_response *out);

#endif
