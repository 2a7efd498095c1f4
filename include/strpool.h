/*
 * strpool.h - copies of many small strings in a few large blocks.
 *
 * A sync keeps several strings per user (ids, addresses, names) for the
 * whole run.  glibc's malloc() takes at least 32 bytes for each of them, so
 * a 10-byte id costs 32 bytes and one call.  A pool stores the copies back
 * to back in 64 KiB blocks and frees them all at once.  A string in a pool
 * is never freed or changed alone.
 */
#ifndef ROSTERSYNC_STRPOOL_H
#define ROSTERSYNC_STRPOOL_H

#include <stddef.h>

struct strpool_block;

struct strpool {
	struct strpool_block *blocks; /* newest first */
	char *next;                   /* free space in the newest block */
	size_t left;                  /* bytes free at next */
};

void strpool_init(struct strpool *pool);

/* Frees every copy of the pool; the pool is empty and usable afterwards. */
void strpool_release(struct strpool *pool);

/*
 * Returns a NUL-terminated copy of the len bytes at text, which must not
 * contain a NUL, or NULL when memory runs out.
 */
char *strpool_copy(struct strpool *pool, const char *text, size_t len);

/* Returns a copy of text, or NULL when text is NULL or memory runs out. */
char *strpool_dup(struct strpool *pool, const char *text);

#endif
