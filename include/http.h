/*
 * http.h - HTTPS GET for the IdP sources, with the one retry policy.
 *
 * One struct http_client owns one libcurl easy handle, run by one multi
 * handle, so the connection and TLS session are reused across pages.  TLS verification is always on,
 * redirects are never followed, and http:// is accepted only for loopback
 * hosts (127.0.0.0/8, ::1, localhost).  Response bodies are capped.
 *
 * Retries happen here and nowhere else: connection failures, timeouts,
 * 429, 500, 502, 503 and 504 are transient.  The wait comes from
 * Retry-After (seconds, decimals allowed, or an HTTP date), else from
 * Okta's X-Rate-Limit-Reset measured against the response Date, else from
 * exponential backoff with full jitter.  Waits are capped by max_wait, and
 * all waiting in one client and its siblings by retry_budget.  Each retry
 * is logged with the status, the wait and the IdP request id.  A caller
 * that finds transient failures inside a 200 response, such as the
 * sub-requests of a Graph $batch, sends them again itself, but waits
 * through http_wait_for_retry() under the same policy.
 */
#ifndef ROSTERSYNC_HTTP_H
#define ROSTERSYNC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "error.h"

struct http_client;

struct http_options {
	long timeout;         /* seconds per request */
	long max_retries;     /* retries after the first attempt */
	long retry_budget;    /* seconds of waiting in all, per client */
	long max_wait;        /* longest single wait, seconds */
	const char *ca_file;  /* NULL: the system default */
	const char *proxy;    /* NULL: libcurl's environment handling */
	size_t max_body;      /* bytes; 0 means 64 MiB */
};

struct http_header {
	char *name;
	char *value;
};

struct http_response {
	long status;
	char *body;           /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	struct http_header *headers; /* in arrival order; repeats kept */
	size_t header_count;
};

struct http_stats {
	long requests;
	long retries;
	long long bytes;      /* body bytes received */
	long connections;     /* connections opened; 1 when every request reused the first */
};

enum rs_err http_client_new(const struct http_options *options, struct http_client **out);
void http_client_free(struct http_client *client);

/*
 * Creates a second client with the options of client, for requests that
 * run while one of client's is pending.  It opens its own connection, and
 * shares client's retry budget and rate-limit pause, so client must
 * outlive it.
 */
enum rs_err http_client_sibling(struct http_client *client, struct http_client **out);

/* Adds the counts of other to those of client, for one figure per read. */
void http_client_add_stats(struct http_client *client, const struct http_client *other);

/*
 * The parts of a request that must be new for every attempt.  A DPoP
 * proof or a client assertion has an id (jti) that a server may keep to
 * refuse a replay, and an access token may expire during a long wait.
 * headers: the NULL-terminated "Name: value" lines of the next attempt.
 * body: its body, for a POST, or NULL to send the same body again.  http
 * wipes and frees both after the attempt.
 */
struct http_renewal {
	char **headers;
	char *body;
	size_t body_len;
};

/*
 * Builds *out for the next attempt of the request method url, whose first
 * attempt sent headers.  Leaving out->headers NULL sends the same headers
 * again.  An error ends the request with that error.
 */
typedef enum rs_err (*http_renew_fn)(void *context, const char *method, const char *url,
				     const char *const *headers, struct http_renewal *out);

/*
 * Makes client call renew before every retry of a request, so that no
 * retry repeats a credential that must be used once.  Siblings created
 * afterwards inherit it.  context must outlive the client's requests.
 */
void http_client_set_renew(struct http_client *client, http_renew_fn renew, void *context);

/*
 * GETs url with the extra request headers (NULL-terminated "Name: value"
 * strings; they may carry credentials and are never logged).  Retries
 * transient failures as described above.  Returns:
 *   RS_OK               *out holds the final response whatever its status,
 *                       so the caller maps 4xx
 *   RS_ERR_UNAVAILABLE  the server stayed unreachable or kept returning 5xx
 *   RS_ERR_TEMPFAIL     429 did not clear within the retries and budget
 *   RS_ERR_CONFIG       url is not allowed (scheme or host)
 *   RS_ERR_PROTOCOL     the body exceeds max_body, or the response cannot
 *                       be decoded
 * Every error is logged here.  *out is empty unless RS_OK is returned.
 */
enum rs_err http_get(struct http_client *client, const char *url,
		     const char *const *headers, struct http_response *out);

/*
 * Starts a GET of url like http_get() and returns without waiting for the
 * response, so the caller can work on the previous page while the server
 * prepares the next one.  http_get_finish() waits for the response, with
 * the retries and results of http_get().  One request can be pending per
 * client: starting another, or any other request, cancels it.  While a
 * sibling client (http_client_sibling()) waits for a response or sleeps
 * before a retry, it drives the pending GET on, so that the GET's timeout
 * does not run out unread.  Returns RS_ERR_CONFIG for a URL that is not
 * allowed, RS_ERR_INTERNAL when memory runs out; nothing is pending then.
 */
enum rs_err http_get_start(struct http_client *client, const char *url,
			   const char *const *headers);

/*
 * Waits for the GET that http_get_start() began and returns what
 * http_get() would have returned for it.  RS_ERR_INTERNAL when no GET is
 * pending.
 */
enum rs_err http_get_finish(struct http_client *client, struct http_response *out);

/* Abandons the pending GET, if any; its connection is closed when it was in use. */
void http_get_cancel(struct http_client *client);

/*
 * POSTs body_len bytes of body with the same checks, retries and results
 * as http_get().  headers must include the Content-Type.  Only requests
 * that may be repeated safely (token requests, read-only queries such as
 * Graph's getByIds and $batch of GETs) go through here, because transient
 * failures are retried.
 */
enum rs_err http_post(struct http_client *client, const char *url,
		      const char *const *headers, const char *body, size_t body_len,
		      struct http_response *out);

void http_response_release(struct http_response *response);

/*
 * Waits before retry number retry (1 for the first) of a transient failure
 * that the caller retries itself, with the policy of http_get().
 * requested is the wait in seconds that the server requested
 * (Retry-After), or 0 for backoff with full jitter.  subject describes the
 * failure in the log lines, in the shape "GET URL returned 429 (request id
 * X)".  The retry is logged as a warning and counted in the client's
 * stats, and its wait is taken from the retry budget.  Returns RS_OK after
 * the wait.
 *
 * No retry is made when max_retries retries were made, when requested
 * exceeds max_wait, or when the wait would exceed the retry budget that
 * client shares with its siblings.  Then the reason is logged, and the
 * result is RS_ERR_TEMPFAIL when rate_limited (the failure was a 429),
 * else RS_ERR_UNAVAILABLE.
 */
enum rs_err http_wait_for_retry(struct http_client *client, const char *subject, long retry,
				double requested, bool rate_limited);

/* The index-th value of header name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *response,
				 const char *name, size_t index);

/* The request id an IdP sent (X-Okta-Request-Id, request-id), or NULL. */
const char *http_response_request_id(const struct http_response *response);

struct http_stats http_client_stats(const struct http_client *client);

/* True when url is https://, or http:// to a loopback host. */
bool http_url_allowed(const char *url);

/* True when a and b have the same scheme, host and port. */
bool http_same_origin(const char *a, const char *b);

/*
 * Finds the rel="next" target in the Link header values (several values,
 * each possibly a comma-joined list).  Returns a new string or NULL.
 */
char *http_link_next(const char *const *values, size_t count);

/*
 * Does what http_link_next() does, but distinguishes a malformed header
 * from a missing link.  Returns false when a value does not follow RFC 8288 or
 * when two different rel="next" targets are present; *next is then NULL.
 * Returns true with *next a new string, or NULL when no link has rel="next".
 * A pager must stop with an error on false: reading a malformed header as
 * "no next page" would silently drop the remaining pages.
 */
bool http_link_parse_next(const char *const *values, size_t count, char **next);

/*
 * Parses Retry-After (delta seconds, decimals allowed, or an HTTP date
 * compared with now).  Returns false when value is not valid.
 */
bool http_parse_retry_after(const char *value, time_t now, double *seconds);

/* Parses an RFC 9110 HTTP date (IMF-fixdate, RFC 850, asctime). */
bool http_parse_date(const char *value, time_t *out);

/*
 * Computes the wait for Okta's X-Rate-Limit-Reset values (epoch seconds;
 * repeated or comma-joined headers use the earliest) measured against the
 * response Date (or now when date is NULL or invalid).  The result is at
 * least 1 second.  Returns false when no value is valid.
 */
bool http_parse_rate_limit_reset(const char *const *values, size_t count,
				 const char *date, time_t now, double *seconds);

/* Shortest wait before a retry, in seconds. */
#define HTTP_MIN_WAIT 0.05

/*
 * Computes the wait before retry number retry (1 for the first) after a
 * transient failure.  response is the failed response, or NULL after a
 * transport error.  The wait comes from Retry-After when present.  Else a
 * 429 waits for X-Rate-Limit-Reset, measured against Date.  Else the wait
 * is full-jitter backoff: jitter * min(max_wait, 2^(retry - 1)), with
 * jitter in [0, 1).  The result lies in [HTTP_MIN_WAIT, max_wait].
 */
double http_retry_wait(const struct http_response *response, long retry, double max_wait,
		       time_t now, double jitter);

/*
 * Computes the pause before the next request when response shows the rate
 * limit nearly used: X-Rate-Limit-Remaining at most 2, or at most a tenth
 * of X-Rate-Limit-Limit.  The pause lasts until X-Rate-Limit-Reset (as
 * http_parse_rate_limit_reset() measures it).  Returns 0 when no pause is
 * needed or the headers are missing or invalid; the caller applies max_wait
 * and the retry budget.
 */
double http_pace_wait(const struct http_response *response, time_t now);

/*
 * Replaces the function that client calls to wait, so that tests can
 * record waits instead of sleeping.  sleep_fn NULL restores nanosleep(2).
 */
void http_client_set_sleep(struct http_client *client,
			   void (*sleep_fn)(void *context, double seconds), void *context);

#endif
