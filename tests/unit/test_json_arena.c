/*
 * test_json_arena.c - cJSON trees allocated from a json_arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "json_arena.h"

/* Builds a JSON array of count objects with a string member each. */
static char *array_text(size_t count)
{
	size_t size = count * 32 + 16;
	char *text = malloc(size);
	size_t used = 0;

	assert_non_null(text);
	used += (size_t)snprintf(text + used, size - used, "[");
	for (size_t i = 0; i < count; i++)
		used += (size_t)snprintf(text + used, size - used, "%s{\"id\":\"00u%06zu\"}",
					 i ? "," : "", i);
	snprintf(text + used, size - used, "]");
	return text;
}

static void arena_parses_page(void **state)
{
	struct json_arena arena;
	char *text = array_text(100);
	cJSON *root;

	(void)state;
	json_arena_init(&arena);
	json_arena_begin(&arena, 64 * 1024);
	root = cJSON_Parse(text);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(root), 100);
	assert_string_equal(cJSON_GetArrayItem(root, 99)->child->valuestring, "00u000099");
	assert_true(arena.used > 0);
	assert_int_equal(arena.overflow, 0);
	cJSON_Delete(root);
	json_arena_end(&arena);

	assert_int_equal(arena.used, 0);
	json_arena_release(&arena);
	assert_null(arena.block);
	free(text);
}

static void arena_grows_after_overflow(void **state)
{
	struct json_arena arena;
	char *text = array_text(2000);
	cJSON *root;
	size_t first_size;

	(void)state;
	json_arena_init(&arena);
	json_arena_begin(&arena, 1024);
	first_size = arena.size;
	root = cJSON_Parse(text);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(root), 2000);
	assert_true(arena.overflow > 0);
	cJSON_Delete(root);
	json_arena_end(&arena);
	assert_true(arena.size > first_size);

	json_arena_begin(&arena, 1024);
	root = cJSON_Parse(text);
	assert_non_null(root);
	assert_int_equal(arena.overflow, 0);
	cJSON_Delete(root);
	json_arena_end(&arena);

	json_arena_release(&arena);
	free(text);
}

/* After json_arena_end() cJSON uses malloc() again: a tree outlives the arena. */
static void hooks_restored_after_end(void **state)
{
	struct json_arena arena;
	cJSON *root;

	(void)state;
	json_arena_init(&arena);
	json_arena_begin(&arena, 4096);
	json_arena_end(&arena);
	json_arena_release(&arena);

	root = cJSON_Parse("{\"a\":[1,2,3]}");
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "a")), 3);
	cJSON_Delete(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arena_parses_page),
		cmocka_unit_test(arena_grows_after_overflow),
		cmocka_unit_test(hooks_restored_after_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
