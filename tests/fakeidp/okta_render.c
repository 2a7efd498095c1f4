/*
 * okta_render.c - JSON text of Okta's AppUser, User, Group, group assignment,
 * application and error objects, with the field order of recorded Okta
 * responses.  Bodies are appended straight into one buffer, without a cJSON
 * tree, because a synthetic page contains up to 500 users with _embedded.user
 * and one run may read a million of them.
 *
 * Timestamps are fixed values: the agent stores none of them.
 */
#include <string.h>

#include "fakeidp.h"

#define TS_CREATED "\"2024-01-15T09:30:00.000Z\""
#define TS_ACTIVATED "\"2024-01-15T09:30:01.000Z\""
#define TS_UPDATED "\"2024-03-01T12:00:00.000Z\""
#define TS_ASSIGNED "\"2024-02-01T08:00:00.000Z\""
#define TS_LOGIN "\"2024-03-04T07:45:00.000Z\""
#define USER_TYPE_ID "otyfakeidp0000000001"

/* Profile keys written from the user's own fields, in this order. */
static const struct {
	const char *key;
	enum user_field field;
} profile_fields[] = {
	{ "firstName", USER_FIRST_NAME },
	{ "lastName", USER_LAST_NAME },
	{ "displayName", USER_DISPLAY_NAME },
	{ "login", USER_LOGIN },
	{ "email", USER_EMAIL },
};

#define PROFILE_FIELD_COUNT (sizeof(profile_fields) / sizeof(profile_fields[0]))

/* Appends {"href":"<origin><path><id><suffix>"}. */
static void render_href(struct buf *b, const struct okta_links *links, const char *path,
			const char *id, const char *suffix)
{
	BUF_LIT(b, "{\"href\":\"");
	buf_json_chars(b, links->origin);
	buf_puts(b, path);
	buf_json_chars(b, id);
	buf_puts(b, suffix);
	BUF_LIT(b, "\"}");
}

/*
 * Appends ,"key":<value of field> (without the comma when first), or
 * nothing when the user lacks the field.  Returns whether it appended.
 */
static bool render_user_member(struct buf *b, const struct fake_user *user, const char *key,
			       enum user_field field, bool first)
{
	size_t mark = b->len;

	if (!first)
		BUF_LIT(b, ",");
	buf_json_string(b, key);
	BUF_LIT(b, ":");
	if (user_field(user, field, b))
		return true;
	buf_truncate(b, mark);
	return false;
}

static bool is_profile_field(const char *key, const bool *written)
{
	for (size_t i = 0; i < PROFILE_FIELD_COUNT; i++) {
		if (written[i] && strcmp(profile_fields[i].key, key) == 0)
			return true;
	}
	return false;
}

/* Appends the profile: the user's own fields, then the extra attributes. */
static void render_profile(struct buf *b, const struct fake_user *user)
{
	bool written[PROFILE_FIELD_COUNT] = { false };
	bool first = true;
	const cJSON *extra;

	BUF_LIT(b, "{");
	for (size_t i = 0; i < PROFILE_FIELD_COUNT; i++) {
		written[i] = render_user_member(b, user, profile_fields[i].key,
						profile_fields[i].field, first);
		first = first && !written[i];
	}
	cJSON_ArrayForEach(extra, user_profile(user)) {
		if (is_profile_field(extra->string, written))
			continue;
		if (!first)
			BUF_LIT(b, ",");
		first = false;
		buf_json_string(b, extra->string);
		BUF_LIT(b, ":");
		buf_json_value(b, extra);
	}
	BUF_LIT(b, "}");
}

static bool status_is(const char *status, const char *expected)
{
	return status != NULL && strcmp(status, expected) == 0;
}

/* Appends the lifecycle timestamps, with null where Okta has none yet. */
static void render_user_dates(struct buf *b, const struct fake_user *user)
{
	const char *status = user_status(user);
	bool staged = status_is(status, "STAGED");
	bool not_active_yet = staged || status_is(status, "PROVISIONED");

	BUF_LIT(b, ",\"created\":" TS_CREATED ",\"activated\":");
	if (staged)
		BUF_LIT(b, "null");
	else
		BUF_LIT(b, TS_ACTIVATED);
	BUF_LIT(b, ",\"statusChanged\":" TS_ACTIVATED ",\"lastLogin\":");
	if (not_active_yet)
		BUF_LIT(b, "null");
	else
		BUF_LIT(b, TS_LOGIN);
	BUF_LIT(b, ",\"lastUpdated\":" TS_UPDATED ",\"passwordChanged\":");
	if (not_active_yet)
		BUF_LIT(b, "null");
	else
		BUF_LIT(b, TS_ACTIVATED);
}

/* Appends the POST links that a single-user GET carries. */
static void render_lifecycle_links(struct buf *b, const struct okta_links *links, const char *id)
{
	static const struct {
		const char *name;
		const char *operation;
	} lifecycle[] = {
		{ "suspend", "suspend" },
		{ "resetPassword", "reset_password" },
		{ "expirePassword", "expire_password" },
		{ "deactivate", "deactivate" },
	};

	for (size_t i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++) {
		BUF_LIT(b, ",\"");
		buf_puts(b, lifecycle[i].name);
		BUF_LIT(b, "\":{\"href\":\"");
		buf_json_chars(b, links->origin);
		BUF_LIT(b, "/api/v1/users/");
		buf_json_chars(b, id);
		BUF_LIT(b, "/lifecycle/");
		buf_puts(b, lifecycle[i].operation);
		BUF_LIT(b, "\",\"method\":\"POST\"}");
	}
}

void okta_render_user(struct buf *b, const struct okta_links *links,
		      const struct fake_user *user, bool lifecycle_links)
{
	const char *id = user_id(user);
	const cJSON *raw = user_raw(user);

	if (raw != NULL) {
		buf_json_value(b, raw);
		return;
	}
	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, id);
	BUF_LIT(b, ",\"status\":");
	if (!user_field(user, USER_STATUS, b))
		BUF_LIT(b, "\"ACTIVE\"");
	render_user_dates(b, user);
	BUF_LIT(b, ",\"type\":{\"id\":\"" USER_TYPE_ID "\"},\"profile\":");
	render_profile(b, user);
	BUF_LIT(b, ",\"credentials\":{\"provider\":{\"type\":\"OKTA\",\"name\":\"OKTA\"}}");
	BUF_LIT(b, ",\"_links\":{");
	if (lifecycle_links) {
		BUF_LIT(b, "\"type\":");
		render_href(b, links, "/api/v1/meta/types/user/", USER_TYPE_ID, "");
		render_lifecycle_links(b, links, id);
		BUF_LIT(b, ",");
	}
	BUF_LIT(b, "\"self\":");
	render_href(b, links, "/api/v1/users/", id, "");
	BUF_LIT(b, "}}");
}

static void render_app_user_links(struct buf *b, const struct okta_links *links,
				  const struct fake_assignment *assignment)
{
	BUF_LIT(b, ",\"_links\":{\"app\":");
	render_href(b, links, "/api/v1/apps/", links->app_id, "");
	BUF_LIT(b, ",\"user\":");
	render_href(b, links, "/api/v1/users/", user_id(&assignment->user), "");
	if (assignment->by_group) {
		const char *id = group_id(&assignment->group);

		BUF_LIT(b, ",\"group\":{\"name\":");
		if (!group_field(&assignment->group, GROUP_NAME, b))
			BUF_LIT(b, "null");
		BUF_LIT(b, ",\"href\":\"");
		buf_json_chars(b, links->origin);
		BUF_LIT(b, "/api/v1/groups/");
		buf_json_chars(b, id);
		BUF_LIT(b, "\"}");
	}
	BUF_LIT(b, "}");
}

void okta_render_app_user(struct buf *b, const struct okta_links *links,
			  const struct fake_assignment *assignment, bool expand_user)
{
	const struct fake_user *user = &assignment->user;

	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, user_id(user));
	BUF_LIT(b, ",\"externalId\":null,\"created\":" TS_ASSIGNED ",\"lastUpdated\":" TS_ASSIGNED);
	if (assignment->by_group)
		BUF_LIT(b, ",\"scope\":\"GROUP\"");
	else
		BUF_LIT(b, ",\"scope\":\"USER\"");
	BUF_LIT(b, ",\"status\":");
	if (!user_field(user, USER_APP_STATUS, b))
		BUF_LIT(b, "\"ACTIVE\"");
	BUF_LIT(b, ",\"statusChanged\":" TS_ASSIGNED ",\"passwordChanged\":null"
		",\"syncState\":\"DISABLED\",\"lastSync\":" TS_ASSIGNED ",\"credentials\":{");
	render_user_member(b, user, "userName", USER_LOGIN, true);
	BUF_LIT(b, "},\"profile\":{}");
	render_app_user_links(b, links, assignment);
	if (expand_user) {
		BUF_LIT(b, ",\"_embedded\":{\"user\":");
		okta_render_user(b, links, user, false);
		BUF_LIT(b, "}");
	}
	BUF_LIT(b, "}");
}

void okta_render_group(struct buf *b, const struct okta_links *links,
		       const struct fake_group *group)
{
	const char *id = group_id(group);

	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, id);
	BUF_LIT(b, ",\"created\":" TS_CREATED ",\"lastUpdated\":" TS_UPDATED
		",\"lastMembershipUpdated\":" TS_UPDATED
		",\"objectClass\":[\"okta:user_group\"],\"type\":\"OKTA_GROUP\",\"profile\":{\"name\":");
	if (!group_field(group, GROUP_NAME, b))
		BUF_LIT(b, "null");
	BUF_LIT(b, ",\"description\":");
	if (!group_field(group, GROUP_DESCRIPTION, b))
		BUF_LIT(b, "null");
	BUF_LIT(b, "},\"_links\":{\"users\":");
	render_href(b, links, "/api/v1/groups/", id, "/users");
	BUF_LIT(b, ",\"apps\":");
	render_href(b, links, "/api/v1/groups/", id, "/apps");
	BUF_LIT(b, "}}");
}

void okta_render_group_assignment(struct buf *b, const struct okta_links *links,
				  const struct fake_group *group, long priority, bool expand_group)
{
	const char *id = group_id(group);

	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, id);
	BUF_LIT(b, ",\"lastUpdated\":" TS_ASSIGNED ",\"priority\":");
	buf_decimal(b, priority);
	BUF_LIT(b, ",\"profile\":{},\"_links\":{\"app\":");
	render_href(b, links, "/api/v1/apps/", links->app_id, "");
	BUF_LIT(b, ",\"self\":{\"href\":\"");
	buf_json_chars(b, links->origin);
	BUF_LIT(b, "/api/v1/apps/");
	buf_json_chars(b, links->app_id);
	BUF_LIT(b, "/groups/");
	buf_json_chars(b, id);
	BUF_LIT(b, "\"},\"group\":");
	render_href(b, links, "/api/v1/groups/", id, "");
	BUF_LIT(b, "}");
	if (expand_group) {
		BUF_LIT(b, ",\"_embedded\":{\"group\":");
		okta_render_group(b, links, group);
		BUF_LIT(b, "}");
	}
	BUF_LIT(b, "}");
}

void okta_render_app(struct buf *b, const struct okta_links *links)
{
	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, links->app_id);
	BUF_LIT(b, ",\"name\":\"bookmark\",\"label\":\"fakeidp test app\",\"status\":\"ACTIVE\""
		",\"lastUpdated\":" TS_UPDATED ",\"created\":" TS_CREATED
		",\"signOnMode\":\"BOOKMARK\",\"_links\":{\"users\":");
	render_href(b, links, "/api/v1/apps/", links->app_id, "/users");
	BUF_LIT(b, ",\"groups\":");
	render_href(b, links, "/api/v1/apps/", links->app_id, "/groups");
	BUF_LIT(b, ",\"self\":");
	render_href(b, links, "/api/v1/apps/", links->app_id, "");
	BUF_LIT(b, "}}");
}

void okta_render_error(struct buf *b, const char *code, const char *summary,
		       const char *error_id, const char *cause)
{
	BUF_LIT(b, "{\"errorCode\":");
	buf_json_string(b, code);
	BUF_LIT(b, ",\"errorSummary\":");
	buf_json_string(b, summary);
	BUF_LIT(b, ",\"errorLink\":");
	buf_json_string(b, code);
	BUF_LIT(b, ",\"errorId\":");
	buf_json_string(b, error_id);
	BUF_LIT(b, ",\"errorCauses\":[");
	if (cause != NULL) {
		BUF_LIT(b, "{\"errorSummary\":");
		buf_json_string(b, cause);
		BUF_LIT(b, "}");
	}
	BUF_LIT(b, "]}");
}
