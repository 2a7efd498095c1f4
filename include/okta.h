/*
 * okta.h - the Okta source: who is assigned to one app.
 *
 * okta_read() lists /api/v1/apps/{appId}/users?limit=500&expand=user page
 * by page (one page's JSON in memory at a time).  On a second connection,
 * in the waits for those pages, it lists the app's group assignments and
 * each group's members, only to name the groups through which a person was
 * granted the app.  The app-user list decides who is
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
#include "auth.h"
#include "config.h"
#include "error.h"
#include "http.h"
#include "identity.h"

/*
 * Reads the whole assignment list into set, with the credential headers of
 * auth on every request.  A request that returns 401 is sent once more when
 * auth_handle_unauthorized() allows it.  The set is finished
 * (identity_set_finish()) after the app-user list, so that group members
 * can be looked up by id with identity_set_find().  Finishing it again is
 * harmless.  On failure the set contains a partial read, which the caller
 * must release without applying anything.
 */
enum rs_err okta_read(const struct config *config, struct auth *auth,
		      struct http_client *http, struct identity_set *set);

/* Most pages read from one listing before the read is rejected. */
#define OKTA_MAX_PAGES 100000

/* One group assigned to the app. */
struct okta_group {
	char *id;
	char *name;   /* profile.name of _embedded.group, else the id */
};

/*
 * Maps one page of app users (a JSON array of AppUser objects with
 * _embedded.user) and appends one identity per element to set.  Returns
 * RS_ERR_PROTOCOL, with a logged reason naming the element, when the body
 * is not such an array or a field has the wrong type or size.
 */
enum rs_err okta_parse_app_users(const char *body, size_t len, struct identity_set *set);

/*
 * Maps one Okta User object (GET /api/v1/users/{id}) to *out, whose strings
 * the caller then owns and frees with identity_release().  direct is
 * false and groups are empty.  *out is zeroed on failure.
 */
enum rs_err okta_parse_user(const char *body, size_t len, struct identity *out);

/*
 * Appends the ids of a page of app group assignments or of group users
 * (a JSON array of objects with "id") to *ids, growing it; *count is the
 * number of ids.  On failure the ids appended so far stay in *ids.  Free
 * with okta_id_list_free().
 */
enum rs_err okta_parse_id_list(const char *body, size_t len, char ***ids, size_t *count);
void okta_id_list_free(char **ids, size_t count);

/*
 * Appends the groups of a page of app group assignments (requested with
 * expand=group) to *groups, like okta_parse_id_list().  Free with
 * okta_groups_free().
 */
enum rs_err okta_parse_app_groups(const char *body, size_t len, struct okta_group **groups,
				  size_t *count);
void okta_groups_free(struct okta_group *groups, size_t count);

/*
 * Logs an Okta error response (errorCode, errorSummary, errorId, causes,
 * X-Okta-Request-Id) with what to do, and returns the matching error:
 * 401 and 403 give RS_ERR_PERMISSION, 404 RS_ERR_CONFIG, 429
 * RS_ERR_TEMPFAIL, 5xx RS_ERR_UNAVAILABLE, others RS_ERR_PROTOCOL.  A body
 * that is not an Okta error is reported by its first 200 bytes.
 */
enum rs_err okta_report_error(const struct http_response *response, const char *url);

/* Maps an Okta user status to a seat decision. */
enum identity_activity okta_status_activity(const char *status);

#endif
