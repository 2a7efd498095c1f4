/*
 * graph.c - the Microsoft Graph personality: Bearer token check, the
 * directory routes that rostersync reads, $top/$select/$filter/$count,
 * paging with @odata.nextLink and an opaque $skiptoken, JSON $batch, and
 * Graph's error bodies and headers (request-id, client-request-id).
 *
 * The application permissions named in the dataset's forbidden_permissions
 * are withheld: a request that needs one gets 403
 * Authorization_RequestDenied, except that users listed as group members
 * come back with limited information (only their id), as Graph does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "graph_model.h"

#define PERMISSION_APPS "Application.Read.All"
#define PERMISSION_USERS "User.Read.All"
#define PERMISSION_MEMBERS "GroupMember.Read.All"

#define DEFAULT_TOP 100
#define GRAPH_TOP_LIMIT 999
#define BATCH_MAX_REQUESTS 20
#define SKIPTOKEN_MAX_LEN 256

#define CONTENT_TYPE "application/json;odata.metadata=minimal;odata.streaming=true;" \
	"IEEE754Compatible=false;charset=utf-8"

static const struct {
	unsigned int status;
	const char *code;
	const char *message;
} default_errors[] = {
	{ 400, "Request_BadRequest", "Invalid request." },
	{ 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience." },
	{ 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation." },
	{ 404, "Request_ResourceNotFound", "Resource not found." },
	{ 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target." },
	{ 429, "TooManyRequests", "Too many requests." },
	{ 500, "UnknownError", "An internal server error occurred." },
	{ 502, "BadGateway", "Bad gateway." },
	{ 503, "serviceNotAvailable", "The service is temporarily unavailable." },
	{ 504, "GatewayTimeout", "The gateway timed out." },
};

bool graph_path(const char *path)
{
	return strncmp(path, "/v1.0/", 6) == 0 || strcmp(path, "/v1.0") == 0 ||
	       strncmp(path, "/beta/", 6) == 0;
}

/* ---- ids ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Writes the request-id of ex: a GUID that depends only on the exchange. */
static void request_guid(const struct fake_exchange *ex, char out[37])
{
	uint64_t a = mix(ex->seed ^ (ex->number * 0x9e3779b97f4a7c15ULL));
	uint64_t b = mix(a + 0x9e3779b97f4a7c15ULL);

	snprintf(out, 37, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 52) & 0xfff,
		 (unsigned long long)(b & 0xffffffffffffULL));
}

/* The client-request-id the agent sent when it looks like an id, else the request-id. */
static const char *client_request_id(const struct fake_exchange *ex, const char *fallback)
{
	const char *sent = request_header(ex->request, "client-request-id");

	if (sent != NULL && strlen(sent) <= 64 &&
	    strspn(sent, "0123456789abcdefABCDEF-") == strlen(sent))
		return sent;
	return fallback;
}

/* ---- errors ---- */

static void graph_error(struct fake_exchange *ex, unsigned int status, const char *code,
			const char *message)
{
	size_t usual = 0;
	char request_id[37];

	for (size_t i = 0; i < sizeof(default_errors) / sizeof(default_errors[0]); i++) {
		if (default_errors[i].status == status ||
		    (default_errors[i].status == 500 && status > 500 && usual == 0))
			usual = i;
	}
	response_release(&ex->response);
	ex->response.status = status;
	request_guid(ex, request_id);
	graph_render_error(&ex->response.body, code ? code : default_errors[usual].code,
			   message ? message : default_errors[usual].message, request_id,
			   client_request_id(ex, request_id));
}

static void not_found(struct fake_exchange *ex, const char *id)
{
	struct buf message;

	buf_init(&message);
	buf_printf(&message, "Resource '%s' does not exist or one of its queried "
		   "reference-property objects are not present.", id);
	graph_error(ex, 404, "Request_ResourceNotFound", message.failed ? NULL : message.data);
	buf_release(&message);
}

static void bad_request(struct fake_exchange *ex, const char *format, const char *value)
{
	struct buf message;

	buf_init(&message);
	buf_printf(&message, format, value);
	graph_error(ex, 400, "Request_BadRequest", message.failed ? NULL : message.data);
	buf_release(&message);
}

/* Sets a 403 response when the dataset withholds permission, and then returns false. */
static bool check_permission(struct fake_exchange *ex, const char *permission)
{
	if (!graph_permission_denied(dataset_graph(ex->dataset), permission))
		return true;
	graph_error(ex, 403, "Authorization_RequestDenied",
		    "Insufficient privileges to complete the operation.");
	return false;
}

bool graph_check_access(struct fake_exchange *ex)
{
	const char *expected = graph_data_settings(dataset_graph(ex->dataset))->token;
	const char *auth = request_header(ex->request, "authorization");

	if (expected == NULL)
		return true;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0 && strcmp(auth + 7, expected) == 0)
		return true;
	if (oauth_check_api(ex, OAUTH_ISSUER_ENTRA) == OAUTH_VALID)
		return true;
	graph_error(ex, 401, "InvalidAuthenticationToken",
		    auth == NULL ? "Access token is empty." :
		    "Access token validation failure. Invalid audience.");
	response_add_header(&ex->response, "WWW-Authenticate",
			    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/"
			    "common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"");
	return false;
}

/* ---- paging ---- */

static void hex_encode(struct buf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char pair[2] = { hex[*p >> 4], hex[*p & 15] };

		buf_append(b, pair, 2);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a $skiptoken of this server: the listing's tag, the page and the offset. */
static bool skiptoken_decode(const char *token, char *tag, int *page, size_t *offset)
{
	char plain[SKIPTOKEN_MAX_LEN / 2 + 1];
	size_t len = strlen(token);
	unsigned long long at;
	int used = 0;

	if (len < 2 || len % 2 != 0 || len > SKIPTOKEN_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int high = hex_digit(token[i]);
		int low = hex_digit(token[i + 1]);

		if (high < 0 || low < 0)
			return false;
		plain[i / 2] = (char)(high * 16 + low);
	}
	plain[len / 2] = '\0';
	if (sscanf(plain, "fake:%c:%d:%llu%n", tag, page, &at, &used) != 3 ||
	    (size_t)used != len / 2 || *page < 2)
		return false;
	*offset = (size_t)at;
	return true;
}

static int graph_page(const struct fake_request *req)
{
	const char *token = request_param(req, "$skiptoken");
	size_t offset;
	char tag;
	int page;

	if (token == NULL)
		return 1;
	return skiptoken_decode(token, &tag, &page, &offset) ? page : 0;
}

/* One listing: its items and how to render one. */
struct collection {
	char tag;               /* written into $skiptoken, so tokens are not mixed up */
	size_t count;
	enum graph_defaults defaults;
	const char *context;    /* the @odata.context fragment after "$metadata#" */
	void (*render)(struct fake_exchange *ex, const struct collection *c, size_t i,
		       const struct graph_select *select, struct buf *b);
	const struct graph_object *group;  /* whose members are listed */
	const size_t *subset;   /* member positions after an OData cast, or NULL */
	bool typed;             /* items carry @odata.type */
	bool limited;           /* users have limited information */
	bool with_count;        /* add @odata.count */
};

/*
 * Reads $top.  A value above Graph's limit of 999 (or above page_size_max
 * when that is larger) gets 400, as Graph responds for users; a value above
 * page_size_max is lowered to it, so that tests can page small listings.
 * Returns false after setting the 400 response.
 */
static bool read_top(struct fake_exchange *ex, long *top)
{
	long max = graph_data_settings(dataset_graph(ex->dataset))->page_size_max;
	long limit = max > GRAPH_TOP_LIMIT ? max : GRAPH_TOP_LIMIT;
	const char *text = request_param(ex->request, "$top");
	char *end;

	*top = DEFAULT_TOP < max ? DEFAULT_TOP : max;
	if (text == NULL)
		return true;
	*top = strtol(text, &end, 10);
	if (end == text || *end != '\0' || *top < 1 || *top > limit) {
		struct buf message;

		buf_init(&message);
		buf_printf(&message, "Invalid page size specified: '%s'. Must be between 1 and %ld "
			   "inclusive.", text, limit);
		graph_error(ex, 400, "Request_BadRequest", message.failed ? NULL : message.data);
		buf_release(&message);
		return false;
	}
	if (*top > max)
		*top = max;
	return true;
}

static bool read_skiptoken(struct fake_exchange *ex, const struct collection *c, size_t *start,
			   int *page)
{
	const char *token = request_param(ex->request, "$skiptoken");
	char tag;

	*start = 0;
	*page = 1;
	if (token == NULL)
		return true;
	if (!skiptoken_decode(token, &tag, page, start) || tag != c->tag) {
		bad_request(ex, "The specified page token value has expired or is invalid: %s",
			    token);
		return false;
	}
	return true;
}

/* Appends the query of the request without its $skiptoken, raw as received. */
static void append_query_without_token(struct buf *b, const char *query)
{
	const char *p = query;
	bool first = true;

	while (*p != '\0') {
		size_t len = strcspn(p, "&");
		size_t name_len = strcspn(p, "=&");
		char *name = percent_decode(p, name_len, true);

		if (name != NULL && strcmp(name, "$skiptoken") != 0 && len > 0) {
			if (!first)
				BUF_LIT(b, "&");
			buf_append(b, p, len);
			first = false;
		}
		free(name);
		p += len;
		if (*p == '&')
			p++;
	}
	if (!first)
		BUF_LIT(b, "&");
}

static void append_next_link(struct fake_exchange *ex, const struct collection *c, int page,
			     size_t offset)
{
	struct buf *b = &ex->response.body;
	char plain[96];

	snprintf(plain, sizeof(plain), "fake:%c:%d:%zu", c->tag, page, offset);
	BUF_LIT(b, "\"@odata.nextLink\":\"");
	buf_json_chars(b, ex->origin);
	buf_json_chars(b, ex->request->path);
	BUF_LIT(b, "?");
	append_query_without_token(b, ex->request->query);
	BUF_LIT(b, "$skiptoken=");
	hex_encode(b, plain);
	BUF_LIT(b, "\",");
}

static void respond_collection(struct fake_exchange *ex, const struct collection *c)
{
	struct graph_select select;
	struct buf *b = &ex->response.body;
	size_t start;
	size_t end;
	long top;
	int page;

	if (!read_top(ex, &top) || !read_skiptoken(ex, c, &start, &page))
		return;
	if (!graph_select_parse(request_param(ex->request, "$select"), c->defaults, &select)) {
		bad_request(ex, "Invalid $select: %s", request_param(ex->request, "$select"));
		return;
	}
	end = start + (size_t)top < c->count ? start + (size_t)top : c->count;
	if (start > end)
		start = end;

	buf_reserve(b, (end - start) * 400 + 256);
	BUF_LIT(b, "{\"@odata.context\":\"");
	buf_json_chars(b, ex->origin);
	BUF_LIT(b, "/v1.0/$metadata#");
	buf_json_chars(b, c->context);
	BUF_LIT(b, "\",");
	if (c->with_count && page == 1)
		buf_printf(b, "\"@odata.count\":%zu,", c->count);
	if (end < c->count)
		append_next_link(ex, c, page + 1, end);
	BUF_LIT(b, "\"value\":[");
	for (size_t i = start; i < end; i++) {
		if (i > start)
			BUF_LIT(b, ",");
		c->render(ex, c, i, &select, b);
	}
	BUF_LIT(b, "]}");
	graph_select_release(&select);
}

/* ---- renderers of collection items ---- */

static void render_assignment_item(struct fake_exchange *ex, const struct collection *c,
				   size_t i, const struct graph_select *select, struct buf *b)
{
	(void)c;
	graph_render_assignment(b, dataset_graph(ex->dataset), i, select);
}

static void render_member_item(struct fake_exchange *ex, const struct collection *c, size_t i,
			       const struct graph_select *select, struct buf *b)
{
	struct graph_object member;

	(void)ex;
	graph_member_at(c->group, c->subset ? c->subset[i] : i, &member);
	graph_render_object(b, &member, select, c->typed,
			    c->limited && member.kind == GRAPH_KIND_USER);
}

static void render_group_item(struct fake_exchange *ex, const struct collection *c, size_t i,
			      const struct graph_select *select, struct buf *b)
{
	struct graph_object group;

	(void)c;
	graph_group_at(dataset_graph(ex->dataset), i, &group);
	graph_render_object(b, &group, select, false, false);
}

static void render_user_item(struct fake_exchange *ex, const struct collection *c, size_t i,
			     const struct graph_select *select, struct buf *b)
{
	struct graph_object user;

	(void)c;
	graph_user_at(dataset_graph(ex->dataset), i, &user);
	graph_render_object(b, &user, select, false, false);
}

/* ---- routes ---- */

/* Reads "appId eq '<value>'" with '' for a quote; returns a new string or NULL. */
static char *parse_app_id_filter(const char *filter)
{
	static const char prefix[] = "appId eq '";
	const char *p;
	char *value;
	size_t n = 0;

	if (strncmp(filter, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	value = malloc(strlen(filter) + 1);
	if (value == NULL)
		return NULL;
	for (p = filter + sizeof(prefix) - 1; *p != '\0'; p++) {
		if (*p == '\'' && p[1] == '\'') {
			value[n++] = '\'';
			p++;
		} else if (*p == '\'') {
			break;
		} else {
			value[n++] = *p;
		}
	}
	value[n] = '\0';
	if (*p != '\'' || p[1] != '\0') {
		free(value);
		return NULL;
	}
	return value;
}

static void route_service_principals(struct fake_exchange *ex, const struct fake_path *path)
{
	const struct graph_settings *s = graph_data_settings(dataset_graph(ex->dataset));
	const char *filter = request_param(ex->request, "$filter");
	struct graph_select select;
	struct buf *b = &ex->response.body;
	char *app_id;

	(void)path;
	if (filter == NULL) {
		bad_request(ex, "%s", "This fake lists service principals only with "
			    "$filter=appId eq '...'");
		return;
	}
	app_id = parse_app_id_filter(filter);
	if (app_id == NULL) {
		bad_request(ex, "Invalid filter clause: %s", filter);
		return;
	}
	if (!graph_select_parse(request_param(ex->request, "$select"),
				GRAPH_DEFAULTS_SERVICE_PRINCIPAL, &select)) {
		free(app_id);
		bad_request(ex, "Invalid $select: %s", request_param(ex->request, "$select"));
		return;
	}
	BUF_LIT(b, "{\"@odata.context\":\"");
	buf_json_chars(b, ex->origin);
	BUF_LIT(b, "/v1.0/$metadata#servicePrincipals\",\"value\":[");
	if (strcasecmp(app_id, s->app_id) == 0)
		graph_render_service_principal(b, s, &select);
	BUF_LIT(b, "]}");
	graph_select_release(&select);
	free(app_id);
}

static void route_service_principal(struct fake_exchange *ex, const struct fake_path *path)
{
	const struct graph_settings *s = graph_data_settings(dataset_graph(ex->dataset));
	struct graph_select select;

	if (strcmp(path->segment[2], s->sp_id) != 0) {
		not_found(ex, path->segment[2]);
		return;
	}
	if (!graph_select_parse(request_param(ex->request, "$select"),
				GRAPH_DEFAULTS_SERVICE_PRINCIPAL, &select)) {
		bad_request(ex, "Invalid $select: %s", request_param(ex->request, "$select"));
		return;
	}
	graph_render_service_principal(&ex->response.body, s, &select);
	graph_select_release(&select);
}

static void route_assignments(struct fake_exchange *ex, const struct fake_path *path)
{
	const struct graph_data *gd = dataset_graph(ex->dataset);
	struct collection c = {
		.tag = 'a',
		.count = graph_assignment_count(gd),
		.defaults = GRAPH_DEFAULTS_ASSIGNMENT,
		.context = "servicePrincipals/appRoleAssignedTo",
		.render = render_assignment_item,
	};

	if (strcmp(path->segment[2], graph_data_settings(gd)->sp_id) != 0) {
		not_found(ex, path->segment[2]);
		return;
	}
	respond_collection(ex, &c);
}

static bool find_kind(struct fake_exchange *ex, const char *id, enum graph_kind kind,
		      struct graph_object *out)
{
	if (graph_find_object(dataset_graph(ex->dataset), id, out) && out->kind == kind)
		return true;
	not_found(ex, id);
	return false;
}

static void route_groups(struct fake_exchange *ex, const struct fake_path *path)
{
	struct collection c = {
		.tag = 'g',
		.count = graph_group_count(dataset_graph(ex->dataset)),
		.defaults = GRAPH_DEFAULTS_GROUP,
		.context = "groups",
		.render = render_group_item,
	};

	(void)path;
	if (check_permission(ex, PERMISSION_MEMBERS))
		respond_collection(ex, &c);
}

static void route_group(struct fake_exchange *ex, const struct fake_path *path)
{
	struct graph_object group;
	struct graph_select select;

	if (!check_permission(ex, PERMISSION_MEMBERS) ||
	    !find_kind(ex, path->segment[2], GRAPH_KIND_GROUP, &group))
		return;
	if (!graph_select_parse(request_param(ex->request, "$select"), GRAPH_DEFAULTS_GROUP,
				&select)) {
		bad_request(ex, "Invalid $select: %s", request_param(ex->request, "$select"));
		return;
	}
	graph_render_object(&ex->response.body, &group, &select, false, false);
	graph_select_release(&select);
}

/* Collects the positions of the members of kind, for an OData cast. */
static size_t *cast_subset(const struct graph_object *group, enum graph_kind kind, size_t *count)
{
	size_t total = graph_member_count(group);
	size_t *subset = malloc((total + 1) * sizeof(*subset));

	*count = 0;
	for (size_t i = 0; subset != NULL && i < total; i++) {
		struct graph_object member;

		graph_member_at(group, i, &member);
		if (member.kind == kind)
			subset[(*count)++] = i;
	}
	return subset;
}

static void route_members(struct fake_exchange *ex, const struct fake_path *path)
{
	const struct graph_data *gd = dataset_graph(ex->dataset);
	const char *cast = path->count == 5 ? path->segment[4] : NULL;
	struct graph_object group;
	size_t *subset = NULL;
	struct collection c = {
		.tag = 'm',
		.defaults = GRAPH_DEFAULTS_USER,
		.context = "directoryObjects",
		.render = render_member_item,
		.group = &group,
		.typed = true,
		.limited = graph_permission_denied(gd, PERMISSION_USERS),
	};

	if (!check_permission(ex, PERMISSION_MEMBERS) ||
	    !find_kind(ex, path->segment[2], GRAPH_KIND_GROUP, &group))
		return;
	c.count = graph_member_count(&group);
	if (cast != NULL) {
		bool users = strcmp(cast, "microsoft.graph.user") == 0;

		if (!users && strcmp(cast, "microsoft.graph.group") != 0) {
			graph_error(ex, 400, "Request_UnsupportedQuery", "Unsupported cast.");
			return;
		}
		subset = cast_subset(&group, users ? GRAPH_KIND_USER : GRAPH_KIND_GROUP, &c.count);
		if (subset == NULL) {
			ex->response.failed = true;
			return;
		}
		c.subset = subset;
		c.typed = false;
		c.context = users ? "users" : "groups";
		c.defaults = users ? GRAPH_DEFAULTS_USER : GRAPH_DEFAULTS_GROUP;
	}
	respond_collection(ex, &c);
	free(subset);
}

static void route_users(struct fake_exchange *ex, const struct fake_path *path)
{
	const char *count = request_param(ex->request, "$count");
	const char *consistency = request_header(ex->request, "consistencylevel");
	struct collection c = {
		.tag = 'u',
		.count = graph_user_count(dataset_graph(ex->dataset)),
		.defaults = GRAPH_DEFAULTS_USER,
		.context = "users",
		.render = render_user_item,
		.with_count = count != NULL && strcmp(count, "true") == 0 && consistency != NULL &&
			      strcasecmp(consistency, "eventual") == 0,
	};

	(void)path;
	if (check_permission(ex, PERMISSION_USERS))
		respond_collection(ex, &c);
}

/* Finds a user by id, or else by userPrincipalName in any case. */
static bool find_user(const struct graph_data *gd, const char *key, struct graph_object *out)
{
	struct buf upn;
	bool found = false;

	if (graph_find_object(gd, key, out))
		return out->kind == GRAPH_KIND_USER;
	buf_init(&upn);
	for (size_t i = 0; !found && i < graph_user_count(gd); i++) {
		graph_user_at(gd, i, out);
		buf_truncate(&upn, 0);
		found = graph_object_property(out, "userPrincipalName", &upn) && upn.len > 2 &&
			upn.len - 2 == strlen(key) && strncasecmp(upn.data + 1, key, upn.len - 2) == 0;
	}
	buf_release(&upn);
	return found;
}

static void route_user(struct fake_exchange *ex, const struct fake_path *path)
{
	struct graph_object user;
	struct graph_select select;
	struct buf *b = &ex->response.body;

	if (!check_permission(ex, PERMISSION_USERS))
		return;
	if (!find_user(dataset_graph(ex->dataset), path->segment[2], &user)) {
		not_found(ex, path->segment[2]);
		return;
	}
	if (!graph_select_parse(request_param(ex->request, "$select"), GRAPH_DEFAULTS_USER,
				&select)) {
		bad_request(ex, "Invalid $select: %s", request_param(ex->request, "$select"));
		return;
	}
	graph_render_object(b, &user, &select, false, false);
	/* A single entity starts with its @odata.context, as Graph sends it. */
	if (!b->failed && b->len > 1) {
		struct buf whole;

		buf_init(&whole);
		BUF_LIT(&whole, "{\"@odata.context\":\"");
		buf_json_chars(&whole, ex->origin);
		BUF_LIT(&whole, "/v1.0/$metadata#users/$entity\"");
		if (b->len > 2)
			BUF_LIT(&whole, ",");
		buf_append(&whole, b->data + 1, b->len - 1);
		response_set_body(&ex->response, whole.data ? whole.data : "", whole.len);
		ex->response.failed |= whole.failed;
		buf_release(&whole);
	}
	graph_select_release(&select);
}

static void route_batch(struct fake_exchange *ex, const struct fake_path *path);

/* "*" matches any one segment; segment 0 is the version. */
static const struct {
	const char *pattern[5];
	size_t count;
	const char *method;
	const char *permission;
	void (*handle)(struct fake_exchange *ex, const struct fake_path *path);
} routes[] = {
	{ { "*", "servicePrincipals" }, 2, "GET", PERMISSION_APPS, route_service_principals },
	{ { "*", "servicePrincipals", "*" }, 3, "GET", PERMISSION_APPS, route_service_principal },
	{ { "*", "servicePrincipals", "*", "appRoleAssignedTo" }, 4, "GET", PERMISSION_APPS,
	  route_assignments },
	{ { "*", "groups" }, 2, "GET", NULL, route_groups },
	{ { "*", "groups", "*" }, 3, "GET", NULL, route_group },
	{ { "*", "groups", "*", "members" }, 4, "GET", NULL, route_members },
	{ { "*", "groups", "*", "members", "*" }, 5, "GET", NULL, route_members },
	{ { "*", "users" }, 2, "GET", NULL, route_users },
	{ { "*", "users", "*" }, 3, "GET", NULL, route_user },
	{ { "*", "$batch" }, 2, "POST", NULL, route_batch },
};

static bool route_matches(size_t route, const struct fake_path *path)
{
	if (routes[route].count != path->count)
		return false;
	for (size_t i = 0; i < path->count; i++) {
		const char *want = routes[route].pattern[i];

		if (strcmp(want, "*") != 0 && strcmp(want, path->segment[i]) != 0)
			return false;
	}
	return true;
}

static bool method_allowed(const char *method, const char *allowed)
{
	if (strcmp(allowed, "GET") == 0)
		return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	return strcmp(method, allowed) == 0;
}

/* Serves one request whose token was checked; in_batch forbids a nested $batch. */
static void graph_route(struct fake_exchange *ex, bool in_batch)
{
	struct fake_path path;

	if (!path_split(ex->request->path, &path)) {
		bad_request(ex, "Resource not found for the segment '%s'.", ex->request->path);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_matches(i, &path))
			continue;
		if (!method_allowed(ex->request->method, routes[i].method) ||
		    (in_batch && routes[i].handle == route_batch))
			graph_error(ex, 405, NULL, NULL);
		else if (routes[i].permission == NULL || check_permission(ex, routes[i].permission))
			routes[i].handle(ex, &path);
		path_release(&path);
		return;
	}
	bad_request(ex, "Resource not found for the segment '%s'.",
		    path.count > 1 ? path.segment[1] : ex->request->path);
	path_release(&path);
}

/* ---- $batch ---- */

/* Appends the step headers: Content-Type and any a fault or route added. */
static void append_step_headers(struct buf *b, const struct fake_response *resp)
{
	bool first = true;

	BUF_LIT(b, "{");
	for (size_t i = 0; i < resp->header_count; i++) {
		if (!first)
			BUF_LIT(b, ",");
		buf_json_string(b, resp->headers[i].name);
		BUF_LIT(b, ":");
		buf_json_string(b, resp->headers[i].value);
		first = false;
	}
	if (response_header(resp, "Content-Type") == NULL)
		buf_printf(b, "%s\"Content-Type\":\"application/json\"", first ? "" : ",");
	BUF_LIT(b, "}");
}

/* Appends a step body: JSON as it is, anything else as a JSON string. */
static void append_step_body(struct buf *b, const struct buf *body)
{
	cJSON *parsed = body->len > 0 ? cJSON_ParseWithLength(body->data, body->len) : NULL;

	if (parsed != NULL)
		buf_append(b, body->data, body->len);
	else if (body->len > 0)
		buf_json_string(b, body->data);
	else
		BUF_LIT(b, "null");
	cJSON_Delete(parsed);
}

/* Runs one sub-request of a $batch as its own exchange, faults included. */
static void run_step(struct fake_exchange *ex, const char *method, const char *url, size_t index,
		     struct fake_exchange *step)
{
	struct fake_request *req;
	struct buf uri;
	struct fault *fault;

	buf_init(&uri);
	if (strncmp(url, "/v1.0/", 6) != 0)
		BUF_LIT(&uri, "/v1.0");
	buf_puts(&uri, url);
	req = uri.failed ? NULL : request_new(uri.data);
	buf_release(&uri);

	memset(step, 0, sizeof(*step));
	response_init(&step->response);
	step->request = req;
	step->dataset = ex->dataset;
	step->server = ex->server;
	step->personality = &graph_personality;
	step->seed = ex->seed;
	step->number = ex->number * 64 + index + 1;
	memcpy(step->origin, ex->origin, sizeof(step->origin));
	if (req == NULL) {
		step->response.failed = true;
		return;
	}
	request_set_method(req, method);
	fault = server_pick_fault(step, req);
	if (fault != NULL && fault_respond(step, fault))
		return;
	graph_route(step, true);
	if (fault != NULL)
		fault_finish(step, fault);
}

static bool read_step(const cJSON *item, const char **id, const char **method, const char **url)
{
	const cJSON *id_item = cJSON_GetObjectItemCaseSensitive(item, "id");
	const cJSON *method_item = cJSON_GetObjectItemCaseSensitive(item, "method");
	const cJSON *url_item = cJSON_GetObjectItemCaseSensitive(item, "url");

	if (!cJSON_IsString(id_item) || !cJSON_IsString(method_item) || !cJSON_IsString(url_item) ||
	    url_item->valuestring[0] != '/')
		return false;
	*id = id_item->valuestring;
	*method = method_item->valuestring;
	*url = url_item->valuestring;
	return true;
}

static void append_step(struct fake_exchange *ex, const cJSON *item, size_t index)
{
	struct fake_exchange step;
	struct buf *b = &ex->response.body;
	const char *id;
	const char *method;
	const char *url;

	read_step(item, &id, &method, &url);
	run_step(ex, method, url, index, &step);
	BUF_LIT(b, "{\"id\":");
	buf_json_string(b, id);
	buf_printf(b, ",\"status\":%u,\"headers\":", step.response.status);
	append_step_headers(b, &step.response);
	BUF_LIT(b, ",\"body\":");
	append_step_body(b, &step.response.body);
	BUF_LIT(b, "}");
	ex->response.failed |= step.response.failed || step.response.body.failed;
	response_release(&step.response);
	request_free((struct fake_request *)step.request);
}

/* Checks the batch body: at most 20 requests, each with a unique id, method and relative url. */
static bool check_batch(struct fake_exchange *ex, const cJSON *requests)
{
	const cJSON *item;
	size_t count = 0;

	if (!cJSON_IsArray(requests)) {
		bad_request(ex, "%s", "Invalid batch payload format: requests is missing.");
		return false;
	}
	cJSON_ArrayForEach(item, requests) {
		const char *id;
		const char *method;
		const char *url;
		const cJSON *other;

		if (++count > BATCH_MAX_REQUESTS) {
			bad_request(ex, "%s", "The batch request limit of 20 requests was exceeded.");
			return false;
		}
		if (!read_step(item, &id, &method, &url)) {
			bad_request(ex, "%s", "Invalid batch payload format: each request needs id, "
				    "method and a relative url.");
			return false;
		}
		for (other = requests->child; other != item; other = other->next) {
			const cJSON *other_id = cJSON_GetObjectItemCaseSensitive(other, "id");

			if (strcasecmp(other_id->valuestring, id) == 0) {
				bad_request(ex, "Request Id '%s' is duplicated.", id);
				return false;
			}
		}
	}
	return true;
}

static void route_batch(struct fake_exchange *ex, const struct fake_path *path)
{
	const struct fake_request *req = ex->request;
	cJSON *root = req->body.len > 0 ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
	const cJSON *requests = cJSON_GetObjectItemCaseSensitive(root, "requests");
	const cJSON *item;
	size_t index = 0;

	(void)path;
	if (root == NULL || req->body_truncated) {
		bad_request(ex, "%s", "Invalid batch payload format: the body is not JSON.");
	} else if (check_batch(ex, requests)) {
		BUF_LIT(&ex->response.body, "{\"responses\":[");
		cJSON_ArrayForEach(item, requests) {
			if (index > 0)
				BUF_LIT(&ex->response.body, ",");
			append_step(ex, item, index++);
		}
		BUF_LIT(&ex->response.body, "]}");
	}
	cJSON_Delete(root);
}

/* ---- the personality ---- */

static void graph_handle(struct fake_exchange *ex)
{
	if (graph_check_access(ex))
		graph_route(ex, false);
}

static void graph_error_entry(struct fake_exchange *ex, unsigned int status, const char *code,
			      const char *summary)
{
	graph_error(ex, status, code, summary);
}

static void add_if_absent(struct fake_response *resp, const char *name, const char *value)
{
	if (response_header(resp, name) == NULL)
		response_add_header(resp, name, value);
}

static void graph_decorate(struct fake_exchange *ex)
{
	struct fake_response *resp = &ex->response;
	char date[64];
	char request_id[37];
	time_t now = time(NULL);
	struct tm tm;

	request_guid(ex, request_id);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	add_if_absent(resp, "Content-Type", CONTENT_TYPE);
	add_if_absent(resp, "Date", date);
	add_if_absent(resp, "request-id", request_id);
	add_if_absent(resp, "client-request-id", client_request_id(ex, request_id));
	add_if_absent(resp, "OData-Version", "4.0");
	add_if_absent(resp, "x-ms-ags-diagnostic", "{\"ServerInfo\":{\"DataCenter\":\"Loopback\","
		      "\"Slice\":\"E\",\"Ring\":\"0\",\"ScaleUnit\":\"000\",\"RoleInstance\":"
		      "\"fakeidp\"}}");
	add_if_absent(resp, "Cache-Control", "no-cache");
}

const struct personality graph_personality = {
	.name = "graph",
	.page = graph_page,
	.handle = graph_handle,
	.error = graph_error_entry,
	.decorate = graph_decorate,
};
