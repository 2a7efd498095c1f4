/*
 * reqlog.c - the request log (--log): one JSON object per line and request,
 * flushed at once, so a test can read what the agent sent while the server
 * keeps running.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeidp.h"

struct reqlog {
	pthread_mutex_t lock;
	FILE *file;
};

struct reqlog *reqlog_open(const char *path)
{
	struct reqlog *log = calloc(1, sizeof(*log));

	if (log == NULL)
		return NULL;
	log->file = fopen(path, "a");
	if (log->file == NULL || pthread_mutex_init(&log->lock, NULL) != 0) {
		if (log->file != NULL)
			fclose(log->file);
		free(log);
		return NULL;
	}
	return log;
}

void reqlog_close(struct reqlog *log)
{
	if (log == NULL)
		return;
	fclose(log->file);
	pthread_mutex_destroy(&log->lock);
	free(log);
}

/*
 * Builds {"headers":{...}} with lower-case names; a header sent several
 * times has its values joined with ", ".
 */
static cJSON *headers_object(const struct fake_request *req)
{
	cJSON *headers = cJSON_CreateObject();

	for (size_t i = 0; headers != NULL && i < req->header_count; i++) {
		const struct fake_header *h = &req->headers[i];
		cJSON *seen = cJSON_GetObjectItemCaseSensitive(headers, h->name);
		struct buf joined;

		if (seen == NULL) {
			cJSON_AddStringToObject(headers, h->name, h->value);
			continue;
		}
		buf_init(&joined);
		buf_printf(&joined, "%s, %s", seen->valuestring, h->value);
		if (!joined.failed)
			cJSON_ReplaceItemInObjectCaseSensitive(headers, h->name,
							       cJSON_CreateString(joined.data));
		buf_release(&joined);
	}
	return headers;
}

static cJSON *entry_object(const struct fake_exchange *ex)
{
	const struct fake_request *req = ex->request;
	const char *request_id = response_header(&ex->response, "X-Okta-Request-Id");
	cJSON *entry = cJSON_CreateObject();

	if (entry == NULL)
		return NULL;
	cJSON_AddStringToObject(entry, "method", req->method ? req->method : "");
	cJSON_AddStringToObject(entry, "path", req->path);
	cJSON_AddStringToObject(entry, "query", req->query);
	cJSON_AddItemToObject(entry, "headers", headers_object(req));
	if (req->body.len > 0)
		cJSON_AddStringToObject(entry, "body", req->body.data);
	cJSON_AddNumberToObject(entry, "status", ex->response.status);
	if (ex->response.fault != NULL)
		cJSON_AddStringToObject(entry, "fault", ex->response.fault);
	if (request_id != NULL)
		cJSON_AddStringToObject(entry, "request_id", request_id);
	return entry;
}

void reqlog_write(struct reqlog *log, const struct fake_exchange *ex)
{
	cJSON *entry;
	char *line;

	if (log == NULL)
		return;
	entry = entry_object(ex);
	line = entry ? cJSON_PrintUnformatted(entry) : NULL;
	cJSON_Delete(entry);
	if (line == NULL) {
		fprintf(stderr, "fakeidp: out of memory writing the request log\n");
		return;
	}

	pthread_mutex_lock(&log->lock);
	fputs(line, log->file);
	fputc('\n', log->file);
	fflush(log->file);
	pthread_mutex_unlock(&log->lock);
	cJSON_free(line);
}
