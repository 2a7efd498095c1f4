/*
 * identity.c - the normalised identity set and the checks on its strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "log.h"
#include "progress.h"
#include "sort.h"
#include "unicode.h"

/* Frees what an identity in a set owns alone: its groups. */
static void identity_release_groups(struct identity *identity)
{
	for (size_t i = 0; i < identity->group_count; i++)
		free(identity->groups[i]);
	free(identity->groups);
	identity->groups = NULL;
	identity->group_count = 0;
}

void identity_release(struct identity *identity)
{
	if (!identity)
		return;
	free(identity->external_id);
	free(identity->user_name);
	free(identity->email);
	free(identity->given_name);
	free(identity->family_name);
	free(identity->display_name);
	free(identity->status);
	identity_release_groups(identity);
	memset(identity, 0, sizeof(*identity));
}

void identity_set_init(struct identity_set *set)
{
	memset(set, 0, sizeof(*set));
	strpool_init(&set->strings);
}

void identity_set_drop_items(struct identity_set *set)
{
	free(set->not_found);
	set->not_found = NULL;
	for (size_t i = 0; set->items && i < set->count; i++)
		identity_release_groups(&set->items[i]);
	free(set->items);
	set->items = NULL;
	set->capacity = 0;
}

void identity_set_release(struct identity_set *set)
{
	identity_set_drop_items(set);
	strpool_release(&set->strings);
	identity_set_init(set);
}

static bool set_reserve(struct identity_set *set)
{
	struct identity *items;
	size_t capacity;

	if (set->count < set->capacity)
		return true;

	capacity = set->capacity ? set->capacity * 2 : 256;
	items = realloc(set->items, capacity * sizeof(*items));
	if (!items)
		return false;

	set->items = items;
	set->capacity = capacity;
	return true;
}

/* Copies one text field into the pool; NULL stays NULL.  False when memory runs out. */
static bool copy_text(struct strpool *pool, char **field, const char *text)
{
	*field = strpool_dup(pool, text);
	return *field || !text;
}

/*
 * Copies text into the pool unless it equals shared, a copy already in the
 * pool, which is then used instead.  Pooled strings are never changed or
 * freed alone, so two fields may point at one copy.
 */
static bool copy_or_share(struct strpool *pool, char **field, const char *text, char *shared)
{
	if (text && shared && strcmp(text, shared) == 0) {
		*field = shared;
		return true;
	}
	return copy_text(pool, field, text);
}

/*
 * Copies the text fields of src into the pool.  The email shares the user
 * name's copy when they are equal (an Entra mail that is the
 * userPrincipalName, an Okta email that is the login), and the status
 * shares the previous identity's copy, because most users have the same
 * status.  At 100,000 users that saves about 2.5 MB.
 */
static bool copy_strings(struct identity_set *set, struct identity *dst,
			 const struct identity *src)
{
	struct strpool *pool = &set->strings;
	char *previous_status = set->count > 0 ? set->items[set->count - 1].status : NULL;

	return copy_text(pool, &dst->external_id, src->external_id) &&
	       copy_text(pool, &dst->user_name, src->user_name) &&
	       copy_or_share(pool, &dst->email, src->email, dst->user_name) &&
	       copy_text(pool, &dst->given_name, src->given_name) &&
	       copy_text(pool, &dst->family_name, src->family_name) &&
	       copy_text(pool, &dst->display_name, src->display_name) &&
	       copy_or_share(pool, &dst->status, src->status, previous_status);
}

enum rs_err identity_set_add(struct identity_set *set, const struct identity *identity)
{
	struct identity copy = { 0 };

	if (!identity->external_id || !set_reserve(set))
		return RS_ERR_INTERNAL;

	copy.activity = identity->activity;
	copy.direct = identity->direct;
	if (!copy_strings(set, &copy, identity))
		return RS_ERR_INTERNAL;

	for (size_t i = 0; i < identity->group_count; i++) {
		if (identity_add_group(&copy, identity->groups[i]) != RS_OK) {
			identity_release_groups(&copy);
			return RS_ERR_INTERNAL;
		}
	}

	set->items[set->count++] = copy;
	progress_user();
	return RS_OK;
}

enum rs_err identity_add_group(struct identity *identity, const char *group)
{
	char **groups;
	size_t at = 0;

	while (at < identity->group_count) {
		int order = strcmp(identity->groups[at], group);

		if (order == 0)
			return RS_OK;
		if (order > 0)
			break;
		at++;
	}

	groups = realloc(identity->groups, (identity->group_count + 1) * sizeof(*groups));
	if (!groups)
		return RS_ERR_INTERNAL;
	identity->groups = groups;

	memmove(&groups[at + 1], &groups[at], (identity->group_count - at) * sizeof(*groups));
	groups[at] = strdup(group);
	if (!groups[at]) {
		memmove(&groups[at], &groups[at + 1], (identity->group_count - at) * sizeof(*groups));
		return RS_ERR_INTERNAL;
	}
	identity->group_count++;
	return RS_OK;
}

/* Gives back the unused end of the items array, up to half of it after doubling. */
static void shrink_items(struct identity_set *set)
{
	struct identity *items;

	if (set->capacity - set->count < 1024)
		return;
	items = realloc(set->items, set->count * sizeof(*items));
	if (!items)
		return;
	set->items = items;
	set->capacity = set->count;
}

/* Sorts by external_id; ties keep the order of arrival (index as key). */
static int compare_by_id(const void *a, const void *b)
{
	const struct identity *x = a;
	const struct identity *y = b;
	int order = strcmp(x->external_id, y->external_id);

	if (order != 0)
		return order;
	return (x->direct < y->direct) - (x->direct > y->direct);
}

static bool same_text(const char *a, const char *b, bool ignore_case)
{
	if (!a || !b)
		return a == b;
	return ignore_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

const char identity_status_conflict[] = "listed more than once with different data";

/* Logs how two records of one user disagree, naming only the fields that differ. */
static void warn_conflict(const struct identity *keep, const struct identity *dup)
{
	char status[160] = "";
	char email[600] = "";

	if (keep->activity != dup->activity || !same_text(keep->status, dup->status, false))
		snprintf(status, sizeof(status), " status %s and %s",
			 keep->status ? keep->status : "(none)", dup->status ? dup->status : "(none)");
	if (!same_text(keep->email, dup->email, true))
		snprintf(email, sizeof(email), "%s email %s and %s", status[0] ? "," : "",
			 keep->email ? keep->email : "(none)", dup->email ? dup->email : "(none)");
	log_msg(LOG_WARN, "user %s is listed more than once with different data:%s%s; its "
		"roster row, if any, is kept as it is until the IdP agrees", keep->external_id,
		status, email);
}

/*
 * Merges dup into keep.  Two records of one user that disagree on the
 * account status or the email cannot both be right: the user becomes
 * IDENTITY_UNKNOWN with the status identity_status_conflict, which keeps
 * the member as it is, with one warning however many records there are.
 */
static enum rs_err merge_into(struct identity *keep, struct identity *dup)
{
	bool conflict = keep->activity != dup->activity ||
			!same_text(keep->status, dup->status, false) ||
			!same_text(keep->email, dup->email, true);

	if (conflict && keep->status != identity_status_conflict) {
		warn_conflict(keep, dup);
		keep->activity = IDENTITY_UNKNOWN;
		keep->status = (char *)identity_status_conflict;
	}
	keep->direct = keep->direct || dup->direct;
	for (size_t i = 0; i < dup->group_count; i++) {
		if (identity_add_group(keep, dup->groups[i]) != RS_OK)
			return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

enum rs_err identity_set_add_not_found(struct identity_set *set, const char *external_id)
{
	char **grown = realloc(set->not_found, (set->not_found_count + 1) * sizeof(*grown));

	if (!grown)
		return RS_ERR_INTERNAL;
	set->not_found = grown;
	grown[set->not_found_count] = strpool_dup(&set->strings, external_id);
	if (!grown[set->not_found_count])
		return RS_ERR_INTERNAL;
	set->not_found_count++;
	return RS_OK;
}

static int compare_texts(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool identity_id_listed(char *const *ids, size_t count, const char *external_id)
{
	size_t low = 0;
	size_t high = count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int order = strcmp(ids[mid], external_id);

		if (order == 0)
			return true;
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return false;
}

enum rs_err identity_set_finish(struct identity_set *set)
{
	size_t out = 0;

	if (set->not_found_count > 1)
		qsort(set->not_found, set->not_found_count, sizeof(*set->not_found), compare_texts);

	if (set->count == 0)
		return RS_OK;

	sort_unless_sorted(set->items, set->count, sizeof(*set->items), compare_by_id);

	for (size_t i = 1; i < set->count; i++) {
		struct identity *keep = &set->items[out];

		if (strcmp(keep->external_id, set->items[i].external_id) == 0) {
			if (merge_into(keep, &set->items[i]) != RS_OK)
				return RS_ERR_INTERNAL;
			identity_release_groups(&set->items[i]);
			continue;
		}
		set->items[++out] = set->items[i];
	}
	set->count = out + 1;
	shrink_items(set);
	return RS_OK;
}

struct identity *identity_set_find(const struct identity_set *set, const char *external_id)
{
	size_t low = 0;
	size_t high = set->count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int order = strcmp(set->items[mid].external_id, external_id);

		if (order == 0)
			return &set->items[mid];
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

static bool email_char_allowed(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '<' && c != '>' && c != ',' &&
	       c != ';' && c != ':' && c != '"' && c != '(' && c != ')' && c != '[' &&
	       c != ']' && c != '\\';
}

/* Returns why the characters of text cannot form an address, or NULL. */
static const char *email_characters_problem(const char *text)
{
	for (const char *p = text; *p; p++) {
		uint32_t code;

		if (!email_char_allowed((unsigned char)*p))
			return "it holds a space or one of < > , ; : \" ( ) [ ] \\, as in a pasted "
			       "\"SMTP:\" prefix or display name";
		if ((unsigned char)*p >= 0x80 && unicode_decode(p, &code) > 0 &&
		    unicode_is_invisible(code))
			return "it holds a character that prints as nothing, such as a "
			       "zero-width space";
		if ((unsigned char)*p >= 0x80 && unicode_decode(p, &code) > 0 &&
		    code >= 0x300 && code <= 0x36F)
			return "it holds a combining accent, so an accented letter is written as "
			       "two characters (Unicode NFD); write it as one character (NFC)";
	}
	return NULL;
}

/* Returns why a name of domain starts or ends with a hyphen, or NULL. */
static const char *domain_hyphen_problem(const char *domain)
{
	for (const char *p = domain; *p; p++) {
		bool starts = p == domain || p[-1] == '.';
		bool ends = p[1] == '\0' || p[1] == '.';

		if (*p == '-' && (starts || ends))
			return "a name in the domain starts or ends with a hyphen";
	}
	return NULL;
}

const char *identity_email_problem(const char *text)
{
	const char *at;
	const char *dot;
	const char *problem;
	size_t len = text ? strlen(text) : 0;

	if (len < 3)
		return "it is shorter than 3 characters";
	if (len > IDENTITY_MAX_EMAIL)
		return "it is longer than 254 bytes";
	if (!identity_text_valid(text))
		return "it is not valid UTF-8 or holds a control character";
	problem = email_characters_problem(text);
	if (problem)
		return problem;

	at = strchr(text, '@');
	if (!at)
		return "it has no @";
	if (at == text || strchr(at + 1, '@'))
		return at == text ? "nothing comes before the @" : "it has more than one @";

	dot = strrchr(at + 1, '.');
	if (dot && dot[1] == '\0')
		return "the domain ends with a dot";
	if (!dot || dot == at + 1)
		return "the domain after the @ has no dot between two names";
	if (strstr(text, "..") || at[1] == '.' || at[-1] == '.' || text[0] == '.')
		return "a dot starts it or stands next to the @, or two dots stand in a row";
	if (at - text > 64)
		return "the part before the @ is longer than 64 bytes";
	if (strcasecmp(dot, ".invalid") == 0)
		return "its domain ends with .invalid, which no mail can reach (RFC 2606)";
	return domain_hyphen_problem(at + 1);
}

bool identity_email_valid(const char *text)
{
	return text && identity_email_problem(text) == NULL;
}

/*
 * Folds the letters of Latin-1, Latin Extended-A, Greek and Cyrillic, so
 * that "Éve@" and "éve@" are one person.  An address in NFD never gets
 * here, because identity_email_problem() rejects combining marks.
 * NOTE: other scripts compare as written; SQLite's lower() behind email_key
 * folds ASCII only, which the plan does not depend on.
 */
int identity_email_compare(const char *a, const char *b)
{
	return unicode_compare_lower(a, b);
}

char *identity_trim_dup(const char *text)
{
	const char *end;

	if (!text)
		return NULL;
	text = unicode_trim(text, &end);
	if (end == text)
		return NULL;
	return strndup(text, (size_t)(end - text));
}

/*
 * Returns the length of the UTF-8 sequence at p, or 0 when it is invalid
 * or a C1 control character.
 */
static size_t utf8_sequence_length(const unsigned char *p)
{
	uint32_t code;
	size_t len = unicode_decode((const char *)p, &code);

	return code >= 0x80 && code <= 0x9f ? 0 : len;
}

bool identity_text_valid(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		size_t len;

		if (*p < 0x20 || *p == 0x7f)
			return false;
		len = utf8_sequence_length(p);
		if (len == 0)
			return false;
		p += len;
	}
	return true;
}

/* True when the 3 bytes at p encode a bidirectional embedding, override or isolate. */
static bool is_bidi_control(const unsigned char *p)
{
	return p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
				(p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
}

bool identity_text_blank_controls(char *text)
{
	const unsigned char *r = (const unsigned char *)text;
	unsigned char *w = (unsigned char *)text;

	while (*r) {
		size_t len;

		if (*r < 0x20 || *r == 0x7f || (r[0] == 0xc2 && r[1] >= 0x80 && r[1] <= 0x9f)) {
			size_t step = *r == 0xc2 ? 2 : 1;

			*w++ = ' ';
			r += step;
			continue;
		}
		len = utf8_sequence_length(r);
		if (len == 0) {
			*w = '\0';
			return false;
		}
		if (len != 3 || !is_bidi_control(r)) {
			memmove(w, r, len);
			w += len;
		}
		r += len;
	}
	*w = '\0';
	return true;
}

/*
 * Appends name to out with "%" and "," written as "%25" and "%2C", so that
 * a comma in a group name cannot split the list.  Returns the end.
 */
static char *put_group_name(char *out, const char *name)
{
	for (; *name; name++) {
		if (*name == '%' || *name == ',') {
			*out++ = '%';
			*out++ = '2';
			*out++ = *name == '%' ? '5' : 'C';
		} else {
			*out++ = *name;
		}
	}
	return out;
}

char *identity_provenance(const struct identity *identity)
{
	size_t size = sizeof("direct");
	char *text;
	char *out;

	for (size_t i = 0; i < identity->group_count; i++)
		size += 3 * strlen(identity->groups[i]) + sizeof(",group:");

	text = malloc(size);
	if (!text)
		return NULL;

	out = text;
	if (identity->direct)
		out = stpcpy(out, "direct");
	for (size_t i = 0; i < identity->group_count; i++) {
		out = stpcpy(out, out == text ? "group:" : ",group:");
		out = put_group_name(out, identity->groups[i]);
	}
	*out = '\0';
	return text;
}
