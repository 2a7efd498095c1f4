/*
 * fault.c - faults injected from the dataset's "faults" list: error statuses,
 * rate limiting, broken or oversized bodies, dropped connections, slow
 * responses and bodies, next links that loop, and extra headers.  Entries are tried in order, and the first one that fires
 * is applied.  An entry that is still skipping, or has fired its count,
 * lets the request go on to the next entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakeidp.h"

static const char *const kind_names[] = {
	[FAULT_STATUS] = "status",
	[FAULT_RATE_LIMIT] = "rate_limit",
	[FAULT_TRUNCATE] = "truncate",
	[FAULT_MALFORMED] = "malformed",
	[FAULT_BODY] = "body",
	[FAULT_RESET] = "reset",
	[FAULT_SLOW] = "slow",
	[FAULT_HEADERS] = "headers",
	[FAULT_LOOP] = "loop",
	[FAULT_OVERSIZE] = "oversize",
	[FAULT_SLOW_BODY] = "slow_body",
	[FAULT_LOOP_NEW_CURSOR] = "loop_new_cursor",
};

#define KIND_COUNT (sizeof(kind_names) / sizeof(kind_names[0]))

static const char *const fault_keys[] = {
	"kind", "path", "method", "page", "count", "skip", "status", "errorCode", "errorSummary",
	"reset_in", "retry_after", "reset_header_repeat", "body", "delay_ms", "bytes", "chunked",
	"headers", "comment", NULL
};

/* The default size of an oversize body: one byte more than 64 MiB. */
#define OVERSIZE_DEFAULT_BYTES (64LL * 1024 * 1024 + 1)
#define OVERSIZE_MAX_BYTES (1024LL * 1024 * 1024)

/* The start of a JSON array whose first element is cut off by garbage. */
static const char malformed_body[] = "[{\"id\": \"00u\x01\xff\xfe<html>}}],,";

static bool check_fault_keys(const cJSON *item, char *err, size_t err_len)
{
	const cJSON *child;

	cJSON_ArrayForEach(child, item) {
		size_t i = 0;

		while (fault_keys[i] != NULL && strcmp(fault_keys[i], child->string) != 0)
			i++;
		if (fault_keys[i] == NULL) {
			snprintf(err, err_len, "unknown key \"%s\"", child->string);
			return false;
		}
	}
	return true;
}

/* Reads item[key] as a whole number in [min, max]; keeps *out when absent. */
static bool get_long(const cJSON *item, const char *key, long min, long max, long *out,
		     char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL)
		return true;
	if (!cJSON_IsNumber(value) || value->valuedouble < (double)min ||
	    value->valuedouble > (double)max ||
	    value->valuedouble != (double)(long)value->valuedouble) {
		snprintf(err, err_len, "%s: must be a whole number from %ld to %ld", key, min, max);
		return false;
	}
	*out = (long)value->valuedouble;
	return true;
}

static bool get_text(const cJSON *item, const char *key, const char **out,
		     char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL)
		return true;
	if (!cJSON_IsString(value)) {
		snprintf(err, err_len, "%s: must be a string", key);
		return false;
	}
	*out = value->valuestring;
	return true;
}

static bool parse_kind(const cJSON *item, enum fault_kind *out, char *err, size_t err_len)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(item, "kind");

	for (size_t i = 0; cJSON_IsString(kind) && i < KIND_COUNT; i++) {
		if (strcmp(kind_names[i], kind->valuestring) == 0) {
			*out = (enum fault_kind)i;
			return true;
		}
	}
	snprintf(err, err_len, "kind: must be one of status, rate_limit, truncate, malformed, "
		 "body, reset, slow, headers, loop, oversize, slow_body");
	return false;
}

/* Reads item[key] as true or false; keeps *out when absent. */
static bool get_bool(const cJSON *item, const char *key, bool *out, char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL)
		return true;
	if (!cJSON_IsBool(value)) {
		snprintf(err, err_len, "%s: must be true or false", key);
		return false;
	}
	*out = cJSON_IsTrue(value);
	return true;
}

static bool check_headers(const cJSON *headers, char *err, size_t err_len)
{
	const cJSON *header;

	if (headers == NULL)
		return true;
	if (!cJSON_IsObject(headers))
		goto bad;
	cJSON_ArrayForEach(header, headers) {
		const cJSON *value;

		if (cJSON_IsString(header))
			continue;
		if (!cJSON_IsArray(header))
			goto bad;
		cJSON_ArrayForEach(value, header) {
			if (!cJSON_IsString(value))
				goto bad;
		}
	}
	return true;

bad:
	snprintf(err, err_len, "headers: must be an object of strings or arrays of strings");
	return false;
}

/* Checks the keys that a kind needs. */
static bool check_kind_needs(const cJSON *item, const struct fault *f, char *err, size_t err_len)
{
	if (f->kind == FAULT_STATUS && !cJSON_HasObjectItem(item, "status")) {
		snprintf(err, err_len, "kind status needs \"status\"");
		return false;
	}
	if (f->kind == FAULT_BODY && f->body == NULL) {
		snprintf(err, err_len, "kind body needs \"body\"");
		return false;
	}
	if ((f->kind == FAULT_SLOW || f->kind == FAULT_SLOW_BODY) &&
	    !cJSON_HasObjectItem(item, "delay_ms")) {
		snprintf(err, err_len, "kind %s needs \"delay_ms\"", kind_names[f->kind]);
		return false;
	}
	if (f->kind == FAULT_HEADERS && f->headers == NULL) {
		snprintf(err, err_len, "kind headers needs \"headers\"");
		return false;
	}
	return true;
}

bool fault_parse(const cJSON *item, struct fault *out, char *err, size_t err_len)
{
	long page = 0;
	long status = 0;
	long bytes = 0;

	memset(out, 0, sizeof(*out));
	out->count = -1;
	out->reset_in = 1;
	out->bytes = OVERSIZE_DEFAULT_BYTES;
	if (!cJSON_IsObject(item)) {
		snprintf(err, err_len, "must be an object");
		return false;
	}
	if (!check_fault_keys(item, err, err_len) || !parse_kind(item, &out->kind, err, err_len))
		return false;

	if (!get_text(item, "path", &out->path, err, err_len) ||
	    !get_text(item, "method", &out->method, err, err_len) ||
	    !get_long(item, "page", 1, 1000000000, &page, err, err_len) ||
	    !get_long(item, "count", -1, 1000000000, &out->count, err, err_len) ||
	    !get_long(item, "skip", 0, 1000000000, &out->skip, err, err_len) ||
	    !get_long(item, "status", 100, 599, &status, err, err_len) ||
	    !get_text(item, "errorCode", &out->error_code, err, err_len) ||
	    !get_text(item, "errorSummary", &out->error_summary, err, err_len) ||
	    !get_long(item, "reset_in", 0, 86400, &out->reset_in, err, err_len) ||
	    !get_text(item, "retry_after", &out->retry_after, err, err_len) ||
	    !get_long(item, "delay_ms", 0, 3600000, &out->delay_ms, err, err_len) ||
	    !get_long(item, "bytes", 1, (long)OVERSIZE_MAX_BYTES, &bytes, err, err_len) ||
	    !get_bool(item, "reset_header_repeat", &out->reset_header_repeat, err, err_len) ||
	    !get_bool(item, "chunked", &out->chunked, err, err_len))
		return false;

	if (bytes > 0)
		out->bytes = bytes;
	out->page = (int)page;
	out->status = (unsigned int)status;
	out->body = cJSON_GetObjectItemCaseSensitive(item, "body");
	out->headers = cJSON_GetObjectItemCaseSensitive(item, "headers");
	if (!check_headers(out->headers, err, err_len))
		return false;
	return check_kind_needs(item, out, err, err_len);
}

static bool fault_matches(const struct fault *f, const struct fake_request *req, int page)
{
	if (f->path != NULL && strncmp(req->path, f->path, strlen(f->path)) != 0)
		return false;
	if (f->method != NULL && strcasecmp(req->method, f->method) != 0)
		return false;
	return f->page == 0 || f->page == page;
}

struct fault *fault_pick(struct fault *faults, size_t count, const struct fake_request *req,
			 int page)
{
	for (size_t i = 0; i < count; i++) {
		struct fault *f = &faults[i];

		if (!fault_matches(f, req, page))
			continue;
		f->matched++;
		if (f->matched <= f->skip)
			continue;
		if (f->count >= 0 && f->fired >= f->count)
			continue;
		f->fired++;
		return f;
	}
	return NULL;
}

static void add_fault_headers(struct fake_exchange *ex, const struct fault *f)
{
	const cJSON *header;
	const cJSON *value;

	cJSON_ArrayForEach(header, f->headers) {
		if (cJSON_IsString(header)) {
			response_add_header(&ex->response, header->string, header->valuestring);
			continue;
		}
		cJSON_ArrayForEach(value, header)
			response_add_header(&ex->response, header->string, value->valuestring);
	}
}

/* Sets a 429 response with the headers of an exhausted rate-limit window. */
static void respond_rate_limited(struct fake_exchange *ex, const struct fault *f)
{
	char value[32];
	time_t reset = time(NULL) + f->reset_in;

	ex->personality->error(ex, 429, f->error_code, f->error_summary);
	response_add_header(&ex->response, "X-Rate-Limit-Remaining", "0");
	if (f->reset_header_repeat) {
		snprintf(value, sizeof(value), "%lld", (long long)reset + 60);
		response_add_header(&ex->response, "X-Rate-Limit-Reset", value);
	}
	snprintf(value, sizeof(value), "%lld", (long long)reset);
	response_add_header(&ex->response, "X-Rate-Limit-Reset", value);
	if (f->retry_after != NULL)
		response_add_header(&ex->response, "Retry-After", f->retry_after);
}

static void respond_body(struct fake_exchange *ex, const struct fault *f)
{
	response_release(&ex->response);
	ex->response.status = f->status ? f->status : 200;
	if (cJSON_IsString(f->body))
		buf_puts(&ex->response.body, f->body->valuestring);
	else
		buf_json_value(&ex->response.body, f->body);
}

/* Sets a 200 response of f->bytes bytes: a JSON array padded with spaces. */
static void respond_oversize(struct fake_exchange *ex, const struct fault *f)
{
	static const char spaces[4096] = { [0 ... 4095] = ' ' };
	struct buf *body = &ex->response.body;
	long long left = f->bytes - 2;

	response_release(&ex->response);
	buf_reserve(body, (size_t)f->bytes);
	BUF_LIT(body, "[");
	while (left > 0 && !body->failed) {
		size_t n = left < (long long)sizeof(spaces) ? (size_t)left : sizeof(spaces);

		buf_append(body, spaces, n);
		left -= (long long)n;
	}
	if (f->bytes >= 2)
		BUF_LIT(body, "]");
	ex->response.chunked = f->chunked;
}

static bool is_next_link(const char *value)
{
	return strstr(value, "rel=\"next\"") != NULL || strstr(value, "rel=next") != NULL;
}

/*
 * Sets the "@odata.nextLink" of a JSON object body (Graph's paging) to url.
 * Returns false when the body is not a JSON object, and leaves it as it is.
 */
static bool loop_odata_next_link(struct fake_response *resp, const char *url)
{
	cJSON *root = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
	char *text;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return false;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "@odata.nextLink");
	if (cJSON_AddStringToObject(root, "@odata.nextLink", url) == NULL) {
		resp->failed = true;
		cJSON_Delete(root);
		return true;
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL) {
		resp->failed = true;
		return true;
	}
	response_set_body(resp, text, strlen(text));
	free(text);
	return true;
}

/* Replaces the rel="next" Link header (Okta's paging) with one to url. */
static void loop_link_header(struct fake_response *resp, const char *url)
{
	size_t kept_count = 0;
	struct buf link;

	for (size_t i = 0; i < resp->header_count; i++) {
		struct fake_header *h = &resp->headers[i];

		if (strcasecmp(h->name, "Link") == 0 && is_next_link(h->value)) {
			free(h->name);
			free(h->value);
			continue;
		}
		resp->headers[kept_count++] = *h;
	}
	resp->header_count = kept_count;

	buf_init(&link);
	buf_printf(&link, "<%s>; rel=\"next\"", url);
	if (link.failed)
		resp->failed = true;
	else
		response_add_header(resp, "Link", link.data);
	buf_release(&link);
}

/* Counts the links that loop_next_link() made new, so that each differs. */
static unsigned long loop_links;

/*
 * Points the next page of a list at the URL that was just requested.  With
 * fresh, the URL ends in a "&loop=N" parameter that no earlier link had (a
 * previous one is replaced), so the link is new although the page is not.
 */
static void loop_next_link(struct fake_exchange *ex, bool fresh)
{
	const char *uri = ex->request->uri;
	const char *previous = strstr(uri, "&loop=");
	int uri_len = previous ? (int)(previous - uri) : (int)strlen(uri);
	struct buf url;

	buf_init(&url);
	if (fresh)
		buf_printf(&url, "%s%.*s%sloop=%lu", ex->origin, uri_len, uri,
			   strchr(uri, '?') ? "&" : "?",
			   __atomic_add_fetch(&loop_links, 1, __ATOMIC_RELAXED));
	else
		buf_printf(&url, "%s%s", ex->origin, uri);
	if (url.failed)
		ex->response.failed = true;
	else if (!loop_odata_next_link(&ex->response, url.data))
		loop_link_header(&ex->response, url.data);
	buf_release(&url);
}

bool fault_respond(struct fake_exchange *ex, const struct fault *f)
{
	switch (f->kind) {
	case FAULT_STATUS:
		ex->personality->error(ex, f->status, f->error_code, f->error_summary);
		break;
	case FAULT_RATE_LIMIT:
		respond_rate_limited(ex, f);
		break;
	case FAULT_MALFORMED:
		response_release(&ex->response);
		response_set_body(&ex->response, malformed_body, sizeof(malformed_body) - 1);
		break;
	case FAULT_BODY:
		respond_body(ex, f);
		break;
	case FAULT_OVERSIZE:
		respond_oversize(ex, f);
		break;
	default:
		return false;
	}
	ex->response.fault = kind_names[f->kind];
	add_fault_headers(ex, f);
	return true;
}

void fault_finish(struct fake_exchange *ex, const struct fault *f)
{
	ex->response.fault = kind_names[f->kind];
	switch (f->kind) {
	case FAULT_TRUNCATE:
		buf_truncate(&ex->response.body, ex->response.body.len / 2);
		break;
	case FAULT_RESET:
		ex->response.abort_midway = true;
		break;
	case FAULT_SLOW:
		ex->response.delay_ms += f->delay_ms;
		break;
	case FAULT_SLOW_BODY:
		ex->response.stall_ms = f->delay_ms;
		break;
	case FAULT_LOOP:
		loop_next_link(ex, false);
		break;
	case FAULT_LOOP_NEW_CURSOR:
		loop_next_link(ex, true);
		break;
	default:
		break;
	}
	add_fault_headers(ex, f);
}
