/*
 * test_pagelog.c - page_log_note(): a page served again under a new cursor,
 * and a listing that only ever serves empty pages.
 */
#include <stdio.h>
#include <stdlib.h>

#include "capture.h"
#include "unit.h"
#include "pagelog.h"

/* Notes page number, with a next link, holding the ids 00u<first> on, count of them. */
static enum rs_err note_page(struct page_log *log, long number, int first, int count)
{
	struct page_ids ids = { 0, 0 };
	char id[32];

	for (int i = 0; i < count; i++) {
		snprintf(id, sizeof(id), "00u%d", first + i);
		page_ids_add(&ids, id);
	}
	return page_log_note(log, "app users page", number, &ids, true, "Okta");
}

static void repeated_page_is_a_loop(void **state)
{
	struct page_log log = { 0 };
	struct capture capture;
	char *logged;

	(void)state;
	assert_int_equal(note_page(&log, 1, 0, 3), RS_OK);
	assert_int_equal(note_page(&log, 2, 3, 3), RS_OK);
	capture_start(&capture);
	assert_int_equal(note_page(&log, 3, 0, 3), RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	expect_logged(logged, "lists the same 3 items as page 1");
	free(logged);
	page_log_release(&log);
}

static void endless_empty_pages_are_a_loop(void **state)
{
	struct page_log log = { 0 };
	struct capture capture;
	long page = 1;
	char *logged;

	(void)state;
	/* Empty pages between pages with ids are allowed, however many there are in all. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < PAGE_LOG_MAX_EMPTY; i++)
			assert_int_equal(note_page(&log, page++, 0, 0), RS_OK);
		assert_int_equal(note_page(&log, page++, round * 10, 2), RS_OK);
	}

	for (int i = 0; i < PAGE_LOG_MAX_EMPTY; i++)
		assert_int_equal(note_page(&log, page++, 0, 0), RS_OK);
	/* An empty last page, without a next link, ends the listing. */
	{
		struct page_ids none = { 0, 0 };

		assert_int_equal(page_log_note(&log, "app users page", page, &none, false, "Okta"),
				 RS_OK);
	}
	capture_start(&capture);
	assert_int_equal(note_page(&log, page, 0, 0), RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	expect_logged(logged, "the last 101 pages were empty, each with a link to one more");
	free(logged);
	page_log_release(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(repeated_page_is_a_loop),
		cmocka_unit_test(endless_empty_pages_are_a_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
