/*
 * replay.c - serves recorded HTTP exchanges and body-only files.
 *
 * An exchange file is {"interactions":[{"request":{"method","uri",...},
 * "response":{"status","headers","body"}}]}, where each header value is a
 * list (one header line per element) and the body is a string (sent as it
 * is) or any other JSON value (sent unformatted).  A request gets the first
 * interaction, not served yet, whose method and path equal its own.  Scheme,
 * host and query do not count.  When all matching interactions were served,
 * the last of them is served again.
 * Any other file is a body-only file: its bytes are sent to every GET whose
 * path starts with the --replay-path given after the file, with the status
 * of the --replay-status given after it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakeidp.h"

#define REPLAY_MAX_FILE_SIZE (64L * 1024 * 1024)

/* Recorded headers that libmicrohttpd writes itself for the replayed body. */
static const char *const dropped_headers[] = {
	"content-length", "transfer-encoding", "content-encoding", "connection", NULL
};

struct interaction {
	char *method;
	char *path;             /* exact path, or a prefix when is_prefix */
	bool is_prefix;
	unsigned int status;
	struct fake_header *headers;
	size_t header_count;
	char *body;
	size_t body_len;
	bool body_only;         /* no recorded headers: Okta's are added */
	bool served;            /* guarded by replay->lock */
};

struct replay {
	pthread_mutex_t lock;
	struct interaction *items;
	size_t count;
};

static void interaction_release(struct interaction *item)
{
	for (size_t i = 0; i < item->header_count; i++) {
		free(item->headers[i].name);
		free(item->headers[i].value);
	}
	free(item->headers);
	free(item->method);
	free(item->path);
	free(item->body);
}

void replay_free(struct replay *replay)
{
	if (replay == NULL)
		return;
	for (size_t i = 0; i < replay->count; i++)
		interaction_release(&replay->items[i]);
	free(replay->items);
	pthread_mutex_destroy(&replay->lock);
	free(replay);
}

static struct interaction *replay_add(struct replay *replay)
{
	struct interaction *items;

	items = realloc(replay->items, (replay->count + 1) * sizeof(*items));
	if (items == NULL)
		return NULL;
	replay->items = items;
	memset(&items[replay->count], 0, sizeof(*items));
	return &items[replay->count++];
}

static bool read_file(const char *path, char **out, size_t *len, char *err, size_t err_len)
{
	FILE *file = fopen(path, "rb");
	struct buf text;
	char chunk[65536];
	size_t n;

	if (file == NULL) {
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return false;
	}
	buf_init(&text);
	while ((n = fread(chunk, 1, sizeof(chunk), file)) > 0 && text.len < REPLAY_MAX_FILE_SIZE)
		buf_append(&text, chunk, n);
	fclose(file);
	if (text.failed || text.len >= REPLAY_MAX_FILE_SIZE) {
		snprintf(err, err_len, "%s: too large or out of memory", path);
		buf_release(&text);
		return false;
	}
	*out = buf_detach(&text, len);
	return *out != NULL;
}

/* Returns the path of a recorded URI: no scheme, host or query. */
static char *uri_path(const char *uri)
{
	const char *start = uri;
	const char *scheme = strstr(uri, "://");

	if (scheme != NULL) {
		start = strchr(scheme + 3, '/');
		if (start == NULL)
			start = "/";
	}
	return strndup(start, strcspn(start, "?#"));
}

static bool header_dropped(const char *name)
{
	for (size_t i = 0; dropped_headers[i] != NULL; i++) {
		if (strcasecmp(dropped_headers[i], name) == 0)
			return true;
	}
	return false;
}

static bool add_header(struct interaction *item, const char *name, const char *value)
{
	struct fake_header *headers;

	headers = realloc(item->headers, (item->header_count + 1) * sizeof(*headers));
	if (headers == NULL)
		return false;
	item->headers = headers;
	headers[item->header_count].name = strdup(name);
	headers[item->header_count].value = strdup(value);
	item->header_count++;
	return headers[item->header_count - 1].name != NULL &&
	       headers[item->header_count - 1].value != NULL;
}

static bool load_headers(struct interaction *item, const cJSON *headers, char *err, size_t err_len)
{
	const cJSON *header;
	const cJSON *value;

	cJSON_ArrayForEach(header, headers) {
		if (header_dropped(header->string))
			continue;
		if (cJSON_IsString(header)) {
			if (!add_header(item, header->string, header->valuestring))
				goto oom;
			continue;
		}
		cJSON_ArrayForEach(value, header) {
			if (!cJSON_IsString(value)) {
				snprintf(err, err_len, "header %s: values must be strings", header->string);
				return false;
			}
			if (!add_header(item, header->string, value->valuestring))
				goto oom;
		}
	}
	return true;

oom:
	snprintf(err, err_len, "out of memory");
	return false;
}

static bool load_body(struct interaction *item, const cJSON *body)
{
	struct buf text;

	buf_init(&text);
	if (cJSON_IsString(body))
		buf_puts(&text, body->valuestring);
	else if (body != NULL && !cJSON_IsNull(body))
		buf_json_value(&text, body);
	item->body = buf_detach(&text, &item->body_len);
	return item->body != NULL;
}

static bool load_interaction(struct interaction *item, const cJSON *json, char *err, size_t err_len)
{
	const cJSON *request = cJSON_GetObjectItemCaseSensitive(json, "request");
	const cJSON *response = cJSON_GetObjectItemCaseSensitive(json, "response");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(request, "method");
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(request, "uri");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(response, "status");

	if (!cJSON_IsString(method) || !cJSON_IsString(uri) || !cJSON_IsNumber(status) ||
	    status->valueint < 100 || status->valueint > 599) {
		snprintf(err, err_len, "needs request.method, request.uri and response.status");
		return false;
	}
	item->method = strdup(method->valuestring);
	item->path = uri_path(uri->valuestring);
	item->status = (unsigned int)status->valueint;
	if (item->method == NULL || item->path == NULL ||
	    !load_body(item, cJSON_GetObjectItemCaseSensitive(response, "body"))) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	return load_headers(item, cJSON_GetObjectItemCaseSensitive(response, "headers"),
			    err, err_len);
}

static bool load_exchanges(struct replay *replay, const char *path, const cJSON *interactions,
			   char *err, size_t err_len)
{
	const cJSON *json;
	char reason[256];
	int index = 0;

	cJSON_ArrayForEach(json, interactions) {
		struct interaction *item = replay_add(replay);

		if (item == NULL) {
			snprintf(err, err_len, "out of memory");
			return false;
		}
		if (!load_interaction(item, json, reason, sizeof(reason))) {
			snprintf(err, err_len, "%s: interactions[%d]: %s", path, index, reason);
			return false;
		}
		index++;
	}
	return true;
}

/* Adds the whole file as a body served at file->body_path.  Takes text. */
static bool load_body_only(struct replay *replay, const struct replay_file *file,
			   char *text, size_t len, char *err, size_t err_len)
{
	struct interaction *item;

	if (file->body_path == NULL) {
		snprintf(err, err_len, "%s is not an exchange file (no \"interactions\"); "
			 "serving it as a body needs --replay-path after it", file->name);
		free(text);
		return false;
	}
	item = replay_add(replay);
	if (item == NULL) {
		snprintf(err, err_len, "out of memory");
		free(text);
		return false;
	}
	item->body = text;
	item->body_len = len;
	item->method = strdup("GET");
	item->path = strdup(file->body_path);
	item->is_prefix = true;
	item->body_only = true;
	item->status = file->body_status ? file->body_status : 200;
	if (item->method == NULL || item->path == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	return true;
}

static bool load_one(struct replay *replay, const struct replay_file *file,
		     char *err, size_t err_len)
{
	char *text;
	size_t len;
	cJSON *root;
	const cJSON *interactions;
	bool ok = false;

	if (!read_file(file->name, &text, &len, err, err_len))
		return false;
	root = cJSON_ParseWithLength(text, len);
	interactions = cJSON_GetObjectItemCaseSensitive(root, "interactions");
	if (!cJSON_IsArray(interactions)) {
		cJSON_Delete(root);
		return load_body_only(replay, file, text, len, err, err_len);
	}
	free(text);
	if (file->body_path != NULL || file->body_status != 0)
		snprintf(err, err_len, "%s is an exchange file; --replay-status and --replay-path "
			 "apply only to body-only files", file->name);
	else
		ok = load_exchanges(replay, file->name, interactions, err, err_len);
	cJSON_Delete(root);
	return ok;
}

struct replay *replay_load(const struct replay_file *files, size_t count,
			   char *err, size_t err_len)
{
	struct replay *replay = calloc(1, sizeof(*replay));

	if (replay == NULL || pthread_mutex_init(&replay->lock, NULL) != 0) {
		free(replay);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		if (!load_one(replay, &files[i], err, err_len)) {
			replay_free(replay);
			return NULL;
		}
	}
	return replay;
}

/* ---- serving ------------------------------------------------------------ */

static bool interaction_matches(const struct interaction *item, const struct fake_request *req)
{
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;

	if (strcasecmp(item->method, method) != 0)
		return false;
	if (item->is_prefix)
		return strncmp(req->path, item->path, strlen(item->path)) == 0;
	return strcmp(req->path, item->path) == 0;
}

/* Returns the interaction to serve for req and marks it served, or NULL. */
static const struct interaction *replay_pick(struct replay *replay, const struct fake_request *req)
{
	struct interaction *last = NULL;
	struct interaction *picked = NULL;

	pthread_mutex_lock(&replay->lock);
	for (size_t i = 0; i < replay->count; i++) {
		struct interaction *item = &replay->items[i];

		if (!interaction_matches(item, req))
			continue;
		last = item;
		if (!item->served && picked == NULL)
			picked = item;
	}
	if (picked == NULL)
		picked = last;
	if (picked != NULL)
		picked->served = true;
	pthread_mutex_unlock(&replay->lock);
	return picked;
}

/*
 * Appends value with the scheme and host of every "<http(s)://host" URL
 * replaced by origin, so that Link targets lead back to this server.
 */
static void rewrite_link(struct buf *out, const char *value, const char *origin)
{
	while (*value != '\0') {
		const char *open = strchr(value, '<');
		const char *scheme = open ? strstr(open, "://") : NULL;
		size_t scheme_len;

		if (open == NULL || scheme == NULL) {
			buf_puts(out, value);
			return;
		}
		scheme_len = (size_t)(scheme - open - 1);
		buf_append(out, value, (size_t)(open - value) + 1);
		value = open + 1;
		if ((scheme_len == 4 && strncasecmp(value, "http", 4) == 0) ||
		    (scheme_len == 5 && strncasecmp(value, "https", 5) == 0)) {
			buf_puts(out, origin);
			value = scheme + 3 + strcspn(scheme + 3, "/>");
		}
	}
}

static void serve_interaction(struct fake_exchange *ex, const struct interaction *item)
{
	struct fake_response *resp = &ex->response;

	resp->status = item->status;
	resp->recorded = !item->body_only;
	response_set_body(resp, item->body, item->body_len);
	for (size_t i = 0; i < item->header_count; i++) {
		const struct fake_header *h = &item->headers[i];
		struct buf value;

		if (strcasecmp(h->name, "link") != 0) {
			response_add_header(resp, h->name, h->value);
			continue;
		}
		buf_init(&value);
		rewrite_link(&value, h->value, ex->origin);
		if (value.failed)
			resp->failed = true;
		else
			response_add_header(resp, h->name, value.data ? value.data : "");
		buf_release(&value);
	}
}

/* The IdP whose token check, errors and headers a replayed path gets. */
static const struct personality *replay_base(const struct fake_request *req)
{
	return graph_path(req->path) ? &graph_personality : &okta_personality;
}

static void replay_handle(struct fake_exchange *ex)
{
	const struct personality *base = replay_base(ex->request);
	const struct interaction *item;
	struct buf summary;

	if (base == &graph_personality ? !graph_check_access(ex) : !okta_check_access(ex))
		return;
	item = replay_pick(ex->replay, ex->request);
	if (item != NULL) {
		serve_interaction(ex, item);
		return;
	}
	buf_init(&summary);
	buf_printf(&summary, "Not found: Resource not found: %s (no recorded exchange)",
		   ex->request->path);
	base->error(ex, 404, base == &graph_personality ? "Request_ResourceNotFound" : "E0000007",
		    summary.failed ? NULL : summary.data);
	buf_release(&summary);
}

static void replay_decorate(struct fake_exchange *ex)
{
	if (!ex->response.recorded)
		replay_base(ex->request)->decorate(ex);
}

static int replay_page(const struct fake_request *req)
{
	return replay_base(req)->page(req);
}

static void replay_error(struct fake_exchange *ex, unsigned int status, const char *code,
			 const char *summary)
{
	replay_base(ex->request)->error(ex, status, code, summary);
}

const struct personality replay_personality = {
	.name = "replay",
	.page = replay_page,
	.handle = replay_handle,
	.error = replay_error,
	.decorate = replay_decorate,
};
