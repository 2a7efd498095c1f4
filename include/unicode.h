/*
 * unicode.h - facts about UTF-8 text that the IdP sends and the tables show.
 *
 * IdP profiles are typed or pasted by people, so they carry no-break
 * spaces, zero-width spaces and byte order marks that print as nothing.
 * These functions find such characters, trim them, and measure how many
 * terminal columns a text takes.  Every text passed in must be valid UTF-8.
 */
#ifndef ROSTERSYNC_UNICODE_H
#define ROSTERSYNC_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the UTF-8 sequence at p into *code.  Returns its length in bytes
 * (1 to 4), or 0 when it is not valid UTF-8: overlong, a surrogate, above
 * U+10FFFF, or cut short.  *code is 0 or a partial value then.
 */
size_t unicode_decode(const char *p, uint32_t *code);

/*
 * Returns true for white space (ASCII, no-break, the U+2000 block, ideographic
 * and line separators) and for characters of no width that
 * separate words (U+200B, U+2060, U+FEFF).
 */
bool unicode_is_blank(uint32_t code);

/*
 * Returns true for a character that prints as nothing or as a space:
 * blanks, the soft hyphen, joiners, and direction marks and overrides.
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

#endif
