/*
 * graph_parse.c - maps Microsoft Graph response bodies to what the Graph
 * source needs: service principals, app role assignments, users and group
 * members, $batch responses and error bodies.
 *
 * Every field that is read is checked for its JSON type, its size and
 * valid UTF-8, and an error names the page, the element (counted from 0),
 * its id and the field.  Fields that are not read are not checked, because
 * Graph adds properties over time.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "graph.h"
#include "json_field.h"
#include "log.h"
#include "logline.h"

/* Maximum length of an @odata.nextLink, in bytes. */
#define MAX_NEXT_LINK 16384

/* Most otherMails values read from one user; Graph allows 250. */
#define MAX_OTHER_MAILS 1000

/* Maximum length of principalType, @odata.type and userType values, in bytes. */
#define MAX_TYPE_LEN 128

/* The account status stored for accountEnabled true and false. */
#define STATUS_ENABLED "enabled"
#define STATUS_DISABLED "disabled"

/* ---- fields ---- */

/*
 * Graph names a field by its key in messages, so these pass key as the
 * path of the json_field readers.
 */
static bool get_text(const struct json_element *element, const cJSON *object, const char *key,
		     size_t max, const char **out)
{
	return json_field_string(element, object, key, key, max, out);
}

/* Reads a name, login or address of a directory object: see json_field_text(). */
static bool get_profile_text(const struct json_element *element, const cJSON *object,
			     const char *key, const char **out)
{
	return json_field_text(element, object, key, key, out);
}

/* True when text has the form of a GUID: 8-4-4-4-12 hex digits. */
static bool is_guid(const char *text)
{
	static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	for (size_t i = 0; i < sizeof(form) - 1; i++) {
		if (form[i] == '-' ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
			return false;
	}
	return text[sizeof(form) - 1] == '\0';
}

/* True when a and b name the same object: equal, or the same GUID in any case. */
static bool same_object_id(const char *a, const char *b)
{
	return strcmp(a, b) == 0 || (is_guid(a) && is_guid(b) && strcasecmp(a, b) == 0);
}

/*
 * Reads an object id.  Directory object ids are GUIDs, which compare
 * without regard to case: one in upper case is lowered in the tree, so
 * that the same user read in another case keeps its member.
 */
static bool get_id(const struct json_element *element, const cJSON *object, const char *key,
		   const char **out)
{
	if (!json_field_id(element, object, key, key, out))
		return false;
	if (is_guid(*out)) {
		for (char *p = (char *)*out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return true;
}

/* Reads an optional type name such as "#microsoft.graph.user": printable ASCII. */
static bool get_type(const struct json_element *element, const cJSON *object, const char *key,
		     const char **out)
{
	return json_field_ascii(element, object, key, key, MAX_TYPE_LEN, out);
}

static const cJSON *member_of(const cJSON *object, const char *key)
{
	return object ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;
}

/* Reads a boolean member; *present is false when it is absent or null. */
static bool get_bool(const struct json_element *element, const cJSON *object, const char *key,
		     bool *out, bool *present)
{
	const cJSON *item = member_of(object, key);

	*out = false;
	*present = false;
	if (!item || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsBool(item)) {
		json_field_error(element, "%s is %s, expected a boolean", key,
				 json_field_type_name(item));
		return false;
	}
	*out = cJSON_IsTrue(item);
	*present = true;
	return true;
}

/* ---- the collection envelope: {"value": [...], "@odata.nextLink": "..."} ---- */

/* Reads "@odata.nextLink" into a new string; NULL when absent or null. */
static enum rs_err read_next_link(const char *where, const cJSON *root, char **next_link)
{
	const struct json_element element = { where, "collection", 0, false, NULL };
	const char *link;

	*next_link = NULL;
	if (!get_text(&element, root, "@odata.nextLink", MAX_NEXT_LINK, &link))
		return RS_ERR_PROTOCOL;
	if (!link)
		return RS_OK;
	if (link[0] == '\0' || !json_field_printable_ascii(link)) {
		json_field_error(&element, "@odata.nextLink is empty or contains spaces or "
				 "non-ASCII bytes");
		return RS_ERR_PROTOCOL;
	}
	*next_link = strdup(link);
	return *next_link ? RS_OK : RS_ERR_INTERNAL;
}

/* Parses a collection page; *value is its "value" array. */
static cJSON *parse_collection(const char *where, const char *body, size_t len,
			       const cJSON **value)
{
	cJSON *root = json_field_parse(where, body, len, cJSON_Object);
	const cJSON *array;

	*value = NULL;
	if (!root)
		return NULL;
	array = member_of(root, "value");
	if (!cJSON_IsArray(array)) {
		log_msg(LOG_ERROR, "%s: \"value\" is %s, expected the array of a collection", where,
			array ? json_field_type_name(array) : "missing");
		cJSON_Delete(root);
		return NULL;
	}
	*value = array;
	return root;
}

/* ---- finding the next link before parsing ---- */

static const char *skip_white_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Skips a JSON string that starts at p (a quote); returns the end, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/*
 * Skips one JSON value that starts at p; returns its end, or NULL when the
 * text ends inside it.  Only quotes and brackets are followed: the value
 * is not checked, because the parser checks the whole body later.
 */
static const char *skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	while (p < end) {
		char c = *p;

		if (c == '"') {
			p = skip_string(p, end);
			if (!p)
				return NULL;
		} else if (c == '{' || c == '[') {
			depth++;
			p++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return p;
			depth--;
			p++;
		} else if (c == ',' && depth == 0) {
			return p;
		} else {
			p++;
		}
		if (depth == 0 && (c == '"' || c == '}' || c == ']'))
			return p;
	}
	return NULL;
}

/*
 * Finds the first member of the top-level object whose key is key.
 * Returns the start of its value and sets *value_end, or returns NULL when
 * there is no such member or the text cannot be scanned.  A key with an
 * escape before it also gives NULL, because it might decode to key, and
 * cJSON_GetObjectItemCaseSensitive() takes the first member that matches.
 */
static const char *find_top_member(const char *body, size_t len, const char *key,
				   const char **value_end)
{
	const char *end = body + len;
	const char *p = skip_white_space(body, end);
	size_t key_len = strlen(key);

	if (p == end || *p != '{')
		return NULL;
	for (p++;;) {
		const char *name;
		const char *name_end;

		p = skip_white_space(p, end);
		if (p == end || *p != '"')
			return NULL;
		name = p + 1;
		name_end = skip_string(p, end);
		if (!name_end || memchr(name, '\\', (size_t)(name_end - 1 - name)))
			return NULL;
		p = skip_white_space(name_end, end);
		if (p == end || *p != ':')
			return NULL;
		p = skip_white_space(p + 1, end);
		*value_end = p < end ? skip_value(p, end) : NULL;
		if (!*value_end)
			return NULL;
		if ((size_t)(name_end - 1 - name) == key_len && memcmp(name, key, key_len) == 0)
			return p;
		p = skip_white_space(*value_end, end);
		if (p == end || *p != ',')
			return NULL;
		p++;
	}
}

char *graph_scan_next_link(const char *body, size_t len)
{
	const char *value_end = NULL;
	const char *value = body ? find_top_member(body, len, "@odata.nextLink", &value_end) : NULL;
	size_t link_len;
	char *link;

	if (!value || *value != '"' || value_end - value < 3 || value_end[-1] != '"')
		return NULL;
	link_len = (size_t)(value_end - value) - 2;
	if (link_len > MAX_NEXT_LINK || memchr(value + 1, '\\', link_len))
		return NULL;
	link = strndup(value + 1, link_len);
	if (link && !json_field_printable_ascii(link)) {
		free(link);
		return NULL;
	}
	return link;
}

/* ---- service principals ---- */

void graph_service_principal_release(struct graph_service_principal *sp)
{
	if (!sp)
		return;
	free(sp->id);
	free(sp->app_id);
	free(sp->display_name);
	memset(sp, 0, sizeof(*sp));
}

static enum rs_err map_service_principal(struct json_element *element, const cJSON *item,
					 struct graph_service_principal *out)
{
	const char *id;
	const char *app_id;
	const char *name;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(item)) {
		json_field_error(element, "is %s, expected an object", json_field_type_name(item));
		return RS_ERR_PROTOCOL;
	}
	if (!get_id(element, item, "id", &id))
		return RS_ERR_PROTOCOL;
	element->id = id;
	if (!get_text(element, item, "appId", IDENTITY_MAX_TEXT, &app_id) ||
	    !get_profile_text(element, item, "displayName", &name) ||
	    !get_bool(element, item, "appRoleAssignmentRequired", &out->assignment_required,
		      &out->assignment_required_known))
		return RS_ERR_PROTOCOL;

	out->id = strdup(id);
	out->app_id = app_id ? strdup(app_id) : NULL;
	out->display_name = identity_trim_dup(name);
	if (!out->id || (app_id && !out->app_id)) {
		graph_service_principal_release(out);
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

enum rs_err graph_parse_service_principal(const char *body, size_t len,
					  struct graph_service_principal *out)
{
	struct json_element element = { "response", "service principal", 0, false, NULL };
	cJSON *root = json_field_parse("response", body, len, cJSON_Object);
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	if (!root)
		return RS_ERR_PROTOCOL;
	err = map_service_principal(&element, root, out);
	cJSON_Delete(root);
	return err;
}

enum rs_err graph_parse_service_principal_list(const char *body, size_t len,
					       struct graph_service_principal *out,
					       size_t *count)
{
	struct json_element element = { "service principals", "service principal", 0, true, NULL };
	const cJSON *value;
	cJSON *root = parse_collection("service principals", body, len, &value);
	char *next_link = NULL;
	enum rs_err err = RS_ERR_PROTOCOL;

	memset(out, 0, sizeof(*out));
	*count = 0;
	if (!root)
		return RS_ERR_PROTOCOL;

	err = read_next_link("service principals", root, &next_link);
	if (err == RS_OK && next_link) {
		log_msg(LOG_ERROR, "service principals: the listing has a next page, but an appId "
			"matches one service principal at most");
		err = RS_ERR_PROTOCOL;
	}
	*count = (size_t)cJSON_GetArraySize(value);
	if (err == RS_OK && *count > 0)
		err = map_service_principal(&element, cJSON_GetArrayItem(value, 0), out);

	free(next_link);
	cJSON_Delete(root);
	return err;
}

/* ---- app role assignments ---- */

void graph_assignments_free(struct graph_assignment *items, size_t count)
{
	for (size_t i = 0; items && i < count; i++) {
		free(items[i].id);
		free(items[i].principal_id);
		free(items[i].display_name);
	}
	free(items);
}

/* Graph sends "User", "Group", "ServicePrincipal"; any letter case is read alike. */
static enum graph_principal_type principal_type(const char *type)
{
	if (strcasecmp(type, "User") == 0)
		return GRAPH_PRINCIPAL_USER;
	if (strcasecmp(type, "Group") == 0)
		return GRAPH_PRINCIPAL_GROUP;
	if (strcasecmp(type, "ServicePrincipal") == 0)
		return GRAPH_PRINCIPAL_SERVICE_PRINCIPAL;
	return GRAPH_PRINCIPAL_OTHER;
}

/* The fields of one assignment, pointing into the JSON tree. */
struct assignment_view {
	const char *id;
	const char *principal_id;
	const char *display_name;
	enum graph_principal_type type;
};

static enum rs_err append_assignment(struct graph_assignment **items, size_t *count,
				     const struct assignment_view *view)
{
	struct graph_assignment *grown = realloc(*items, (*count + 1) * sizeof(**items));
	struct graph_assignment *item;

	if (!grown)
		return RS_ERR_INTERNAL;
	*items = grown;
	item = &grown[*count];
	item->id = view->id ? strdup(view->id) : NULL;
	item->principal_id = strdup(view->principal_id);
	item->display_name = identity_trim_dup(view->display_name);
	item->type = view->type;
	if (!item->principal_id || (view->id && !item->id)) {
		free(item->id);
		free(item->principal_id);
		free(item->display_name);
		return RS_ERR_INTERNAL;
	}
	(*count)++;
	return RS_OK;
}

static enum rs_err map_assignment(struct json_element *element, const cJSON *item,
				  struct graph_assignment **items, size_t *count)
{
	const char *principal_id;
	const char *assignment_id;
	const char *type;
	const char *name;

	element->id = NULL;
	if (!cJSON_IsObject(item)) {
		json_field_error(element, "is %s, expected an object", json_field_type_name(item));
		return RS_ERR_PROTOCOL;
	}
	if (!get_id(element, item, "principalId", &principal_id))
		return RS_ERR_PROTOCOL;
	element->id = principal_id;
	if (!json_field_ascii(element, item, "id", "id", IDENTITY_MAX_ID, &assignment_id) ||
	    !get_type(element, item, "principalType", &type) ||
	    !get_profile_text(element, item, "principalDisplayName", &name))
		return RS_ERR_PROTOCOL;
	if (!type) {
		json_field_error(element, "principalType is missing");
		return RS_ERR_PROTOCOL;
	}
	return append_assignment(items, count, &(struct assignment_view){
		.id = assignment_id && assignment_id[0] ? assignment_id : NULL,
		.principal_id = principal_id,
		.display_name = name,
		.type = principal_type(type),
	});
}

enum rs_err graph_parse_assignments(const char *where, const char *body, size_t len,
				    struct graph_assignment **items, size_t *count,
				    char **next_link)
{
	struct json_element element = { where, "assignment", 0, true, NULL };
	const cJSON *value;
	const cJSON *item;
	cJSON *root = parse_collection(where, body, len, &value);
	enum rs_err err;

	*next_link = NULL;
	if (!root)
		return RS_ERR_PROTOCOL;

	err = read_next_link(where, root, next_link);
	cJSON_ArrayForEach(item, value) {
		if (err != RS_OK)
			break;
		err = map_assignment(&element, item, items, count);
		element.index++;
	}
	if (err != RS_OK) {
		free(*next_link);
		*next_link = NULL;
	}
	cJSON_Delete(root);
	return err;
}

/* ---- users ---- */

/* The user attributes that the source reads, pointing into the JSON tree. */
struct user_fields {
	const char *upn;
	const char *mail;
	const char *other_mail;    /* the first non-empty otherMails value */
	const char *given_name;
	const char *surname;
	const char *display_name;
	const char *user_type;
	bool enabled;
	bool enabled_present;
};

/*
 * Returns true when mail can be a member's address: it contains text, and it
 * is not a guest's synthetic "name_domain#EXT#@tenant" address in any case.
 */
static bool usable_mail(const char *mail)
{
	return mail && strspn(mail, " \t\r\n") < strlen(mail) && !strcasestr(mail, "#EXT#");
}

/* True when mail, trimmed, is a valid address. */
static bool mail_valid(const char *mail)
{
	char *trimmed = identity_trim_dup(mail);
	bool valid = trimmed && identity_email_valid(trimmed);

	free(trimmed);
	return valid;
}

/*
 * Reads otherMails: an array of strings.  Keeps the first value that is a
 * valid address, else the first usable one, which the plan then reports.
 */
static bool read_other_mails(const struct json_element *element, const cJSON *user,
			     const char **first)
{
	const cJSON *array = member_of(user, "otherMails");
	const cJSON *item;
	const char *valid = NULL;
	size_t index = 0;

	*first = NULL;
	if (!array || cJSON_IsNull(array))
		return true;
	if (!cJSON_IsArray(array)) {
		json_field_error(element, "otherMails is %s, expected an array",
				 json_field_type_name(array));
		return false;
	}
	cJSON_ArrayForEach(item, array) {
		if (index++ >= MAX_OTHER_MAILS) {
			json_field_error(element, "otherMails has more than %d values",
					 MAX_OTHER_MAILS);
			return false;
		}
		if (!cJSON_IsString(item) || strlen(item->valuestring) > IDENTITY_MAX_TEXT ||
		    !identity_text_blank_controls(item->valuestring)) {
			json_field_error(element,
					 "otherMails[%zu] is %s, expected a string of valid "
					 "text within %d bytes", index - 1,
					 json_field_type_name(item), IDENTITY_MAX_TEXT);
			return false;
		}
		if (!usable_mail(item->valuestring))
			continue;
		if (!*first)
			*first = item->valuestring;
		if (!valid && mail_valid(item->valuestring))
			valid = item->valuestring;
	}
	if (valid)
		*first = valid;
	return true;
}

static bool read_user_fields(const struct json_element *element, const cJSON *user,
			     struct user_fields *fields)
{
	memset(fields, 0, sizeof(*fields));
	return get_profile_text(element, user, "userPrincipalName", &fields->upn) &&
	       get_profile_text(element, user, "mail", &fields->mail) &&
	       read_other_mails(element, user, &fields->other_mail) &&
	       get_profile_text(element, user, "givenName", &fields->given_name) &&
	       get_profile_text(element, user, "surname", &fields->surname) &&
	       get_profile_text(element, user, "displayName", &fields->display_name) &&
	       get_type(element, user, "userType", &fields->user_type) &&
	       get_bool(element, user, "accountEnabled", &fields->enabled,
			&fields->enabled_present);
}

/*
 * Chooses the email: mail, else the first usable otherMails value.  The
 * userPrincipalName is never used, because a guest's is a synthetic
 * "name_domain#EXT#@tenant" and a member's need not receive mail.  A mail
 * or otherMails value containing "#EXT#" is passed over for the same
 * reason.  An invalid address is kept, so that the plan skips and reports
 * that one user.
 */
static char *choose_email(const struct user_fields *fields)
{
	char *email = usable_mail(fields->mail) ? identity_trim_dup(fields->mail) : NULL;

	return email ? email : identity_trim_dup(fields->other_mail);
}

static enum rs_err build_user(const struct json_element *element, const char *id,
			      const struct user_fields *fields, struct identity *out)
{
	memset(out, 0, sizeof(*out));
	out->external_id = strdup(id);
	out->user_name = identity_trim_dup(fields->upn);
	out->email = choose_email(fields);
	out->given_name = identity_trim_dup(fields->given_name);
	out->family_name = identity_trim_dup(fields->surname);
	out->display_name = identity_trim_dup(fields->display_name);
	if (fields->enabled_present) {
		out->status = strdup(fields->enabled ? STATUS_ENABLED : STATUS_DISABLED);
		out->activity = fields->enabled ? IDENTITY_ACTIVE : IDENTITY_INACTIVE;
	} else {
		out->activity = IDENTITY_UNKNOWN;
	}

	if (!out->external_id || (fields->enabled_present && !out->status)) {
		identity_release(out);
		return RS_ERR_INTERNAL;
	}
	if (!fields->enabled_present)
		log_msg(LOG_WARN, "%s: user %s has no accountEnabled: its roster row, if any, is kept "
			"as it is, and none is added", element->where, id);
	if (!out->email)
		log_msg(LOG_WARN, "%s: user %s (%s) has no mail or otherMails value that is an "
			"address (a guest's #EXT# address is not one), so it cannot be matched to "
			"a member: set an email address in Microsoft Entra ID",
			element->where, id, out->user_name ? out->user_name : "no userPrincipalName");
	return RS_OK;
}

/*
 * Maps one user object.  A missing userPrincipalName means Graph returned
 * the object with limited information, which it does when the app may not
 * read users.
 */
static enum rs_err map_user(struct json_element *element, const cJSON *item, struct identity *out)
{
	struct user_fields fields;
	const char *id;

	memset(out, 0, sizeof(*out));
	element->id = NULL;
	if (!get_id(element, item, "id", &id))
		return RS_ERR_PROTOCOL;
	element->id = id;
	if (!read_user_fields(element, item, &fields))
		return RS_ERR_PROTOCOL;
	if (!fields.upn) {
		json_field_error(element,
				 "userPrincipalName is missing, so Graph returned the user "
				 "with limited information: the app needs the application "
				 "permission User.Read.All with admin consent");
		return RS_ERR_PERMISSION;
	}
	return build_user(element, id, &fields, out);
}

enum rs_err graph_parse_user(const char *body, size_t len, struct identity *out)
{
	struct json_element element = { "response", "user", 0, false, NULL };
	cJSON *root = json_field_parse("response", body, len, cJSON_Object);
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	if (!root)
		return RS_ERR_PROTOCOL;
	err = map_user(&element, root, out);
	cJSON_Delete(root);
	return err;
}

/* ---- directory objects ---- */

static enum rs_err deliver_user(struct json_element *element, const cJSON *item,
				const struct graph_object_sink *sink)
{
	struct identity user;
	const char *id;
	enum rs_err err;

	if (sink->wants_user) {
		if (!get_id(element, item, "id", &id))
			return RS_ERR_PROTOCOL;
		if (!sink->wants_user(sink->context, id))
			return RS_OK;
	}
	err = map_user(element, item, &user);
	if (err != RS_OK)
		return err;
	err = sink->user ? sink->user(sink->context, &user) : RS_OK;
	identity_release(&user);
	return err;
}

static enum rs_err deliver_group(struct json_element *element, const cJSON *item,
				 const struct graph_object_sink *sink)
{
	const char *id;
	const char *name;

	if (!get_id(element, item, "id", &id))
		return RS_ERR_PROTOCOL;
	element->id = id;
	if (!get_profile_text(element, item, "displayName", &name))
		return RS_ERR_PROTOCOL;
	return sink->group ? sink->group(sink->context, id, name) : RS_OK;
}

static enum rs_err deliver_other(struct json_element *element, const cJSON *item, const char *type,
				 const struct graph_object_sink *sink)
{
	const char *id;

	if (!get_id(element, item, "id", &id))
		return RS_ERR_PROTOCOL;
	if (sink->other)
		sink->other(sink->context, type, id);
	return RS_OK;
}

static enum rs_err map_object(struct json_element *element, const cJSON *item, bool users_untyped,
			      const struct graph_object_sink *sink)
{
	const char *type;

	element->id = NULL;
	if (!cJSON_IsObject(item)) {
		json_field_error(element, "is %s, expected an object", json_field_type_name(item));
		return RS_ERR_PROTOCOL;
	}
	if (!get_type(element, item, "@odata.type", &type))
		return RS_ERR_PROTOCOL;
	if (!type && !users_untyped) {
		json_field_error(element, "@odata.type is missing");
		return RS_ERR_PROTOCOL;
	}
	if (!type || strcmp(type, "#microsoft.graph.user") == 0)
		return deliver_user(element, item, sink);
	if (strcmp(type, "#microsoft.graph.group") == 0)
		return deliver_group(element, item, sink);
	return deliver_other(element, item, type, sink);
}

enum rs_err graph_parse_objects(const char *where, const char *body, size_t len,
				bool users_untyped, const struct graph_object_sink *sink,
				char **next_link)
{
	struct json_element element = { where, "object", 0, true, NULL };
	const cJSON *value;
	const cJSON *item;
	cJSON *root = parse_collection(where, body, len, &value);
	enum rs_err err;

	*next_link = NULL;
	if (!root)
		return RS_ERR_PROTOCOL;

	err = read_next_link(where, root, next_link);
	cJSON_ArrayForEach(item, value) {
		const cJSON *id = member_of(item, "id");

		if (err != RS_OK)
			break;
		if (cJSON_IsString(id))
			page_ids_add(sink->ids, id->valuestring);
		err = map_object(&element, item, users_untyped, sink);
		element.index++;
	}
	if (err != RS_OK) {
		free(*next_link);
		*next_link = NULL;
	}
	cJSON_Delete(root);
	return err;
}

enum rs_err graph_parse_count(const char *body, size_t len, long long *count)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *item = member_of(root, "@odata.count");
	enum rs_err err = RS_ERR_PROTOCOL;

	*count = 0;
	if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble <= 1e15 &&
	    item->valuedouble == floor(item->valuedouble)) {
		*count = (long long)item->valuedouble;
		err = RS_OK;
	}
	cJSON_Delete(root);
	return err;
}

/* ---- $batch ---- */

void graph_batch_result_release(struct graph_batch_result *result)
{
	for (size_t i = 0; i < result->not_found_count; i++)
		free(result->not_found[i]);
	for (size_t i = 0; i < result->retry_count; i++)
		free(result->retry[i]);
	free(result->not_found);
	free(result->retry);
	free(result->retry_request_id);
	memset(result, 0, sizeof(*result));
}

static bool append_id(char ***ids, size_t *count, const char *id)
{
	char **grown = realloc(*ids, (*count + 1) * sizeof(**ids));

	if (!grown)
		return false;
	*ids = grown;
	grown[*count] = strdup(id);
	if (!grown[*count])
		return false;
	(*count)++;
	return true;
}

/* Finds a header of a step's "headers" object by name, in any case. */
static const char *step_header(const cJSON *headers, const char *name)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, headers) {
		if (item->string && strcasecmp(item->string, name) == 0 && cJSON_IsString(item))
			return item->valuestring;
	}
	return NULL;
}

static bool transient_status(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Logs a failed step in the shape of a Graph error line. */
static void log_step_error(const char *where, const char *id, long status, const cJSON *body)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	struct graph_error error;
	bool parsed = text && graph_parse_error(text, strlen(text), &error);

	log_msg(LOG_ERROR, "%s: GET /users/%s returned %ld %s: %.300s [request id %.100s]%s",
		where, id, status, parsed && error.code[0] ? error.code : "(no code)",
		parsed && error.message ? error.message : "(no message)",
		parsed && error.request_id ? error.request_id : "none",
		status == 403 || status == 401 ?
		"; the app needs the application permission User.Read.All with admin consent" : "");
	if (parsed)
		graph_error_release(&error);
	cJSON_free(text);
}

/* The Retry-After of a step: a string as HTTP sends it, or a JSON number of seconds. */
static double step_retry_after(const cJSON *headers)
{
	const char *value = step_header(headers, "Retry-After");
	const cJSON *item;
	double seconds = 0;

	if (value && !http_parse_retry_after(value, time(NULL), &seconds))
		seconds = 0;
	cJSON_ArrayForEach(item, headers) {
		if (!value && item->string && strcasecmp(item->string, "Retry-After") == 0 &&
		    cJSON_IsNumber(item) && item->valuedouble > 0 && item->valuedouble < 86400)
			seconds = item->valuedouble;
	}
	return seconds;
}

/* Stores the status and request id of the first step to send again, for the log. */
static void note_retry(struct graph_batch_result *result, long status, const cJSON *step)
{
	const cJSON *error = member_of(member_of(step, "body"), "error");
	const cJSON *inner = member_of(error, "innerError");
	const cJSON *id = member_of(inner, "request-id");
	const char *header = step_header(member_of(step, "headers"), "request-id");

	result->retry_status = status;
	if (cJSON_IsString(id) && json_field_printable_ascii(id->valuestring))
		result->retry_request_id = strndup(id->valuestring, 128);
	else if (header && json_field_printable_ascii(header))
		result->retry_request_id = strndup(header, 128);
}

/*
 * Delivers the user in the body of a 200 step, which must be the user that
 * the step requested.  Another object in its place would leave that user
 * unread, and the read would take the user for deleted.
 */
static enum rs_err map_step_user(struct json_element *element, const char *step_id,
				 const char *requested, const cJSON *body,
				 const struct graph_object_sink *sink)
{
	const cJSON *id = member_of(body, "id");
	const char *type;

	if (!cJSON_IsObject(body)) {
		json_field_error(element, "step %s requested user %s, but its body is %s, expected "
				 "a user object", step_id, requested,
				 body ? json_field_type_name(body) : "missing");
		return RS_ERR_PROTOCOL;
	}
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0') {
		json_field_error(element, "step %s requested user %s, but its body has no id",
				 step_id, requested);
		return RS_ERR_PROTOCOL;
	}
	if (!same_object_id(id->valuestring, requested)) {
		json_field_error(element, "step %s requested user %s, but its body is the object "
				 "%.300s", step_id, requested, id->valuestring);
		return RS_ERR_PROTOCOL;
	}
	if (!get_type(element, body, "@odata.type", &type))
		return RS_ERR_PROTOCOL;
	if (type && strcmp(type, "#microsoft.graph.user") != 0) {
		json_field_error(element, "step %s requested user %s, but its body is of type %s",
				 step_id, requested, type);
		return RS_ERR_PROTOCOL;
	}
	return deliver_user(element, body, sink);
}

/* Handles one step of a batch response; *done marks the ids that have a step. */
static enum rs_err map_step(struct json_element *element, const cJSON *step,
			    const char *const *ids, size_t id_count, bool *done,
			    const struct graph_object_sink *sink, struct graph_batch_result *result)
{
	const cJSON *status = member_of(step, "status");
	const char *step_id;
	const char *id;
	char *end;
	unsigned long number;

	if (!cJSON_IsObject(step)) {
		json_field_error(element, "is %s, expected an object", json_field_type_name(step));
		return RS_ERR_PROTOCOL;
	}
	if (!get_text(element, step, "id", MAX_TYPE_LEN, &step_id))
		return RS_ERR_PROTOCOL;
	number = step_id ? strtoul(step_id, &end, 10) : 0;
	if (!step_id || *end != '\0' || number < 1 || number > id_count || done[number - 1]) {
		json_field_error(element,
				 "id is \"%s\", expected an unanswered request number from 1 "
				 "to %zu", step_id ? step_id : "(missing)", id_count);
		return RS_ERR_PROTOCOL;
	}
	if (!cJSON_IsNumber(status) || status->valuedouble < 100 || status->valuedouble > 599) {
		json_field_error(element, "status is %s, expected an HTTP status",
				 status ? json_field_type_name(status) : "missing");
		return RS_ERR_PROTOCOL;
	}

	id = ids[number - 1];
	element->id = id;
	done[number - 1] = true;
	switch ((long)status->valuedouble) {
	case 200:
		return map_step_user(element, step_id, id, member_of(step, "body"), sink);
	case 404:
		return append_id(&result->not_found, &result->not_found_count, id) ?
		       RS_OK : RS_ERR_INTERNAL;
	default:
		break;
	}

	if (transient_status((long)status->valuedouble)) {
		double wait = step_retry_after(member_of(step, "headers"));

		if (wait > result->retry_after)
			result->retry_after = wait;
		if (result->retry_count == 0)
			note_retry(result, (long)status->valuedouble, step);
		return append_id(&result->retry, &result->retry_count, id) ? RS_OK : RS_ERR_INTERNAL;
	}
	log_step_error(element->where, id, (long)status->valuedouble, member_of(step, "body"));
	return status->valuedouble == 401 || status->valuedouble == 403 ?
	       RS_ERR_PERMISSION : RS_ERR_PROTOCOL;
}

/* Adds the ids that have no step in the response to the retry list. */
static enum rs_err retry_unanswered(const char *const *ids, size_t id_count, const bool *done,
				    struct graph_batch_result *result)
{
	for (size_t i = 0; i < id_count; i++) {
		if (!done[i] && !append_id(&result->retry, &result->retry_count, ids[i]))
			return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

enum rs_err graph_parse_batch(const char *where, const char *body, size_t len,
			      const char *const *ids, size_t id_count,
			      const struct graph_object_sink *sink,
			      struct graph_batch_result *result)
{
	struct json_element element = { where, "response", 0, true, NULL };
	cJSON *root = json_field_parse(where, body, len, cJSON_Object);
	const cJSON *responses = member_of(root, "responses");
	const cJSON *step;
	bool *done = calloc(id_count + 1, sizeof(*done));
	enum rs_err err = RS_OK;

	memset(result, 0, sizeof(*result));
	if (!done || !root) {
		err = done ? RS_ERR_PROTOCOL : RS_ERR_INTERNAL;
		goto out;
	}
	if (!cJSON_IsArray(responses)) {
		log_msg(LOG_ERROR, "%s: \"responses\" is %s, expected an array", where,
			responses ? json_field_type_name(responses) : "missing");
		err = RS_ERR_PROTOCOL;
		goto out;
	}
	cJSON_ArrayForEach(step, responses) {
		element.id = NULL;
		err = map_step(&element, step, ids, id_count, done, sink, result);
		if (err != RS_OK)
			goto out;
		element.index++;
	}
	err = retry_unanswered(ids, id_count, done, result);

out:
	free(done);
	cJSON_Delete(root);
	return err;
}

/* ---- errors ---- */

void graph_error_release(struct graph_error *error)
{
	if (!error)
		return;
	free(error->code);
	free(error->message);
	free(error->request_id);
	free(error->client_request_id);
	free(error->date);
	memset(error, 0, sizeof(*error));
}

/* Copies a string member, cut to max bytes, with control characters as '?'. */
static char *copy_member(const cJSON *object, const char *key, size_t max)
{
	const cJSON *item = member_of(object, key);
	char *copy;

	if (!cJSON_IsString(item) || !item->valuestring)
		return NULL;
	copy = strndup(item->valuestring, max);
	for (char *p = copy; p && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return copy;
}

bool graph_parse_error(const char *body, size_t len, struct graph_error *out)
{
	cJSON *root;
	const cJSON *error;
	const cJSON *inner;

	memset(out, 0, sizeof(*out));
	if (!body || len == 0)
		return false;
	root = cJSON_ParseWithLength(body, len);
	error = member_of(root, "error");
	if (!cJSON_IsObject(error) || !cJSON_IsString(member_of(error, "code"))) {
		cJSON_Delete(root);
		return false;
	}

	inner = member_of(error, "innerError");
	out->code = copy_member(error, "code", 128);
	out->message = copy_member(error, "message", 1024);
	out->request_id = copy_member(inner, "request-id", 128);
	if (!out->request_id)
		out->request_id = copy_member(inner, "requestId", 128);
	out->client_request_id = copy_member(inner, "client-request-id", 128);
	out->date = copy_member(inner, "date", 64);
	cJSON_Delete(root);
	if (!out->code) {
		graph_error_release(out);
		return false;
	}
	return true;
}

static void line_add_ids(struct log_line *line, const struct graph_error *error,
			 const char *header_request_id)
{
	const char *request_id = error->request_id ? error->request_id : header_request_id;

	log_line_add(line, " [request id %.128s", request_id ? request_id : "none");
	if (error->client_request_id)
		log_line_add(line, ", client request id %s", error->client_request_id);
	if (error->date)
		log_line_add(line, ", date %s", error->date);
	log_line_add(line, "]");
}

/*
 * Finds the id that follows prefix in the path of url, up to the next '/',
 * '?' or '#'.  Returns its start and sets *len, or returns NULL when the
 * path does not contain prefix.
 */
static const char *url_segment_after(const char *url, const char *prefix, size_t *len)
{
	const char *start = strstr(url, prefix);

	if (!start || start >= url + strcspn(url, "?#"))
		return NULL;
	start += strlen(prefix);
	*len = strcspn(start, "/?#");
	if (*len > IDENTITY_MAX_ID)
		*len = IDENTITY_MAX_ID;
	return start;
}

/*
 * Writes what to do about a 404 on url.  A group or user that an
 * assignment names may have been deleted since.  Any other object belongs
 * to the enterprise app, which the read found at its start.
 */
static void write_not_found_hint(const char *url, char *out, size_t size)
{
	size_t len = 0;
	const char *group = url_segment_after(url, "/v1.0/groups/", &len);
	const char *user;

	if (group && strncmp(group + len, "/members", 8) == 0) {
		snprintf(out, size, "group %.*s was not found, perhaps deleted: if an assignment of "
			 "the enterprise app names it, remove that assignment; else run again once "
			 "the directory has caught up", (int)len, group);
		return;
	}
	user = url_segment_after(url, "/v1.0/users/", &len);
	if (user && strchr("?#", user[len]))
		snprintf(out, size, "user %.*s was not found, perhaps deleted; a sync gives no "
			 "seat to a deleted user that is still assigned", (int)len, user);
	else
		snprintf(out, size, "the object was not found: it may have been deleted during the "
			 "read; run again, and check graph.app_id if it persists");
}

static const char *error_hint(long status, const char *code)
{
	if (status == 401)
		return "Microsoft Entra ID rejected the access token even after a new one was "
		       "fetched: check graph.tenant_id, graph.client_id and the client secret or "
		       "certificate";
	if (status == 429)
		return "Graph kept throttling: run again later or raise http.retry_budget";
	if (status >= 500)
		return "Microsoft Graph is failing: run again later";
	if (status >= 300 && status < 400)
		return "redirects are not followed: set graph.graph_url to the Graph endpoint itself";
	if (code && strcmp(code, "Request_UnsupportedQuery") == 0)
		return "Graph does not support a query this build sends: report this with the "
		       "request id";
	return "Graph rejected the request: report this with the request id";
}

static enum rs_err error_for_status(long status)
{
	if (status == 401 || status == 403)
		return RS_ERR_PERMISSION;
	if (status == 429)
		return RS_ERR_TEMPFAIL;
	if (status >= 500 && status < 600)
		return RS_ERR_UNAVAILABLE;
	return RS_ERR_PROTOCOL;
}

enum rs_err graph_report_error(const struct http_response *response, const char *method,
			       const char *url, const char *permission)
{
	struct log_line line = { "", 0 };
	struct graph_error error;
	const char *safe_url = url ? url : "";
	char hint[IDENTITY_MAX_ID + 256];
	bool parsed = graph_parse_error(response->body, response->body_len, &error);

	log_line_add(&line, "%s %.*s returned %ld", method, (int)strcspn(safe_url, "?#"), safe_url,
		 response->status);
	if (parsed)
		log_line_add(&line, " %s: %.500s", error.code[0] ? error.code : "(no code)",
			 error.message ? error.message : "(no message)");
	else if (response->body_len > 0)
		log_line_add_excerpt(&line, response->body, response->body_len);
	else
		log_line_add(&line, " with an empty body");
	line_add_ids(&line, &error, http_response_request_id(response));
	if (response->status == 404)
		write_not_found_hint(safe_url, hint, sizeof(hint));
	else
		snprintf(hint, sizeof(hint), "%s", error_hint(response->status,
							      parsed ? error.code : NULL));

	if (response->status == 403 && permission)
		log_msg(LOG_ERROR, "%s; the app needs the application permission %s with admin "
			"consent: add it under API permissions of the app registration and select "
			"\"Grant admin consent\"", line.text, permission);
	else if (response->status == 403)
		log_msg(LOG_ERROR, "%s; the app lacks a permission: check its API permissions and "
			"admin consent", line.text);
	else
		log_msg(LOG_ERROR, "%s; %s", line.text, hint);
	if (parsed)
		graph_error_release(&error);
	return error_for_status(response->status);
}
