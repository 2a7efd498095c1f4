/*
 * okta.h - the Okta source: who is assigned to one app.
 *
 * okta_read() lists /api/v1/apps/{appId}/users?limit=500&expand=user page
 * by page (one page's JSON in memory at a time), then the app's group
 * assignments and each group's members, only to name the groups through
 * which a person was granted the app.  The app-user list decides who is
 * assigned; group listings never add anyone.  Paging follows Link rel="next"
 * to the same origin only.  Any failed, truncated or unparseable page makes
 * the whole read fail: the caller must not apply anything then.
 *
 * The parse functions take one response body and are what the unit tests
 * and fuzz targets drive.
 */
#ifndef ROSTERSYNC_OKTA_H
#define ROSTERSYNC_OKTA_H

#include <stddef.h>
#include "config.h"
#include "error.h"
#include "http.h"
#include "identity.h"
#include "secret.h"

/* Reads the whole assignment list into set (not finished). */
enum rs_err okta_read(const struct config *config, const struct secret *token,
		      struct http_client *http, struct identity_set *set);

/*
 * Maps one page of app users (a JSON array of AppUser objects with
 * _embedded.user) and appends one identity per element to set.  Returns
 * RS_ERR_PROTOCOL, with a logged reason naming the element, when the body
 * is not such an array or a field has the wrong type or size.
 */
enum rs_err okta_parse_app_users(const char *body, size_t len, struct identity_set *set);

/* Maps one Okta User object (GET /api/v1/users/{id}) to *out. */
enum rs_err okta_parse_user(const char *body, size_t len, struct identity *out);

/* Appends the ids of a page of app group assignments or of group users. */
enum rs_err okta_parse_id_list(const char *body, size_t len, char ***ids, size_t *count);

/*
 * Logs an Okta error response (errorCode, errorSummary, errorId, causes,
 * X-Okta-Request-Id) with what to do, and returns the matching error:
 * 401 and 403 give RS_ERR_PERMISSION, 404 RS_ERR_CONFIG, others
 * RS_ERR_PROTOCOL.
 */
enum rs_err okta_report_error(const struct http_response *response, const char *url);

/* Maps an Okta user status to a seat decision. */
enum identity_activity okta_status_activity(const char *status);

#endif
