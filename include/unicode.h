/*
 * unicode.h - classifying, trimming and measuring the UTF-8 text of IdP
 * profiles.
 *
 * People type or paste profile values, so the values can carry no-break
 * spaces, zero-width spaces and byte order marks.  These functions find
 * such characters, trim them, and count the terminal columns of a text.
 * An invalid byte ends trimming and counts as one column.
 */
#ifndef ROSTERSYNC_UNICODE_H
#define ROSTERSYNC_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the UTF-8 sequence at p into *code.  Returns its length in bytes
 * (1 to 4), or 0 when it is not valid UTF-8: overlong, a surrogate, above
 * U+10FFFF, or cut short.  Then *code is 0 or a partial value.
 */
size_t unicode_decode(const char *p, uint32_t *code);

/*
 * Returns true for white space (ASCII, no-break, U+2000 to U+200A,
 * ideographic, line and paragraph separators) and for the zero-width
 * characters U+200B, U+2060 and U+FEFF.
 */
bool unicode_is_blank(uint32_t code);

/*
 * Returns true for a character that prints as nothing or as a space:
 * blanks, the soft hyphen, joiners, variation selectors, and direction
 * marks and overrides.
 */
bool unicode_is_invisible(uint32_t code);

/*
 * Returns the first byte of text that is not blank, and sets *end to the
 * byte after its last character that is not blank (so *end == start when
 * text is all blank).
 */
const char *unicode_trim(const char *text, const char **end);

/*
 * Returns the number of terminal columns text takes: 2 for East Asian wide
 * characters and emoji, 0 for combining marks and invisible characters,
 * and 1 for the rest.
 */
size_t unicode_width(const char *text);

/*
 * Returns the lower-case form of code for the scripts of most names
 * (Latin-1, Latin Extended-A, Greek, Cyrillic), and code itself for the
 * other characters.
 */
uint32_t unicode_lower(uint32_t code);

/*
 * Compares a and b character by character after unicode_lower(), like
 * strcasecmp() with those scripts folded too.  Bytes that are not valid
 * UTF-8 compare as themselves.
 */
int unicode_compare_lower(const char *a, const char *b);

#endif
