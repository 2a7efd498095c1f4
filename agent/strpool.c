/*
 * strpool.c - copies of small strings in large blocks (see strpool.h).
 */
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

/* The usual block size; a string longer than a quarter of it gets its own block. */
#define BLOCK_SIZE ((size_t)64 * 1024)

struct strpool_block {
	struct strpool_block *older;
	char data[];
};

void strpool_init(struct strpool *pool)
{
	memset(pool, 0, sizeof(*pool));
}

void strpool_release(struct strpool *pool)
{
	struct strpool_block *block = pool->blocks;

	while (block) {
		struct strpool_block *older = block->older;

		free(block);
		block = older;
	}
	strpool_init(pool);
}

/* Adds a block of size bytes and makes it the one that copies go to. */
static char *add_block(struct strpool *pool, size_t size)
{
	struct strpool_block *block = malloc(sizeof(*block) + size);

	if (!block)
		return NULL;
	block->older = pool->blocks;
	pool->blocks = block;
	pool->next = block->data;
	pool->left = size;
	return block->data;
}

/*
 * Stores a string too long for the usual blocks in a block of its own,
 * behind the current block, so the free space of that block stays in use.
 */
static char *add_large(struct strpool *pool, const char *text, size_t len)
{
	struct strpool_block *block = malloc(sizeof(*block) + len + 1);

	if (!block)
		return NULL;
	if (pool->blocks) {
		block->older = pool->blocks->older;
		pool->blocks->older = block;
	} else {
		block->older = NULL;
		pool->blocks = block;
		pool->next = NULL;
		pool->left = 0;
	}
	memcpy(block->data, text, len);
	block->data[len] = '\0';
	return block->data;
}

char *strpool_copy(struct strpool *pool, const char *text, size_t len)
{
	char *copy;

	if (len + 1 > BLOCK_SIZE / 4)
		return add_large(pool, text, len);
	if (len + 1 > pool->left && !add_block(pool, BLOCK_SIZE))
		return NULL;

	copy = pool->next;
	memcpy(copy, text, len);
	copy[len] = '\0';
	pool->next += len + 1;
	pool->left -= len + 1;
	return copy;
}

char *strpool_dup(struct strpool *pool, const char *text)
{
	return text ? strpool_copy(pool, text, strlen(text)) : NULL;
}
