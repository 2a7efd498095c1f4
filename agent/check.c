/*
 * check.c - `rostersync test`: one request per check, one line per check.
 *
 * The requests are the ones a sync makes, cut to one page, so that a check
 * that passes here means the same call works in a sync.  Failures are also
 * logged on stderr with the IdP's error code and request id, as a sync
 * logs them; the lines on stdout state in plain words what to fix.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth.h"
#include "check.h"
#include "graph.h"
#include "log.h"
#include "okta.h"
#include "roster.h"
#include "run.h"
#include "source.h"

enum outcome { OUTCOME_OK, OUTCOME_WARN, OUTCOME_SKIP, OUTCOME_FAIL };

struct checker {
	const struct config *config;
	FILE *out;
	struct auth *auth;
	struct http_client *http;
	enum rs_err first_error;   /* of the first failed check */
	size_t failures;
	char credential_source[4200]; /* where the credential is read, for messages */
};

static void report(struct checker *c, enum outcome outcome, const char *what,
		   const char *format, ...) __attribute__((format(printf, 4, 5)));

static void report(struct checker *c, enum outcome outcome, const char *what,
		   const char *format, ...)
{
	static const char *const words[] = { "ok  ", "warn", "skip", "FAIL" };
	va_list args;

	fprintf(c->out, "%s %s: ", words[outcome], what);
	va_start(args, format);
	vfprintf(c->out, format, args);
	va_end(args);
	fputc('\n', c->out);
	fflush(c->out);
}

/* Records a failed check; the first one decides the exit status. */
static void fail(struct checker *c, enum rs_err err)
{
	if (c->failures++ == 0)
		c->first_error = err;
}

static char *escape(const char *text)
{
	char *escaped = curl_easy_escape(NULL, text, 0);
	char *copy = escaped ? strdup(escaped) : NULL;

	curl_free(escaped);
	return copy;
}

/* ---- the credential ---- */

static bool check_credential(struct checker *c)
{
	struct http_options options;
	enum rs_err err;

	config_secret_source(c->config, c->credential_source, sizeof(c->credential_source));
	source_http_options(c->config, &options);
	err = http_client_new(&options, &c->http);
	if (err == RS_OK)
		err = auth_new(c->config, c->http, &c->auth);
	if (err != RS_OK) {
		report(c, OUTCOME_FAIL, "credentials", "cannot load the %s credential: see the "
		       "error above and check %s", config_source_title(c->config->source),
		       c->config->path);
		fail(c, err);
		return false;
	}
	report(c, OUTCOME_OK, "credentials", "read from %s", c->credential_source);
	return true;
}

/* Fetches an access token when the credential uses one. */
static bool check_token(struct checker *c, const char *url)
{
	char **headers = NULL;
	enum rs_err err;

	if (!auth_uses_oauth(c->auth))
		return true;
	err = auth_headers(c->auth, "GET", url, &headers);
	auth_headers_free(headers);
	if (err != RS_OK) {
		report(c, OUTCOME_FAIL, "token", "no access token from %s: %s",
		       c->config->source == CONFIG_SOURCE_GRAPH ? c->config->graph.login_url :
		       c->config->okta.org_url,
		       err == RS_ERR_PERMISSION ? "the client id or secret was rejected (see the "
		       "error above)" : "see the error above");
		fail(c, err);
		return false;
	}
	report(c, OUTCOME_OK, "token", "access token fetched");
	return true;
}

/* ---- Okta ---- */

/* GETs org_url + path with the credential; repeats once after a 401 when that can help. */
static enum rs_err okta_get(struct checker *c, const char *path, struct http_response *out)
{
	char *url = NULL;
	char **headers = NULL;
	enum rs_err err = RS_OK;

	memset(out, 0, sizeof(*out));
	if (asprintf(&url, "%s%s", c->config->okta.org_url, path) < 0)
		return RS_ERR_INTERNAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		err = auth_headers(c->auth, "GET", url, &headers);
		if (err == RS_OK)
			err = http_get(c->http, url, (const char *const *)headers, out);
		auth_headers_free(headers);
		headers = NULL;
		if (err != RS_OK || out->status != 401 || attempt == 1 ||
		    !auth_handle_unauthorized(c->auth, out))
			break;
		http_response_release(out);
	}
	if (err == RS_OK && out->status != 200)
		err = okta_report_error(out, url);
	free(url);
	return err;
}

/* Prints the FAIL line for a failed Okta request. */
static void okta_failed(struct checker *c, const char *what, const struct http_response *response,
			enum rs_err err)
{
	if (response->status == 401)
		report(c, OUTCOME_FAIL, "token", "Okta rejected the credential: check %s",
		       c->credential_source);
	else if (response->status == 403)
		report(c, OUTCOME_FAIL, "permission", "reading %s was denied: the API token's admin "
		       "needs a role that can read apps, users and groups (Read-only "
		       "Administrator), or the OAuth client the scopes okta.apps.read, "
		       "okta.users.read and okta.groups.read", what);
	else if (response->status == 404)
		report(c, OUTCOME_FAIL, what, "not found: check okta.app_id and okta.org_url");
	else if (response->status != 0)
		report(c, OUTCOME_FAIL, what, "Okta returned %ld: see the error above",
		       response->status);
	else if (err == RS_ERR_CONFIG)
		report(c, OUTCOME_FAIL, what, "the request could not be made: see the error "
		       "above, and check http.ca_file and http.proxy");
	else
		report(c, OUTCOME_FAIL, what, "Okta could not be reached: see the error above");
	fail(c, err);
}

/*
 * Reports the app that GET /api/v1/apps/{id} returned.  Returns false when
 * the body is not an app object, such as a proxy's or a sign-in page.
 */
static bool okta_report_app(struct checker *c, const struct http_response *response)
{
	cJSON *app = cJSON_ParseWithLength(response->body, response->body_len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(app, "id");
	const cJSON *label = cJSON_GetObjectItemCaseSensitive(app, "label");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(app, "status");
	const char *state = cJSON_IsString(status) ? status->valuestring : "unknown";
	const char *type = http_response_header(response, "Content-Type", 0);

	if (!cJSON_IsObject(app) || !cJSON_IsString(id)) {
		report(c, OUTCOME_FAIL, "app", "%s/api/v1/apps/%s returned %ld with a body that is "
		       "not an Okta app (Content-Type %.80s): check that okta.org_url is the Okta "
		       "org itself, not a proxy or a sign-in page", c->config->okta.org_url,
		       c->config->okta.app_id, response->status, type ? type : "missing");
		fail(c, RS_ERR_PROTOCOL);
		cJSON_Delete(app);
		return false;
	}
	report(c, strcmp(state, "ACTIVE") == 0 ? OUTCOME_OK : OUTCOME_WARN, "app",
	       "%.200s (%s), status %.32s", cJSON_IsString(label) ? label->valuestring : "no label",
	       c->config->okta.app_id, state);
	cJSON_Delete(app);
	return true;
}

/* Reads one page of app users and parses it as a sync would. */
static bool okta_check_users(struct checker *c, const char *app)
{
	struct http_response response;
	struct identity_set set;
	char path[512];
	enum rs_err err;

	snprintf(path, sizeof(path), "/api/v1/apps/%s/users?limit=1&expand=user", app);
	identity_set_init(&set);
	err = okta_get(c, path, &response);
	if (err == RS_OK)
		err = okta_parse_app_users(response.body, response.body_len, &set);
	if (err == RS_OK)
		report(c, OUTCOME_OK, "assignments", "app users readable (%zu on a page of 1)",
		       set.count);
	else
		okta_failed(c, "app users", &response, err);
	identity_set_release(&set);
	http_response_release(&response);
	return err == RS_OK;
}

static void okta_check_group_members(struct checker *c, const struct okta_group *group)
{
	struct http_response response;
	char *id = escape(group->id);
	char path[512];
	char **ids = NULL;
	size_t count = 0;
	enum rs_err err = id ? RS_OK : RS_ERR_INTERNAL;

	snprintf(path, sizeof(path), "/api/v1/groups/%s/users?limit=1", id ? id : "");
	if (err == RS_OK)
		err = okta_get(c, path, &response);
	if (err == RS_OK)
		err = okta_parse_id_list(response.body, response.body_len, &ids, &count);
	if (err == RS_OK)
		report(c, OUTCOME_OK, "group members", "readable (the first assigned group, "
		       "%.200s; a sync reads the members of every assigned group)", group->name);
	else
		okta_failed(c, "group members", &response, err);
	okta_id_list_free(ids, count);
	http_response_release(&response);
	free(id);
}

static void okta_check_groups(struct checker *c, const char *app)
{
	struct http_response response;
	struct okta_group *groups = NULL;
	size_t count = 0;
	char path[512];
	enum rs_err err;

	snprintf(path, sizeof(path), "/api/v1/apps/%s/groups?limit=1&expand=group", app);
	err = okta_get(c, path, &response);
	if (err == RS_OK)
		err = okta_parse_app_groups(response.body, response.body_len, &groups, &count);
	if (err != RS_OK)
		okta_failed(c, "group assignments", &response, err);
	else if (count == 0)
		report(c, OUTCOME_SKIP, "group members", "no group is assigned to the app");
	else
		okta_check_group_members(c, &groups[0]);
	okta_groups_free(groups, count);
	http_response_release(&response);
}

static void check_okta(struct checker *c)
{
	struct http_response response;
	char *app = escape(c->config->okta.app_id);
	char path[512];
	enum rs_err err;

	if (!app || !check_token(c, c->config->okta.org_url)) {
		free(app);
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/apps/%s", app);
	err = okta_get(c, path, &response);
	if (err == RS_OK && !okta_report_app(c, &response))
		err = RS_ERR_PROTOCOL;
	else if (err != RS_OK)
		okta_failed(c, "app", &response, err);
	http_response_release(&response);
	if (err == RS_OK && okta_check_users(c, app))
		okta_check_groups(c, app);
	free(app);
}

/* ---- Microsoft Graph ---- */

/* Objects that one Graph check found and a later check reads. */
struct graph_found {
	char *group_id;
	char *group_name;
	bool group_assigned;   /* group_id came from the app's assignments */
	char *user_id;
	bool limited;          /* a user came back without its attributes */
};

static void graph_found_release(struct graph_found *found)
{
	free(found->group_id);
	free(found->group_name);
	free(found->user_id);
}

/* Prints the FAIL line for a failed Graph request. */
static void graph_failed(struct checker *c, const char *what, const char *permission,
			 const struct http_response *response, enum rs_err err)
{
	if (response->status == 403)
		report(c, OUTCOME_FAIL, "permission", "the app needs %s (application permission) "
		       "with admin consent", permission);
	else if (response->status == 401)
		report(c, OUTCOME_FAIL, "token", "Microsoft Graph rejected the access token even "
		       "after a new one was fetched: check graph.tenant_id and graph.client_id");
	else if (response->status != 0)
		report(c, OUTCOME_FAIL, what, "Microsoft Graph returned %ld: see the error above",
		       response->status);
	else if (err == RS_ERR_PERMISSION)
		report(c, OUTCOME_FAIL, "permission", "the app needs %s (application permission) "
		       "with admin consent", permission);
	else
		report(c, OUTCOME_FAIL, what, "%s: see the error above",
		       err == RS_ERR_PROTOCOL ? "the answer was not understood" :
		       err == RS_ERR_CONFIG ? "the request could not be made (check "
					      "http.ca_file and http.proxy)" :
		       "Microsoft Graph could not be reached");
	fail(c, err);
}

static bool graph_check_app(struct checker *c, struct graph_service_principal *sp)
{
	enum rs_err err = graph_find_app(c->config, c->auth, c->http, sp);

	if (err == RS_ERR_CONFIG) {
		report(c, OUTCOME_FAIL, "app", "no enterprise app with appId %s in tenant %s: check "
		       "graph.app_id", c->config->graph.app_id, c->config->graph.tenant_id);
		fail(c, err);
		return false;
	}
	if (err != RS_OK) {
		struct http_response none = { 0 };

		none.status = err == RS_ERR_PERMISSION ? 403 : 0;
		graph_failed(c, "app", GRAPH_PERMISSION_APPS, &none, err);
		return false;
	}
	report(c, OUTCOME_OK, "app", "enterprise app %.200s (appId %s, service principal %s)",
	       sp->display_name ? sp->display_name : "without a name", c->config->graph.app_id,
	       sp->id);
	if (!sp->assignment_required_known || !sp->assignment_required)
		report(c, OUTCOME_WARN, "app", "assignment is not required: every user of the "
		       "tenant can sign in, but only assigned users and groups are synced");
	return true;
}

static void remember_assignments(struct graph_found *found, const struct graph_assignment *items,
				 size_t count, size_t *users, size_t *groups)
{
	for (size_t i = 0; i < count; i++) {
		if (items[i].type == GRAPH_PRINCIPAL_USER) {
			(*users)++;
			if (!found->user_id)
				found->user_id = strdup(items[i].principal_id);
		} else if (items[i].type == GRAPH_PRINCIPAL_GROUP) {
			(*groups)++;
			if (!found->group_id) {
				found->group_id = strdup(items[i].principal_id);
				found->group_name = strdup(items[i].display_name ?
							   items[i].display_name :
							   items[i].principal_id);
				found->group_assigned = true;
			}
		}
	}
}

static void graph_check_assignments(struct checker *c, const char *sp_id,
				    struct graph_found *found)
{
	struct http_response response;
	struct graph_assignment *items = NULL;
	size_t count = 0, users = 0, groups = 0;
	char *id = escape(sp_id);
	char *next = NULL;
	char path[512];
	enum rs_err err = id ? RS_OK : RS_ERR_INTERNAL;

	snprintf(path, sizeof(path), "/servicePrincipals/%s/appRoleAssignedTo?$select=id,"
		 "principalId,principalType,principalDisplayName&$top=100", id ? id : "");
	if (err == RS_OK)
		err = graph_get(c->config, c->auth, c->http, path, GRAPH_PERMISSION_APPS, &response);
	if (err == RS_OK)
		err = graph_parse_assignments("assignments", response.body, response.body_len,
					      &items, &count, &next);
	if (err == RS_OK) {
		remember_assignments(found, items, count, &users, &groups);
		report(c, OUTCOME_OK, "assignments", "%zu on the first page: %zu %s, %zu %s%s",
		       count, users, users == 1 ? "user" : "users", groups,
		       groups == 1 ? "group" : "groups", next ? ", more pages follow" : "");
	} else {
		graph_failed(c, "assignments", GRAPH_PERMISSION_APPS, &response, err);
	}
	graph_assignments_free(items, count);
	http_response_release(&response);
	free(next);
	free(id);
}

static enum rs_err note_user(void *context, const struct identity *user)
{
	struct graph_found *found = context;

	if (!found->user_id)
		found->user_id = strdup(user->external_id);
	return found->user_id ? RS_OK : RS_ERR_INTERNAL;
}

static enum rs_err note_group(void *context, const char *id, const char *name)
{
	struct graph_found *found = context;

	if (found->group_id)
		return RS_OK;
	found->group_id = strdup(id);
	found->group_name = strdup(name ? name : id);
	return found->group_id && found->group_name ? RS_OK : RS_ERR_INTERNAL;
}

/* GETs a Graph listing and hands its objects to found. */
static enum rs_err graph_list(struct checker *c, const char *path, const char *permission,
			      bool users_untyped, struct graph_found *found,
			      struct http_response *response)
{
	const struct graph_object_sink sink = { note_user, note_group, NULL, found, NULL, NULL };
	char *next = NULL;
	enum rs_err err = graph_get(c->config, c->auth, c->http, path, permission, response);

	if (err == RS_OK)
		err = graph_parse_objects("check", response->body, response->body_len, users_untyped,
					  &sink, &next);
	free(next);
	return err;
}

/* Stores the id and name of the first group of a GET /groups page in found. */
static void note_first_group(struct graph_found *found, const struct http_response *response)
{
	cJSON *root = cJSON_ParseWithLength(response->body, response->body_len);
	const cJSON *group = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "value"), 0);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(group, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(group, "displayName");

	if (cJSON_IsString(id) && id->valuestring[0] != '\0' &&
	    strlen(id->valuestring) <= IDENTITY_MAX_ID && identity_text_valid(id->valuestring) &&
	    (!cJSON_IsString(name) || identity_text_valid(name->valuestring)))
		note_group(found, id->valuestring, cJSON_IsString(name) ? name->valuestring : NULL);
	cJSON_Delete(root);
}

/* Finds a group to read when none is assigned: GET /groups needs the same permission. */
static void graph_find_group(struct checker *c, struct graph_found *found)
{
	struct http_response response;
	enum rs_err err = graph_get(c->config, c->auth, c->http,
				    "/groups?$select=id,displayName&$top=1", GRAPH_PERMISSION_MEMBERS,
				    &response);

	if (err == RS_OK)
		note_first_group(found, &response);
	if (!found->group_id)
		log_msg(LOG_DEBUG, "no group found to check the members of");
	http_response_release(&response);
}

/*
 * Prints the FAIL line for a group whose members returned 404.  A sync
 * then fails with RS_ERR_UNAVAILABLE, because it cannot know whom the
 * group grants the app to, and the check fails with the same error.
 */
static void graph_missing_group(struct checker *c, const struct graph_found *found)
{
	if (found->group_assigned)
		report(c, OUTCOME_FAIL, "group members", "group %.200s (%s) is assigned to the app "
		       "but was not found: if it was deleted, remove its assignment from the "
		       "enterprise app", found->group_name, found->group_id);
	else
		report(c, OUTCOME_FAIL, "group members", "group %.200s (%s) was not found: run the "
		       "test again", found->group_name, found->group_id);
	fail(c, RS_ERR_UNAVAILABLE);
}

static void graph_check_members(struct checker *c, struct graph_found *found)
{
	struct http_response response;
	char path[512];
	char *id;
	enum rs_err err;

	if (!found->group_id)
		graph_find_group(c, found);
	if (!found->group_id) {
		report(c, OUTCOME_SKIP, "group members", "no group found to read");
		return;
	}
	id = escape(found->group_id);
	snprintf(path, sizeof(path), "/groups/%s/members?$select=%s&$top=1", id ? id : "",
		 GRAPH_USER_SELECT);
	err = graph_list(c, path, GRAPH_PERMISSION_MEMBERS, false, found, &response);
	if (err == RS_OK) {
		report(c, OUTCOME_OK, "group members", "readable (group %.200s)", found->group_name);
	} else if (err == RS_ERR_PERMISSION && response.status == 200) {
		report(c, OUTCOME_FAIL, "permission", "group members come back with limited "
		       "information: the app needs %s (application permission) with admin consent",
		       GRAPH_PERMISSION_USERS);
		found->limited = true;
		fail(c, err);
	} else if (response.status == 404) {
		graph_missing_group(c, found);
	} else {
		graph_failed(c, "group members", GRAPH_PERMISSION_MEMBERS, &response, err);
	}
	http_response_release(&response);
	free(id);
}

/* Stores the userPrincipalName of the first user of a listing in *context. */
static enum rs_err note_first_user_name(void *context, const struct identity *user)
{
	char **user_name = context;

	if (*user_name || !user->user_name)
		return RS_OK;
	*user_name = strdup(user->user_name);
	return *user_name ? RS_OK : RS_ERR_INTERNAL;
}

/* Reads the first user of the tenant's user list and names it. */
static void graph_check_first_user(struct checker *c)
{
	char *user_name = NULL;
	const struct graph_object_sink sink = { note_first_user_name, NULL, NULL, &user_name,
						NULL, NULL };
	struct http_response response;
	char *next = NULL;
	char path[512];
	enum rs_err err;

	snprintf(path, sizeof(path), "/users?$select=%s&$top=1", GRAPH_USER_SELECT);
	err = graph_get(c->config, c->auth, c->http, path, GRAPH_PERMISSION_USERS, &response);
	if (err == RS_OK)
		err = graph_parse_objects("users", response.body, response.body_len, true, &sink,
					  &next);
	if (err == RS_OK && user_name)
		report(c, OUTCOME_OK, "users", "readable (%.200s, the first user of the tenant)",
		       user_name);
	else if (err == RS_OK)
		report(c, OUTCOME_OK, "users", "readable, but the tenant's user list is empty");
	else
		graph_failed(c, "users", GRAPH_PERMISSION_USERS, &response, err);
	http_response_release(&response);
	free(user_name);
	free(next);
}

/*
 * Reads the assigned user that an earlier check found.  When there is
 * none, or it was not found, the first user of the tenant is read instead.
 */
static void graph_check_user(struct checker *c, struct graph_found *found)
{
	struct http_response response;
	struct identity user = { 0 };
	char path[512];
	char *id = found->user_id ? escape(found->user_id) : NULL;
	enum rs_err err;

	if (found->limited)
		goto out;
	if (!id) {
		graph_check_first_user(c);
		goto out;
	}

	snprintf(path, sizeof(path), "/users/%s?$select=%s", id, GRAPH_USER_SELECT);
	err = graph_get(c->config, c->auth, c->http, path, GRAPH_PERMISSION_USERS, &response);
	if (err == RS_OK)
		err = graph_parse_user(response.body, response.body_len, &user);
	if (err == RS_OK) {
		report(c, OUTCOME_OK, "users", "readable (%.200s)",
		       user.user_name ? user.user_name : found->user_id);
	} else if (response.status == 404) {
		report(c, OUTCOME_WARN, "users", "assigned user %s was not found, perhaps deleted",
		       found->user_id);
		graph_check_first_user(c);
	} else {
		graph_failed(c, "users", GRAPH_PERMISSION_USERS, &response, err);
	}
	identity_release(&user);
	http_response_release(&response);
out:
	free(id);
}

static void check_graph(struct checker *c)
{
	struct graph_service_principal sp = { 0 };
	struct graph_found found = { 0 };

	if (!check_token(c, c->config->graph.graph_url))
		return;
	if (graph_check_app(c, &sp))
		graph_check_assignments(c, sp.id, &found);
	else if (c->first_error != RS_ERR_PERMISSION)
		goto out;
	graph_check_members(c, &found);
	graph_check_user(c, &found);

out:
	graph_found_release(&found);
	graph_service_principal_release(&sp);
}

/* ---- the roster ---- */

/*
 * Checks that the directory of path exists and that this user may create
 * files in it: a sync writes its lock file and the WAL files there.
 */
static bool check_roster_directory(struct checker *c, const char *path)
{
	char *copy = strdup(path);
	const char *dir = copy ? dirname(copy) : NULL;
	bool ok = dir && access(dir, W_OK | X_OK) == 0;

	if (dir && !ok) {
		report(c, OUTCOME_FAIL, "roster", "the directory %s of roster.path %s (uid %u): "
		       "create it, give the user that runs rostersync write access to it, or fix "
		       "roster.path", dir, errno == ENOENT ? "does not exist" :
		       "is not writable by this user", (unsigned)geteuid());
		fail(c, RS_ERR_IO);
	}
	free(copy);
	return ok;
}

/*
 * Checks that a sync may write the roster: that its directory is writable,
 * that the file is sound and writable with its -wal and -shm files, that it
 * is not released and that no other source or app manages it.  A
 * roster that does not exist yet is fine, and it is not created here.
 */
static void check_roster(struct checker *c)
{
	const char *path = c->config->roster.path;
	struct roster *roster = NULL;
	struct roster_team team = { 0 };
	char refusal[1024];
	char problem[1024];
	enum rs_err err;

	if (!check_roster_directory(c, path))
		return;
	if (access(path, F_OK) != 0) {
		report(c, OUTCOME_OK, "roster", "%s does not exist yet; the first sync creates it",
		       path);
		return;
	}

	err = roster_open(path, &roster);
	if (err == RS_OK)
		err = roster_team_get(roster, &team);
	if (err == RS_OK)
		err = roster_integrity(roster, problem, sizeof(problem));
	if (err != RS_OK) {
		report(c, OUTCOME_FAIL, "roster", "%s cannot be read (see the error above)", path);
		fail(c, err);
	} else if (problem[0]) {
		report(c, OUTCOME_FAIL, "roster", "%s fails SQLite's quick check (%s): restore it "
		       "from a backup, as described under \"Backup and restore\" in docs/roster.md",
		       path, problem);
		fail(c, RS_ERR_IO);
	} else if (roster_unwritable_file(path, problem, sizeof(problem))) {
		report(c, OUTCOME_FAIL, "roster", "a sync cannot write the roster: %s", problem);
		fail(c, RS_ERR_IO);
	} else if (run_refusal(&team, c->config, refusal, sizeof(refusal))) {
		report(c, OUTCOME_FAIL, "roster", "%s", refusal);
		fail(c, RS_ERR_PERMISSION);
	} else if (team.source && roster_agent_write_left(roster)) {
		report(c, OUTCOME_WARN, "roster", "%s can be synced from %s, but a row in its "
		       "agent_write table, written outside rostersync, lets manual changes past the "
		       "triggers; the next sync deletes it", path,
		       config_source_title(c->config->source));
	} else {
		report(c, OUTCOME_OK, "roster", "%s can be synced from %s", path,
		       config_source_title(c->config->source));
	}
	roster_team_release(&team);
	roster_close(roster);
}

enum rs_err check_run(const struct config *config, FILE *out)
{
	struct checker c = { .config = config, .out = out, .first_error = RS_OK };

	fprintf(out, "checking %s for tenant %s (%s)\n", config_source_title(config->source),
		config->tenant, config->path);
	if (check_credential(&c)) {
		if (config->source == CONFIG_SOURCE_GRAPH)
			check_graph(&c);
		else
			check_okta(&c);
	}
	check_roster(&c);
	if (c.failures == 0)
		fprintf(out, "result: a sync can run\n");
	else
		fprintf(out, "result: %zu %s failed: fix %s and run the test again\n", c.failures,
			c.failures == 1 ? "check" : "checks", c.failures == 1 ? "it" : "them");
	auth_free(c.auth);
	http_client_free(c.http);
	return c.failures == 0 ? RS_OK : c.first_error;
}
