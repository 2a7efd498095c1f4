/*
 * identity.h - the normalised IdP identity that every source produces.
 *
 * A source fills a struct identity_set while it reads; identity_set_finish()
 * then merges the records that share an external_id (a person assigned
 * directly and through groups) and sorts the set by external_id.  All
 * strings are owned by the set, valid UTF-8, and free of control characters.
 * The text fields of the items live in the set's string pool: never free or
 * replace them one by one.
 */
#ifndef ROSTERSYNC_IDENTITY_H
#define ROSTERSYNC_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "strpool.h"

/* Whether the IdP lets this person hold a seat. */
enum identity_activity {
	IDENTITY_ACTIVE = 0,  /* may hold a seat */
	IDENTITY_INACTIVE,    /* suspended, deactivated, not activated yet */
	IDENTITY_UNKNOWN,     /* status not recognised: keep the member as is */
};

struct identity {
	char *external_id;   /* stable IdP id; never NULL */
	char *user_name;     /* Okta login, Entra userPrincipalName; may be NULL */
	char *email;         /* trimmed, as the IdP spells it; NULL when none */
	char *given_name;    /* may be NULL */
	char *family_name;   /* may be NULL (mononyms) */
	char *display_name;  /* may be NULL */
	char *status;        /* IdP account status as sent, e.g. "SUSPENDED" */
	enum identity_activity activity;
	bool direct;         /* assigned directly, not only through a group */
	char **groups;       /* names (or ids) of the granting groups, sorted */
	size_t group_count;
};

struct identity_set {
	struct identity *items;
	size_t count;
	size_t capacity;
	struct strpool strings; /* the text fields of items; groups are malloc'ed */
	/*
	 * Ids assigned in the IdP whose user the directory no longer has (a
	 * deleted user).  identity_set_finish() sorts them, and strings keeps
	 * their text.
	 */
	char **not_found;
	size_t not_found_count;
};

/*
 * Limits on every string taken from an IdP, in bytes.  IDENTITY_MAX_TEXT
 * fits 1024 characters of 4 bytes, because a CJK name takes 3 bytes a
 * character.
 */
#define IDENTITY_MAX_ID 255
#define IDENTITY_MAX_EMAIL 254
#define IDENTITY_MAX_TEXT 4096

/*
 * Frees the strings and groups of an identity that owns them, such as one
 * that okta_parse_user() or graph_parse_user() filled, and zeroes it.
 * Not for an item of a set, because the set owns its strings.
 */
void identity_release(struct identity *identity);

/*
 * The status of a merged identity whose records disagreed on the status or
 * the email: its activity is IDENTITY_UNKNOWN, and its status points here.
 */
extern const char identity_status_conflict[];

void identity_set_init(struct identity_set *set);
void identity_set_release(struct identity_set *set);

/*
 * Frees the items and their group lists but keeps count and the strings,
 * which a plan borrows.  Nothing but count may be read afterwards, and
 * identity_set_release() still frees the strings.
 */
void identity_set_drop_items(struct identity_set *set);

/*
 * Appends a copy of *identity (strings are duplicated; groups too).  Returns
 * RS_ERR_INTERNAL when memory runs out.
 */
enum rs_err identity_set_add(struct identity_set *set, const struct identity *identity);

/*
 * Records that external_id is assigned in the IdP but its user was not
 * found.  The plan unassigns such a member with that reason.  Returns
 * RS_ERR_INTERNAL when memory runs out.
 */
enum rs_err identity_set_add_not_found(struct identity_set *set, const char *external_id);

/* Returns true when external_id is in the sorted array ids of count items. */
bool identity_id_listed(char *const *ids, size_t count, const char *external_id);

/*
 * Sorts by external_id and merges duplicates: direct is or-ed, groups are
 * united, and the other fields come from a direct record when there is one.
 */
enum rs_err identity_set_finish(struct identity_set *set);

/* Adds group to identity's groups unless present. */
enum rs_err identity_add_group(struct identity *identity, const char *group);

/* Returns the identity with external_id in a finished set, or NULL. */
struct identity *identity_set_find(const struct identity_set *set, const char *external_id);

/*
 * Returns true when text is a plausible address: one '@', a non-empty local
 * part and a domain with a dot, no spaces or control characters, within
 * IDENTITY_MAX_EMAIL bytes.
 */
bool identity_email_valid(const char *text);

/*
 * Returns why text is not a plausible address, as a phrase such as "it has
 * no @", or NULL when identity_email_valid() accepts it.
 */
const char *identity_email_problem(const char *text);

/*
 * Compares two addresses case-insensitively, like strcasecmp(), with the
 * letters of Latin-1, Latin Extended-A, Greek and Cyrillic folded too.
 */
int identity_email_compare(const char *a, const char *b);

/*
 * Returns a newly allocated copy of text without leading and trailing
 * white space, or NULL when text is NULL or nothing is left.
 */
char *identity_trim_dup(const char *text);

/* Returns true when text is valid UTF-8 with no control characters. */
bool identity_text_valid(const char *text);

/*
 * Replaces each control character of text (C0, DEL and C1) with a space, in
 * place.  Also removes the bidirectional embeddings, overrides and isolates
 * (U+202A to U+202E, U+2066 to U+2069), so that a name cannot reverse the
 * rest of a log line or a table row.  Returns false when text is not valid
 * UTF-8, and text may then be partly changed.
 */
bool identity_text_blank_controls(char *text);

/*
 * Writes the provenance of identity ("direct", "group:Sales",
 * "direct,group:Sales,group:Support") into a new string.  A "," or "%" in
 * a group name is written as "%2C" or "%25".
 */
char *identity_provenance(const struct identity *identity);

#endif
