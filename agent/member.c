/*
 * member.c - roster member records: state names, copies, lists, checksum.
 */
#include <stdlib.h>
#include <string.h>

#include "member.h"

static const char *const state_names[] = {
	[MEMBER_ACTIVE] = "active",
	[MEMBER_WAITING] = "waiting",
	[MEMBER_UNASSIGNED] = "unassigned",
};

#define STATE_COUNT (sizeof(state_names) / sizeof(state_names[0]))

const char *member_state_name(enum member_state state)
{
	if ((unsigned)state >= STATE_COUNT)
		return "unknown";
	return state_names[state];
}

bool member_state_parse(const char *text, enum member_state *out)
{
	if (!text)
		return false;

	for (size_t i = 0; i < STATE_COUNT; i++) {
		if (strcmp(text, state_names[i]) == 0) {
			*out = (enum member_state)i;
			return true;
		}
	}
	return false;
}

/* Copies text into *field, where NULL stays NULL.  Returns false when out of memory. */
static bool copy_text(char **field, const char *text)
{
	*field = NULL;
	if (!text)
		return true;

	*field = strdup(text);
	return *field != NULL;
}

bool member_copy(struct member *dst, const struct member *src)
{
	struct member copy = {
		.id = src->id,
		.state = src->state,
		.created_at = src->created_at,
		.updated_at = src->updated_at,
		.state_since = src->state_since,
		.drifted = src->drifted,
		.state_restored = src->state_restored,
		.row_state = src->row_state,
	};
	bool ok = copy_text(&copy.source, src->source) &&
		  copy_text(&copy.external_id, src->external_id) &&
		  copy_text(&copy.email, src->email) &&
		  copy_text(&copy.user_name, src->user_name) &&
		  copy_text(&copy.given_name, src->given_name) &&
		  copy_text(&copy.family_name, src->family_name) &&
		  copy_text(&copy.display_name, src->display_name) &&
		  copy_text(&copy.provenance, src->provenance);

	if (!ok) {
		/* Every string field of copy is either NULL or its own copy. */
		member_release(&copy);
		memset(dst, 0, sizeof(*dst));
		return false;
	}

	*dst = copy;
	return true;
}

void member_release(struct member *member)
{
	if (!member)
		return;

	free(member->source);
	free(member->external_id);
	free(member->email);
	free(member->user_name);
	free(member->given_name);
	free(member->family_name);
	free(member->display_name);
	free(member->provenance);
	memset(member, 0, sizeof(*member));
}

/* FNV-1a, 64-bit variant, with the offset basis and prime of the reference. */
#define FNV64_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a_byte(uint64_t hash, unsigned char byte)
{
	return (hash ^ byte) * FNV64_PRIME;
}

/*
 * Hashes one field as a presence byte (0 for NULL, 1 for a string), then
 * the string's bytes and a 0 terminator.  Strings contain no 0 byte, so the
 * encoding is unambiguous: NULL and "" differ, and ("ab", "c") differs
 * from ("a", "bc").
 */
static uint64_t fnv1a_field(uint64_t hash, const char *text)
{
	if (!text)
		return fnv1a_byte(hash, 0);

	hash = fnv1a_byte(hash, 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		hash = fnv1a_byte(hash, *p);
	return fnv1a_byte(hash, 0);
}

uint64_t member_checksum(const struct member *member)
{
	const char *fields[] = {
		member->source, member->external_id, member->email, member->user_name,
		member->given_name, member->family_name, member->display_name,
		member->provenance,
		/* The state by name, so reordering the enum keeps old checksums valid. */
		member_state_name(member->state),
	};
	uint64_t hash = FNV64_OFFSET_BASIS;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		hash = fnv1a_field(hash, fields[i]);
	return hash;
}

void member_list_init(struct member_list *list)
{
	memset(list, 0, sizeof(*list));
	strpool_init(&list->strings);
}

/* Makes room for one more item.  Returns false when out of memory. */
static bool member_list_reserve(struct member_list *list)
{
	size_t capacity;
	struct member *items;

	if (list->count < list->capacity)
		return true;

	capacity = list->capacity ? list->capacity * 2 : 16;
	if (capacity > SIZE_MAX / sizeof(*items))
		return false;
	items = realloc(list->items, capacity * sizeof(*items));
	if (!items)
		return false;

	list->items = items;
	list->capacity = capacity;
	return true;
}

/* Copies text into the pool; NULL stays NULL.  False when memory runs out. */
static bool pool_text(struct strpool *pool, char **field, const char *text)
{
	*field = strpool_dup(pool, text);
	return *field || !text;
}

bool member_list_add(struct member_list *list, const struct member *member)
{
	struct strpool *pool = &list->strings;
	struct member copy = *member;

	if (!member_list_reserve(list))
		return false;
	if (!(pool_text(pool, &copy.source, member->source) &&
	      pool_text(pool, &copy.external_id, member->external_id) &&
	      pool_text(pool, &copy.email, member->email) &&
	      pool_text(pool, &copy.user_name, member->user_name) &&
	      pool_text(pool, &copy.given_name, member->given_name) &&
	      pool_text(pool, &copy.family_name, member->family_name) &&
	      pool_text(pool, &copy.display_name, member->display_name) &&
	      pool_text(pool, &copy.provenance, member->provenance)))
		return false;

	list->items[list->count++] = copy;
	return true;
}

void member_list_release(struct member_list *list)
{
	if (!list)
		return;

	free(list->items);
	strpool_release(&list->strings);
	member_list_init(list);
}
