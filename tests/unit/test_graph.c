/*
 * test_graph.c - the Microsoft Graph parsers and error reports, on inline
 * JSON and on documented and recorded Graph responses.
 *
 * Recorded responses are read from $ROSTERSYNC_FIXTURES/graph (default
 * ../shared/fixtures/graph from the repository root).  A test that needs
 * them is skipped with a message when the directory is absent.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "unit.h"
#include "capture.h"

#include "graph.h"
#include "http.h"
#include "identity.h"
#include "log.h"

/* ---- helpers ---- */

static void expect_text(const char *label, const char *got, const char *expected)
{
	if (expected == NULL && got == NULL)
		return;
	if (expected == NULL || got == NULL || strcmp(got, expected) != 0)
		fail_msg("%s: got %s%s%s, expected %s%s%s", label, got ? "\"" : "",
			 got ? got : "NULL", got ? "\"" : "", expected ? "\"" : "",
			 expected ? expected : "NULL", expected ? "\"" : "");
}

/* Reads a file of the recorded Graph responses; NULL (after skip()) when absent. */
static char *read_fixture(const char *name, size_t *len)
{
	const char *root = getenv("ROSTERSYNC_FIXTURES");
	char path[4096];
	FILE *file;
	char *text;
	long size;

	snprintf(path, sizeof(path), "%s/graph/%s", root && *root ? root : "../shared/fixtures",
		 name);
	file = fopen(path, "rb");
	if (!file) {
		print_message("recorded Graph response %s not found (set ROSTERSYNC_FIXTURES): "
			      "skipped\n", path);
		return NULL;
	}
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	size = ftell(file);
	assert_true(size > 0);
	rewind(file);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	text[size] = '\0';
	fclose(file);
	*len = (size_t)size;
	return text;
}

#define FIXTURE_OR_SKIP(name, len) \
	({ char *text_ = read_fixture((name), (len)); if (!text_) { skip(); } text_; })

/* Collects what graph_parse_objects() delivers. */
struct collected {
	struct identity_set users;
	char *groups[16];
	char *group_names[16];
	size_t group_count;
	char *others[16];
	size_t other_count;
};

static enum rs_err collect_user(void *context, const struct identity *user)
{
	struct collected *c = context;

	return identity_set_add(&c->users, user);
}

static enum rs_err collect_group(void *context, const char *id, const char *name)
{
	struct collected *c = context;

	assert_true(c->group_count < 16);
	c->groups[c->group_count] = strdup(id);
	c->group_names[c->group_count] = name ? strdup(name) : NULL;
	c->group_count++;
	return RS_OK;
}

static void collect_other(void *context, const char *type, const char *id)
{
	struct collected *c = context;

	(void)id;
	assert_true(c->other_count < 16);
	c->others[c->other_count++] = strdup(type);
}

static void collected_init(struct collected *c)
{
	memset(c, 0, sizeof(*c));
	identity_set_init(&c->users);
}

static void collected_release(struct collected *c)
{
	identity_set_release(&c->users);
	for (size_t i = 0; i < c->group_count; i++) {
		free(c->groups[i]);
		free(c->group_names[i]);
	}
	for (size_t i = 0; i < c->other_count; i++)
		free(c->others[i]);
}

static enum rs_err parse_objects(const char *json, size_t len, bool users_untyped,
				 struct collected *c, char **next_link)
{
	const struct graph_object_sink sink = { collect_user, collect_group, collect_other, c,
						NULL, NULL };

	return graph_parse_objects("page 1", json, len, users_untyped, &sink, next_link);
}

/* Expects parse_objects() to fail with err and log expected. */
static void objects_fail(const char *json, size_t len, enum rs_err expected_err,
			 const char *expected)
{
	struct collected c;
	struct capture capture;
	char *next = NULL;
	enum rs_err err;
	char *logged;

	collected_init(&c);
	capture_start(&capture);
	err = parse_objects(json, len, false, &c, &next);
	logged = capture_stop(&capture);
	if (err != expected_err)
		fail_msg("expected %s, got %s, for %.300s", err_name(expected_err), err_name(err), json);
	assert_null(next);
	expect_logged(logged, expected);
	free(logged);
	collected_release(&c);
}

/* Maps one user object and returns it in *out (release with identity_release()). */
static void user_ok(const char *json, struct identity *out)
{
	struct capture capture;
	char *logged;

	capture_start(&capture);
	assert_int_equal(graph_parse_user(json, strlen(json), out), RS_OK);
	logged = capture_stop(&capture);
	free(logged);
}

/* ---- service principals ---- */

static void service_principal_list_one(void **state)
{
	static const char json[] =
		"{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals"
		"(id,appId,displayName,appRoleAssignmentRequired)\",\"value\":[{\"id\":\"sp-1\","
		"\"appId\":\"11111111-1111-1111-1111-111111111111\",\"displayName\":\" Roster App \","
		"\"appRoleAssignmentRequired\":true}]}";
	struct graph_service_principal sp;
	size_t count;

	(void)state;
	assert_int_equal(graph_parse_service_principal_list(json, strlen(json), &sp, &count), RS_OK);
	assert_int_equal(count, 1);
	expect_text("id", sp.id, "sp-1");
	expect_text("appId", sp.app_id, "11111111-1111-1111-1111-111111111111");
	expect_text("displayName", sp.display_name, "Roster App");
	assert_true(sp.assignment_required);
	assert_true(sp.assignment_required_known);
	graph_service_principal_release(&sp);
}

static void service_principal_list_empty(void **state)
{
	static const char json[] = "{\"value\":[]}";
	struct graph_service_principal sp;
	size_t count = 9;

	(void)state;
	assert_int_equal(graph_parse_service_principal_list(json, strlen(json), &sp, &count), RS_OK);
	assert_int_equal(count, 0);
	assert_null(sp.id);
}

static void service_principal_optional_assignment(void **state)
{
	static const char absent[] = "{\"value\":[{\"id\":\"sp-1\",\"appId\":\"a\"}]}";
	static const char off[] =
		"{\"value\":[{\"id\":\"sp-1\",\"appId\":\"a\",\"appRoleAssignmentRequired\":false}]}";
	struct graph_service_principal sp;
	size_t count;

	(void)state;
	assert_int_equal(graph_parse_service_principal_list(absent, strlen(absent), &sp, &count),
			 RS_OK);
	assert_false(sp.assignment_required_known);
	graph_service_principal_release(&sp);
	assert_int_equal(graph_parse_service_principal_list(off, strlen(off), &sp, &count), RS_OK);
	assert_true(sp.assignment_required_known);
	assert_false(sp.assignment_required);
	graph_service_principal_release(&sp);
}

static void service_principal_rejects_shapes(void **state)
{
	static const struct {
		const char *json;
		const char *logged;
	} cases[] = {
		{ "[]", "the body is an array, expected a JSON object" },
		{ "{\"value\":{}}", "\"value\" is an object, expected the array" },
		{ "{}", "\"value\" is missing" },
		{ "{\"value\":[{\"appId\":\"a\"}]}", "id is missing" },
		{ "{\"value\":[{\"id\":\"sp\",\"appRoleAssignmentRequired\":\"yes\"}]}",
		  "appRoleAssignmentRequired is a string, expected a boolean" },
		{ "{\"value\":[{\"id\":\"sp\",\"appId\":7}]}", "appId is a number" },
		{ "{\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/x\",\"value\":[]}",
		  "has a next page" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct graph_service_principal sp;
		struct capture capture;
		size_t count;
		enum rs_err err;
		char *logged;

		capture_start(&capture);
		err = graph_parse_service_principal_list(cases[i].json, strlen(cases[i].json), &sp,
							 &count);
		logged = capture_stop(&capture);
		if (err != RS_ERR_PROTOCOL)
			fail_msg("case %zu: expected protocol, got %s", i, err_name(err));
		assert_null(sp.id);
		expect_logged(logged, cases[i].logged);
		free(logged);
	}
}

/* ---- assignments ---- */

static void assignments_principal_types(void **state)
{
	static const char json[] =
		"{\"value\":["
		"{\"id\":\"a1\",\"principalId\":\"u1\",\"principalType\":\"User\","
		" \"principalDisplayName\":\"Ada\"},"
		"{\"id\":\"a2\",\"principalId\":\"g1\",\"principalType\":\"Group\","
		" \"principalDisplayName\":\" Sales \"},"
		"{\"id\":\"a3\",\"principalId\":\"s1\",\"principalType\":\"ServicePrincipal\"},"
		"{\"id\":\"a4\",\"principalId\":\"x1\",\"principalType\":\"Device\","
		" \"principalDisplayName\":null},"
		"{\"id\":\"a5\",\"principalId\":\"u2\",\"principalType\":\"user\"},"
		"{\"id\":\"a6\",\"principalId\":\"g2\",\"principalType\":\"GROUP\"}],"
		"\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/servicePrincipals/sp/"
		"appRoleAssignedTo?$top=999&$skiptoken=abc\"}";
	struct graph_assignment *items = NULL;
	size_t count = 0;
	char *next = NULL;

	(void)state;
	assert_int_equal(graph_parse_assignments("page 1", json, strlen(json), &items, &count,
						 &next), RS_OK);
	assert_int_equal(count, 6);
	expect_text("principal 0", items[0].principal_id, "u1");
	expect_text("assignment id 3", items[3].id, "a4");
	assert_int_equal(items[0].type, GRAPH_PRINCIPAL_USER);
	expect_text("name 0", items[0].display_name, "Ada");
	assert_int_equal(items[1].type, GRAPH_PRINCIPAL_GROUP);
	expect_text("name 1", items[1].display_name, "Sales");
	assert_int_equal(items[2].type, GRAPH_PRINCIPAL_SERVICE_PRINCIPAL);
	assert_null(items[2].display_name);
	assert_int_equal(items[3].type, GRAPH_PRINCIPAL_OTHER);
	assert_int_equal(items[4].type, GRAPH_PRINCIPAL_USER);
	assert_int_equal(items[5].type, GRAPH_PRINCIPAL_GROUP);
	expect_text("next link", next,
		    "https://graph.microsoft.com/v1.0/servicePrincipals/sp/appRoleAssignedTo"
		    "?$top=999&$skiptoken=abc");
	free(next);
	graph_assignments_free(items, count);
}

static void assignments_append_across_pages(void **state)
{
	static const char page1[] = "{\"value\":[{\"principalId\":\"u1\",\"principalType\":\"User\"}]}";
	static const char page2[] = "{\"value\":[{\"principalId\":\"u2\",\"principalType\":\"User\"}]}";
	struct graph_assignment *items = NULL;
	size_t count = 0;
	char *next = NULL;

	(void)state;
	assert_int_equal(graph_parse_assignments("p1", page1, strlen(page1), &items, &count, &next),
			 RS_OK);
	assert_null(next);
	assert_int_equal(graph_parse_assignments("p2", page2, strlen(page2), &items, &count, &next),
			 RS_OK);
	assert_int_equal(count, 2);
	expect_text("second", items[1].principal_id, "u2");
	assert_null(items[1].id);
	graph_assignments_free(items, count);
}

static void assignments_reject_shapes(void **state)
{
	static const struct {
		const char *json;
		const char *logged;
	} cases[] = {
		{ "{\"value\":[{\"principalId\":\"u1\"}]}",
		  "page 1: assignment 0 (u1): principalType is missing" },
		{ "{\"value\":[{\"principalId\":5,\"principalType\":\"User\"}]}",
		  "assignment 0: principalId is a number, expected a string" },
		{ "{\"value\":[{\"principalId\":\"\",\"principalType\":\"User\"}]}",
		  "principalId is not 1 to 255 printable ASCII characters" },
		{ "{\"value\":[{\"principalId\":\"u 1\",\"principalType\":\"User\"}]}",
		  "principalId is not 1 to 255 printable ASCII characters" },
		{ "{\"value\":[{\"principalId\":\"u1\",\"principalType\":[\"User\"]}]}",
		  "principalType is an array" },
		{ "{\"value\":[{\"id\":\"a\u00e91\",\"principalId\":\"u1\",\"principalType\":\"User\"}]}",
		  "assignment 0 (u1): id is not printable ASCII" },
		{ "{\"value\":[\"u1\"]}", "assignment 0: is a string, expected an object" },
		{ "{\"value\":[],\"@odata.nextLink\":7}", "@odata.nextLink is a number" },
		{ "{\"value\":[],\"@odata.nextLink\":\"https://g/x y\"}",
		  "@odata.nextLink is empty or contains spaces" },
		{ "{\"value\":[]} x", "text after the JSON value" },
		{ "{\"value\":[\"\\u0000\"]}", "\\u0000" },
		{ "{\"value\":[\"a\tb\"]}", "control character in a string" },
		{ "", "empty body" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct graph_assignment *items = NULL;
		struct capture capture;
		size_t count = 0;
		char *next = (char *)"unchanged";
		enum rs_err err;
		char *logged;

		capture_start(&capture);
		err = graph_parse_assignments("page 1", cases[i].json, strlen(cases[i].json), &items,
					      &count, &next);
		logged = capture_stop(&capture);
		if (err != RS_ERR_PROTOCOL)
			fail_msg("case %zu: expected protocol, got %s", i, err_name(err));
		assert_null(next);
		expect_logged(logged, cases[i].logged);
		free(logged);
		graph_assignments_free(items, count);
	}
}

static void assignments_reject_deep_nesting(void **state)
{
	char json[400];
	struct graph_assignment *items = NULL;
	struct capture capture;
	size_t count = 0;
	char *next;
	char *logged;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(json, sizeof(json), "{\"value\":[");
	for (int i = 0; i < 70; i++)
		json[n++] = '[';
	for (int i = 0; i < 70; i++)
		json[n++] = ']';
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
	capture_start(&capture);
	assert_int_equal(graph_parse_assignments("page 1", json, n, &items, &count, &next),
			 RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	expect_logged(logged, "nested deeper than 64 levels");
	free(logged);
}

/* ---- users and members ---- */

static void user_fields_mapped(void **state)
{
	static const char json[] =
		"{\"@odata.context\":\"x\",\"id\":\"u-1\",\"userPrincipalName\":\"ada@contoso.example\","
		"\"mail\":\" Ada.Lovelace@Contoso.example \",\"otherMails\":[\"ada@home.example\"],"
		"\"givenName\":\"Ada\",\"surname\":\"Lovelace\",\"displayName\":\"Ada Lovelace\","
		"\"accountEnabled\":true,\"userType\":\"Member\",\"jobTitle\":{\"ignored\":1}}";
	struct identity user;

	(void)state;
	user_ok(json, &user);
	expect_text("external_id", user.external_id, "u-1");
	expect_text("user_name", user.user_name, "ada@contoso.example");
	expect_text("email", user.email, "Ada.Lovelace@Contoso.example");
	expect_text("given_name", user.given_name, "Ada");
	expect_text("family_name", user.family_name, "Lovelace");
	expect_text("display_name", user.display_name, "Ada Lovelace");
	expect_text("status", user.status, "enabled");
	assert_int_equal(user.activity, IDENTITY_ACTIVE);
	assert_false(user.direct);
	assert_int_equal(user.group_count, 0);
	identity_release(&user);
}

static void user_disabled_is_inactive(void **state)
{
	static const char json[] =
		"{\"id\":\"u-2\",\"userPrincipalName\":\"b@contoso.example\",\"mail\":\"b@contoso.example\","
		"\"accountEnabled\":false}";
	struct identity user;

	(void)state;
	user_ok(json, &user);
	assert_int_equal(user.activity, IDENTITY_INACTIVE);
	expect_text("status", user.status, "disabled");
	identity_release(&user);
}

static void user_without_account_enabled_is_unknown(void **state)
{
	static const char json[] =
		"{\"id\":\"u-3\",\"userPrincipalName\":\"c@contoso.example\",\"mail\":\"c@contoso.example\","
		"\"accountEnabled\":null}";
	struct identity user;
	struct capture capture;
	char *logged;

	(void)state;
	capture_start(&capture);
	assert_int_equal(graph_parse_user(json, strlen(json), &user), RS_OK);
	logged = capture_stop(&capture);
	assert_int_equal(user.activity, IDENTITY_UNKNOWN);
	assert_null(user.status);
	expect_logged(logged, "user u-3 has no accountEnabled");
	free(logged);
	identity_release(&user);
}

static void user_email_rules(void **state)
{
	static const struct {
		const char *json;
		const char *email;
	} cases[] = {
		/* mail wins over otherMails */
		{ "{\"id\":\"1\",\"userPrincipalName\":\"u@t.example\",\"mail\":\"m@x.example\","
		  "\"otherMails\":[\"o@x.example\"]}", "m@x.example" },
		/* no mail: the first otherMails value with text */
		{ "{\"id\":\"2\",\"userPrincipalName\":\"u@t.example\",\"mail\":null,"
		  "\"otherMails\":[\"  \",\"o2@x.example\",\"o3@x.example\"]}", "o2@x.example" },
		/* a guest: the #EXT# userPrincipalName is never the email */
		{ "{\"id\":\"3\",\"userPrincipalName\":\"g_fabrikam.example#EXT#@contoso.onmicrosoft.com\","
		  "\"mail\":null,\"otherMails\":[],\"userType\":\"Guest\"}", NULL },
		{ "{\"id\":\"4\",\"userPrincipalName\":\"g_f.example#EXT#@c.onmicrosoft.com\","
		  "\"mail\":\"g@f.example\",\"userType\":\"Guest\"}", "g@f.example" },
		/* a member's userPrincipalName is not an email fallback either */
		{ "{\"id\":\"5\",\"userPrincipalName\":\"u5@contoso.example\"}", NULL },
		/* an email with #EXT# in it is dropped */
		{ "{\"id\":\"6\",\"userPrincipalName\":\"u@t.example\","
		  "\"mail\":\"x#EXT#@contoso.example\"}", NULL },
		/* a #EXT# mail, in any case, falls back to the first real otherMails value */
		{ "{\"id\":\"8\",\"userPrincipalName\":\"u@t.example\","
		  "\"mail\":\"h_f.example#ext#@contoso.onmicrosoft.com\","
		  "\"otherMails\":[\"a#Ext#@contoso.onmicrosoft.com\",\"guest1@f.example\"]}",
		  "guest1@f.example" },
		/* a valid otherMails value wins over an invalid one before it */
		{ "{\"id\":\"9\",\"userPrincipalName\":\"u@t.example\",\"mail\":null,"
		  "\"otherMails\":[\"SMTP:bad@x.example\",\" good@x.example \"]}", "good@x.example" },
		/* an invalid address is kept for the plan to report */
		{ "{\"id\":\"7\",\"userPrincipalName\":\"u@t.example\",\"mail\":\"not an email\"}",
		  "not an email" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct identity user;
		char label[32];

		snprintf(label, sizeof(label), "email of case %zu", i);
		user_ok(cases[i].json, &user);
		expect_text(label, user.email, cases[i].email);
		identity_release(&user);
	}
}

static void user_without_email_warns_with_id(void **state)
{
	static const char json[] =
		"{\"id\":\"u-9\",\"userPrincipalName\":\"u9@contoso.example\",\"accountEnabled\":true}";
	struct identity user;
	struct capture capture;
	char *logged;

	(void)state;
	capture_start(&capture);
	assert_int_equal(graph_parse_user(json, strlen(json), &user), RS_OK);
	logged = capture_stop(&capture);
	assert_null(user.email);
	expect_logged(logged, "user u-9 (u9@contoso.example) has no mail or otherMails value that is an address");
	free(logged);
	identity_release(&user);
}

static void members_page_types(void **state)
{
	static const char json[] =
		"{\"value\":["
		"{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		" \"userPrincipalName\":\"u1@c.example\",\"mail\":\"u1@c.example\",\"accountEnabled\":true},"
		"{\"@odata.type\":\"#microsoft.graph.group\",\"id\":\"g2\",\"displayName\":\"Nested\","
		" \"mail\":null,\"userPrincipalName\":null},"
		"{\"@odata.type\":\"#microsoft.graph.device\",\"id\":\"d1\",\"displayName\":\"Laptop\"},"
		"{\"@odata.type\":\"#microsoft.graph.orgContact\",\"id\":\"c1\"},"
		"{\"@odata.type\":\"#microsoft.graph.servicePrincipal\",\"id\":\"s1\"}],"
		"\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/groups/g/members?$skiptoken=X\"}";
	struct collected c;
	char *next = NULL;

	(void)state;
	collected_init(&c);
	assert_int_equal(parse_objects(json, strlen(json), false, &c, &next), RS_OK);
	assert_int_equal(c.users.count, 1);
	expect_text("user", c.users.items[0].external_id, "u1");
	assert_int_equal(c.group_count, 1);
	expect_text("group", c.groups[0], "g2");
	expect_text("group name", c.group_names[0], "Nested");
	assert_int_equal(c.other_count, 3);
	expect_text("other 0", c.others[0], "#microsoft.graph.device");
	expect_text("other 1", c.others[1], "#microsoft.graph.orgContact");
	expect_text("other 2", c.others[2], "#microsoft.graph.servicePrincipal");
	assert_non_null(next);
	free(next);
	collected_release(&c);
}

/* The scanned next link agrees with the parsed one, or is NULL. */
static void next_link_scan_cases(void **state)
{
	static const struct {
		const char *json;
		const char *expected;
	} cases[] = {
		{ "{\"@odata.nextLink\":\"https://g/v1.0/x?$skiptoken=A\",\"value\":[]}",
		  "https://g/v1.0/x?$skiptoken=A" },
		{ " {\"@odata.context\":\"c\", \"value\" : [{\"a\":\"}\\\"]\",\"b\":[1,{\"c\":null}]},"
		  "2,true], \"@odata.nextLink\" : \"https://g/n\" } ", "https://g/n" },
		{ "{\"value\":[{\"@odata.nextLink\":\"https://g/inner\"}]}", NULL },
		{ "{\"x\":{\"@odata.nextLink\":\"https://g/inner\"},\"@odata.nextLink\":\"https://g/"
		  "outer\"}", "https://g/outer" },
		{ "{\"@odata.nextLink\":\"https://g/first\",\"@odata.nextLink\":\"https://g/second\"}",
		  "https://g/first" },
		{ "{\"value\":[],\"@odata.nextLink\":null}", NULL },
		{ "{\"value\":[],\"@odata.nextLink\":7}", NULL },
		{ "{\"value\":[],\"@odata.nextLink\":\"\"}", NULL },
		{ "{\"value\":[],\"@odata.nextLink\":\"https://g/x y\"}", NULL },
		{ "{\"value\":[],\"@odata.nextLink\":\"https:\\/\\/g\\/x\"}", NULL },
		{ "{\"value\":[],\"@odata.next\\u004cink\":\"https://g/x\"}", NULL },
		{ "{\"@odata.next\\u004cink\":\"https://g/a\",\"@odata.nextLink\":\"https://g/b\"}",
		  NULL },
		{ "{\"value\":[\"unterminated}", NULL },
		{ "{\"value\":[]", NULL },
		{ "[{\"@odata.nextLink\":\"https://g/x\"}]", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[32];
		char *link = graph_scan_next_link(cases[i].json, strlen(cases[i].json));

		snprintf(label, sizeof(label), "case %zu", i);
		expect_text(label, link, cases[i].expected);
		free(link);
	}
	assert_null(graph_scan_next_link(NULL, 0));
}

/* Only len bytes are scanned: a link past them is not found. */
static void next_link_scan_stops_at_length(void **state)
{
	static const char json[] = "{\"value\":[],\"@odata.nextLink\":\"https://g/x\"}";
	char *link;

	(void)state;
	assert_null(graph_scan_next_link(json, strlen(json) - 3));
	assert_null(graph_scan_next_link(json, strlen("{\"value\":[],\"@odata.nextLink\":")));
	assert_null(graph_scan_next_link(json, strlen("{\"value\":[],\"@odata.nextLink\"")));
	assert_null(graph_scan_next_link(json, strlen("{\"value\":[]")));
	link = graph_scan_next_link(json, strlen(json));
	expect_text("whole body", link, "https://g/x");
	free(link);
}

static void members_untyped_are_users(void **state)
{
	static const char json[] =
		"{\"value\":[{\"id\":\"u1\",\"userPrincipalName\":\"u1@c.example\"}]}";
	struct collected c;
	char *next = NULL;

	(void)state;
	collected_init(&c);
	assert_int_equal(parse_objects(json, strlen(json), true, &c, &next), RS_OK);
	assert_int_equal(c.users.count, 1);
	collected_release(&c);
	objects_fail(json, strlen(json), RS_ERR_PROTOCOL, "object 0: @odata.type is missing");
}

static void members_limited_information(void **state)
{
	static const char json[] =
		"{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		"\"userPrincipalName\":null,\"mail\":null,\"accountEnabled\":null}]}";

	(void)state;
	objects_fail(json, strlen(json), RS_ERR_PERMISSION, "User.Read.All");
}

static void members_reject_wrong_fields(void **state)
{
	static const struct {
		const char *json;
		const char *logged;
	} cases[] = {
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		  "\"userPrincipalName\":\"a@b.c\",\"accountEnabled\":\"true\"}]}",
		  "page 1: object 0 (u1): accountEnabled is a string, expected a boolean" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		  "\"userPrincipalName\":\"a@b.c\",\"mail\":[\"a@b.c\"]}]}",
		  "object 0 (u1): mail is an array, expected a string" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		  "\"userPrincipalName\":\"a@b.c\",\"otherMails\":\"a@b.c\"}]}",
		  "otherMails is a string, expected an array" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		  "\"userPrincipalName\":\"a@b.c\",\"otherMails\":[\"a@b.c\",3]}]}",
		  "otherMails[1] is a number" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		  "\"userPrincipalName\":\"a@b.c\",\"surname\":\"\xff\xfe\"}]}",
		  "surname is not valid UTF-8" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.group\",\"displayName\":\"G\"}]}",
		  "object 0: id is missing" },
		{ "{\"value\":[{\"@odata.type\":\"#microsoft.graph.group\",\"id\":\"g\","
		  "\"displayName\":false}]}", "displayName is a boolean" },
		{ "{\"value\":[{\"@odata.type\":3,\"id\":\"u1\"}]}", "@odata.type is a number" },
		{ "{\"value\":[null]}", "object 0: is null, expected an object" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		objects_fail(cases[i].json, strlen(cases[i].json), RS_ERR_PROTOCOL, cases[i].logged);
}

static void members_reject_long_strings(void **state)
{
	char *long_text = malloc(IDENTITY_MAX_TEXT + 2);
	char *json = malloc(IDENTITY_MAX_TEXT + 300);
	char long_id[IDENTITY_MAX_ID + 2];

	(void)state;
	assert_non_null(long_text);
	assert_non_null(json);
	memset(long_text, 'a', IDENTITY_MAX_TEXT + 1);
	long_text[IDENTITY_MAX_TEXT + 1] = '\0';
	snprintf(json, IDENTITY_MAX_TEXT + 300,
		 "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"u1\","
		 "\"userPrincipalName\":\"a@b.c\",\"displayName\":\"%s\"}]}", long_text);
	objects_fail(json, strlen(json), RS_ERR_PROTOCOL, "displayName is longer than 4096 bytes");

	memset(long_id, 'i', IDENTITY_MAX_ID + 1);
	long_id[IDENTITY_MAX_ID + 1] = '\0';
	snprintf(json, IDENTITY_MAX_TEXT + 300,
		 "{\"value\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":\"%s\"}]}", long_id);
	objects_fail(json, strlen(json), RS_ERR_PROTOCOL, "id is not 1 to 255 printable ASCII");
	free(json);
	free(long_text);
}

static void members_body_without_nul(void **state)
{
	static const char json[] = "{\"value\":[]}";
	char *copy = malloc(sizeof(json) - 1);
	struct collected c;
	char *next = NULL;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, json, sizeof(json) - 1);
	collected_init(&c);
	assert_int_equal(parse_objects(copy, sizeof(json) - 1, false, &c, &next), RS_OK);
	assert_int_equal(c.users.count, 0);
	collected_release(&c);
	free(copy);
}

static void count_parsed(void **state)
{
	static const char json[] = "{\"@odata.count\":12345,\"value\":[{\"id\":\"u1\"}]}";
	static const char *const bad[] = {
		"{\"value\":[]}", "{\"@odata.count\":-1}", "{\"@odata.count\":1.5}",
		"{\"@odata.count\":\"3\"}",
	};
	long long count = 0;

	(void)state;
	assert_int_equal(graph_parse_count(json, strlen(json), &count), RS_OK);
	assert_int_equal(count, 12345);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct capture capture;
		char *logged;

		capture_start(&capture);
		assert_int_equal(graph_parse_count(bad[i], strlen(bad[i]), &count), RS_ERR_PROTOCOL);
		logged = capture_stop(&capture);
		free(logged);
	}
}

/* ---- $batch ---- */

static void batch_statuses(void **state)
{
	static const char json[] =
		"{\"responses\":["
		"{\"id\":\"3\",\"status\":404,\"headers\":{},\"body\":{\"error\":{\"code\":"
		" \"Request_ResourceNotFound\",\"message\":\"gone\"}}},"
		"{\"id\":\"1\",\"status\":200,\"body\":{\"@odata.context\":\"x\",\"id\":\"u1\","
		" \"userPrincipalName\":\"u1@c.example\",\"mail\":\"u1@c.example\",\"accountEnabled\":true}},"
		"{\"id\":\"2\",\"status\":429,\"headers\":{\"Retry-After\":\"0.5\"},"
		" \"body\":{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"slow down\","
		"  \"innerError\":{\"request-id\":\"req-429\"}}}},"
		"{\"id\":\"4\",\"status\":503,\"headers\":{\"retry-after\":3}}]}";
	static const char *const ids[] = { "u1", "u2", "u3", "u4", "u5" };
	const struct graph_object_sink sink = { collect_user, NULL, NULL, NULL, NULL, NULL };
	struct graph_object_sink with_context = sink;
	struct graph_batch_result result;
	struct collected c;

	(void)state;
	collected_init(&c);
	with_context.context = &c;
	assert_int_equal(graph_parse_batch("batch 1", json, strlen(json), ids, 5, &with_context,
					   &result), RS_OK);
	assert_int_equal(c.users.count, 1);
	expect_text("user", c.users.items[0].external_id, "u1");
	assert_int_equal(result.not_found_count, 1);
	expect_text("not found", result.not_found[0], "u3");
	/* u2 and u4 were throttled or failed, and the response has no step for u5 */
	assert_int_equal(result.retry_count, 3);
	expect_text("retry 0", result.retry[0], "u2");
	expect_text("retry 1", result.retry[1], "u4");
	expect_text("retry 2", result.retry[2], "u5");
	/* The maximum wait of the steps, from a Retry-After sent as a JSON number. */
	assert_true(result.retry_after > 2.99 && result.retry_after < 3.01);
	assert_int_equal(result.retry_status, 429);
	expect_text("request id of the first retry", result.retry_request_id, "req-429");
	graph_batch_result_release(&result);
	collected_release(&c);
}

static void batch_failures(void **state)
{
	static const struct {
		const char *json;
		enum rs_err err;
		const char *logged;
	} cases[] = {
		{ "{\"responses\":[{\"id\":\"1\",\"status\":403,\"body\":{\"error\":{\"code\":"
		  "\"Authorization_RequestDenied\",\"message\":\"Insufficient privileges\","
		  "\"innerError\":{\"request-id\":\"r-1\"}}}}]}", RS_ERR_PERMISSION,
		  "GET /users/u1 returned 403 Authorization_RequestDenied: Insufficient privileges "
		  "[request id r-1]; the app needs the application permission User.Read.All" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":400}]}", RS_ERR_PROTOCOL,
		  "GET /users/u1 returned 400 (no code)" },
		{ "{\"responses\":[{\"id\":\"9\",\"status\":200}]}", RS_ERR_PROTOCOL,
		  "id is \"9\", expected an unanswered request number from 1 to 2" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":404},{\"id\":\"1\",\"status\":404}]}",
		  RS_ERR_PROTOCOL, "expected an unanswered request number" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":\"200\"}]}", RS_ERR_PROTOCOL,
		  "status is a string, expected an HTTP status" },
		{ "{\"responses\":{}}", RS_ERR_PROTOCOL, "\"responses\" is an object, expected an array" },
		{ "{\"responses\":[7]}", RS_ERR_PROTOCOL, "response 0: is a number, expected an object" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":200,\"body\":{\"id\":\"u1\"}}]}",
		  RS_ERR_PERMISSION, "userPrincipalName is missing" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":200,\"body\":{\"id\":\"u2\","
		  "\"userPrincipalName\":\"u2@c.example\",\"accountEnabled\":true}}]}",
		  RS_ERR_PROTOCOL,
		  "response 0 (u1): step 1 requested user u1, but its body is the object u2" },
		{ "{\"responses\":[{\"id\":\"2\",\"status\":200,\"body\":{"
		  "\"userPrincipalName\":\"u2@c.example\",\"accountEnabled\":true}}]}",
		  RS_ERR_PROTOCOL, "step 2 requested user u2, but its body has no id" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":200,\"body\":{\"id\":\"u1\","
		  "\"@odata.type\":\"#microsoft.graph.group\",\"displayName\":\"Sales\"}}]}",
		  RS_ERR_PROTOCOL,
		  "step 1 requested user u1, but its body is of type #microsoft.graph.group" },
		{ "{\"responses\":[{\"id\":\"1\",\"status\":200}]}", RS_ERR_PROTOCOL,
		  "step 1 requested user u1, but its body is missing, expected a user object" },
	};
	static const char *const ids[] = { "u1", "u2" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collected c;
		const struct graph_object_sink sink = { collect_user, NULL, NULL, &c, NULL, NULL };
		struct graph_batch_result result;
		struct capture capture;
		enum rs_err err;
		char *logged;

		collected_init(&c);
		capture_start(&capture);
		err = graph_parse_batch("batch 1", cases[i].json, strlen(cases[i].json), ids, 2,
					&sink, &result);
		logged = capture_stop(&capture);
		if (err != cases[i].err)
			fail_msg("case %zu: expected %s, got %s", i, err_name(cases[i].err),
				 err_name(err));
		expect_logged(logged, cases[i].logged);
		if (c.users.count != 0)
			fail_msg("case %zu: %zu users delivered, expected none", i, c.users.count);
		free(logged);
		graph_batch_result_release(&result);
		collected_release(&c);
	}
}

/* ---- errors ---- */

static void error_body_fields(void **state)
{
	static const char json[] =
		"{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient "
		"privileges to complete the operation.\",\"innerError\":{\"date\":\"2024-12-24T03:25:32\","
		"\"request-id\":\"req-1\",\"client-request-id\":\"client-1\"}}}";
	static const char older[] =
		"{\"error\":{\"code\":\"x\",\"message\":\"m\",\"innerError\":{\"requestId\":\"req-2\"}}}";
	struct graph_error error;

	(void)state;
	assert_true(graph_parse_error(json, strlen(json), &error));
	expect_text("code", error.code, "Authorization_RequestDenied");
	expect_text("request id", error.request_id, "req-1");
	expect_text("client request id", error.client_request_id, "client-1");
	expect_text("date", error.date, "2024-12-24T03:25:32");
	graph_error_release(&error);
	assert_true(graph_parse_error(older, strlen(older), &error));
	expect_text("requestId", error.request_id, "req-2");
	graph_error_release(&error);
	assert_false(graph_parse_error("{\"error\":\"invalid_client\"}", 26, &error));
	assert_false(graph_parse_error("<html>", 6, &error));
	assert_null(error.code);
}

static void report(long status, const char *body, const char *permission, enum rs_err expected,
		   const char *const *logged_parts)
{
	struct http_header header = { (char *)"request-id", (char *)"hdr-req" };
	struct http_response response = { status, (char *)body, strlen(body), &header, 1 };
	struct capture capture;
	char *logged;

	capture_start(&capture);
	assert_int_equal(graph_report_error(&response, "GET",
					    "https://graph.microsoft.com/v1.0/groups/g1/members"
					    "?$select=id&$skiptoken=SECRETCURSOR", permission),
			 expected);
	logged = capture_stop(&capture);
	for (size_t i = 0; logged_parts[i]; i++)
		expect_logged(logged, logged_parts[i]);
	if (strstr(logged, "SECRETCURSOR"))
		fail_msg("the query string was logged: %s", logged);
	free(logged);
}

static void report_error_table(void **state)
{
	static const char denied[] =
		"{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient "
		"privileges to complete the operation.\",\"innerError\":{\"request-id\":\"r-9\","
		"\"client-request-id\":\"c-9\",\"date\":\"2024-12-24T03:25:32\"}}}";
	static const char *const forbidden[] = {
		"GET https://graph.microsoft.com/v1.0/groups/g1/members returned 403 "
		"Authorization_RequestDenied: Insufficient privileges to complete the operation. "
		"[request id r-9, client request id c-9, date 2024-12-24T03:25:32]",
		"GroupMember.Read.All", "admin consent", NULL,
	};
	static const char *const unauthorized[] = { "returned 401", "graph.client_id", NULL };
	static const char *const not_found[] = { "returned 404", "[request id hdr-req]", NULL };
	static const char *const html[] = { "returned 502: \"<html>bad gateway</html>\"", NULL };
	static const char *const throttled[] = { "returned 429 TooManyRequests", "run again later",
						 NULL };
	static const char *const empty[] = { "returned 400 with an empty body", NULL };

	(void)state;
	report(403, denied, "GroupMember.Read.All", RS_ERR_PERMISSION, forbidden);
	report(401, "{\"error\":{\"code\":\"InvalidAuthenticationToken\",\"message\":\"x\"}}", NULL,
	       RS_ERR_PERMISSION, unauthorized);
	report(404, "{\"error\":{\"code\":\"Request_ResourceNotFound\",\"message\":\"x\"}}", NULL,
	       RS_ERR_PROTOCOL, not_found);
	report(502, "<html>bad gateway</html>", NULL, RS_ERR_UNAVAILABLE, html);
	report(429, "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"x\"}}", NULL,
	       RS_ERR_TEMPFAIL, throttled);
	report(400, "", NULL, RS_ERR_PROTOCOL, empty);
}

/* A 404 names the group or user of its URL, and graph.app_id only for other objects. */
static void report_not_found_hints(void **state)
{
	static const char body[] = "{\"error\":{\"code\":\"Request_ResourceNotFound\","
				   "\"message\":\"x\"}}";
	static const struct {
		const char *url;
		const char *hint;
		bool names_app_id;
	} cases[] = {
		{ "https://graph.microsoft.com/v1.0/groups/g1/members?$select=id&$top=999",
		  "; group g1 was not found, perhaps deleted: if an assignment of the enterprise app "
		  "names it, remove that assignment; else run again once the directory has caught up",
		  false },
		{ "https://graph.microsoft.com/v1.0/users/u9?$select=id",
		  "; user u9 was not found, perhaps deleted; a sync gives no seat to a deleted "
		  "user that is still assigned", false },
		{ "https://graph.microsoft.com/v1.0/users/u9", "; user u9 was not found", false },
		{ "https://graph.microsoft.com/v1.0/servicePrincipals/sp1/appRoleAssignedTo?$top=999",
		  "; the object was not found", true },
		{ "https://graph.microsoft.com/v1.0/groups?$filter=/v1.0/groups/g1/members",
		  "; the object was not found", true },
		{ "https://graph.microsoft.com/v1.0/users/u9/memberOf", "; the object was not found",
		  true },
	};
	struct http_response response = { 404, (char *)body, strlen(body), NULL, 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture capture;
		char *logged;

		capture_start(&capture);
		assert_int_equal(graph_report_error(&response, "GET", cases[i].url, NULL),
				 RS_ERR_PROTOCOL);
		logged = capture_stop(&capture);
		expect_logged(logged, cases[i].hint);
		if ((strstr(logged, "graph.app_id") != NULL) != cases[i].names_app_id)
			fail_msg("case %zu: graph.app_id %s named: %s", i,
				 cases[i].names_app_id ? "not" : "wrongly", logged);
		free(logged);
	}
}

/* ---- recorded responses ---- */

static void recorded_service_principal(void **state)
{
	struct graph_service_principal sp;
	size_t len;
	char *body = FIXTURE_OR_SKIP("serviceprincipal-get.json", &len);

	(void)state;
	assert_int_equal(graph_parse_service_principal(body, len, &sp), RS_OK);
	expect_text("id", sp.id, "00af5dfb-85da-4b41-a677-0c6b86dd34f8");
	expect_text("appId", sp.app_id, "appId-value");
	expect_text("displayName", sp.display_name, "My app instance in tenant");
	assert_true(sp.assignment_required_known);
	assert_true(sp.assignment_required);
	graph_service_principal_release(&sp);
	free(body);
}

static void recorded_assignments(void **state)
{
	static const struct {
		const char *file;
		size_t count;
		enum graph_principal_type last_type;
		const char *last_name;
		bool has_next;
	} cases[] = {
		{ "approleassignedto-list.json", 1, GRAPH_PRINCIPAL_USER, "Fake Admin User", false },
		{ "approleassignedto-page1-nextlink.DERIVED.json", 2, GRAPH_PRINCIPAL_GROUP,
		  "Fake Group One", true },
		{ "group-approleassignments-list.json", 1, GRAPH_PRINCIPAL_GROUP, "Fake Group One",
		  false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct graph_assignment *items = NULL;
		size_t count = 0;
		char *next = NULL;
		size_t len;
		char *body = FIXTURE_OR_SKIP(cases[i].file, &len);

		assert_int_equal(graph_parse_assignments(cases[i].file, body, len, &items, &count,
							 &next), RS_OK);
		assert_int_equal(count, cases[i].count);
		assert_int_equal(items[count - 1].type, cases[i].last_type);
		expect_text(cases[i].file, items[count - 1].display_name, cases[i].last_name);
		assert_int_equal(next != NULL, cases[i].has_next);
		if (next)
			assert_non_null(strstr(next, "$skiptoken="));
		free(next);
		graph_assignments_free(items, count);
		free(body);
	}
}

static void recorded_users_default(void **state)
{
	struct collected c;
	struct capture capture;
	char *next = NULL;
	char *logged;
	size_t len;
	char *body = FIXTURE_OR_SKIP("users-list-default.json", &len);

	(void)state;
	collected_init(&c);
	capture_start(&capture);
	assert_int_equal(parse_objects(body, len, true, &c, &next), RS_OK);
	logged = capture_stop(&capture);
	assert_int_equal(c.users.count, 2);
	expect_text("email", c.users.items[1].email, "fake.user1@contoso.example");
	expect_text("given", c.users.items[1].given_name, "Fake");
	expect_text("family", c.users.items[1].family_name, "UserOne");
	assert_null(c.users.items[0].given_name);
	/* The default properties lack accountEnabled, which the source always selects. */
	assert_int_equal(c.users.items[0].activity, IDENTITY_UNKNOWN);
	expect_logged(logged, "has no accountEnabled");
	free(logged);
	collected_release(&c);
	free(body);
}

/* Parses the guest fixture after giving its user an id, which the sample omits. */
static void map_guest(const char *body, size_t len, bool drop_mail, struct identity *out)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	cJSON *user = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "value"), 0);
	char *text;

	assert_non_null(user);
	cJSON_AddStringToObject(user, "id", "guest-1");
	if (drop_mail)
		cJSON_ReplaceItemInObject(user, "mail", cJSON_CreateNull());
	text = cJSON_PrintUnformatted(user);
	user_ok(text, out);
	cJSON_free(text);
	cJSON_Delete(root);
}

static void recorded_guest(void **state)
{
	struct collected c;
	struct identity guest;
	struct capture capture;
	char *next = NULL;
	char *logged;
	size_t len;
	char *body = FIXTURE_OR_SKIP("users-list-guest.json", &len);

	(void)state;
	/* As recorded, the element has no id, which the source always needs. */
	collected_init(&c);
	capture_start(&capture);
	assert_int_equal(parse_objects(body, len, true, &c, &next), RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	expect_logged(logged, "object 0: id is missing");
	free(logged);
	collected_release(&c);

	map_guest(body, len, false, &guest);
	expect_text("guest email", guest.email, "guest1@fabrikam.example");
	expect_text("guest user_name", guest.user_name,
		    "guest1_fabrikam.example#EXT#@contoso.onmicrosoft.com");
	identity_release(&guest);

	map_guest(body, len, true, &guest);
	expect_text("guest email from otherMails", guest.email, "guest1@fabrikam.example");
	identity_release(&guest);
	free(body);
}

static void recorded_group_members(void **state)
{
	static const char *const files[] = {
		"group-transitivemembers-default.json",
		"group-transitivemembers-users-cast-select.json",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct collected c;
		struct capture capture;
		char *next = NULL;
		char *logged;
		size_t len;
		char *body = FIXTURE_OR_SKIP(files[i], &len);

		/*
		 * Both samples were requested without userPrincipalName in $select,
		 * which reads the same as a user returned with limited information.
		 */
		collected_init(&c);
		capture_start(&capture);
		assert_int_equal(parse_objects(body, len, i == 1, &c, &next), RS_ERR_PERMISSION);
		logged = capture_stop(&capture);
		expect_logged(logged, "(11111111-2222-3333-4444-555555555555): userPrincipalName is "
			      "missing");
		expect_logged(logged, "User.Read.All");
		free(logged);
		collected_release(&c);
		free(body);
	}
}

static void recorded_error_bodies(void **state)
{
	static const struct {
		const char *file;
		const char *code;
		const char *request_id;
	} cases[] = {
		{ "error-authorization-requestdenied.json", "Authorization_RequestDenied",
		  "096361b2-75be-479b-b421-078610030949" },
		{ "error-request-resourcenotfound.json", "Request_ResourceNotFound",
		  "f58cc4de-b427-41de-b37c-46ee4925a26d" },
		{ "error-request-unsupportedquery-search.json", "Request_UnsupportedQuery",
		  "9b600954-ba11-4899-8ce9-6abad341f299" },
		{ "error-delta-syncstatenotfound.json", "SyncStateNotFound",
		  "47e918a9-ce5b-42b4-8a86-12b96c93121a" },
		{ "error-approleassignment-filter-appRoleId.json", "Request_BadRequest", NULL },
		{ "throttling-429-doc.json", "TooManyRequests", "94fb3b52-452a-4535-a601-69e0a90e3aa2" },
		{ "throttling-429-recorded.json", "TooManyRequests",
		  "27f60550-c048-4426-9280-985f794e0bbc" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct graph_error error;
		size_t len;
		char *body = FIXTURE_OR_SKIP(cases[i].file, &len);

		assert_true(graph_parse_error(body, len, &error));
		expect_text(cases[i].file, error.code, cases[i].code);
		expect_text(cases[i].file, error.request_id, cases[i].request_id);
		assert_non_null(error.message);
		graph_error_release(&error);
		free(body);
	}
}

static void recorded_error_reports(void **state)
{
	static const struct {
		const char *file;
		long status;
		enum rs_err err;
		const char *logged;
	} cases[] = {
		{ "error-authorization-requestdenied.json", 403, RS_ERR_PERMISSION,
		  "Application.Read.All with admin consent" },
		{ "error-request-resourcenotfound.json", 404, RS_ERR_PROTOCOL,
		  "404 Request_ResourceNotFound: Resource '5b31c38c" },
		{ "error-request-unsupportedquery-search.json", 400, RS_ERR_PROTOCOL,
		  "Graph does not support a query this build sends" },
		{ "throttling-429-recorded.json", 429, RS_ERR_TEMPFAIL,
		  "[request id 27f60550-c048-4426-9280-985f794e0bbc, date 2017-11-03T22:34:11]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *body = FIXTURE_OR_SKIP(cases[i].file, &len);
		struct http_response response = { cases[i].status, body, len, NULL, 0 };
		struct capture capture;
		char *logged;

		capture_start(&capture);
		assert_int_equal(graph_report_error(&response, "GET",
						    "https://graph.microsoft.com/v1.0/x",
						    "Application.Read.All"), cases[i].err);
		logged = capture_stop(&capture);
		expect_logged(logged, cases[i].logged);
		free(logged);
		free(body);
	}
}

/* The error bodies inside the recorded $batch response, one step at a time. */
static void recorded_batch_step_errors(void **state)
{
	size_t len;
	char *body = FIXTURE_OR_SKIP("batch-response.json", &len);
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *step;
	size_t errors = 0;

	(void)state;
	assert_non_null(root);
	cJSON_ArrayForEach(step, cJSON_GetObjectItem(root, "responses")) {
		const cJSON *status = cJSON_GetObjectItem(step, "status");
		char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(step, "body"));
		struct graph_error error;
		bool parsed = graph_parse_error(text, strlen(text), &error);

		assert_int_equal(parsed, status->valueint >= 400);
		if (parsed) {
			assert_non_null(error.code);
			assert_non_null(error.request_id);
			graph_error_release(&error);
			errors++;
		}
		cJSON_free(text);
	}
	/* Step 2 has the code "", which still parses as an error. */
	assert_int_equal(errors, 3);
	cJSON_Delete(root);
	free(body);
}

static enum rs_err count_user(void *context, const struct identity *user)
{
	size_t *count = context;

	assert_non_null(user->external_id);
	(*count)++;
	return RS_OK;
}

static enum rs_err count_group(void *context, const char *id, const char *name)
{
	(void)context;
	(void)name;
	assert_non_null(id);
	return RS_OK;
}

/* Fails unless the parser accepted the body or rejected it (protocol or permission). */
static void expect_parsed_or_rejected(const char *name, const char *parser, enum rs_err err)
{
	if (err != RS_OK && err != RS_ERR_PROTOCOL && err != RS_ERR_PERMISSION)
		fail_msg("%s: %s returned %s", name, parser, err_name(err));
}

/* Fails when the text scan found a next link that the parse did not find. */
static void expect_same_link(const char *name, const char *scanned, const char *parsed)
{
	if (scanned != NULL && (parsed == NULL || strcmp(scanned, parsed) != 0))
		fail_msg("%s: the scan found the next link %s, the parse %s", name, scanned,
			 parsed ? parsed : "none");
}

/* Runs the page parsers on one recorded body. */
static void parse_page_every_way(const char *name, const char *body, size_t len)
{
	size_t users = 0;
	const struct graph_object_sink sink = { count_user, count_group, NULL, &users, NULL, NULL };
	struct graph_assignment *items = NULL;
	char *scanned = graph_scan_next_link(body, len);
	char *next = NULL;
	size_t count = 0;
	enum rs_err err;

	err = graph_parse_objects(name, body, len, true, &sink, &next);
	expect_parsed_or_rejected(name, "graph_parse_objects", err);
	if (err == RS_OK)
		expect_same_link(name, scanned, next);
	free(next);

	next = NULL;
	err = graph_parse_assignments(name, body, len, &items, &count, &next);
	expect_parsed_or_rejected(name, "graph_parse_assignments", err);
	if (err == RS_OK)
		expect_same_link(name, scanned, next);
	graph_assignments_free(items, count);
	free(next);
	free(scanned);
}

/*
 * Every recorded Graph body, including those that the cases above do not
 * name, goes through the page parsers, and an error body through the error
 * parser, without a crash or an internal error.
 */
static void recorded_files_all_handled(void **state)
{
	const char *root = getenv("ROSTERSYNC_FIXTURES");
	struct dirent *entry;
	char path[4096];
	size_t handled = 0;
	DIR *dir;

	(void)state;
	snprintf(path, sizeof(path), "%s/graph", root && *root ? root : "../shared/fixtures");
	dir = opendir(path);
	if (!dir) {
		print_message("recorded Graph responses not found in %s: skipped\n", path);
		skip();
		return;
	}
	while ((entry = readdir(dir)) != NULL) {
		size_t name_len = strlen(entry->d_name);
		struct graph_error error;
		struct capture capture;
		size_t len;
		char *body;

		if (name_len < 5 || strcmp(entry->d_name + name_len - 5, ".json") != 0)
			continue;
		body = read_fixture(entry->d_name, &len);
		assert_non_null(body);
		capture_start(&capture);
		parse_page_every_way(entry->d_name, body, len);
		if (graph_parse_error(body, len, &error))
			graph_error_release(&error);
		free(capture_stop(&capture));
		free(body);
		handled++;
	}
	closedir(dir);
	assert_true(handled > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(service_principal_list_one),
		cmocka_unit_test(service_principal_list_empty),
		cmocka_unit_test(service_principal_optional_assignment),
		cmocka_unit_test(service_principal_rejects_shapes),
		cmocka_unit_test(assignments_principal_types),
		cmocka_unit_test(assignments_append_across_pages),
		cmocka_unit_test(assignments_reject_shapes),
		cmocka_unit_test(assignments_reject_deep_nesting),
		cmocka_unit_test(user_fields_mapped),
		cmocka_unit_test(user_disabled_is_inactive),
		cmocka_unit_test(user_without_account_enabled_is_unknown),
		cmocka_unit_test(user_email_rules),
		cmocka_unit_test(user_without_email_warns_with_id),
		cmocka_unit_test(members_page_types),
		cmocka_unit_test(next_link_scan_cases),
		cmocka_unit_test(next_link_scan_stops_at_length),
		cmocka_unit_test(members_untyped_are_users),
		cmocka_unit_test(members_limited_information),
		cmocka_unit_test(members_reject_wrong_fields),
		cmocka_unit_test(members_reject_long_strings),
		cmocka_unit_test(members_body_without_nul),
		cmocka_unit_test(count_parsed),
		cmocka_unit_test(batch_statuses),
		cmocka_unit_test(batch_failures),
		cmocka_unit_test(error_body_fields),
		cmocka_unit_test(report_error_table),
		cmocka_unit_test(report_not_found_hints),
		cmocka_unit_test(recorded_service_principal),
		cmocka_unit_test(recorded_assignments),
		cmocka_unit_test(recorded_users_default),
		cmocka_unit_test(recorded_guest),
		cmocka_unit_test(recorded_group_members),
		cmocka_unit_test(recorded_error_bodies),
		cmocka_unit_test(recorded_error_reports),
		cmocka_unit_test(recorded_batch_step_errors),
		cmocka_unit_test(recorded_files_all_handled),
	};

	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
