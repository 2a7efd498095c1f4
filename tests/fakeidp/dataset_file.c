/*
 * dataset_file.c - users, groups and app assignments read from the dataset
 * file.  Field values are kept as the file gives them, even null or a number
 * where a string belongs, so that tests can feed the agent bad data.  Only
 * ids and references between records are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataset_model.h"

static const char *const user_keys[] = {
	"id", "login", "email", "firstName", "lastName", "displayName", "status",
	"app_status", "profile", "raw", "comment", NULL
};
static const char *const group_keys[] = { "id", "name", "description", "members", "comment", NULL };
static const char *const assignment_keys[] = { "users", "groups", "comment", NULL };

/* Names in the dataset file of enum user_field and enum group_field. */
static const char *const user_field_names[USER_FIELD_COUNT] = {
	[USER_LOGIN] = "login",
	[USER_EMAIL] = "email",
	[USER_FIRST_NAME] = "firstName",
	[USER_LAST_NAME] = "lastName",
	[USER_DISPLAY_NAME] = "displayName",
	[USER_STATUS] = "status",
	[USER_APP_STATUS] = "app_status",
};
static const char *const group_field_names[GROUP_FIELD_COUNT] = {
	[GROUP_NAME] = "name",
	[GROUP_DESCRIPTION] = "description",
};

static bool check_keys(const cJSON *object, const char *const *allowed, const char *where,
		       char *err, size_t err_len)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, object) {
		size_t i = 0;

		while (allowed[i] != NULL && strcmp(allowed[i], item->string) != 0)
			i++;
		if (allowed[i] == NULL) {
			snprintf(err, err_len, "%s: unknown key \"%s\"", where, item->string);
			return false;
		}
	}
	return true;
}

/* Returns root[key] when it is an array or absent; false for other types. */
static bool get_array(const cJSON *root, const char *key, const cJSON **out,
		      char *err, size_t err_len)
{
	const cJSON *item = root ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;

	*out = NULL;
	if (item == NULL || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsArray(item)) {
		snprintf(err, err_len, "%s: must be an array", key);
		return false;
	}
	*out = item;
	return true;
}

static const char *get_id(const cJSON *object, const char *where, int index,
			  char *err, size_t err_len)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(object, "id");

	if (!cJSON_IsString(id) || id->valuestring[0] == '\0') {
		snprintf(err, err_len, "%s[%d].id: must be a non-empty string", where, index);
		return NULL;
	}
	return id->valuestring;
}

static int compare_users(const void *a, const void *b)
{
	return strcmp(((const struct file_user *)a)->id, ((const struct file_user *)b)->id);
}

static int compare_groups(const void *a, const void *b)
{
	return strcmp(((const struct file_group *)a)->id, ((const struct file_group *)b)->id);
}

static int compare_indices(const void *a, const void *b)
{
	size_t x = *(const size_t *)a;
	size_t y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static bool check_user(const cJSON *item, int index, char *err, size_t err_len)
{
	char where[32];
	const cJSON *profile;

	snprintf(where, sizeof(where), "users[%d]", index);
	if (!cJSON_IsObject(item)) {
		snprintf(err, err_len, "%s: must be an object", where);
		return false;
	}
	if (!check_keys(item, user_keys, where, err, err_len))
		return false;
	profile = cJSON_GetObjectItemCaseSensitive(item, "profile");
	if (profile != NULL && !cJSON_IsObject(profile) && !cJSON_IsNull(profile)) {
		snprintf(err, err_len, "%s.profile: must be an object or null", where);
		return false;
	}
	return true;
}

static bool load_users(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	const cJSON *array;
	const cJSON *item;
	int index = 0;

	if (!get_array(root, "users", &array, err, err_len))
		return false;
	ds->users = calloc((size_t)cJSON_GetArraySize(array) + 1, sizeof(*ds->users));
	if (ds->users == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}

	cJSON_ArrayForEach(item, array) {
		if (!check_user(item, index, err, err_len))
			return false;
		ds->users[index].id = get_id(item, "users", index, err, err_len);
		if (ds->users[index].id == NULL)
			return false;
		ds->users[index].json = item;
		index++;
	}
	ds->user_count = (size_t)index;

	qsort(ds->users, ds->user_count, sizeof(*ds->users), compare_users);
	for (size_t i = 1; i < ds->user_count; i++) {
		if (strcmp(ds->users[i - 1].id, ds->users[i].id) == 0) {
			snprintf(err, err_len, "users: id \"%s\" appears twice", ds->users[i].id);
			return false;
		}
	}
	return true;
}

static bool find_user_index(const struct dataset *ds, const char *id, size_t *out)
{
	struct file_user key = { .id = id };
	const struct file_user *found;

	found = bsearch(&key, ds->users, ds->user_count, sizeof(key), compare_users);
	if (found == NULL)
		return false;
	*out = (size_t)(found - ds->users);
	return true;
}

static bool find_group_index(const struct dataset *ds, const char *id, size_t *out)
{
	struct file_group key = { .id = id };
	const struct file_group *found;

	found = bsearch(&key, ds->groups, ds->group_count, sizeof(key), compare_groups);
	if (found == NULL)
		return false;
	*out = (size_t)(found - ds->groups);
	return true;
}

/* Reads "members" of group into user indices, ascending and unique. */
static bool load_members(const struct dataset *ds, struct file_group *group,
			 char *err, size_t err_len)
{
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(group->json, "members");
	const cJSON *item;
	size_t n = 0;

	if (members == NULL || cJSON_IsNull(members))
		return true;
	if (!cJSON_IsArray(members)) {
		snprintf(err, err_len, "group %s: members must be an array of user ids", group->id);
		return false;
	}
	group->members = calloc((size_t)cJSON_GetArraySize(members) + 1, sizeof(size_t));
	if (group->members == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}

	cJSON_ArrayForEach(item, members) {
		if (!cJSON_IsString(item) || !find_user_index(ds, item->valuestring, &group->members[n])) {
			snprintf(err, err_len, "group %s: member %s is not a user id of users",
				 group->id, cJSON_IsString(item) ? item->valuestring : "(not a string)");
			return false;
		}
		n++;
	}
	group->member_count = n;

	qsort(group->members, n, sizeof(size_t), compare_indices);
	for (size_t i = 1; i < n; i++) {
		if (group->members[i - 1] == group->members[i]) {
			snprintf(err, err_len, "group %s: member %s appears twice", group->id,
				 ds->users[group->members[i]].id);
			return false;
		}
	}
	return true;
}

static bool load_groups(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	const cJSON *array;
	const cJSON *item;
	int index = 0;

	if (!get_array(root, "groups", &array, err, err_len))
		return false;
	ds->groups = calloc((size_t)cJSON_GetArraySize(array) + 1, sizeof(*ds->groups));
	if (ds->groups == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}

	cJSON_ArrayForEach(item, array) {
		char where[32];

		snprintf(where, sizeof(where), "groups[%d]", index);
		if (!cJSON_IsObject(item)) {
			snprintf(err, err_len, "%s: must be an object", where);
			return false;
		}
		if (!check_keys(item, group_keys, where, err, err_len))
			return false;
		ds->groups[index].id = get_id(item, "groups", index, err, err_len);
		if (ds->groups[index].id == NULL)
			return false;
		ds->groups[index].json = item;
		ds->groups[index].priority = -1;
		ds->group_count = (size_t)++index;
		if (!load_members(ds, &ds->groups[index - 1], err, err_len))
			return false;
	}

	qsort(ds->groups, ds->group_count, sizeof(*ds->groups), compare_groups);
	for (size_t i = 1; i < ds->group_count; i++) {
		if (strcmp(ds->groups[i - 1].id, ds->groups[i].id) == 0) {
			snprintf(err, err_len, "groups: id \"%s\" appears twice", ds->groups[i].id);
			return false;
		}
	}
	return true;
}

/* Marks direct[i] for each user listed in assignments.users. */
static bool load_direct(const struct dataset *ds, const cJSON *list, bool *direct,
			char *err, size_t err_len)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, list) {
		size_t index;

		if (!cJSON_IsString(item) || !find_user_index(ds, item->valuestring, &index)) {
			snprintf(err, err_len, "assignments.users: %s is not a user id of users",
				 cJSON_IsString(item) ? item->valuestring : "(not a string)");
			return false;
		}
		direct[index] = true;
	}
	return true;
}

/*
 * Sets the priority of each group listed in assignments.groups and, for
 * each member, via[member] to the first such group that contains it.
 */
static bool load_group_grants(struct dataset *ds, const cJSON *list, size_t *via,
			      char *err, size_t err_len)
{
	const cJSON *item;
	long priority = 0;

	cJSON_ArrayForEach(item, list) {
		size_t index;
		struct file_group *group;

		if (!cJSON_IsString(item) || !find_group_index(ds, item->valuestring, &index)) {
			snprintf(err, err_len, "assignments.groups: %s is not a group id of groups",
				 cJSON_IsString(item) ? item->valuestring : "(not a string)");
			return false;
		}
		group = &ds->groups[index];
		if (group->priority >= 0) {
			snprintf(err, err_len, "assignments.groups: %s appears twice", group->id);
			return false;
		}
		group->priority = priority++;
		for (size_t m = 0; m < group->member_count; m++) {
			if (via[group->members[m]] == SIZE_MAX)
				via[group->members[m]] = index;
		}
	}
	return true;
}

static bool get_assignment_lists(const cJSON *root, const cJSON **users, const cJSON **groups,
				 char *err, size_t err_len)
{
	const cJSON *assignments = root ? cJSON_GetObjectItemCaseSensitive(root, "assignments") : NULL;

	*users = NULL;
	*groups = NULL;
	if (assignments == NULL || cJSON_IsNull(assignments))
		return true;
	if (!cJSON_IsObject(assignments)) {
		snprintf(err, err_len, "assignments: must be an object");
		return false;
	}
	if (!check_keys(assignments, assignment_keys, "assignments", err, err_len))
		return false;
	if (!get_array(assignments, "users", users, err, err_len))
		return false;
	return get_array(assignments, "groups", groups, err, err_len);
}

static bool get_duplicate_flag(const cJSON *root, bool *out, char *err, size_t err_len)
{
	const cJSON *item = root ? cJSON_GetObjectItemCaseSensitive(root, "duplicate_group_entries") : NULL;

	*out = false;
	if (item == NULL)
		return true;
	if (!cJSON_IsBool(item)) {
		snprintf(err, err_len, "duplicate_group_entries: must be true or false");
		return false;
	}
	*out = cJSON_IsTrue(item);
	return true;
}

/* Fills the app-user list from the direct and group grants of each user. */
static bool build_entries(struct dataset *ds, const bool *direct, const size_t *via,
			  bool duplicate)
{
	ds->entries = calloc(2 * ds->user_count + 1, sizeof(*ds->entries));
	if (ds->entries == NULL)
		return false;

	for (size_t i = 0; i < ds->user_count; i++) {
		bool by_group = via[i] != SIZE_MAX;
		struct file_entry *entry = &ds->entries[ds->entry_count];

		if (!direct[i] && !by_group)
			continue;
		entry->user = i;
		entry->by_group = !direct[i];
		entry->group = via[i];
		ds->entry_count++;
		if (direct[i] && by_group && duplicate) {
			entry[1] = entry[0];
			entry[1].by_group = true;
			entry[1].sub = 1;
			ds->entry_count++;
		}
	}
	return true;
}

static bool build_app_groups(struct dataset *ds)
{
	ds->app_groups = calloc(ds->group_count + 1, sizeof(size_t));
	if (ds->app_groups == NULL)
		return false;
	for (size_t i = 0; i < ds->group_count; i++) {
		if (ds->groups[i].priority >= 0)
			ds->app_groups[ds->app_group_count++] = i;
	}
	return true;
}

/* Works out who is assigned and how, from "assignments". */
static bool load_assignments(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	const cJSON *users;
	const cJSON *groups;
	bool duplicate;
	bool *direct = calloc(ds->user_count + 1, sizeof(bool));
	size_t *via = malloc((ds->user_count + 1) * sizeof(size_t));
	bool ok = false;

	if (direct == NULL || via == NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= ds->user_count; i++)
		via[i] = SIZE_MAX;

	if (!get_assignment_lists(root, &users, &groups, err, err_len) ||
	    !get_duplicate_flag(root, &duplicate, err, err_len) ||
	    !load_direct(ds, users, direct, err, err_len) ||
	    !load_group_grants(ds, groups, via, err, err_len))
		goto out;

	if (!build_entries(ds, direct, via, duplicate) || !build_app_groups(ds)) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	ok = true;

out:
	free(via);
	free(direct);
	return ok;
}

bool dataset_file_load(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	ds->model = &dataset_file_model;
	if (!load_users(ds, root, err, err_len))
		return false;
	if (!load_groups(ds, root, err, err_len))
		return false;
	return load_assignments(ds, root, err, err_len);
}

void dataset_file_release(struct dataset *ds)
{
	for (size_t i = 0; i < ds->group_count; i++)
		free(ds->groups[i].members);
	free(ds->users);
	free(ds->groups);
	free(ds->entries);
	free(ds->app_groups);
}

/* ---- the model's accessors ---------------------------------------------- */

static void file_user_view(const struct dataset *ds, size_t index, struct fake_user *out)
{
	memset(out, 0, sizeof(*out));
	out->dataset = ds;
	out->index = index;
}

static void file_group_view(const struct dataset *ds, size_t index, struct fake_group *out)
{
	memset(out, 0, sizeof(*out));
	out->dataset = ds;
	out->index = index;
}

static size_t file_assignment_count(const struct dataset *ds)
{
	return ds->entry_count;
}

static void file_assignment_at(const struct dataset *ds, size_t i, struct fake_assignment *out)
{
	const struct file_entry *entry = &ds->entries[i];

	memset(out, 0, sizeof(*out));
	file_user_view(ds, entry->user, &out->user);
	out->by_group = entry->by_group;
	out->sub = entry->sub;
	if (entry->group != SIZE_MAX)
		file_group_view(ds, entry->group, &out->group);
}

static size_t file_app_group_count(const struct dataset *ds)
{
	return ds->app_group_count;
}

static void file_app_group_at(const struct dataset *ds, size_t i, struct fake_group *out,
			      long *priority)
{
	file_group_view(ds, ds->app_groups[i], out);
	*priority = ds->groups[ds->app_groups[i]].priority;
}

static bool file_find_user(const struct dataset *ds, const char *key, struct fake_user *out)
{
	size_t index;

	if (find_user_index(ds, key, &index)) {
		file_user_view(ds, index, out);
		return true;
	}
	for (size_t i = 0; i < ds->user_count; i++) {
		const cJSON *login = cJSON_GetObjectItemCaseSensitive(ds->users[i].json, "login");

		if (cJSON_IsString(login) && strcasecmp(login->valuestring, key) == 0) {
			file_user_view(ds, i, out);
			return true;
		}
	}
	return false;
}

static bool file_find_group(const struct dataset *ds, const char *id, struct fake_group *out)
{
	size_t index;

	if (!find_group_index(ds, id, &index))
		return false;
	file_group_view(ds, index, out);
	return true;
}

static size_t file_member_count(const struct fake_group *group)
{
	return group->dataset->groups[group->index].member_count;
}

static void file_member_at(const struct fake_group *group, size_t i, struct fake_user *out)
{
	const struct dataset *ds = group->dataset;

	file_user_view(ds, ds->groups[group->index].members[i], out);
}

static const char *file_user_id(const struct fake_user *user)
{
	return user->dataset->users[user->index].id;
}

static bool file_user_field(const struct fake_user *user, enum user_field field, struct buf *out)
{
	const cJSON *json = user->dataset->users[user->index].json;
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, user_field_names[field]);

	if (item == NULL)
		return false;
	buf_json_value(out, item);
	return true;
}

static const char *file_user_status(const struct fake_user *user)
{
	const cJSON *json = user->dataset->users[user->index].json;
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "status");

	if (item == NULL)
		return "ACTIVE";
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static const cJSON *file_user_profile(const struct fake_user *user)
{
	const cJSON *json = user->dataset->users[user->index].json;
	const cJSON *profile = cJSON_GetObjectItemCaseSensitive(json, "profile");

	return cJSON_IsObject(profile) ? profile : NULL;
}

static const cJSON *file_user_raw(const struct fake_user *user)
{
	return cJSON_GetObjectItemCaseSensitive(user->dataset->users[user->index].json, "raw");
}

static const char *file_group_id(const struct fake_group *group)
{
	return group->dataset->groups[group->index].id;
}

static bool file_group_field(const struct fake_group *group, enum group_field field,
			     struct buf *out)
{
	const cJSON *json = group->dataset->groups[group->index].json;
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, group_field_names[field]);

	if (item == NULL)
		return false;
	buf_json_value(out, item);
	return true;
}

const struct dataset_model dataset_file_model = {
	.assignment_count = file_assignment_count,
	.assignment_at = file_assignment_at,
	.app_group_count = file_app_group_count,
	.app_group_at = file_app_group_at,
	.find_user = file_find_user,
	.find_group = file_find_group,
	.member_count = file_member_count,
	.member_at = file_member_at,
	.user_id = file_user_id,
	.user_field = file_user_field,
	.user_status = file_user_status,
	.user_profile = file_user_profile,
	.user_raw = file_user_raw,
	.group_id = file_group_id,
	.group_field = file_group_field,
};
