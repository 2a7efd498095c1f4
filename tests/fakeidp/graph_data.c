/*
 * graph_data.c - the directory that the fake Microsoft Graph serves: the
 * "graph" object of the dataset file, or users and groups generated from
 * their number with --synthetic.
 *
 * Records from the file are kept as the file gives them, so a test can feed
 * the agent a wrong type or a null.  Only ids and the references between
 * records are checked.  Generated records follow the rule of the Okta
 * personality: every tenth user is assigned through a group, the rest
 * directly.  --churn changes the list of direct assignments as churn.h
 * describes: a renamed user's mail becomes "renamed<n>@...", and new user
 * m is the generated user N + m, whose mail is "new<m>@...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "churn.h"
#include "graph_model.h"

#define DEFAULT_APP_ID "11111111-1111-1111-1111-111111111111"
#define DEFAULT_SP_ID "30000000-0000-4000-8000-000000000001"
#define DEFAULT_SP_NAME "Roster App"
#define DEFAULT_PAGE_SIZE_MAX 999

/* Every tenth generated user is assigned through a group. */
#define SYNTHETIC_GROUP_STRIDE 10

/* Prefixes of generated ids, followed by 12 hexadecimal digits of the number. */
#define SYNTHETIC_USER_PREFIX "10000000-0000-4000-8000-"
#define SYNTHETIC_GROUP_PREFIX "20000000-0000-4000-8000-"

static const char *const graph_keys[] = {
	"tenant_id", "app_id", "sp_id", "sp_display_name", "app_role_assignment_required",
	"token", "forbidden_permissions", "page_size_max", "users", "groups", "others",
	"service_principals", "assignments", "comment", NULL
};
/* Keys that describe the directory, not allowed with --synthetic. */
static const char *const record_keys[] = {
	"users", "groups", "others", "service_principals", "assignments", NULL
};

static const char *const kind_types[] = {
	[GRAPH_KIND_USER] = "#microsoft.graph.user",
	[GRAPH_KIND_GROUP] = "#microsoft.graph.group",
	[GRAPH_KIND_SERVICE_PRINCIPAL] = "#microsoft.graph.servicePrincipal",
	[GRAPH_KIND_OTHER] = NULL,
};

/* One record of the file and its place in the id index. */
struct record {
	const char *id;
	const cJSON *json;
	enum graph_kind kind;
	size_t *members;        /* groups: indices into records, in file order */
	size_t member_count;
};

struct assignment {
	const char *principal_id;
	const char *type;       /* principalType as rendered */
	const cJSON *name;      /* principalDisplayName override, or NULL */
	size_t record;          /* SIZE_MAX for a principal that does not exist */
};

struct graph_data {
	struct graph_settings settings;

	/* From the file: every record, then an index sorted by id. */
	struct record *records;
	size_t record_count;
	size_t *by_id;
	size_t *users;          /* indices of user records, in file order */
	size_t user_count;
	size_t *groups;         /* indices of group records, in file order */
	size_t group_count;
	struct assignment *assignments;
	size_t assignment_count;

	/* Generated: 0 users means the file supplies the directory. */
	long synthetic_users;
	long synthetic_groups;
	struct churn churn;     /* over the direct assignments, numbered from 1 */
};

static size_t synthetic_direct_count(const struct graph_data *gd);

static bool key_in(const char *key, const char *const *keys)
{
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) == 0)
			return true;
	}
	return false;
}

static bool check_keys(const cJSON *item, bool synthetic, char *err, size_t err_len)
{
	const cJSON *child;

	cJSON_ArrayForEach(child, item) {
		if (!key_in(child->string, graph_keys)) {
			snprintf(err, err_len, "graph: unknown key \"%s\"", child->string);
			return false;
		}
		if (synthetic && key_in(child->string, record_keys)) {
			snprintf(err, err_len, "graph.%s is not allowed with --synthetic, which "
				 "supplies the directory", child->string);
			return false;
		}
	}
	return true;
}

static bool get_string(const cJSON *item, const char *key, const char **out, char *err,
		       size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL || cJSON_IsNull(value))
		return true;
	if (!cJSON_IsString(value)) {
		snprintf(err, err_len, "graph.%s: must be a string", key);
		return false;
	}
	*out = value->valuestring;
	return true;
}

static bool load_settings(struct graph_data *gd, const cJSON *item, char *err, size_t err_len)
{
	struct graph_settings *s = &gd->settings;
	const cJSON *required = cJSON_GetObjectItemCaseSensitive(item, "app_role_assignment_required");
	const cJSON *forbidden = cJSON_GetObjectItemCaseSensitive(item, "forbidden_permissions");
	const cJSON *page = cJSON_GetObjectItemCaseSensitive(item, "page_size_max");
	const cJSON *name;

	if (!get_string(item, "app_id", &s->app_id, err, err_len) ||
	    !get_string(item, "sp_id", &s->sp_id, err, err_len) ||
	    !get_string(item, "tenant_id", &s->tenant_id, err, err_len) ||
	    !get_string(item, "token", &s->token, err, err_len))
		return false;
	name = cJSON_GetObjectItemCaseSensitive(item, "sp_display_name");
	if (name != NULL)
		s->sp_display_name = name;
	if (required != NULL)
		s->assignment_required = required;
	if (forbidden != NULL && !cJSON_IsArray(forbidden)) {
		snprintf(err, err_len, "graph.forbidden_permissions: must be an array of strings");
		return false;
	}
	s->forbidden = forbidden;
	if (page != NULL) {
		if (!cJSON_IsNumber(page) || page->valuedouble < 1 || page->valuedouble > 100000 ||
		    page->valuedouble != (double)(long)page->valuedouble) {
			snprintf(err, err_len, "graph.page_size_max: must be a whole number from 1 "
				 "to 100000");
			return false;
		}
		s->page_size_max = (long)page->valuedouble;
	}
	return true;
}

/* ---- records from the file ---- */

/* Graph finds an object by its id in any letter case, and so does the fake. */
static int compare_ids(const void *a, const void *b, void *context)
{
	const struct record *records = context;

	return strcasecmp(records[*(const size_t *)a].id, records[*(const size_t *)b].id);
}

static bool find_record(const struct graph_data *gd, const char *id, size_t *out)
{
	size_t low = 0;
	size_t high = gd->record_count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int order = strcasecmp(gd->records[gd->by_id[mid]].id, id);

		if (order == 0) {
			*out = gd->by_id[mid];
			return true;
		}
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return false;
}

/* Appends the records of the array key, all of one kind. */
static bool load_records(struct graph_data *gd, const cJSON *item, const char *key,
			 enum graph_kind kind, char *err, size_t err_len)
{
	const cJSON *array = cJSON_GetObjectItemCaseSensitive(item, key);
	const cJSON *element;
	int index = 0;

	if (array == NULL || cJSON_IsNull(array))
		return true;
	if (!cJSON_IsArray(array)) {
		snprintf(err, err_len, "graph.%s: must be an array", key);
		return false;
	}
	cJSON_ArrayForEach(element, array) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(element, "id");
		struct record *record = &gd->records[gd->record_count];

		if (!cJSON_IsObject(element) || !cJSON_IsString(id) || id->valuestring[0] == '\0') {
			snprintf(err, err_len, "graph.%s[%d]: must be an object with a non-empty "
				 "string id", key, index);
			return false;
		}
		memset(record, 0, sizeof(*record));
		record->id = id->valuestring;
		record->json = element;
		record->kind = kind;
		if (kind == GRAPH_KIND_USER)
			gd->users[gd->user_count++] = gd->record_count;
		if (kind == GRAPH_KIND_GROUP)
			gd->groups[gd->group_count++] = gd->record_count;
		gd->record_count++;
		index++;
	}
	return true;
}

static size_t array_size(const cJSON *item, const char *key)
{
	const cJSON *array = cJSON_GetObjectItemCaseSensitive(item, key);

	return cJSON_IsArray(array) ? (size_t)cJSON_GetArraySize(array) : 0;
}

static bool index_records(struct graph_data *gd, char *err, size_t err_len)
{
	for (size_t i = 0; i < gd->record_count; i++)
		gd->by_id[i] = i;
	qsort_r(gd->by_id, gd->record_count, sizeof(size_t), compare_ids, gd->records);
	for (size_t i = 1; i < gd->record_count; i++) {
		if (strcasecmp(gd->records[gd->by_id[i - 1]].id, gd->records[gd->by_id[i]].id) == 0) {
			snprintf(err, err_len, "graph: id \"%s\" appears twice",
				 gd->records[gd->by_id[i]].id);
			return false;
		}
	}
	return true;
}

static bool load_members(struct graph_data *gd, struct record *group, char *err, size_t err_len)
{
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(group->json, "members");
	const cJSON *member;

	if (members == NULL || cJSON_IsNull(members))
		return true;
	if (!cJSON_IsArray(members)) {
		snprintf(err, err_len, "graph group %s: members must be an array of ids", group->id);
		return false;
	}
	group->members = calloc((size_t)cJSON_GetArraySize(members) + 1, sizeof(size_t));
	if (group->members == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	cJSON_ArrayForEach(member, members) {
		size_t index;

		if (!cJSON_IsString(member) || !find_record(gd, member->valuestring, &index)) {
			snprintf(err, err_len, "graph group %s: member %s is not an id of users, "
				 "groups, others or service_principals", group->id,
				 cJSON_IsString(member) ? member->valuestring : "(not a string)");
			return false;
		}
		group->members[group->member_count++] = index;
	}
	return true;
}

static const char *principal_type_of(enum graph_kind kind)
{
	switch (kind) {
	case GRAPH_KIND_USER: return "User";
	case GRAPH_KIND_GROUP: return "Group";
	case GRAPH_KIND_SERVICE_PRINCIPAL: return "ServicePrincipal";
	default: return NULL;
	}
}

/*
 * Reads one assignment.  A principalId that no record has stands for a
 * deleted principal and then needs an explicit principalType.
 */
static bool load_assignment(struct graph_data *gd, const cJSON *element, int index,
			    char *err, size_t err_len)
{
	struct assignment *a = &gd->assignments[gd->assignment_count];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(element, "principalId");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(element, "principalType");

	memset(a, 0, sizeof(*a));
	if (!cJSON_IsObject(element) || !cJSON_IsString(id) ||
	    (type != NULL && !cJSON_IsString(type))) {
		snprintf(err, err_len, "graph.assignments[%d]: must be an object with a string "
			 "principalId and an optional string principalType", index);
		return false;
	}
	a->principal_id = id->valuestring;
	a->type = type ? type->valuestring : NULL;
	a->name = cJSON_GetObjectItemCaseSensitive(element, "principalDisplayName");
	a->record = SIZE_MAX;
	if (find_record(gd, a->principal_id, &a->record) && a->type == NULL)
		a->type = principal_type_of(gd->records[a->record].kind);
	if (a->type == NULL) {
		snprintf(err, err_len, "graph.assignments[%d]: %s is not an assignable id of users, "
			 "groups or service_principals; give principalType for a deleted principal",
			 index, a->principal_id);
		return false;
	}
	gd->assignment_count++;
	return true;
}

static bool load_assignments(struct graph_data *gd, const cJSON *item, char *err, size_t err_len)
{
	const cJSON *array = cJSON_GetObjectItemCaseSensitive(item, "assignments");
	const cJSON *element;
	int index = 0;

	if (array == NULL || cJSON_IsNull(array))
		return true;
	if (!cJSON_IsArray(array)) {
		snprintf(err, err_len, "graph.assignments: must be an array");
		return false;
	}
	gd->assignments = calloc((size_t)cJSON_GetArraySize(array) + 1, sizeof(*gd->assignments));
	if (gd->assignments == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	cJSON_ArrayForEach(element, array) {
		if (!load_assignment(gd, element, index++, err, err_len))
			return false;
	}
	return true;
}

static bool load_directory(struct graph_data *gd, const cJSON *item, char *err, size_t err_len)
{
	size_t total = array_size(item, "users") + array_size(item, "groups") +
		       array_size(item, "others") + array_size(item, "service_principals");

	gd->records = calloc(total + 1, sizeof(*gd->records));
	gd->by_id = calloc(total + 1, sizeof(size_t));
	gd->users = calloc(total + 1, sizeof(size_t));
	gd->groups = calloc(total + 1, sizeof(size_t));
	if (gd->records == NULL || gd->by_id == NULL || gd->users == NULL || gd->groups == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	if (!load_records(gd, item, "users", GRAPH_KIND_USER, err, err_len) ||
	    !load_records(gd, item, "groups", GRAPH_KIND_GROUP, err, err_len) ||
	    !load_records(gd, item, "others", GRAPH_KIND_OTHER, err, err_len) ||
	    !load_records(gd, item, "service_principals", GRAPH_KIND_SERVICE_PRINCIPAL, err,
			  err_len) ||
	    !index_records(gd, err, err_len))
		return false;
	for (size_t i = 0; i < gd->record_count; i++) {
		if (gd->records[i].kind == GRAPH_KIND_GROUP &&
		    !load_members(gd, &gd->records[i], err, err_len))
			return false;
	}
	return load_assignments(gd, item, err, err_len);
}

void graph_data_free(struct graph_data *gd)
{
	if (gd == NULL)
		return;
	for (size_t i = 0; i < gd->record_count; i++)
		free(gd->records[i].members);
	free(gd->records);
	free(gd->by_id);
	free(gd->users);
	free(gd->groups);
	free(gd->assignments);
	free(gd);
}

bool graph_data_load(const cJSON *item, long synthetic_users, long synthetic_groups,
		     long churn_percent, struct graph_data **out, char *err, size_t err_len)
{
	struct graph_data *gd = calloc(1, sizeof(*gd));

	*out = NULL;
	if (gd == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	gd->settings.app_id = DEFAULT_APP_ID;
	gd->settings.sp_id = DEFAULT_SP_ID;
	gd->settings.page_size_max = DEFAULT_PAGE_SIZE_MAX;
	gd->synthetic_users = synthetic_users;
	gd->synthetic_groups = synthetic_groups;
	churn_init(&gd->churn, (long)synthetic_direct_count(gd), churn_percent);

	if (item != NULL && !cJSON_IsObject(item)) {
		snprintf(err, err_len, "graph: must be an object");
		goto fail;
	}
	if (item != NULL && (!check_keys(item, synthetic_users > 0, err, err_len) ||
			     !load_settings(gd, item, err, err_len)))
		goto fail;
	if (synthetic_users == 0 && !load_directory(gd, item, err, err_len))
		goto fail;
	*out = gd;
	return true;

fail:
	graph_data_free(gd);
	return false;
}

const struct graph_settings *graph_data_settings(const struct graph_data *gd)
{
	return &gd->settings;
}

bool graph_permission_denied(const struct graph_data *gd, const char *permission)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, gd->settings.forbidden) {
		if (cJSON_IsString(item) && strcmp(item->valuestring, permission) == 0)
			return true;
	}
	return false;
}

/* ---- generated records ---- */

static void synthetic_view(const struct graph_data *gd, enum graph_kind kind, long number,
			   struct graph_object *out)
{
	memset(out, 0, sizeof(*out));
	out->gd = gd;
	out->kind = kind;
	out->index = (size_t)(number - 1);
	snprintf(out->synthetic_id, sizeof(out->synthetic_id), "%s%012lx",
		 kind == GRAPH_KIND_USER ? SYNTHETIC_USER_PREFIX : SYNTHETIC_GROUP_PREFIX,
		 (unsigned long)number);
}

/* Parses a generated id back to its number; 0 when id is not one of max. */
static long synthetic_number(const char *id, const char *prefix, long max)
{
	size_t prefix_len = strlen(prefix);
	char *end;
	long number;

	if (strncasecmp(id, prefix, prefix_len) != 0 || strlen(id) != prefix_len + 12)
		return 0;
	number = strtol(id + prefix_len, &end, 16);
	if (*end != '\0' || number < 1 || number > max)
		return 0;
	return number;
}

/* Without churn the direct assignments are the numbers that are not a multiple of 10. */
static size_t synthetic_direct_count(const struct graph_data *gd)
{
	long users = gd->synthetic_users;

	return (size_t)(gd->synthetic_groups > 0 ? users - users / SYNTHETIC_GROUP_STRIDE : users);
}

/* The user number of the direct assignment at position i of the churned list. */
static long synthetic_direct_number(const struct graph_data *gd, size_t i)
{
	long q = churn_kept_number(&gd->churn, i);

	if (q > gd->churn.items)
		return gd->synthetic_users + (q - gd->churn.items);
	if (gd->synthetic_groups == 0)
		return q;
	return q - 1 + (q - 1) / (SYNTHETIC_GROUP_STRIDE - 1) + 1;
}

/* The position (from 1) of a base user in the direct list, or 0 for one granted by a group. */
static long synthetic_direct_position(const struct graph_data *gd, long number)
{
	if (gd->synthetic_groups == 0)
		return number;
	if (number % SYNTHETIC_GROUP_STRIDE == 0)
		return 0;
	return number - number / SYNTHETIC_GROUP_STRIDE;
}

/* Group g contains the users 10 m for m = g, g + G, g + 2 G, ... up to N. */
static size_t synthetic_member_count(const struct graph_data *gd, size_t group)
{
	long granted = gd->synthetic_users / SYNTHETIC_GROUP_STRIDE;
	long first = (long)group + 1;

	if (granted < first)
		return 0;
	return (size_t)((granted - first) / gd->synthetic_groups + 1);
}

/* Prefixes of a generated user's mail and names, and the number that follows them. */
struct synthetic_names {
	const char *login;
	const char *given_name;
	const char *surname;
	const char *display_name;
	long number;
};

static void synthetic_names(const struct graph_data *gd, long number, struct synthetic_names *out)
{
	long position;

	*out = (struct synthetic_names){ "user", "Given", "Family", "User ", number };
	if (number > gd->synthetic_users) {
		*out = (struct synthetic_names){ "new", "NewGiven", "NewFamily", "New user ",
						 number - gd->synthetic_users };
		return;
	}
	position = synthetic_direct_position(gd, number);
	if (position > 0 && churn_is_renamed(&gd->churn, position)) {
		out->login = "renamed";
		out->surname = "Renamed";
	}
}

static void synthetic_property(const struct graph_data *gd, long number, const char *name,
			       struct buf *out, bool *found)
{
	struct synthetic_names names;

	synthetic_names(gd, number, &names);
	*found = true;
	if (strcmp(name, "userPrincipalName") == 0 || strcmp(name, "mail") == 0)
		buf_printf(out, "\"%s%ld@example.com\"", names.login, names.number);
	else if (strcmp(name, "givenName") == 0)
		buf_printf(out, "\"%s%ld\"", names.given_name, names.number);
	else if (strcmp(name, "surname") == 0)
		buf_printf(out, "\"%s%ld\"", names.surname, names.number);
	else if (strcmp(name, "displayName") == 0)
		buf_printf(out, "\"%s%ld\"", names.display_name, names.number);
	else if (strcmp(name, "accountEnabled") == 0)
		BUF_LIT(out, "true");
	else if (strcmp(name, "userType") == 0)
		BUF_LIT(out, "\"Member\"");
	else if (strcmp(name, "otherMails") == 0)
		BUF_LIT(out, "[]");
	else
		*found = false;
}

/* ---- views ---- */

static void file_view(const struct graph_data *gd, size_t record, struct graph_object *out)
{
	memset(out, 0, sizeof(*out));
	out->gd = gd;
	out->kind = gd->records[record].kind;
	out->index = record;
}

const char *graph_object_id(const struct graph_object *o)
{
	if (o->gd->synthetic_users > 0)
		return o->synthetic_id;
	return o->gd->records[o->index].id;
}

const char *graph_object_type(const struct graph_object *o)
{
	const cJSON *type;

	if (o->kind != GRAPH_KIND_OTHER)
		return kind_types[o->kind];
	type = cJSON_GetObjectItemCaseSensitive(o->gd->records[o->index].json, "@odata.type");
	return cJSON_IsString(type) ? type->valuestring : "#microsoft.graph.device";
}

bool graph_object_property(const struct graph_object *o, const char *name, struct buf *out)
{
	const cJSON *item;
	bool found = false;

	if (strcmp(name, "id") == 0) {
		buf_json_string(out, graph_object_id(o));
		return true;
	}
	if (o->gd->synthetic_users > 0 && o->kind == GRAPH_KIND_USER) {
		synthetic_property(o->gd, (long)o->index + 1, name, out, &found);
		return found;
	}
	if (o->gd->synthetic_users > 0) {
		if (strcmp(name, "displayName") != 0)
			return false;
		buf_printf(out, "\"Group %zu\"", o->index + 1);
		return true;
	}
	item = cJSON_GetObjectItemCaseSensitive(o->gd->records[o->index].json, name);
	if (item == NULL || strcmp(name, "members") == 0 || strcmp(name, "@odata.type") == 0)
		return false;
	buf_json_value(out, item);
	return true;
}

bool graph_find_object(const struct graph_data *gd, const char *id, struct graph_object *out)
{
	size_t record;
	long number;

	if (gd->synthetic_users > 0) {
		number = synthetic_number(id, SYNTHETIC_USER_PREFIX,
					  gd->synthetic_users + gd->churn.added);
		if (number > 0) {
			synthetic_view(gd, GRAPH_KIND_USER, number, out);
			return true;
		}
		number = synthetic_number(id, SYNTHETIC_GROUP_PREFIX, gd->synthetic_groups);
		if (number > 0)
			synthetic_view(gd, GRAPH_KIND_GROUP, number, out);
		return number > 0;
	}
	if (!find_record(gd, id, &record))
		return false;
	file_view(gd, record, out);
	return true;
}

size_t graph_member_count(const struct graph_object *group)
{
	if (group->gd->synthetic_users > 0)
		return synthetic_member_count(group->gd, group->index);
	return group->gd->records[group->index].member_count;
}

void graph_member_at(const struct graph_object *group, size_t i, struct graph_object *out)
{
	const struct graph_data *gd = group->gd;
	long m;

	if (gd->synthetic_users > 0) {
		m = (long)group->index + 1 + (long)i * gd->synthetic_groups;
		synthetic_view(gd, GRAPH_KIND_USER, m * SYNTHETIC_GROUP_STRIDE, out);
		return;
	}
	file_view(gd, gd->records[group->index].members[i], out);
}

size_t graph_group_count(const struct graph_data *gd)
{
	return gd->synthetic_users > 0 ? (size_t)gd->synthetic_groups : gd->group_count;
}

void graph_group_at(const struct graph_data *gd, size_t i, struct graph_object *out)
{
	if (gd->synthetic_users > 0)
		synthetic_view(gd, GRAPH_KIND_GROUP, (long)i + 1, out);
	else
		file_view(gd, gd->groups[i], out);
}

size_t graph_user_count(const struct graph_data *gd)
{
	if (gd->synthetic_users > 0)
		return (size_t)(gd->synthetic_users + gd->churn.added);
	return gd->user_count;
}

void graph_user_at(const struct graph_data *gd, size_t i, struct graph_object *out)
{
	if (gd->synthetic_users > 0)
		synthetic_view(gd, GRAPH_KIND_USER, (long)i + 1, out);
	else
		file_view(gd, gd->users[i], out);
}

size_t graph_assignment_count(const struct graph_data *gd)
{
	if (gd->synthetic_users > 0)
		return churn_kept_count(&gd->churn) + (size_t)gd->synthetic_groups;
	return gd->assignment_count;
}

void graph_assignment_at(const struct graph_data *gd, size_t i, struct graph_assignment_view *out)
{
	size_t direct;

	memset(out, 0, sizeof(*out));
	if (gd->synthetic_users > 0) {
		direct = churn_kept_count(&gd->churn);
		out->exists = true;
		if (i < direct)
			synthetic_view(gd, GRAPH_KIND_USER, synthetic_direct_number(gd, i),
				       &out->principal);
		else
			synthetic_view(gd, GRAPH_KIND_GROUP, (long)(i - direct) + 1, &out->principal);
		out->principal_id = out->principal.synthetic_id;
		out->principal_type = out->principal.kind == GRAPH_KIND_USER ? "User" : "Group";
		return;
	}
	out->principal_id = gd->assignments[i].principal_id;
	out->principal_type = gd->assignments[i].type;
	out->display_name = gd->assignments[i].name;
	out->exists = gd->assignments[i].record != SIZE_MAX;
	if (out->exists)
		file_view(gd, gd->assignments[i].record, &out->principal);
}
