/*
 * test_identity.c - the identity set and the checks on IdP strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "capture.h"
#include "identity.h"

static void add(struct identity_set *set, const char *id, bool direct, const char *group)
{
	struct identity identity = {
		.external_id = (char *)id,
		.email = "x@example.com",
		.activity = IDENTITY_ACTIVE,
		.direct = direct,
	};

	assert_int_equal(identity_set_add(set, &identity), RS_OK);
	if (group)
		assert_int_equal(identity_add_group(&set->items[set->count - 1], group), RS_OK);
}

static void finish_merges_same_id(void **state)
{
	struct identity_set set;
	char *provenance;

	(void)state;
	identity_set_init(&set);
	add(&set, "00u2", false, "Sales");
	add(&set, "00u1", true, NULL);
	add(&set, "00u2", true, NULL);
	add(&set, "00u2", false, "Engineering");
	assert_int_equal(identity_set_finish(&set), RS_OK);

	assert_int_equal(set.count, 2);
	assert_string_equal(set.items[0].external_id, "00u1");
	assert_string_equal(set.items[1].external_id, "00u2");
	assert_true(set.items[1].direct);
	assert_int_equal(set.items[1].group_count, 2);
	provenance = identity_provenance(&set.items[1]);
	assert_string_equal(provenance, "direct,group:Engineering,group:Sales");
	free(provenance);
	assert_non_null(identity_set_find(&set, "00u2"));
	assert_null(identity_set_find(&set, "00u3"));
	identity_set_release(&set);
}

static void provenance_escapes_commas_in_group_names(void **state)
{
	struct identity_set set;
	char *provenance;

	(void)state;
	identity_set_init(&set);
	add(&set, "00u1", false, "B, with comma");
	add(&set, "00u1", false, "A");
	add(&set, "00u1", false, "100% remote");
	assert_int_equal(identity_set_finish(&set), RS_OK);

	provenance = identity_provenance(&set.items[0]);
	assert_string_equal(provenance, "group:100%25 remote,group:A,group:B%2C with comma");
	free(provenance);
	identity_set_release(&set);
}

static void email_problem_names_the_reason(void **state)
{
	static const struct {
		const char *text;
		const char *problem;
	} cases[] = {
		{ "ada@example.com", NULL },
		{ "a@", "it is shorter than 3 characters" },
		{ "ada.example.com", "it has no @" },
		{ "@example.com", "nothing comes before the @" },
		{ "ada@b@example.com", "it has more than one @" },
		{ "ada@localhost", "the domain after the @ has no dot between two names" },
		{ "ada@example..com", "a dot starts it or stands next to the @, or two dots stand in a row" },
		{ "ada l@example.com", "it holds a space or one of < > , ; : \" ( ) [ ] \\, as in a "
		  "pasted \"SMTP:\" prefix or display name" },
		{ "SMTP:ada@example.com", "it holds a space or one of < > , ; : \" ( ) [ ] \\, as in "
		  "a pasted \"SMTP:\" prefix or display name" },
		{ "ada@-example.com", "a name in the domain starts or ends with a hyphen" },
		{ "ada@example.com.", "the domain ends with a dot" },
		{ "ada@mail.example-.com", "a name in the domain starts or ends with a hyphen" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
		  "the part before the @ is longer than 64 bytes" },
		{ "ada\xe2\x80\x8b@example.com", "it holds a character that prints as nothing, such "
		  "as a zero-width space" },
		{ "member-7@email-change.INVALID", "its domain ends with .invalid, which no mail can "
		  "reach (RFC 2606)" },
		{ "ada@invalid.example.com", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *problem = identity_email_problem(cases[i].text);

		if (cases[i].problem == NULL ? problem != NULL :
		    problem == NULL || strcmp(problem, cases[i].problem) != 0)
			fail_msg("%s: got \"%s\"", cases[i].text, problem ? problem : "(valid)");
		assert_int_equal(identity_email_valid(cases[i].text), cases[i].problem == NULL);
	}
}

static void finish_of_empty_set(void **state)
{
	struct identity_set set;

	(void)state;
	identity_set_init(&set);
	assert_int_equal(identity_set_finish(&set), RS_OK);
	assert_int_equal(set.count, 0);
	assert_null(identity_set_find(&set, "00u1"));
	identity_set_release(&set);
}

static void add_group_keeps_sorted_unique(void **state)
{
	struct identity identity = { 0 };

	(void)state;
	assert_int_equal(identity_add_group(&identity, "b"), RS_OK);
	assert_int_equal(identity_add_group(&identity, "a"), RS_OK);
	assert_int_equal(identity_add_group(&identity, "b"), RS_OK);
	assert_int_equal(identity_add_group(&identity, "c"), RS_OK);
	assert_int_equal(identity.group_count, 3);
	assert_string_equal(identity.groups[0], "a");
	assert_string_equal(identity.groups[1], "b");
	assert_string_equal(identity.groups[2], "c");
	for (size_t i = 0; i < identity.group_count; i++)
		free(identity.groups[i]);
	free(identity.groups);
}

static void email_validation_table(void **state)
{
	static const struct { const char *text; bool valid; } cases[] = {
		{ "ada@example.com", true },
		{ "Ada.Lovelace+app@sub.example.co.uk", true },
		{ "o'brien@example.ie", true },
		{ "", false },
		{ "ada", false },
		{ "ada@", false },
		{ "@example.com", false },
		{ "ada@example", false },
		{ "ada@@example.com", false },
		{ "ada@exa@mple.com", false },
		{ "ada lovelace@example.com", false },
		{ "ada@example..com", false },
		{ "a..b@example.com", false },
		{ "ada@my-example.com", true },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", true },
		{ "ada.@example.com", false },
		{ ".ada@example.com", false },
		{ "ada@.example.com", false },
		{ "ada@example.com.", false },
		{ "<ada@example.com>", false },
		{ "ada@example.com\n", false },
		{ "ada\x01@example.com", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (identity_email_valid(cases[i].text) != cases[i].valid)
			fail_msg("identity_email_valid(\"%s\") should be %s", cases[i].text,
				 cases[i].valid ? "true" : "false");
	}
	assert_false(identity_email_valid(NULL));
}

static void overlong_email_is_invalid(void **state)
{
	char text[300];

	(void)state;
	/* 60 bytes before the @, then a long domain: 255 bytes in all, then 254. */
	memset(text, 'a', 60);
	text[60] = '@';
	memset(text + 61, 'x', 200);
	memcpy(text + 252, ".io", 4);
	assert_false(identity_email_valid(text));
	memcpy(text + 251, ".io", 4);
	assert_true(identity_email_valid(text));
}

static void text_validation_table(void **state)
{
	static const struct { const char *text; bool valid; } cases[] = {
		{ "plain", true },
		{ "Zoë Ødegård", true },
		{ "李小龍", true },
		{ "emoji \xf0\x9f\x98\x80", true },
		{ "", true },
		{ "tab\there", false },
		{ "newline\n", false },
		{ "del\x7f", false },
		{ "bad \xc3", false },
		{ "overlong \xc0\xaf", false },
		{ "surrogate \xed\xa0\x80", false },
		{ "too big \xf4\x90\x80\x80", false },
		{ "c1 control \xc2\x85", false },
		{ "stray \x80", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (identity_text_valid(cases[i].text) != cases[i].valid)
			fail_msg("identity_text_valid case %zu should be %s", i,
				 cases[i].valid ? "true" : "false");
	}
}

static void trim_dup_table(void **state)
{
	char *text;

	(void)state;
	text = identity_trim_dup("  ada@example.com \t");
	assert_string_equal(text, "ada@example.com");
	free(text);
	assert_null(identity_trim_dup("   "));
	assert_null(identity_trim_dup(""));
	assert_null(identity_trim_dup(NULL));
}

static void email_compare_ignores_case(void **state)
{
	(void)state;
	assert_int_equal(identity_email_compare("Ada@Example.COM", "ada@example.com"), 0);
	assert_true(identity_email_compare("ada@example.com", "bob@example.com") < 0);
}

/* Equal strings share one pooled copy; different ones keep their own. */
static void add_shares_equal_strings(void **state)
{
	struct identity first = {
		.external_id = "u1", .user_name = "ada@example.com", .email = "ada@example.com",
		.status = "enabled", .activity = IDENTITY_ACTIVE,
	};
	struct identity second = {
		.external_id = "u2", .user_name = "bob@corp.example", .email = "bob@example.com",
		.status = "enabled", .activity = IDENTITY_ACTIVE,
	};
	struct identity third = {
		.external_id = "u3", .user_name = "cy@example.com", .email = NULL,
		.status = "disabled", .activity = IDENTITY_INACTIVE,
	};
	struct identity_set set;

	(void)state;
	identity_set_init(&set);
	assert_int_equal(identity_set_add(&set, &first), RS_OK);
	assert_int_equal(identity_set_add(&set, &second), RS_OK);
	assert_int_equal(identity_set_add(&set, &third), RS_OK);

	assert_string_equal(set.items[0].email, "ada@example.com");
	assert_ptr_equal(set.items[0].email, set.items[0].user_name);
	assert_string_equal(set.items[1].email, "bob@example.com");
	assert_string_equal(set.items[1].user_name, "bob@corp.example");
	assert_null(set.items[2].email);
	assert_ptr_equal(set.items[1].status, set.items[0].status);
	assert_string_equal(set.items[1].status, "enabled");
	assert_string_equal(set.items[2].status, "disabled");
	assert_ptr_not_equal(set.items[0].email, first.email);
	identity_set_release(&set);
}

static void disagreeing_duplicates_become_unknown(void **state)
{
	struct identity_set set;
	struct identity a = { .external_id = "00u1", .email = "ada@example.com",
			      .status = "ACTIVE", .activity = IDENTITY_ACTIVE, .direct = true };
	struct identity b = { .external_id = "00u1", .email = "ada@example.com",
			      .status = "SUSPENDED", .activity = IDENTITY_INACTIVE };
	struct identity c = { .external_id = "00u2", .email = "bob@example.com",
			      .status = "ACTIVE", .activity = IDENTITY_ACTIVE };
	struct identity d = { .external_id = "00u2", .email = "BOB@example.com",
			      .status = "ACTIVE", .activity = IDENTITY_ACTIVE };

	(void)state;
	identity_set_init(&set);
	assert_int_equal(identity_set_add(&set, &a), RS_OK);
	assert_int_equal(identity_set_add(&set, &b), RS_OK);
	assert_int_equal(identity_set_add(&set, &c), RS_OK);
	assert_int_equal(identity_set_add(&set, &d), RS_OK);
	assert_int_equal(identity_set_finish(&set), RS_OK);

	assert_int_equal(set.count, 2);
	assert_int_equal(set.items[0].activity, IDENTITY_UNKNOWN);
	assert_int_equal(set.items[1].activity, IDENTITY_ACTIVE);
	identity_set_release(&set);
}

/* A third record of a user in conflict adds no second warning, and the one warning names only the fields that differ. */
static void conflict_warned_once(void **state)
{
	struct identity_set set;
	struct identity enabled = { .external_id = "u2", .email = "u2@contoso.example",
				    .status = "enabled", .activity = IDENTITY_ACTIVE, .direct = true };
	struct identity disabled = { .external_id = "u2", .email = "u2@contoso.example",
				     .status = "disabled", .activity = IDENTITY_INACTIVE };
	struct capture capture;
	char *logged;

	(void)state;
	identity_set_init(&set);
	assert_int_equal(identity_set_add(&set, &enabled), RS_OK);
	assert_int_equal(identity_set_add(&set, &disabled), RS_OK);
	assert_int_equal(identity_set_add(&set, &enabled), RS_OK);
	capture_start(&capture);
	assert_int_equal(identity_set_finish(&set), RS_OK);
	logged = capture_stop(&capture);

	assert_int_equal(set.count, 1);
	assert_int_equal(set.items[0].activity, IDENTITY_UNKNOWN);
	assert_ptr_equal(set.items[0].status, identity_status_conflict);
	assert_non_null(strstr(logged, "user u2 is listed more than once with different data: "
				       "status enabled and disabled; its roster row"));
	assert_null(strstr(logged, "email"));
	assert_null(strstr(strstr(logged, "listed more than once") + 1, "listed more than once"));
	free(logged);
	identity_set_release(&set);
}

static void controls_blanked_and_bidi_removed(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "Ada\tLovelace", "Ada Lovelace" },
		{ "a\xc2\x85" "b", "a b" },
		/* U+202E RIGHT-TO-LEFT OVERRIDE and U+2066 LEFT-TO-RIGHT ISOLATE */
		{ "evil\xe2\x80\xaegpj.exe", "evilgpj.exe" },
		{ "\xe2\x81\xa6Sales\xe2\x81\xa9", "Sales" },
		/* U+200F RIGHT-TO-LEFT MARK and Hebrew letters stay */
		{ "\xd7\xa9\xd7\x9c\xe2\x80\x8f", "\xd7\xa9\xd7\x9c\xe2\x80\x8f" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "%s", cases[i].in);
		if (!identity_text_blank_controls(text))
			fail_msg("case %zu: not valid UTF-8", i);
		assert_string_equal(text, cases[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finish_merges_same_id),
		cmocka_unit_test(provenance_escapes_commas_in_group_names),
		cmocka_unit_test(email_problem_names_the_reason),
		cmocka_unit_test(finish_of_empty_set),
		cmocka_unit_test(add_group_keeps_sorted_unique),
		cmocka_unit_test(email_validation_table),
		cmocka_unit_test(overlong_email_is_invalid),
		cmocka_unit_test(text_validation_table),
		cmocka_unit_test(trim_dup_table),
		cmocka_unit_test(controls_blanked_and_bidi_removed),
		cmocka_unit_test(email_compare_ignores_case),
		cmocka_unit_test(add_shares_equal_strings),
		cmocka_unit_test(disagreeing_duplicates_become_unknown),
		cmocka_unit_test(conflict_warned_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
