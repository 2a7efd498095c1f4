/*
 * strmap.c - the string-keyed hash map of strmap.h.
 */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct strmap_slot {
	const char *key;  /* NULL in an empty slot */
	uint32_t hash;    /* the low 32 bits of strmap_hash(key) */
	uint32_t value;
};

/*
 * FNV-1a, then the 64-bit finalizer of MurmurHash3.  A multiplication only
 * carries bits upwards, so FNV-1a alone leaves the low bits, which pick the
 * slot, poorly mixed for ids that differ only in their last characters.
 */
static uint64_t strmap_hash(const char *text)
{
	uint64_t hash = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		hash = (hash ^ *p) * 1099511628211ULL;

	hash ^= hash >> 33;
	hash *= 0xff51afd7ed558ccdULL;
	hash ^= hash >> 33;
	hash *= 0xc4ceb9fe1a85ec53ULL;
	hash ^= hash >> 33;
	return hash;
}

/* Returns the slot that contains key, or the empty slot where it would go. */
static size_t find_slot(const struct strmap *map, const char *key, uint32_t hash)
{
	size_t mask = map->capacity - 1;
	size_t i = hash & mask;

	while (map->slots[i].key &&
	       (map->slots[i].hash != hash || strcmp(map->slots[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

/* Doubles the capacity (64 slots at first); false when memory runs out. */
static bool grow(struct strmap *map)
{
	size_t capacity = map->capacity ? map->capacity * 2 : 64;
	struct strmap_slot *slots = calloc(capacity, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < map->capacity; i++) {
		const struct strmap_slot *old = &map->slots[i];
		size_t j = old->hash & (capacity - 1);

		if (!old->key)
			continue;
		while (slots[j].key)
			j = (j + 1) & (capacity - 1);
		slots[j] = *old;
	}
	free(map->slots);
	map->slots = slots;
	map->capacity = capacity;
	return true;
}

bool strmap_get(const struct strmap *map, const char *key, size_t *value)
{
	size_t slot;

	if (map->capacity == 0)
		return false;
	slot = find_slot(map, key, (uint32_t)strmap_hash(key));
	if (!map->slots[slot].key)
		return false;
	if (value)
		*value = map->slots[slot].value;
	return true;
}

/*
 * Finds key's slot for an insert, growing the map first when it would be
 * more than half full.  Returns NULL when memory runs out or value does not
 * fit.
 */
static struct strmap_slot *slot_for_put(struct strmap *map, const char *key, size_t value)
{
	uint32_t hash = (uint32_t)strmap_hash(key);
	struct strmap_slot *slot;

	if (value > STRMAP_VALUE_MAX)
		return NULL;
	if ((map->count + 1) * 2 > map->capacity && !grow(map))
		return NULL;

	slot = &map->slots[find_slot(map, key, hash)];
	if (!slot->key) {
		slot->hash = hash;
		slot->value = (uint32_t)value;
	}
	return slot;
}

const char *strmap_put(struct strmap *map, const char *key, size_t value)
{
	struct strmap_slot *slot = slot_for_put(map, key, value);

	if (!slot)
		return NULL;
	if (slot->key)
		return slot->key;

	slot->key = strpool_dup(&map->pool, key);
	if (slot->key)
		map->count++;
	return slot->key;
}

bool strmap_put_borrowed(struct strmap *map, const char *key, size_t value)
{
	struct strmap_slot *slot = slot_for_put(map, key, value);

	if (!slot)
		return false;
	if (!slot->key) {
		slot->key = key;
		map->count++;
	}
	return true;
}

void strmap_release(struct strmap *map)
{
	free(map->slots);
	strpool_release(&map->pool);
	memset(map, 0, sizeof(*map));
}
