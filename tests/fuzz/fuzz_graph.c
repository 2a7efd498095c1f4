/*
 * fuzz_graph.c - the Microsoft Graph parsers on arbitrary bodies, passed
 * without a terminating NUL as libcurl would hand over a page.  The first
 * byte picks the parser; the rest is the body.  Every identity that a
 * parser accepts must satisfy the identity.h invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "graph.h"
#include "identity.h"

static void check_text(const char *text)
{
	if (text && !identity_text_valid(text))
		abort();
}

static enum rs_err check_user(void *context, const struct identity *user)
{
	(void)context;
	if (!user->external_id || user->external_id[0] == '\0' ||
	    strlen(user->external_id) > IDENTITY_MAX_ID)
		abort();
	check_text(user->user_name);
	check_text(user->email);
	check_text(user->given_name);
	check_text(user->family_name);
	check_text(user->display_name);
	check_text(user->status);
	if (user->email && strstr(user->email, "#EXT#"))
		abort();
	return RS_OK;
}

static enum rs_err check_group(void *context, const char *id, const char *name)
{
	(void)context;
	if (!id || id[0] == '\0' || strlen(id) > IDENTITY_MAX_ID)
		abort();
	check_text(name);
	return RS_OK;
}

static const struct graph_object_sink sink = { check_user, check_group, NULL, NULL, NULL,
						NULL };

/* A link that the scan finds must be the parsed one whenever the page parses. */
static void check_scanned_link(const char *body, size_t len, enum rs_err parsed,
			       const char *next)
{
	char *scanned = graph_scan_next_link(body, len);

	if (scanned && parsed == RS_OK && (!next || strcmp(scanned, next) != 0))
		abort();
	free(scanned);
}

static void fuzz_assignments(const char *body, size_t len)
{
	struct graph_assignment *items = NULL;
	size_t count = 0;
	char *next = NULL;
	enum rs_err err;

	err = graph_parse_assignments("fuzz", body, len, &items, &count, &next);
	check_scanned_link(body, len, err, next);
	if (err == RS_OK) {
		for (size_t i = 0; i < count; i++) {
			if (!items[i].principal_id || items[i].principal_id[0] == '\0')
				abort();
			check_text(items[i].display_name);
		}
	}
	graph_assignments_free(items, count);
	free(next);
}

static void fuzz_batch(const char *body, size_t len)
{
	static const char *const ids[] = { "u1", "u2", "u3" };
	struct graph_batch_result result;

	graph_parse_batch("fuzz", body, len, ids, 3, &sink, &result);
	if (result.retry_count + result.not_found_count > 3)
		abort();
	graph_batch_result_release(&result);
}

static void fuzz_other(uint8_t mode, const char *body, size_t len)
{
	struct graph_service_principal sp;
	struct graph_error error;
	struct identity user;
	long long count;
	size_t found;
	char *next = NULL;

	switch (mode) {
	case 2:
		graph_parse_objects("fuzz", body, len, true, &sink, &next);
		break;
	case 3:
		if (graph_parse_service_principal_list(body, len, &sp, &found) == RS_OK && found > 0 &&
		    !sp.id)
			abort();
		graph_service_principal_release(&sp);
		break;
	case 4:
		if (graph_parse_user(body, len, &user) == RS_OK)
			check_user(NULL, &user);
		identity_release(&user);
		break;
	case 5:
		if (graph_parse_error(body, len, &error) && !error.code)
			abort();
		graph_error_release(&error);
		break;
	default:
		graph_parse_count(body, len, &count);
		break;
	}
	free(next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode = size > 0 ? data[0] % 7 : 0;
	size_t len = size > 0 ? size - 1 : 0;
	char *body = malloc(len ? len : 1);
	char *next = NULL;

	if (!body)
		abort();
	if (len > 0)
		memcpy(body, data + 1, len);
	if (mode == 0)
		check_scanned_link(body, len,
				   graph_parse_objects("fuzz", body, len, false, &sink, &next), next);
	else if (mode == 1)
		fuzz_assignments(body, len);
	else if (mode == 6)
		fuzz_batch(body, len);
	else
		fuzz_other(mode, body, len);
	free(next);
	free(body);
	return 0;
}
