/*
 * fuzz_app_users.c - okta_parse_app_users() on arbitrary bodies, passed
 * without a terminating NUL as libcurl would hand over a page.  Every
 * identity it accepts must satisfy the identity.h invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "identity.h"
#include "okta.h"

static void check_text(const char *text)
{
	if (text && !identity_text_valid(text))
		abort();
}

static void check_identity(const struct identity *identity)
{
	if (!identity->external_id || identity->external_id[0] == '\0' ||
	    strlen(identity->external_id) > IDENTITY_MAX_ID)
		abort();
	check_text(identity->user_name);
	check_text(identity->email);
	check_text(identity->given_name);
	check_text(identity->family_name);
	check_text(identity->display_name);
	check_text(identity->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size ? size : 1);
	struct identity_set set;

	if (!body)
		abort();
	memcpy(body, data, size);
	identity_set_init(&set);
	if (okta_parse_app_users(body, size, &set) == RS_OK) {
		if (identity_set_finish(&set) != RS_OK)
			abort();
		for (size_t i = 0; i < set.count; i++)
			check_identity(&set.items[i]);
	}
	identity_set_release(&set);
	free(body);
	return 0;
}
