/*
 * graph_render.c - JSON text of the fake Graph's objects: users, groups and
 * other directory objects, the app's service principal, app role
 * assignments and error bodies.  Pages are appended straight into one
 * buffer, without a cJSON tree, so that a generated page of 999 users costs
 * little.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_model.h"

/* Fixed timestamp of every assignment: the agent stores none. */
#define TS_CREATED "\"2024-02-01T08:00:00.0000000Z\""
#define DEFAULT_APP_ROLE "\"00000000-0000-0000-0000-000000000000\""

/* The properties Graph returns without $select, in its order. */
static const char *const default_user[] = {
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id", NULL
};
static const char *const default_group[] = { "id", "displayName", "description", "mail", NULL };
static const char *const default_service_principal[] = {
	"id", "appId", "displayName", "appRoleAssignmentRequired", "servicePrincipalType", NULL
};
static const char *const default_assignment[] = {
	"id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName",
	"principalId", "principalType", "resourceDisplayName", "resourceId", NULL
};

static const char *const *const default_names[] = {
	[GRAPH_DEFAULTS_USER] = default_user,
	[GRAPH_DEFAULTS_GROUP] = default_group,
	[GRAPH_DEFAULTS_SERVICE_PRINCIPAL] = default_service_principal,
	[GRAPH_DEFAULTS_ASSIGNMENT] = default_assignment,
};

bool graph_select_parse(const char *value, enum graph_defaults set, struct graph_select *out)
{
	const char *const *defaults = default_names[set];
	char *saveptr = NULL;

	memset(out, 0, sizeof(*out));
	if (value == NULL) {
		while (defaults[out->count] != NULL && out->count < GRAPH_SELECT_MAX) {
			out->names[out->count] = defaults[out->count];
			out->count++;
		}
		return true;
	}
	out->requested = true;
	out->copy = strdup(value);
	if (out->copy == NULL)
		return false;
	for (char *name = strtok_r(out->copy, ",", &saveptr); name != NULL;
	     name = strtok_r(NULL, ",", &saveptr)) {
		if (out->count == GRAPH_SELECT_MAX)
			return false;
		out->names[out->count++] = name;
	}
	return true;
}

void graph_select_release(struct graph_select *select)
{
	free(select->copy);
	memset(select, 0, sizeof(*select));
}

static void open_member(struct buf *b, bool *first, const char *name)
{
	if (!*first)
		BUF_LIT(b, ",");
	*first = false;
	buf_json_string(b, name);
	BUF_LIT(b, ":");
}

/*
 * Appends one selected property.  A user property without a value is null,
 * as Graph sends it; another object leaves out what its type lacks.
 */
static void render_property(struct buf *b, const struct graph_object *o, const char *name,
			    bool limited, bool *first)
{
	size_t mark = b->len;
	bool was_first = *first;

	open_member(b, first, name);
	if (limited && strcmp(name, "id") != 0) {
		BUF_LIT(b, "null");
		return;
	}
	if (graph_object_property(o, name, b))
		return;
	if (o->kind == GRAPH_KIND_USER) {
		BUF_LIT(b, "null");
		return;
	}
	buf_truncate(b, mark);
	*first = was_first;
}

void graph_render_object(struct buf *b, const struct graph_object *o,
			 const struct graph_select *select, bool typed, bool limited)
{
	bool first = true;

	BUF_LIT(b, "{");
	if (typed) {
		open_member(b, &first, "@odata.type");
		buf_json_string(b, graph_object_type(o));
	}
	for (size_t i = 0; i < select->count; i++)
		render_property(b, o, select->names[i], limited, &first);
	BUF_LIT(b, "}");
}

static void render_json_or(struct buf *b, const cJSON *value, const char *fallback)
{
	if (value != NULL)
		buf_json_value(b, value);
	else
		buf_puts(b, fallback);
}

static void service_principal_property(struct buf *b, const struct graph_settings *s,
				       const char *name)
{
	if (strcmp(name, "id") == 0)
		buf_json_string(b, s->sp_id);
	else if (strcmp(name, "appId") == 0)
		buf_json_string(b, s->app_id);
	else if (strcmp(name, "displayName") == 0)
		render_json_or(b, s->sp_display_name, "\"Roster App\"");
	else if (strcmp(name, "appRoleAssignmentRequired") == 0)
		render_json_or(b, s->assignment_required, "true");
	else if (strcmp(name, "servicePrincipalType") == 0)
		BUF_LIT(b, "\"Application\"");
	else
		BUF_LIT(b, "null");
}

void graph_render_service_principal(struct buf *b, const struct graph_settings *settings,
				    const struct graph_select *select)
{
	bool first = true;

	BUF_LIT(b, "{");
	for (size_t i = 0; i < select->count; i++) {
		open_member(b, &first, select->names[i]);
		service_principal_property(b, settings, select->names[i]);
	}
	BUF_LIT(b, "}");
}

/* The principal's display name: the dataset's override, else its displayName, else null. */
static void principal_name(struct buf *b, const struct graph_assignment_view *a)
{
	if (a->display_name != NULL)
		buf_json_value(b, a->display_name);
	else if (!a->exists || !graph_object_property(&a->principal, "displayName", b))
		BUF_LIT(b, "null");
}

static void assignment_property(struct buf *b, const struct graph_data *gd, size_t i,
				const struct graph_assignment_view *a, const char *name)
{
	const struct graph_settings *s = graph_data_settings(gd);

	if (strcmp(name, "id") == 0)
		buf_printf(b, "\"fakeAssignment%zuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", i);
	else if (strcmp(name, "appRoleId") == 0)
		BUF_LIT(b, DEFAULT_APP_ROLE);
	else if (strcmp(name, "createdDateTime") == 0)
		BUF_LIT(b, TS_CREATED);
	else if (strcmp(name, "principalDisplayName") == 0)
		principal_name(b, a);
	else if (strcmp(name, "principalId") == 0)
		buf_json_string(b, a->principal_id);
	else if (strcmp(name, "principalType") == 0)
		buf_json_string(b, a->principal_type);
	else if (strcmp(name, "resourceDisplayName") == 0)
		render_json_or(b, s->sp_display_name, "\"Roster App\"");
	else if (strcmp(name, "resourceId") == 0)
		buf_json_string(b, s->sp_id);
	else
		BUF_LIT(b, "null");
}

void graph_render_assignment(struct buf *b, const struct graph_data *gd, size_t i,
			     const struct graph_select *select)
{
	struct graph_assignment_view a;
	bool first = true;

	graph_assignment_at(gd, i, &a);
	BUF_LIT(b, "{");
	for (size_t n = 0; n < select->count; n++) {
		open_member(b, &first, select->names[n]);
		assignment_property(b, gd, i, &a, select->names[n]);
	}
	BUF_LIT(b, "}");
}

void graph_render_error(struct buf *b, const char *code, const char *message,
			const char *request_id, const char *client_request_id)
{
	char date[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	BUF_LIT(b, "{\"error\":{\"code\":");
	buf_json_string(b, code);
	BUF_LIT(b, ",\"message\":");
	buf_json_string(b, message);
	BUF_LIT(b, ",\"innerError\":{\"date\":");
	buf_json_string(b, date);
	BUF_LIT(b, ",\"request-id\":");
	buf_json_string(b, request_id);
	BUF_LIT(b, ",\"client-request-id\":");
	buf_json_string(b, client_request_id);
	BUF_LIT(b, "}}}");
}
