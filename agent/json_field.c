/*
 * json_field.c - JSON text checks and typed member reads shared by the
 * Okta and Graph parsers.  The contracts are in json_field.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity.h"
#include "json_field.h"
#include "log.h"
#include "logline.h"

void json_field_error(const struct json_element *element, const char *format, ...)
{
	char message[1024];
	char index[32] = "";
	va_list args;

	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);

	if (element->has_index)
		snprintf(index, sizeof(index), " %zu", element->index);
	if (element->id)
		log_msg(LOG_ERROR, "%s: %s%s (%s): %s", element->where, element->kind, index,
			element->id, message);
	else
		log_msg(LOG_ERROR, "%s: %s%s: %s", element->where, element->kind, index, message);
}

const char *json_field_type_name(const cJSON *item)
{
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	if (cJSON_IsNull(item))
		return "null";
	return "not a JSON value";
}

/* ---- JSON text ---- */

/* True when p (a backslash) starts the escape \u0000. */
static bool escape_is_nul(const char *p, size_t left)
{
	if (left < 6 || p[1] != 'u')
		return false;
	for (int i = 2; i < 6; i++) {
		if (p[i] != '0')
			return false;
	}
	return true;
}

/*
 * Byte classes for the scan below.  Most bytes of a page are plain text
 * inside strings or between tokens, so the scan skips them with one table
 * load each and stops only at the bytes it must look at.
 */
enum {
	SCAN_PLAIN = 0,
	SCAN_QUOTE,
	SCAN_BACKSLASH,
	SCAN_CONTROL,
	SCAN_OPEN,
	SCAN_CLOSE,
};

static const unsigned char scan_class[256] = {
	[0x00 ... 0x1f] = SCAN_CONTROL,
	['"'] = SCAN_QUOTE,
	['\\'] = SCAN_BACKSLASH,
	['['] = SCAN_OPEN,
	['{'] = SCAN_OPEN,
	[']'] = SCAN_CLOSE,
	['}'] = SCAN_CLOSE,
};

/* Returns the index of the first byte from i on whose class is not SCAN_PLAIN, or len. */
static size_t skip_plain(const unsigned char *body, size_t len, size_t i)
{
	while (i < len && scan_class[body[i]] == SCAN_PLAIN)
		i++;
	return i;
}

/*
 * Scans the string whose opening quote is at i.  Returns the index of its
 * closing quote, or len when the body ends inside it (cJSON reports that).
 * Returns (size_t)-1 after logging a control character or \u0000.
 */
static size_t scan_string(const char *where, const char *body, size_t len, size_t i)
{
	const unsigned char *bytes = (const unsigned char *)body;

	for (i = skip_plain(bytes, len, i + 1); i < len; i = skip_plain(bytes, len, i + 1)) {
		unsigned char class = scan_class[bytes[i]];

		if (class == SCAN_QUOTE)
			return i;
		if (class == SCAN_CONTROL) {
			log_msg(LOG_ERROR, "%s: invalid JSON at byte %zu: control character in a"
				" string", where, i);
			return (size_t)-1;
		}
		if (class == SCAN_BACKSLASH) {
			if (escape_is_nul(body + i, len - i)) {
				log_msg(LOG_ERROR, "%s: a JSON string contains \\u0000 at byte %zu",
					where, i);
				return (size_t)-1;
			}
			i++;
		}
	}
	return len;
}

bool json_field_check_text(const char *where, const char *body, size_t len)
{
	const unsigned char *bytes = (const unsigned char *)body;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char class = scan_class[bytes[i]];

		if (class == SCAN_QUOTE) {
			i = scan_string(where, body, len, i);
			if (i == (size_t)-1)
				return false;
		} else if (class == SCAN_OPEN) {
			if (++depth > JSON_FIELD_MAX_DEPTH) {
				log_msg(LOG_ERROR,
					"%s: JSON nested deeper than %d levels at byte %zu", where,
					JSON_FIELD_MAX_DEPTH, i);
				return false;
			}
		} else if (class == SCAN_CLOSE) {
			depth--;
		}
	}
	return true;
}

/* Returns the first byte from p that is not JSON white space, or end. */
static const char *skip_white_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static const char *json_type_words(int type)
{
	return type == cJSON_Array ? "a JSON array" : "a JSON object";
}

cJSON *json_field_parse(const char *where, const char *body, size_t len, int want)
{
	const char *end = NULL;
	cJSON *root;

	if (!body || len == 0) {
		log_msg(LOG_ERROR, "%s: empty body, expected %s", where, json_type_words(want));
		return NULL;
	}
	if (!json_field_check_text(where, body, len))
		return NULL;

	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!root) {
		size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : len;
		struct log_line line = { "", 0 };

		/* The start of the body shows at once an HTML page or a binary body. */
		log_line_add(&line, "%s: invalid JSON at byte %zu; the body starts", where, at);
		log_line_add_excerpt(&line, body, len < 80 ? len : 80);
		log_msg(LOG_ERROR, "%s", line.text);
		return NULL;
	}
	if (end && skip_white_space(end, body + len) != body + len) {
		log_msg(LOG_ERROR, "%s: invalid JSON at byte %zu: text after the JSON value", where,
			(size_t)(skip_white_space(end, body + len) - body));
		cJSON_Delete(root);
		return NULL;
	}
	if ((root->type & 0xff) != want) {
		log_msg(LOG_ERROR, "%s: the body is %s, expected %s", where,
			json_field_type_name(root), json_type_words(want));
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ---- fields ---- */

bool json_field_printable_ascii(const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p < '!' || *p > '~')
			return false;
	}
	return true;
}

/*
 * Sets *item to the string member key of object, or NULL when it is absent
 * or null.  Returns false after logging when it is another type or longer
 * than max bytes.
 */
static bool string_member(const struct json_element *element, const cJSON *object,
			  const char *key, const char *path, size_t max, const cJSON **item)
{
	*item = object ? cJSON_GetObjectItemCaseSensitive(object, key) : NULL;
	if (!*item || cJSON_IsNull(*item)) {
		*item = NULL;
		return true;
	}
	if (!cJSON_IsString(*item) || !(*item)->valuestring) {
		json_field_error(element, "%s is %s, expected a string", path,
				 json_field_type_name(*item));
		return false;
	}
	if (strlen((*item)->valuestring) > max) {
		json_field_error(element, "%s is longer than %zu bytes: shorten it in the IdP; until"
				 " then every read stops here and the roster stays as it is", path,
				 max);
		return false;
	}
	return true;
}

bool json_field_string(const struct json_element *element, const cJSON *object,
		       const char *key, const char *path, size_t max, const char **out)
{
	const cJSON *item;

	*out = NULL;
	if (!string_member(element, object, key, path, max, &item))
		return false;
	if (item && !identity_text_valid(item->valuestring)) {
		json_field_error(element, "%s is not valid UTF-8 or contains control characters",
				 path);
		return false;
	}
	*out = item ? item->valuestring : NULL;
	return true;
}

bool json_field_text(const struct json_element *element, const cJSON *object,
		     const char *key, const char *path, const char **out)
{
	const cJSON *item;

	*out = NULL;
	if (!string_member(element, object, key, path, IDENTITY_MAX_TEXT, &item))
		return false;
	if (item && !identity_text_blank_controls(item->valuestring)) {
		json_field_error(element, "%s is not valid UTF-8", path);
		return false;
	}
	*out = item ? item->valuestring : NULL;
	return true;
}

/* Printable ASCII is valid UTF-8 without control characters, so one check does. */
bool json_field_id(const struct json_element *element, const cJSON *object, const char *key,
		   const char *path, const char **out)
{
	const cJSON *item;

	*out = NULL;
	if (!string_member(element, object, key, path, IDENTITY_MAX_TEXT, &item))
		return false;
	if (!item) {
		json_field_error(element, "%s is missing", path);
		return false;
	}
	if (item->valuestring[0] == '\0' || strlen(item->valuestring) > IDENTITY_MAX_ID ||
	    !json_field_printable_ascii(item->valuestring)) {
		json_field_error(element, "%s is not 1 to %d printable ASCII characters", path,
				 IDENTITY_MAX_ID);
		return false;
	}
	*out = item->valuestring;
	return true;
}

bool json_field_ascii(const struct json_element *element, const cJSON *object,
		      const char *key, const char *path, size_t max, const char **out)
{
	if (!json_field_string(element, object, key, path, max, out))
		return false;
	if (*out && !json_field_printable_ascii(*out)) {
		json_field_error(element, "%s is not printable ASCII", path);
		*out = NULL;
		return false;
	}
	return true;
}
