/*
 * pagelog.h - detects a paged listing that serves a page again under a new
 * cursor.  Comparing links catches a repeated next link, but not a link
 * with a new cursor each time.  So the page log compares content: one
 * order-independent hash of the ids on each page.
 */
#ifndef ROSTERSYNC_PAGELOG_H
#define ROSTERSYNC_PAGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The ids of one page: how many, and their hashes summed. */
struct page_ids {
	size_t count;
	uint64_t hash;
};

/* The page_ids hashes of the pages a listing has read so far, with their numbers. */
struct page_log_entry {
	uint64_t hash;
	long page;
};

struct page_log {
	struct page_log_entry *items;
	size_t count;
	size_t capacity;
	long empty_run;         /* empty pages read since the last page with ids */
};

/* Maximum number of empty pages in a row that a listing may serve before it counts as looping. */
#define PAGE_LOG_MAX_EMPTY 100

/* Adds id to page; NULL page is allowed and ignored. */
void page_ids_add(struct page_ids *page, const char *id);

/*
 * Records page number number in log.  has_next is true when the page links
 * to a next page.  When an earlier page had the same ids, logs that the listing
 * loops and returns RS_ERR_PROTOCOL.  where names the page in the log
 * line, e.g. "app users page 3 (request id X)", and idp whom to report the
 * loop to.  A page without ids is not recorded: Graph's delta queries may
 * send empty pages before the last one.  But more than PAGE_LOG_MAX_EMPTY
 * empty pages in a row that each link to a next one also count as a loop.
 */
enum rs_err page_log_note(struct page_log *log, const char *where, long number,
			  const struct page_ids *page, bool has_next, const char *idp);

void page_log_release(struct page_log *log);

#endif
