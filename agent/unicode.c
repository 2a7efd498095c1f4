/*
 * unicode.c - classifying, trimming and measuring UTF-8 text; see unicode.h.
 */
#include <string.h>

#include "unicode.h"

/* An inclusive range of code points. */
struct code_range {
	uint32_t first;
	uint32_t last;
};

static bool in_ranges(uint32_t code, const struct code_range *ranges, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (code >= ranges[i].first && code <= ranges[i].last)
			return true;
	}
	return false;
}

#define IN_RANGES(code, ranges) in_ranges(code, ranges, sizeof(ranges) / sizeof(ranges[0]))

size_t unicode_decode(const char *text, uint32_t *code)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len;

	*code = 0;
	if (p[0] < 0x80) {
		*code = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, *code = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, *code = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, *code = p[0] & 0x07;
	else
		return 0;

	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*code = (*code << 6) | (p[i] & 0x3f);
	}

	if ((len == 3 && *code < 0x800) || (len == 4 && (*code < 0x10000 || *code > 0x10ffff)))
		return 0;
	if (*code >= 0xd800 && *code <= 0xdfff)
		return 0;
	return len;
}

bool unicode_is_blank(uint32_t code)
{
	static const struct code_range blanks[] = {
		{ 0x09, 0x0d }, { 0x20, 0x20 }, { 0x85, 0x85 }, { 0xa0, 0xa0 },
		{ 0x1680, 0x1680 }, { 0x180e, 0x180e }, { 0x2000, 0x200b },
		{ 0x2028, 0x2029 }, { 0x202f, 0x202f }, { 0x205f, 0x2060 },
		{ 0x3000, 0x3000 }, { 0xfeff, 0xfeff },
	};

	return IN_RANGES(code, blanks);
}

bool unicode_is_invisible(uint32_t code)
{
	static const struct code_range marks[] = {
		{ 0xad, 0xad }, { 0x034f, 0x034f }, { 0x061c, 0x061c },
		{ 0x200c, 0x200f }, { 0x202a, 0x202e }, { 0x2061, 0x2064 },
		{ 0x2066, 0x206f }, { 0xfe00, 0xfe0f }, { 0xfff9, 0xfffb },
		{ 0xe0000, 0xe0fff },
	};

	return unicode_is_blank(code) || IN_RANGES(code, marks);
}

/* Returns the start of the character that ends just before end. */
static const char *previous_character(const char *start, const char *end)
{
	const char *p = end - 1;

	while (p > start && ((unsigned char)*p & 0xc0) == 0x80)
		p--;
	return p;
}

const char *unicode_trim(const char *text, const char **end)
{
	const char *stop = text + strlen(text);
	uint32_t code;
	size_t len;

	while (*text && (len = unicode_decode(text, &code)) > 0 && unicode_is_blank(code))
		text += len;

	while (stop > text) {
		const char *last = previous_character(text, stop);

		if (unicode_decode(last, &code) == 0 || !unicode_is_blank(code))
			break;
		stop = last;
	}
	*end = stop;
	return text;
}

/*
 * Returns true for East Asian wide and full-width characters, and for
 * emoji shown two columns wide.
 */
static bool is_wide(uint32_t code)
{
	static const struct code_range wide[] = {
		{ 0x1100, 0x115f }, { 0x231a, 0x231b }, { 0x2329, 0x232a }, { 0x23e9, 0x23ec },
		{ 0x2614, 0x2615 }, { 0x2648, 0x2653 }, { 0x26a1, 0x26a1 }, { 0x26aa, 0x26ab },
		{ 0x26bd, 0x26be }, { 0x26c4, 0x26c5 }, { 0x26d4, 0x26d4 }, { 0x26ea, 0x26ea },
		{ 0x26f2, 0x26f5 }, { 0x26fa, 0x26fd }, { 0x2705, 0x2705 }, { 0x270a, 0x270b },
		{ 0x2728, 0x2728 }, { 0x274c, 0x274c }, { 0x2753, 0x2755 }, { 0x2757, 0x2757 },
		{ 0x2795, 0x2797 }, { 0x27b0, 0x27b0 }, { 0x27bf, 0x27bf }, { 0x2b1b, 0x2b1c },
		{ 0x2b50, 0x2b50 }, { 0x2b55, 0x2b55 }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff },
		{ 0x3400, 0x4dbf }, { 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xa960, 0xa97f },
		{ 0xac00, 0xd7a3 }, { 0xf900, 0xfaff }, { 0xfe10, 0xfe19 }, { 0xfe30, 0xfe6f },
		{ 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x16fe0, 0x16fe4 }, { 0x17000, 0x18cff },
		{ 0x1b000, 0x1b2ff }, { 0x1f004, 0x1f004 }, { 0x1f0cf, 0x1f0cf }, { 0x1f18e, 0x1f18e },
		{ 0x1f191, 0x1f19a }, { 0x1f200, 0x1f251 }, { 0x1f300, 0x1f64f }, { 0x1f680, 0x1f6ff },
		{ 0x1f7e0, 0x1f7eb }, { 0x1f90c, 0x1f9ff }, { 0x1fa70, 0x1faff }, { 0x20000, 0x2fffd },
		{ 0x30000, 0x3fffd },
	};

	return IN_RANGES(code, wide);
}

/* Returns true for combining marks, which print over the character before them. */
static bool is_combining(uint32_t code)
{
	static const struct code_range combining[] = {
		{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05bd }, { 0x0610, 0x061a },
		{ 0x064b, 0x065f }, { 0x0670, 0x0670 }, { 0x06d6, 0x06dc }, { 0x06df, 0x06e4 },
		{ 0x0900, 0x0902 }, { 0x093c, 0x093c }, { 0x0941, 0x0948 }, { 0x094d, 0x094d },
		{ 0x0e31, 0x0e31 }, { 0x0e34, 0x0e3a }, { 0x0e47, 0x0e4e }, { 0x1ab0, 0x1aff },
		{ 0x1dc0, 0x1dff }, { 0x20d0, 0x20ff }, { 0x302a, 0x302f }, { 0x3099, 0x309a },
		{ 0xfe20, 0xfe2f },
	};

	return IN_RANGES(code, combining);
}

size_t unicode_width(const char *text)
{
	size_t width = 0;

	while (*text) {
		uint32_t code;
		size_t len = unicode_decode(text, &code);

		if (len == 0) {
			width++;
			text++;
			continue;
		}
		if (is_wide(code))
			width += 2;
		else if (code >= 0x20 && !is_combining(code) &&
			 (code == 0x20 || !unicode_is_invisible(code)))
			width++;
		text += len;
	}
	return width;
}

/*
 * Lower-cases code in the scripts of most names: Latin-1, Latin Extended-A,
 * Greek and Cyrillic.  Other characters are returned unchanged.
 */
uint32_t unicode_lower(uint32_t code)
{
	if (code < 0x80)
		return code >= 'A' && code <= 'Z' ? code + 0x20 : code;
	if (code >= 0xC0 && code <= 0xDE && code != 0xD7)
		return code + 0x20;
	if (code == 0x178)
		return 0xFF;
	if ((code >= 0x100 && code <= 0x12F) || (code >= 0x132 && code <= 0x137) ||
	    (code >= 0x14A && code <= 0x177))
		return code | 1;
	if ((code >= 0x139 && code <= 0x148) || (code >= 0x179 && code <= 0x17E))
		return (code & 1) ? code + 1 : code;
	if (code >= 0x391 && code <= 0x3AB && code != 0x3A2)
		return code + 0x20;
	if (code >= 0x410 && code <= 0x42F)
		return code + 0x20;
	if (code >= 0x400 && code <= 0x40F)
		return code + 0x50;
	return code;
}

/* Reads the character at *p, lower-cased, and moves *p past it; an invalid byte reads as itself. */
static uint32_t next_lower(const char **p)
{
	uint32_t code;
	size_t len = unicode_decode(*p, &code);

	if (len == 0) {
		code = (unsigned char)**p;
		len = 1;
	}
	*p += len;
	return unicode_lower(code);
}

int unicode_compare_lower(const char *a, const char *b)
{
	for (;;) {
		uint32_t x = (unsigned char)*a;
		uint32_t y = (unsigned char)*b;

		/* ASCII, nearly every address, without decoding; the order is the same. */
		if (x < 0x80 && y < 0x80) {
			x = x >= 'A' && x <= 'Z' ? x + 0x20 : x;
			y = y >= 'A' && y <= 'Z' ? y + 0x20 : y;
			if (x != y)
				return x < y ? -1 : 1;
			if (x == 0)
				return 0;
			a++;
			b++;
			continue;
		}
		x = next_lower(&a);
		y = next_lower(&b);
		if (x != y)
			return x < y ? -1 : 1;
	}
}
