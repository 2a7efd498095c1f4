/*
 * pagelog.c - the page log of a paged listing: one hash per page over its
 * ids, to find a page served again under a new cursor.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pagelog.h"

/* FNV-1a of id, mixed so that a sum over a page does not cancel out. */
static uint64_t id_hash(const char *id)
{
	uint64_t hash = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		hash = (hash ^ *p) * 1099511628211ULL;
	hash ^= hash >> 31;
	return hash * 0x9e3779b97f4a7c15ULL;
}

void page_ids_add(struct page_ids *page, const char *id)
{
	if (!page || !id)
		return;
	page->count++;
	page->hash += id_hash(id);
}

static bool log_grow(struct page_log *log)
{
	size_t capacity = log->capacity ? 2 * log->capacity : 64;
	struct page_log_entry *grown = realloc(log->items, capacity * sizeof(*grown));

	if (!grown)
		return false;
	log->items = grown;
	log->capacity = capacity;
	return true;
}

enum rs_err page_log_note(struct page_log *log, const char *where, long number,
			  const struct page_ids *page, bool has_next, const char *idp)
{
	if (page->count == 0 && has_next && ++log->empty_run > PAGE_LOG_MAX_EMPTY) {
		log_msg(LOG_ERROR, "%s: the last %ld pages were empty, each with a link to one "
			"more; the listing is looping, so the read stops (run again, and report "
			"it to %s support if it persists)", where, log->empty_run, idp);
		return RS_ERR_PROTOCOL;
	}
	if (page->count == 0)
		return RS_OK;
	log->empty_run = 0;

	for (size_t i = 0; i < log->count; i++) {
		if (log->items[i].hash == page->hash) {
			log_msg(LOG_ERROR, "%s: lists the same %zu items as page %ld, although its "
				"link had a new cursor; the listing is looping, so the read stops "
				"(run again, and report it to %s support if it persists)", where,
				page->count, log->items[i].page, idp);
			return RS_ERR_PROTOCOL;
		}
	}

	if (log->count == log->capacity && !log_grow(log))
		return RS_ERR_INTERNAL;
	log->items[log->count].hash = page->hash;
	log->items[log->count++].page = number;
	return RS_OK;
}

void page_log_release(struct page_log *log)
{
	free(log->items);
	memset(log, 0, sizeof(*log));
}
