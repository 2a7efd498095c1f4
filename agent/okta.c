/*
 * okta.c - reads the users assigned to one Okta app.
 *
 * The parsers take one response body, check every field they use (type,
 * size, UTF-8) and name the element and field when something is wrong.
 * The reader pages through each listing with one page's JSON in memory at
 * a time and fails the whole read on the first page it cannot use.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth.h"
#include "json_arena.h"
#include "json_field.h"
#include "log.h"
#include "unicode.h"
#include "logline.h"
#include "okta.h"
#include "pagelog.h"
#include "strpool.h"

/* Page sizes: the maximum for app users and app groups, the default for group members. */
#define APP_USERS_LIMIT 500
#define APP_GROUPS_LIMIT 200
#define GROUP_USERS_LIMIT 1000

#define STRINGIFY_VALUE(x) #x
#define STRINGIFY(x) STRINGIFY_VALUE(x)

/* Maximum length of status and scope values, in bytes. */
#define MAX_ENUM_LEN 64

/* ---- fields ---- */

/* Reads an object member into *out (NULL when absent or null). */
static bool get_object(const struct json_element *element, const cJSON *object, const char *key,
		       const char *path, const cJSON **out)
{
	const cJSON *item = object ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsObject(item)) {
		json_field_error(element, "%s is %s, expected an object", path,
				 json_field_type_name(item));
		return false;
	}
	*out = item;
	return true;
}

/*
 * Reads a short enumeration value (status, scope): 1 to MAX_ENUM_LEN
 * printable ASCII bytes.  Unlike json_field_ascii(), it rejects "".
 */
static bool get_enum(const struct json_element *element, const cJSON *object, const char *key,
		     const char *path, const char **out)
{
	if (!json_field_ascii(element, object, key, path, MAX_ENUM_LEN, out))
		return false;
	if (*out && (*out)[0] == '\0') {
		json_field_error(element, "%s is not printable ASCII", path);
		*out = NULL;
		return false;
	}
	return true;
}

/*
 * Reads the id of item, an element of a page array, and sets element->id
 * to it.  Returns false after logging when item is not an object or has no
 * valid id.
 */
static bool read_element_id(struct json_element *element, const cJSON *item, const char **id)
{
	element->id = NULL;
	if (!cJSON_IsObject(item)) {
		json_field_error(element, "is %s, expected an object", json_field_type_name(item));
		return false;
	}
	if (!json_field_id(element, item, "id", "id", id))
		return false;
	element->id = *id;
	return true;
}

/* ---- users ---- */

enum identity_activity okta_status_activity(const char *status)
{
	static const char *const active[] = {
		"ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT",
	};
	static const char *const inactive[] = {
		"SUSPENDED", "DEPROVISIONED", "STAGED", "PROVISIONED",
	};

	if (!status)
		return IDENTITY_UNKNOWN;
	for (size_t i = 0; i < sizeof(active) / sizeof(active[0]); i++) {
		if (strcmp(status, active[i]) == 0)
			return IDENTITY_ACTIVE;
	}
	for (size_t i = 0; i < sizeof(inactive) / sizeof(inactive[0]); i++) {
		if (strcmp(status, inactive[i]) == 0)
			return IDENTITY_INACTIVE;
	}
	return IDENTITY_UNKNOWN;
}

/* The string fields read from an Okta User and from an app user's profile. */
struct user_fields {
	const char *status;
	const char *login;
	const char *email;
	const char *first_name;
	const char *last_name;
	const char *display_name;
	const char *app_email;       /* app-user profile.email */
	const char *app_given_name;  /* app-user profile.given_name (OIDC apps) */
	const char *app_family_name;
	const char *app_name;
};

/* Reads the fields of an Okta User object; prefix is its JSON path. */
/*
 * The paths of the user fields in messages: in an app user, the user is
 * embedded under "_embedded.user."; in GET /api/v1/users/{id} it is the
 * body.  Constant, so that reading a user formats nothing.
 */
struct user_paths {
	const char *status, *profile, *login, *email, *first_name, *last_name, *display_name;
};

static const struct user_paths embedded_user_paths = {
	"_embedded.user.status", "_embedded.user.profile", "_embedded.user.profile.login",
	"_embedded.user.profile.email", "_embedded.user.profile.firstName",
	"_embedded.user.profile.lastName", "_embedded.user.profile.displayName",
};

static const struct user_paths user_paths = {
	"status", "profile", "profile.login", "profile.email", "profile.firstName",
	"profile.lastName", "profile.displayName",
};

static bool read_user_fields(const struct json_element *element, const cJSON *user,
			     const struct user_paths *path, struct user_fields *fields)
{
	const cJSON *profile;

	if (!get_enum(element, user, "status", path->status, &fields->status) ||
	    !get_object(element, user, "profile", path->profile, &profile))
		return false;

	return json_field_text(element, profile, "login", path->login, &fields->login) &&
	       json_field_text(element, profile, "email", path->email, &fields->email) &&
	       json_field_text(element, profile, "firstName", path->first_name,
			       &fields->first_name) &&
	       json_field_text(element, profile, "lastName", path->last_name,
			       &fields->last_name) &&
	       json_field_text(element, profile, "displayName", path->display_name,
			       &fields->display_name);
}

static bool read_app_profile_fields(const struct json_element *element, const cJSON *profile,
				    struct user_fields *fields)
{
	return json_field_text(element, profile, "email", "profile.email", &fields->app_email) &&
	       json_field_text(element, profile, "given_name", "profile.given_name",
			       &fields->app_given_name) &&
	       json_field_text(element, profile, "family_name", "profile.family_name",
			       &fields->app_family_name) &&
	       json_field_text(element, profile, "name", "profile.name", &fields->app_name);
}

/*
 * Space for the trimmed copies of one identity's text fields: at most one
 * per field, plus a login that was trimmed for the email and rejected.
 */
struct trim_space {
	char text[8][IDENTITY_MAX_TEXT + 1];
	size_t used;
};

/*
 * Returns text without the white space around it, or NULL when nothing is
 * left.  Text with nothing to cut is returned as it is; a trimmed copy goes
 * into space.  Every text comes from json_field_string(), so it fits IDENTITY_MAX_TEXT.
 */
static const char *trim_view(struct trim_space *space, const char *text)
{
	const char *end;
	char *copy;

	if (!text)
		return NULL;
	text = unicode_trim(text, &end);
	if (end == text)
		return NULL;
	if (*end == '\0')
		return text;

	copy = space->text[space->used++];
	memcpy(copy, text, (size_t)(end - text));
	copy[end - text] = '\0';
	return copy;
}

/* Trims the first of a and b that has text left; NULL when neither has. */
static const char *first_trimmed(struct trim_space *space, const char *a, const char *b)
{
	const char *text = trim_view(space, a);

	return text ? text : trim_view(space, b);
}

/*
 * Chooses the email: the user's profile.email, else the app user's
 * profile.email, else the login when it is a valid address.  An invalid
 * address is kept, so the plan can skip and report that one user.
 */
static const char *choose_email(struct trim_space *space, const struct user_fields *fields)
{
	const char *email = first_trimmed(space, fields->email, fields->app_email);
	const char *login;

	if (email)
		return email;
	login = trim_view(space, fields->login);
	if (login && identity_email_valid(login))
		return login;
	return NULL;
}

/*
 * Fills record from id and fields.  Its strings are borrowed from the JSON
 * tree and from space, so record is valid while both are; identity_set_add()
 * copies it, and okta_parse_user() duplicates it.
 */
static void view_identity(const struct json_element *element, const char *id,
			  const struct user_fields *fields, struct trim_space *space,
			  struct identity *record)
{
	record->external_id = (char *)id;
	record->status = (char *)fields->status;
	record->user_name = (char *)trim_view(space, fields->login);
	record->email = (char *)choose_email(space, fields);
	record->given_name = (char *)first_trimmed(space, fields->first_name,
						   fields->app_given_name);
	record->family_name = (char *)first_trimmed(space, fields->last_name,
						    fields->app_family_name);
	record->display_name = (char *)first_trimmed(space, fields->display_name,
						     fields->app_name);
	record->activity = okta_status_activity(fields->status);

	if (record->activity == IDENTITY_UNKNOWN)
		log_msg(LOG_WARN, "%s: %s %s has %s%s%s: its roster row, if any, is kept as it is, "
			"and none is added", element->where, element->kind, id,
			fields->status ? "the unknown status \"" : "no status",
			fields->status ? fields->status : "", fields->status ? "\"" : "");
}

/* Copies text into *field with strdup(); NULL stays NULL.  False when memory runs out. */
static bool dup_field(char **field, const char *text)
{
	*field = text ? strdup(text) : NULL;
	return *field || !text;
}

/* Fills out with owned copies of the strings of view. */
static enum rs_err dup_identity(const struct identity *view, struct identity *out)
{
	bool ok;

	memset(out, 0, sizeof(*out));
	out->activity = view->activity;
	out->direct = view->direct;
	ok = dup_field(&out->external_id, view->external_id) &&
	     dup_field(&out->status, view->status) &&
	     dup_field(&out->user_name, view->user_name) &&
	     dup_field(&out->email, view->email) &&
	     dup_field(&out->given_name, view->given_name) &&
	     dup_field(&out->family_name, view->family_name) &&
	     dup_field(&out->display_name, view->display_name);
	if (!ok) {
		identity_release(out);
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

/* ---- app users ---- */

static bool read_scope(const struct json_element *element, const cJSON *item, bool *direct)
{
	const char *scope;

	if (!get_enum(element, item, "scope", "scope", &scope))
		return false;

	*direct = scope && strcmp(scope, "USER") == 0;
	if (!scope || (!*direct && strcmp(scope, "GROUP") != 0))
		log_msg(LOG_DEBUG, "%s: %s %zu (%s): scope is %s%s%s, read as not direct",
			element->where, element->kind, element->index, element->id,
			scope ? "\"" : "missing", scope ? scope : "", scope ? "\"" : "");
	return true;
}

/* Finds _embedded.user, which only expand=user puts into an app user. */
static bool read_embedded_user(const struct json_element *element, const cJSON *item,
			       const char *id, const cJSON **user)
{
	const cJSON *embedded;
	const char *user_id;

	if (!get_object(element, item, "_embedded", "_embedded", &embedded) ||
	    !get_object(element, embedded, "user", "_embedded.user", user))
		return false;
	if (!*user) {
		json_field_error(element,
				 "has no _embedded.user: the request must use expand=user");
		return false;
	}

	if (!json_field_string(element, *user, "id", "_embedded.user.id", IDENTITY_MAX_TEXT,
			       &user_id))
		return false;
	if (user_id && strcmp(user_id, id) != 0) {
		json_field_error(element,
				 "_embedded.user.id is \"%.*s\", expected the app user id",
				 IDENTITY_MAX_ID, user_id);
		return false;
	}
	return true;
}

static enum rs_err map_app_user(struct json_element *element, const cJSON *item,
				struct identity_set *set)
{
	struct user_fields fields = { 0 };
	struct identity record = { 0 };
	struct trim_space space;
	const cJSON *user;
	const cJSON *app_profile;
	const char *id;

	if (!read_element_id(element, item, &id))
		return RS_ERR_PROTOCOL;

	if (!read_scope(element, item, &record.direct) ||
	    !get_object(element, item, "profile", "profile", &app_profile) ||
	    !read_app_profile_fields(element, app_profile, &fields) ||
	    !read_embedded_user(element, item, id, &user) ||
	    !read_user_fields(element, user, &embedded_user_paths, &fields))
		return RS_ERR_PROTOCOL;

	space.used = 0;
	view_identity(element, id, &fields, &space, &record);
	return identity_set_add(set, &record);
}

/* Maps one page of app users; where names the page in log lines. */
/* cJSON memory for a page as a multiple of its JSON text; 4 on the fake IdP's app users. */
#define TREE_PER_BODY_BYTE 6

/*
 * Maps one page of app users; where names the page in log lines.  With an
 * arena, the page's cJSON tree is allocated from it.
 */
static enum rs_err parse_app_users(const char *where, const char *body, size_t len,
				   struct identity_set *set, struct json_arena *arena,
				   size_t *added)
{
	struct json_element element = { where, "app user", 0, true, NULL };
	const cJSON *item;
	enum rs_err err = RS_OK;
	cJSON *root;

	*added = 0;
	if (arena)
		json_arena_begin(arena, len * TREE_PER_BODY_BYTE + 65536);
	root = json_field_parse(where, body, len, cJSON_Array);
	if (!root)
		err = RS_ERR_PROTOCOL;

	cJSON_ArrayForEach(item, root) {
		err = map_app_user(&element, item, set);
		if (err != RS_OK)
			break;
		element.index++;
		(*added)++;
	}
	cJSON_Delete(root);
	if (arena)
		json_arena_end(arena);
	return err;
}

enum rs_err okta_parse_app_users(const char *body, size_t len, struct identity_set *set)
{
	size_t added;

	return parse_app_users("response", body, len, set, NULL, &added);
}

enum rs_err okta_parse_user(const char *body, size_t len, struct identity *out)
{
	struct json_element element = { "response", "user", 0, false, NULL };
	struct user_fields fields = { 0 };
	struct identity view = { 0 };
	struct trim_space space = { .used = 0 };
	cJSON *root;
	const char *id;
	enum rs_err err = RS_ERR_PROTOCOL;

	memset(out, 0, sizeof(*out));
	root = json_field_parse("response", body, len, cJSON_Object);
	if (!root)
		return RS_ERR_PROTOCOL;

	if (!json_field_id(&element, root, "id", "id", &id))
		goto out;
	element.id = id;
	if (!read_user_fields(&element, root, &user_paths, &fields))
		goto out;
	view_identity(&element, id, &fields, &space, &view);
	err = dup_identity(&view, out);

out:
	cJSON_Delete(root);
	return err;
}

/* ---- id lists and groups ---- */

void okta_id_list_free(char **ids, size_t count)
{
	for (size_t i = 0; ids && i < count; i++)
		free(ids[i]);
	free(ids);
}

void okta_groups_free(struct okta_group *groups, size_t count)
{
	for (size_t i = 0; groups && i < count; i++) {
		free(groups[i].id);
		free(groups[i].name);
	}
	free(groups);
}

static enum rs_err parse_id_list(const char *where, const char *kind, const char *body,
				 size_t len, char ***ids, size_t *count)
{
	struct json_element element = { where, kind, 0, true, NULL };
	cJSON *root = json_field_parse(where, body, len, cJSON_Array);
	const cJSON *item;
	enum rs_err err = RS_OK;

	if (!root)
		return RS_ERR_PROTOCOL;

	cJSON_ArrayForEach(item, root) {
		const char *id;
		char **grown;

		if (!read_element_id(&element, item, &id)) {
			err = RS_ERR_PROTOCOL;
			break;
		}
		grown = realloc(*ids, (*count + 1) * sizeof(**ids));
		if (!grown) {
			err = RS_ERR_INTERNAL;
			break;
		}
		*ids = grown;
		grown[*count] = strdup(id);
		if (!grown[*count]) {
			err = RS_ERR_INTERNAL;
			break;
		}
		(*count)++;
		element.index++;
	}
	cJSON_Delete(root);
	return err;
}

enum rs_err okta_parse_id_list(const char *body, size_t len, char ***ids, size_t *count)
{
	return parse_id_list("response", "element", body, len, ids, count);
}

/* Reads the group name from _embedded.group.profile.name (expand=group). */
static bool read_group_name(const struct json_element *element, const cJSON *item,
			    const char **name)
{
	const cJSON *embedded;
	const cJSON *group;
	const cJSON *profile;

	*name = NULL;
	return get_object(element, item, "_embedded", "_embedded", &embedded) &&
	       get_object(element, embedded, "group", "_embedded.group", &group) &&
	       get_object(element, group, "profile", "_embedded.group.profile", &profile) &&
	       json_field_text(element, profile, "name", "_embedded.group.profile.name", name);
}

static bool append_group(struct okta_group **groups, size_t *count, const char *id,
			 const char *name)
{
	struct okta_group *grown = realloc(*groups, (*count + 1) * sizeof(**groups));
	struct okta_group *group;

	if (!grown)
		return false;
	*groups = grown;

	group = &grown[*count];
	group->id = strdup(id);
	group->name = identity_trim_dup(name);
	if (!group->name)
		group->name = strdup(id);
	if (!group->id || !group->name) {
		free(group->id);
		free(group->name);
		return false;
	}
	(*count)++;
	return true;
}

static enum rs_err parse_app_groups(const char *where, const char *body, size_t len,
				    struct okta_group **groups, size_t *count)
{
	struct json_element element = { where, "group", 0, true, NULL };
	cJSON *root = json_field_parse(where, body, len, cJSON_Array);
	const cJSON *item;
	enum rs_err err = RS_OK;

	if (!root)
		return RS_ERR_PROTOCOL;

	cJSON_ArrayForEach(item, root) {
		const char *id;
		const char *name;

		if (!read_element_id(&element, item, &id)) {
			err = RS_ERR_PROTOCOL;
			break;
		}
		if (!read_group_name(&element, item, &name)) {
			err = RS_ERR_PROTOCOL;
			break;
		}
		if (!append_group(groups, count, id, name)) {
			err = RS_ERR_INTERNAL;
			break;
		}
		element.index++;
	}
	cJSON_Delete(root);
	return err;
}

enum rs_err okta_parse_app_groups(const char *body, size_t len, struct okta_group **groups,
				  size_t *count)
{
	return parse_app_groups("response", body, len, groups, count);
}

/* ---- error responses ---- */

/* The fields of an Okta error body, or of an OAuth 2.0 error body. */
struct okta_error {
	const char *code;
	const char *summary;
	const char *error_id;
	const cJSON *causes;
	const char *oauth_error;
	const char *oauth_description;
};

static const char *json_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool read_error_body(const cJSON *root, struct okta_error *error)
{
	memset(error, 0, sizeof(*error));
	if (!cJSON_IsObject(root))
		return false;

	error->code = json_string(root, "errorCode");
	error->summary = json_string(root, "errorSummary");
	error->error_id = json_string(root, "errorId");
	error->causes = cJSON_GetObjectItemCaseSensitive(root, "errorCauses");
	error->oauth_error = json_string(root, "error");
	error->oauth_description = json_string(root, "error_description");
	return error->code || error->summary || error->oauth_error;
}

static void line_add_causes(struct log_line *line, const cJSON *causes)
{
	const cJSON *cause;
	int causes_logged = 0;

	if (!cJSON_IsArray(causes))
		return;
	cJSON_ArrayForEach(cause, causes) {
		const char *summary = json_string(cause, "errorSummary");

		if (!summary)
			continue;
		log_line_add(line, "%s%.300s", causes_logged == 0 ? " (causes: " : "; ", summary);
		causes_logged++;
	}
	if (causes_logged > 0)
		log_line_add(line, ")");
}

/* Hints for 401 and 403 when the credential is an OAuth access token. */
static const char *oauth_error_hint(long status)
{
	if (status == 401)
		return "Okta rejected the OAuth access token even after a new one was fetched: "
		       "if earlier requests of this run succeeded, Okta stopped accepting its "
		       "tokens before their expires_in ran out, so run again; otherwise check "
		       "that okta.oauth.client_id is the service app and that its public key is "
		       "registered";
	return "the service app lacks permission: grant it the okta.apps.read, okta.users.read "
	       "and okta.groups.read scopes (Okta API Scopes tab) and an admin role such as "
	       "Read-only Administrator (Admin roles tab); scopes alone are not enough";
}

static const char *error_hint(long status, const char *code, const char *url, bool oauth)
{
	bool app_url = url && strstr(url, "/api/v1/apps/") != NULL;
	bool group_url = url && strstr(url, "/api/v1/groups/") != NULL;

	if (oauth && (status == 401 || status == 403))
		return oauth_error_hint(status);
	if (status == 401 && code && strcmp(code, "E0000011") == 0)
		return "the API token is invalid or expired: create a new token in the Okta Admin "
		       "Console (Security > API > Tokens) and put it where the config reads it: "
		       "okta.api_token_file, okta.api_token_env or the systemd credential";
	if (status == 401)
		return "Okta rejected the credentials: check the token in okta.api_token_file, "
		       "okta.api_token_env or the systemd credential";
	if (status == 403 && code && strcmp(code, "E0000006") == 0 && group_url)
		return "the token's admin lacks permission to read this group's members: use a "
		       "Read-only Administrator token, or an admin role whose resource set "
		       "includes every group assigned to the app";
	if (status == 403 && code && strcmp(code, "E0000006") == 0)
		return "the token's admin lacks permission to read app assignments: use a "
		       "Read-only Administrator token or grant okta.apps.read";
	if (status == 403)
		return "Okta denied access: check the admin role behind the token and any network "
		       "zone restriction on it";
	if (status == 404 && app_url)
		return "the app was not found: check okta.app_id and okta.org_url";
	if (status == 404)
		return "not found: check okta.org_url, or run again if it was deleted during the read";
	if (status == 400 && code && strcmp(code, "E0000029") == 0)
		return "Okta rejected the paging cursor: run again";
	if (status == 429)
		return "the rate limit did not clear in time: run again later or raise http.retry_budget";
	if (status >= 500)
		return "Okta is failing: run again later";
	if (status >= 300 && status < 400)
		return "redirects are not followed: set okta.org_url to the Okta domain itself";
	if (status >= 200 && status < 300)
		return "Okta answered without the expected body: run again, and report it with "
		       "the request id if it persists";
	return "Okta rejected the request: report this with the error id";
}

static enum rs_err error_for_status(long status)
{
	if (status == 401 || status == 403)
		return RS_ERR_PERMISSION;
	if (status == 404)
		return RS_ERR_CONFIG;
	if (status == 429)
		return RS_ERR_TEMPFAIL;
	if (status >= 500 && status < 600)
		return RS_ERR_UNAVAILABLE;
	return RS_ERR_PROTOCOL;
}

/* Adds where a redirect points, without its query, which may carry a token. */
static void add_location(struct log_line *line, const struct http_response *response)
{
	const char *location = http_response_header(response, "Location", 0);
	size_t len = location ? strcspn(location, "?#") : 0;

	if (location)
		log_line_add(line, " to %.*s", (int)(len < 300 ? len : 300), location);
	else
		log_line_add(line, " without a Location header");
}

static enum rs_err report_error(const struct http_response *response, const char *url,
			       bool oauth)
{
	char log_url[512];
	struct log_line line = { "", 0 };
	struct okta_error error;
	const char *request_id = http_response_request_id(response);
	cJSON *root = NULL;

	snprintf(log_url, sizeof(log_url), "%.*s", (int)strcspn(url ? url : "", "?#"),
		 url ? url : "");
	if (response->body && response->body_len > 0)
		root = cJSON_ParseWithLength(response->body, response->body_len);

	log_line_add(&line, "GET %s returned %ld", log_url, response->status);
	if (read_error_body(root, &error)) {
		if (error.code)
			log_line_add(&line, " %.64s", error.code);
		if (error.oauth_error)
			log_line_add(&line, " %.64s", error.oauth_error);
		if (error.summary || error.oauth_description)
			log_line_add(&line, ": %.300s",
				 error.summary ? error.summary : error.oauth_description);
		line_add_causes(&line, error.causes);
	} else if (response->body_len > 0) {
		log_line_add_excerpt(&line, response->body, response->body_len);
	} else if (response->status < 300 || response->status >= 400) {
		log_line_add(&line, " with an empty body");
	}
	if (response->status >= 300 && response->status < 400)
		add_location(&line, response);

	if (error.error_id && request_id)
		log_line_add(&line, " [error id %.100s, request id %.100s]", error.error_id, request_id);
	else if (error.error_id || request_id)
		log_line_add(&line, " [%s %.100s]", error.error_id ? "error id" : "request id",
			 error.error_id ? error.error_id : request_id);

	if (oauth && response->status == 401 && auth_challenge_asks_for_nonce(response)) {
		log_msg(LOG_ERROR, "%s; Okta asked for a new DPoP nonce again after the request "
			"was sent once more with one: run again later", line.text);
		cJSON_Delete(root);
		return RS_ERR_TEMPFAIL;
	}
	log_msg(LOG_ERROR, "%s; %s", line.text,
		error_hint(response->status, error.code, url, oauth));
	cJSON_Delete(root);
	return error_for_status(response->status);
}

enum rs_err okta_report_error(const struct http_response *response, const char *url)
{
	return report_error(response, url, false);
}

/* ---- the reader ---- */

/* URLs already requested in one listing, to detect a next link that loops. */
struct url_set {
	char **slots;
	size_t capacity;   /* a power of two */
	size_t count;
};

static uint64_t url_hash(const char *url)
{
	uint64_t hash = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		hash = (hash ^ *p) * 1099511628211ULL;
	return hash;
}

static char **url_set_slot(const struct url_set *set, const char *url)
{
	size_t mask = set->capacity - 1;
	size_t i = (size_t)url_hash(url) & mask;

	while (set->slots[i] && strcmp(set->slots[i], url) != 0)
		i = (i + 1) & mask;
	return &set->slots[i];
}

static bool url_set_grow(struct url_set *set)
{
	struct url_set bigger = { NULL, set->capacity ? set->capacity * 2 : 64, set->count };

	bigger.slots = calloc(bigger.capacity, sizeof(*bigger.slots));
	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < set->capacity; i++) {
		if (set->slots[i])
			*url_set_slot(&bigger, set->slots[i]) = set->slots[i];
	}
	free(set->slots);
	*set = bigger;
	return true;
}

static bool url_set_contains(const struct url_set *set, const char *url)
{
	return set->capacity > 0 && *url_set_slot(set, url) != NULL;
}

/* Adds a copy of url; false when memory runs out. */
static bool url_set_add(struct url_set *set, const char *url)
{
	char **slot;

	if ((set->count + 1) * 2 > set->capacity && !url_set_grow(set))
		return false;
	slot = url_set_slot(set, url);
	if (*slot)
		return true;
	*slot = strdup(url);
	if (!*slot)
		return false;
	set->count++;
	return true;
}

static void url_set_release(struct url_set *set)
{
	for (size_t i = 0; i < set->capacity; i++)
		free(set->slots[i]);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

/*
 * Group labels kept for later while the app-user list is read, after which
 * no further group page is read until it ends: the page under way can add
 * up to GROUP_USERS_LIMIT more.
 */
#define DEFERRED_LABELS_MAX 200000

struct group_reader;

struct reader {
	const struct config *config;
	struct http_client *http;   /* the app-user listing */
	struct http_client *side;   /* the group listings, while app-user pages are awaited */
	struct auth *auth;
	struct identity_set *set;
	struct json_arena *arena;   /* memory for the tree of one app-user page */
	struct group_reader *groups;
};

/*
 * A paged listing and the handler of its pages.  The handler counts the
 * page's items and adds their ids to *ids (pagelog.h).
 */
struct listing {
	const char *name;   /* "app users", "members of group Sales" */
	enum rs_err (*on_page)(void *context, const char *where, const struct http_response *page,
			       size_t *items, struct page_ids *ids);
	void *context;
	bool allow_not_found;  /* a 404 on the first page ends the listing empty */
	bool not_found;
	long pages;
	size_t items;
};

/* A listing being read: the page under way on one HTTP client. */
struct cursor {
	struct listing *listing;
	struct http_client *http;
	struct url_set followed;
	struct page_log pages;  /* to find a page served again under a new cursor */
	char *url;          /* the page being fetched; NULL once the listing ended */
	unsigned generation; /* auth_generation() when the page was requested */
};

/* Logs a Link header that http_link_parse_next() refused, quoting its values. */
static void log_bad_link(const struct listing *listing, const char *const *values, size_t count)
{
	char quoted[512] = "";
	size_t used = 0;

	for (size_t i = 0; i < count && used < sizeof(quoted) - 1; i++) {
		int n = snprintf(quoted + used, sizeof(quoted) - used, "%s%s", i ? " | " : "",
				 values[i]);

		used = n < 0 ? used : used + (size_t)n;
	}
	log_msg(LOG_ERROR, "%s page %ld: malformed Link header \"%.400s\": each link must be "
		"<URL> without spaces, then parameters after \";\", and all rel=\"next\" "
		"links must name the same URL", listing->name, listing->pages, quoted);
}

static enum rs_err next_page_url(const struct reader *reader, const struct listing *listing,
				 const struct http_response *response,
				 const struct url_set *followed, char **next)
{
	const char **values = calloc(response->header_count + 1, sizeof(*values));
	size_t count = 0;
	bool valid;

	*next = NULL;
	if (!values)
		return RS_ERR_INTERNAL;
	for (size_t i = 0; i < response->header_count; i++) {
		if (strcasecmp(response->headers[i].name, "Link") == 0)
			values[count++] = response->headers[i].value;
	}
	valid = http_link_parse_next(values, count, next);
	if (!valid)
		log_bad_link(listing, values, count);
	free(values);
	if (!valid)
		return RS_ERR_PROTOCOL;
	if (!*next)
		return RS_OK;

	if (!http_same_origin(reader->config->okta.org_url, *next)) {
		log_msg(LOG_ERROR, "%s page %ld: rejected the next link %.300s because it is not on "
			"%s", listing->name, listing->pages, *next, reader->config->okta.org_url);
	} else if (url_set_contains(followed, *next)) {
		log_msg(LOG_ERROR, "%s page %ld: repeated next link %.300s", listing->name,
			listing->pages, *next);
	} else {
		return RS_OK;
	}
	free(*next);
	*next = NULL;
	return RS_ERR_PROTOCOL;
}

/* GETs url on http with the credential headers; *out is empty unless RS_OK. */
static enum rs_err get_once(const struct reader *reader, struct http_client *http,
			    const char *url, struct http_response *out)
{
	char **headers = NULL;
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	err = auth_headers(reader->auth, "GET", url, &headers);
	if (err != RS_OK)
		return err;
	err = http_get(http, url, (const char *const *)headers, out);
	auth_headers_free(headers);
	return err;
}

/* Starts the GET of the cursor's url with the credential headers; finish_get() collects it. */
static enum rs_err start_get(const struct reader *reader, struct cursor *cursor)
{
	char **headers = NULL;
	enum rs_err err;

	err = auth_headers(reader->auth, "GET", cursor->url, &headers);
	if (err != RS_OK)
		return err;
	cursor->generation = auth_generation(reader->auth);
	err = http_get_start(cursor->http, cursor->url, (const char *const *)headers);
	auth_headers_free(headers);
	return err;
}

/*
 * Collects the GET that start_get() began, and after a 401 sends it once
 * more when the credentials changed since it was signed, or when they can
 * recover (a new access token, or a DPoP nonce).  A second 401 is returned
 * to the caller like any other status.
 */
static enum rs_err finish_get(const struct reader *reader, const struct cursor *cursor,
			      struct http_response *response)
{
	enum rs_err err = http_get_finish(cursor->http, response);
	const char *url = cursor->url;

	if (err != RS_OK || response->status != 401)
		return err;
	if (auth_generation(reader->auth) == cursor->generation &&
	    !auth_handle_unauthorized(reader->auth, response))
		return RS_OK;

	log_msg(LOG_INFO, "GET %.*s returned 401; sending it once more with new credentials",
		(int)strcspn(url, "?#"), url);
	http_response_release(response);
	return get_once(reader, cursor->http, url, response);
}

/*
 * Collects the page that the cursor's start_get() began.  Any status but
 * 200 is an error, except a 404 on the first page of a listing that allows it.
 * A 404 after the first page is temporary: the same URL worked a moment ago.
 */
static enum rs_err collect_page(const struct reader *reader, struct cursor *cursor,
				struct http_response *response)
{
	struct listing *listing = cursor->listing;
	enum rs_err err = finish_get(reader, cursor, response);

	if (err != RS_OK)
		return err;
	if (response->status == 404 && listing->allow_not_found && listing->pages == 0) {
		listing->not_found = true;
		return RS_OK;
	}
	if (response->status == 404 && listing->allow_not_found) {
		log_msg(LOG_ERROR, "%s page %ld returned 404: the group was deleted during the "
			"read; run again, and the next run reads without it", listing->name,
			listing->pages + 1);
		return RS_ERR_TEMPFAIL;
	}
	if (response->status == 404 && listing->pages > 0) {
		log_msg(LOG_ERROR, "%s page %ld returned 404 after page 1 was read: the listing "
			"was deleted or its paging cursor expired during the read; run again",
			listing->name, listing->pages + 1);
		return RS_ERR_TEMPFAIL;
	}
	if (response->status != 200)
		return report_error(response, cursor->url, auth_uses_oauth(reader->auth));
	listing->pages++;
	return RS_OK;
}

/* Hands a collected page to the listing's handler, and checks that it is new. */
static enum rs_err handle_page(struct cursor *cursor, const struct http_response *response)
{
	struct listing *listing = cursor->listing;
	const char *request_id = http_response_request_id(response);
	char where[256];
	size_t items = 0;
	struct page_ids ids = { 0, 0 };
	enum rs_err err;

	snprintf(where, sizeof(where), "%s page %ld (request id %.100s)", listing->name,
		 listing->pages, request_id ? request_id : "none");
	err = listing->on_page(listing->context, where, response, &items, &ids);
	listing->items += items;
	if (err == RS_OK)
		err = page_log_note(&cursor->pages, where, listing->pages, &ids,
				    cursor->url != NULL, "Okta");
	if (err == RS_OK)
		log_msg(LOG_DEBUG, "%s: %zu %s", where, items, items == 1 ? "item" : "items");
	return err;
}

/* Starts reading listing from first_url on http. */
static enum rs_err cursor_open(const struct reader *reader, struct cursor *cursor,
			       struct listing *listing, struct http_client *http,
			       const char *first_url)
{
	memset(cursor, 0, sizeof(*cursor));
	cursor->listing = listing;
	cursor->http = http;
	cursor->url = strdup(first_url);
	if (!cursor->url)
		return RS_ERR_INTERNAL;
	return start_get(reader, cursor);
}

/*
 * Reads the page under way, then follows its rel="next" link.  The next
 * page is requested as soon as its link is known, before the current page
 * is parsed, so the server prepares it while this one is read.
 */
static enum rs_err cursor_next(const struct reader *reader, struct cursor *cursor)
{
	struct listing *listing = cursor->listing;
	struct http_response response;
	char *next = NULL;
	enum rs_err err = RS_OK;

	if (!url_set_add(&cursor->followed, cursor->url))
		return RS_ERR_INTERNAL;

	err = collect_page(reader, cursor, &response);
	if (err == RS_OK && !listing->not_found)
		err = next_page_url(reader, listing, &response, &cursor->followed, &next);
	if (err == RS_OK && next && listing->pages >= OKTA_MAX_PAGES) {
		log_msg(LOG_ERROR, "%s: more than %d pages", listing->name, OKTA_MAX_PAGES);
		err = RS_ERR_PROTOCOL;
	}
	free(cursor->url);
	cursor->url = next;
	if (err == RS_OK && next)
		err = start_get(reader, cursor);
	if (err == RS_OK && !listing->not_found)
		err = handle_page(cursor, &response);

	http_response_release(&response);
	return err;
}

/* Abandons the page under way, if any, and frees the cursor. */
static void cursor_close(struct cursor *cursor)
{
	if (cursor->url)
		http_get_cancel(cursor->http);
	free(cursor->url);
	url_set_release(&cursor->followed);
	page_log_release(&cursor->pages);
	memset(cursor, 0, sizeof(*cursor));
}

static enum rs_err group_step(const struct reader *reader, bool *done);

/*
 * Reads every page of listing on the main client.  Between two pages of
 * the app-user list, while the next one is on its way, one page of the
 * group listings is read on the side client.
 */
static enum rs_err read_listing(const struct reader *reader, struct listing *listing,
				const char *first_url)
{
	struct cursor cursor;
	enum rs_err err = cursor_open(reader, &cursor, listing, reader->http, first_url);
	bool groups_done = reader->groups == NULL;

	while (err == RS_OK && cursor.url) {
		err = cursor_next(reader, &cursor);
		if (err == RS_OK && cursor.url && !groups_done)
			err = group_step(reader, &groups_done);
	}
	cursor_close(&cursor);
	return err;
}

/* Builds org_url + prefix + id (percent-encoded) + suffix. */
static char *build_url(const struct config *config, const char *prefix, const char *id,
		       const char *suffix)
{
	char *escaped = curl_easy_escape(NULL, id, 0);
	char *url = NULL;
	size_t size;

	if (!escaped)
		return NULL;
	size = strlen(config->okta.org_url) + strlen(prefix) + strlen(escaped) + strlen(suffix) + 1;
	url = malloc(size);
	if (url)
		snprintf(url, size, "%s%s%s%s", config->okta.org_url, prefix, escaped, suffix);
	curl_free(escaped);
	return url;
}

static const char *pages_word(long pages)
{
	return pages == 1 ? "page" : "pages";
}

static enum rs_err on_app_users_page(void *context, const char *where,
				     const struct http_response *page, size_t *items,
				     struct page_ids *ids)
{
	const struct reader *reader = context;
	size_t first = reader->set->count;
	enum rs_err err = parse_app_users(where, page->body, page->body_len, reader->set,
					  reader->arena, items);

	for (size_t i = first; err == RS_OK && i < reader->set->count; i++)
		page_ids_add(ids, reader->set->items[i].external_id);
	return err;
}

static enum rs_err read_app_users(const struct reader *reader)
{
	struct listing listing = { "app users", on_app_users_page, (void *)reader, false, false,
				   0, 0 };
	char *url = build_url(reader->config, "/api/v1/apps/", reader->config->okta.app_id,
			      "/users?limit=" STRINGIFY(APP_USERS_LIMIT) "&expand=user");
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	err = read_listing(reader, &listing, url);
	free(url);
	if (err == RS_OK)
		log_msg(LOG_INFO, "read the users of Okta app %s: %ld %s, %zu app users",
			reader->config->okta.app_id, listing.pages, pages_word(listing.pages),
			listing.items);
	return err;
}

/* ---- group listings ---- */

/* A group label to give once the app-user list is complete. */
struct deferred_label {
	const char *id;         /* in group_reader.ids */
	size_t group;           /* index into group_reader.groups */
};

/* The counts of one group's member listing. */
struct group_tally {
	long pages;
	size_t users;
	size_t matched;         /* members who are app users */
	bool not_found;
};

/*
 * The group listings: the app's groups, then each group's members, read
 * one page at a time by group_step().  Members read before the app-user
 * list is complete are labelled afterwards, by label_deferred().
 */
struct group_reader {
	struct okta_group *groups;
	size_t count;
	struct group_tally *tallies;
	bool listed;            /* the app's groups are known */
	size_t next;            /* the next group whose members to read */
	size_t current;         /* the group whose members the cursor reads */
	struct cursor cursor;   /* cursor.url is NULL when no listing is open */
	struct listing listing;
	char name[IDENTITY_MAX_TEXT + 64];
	bool set_complete;      /* the app-user list is read; labels go on at once */
	struct deferred_label *deferred;
	size_t deferred_count;
	size_t deferred_capacity;
	struct strpool ids;
	const struct reader *reader;
};

static enum rs_err on_app_groups_page(void *context, const char *where,
				      const struct http_response *page, size_t *items,
				      struct page_ids *ids)
{
	struct group_reader *groups = context;
	size_t before = groups->count;
	enum rs_err err = parse_app_groups(where, page->body, page->body_len, &groups->groups,
					   &groups->count);

	*items = groups->count - before;
	for (size_t i = before; i < groups->count; i++)
		page_ids_add(ids, groups->groups[i].id);
	return err;
}

static bool defer_label(struct group_reader *groups, const char *id)
{
	struct deferred_label *grown;
	size_t capacity;

	if (groups->deferred_count == groups->deferred_capacity) {
		capacity = groups->deferred_capacity ? 2 * groups->deferred_capacity : 1024;
		grown = realloc(groups->deferred, capacity * sizeof(*grown));
		if (!grown)
			return false;
		groups->deferred = grown;
		groups->deferred_capacity = capacity;
	}
	groups->deferred[groups->deferred_count].id = strpool_dup(&groups->ids, id);
	groups->deferred[groups->deferred_count].group = groups->current;
	return groups->deferred[groups->deferred_count++].id != NULL;
}

/* Labels the app user whose external id is id, if there is one, with group number group. */
static enum rs_err label_member(struct group_reader *groups, size_t group, const char *id)
{
	struct identity *identity = identity_set_find(groups->reader->set, id);

	if (!identity)
		return RS_OK;
	groups->tallies[group].matched++;
	return identity_add_group(identity, groups->groups[group].name);
}

static enum rs_err on_members_page(void *context, const char *where,
				   const struct http_response *page, size_t *items,
				   struct page_ids *ids_seen)
{
	struct group_reader *groups = context;
	char **ids = NULL;
	size_t count = 0;
	enum rs_err err = parse_id_list(where, "user", page->body, page->body_len, &ids, &count);

	for (size_t i = 0; err == RS_OK && i < count; i++) {
		page_ids_add(ids_seen, ids[i]);
		if (groups->set_complete)
			err = label_member(groups, groups->current, ids[i]);
		else if (!defer_label(groups, ids[i]))
			err = RS_ERR_INTERNAL;
	}
	*items = count;
	okta_id_list_free(ids, count);
	return err;
}

static enum rs_err open_app_groups(const struct reader *reader, struct group_reader *groups)
{
	char *url = build_url(reader->config, "/api/v1/apps/", reader->config->okta.app_id,
			      "/groups?limit=" STRINGIFY(APP_GROUPS_LIMIT) "&expand=group");
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	groups->listing = (struct listing){ "app groups", on_app_groups_page, groups, false,
					    false, 0, 0 };
	err = cursor_open(reader, &groups->cursor, &groups->listing, reader->side, url);
	free(url);
	return err;
}

/* Opens the member listing of the next group; a deleted group (404) only loses its label. */
static enum rs_err open_next_members(const struct reader *reader, struct group_reader *groups)
{
	const struct okta_group *group = &groups->groups[groups->next];
	char *url = build_url(reader->config, "/api/v1/groups/", group->id,
			      "/users?limit=" STRINGIFY(GROUP_USERS_LIMIT));
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	groups->current = groups->next++;
	snprintf(groups->name, sizeof(groups->name), "members of group %s (%s)", group->name,
		 group->id);
	groups->listing = (struct listing){ groups->name, on_members_page, groups, true, false,
					    0, 0 };
	err = cursor_open(reader, &groups->cursor, &groups->listing, reader->side, url);
	free(url);
	return err;
}

static bool allocate_tallies(struct group_reader *groups)
{
	groups->tallies = calloc(groups->count + 1, sizeof(*groups->tallies));
	return groups->tallies != NULL;
}

/* Records the listing the cursor finished: the app's groups, or one group's members. */
static enum rs_err end_listing(const struct reader *reader, struct group_reader *groups)
{
	struct group_tally *tally;

	cursor_close(&groups->cursor);
	if (!groups->listed) {
		groups->listed = true;
		log_msg(LOG_INFO, "read the groups assigned to Okta app %s: %ld %s, %zu %s",
			reader->config->okta.app_id, groups->listing.pages,
			pages_word(groups->listing.pages), groups->count,
			groups->count == 1 ? "group" : "groups");
		return allocate_tallies(groups) ? RS_OK : RS_ERR_INTERNAL;
	}
	tally = &groups->tallies[groups->current];
	tally->pages = groups->listing.pages;
	tally->users = groups->listing.items;
	tally->not_found = groups->listing.not_found;
	return RS_OK;
}

/*
 * Reads one page of the group listings, opening the next listing first
 * when none is open.  Sets *done once every listing is read.
 */
static enum rs_err group_step(const struct reader *reader, bool *done)
{
	struct group_reader *groups = reader->groups;
	enum rs_err err = RS_OK;

	*done = false;
	if (!groups->set_complete && groups->deferred_count >= DEFERRED_LABELS_MAX)
		return RS_OK;
	if (!groups->cursor.url) {
		if (!groups->listed)
			err = open_app_groups(reader, groups);
		else if (groups->next < groups->count)
			err = open_next_members(reader, groups);
		else
			*done = true;
	}
	if (err != RS_OK || *done)
		return err;

	err = cursor_next(reader, &groups->cursor);
	if (err == RS_OK && !groups->cursor.url)
		err = end_listing(reader, groups);
	if (err == RS_OK && groups->listed && !groups->cursor.url &&
	    groups->next == groups->count)
		*done = true;
	return err;
}

/* Gives the labels of the members read before the app-user list was complete. */
static enum rs_err label_deferred(struct group_reader *groups)
{
	enum rs_err err = RS_OK;

	for (size_t i = 0; err == RS_OK && i < groups->deferred_count; i++)
		err = label_member(groups, groups->deferred[i].group, groups->deferred[i].id);
	free(groups->deferred);
	groups->deferred = NULL;
	groups->deferred_count = 0;
	groups->deferred_capacity = 0;
	strpool_release(&groups->ids);
	groups->set_complete = true;
	return err;
}

static void log_group_tallies(const struct group_reader *groups)
{
	for (size_t i = 0; i < groups->count; i++) {
		const struct okta_group *group = &groups->groups[i];
		const struct group_tally *tally = &groups->tallies[i];

		if (tally->not_found)
			log_msg(LOG_WARN, "group %s (%s) was not found, perhaps deleted during the "
				"read, so no member is labelled with it", group->name, group->id);
		else
			log_msg(LOG_INFO, "read the members of group %s (%s): %ld %s, %zu %s, "
				"%zu of them app users", group->name, group->id, tally->pages,
				pages_word(tally->pages), tally->users,
				tally->users == 1 ? "user" : "users", tally->matched);
	}
}

/* App users named one by one in the warning about grants that were not found. */
#define UNGRANTED_NAMED 5

/*
 * Warns about app users that are neither assigned directly (scope USER)
 * nor listed by an assigned group: a scope that is missing or unknown, or
 * GROUP when no group that this read listed contains the user.  Their
 * members keep the provenance recorded before.
 */
static void warn_ungranted(const struct identity_set *set)
{
	size_t count = 0;

	for (size_t i = 0; i < set->count; i++) {
		const struct identity *user = &set->items[i];

		if (user->direct || user->group_count > 0)
			continue;
		if (count < UNGRANTED_NAMED)
			log_msg(LOG_WARN, "app user %s (%s) is assigned neither directly (scope "
				"USER) nor through an assigned group that lists the user; a member "
				"keeps the groups recorded before, and a new one gets none",
				user->external_id, user->user_name ? user->user_name : "no login");
		count++;
	}
	if (count > UNGRANTED_NAMED)
		log_msg(LOG_WARN, "%zu more app users are assigned neither directly nor through a "
			"listed group", count - UNGRANTED_NAMED);
}

/* Finishes the group listings once the app-user list is complete. */
static enum rs_err read_groups(const struct reader *reader)
{
	struct group_reader *groups = reader->groups;
	enum rs_err err = label_deferred(groups);
	bool done = false;

	while (err == RS_OK && !done)
		err = group_step(reader, &done);
	if (err == RS_OK) {
		log_group_tallies(groups);
		warn_ungranted(reader->set);
	}
	return err;
}

static void group_reader_release(struct group_reader *groups)
{
	cursor_close(&groups->cursor);
	okta_groups_free(groups->groups, groups->count);
	free(groups->tallies);
	free(groups->deferred);
	strpool_release(&groups->ids);
}

/*
 * Reads the app-user list on http, and the group listings on a second
 * client in the waits for its pages.  The group listings need no more
 * than the app-user list's waits when they have fewer pages.
 */
enum rs_err okta_read(const struct config *config, struct auth *auth,
		      struct http_client *http, struct identity_set *set)
{
	struct json_arena arena;
	struct group_reader groups;
	struct reader reader = { config, http, NULL, auth, set, &arena, &groups };
	enum rs_err err;

	memset(&groups, 0, sizeof(groups));
	groups.reader = &reader;
	strpool_init(&groups.ids);
	json_arena_init(&arena);
	err = http_client_sibling(http, &reader.side);
	if (err == RS_OK)
		err = read_app_users(&reader);
	json_arena_release(&arena);
	if (err == RS_OK)
		err = identity_set_finish(set);
	if (err == RS_OK && set->count > 0)
		err = read_groups(&reader);

	group_reader_release(&groups);
	http_client_add_stats(http, reader.side);
	http_client_free(reader.side);
	return err;
}
