/*
 * graph.h - the Microsoft Graph source: who is assigned to one enterprise
 * app in Microsoft Entra ID.
 *
 * graph_read() finds the app's service principal by its appId, lists the
 * principals in its appRoleAssignedTo, and expands assigned groups to their
 * direct user members, because Entra grants app access only to direct
 * members of an assigned group (graph.nested_groups adds members of nested
 * groups).  Then it reads the attributes of directly assigned users that no
 * group listing returned.  Paging follows @odata.nextLink to the same origin only.  Any
 * failed, truncated or unparseable page makes the whole read fail: the
 * caller must not apply anything then.
 *
 * The parse functions take one response body and are what the unit tests
 * and fuzz targets drive.  They check every field they use (type, size,
 * UTF-8) and name the element and field when something is wrong.
 */
#ifndef ROSTERSYNC_GRAPH_H
#define ROSTERSYNC_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include "auth.h"
#include "config.h"
#include "error.h"
#include "http.h"
#include "identity.h"
#include "pagelog.h"

struct graph_service_principal;

/*
 * Reads the whole assignment list into set (not finished: the caller runs
 * identity_set_finish()).  auth supplies the Authorization header of every
 * request; a 401 drops its token once and repeats the request.  On failure
 * the set contains a partial read, which the caller must release without
 * applying anything.
 */
enum rs_err graph_read(const struct config *config, struct auth *auth,
		       struct http_client *http, struct identity_set *set);

/*
 * Finds the service principal of graph.app_id as graph_read() does (*sp is
 * released by the caller with graph_service_principal_release()).  Returns
 * RS_ERR_CONFIG, after logging the fix, when the tenant has no such app.
 */
enum rs_err graph_find_app(const struct config *config, struct auth *auth,
			   struct http_client *http, struct graph_service_principal *sp);

/*
 * GETs graph_url + "/v1.0" + path (already percent-encoded) with the
 * credential, as graph_read() does, for the checks of `rostersync test`.
 * Returns RS_OK for a 200 response.  Any other status is logged with
 * graph_report_error() (permission names the application permission the
 * request needs) and its error returned; *out still contains the response
 * then, and the caller releases it either way.
 */
enum rs_err graph_get(const struct config *config, struct auth *auth, struct http_client *http,
		      const char *path, const char *permission, struct http_response *out);

/* The application permissions that the requests of graph_read() need. */
#define GRAPH_PERMISSION_APPS "Application.Read.All"
#define GRAPH_PERMISSION_USERS "User.Read.All"
#define GRAPH_PERMISSION_MEMBERS "GroupMember.Read.All"

/* Most pages read from one listing before the read is rejected. */
#define GRAPH_MAX_PAGES 100000

/* Most groups expanded in one read, nested ones included. */
#define GRAPH_MAX_GROUPS 100000

/* $top of every listing: the largest page size Graph documents for users and members. */
#define GRAPH_PAGE_SIZE 999

/* Sub-requests in one JSON $batch request, Graph's maximum. */
#define GRAPH_BATCH_SIZE 20

/* The attributes read from every user, as a $select value. */
#define GRAPH_USER_SELECT \
	"id,userPrincipalName,mail,otherMails,givenName,surname,displayName,accountEnabled,userType"

/* ---- service principals ---- */

struct graph_service_principal {
	char *id;                  /* object id, used in later URLs */
	char *app_id;              /* appId, the application (client) id */
	char *display_name;        /* NULL when absent */
	bool assignment_required;  /* appRoleAssignmentRequired */
	bool assignment_required_known; /* false when the property was absent or null */
};

/*
 * Maps one servicePrincipal object (GET /servicePrincipals/{id}) to *out,
 * whose strings the caller frees with graph_service_principal_release().
 * Returns RS_ERR_PROTOCOL with a logged reason when the body is not such an
 * object; *out is zeroed then.
 */
enum rs_err graph_parse_service_principal(const char *body, size_t len,
					  struct graph_service_principal *out);

/*
 * Maps a servicePrincipal collection (the $filter=appId eq '...' listing):
 * *count receives the number of elements and *out the first one (zeroed
 * when there is none).  A nextLink in it is rejected, because appId is
 * unique and one page always contains the result.
 */
enum rs_err graph_parse_service_principal_list(const char *body, size_t len,
					       struct graph_service_principal *out,
					       size_t *count);

void graph_service_principal_release(struct graph_service_principal *sp);

/* ---- app role assignments ---- */

enum graph_principal_type {
	GRAPH_PRINCIPAL_USER = 0,
	GRAPH_PRINCIPAL_GROUP,
	GRAPH_PRINCIPAL_SERVICE_PRINCIPAL,
	GRAPH_PRINCIPAL_OTHER,     /* a type this build does not know */
};

struct graph_assignment {
	char *id;                  /* the assignment's own id, or NULL when absent */
	char *principal_id;
	char *display_name;        /* principalDisplayName; NULL when absent */
	enum graph_principal_type type;
};

/*
 * Appends the assignments of one appRoleAssignedTo page to *items (growing
 * it; *count is the number of items) and stores the page's @odata.nextLink
 * in *next_link (a new string, NULL on the last page).  where names the
 * page in log lines.  On failure the items appended so far stay in *items
 * and *next_link is NULL.  Free with graph_assignments_free().
 */
enum rs_err graph_parse_assignments(const char *where, const char *body, size_t len,
				    struct graph_assignment **items, size_t *count,
				    char **next_link);
void graph_assignments_free(struct graph_assignment *items, size_t count);

/*
 * Finds the top-level "@odata.nextLink" of a collection page by scanning
 * the text without building a tree, so that the next page can be requested
 * before this one is parsed.  Returns a new string, or NULL when the link
 * is absent or null, when it is not a non-empty string of printable ASCII
 * without escapes, or when the body cannot be scanned.  The parse functions
 * stay the authority on the link: a caller compares their result with this
 * one.
 */
char *graph_scan_next_link(const char *body, size_t len);

/* ---- directory objects: users, group members, $batch ---- */

/*
 * Receives the objects of a directory-object page, one call per element.
 * A user arrives as an identity whose strings stay valid only during the
 * call (direct false, no groups).  group and other may be NULL to ignore
 * those objects.  A callback that returns an error stops the page.
 */
struct graph_object_sink {
	enum rs_err (*user)(void *context, const struct identity *user);
	enum rs_err (*group)(void *context, const char *id, const char *display_name);
	void (*other)(void *context, const char *type, const char *id);
	void *context;
	/*
	 * When set, a user whose id it rejects is skipped before its other
	 * fields are read, so that a listing of the whole tenant is not
	 * failed by a user the read does not need.
	 */
	bool (*wants_user)(void *context, const char *id);
	struct page_ids *ids;  /* when set, receives the id of every object of the page */
};

/*
 * Maps one page of directory objects: a group's members or a user listing.
 * Elements without "@odata.type" count as users when users_untyped is true
 * (listings of /users and OData casts omit it); otherwise the type is
 * required.  A user whose userPrincipalName is missing was returned with
 * limited information, which Graph does when the app lacks User.Read.All:
 * that gives RS_ERR_PERMISSION with a logged reason.  *next_link is as for
 * graph_parse_assignments().
 */
enum rs_err graph_parse_objects(const char *where, const char *body, size_t len,
				bool users_untyped, const struct graph_object_sink *sink,
				char **next_link);

/*
 * Maps one user object (GET /users/{id}) to *out, whose strings the caller
 * then owns and frees with identity_release().  *out is zeroed on
 * failure.
 */
enum rs_err graph_parse_user(const char *body, size_t len, struct identity *out);

/*
 * Reads the @odata.count of a listing requested with $count=true, which
 * Graph adds only on the first page and only with ConsistencyLevel:
 * eventual.  Returns RS_ERR_PROTOCOL, and logs nothing, when the body has
 * no whole number there: the caller reads the users another way.
 */
enum rs_err graph_parse_count(const char *body, size_t len, long long *count);

/* The outcome of the sub-requests of one $batch response. */
struct graph_batch_result {
	char **not_found;          /* ids whose sub-request returned 404 */
	size_t not_found_count;
	char **retry;              /* ids whose sub-request should be sent again */
	size_t retry_count;
	double retry_after;        /* longest Retry-After among them, seconds; 0 if none */
	long retry_status;         /* status of the first of them; 0 for a missing step */
	char *retry_request_id;    /* its request id, or NULL */
};

/*
 * Maps a $batch response whose sub-request number i + 1 (its "id") was
 * GET /users/{ids[i]}: a 200 step goes to sink->user; 404 to not_found
 * (the user was deleted); 429, 500, 502, 503 and 504 to retry; 401 and 403
 * give RS_ERR_PERMISSION and any other status RS_ERR_PROTOCOL, each with a
 * logged reason.  The body of a 200 step must be a user whose id is
 * ids[i]; any other body gives RS_ERR_PROTOCOL.  A step missing from the
 * response is retried.  Release the result with
 * graph_batch_result_release(), also after a failure.
 */
enum rs_err graph_parse_batch(const char *where, const char *body, size_t len,
			      const char *const *ids, size_t id_count,
			      const struct graph_object_sink *sink,
			      struct graph_batch_result *result);
void graph_batch_result_release(struct graph_batch_result *result);

/* ---- errors ---- */

/* The fields of a Graph error body, as strings the struct owns. */
struct graph_error {
	char *code;                /* error.code, "" allowed */
	char *message;
	char *request_id;          /* innerError.request-id (or requestId) */
	char *client_request_id;
	char *date;
};

/*
 * Reads {"error":{"code","message","innerError":{...}}} into *out (new
 * strings, freed with graph_error_release()).  Returns false, with *out
 * zeroed, when body is not such an object.
 */
bool graph_parse_error(const char *body, size_t len, struct graph_error *out);
void graph_error_release(struct graph_error *error);

/*
 * Logs a Graph error response in one line (method, URL without its query,
 * status, code, message, request ids) with what to do, and returns the
 * matching error: 401 and 403 give RS_ERR_PERMISSION, 429 RS_ERR_TEMPFAIL,
 * 5xx RS_ERR_UNAVAILABLE, others RS_ERR_PROTOCOL.  permission names the
 * application permission the request needs ("GroupMember.Read.All"), for
 * the 403 hint; NULL leaves it out.  The hint of a 404 on a group's
 * members or on a user names that group or user.  A body that is not a
 * Graph error is quoted by its first 200 bytes.
 */
enum rs_err graph_report_error(const struct http_response *response, const char *method,
			       const char *url, const char *permission);

#endif
