/*
 * json_arena.c - bump allocation for cJSON trees (see json_arena.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "json_arena.h"

/* Alignment of every allocation, as malloc() gives on x86-64 and arm64. */
#define ARENA_ALIGN 16

struct json_arena_chunk {
	struct json_arena_chunk *next;
	max_align_t data[];
};

/* The arena that the hooks allocate from; set between begin and end. */
static struct json_arena *current;

void json_arena_init(struct json_arena *arena)
{
	arena->block = NULL;
	arena->size = 0;
	arena->used = 0;
	arena->overflow = 0;
	arena->chunks = NULL;
}

void json_arena_release(struct json_arena *arena)
{
	free(arena->block);
	json_arena_init(arena);
}

static void *arena_malloc(size_t size)
{
	struct json_arena *arena = current;
	size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct json_arena_chunk *chunk;
	void *memory;

	if (rounded < size)
		return NULL;
	if (arena->block && rounded <= arena->size - arena->used) {
		memory = arena->block + arena->used;
		arena->used += rounded;
		return memory;
	}

	chunk = malloc(sizeof(*chunk) + size);
	if (!chunk)
		return NULL;
	chunk->next = arena->chunks;
	arena->chunks = chunk;
	arena->overflow += rounded;
	return chunk->data;
}

/* Memory is given back all at once by json_arena_end(). */
static void arena_free(void *memory)
{
	(void)memory;
}

void json_arena_begin(struct json_arena *arena, size_t expected)
{
	cJSON_Hooks hooks = { arena_malloc, arena_free };

	if (expected > arena->size) {
		char *block = malloc(expected);

		if (block) {
			free(arena->block);
			arena->block = block;
			arena->size = expected;
		}
	}
	arena->used = 0;
	arena->overflow = 0;
	current = arena;
	cJSON_InitHooks(&hooks);
}

void json_arena_end(struct json_arena *arena)
{
	struct json_arena_chunk *chunk = arena->chunks;

	cJSON_InitHooks(NULL);
	current = NULL;
	while (chunk) {
		struct json_arena_chunk *next = chunk->next;

		free(chunk);
		chunk = next;
	}
	arena->chunks = NULL;

	/* A page that overflowed makes the block big enough for the next one like it. */
	if (arena->overflow > 0) {
		size_t wanted = arena->size + arena->overflow;
		char *block = malloc(wanted);

		if (block) {
			free(arena->block);
			arena->block = block;
			arena->size = wanted;
		}
	}
	arena->used = 0;
	arena->overflow = 0;
}
