/*
 * auth.h - the credential a source attaches to each IdP request.
 *
 * Three kinds, chosen from the config:
 *   - a static Okta API token: "Authorization: SSWS <token>";
 *   - an OAuth 2.0 access token from a client-credentials grant
 *     (Okta private_key_jwt, Entra client secret or certificate):
 *     "Authorization: Bearer <token>";
 *   - a DPoP-bound Okta access token: "Authorization: DPoP <token>" plus a
 *     fresh "DPoP: <proof>" header for every request.
 * Access tokens are fetched on first use through the same http_client,
 * cached for their lifetime, and fetched again once after a 401.
 * struct auth is opaque; it owns the secrets and wipes them when freed.
 */
#ifndef ROSTERSYNC_AUTH_H
#define ROSTERSYNC_AUTH_H

#include <stdbool.h>
#include "config.h"
#include "error.h"
#include "http.h"
#include "secret.h"

struct auth;

/*
 * Creates the credential for config's source: reads the secret or key it
 * points at (RS_ERR_CONFIG with a logged reason when that fails).  No
 * request is sent yet.  http must outlive the auth.
 */
enum rs_err auth_new(const struct config *config, struct http_client *http, struct auth **out);

/*
 * Creates a static Okta API token credential from a copy of token, read
 * from source (config_secret_source()).  Returns RS_ERR_CONFIG, with the
 * byte offset and source logged but not the value, when the token is empty
 * or contains a byte that cannot go into a header (space, control or
 * non-ASCII).  *out is NULL on failure.
 */
enum rs_err auth_new_api_token(const struct secret *token, const char *source,
			       struct auth **out);

void auth_free(struct auth *auth);

/*
 * Builds the credential headers for one request: a NULL-terminated array of
 * "Name: value" strings, freed with auth_headers_free().  Fetches an access
 * token first when none is cached; token endpoint errors are logged with
 * what to do and returned (RS_ERR_PERMISSION for rejected credentials).
 * *out is NULL on failure.
 */
enum rs_err auth_headers(struct auth *auth, const char *method, const char *url, char ***out);

/* Wipes and frees headers from auth_headers(); NULL is allowed. */
void auth_headers_free(char **headers);

/*
 * Makes every retry of a request on http (after a timeout, 429 or 5xx)
 * carry new credentials.  A retried API request gets a new DPoP proof, and
 * a retried token request a new client assertion too, because a server
 * may refuse an id (jti) it has seen.  auth_new() attaches its own client.
 * Attach every other client that sends requests with auth_headers(),
 * before creating its siblings.  auth must outlive the client's requests.
 */
void auth_attach(struct auth *auth, struct http_client *http);

/*
 * Drops the cached access token after a 401 so the next auth_headers()
 * fetches a new one.  Returns false when retrying cannot help: a static API
 * token, or a token already fetched again once in this run.
 */
bool auth_invalidate(struct auth *auth);

/*
 * Decides what to do after an API request returned 401 (response).  A DPoP
 * challenge (WWW-Authenticate: DPoP error="use_dpop_nonce" with a DPoP-Nonce
 * header) stores the nonce for the next proof; any other 401 calls
 * auth_invalidate().  Returns true when the caller should send the request
 * once more with new headers from auth_headers().
 */
bool auth_handle_unauthorized(struct auth *auth, const struct http_response *response);

/* True when a WWW-Authenticate header of response carries DPoP error="use_dpop_nonce". */
bool auth_challenge_asks_for_nonce(const struct http_response *response);

/*
 * Returns a number that changes whenever the access token or the API's
 * DPoP nonce does.  A request that was signed under an older number and
 * returned 401 can be sent again with the current credentials before
 * auth_handle_unauthorized() is asked: another request renewed them while
 * it was under way.
 */
unsigned auth_generation(const struct auth *auth);

/* True when the credential is an OAuth access token rather than an API token. */
bool auth_uses_oauth(const struct auth *auth);

/*
 * Replaces the clock that decides when a cached access token expires
 * (seconds, monotonic), so that tests can move time.  clock_fn NULL
 * restores CLOCK_MONOTONIC.
 */
void auth_set_clock(struct auth *auth, double (*clock_fn)(void *context), void *context);

#endif
