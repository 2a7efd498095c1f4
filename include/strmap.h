/*
 * strmap.h - a hash map from strings to indices, for id lookups and
 * followed links of the Graph reader.
 *
 * Open addressing with linear probing, at most half full.  Each slot stores
 * the key, 32 bits of its hash and a 32-bit value in 16 bytes, so a probe
 * reads one cache line and compares key texts only when the hash bits
 * match.  Copied keys live in a pool of the map (see strpool.h).
 */
#ifndef ROSTERSYNC_STRMAP_H
#define ROSTERSYNC_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "strpool.h"

struct strmap_slot;

struct strmap {
	struct strmap_slot *slots;
	size_t capacity;     /* a power of two, or 0 */
	size_t count;
	struct strpool pool; /* the copied keys */
};

/* The largest value a map stores. */
#define STRMAP_VALUE_MAX UINT32_MAX

/* Returns true and sets *value (unless value is NULL) when key is present. */
bool strmap_get(const struct strmap *map, const char *key, size_t *value);

/*
 * Adds key with value unless key is present, and returns the map's copy of
 * key, which lives as long as the map.  Returns NULL when memory runs out or
 * value exceeds STRMAP_VALUE_MAX.
 */
const char *strmap_put(struct strmap *map, const char *key, size_t value);

/*
 * Adds key with value unless key is present, without copying key, which
 * must outlive the map.  Returns false when memory runs out or value
 * exceeds STRMAP_VALUE_MAX.
 */
bool strmap_put_borrowed(struct strmap *map, const char *key, size_t value);

/* Frees the slots and the copied keys; the map is empty and usable afterwards. */
void strmap_release(struct strmap *map);

#endif
