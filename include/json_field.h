/*
 * json_field.h - checks shared by the Okta and Graph response parsers:
 * the raw JSON text before cJSON parses it, and typed reads of object
 * members that log the element and field when a value is invalid.
 *
 * Every reader returns true when the member is usable and false after
 * logging one error line through json_field_error().  An absent or null
 * member is usable and sets *out to NULL, except for json_field_id().  A
 * string stored in *out belongs to the cJSON tree and lives as long as it.
 */
#ifndef ROSTERSYNC_JSON_FIELD_H
#define ROSTERSYNC_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Maximum JSON nesting depth.  Okta app users and Graph $batch responses nest about six levels. */
#define JSON_FIELD_MAX_DEPTH 64

/* Location of a parse error, for its log line.  The strings are borrowed. */
struct json_element {
	const char *where;   /* "response", "app users page 3 (request id X)" */
	const char *kind;    /* "app user", "assignment", "user" */
	size_t index;        /* position in the page array, from 0 */
	bool has_index;
	const char *id;      /* NULL until the id was read */
};

/* Logs "WHERE: KIND[ INDEX][ (ID)]: MESSAGE" at LOG_ERROR. */
void json_field_error(const struct json_element *element, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

/* Returns the JSON type of item with its article ("a string", "null") for messages. */
const char *json_field_type_name(const cJSON *item);

/*
 * Checks body for what cJSON would accept or silently change: nesting
 * deeper than JSON_FIELD_MAX_DEPTH, raw control characters in strings
 * (RFC 8259 forbids them) and the \u0000 escape, which would end a C
 * string early.  Logs with where and returns false on the first one.
 */
bool json_field_check_text(const char *where, const char *body, size_t len);

/*
 * Parses body into a new cJSON tree.  The body must hold one JSON value of
 * type want (cJSON_Array or cJSON_Object), with only white space after it,
 * and pass json_field_check_text().  Otherwise this logs one line with
 * where and returns NULL.
 */
cJSON *json_field_parse(const char *where, const char *body, size_t len, int want);

/* Returns true when text contains only the bytes '!' to '~' (true for ""). */
bool json_field_printable_ascii(const char *text);

/*
 * Reads the string member key of object (object may be NULL) into *out.
 * Rejects another type, more than max bytes, or text that is not valid
 * UTF-8 or contains control characters.  path names the field in messages.
 */
bool json_field_string(const struct json_element *element, const cJSON *object,
		       const char *key, const char *path, size_t max, const char **out);

/*
 * Reads a profile text (name, login, email) like json_field_string() with
 * IDENTITY_MAX_TEXT.  A control character, such as a tab or line break
 * pasted into a profile, becomes a space in the tree instead of failing
 * the read.  Surrounding spaces are trimmed later, and an email that is
 * still invalid skips that user.  Invalid UTF-8 still fails the read.
 */
bool json_field_text(const struct json_element *element, const cJSON *object,
		     const char *key, const char *path, const char **out);

/* Reads a required id: 1 to IDENTITY_MAX_ID printable ASCII bytes.  Absent is an error. */
bool json_field_id(const struct json_element *element, const cJSON *object, const char *key,
		   const char *path, const char **out);

/* Reads an optional short code (status, type name): at most max printable ASCII bytes. */
bool json_field_ascii(const struct json_element *element, const cJSON *object,
		      const char *key, const char *path, size_t max, const char **out);

#endif
