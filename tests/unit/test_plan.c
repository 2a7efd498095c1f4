/*
 * test_plan.c - the plan: matching, seats, order, reasons and the threshold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "plan.h"

struct fixture {
	struct identity_set identities;
	struct member_list members;
	struct plan_input in;
	struct plan plan;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	identity_set_init(&f->identities);
	member_list_init(&f->members);
	f->in = (struct plan_input){
		.identities = &f->identities,
		.members = &f->members,
		.source = "okta",
		.source_title = "Okta",
		.seats = 100,
		.managed_since = 1000,
		.now = 5000,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	plan_release(&f->plan);
	identity_set_release(&f->identities);
	member_list_release(&f->members);
	free(f);
	return 0;
}

static void add_identity(struct fixture *f, const char *id, const char *email,
			 enum identity_activity activity, const char *status)
{
	struct identity identity = {
		.external_id = (char *)id,
		.user_name = (char *)email,
		.email = (char *)email,
		.given_name = "Given",
		.family_name = "Family",
		.status = (char *)status,
		.activity = activity,
		.direct = true,
	};

	assert_int_equal(identity_set_add(&f->identities, &identity), RS_OK);
}

static void add_active(struct fixture *f, const char *id, const char *email)
{
	add_identity(f, id, email, IDENTITY_ACTIVE, "ACTIVE");
}

static void add_member(struct fixture *f, int64_t row, const char *source, const char *id,
		       const char *email, enum member_state state, int64_t since)
{
	struct member member = {
		.id = row,
		.source = (char *)source,
		.external_id = (char *)id,
		.email = (char *)email,
		.user_name = id ? (char *)email : NULL,
		.given_name = "Given",
		.family_name = "Family",
		.provenance = id ? "direct" : NULL,
		.state = state,
		.created_at = since,
		.state_since = since,
	};

	assert_true(member_list_add(&f->members, &member));
}

static void build(struct fixture *f)
{
	plan_release(&f->plan);
	assert_int_equal(identity_set_finish(&f->identities), RS_OK);
	assert_int_equal(plan_build(&f->in, &f->plan), RS_OK);
}

static const struct plan_entry *entry_for(const struct fixture *f, const char *email)
{
	for (size_t i = 0; i < f->plan.count; i++) {
		if (f->plan.entries[i].after.email &&
		    strcasecmp(f->plan.entries[i].after.email, email) == 0)
			return &f->plan.entries[i];
	}
	return NULL;
}

static void first_sync_assigns_everyone(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u2", "bob@example.com");
	add_active(f, "00u1", "ada@example.com");
	f->in.managed_since = 0;
	build(f);

	assert_int_equal(f->plan.count, 2);
	assert_int_equal(f->plan.counts[PLAN_ASSIGN], 2);
	assert_string_equal(f->plan.entries[0].after.email, "ada@example.com");
	assert_int_equal(f->plan.entries[0].after.state, MEMBER_ACTIVE);
	assert_null(f->plan.entries[0].before);
	assert_string_equal(f->plan.entries[0].reason, "assigned to the app in Okta");
	assert_int_equal(f->plan.seats_used, 2);
	assert_false(f->plan.threshold_tripped);
}

static void unchanged_roster_plans_nothing(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 0);
	assert_int_equal(f->plan.seats_used, 1);
}

static void removed_user_is_unassigned(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	build(f);

	e = entry_for(f, "bob@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_UNASSIGN);
	assert_int_equal(e->after.state, MEMBER_UNASSIGNED);
	assert_string_equal(e->reason, "removed from the app in Okta");
	assert_int_equal(f->plan.seats_used, 1);
}

/* A member who had the app only through groups is unassigned naming them. */
static void group_only_unassign_names_groups(void **state)
{
	static const struct {
		const char *provenance;
		const char *reason;
	} cases[] = {
		{ "group:Sales", "no longer assigned to the app in Okta through group Sales" },
		{ "group:Sales,group:R%2CD %25",
		  "no longer assigned to the app in Okta through groups Sales, R,D %" },
		{ "direct,group:Sales", "removed from the app in Okta" },
		{ "direct", "removed from the app in Okta" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct plan_entry *e;

		member_list_release(&f->members);
		member_list_init(&f->members);
		add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
		f->members.items[0].provenance = (char *)cases[i].provenance;
		build(f);

		e = entry_for(f, "ada@example.com");
		assert_non_null(e);
		assert_int_equal(e->op, PLAN_UNASSIGN);
		assert_string_equal(e->reason, cases[i].reason);
	}
}

static void email_rename_is_one_update(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "ada.king@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 1);
	e = &f->plan.entries[0];
	assert_int_equal(e->op, PLAN_UPDATE);
	assert_int_equal(e->before->id, 1);
	assert_string_equal(e->before->email, "ada@example.com");
	assert_string_equal(e->after.email, "ada.king@example.com");
	assert_non_null(strstr(e->reason, "email"));
}

static void suspended_user_is_unassigned(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_identity(f, "00u1", "ada@example.com", IDENTITY_INACTIVE, "SUSPENDED");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	e = entry_for(f, "ada@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_UNASSIGN);
	assert_string_equal(e->reason, "user suspended in Okta (SUSPENDED)");
}

static void inactive_newcomer_gets_no_row(void **state)
{
	struct fixture *f = *state;

	add_identity(f, "00u1", "ada@example.com", IDENTITY_INACTIVE, "STAGED");
	build(f);

	assert_int_equal(f->plan.count, 0);
}

/* A new account with the address of one just deactivated gets the address in the same run. */
static void deactivated_frees_email(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *entries;

	add_identity(f, "00u1", "pat@example.com", IDENTITY_INACTIVE, "DEPROVISIONED");
	add_active(f, "00u3", "pat@example.com");
	add_member(f, 1, "okta", "00u1", "pat@example.com", MEMBER_ACTIVE, 100);
	build(f);

	entries = f->plan.entries;
	assert_int_equal(f->plan.problem_count, 0);
	assert_int_equal(f->plan.count, 2);
	assert_int_equal(entries[0].op, PLAN_UNASSIGN);
	assert_string_equal(entries[0].after.external_id, "00u1");
	assert_int_equal(entries[1].op, PLAN_ASSIGN);
	assert_string_equal(entries[1].after.external_id, "00u3");
	assert_int_equal(entries[1].after.state, MEMBER_ACTIVE);
}

/* A new account with the address of a deleted account keeps the person's seat. */
static void recreated_account_keeps_seat(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	f->in.seats = 1;
	add_active(f, "00u9", "ann@example.com");
	add_active(f, "00u2", "cat@example.com");
	add_member(f, 1, "okta", "00u1", "ann@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "cat@example.com", MEMBER_WAITING, 100);
	build(f);

	assert_int_equal(f->plan.count, 1);
	e = &f->plan.entries[0];
	assert_int_equal(e->op, PLAN_UPDATE);
	assert_int_equal(e->before->id, 1);
	assert_string_equal(e->after.external_id, "00u9");
	assert_int_equal(e->after.state, MEMBER_ACTIVE);
	assert_string_equal(e->reason, "Okta user 00u9 has the address of the member linked to "
			    "user 00u1, which is no longer assigned: member linked to the new user");
	assert_int_equal(f->plan.counts[PLAN_UNASSIGN], 0);
}

/* Returns the entry that writes a row for external_id, or NULL. */
static const struct plan_entry *entry_for_id(const struct fixture *f, const char *external_id)
{
	for (size_t i = 0; i < f->plan.count; i++) {
		const struct plan_entry *e = &f->plan.entries[i];

		if (e->after.external_id && strcmp(e->after.external_id, external_id) == 0)
			return e;
	}
	return NULL;
}

/* A row whose user is still listed, or only missing from the directory for now, is not taken. */
static void listed_account_not_relinked(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "ann.old@example.com");
	add_active(f, "00u9", "ann@example.com");
	add_member(f, 1, "okta", "00u1", "ann@example.com", MEMBER_ACTIVE, 100);
	assert_int_equal(identity_set_add_not_found(&f->identities, "00u2"), RS_OK);
	add_active(f, "00u8", "bob@example.com");
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	build(f);

	e = entry_for_id(f, "00u9");
	assert_non_null(e);
	assert_null(e->before);
	e = entry_for_id(f, "00u1");
	assert_non_null(e);
	assert_int_equal(e->before->id, 1);
	assert_null(entry_for_id(f, "00u8"));
	assert_int_equal(f->plan.problem_count, 2);
}

static void seats_full_puts_rest_waiting(void **state)
{
	struct fixture *f = *state;
	char id[16], email[64];

	for (int i = 12; i >= 1; i--) {
		snprintf(id, sizeof(id), "00u%02d", i);
		snprintf(email, sizeof(email), "user%02d@example.com", i);
		add_active(f, id, email);
	}
	f->in.seats = 10;
	build(f);

	assert_int_equal(f->plan.counts[PLAN_ASSIGN], 10);
	assert_int_equal(f->plan.counts[PLAN_WAIT], 2);
	assert_int_equal(f->plan.seats_used, 10);
	assert_int_equal(entry_for(f, "user10@example.com")->op, PLAN_ASSIGN);
	assert_int_equal(entry_for(f, "user11@example.com")->op, PLAN_WAIT);
	assert_int_equal(entry_for(f, "user12@example.com")->op, PLAN_WAIT);
	assert_string_equal(entry_for(f, "user12@example.com")->reason,
			    "no free seat: 10 of 10 seats used");
}

static void freed_seat_goes_to_longest_waiting(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "ada@example.com");
	add_active(f, "00u3", "cy@example.com");
	add_active(f, "00u4", "dee@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 3, "okta", "00u3", "cy@example.com", MEMBER_WAITING, 300);
	add_member(f, 4, "okta", "00u4", "dee@example.com", MEMBER_WAITING, 200);
	f->in.seats = 2;
	build(f);

	assert_int_equal(entry_for(f, "bob@example.com")->op, PLAN_UNASSIGN);
	e = entry_for(f, "dee@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_ASSIGN);
	assert_string_equal(e->reason, "seat became free; assigned in Okta");
	assert_null(entry_for(f, "cy@example.com"));
	assert_int_equal(f->plan.seats_used, 2);
	assert_int_equal(f->plan.entries[0].op, PLAN_UNASSIGN);
}

static void manual_member_adopted_by_email_case(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "Ada@Example.com");
	add_member(f, 7, "manual", NULL, "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 1);
	e = &f->plan.entries[0];
	assert_int_equal(e->op, PLAN_UPDATE);
	assert_int_equal(e->before->id, 7);
	assert_string_equal(e->after.external_id, "00u1");
	assert_string_equal(e->after.source, "okta");
	assert_string_equal(e->after.email, "Ada@Example.com");
	assert_int_equal(f->plan.seats_used, 1);
}

static void shared_email_gives_one_member(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u2", "ada@example.com");
	add_active(f, "00u1", "ADA@example.com");
	build(f);

	assert_int_equal(f->plan.count, 1);
	assert_string_equal(f->plan.entries[0].after.external_id, "00u1");
	assert_int_equal(f->plan.problem_count, 1);
	assert_string_equal(f->plan.problems[0].external_id, "00u2");
	assert_non_null(strstr(f->plan.problems[0].message, "email conflict"));
}

static void shared_email_keeps_linked_member(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "ada@example.com");
	add_active(f, "00u2", "ada@example.com");
	add_member(f, 1, "okta", "00u2", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 1);
	assert_string_equal(f->plan.problems[0].external_id, "00u1");
}

/*
 * Two people whose addresses differ only in case both have rows.  The one
 * with a seat keeps the address, and only the other one is skipped.
 */
static void shared_email_prefers_seated_member(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u002", "bob@example.com");
	add_active(f, "00u010", "BOB@example.com");
	add_member(f, 1, "okta", "00u002", "bob@example.com", MEMBER_UNASSIGNED, 100);
	add_member(f, 2, "okta", "00u010", "BOB@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 1);
	assert_string_equal(f->plan.problems[0].external_id, "00u002");
	assert_non_null(strstr(f->plan.problems[0].message,
			       "is also the email of Okta user 00u010, which keeps it"));
	assert_int_equal(f->plan.seats_used, 1);
}

static void invalid_email_keeps_member(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "not an email");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 1);
	assert_non_null(strstr(f->plan.problems[0].message, "invalid email"));
	assert_int_equal(f->plan.seats_used, 1);
}

static void unknown_status_keeps_member(void **state)
{
	struct fixture *f = *state;

	add_identity(f, "00u1", "ada@example.com", IDENTITY_UNKNOWN, "HIBERNATING");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 1);
	assert_non_null(strstr(f->plan.problems[0].message, "HIBERNATING"));
}

static void unknown_status_adds_no_member(void **state)
{
	struct fixture *f = *state;

	add_identity(f, "00u1", "ada@example.com", IDENTITY_UNKNOWN, "HIBERNATING");
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 1);
	assert_non_null(strstr(f->plan.problems[0].message,
			       "unknown status HIBERNATING in Okta: not added to the roster until "
			       "the status is known"));
}

static void conflicting_records_named(void **state)
{
	struct fixture *f = *state;

	/* The set copies a status, but merging records points it at identity_status_conflict. */
	add_identity(f, "00u1", "ada@example.com", IDENTITY_UNKNOWN, "enabled");
	add_identity(f, "00u2", "bob@example.com", IDENTITY_UNKNOWN, "enabled");
	f->identities.items[0].status = (char *)identity_status_conflict;
	f->identities.items[1].status = (char *)identity_status_conflict;
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.count, 0);
	assert_int_equal(f->plan.problem_count, 2);
	assert_non_null(strstr(f->plan.problems[0].message,
			       "listed more than once with different data in Okta: member kept as it is"));
	assert_non_null(strstr(f->plan.problems[1].message,
			       "listed more than once with different data in Okta: not added to the roster "
			       "until the records agree"));
	assert_null(strstr(f->plan.problems[1].message, "unknown status"));
}

static void empty_answer_trips_threshold(void **state)
{
	struct fixture *f = *state;

	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	f->in.max_unassign = 0;
	f->in.max_unassign_percent = 0;
	build(f);

	assert_int_equal(f->plan.counts[PLAN_UNASSIGN], 1);
	assert_true(f->plan.threshold_tripped);
	assert_non_null(strstr(f->plan.threshold_reason, "no assigned users"));
}

static void unassign_count_trips_threshold(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u9", "keep@example.com");
	add_member(f, 9, "okta", "00u9", "keep@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 1, "okta", "00u1", "a@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "b@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 3, "okta", "00u3", "c@example.com", MEMBER_UNASSIGNED, 100);
	f->in.max_unassign = 1;
	build(f);

	assert_int_equal(f->plan.counts[PLAN_UNASSIGN], 2);
	assert_true(f->plan.threshold_tripped);
	assert_non_null(strstr(f->plan.threshold_reason, "sync.max_unassign (1)"));

	f->in.max_unassign = 2;
	build(f);
	assert_false(f->plan.threshold_tripped);
}

static void unassign_percent_trips_threshold(void **state)
{
	struct fixture *f = *state;
	char id[16], email[64];

	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "00u%02d", i);
		snprintf(email, sizeof(email), "u%02d@example.com", i);
		add_member(f, i + 1, "okta", id, email, MEMBER_ACTIVE, 100);
		if (i >= 3)
			add_active(f, id, email);
	}
	f->in.max_unassign_percent = 20;
	build(f);

	assert_int_equal(f->plan.counts[PLAN_UNASSIGN], 3);
	assert_true(f->plan.threshold_tripped);
	assert_non_null(strstr(f->plan.threshold_reason, "20%"));
}

static void plan_id_follows_operations(void **state)
{
	struct fixture *f = *state;
	char first[17];

	add_active(f, "00u1", "ada@example.com");
	build(f);
	memcpy(first, f->plan.id, sizeof(first));
	assert_int_equal(strlen(first), 16);

	build(f);
	assert_string_equal(first, f->plan.id);

	add_active(f, "00u2", "bob@example.com");
	build(f);
	assert_string_not_equal(first, f->plan.id);
}

static void drifted_row_is_reverted(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	f->members.items[0].drifted = true;
	add_member(f, 2, "manual", NULL, "sneaky@example.com", MEMBER_ACTIVE, 2000);
	f->members.items[1].drifted = true;
	build(f);

	assert_int_equal(entry_for(f, "ada@example.com")->op, PLAN_UPDATE);
	assert_string_equal(entry_for(f, "ada@example.com")->reason, "manual change reverted");
	assert_int_equal(entry_for(f, "sneaky@example.com")->op, PLAN_UNASSIGN);
	assert_string_equal(entry_for(f, "sneaky@example.com")->reason, "manual change reverted");
}

static void deleted_row_is_reassigned(void **state)
{
	struct fixture *f = *state;
	char *deleted[] = { "00u1" };

	add_active(f, "00u1", "ada@example.com");
	f->in.deleted_ids = deleted;
	f->in.deleted_count = 1;
	build(f);

	assert_int_equal(f->plan.entries[0].op, PLAN_ASSIGN);
	assert_non_null(strstr(f->plan.entries[0].reason, "manual change reverted"));
}

static void unmanaged_members_follow_policy(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "ada@example.com");
	add_member(f, 1, "manual", NULL, "old@example.com", MEMBER_ACTIVE, 100);
	build(f);
	assert_int_equal(f->plan.count, 1);
	assert_int_equal(f->plan.seats_used, 2);

	f->in.unassign_unmanaged = true;
	build(f);
	assert_int_equal(entry_for(f, "old@example.com")->op, PLAN_UNASSIGN);
	assert_int_equal(f->plan.seats_used, 1);
}

/*
 * A kept manual member who waits competes for free seats with the IdP's
 * waiting members, longest waiting first.  Without a free seat it stays as
 * it is.
 */
static void kept_waiting_member_gets_free_seat(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u1", "ada@example.com");
	add_active(f, "00u2", "bob@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_WAITING, 400);
	add_member(f, 3, "manual", NULL, "old@example.com", MEMBER_WAITING, 300);
	f->in.seats = 2;
	build(f);

	e = entry_for(f, "old@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_ASSIGN);
	assert_string_equal(e->reason, "seat became free");
	assert_int_equal(e->after.state, MEMBER_ACTIVE);
	assert_int_equal(e->after.state_since, 5000);
	assert_null(entry_for(f, "bob@example.com"));
	assert_int_equal(f->plan.seats_used, 2);

	f->in.seats = 1;
	build(f);
	assert_null(entry_for(f, "old@example.com"));
	assert_int_equal(f->plan.count, 0);
}

static void lowered_limit_moves_newest_waiting(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "ada@example.com");
	add_active(f, "00u2", "bob@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 200);
	f->in.seats = 1;
	build(f);

	assert_int_equal(f->plan.count, 1);
	assert_int_equal(entry_for(f, "bob@example.com")->op, PLAN_WAIT);
	assert_int_equal(f->plan.seats_used, 1);
}

static void group_only_assignment_names_group(void **state)
{
	struct fixture *f = *state;
	struct identity identity = {
		.external_id = "00u1", .email = "ada@example.com", .status = "ACTIVE",
		.activity = IDENTITY_ACTIVE, .direct = false,
	};

	assert_int_equal(identity_set_add(&f->identities, &identity), RS_OK);
	assert_int_equal(identity_add_group(&f->identities.items[0], "Engineering"), RS_OK);
	build(f);

	assert_string_equal(f->plan.entries[0].after.provenance, "group:Engineering");
	assert_string_equal(f->plan.entries[0].reason,
			    "assigned to the app in Okta through group Engineering");
}

/* An identity listed as assigned, but neither directly nor through a group. */
static void add_ungranted(struct fixture *f, const char *id, const char *email)
{
	struct identity identity = {
		.external_id = (char *)id, .user_name = (char *)email, .email = (char *)email,
		.given_name = "Given", .family_name = "Family", .status = "ACTIVE",
		.activity = IDENTITY_ACTIVE, .direct = false,
	};

	assert_int_equal(identity_set_add(&f->identities, &identity), RS_OK);
}

static void ungranted_identity_keeps_provenance(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *entry;

	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_ungranted(f, "00u1", "ada@example.com");
	add_ungranted(f, "00u2", "bob@example.com");
	build(f);

	assert_int_equal(f->plan.count, 1);
	entry = entry_for(f, "bob@example.com");
	assert_non_null(entry);
	assert_int_equal(entry->op, PLAN_ASSIGN);
	assert_null(entry->after.provenance);
	assert_string_equal(entry->reason, "assigned to the app in Okta");
}

static void suspended_with_bad_email_loses_seat(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_identity(f, "00u1", "broken", IDENTITY_INACTIVE, "SUSPENDED");
	add_identity(f, "00u2", "taken@example.com", IDENTITY_INACTIVE, "DEPROVISIONED");
	add_active(f, "00u3", "taken@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 3, "okta", "00u3", "taken@example.com", MEMBER_ACTIVE, 100);
	f->in.max_unassign_percent = 0;
	build(f);

	assert_int_equal(f->plan.problem_count, 0);
	e = entry_for(f, "ada@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_UNASSIGN);
	e = entry_for(f, "taken@example.com");
	assert_non_null(e);
	assert_int_equal(e->op, PLAN_UNASSIGN);
	assert_int_equal(e->before->id, 2);
	assert_int_equal(f->plan.seats_used, 1);
}

static void swapped_emails_are_two_updates(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u1", "bob@example.com");
	add_active(f, "00u2", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	build(f);

	assert_int_equal(f->plan.problem_count, 0);
	assert_int_equal(f->plan.counts[PLAN_UPDATE], 2);
	assert_int_equal(entry_for(f, "bob@example.com")->before->id, 1);
	assert_int_equal(entry_for(f, "ada@example.com")->before->id, 2);
}

static void departed_email_goes_to_new_row(void **state)
{
	struct fixture *f = *state;
	const struct plan_entry *e;

	add_active(f, "00u9", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_UNASSIGNED, 100);
	build(f);

	assert_int_equal(f->plan.problem_count, 0);
	assert_int_equal(f->plan.count, 1);
	e = &f->plan.entries[0];
	assert_int_equal(e->op, PLAN_ASSIGN);
	assert_null(e->before);
	assert_string_equal(e->after.external_id, "00u9");
}

static void departing_holder_frees_email(void **state)
{
	struct fixture *f = *state;

	add_active(f, "00u2", "ada@example.com");
	add_member(f, 1, "okta", "00u1", "ada@example.com", MEMBER_ACTIVE, 100);
	add_member(f, 2, "okta", "00u2", "bob@example.com", MEMBER_ACTIVE, 100);
	f->in.max_unassign_percent = 0;
	build(f);

	assert_int_equal(f->plan.problem_count, 0);
	assert_int_equal(f->plan.counts[PLAN_UNASSIGN], 1);
	assert_int_equal(f->plan.counts[PLAN_UPDATE], 1);
	assert_int_equal(f->plan.entries[0].op, PLAN_UNASSIGN);
	assert_int_equal(f->plan.entries[0].before->id, 1);
}

static void lowered_limit_counts_for_threshold(void **state)
{
	struct fixture *f = *state;
	char id[16], email[64];

	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "00u%02d", i);
		snprintf(email, sizeof(email), "u%02d@example.com", i);
		add_active(f, id, email);
		add_member(f, i + 1, "okta", id, email, MEMBER_ACTIVE, 100 + i);
	}
	f->in.seats = 1;
	f->in.max_unassign_percent = 20;
	build(f);

	assert_int_equal(f->plan.counts[PLAN_WAIT], 9);
	assert_true(f->plan.threshold_tripped);
	assert_string_equal(f->plan.threshold_reason, "9 seat losses (0 unassigns, 9 members moved "
			    "to the waiting list) are more than sync.max_unassign_percent (20%) "
			    "of 10 active members");
}

static void plan_id_follows_roster_version(void **state)
{
	struct fixture *f = *state;
	char first[17];

	add_active(f, "00u1", "ada@example.com");
	build(f);
	memcpy(first, f->plan.id, sizeof(first));
	f->in.roster_version = 42;
	build(f);
	assert_string_not_equal(first, f->plan.id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_sync_assigns_everyone, setup, teardown),
		cmocka_unit_test_setup_teardown(unchanged_roster_plans_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_user_is_unassigned, setup, teardown),
		cmocka_unit_test_setup_teardown(email_rename_is_one_update, setup, teardown),
		cmocka_unit_test_setup_teardown(suspended_user_is_unassigned, setup, teardown),
		cmocka_unit_test_setup_teardown(inactive_newcomer_gets_no_row, setup, teardown),
		cmocka_unit_test_setup_teardown(seats_full_puts_rest_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(freed_seat_goes_to_longest_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(manual_member_adopted_by_email_case, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_email_gives_one_member, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_email_keeps_linked_member, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_email_prefers_seated_member, setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_email_keeps_member, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_status_keeps_member, setup, teardown),
		cmocka_unit_test_setup_teardown(deactivated_frees_email, setup, teardown),
		cmocka_unit_test_setup_teardown(recreated_account_keeps_seat, setup, teardown),
		cmocka_unit_test_setup_teardown(listed_account_not_relinked, setup, teardown),
		cmocka_unit_test_setup_teardown(group_only_unassign_names_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_status_adds_no_member, setup, teardown),
		cmocka_unit_test_setup_teardown(conflicting_records_named, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_answer_trips_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(unassign_count_trips_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(unassign_percent_trips_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(plan_id_follows_operations, setup, teardown),
		cmocka_unit_test_setup_teardown(drifted_row_is_reverted, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_row_is_reassigned, setup, teardown),
		cmocka_unit_test_setup_teardown(unmanaged_members_follow_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(kept_waiting_member_gets_free_seat, setup, teardown),
		cmocka_unit_test_setup_teardown(lowered_limit_moves_newest_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(group_only_assignment_names_group, setup, teardown),
		cmocka_unit_test_setup_teardown(ungranted_identity_keeps_provenance, setup, teardown),
		cmocka_unit_test_setup_teardown(suspended_with_bad_email_loses_seat, setup, teardown),
		cmocka_unit_test_setup_teardown(swapped_emails_are_two_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(departed_email_goes_to_new_row, setup, teardown),
		cmocka_unit_test_setup_teardown(departing_holder_frees_email, setup, teardown),
		cmocka_unit_test_setup_teardown(lowered_limit_counts_for_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(plan_id_follows_roster_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
