/*
 * okta.c - the Okta Management API personality: SSWS token check, routing,
 * cursor paging with Link headers, error bodies and the headers that every
 * Okta response carries.
 *
 * Listings are sorted by id.  The "after" cursor names the last item of the
 * previous page (and the page number, which faults match on), so a page
 * starts after that item even when the dataset changed in between, as
 * Okta's id-based cursors do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakeidp.h"

/* Maximum cursor length in hex digits, enough for ids of about 32 KiB. */
#define CURSOR_MAX_LEN 65536

/* One listed object; id and sub form the sort key. */
struct okta_item {
	struct fake_assignment assignment;
	struct fake_group group;
	long priority;
	struct fake_user user;
	const char *id;
	unsigned int sub;
};

/* One listing endpoint: its items, page sizes and renderer. */
struct listing {
	char tag;               /* written into cursors, so they are not mixed up */
	size_t count;
	long default_limit;
	long max_limit;
	bool expand;            /* expand=user or expand=group was requested */
	const struct fake_group *group;  /* whose members are listed */
	void (*at)(const struct listing *l, const struct dataset *ds, size_t i,
		   struct okta_item *item);
	void (*render)(struct buf *b, const struct okta_links *links,
		       const struct listing *l, const struct okta_item *item);
};

/* The usual error code and summary per status. */
static const struct {
	unsigned int status;
	const char *code;
	const char *summary;
} default_errors[] = {
	{ 400, "E0000001", "Api validation failed" },
	{ 401, "E0000011", "Invalid token provided" },
	{ 403, "E0000006", "You do not have permission to perform the requested action" },
	{ 404, "E0000007", "Not found: Resource not found" },
	{ 405, "E0000022", "The endpoint does not support the provided HTTP method" },
	{ 429, "E0000047", "API call exceeded rate limit due to too many requests." },
	{ 500, "E0000009", "Internal Server Error" },
	{ 503, "E0000010", "Service is in read only mode" },
};

/* ---- errors ------------------------------------------------------------- */

/* Returns the index in default_errors for status: 400 or 500 when absent. */
static size_t default_error_for(unsigned int status)
{
	size_t fallback = 0;

	for (size_t i = 0; i < sizeof(default_errors) / sizeof(default_errors[0]); i++) {
		if (default_errors[i].status == status)
			return i;
		if (status >= 500 && default_errors[i].status == 500)
			fallback = i;
	}
	return fallback;
}

static void okta_error_with_cause(struct fake_exchange *ex, unsigned int status,
				  const char *code, const char *summary, const char *cause)
{
	size_t usual = default_error_for(status);
	char error_id[26];

	response_release(&ex->response);
	ex->response.status = status;
	exchange_make_id(ex, "oae", error_id, sizeof(error_id));
	okta_render_error(&ex->response.body, code ? code : default_errors[usual].code,
			  summary ? summary : default_errors[usual].summary, error_id, cause);
}

static void okta_error(struct fake_exchange *ex, unsigned int status, const char *code,
		       const char *summary)
{
	okta_error_with_cause(ex, status, code, summary, NULL);
}

/* Sets a 404 E0000007 response for an id of the given Okta type. */
static void okta_not_found(struct fake_exchange *ex, const char *id, const char *type)
{
	struct buf summary;

	buf_init(&summary);
	buf_printf(&summary, "Not found: Resource not found: %s (%s)", id, type);
	okta_error(ex, 404, "E0000007", summary.failed ? NULL : summary.data);
	buf_release(&summary);
}

bool okta_check_access(struct fake_exchange *ex)
{
	const struct dataset_control *control = dataset_control(ex->dataset);
	const char *auth = request_header(ex->request, "authorization");
	enum oauth_verdict verdict = oauth_check_api(ex, OAUTH_ISSUER_OKTA);

	/* An OAuth access token from the fake's own token endpoint replaces SSWS. */
	if (verdict != OAUTH_NOT_OAUTH && verdict != OAUTH_VALID) {
		okta_error(ex, 401, "E0000011", "Invalid token provided");
		oauth_add_challenge(ex, verdict);
		return false;
	}
	if (verdict == OAUTH_NOT_OAUTH && control->token != NULL &&
	    (auth == NULL || strncmp(auth, "SSWS ", 5) != 0 || strcmp(auth + 5, control->token) != 0)) {
		okta_error(ex, 401, "E0000011", "Invalid token provided");
		return false;
	}
	if (control->forbidden) {
		okta_error(ex, 403, "E0000006",
			   "You do not have permission to perform the requested action");
		return false;
	}
	return true;
}

/* ---- cursors ------------------------------------------------------------ */

/* Appends the cursor for the item after (tag, page, sub, id). */
static void cursor_encode(struct buf *b, char tag, int page, unsigned int sub, const char *id)
{
	static const char hex[] = "0123456789abcdef";
	struct buf plain;

	buf_init(&plain);
	buf_printf(&plain, "%c:%d:%u:%s", tag, page, sub, id);
	for (size_t i = 0; i < plain.len; i++) {
		unsigned char c = (unsigned char)plain.data[i];
		char pair[2] = { hex[c >> 4], hex[c & 15] };

		buf_append(b, pair, 2);
	}
	if (plain.failed)
		b->failed = true;
	buf_release(&plain);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parses the plain text of a cursor, "<tag>:<page>:<sub>:<id>". */
static bool cursor_parse(const char *plain, char *tag, int *page, unsigned int *sub, char **id)
{
	char *end;
	long number;

	if (plain[0] == '\0' || plain[1] != ':')
		return false;
	*tag = plain[0];
	number = strtol(plain + 2, &end, 10);
	if (number < 2 || number > 1000000000 || end[0] != ':' || (end[1] != '0' && end[1] != '1') ||
	    end[2] != ':' || end[3] == '\0')
		return false;
	*page = (int)number;
	*sub = (unsigned int)(end[1] - '0');
	*id = strdup(end + 3);
	return *id != NULL;
}

bool okta_cursor_decode(const char *cursor, char *tag, int *page, unsigned int *sub, char **id)
{
	size_t len = strlen(cursor);
	char *plain;
	bool ok = false;

	*id = NULL;
	if (len == 0 || len % 2 != 0 || len > CURSOR_MAX_LEN)
		return false;
	plain = malloc(len / 2 + 1);
	if (plain == NULL)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int high = hex_value(cursor[i]);
		int low = hex_value(cursor[i + 1]);

		if (high < 0 || low < 0 || (high == 0 && low == 0))
			goto out;
		plain[i / 2] = (char)(high * 16 + low);
	}
	plain[len / 2] = '\0';
	ok = cursor_parse(plain, tag, page, sub, id);

out:
	free(plain);
	return ok;
}

static int okta_page(const struct fake_request *req)
{
	const char *after = request_param(req, "after");
	char tag;
	int page;
	unsigned int sub;
	char *id;

	if (after == NULL)
		return 1;
	if (!okta_cursor_decode(after, &tag, &page, &sub, &id))
		return 0;
	free(id);
	return page;
}

/* ---- paging ------------------------------------------------------------- */

/* Compares the key of item i with (id, sub); sub -1 sorts before 0. */
static int compare_key(const struct listing *l, const struct dataset *ds, size_t i,
		       const char *id, int sub)
{
	struct okta_item item;
	int order;

	l->at(l, ds, i, &item);
	order = strcmp(item.id, id);
	if (order != 0)
		return order;
	return (int)item.sub - sub;
}

/* Returns the index of the first item whose key is greater than (id, sub). */
static size_t listing_seek(const struct listing *l, const struct dataset *ds,
			   const char *id, int sub)
{
	size_t low = 0;
	size_t high = l->count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (compare_key(l, ds, mid, id, sub) <= 0)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/* Appends <separator>name=value with value percent-encoded. */
static void append_query(struct buf *b, char separator, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	buf_append(b, &separator, 1);
	buf_puts(b, name);
	BUF_LIT(b, "=");
	for (const char *c = value; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;
		char escaped[3] = { '%', hex[u >> 4], hex[u & 15] };

		if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
		    strchr("-._~,", u) != NULL)
			buf_append(b, c, 1);
		else
			buf_append(b, escaped, 3);
	}
}

/*
 * Adds Link: <url>; rel="name" for the request path with after, expand and
 * limit in alphabetical order, as Okta writes them.
 */
static void add_link(struct fake_exchange *ex, const char *rel, const char *after, long limit)
{
	const char *expand = request_param(ex->request, "expand");
	char number[24];
	char separator = '?';
	struct buf link;

	buf_init(&link);
	BUF_LIT(&link, "<");
	buf_puts(&link, ex->origin);
	buf_puts(&link, ex->request->path);
	if (after != NULL) {
		append_query(&link, separator, "after", after);
		separator = '&';
	}
	if (expand != NULL) {
		append_query(&link, separator, "expand", expand);
		separator = '&';
	}
	snprintf(number, sizeof(number), "%ld", limit);
	append_query(&link, separator, "limit", number);
	buf_printf(&link, ">; rel=\"%s\"", rel);
	if (link.failed)
		ex->response.failed = true;
	else
		response_add_header(&ex->response, "Link", link.data);
	buf_release(&link);
}

/* Reads ?limit=.  Returns false after setting a 400 response when it is invalid. */
static bool read_limit(struct fake_exchange *ex, const struct listing *l, long *limit)
{
	const char *text = request_param(ex->request, "limit");
	char *end;

	*limit = l->default_limit;
	if (text == NULL)
		return true;
	*limit = strtol(text, &end, 10);
	if (end == text || *end != '\0' || *limit < 1) {
		okta_error_with_cause(ex, 400, "E0000001", "Api validation failed: limit",
				      "limit: must be a positive integer");
		return false;
	}
	if (*limit > l->max_limit)
		*limit = l->max_limit;
	return true;
}

/* Finds where the page starts.  Returns false after setting a 400 response
 * for an invalid cursor. */
static bool read_cursor(struct fake_exchange *ex, const struct listing *l, size_t *start,
			int *page)
{
	const char *after = request_param(ex->request, "after");
	unsigned int sub;
	char tag;
	char *id;

	*start = 0;
	*page = 1;
	if (after == NULL)
		return true;
	if (!okta_cursor_decode(after, &tag, page, &sub, &id) || tag != l->tag) {
		free(id);
		okta_error_with_cause(ex, 400, "E0000029", "Invalid paging request.",
				      "Invalid cursor.");
		return false;
	}
	*start = listing_seek(l, ex->dataset, id, (int)sub);
	free(id);
	return true;
}

static void render_page(struct fake_exchange *ex, const struct listing *l, size_t start,
			size_t end)
{
	const struct okta_links links = {
		.origin = ex->origin,
		.app_id = dataset_control(ex->dataset)->app_id,
	};
	struct buf *b = &ex->response.body;

	buf_reserve(b, (end - start) * (l->expand ? 1600 : 600) + 2);
	BUF_LIT(b, "[");
	for (size_t i = start; i < end; i++) {
		struct okta_item item;

		if (i > start)
			BUF_LIT(b, ",");
		l->at(l, ex->dataset, i, &item);
		l->render(b, &links, l, &item);
	}
	BUF_LIT(b, "]");
}

/* Sets the response to one page of l, with its self and next links. */
static void respond_listing(struct fake_exchange *ex, const struct listing *l)
{
	const char *after = request_param(ex->request, "after");
	size_t start;
	size_t end;
	long limit;
	int page;

	if (!read_limit(ex, l, &limit) || !read_cursor(ex, l, &start, &page))
		return;
	end = start + (size_t)limit < l->count ? start + (size_t)limit : l->count;
	if (start > end)
		end = start;

	render_page(ex, l, start, end);
	add_link(ex, "self", after, limit);
	if (end < l->count) {
		struct okta_item last;
		struct buf next;

		buf_init(&next);
		l->at(l, ex->dataset, end - 1, &last);
		cursor_encode(&next, l->tag, page + 1, last.sub, last.id);
		add_link(ex, "next", next.failed ? "" : next.data, limit);
		ex->response.failed |= next.failed;
		buf_release(&next);
	}
}

/* ---- listings ----------------------------------------------------------- */

static void app_user_at(const struct listing *l, const struct dataset *ds, size_t i,
			struct okta_item *item)
{
	(void)l;
	dataset_assignment_at(ds, i, &item->assignment);
	item->id = user_id(&item->assignment.user);
	item->sub = item->assignment.sub;
}

static void app_user_render(struct buf *b, const struct okta_links *links,
			    const struct listing *l, const struct okta_item *item)
{
	okta_render_app_user(b, links, &item->assignment, l->expand);
}

static void app_group_at(const struct listing *l, const struct dataset *ds, size_t i,
			 struct okta_item *item)
{
	(void)l;
	dataset_app_group_at(ds, i, &item->group, &item->priority);
	item->id = group_id(&item->group);
	item->sub = 0;
}

static void app_group_render(struct buf *b, const struct okta_links *links,
			     const struct listing *l, const struct okta_item *item)
{
	okta_render_group_assignment(b, links, &item->group, item->priority, l->expand);
}

static void member_at(const struct listing *l, const struct dataset *ds, size_t i,
		      struct okta_item *item)
{
	(void)ds;
	dataset_member_at(l->group, i, &item->user);
	item->id = user_id(&item->user);
	item->sub = 0;
}

static void member_render(struct buf *b, const struct okta_links *links,
			  const struct listing *l, const struct okta_item *item)
{
	(void)l;
	okta_render_user(b, links, &item->user, false);
}

/* ---- routes ------------------------------------------------------------- */

static bool expand_is(const struct fake_exchange *ex, const char *value)
{
	const char *expand = request_param(ex->request, "expand");

	return expand != NULL && strcmp(expand, value) == 0;
}

/* Answers 404 unless id is the dataset's app. */
static bool check_app(struct fake_exchange *ex, const char *id)
{
	if (strcmp(id, dataset_control(ex->dataset)->app_id) == 0)
		return true;
	okta_not_found(ex, id, "AppInstance");
	return false;
}

static void route_app(struct fake_exchange *ex, const struct fake_path *path)
{
	struct okta_links links = { .origin = ex->origin, .app_id = path->segment[3] };

	if (check_app(ex, path->segment[3]))
		okta_render_app(&ex->response.body, &links);
}

static void route_app_users(struct fake_exchange *ex, const struct fake_path *path)
{
	struct listing l = {
		.tag = 'u',
		.count = dataset_assignment_count(ex->dataset),
		.default_limit = 50,
		.max_limit = 500,
		.expand = expand_is(ex, "user"),
		.at = app_user_at,
		.render = app_user_render,
	};

	if (check_app(ex, path->segment[3]))
		respond_listing(ex, &l);
}

static void route_app_user(struct fake_exchange *ex, const struct fake_path *path)
{
	struct listing l = { .count = dataset_assignment_count(ex->dataset), .at = app_user_at };
	struct okta_links links = { .origin = ex->origin, .app_id = path->segment[3] };
	const char *id = path->segment[5];
	struct okta_item item;
	size_t index;

	if (!check_app(ex, path->segment[3]))
		return;
	index = listing_seek(&l, ex->dataset, id, -1);
	if (index == l.count) {
		okta_not_found(ex, id, "AppUser");
		return;
	}
	app_user_at(&l, ex->dataset, index, &item);
	if (strcmp(item.id, id) != 0) {
		okta_not_found(ex, id, "AppUser");
		return;
	}
	okta_render_app_user(&ex->response.body, &links, &item.assignment, expand_is(ex, "user"));
}

static void route_app_groups(struct fake_exchange *ex, const struct fake_path *path)
{
	struct listing l = {
		.tag = 'g',
		.count = dataset_app_group_count(ex->dataset),
		.default_limit = 20,
		.max_limit = 200,
		.expand = expand_is(ex, "group"),
		.at = app_group_at,
		.render = app_group_render,
	};

	if (check_app(ex, path->segment[3]))
		respond_listing(ex, &l);
}

static void route_group(struct fake_exchange *ex, const struct fake_path *path)
{
	struct okta_links links = { .origin = ex->origin };
	struct fake_group group;

	if (!dataset_find_group(ex->dataset, path->segment[3], &group)) {
		okta_not_found(ex, path->segment[3], "UserGroup");
		return;
	}
	okta_render_group(&ex->response.body, &links, &group);
}

static void route_group_users(struct fake_exchange *ex, const struct fake_path *path)
{
	struct fake_group group;
	struct listing l = {
		.tag = 'm',
		.default_limit = 1000,
		.max_limit = 1000,
		.group = &group,
		.at = member_at,
		.render = member_render,
	};

	if (!dataset_find_group(ex->dataset, path->segment[3], &group)) {
		okta_not_found(ex, path->segment[3], "UserGroup");
		return;
	}
	l.count = dataset_member_count(&group);
	respond_listing(ex, &l);
}

static void route_user(struct fake_exchange *ex, const struct fake_path *path)
{
	struct okta_links links = { .origin = ex->origin };
	struct fake_user user;

	if (!dataset_find_user(ex->dataset, path->segment[3], &user)) {
		okta_not_found(ex, path->segment[3], "User");
		return;
	}
	okta_render_user(&ex->response.body, &links, &user, true);
}

/* "*" matches any one segment. */
static const struct {
	const char *pattern[6];
	size_t count;
	void (*handle)(struct fake_exchange *ex, const struct fake_path *path);
} routes[] = {
	{ { "api", "v1", "apps", "*" }, 4, route_app },
	{ { "api", "v1", "apps", "*", "users" }, 5, route_app_users },
	{ { "api", "v1", "apps", "*", "users", "*" }, 6, route_app_user },
	{ { "api", "v1", "apps", "*", "groups" }, 5, route_app_groups },
	{ { "api", "v1", "groups", "*" }, 4, route_group },
	{ { "api", "v1", "groups", "*", "users" }, 5, route_group_users },
	{ { "api", "v1", "users", "*" }, 4, route_user },
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

static void okta_handle(struct fake_exchange *ex)
{
	const char *method = ex->request->method;
	struct fake_path path;

	if (!okta_check_access(ex))
		return;
	if (!path_split(ex->request->path, &path)) {
		okta_error(ex, 404, "E0000008", "The requested path was not found");
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_matches(i, &path))
			continue;
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			routes[i].handle(ex, &path);
		else
			okta_error(ex, 405, NULL, NULL);
		path_release(&path);
		return;
	}
	path_release(&path);
	okta_error(ex, 404, "E0000008", "The requested path was not found");
}

/* ---- headers ------------------------------------------------------------ */

static void add_if_absent(struct fake_response *resp, const char *name, const char *value)
{
	if (response_header(resp, name) == NULL)
		response_add_header(resp, name, value);
}

static void okta_decorate(struct fake_exchange *ex)
{
	struct fake_response *resp = &ex->response;
	char value[64];
	char request_id[28];
	time_t now = time(NULL);
	struct tm tm;

	add_if_absent(resp, "Content-Type", "application/json");
	gmtime_r(&now, &tm);
	strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	add_if_absent(resp, "Date", value);
	exchange_make_id(ex, "", request_id, sizeof(request_id));
	add_if_absent(resp, "X-Okta-Request-Id", request_id);
	snprintf(value, sizeof(value), "%ld", ex->rate.limit);
	add_if_absent(resp, "X-Rate-Limit-Limit", value);
	snprintf(value, sizeof(value), "%ld", ex->rate.remaining);
	add_if_absent(resp, "X-Rate-Limit-Remaining", value);
	snprintf(value, sizeof(value), "%lld", (long long)ex->rate.reset);
	add_if_absent(resp, "X-Rate-Limit-Reset", value);
}

const struct personality okta_personality = {
	.name = "okta",
	.page = okta_page,
	.handle = okta_handle,
	.error = okta_error,
	.decorate = okta_decorate,
};
