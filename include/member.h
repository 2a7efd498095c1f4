/*
 * member.h - one row of the roster's members table, as plain data.
 *
 * The roster module reads these in a snapshot and writes them back from the
 * plan; the plan module computes new ones.  All strings are owned by the
 * struct and freed by member_release().
 */
#ifndef ROSTERSYNC_MEMBER_H
#define ROSTERSYNC_MEMBER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "strpool.h"

enum member_state {
	MEMBER_ACTIVE = 0,   /* holds a seat */
	MEMBER_WAITING,      /* assigned in the IdP, no seat was free */
	MEMBER_UNASSIGNED,   /* kept for history, holds no seat */
};

struct member {
	int64_t id;          /* roster row id; 0 for a member not stored yet */
	char *source;        /* "okta", "graph" or "manual" */
	char *external_id;   /* NULL for manual members */
	char *email;
	char *user_name;
	char *given_name;
	char *family_name;
	char *display_name;
	char *provenance;    /* see identity_provenance(); NULL for manual */
	enum member_state state;
	int64_t created_at;  /* Unix seconds */
	int64_t updated_at;
	int64_t state_since; /* when the current state began */
	bool drifted;        /* row was changed outside rostersync (snapshot only) */
	/*
	 * The state and state_since above come from the roster's events, not
	 * from the drifted row, whose state is row_state (snapshot only).
	 */
	bool state_restored;
	enum member_state row_state;
};

/*
 * A list of members.  The strings of its items live in the list's string
 * pool: never free or replace them one by one.
 */
struct member_list {
	struct member *items;
	size_t count;
	size_t capacity;
	struct strpool strings;
};

/* "active", "waiting", "unassigned". */
const char *member_state_name(enum member_state state);
bool member_state_parse(const char *text, enum member_state *out);

/* Deep copy of src into dst; returns false when memory runs out. */
bool member_copy(struct member *dst, const struct member *src);
void member_release(struct member *member);

/*
 * Returns a 64-bit checksum of the fields rostersync owns (source,
 * external_id, email, names, provenance, state).  The roster stores it with
 * each row it writes, so a row changed by another program no longer matches.
 */
uint64_t member_checksum(const struct member *member);

void member_list_init(struct member_list *list);
/* Appends a copy whose strings go into the list's pool; false when memory runs out. */
bool member_list_add(struct member_list *list, const struct member *member);
void member_list_release(struct member_list *list);

#endif
