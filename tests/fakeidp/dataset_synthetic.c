/*
 * dataset_synthetic.c - N generated users and G groups, computed from their
 * number on every access, so that a million users cost no memory.
 *
 * User n (1..N) has the id "00u" followed by n, zero-padded to a fixed width
 * so that ids sort like numbers.  Its login and email are
 * "user<n>@example.com", its names "Given<n>" and "Family<n>", and its
 * status ACTIVE.  Every tenth user
 * (n = 10 m) is assigned through group ((m - 1) mod G) + 1 and all others
 * directly; with G = 0 everyone is assigned directly.  All G groups are
 * assigned to the app.
 *
 * --churn unassigns, renames and adds users of the app-user list as churn.h
 * describes.  A renamed user's login and email become "renamed<n>@..." and
 * its family name "Renamed<n>".  New user m has the id "00v" followed by
 * m, which sorts after every "00u" id, and is assigned directly.  Group
 * member lists do not change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataset_model.h"

/* Users in every tenth position are assigned through a group. */
#define SYNTHETIC_GROUP_STRIDE 10

static int digit_count(long value)
{
	int digits = 1;

	while (value >= 10) {
		value /= 10;
		digits++;
	}
	return digits;
}

void dataset_synthetic_init(struct dataset *ds, long users, long groups, long churn_percent)
{
	int user_digits = digit_count(users);
	int group_digits = digit_count(groups);

	ds->model = &dataset_synthetic_model;
	ds->synthetic_users = users;
	ds->synthetic_groups = groups;
	ds->user_id_width = user_digits < 6 ? 6 : user_digits;
	ds->group_id_width = group_digits < 4 ? 4 : group_digits;
	churn_init(&ds->churn, users, churn_percent);
}

/* Users 1 .. N are the base users; N + m is the new user m of the churn. */
static void synthetic_user_view(const struct dataset *ds, long number, struct fake_user *out)
{
	out->dataset = ds;
	out->index = (size_t)(number - 1);
	if (number > ds->synthetic_users)
		snprintf(out->synthetic_id, sizeof(out->synthetic_id), "00v%0*ld",
			 ds->user_id_width, number - ds->synthetic_users);
	else
		snprintf(out->synthetic_id, sizeof(out->synthetic_id), "00u%0*ld",
			 ds->user_id_width, number);
}

static void synthetic_group_view(const struct dataset *ds, long number, struct fake_group *out)
{
	out->dataset = ds;
	out->index = (size_t)(number - 1);
	snprintf(out->synthetic_id, sizeof(out->synthetic_id), "00g%0*ld",
		 ds->group_id_width, number);
}

/* Parses prefix followed by exactly width digits; returns 0 when it is not. */
static long parse_number(const char *s, const char *prefix, int width, long max)
{
	size_t prefix_len = strlen(prefix);
	long number = 0;

	if (strncmp(s, prefix, prefix_len) != 0 || strlen(s) != prefix_len + (size_t)width)
		return 0;
	for (s += prefix_len; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		number = number * 10 + (*s - '0');
		if (number > max)
			return 0;
	}
	return number;
}

/* Parses "<prefix><n>@example.com" in any case; returns 0 when it is not. */
static long parse_login_as(const char *s, const char *prefix, long max)
{
	static const char domain[] = "@example.com";
	size_t prefix_len = strlen(prefix);
	char *end;
	long number;

	if (strncasecmp(s, prefix, prefix_len) != 0 || s[prefix_len] < '1' || s[prefix_len] > '9')
		return 0;
	number = strtol(s + prefix_len, &end, 10);
	if (number > max || strcasecmp(end, domain) != 0)
		return 0;
	return number;
}

/* Finds the user number of a login: user<n>, renamed<n> or new<m>. */
static long parse_login(const struct dataset *ds, const char *s)
{
	long number = parse_login_as(s, "user", ds->synthetic_users);

	if (number > 0)
		return churn_is_renamed(&ds->churn, number) ? 0 : number;
	number = parse_login_as(s, "renamed", ds->synthetic_users);
	if (number > 0)
		return churn_is_renamed(&ds->churn, number) ? number : 0;
	number = parse_login_as(s, "new", ds->churn.added);
	return number > 0 ? ds->synthetic_users + number : 0;
}

static size_t synthetic_assignment_count(const struct dataset *ds)
{
	return churn_kept_count(&ds->churn);
}

static void synthetic_assignment_at(const struct dataset *ds, size_t i, struct fake_assignment *out)
{
	long number = churn_kept_number(&ds->churn, i);

	memset(out, 0, sizeof(*out));
	synthetic_user_view(ds, number, &out->user);
	if (number <= ds->synthetic_users && ds->synthetic_groups > 0 &&
	    number % SYNTHETIC_GROUP_STRIDE == 0) {
		long m = number / SYNTHETIC_GROUP_STRIDE;

		out->by_group = true;
		synthetic_group_view(ds, (m - 1) % ds->synthetic_groups + 1, &out->group);
	}
}

static size_t synthetic_app_group_count(const struct dataset *ds)
{
	return (size_t)ds->synthetic_groups;
}

static void synthetic_app_group_at(const struct dataset *ds, size_t i, struct fake_group *out,
				   long *priority)
{
	synthetic_group_view(ds, (long)i + 1, out);
	*priority = (long)i;
}

static bool synthetic_find_user(const struct dataset *ds, const char *key, struct fake_user *out)
{
	long number = parse_number(key, "00u", ds->user_id_width, ds->synthetic_users);

	if (number == 0) {
		number = parse_number(key, "00v", ds->user_id_width, ds->churn.added);
		if (number > 0)
			number += ds->synthetic_users;
	}
	if (number == 0)
		number = parse_login(ds, key);
	if (number == 0)
		return false;
	synthetic_user_view(ds, number, out);
	return true;
}

static bool synthetic_find_group(const struct dataset *ds, const char *id, struct fake_group *out)
{
	long number = parse_number(id, "00g", ds->group_id_width, ds->synthetic_groups);

	if (number == 0)
		return false;
	synthetic_group_view(ds, number, out);
	return true;
}

/* Group g contains the users 10 m for m = g, g + G, g + 2 G, ... up to N. */
static size_t synthetic_member_count(const struct fake_group *group)
{
	const struct dataset *ds = group->dataset;
	long granted = ds->synthetic_users / SYNTHETIC_GROUP_STRIDE;
	long first = (long)group->index + 1;

	if (granted < first)
		return 0;
	return (size_t)((granted - first) / ds->synthetic_groups + 1);
}

static void synthetic_member_at(const struct fake_group *group, size_t i, struct fake_user *out)
{
	const struct dataset *ds = group->dataset;
	long m = (long)group->index + 1 + (long)i * ds->synthetic_groups;

	synthetic_user_view(ds, m * SYNTHETIC_GROUP_STRIDE, out);
}

static const char *synthetic_user_id(const struct fake_user *user)
{
	return user->synthetic_id;
}

/* Appends "<prefix><number><suffix>" as a JSON string. */
static void append_numbered(struct buf *out, const char *prefix, long number, const char *suffix)
{
	BUF_LIT(out, "\"");
	buf_puts(out, prefix);
	buf_decimal(out, number);
	buf_puts(out, suffix);
	BUF_LIT(out, "\"");
}

static bool synthetic_user_field(const struct fake_user *user, enum user_field field,
				 struct buf *out)
{
	const struct dataset *ds = user->dataset;
	long number = (long)user->index + 1;
	const char *login_prefix = "user";
	const char *given_prefix = "Given";
	const char *family_prefix = "Family";

	if (number > ds->synthetic_users) {
		number -= ds->synthetic_users;
		login_prefix = "new";
		given_prefix = "NewGiven";
		family_prefix = "NewFamily";
	} else if (churn_is_renamed(&ds->churn, number)) {
		login_prefix = "renamed";
		family_prefix = "Renamed";
	}

	switch (field) {
	case USER_LOGIN:
	case USER_EMAIL:
		append_numbered(out, login_prefix, number, "@example.com");
		return true;
	case USER_FIRST_NAME:
		append_numbered(out, given_prefix, number, "");
		return true;
	case USER_LAST_NAME:
		append_numbered(out, family_prefix, number, "");
		return true;
	case USER_STATUS:
		BUF_LIT(out, "\"ACTIVE\"");
		return true;
	default:
		return false;
	}
}

static const char *synthetic_user_status(const struct fake_user *user)
{
	(void)user;
	return "ACTIVE";
}

static const cJSON *synthetic_no_json(const struct fake_user *user)
{
	(void)user;
	return NULL;
}

static const char *synthetic_group_id(const struct fake_group *group)
{
	return group->synthetic_id;
}

static bool synthetic_group_field(const struct fake_group *group, enum group_field field,
				  struct buf *out)
{
	if (field != GROUP_NAME)
		return false;
	BUF_LIT(out, "\"Group ");
	buf_decimal(out, (long long)group->index + 1);
	BUF_LIT(out, "\"");
	return true;
}

const struct dataset_model dataset_synthetic_model = {
	.assignment_count = synthetic_assignment_count,
	.assignment_at = synthetic_assignment_at,
	.app_group_count = synthetic_app_group_count,
	.app_group_at = synthetic_app_group_at,
	.find_user = synthetic_find_user,
	.find_group = synthetic_find_group,
	.member_count = synthetic_member_count,
	.member_at = synthetic_member_at,
	.user_id = synthetic_user_id,
	.user_field = synthetic_user_field,
	.user_status = synthetic_user_status,
	.user_profile = synthetic_no_json,
	.user_raw = synthetic_no_json,
	.group_id = synthetic_group_id,
	.group_field = synthetic_group_field,
};
