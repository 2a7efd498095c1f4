/*
 * exchange.c - parsing of one request and assembly of its response, without
 * any libmicrohttpd call, so that personalities only see plain structs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakeidp.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *percent_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int high = -1;
		int low = -1;

		if (s[i] == '%' && i + 2 < len) {
			high = hex_digit(s[i + 1]);
			low = hex_digit(s[i + 2]);
		}
		if (high >= 0 && low >= 0) {
			out[n++] = (char)(high * 16 + low);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			out[n++] = ' ';
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return out;
}

static char *copy_string(const char *s, size_t len)
{
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Decodes one "name=value" query pair and appends it to req->params. */
static void request_add_param(struct fake_request *req, const char *pair, size_t len)
{
	const char *eq = memchr(pair, '=', len);
	size_t name_len = eq ? (size_t)(eq - pair) : len;
	const char *value = eq ? eq + 1 : pair + len;
	size_t value_len = len - (size_t)(value - pair);
	struct fake_param *params;

	params = realloc(req->params, (req->param_count + 1) * sizeof(*params));
	if (params == NULL) {
		req->failed = true;
		return;
	}
	req->params = params;
	params[req->param_count].name = percent_decode(pair, name_len, true);
	params[req->param_count].value = percent_decode(value, value_len, true);
	req->param_count++;
	if (params[req->param_count - 1].name == NULL || params[req->param_count - 1].value == NULL)
		req->failed = true;
}

static void request_parse_query(struct fake_request *req)
{
	const char *pos = req->query;

	while (*pos != '\0') {
		size_t len = strcspn(pos, "&");

		if (len > 0)
			request_add_param(req, pos, len);
		pos += len;
		if (*pos == '&')
			pos++;
	}
}

struct fake_request *request_new(const char *uri)
{
	struct fake_request *req = calloc(1, sizeof(*req));
	const char *mark;

	if (req == NULL)
		return NULL;
	buf_init(&req->body);
	mark = strchr(uri, '?');
	req->uri = strdup(uri);
	req->path = copy_string(uri, mark ? (size_t)(mark - uri) : strlen(uri));
	req->query = strdup(mark ? mark + 1 : "");
	if (req->uri == NULL || req->path == NULL || req->query == NULL) {
		req->failed = true;
		return req;
	}
	request_parse_query(req);
	return req;
}

void request_free(struct fake_request *req)
{
	if (req == NULL)
		return;
	for (size_t i = 0; i < req->param_count; i++) {
		free(req->params[i].name);
		free(req->params[i].value);
	}
	for (size_t i = 0; i < req->header_count; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->params);
	free(req->headers);
	buf_release(&req->body);
	free(req->uri);
	free(req->method);
	free(req->path);
	free(req->query);
	free(req);
}

void request_set_method(struct fake_request *req, const char *method)
{
	free(req->method);
	req->method = strdup(method);
	if (req->method == NULL)
		req->failed = true;
}

void request_add_header(struct fake_request *req, const char *name, const char *value)
{
	struct fake_header *headers;
	struct fake_header *h;

	headers = realloc(req->headers, (req->header_count + 1) * sizeof(*headers));
	if (headers == NULL) {
		req->failed = true;
		return;
	}
	req->headers = headers;
	h = &headers[req->header_count++];
	h->name = strdup(name);
	h->value = strdup(value ? value : "");
	if (h->name == NULL || h->value == NULL) {
		req->failed = true;
		return;
	}
	for (char *c = h->name; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
}

void request_append_body(struct fake_request *req, const char *data, size_t len)
{
	size_t room = REQUEST_MAX_BODY - req->body.len;

	if (len > room) {
		req->body_truncated = true;
		len = room;
	}
	buf_append(&req->body, data, len);
}

const char *request_param(const struct fake_request *req, const char *name)
{
	for (size_t i = 0; i < req->param_count; i++) {
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	}
	return NULL;
}

const char *request_header(const struct fake_request *req, const char *name)
{
	for (size_t i = 0; i < req->header_count; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

bool path_split(const char *path, struct fake_path *out)
{
	memset(out, 0, sizeof(*out));
	while (*path != '\0') {
		size_t len;

		if (*path == '/') {
			path++;
			continue;
		}
		len = strcspn(path, "/");
		if (out->count == PATH_MAX_SEGMENTS)
			goto fail;
		out->segment[out->count] = percent_decode(path, len, false);
		if (out->segment[out->count] == NULL)
			goto fail;
		out->count++;
		path += len;
	}
	return true;

fail:
	path_release(out);
	return false;
}

void path_release(struct fake_path *path)
{
	for (size_t i = 0; i < path->count; i++)
		free(path->segment[i]);
	memset(path, 0, sizeof(*path));
}

void response_init(struct fake_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	buf_init(&resp->body);
}

void response_release(struct fake_response *resp)
{
	for (size_t i = 0; i < resp->header_count; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	buf_release(&resp->body);
	response_init(resp);
}

void response_add_header(struct fake_response *resp, const char *name, const char *value)
{
	struct fake_header *headers;
	struct fake_header *h;

	headers = realloc(resp->headers, (resp->header_count + 1) * sizeof(*headers));
	if (headers == NULL) {
		resp->failed = true;
		return;
	}
	resp->headers = headers;
	h = &headers[resp->header_count];
	h->name = strdup(name);
	h->value = strdup(value);
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		resp->failed = true;
		return;
	}
	resp->header_count++;
}

const char *response_header(const struct fake_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->header_count; i++) {
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	}
	return NULL;
}

void response_set_body(struct fake_response *resp, const char *data, size_t len)
{
	buf_release(&resp->body);
	buf_append(&resp->body, data, len);
}

/* Mixes the bits of x (SplitMix64 finaliser). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void exchange_make_id(const struct fake_exchange *ex, const char *prefix, char *out, size_t len)
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t prefix_len = strlen(prefix);
	uint64_t state = ex->seed ^ (ex->number * 0x9e3779b97f4a7c15ULL);
	uint64_t bits = 0;

	if (len == 0)
		return;
	for (const char *c = prefix; *c != '\0'; c++)
		state = mix64(state ^ (unsigned char)*c);
	if (prefix_len >= len)
		prefix_len = len - 1;
	memcpy(out, prefix, prefix_len);
	for (size_t i = prefix_len; i + 1 < len; i++) {
		if (bits < 62) {
			state = mix64(state + 0x9e3779b97f4a7c15ULL);
			bits = state | (1ULL << 63);
		}
		out[i] = alphabet[bits % 62];
		bits /= 62;
	}
	out[len - 1] = '\0';
}
