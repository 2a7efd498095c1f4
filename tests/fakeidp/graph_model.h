/*
 * graph_model.h - the inside of the fake Microsoft Graph, shared by
 * graph.c (routes, paging, $batch, errors), graph_render.c (JSON text) and
 * graph_data.c (the directory: the dataset's "graph" object, or generated
 * records).  Every other file uses only what fakeidp.h declares.
 */
#ifndef FAKEIDP_GRAPH_MODEL_H
#define FAKEIDP_GRAPH_MODEL_H

#include "fakeidp.h"

enum graph_kind {
	GRAPH_KIND_USER,
	GRAPH_KIND_GROUP,
	GRAPH_KIND_SERVICE_PRINCIPAL,
	GRAPH_KIND_OTHER,       /* a device or contact, with its own @odata.type */
};

/* Settings of the "graph" object; strings point into the dataset JSON. */
struct graph_settings {
	const char *tenant_id;
	const char *app_id;     /* appId of the enterprise app */
	const char *sp_id;      /* object id of its service principal */
	const cJSON *sp_display_name;      /* NULL: "Roster App" */
	const cJSON *assignment_required;  /* NULL: true */
	const char *token;      /* NULL: any Authorization is accepted */
	const cJSON *forbidden; /* array of permission names, or NULL */
	long page_size_max;
};

/* A view of one directory object, valid while its dataset is. */
struct graph_object {
	const struct graph_data *gd;
	enum graph_kind kind;
	size_t index;
	char synthetic_id[48];
};

/* One app role assignment; principal is valid only when exists is true. */
struct graph_assignment_view {
	const char *principal_id;
	const char *principal_type;
	const cJSON *display_name;  /* principalDisplayName override, or NULL */
	bool exists;
	struct graph_object principal;
};

const struct graph_settings *graph_data_settings(const struct graph_data *gd);

/* True when the dataset withholds the application permission from the agent. */
bool graph_permission_denied(const struct graph_data *gd, const char *permission);

const char *graph_object_id(const struct graph_object *o);

/* "#microsoft.graph.user" and so on. */
const char *graph_object_type(const struct graph_object *o);

/*
 * Appends the JSON value of property name of o; returns false, appending
 * nothing, when o has no such property.
 */
bool graph_object_property(const struct graph_object *o, const char *name, struct buf *out);

/* Finds a user, group, service principal or other object by id. */
bool graph_find_object(const struct graph_data *gd, const char *id, struct graph_object *out);

/* The direct members of a group, in the file's order. */
size_t graph_member_count(const struct graph_object *group);
void graph_member_at(const struct graph_object *group, size_t i, struct graph_object *out);

/* The tenant's groups, in the file's order. */
size_t graph_group_count(const struct graph_data *gd);
void graph_group_at(const struct graph_data *gd, size_t i, struct graph_object *out);

/* The tenant's users, in the file's order. */
size_t graph_user_count(const struct graph_data *gd);
void graph_user_at(const struct graph_data *gd, size_t i, struct graph_object *out);

/* The app role assignments of the app's service principal. */
size_t graph_assignment_count(const struct graph_data *gd);
void graph_assignment_at(const struct graph_data *gd, size_t i,
			 struct graph_assignment_view *out);

/* ---- graph_render.c ---- */

#define GRAPH_SELECT_MAX 64

/* The property names of $select, or of the default set when there is none. */
struct graph_select {
	const char *names[GRAPH_SELECT_MAX];
	size_t count;
	bool requested;         /* $select was in the request */
	char *copy;             /* storage of the names */
};

/* Which properties Graph returns when a request has no $select. */
enum graph_defaults {
	GRAPH_DEFAULTS_USER,
	GRAPH_DEFAULTS_GROUP,
	GRAPH_DEFAULTS_SERVICE_PRINCIPAL,
	GRAPH_DEFAULTS_ASSIGNMENT,
};

/* Splits the $select value, or takes the default set when value is NULL. */
bool graph_select_parse(const char *value, enum graph_defaults set, struct graph_select *out);
void graph_select_release(struct graph_select *select);

/*
 * Appends a directory object.  typed adds "@odata.type", as collections of
 * directoryObject do.  limited renders a user with only its id, the rest
 * null, as Graph does when the app may not read users.
 */
void graph_render_object(struct buf *b, const struct graph_object *o,
			 const struct graph_select *select, bool typed, bool limited);

/* Appends the app's service principal with the selected properties. */
void graph_render_service_principal(struct buf *b, const struct graph_settings *settings,
				    const struct graph_select *select);

/* Appends app role assignment i with the selected properties. */
void graph_render_assignment(struct buf *b, const struct graph_data *gd, size_t i,
			     const struct graph_select *select);

/* Appends Graph's error object. */
void graph_render_error(struct buf *b, const char *code, const char *message,
			const char *request_id, const char *client_request_id);

#endif
