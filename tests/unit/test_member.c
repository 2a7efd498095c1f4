/*
 * test_member.c - member records: state names, copies, lists and checksum.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "member.h"

static struct member sample(void)
{
	struct member m = {
		.id = 7,
		.source = "okta",
		.external_id = "00u1",
		.email = "Ada@Example.com",
		.user_name = "ada",
		.given_name = "Ada",
		.family_name = "Lovelace",
		.display_name = "Ada Lovelace",
		.provenance = "direct",
		.state = MEMBER_ACTIVE,
		.created_at = 100,
		.updated_at = 200,
		.state_since = 150,
	};

	return m;
}

static void state_names_round_trip(void **state)
{
	enum member_state states[] = { MEMBER_ACTIVE, MEMBER_WAITING, MEMBER_UNASSIGNED };

	(void)state;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		enum member_state parsed = MEMBER_ACTIVE;

		assert_true(member_state_parse(member_state_name(states[i]), &parsed));
		assert_int_equal(parsed, states[i]);
	}
	assert_string_equal(member_state_name(MEMBER_ACTIVE), "active");
	assert_string_equal(member_state_name(MEMBER_WAITING), "waiting");
	assert_string_equal(member_state_name(MEMBER_UNASSIGNED), "unassigned");
}

static void state_parse_rejects_unknown(void **state)
{
	enum member_state parsed = MEMBER_WAITING;

	(void)state;
	assert_false(member_state_parse("Active", &parsed));
	assert_false(member_state_parse("", &parsed));
	assert_false(member_state_parse(NULL, &parsed));
	assert_int_equal(parsed, MEMBER_WAITING);
	assert_string_equal(member_state_name((enum member_state)42), "unknown");
}

static void copy_is_deep(void **state)
{
	struct member src = sample();
	struct member dst;

	(void)state;
	src.external_id = NULL;
	assert_true(member_copy(&dst, &src));

	assert_int_equal(dst.id, 7);
	assert_int_equal(dst.state_since, 150);
	assert_null(dst.external_id);
	assert_string_equal(dst.email, "Ada@Example.com");
	assert_ptr_not_equal(dst.email, src.email);
	assert_ptr_not_equal(dst.provenance, src.provenance);

	member_release(&dst);
	assert_null(dst.email);
	assert_int_equal(dst.id, 0);
}

static void release_accepts_null(void **state)
{
	(void)state;
	member_release(NULL);
	member_list_release(NULL);
}

static void checksum_known_values_stable(void **state)
{
	struct member a = sample();
	struct member b = {
		.source = "manual",
		.email = "zo\xc3\xab@example.com",
		.given_name = "Zo\xc3\xab",
		.state = MEMBER_WAITING,
	};

	(void)state;
	/* Computed independently from the FNV-1a 64 definition. */
	assert_true(member_checksum(&a) == UINT64_C(0xe9c7bc55c5dd0353));
	assert_true(member_checksum(&b) == UINT64_C(0x8b7a9714dcaa61e9));
}

static void checksum_null_differs_from_empty(void **state)
{
	struct member with_null = sample();
	struct member with_empty = sample();

	(void)state;
	with_null.given_name = NULL;
	with_empty.given_name = "";
	assert_true(member_checksum(&with_null) != member_checksum(&with_empty));
}

static void checksum_keeps_field_boundaries(void **state)
{
	struct member a = sample();
	struct member b = sample();

	(void)state;
	a.given_name = "Ad";
	a.family_name = "aLovelace";
	b.given_name = "Ada";
	b.family_name = "Lovelace";
	assert_true(member_checksum(&a) != member_checksum(&b));
}

static void checksum_covers_owned_fields(void **state)
{
	struct member base = sample();
	uint64_t reference = member_checksum(&base);
	char **fields[] = {
		&base.source, &base.external_id, &base.email, &base.user_name,
		&base.given_name, &base.family_name, &base.display_name, &base.provenance,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *saved = *fields[i];

		*fields[i] = "changed";
		assert_true(member_checksum(&base) != reference);
		*fields[i] = saved;
	}

	base.email = "ada@example.com";
	assert_true(member_checksum(&base) != reference);
	base.email = "Ada@Example.com";

	base.state = MEMBER_UNASSIGNED;
	assert_true(member_checksum(&base) != reference);
}

static void checksum_ignores_ids_and_times(void **state)
{
	struct member a = sample();
	struct member b = sample();

	(void)state;
	b.id = 99;
	b.created_at = 1;
	b.updated_at = 2;
	b.state_since = 3;
	b.drifted = true;
	assert_true(member_checksum(&a) == member_checksum(&b));
}

static void list_add_copies_member(void **state)
{
	struct member_list list;
	struct member m = sample();

	(void)state;
	member_list_init(&list);
	for (int i = 0; i < 40; i++) {
		m.id = i + 1;
		assert_true(member_list_add(&list, &m));
	}

	assert_int_equal(list.count, 40);
	assert_true(list.capacity >= 40);
	assert_int_equal(list.items[39].id, 40);
	assert_string_equal(list.items[39].email, "Ada@Example.com");
	assert_ptr_not_equal(list.items[0].email, m.email);

	member_list_release(&list);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
}

static void list_add_copies_into_pool(void **state)
{
	struct member_list list;
	struct member src = sample();

	(void)state;
	member_list_init(&list);

	assert_true(member_list_add(&list, &src));
	assert_int_equal(list.count, 1);
	assert_ptr_not_equal(list.items[0].email, src.email);
	assert_string_equal(list.items[0].email, src.email);
	assert_string_equal(list.items[0].external_id, src.external_id);
	assert_int_equal(list.items[0].id, src.id);
	assert_int_equal(list.items[0].state, src.state);

	member_list_release(&list);
	assert_int_equal(list.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_names_round_trip),
		cmocka_unit_test(state_parse_rejects_unknown),
		cmocka_unit_test(copy_is_deep),
		cmocka_unit_test(release_accepts_null),
		cmocka_unit_test(checksum_known_values_stable),
		cmocka_unit_test(checksum_null_differs_from_empty),
		cmocka_unit_test(checksum_keeps_field_boundaries),
		cmocka_unit_test(checksum_covers_owned_fields),
		cmocka_unit_test(checksum_ignores_ids_and_times),
		cmocka_unit_test(list_add_copies_member),
		cmocka_unit_test(list_add_copies_into_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
