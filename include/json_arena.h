/*
 * json_arena.h - one block of memory for the cJSON tree of one page.
 *
 * cJSON allocates every node and string of a tree on its own: a page of
 * 500 Okta app users is about 30,000 malloc() calls, and as many free()
 * calls when the tree is deleted.  Between json_arena_begin() and
 * json_arena_end(), cJSON takes its memory from the arena instead, by
 * bumping a pointer, and its frees do nothing.  The arena's block is kept
 * for the next page.
 *
 * Every tree parsed inside the arena must be deleted before
 * json_arena_end(), and no other cJSON work may happen in between: the
 * hooks are global, so this is for one thread.
 */
#ifndef ROSTERSYNC_JSON_ARENA_H
#define ROSTERSYNC_JSON_ARENA_H

#include <stddef.h>

struct json_arena_chunk;

struct json_arena {
	char *block;                     /* reused from page to page */
	size_t size;
	size_t used;
	size_t overflow;                 /* bytes this round took beyond the block */
	struct json_arena_chunk *chunks; /* allocations that did not fit */
};

void json_arena_init(struct json_arena *arena);

/* Frees the block; the arena may be used again. */
void json_arena_release(struct json_arena *arena);

/*
 * Makes cJSON allocate from arena.  expected is the size of the memory the
 * tree will likely need; the block grows to it when smaller.
 */
void json_arena_begin(struct json_arena *arena, size_t expected);

/* Gives cJSON back malloc() and free(), and empties the arena. */
void json_arena_end(struct json_arena *arena);

#endif
