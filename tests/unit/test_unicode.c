/*
 * test_unicode.c - decoding, blank and invisible characters, trimming and
 * column widths of UTF-8 text.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "identity.h"
#include "unicode.h"

static void decode_accepts_valid_and_rejects_invalid(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		uint32_t code;
	} cases[] = {
		{ "A", 1, 0x41 },
		{ "\xc3\xa9", 2, 0xe9 },
		{ "\xe2\x80\x8b", 3, 0x200b },
		{ "\xf0\x9f\x98\x80", 4, 0x1f600 },
		{ "\xc0\xaf", 0, 0 },          /* overlong */
		{ "\xed\xa0\x80", 0, 0 },      /* surrogate */
		{ "\xf4\x90\x80\x80", 0, 0 },  /* above U+10FFFF */
		{ "\xe2\x80", 0, 0 },          /* cut short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t code = 0;
		size_t len = unicode_decode(cases[i].text, &code);

		if (len != cases[i].len || (len > 0 && code != cases[i].code))
			fail_msg("case %zu: got length %zu, code U+%04X", i, len, (unsigned)code);
	}
}

static void blank_and_invisible_characters(void **state)
{
	static const uint32_t blank[] = { 0x20, 0x09, 0xa0, 0x2003, 0x200b, 0x202f, 0x3000, 0xfeff };
	static const uint32_t invisible_only[] = { 0xad, 0x200d, 0x200e, 0x202e, 0x2066 };
	static const uint32_t visible[] = { 0x41, 0xe9, 0x2010, 0x4e2d, 0x1f600 };

	(void)state;
	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		assert_true(unicode_is_blank(blank[i]));
		assert_true(unicode_is_invisible(blank[i]));
	}
	for (size_t i = 0; i < sizeof(invisible_only) / sizeof(invisible_only[0]); i++) {
		assert_false(unicode_is_blank(invisible_only[i]));
		assert_true(unicode_is_invisible(invisible_only[i]));
	}
	for (size_t i = 0; i < sizeof(visible) / sizeof(visible[0]); i++)
		assert_false(unicode_is_invisible(visible[i]));
}

static void trim_cuts_blanks_at_both_ends_only(void **state)
{
	static const struct {
		const char *text;
		const char *trimmed;
	} cases[] = {
		{ "v@example.com\xc2\xa0", "v@example.com" },
		{ "\xef\xbb\xbf" "Ada \xe2\x80\x8b", "Ada" },
		{ "  Mary\xc2\xa0" "Ann\t", "Mary\xc2\xa0" "Ann" },
		{ "\xe3\x80\x80\xe5\xb1\xb1\xe7\x94\xb0\xe3\x80\x80", "\xe5\xb1\xb1\xe7\x94\xb0" },
		{ "\xc2\xa0\xe2\x80\x8b ", "" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *end;
		const char *start = unicode_trim(cases[i].text, &end);
		size_t len = strlen(cases[i].trimmed);

		if ((size_t)(end - start) != len || memcmp(start, cases[i].trimmed, len) != 0)
			fail_msg("case %zu: got \"%.*s\"", i, (int)(end - start), start);
	}
}

static void email_with_invisible_character_is_invalid(void **state)
{
	(void)state;
	assert_true(identity_email_valid("v@example.com"));
	assert_true(identity_email_valid("j\xc3\xb6rg@b\xc3\xbc" "cher.example"));
	assert_false(identity_email_valid("v\xe2\x80\x8b@example.com"));
	assert_false(identity_email_valid("v@example.com\xc2\xa0"));
	assert_false(identity_email_valid("v@exa\xc2\xad" "mple.com"));
	assert_false(identity_email_valid("v@example.com\xe2\x80\x8e"));
}

static void trim_dup_drops_pasted_blanks(void **state)
{
	char *text;

	(void)state;
	text = identity_trim_dup("\xc2\xa0v@example.com\xe2\x80\x8b");
	assert_string_equal(text, "v@example.com");
	free(text);
	assert_null(identity_trim_dup("\xef\xbb\xbf\xc2\xa0"));
}

static void email_compare_folds_case(void **state)
{
	static const struct {
		const char *a;
		const char *b;
		int sign;
	} cases[] = {
		{ "ADA@EXAMPLE.COM", "ada@example.com", 0 },
		{ "\xc3\x85SA@EXAMPLE.COM", "\xc3\xa5sa@example.com", 0 },         /* Åsa, åsa */
		{ "J\xc3\x96RG@EX\xc3\x84MPLE.COM", "j\xc3\xb6rg@ex\xc3\xa4mple.com", 0 },
		{ "\xc5\x81UKASZ@X.PL", "\xc5\x82ukasz@x.pl", 0 },               /* Łukasz */
		{ "\xc5\xbd" "ANA@X.CZ", "\xc5\xbe" "ana@x.cz", 0 },                   /* Žana */
		{ "\xc5\xb8@X.FR", "\xc3\xbf@x.fr", 0 },                          /* Ÿ, ÿ */
		{ "\xce\x91\xce\xa9@X.GR", "\xce\xb1\xcf\x89@x.gr", 0 },         /* ΑΩ, αω */
		{ "\xd0\x90\xd0\xaf@X.RU", "\xd0\xb0\xd1\x8f@x.ru", 0 },         /* АЯ, ая */
		{ "\xd0\x81@X.RU", "\xd1\x91@x.ru", 0 },                           /* Ё, ё */
		{ "\xc3\x97@x.com", "\xc3\xb7@x.com", -1 },                        /* × is no letter */
		{ "ada@example.com", "adam@example.com", -1 },
		{ "b@example.com", "A@example.com", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int order = unicode_compare_lower(cases[i].a, cases[i].b);

		assert_int_equal((order > 0) - (order < 0), cases[i].sign);
		order = unicode_compare_lower(cases[i].b, cases[i].a);
		assert_int_equal((order > 0) - (order < 0), -cases[i].sign);
	}
}

static void email_with_combining_accent_is_invalid(void **state)
{
	(void)state;
	assert_string_equal(identity_email_problem("jo\xcc\x88rg@example.com"),
			    "it holds a combining accent, so an accented letter is written as two "
			    "characters (Unicode NFD); write it as one character (NFC)");
	assert_null(identity_email_problem("j\xc3\xb6rg@example.com"));
}

static void width_counts_terminal_columns(void **state)
{
	(void)state;
	assert_int_equal(unicode_width("Emile"), 5);
	assert_int_equal(unicode_width("\xc3\x89mile"), 5);                /* precomposed */
	assert_int_equal(unicode_width("E\xcc\x81mile"), 5);               /* combining */
	assert_int_equal(unicode_width("\xe5\xb1\xb1\xe7\x94\xb0"), 4);    /* two CJK */
	assert_int_equal(unicode_width("\xf0\x9f\x98\x80 Ada"), 6);        /* emoji */
	assert_int_equal(unicode_width("v@example.com\xe2\x80\x8b"), 13);  /* zero width */
	assert_int_equal(unicode_width("\xd8\xb9\xd9\x84\xd9\x8a"), 3);    /* Arabic */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_accepts_valid_and_rejects_invalid),
		cmocka_unit_test(blank_and_invisible_characters),
		cmocka_unit_test(trim_cuts_blanks_at_both_ends_only),
		cmocka_unit_test(email_with_invisible_character_is_invalid),
		cmocka_unit_test(trim_dup_drops_pasted_blanks),
		cmocka_unit_test(width_counts_terminal_columns),
		cmocka_unit_test(email_compare_folds_case),
		cmocka_unit_test(email_with_combining_accent_is_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
